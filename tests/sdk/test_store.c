/*
 * Unit tests of libsouk's store (real SQLCipher files, no server): schema migrations,
 * keys, the outbox, applying the stream (dedupe, gaps, the one reconciliation of a
 * pending message with its ack or its event, receipts), the support conversation merge,
 * paging, the user binding and the wipe. Server frames are built, encoded and decoded
 * with souk_wire exactly as they would arrive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define SQLITE_HAS_CODEC 1
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "store.h"

static const char *ME = "user-me";

/* ---- helpers ------------------------------------------------------------------------- */

static char path_buf[512];
static int path_count;

static const char *new_path(void)
{
	snprintf(path_buf, sizeof(path_buf), "%s/store-%d.db", th_tmpdir(), path_count++);
	return path_buf;
}

static souk__store *open_store(const char *path, int variant)
{
	uint8_t key[32];
	th_key(key, variant);
	char err[256];
	souk__store *st = NULL;
	int r = souk__store_open(&st, path, key, 1, err, sizeof(err));
	if (r != SOUK_OK)
		fail_msg("open %s: %s (%s)", path, souk_strerror(r), err);
	return st;
}

static int64_t scalar(souk__store *st, const char *sql)
{
	sqlite3_stmt *s = souk__stmt(st, sql);
	assert_non_null(s);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return v;
}

static int count_events(souk__evlist *ev, int type)
{
	int n = 0;
	for (souk_event *e = ev->head; e; e = e->next)
		n += e->type == type;
	return n;
}

/* A conversation with a server id, as after OpenConversation. */
static int64_t confirmed_conv(souk__store *st, const char *server_id)
{
	souk__evlist ev = {0};
	int64_t id = 0;
	assert_int_equal(souk__conv_open_support(st, &id, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	Souk__V1__ConversationInfo ci = SOUK__V1__CONVERSATION_INFO__INIT;
	ci.conversation_id = (char *)server_id;
	ci.status = SOUK__V1__CONVERSATION_STATUS__CONVERSATION_OPEN;
	assert_int_equal(souk__sync_support_info(st, &ci, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	return id;
}

static int64_t add_text(souk__store *st, int64_t conv, const char *text)
{
	Souk__V1__Text t = SOUK__V1__TEXT__INIT;
	t.body = (char *)text;
	Souk__V1__Content c = SOUK__V1__CONTENT__INIT;
	c.kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	c.text = &t;
	uint8_t buf[1024];
	size_t len = souk__v1__content__pack(&c, buf);
	souk__evlist ev = {0};
	int64_t id = 0;
	assert_int_equal(souk__outbox_add(st, conv, buf, len, 1000, &id, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_ADDED), 1);
	souk__evlist_clear(&ev);
	return id;
}

static void cmid_of(souk__store *st, int64_t msg, uint8_t out[16])
{
	sqlite3_stmt *s = souk__stmt(st, "SELECT client_msg_id FROM messages WHERE id = ?1");
	sqlite3_bind_int64(s, 1, msg);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(s, 0), 16);
	memcpy(out, sqlite3_column_blob(s, 0), 16);
	sqlite3_reset(s);
}

static int status_of(souk__store *st, int64_t msg)
{
	souk_message *m = NULL;
	assert_int_equal(souk__load_message(st, msg, &m), SOUK_OK);
	int s = m->status;
	souk_message_free(m);
	return s;
}

/* A server event list, built, encoded and decoded as the SDK receives it. */
typedef struct evb {
	Souk__V1__Event ev[16];
	Souk__V1__Message msg[16];
	Souk__V1__Receipt rc[16];
	Souk__V1__Content content[16];
	Souk__V1__Text text[16];
	Souk__V1__ConversationInfo ci[16];
	Souk__V1__InAppPush push[16];
	Souk__V1__ProductCard product[16];
	Souk__V1__Event *ptr[16];
	size_t n;
	Souk__V1__Frame *decoded;
} evb;

static void evb_message(evb *b, uint64_t seq, const char *message_id, const char *conv,
			uint64_t conv_seq, const char *sender, const uint8_t *cmid,
			const char *body)
{
	size_t i = b->n++;
	souk__v1__event__init(&b->ev[i]);
	souk__v1__message__init(&b->msg[i]);
	souk__v1__content__init(&b->content[i]);
	souk__v1__text__init(&b->text[i]);
	b->text[i].body = (char *)body;
	b->content[i].kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	b->content[i].text = &b->text[i];
	b->msg[i].message_id = (char *)message_id;
	b->msg[i].conversation_id = (char *)conv;
	b->msg[i].conv_seq = conv_seq;
	b->msg[i].sender_id = (char *)sender;
	b->msg[i].sender_kind = strcmp(sender, ME) == 0 ? SOUK__V1__SENDER_KIND__SENDER_SHOPPER
							: SOUK__V1__SENDER_KIND__SENDER_AGENT;
	if (cmid) {
		b->msg[i].client_msg_id.data = (uint8_t *)cmid;
		b->msg[i].client_msg_id.len = 16;
	}
	b->msg[i].content = &b->content[i];
	b->msg[i].server_time_ms = 5000 + (int64_t)seq;
	b->ev[i].seq = seq;
	b->ev[i].body_case = SOUK__V1__EVENT__BODY_MESSAGE;
	b->ev[i].message = &b->msg[i];
	b->ptr[i] = &b->ev[i];
}

static void evb_receipt(evb *b, uint64_t seq, const char *conv, const char *user, int kind,
			uint64_t up_to)
{
	size_t i = b->n++;
	souk__v1__event__init(&b->ev[i]);
	souk__v1__receipt__init(&b->rc[i]);
	b->rc[i].conversation_id = (char *)conv;
	b->rc[i].user_id = (char *)user;
	b->rc[i].kind = (Souk__V1__ReceiptKind)kind;
	b->rc[i].up_to_conv_seq = up_to;
	b->ev[i].seq = seq;
	b->ev[i].body_case = SOUK__V1__EVENT__BODY_RECEIPT;
	b->ev[i].receipt = &b->rc[i];
	b->ptr[i] = &b->ev[i];
}

static Souk__V1__ConversationInfo *evb_conversation(evb *b, uint64_t seq, const char *conv,
						    int kind)
{
	size_t i = b->n++;
	souk__v1__event__init(&b->ev[i]);
	souk__v1__conversation_info__init(&b->ci[i]);
	b->ci[i].conversation_id = (char *)conv;
	b->ci[i].status = SOUK__V1__CONVERSATION_STATUS__CONVERSATION_OPEN;
	b->ci[i].kind = (Souk__V1__ConversationKind)kind;
	b->ev[i].seq = seq;
	b->ev[i].body_case = SOUK__V1__EVENT__BODY_CONVERSATION;
	b->ev[i].conversation = &b->ci[i];
	b->ptr[i] = &b->ev[i];
	return &b->ci[i];
}

static Souk__V1__InAppPush *evb_push(evb *b, uint64_t seq, const char *push_id)
{
	size_t i = b->n++;
	souk__v1__event__init(&b->ev[i]);
	souk__v1__in_app_push__init(&b->push[i]);
	b->push[i].push_id = (char *)push_id;
	b->ev[i].seq = seq;
	b->ev[i].server_time_ms = 7000 + (int64_t)seq;
	b->ev[i].body_case = SOUK__V1__EVENT__BODY_PUSH;
	b->ev[i].push = &b->push[i];
	b->ptr[i] = &b->ev[i];
	return &b->push[i];
}

/* Encodes the events as a SyncPage and decodes them back through souk_wire. */
static Souk__V1__Event *const *evb_wire(evb *b, size_t *n)
{
	Souk__V1__SyncPage page = SOUK__V1__SYNC_PAGE__INIT;
	page.events = b->ptr;
	page.n_events = b->n;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_SYNC_PAGE;
	f.sync_page = &page;
	uint8_t *buf;
	size_t len;
	assert_int_equal(souk_wire_encode(&f, 0, &buf, &len), 0);
	souk_wire_status st = souk_wire_decode(buf, len, 0, &b->decoded);
	free(buf);
	if (st.code)
		fail_msg("server frame refused by souk_wire: %s", st.why);
	*n = b->decoded->sync_page->n_events;
	return b->decoded->sync_page->events;
}

static void evb_free(evb *b)
{
	souk_wire_frame_free(b->decoded);
	memset(b, 0, sizeof(*b));
}

static souk__apply_result apply(souk__store *st, evb *b, souk__evlist *ev)
{
	size_t n;
	Souk__V1__Event *const *events = evb_wire(b, &n);
	souk__apply_result res;
	assert_int_equal(souk__sync_apply(st, ME, events, n, &res, ev), SOUK_OK);
	evb_free(b);
	return res;
}

/* ---- migrations, keys ------------------------------------------------------------------ */

static void test_migrate_fresh_and_reopen(void **state)
{
	(void)state;
	const char *p = new_path();
	char path[512];
	snprintf(path, sizeof(path), "%s", p);
	souk__store *st = open_store(path, 0);
	assert_int_equal(scalar(st, "PRAGMA user_version"), SOUK__SCHEMA_VERSION);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND "
				    "name IN ('state', 'conversations', 'messages', 'outbox')"),
			 4);
	assert_int_equal(souk__state_set_text(st, "device_id", "dev-1"), SOUK_OK);
	souk__store_close(st);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 077, 0); /* created private */

	st = open_store(path, 0); /* reopening migrates nothing and keeps data */
	char *v = NULL;
	assert_int_equal(souk__state_get_text(st, "device_id", &v), SOUK_OK);
	assert_string_equal(v, "dev-1");
	free(v);
	/* a query-only reader on the same file */
	uint8_t key[32];
	th_key(key, 0);
	char err[256];
	souk__store *rd = NULL;
	assert_int_equal(souk__store_open(&rd, path, key, 0, err, sizeof(err)), SOUK_OK);
	assert_int_equal(souk__state_set_text(rd, "x", "y"), SOUK_ESTORE); /* read only */
	souk__store_close(rd);
	souk__store_close(st);
}

