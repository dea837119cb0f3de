/*
 * store.h — the storage interface of soukd: a struct of function pointers so that the
 * embedded SQLite backend (store_sqlite.c) and a PostgreSQL backend can sit behind it.
 *
 * Threading: a store handle is used by one thread at a time. In soukd that is the storage
 * thread (group_commit.c); soukctl uses its own handle synchronously.
 *
 * Return values of every operation: 0 on success; > 0 a souk.v1 ErrorCode refusing the
 * request (nothing was written by it); < 0 a storage failure (the caller rolls back).
 *
 * Write operations run inside a transaction opened by begin(); each is wrapped by the
 * caller in savepoint()/release() so that one refused request leaves the rest of a group
 * commit intact. Events appended by a write are reported in `store_appends` so that the
 * loop thread can push them to live connections once the commit is durable.
 *
 * send() and device_ack() promise more, which lets group_commit.c run them without a
 * savepoint: they refuse (> 0) only before writing anything, and they may be run again
 * after a rollback (their outputs are overwritten, the caller clears `store_appends`).
 * A backend that cannot keep this promise must say so to group_commit.c.
 */
#ifndef SOUK_SERVER_STORE_H
#define SOUK_SERVER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "souk_wire/wire.h"

#define STORE_ID_MAX (SOUK_WIRE_MAX_ID + 1)

typedef struct souk_store souk_store;
typedef struct rest_call rest_call;
typedef struct store_deliveries store_deliveries;

typedef struct store_blob {
	uint8_t *data;
	size_t len;
} store_blob;

/* One event appended to a user's stream by a write. */
typedef struct store_appended {
	char user_id[STORE_ID_MAX];
	uint64_t seq;
	store_blob event; /* encoded souk.v1.Event, seq included; malloc'ed */
} store_appended;

typedef struct store_appends {
	store_appended *v;
	size_t n, cap;
} store_appends;

void store_appends_clear(store_appends *a);
int store_appends_push(store_appends *a, const char *user_id, uint64_t seq, store_blob ev);

typedef struct store_send_req {
	const char *app_id;
	const char *user_id;
	const char *device_id;
	const uint8_t *client_msg_id; /* 16 bytes */
	const char *conversation_id;
	const Souk__V1__Content *content;
	int sender_kind; /* Souk__V1__SenderKind */
	const char *sender_name;
	const char *sender_avatar_url;
	int64_t now_ms;
} store_send_req;

typedef struct store_send_res {
	char message_id[STORE_ID_MAX];
	uint64_t seq;
	uint64_t conv_seq;
	int64_t server_time_ms;
	int duplicate;
	char conversation_id[STORE_ID_MAX]; /* of the original message, when duplicate */
} store_send_res;

enum { STORE_MAX_PARTICIPANTS = 32 };

typedef struct store_conv {
	char conversation_id[STORE_ID_MAX];
	char owner[STORE_ID_MAX];      /* the shopper of a support conversation */
	char controller[STORE_ID_MAX]; /* integration in control (switchboard) */
	char assignee[STORE_ID_MAX];
	int kind;
	int status;
	uint64_t last_conv_seq;
	int64_t created_ms;
	int created;
	size_t n_participants;
	struct {
		char user_id[STORE_ID_MAX];
		int kind;
	} participants[STORE_MAX_PARTICIPANTS];
} store_conv;

/* Fills `info` from `c` (backend-neutral); parts/pp hold STORE_MAX_PARTICIPANTS entries
 * and must outlive `info`, which borrows every string from `c`. */
void store_conv_to_proto(const store_conv *c, Souk__V1__ConversationInfo *info,
			 Souk__V1__Participant *parts, Souk__V1__Participant **pp);

typedef struct store_events {
	store_blob *v;
	uint64_t *seq;
	size_t n;
	uint64_t head_seq;
	int has_more;
} store_events;

void store_events_free(store_events *e);

enum { STORE_MAX_KEYS = 8 };

typedef struct store_key {
	char kid[STORE_ID_MAX];
	char alg[16]; /* "HS256" or "ES256" */
	char *key;    /* secret or PEM public key; malloc'ed */
	size_t key_len;
} store_key;

typedef struct store_app {
	char app_id[STORE_ID_MAX];
	char name[256];
	char audience[256]; /* "" = not checked */
	char issuer[256];   /* "" = not checked */
	size_t n_keys;
	store_key keys[STORE_MAX_KEYS];
} store_app;

