/*
 * content.c — souk_content: the app's typed view of a souk.v1.Content (rich messages).
 *
 * Owns: building, copying, validating and reading contents. Never: touches the store or
 * a client; invents rules of its own — validation is souk_wire_validate_content(), the
 * code the server runs.
 *
 * Design note. A content wraps the protobuf-c struct itself instead of a parallel C
 * struct: encoding, validation and decoding then need no conversion code, and a new
 * field costs a getter and a setter. The price is an allocation discipline: every part
 * the setters create is malloc'ed and every empty string is protobuf_c_empty_string, so
 * protobuf_c_message_free_unpacked(pb, NULL) frees a built content exactly like a decoded
 * one. Getters turn empty strings into NULL (proto3 cannot tell absent from empty).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY ((char *)protobuf_c_empty_string)

/* ---- helpers shared with context.c (internal.h) ----------------------------------------- */

void *souk__pb_dup(const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return NULL;
	protobuf_c_message_pack(m, buf);
	ProtobufCMessage *copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	return copy;
}

int souk__pb_set_str(char **field, const char *v)
{
	if (v && !souk_wire_utf8_valid(v, strlen(v)))
		return SOUK_EINVAL;
	char *n = EMPTY;
	if (v && v[0] && !(n = souk__strdup(v)))
		return SOUK_ENOMEM;
	if (*field && *field != EMPTY)
		free(*field);
	*field = n;
	return SOUK_OK;
}

const char *souk__pb_str(const char *s)
{
	return s && s[0] ? s : NULL;
}

int souk__pb_set_money(Souk__V1__Money **field, int64_t amount, const char *currency)
{
	if (!currency) {
		protobuf_c_message_free_unpacked((ProtobufCMessage *)*field, NULL);
		*field = NULL;
		return SOUK_OK;
	}
	if (!souk_wire_utf8_valid(currency, strlen(currency)))
		return SOUK_EINVAL;
	Souk__V1__Money *m = *field;
	if (!m) {
		m = malloc(sizeof(*m));
		if (!m)
			return SOUK_ENOMEM;
		souk__v1__money__init(m);
	}
	int r = souk__pb_set_str(&m->currency, currency);
	if (r != SOUK_OK) {
		if (m != *field)
			free(m);
		return r;
	}
	m->amount_minor = amount;
	*field = m;
	return SOUK_OK;
}

