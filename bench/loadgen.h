/*
 * loadgen.h — what the two halves of the load generator share: options, clocks, the
 * stdin barrier and result output. loadgen.c drives soukd (souk.v1 over libwebsockets),
 * loadgen_mqtt.c drives Mosquitto (MQTT through libmosquitto).
 *
 * A loadgen process is one worker of a scenario run by bench/run.py. It prints
 * "READY {json}" once its connections are set up, waits for "GO" on stdin, runs its phase,
 * and prints "RESULT {json}" before exiting. A second line "STOP" (or EOF) ends a worker
 * that waits for an external event (idle connections, fan-out).
 */
#ifndef SOUK_BENCH_LOADGEN_H
#define SOUK_BENCH_LOADGEN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lg_opts {
	const char *mode; /* idle, pair, fill, fanout, storm (souk); idle, pair (mqtt) */
	const char *host;
	int port;
	const char *app_id;
	const char *secret;   /* the app's HS256 secret (soukctl app create --json) */
	const char *prefix;   /* user ids are prefix + index */
	int first;	      /* first user index of this worker */
	int users;	      /* users (pairs) of this worker */
	int src_base;	      /* source addresses 127.0.0.src_base ... */
	int src_count;	      /* ... over src_count addresses */
	double rate;	      /* pair: total messages/s of this worker, 0 = closed loop */
	int window;	      /* pair/fill: sends in flight per sender */
	double warmup_s;      /* pair: excluded from the figures */
	double duration_s;    /* pair: measured */
	int per_user;	      /* fill: messages per user */
	uint64_t after;	      /* storm: the device's last applied seq (it is that far behind) */
	int body_bytes;	      /* message body size */
	const char *lat_file; /* pair: latencies (uint32 microseconds) are written here */
	double timeout_s;     /* setup and wait limit */
	int no_ack;	      /* experiments: never send Ack{seq} (libsouk always does) */
	int poll_loop;	      /* --loop poll: the old poll() loops (souk: lws' own, mqtt: ours)
			       * instead of epoll (souk: lws on a libuv loop, mqtt: epoll) */
} lg_opts;

/* Clocks. */
int64_t lg_mono_ns(void);
int64_t lg_real_ms(void);

/* The stdin barrier: a thread reads lines; "GO" sets go, "STOP" or EOF sets stop, and
 * each line calls wake() so the worker's loop looks at the flags. */
extern atomic_int lg_go, lg_stop;
void lg_stdin_start(void (*wake)(void *), void *ud);

/* A message body of opts->body_bytes printable bytes that starts with the send time. */
void lg_body(char *out, size_t bytes, int64_t t_ns);
/* The send time from a body written by lg_body, or -1. */
int64_t lg_body_time(const char *body, size_t len);

/* Latency samples (microseconds), written raw to opts->lat_file at the end. */
typedef struct lg_lat {
	uint32_t *v;
	size_t n, cap;
} lg_lat;
void lg_lat_add(lg_lat *l, int64_t ns);
int lg_lat_write(const lg_lat *l, const char *path);

/* Source address number i of this worker: "127.0.0.x". */
void lg_src_addr(const lg_opts *o, int i, char *out, size_t cap);

int lg_raise_nofile(void);

int lg_souk_main(const lg_opts *o);
int lg_mqtt_main(const lg_opts *o);

#endif
