/*
 * store.c — the SQLCipher connection: keying, the encryption check, schema migrations,
 * the statement cache, the state table, snapshots and listings.
 *
 * Owns: the database files. Never: stores or logs anything in plaintext — the key is
 * handed to SQLCipher through sqlite3_key() (never put in SQL text), and the store
 * refuses to run on an SQLite that does not encrypt (empty PRAGMA cipher_version).
 *
 * Durability: WAL with synchronous=FULL, so a committed send survives power loss, not
 * only process death. Reads for the UI use a second, query-only connection; WAL lets it
 * read while the SDK thread writes.
 */
#define SQLITE_HAS_CODEC 1
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#define CACHE_SIZE 96

struct souk__store {
	sqlite3 *db;
	int writer;
	size_t ncache;
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} cache[CACHE_SIZE];
	char errmsg[256];
};

/* ---- schema ----------------------------------------------------------------------------- */

/* Migration N takes user_version N-1 to N. Never edit a shipped step: add one. */
static const char *const migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE state ("
	"  key TEXT PRIMARY KEY NOT NULL,"
	"  value"
	");"
	"CREATE TABLE conversations ("
	"  id INTEGER PRIMARY KEY,"
	"  server_id TEXT UNIQUE,"
	"  is_support INTEGER NOT NULL DEFAULT 0,"
	"  status INTEGER NOT NULL DEFAULT 0,"
	"  created_ms INTEGER NOT NULL DEFAULT 0,"
	"  last_conv_seq INTEGER NOT NULL DEFAULT 0,"
	"  read_up_to INTEGER NOT NULL DEFAULT 0,"	 /* the user's position */
	"  read_acked_up_to INTEGER NOT NULL DEFAULT 0," /* ...as confirmed by the server */
	"  peer_read_up_to INTEGER NOT NULL DEFAULT 0,"
	"  peer_delivered_up_to INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  conv_id INTEGER NOT NULL REFERENCES conversations(id),"
	"  message_id TEXT UNIQUE,"
	"  client_msg_id BLOB,"
	"  conv_seq INTEGER,"
	"  seq INTEGER,"
	"  sender_id TEXT,"
	"  sender_kind INTEGER NOT NULL DEFAULT 0,"
	"  sender_name TEXT,"
	"  sender_device_id TEXT,"
	"  outgoing INTEGER NOT NULL,"
	"  content BLOB NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  error_code INTEGER NOT NULL DEFAULT 0,"
	"  error_reason TEXT,"
	"  created_ms INTEGER NOT NULL,"
	"  server_time_ms INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX messages_by_cmid ON messages(client_msg_id);"
	"CREATE INDEX messages_by_conv ON messages(conv_id, conv_seq);"
	/* the outbox: one row per message waiting for its ack, sent in `ord` order per
	 * conversation */
	"CREATE TABLE outbox ("
	"  ord INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  msg_id INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_ms INTEGER NOT NULL DEFAULT 0"
	");",
	/* 2: agents' and bots' avatars (protocol: Message.sender_avatar_url) */
	"ALTER TABLE messages ADD COLUMN sender_avatar_url TEXT;",
	/* 3: ConversationInfo.kind/controller/assignee; the shopping context waiting to be
	 * confirmed (one per conversation, the latest); in-app pushes. A support conversation
	 * recognised before `kind` existed (is_support) keeps being one. */
	"ALTER TABLE conversations ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE conversations ADD COLUMN controller TEXT;"
	"ALTER TABLE conversations ADD COLUMN assignee TEXT;"
	"UPDATE conversations SET kind = 1 WHERE is_support = 1;"
	"CREATE TABLE contexts ("
	"  conv_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,"
	"  context BLOB NOT NULL," /* encoded souk.v1.ShoppingContext */
	"  revision INTEGER NOT NULL,"
	"  confirmed INTEGER NOT NULL DEFAULT 0,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt_ms INTEGER NOT NULL DEFAULT 0,"
	"  updated_ms INTEGER NOT NULL"
	");"
	"CREATE TABLE pushes ("
	"  id INTEGER PRIMARY KEY,"
	"  push_id TEXT NOT NULL UNIQUE,"
	"  seq INTEGER,"
	"  push BLOB NOT NULL," /* encoded souk.v1.InAppPush */
	"  server_time_ms INTEGER NOT NULL DEFAULT 0"
	");",
	/* 4: the unread count kept in the conversation row (the incoming messages after
	 * read_up_to), so that a snapshot no longer counts them (docs/performance.md, SDK).
	 * Maintained in the transactions that add an incoming message or move read_up_to. */
	"ALTER TABLE conversations ADD COLUMN unread_count INTEGER NOT NULL DEFAULT 0;"
	"UPDATE conversations SET unread_count = (SELECT COUNT(*) FROM messages m "
	"  WHERE m.conv_id = conversations.id AND m.outgoing = 0 "
	"  AND m.conv_seq > conversations.read_up_to);",
	/* 5: the client message id is looked up only to find the pending copy of a message
	 * (sync.c, find_pending): index only the messages without a server id. The full index
	 * took one random leaf page per synced message (the ids are random), about a third of
	 * a sync's CPU (docs/performance.md, SDK). */
	"DROP INDEX messages_by_cmid;"
	"CREATE INDEX messages_pending_by_cmid ON messages(client_msg_id) "
	"  WHERE message_id IS NULL;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == SOUK__SCHEMA_VERSION,
	       "one migration per schema version");

