/*
 * loadgen_common.c — the load generator's entry point and the helpers both protocols use
 * (clocks, the stdin barrier, message bodies that carry their send time, latency samples).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "loadgen.h"

atomic_int lg_go, lg_stop;

int64_t lg_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t lg_real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

typedef struct stdin_arg {
	void (*wake)(void *);
	void *ud;
} stdin_arg;

static void *stdin_thread(void *p)
{
	stdin_arg *a = p;
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "GO", 2) == 0)
			atomic_store(&lg_go, 1);
		else if (strncmp(line, "STOP", 4) == 0)
			atomic_store(&lg_stop, 1);
		a->wake(a->ud);
	}
	atomic_store(&lg_stop, 1);
	a->wake(a->ud);
	free(a);
	return NULL;
}

void lg_stdin_start(void (*wake)(void *), void *ud)
{
	stdin_arg *a = malloc(sizeof(*a));
	if (!a)
		abort();
	a->wake = wake;
	a->ud = ud;
	pthread_t t;
	if (pthread_create(&t, NULL, stdin_thread, a) != 0)
		abort();
	pthread_detach(t);
}

void lg_body(char *out, size_t bytes, int64_t t_ns)
{
	int n = snprintf(out, bytes + 1, "%019lld|", (long long)t_ns);
	if (n < 0)
		n = 0;
	for (size_t i = (size_t)n; i < bytes; i++)
		out[i] = (char)('a' + i % 26);
	out[bytes] = '\0';
}

int64_t lg_body_time(const char *body, size_t len)
{
	if (len < 20 || body[19] != '|')
		return -1;
	int64_t t = 0;
	for (int i = 0; i < 19; i++) {
		if (body[i] < '0' || body[i] > '9')
			return -1;
		t = t * 10 + (body[i] - '0');
	}
	return t;
}

void lg_lat_add(lg_lat *l, int64_t ns)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 65536;
		uint32_t *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return;
		l->v = v;
		l->cap = cap;
	}
	int64_t us = ns / 1000;
	l->v[l->n++] = us < 0 ? 0 : us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

int lg_lat_write(const lg_lat *l, const char *path)
{
	if (!path)
		return 0;
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = l->n ? fwrite(l->v, sizeof(uint32_t), l->n, f) : 0;
	int rc = fclose(f);
	return w == l->n && rc == 0 ? 0 : -1;
}

void lg_src_addr(const lg_opts *o, int i, char *out, size_t cap)
{
	int n = o->src_count > 0 ? o->src_count : 1;
	snprintf(out, cap, "127.0.0.%d", o->src_base + i % n);
}

int lg_raise_nofile(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) != 0)
		return -1;
	r.rlim_cur = r.rlim_max;
	return setrlimit(RLIMIT_NOFILE, &r);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: souk_loadgen souk|mqtt MODE --host H --port P [options]\n"
		"  souk modes: idle pair fill fanout storm; mqtt modes: idle pair\n"
		"  --app ID --secret S     app id and HS256 secret (souk)\n"
		"  --prefix P --first N --users N   user ids P<N>..P<N+users-1>\n"
		"  --src-base N --src-count N       bind to 127.0.0.N.. (round robin)\n"
		"  --rate R --window W --warmup S --duration S --lat-file F   (pair)\n"
		"  --per-user N (fill)  --after SEQ (storm)  --body-bytes N  --timeout S\n"
		"  --no-ack 1  (experiments: devices never ack what they received)\n"
		"  --loop uv|poll  the event loop (default uv: souk runs libwebsockets on a\n"
		"                  libuv loop, mqtt its own epoll loop; poll: poll() over every\n"
		"                  socket on every wake-up, as before)\n");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		usage();
		return 2;
	}
	lg_opts o = {.mode = argv[2],
		     .host = "127.0.0.1",
		     .prefix = "u",
		     .users = 1,
		     .src_base = 1,
		     .src_count = 1,
		     .window = 1,
		     .warmup_s = 2,
		     .duration_s = 10,
		     .per_user = 10,
		     .body_bytes = 100,
		     .timeout_s = 120};
	for (int i = 3; i < argc; i++) {
		const char *k = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v || strncmp(k, "--", 2) != 0) {
			usage();
			return 2;
		}
		i++;
		if (!strcmp(k, "--host"))
			o.host = v;
		else if (!strcmp(k, "--port"))
			o.port = atoi(v);
		else if (!strcmp(k, "--app"))
			o.app_id = v;
		else if (!strcmp(k, "--secret"))
			o.secret = v;
		else if (!strcmp(k, "--prefix"))
			o.prefix = v;
		else if (!strcmp(k, "--first"))
			o.first = atoi(v);
		else if (!strcmp(k, "--users"))
			o.users = atoi(v);
		else if (!strcmp(k, "--src-base"))
			o.src_base = atoi(v);
		else if (!strcmp(k, "--src-count"))
			o.src_count = atoi(v);
		else if (!strcmp(k, "--rate"))
			o.rate = atof(v);
		else if (!strcmp(k, "--window"))
			o.window = atoi(v);
		else if (!strcmp(k, "--warmup"))
			o.warmup_s = atof(v);
		else if (!strcmp(k, "--duration"))
			o.duration_s = atof(v);
		else if (!strcmp(k, "--per-user"))
			o.per_user = atoi(v);
		else if (!strcmp(k, "--after"))
			o.after = strtoull(v, NULL, 10);
		else if (!strcmp(k, "--body-bytes"))
			o.body_bytes = atoi(v);
		else if (!strcmp(k, "--lat-file"))
			o.lat_file = v;
		else if (!strcmp(k, "--timeout"))
			o.timeout_s = atof(v);
		else if (!strcmp(k, "--no-ack"))
			o.no_ack = atoi(v);
		else if (!strcmp(k, "--loop") && (!strcmp(v, "uv") || !strcmp(v, "epoll")))
			o.poll_loop = 0;
		else if (!strcmp(k, "--loop") && !strcmp(v, "poll"))
			o.poll_loop = 1;
		else {
			usage();
			return 2;
		}
	}
	if (o.port <= 0 || o.users <= 0 || o.window <= 0 || o.body_bytes < 24 ||
	    o.body_bytes > 4096) {
		usage();
		return 2;
	}
	if (lg_raise_nofile() != 0)
		fprintf(stderr, "loadgen: cannot raise the open files limit: %s\n",
			strerror(errno));
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "souk"))
		return lg_souk_main(&o);
	if (!strcmp(argv[1], "mqtt"))
		return lg_mqtt_main(&o);
	usage();
	return 2;
}
