/*
 * fuzz_sdk_events.c — libFuzzer target for libsouk's event application: server frames,
 * decoded by the SDK's real decoder (souk_wire_decode, server direction), applied to a
 * real SQLCipher store by the functions the session calls for them (sync.c, outbox.c,
 * context_queue.c), interleaved with the app's own writes (send, mark read, open the
 * support conversation, set a context). No socket, no server: the seam is the store-level
 * API of sdk/src/store.h, which session.c's handle_frame() calls with the same arguments.
 *
 * Input: a sequence of operations, each an opcode byte and its operands:
 *   op % 8 = 0..2  a frame: u16 length, then that many bytes (a Frame as the server sends)
 *            3     souk__outbox_add (a text message) to a conversation picked by a byte
 *            4     souk__conv_mark_read: conversation and message picked by two bytes
 *            5     souk__conv_open_support
 *            6     souk__context_put to a picked conversation
 *            7     a byte picks: replay the last event frame after moving the cursor back |
 *                  fail | resend | delete a picked outgoing message
 * Client message ids: 16 bytes starting 0xC0 are replaced by the id of the pending
 * message picked by the second byte (so that acks, stream copies and refusals can meet
 * the messages the app sent); the user is "u1".
 *
 * Properties, checked after every operation (a violation aborts):
 *   - a decoded event frame applies: souk__sync_apply returns SOUK_OK (an event that can
 *     never be applied would block the user's stream for ever); acks, ConversationInfo
 *     and context answers likewise; the app's operations return SOUK_OK or their
 *     documented refusal (SOUK_ENOTFOUND, SOUK_ESTATE);
 *   - the cursor (state last_applied_seq) moves only forward and only over contiguous
 *     seqs: after a frame it is exactly the end of the run of consecutive events after
 *     it; an event after a hole is reported as a gap (the session's gap fill) and nothing
 *     after it is applied; the result matches the stored cursor;
 *   - no event is applied twice: a replay of applied events (cursor moved back) adds no
 *     message or push, and MESSAGE_ADDED / PUSH_RECEIVED never name a message or push twice;
 *   - the store is consistent: unread_count equals the count of incoming messages after
 *     read_up_to, the snapshot's last message is the newest in display order, no acked
 *     message stays in the outbox, at most one support conversation, foreign keys hold;
 *   - the public API reading the store returns valid objects (every getter called, strings
 *     valid UTF-8, enums in range, a message's conversation is the one listed).
 *
 * SOUK_FUZZ_WRITE_SEEDS=<dir>: write the seed inputs (made with protobuf-c) there and exit.
 */
#define SQLITE_HAS_CODEC 1
#include "store.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"

static const char *ME = "u1";
static const uint8_t KEY[32] = {1,  2,	3,  4,	5,  6,	7,  8,	9,  10, 11, 12, 13, 14, 15, 16,
				17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static char g_path[512];
static char g_dir[512];
static uint8_t *g_template; /* a fresh store, bound to ME, as file bytes */
static size_t g_template_len;

/* ---- helpers ------------------------------------------------------------------------------ */

static int64_t q_int(souk__store *st, const char *sql, int64_t a)
{
	sqlite3_stmt *s = souk__stmt(st, sql);
	FUZZ_CHECK(s != NULL, "prepare a check query");
	if (sqlite3_bind_parameter_count(s) >= 1)
		sqlite3_bind_int64(s, 1, a);
	int rc = sqlite3_step(s);
	FUZZ_CHECK(rc == SQLITE_ROW || rc == SQLITE_DONE, "check query runs");
	int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	return v;
}

static uint64_t cursor(souk__store *st)
{
	uint64_t v = 0;
	FUZZ_CHECK(souk__state_get_u64(st, "last_applied_seq", &v) == SOUK_OK, "read the cursor");
	return v;
}

/* The n-th (mod count) local id of `sql`'s rows, 0 if none. */
static int64_t pick(souk__store *st, const char *count_sql, const char *nth_sql, uint8_t b)
{
	int64_t n = q_int(st, count_sql, 0);
	if (n == 0)
		return 0;
	return q_int(st, nth_sql, b % n);
}

static int64_t pick_conv(souk__store *st, uint8_t b)
{
	if (b == 0xFF)
		return 999999; /* a conversation that does not exist */
	return pick(st, "SELECT COUNT(*) FROM conversations",
		    "SELECT id FROM conversations ORDER BY id LIMIT 1 OFFSET ?1", b);
}

static int64_t pick_msg(souk__store *st, uint8_t b)
{
	return pick(st, "SELECT COUNT(*) FROM messages",
		    "SELECT id FROM messages ORDER BY id LIMIT 1 OFFSET ?1", b);
}

/* 0xC0 <k> ...: the client message id of the k-th pending message instead. */
static void map_cmid(souk__store *st, ProtobufCBinaryData *b)
{
	if (b->len != 16 || b->data[0] != 0xC0)
		return;
	int64_t n = q_int(st,
			  "SELECT COUNT(*) FROM messages WHERE outgoing = 1 AND "
			  "message_id IS NULL",
			  0);
	if (n == 0)
		return;
	sqlite3_stmt *s = souk__stmt(st, "SELECT client_msg_id FROM messages WHERE outgoing = 1 "
					 "AND message_id IS NULL ORDER BY id LIMIT 1 OFFSET ?1");
	FUZZ_CHECK(s != NULL, "prepare");
	sqlite3_bind_int64(s, 1, b->data[1] % n);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_bytes(s, 0) == 16)
		memcpy(b->data, sqlite3_column_blob(s, 0), 16);
	sqlite3_reset(s);
}

