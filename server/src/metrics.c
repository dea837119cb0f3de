/* metrics.c — counters and the Prometheus text rendering of /metrics. */
#include "metrics.h"

#include <stdio.h>

souk_metrics g_metrics;

/* A histogram's upper bounds, in the unit it is observed in, and the divisor that turns
 * that unit into the one printed (microseconds observed, seconds printed). */
typedef struct hist_spec {
	const char *name, *help;
	const int64_t *le;
	int n;
	int64_t per_unit;
} hist_spec;

static const int64_t batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const int64_t commit_le_us[] = {500,   1000,  2000,   5000,   10000,
				       20000, 50000, 100000, 250000, 1000000};
static const int64_t stage_le_us[] = {500,   1000,   2000,   5000,   10000,  20000,  30000,  50000,
				      75000, 100000, 150000, 200000, 250000, 500000, 1000000};

#define SPEC(name, help, le, per_unit)                                                             \
	{                                                                                          \
		name, help, le, (int)(sizeof(le) / sizeof(le[0])), per_unit                        \
	}

static const hist_spec commit_batch_spec =
	SPEC("souk_commit_batch_size", "Operations per group commit.", batch_le, 1);
static const hist_spec commit_seconds_spec =
	SPEC("souk_commit_seconds",
	     "Time from BEGIN to COMMIT returned (durable there unless the commit sync is "
	     "pipelined: then see souk_wal_sync_seconds).",
	     commit_le_us, 1000000);
static const hist_spec wal_sync_spec =
	SPEC("souk_wal_sync_seconds",
	     "Pipelined commit sync: one fdatasync of the WAL, covering every group committed "
	     "since the previous one.",
	     commit_le_us, 1000000);
#define STAGE(name, help) SPEC(name, "Per accepted send: " help, stage_le_us, 1000000)
static const hist_spec stage_spec[METRICS_STAGES] = {
	[METRICS_SEND_QUEUE] = STAGE("souk_send_queue_seconds",
				     "decoded SendRequest to the start of the storage group that "
				     "runs it."),
	[METRICS_SEND_GROUP] =
		STAGE("souk_send_group_seconds", "start of its storage group to COMMIT returned."),
	[METRICS_SEND_COMPLETION] = STAGE("souk_send_completion_seconds",
					  "COMMIT returned to the loop thread running its "
					  "completion."),
	[METRICS_SEND_ACK] = STAGE("souk_send_ack_seconds",
				   "decoded SendRequest to its SendAck handed to lws_write."),
	[METRICS_EVENT_WRITE] = SPEC("souk_event_write_seconds",
				     "Per live device of a recipient: a send's completion to the "
				     "EventBatch carrying it handed to lws_write.",
				     stage_le_us, 1000000),
};
_Static_assert(sizeof(stage_le_us) / sizeof(stage_le_us[0]) <= METRICS_HIST_MAX_BUCKETS,
	       "raise METRICS_HIST_MAX_BUCKETS");

/* a negative value counts as 0; a value equal to a bound is in that bound's bucket */
static void hist_observe(metrics_hist *h, const hist_spec *sp, int64_t v)
{
	if (v < 0)
		v = 0;
	int i = 0;
	while (i < sp->n && v > sp->le[i])
		i++;
	atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, (uint64_t)v, memory_order_relaxed);
}

void metrics_observe_stage(metrics_stage stage, int64_t micros)
{
	hist_observe(&g_metrics.stage[stage], &stage_spec[stage], micros);
}

void metrics_observe_wal_sync(int64_t micros)
{
	hist_observe(&g_metrics.wal_sync, &wal_sync_spec, micros);
}

void metrics_observe_commit(size_t ops, int64_t micros)
{
	hist_observe(&g_metrics.commit_batch, &commit_batch_spec, (int64_t)ops);
	hist_observe(&g_metrics.commit_seconds, &commit_seconds_spec, micros);
}

#define LOAD(f) ((unsigned long long)atomic_load(&g_metrics.f))
#define P(...)                                                                                     \
	do {                                                                                       \
		if (n < cap)                                                                       \
			n += (size_t)snprintf(buf + n, cap - n, __VA_ARGS__);                      \
	} while (0)

static size_t hist_render(char *buf, size_t n, size_t cap, const hist_spec *sp,
			  const metrics_hist *h)
{
	const char *name = sp->name;
	P("# HELP %s %s\n# TYPE %s histogram\n", name, sp->help, name);
	unsigned long long cum = 0;
	for (int i = 0; i < sp->n; i++) {
		cum += (unsigned long long)atomic_load(&h->bucket[i]);
		P("%s_bucket{le=\"%g\"} %llu\n", name, (double)sp->le[i] / (double)sp->per_unit,
		  cum);
	}
	cum += (unsigned long long)atomic_load(&h->bucket[sp->n]);
	P("%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	unsigned long long sum = (unsigned long long)atomic_load(&h->sum);
	if (sp->per_unit == 1)
		P("%s_sum %llu\n", name, sum);
	else
		P("%s_sum %.6f\n", name, (double)sum / (double)sp->per_unit);
	P("%s_count %llu\n", name, cum);
	return n;
}

size_t metrics_render(char *buf, size_t cap)
{
	size_t n = 0;
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

	n = hist_render(buf, n, cap, &commit_batch_spec, &g_metrics.commit_batch);
	n = hist_render(buf, n, cap, &commit_seconds_spec, &g_metrics.commit_seconds);
	n = hist_render(buf, n, cap, &wal_sync_spec, &g_metrics.wal_sync);
	for (int s = 0; s < METRICS_STAGES; s++)
		n = hist_render(buf, n, cap, &stage_spec[s], &g_metrics.stage[s]);
	return n < cap ? n : cap - 1;
}
