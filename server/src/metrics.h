/* metrics.h — process-wide counters for /metrics (Prometheus text format).
 * Written from the loop thread and the storage thread: every field is atomic. */
#ifndef SOUK_SERVER_METRICS_H
#define SOUK_SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { METRICS_HIST_MAX_BUCKETS = 15 };

/* The stages of one send (docs/operations.md, "/metrics"), each a histogram in seconds. */
typedef enum metrics_stage {
	METRICS_SEND_QUEUE,	 /* decoded SendRequest -> start of its storage group */
	METRICS_SEND_GROUP,	 /* group start -> COMMIT returned */
	METRICS_SEND_COMPLETION, /* COMMIT returned -> the loop thread runs the completion */
	METRICS_SEND_ACK,	 /* decoded SendRequest -> SendAck handed to lws_write */
	METRICS_EVENT_WRITE,	 /* completion -> live EventBatch handed to lws_write, per device */
	METRICS_STAGES
} metrics_stage;

/* Every histogram of /metrics. One observation costs two relaxed atomic adds: a bucket
 * counts the observations between its lower and upper bound (the last one those over the
 * highest bound) and the buckets are cumulated when /metrics is rendered, so within one
 * scrape the le buckets never decrease and _count is exactly the +Inf bucket. */
typedef struct metrics_hist {
	atomic_uint_fast64_t bucket[METRICS_HIST_MAX_BUCKETS + 1];
	atomic_uint_fast64_t sum;
} metrics_hist;

typedef struct souk_metrics {
	atomic_uint_fast64_t connections_current;
	atomic_uint_fast64_t connections_total;
	atomic_uint_fast64_t connections_authenticated;
	atomic_uint_fast64_t auth_failures;
	atomic_uint_fast64_t messages_accepted;
	atomic_uint_fast64_t messages_duplicate;
	atomic_uint_fast64_t messages_rejected;
	atomic_uint_fast64_t events_delivered;
	atomic_uint_fast64_t acks_received;
	atomic_uint_fast64_t sync_pages;
	atomic_uint_fast64_t slow_consumer_disconnects;
	atomic_uint_fast64_t frames_rejected;
	atomic_uint_fast64_t commit_failures;
	atomic_uint_fast64_t storage_queue;
	metrics_hist commit_batch;	    /* operations per group commit */
	metrics_hist commit_seconds;	    /* BEGIN to COMMIT returned, in microseconds */
	metrics_hist wal_sync;		    /* a pipelined commit sync's fdatasync, microseconds */
	metrics_hist stage[METRICS_STAGES]; /* in microseconds */
} souk_metrics;

extern souk_metrics g_metrics;

/* Records one group commit of `ops` operations that took `micros` (storage thread). */
void metrics_observe_commit(size_t ops, int64_t micros);
/* Records one fdatasync of the pipelined commit sync (sync thread). */
void metrics_observe_wal_sync(int64_t micros);
/* Records one send's stage duration (any thread; a negative one counts as 0). */
void metrics_observe_stage(metrics_stage stage, int64_t micros);
/* Renders the Prometheus exposition into buf; returns its length (truncated to cap). */
size_t metrics_render(char *buf, size_t cap);

#endif
