/*
 * fuzz_rest — soukd's REST API beyond the JSON parsers: rest_handle_request()
 * (server/src/rest.c: /healthz, /metrics, routing of /v1/..., method, path segments,
 * query arguments, the Bearer API key and its authentication through the store, the
 * Idempotency-Key, the body) into the real store (store_sqlite_agent.c) through the real
 * storage thread and completion (rest_complete()), with two seeded apps, each with two
 * support conversations (server_fixture.h). The harness fills in the http_req the lws
 * callback would (read_headers() and the body callbacks are lws glue).
 *
 * Input: a sequence of requests, each
 *   flags   bits 0-2 API key (app 0, app 1, none, unknown, app 0's key with a typo),
 *           bit 3 an Idempotency-Key follows, bit 4 the body was too large (as the body
 *           callback marks it), bit 5 an over-long Idempotency-Key
 *   method  index into GET POST PATCH PUT DELETE OPTIONS
 *   path    u8 length + bytes; "$A0" "$A1" "$B0" "$B1" become the conversations of app
 *           0 / app 1, "$W" the last webhook id a response named, "$U" shopper-0
 *   query   u8 length + bytes
 *   [key]   u8 length + bytes (Idempotency-Key)
 *   body    u16 length + bytes ($-names substituted as in the path)
 *
 * Properties:
 *   - every request is answered once settled, with a status of docs/rest-api.md (200,
 *     201, 202, 204, 400, 401, 404, 405, 409, 413, 503; /healthz and /metrics 200);
 *   - 204 has no body; every other /v1/ body is a JSON object; an error status carries
 *     exactly {"error": {"code", "message"}} with the code the table gives that status;
 *   - without a valid API key nothing succeeds (no 2xx);
 *   - app X's key never sees the other app's identifiers (app id, conversation ids,
 *     webhook ids) in a response unless its request carried them (an error may quote), never gets a
 * 2xx on a path naming the other app's conversation, and never appends events to the other app's
 * users' streams;
 *   - the same Idempotency-Key (same app and sender id: the key is the message's
 *     client_msg_id, unique per sender) replays the first answer: 200, "duplicate":
 *     true, the same message id, and no new event;
 *   - at the end every user's stream is dense.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz_util.h"
#include "server_fixture.h"
#include "util.h"

enum { MAX_REQUESTS = 64, MAX_IDEM = 64, MAX_WEBHOOKS = 16 };

static const char *const METHODS[] = {"GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"};

typedef struct idem {
	int app;
	char conv[STORE_ID_MAX];
	char key[256];
	char sender[STORE_ID_MAX];
	char message_id[STORE_ID_MAX];
} idem;

static struct run {
	gateway *gw;
	char webhooks[FX_APPS][MAX_WEBHOOKS][STORE_ID_MAX];
	size_t n_webhooks[FX_APPS];
	char last_webhook[STORE_ID_MAX];
	idem idems[MAX_IDEM];
	size_t n_idems;
} R;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fx_init();
	return 0;
}

/* Reads u8/u16-length-prefixed bytes and substitutes the $-names; malloc'ed, NUL-ended. */
static char *take(fuzz_reader *r, int wide, size_t *out_len)
{
	size_t n = wide ? fuzz_u16(r) : fuzz_u8(r);
	if (n > r->n)
		n = r->n;
	const char *src = (const char *)r->p;
	r->p += n;
	r->n -= n;
	size_t cap = n * (STORE_ID_MAX / 2) + 1; /* every "$A0" may become an id */
	char *out = malloc(cap);
	FUZZ_CHECK(out != NULL, "out of memory");
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		const char *rep = NULL;
		size_t used = 1;
		if (src[i] == '$' && i + 1 < n) {
			char c = src[i + 1];
			if ((c == 'A' || c == 'B') && i + 2 < n &&
			    (src[i + 2] == '0' || src[i + 2] == '1')) {
				rep = fx_apps[c - 'A'].convs[src[i + 2] - '0'];
				used = 3;
			} else if (c == 'W') {
				rep = R.last_webhook[0] ? R.last_webhook : "wh_none";
				used = 2;
			} else if (c == 'U') {
				rep = "shopper-0";
				used = 2;
			}
		}
		if (rep) {
			size_t l = strlen(rep);
			memcpy(out + o, rep, l);
			o += l;
		} else {
			out[o++] = src[i];
		}
		i += used;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

static int status_documented(int st)
{
	static const int ok[] = {200, 201, 202, 204, 400, 401, 404, 405, 409, 413, 503};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (ok[i] == st)
			return 1;
	return 0;
}

static int code_for(int st, const char *code)
{
	switch (st) {
	case 400:
		return !strcmp(code, "bad_request");
	case 401:
		return !strcmp(code, "unauthorized");
	case 404:
		return !strcmp(code, "conversation_not_found") ||
		       !strcmp(code, "webhook_not_found") || !strcmp(code, "user_not_found") ||
		       !strcmp(code, "not_found");
	case 405:
		return !strcmp(code, "method_not_allowed");
	case 409:
		return !strcmp(code, "refused") || !strcmp(code, "idempotency_key_reused");
	case 413:
		return !strcmp(code, "payload_too_large");
	case 503:
		return !strcmp(code, "storage_unavailable") || !strcmp(code, "shutting_down") ||
		       !strcmp(code, "overloaded");
	default:
		return 0;
	}
}

static void heads(int app, uint64_t out[FX_USERS])
{
	for (int u = 0; u < FX_USERS; u++) {
		char user[32];
		snprintf(user, sizeof(user), "shopper-%d", u);
		store_events e;
		FUZZ_CHECK(fx_read_events(R.gw, fx_apps[app].app_id, user, INT64_MAX, 1, &e) == 0,
			   "reading a head");
		out[u] = e.head_seq;
		store_events_free(&e);
	}
}

/* Identifiers of the other app that this app's key must never see — unless the request
 * itself carried them (an error message may quote the offending value). */
static int foreign(const char *resp, const char *id, const http_req *q)
{
	if (!strstr(resp, id))
		return 0;
	return !strstr(q->path, id) && !strstr(q->query, id) && !(q->body && strstr(q->body, id)) &&
	       !strstr(q->idempotency_key, id);
}

static void check_no_foreign_ids(int key_app, const char *resp, const http_req *q)
{
	int other = (key_app + 1) % FX_APPS;
	FUZZ_CHECK(!foreign(resp, fx_apps[other].app_id, q),
		   "a response never names the other app");
	for (int k = 0; k < FX_CONVS; k++)
		FUZZ_CHECK(!foreign(resp, fx_apps[other].convs[k], q),
			   "a response never names the other app's conversations");
	for (size_t i = 0; i < R.n_webhooks[other]; i++)
		FUZZ_CHECK(!foreign(resp, R.webhooks[other][i], q),
			   "a response never names the other app's webhooks");
}

static void learn_webhook(int app, json_t *j)
{
	json_t *id = json_object_get(json_object_get(j, "webhook"), "id");
	if (!json_is_string(id))
		return;
	snprintf(R.last_webhook, sizeof(R.last_webhook), "%s", json_string_value(id));
	if (app >= 0 && R.n_webhooks[app] < MAX_WEBHOOKS)
		snprintf(R.webhooks[app][R.n_webhooks[app]++], STORE_ID_MAX, "%s",
			 json_string_value(id));
}

/* POST /v1/conversations/{id}/messages: the conversation segment, or NULL. */
static const char *message_post_conv(const char *method, const char *path, char *conv, size_t cap)
{
	if (strcmp(method, "POST") != 0 || strncmp(path, "/v1/conversations/", 18) != 0)
		return NULL;
	const char *p = path + 18, *slash = strchr(p, '/');
	if (!slash || strcmp(slash, "/messages") != 0 || (size_t)(slash - p) >= cap)
		return NULL;
	memcpy(conv, p, (size_t)(slash - p));
	conv[slash - p] = '\0';
	return conv;
}

static void check_idempotency(int app, const http_req *q, json_t *resp, const char *body,
			      size_t body_len, const uint64_t before[FX_USERS])
{
	char conv[STORE_ID_MAX];
	const char *ecode =
		json_string_value(json_object_get(json_object_get(resp, "error"), "code"));
	int reused = q->status == 409 && ecode && !strcmp(ecode, "idempotency_key_reused");
	if (app < 0 || !q->idempotency_key[0] || (q->status / 100 != 2 && !reused) ||
	    !message_post_conv(q->method, q->path, conv, sizeof(conv)))
		return;
	json_t *req = json_loadb(body, body_len, 0, NULL);
	json_t *sid = json_object_get(json_object_get(req, "sender"), "id");
	if (reused) {
		int other = 0;
		for (size_t i = 0; json_is_string(sid) && i < R.n_idems; i++)
			other |= R.idems[i].app == app &&
				 !strcmp(R.idems[i].key, q->idempotency_key) &&
				 !strcmp(R.idems[i].sender, json_string_value(sid)) &&
				 strcmp(R.idems[i].conv, conv) != 0;
		FUZZ_CHECK(other || R.n_idems == MAX_IDEM,
			   "idempotency_key_reused only for a key used in another conversation");
		uint64_t after[FX_USERS];
		heads(app, after);
		FUZZ_CHECK(memcmp(before, after, sizeof(after)) == 0,
			   "a refused reuse of an Idempotency-Key appends no event");
		json_decref(req);
		return;
	}
	json_t *mid = json_object_get(json_object_get(resp, "message"), "id");
	json_t *dup = json_object_get(resp, "duplicate");
	FUZZ_CHECK(json_is_string(sid), "an accepted message post names its sender");
	FUZZ_CHECK(json_is_string(mid) && json_is_boolean(dup),
		   "a message post answers {message: {id}, duplicate}");
	idem *found = NULL;
	for (size_t i = 0; i < R.n_idems; i++)
		if (R.idems[i].app == app && !strcmp(R.idems[i].key, q->idempotency_key) &&
		    !strcmp(R.idems[i].sender, json_string_value(sid)))
			found = &R.idems[i];
	if (found) {
		const char *rconv = json_string_value(
			json_object_get(json_object_get(resp, "message"), "conversation_id"));
		FUZZ_CHECK(q->status == 200 && json_is_true(dup) &&
				   !strcmp(json_string_value(mid), found->message_id),
			   "the same Idempotency-Key replays the first answer");
		FUZZ_CHECK(!strcmp(found->conv, conv) && rconv && !strcmp(rconv, conv),
			   "a replay names the conversation the message is in");
		uint64_t after[FX_USERS];
		heads(app, after);
		FUZZ_CHECK(memcmp(before, after, sizeof(after)) == 0,
			   "a replayed post appends no event");
	} else if (R.n_idems < MAX_IDEM) {
		FUZZ_CHECK(q->status == 201 && json_is_false(dup),
			   "a first post with a new Idempotency-Key is created");
		idem *d = &R.idems[R.n_idems++];
		d->app = app;
		snprintf(d->conv, sizeof(d->conv), "%s", conv);
		snprintf(d->key, sizeof(d->key), "%s", q->idempotency_key);
		snprintf(d->sender, sizeof(d->sender), "%s", json_string_value(sid));
		snprintf(d->message_id, sizeof(d->message_id), "%s", json_string_value(mid));
	}
	json_decref(req);
}

/* FUZZ_REST_STATS=1: counts of statuses, printed at exit (what a corpus reaches). */
static unsigned long stat_status[600];
static int stats_on = -1;

static void print_stats(void)
{
	for (int i = 0; i < 600; i++)
		if (stat_status[i])
			fprintf(stderr, "status %d %lu\n", i, stat_status[i]);
}

static void count(int st)
{
	if (stats_on < 0) {
		const char *e = getenv("FUZZ_REST_STATS");
		stats_on = e && e[0] == '1';
		if (stats_on)
			atexit(print_stats);
	}
	if (stats_on && st >= 0 && st < 600)
		stat_status[st]++;
}

static void one_request(fuzz_reader *r)
{
	uint8_t flags = fuzz_u8(r);
	const char *method = METHODS[fuzz_u8(r) % 6];
	size_t path_len, query_len, key_len = 0, body_len;
	char *path = take(r, 0, &path_len);
	char *query = take(r, 0, &query_len);
	char *key = (flags & 0x08) ? take(r, 0, &key_len) : NULL;
	char *body = take(r, 1, &body_len);

	http_req *q = calloc(1, sizeof(*q));
	FUZZ_CHECK(q != NULL, "out of memory");
	snprintf(q->method, sizeof(q->method), "%s", method);
	snprintf(q->path, sizeof(q->path), "%s", path);
	snprintf(q->query, sizeof(q->query), "%s", query);
	int key_app = -1;
	switch (flags & 7) {
	case 0:
	case 1:
		key_app = flags & 1;
		snprintf(q->key_hash, sizeof(q->key_hash), "%s", fx_apps[key_app].key_hash);
		break;
	case 2:
	case 5:
	case 6:
		break; /* no Authorization header */
	case 3:
		souk_sha256_hex("sk_no_such_key", 14, q->key_hash);
		break;
	default: {
		char typo[96];
		snprintf(typo, sizeof(typo), "%sx", fx_apps[0].api_key);
		souk_sha256_hex(typo, strlen(typo), q->key_hash);
	}
	}
	if (key)
		snprintf(q->idempotency_key, sizeof(q->idempotency_key), "%s", key);
	q->idempotency_key_too_long = (flags >> 5) & 1;
	q->body_too_large = (flags >> 4) & 1;
	if (!q->body_too_large && body_len) {
		q->body = body; /* as the body callback builds it: NUL-terminated */
		q->body_len = body_len;
		body = NULL;
	}

	/* every user's head: a request never changes another app's streams */
	uint64_t before[FX_APPS][FX_USERS];
	for (int a = 0; a < FX_APPS; a++)
		heads(a, before[a]);
	int other = key_app >= 0 ? (key_app + 1) % FX_APPS : 0;

	rest_handle_request(R.gw, q);
	fx_settle(R.gw);
	FUZZ_CHECK(q->phase == 1, "every request is answered once settled");
	FUZZ_CHECK(q->id == 0 && q->call == NULL, "nothing of an answered request is pending");

	int st = q->status;
	count(st);
	int v1 = strncmp(q->path, "/v1/", 4) == 0;
	if (!v1 && (!strcmp(q->path, "/healthz") || !strcmp(q->path, "/metrics"))) {
		FUZZ_CHECK(st == 200 && q->resp_len > 0, "/healthz and /metrics answer 200");
	} else {
		if (!status_documented(st))
			fprintf(stderr, "status %d for %s %s\n", st, q->method, q->path);
		FUZZ_CHECK(status_documented(st), "the status is one of docs/rest-api.md");
		if (st == 204) {
			FUZZ_CHECK(q->resp_len == 0, "204 has no body");
		} else {
			json_error_t jerr;
			json_t *j = q->resp ? json_loadb(q->resp, q->resp_len, 0, &jerr) : NULL;
			FUZZ_CHECK(json_is_object(j), "every response body is a JSON object");
			if (st >= 400) {
				json_t *e = json_object_get(j, "error");
				json_t *code = json_object_get(e, "code");
				json_t *msg = json_object_get(e, "message");
				FUZZ_CHECK(json_object_size(j) == 1 && json_object_size(e) == 2 &&
						   json_is_string(code) && json_is_string(msg) &&
						   json_string_length(msg) > 0,
					   "an error body is {\"error\": {\"code\", \"message\"}}");
				if (!code_for(st, json_string_value(code)))
					fprintf(stderr, "status %d with code %s\n", st,
						json_string_value(code));
				FUZZ_CHECK(code_for(st, json_string_value(code)),
					   "the error code is the one docs/rest-api.md gives the "
					   "status");
			} else {
				FUZZ_CHECK(key_app >= 0,
					   "without a valid API key nothing succeeds");
				learn_webhook(key_app, j);
				check_idempotency(key_app, q, j, q->body ? q->body : "",
						  q->body_len, before[key_app]);
			}
			json_decref(j);
		}
		if (key_app >= 0) {
			char *txt = malloc(q->resp_len + 1);
			FUZZ_CHECK(txt != NULL, "out of memory");
			if (q->resp_len)
				memcpy(txt, q->resp, q->resp_len);
			txt[q->resp_len] = '\0';
			check_no_foreign_ids(key_app, txt, q);
			free(txt);
			for (int k = 0; k < FX_CONVS; k++)
				if (strstr(q->path, fx_apps[other].convs[k]))
					FUZZ_CHECK(st / 100 != 2, "a key never succeeds on another "
								  "app's conversation");
		}
	}
	for (int a = 0; a < FX_APPS; a++) {
		if (a == key_app)
			continue;
		uint64_t after[FX_USERS];
		heads(a, after);
		FUZZ_CHECK(memcmp(before[a], after, sizeof(after)) == 0,
			   "a request never appends to another app's streams (nor without a key)");
	}

	free(q->resp);
	free(q->body);
	free(q);
	free(path);
	free(query);
	free(key);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader r = {data, size};
	memset(&R, 0, sizeof(R));
	R.gw = fx_gateway_new(NULL);
	for (int i = 0; r.n && i < MAX_REQUESTS; i++)
		one_request(&r);
	fx_settle(R.gw);
	for (int a = 0; a < FX_APPS; a++)
		for (int u = 0; u < FX_USERS; u++) {
			char user[32];
			snprintf(user, sizeof(user), "shopper-%d", u);
			store_events all;
			fx_read_all(R.gw, fx_apps[a].app_id, user, &all);
			store_events_free(&all);
		}
	fx_gateway_free(R.gw);
	memset(&R, 0, sizeof(R));
	return 0;
}
