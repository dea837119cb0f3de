/*
 * session.c — the SDK thread: the libwebsockets client loop, the souk.v1 session on it
 * (hello, sync, live events, sends, acks), reconnection and the app's hints.
 *
 * Owns: the connection and every protocol-driven store write. Never: blocks on anything
 * but lws_service(); holds `mu` while taking `wmu`; logs a token or a message body.
 *
 * Design note. Everything here runs on one thread, so the session needs no locks of its
 * own; other threads reach it through the command queue (client.c) and a wake-up
 * (lws_cancel_service). The loop is: take commands -> act (connect, pump the outbox) ->
 * run event callbacks -> lws_service(), which sleeps until a socket, a timer (backoff,
 * outbox retry, heartbeat) or a wake-up needs us: when idle nothing polls.
 *
 * Sends: at most one per conversation in flight (see outbox.c), identified by its client
 * message id; an ack or a refusal frees the slot. Everything in flight is simply resent
 * on the next connection: the server answers a retry of a stored id with the original
 * ack, so "sent twice on the wire" never becomes "stored twice".
 *
 * Sync: after Welcome, SyncRequest{after_seq = last applied} while has_more; each page is
 * committed in one transaction and then acked. Pages are as large as the server allows
 * (Welcome.limits.max_sync_page), and the next SyncRequest goes out before a page is
 * applied: a page with has_more is held (`held`), the request for the events after it is
 * queued, and the page is applied once the request is written (the loop, apply_held), so
 * that the server reads and sends the next page while this one commits. The stream is
 * still applied in order: any frame received while a page is held is handled after it,
 * and a page is acked only after its commit. A page held when the connection ends is
 * dropped unacked (the next connection fetches it again). A gap (an event after a missing one)
 * cannot be repaired on the same connection — the server never resends what it already
 * sent on it — so the session reconnects at once, and the new connection's sync starts
 * from the last applied event.
 *
 * Frames are decoded into two arenas (souk_wire_decode_arena): one for the frame being
 * handled, one for a held page. A page of 500 events is then a few block allocations,
 * not thousands of malloc/free pairs, and is released by one reset. While syncing the
 * arenas keep their block for the next page; once live they give it back after each
 * frame (an idle connection holds none).
 */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

void souk__session_mark_thread(souk_client *c);

enum { PH_IDLE, PH_CONNECTING, PH_HELLO, PH_SYNCING, PH_LIVE };

enum {
	TX_MAX = 256,	      /* frames queued for writing */
	PROBE_TIMEOUT_S = 10, /* answer to a probe ping after a network change */
	/* Live events are acked at most this long after they were committed, all of them in
	 * one Ack: an ack per EventBatch was an uplink packet per message received. */
	ACK_DELAY_US = 200000,
};

typedef struct txframe {
	struct txframe *next;
	uint8_t *buf; /* LWS_PRE headroom, then the frame */
	size_t len;
} txframe;

typedef struct inflight {
	int64_t conv_id;
	int64_t msg_id;
	unsigned attempts;
	uint8_t cmid[16];
} inflight;

/* An UpdateContext waiting for its answer (ContextUpdated or Error with its request id). */
typedef struct ctx_inflight {
	uint64_t request_id;
	int64_t conv_id;
	int64_t revision;
	unsigned attempts;
} ctx_inflight;

struct souk__session {
	souk_client *c;
	struct lws_context *ctx;
	struct lws *wsi;
	int phase;
	int shutting_down;
	char *me; /* the user bound to the store; NULL before the first welcome */
	char *host_header;
	uint64_t next_req;

	uint8_t *rx;
	size_t rxlen;
	txframe *txh, *txt;
	size_t ntx;

	int close_requested;
	int close_code;
	int close_err;	/* SOUK_E* reason of a close we asked for */
	int peer_close; /* close code sent by the server */
	int wire_err;	/* Error.code received before welcome */
	char wire_msg[160];

	inflight *inf;
	size_t ninf, capinf;
	ctx_inflight *cinf;
	size_t ncinf, capcinf;
	uint64_t open_req;
	int open_refused; /* not again on this connection */

	lws_sorted_usec_list_t sul_connect, sul_outbox, sul_probe, sul_context, sul_ack;
	uint64_t ack_pending; /* applied live events not acked yet (ACK_DELAY_US) */
	int ack_scheduled;
	int connect_scheduled;
	unsigned attempt;
	int reconnect_now;
	int probe_active;

	int need_token;
	int blocked; /* SOUK_EAUTH (unknown app) or SOUK_EUSER: until a hint, token or logout */
	int net_lost;
	int background;
	int push_pending;
	int outbox_dirty, reads_dirty, recount, context_dirty;
	size_t outbox_n;
	int pin_matched;

	lws_retry_bo_t retry;

	uint32_t sync_limit;	   /* events per SyncPage asked for (0: the server's default) */
	Souk__V1__Frame *held;	   /* a SyncPage applied once the next request is written */
	souk_wire_arena *arena[2]; /* decoded frames: the one being handled, the held page */
	int held_arena;		   /* the arena `held` lives in */
};

static void request_close(souk__session *s, int code, int err);

/* ---- small helpers ------------------------------------------------------------------------- */

static souk__log *LG(souk__session *s)
{
	return &s->c->log;
}

static void emit_state(souk__session *s, int state, int err, int wire, const char *msg)
{
	souk__set_conn_state(s->c, state);
	souk_event *e = souk__event_new(SOUK_EVENT_CONNECTION_STATE);
	if (!e)
		return;
	e->state = state;
	e->error = err;
	e->wire_code = wire;
	if (msg && msg[0])
		e->error_message = souk__strdup(msg);
	souk__publish_one(s->c, e);
}

static void emit_simple(souk__session *s, int type, int wire, const char *msg)
{
	souk_event *e = souk__event_new(type);
	if (!e)
		return;
	e->wire_code = wire;
	if (type == SOUK_EVENT_TOKEN_NEEDED)
		e->error = wire ? SOUK_EAUTH : 0;
	if (msg && msg[0])
		e->error_message = souk__strdup(msg);
	souk__publish_one(s->c, e);
}

static int logged_in(souk__session *s)
{
	pthread_mutex_lock(&s->c->mu);
	int v = s->c->logged_in;
	pthread_mutex_unlock(&s->c->mu);
	return v;
}

static void free_tx(souk__session *s)
{
	txframe *f = s->txh;
	while (f) {
		txframe *next = f->next;
		souk__wipe(f->buf, LWS_PRE + f->len); /* a hello holds the token */
		free(f->buf);
		free(f);
		f = next;
	}
	s->txh = s->txt = NULL;
	s->ntx = 0;
}

static int send_frame(souk__session *s, const Souk__V1__Frame *f)
{
	if (!s->wsi || s->close_requested)
		return -1;
	txframe *t = calloc(1, sizeof(*t));
	if (!t)
		return -1;
	if (souk_wire_encode(f, LWS_PRE, &t->buf, &t->len) != 0) {
		free(t);
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot encode a frame (body %d)", f->body_case);
		return -1;
	}
	if (s->txt)
		s->txt->next = t;
	else
		s->txh = t;
	s->txt = t;
	s->ntx++;
	lws_callback_on_writable(s->wsi);
	return 0;
}