/* ---- what the events say ---------------------------------------------------------------- */

/* Local ids announced by MESSAGE_ADDED and push ids by PUSH_RECEIVED in this input. */
static int64_t g_added[4096];
static size_t g_nadded;
static char *g_pushes[512];
static size_t g_npushes;

static void check_utf8(const char *s)
{
	if (s)
		FUZZ_CHECK(fuzz_utf8_valid_ref((const uint8_t *)s, strlen(s)), "valid UTF-8");
}

static void check_message(const souk_message *m)
{
	FUZZ_CHECK(souk_message_get_id(m) > 0, "message id");
	FUZZ_CHECK(souk_message_get_conversation_id(m) > 0, "message conversation");
	check_utf8(souk_message_get_server_id(m));
	const char *cmid = souk_message_get_client_msg_id(m);
	FUZZ_CHECK(cmid && (strlen(cmid) == 0 || strlen(cmid) == 32), "client message id hex");
	(void)souk_message_get_conv_seq(m);
	check_utf8(souk_message_get_sender_id(m));
	(void)souk_message_get_sender_kind(m); /* any number the server sent */
	check_utf8(souk_message_get_sender_name(m));
	check_utf8(souk_message_get_sender_avatar_url(m));
	int st = souk_message_get_status(m);
	FUZZ_CHECK(st >= SOUK_MESSAGE_PENDING && st <= SOUK_MESSAGE_RECEIVED, "status in range");
	FUZZ_CHECK(souk_message_is_outgoing(m) == (st != SOUK_MESSAGE_RECEIVED),
		   "received iff incoming");
	(void)souk_message_get_content_kind(m);
	const char *text = souk_message_get_text(m);
	if (souk_message_get_content(m))
		FUZZ_CHECK(text != NULL, "a decoded content has a text");
	check_utf8(text);
	(void)souk_message_get_failure_code(m);
	check_utf8(souk_message_get_failure_reason(m));
	(void)souk_message_get_created_ms(m);
	(void)souk_message_get_server_time_ms(m);
}

static void check_conversation(const souk_conversation *c)
{
	FUZZ_CHECK(souk_conversation_get_id(c) > 0, "conversation id");
	check_utf8(souk_conversation_get_server_id(c));
	(void)souk_conversation_get_kind(c);
	check_utf8(souk_conversation_get_controller(c));
	check_utf8(souk_conversation_get_assignee(c));
	(void)souk_conversation_get_status(c);
	(void)souk_conversation_get_unread_count(c);
	(void)souk_conversation_get_read_up_to(c);
	(void)souk_conversation_get_peer_read_up_to(c);
	(void)souk_conversation_get_last_conv_seq(c);
	const souk_message *last = souk_conversation_get_last_message(c);
	if (last) {
		check_message(last);
		FUZZ_CHECK(souk_message_get_conversation_id(last) == souk_conversation_get_id(c),
			   "the last message belongs to its conversation");
	}
}

