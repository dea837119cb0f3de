/*
 * fuzz_jwt — token verification (auth_verify, server/src/auth.c) for Hello.token.
 *
 * Two fixed apps, each with an HS256 secret (kid "default") and an ES256 public key
 * (kid "es1", fixtures/es256-public.pem); the second also pins an audience and an issuer.
 *
 * Input, by its first byte:
 *   0x01 header-json '\n' payload-json   the harness signs it with the HS256 secret
 *   0x02 header-json '\n' payload-json   ... with the ES256 private key (fixture)
 *   0x03 header-json '\n' payload-json   ... with HMAC keyed by the public key PEM (the
 *                                        classic algorithm-confusion forgery)
 *   anything else                        the token itself
 * Signing lets the fuzzer reach the claim checks behind the signature; the header is
 * fuzzer-controlled, so alg/kid confusion is explored with genuine signatures.
 *
 * Properties: the result is 0 or one of auth_verify's documented codes, with a reason
 * iff refused; an accepted token (1) carries a genuine signature by one of the app's keys
 * under that key's algorithm, checked here with OpenSSL directly, (2) has a string `sub`
 * equal to the returned user id, an integer `exp` not expired, integer `nbf`/`iat` if
 * present that are not in the future, and the app's `aud`/`iss` when it pins them.
 * Segments are decoded the way libjwt 1.10.2 decodes them (characters outside the
 * base64 alphabet are skipped; everything after the second dot is the signature).
 *
 * SOUK_FUZZ_SKIP_KNOWN=1 in the environment skips inputs that hit bugs already reported
 * (see tests/fuzz/README.md), so that a long run can look for new ones.
 */
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "fuzz_util.h"

#ifndef SOUK_FUZZ_FIXTURES
#error "SOUK_FUZZ_FIXTURES (the fixtures directory) must be defined"
#endif

/* Fixed clock: the seeds are made for this instant (make_seeds.py). */
static const int64_t NOW = 1800000000;
static const char SECRET[] = "fuzz-hs256-secret-0123456789abcdef0123456789abcdef";
static const char AUDIENCE[] = "souk-fuzz";
static const char ISSUER[] = "https://issuer.fuzz.example";

static store_app g_apps[2];
static char *g_pub_pem;
static EVP_PKEY *g_pub, *g_priv;
static int g_skip_known;

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "fuzz_jwt: cannot open %s\n", path);
		abort();
	}
	char *buf = malloc(65536);
	FUZZ_CHECK(buf != NULL, "out of memory");
	*len = fread(buf, 1, 65535, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void make_app(store_app *a, int pinned)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->app_id, sizeof(a->app_id), "app_fuzz");
	if (pinned) {
		snprintf(a->audience, sizeof(a->audience), "%s", AUDIENCE);
		snprintf(a->issuer, sizeof(a->issuer), "%s", ISSUER);
	}
	a->n_keys = 2;
	snprintf(a->keys[0].kid, sizeof(a->keys[0].kid), "default");
	snprintf(a->keys[0].alg, sizeof(a->keys[0].alg), "HS256");
	a->keys[0].key = strdup(SECRET);
	a->keys[0].key_len = strlen(SECRET);
	snprintf(a->keys[1].kid, sizeof(a->keys[1].kid), "es1");
	snprintf(a->keys[1].alg, sizeof(a->keys[1].alg), "ES256");
	a->keys[1].key = strdup(g_pub_pem);
	a->keys[1].key_len = strlen(g_pub_pem);
	FUZZ_CHECK(a->keys[0].key && a->keys[1].key, "out of memory");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	size_t len;
	g_pub_pem = read_file(SOUK_FUZZ_FIXTURES "/es256-public.pem", &len);
	BIO *b = BIO_new_mem_buf(g_pub_pem, (int)len);
	g_pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	char *priv = read_file(SOUK_FUZZ_FIXTURES "/es256-private.pem", &len);
	b = BIO_new_mem_buf(priv, (int)len);
	g_priv = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	free(priv);
	FUZZ_CHECK(g_pub && g_priv, "the ES256 fixtures load");
	make_app(&g_apps[0], 0);
	make_app(&g_apps[1], 1);
	const char *skip = getenv("SOUK_FUZZ_SKIP_KNOWN");
	g_skip_known = skip && skip[0] == '1';
	return 0;
}