/* ---- in-flight sends ------------------------------------------------------------------------ */

static inflight *inflight_by_conv(souk__session *s, int64_t conv)
{
	for (size_t i = 0; i < s->ninf; i++)
		if (s->inf[i].conv_id == conv)
			return &s->inf[i];
	return NULL;
}

/* Removes the send with this client message id; returns 1 and a copy if it was there. */
static int inflight_take(souk__session *s, const uint8_t *cmid, size_t len, inflight *out)
{
	if (len != 16)
		return 0;
	for (size_t i = 0; i < s->ninf; i++) {
		if (memcmp(s->inf[i].cmid, cmid, 16) == 0) {
			*out = s->inf[i];
			s->inf[i] = s->inf[--s->ninf];
			return 1;
		}
	}
	return 0;
}

static int inflight_add(souk__session *s, const souk__outbox_head *h)
{
	if (s->ninf == s->capinf) {
		size_t cap = s->capinf ? s->capinf * 2 : 8;
		inflight *p = realloc(s->inf, cap * sizeof(*p));
		if (!p)
			return -1;
		s->inf = p;
		s->capinf = cap;
	}
	inflight *f = &s->inf[s->ninf++];
	f->conv_id = h->conv_id;
	f->msg_id = h->msg_id;
	f->attempts = h->attempts;
	memcpy(f->cmid, h->cmid, 16);
	return 0;
}

/* ---- connecting ---------------------------------------------------------------------------- */

static int want_connection(souk__session *s)
{
	if (!logged_in(s) || s->need_token || s->blocked || s->net_lost)
		return 0;
	if (s->background)
		return s->outbox_n > 0 || s->push_pending;
	return 1;
}

static void connect_now(souk__session *s);

static void connect_cb(lws_sorted_usec_list_t *sul)
{
	souk__session *s = lws_container_of(sul, souk__session, sul_connect);
	s->connect_scheduled = 0;
	if (!s->wsi && want_connection(s))
		connect_now(s);
	lws_cancel_service(s->ctx); /* see outbox_cb */
}

static void schedule_connect(souk__session *s, unsigned delay_ms)
{
	s->connect_scheduled = 1;
	lws_sul_schedule(s->ctx, 0, &s->sul_connect, connect_cb,
			 (lws_usec_t)(delay_ms ? delay_ms : 1) * LWS_US_PER_MS);
}

static void cancel_connect(souk__session *s)
{
	if (s->connect_scheduled) {
		lws_sul_cancel(&s->sul_connect);
		s->connect_scheduled = 0;
	}
}

static void on_disconnected(souk__session *s, int err, const char *why);
static void drop_held(souk__session *s);

static void connect_now(souk__session *s)
{
	souk_client *c = s->c;
	cancel_connect(s);
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof(i));
	i.context = s->ctx;
	i.address = c->url_host;
	i.port = c->url_port;
	i.path = c->url_path;
	i.host = s->host_header;
	i.origin = s->host_header;
	i.protocol = SOUK_WIRE_SUBPROTOCOL;
	i.local_protocol_name = SOUK_WIRE_SUBPROTOCOL;
	i.ssl_connection = c->url_tls ? LCCSCF_USE_SSL : 0;
	i.retry_and_idle_policy = &s->retry;
	i.pwsi = &s->wsi;
	s->phase = PH_CONNECTING;
	s->close_requested = 0;
	s->close_err = 0;
	s->peer_close = 0;
	s->wire_err = 0;
	s->wire_msg[0] = '\0';
	s->pin_matched = 0;
	s->rxlen = 0;
	emit_state(s, SOUK_CONNECTION_CONNECTING, 0, 0, NULL);
	souk__logf(LG(s), SOUK_LOG_DEBUG, "connecting to %s:%d (attempt %u)", c->url_host,
		   c->url_port, s->attempt + 1);
	if (!lws_client_connect_via_info(&i) && s->phase == PH_CONNECTING) {
		s->wsi = NULL;
		on_disconnected(s, SOUK_ENETWORK, "cannot start a connection");
	}
}

/* After a connection ended or failed: clean up, tell the app, decide when to retry. */
static void on_disconnected(souk__session *s, int err, const char *why)
{
	int was_connected = s->phase >= PH_HELLO;
	s->wsi = NULL;
	s->phase = PH_IDLE;
	free_tx(s);
	drop_held(s); /* not acked: fetched again on the next connection */
	s->rxlen = 0;
	s->ninf = 0; /* everything in flight is resent on the next connection */
	s->ncinf = 0;
	s->context_dirty = 1;
	s->open_req = 0;
	s->open_refused = 0;
	if (s->ack_scheduled) {
		lws_sul_cancel(&s->sul_ack);
		s->ack_scheduled = 0;
	}
	s->ack_pending = 0;
	if (s->probe_active) {
		lws_sul_cancel(&s->sul_probe);
		s->probe_active = 0;
	}
	s->outbox_dirty = s->reads_dirty = 1;
	if (s->shutting_down)
		return;

	int wire = s->wire_err;
	if (wire >= SOUK__V1__ERROR_CODE__TOKEN_INVALID &&
	    wire <= SOUK__V1__ERROR_CODE__UNKNOWN_KEY &&
	    wire != SOUK__V1__ERROR_CODE__UNKNOWN_APP) {
		s->need_token = 1;
		souk__logf(LG(s), SOUK_LOG_WARN, "the server refused the token: %s (%d)",
			   souk_wire_error_name(wire), wire);
		emit_state(s, SOUK_CONNECTION_WAITING, SOUK_EAUTH, wire, s->wire_msg);
		emit_simple(s, SOUK_EVENT_TOKEN_NEEDED, wire, s->wire_msg);
		return;
	}
	if (wire == SOUK__V1__ERROR_CODE__UNKNOWN_APP) {
		s->blocked = SOUK_EAUTH;
		souk__logf(LG(s), SOUK_LOG_ERROR, "the server does not know app id %s",
			   s->c->app_id);
		emit_state(s, SOUK_CONNECTION_WAITING, SOUK_EAUTH, wire, s->wire_msg);
		return;
	}
	if (s->close_err == SOUK_EUSER) {
		s->blocked = SOUK_EUSER;
		emit_state(s, SOUK_CONNECTION_WAITING, SOUK_EUSER, 0,
			   "the local store belongs to another user: log out with wipe");
		return;
	}
	if (s->close_err)
		err = s->close_err;
	char msg[200];
	if (s->peer_close)
		snprintf(msg, sizeof(msg), "%s (close code %d)", why, s->peer_close);
	else
		snprintf(msg, sizeof(msg), "%s", why);
	souk__logf(LG(s), was_connected ? SOUK_LOG_INFO : SOUK_LOG_DEBUG, "disconnected: %s%s%s",
		   msg, wire ? ", server error " : "", wire ? souk_wire_error_name(wire) : "");
	emit_state(s, SOUK_CONNECTION_WAITING, err, wire,
		   wire && s->wire_msg[0] ? s->wire_msg : msg);
	if (!want_connection(s))
		return;
	unsigned delay;
	if (s->reconnect_now) {
		s->reconnect_now = 0;
		delay = 0;
	} else {
		delay = souk__backoff_ms(s->attempt, s->c->backoff_min_ms, s->c->backoff_max_ms);
		if (s->attempt < 32)
			s->attempt++;
	}
	souk__logf(LG(s), SOUK_LOG_DEBUG, "reconnecting in %u ms", delay);
	schedule_connect(s, delay);
}

