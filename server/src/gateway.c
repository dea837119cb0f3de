/*
 * gateway.c — soukd's event loop thread (libwebsockets): WebSocket sessions at /v1/ws,
 * /healthz and /metrics on the same listener, and delivery of committed events.
 *
 * Owns: every socket, every connection's state, the in-memory indexes (connection id ->
 * connection, app+user -> connections), the app key cache, and the per-user send rate.
 * Never: touches the disk. Anything that reads or writes the store is a gc_op handed to
 * the storage thread (group_commit.c); its result comes back through gc_take_done() after
 * lws_cancel_service() wakes this loop.
 *
 * Delivery invariant (docs/protocol.md#session): per connection, `sent_up_to` is the
 * highest seq written to it. Events go out strictly as sent_up_to + 1, + 2, … whether they
 * come from a sync page, a live push or a catch-up read, so no event is sent twice and none
 * is skipped within a connection. A live push that would leave a gap (seq > sent_up_to + 1)
 * turns into a catch-up read from the store instead.
 *
 * Memory is bounded per connection: the receive buffer by the frame limit, the send queue
 * by send_queue_max_frames/bytes (overflow closes with 4409: the client catches up by sync),
 * and at most one store read in flight per connection.
 */
#include "gateway.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "auth.h"
#include "gateway_internal.h"
#include "group_commit.h"
#include "metrics.h"
#include "util.h"

/* ---- indexes ----------------------------------------------------------------------- */

static size_t hash_user(const char *app_id, const char *user_id)
{
	size_t h = 1469598103934665603ULL;
	for (const char *s = app_id;; s++) { /* the app id's NUL separates the two */
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		if (!*s)
			break;
	}
	for (const char *s = user_id; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static conn *conn_find(gateway *gw, uint64_t id)
{
	for (conn *c = gw->conns[id % CONN_BUCKETS]; c; c = c->hnext)
		if (c->id == id)
			return c;
	return NULL;
}

static void conn_index(gateway *gw, conn *c)
{
	c->hnext = gw->conns[c->id % CONN_BUCKETS];
	gw->conns[c->id % CONN_BUCKETS] = c;
}

static void conn_unindex(gateway *gw, conn *c)
{
	conn **pp = &gw->conns[c->id % CONN_BUCKETS];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
}

static const char *user_id_of(const user_entry *u)
{
	return u->key + u->app_len + 1;
}

static user_entry *user_find(gateway *gw, const char *app_id, const char *user_id, int create)
{
	size_t alen = strlen(app_id), ulen = strlen(user_id);
	size_t b = hash_user(app_id, user_id) % USER_BUCKETS;
	for (user_entry *u = gw->users[b]; u; u = u->hnext)
		if (u->app_len == alen && memcmp(u->key, app_id, alen) == 0 &&
		    strcmp(user_id_of(u), user_id) == 0)
			return u;
	if (!create || alen > UINT16_MAX)
		return NULL;
	user_entry *u = calloc(1, sizeof(*u) + alen + 1 + ulen + 1);
	if (!u)
		return NULL;
	u->app_len = (uint16_t)alen;
	memcpy(u->key, app_id, alen + 1);
	memcpy(u->key + alen + 1, user_id, ulen + 1);
	u->tokens = (double)gw->cfg.send_burst;
	u->tokens_at_us = souk_mono_us();
	u->hnext = gw->users[b];
	gw->users[b] = u;
	return u;
}

static void user_release(gateway *gw, user_entry *u)
{
	if (u->n_conns > 0)
		return;
	size_t b = hash_user(u->key, user_id_of(u)) % USER_BUCKETS;
	user_entry **pp = &gw->users[b];
	while (*pp && *pp != u)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = u->hnext;
	free(u);
}

static void user_attach(user_entry *u, conn *c)
{
	c->user = u;
	c->unext = u->conns;
	u->conns = c;
	u->n_conns++;
}

static void user_detach(gateway *gw, conn *c)
{
	user_entry *u = c->user;
	if (!u)
		return;
	conn **pp = &u->conns;
	while (*pp && *pp != c)
		pp = &(*pp)->unext;
	if (*pp)
		*pp = c->unext;
	c->unext = NULL;
	u->n_conns--;
	c->user = NULL;
	user_release(gw, u);
}

static const char *conn_app_id(const conn *c)
{
	if (c->user)
		return c->user->key;
	if (c->side && c->side->hello && c->side->hello->hello)
		return c->side->hello->hello->app_id; /* authenticating */
	return "";
}

/* conn_side: allocated on first use, freed once nothing in it is in use */
static conn_side *side_get(conn *c)
{
	if (!c->side)
		c->side = calloc(1, sizeof(*c->side));
	return c->side;
}

static void side_trim(conn *c)
{
	conn_side *s = c->side;
	if (s && !s->hello && !s->rx && !s->close_why && !c->sync_queued) {
		free(s);
		c->side = NULL;
	}
}

static const char *conn_user_id(const conn *c)
{
	return c->user ? user_id_of(c->user) : "";
}

/* ---- app key cache ----------------------------------------------------------------- */

static app_cache *app_lookup(gateway *gw, const char *app_id)
{
	for (app_cache *a = gw->apps; a; a = a->next)
		if (strcmp(a->app->app_id, app_id) == 0)
			return a;
	return NULL;
}

static void app_store(gateway *gw, store_app *app)
{
	app_cache *a = app_lookup(gw, app->app_id);
	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a) {
			store_app_clear(app);
			free(app);
			return;
		}
		a->next = gw->apps;
		gw->apps = a;
	} else {
		store_app_clear(a->app);
		free(a->app);
	}
	a->app = app;
	a->loaded_us = souk_mono_us();
}

/* ---- sending ----------------------------------------------------------------------- */

/* The output seam: a connection without a socket (wsi NULL, tests/fuzz/fuzz_dispatch.c)
 * keeps its frames in its send queue, where the caller reads them. */
