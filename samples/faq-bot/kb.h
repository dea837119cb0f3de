/*
 * kb.h — the bot's knowledge base: what it answers, loaded from an editable JSON file
 * (kb.json here; the format is in README.md).
 *
 * Matching is by keywords, deliberately simple and predictable for the merchant who edits
 * the file: the text is lowercased and split into words; a keyword (one or more words)
 * matches whole words, or a word prefix when it ends with '*' ("return*" matches
 * "returns"). Each matched keyword scores its number of words; the best intent wins, the
 * first in the file on a tie. A request for a person (the "handoff" keywords) beats every
 * intent. Tapping a quick reply whose id names an intent (or "handoff") picks that intent.
 */
#ifndef FAQ_KB_H
#define FAQ_KB_H

#include <stddef.h>

typedef struct faq_kb faq_kb;

typedef struct faq_quick_reply {
	const char *id;
	const char *title;
} faq_quick_reply;

/* What to say; every pointer is borrowed from the kb and lives until faq_kb_free(). */
typedef struct faq_answer {
	const char *intent; /* an intent id, or "greeting", "handoff", "fallback" */
	const char *text;
	const faq_quick_reply *replies;
	size_t n_replies;
	int handoff;	    /* 1: say text, then hand the conversation to the desk */
	const char *reason; /* the handoff reason (when handoff) */
} faq_answer;

/* Who the bot is in the conversation (the REST API's sender). */
typedef struct faq_identity {
	const char *id;
	const char *name;
	const char *avatar_url; /* "" when none */
} faq_identity;

/* Reads and validates a kb file. On error returns -1 with a message naming the field
 * (for example "intents[2].keywords must be a non-empty array of strings"). */
int faq_kb_load(faq_kb **out, const char *path, char *err, size_t errlen);
int faq_kb_parse(faq_kb **out, const char *json, size_t len, char *err, size_t errlen);
void faq_kb_free(faq_kb *kb);

/* The answer to a shopper's text (never fails: no match is the fallback answer). */
void faq_kb_match(const faq_kb *kb, const char *text, faq_answer *out);
/* The greeting for a new conversation. */
void faq_kb_greeting(const faq_kb *kb, faq_answer *out);
const faq_identity *faq_kb_identity(const faq_kb *kb);
size_t faq_kb_intent_count(const faq_kb *kb);

#endif
