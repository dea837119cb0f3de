/*
 * fuzz_webhook_verify — the faq-bot's Standard Webhooks verifier (faq_webhook_verify,
 * samples/faq-bot/webhook_verify.c), the first code to touch a delivery from the network.
 *
 * Two fixed secrets are configured (the new and the previous one of a rotation); the clock
 * is fixed at NOW. Input, by its first byte (flags):
 *   bit 0  the harness appends a genuine "v1,<sig>" by secret (bit 2 ? the previous : the
 *          new one) to the signature field, so that the fuzzer reaches the accept path
 *   bit 1  the first field is a third, fuzzer-chosen secret
 * then the fields separated by '\n': [secret '\n'] webhook-id '\n' webhook-timestamp '\n'
 * webhook-signature '\n' body (the rest, any bytes). A missing field is an absent header.
 *
 * Properties: the result is 0 or a documented code, with a reason iff refused; the same
 * input gives the same result; an accepted delivery (1) has a well-formed id, a decimal
 * timestamp within FAQ_VERIFY_TOLERANCE_S of NOW and (2) carries "v1," + base64 of
 * HMAC-SHA256(key, id "." ts "." body) for the key of one configured secret, computed here
 * with OpenSSL's one-shot HMAC and an independent base64 decoder, (3) stops verifying when
 * one body byte changes or the timestamp moves out of the window; and (4) a genuine
 * signature added by the harness is accepted whenever the headers are well formed and
 * the timestamp is within the window (no false refusals).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "webhook_verify.h"

/* Fixed clock: the seeds are made for this instant. */
static const int64_t NOW = 1800000000;
/* 32 bytes "fuzz-webhook-new-secret-32-bytes" and "fuzz-webhook-old-secret-32-bytes" */
static const char SECRET_NEW[] = "whsec_ZnV6ei13ZWJob29rLW5ldy1zZWNyZXQtMzItYnl0ZXM=";
static const char SECRET_OLD[] = "whsec_ZnV6ei13ZWJob29rLW9sZC1zZWNyZXQtMzItYnl0ZXM=";

/* ---- the oracle's own helpers, written independently of webhook_verify.c ----------- */

/* Reference decoder: "whsec_" optional, then canonical padded base64, decoded by OpenSSL.
 * Returns the key length (at most cap) or -1. */
static int ref_decode_secret(const char *s, uint8_t *out, size_t cap)
{
	if (strncmp(s, "whsec_", 6) == 0)
		s += 6;
	size_t n = strlen(s);
	if (n == 0 || n % 4 || n / 4 * 3 > cap + 2)
		return -1;
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
	for (size_t i = 0; i < n - pad; i++)
		if (!s[i] || !strchr(alphabet, s[i]))
			return -1;
	uint8_t *tmp = malloc(n);
	FUZZ_CHECK(tmp != NULL, "out of memory");
	int len = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (len >= 0)
		len -= (int)pad; /* EVP_DecodeBlock counts padding as zero bytes */
	if (len <= 0 || (size_t)len > cap) {
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, (size_t)len);
	free(tmp);
	return len;
}

/* "v1," + base64(HMAC-SHA256(key, id "." ts "." body)); out needs 48 bytes. */
static void ref_signature(const uint8_t *key, size_t key_len, const char *id, const char *ts,
			  const uint8_t *body, size_t body_len, char out[48])
{
	size_t il = strlen(id), tl = strlen(ts);
	uint8_t *msg = malloc(il + tl + body_len + 2);
	FUZZ_CHECK(msg != NULL, "out of memory");
	memcpy(msg, id, il);
	msg[il] = '.';
	memcpy(msg + il + 1, ts, tl);
	msg[il + 1 + tl] = '.';
	if (body_len)
		memcpy(msg + il + tl + 2, body, body_len);
	uint8_t mac[32];
	unsigned int mac_len = 0;
	FUZZ_CHECK(HMAC(EVP_sha256(), key, (int)key_len, msg, il + tl + 2 + body_len, mac,
			&mac_len) != NULL &&
			   mac_len == 32,
		   "HMAC-SHA256");
	free(msg);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, 32);
}

static int ref_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n < 1 || n > FAQ_VERIFY_MAX_ID)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e || id[i] == '.')
			return 0;
	return 1;
}

/* A decimal timestamp of 1..18 digits within the window around NOW. */
static int ref_ts_ok(const char *ts)
{
	size_t n = strlen(ts);
	if (n < 1 || n > 18 || strspn(ts, "0123456789") != n)
		return 0;
	long long v = strtoll(ts, NULL, 10);
	return v >= NOW - FAQ_VERIFY_TOLERANCE_S && v <= NOW + FAQ_VERIFY_TOLERANCE_S;
}

/* Does the space-separated list hold this exact entry? */
static int has_entry(const char *list, const char *entry)
{
	size_t el = strlen(entry);
	for (const char *p = list; (p = strstr(p, entry)); p++)
		if ((p == list || p[-1] == ' ') && (p[el] == ' ' || p[el] == '\0'))
			return 1;
	return 0;
}

