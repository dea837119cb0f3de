/*
 * rest_client.c — HTTP/1.1 requests to soukd's REST API over libwebsockets (see
 * rest_client.h).
 *
 * Owns: one request per connection, its headers (Authorization, Content-Type,
 * Content-Length, Idempotency-Key), the body, the response (at most 256 KiB), a deadline,
 * and the single call of the done callback.
 * Never: logs bodies or the API key; blocks the loop.
 *
 * Lifetime (the tricky part, the same rule as soukd's webhook flights): a request with a
 * connection is freed in LWS_CALLBACK_WSI_DESTROY, the one callback lws always makes for
 * it; a request whose connection never came to exist, or died while
 * lws_client_connect_via_info() was still running, is freed by faq_rest_request() itself.
 */
#include "rest_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RESP_MAX = 256 * 1024 };

typedef struct rest_req rest_req;
struct rest_req {
	faq_rest *rest;
	rest_req *prev, *next;
	struct lws *wsi;
	char method[8];
	char path[1024];
	char idem[256];
	char *body;
	size_t body_len;
	int body_sent;
	int status;
	char *resp;
	size_t resp_len;
	int resp_too_big;
	faq_rest_done cb; /* NULL once called (or never to be called) */
	void *user_data;
	int connecting; /* inside lws_client_connect_via_info() */
	int wsi_gone;	/* lws destroyed the connection */
	int failed;	/* an error happened while connecting */
	char error[160];
};

struct faq_rest {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	char host[256];
	char prefix[256]; /* "" or "/some/prefix" */
	int port;
	int tls;
	char auth[600]; /* "Bearer sk_..." */
	int timeout_s;
	rest_req *reqs;
	size_t n_reqs;
};

faq_rest *faq_rest_new(struct lws_context *ctx, struct lws_vhost *client_vhost,
		       const char *base_url, const char *api_key, int timeout_s, char *err,
		       size_t errlen)
{
	char url[1024];
	if (strlen(base_url) >= sizeof(url) || strlen(api_key) > 500) {
		snprintf(err, errlen, "the soukd URL or the API key is too long");
		return NULL;
	}
	snprintf(url, sizeof(url), "%s", base_url);
	const char *prot = NULL, *addr = NULL, *path = NULL;
	int port = 0;
	if (lws_parse_uri(url, &prot, &addr, &port, &path) ||
	    (strcmp(prot, "http") != 0 && strcmp(prot, "https") != 0) || !addr[0]) {
		snprintf(err, errlen, "the soukd URL must look like http://HOST:PORT");
		return NULL;
	}
	faq_rest *r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->ctx = ctx;
	r->vh = client_vhost;
	r->tls = strcmp(prot, "https") == 0;
	r->port = port;
	r->timeout_s = timeout_s > 0 ? timeout_s : 5;
	snprintf(r->host, sizeof(r->host), "%s", addr);
	/* lws_parse_uri() drops the leading '/' of the path */
	snprintf(r->prefix, sizeof(r->prefix), "%s%s", path[0] ? "/" : "", path);
	size_t pl = strlen(r->prefix);
	while (pl && r->prefix[pl - 1] == '/')
		r->prefix[--pl] = '\0';
	snprintf(r->auth, sizeof(r->auth), "Bearer %s", api_key);
	return r;
}

void faq_rest_free(faq_rest *rest)
{
	if (!rest)
		return;
	/* lws_context_destroy() destroyed every connection, freeing its request */
	while (rest->reqs) {
		rest_req *q = rest->reqs;
		rest->reqs = q->next;
		free(q->body);
		free(q->resp);
		free(q);
	}
	explicit_bzero(rest->auth, sizeof(rest->auth));
	free(rest);
}

size_t faq_rest_in_flight(const faq_rest *rest)
{
	return rest->n_reqs;
}

static void req_unlink(rest_req *q)
{
	faq_rest *r = q->rest;
	if (q->prev)
		q->prev->next = q->next;
	else if (r->reqs == q)
		r->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
	r->n_reqs--;
}

static void req_free(rest_req *q)
{
	req_unlink(q);
	free(q->body);
	free(q->resp);
	free(q);
}

/* Calls the callback once. While connecting, an error is only noted: the caller of
 * faq_rest_request() learns it from the return value instead. */
static void req_finish(rest_req *q, int status, const char *error)
{
	if (!q->cb)
		return;
	if (q->connecting) {
		q->failed = 1;
		snprintf(q->error, sizeof(q->error), "%s", error ? error : "connection failed");
		return;
	}
	faq_rest_done cb = q->cb;
	q->cb = NULL;
	if (status && q->resp_too_big) {
		status = 0;
		error = "response larger than 256 KiB";
	}
	cb(status, q->resp ? q->resp : "", q->resp_len, status ? NULL : error, q->user_data);
}

