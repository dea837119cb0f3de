/*
 * store_sqlite_agent.c — the agent backend's side of the SQLite store: REST calls
 * (agent messages, receipts, status, assignment, switchboard, listings) and the durable
 * webhook outbox.
 *
 * Outbox design: a webhook event is a row written in the same transaction as what caused
 * it (a shopper's message, a read, a context update), with one delivery row per target of
 * the integration in control. Delivery state lives only here, so a crash at any point
 * re-sends (same event id, receivers deduplicate) and never forgets. Ordering per
 * conversation is kept by only ever handing out the oldest pending delivery of each
 * (target, conversation) pair.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "payload.h"
#include "rest.h"
#include "store_sqlite_internal.h"
#include "util.h"

enum {
	A_APP_BY_KEY,
	A_APP_GET,
	A_APP_SET_DEFAULT,
	A_PART_UPSERT,
	A_PART_SET_READ,
	A_CONV_SET_STATUS,
	A_CONV_SET_ASSIGNEE,
	A_CONV_SET_CONTROLLER,
	A_CONV_SET_CONTEXT,
	A_CONV_CONTEXT,
	A_CONV_LIST,
	A_USER_SUPPORT,
	A_MSG_LIST,
	A_TARGET_INSERT,
	A_TARGET_LIST,
	A_TARGET_GET,
	A_TARGET_DISABLE,
	A_TARGET_SET_SECRETS,
	A_TARGETS_FOR,
	A_EVENT_INSERT,
	A_DELIVERY_INSERT,
	A_DUE,
	A_NEXT_DUE,
	A_RESULT_OK,
	A_RESULT_RETRY,
	A_RESULT_FAIL,
	A_DELIVERIES_LIST,
	A_COUNT
};
_Static_assert((int)A_COUNT <= (int)SQA_Q_MAX, "raise SQA_Q_MAX");

static const char *const ASQL[A_COUNT] = {
	[A_APP_BY_KEY] = "SELECT app_id FROM apps WHERE api_key_hash = ?1",
	[A_APP_GET] = "SELECT name, default_integration FROM apps WHERE app_id = ?1",
	[A_APP_SET_DEFAULT] = "UPDATE apps SET default_integration = ?2 WHERE app_id = ?1",
	[A_PART_UPSERT] = "INSERT INTO participants(conv_id, user_id, kind) VALUES(?1, ?2, ?3)"
			  " ON CONFLICT(conv_id, user_id) DO NOTHING",
	[A_PART_SET_READ] = "UPDATE participants SET read_conv_seq = max(read_conv_seq, ?3)"
			    " WHERE conv_id = ?1 AND user_id = ?2",
	[A_CONV_SET_STATUS] = "UPDATE conversations SET status = ?2, updated_ms = ?3"
			      " WHERE conv_id = ?1",
	[A_CONV_SET_ASSIGNEE] = "UPDATE conversations SET assignee = ?2, updated_ms = ?3"
				" WHERE conv_id = ?1",
	[A_CONV_SET_CONTROLLER] = "UPDATE conversations SET controller = ?2, updated_ms = ?3"
				  " WHERE conv_id = ?1",
	[A_CONV_SET_CONTEXT] = "UPDATE conversations SET context = ?2, updated_ms = ?3"
			       " WHERE conv_id = ?1",
	[A_CONV_CONTEXT] = "SELECT context FROM conversations WHERE conv_id = ?1",
	[A_CONV_LIST] = "SELECT rowid, conv_id FROM conversations WHERE app_id = ?1"
			" AND (?2 = 0 OR status = ?2) AND rowid > ?3 ORDER BY rowid LIMIT ?4",
	[A_USER_SUPPORT] = "SELECT conv_id, context FROM conversations"
			   " WHERE app_id = ?1 AND owner_user_id = ?2 AND kind = 1",
	[A_MSG_LIST] = "SELECT message_id, conv_seq, sender_id, sender_kind, sender_name,"
		       " sender_avatar_url, sender_device_id, server_time_ms, content FROM messages"
		       " WHERE conv_id = ?1 AND conv_seq > ?2 ORDER BY conv_seq LIMIT ?3",
	[A_TARGET_INSERT] =
		"INSERT INTO webhook_targets(target_id, app_id, integration, url,"
		" secrets, events, active, created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)",
	[A_TARGET_LIST] =
		"SELECT target_id, integration, url, events, secrets, created_ms"
		" FROM webhook_targets WHERE app_id = ?1 AND active = 1 ORDER BY created_ms",
	[A_TARGET_GET] = "SELECT secrets FROM webhook_targets WHERE target_id = ?1 AND app_id = ?2"
			 " AND active = 1",
	[A_TARGET_DISABLE] = "UPDATE webhook_targets SET active = 0 WHERE target_id = ?1"
			     " AND app_id = ?2 AND active = 1",
	[A_TARGET_SET_SECRETS] = "UPDATE webhook_targets SET secrets = ?3 WHERE target_id = ?1"
				 " AND app_id = ?2",
	[A_TARGETS_FOR] = "SELECT target_id FROM webhook_targets WHERE app_id = ?1 AND active = 1"
			  " AND integration = ?2 AND (events = '*' OR"
			  " instr(',' || events || ',', ',' || ?3 || ',') > 0)",
	[A_EVENT_INSERT] = "INSERT INTO webhook_events(event_id, app_id, conv_id, type, body,"
			   " created_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
	[A_DELIVERY_INSERT] = "INSERT INTO webhook_deliveries(event_id, target_id, app_id, conv_id,"
			      " next_attempt_ms) VALUES(?1, ?2, ?3, ?4, ?5)",
	[A_DUE] = "SELECT d.delivery_id, d.event_id, d.target_id, d.conv_id, d.attempts,"
		  " d.first_attempt_ms, t.url, t.secrets, e.type, e.body"
		  " FROM webhook_deliveries d"
		  " JOIN webhook_targets t ON t.target_id = d.target_id"
		  " JOIN webhook_events e ON e.event_id = d.event_id"
		  " WHERE d.state = 0 AND d.next_attempt_ms <= ?1 AND d.delivery_id ="
		  "  (SELECT min(d2.delivery_id) FROM webhook_deliveries d2"
		  "   WHERE d2.target_id = d.target_id AND d2.conv_id = d.conv_id AND d2.state = 0)"
		  " ORDER BY d.next_attempt_ms, d.delivery_id LIMIT ?2",
	[A_NEXT_DUE] = "SELECT min(next_attempt_ms) FROM webhook_deliveries WHERE state = 0"
		       " AND next_attempt_ms > ?1",
	[A_RESULT_OK] = "UPDATE webhook_deliveries SET state = 1, attempts = attempts + 1,"
			" last_status = ?2, last_error = '', done_ms = ?3, first_attempt_ms ="
			" CASE WHEN first_attempt_ms = 0 THEN ?3 ELSE first_attempt_ms END"
			" WHERE delivery_id = ?1",
	[A_RESULT_RETRY] = "UPDATE webhook_deliveries SET attempts = attempts + 1,"
			   " last_status = ?2, last_error = ?3, next_attempt_ms = ?5,"
			   " first_attempt_ms = CASE WHEN first_attempt_ms = 0 THEN ?4"
			   " ELSE first_attempt_ms END WHERE delivery_id = ?1",
	[A_RESULT_FAIL] = "UPDATE webhook_deliveries SET state = 2, attempts = attempts + 1,"
			  " last_status = ?2, last_error = ?3, done_ms = ?4 WHERE delivery_id = ?1",
	[A_DELIVERIES_LIST] =
		"SELECT d.delivery_id, d.event_id, e.type, d.target_id, d.conv_id,"
		" d.state, d.attempts, d.next_attempt_ms, d.last_status, d.last_error,"
		" d.done_ms, e.created_ms FROM webhook_deliveries d"
		" JOIN webhook_events e ON e.event_id = d.event_id"
		" WHERE d.app_id = ?1 AND (?2 < 0 OR d.state = ?2) AND d.delivery_id > ?3"
		" ORDER BY d.delivery_id LIMIT ?4",
};

static sqlite3_stmt *A(souk_store *s, int which)
{
	sqlite_store *ss = (sqlite_store *)s;
	if (!ss->aq[which] && sqlite3_prepare_v3(ss->db, ASQL[which], -1, SQLITE_PREPARE_PERSISTENT,
						 &ss->aq[which], NULL) != SQLITE_OK) {
		souk_log(SOUK_LOG_ERROR, "sqlite prepare: %s", sqlite3_errmsg(ss->db));
		return NULL;
	}
	sqlite3_reset(ss->aq[which]);
	sqlite3_clear_bindings(ss->aq[which]);
	return ss->aq[which];
}

void sqa_finalize(sqlite_store *ss)
{
	for (int i = 0; i < A_COUNT; i++)
		sqlite3_finalize(ss->aq[i]);
}

void rest_call_free(rest_call *c)
{
	if (!c)
		return;
	if (c->content)
		souk__v1__content__free_unpacked(c->content, NULL);
	if (c->push)
		souk__v1__in_app_push__free_unpacked(c->push, NULL);
	for (size_t i = 0; i < c->n_user_ids; i++)
		free(c->user_ids[i]);
	free(c->user_ids);
	json_decref(c->body);
	free(c);
}

void rest_error(rest_call *c, int http_status, const char *code, const char *message)
{
	json_decref(c->body);
	c->http_status = http_status;
	c->body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
}

void store_deliveries_free(store_deliveries *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].body);
	free(d->v);
	memset(d, 0, sizeof(*d));
}

json_t *sqa_conv_json(const store_conv *c)
{
	json_t *parts = json_array();
	for (size_t i = 0; i < c->n_participants; i++)
		json_array_append_new(
			parts, json_pack("{s:s,s:s}", "id", c->participants[i].user_id, "kind",
					 payload_sender_kind_name(c->participants[i].kind)));
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:o}", "id", c->conversation_id, "kind",
			 c->kind == SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT ? "support"
										      : "other",
			 "user_id", c->owner, "status", payload_status_name(c->status),
			 "controller", c->controller, "assignee", c->assignee, "last_conv_seq",
			 (json_int_t)c->last_conv_seq, "created_ms", (json_int_t)c->created_ms,
			 "participants", parts);
}

static char *iso8601(int64_t ms, char *buf, size_t cap)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
		 (tm.tm_mon + 1) % 100, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ms % 1000));
	return buf;
}

int sqa_targets(souk_store *s, const char *app_id, const char *controller, const char *type,
		char (*targets)[STORE_ID_MAX], size_t cap)
{
	sqlite3_stmt *st = A(s, A_TARGETS_FOR);
	if (!st)
		return -1;
	sqs_txt(st, 1, app_id);
	sqs_txt(st, 2, controller);
	sqs_txt(st, 3, type);
	size_t nt = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && nt < cap)
		sqs_copy_col(targets[nt++], STORE_ID_MAX, st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	return (int)nt;
}

int sqa_enqueue_to(souk_store *s, const char *app_id, const store_conv *conv, const char *type,
		   json_t *data, int64_t now_ms, char (*targets)[STORE_ID_MAX], size_t nt)
{
	if (!data)
		return -1;
	if (nt == 0) {
		json_decref(data);
		return 0;
	}
	json_object_set_new(data, "app_id", json_string(app_id));
	char ts[40];
	json_t *env = json_pack("{s:s,s:s,s:o}", "type", type, "timestamp",
				iso8601(now_ms, ts, sizeof(ts)), "data", data);
	if (!env)
		return -1;
	char event_id[64];
	char *body = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	if (!body || sqs_time_id(event_id, sizeof(event_id), "evt_", now_ms)) {
		free(body);
		return -1;
	}
	sqlite3_stmt *st = A(s, A_EVENT_INSERT);
	if (!st) {
		free(body);
		return -1;
	}
	sqs_txt(st, 1, event_id);
	sqs_txt(st, 2, app_id);
	sqs_txt(st, 3, conv->conversation_id);
	sqs_txt(st, 4, type);
	sqs_txt(st, 5, body);
	sqlite3_bind_int64(st, 6, now_ms);
	int rc = sqs_step_done(s, st);
	free(body);
	if (rc)
		return -1;
	for (size_t i = 0; i < nt; i++) {
		st = A(s, A_DELIVERY_INSERT);
		if (!st)
			return -1;
		sqs_txt(st, 1, event_id);
		sqs_txt(st, 2, targets[i]);
		sqs_txt(st, 3, app_id);
		sqs_txt(st, 4, conv->conversation_id);
		sqlite3_bind_int64(st, 5, now_ms);
		if (sqs_step_done(s, st))
			return -1;
	}
	return 1;
}

int sqa_enqueue(souk_store *s, const char *app_id, const store_conv *conv, const char *type,
		json_t *data, int64_t now_ms)
{
	char targets[SQA_MAX_TARGETS][STORE_ID_MAX];
	int nt = sqa_targets(s, app_id, conv->controller, type, targets, SQA_MAX_TARGETS);
	if (nt < 0) {
		json_decref(data);
		return -1;
	}
	return sqa_enqueue_to(s, app_id, conv, type, data, now_ms, targets, (size_t)nt);
}

int sqa_update_context(souk_store *s, const char *app_id, const char *user_id, const char *conv_id,
		       const Souk__V1__ShoppingContext *ctx, int64_t now_ms)
{
	store_conv conv;
	int rc = sqs_load_conv(s, app_id, conv_id, &conv);
	if (rc)
		return rc;
	rc = sqs_is_participant(s, conv_id, user_id, NULL);
	if (rc <= 0)
		return rc < 0 ? -1 : SOUK__V1__ERROR_CODE__NOT_A_PARTICIPANT;
	size_t len = souk__v1__shopping_context__get_packed_size(ctx);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return -1;
	souk__v1__shopping_context__pack(ctx, buf);
	sqlite3_stmt *st = A(s, A_CONV_SET_CONTEXT);
	sqs_txt(st, 1, conv_id);
	sqlite3_bind_blob(st, 2, buf, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now_ms);
	rc = sqs_step_done(s, st);
	sqlite3_reset(st);
	free(buf);
	if (rc)
		return -1;
	json_t *data = json_pack("{s:o,s:s,s:o}", "conversation", sqa_conv_json(&conv), "user_id",
				 user_id, "context", payload_context_to_json(ctx));
	return sqa_enqueue(s, app_id, &conv, "context.updated", data, now_ms) < 0 ? -1 : 0;
}

/* ---- REST calls -------------------------------------------------------------------- */