int souk__pb_add_item(Souk__V1__OrderItem ***items, size_t *n, const char *product_id,
		      const char *title, uint32_t quantity, int64_t price, const char *currency)
{
	Souk__V1__OrderItem *it = malloc(sizeof(*it));
	if (!it)
		return SOUK_ENOMEM;
	souk__v1__order_item__init(it);
	int r = souk__pb_set_str(&it->product_id, product_id);
	if (r == SOUK_OK)
		r = souk__pb_set_str(&it->title, title);
	if (r == SOUK_OK)
		r = souk__pb_set_money(&it->price, price, currency);
	it->quantity = quantity;
	if (r == SOUK_OK) {
		Souk__V1__OrderItem **a = realloc(*items, (*n + 1) * sizeof(*a));
		if (!a)
			r = SOUK_ENOMEM;
		else {
			a[(*n)++] = it;
			*items = a;
		}
	}
	if (r != SOUK_OK)
		protobuf_c_message_free_unpacked(&it->base, NULL);
	return r;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

souk_content *souk__content_wrap(Souk__V1__Content *pb)
{
	souk_content *c = malloc(sizeof(*c));
	if (!c) {
		protobuf_c_message_free_unpacked(&pb->base, NULL);
		return NULL;
	}
	c->pb = pb;
	return c;
}

int souk__content_decode(const uint8_t *buf, size_t len, souk_content **out)
{
	*out = NULL;
	Souk__V1__Content *pb = souk__v1__content__unpack(NULL, len, buf);
	if (!pb)
		return SOUK_EINVAL;
	*out = souk__content_wrap(pb);
	return *out ? SOUK_OK : SOUK_ENOMEM;
}

int souk__content_from_product(const Souk__V1__ProductCard *p, souk_content **out)
{
	*out = NULL;
	Souk__V1__Content *pb = malloc(sizeof(*pb));
	if (!pb)
		return SOUK_ENOMEM;
	souk__v1__content__init(pb);
	pb->product = souk__pb_dup(&p->base);
	if (!pb->product) {
		free(pb);
		return SOUK_ENOMEM;
	}
	pb->kind_case = SOUK__V1__CONTENT__KIND_PRODUCT;
	*out = souk__content_wrap(pb);
	return *out ? SOUK_OK : SOUK_ENOMEM;
}

int souk_content_create(souk_content **out, souk_content_kind kind)
{
	souk__clear_error();
	if (!out)
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	Souk__V1__Content *pb = malloc(sizeof(*pb));
	if (!pb)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	souk__v1__content__init(pb);
	void *part = NULL;
	switch (kind) {
	case SOUK_CONTENT_TEXT:
		if ((part = pb->text = malloc(sizeof(*pb->text))))
			souk__v1__text__init(pb->text);
		pb->kind_case = SOUK__V1__CONTENT__KIND_TEXT;
		break;
	case SOUK_CONTENT_ATTACHMENT:
		if ((part = pb->attachment = malloc(sizeof(*pb->attachment))))
			souk__v1__attachment__init(pb->attachment);
		pb->kind_case = SOUK__V1__CONTENT__KIND_ATTACHMENT;
		break;
	case SOUK_CONTENT_PRODUCT:
		if ((part = pb->product = malloc(sizeof(*pb->product))))
			souk__v1__product_card__init(pb->product);
		pb->kind_case = SOUK__V1__CONTENT__KIND_PRODUCT;
		break;
	case SOUK_CONTENT_ORDER:
		if ((part = pb->order = malloc(sizeof(*pb->order))))
			souk__v1__order_card__init(pb->order);
		pb->kind_case = SOUK__V1__CONTENT__KIND_ORDER;
		break;
	case SOUK_CONTENT_QUICK_REPLIES:
		if ((part = pb->quick_replies = malloc(sizeof(*pb->quick_replies))))
			souk__v1__quick_replies__init(pb->quick_replies);
		pb->kind_case = SOUK__V1__CONTENT__KIND_QUICK_REPLIES;
		break;
	case SOUK_CONTENT_CSAT_SURVEY:
		if ((part = pb->csat_survey = malloc(sizeof(*pb->csat_survey))))
			souk__v1__csat_survey__init(pb->csat_survey);
		pb->kind_case = SOUK__V1__CONTENT__KIND_CSAT_SURVEY;
		break;
	case SOUK_CONTENT_CSAT_ANSWER:
		if ((part = pb->csat_answer = malloc(sizeof(*pb->csat_answer))))
			souk__v1__csat_answer__init(pb->csat_answer);
		pb->kind_case = SOUK__V1__CONTENT__KIND_CSAT_ANSWER;
		break;
	default:
		free(pb);
		return souk__fail(NULL, SOUK_EINVAL,
				  "kind is not a souk_content_kind one can send");
	}
	if (!part) {
		free(pb);
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	}
	*out = souk__content_wrap(pb);
	return *out ? SOUK_OK : souk__fail(NULL, SOUK_ENOMEM, NULL);
}

int souk_content_copy(souk_content **out, const souk_content *c)
{
	souk__clear_error();
	if (!out)
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "content is NULL");
	Souk__V1__Content *pb = souk__pb_dup(&c->pb->base);
	if (!pb || !(*out = souk__content_wrap(pb)))
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	return SOUK_OK;
}

void souk_content_free(souk_content *c)
{
	if (!c)
		return;
	protobuf_c_message_free_unpacked(&c->pb->base, NULL);
	free(c);
}

static int kind_of(int kind_case)
{
	switch (kind_case) {
	case SOUK__V1__CONTENT__KIND_TEXT:
		return SOUK_CONTENT_TEXT;
	case SOUK__V1__CONTENT__KIND_ATTACHMENT:
		return SOUK_CONTENT_ATTACHMENT;
	case SOUK__V1__CONTENT__KIND_PRODUCT:
		return SOUK_CONTENT_PRODUCT;
	case SOUK__V1__CONTENT__KIND_ORDER:
		return SOUK_CONTENT_ORDER;
	case SOUK__V1__CONTENT__KIND_QUICK_REPLIES:
		return SOUK_CONTENT_QUICK_REPLIES;
	case SOUK__V1__CONTENT__KIND_CSAT_SURVEY:
		return SOUK_CONTENT_CSAT_SURVEY;
	case SOUK__V1__CONTENT__KIND_CSAT_ANSWER:
		return SOUK_CONTENT_CSAT_ANSWER;
	default:
		return SOUK_CONTENT_UNKNOWN;
	}
}

