/*
 * libsouk_wire: the code shared by libsouk (SDK) and soukd (server).
 *
 * Owns: the protocol limits, the frame decoder/encoder around protobuf-c, and the
 * validation every decoded frame passes before anyone acts on it (sizes, UTF-8,
 * required fields). Both sides call the same functions, so the SDK and the server can
 * never disagree about what a valid frame is.
 *
 * Never: allocates more than SOUK_WIRE_DECODE_BUDGET for one frame, trusts a length
 * that came from the network, or logs frame contents.
 */
#ifndef SOUK_WIRE_WIRE_H
#define SOUK_WIRE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "souk/v1/souk.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol version spoken by this build. */
#define SOUK_WIRE_PROTOCOL_VERSION 1u
#define SOUK_WIRE_SUBPROTOCOL "souk.v1"
#define SOUK_WIRE_PATH "/v1/ws"

/* Hard limits of protocol v1 (docs/protocol.md#limits). A server may configure lower
 * message limits and announces them in Welcome.limits; never higher. */
enum {
	SOUK_WIRE_MAX_FRAME = 64 * 1024,       /* one WebSocket message */
	SOUK_WIRE_MAX_MESSAGE = 16 * 1024,     /* encoded Content of one message */
	SOUK_WIRE_MAX_TOKEN = 4096,	       /* Hello.token */
	SOUK_WIRE_MAX_ID = 128,		       /* app, user, device, conversation ids */
	SOUK_WIRE_MAX_SHORT = 64,	       /* sdk_version and similar */
	SOUK_WIRE_MAX_URL = 2048,	       /* URLs inside content */
	SOUK_WIRE_MAX_STRING = 16 * 1024,      /* any other string */
	SOUK_WIRE_MAX_SYNC_PAGE = 500,	       /* events in one SyncPage */
	SOUK_WIRE_MAX_LIST = 100,	       /* quick replies, order items */
	SOUK_WIRE_MAX_TRAIL = 50,	       /* ShoppingContext.page_trail */
	SOUK_WIRE_MAX_ATTRIBUTES = 50,	       /* ShoppingContext.attributes */
	SOUK_WIRE_CLIENT_MSG_ID_LEN = 16,      /* Send.client_msg_id */
	SOUK_WIRE_DECODE_BUDGET = 1024 * 1024, /* heap bytes one decode may use */
};

/* Result of decoding/validating: 0 or a SOUK__V1__ERROR_CODE__* value (> 0), with a
 * static English reason in *why (never containing frame data). */
typedef struct souk_wire_status {
	int code;
	const char *why;
} souk_wire_status;

/* Decodes one WebSocket message into a Frame and validates it for `from_client`
 * (1: a frame a client may send; 0: a frame a server may send). On success *out is set
 * and must be released with souk_wire_frame_free(). On failure *out is NULL. */
souk_wire_status souk_wire_decode(const uint8_t *buf, size_t len, int from_client,
				  Souk__V1__Frame **out);

/* As souk_wire_decode, but whenever the bytes were a decodable Frame *out is set — even
 * when validation then failed — so that the caller can answer with the frame's request_id
 * and client_msg_id. Release *out with souk_wire_frame_free() in every case. */
souk_wire_status souk_wire_decode_keep(const uint8_t *buf, size_t len, int from_client,
				       Souk__V1__Frame **out);
void souk_wire_frame_free(Souk__V1__Frame *frame);

/* A decoding arena: a bump allocator that protobuf-c fills while it decodes a frame, so a
 * sync page of hundreds of events costs a few block allocations instead of thousands of
 * malloc/free pairs, and is released at once. One arena holds one decoded frame at a
 * time; it is not thread-safe. */
typedef struct souk_wire_arena souk_wire_arena;

/* NULL when out of memory. Allocates no block until the first decode. */
souk_wire_arena *souk_wire_arena_new(void);
/* Frees the arena and every frame decoded into it. NULL is a no-op. */
void souk_wire_arena_free(souk_wire_arena *a);
/* Ends the frame decoded into `a` (never pass it to souk_wire_frame_free) and keeps the
 * largest block for the next decode. */