/* ---- base64url --------------------------------------------------------------------- */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url; out needs 4 * ceil(n / 3) + 1 bytes. */
static size_t b64url_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = B64URL[v >> 18 & 63];
		out[o++] = B64URL[v >> 12 & 63];
		out[o++] = B64URL[v >> 6 & 63];
		out[o++] = B64URL[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = B64URL[v >> 18 & 63];
		out[o++] = B64URL[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = B64URL[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* Decodes as Debian 12's libjwt 1.10.2 does (measured, see README.md): characters outside
 * the alphabet (both the URL-safe and the standard one) are skipped wherever they are,
 * '=' included, and a trailing single character is ignored. out needs n + 1 bytes; the
 * result is NUL-terminated. */
static size_t b64_decode_lenient(const char *s, size_t n, uint8_t *out)
{
	size_t o = 0, k = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			continue;
		acc = acc << 6 | (uint32_t)v;
		if (++k == 4) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
			k = 0;
		}
	}
	if (k == 2) {
		out[o++] = (uint8_t)(acc >> 4);
	} else if (k == 3) {
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	out[o] = '\0';
	return o;
}

/* ---- signing (input modes 1..3) ------------------------------------------------------ */

static void hmac_sha256(const void *key, size_t key_len, const char *msg, uint8_t out[32])
{
	unsigned int len = 0;
	FUZZ_CHECK(HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg),
			out, &len) != NULL &&
			   len == 32,
		   "HMAC-SHA256");
}

/* ES256 signature in JWS form: r || s, 32 bytes each. */
static void es256_sign(const char *msg, uint8_t out[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t der_len = 0;
	FUZZ_CHECK(ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, g_priv) == 1 &&
			   EVP_DigestSign(ctx, NULL, &der_len, (const unsigned char *)msg,
					  strlen(msg)) == 1,
		   "ES256 sign init");
	unsigned char *der = malloc(der_len);
	FUZZ_CHECK(der != NULL, "out of memory");
	int signed_ok = EVP_DigestSign(ctx, der, &der_len, (const unsigned char *)msg, strlen(msg));
	FUZZ_CHECK(signed_ok == 1, "ES256 sign");
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	FUZZ_CHECK(sig != NULL, "DER signature");
	FUZZ_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 &&
			   BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32,
		   "r and s fit 32 bytes");
	ECDSA_SIG_free(sig);
	free(der);
	EVP_MD_CTX_free(ctx);
}

static int es256_verify(const char *msg, size_t msg_len, const uint8_t raw[64])
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
	FUZZ_CHECK(sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1, "ECDSA_SIG");
	unsigned char *der = NULL;
	int der_len = i2d_ECDSA_SIG(sig, &der);
	FUZZ_CHECK(der_len > 0, "i2d_ECDSA_SIG");
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FUZZ_CHECK(ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, g_pub) == 1,
		   "ES256 verify init");
	const unsigned char *m = (const unsigned char *)msg;
	int ok = EVP_DigestVerify(ctx, der, (size_t)der_len, m, msg_len) == 1;
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	return ok;
}

