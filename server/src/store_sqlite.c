/*
 * store_sqlite.c — the embedded SQLite backend of the store interface (store.h).
 *
 * Owns: the database file DATA_DIR/souk.db, its schema and migrations, and every SQL
 * statement soukd runs on it (prepared once, parameters always bound).
 *
 * Durability: WAL with synchronous=FULL, so COMMIT returns only after the WAL is fsynced.
 * soukd acks nothing before commit() returns 0. soukctl may open the same file while soukd
 * runs (WAL readers/writers plus busy_timeout).
 *
 * Sequences: a user's head is the last row of its `events` range and a conversation's last
 * conv_seq the last entry of `messages_conv`; the next one is read from there inside the
 * same transaction that inserts the row, which keeps both sequences dense and durable
 * together (events and messages are never deleted). No counter row is rewritten per send:
 * schema 2 kept `users.head_seq` and `conversations.last_conv_seq`, two more B-tree pages
 * written per message (docs/performance.md).
 */
#include <openssl/rand.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "payload.h"
#include "rest.h"
#include "store.h"
#include "store_sqlite_internal.h"
#include "util.h"
#include "wal_gather.h"

#define SCHEMA_VERSION 3

static const char *const MIGRATIONS[] = {
	/* version 1 */
	"CREATE TABLE apps("
	" app_id TEXT PRIMARY KEY, name TEXT NOT NULL, api_key_hash TEXT NOT NULL,"
	" audience TEXT NOT NULL DEFAULT '', issuer TEXT NOT NULL DEFAULT '',"
	" created_ms INTEGER NOT NULL);"
	"CREATE TABLE app_keys("
	" app_id TEXT NOT NULL, kid TEXT NOT NULL, alg TEXT NOT NULL, key BLOB NOT NULL,"
	" active INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL,"
	" PRIMARY KEY(app_id, kid)) WITHOUT ROWID;"
	"CREATE TABLE users("
	" app_id TEXT NOT NULL, user_id TEXT NOT NULL, head_seq INTEGER NOT NULL DEFAULT 0,"
	" created_ms INTEGER NOT NULL, PRIMARY KEY(app_id, user_id)) WITHOUT ROWID;"
	"CREATE TABLE devices("
	" app_id TEXT NOT NULL, user_id TEXT NOT NULL, device_id TEXT NOT NULL,"
	" platform INTEGER NOT NULL DEFAULT 0, sdk_version TEXT NOT NULL DEFAULT '',"
	" cursor INTEGER NOT NULL DEFAULT 0, last_seen_ms INTEGER NOT NULL,"
	" PRIMARY KEY(app_id, user_id, device_id)) WITHOUT ROWID;"
	"CREATE TABLE conversations("
	" conv_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, kind INTEGER NOT NULL,"
	" owner_user_id TEXT NOT NULL, status INTEGER NOT NULL,"
	" last_conv_seq INTEGER NOT NULL DEFAULT 0, created_ms INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX conversations_support ON conversations(app_id, owner_user_id)"
	" WHERE kind = 1;"
	"CREATE TABLE participants("
	" conv_id TEXT NOT NULL, user_id TEXT NOT NULL, kind INTEGER NOT NULL,"
	" read_conv_seq INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(conv_id, user_id)) WITHOUT ROWID;"
	"CREATE TABLE messages("
	" message_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, conv_id TEXT NOT NULL,"
	" conv_seq INTEGER NOT NULL, sender_id TEXT NOT NULL, sender_kind INTEGER NOT NULL,"
	" sender_device_id TEXT NOT NULL DEFAULT '', client_msg_id BLOB,"
	" sender_seq INTEGER NOT NULL DEFAULT 0, server_time_ms INTEGER NOT NULL,"
	" content BLOB NOT NULL);"
	"CREATE UNIQUE INDEX messages_dedup ON messages(app_id, sender_id, client_msg_id)"
	" WHERE client_msg_id IS NOT NULL;"
	"CREATE UNIQUE INDEX messages_conv ON messages(conv_id, conv_seq);"
	"CREATE TABLE events("
	" app_id TEXT NOT NULL, user_id TEXT NOT NULL, seq INTEGER NOT NULL,"
	" time_ms INTEGER NOT NULL, body BLOB NOT NULL,"
	" PRIMARY KEY(app_id, user_id, seq)) WITHOUT ROWID;",
	/* version 2: agent backend — switchboard, context, webhooks */
	"ALTER TABLE apps ADD COLUMN default_integration TEXT NOT NULL DEFAULT 'desk';"
	"ALTER TABLE conversations ADD COLUMN controller TEXT NOT NULL DEFAULT 'desk';"
	"ALTER TABLE conversations ADD COLUMN assignee TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE conversations ADD COLUMN context BLOB;"
	"ALTER TABLE conversations ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE messages ADD COLUMN sender_name TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE messages ADD COLUMN sender_avatar_url TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE webhook_targets("
	" target_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, integration TEXT NOT NULL,"
	" url TEXT NOT NULL, secrets TEXT NOT NULL, events TEXT NOT NULL,"
	" active INTEGER NOT NULL DEFAULT 1, created_ms INTEGER NOT NULL);"
	"CREATE INDEX webhook_targets_app ON webhook_targets(app_id, integration);"
	"CREATE TABLE webhook_events("
	" event_id TEXT PRIMARY KEY, app_id TEXT NOT NULL, conv_id TEXT NOT NULL,"
	" type TEXT NOT NULL, body TEXT NOT NULL, created_ms INTEGER NOT NULL);"
	"CREATE TABLE webhook_deliveries("
	" delivery_id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,"
	" target_id TEXT NOT NULL, app_id TEXT NOT NULL, conv_id TEXT NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,"
	" next_attempt_ms INTEGER NOT NULL, first_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	" last_status INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',"
	" done_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX webhook_deliveries_due ON webhook_deliveries(state, next_attempt_ms);"
	"CREATE INDEX webhook_deliveries_order ON webhook_deliveries(target_id, conv_id, state,"
	" delivery_id);"
	"CREATE INDEX webhook_deliveries_app ON webhook_deliveries(app_id, state, delivery_id);",
	/* version 3: sequences are read from the rows that carry them (see "Sequences") */
	("ALTER TABLE users DROP COLUMN head_seq;"
	 "ALTER TABLE conversations DROP COLUMN last_conv_seq;"),
};
_Static_assert(sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]) == SCHEMA_VERSION,
	       "one migration per schema version");