/* A store as libsouk wrote it at schema version 1 (before sender avatars). */
static const char *const V1_SCHEMA =
	"CREATE TABLE state (key TEXT PRIMARY KEY NOT NULL, value);"
	"CREATE TABLE conversations (id INTEGER PRIMARY KEY, server_id TEXT UNIQUE,"
	" is_support INTEGER NOT NULL DEFAULT 0, status INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL DEFAULT 0, last_conv_seq INTEGER NOT NULL DEFAULT 0,"
	" read_up_to INTEGER NOT NULL DEFAULT 0, read_acked_up_to INTEGER NOT NULL DEFAULT 0,"
	" peer_read_up_to INTEGER NOT NULL DEFAULT 0,"
	" peer_delivered_up_to INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE messages (id INTEGER PRIMARY KEY,"
	" conv_id INTEGER NOT NULL REFERENCES conversations(id), message_id TEXT UNIQUE,"
	" client_msg_id BLOB, conv_seq INTEGER, seq INTEGER, sender_id TEXT,"
	" sender_kind INTEGER NOT NULL DEFAULT 0, sender_name TEXT, sender_device_id TEXT,"
	" outgoing INTEGER NOT NULL, content BLOB NOT NULL, status INTEGER NOT NULL,"
	" error_code INTEGER NOT NULL DEFAULT 0, error_reason TEXT, created_ms INTEGER NOT NULL,"
	" server_time_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX messages_by_cmid ON messages(client_msg_id);"
	"CREATE INDEX messages_by_conv ON messages(conv_id, conv_seq);"
	"CREATE TABLE outbox (ord INTEGER PRIMARY KEY AUTOINCREMENT,"
	" msg_id INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,"
	" attempts INTEGER NOT NULL DEFAULT 0, next_attempt_ms INTEGER NOT NULL DEFAULT 0);"
	"INSERT INTO conversations (id, server_id, is_support) VALUES (1, 'conv-old', 1);"
	/* Content{text{body: "kept"}}: field 10 (text), field 1 (body) */
	"INSERT INTO messages (id, conv_id, message_id, conv_seq, outgoing, content, status,"
	" created_ms) VALUES (1, 1, 'old-1', 1, 0, x'52060a046b657074', 6, 1);"
	"INSERT INTO messages (id, conv_id, client_msg_id, outgoing, content, status, created_ms)"
	" VALUES (2, 1, x'00112233445566778899aabbccddeeff', 1, x'52060a046b657074', 1, 2);"
	"INSERT INTO outbox (msg_id) VALUES (2);"
	"PRAGMA user_version = 1;";

static void test_migrate_from_v1(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", new_path());
	uint8_t key[32];
	th_key(key, 0);
	char spec[80];
	spec[0] = 'x';
	spec[1] = '\'';
	for (int i = 0; i < 32; i++)
		snprintf(spec + 2 + 2 * i, 3, "%02x", key[i]);
	spec[66] = '\'';
	spec[67] = '\0';
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_key(db, spec, 67), SQLITE_OK);
	char *err = NULL;
	if (sqlite3_exec(db, V1_SCHEMA, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("fixture: %s", err);
	sqlite3_close(db);

	souk__store *st = open_store(path, 0);
	assert_int_equal(scalar(st, "PRAGMA user_version"), SOUK__SCHEMA_VERSION);
	souk_message *m = NULL;
	assert_int_equal(souk__load_message(st, 1, &m), SOUK_OK);
	assert_string_equal(m->text, "kept");
	assert_null(m->sender_avatar_url); /* the new column, empty for old rows */
	souk_message_free(m);
	size_t n = 0;
	assert_int_equal(souk__outbox_count(st, &n), SOUK_OK);
	assert_int_equal(n, 1); /* the pending message survived the upgrade */
	/* and the new column is written for new events */
	evb b = {0};
	souk__evlist ev = {0};
	evb_message(&b, 1, "new-1", "conv-old", 2, "agent-3", NULL, "hello");
	b.msg[0].sender_avatar_url = "https://cdn.example/a.png";
	apply(st, &b, &ev);
	assert_string_equal(ev.head->msg->sender_avatar_url, "https://cdn.example/a.png");
	souk__evlist_clear(&ev);
	/* schema 3: the support conversation recognised before `kind` existed stays one */
	souk_conversation *cv = NULL;
	assert_int_equal(souk__load_conversation(st, 1, &cv), SOUK_OK);
	assert_int_equal(souk_conversation_get_kind(cv), SOUK_CONVERSATION_KIND_SUPPORT);
	assert_true(souk_conversation_is_support(cv));
	assert_null(souk_conversation_get_controller(cv));
	/* schema 4: the unread count is computed for the rows that were there (old-1 is
	 * incoming and unread; new-1 came after the upgrade), and the last message is the
	 * pending one (no server position yet) */
	assert_int_equal(souk_conversation_get_unread_count(cv), 2);
	assert_int_equal(scalar(st, "SELECT unread_count FROM conversations WHERE id = 1"), 2);
	assert_non_null(souk_conversation_get_last_message(cv));
	assert_int_equal(souk_message_get_id(souk_conversation_get_last_message(cv)), 2);
	souk_conversation_free(cv);
	/* schema 5: the pending message written before it is found by its client message id
	 * through the new partial index (built from the existing rows): its ack reconciles it */
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM sqlite_master WHERE name = "
				    "'messages_pending_by_cmid'"),
			 1);
	assert_int_equal(
		scalar(st, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_by_cmid'"),
		0);
	static const uint8_t old_cmid[16] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
					     0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
	Souk__V1__SendAck ack = SOUK__V1__SEND_ACK__INIT;
	ack.client_msg_id.data = (uint8_t *)old_cmid;
	ack.client_msg_id.len = 16;
	ack.message_id = "old-2";
	ack.seq = 9;
	ack.conv_seq = 3;
	assert_int_equal(souk__sync_ack(st, ME, &ack, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_UPDATED), 1);
	assert_int_equal(ev.head->msg->id, 2);
	souk__evlist_clear(&ev);
	assert_int_equal(souk__outbox_count(st, &n), SOUK_OK);
	assert_int_equal(n, 0);
	/* and old messages have a typed content */
	assert_int_equal(souk__load_message(st, 1, &m), SOUK_OK);
	assert_int_equal(souk_content_get_kind(souk_message_get_content(m)), SOUK_CONTENT_TEXT);
	assert_string_equal(souk_content_get_text(souk_message_get_content(m)), "kept");
	souk_message_free(m);
	souk__store_close(st);
}

