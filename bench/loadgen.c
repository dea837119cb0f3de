/*
 * loadgen.c — many souk.v1 devices in one process (libwebsockets client), for bench/run.py.
 *
 * Modes (one device per user unless said):
 *   idle    connect, hello, sync until live; READY; stay until STOP.
 *   pair    two devices per user: a sender (opens the support conversation) and a recipient
 *           (the user's other device, which receives every message the sender sends). After
 *           GO the senders send for warmup + duration, closed loop (`window` in flight per
 *           sender) or open loop (`rate` messages/s for the worker); recipients record the
 *           send -> receive latency of each message (the send time is in the body).
 *   fill    open the support conversation and send per_user messages each, window in flight;
 *           no barrier. Used to put events into streams before other scenarios.
 *   fanout  live devices that wait for one in-app push event; RESULT when all have it.
 *   storm   nothing connects before GO; then every device connects at once with
 *           last_applied_seq = after, syncs every page until caught up and acks.
 *
 * Setup connects at most SETUP_PENDING devices at a time (a ramp, so that the listen backlog
 * is not what is measured); the storm does not. A device speaks the protocol like libsouk
 * does: it acks (Ack{seq}) every sync page at once and live events at most 200 ms after
 * they arrived, all of them in one Ack.
 *
 * The event loop (--loop): by default the context runs on our own libuv loop (epoll), which
 * Debian's lws 4.1.6 loads as its evlib-uv plugin (LWS_SERVER_OPTION_LIBUV with the loop in
 * foreign_loops); `--loop poll` keeps lws' own poll() loop. poll() hands every socket to the
 * kernel on every wake-up, and the open-loop tick wakes the loop every millisecond: with
 * ~700 sockets per process that walk was half of the generator's CPU (docs/performance.md,
 * "Load generators on epoll"). Not libev: its glue in lws 4.1 re-arms the one timer with
 * ev_timer_start on an active watcher, which libev ignores, so lws_sul timers fire late;
 * libuv's uv_timer_start re-arms. With libuv, lws services its own timers from a uv timer
 * and from an idle handle it starts after every socket event; the worker's tick is a uv
 * timer of ours (see tick_uv). lws_cancel_service (the stdin thread) still wakes the loop
 * through lws' event pipe, which is a uv_poll like the rest.
 *
 * Never: measures anything soukd does not do for real (every send is acked by the server
 * only after its group commit is durable; every receipt is a real EventBatch).
 */
#include <jwt.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "loadgen.h"
#include "souk_wire/wire.h"

enum { SETUP_PENDING = 256, MAX_ATTEMPTS = 30 };

enum dstate { D_WAIT, D_CONNECTING, D_HELLO, D_SYNC, D_OPEN, D_READY, D_FAILED };
enum drole { R_PLAIN, R_SENDER, R_RECEIVER };

typedef struct qframe {
	struct qframe *next;
	uint8_t *buf; /* LWS_PRE headroom, then the frame */
	size_t len;
} qframe;

typedef struct attempt attempt;

typedef struct dev {
	struct lws *wsi;
	attempt *att; /* the current connection attempt; callbacks of older ones are ignored */
	int idx;      /* device index in the worker */
	int user;
	int role;
	enum dstate state;
	int done; /* storm: caught up; fanout: got the push; fill: all acked */
	int attempts;
	int64_t retry_at_ns;
	uint64_t rid;
	uint64_t last_seq, head;
	char conv[SOUK_WIRE_MAX_ID + 1];
	qframe *qh, *qt;
	uint8_t *rx;
	size_t rx_len, rx_cap;
	int inflight;
	uint64_t counter;
	int64_t sent, acked;
	/* live events waiting for their delayed ack, as libsouk (ACK_DELAY_NS) */
	uint64_t ack_pending;
	int64_t ack_due_ns;
	struct dev *ack_next;
	int ack_queued;
} dev;

/* The libwebsockets user data of one connection attempt (freed at LWS_CALLBACK_WSI_DESTROY):
 * a late callback of a previous attempt must not touch the device's current connection. */
struct attempt {
	dev *d;
	int lost;
};