/* Checks the events of one committed transaction, then frees them. */
static void take_events(souk__evlist *ev)
{
	FUZZ_CHECK(!ev->oom, "no allocation failure recorded");
	for (souk_event *e = ev->head; e; e = e->next) {
		int type = souk_event_get_type(e);
		const souk_message *m = souk_event_get_message(e);
		const souk_conversation *c = souk_event_get_conversation(e);
		if (m)
			check_message(m);
		if (c)
			check_conversation(c);
		if (type == SOUK_EVENT_MESSAGE_ADDED) {
			FUZZ_CHECK(m != NULL, "MESSAGE_ADDED carries a message");
			for (size_t i = 0; i < g_nadded; i++)
				FUZZ_CHECK(g_added[i] != souk_message_get_id(m),
					   "a message is added once");
			if (g_nadded < sizeof(g_added) / sizeof(g_added[0]))
				g_added[g_nadded++] = souk_message_get_id(m);
		} else if (type == SOUK_EVENT_MESSAGE_DELETED) {
			/* its row id may be given to the next message */
			for (size_t i = 0; m && i < g_nadded; i++)
				if (g_added[i] == souk_message_get_id(m))
					g_added[i] = g_added[--g_nadded];
		} else if (type == SOUK_EVENT_PUSH_RECEIVED) {
			const souk_push *p = souk_event_get_push(e);
			FUZZ_CHECK(p && souk_push_get_id(p), "PUSH_RECEIVED carries a push");
			for (size_t i = 0; i < g_npushes; i++)
				FUZZ_CHECK(strcmp(g_pushes[i], souk_push_get_id(p)) != 0,
					   "a push is reported once");
			if (g_npushes < sizeof(g_pushes) / sizeof(g_pushes[0]))
				g_pushes[g_npushes++] = strdup(souk_push_get_id(p));
			check_utf8(souk_push_get_title(p));
			check_utf8(souk_push_get_body(p));
		}
	}
	souk__evlist_clear(ev);
}

/* ---- the store's invariants -------------------------------------------------------------- */

static void check_store(souk__store *st)
{
	FUZZ_CHECK(q_int(st,
			 "SELECT COUNT(*) FROM conversations c WHERE unread_count != (SELECT "
			 "COUNT(*) FROM messages m WHERE m.conv_id = c.id AND m.outgoing = 0 AND "
			 "m.conv_seq > c.read_up_to)",
			 0) == 0,
		   "unread_count is the number of incoming messages after read_up_to");
	FUZZ_CHECK(q_int(st,
			 "SELECT COUNT(*) FROM outbox o JOIN messages m ON m.id = o.msg_id "
			 "WHERE m.message_id IS NOT NULL OR m.outgoing = 0",
			 0) == 0,
		   "only pending outgoing messages are in the outbox");
	FUZZ_CHECK(q_int(st, "SELECT COUNT(*) FROM conversations WHERE is_support = 1", 0) <= 1,
		   "at most one support conversation");
	FUZZ_CHECK(q_int(st,
			 "SELECT COUNT(*) FROM messages m JOIN conversations c ON c.id = m.conv_id "
			 "WHERE m.outgoing = 1 AND m.conv_seq IS NOT NULL AND m.status IN (2, 3) "
			 "AND (c.peer_read_up_to >= m.conv_seq OR (m.status = 2 AND "
			 "c.peer_delivered_up_to >= m.conv_seq))",
			 0) == 0,
		   "an outgoing message's status is as far as the peer's receipts say");
	FUZZ_CHECK(q_int(st,
			 "SELECT COUNT(*) FROM messages m WHERE NOT EXISTS (SELECT 1 FROM "
			 "conversations c WHERE c.id = m.conv_id)",
			 0) == 0,
		   "every message belongs to a conversation");

	souk_conversation_list *l = NULL;
	FUZZ_CHECK(souk__list_conversations(st, &l) == SOUK_OK, "list conversations");
	for (size_t i = 0; i < souk_conversation_list_count(l); i++) {
		const souk_conversation *c = souk_conversation_list_get(l, i);
		check_conversation(c);
		int64_t cid = souk_conversation_get_id(c);
		/* the last message in display order, as the original query computed it */
		int64_t want = q_int(st,
				     "SELECT id FROM messages m WHERE m.conv_id = ?1 ORDER BY "
				     "(m.conv_seq IS NULL) DESC, IFNULL(m.conv_seq, 0) DESC, m.id "
				     "DESC LIMIT 1",
				     cid);
		const souk_message *last = souk_conversation_get_last_message(c);
		FUZZ_CHECK((last ? souk_message_get_id(last) : 0) == want,
			   "the snapshot's last message is the newest in display order");
		souk_message_list *ml = NULL;
		FUZZ_CHECK(souk__list_messages(st, cid, 0, SOUK_PAGE_BEFORE, 500, &ml) == SOUK_OK,
			   "list messages");
		for (size_t k = 0; k < souk_message_list_count(ml); k++) {
			const souk_message *m = souk_message_list_get(ml, k);
			check_message(m);
			FUZZ_CHECK(souk_message_get_conversation_id(m) == cid,
				   "a listed message belongs to the conversation");
		}
		if (souk_message_list_count(ml))
			FUZZ_CHECK(souk_message_get_id(souk_message_list_get(
					   ml, souk_message_list_count(ml) - 1)) == want,
				   "the newest listed message is the last message");
		souk_message_list_free(ml);
	}
	souk_conversation_list_free(l);
	souk_push_list *pl = NULL;
	FUZZ_CHECK(souk__list_pushes(st, 0, &pl) == SOUK_OK, "list pushes");
	souk_push_list_free(pl);
}