static void test_newer_schema_refused(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", new_path());
	souk__store *st = open_store(path, 0);
	sqlite3_stmt *s = souk__stmt(st, "PRAGMA user_version = 99");
	assert_int_equal(souk__exec_stmt(st, s), SOUK_OK);
	souk__store_close(st);
	uint8_t key[32];
	th_key(key, 0);
	char err[256];
	assert_int_equal(souk__store_open(&st, path, key, 1, err, sizeof(err)), SOUK_ESCHEMA);
	assert_null(st);
	assert_non_null(strstr(err, "schema version 99"));
}

static void test_wrong_key_and_not_a_database(void **state)
{
	(void)state;
	char path[512];
	snprintf(path, sizeof(path), "%s", new_path());
	souk__store_close(open_store(path, 0));
	uint8_t key[32];
	th_key(key, 1);
	char err[256];
	souk__store *st = NULL;
	assert_int_equal(souk__store_open(&st, path, key, 1, err, sizeof(err)), SOUK_EKEY);
	assert_string_equal(err, "the database key is wrong, or the file is not a Souk database");
	/* the file was not touched: the right key still works */
	souk__store_close(open_store(path, 0));

	snprintf(path, sizeof(path), "%s", new_path());
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 512; i++)
		fputs("plain text, not a database. ", f);
	fclose(f);
	assert_int_equal(souk__store_open(&st, path, key, 1, err, sizeof(err)), SOUK_EKEY);
}

static void test_plain_sqlite_file_refused(void **state)
{
	(void)state;
	/* An unencrypted SQLite database (as a non-SQLCipher SDK would have written) must
	 * not be opened as if it were ours. */
	char path[512];
	snprintf(path, sizeof(path), "%s", new_path());
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES ('hello');",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	uint8_t key[32];
	th_key(key, 0);
	char err[256];
	souk__store *st = NULL;
	assert_int_equal(souk__store_open(&st, path, key, 1, err, sizeof(err)), SOUK_EKEY);
}

static void test_wipe_files(void **state)
{
	(void)state;
	char path[512], wal[520], shm[520];
	snprintf(path, sizeof(path), "%s", new_path());
	snprintf(wal, sizeof(wal), "%s-wal", path);
	snprintf(shm, sizeof(shm), "%s-shm", path);
	souk__store *st = open_store(path, 0);
	int64_t conv = confirmed_conv(st, "conv-w");
	add_text(st, conv, "to be wiped");
	assert_int_equal(access(wal, F_OK), 0); /* WAL mode: the files exist while open */
	assert_int_equal(access(shm, F_OK), 0);
	souk__store_close(st);
	FILE *f = fopen(wal, "a"); /* a WAL left behind by a crash goes too */
	fclose(f);
	assert_int_equal(souk__store_wipe_files(path), 0);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_not_equal(access(wal, F_OK), 0);
	assert_int_not_equal(access(shm, F_OK), 0);
	assert_int_equal(souk__store_wipe_files(path), 0); /* nothing there: fine */
}

static int64_t head_of(const souk__outbox_head *h, size_t n, int64_t conv)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].conv_id == conv)
			return h[i].msg_id;
	return 0;
}

/* ---- the outbox -------------------------------------------------------------------------- */

static void test_outbox_order_per_conversation(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t c1 = confirmed_conv(st, "conv-1");
	/* a second conversation, known from the stream */
	evb b = {0};
	evb_message(&b, 1, "srv-other", "conv-2", 1, "agent-7", NULL, "hello from the shop");
	souk__evlist ev = {0};
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	int64_t c2 = 0;
	assert_int_equal(souk__conv_by_server_id(st, "conv-2", &c2), SOUK_OK);

	int64_t a1 = add_text(st, c1, "a1"), b1 = add_text(st, c2, "b1");
	int64_t a2 = add_text(st, c1, "a2");
	add_text(st, c2, "b2");
	size_t n = 0;
	assert_int_equal(souk__outbox_count(st, &n), SOUK_OK);
	assert_int_equal(n, 4);

	souk__outbox_head *h = NULL;
	assert_int_equal(souk__outbox_heads(st, &h, &n), SOUK_OK);
	assert_int_equal(n, 2); /* one head per conversation, in order */
	assert_int_equal(h[0].msg_id, a1);
	assert_string_equal(h[0].conv_server_id, "conv-1");
	assert_int_equal(h[1].msg_id, b1);
	assert_string_equal(h[1].conv_server_id, "conv-2");
	assert_memory_not_equal(h[0].cmid, h[1].cmid, 16);
	Souk__V1__Content *c = souk__v1__content__unpack(NULL, h[0].content_len, h[0].content);
	assert_non_null(c);
	assert_string_equal(c->text->body, "a1");
	souk__v1__content__free_unpacked(c, NULL);
	souk__outbox_heads_free(h, n);

	/* a transient refusal keeps the head, later */
	assert_int_equal(souk__outbox_defer(st, a1, 999999), SOUK_OK);
	assert_int_equal(souk__outbox_heads(st, &h, &n), SOUK_OK);
	assert_int_equal(h[0].msg_id, a1);
	assert_int_equal(h[0].next_attempt_ms, 999999);
	assert_int_equal(h[0].attempts, 1);
	souk__outbox_heads_free(h, n);

	/* a permanent one takes it out: the next one of its conversation is the head */
	assert_int_equal(souk__outbox_fail(st, a1, 300, "too large", &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_UPDATED), 1);
	assert_int_equal(ev.head->msg->status, SOUK_MESSAGE_FAILED);
	assert_int_equal(ev.head->msg->failure_code, 300);
	assert_string_equal(ev.head->msg->failure_reason, "too large");
	souk__evlist_clear(&ev);
	assert_int_equal(souk__outbox_heads(st, &h, &n), SOUK_OK);
	assert_int_equal(head_of(h, n, c1), a2);
	assert_int_equal(head_of(h, n, c2), b1);
	souk__outbox_heads_free(h, n);

	/* resend: back in, behind what is pending, with the same client message id */
	uint8_t before[16], after[16];
	cmid_of(st, a1, before);
	assert_int_equal(souk__outbox_resend(st, a2, &ev), SOUK_ESTATE); /* not FAILED */
	assert_int_equal(souk__outbox_resend(st, a1, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	cmid_of(st, a1, after);
	assert_memory_equal(before, after, 16);
	assert_int_equal(status_of(st, a1), SOUK_MESSAGE_PENDING);
	assert_int_equal(souk__outbox_heads(st, &h, &n), SOUK_OK);
	assert_int_equal(head_of(h, n, c1), a2);
	souk__outbox_heads_free(h, n);

	/* delete: only failed messages */
	assert_int_equal(souk__outbox_delete_failed(st, a2, &ev), SOUK_ESTATE);
	assert_int_equal(souk__outbox_fail(st, a1, 300, "too large", &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(souk__outbox_delete_failed(st, a1, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_DELETED), 1);
	souk__evlist_clear(&ev);
	souk_message *m = NULL;
	assert_int_equal(souk__load_message(st, a1, &m), SOUK_ENOTFOUND);
	souk__store_close(st);
}

static void test_outbox_add_is_atomic(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	uint8_t content[4] = {0x52, 0x02, 0x0a, 0x00};
	souk__evlist ev = {0};
	int64_t id = 0;
	assert_int_equal(souk__outbox_add(st, 4242, content, sizeof(content), 1, &id, &ev),
			 SOUK_ENOTFOUND);
	assert_null(ev.head);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM messages"), 0);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM outbox"), 0);
	souk__store_close(st);
}

/* ---- applying the stream ----------------------------------------------------------------- */

static void test_apply_skips_applied_and_stops_at_gap(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	evb b = {0};
	souk__evlist ev = {0};
	evb_message(&b, 1, "m1", "conv-g", 1, "agent", NULL, "one");
	evb_message(&b, 2, "m2", "conv-g", 2, "agent", NULL, "two");
	evb_message(&b, 3, "m3", "conv-g", 3, "agent", NULL, "three");
	souk__apply_result r = apply(st, &b, &ev);
	assert_int_equal(r.applied, 3);
	assert_int_equal(r.last_applied, 3);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_ADDED), 3);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_UPDATED), 1);
	souk__evlist_clear(&ev);

	/* 2..4: 2 and 3 are already applied */
	evb_message(&b, 2, "m2", "conv-g", 2, "agent", NULL, "two");
	evb_message(&b, 3, "m3", "conv-g", 3, "agent", NULL, "three");
	evb_message(&b, 4, "m4", "conv-g", 4, "agent", NULL, "four");
	r = apply(st, &b, &ev);
	assert_int_equal(r.skipped, 2);
	assert_int_equal(r.applied, 1);
	assert_int_equal(r.last_applied, 4);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_ADDED), 1);
	souk__evlist_clear(&ev);

	/* 6..7 after 4: a gap, nothing applied, the position stays */
	evb_message(&b, 6, "m6", "conv-g", 6, "agent", NULL, "six");
	evb_message(&b, 7, "m7", "conv-g", 7, "agent", NULL, "seven");
	r = apply(st, &b, &ev);
	assert_int_equal(r.gap, 1);
	assert_int_equal(r.applied, 0);
	assert_int_equal(r.last_applied, 4);
	assert_null(ev.head);
	uint64_t pos = 0;
	assert_int_equal(souk__state_get_u64(st, "last_applied_seq", &pos), SOUK_OK);
	assert_int_equal(pos, 4);

	/* position moved back (restored backup): the same events again add nothing */
	assert_int_equal(souk__state_set_u64(st, "last_applied_seq", 1), SOUK_OK);
	evb_message(&b, 2, "m2", "conv-g", 2, "agent", NULL, "two");
	evb_message(&b, 3, "m3", "conv-g", 3, "agent", NULL, "three");
	r = apply(st, &b, &ev);
	assert_int_equal(r.applied, 2);
	assert_null(ev.head); /* nothing shown twice */
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM messages"), 4);
	souk__store_close(st);
}

