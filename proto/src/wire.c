/*
 * wire.c — decoding, validation and encoding of souk.v1 frames.
 *
 * Design note: protobuf-c already refuses lengths that run past the buffer, so the
 * dangers left are (a) memory: a 64 KiB frame of empty repeated sub-messages expands
 * into many allocations — bounded here by a per-decode allocator budget; and (b) field
 * contents: protobuf-c does not check UTF-8 or lengths — every string a peer may send is
 * checked below before the frame is handed to anyone. Frames of the other direction are
 * refused (a client may not send a Welcome), so callers only see bodies they handle.
 */
#include "souk_wire/wire.h"

#include <stdlib.h>
#include <string.h>

/* ---- bounded allocator ------------------------------------------------------------- */

typedef struct budget {
	size_t used;
	size_t limit;
} budget;

typedef struct budget_hdr {
	size_t size;
	/* keep the payload aligned for any type protobuf-c stores */
	_Alignas(16) unsigned char payload[];
} budget_hdr;

static void *budget_alloc(void *data, size_t size)
{
	budget *b = data;
	if (size > b->limit || b->used + size > b->limit)
		return NULL;
	budget_hdr *h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	h->size = size;
	b->used += size;
	return h->payload;
}

static void budget_free(void *data, void *ptr)
{
	budget *b = data;
	if (!ptr)
		return;
	budget_hdr *h = (budget_hdr *)((unsigned char *)ptr - offsetof(budget_hdr, payload));
	if (b)
		b->used -= h->size;
	free(h);
}

/* The allocator used to free decoded frames: frees are accounted in no budget. */
static ProtobufCAllocator free_allocator = {budget_alloc, budget_free, NULL};

/* ---- decoding arena --------------------------------------------------------------------- */

/* Blocks in a list, newest first; allocations bump `used` in the newest. A reset keeps the
 * largest block, so a steady stream of sync pages settles on one block and no malloc. */
typedef struct arena_block {
	struct arena_block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
} arena_block;

struct souk_wire_arena {
	arena_block *blocks;
	size_t taken; /* bytes handed out since the last reset: the decode budget */
};

enum { ARENA_ALIGN = 16, ARENA_MIN_BLOCK = 16 * 1024 };

souk_wire_arena *souk_wire_arena_new(void)
{
	return calloc(1, sizeof(souk_wire_arena));
}

static void *arena_alloc(void *data, size_t size)
{
	souk_wire_arena *a = data;
	size_t need = (size + (ARENA_ALIGN - 1)) & ~(size_t)(ARENA_ALIGN - 1);
	if (need < size || need > SOUK_WIRE_DECODE_BUDGET ||
	    a->taken + need > SOUK_WIRE_DECODE_BUDGET)
		return NULL;
	arena_block *b = a->blocks;
	if (!b || b->size - b->used < need) {
		/* doubling blocks: a page of 500 events takes a handful of mallocs at first,
		 * then none once the kept block is big enough */
		size_t bs = b ? 2 * b->size : ARENA_MIN_BLOCK;
		while (bs < need)
			bs *= 2;
		if (bs > SOUK_WIRE_DECODE_BUDGET) /* need is at most the budget */
			bs = SOUK_WIRE_DECODE_BUDGET;
		arena_block *nb = malloc(sizeof(*nb) + bs);
		if (!nb)
			return NULL;
		nb->size = bs;
		nb->used = 0;
		nb->next = b;
		a->blocks = b = nb;
	}
	void *p = b->data + b->used;
	b->used += need;
	a->taken += need;
	return p;
}

static void arena_free_noop(void *data, void *ptr)
{
	(void)data; /* given back at the reset */
	(void)ptr;
}

