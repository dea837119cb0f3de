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
#include "souk_wire/wire.h"

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
	souk_content *content; /* NULL when the stored content cannot be decoded */
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
	int kind;
	char *controller;
	char *assignee;
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
	souk_push *push;
	struct souk_event *next;
};

/* Rich content (content.c): a protobuf-c tree whose every part is malloc'ed, so that
 * protobuf_c_message_free_unpacked(pb, NULL) frees what the setters built as well as what
 * protobuf-c unpacked. Empty strings are protobuf_c_empty_string, never NULL. */
struct souk_content {
	Souk__V1__Content *pb;
};

/* The shopping context (context.c). The product and the order are kept as contents (so
 * that their getters can hand them out); pb->product and pb->order stay NULL and are put
 * in place only in a shallow copy when encoding. */
struct souk_context {
	Souk__V1__ShoppingContext *pb;
	souk_content *product;
	souk_content *order;
};

struct souk_push {
	int64_t id; /* local row id */
	char *push_id;
	char *title;
	char *body;
	char *image_url;
	char *deep_link;
	souk_content *product;
	int64_t server_time_ms;
};

struct souk_push_list {
	size_t n;
	souk_push **items;
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
void souk__push_free_fields(souk_push *p);
char *souk__strdup(const char *s);
souk_event *souk__event_new(int type);
void souk__evlist_push(souk__evlist *l, souk_event *ev);
void souk__evlist_touch(souk__evlist *l, int64_t conv_id);
void souk__evlist_clear(souk__evlist *l);

/* content.c */
/* Takes ownership of `pb` (freed on failure too). NULL when out of memory. */
souk_content *souk__content_wrap(Souk__V1__Content *pb);
/* Decodes an encoded Content; SOUK_EINVAL when it does not decode. */
int souk__content_decode(const uint8_t *buf, size_t len, souk_content **out);
/* A PRODUCT content holding a deep copy of `p`. */
int souk__content_from_product(const Souk__V1__ProductCard *p, souk_content **out);
/* Deep copy of any protobuf-c message (encode + decode). NULL when out of memory. */
void *souk__pb_dup(const ProtobufCMessage *m);
/* Parts of protobuf-c trees built by the setters (content.c, context.c): a string field set
 * to a copy of v (NULL or "" -> the empty string; SOUK_EINVAL when not UTF-8), the string
 * as getters return it (NULL when empty), a Money set or removed (NULL currency), and an
 * OrderItem appended. */
int souk__pb_set_str(char **field, const char *v);
const char *souk__pb_str(const char *s);
int souk__pb_set_money(Souk__V1__Money **field, int64_t amount, const char *currency);
int souk__pb_add_item(Souk__V1__OrderItem ***items, size_t *n, const char *product_id,
		      const char *title, uint32_t quantity, int64_t price, const char *currency);
/* Validates against the protocol maximum: SOUK_OK, SOUK_EINVAL or SOUK_ETOOLARGE with the
 * reason in *why (static). */
int souk__content_check(const Souk__V1__Content *pb, const char **why);
/* context.c: the ShoppingContext as sent (product and order in place), encoded; and its
 * validation (SOUK_OK / SOUK_EINVAL / SOUK_ETOOLARGE, reason in *why). */
int souk__context_check(const souk_context *x, const char **why);
int souk__context_encode(const souk_context *x, uint8_t **out, size_t *len);
int souk__context_decode(const uint8_t *buf, size_t len, souk_context **out);

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
