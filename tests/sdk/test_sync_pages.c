/*
 * A long sync over several SyncPages (issue 6), and the conversation snapshot around it.
 *
 * Device B of a user sends N messages and an agent answers three times. A fresh device A
 * of the same user then catches up: its pages are as large as the server allows and the
 * next one is requested before one is applied (session.c). A is stopped in the middle of
 * its first sync (a page may be held, unapplied and unacked, at that moment) and started
 * again: every message must arrive exactly once, announced in conversation order.
 *
 * Then the snapshot the app shows (unread count and last message, kept in the
 * conversation row since schema 4): after the sync, after a send, after a read mark,
 * after a live message.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

enum { N = 1100, AGENT = 3 };

typedef struct tally {
	int added[N];
	int agent;
	int other;
	int syncs;
	uint64_t last_conv_seq; /* of the last MESSAGE_ADDED */
	int out_of_order;
} tally;

static int number(const souk_message *m)
{
	int k = -1;
	const char *t = souk_message_get_text(m);
	if (!t || sscanf(t, "p %d", &k) != 1 || k < 0 || k >= N)
		return -1;
	return k;
}

static void on_event(const souk_event *ev, void *arg)
{
	tally *t = arg;
	if (souk_event_get_type(ev) == SOUK_EVENT_SYNC_FINISHED)
		t->syncs++;
	if (souk_event_get_type(ev) != SOUK_EVENT_MESSAGE_ADDED)
		return;
	const souk_message *m = souk_event_get_message(ev);
	uint64_t cs = souk_message_get_conv_seq(m);
	if (cs) { /* a message from the stream (not one sent from this device) */
		if (cs <= t->last_conv_seq)
			t->out_of_order++;
		t->last_conv_seq = cs;
	}
	int k = number(m);
	if (k >= 0)
		t->added[k]++;
	else if (strncmp(souk_message_get_text(m), "agent ", 6) == 0)
		t->agent++;
	else
		t->other++;
}

static int any_added(souk_client *c, void *arg)
{
	(void)c;
	tally *t = arg;
	for (int k = 0; k < N; k++)
		if (t->added[k])
			return 1;
	return 0;
}

static int all_added(souk_client *c, void *arg)
{
	(void)c;
	tally *t = arg;
	for (int k = 0; k < N; k++)
		if (!t->added[k])
			return 0;
	return t->agent >= AGENT && t->syncs >= 1;
}

static int64_t only_conv(souk_client *c)
{
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	CHECK_EQ(souk_conversation_list_count(l), 1);
	int64_t id = souk_conversation_get_id(souk_conversation_list_get(l, 0));
	souk_conversation_list_free(l);
	return id;
}

typedef struct want {
	int64_t conv;
	uint64_t unread;
	const char *last_text;
} want;

static int snapshot_is(souk_client *c, void *arg)
{
	want *w = arg;
	souk_conversation *cv = NULL;
	CHECK_OK(souk_client_get_conversation(&cv, c, w->conv));
	const souk_message *last = souk_conversation_get_last_message(cv);
	int ok = souk_conversation_get_unread_count(cv) == w->unread && last &&
		 strcmp(souk_message_get_text(last), w->last_text) == 0;
	souk_conversation_free(cv);
	return ok;
}

static void agent_says(th_server *srv, const char *conv_sid, const char *text)
{
	char path[256], body[512];
	snprintf(path, sizeof(path), "/v1/conversations/%s/messages", conv_sid);
	snprintf(body, sizeof(body),
		 "{\"sender\": {\"id\": \"agent-1\", \"kind\": \"agent\"}, \"content\": "
		 "{\"text\": {\"body\": \"%s\"}}}",
		 text);
	CHECK_EQ(th_http(srv, "POST", path, body, NULL, 0), 201);
}

