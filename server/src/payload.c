/* payload.c — JSON <-> souk.v1 content, context and messages (see payload.h).
 *
 * Structures built here are owned the way protobuf-c's free_unpacked(…, NULL) expects:
 * every string, array and sub-message comes from malloc, and untouched string fields keep
 * protobuf-c's shared empty string (which it never frees). */
#include "payload.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct perr {
	char *buf;
	size_t len;
} perr;

static int fail(perr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(perr *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->buf, e->len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Refuses keys of `o` not in the NULL-terminated `keys`. */
static int only(const json_t *o, const char *path, const char *const *keys, perr *e)
{
	if (!json_is_object(o))
		return fail(e, "%s must be an object", path);
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)o, k, v)
	{
		int ok = 0;
		for (const char *const *p = keys; *p && !ok; p++)
			ok = strcmp(*p, k) == 0;
		if (!ok)
			return fail(e, "%s.%s is not a known field", path, k);
	}
	return 0;
}

static int str(const json_t *o, const char *key, const char *path, int required, char **out,
	       perr *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			return fail(e, "%s.%s is required", path, key);
		return 0;
	}
	if (!json_is_string(v))
		return fail(e, "%s.%s must be a string", path, key);
	char *d = strdup(json_string_value(v));
	if (!d)
		return fail(e, "out of memory");
	*out = d;
	return 0;
}

static int integer(const json_t *o, const char *key, const char *path, int required, long long min,
		   long long max, long long *out, perr *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		if (required)
			return fail(e, "%s.%s is required", path, key);
		return 0;
	}
	if (!json_is_integer(v))
		return fail(e, "%s.%s must be an integer", path, key);
	long long x = json_integer_value(v);
	if (x < min || x > max)
		return fail(e, "%s.%s is out of range", path, key);
	*out = x;
	return 0;
}

static int money(const json_t *o, const char *key, const char *path, Souk__V1__Money **out, perr *e)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return 0;
	char p[128];
	snprintf(p, sizeof(p), "%s.%s", path, key);
	static const char *const keys[] = {"amount_minor", "currency", NULL};
	if (only(v, p, keys, e))
		return -1;
	Souk__V1__Money *m = malloc(sizeof(*m));
	if (!m)
		return fail(e, "out of memory");
	souk__v1__money__init(m);
	*out = m;
	long long amount = 0;
	if (integer(v, "amount_minor", p, 1, -(1LL << 53), 1LL << 53, &amount, e) ||
	    str(v, "currency", p, 1, &m->currency, e))
		return -1;
	m->amount_minor = amount;
	return 0;
}

static int product(const json_t *v, const char *p, Souk__V1__ProductCard **out, perr *e)
{
	static const char *const keys[] = {"product_id", "title", "image_url",
					   "price",	 "url",	  NULL};
	if (only(v, p, keys, e))
		return -1;
	Souk__V1__ProductCard *x = malloc(sizeof(*x));
	if (!x)
		return fail(e, "out of memory");
	souk__v1__product_card__init(x);
	*out = x;
	return str(v, "product_id", p, 0, &x->product_id, e) ||
			       str(v, "title", p, 1, &x->title, e) ||
			       str(v, "image_url", p, 0, &x->image_url, e) ||
			       str(v, "url", p, 0, &x->url, e) || money(v, "price", p, &x->price, e)
		       ? -1
		       : 0;
}

static int items(const json_t *v, const char *key, const char *path, Souk__V1__OrderItem ***out,
		 size_t *n, perr *e)
{
	json_t *arr = json_object_get(v, key);
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return fail(e, "%s.%s must be an array", path, key);
	size_t count = json_array_size(arr);
	if (count > SOUK_WIRE_MAX_LIST)
		return fail(e, "%s.%s has more than %d entries", path, key, SOUK_WIRE_MAX_LIST);
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out)
		return fail(e, "out of memory");
	for (size_t i = 0; i < count; i++) {
		char p[128];
		snprintf(p, sizeof(p), "%s.%s[%zu]", path, key, i);
		json_t *it = json_array_get(arr, i);
		static const char *const keys[] = {"product_id", "title", "quantity", "price",
						   NULL};
		if (only(it, p, keys, e))
			return -1;
		Souk__V1__OrderItem *x = malloc(sizeof(*x));
		if (!x)
			return fail(e, "out of memory");
		souk__v1__order_item__init(x);
		(*out)[i] = x;
		*n = i + 1;
		long long q = 0;
		if (str(it, "product_id", p, 0, &x->product_id, e) ||
		    str(it, "title", p, 0, &x->title, e) ||
		    integer(it, "quantity", p, 0, 0, 1000000, &q, e) ||
		    money(it, "price", p, &x->price, e))
			return -1;
		x->quantity = (uint32_t)q;
	}
	return 0;
}

