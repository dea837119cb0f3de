/*
 * Unit tests of the rich content and shopping context builders (no server, no store):
 * every kind built with the setters and read back with the getters, through an encode /
 * decode round trip as the SDK stores and sends it; the protocol's rules refused by
 * souk_content_validate / souk_context_validate with the documented codes and a message
 * naming the field; setters of the wrong kind; copies independent of their source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A content as another device sees it: encoded as stored and sent, decoded. */
static souk_content *round_trip(const souk_content *c)
{
	size_t len = souk__v1__content__get_packed_size(c->pb);
	uint8_t *buf = malloc(len + 1);
	assert_non_null(buf);
	souk__v1__content__pack(c->pb, buf);
	souk_content *out = NULL;
	assert_int_equal(souk__content_decode(buf, len, &out), SOUK_OK);
	free(buf);
	return out;
}

static souk_context *context_round_trip(const souk_context *x)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(souk__context_encode(x, &buf, &len), SOUK_OK);
	souk_context *out = NULL;
	assert_int_equal(souk__context_decode(buf, len, &out), SOUK_OK);
	free(buf);
	return out;
}

/* NULL, hidden from clang's non-null checks: the tests pass it on purpose */
static const char *none(void)
{
	return NULL;
}

static void expect_invalid(const souk_content *c, int code, const char *why)
{
	assert_int_equal(souk_content_validate(c), code);
	if (!strstr(souk_client_errmsg(NULL), why))
		fail_msg("message \"%s\" does not mention \"%s\"", souk_client_errmsg(NULL), why);
}

static souk_content *product(void)
{
	souk_content *p = NULL;
	assert_int_equal(souk_content_create(&p, SOUK_CONTENT_PRODUCT), SOUK_OK);
	assert_int_equal(souk_content_set_product_id(p, "sku-1"), SOUK_OK);
	assert_int_equal(souk_content_set_product_title(p, "Trail shoe"), SOUK_OK);
	assert_int_equal(souk_content_set_product_image_url(p, "https://cdn.example/s.png"),
			 SOUK_OK);
	assert_int_equal(souk_content_set_product_url(p, "https://shop.example/sku-1"), SOUK_OK);
	assert_int_equal(souk_content_set_product_price(p, 8999, "EUR"), SOUK_OK);
	return p;
}

static void test_text_and_fallback(void **state)
{
	(void)state;
	souk_content *c = NULL;
	assert_int_equal(souk_content_create(&c, SOUK_CONTENT_UNKNOWN), SOUK_EINVAL);
	assert_null(c);
	assert_int_equal(souk_content_create(&c, SOUK_CONTENT_TEXT), SOUK_OK);
	assert_int_equal(souk_content_get_kind(c), SOUK_CONTENT_TEXT);
	assert_null(souk_content_get_text(c));
	expect_invalid(c, SOUK_EINVAL, "text.body is empty");
	assert_int_equal(souk_content_set_text(c, "héllo"), SOUK_OK);
	assert_int_equal(souk_content_set_text(c, "\xff"), SOUK_EINVAL); /* not UTF-8 */
	assert_string_equal(souk_content_get_text(c), "héllo");		 /* unchanged */
	assert_int_equal(souk_content_set_text(c, none()), SOUK_EINVAL);
	assert_int_equal(souk_content_validate(c), SOUK_OK);
	assert_null(souk_content_get_fallback_text(c));
	assert_int_equal(souk_content_set_fallback_text(c, "fb"), SOUK_OK);
	assert_string_equal(souk_content_get_fallback_text(c), "fb");
	assert_int_equal(souk_content_set_fallback_text(c, NULL), SOUK_OK);
	assert_null(souk_content_get_fallback_text(c));
	/* a field of another kind */
	assert_int_equal(souk_content_set_product_title(c, "x"), SOUK_EINVAL);
	assert_non_null(strstr(souk_client_errmsg(NULL), "text content"));
	assert_null(souk_content_get_product_title(c));
	assert_int_equal(souk_content_get_order_item_count(c), 0);
	/* too large: the protocol's 16 KiB */
	char *big = malloc(17 * 1024);
	memset(big, 'a', 17 * 1024 - 1);
	big[17 * 1024 - 1] = '\0';
	assert_int_equal(souk_content_set_text(c, big), SOUK_OK);
	assert_int_equal(souk_content_validate(c), SOUK_ETOOLARGE);
	free(big);
	souk_content_free(c);
	souk_content_free(NULL);
}

