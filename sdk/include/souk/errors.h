/*
 * souk/errors.h — libsouk error codes.
 *
 * Every function that can fail returns an int: 0 (SOUK_OK) or one of the negative codes
 * below. The codes are few and stable; bindings map them to exceptions / Error types.
 * A human-readable message for the last failure is available from souk_client_errmsg().
 * docs/errors.md says when each code happens and what the app should do.
 *
 * Codes the *server* sends (wire codes, 100..599) are a different namespace; they appear
 * as souk_message_get_failure_code() and souk_event_get_wire_code() and are listed in
 * docs/protocol.md.
 */
#ifndef SOUK_ERRORS_H
#define SOUK_ERRORS_H

#include "souk/common.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

typedef enum SOUK_ENUM souk_error {
	SOUK_OK = 0,
	SOUK_EINVAL = -1,     /* an argument is invalid: NULL, out of range, not UTF-8 */
	SOUK_ENOMEM = -2,     /* out of memory */
	SOUK_ESTATE = -3,     /* not allowed in the client's current state */
	SOUK_ENOTFOUND = -4,  /* no such message or conversation in the local store */
	SOUK_ETIMEOUT = -5,   /* souk_client_next_event: no event within the timeout */
	SOUK_ESTORE = -6,     /* the local database failed (I/O error, disk full, corrupt) */
	SOUK_EKEY = -7,	      /* wrong database key, or the file is not a Souk database */
	SOUK_ENOCRYPT = -8,   /* the linked SQLite does not encrypt: refusing plaintext */
	SOUK_ESCHEMA = -9,    /* the database was written by a newer libsouk */
	SOUK_ETOOLARGE = -10, /* content over the protocol's message size limit */
	SOUK_EAUTH = -11,     /* the server refused the app id or the token */
	SOUK_EUSER = -12,     /* the database belongs to another user: log out with wipe */
	SOUK_ENETWORK = -13,  /* the connection failed or was lost */
	SOUK_EPROTOCOL = -14, /* the server sent something this SDK cannot accept */
	SOUK_EINTERNAL = -15  /* a bug in libsouk; please report it */
} souk_error;

/* The name and meaning of an error code, e.g. "SOUK_EKEY: wrong database key or not a
 * Souk database". Static string; never NULL (unknown codes give a generic text). */
SOUK_API const char *souk_strerror(int code);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