void souk_wire_arena_reset(souk_wire_arena *a);
/* As souk_wire_arena_reset, and gives every block back (an idle connection keeps none). */
void souk_wire_arena_trim(souk_wire_arena *a);

/* As souk_wire_decode, with the frame's memory taken from `a`, which must hold no other
 * frame (reset it first). On success *out lives until souk_wire_arena_reset/_trim/_free
 * of `a`; on failure *out is NULL. The budget counts every byte taken from the arena —
 * memory that protobuf-c frees during a decode (a field repeated in the encoding) is
 * only given back at the reset — so a frame that repeats fields can be refused here
 * (BAD_FRAME) where souk_wire_decode accepts it; a frame without repeated fields is
 * accepted or refused exactly as by souk_wire_decode. */
souk_wire_status souk_wire_decode_arena(const uint8_t *buf, size_t len, int from_client,
					souk_wire_arena *a, Souk__V1__Frame **out);

/* Encodes `frame` into a fresh buffer with `headroom` spare bytes in front (libwebsockets
 * needs LWS_PRE). *out points at the start of the allocation; the frame starts at
 * *out + headroom and is *len bytes. Returns 0, or -1 when out of memory or the encoded
 * frame would exceed SOUK_WIRE_MAX_FRAME. Free with free(). */
int souk_wire_encode(const Souk__V1__Frame *frame, size_t headroom, uint8_t **out, size_t *len);

/* Encodes Frame{request_id, events | sync_page} directly from already-encoded Events
 * (the server stores events encoded and splices them into frames without decoding them).
 * Takes the longest prefix of events[0..n) that fits in SOUK_WIRE_MAX_FRAME and reports
 * its length in *used (at least one event is always taken: a single stored event is far
 * below the frame limit). `as_sync_page` selects SyncPage (with has_more — forced to 1
 * when not every event fitted — and head_seq) or EventBatch. Output as souk_wire_encode. */
int souk_wire_encode_events(uint64_t request_id, int as_sync_page, const uint8_t *const *events,
			    const size_t *lens, size_t n, int has_more, uint64_t head_seq,
			    size_t headroom, uint8_t **out, size_t *len, size_t *used);

/* Validates one Content (used by both sides before a message is accepted). `max_bytes`
 * bounds the encoded size (server: its configured limit; SDK: the announced one). */
souk_wire_status souk_wire_validate_content(const Souk__V1__Content *c, size_t max_bytes);

/* Validates a shopping context (product, order, cart, page trail, attributes). */
souk_wire_status souk_wire_validate_context(const Souk__V1__ShoppingContext *x);

/* 1 when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int souk_wire_utf8_valid(const char *s, size_t len);

/* Name of a wire error code ("TOKEN_EXPIRED"), or "UNKNOWN". */
const char *souk_wire_error_name(int code);

/* Text preview of a content for logs-free UIs and push: the fallback text, else a fixed
 * label per kind ("[product]"). Borrowed from `c` or static. */
const char *souk_wire_content_preview(const Souk__V1__Content *c);

/* WebSocket close codes used by soukd (docs/protocol.md#close-codes). */
enum {
	SOUK_WIRE_CLOSE_NORMAL = 1000,
	SOUK_WIRE_CLOSE_GOING_AWAY = 1001,
	SOUK_WIRE_CLOSE_PROTOCOL = 4400,     /* malformed or unexpected frame */
	SOUK_WIRE_CLOSE_AUTH = 4401,	     /* authentication failed */
	SOUK_WIRE_CLOSE_AUTH_TIMEOUT = 4408, /* no valid hello in time */
	SOUK_WIRE_CLOSE_SLOW = 4409,	     /* send queue overflow */
	SOUK_WIRE_CLOSE_TOO_LARGE = 4413,    /* frame over the limit */
	SOUK_WIRE_CLOSE_LIMIT = 4429,	     /* too many connections */
	SOUK_WIRE_CLOSE_INTERNAL = 4500,
};

#ifdef __cplusplus
}
#endif
#endif
