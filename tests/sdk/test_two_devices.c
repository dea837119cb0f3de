/*
 * Two devices of one user: both see the same support conversation and messages; one
 * marks the conversation read, the other learns the read position (through the server's
 * READ receipt in the user's stream). Typing of one device reaches nobody else's stream
 * but must not break anything; marking below the current position changes nothing.
 */
#include "harness.h"

#include <string.h>

typedef struct state {
	int64_t conv;
	uint64_t read_up_to; /* from the last CONVERSATION_UPDATED */
	int read_events;     /* CONVERSATION_UPDATED events that moved read_up_to */
} state;

static void on_event(const souk_event *ev, void *arg)
{
	state *st = arg;
	if (souk_event_get_type(ev) != SOUK_EVENT_CONVERSATION_UPDATED)
		return;
	const souk_conversation *c = souk_event_get_conversation(ev);
	CHECK(c != NULL);
	if (st->conv && souk_conversation_get_id(c) != st->conv)
		return;
	if (souk_conversation_get_read_up_to(c) != st->read_up_to) {
		CHECK(souk_conversation_get_read_up_to(c) > st->read_up_to); /* only forward */
		st->read_up_to = souk_conversation_get_read_up_to(c);
		st->read_events++;
	}
}

static int outbox_empty_and_confirmed(souk_client *c, void *arg)
{
	int64_t conv = *(int64_t *)arg;
	souk_conversation *cv = NULL;
	CHECK_OK(souk_client_get_conversation(&cv, c, conv));
	int ok = souk_conversation_get_server_id(cv) != NULL && th_outbox_empty(c, NULL);
	souk_conversation_free(cv);
	return ok;
}

static int has_three(souk_client *c, void *arg)
{
	state *st = arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = 0;
	if (souk_conversation_list_count(l) == 1) {
		const souk_conversation *cv = souk_conversation_list_get(l, 0);
		st->conv = souk_conversation_get_id(cv);
		ok = souk_conversation_get_last_conv_seq(cv) == 3;
	}
	souk_conversation_list_free(l);
	return ok;
}

static int read_is(souk_client *c, void *arg)
{
	(void)c;
	state *st = arg;
	return st->read_up_to == 2;
}

static int read_is_3(souk_client *c, void *arg)
{
	(void)c;
	return ((state *)arg)->read_up_to == 3;
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-2dev", 3600);

	souk_client *a = th_client(&srv, "a.db", "phone", 0);
	souk_client *b = th_client(&srv, "b.db", "tablet", 1);
	CHECK(strcmp(souk_client_get_device_id(a), "phone") == 0);
	CHECK_OK(souk_client_login(a, token));
	CHECK_OK(souk_client_login(b, token));
	CHECK_OK(souk_client_start(a));
	CHECK_OK(souk_client_start(b));

	int64_t conv_a = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv_a, a));
	int64_t again = 0;
	CHECK_OK(souk_client_open_support_conversation(&again, a));
	CHECK_EQ(again, conv_a); /* one support conversation */
	int64_t ids[3];
	/* the third is 12,000 bytes: more than lws' 4 KiB service buffer, a frame the SDK
	 * sends and soukd delivers whole (tx_packet_size), with a 4-byte WebSocket header */
	static char big[12001];
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "order 1234 ", 11);
	const char *texts[3] = {"where is my order?", "it was due on Monday", big};
	for (int i = 0; i < 3; i++) {
		th_forbid_in_logs(texts[i]);
		CHECK_OK(souk_client_send_text(&ids[i], a, conv_a, texts[i]));
	}
	CHECK_OK(souk_client_set_typing(a, conv_a, 1));
	th_wait(a, outbox_empty_and_confirmed, &conv_a, NULL, NULL, 60000, "a's messages acked");

	/* device b: the same conversation and messages */
	state sb = {0};
	th_wait(b, has_three, &sb, on_event, &sb, 60000, "b has the three messages");
	souk_conversation *ca = NULL, *cb = NULL;
	CHECK_OK(souk_client_get_conversation(&ca, a, conv_a));
	CHECK_OK(souk_client_get_conversation(&cb, b, sb.conv));
	CHECK(strcmp(souk_conversation_get_server_id(ca), souk_conversation_get_server_id(cb)) ==
	      0);
	CHECK_EQ(souk_conversation_get_read_up_to(cb), 0);
	const souk_message *last = souk_conversation_get_last_message(cb);
	CHECK(last != NULL);
	CHECK(strcmp(souk_message_get_text(last), texts[2]) == 0);
	souk_conversation_free(ca);
	souk_conversation_free(cb);
	th_list *lb = th_messages(b, sb.conv);
	CHECK_EQ(lb->n, 3);
	for (int i = 0; i < 3; i++)
		CHECK(strcmp(souk_message_get_text(lb->v[i]), texts[i]) == 0);
	th_list_free(lb);

	/* a reads up to its second message; b learns it */
	CHECK_OK(souk_client_mark_read(a, conv_a, ids[1]));
	CHECK_OK(souk_client_get_conversation(&ca, a, conv_a));
	CHECK_EQ(souk_conversation_get_read_up_to(ca), 2); /* applied locally at once */
	souk_conversation_free(ca);
	th_wait(b, read_is, &sb, on_event, &sb, 60000, "b learns the read position 2");
	CHECK_EQ(sb.read_events, 1);
	CHECK_OK(souk_client_get_conversation(&cb, b, sb.conv));
	CHECK_EQ(souk_conversation_get_read_up_to(cb), 2);
	CHECK_EQ(souk_conversation_get_unread_count(cb), 0);
	souk_conversation_free(cb);

	/* marking below the position changes nothing, anywhere */
	CHECK_OK(souk_client_mark_read(a, conv_a, ids[0]));
	CHECK_OK(souk_client_get_conversation(&ca, a, conv_a));
	CHECK_EQ(souk_conversation_get_read_up_to(ca), 2);
	souk_conversation_free(ca);

	/* restart b: the position persists; nothing is re-applied */
	CHECK_OK(souk_client_stop(b));
	th_drain(b, on_event, &sb);
	CHECK_OK(souk_client_start(b));
	CHECK_OK(souk_client_get_conversation(&cb, b, sb.conv));
	CHECK_EQ(souk_conversation_get_read_up_to(cb), 2);
	souk_conversation_free(cb);

	/* and b reads everything: a learns that too */
	state sa = {.conv = conv_a}; /* replays a's whole backlog: 0 -> 2 -> 3 */
	CHECK_OK(souk_client_mark_read(b, sb.conv, 0));
	th_wait(a, read_is_3, &sa, on_event, &sa, 60000, "a learns the read position 3");
	CHECK_OK(souk_client_get_conversation(&ca, a, conv_a));
	CHECK_EQ(souk_conversation_get_read_up_to(ca), 3);
	souk_conversation_free(ca);

	souk_client_free(a);
	souk_client_free(b);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