void souk_wire_arena_reset(souk_wire_arena *a)
{
	if (!a)
		return;
	arena_block *keep = NULL;
	for (arena_block *b = a->blocks; b; b = b->next)
		if (!keep || b->size > keep->size)
			keep = b;
	arena_block *b = a->blocks;
	while (b) {
		arena_block *next = b->next;
		if (b != keep)
			free(b);
		b = next;
	}
	if (keep) {
		keep->next = NULL;
		keep->used = 0;
	}
	a->blocks = keep;
	a->taken = 0;
}

void souk_wire_arena_trim(souk_wire_arena *a)
{
	if (!a)
		return;
	arena_block *b = a->blocks;
	while (b) {
		arena_block *next = b->next;
		free(b);
		b = next;
	}
	a->blocks = NULL;
	a->taken = 0;
}

void souk_wire_arena_free(souk_wire_arena *a)
{
	souk_wire_arena_trim(a);
	free(a);
}

/* ---- UTF-8 ------------------------------------------------------------------------- */

int souk_wire_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t n;
		unsigned cp;
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (len - i <= n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* ---- validation helpers ------------------------------------------------------------ */

#define OK ((souk_wire_status){0, NULL})
#define FAIL(c, w) ((souk_wire_status){(c), (w)})

static souk_wire_status check_str(const char *s, size_t max, int required, const char *why_missing,
				  const char *why_bad)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0)
		return required ? FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD, why_missing) : OK;
	if (n > max || !souk_wire_utf8_valid(s, n))
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD, why_bad);
	return OK;
}

#define CHECK(expr)                                                                                \
	do {                                                                                       \
		souk_wire_status st_ = (expr);                                                     \
		if (st_.code)                                                                      \
			return st_;                                                                \
	} while (0)

static souk_wire_status check_money(const Souk__V1__Money *m, const char *what)
{
	if (!m)
		return OK;
	size_t n = m->currency ? strlen(m->currency) : 0;
	if (n != 3)
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD, what);
	for (size_t i = 0; i < 3; i++)
		if (m->currency[i] < 'A' || m->currency[i] > 'Z')
			return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD, what);
	return OK;
}

static souk_wire_status check_product(const Souk__V1__ProductCard *p)
{
	CHECK(check_str(p->product_id, SOUK_WIRE_MAX_ID, 0, NULL, "product.product_id is invalid"));
	CHECK(check_str(p->title, 1024, 1, "product.title is required",
			"product.title is invalid"));
	CHECK(check_str(p->image_url, SOUK_WIRE_MAX_URL, 0, NULL, "product.image_url is invalid"));
	CHECK(check_str(p->url, SOUK_WIRE_MAX_URL, 0, NULL, "product.url is invalid"));
	return check_money(p->price, "product.price.currency must be 3 capital letters");
}

static souk_wire_status check_items(Souk__V1__OrderItem **items, size_t n)
{
	if (n > SOUK_WIRE_MAX_LIST)
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD, "too many items");
	for (size_t i = 0; i < n; i++) {
		CHECK(check_str(items[i]->product_id, SOUK_WIRE_MAX_ID, 0, NULL,
				"items.product_id is invalid"));
		CHECK(check_str(items[i]->title, 1024, 0, NULL, "items.title is invalid"));
		CHECK(check_money(items[i]->price,
				  "items.price.currency must be 3 capital letters"));
	}
	return OK;
}

static souk_wire_status check_order(const Souk__V1__OrderCard *o)
{
	CHECK(check_str(o->order_id, SOUK_WIRE_MAX_ID, 1, "order.order_id is required",
			"order.order_id is invalid"));
	CHECK(check_str(o->status, SOUK_WIRE_MAX_ID, 0, NULL, "order.status is invalid"));
	CHECK(check_items(o->items, o->n_items));
	return check_money(o->total, "order.total.currency must be 3 capital letters");
}

