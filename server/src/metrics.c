/* metrics.c — counters and the Prometheus text rendering of /metrics. */
#include "metrics.h"

#include <stdio.h>

souk_metrics g_metrics;

static const double batch_le[METRICS_BATCH_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const double lat_le[METRICS_LAT_BUCKETS] = {0.0005, 0.001, 0.002, 0.005, 0.01,
						   0.02,   0.05,  0.1,	 0.25,	1};

/* upper bounds of the stage buckets, in microseconds (printed in seconds) */
static const int64_t stage_le_us[METRICS_STAGE_BUCKETS] = {500,	   1000,   2000,   5000,   10000,
							   20000,  30000,  50000,  75000,  100000,
							   150000, 200000, 250000, 500000, 1000000};

void metrics_observe_stage(metrics_stage stage, int64_t micros)
{
	if (micros < 0)
		micros = 0;
	int i = 0;
	while (i < METRICS_STAGE_BUCKETS && micros > stage_le_us[i])
		i++;
	metrics_hist *h = &g_metrics.stage[stage];
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (uint64_t)micros, memory_order_relaxed);
}

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
	COUNTER("souk_acks_total", "Ack frames received from devices.", acks_received);
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

	static const struct {
		const char *name, *help;
	} stages[METRICS_STAGES] = {
		[METRICS_SEND_QUEUE] =
			{"souk_send_queue_seconds",
			 "Per accepted send: decoded SendRequest to the start of the "
			 "storage group that runs it."},
		[METRICS_SEND_GROUP] = {"souk_send_group_seconds",
					"Per accepted send: start of its storage group to COMMIT "
					"returned."},
		[METRICS_SEND_COMPLETION] =
			{"souk_send_completion_seconds",
			 "Per accepted send: COMMIT returned to the loop thread "
			 "running its completion."},
		[METRICS_SEND_ACK] = {"souk_send_ack_seconds",
				      "Per accepted send: decoded SendRequest to its SendAck "
				      "handed to lws_write."},
		[METRICS_EVENT_WRITE] = {"souk_event_write_seconds",
					 "Per live device of a recipient: a send's completion to "
					 "the EventBatch carrying it handed to lws_write."},
	};
	for (int s = 0; s < METRICS_STAGES; s++) {
		const metrics_hist *h = &g_metrics.stage[s];
		const char *name = stages[s].name;
		P("# HELP %s %s\n# TYPE %s histogram\n", name, stages[s].help, name);
		unsigned long long cum = 0;
		for (int i = 0; i < METRICS_STAGE_BUCKETS; i++) {
			cum += (unsigned long long)atomic_load(&h->bucket[i]);
			P("%s_bucket{le=\"%g\"} %llu\n", name, (double)stage_le_us[i] / 1e6, cum);
		}
		/* _count is the +Inf bucket, so the two always agree within one scrape */
		cum += (unsigned long long)atomic_load(&h->bucket[METRICS_STAGE_BUCKETS]);
		P("%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
		P("%s_sum %.6f\n%s_count %llu\n", name, (double)atomic_load(&h->sum_us) / 1e6, name,
		  cum);
	}
	return n < cap ? n : cap - 1;
}