/* ---- frames ------------------------------------------------------------------------------ */

static uint8_t *g_last_events; /* the last event frame applied (for a replay) */
static size_t g_last_len;

/* Applies an event frame; 1 if every event in it was applied by this call. */
static int apply_events(souk__store *st, Souk__V1__Event **events, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (events[i]->body_case == SOUK__V1__EVENT__BODY_MESSAGE &&
		    events[i]->message->sender_id && strcmp(events[i]->message->sender_id, ME) == 0)
			map_cmid(st, &events[i]->message->client_msg_id);
	uint64_t before = cursor(st), want = before;
	int gap = 0;
	size_t applied = 0, skipped = 0;
	for (size_t i = 0; i < n; i++) {
		if (events[i]->seq <= want) {
			skipped++;
		} else if (events[i]->seq == want + 1) {
			want++;
			applied++;
		} else {
			gap = 1;
			break;
		}
	}
	souk__apply_result res;
	souk__evlist ev = {0};
	int r = souk__sync_apply(st, ME, events, n, &res, &ev);
	FUZZ_CHECK(r == SOUK_OK, "a decoded event frame applies");
	take_events(&ev);
	FUZZ_CHECK(res.last_applied == want, "the cursor ends after the contiguous events");
	FUZZ_CHECK(cursor(st) == want, "the stored cursor is the reported one");
	FUZZ_CHECK(res.gap == gap, "a hole is reported as a gap (gap fill), not skipped");
	FUZZ_CHECK(res.applied == applied && res.skipped == skipped, "applied/skipped counts");
	FUZZ_CHECK(want >= before, "the cursor never moves back");
	return n > 0 && applied == n;
}

static void apply_frame(souk__store *st, Souk__V1__Frame *f, const uint8_t *raw, size_t len)
{
	souk__evlist ev = {0};
	int r;
	switch (f->body_case) {
	case SOUK__V1__FRAME__BODY_SYNC_PAGE:
	case SOUK__V1__FRAME__BODY_EVENTS: {
		int page = f->body_case == SOUK__V1__FRAME__BODY_SYNC_PAGE;
		if (!apply_events(st, page ? f->sync_page->events : f->events->events,
				  page ? f->sync_page->n_events : f->events->n_events))
			return; /* a replay needs a frame whose every event was applied */
		uint8_t *copy = malloc(len ? len : 1);
		FUZZ_CHECK(copy != NULL, "memory");
		memcpy(copy, raw, len);
		free(g_last_events);
		g_last_events = copy;
		g_last_len = len;
		return;
	}
	case SOUK__V1__FRAME__BODY_SEND_ACK:
		map_cmid(st, &f->send_ack->client_msg_id);
		r = souk__sync_ack(st, ME, f->send_ack, &ev);
		FUZZ_CHECK(r == SOUK_OK, "a decoded SendAck applies");
		break;
	case SOUK__V1__FRAME__BODY_CONVERSATION:
		r = souk__sync_support_info(st, f->conversation, &ev);
		FUZZ_CHECK(r == SOUK_OK, "a decoded ConversationInfo applies");
		break;
	case SOUK__V1__FRAME__BODY_CONTEXT_UPDATED: {
		/* the session knows the conversation and revision from its request id */
		int64_t conv = pick_conv(st, (uint8_t)f->request_id);
		int64_t rev = (int64_t)(f->request_id >> 8);
		r = souk__context_confirm(st, conv, rev, &ev);
		FUZZ_CHECK(r == SOUK_OK, "a context confirmation applies");
		break;
	}
	case SOUK__V1__FRAME__BODY_ERROR: {
		const Souk__V1__Error *e = f->error;
		map_cmid(st, &f->error->client_msg_id);
		int64_t msg = 0;
		if (e->client_msg_id.len == 16) {
			sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM messages WHERE "
							 "client_msg_id = ?1 AND outgoing = 1 AND "
							 "message_id IS NULL");
			FUZZ_CHECK(s != NULL, "prepare");
			sqlite3_bind_blob(s, 1, e->client_msg_id.data, 16, SQLITE_STATIC);
			if (sqlite3_step(s) == SQLITE_ROW)
				msg = sqlite3_column_int64(s, 0);
			sqlite3_reset(s);
		}
		const char *why = e->message ? e->message : "";
		if (msg) {
			r = e->permanent ? souk__outbox_fail(st, msg, e->code, why, &ev)
					 : souk__outbox_defer(st, msg, (int64_t)e->retry_after_ms);
		} else {
			int64_t conv = pick_conv(st, (uint8_t)f->request_id);
			int64_t rev = (int64_t)(f->request_id >> 8);
			r = e->permanent ? souk__context_fail(st, conv, rev, e->code, why, &ev)
					 : souk__context_defer(st, conv, rev,
							       (int64_t)e->retry_after_ms);
		}
		FUZZ_CHECK(r == SOUK_OK, "a refusal is recorded");
		break;
	}
	default:
		return; /* welcome, typing, pong: nothing stored */
	}
	take_events(&ev);
}

