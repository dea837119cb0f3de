/* Unit tests of libsouk_wire: UTF-8, decoding limits, validation, event splicing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "souk_wire/wire.h"

static void utf8(void **state)
{
	(void)state;
	assert_true(souk_wire_utf8_valid("hello", 5));
	assert_true(souk_wire_utf8_valid("\xc3\xa9t\xc3\xa9", 5)); /* été */
	assert_true(souk_wire_utf8_valid("\xf0\x9f\x9b\x92", 4));  /* 🛒 */
	assert_false(souk_wire_utf8_valid("\xc3\x28", 2));	   /* bad continuation */
	assert_false(souk_wire_utf8_valid("\xc0\xaf", 2));	   /* overlong */
	assert_false(souk_wire_utf8_valid("\xe0\x80\xaf", 3));	   /* overlong */
	assert_false(souk_wire_utf8_valid("\xed\xa0\x80", 3));	   /* surrogate */
	assert_false(souk_wire_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(souk_wire_utf8_valid("\xe2\x82", 2));	   /* truncated */
	assert_false(souk_wire_utf8_valid("\xff", 1));
}

static size_t pack(const Souk__V1__Frame *f, uint8_t *buf)
{
	return souk__v1__frame__pack(f, buf);
}

static Souk__V1__Frame *send_frame(Souk__V1__Send *s, Souk__V1__Content *c, Souk__V1__Text *t,
				   uint8_t *cmid, const char *body)
{
	static Souk__V1__Frame f;
	souk__v1__frame__init(&f);
	souk__v1__send__init(s);
	souk__v1__content__init(c);
	souk__v1__text__init(t);
	t->body = (char *)body;
	c->kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	c->text = t;
	s->client_msg_id.data = cmid;
	s->client_msg_id.len = 16;
	s->conversation_id = "conv_1";
	s->content = c;
	f.body_case = SOUK__V1__FRAME__BODY_SEND;
	f.send = s;
	f.request_id = 42;
	return &f;
}

static void decode_valid_send(void **state)
{
	(void)state;
	Souk__V1__Send s;
	Souk__V1__Content c;
	Souk__V1__Text t;
	uint8_t cmid[16] = {1};
	uint8_t buf[256];
	size_t n = pack(send_frame(&s, &c, &t, cmid, "hi"), buf);
	Souk__V1__Frame *out = NULL;
	souk_wire_status st = souk_wire_decode(buf, n, 1, &out);
	assert_int_equal(st.code, 0);
	assert_non_null(out);
	assert_int_equal(out->request_id, 42);
	assert_string_equal(out->send->content->text->body, "hi");
	souk_wire_frame_free(out);
	/* the same frame is not something a server may send */
	st = souk_wire_decode(buf, n, 0, &out);
	assert_int_equal(st.code, SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME);
	assert_null(out);
}

static void decode_refusals(void **state)
{
	(void)state;
	Souk__V1__Frame *out = NULL;
	uint8_t big[SOUK_WIRE_MAX_FRAME + 1] = {0};
	assert_int_equal(souk_wire_decode(big, sizeof(big), 1, &out).code,
			 SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE);
	assert_int_equal(souk_wire_decode((const uint8_t *)"", 0, 1, &out).code,
			 SOUK__V1__ERROR_CODE__BAD_FRAME);
	const uint8_t garbage[] = {0xff, 0xff, 0xff};
	assert_int_equal(souk_wire_decode(garbage, sizeof(garbage), 1, &out).code,
			 SOUK__V1__ERROR_CODE__BAD_FRAME);
	const uint8_t huge_len[] = {0x82, 0x01, 0x80, 0x80, 0x80, 0x80, 0x08};
	assert_int_equal(souk_wire_decode(huge_len, sizeof(huge_len), 1, &out).code,
			 SOUK__V1__ERROR_CODE__BAD_FRAME);
	const uint8_t no_body[] = {0x08, 0x01}; /* request_id only */
	assert_int_equal(souk_wire_decode(no_body, sizeof(no_body), 1, &out).code,
			 SOUK__V1__ERROR_CODE__BAD_FRAME);
	assert_null(out);
}

