/*
 * context.c — souk_context: the shopping context the app attaches to a conversation
 * (souk.v1.ShoppingContext).
 *
 * Owns: building, copying, validating, encoding and decoding contexts. Never: touches the
 * store or a client (context_queue.c keeps the one waiting to be sent).
 *
 * The same allocation discipline as content.c: every part is malloc'ed and empty strings
 * are protobuf_c_empty_string, so protobuf_c_message_free_unpacked() frees it. The product
 * and the order live in souk_content wrappers (so that getters can return them) and are
 * put into a shallow copy of the message only to validate or encode it.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The encoded context must fit one frame with the UpdateContext around it: a conversation
 * id (at most 128 bytes) and a few tags and lengths. */
enum { MAX_CONTEXT_BYTES = SOUK_WIRE_MAX_FRAME - 512 };

static souk_context *context_new(Souk__V1__ShoppingContext *pb)
{
	souk_context *x = calloc(1, sizeof(*x));
	if (!x) {
		protobuf_c_message_free_unpacked((ProtobufCMessage *)pb, NULL);
		return NULL;
	}
	x->pb = pb;
	return x;
}

int souk_context_create(souk_context **out)
{
	souk__clear_error();
	if (!out)
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	Souk__V1__ShoppingContext *pb = malloc(sizeof(*pb));
	if (!pb)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	souk__v1__shopping_context__init(pb);
	*out = context_new(pb);
	return *out ? SOUK_OK : souk__fail(NULL, SOUK_ENOMEM, NULL);
}

void souk_context_free(souk_context *x)
{
	if (!x)
		return;
	protobuf_c_message_free_unpacked(&x->pb->base, NULL);
	souk_content_free(x->product);
	souk_content_free(x->order);
	free(x);
}

int souk_context_copy(souk_context **out, const souk_context *x)
{
	souk__clear_error();
	if (!out)
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!x)
		return souk__fail(NULL, SOUK_EINVAL, "context is NULL");
	Souk__V1__ShoppingContext *pb = souk__pb_dup(&x->pb->base);
	souk_context *n = pb ? context_new(pb) : NULL;
	if (!n || (x->product && souk_content_copy(&n->product, x->product) != SOUK_OK) ||
	    (x->order && souk_content_copy(&n->order, x->order) != SOUK_OK)) {
		souk_context_free(n);
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	}
	*out = n;
	return SOUK_OK;
}

/* The message as sent: a shallow copy with the product and the order in place. */
static Souk__V1__ShoppingContext as_sent(const souk_context *x)
{
	Souk__V1__ShoppingContext m = *x->pb;
	m.product = x->product ? x->product->pb->product : NULL;
	m.order = x->order ? x->order->pb->order : NULL;
	return m;
}

int souk__context_check(const souk_context *x, const char **why)
{
	Souk__V1__ShoppingContext m = as_sent(x);
	souk_wire_status vs = souk_wire_validate_context(&m);
	*why = vs.why;
	if (vs.code)
		return SOUK_EINVAL;
	if (souk__v1__shopping_context__get_packed_size(&m) > MAX_CONTEXT_BYTES) {
		*why = "the context does not fit in one frame (64 KiB)";
		return SOUK_ETOOLARGE;
	}
	return SOUK_OK;
}

int souk_context_validate(const souk_context *x)
{
	souk__clear_error();
	if (!x)
		return souk__fail(NULL, SOUK_EINVAL, "context is NULL");
	const char *why = NULL;
	int r = souk__context_check(x, &why);
	return r == SOUK_OK ? SOUK_OK : souk__fail(NULL, r, why);
}

int souk__context_encode(const souk_context *x, uint8_t **out, size_t *len)
{
	Souk__V1__ShoppingContext m = as_sent(x);
	*len = souk__v1__shopping_context__get_packed_size(&m);
	*out = malloc(*len ? *len : 1);
	if (!*out)
		return SOUK_ENOMEM;
	souk__v1__shopping_context__pack(&m, *out);
	return SOUK_OK;
}

/* Moves a product or order card out of a decoded context into a content wrapper. */
static int adopt_part(souk_content **dst, int kind_case, void *part)
{
	Souk__V1__Content *pb = malloc(sizeof(*pb));
	if (!pb) {
		protobuf_c_message_free_unpacked(part, NULL);
		return SOUK_ENOMEM;
	}
	souk__v1__content__init(pb);
	pb->kind_case = (Souk__V1__Content__KindCase)kind_case;
	if (kind_case == SOUK__V1__CONTENT__KIND_PRODUCT)
		pb->product = part;
	else
		pb->order = part;
	*dst = souk__content_wrap(pb);
	return *dst ? SOUK_OK : SOUK_ENOMEM;
}