static void request_close(souk__session *s, int code, int err)
{
	if (!s->wsi || s->close_requested)
		return;
	s->close_requested = 1;
	s->close_code = code;
	s->close_err = err;
	if (s->phase >= PH_HELLO)
		lws_callback_on_writable(s->wsi);
	else
		lws_set_timeout(s->wsi, 1, LWS_TO_KILL_ASYNC);
}

/* ---- the outbox and read marks ------------------------------------------------------------ */

static void outbox_cb(lws_sorted_usec_list_t *sul)
{
	souk__session *s = lws_container_of(sul, souk__session, sul_outbox);
	s->outbox_dirty = 1;
	s->recount = 1;
	/* Timers run at the start of lws_service(), just before it sleeps in poll(): without
	 * a wake-up the loop would only see the flag after the next network event. */
	lws_cancel_service(s->ctx);
}

static void send_open_support(souk__session *s)
{
	Souk__V1__OpenConversation oc = SOUK__V1__OPEN_CONVERSATION__INIT;
	oc.kind = SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = ++s->next_req;
	f.body_case = SOUK__V1__FRAME__BODY_OPEN_CONVERSATION;
	f.open_conversation = &oc;
	if (send_frame(s, &f) == 0)
		s->open_req = f.request_id;
}

static void fail_locally(souk__session *s, int64_t msg_id, int code, const char *reason)
{
	souk_client *c = s->c;
	souk__evlist ev = {0};
	pthread_mutex_lock(&c->wmu);
	int r = souk__outbox_fail(c->wst, msg_id, code, reason, &ev);
	if (r == SOUK_OK)
		souk__publish(c, &ev);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK)
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot mark message %lld failed: %s",
			   (long long)msg_id, souk_strerror(r));
}

static void pump_outbox(souk__session *s)
{
	souk_client *c = s->c;
	souk__outbox_head *h = NULL;
	size_t n = 0;
	int64_t unconfirmed = 0;
	pthread_mutex_lock(&c->wmu);
	int r = souk__outbox_heads(c->wst, &h, &n);
	int need_open = souk__conv_support_unconfirmed(c->wst, &unconfirmed);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK) {
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot read the outbox: %s", souk_strerror(r));
		return;
	}
	s->outbox_dirty = 0;
	s->recount = 0;
	s->outbox_n = n;
	if (s->phase < PH_SYNCING) {
		souk__outbox_heads_free(h, n);
		return;
	}
	if (need_open && !s->open_req && !s->open_refused)
		send_open_support(s);
	int64_t now = souk__now_ms(), earliest = 0;
	for (size_t i = 0; i < n; i++) {
		souk__outbox_head *e = &h[i];
		if (inflight_by_conv(s, e->conv_id) || !e->conv_server_id)
			continue;
		if (e->next_attempt_ms > now) {
			if (!earliest || e->next_attempt_ms < earliest)
				earliest = e->next_attempt_ms;
			continue;
		}
		if (s->ntx >= TX_MAX) {
			s->outbox_dirty = 1; /* the writable callback picks this up again */
			break;
		}
		Souk__V1__Content *content =
			souk__v1__content__unpack(NULL, e->content_len, e->content);
		if (!content) {
			fail_locally(s, e->msg_id, SOUK__V1__ERROR_CODE__INVALID_CONTENT,
				     "the stored content cannot be decoded");
			continue;
		}
		Souk__V1__Send send = SOUK__V1__SEND__INIT;
		send.client_msg_id.data = e->cmid;
		send.client_msg_id.len = 16;
		send.conversation_id = e->conv_server_id;
		send.content = content;
		Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
		f.request_id = ++s->next_req;
		f.body_case = SOUK__V1__FRAME__BODY_SEND;
		f.send = &send;
		int sent = send_frame(s, &f) == 0;
		souk__v1__content__free_unpacked(content, NULL);
		if (!sent || inflight_add(s, e) != 0)
			break;
		souk__logf(LG(s), SOUK_LOG_DEBUG, "sending message %lld (attempt %u)",
			   (long long)e->msg_id, e->attempts + 1);
	}
	souk__outbox_heads_free(h, n);
	if (earliest) {
		int64_t delay = earliest - now;
		lws_sul_schedule(s->ctx, 0, &s->sul_outbox, outbox_cb,
				 (lws_usec_t)(delay > 0 ? delay : 1) * LWS_US_PER_MS);
	}
}

static void pump_reads(souk__session *s)
{
	souk_client *c = s->c;
	souk__read_mark *m = NULL;
	size_t n = 0;
	pthread_mutex_lock(&c->wmu);
	int r = souk__conv_unsent_reads(c->wst, &m, &n);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK)
		return;
	s->reads_dirty = 0;
	for (size_t i = 0; i < n; i++) {
		Souk__V1__MarkRead mr = SOUK__V1__MARK_READ__INIT;
		mr.conversation_id = m[i].conv_server_id;
		mr.up_to_conv_seq = m[i].up_to;
		Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
		f.body_case = SOUK__V1__FRAME__BODY_MARK_READ;
		f.mark_read = &mr;
		send_frame(s, &f);
	}
	souk__read_marks_free(m, n);
}

static void context_cb(lws_sorted_usec_list_t *sul)
{
	souk__session *s = lws_container_of(sul, souk__session, sul_context);
	s->context_dirty = 1;
	lws_cancel_service(s->ctx); /* see outbox_cb */
}

static ctx_inflight *ctx_inflight_by_conv(souk__session *s, int64_t conv)
{
	for (size_t i = 0; i < s->ncinf; i++)
		if (s->cinf[i].conv_id == conv)
			return &s->cinf[i];
	return NULL;
}

static int ctx_inflight_take(souk__session *s, uint64_t request_id, ctx_inflight *out)
{
	if (!request_id)
		return 0;
	for (size_t i = 0; i < s->ncinf; i++) {
		if (s->cinf[i].request_id == request_id) {
			*out = s->cinf[i];
			s->cinf[i] = s->cinf[--s->ncinf];
			return 1;
		}
	}
	return 0;
}

/* Sends the latest unconfirmed context of each conversation the server knows, one at a
 * time per conversation (context_queue.c). */