static void decode_keep_returns_ids_of_refused_frames(void **state)
{
	(void)state;
	Souk__V1__Send s;
	Souk__V1__Content c;
	Souk__V1__Text t;
	uint8_t cmid[16] = {7};
	uint8_t buf[256];
	size_t n = pack(send_frame(&s, &c, &t, cmid, "XXXX"), buf);
	uint8_t *p = memmem(buf, n, "XXXX", 4);
	assert_non_null(p);
	memcpy(p, "\xc3\x28\xa0\xa1", 4);
	Souk__V1__Frame *out = NULL;
	souk_wire_status st = souk_wire_decode_keep(buf, n, 1, &out);
	assert_int_equal(st.code, SOUK__V1__ERROR_CODE__INVALID_FIELD);
	assert_non_null(out);
	assert_int_equal(out->request_id, 42);
	assert_memory_equal(out->send->client_msg_id.data, cmid, 16);
	souk_wire_frame_free(out);
	st = souk_wire_decode(buf, n, 1, &out);
	assert_int_equal(st.code, SOUK__V1__ERROR_CODE__INVALID_FIELD);
	assert_null(out);
}

static void decode_budget_bounds_memory(void **state)
{
	(void)state;
	/* 64 KiB of empty quick replies: each 2 bytes on the wire, ~100 bytes decoded */
	size_t n_replies = 30000;
	size_t inner_len = n_replies * 2;
	uint8_t *buf = malloc(SOUK_WIRE_MAX_FRAME);
	size_t n = 0;
	/* Frame.send (13) { content (3) { quick_replies (14) { replies (2) {} ... } } } */
	uint8_t qr[8], content[8], send[8];
	size_t qrl = 0, cl = 0, sl = 0;
	size_t qr_len = inner_len;
	size_t c_len, s_len;
#define VARINT(arr, len, v)                                                                        \
	do {                                                                                       \
		uint64_t x_ = (v);                                                                 \
		while (x_ >= 0x80) {                                                               \
			arr[len++] = (uint8_t)(x_ | 0x80);                                         \
			x_ >>= 7;                                                                  \
		}                                                                                  \
		arr[len++] = (uint8_t)x_;                                                          \
	} while (0)
	qr[qrl++] = (14 << 3) | 2;
	VARINT(qr, qrl, qr_len);
	c_len = qrl + qr_len;
	content[cl++] = (3 << 3) | 2;
	VARINT(content, cl, c_len);
	s_len = cl + c_len;
	send[sl++] = (13 << 3) | 2;
	VARINT(send, sl, s_len);
	memcpy(buf + n, send, sl);
	n += sl;
	memcpy(buf + n, content, cl);
	n += cl;
	memcpy(buf + n, qr, qrl);
	n += qrl;
	for (size_t i = 0; i < n_replies; i++) {
		buf[n++] = (2 << 3) | 2;
		buf[n++] = 0;
	}
	assert_true(n <= SOUK_WIRE_MAX_FRAME);
	Souk__V1__Frame *out = NULL;
	souk_wire_status st = souk_wire_decode(buf, n, 1, &out);
	/* refused either by the allocation budget or by the list limit, never accepted */
	assert_true(st.code == SOUK__V1__ERROR_CODE__BAD_FRAME ||
		    st.code == SOUK__V1__ERROR_CODE__INVALID_FIELD);
	assert_null(out);
	free(buf);
}