int souk__context_decode(const uint8_t *buf, size_t len, souk_context **out)
{
	*out = NULL;
	Souk__V1__ShoppingContext *pb = souk__v1__shopping_context__unpack(NULL, len, buf);
	if (!pb)
		return SOUK_EINVAL;
	Souk__V1__ProductCard *product = pb->product;
	Souk__V1__OrderCard *order = pb->order;
	pb->product = NULL;
	pb->order = NULL;
	souk_context *x = context_new(pb);
	int r = x ? SOUK_OK : SOUK_ENOMEM;
	if (product) {
		if (r == SOUK_OK)
			r = adopt_part(&x->product, SOUK__V1__CONTENT__KIND_PRODUCT, product);
		else
			protobuf_c_message_free_unpacked(&product->base, NULL);
	}
	if (order) {
		if (r == SOUK_OK)
			r = adopt_part(&x->order, SOUK__V1__CONTENT__KIND_ORDER, order);
		else
			protobuf_c_message_free_unpacked(&order->base, NULL);
	}
	if (r != SOUK_OK) {
		souk_context_free(x);
		return r;
	}
	*out = x;
	return SOUK_OK;
}

/* ---- setters ---------------------------------------------------------------------------- */

static int done(int r, const char *what)
{
	if (r == SOUK_OK)
		return SOUK_OK;
	return souk__fail(NULL, r, r == SOUK_EINVAL ? what : NULL);
}

static int set_card(souk_content **slot, const souk_content *card, souk_content_kind kind,
		    const char *why)
{
	souk_content *copy = NULL;
	if (card) {
		if (souk_content_get_kind(card) != kind)
			return souk__fail(NULL, SOUK_EINVAL, why);
		int r = souk_content_copy(&copy, card);
		if (r != SOUK_OK)
			return r;
	}
	souk_content_free(*slot);
	*slot = copy;
	return SOUK_OK;
}

int souk_context_set_product(souk_context *x, const souk_content *product)
{
	souk__clear_error();
	if (!x)
		return souk__fail(NULL, SOUK_EINVAL, "context is NULL");
	return set_card(&x->product, product, SOUK_CONTENT_PRODUCT,
			"the product must be a content of kind SOUK_CONTENT_PRODUCT");
}

int souk_context_set_order(souk_context *x, const souk_content *order)
{
	souk__clear_error();
	if (!x)
		return souk__fail(NULL, SOUK_EINVAL, "context is NULL");
	return set_card(&x->order, order, SOUK_CONTENT_ORDER,
			"the order must be a content of kind SOUK_CONTENT_ORDER");
}

static int ensure_cart(souk_context *x)
{
	if (x->pb->cart)
		return SOUK_OK;
	x->pb->cart = malloc(sizeof(*x->pb->cart));
	if (!x->pb->cart)
		return SOUK_ENOMEM;
	souk__v1__cart__init(x->pb->cart);
	return SOUK_OK;
}

int souk_context_add_cart_item(souk_context *x, const char *product_id, const char *title,
			       uint32_t quantity, int64_t price, const char *currency)
{
	souk__clear_error();
	if (!x)
		return souk__fail(NULL, SOUK_EINVAL, "context is NULL");
	int r = ensure_cart(x);
	if (r == SOUK_OK)
		r = souk__pb_add_item(&x->pb->cart->items, &x->pb->cart->n_items, product_id, title,
				      quantity, price, currency);
	return done(r, "a cart item's string is not valid UTF-8");
}

int souk_context_set_cart_total(souk_context *x, int64_t amount, const char *currency)
{
	souk__clear_error();
	if (!x)
		return souk__fail(NULL, SOUK_EINVAL, "context is NULL");
	int r = ensure_cart(x);
	if (r == SOUK_OK)
		r = souk__pb_set_money(&x->pb->cart->total, amount, currency);
	return done(r, "currency is not valid UTF-8");
}

int souk_context_add_page_visit(souk_context *x, const char *url, const char *title, int64_t at_ms)
{
	souk__clear_error();
	if (!x || !url)
		return souk__fail(NULL, SOUK_EINVAL, x ? "url is NULL" : "context is NULL");
	Souk__V1__PageVisit *v = malloc(sizeof(*v));
	if (!v)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	souk__v1__page_visit__init(v);
	int r = souk__pb_set_str(&v->url, url);
	if (r == SOUK_OK)
		r = souk__pb_set_str(&v->title, title);
	v->at_ms = at_ms;
	if (r == SOUK_OK) {
		Souk__V1__PageVisit **a =
			realloc(x->pb->page_trail, (x->pb->n_page_trail + 1) * sizeof(*a));
		if (!a)
			r = SOUK_ENOMEM;
		else {
			a[x->pb->n_page_trail++] = v;
			x->pb->page_trail = a;
		}
	}
	if (r != SOUK_OK)
		protobuf_c_message_free_unpacked(&v->base, NULL);
	return done(r, "the page's url or title is not valid UTF-8");
}