static int conv_or_404(souk_store *s, rest_call *c, store_conv *conv)
{
	int rc = sqs_load_conv(s, c->app_id, c->conversation_id, conv);
	if (rc > 0) {
		rest_error(c, 404, "conversation_not_found", "no such conversation in this app");
		return 1;
	}
	return rc;
}

static int add_participant(souk_store *s, const char *conv_id, const char *user_id, int kind)
{
	sqlite3_stmt *st = A(s, A_PART_UPSERT);
	sqs_txt(st, 1, conv_id);
	sqs_txt(st, 2, user_id);
	sqlite3_bind_int(st, 3, kind);
	return sqs_step_done(s, st);
}

static int post_message(souk_store *s, rest_call *c, store_appends *out)
{
	store_conv conv;
	int rc = conv_or_404(s, c, &conv);
	if (rc)
		return rc < 0 ? rc : 0;
	if (add_participant(s, c->conversation_id, c->sender_id, c->sender_kind))
		return -1;
	/* The Idempotency-Key becomes the message's client_msg_id (SHA-256, first 16 bytes),
	 * so a retried post meets the same unique index as a retried shopper send. */
	uint8_t cmid[32];
	if (c->idempotency_key[0]) {
		unsigned int n = 0;
		EVP_Digest(c->idempotency_key, strlen(c->idempotency_key), cmid, &n, EVP_sha256(),
			   NULL);
	} else if (RAND_bytes(cmid, 16) != 1) {
		return -1;
	}
	store_send_req req = {.app_id = c->app_id,
			      .user_id = c->sender_id,
			      .device_id = "",
			      .client_msg_id = cmid,
			      .conversation_id = c->conversation_id,
			      .content = c->content,
			      .sender_kind = c->sender_kind,
			      .sender_name = c->sender_name,
			      .sender_avatar_url = c->sender_avatar_url,
			      .now_ms = c->now_ms};
	store_send_res res;
	rc = s->ops->send(s, &req, &res, out);
	if (rc > 0) {
		rest_error(c, 409, "refused", "the message was refused");
		return 0;
	}
	if (rc < 0)
		return rc;
	if (res.duplicate && strcmp(res.conversation_id, c->conversation_id) != 0) {
		/* the same key (the same client_msg_id) names a message of another conversation:
		 * answering "duplicate" would name a conversation the message is not in */
		rest_error(c, 409, "idempotency_key_reused",
			   "this Idempotency-Key was used for a message in another conversation");
		return 0;
	}
	c->http_status = res.duplicate ? 200 : 201;
	c->body = json_pack("{s:{s:s,s:s,s:I,s:I},s:b}", "message", "id", res.message_id,
			    "conversation_id", c->conversation_id, "conv_seq",
			    (json_int_t)res.conv_seq, "created_ms", (json_int_t)res.server_time_ms,
			    "duplicate", res.duplicate);
	return 0;
}