static void pump_contexts(souk__session *s)
{
	souk_client *c = s->c;
	souk__context_pending *p = NULL;
	size_t n = 0;
	pthread_mutex_lock(&c->wmu);
	int r = souk__context_pending_list(c->wst, &p, &n);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK) {
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot read the pending contexts: %s",
			   souk_strerror(r));
		return;
	}
	s->context_dirty = 0;
	int64_t now = souk__now_ms(), earliest = 0;
	for (size_t i = 0; i < n; i++) {
		souk__context_pending *e = &p[i];
		if (!e->conv_server_id || ctx_inflight_by_conv(s, e->conv_id))
			continue; /* not known to the server yet / the answer comes first */
		if (e->next_attempt_ms > now) {
			if (!earliest || e->next_attempt_ms < earliest)
				earliest = e->next_attempt_ms;
			continue;
		}
		if (s->ntx >= TX_MAX) {
			s->context_dirty = 1;
			break;
		}
		Souk__V1__ShoppingContext *ctx =
			souk__v1__shopping_context__unpack(NULL, e->len, e->blob);
		if (!ctx) {
			souk__evlist ev = {0};
			pthread_mutex_lock(&c->wmu);
			if (souk__context_fail(c->wst, e->conv_id, e->revision,
					       SOUK__V1__ERROR_CODE__INVALID_FIELD,
					       "the stored context cannot be decoded",
					       &ev) == SOUK_OK)
				souk__publish(c, &ev);
			pthread_mutex_unlock(&c->wmu);
			continue;
		}
		Souk__V1__UpdateContext uc = SOUK__V1__UPDATE_CONTEXT__INIT;
		uc.conversation_id = e->conv_server_id;
		uc.context = ctx;
		Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
		f.request_id = ++s->next_req;
		f.body_case = SOUK__V1__FRAME__BODY_UPDATE_CONTEXT;
		f.update_context = &uc;
		int sent = send_frame(s, &f) == 0;
		souk__v1__shopping_context__free_unpacked(ctx, NULL);
		if (!sent)
			break;
		if (s->ncinf == s->capcinf) {
			size_t cap = s->capcinf ? s->capcinf * 2 : 4;
			ctx_inflight *q = realloc(s->cinf, cap * sizeof(*q));
			if (!q)
				break; /* sent but not tracked: the answer is ignored, and the
					* context is sent again on the next connection */
			s->cinf = q;
			s->capcinf = cap;
		}
		s->cinf[s->ncinf++] =
			(ctx_inflight){f.request_id, e->conv_id, e->revision, e->attempts};
		souk__logf(LG(s), SOUK_LOG_DEBUG,
			   "sending the context of conversation %lld (revision %lld)",
			   (long long)e->conv_id, (long long)e->revision);
	}
	souk__context_pending_free(p, n);
	if (earliest) {
		int64_t delay = earliest - now;
		lws_sul_schedule(s->ctx, 0, &s->sul_context, context_cb,
				 (lws_usec_t)(delay > 0 ? delay : 1) * LWS_US_PER_MS);
	}
}

static void on_context_updated(souk__session *s, const Souk__V1__Frame *fr)
{
	ctx_inflight f;
	if (!ctx_inflight_take(s, fr->request_id, &f))
		return;
	souk_client *c = s->c;
	souk__evlist ev = {0};
	pthread_mutex_lock(&c->wmu);
	int r = souk__context_confirm(c->wst, f.conv_id, f.revision, &ev);
	if (r == SOUK_OK)
		souk__publish(c, &ev);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK)
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot record a context confirmation: %s",
			   souk_strerror(r));
	s->context_dirty = 1; /* a newer revision may be waiting */
}

/* An Error answering an UpdateContext: 1 if it was one. */
static int on_context_error(souk__session *s, const Souk__V1__Frame *fr)
{
	ctx_inflight f;
	if (!ctx_inflight_take(s, fr->request_id, &f))
		return 0;
	souk_client *c = s->c;
	const Souk__V1__Error *e = fr->error;
	if (e->permanent) {
		souk__logf(LG(s), SOUK_LOG_WARN, "context of conversation %lld refused: %s (%d)",
			   (long long)f.conv_id, souk_wire_error_name(e->code), e->code);
		souk__evlist ev = {0};
		pthread_mutex_lock(&c->wmu);
		int r = souk__context_fail(c->wst, f.conv_id, f.revision, e->code,
					   e->message ? e->message : "", &ev);
		if (r == SOUK_OK)
			souk__publish(c, &ev);
		pthread_mutex_unlock(&c->wmu);
	} else {
		unsigned delay = souk__backoff_ms(f.attempts, c->backoff_min_ms, c->backoff_max_ms);
		if (e->retry_after_ms > delay)
			delay = e->retry_after_ms;
		souk__logf(LG(s), SOUK_LOG_INFO, "context of conversation %lld deferred %u ms: %s",
			   (long long)f.conv_id, delay, souk_wire_error_name(e->code));
		pthread_mutex_lock(&c->wmu);
		souk__context_defer(c->wst, f.conv_id, f.revision, souk__now_ms() + delay);
		pthread_mutex_unlock(&c->wmu);
	}
	s->context_dirty = 1;
	return 1;
}

static void send_ack(souk__session *s, uint64_t seq)
{
	Souk__V1__Ack ack = SOUK__V1__ACK__INIT;
	ack.seq = seq;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_ACK;
	f.ack = &ack;
	send_frame(s, &f);
}

static void ack_cb(lws_sorted_usec_list_t *sul)
{
	souk__session *s = lws_container_of(sul, souk__session, sul_ack);
	s->ack_scheduled = 0;
	if (s->ack_pending && s->wsi && s->phase >= PH_SYNCING && !s->close_requested)
		send_ack(s, s->ack_pending);
	s->ack_pending = 0;
}

/* Acks everything up to seq: a sync page at once (its ack tells the server where the
 * device is before the next page), live events after ACK_DELAY_US with whatever else
 * arrived meanwhile. The server keeps the cursor for wake-ups and retention only, and
 * persists it coalesced anyway (docs/protocol.md, Ack); a delayed ack that a closing
 * connection drops leaves the cursor a little behind, never ahead. */
static void ack_applied(souk__session *s, uint64_t seq, int page)
{
	if (page) {
		send_ack(s, seq);
		s->ack_pending = 0;
		return;
	}
	s->ack_pending = seq;
	if (!s->ack_scheduled) {
		s->ack_scheduled = 1;
		lws_sul_schedule(s->ctx, 0, &s->sul_ack, ack_cb, ACK_DELAY_US);
	}
}

static int send_sync_request(souk__session *s, uint64_t after)
{
	Souk__V1__SyncRequest sr = SOUK__V1__SYNC_REQUEST__INIT;
	sr.after_seq = after;
	sr.limit = s->sync_limit;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = ++s->next_req;
	f.body_case = SOUK__V1__FRAME__BODY_SYNC_REQUEST;
	f.sync_request = &sr;
	return send_frame(s, &f);
}

/* ---- frames from the server ---------------------------------------------------------------- */

static void on_established(souk__session *s)
{
	souk_client *c = s->c;
	s->phase = PH_HELLO;
	char *token = souk__token_copy(c);
	uint64_t last = 0;
	pthread_mutex_lock(&c->wmu);
	souk__state_get_u64(c->wst, "last_applied_seq", &last);
	pthread_mutex_unlock(&c->wmu);
	if (!token) {
		request_close(s, LWS_CLOSE_STATUS_NORMAL, 0);
		return;
	}
	Souk__V1__Hello h = SOUK__V1__HELLO__INIT;
	h.protocol_version = SOUK_WIRE_PROTOCOL_VERSION;
	h.app_id = c->app_id;
	h.token = token;
	h.device_id = c->device_id;
	h.platform = (Souk__V1__Platform)c->platform;
	h.sdk_version = "libsouk/" SOUK_VERSION_STRING;
	h.last_applied_seq = last;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	send_frame(s, &f);
	souk__wipe(token, strlen(token));
	free(token);
}

