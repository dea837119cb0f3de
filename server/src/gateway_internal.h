/*
 * gateway_internal.h — the loop thread's state, shared by gateway.c (WebSocket sessions
 * and delivery), rest.c (the agent REST API) and webhooks.c (outbound deliveries). All of
 * it is touched by the loop thread only.
 */
#ifndef SOUK_SERVER_GATEWAY_INTERNAL_H
#define SOUK_SERVER_GATEWAY_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>

#include "config.h"
#include "gateway.h"
#include "group_commit.h"
#include "rest.h"

/* One HTTP request on the listener (lws per-session data of the "http" protocol). */
typedef struct http_req {
	struct lws *wsi;
	uint64_t id;	       /* 0 until it waits for the storage thread */
	struct http_req *next; /* rest_state.pending */
	char method[8];
	char path[512];
	char query[512];
	char key_hash[65]; /* SHA-256 of the bearer API key, "" if none */
	char idempotency_key[256];
	int idempotency_key_too_long;
	char *body;
	size_t body_len;
	int body_too_large;
	rest_call *call; /* parsed request, while authenticating */
	int status;	 /* response */
	char *resp;
	size_t resp_len;
	size_t resp_off;
	int phase; /* 1: headers to write, 2: body to write */
} http_req;

typedef struct api_key_cache {
	char hash[65];
	char app_id[STORE_ID_MAX];
	int64_t loaded_us;
	struct api_key_cache *next;
} api_key_cache;

typedef struct rest_state {
	http_req *pending; /* requests waiting for the storage thread */
	size_t n_pending;
	uint64_t next_id;
	api_key_cache *keys;
} rest_state;

typedef struct webhook_flight webhook_flight;

typedef struct webhook_state {
	webhook_flight *flights; /* deliveries on the wire */
	size_t n_flights;
	int due_pending; /* a GC_WEBHOOK_DUE read is queued */
	int poke_again;	 /* something changed while it was queued */
	lws_sorted_usec_list_t sul;
	int64_t delivered, failed, retried;
} webhook_state;

#define APP_CACHE_TTL_US (10 * 1000000LL)

typedef struct outmsg {
	struct outmsg *next;
	size_t len;
	uint8_t *buf;	  /* LWS_PRE headroom, then the frame */
	int64_t stamp_us; /* stage != OUT_PLAIN: souk_mono_us() the stage is measured from */
	int stage;	  /* OUT_*: which histogram its lws_write ends (metrics.h) */
} outmsg;

enum { OUT_PLAIN, OUT_SEND_ACK, OUT_LIVE_EVENT };

typedef struct user_entry user_entry;

enum conn_state { CS_NEW, CS_AUTHING, CS_READY };

/* What a connection needs only at times: while its hello is checked, while a message
 * arrives in pieces, while a sync request waits for the read in flight, once it closes.
 * Allocated on first use and freed once empty (gateway.c: side_get, side_trim), so that
 * an idle connection does not carry it. */
typedef struct conn_side {
	Souk__V1__Frame *hello; /* the hello being checked (CS_AUTHING) */
	uint8_t *rx;		/* reassembly: bounded by SOUK_WIRE_MAX_FRAME */
	uint32_t rx_len, rx_cap;
	const char *close_why;
	uint64_t sync_q_request, sync_q_after; /* with conn.sync_queued */
	uint32_t sync_q_limit;
} conn_side;

typedef struct conn {
	struct lws *wsi;
	gateway *gw;
	uint64_t id;
	/* Every idle connection carries this struct: keep it small (docs/performance.md,
	 * "Idle connections"; 120 bytes, a 128-byte malloc block). The app id and user id
	 * are the user_entry's (gateway.c: conn_app_id, conn_user_id; until the hello is
	 * accepted, the app id is the pending hello's); the device id is an exact-length
	 * copy, set with the user. */
	char *device_id;
	user_entry *user;
	struct conn *unext; /* the user's connections (few: max_connections_per_user) */
	struct conn *hnext; /* id hash chain */
	conn_side *side;    /* NULL most of the time */

	outmsg *q_head, *q_tail;
	uint32_t q_frames, q_bytes; /* bounded by send_queue_max_frames/bytes */

	uint64_t sent_up_to;
	uint64_t acked, ack_wanted; /* device cursor: stored, and latest acked (gateway.c) */
	uint32_t ack_written_s;	    /* monotonic second of the last cursor write (on_ack) */

	uint16_t close_code; /* close once the queue is written */
	unsigned state : 2;  /* enum conn_state */
	unsigned sync_started : 1, live : 1, reading : 1, catchup : 1;
	unsigned sync_queued : 1;   /* a sync request waits for the read in flight (side) */
	unsigned ack_inflight : 1;  /* a cursor write is queued */
	unsigned keys_reloaded : 1; /* an unknown kid made us reload the app's keys once */
	unsigned flush_listed : 1;  /* in gateway.flush */
} conn;

