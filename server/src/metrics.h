/* metrics.h — process-wide counters for /metrics (Prometheus text format).
 * Written from the loop thread and the storage thread: every field is atomic. */
#ifndef SOUK_SERVER_METRICS_H
#define SOUK_SERVER_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

enum { METRICS_BATCH_BUCKETS = 9, METRICS_LAT_BUCKETS = 10 };

typedef struct souk_metrics {
	atomic_uint_fast64_t connections_current;
	atomic_uint_fast64_t connections_total;
	atomic_uint_fast64_t connections_authenticated;
	atomic_uint_fast64_t auth_failures;
	atomic_uint_fast64_t messages_accepted;
	atomic_uint_fast64_t messages_duplicate;
	atomic_uint_fast64_t messages_rejected;
	atomic_uint_fast64_t events_delivered;
	atomic_uint_fast64_t sync_pages;
	atomic_uint_fast64_t slow_consumer_disconnects;
	atomic_uint_fast64_t frames_rejected;
	atomic_uint_fast64_t commits;
	atomic_uint_fast64_t commit_failures;
	atomic_uint_fast64_t commit_ops_sum;
	atomic_uint_fast64_t commit_us_sum;
	atomic_uint_fast64_t batch_bucket[METRICS_BATCH_BUCKETS]; /* cumulative le buckets */
	atomic_uint_fast64_t lat_bucket[METRICS_LAT_BUCKETS];
	atomic_uint_fast64_t storage_queue;
} souk_metrics;

extern souk_metrics g_metrics;

void metrics_observe_commit(size_t ops, int64_t micros);
/* Renders the Prometheus exposition into buf; returns its length (truncated to cap). */
size_t metrics_render(char *buf, size_t cap);

#endif