static int order(const json_t *v, const char *p, Souk__V1__OrderCard **out, perr *e)
{
	static const char *const keys[] = {"order_id", "status", "items", "total", NULL};
	if (only(v, p, keys, e))
		return -1;
	Souk__V1__OrderCard *x = malloc(sizeof(*x));
	if (!x)
		return fail(e, "out of memory");
	souk__v1__order_card__init(x);
	*out = x;
	return str(v, "order_id", p, 1, &x->order_id, e) || str(v, "status", p, 0, &x->status, e) ||
			       items(v, "items", p, &x->items, &x->n_items, e) ||
			       money(v, "total", p, &x->total, e)
		       ? -1
		       : 0;
}

static int parse_content(const json_t *j, Souk__V1__Content *c, perr *e)
{
	static const char *const keys[] = {"fallback_text", "text",	   "attachment",
					   "product",	    "order",	   "quick_replies",
					   "csat_survey",   "csat_answer", NULL};
	if (only(j, "content", keys, e) ||
	    str(j, "fallback_text", "content", 0, &c->fallback_text, e))
		return -1;
	int kinds = 0;
	for (const char *const *k = keys + 1; *k; k++)
		kinds += json_object_get(j, *k) != NULL;
	if (kinds != 1)
		return fail(e, "content must have exactly one of text, attachment, product, order, "
			       "quick_replies, csat_survey, csat_answer");
	json_t *v;
	if ((v = json_object_get(j, "text"))) {
		static const char *const tk[] = {"body", NULL};
		c->kind_case = SOUK__V1__CONTENT__KIND_TEXT;
		c->text = malloc(sizeof(*c->text));
		if (!c->text)
			return fail(e, "out of memory");
		souk__v1__text__init(c->text);
		return only(v, "content.text", tk, e) ||
				       str(v, "body", "content.text", 1, &c->text->body, e)
			       ? -1
			       : 0;
	}
	if ((v = json_object_get(j, "attachment"))) {
		static const char *const ak[] = {"url",	  "mime_type", "file_name", "size_bytes",
						 "width", "height",    NULL};
		const char *p = "content.attachment";
		c->kind_case = SOUK__V1__CONTENT__KIND_ATTACHMENT;
		Souk__V1__Attachment *a = c->attachment = malloc(sizeof(*a));
		if (!a)
			return fail(e, "out of memory");
		souk__v1__attachment__init(a);
		long long size = 0, w = 0, h = 0;
		if (only(v, p, ak, e) || str(v, "url", p, 1, &a->url, e) ||
		    str(v, "mime_type", p, 1, &a->mime_type, e) ||
		    str(v, "file_name", p, 0, &a->file_name, e) ||
		    integer(v, "size_bytes", p, 0, 0, 1LL << 50, &size, e) ||
		    integer(v, "width", p, 0, 0, 1 << 20, &w, e) ||
		    integer(v, "height", p, 0, 0, 1 << 20, &h, e))
			return -1;
		a->size_bytes = (uint64_t)size;
		a->width = (uint32_t)w;
		a->height = (uint32_t)h;
		return 0;
	}
	if ((v = json_object_get(j, "product"))) {
		c->kind_case = SOUK__V1__CONTENT__KIND_PRODUCT;
		return product(v, "content.product", &c->product, e);
	}
	if ((v = json_object_get(j, "order"))) {
		c->kind_case = SOUK__V1__CONTENT__KIND_ORDER;
		return order(v, "content.order", &c->order, e);
	}
	if ((v = json_object_get(j, "quick_replies"))) {
		static const char *const qk[] = {"prompt", "replies", NULL};
		const char *p = "content.quick_replies";
		c->kind_case = SOUK__V1__CONTENT__KIND_QUICK_REPLIES;
		Souk__V1__QuickReplies *q = c->quick_replies = malloc(sizeof(*q));
		if (!q)
			return fail(e, "out of memory");
		souk__v1__quick_replies__init(q);
		if (only(v, p, qk, e) || str(v, "prompt", p, 0, &q->prompt, e))
			return -1;
		json_t *arr = json_object_get(v, "replies");
		if (!json_is_array(arr))
			return fail(e, "%s.replies must be an array", p);
		size_t n = json_array_size(arr);
		if (n > SOUK_WIRE_MAX_LIST)
			return fail(e, "%s.replies has more than %d entries", p,
				    SOUK_WIRE_MAX_LIST);
		q->replies = calloc(n ? n : 1, sizeof(*q->replies));
		if (!q->replies)
			return fail(e, "out of memory");
		for (size_t i = 0; i < n; i++) {
			char rp[96];
			snprintf(rp, sizeof(rp), "%s.replies[%zu]", p, i);
			json_t *it = json_array_get(arr, i);
			static const char *const rk[] = {"id", "title", NULL};
			Souk__V1__QuickReply *r = malloc(sizeof(*r));
			if (!r)
				return fail(e, "out of memory");
			souk__v1__quick_reply__init(r);
			q->replies[i] = r;
			q->n_replies = i + 1;
			if (only(it, rp, rk, e) || str(it, "id", rp, 1, &r->id, e) ||
			    str(it, "title", rp, 1, &r->title, e))
				return -1;
		}
		return 0;
	}
	if ((v = json_object_get(j, "csat_survey"))) {
		static const char *const sk[] = {"survey_id", "question", "scale", NULL};
		const char *p = "content.csat_survey";
		c->kind_case = SOUK__V1__CONTENT__KIND_CSAT_SURVEY;
		Souk__V1__CsatSurvey *s = c->csat_survey = malloc(sizeof(*s));
		if (!s)
			return fail(e, "out of memory");
		souk__v1__csat_survey__init(s);
		long long scale = 5;
		if (only(v, p, sk, e) || str(v, "survey_id", p, 1, &s->survey_id, e) ||
		    str(v, "question", p, 0, &s->question, e) ||
		    integer(v, "scale", p, 0, 2, 10, &scale, e))
			return -1;
		s->scale = (uint32_t)scale;
		return 0;
	}
	v = json_object_get(j, "csat_answer");
	static const char *const ck[] = {"survey_id", "rating", "comment", NULL};
	const char *p = "content.csat_answer";
	c->kind_case = SOUK__V1__CONTENT__KIND_CSAT_ANSWER;
	Souk__V1__CsatAnswer *a = c->csat_answer = malloc(sizeof(*a));
	if (!a)
		return fail(e, "out of memory");
	souk__v1__csat_answer__init(a);
	long long rating = 0;
	if (only(v, p, ck, e) || str(v, "survey_id", p, 1, &a->survey_id, e) ||
	    integer(v, "rating", p, 1, 1, 10, &rating, e) ||
	    str(v, "comment", p, 0, &a->comment, e))
		return -1;
	a->rating = (uint32_t)rating;
	return 0;
}