enum {
	Q_MSG_DEDUP,
	Q_CONV_GET,
	Q_CONV_SUPPORT,
	Q_CONV_INSERT,
	Q_PART_LIST,
	Q_PART_GET,
	Q_PART_INSERT,
	Q_PART_SET_READ,
	Q_USER_ENSURE,
	Q_USER_HEAD,
	Q_EVENT_INSERT,
	Q_EVENT_READ,
	Q_MSG_INSERT,
	Q_DEVICE_UPSERT,
	Q_DEVICE_ACK,
	Q_APP_GET,
	Q_APP_KEYS,
	Q_APP_INSERT,
	Q_KEY_INSERT,
	Q_KEY_REVOKE,
	Q_APP_LIST,
	Q_COUNT
};
_Static_assert((int)Q_COUNT <= (int)SQS_Q_MAX, "raise SQS_Q_MAX");

static const char *const SQL[Q_COUNT] = {
	[Q_MSG_DEDUP] =
		"SELECT message_id, sender_seq, conv_seq, server_time_ms, conv_id FROM messages"
		" WHERE app_id = ?1 AND sender_id = ?2 AND client_msg_id = ?3",
	[Q_CONV_GET] = "SELECT app_id, status, coalesce((SELECT conv_seq FROM messages"
		       " WHERE conv_id = ?1 ORDER BY conv_seq DESC LIMIT 1), 0), created_ms,"
		       " owner_user_id, controller, assignee, kind FROM conversations"
		       " WHERE conv_id = ?1",
	[Q_CONV_SUPPORT] = "SELECT conv_id FROM conversations"
			   " WHERE app_id = ?1 AND owner_user_id = ?2 AND kind = 1",
	[Q_CONV_INSERT] = "INSERT INTO conversations(conv_id, app_id, kind, owner_user_id, status,"
			  " created_ms, updated_ms, controller) SELECT ?1, ?2, ?3,"
			  " ?4, ?5, ?6, ?6, default_integration FROM apps WHERE app_id = ?2",
	[Q_PART_LIST] =
		"SELECT user_id, kind FROM participants WHERE conv_id = ?1 ORDER BY user_id",
	[Q_PART_GET] = "SELECT kind, read_conv_seq FROM participants"
		       " WHERE conv_id = ?1 AND user_id = ?2",
	[Q_PART_INSERT] = "INSERT INTO participants(conv_id, user_id, kind) VALUES(?1, ?2, ?3)",
	[Q_PART_SET_READ] = "UPDATE participants SET read_conv_seq = ?3"
			    " WHERE conv_id = ?1 AND user_id = ?2",
	[Q_USER_ENSURE] = "INSERT OR IGNORE INTO users(app_id, user_id, created_ms)"
			  " VALUES(?1, ?2, ?3)",
	/* the user's head: the last row of its events range (one seek, on the page the next
	 * event goes to) */
	[Q_USER_HEAD] = "SELECT seq FROM events WHERE app_id = ?1 AND user_id = ?2"
			" ORDER BY seq DESC LIMIT 1",
	[Q_EVENT_INSERT] = "INSERT INTO events(app_id, user_id, seq, time_ms, body)"
			   " VALUES(?1, ?2, ?3, ?4, ?5)",
	[Q_EVENT_READ] = "SELECT seq, body FROM events WHERE app_id = ?1 AND user_id = ?2"
			 " AND seq > ?3 ORDER BY seq LIMIT ?4",
	[Q_MSG_INSERT] =
		"INSERT INTO messages(message_id, app_id, conv_id, conv_seq, sender_id,"
		" sender_kind, sender_device_id, client_msg_id, sender_seq, server_time_ms,"
		" content, sender_name, sender_avatar_url)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	[Q_DEVICE_UPSERT] =
		"INSERT INTO devices(app_id, user_id, device_id, platform, sdk_version,"
		" cursor, last_seen_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
		" ON CONFLICT(app_id, user_id, device_id) DO UPDATE SET"
		" platform = excluded.platform, sdk_version = excluded.sdk_version,"
		" cursor = max(cursor, excluded.cursor), last_seen_ms = excluded.last_seen_ms",
	[Q_DEVICE_ACK] = "UPDATE devices SET cursor = max(cursor, ?4), last_seen_ms = ?5"
			 " WHERE app_id = ?1 AND user_id = ?2 AND device_id = ?3",
	[Q_APP_GET] = "SELECT name, audience, issuer FROM apps WHERE app_id = ?1",
	[Q_APP_KEYS] = "SELECT kid, alg, key FROM app_keys WHERE app_id = ?1 AND active = 1"
		       " ORDER BY created_ms DESC",
	[Q_APP_INSERT] =
		"INSERT INTO apps(app_id, name, api_key_hash, audience, issuer, created_ms)"
		" VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_KEY_INSERT] = "INSERT INTO app_keys(app_id, kid, alg, key, active, created_ms)"
			 " VALUES(?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT(app_id, kid) DO UPDATE SET"
			 " alg = excluded.alg, key = excluded.key, active = 1,"
			 " created_ms = excluded.created_ms",
	[Q_KEY_REVOKE] = "UPDATE app_keys SET active = 0 WHERE app_id = ?1 AND kid = ?2",
	[Q_APP_LIST] = "SELECT app_id FROM apps ORDER BY created_ms",
};

static sqlite3_stmt *Q(souk_store *s, int which)
{
	sqlite3_stmt *st = ((sqlite_store *)s)->q[which];
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		souk_log(SOUK_LOG_ERROR, "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

void sqs_txt(sqlite3_stmt *st, int i, const char *v)
{
	sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

void sqs_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);
	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* A step that must produce SQLITE_DONE. */
int sqs_step_done(souk_store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		souk_log(SOUK_LOG_ERROR, "sqlite step: %s",
			 sqlite3_errmsg(((sqlite_store *)s)->db));
		return -1;
	}
	return 0;
}

void store_appends_clear(store_appends *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].event.data);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

int store_appends_push(store_appends *a, const char *user_id, uint64_t seq, store_blob ev)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4;
		store_appended *v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -1;
		a->v = v;
		a->cap = cap;
	}
	store_appended *e = &a->v[a->n++];
	snprintf(e->user_id, sizeof(e->user_id), "%s", user_id);
	e->seq = seq;
	e->event = ev;
	return 0;
}

