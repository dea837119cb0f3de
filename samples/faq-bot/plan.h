/*
 * plan.h — what the bot does about one webhook event: a short list of REST calls to
 * soukd, decided from the event and the knowledge base alone (no I/O here).
 *
 * Every plan that speaks starts by reading the conversation and stops there unless this
 * bot's integration still controls it: the bot never talks over the human desk, even when
 * an event queued before a handoff reaches it afterwards. Posts carry an Idempotency-Key
 * derived from the webhook-id, so a redelivered event never produces a second message.
 */
#ifndef FAQ_PLAN_H
#define FAQ_PLAN_H

#include <jansson.h>
#include <stddef.h>

#include "kb.h"

typedef enum faq_step_kind {
	FAQ_STEP_CHECK_CONTROLLER, /* GET the conversation; stop unless we control it */
	FAQ_STEP_POST_MESSAGE,	   /* POST .../messages with an Idempotency-Key */
	FAQ_STEP_HANDOFF	   /* POST .../handoff */
} faq_step_kind;

typedef struct faq_step {
	faq_step_kind kind;
	const char *method;
	char path[512];
	char *body;	    /* JSON, owned; NULL for GET */
	char idem_key[128]; /* "" for none */
} faq_step;

enum { FAQ_PLAN_MAX_STEPS = 4 };

typedef struct faq_plan {
	char type[64]; /* the event type, for logs */
	char conversation_id[160];
	const char *intent; /* borrowed from the kb; NULL when the plan is empty */
	faq_step steps[FAQ_PLAN_MAX_STEPS];
	size_t n_steps; /* 0: nothing to do (event ignored) */
} faq_plan;

typedef struct faq_plan_config {
	const faq_kb *kb;
	const char *integration; /* ours, e.g. "bot" */
	const char *desk;	 /* where handoffs go, e.g. "desk" */
} faq_plan_config;

/* Plans the answer to one verified event. 0 with a plan (maybe empty), or -1 with *why
 * when the event lacks what its type requires (a malformed delivery: HTTP 400). */
int faq_plan_make(faq_plan *out, const faq_plan_config *cfg, const char *webhook_id,
		  const json_t *event, const char **why);
void faq_plan_clear(faq_plan *plan);

#endif
