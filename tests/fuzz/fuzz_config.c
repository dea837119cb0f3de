/*
 * fuzz_config — soukd's configuration file reader (config_load_file, server/src/config.c)
 * on fuzzer-written files.
 *
 * Input: the file's bytes, written to a memfd and opened by path (/proc/self/fd/N), as
 * soukd opens --config. Properties: the result is 0 or -1; -1 comes with a NUL-terminated
 * message, also when the message buffer is tiny (buffers are exact-size allocations, so
 * that an overrun is caught); 0 leaves every string setting NUL-terminated within its
 * field. config_validate then also returns 0 or -1 with a message.
 */
#include <sys/mman.h>
#include <unistd.h>

#include <string.h>

#include "config.h"
#include "fuzz_util.h"

static int g_fd = -1;
static char g_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_fd = memfd_create("souk-fuzz-config", 0);
	FUZZ_CHECK(g_fd >= 0, "memfd_create");
	snprintf(g_path, sizeof(g_path), "/proc/self/fd/%d", g_fd);
	return 0;
}

static void check_strings(const souk_config *c)
{
	FUZZ_CHECK(memchr(c->data_dir, 0, sizeof(c->data_dir)), "data_dir is terminated");
	FUZZ_CHECK(memchr(c->listen, 0, sizeof(c->listen)), "listen is terminated");
	FUZZ_CHECK(memchr(c->tls_cert, 0, sizeof(c->tls_cert)), "tls_cert is terminated");
	FUZZ_CHECK(memchr(c->tls_key, 0, sizeof(c->tls_key)), "tls_key is terminated");
	FUZZ_CHECK(memchr(c->port_file, 0, sizeof(c->port_file)), "port_file is terminated");
	FUZZ_CHECK(memchr(c->log_level, 0, sizeof(c->log_level)), "log_level is terminated");
}

static void load(size_t errlen)
{
	souk_config *c = malloc(sizeof(*c));
	char *err = malloc(errlen);
	FUZZ_CHECK(c && err, "out of memory");
	memset(err, 0x5A, errlen);
	config_defaults(c);
	int rc = config_load_file(c, g_path, err, errlen);
	FUZZ_CHECK(rc == 0 || rc == -1, "config_load_file returns 0 or -1");
	if (rc == -1)
		FUZZ_CHECK(memchr(err, 0, errlen) && (errlen == 1 || err[0]),
			   "a refusal comes with a terminated, non-empty message");
	check_strings(c);
	if (rc == 0) {
		memset(err, 0x5A, errlen);
		int vrc = config_validate(c, err, errlen);
		FUZZ_CHECK(vrc == 0 || vrc == -1, "config_validate returns 0 or -1");
		if (vrc == -1)
			FUZZ_CHECK(memchr(err, 0, errlen) && (errlen == 1 || err[0]),
				   "validation refusals come with a message");
		char host[256];
		int port = -1;
		if (config_listen(c, host, sizeof(host), &port) == 0)
			FUZZ_CHECK(port >= 0 && port <= 65535 && memchr(host, 0, sizeof(host)),
				   "config_listen gives a port and a terminated host");
	}
	free(err);
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FUZZ_CHECK(ftruncate(g_fd, 0) == 0, "ftruncate");
	size_t off = 0;
	while (off < size) {
		ssize_t w = pwrite(g_fd, data + off, size - off, (off_t)off);
		FUZZ_CHECK(w > 0, "pwrite");
		off += (size_t)w;
	}
	load(512); /* soukd's buffer size */
	load(8);
	return 0;
}