/* ---- errors ---------------------------------------------------------------------------- */

int souk__store_err(souk__store *st, int rc)
{
	if (st && st->db)
		snprintf(st->errmsg, sizeof(st->errmsg), "database: %s", sqlite3_errmsg(st->db));
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return SOUK_OK;
	case SQLITE_NOMEM:
		return SOUK_ENOMEM;
	case SQLITE_NOTADB:
		return SOUK_EKEY;
	default:
		return SOUK_ESTORE;
	}
}

const char *souk__store_errmsg(const souk__store *st)
{
	return st->errmsg;
}

int64_t souk__store_changes(souk__store *st)
{
	return sqlite3_changes(st->db);
}

int64_t souk__store_last_rowid(souk__store *st)
{
	return sqlite3_last_insert_rowid(st->db);
}

/* ---- statements ---------------------------------------------------------------------------- */

sqlite3_stmt *souk__stmt(souk__store *st, const char *sql)
{
	for (size_t i = 0; i < st->ncache; i++) {
		if (st->cache[i].sql == sql) {
			sqlite3_stmt *s = st->cache[i].stmt;
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return s;
		}
	}
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		souk__store_err(st, rc);
		return NULL;
	}
	if (st->ncache < CACHE_SIZE) {
		st->cache[st->ncache].sql = sql;
		st->cache[st->ncache].stmt = s;
		st->ncache++;
	} else {
		/* should not happen: the SDK has fewer distinct statements than slots */
		sqlite3_finalize(st->cache[CACHE_SIZE - 1].stmt);
		st->cache[CACHE_SIZE - 1].sql = sql;
		st->cache[CACHE_SIZE - 1].stmt = s;
	}
	return s;
}

int souk__exec_ids(souk__store *st, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *s = souk__stmt(st, sql);
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, a);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, b);
	return souk__exec_stmt(st, s);
}

int souk__exec_stmt(souk__store *st, sqlite3_stmt *s)
{
	if (!s)
		return SOUK_ESTORE;
	int rc = sqlite3_step(s);
	int r = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? SOUK_OK : souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}

static int exec_sql(souk__store *st, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		snprintf(st->errmsg, sizeof(st->errmsg), "database: %s",
			 msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return souk__store_err(NULL, rc);
	}
	return SOUK_OK;
}

/* ---- transactions ------------------------------------------------------------------------- */

int souk__store_begin(souk__store *st)
{
	/* IMMEDIATE: take the write lock now, so the transaction cannot fail halfway on a
	 * lock upgrade */
	return exec_sql(st, "BEGIN IMMEDIATE");
}

void souk__store_rollback(souk__store *st, souk__evlist *ev)
{
	if (!sqlite3_get_autocommit(st->db))
		exec_sql(st, "ROLLBACK");
	if (ev)
		souk__evlist_clear(ev);
}