void store_events_free(store_events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].data);
	free(e->v);
	free(e->seq);
	memset(e, 0, sizeof(*e));
}

void store_app_clear(store_app *a)
{
	for (size_t i = 0; i < a->n_keys; i++)
		free(a->keys[i].key);
	memset(a, 0, sizeof(*a));
}

/* ---- transactions ------------------------------------------------------------------ */

/* Transaction control runs once per group (BEGIN, COMMIT) or once per operation
 * (SAVEPOINT, RELEASE): prepared once at open instead of parsed by sqlite3_exec each time. */
static const char *const TX_SQL[SQS_TX_COUNT] = {
	[SQS_TX_BEGIN] = "BEGIN IMMEDIATE", [SQS_TX_COMMIT] = "COMMIT",
	[SQS_TX_ROLLBACK] = "ROLLBACK",	    [SQS_TX_SAVEPOINT] = "SAVEPOINT op",
	[SQS_TX_RELEASE] = "RELEASE op",    [SQS_TX_ROLLBACK_TO] = "ROLLBACK TO op",
};

static int tx(souk_store *s, int which)
{
	sqlite_store *ss = (sqlite_store *)s;
	sqlite3_stmt *st = ss->tx[which];
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		souk_log(SOUK_LOG_ERROR, "sqlite %s: %s", TX_SQL[which], sqlite3_errstr(rc));
		return -1;
	}
	return 0;
}

static int sq_begin(souk_store *s)
{
	return tx(s, SQS_TX_BEGIN);
}

static int sq_commit(souk_store *s)
{
	return tx(s, SQS_TX_COMMIT);
}

/* COMMIT with the WAL's fdatasync deferred (wal_gather.h): SQLite still writes the frames
 * and publishes them as in any commit; the WAL sync inside COMMIT only writes. */
static int sq_commit_deferred(souk_store *s, int *sync_fd)
{
	wal_gather_defer_begin();
	int rc = tx(s, SQS_TX_COMMIT);
	int fd = wal_gather_defer_end();
	*sync_fd = rc == 0 ? fd : -1;
	return rc;
}

static void sq_rollback(souk_store *s)
{
	if (!sqlite3_get_autocommit(((sqlite_store *)s)->db))
		tx(s, SQS_TX_ROLLBACK);
}

static int sq_savepoint(souk_store *s)
{
	return tx(s, SQS_TX_SAVEPOINT);
}

static void sq_release(souk_store *s, int ok)
{
	if (!ok)
		tx(s, SQS_TX_ROLLBACK_TO);
	tx(s, SQS_TX_RELEASE);
}

/*
 * Checkpoints. SQLite's automatic checkpoint runs inside COMMIT every 1,000 frames: after
 * nearly every group, delaying its acks, and copying the same hot pages (a user's last
 * events leaf, a conversation's messages leaf) to the database once per group. Instead the
 * WAL grows to CHECKPOINT_FRAMES (4 KiB pages) and is then checkpointed by a second
 * connection on a thread of its own (PASSIVE: it never blocks the writer), so the storage
 * thread goes on committing while the bulk of the pages is copied and the database file
 * fsynced. Frames committed during a round are copied by further, shorter rounds (at most
 * eight) until fewer than CHECKPOINT_FRAMES / 512 remain; those the storage thread copies
 * itself, between two groups (sq_maintain), which lets the next commit start the WAL over
 * (SQLite restarts the WAL only when every frame is in the database): the WAL stays near
 * CHECKPOINT_FRAMES plus a few rounds' worth of commits. That copy stalls every send
 * queued behind it: with a tail of up to 1,024 frames (4 rounds) it was the p99 at half
 * the durable rate; up to 128 frames (8 rounds) took the p99 from 58-65 ms to 31-44 ms.
 * CHECKPOINT_FRAMES is 65,536 (256 MiB): at the durable rate each send writes ~5 frames of
 * the same few thousand hot leaves, so a longer WAL means fewer copies per message; from
 * 16,384 it took the checkpoint thread from ~16 to ~9 us per message and the storage
 * thread (less tail, fewer reads) from ~58 to ~52 (docs/performance.md).
 * If the thread cannot start, the storage thread checkpoints between groups itself.
 */
enum { CHECKPOINT_FRAMES = 65536, CHECKPOINT_TAIL_DIV = 512, CHECKPOINT_ROUNDS = 8 };

typedef struct sqs_checkpointer {
	sqlite3 *db;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int want, busy, finished, stop;
} sqs_checkpointer;

static void *checkpointer_main(void *arg)
{
	sqs_checkpointer *k = arg;
	pthread_setname_np(pthread_self(), "souk-checkpoint");
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->want && !k->stop)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stop)
			break;
		k->want = 0;
		pthread_mutex_unlock(&k->mu);
		int rc = sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
						   NULL);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			souk_log(SOUK_LOG_WARN, "sqlite background checkpoint: %s",
				 sqlite3_errstr(rc));
		pthread_mutex_lock(&k->mu);
		k->busy = 0;
		k->finished = 1;
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static sqs_checkpointer *checkpointer_start(const char *path)
{
	sqs_checkpointer *k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    wal_gather_vfs()) != SQLITE_OK ||
	    exec(k->db, "PRAGMA synchronous=FULL"))
		goto fail;
	sqlite3_busy_timeout(k->db, 10000);
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->thread, NULL, checkpointer_main, k) != 0) {
		pthread_mutex_destroy(&k->mu);
		pthread_cond_destroy(&k->cv);
		goto fail;
	}
	return k;
fail:
	souk_log(SOUK_LOG_WARN, "sqlite: no background checkpoints (%s)",
		 k->db ? sqlite3_errmsg(k->db) : "cannot open");
	sqlite3_close(k->db);
	free(k);
	return NULL;
}

static void checkpointer_stop(sqs_checkpointer *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stop = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	sqlite3_close(k->db);
	free(k);
}

static int wal_hook(void *ud, sqlite3 *db, const char *name, int frames)
{
	(void)db;
	(void)name;
	((sqlite_store *)ud)->wal_frames = frames;
	return SQLITE_OK;
}

