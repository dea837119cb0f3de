/*
 * faq-bot — an agent backend for Souk: it receives soukd's webhooks, answers common
 * shopping questions from an editable knowledge base, and hands the conversation to the
 * human desk when it cannot answer or the shopper asks for a person.
 *
 *   faq-bot --soukd http://127.0.0.1:8080 --api-key sk_... --secret whsec_...
 *           [--secret whsec_previous | --secret-file FILE] [--listen 127.0.0.1:8090]
 *           [--port-file FILE] [--kb kb.json] [--integration bot] [--desk desk]
 *           [--register URL|auto]
 *
 * SIGTERM or SIGINT stops it; SIGHUP reloads the knowledge base and the secret file.
 *
 * Design. One thread, one libwebsockets loop: an HTTP server for the webhooks and an HTTP
 * client for the REST calls. A delivery is answered only after its REST calls are done:
 * 200 when they succeeded (or can never succeed), 503 when soukd should retry later. soukd
 * keeps the event durable and retries it, so the bot needs no store of its own: a crash
 * of the bot loses nothing, and the Idempotency-Key on each post (derived from the
 * webhook-id) makes the retry harmless. A small LRU of webhook ids spares the REST calls
 * for redeliveries seen recently.
 *
 * Every delivery is verified first (webhook_verify.c): signature by one of the configured
 * secrets (two during a rotation), timestamp within 5 minutes. Refusals are 401 with the
 * reason; a signed body that is not the JSON we expect is 400.
 */
#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dedup.h"
#include "kb.h"
#include "log.h"
#include "plan.h"
#include "rest_client.h"
#include "webhook_verify.h"

enum {
	MAX_SECRETS = 5,
	SECRET_MAX = 256,
	MAX_BODY = 1024 * 1024,
	MAX_JOBS = 256,
	DEDUP_CAPACITY = 4096,
	REST_TIMEOUT_S = 5,
	HDR_ID = FAQ_VERIFY_MAX_ID + 1,
	HDR_TS = 32,
	HDR_SIG = FAQ_VERIFY_MAX_SIGNATURES + 1
};

typedef struct job job;
typedef struct hook_req hook_req;

typedef struct bot {
	/* configuration */
	const char *soukd_url;
	const char *api_key;
	const char *fixed_secrets[2]; /* --secret or SOUK_WEBHOOK_SECRET */
	size_t n_fixed;
	const char *secret_file; /* --secret-file: re-read on SIGHUP */
	char file_secrets[2][SECRET_MAX];
	size_t n_file;
	char *registered_secret;	  /* --register */
	const char *secrets[MAX_SECRETS]; /* what deliveries are verified with: all the above */
	size_t n_secrets;
	const char *listen;
	const char *port_file;
	const char *kb_path;
	const char *integration;
	const char *desk;
	const char *register_url;
	size_t dedup_size;
	/* state */
	struct lws_context *ctx;
	struct lws_vhost *vh, *client_vh;
	int port;
	faq_kb *kb;
	faq_rest *rest;
	faq_dedup *seen;
	job *jobs;
	size_t n_jobs;
	int exit_code;
	int ready; /* registered (when asked) and the port file written */
	volatile sig_atomic_t stop;
	volatile sig_atomic_t reload; /* SIGHUP: read the kb file again */
	int stopping;
} bot;

/* One webhook delivery on the server side (per-connection user data of lws). */
struct hook_req {
	struct lws *wsi;
	int is_post;
	char id[HDR_ID], ts[HDR_TS], sig[HDR_SIG];
	const char *header_problem; /* a webhook-* header was too long */
	uint8_t *body;
	size_t body_len;
	int body_too_large;
	job *job;
	/* the response */
	int phase; /* 0 none, 1 headers due, 2 body due */
	int status;
	char *resp;
	size_t resp_len;
};