/* Moves the cursor back to before the last event frame and applies it again: nothing
 * that was applied may appear twice (sync.c: application is idempotent by identity). */
static void replay(souk__store *st)
{
	if (!g_last_events)
		return;
	Souk__V1__Frame *f = NULL;
	souk_wire_status ws = souk_wire_decode(g_last_events, g_last_len, 0, &f);
	FUZZ_CHECK(ws.code == 0 && f, "the applied frame decodes again");
	Souk__V1__Event **events = f->body_case == SOUK__V1__FRAME__BODY_SYNC_PAGE
					   ? f->sync_page->events
					   : f->events->events;
	size_t n = f->body_case == SOUK__V1__FRAME__BODY_SYNC_PAGE ? f->sync_page->n_events
								   : f->events->n_events;
	uint64_t saved = cursor(st);
	if (n == 0 || events[0]->seq == 0 || events[0]->seq - 1 >= saved) {
		souk_wire_frame_free(f);
		return;
	}
	int64_t msgs = q_int(st, "SELECT COUNT(*) FROM messages", 0);
	int64_t pushes = q_int(st, "SELECT COUNT(*) FROM pushes", 0);
	FUZZ_CHECK(souk__state_set_u64(st, "last_applied_seq", events[0]->seq - 1) == SOUK_OK,
		   "move the cursor back");
	souk__apply_result res;
	souk__evlist ev = {0};
	for (size_t i = 0; i < n; i++) /* pending copies were reconciled the first time */
		if (events[i]->body_case == SOUK__V1__EVENT__BODY_MESSAGE &&
		    events[i]->message->sender_id && strcmp(events[i]->message->sender_id, ME) == 0)
			map_cmid(st, &events[i]->message->client_msg_id);
	int r = souk__sync_apply(st, ME, events, n, &res, &ev);
	FUZZ_CHECK(r == SOUK_OK, "a replayed frame applies");
	for (souk_event *e = ev.head; e; e = e->next)
		FUZZ_CHECK(souk_event_get_type(e) != SOUK_EVENT_PUSH_RECEIVED,
			   "a replayed push is not reported again");
	take_events(&ev);
	FUZZ_CHECK(q_int(st, "SELECT COUNT(*) FROM pushes", 0) == pushes, "no push stored twice");
	/* a replayed own message may meet a pending copy sent since (a new message) */
	FUZZ_CHECK(q_int(st, "SELECT COUNT(*) FROM messages", 0) == msgs,
		   "no message stored twice");
	if (cursor(st) < saved)
		FUZZ_CHECK(souk__state_set_u64(st, "last_applied_seq", saved) == SOUK_OK,
			   "restore the cursor");
	souk_wire_frame_free(f);
}

/* ---- the app's operations ---------------------------------------------------------------- */

static void local_send(souk__store *st, uint8_t b)
{
	static const uint8_t text[] = {0x52, 0x03, 0x0a, 0x01, 'x'}; /* Content{text{body "x"}} */
	int64_t conv = pick_conv(st, b), id = 0;
	souk__evlist ev = {0};
	int r = souk__outbox_add(st, conv ? conv : 999999, text, sizeof(text), 1000, &id, &ev);
	FUZZ_CHECK(r == SOUK_OK || r == SOUK_ENOTFOUND, "send: ok or no such conversation");
	take_events(&ev);
}

static void local_op(souk__store *st, uint8_t op, fuzz_reader *in)
{
	souk__evlist ev = {0};
	int r;
	switch (op) {
	case 3:
		local_send(st, fuzz_u8(in));
		return;
	case 4: {
		int64_t conv = pick_conv(st, fuzz_u8(in));
		uint8_t b = fuzz_u8(in);
		int64_t msg = b ? pick_msg(st, b) : 0;
		r = souk__conv_mark_read(st, conv ? conv : 999999, msg, &ev);
		FUZZ_CHECK(r == SOUK_OK || r == SOUK_ENOTFOUND, "mark read: ok or not found");
		break;
	}
	case 5: {
		int64_t id = 0;
		r = souk__conv_open_support(st, &id, &ev);
		FUZZ_CHECK(r == SOUK_OK && id > 0, "open the support conversation");
		break;
	}
	case 6: {
		static const uint8_t ctx[1]; /* an empty ShoppingContext */
		int64_t conv = pick_conv(st, fuzz_u8(in));
		r = souk__context_put(st, conv ? conv : 999999, ctx, 0, 1000);
		FUZZ_CHECK(r == SOUK_OK || r == SOUK_ENOTFOUND, "context put: ok or not found");
		break;
	}
	default: {
		uint8_t sub = fuzz_u8(in) % 4;
		if (sub == 0) {
			replay(st);
			return;
		}
		int64_t msg = pick_msg(st, fuzz_u8(in));
		if (sub == 1)
			r = souk__outbox_fail(st, msg, 3, "refused", &ev);
		else if (sub == 2)
			r = souk__outbox_resend(st, msg, &ev);
		else
			r = souk__outbox_delete_failed(st, msg, &ev);
		FUZZ_CHECK(r == SOUK_OK || r == SOUK_ENOTFOUND || r == SOUK_ESTATE,
			   "outbox operation: ok, not found, or not in that state");
		break;
	}
	}
	take_events(&ev);
}