static void content_validation(void **state)
{
	(void)state;
	Souk__V1__Content c = SOUK__V1__CONTENT__INIT;
	assert_int_equal(souk_wire_validate_content(&c, 1000).code,
			 SOUK__V1__ERROR_CODE__INVALID_CONTENT);
	assert_int_equal(souk_wire_validate_content(NULL, 1000).code,
			 SOUK__V1__ERROR_CODE__MISSING_FIELD);
	Souk__V1__ProductCard p = SOUK__V1__PRODUCT_CARD__INIT;
	Souk__V1__Money m = SOUK__V1__MONEY__INIT;
	p.title = "Sneakers";
	m.amount_minor = 4999;
	m.currency = "eur";
	p.price = &m;
	c.kind_case = SOUK__V1__CONTENT__KIND_PRODUCT;
	c.product = &p;
	assert_int_equal(souk_wire_validate_content(&c, 1000).code,
			 SOUK__V1__ERROR_CODE__INVALID_FIELD);
	m.currency = "EUR";
	assert_int_equal(souk_wire_validate_content(&c, 1000).code, 0);
	assert_int_equal(souk_wire_validate_content(&c, 5).code,
			 SOUK__V1__ERROR_CODE__MESSAGE_TOO_LARGE);
	Souk__V1__CsatAnswer a = SOUK__V1__CSAT_ANSWER__INIT;
	a.survey_id = "s1";
	a.rating = 0;
	c.kind_case = SOUK__V1__CONTENT__KIND_CSAT_ANSWER;
	c.csat_answer = &a;
	assert_int_equal(souk_wire_validate_content(&c, 1000).code,
			 SOUK__V1__ERROR_CODE__INVALID_FIELD);
	a.rating = 5;
	assert_int_equal(souk_wire_validate_content(&c, 1000).code, 0);
	assert_string_equal(souk_wire_content_preview(&c), "[survey answer]");
	c.fallback_text = "Rated 5";
	assert_string_equal(souk_wire_content_preview(&c), "Rated 5");
}

static uint8_t *encode_event(uint64_t seq, const char *conv, size_t *len)
{
	Souk__V1__Event ev = SOUK__V1__EVENT__INIT;
	Souk__V1__Receipt r = SOUK__V1__RECEIPT__INIT;
	r.conversation_id = (char *)conv;
	r.user_id = "u";
	r.kind = SOUK__V1__RECEIPT_KIND__RECEIPT_READ;
	r.up_to_conv_seq = seq;
	ev.seq = seq;
	ev.server_time_ms = 1000 + (int64_t)seq;
	ev.body_case = SOUK__V1__EVENT__BODY_RECEIPT;
	ev.receipt = &r;
	*len = souk__v1__event__get_packed_size(&ev);
	uint8_t *b = malloc(*len);
	souk__v1__event__pack(&ev, b);
	return b;
}

static void splice_events_roundtrip(void **state)
{
	(void)state;
	const uint8_t *ev[3];
	size_t lens[3];
	for (int i = 0; i < 3; i++)
		ev[i] = encode_event((uint64_t)i + 5, "conv_x", &lens[i]);
	for (int page = 0; page <= 1; page++) {
		uint8_t *out;
		size_t len, used;
		assert_int_equal(souk_wire_encode_events(99, page, ev, lens, 3, 0, 300, 16, &out,
							 &len, &used),
				 0);
		assert_int_equal(used, 3);
		Souk__V1__Frame *f = NULL;
		assert_int_equal(souk_wire_decode(out + 16, len, 0, &f).code, 0);
		assert_int_equal(f->request_id, 99);
		Souk__V1__Event **evs = page ? f->sync_page->events : f->events->events;
		size_t n = page ? f->sync_page->n_events : f->events->n_events;
		assert_int_equal(n, 3);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(evs[i]->seq, 5 + i);
			assert_string_equal(evs[i]->receipt->conversation_id, "conv_x");
		}
		if (page) {
			assert_false(f->sync_page->has_more);
			assert_int_equal(f->sync_page->head_seq, 300);
		}
		souk_wire_frame_free(f);
		free(out);
	}
	for (int i = 0; i < 3; i++)
		free((void *)ev[i]);
}