static int on_welcome(souk__session *s, const Souk__V1__Welcome *w)
{
	souk_client *c = s->c;
	uint64_t last = 0;
	int64_t unconfirmed = 0;
	pthread_mutex_lock(&c->wmu);
	int r = souk__store_bind_user(c->wst, w->user_id);
	if (r == SOUK_OK)
		r = souk__state_get_u64(c->wst, "last_applied_seq", &last);
	int need_open = r == SOUK_OK && souk__conv_support_unconfirmed(c->wst, &unconfirmed);
	pthread_mutex_unlock(&c->wmu);
	if (r == SOUK_EUSER) {
		souk__logf(LG(s), SOUK_LOG_ERROR,
			   "the local store belongs to another user than the token's");
		request_close(s, LWS_CLOSE_STATUS_NORMAL, SOUK_EUSER);
		return 0;
	}
	if (r != SOUK_OK) {
		souk__logf(LG(s), SOUK_LOG_ERROR, "store error after welcome: %s",
			   souk_strerror(r));
		request_close(s, LWS_CLOSE_STATUS_NORMAL, r);
		return 0;
	}
	free(s->me);
	s->me = souk__strdup(w->user_id);
	if (!s->me) {
		request_close(s, LWS_CLOSE_STATUS_NORMAL, SOUK_ENOMEM);
		return 0;
	}
	s->phase = PH_SYNCING;
	/* the largest page the server allows (0, an older server: its default) */
	s->sync_limit = w->limits ? w->limits->max_sync_page : 0;
	if (s->sync_limit > SOUK_WIRE_MAX_SYNC_PAGE)
		s->sync_limit = SOUK_WIRE_MAX_SYNC_PAGE;
	uint32_t max_msg = w->limits ? w->limits->max_message_bytes : 0;
	souk__logf(LG(s), SOUK_LOG_INFO,
		   "connected; server head %llu, local position %llu, message limit %u",
		   (unsigned long long)w->head_seq, (unsigned long long)last, max_msg);
	emit_state(s, SOUK_CONNECTION_CONNECTED, 0, 0, NULL);
	emit_simple(s, SOUK_EVENT_SYNC_STARTED, 0, NULL);
	if (need_open)
		send_open_support(s);
	send_sync_request(s, last);
	s->outbox_dirty = s->reads_dirty = s->context_dirty = 1;
	return 0;
}

/* A sync page or a live batch. `prefetched`: the request for the next page is out. */
static int on_events(souk__session *s, Souk__V1__Event *const *events, size_t n, int page,
		     int has_more, int prefetched)
{
	souk_client *c = s->c;
	souk__apply_result res;
	souk__evlist ev = {0};
	pthread_mutex_lock(&c->wmu);
	int r = souk__sync_apply(c->wst, s->me, events, n, &res, &ev);
	if (r == SOUK_OK)
		souk__publish(c, &ev);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK) {
		/* nothing was committed, so nothing is acked: the next connection resumes */
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot apply %zu events: %s", n,
			   souk_strerror(r));
		request_close(s, LWS_CLOSE_STATUS_NORMAL, r);
		return 0;
	}
	if (res.skipped)
		souk__logf(LG(s), SOUK_LOG_DEBUG, "skipped %zu events applied before", res.skipped);
	if (res.conversations) /* the support conversation may have its server id now */
		s->outbox_dirty = s->context_dirty = 1;
	if (n)
		ack_applied(s, res.last_applied, page);
	if (res.gap) {
		souk__logf(LG(s), SOUK_LOG_WARN,
			   "gap in the event stream after seq %llu: reconnecting to refetch",
			   (unsigned long long)res.last_applied);
		s->reconnect_now = 1;
		request_close(s, LWS_CLOSE_STATUS_NORMAL, SOUK_EPROTOCOL);
		return 0;
	}
	if (!page)
		return 0;
	if (has_more && n > 0) {
		if (!prefetched)
			send_sync_request(s, res.last_applied);
		return 0;
	}
	if (s->phase == PH_SYNCING) {
		s->phase = PH_LIVE;
		s->attempt = 0;
		s->push_pending = 0;
		souk__logf(LG(s), SOUK_LOG_DEBUG, "sync finished at seq %llu",
			   (unsigned long long)res.last_applied);
		emit_simple(s, SOUK_EVENT_SYNC_FINISHED, 0, NULL);
	}
	return 0;
}

static void on_send_ack(souk__session *s, const Souk__V1__SendAck *a)
{
	souk_client *c = s->c;
	inflight f;
	int had = inflight_take(s, a->client_msg_id.data, a->client_msg_id.len, &f);
	souk__evlist ev = {0};
	pthread_mutex_lock(&c->wmu);
	int r = souk__sync_ack(c->wst, s->me, a, &ev);
	if (r == SOUK_OK)
		souk__publish(c, &ev);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK) {
		/* the stream event of the same message reconciles it later */
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot record an ack: %s", souk_strerror(r));
	} else if (had) {
		souk__logf(LG(s), SOUK_LOG_DEBUG, "message %lld acked (conv_seq %llu%s)",
			   (long long)f.msg_id, (unsigned long long)a->conv_seq,
			   a->duplicate ? ", duplicate" : "");
	}
	s->outbox_dirty = 1;
}

static void on_error(souk__session *s, const Souk__V1__Frame *fr)
{
	souk_client *c = s->c;
	const Souk__V1__Error *e = fr->error;
	const char *msg = e->message ? e->message : "";
	inflight f;
	if (on_context_error(s, fr))
		return;
	if (e->client_msg_id.len == 16 &&
	    inflight_take(s, e->client_msg_id.data, e->client_msg_id.len, &f)) {
		if (e->permanent) {
			souk__logf(LG(s), SOUK_LOG_WARN, "message %lld refused: %s (%d)",
				   (long long)f.msg_id, souk_wire_error_name(e->code), e->code);
			fail_locally(s, f.msg_id, e->code, msg);
		} else {
			unsigned delay =
				souk__backoff_ms(f.attempts, c->backoff_min_ms, c->backoff_max_ms);
			if (e->retry_after_ms > delay)
				delay = e->retry_after_ms;
			souk__logf(LG(s), SOUK_LOG_INFO, "message %lld deferred %u ms: %s (%d)",
				   (long long)f.msg_id, delay, souk_wire_error_name(e->code),
				   e->code);
			pthread_mutex_lock(&c->wmu);
			souk__outbox_defer(c->wst, f.msg_id, souk__now_ms() + delay);
			pthread_mutex_unlock(&c->wmu);
		}
		s->outbox_dirty = 1;
		return;
	}
	if (s->phase == PH_HELLO) {
		s->wire_err = e->code;
		snprintf(s->wire_msg, sizeof(s->wire_msg), "%s", msg);
		return; /* the server closes the connection */
	}
	if (fr->request_id && fr->request_id == s->open_req) {
		s->open_req = 0;
		s->open_refused = 1; /* asked again on the next connection */
		souk__logf(LG(s), SOUK_LOG_WARN, "opening the support conversation failed: %s (%d)",
			   souk_wire_error_name(e->code), e->code);
		return;
	}
	s->wire_err = e->code;
	snprintf(s->wire_msg, sizeof(s->wire_msg), "%s", msg);
	souk__logf(LG(s), SOUK_LOG_WARN, "server error %s (%d): %s", souk_wire_error_name(e->code),
		   e->code, msg);
}

