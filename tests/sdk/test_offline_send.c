/*
 * Offline send: with soukd down, a fresh device opens the support conversation and sends
 * 50 messages; they are PENDING. soukd starts; all 50 arrive once, in order — checked on
 * the sending device (each acked once, conv_seq 1..50 in send order) and on a second
 * device of the same user (exactly 50 messages, texts in order, no duplicate).
 */
#include "harness.h"

#include <string.h>

enum { N = 50 };

typedef struct counts {
	int added[N + 1]; /* MESSAGE_ADDED per message number */
	int sent[N + 1];  /* transitions to SENT per message number */
	int other;	  /* MESSAGE_ADDED for texts not ours */
	int64_t conv;
} counts;

static int msg_number(const souk_message *m)
{
	int k = 0;
	if (sscanf(souk_message_get_text(m), "offline message %d", &k) != 1 || k < 1 || k > N)
		return 0;
	return k;
}

static void on_event(const souk_event *ev, void *arg)
{
	counts *c = arg;
	const souk_message *m = souk_event_get_message(ev);
	if (!m)
		return;
	int k = msg_number(m);
	if (souk_event_get_type(ev) == SOUK_EVENT_MESSAGE_ADDED) {
		if (k)
			c->added[k]++;
		else
			c->other++;
	}
	if (souk_event_get_type(ev) == SOUK_EVENT_MESSAGE_UPDATED && k &&
	    souk_message_get_status(m) == SOUK_MESSAGE_SENT)
		c->sent[k]++;
}

static int all_sent(souk_client *c, void *arg)
{
	counts *cnt = arg;
	if (!th_outbox_empty(c, NULL))
		return 0;
	for (int k = 1; k <= N; k++)
		if (cnt->sent[k] == 0)
			return 0;
	return 1;
}

static int has_n_messages(souk_client *c, void *arg)
{
	counts *cnt = arg;
	int added = 0;
	for (int k = 1; k <= N; k++)
		added += cnt->added[k];
	if (added < N) /* the events, not only the store */
		return 0;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int done = 0;
	for (size_t i = 0; i < souk_conversation_list_count(l); i++) {
		const souk_conversation *cv = souk_conversation_list_get(l, i);
		if (souk_conversation_get_server_id(cv) &&
		    souk_conversation_get_last_conv_seq(cv) >= N) {
			cnt->conv = souk_conversation_get_id(cv);
			done = 1;
		}
	}
	souk_conversation_list_free(l);
	return done;
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_reserve_port(&srv); /* the URL is known; nothing listens yet */
	char *token = th_token(&srv, "shopper-1", 3600);

	souk_client *a = th_started_client(&srv, "a.db", "device-a", 0, token);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));
	CHECK(conv > 0);
	int64_t ids[N + 1];
	for (int k = 1; k <= N; k++) {
		char text[64];
		snprintf(text, sizeof(text), "offline message %d", k);
		th_forbid_in_logs(text);
		CHECK_OK(souk_client_send_text(&ids[k], a, conv, text));
		CHECK(ids[k] > 0);
	}
	size_t pending = 0;
	CHECK_OK(souk_client_outbox_count(&pending, a));
	CHECK_EQ(pending, N);
	th_list *l = th_messages(a, conv);
	CHECK_EQ(l->n, N);
	for (size_t i = 0; i < N; i++) {
		const souk_message *m = l->v[i];
		CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_PENDING);
		CHECK_EQ(souk_message_get_id(m), ids[i + 1]);
		CHECK(souk_message_get_server_id(m) == NULL);
	}
	th_list_free(l);

	counts ca = {0};
	th_log("soukd down, %d messages pending; starting soukd", N);
	th_server_start(&srv);
	CHECK_OK(souk_client_hint(a, SOUK_HINT_NETWORK_CHANGED));
	th_wait(a, all_sent, &ca, on_event, &ca, 60000, "all 50 messages acked");
	for (int k = 1; k <= N; k++) {
		CHECK_EQ(ca.added[k], 1); /* the MESSAGE_ADDED of send() itself */
		CHECK_EQ(ca.sent[k], 1);
	}
	CHECK_EQ(ca.other, 0);
	l = th_messages(a, conv);
	CHECK_EQ(l->n, N);
	for (size_t i = 0; i < N; i++) {
		const souk_message *m = l->v[i];
		CHECK_EQ(msg_number(m), (int)i + 1);
		CHECK_EQ(souk_message_get_conv_seq(m), i + 1);
		CHECK(souk_message_get_server_id(m) != NULL);
		CHECK(souk_message_is_outgoing(m));
	}
	th_list_free(l);
	souk_conversation *cv = NULL;
	CHECK_OK(souk_client_get_conversation(&cv, a, conv));
	CHECK(souk_conversation_is_support(cv));
	CHECK(souk_conversation_get_server_id(cv) != NULL);
	char server_conv[160];
	snprintf(server_conv, sizeof(server_conv), "%s", souk_conversation_get_server_id(cv));
	souk_conversation_free(cv);

	/* a second device of the same user sees exactly those 50, in order */
	souk_client *b = th_started_client(&srv, "b.db", "device-b", 1, token);
	counts cb = {0};
	th_wait(b, has_n_messages, &cb, on_event, &cb, 60000, "device b has the 50 messages");
	/* let a late duplicate, if the server had stored one, arrive before counting */
	CHECK_OK(souk_client_hint(b, SOUK_HINT_NETWORK_CHANGED));
	th_sleep_ms(300);
	th_drain(b, on_event, &cb);
	CHECK_OK(souk_client_get_conversation(&cv, b, cb.conv));
	CHECK(strcmp(souk_conversation_get_server_id(cv), server_conv) == 0);
	CHECK_EQ(souk_conversation_get_last_conv_seq(cv), N);
	souk_conversation_free(cv);
	l = th_messages(b, cb.conv);
	CHECK_EQ(l->n, N);
	for (size_t i = 0; i < N; i++) {
		const souk_message *m = l->v[i];
		CHECK_EQ(msg_number(m), (int)i + 1);
		CHECK_EQ(souk_message_get_conv_seq(m), i + 1);
		CHECK(souk_message_is_outgoing(m)); /* the same user, another device */
		CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_SENT);
	}
	th_list_free(l);
	for (int k = 1; k <= N; k++)
		CHECK_EQ(cb.added[k], 1);
	CHECK_EQ(cb.other, 0);

	souk_client_free(b);
	souk_client_free(a);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