static void test_reconcile_ack_first_then_event(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t conv = confirmed_conv(st, "conv-r");
	int64_t id = add_text(st, conv, "hello");
	uint8_t cmid[16];
	cmid_of(st, id, cmid);

	Souk__V1__SendAck ack = SOUK__V1__SEND_ACK__INIT;
	ack.client_msg_id.data = cmid;
	ack.client_msg_id.len = 16;
	ack.message_id = "srv-1";
	ack.seq = 2;
	ack.conv_seq = 1;
	ack.server_time_ms = 777;
	souk__evlist ev = {0};
	assert_int_equal(souk__sync_ack(st, ME, &ack, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_UPDATED), 1);
	souk_message *m = ev.head->msg;
	assert_int_equal(m->id, id);
	assert_int_equal(m->status, SOUK_MESSAGE_SENT);
	assert_string_equal(m->server_id, "srv-1");
	assert_int_equal(m->conv_seq, 1);
	souk__evlist_clear(&ev);
	size_t n = 9;
	assert_int_equal(souk__outbox_count(st, &n), SOUK_OK);
	assert_int_equal(n, 0);

	/* a duplicate ack (a retry answered with duplicate=true): nothing */
	ack.duplicate = 1;
	assert_int_equal(souk__sync_ack(st, ME, &ack, &ev), SOUK_OK);
	assert_null(ev.head);

	/* the stream event of the same message: recognised, not added */
	evb b = {0};
	evb_message(&b, 1, "srv-0", "conv-r", 0, "agent", NULL, "earlier");
	evb_message(&b, 2, "srv-1", "conv-r", 1, ME, cmid, "hello");
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_ADDED), 1); /* only srv-0 */
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_UPDATED), 0);
	souk__evlist_clear(&ev);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM messages"), 2);
	assert_int_equal(scalar(st, "SELECT seq FROM messages WHERE message_id = 'srv-1'"), 2);
	souk__store_close(st);
}

static void test_reconcile_event_first_then_ack(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t conv = confirmed_conv(st, "conv-e");
	int64_t id = add_text(st, conv, "hi");
	uint8_t cmid[16];
	cmid_of(st, id, cmid);
	evb b = {0};
	souk__evlist ev = {0};
	evb_message(&b, 1, "srv-9", "conv-e", 1, ME, cmid, "hi");
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_ADDED), 0);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_UPDATED), 1);
	souk__evlist_clear(&ev);
	assert_int_equal(status_of(st, id), SOUK_MESSAGE_SENT);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM outbox"), 0);

	Souk__V1__SendAck ack = SOUK__V1__SEND_ACK__INIT;
	ack.client_msg_id.data = cmid;
	ack.client_msg_id.len = 16;
	ack.message_id = "srv-9";
	ack.seq = 1;
	ack.conv_seq = 1;
	assert_int_equal(souk__sync_ack(st, ME, &ack, &ev), SOUK_OK);
	assert_null(ev.head);

	/* the same user's message from another device, same kind of id: a new message */
	uint8_t other[16];
	memset(other, 0xAB, sizeof(other));
	evb_message(&b, 2, "srv-10", "conv-e", 2, ME, other, "from my tablet");
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_ADDED), 1);
	assert_true(ev.head->msg->outgoing);
	assert_int_equal(ev.head->msg->status, SOUK_MESSAGE_SENT);
	souk__evlist_clear(&ev);
	souk__store_close(st);
}

static void test_receipts(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t conv = confirmed_conv(st, "conv-rc");
	evb b = {0};
	souk__evlist ev = {0};
	uint8_t cmids[3][16];
	const char *mids[3] = {"s1", "s2", "s3"};
	for (int i = 0; i < 3; i++) {
		memset(cmids[i], i + 1, 16);
		evb_message(&b, (uint64_t)i + 1, mids[i], "conv-rc", (uint64_t)i + 1, ME, cmids[i],
			    "mine");
	}
	evb_message(&b, 4, "s4", "conv-rc", 4, "agent-1", NULL, "an answer");
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	souk_conversation *c = NULL;
	assert_int_equal(souk__load_conversation(st, conv, &c), SOUK_OK);
	assert_int_equal(c->unread, 1);
	assert_int_equal(c->last_conv_seq, 4);
	souk_conversation_free(c);

	/* the agent delivered up to 3, read up to 2 */
	evb_receipt(&b, 5, "conv-rc", "agent-1", SOUK__V1__RECEIPT_KIND__RECEIPT_DELIVERED, 3);
	evb_receipt(&b, 6, "conv-rc", "agent-1", SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 2);
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_MESSAGE_UPDATED), 3 + 2);
	souk__evlist_clear(&ev);
	int64_t ids[3];
	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM messages WHERE conv_seq = ?1");
		sqlite3_bind_int(s, 1, i + 1);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		ids[i] = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
	}
	assert_int_equal(status_of(st, ids[0]), SOUK_MESSAGE_READ);
	assert_int_equal(status_of(st, ids[1]), SOUK_MESSAGE_READ);
	assert_int_equal(status_of(st, ids[2]), SOUK_MESSAGE_DELIVERED);
	/* an older receipt changes nothing */
	evb_receipt(&b, 7, "conv-rc", "agent-1", SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 1);
	apply(st, &b, &ev);
	assert_null(ev.head);

	/* the user read on another device: the position moves, unread drops */
	evb_receipt(&b, 8, "conv-rc", ME, SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 4);
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_UPDATED), 1);
	assert_int_equal(ev.head->conv->read_up_to, 4);
	assert_int_equal(ev.head->conv->unread, 0);
	assert_int_equal(ev.head->conv->peer_read_up_to, 2);
	souk__evlist_clear(&ev);
	/* ...and it is confirmed: nothing left to send */
	souk__read_mark *marks = NULL;
	size_t n = 9;
	assert_int_equal(souk__conv_unsent_reads(st, &marks, &n), SOUK_OK);
	assert_int_equal(n, 0);
	souk__read_marks_free(marks, n);
	souk__store_close(st);
}

