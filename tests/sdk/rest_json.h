/*
 * rest_json.h — reading the agent REST API's JSON answers in libsouk's integration tests
 * (jansson). Header-only: each test that needs it includes it once.
 */
#ifndef SOUK_TEST_REST_JSON_H
#define SOUK_TEST_REST_JSON_H

#include <jansson.h>
#include <string.h>

#include "harness.h"

/* GET `path` with the app's API key; fails the test unless 200 with a JSON body. The
 * caller frees the result with json_decref(). */
static inline json_t *rj_get(th_server *srv, const char *path)
{
	static char out[65536];
	int status = th_http(srv, "GET", path, NULL, out, sizeof(out));
	if (status != 200)
		th_fail(__FILE__, __LINE__, "GET %s -> %d: %s", path, status, out);
	json_error_t err;
	json_t *j = json_loads(out, 0, &err);
	if (!j)
		th_fail(__FILE__, __LINE__, "GET %s: not JSON (%s): %s", path, err.text, out);
	return j;
}

/* The value at a dotted path ("content.product.price.amount_minor"; array indexes are
 * numbers: "items.0.title"); NULL when absent. Borrowed from `root`. */
static inline json_t *rj_at(json_t *root, const char *path)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", path);
	json_t *j = root;
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); j && k;
	     k = strtok_r(NULL, ".", &save)) {
		if (json_is_array(j))
			j = json_array_get(j, (size_t)strtoul(k, NULL, 10));
		else
			j = json_object_get(j, k);
	}
	return j;
}

static inline const char *rj_str(json_t *root, const char *path)
{
	const char *s = json_string_value(rj_at(root, path));
	return s ? s : "(absent)";
}

static inline long long rj_int(json_t *root, const char *path)
{
	json_t *j = rj_at(root, path);
	if (!json_is_integer(j))
		th_fail(__FILE__, __LINE__, "%s is not an integer", path);
	return (long long)json_integer_value(j);
}

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (!a_ || !b_ || strcmp(a_, b_) != 0)                                             \
			th_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a,           \
				a_ ? a_ : "(null)", b_ ? b_ : "(null)");                           \
	} while (0)

#endif