souk_wire_status souk_wire_validate_context(const Souk__V1__ShoppingContext *x)
{
	if (!x)
		return FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD, "context is required");
	if (x->product)
		CHECK(check_product(x->product));
	if (x->order)
		CHECK(check_order(x->order));
	if (x->cart) {
		CHECK(check_items(x->cart->items, x->cart->n_items));
		CHECK(check_money(x->cart->total, "cart.total.currency must be 3 capital letters"));
	}
	if (x->n_page_trail > SOUK_WIRE_MAX_TRAIL)
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD, "page_trail has too many visits");
	for (size_t i = 0; i < x->n_page_trail; i++) {
		CHECK(check_str(x->page_trail[i]->url, SOUK_WIRE_MAX_URL, 1,
				"page_trail.url is required", "page_trail.url is invalid"));
		CHECK(check_str(x->page_trail[i]->title, 1024, 0, NULL,
				"page_trail.title is invalid"));
	}
	if (x->n_attributes > SOUK_WIRE_MAX_ATTRIBUTES)
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD, "too many attributes");
	for (size_t i = 0; i < x->n_attributes; i++) {
		CHECK(check_str(x->attributes[i]->key, SOUK_WIRE_MAX_SHORT, 1,
				"attributes key is empty", "attributes key is invalid"));
		CHECK(check_str(x->attributes[i]->value, 1024, 0, NULL,
				"attributes value is invalid"));
	}
	return OK;
}

souk_wire_status souk_wire_validate_content(const Souk__V1__Content *c, size_t max_bytes)
{
	if (!c)
		return FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD, "content is required");
	if (protobuf_c_message_get_packed_size(&c->base) > max_bytes)
		return FAIL(SOUK__V1__ERROR_CODE__MESSAGE_TOO_LARGE,
			    "message content exceeds the message size limit");
	CHECK(check_str(c->fallback_text, SOUK_WIRE_MAX_STRING, 0, NULL,
			"content.fallback_text is not valid UTF-8 or too long"));
	const size_t U = SOUK_WIRE_MAX_URL, S = SOUK_WIRE_MAX_STRING, I = SOUK_WIRE_MAX_ID;
	switch (c->kind_case) {
	case SOUK__V1__CONTENT__KIND_TEXT:
		CHECK(check_str(c->text->body, S, 1, "text.body is empty",
				"text.body is not valid UTF-8 or too long"));
		return OK;
	case SOUK__V1__CONTENT__KIND_ATTACHMENT: {
		const Souk__V1__Attachment *a = c->attachment;
		CHECK(check_str(a->url, U, 1, "attachment.url is required",
				"attachment.url is invalid"));
		CHECK(check_str(a->mime_type, 255, 1, "attachment.mime_type is required",
				"attachment.mime_type is invalid"));
		CHECK(check_str(a->file_name, 255, 0, NULL, "attachment.file_name is invalid"));
		return OK;
	}
	case SOUK__V1__CONTENT__KIND_PRODUCT:
		return check_product(c->product);
	case SOUK__V1__CONTENT__KIND_ORDER:
		return check_order(c->order);
	case SOUK__V1__CONTENT__KIND_QUICK_REPLIES: {
		const Souk__V1__QuickReplies *q = c->quick_replies;
		CHECK(check_str(q->prompt, S, 0, NULL, "quick_replies.prompt is invalid"));
		if (q->n_replies == 0)
			return FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD,
				    "quick_replies.replies is empty");
		if (q->n_replies > SOUK_WIRE_MAX_LIST)
			return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
				    "quick_replies has too many replies");
		for (size_t i = 0; i < q->n_replies; i++) {
			CHECK(check_str(q->replies[i]->id, I, 1,
					"quick_replies.replies.id is required",
					"quick_replies.replies.id is invalid"));
			CHECK(check_str(q->replies[i]->title, 256, 1,
					"quick_replies.replies.title is required",
					"quick_replies.replies.title is invalid"));
		}
		return OK;
	}
	case SOUK__V1__CONTENT__KIND_CSAT_SURVEY: {
		const Souk__V1__CsatSurvey *s = c->csat_survey;
		CHECK(check_str(s->survey_id, I, 1, "csat_survey.survey_id is required",
				"csat_survey.survey_id is invalid"));
		CHECK(check_str(s->question, 1024, 0, NULL, "csat_survey.question is invalid"));
		if (s->scale < 2 || s->scale > 10)
			return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
				    "csat_survey.scale must be within 2..10");
		return OK;
	}
	case SOUK__V1__CONTENT__KIND_CSAT_ANSWER: {
		const Souk__V1__CsatAnswer *a = c->csat_answer;
		CHECK(check_str(a->survey_id, I, 1, "csat_answer.survey_id is required",
				"csat_answer.survey_id is invalid"));
		CHECK(check_str(a->comment, 4096, 0, NULL, "csat_answer.comment is invalid"));
		if (a->rating < 1 || a->rating > 10)
			return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
				    "csat_answer.rating must be within 1..10");
		return OK;
	}
	default:
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_CONTENT, "content has no known kind");
	}
}

