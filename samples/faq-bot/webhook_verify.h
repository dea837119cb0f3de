/*
 * webhook_verify.h — checks one webhook delivery from soukd (Standard Webhooks).
 *
 * A pure function of the configured secrets, the three webhook-* header values, the raw
 * body and the current time: no I/O, no globals, no allocation that outlives the call.
 * That is what lets tests/fuzz/fuzz_webhook_verify.c drive it directly.
 */
#ifndef FAQ_WEBHOOK_VERIFY_H
#define FAQ_WEBHOOK_VERIFY_H

#include <stddef.h>
#include <stdint.h>

/* How far the webhook-timestamp may be from our clock, either way (replay window). */
#define FAQ_VERIFY_TOLERANCE_S 300

/* Longest accepted header values; longer ones are refused as malformed. */
#define FAQ_VERIFY_MAX_ID 256
#define FAQ_VERIFY_MAX_SIGNATURES 4096

/* Results: 0, or one of these negative codes. */
enum {
	FAQ_VERIFY_OK = 0,
	FAQ_VERIFY_EMISSING = -1,   /* a webhook-* header is absent or empty */
	FAQ_VERIFY_EMALFORMED = -2, /* a header value has the wrong shape or length */
	FAQ_VERIFY_ESTALE = -3,	    /* timestamp more than the tolerance away from now */
	FAQ_VERIFY_ESIGNATURE = -4, /* no v1 signature matches any usable secret */
	FAQ_VERIFY_ESECRET = -5	    /* no secret given, or none is whsec_ + base64 */
};

/*
 * Verifies a delivery.
 *
 * secrets: n_secrets strings "whsec_<base64 key>" (the "whsec_" prefix is optional); during
 * a rotation pass both the new and the previous one. A secret that does not decode is
 * skipped; if none decodes the result is FAQ_VERIFY_ESECRET.
 * id, timestamp, signatures: the values of webhook-id, webhook-timestamp and
 * webhook-signature (NULL when absent). signatures is a space-separated list of
 * "v1,<base64 HMAC-SHA256>"; entries of other versions are ignored.
 * body, body_len: the raw request body, exactly as received (may contain NUL bytes).
 * now_s: the current Unix time in seconds.
 * why (optional): set to a static English reason when refused, NULL when accepted.
 *
 * The signed content is id "." timestamp "." body; comparisons are constant-time.
 */
int faq_webhook_verify(const char *const *secrets, size_t n_secrets, const char *id,
		       const char *timestamp, const char *signatures, const uint8_t *body,
		       size_t body_len, int64_t now_s, const char **why);

/* Decodes "whsec_<base64>" (standard alphabet, '=' padding required where due) into
 * key[cap]. Returns the key length (1..cap) or -1 if it is not a usable secret. */
int faq_webhook_secret_decode(const char *secret, uint8_t *key, size_t cap);

#endif
