/*
 * webhooks.c — delivery of the webhook outbox to the agent backends, on the loop thread,
 * with libwebsockets' HTTP client (never blocking the loop).
 *
 * The scheduler asks the storage thread for due deliveries (at most one per target and
 * conversation: order), posts each one signed like Standard Webhooks, and reports the
 * outcome back to the store: 2xx = delivered; anything else (status, connection error,
 * 10 s timeout) = retry with exponential backoff and ±20 % jitter (1 s, 2 s, 4 s … capped at
 * 1 h) until 26 h after the first attempt, then failed. Failed and pending deliveries are
 * listed by GET /v1/webhook-deliveries. A crash between sending and recording re-sends the
 * same event id later: receivers deduplicate by `webhook-id`.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway_internal.h"
#include "util.h"

enum { MAX_FLIGHTS = 32, TIMEOUT_S = 10, IDLE_RECHECK_MS = 30000 };

struct webhook_flight {
	webhook_flight *next;
	gateway *gw;
	struct lws *wsi;
	store_delivery d;
	char busy_key[2 * STORE_ID_MAX + 2];
	char headers[1024]; /* webhook-id, -timestamp, -signature values */
	char ts[24];
	char signature[800];
	int status;
	int done;	/* outcome recorded */
	int connecting; /* inside lws_client_connect_via_info() */
	int wsi_gone;	/* lws destroyed the connection: f may be freed once done */
	int body_sent;
	char error[160];
};

/* ---- signing ----------------------------------------------------------------------- */

/* Standard Webhooks: v1,base64(HMAC-SHA256(base64decode(secret sans "whsec_"),
 * id "." timestamp "." body)); one signature per active secret, space separated. */
static int sign(webhook_flight *f)
{
	char secrets[sizeof(f->d.secrets)];
	snprintf(secrets, sizeof(secrets), "%s", f->d.secrets);
	f->signature[0] = '\0';
	char *save = NULL;
	for (char *s = strtok_r(secrets, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
		const char *b64 = strncmp(s, "whsec_", 6) == 0 ? s + 6 : s;
		unsigned char key[128];
		size_t b64len = strlen(b64);
		if (b64len > 168)
			return -1;
		int klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)b64len);
		if (klen < 0)
			return -1;
		/* EVP_DecodeBlock counts the '=' padding as zero bytes */
		for (size_t i = b64len; i > 0 && b64[i - 1] == '='; i--)
			klen--;
		unsigned char mac[32];
		unsigned int maclen = 0;
		size_t idl = strlen(f->d.event_id), tsl = strlen(f->ts), bl = strlen(f->d.body);
		char *msg = malloc(idl + tsl + bl + 3);
		if (!msg)
			return -1;
		memcpy(msg, f->d.event_id, idl);
		msg[idl] = '.';
		memcpy(msg + idl + 1, f->ts, tsl);
		msg[idl + 1 + tsl] = '.';
		memcpy(msg + idl + tsl + 2, f->d.body, bl);
		HMAC(EVP_sha256(), key, klen, (unsigned char *)msg, idl + tsl + 2 + bl, mac,
		     &maclen);
		free(msg);
		unsigned char sig[64];
		EVP_EncodeBlock(sig, mac, (int)maclen);
		size_t l = strlen(f->signature);
		snprintf(f->signature + l, sizeof(f->signature) - l, "%sv1,%s", l ? " " : "", sig);
	}
	return f->signature[0] ? 0 : -1;
}

/* ---- scheduling -------------------------------------------------------------------- */

static void recheck_cb(lws_sorted_usec_list_t *sul)
{
	webhook_state *ws = lws_container_of(sul, webhook_state, sul);
	gateway *gw = lws_container_of(ws, gateway, webhooks);
	webhooks_poke(gw);
}

void webhooks_poke(gateway *gw)
{
	webhook_state *ws = &gw->webhooks;
	if (gw->shutting_down)
		return;
	if (ws->due_pending) {
		ws->poke_again = 1;
		return;
	}
	if (ws->n_flights >= MAX_FLIGHTS)
		return; /* a finishing flight pokes again */
	gc_op *op = gw_op_new(gw, GC_WEBHOOK_DUE);
	if (!op)
		return;
	op->limit = (uint32_t)(MAX_FLIGHTS - ws->n_flights);
	op->busy = calloc(ws->n_flights ? ws->n_flights : 1, sizeof(*op->busy));
	for (webhook_flight *f = ws->flights; f && op->busy; f = f->next)
		if ((op->busy[op->n_busy] = strdup(f->busy_key)))
			op->n_busy++;
	ws->due_pending = 1;
	ws->poke_again = 0;
	gc_submit(gw->gc, op);
}