static int agent_read(souk_store *s, rest_call *c, store_appends *out)
{
	store_conv conv;
	int rc = conv_or_404(s, c, &conv);
	if (rc)
		return rc < 0 ? rc : 0;
	uint64_t up_to = c->up_to > conv.last_conv_seq ? conv.last_conv_seq : c->up_to;
	if (add_participant(s, c->conversation_id, c->sender_id, c->sender_kind))
		return -1;
	uint64_t before = 0;
	if (sqs_is_participant(s, c->conversation_id, c->sender_id, &before) < 0)
		return -1;
	c->http_status = 204;
	if (up_to <= before)
		return 0;
	sqlite3_stmt *st = A(s, A_PART_SET_READ);
	sqs_txt(st, 1, c->conversation_id);
	sqs_txt(st, 2, c->sender_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)up_to);
	if (sqs_step_done(s, st))
		return -1;
	Souk__V1__Receipt r = SOUK__V1__RECEIPT__INIT;
	r.conversation_id = c->conversation_id;
	r.user_id = c->sender_id;
	r.kind = SOUK__V1__RECEIPT_KIND__RECEIPT_READ;
	r.up_to_conv_seq = up_to;
	Souk__V1__Event ev = SOUK__V1__EVENT__INIT;
	ev.body_case = SOUK__V1__EVENT__BODY_RECEIPT;
	ev.receipt = &r;
	for (size_t i = 0; i < conv.n_participants; i++)
		if (sqs_has_stream(conv.participants[i].kind) &&
		    sqs_append_event(s, c->app_id, conv.participants[i].user_id, &ev, c->now_ms,
				     out))
			return -1;
	return 0;
}