static int checkpoint_here(sqlite_store *ss)
{
	int rc = sqlite3_wal_checkpoint_v2(ss->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	ss->wal_frames = 0; /* the next commit's wal hook tells the WAL's size again */
	if (rc != SQLITE_OK) {
		souk_log(SOUK_LOG_WARN, "sqlite checkpoint: %s", sqlite3_errmsg(ss->db));
		return -1;
	}
	return 0;
}

static int sq_maintain(souk_store *s)
{
	sqlite_store *ss = (sqlite_store *)s;
	sqs_checkpointer *k = ss->ckpt;
	int finished = 0, busy = 0;
	if (k) {
		pthread_mutex_lock(&k->mu);
		finished = k->finished;
		k->finished = 0;
		busy = k->busy;
		pthread_mutex_unlock(&k->mu);
	}
	if (finished) {
		/* what was committed during the round: another round while that is much
		 * (each one is shorter), then here */
		if (ss->wal_frames - ss->ckpt_from <= ss->checkpoint_frames / CHECKPOINT_TAIL_DIV ||
		    ++ss->ckpt_rounds >= CHECKPOINT_ROUNDS) {
			ss->ckpt_rounds = 0;
			return checkpoint_here(ss);
		}
	} else if (busy || ss->wal_frames < ss->checkpoint_frames) {
		return 0;
	}
	if (!k && !ss->ckpt_failed) {
		k = ss->ckpt = checkpointer_start(ss->path);
		ss->ckpt_failed = !k;
	}
	if (!k)
		return checkpoint_here(ss);
	ss->ckpt_from = ss->wal_frames;
	pthread_mutex_lock(&k->mu);
	k->want = k->busy = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	return 0;
}

int sqs_time_id(char *out, size_t cap, const char *prefix, int64_t now_ms)
{
	/* randomness drawn from OpenSSL's RAND_bytes in blocks: one call per id was 5 % of the
	 * storage thread's time */
	static _Thread_local unsigned char pool[1000];
	static _Thread_local size_t left;
	enum { RAND_BYTES = (SQS_TIME_ID_HEX - 12) / 2 };
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(out, cap, "%s%012llx", prefix,
			 (unsigned long long)(now_ms < 0 ? 0 : now_ms) & 0xffffffffffffULL);
	if (n < 0 || (size_t)n + 2 * RAND_BYTES + 1 > cap)
		return -1;
	if (left < RAND_BYTES) {
		if (RAND_bytes(pool, (int)sizeof(pool)) != 1)
			return -1;
		left = sizeof(pool);
	}
	const unsigned char *r = pool + sizeof(pool) - left;
	for (size_t i = 0; i < RAND_BYTES; i++) {
		out[n + 2 * i] = hex[r[i] >> 4];
		out[n + 2 * i + 1] = hex[r[i] & 15];
	}
	out[n + 2 * RAND_BYTES] = '\0';
	memset((void *)r, 0, RAND_BYTES); /* used bytes are not left behind */
	left -= RAND_BYTES;
	return 0;
}

/* ---- helpers used inside write transactions --------------------------------------- */

/* Appends `ev` (seq and time filled here) to the stream of app/user. */
static uint64_t user_head(souk_store *s, const char *app_id, const char *user_id, int *err);

static int user_ensure(souk_store *s, const char *app_id, const char *user_id, int64_t now_ms)
{
	sqlite3_stmt *st = Q(s, Q_USER_ENSURE);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, user_id);
	sqlite3_bind_int64(st, 3, now_ms);
	return sqs_step_done(s, st);
}

int sqs_append_event(souk_store *s, const char *app_id, const char *user_id, Souk__V1__Event *ev,
		     int64_t now_ms, store_appends *out)
{
	int err = 0;
	uint64_t head = user_head(s, app_id, user_id, &err);
	/* a user's first event creates its row (every later one finds events to count on) */
	if (err || (head == 0 && user_ensure(s, app_id, user_id, now_ms)))
		return -1;
	uint64_t seq = head + 1;

	ev->seq = seq;
	ev->server_time_ms = now_ms;
	size_t len = souk__v1__event__get_packed_size(ev);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	souk__v1__event__pack(ev, buf);

	sqlite3_stmt *st = Q(s, Q_EVENT_INSERT);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, user_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 4, now_ms);
	sqlite3_bind_blob(st, 5, buf, (int)len, SQLITE_STATIC);
	if (sqs_step_done(s, st) < 0 ||
	    store_appends_push(out, user_id, seq, (store_blob){buf, len})) {
		free(buf);
		return -1;
	}
	return 0;
}