souk_content_kind souk_content_get_kind(const souk_content *c)
{
	return c ? (souk_content_kind)kind_of(c->pb->kind_case) : SOUK_CONTENT_UNKNOWN;
}

int souk__content_check(const Souk__V1__Content *pb, const char **why)
{
	souk_wire_status vs = souk_wire_validate_content(pb, SOUK_WIRE_MAX_MESSAGE);
	*why = vs.why;
	if (!vs.code)
		return SOUK_OK;
	if (vs.code == SOUK__V1__ERROR_CODE__MESSAGE_TOO_LARGE) {
		*why = "the content is over the 16 KiB message limit";
		return SOUK_ETOOLARGE;
	}
	return SOUK_EINVAL;
}

int souk_content_validate(const souk_content *c)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "content is NULL");
	const char *why = NULL;
	int r = souk__content_check(c->pb, &why);
	return r == SOUK_OK ? SOUK_OK : souk__fail(NULL, r, why);
}

/* ---- setters ----------------------------------------------------------------------------------
 */

static const char *kind_name(int kind_case)
{
	switch (kind_case) {
	case SOUK__V1__CONTENT__KIND_TEXT:
		return "text";
	case SOUK__V1__CONTENT__KIND_ATTACHMENT:
		return "attachment";
	case SOUK__V1__CONTENT__KIND_PRODUCT:
		return "product";
	case SOUK__V1__CONTENT__KIND_ORDER:
		return "order";
	case SOUK__V1__CONTENT__KIND_QUICK_REPLIES:
		return "quick replies";
	case SOUK__V1__CONTENT__KIND_CSAT_SURVEY:
		return "CSAT survey";
	case SOUK__V1__CONTENT__KIND_CSAT_ANSWER:
		return "CSAT answer";
	default:
		return "unknown";
	}
}

/* Starts a setter: clears the error, checks the content and its kind. */
static int setter(souk_content *c, int kind_case)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "content is NULL");
	if (kind_case && c->pb->kind_case != (Souk__V1__Content__KindCase)kind_case) {
		char msg[96];
		snprintf(msg, sizeof(msg), "this field does not belong to a %s content",
			 kind_name(c->pb->kind_case));
		return souk__fail(NULL, SOUK_EINVAL, msg);
	}
	return SOUK_OK;
}

static int done(int r, const char *what)
{
	if (r == SOUK_OK)
		return SOUK_OK;
	if (r == SOUK_EINVAL) {
		char msg[96];
		snprintf(msg, sizeof(msg), "%s is not valid UTF-8", what);
		return souk__fail(NULL, r, msg);
	}
	return souk__fail(NULL, r, NULL);
}

static int set_required(char **field, const char *v, const char *what)
{
	if (!v) {
		char msg[96];
		snprintf(msg, sizeof(msg), "%s is NULL", what);
		return souk__fail(NULL, SOUK_EINVAL, msg);
	}
	return done(souk__pb_set_str(field, v), what);
}

static int set_optional(char **field, const char *v, const char *what)
{
	return done(souk__pb_set_str(field, v), what);
}

#define K(x) SOUK__V1__CONTENT__KIND_##x
/* the part of kind x, when c is not NULL (setters check the kind first) */
#define P(c, x) ((c)->pb->x)

int souk_content_set_fallback_text(souk_content *c, const char *v)
{
	int r = setter(c, 0);
	return r != SOUK_OK ? r : done(souk__pb_set_str(&c->pb->fallback_text, v), "fallback_text");
}

int souk_content_set_text(souk_content *c, const char *body)
{
	int r = setter(c, K(TEXT));
	return r != SOUK_OK ? r : set_required(&P(c, text)->body, body, "body");
}

int souk_content_set_attachment_url(souk_content *c, const char *url)
{
	int r = setter(c, K(ATTACHMENT));
	return r != SOUK_OK ? r : set_required(&P(c, attachment)->url, url, "url");
}