static int conv_with_context(souk_store *s, rest_call *c, const store_conv *conv)
{
	sqlite3_stmt *st = A(s, A_CONV_CONTEXT);
	sqs_txt(st, 1, conv->conversation_id);
	json_t *ctx = json_null();
	if (sqlite3_step(st) == SQLITE_ROW)
		ctx = payload_context_blob_to_json(sqlite3_column_blob(st, 0),
						   (size_t)sqlite3_column_bytes(st, 0));
	sqlite3_reset(st);
	json_t *j = sqa_conv_json(conv);
	json_object_set_new(j, "context", ctx);
	c->http_status = 200;
	c->body = json_pack("{s:o}", "conversation", j);
	return 0;
}

static int set_text(souk_store *s, int which, const char *conv_id, const char *value, int64_t now)
{
	sqlite3_stmt *st = A(s, which);
	sqs_txt(st, 1, conv_id);
	sqs_txt(st, 2, value);
	sqlite3_bind_int64(st, 3, now);
	return sqs_step_done(s, st);
}

static int update_conversation(souk_store *s, rest_call *c, store_appends *out)
{
	store_conv conv;
	int rc = conv_or_404(s, c, &conv);
	if (rc)
		return rc < 0 ? rc : 0;
	if (c->status > 0) {
		sqlite3_stmt *st = A(s, A_CONV_SET_STATUS);
		sqs_txt(st, 1, c->conversation_id);
		sqlite3_bind_int(st, 2, c->status);
		sqlite3_bind_int64(st, 3, c->now_ms);
		if (sqs_step_done(s, st))
			return -1;
	}
	if (c->has_assignee &&
	    set_text(s, A_CONV_SET_ASSIGNEE, c->conversation_id, c->assignee, c->now_ms))
		return -1;
	if (sqs_load_conv(s, c->app_id, c->conversation_id, &conv) ||
	    sqs_announce_conv(s, c->app_id, &conv, c->now_ms, out))
		return -1;
	return conv_with_context(s, c, &conv);
}

