/*
 * store.h — the encrypted local store: connection, schema, and the operations the rest
 * of the SDK performs on it, grouped by the file that owns their SQL:
 *   store.c    open/key/migrate/wipe, statement cache, state, snapshots, listings
 *   outbox.c   the outbox: add, heads per conversation, defer, fail, resend, delete
 *   sync.c     applying the server's events and acks (the one reconcile), read marks
 *
 * A souk__store is one SQLCipher connection and is not thread-safe: the client guards
 * the write connection and the read connection with a mutex each.
 */
#ifndef SOUK_STORE_H
#define SOUK_STORE_H

#include "internal.h"
#include "souk_wire/wire.h"

typedef struct souk__store souk__store;
typedef struct sqlite3_stmt sqlite3_stmt;

/* Schema version written by this build (PRAGMA user_version). */
enum { SOUK__SCHEMA_VERSION = 5 };

/* Message status values stored in messages.status (same numbers as the public enum). */
enum {
	SOUK__ST_PENDING = SOUK_MESSAGE_PENDING,
	SOUK__ST_SENT = SOUK_MESSAGE_SENT,
	SOUK__ST_DELIVERED = SOUK_MESSAGE_DELIVERED,
	SOUK__ST_READ = SOUK_MESSAGE_READ,
	SOUK__ST_FAILED = SOUK_MESSAGE_FAILED,
	SOUK__ST_RECEIVED = SOUK_MESSAGE_RECEIVED,
};

/* Opens `path` with the 32-byte raw key. `writer`: create the file if needed and migrate
 * the schema; otherwise a query-only connection to an existing store. Returns SOUK_OK or
 * SOUK_EKEY / SOUK_ENOCRYPT / SOUK_ESCHEMA / SOUK_ESTORE / SOUK_ENOMEM with a reason in
 * err (never containing the key). */
int souk__store_open(souk__store **out, const char *path, const uint8_t key[32], int writer,
		     char *err, size_t errlen);
void souk__store_close(souk__store *st);
/* Deletes the database and its -wal, -shm and -journal files. 0, or -1 with errno. */
int souk__store_wipe_files(const char *path);

/* A cached prepared statement, reset and with bindings cleared; NULL on error. `sql`
 * must be a string literal (the cache is keyed by its address). */
sqlite3_stmt *souk__stmt(souk__store *st, const char *sql);
/* Runs a cached statement that returns no rows: SOUK_OK or an error code. */
int souk__exec_stmt(souk__store *st, sqlite3_stmt *s);
/* Prepares (cached), binds ?1 = a and, when the statement has a second parameter, ?2 = b,
 * and runs a statement that returns no rows: SOUK_OK or an error code. */
int souk__exec_ids(souk__store *st, const char *sql, int64_t a, int64_t b);
/* Maps an SQLite result code to a SOUK_E* code, remembering the message. */
int souk__store_err(souk__store *st, int rc);
const char *souk__store_errmsg(const souk__store *st);
int64_t souk__store_changes(souk__store *st);
int64_t souk__store_last_rowid(souk__store *st);

int souk__store_begin(souk__store *st);
/* Loads CONVERSATION_UPDATED snapshots for every conversation the transaction touched,
 * then commits. On any failure the transaction is rolled back and `ev` cleared. */
int souk__store_commit(souk__store *st, souk__evlist *ev);
void souk__store_rollback(souk__store *st, souk__evlist *ev);

/* state table */
int souk__state_get_text(souk__store *st, const char *key, char **out); /* *out NULL if unset */
int souk__state_set_text(souk__store *st, const char *key, const char *value);
int souk__state_get_u64(souk__store *st, const char *key, uint64_t *out); /* 0 if unset */
int souk__state_set_u64(souk__store *st, const char *key, uint64_t value);
int souk__state_delete(souk__store *st, const char *key);
/* Binds the store to its user (first welcome); SOUK_EUSER if bound to another. */
int souk__store_bind_user(souk__store *st, const char *user_id);

/* snapshots and listings (any connection) */
int souk__load_message(souk__store *st, int64_t id, souk_message **out);
int souk__load_conversation(souk__store *st, int64_t id, souk_conversation **out);
int souk__list_messages(souk__store *st, int64_t conv_id, int64_t anchor, int direction,
			unsigned limit, souk_message_list **out);
int souk__list_conversations(souk__store *st, souk_conversation_list **out);
int souk__load_push(souk__store *st, int64_t id, souk_push **out);
/* The `limit` (0: 50, at most 500) most recent pushes, newest first. */
int souk__list_pushes(souk__store *st, unsigned limit, souk_push_list **out);
/* Appends an event of `type` carrying a snapshot of message `id`. */
int souk__emit_message(souk__store *st, souk__evlist *ev, int type, int64_t id);
/* As souk__emit_message, for a snapshot the caller built (takes `m`, freed on failure):
 * it must equal what souk__load_message would read back. */
int souk__emit_snapshot(souk__evlist *ev, int type, souk_message *m);
/* Sets m->content, content_kind and text from an encoded Content as a row stores it
 * (`blob` NULL for an empty one: no content); *oom set when out of memory. */
void souk__message_set_content(souk_message *m, const void *blob, size_t len, int *oom);

/* ---- conversations (sync.c) ------------------------------------------------------------ */

/* Local id of the support conversation, created (without a server id) if needed. */
int souk__conv_open_support(souk__store *st, int64_t *out, souk__evlist *ev);
/* Conversation needing OpenConversation{SUPPORT}: 1 and *id if the support conversation
 * has no server id yet, else 0. */
