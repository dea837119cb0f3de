/*
 * fuzz_wire_server — the SDK's frame decoder (souk_wire_decode_keep with from_client = 0)
 * and the server's event splicer (souk_wire_encode_events), which builds EventBatch and
 * SyncPage frames from stored, already-encoded events without decoding them.
 *
 * Every input is used twice:
 *  1. as one server frame, checked with wire_check.h;
 *  2. as a splice request:
 *       flags (1 byte: bit 0 SyncPage, bit 1 has_more, bits 2..7 repeat - 1)
 *       request_id (varint) head_seq (varint)
 *       { length (varint) event bytes }...        at most MAX_PIECES pieces
 *     The pieces, repeated `repeat` times, are the "stored events". Properties: the splicer
 *     takes a non-empty prefix that fits the frame limit (unless its first event alone is
 *     too big) and is maximal up to the splicer's fixed allowance; when every piece is an
 *     Event encoding, the spliced frame decodes to exactly those events with the given
 *     request_id/has_more/head_seq, gets the same verdict from souk_wire_decode as the
 *     frame protobuf-c builds from the decoded events, and is byte-identical to that frame
 *     when the pieces were canonical encodings.
 */
#include "fuzz_util.h"
#include "wire_check.h"

enum {
	MAX_PIECES = 64,
	MAX_EVENTS = 2048,
	/* the splicer's worst-case bytes outside the events (see wire.c) */
	SPLICE_FIXED = 1 + 10 + 2 + 10 + 2 + 11,
};

static size_t varint_size(uint64_t v)
{
	size_t n = 1;
	for (; v >= 0x80; v >>= 7)
		n++;
	return n;
}

static int event_bytes_equal(const Souk__V1__Event *a, const Souk__V1__Event *b)
{
	size_t la = souk__v1__event__get_packed_size(a);
	size_t lb = souk__v1__event__get_packed_size(b);
	if (la != lb)
		return 0;
	uint8_t *pa = malloc(la + 1), *pb = malloc(lb + 1);
	FUZZ_CHECK(pa && pb, "out of memory");
	souk__v1__event__pack(a, pa);
	souk__v1__event__pack(b, pb);
	int eq = memcmp(pa, pb, la) == 0;
	free(pa);
	free(pb);
	return eq;
}

/* Builds with protobuf-c the frame the splicer is meant to produce. */
static uint8_t *reference_frame(uint64_t request_id, int as_page, Souk__V1__Event **evs, size_t n,
				int has_more, uint64_t head_seq, size_t *len)
{
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	Souk__V1__EventBatch batch = SOUK__V1__EVENT_BATCH__INIT;
	Souk__V1__SyncPage page = SOUK__V1__SYNC_PAGE__INIT;
	f.request_id = request_id;
	if (as_page) {
		f.body_case = SOUK__V1__FRAME__BODY_SYNC_PAGE;
		f.sync_page = &page;
		page.events = evs;
		page.n_events = n;
		page.has_more = has_more;
		page.head_seq = head_seq;
	} else {
		f.body_case = SOUK__V1__FRAME__BODY_EVENTS;
		f.events = &batch;
		batch.events = evs;
		batch.n_events = n;
	}
	return wire_check_pack(&f, len);
}

