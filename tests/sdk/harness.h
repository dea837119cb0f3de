/*
 * harness.h — what the libsouk tests share: a real soukd on a temporary data dir (app
 * created with soukctl, started on a free 127.0.0.1 port, killed, stopped, restarted on
 * the same port), user tokens, SDK clients on temporary databases, and waiting for
 * conditions with generous upper bounds (never timing thresholds).
 *
 * Binaries come from the environment (set by ctest): SOUKD, SOUKCTL.
 * SOUK_TEST_VERBOSE=1 prints SDK logs; SOUK_KEEP_TEST_DIRS=1 keeps the temporary dirs.
 */
#ifndef SOUK_TEST_HARNESS_H
#define SOUK_TEST_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "souk/souk.h"

/* Test assertions: print where and why, then exit(1). Usable from any thread. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			th_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                           \
	} while (0)
#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		long long a_ = (long long)(a), b_ = (long long)(b);                                \
		if (a_ != b_)                                                                      \
			th_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a, a_, #b, \
				b_);                                                               \
	} while (0)
#define CHECK_OK(expr)                                                                             \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		if (r_ != SOUK_OK)                                                                 \
			th_fail(__FILE__, __LINE__, "%s -> %s (%s)", #expr, souk_strerror(r_),     \
				souk_client_errmsg(NULL));                                         \
	} while (0)

void th_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
void th_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A temporary directory removed at exit (unless SOUK_KEEP_TEST_DIRS). */
const char *th_tmpdir(void);

typedef struct th_server {
	char dir[256]; /* data dir of soukd */
	char config[300];
	char port_file[300];
	char log_path[300];
	char app_id[128];
	char jwt_secret[160];
	char api_key[160]; /* for the agent REST API */
	int port;
	pid_t pid;
	int stopped; /* SIGSTOP'ed */
	int tls;     /* serves wss:// (its config has tls_cert and tls_key) */
} th_server;

/* Creates the data dir and an app. `config_json` (may be NULL) is soukd's JSON config. */
void th_server_init(th_server *s, const char *config_json);
/* Picks a free port now, for a server started later (offline tests). */
void th_server_reserve_port(th_server *s);
/* Starts soukd (on the reserved or previous port, else a free one) and waits until it
 * answers /healthz. */
void th_server_start(th_server *s);
/* Sends `sig` and, for SIGKILL/SIGTERM, waits for the exit. SIGTERM must exit 0. */
void th_server_signal(th_server *s, int sig);
/* SIGTERM; checks a clean exit and no sanitizer report in soukd's log. */
void th_server_stop(th_server *s);
/* Runs a program (no shell); returns its exit status; stdout into out when given. */
int th_run(char *const argv[], char *out, size_t outlen);
/* The same, with `input` (small) on its standard input. */
int th_run_input(char *const argv[], const char *input, char *out, size_t outlen);
/* An agent REST API call (HTTP/1.1 on the server's port, Bearer api_key). Returns the
 * status code; the response body goes to `out` when given. */
int th_http(th_server *s, const char *method, const char *path, const char *json, char *out,
	    size_t outlen);
/* A user token (soukctl token). Caller frees. */
char *th_token(th_server *s, const char *user_id, int ttl_s);
/* ws://127.0.0.1:PORT/v1/ws, or wss:// (static buffers, reused after 16 calls). */
const char *th_url(th_server *s);

/* A client on database `db_name` in th_tmpdir(), with a fixed test key (key_variant
 * changes it). Logs go to stderr with SOUK_TEST_VERBOSE, and every log line is checked
 * against the forbidden strings (th_forbid_in_logs). */
souk_client *th_client(th_server *s, const char *db_name, const char *device_id, int key_variant);
/* th_client(), logged in with `token` and started */
souk_client *th_started_client(th_server *s, const char *db_name, const char *device_id,
			       int key_variant, const char *token);
/* heartbeat_s for the clients th_client() creates from now on (0: the SDK default) */
extern unsigned th_heartbeat_s;
void th_key(uint8_t key[32], int variant);
void th_db_path(char *out, size_t len, const char *db_name);
/* Strings that must never appear in any SDK log line (tokens, message bodies). */
void th_forbid_in_logs(const char *s);

/* Drains events until pred(c, arg) holds, then the events already queued; fails after
 * timeout_ms (an upper bound against hangs, not a performance check). `on_event` (may be
 * NULL) sees every event. The store shows a commit an instant before the events about it
 * are queued: a condition on events must be waited for as such, not via the store. */
typedef int (*th_pred)(souk_client *c, void *arg);
typedef void (*th_event_fn)(const souk_event *ev, void *arg);
void th_wait(souk_client *c, th_pred pred, void *arg, th_event_fn on_event, void *ev_arg,
	     int timeout_ms, const char *what);

/* Handles every event already queued, without waiting. */
void th_drain(souk_client *c, th_event_fn on_event, void *ev_arg);

/* Common predicates */
int th_outbox_empty(souk_client *c, void *arg);

/* All messages of a conversation, oldest first (read page by page). */
typedef struct th_list {
	size_t n;
	souk_message **v;
} th_list;
th_list *th_messages(souk_client *c, int64_t conv);
void th_list_free(th_list *l);
/* 1 when file `path` contains `needle` (binary search of the raw bytes). */
int th_file_contains(const char *path, const char *needle);
uint32_t th_rand(void);
void th_sleep_ms(int ms);

#endif