static souk_wire_status check_client_msg_id(ProtobufCBinaryData id)
{
	if (id.len == 0)
		return FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD, "send.client_msg_id is required");
	if (id.len != SOUK_WIRE_CLIENT_MSG_ID_LEN)
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
			    "send.client_msg_id must be exactly 16 bytes");
	return OK;
}

static souk_wire_status validate_client_frame(const Souk__V1__Frame *f)
{
	const size_t I = SOUK_WIRE_MAX_ID;
	switch (f->body_case) {
	case SOUK__V1__FRAME__BODY_HELLO: {
		const Souk__V1__Hello *h = f->hello;
		CHECK(check_str(h->app_id, I, 1, "hello.app_id is required",
				"hello.app_id is invalid"));
		CHECK(check_str(h->token, SOUK_WIRE_MAX_TOKEN, 1, "hello.token is required",
				"hello.token is too long or not UTF-8"));
		CHECK(check_str(h->device_id, I, 1, "hello.device_id is required",
				"hello.device_id is invalid"));
		CHECK(check_str(h->sdk_version, SOUK_WIRE_MAX_SHORT, 0, NULL,
				"hello.sdk_version is invalid"));
		return OK;
	}
	case SOUK__V1__FRAME__BODY_UPDATE_CONTEXT:
		CHECK(check_str(f->update_context->conversation_id, I, 1,
				"update_context.conversation_id is required",
				"update_context.conversation_id is invalid"));
		return souk_wire_validate_context(f->update_context->context);
	case SOUK__V1__FRAME__BODY_SEND: {
		const Souk__V1__Send *s = f->send;
		CHECK(check_client_msg_id(s->client_msg_id));
		CHECK(check_str(s->conversation_id, I, 1, "send.conversation_id is required",
				"send.conversation_id is invalid"));
		/* The content is validated against the server's configured limit by the server,
		 * here only against the protocol maximum. */
		return souk_wire_validate_content(s->content, SOUK_WIRE_MAX_MESSAGE);
	}
	case SOUK__V1__FRAME__BODY_ACK:
	case SOUK__V1__FRAME__BODY_PING:
		return OK;
	case SOUK__V1__FRAME__BODY_SYNC_REQUEST:
		if (f->sync_request->limit > SOUK_WIRE_MAX_SYNC_PAGE)
			return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
				    "sync_request.limit is over the page limit");
		return OK;
	case SOUK__V1__FRAME__BODY_MARK_READ:
		CHECK(check_str(f->mark_read->conversation_id, I, 1,
				"mark_read.conversation_id is required",
				"mark_read.conversation_id is invalid"));
		return OK;
	case SOUK__V1__FRAME__BODY_TYPING:
		CHECK(check_str(f->typing->conversation_id, I, 1,
				"typing.conversation_id is required",
				"typing.conversation_id is invalid"));
		CHECK(check_str(f->typing->user_id, I, 0, NULL, "typing.user_id is invalid"));
		return OK;
	case SOUK__V1__FRAME__BODY_OPEN_CONVERSATION: {
		const Souk__V1__OpenConversation *o = f->open_conversation;
		CHECK(check_str(o->conversation_id, I, 0, NULL,
				"open_conversation.conversation_id is invalid"));
		if (o->kind != SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT &&
		    !(o->conversation_id && o->conversation_id[0]))
			return FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD,
				    "open_conversation needs kind SUPPORT or a conversation_id");
		return OK;
	}
	case SOUK__V1__FRAME__BODY__NOT_SET:
		return FAIL(SOUK__V1__ERROR_CODE__BAD_FRAME, "frame has no body");
	default:
		return FAIL(SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME,
			    "this frame type is sent by servers only");
	}
}