/* ---- seeds ------------------------------------------------------------------------------- */

static FILE *g_seed;

static void seed_frame(const Souk__V1__Frame *f)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (souk_wire_encode(f, 0, &buf, &len) != 0 || len > 0xFFFF)
		abort();
	uint8_t hdr[3] = {0, (uint8_t)len, (uint8_t)(len >> 8)};
	fwrite(hdr, 1, 3, g_seed);
	fwrite(buf, 1, len, g_seed);
	free(buf);
}

static void seed_op(uint8_t op, uint8_t a, uint8_t b)
{
	uint8_t v[3] = {op, a, b};
	fwrite(v, 1, 3, g_seed);
}

static Souk__V1__Event *ev_msg(uint64_t seq, const char *mid, const char *conv, uint64_t cs,
			       const char *sender, int mine)
{
	static Souk__V1__Event e[64];
	static Souk__V1__Message m[64];
	static Souk__V1__Content c[64];
	static Souk__V1__Text t[64];
	static uint8_t cm[64][16];
	static size_t k;
	size_t i = k++ % 64;
	souk__v1__event__init(&e[i]);
	souk__v1__message__init(&m[i]);
	souk__v1__content__init(&c[i]);
	souk__v1__text__init(&t[i]);
	t[i].body = (char *)"hello";
	c[i].kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	c[i].text = &t[i];
	m[i].message_id = (char *)mid;
	m[i].conversation_id = (char *)conv;
	m[i].conv_seq = cs;
	m[i].sender_id = (char *)sender;
	m[i].content = &c[i];
	m[i].server_time_ms = 1000 + (int64_t)seq;
	memset(cm[i], (int)seq, 16);
	if (mine)
		cm[i][0] = 0xC0, cm[i][1] = 0;
	m[i].client_msg_id.data = cm[i];
	m[i].client_msg_id.len = 16;
	e[i].seq = seq;
	e[i].body_case = SOUK__V1__EVENT__BODY_MESSAGE;
	e[i].message = &m[i];
	return &e[i];
}

static Souk__V1__Event *ev_receipt(uint64_t seq, const char *conv, const char *user, int kind,
				   uint64_t up_to)
{
	static Souk__V1__Event e[16];
	static Souk__V1__Receipt r[16];
	static size_t k;
	size_t i = k++ % 16;
	souk__v1__event__init(&e[i]);
	souk__v1__receipt__init(&r[i]);
	r[i].conversation_id = (char *)conv;
	r[i].user_id = (char *)user;
	r[i].kind = (Souk__V1__ReceiptKind)kind;
	r[i].up_to_conv_seq = up_to;
	e[i].seq = seq;
	e[i].body_case = SOUK__V1__EVENT__BODY_RECEIPT;
	e[i].receipt = &r[i];
	return &e[i];
}

static Souk__V1__Event *ev_conv(uint64_t seq, const char *conv, int kind)
{
	static Souk__V1__Event e[8];
	static Souk__V1__ConversationInfo ci[8];
	static size_t k;
	size_t i = k++ % 8;
	souk__v1__event__init(&e[i]);
	souk__v1__conversation_info__init(&ci[i]);
	ci[i].conversation_id = (char *)conv;
	ci[i].kind = (Souk__V1__ConversationKind)kind;
	ci[i].status = SOUK__V1__CONVERSATION_STATUS__CONVERSATION_OPEN;
	ci[i].last_conv_seq = 3;
	ci[i].controller = (char *)"desk";
	e[i].seq = seq;
	e[i].body_case = SOUK__V1__EVENT__BODY_CONVERSATION;
	e[i].conversation = &ci[i];
	return &e[i];
}

