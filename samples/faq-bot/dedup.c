/*
 * dedup.c — the bounded LRU set of webhook ids (see dedup.h).
 *
 * Owns: a chained hash table over a doubly linked recency list, most recent first.
 * Never: evicts an id in progress (their number is bounded by the open connections).
 */
#include "dedup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry entry;
struct entry {
	entry *hnext;	    /* hash chain */
	entry *prev, *next; /* recency list */
	int state;	    /* FAQ_DEDUP_IN_PROGRESS or FAQ_DEDUP_DONE */
	char id[];
};

struct faq_dedup {
	entry **buckets;
	size_t n_buckets; /* a power of two */
	entry *head, *tail;
	size_t count, n_done, capacity;
};

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

faq_dedup *faq_dedup_new(size_t capacity)
{
	faq_dedup *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->capacity = capacity ? capacity : 1;
	d->n_buckets = 16;
	while (d->n_buckets < d->capacity * 2 && d->n_buckets < ((size_t)1 << 24))
		d->n_buckets *= 2;
	d->buckets = calloc(d->n_buckets, sizeof(*d->buckets));
	if (!d->buckets) {
		free(d);
		return NULL;
	}
	return d;
}

void faq_dedup_free(faq_dedup *d)
{
	if (!d)
		return;
	for (entry *e = d->head, *n; e; e = n) {
		n = e->next;
		free(e);
	}
	free(d->buckets);
	free(d);
}

static entry **slot(faq_dedup *d, const char *id)
{
	entry **pp = &d->buckets[hash(id) & (d->n_buckets - 1)];
	while (*pp && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->hnext;
	return pp;
}

static void unlink_list(faq_dedup *d, entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		d->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		d->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(faq_dedup *d, entry *e)
{
	e->prev = NULL;
	e->next = d->head;
	if (d->head)
		d->head->prev = e;
	d->head = e;
	if (!d->tail)
		d->tail = e;
}

static void remove_entry(faq_dedup *d, entry *e)
{
	entry **pp = slot(d, e->id);
	if (*pp == e)
		*pp = e->hnext;
	unlink_list(d, e);
	d->count--;
	if (e->state == FAQ_DEDUP_DONE)
		d->n_done--;
	free(e);
}

/* Drops least recently used done ids until at most capacity remain. */
static void evict(faq_dedup *d)
{
	entry *e = d->tail;
	while (e && d->n_done > d->capacity) {
		entry *prev = e->prev;
		if (e->state == FAQ_DEDUP_DONE)
			remove_entry(d, e);
		e = prev;
	}
}

int faq_dedup_begin(faq_dedup *d, const char *id)
{
	entry **pp = slot(d, id);
	if (*pp) {
		entry *e = *pp;
		unlink_list(d, e);
		push_front(d, e);
		return e->state;
	}
	size_t n = strlen(id);
	entry *e = calloc(1, sizeof(*e) + n + 1);
	if (!e)
		return -1;
	memcpy(e->id, id, n + 1);
	e->state = FAQ_DEDUP_IN_PROGRESS;
	*pp = e;
	push_front(d, e);
	d->count++;
	return FAQ_DEDUP_NEW;
}

void faq_dedup_finish(faq_dedup *d, const char *id, int ok)
{
	entry *e = *slot(d, id);
	if (!e)
		return;
	if (!ok) {
		if (e->state == FAQ_DEDUP_IN_PROGRESS)
			remove_entry(d, e);
		return;
	}
	if (e->state != FAQ_DEDUP_DONE) {
		e->state = FAQ_DEDUP_DONE;
		d->n_done++;
	}
	evict(d);
}

size_t faq_dedup_count(const faq_dedup *d)
{
	return d->count;
}