static void test_mark_read_local(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t conv = confirmed_conv(st, "conv-m");
	evb b = {0};
	souk__evlist ev = {0};
	evb_message(&b, 1, "x1", "conv-m", 1, "agent", NULL, "q1");
	evb_message(&b, 2, "x2", "conv-m", 2, "agent", NULL, "q2");
	evb_message(&b, 3, "x3", "conv-m", 3, "agent", NULL, "q3");
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	int64_t second = scalar(st, "SELECT id FROM messages WHERE message_id = 'x2'");
	assert_int_equal(souk__conv_mark_read(st, conv, second, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_UPDATED), 1);
	assert_int_equal(ev.head->conv->unread, 1);
	souk__evlist_clear(&ev);
	souk__read_mark *marks = NULL;
	size_t n = 0;
	assert_int_equal(souk__conv_unsent_reads(st, &marks, &n), SOUK_OK);
	assert_int_equal(n, 1);
	assert_string_equal(marks[0].conv_server_id, "conv-m");
	assert_int_equal(marks[0].up_to, 2);
	souk__read_marks_free(marks, n);
	/* lower: no change, no event; 0: everything */
	int64_t first = scalar(st, "SELECT id FROM messages WHERE message_id = 'x1'");
	assert_int_equal(souk__conv_mark_read(st, conv, first, &ev), SOUK_OK);
	assert_null(ev.head);
	assert_int_equal(souk__conv_mark_read(st, conv, 0, &ev), SOUK_OK);
	assert_int_equal(ev.head->conv->read_up_to, 3);
	souk__evlist_clear(&ev);
	/* a message of another conversation, or no conversation */
	assert_int_equal(souk__conv_mark_read(st, conv + 77, 0, &ev), SOUK_ENOTFOUND);
	assert_int_equal(souk__conv_mark_read(st, conv + 77, first, &ev), SOUK_ENOTFOUND);
	souk__store_close(st);
}

static void test_support_merge(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	souk__evlist ev = {0};
	int64_t local = 0;
	/* created offline; a message waits for it */
	assert_int_equal(souk__conv_open_support(st, &local, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	int64_t again = 0;
	assert_int_equal(souk__conv_open_support(st, &again, &ev), SOUK_OK);
	assert_int_equal(again, local);
	int64_t pending = add_text(st, local, "written offline");
	int64_t unconfirmed = 0;
	assert_true(souk__conv_support_unconfirmed(st, &unconfirmed));
	souk__outbox_head *h = NULL;
	size_t n = 0;
	assert_int_equal(souk__outbox_heads(st, &h, &n), SOUK_OK);
	assert_null(h[0].conv_server_id); /* cannot be sent yet */
	souk__outbox_heads_free(h, n);

	/* meanwhile the stream brought the same conversation, created on another device */
	evb b = {0};
	evb_message(&b, 1, "t1", "conv-support", 1, ME, NULL, "from the phone");
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	int64_t other = 0;
	assert_int_equal(souk__conv_by_server_id(st, "conv-support", &other), SOUK_OK);
	assert_int_not_equal(other, local);

	Souk__V1__ConversationInfo ci = SOUK__V1__CONVERSATION_INFO__INIT;
	ci.conversation_id = "conv-support";
	ci.status = SOUK__V1__CONVERSATION_STATUS__CONVERSATION_OPEN;
	ci.last_conv_seq = 1;
	assert_int_equal(souk__sync_support_info(st, &ci, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_REMOVED), 1);
	int removed = 0, updated = 0;
	for (souk_event *e = ev.head; e; e = e->next) {
		if (e->type == SOUK_EVENT_CONVERSATION_REMOVED)
			removed = e->conv_id == other;
		if (e->type == SOUK_EVENT_CONVERSATION_UPDATED && e->conv->id == local)
			updated = e->conv->server_id &&
				  strcmp(e->conv->server_id, "conv-support") == 0;
	}
	assert_true(removed);
	assert_true(updated);
	souk__evlist_clear(&ev);
	/* one conversation, the app's id, with both messages; the pending one can go now */
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM conversations"), 1);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM messages WHERE conv_id = (SELECT id "
				    "FROM conversations WHERE server_id = 'conv-support')"),
			 2);
	assert_false(souk__conv_support_unconfirmed(st, &unconfirmed));
	assert_int_equal(souk__outbox_heads(st, &h, &n), SOUK_OK);
	assert_int_equal(h[0].msg_id, pending);
	assert_string_equal(h[0].conv_server_id, "conv-support");
	assert_int_equal(h[0].conv_id, local);
	souk__outbox_heads_free(h, n);
	souk__store_close(st);
}

/* ---- the snapshot: unread count and last message (schema 4) ---------------------------- */

/* The snapshot of `conv` agrees with the unread count and last message computed from the
 * messages themselves (the queries libsouk used before schema 4). Returns the snapshot's
 * unread count. */
static uint64_t snapshot_checked(souk__store *st, int64_t conv, int64_t want_last)
{
	souk_conversation *c = NULL;
	assert_int_equal(souk__load_conversation(st, conv, &c), SOUK_OK);
	sqlite3_stmt *s = souk__stmt(
		st, "SELECT (SELECT COUNT(*) FROM messages m WHERE m.conv_id = c.id AND "
		    "m.outgoing = 0 AND m.conv_seq > c.read_up_to), (SELECT m.id FROM messages m "
		    "WHERE m.conv_id = c.id ORDER BY (m.conv_seq IS NULL) DESC, IFNULL(m.conv_seq, "
		    "0) DESC, m.id DESC LIMIT 1) FROM conversations c WHERE c.id = ?1");
	assert_non_null(s);
	sqlite3_bind_int64(s, 1, conv);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	uint64_t unread = (uint64_t)sqlite3_column_int64(s, 0);
	int64_t last = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	assert_int_equal(souk_conversation_get_unread_count(c), unread);
	const souk_message *lm = souk_conversation_get_last_message(c);
	assert_int_equal(lm ? souk_message_get_id(lm) : 0, last);
	assert_int_equal(last, want_last);
	souk_conversation_free(c);
	return unread;
}

static int64_t id_of(souk__store *st, const char *message_id)
{
	sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM messages WHERE message_id = ?1");
	sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	int64_t id = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return id;
}