static Souk__V1__Event *ev_push(uint64_t seq, const char *id)
{
	static Souk__V1__Event e[4];
	static Souk__V1__InAppPush p[4];
	static size_t k;
	size_t i = k++ % 4;
	souk__v1__event__init(&e[i]);
	souk__v1__in_app_push__init(&p[i]);
	p[i].push_id = (char *)id;
	p[i].title = (char *)"Sale";
	p[i].body = (char *)"Today only";
	e[i].seq = seq;
	e[i].body_case = SOUK__V1__EVENT__BODY_PUSH;
	e[i].push = &p[i];
	return &e[i];
}

static void seed_page(Souk__V1__Event **evs, size_t n, int page)
{
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	Souk__V1__SyncPage sp = SOUK__V1__SYNC_PAGE__INIT;
	Souk__V1__EventBatch eb = SOUK__V1__EVENT_BATCH__INIT;
	if (page) {
		sp.events = evs;
		sp.n_events = n;
		f.body_case = SOUK__V1__FRAME__BODY_SYNC_PAGE;
		f.sync_page = &sp;
	} else {
		eb.events = evs;
		eb.n_events = n;
		f.body_case = SOUK__V1__FRAME__BODY_EVENTS;
		f.events = &eb;
	}
	seed_frame(&f);
}

static void seed_ack(uint8_t k, const char *mid, uint64_t seq, uint64_t cs)
{
	uint8_t cm[16];
	memset(cm, 0, sizeof(cm));
	cm[0] = 0xC0;
	cm[1] = k;
	Souk__V1__SendAck a = SOUK__V1__SEND_ACK__INIT;
	a.client_msg_id.data = cm;
	a.client_msg_id.len = 16;
	a.message_id = (char *)mid;
	a.seq = seq;
	a.conv_seq = cs;
	a.server_time_ms = 5;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_SEND_ACK;
	f.send_ack = &a;
	seed_frame(&f);
}

static void seed_error(uint8_t k, int permanent)
{
	uint8_t cm[16];
	memset(cm, 0, sizeof(cm));
	cm[0] = 0xC0;
	cm[1] = k;
	Souk__V1__Error e = SOUK__V1__ERROR__INIT;
	e.code = SOUK__V1__ERROR_CODE__INVALID_FIELD;
	e.message = (char *)"bad";
	e.client_msg_id.data = cm;
	e.client_msg_id.len = 16;
	e.permanent = permanent;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_ERROR;
	f.error = &e;
	seed_frame(&f);
}

static void seed_support_info(const char *conv)
{
	Souk__V1__ConversationInfo ci = SOUK__V1__CONVERSATION_INFO__INIT;
	ci.conversation_id = (char *)conv;
	ci.kind = SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_CONVERSATION;
	f.conversation = &ci;
	seed_frame(&f);
}

static FILE *seed_open(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "wb");
	if (!f) {
		perror(p);
		exit(1);
	}
	return f;
}

static void write_seeds(const char *dir)
{
	/* a sync: messages from an agent, a receipt, a push; the user reads; more arrive */
	g_seed = seed_open(dir, "seed-sync");
	Souk__V1__Event *p1[] = {ev_conv(1, "c1", 0), ev_msg(2, "m1", "c1", 1, "agent", 0),
				 ev_msg(3, "m2", "c1", 2, "agent", 0), ev_push(4, "p1")};
	seed_page(p1, 4, 1);
	seed_op(4, 0, 2);
	Souk__V1__Event *p2[] = {
		ev_msg(5, "m3", "c1", 3, "agent", 0),
		ev_receipt(6, "c1", "u1", SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 3)};
	seed_page(p2, 2, 1);
	seed_op(7, 0, 0); /* replay */
	fclose(g_seed);

	/* offline sends, the support conversation named, acks, the stream copies, receipts */
	g_seed = seed_open(dir, "seed-send");
	seed_op(5, 0, 0);
	seed_op(3, 0, 0);
	seed_op(3, 0, 0);
	seed_support_info("s1");
	seed_ack(0, "m10", 1, 1);
	Souk__V1__Event *p3[] = {
		ev_msg(1, "m10", "s1", 1, "u1", 1), ev_msg(2, "m11", "s1", 2, "u1", 1),
		ev_receipt(3, "s1", "agent", SOUK__V1__RECEIPT_KIND__RECEIPT_DELIVERED, 2),
		ev_receipt(4, "s1", "agent", SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 1),
		ev_msg(5, "m12", "s1", 3, "agent", 0)};
	seed_page(p3, 5, 0);
	seed_op(3, 0, 0);
	seed_error(0, 1);
	seed_op(7, 2, 0); /* resend */
	fclose(g_seed);

	/* a gap, then the fill; an overlap; events before the cursor */
	g_seed = seed_open(dir, "seed-gap");
	Souk__V1__Event *p4[] = {ev_msg(1, "a1", "c2", 1, "agent", 0),
				 ev_msg(3, "a3", "c2", 3, "agent", 0)};
	seed_page(p4, 2, 1);
	Souk__V1__Event *p5[] = {ev_msg(1, "a1", "c2", 1, "agent", 0),
				 ev_msg(2, "a2", "c2", 2, "agent", 0),
				 ev_msg(3, "a3", "c2", 3, "agent", 0)};
	seed_page(p5, 3, 1);
	seed_op(4, 0, 0);
	fclose(g_seed);

	/* the support conversation known by the stream before the answer: a merge */
	g_seed = seed_open(dir, "seed-merge");
	Souk__V1__Event *p6[] = {ev_msg(1, "b1", "s9", 1, "agent", 0)};
	seed_page(p6, 1, 1);
	seed_op(5, 0, 0);
	seed_op(3, 1, 0);
	seed_op(6, 1, 0);
	Souk__V1__Event *p7[] = {
		ev_conv(2, "s9", SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT)};
	seed_page(p7, 1, 0);
	seed_op(4, 0, 0);
	fclose(g_seed);
}

