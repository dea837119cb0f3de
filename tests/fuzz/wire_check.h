/*
 * wire_check.h — the properties every frame decode must have, shared by fuzz_wire_client,
 * fuzz_wire_server and fuzz_fragments.
 *
 * For one buffer and one direction:
 *  - the status is 0 or one of the decoder's documented codes, with a reason iff refused;
 *    a frame is kept (decode_keep) exactly when the bytes were a Frame encoding;
 *  - souk_wire_decode and souk_wire_decode_keep agree;
 *  - a kept frame re-encodes with souk_wire_encode (unless the canonical encoding is over
 *    the frame limit, the encoder's one documented refusal), the re-encoding decodes to
 *    the same status, and encoding is idempotent from there on;
 *  - every accepted Content passes souk_wire_validate_content at exactly its packed size
 *    and is MESSAGE_TOO_LARGE one byte below it.
 */
#ifndef SOUK_FUZZ_WIRE_CHECK_H
#define SOUK_FUZZ_WIRE_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "souk_wire/wire.h"

/* LWS_PRE on the libwebsockets of Debian 12; any headroom must do. */
enum { WIRE_CHECK_HEADROOM = 16 };

static inline int wire_check_known_code(int code)
{
	switch (code) {
	case SOUK__V1__ERROR_CODE__BAD_FRAME:
	case SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE:
	case SOUK__V1__ERROR_CODE__MISSING_FIELD:
	case SOUK__V1__ERROR_CODE__INVALID_FIELD:
	case SOUK__V1__ERROR_CODE__UNEXPECTED_FRAME:
	case SOUK__V1__ERROR_CODE__MESSAGE_TOO_LARGE:
	case SOUK__V1__ERROR_CODE__INVALID_CONTENT:
		return 1;
	default:
		return 0;
	}
}

static inline void wire_check_content(const Souk__V1__Content *c)
{
	FUZZ_CHECK(c != NULL, "an accepted frame's content is present");
	size_t packed = protobuf_c_message_get_packed_size(&c->base);
	FUZZ_CHECK(souk_wire_validate_content(c, packed).code == 0,
		   "accepted content passes at exactly its packed size");
	if (packed > 0)
		FUZZ_CHECK(souk_wire_validate_content(c, packed - 1).code ==
				   SOUK__V1__ERROR_CODE__MESSAGE_TOO_LARGE,
			   "content one byte over the limit is MESSAGE_TOO_LARGE");
	FUZZ_CHECK(souk_wire_content_preview(c) != NULL, "a preview always exists");
}

static inline void wire_check_events(Souk__V1__Event **ev, size_t n)
{
	FUZZ_CHECK(n <= SOUK_WIRE_MAX_SYNC_PAGE, "accepted frames carry at most one page");
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(ev[i]->seq != 0, "accepted events have a seq");
		FUZZ_CHECK(i == 0 || ev[i]->seq == ev[i - 1]->seq + 1,
			   "accepted events are consecutive");
		if (ev[i]->body_case == SOUK__V1__EVENT__BODY_MESSAGE)
			wire_check_content(ev[i]->message->content);
	}
}

/* Known bug 1 (README.md, "Findings"): protobuf-c accepts field number 0 in a
 * multi-byte tag (0x82 0x00) and keeps it as an unknown field, but re-encodes it as the
 * one-byte tag 0x02, which it then refuses. 1 when any message of the tree holds one. */
static inline int wire_check_has_field_zero(const ProtobufCMessage *m)
{
	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return 1;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *fd = &d->fields[i];
		if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(const void *)(base + fd->quantifier_offset);
			const void *at = base + fd->offset;
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)at;
			for (size_t k = 0; k < n; k++)
				if (v[k] && wire_check_has_field_zero(v[k]))
					return 1;
			continue;
		}
		if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(const void *)(base + fd->quantifier_offset) != fd->id)
			continue;
		const ProtobufCMessage *sub =
			*(ProtobufCMessage *const *)(const void *)(base + fd->offset);
		if (sub && wire_check_has_field_zero(sub))
			return 1;
	}
	return 0;
}

/* Canonical protobuf-c encoding of a frame, without the frame limit (for comparisons). */
static inline uint8_t *wire_check_pack(const Souk__V1__Frame *f, size_t *len)
{
	*len = souk__v1__frame__get_packed_size(f);
	uint8_t *p = malloc(*len + 1);
	FUZZ_CHECK(p != NULL, "out of memory");
	FUZZ_CHECK(souk__v1__frame__pack(f, p) == *len, "pack writes get_packed_size bytes");
	return p;
}

/* Decodes, checks the properties above, and returns the status code. When canon is not
 * NULL and the bytes were a Frame, *canon receives its canonical encoding (malloc'ed),
 * else NULL. */
