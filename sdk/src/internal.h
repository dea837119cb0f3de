/*
 * internal.h — types shared by libsouk's source files. Nothing here is public.
 *
 * Naming: souk__* is internal (hidden by -fvisibility=hidden and the version script);
 * souk_* without the double underscore is the public API.
 */
#ifndef SOUK_INTERNAL_H
#define SOUK_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#include "souk/souk.h"

/* ---- value objects (objects.c) ----------------------------------------------------- */

struct souk_message {
	int64_t id;
	int64_t conv_id;
	char *server_id; /* NULL until acked */
	char cmid_hex[33];
	uint64_t conv_seq;
	char *sender_id;
	char *sender_name;
	char *sender_avatar_url;
	int sender_kind;
	int outgoing;
	int status;
	int content_kind;
	char *text;
	int failure_code;
	char *failure_reason;
	int64_t created_ms;
	int64_t server_time_ms;
};

struct souk_message_list {
	size_t n;
	souk_message **items;
};

struct souk_conversation {
	int64_t id;
	char *server_id;
	int is_support;
	int status;
	uint64_t unread;
	uint64_t read_up_to;
	uint64_t peer_read_up_to;
	uint64_t last_conv_seq;
	souk_message *last;
};

struct souk_conversation_list {
	size_t n;
	souk_conversation **items;
};

struct souk_event {
	int type;
	uint64_t serial;
	souk_message *msg;
	souk_conversation *conv;
	int64_t conv_id;
	char *user_id;
	int typing;
	int state;
	int error;
	int wire_code;
	char *error_message;
	struct souk_event *next;
};

/* Events produced inside a store transaction, published only after it commits. */
typedef struct souk__evlist {
	souk_event *head;
	souk_event *tail;
	/* conversations touched by the transaction: one CONVERSATION_UPDATED each */
	int64_t *convs;
	size_t nconvs, capconvs;
	int oom; /* an allocation failed while recording: the transaction must roll back */
} souk__evlist;

void souk__message_free_fields(souk_message *m);
char *souk__strdup(const char *s);
souk_event *souk__event_new(int type);
void souk__evlist_push(souk__evlist *l, souk_event *ev);
void souk__evlist_touch(souk__evlist *l, int64_t conv_id);
void souk__evlist_clear(souk__evlist *l);

/* ---- errors (errors.c) --------------------------------------------------------------- */

/* Records the calling thread's last error for souk_client_errmsg(); returns `code`. */
int souk__fail(const souk_client *c, int code, const char *msg);
void souk__clear_error(void);

/* ---- util (util.c) -------------------------------------------------------------------- */

int64_t souk__now_ms(void);  /* wall clock, ms since the epoch */
int64_t souk__mono_ms(void); /* monotonic clock, ms */
int souk__random(void *buf, size_t len);
uint32_t souk__random_u32(void);
void souk__hex(char *out, const uint8_t *in, size_t len); /* out: 2*len+1 */
void souk__wipe(void *p, size_t len);
/* Full-jitter exponential backoff: a delay in [d/2, d] with d = min(max, min * 2^attempt). */
unsigned souk__backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms);

/* ---- logging (log.c) ----------------------------------------------------------------- */

typedef struct souk__log {
	int level;
	souk_log_cb cb;
	void *ud;
	souk_destroy_cb destroy;
} souk__log;

#if defined(__GNUC__)
#define SOUK__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SOUK__PRINTF(a, b)
#endif
/* Never pass message bodies, tokens or keys: log ids, sizes, codes. */
void souk__logf(const souk__log *lg, int level, const char *fmt, ...) SOUK__PRINTF(3, 4);

#endif
