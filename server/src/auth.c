/* auth.c — JWT verification and development token signing (see auth.h). */
#include "auth.h"

#include <jansson.h>
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

static const store_key *find_key(const store_app *app, const char *kid)
{
	for (size_t i = 0; i < app->n_keys; i++)
		if (strcmp(app->keys[i].kid, kid) == 0)
			return &app->keys[i];
	return NULL;
}

static int aud_matches(jwt_t *jwt, const char *want)
{
	const char *aud = jwt_get_grant(jwt, "aud");
	if (aud)
		return strcmp(aud, want) == 0;
	char *json = jwt_get_grants_json(jwt, "aud");
	if (!json)
		return 0;
	int ok = 0;
	json_t *arr = json_loads(json, 0, NULL);
	free(json);
	if (json_is_array(arr)) {
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v)
		{
			if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
				ok = 1;
		}
	}
	json_decref(arr);
	return ok;
}

/* A numeric claim: 1 present (value in *out), 0 absent, -1 present but not an integer.
 * Read through the claim's JSON: libjwt's jwt_get_grant_int() cannot tell a string from 0. */
static int int_claim(jwt_t *jwt, const char *name, long *out)
{
	char *json = jwt_get_grants_json(jwt, name);
	if (!json)
		return 0;
	json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
	free(json);
	int rc = -1;
	if (json_is_integer(v)) {
		*out = (long)json_integer_value(v);
		rc = 1;
	}
	json_decref(v);
	return rc;
}

int auth_verify(const store_app *app, const char *token, int64_t now_s, char *user_id,
		size_t user_id_cap, const char **why)
{
	jwt_t *peek = NULL, *jwt = NULL;
	int code = SOUK__V1__ERROR_CODE__TOKEN_INVALID;
	*why = "token is not a well-formed JWT";
	if (!token || strlen(token) > SOUK_WIRE_MAX_TOKEN)
		return code;
	/* Compact JWS is three base64url segments. libjwt's decoder skips characters outside
	 * the alphabet, so junk inside a signature would otherwise still verify. */
	int dots = 0;
	for (const char *p = token; *p; p++) {
		if (*p == '.')
			dots++;
		else if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			   (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return code;
	}
	if (dots != 2)
		return code;

	/* Parse without verifying, only to read the header's kid and alg. Nothing from this
	 * parse is trusted beyond choosing the key. */
	if (jwt_decode(&peek, token, NULL, 0) != 0 || !peek)
		return code;
	const char *kid = jwt_get_header(peek, "kid");
	char *kid_json = kid ? NULL : jwt_get_headers_json(peek, "kid");
	if (kid_json) { /* present but not a string */
		free(kid_json);
		*why = "token kid is not a string";
		goto out;
	}
	const store_key *key = find_key(app, kid ? kid : "default");
	if (!key) {
		*why = "token kid names no active key of this app";
		code = SOUK__V1__ERROR_CODE__UNKNOWN_KEY;
		goto out;
	}
	jwt_alg_t want = jwt_str_alg(key->alg);
	/* without a key libjwt reports alg NONE; the header names the claimed one */
	const char *claimed = jwt_get_header(peek, "alg");
	/* JOSE alg names are case-sensitive (libjwt's jwt_str_alg is not) */
	if (want == JWT_ALG_INVAL || want == JWT_ALG_NONE || !claimed ||
	    strcmp(claimed, key->alg) != 0) {
		*why = "token alg is not the algorithm of its key";
		goto out;
	}
	if (jwt_decode(&jwt, token, (const unsigned char *)key->key, (int)key->key_len) != 0 ||
	    !jwt) {
		*why = "token signature does not verify";
		goto out;
	}
	if (jwt_get_alg(jwt) != want) {
		*why = "token alg is not the algorithm of its key";
		goto out;
	}

	code = SOUK__V1__ERROR_CODE__TOKEN_CLAIMS;
	const char *sub = jwt_get_grant(jwt, "sub");
	size_t sublen = sub ? strlen(sub) : 0;
	if (sublen == 0 || sublen > SOUK_WIRE_MAX_ID || sublen >= user_id_cap ||
	    !souk_wire_utf8_valid(sub, sublen)) {
		*why = "token sub is missing or not a valid user id";
		goto out;
	}
	long exp = 0, nbf = 0, iat = 0;
	int has_exp = int_claim(jwt, "exp", &exp);
	int has_nbf = int_claim(jwt, "nbf", &nbf);
	int has_iat = int_claim(jwt, "iat", &iat);
	if (has_exp <= 0) {
		*why = "token exp is missing or not a number";
		goto out;
	}
	if (has_nbf < 0 || has_iat < 0) {
		*why = "token nbf/iat is not a number";
		goto out;
	}
	if (exp < now_s - AUTH_CLOCK_SKEW_S) { /* (exp + skew would overflow near LONG_MAX) */
		code = SOUK__V1__ERROR_CODE__TOKEN_EXPIRED;
		*why = "token has expired";
		goto out;
	}
	if ((has_nbf && nbf > now_s + AUTH_CLOCK_SKEW_S) ||
	    (has_iat && iat > now_s + AUTH_CLOCK_SKEW_S)) {
		code = SOUK__V1__ERROR_CODE__TOKEN_NOT_YET_VALID;
		*why = "token is not valid yet";
		goto out;
	}
	if (app->audience[0] && !aud_matches(jwt, app->audience)) {
		*why = "token aud does not name this app";
		goto out;
	}
	if (app->issuer[0]) {
		const char *iss = jwt_get_grant(jwt, "iss");
		if (!iss || strcmp(iss, app->issuer) != 0) {
			*why = "token iss is not the app's issuer";
			goto out;
		}
	}
	memcpy(user_id, sub, sublen + 1);
	code = 0;
	*why = NULL;
out:
	jwt_free(peek);
	jwt_free(jwt);
	return code;
}

char *auth_sign_hs256(const char *secret, const char *kid, const char *user_id, int64_t now_s,
		      int64_t ttl_s, const char *audience, const char *issuer)
{
	jwt_t *jwt = NULL;
	char *out = NULL;
	if (jwt_new(&jwt) != 0)
		return NULL;
	if (jwt_add_grant(jwt, "sub", user_id) || jwt_add_grant_int(jwt, "iat", (long)now_s) ||
	    jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)))
		goto out;
	if (audience && audience[0] && jwt_add_grant(jwt, "aud", audience))
		goto out;
	if (issuer && issuer[0] && jwt_add_grant(jwt, "iss", issuer))
		goto out;
	if (kid && kid[0] && strcmp(kid, "default") != 0 && jwt_add_header(jwt, "kid", kid))
		goto out;
	if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)strlen(secret)))
		goto out;
	out = jwt_encode_str(jwt);
out:
	jwt_free(jwt);
	return out;
}
