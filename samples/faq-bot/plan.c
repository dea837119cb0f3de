/*
 * plan.c — from a webhook event to the REST calls that answer it (see plan.h).
 *
 * Owns: reading the events the bot cares about (conversation.created, message.created
 * from a shopper), choosing the answer from the kb, and writing the request bodies.
 * Never: performs I/O, or copies the shopper's text anywhere but into the matcher.
 */
#include "plan.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

static const char *get_str(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static int path_escape(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
		if (o + (plain ? 1 : 3) >= cap)
			return -1;
		if (plain) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

/* soukd keeps Idempotency-Keys below 256 bytes; long webhook ids are hashed. */
static void idem_key(char *out, size_t cap, const char *webhook_id, size_t step)
{
	size_t n = strlen(webhook_id);
	if (n <= 80) {
		snprintf(out, cap, "faq-bot/%s/%zu", webhook_id, step);
		return;
	}
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_Digest(webhook_id, n, md, &mdlen, EVP_sha256(), NULL);
	char hex[65];
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(out, cap, "faq-bot/sha256-%s/%zu", hex, step);
}

static json_t *sender_json(const faq_identity *who)
{
	json_t *s = json_pack("{s:s,s:s}", "id", who->id, "kind", "bot");
	if (s && who->name && who->name[0])
		json_object_set_new(s, "name", json_string(who->name));
	if (s && who->avatar_url && who->avatar_url[0])
		json_object_set_new(s, "avatar_url", json_string(who->avatar_url));
	return s;
}

/* Text alone, or quick replies whose prompt is the text. The fallback text lists the
 * replies so that clients without quick-reply buttons (shopper-cli) show them too. */
static json_t *content_json(const faq_answer *a)
{
	if (a->n_replies == 0)
		return json_pack("{s:{s:s}}", "text", "body", a->text);
	json_t *replies = json_array();
	size_t flen = strlen(a->text) + 2;
	for (size_t i = 0; i < a->n_replies; i++) {
		json_array_append_new(replies, json_pack("{s:s,s:s}", "id", a->replies[i].id,
							 "title", a->replies[i].title));
		flen += strlen(a->replies[i].title) + 3;
	}
	char *fallback = malloc(flen + 1);
	if (!fallback) {
		json_decref(replies);
		return NULL;
	}
	size_t o = (size_t)snprintf(fallback, flen + 1, "%s\n", a->text);
	for (size_t i = 0; i < a->n_replies; i++)
		o += (size_t)snprintf(fallback + o, flen + 1 - o, "%s[%s]", i ? " " : "",
				      a->replies[i].title);
	json_t *c = json_pack("{s:s,s:{s:s,s:o}}", "fallback_text", fallback, "quick_replies",
			      "prompt", a->text, "replies", replies);
	free(fallback);
	return c;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static faq_step *add_step(faq_plan *p, faq_step_kind kind, const char *method,
			  const char *escaped_id, const char *suffix)
{
	if (p->n_steps >= FAQ_PLAN_MAX_STEPS)
		return NULL;
	faq_step *s = &p->steps[p->n_steps++];
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->method = method;
	snprintf(s->path, sizeof(s->path), "/v1/conversations/%s%s", escaped_id, suffix);
	return s;
}

/* check controller, say the answer, and hand off when the answer says so */
static int plan_answer(faq_plan *p, const faq_plan_config *cfg, const char *webhook_id,
		       const faq_answer *a)
{
	char esc[3 * 160];
	if (path_escape(esc, sizeof(esc), p->conversation_id))
		return -1;
	p->intent = a->intent;
	add_step(p, FAQ_STEP_CHECK_CONTROLLER, "GET", esc, "");
	faq_step *m = add_step(p, FAQ_STEP_POST_MESSAGE, "POST", esc, "/messages");
	json_t *content = content_json(a);
	json_t *sender = sender_json(faq_kb_identity(cfg->kb));
	if (!content || !sender) {
		json_decref(content);
		json_decref(sender);
		return -1;
	}
	m->body = dump(json_pack("{s:o,s:o}", "sender", sender, "content", content));
	idem_key(m->idem_key, sizeof(m->idem_key), webhook_id, 1);
	if (!m->body)
		return -1;
	if (a->handoff) {
		faq_step *h = add_step(p, FAQ_STEP_HANDOFF, "POST", esc, "/handoff");
		h->body = dump(json_pack("{s:s,s:s}", "to", cfg->desk, "reason",
					 a->reason ? a->reason : "handed off by the bot"));
		if (!h->body)
			return -1;
	}
	return 0;
}

int faq_plan_make(faq_plan *out, const faq_plan_config *cfg, const char *webhook_id,
		  const json_t *event, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (!json_is_object(event))
		return bad(why, "the body must be a JSON object");
	const char *type = get_str(event, "type");
	json_t *data = json_object_get(event, "data");
	if (!type)
		return bad(why, "type must be a string");
	if (!json_is_object(data))
		return bad(why, "data must be an object");
	snprintf(out->type, sizeof(out->type), "%s", type);
	int created = strcmp(type, "conversation.created") == 0;
	int message = strcmp(type, "message.created") == 0;
	if (!created && !message)
		return 0; /* read receipts, context, CSAT, handoffs: nothing to say */

	json_t *conv = json_object_get(data, "conversation");
	const char *conv_id = get_str(conv, "id");
	if (!conv_id || !conv_id[0] || strlen(conv_id) >= sizeof(out->conversation_id))
		return bad(why, "data.conversation.id must be a string of 1..128 bytes");
	snprintf(out->conversation_id, sizeof(out->conversation_id), "%s", conv_id);

	faq_answer a;
	if (created) {
		faq_kb_greeting(cfg->kb, &a);
	} else {
		json_t *msg = json_object_get(data, "message");
		json_t *sender = json_object_get(msg, "sender");
		json_t *content = json_object_get(msg, "content");
		if (!json_is_object(msg) || !json_is_object(content))
			return bad(why, "data.message.content must be an object");
		const char *kind = get_str(sender, "kind");
		if (!kind)
			return bad(why, "data.message.sender.kind must be a string");
		if (strcmp(kind, "shopper") != 0)
			return 0; /* our own answers and the agents' */
		if (json_object_get(content, "csat_answer"))
			return 0; /* a rating is not a question */
		const char *text = get_str(json_object_get(content, "text"), "body");
		if (!text)
			text = get_str(content, "fallback_text");
		faq_kb_match(cfg->kb, text ? text : "", &a);
	}
	if (plan_answer(out, cfg, webhook_id, &a)) {
		faq_plan_clear(out);
		return bad(why, "out of memory");
	}
	return 0;
}

void faq_plan_clear(faq_plan *plan)
{
	for (size_t i = 0; i < plan->n_steps; i++) {
		free(plan->steps[i].body);
		plan->steps[i].body = NULL;
	}
	plan->n_steps = 0;
}
