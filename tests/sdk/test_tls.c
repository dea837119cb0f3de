/*
 * wss:// and certificate pinning against a soukd serving TLS with a self-signed
 * certificate (made with the openssl tool):
 *  - trusted through tls_ca_file, with the right pin (alone, and after a wrong backup
 *    pin): connects, sends, gets the ack;
 *  - trusted, but only a wrong pin: never connects, the message stays pending;
 *  - not trusted (system CAs only, no pin): never connects.
 */
#include "harness.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

static char cert[600], key[600];

static void make_cert(void)
{
	snprintf(cert, sizeof(cert), "%s/cert.pem", th_tmpdir());
	snprintf(key, sizeof(key), "%s/key.pem", th_tmpdir());
	char *argv[] = {"/usr/bin/openssl",
			"req",
			"-x509",
			"-newkey",
			"ec",
			"-pkeyopt",
			"ec_paramgen_curve:prime256v1",
			"-nodes",
			"-days",
			"2",
			"-subj",
			"/CN=localhost",
			"-addext",
			"subjectAltName=IP:127.0.0.1",
			"-keyout",
			key,
			"-out",
			cert,
			NULL};
	char out[4096];
	CHECK_EQ(th_run(argv, out, sizeof(out)), 0);
}

/* base64(SHA-256(SubjectPublicKeyInfo)) of the certificate: the pin format */
static void pin_of(const char *path, char out[64])
{
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	CHECK(x != NULL);
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	CHECK(len > 0);
	unsigned char digest[32];
	SHA256(der, (size_t)len, digest);
	OPENSSL_free(der);
	X509_free(x);
	CHECK_EQ(EVP_EncodeBlock((unsigned char *)out, digest, 32), 44);
}

typedef struct st {
	int connected;
	int failures;
} st;

static void on_event(const souk_event *ev, void *arg)
{
	st *s = arg;
	if (souk_event_get_type(ev) != SOUK_EVENT_CONNECTION_STATE)
		return;
	if (souk_event_get_connection_state(ev) == SOUK_CONNECTION_CONNECTED)
		s->connected++;
	if (souk_event_get_connection_state(ev) == SOUK_CONNECTION_WAITING &&
	    souk_event_get_error(ev) == SOUK_ENETWORK)
		s->failures++;
}

static int three_failures(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->failures >= 3;
}

static souk_client *tls_client(th_server *srv, const char *db, const char *ca, const char *pins)
{
	uint8_t k[32];
	th_key(k, 0);
	char path[512];
	th_db_path(path, sizeof(path), db);
	souk_client_options o;
	CHECK_OK(souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION));
	o.server_url = th_url(srv);
	CHECK(strncmp(o.server_url, "wss://", 6) == 0);
	o.app_id = srv->app_id;
	o.db_path = path;
	o.db_key = k;
	o.db_key_len = 32;
	o.tls_ca_file = ca;
	o.tls_pins = pins;
	o.reconnect_min_ms = 50;
	o.reconnect_max_ms = 300;
	souk_client *c = NULL;
	CHECK_OK(souk_client_create(&c, &o));
	return c;
}

static void expect_delivery(th_server *srv, const char *db, const char *token, const char *pins)
{
	souk_client *c = tls_client(srv, db, cert, pins);
	CHECK_OK(souk_client_login(c, token));
	CHECK_OK(souk_client_start(c));
	int64_t conv;
	CHECK_OK(souk_client_open_support_conversation(&conv, c));
	CHECK_OK(souk_client_send_text(NULL, c, conv, "over TLS"));
	st s = {0};
	th_wait(c, th_outbox_empty, NULL, on_event, &s, 60000, "a message acked over wss");
	CHECK(s.connected >= 1);
	souk_client_free(c);
}

static void expect_refusal(th_server *srv, const char *db, const char *token, const char *ca,
			   const char *pins)
{
	souk_client *c = tls_client(srv, db, ca, pins);
	CHECK_OK(souk_client_login(c, token));
	CHECK_OK(souk_client_start(c));
	int64_t conv;
	CHECK_OK(souk_client_open_support_conversation(&conv, c));
	CHECK_OK(souk_client_send_text(NULL, c, conv, "must not leave"));
	st s = {0};
	th_wait(c, three_failures, &s, on_event, &s, 60000, "three refused handshakes");
	CHECK_EQ(s.connected, 0);
	size_t n = 0;
	CHECK_OK(souk_client_outbox_count(&n, c));
	CHECK_EQ(n, 1);
	souk_client_free(c);
}

int main(void)
{
	make_cert();
	char pin[64], config[1600];
	pin_of(cert, pin);
	snprintf(config, sizeof(config), "{\"tls_cert\": \"%s\", \"tls_key\": \"%s\"}", cert, key);
	th_server srv;
	th_server_init(&srv, config);
	srv.tls = 1;
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-tls", 3600);
	const char *wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	char backup_then_right[200];
	snprintf(backup_then_right, sizeof(backup_then_right), "%s, %s", wrong, pin);

	/* a second wss client alive meanwhile: two TLS contexts in one process */
	souk_client *bystander = tls_client(&srv, "bystander.db", cert, pin);
	CHECK_OK(souk_client_login(bystander, token));
	CHECK_OK(souk_client_start(bystander));

	expect_delivery(&srv, "pinned.db", token, pin);
	expect_delivery(&srv, "backup.db", token, backup_then_right);
	expect_delivery(&srv, "ca-only.db", token, NULL);
	expect_refusal(&srv, "wrong-pin.db", token, cert, wrong);
	expect_refusal(&srv, "untrusted.db", token, NULL, NULL);

	souk_client_free(bystander);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
