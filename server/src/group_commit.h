/*
 * group_commit.h — the storage thread. It alone touches the database: it drains every
 * queued operation into one transaction, commits once (one fsync for the whole group),
 * runs the queued reads, and hands the finished operations back to the event loop thread
 * through a done list plus a wake callback (lws_cancel_service in soukd).
 */
#ifndef SOUK_SERVER_GROUP_COMMIT_H
#define SOUK_SERVER_GROUP_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "rest.h"
#include "store.h"

typedef enum gc_kind {
	/* writes: run inside the group transaction */
	GC_SEND,
	GC_OPEN_SUPPORT,
	GC_OPEN_CONVERSATION,
	GC_MARK_READ,
	GC_DEVICE_CONNECT,
	GC_DEVICE_ACK,
	GC_UPDATE_CONTEXT,
	GC_WEBHOOK_RESULT,
	GC_REST, /* a write or a read, after REST_IS_WRITE(rest->kind) */
	/* reads: run after the group commit */
	GC_READ_EVENTS,
	GC_LOAD_APP,
	GC_WEBHOOK_DUE,
} gc_kind;

typedef struct gc_op {
	struct gc_op *next;
	gc_kind kind;
	uint64_t conn_id;    /* who asked (0: nobody waits) */
	uint64_t request_id; /* Frame.request_id to answer */
	int internal;	     /* read issued by the server itself (catch-up), not a request */
	char app_id[STORE_ID_MAX];
	char user_id[STORE_ID_MAX];
	char device_id[STORE_ID_MAX];
	char conversation_id[STORE_ID_MAX];

	/* inputs */
	Souk__V1__Frame *frame; /* GC_SEND: the decoded frame, owned by the op */
	uint64_t seq;		/* ack seq, mark-read position, read after_seq, last_applied */
	uint32_t limit;
	int platform;
	char sdk_version[SOUK_WIRE_MAX_SHORT + 1];
	int64_t now_ms;
	int64_t t_recv_us; /* GC_SEND: souk_mono_us() when the loop had the decoded request */

	/* outputs */
	int64_t t_group_us;  /* writes: souk_mono_us() at the start of their group */
	int64_t t_commit_us; /* writes: souk_mono_us() when the group's COMMIT returned */
	int status;	     /* 0, > 0 a souk.v1 ErrorCode, < 0 storage failure */
	store_send_res send;
	store_conv *conv;	     /* GC_OPEN_*: malloc'ed result */
	store_events events;	     /* GC_READ_EVENTS */
	store_app *app;		     /* GC_LOAD_APP: malloc'ed result */
	uint64_t head_seq;	     /* GC_DEVICE_CONNECT */
	rest_call *rest;	     /* GC_REST: owned */
	store_deliveries deliveries; /* GC_WEBHOOK_DUE */
	const char **busy; /* GC_WEBHOOK_DUE: target/conversation pairs in flight (owned) */
	size_t n_busy;
	int64_t delivery_id; /* GC_WEBHOOK_RESULT */
	int delivered, http_status;
	int64_t next_attempt_ms;
	char error[200];
	store_appends appends; /* events appended by a write, pushed after commit */
} gc_op;

typedef struct group_commit group_commit;

gc_op *gc_op_new(gc_kind kind);
void gc_op_free(gc_op *op);

/* Starts the storage thread; it owns `store` from now on. wake(ud) is called from the
 * storage thread (or the sync thread) whenever finished operations are waiting.
 * pipelined: commits leave their fdatasync to a second thread while the next group runs
 * (group_commit.c; only when the store has commit_deferred, else commits sync). */
group_commit *gc_start(souk_store *store, size_t batch_max, int pipelined, void (*wake)(void *ud),
		       void *ud);
/* Whether commits are synced by the sync thread. */
int gc_pipelined(const group_commit *gc);
/* Tests: what syncs a deferred commit instead of fdatasync (NULL: fdatasync again). */
void gc_set_sync_fn(int (*fn)(int fd));

/* Queues an operation (any thread). Never blocks on disk. */
void gc_submit(group_commit *gc, gc_op *op);

/* Takes every finished operation, oldest first (loop thread). */
gc_op *gc_take_done(group_commit *gc);

/* Operations queued or running, not yet handed back. */
size_t gc_in_flight(group_commit *gc);

/* Finishes every queued operation, stops the thread, closes the store. Finished operations
 * not yet taken are freed. */
void gc_stop(group_commit *gc);

#endif