int sqs_load_conv(souk_store *s, const char *app_id, const char *conv_id, store_conv *c)
{
	sqlite3_stmt *st = Q(s, Q_CONV_GET);
	sqs_txt(st, 1, conv_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return SOUK__V1__ERROR_CODE__CONVERSATION_NOT_FOUND;
	if (rc != SQLITE_ROW)
		return -1;
	const unsigned char *app = sqlite3_column_text(st, 0);
	if (!app || strcmp((const char *)app, app_id) != 0) /* another app's: not found */
		return SOUK__V1__ERROR_CODE__CONVERSATION_NOT_FOUND;
	memset(c, 0, sizeof(*c));
	snprintf(c->conversation_id, sizeof(c->conversation_id), "%s", conv_id);
	c->status = sqlite3_column_int(st, 1);
	c->last_conv_seq = (uint64_t)sqlite3_column_int64(st, 2);
	c->created_ms = sqlite3_column_int64(st, 3);
	sqs_copy_col(c->owner, sizeof(c->owner), st, 4);
	sqs_copy_col(c->controller, sizeof(c->controller), st, 5);
	sqs_copy_col(c->assignee, sizeof(c->assignee), st, 6);
	c->kind = sqlite3_column_int(st, 7);
	sqlite3_reset(st);

	st = Q(s, Q_PART_LIST);
	sqs_txt(st, 1, conv_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	       c->n_participants < STORE_MAX_PARTICIPANTS) {
		sqs_copy_col(c->participants[c->n_participants].user_id, STORE_ID_MAX, st, 0);
		c->participants[c->n_participants].kind = sqlite3_column_int(st, 1);
		c->n_participants++;
	}
	sqlite3_reset(st);
	return (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : -1;
}

int sqs_is_participant(souk_store *s, const char *conv_id, const char *user_id, uint64_t *read_seq)
{
	sqlite3_stmt *st = Q(s, Q_PART_GET);
	sqs_txt(st, 1, conv_id);
	sqs_txt(st, 2, user_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (read_seq)
			*read_seq = (uint64_t)sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
		return 1;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Participants with their own event stream (shoppers). Agents and bots are reached through
 * the agent backend, not through a stream. */
int sqs_has_stream(int kind)
{
	return kind == SOUK__V1__SENDER_KIND__SENDER_SHOPPER;
}

/* ---- writes ------------------------------------------------------------------------ */

static int sq_send(souk_store *s, const store_send_req *r, store_send_res *res, store_appends *out)
{
	memset(res, 0, sizeof(*res));
	sqlite3_stmt *st = Q(s, Q_MSG_DEDUP);
	sqs_txt(st, 1, r->app_id);
	sqs_txt(st, 2, r->user_id);
	sqlite3_bind_blob(st, 3, r->client_msg_id, SOUK_WIRE_CLIENT_MSG_ID_LEN, SQLITE_STATIC);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqs_copy_col(res->message_id, sizeof(res->message_id), st, 0);
		res->seq = (uint64_t)sqlite3_column_int64(st, 1);
		res->conv_seq = (uint64_t)sqlite3_column_int64(st, 2);
		res->server_time_ms = sqlite3_column_int64(st, 3);
		sqs_copy_col(res->conversation_id, sizeof(res->conversation_id), st, 4);
		res->duplicate = 1;
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;

	store_conv conv;
	rc = sqs_load_conv(s, r->app_id, r->conversation_id, &conv);
	if (rc)
		return rc;
	/* the participant list was just loaded: look there (the table only when the list was
	 * cut at STORE_MAX_PARTICIPANTS) */
	rc = 0;
	for (size_t i = 0; i < conv.n_participants && !rc; i++)
		rc = strcmp(conv.participants[i].user_id, r->user_id) == 0;
	if (!rc && conv.n_participants == STORE_MAX_PARTICIPANTS)
		rc = sqs_is_participant(s, r->conversation_id, r->user_id, NULL);
	if (rc <= 0)
		return rc < 0 ? -1 : SOUK__V1__ERROR_CODE__NOT_A_PARTICIPANT;
	/* Refusals (> 0) end here: from the first write on this returns 0 or -1, which lets the
	 * group commit run a send without a savepoint (store.h). */

	/* the conversation's next conv_seq; the message row inserted below is what takes it */
	uint64_t conv_seq = conv.last_conv_seq + 1;

	char id[STORE_ID_MAX];
	if (sqs_time_id(id, sizeof(id), "msg_", r->now_ms) < 0)
		return -1;

	Souk__V1__Message msg = SOUK__V1__MESSAGE__INIT;
	msg.message_id = id;
	msg.client_msg_id.data = (uint8_t *)r->client_msg_id;
	msg.client_msg_id.len = SOUK_WIRE_CLIENT_MSG_ID_LEN;
	msg.conversation_id = (char *)r->conversation_id;
	msg.conv_seq = conv_seq;
	msg.sender_id = (char *)r->user_id;
	msg.sender_kind = (Souk__V1__SenderKind)r->sender_kind;
	msg.sender_name = (char *)(r->sender_name ? r->sender_name : "");
	msg.sender_device_id = (char *)(r->device_id ? r->device_id : "");
	msg.sender_avatar_url = (char *)(r->sender_avatar_url ? r->sender_avatar_url : "");
	msg.content = (Souk__V1__Content *)r->content;
	msg.server_time_ms = r->now_ms;
	Souk__V1__Event ev = SOUK__V1__EVENT__INIT;
	ev.body_case = SOUK__V1__EVENT__BODY_MESSAGE;
	ev.message = &msg;

	uint64_t sender_seq = 0;
	for (size_t i = 0; i < conv.n_participants; i++) {
		if (!sqs_has_stream(conv.participants[i].kind))
			continue;
		if (sqs_append_event(s, r->app_id, conv.participants[i].user_id, &ev, r->now_ms,
				     out))
			return -1;
		if (strcmp(conv.participants[i].user_id, r->user_id) == 0)
			sender_seq = out->v[out->n - 1].seq;
	}

	size_t clen = souk__v1__content__get_packed_size(r->content);
	uint8_t *cbuf = malloc(clen ? clen : 1);
	if (!cbuf)
		return -1;
	souk__v1__content__pack(r->content, cbuf);
	st = Q(s, Q_MSG_INSERT);
	sqs_txt(st, 1, id);
	sqs_txt(st, 2, r->app_id);
	sqs_txt(st, 3, r->conversation_id);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)conv_seq);
	sqs_txt(st, 5, r->user_id);
	sqlite3_bind_int(st, 6, r->sender_kind);
	sqs_txt(st, 7, r->device_id);
	sqlite3_bind_blob(st, 8, r->client_msg_id, SOUK_WIRE_CLIENT_MSG_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)sender_seq);
	sqlite3_bind_int64(st, 10, r->now_ms);
	sqlite3_bind_blob(st, 11, cbuf, (int)clen, SQLITE_STATIC);
	sqs_txt(st, 12, msg.sender_name);
	sqs_txt(st, 13, msg.sender_avatar_url);
	rc = sqs_step_done(s, st);
	sqlite3_reset(st);
	free(cbuf);
	if (rc)
		return -1;

	if (r->sender_kind == SOUK__V1__SENDER_KIND__SENDER_SHOPPER) {
		/* the agent backend hears of it through the durable webhook outbox, in this
		 * same transaction: committed together or not at all. The JSON is built only
		 * when a target wants it. */
		conv.last_conv_seq = conv_seq;
		char targets[SQA_MAX_TARGETS][STORE_ID_MAX];
		int nt = sqa_targets(s, r->app_id, conv.controller, "message.created", targets,
				     SQA_MAX_TARGETS);
		if (nt < 0)
			return -1;
		if (nt > 0) {
			json_t *data = json_pack("{s:o,s:o}", "conversation", sqa_conv_json(&conv),
						 "message", payload_message_to_json(&msg));
			if (sqa_enqueue_to(s, r->app_id, &conv, "message.created", data, r->now_ms,
					   targets, (size_t)nt) < 0)
				return -1;
		}
		if (r->content->kind_case == SOUK__V1__CONTENT__KIND_CSAT_ANSWER) {
			const Souk__V1__CsatAnswer *a = r->content->csat_answer;
			json_t *data = json_pack(
				"{s:o,s:s,s:s,s:i,s:s}", "conversation", sqa_conv_json(&conv),
				"message_id", id, "survey_id", a->survey_id, "rating",
				(int)a->rating, "comment", a->comment ? a->comment : "");
			if (sqa_enqueue(s, r->app_id, &conv, "csat.answered", data, r->now_ms) < 0)
				return -1;
		}
	}

	snprintf(res->message_id, sizeof(res->message_id), "%s", id);
	res->seq = sender_seq;
	res->conv_seq = conv_seq;
	res->server_time_ms = r->now_ms;
	return 0;
}

void store_conv_to_proto(const store_conv *c, Souk__V1__ConversationInfo *info,
			 Souk__V1__Participant *parts, Souk__V1__Participant **pp)
{
	info->conversation_id = (char *)c->conversation_id;
	info->status = (Souk__V1__ConversationStatus)c->status;
	info->last_conv_seq = c->last_conv_seq;
	info->created_ms = c->created_ms;
	info->created = c->created;
	info->controller = (char *)c->controller;
	info->assignee = (char *)c->assignee;
	info->kind = (Souk__V1__ConversationKind)c->kind;
	info->n_participants = c->n_participants;
	info->participants = pp;
	for (size_t i = 0; i < c->n_participants; i++) {
		souk__v1__participant__init(&parts[i]);
		parts[i].user_id = (char *)c->participants[i].user_id;
		parts[i].kind = (Souk__V1__SenderKind)c->participants[i].kind;
		pp[i] = &parts[i];
	}
}

static int sq_open_support(souk_store *s, const char *app_id, const char *user_id, int64_t now_ms,
			   store_conv *res, store_appends *out)
{
	sqlite3_stmt *st = Q(s, Q_CONV_SUPPORT);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, user_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		char id[STORE_ID_MAX];
		sqs_copy_col(id, sizeof(id), st, 0);
		sqlite3_reset(st);
		return sqs_load_conv(s, app_id, id, res);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return -1;

	char id[STORE_ID_MAX];
	if (sqs_time_id(id, sizeof(id), "conv_", now_ms) < 0)
		return -1;
	st = Q(s, Q_CONV_INSERT);
	sqs_txt(st, 1, id);
	sqs_txt(st, 2, app_id);
	sqlite3_bind_int(st, 3, SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT);
	sqs_txt(st, 4, user_id);
	sqlite3_bind_int(st, 5, SOUK__V1__CONVERSATION_STATUS__CONVERSATION_OPEN);
	sqlite3_bind_int64(st, 6, now_ms);
	if (sqs_step_done(s, st))
		return -1;
	st = Q(s, Q_PART_INSERT);
	sqs_txt(st, 1, id);
	sqs_txt(st, 2, user_id);
	sqlite3_bind_int(st, 3, SOUK__V1__SENDER_KIND__SENDER_SHOPPER);
	if (sqs_step_done(s, st))
		return -1;
	if ((rc = sqs_load_conv(s, app_id, id, res)) != 0)
		return rc < 0 ? rc : -1;
	res->created = 1;

	if (sqs_announce_conv(s, app_id, res, now_ms, out))
		return -1;
	json_t *data = json_pack("{s:o,s:{s:s}}", "conversation", sqa_conv_json(res), "user", "id",
				 user_id);
	return sqa_enqueue(s, app_id, res, "conversation.created", data, now_ms) < 0 ? -1 : 0;
}

int sqs_announce_conv(souk_store *s, const char *app_id, const store_conv *c, int64_t now_ms,
		      store_appends *out)
{
	Souk__V1__ConversationInfo info = SOUK__V1__CONVERSATION_INFO__INIT;
	Souk__V1__Participant parts[STORE_MAX_PARTICIPANTS], *pp[STORE_MAX_PARTICIPANTS];
	store_conv_to_proto(c, &info, parts, pp);
	Souk__V1__Event ev = SOUK__V1__EVENT__INIT;
	ev.body_case = SOUK__V1__EVENT__BODY_CONVERSATION;
	ev.conversation = &info;
	for (size_t i = 0; i < c->n_participants; i++) {
		if (!sqs_has_stream(c->participants[i].kind))
			continue;
		if (sqs_append_event(s, app_id, c->participants[i].user_id, &ev, now_ms, out))
			return -1;
	}
	return 0;
}

static int sq_open_conversation(souk_store *s, const char *app_id, const char *user_id,
				const char *conv_id, store_conv *res)
{
	int rc = sqs_load_conv(s, app_id, conv_id, res);
	if (rc)
		return rc;
	rc = sqs_is_participant(s, conv_id, user_id, NULL);
	return rc < 0 ? -1 : rc == 0 ? SOUK__V1__ERROR_CODE__NOT_A_PARTICIPANT : 0;
}

static int sq_mark_read(souk_store *s, const char *app_id, const char *user_id, const char *conv_id,
			uint64_t up_to, int64_t now_ms, store_appends *out)
{
	store_conv conv;
	int rc = sqs_load_conv(s, app_id, conv_id, &conv);
	if (rc)
		return rc;
	uint64_t read_seq = 0;
	rc = sqs_is_participant(s, conv_id, user_id, &read_seq);
	if (rc <= 0)
		return rc < 0 ? -1 : SOUK__V1__ERROR_CODE__NOT_A_PARTICIPANT;
	if (up_to > conv.last_conv_seq)
		up_to = conv.last_conv_seq;
	if (up_to <= read_seq)
		return 0; /* nothing new read: no event */
	sqlite3_stmt *st = Q(s, Q_PART_SET_READ);
	sqs_txt(st, 1, conv_id);
	sqs_txt(st, 2, user_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)up_to);
	if (sqs_step_done(s, st))
		return -1;

	Souk__V1__Receipt rec = SOUK__V1__RECEIPT__INIT;
	rec.conversation_id = (char *)conv_id;
	rec.user_id = (char *)user_id;
	rec.kind = SOUK__V1__RECEIPT_KIND__RECEIPT_READ;
	rec.up_to_conv_seq = up_to;
	Souk__V1__Event ev = SOUK__V1__EVENT__INIT;
	ev.body_case = SOUK__V1__EVENT__BODY_RECEIPT;
	ev.receipt = &rec;
	for (size_t i = 0; i < conv.n_participants; i++) {
		if (!sqs_has_stream(conv.participants[i].kind))
			continue;
		if (sqs_append_event(s, app_id, conv.participants[i].user_id, &ev, now_ms, out))
			return -1;
	}
	json_t *data = json_pack("{s:o,s:s,s:I}", "conversation", sqa_conv_json(&conv), "user_id",
				 user_id, "up_to_conv_seq", (json_int_t)up_to);
	return sqa_enqueue(s, app_id, &conv, "conversation.read", data, now_ms) < 0 ? -1 : 0;
}

