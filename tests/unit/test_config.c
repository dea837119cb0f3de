/* Unit tests of soukd's configuration: file, environment, validation and their errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "unit_util.h"

static char *write_tmp(const char *text)
{
	char *p = strdup("/tmp/souk-cfg-XXXXXX");
	int fd = mkstemp(p);
	FILE *f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

static void file_env_and_errors(void **state)
{
	(void)state;
	souk_config c;
	char err[256];
	config_defaults(&c);
	assert_int_equal(c.max_message_bytes, 16384);
	char *p = write_tmp("{\"max_message_bytes\": 100, \"listen\": \"127.0.0.1:0\"}");
	assert_int_equal(config_load_file(&c, p, err, sizeof(err)), 0);
	assert_int_equal(c.max_message_bytes, 100);
	unlink(p);
	free(p);

	p = write_tmp("{\"max_mesage_bytes\": 100}");
	assert_int_equal(config_load_file(&c, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown setting 'max_mesage_bytes'"));
	unlink(p);
	free(p);

	p = write_tmp("{\"auth_timeout_ms\": \"5s\"}");
	assert_int_equal(config_load_file(&c, p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "must be an integer"));
	unlink(p);
	free(p);

	p = write_tmp("{ not json");
	assert_int_equal(config_load_file(&c, p, err, sizeof(err)), -1);
	unlink(p);
	free(p);

	assert_int_equal(config_set(&c, "max_message_bytes", "999999", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));

	setenv("SOUKD_SEND_BURST", "7", 1);
	assert_int_equal(config_load_env(&c, err, sizeof(err)), 0);
	assert_int_equal(c.send_burst, 7);
	setenv("SOUKD_SEND_BURST", "lots", 1);
	assert_int_equal(config_load_env(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "SOUKD_SEND_BURST"));
	unsetenv("SOUKD_SEND_BURST");

	config_defaults(&c);
	assert_int_equal(config_set(&c, "listen", "nonsense", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	config_defaults(&c);
	assert_int_equal(config_set(&c, "tls_cert", "/x.pem", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	/* the event loop: epoll (libuv) by default, poll on request, nothing else */
	config_defaults(&c);
	assert_string_equal(c.event_loop, "epoll");
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "event_loop", "poll", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "event_loop", "select", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "event_loop"));
	/* the commit sync: pipelined by default, inline on request, nothing else */
	config_defaults(&c);
	assert_string_equal(c.commit_sync, "pipelined");
	assert_int_equal(config_set(&c, "commit_sync", "inline", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(config_set(&c, "commit_sync", "off", err, sizeof(err)), 0);
	assert_int_equal(config_validate(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "commit_sync: 'off' is not pipelined or inline"));
	/* header tables: 64 by default, 1 … 65535 (lws counts them in 16 bits) */
	config_defaults(&c);
	assert_int_equal(c.http_header_tables, 64);
	assert_int_equal(config_set(&c, "http_header_tables", "65536", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
	assert_int_equal(config_set(&c, "http_header_tables", "0", err, sizeof(err)), -1);
	assert_int_equal(config_set(&c, "http_header_tables", "2", err, sizeof(err)), 0);
	assert_int_equal(c.http_header_tables, 2);
	config_defaults(&c);
	char host[64];
	int port;
	assert_int_equal(config_listen(&c, host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(file_env_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
