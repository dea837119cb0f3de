/*
 * auth.h — verification of the user tokens (JWT) presented in Hello, with libjwt.
 *
 * The key is chosen by the token header's `kid` among the app's active keys ("default"
 * when absent); each key pins its algorithm, so `alg: none`, or HS256 presented against an
 * ES256 public key, is refused before any signature check. Claims: `sub` and `exp` are
 * required, `nbf`/`iat` honoured, `aud`/`iss` checked when the app configures them.
 * Pure function of (app, token, now): no I/O, safe on the loop thread.
 */
#ifndef SOUK_SERVER_AUTH_H
#define SOUK_SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

enum { AUTH_CLOCK_SKEW_S = 60 };

/* Returns 0 and writes the user id (the `sub` claim) into user_id, or a souk.v1 ErrorCode
 * (TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, TOKEN_CLAIMS, UNKNOWN_KEY) with a
 * static reason in *why. */
int auth_verify(const store_app *app, const char *token, int64_t now_s, char *user_id,
		size_t user_id_cap, const char **why);

/* Signs a HS256 token for app/user with the key `kid` (soukctl, tests). Returns a malloc'ed
 * string or NULL. */
char *auth_sign_hs256(const char *secret, const char *kid, const char *user_id, int64_t now_s,
		      int64_t ttl_s, const char *audience, const char *issuer);

#endif
