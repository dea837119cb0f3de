/*
 * loadgen_mqtt.c — many MQTT clients in one process (libmosquitto, driven from one epoll
 * loop, or with `--loop poll` from one poll() loop), so that Mosquitto is measured the same
 * way as soukd.
 *
 * The epoll loop is level-triggered and asks for EPOLLOUT only while libmosquitto has
 * something to write (mosquitto_want_write), looked at again after every read, write and
 * publish of that client, and after the once-a-second mosquitto_loop_misc of every client.
 * The poll() loop asks the same for every client on every wake-up: it walks all of them
 * (the kernel too), which at a 1 ms tick was most of the generator's CPU.
 *
 * Modes:
 *   idle  each client connects (clean session) and subscribes to its own topic at QoS 1,
 *         like a live souk device; READY; stay until STOP.
 *   pair  per pair a publisher and a subscriber of one topic (QoS 1 subscription); after GO
 *         the publishers publish QoS 1 for warmup + duration, closed loop (`window` unacked
 *         PUBLISHes per publisher: the broker's PUBACK frees a slot) or open loop (`rate`
 *         messages/s for the worker). Subscribers record send -> receive latency.
 *
 * Never: hand-writes MQTT; libmosquitto does the protocol, this file only schedules.
 */
#include <errno.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loadgen.h"

enum { MQ_SETUP_PENDING = 256 };

typedef struct mq {
	struct mosquitto *m;
	int idx;
	int sub;   /* 1: subscriber (idle clients subscribe too) */
	int state; /* 0 not connected, 1 connecting, 2 ready, -1 failed */
	int inflight;
	int fd;		 /* epoll: the socket registered, or -1 */
	uint32_t events; /* epoll: the events it is registered for */
	char topic[64];
} mq;

static struct {
	const lg_opts *o;
	mq *c;
	int n;
	int pipefd[2];
	int ep; /* epoll descriptor, or -1 with --loop poll */
	int n_ready, n_failed, n_pending, pair;
	int64_t t_start_ns, t_go_ns, t_measure_ns, t_end_ns;
	int64_t sent, acked, acked_win, recv_win, recv_total, errors, backlogged;
	double sched;
	int rr;
	lg_lat lat;
} M;

static void wake(void *ud)
{
	(void)ud;
	char b = 1;
	if (write(M.pipefd[1], &b, 1) < 0) {
		/* the loop wakes up within its poll timeout anyway */
	}
}

static void ready(mq *c)
{
	if (c->state == 2)
		return;
	if (c->state == 1)
		M.n_pending--;
	c->state = 2;
	M.n_ready++;
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	mq *c = obj;
	if (rc != 0) {
		M.errors++;
		return;
	}
	if (c->sub)
		mosquitto_subscribe(m, NULL, c->topic, 1);
	else
		ready(c);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
	(void)m;
	(void)mid;
	mq *c = obj;
	if (n < 1 || granted[0] != 1)
		M.errors++;
	ready(c);
}

static void ep_sync(mq *c);

static void publish(mq *c, int64_t t_ns)
{
	char body[4097];
	lg_body(body, (size_t)M.o->body_bytes, t_ns);
	int rc = mosquitto_publish(c->m, NULL, c->topic, M.o->body_bytes, body, 1, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		M.errors++;
		return;
	}
	c->inflight++;
	M.sent++;
	ep_sync(c);
}

static void pump(mq *c)
{
	if (!M.pair || c->sub || c->state != 2 || M.o->rate > 0 || !M.t_go_ns)
		return;
	int64_t now = lg_mono_ns();
	if (now >= M.t_end_ns)
		return;
	while (c->inflight < M.o->window)
		publish(c, now);
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	(void)m;
	(void)mid;
	mq *c = obj;
	int64_t now = lg_mono_ns();
	if (c->inflight > 0)
		c->inflight--;
	M.acked++;
	if (now >= M.t_measure_ns && now < M.t_end_ns)
		M.acked_win++;
	pump(c);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	(void)obj;
	int64_t now = lg_mono_ns();
	int64_t t = lg_body_time(msg->payload, (size_t)msg->payloadlen);
	if (t < 0)
		return;
	M.recv_total++;
	if (now >= M.t_measure_ns && now < M.t_end_ns)
		M.recv_win++;
	if (t >= M.t_measure_ns && t < M.t_end_ns)
		lg_lat_add(&M.lat, now - t);
}