int souk__conv_support_unconfirmed(souk__store *st, int64_t *id);
int souk__conv_exists(souk__store *st, int64_t conv_id);
/* Recomputes conversations.unread_count (incoming messages after read_up_to): after
 * read_up_to moved, or messages moved between conversations (store.c). */
int souk__conv_recount_unread(souk__store *st, int64_t conv_id);
/* Moves the user's read position up to message `up_to_msg` (0: the newest). */
int souk__conv_mark_read(souk__store *st, int64_t conv_id, int64_t up_to_msg, souk__evlist *ev);
/* Read positions not yet confirmed by the server, to (re)send as MarkRead. */
typedef struct souk__read_mark {
	char *conv_server_id;
	uint64_t up_to;
} souk__read_mark;
int souk__conv_unsent_reads(souk__store *st, souk__read_mark **out, size_t *n);
void souk__read_marks_free(souk__read_mark *m, size_t n);
/* Server id -> local id of a conversation (SOUK_ENOTFOUND when unknown). */
int souk__conv_by_server_id(souk__store *st, const char *server_id, int64_t *out);
int souk__conv_server_id(souk__store *st, int64_t conv_id, char **out); /* *out may be NULL */

/* ---- outbox (outbox.c) ----------------------------------------------------------------- */

/* In one transaction: the message (status PENDING, a fresh random client message id) and
 * its outbox entry. `content` is an encoded souk.v1.Content. */
int souk__outbox_add(souk__store *st, int64_t conv_id, const uint8_t *content, size_t len,
		     int64_t now_ms, int64_t *out_id, souk__evlist *ev);

/* The first outbox entry of each conversation: what may be sent next. */
typedef struct souk__outbox_head {
	int64_t msg_id;
	int64_t conv_id;
	char *conv_server_id; /* NULL: the conversation is not confirmed yet */
	uint8_t cmid[16];
	uint8_t *content;
	size_t content_len;
	int64_t next_attempt_ms; /* wall clock */
	unsigned attempts;
} souk__outbox_head;
int souk__outbox_heads(souk__store *st, souk__outbox_head **out, size_t *n);
void souk__outbox_heads_free(souk__outbox_head *h, size_t n);
/* A transient refusal: try again no earlier than `next_ms`. */
int souk__outbox_defer(souk__store *st, int64_t msg_id, int64_t next_ms);
/* A permanent refusal: FAILED with the server's code and reason; out of the outbox. */
int souk__outbox_fail(souk__store *st, int64_t msg_id, int code, const char *reason,
		      souk__evlist *ev);
int souk__outbox_resend(souk__store *st, int64_t msg_id, souk__evlist *ev);
int souk__outbox_delete_failed(souk__store *st, int64_t msg_id, souk__evlist *ev);
int souk__outbox_count(souk__store *st, size_t *out);

/* ---- the shopping context waiting for the server (context_queue.c) ---------------------- */

/* Replaces the conversation's context (encoded ShoppingContext) with a new revision that is
 * not confirmed yet. SOUK_ENOTFOUND: no such conversation. */
int souk__context_put(souk__store *st, int64_t conv_id, const uint8_t *blob, size_t len,
		      int64_t now_ms);
/* Contexts not confirmed yet, with their conversation's server id (NULL: not known yet). */
typedef struct souk__context_pending {
	int64_t conv_id;
	char *conv_server_id;
	int64_t revision;
	uint8_t *blob;
	size_t len;
	unsigned attempts;
	int64_t next_attempt_ms; /* wall clock */
} souk__context_pending;
int souk__context_pending_list(souk__store *st, souk__context_pending **out, size_t *n);
void souk__context_pending_free(souk__context_pending *p, size_t n);
/* The server confirmed `revision`: CONTEXT_UPDATED if it is still the latest. */
int souk__context_confirm(souk__store *st, int64_t conv_id, int64_t revision, souk__evlist *ev);
/* The server refused `revision` for good: dropped, CONTEXT_FAILED if it was the latest. */
int souk__context_fail(souk__store *st, int64_t conv_id, int64_t revision, int wire_code,
		       const char *reason, souk__evlist *ev);
/* A transient refusal: try again no earlier than `next_ms`. */
int souk__context_defer(souk__store *st, int64_t conv_id, int64_t revision, int64_t next_ms);

/* ---- sync (sync.c) ----------------------------------------------------------------------- */

typedef struct souk__apply_result {
	uint64_t last_applied; /* the store's position after the call */
	size_t applied;	       /* events applied by this call */
	size_t skipped;	       /* events at or below the position: already applied */
	int gap;	       /* an event after a missing one was seen (not applied) */
	size_t conversations;  /* conversation events applied (server ids may have appeared) */
} souk__apply_result;

/* Applies consecutive events in one transaction: those at or below the stored position
 * are skipped, the rest applied in order until a gap. `me` is the user's id. */
int souk__sync_apply(souk__store *st, const char *me, Souk__V1__Event *const *events, size_t n,
		     souk__apply_result *res, souk__evlist *ev);
/* Applies a SendAck (reconciles the pending copy). */
int souk__sync_ack(souk__store *st, const char *me, const Souk__V1__SendAck *ack, souk__evlist *ev);
/* Applies the answer to OpenConversation{SUPPORT}. */
int souk__sync_support_info(souk__store *st, const Souk__V1__ConversationInfo *ci,
			    souk__evlist *ev);

#endif