/* The SDK applies server frames to its store; strings it stores are checked the same way. */
static souk_wire_status validate_message(const Souk__V1__Message *m)
{
	const size_t I = SOUK_WIRE_MAX_ID;
	CHECK(check_str(m->message_id, I, 1, "message.message_id is required",
			"message.message_id is invalid"));
	CHECK(check_str(m->conversation_id, I, 1, "message.conversation_id is required",
			"message.conversation_id is invalid"));
	CHECK(check_str(m->sender_id, I, 0, NULL, "message.sender_id is invalid"));
	CHECK(check_str(m->sender_name, 256, 0, NULL, "message.sender_name is invalid"));
	CHECK(check_str(m->sender_device_id, I, 0, NULL, "message.sender_device_id is invalid"));
	CHECK(check_str(m->sender_avatar_url, SOUK_WIRE_MAX_URL, 0, NULL,
			"message.sender_avatar_url is invalid"));
	if (m->client_msg_id.len && m->client_msg_id.len != SOUK_WIRE_CLIENT_MSG_ID_LEN)
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
			    "message.client_msg_id must be 16 bytes");
	return souk_wire_validate_content(m->content, SOUK_WIRE_MAX_MESSAGE);
}

static souk_wire_status validate_events(Souk__V1__Event **ev, size_t n)
{
	if (n > SOUK_WIRE_MAX_SYNC_PAGE)
		return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD, "too many events in one frame");
	for (size_t i = 0; i < n; i++) {
		if (ev[i]->seq == 0)
			return FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD, "event.seq is required");
		if (i > 0 && ev[i]->seq != ev[i - 1]->seq + 1)
			return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
				    "events are not consecutive");
		switch (ev[i]->body_case) {
		case SOUK__V1__EVENT__BODY_MESSAGE:
			CHECK(validate_message(ev[i]->message));
			break;
		case SOUK__V1__EVENT__BODY_RECEIPT:
			CHECK(check_str(ev[i]->receipt->conversation_id, SOUK_WIRE_MAX_ID, 1,
					"receipt.conversation_id is required",
					"receipt.conversation_id is invalid"));
			CHECK(check_str(ev[i]->receipt->user_id, SOUK_WIRE_MAX_ID, 0, NULL,
					"receipt.user_id is invalid"));
			break;
		case SOUK__V1__EVENT__BODY_PUSH: {
			const Souk__V1__InAppPush *p = ev[i]->push;
			CHECK(check_str(p->push_id, SOUK_WIRE_MAX_ID, 1, "push.push_id is required",
					"push.push_id is invalid"));
			CHECK(check_str(p->title, 256, 0, NULL, "push.title is invalid"));
			CHECK(check_str(p->body, 4096, 0, NULL, "push.body is invalid"));
			CHECK(check_str(p->image_url, SOUK_WIRE_MAX_URL, 0, NULL,
					"push.image_url is invalid"));
			CHECK(check_str(p->deep_link, SOUK_WIRE_MAX_URL, 0, NULL,
					"push.deep_link is invalid"));
			if (p->product)
				CHECK(check_product(p->product));
			break;
		}
		case SOUK__V1__EVENT__BODY_CONVERSATION:
			CHECK(check_str(ev[i]->conversation->conversation_id, SOUK_WIRE_MAX_ID, 1,
					"conversation.conversation_id is required",
					"conversation.conversation_id is invalid"));
			break;
		default:
			/* an event kind from a newer server: kept as opaque, not an error */
			break;
		}
	}
	return OK;
}