static uint64_t user_head(souk_store *s, const char *app_id, const char *user_id, int *err)
{
	sqlite3_stmt *st = Q(s, Q_USER_HEAD);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, user_id);
	int rc = sqlite3_step(st);
	uint64_t head = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		*err = -1;
	sqlite3_reset(st);
	return head;
}

static int sq_device_connect(souk_store *s, const char *app_id, const char *user_id,
			     const char *device_id, int platform, const char *sdk_version,
			     uint64_t last_applied, int64_t now_ms, uint64_t *head_seq)
{
	if (user_ensure(s, app_id, user_id, now_ms))
		return -1;
	int err = 0;
	uint64_t head = user_head(s, app_id, user_id, &err);
	if (err)
		return -1;
	sqlite3_stmt *st = Q(s, Q_DEVICE_UPSERT);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, user_id);
	sqs_txt(st, 3, device_id);
	sqlite3_bind_int(st, 4, platform);
	sqs_txt(st, 5, sdk_version);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)(last_applied < head ? last_applied : head));
	sqlite3_bind_int64(st, 7, now_ms);
	if (sqs_step_done(s, st))
		return -1;
	*head_seq = head;
	return 0;
}

static int sq_device_ack(souk_store *s, const char *app_id, const char *user_id,
			 const char *device_id, uint64_t seq, int64_t now_ms)
{
	sqlite3_stmt *st = Q(s, Q_DEVICE_ACK);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, user_id);
	sqs_txt(st, 3, device_id);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 5, now_ms);
	return sqs_step_done(s, st);
}

