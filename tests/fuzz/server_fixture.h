/*
 * server_fixture.h — soukd's loop-thread state without libwebsockets, on the real store,
 * for fuzz_dispatch and fuzz_rest.
 *
 * Owns: a template database with two seeded apps (made once per process with the store's
 * own app_create/app_add_key), a fresh copy of it per input in a scratch directory (on
 * /dev/shm when it exists: fsync is cheap there, the SQL is the same), a `gateway` struct
 * with no lws context around the real storage thread (group_commit.c) on it, and waiting
 * for that thread so that a run is deterministic: fx_settle() returns only when no
 * operation is queued or running and every completion has run (gw_drain_completions(),
 * the same code the loop runs on lws_cancel_service).
 *
 * What differs from soukd: no sockets (a connection's frames stay in its send queue, a
 * REST response in its http_req), no auth timer, and no webhook scan (webhooks.c would
 * open outbound HTTP connections on the lws context: fx_gateway_new() marks a scan as
 * already pending so that webhooks_poke() only records that one is wanted).
 * Never: mocks the store, the group commit or the completion path.
 */
#ifndef SOUK_FUZZ_SERVER_FIXTURE_H
#define SOUK_FUZZ_SERVER_FIXTURE_H

#include "gateway_internal.h"

enum { FX_APPS = 2, FX_USERS = 4, FX_CONVS = 2 };

typedef struct fx_app {
	char app_id[STORE_ID_MAX];
	char api_key[80];  /* the REST API key (Authorization: Bearer) */
	char secret[64];   /* HS256 secret registered with kid "fz" */
	char key_hash[65]; /* SHA-256 of api_key, as rest.c computes it */
	/* support conversations of shopper-0 and shopper-1, opened in the template */
	char convs[FX_CONVS][STORE_ID_MAX];
} fx_app;

extern fx_app fx_apps[FX_APPS];

/* Creates the template once (aborts on failure: nothing can be fuzzed without it). */
void fx_init(void);

/* A gateway on a fresh copy of the template, with cfg (config_defaults() when NULL). */
gateway *fx_gateway_new(const souk_config *cfg);

/* Waits for the storage thread and runs completions until none is left; returns how many
 * completions ran. */
size_t fx_settle(gateway *gw);

/* Settles, then reads the user's events after `after` (at most limit) through the storage
 * thread, as a GC_READ_EVENTS op nobody waits for. 0 or the op's status. */
int fx_read_events(gateway *gw, const char *app_id, const char *user_id, uint64_t after,
		   uint32_t limit, store_events *out);

/* Reads every event of the user and checks that the stream is dense (1..head, each event
 * carrying its seq); returns the events (out->n == out->head_seq). */
void fx_read_all(gateway *gw, const char *app_id, const char *user_id, store_events *out);

/* Stops the storage thread (finishing what is queued) and frees the gateway. */
void fx_gateway_free(gateway *gw);

/* An HS256 JWT signed with `secret` under `kid` (NULL: no kid), sub, exp and nbf (nbf 0:
 * none), by libjwt. Returns a malloc'ed string. */
char *fx_sign_token(const char *secret, const char *kid, const char *sub, int64_t exp, int64_t nbf);

#endif
