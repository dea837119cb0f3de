/*
 * tls.c — TLS for wss://: the client's OpenSSL context, and optional certificate
 * pinning (the server's chain must contain a certificate whose SubjectPublicKeyInfo
 * hashes, SHA-256, to one of the app's pins).
 *
 * The SSL_CTX is ours, handed to libwebsockets as provided_client_ssl_ctx, rather than
 * one libwebsockets creates: libwebsockets 4.1 finds the SSL_CTX it created through an
 * ex_data index kept in a process-wide variable that the next context creation
 * overwrites, so with two clients in one process the first one's SSL_CTX (with the
 * system CA store, ~350 KB) was never freed. Verification itself stays libwebsockets':
 * peer verification and host name (or IP) checks are set on every connection.
 *
 * Pinning the key rather than the certificate survives certificate renewals with the
 * same key; apps should pin a backup key too. OpenSSL calls the verify callback once per
 * certificate from the root down to the leaf (depth 0), so at depth 0 the whole chain
 * has been seen.
 */
#include "client.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

int souk__tls_ctx_create(souk_client *c, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(err, errlen, "cannot create a TLS context");
		return SOUK_ENOMEM;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	int ok = c->ca_file ? SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx);
	ERR_clear_error();
	if (!ok) {
		SSL_CTX_free(ctx);
		snprintf(err, errlen, "cannot load the trusted certificates from %s",
			 c->ca_file ? "tls_ca_file" : "the system store");
		return SOUK_EINVAL;
	}
	c->ssl_ctx = ctx;
	return SOUK_OK;
}

void souk__tls_ctx_free(souk_client *c)
{
	SSL_CTX_free(c->ssl_ctx);
	c->ssl_ctx = NULL;
}

int souk__parse_pins(const char *spec, uint8_t (**out)[32], size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 1;
	for (const char *p = spec; *p; p++)
		cap += *p == ',';
	uint8_t(*pins)[32] = calloc(cap, sizeof(*pins));
	if (!pins)
		return -1;
	size_t cnt = 0;
	const char *p = spec;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *end = p;
		while (*end && *end != ',' && *end != ' ')
			end++;
		if (end == p)
			break;
		/* base64 of 32 bytes: 44 characters with one '=' of padding */
		if (end - p != 44) {
			free(pins);
			return -1;
		}
		unsigned char raw[48];
		char b64[45];
		memcpy(b64, p, 44);
		b64[44] = '\0';
		if (EVP_DecodeBlock(raw, (const unsigned char *)b64, 44) != 33 || b64[43] != '=') {
			free(pins);
			return -1;
		}
		memcpy(pins[cnt++], raw, 32);
		p = end;
	}
	if (cnt == 0) {
		free(pins);
		return -1;
	}
	*out = pins;
	*n = cnt;
	return 0;
}

/* The libwebsockets verification hook: 0 lets the handshake go on, 1 fails it. */
int souk__pin_check(souk_client *c, void *x509_store_ctx, int *matched)
{
	X509_STORE_CTX *ctx = x509_store_ctx;
	X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
	if (cert) {
		unsigned char *der = NULL;
		int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
		if (len > 0) {
			unsigned char digest[SHA256_DIGEST_LENGTH];
			SHA256(der, (size_t)len, digest);
			for (size_t i = 0; i < c->npins; i++)
				if (memcmp(digest, c->pins[i], 32) == 0)
					*matched = 1;
		}
		OPENSSL_free(der);
	}
	if (X509_STORE_CTX_get_error_depth(ctx) == 0 && !*matched) {
		souk__logf(&c->log, SOUK_LOG_ERROR,
			   "no certificate of the server's chain matches a configured pin");
		X509_STORE_CTX_set_error(ctx, X509_V_ERR_APPLICATION_VERIFICATION);
		return 1;
	}
	return 0;
}