int souk__store_commit(souk__store *st, souk__evlist *ev)
{
	if (ev) {
		for (size_t i = 0; i < ev->nconvs && !ev->oom; i++) {
			souk_conversation *c = NULL;
			int r = souk__load_conversation(st, ev->convs[i], &c);
			if (r == SOUK_ENOTFOUND)
				continue; /* merged away within the transaction */
			if (r != SOUK_OK) {
				souk__store_rollback(st, ev);
				return r;
			}
			souk_event *e = souk__event_new(SOUK_EVENT_CONVERSATION_UPDATED);
			if (!e) {
				souk_conversation_free(c);
				ev->oom = 1;
				break;
			}
			e->conv = c;
			e->conv_id = c->id;
			souk__evlist_push(ev, e);
		}
		if (ev->oom) {
			souk__store_rollback(st, ev);
			snprintf(st->errmsg, sizeof(st->errmsg), "out of memory");
			return SOUK_ENOMEM;
		}
	}
	int r = exec_sql(st, "COMMIT");
	if (r != SOUK_OK)
		souk__store_rollback(st, ev);
	return r;
}

/* ---- open / close / wipe -------------------------------------------------------------------- */

static int query_text(souk__store *st, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s = NULL;
	buf[0] = '\0';
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		if (t)
			snprintf(buf, len, "%s", (const char *)t);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

static int migrate(souk__store *st, char *err, size_t errlen)
{
	char v[32];
	int rc = query_text(st, "PRAGMA user_version", v, sizeof(v));
	if (rc != SQLITE_OK) {
		int r = souk__store_err(st, rc);
		snprintf(err, errlen, "%s",
			 r == SOUK_EKEY ? "the database key is wrong, or the "
					  "file is not a Souk database"
					: st->errmsg);
		return r;
	}
	long version = strtol(v, NULL, 10);
	if (version > SOUK__SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "the database has schema version %ld; this libsouk knows up to %d",
			 version, SOUK__SCHEMA_VERSION);
		return SOUK_ESCHEMA;
	}
	for (long n = version + 1; n <= SOUK__SCHEMA_VERSION; n++) {
		int r = souk__store_begin(st);
		if (r == SOUK_OK)
			r = exec_sql(st, migrations[n - 1]);
		if (r == SOUK_OK) {
			char sql[48];
			snprintf(sql, sizeof(sql), "PRAGMA user_version = %ld", n);
			r = exec_sql(st, sql);
		}
		if (r == SOUK_OK)
			r = exec_sql(st, "COMMIT");
		if (r != SOUK_OK) {
			snprintf(err, errlen, "schema migration to version %ld failed: %s", n,
				 st->errmsg);
			souk__store_rollback(st, NULL);
			return r;
		}
	}
	return SOUK_OK;
}