static void test_attachment(void **state)
{
	(void)state;
	souk_content *c = NULL;
	assert_int_equal(souk_content_create(&c, SOUK_CONTENT_ATTACHMENT), SOUK_OK);
	expect_invalid(c, SOUK_EINVAL, "attachment.url is required");
	assert_int_equal(souk_content_set_attachment_url(c, "https://cdn.example/a.png"), SOUK_OK);
	expect_invalid(c, SOUK_EINVAL, "attachment.mime_type is required");
	assert_int_equal(souk_content_set_attachment_mime_type(c, "image/png"), SOUK_OK);
	assert_int_equal(souk_content_set_attachment_file_name(c, "a.png"), SOUK_OK);
	assert_int_equal(souk_content_set_attachment_size(c, 1234), SOUK_OK);
	assert_int_equal(souk_content_set_attachment_dimensions(c, 640, 480), SOUK_OK);
	assert_int_equal(souk_content_validate(c), SOUK_OK);
	souk_content *r = round_trip(c);
	souk_content_free(c);
	assert_int_equal(souk_content_get_kind(r), SOUK_CONTENT_ATTACHMENT);
	assert_string_equal(souk_content_get_attachment_url(r), "https://cdn.example/a.png");
	assert_string_equal(souk_content_get_attachment_mime_type(r), "image/png");
	assert_string_equal(souk_content_get_attachment_file_name(r), "a.png");
	assert_int_equal(souk_content_get_attachment_size(r), 1234);
	assert_int_equal(souk_content_get_attachment_width(r), 640);
	assert_int_equal(souk_content_get_attachment_height(r), 480);
	souk_content_free(r);
}

static void test_product(void **state)
{
	(void)state;
	souk_content *p = product();
	assert_int_equal(souk_content_validate(p), SOUK_OK);
	souk_content *r = round_trip(p);
	assert_string_equal(souk_content_get_product_id(r), "sku-1");
	assert_string_equal(souk_content_get_product_title(r), "Trail shoe");
	assert_string_equal(souk_content_get_product_image_url(r), "https://cdn.example/s.png");
	assert_string_equal(souk_content_get_product_url(r), "https://shop.example/sku-1");
	assert_int_equal(souk_content_get_product_price_minor(r), 8999);
	assert_string_equal(souk_content_get_product_price_currency(r), "EUR");
	souk_content_free(r);
	/* a price of 0 is a price; no currency is none */
	assert_int_equal(souk_content_set_product_price(p, 0, "USD"), SOUK_OK);
	assert_string_equal(souk_content_get_product_price_currency(p), "USD");
	assert_int_equal(souk_content_set_product_price(p, 5, NULL), SOUK_OK);
	assert_null(souk_content_get_product_price_currency(p));
	assert_int_equal(souk_content_get_product_price_minor(p), 0);
	assert_int_equal(souk_content_set_product_price(p, 100, "eur"), SOUK_OK);
	expect_invalid(p, SOUK_EINVAL, "product.price.currency");
	assert_int_equal(souk_content_set_product_price(p, 100, "EUR"), SOUK_OK);
	assert_int_equal(souk_content_set_product_title(p, ""), SOUK_OK); /* clears it */
	expect_invalid(p, SOUK_EINVAL, "product.title is required");
	souk_content_free(p);
}

static void test_order(void **state)
{
	(void)state;
	souk_content *o = NULL;
	assert_int_equal(souk_content_create(&o, SOUK_CONTENT_ORDER), SOUK_OK);
	expect_invalid(o, SOUK_EINVAL, "order.order_id is required");
	assert_int_equal(souk_content_set_order_id(o, "o-42"), SOUK_OK);
	assert_int_equal(souk_content_set_order_status(o, "shipped"), SOUK_OK);
	assert_int_equal(souk_content_add_order_item(o, "sku-1", "Trail shoe", 2, 8999, "EUR"),
			 SOUK_OK);
	assert_int_equal(souk_content_add_order_item(o, NULL, "Gift wrap", 1, 0, NULL), SOUK_OK);
	assert_int_equal(souk_content_set_order_total(o, 17998, "EUR"), SOUK_OK);
	assert_int_equal(souk_content_validate(o), SOUK_OK);
	souk_content *r = round_trip(o);
	assert_string_equal(souk_content_get_order_id(r), "o-42");
	assert_string_equal(souk_content_get_order_status(r), "shipped");
	assert_int_equal(souk_content_get_order_item_count(r), 2);
	assert_string_equal(souk_content_get_order_item_product_id(r, 0), "sku-1");
	assert_string_equal(souk_content_get_order_item_title(r, 0), "Trail shoe");
	assert_int_equal(souk_content_get_order_item_quantity(r, 0), 2);
	assert_int_equal(souk_content_get_order_item_price_minor(r, 0), 8999);
	assert_string_equal(souk_content_get_order_item_price_currency(r, 0), "EUR");
	assert_null(souk_content_get_order_item_product_id(r, 1));
	assert_null(souk_content_get_order_item_price_currency(r, 1));
	assert_null(souk_content_get_order_item_title(r, 2)); /* out of range */
	assert_int_equal(souk_content_get_order_item_quantity(r, 2), 0);
	assert_int_equal(souk_content_get_order_total_minor(r), 17998);
	assert_string_equal(souk_content_get_order_total_currency(r), "EUR");
	souk_content_free(r);
	for (int i = 0; i < 100; i++)
		assert_int_equal(souk_content_add_order_item(o, "s", "t", 1, 1, "EUR"), SOUK_OK);
	expect_invalid(o, SOUK_EINVAL, "too many items");
	souk_content_free(o);
}