/* ---- reads ------------------------------------------------------------------------- */

static int sq_read_events(souk_store *s, const char *app_id, const char *user_id,
			  uint64_t after_seq, uint32_t limit, store_events *out)
{
	memset(out, 0, sizeof(*out));
	int err = 0;
	/* head first: events read below are all <= head, and any later commit only adds */
	out->head_seq = user_head(s, app_id, user_id, &err);
	if (err)
		return -1;
	if (limit == 0)
		limit = 1;
	out->v = calloc(limit, sizeof(*out->v));
	out->seq = calloc(limit, sizeof(*out->seq));
	if (!out->v || !out->seq) {
		store_events_free(out);
		return -1;
	}
	sqlite3_stmt *st = Q(s, Q_EVENT_READ);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, user_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)after_seq);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)limit + 1);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (out->n == limit) {
			out->has_more = 1;
			break;
		}
		uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (seq > out->head_seq) /* committed after the head was read */
			break;
		const void *b = sqlite3_column_blob(st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 1);
		uint8_t *copy = malloc(n ? n : 1);
		if (!copy) {
			sqlite3_reset(st);
			store_events_free(out);
			return -1;
		}
		if (n)
			memcpy(copy, b, n);
		out->v[out->n] = (store_blob){copy, n};
		out->seq[out->n] = seq;
		out->n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_events_free(out);
		return -1;
	}
	if (out->n && out->seq[out->n - 1] < out->head_seq)
		out->has_more = 1;
	return 0;
}

static int sq_load_app(souk_store *s, const char *app_id, store_app *out)
{
	memset(out, 0, sizeof(*out));
	sqlite3_stmt *st = Q(s, Q_APP_GET);
	sqs_txt(st, 1, app_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return SOUK__V1__ERROR_CODE__UNKNOWN_APP;
	if (rc != SQLITE_ROW)
		return -1;
	snprintf(out->app_id, sizeof(out->app_id), "%s", app_id);
	sqs_copy_col(out->name, sizeof(out->name), st, 0);
	sqs_copy_col(out->audience, sizeof(out->audience), st, 1);
	sqs_copy_col(out->issuer, sizeof(out->issuer), st, 2);
	sqlite3_reset(st);

	st = Q(s, Q_APP_KEYS);
	sqs_txt(st, 1, app_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n_keys < STORE_MAX_KEYS) {
		store_key *k = &out->keys[out->n_keys];
		sqs_copy_col(k->kid, sizeof(k->kid), st, 0);
		sqs_copy_col(k->alg, sizeof(k->alg), st, 1);
		size_t n = (size_t)sqlite3_column_bytes(st, 2);
		k->key = malloc(n + 1);
		if (!k->key)
			break;
		memcpy(k->key, sqlite3_column_blob(st, 2), n);
		k->key[n] = '\0';
		k->key_len = n;
		out->n_keys++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_app_clear(out);
		return -1;
	}
	return 0;
}

/* ---- administration ---------------------------------------------------------------- */

static int sq_app_create(souk_store *s, const char *name, const char *audience, const char *issuer,
			 store_app_created *out)
{
	memset(out, 0, sizeof(*out));
	strcpy(out->app_id, "app_");
	strcpy(out->api_key, "sk_");
	if (souk_random_hex(out->app_id + 4, 8) || souk_random_hex(out->api_key + 3, 24) ||
	    souk_random_hex(out->jwt_secret, 32))
		return -1;
	char hash[65];
	souk_sha256_hex(out->api_key, strlen(out->api_key), hash);
	int64_t now = souk_now_ms();
	if (sq_begin(s))
		return -1;
	sqlite3_stmt *st = Q(s, Q_APP_INSERT);
	sqs_txt(st, 1, out->app_id);
	sqs_txt(st, 2, name);
	sqs_txt(st, 3, hash);
	sqs_txt(st, 4, audience);
	sqs_txt(st, 5, issuer);
	sqlite3_bind_int64(st, 6, now);
	if (sqs_step_done(s, st))
		goto fail;
	st = Q(s, Q_KEY_INSERT);
	sqs_txt(st, 1, out->app_id);
	sqs_txt(st, 2, "default");
	sqs_txt(st, 3, "HS256");
	sqlite3_bind_blob(st, 4, out->jwt_secret, (int)strlen(out->jwt_secret), SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, now);
	if (sqs_step_done(s, st))
		goto fail;
	return sq_commit(s);
fail:
	sq_rollback(s);
	return -1;
}

static int sq_app_add_key(souk_store *s, const char *app_id, const char *kid, const char *alg,
			  const char *key, size_t key_len)
{
	store_app app;
	int rc = sq_load_app(s, app_id, &app);
	store_app_clear(&app);
	if (rc)
		return rc;
	sqlite3_stmt *st = Q(s, Q_KEY_INSERT);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, kid);
	sqs_txt(st, 3, alg);
	sqlite3_bind_blob(st, 4, key, (int)key_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, souk_now_ms());
	return sqs_step_done(s, st);
}