/* The REST calls answering one verified event. */
struct job {
	job *prev, *next;
	bot *b;
	hook_req *hook; /* NULL once the delivery's connection is gone */
	char webhook_id[HDR_ID];
	faq_plan plan;
	size_t step;
};

static bot *g_bot; /* for the signal handler only */

/* ---- responses to soukd ------------------------------------------------------------ */

static void respond(hook_req *r, int status, const char *key, const char *value)
{
	free(r->resp);
	json_t *j = json_pack("{s:s}", key, value);
	r->resp = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	r->resp_len = r->resp ? strlen(r->resp) : 0;
	r->status = status;
	r->phase = 1;
	lws_callback_on_writable(r->wsi);
}

static int write_response(struct lws *wsi, hook_req *r)
{
	if (r->phase == 1) {
		uint8_t hdr[LWS_PRE + 512];
		uint8_t *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
		if (lws_add_http_common_headers(wsi, (unsigned)r->status, "application/json",
						r->resp_len, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		r->phase = 2;
		if (r->resp_len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else if (r->phase == 2 && r->resp_len) {
		uint8_t *buf = malloc(LWS_PRE + r->resp_len);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, r->resp, r->resp_len);
		int n = lws_write(wsi, buf + LWS_PRE, r->resp_len, LWS_WRITE_HTTP_FINAL);
		free(buf);
		if (n < 0)
			return -1;
	} else {
		return 0;
	}
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	r->phase = 0;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- jobs: the REST calls of one event, one after the other ---------------------- */

enum outcome { DONE, GAVE_UP, RETRY_LATER };

static void job_finish(job *j, enum outcome how, const char *why)
{
	bot *b = j->b;
	faq_dedup_finish(b->seen, j->webhook_id, how != RETRY_LATER);
	if (how == RETRY_LATER)
		faq_log(FAQ_LOG_WARN, "webhook %s: %s; soukd will redeliver", j->webhook_id, why);
	else if (how == GAVE_UP)
		faq_log(FAQ_LOG_ERROR, "webhook %s: %s; giving up on this event", j->webhook_id,
			why);
	if (j->hook) {
		j->hook->job = NULL;
		if (!b->stopping) {
			if (how == RETRY_LATER)
				respond(j->hook, 503, "error", why);
			else
				respond(j->hook, 200, "status",
					how == DONE ? "answered" : "gave up");
		}
	}
	if (j->prev)
		j->prev->next = j->next;
	else
		b->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	b->n_jobs--;
	faq_plan_clear(&j->plan);
	free(j);
}

static void job_run(job *j);

/* The error code of soukd's error body, for the log (never its message). */
static void error_code(const char *body, size_t len, char *out, size_t cap)
{
	json_t *r = json_loadb(body, len, 0, NULL);
	json_t *c = json_object_get(json_object_get(r, "error"), "code");
	snprintf(out, cap, "%s", json_is_string(c) ? json_string_value(c) : "?");
	json_decref(r);
}

static void step_done(int status, const char *body, size_t len, const char *error, void *ud)
{
	job *j = ud;
	bot *b = j->b;
	faq_step *s = &j->plan.steps[j->step];
	char why[800];
	if (b->stopping) {
		job_finish(j, RETRY_LATER, "stopping");
		return;
	}
	if (status == 0) {
		snprintf(why, sizeof(why), "%s %s: %s", s->method, s->path, error);
		job_finish(j, RETRY_LATER, why);
		return;
	}
	if (status < 200 || status >= 300) {
		char code[64];
		error_code(body, len, code, sizeof(code));
		snprintf(why, sizeof(why), "%s %s: HTTP %d %s", s->method, s->path, status, code);
		/* A wrong API key, a rate limit or a server error may pass; any other refusal
		 * (the conversation is gone, soukd refuses our content) never will, and a
		 * retrying event would hold up the conversation's later events. */
		int transient = status == 401 || status == 408 || status == 429 || status >= 500;
		job_finish(j, transient ? RETRY_LATER : GAVE_UP, why);
		return;
	}
	if (s->kind == FAQ_STEP_CHECK_CONTROLLER) {
		json_t *r = json_loadb(body, len, 0, NULL);
		json_t *c = json_object_get(json_object_get(r, "conversation"), "controller");
		int ours = json_is_string(c) && strcmp(json_string_value(c), b->integration) == 0;
		if (!ours)
			faq_log(FAQ_LOG_INFO, "webhook %s %s %s: controlled by %s, not answering",
				j->webhook_id, j->plan.type, j->plan.conversation_id,
				json_is_string(c) ? json_string_value(c) : "?");
		json_decref(r);
		if (!ours) {
			job_finish(j, DONE, "");
			return;
		}
	} else if (s->kind == FAQ_STEP_POST_MESSAGE) {
		json_t *r = json_loadb(body, len, 0, NULL);
		const char *mid =
			json_string_value(json_object_get(json_object_get(r, "message"), "id"));
		faq_log(FAQ_LOG_DEBUG, "webhook %s: answer %s%s", j->webhook_id, mid ? mid : "?",
			json_is_true(json_object_get(r, "duplicate")) ? " (already posted)" : "");
		json_decref(r);
	} else if (s->kind == FAQ_STEP_HANDOFF) {
		faq_log(FAQ_LOG_INFO, "conversation %s handed to %s", j->plan.conversation_id,
			b->desk);
	}
	j->step++;
	job_run(j);
}

static void job_run(job *j)
{
	if (j->step >= j->plan.n_steps) {
		job_finish(j, DONE, "");
		return;
	}
	faq_step *s = &j->plan.steps[j->step];
	if (faq_rest_request(j->b->rest, s->method, s->path, s->body,
			     s->idem_key[0] ? s->idem_key : NULL, step_done, j)) {
		char why[800];
		snprintf(why, sizeof(why), "cannot connect to soukd for %s %s", s->method, s->path);
		job_finish(j, RETRY_LATER, why);
	}
}

/* ---- one delivery ------------------------------------------------------------------ */

static void handle_delivery(bot *b, hook_req *r)
{
	if (r->body_too_large) {
		respond(r, 413, "error", "body larger than 1 MiB");
		return;
	}
	if (r->header_problem) {
		faq_log(FAQ_LOG_WARN, "delivery refused: %s", r->header_problem);
		respond(r, 401, "error", r->header_problem);
		return;
	}
	const char *why = NULL;
	int rc = faq_webhook_verify(b->secrets, b->n_secrets, r->id[0] ? r->id : NULL,
				    r->ts[0] ? r->ts : NULL, r->sig[0] ? r->sig : NULL, r->body,
				    r->body_len, (int64_t)time(NULL), &why);
	if (rc != FAQ_VERIFY_OK) {
		/* the id is not trusted yet: log it only when it has a sane shape */
		faq_log(FAQ_LOG_WARN, "delivery refused: %s", why);
		respond(r, 401, "error", why);
		return;
	}
	json_error_t je;
	json_t *event = json_loadb((const char *)r->body, r->body_len, 0, &je);
	if (!event) {
		faq_log(FAQ_LOG_WARN, "webhook %s: malformed JSON", r->id);
		respond(r, 400, "error", "malformed JSON");
		return;
	}
	int seen = faq_dedup_begin(b->seen, r->id);
	if (seen == FAQ_DEDUP_DONE) {
		json_decref(event);
		faq_log(FAQ_LOG_INFO, "webhook %s: duplicate, already answered", r->id);
		respond(r, 200, "status", "duplicate");
		return;
	}
	if (seen == FAQ_DEDUP_IN_PROGRESS || seen < 0) {
		json_decref(event);
		respond(r, 503, "error",
			seen < 0 ? "out of memory" : "being answered; retry later");
		return;
	}
	if (b->n_jobs >= MAX_JOBS) {
		json_decref(event);
		faq_dedup_finish(b->seen, r->id, 0);
		respond(r, 503, "error", "busy; retry later");
		return;
	}
	job *j = calloc(1, sizeof(*j));
	faq_plan_config cfg = {b->kb, b->integration, b->desk};
	if (!j) {
		json_decref(event);
		faq_dedup_finish(b->seen, r->id, 0);
		respond(r, 503, "error", "out of memory");
		return;
	}
	rc = faq_plan_make(&j->plan, &cfg, r->id, event, &why);
	json_decref(event);
	if (rc) {
		faq_log(FAQ_LOG_WARN, "webhook %s: %s", r->id, why);
		faq_dedup_finish(b->seen, r->id, 0);
		free(j);
		respond(r, 400, "error", why);
		return;
	}
	if (j->plan.n_steps == 0) {
		faq_log(FAQ_LOG_DEBUG, "webhook %s %s: nothing to do", r->id, j->plan.type);
		faq_dedup_finish(b->seen, r->id, 1);
		free(j);
		respond(r, 200, "status", "ignored");
		return;
	}
	faq_log(FAQ_LOG_INFO, "webhook %s %s %s: intent %s", r->id, j->plan.type,
		j->plan.conversation_id, j->plan.intent);
	j->b = b;
	j->hook = r;
	r->job = j;
	snprintf(j->webhook_id, sizeof(j->webhook_id), "%s", r->id);
	j->next = b->jobs;
	if (b->jobs)
		b->jobs->prev = j;
	b->jobs = j;
	b->n_jobs++;
	job_run(j);
}

/* ---- the webhook HTTP server ------------------------------------------------------- */

static void read_header(struct lws *wsi, hook_req *r, const char *name, char *dst, int cap)
{
	dst[0] = '\0';
	int n = lws_hdr_custom_length(wsi, name, (int)strlen(name));
	if (n <= 0)
		return;
	if (n >= cap) {
		r->header_problem = "a webhook-* header is too long";
		return;
	}
	if (lws_hdr_custom_copy(wsi, dst, cap, name, (int)strlen(name)) < 0)
		dst[0] = '\0';
}

static void hook_reset(hook_req *r)
{
	if (r->job)
		r->job->hook = NULL;
	free(r->body);
	free(r->resp);
	memset(r, 0, sizeof(*r));
}

static int cb_hook(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		   size_t len)
{
	hook_req *r = user;
	bot *b = lws_context_user(lws_get_context(wsi));
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		const char *uri = in;
		hook_reset(r); /* keep-alive: a previous request's leftovers */
		r->wsi = wsi;
		if (strcmp(uri, "/healthz") == 0) {
			respond(r, b->ready ? 200 : 503, "status", b->ready ? "ok" : "starting");
			return 0;
		}
		if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) <= 0) {
			respond(r, 405, "error", "webhooks are POSTed");
			return 0;
		}
		/* without a length lws 4.1 never reports the end of the body (chunked request
		 * bodies included): refuse at once rather than hang until the timeout */
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0) {
			respond(r, 411, "error", "Content-Length required");
			return 0;
		}
		r->is_post = 1;
		read_header(wsi, r, "webhook-id:", r->id, sizeof(r->id));
		read_header(wsi, r, "webhook-timestamp:", r->ts, sizeof(r->ts));
		read_header(wsi, r, "webhook-signature:", r->sig, sizeof(r->sig));
		return 0; /* the body follows */
	}
	case LWS_CALLBACK_HTTP_BODY:
		if (!r->is_post || r->body_too_large || !len || !in)
			return 0;
		if (r->body_len + len > MAX_BODY) {
			r->body_too_large = 1;
			free(r->body);
			r->body = NULL;
			r->body_len = 0;
			return 0;
		}
		{
			uint8_t *nb = realloc(r->body, r->body_len + len + 1);
			if (!nb)
				return -1;
			r->body = nb;
			memcpy(r->body + r->body_len, in, len);
			r->body_len += len;
			r->body[r->body_len] = '\0';
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r->is_post && !r->phase && !r->job)
			handle_delivery(b, r);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return write_response(wsi, r);
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (r && r->wsi)
			hook_reset(r);
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols server_protocols[] = {
	{"faq-bot-webhooks", cb_hook, sizeof(hook_req), 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0}};
static struct lws_protocols client_protocols[2]; /* [0] = faq_rest_protocol, at start */

/* ---- start-up ---------------------------------------------------------------------- */

static int write_port_file(const char *path, int port)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static void become_ready(bot *b)
{
	if (b->port_file && write_port_file(b->port_file, b->port)) {
		faq_log(FAQ_LOG_ERROR, "cannot write the port file %s: %s", b->port_file,
			strerror(errno));
		b->exit_code = 1;
		b->stop = 1;
		return;
	}
	b->ready = 1;
	faq_log(FAQ_LOG_INFO, "listening on %s port %d for webhooks (integration %s, %zu intents)",
		b->listen, b->port, b->integration, faq_kb_intent_count(b->kb));
}

static void rebuild_secrets(bot *b)
{
	b->n_secrets = 0;
	for (size_t i = 0; i < b->n_fixed; i++)
		b->secrets[b->n_secrets++] = b->fixed_secrets[i];
	for (size_t i = 0; i < b->n_file; i++)
		b->secrets[b->n_secrets++] = b->file_secrets[i];
	if (b->registered_secret)
		b->secrets[b->n_secrets++] = b->registered_secret;
}

/* --secret-file: one whsec_ secret a line (at most two: the new and the previous one);
 * blank lines and lines starting with '#' are skipped. All or nothing: a file with a bad
 * line changes nothing. */
static int load_secret_file(bot *b, char *err, size_t errlen)
{
	FILE *f = fopen(b->secret_file, "r");
	if (!f) {
		snprintf(err, errlen, "cannot open %s: %s", b->secret_file, strerror(errno));
		return -1;
	}
	char got[2][SECRET_MAX];
	size_t n = 0;
	char line[1024];
	int rc = 0;
	for (int no = 1; fgets(line, sizeof(line), f); no++) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t l = strlen(p);
		while (l && (p[l - 1] == '\n' || p[l - 1] == '\r' || p[l - 1] == ' ' ||
			     p[l - 1] == '\t'))
			p[--l] = '\0';
		if (!l || p[0] == '#')
			continue;
		uint8_t key[128];
		if (n == 2 || l >= SECRET_MAX ||
		    faq_webhook_secret_decode(p, key, sizeof(key)) < 0) {
			snprintf(err, errlen, "%s line %d: %s", b->secret_file, no,
				 n == 2 ? "more than two secrets"
					: "not whsec_ followed by base64");
			rc = -1;
			break;
		}
		memcpy(got[n++], p, l + 1);
	}
	fclose(f);
	explicit_bzero(line, sizeof(line));
	if (rc == 0) {
		memcpy(b->file_secrets, got, sizeof(got));
		b->n_file = n;
		rebuild_secrets(b);
	}
	explicit_bzero(got, sizeof(got));
	return rc;
}

