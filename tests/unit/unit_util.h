/* Helpers shared by the server unit tests: a temporary data directory per test. */
#ifndef SOUK_TEST_UNIT_UTIL_H
#define SOUK_TEST_UNIT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline char *tmp_data_dir(void)
{
	char *d = strdup("/tmp/souk-unit-XXXXXX");
	if (!mkdtemp(d)) {
		free(d);
		return NULL;
	}
	return d;
}

static inline void rm_data_dir(char *d)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d);
	free(d);
}

#endif