static void test_unread_and_last_message(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t conv = confirmed_conv(st, "conv-u");
	souk__evlist ev = {0};
	assert_int_equal(snapshot_checked(st, conv, 0), 0);

	/* a send: the pending message is the last one, nothing unread */
	int64_t p1 = add_text(st, conv, "first");
	assert_int_equal(snapshot_checked(st, conv, p1), 0);

	/* a sync page: the agent's messages are unread; the pending one stays last */
	evb b = {0};
	evb_message(&b, 1, "u1", "conv-u", 1, "agent", NULL, "a1");
	evb_message(&b, 2, "u2", "conv-u", 2, "agent", NULL, "a2");
	evb_message(&b, 3, "u3", "conv-u", 3, "agent", NULL, "a3");
	apply(st, &b, &ev);
	/* the CONVERSATION_UPDATED of the page carries the same snapshot */
	int seen = 0;
	for (souk_event *e = ev.head; e; e = e->next)
		if (e->type == SOUK_EVENT_CONVERSATION_UPDATED && e->conv->id == conv) {
			assert_int_equal(e->conv->unread, 3);
			assert_int_equal(souk_message_get_id(e->conv->last), p1);
			seen++;
		}
	assert_int_equal(seen, 1);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, p1), 3);

	/* the send is acked at conv_seq 4: now the newest by position */
	uint8_t cmid[16];
	cmid_of(st, p1, cmid);
	Souk__V1__SendAck ack = SOUK__V1__SEND_ACK__INIT;
	ack.client_msg_id.data = cmid;
	ack.client_msg_id.len = 16;
	ack.message_id = "u4";
	ack.seq = 4;
	ack.conv_seq = 4;
	assert_int_equal(souk__sync_ack(st, ME, &ack, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, p1), 3);

	/* the user reads up to a2: one unread left */
	assert_int_equal(souk__conv_mark_read(st, conv, id_of(st, "u2"), &ev), SOUK_OK);
	assert_int_equal(ev.head->conv->unread, 1);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, p1), 1);

	/* a live batch: the stream copy of the send (recognised), two more from the agent,
	 * and a read on the user's other device up to conv_seq 5 */
	evb_message(&b, 4, "u4", "conv-u", 4, ME, cmid, "first");
	evb_message(&b, 5, "u5", "conv-u", 5, "agent", NULL, "a5");
	evb_message(&b, 6, "u6", "conv-u", 6, "agent", NULL, "a6");
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	int64_t a6 = id_of(st, "u6");
	assert_int_equal(snapshot_checked(st, conv, a6), 3);
	evb_receipt(&b, 7, "conv-u", ME, SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 5);
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, a6), 1);

	/* a receipt of the agent reading ours changes nothing here */
	evb_receipt(&b, 8, "conv-u", "agent", SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 6);
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, a6), 1);

	/* a message the server places below the read position is not unread */
	evb_message(&b, 9, "u7", "conv-u", 2, "agent", NULL, "late");
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, a6), 1);

	/* a second send, refused for good: failed messages stay last, then deleted */
	int64_t p2 = add_text(st, conv, "second");
	assert_int_equal(snapshot_checked(st, conv, p2), 1);
	assert_int_equal(souk__outbox_fail(st, p2, 3, "refused", &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, p2), 1);
	assert_int_equal(souk__outbox_delete_failed(st, p2, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, a6), 1);

	/* everything read */
	assert_int_equal(souk__conv_mark_read(st, conv, 0, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, conv, a6), 0);
	souk__store_close(st);
}

/* Two rows of the same support conversation merged: the unread count covers both. */
static void test_unread_after_support_merge(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	souk__evlist ev = {0};
	int64_t local = 0;
	assert_int_equal(souk__conv_open_support(st, &local, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	int64_t pending = add_text(st, local, "offline");
	evb b = {0};
	evb_message(&b, 1, "s1", "conv-s", 1, "agent", NULL, "hello");
	evb_message(&b, 2, "s2", "conv-s", 2, "agent", NULL, "anyone?");
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	int64_t other = 0;
	assert_int_equal(souk__conv_by_server_id(st, "conv-s", &other), SOUK_OK);
	assert_int_equal(snapshot_checked(st, other, id_of(st, "s2")), 2);
	assert_int_equal(snapshot_checked(st, local, pending), 0);
	Souk__V1__ConversationInfo ci = SOUK__V1__CONVERSATION_INFO__INIT;
	ci.conversation_id = "conv-s";
	ci.status = SOUK__V1__CONVERSATION_STATUS__CONVERSATION_OPEN;
	assert_int_equal(souk__sync_support_info(st, &ci, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(snapshot_checked(st, local, pending), 2);
	souk__store_close(st);
}

static void test_paging(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t conv = confirmed_conv(st, "conv-p");
	evb b = {0};
	souk__evlist ev = {0};
	const char *ids[] = {"p1", "p2", "p3", "p4", "p5"};
	for (int i = 0; i < 5; i++)
		evb_message(&b, (uint64_t)i + 1, ids[i], "conv-p", (uint64_t)i + 1, "agent", NULL,
			    ids[i]);
	apply(st, &b, &ev);
	souk__evlist_clear(&ev);
	int64_t pend1 = add_text(st, conv, "pending 1");
	int64_t pend2 = add_text(st, conv, "pending 2");
	/* display order: p1..p5 (server order), then the pending ones */
	souk_message_list *l = NULL;
	assert_int_equal(souk__list_messages(st, conv, 0, SOUK_PAGE_BEFORE, 3, &l), SOUK_OK);
	assert_int_equal(l->n, 3); /* the newest three, oldest first */
	assert_string_equal(l->items[0]->text, "p5");
	assert_int_equal(l->items[1]->id, pend1);
	assert_int_equal(l->items[2]->id, pend2);
	int64_t anchor = l->items[0]->id;
	souk_message_list_free(l);
	assert_int_equal(souk__list_messages(st, conv, anchor, SOUK_PAGE_BEFORE, 3, &l), SOUK_OK);
	assert_int_equal(l->n, 3);
	assert_string_equal(l->items[0]->text, "p2");
	assert_string_equal(l->items[2]->text, "p4");
	souk_message_list_free(l);
	assert_int_equal(souk__list_messages(st, conv, 0, SOUK_PAGE_AFTER, 2, &l), SOUK_OK);
	assert_string_equal(l->items[0]->text, "p1");
	assert_string_equal(l->items[1]->text, "p2");
	anchor = l->items[1]->id;
	souk_message_list_free(l);
	assert_int_equal(souk__list_messages(st, conv, anchor, SOUK_PAGE_AFTER, 100, &l), SOUK_OK);
	assert_int_equal(l->n, 5);
	assert_string_equal(l->items[0]->text, "p3");
	assert_int_equal(l->items[4]->id, pend2);
	souk_message_list_free(l);
	assert_int_equal(souk__list_messages(st, conv, pend2, SOUK_PAGE_AFTER, 10, &l), SOUK_OK);
	assert_int_equal(l->n, 0);
	souk_message_list_free(l);
	/* an anchor of another conversation */
	assert_int_equal(souk__list_messages(st, conv + 1, pend2, SOUK_PAGE_AFTER, 10, &l),
			 SOUK_ENOTFOUND);
	/* the last message of the conversation is the newest pending one */
	souk_conversation *c = NULL;
	assert_int_equal(souk__load_conversation(st, conv, &c), SOUK_OK);
	assert_int_equal(c->last->id, pend2);
	souk_conversation_free(c);
	souk__store_close(st);
}

static void test_bind_user(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	int64_t conv = confirmed_conv(st, "conv-u");
	int64_t id = add_text(st, conv, "before the first login");
	souk_message *m = NULL;
	assert_int_equal(souk__load_message(st, id, &m), SOUK_OK);
	assert_null(m->sender_id);
	souk_message_free(m);
	assert_int_equal(souk__store_bind_user(st, "alice"), SOUK_OK);
	assert_int_equal(souk__load_message(st, id, &m), SOUK_OK);
	assert_string_equal(m->sender_id, "alice");
	souk_message_free(m);
	assert_int_equal(souk__store_bind_user(st, "alice"), SOUK_OK);
	assert_int_equal(souk__store_bind_user(st, "mallory"), SOUK_EUSER);
	souk__store_close(st);
}

/* ---- schema 3: the support conversation from the stream, pushes, contexts ---------------- */

/* ConversationInfo.controller/assignee are not checked by souk_wire: bytes that are not
 * UTF-8 are dropped (the getters promise UTF-8), and the event still applies (found by
 * fuzz_sdk_events). */
static void test_conversation_info_not_utf8(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	souk__evlist ev = {0};
	evb b = {0};
	Souk__V1__ConversationInfo *ci = evb_conversation(&b, 1, "conv-x", 0);
	ci->controller = "\x9c\x9a\x8c\x8f";
	ci->assignee = "agent-\xff";
	souk__apply_result res = apply(st, &b, &ev);
	assert_int_equal(res.applied, 1);
	assert_int_equal(res.last_applied, 1);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_UPDATED), 1);
	assert_null(souk_conversation_get_controller(ev.head->conv));
	assert_null(souk_conversation_get_assignee(ev.head->conv));
	souk__evlist_clear(&ev);
	souk__store_close(st);
}

static void test_support_from_stream_kind(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	souk__evlist ev = {0};
	int64_t local = 0, unconfirmed = 0;
	assert_int_equal(souk__conv_open_support(st, &local, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	int64_t pending = add_text(st, local, "written offline");

	/* the server names the support conversation in the stream (kind SUPPORT): the local
	 * one gets its server id at once, without a merge */
	evb b = {0};
	Souk__V1__ConversationInfo *ci = evb_conversation(
		&b, 1, "conv-s", SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT);
	ci->controller = "bot";
	souk__apply_result res = apply(st, &b, &ev);
	assert_int_equal(res.conversations, 1);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_REMOVED), 0);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_UPDATED), 1);
	const souk_conversation *cv = ev.head->conv;
	assert_int_equal(cv->id, local);
	assert_string_equal(souk_conversation_get_server_id(cv), "conv-s");
	assert_int_equal(souk_conversation_get_kind(cv), SOUK_CONVERSATION_KIND_SUPPORT);
	assert_string_equal(souk_conversation_get_controller(cv), "bot");
	assert_null(souk_conversation_get_assignee(cv));
	souk__evlist_clear(&ev);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM conversations"), 1);
	assert_false(souk__conv_support_unconfirmed(st, &unconfirmed));
	souk__outbox_head *h = NULL;
	size_t n = 0;
	assert_int_equal(souk__outbox_heads(st, &h, &n), SOUK_OK);
	assert_int_equal(h[0].msg_id, pending);
	assert_string_equal(h[0].conv_server_id, "conv-s");
	souk__outbox_heads_free(h, n);

	/* assignment and handoff arrive as new snapshots; an empty assignee clears it */
	ci = evb_conversation(&b, 2, "conv-s", SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT);
	ci->controller = "desk";
	ci->assignee = "agent-7";
	apply(st, &b, &ev);
	assert_string_equal(souk_conversation_get_controller(ev.head->conv), "desk");
	assert_string_equal(souk_conversation_get_assignee(ev.head->conv), "agent-7");
	souk__evlist_clear(&ev);
	ci = evb_conversation(&b, 3, "conv-s", 0); /* a server that does not send kind */
	ci->controller = "desk";
	apply(st, &b, &ev);
	assert_null(souk_conversation_get_assignee(ev.head->conv));
	assert_int_equal(souk_conversation_get_kind(ev.head->conv), SOUK_CONVERSATION_KIND_SUPPORT);
	souk__evlist_clear(&ev);

	/* the late answer to OpenConversation changes nothing */
	Souk__V1__ConversationInfo open = SOUK__V1__CONVERSATION_INFO__INIT;
	open.conversation_id = "conv-s";
	open.kind = SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT;
	open.controller = "desk";
	assert_int_equal(souk__sync_support_info(st, &open, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONVERSATION_REMOVED), 0);
	souk__evlist_clear(&ev);
	assert_int_equal(scalar(st, "SELECT COUNT(*) FROM conversations"), 1);

	/* a device that never opened it learns it from the stream alone */
	souk__store *other = open_store(new_path(), 0);
	ci = evb_conversation(&b, 1, "conv-s", SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT);
	apply(other, &b, &ev);
	int64_t id = ev.head->conv->id;
	assert_true(souk_conversation_is_support(ev.head->conv));
	souk__evlist_clear(&ev);
	int64_t opened = 0;
	assert_int_equal(souk__conv_open_support(other, &opened, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(opened, id);
	souk__store_close(other);
	souk__store_close(st);
}

static void assert_same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b); /* both NULL */
	else
		assert_string_equal(a, b);
}