void store_app_clear(store_app *a);

typedef struct store_app_created {
	char app_id[STORE_ID_MAX];
	char api_key[80];
	char jwt_secret[80];
} store_app_created;

struct souk_store {
	const struct souk_store_ops *ops;
};

struct souk_store_ops {
	const char *name;
	void (*close)(souk_store *s);

	/* transactions */
	int (*begin)(souk_store *s);
	int (*commit)(souk_store *s);
	/* commit, leaving the sync that makes it durable to the caller (the pipelined commit
	 * sync, group_commit.c): on success *sync_fd is a descriptor to fdatasync() before
	 * anything may depend on the commit, or -1 if the commit is durable already. Callable
	 * only from the thread that runs the transactions; the fdatasync from any thread. May
	 * be NULL (commit syncs). */
	int (*commit_deferred)(souk_store *s, int *sync_fd);
	void (*rollback)(souk_store *s);
	int (*savepoint)(souk_store *s);
	void (*release)(souk_store *s, int ok);
	/* housekeeping between groups, outside any transaction, after the group's results
	 * were handed back (SQLite: the WAL checkpoint); may be NULL */
	int (*maintain)(souk_store *s);

	/* writes (inside begin/commit) */
	int (*send)(souk_store *s, const store_send_req *req, store_send_res *res,
		    store_appends *out);
	int (*open_support)(souk_store *s, const char *app_id, const char *user_id, int64_t now_ms,
			    store_conv *res, store_appends *out);
	int (*open_conversation)(souk_store *s, const char *app_id, const char *user_id,
				 const char *conversation_id, store_conv *res);
	int (*mark_read)(souk_store *s, const char *app_id, const char *user_id,
			 const char *conversation_id, uint64_t up_to, int64_t now_ms,
			 store_appends *out);
	int (*device_connect)(souk_store *s, const char *app_id, const char *user_id,
			      const char *device_id, int platform, const char *sdk_version,
			      uint64_t last_applied, int64_t now_ms, uint64_t *head_seq);
	int (*device_ack)(souk_store *s, const char *app_id, const char *user_id,
			  const char *device_id, uint64_t seq, int64_t now_ms);

	/* reads (outside transactions) */
	int (*read_events)(souk_store *s, const char *app_id, const char *user_id,
			   uint64_t after_seq, uint32_t limit, store_events *out);
	int (*load_app)(souk_store *s, const char *app_id, store_app *out);

	/* administration (soukctl) */
	int (*app_create)(souk_store *s, const char *name, const char *audience, const char *issuer,
			  store_app_created *out);
	int (*app_add_key)(souk_store *s, const char *app_id, const char *kid, const char *alg,
			   const char *key, size_t key_len);
	int (*app_revoke_key)(souk_store *s, const char *app_id, const char *kid);
	int (*app_list)(souk_store *s, void (*each)(const store_app *app, void *ud), void *ud);

	/* the shopper attaches a shopping context to a conversation (replaces the previous) */
	int (*update_context)(souk_store *s, const char *app_id, const char *user_id,
			      const char *conversation_id, const Souk__V1__ShoppingContext *ctx,
			      int64_t now_ms);

	/* agent backend (store_sqlite_agent.c): a REST call, run inside the group
	 * transaction when REST_IS_WRITE(call->kind), else as a read */
	int (*rest)(souk_store *s, rest_call *call, store_appends *out);
	/* webhook outbox: due deliveries (the oldest pending one per target and conversation,
	 * so that a conversation's events go out in order), skipping the `n_busy` delivery
	 * target/conversation pairs named by busy_keys ("target_id/conversation_id") */
	int (*webhook_due)(souk_store *s, int64_t now_ms, size_t limit,
			   const char *const *busy_keys, size_t n_busy, store_deliveries *out);
	/* records an attempt: delivered, or retry at next_attempt_ms, or failed when
	 * next_attempt_ms is 0 */
	int (*webhook_result)(souk_store *s, int64_t delivery_id, int delivered, int http_status,
			      const char *error, int64_t now_ms, int64_t next_attempt_ms);
};

/* Opens (creating and migrating) the SQLite store at data_dir/souk.db. On failure
 * returns NULL and writes a reason into err. */
souk_store *store_sqlite_open(const char *data_dir, char *err, size_t errlen);

/* Test-only hook (SOUK_TEST_UNSAFE_EARLY_ACK builds only): see group_commit.c. */

#endif
