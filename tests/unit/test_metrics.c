/* Unit tests of /metrics' histograms: what a Prometheus scrape of them must show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "metrics.h"
#include "unit_util.h"

static char text[1 << 16];

static void render(void)
{
	size_t n = metrics_render(text, sizeof(text));
	assert_true(n > 0 && n < sizeof(text) - 1);
	assert_int_equal(strlen(text), n);
}

/* the value of the line that starts with `line` followed by a space */
static double value(const char *line)
{
	char key[256];
	snprintf(key, sizeof(key), "\n%s ", line);
	const char *p = strstr(text, key);
	if (!p)
		fail_msg("no line %s in /metrics", line);
	return strtod(p + strlen(key), NULL);
}

static void bounds_and_counts(void **state)
{
	(void)state;
	memset(&g_metrics, 0, sizeof(g_metrics));
	/* 0.5 ms is the first bucket's upper bound: 500 us belongs to it, 501 us to the next */
	metrics_observe_stage(METRICS_SEND_ACK, 500);
	metrics_observe_stage(METRICS_SEND_ACK, 501);
	metrics_observe_stage(METRICS_SEND_ACK, -7);	  /* a clock step back: counts as 0 */
	metrics_observe_stage(METRICS_SEND_ACK, 3000000); /* over the last bound: +Inf only */
	render();
	assert_true(value("souk_send_ack_seconds_bucket{le=\"0.0005\"}") == 2);
	assert_true(value("souk_send_ack_seconds_bucket{le=\"0.001\"}") == 3);
	assert_true(value("souk_send_ack_seconds_bucket{le=\"1\"}") == 3);
	assert_true(value("souk_send_ack_seconds_bucket{le=\"+Inf\"}") == 4);
	assert_true(value("souk_send_ack_seconds_count") == 4);
	assert_float_equal(value("souk_send_ack_seconds_sum"), 3.001001, 1e-9);
	/* the other stages are there, empty */
	assert_true(value("souk_send_queue_seconds_count") == 0);
	assert_true(value("souk_event_write_seconds_bucket{le=\"+Inf\"}") == 0);
}

static void commits(void **state)
{
	(void)state;
	memset(&g_metrics, 0, sizeof(g_metrics));
	metrics_observe_commit(1, 400);
	metrics_observe_commit(3, 1500);
	metrics_observe_commit(256, 20000);
	metrics_observe_commit(1000, 2000000);
	render();
	assert_true(value("souk_commit_batch_size_bucket{le=\"1\"}") == 1);
	assert_true(value("souk_commit_batch_size_bucket{le=\"2\"}") == 1);
	assert_true(value("souk_commit_batch_size_bucket{le=\"4\"}") == 2);
	assert_true(value("souk_commit_batch_size_bucket{le=\"256\"}") == 3);
	assert_true(value("souk_commit_batch_size_bucket{le=\"+Inf\"}") == 4);
	assert_true(value("souk_commit_batch_size_sum") == 1260);
	assert_non_null(strstr(text, "\nsouk_commit_batch_size_sum 1260\n")); /* an integer */
	assert_true(value("souk_commit_batch_size_count") == 4);
	assert_true(value("souk_commit_seconds_bucket{le=\"0.0005\"}") == 1);
	assert_true(value("souk_commit_seconds_bucket{le=\"0.002\"}") == 2);
	assert_true(value("souk_commit_seconds_bucket{le=\"0.02\"}") == 3);
	assert_true(value("souk_commit_seconds_bucket{le=\"1\"}") == 3);
	assert_true(value("souk_commit_seconds_bucket{le=\"+Inf\"}") == 4);
	assert_float_equal(value("souk_commit_seconds_sum"), 2.0219, 1e-9);
	assert_true(value("souk_commit_seconds_count") == 4);
}

/* Every histogram: a HELP and TYPE line, le buckets that never decrease, and _count equal
 * to the +Inf bucket. */
static void every_histogram_is_well_formed(void **state)
{
	(void)state;
	memset(&g_metrics, 0, sizeof(g_metrics));
	for (int64_t v = 0; v < 3000000; v += 7919) {
		metrics_observe_commit((size_t)(v % 300), v);
		metrics_observe_wal_sync(v / 3);
		for (int s = 0; s < METRICS_STAGES; s++)
			metrics_observe_stage((metrics_stage)s, v);
	}
	render();
	int histograms = 0;
	for (const char *p = text; (p = strstr(p, "# TYPE ")) != NULL; p++) {
		char name[128], type[32];
		assert_int_equal(sscanf(p, "# TYPE %127s %31s", name, type), 2);
		if (strcmp(type, "histogram") != 0)
			continue;
		histograms++;
		char key[192];
		snprintf(key, sizeof(key), "# HELP %s ", name);
		assert_non_null(strstr(text, key));
		snprintf(key, sizeof(key), "\n%s_bucket{le=\"", name);
		double last = -1, inf = -1;
		for (const char *b = strstr(text, key); b; b = strstr(b + 1, key)) {
			const char *close = strstr(b, "\"} ");
			assert_non_null(close);
			double v = strtod(close + 3, NULL);
			assert_true(v >= last);
			last = v;
			if (strncmp(b + strlen(key), "+Inf", 4) == 0)
				inf = v;
		}
		assert_true(inf > 0);
		snprintf(key, sizeof(key), "%s_count", name);
		assert_true(value(key) == inf);
	}
	assert_int_equal(histograms, 3 + METRICS_STAGES);
	/* soukd renders /metrics into 16 KiB (rest.c): everything must fit */
	assert_true(strlen(text) < 16384 - 1);
}

/* a buffer too small: cut, still a C string, never past the end */
static void small_buffer(void **state)
{
	(void)state;
	char small[100];
	memset(small, 'x', sizeof(small));
	size_t n = metrics_render(small, sizeof(small));
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(strlen(small), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bounds_and_counts),
		cmocka_unit_test(commits),
		cmocka_unit_test(every_histogram_is_well_formed),
		cmocka_unit_test(small_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
