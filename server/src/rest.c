/*
 * rest.c — the HTTP side of the listener: /healthz, /metrics and the agent REST API under
 * /v1/ (docs/rest-api.md), on the loop thread.
 *
 * A request is read (body bounded at 256 KiB), authenticated by its API key (Bearer; the
 * key's SHA-256 is looked up through the storage thread once and cached), parsed and
 * validated strictly into a rest_call here — so that a malformed request never reaches the
 * store — and then executed by the storage thread inside the group commit. The response
 * is written when the operation comes back; events it appended are delivered to the
 * shoppers' devices at the same time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_internal.h"
#include "metrics.h"
#include "payload.h"
#include "util.h"

/* request bodies: 256 KiB, except POST /v1/push (up to 100,000 user ids) */
enum { REST_WRITE_CHUNK = 16000 };
enum { REST_MAX_BODY = 256 * 1024, REST_MAX_PUSH_BODY = 16 * 1024 * 1024, REST_MAX_PENDING = 4096 };
#define API_KEY_TTL_US (60 * 1000000LL)

size_t rest_max_body(const char *path)
{
	return strcmp(path, "/v1/push") == 0 ? REST_MAX_PUSH_BODY : REST_MAX_BODY;
}

size_t rest_pss_size(void)
{
	return sizeof(http_req);
}

/* ---- responses --------------------------------------------------------------------- */

static void respond(http_req *r, int status, char *body, size_t len)
{
	free(r->resp);
	r->status = status;
	r->resp = body;
	r->resp_len = len;
	r->resp_off = 0;
	r->phase = 1;
	if (r->wsi) /* without a socket (tests/fuzz/fuzz_rest.c) the caller reads r->resp */
		lws_callback_on_writable(r->wsi);
}

static void respond_json(http_req *r, int status, json_t *j)
{
	if (!j) {
		respond(r, status, NULL, 0);
		return;
	}
	char *txt = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	respond(r, status, txt, txt ? strlen(txt) : 0);
}

static void respond_error(http_req *r, int status, const char *code, const char *message)
{
	respond_json(r, status,
		     json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message));
}