static souk_wire_status validate_server_frame(const Souk__V1__Frame *f)
{
	switch (f->body_case) {
	case SOUK__V1__FRAME__BODY_WELCOME:
		CHECK(check_str(f->welcome->user_id, SOUK_WIRE_MAX_ID, 1,
				"welcome.user_id is required", "welcome.user_id is invalid"));
		return OK;
	case SOUK__V1__FRAME__BODY_ERROR:
		CHECK(check_str(f->error->message, SOUK_WIRE_MAX_STRING, 0, NULL,
				"error.message is invalid"));
		return OK;
	case SOUK__V1__FRAME__BODY_SEND_ACK:
		if (f->send_ack->client_msg_id.len != SOUK_WIRE_CLIENT_MSG_ID_LEN)
			return FAIL(SOUK__V1__ERROR_CODE__INVALID_FIELD,
				    "send_ack.client_msg_id must be 16 bytes");
		CHECK(check_str(f->send_ack->message_id, SOUK_WIRE_MAX_ID, 1,
				"send_ack.message_id is required",
				"send_ack.message_id is invalid"));
		if (f->send_ack->seq == 0)
			return FAIL(SOUK__V1__ERROR_CODE__MISSING_FIELD,
				    "send_ack.seq is required");
		return OK;
	case SOUK__V1__FRAME__BODY_EVENTS:
		return validate_events(f->events->events, f->events->n_events);
	case SOUK__V1__FRAME__BODY_SYNC_PAGE:
		return validate_events(f->sync_page->events, f->sync_page->n_events);
	case SOUK__V1__FRAME__BODY_TYPING:
		CHECK(check_str(f->typing->conversation_id, SOUK_WIRE_MAX_ID, 1,
				"typing.conversation_id is required",
				"typing.conversation_id is invalid"));
		CHECK(check_str(f->typing->user_id, SOUK_WIRE_MAX_ID, 0, NULL,
				"typing.user_id is invalid"));
		return OK;
	case SOUK__V1__FRAME__BODY_PONG:
	case SOUK__V1__FRAME__BODY_CONTEXT_UPDATED:
		return OK;
	case SOUK__V1__FRAME__BODY_CONVERSATION:
		CHECK(check_str(f->conversation->conversation_id, SOUK_WIRE_MAX_ID, 1,
				"conversation.conversation_id is required",
				"conversation.conversation_id is invalid"));
		return OK;
	case SOUK__V1__FRAME__BODY__NOT_SET:
		return FAIL(SOUK__V1__ERROR_CODE__BAD_FRAME, "frame has no body");
	default:
		return FAIL(SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME,
			    "this frame type is sent by clients only");
	}
}

/* protobuf-c accepts a field numbered 0 (e.g. the tag bytes 0x82 0x00) as an unknown
 * field and keeps it; re-encoding then writes a tag no decoder accepts, so a stored
 * message would poison every sync page that holds it. Field 0 is invalid protobuf:
 * refuse the frame. Walks every sub-message through the descriptors. */
static int has_field_zero(const ProtobufCMessage *m, int depth)
{
	if (!m || depth > 32)
		return depth > 32;
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return 1;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const char *base = (const char *)m;
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
			if (which != f->id)
				continue;
		}
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *arr =
				*(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t k = 0; k < n; k++)
				if (has_field_zero(arr[k], depth + 1))
					return 1;
		} else {
			const ProtobufCMessage *sub =
				*(ProtobufCMessage *const *)(base + f->offset);
			if (has_field_zero(sub, depth + 1))
				return 1;
		}
	}
	return 0;
}