static void test_quick_replies(void **state)
{
	(void)state;
	souk_content *q = NULL;
	assert_int_equal(souk_content_create(&q, SOUK_CONTENT_QUICK_REPLIES), SOUK_OK);
	assert_int_equal(souk_content_set_quick_replies_prompt(q, "Track your order?"), SOUK_OK);
	expect_invalid(q, SOUK_EINVAL, "quick_replies.replies is empty");
	assert_int_equal(souk_content_add_quick_reply(q, "yes", "Yes please"), SOUK_OK);
	assert_int_equal(souk_content_add_quick_reply(q, "no", "No"), SOUK_OK);
	assert_int_equal(souk_content_add_quick_reply(q, none(), "x"), SOUK_EINVAL);
	assert_int_equal(souk_content_set_fallback_text(q, "Track your order? Yes / No"), SOUK_OK);
	assert_int_equal(souk_content_validate(q), SOUK_OK);
	souk_content *r = round_trip(q);
	assert_string_equal(souk_content_get_quick_replies_prompt(r), "Track your order?");
	assert_int_equal(souk_content_get_quick_reply_count(r), 2);
	assert_string_equal(souk_content_get_quick_reply_id(r, 0), "yes");
	assert_string_equal(souk_content_get_quick_reply_title(r, 0), "Yes please");
	assert_string_equal(souk_content_get_quick_reply_id(r, 1), "no");
	assert_null(souk_content_get_quick_reply_id(r, 2));
	assert_string_equal(souk_content_get_fallback_text(r), "Track your order? Yes / No");
	souk_content_free(r);
	assert_int_equal(souk_content_add_quick_reply(q, "", "empty id"), SOUK_OK);
	expect_invalid(q, SOUK_EINVAL, "quick_replies.replies.id is required");
	souk_content_free(q);
}

static void test_csat(void **state)
{
	(void)state;
	souk_content *s = NULL, *a = NULL;
	assert_int_equal(souk_content_create(&s, SOUK_CONTENT_CSAT_SURVEY), SOUK_OK);
	assert_int_equal(souk_content_set_csat_survey_id(s, "s-1"), SOUK_OK);
	assert_int_equal(souk_content_set_csat_question(s, "How did we do?"), SOUK_OK);
	expect_invalid(s, SOUK_EINVAL, "scale must be within 2..10");
	assert_int_equal(souk_content_set_csat_scale(s, 5), SOUK_OK);
	assert_int_equal(souk_content_set_csat_rating(s, 3), SOUK_EINVAL); /* an answer's */
	assert_int_equal(souk_content_validate(s), SOUK_OK);
	souk_content *r = round_trip(s);
	assert_string_equal(souk_content_get_csat_survey_id(r), "s-1");
	assert_string_equal(souk_content_get_csat_question(r), "How did we do?");
	assert_int_equal(souk_content_get_csat_scale(r), 5);
	assert_int_equal(souk_content_get_csat_rating(r), 0);
	souk_content_free(r);

	assert_int_equal(souk_content_create(&a, SOUK_CONTENT_CSAT_ANSWER), SOUK_OK);
	expect_invalid(a, SOUK_EINVAL, "csat_answer.survey_id is required");
	assert_int_equal(souk_content_set_csat_survey_id(a, "s-1"), SOUK_OK);
	expect_invalid(a, SOUK_EINVAL, "rating must be within 1..10");
	assert_int_equal(souk_content_set_csat_rating(a, 4), SOUK_OK);
	assert_int_equal(souk_content_set_csat_comment(a, "quick"), SOUK_OK);
	assert_int_equal(souk_content_set_csat_scale(a, 5), SOUK_EINVAL); /* a survey's */
	assert_int_equal(souk_content_validate(a), SOUK_OK);
	r = round_trip(a);
	assert_int_equal(souk_content_get_kind(r), SOUK_CONTENT_CSAT_ANSWER);
	assert_string_equal(souk_content_get_csat_survey_id(r), "s-1");
	assert_int_equal(souk_content_get_csat_rating(r), 4);
	assert_string_equal(souk_content_get_csat_comment(r), "quick");
	assert_null(souk_content_get_csat_question(r));
	souk_content_free(r);
	souk_content_free(s);
	souk_content_free(a);
}