static int handoff(souk_store *s, rest_call *c, store_appends *out)
{
	store_conv conv;
	int rc = conv_or_404(s, c, &conv);
	if (rc)
		return rc < 0 ? rc : 0;
	if (strcmp(conv.controller, c->to_integration) == 0)
		return conv_with_context(s, c, &conv); /* already in control: nothing to do */
	char from[STORE_ID_MAX];
	snprintf(from, sizeof(from), "%s", conv.controller);
	if (set_text(s, A_CONV_SET_CONTROLLER, c->conversation_id, c->to_integration, c->now_ms) ||
	    sqs_load_conv(s, c->app_id, c->conversation_id, &conv) ||
	    sqs_announce_conv(s, c->app_id, &conv, c->now_ms, out))
		return -1;
	/* the new controller hears of it (and fetches the history over REST) */
	json_t *data = json_pack("{s:o,s:s,s:s,s:s}", "conversation", sqa_conv_json(&conv), "from",
				 from, "to", c->to_integration, "reason", c->reason);
	rc = sqa_enqueue(s, c->app_id, &conv, "conversation.handoff", data, c->now_ms);
	if (rc < 0)
		return -1;
	c->webhooks_enqueued = rc > 0;
	return conv_with_context(s, c, &conv);
}

static void secret_new(char *out, size_t cap)
{
	unsigned char raw[32];
	unsigned char b64[64];
	RAND_bytes(raw, sizeof(raw));
	EVP_EncodeBlock(b64, raw, sizeof(raw));
	snprintf(out, cap, "whsec_%s", b64);
}

static int create_webhook(souk_store *s, rest_call *c)
{
	char id[STORE_ID_MAX] = "wh_", secret[80];
	if (souk_random_hex(id + 3, 8))
		return -1;
	secret_new(secret, sizeof(secret));
	sqlite3_stmt *st = A(s, A_TARGET_INSERT);
	sqs_txt(st, 1, id);
	sqs_txt(st, 2, c->app_id);
	sqs_txt(st, 3, c->integration);
	sqs_txt(st, 4, c->url);
	sqs_txt(st, 5, secret);
	sqs_txt(st, 6, c->events);
	sqlite3_bind_int64(st, 7, c->now_ms);
	if (sqs_step_done(s, st))
		return -1;
	c->http_status = 201;
	c->body = json_pack("{s:{s:s,s:s,s:s,s:s,s:s}}", "webhook", "id", id, "url", c->url,
			    "integration", c->integration, "events", c->events, "secret", secret);
	return 0;
}

static int target_secrets(souk_store *s, rest_call *c, char *secrets, size_t cap)
{
	sqlite3_stmt *st = A(s, A_TARGET_GET);
	sqs_txt(st, 1, c->target_id);
	sqs_txt(st, 2, c->app_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		sqs_copy_col(secrets, cap, st, 0);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		rest_error(c, 404, "webhook_not_found", "no such webhook in this app");
		return 1;
	}
	return rc == SQLITE_ROW ? 0 : -1;
}

