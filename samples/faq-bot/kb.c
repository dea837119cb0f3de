/*
 * kb.c — loading and matching the knowledge base (see kb.h for the matching rules).
 *
 * Owns: validation of the kb file, with messages that name the offending field, and the
 * keyword matcher. The parsed JSON stays alive inside the kb: answers borrow its strings.
 * Never: logs or keeps the shopper's text; it only looks at it.
 */
#include "kb.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A shopper's message longer than this is matched on its beginning only. */
enum { MATCH_MAX = 4096, TEXT_MAX = 8192, REPLIES_MAX = 10, TITLE_MAX = 100, ID_MAX = 64 };

typedef struct keyword {
	char *norm; /* " w1 w2 " (exact) or " w1 w2" (prefix) */
	int words;
} keyword;

typedef struct intent {
	const char *id;
	const char *text;
	keyword *kw;
	size_t n_kw;
	faq_quick_reply *replies;
	size_t n_replies;
	const char *reason; /* handoff and fallback only */
} intent;

struct faq_kb {
	json_t *root;
	faq_identity who;
	intent greeting, handoff, fallback;
	intent *intents;
	size_t n_intents;
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Lowercases ASCII, turns everything else but letters, digits and non-ASCII bytes into
 * single spaces, and frames the result with one space on each side. */
static char *normalize(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *out = malloc(n + 3);
	if (!out)
		return NULL;
	size_t o = 0;
	out[o++] = ' ';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80 || isalnum(c))
			out[o++] = (char)tolower(c);
		else if (out[o - 1] != ' ')
			out[o++] = ' ';
	}
	if (out[o - 1] != ' ')
		out[o++] = ' ';
	out[o] = '\0';
	return out;
}

static const char *str_field(json_t *obj, const char *key, int required, size_t max,
			     const char *where, char *err, size_t errlen, int *bad)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required) {
			*bad = fail(err, errlen, "%s%s is required", where, key);
			return NULL;
		}
		return "";
	}
	if (!json_is_string(v) || (required && !json_string_length(v)) ||
	    json_string_length(v) > max) {
		*bad = fail(err, errlen, "%s%s must be a %sstring of at most %zu bytes", where, key,
			    required ? "non-empty " : "", max);
		return NULL;
	}
	return json_string_value(v);
}

static int parse_keywords(intent *it, json_t *arr, const char *where, char *err, size_t errlen)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return fail(err, errlen, "%skeywords must be a non-empty array of strings", where);
	it->kw = calloc(json_array_size(arr), sizeof(*it->kw));
	if (!it->kw)
		return fail(err, errlen, "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			return fail(err, errlen, "%skeywords[%zu] must be a string", where, i);
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		int prefix = n > 0 && s[n - 1] == '*';
		keyword *k = &it->kw[it->n_kw];
		if (!(k->norm = normalize(s, prefix ? n - 1 : n)))
			return fail(err, errlen, "out of memory");
		it->n_kw++;
		if (strcmp(k->norm, " ") == 0)
			return fail(err, errlen, "%skeywords[%zu] has no letters or digits", where,
				    i);
		for (const char *p = k->norm + 1; *p; p++)
			k->words += *p == ' ';
		if (prefix)
			k->norm[strlen(k->norm) - 1] = '\0';
	}
	return 0;
}

/* "quick_replies": ["Title", ...] or [{"id": "...", "title": "..."}, ...] */
static int parse_replies(intent *it, json_t *arr, const char *where, char *err, size_t errlen)
{
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) > REPLIES_MAX)
		return fail(err, errlen, "%squick_replies must be an array of at most %d replies",
			    where, REPLIES_MAX);
	it->replies = calloc(json_array_size(arr) + 1, sizeof(*it->replies));
	if (!it->replies)
		return fail(err, errlen, "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		faq_quick_reply *r = &it->replies[it->n_replies];
		char w[160];
		snprintf(w, sizeof(w), "%squick_replies[%zu].", where, i);
		int bad = 0;
		if (json_is_string(v)) {
			r->title = json_string_value(v);
			r->id = r->title;
			if (!r->title[0] || strlen(r->title) > TITLE_MAX)
				return fail(err, errlen, "%s must be 1..%d bytes", w, TITLE_MAX);
		} else if (json_is_object(v)) {
			r->title = str_field(v, "title", 1, TITLE_MAX, w, err, errlen, &bad);
			if (!bad)
				r->id = str_field(v, "id", 1, ID_MAX, w, err, errlen, &bad);
			if (bad)
				return -1;
		} else {
			return fail(err, errlen,
				    "%s must be a string or an object with id and title", w);
		}
		it->n_replies++;
	}
	return 0;
}