int souk__store_open(souk__store **out, const char *path, const uint8_t key[32], int writer,
		     char *err, size_t errlen)
{
	*out = NULL;
	err[0] = '\0';
	souk__store *st = calloc(1, sizeof(*st));
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return SOUK_ENOMEM;
	}
	st->writer = writer;
	struct stat sb;
	int existed = stat(path, &sb) == 0;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
	int r = SOUK_OK;
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the database: %s",
			 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
		r = souk__store_err(NULL, rc);
		goto fail;
	}
	if (writer && !existed)
		chmod(path, 0600); /* -wal and -shm inherit the database's mode */

	/* Refuse to run without encryption: a plain SQLite answers nothing here. */
	char cipher[64];
	rc = query_text(st, "PRAGMA cipher_version", cipher, sizeof(cipher));
	if (rc != SQLITE_OK || cipher[0] == '\0') {
		snprintf(err, errlen,
			 "the linked SQLite library does not encrypt (PRAGMA "
			 "cipher_version is empty): libsouk must be linked with "
			 "SQLCipher");
		r = SOUK_ENOCRYPT;
		goto fail;
	}

	/* The raw-key form x'<64 hex>' makes SQLCipher use the bytes as the key (no KDF). */
	char keyspec[2 + 64 + 1 + 1];
	keyspec[0] = 'x';
	keyspec[1] = '\'';
	souk__hex(keyspec + 2, key, 32);
	keyspec[66] = '\'';
	keyspec[67] = '\0';
	rc = sqlite3_key(st->db, keyspec, 67);
	souk__wipe(keyspec, sizeof(keyspec));
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot set the database key: %s", sqlite3_errmsg(st->db));
		r = souk__store_err(NULL, rc);
		goto fail;
	}

	/* The first read decrypts page 1: a wrong key shows up here as SQLITE_NOTADB. */
	char probe[32];
	rc = query_text(st, "SELECT count(*) FROM sqlite_master", probe, sizeof(probe));
	if (rc != SQLITE_OK) {
		r = souk__store_err(st, rc);
		if (r == SOUK_EKEY)
			snprintf(err, errlen,
				 "the database key is wrong, or the file is not a Souk database");
		else
			snprintf(err, errlen, "cannot read the database: %s", st->errmsg);
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	if (writer) {
		char mode[16];
		rc = query_text(st, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
		if (rc != SQLITE_OK || strcmp(mode, "wal") != 0) {
			snprintf(err, errlen, "cannot switch the database to WAL mode");
			r = SOUK_ESTORE;
			goto fail;
		}
	}
	r = exec_sql(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;");
	if (r == SOUK_OK && !writer)
		r = exec_sql(st, "PRAGMA query_only = 1");
	if (r != SOUK_OK) {
		snprintf(err, errlen, "%s", st->errmsg);
		goto fail;
	}
	if (writer) {
		r = migrate(st, err, errlen);
		if (r != SOUK_OK)
			goto fail;
	} else {
		char v[32];
		rc = query_text(st, "PRAGMA user_version", v, sizeof(v));
		if (rc != SQLITE_OK || strtol(v, NULL, 10) != SOUK__SCHEMA_VERSION) {
			snprintf(err, errlen, "the database schema is not at version %d",
				 SOUK__SCHEMA_VERSION);
			r = rc != SQLITE_OK ? souk__store_err(st, rc) : SOUK_ESCHEMA;
			goto fail;
		}
	}
	*out = st;
	return SOUK_OK;
fail:
	souk__store_close(st);
	return r;
}

void souk__store_close(souk__store *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].stmt);
	if (st->db)
		sqlite3_close(st->db);
	free(st);
}

int souk__store_wipe_files(const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	size_t n = strlen(path);
	char *p = malloc(n + 16);
	if (!p) {
		errno = ENOMEM;
		return -1;
	}
	int result = 0;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		snprintf(p, n + 16, "%s%s", path, suffixes[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			result = -1;
	}
	free(p);
	return result;
}

/* ---- state -------------------------------------------------------------------------------- */

int souk__state_get_text(souk__store *st, const char *key, char **out)
{
	*out = NULL;
	sqlite3_stmt *s = souk__stmt(st, "SELECT value FROM state WHERE key = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int r = SOUK_OK;
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		if (t && !(*out = souk__strdup((const char *)t)))
			r = SOUK_ENOMEM;
	} else if (rc != SQLITE_DONE) {
		r = souk__store_err(st, rc);
	}
	sqlite3_reset(s);
	return r;
}

int souk__state_set_text(souk__store *st, const char *key, const char *value)
{
	sqlite3_stmt *s =
		souk__stmt(st, "INSERT OR REPLACE INTO state (key, value) VALUES (?1, ?2)");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	return souk__exec_stmt(st, s);
}

int souk__state_get_u64(souk__store *st, const char *key, uint64_t *out)
{
	*out = 0;
	sqlite3_stmt *s = souk__stmt(st, "SELECT value FROM state WHERE key = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int r = SOUK_OK;
	if (rc == SQLITE_ROW)
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}

int souk__state_set_u64(souk__store *st, const char *key, uint64_t value)
{
	sqlite3_stmt *s =
		souk__stmt(st, "INSERT OR REPLACE INTO state (key, value) VALUES (?1, ?2)");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)value);
	return souk__exec_stmt(st, s);
}