static void register_done(int status, const char *body, size_t len, const char *error, void *ud)
{
	bot *b = ud;
	json_t *r = status == 201 ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *w = json_object_get(r, "webhook");
	const char *secret = json_string_value(json_object_get(w, "secret"));
	const char *id = json_string_value(json_object_get(w, "id"));
	if (!secret || !id || b->n_secrets >= MAX_SECRETS) {
		char code[64] = "";
		if (status)
			error_code(body, len, code, sizeof(code));
		faq_log(FAQ_LOG_ERROR, "cannot register the webhook target: %s%s%d %s",
			error ? error : "", error ? " " : "HTTP ", status, code);
		json_decref(r);
		b->exit_code = 1;
		b->stop = 1;
		return;
	}
	b->registered_secret = strdup(secret);
	rebuild_secrets(b);
	/* the secret is shown once, on stdout, like soukctl shows an API key: not a log */
	const char *url = json_string_value(json_object_get(w, "url"));
	json_t *out = json_pack("{s:s,s:s,s:s,s:s}", "webhook_id", id, "url", url ? url : "",
				"integration", b->integration, "secret", secret);
	char *line = out ? json_dumps(out, JSON_COMPACT) : NULL;
	if (line)
		printf("%s\n", line);
	fflush(stdout);
	free(line);
	json_decref(out);
	faq_log(FAQ_LOG_INFO, "registered webhook target %s", id);
	json_decref(r);
	become_ready(b);
}