static void connect_one(mq *c)
{
	char src[32], id[64];
	lg_src_addr(M.o, c->idx, src, sizeof(src));
	snprintf(id, sizeof(id), "%s%s%d", M.o->prefix, M.pair ? (c->sub ? "s" : "p") : "i",
		 M.o->first + c->idx / (M.pair ? 2 : 1));
	c->m = mosquitto_new(id, true, c);
	if (!c->m) {
		c->state = -1;
		M.n_failed++;
		return;
	}
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_publish_callback_set(c->m, on_publish);
	mosquitto_message_callback_set(c->m, on_message);
	c->state = 1;
	M.n_pending++;
	int rc = mosquitto_connect_bind(c->m, M.o->host, M.o->port, 120, src);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "loadgen: mqtt connect: %s\n", mosquitto_strerror(rc));
		c->state = -1;
		M.n_pending--;
		M.n_failed++;
		return;
	}
	ep_sync(c);
}

static void pace(int64_t now)
{
	double due = (double)(now - M.t_go_ns) / 1e9 * M.o->rate;
	int npub = M.n / 2;
	while (M.sched + 1 <= due) {
		int64_t t = M.t_go_ns + (int64_t)(M.sched / M.o->rate * 1e9);
		M.sched += 1;
		int sent = 0;
		for (int k = 0; k < npub && !sent; k++) {
			mq *c = &M.c[2 * (M.rr++ % npub)];
			if (c->state == 2 && c->inflight < M.o->window) {
				publish(c, t);
				sent = 1;
			}
		}
		if (!sent)
			M.backlogged++;
	}
}

static void client_failed(mq *c)
{
	if (c->state == 2)
		M.n_ready--;
	else
		M.n_pending--;
	c->state = -1;
	M.n_failed++;
	M.errors++;
	/* a socket libmosquitto already closed left the epoll set by itself (and its number
	 * may since belong to another client) */
	if (M.ep >= 0 && c->fd >= 0 && mosquitto_socket(c->m) == c->fd)
		epoll_ctl(M.ep, EPOLL_CTL_DEL, c->fd, NULL);
	c->fd = -1;
}