int main(void)
{
	th_server srv;
	/* the per-user send rate (20/s by default) would make filling take a minute */
	th_server_init(&srv, "{\"send_rate_per_s\": 100000, \"send_burst\": 100000}");
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-pages", 3600);

	souk_client *b = th_started_client(&srv, "b.db", "b", 1, token);
	int64_t conv_b = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv_b, b));
	for (int k = 0; k < N; k++) {
		char text[32];
		snprintf(text, sizeof(text), "p %d", k);
		CHECK_OK(souk_client_send_text(NULL, b, conv_b, text));
	}
	th_wait(b, th_outbox_empty, NULL, NULL, NULL, 240000, "b's messages acked");
	souk_conversation *cv = NULL;
	CHECK_OK(souk_client_get_conversation(&cv, b, conv_b));
	char sid[160];
	snprintf(sid, sizeof(sid), "%s", souk_conversation_get_server_id(cv));
	souk_conversation_free(cv);
	agent_says(&srv, sid, "agent 1");
	agent_says(&srv, sid, "agent 2");
	agent_says(&srv, sid, "agent 3");
	th_log("%d messages of b and %d of the agent stored", N, AGENT);

	/* A's first sync, stopped as soon as something arrived */
	tally t = {0};
	souk_client *a = th_started_client(&srv, "a.db", "a", 0, token);
	th_wait(a, any_added, &t, on_event, &t, 60000, "a's sync started");
	souk_client_free(a);
	for (int k = 0; k < N; k++)
		CHECK(t.added[k] <= 1);

	/* ...and resumed. Pages committed after the last event was taken had their events
	 * dropped with the client (the store is the truth): what the store holds now must not
	 * be announced again, and everything else exactly once. */
	a = th_client(&srv, "a.db", "a", 0);
	int present[N] = {0}, first = 0, agent_present = 0;
	souk_conversation_list *cl = NULL;
	CHECK_OK(souk_client_list_conversations(&cl, a));
	if (souk_conversation_list_count(cl) == 1) {
		th_list *l0 =
			th_messages(a, souk_conversation_get_id(souk_conversation_list_get(cl, 0)));
		for (size_t i = 0; i < l0->n; i++) {
			int k = number(l0->v[i]);
			if (k >= 0) {
				present[k]++;
				first++;
			} else {
				agent_present++;
			}
		}
		th_list_free(l0);
	}
	souk_conversation_list_free(cl);
	th_log("a stopped with %d messages stored (%d syncs finished)", first, t.syncs);
	memset(&t, 0, sizeof(t));
	for (int k = 0; k < N; k++)
		t.added[k] = present[k]; /* all_added() then waits for the rest */
	t.agent = agent_present;
	CHECK_OK(souk_client_login(a, token));
	CHECK_OK(souk_client_start(a));
	th_wait(a, all_added, &t, on_event, &t, 120000, "a caught up");
	th_drain(a, on_event, &t);
	for (int k = 0; k < N; k++)
		CHECK_EQ(t.added[k], 1); /* stored before, or announced once since */
	CHECK_EQ(t.agent, AGENT);
	CHECK_EQ(t.other, 0);
	CHECK_EQ(t.out_of_order, 0);
	int64_t conv = only_conv(a);
	th_list *l = th_messages(a, conv);
	CHECK_EQ(l->n, N + AGENT);
	for (size_t i = 0; i < l->n; i++)
		CHECK_EQ(souk_message_get_conv_seq(l->v[i]), i + 1);
	th_list_free(l);

	/* the snapshot: the agent's three messages are unread, the last one is the newest */
	want w = {conv, AGENT, "agent 3"};
	th_wait(a, snapshot_is, &w, on_event, &t, 60000, "three unread, the agent's last");
	/* a send: the pending message is the last one; unread unchanged */
	CHECK_OK(souk_client_send_text(NULL, a, conv, "thanks"));
	w.last_text = "thanks";
	th_wait(a, snapshot_is, &w, on_event, &t, 60000, "the pending message is the last");
	th_wait(a, th_outbox_empty, NULL, on_event, &t, 60000, "a's message acked");
	CHECK(snapshot_is(a, &w));
	/* read: nothing unread */
	CHECK_OK(souk_client_mark_read(a, conv, 0));
	w.unread = 0;
	th_wait(a, snapshot_is, &w, on_event, &t, 60000, "nothing unread after the read mark");
	/* a live message from the agent: one unread, and it is the last */
	agent_says(&srv, sid, "agent 4");
	w.unread = 1;
	w.last_text = "agent 4";
	th_wait(a, snapshot_is, &w, on_event, &t, 60000, "the live message counted");

	souk_client_free(a);
	souk_client_free(b);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
