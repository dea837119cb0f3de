/* metrics.c — counters and the Prometheus text rendering of /metrics. */
#include "metrics.h"

#include <stdio.h>

souk_metrics g_metrics;

static const double batch_le[METRICS_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const double lat_le[METRICS_LAT_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01,
						   0.02,   0.05,  0.1,	 0.25,	1};

void metrics_observe_commit(size_t ops, int64_t micros)
{
	atomic_fetch_add(&g_metrics.commits, 1);
	atomic_fetch_add(&g_metrics.commit_ops_sum, ops);
	atomic_fetch_add(&g_metrics.commit_us_sum, (uint64_t)micros);
	for (int i = 0; i < METRICS_BATCH_BUCKETS; i++)
		if ((double)ops <= batch_le[i])
			atomic_fetch_add(&g_metrics.batch_bucket[i], 1);
	for (int i = 0; i < METRICS_LAT_BUCKETS; i++)
		if ((double)micros / 1e6 <= lat_le[i])
			atomic_fetch_add(&g_metrics.lat_bucket[i], 1);
}

#define LOAD(f) ((unsigned long long)atomic_load(&g_metrics.f))

size_t metrics_render(char *buf, size_t cap)
{
	size_t n = 0;
#define P(...)                                                                                     \
	do {                                                                                       \
		if (n < cap)                                                                       \
			n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);                      \
	} while (0)
#define COUNTER(name, help, field)                                                                 \
	P("# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", LOAD(field))
#define GAUGE(name, help, field)                                                                   \
	P("# HELP " name " " help "\n# TYPE " name " gauge\n" name " %llu\n", LOAD(field))

	GAUGE("souk_connections", "Open WebSocket connections.", connections_current);
	COUNTER("souk_connections_total", "WebSocket connections accepted.", connections_total);
	COUNTER("souk_connections_authenticated_total", "Connections that completed hello.",
		connections_authenticated);
	COUNTER("souk_auth_failures_total", "Hellos refused.", auth_failures);
	COUNTER("souk_messages_accepted_total", "Messages made durable and acked.",
		messages_accepted);
	COUNTER("souk_messages_duplicate_total", "Sends answered from an earlier ack.",
		messages_duplicate);
	COUNTER("souk_messages_rejected_total", "Sends refused with an error.", messages_rejected);
	COUNTER("souk_events_delivered_total", "Events written to client connections.",
		events_delivered);
	COUNTER("souk_sync_pages_total", "Sync pages served.", sync_pages);
	COUNTER("souk_slow_consumer_disconnects_total",
		"Connections closed because their send queue overflowed.",
		slow_consumer_disconnects);
	COUNTER("souk_frames_rejected_total", "Client frames refused by validation.",
		frames_rejected);
	COUNTER("souk_commit_failures_total", "Group commits that failed.", commit_failures);
	GAUGE("souk_storage_queue", "Operations waiting for the storage thread.", storage_queue);

	P("# HELP souk_commit_batch_size Operations per group commit.\n"
	  "# TYPE souk_commit_batch_size histogram\n");
	for (int i = 0; i < METRICS_BATCH_BUCKETS; i++)
		P("souk_commit_batch_size_bucket{le=\"%g\"} %llu\n", batch_le[i],
		  LOAD(batch_bucket[i]));
	P("souk_commit_batch_size_bucket{le=\"+Inf\"} %llu\n", LOAD(commits));
	P("souk_commit_batch_size_sum %llu\nsouk_commit_batch_size_count %llu\n",
	  LOAD(commit_ops_sum), LOAD(commits));

	P("# HELP souk_commit_seconds Time from BEGIN to durable COMMIT.\n"
	  "# TYPE souk_commit_seconds histogram\n");
	for (int i = 0; i < METRICS_LAT_BUCKETS; i++)
		P("souk_commit_seconds_bucket{le=\"%g\"} %llu\n", lat_le[i], LOAD(lat_bucket[i]));
	P("souk_commit_seconds_bucket{le=\"+Inf\"} %llu\n", LOAD(commits));
	P("souk_commit_seconds_sum %.6f\nsouk_commit_seconds_count %llu\n",
	  (double)LOAD(commit_us_sum) / 1e6, LOAD(commits));
	return n < cap ? n : cap - 1;
}