static void conn_want_write(conn *c)
{
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void conn_close(conn *c, int code, const char *why)
{
	if (c->close_code)
		return;
	c->close_code = (uint16_t)code;
	conn_side *s = side_get(c); /* without it (no memory) the close has no reason */
	if (s)
		s->close_why = why;
	conn_want_write(c);
}

outmsg *gw_conn_pop(conn *c)
{
	outmsg *m = c->q_head;
	if (!m)
		return NULL;
	c->q_head = m->next;
	if (!c->q_head)
		c->q_tail = NULL;
	c->q_frames--;
	c->q_bytes -= m->len;
	return m;
}

static void queue_free(conn *c)
{
	for (outmsg *m = c->q_head, *n; m; m = n) {
		n = m->next;
		free(m->buf);
		free(m);
	}
	c->q_head = c->q_tail = NULL;
	c->q_frames = c->q_bytes = 0;
}

/* A frame handed to lws_write ends the latency stage it was stamped for (OUT_*). */
static void observe_write(int stage, int64_t stamp_us)
{
	if (stage != OUT_PLAIN)
		metrics_observe_stage(stage == OUT_SEND_ACK ? METRICS_SEND_ACK
							    : METRICS_EVENT_WRITE,
				      souk_mono_us() - stamp_us);
}

/* Server-to-client WebSocket framing (RFC 6455 5.2: FIN, binary, unmasked) of a frame of
 * len bytes into hdr; returns the header's length. */
static size_t ws_header(uint8_t *hdr, size_t len)
{
	hdr[0] = 0x82;
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (int i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

enum { WRITE_MAX_FRAMES = 16, WRITE_MAX_BYTES = 64 * 1024 };

/* Writes the head of c's send queue: up to WRITE_MAX_FRAMES frames and WRITE_MAX_BYTES in
 * one write, so that a send's ack and the sender's own event, or the events of several
 * sends, cost one send() and one TCP segment rather than one each. Several frames are
 * framed here and written raw (lws_write LWS_WRITE_RAW: lws adds no framing of its own;
 * soukd negotiates no extension), one frame goes through lws' own framing. lws buffers
 * what the socket does not take (lws_partial_buffered) and holds WRITEABLE back until it
 * is out. Returns -1 if the write failed. */
static int write_queue(conn *c)
{
	struct lws *wsi = c->wsi;
	size_t k = 0, total = 0;
	for (outmsg *m = c->q_head; m && k < WRITE_MAX_FRAMES; m = m->next, k++) {
		size_t add = m->len + (m->len < 126 ? 2 : m->len < 65536 ? 4 : 10);
		if (k > 0 && total + add > WRITE_MAX_BYTES)
			break;
		total += add;
	}
	if (k == 0)
		return 0;
	uint8_t *buf = NULL;
	if (k > 1)
		buf = malloc(LWS_PRE + total);
	if (!buf) { /* one frame (or no memory for the gathering): lws frames it */
		outmsg *m = gw_conn_pop(c);
		int n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_BINARY);
		if (n >= 0)
			observe_write(m->stage, m->stamp_us);
		free(m->buf);
		free(m);
		return n < 0 ? -1 : 0;
	}
	size_t off = LWS_PRE;
	for (size_t i = 0; i < k; i++) {
		outmsg *m = c->q_head;
		off += ws_header(buf + off, m->len);
		memcpy(buf + off, m->buf + LWS_PRE, m->len);
		off += m->len;
		m = gw_conn_pop(c);
		observe_write(m->stage, m->stamp_us);
		free(m->buf);
		free(m);
	}
	int n = lws_write(wsi, buf + LWS_PRE, total, LWS_WRITE_RAW);
	free(buf);
	return n < 0 ? -1 : 0;
}

/* The end of a drain (or a connection whose queue grew long in it): write what the drain
 * queued for c, then leave the rest, if any, to WRITEABLE. */
static void flush_conn(conn *c)
{
	if (!c->wsi || !c->q_head || c->close_code == SOUK_WIRE_CLOSE_SLOW)
		return;
	if (!lws_partial_buffered(c->wsi) && write_queue(c) < 0)
		conn_close(c, SOUK_WIRE_CLOSE_INTERNAL, "write failed");
	if (c->q_head || c->close_code)
		lws_callback_on_writable(c->wsi);
}

static void flush_listed(gateway *gw)
{
	for (size_t i = 0; i < gw->n_flush; i++) {
		conn *c = gw->flush[i];
		c->flush_listed = 0;
		flush_conn(c);
	}
	gw->n_flush = 0;
}

/* Takes ownership of buf (frame at buf + LWS_PRE, len bytes). stage (OUT_*) and stamp_us:
 * the latency histogram its write ends, measured from stamp_us (OUT_PLAIN: none).
 *
 * While completions are drained (gw->write_direct), the connection is listed and written
 * at the end of the drain (flush_listed) instead of waiting for a WRITEABLE callback: that
 * wait is a whole loop iteration (with event_loop "poll", a poll() over every socket,
 * then every other callback of it), which at half the durable rate was most of the time
 * from COMMIT to the recipient's EventBatch (docs/performance.md); and all its frames of
 * the drain go in one write (write_queue). */
static void enqueue_raw(conn *c, uint8_t *buf, size_t len, int stage, int64_t stamp_us)
{
	if (c->close_code == SOUK_WIRE_CLOSE_SLOW) {
		free(buf);
		return;
	}
	if (c->q_frames + 1 > (size_t)c->gw->cfg.send_queue_max_frames ||
	    c->q_bytes + len > (size_t)c->gw->cfg.send_queue_max_bytes) {
		/* The client cannot keep up: drop what is queued, close; it will sync. */
		free(buf);
		queue_free(c);
		atomic_fetch_add(&g_metrics.slow_consumer_disconnects, 1);
		c->close_code = 0;
		conn_close(c, SOUK_WIRE_CLOSE_SLOW, "slow consumer: send queue overflow");
		return;
	}
	outmsg *m = malloc(sizeof(*m));
	if (!m) {
		free(buf);
		conn_close(c, SOUK_WIRE_CLOSE_INTERNAL, "out of memory");
		return;
	}
	m->next = NULL;
	m->buf = buf;
	m->len = len;
	m->stage = stage;
	m->stamp_us = stamp_us;
	if (c->q_tail)
		c->q_tail->next = m;
	else
		c->q_head = m;
	c->q_tail = m;
	c->q_frames++;
	c->q_bytes += len;
	gateway *gw = c->gw;
	if (gw->write_direct && c->wsi && !c->close_code) {
		if (c->flush_listed) {
			/* a long queue within one drain goes out now: one write of up to
			 * WRITE_MAX_FRAMES, not a queue that a big group could overflow */
			if (c->q_frames >= WRITE_MAX_FRAMES)
				flush_conn(c);
			return;
		}
		if (gw->n_flush == gw->cap_flush) {
			size_t cap = gw->cap_flush ? 2 * gw->cap_flush : 256;
			conn **nf = realloc(gw->flush, cap * sizeof(*nf));
			if (!nf) {
				conn_want_write(c);
				return;
			}
			gw->flush = nf;
			gw->cap_flush = cap;
		}
		gw->flush[gw->n_flush++] = c;
		c->flush_listed = 1;
		return;
	}
	conn_want_write(c);
}

static void send_frame_stamped(conn *c, const Souk__V1__Frame *f, int stage, int64_t stamp_us)
{
	uint8_t *buf;
	size_t len;
	if (souk_wire_encode(f, LWS_PRE, &buf, &len) != 0) {
		conn_close(c, SOUK_WIRE_CLOSE_INTERNAL, "cannot encode frame");
		return;
	}
	enqueue_raw(c, buf, len, stage, stamp_us);
}

static void send_frame(conn *c, const Souk__V1__Frame *f)
{
	send_frame_stamped(c, f, OUT_PLAIN, 0);
}

static void send_error(conn *c, uint64_t request_id, int code, const char *why,
		       const ProtobufCBinaryData *client_msg_id, int permanent,
		       uint32_t retry_after_ms)
{
	Souk__V1__Error e = SOUK__V1__ERROR__INIT;
	e.code = (Souk__V1__ErrorCode)code;
	e.message = (char *)(why ? why : souk_wire_error_name(code));
	if (client_msg_id)
		e.client_msg_id = *client_msg_id;
	e.permanent = permanent;
	e.retry_after_ms = retry_after_ms;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = request_id;
	f.body_case = SOUK__V1__FRAME__BODY_ERROR;
	f.error = &e;
	send_frame(c, &f);
}

static void fail_and_close(conn *c, uint64_t request_id, int code, const char *why, int close_code)
{
	send_error(c, request_id, code, why, NULL, 1, 0);
	conn_close(c, close_code, why);
}

/* Writes events (already encoded) as sent_up_to+1.. onward; returns how many were taken. */
static size_t send_events(conn *c, uint64_t request_id, int as_page, const store_blob *ev,
			  const uint64_t *seqs, size_t n, int has_more, uint64_t head)
{
	const uint8_t *ptrs[SOUK_WIRE_MAX_SYNC_PAGE];
	size_t lens[SOUK_WIRE_MAX_SYNC_PAGE];
	size_t k = 0;
	for (size_t i = 0; i < n && k < SOUK_WIRE_MAX_SYNC_PAGE; i++) {
		if (seqs[i] != c->sent_up_to + 1 + k)
			continue; /* already sent on this connection (or not contiguous) */
		ptrs[k] = ev[i].data;
		lens[k] = ev[i].len;
		k++;
	}
	if (k == 0 && !as_page)
		return 0;
	uint8_t *buf;
	size_t len, used = 0;
	if (souk_wire_encode_events(request_id, as_page, ptrs, lens, k, has_more, head, LWS_PRE,
				    &buf, &len, &used) != 0) {
		conn_close(c, SOUK_WIRE_CLOSE_INTERNAL, "cannot encode events");
		return 0;
	}
	c->sent_up_to += used;
	atomic_fetch_add(&g_metrics.events_delivered, used);
	/* a live push from a send's completion is timed to its write (souk_event_write_seconds);
	 * pages and catch-up reads are not */
	int64_t stamp = as_page || request_id ? 0 : c->gw->live_event_stamp_us;
	enqueue_raw(c, buf, len, stamp ? OUT_LIVE_EVENT : OUT_PLAIN, stamp);
	return used;
}

/* ---- store operations -------------------------------------------------------------- */

gc_op *gw_op_new(gateway *gw, gc_kind kind)
{
	(void)gw;
	gc_op *op = gc_op_new(kind);
	if (op)
		op->now_ms = souk_now_ms();
	return op;
}

static gc_op *op_for(conn *c, gc_kind kind, uint64_t request_id)
{
	gc_op *op = gc_op_new(kind);
	if (!op)
		return NULL;
	op->conn_id = c->id;
	op->request_id = request_id;
	snprintf(op->app_id, sizeof(op->app_id), "%s", conn_app_id(c));
	snprintf(op->user_id, sizeof(op->user_id), "%s", conn_user_id(c));
	snprintf(op->device_id, sizeof(op->device_id), "%s", c->device_id ? c->device_id : "");
	op->now_ms = souk_now_ms();
	return op;
}

static void start_read(conn *c, uint64_t request_id, int internal, uint64_t after, uint32_t limit)
{
	gc_op *op = op_for(c, GC_READ_EVENTS, request_id);
	if (!op) {
		conn_close(c, SOUK_WIRE_CLOSE_INTERNAL, "out of memory");
		return;
	}
	op->internal = internal;
	op->seq = after;
	op->limit = limit ? limit : (uint32_t)c->gw->cfg.sync_page_default;
	c->reading = 1;
	gc_submit(c->gw->gc, op);
}

void gw_deliver(gateway *gw, const char *app_id, const store_appends *a)
{
	for (size_t i = 0; i < a->n; i++) {
		user_entry *u = user_find(gw, app_id, a->v[i].user_id, 0);
		if (!u)
			continue;
		for (conn *c = u->conns; c; c = c->unext) {
			if (c->state != CS_READY || !c->live || c->close_code)
				continue;
			if (a->v[i].seq <= c->sent_up_to)
				continue;
			if (a->v[i].seq == c->sent_up_to + 1 && !c->reading) {
				send_events(c, 0, 0, &a->v[i].event, &a->v[i].seq, 1, 0, 0);
			} else {
				c->catchup = 1;
				if (!c->reading)
					start_read(c, 0, 1, c->sent_up_to, 0);
			}
		}
	}
}

/* ---- hello ------------------------------------------------------------------------- */

/* LWS_CALLBACK_TIMER, armed at ESTABLISHED with lws_set_timer_usecs() (the wsi's own timer,
 * so no timer in conn). lws 4.1 cannot cancel that timer: LWS_SET_TIMER_USEC_CANCEL at
 * welcome makes it due at once, so it runs in the loop iteration already under way and
 * finds the connection ready. Left to fire 5 s later, 15,000 such timers woke the loop
 * ~230 times a second, each a poll() over every socket (docs/performance.md). */
static void auth_timeout(conn *c)
{
	/* The timer is for clients that do not send a hello. Once one arrived (CS_AUTHING) the
	 * wait is the server's (app load, device registration in the store): closing then
	 * turned a reconnect storm on a busy machine into a retry storm (docs/performance.md,
	 * 54,618 retries and 141 s instead of 11 s); every hello is answered either way. */
	if (c->state == CS_NEW && !c->close_code) {
		atomic_fetch_add(&g_metrics.auth_failures, 1);
		fail_and_close(c, 0, SOUK__V1__ERROR_CODE__AUTH_REQUIRED,
			       "no valid hello within the auth timeout",
			       SOUK_WIRE_CLOSE_AUTH_TIMEOUT);
	}
}

static void finish_hello(conn *c, const store_app *app)
{
	gateway *gw = c->gw;
	Souk__V1__Hello *h = c->side->hello->hello;
	const char *why = NULL;
	char user[STORE_ID_MAX];
	int code = auth_verify(app, h->token, souk_now_ms() / 1000, user, sizeof(user), &why);
	app_cache *cached = app_lookup(gw, conn_app_id(c));
	if (code == SOUK__V1__ERROR_CODE__UNKNOWN_KEY && !c->keys_reloaded && cached &&
	    souk_mono_us() - cached->loaded_us > 1000000) {
		/* a key registered since the cache was filled: reload once, then decide */
		gc_op *op = op_for(c, GC_LOAD_APP, c->side->hello->request_id);
		if (op) {
			c->keys_reloaded = 1;
			gc_submit(gw->gc, op);
			return;
		}
	}
	if (code) {
		atomic_fetch_add(&g_metrics.auth_failures, 1);
		souk_log(SOUK_LOG_INFO, "conn %llu: hello refused: %s (%s)",
			 (unsigned long long)c->id, souk_wire_error_name(code), why);
		fail_and_close(c, c->side->hello->request_id, code, why, SOUK_WIRE_CLOSE_AUTH);
		return;
	}
	user_entry *u = user_find(gw, conn_app_id(c), user, 1);
	if (!u) {
		fail_and_close(c, c->side->hello->request_id, SOUK__V1__ERROR_CODE__INTERNAL,
			       "out of memory", SOUK_WIRE_CLOSE_INTERNAL);
		return;
	}
	if (u->n_conns >= gw->cfg.max_connections_per_user) {
		user_release(gw, u);
		fail_and_close(c, c->side->hello->request_id,
			       SOUK__V1__ERROR_CODE__TOO_MANY_CONNECTIONS,
			       "too many connections for this user", SOUK_WIRE_CLOSE_LIMIT);
		return;
	}
	free(c->device_id);
	c->device_id = strdup(h->device_id ? h->device_id : "");
	if (!c->device_id) {
		user_release(gw, u);
		fail_and_close(c, c->side->hello->request_id, SOUK__V1__ERROR_CODE__INTERNAL,
			       "out of memory", SOUK_WIRE_CLOSE_INTERNAL);
		return;
	}
	user_attach(u, c);

	gc_op *op = op_for(c, GC_DEVICE_CONNECT, c->side->hello->request_id);
	if (!op) {
		conn_close(c, SOUK_WIRE_CLOSE_INTERNAL, "out of memory");
		return;
	}
	op->platform = h->platform;
	snprintf(op->sdk_version, sizeof(op->sdk_version), "%s",
		 h->sdk_version ? h->sdk_version : "");
	op->seq = h->last_applied_seq;
	gc_submit(gw->gc, op);
}

static void on_hello(conn *c, Souk__V1__Frame *f)
{
	gateway *gw = c->gw;
	Souk__V1__Hello *h = f->hello;
	if (h->protocol_version > SOUK_WIRE_PROTOCOL_VERSION) {
		fail_and_close(c, f->request_id, SOUK__V1__ERROR_CODE__UNSUPPORTED_VERSION,
			       "protocol version not supported (this server speaks 1)",
			       SOUK_WIRE_CLOSE_AUTH);
		souk_wire_frame_free(f);
		return;
	}
	if (gw->shutting_down) {
		send_error(c, f->request_id, SOUK__V1__ERROR_CODE__SHUTTING_DOWN,
			   "server is shutting down", NULL, 0, 1000);
		conn_close(c, SOUK_WIRE_CLOSE_GOING_AWAY, "shutting down");
		souk_wire_frame_free(f);
		return;
	}
	conn_side *side = side_get(c);
	if (!side) {
		fail_and_close(c, f->request_id, SOUK__V1__ERROR_CODE__INTERNAL, "out of memory",
			       SOUK_WIRE_CLOSE_INTERNAL);
		souk_wire_frame_free(f);
		return;
	}
	side->hello = f;
	c->state = CS_AUTHING;
	app_cache *a = app_lookup(gw, h->app_id);
	if (a && souk_mono_us() - a->loaded_us < APP_CACHE_TTL_US) {
		finish_hello(c, a->app);
		return;
	}
	gc_op *op = op_for(c, GC_LOAD_APP, f->request_id);
	if (!op) {
		conn_close(c, SOUK_WIRE_CLOSE_INTERNAL, "out of memory");
		return;
	}
	gc_submit(gw->gc, op);
}

/* ---- requests of an authenticated connection ---------------------------------------- */

static int take_token(gateway *gw, user_entry *u, uint32_t *retry_ms)
{
	int64_t now = souk_mono_us();
	u->tokens += (double)(now - u->tokens_at_us) / 1e6 * (double)gw->cfg.send_rate_per_s;
	if (u->tokens > (double)gw->cfg.send_burst)
		u->tokens = (double)gw->cfg.send_burst;
	u->tokens_at_us = now;
	if (u->tokens >= 1.0) {
		u->tokens -= 1.0;
		return 1;
	}
	*retry_ms = (uint32_t)((1.0 - u->tokens) / (double)gw->cfg.send_rate_per_s * 1000.0) + 1;
	return 0;
}

static void on_send(conn *c, Souk__V1__Frame *f)
{
	int64_t t_recv = souk_mono_us(); /* the stages of souk_send_*_seconds start here */
	gateway *gw = c->gw;
	Souk__V1__Send *s = f->send;
	uint32_t retry_ms = 0;
	if (gw->shutting_down) {
		send_error(c, f->request_id, SOUK__V1__ERROR_CODE__SHUTTING_DOWN,
			   "server is shutting down", &s->client_msg_id, 0, 1000);
		souk_wire_frame_free(f);
		return;
	}
	souk_wire_status st =
		souk_wire_validate_content(s->content, (size_t)gw->cfg.max_message_bytes);
	if (st.code) {
		atomic_fetch_add(&g_metrics.messages_rejected, 1);
		send_error(c, f->request_id, st.code, st.why, &s->client_msg_id, 1, 0);
		souk_wire_frame_free(f);
		return;
	}
	if (!take_token(gw, c->user, &retry_ms)) {
		atomic_fetch_add(&g_metrics.messages_rejected, 1);
		send_error(c, f->request_id, SOUK__V1__ERROR_CODE__RATE_LIMITED,
			   "send rate limit exceeded", &s->client_msg_id, 0, retry_ms);
		souk_wire_frame_free(f);
		return;
	}
	gc_op *op = op_for(c, GC_SEND, f->request_id);
	if (!op) {
		send_error(c, f->request_id, SOUK__V1__ERROR_CODE__INTERNAL, "out of memory",
			   &s->client_msg_id, 0, 1000);
		souk_wire_frame_free(f);
		return;
	}
	op->frame = f;
	op->t_recv_us = t_recv;
	gc_submit(gw->gc, op);
}

static void on_sync_request(conn *c, uint64_t request_id, const Souk__V1__SyncRequest *r)
{
	if (c->reading) {
		/* one read at a time per connection; the latest request waits, and one it
		 * replaces is answered now: every request with an id gets one answer */
		conn_side *s = side_get(c);
		if (!s) {
			send_error(c, request_id, SOUK__V1__ERROR_CODE__INTERNAL, "out of memory",
				   NULL, 0, 0);
			return;
		}
		if (c->sync_queued && s->sync_q_request)
			send_error(c, s->sync_q_request, SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME,
				   "replaced by a later sync request before it was served", NULL, 0,
				   0);
		c->sync_queued = 1;
		s->sync_q_request = request_id;
		s->sync_q_after = r->after_seq;
		s->sync_q_limit = r->limit;
		return;
	}
	uint64_t after = r->after_seq;
	if (!c->sync_started) {
		c->sync_started = 1;
		c->sent_up_to = after;
	} else if (after < c->sent_up_to) {
		after = c->sent_up_to; /* never resend within a connection */
	} else if (after > c->sent_up_to) {
		/* the client skipped ahead of what this connection sent: follow it */
		c->sent_up_to = after;
	}
	start_read(c, request_id, 0, after, r->limit);
}

/* The device cursor (devices.cursor) is written coalesced: at the device's first ack, then
 * at most once per ACK_WRITE_INTERVAL_S while it keeps acking, and at disconnect (shutdown
 * included). Acks were two of every three store operations per message. Nothing relies
 * on the stored cursor being current: delivery follows the connection's sent_up_to and
 * the device re-states its position in Hello (docs/architecture.md, "Delivery"). */
enum { ACK_WRITE_INTERVAL_S = 5 };

static void write_cursor(conn *c, uint64_t seq, uint64_t conn_id)
{
	gc_op *op = op_for(c, GC_DEVICE_ACK, 0);
	if (!op)
		return;
	op->conn_id = conn_id;
	op->seq = seq;
	c->ack_inflight = conn_id != 0;
	c->ack_written_s = (uint32_t)(souk_mono_us() / 1000000);
	gc_submit(c->gw->gc, op);
}

static void on_ack(conn *c, uint64_t seq)
{
	if (seq > c->sent_up_to)
		seq = c->sent_up_to; /* a device cannot have committed what it was not sent */
	if (seq <= c->ack_wanted)
		return;
	c->ack_wanted = seq;
	if (c->ack_inflight)
		return;
	uint32_t now_s = (uint32_t)(souk_mono_us() / 1000000);
	if (c->ack_written_s && now_s - c->ack_written_s < ACK_WRITE_INTERVAL_S)
		return; /* written later: by a later ack, or at disconnect */
	write_cursor(c, seq, c->id);
}

/* At disconnect: the last acked position, if it was not written yet. */
static void flush_cursor(conn *c)
{
	if (c->state == CS_READY && c->ack_wanted > c->acked)
		write_cursor(c, c->ack_wanted, 0);
}

static void dispatch(conn *c, Souk__V1__Frame *f)
{
	gateway *gw = c->gw;
	switch (f->body_case) {
	case SOUK__V1__FRAME__BODY_SEND:
		on_send(c, f);
		return; /* on_send owns f */
	case SOUK__V1__FRAME__BODY_SYNC_REQUEST:
		on_sync_request(c, f->request_id, f->sync_request);
		break;
	case SOUK__V1__FRAME__BODY_UPDATE_CONTEXT: {
		gc_op *op = op_for(c, GC_UPDATE_CONTEXT, f->request_id);
		if (!op)
			break;
		snprintf(op->conversation_id, sizeof(op->conversation_id), "%s",
			 f->update_context->conversation_id);
		op->frame = f; /* the op owns the frame (and the context in it) */
		gc_submit(gw->gc, op);
		return;
	}
	case SOUK__V1__FRAME__BODY_ACK:
		atomic_fetch_add_explicit(&g_metrics.acks_received, 1, memory_order_relaxed);
		on_ack(c, f->ack->seq);
		break;
	case SOUK__V1__FRAME__BODY_MARK_READ: {
		gc_op *op = op_for(c, GC_MARK_READ, f->request_id);
		if (op) {
			snprintf(op->conversation_id, sizeof(op->conversation_id), "%s",
				 f->mark_read->conversation_id);
			op->seq = f->mark_read->up_to_conv_seq;
			gc_submit(gw->gc, op);
		}
		break;
	}
	case SOUK__V1__FRAME__BODY_OPEN_CONVERSATION: {
		const Souk__V1__OpenConversation *o = f->open_conversation;
		int by_id = o->conversation_id && o->conversation_id[0];
		gc_op *op =
			op_for(c, by_id ? GC_OPEN_CONVERSATION : GC_OPEN_SUPPORT, f->request_id);
		if (op) {
			if (by_id)
				snprintf(op->conversation_id, sizeof(op->conversation_id), "%s",
					 o->conversation_id);
			gc_submit(gw->gc, op);
		}
		break;
	}
	case SOUK__V1__FRAME__BODY_TYPING: {
		uint32_t retry;
		if (!take_token(gw, c->user, &retry))
			break; /* ephemeral: dropped under the rate limit */
		gc_op *op = op_for(c, GC_OPEN_CONVERSATION, f->request_id);
		if (op) {
			op->internal = f->typing->on ? 2 : 1; /* relay typing on completion */
			snprintf(op->conversation_id, sizeof(op->conversation_id), "%s",
				 f->typing->conversation_id);
			gc_submit(gw->gc, op);
		}
		break;
	}
	case SOUK__V1__FRAME__BODY_PING: {
		Souk__V1__Pong p = SOUK__V1__PONG__INIT;
		p.client_time_ms = f->ping->client_time_ms;
		p.server_time_ms = souk_now_ms();
		Souk__V1__Frame out = SOUK__V1__FRAME__INIT;
		out.request_id = f->request_id;
		out.body_case = SOUK__V1__FRAME__BODY_PONG;
		out.pong = &p;
		send_frame(c, &out);
		break;
	}
	case SOUK__V1__FRAME__BODY_HELLO:
		fail_and_close(c, f->request_id, SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME,
			       "hello was already accepted on this connection",
			       SOUK_WIRE_CLOSE_PROTOCOL);
		break;
	default:
		break;
	}
	souk_wire_frame_free(f);
}

static void on_frame(conn *c, const uint8_t *buf, size_t len)
{
	Souk__V1__Frame *f = NULL;
	souk_wire_status st = souk_wire_decode_keep(buf, len, 1, &f);
	if (st.code) {
		atomic_fetch_add(&g_metrics.frames_rejected, 1);
		uint64_t rid = f ? f->request_id : 0;
		const ProtobufCBinaryData *cmid = f && f->body_case == SOUK__V1__FRAME__BODY_SEND
							  ? &f->send->client_msg_id
							  : NULL;
		if (cmid && cmid->len != SOUK_WIRE_CLIENT_MSG_ID_LEN)
			cmid = NULL;
		if (c->state != CS_READY) {
			int close =
				st.code == SOUK__V1__ERROR_CODE__BAD_FRAME ||
						st.code == SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME
					? SOUK_WIRE_CLOSE_PROTOCOL
					: SOUK_WIRE_CLOSE_AUTH;
			fail_and_close(c, rid, st.code, st.why, close);
		} else if (st.code == SOUK__V1__ERROR_CODE__BAD_FRAME ||
			   st.code == SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME) {
			fail_and_close(c, rid, st.code, st.why, SOUK_WIRE_CLOSE_PROTOCOL);
		} else {
			if (cmid)
				atomic_fetch_add(&g_metrics.messages_rejected, 1);
			send_error(c, rid, st.code, st.why, cmid, 1, 0);
		}
		souk_wire_frame_free(f);
		return;
	}
	switch (c->state) {
	case CS_NEW:
		if (f->body_case != SOUK__V1__FRAME__BODY_HELLO) {
			atomic_fetch_add(&g_metrics.auth_failures, 1);
			fail_and_close(c, f->request_id, SOUK__V1__ERROR_CODE__AUTH_REQUIRED,
				       "the first frame must be hello", SOUK_WIRE_CLOSE_AUTH);
			souk_wire_frame_free(f);
			return;
		}
		on_hello(c, f);
		return;
	case CS_AUTHING:
		fail_and_close(c, f->request_id, SOUK__V1__ERROR_CODE__AUTH_REQUIRED,
			       "wait for welcome before sending requests", SOUK_WIRE_CLOSE_AUTH);
		souk_wire_frame_free(f);
		return;
	case CS_READY:
		dispatch(c, f);
		return;
	}
}

/* ---- completions from the storage thread ------------------------------------------- */

static void send_conversation(conn *c, uint64_t request_id, const store_conv *sc)
{
	Souk__V1__ConversationInfo info = SOUK__V1__CONVERSATION_INFO__INIT;
	Souk__V1__Participant parts[STORE_MAX_PARTICIPANTS], *pp[STORE_MAX_PARTICIPANTS];
	store_conv_to_proto(sc, &info, parts, pp);
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = request_id;
	f.body_case = SOUK__V1__FRAME__BODY_CONVERSATION;
	f.conversation = &info;
	send_frame(c, &f);
}

void gw_relay_typing(gateway *gw, const char *app_id, const char *from_user, const store_conv *sc,
		     int on)
{
	Souk__V1__Typing t = SOUK__V1__TYPING__INIT;
	t.conversation_id = (char *)sc->conversation_id;
	t.on = on;
	t.user_id = (char *)from_user;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_TYPING;
	f.typing = &t;
	for (size_t i = 0; i < sc->n_participants; i++) {
		if (strcmp(sc->participants[i].user_id, from_user) == 0)
			continue;
		user_entry *u = user_find(gw, app_id, sc->participants[i].user_id, 0);
		for (conn *c = u ? u->conns : NULL; c; c = c->unext)
			if (c->state == CS_READY && !c->close_code)
				send_frame(c, &f);
	}
}

static int storage_code(int status)
{
	return status < 0 ? SOUK__V1__ERROR_CODE__STORAGE_UNAVAILABLE : status;
}

static void on_read_done(conn *c, gc_op *op)
{
	c->reading = 0;
	if (op->status) {
		send_error(c, op->request_id, storage_code(op->status), "sync read failed", NULL, 0,
			   1000);
		return;
	}
	store_events *e = &op->events;
	if (!op->internal) {
		atomic_fetch_add(&g_metrics.sync_pages, 1);
		size_t used = send_events(c, op->request_id, 1, e->v, e->seq, e->n, e->has_more,
					  e->head_seq);
		int more = e->has_more || used < e->n;
		if (e->n == 0 && c->sent_up_to > e->head_seq)
			c->sent_up_to = e->head_seq; /* the client is ahead of this store */
		if (!more)
			c->live = 1;
	} else {
		size_t used = send_events(c, 0, 0, e->v, e->seq, e->n, 0, 0);
		if (e->has_more || used < e->n)
			c->catchup = 1;
		else
			c->catchup = 0;
	}
	if (c->close_code)
		return;
	if (c->sync_queued) {
		c->sync_queued = 0;
		Souk__V1__SyncRequest r = SOUK__V1__SYNC_REQUEST__INIT;
		r.after_seq = c->side->sync_q_after;
		r.limit = c->side->sync_q_limit;
		uint64_t request_id = c->side->sync_q_request;
		side_trim(c);
		on_sync_request(c, request_id, &r);
	} else if (c->live && c->catchup) {
		c->catchup = 0;
		start_read(c, 0, 1, c->sent_up_to, 0);
	}
}

static void complete(gateway *gw, gc_op *op)
{
	conn *c = op->conn_id ? conn_find(gw, op->conn_id) : NULL;
	if (c && c->close_code)
		c = NULL; /* closing: answers would not be read */

	switch (op->kind) {
	case GC_LOAD_APP:
		if (op->status == 0) {
			app_store(gw, op->app);
			op->app = NULL;
		}
		if (c && c->state == CS_AUTHING && c->side && c->side->hello) {
			app_cache *a = app_lookup(gw, op->app_id);
			if (op->status == 0 && a)
				finish_hello(c, a->app);
			else {
				int code = storage_code(op->status);
				atomic_fetch_add(&g_metrics.auth_failures, 1);
				fail_and_close(c, op->request_id, code,
					       code == SOUK__V1__ERROR_CODE__UNKNOWN_APP
						       ? "hello.app_id names no app"
						       : "store unavailable",
					       SOUK_WIRE_CLOSE_AUTH);
			}
		}
		break;
	case GC_DEVICE_CONNECT:
		if (!c)
			break;
		if (op->status) {
			fail_and_close(c, op->request_id, storage_code(op->status),
				       "cannot register the device", SOUK_WIRE_CLOSE_INTERNAL);
			break;
		}
		{
			Souk__V1__Limits lim = SOUK__V1__LIMITS__INIT;
			lim.max_frame_bytes = SOUK_WIRE_MAX_FRAME;
			lim.max_message_bytes = (uint32_t)gw->cfg.max_message_bytes;
			lim.max_sync_page = SOUK_WIRE_MAX_SYNC_PAGE;
			lim.send_rate_per_s = (uint32_t)gw->cfg.send_rate_per_s;
			lim.send_burst = (uint32_t)gw->cfg.send_burst;
			Souk__V1__Welcome w = SOUK__V1__WELCOME__INIT;
			w.user_id = (char *)conn_user_id(c);
			w.head_seq = op->head_seq;
			w.server_time_ms = souk_now_ms();
			w.protocol_version = SOUK_WIRE_PROTOCOL_VERSION;
			w.limits = &lim;
			Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
			f.request_id = op->request_id;
			f.body_case = SOUK__V1__FRAME__BODY_WELCOME;
			f.welcome = &w;
			c->state = CS_READY;
			if (c->wsi) /* the auth timer: see auth_timeout() */
				lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
			c->acked = c->ack_wanted = op->seq < op->head_seq ? op->seq : op->head_seq;
			if (c->side) {
				souk_wire_frame_free(c->side->hello);
				c->side->hello = NULL;
				side_trim(c);
			}
			atomic_fetch_add(&g_metrics.connections_authenticated, 1);
			send_frame(c, &f);
		}
		break;
	case GC_SEND: {
		const ProtobufCBinaryData *cmid = &op->frame->send->client_msg_id;
		if (op->status == 0) {
			int64_t now = souk_mono_us();
			metrics_observe_stage(METRICS_SEND_QUEUE, op->t_group_us - op->t_recv_us);
			metrics_observe_stage(METRICS_SEND_GROUP, op->t_commit_us - op->t_group_us);
			metrics_observe_stage(METRICS_SEND_COMPLETION, now - op->t_commit_us);
			atomic_fetch_add(op->send.duplicate ? &g_metrics.messages_duplicate
							    : &g_metrics.messages_accepted,
					 1);
			if (c) {
				Souk__V1__SendAck a = SOUK__V1__SEND_ACK__INIT;
				a.client_msg_id = *cmid;
				a.message_id = op->send.message_id;
				a.seq = op->send.seq;
				a.server_time_ms = op->send.server_time_ms;
				a.conv_seq = op->send.conv_seq;
				a.duplicate = op->send.duplicate;
				Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
				f.request_id = op->request_id;
				f.body_case = SOUK__V1__FRAME__BODY_SEND_ACK;
				f.send_ack = &a;
				send_frame_stamped(c, &f, OUT_SEND_ACK, op->t_recv_us);
			}
			gw->live_event_stamp_us = now;
			gw_deliver(gw, op->app_id, &op->appends);
			gw->live_event_stamp_us = 0;
			if (!op->send.duplicate)
				webhooks_poke(gw);
		} else {
			atomic_fetch_add(&g_metrics.messages_rejected, 1);
			int code = storage_code(op->status);
			if (c)
				send_error(c, op->request_id, code,
					   code == SOUK__V1__ERROR_CODE__STORAGE_UNAVAILABLE
						   ? "store unavailable; nothing was stored"
						   : souk_wire_error_name(code),
					   cmid, op->status > 0, op->status > 0 ? 0 : 1000);
		}
		break;
	}
	case GC_OPEN_SUPPORT:
	case GC_OPEN_CONVERSATION:
		if (op->status == 0)
			gw_deliver(gw, op->app_id, &op->appends);
		if (op->status == 0 && op->conv && op->conv->created)
			webhooks_poke(gw);
		if (!c)
			break;
		if (op->status)
			send_error(c, op->request_id, storage_code(op->status),
				   souk_wire_error_name(storage_code(op->status)), NULL,
				   op->status > 0, 0);
		else if (op->internal)
			gw_relay_typing(gw, conn_app_id(c), conn_user_id(c), op->conv,
					op->internal == 2);
		else
			send_conversation(c, op->request_id, op->conv);
		break;
	case GC_MARK_READ:
		/* no direct answer: a mark that does not advance is ignored (docs/protocol.md) */
		if (op->status == 0 && op->appends.n) {
			gw_deliver(gw, op->app_id, &op->appends);
			webhooks_poke(gw);
		} else if (op->status && c)
			send_error(c, op->request_id, storage_code(op->status),
				   souk_wire_error_name(storage_code(op->status)), NULL,
				   op->status > 0, 0);
		break;
	case GC_DEVICE_ACK:
		if (c) {
			c->ack_inflight = 0;
			if (op->status == 0 && op->seq > c->acked)
				c->acked = op->seq;
			if (c->ack_wanted > c->acked) {
				uint64_t want = c->ack_wanted;
				c->ack_wanted = c->acked;
				on_ack(c, want);
			}
		}
		break;
	case GC_READ_EVENTS:
		if (c)
			on_read_done(c, op);
		break;
	case GC_UPDATE_CONTEXT:
		if (op->status == 0)
			webhooks_poke(gw);
		if (!c)
			break;
		if (op->status) {
			send_error(c, op->request_id, storage_code(op->status),
				   souk_wire_error_name(storage_code(op->status)), NULL,
				   op->status > 0, 0);
		} else {
			Souk__V1__ContextUpdated u = SOUK__V1__CONTEXT_UPDATED__INIT;
			u.conversation_id = op->conversation_id;
			Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
			f.request_id = op->request_id;
			f.body_case = SOUK__V1__FRAME__BODY_CONTEXT_UPDATED;
			f.context_updated = &u;
			send_frame(c, &f);
		}
		break;
	case GC_WEBHOOK_RESULT:
		break;
	case GC_WEBHOOK_DUE:
		webhooks_due_done(gw, op);
		break;
	case GC_REST:
		rest_complete(gw, op);
		break;
	}
	gc_op_free(op);
}

size_t gw_drain_completions(gateway *gw)
{
	size_t n = 0;
	gc_op *list = gc_take_done(gw->gc);
	gw->write_direct = 1; /* see enqueue_raw() */
	while (list) {
		gc_op *next = list->next;
		complete(gw, list);
		list = next;
		n++;
	}
	flush_listed(gw);
	gw->write_direct = 0;
	return n;
}

/* ---- receiving ------------------------------------------------------------------------ */

gw_rx_result gw_rx_add(gw_rx_buf *rx, const uint8_t *in, size_t len, int final, const uint8_t **msg,
		       size_t *msg_len)
{
	if (rx->len + len > SOUK_WIRE_MAX_FRAME) {
		gw_rx_reset(rx);
		return GW_RX_TOO_LARGE;
	}
	if (final && rx->len == 0) {
		*msg = in; /* the common case: no copy */
		*msg_len = len;
		return GW_RX_MESSAGE;
	}
	if (rx->len + len > rx->cap) {
		size_t cap = rx->cap ? rx->cap : 4096;
		while (cap < rx->len + len)
			cap *= 2;
		uint8_t *nb = realloc(rx->buf, cap);
		if (!nb)
			return GW_RX_NOMEM;
		rx->buf = nb;
		rx->cap = cap;
	}
	if (len) /* an empty first piece leaves buf NULL */
		memcpy(rx->buf + rx->len, in, len);
	rx->len += len;
	if (!final)
		return GW_RX_MORE;
	*msg = rx->buf;
	*msg_len = rx->len;
	return GW_RX_MESSAGE;
}

void gw_rx_reset(gw_rx_buf *rx)
{
	/* keep idle connections small: drop the reassembly buffer */
	free(rx->buf);
	rx->buf = NULL;
	rx->len = rx->cap = 0;
}

int gw_conn_receive(conn *c, const uint8_t *in, size_t len, int binary, int final)
{
	if (c->close_code)
		return 0;
	if (!binary) {
		fail_and_close(c, 0, SOUK__V1__ERROR_CODE__BAD_FRAME,
			       "text messages are not part of souk.v1", SOUK_WIRE_CLOSE_PROTOCOL);
		return 0;
	}
	conn_side *s = c->side;
	gw_rx_buf rx = {s ? s->rx : NULL, s ? s->rx_len : 0, s ? s->rx_cap : 0};
	const uint8_t *msg = NULL;
	size_t msg_len = 0;
	gw_rx_result r = gw_rx_add(&rx, in, len, final, &msg, &msg_len);
	if (rx.buf || s) {
		/* a piece was buffered (or the buffer dropped): keep the buffer in the side */
		if (!s && !(s = side_get(c))) {
			gw_rx_reset(&rx);
			return -1;
		}
		s->rx = rx.buf;
		s->rx_len = (uint32_t)rx.len;
		s->rx_cap = (uint32_t)rx.cap;
	}
	switch (r) {
	case GW_RX_MORE:
		return 0;
	case GW_RX_NOMEM:
		return -1;
	case GW_RX_TOO_LARGE:
		side_trim(c);
		atomic_fetch_add(&g_metrics.frames_rejected, 1);
		fail_and_close(c, 0, SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE,
			       "frame exceeds 65536 bytes", SOUK_WIRE_CLOSE_TOO_LARGE);
		return 0;
	case GW_RX_MESSAGE:
		on_frame(c, msg, msg_len);
		if (c->side && c->side->rx) {
			gw_rx_buf done = {c->side->rx, c->side->rx_len, c->side->rx_cap};
			gw_rx_reset(&done);
			c->side->rx = NULL;
			c->side->rx_len = c->side->rx_cap = 0;
			side_trim(c);
		}
		return 0;
	}
	return 0;
}

/* ---- connections ------------------------------------------------------------------- */

/* A burst of connects or disconnects (reconnect storm, mass logout, a load balancer moving
 * clients) frees memory in the middle of the heap (header tables of the handshakes, the
 * state of closed connections) that glibc keeps: 15,000 connections closed left ~29 MB
 * resident. Once such a burst is over (no connect or disconnect for a second), hand the
 * free pages back with malloc_trim(). docs/performance.md, "Idle connections". */
enum { TRIM_CHURN = 1024 };

static void trim_cb(lws_sorted_usec_list_t *sul)
{
	gateway *gw = lws_container_of(sul, gateway, sul_trim);
	if (gw->churn_since_check) { /* still going: look again in a second */
		gw->churn_since_check = 0;
		lws_sul_schedule(gw->ctx, 0, &gw->sul_trim, trim_cb, LWS_US_PER_SEC);
		return;
	}
	gw->trim_scheduled = 0;
	gw->churn = 0;
#if defined(__GLIBC__)
	int64_t t0 = souk_mono_us();
	malloc_trim(0);
	souk_log(SOUK_LOG_DEBUG, "malloc_trim after a burst of connections: %lld us",
		 (long long)(souk_mono_us() - t0));
#endif
}

static void conn_churn(gateway *gw)
{
	gw->churn_since_check++;
	if (++gw->churn < TRIM_CHURN || gw->trim_scheduled || !gw->ctx)
		return;
	gw->trim_scheduled = 1;
	gw->churn_since_check = 0;
	lws_sul_schedule(gw->ctx, 0, &gw->sul_trim, trim_cb, LWS_US_PER_SEC);
}

void gw_conn_open(gateway *gw, conn *c, struct lws *wsi)
{
	memset(c, 0, sizeof(*c));
	c->wsi = wsi;
	c->gw = gw;
	c->id = ++gw->next_conn_id;
	c->state = CS_NEW;
	conn_index(gw, c);
	gw->n_conns++;
	atomic_fetch_add(&g_metrics.connections_current, 1);
	atomic_fetch_add(&g_metrics.connections_total, 1);
	conn_churn(gw);
	if (wsi) /* no socket, no auth timer (tests/fuzz/fuzz_dispatch.c) */
		lws_set_timer_usecs(wsi, (lws_usec_t)gw->cfg.auth_timeout_ms * LWS_US_PER_MS);
}

void gw_conn_closed(gateway *gw, conn *c)
{
	flush_cursor(c);
	conn_unindex(gw, c);
	user_detach(gw, c);
	free(c->device_id);
	c->device_id = NULL;
	queue_free(c);
	if (c->side) {
		free(c->side->rx);
		souk_wire_frame_free(c->side->hello);
		free(c->side);
		c->side = NULL;
	}
	gw->n_conns--;
	atomic_fetch_sub(&g_metrics.connections_current, 1);
	conn_churn(gw);
}

/* ---- WebSocket: /v1/ws, souk.v1 ---------------------------------------------------- */

static int cb_souk(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	conn *c = user;
	struct lws_context *ctx = lws_get_context(wsi);
	gateway *gw = lws_context_user(ctx);

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char uri[64];
		if (gw->shutting_down)
			return 1;
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
		    strcmp(uri, SOUK_WIRE_PATH) != 0)
			return 1;
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		gw_conn_open(gw, c, wsi);
		return 0;

	case LWS_CALLBACK_RECEIVE:
		return gw_conn_receive(c, in, len, lws_frame_is_binary(wsi),
				       lws_is_final_fragment(wsi) &&
					       !lws_remaining_packet_payload(wsi));

	case LWS_CALLBACK_SERVER_WRITEABLE: {
		/* Several frames per callback, in one write (write_queue): each callback costs
		 * a loop iteration (with event_loop "poll", a poll() over every socket), and a
		 * frame left for the next one waits that long. What the socket did not take
		 * whole, lws buffers and holds WRITEABLE back until it is out. The cap keeps one
		 * busy connection from holding the loop. */
		if (c->q_head) {
			if (write_queue(c) < 0)
				return -1;
			if (c->q_head || c->close_code)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (c->close_code) {
			/* Everything queued is out: close, with the close frame lws sends for
			 * lws_close_reason(). From the wsi's timer, not by returning -1 here:
			 * Debian's lws 4.1.6 is built with _DEBUG, and on libuv its service loop
			 * closes a wsi a second time right after a callback under it asked to
			 * close ("uv repeat test" in lws_service_fd_tsi), which drops the close
			 * frame before it is sent. A close asked for from the timer callback is
			 * closed once. (This replaces the auth timer, which has no more use.) */
			lws_set_timer_usecs(wsi, 1);
			return 0;
		}
		return 0;
	}

	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (!c || !c->gw || !c->wsi)
			return 0;
		gw_conn_closed(gw, c);
		c->wsi = NULL;
		return 0;

	case LWS_CALLBACK_TIMER:
		if (c && c->gw && c->wsi && c->close_code && !c->q_head) {
			const char *why = c->side && c->side->close_why ? c->side->close_why : "";
			lws_close_reason(wsi, (enum lws_close_status)c->close_code,
					 (unsigned char *)why,
					 strlen(why) > 120 ? 120 : strlen(why));
			return -1;
		}
		if (c && c->gw && c->wsi)
			auth_timeout(c);
		return 0;

	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		gw_drain_completions(gw);
		return 0;

	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{"http", rest_http_callback, sizeof(http_req), 0, 0, NULL, 0},
	/* The receive buffer is held by every connection for its life: 256 bytes (4096 cost
	 * ~4 KB per idle connection). Larger frames arrive in pieces that gw_rx_add()
	 * reassembles up to the frame limit. It is also the most lws reads from a socket at
	 * once (rops_handle_POLLIN_ws), so much smaller costs loop CPU per message: at 128, a
	 * 100-byte text send (with the ack sent beside it) took one more read, +14-25 us of
	 * loop CPU per message; 256 measured within noise of 512. A control frame (<= 125
	 * bytes) must fit whole. docs/performance.md, "Idle connections".
	 * tx_packet_size: without it lws also sends at most the receive buffer (+ LWS_PRE + 4)
	 * per send() (lws_issue_raw) and buffers the rest for the next WRITEABLE: a 300-byte
	 * event took two sends and a loop iteration, a 64 KiB sync page 237 of them. Now a
	 * send() takes up to a whole frame, or what write_queue() gathered. */
	{SOUK_WIRE_SUBPROTOCOL, cb_souk, sizeof(conn), 256, 0, NULL, WRITE_MAX_BYTES + 64},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 60,	/* server pings a connection idle for a minute */
	.secs_since_valid_hangup = 150, /* and drops one silent for 2.5 minutes (half-open) */
};

/* The storage thread's wake-up. Not once the context is being destroyed: the connections
 * it closes then still queue work (their device cursors), whose completion would wake a
 * freed context. */
static void wake_loop(void *ud)
{
	gateway *gw = ud;
	pthread_mutex_lock(&gw->wake_mu);
	if (gw->wake_live)
		lws_cancel_service(gw->ctx);
	pthread_mutex_unlock(&gw->wake_mu);
}

static void lws_log_to_souk(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	souk_log(level == LLL_ERR ? SOUK_LOG_ERROR : SOUK_LOG_WARN, "lws: %.*s", (int)n, line);
}

static int write_port_file(const char *path, int port)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static void free_uv_loop(gateway *gw)
{
	uv_loop_t *loop = gw->uv_loop;
	if (!loop)
		return;
	/* lws closes its handles asynchronously: let the loop run their close callbacks */
	for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT); i++)
		;
	if (uv_loop_close(loop) != 0)
		souk_log(SOUK_LOG_WARN, "the event loop still had open handles at exit");
	free(loop);
	gw->uv_loop = NULL;
}