struct user_entry {
	user_entry *hnext;
	conn *conns;
	double tokens;
	int64_t tokens_at_us;
	int n_conns;
	uint16_t app_len; /* key: the app id, NUL, the user id, NUL (exact length) */
	char key[];
};

typedef struct app_cache {
	store_app *app;
	int64_t loaded_us;
	struct app_cache *next;
} app_cache;

enum { CONN_BUCKETS = 4096, USER_BUCKETS = 4096 };

struct gateway {
	souk_config cfg;
	struct lws_context *ctx;
	void *uv_loop; /* uv_loop_t of event_loop "epoll"; NULL: lws' own poll() loop */
	/* the storage thread's wake-up (lws_cancel_service) only while ctx is alive */
	pthread_mutex_t wake_mu;
	int wake_live;
	struct lws_vhost *vh;
	group_commit *gc;
	int port;
	volatile sig_atomic_t stop_requested;
	int shutting_down;
	int64_t shutdown_deadline_us;
	uint64_t next_conn_id;
	conn *conns[CONN_BUCKETS];
	user_entry *users[USER_BUCKETS];
	app_cache *apps;
	size_t n_conns;
	int64_t started_ms;
	lws_sorted_usec_list_t sul_tick;   /* wakes the loop while stopping */
	lws_sorted_usec_list_t sul_trim;   /* returns freed memory after a burst (gateway.c) */
	uint32_t churn, churn_since_check; /* connections opened + closed */
	int trim_scheduled;
	struct lws_vhost *client_vh; /* outbound HTTP (webhooks) */
	rest_state rest;
	webhook_state webhooks;
	/* while a send's completion pushes its events live (gateway.c: complete): when the
	 * completion ran, for souk_event_write_seconds; 0 otherwise */
	int64_t live_event_stamp_us;
	/* While completions are drained: the connections given frames, each written with one
	 * write at the end of the drain (gateway.c: enqueue_raw, flush_listed). */
	int write_direct;
	conn **flush;
	size_t n_flush, cap_flush;
};

/* gateway.c */
void gw_deliver(gateway *gw, const char *app_id, const store_appends *a);
void gw_relay_typing(gateway *gw, const char *app_id, const char *from_user, const store_conv *sc,
		     int on);
gc_op *gw_op_new(gateway *gw, gc_kind kind);

/* Reassembly of one WebSocket message from the pieces lws hands to LWS_CALLBACK_RECEIVE
 * (a 512-byte receive buffer: larger messages arrive in several). gw_rx_add() takes a
 * piece (final: the message's last); GW_RX_MESSAGE sets *msg to the whole message, which
 * is `in` itself when nothing was buffered, else rx->buf (the caller then frees it with
 * gw_rx_reset()). GW_RX_TOO_LARGE: over SOUK_WIRE_MAX_FRAME, the buffer is dropped. */
typedef struct gw_rx_buf {
	uint8_t *buf;
	size_t len, cap;
} gw_rx_buf;
typedef enum gw_rx_result { GW_RX_MORE, GW_RX_MESSAGE, GW_RX_TOO_LARGE, GW_RX_NOMEM } gw_rx_result;
gw_rx_result gw_rx_add(gw_rx_buf *rx, const uint8_t *in, size_t len, int final, const uint8_t **msg,
		       size_t *msg_len);
void gw_rx_reset(gw_rx_buf *rx);

/* A connection's life without lws callbacks: cb_souk calls these, and so does
 * tests/fuzz/fuzz_dispatch.c with wsi NULL (its frames then stay in the send queue for
 * the caller to read, and no auth timer runs without gw->ctx). gw_conn_receive() takes
 * one piece of a WebSocket message; -1: drop the connection. gw_drain_completions() runs
 * the completions of finished storage operations and returns how many. */
void gw_conn_open(gateway *gw, conn *c, struct lws *wsi);
int gw_conn_receive(conn *c, const uint8_t *in, size_t len, int binary, int final);
void gw_conn_closed(gateway *gw, conn *c);
size_t gw_drain_completions(gateway *gw);
/* Takes the first frame of a connection's send queue (NULL when empty); the caller writes
 * it (LWS_CALLBACK_SERVER_WRITEABLE, or the fuzz harness's reader) and frees m->buf and m. */
outmsg *gw_conn_pop(conn *c);

/* rest.c: HTTP callback for /v1/… REST requests; the completion of GC_REST ops */
int rest_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len);
size_t rest_pss_size(void);
/* Answers a request whose method, path, query, key_hash, idempotency_key and body are
 * filled in (read from lws by the callback; tests/fuzz/fuzz_rest.c fills them itself and
 * leaves wsi NULL, then reads status/resp). rest_max_body(): the body limit of a path. */
void rest_handle_request(gateway *gw, http_req *r);
size_t rest_max_body(const char *path);
void rest_complete(gateway *gw, gc_op *op);
void rest_free_all(gateway *gw);

/* webhooks.c */
extern const struct lws_protocols webhook_protocol;
void webhooks_poke(gateway *gw);
void webhooks_due_done(gateway *gw, gc_op *op);
void webhooks_free_all(gateway *gw);

#endif
