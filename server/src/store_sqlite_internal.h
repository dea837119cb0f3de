/*
 * store_sqlite_internal.h — what store_sqlite.c (streams, conversations, apps) and
 * store_sqlite_agent.c (REST calls, webhook outbox) share. Not used outside the SQLite
 * backend.
 */
#ifndef SOUK_SERVER_STORE_SQLITE_INTERNAL_H
#define SOUK_SERVER_STORE_SQLITE_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>

#include "store.h"

enum { SQS_Q_MAX = 32, SQA_Q_MAX = 48 };
enum {
	SQS_TX_BEGIN,
	SQS_TX_COMMIT,
	SQS_TX_ROLLBACK,
	SQS_TX_SAVEPOINT,
	SQS_TX_RELEASE,
	SQS_TX_ROLLBACK_TO,
	SQS_TX_COUNT
};

typedef struct sqlite_store {
	souk_store base;
	sqlite3 *db;
	sqlite3_stmt *q[SQS_Q_MAX];	/* store_sqlite.c, prepared at open */
	sqlite3_stmt *aq[SQA_Q_MAX];	/* store_sqlite_agent.c, prepared on first use */
	sqlite3_stmt *tx[SQS_TX_COUNT]; /* transaction control, prepared at open */
	int wal_frames;			/* frames in the WAL after the last commit (wal hook) */
	char *path;			/* of the database file */
	struct sqs_checkpointer *ckpt;	/* background checkpoints (store_sqlite.c), or NULL */
	int ckpt_failed;		/* it could not start: checkpoint on this thread */
	int ckpt_from, ckpt_rounds;	/* WAL frames when the round started; rounds so far */
	int checkpoint_frames;		/* CHECKPOINT_FRAMES (store_sqlite.c); tests lower it */
} sqlite_store;

/* A time-ordered id: prefix, 12 hex digits of the millisecond time, 20 hex digits of
 * randomness (80 bits: unguessable). Later ids sort after earlier ones, so inserts append
 * at the right edge of an index instead of landing on random leaves. 0 or -1. */
enum { SQS_TIME_ID_HEX = 32 };
int sqs_time_id(char *out, size_t cap, const char *prefix, int64_t now_ms);

void sqs_txt(sqlite3_stmt *st, int i, const char *v);
void sqs_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col);
int sqs_step_done(souk_store *s, sqlite3_stmt *st);
int sqs_append_event(souk_store *s, const char *app_id, const char *user_id, Souk__V1__Event *ev,
		     int64_t now_ms, store_appends *out);
int sqs_load_conv(souk_store *s, const char *app_id, const char *conv_id, store_conv *c);
int sqs_is_participant(souk_store *s, const char *conv_id, const char *user_id, uint64_t *read_seq);
int sqs_has_stream(int kind);
/* Appends Event{conversation} (the conversation's current state) to every stream. */
int sqs_announce_conv(souk_store *s, const char *app_id, const store_conv *c, int64_t now_ms,
		      store_appends *out);

/* store_sqlite_agent.c */
void sqa_finalize(sqlite_store *ss);
json_t *sqa_conv_json(const store_conv *c);
/* Records a webhook event for the integration in control of `conv` and one delivery per
 * matching target. Takes ownership of `data` (NULL: failure). Returns 1 when deliveries were
 * created, 0 when no target wants it, -1 on failure. */
int sqa_enqueue(souk_store *s, const char *app_id, const store_conv *conv, const char *type,
		json_t *data, int64_t now_ms);
/* The two halves of sqa_enqueue, for a caller that builds `data` only when some target
 * wants the event: the active targets of `controller` subscribed to `type` (at most cap;
 * returns how many, or -1), then the event and its deliveries to those targets. */
enum { SQA_MAX_TARGETS = 16 };
int sqa_targets(souk_store *s, const char *app_id, const char *controller, const char *type,
		char (*targets)[STORE_ID_MAX], size_t cap);
int sqa_enqueue_to(souk_store *s, const char *app_id, const store_conv *conv, const char *type,
		   json_t *data, int64_t now_ms, char (*targets)[STORE_ID_MAX], size_t nt);
int sqa_update_context(souk_store *s, const char *app_id, const char *user_id, const char *conv_id,
		       const Souk__V1__ShoppingContext *ctx, int64_t now_ms);
int sqa_rest(souk_store *s, rest_call *call, store_appends *out);
int sqa_webhook_due(souk_store *s, int64_t now_ms, size_t limit, const char *const *busy_keys,
		    size_t n_busy, store_deliveries *out);
int sqa_webhook_result(souk_store *s, int64_t delivery_id, int delivered, int http_status,
		       const char *error, int64_t now_ms, int64_t next_attempt_ms);

#endif