/* With a foreign loop lws finishes destroying its context once its handles have closed,
 * on a second lws_context_destroy() after the loop has run (lws 4.1 minimal example
 * minimal-http-server-eventlib-foreign). */
static void destroy_context(gateway *gw)
{
	pthread_mutex_lock(&gw->wake_mu);
	gw->wake_live = 0;
	pthread_mutex_unlock(&gw->wake_mu);
	if (gw->ctx) {
		lws_context_destroy(gw->ctx);
		if (gw->uv_loop) {
			/* gw->ctx becomes NULL (info.pcontext) once lws has freed the context */
			for (int i = 0; i < 1000 && gw->ctx && uv_run(gw->uv_loop, UV_RUN_NOWAIT);
			     i++)
				;
			if (gw->ctx)
				lws_context_destroy(gw->ctx);
		}
		gw->ctx = NULL;
	}
	free_uv_loop(gw);
}

gateway *gateway_new(const souk_config *cfg, souk_store *store, char *err, size_t errlen)
{
	gateway *gw = calloc(1, sizeof(*gw));
	if (!gw) {
		store->ops->close(store);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	gw->cfg = *cfg;
	gw->started_ms = souk_now_ms();
	pthread_mutex_init(&gw->wake_mu, NULL);
	char host[256];
	int port = 0;
	config_listen(cfg, host, sizeof(host), &port);

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_to_souk);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	info.user = gw;
	info.fd_limit_per_thread = 0;
	/* lws gives every accepted connection a 4 KiB header table until its handshake or
	 * request is done. Unbounded (lws' default), a burst of connects allocates hundreds at
	 * once and leaves their holes in the heap behind the connections that stay: ~90 B per
	 * idle connection at 15,000 (docs/performance.md, "Idle connections"). Bounded, the
	 * connections beyond it wait for a table, in order. */
	info.max_http_header_pool = (unsigned short)cfg->http_header_tables;
	info.pcontext = &gw->ctx; /* lws sets it to NULL when it frees the context */
	/* event_loop "epoll": lws runs on our libuv loop (Debian loads lws' libuv glue as the
	 * libwebsockets-evlib-uv plugin). lws' own loop calls poll() over every socket on every
	 * wake-up: with thousands of connections and traffic that arrives spread out rather
	 * than in bursts, that walk is most of the loop thread's work (docs/performance.md,
	 * "soukd on epoll"). Not libev: lws 4.1's libev glue loses timers. */
	void *foreign[1] = {NULL};
	if (strcmp(cfg->event_loop, "epoll") == 0) {
		uv_loop_t *loop = calloc(1, sizeof(*loop));
		if (!loop || uv_loop_init(loop) != 0) {
			free(loop);
			snprintf(err, errlen, "cannot create the libuv event loop");
			store->ops->close(store);
			free(gw);
			return NULL;
		}
		gw->uv_loop = loop;
		foreign[0] = loop;
		/* lws unloads its evlib plugin when the context is freed, which on a foreign
		 * loop happens inside the plugin's own handle-close callback: keep the plugin
		 * mapped for the life of the process (a flaky SIGSEGV at shutdown otherwise). */
		if (!dlopen("libwebsockets-evlib_uv.so", RTLD_NOW | RTLD_NODELETE))
			souk_log(SOUK_LOG_WARN, "cannot preload libwebsockets-evlib_uv.so: %s",
				 dlerror());
		info.options |= LWS_SERVER_OPTION_LIBUV;
		info.foreign_loops = foreign;
	}
	gw->ctx = lws_create_context(&info);
	if (!gw->ctx) {
		snprintf(err, errlen, "cannot create the libwebsockets context%s",
			 gw->uv_loop ? " on libuv (is libwebsockets-evlib-uv installed? or set"
				       " event_loop to poll)"
				     : "");
		free_uv_loop(gw);
		store->ops->close(store);
		free(gw);
		return NULL;
	}

	struct lws_context_creation_info vi;
	memset(&vi, 0, sizeof(vi));
	vi.port = port;
	vi.iface = host;
	vi.protocols = protocols;
	vi.vhost_name = "soukd";
	vi.retry_and_idle_policy = &idle_policy;
	vi.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	if (cfg->tls_cert[0]) {
		vi.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		vi.ssl_cert_filepath = cfg->tls_cert;
		vi.ssl_private_key_filepath = cfg->tls_key;
		/* TLS 1.2 or later only */
		vi.ssl_options_set =
			SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1;
	}
	gw->vh = lws_create_vhost(gw->ctx, &vi);
	if (!gw->vh) {
		snprintf(err, errlen,
			 "cannot listen on %s (address in use, or TLS files unreadable)",
			 cfg->listen);
		destroy_context(gw);
		store->ops->close(store);
		free(gw);
		return NULL;
	}
	gw->port = lws_get_vhost_listen_port(gw->vh);

	/* outbound HTTP(S) for webhooks: a vhost that does not listen */
	static struct lws_protocols cp[2];
	cp[0] = webhook_protocol; /* cp[1] stays the zeroed terminator */
	struct lws_context_creation_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = cp;
	ci.vhost_name = "soukd-client";
	ci.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	gw->client_vh = lws_create_vhost(gw->ctx, &ci);
	if (!gw->client_vh) {
		snprintf(err, errlen, "cannot create the outbound HTTP client");
		destroy_context(gw);
		store->ops->close(store);
		free(gw);
		return NULL;
	}
	gw->wake_live = 1;
	gw->gc = gc_start(store, (size_t)cfg->commit_batch_max,
			  strcmp(cfg->commit_sync, "pipelined") == 0, wake_loop, gw);
	if (!gw->gc) {
		snprintf(err, errlen, "cannot start the storage thread");
		destroy_context(gw);
		store->ops->close(store);
		free(gw);
		return NULL;
	}
	if (strcmp(cfg->commit_sync, "pipelined") == 0 && !gc_pipelined(gw->gc))
		souk_log(SOUK_LOG_WARN, "commit_sync: pipelined is not available for this store "
					"(or its thread did not start): commits sync inline");
	webhooks_poke(gw); /* deliveries left pending by a previous run */
	if (cfg->port_file[0] && write_port_file(cfg->port_file, gw->port) != 0) {
		snprintf(err, errlen, "cannot write the port file %s", cfg->port_file);
		gateway_free(gw);
		return NULL;
	}
	return gw;
}