/* epoll: register the client's socket, or update EPOLLOUT to mosquitto_want_write. */
static void ep_sync(mq *c)
{
	if (M.ep < 0 || !c->m || c->state <= 0)
		return;
	int fd = mosquitto_socket(c->m);
	if (fd < 0)
		return;
	uint32_t want = EPOLLIN | (mosquitto_want_write(c->m) ? EPOLLOUT : 0);
	if (fd == c->fd && want == c->events)
		return;
	struct epoll_event ev = {.events = want, .data.u32 = (uint32_t)c->idx};
	if (fd != c->fd) {
		if (epoll_ctl(M.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			fprintf(stderr, "loadgen: epoll_ctl: %s\n", strerror(errno));
			return;
		}
	} else if (epoll_ctl(M.ep, EPOLL_CTL_MOD, fd, &ev) != 0) {
		return;
	}
	c->fd = fd;
	c->events = want;
}

static void misc_all(int64_t *misc_at)
{
	int64_t now = lg_mono_ns();
	if (now < *misc_at)
		return;
	*misc_at = now + 1000000000LL;
	for (int i = 0; i < M.n; i++) {
		mq *c = &M.c[i];
		if (!c->m || c->state <= 0)
			continue;
		if (mosquitto_loop_misc(c->m) != MOSQ_ERR_SUCCESS)
			client_failed(c);
		else
			ep_sync(c);
	}
}

/* One epoll_wait: service the clients that are ready (level-triggered) and the wake pipe. */
static void loop_once_epoll(int timeout_ms, int64_t *misc_at)
{
	enum { MAXEV = 1024 };
	static struct epoll_event ev[MAXEV];
	int n = epoll_wait(M.ep, ev, MAXEV, timeout_ms);
	for (int k = 0; k < n; k++) {
		if (ev[k].data.u32 == UINT32_MAX) {
			char b[64];
			if (read(M.pipefd[0], b, sizeof(b)) < 0) {
				/* nothing to do */
			}
			continue;
		}
		mq *c = &M.c[ev[k].data.u32];
		if (!c->m || c->state <= 0)
			continue;
		int rc = MOSQ_ERR_SUCCESS;
		if (ev[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			rc = mosquitto_loop_read(c->m, 1);
		if (rc == MOSQ_ERR_SUCCESS && (ev[k].events & EPOLLOUT))
			rc = mosquitto_loop_write(c->m, 1);
		if (rc != MOSQ_ERR_SUCCESS)
			client_failed(c);
		else
			ep_sync(c);
	}
	misc_all(misc_at);
}

/* One pass of poll() over every client and the wake pipe. */
static void loop_once(struct pollfd *pfd, int timeout_ms, int64_t *misc_at)
{
	if (M.ep >= 0) {
		loop_once_epoll(timeout_ms, misc_at);
		return;
	}
	int k = 0;
	for (int i = 0; i < M.n; i++) {
		mq *c = &M.c[i];
		int fd = c->m && c->state > 0 ? mosquitto_socket(c->m) : -1;
		pfd[k].fd = fd;
		pfd[k].events =
			fd >= 0 ? (short)(POLLIN | (mosquitto_want_write(c->m) ? POLLOUT : 0)) : 0;
		pfd[k].revents = 0;
		k++;
	}
	pfd[k].fd = M.pipefd[0];
	pfd[k].events = POLLIN;
	pfd[k].revents = 0;
	if (poll(pfd, (nfds_t)k + 1, timeout_ms) < 0 && errno != EINTR)
		return;
	if (pfd[k].revents & POLLIN) {
		char b[64];
		if (read(M.pipefd[0], b, sizeof(b)) < 0) {
			/* nothing to do */
		}
	}
	int64_t now = lg_mono_ns();
	int misc = now >= *misc_at;
	if (misc)
		*misc_at = now + 1000000000LL;
	for (int i = 0; i < M.n; i++) {
		mq *c = &M.c[i];
		if (!c->m || c->state <= 0)
			continue;
		int rc = MOSQ_ERR_SUCCESS;
		if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
			rc = mosquitto_loop_read(c->m, 1);
		if (rc == MOSQ_ERR_SUCCESS && (pfd[i].revents & POLLOUT))
			rc = mosquitto_loop_write(c->m, 1);
		if (rc == MOSQ_ERR_SUCCESS && misc)
			rc = mosquitto_loop_misc(c->m);
		if (rc != MOSQ_ERR_SUCCESS)
			client_failed(c);
	}
}

int lg_mqtt_main(const lg_opts *o)
{
	M.o = o;
	M.pair = strcmp(o->mode, "pair") == 0;
	if (!M.pair && strcmp(o->mode, "idle") != 0) {
		fprintf(stderr, "loadgen: unknown mqtt mode %s\n", o->mode);
		return 2;
	}
	if (pipe(M.pipefd) != 0)
		return 1;
	M.ep = -1;
	if (!o->poll_loop) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
		if ((M.ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
		    epoll_ctl(M.ep, EPOLL_CTL_ADD, M.pipefd[0], &ev) != 0) {
			fprintf(stderr, "loadgen: epoll: %s\n", strerror(errno));
			return 1;
		}
	}
	mosquitto_lib_init();
	M.n = o->users * (M.pair ? 2 : 1);
	M.c = calloc((size_t)M.n, sizeof(mq));
	struct pollfd *pfd = calloc((size_t)M.n + 1, sizeof(*pfd));
	if (!M.c || !pfd)
		return 1;
	for (int i = 0; i < M.n; i++) {
		mq *c = &M.c[i];
		c->idx = i;
		c->fd = -1;
		c->sub = M.pair ? i % 2 == 1 : 1;
		snprintf(c->topic, sizeof(c->topic), "%s/%s%d", M.pair ? "pair" : "idle", o->prefix,
			 o->first + i / (M.pair ? 2 : 1));
	}
	lg_stdin_start(wake, NULL);
	M.t_start_ns = lg_mono_ns();
	M.t_measure_ns = M.t_end_ns = INT64_MAX;
	int64_t misc_at = 0, timeout_ns = (int64_t)(o->timeout_s * 1e9);

	/* setup: connect with a ramp of at most MQ_SETUP_PENDING outstanding CONNACK/SUBACKs */
	int next = 0;
	while (M.n_ready + M.n_failed < M.n && lg_mono_ns() - M.t_start_ns < timeout_ns &&
	       !atomic_load(&lg_stop)) {
		while (next < M.n && M.n_pending < MQ_SETUP_PENDING)
			connect_one(&M.c[next++]);
		loop_once(pfd, 20, &misc_at);
	}
	printf("READY {\"ready\": %d, \"failed\": %d, \"devices\": %d, \"setup_s\": %.3f}\n",
	       M.n_ready, M.n - M.n_ready, M.n, (double)(lg_mono_ns() - M.t_start_ns) / 1e9);
	while (!atomic_load(&lg_go) && !atomic_load(&lg_stop))
		loop_once(pfd, 100, &misc_at);

	if (M.pair && atomic_load(&lg_go) && !atomic_load(&lg_stop)) {
		M.t_go_ns = lg_mono_ns();
		M.t_measure_ns = M.t_go_ns + (int64_t)(o->warmup_s * 1e9);
		M.t_end_ns = M.t_measure_ns + (int64_t)(o->duration_s * 1e9);
		for (int i = 0; i < M.n; i++)
			pump(&M.c[i]);
		int64_t now;
		while ((now = lg_mono_ns()) < M.t_end_ns) {
			if (o->rate > 0)
				pace(now);
			loop_once(pfd, 1, &misc_at);
		}
		int64_t drain_end = lg_mono_ns() + 5000000000LL;
		while (lg_mono_ns() < drain_end) {
			int busy = 0;
			for (int i = 0; i < M.n && !busy; i++)
				busy = M.c[i].inflight > 0;
			if (!busy)
				break;
			loop_once(pfd, 5, &misc_at);
		}
	} else {
		while (!atomic_load(&lg_stop))
			loop_once(pfd, 100, &misc_at);
	}
	if (lg_lat_write(&M.lat, o->lat_file) != 0)
		fprintf(stderr, "loadgen: cannot write %s\n", o->lat_file);
	printf("RESULT {\"mode\": \"mqtt-%s\", \"devices\": %d, \"ready\": %d, \"failed\": %d, "
	       "\"sent\": %lld, \"acked\": %lld, \"acked_window\": %lld, "
	       "\"received_window\": %lld, \"received\": %lld, \"measured_s\": %.3f, "
	       "\"latencies\": %zu, \"errors\": %lld, \"backlogged\": %lld, "
	       "\"elapsed_s\": %.3f}\n",
	       o->mode, M.n, M.n_ready, M.n_failed, (long long)M.sent, (long long)M.acked,
	       (long long)M.acked_win, (long long)M.recv_win, (long long)M.recv_total,
	       o->duration_s, M.lat.n, (long long)M.errors, (long long)M.backlogged,
	       (double)(lg_mono_ns() - M.t_start_ns) / 1e9);
	fflush(stdout);
	_exit(0);
}
