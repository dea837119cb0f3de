/*
 * errors.c — error names and the per-thread last error message.
 *
 * The last message is kept per thread (tagged with the client it concerns) rather than
 * per handle: the client is used from many threads at once, and a message stored on the
 * handle could be overwritten by another thread between a failing call and the
 * souk_client_errmsg() that follows it.
 */
#include "internal.h"

#include <string.h>

static _Thread_local struct {
	const souk_client *client;
	char msg[256];
} last_error;

int souk__fail(const souk_client *c, int code, const char *msg)
{
	last_error.client = c;
	if (!msg)
		msg = souk_strerror(code);
	size_t n = strlen(msg);
	if (n >= sizeof(last_error.msg))
		n = sizeof(last_error.msg) - 1;
	memcpy(last_error.msg, msg, n);
	last_error.msg[n] = '\0';
	return code;
}

void souk__clear_error(void)
{
	last_error.client = NULL;
	last_error.msg[0] = '\0';
}

const char *souk_client_errmsg(const souk_client *client)
{
	if (client && last_error.client != client)
		return "";
	return last_error.msg;
}

const char *souk_strerror(int code)
{
	switch (code) {
	case SOUK_OK:
		return "SOUK_OK: success";
	case SOUK_EINVAL:
		return "SOUK_EINVAL: invalid argument";
	case SOUK_ENOMEM:
		return "SOUK_ENOMEM: out of memory";
	case SOUK_ESTATE:
		return "SOUK_ESTATE: not allowed in the client's current state";
	case SOUK_ENOTFOUND:
		return "SOUK_ENOTFOUND: no such message or conversation";
	case SOUK_ETIMEOUT:
		return "SOUK_ETIMEOUT: no event within the timeout";
	case SOUK_ESTORE:
		return "SOUK_ESTORE: the local database failed";
	case SOUK_EKEY:
		return "SOUK_EKEY: wrong database key, or not a Souk database";
	case SOUK_ENOCRYPT:
		return "SOUK_ENOCRYPT: the linked SQLite does not encrypt; refusing to store "
		       "plaintext";
	case SOUK_ESCHEMA:
		return "SOUK_ESCHEMA: the database was written by a newer libsouk";
	case SOUK_ETOOLARGE:
		return "SOUK_ETOOLARGE: content over the message size limit";
	case SOUK_EAUTH:
		return "SOUK_EAUTH: the server refused the app id or the token";
	case SOUK_EUSER:
		return "SOUK_EUSER: the database belongs to another user";
	case SOUK_ENETWORK:
		return "SOUK_ENETWORK: the connection failed or was lost";
	case SOUK_EPROTOCOL:
		return "SOUK_EPROTOCOL: the server sent something this SDK cannot accept";
	case SOUK_EINTERNAL:
		return "SOUK_EINTERNAL: internal error in libsouk";
	default:
		return "unknown libsouk error code";
	}
}

const char *souk_version(void)
{
	return SOUK_VERSION_STRING;
}

int souk_version_number(void)
{
	return SOUK_VERSION_NUMBER;
}