/* A MESSAGE_ADDED snapshot of a synced message is built from the event (sync.c,
 * new_snapshot), not read back: it must be what reading the row gives. */
static void assert_snapshot_is_row(souk__store *st, const souk_message *e)
{
	souk_message *m = NULL;
	assert_int_equal(souk__load_message(st, e->id, &m), SOUK_OK);
	assert_int_equal(e->conv_id, m->conv_id);
	assert_same_str(e->server_id, m->server_id);
	assert_string_equal(e->cmid_hex, m->cmid_hex);
	assert_true(e->conv_seq == m->conv_seq);
	assert_same_str(e->sender_id, m->sender_id);
	assert_same_str(e->sender_name, m->sender_name);
	assert_same_str(e->sender_avatar_url, m->sender_avatar_url);
	assert_int_equal(e->sender_kind, m->sender_kind);
	assert_int_equal(e->outgoing, m->outgoing);
	assert_int_equal(e->status, m->status);
	assert_int_equal(e->content_kind, m->content_kind);
	assert_same_str(e->text, m->text);
	assert_int_equal(e->failure_code, m->failure_code);
	assert_same_str(e->failure_reason, m->failure_reason);
	assert_int_equal(e->created_ms, m->created_ms);
	assert_int_equal(e->server_time_ms, m->server_time_ms);
	assert_int_equal(!e->content, !m->content);
	if (e->content) {
		uint8_t a[1024], b[1024];
		size_t la = protobuf_c_message_get_packed_size(&e->content->pb->base);
		size_t lb = protobuf_c_message_get_packed_size(&m->content->pb->base);
		assert_true(la <= sizeof(a) && la == lb);
		protobuf_c_message_pack(&e->content->pb->base, a);
		protobuf_c_message_pack(&m->content->pb->base, b);
		assert_memory_equal(a, b, la);
	}
	souk_message_free(m);
}