/* "b64(header).b64(payload).b64(signature)" for input modes 1..3. */
static char *sign_token(int mode, const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hl = nl ? (size_t)(nl - data) : size;
	const uint8_t *payload = nl ? nl + 1 : data + size;
	size_t pl = nl ? size - hl - 1 : 0;
	char *tok = malloc(4 * (hl + pl + 64) / 3 + 16);
	FUZZ_CHECK(tok != NULL, "out of memory");
	size_t n = b64url_encode(data, hl, tok);
	tok[n++] = '.';
	n += b64url_encode(payload, pl, tok + n);
	uint8_t sig[64];
	size_t sig_len = 32;
	if (mode == 1) {
		hmac_sha256(SECRET, strlen(SECRET), tok, sig);
	} else if (mode == 2) {
		es256_sign(tok, sig);
		sig_len = 64;
	} else {
		hmac_sha256(g_pub_pem, strlen(g_pub_pem), tok, sig);
	}
	tok[n++] = '.';
	b64url_encode(sig, sig_len, tok + n);
	return tok;
}

/* ---- the oracle -------------------------------------------------------------------- */

/* The token's segments as libjwt splits them: header, payload, and the rest. */
typedef struct parts {
	const char *h, *p, *s;
	size_t hl, pl, signed_len;
} parts;

static int split(const char *tok, parts *out)
{
	const char *d1 = strchr(tok, '.');
	if (!d1)
		return 0;
	const char *d2 = strchr(d1 + 1, '.');
	if (!d2)
		return 0;
	out->h = tok;
	out->hl = (size_t)(d1 - tok);
	out->p = d1 + 1;
	out->pl = (size_t)(d2 - d1 - 1);
	out->s = d2 + 1;
	out->signed_len = (size_t)(d2 - tok);
	return 1;
}

static json_t *segment_json(const char *s, size_t n)
{
	uint8_t *buf = malloc(n + 1);
	FUZZ_CHECK(buf != NULL, "out of memory");
	b64_decode_lenient(s, n, buf);
	json_t *j = json_loads((const char *)buf, 0, NULL);
	free(buf);
	return j;
}

/* A genuine signature by one of the app's keys, under that key's algorithm. */
static int genuine(const store_app *app, const char *tok, const parts *pt)
{
	char *signed_part = strndup(tok, pt->signed_len);
	FUZZ_CHECK(signed_part != NULL, "out of memory");
	int ok = 0;
	for (size_t i = 0; i < app->n_keys && !ok; i++) {
		const store_key *k = &app->keys[i];
		if (strcmp(k->alg, "HS256") == 0) {
			uint8_t mac[32];
			char b64[48];
			hmac_sha256(k->key, k->key_len, signed_part, mac);
			b64url_encode(mac, 32, b64);
			ok = strcmp(b64, pt->s) == 0;
		} else if (strcmp(k->alg, "ES256") == 0) {
			size_t sl = strlen(pt->s);
			uint8_t *raw = malloc(sl + 1);
			FUZZ_CHECK(raw != NULL, "out of memory");
			if (b64_decode_lenient(pt->s, sl, raw) == 64)
				ok = es256_verify(signed_part, pt->signed_len, raw);
			free(raw);
		}
	}
	free(signed_part);
	return ok;
}

static int aud_has(json_t *aud, const char *want)
{
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	size_t i;
	json_t *v;
	json_array_foreach(aud, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return 1;
	}
	return 0;
}