static int64_t backoff_ms(int attempts)
{
	int64_t d = 1000;
	for (int i = 1; i < attempts && d < WEBHOOK_MAX_DELAY_MS; i++)
		d *= 2;
	if (d > WEBHOOK_MAX_DELAY_MS)
		d = WEBHOOK_MAX_DELAY_MS;
	unsigned r = 0;
	RAND_bytes((unsigned char *)&r, sizeof(r));
	double jitter = 0.8 + 0.4 * ((double)r / 4294967295.0);
	return (int64_t)((double)d * jitter);
}

static void flight_finish(webhook_flight *f)
{
	gateway *gw = f->gw;
	webhook_state *ws = &gw->webhooks;
	if (f->done)
		return;
	f->done = 1;
	int ok = f->status >= 200 && f->status < 300;
	int64_t now = souk_now_ms();
	gc_op *op = gw_op_new(gw, GC_WEBHOOK_RESULT);
	if (op) {
		op->delivery_id = f->d.delivery_id;
		op->delivered = ok;
		op->http_status = f->status;
		snprintf(op->error, sizeof(op->error), "%s",
			 ok	       ? ""
			 : f->error[0] ? f->error
				       : "non-2xx response");
		int64_t first = f->d.first_attempt_ms ? f->d.first_attempt_ms : now;
		int64_t next = now + backoff_ms(f->d.attempts + 1);
		op->next_attempt_ms = next - first > WEBHOOK_GIVE_UP_MS ? 0 : next;
		if (ok)
			ws->delivered++;
		else if (op->next_attempt_ms)
			ws->retried++;
		else
			ws->failed++;
		souk_log(ok ? SOUK_LOG_DEBUG : SOUK_LOG_INFO,
			 "webhook %s (%s) to %s: %s status %d attempt %d", f->d.event_id, f->d.type,
			 f->d.target_id,
			 ok		       ? "delivered"
			 : op->next_attempt_ms ? "retry"
					       : "failed",
			 f->status, f->d.attempts + 1);
		gc_submit(gw->gc, op);
	}
	/* unlink; the result op is queued before the next due read, so the store sees the
	 * outcome first and ordering per conversation holds */
	for (webhook_flight **pp = &ws->flights; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	ws->n_flights--;
	webhooks_poke(gw);
}

static void flight_free(webhook_flight *f)
{
	free(f->d.body);
	free(f);
}

/* Records a failure unless an outcome is recorded already. */
static void flight_fail(webhook_flight *f, const char *why)
{
	if (f->done)
		return;
	if (!f->error[0])
		snprintf(f->error, sizeof(f->error), "%s", why);
	f->status = 0;
	flight_finish(f);
}

static int start_flight(gateway *gw, webhook_flight *f)
{
	char url[sizeof(f->d.url)];
	snprintf(url, sizeof(url), "%s", f->d.url);
	const char *prot = NULL, *addr = NULL, *path = NULL;
	int port = 0;
	if (lws_parse_uri(url, &prot, &addr, &port, &path))
		return -1;
	int tls = strcmp(prot, "https") == 0;
	if (!tls && strcmp(prot, "http") != 0)
		return -1;
	static char pathbuf[2100];
	snprintf(pathbuf, sizeof(pathbuf), "/%s", path);
	snprintf(f->ts, sizeof(f->ts), "%lld", (long long)(souk_now_ms() / 1000));
	if (sign(f))
		return -1;

	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof(ci));
	ci.context = gw->ctx;
	ci.vhost = gw->client_vh;
	ci.address = addr;
	ci.port = port;
	ci.path = pathbuf;
	ci.host = addr;
	ci.origin = addr;
	ci.method = "POST";
	ci.protocol = webhook_protocol.name;
	ci.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
	ci.userdata = f;
	ci.pwsi = &f->wsi;
	if (!lws_client_connect_via_info(&ci))
		return -1;
	if (f->wsi)
		lws_set_timeout(f->wsi, PENDING_TIMEOUT_USER_OK, TIMEOUT_S);
	return 0;
}