static int rotate_secret(souk_store *s, rest_call *c)
{
	char secrets[512], fresh[80], both[600];
	int rc = target_secrets(s, c, secrets, sizeof(secrets));
	if (rc)
		return rc < 0 ? rc : 0;
	/* keep the newest previous secret: both sign until the next rotation */
	char *sp = strchr(secrets, ' ');
	if (sp)
		*sp = '\0';
	secret_new(fresh, sizeof(fresh));
	snprintf(both, sizeof(both), "%s %s", fresh, secrets);
	sqlite3_stmt *st = A(s, A_TARGET_SET_SECRETS);
	sqs_txt(st, 1, c->target_id);
	sqs_txt(st, 2, c->app_id);
	sqs_txt(st, 3, both);
	if (sqs_step_done(s, st))
		return -1;
	c->http_status = 200;
	c->body = json_pack("{s:s,s:i}", "secret", fresh, "active_secrets", 2);
	return 0;
}

static int delete_webhook(souk_store *s, rest_call *c)
{
	sqlite3_stmt *st = A(s, A_TARGET_DISABLE);
	sqs_txt(st, 1, c->target_id);
	sqs_txt(st, 2, c->app_id);
	if (sqs_step_done(s, st))
		return -1;
	if (sqlite3_changes(((sqlite_store *)s)->db) == 0)
		rest_error(c, 404, "webhook_not_found", "no such webhook in this app");
	else
		c->http_status = 204;
	return 0;
}

static int list_webhooks(souk_store *s, rest_call *c)
{
	sqlite3_stmt *st = A(s, A_TARGET_LIST);
	sqs_txt(st, 1, c->app_id);
	json_t *arr = json_array();
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *secrets = (const char *)sqlite3_column_text(st, 4);
		int n = secrets && strchr(secrets, ' ') ? 2 : 1;
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "id",
						     sqlite3_column_text(st, 0), "integration",
						     sqlite3_column_text(st, 1), "url",
						     sqlite3_column_text(st, 2), "events",
						     sqlite3_column_text(st, 3), "active_secrets",
						     n, "created_ms",
						     (json_int_t)sqlite3_column_int64(st, 5)));
	}
	sqlite3_reset(st);
	c->http_status = 200;
	c->body = json_pack("{s:o}", "webhooks", arr);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int list_deliveries(souk_store *s, rest_call *c)
{
	static const char *const states[] = {"pending", "delivered", "failed"};
	int state = -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(c->filter, states[i]) == 0)
			state = i;
	sqlite3_stmt *st = A(s, A_DELIVERIES_LIST);
	sqs_txt(st, 1, c->app_id);
	sqlite3_bind_int(st, 2, state);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)c->after);
	sqlite3_bind_int(st, 4, (int)c->limit);
	json_t *arr = json_array();
	int rc;
	int64_t last = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int stt = sqlite3_column_int(st, 5);
		last = sqlite3_column_int64(st, 0);
		json_array_append_new(
			arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:I,s:i,s:s,s:I,s:I}", "id",
				       (json_int_t)last, "event_id", sqlite3_column_text(st, 1),
				       "type", sqlite3_column_text(st, 2), "webhook_id",
				       sqlite3_column_text(st, 3), "conversation_id",
				       sqlite3_column_text(st, 4), "state",
				       stt >= 0 && stt < 3 ? states[stt] : "unknown", "attempts",
				       sqlite3_column_int(st, 6), "next_attempt_ms",
				       (json_int_t)sqlite3_column_int64(st, 7), "last_status",
				       sqlite3_column_int(st, 8), "last_error",
				       sqlite3_column_text(st, 9), "done_ms",
				       (json_int_t)sqlite3_column_int64(st, 10), "created_ms",
				       (json_int_t)sqlite3_column_int64(st, 11)));
	}
	sqlite3_reset(st);
	c->http_status = 200;
	c->body = json_pack("{s:o,s:I}", "deliveries", arr, "next_after", (json_int_t)last);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int list_conversations(souk_store *s, rest_call *c)
{
	int status = c->filter[0] ? payload_status_parse(c->filter) : 0;
	sqlite3_stmt *st = A(s, A_CONV_LIST);
	sqs_txt(st, 1, c->app_id);
	sqlite3_bind_int(st, 2, status);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)c->after);
	sqlite3_bind_int(st, 4, (int)c->limit);
	char ids[200][STORE_ID_MAX];
	size_t n = 0;
	int64_t last = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 200) {
		last = sqlite3_column_int64(st, 0);
		sqs_copy_col(ids[n++], STORE_ID_MAX, st, 1);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return -1;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		store_conv conv;
		if (sqs_load_conv(s, c->app_id, ids[i], &conv) == 0)
			json_array_append_new(arr, sqa_conv_json(&conv));
	}
	c->http_status = 200;
	c->body = json_pack("{s:o,s:I}", "conversations", arr, "next_after", (json_int_t)last);
	return 0;
}