enum phase { P_SETUP, P_WAIT_GO, P_RUN, P_DRAIN, P_END };

static struct {
	const lg_opts *o;
	struct lws_context *ctx;
	dev *devs;
	int ndev;
	char **tokens;
	char **user_ids;
	uint64_t salt;
	enum phase phase;
	int n_ready, n_failed, n_done, n_pending, next_connect;
	int64_t t_start_ns, t_go_ns, t_measure_ns, t_end_ns, t_go_ms, last_done_ms, first_done_ms,
		t_last_done_ns;
	int64_t sent, acked, acked_win, recv_win, recv_total, errors, rate_limited, closes, retries,
		backlogged;
	double sched; /* open loop: messages scheduled so far */
	int rr;
	lg_lat lat;
	lws_sorted_usec_list_t tick; /* --loop poll: the tick is an lws_sul timer */
	uv_timer_t uv_tick;	     /* --loop uv: the tick is our own uv timer */
	int quit;
	int last_error_code;
	int64_t err_by_code[6];	  /* wire error codes 1xx..5xx */
	int64_t close_by_code[4]; /* peer closes: 4408 auth timeout, 4429 limit, 4409 slow, other */
	dev *ack_head, *ack_tail; /* devices with a delayed ack, oldest first */
} W;

/* libsouk acks a sync page at once and live events at most 200 ms later, together
 * (sdk/src/session.c, ACK_DELAY_US); the devices here do the same. */
enum { ACK_DELAY_NS = 200000000 };

static int is_mode(const char *m)
{
	return strcmp(W.o->mode, m) == 0;
}

/* ---- frames out ------------------------------------------------------------------- */