int souk_content_set_attachment_mime_type(souk_content *c, const char *v)
{
	int r = setter(c, K(ATTACHMENT));
	return r != SOUK_OK ? r : set_required(&P(c, attachment)->mime_type, v, "mime_type");
}

int souk_content_set_attachment_file_name(souk_content *c, const char *v)
{
	int r = setter(c, K(ATTACHMENT));
	return r != SOUK_OK ? r : set_optional(&P(c, attachment)->file_name, v, "file_name");
}

int souk_content_set_attachment_size(souk_content *c, uint64_t size)
{
	int r = setter(c, K(ATTACHMENT));
	if (r == SOUK_OK)
		P(c, attachment)->size_bytes = size;
	return r;
}

int souk_content_set_attachment_dimensions(souk_content *c, uint32_t w, uint32_t h)
{
	int r = setter(c, K(ATTACHMENT));
	if (r == SOUK_OK) {
		P(c, attachment)->width = w;
		P(c, attachment)->height = h;
	}
	return r;
}

int souk_content_set_product_id(souk_content *c, const char *v)
{
	int r = setter(c, K(PRODUCT));
	return r != SOUK_OK ? r : set_optional(&P(c, product)->product_id, v, "product_id");
}

int souk_content_set_product_title(souk_content *c, const char *v)
{
	int r = setter(c, K(PRODUCT));
	return r != SOUK_OK ? r : set_required(&P(c, product)->title, v, "title");
}

int souk_content_set_product_image_url(souk_content *c, const char *v)
{
	int r = setter(c, K(PRODUCT));
	return r != SOUK_OK ? r : set_optional(&P(c, product)->image_url, v, "image_url");
}

int souk_content_set_product_url(souk_content *c, const char *v)
{
	int r = setter(c, K(PRODUCT));
	return r != SOUK_OK ? r : set_optional(&P(c, product)->url, v, "url");
}

int souk_content_set_product_price(souk_content *c, int64_t amount, const char *currency)
{
	int r = setter(c, K(PRODUCT));
	return r != SOUK_OK ? r
			    : done(souk__pb_set_money(&P(c, product)->price, amount, currency),
				   "currency");
}

int souk_content_set_order_id(souk_content *c, const char *v)
{
	int r = setter(c, K(ORDER));
	return r != SOUK_OK ? r : set_required(&P(c, order)->order_id, v, "order_id");
}

int souk_content_set_order_status(souk_content *c, const char *v)
{
	int r = setter(c, K(ORDER));
	return r != SOUK_OK ? r : set_optional(&P(c, order)->status, v, "status");
}

int souk_content_add_order_item(souk_content *c, const char *product_id, const char *title,
				uint32_t quantity, int64_t price, const char *currency)
{
	int r = setter(c, K(ORDER));
	if (r != SOUK_OK)
		return r;
	return done(souk__pb_add_item(&P(c, order)->items, &P(c, order)->n_items, product_id, title,
				      quantity, price, currency),
		    "an item's string");
}

int souk_content_set_order_total(souk_content *c, int64_t amount, const char *currency)
{
	int r = setter(c, K(ORDER));
	return r != SOUK_OK ? r
			    : done(souk__pb_set_money(&P(c, order)->total, amount, currency),
				   "currency");
}

int souk_content_set_quick_replies_prompt(souk_content *c, const char *v)
{
	int r = setter(c, K(QUICK_REPLIES));
	return r != SOUK_OK ? r : set_optional(&P(c, quick_replies)->prompt, v, "prompt");
}

int souk_content_add_quick_reply(souk_content *c, const char *id, const char *title)
{
	int r = setter(c, K(QUICK_REPLIES));
	if (r != SOUK_OK)
		return r;
	if (!id || !title)
		return souk__fail(NULL, SOUK_EINVAL, "a quick reply needs an id and a title");
	Souk__V1__QuickReply *q = malloc(sizeof(*q));
	if (!q)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	souk__v1__quick_reply__init(q);
	r = souk__pb_set_str(&q->id, id);
	if (r == SOUK_OK)
		r = souk__pb_set_str(&q->title, title);
	Souk__V1__QuickReplies *qr = P(c, quick_replies);
	if (r == SOUK_OK) {
		Souk__V1__QuickReply **a = realloc(qr->replies, (qr->n_replies + 1) * sizeof(*a));
		if (!a)
			r = SOUK_ENOMEM;
		else {
			a[qr->n_replies++] = q;
			qr->replies = a;
		}
	}
	if (r != SOUK_OK)
		protobuf_c_message_free_unpacked(&q->base, NULL);
	return done(r, "the reply's id or title");
}