Souk__V1__ProductCard *payload_product_from_json(const json_t *j, const char *path, char *err,
						 size_t errlen)
{
	perr e = {err, errlen};
	Souk__V1__ProductCard *p = NULL;
	if (product(j, path, &p, &e) == 0) {
		Souk__V1__Content c = SOUK__V1__CONTENT__INIT;
		c.kind_case = SOUK__V1__CONTENT__KIND_PRODUCT;
		c.product = p;
		souk_wire_status st = souk_wire_validate_content(&c, SOUK_WIRE_MAX_MESSAGE);
		if (st.code == 0)
			return p;
		fail(&e, "%s", st.why);
	}
	if (p)
		souk__v1__product_card__free_unpacked(p, NULL);
	return NULL;
}

Souk__V1__Content *payload_content_from_json(const json_t *j, size_t max_bytes, char *err,
					     size_t errlen)
{
	perr e = {err, errlen};
	Souk__V1__Content *c = malloc(sizeof(*c));
	if (!c) {
		fail(&e, "out of memory");
		return NULL;
	}
	souk__v1__content__init(c);
	if (parse_content(j, c, &e) == 0) {
		souk_wire_status st = souk_wire_validate_content(c, max_bytes);
		if (st.code == 0)
			return c;
		fail(&e, "%s", st.why);
	}
	souk__v1__content__free_unpacked(c, NULL);
	return NULL;
}