void webhooks_due_done(gateway *gw, gc_op *op)
{
	webhook_state *ws = &gw->webhooks;
	ws->due_pending = 0;
	if (op->status == 0) {
		for (size_t i = 0; i < op->deliveries.n; i++) {
			webhook_flight *f = calloc(1, sizeof(*f));
			if (!f)
				break;
			f->gw = gw;
			f->d = op->deliveries.v[i];
			op->deliveries.v[i].body = NULL; /* moved */
			snprintf(f->busy_key, sizeof(f->busy_key), "%s/%s", f->d.target_id,
				 f->d.conversation_id);
			f->next = ws->flights;
			ws->flights = f;
			ws->n_flights++;
			f->connecting = 1;
			int rc = start_flight(gw, f);
			f->connecting = 0;
			if (rc != 0 || f->wsi_gone) {
				/* no connection lives on: the flight is ours to end */
				flight_fail(f, "cannot connect to the target URL");
				flight_free(f);
			}
		}
	}
	/* wake up again when the next retry falls due (or soon, to notice new events) */
	int64_t wait = IDLE_RECHECK_MS;
	if (op->deliveries.next_due_ms) {
		int64_t d = op->deliveries.next_due_ms - souk_now_ms();
		wait = d < 50 ? 50 : d < wait ? d : wait;
	}
	lws_sul_schedule(gw->ctx, 0, &ws->sul, recheck_cb, wait * LWS_US_PER_MS);
	if (ws->poke_again)
		webhooks_poke(gw);
}

void webhooks_free_all(gateway *gw)
{
	webhook_state *ws = &gw->webhooks;
	lws_sul_cancel(&ws->sul);
	while (ws->flights) {
		webhook_flight *f = ws->flights;
		ws->flights = f->next;
		flight_free(f);
	}
	ws->n_flights = 0;
}

/* ---- the lws client callback ------------------------------------------------------- */

static int cb_webhook(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		      size_t len)
{
	webhook_flight *f = user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		unsigned char **p = (unsigned char **)in, *end = (*p) + len;
		char clen[32];
		snprintf(clen, sizeof(clen), "%zu", strlen(f->d.body));
		if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
						 (const unsigned char *)"application/json", 16, p,
						 end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
						 (const unsigned char *)clen, (int)strlen(clen), p,
						 end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"webhook-id:",
						(const unsigned char *)f->d.event_id,
						(int)strlen(f->d.event_id), p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"webhook-timestamp:",
						(const unsigned char *)f->ts, (int)strlen(f->ts), p,
						end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"webhook-signature:",
						(const unsigned char *)f->signature,
						(int)strlen(f->signature), p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"user-agent:",
						(const unsigned char *)"soukd-webhooks/1", 16, p,
						end))
			return -1;
		lws_client_http_body_pending(wsi, 1);
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
		if (f->body_sent)
			return 0;
		size_t n = strlen(f->d.body);
		uint8_t *buf = malloc(LWS_PRE + n + 1);
		if (!buf)
			return -1;
		memcpy(buf + LWS_PRE, f->d.body, n);
		int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
		free(buf);
		if (w < 0)
			return -1;
		f->body_sent = 1;
		lws_client_http_body_pending(wsi, 0);
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		f->status = (int)lws_http_client_http_response(wsi);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char buf[LWS_PRE + 1024];
		char *px = buf + LWS_PRE;
		int lenx = (int)sizeof(buf) - LWS_PRE;
		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		return 0;
	}
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		return 0; /* the response body is not used */
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (f && !f->done)
			flight_finish(f); /* status from the response headers */
		return -1;		  /* one request per connection */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (f)
			flight_fail(f, in ? (const char *)in : "connection failed");
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		if (f)
			flight_fail(f, "connection closed or timed out before a complete response");
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		/* the one place a flight with a connection is freed */
		if (f) {
			flight_fail(f, "connection closed");
			f->wsi_gone = 1;
			if (!f->connecting)
				flight_free(f);
		}
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols webhook_protocol = {"souk-webhook", cb_webhook, 0, 0, 0, NULL, 0};
