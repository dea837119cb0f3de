/*
 * rest_client.h — calls to soukd's agent REST API with libwebsockets' HTTP client, on the
 * loop thread, never blocking it.
 *
 * One request per connection (loopback or a nearby soukd: the handshake is cheap, and no
 * keep-alive state can go stale). Each request has a deadline; its callback runs exactly
 * once, on the loop thread, from inside a libwebsockets callback.
 */
#ifndef FAQ_REST_CLIENT_H
#define FAQ_REST_CLIENT_H

#include <libwebsockets.h>
#include <stddef.h>

typedef struct faq_rest faq_rest;

/* status: the HTTP status, or 0 when no complete answer came (then error says why).
 * body: the response body (NUL-terminated, may be empty), valid during the call. */
typedef void (*faq_rest_done)(int status, const char *body, size_t len, const char *error,
			      void *user_data);

/* The protocol to put in the client vhost's protocol list. */
extern const struct lws_protocols faq_rest_protocol;

/* base_url: "http://host:port" or "https://host:port" (a path prefix is allowed).
 * NULL with a reason in err when the URL is not usable. */
faq_rest *faq_rest_new(struct lws_context *ctx, struct lws_vhost *client_vhost,
		       const char *base_url, const char *api_key, int timeout_s, char *err,
		       size_t errlen);
/* Call after lws_context_destroy(): the requests are gone by then. */
void faq_rest_free(faq_rest *rest);

/* Starts a request. body (JSON) and idempotency_key may be NULL. Returns 0 when started
 * (cb will run later), -1 when it could not start (cb will not run). */
int faq_rest_request(faq_rest *rest, const char *method, const char *path, const char *body,
		     const char *idempotency_key, faq_rest_done cb, void *user_data);

/* Requests under way. */
size_t faq_rest_in_flight(const faq_rest *rest);

#endif