static void test_copy_is_independent(void **state)
{
	(void)state;
	souk_content *p = product();
	souk_content *c = NULL;
	assert_int_equal(souk_content_copy(&c, p), SOUK_OK);
	assert_int_equal(souk_content_set_product_title(p, "Changed"), SOUK_OK);
	souk_content_free(p);
	assert_string_equal(souk_content_get_product_title(c), "Trail shoe");
	assert_string_equal(souk_content_get_product_price_currency(c), "EUR");
	souk_content_free(c);
}

static void test_context(void **state)
{
	(void)state;
	souk_context *x = NULL;
	assert_int_equal(souk_context_create(&x), SOUK_OK);
	assert_int_equal(souk_context_validate(x), SOUK_OK); /* empty: clears the context */
	souk_content *p = product(), *text = NULL, *o = NULL;
	assert_int_equal(souk_content_create(&text, SOUK_CONTENT_TEXT), SOUK_OK);
	assert_int_equal(souk_context_set_product(x, text), SOUK_EINVAL);
	assert_int_equal(souk_context_set_product(x, p), SOUK_OK);
	souk_content_free(p); /* copied */
	assert_int_equal(souk_content_create(&o, SOUK_CONTENT_ORDER), SOUK_OK);
	assert_int_equal(souk_content_set_order_id(o, "o-42"), SOUK_OK);
	assert_int_equal(souk_context_set_order(x, text), SOUK_EINVAL);
	assert_int_equal(souk_context_set_order(x, o), SOUK_OK);
	souk_content_free(o);
	souk_content_free(text);
	assert_int_equal(souk_context_add_cart_item(x, "sku-1", "Trail shoe", 1, 8999, "EUR"),
			 SOUK_OK);
	assert_int_equal(souk_context_add_cart_item(x, "sku-2", "Socks", 3, 499, "EUR"), SOUK_OK);
	assert_int_equal(souk_context_set_cart_total(x, 10496, "EUR"), SOUK_OK);
	assert_int_equal(souk_context_add_page_visit(x, "https://shop.example/", "Home", 1000),
			 SOUK_OK);
	assert_int_equal(souk_context_add_page_visit(x, "https://shop.example/sku-1", NULL, 2000),
			 SOUK_OK);
	assert_int_equal(souk_context_add_page_visit(x, none(), "x", 1), SOUK_EINVAL);
	assert_int_equal(souk_context_set_attribute(x, "name", "Ada"), SOUK_OK);
	assert_int_equal(souk_context_set_attribute(x, "locale", "fr-FR"), SOUK_OK);
	assert_int_equal(souk_context_set_attribute(x, "tier", "silver"), SOUK_OK);
	assert_int_equal(souk_context_set_attribute(x, "tier", "gold"), SOUK_OK); /* replaces */
	assert_int_equal(souk_context_set_attribute(x, "locale", NULL), SOUK_OK); /* removes */
	assert_int_equal(souk_context_set_attribute(x, "", "v"), SOUK_EINVAL);
	assert_int_equal(souk_context_validate(x), SOUK_OK);

	souk_context *r = context_round_trip(x);
	souk_context *c = NULL;
	assert_int_equal(souk_context_copy(&c, r), SOUK_OK);
	souk_context_free(r);
	assert_string_equal(souk_content_get_product_title(souk_context_get_product(c)),
			    "Trail shoe");
	assert_int_equal(souk_content_get_product_price_minor(souk_context_get_product(c)), 8999);
	assert_string_equal(souk_content_get_order_id(souk_context_get_order(c)), "o-42");
	assert_int_equal(souk_context_get_cart_item_count(c), 2);
	assert_string_equal(souk_context_get_cart_item_product_id(c, 1), "sku-2");
	assert_string_equal(souk_context_get_cart_item_title(c, 1), "Socks");
	assert_int_equal(souk_context_get_cart_item_quantity(c, 1), 3);
	assert_int_equal(souk_context_get_cart_item_price_minor(c, 1), 499);
	assert_string_equal(souk_context_get_cart_item_price_currency(c, 1), "EUR");
	assert_null(souk_context_get_cart_item_title(c, 2));
	assert_int_equal(souk_context_get_cart_total_minor(c), 10496);
	assert_string_equal(souk_context_get_cart_total_currency(c), "EUR");
	assert_int_equal(souk_context_get_page_visit_count(c), 2);
	assert_string_equal(souk_context_get_page_visit_url(c, 0), "https://shop.example/");
	assert_string_equal(souk_context_get_page_visit_title(c, 0), "Home");
	assert_int_equal(souk_context_get_page_visit_at_ms(c, 1), 2000);
	assert_null(souk_context_get_page_visit_title(c, 1));
	assert_int_equal(souk_context_get_attribute_count(c), 2);
	assert_string_equal(souk_context_get_attribute_key(c, 0), "name");
	assert_string_equal(souk_context_get_attribute_value(c, 1), "gold");
	assert_string_equal(souk_context_get_attribute(c, "tier"), "gold");
	assert_null(souk_context_get_attribute(c, "locale"));
	souk_context_free(c);
	/* removing the product and the order */
	assert_int_equal(souk_context_set_product(x, NULL), SOUK_OK);
	assert_int_equal(souk_context_set_order(x, NULL), SOUK_OK);
	assert_null(souk_context_get_product(x));
	assert_null(souk_context_get_order(x));
	souk_context_free(x);
	souk_context_free(NULL);
}