static void on_conversation(souk__session *s, const Souk__V1__Frame *fr)
{
	if (!fr->request_id || fr->request_id != s->open_req)
		return;
	s->open_req = 0;
	souk_client *c = s->c;
	souk__evlist ev = {0};
	pthread_mutex_lock(&c->wmu);
	int r = souk__sync_support_info(c->wst, fr->conversation, &ev);
	if (r == SOUK_OK)
		souk__publish(c, &ev);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK)
		souk__logf(LG(s), SOUK_LOG_ERROR, "cannot record the support conversation: %s",
			   souk_strerror(r));
	s->outbox_dirty = 1; /* messages waiting for it can go */
	s->context_dirty = 1;
}

static void on_typing(souk__session *s, const Souk__V1__Typing *t)
{
	souk_client *c = s->c;
	int64_t conv = 0;
	pthread_mutex_lock(&c->wmu);
	int r = souk__conv_by_server_id(c->wst, t->conversation_id, &conv);
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK)
		return;
	souk_event *e = souk__event_new(SOUK_EVENT_TYPING);
	if (!e)
		return;
	e->conv_id = conv;
	e->typing = t->on ? 1 : 0;
	e->user_id = t->user_id && t->user_id[0] ? souk__strdup(t->user_id) : NULL;
	souk__publish_one(c, e);
}

static int handle_frame(souk__session *s, const Souk__V1__Frame *f)
{
	if (s->phase == PH_HELLO && f->body_case != SOUK__V1__FRAME__BODY_WELCOME &&
	    f->body_case != SOUK__V1__FRAME__BODY_ERROR) {
		souk__logf(LG(s), SOUK_LOG_WARN, "unexpected frame (body %d) before welcome",
			   f->body_case);
		request_close(s, SOUK_WIRE_CLOSE_PROTOCOL, SOUK_EPROTOCOL);
		return 0;
	}
	switch (f->body_case) {
	case SOUK__V1__FRAME__BODY_WELCOME:
		if (s->phase != PH_HELLO) {
			request_close(s, SOUK_WIRE_CLOSE_PROTOCOL, SOUK_EPROTOCOL);
			return 0;
		}
		return on_welcome(s, f->welcome);
	case SOUK__V1__FRAME__BODY_ERROR:
		on_error(s, f);
		return 0;
	case SOUK__V1__FRAME__BODY_SEND_ACK:
		on_send_ack(s, f->send_ack);
		return 0;
	case SOUK__V1__FRAME__BODY_SYNC_PAGE:
		return on_events(s, f->sync_page->events, f->sync_page->n_events, 1,
				 f->sync_page->has_more, 0);
	case SOUK__V1__FRAME__BODY_EVENTS:
		return on_events(s, f->events->events, f->events->n_events, 0, 0, 0);
	case SOUK__V1__FRAME__BODY_CONVERSATION:
		on_conversation(s, f);
		return 0;
	case SOUK__V1__FRAME__BODY_TYPING:
		on_typing(s, f->typing);
		return 0;
	case SOUK__V1__FRAME__BODY_CONTEXT_UPDATED:
		on_context_updated(s, f);
		return 0;
	case SOUK__V1__FRAME__BODY_PONG:
		if (s->probe_active) {
			lws_sul_cancel(&s->sul_probe);
			s->probe_active = 0;
		}
		return 0;
	default:
		return 0;
	}
}

/* Applies the page held by hold_page(), if any. */
static void apply_held(souk__session *s)
{
	Souk__V1__Frame *f = s->held;
	if (!f)
		return;
	s->held = NULL;
	on_events(s, f->sync_page->events, f->sync_page->n_events, 1, f->sync_page->has_more, 1);
	souk_wire_arena_reset(s->arena[s->held_arena]);
}

static void drop_held(souk__session *s)
{
	if (!s->held)
		return;
	s->held = NULL;
	souk_wire_arena_trim(s->arena[s->held_arena]);
}

/* A sync page with more after it: asks for the next page now and keeps this one, to be
 * applied once the request is written (souk__session_main). 1 if `f` was kept. */
static int hold_page(souk__session *s, Souk__V1__Frame *f)
{
	if (f->body_case != SOUK__V1__FRAME__BODY_SYNC_PAGE || s->phase != PH_SYNCING ||
	    !f->sync_page->has_more || f->sync_page->n_events == 0 || s->close_requested)
		return 0;
	const Souk__V1__SyncPage *p = f->sync_page;
	/* the events after this page's last: if the page turns out to hold a gap, or its
	 * commit fails, the connection is closed and the answer never used */
	if (send_sync_request(s, p->events[p->n_events - 1]->seq) != 0)
		return 0; /* not asked: applied now, and asked after it as before */
	s->held = f;
	return 1;
}

static int on_receive(souk__session *s, struct lws *wsi, const uint8_t *in, size_t len)
{
	if (!lws_frame_is_binary(wsi)) {
		souk__logf(LG(s), SOUK_LOG_WARN, "text message from the server");
		request_close(s, SOUK_WIRE_CLOSE_PROTOCOL, SOUK_EPROTOCOL);
		return 0;
	}
	if (lws_is_first_fragment(wsi))
		s->rxlen = 0;
	/* checked before buffering: a peer cannot make us hold more than one frame */
	if (len > SOUK_WIRE_MAX_FRAME - s->rxlen) {
		souk__logf(LG(s), SOUK_LOG_WARN, "frame from the server over %d bytes",
			   SOUK_WIRE_MAX_FRAME);
		request_close(s, SOUK_WIRE_CLOSE_TOO_LARGE, SOUK_EPROTOCOL);
		s->rxlen = 0;
		return 0;
	}
	memcpy(s->rx + s->rxlen, in, len);
	s->rxlen += len;
	if (!lws_is_final_fragment(wsi))
		return 0;
	Souk__V1__Frame *f = NULL;
	int a = s->held && s->held_arena == 0 ? 1 : 0; /* not the held page's */
	souk_wire_status st = souk_wire_decode_arena(s->rx, s->rxlen, 0, s->arena[a], &f);
	s->rxlen = 0;
	if (st.code) {
		souk__logf(LG(s), SOUK_LOG_WARN, "invalid frame from the server: %s (%s)", st.why,
			   souk_wire_error_name(st.code));
		request_close(s, SOUK_WIRE_CLOSE_PROTOCOL, SOUK_EPROTOCOL);
		return 0;
	}
	apply_held(s); /* in stream order: the held page comes first */
	if (hold_page(s, f)) {
		s->held_arena = a;
		return 0;
	}
	int r = handle_frame(s, f);
	if (s->phase == PH_SYNCING || s->held) {
		souk_wire_arena_reset(s->arena[a]); /* its block serves the next page */
	} else {
		souk_wire_arena_trim(s->arena[0]);
		souk_wire_arena_trim(s->arena[1]);
	}
	return r;
}