/* ---- entry points ------------------------------------------------------------------------- */

static void remove_dir(void)
{
	souk__store_wipe_files(g_path);
	rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *seeds = getenv("SOUK_FUZZ_WRITE_SEEDS");
	if (seeds && seeds[0]) {
		write_seeds(seeds);
		exit(0);
	}
	/* tmpfs when there is one: the store is a real SQLCipher file either way */
	char dir[] = "/dev/shm/souk-fuzz-sdk-XXXXXX";
	char dir2[] = "/tmp/souk-fuzz-sdk-XXXXXX";
	const char *d = mkdtemp(dir);
	if (!d)
		d = mkdtemp(dir2);
	if (!d) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(g_dir, sizeof(g_dir), "%s", d);
	snprintf(g_path, sizeof(g_path), "%s/store.db", d);
	atexit(remove_dir);
	/* every input starts from a copy of one fresh store: creating the schema each time
	 * would halve the executions per second */
	souk__store *st = NULL;
	char err[256];
	FUZZ_CHECK(souk__store_open(&st, g_path, KEY, 1, err, sizeof(err)) == SOUK_OK,
		   "create the template store");
	FUZZ_CHECK(souk__store_bind_user(st, ME) == SOUK_OK, "bind the user");
	souk__store_close(st); /* the last connection: the WAL is checkpointed and removed */
	FILE *f = fopen(g_path, "rb");
	FUZZ_CHECK(f != NULL, "read the template");
	fseek(f, 0, SEEK_END);
	g_template_len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	g_template = malloc(g_template_len);
	FUZZ_CHECK(g_template && fread(g_template, 1, g_template_len, f) == g_template_len,
		   "read the template");
	fclose(f);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	souk__store_wipe_files(g_path);
	FILE *tf = fopen(g_path, "wb");
	FUZZ_CHECK(tf && fwrite(g_template, 1, g_template_len, tf) == g_template_len,
		   "copy the template store");
	fclose(tf);
	souk__store *st = NULL;
	char err[256];
	int r = souk__store_open(&st, g_path, KEY, 1, err, sizeof(err));
	FUZZ_CHECK(r == SOUK_OK, "open a fresh store");
	/* speed only: what is checked is the application, not durability */
	sqlite3_stmt *s = souk__stmt(st, "PRAGMA synchronous = OFF");
	FUZZ_CHECK(s && souk__exec_stmt(st, s) == SOUK_OK, "synchronous off");
	FUZZ_CHECK(souk__store_bind_user(st, ME) == SOUK_OK, "bind the user");

	fuzz_reader in = {data, size};
	uint64_t last_cursor = 0;
	int ops = 0;
	while (in.n && ops++ < 64) {
		uint8_t op = fuzz_u8(&in) % 8;
		if (op <= 2) {
			size_t len = fuzz_u16(&in);
			if (len > in.n)
				len = in.n;
			Souk__V1__Frame *f = NULL;
			souk_wire_status ws = souk_wire_decode(in.p, len, 0, &f);
			if (ws.code == 0)
				apply_frame(st, f, in.p, len);
			souk_wire_frame_free(f);
			in.p += len;
			in.n -= len;
		} else {
			local_op(st, op, &in);
		}
		uint64_t c = cursor(st);
		FUZZ_CHECK(c >= last_cursor, "the cursor only moves forward");
		last_cursor = c;
		check_store(st);
	}
	souk__store_close(st);
	free(g_last_events);
	g_last_events = NULL;
	g_last_len = 0;
	g_nadded = 0;
	for (size_t i = 0; i < g_npushes; i++)
		free(g_pushes[i]);
	g_npushes = 0;
	return 0;
}