static void splice_check(const uint8_t *data, size_t size)
{
	fuzz_reader r = {data, size};
	uint8_t flags = fuzz_u8(&r);
	int as_page = flags & 1, has_more = (flags >> 1) & 1;
	size_t repeat = 1 + (flags >> 2);
	uint64_t request_id = fuzz_varint(&r), head_seq = fuzz_varint(&r);

	const uint8_t *piece[MAX_PIECES];
	size_t piece_len[MAX_PIECES], n_pieces = 0;
	while (r.n && n_pieces < MAX_PIECES) {
		uint64_t l = fuzz_varint(&r);
		if (l > r.n)
			l = r.n;
		piece[n_pieces] = r.p;
		piece_len[n_pieces++] = (size_t)l;
		r.p += l;
		r.n -= (size_t)l;
	}

	/* decode each piece on its own; canonical = re-encoding gives the same bytes */
	Souk__V1__Event *decoded[MAX_PIECES];
	int all_events = 1, all_canonical = 1;
	for (size_t i = 0; i < n_pieces; i++) {
		decoded[i] = souk__v1__event__unpack(NULL, piece_len[i], piece[i]);
		if (!decoded[i]) {
			all_events = all_canonical = 0;
			continue;
		}
		size_t cl = souk__v1__event__get_packed_size(decoded[i]);
		if (cl != piece_len[i]) {
			all_canonical = 0;
		} else {
			uint8_t *c = malloc(cl + 1);
			FUZZ_CHECK(c != NULL, "out of memory");
			souk__v1__event__pack(decoded[i], c);
			if (memcmp(c, piece[i], cl) != 0)
				all_canonical = 0;
			free(c);
		}
	}

	size_t n = n_pieces * repeat;
	if (n > MAX_EVENTS)
		n = MAX_EVENTS;
	const uint8_t **events = malloc((n + 1) * sizeof(*events));
	size_t *lens = malloc((n + 1) * sizeof(*lens));
	Souk__V1__Event **evs = malloc((n + 1) * sizeof(*evs));
	FUZZ_CHECK(events && lens && evs, "out of memory");
	for (size_t i = 0; i < n; i++) {
		events[i] = piece[i % n_pieces];
		lens[i] = piece_len[i % n_pieces];
		evs[i] = all_events ? decoded[i % n_pieces] : NULL;
	}

	uint8_t *out = NULL;
	size_t len = 0, used = 0;
	int rc = souk_wire_encode_events(request_id, as_page, events, lens, n, has_more, head_seq,
					 WIRE_CHECK_HEADROOM, &out, &len, &used);
	FUZZ_CHECK(rc == 0, "splicing never fails but for out of memory");
	FUZZ_CHECK(used <= n && (n == 0 || used >= 1), "a non-empty prefix is taken");
	if (n > 0 && lens[0] + SPLICE_FIXED + 1 + 10 <= SOUK_WIRE_MAX_FRAME)
		FUZZ_CHECK(len <= SOUK_WIRE_MAX_FRAME, "the spliced frame fits the limit");
	if (used < n)
		FUZZ_CHECK(len + 1 + varint_size(lens[used]) + lens[used] + SPLICE_FIXED >
				   SOUK_WIRE_MAX_FRAME,
			   "the prefix is as long as the frame limit allows");
	const uint8_t *frame = out + WIRE_CHECK_HEADROOM;
	int want_more = has_more || used < n;

	if (all_events) {
		/* structure, with protobuf-c's own allocator (no decode budget) */
		Souk__V1__Frame *f = souk__v1__frame__unpack(NULL, len, frame);
		FUZZ_CHECK(f != NULL, "splicing Events gives a Frame encoding");
		FUZZ_CHECK(f->request_id == request_id, "request_id is kept");
		Souk__V1__Event **got;
		size_t n_got;
		if (as_page) {
			FUZZ_CHECK(f->body_case == SOUK__V1__FRAME__BODY_SYNC_PAGE, "a SyncPage");
			FUZZ_CHECK(f->sync_page->has_more == want_more, "has_more is right");
			FUZZ_CHECK(f->sync_page->head_seq == head_seq, "head_seq is kept");
			got = f->sync_page->events;
			n_got = f->sync_page->n_events;
		} else {
			FUZZ_CHECK(f->body_case == SOUK__V1__FRAME__BODY_EVENTS, "an EventBatch");
			got = f->events->events;
			n_got = f->events->n_events;
		}
		FUZZ_CHECK(n_got == used, "every spliced event is in the frame");
		for (size_t i = 0; i < used; i++)
			FUZZ_CHECK(event_bytes_equal(got[i], evs[i]),
				   "each event decodes as it did alone");
		souk__v1__frame__free_unpacked(f, NULL);

		size_t ref_len = 0;
		uint8_t *ref = reference_frame(request_id, as_page, evs, used, want_more, head_seq,
					       &ref_len);
		if (all_canonical)
			FUZZ_CHECK(ref_len == len && memcmp(ref, frame, len) == 0,
				   "splicing canonical events equals protobuf-c's encoding");
		/* the SDK's verdict on the spliced frame is the verdict on the reference one */
		if (len <= SOUK_WIRE_MAX_FRAME && ref_len <= SOUK_WIRE_MAX_FRAME) {
			int a = wire_check(frame, len, 0, NULL, NULL);
			int b = wire_check(ref, ref_len, 0, NULL, NULL);
			/* BAD_FRAME here can only be the decode budget, whose use differs
			 * with non-canonical pieces */
			if (a != SOUK__V1__ERROR_CODE__BAD_FRAME &&
			    b != SOUK__V1__ERROR_CODE__BAD_FRAME)
				FUZZ_CHECK(a == b, "spliced and built frames get the same verdict");
		}
		free(ref);
	} else {
		/* not Events: nothing to compare, but the decoder must survive it */
		wire_check(frame, len, 0, NULL, NULL);
	}

	free(out);
	free(events);
	free(lens);
	free(evs);
	for (size_t i = 0; i < n_pieces; i++)
		if (decoded[i])
			souk__v1__event__free_unpacked(decoded[i], NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_check(data, size, 0, NULL, NULL);
	splice_check(data, size);
	return 0;
}