static int parse_intent(intent *it, json_t *o, const char *where, int need_keywords,
			int need_reason, char *err, size_t errlen)
{
	if (!json_is_object(o))
		return fail(err, errlen, "%s must be an object", where[0] ? where : "the kb");
	char w[96];
	snprintf(w, sizeof(w), "%s.", where);
	int bad = 0;
	it->text = str_field(o, "text", 1, TEXT_MAX, w, err, errlen, &bad);
	if (bad)
		return -1;
	if (need_reason) {
		it->reason = str_field(o, "reason", 0, 200, w, err, errlen, &bad);
		if (bad)
			return -1;
	}
	if (need_keywords && parse_keywords(it, json_object_get(o, "keywords"), w, err, errlen))
		return -1;
	return parse_replies(it, json_object_get(o, "quick_replies"), w, err, errlen);
}

static void intent_free(intent *it)
{
	for (size_t i = 0; i < it->n_kw; i++)
		free(it->kw[i].norm);
	free(it->kw);
	free(it->replies);
}

void faq_kb_free(faq_kb *kb)
{
	if (!kb)
		return;
	intent_free(&kb->greeting);
	intent_free(&kb->handoff);
	intent_free(&kb->fallback);
	for (size_t i = 0; i < kb->n_intents; i++)
		intent_free(&kb->intents[i]);
	free(kb->intents);
	json_decref(kb->root);
	free(kb);
}

static int parse(faq_kb *kb, char *err, size_t errlen)
{
	json_t *root = kb->root;
	if (!json_is_object(root))
		return fail(err, errlen, "the kb must be a JSON object");
	json_t *bot = json_object_get(root, "bot");
	if (!json_is_object(bot))
		return fail(err, errlen, "bot must be an object with id and name");
	int bad = 0;
	kb->who.id = str_field(bot, "id", 1, 128, "bot.", err, errlen, &bad);
	if (!bad)
		kb->who.name = str_field(bot, "name", 0, 128, "bot.", err, errlen, &bad);
	if (!bad)
		kb->who.avatar_url =
			str_field(bot, "avatar_url", 0, 2048, "bot.", err, errlen, &bad);
	if (bad)
		return -1;
	if (parse_intent(&kb->greeting, json_object_get(root, "greeting"), "greeting", 0, 0, err,
			 errlen) ||
	    parse_intent(&kb->handoff, json_object_get(root, "handoff"), "handoff", 1, 1, err,
			 errlen) ||
	    parse_intent(&kb->fallback, json_object_get(root, "fallback"), "fallback", 0, 1, err,
			 errlen))
		return -1;
	kb->greeting.id = "greeting";
	kb->handoff.id = "handoff";
	kb->fallback.id = "fallback";
	json_t *arr = json_object_get(root, "intents");
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return fail(err, errlen, "intents must be a non-empty array");
	kb->intents = calloc(json_array_size(arr), sizeof(*kb->intents));
	if (!kb->intents)
		return fail(err, errlen, "out of memory");
	size_t i;
	json_t *o;
	json_array_foreach(arr, i, o)
	{
		char w[32];
		snprintf(w, sizeof(w), "intents[%zu]", i);
		intent *it = &kb->intents[kb->n_intents++];
		if (parse_intent(it, o, w, 1, 0, err, errlen))
			return -1;
		char w2[40];
		snprintf(w2, sizeof(w2), "%s.", w);
		it->id = str_field(o, "id", 1, ID_MAX, w2, err, errlen, &bad);
		if (bad)
			return -1;
		if (!strcmp(it->id, "greeting") || !strcmp(it->id, "handoff") ||
		    !strcmp(it->id, "fallback"))
			return fail(err, errlen, "%s.id \"%s\" is reserved", w, it->id);
		for (size_t k = 0; k + 1 < kb->n_intents; k++)
			if (!strcmp(kb->intents[k].id, it->id))
				return fail(err, errlen, "%s.id \"%s\" is used twice", w, it->id);
	}
	return 0;
}

