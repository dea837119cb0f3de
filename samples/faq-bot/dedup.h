/*
 * dedup.h — which webhook ids the bot has seen: a bounded LRU set.
 *
 * soukd delivers at least once and retries with the same webhook-id; the bot processes
 * an id once. An id is "in progress" while its REST calls run (a redelivery then waits),
 * "done" after they succeeded; a failed id is forgotten so that the redelivery retries.
 * Only done ids are evicted (least recently used first); the Idempotency-Key on every
 * post covers ids evicted or lost in a restart.
 */
#ifndef FAQ_DEDUP_H
#define FAQ_DEDUP_H

#include <stddef.h>

typedef struct faq_dedup faq_dedup;

enum { FAQ_DEDUP_NEW = 0, FAQ_DEDUP_IN_PROGRESS = 1, FAQ_DEDUP_DONE = 2 };

/* capacity >= 1: done ids kept. NULL when out of memory. */
faq_dedup *faq_dedup_new(size_t capacity);
void faq_dedup_free(faq_dedup *d);

/* FAQ_DEDUP_NEW (now recorded as in progress), FAQ_DEDUP_IN_PROGRESS or FAQ_DEDUP_DONE;
 * -1 when out of memory. A hit counts as a use for the LRU order. */
int faq_dedup_begin(faq_dedup *d, const char *id);

/* Ends an id begun with faq_dedup_begin: ok keeps it as done, !ok forgets it. */
void faq_dedup_finish(faq_dedup *d, const char *id, int ok);

/* Ids currently held (done and in progress). */
size_t faq_dedup_count(const faq_dedup *d);

#endif