/* The checks every decode makes before validating: size, then protobuf-c with `alloc`, then
 * no field numbered 0. On the last failure *f is the decoded frame, for the caller to
 * discard as its allocator wants; on the others it is NULL. */
static souk_wire_status unpack_frame(const uint8_t *buf, size_t len, ProtobufCAllocator *alloc,
				     Souk__V1__Frame **f)
{
	*f = NULL;
	if (len > SOUK_WIRE_MAX_FRAME)
		return FAIL(SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE, "frame exceeds 65536 bytes");
	if (len == 0)
		return FAIL(SOUK__V1__ERROR_CODE__BAD_FRAME, "empty frame");
	*f = souk__v1__frame__unpack(alloc, len, buf);
	if (!*f)
		return FAIL(SOUK__V1__ERROR_CODE__BAD_FRAME,
			    "frame is not a valid souk.v1.Frame encoding");
	if (has_field_zero(&(*f)->base, 0)) /* not a valid encoding at all */
		return FAIL(SOUK__V1__ERROR_CODE__BAD_FRAME, "frame carries a field numbered 0");
	return OK;
}

souk_wire_status souk_wire_decode_keep(const uint8_t *buf, size_t len, int from_client,
				       Souk__V1__Frame **out)
{
	budget b = {0, SOUK_WIRE_DECODE_BUDGET};
	ProtobufCAllocator alloc = {budget_alloc, budget_free, &b};
	Souk__V1__Frame *f;
	souk_wire_status st = unpack_frame(buf, len, &alloc, &f);
	if (st.code) {
		souk_wire_frame_free(f); /* no frame, as when protobuf-c refuses */
		*out = NULL;
		return st;
	}
	*out = f;
	return from_client ? validate_client_frame(f) : validate_server_frame(f);
}

souk_wire_status souk_wire_decode(const uint8_t *buf, size_t len, int from_client,
				  Souk__V1__Frame **out)
{
	souk_wire_status st = souk_wire_decode_keep(buf, len, from_client, out);
	if (st.code) {
		souk_wire_frame_free(*out);
		*out = NULL;
	}
	return st;
}

souk_wire_status souk_wire_decode_arena(const uint8_t *buf, size_t len, int from_client,
					souk_wire_arena *a, Souk__V1__Frame **out)
{
	*out = NULL;
	souk_wire_arena_reset(a);
	ProtobufCAllocator alloc = {arena_alloc, arena_free_noop, a};
	Souk__V1__Frame *f;
	souk_wire_status st = unpack_frame(buf, len, &alloc, &f);
	if (!st.code)
		st = from_client ? validate_client_frame(f) : validate_server_frame(f);
	if (st.code)
		souk_wire_arena_reset(a);
	else
		*out = f;
	return st;
}

void souk_wire_frame_free(Souk__V1__Frame *frame)
{
	if (frame)
		souk__v1__frame__free_unpacked(frame, &free_allocator);
}

int souk_wire_encode(const Souk__V1__Frame *frame, size_t headroom, uint8_t **out, size_t *len)
{
	size_t n = souk__v1__frame__get_packed_size(frame);
	if (n > SOUK_WIRE_MAX_FRAME)
		return -1;
	uint8_t *p = malloc(headroom + n + 1);
	if (!p)
		return -1;
	souk__v1__frame__pack(frame, p + headroom);
	*out = p;
	*len = n;
	return 0;
}

/* ---- splicing pre-encoded events ---------------------------------------------------- */

/* Protocol Buffers wire format: a tag is (field << 3 | type) as a varint; type 0 is a
 * varint value, type 2 a length-delimited one. */
static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

enum {
	FRAME_REQUEST_ID = 1,
	FRAME_EVENTS = 15,
	FRAME_SYNC_PAGE = 18,
	PAGE_EVENTS = 1,
	PAGE_HAS_MORE = 2,
	PAGE_HEAD_SEQ = 3
};

