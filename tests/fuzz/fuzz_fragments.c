/*
 * fuzz_fragments — a client frame arriving in WebSocket fragments (or in partial reads
 * of one WebSocket frame, which libwebsockets also hands over piecemeal).
 *
 * soukd reassembles a message in LWS_CALLBACK_RECEIVE (server/src/gateway.c): it refuses
 * with FRAME_TOO_LARGE as soon as the bytes received so far plus the next piece exceed
 * SOUK_WIRE_MAX_FRAME (before buffering it), decodes the final piece in place when
 * nothing was buffered, and otherwise grows a buffer (4 KiB, doubling) and decodes it on
 * the final piece. That callback is static and needs a live connection, so `reassemble`
 * below is a line-by-line copy of its rule; CMake warns when gateway.c no longer contains
 * the rule's test, so that the copy is kept in step.
 *
 * Input: n (1 byte, 0..32 explicit piece sizes), reps (1 byte: the message is the payload
 * repeated reps + 1 times, so that small inputs reach the 64 KiB limit), n piece sizes
 * (u16 little-endian; zero-length pieces are allowed), then the payload. The last piece
 * is whatever remains and is final.
 *
 * Property: the verdict and the decoded frame equal those of decoding the unfragmented
 * message; after an accepted message the connection's buffer is empty and a second
 * message, fragmented the same way, gets the same verdict again.
 */
#include "fuzz_util.h"
#include "wire_check.h"

enum { MAX_PIECES = 33, MAX_MESSAGE = 3 * SOUK_WIRE_MAX_FRAME };

typedef struct conn {
	uint8_t *rx;
	size_t rx_len, rx_cap;
	int closed;
	/* outcome of the last completed message */
	int done, code;
	uint8_t *canon;
	size_t canon_len;
} conn;

static void on_frame(conn *c, const uint8_t *buf, size_t len)
{
	free(c->canon);
	c->code = wire_check(buf, len, 1, &c->canon, &c->canon_len);
	c->done = 1;
}

/* LWS_CALLBACK_RECEIVE of server/src/gateway.c, minus the text-frame check. */
static void reassemble(conn *c, const uint8_t *in, size_t len, int final)
{
	if (c->closed)
		return;
	if (c->rx_len + len > SOUK_WIRE_MAX_FRAME) {
		free(c->rx);
		c->rx = NULL;
		c->rx_len = c->rx_cap = 0;
		free(c->canon);
		c->canon = NULL;
		c->code = SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE;
		c->done = 1;
		c->closed = 1;
		return;
	}
	if (final && c->rx_len == 0) {
		on_frame(c, in, len); /* the common case: no copy */
		return;
	}
	if (c->rx_len + len > c->rx_cap) {
		size_t cap = c->rx_cap ? c->rx_cap : 4096;
		while (cap < c->rx_len + len)
			cap *= 2;
		uint8_t *nb = realloc(c->rx, cap);
		FUZZ_CHECK(nb != NULL, "out of memory");
		c->rx = nb;
		c->rx_cap = cap;
	}
	if (len)
		memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	if (final) {
		on_frame(c, c->rx, c->rx_len);
		free(c->rx);
		c->rx = NULL;
		c->rx_len = c->rx_cap = 0;
	}
}

/* Feeds one message in pieces; each piece sits in its own exact-size allocation, as in a
 * receive buffer, so that reading past a piece is caught by AddressSanitizer. */
static void feed(conn *c, const uint8_t *msg, size_t msg_len, const size_t *sizes, size_t n)
{
	size_t off = 0;
	c->done = 0;
	for (size_t i = 0; i <= n; i++) {
		int final = i == n;
		size_t l = final ? msg_len - off : sizes[i];
		if (l > msg_len - off)
			l = msg_len - off;
		uint8_t *piece = malloc(l ? l : 1);
		FUZZ_CHECK(piece != NULL, "out of memory");
		if (l)
			memcpy(piece, msg + off, l);
		reassemble(c, piece, l, final);
		free(piece);
		off += l;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader r = {data, size};
	size_t n = fuzz_u8(&r) % MAX_PIECES;
	size_t reps = 1 + (size_t)fuzz_u8(&r);
	size_t sizes[MAX_PIECES];
	for (size_t i = 0; i < n; i++)
		sizes[i] = fuzz_u16(&r);
	const uint8_t *payload = r.p;
	size_t payload_len = r.n;
	if (payload_len && reps > MAX_MESSAGE / payload_len)
		reps = MAX_MESSAGE / payload_len;
	if (!payload_len)
		reps = 1;

	size_t msg_len = payload_len * reps;
	uint8_t *msg = malloc(msg_len ? msg_len : 1);
	FUZZ_CHECK(msg != NULL, "out of memory");
	for (size_t i = 0; i < reps; i++)
		if (payload_len)
			memcpy(msg + i * payload_len, payload, payload_len);

	uint8_t *want = NULL;
	size_t want_len = 0;
	int want_code = wire_check(msg, msg_len, 1, &want, &want_len);

	conn c = {0};
	feed(&c, msg, msg_len, sizes, n);
	FUZZ_CHECK(c.done, "the final piece completes the message");
	FUZZ_CHECK(c.code == want_code, "fragmented and whole messages get the same verdict");
	FUZZ_CHECK((c.canon != NULL) == (want != NULL), "a frame is kept in both or neither");
	if (want)
		FUZZ_CHECK(c.canon_len == want_len && memcmp(c.canon, want, want_len) == 0,
			   "fragmented and whole messages decode to the same frame");
	FUZZ_CHECK(c.rx == NULL && c.rx_len == 0, "nothing stays buffered after a message");

	if (c.code == 0) {
		/* an accepted frame keeps the connection: the next message starts clean */
		feed(&c, msg, msg_len, sizes, n);
		FUZZ_CHECK(c.done && c.code == 0, "the same message is accepted again");
		FUZZ_CHECK(c.canon_len == want_len && memcmp(c.canon, want, want_len) == 0,
			   "and decodes to the same frame");
	}
	free(c.rx);
	free(c.canon);
	free(want);
	free(msg);
	return 0;
}