static int list_messages(souk_store *s, rest_call *c)
{
	store_conv conv;
	int rc = conv_or_404(s, c, &conv);
	if (rc)
		return rc < 0 ? rc : 0;
	sqlite3_stmt *st = A(s, A_MSG_LIST);
	sqs_txt(st, 1, c->conversation_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)c->after);
	sqlite3_bind_int(st, 3, (int)c->limit);
	json_t *arr = json_array();
	uint64_t last = c->after;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		last = (uint64_t)sqlite3_column_int64(st, 1);
		json_t *sender = json_pack("{s:s,s:s}", "id", sqlite3_column_text(st, 2), "kind",
					   payload_sender_kind_name(sqlite3_column_int(st, 3)));
		const char *name = (const char *)sqlite3_column_text(st, 4);
		const char *avatar = (const char *)sqlite3_column_text(st, 5);
		const char *device = (const char *)sqlite3_column_text(st, 6);
		if (name && name[0])
			json_object_set_new(sender, "name", json_string(name));
		if (avatar && avatar[0])
			json_object_set_new(sender, "avatar_url", json_string(avatar));
		if (device && device[0])
			json_object_set_new(sender, "device_id", json_string(device));
		json_array_append_new(
			arr,
			json_pack("{s:s,s:s,s:I,s:o,s:o,s:I}", "id", sqlite3_column_text(st, 0),
				  "conversation_id", c->conversation_id, "conv_seq",
				  (json_int_t)last, "sender", sender, "content",
				  payload_content_blob_to_json(sqlite3_column_blob(st, 8),
							       (size_t)sqlite3_column_bytes(st, 8)),
				  "created_ms", (json_int_t)sqlite3_column_int64(st, 7)));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		return -1;
	}
	c->http_status = 200;
	c->body = json_pack("{s:o,s:I,s:b}", "messages", arr, "next_after", (json_int_t)last,
			    "has_more", last < conv.last_conv_seq);
	return 0;
}