static int on_writeable(souk__session *s, struct lws *wsi)
{
	if (s->close_requested) {
		lws_close_reason(wsi, (enum lws_close_status)s->close_code, NULL, 0);
		return -1;
	}
	txframe *t = s->txh;
	if (!t)
		return 0;
	s->txh = t->next;
	if (!s->txh)
		s->txt = NULL;
	s->ntx--;
	int n = lws_write(wsi, t->buf + LWS_PRE, t->len, LWS_WRITE_BINARY);
	souk__wipe(t->buf, LWS_PRE + t->len);
	int ok = n >= 0 && (size_t)n >= t->len;
	free(t->buf);
	free(t);
	if (!ok) {
		souk__logf(LG(s), SOUK_LOG_INFO, "write failed; closing the connection");
		return -1;
	}
	if (s->txh)
		lws_callback_on_writable(wsi);
	return 0;
}

static void probe_cb(lws_sorted_usec_list_t *sul)
{
	souk__session *s = lws_container_of(sul, souk__session, sul_probe);
	if (!s->probe_active)
		return;
	s->probe_active = 0;
	souk__logf(LG(s), SOUK_LOG_INFO, "no answer to the probe after a network change");
	s->reconnect_now = 1;
	request_close(s, LWS_CLOSE_STATUS_NORMAL, SOUK_ENETWORK);
	lws_cancel_service(s->ctx); /* see outbox_cb */
}

static void probe(souk__session *s)
{
	if (s->probe_active || s->phase < PH_SYNCING)
		return;
	Souk__V1__Ping p = SOUK__V1__PING__INIT;
	p.client_time_ms = souk__now_ms();
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = ++s->next_req;
	f.body_case = SOUK__V1__FRAME__BODY_PING;
	f.ping = &p;
	if (send_frame(s, &f) == 0) {
		s->probe_active = 1;
		lws_sul_schedule(s->ctx, 0, &s->sul_probe, probe_cb,
				 (lws_usec_t)PROBE_TIMEOUT_S * LWS_USEC_PER_SEC);
	}
}

/* ---- the lws protocol callback ------------------------------------------------------------- */