static void enqueue(dev *d, const Souk__V1__Frame *f)
{
	uint8_t *buf;
	size_t len;
	if (!d->wsi || souk_wire_encode(f, LWS_PRE, &buf, &len) != 0)
		return;
	/* Nothing queued and nothing held back by lws: write at once, as soukd does while it
	 * drains completions. Asking for WRITEABLE per frame costs an epoll_ctl to turn
	 * POLLOUT on and another to turn it off (22 % of a generator's CPU at saturation,
	 * perf). lws buffers what the socket does not take (lws_partial_buffered). */
	if (!d->qh && !lws_partial_buffered(d->wsi)) {
		int w = lws_write(d->wsi, buf + LWS_PRE, len, LWS_WRITE_BINARY);
		free(buf);
		if (w < 0)
			lws_set_timeout(d->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	qframe *q = malloc(sizeof(*q));
	if (!q) {
		free(buf);
		return;
	}
	q->next = NULL;
	q->buf = buf;
	q->len = len;
	if (d->qt)
		d->qt->next = q;
	else
		d->qh = q;
	d->qt = q;
	lws_callback_on_writable(d->wsi);
}

static void queue_clear(dev *d)
{
	for (qframe *q = d->qh, *n; q; q = n) {
		n = q->next;
		free(q->buf);
		free(q);
	}
	d->qh = d->qt = NULL;
}

static void send_hello(dev *d)
{
	Souk__V1__Hello h = SOUK__V1__HELLO__INIT;
	char device[32];
	snprintf(device, sizeof(device), "%s%d", d->role == R_SENDER ? "snd" : "dev", d->idx);
	h.protocol_version = SOUK_WIRE_PROTOCOL_VERSION;
	h.app_id = (char *)W.o->app_id;
	h.token = W.tokens[d->user];
	h.device_id = device;
	h.platform = SOUK__V1__PLATFORM__PLATFORM_DESKTOP;
	h.sdk_version = "loadgen";
	h.last_applied_seq = d->last_seq; /* storm: starts at `after` */
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = ++d->rid;
	f.body_case = SOUK__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	enqueue(d, &f);
}

static void send_sync(dev *d, uint64_t after)
{
	Souk__V1__SyncRequest r = SOUK__V1__SYNC_REQUEST__INIT;
	r.after_seq = after;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = ++d->rid;
	f.body_case = SOUK__V1__FRAME__BODY_SYNC_REQUEST;
	f.sync_request = &r;
	enqueue(d, &f);
}

static void send_ack(dev *d, uint64_t seq)
{
	Souk__V1__Ack a = SOUK__V1__ACK__INIT;
	a.seq = seq;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_ACK;
	f.ack = &a;
	enqueue(d, &f);
}

static void send_open(dev *d)
{
	Souk__V1__OpenConversation o = SOUK__V1__OPEN_CONVERSATION__INIT;
	o.kind = SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = ++d->rid;
	f.body_case = SOUK__V1__FRAME__BODY_OPEN_CONVERSATION;
	f.open_conversation = &o;
	enqueue(d, &f);
}

/* One text message whose body starts with t_ns (the time it was due). */
static void send_message(dev *d, int64_t t_ns)
{
	char body[4097];
	uint8_t cmid[SOUK_WIRE_CLIENT_MSG_ID_LEN];
	uint64_t c = ++d->counter, who = W.salt ^ ((uint64_t)d->idx << 20);
	memcpy(cmid, &who, 8);
	memcpy(cmid + 8, &c, 8);
	lg_body(body, (size_t)W.o->body_bytes, t_ns);
	Souk__V1__Text t = SOUK__V1__TEXT__INIT;
	t.body = body;
	Souk__V1__Content ct = SOUK__V1__CONTENT__INIT;
	ct.kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	ct.text = &t;
	Souk__V1__Send s = SOUK__V1__SEND__INIT;
	s.client_msg_id.data = cmid;
	s.client_msg_id.len = sizeof(cmid);
	s.conversation_id = d->conv;
	s.content = &ct;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = ++d->rid;
	f.body_case = SOUK__V1__FRAME__BODY_SEND;
	f.send = &s;
	enqueue(d, &f);
	d->inflight++;
	d->sent++;
	W.sent++;
}

/* ---- connections ------------------------------------------------------------------ */

static const struct lws_protocols protocols[];

static void connect_dev(dev *d)
{
	char src[32];
	lg_src_addr(W.o, d->idx, src, sizeof(src));
	attempt *a = calloc(1, sizeof(*a));
	if (!a)
		return;
	a->d = d;
	d->att = a;
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = W.ctx;
	ci.address = W.o->host;
	ci.port = W.o->port;
	ci.path = SOUK_WIRE_PATH;
	ci.host = W.o->host;
	ci.origin = W.o->host;
	ci.protocol = SOUK_WIRE_SUBPROTOCOL;
	ci.local_protocol_name = SOUK_WIRE_SUBPROTOCOL;
	ci.iface = src;
	ci.userdata = a;
	d->state = D_CONNECTING;
	d->attempts++;
	d->rx_len = 0;
	W.n_pending++;
	struct lws *wsi = lws_client_connect_via_info(&ci);
	if (wsi) {
		if (d->att == a)
			d->wsi = wsi;
	} else if (d->att == a) {
		/* refused before any callback: nothing of libwebsockets refers to `a` */
		d->att = NULL;
		free(a);
		d->wsi = NULL;
		d->state = D_WAIT;
		W.n_pending--;
		d->retry_at_ns = lg_mono_ns() + 200000000LL;
	}
}

static void became_ready(dev *d)
{
	if (d->state == D_READY)
		return;
	if (d->state >= D_CONNECTING && d->state < D_READY)
		W.n_pending--;
	d->state = D_READY;
	W.n_ready++;
}

static void mark_done(dev *d)
{
	if (d->done)
		return;
	d->done = 1;
	W.n_done++;
	int64_t now = lg_real_ms();
	if (!W.first_done_ms)
		W.first_done_ms = now;
	W.last_done_ms = now;
	W.t_last_done_ns = lg_mono_ns();
}

/* A connection failed or closed: retry (storm, setup) or give up. */
static void lost(dev *d)
{
	int was_pending = d->state >= D_CONNECTING && d->state < D_READY;
	if (d->state == D_READY)
		W.n_ready--;
	if (was_pending)
		W.n_pending--;
	d->wsi = NULL;
	queue_clear(d);
	d->inflight = 0;
	W.closes++;
	if (W.phase == P_END || d->done || d->state == D_FAILED) {
		d->state = d->done ? D_READY : D_FAILED;
		return;
	}
	if (d->attempts >= MAX_ATTEMPTS) {
		d->state = D_FAILED;
		W.n_failed++;
		return;
	}
	/* like libsouk: exponential backoff from 500 ms (cap 60 s) with full jitter, then
	 * reconnect and resume from last_seq */
	int shift = d->attempts < 7 ? d->attempts - 1 : 7;
	int64_t cap_ms = 500LL << (shift > 0 ? shift : 0);
	if (cap_ms > 60000)
		cap_ms = 60000;
	int64_t backoff = (int64_t)(rand() % (int)cap_ms + 1) * 1000000LL;
	d->state = D_WAIT;
	d->retry_at_ns = lg_mono_ns() + backoff;
	W.retries++;
}

/* ---- frames in -------------------------------------------------------------------- */

static void on_events(dev *d, Souk__V1__Event **ev, size_t n, int page)
{
	int64_t now = lg_mono_ns();
	for (size_t i = 0; i < n; i++) {
		const Souk__V1__Event *e = ev[i];
		if (e->seq > d->last_seq)
			d->last_seq = e->seq;
		if (e->body_case == SOUK__V1__EVENT__BODY_PUSH && is_mode("fanout"))
			mark_done(d);
		if (page || d->role != R_RECEIVER || e->body_case != SOUK__V1__EVENT__BODY_MESSAGE)
			continue;
		const Souk__V1__Content *c = e->message->content;
		if (!c || c->kind_case != SOUK__V1__CONTENT__KIND_TEXT || !c->text->body)
			continue;
		int64_t t = lg_body_time(c->text->body, strlen(c->text->body));
		if (t < 0)
			continue;
		W.recv_total++;
		if (now >= W.t_measure_ns && now < W.t_end_ns)
			W.recv_win++;
		if (t >= W.t_measure_ns && t < W.t_end_ns)
			lg_lat_add(&W.lat, now - t);
	}
	if (!n || W.o->no_ack)
		return;
	if (page) {
		send_ack(d, d->last_seq);
		d->ack_pending = 0;
		return;
	}
	d->ack_pending = d->last_seq;
	if (!d->ack_queued) {
		d->ack_queued = 1;
		d->ack_due_ns = now + ACK_DELAY_NS;
		d->ack_next = NULL;
		if (W.ack_tail)
			W.ack_tail->ack_next = d;
		else
			W.ack_head = d;
		W.ack_tail = d;
	}
}

/* From tick(): the delayed acks that are due. */
static void send_due_acks(int64_t now)
{
	while (W.ack_head && W.ack_head->ack_due_ns <= now) {
		dev *d = W.ack_head;
		W.ack_head = d->ack_next;
		if (!W.ack_head)
			W.ack_tail = NULL;
		d->ack_queued = 0;
		if (d->ack_pending && d->wsi)
			send_ack(d, d->ack_pending);
		d->ack_pending = 0;
	}
}

static void pump(dev *d);

static void on_frame(dev *d, const uint8_t *buf, size_t len)
{
	Souk__V1__Frame *f = NULL;
	souk_wire_status st = souk_wire_decode(buf, len, 0, &f);
	if (st.code) {
		W.errors++;
		return;
	}
	switch (f->body_case) {
	case SOUK__V1__FRAME__BODY_WELCOME:
		d->head = f->welcome->head_seq;
		if (is_mode("fill")) {
			d->state = D_OPEN;
			send_open(d);
		} else {
			d->state = D_SYNC;
			send_sync(d, d->last_seq);
		}
		break;
	case SOUK__V1__FRAME__BODY_SYNC_PAGE: {
		const Souk__V1__SyncPage *p = f->sync_page;
		on_events(d, p->events, p->n_events, 1);
		if (p->has_more && p->n_events) {
			send_sync(d, d->last_seq);
			break;
		}
		if (d->state != D_SYNC)
			break;
		if (is_mode("storm")) {
			mark_done(d);
			became_ready(d);
		} else if (d->role == R_SENDER) {
			d->state = D_OPEN;
			send_open(d);
		} else {
			became_ready(d);
		}
		break;
	}
	case SOUK__V1__FRAME__BODY_CONVERSATION:
		snprintf(d->conv, sizeof(d->conv), "%s", f->conversation->conversation_id);
		became_ready(d);
		if (is_mode("fill"))
			pump(d);
		break;
	case SOUK__V1__FRAME__BODY_EVENTS:
		on_events(d, f->events->events, f->events->n_events, 0);
		break;
	case SOUK__V1__FRAME__BODY_SEND_ACK: {
		int64_t now = lg_mono_ns();
		if (d->inflight > 0)
			d->inflight--;
		d->acked++;
		W.acked++;
		if (now >= W.t_measure_ns && now < W.t_end_ns)
			W.acked_win++;
		pump(d);
		break;
	}
	case SOUK__V1__FRAME__BODY_ERROR:
		if (f->error->code == SOUK__V1__ERROR_CODE__RATE_LIMITED)
			W.rate_limited++;
		else
			W.errors++;
		W.last_error_code = f->error->code;
		if (f->error->code / 100 >= 1 && f->error->code / 100 <= 5)
			W.err_by_code[f->error->code / 100]++;
		if (f->error->client_msg_id.len && d->inflight > 0)
			d->inflight--;
		pump(d);
		break;
	default:
		break;
	}
	souk_wire_frame_free(f);
}

/* ---- sending policy --------------------------------------------------------------- */

/* Closed loop (pair with rate 0) and fill: keep `window` sends in flight per sender. */
static void pump(dev *d)
{
	if (d->state != D_READY || !d->conv[0])
		return;
	if (is_mode("fill")) {
		while (d->inflight < W.o->window && d->sent < W.o->per_user)
			send_message(d, lg_mono_ns());
		if (d->acked >= W.o->per_user)
			mark_done(d);
		return;
	}
	if (!is_mode("pair") || W.o->rate > 0 || W.phase != P_RUN || d->role != R_SENDER)
		return;
	while (d->inflight < W.o->window)
		send_message(d, lg_mono_ns());
}

static void start_run(void)
{
	int64_t now = lg_mono_ns();
	W.t_go_ns = now;
	W.t_go_ms = lg_real_ms();
	W.phase = P_RUN;
	if (is_mode("pair")) {
		W.t_measure_ns = now + (int64_t)(W.o->warmup_s * 1e9);
		W.t_end_ns = W.t_measure_ns + (int64_t)(W.o->duration_s * 1e9);
		for (int i = 0; i < W.ndev; i++)
			pump(&W.devs[i]);
	} else if (is_mode("storm")) {
		for (int i = 0; i < W.ndev; i++)
			connect_dev(&W.devs[i]);
	}
}

/* Open loop: the messages due by now, round robin over senders with room. */
static void pace(int64_t now)
{
	double due = (double)(now - W.t_go_ns) / 1e9 * W.o->rate;
	int nsenders = W.ndev / 2;
	while (W.sched + 1 <= due) {
		int64_t t = W.t_go_ns + (int64_t)(W.sched / W.o->rate * 1e9);
		W.sched += 1;
		int sent = 0;
		for (int k = 0; k < nsenders && !sent; k++) {
			dev *d = &W.devs[2 * (W.rr++ % nsenders)];
			if (d->state == D_READY && d->inflight < W.o->window) {
				send_message(d, t);
				sent = 1;
			}
		}
		if (!sent)
			W.backlogged++;
	}
}

static void print_ready(void)
{
	printf("READY {\"ready\": %d, \"failed\": %d, \"devices\": %d, \"setup_s\": %.3f}\n",
	       W.n_ready, W.n_failed + (W.ndev - W.n_ready - W.n_failed), W.ndev,
	       (double)(lg_mono_ns() - W.t_start_ns) / 1e9);
}

/* The worker's clock: ramps connections, moves between phases, paces the open loop. Returns
 * the microseconds to the next tick, or 0 when the worker is done. */
static int64_t tick(void)
{
	int64_t now = lg_mono_ns();
	const lg_opts *o = W.o;
	int64_t timeout_ns = (int64_t)(o->timeout_s * 1e9);
	send_due_acks(now);

	/* connection ramp and retries */
	int connecting = W.phase == P_SETUP || (W.phase == P_RUN && is_mode("storm"));
	if (is_mode("storm") && W.phase == P_SETUP)
		connecting = 0;
	if (connecting) {
		int cap = is_mode("storm") ? W.ndev : SETUP_PENDING;
		for (int i = 0; i < W.ndev && W.n_pending < cap; i++) {
			dev *d = &W.devs[i];
			if (d->state == D_WAIT && now >= d->retry_at_ns)
				connect_dev(d);
		}
	}

	switch (W.phase) {
	case P_SETUP:
		if (is_mode("storm")) {
			print_ready();
			W.phase = P_WAIT_GO;
		} else if (W.n_ready + W.n_failed >= W.ndev || now - W.t_start_ns > timeout_ns) {
			if (is_mode("fill")) {
				W.phase = P_RUN;
				W.t_go_ns = W.t_start_ns;
			} else {
				print_ready();
				W.phase = P_WAIT_GO;
			}
		}
		break;
	case P_WAIT_GO:
		if (atomic_load(&lg_go))
			start_run();
		break;
	case P_RUN:
		if (is_mode("pair")) {
			if (o->rate > 0 && now < W.t_end_ns)
				pace(now);
			if (now >= W.t_end_ns) {
				W.phase = P_DRAIN;
				W.t_go_ns = now; /* drain deadline base */
			}
		} else if (is_mode("fill")) {
			int senders_done = 1;
			for (int i = 0; i < W.ndev && senders_done; i++)
				if (!W.devs[i].done && W.devs[i].state != D_FAILED)
					senders_done = 0;
			if (senders_done || now - W.t_start_ns > timeout_ns)
				W.phase = P_END;
		} else if (is_mode("storm") || is_mode("fanout")) {
			if (W.n_done + W.n_failed >= W.ndev || now - W.t_go_ns > timeout_ns ||
			    atomic_load(&lg_stop))
				W.phase = P_END;
		} else if (atomic_load(&lg_stop)) {
			W.phase = P_END;
		}
		break;
	case P_DRAIN: {
		int busy = 0;
		for (int i = 0; i < W.ndev && !busy; i++)
			busy = W.devs[i].inflight > 0;
		if (!busy || now - W.t_go_ns > 5000000000LL)
			W.phase = P_END;
		break;
	}
	case P_END:
		break;
	}
	if (atomic_load(&lg_stop) && W.phase != P_RUN && W.phase != P_DRAIN)
		W.phase = P_END;
	if (W.phase == P_END) {
		W.quit = 1;
		lws_cancel_service(W.ctx); /* lws polls again after running timers: wake it */
		return 0;
	}
	return (W.phase == P_RUN && is_mode("pair") && o->rate > 0) ? 1000 : 20000;
}

static void tick_sul(lws_sorted_usec_list_t *sul)
{
	int64_t us = tick();
	if (us)
		lws_sul_schedule(W.ctx, 0, sul, tick_sul, us);
}

/* Not an lws_sul under libuv: lws 4.1's glue arms its uv timer for the next sul with
 * LWS_US_TO_MS, which rounds under 500 us to 0 ms, so the loop spins (epoll_wait with a zero
 * timeout) for the last half millisecond before every tick: with a 1 ms tick, up to half of
 * the time. Our own uv timer sleeps the whole millisecond; pace() catches up on what is due. */
static void tick_uv(uv_timer_t *t)
{
	int64_t us = tick();
	if (us)
		uv_timer_start(t, tick_uv, (uint64_t)(us / 1000), 0);
}

/* ---- libwebsockets ---------------------------------------------------------------- */

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	attempt *a = user;
	dev *d = a ? a->d : NULL;
	int cur = a && d->att == a && !a->lost;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (!cur)
			return -1;
		d->wsi = wsi;
		d->state = D_HELLO;
		send_hello(d);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		if (!cur)
			return -1;
		int first = lws_is_first_fragment(wsi),
		    final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		if (first && final && d->rx_len == 0) {
			on_frame(d, in, len);
			break;
		}
		if (d->rx_len + len > d->rx_cap) {
			size_t cap = d->rx_cap ? d->rx_cap : 8192;
			while (cap < d->rx_len + len)
				cap *= 2;
			uint8_t *p = realloc(d->rx, cap);
			if (!p)
				return -1;
			d->rx = p;
			d->rx_cap = cap;
		}
		memcpy(d->rx + d->rx_len, in, len);
		d->rx_len += len;
		if (final) {
			on_frame(d, d->rx, d->rx_len);
			d->rx_len = 0;
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_WRITEABLE: {
		if (!cur)
			return -1;
		qframe *q = d->qh;
		if (!q)
			break;
		d->qh = q->next;
		if (!d->qh)
			d->qt = NULL;
		int w = lws_write(wsi, q->buf + LWS_PRE, q->len, LWS_WRITE_BINARY);
		free(q->buf);
		free(q);
		if (w < 0)
			return -1;
		if (d->qh)
			lws_callback_on_writable(wsi);
		break;
	}
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (cur && in && len >= 2) {
			int code = ((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1];
			W.close_by_code[code == 4408   ? 0
					: code == 4429 ? 1
					: code == 4409 ? 2
						       : 3]++;
		}
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (!a)
			break;
		if (cur) {
			if (reason == LWS_CALLBACK_CLIENT_CONNECTION_ERROR && in && W.errors == 0)
				fprintf(stderr, "loadgen: connect: %s\n", (const char *)in);
			a->lost = 1;
			lost(d);
		}
		if (reason == LWS_CALLBACK_WSI_DESTROY) {
			if (d->att == a)
				d->att = NULL;
			free(a);
		}
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (W.phase == P_WAIT_GO && atomic_load(&lg_go))
			start_run();
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{SOUK_WIRE_SUBPROTOCOL, cb, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void wake(void *ud)
{
	(void)ud;
	if (W.ctx)
		lws_cancel_service(W.ctx);
}

static char *mint(const char *secret, const char *sub)
{
	jwt_t *j = NULL;
	char *out = NULL;
	time_t now = time(NULL);
	if (jwt_new(&j))
		return NULL;
	if (!jwt_add_grant(j, "sub", sub) && !jwt_add_grant_int(j, "iat", now) &&
	    !jwt_add_grant_int(j, "exp", now + 86400) &&
	    !jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)))
		out = jwt_encode_str(j);
	jwt_free(j);
	return out;
}

static void print_result(void)
{
	int64_t end = lg_mono_ns();
	double measured = W.o->duration_s;
	printf("RESULT {\"mode\": \"%s\", \"devices\": %d, \"ready\": %d, \"failed\": %d, "
	       "\"done\": %d, \"sent\": %lld, \"acked\": %lld, \"acked_window\": %lld, "
	       "\"received_window\": %lld, \"received\": %lld, \"measured_s\": %.3f, "
	       "\"latencies\": %zu, \"errors\": %lld, \"rate_limited\": %lld, "
	       "\"last_error\": %d, \"closes\": %lld, \"retries\": %lld, \"backlogged\": %lld, "
	       "\"go_ms\": %lld, \"first_done_ms\": %lld, \"last_done_ms\": %lld, "
	       "\"go_to_last_done_s\": %.4f, \"elapsed_s\": %.3f, "
	       "\"errors_by_class\": [%lld, %lld, %lld, %lld, %lld], "
	       "\"peer_closes\": {\"4408\": %lld, \"4429\": %lld, \"4409\": %lld, "
	       "\"other\": %lld}}\n",
	       W.o->mode, W.ndev, W.n_ready, W.n_failed, W.n_done, (long long)W.sent,
	       (long long)W.acked, (long long)W.acked_win, (long long)W.recv_win,
	       (long long)W.recv_total, measured, W.lat.n, (long long)W.errors,
	       (long long)W.rate_limited, W.last_error_code, (long long)W.closes,
	       (long long)W.retries, (long long)W.backlogged, (long long)W.t_go_ms,
	       (long long)W.first_done_ms, (long long)W.last_done_ms,
	       W.t_last_done_ns ? (double)(W.t_last_done_ns - W.t_go_ns) / 1e9 : -1.0,
	       (double)(end - W.t_start_ns) / 1e9, (long long)W.err_by_code[1],
	       (long long)W.err_by_code[2], (long long)W.err_by_code[3],
	       (long long)W.err_by_code[4], (long long)W.err_by_code[5],
	       (long long)W.close_by_code[0], (long long)W.close_by_code[1],
	       (long long)W.close_by_code[2], (long long)W.close_by_code[3]);
}

int lg_souk_main(const lg_opts *o)
{
	W.o = o;
	if (!o->app_id || !o->secret) {
		fprintf(stderr, "loadgen: souk needs --app and --secret\n");
		return 2;
	}
	if (!is_mode("idle") && !is_mode("pair") && !is_mode("fill") && !is_mode("fanout") &&
	    !is_mode("storm")) {
		fprintf(stderr, "loadgen: unknown souk mode %s\n", o->mode);
		return 2;
	}
	srand((unsigned)getpid());
	W.salt = ((uint64_t)getpid() << 32) ^ (uint64_t)lg_mono_ns();
	int per_user = is_mode("pair") ? 2 : 1;
	W.ndev = o->users * per_user;
	W.devs = calloc((size_t)W.ndev, sizeof(dev));
	W.tokens = calloc((size_t)o->users, sizeof(char *));
	if (!W.devs || !W.tokens)
		return 1;
	for (int u = 0; u < o->users; u++) {
		char sub[SOUK_WIRE_MAX_ID + 1];
		snprintf(sub, sizeof(sub), "%s%d", o->prefix, o->first + u);
		if (!(W.tokens[u] = mint(o->secret, sub))) {
			fprintf(stderr, "loadgen: cannot sign a token\n");
			return 1;
		}
	}
	for (int i = 0; i < W.ndev; i++) {
		dev *d = &W.devs[i];
		d->idx = i;
		d->user = i / per_user;
		d->role = !is_mode("pair") ? (is_mode("fill") ? R_SENDER : R_PLAIN)
					   : (i % 2 == 0 ? R_SENDER : R_RECEIVER);
		d->state = D_WAIT;
		d->last_seq = is_mode("storm") ? o->after : 0;
	}

	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.fd_limit_per_thread = 0; /* the process limit, raised to the hard limit */
	/* lws' default loop ignores SIGPIPE itself; a foreign loop gets no signal handling */
	signal(SIGPIPE, SIG_IGN);
	static uv_loop_t loop;
	void *foreign[1] = {&loop};
	if (!o->poll_loop) {
		if (uv_loop_init(&loop) != 0) {
			fprintf(stderr, "loadgen: cannot create the libuv loop\n");
			return 1;
		}
		info.options |= LWS_SERVER_OPTION_LIBUV;
		info.foreign_loops = foreign;
	}
	W.ctx = lws_create_context(&info);
	if (!W.ctx) {
		fprintf(stderr, "loadgen: cannot create the libwebsockets context%s\n",
			o->poll_loop ? "" : " on libuv (libwebsockets-evlib-uv; or --loop poll)");
		return 1;
	}
	lg_stdin_start(wake, NULL);
	W.t_start_ns = lg_mono_ns();
	W.t_measure_ns = INT64_MAX;
	W.t_end_ns = INT64_MAX;
	W.phase = P_SETUP;
	if (o->poll_loop) {
		lws_sul_schedule(W.ctx, 0, &W.tick, tick_sul, 1000);
		while (!W.quit)
			if (lws_service(W.ctx, 0) < 0)
				break;
	} else {
		uv_timer_init(&loop, &W.uv_tick);
		uv_timer_start(&W.uv_tick, tick_uv, 1, 0);
		/* tick() sets quit; uv_run returns after the iteration that ran it */
		while (!W.quit)
			uv_run(&loop, UV_RUN_ONCE);
	}
	if (lg_lat_write(&W.lat, o->lat_file) != 0)
		fprintf(stderr, "loadgen: cannot write %s\n", o->lat_file);
	print_result();
	fflush(stdout);
	/* the kernel closes every socket at exit; a context destroy of 15,000 connections would
	 * only add minutes of close handshakes */
	_exit(0);
}