static void check_accepted(const store_app *app, const char *tok, const char *user_id)
{
	parts pt;
	FUZZ_CHECK(split(tok, &pt), "an accepted token has three segments");
	FUZZ_CHECK(genuine(app, tok, &pt), "an accepted token is signed by a key of the app");

	json_t *hdr = segment_json(pt.h, pt.hl);
	FUZZ_CHECK(json_is_object(hdr), "an accepted token has a JSON header");
	json_t *alg = json_object_get(hdr, "alg");
	FUZZ_CHECK(json_is_string(alg) && strcasecmp(json_string_value(alg), "none") != 0,
		   "an accepted token names a signing alg");
	json_decref(hdr);

	json_t *claims = segment_json(pt.p, pt.pl);
	FUZZ_CHECK(json_is_object(claims), "an accepted token has JSON claims");
	json_t *sub = json_object_get(claims, "sub");
	FUZZ_CHECK(json_is_string(sub) && strcmp(json_string_value(sub), user_id) == 0,
		   "the user id is the sub claim");
	size_t ul = strlen(user_id);
	FUZZ_CHECK(ul >= 1 && ul <= SOUK_WIRE_MAX_ID && souk_wire_utf8_valid(user_id, ul),
		   "the user id is 1..128 bytes of UTF-8");
	json_t *exp = json_object_get(claims, "exp");
	FUZZ_CHECK(json_is_integer(exp) && json_integer_value(exp) >= NOW - AUTH_CLOCK_SKEW_S,
		   "exp is an integer, not past");
	json_t *nbf = json_object_get(claims, "nbf"), *iat = json_object_get(claims, "iat");
	FUZZ_CHECK(!nbf || (json_is_integer(nbf) &&
			    json_integer_value(nbf) <= NOW + AUTH_CLOCK_SKEW_S),
		   "nbf, if any, is an integer, not in the future");
	FUZZ_CHECK(!iat || (json_is_integer(iat) &&
			    json_integer_value(iat) <= NOW + AUTH_CLOCK_SKEW_S),
		   "iat, if any, is an integer, not in the future");
	if (app->audience[0])
		FUZZ_CHECK(aud_has(json_object_get(claims, "aud"), app->audience),
			   "aud names the app when it pins one");
	if (app->issuer[0]) {
		json_t *iss = json_object_get(claims, "iss");
		FUZZ_CHECK(json_is_string(iss) && strcmp(json_string_value(iss), app->issuer) == 0,
			   "iss is the app's when it pins one");
	}
	json_decref(claims);
}

/* Bugs reported and not fixed yet (README.md, "Findings"), skipped on request. */
static int known_bug(const char *tok)
{
	parts pt;
	if (!split(tok, &pt))
		return 0;
	json_t *claims = segment_json(pt.p, pt.pl);
	json_t *exp = json_object_get(claims, "exp");
	/* auth.c computes exp + AUTH_CLOCK_SKEW_S in a signed long */
	int hit = json_is_integer(exp) && json_integer_value(exp) > INT64_MAX - AUTH_CLOCK_SKEW_S;
	json_decref(claims);
	return hit;
}

static int known_code(int code)
{
	switch (code) {
	case 0:
	case SOUK__V1__ERROR_CODE__TOKEN_INVALID:
	case SOUK__V1__ERROR_CODE__TOKEN_EXPIRED:
	case SOUK__V1__ERROR_CODE__TOKEN_NOT_YET_VALID:
	case SOUK__V1__ERROR_CODE__TOKEN_CLAIMS:
	case SOUK__V1__ERROR_CODE__UNKNOWN_KEY:
		return 1;
	default:
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tok;
	if (size && data[0] >= 1 && data[0] <= 3) {
		tok = sign_token(data[0], data + 1, size - 1);
	} else {
		tok = malloc(size + 1);
		FUZZ_CHECK(tok != NULL, "out of memory");
		memcpy(tok, data, size);
		tok[size] = '\0';
	}
	if (g_skip_known && known_bug(tok)) {
		free(tok);
		return 0;
	}
	for (size_t a = 0; a < 2; a++) {
		/* exactly the size soukd passes, so that an overrun is caught */
		char *user_id = malloc(STORE_ID_MAX);
		FUZZ_CHECK(user_id != NULL, "out of memory");
		const char *why = (const char *)1;
		int code = auth_verify(&g_apps[a], tok, NOW, user_id, STORE_ID_MAX, &why);
		FUZZ_CHECK(known_code(code), "auth_verify returns a documented code");
		FUZZ_CHECK(code ? why && why[0] : why == NULL, "a reason iff refused");
		if (code == 0)
			check_accepted(&g_apps[a], tok, user_id);
		free(user_id);
	}
	free(tok);
	return 0;
}