static inline int wire_check(const uint8_t *buf, size_t len, int from_client, uint8_t **canon,
			     size_t *canon_len)
{
	Souk__V1__Frame *f = (Souk__V1__Frame *)1, *g = (Souk__V1__Frame *)1;
	souk_wire_status st = souk_wire_decode_keep(buf, len, from_client, &f);
	if (canon)
		*canon = NULL;

	if (st.code == 0) {
		FUZZ_CHECK(f != NULL && st.why == NULL, "accepted: a frame and no reason");
	} else {
		FUZZ_CHECK(wire_check_known_code(st.code), "refusals use the documented codes");
		FUZZ_CHECK(st.why && st.why[0], "refusals carry a reason");
		FUZZ_CHECK(strcmp(souk_wire_error_name(st.code), "UNKNOWN") != 0,
			   "refusal codes have names");
	}
	if (len > SOUK_WIRE_MAX_FRAME)
		FUZZ_CHECK(st.code == SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE && !f,
			   "over the limit: FRAME_TOO_LARGE before any decoding");
	else
		FUZZ_CHECK(st.code != SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE,
			   "FRAME_TOO_LARGE only over the limit");
	if (len == 0)
		FUZZ_CHECK(st.code == SOUK__V1__ERROR_CODE__BAD_FRAME && !f, "empty: BAD_FRAME");
	if (!f)
		FUZZ_CHECK(st.code == SOUK__V1__ERROR_CODE__BAD_FRAME ||
				   st.code == SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE,
			   "no frame kept only when the bytes were not a Frame");

	/* the non-keeping variant agrees */
	souk_wire_status st2 = souk_wire_decode(buf, len, from_client, &g);
	FUZZ_CHECK(st2.code == st.code, "decode and decode_keep agree");
	FUZZ_CHECK((g != NULL) == (st.code == 0), "decode returns a frame iff accepted");
	souk_wire_frame_free(g);

	/* the arena variant (libsouk's sync path): refuses everything decode refuses, and what
	 * it accepts is the same frame. It may refuse more: memory protobuf-c frees during a
	 * decode (a non-repeated field sent twice) stays charged to the budget until the
	 * reset (wire.h). Decoded twice into one arena: a reset must leave nothing behind. */
	static souk_wire_arena *arena;
	if (!arena)
		FUZZ_CHECK((arena = souk_wire_arena_new()) != NULL, "out of memory");
	for (int round = 0; round < 2; round++) {
		Souk__V1__Frame *h = (Souk__V1__Frame *)1;
		souk_wire_status sa = souk_wire_decode_arena(buf, len, from_client, arena, &h);
		FUZZ_CHECK((h != NULL) == (sa.code == 0),
			   "decode_arena returns a frame iff accepted");
		if (st.code)
			FUZZ_CHECK(sa.code != 0, "decode_arena refuses what decode refuses");
		else if (sa.code)
			FUZZ_CHECK(sa.code == SOUK__V1__ERROR_CODE__BAD_FRAME && sa.why &&
					   sa.why[0],
				   "decode_arena refuses more only as BAD_FRAME, with a reason");
		if (h && f) {
			size_t la = 0, lk = 0;
			uint8_t *pa = wire_check_pack(h, &la), *pk = wire_check_pack(f, &lk);
			FUZZ_CHECK(la == lk && memcmp(pa, pk, la) == 0,
				   "decode_arena decodes the frame decode does");
			free(pa);
			free(pk);
		}
	}
	souk_wire_arena_reset(arena);
	if (len % 7 == 0)
		souk_wire_arena_trim(arena); /* trimmed arenas decode too */

	if (!f)
		return st.code;

	/* what soukd reads from a refused frame to answer it */
	if (st.code && f->body_case == SOUK__V1__FRAME__BODY_SEND)
		FUZZ_CHECK(f->send != NULL, "a send body is present");

	if (st.code == 0) {
		if (f->body_case == SOUK__V1__FRAME__BODY_SEND)
			wire_check_content(f->send->content);
		else if (f->body_case == SOUK__V1__FRAME__BODY_EVENTS)
			wire_check_events(f->events->events, f->events->n_events);
		else if (f->body_case == SOUK__V1__FRAME__BODY_SYNC_PAGE)
			wire_check_events(f->sync_page->events, f->sync_page->n_events);
		else if (f->body_case == SOUK__V1__FRAME__BODY_UPDATE_CONTEXT)
			FUZZ_CHECK(souk_wire_validate_context(f->update_context->context).code == 0,
				   "an accepted context validates on its own");
	}

	if (fuzz_skip_known() && wire_check_has_field_zero(&f->base)) {
		if (canon)
			*canon = wire_check_pack(f, canon_len);
		souk_wire_frame_free(f);
		return st.code;
	}

	/* round trip: re-encode, decode again, same verdict, then encoding is idempotent */
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	size_t packed = souk__v1__frame__get_packed_size(f);
	if (souk_wire_encode(f, WIRE_CHECK_HEADROOM, &enc, &enc_len) != 0) {
		/* Re-encoding can only grow through non-canonical input (a negative enum sent
		 * as a 5-byte varint is re-encoded in 10), so this happens near the limit. */
		FUZZ_CHECK(packed > SOUK_WIRE_MAX_FRAME,
			   "souk_wire_encode refuses only frames over the limit");
	} else if (enc_len == 0) {
		/* nothing but default values: a frame without a body, and the empty message
		 * is refused before protobuf-c sees it */
		FUZZ_CHECK(packed == 0 && st.code == SOUK__V1__ERROR_CODE__BAD_FRAME,
			   "only a body-less frame encodes to nothing");
		free(enc);
	} else {
		FUZZ_CHECK(enc_len == packed, "souk_wire_encode writes the packed size");
		Souk__V1__Frame *h = NULL;
		souk_wire_status st3 =
			souk_wire_decode_keep(enc + WIRE_CHECK_HEADROOM, enc_len, from_client, &h);
		FUZZ_CHECK(h != NULL, "a re-encoded frame decodes");
		FUZZ_CHECK(st3.code == st.code, "a re-encoded frame gets the same verdict");
		size_t again_len = 0;
		uint8_t *again = wire_check_pack(h, &again_len);
		FUZZ_CHECK(again_len == enc_len &&
				   memcmp(again, enc + WIRE_CHECK_HEADROOM, enc_len) == 0,
			   "encoding a decoded canonical frame is the identity");
		free(again);
		souk_wire_frame_free(h);
		free(enc);
	}
	if (canon)
		*canon = wire_check_pack(f, canon_len);
	souk_wire_frame_free(f);
	return st.code;
}

#endif
