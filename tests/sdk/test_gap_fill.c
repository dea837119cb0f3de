/*
 * Gap fill, and never applying an event twice.
 *
 * Device A follows the stream of a user whose other device B sends messages. Then A's
 * store is damaged from the outside the way a restored backup or a lost write would
 * damage it: some applied messages are deleted and the applied position is moved back.
 *
 *  1. Offline: A restarts on the damaged store; the server streams from the older
 *     position. The missing messages come back (one MESSAGE_ADDED each), the ones A
 *     still had are recognised (no event, no copy), new ones are added.
 *  2. Live: while A is connected and caught up, its position is moved back under it. The
 *     next live event is not position + 1: A detects the gap, reconnects and refetches,
 *     again without applying anything twice.
 *
 * This test edits the store through libsouk's internal store API, so it links the SDK
 * statically (souk_static) rather than the shared library.
 */
#include "harness.h"
#include "store.h"

#include <sqlite3.h>
#include <string.h>

typedef struct tally {
	int added[100]; /* MESSAGE_ADDED per message number "gap %d" */
	int other;
	int syncs;
} tally;

static int number(const souk_message *m)
{
	int k = -1;
	if (sscanf(souk_message_get_text(m), "gap %d", &k) != 1 || k < 0 || k >= 100)
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
	int k = number(souk_event_get_message(ev));
	if (k >= 0)
		t->added[k]++;
	else
		t->other++;
}

static uint64_t want_seq;
static int want_added;

/* The store has the position and the events announcing it were seen: the reader may see
 * a commit an instant before its events are queued, so both are waited for. */
static int conv_at(souk_client *c, void *arg)
{
	tally *t = arg;
	int added = 0;
	for (int k = 0; k < 100; k++)
		added += t->added[k];
	if (added < want_added)
		return 0;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1 &&
		 souk_conversation_get_last_conv_seq(souk_conversation_list_get(l, 0)) >= want_seq;
	souk_conversation_list_free(l);
	return ok;
}

/* ...and a sync finished since: the gap made it reconnect */
static int conv_at_and_resynced(souk_client *c, void *arg)
{
	return ((tally *)arg)->syncs >= 1 && conv_at(c, arg);
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

/* Every message 0..n-1 exactly once, in order, at conv_seq 1..n. */
static void check_complete(souk_client *c, int n)
{
	th_list *l = th_messages(c, only_conv(c));
	CHECK_EQ(l->n, n);
	for (int i = 0; i < n; i++) {
		CHECK_EQ(number(l->v[i]), i);
		CHECK_EQ(souk_message_get_conv_seq(l->v[i]), i + 1);
	}
	th_list_free(l);
}

static void send_from_b(souk_client *b, int64_t conv, int from, int to)
{
	for (int k = from; k < to; k++) {
		char text[32];
		snprintf(text, sizeof(text), "gap %d", k);
		CHECK_OK(souk_client_send_text(NULL, b, conv, text));
	}
	th_wait(b, th_outbox_empty, NULL, NULL, NULL, 60000, "b's messages acked");
}

/* Deletes A's copies of messages first..last (by number) and moves the applied position
 * back to just before the first of them. Returns that position. */
static uint64_t damage(const char *db, int first, int last)
{
	uint8_t key[32];
	th_key(key, 0);
	char err[256];
	souk__store *st = NULL;
	CHECK_EQ(souk__store_open(&st, db, key, 1, err, sizeof(err)), SOUK_OK);
	CHECK_OK(souk__store_begin(st));
	/* the stream position of the first message to forget */
	sqlite3_stmt *s = souk__stmt(st, "SELECT seq FROM messages ORDER BY conv_seq "
					 "LIMIT 1 OFFSET ?1");
	CHECK(s != NULL);
	sqlite3_bind_int(s, 1, first);
	CHECK_EQ(sqlite3_step(s), SQLITE_ROW);
	uint64_t pos = (uint64_t)sqlite3_column_int64(s, 0) - 1;
	sqlite3_reset(s);
	s = souk__stmt(st, "DELETE FROM messages WHERE conv_seq BETWEEN ?1 AND ?2");
	CHECK(s != NULL);
	sqlite3_bind_int(s, 1, first + 1);
	sqlite3_bind_int(s, 2, last + 1);
	CHECK_OK(souk__exec_stmt(st, s));
	CHECK_EQ(souk__store_changes(st), last - first + 1);
	CHECK_OK(souk__state_set_u64(st, "last_applied_seq", pos));
	CHECK_OK(souk__store_commit(st, NULL));
	souk__store_close(st);
	return pos;
}

int main(void)
{
	th_server srv;
	/* libsouk asks for the largest page the server allows, so this default no longer
	 * splits these syncs into pages: sdk_sync_pages covers syncs of several pages */
	th_server_init(&srv, "{\"sync_page_default\": 7}");
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-gap", 3600);
	char db[512];
	th_db_path(db, sizeof(db), "a.db");

	souk_client *b = th_started_client(&srv, "b.db", "b", 1, token);
	int64_t conv_b = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv_b, b));

	souk_client *a = th_started_client(&srv, "a.db", "a", 0, token);
	tally t = {0};
	send_from_b(b, conv_b, 0, 20);
	want_seq = 20;
	want_added = 20;
	th_wait(a, conv_at, &t, on_event, &t, 60000, "a has 20 messages");
	th_drain(a, on_event, &t);
	check_complete(a, 20);
	for (int k = 0; k < 20; k++)
		CHECK_EQ(t.added[k], 1);
	souk_client_free(a);

	/* 1. offline damage: forget messages 5..9 and the position after message 4 */
	uint64_t pos = damage(db, 5, 9);
	th_log("store damaged: messages 5..9 deleted, position moved back to %llu",
	       (unsigned long long)pos);
	send_from_b(b, conv_b, 20, 25);
	memset(&t, 0, sizeof(t));
	a = th_client(&srv, "a.db", "a", 0);
	CHECK_OK(souk_client_login(a, token));
	CHECK_OK(souk_client_start(a));
	want_seq = 25;
	want_added = 10;
	th_wait(a, conv_at, &t, on_event, &t, 60000, "a refetched and has 25 messages");
	th_drain(a, on_event, &t);
	check_complete(a, 25);
	for (int k = 0; k < 25; k++)
		CHECK_EQ(t.added[k], (k >= 5 && k <= 9) || k >= 20 ? 1 : 0);
	CHECK_EQ(t.other, 0);

	/* 2. live damage: A is caught up and connected; its position moves back under it */
	while (t.syncs == 0)
		th_wait(a, conv_at, &t, on_event, &t, 60000, "a live");
	memset(&t, 0, sizeof(t));
	pos = damage(db, 22, 24);
	th_log("live store damaged: messages 22..24 deleted, position back to %llu",
	       (unsigned long long)pos);
	send_from_b(b, conv_b, 25, 28);
	want_seq = 28;
	want_added = 6;
	th_wait(a, conv_at_and_resynced, &t, on_event, &t, 60000, "a filled the live gap");
	th_drain(a, on_event, &t);
	check_complete(a, 28);
	for (int k = 0; k < 28; k++)
		CHECK_EQ(t.added[k], k >= 22 ? 1 : 0);
	CHECK(t.syncs >= 1); /* the gap made it reconnect and sync again */

	souk_client_free(a);
	souk_client_free(b);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