Souk__V1__ShoppingContext *payload_context_from_json(const json_t *j, char *err, size_t errlen)
{
	perr e = {err, errlen};
	static const char *const keys[] = {"product",	 "order",      "cart",
					   "page_trail", "attributes", NULL};
	Souk__V1__ShoppingContext *x = malloc(sizeof(*x));
	if (!x) {
		fail(&e, "out of memory");
		return NULL;
	}
	souk__v1__shopping_context__init(x);
	json_t *v;
	if (only(j, "context", keys, &e))
		goto bad;
	if ((v = json_object_get(j, "product")) && product(v, "context.product", &x->product, &e))
		goto bad;
	if ((v = json_object_get(j, "order")) && order(v, "context.order", &x->order, &e))
		goto bad;
	if ((v = json_object_get(j, "cart"))) {
		static const char *const ck[] = {"items", "total", NULL};
		x->cart = malloc(sizeof(*x->cart));
		if (!x->cart)
			goto bad;
		souk__v1__cart__init(x->cart);
		if (only(v, "context.cart", ck, &e) ||
		    items(v, "items", "context.cart", &x->cart->items, &x->cart->n_items, &e) ||
		    money(v, "total", "context.cart", &x->cart->total, &e))
			goto bad;
	}
	if ((v = json_object_get(j, "page_trail"))) {
		if (!json_is_array(v)) {
			fail(&e, "context.page_trail must be an array");
			goto bad;
		}
		size_t n = json_array_size(v);
		if (n > SOUK_WIRE_MAX_TRAIL) {
			fail(&e, "context.page_trail has more than %d entries",
			     SOUK_WIRE_MAX_TRAIL);
			goto bad;
		}
		x->page_trail = calloc(n ? n : 1, sizeof(*x->page_trail));
		if (!x->page_trail)
			goto bad;
		for (size_t i = 0; i < n; i++) {
			char p[64];
			snprintf(p, sizeof(p), "context.page_trail[%zu]", i);
			json_t *it = json_array_get(v, i);
			static const char *const pk[] = {"url", "title", "at_ms", NULL};
			Souk__V1__PageVisit *pv = malloc(sizeof(*pv));
			if (!pv)
				goto bad;
			souk__v1__page_visit__init(pv);
			x->page_trail[i] = pv;
			x->n_page_trail = i + 1;
			long long at = 0;
			if (only(it, p, pk, &e) || str(it, "url", p, 1, &pv->url, &e) ||
			    str(it, "title", p, 0, &pv->title, &e) ||
			    integer(it, "at_ms", p, 0, 0, 1LL << 53, &at, &e))
				goto bad;
			pv->at_ms = at;
		}
	}
	if ((v = json_object_get(j, "attributes"))) {
		if (!json_is_object(v)) {
			fail(&e, "context.attributes must be an object of strings");
			goto bad;
		}
		size_t n = json_object_size(v);
		if (n > SOUK_WIRE_MAX_ATTRIBUTES) {
			fail(&e, "context.attributes has more than %d entries",
			     SOUK_WIRE_MAX_ATTRIBUTES);
			goto bad;
		}
		x->attributes = calloc(n ? n : 1, sizeof(*x->attributes));
		if (!x->attributes)
			goto bad;
		const char *k;
		json_t *val;
		json_object_foreach(v, k, val)
		{
			if (!json_is_string(val)) {
				fail(&e, "context.attributes.%s must be a string", k);
				goto bad;
			}
			Souk__V1__ShoppingContext__AttributesEntry *a = malloc(sizeof(*a));
			if (!a)
				goto bad;
			souk__v1__shopping_context__attributes_entry__init(a);
			x->attributes[x->n_attributes++] = a;
			a->key = strdup(k);
			a->value = strdup(json_string_value(val));
			if (!a->key || !a->value)
				goto bad;
		}
	}
	souk_wire_status st = souk_wire_validate_context(x);
	if (st.code == 0)
		return x;
	fail(&e, "%s", st.why);
bad:
	souk__v1__shopping_context__free_unpacked(x, NULL);
	return NULL;
}