static int sq_app_revoke_key(souk_store *s, const char *app_id, const char *kid)
{
	sqlite3_stmt *st = Q(s, Q_KEY_REVOKE);
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, kid);
	if (sqs_step_done(s, st))
		return -1;
	return sqlite3_changes(((sqlite_store *)s)->db) ? 0 : SOUK__V1__ERROR_CODE__UNKNOWN_KEY;
}

static int sq_app_list(souk_store *s, void (*each)(const store_app *, void *), void *ud)
{
	sqlite3_stmt *st = Q(s, Q_APP_LIST);
	char ids[256][STORE_ID_MAX];
	size_t n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 256)
		sqs_copy_col(ids[n++], STORE_ID_MAX, st, 0);
	sqlite3_reset(st);
	for (size_t i = 0; i < n; i++) {
		store_app app;
		if (sq_load_app(s, ids[i], &app) == 0) {
			each(&app, ud);
			store_app_clear(&app);
		}
	}
	return 0;
}

static void sq_close(souk_store *s)
{
	sqlite_store *ss = (sqlite_store *)s;
	if (!ss)
		return;
	checkpointer_stop(ss->ckpt); /* before the last connection closes (it checkpoints) */
	free(ss->path);
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(ss->q[i]);
	for (int i = 0; i < SQS_TX_COUNT; i++)
		sqlite3_finalize(ss->tx[i]);
	sqa_finalize(ss);
	sqlite3_close(ss->db);
	free(ss);
}

static const struct souk_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.commit_deferred = sq_commit_deferred,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.release = sq_release,
	.maintain = sq_maintain,
	.send = sq_send,
	.open_support = sq_open_support,
	.open_conversation = sq_open_conversation,
	.mark_read = sq_mark_read,
	.device_connect = sq_device_connect,
	.device_ack = sq_device_ack,
	.read_events = sq_read_events,
	.load_app = sq_load_app,
	.app_create = sq_app_create,
	.app_add_key = sq_app_add_key,
	.app_revoke_key = sq_app_revoke_key,
	.app_list = sq_app_list,
	.update_context = sqa_update_context,
	.rest = sqa_rest,
	.webhook_due = sqa_webhook_due,
	.webhook_result = sqa_webhook_result,
};

static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int version = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (version > SCHEMA_VERSION) {
		snprintf(err, errlen, "database schema %d is newer than this soukd (%d)", version,
			 SCHEMA_VERSION);
		return -1;
	}
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(db, "BEGIN IMMEDIATE") || exec(db, MIGRATIONS[v]) || exec(db, sql) ||
		    exec(db, "COMMIT")) {
			exec(db, "ROLLBACK");
			snprintf(err, errlen, "schema migration to version %d failed", v + 1);
			return -1;
		}
	}
	return 0;
}

souk_store *store_sqlite_open(const char *data_dir, char *err, size_t errlen)
{
	char path[4096];
	if (mkdir(data_dir, 0700) != 0) {
		struct stat sb;
		if (stat(data_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "cannot create data directory %s", data_dir);
			return NULL;
		}
	}
	snprintf(path, sizeof(path), "%s/souk.db", data_dir);
	sqlite_store *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base.ops = &sqlite_ops;
	s->checkpoint_frames = CHECKPOINT_FRAMES;
	s->path = strdup(path);
	if (!s->path) {
		snprintf(err, errlen, "out of memory");
		free(s);
		return NULL;
	}
	/* NOMUTEX: one thread at a time uses a store (store.h), so SQLite's per-call mutexes
	 * on the connection are pure cost */
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    wal_gather_vfs()) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	sqlite3_stmt *st;
	const char *mode = "";
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			mode = (const char *)sqlite3_column_text(st, 0);
		int wal = mode && strcmp(mode, "wal") == 0;
		sqlite3_finalize(st);
		if (!wal) {
			snprintf(err, errlen, "cannot switch %s to WAL mode", path);
			goto fail;
		}
	}
	/* cache_size: 64 MiB, so the pages a group touches are not read back from the WAL and
	 * the database (SQLite's default is 2 MiB). temp_store stays the default on purpose:
	 * with temp_store=MEMORY a large operation (a push to 10,000 users, one savepoint)
	 * went quadratic inside libsqlite3 (94 % of the storage thread in one loop under the
	 * head_seq upsert; 13 s per push in the reconnect-storm fill, 0.24 s without it).
	 * Groups of sends and acks run without savepoints, so the statement-journal spill it
	 * avoided is rare now. docs/performance.md. */
	/* synchronous=FULL also keeps the WAL-gathering VFS safe: SQLite syncs the WAL (and the
	 * VFS writes its buffer) before it publishes a commit's frames (wal_gather.c). */
	if (exec(s->db, "PRAGMA synchronous=FULL") || exec(s->db, "PRAGMA foreign_keys=OFF") ||
	    exec(s->db, "PRAGMA cache_size=-65536")) {
		snprintf(err, errlen, "cannot configure %s", path);
		goto fail;
	}
	if (migrate(s->db, err, errlen))
		goto fail;
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "prepare failed: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	for (int i = 0; i < SQS_TX_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, TX_SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &s->tx[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "prepare failed: %s", sqlite3_errmsg(s->db));
			goto fail;
		}
	}
	/* replaces SQLite's automatic checkpoint (see "Checkpoints" above) */
	sqlite3_wal_hook(s->db, wal_hook, s);
	return &s->base;
fail:
	sq_close(&s->base);
	return NULL;
}