int souk__state_delete(souk__store *st, const char *key)
{
	sqlite3_stmt *s = souk__stmt(st, "DELETE FROM state WHERE key = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	return souk__exec_stmt(st, s);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

static char *col_dup(sqlite3_stmt *s, int i, int *oom)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	if (!t)
		return NULL;
	char *p = souk__strdup((const char *)t);
	if (!p)
		*oom = 1;
	return p;
}

#define MESSAGE_COLUMNS                                                                            \
	"m.id, m.conv_id, m.message_id, m.client_msg_id, m.conv_seq, m.sender_id, "                \
	"m.sender_name, m.sender_kind, m.outgoing, m.status, m.content, m.error_code, "            \
	"m.error_reason, m.created_ms, m.server_time_ms, m.sender_avatar_url"

void souk__message_set_content(souk_message *m, const void *blob, size_t len, int *oom)
{
	/* NULL as sqlite3_column_blob gives for an empty blob: no content */
	int dr = blob ? souk__content_decode(blob, len, &m->content) : SOUK_EINVAL;
	if (dr == SOUK_ENOMEM)
		*oom = 1;
	if (m->content) {
		const Souk__V1__Content *c = m->content->pb;
		m->content_kind = souk_content_get_kind(m->content);
		m->text = souk__strdup(c->kind_case == SOUK__V1__CONTENT__KIND_TEXT
					       ? (c->text->body ? c->text->body : "")
					       : souk_wire_content_preview(c));
		if (!m->text)
			*oom = 1;
	}
}

static int message_from_row(sqlite3_stmt *s, souk_message **out)
{
	souk_message *m = calloc(1, sizeof(*m));
	if (!m)
		return SOUK_ENOMEM;
	int oom = 0;
	m->id = sqlite3_column_int64(s, 0);
	m->conv_id = sqlite3_column_int64(s, 1);
	m->server_id = col_dup(s, 2, &oom);
	if (sqlite3_column_bytes(s, 3) == 16)
		souk__hex(m->cmid_hex, sqlite3_column_blob(s, 3), 16);
	m->conv_seq = (uint64_t)sqlite3_column_int64(s, 4);
	m->sender_id = col_dup(s, 5, &oom);
	m->sender_name = col_dup(s, 6, &oom);
	m->sender_kind = sqlite3_column_int(s, 7);
	m->outgoing = sqlite3_column_int(s, 8);
	m->status = sqlite3_column_int(s, 9);
	souk__message_set_content(m, sqlite3_column_blob(s, 10),
				  (size_t)sqlite3_column_bytes(s, 10), &oom);
	m->failure_code = sqlite3_column_int(s, 11);
	m->failure_reason = col_dup(s, 12, &oom);
	m->created_ms = sqlite3_column_int64(s, 13);
	m->server_time_ms = sqlite3_column_int64(s, 14);
	m->sender_avatar_url = col_dup(s, 15, &oom);
	if (oom) {
		souk_message_free(m);
		return SOUK_ENOMEM;
	}
	*out = m;
	return SOUK_OK;
}

int souk__load_message(souk__store *st, int64_t id, souk_message **out)
{
	*out = NULL;
	sqlite3_stmt *s =
		souk__stmt(st, "SELECT " MESSAGE_COLUMNS " FROM messages m WHERE m.id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	int r;
	if (rc == SQLITE_ROW)
		r = message_from_row(s, out);
	else if (rc == SQLITE_DONE)
		r = SOUK_ENOTFOUND;
	else
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}

int souk__emit_message(souk__store *st, souk__evlist *ev, int type, int64_t id)
{
	souk_message *m = NULL;
	int r = souk__load_message(st, id, &m);
	if (r != SOUK_OK)
		return r;
	return souk__emit_snapshot(ev, type, m);
}

int souk__emit_snapshot(souk__evlist *ev, int type, souk_message *m)
{
	souk_event *e = souk__event_new(type);
	if (!e) {
		souk_message_free(m);
		return SOUK_ENOMEM;
	}
	e->msg = m;
	e->conv_id = m->conv_id;
	souk__evlist_push(ev, e);
	souk__evlist_touch(ev, m->conv_id);
	return ev->oom ? SOUK_ENOMEM : SOUK_OK;
}

/* Display order: server order (conv_seq), then messages without one (pending, failed)
 * in local order. Written as three keys so pages can start anywhere. */
#define ORDER_KEYS "(m.conv_seq IS NULL), IFNULL(m.conv_seq, 0), m.id"

/* The conversation's last message in display order (ORDER_KEYS, descending): the newest
 * message without a server position if there is one, else the one with the highest
 * conv_seq. Written as two lookups that messages_by_conv (conv_id, conv_seq, rowid)
 * serves, instead of one ORDER BY on expressions that no index serves (a scan and a sort
 * of the whole conversation on every snapshot). */
#define LAST_MESSAGE_ID                                                                            \
	"COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.conv_id = c.id "                       \
	"AND m.conv_seq IS NULL), (SELECT m.id FROM messages m WHERE m.conv_id = c.id "            \
	"AND m.conv_seq IS NOT NULL ORDER BY m.conv_seq DESC, m.id DESC LIMIT 1))"

int souk__conv_recount_unread(souk__store *st, int64_t conv_id)
{
	return souk__exec_ids(st,
			      "UPDATE conversations SET unread_count = (SELECT COUNT(*) FROM "
			      "messages m WHERE m.conv_id = ?1 AND m.outgoing = 0 AND m.conv_seq > "
			      "conversations.read_up_to) WHERE id = ?1",
			      conv_id, 0);
}

int souk__load_conversation(souk__store *st, int64_t id, souk_conversation **out)
{
	*out = NULL;
	sqlite3_stmt *s = souk__stmt(
		st, "SELECT c.id, c.server_id, c.is_support, c.status, c.read_up_to, "
		    "c.peer_read_up_to, c.last_conv_seq, c.kind, c.controller, c.assignee, "
		    "c.unread_count, " LAST_MESSAGE_ID " FROM conversations c WHERE c.id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		int r = rc == SQLITE_DONE ? SOUK_ENOTFOUND : souk__store_err(st, rc);
		sqlite3_reset(s);
		return r;
	}
	souk_conversation *c = calloc(1, sizeof(*c));
	int oom = !c;
	int64_t last = 0;
	if (c) {
		c->id = sqlite3_column_int64(s, 0);
		c->server_id = col_dup(s, 1, &oom);
		c->is_support = sqlite3_column_int(s, 2);
		c->status = sqlite3_column_int(s, 3);
		c->read_up_to = (uint64_t)sqlite3_column_int64(s, 4);
		c->peer_read_up_to = (uint64_t)sqlite3_column_int64(s, 5);
		c->last_conv_seq = (uint64_t)sqlite3_column_int64(s, 6);
		c->kind = c->is_support ? SOUK_CONVERSATION_KIND_SUPPORT : sqlite3_column_int(s, 7);
		c->controller = col_dup(s, 8, &oom);
		c->assignee = col_dup(s, 9, &oom);
		c->unread = (uint64_t)sqlite3_column_int64(s, 10);
		last = sqlite3_column_int64(s, 11);
	}
	sqlite3_reset(s);
	if (oom) {
		souk_conversation_free(c);
		return SOUK_ENOMEM;
	}
	if (last > 0) {
		int r = souk__load_message(st, last, &c->last);
		if (r != SOUK_OK) {
			souk_conversation_free(c);
			return r;
		}
	}
	*out = c;
	return SOUK_OK;
}

int souk__list_messages(souk__store *st, int64_t conv_id, int64_t anchor, int direction,
			unsigned limit, souk_message_list **out)
{
	*out = NULL;
	if (limit == 0)
		limit = 50;
	if (limit > 500)
		limit = 500;
	int64_t k1 = 0, k2 = 0, k3 = 0;
	if (anchor > 0) {
		sqlite3_stmt *a =
			souk__stmt(st, "SELECT (m.conv_seq IS NULL), IFNULL(m.conv_seq, 0), "
				       "m.id FROM messages m WHERE m.id = ?1 AND m.conv_id = ?2");
		if (!a)
			return SOUK_ESTORE;
		sqlite3_bind_int64(a, 1, anchor);
		sqlite3_bind_int64(a, 2, conv_id);
		int rc = sqlite3_step(a);
		if (rc == SQLITE_ROW) {
			k1 = sqlite3_column_int64(a, 0);
			k2 = sqlite3_column_int64(a, 1);
			k3 = sqlite3_column_int64(a, 2);
		}
		sqlite3_reset(a);
		if (rc == SQLITE_DONE)
			return SOUK_ENOTFOUND;
		if (rc != SQLITE_ROW)
			return souk__store_err(st, rc);
	} else if (direction == SOUK_PAGE_BEFORE) {
		k1 = 2; /* after everything */
	} else {
		k1 = -1; /* before everything */
	}
	sqlite3_stmt *s;
	if (direction == SOUK_PAGE_BEFORE)
		s = souk__stmt(st,
			       "SELECT " MESSAGE_COLUMNS " FROM messages m WHERE m.conv_id = ?1 "
			       "AND ((m.conv_seq IS NULL) < ?2 OR ((m.conv_seq IS NULL) = ?2 AND "
			       "(IFNULL(m.conv_seq, 0) < ?3 OR (IFNULL(m.conv_seq, 0) = ?3 AND "
			       "m.id < ?4)))) "
			       "ORDER BY (m.conv_seq IS NULL) DESC, IFNULL(m.conv_seq, 0) DESC, "
			       "m.id DESC LIMIT ?5");
	else
		s = souk__stmt(st,
			       "SELECT " MESSAGE_COLUMNS " FROM messages m WHERE m.conv_id = ?1 "
			       "AND ((m.conv_seq IS NULL) > ?2 OR ((m.conv_seq IS NULL) = ?2 AND "
			       "(IFNULL(m.conv_seq, 0) > ?3 OR (IFNULL(m.conv_seq, 0) = ?3 AND "
			       "m.id > ?4)))) "
			       "ORDER BY " ORDER_KEYS " LIMIT ?5");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, conv_id);
	sqlite3_bind_int64(s, 2, k1);
	sqlite3_bind_int64(s, 3, k2);
	sqlite3_bind_int64(s, 4, k3);
	sqlite3_bind_int64(s, 5, limit);
	souk_message_list *l = calloc(1, sizeof(*l));
	if (!l || !(l->items = calloc(limit, sizeof(*l->items)))) {
		free(l);
		sqlite3_reset(s);
		return SOUK_ENOMEM;
	}
	int rc = SQLITE_DONE, r = SOUK_OK;
	while (r == SOUK_OK && l->n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW)
		r = message_from_row(s, &l->items[l->n++]);
	if (r == SOUK_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	if (r != SOUK_OK) {
		if (l->n && !l->items[l->n - 1])
			l->n--;
		souk_message_list_free(l);
		return r;
	}
	if (direction == SOUK_PAGE_BEFORE) {
		for (size_t i = 0; i < l->n / 2; i++) {
			souk_message *t = l->items[i];
			l->items[i] = l->items[l->n - 1 - i];
			l->items[l->n - 1 - i] = t;
		}
	}
	*out = l;
	return SOUK_OK;
}

int souk__list_conversations(souk__store *st, souk_conversation_list **out)
{
	*out = NULL;
	sqlite3_stmt *s = souk__stmt(
		st, "SELECT c.id FROM conversations c ORDER BY "
		    "IFNULL((SELECT MAX(m.id) FROM messages m WHERE m.conv_id = c.id), 0) DESC, "
		    "c.id DESC");
	if (!s)
		return SOUK_ESTORE;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, r = SOUK_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			int64_t *p = realloc(ids, cap * sizeof(*p));
			if (!p) {
				r = SOUK_ENOMEM;
				break;
			}
			ids = p;
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	if (r == SOUK_OK && rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	souk_conversation_list *l = NULL;
	if (r == SOUK_OK) {
		l = calloc(1, sizeof(*l));
		if (!l || (n && !(l->items = calloc(n, sizeof(*l->items)))))
			r = SOUK_ENOMEM;
	}
	for (size_t i = 0; r == SOUK_OK && i < n; i++) {
		r = souk__load_conversation(st, ids[i], &l->items[i]);
		if (r == SOUK_OK)
			l->n++;
	}
	free(ids);
	if (r != SOUK_OK) {
		souk_conversation_list_free(l);
		return r;
	}
	*out = l;
	return SOUK_OK;
}

/* ---- pushes ------------------------------------------------------------------------------ */

static int push_from_row(sqlite3_stmt *s, souk_push **out)
{
	*out = NULL;
	souk_push *p = calloc(1, sizeof(*p));
	if (!p)
		return SOUK_ENOMEM;
	p->id = sqlite3_column_int64(s, 0);
	p->server_time_ms = sqlite3_column_int64(s, 2);
	const void *blob = sqlite3_column_blob(s, 1);
	int blen = sqlite3_column_bytes(s, 1);
	Souk__V1__InAppPush *pb =
		blob ? souk__v1__in_app_push__unpack(NULL, (size_t)blen, blob) : NULL;
	int r = SOUK_OK;
	if (!pb) {
		/* stored by this SDK after validation: only memory can fail here */
		r = SOUK_ENOMEM;
	} else {
		const char *v[5] = {pb->push_id, pb->title, pb->body, pb->image_url, pb->deep_link};
		char **f[5] = {&p->push_id, &p->title, &p->body, &p->image_url, &p->deep_link};
		for (size_t i = 0; i < 5 && r == SOUK_OK; i++)
			if (souk__pb_str(v[i]) && !(*f[i] = souk__strdup(v[i])))
				r = SOUK_ENOMEM;
		if (r == SOUK_OK && !p->push_id && !(p->push_id = souk__strdup("")))
			r = SOUK_ENOMEM;
		if (r == SOUK_OK && pb->product)
			r = souk__content_from_product(pb->product, &p->product);
		souk__v1__in_app_push__free_unpacked(pb, NULL);
	}
	if (r != SOUK_OK) {
		souk__push_free_fields(p);
		free(p);
		return r;
	}
	*out = p;
	return SOUK_OK;
}

int souk__load_push(souk__store *st, int64_t id, souk_push **out)
{
	*out = NULL;
	sqlite3_stmt *s =
		souk__stmt(st, "SELECT id, push, server_time_ms FROM pushes WHERE id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, id);
	int rc = sqlite3_step(s);
	int r;
	if (rc == SQLITE_ROW)
		r = push_from_row(s, out);
	else
		r = rc == SQLITE_DONE ? SOUK_ENOTFOUND : souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}

int souk__list_pushes(souk__store *st, unsigned limit, souk_push_list **out)
{
	*out = NULL;
	if (limit == 0)
		limit = 50;
	if (limit > 500)
		limit = 500;
	sqlite3_stmt *s = souk__stmt(st, "SELECT id, push, server_time_ms FROM pushes "
					 "ORDER BY IFNULL(seq, 0) DESC, id DESC LIMIT ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, limit);
	souk_push_list *l = calloc(1, sizeof(*l));
	if (!l || !(l->items = calloc(limit, sizeof(*l->items)))) {
		free(l);
		sqlite3_reset(s);
		return SOUK_ENOMEM;
	}
	int rc = SQLITE_DONE, r = SOUK_OK;
	while (r == SOUK_OK && l->n < limit && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = push_from_row(s, &l->items[l->n]);
		if (r == SOUK_OK)
			l->n++;
	}
	if (r == SOUK_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	if (r != SOUK_OK) {
		souk_push_list_free(l);
		return r;
	}
	*out = l;
	return SOUK_OK;
}

/* ---- the user ------------------------------------------------------------------------------ */

/* Binds the store to the user of the first session; SOUK_EUSER for any other user. Pending
 * messages written before the first welcome get their sender now. */
int souk__store_bind_user(souk__store *st, const char *user_id)
{
	char *bound = NULL;
	int r = souk__state_get_text(st, "user_id", &bound);
	if (r != SOUK_OK)
		return r;
	if (bound) {
		r = strcmp(bound, user_id) == 0 ? SOUK_OK : SOUK_EUSER;
		free(bound);
		if (r == SOUK_OK)
			r = souk__state_set_text(st, "session", "active");
		return r;
	}
	r = souk__store_begin(st);
	if (r == SOUK_OK)
		r = souk__state_set_text(st, "user_id", user_id);
	if (r == SOUK_OK)
		r = souk__state_set_text(st, "session", "active");
	if (r == SOUK_OK) {
		sqlite3_stmt *s = souk__stmt(st, "UPDATE messages SET sender_id = ?1 "
						 "WHERE outgoing = 1 AND sender_id IS NULL");
		if (!s)
			r = SOUK_ESTORE;
		else {
			sqlite3_bind_text(s, 1, user_id, -1, SQLITE_STATIC);
			r = souk__exec_stmt(st, s);
		}
	}
	if (r == SOUK_OK)
		return souk__store_commit(st, NULL);
	souk__store_rollback(st, NULL);
	return r;
}