/* ---- protobuf -> JSON ---------------------------------------------------------------- */

static void set_str(json_t *o, const char *k, const char *v)
{
	if (v && v[0])
		json_object_set_new(o, k, json_string(v));
}

static json_t *money_json(const Souk__V1__Money *m)
{
	if (!m)
		return json_null();
	return json_pack("{s:I,s:s}", "amount_minor", (json_int_t)m->amount_minor, "currency",
			 m->currency ? m->currency : "");
}

static json_t *product_json(const Souk__V1__ProductCard *p)
{
	json_t *o = json_object();
	set_str(o, "product_id", p->product_id);
	set_str(o, "title", p->title);
	set_str(o, "image_url", p->image_url);
	set_str(o, "url", p->url);
	if (p->price)
		json_object_set_new(o, "price", money_json(p->price));
	return o;
}

static json_t *items_json(Souk__V1__OrderItem **it, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		set_str(o, "product_id", it[i]->product_id);
		set_str(o, "title", it[i]->title);
		json_object_set_new(o, "quantity", json_integer(it[i]->quantity));
		if (it[i]->price)
			json_object_set_new(o, "price", money_json(it[i]->price));
		json_array_append_new(a, o);
	}
	return a;
}

static json_t *order_json(const Souk__V1__OrderCard *x)
{
	json_t *o = json_object();
	set_str(o, "order_id", x->order_id);
	set_str(o, "status", x->status);
	json_object_set_new(o, "items", items_json(x->items, x->n_items));
	if (x->total)
		json_object_set_new(o, "total", money_json(x->total));
	return o;
}

json_t *payload_content_to_json(const Souk__V1__Content *c)
{
	if (!c)
		return json_null();
	json_t *o = json_object();
	json_object_set_new(o, "fallback_text", json_string(souk_wire_content_preview(c)));
	switch (c->kind_case) {
	case SOUK__V1__CONTENT__KIND_TEXT:
		json_object_set_new(o, "text", json_pack("{s:s}", "body", c->text->body));
		break;
	case SOUK__V1__CONTENT__KIND_ATTACHMENT: {
		json_t *a = json_object();
		set_str(a, "url", c->attachment->url);
		set_str(a, "mime_type", c->attachment->mime_type);
		set_str(a, "file_name", c->attachment->file_name);
		json_object_set_new(a, "size_bytes",
				    json_integer((json_int_t)c->attachment->size_bytes));
		json_object_set_new(a, "width", json_integer(c->attachment->width));
		json_object_set_new(a, "height", json_integer(c->attachment->height));
		json_object_set_new(o, "attachment", a);
		break;
	}
	case SOUK__V1__CONTENT__KIND_PRODUCT:
		json_object_set_new(o, "product", product_json(c->product));
		break;
	case SOUK__V1__CONTENT__KIND_ORDER:
		json_object_set_new(o, "order", order_json(c->order));
		break;
	case SOUK__V1__CONTENT__KIND_QUICK_REPLIES: {
		json_t *r = json_array();
		for (size_t i = 0; i < c->quick_replies->n_replies; i++)
			json_array_append_new(
				r, json_pack("{s:s,s:s}", "id", c->quick_replies->replies[i]->id,
					     "title", c->quick_replies->replies[i]->title));
		json_t *q = json_object();
		set_str(q, "prompt", c->quick_replies->prompt);
		json_object_set_new(q, "replies", r);
		json_object_set_new(o, "quick_replies", q);
		break;
	}
	case SOUK__V1__CONTENT__KIND_CSAT_SURVEY: {
		json_t *s = json_object();
		set_str(s, "survey_id", c->csat_survey->survey_id);
		set_str(s, "question", c->csat_survey->question);
		json_object_set_new(s, "scale", json_integer(c->csat_survey->scale));
		json_object_set_new(o, "csat_survey", s);
		break;
	}
	case SOUK__V1__CONTENT__KIND_CSAT_ANSWER: {
		json_t *a = json_object();
		set_str(a, "survey_id", c->csat_answer->survey_id);
		json_object_set_new(a, "rating", json_integer(c->csat_answer->rating));
		set_str(a, "comment", c->csat_answer->comment);
		json_object_set_new(o, "csat_answer", a);
		break;
	}
	default:
		break;
	}
	return o;
}