int faq_kb_parse(faq_kb **out, const char *json, size_t len, char *err, size_t errlen)
{
	*out = NULL;
	faq_kb *kb = calloc(1, sizeof(*kb));
	if (!kb)
		return fail(err, errlen, "out of memory");
	json_error_t je;
	kb->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!kb->root) {
		free(kb);
		return fail(err, errlen, "not valid JSON (line %d, column %d): %s", je.line,
			    je.column, je.text);
	}
	if (parse(kb, err, errlen)) {
		faq_kb_free(kb);
		return -1;
	}
	*out = kb;
	return 0;
}

int faq_kb_load(faq_kb **out, const char *path, char *err, size_t errlen)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f)
		return fail(err, errlen, "cannot open %s", path);
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap);
	if (!buf) {
		fclose(f);
		return fail(err, errlen, "out of memory");
	}
	len = fread(buf, 1, cap, f);
	int too_big = len == cap;
	fclose(f);
	if (too_big) {
		free(buf);
		return fail(err, errlen, "%s is larger than 1 MiB", path);
	}
	char inner[400];
	int rc = faq_kb_parse(out, buf, len, inner, sizeof(inner));
	free(buf);
	if (rc)
		return fail(err, errlen, "%s: %s", path, inner);
	return 0;
}

/* ---- matching ---------------------------------------------------------------------- */

static int score(const intent *it, const char *norm)
{
	int s = 0;
	for (size_t i = 0; i < it->n_kw; i++)
		if (strstr(norm, it->kw[i].norm))
			s += it->kw[i].words;
	return s;
}

static void answer_from(const intent *it, int handoff, faq_answer *out)
{
	out->intent = it->id;
	out->text = it->text;
	out->replies = it->replies;
	out->n_replies = it->n_replies;
	out->handoff = handoff;
	out->reason = it->reason && it->reason[0] ? it->reason : NULL;
}

/* A tapped quick reply arrives as its title: the reply's id may name an intent. */
static const intent *tapped(const faq_kb *kb, const char *norm, int *is_handoff)
{
	const intent *all[3] = {&kb->greeting, &kb->handoff, &kb->fallback};
	for (size_t g = 0; g < 3 + kb->n_intents; g++) {
		const intent *it = g < 3 ? all[g] : &kb->intents[g - 3];
		for (size_t r = 0; r < it->n_replies; r++) {
			char *t = normalize(it->replies[r].title, MATCH_MAX);
			int same = t && strcmp(t, norm) == 0;
			free(t);
			if (!same)
				continue;
			const char *id = it->replies[r].id;
			if (!strcmp(id, "handoff")) {
				*is_handoff = 1;
				return &kb->handoff;
			}
			for (size_t i = 0; i < kb->n_intents; i++)
				if (!strcmp(kb->intents[i].id, id))
					return &kb->intents[i];
		}
	}
	return NULL;
}

void faq_kb_match(const faq_kb *kb, const char *text, faq_answer *out)
{
	char *norm = normalize(text ? text : "", MATCH_MAX);
	if (!norm) {
		answer_from(&kb->fallback, 1, out);
		return;
	}
	int is_handoff = 0;
	const intent *best = tapped(kb, norm, &is_handoff);
	if (!best && score(&kb->handoff, norm) > 0) {
		best = &kb->handoff;
		is_handoff = 1;
	}
	if (!best) {
		int best_score = 0;
		for (size_t i = 0; i < kb->n_intents; i++) {
			int s = score(&kb->intents[i], norm);
			if (s > best_score) {
				best_score = s;
				best = &kb->intents[i];
			}
		}
	}
	free(norm);
	if (!best) {
		answer_from(&kb->fallback, 1, out);
		return;
	}
	answer_from(best, is_handoff, out);
}

void faq_kb_greeting(const faq_kb *kb, faq_answer *out)
{
	answer_from(&kb->greeting, 0, out);
}

const faq_identity *faq_kb_identity(const faq_kb *kb)
{
	return &kb->who;
}

size_t faq_kb_intent_count(const faq_kb *kb)
{
	return kb->n_intents;
}