int souk_content_set_csat_survey_id(souk_content *c, const char *v)
{
	int r = setter(c, 0);
	if (r != SOUK_OK)
		return r;
	if (c->pb->kind_case == K(CSAT_SURVEY))
		return set_required(&P(c, csat_survey)->survey_id, v, "survey_id");
	if (c->pb->kind_case == K(CSAT_ANSWER))
		return set_required(&P(c, csat_answer)->survey_id, v, "survey_id");
	return setter(c, K(CSAT_SURVEY));
}

int souk_content_set_csat_question(souk_content *c, const char *v)
{
	int r = setter(c, K(CSAT_SURVEY));
	return r != SOUK_OK ? r : set_optional(&P(c, csat_survey)->question, v, "question");
}

int souk_content_set_csat_scale(souk_content *c, uint32_t scale)
{
	int r = setter(c, K(CSAT_SURVEY));
	if (r == SOUK_OK)
		P(c, csat_survey)->scale = scale;
	return r;
}

int souk_content_set_csat_rating(souk_content *c, uint32_t rating)
{
	int r = setter(c, K(CSAT_ANSWER));
	if (r == SOUK_OK)
		P(c, csat_answer)->rating = rating;
	return r;
}

int souk_content_set_csat_comment(souk_content *c, const char *v)
{
	int r = setter(c, K(CSAT_ANSWER));
	return r != SOUK_OK ? r : set_optional(&P(c, csat_answer)->comment, v, "comment");
}

/* ---- getters ----------------------------------------------------------------------------------
 */

/* the part of kind x, or NULL */
#define PART(c, x, member) ((c) && (c)->pb->kind_case == K(x) ? (c)->pb->member : NULL)
#define STR(c, x, member, field)                                                                   \
	(PART(c, x, member) ? souk__pb_str(PART(c, x, member)->field) : NULL)

const char *souk_content_get_fallback_text(const souk_content *c)
{
	return c ? souk__pb_str(c->pb->fallback_text) : NULL;
}

const char *souk_content_get_text(const souk_content *c)
{
	return STR(c, TEXT, text, body);
}

const char *souk_content_get_attachment_url(const souk_content *c)
{
	return STR(c, ATTACHMENT, attachment, url);
}

const char *souk_content_get_attachment_mime_type(const souk_content *c)
{
	return STR(c, ATTACHMENT, attachment, mime_type);
}

const char *souk_content_get_attachment_file_name(const souk_content *c)
{
	return STR(c, ATTACHMENT, attachment, file_name);
}

uint64_t souk_content_get_attachment_size(const souk_content *c)
{
	const Souk__V1__Attachment *a = PART(c, ATTACHMENT, attachment);
	return a ? a->size_bytes : 0;
}

uint32_t souk_content_get_attachment_width(const souk_content *c)
{
	const Souk__V1__Attachment *a = PART(c, ATTACHMENT, attachment);
	return a ? a->width : 0;
}

uint32_t souk_content_get_attachment_height(const souk_content *c)
{
	const Souk__V1__Attachment *a = PART(c, ATTACHMENT, attachment);
	return a ? a->height : 0;
}

const char *souk_content_get_product_id(const souk_content *c)
{
	return STR(c, PRODUCT, product, product_id);
}

const char *souk_content_get_product_title(const souk_content *c)
{
	return STR(c, PRODUCT, product, title);
}

const char *souk_content_get_product_image_url(const souk_content *c)
{
	return STR(c, PRODUCT, product, image_url);
}

const char *souk_content_get_product_url(const souk_content *c)
{
	return STR(c, PRODUCT, product, url);
}

int64_t souk_content_get_product_price_minor(const souk_content *c)
{
	const Souk__V1__ProductCard *p = PART(c, PRODUCT, product);
	return p && p->price ? p->price->amount_minor : 0;
}

const char *souk_content_get_product_price_currency(const souk_content *c)
{
	const Souk__V1__ProductCard *p = PART(c, PRODUCT, product);
	return p && p->price ? souk__pb_str(p->price->currency) : NULL;
}