static int user_context(souk_store *s, rest_call *c)
{
	sqlite3_stmt *st = A(s, A_USER_SUPPORT);
	sqs_txt(st, 1, c->app_id);
	sqs_txt(st, 2, c->user_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		rest_error(c, 404, "user_not_found", "this user has no conversation in this app");
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	json_t *ctx = payload_context_blob_to_json(sqlite3_column_blob(st, 1),
						   (size_t)sqlite3_column_bytes(st, 1));
	c->body = json_pack("{s:s,s:s,s:o}", "user_id", c->user_id, "conversation_id",
			    sqlite3_column_text(st, 0), "context", ctx);
	sqlite3_reset(st);
	c->http_status = 200;
	return 0;
}

static int app_get_or_update(souk_store *s, rest_call *c)
{
	if (c->kind == REST_UPDATE_APP &&
	    set_text(s, A_APP_SET_DEFAULT, c->app_id, c->integration, 0) != 0)
		return -1;
	sqlite3_stmt *st = A(s, A_APP_GET);
	sqs_txt(st, 1, c->app_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	c->body = json_pack("{s:{s:s,s:s,s:s}}", "app", "id", c->app_id, "name",
			    sqlite3_column_text(st, 0), "default_integration",
			    sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	c->http_status = 200;
	return 0;
}

static int auth(souk_store *s, rest_call *c)
{
	sqlite3_stmt *st = A(s, A_APP_BY_KEY);
	sqs_txt(st, 1, c->key_hash);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		sqs_copy_col(c->app_id, sizeof(c->app_id), st, 0);
		c->http_status = 200;
	} else {
		c->http_status = 401;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int typing(souk_store *s, rest_call *c)
{
	int rc = conv_or_404(s, c, &c->conv);
	if (rc)
		return rc < 0 ? rc : 0;
	c->http_status = 204;
	return 0;
}

/* One InAppPush event per targeted user, all in this transaction: either every user has
 * it or none does. Users who never connected get their stream created here. */
static int push(souk_store *s, rest_call *c, store_appends *out)
{
	char id[STORE_ID_MAX] = "push_";
	if (souk_random_hex(id + 5, 12))
		return -1;
	c->push->push_id = strdup(id);
	if (!c->push->push_id)
		return -1;
	Souk__V1__Event ev = SOUK__V1__EVENT__INIT;
	ev.body_case = SOUK__V1__EVENT__BODY_PUSH;
	ev.push = c->push;
	for (size_t i = 0; i < c->n_user_ids; i++)
		if (sqs_append_event(s, c->app_id, c->user_ids[i], &ev, c->now_ms, out))
			return -1;
	c->http_status = 202;
	c->body = json_pack("{s:s,s:I,s:I}", "push_id", id, "targeted", (json_int_t)c->n_user_ids,
			    "stored", (json_int_t)out->n);
	return 0;
}

int sqa_rest(souk_store *s, rest_call *c, store_appends *out)
{
	switch (c->kind) {
	case REST_PUSH:
		return push(s, c, out);
	case REST_POST_MESSAGE:
		return post_message(s, c, out);
	case REST_MARK_READ:
		return agent_read(s, c, out);
	case REST_UPDATE_CONVERSATION:
		return update_conversation(s, c, out);
	case REST_HANDOFF:
		return handoff(s, c, out);
	case REST_CREATE_WEBHOOK:
		return create_webhook(s, c);
	case REST_DELETE_WEBHOOK:
		return delete_webhook(s, c);
	case REST_ROTATE_WEBHOOK_SECRET:
		return rotate_secret(s, c);
	case REST_UPDATE_APP:
	case REST_GET_APP:
		return app_get_or_update(s, c);
	case REST_AUTH:
		return auth(s, c);
	case REST_TYPING:
		return typing(s, c);
	case REST_GET_CONVERSATION: {
		store_conv conv;
		int rc = conv_or_404(s, c, &conv);
		return rc ? (rc < 0 ? rc : 0) : conv_with_context(s, c, &conv);
	}
	case REST_LIST_CONVERSATIONS:
		return list_conversations(s, c);
	case REST_LIST_MESSAGES:
		return list_messages(s, c);
	case REST_GET_USER_CONTEXT:
		return user_context(s, c);
	case REST_LIST_WEBHOOKS:
		return list_webhooks(s, c);
	case REST_LIST_DELIVERIES:
		return list_deliveries(s, c);
	}
	return -1;
}

/* ---- webhook outbox ---------------------------------------------------------------- */

int sqa_webhook_due(souk_store *s, int64_t now_ms, size_t limit, const char *const *busy_keys,
		    size_t n_busy, store_deliveries *out)
{
	memset(out, 0, sizeof(*out));
	out->v = calloc(limit ? limit : 1, sizeof(*out->v));
	if (!out->v)
		return -1;
	sqlite3_stmt *st = A(s, A_DUE);
	sqlite3_bind_int64(st, 1, now_ms);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)(limit + n_busy));
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && out->n < limit) {
		store_delivery *d = &out->v[out->n];
		sqs_copy_col(d->target_id, sizeof(d->target_id), st, 2);
		sqs_copy_col(d->conversation_id, sizeof(d->conversation_id), st, 3);
		char key[2 * STORE_ID_MAX + 2];
		snprintf(key, sizeof(key), "%s/%s", d->target_id, d->conversation_id);
		int busy = 0;
		for (size_t i = 0; i < n_busy && !busy; i++)
			busy = strcmp(busy_keys[i], key) == 0;
		if (busy)
			continue;
		d->delivery_id = sqlite3_column_int64(st, 0);
		sqs_copy_col(d->event_id, sizeof(d->event_id), st, 1);
		d->attempts = sqlite3_column_int(st, 4);
		d->first_attempt_ms = sqlite3_column_int64(st, 5);
		sqs_copy_col(d->url, sizeof(d->url), st, 6);
		sqs_copy_col(d->secrets, sizeof(d->secrets), st, 7);
		sqs_copy_col(d->type, sizeof(d->type), st, 8);
		const char *body = (const char *)sqlite3_column_text(st, 9);
		d->body = strdup(body ? body : "{}");
		if (!d->body)
			break;
		out->n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_deliveries_free(out);
		return -1;
	}
	st = A(s, A_NEXT_DUE);
	sqlite3_bind_int64(st, 1, now_ms);
	if (sqlite3_step(st) == SQLITE_ROW)
		out->next_due_ms = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int sqa_webhook_result(souk_store *s, int64_t delivery_id, int delivered, int http_status,
		       const char *error, int64_t now_ms, int64_t next_attempt_ms)
{
	sqlite3_stmt *st;
	if (delivered) {
		st = A(s, A_RESULT_OK);
		sqlite3_bind_int64(st, 1, delivery_id);
		sqlite3_bind_int(st, 2, http_status);
		sqlite3_bind_int64(st, 3, now_ms);
	} else if (next_attempt_ms) {
		st = A(s, A_RESULT_RETRY);
		sqlite3_bind_int64(st, 1, delivery_id);
		sqlite3_bind_int(st, 2, http_status);
		sqs_txt(st, 3, error);
		sqlite3_bind_int64(st, 4, now_ms);
		sqlite3_bind_int64(st, 5, next_attempt_ms);
	} else {
		st = A(s, A_RESULT_FAIL);
		sqlite3_bind_int64(st, 1, delivery_id);
		sqlite3_bind_int(st, 2, http_status);
		sqs_txt(st, 3, error);
		sqlite3_bind_int64(st, 4, now_ms);
	}
	return sqs_step_done(s, st);
}
