/*
 * webhook_verify.c — the Standard Webhooks check of one delivery (see webhook_verify.h).
 *
 * Owns: parsing the three webhook-* header values, decoding secrets, computing
 * HMAC-SHA256(key, id "." timestamp "." body) and comparing it in constant time.
 * Never: touches the network, the clock, a global or the log; it must stay safe on any
 * input because a fuzzer feeds it bytes (tests/fuzz/fuzz_webhook_verify.c).
 *
 * Order of checks: shape of the headers, then the timestamp window (cheap, and the most
 * useful reason for a replay), then the secrets, then the signatures.
 */
#include "webhook_verify.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

enum { MAX_KEY = 128, MAC_LEN = 32, MAC_B64_LEN = 44 };

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int faq_webhook_secret_decode(const char *secret, uint8_t *key, size_t cap)
{
	if (!secret)
		return -1;
	if (strncmp(secret, "whsec_", 6) == 0)
		secret += 6;
	size_t n = strlen(secret);
	/* strict: whole quads, '=' only as the last one or two characters */
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2)
		return -1;
	size_t pad = 0;
	if (secret[n - 1] == '=')
		pad = secret[n - 2] == '=' ? 2 : 1;
	size_t out = 0;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		for (size_t k = 0; k < 4; k++) {
			int last_quad = i + 4 == n;
			if (last_quad && k >= 4 - pad) {
				v[k] = 0;
				continue;
			}
			v[k] = b64_value((unsigned char)secret[i + k]);
			if (v[k] < 0)
				return -1;
		}
		uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		size_t take = i + 4 == n ? 3 - pad : 3;
		if (out + take > cap)
			return -1;
		for (size_t k = 0; k < take; k++)
			key[out++] = (uint8_t)(q >> (16 - 8 * k));
	}
	return out ? (int)out : -1;
}

/* base64 of the 32-byte MAC: always 44 characters, one '=' */
static void b64_mac(const uint8_t mac[MAC_LEN], char out[MAC_B64_LEN + 1])
{
	EVP_EncodeBlock((unsigned char *)out, mac, MAC_LEN);
	out[MAC_B64_LEN] = '\0';
}

static int hmac_sha256(const uint8_t *key, size_t key_len, const char *id, const char *ts,
		       const uint8_t *body, size_t body_len, uint8_t mac[MAC_LEN])
{
	int ok = 0;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	if (ctx) {
		char digest[] = "SHA256";
		OSSL_PARAM params[] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
			OSSL_PARAM_construct_end()};
		size_t out_len = 0;
		ok = EVP_MAC_init(ctx, key, key_len, params) == 1 &&
		     EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) == 1 &&
		     EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
		     EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) == 1 &&
		     EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
		     (body_len == 0 || EVP_MAC_update(ctx, body, body_len) == 1) &&
		     EVP_MAC_final(ctx, mac, &out_len, MAC_LEN) == 1 && out_len == MAC_LEN;
	}
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return ok ? 0 : -1;
}

/* webhook-id: 1..FAQ_VERIFY_MAX_ID visible ASCII characters without '.', so that the
 * signed content id "." timestamp "." body splits one way only. */
static int id_ok(const char *id)
{
	size_t n = 0;
	for (; id[n]; n++)
		if (n >= FAQ_VERIFY_MAX_ID || id[n] <= 0x20 || id[n] >= 0x7f || id[n] == '.')
			return 0;
	return n > 0;
}

/* webhook-timestamp: decimal seconds, no sign, no spaces; at most 18 digits, so that it
 * fits an int64 without overflow checks. */
static int parse_ts(const char *s, int64_t *out)
{
	int64_t v = 0;
	size_t n = 0;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 18)
			return -1;
		v = v * 10 + (s[n] - '0');
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

static int refuse(const char **why, int code, const char *reason)
{
	if (why)
		*why = reason;
	return code;
}

int faq_webhook_verify(const char *const *secrets, size_t n_secrets, const char *id,
		       const char *timestamp, const char *signatures, const uint8_t *body,
		       size_t body_len, int64_t now_s, const char **why)
{
	if (why)
		*why = NULL;
	if (!id || !id[0])
		return refuse(why, FAQ_VERIFY_EMISSING, "missing webhook-id header");
	if (!timestamp || !timestamp[0])
		return refuse(why, FAQ_VERIFY_EMISSING, "missing webhook-timestamp header");
	if (!signatures || !signatures[0])
		return refuse(why, FAQ_VERIFY_EMISSING, "missing webhook-signature header");
	if (!id_ok(id))
		return refuse(why, FAQ_VERIFY_EMALFORMED, "malformed webhook-id header");
	int64_t ts;
	if (parse_ts(timestamp, &ts))
		return refuse(why, FAQ_VERIFY_EMALFORMED, "malformed webhook-timestamp header");
	if (strlen(signatures) > FAQ_VERIFY_MAX_SIGNATURES)
		return refuse(why, FAQ_VERIFY_EMALFORMED, "webhook-signature header too long");
	if (!body && body_len)
		return refuse(why, FAQ_VERIFY_EMALFORMED, "no body");
	/* the distance in uint64: exact for any two int64 values */
	uint64_t dist =
		ts > now_s ? (uint64_t)ts - (uint64_t)now_s : (uint64_t)now_s - (uint64_t)ts;
	if (dist > FAQ_VERIFY_TOLERANCE_S)
		return refuse(why, FAQ_VERIFY_ESTALE,
			      "webhook-timestamp too far from now (replayed or clock skew)");

	char want[4][MAC_B64_LEN + 1];
	size_t n_want = 0;
	for (size_t i = 0; i < n_secrets && n_want < 4; i++) {
		uint8_t key[MAX_KEY], mac[MAC_LEN];
		int kl = faq_webhook_secret_decode(secrets[i], key, sizeof(key));
		if (kl <= 0)
			continue;
		int rc = hmac_sha256(key, (size_t)kl, id, timestamp, body, body_len, mac);
		OPENSSL_cleanse(key, sizeof(key));
		if (rc)
			return refuse(why, FAQ_VERIFY_ESIGNATURE, "cannot compute HMAC-SHA256");
		b64_mac(mac, want[n_want++]);
	}
	if (n_want == 0)
		return refuse(why, FAQ_VERIFY_ESECRET, "no usable secret configured");

	/* each space-separated entry: "v1," + 44 base64 characters; others are ignored */
	int match = 0;
	const char *p = signatures;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		size_t len = (size_t)(e - p);
		if (len == 3 + MAC_B64_LEN && memcmp(p, "v1,", 3) == 0)
			for (size_t k = 0; k < n_want; k++)
				match |= CRYPTO_memcmp(p + 3, want[k], MAC_B64_LEN) == 0;
		p = e;
	}
	OPENSSL_cleanse(want, sizeof(want));
	if (!match)
		return refuse(why, FAQ_VERIFY_ESIGNATURE, "no valid signature for this body");
	return FAQ_VERIFY_OK;
}
