/* Unit tests of token verification (auth.c) with libjwt-signed tokens. */
#include <jwt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

static const char *SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const int64_t NOW = 1800000000;

static store_app app_with_secret(void)
{
	store_app a;
	memset(&a, 0, sizeof(a));
	strcpy(a.app_id, "app_1");
	a.n_keys = 1;
	strcpy(a.keys[0].kid, "default");
	strcpy(a.keys[0].alg, "HS256");
	a.keys[0].key = strdup(SECRET);
	a.keys[0].key_len = strlen(SECRET);
	return a;
}

static char *token(const char *secret, const char *sub, long iat, long exp, long nbf,
		   const char *kid, jwt_alg_t alg)
{
	jwt_t *j;
	jwt_new(&j);
	if (sub)
		jwt_add_grant(j, "sub", sub);
	if (iat)
		jwt_add_grant_int(j, "iat", iat);
	if (exp)
		jwt_add_grant_int(j, "exp", exp);
	if (nbf)
		jwt_add_grant_int(j, "nbf", nbf);
	if (kid)
		jwt_add_header(j, "kid", kid);
	jwt_set_alg(j, alg, alg == JWT_ALG_NONE ? NULL : (const unsigned char *)secret,
		    alg == JWT_ALG_NONE ? 0 : (int)strlen(secret));
	char *t = jwt_encode_str(j);
	jwt_free(j);
	return t;
}

static int verify(store_app *a, const char *tok, char *user)
{
	const char *why;
	return auth_verify(a, tok, NOW, user, 129, &why);
}

static void accepts_good_tokens(void **state)
{
	(void)state;
	store_app a = app_with_secret();
	char user[129];
	char *t = token(SECRET, "alice", NOW, NOW + 60, 0, NULL, JWT_ALG_HS256);
	assert_int_equal(verify(&a, t, user), 0);
	assert_string_equal(user, "alice");
	free(t);
	t = auth_sign_hs256(SECRET, "default", "bob", NOW, 60, "", "");
	assert_int_equal(verify(&a, t, user), 0);
	assert_string_equal(user, "bob");
	free(t);
	/* within the allowed clock skew */
	t = token(SECRET, "carol", NOW, NOW - 30, 0, NULL, JWT_ALG_HS256);
	assert_int_equal(verify(&a, t, user), 0);
	free(t);
	store_app_clear(&a);
}

static void refuses_bad_tokens(void **state)
{
	(void)state;
	store_app a = app_with_secret();
	char user[129];
	struct {
		char *tok;
		int code;
	} cases[] = {
		{token(SECRET, "a", NOW, NOW + 60, 0, NULL, JWT_ALG_NONE),
		 SOUK__V1__ERROR_CODE__TOKEN_INVALID},
		{token("other-secret-other-secret-other!", "a", NOW, NOW + 60, 0, NULL,
		       JWT_ALG_HS256),
		 SOUK__V1__ERROR_CODE__TOKEN_INVALID},
		{token(SECRET, "a", NOW, NOW + 60, 0, NULL, JWT_ALG_HS512),
		 SOUK__V1__ERROR_CODE__TOKEN_INVALID},
		{token(SECRET, "a", NOW - 7200, NOW - 3600, 0, NULL, JWT_ALG_HS256),
		 SOUK__V1__ERROR_CODE__TOKEN_EXPIRED},
		{token(SECRET, "a", NOW, NOW + 7200, NOW + 3600, NULL, JWT_ALG_HS256),
		 SOUK__V1__ERROR_CODE__TOKEN_NOT_YET_VALID},
		{token(SECRET, "a", NOW + 3600, NOW + 7200, 0, NULL, JWT_ALG_HS256),
		 SOUK__V1__ERROR_CODE__TOKEN_NOT_YET_VALID},
		{token(SECRET, "a", NOW, 0, 0, NULL, JWT_ALG_HS256),
		 SOUK__V1__ERROR_CODE__TOKEN_CLAIMS},
		{token(SECRET, NULL, NOW, NOW + 60, 0, NULL, JWT_ALG_HS256),
		 SOUK__V1__ERROR_CODE__TOKEN_CLAIMS},
		{token(SECRET, "a", NOW, NOW + 60, 0, "k9", JWT_ALG_HS256),
		 SOUK__V1__ERROR_CODE__UNKNOWN_KEY},
		{strdup("not.a.jwt"), SOUK__V1__ERROR_CODE__TOKEN_INVALID},
		{strdup(""), SOUK__V1__ERROR_CODE__TOKEN_INVALID},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_non_null(cases[i].tok);
		int got = verify(&a, cases[i].tok, user);
		if (got != cases[i].code)
			fail_msg("case %zu: got %d want %d", i, got, cases[i].code);
		free(cases[i].tok);
	}
	/* exp near LONG_MAX is a token that never expires, not an overflow */
	char *t0 = token(SECRET, "a", NOW, LONG_MAX, 0, NULL, JWT_ALG_HS256);
	assert_int_equal(verify(&a, t0, user), 0);
	free(t0);
	/* junk inside the signature (libjwt's base64 would skip it) */
	t0 = token(SECRET, "a", NOW, NOW + 60, 0, NULL, JWT_ALG_HS256);
	size_t l = strlen(t0);
	char *junk = malloc(l + 2);
	memcpy(junk, t0, l - 4);
	junk[l - 4] = '!';
	memcpy(junk + l - 3, t0 + l - 4, 5);
	assert_int_equal(verify(&a, junk, user), SOUK__V1__ERROR_CODE__TOKEN_INVALID);
	free(junk);
	free(t0);
	/* a sub longer than an id may be */
	char sub[200];
	memset(sub, 'u', sizeof(sub) - 1);
	sub[sizeof(sub) - 1] = '\0';
	char *t = token(SECRET, sub, NOW, NOW + 60, 0, NULL, JWT_ALG_HS256);
	assert_int_equal(verify(&a, t, user), SOUK__V1__ERROR_CODE__TOKEN_CLAIMS);
	free(t);
	store_app_clear(&a);
}

static void audience_and_issuer(void **state)
{
	(void)state;
	store_app a = app_with_secret();
	strcpy(a.audience, "shop");
	strcpy(a.issuer, "https://shop.example");
	char user[129];
	char *t = auth_sign_hs256(SECRET, "default", "u", NOW, 60, "shop", "https://shop.example");
	assert_int_equal(verify(&a, t, user), 0);
	free(t);
	t = auth_sign_hs256(SECRET, "default", "u", NOW, 60, "other", "https://shop.example");
	assert_int_equal(verify(&a, t, user), SOUK__V1__ERROR_CODE__TOKEN_CLAIMS);
	free(t);
	t = auth_sign_hs256(SECRET, "default", "u", NOW, 60, "shop", "");
	assert_int_equal(verify(&a, t, user), SOUK__V1__ERROR_CODE__TOKEN_CLAIMS);
	free(t);
	store_app_clear(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(accepts_good_tokens),
		cmocka_unit_test(refuses_bad_tokens),
		cmocka_unit_test(audience_and_issuer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