const char *souk_content_get_order_id(const souk_content *c)
{
	return STR(c, ORDER, order, order_id);
}

const char *souk_content_get_order_status(const souk_content *c)
{
	return STR(c, ORDER, order, status);
}

size_t souk_content_get_order_item_count(const souk_content *c)
{
	const Souk__V1__OrderCard *o = PART(c, ORDER, order);
	return o ? o->n_items : 0;
}

static const Souk__V1__OrderItem *order_item(const souk_content *c, size_t i)
{
	const Souk__V1__OrderCard *o = PART(c, ORDER, order);
	return o && i < o->n_items ? o->items[i] : NULL;
}

const char *souk_content_get_order_item_product_id(const souk_content *c, size_t i)
{
	const Souk__V1__OrderItem *it = order_item(c, i);
	return it ? souk__pb_str(it->product_id) : NULL;
}

const char *souk_content_get_order_item_title(const souk_content *c, size_t i)
{
	const Souk__V1__OrderItem *it = order_item(c, i);
	return it ? souk__pb_str(it->title) : NULL;
}

uint32_t souk_content_get_order_item_quantity(const souk_content *c, size_t i)
{
	const Souk__V1__OrderItem *it = order_item(c, i);
	return it ? it->quantity : 0;
}

int64_t souk_content_get_order_item_price_minor(const souk_content *c, size_t i)
{
	const Souk__V1__OrderItem *it = order_item(c, i);
	return it && it->price ? it->price->amount_minor : 0;
}

const char *souk_content_get_order_item_price_currency(const souk_content *c, size_t i)
{
	const Souk__V1__OrderItem *it = order_item(c, i);
	return it && it->price ? souk__pb_str(it->price->currency) : NULL;
}

int64_t souk_content_get_order_total_minor(const souk_content *c)
{
	const Souk__V1__OrderCard *o = PART(c, ORDER, order);
	return o && o->total ? o->total->amount_minor : 0;
}

const char *souk_content_get_order_total_currency(const souk_content *c)
{
	const Souk__V1__OrderCard *o = PART(c, ORDER, order);
	return o && o->total ? souk__pb_str(o->total->currency) : NULL;
}

const char *souk_content_get_quick_replies_prompt(const souk_content *c)
{
	return STR(c, QUICK_REPLIES, quick_replies, prompt);
}

size_t souk_content_get_quick_reply_count(const souk_content *c)
{
	const Souk__V1__QuickReplies *q = PART(c, QUICK_REPLIES, quick_replies);
	return q ? q->n_replies : 0;
}

const char *souk_content_get_quick_reply_id(const souk_content *c, size_t i)
{
	const Souk__V1__QuickReplies *q = PART(c, QUICK_REPLIES, quick_replies);
	return q && i < q->n_replies ? souk__pb_str(q->replies[i]->id) : NULL;
}

const char *souk_content_get_quick_reply_title(const souk_content *c, size_t i)
{
	const Souk__V1__QuickReplies *q = PART(c, QUICK_REPLIES, quick_replies);
	return q && i < q->n_replies ? souk__pb_str(q->replies[i]->title) : NULL;
}

const char *souk_content_get_csat_survey_id(const souk_content *c)
{
	if (c && c->pb->kind_case == K(CSAT_SURVEY))
		return souk__pb_str(c->pb->csat_survey->survey_id);
	if (c && c->pb->kind_case == K(CSAT_ANSWER))
		return souk__pb_str(c->pb->csat_answer->survey_id);
	return NULL;
}

const char *souk_content_get_csat_question(const souk_content *c)
{
	return STR(c, CSAT_SURVEY, csat_survey, question);
}

uint32_t souk_content_get_csat_scale(const souk_content *c)
{
	const Souk__V1__CsatSurvey *s = PART(c, CSAT_SURVEY, csat_survey);
	return s ? s->scale : 0;
}

uint32_t souk_content_get_csat_rating(const souk_content *c)
{
	const Souk__V1__CsatAnswer *a = PART(c, CSAT_ANSWER, csat_answer);
	return a ? a->rating : 0;
}

const char *souk_content_get_csat_comment(const souk_content *c)
{
	return STR(c, CSAT_ANSWER, csat_answer, comment);
}
