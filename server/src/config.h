/*
 * config.h — soukd settings: defaults, then a JSON config file, then SOUKD_* environment
 * variables, then command-line flags (each overrides the previous). docs/operations.md
 * lists every key.
 */
#ifndef SOUK_SERVER_CONFIG_H
#define SOUK_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct souk_config {
	char data_dir[1024];
	char listen[300]; /* HOST:PORT */
	char tls_cert[1024];
	char tls_key[1024];
	char port_file[1024];
	char log_level[16];
	char event_loop[16];  /* "epoll" (libuv) or "poll" */
	char commit_sync[16]; /* "pipelined" (a sync thread) or "inline" (inside COMMIT) */
	int64_t max_message_bytes;
	int64_t auth_timeout_ms;
	int64_t send_rate_per_s;
	int64_t send_burst;
	int64_t max_connections_per_user;
	int64_t http_header_tables; /* handshakes and HTTP requests parsed at once (lws ah pool) */
	int64_t send_queue_max_frames;
	int64_t send_queue_max_bytes;
	int64_t sync_page_default;
	int64_t commit_batch_max;
	int64_t shutdown_timeout_ms;
} souk_config;

void config_defaults(souk_config *c);
/* Each returns 0, or -1 with a message in err naming the key and the problem. */
int config_load_file(souk_config *c, const char *path, char *err, size_t errlen);
int config_load_env(souk_config *c, char *err, size_t errlen);
int config_set(souk_config *c, const char *key, const char *value, char *err, size_t errlen);
int config_validate(const souk_config *c, char *err, size_t errlen);
/* Splits c->listen into host and port. */
int config_listen(const souk_config *c, char *host, size_t hostcap, int *port);

#endif