static size_t tag_len(unsigned field)
{
	return varint_len((uint64_t)field << 3);
}

int souk_wire_encode_events(uint64_t request_id, int as_sync_page, const uint8_t *const *events,
			    const size_t *lens, size_t n, int has_more, uint64_t head_seq,
			    size_t headroom, uint8_t **out, size_t *len, size_t *used)
{
	const unsigned body_field = as_sync_page ? FRAME_SYNC_PAGE : FRAME_EVENTS;
	/* worst-case bytes outside the events: request id, body tag + length, page trailer */
	const size_t fixed = 1 + 10 + tag_len(body_field) + 10 + (as_sync_page ? 2 + 11 : 0);
	size_t inner = 0, k = 0;
	for (; k < n; k++) {
		size_t add = tag_len(PAGE_EVENTS) + varint_len(lens[k]) + lens[k];
		if (k > 0 && fixed + inner + add > SOUK_WIRE_MAX_FRAME)
			break;
		inner += add;
	}
	if (k < n)
		has_more = 1;
	if (as_sync_page) {
		if (has_more)
			inner += tag_len(PAGE_HAS_MORE) + 1;
		if (head_seq)
			inner += tag_len(PAGE_HEAD_SEQ) + varint_len(head_seq);
	}
	size_t total = tag_len(body_field) + varint_len(inner) + inner;
	if (request_id)
		total += tag_len(FRAME_REQUEST_ID) + varint_len(request_id);
	uint8_t *buf = malloc(headroom + total + 1);
	if (!buf)
		return -1;
	uint8_t *p = buf + headroom;
	if (request_id) {
		p = put_varint(p, (uint64_t)FRAME_REQUEST_ID << 3);
		p = put_varint(p, request_id);
	}
	p = put_varint(p, (uint64_t)body_field << 3 | 2);
	p = put_varint(p, inner);
	for (size_t i = 0; i < k; i++) {
		p = put_varint(p, (uint64_t)PAGE_EVENTS << 3 | 2);
		p = put_varint(p, lens[i]);
		memcpy(p, events[i], lens[i]);
		p += lens[i];
	}
	if (as_sync_page && has_more) {
		p = put_varint(p, (uint64_t)PAGE_HAS_MORE << 3);
		*p++ = 1;
	}
	if (as_sync_page && head_seq) {
		p = put_varint(p, (uint64_t)PAGE_HEAD_SEQ << 3);
		p = put_varint(p, head_seq);
	}
	*out = buf;
	*len = (size_t)(p - (buf + headroom));
	*used = k;
	return 0;
}

const char *souk_wire_error_name(int code)
{
	const ProtobufCEnumValue *v =
		protobuf_c_enum_descriptor_get_value(&souk__v1__error_code__descriptor, code);
	return v ? v->name : "UNKNOWN";
}

const char *souk_wire_content_preview(const Souk__V1__Content *c)
{
	if (!c)
		return "";
	if (c->fallback_text && c->fallback_text[0])
		return c->fallback_text;
	switch (c->kind_case) {
	case SOUK__V1__CONTENT__KIND_TEXT:
		return c->text->body ? c->text->body : "";
	case SOUK__V1__CONTENT__KIND_ATTACHMENT:
		return "[attachment]";
	case SOUK__V1__CONTENT__KIND_PRODUCT:
		return "[product]";
	case SOUK__V1__CONTENT__KIND_ORDER:
		return "[order]";
	case SOUK__V1__CONTENT__KIND_QUICK_REPLIES:
		return "[quick replies]";
	case SOUK__V1__CONTENT__KIND_CSAT_SURVEY:
		return "[survey]";
	case SOUK__V1__CONTENT__KIND_CSAT_ANSWER:
		return "[survey answer]";
	default:
		return "";
	}
}