int faq_rest_request(faq_rest *rest, const char *method, const char *path, const char *body,
		     const char *idempotency_key, faq_rest_done cb, void *user_data)
{
	rest_req *q = calloc(1, sizeof(*q));
	if (!q)
		return -1;
	q->rest = rest;
	snprintf(q->method, sizeof(q->method), "%s", method);
	snprintf(q->path, sizeof(q->path), "%s%s", rest->prefix, path);
	snprintf(q->idem, sizeof(q->idem), "%s", idempotency_key ? idempotency_key : "");
	if (body && !(q->body = strdup(body))) {
		free(q);
		return -1;
	}
	q->body_len = body ? strlen(body) : 0;
	q->cb = cb;
	q->user_data = user_data;
	q->next = rest->reqs;
	if (rest->reqs)
		rest->reqs->prev = q;
	rest->reqs = q;
	rest->n_reqs++;

	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = rest->ctx;
	ci.vhost = rest->vh;
	ci.address = rest->host;
	ci.port = rest->port;
	ci.path = q->path;
	ci.host = rest->host;
	ci.origin = rest->host;
	ci.method = q->method;
	ci.protocol = faq_rest_protocol.name;
	ci.alpn = "http/1.1";
	ci.ssl_connection = rest->tls ? LCCSCF_USE_SSL : 0;
	ci.userdata = q;
	ci.pwsi = &q->wsi;
	q->connecting = 1;
	struct lws *wsi = lws_client_connect_via_info(&ci);
	q->connecting = 0;
	if (!wsi || q->wsi_gone || q->failed) {
		q->cb = NULL; /* the caller handles the failure */
		if (!wsi || q->wsi_gone)
			req_free(q);
		/* else: the connection still exists and frees q when destroyed */
		return -1;
	}
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, rest->timeout_s);
	return 0;
}

static int cb_rest(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	rest_req *q = user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = (unsigned char **)in, *end = (*p) + len;
		faq_rest *r = q->rest;
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
						 (const unsigned char *)r->auth,
						 (int)strlen(r->auth), p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"user-agent:",
						(const unsigned char *)"souk-faq-bot/1", 14, p,
						end))
			return -1;
		if (q->idem[0] &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"idempotency-key:",
						(const unsigned char *)q->idem,
						(int)strlen(q->idem), p, end))
			return -1;
		if (!q->body)
			return 0;
		char clen[32];
		snprintf(clen, sizeof(clen), "%zu", q->body_len);
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
						 (const unsigned char *)"application/json", 16, p,
						 end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
						 (const unsigned char *)clen, (int)strlen(clen), p,
						 end))
			return -1;
		lws_client_http_body_pending(wsi, 1);
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
		if (!q->body || q->body_sent)
			return 0;
		uint8_t *buf = malloc(LWS_PRE + q->body_len + 1);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, q->body, q->body_len);
		int w = lws_write(wsi, buf + LWS_PRE, q->body_len, LWS_WRITE_HTTP_FINAL);
		free(buf);
		if (w < 0)
			return -1;
		q->body_sent = 1;
		lws_client_http_body_pending(wsi, 0);
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		q->status = (int)lws_http_client_http_response(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char buf[LWS_PRE + 4096];
		char *px = buf + LWS_PRE;
		int lenx = (int)sizeof(buf) - LWS_PRE;
		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		return 0;
	}
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (q->resp_too_big || !len)
			return 0;
		if (q->resp_len + len > RESP_MAX) {
			q->resp_too_big = 1;
			return 0;
		}
		{
			char *nr = realloc(q->resp, q->resp_len + len + 1);
			if (!nr)
				return -1;
			q->resp = nr;
			memcpy(q->resp + q->resp_len, in, len);
			q->resp_len += len;
			q->resp[q->resp_len] = '\0';
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (q)
			req_finish(q, q->status ? q->status : 0, "no HTTP status");
		return -1; /* one request per connection */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (q)
			req_finish(q, 0, in ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (q)
			req_finish(q, 0, "connection closed or timed out before a complete answer");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (q) {
			req_finish(q, 0, "connection closed");
			q->wsi_gone = 1;
			if (!q->connecting)
				req_free(q);
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols faq_rest_protocol = {"faq-rest", cb_rest, 0, 0, 0, NULL, 0};