int gateway_port(const gateway *gw)
{
	return gw->port;
}

void gateway_request_stop(gateway *gw)
{
	gw->stop_requested = 1;
	if (gw->ctx)
		lws_cancel_service(gw->ctx);
}

static void close_all(gateway *gw)
{
	for (size_t b = 0; b < CONN_BUCKETS; b++)
		for (conn *c = gw->conns[b]; c; c = c->hnext)
			if (!c->close_code) {
				send_error(c, 0, SOUK__V1__ERROR_CODE__SHUTTING_DOWN,
					   "server is shutting down", NULL, 0, 1000);
				conn_close(c, SOUK_WIRE_CLOSE_GOING_AWAY, "server shutting down");
			}
}

static void tick_cb(lws_sorted_usec_list_t *sul)
{
	gateway *gw = lws_container_of(sul, gateway, sul_tick);
	lws_sul_schedule(gw->ctx, 0, &gw->sul_tick, tick_cb, 100 * LWS_US_PER_MS);
}

int gateway_run(gateway *gw)
{
	int closing_sent = 0;
	while (1) {
		if (gw->uv_loop)
			uv_run(gw->uv_loop,
			       UV_RUN_ONCE); /* one wait for events, then its callbacks */
		else if (lws_service(gw->ctx, 0) < 0)
			break;
		if (gw->stop_requested && !gw->shutting_down) {
			/* Graceful stop: refuse new sessions and sends, let every queued
			 * operation commit and be answered, then close the connections. */
			gw->shutting_down = 1;
			gw->shutdown_deadline_us =
				souk_mono_us() + gw->cfg.shutdown_timeout_ms * 1000;
			souk_log(SOUK_LOG_INFO, "stopping: draining %zu storage operations",
				 gc_in_flight(gw->gc));
			tick_cb(&gw->sul_tick);
		}
		if (!gw->shutting_down)
			continue;
		gw_drain_completions(gw);
		int64_t now = souk_mono_us();
		if (!closing_sent &&
		    (gc_in_flight(gw->gc) == 0 || now > gw->shutdown_deadline_us)) {
			gw_drain_completions(gw);
			close_all(gw);
			closing_sent = 1;
			gw->shutdown_deadline_us = now + 2000000; /* let close frames go out */
		}
		if (closing_sent && (gw->n_conns == 0 || now > gw->shutdown_deadline_us))
			break;
	}
	return 0;
}

void gateway_free(gateway *gw)
{
	if (!gw)
		return;
	destroy_context(gw);
	webhooks_free_all(gw);
	rest_free_all(gw);
	gc_stop(gw->gc); /* finishes anything still queued, closes the store */
	while (gw->apps) {
		app_cache *a = gw->apps;
		gw->apps = a->next;
		store_app_clear(a->app);
		free(a->app);
		free(a);
	}
	for (size_t b = 0; b < USER_BUCKETS; b++)
		while (gw->users[b]) {
			user_entry *u = gw->users[b];
			gw->users[b] = u->hnext;
			free(u);
		}
	free(gw->flush);
	pthread_mutex_destroy(&gw->wake_mu);
	free(gw);
}