static int start_registration(bot *b)
{
	char url[1100];
	if (strcmp(b->register_url, "auto") == 0) {
		char host[256];
		snprintf(host, sizeof(host), "%s", b->listen);
		char *colon = strrchr(host, ':');
		if (colon)
			*colon = '\0';
		if (!host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "*"))
			snprintf(host, sizeof(host), "127.0.0.1");
		snprintf(url, sizeof(url), "http://%s:%d/hook", host, b->port);
	} else {
		snprintf(url, sizeof(url), "%s", b->register_url);
	}
	json_t *body = json_pack("{s:s,s:s,s:[s,s]}", "url", url, "integration", b->integration,
				 "events", "conversation.created", "message.created");
	char *txt = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	int rc =
		txt ? faq_rest_request(b->rest, "POST", "/v1/webhooks", txt, NULL, register_done, b)
		    : -1;
	free(txt);
	if (rc)
		faq_log(FAQ_LOG_ERROR, "cannot connect to soukd at %s", b->soukd_url);
	return rc;
}

static void on_signal(int sig)
{
	if (g_bot) {
		if (sig == SIGHUP)
			g_bot->reload = 1;
		else
			g_bot->stop = 1;
		if (g_bot->ctx)
			lws_cancel_service(g_bot->ctx);
	}
}

