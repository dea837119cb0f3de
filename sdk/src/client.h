/*
 * client.h — the client handle and what client.c offers to session.c.
 */
#ifndef SOUK_CLIENT_INTERNAL_H
#define SOUK_CLIENT_INTERNAL_H

#include "internal.h"
#include "store.h"

struct lws_context;
typedef struct souk__session souk__session;

enum souk__cmd_type {
	SOUK__CMD_OUTBOX = 1, /* the outbox or the support conversation changed */
	SOUK__CMD_READS,      /* a read position moved */
	SOUK__CMD_TYPING,     /* a = conversation, b = on */
	SOUK__CMD_TOKEN,      /* a token was given */
	SOUK__CMD_HINT,	      /* b = souk_hint */
	SOUK__CMD_CONTEXT,    /* a shopping context is waiting to be sent */
};

typedef struct souk__cmd {
	int type;
	int64_t a;
	int b;
	struct souk__cmd *next;
} souk__cmd;

struct souk_client {
	/* ---- configuration: immutable after create ---- */
	char *url_host;
	int url_port;
	char *url_path;
	int url_tls;
	char *app_id;
	char *db_path;
	uint8_t key[32];
	char *device_id;
	int platform;
	char *ca_file;
	uint8_t (*pins)[32];
	size_t npins;
	void *ssl_ctx; /* SSL_CTX for wss:// (tls.c) */
	unsigned heartbeat_s;
	unsigned backoff_min_ms;
	unsigned backoff_max_ms;
	size_t max_events;
	souk__log log;

	/* ---- the store: the write connection and the UI's read connection ---- */
	pthread_mutex_t wmu;
	souk__store *wst;
	pthread_mutex_t rmu;
	souk__store *rst;

	/* ---- control, under mu ---- */
	pthread_mutex_t mu;
	int started;
	int stopping;
	pthread_t thread;
	struct lws_context *lws; /* non-NULL while the SDK thread may be woken */
	char *token;
	int logged_in;
	souk__cmd *cmd_head, *cmd_tail;
	int conn_state;

	/* ---- events, under emu ---- */
	pthread_mutex_t emu;
	pthread_cond_t econd;
	souk_event *eq_head, *eq_tail;
	size_t eq_len;
	uint64_t serial;
	int dropped;
	int closed;
	souk_event_cb cb;
	void *cb_ud;
	souk_destroy_cb cb_destroy;

	/* ---- SDK thread only ---- */
	souk__session *sess;
};

/* Appends the events of a committed transaction (or any events) to the stream. Call it
 * while still holding wmu when the events come from a store transaction, so that the
 * stream's order is the commit order. Consumes `ev`. */
void souk__publish(souk_client *c, souk__evlist *ev);
/* Publishes one event. */
void souk__publish_one(souk_client *c, souk_event *e);
/* Runs the callback for queued events (SDK thread). */
void souk__dispatch(souk_client *c);
/* Takes all queued commands (SDK thread). */
souk__cmd *souk__take_cmds(souk_client *c);
/* A copy of the current token (NULL if none). */
char *souk__token_copy(souk_client *c);
void souk__set_conn_state(souk_client *c, int state);

/* tls.c */
int souk__tls_ctx_create(souk_client *c, char *err, size_t errlen);
void souk__tls_ctx_free(souk_client *c);
int souk__parse_pins(const char *spec, uint8_t (**out)[32], size_t *n);
int souk__pin_check(souk_client *c, void *x509_store_ctx, int *matched);

/* session.c */
int souk__session_create(souk_client *c, char *err, size_t errlen);
void *souk__session_main(void *arg);
void souk__session_destroy(souk_client *c);

#endif
