/* config.c — soukd configuration (see config.h). Unknown keys and values of the wrong type
 * are errors with a message that names the key: a typo must not silently keep a default. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "souk_wire/wire.h"

typedef enum { T_STR, T_INT } ktype;

typedef struct key {
	const char *name;
	ktype type;
	size_t off;
	size_t cap;	  /* T_STR */
	int64_t min, max; /* T_INT */
} key;

#define S(n)                                                                                       \
	{                                                                                          \
#n, T_STR, offsetof(souk_config, n), sizeof(((souk_config *)0)->n), 0, 0           \
	}
#define I(n, lo, hi)                                                                               \
	{                                                                                          \
#n, T_INT, offsetof(souk_config, n), 0, lo, hi                                     \
	}

static const key KEYS[] = {
	S(data_dir),
	S(listen),
	S(tls_cert),
	S(tls_key),
	S(port_file),
	S(log_level),
	S(event_loop),
	S(commit_sync),
	I(max_message_bytes, 64, SOUK_WIRE_MAX_MESSAGE),
	I(auth_timeout_ms, 100, 600000),
	I(send_rate_per_s, 1, 1000000),
	I(send_burst, 1, 1000000),
	I(max_connections_per_user, 1, 10000),
	I(http_header_tables, 1, 65535),
	I(send_queue_max_frames, 16, 1000000),
	I(send_queue_max_bytes, 65536, 1LL << 32),
	I(sync_page_default, 1, SOUK_WIRE_MAX_SYNC_PAGE),
	I(commit_batch_max, 1, 100000),
	I(shutdown_timeout_ms, 0, 600000),
};

void config_defaults(souk_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "./data");
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
	snprintf(c->log_level, sizeof(c->log_level), "info");
	snprintf(c->event_loop, sizeof(c->event_loop), "epoll");
	snprintf(c->commit_sync, sizeof(c->commit_sync), "pipelined");
	c->max_message_bytes = SOUK_WIRE_MAX_MESSAGE;
	c->auth_timeout_ms = 5000;
	c->send_rate_per_s = 20;
	c->send_burst = 50;
	c->max_connections_per_user = 10;
	c->http_header_tables = 64;
	c->send_queue_max_frames = 1024;
	c->send_queue_max_bytes = 4 * 1024 * 1024;
	c->sync_page_default = 200;
	c->commit_batch_max = 1024;
	c->shutdown_timeout_ms = 10000;
}

static const key *find(const char *name)
{
	for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++)
		if (strcmp(KEYS[i].name, name) == 0)
			return &KEYS[i];
	return NULL;
}

static int set_int(souk_config *c, const key *k, int64_t v, char *err, size_t errlen)
{
	if (v < k->min || v > k->max) {
		snprintf(err, errlen, "%s: %lld is out of range %lld..%lld", k->name, (long long)v,
			 (long long)k->min, (long long)k->max);
		return -1;
	}
	*(int64_t *)((char *)c + k->off) = v;
	return 0;
}

static int set_str(souk_config *c, const key *k, const char *v, char *err, size_t errlen)
{
	if (strlen(v) >= k->cap) {
		snprintf(err, errlen, "%s: value is too long", k->name);
		return -1;
	}
	snprintf((char *)c + k->off, k->cap, "%s", v);
	return 0;
}

int config_set(souk_config *c, const char *name, const char *value, char *err, size_t errlen)
{
	const key *k = find(name);
	if (!k) {
		snprintf(err, errlen, "unknown setting '%s'", name);
		return -1;
	}
	if (k->type == T_STR)
		return set_str(c, k, value, err, errlen);
	char *end;
	errno = 0;
	long long v = strtoll(value, &end, 10);
	if (errno || end == value || *end) {
		snprintf(err, errlen, "%s: '%s' is not an integer", name, value);
		return -1;
	}
	return set_int(c, k, v, err, errlen);
}

int config_load_file(souk_config *c, const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return -1;
	}
	int rc = 0;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: the configuration must be a JSON object", path);
		rc = -1;
	}
	const char *name;
	json_t *v;
	json_object_foreach(root, name, v)
	{
		if (rc)
			break;
		const key *k = find(name);
		if (!k) {
			snprintf(err, errlen, "%s: unknown setting '%s'", path, name);
			rc = -1;
		} else if (k->type == T_STR) {
			if (!json_is_string(v)) {
				snprintf(err, errlen, "%s: '%s' must be a string", path, name);
				rc = -1;
			} else {
				rc = set_str(c, k, json_string_value(v), err, errlen);
			}
		} else {
			if (!json_is_integer(v)) {
				snprintf(err, errlen, "%s: '%s' must be an integer", path, name);
				rc = -1;
			} else {
				rc = set_int(c, k, json_integer_value(v), err, errlen);
			}
		}
	}
	json_decref(root);
	return rc;
}

int config_load_env(souk_config *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(KEYS) / sizeof(KEYS[0]); i++) {
		char env[64] = "SOUKD_";
		size_t n = strlen(env);
		for (const char *p = KEYS[i].name; *p && n < sizeof(env) - 1; p++)
			env[n++] = (char)toupper((unsigned char)*p);
		env[n] = '\0';
		const char *v = getenv(env);
		if (v && config_set(c, KEYS[i].name, v, err, errlen)) {
			size_t l = strlen(err);
			snprintf(err + l, errlen - l, " (from %s)", env);
			return -1;
		}
	}
	return 0;
}

int config_listen(const souk_config *c, char *host, size_t hostcap, int *port)
{
	const char *colon = strrchr(c->listen, ':');
	if (!colon || colon == c->listen || (size_t)(colon - c->listen) >= hostcap)
		return -1;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || p < 0 || p > 65535)
		return -1;
	memcpy(host, c->listen, (size_t)(colon - c->listen));
	host[colon - c->listen] = '\0';
	*port = (int)p;
	return 0;
}

int config_validate(const souk_config *c, char *err, size_t errlen)
{
	char host[256];
	int port;
	if (config_listen(c, host, sizeof(host), &port)) {
		snprintf(err, errlen, "listen: '%s' is not HOST:PORT", c->listen);
		return -1;
	}
	if (!c->data_dir[0]) {
		snprintf(err, errlen, "data_dir: must not be empty");
		return -1;
	}
	if (!!c->tls_cert[0] != !!c->tls_key[0]) {
		snprintf(err, errlen, "tls_cert and tls_key must be set together");
		return -1;
	}
	static const char *levels[] = {"error", "warn", "info", "debug"};
	int ok = 0;
	for (int i = 0; i < 4; i++)
		ok |= strcasecmp(c->log_level, levels[i]) == 0;
	if (!ok) {
		snprintf(err, errlen, "log_level: '%s' is not error, warn, info or debug",
			 c->log_level);
		return -1;
	}
	if (strcmp(c->event_loop, "epoll") != 0 && strcmp(c->event_loop, "poll") != 0) {
		snprintf(err, errlen, "event_loop: '%s' is not epoll or poll", c->event_loop);
		return -1;
	}
	if (strcmp(c->commit_sync, "pipelined") != 0 && strcmp(c->commit_sync, "inline") != 0) {
		snprintf(err, errlen, "commit_sync: '%s' is not pipelined or inline",
			 c->commit_sync);
		return -1;
	}
	return 0;
}