/* SIGHUP: the merchant edited the kb, or rotated the secret in --secret-file. What does
 * not load is reported and the previous version kept. Swapping is safe between two
 * lws_service() calls: plans own their request bodies and nothing else borrows from the
 * kb beyond the handling of one delivery. */
static void reload(bot *b)
{
	b->reload = 0;
	char err[512];
	faq_kb *kb;
	if (faq_kb_load(&kb, b->kb_path, err, sizeof(err))) {
		faq_log(FAQ_LOG_ERROR, "knowledge base not reloaded, keeping the previous one: %s",
			err);
	} else {
		faq_kb_free(b->kb);
		b->kb = kb;
		faq_log(FAQ_LOG_INFO, "knowledge base reloaded from %s (%zu intents)", b->kb_path,
			faq_kb_intent_count(kb));
	}
	if (!b->secret_file)
		return;
	if (load_secret_file(b, err, sizeof(err)))
		faq_log(FAQ_LOG_ERROR, "secrets not reloaded, keeping the previous ones: %s", err);
	else
		faq_log(FAQ_LOG_INFO, "secrets reloaded from %s (%zu)", b->secret_file, b->n_file);
}

static void lws_log_line(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	faq_log(level == LLL_ERR ? FAQ_LOG_ERROR : FAQ_LOG_WARN, "lws: %.*s", (int)n, line);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: faq-bot --soukd URL --api-key KEY\n"
		"               (--secret WHSEC [--secret WHSEC_PREVIOUS] | --secret-file FILE)\n"
		"               [--listen HOST:PORT] [--port-file FILE] [--kb FILE]\n"
		"               [--integration NAME] [--desk NAME] [--register URL|auto]\n"
		"               [--dedup-size N] [--log-level error|warn|info|debug]\n"
		"Receives soukd's webhooks on --listen (default 127.0.0.1:8090; port 0 picks\n"
		"a free port, written to --port-file), answers from the knowledge base --kb\n"
		"(default kb.json) as integration --integration (default bot) and hands\n"
		"conversations to --desk (default desk). --secret-file holds one or two\n"
		"secrets, one a line. --register URL (or auto: this listener) registers the\n"
		"webhook target with soukd first and prints its secret as JSON on stdout.\n"
		"SIGHUP reloads the knowledge base and the secret file; SIGTERM stops.\n"
		"Environment: SOUK_API_KEY, SOUK_WEBHOOK_SECRET (space-separated) instead of\n"
		"the options, which other users of the machine can see in the process list.\n");
}