json_t *payload_context_to_json(const Souk__V1__ShoppingContext *x)
{
	if (!x)
		return json_null();
	json_t *o = json_object();
	if (x->product)
		json_object_set_new(o, "product", product_json(x->product));
	if (x->order)
		json_object_set_new(o, "order", order_json(x->order));
	if (x->cart) {
		json_t *c = json_object();
		json_object_set_new(c, "items", items_json(x->cart->items, x->cart->n_items));
		if (x->cart->total)
			json_object_set_new(c, "total", money_json(x->cart->total));
		json_object_set_new(o, "cart", c);
	}
	json_t *trail = json_array();
	for (size_t i = 0; i < x->n_page_trail; i++) {
		json_t *p = json_object();
		set_str(p, "url", x->page_trail[i]->url);
		set_str(p, "title", x->page_trail[i]->title);
		json_object_set_new(p, "at_ms", json_integer(x->page_trail[i]->at_ms));
		json_array_append_new(trail, p);
	}
	json_object_set_new(o, "page_trail", trail);
	json_t *attrs = json_object();
	for (size_t i = 0; i < x->n_attributes; i++)
		json_object_set_new(attrs, x->attributes[i]->key,
				    json_string(x->attributes[i]->value));
	json_object_set_new(o, "attributes", attrs);
	return o;
}

static const char *const SENDER_KINDS[] = {"unspecified", "shopper", "agent", "bot", "system"};
static const char *const STATUSES[] = {"unspecified", "open", "pending", "resolved"};

const char *payload_sender_kind_name(int kind)
{
	return kind >= 0 && kind <= 4 ? SENDER_KINDS[kind] : "unspecified";
}

int payload_sender_kind_parse(const char *s)
{
	for (int i = 1; i <= 4; i++)
		if (strcmp(s, SENDER_KINDS[i]) == 0)
			return i;
	return -1;
}

const char *payload_status_name(int status)
{
	return status >= 0 && status <= 3 ? STATUSES[status] : "unspecified";
}

int payload_status_parse(const char *s)
{
	for (int i = 1; i <= 3; i++)
		if (strcmp(s, STATUSES[i]) == 0)
			return i;
	return -1;
}

json_t *payload_message_to_json(const Souk__V1__Message *m)
{
	json_t *sender = json_object();
	set_str(sender, "id", m->sender_id);
	json_object_set_new(sender, "kind", json_string(payload_sender_kind_name(m->sender_kind)));
	set_str(sender, "name", m->sender_name);
	set_str(sender, "avatar_url", m->sender_avatar_url);
	set_str(sender, "device_id", m->sender_device_id);
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(m->message_id));
	json_object_set_new(o, "conversation_id", json_string(m->conversation_id));
	json_object_set_new(o, "conv_seq", json_integer((json_int_t)m->conv_seq));
	json_object_set_new(o, "sender", sender);
	json_object_set_new(o, "content", payload_content_to_json(m->content));
	json_object_set_new(o, "created_ms", json_integer(m->server_time_ms));
	return o;
}

json_t *payload_content_blob_to_json(const void *data, size_t len)
{
	if (!data)
		return json_null();
	Souk__V1__Content *c = souk__v1__content__unpack(NULL, len, data);
	if (!c)
		return json_null();
	json_t *j = payload_content_to_json(c);
	souk__v1__content__free_unpacked(c, NULL);
	return j;
}

json_t *payload_context_blob_to_json(const void *data, size_t len)
{
	if (!data)
		return json_null();
	Souk__V1__ShoppingContext *x = souk__v1__shopping_context__unpack(NULL, len, data);
	if (!x)
		return json_null();
	json_t *j = payload_context_to_json(x);
	souk__v1__shopping_context__free_unpacked(x, NULL);
	return j;
}