static int known_code(int rc)
{
	return rc == FAQ_VERIFY_OK || rc == FAQ_VERIFY_EMISSING || rc == FAQ_VERIFY_EMALFORMED ||
	       rc == FAQ_VERIFY_ESTALE || rc == FAQ_VERIFY_ESIGNATURE || rc == FAQ_VERIFY_ESECRET;
}

/* ---- input ------------------------------------------------------------------------- */

/* The next '\n'-terminated field as a string (NULL when the input is used up). */
static char *next_field(const uint8_t **p, size_t *n)
{
	if (*n == 0)
		return NULL;
	const uint8_t *nl = memchr(*p, '\n', *n);
	size_t len = nl ? (size_t)(nl - *p) : *n;
	char *s = malloc(len + 1);
	FUZZ_CHECK(s != NULL, "out of memory");
	memcpy(s, *p, len);
	s[len] = '\0';
	*p += nl ? len + 1 : len;
	*n -= nl ? len + 1 : len;
	return s;
}

static int verify(const char *const *secrets, size_t n_secrets, const char *id, const char *ts,
		  const char *sigs, const uint8_t *body, size_t body_len, const char **why)
{
	*why = (const char *)1; /* must be overwritten */
	int rc = faq_webhook_verify(secrets, n_secrets, id, ts, sigs, body, body_len, NOW, why);
	FUZZ_CHECK(known_code(rc), "faq_webhook_verify returns a documented code");
	FUZZ_CHECK(rc ? *why && (*why)[0] : *why == NULL, "a reason iff refused");
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	char *own_secret = (flags & 2) ? next_field(&p, &n) : NULL;
	char *id = next_field(&p, &n);
	char *ts = next_field(&p, &n);
	char *sigs = next_field(&p, &n);
	/* the body is the rest, copied so that reads past it are caught */
	uint8_t *body = malloc(n ? n : 1);
	FUZZ_CHECK(body != NULL, "out of memory");
	if (n)
		memcpy(body, p, n);
	size_t body_len = n;

	const char *secrets[3] = {SECRET_NEW, SECRET_OLD, own_secret};
	size_t n_secrets = own_secret ? 3 : 2;

	/* bit 0: append a genuine signature by a configured secret */
	int genuine_added = 0;
	if ((flags & 1) && id && ts) {
		uint8_t key[128];
		const char *which = (flags & 4) ? SECRET_OLD : SECRET_NEW;
		int kl = ref_decode_secret(which, key, sizeof(key));
		FUZZ_CHECK(kl == 32, "the fixed secrets decode");
		char sig[48];
		ref_signature(key, (size_t)kl, id, ts, body, body_len, sig);
		size_t old = sigs ? strlen(sigs) : 0;
		char *ns = malloc(old + 1 + sizeof(sig));
		FUZZ_CHECK(ns != NULL, "out of memory");
		snprintf(ns, old + 1 + sizeof(sig), "%s%s%s", sigs ? sigs : "", old ? " " : "",
			 sig);
		free(sigs);
		sigs = ns;
		genuine_added = 1;
	}

	const char *why;
	int rc = verify(secrets, n_secrets, id, ts, sigs, body, body_len, &why);
	const char *why2;
	FUZZ_CHECK(verify(secrets, n_secrets, id, ts, sigs, body, body_len, &why2) == rc,
		   "the same input gives the same result");

	int well_formed = id && ts && sigs && ref_id_ok(id) && ref_ts_ok(ts) && sigs[0] &&
			  strlen(sigs) <= FAQ_VERIFY_MAX_SIGNATURES;
	if (genuine_added && well_formed)
		FUZZ_CHECK(rc == FAQ_VERIFY_OK,
			   "a genuine signature within the window is accepted");

	if (rc == FAQ_VERIFY_OK) {
		FUZZ_CHECK(id && ref_id_ok(id), "an accepted delivery has a well-formed id");
		FUZZ_CHECK(ts && ref_ts_ok(ts), "an accepted delivery is within the window");
		int genuine = 0;
		for (size_t i = 0; i < n_secrets && !genuine; i++) {
			uint8_t key[128];
			int kl = ref_decode_secret(secrets[i], key, sizeof(key));
			if (kl <= 0)
				continue;
			char sig[48];
			ref_signature(key, (size_t)kl, id, ts, body, body_len, sig);
			genuine = has_entry(sigs, sig);
		}
		FUZZ_CHECK(genuine, "an accepted delivery carries a genuine signature");

		/* one changed body byte, or a timestamp out of the window, must be refused */
		if (body_len) {
			size_t at = body_len / 2;
			body[at] ^= 0x01;
			FUZZ_CHECK(verify(secrets, n_secrets, id, ts, sigs, body, body_len,
					  &why2) == FAQ_VERIFY_ESIGNATURE,
				   "a tampered body is refused");
			body[at] ^= 0x01;
		}
		char late[32];
		snprintf(late, sizeof(late), "%lld",
			 (long long)(NOW + FAQ_VERIFY_TOLERANCE_S + 1 + (body_len % 1000)));
		FUZZ_CHECK(verify(secrets, n_secrets, id, late, sigs, body, body_len, &why2) ==
				   FAQ_VERIFY_ESTALE,
			   "a timestamp out of the window is refused");
	}
	free(own_secret);
	free(id);
	free(ts);
	free(sigs);
	free(body);
	return 0;
}