int souk_context_set_attribute(souk_context *x, const char *key, const char *value)
{
	souk__clear_error();
	if (!x || !key || !key[0])
		return souk__fail(NULL, SOUK_EINVAL, x ? "key is empty" : "context is NULL");
	if (!souk_wire_utf8_valid(key, strlen(key)))
		return souk__fail(NULL, SOUK_EINVAL, "key is not valid UTF-8");
	Souk__V1__ShoppingContext *pb = x->pb;
	for (size_t i = 0; i < pb->n_attributes; i++) {
		if (strcmp(pb->attributes[i]->key, key) != 0)
			continue;
		if (value)
			return done(souk__pb_set_str(&pb->attributes[i]->value, value),
				    "value is not valid UTF-8");
		protobuf_c_message_free_unpacked(&pb->attributes[i]->base, NULL);
		memmove(&pb->attributes[i], &pb->attributes[i + 1],
			(pb->n_attributes - i - 1) * sizeof(*pb->attributes));
		pb->n_attributes--;
		return SOUK_OK;
	}
	if (!value)
		return SOUK_OK;
	Souk__V1__ShoppingContext__AttributesEntry *e = malloc(sizeof(*e));
	if (!e)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	souk__v1__shopping_context__attributes_entry__init(e);
	int r = souk__pb_set_str(&e->key, key);
	if (r == SOUK_OK)
		r = souk__pb_set_str(&e->value, value);
	if (r == SOUK_OK) {
		Souk__V1__ShoppingContext__AttributesEntry **a =
			realloc(pb->attributes, (pb->n_attributes + 1) * sizeof(*a));
		if (!a)
			r = SOUK_ENOMEM;
		else {
			a[pb->n_attributes++] = e;
			pb->attributes = a;
		}
	}
	if (r != SOUK_OK)
		protobuf_c_message_free_unpacked(&e->base, NULL);
	return done(r, "value is not valid UTF-8");
}

/* ---- getters --------------------------------------------------------------------------- */

const souk_content *souk_context_get_product(const souk_context *x)
{
	return x ? x->product : NULL;
}

const souk_content *souk_context_get_order(const souk_context *x)
{
	return x ? x->order : NULL;
}

size_t souk_context_get_cart_item_count(const souk_context *x)
{
	return x && x->pb->cart ? x->pb->cart->n_items : 0;
}

static const Souk__V1__OrderItem *cart_item(const souk_context *x, size_t i)
{
	return i < souk_context_get_cart_item_count(x) ? x->pb->cart->items[i] : NULL;
}

const char *souk_context_get_cart_item_product_id(const souk_context *x, size_t i)
{
	const Souk__V1__OrderItem *it = cart_item(x, i);
	return it ? souk__pb_str(it->product_id) : NULL;
}

const char *souk_context_get_cart_item_title(const souk_context *x, size_t i)
{
	const Souk__V1__OrderItem *it = cart_item(x, i);
	return it ? souk__pb_str(it->title) : NULL;
}

uint32_t souk_context_get_cart_item_quantity(const souk_context *x, size_t i)
{
	const Souk__V1__OrderItem *it = cart_item(x, i);
	return it ? it->quantity : 0;
}

int64_t souk_context_get_cart_item_price_minor(const souk_context *x, size_t i)
{
	const Souk__V1__OrderItem *it = cart_item(x, i);
	return it && it->price ? it->price->amount_minor : 0;
}

const char *souk_context_get_cart_item_price_currency(const souk_context *x, size_t i)
{
	const Souk__V1__OrderItem *it = cart_item(x, i);
	return it && it->price ? souk__pb_str(it->price->currency) : NULL;
}

int64_t souk_context_get_cart_total_minor(const souk_context *x)
{
	return x && x->pb->cart && x->pb->cart->total ? x->pb->cart->total->amount_minor : 0;
}

const char *souk_context_get_cart_total_currency(const souk_context *x)
{
	return x && x->pb->cart && x->pb->cart->total ? souk__pb_str(x->pb->cart->total->currency)
						      : NULL;
}

size_t souk_context_get_page_visit_count(const souk_context *x)
{
	return x ? x->pb->n_page_trail : 0;
}

const char *souk_context_get_page_visit_url(const souk_context *x, size_t i)
{
	return i < souk_context_get_page_visit_count(x) ? souk__pb_str(x->pb->page_trail[i]->url)
							: NULL;
}

const char *souk_context_get_page_visit_title(const souk_context *x, size_t i)
{
	return i < souk_context_get_page_visit_count(x) ? souk__pb_str(x->pb->page_trail[i]->title)
							: NULL;
}

int64_t souk_context_get_page_visit_at_ms(const souk_context *x, size_t i)
{
	return i < souk_context_get_page_visit_count(x) ? x->pb->page_trail[i]->at_ms : 0;
}

size_t souk_context_get_attribute_count(const souk_context *x)
{
	return x ? x->pb->n_attributes : 0;
}

const char *souk_context_get_attribute_key(const souk_context *x, size_t i)
{
	return i < souk_context_get_attribute_count(x) ? souk__pb_str(x->pb->attributes[i]->key)
						       : NULL;
}

const char *souk_context_get_attribute_value(const souk_context *x, size_t i)
{
	return i < souk_context_get_attribute_count(x) ? souk__pb_str(x->pb->attributes[i]->value)
						       : NULL;
}

const char *souk_context_get_attribute(const souk_context *x, const char *key)
{
	if (!key)
		return NULL;
	for (size_t i = 0; i < souk_context_get_attribute_count(x); i++)
		if (strcmp(x->pb->attributes[i]->key, key) == 0)
			return souk__pb_str(x->pb->attributes[i]->value);
	return NULL;
}