static void test_sync_snapshot_is_row(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	static const uint8_t cmid[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	evb b = {0};
	/* an agent's message with a name and an avatar; one without either */
	evb_message(&b, 1, "m1", "c1", 1, "agent-1", NULL, "hello");
	b.msg[0].sender_name = "Ann";
	b.msg[0].sender_avatar_url = "https://cdn.example.com/ann.png";
	b.msg[0].sender_device_id = "dev-a";
	evb_message(&b, 2, "m2", "c1", 2, "agent-1", NULL, "again");
	b.msg[1].server_time_ms = 0; /* the event's time then */
	b.ev[1].server_time_ms = 4242;
	/* the peer has read up to 2: ours from another device is READ at once */
	evb_receipt(&b, 3, "c1", "agent-1", SOUK__V1__RECEIPT_KIND__RECEIPT_READ, 2);
	evb_message(&b, 4, "m3", "c1", 3, ME, cmid, "from my phone");
	/* rich content, another conversation */
	evb_message(&b, 5, "m4", "c2", 1, "bot", NULL, "x");
	souk__v1__product_card__init(&b.product[0]);
	b.product[0].product_id = "sku-1";
	b.product[0].title = "Trail shoe";
	b.content[4].kind_case = SOUK__V1__CONTENT__KIND_PRODUCT;
	b.content[4].product = &b.product[0];
	souk__evlist ev = {0};
	souk__apply_result res = apply(st, &b, &ev);
	assert_int_equal(res.applied, 5);
	int n = 0;
	for (souk_event *e = ev.head; e; e = e->next) {
		if (e->type != SOUK_EVENT_MESSAGE_ADDED)
			continue;
		assert_non_null(e->msg);
		assert_snapshot_is_row(st, e->msg);
		n++;
	}
	assert_int_equal(n, 4);
	souk__evlist_clear(&ev);
	souk__store_close(st);
}

static void test_push_applied_once(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	evb b = {0};
	souk__evlist ev = {0};
	Souk__V1__InAppPush *p = evb_push(&b, 1, "push_1");
	p->title = "Summer sale";
	p->body = "-30% on sneakers";
	p->deep_link = "shop://sale";
	souk__v1__product_card__init(&b.product[0]);
	b.product[0].product_id = "sku-1";
	b.product[0].title = "Trail shoe";
	p->product = &b.product[0];
	evb_message(&b, 2, "m1", "conv-x", 1, "agent", NULL, "hi");
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_PUSH_RECEIVED), 1);
	const souk_push *got = ev.head->push;
	assert_string_equal(souk_push_get_id(got), "push_1");
	assert_string_equal(souk_push_get_title(got), "Summer sale");
	assert_string_equal(souk_push_get_body(got), "-30% on sneakers");
	assert_null(souk_push_get_image_url(got));
	assert_string_equal(souk_push_get_deep_link(got), "shop://sale");
	assert_int_equal(souk_push_get_server_time_ms(got), 7001);
	assert_string_equal(souk_content_get_product_title(souk_push_get_product(got)),
			    "Trail shoe");
	souk_push *copy = NULL;
	assert_int_equal(souk_push_copy(&copy, got), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_string_equal(souk_content_get_product_id(souk_push_get_product(copy)), "sku-1");
	souk_push_free(copy);

	/* the same events again (a restored position): skipped */
	assert_int_equal(souk__state_set_u64(st, "last_applied_seq", 0), SOUK_OK);
	p = evb_push(&b, 1, "push_1");
	p->title = "Summer sale";
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_PUSH_RECEIVED), 0);
	souk__evlist_clear(&ev);
	p = evb_push(&b, 2, "push_2");
	p->body = "second";
	apply(st, &b, &ev);
	assert_int_equal(count_events(&ev, SOUK_EVENT_PUSH_RECEIVED), 1);
	souk__evlist_clear(&ev);

	souk_push_list *l = NULL;
	assert_int_equal(souk__list_pushes(st, 0, &l), SOUK_OK);
	assert_int_equal(souk_push_list_count(l), 2);
	assert_string_equal(souk_push_get_id(souk_push_list_get(l, 0)), "push_2"); /* newest */
	assert_string_equal(souk_push_get_id(souk_push_list_get(l, 1)), "push_1");
	assert_null(souk_push_list_get(l, 2));
	souk_push_list_free(l);
	souk__store_close(st);
}

static int64_t context_revision(souk__store *st, int64_t conv)
{
	souk__context_pending *p = NULL;
	size_t n = 0;
	int64_t rev = 0;
	assert_int_equal(souk__context_pending_list(st, &p, &n), SOUK_OK);
	for (size_t i = 0; i < n; i++)
		if (p[i].conv_id == conv)
			rev = p[i].revision;
	souk__context_pending_free(p, n);
	return rev;
}

static void test_context_queue(void **state)
{
	(void)state;
	souk__store *st = open_store(new_path(), 0);
	const uint8_t a[] = {0x2a, 0x00}, b2[] = {0x2a, 0x01}; /* opaque to the queue */
	souk__evlist ev = {0};
	assert_int_equal(souk__context_put(st, 99, a, sizeof(a), 1), SOUK_ENOTFOUND);
	int64_t local = 0;
	assert_int_equal(souk__conv_open_support(st, &local, &ev), SOUK_OK);
	souk__evlist_clear(&ev);
	assert_int_equal(souk__context_put(st, local, a, sizeof(a), 1), SOUK_OK);
	souk__context_pending *p = NULL;
	size_t n = 0;
	assert_int_equal(souk__context_pending_list(st, &p, &n), SOUK_OK);
	assert_int_equal(n, 1);
	assert_null(p[0].conv_server_id); /* waits for the server to know the conversation */
	souk__context_pending_free(p, n);
	int64_t conv = confirmed_conv(st, "conv-c");
	assert_int_equal(conv, local);
	int64_t r1 = context_revision(st, conv);
	/* replaced before the answer: one pending, the newer revision */
	assert_int_equal(souk__context_put(st, conv, b2, sizeof(b2), 2), SOUK_OK);
	int64_t r2 = context_revision(st, conv);
	assert_true(r2 > r1);
	assert_int_equal(souk__context_pending_list(st, &p, &n), SOUK_OK);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].conv_server_id, "conv-c");
	assert_memory_equal(p[0].blob, b2, sizeof(b2));
	souk__context_pending_free(p, n);
	/* the answer to the older one confirms nothing */
	assert_int_equal(souk__context_confirm(st, conv, r1, &ev), SOUK_OK);
	assert_null(ev.head);
	assert_int_equal(souk__context_confirm(st, conv, r2, &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONTEXT_UPDATED), 1);
	assert_int_equal(ev.head->conv_id, conv);
	souk__evlist_clear(&ev);
	assert_int_equal(context_revision(st, conv), 0);
	/* a transient refusal defers; a permanent one drops it */
	assert_int_equal(souk__context_put(st, conv, a, sizeof(a), 3), SOUK_OK);
	int64_t r3 = context_revision(st, conv);
	assert_int_equal(souk__context_defer(st, conv, r3, 123456), SOUK_OK);
	assert_int_equal(souk__context_pending_list(st, &p, &n), SOUK_OK);
	assert_int_equal(p[0].attempts, 1);
	assert_int_equal(p[0].next_attempt_ms, 123456);
	souk__context_pending_free(p, n);
	assert_int_equal(souk__context_fail(st, conv, r3, 304, "not a participant", &ev), SOUK_OK);
	assert_int_equal(count_events(&ev, SOUK_EVENT_CONTEXT_FAILED), 1);
	assert_int_equal(ev.head->error, SOUK_ENOTFOUND);
	assert_int_equal(ev.head->wire_code, 304);
	souk__evlist_clear(&ev);
	assert_int_equal(context_revision(st, conv), 0);
	souk__store_close(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_fresh_and_reopen),
		cmocka_unit_test(test_migrate_from_v1),
		cmocka_unit_test(test_newer_schema_refused),
		cmocka_unit_test(test_wrong_key_and_not_a_database),
		cmocka_unit_test(test_plain_sqlite_file_refused),
		cmocka_unit_test(test_wipe_files),
		cmocka_unit_test(test_outbox_order_per_conversation),
		cmocka_unit_test(test_outbox_add_is_atomic),
		cmocka_unit_test(test_apply_skips_applied_and_stops_at_gap),
		cmocka_unit_test(test_reconcile_ack_first_then_event),
		cmocka_unit_test(test_reconcile_event_first_then_ack),
		cmocka_unit_test(test_receipts),
		cmocka_unit_test(test_mark_read_local),
		cmocka_unit_test(test_support_merge),
		cmocka_unit_test(test_unread_and_last_message),
		cmocka_unit_test(test_unread_after_support_merge),
		cmocka_unit_test(test_paging),
		cmocka_unit_test(test_bind_user),
		cmocka_unit_test(test_support_from_stream_kind),
		cmocka_unit_test(test_conversation_info_not_utf8),
		cmocka_unit_test(test_push_applied_once),
		cmocka_unit_test(test_sync_snapshot_is_row),
		cmocka_unit_test(test_context_queue),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