static void splice_events_splits_at_the_frame_limit(void **state)
{
	(void)state;
	enum { N = 10 };
	const uint8_t *ev[N];
	size_t lens[N];
	char *conv = malloc(12000);
	memset(conv, 'c', 11999);
	conv[11999] = '\0';
	for (int i = 0; i < N; i++)
		ev[i] = encode_event((uint64_t)i + 1, conv, &lens[i]);
	uint8_t *out;
	size_t len, used;
	assert_int_equal(souk_wire_encode_events(1, 1, ev, lens, N, 0, 10, 0, &out, &len, &used),
			 0);
	assert_true(used > 0 && used < N);
	assert_true(len <= SOUK_WIRE_MAX_FRAME);
	Souk__V1__Frame *f = NULL;
	/* decodes as a page, with has_more forced since not everything fitted */
	souk_wire_status st = souk_wire_decode_keep(out, len, 0, &f);
	assert_non_null(f);
	(void)st; /* ids over 128 bytes are refused by validation; the framing is what we test */
	assert_true(f->sync_page->has_more);
	assert_int_equal(f->sync_page->n_events, used);
	souk_wire_frame_free(f);
	free(out);
	for (int i = 0; i < N; i++)
		free((void *)ev[i]);
	free(conv);
}

static void field_zero_is_refused(void **state)
{
	(void)state;
	/* a Send whose Content carries an unknown field numbered 0 (tag 0x82 0x00): storing
	 * and re-encoding it would write a tag that no decoder accepts */
	Souk__V1__Send s;
	Souk__V1__Content c;
	Souk__V1__Text t;
	uint8_t cmid[16] = {9};
	uint8_t buf[256];
	size_t n = souk__v1__frame__pack(send_frame(&s, &c, &t, cmid, "hi"), buf);
	/* rebuild with the content's field 0 appended: frame = ... send(13) { ... content(3) } */
	Souk__V1__Content c2 = c;
	size_t clen = souk__v1__content__get_packed_size(&c2);
	uint8_t cbuf[64];
	souk__v1__content__pack(&c2, cbuf);
	cbuf[clen++] = 0x82;
	cbuf[clen++] = 0x00;
	cbuf[clen++] = 0x00; /* varint value 0 */
	uint8_t sbuf[128];
	size_t sl = 0;
	sbuf[sl++] = 0x0a;
	sbuf[sl++] = 16;
	memcpy(sbuf + sl, cmid, 16);
	sl += 16;
	sbuf[sl++] = 0x12;
	sbuf[sl++] = 6;
	memcpy(sbuf + sl, "conv_1", 6);
	sl += 6;
	sbuf[sl++] = 0x1a;
	sbuf[sl++] = (uint8_t)clen;
	memcpy(sbuf + sl, cbuf, clen);
	sl += clen;
	n = 0;
	buf[n++] = 0x6a; /* field 13, length-delimited */
	buf[n++] = (uint8_t)sl;
	memcpy(buf + n, sbuf, sl);
	n += sl;
	Souk__V1__Frame *out = NULL;
	souk_wire_status st = souk_wire_decode(buf, n, 1, &out);
	assert_int_equal(st.code, SOUK__V1__ERROR_CODE__BAD_FRAME);
	assert_null(out);
	/* the same frame without the stray field is fine */
	n -= 3;
	buf[1] = (uint8_t)(sl - 3);
	buf[2 + 16 + 2 + 2 + 6 + 1] = (uint8_t)(clen - 3);
	st = souk_wire_decode(buf, n, 1, &out);
	assert_int_equal(st.code, 0);
	souk_wire_frame_free(out);
}

static void error_names(void **state)
{
	(void)state;
	assert_string_equal(souk_wire_error_name(SOUK__V1__ERROR_CODE__TOKEN_EXPIRED),
			    "TOKEN_EXPIRED");
	assert_string_equal(souk_wire_error_name(12345), "UNKNOWN");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(utf8),
		cmocka_unit_test(decode_valid_send),
		cmocka_unit_test(decode_refusals),
		cmocka_unit_test(decode_keep_returns_ids_of_refused_frames),
		cmocka_unit_test(decode_budget_bounds_memory),
		cmocka_unit_test(content_validation),
		cmocka_unit_test(splice_events_roundtrip),
		cmocka_unit_test(splice_events_splits_at_the_frame_limit),
		cmocka_unit_test(field_zero_is_refused),
		cmocka_unit_test(error_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