static int lws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	souk_client *c = lws_context_user(lws_get_context(wsi));
	souk__session *s = c ? c->sess : NULL;
	if (!s)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (wsi == s->wsi && s->phase == PH_CONNECTING)
			on_established(s);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (wsi != s->wsi)
			return -1;
		return on_receive(s, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (wsi != s->wsi)
			return -1;
		return on_writeable(s, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (wsi == s->wsi && in && len >= 2) {
			const uint8_t *p = in;
			s->peer_close = (p[0] << 8) | p[1];
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (s->phase != PH_IDLE && (wsi == s->wsi || !s->wsi)) {
			/* lws describes the failure ("connect failed", "HS: ..."): no secrets */
			char why[160];
			snprintf(why, sizeof(why), "connection failed%s%.*s", in ? ": " : "",
				 in ? 120 : 0, in ? (const char *)in : "");
			on_disconnected(s, SOUK_ENETWORK, why);
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (s->phase != PH_IDLE && (wsi == s->wsi || !s->wsi))
			on_disconnected(s, SOUK_ENETWORK, "connection closed");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* libwebsockets 4.1 frees a client whose handshake timed out (its pending
		 * timeout, e.g. against a paused server) without CONNECTION_ERROR or CLOSED:
		 * without this the session would stay CONNECTING for ever, never retrying. */
		if (s->phase != PH_IDLE && (wsi == s->wsi || !s->wsi))
			on_disconnected(s, SOUK_ENETWORK,
					"connection attempt ended without an answer");
		return 0;
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		if (c->npins)
			return souk__pin_check(c, user, &s->pin_matched);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* tx_packet_size: otherwise lws sends at most its 4 KiB service buffer per send() and
 * waits for the next WRITEABLE with the rest of a larger frame (a 16 KB message) */
static const struct lws_protocols protocols[] = {
	{SOUK_WIRE_SUBPROTOCOL, lws_cb, 0, 0, 0, NULL, SOUK_WIRE_MAX_FRAME + 64},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- commands ----------------------------------------------------------------------------- */

static void do_typing(souk__session *s, int64_t conv, int on)
{
	if (s->phase < PH_SYNCING)
		return; /* ephemeral: dropped when not connected */
	char *sid = NULL;
	pthread_mutex_lock(&s->c->wmu);
	souk__conv_server_id(s->c->wst, conv, &sid);
	pthread_mutex_unlock(&s->c->wmu);
	if (!sid)
		return;
	Souk__V1__Typing t = SOUK__V1__TYPING__INIT;
	t.conversation_id = sid;
	t.on = on ? 1 : 0;
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.body_case = SOUK__V1__FRAME__BODY_TYPING;
	f.typing = &t;
	if (s->ntx < TX_MAX)
		send_frame(s, &f);
	free(sid);
}

static void reset_backoff_and_connect(souk__session *s)
{
	s->attempt = 0;
	if (!s->wsi) {
		cancel_connect(s);
		if (want_connection(s))
			connect_now(s);
	}
}

static void do_hint(souk__session *s, int hint)
{
	souk__logf(LG(s), SOUK_LOG_DEBUG, "hint %d", hint);
	switch (hint) {
	case SOUK_HINT_NETWORK_CHANGED:
		s->net_lost = 0;
		if (s->blocked == SOUK_EAUTH)
			s->blocked = 0;
		if (s->wsi)
			probe(s);
		reset_backoff_and_connect(s);
		break;
	case SOUK_HINT_NETWORK_LOST:
		s->net_lost = 1;
		cancel_connect(s);
		if (s->wsi)
			request_close(s, LWS_CLOSE_STATUS_GOINGAWAY, SOUK_ENETWORK);
		break;
	case SOUK_HINT_FOREGROUND:
		s->background = 0;
		s->net_lost = 0;
		if (s->blocked == SOUK_EAUTH)
			s->blocked = 0;
		reset_backoff_and_connect(s);
		break;
	case SOUK_HINT_BACKGROUND:
		s->background = 1;
		s->recount = 1;
		break;
	case SOUK_HINT_PUSH_RECEIVED:
		s->push_pending = 1;
		s->net_lost = 0;
		reset_backoff_and_connect(s);
		break;
	}
}

static void do_cmds(souk__session *s)
{
	souk__cmd *cmd = souk__take_cmds(s->c);
	while (cmd) {
		souk__cmd *next = cmd->next;
		switch (cmd->type) {
		case SOUK__CMD_OUTBOX:
			s->outbox_dirty = 1;
			s->recount = 1;
			break;
		case SOUK__CMD_READS:
			s->reads_dirty = 1;
			break;
		case SOUK__CMD_TYPING:
			do_typing(s, cmd->a, cmd->b);
			break;
		case SOUK__CMD_TOKEN:
			/* a new token may fix a refused token, an unknown app (no) or another
			 * user's token (if it is the right user's now): try again */
			s->need_token = 0;
			s->blocked = 0;
			reset_backoff_and_connect(s);
			break;
		case SOUK__CMD_HINT:
			do_hint(s, cmd->b);
			break;
		case SOUK__CMD_CONTEXT:
			s->context_dirty = 1;
			break;
		}
		free(cmd);
		cmd = next;
	}
}

/* One pass after every wake-up: connect or disconnect as wanted, feed the connection. */
static void tick(souk__session *s)
{
	if (s->recount && !s->wsi) {
		size_t n = 0;
		pthread_mutex_lock(&s->c->wmu);
		if (souk__outbox_count(s->c->wst, &n) == SOUK_OK) {
			s->outbox_n = n;
			s->recount = 0;
		}
		pthread_mutex_unlock(&s->c->wmu);
	}
	if (!s->wsi) {
		if (!s->connect_scheduled && want_connection(s))
			connect_now(s);
		return;
	}
	if (s->phase < PH_SYNCING)
		return;
	if (s->outbox_dirty || s->recount)
		pump_outbox(s);
	if (s->reads_dirty)
		pump_reads(s);
	if (s->context_dirty)
		pump_contexts(s);
	if (!want_connection(s) ||
	    (s->background && s->phase == PH_LIVE && s->outbox_n == 0 && s->ninf == 0)) {
		souk__logf(LG(s), SOUK_LOG_DEBUG, "nothing left to do in the background; closing");
		request_close(s, LWS_CLOSE_STATUS_NORMAL, 0);
	}
}

/* ---- thread ------------------------------------------------------------------------------- */

static pthread_once_t lws_log_once = PTHREAD_ONCE_INIT;

static void quiet_lws(void)
{
	/* libwebsockets logs to stderr by default; a library must not. SOUK_LWS_LOG=<lws
	 * level mask> turns it back on for debugging. The setting is process-wide. */
	const char *env = getenv("SOUK_LWS_LOG");
	lws_set_log_level(env ? atoi(env) : 0, NULL);
}

int souk__session_create(souk_client *c, char *err, size_t errlen)
{
	pthread_once(&lws_log_once, quiet_lws);
	souk__session *s = calloc(1, sizeof(*s));
	if (!s || !(s->rx = malloc(SOUK_WIRE_MAX_FRAME)) ||
	    !(s->arena[0] = souk_wire_arena_new()) || !(s->arena[1] = souk_wire_arena_new())) {
		if (s) {
			free(s->rx);
			souk_wire_arena_free(s->arena[0]);
		}
		free(s);
		snprintf(err, errlen, "out of memory");
		return SOUK_ENOMEM;
	}
	s->c = c;
	int default_port = c->url_port == (c->url_tls ? 443 : 80);
	int v6 = strchr(c->url_host, ':') != NULL;
	size_t hl = strlen(c->url_host) + 16;
	s->host_header = malloc(hl);
	if (!s->host_header) {
		free(s->rx);
		souk_wire_arena_free(s->arena[0]);
		souk_wire_arena_free(s->arena[1]);
		free(s);
		snprintf(err, errlen, "out of memory");
		return SOUK_ENOMEM;
	}
	if (default_port)
		snprintf(s->host_header, hl, v6 ? "[%s]" : "%s", c->url_host);
	else
		snprintf(s->host_header, hl, v6 ? "[%s]:%d" : "%s:%d", c->url_host, c->url_port);
	s->retry.secs_since_valid_ping = (uint16_t)c->heartbeat_s;
	s->retry.secs_since_valid_hangup = (uint16_t)(c->heartbeat_s * 5 / 2);
	s->outbox_dirty = s->reads_dirty = s->recount = s->context_dirty = 1;

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = c;
	/* ws:// needs no TLS context at all; wss:// uses the client's own (see tls.c) */
	if (c->ssl_ctx) {
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.provided_client_ssl_ctx = c->ssl_ctx;
	}
	info.fd_limit_per_thread = 1 + 1 + 1;
	info.gid = (gid_t)-1;
	info.uid = (uid_t)-1;
	s->ctx = lws_create_context(&info);
	if (!s->ctx) {
		free(s->host_header);
		free(s->rx);
		souk_wire_arena_free(s->arena[0]);
		souk_wire_arena_free(s->arena[1]);
		free(s);
		snprintf(err, errlen, "cannot create the libwebsockets context");
		return SOUK_EINTERNAL;
	}
	c->sess = s;
	c->lws = s->ctx;
	return SOUK_OK;
}

void souk__session_destroy(souk_client *c)
{
	souk__session *s = c->sess;
	if (!s)
		return;
	if (s->ctx) { /* the thread never ran */
		pthread_mutex_lock(&c->mu);
		c->lws = NULL;
		pthread_mutex_unlock(&c->mu);
		s->shutting_down = 1;
		lws_context_destroy(s->ctx);
	}
	free_tx(s);
	drop_held(s);
	free(s->inf);
	free(s->cinf);
	free(s->me);
	free(s->host_header);
	free(s->rx);
	souk_wire_arena_free(s->arena[0]);
	souk_wire_arena_free(s->arena[1]);
	free(s);
	c->sess = NULL;
}

void *souk__session_main(void *arg)
{
	souk_client *c = arg;
	souk__session *s = c->sess;
	souk__session_mark_thread(c);

	char *session = NULL;
	pthread_mutex_lock(&c->wmu);
	souk__state_get_text(c->wst, "user_id", &s->me);
	souk__state_get_text(c->wst, "session", &session);
	pthread_mutex_unlock(&c->wmu);
	if (!logged_in(s)) {
		emit_state(s, SOUK_CONNECTION_WAITING, 0, 0, "not logged in");
		if (session)
			emit_simple(s, SOUK_EVENT_TOKEN_NEEDED, 0,
				    "the app restarted: log in again to resume the session");
	}
	free(session);

	for (;;) {
		pthread_mutex_lock(&c->mu);
		int stop = c->stopping;
		pthread_mutex_unlock(&c->mu);
		if (stop)
			break;
		/* a held sync page, once the request for the next one is on the wire */
		if (s->held && s->ntx == 0)
			apply_held(s);
		do_cmds(s);
		tick(s);
		souk__dispatch(c);
		if (lws_service(s->ctx, 0) < 0) {
			souk__logf(LG(s), SOUK_LOG_ERROR, "libwebsockets service failed");
			break;
		}
	}

	pthread_mutex_lock(&c->mu);
	c->lws = NULL;
	pthread_mutex_unlock(&c->mu);
	s->shutting_down = 1;
	lws_context_destroy(s->ctx);
	s->ctx = NULL;
	s->wsi = NULL;
	s->phase = PH_IDLE;
	emit_state(s, SOUK_CONNECTION_STOPPED, 0, 0, NULL);
	souk__dispatch(c);
	souk__session_mark_thread(NULL);
	return NULL;
}