static int parse_args(bot *b, int argc, char **argv)
{
	static char env_secrets[1024];
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		}
		if (!v) {
			fprintf(stderr, "faq-bot: %s needs a value\n", a);
			return -1;
		}
		i++;
		if (!strcmp(a, "--soukd"))
			b->soukd_url = v;
		else if (!strcmp(a, "--api-key"))
			b->api_key = v;
		else if (!strcmp(a, "--secret")) {
			if (b->n_fixed >= 2) {
				fprintf(stderr, "faq-bot: at most two --secret\n");
				return -1;
			}
			b->fixed_secrets[b->n_fixed++] = v;
		} else if (!strcmp(a, "--secret-file")) {
			b->secret_file = v;
		} else if (!strcmp(a, "--listen"))
			b->listen = v;
		else if (!strcmp(a, "--port-file"))
			b->port_file = v;
		else if (!strcmp(a, "--kb"))
			b->kb_path = v;
		else if (!strcmp(a, "--integration"))
			b->integration = v;
		else if (!strcmp(a, "--desk"))
			b->desk = v;
		else if (!strcmp(a, "--register"))
			b->register_url = v;
		else if (!strcmp(a, "--dedup-size")) {
			char *end = NULL;
			long n = strtol(v, &end, 10);
			if (!end || *end || n < 1 || n > 1000000) {
				fprintf(stderr, "faq-bot: --dedup-size must be 1..1000000\n");
				return -1;
			}
			b->dedup_size = (size_t)n;
		} else if (!strcmp(a, "--log-level")) {
			if ((faq_log_level = faq_log_level_parse(v)) < 0) {
				fprintf(stderr, "faq-bot: unknown log level %s\n", v);
				return -1;
			}
		} else {
			fprintf(stderr, "faq-bot: unknown option %s\n", a);
			return -1;
		}
	}
	if (!b->api_key)
		b->api_key = getenv("SOUK_API_KEY");
	const char *es = getenv("SOUK_WEBHOOK_SECRET");
	if (!b->n_fixed && !b->secret_file && es) {
		snprintf(env_secrets, sizeof(env_secrets), "%s", es);
		char *save = NULL;
		for (char *s = strtok_r(env_secrets, " ", &save); s && b->n_fixed < 2;
		     s = strtok_r(NULL, " ", &save))
			b->fixed_secrets[b->n_fixed++] = s;
	}
	if (!b->soukd_url || !b->api_key) {
		fprintf(stderr, "faq-bot: --soukd and --api-key are required\n");
		return -1;
	}
	if (!b->n_fixed && !b->secret_file && !b->register_url) {
		fprintf(stderr, "faq-bot: give --secret (the webhook target's whsec_ secret), "
				"--secret-file or --register\n");
		return -1;
	}
	if (b->n_fixed && b->secret_file) {
		fprintf(stderr, "faq-bot: --secret and --secret-file exclude each other\n");
		return -1;
	}
	for (size_t i = 0; i < b->n_fixed; i++) {
		uint8_t key[128];
		if (faq_webhook_secret_decode(b->fixed_secrets[i], key, sizeof(key)) < 0) {
			fprintf(stderr, "faq-bot: secret %zu is not whsec_ followed by base64\n",
				i + 1);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	bot b;
	memset(&b, 0, sizeof(b));
	b.listen = "127.0.0.1:8090";
	b.kb_path = "kb.json";
	b.integration = "bot";
	b.desk = "desk";
	if (parse_args(&b, argc, argv)) {
		usage(stderr);
		return 2;
	}
	char err[512];
	if (faq_kb_load(&b.kb, b.kb_path, err, sizeof(err))) {
		fprintf(stderr, "faq-bot: knowledge base: %s\n", err);
		return 1;
	}
	rebuild_secrets(&b);
	if (b.secret_file && load_secret_file(&b, err, sizeof(err))) {
		fprintf(stderr, "faq-bot: %s\n", err);
		faq_kb_free(b.kb);
		return 1;
	}
	if (b.secret_file && !b.n_file && !b.register_url)
		faq_log(FAQ_LOG_WARN,
			"%s holds no secret yet: every delivery is refused until "
			"one is added (then send SIGHUP)",
			b.secret_file);
	b.seen = faq_dedup_new(b.dedup_size ? b.dedup_size : DEDUP_CAPACITY);
	if (!b.seen) {
		faq_kb_free(b.kb);
		return 1;
	}

	char host[256];
	snprintf(host, sizeof(host), "%s", b.listen);
	char *colon = strrchr(host, ':');
	char *endp = NULL;
	long port = colon ? strtol(colon + 1, &endp, 10) : -1;
	if (!colon || !endp || *endp || port < 0 || port > 65535) {
		fprintf(stderr, "faq-bot: --listen must be HOST:PORT\n");
		faq_dedup_free(b.seen);
		faq_kb_free(b.kb);
		return 2;
	}
	*colon = '\0';

	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_line);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = &b;
	b.ctx = lws_create_context(&info);
	int rc = 1;
	if (!b.ctx) {
		faq_log(FAQ_LOG_ERROR, "cannot create the libwebsockets context");
		goto out;
	}
	struct lws_context_creation_info vi;
	memset(&vi, 0, sizeof(vi));
	vi.port = (int)port;
	vi.iface = host[0] ? host : NULL;
	vi.protocols = server_protocols;
	vi.vhost_name = "faq-bot";
	b.vh = lws_create_vhost(b.ctx, &vi);
	if (!b.vh) {
		faq_log(FAQ_LOG_ERROR, "cannot listen on %s", b.listen);
		goto out;
	}
	b.port = lws_get_vhost_listen_port(b.vh);
	client_protocols[0] = faq_rest_protocol;
	struct lws_context_creation_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.port = CONTEXT_PORT_NO_LISTEN;
	ci.protocols = client_protocols;
	ci.vhost_name = "faq-bot-client";
	ci.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	b.client_vh = lws_create_vhost(b.ctx, &ci);
	if (!b.client_vh) {
		faq_log(FAQ_LOG_ERROR, "cannot create the HTTP client");
		goto out;
	}
	b.rest = faq_rest_new(b.ctx, b.client_vh, b.soukd_url, b.api_key, REST_TIMEOUT_S, err,
			      sizeof(err));
	if (!b.rest) {
		faq_log(FAQ_LOG_ERROR, "%s", err);
		goto out;
	}

	g_bot = &b;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (b.register_url) {
		if (start_registration(&b))
			goto out;
	} else {
		become_ready(&b);
	}
	while (!b.stop) {
		if (lws_service(b.ctx, 0) < 0)
			break;
		if (b.reload)
			reload(&b);
	}
	rc = b.exit_code;
	faq_log(FAQ_LOG_INFO, "stopping (%zu events being answered will be redelivered)", b.n_jobs);
out:
	b.stopping = 1;
	if (b.ctx)
		lws_context_destroy(b.ctx);
	g_bot = NULL;
	while (b.jobs) /* their connections are gone: nothing calls back any more */
		job_finish(b.jobs, RETRY_LATER, "stopping");
	faq_rest_free(b.rest);
	faq_dedup_free(b.seen);
	faq_kb_free(b.kb);
	free(b.registered_secret);
	return rc;
}