static int write_response(struct lws *wsi, http_req *r)
{
	if (r->phase == 1) {
		uint8_t hdr[LWS_PRE + 512];
		uint8_t *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
		const char *ctype = r->resp && r->resp[0] == '{' ? "application/json"
								 : "text/plain; version=0.0.4";
		if (lws_add_http_common_headers(wsi, (unsigned)r->status, ctype, r->resp_len, &p,
						end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
						 (const unsigned char *)"no-store", 8, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		r->phase = 2;
		if (r->resp_len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else if (r->phase == 2 && r->resp_len) {
		/* at most one HTTP/2 frame's worth per writeable callback (clients may upgrade
		 * to h2c, whose default maximum frame is 16 KiB) */
		size_t left = r->resp_len - r->resp_off;
		size_t n = left > REST_WRITE_CHUNK ? REST_WRITE_CHUNK : left;
		uint8_t buf[LWS_PRE + REST_WRITE_CHUNK];
		memcpy(buf + LWS_PRE, r->resp + r->resp_off, n);
		int last = n == left;
		if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    0)
			return -1;
		r->resp_off += n;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		return 0;
	}
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	r->phase = 0;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- parsing ------------------------------------------------------------------------- */

static int copy_id(char *dst, const char *src, size_t n)
{
	if (n == 0 || n > SOUK_WIRE_MAX_ID)
		return -1;
	char tmp[SOUK_WIRE_MAX_ID * 3 + 1];
	memcpy(tmp, src, n);
	tmp[n] = '\0';
	if (lws_urldecode(dst, tmp, STORE_ID_MAX) < 0)
		return -1;
	return souk_wire_utf8_valid(dst, strlen(dst)) && dst[0] ? 0 : -1;
}

/* Splits "/v1/a/b/c" into at most 5 segments. */
static int segments(const char *path, const char **seg, size_t *len, int max)
{
	int n = 0;
	const char *p = path;
	while (*p == '/')
		p++;
	while (*p && n < max) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		seg[n] = p;
		len[n] = l;
		n++;
		p += l;
		while (*p == '/')
			p++;
	}
	return *p ? -1 : n;
}

static int seg_is(const char *seg, size_t len, const char *lit)
{
	return strlen(lit) == len && memcmp(seg, lit, len) == 0;
}

static const char *query_arg(const http_req *r, const char *name, char *buf, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = r->query;
	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t l = amp ? (size_t)(amp - p) : strlen(p);
		if (l > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			size_t vl = l - nl - 1;
			if (vl >= cap)
				vl = cap - 1;
			char tmp[256];
			if (vl >= sizeof(tmp))
				vl = sizeof(tmp) - 1;
			memcpy(tmp, p + nl + 1, vl);
			tmp[vl] = '\0';
			if (lws_urldecode(buf, tmp, (int)cap) < 0)
				return NULL;
			return buf;
		}
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* Reads an unsigned integer query argument; -1 when present but not a number. */
static int query_u64(const http_req *r, const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
	char buf[32];
	*out = def;
	if (!query_arg(r, name, buf, sizeof(buf)))
		return 0;
	char *end;
	unsigned long long v = strtoull(buf, &end, 10);
	if (!buf[0] || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

typedef struct perr {
	char msg[512];
} perr;

static int bad(perr *e, const char *fmt, const char *arg)
{
	char copy[256];
	snprintf(copy, sizeof(copy), "%.255s", arg); /* arg may be e->msg itself */
	snprintf(e->msg, sizeof(e->msg), fmt, copy);
	return -1;
}

static int only_keys(json_t *o, const char *const *keys, perr *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		int ok = 0;
		for (const char *const *p = keys; *p && !ok; p++)
			ok = strcmp(*p, k) == 0;
		if (!ok)
			return bad(e, "%s is not a known field", k);
	}
	return 0;
}

static int json_str(json_t *o, const char *key, int required, char *dst, size_t cap,
		    const char *path, perr *e)
{
	json_t *v = json_object_get(o, key);
	char name[96];
	snprintf(name, sizeof(name), "%s%s", path, key);
	if (!v || json_is_null(v))
		return required ? bad(e, "%s is required", name) : 0;
	if (!json_is_string(v))
		return bad(e, "%s must be a string", name);
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	if (n >= cap)
		return bad(e, "%s is too long", name);
	if (required && n == 0)
		return bad(e, "%s must not be empty", name);
	memcpy(dst, s, n + 1);
	return 0;
}

static int parse_sender(json_t *body, rest_call *c, perr *e)
{
	json_t *s = json_object_get(body, "sender");
	if (!json_is_object(s))
		return bad(e, "%s must be an object with id, kind (agent|bot), name", "sender");
	static const char *const keys[] = {"id", "kind", "name", "avatar_url", NULL};
	if (only_keys(s, keys, e))
		return bad(e, "sender: %s", e->msg);
	char kind[16] = "agent";
	if (json_str(s, "id", 1, c->sender_id, sizeof(c->sender_id), "sender.", e) ||
	    json_str(s, "kind", 0, kind, sizeof(kind), "sender.", e) ||
	    json_str(s, "name", 0, c->sender_name, sizeof(c->sender_name), "sender.", e) ||
	    json_str(s, "avatar_url", 0, c->sender_avatar_url, sizeof(c->sender_avatar_url),
		     "sender.", e))
		return -1;
	c->sender_kind = payload_sender_kind_parse(kind);
	if (c->sender_kind != SOUK__V1__SENDER_KIND__SENDER_AGENT &&
	    c->sender_kind != SOUK__V1__SENDER_KIND__SENDER_BOT)
		return bad(e, "sender.kind must be \"agent\" or \"bot\", not \"%s\"", kind);
	if (!souk_wire_utf8_valid(c->sender_id, strlen(c->sender_id)))
		return bad(e, "%s is not valid UTF-8", "sender.id");
	return 0;
}

static json_t *parse_body(http_req *r, perr *e)
{
	if (!r->body_len) {
		bad(e, "%s", "a JSON object body is required");
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(e->msg, sizeof(e->msg), "malformed JSON at line %d column %d: %s", je.line,
			 je.column, je.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		bad(e, "%s", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static int push_str(json_t *o, const char *key, size_t max, char **dst, perr *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	char name[64];
	snprintf(name, sizeof(name), "push.%s", key);
	if (!json_is_string(v))
		return bad(e, "%s must be a string", name);
	const char *s = json_string_value(v);
	if (strlen(s) > max || !souk_wire_utf8_valid(s, strlen(s)))
		return bad(e, "%s is too long or not UTF-8", name);
	*dst = strdup(s);
	return *dst ? 0 : bad(e, "%s", "out of memory");
}

static int parse_push(json_t *body, rest_call *c, perr *e)
{
	json_t *ids = json_object_get(body, "user_ids");
	if (!json_is_array(ids) || json_array_size(ids) == 0)
		return bad(e, "%s must be a non-empty array of user ids", "user_ids");
	size_t n = json_array_size(ids);
	if (n > REST_MAX_PUSH_USERS)
		return bad(e, "%s has more than 100000 entries", "user_ids");
	c->user_ids = calloc(n, sizeof(*c->user_ids));
	if (!c->user_ids)
		return bad(e, "%s", "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		size_t l = s ? strlen(s) : 0;
		if (!l || l > SOUK_WIRE_MAX_ID || !souk_wire_utf8_valid(s, l))
			return bad(e, "%s must hold strings of 1..128 bytes of UTF-8", "user_ids");
		if (!(c->user_ids[i] = strdup(s)))
			return bad(e, "%s", "out of memory");
		c->n_user_ids = i + 1;
	}
	json_t *p = json_object_get(body, "push");
	static const char *const keys[] = {"title",	"body",	   "image_url",
					   "deep_link", "product", NULL};
	if (!json_is_object(p))
		return bad(e, "%s must be an object with title and/or body", "push");
	if (only_keys(p, keys, e))
		return bad(e, "push: %s", e->msg);
	c->push = malloc(sizeof(*c->push));
	if (!c->push)
		return bad(e, "%s", "out of memory");
	souk__v1__in_app_push__init(c->push);
	if (push_str(p, "title", 256, &c->push->title, e) ||
	    push_str(p, "body", 4096, &c->push->body, e) ||
	    push_str(p, "image_url", SOUK_WIRE_MAX_URL, &c->push->image_url, e) ||
	    push_str(p, "deep_link", SOUK_WIRE_MAX_URL, &c->push->deep_link, e))
		return -1;
	json_t *prod = json_object_get(p, "product");
	if (prod && !json_is_null(prod) &&
	    !(c->push->product =
		      payload_product_from_json(prod, "push.product", e->msg, sizeof(e->msg))))
		return -1;
	if (!c->push->title[0] && !c->push->body[0])
		return bad(e, "%s needs a title or a body", "push");
	return 0;
}

/* Builds the rest_call for a request; returns 0, or an HTTP status with r answered. */
static int route(gateway *gw, http_req *r, rest_call *c)
{
	const char *seg[6];
	size_t len[6];
	int n = segments(r->path, seg, len, 6);
	const char *m = r->method;
	int get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0,
	    patch = strcmp(m, "PATCH") == 0, del = strcmp(m, "DELETE") == 0;
	perr e = {{0}};
	json_t *body = NULL;
	uint64_t v;
	if (n < 2 || !seg_is(seg[0], len[0], "v1"))
		goto not_found;

	if (n == 2 && seg_is(seg[1], len[1], "app")) {
		if (get) {
			c->kind = REST_GET_APP;
			return 0;
		}
		if (!patch)
			goto not_allowed;
		if (!(body = parse_body(r, &e)))
			goto bad_request;
		static const char *const keys[] = {"default_integration", NULL};
		if (only_keys(body, keys, &e) ||
		    json_str(body, "default_integration", 1, c->integration, sizeof(c->integration),
			     "", &e))
			goto bad_request;
		c->kind = REST_UPDATE_APP;
		goto ok;
	}
	if (seg_is(seg[1], len[1], "conversations")) {
		if (n == 2) {
			if (!get)
				goto not_allowed;
			c->kind = REST_LIST_CONVERSATIONS;
			char st[32];
			if (query_arg(r, "status", st, sizeof(st))) {
				if (payload_status_parse(st) < 0)
					return respond_error(
						       r, 400, "bad_request",
						       "status must be open, pending or resolved"),
					       400;
				snprintf(c->filter, sizeof(c->filter), "%s", st);
			}
			if (query_u64(r, "after", 0, INT64_MAX, &c->after) ||
			    query_u64(r, "limit", 50, 200, &v))
				return respond_error(
					       r, 400, "bad_request",
					       "after and limit must be numbers (limit <= 200)"),
				       400;
			c->limit = (uint32_t)(v ? v : 50);
			return 0;
		}
		if (copy_id(c->conversation_id, seg[2], len[2]))
			goto not_found;
		if (n == 3) {
			if (get) {
				c->kind = REST_GET_CONVERSATION;
				return 0;
			}
			if (!patch)
				goto not_allowed;
			if (!(body = parse_body(r, &e)))
				goto bad_request;
			static const char *const keys[] = {"status", "assignee", NULL};
			char status[32] = "";
			if (only_keys(body, keys, &e) ||
			    json_str(body, "status", 0, status, sizeof(status), "", &e))
				goto bad_request;
			c->status = -1;
			if (status[0] && (c->status = payload_status_parse(status)) < 0) {
				bad(&e, "status must be open, pending or resolved, not \"%s\"",
				    status);
				goto bad_request;
			}
			json_t *a = json_object_get(body, "assignee");
			if (a) {
				if (!json_is_string(a) && !json_is_null(a)) {
					bad(&e, "%s must be a string or null", "assignee");
					goto bad_request;
				}
				c->has_assignee = 1;
				if (json_is_string(a) && json_str(body, "assignee", 0, c->assignee,
								  sizeof(c->assignee), "", &e))
					goto bad_request;
			}
			c->kind = REST_UPDATE_CONVERSATION;
			goto ok;
		}
		if (n != 4)
			goto not_found;
		if (seg_is(seg[3], len[3], "messages")) {
			if (get) {
				c->kind = REST_LIST_MESSAGES;
				if (query_u64(r, "after", 0, INT64_MAX, &c->after) ||
				    query_u64(r, "limit", 50, 200, &v))
					return respond_error(
						       r, 400, "bad_request",
						       "after and limit must be numbers (limit "
						       "<= 200)"),
					       400;
				c->limit = (uint32_t)(v ? v : 50);
				return 0;
			}
			if (!post)
				goto not_allowed;
			if (!(body = parse_body(r, &e)))
				goto bad_request;
			static const char *const keys[] = {"sender", "content", NULL};
			if (only_keys(body, keys, &e) || parse_sender(body, c, &e))
				goto bad_request;
			json_t *content = json_object_get(body, "content");
			if (!content) {
				bad(&e, "%s is required", "content");
				goto bad_request;
			}
			c->content = payload_content_from_json(
				content, (size_t)gw->cfg.max_message_bytes, e.msg, sizeof(e.msg));
			if (!c->content)
				goto bad_request;
			snprintf(c->idempotency_key, sizeof(c->idempotency_key), "%s",
				 r->idempotency_key);
			c->kind = REST_POST_MESSAGE;
			goto ok;
		}
		if (!post)
			goto not_allowed_or_404;
		if (seg_is(seg[3], len[3], "typing")) {
			if (!(body = parse_body(r, &e)))
				goto bad_request;
			static const char *const keys[] = {"sender", "on", NULL};
			json_t *on = json_object_get(body, "on");
			if (only_keys(body, keys, &e) || parse_sender(body, c, &e))
				goto bad_request;
			if (!json_is_boolean(on)) {
				bad(&e, "%s must be true or false", "on");
				goto bad_request;
			}
			c->on = json_is_true(on);
			c->kind = REST_TYPING;
			goto ok;
		}
		if (seg_is(seg[3], len[3], "read")) {
			if (!(body = parse_body(r, &e)))
				goto bad_request;
			static const char *const keys[] = {"sender", "up_to_conv_seq", NULL};
			json_t *up = json_object_get(body, "up_to_conv_seq");
			if (only_keys(body, keys, &e) || parse_sender(body, c, &e))
				goto bad_request;
			if (!json_is_integer(up) || json_integer_value(up) < 0) {
				bad(&e, "%s must be a non-negative integer", "up_to_conv_seq");
				goto bad_request;
			}
			c->up_to = (uint64_t)json_integer_value(up);
			c->kind = REST_MARK_READ;
			goto ok;
		}
		if (seg_is(seg[3], len[3], "handoff")) {
			if (!(body = parse_body(r, &e)))
				goto bad_request;
			static const char *const keys[] = {"to", "reason", NULL};
			if (only_keys(body, keys, &e) ||
			    json_str(body, "to", 1, c->to_integration, sizeof(c->to_integration),
				     "", &e) ||
			    json_str(body, "reason", 0, c->reason, sizeof(c->reason), "", &e))
				goto bad_request;
			c->kind = REST_HANDOFF;
			goto ok;
		}
		goto not_found;
	}
	if (n == 4 && seg_is(seg[1], len[1], "users") && seg_is(seg[3], len[3], "context")) {
		if (!get)
			goto not_allowed;
		if (copy_id(c->user_id, seg[2], len[2]))
			goto not_found;
		c->kind = REST_GET_USER_CONTEXT;
		return 0;
	}
	if (seg_is(seg[1], len[1], "webhooks")) {
		if (n == 2 && get) {
			c->kind = REST_LIST_WEBHOOKS;
			return 0;
		}
		if (n == 2 && post) {
			if (!(body = parse_body(r, &e)))
				goto bad_request;
			static const char *const keys[] = {"url", "integration", "events", NULL};
			snprintf(c->integration, sizeof(c->integration), "desk");
			if (only_keys(body, keys, &e) ||
			    json_str(body, "url", 1, c->url, sizeof(c->url), "", &e) ||
			    json_str(body, "integration", 0, c->integration, sizeof(c->integration),
				     "", &e))
				goto bad_request;
			if (strncmp(c->url, "http://", 7) != 0 &&
			    strncmp(c->url, "https://", 8) != 0) {
				bad(&e, "%s must start with http:// or https://", "url");
				goto bad_request;
			}
			json_t *ev = json_object_get(body, "events");
			snprintf(c->events, sizeof(c->events), "*");
			if (ev && !json_is_null(ev)) {
				static const char *const known[] = {"conversation.created",
								    "message.created",
								    "conversation.read",
								    "context.updated",
								    "csat.answered",
								    "conversation.handoff",
								    "*",
								    NULL};
				if (!json_is_array(ev) || json_array_size(ev) == 0) {
					bad(&e, "%s must be a non-empty array of event types",
					    "events");
					goto bad_request;
				}
				c->events[0] = '\0';
				size_t i;
				json_t *t;
				json_array_foreach(ev, i, t)
				{
					int ok = 0;
					for (const char *const *k = known; *k && !ok; k++)
						ok = json_is_string(t) &&
						     strcmp(*k, json_string_value(t)) == 0;
					if (!ok) {
						bad(&e, "events[%s] is not a known event type",
						    json_is_string(t) ? json_string_value(t) : "?");
						goto bad_request;
					}
					size_t l = strlen(c->events);
					snprintf(c->events + l, sizeof(c->events) - l, "%s%s",
						 l ? "," : "", json_string_value(t));
				}
			}
			c->kind = REST_CREATE_WEBHOOK;
			goto ok;
		}
		if (n >= 3 && copy_id(c->target_id, seg[2], len[2]))
			goto not_found;
		if (n == 3 && del) {
			c->kind = REST_DELETE_WEBHOOK;
			return 0;
		}
		if (n == 4 && post && seg_is(seg[3], len[3], "rotate-secret")) {
			c->kind = REST_ROTATE_WEBHOOK_SECRET;
			return 0;
		}
		goto not_allowed_or_404;
	}
	if (n == 2 && seg_is(seg[1], len[1], "push")) {
		if (!post)
			goto not_allowed;
		if (!(body = parse_body(r, &e)))
			goto bad_request;
		static const char *const keys[] = {"user_ids", "push", NULL};
		if (only_keys(body, keys, &e) || parse_push(body, c, &e))
			goto bad_request;
		c->kind = REST_PUSH;
		goto ok;
	}
	if (n == 2 && seg_is(seg[1], len[1], "webhook-deliveries")) {
		if (!get)
			goto not_allowed;
		char st[32] = "";
		if (query_arg(r, "state", st, sizeof(st)) && strcmp(st, "pending") != 0 &&
		    strcmp(st, "delivered") != 0 && strcmp(st, "failed") != 0)
			return respond_error(r, 400, "bad_request",
					     "state must be pending, delivered or failed"),
			       400;
		snprintf(c->filter, sizeof(c->filter), "%s", st);
		if (query_u64(r, "after", 0, INT64_MAX, &c->after) ||
		    query_u64(r, "limit", 50, 200, &v))
			return respond_error(r, 400, "bad_request",
					     "after and limit must be numbers (limit <= 200)"),
			       400;
		c->limit = (uint32_t)(v ? v : 50);
		c->kind = REST_LIST_DELIVERIES;
		return 0;
	}
not_found:
	json_decref(body);
	respond_error(r, 404, "not_found", "no such endpoint");
	return 404;
not_allowed_or_404:
not_allowed:
	json_decref(body);
	respond_error(r, 405, "method_not_allowed", "this method is not allowed here");
	return 405;
bad_request:
	json_decref(body);
	respond_error(r, 400, "bad_request", e.msg[0] ? e.msg : "invalid request");
	return 400;
ok:
	json_decref(body);
	return 0;
}

/* ---- dispatch ---------------------------------------------------------------------- */

static void pending_add(gateway *gw, http_req *r)
{
	r->id = ++gw->next_conn_id; /* shares the id space with WebSocket connections */
	r->next = gw->rest.pending;
	gw->rest.pending = r;
	gw->rest.n_pending++;
}

static http_req *pending_take(gateway *gw, uint64_t id)
{
	for (http_req **pp = &gw->rest.pending; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			http_req *r = *pp;
			*pp = r->next;
			r->next = NULL;
			r->id = 0;
			gw->rest.n_pending--;
			return r;
		}
	}
	return NULL;
}

static void submit(gateway *gw, http_req *r, rest_call *c)
{
	gc_op *op = gw_op_new(gw, GC_REST);
	if (!op) {
		rest_call_free(c);
		respond_error(r, 500, "internal", "out of memory");
		return;
	}
	c->now_ms = souk_now_ms();
	op->rest = c;
	pending_add(gw, r);
	op->conn_id = r->id;
	gc_submit(gw->gc, op);
}

static api_key_cache *key_lookup(gateway *gw, const char *hash)
{
	for (api_key_cache *k = gw->rest.keys; k; k = k->next)
		if (strcmp(k->hash, hash) == 0 && souk_mono_us() - k->loaded_us < API_KEY_TTL_US)
			return k;
	return NULL;
}

static void handle(gateway *gw, http_req *r)
{
	if (r->body_too_large) {
		respond_error(r, 413, "payload_too_large", "request bodies are limited to 256 KiB");
		return;
	}
	if (gw->shutting_down) {
		respond_error(r, 503, "shutting_down", "the server is stopping; retry shortly");
		return;
	}
	if (r->idempotency_key_too_long) {
		respond_error(r, 400, "bad_request", "Idempotency-Key is limited to 255 bytes");
		return;
	}
	if (!r->key_hash[0]) {
		respond_error(r, 401, "unauthorized",
			      "missing API key: send Authorization: Bearer <api_key>");
		return;
	}
	if (gw->rest.n_pending >= REST_MAX_PENDING) {
		respond_error(r, 503, "overloaded", "too many requests in flight; retry shortly");
		return;
	}
	rest_call *c = calloc(1, sizeof(*c));
	if (!c) {
		respond_error(r, 500, "internal", "out of memory");
		return;
	}
	c->status = -1;
	if (route(gw, r, c) != 0) {
		rest_call_free(c);
		return;
	}
	api_key_cache *k = key_lookup(gw, r->key_hash);
	if (k) {
		snprintf(c->app_id, sizeof(c->app_id), "%s", k->app_id);
		submit(gw, r, c);
		return;
	}
	/* authenticate first, then run the parsed call */
	r->call = c;
	rest_call *a = calloc(1, sizeof(*a));
	if (!a) {
		respond_error(r, 500, "internal", "out of memory");
		return;
	}
	a->kind = REST_AUTH;
	snprintf(a->key_hash, sizeof(a->key_hash), "%s", r->key_hash);
	submit(gw, r, a);
}

void rest_handle_request(gateway *gw, http_req *r)
{
	if (strcmp(r->path, "/healthz") == 0) {
		const char *b = gw->shutting_down ? "shutting down\n" : "ok\n";
		char *body = strdup(b);
		respond(r, gw->shutting_down ? 503 : 200, body, body ? strlen(body) : 0);
		return;
	}
	if (strcmp(r->path, "/metrics") == 0) {
		size_t cap = 16384;
		char *body = malloc(cap);
		if (!body) {
			respond(r, 500, NULL, 0);
			return;
		}
		respond(r, 200, body, metrics_render(body, cap));
		return;
	}
	if (strncmp(r->path, "/v1/", 4) != 0) {
		respond_error(r, 404, "not_found", "no such endpoint");
		return;
	}
	handle(gw, r);
}

void rest_complete(gateway *gw, gc_op *op)
{
	rest_call *c = op->rest;
	if (op->status == 0)
		gw_deliver(gw, c->app_id, &op->appends);
	if (op->status == 0 && REST_IS_WRITE(c->kind))
		webhooks_poke(gw);
	if (op->status == 0 && c->kind == REST_TYPING && c->http_status == 204)
		gw_relay_typing(gw, c->app_id, c->sender_id, &c->conv, c->on);
	http_req *r = pending_take(gw, op->conn_id);
	if (!r)
		return; /* the client went away; the call's effects stand */
	if (op->status != 0) {
		respond_error(r, 503, "storage_unavailable",
			      "the store failed; nothing was changed, retry");
		rest_call_free(r->call);
		r->call = NULL;
		return;
	}
	if (c->kind == REST_AUTH) {
		rest_call *call = r->call;
		r->call = NULL;
		if (c->http_status != 200) {
			rest_call_free(call);
			respond_error(r, 401, "unauthorized", "unknown API key");
			return;
		}
		api_key_cache *k = calloc(1, sizeof(*k));
		if (k) {
			snprintf(k->hash, sizeof(k->hash), "%s", c->key_hash);
			snprintf(k->app_id, sizeof(k->app_id), "%s", c->app_id);
			k->loaded_us = souk_mono_us();
			k->next = gw->rest.keys;
			gw->rest.keys = k;
		}
		snprintf(call->app_id, sizeof(call->app_id), "%s", c->app_id);
		submit(gw, r, call);
		return;
	}
	json_t *body = c->body;
	c->body = NULL;
	respond_json(r, c->http_status ? c->http_status : 500, body);
}

void rest_free_all(gateway *gw)
{
	while (gw->rest.keys) {
		api_key_cache *k = gw->rest.keys;
		gw->rest.keys = k->next;
		free(k);
	}
}

/* ---- the lws HTTP callback ----------------------------------------------------------- */

static const struct {
	enum lws_token_indexes tok;
	const char *name;
} METHODS[] = {{WSI_TOKEN_GET_URI, "GET"},	 {WSI_TOKEN_POST_URI, "POST"},
	       {WSI_TOKEN_PATCH_URI, "PATCH"},	 {WSI_TOKEN_PUT_URI, "PUT"},
	       {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_OPTIONS_URI, "OPTIONS"}};

static void read_headers(struct lws *wsi, http_req *r, const char *uri)
{
	for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++)
		if (lws_hdr_total_length(wsi, METHODS[i].tok) > 0)
			snprintf(r->method, sizeof(r->method), "%s", METHODS[i].name);
	snprintf(r->path, sizeof(r->path), "%s", uri);
	/* the raw query string: lws keeps its fragments as URI args */
	r->query[0] = '\0';
	char frag[256];
	for (int i = 0;
	     lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
		size_t l = strlen(r->query);
		snprintf(r->query + l, sizeof(r->query) - l, "%s%s", l ? "&" : "", frag);
	}
	char auth[512];
	r->key_hash[0] = '\0';
	if (lws_hdr_copy(wsi, auth, sizeof(auth), WSI_TOKEN_HTTP_AUTHORIZATION) > 7 &&
	    strncmp(auth, "Bearer ", 7) == 0)
		souk_sha256_hex(auth + 7, strlen(auth + 7), r->key_hash);
	r->idempotency_key[0] = '\0';
	r->idempotency_key_too_long = lws_hdr_custom_length(wsi, "idempotency-key:", 16) >=
				      (int)sizeof(r->idempotency_key);
	int n = lws_hdr_custom_copy(wsi, r->idempotency_key, sizeof(r->idempotency_key),
				    "idempotency-key:", 16);
	if (n < 0)
		r->idempotency_key[0] = '\0';
}

int rest_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	http_req *r = user;
	gateway *gw = lws_context_user(lws_get_context(wsi));
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return 1; /* a WebSocket upgrade without the souk.v1 subprotocol */
	case LWS_CALLBACK_HTTP: {
		const char *uri = in;
		if (r->wsi) { /* keep-alive: the previous request's leftovers */
			if (r->id)
				pending_take(gw, r->id);
			free(r->body);
			free(r->resp);
			rest_call_free(r->call);
		}
		memset(r, 0, sizeof(*r));
		r->wsi = wsi;
		read_headers(wsi, r, uri);
		if (strncmp(r->path, "/v1/", 4) == 0 &&
		    (!strcmp(r->method, "POST") || !strcmp(r->method, "PATCH") ||
		     !strcmp(r->method, "PUT")))
			return 0; /* wait for the body */
		rest_handle_request(gw, r);
		return 0;
	}
	case LWS_CALLBACK_HTTP_BODY:
		if (r->body_too_large || !len || !in)
			return 0;
		if (r->body_len + len > rest_max_body(r->path)) {
			r->body_too_large = 1;
			free(r->body);
			r->body = NULL;
			r->body_len = 0;
			return 0;
		}
		{
			char *nb = realloc(r->body, r->body_len + len + 1);
			if (!nb)
				return -1;
			r->body = nb;
			memcpy(r->body + r->body_len, in, len);
			r->body_len += len;
			r->body[r->body_len] = '\0';
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		rest_handle_request(gw, r);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_response(wsi, r);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (r && r->wsi) {
			if (r->id)
				pending_take(gw, r->id);
			free(r->body);
			free(r->resp);
			rest_call_free(r->call);
			memset(r, 0, sizeof(*r));
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