static void test_context_limits(void **state)
{
	(void)state;
	souk_context *x = NULL;
	assert_int_equal(souk_context_create(&x), SOUK_OK);
	for (int i = 0; i < 51; i++)
		assert_int_equal(souk_context_add_page_visit(x, "https://shop.example/p", "P", i),
				 SOUK_OK);
	assert_int_equal(souk_context_validate(x), SOUK_EINVAL);
	assert_non_null(strstr(souk_client_errmsg(NULL), "page_trail"));
	souk_context_free(x);

	assert_int_equal(souk_context_create(&x), SOUK_OK);
	char key[80];
	memset(key, 'k', 65);
	key[65] = '\0';
	assert_int_equal(souk_context_set_attribute(x, key, "v"), SOUK_OK);
	assert_int_equal(souk_context_validate(x), SOUK_EINVAL); /* keys <= 64 bytes */
	assert_int_equal(souk_context_set_attribute(x, key, NULL), SOUK_OK);
	for (int i = 0; i < 51; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(souk_context_set_attribute(x, key, "v"), SOUK_OK);
	}
	assert_int_equal(souk_context_validate(x), SOUK_EINVAL);
	assert_non_null(strstr(souk_client_errmsg(NULL), "attributes"));
	souk_context_free(x);

	assert_int_equal(souk_context_create(&x), SOUK_OK);
	assert_int_equal(souk_context_set_cart_total(x, 1, "EURO"), SOUK_OK);
	assert_int_equal(souk_context_validate(x), SOUK_EINVAL);
	assert_int_equal(souk_context_set_cart_total(x, 1, NULL), SOUK_OK);
	assert_int_equal(souk_context_validate(x), SOUK_OK);
	/* within every count limit but over one frame: 100 items of 1 KiB titles */
	char title[1025];
	memset(title, 't', 1024);
	title[1024] = '\0';
	for (int i = 0; i < 50; i++)
		assert_int_equal(souk_context_add_page_visit(x, "https://shop.example/", title, i),
				 SOUK_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(souk_context_add_cart_item(x, "sku", title, 1, 1, "EUR"), SOUK_OK);
	assert_int_equal(souk_context_validate(x), SOUK_ETOOLARGE);
	souk_context_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_and_fallback),
		cmocka_unit_test(test_attachment),
		cmocka_unit_test(test_product),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_quick_replies),
		cmocka_unit_test(test_csat),
		cmocka_unit_test(test_copy_is_independent),
		cmocka_unit_test(test_context),
		cmocka_unit_test(test_context_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
