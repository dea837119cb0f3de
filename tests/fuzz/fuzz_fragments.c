/*
 * fuzz_fragments — a client frame arriving in WebSocket fragments (or in partial reads
 * of one WebSocket frame, which libwebsockets also hands over piecemeal).
 *
 * soukd reassembles a message with gw_rx_add() (server/src/gateway.c, called from
 * LWS_CALLBACK_RECEIVE through gw_conn_receive()): it refuses with FRAME_TOO_LARGE as soon
 * as the bytes received so far plus the next piece exceed SOUK_WIRE_MAX_FRAME (before
 * buffering it), hands back the final piece in place when nothing was buffered, and
 * otherwise grows a buffer (4 KiB, doubling) and hands it back on the final piece. This
 * target calls that same function; the connection around it is reduced to its buffer.
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
#include "gateway_internal.h"
#include "wire_check.h"

enum { MAX_PIECES = 33, MAX_MESSAGE = 3 * SOUK_WIRE_MAX_FRAME };

typedef struct frag_conn {
	gw_rx_buf rx;
	int closed;
	/* outcome of the last completed message */
	int done, code;
	uint8_t *canon;
	size_t canon_len;
} frag_conn;

static void on_frame(frag_conn *c, const uint8_t *buf, size_t len)
{
	free(c->canon);
	c->code = wire_check(buf, len, 1, &c->canon, &c->canon_len);
	c->done = 1;
}

/* gw_conn_receive() of server/src/gateway.c, minus the text-frame check and the
 * connection. */
static void reassemble(frag_conn *c, const uint8_t *in, size_t len, int final)
{
	if (c->closed)
		return;
	const uint8_t *msg = NULL;
	size_t msg_len = 0;
	switch (gw_rx_add(&c->rx, in, len, final, &msg, &msg_len)) {
	case GW_RX_MORE:
		FUZZ_CHECK(!final, "only a final piece completes a message");
		FUZZ_CHECK(c->rx.len <= SOUK_WIRE_MAX_FRAME && c->rx.len <= c->rx.cap,
			   "the buffer holds at most one frame");
		return;
	case GW_RX_NOMEM:
		FUZZ_CHECK(0, "out of memory");
		return;
	case GW_RX_TOO_LARGE:
		FUZZ_CHECK(c->rx.buf == NULL && c->rx.len == 0, "a refused message is dropped");
		free(c->canon);
		c->canon = NULL;
		c->code = SOUK__V1__ERROR_CODE__FRAME_TOO_LARGE;
		c->done = 1;
		c->closed = 1;
		return;
	case GW_RX_MESSAGE:
		FUZZ_CHECK(final, "a message completes on its final piece");
		FUZZ_CHECK(msg_len <= SOUK_WIRE_MAX_FRAME, "a message is at most one frame");
		FUZZ_CHECK(msg == in || msg == c->rx.buf, "the message is the piece or the buffer");
		on_frame(c, msg, msg_len);
		gw_rx_reset(&c->rx);
		return;
	}
	FUZZ_CHECK(0, "gw_rx_add returned an unknown result");
}

/* Feeds one message in pieces; each piece sits in its own exact-size allocation, as in a
 * receive buffer, so that reading past a piece is caught by AddressSanitizer. */
static void feed(frag_conn *c, const uint8_t *msg, size_t msg_len, const size_t *sizes, size_t n)
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

	frag_conn c = {0};
	feed(&c, msg, msg_len, sizes, n);
	FUZZ_CHECK(c.done, "the final piece completes the message");
	FUZZ_CHECK(c.code == want_code, "fragmented and whole messages get the same verdict");
	FUZZ_CHECK((c.canon != NULL) == (want != NULL), "a frame is kept in both or neither");
	if (want)
		FUZZ_CHECK(c.canon_len == want_len && memcmp(c.canon, want, want_len) == 0,
			   "fragmented and whole messages decode to the same frame");
	FUZZ_CHECK(c.rx.buf == NULL && c.rx.len == 0, "nothing stays buffered after a message");

	if (c.code == 0) {
		/* an accepted frame keeps the connection: the next message starts clean */
		feed(&c, msg, msg_len, sizes, n);
		FUZZ_CHECK(c.done && c.code == 0, "the same message is accepted again");
		FUZZ_CHECK(c.canon_len == want_len && memcmp(c.canon, want, want_len) == 0,
			   "and decodes to the same frame");
	}
	gw_rx_reset(&c.rx);
	free(c.canon);
	free(want);
	free(msg);
	return 0;
}
