/*
 * harness.c — see harness.h. Processes are started with fork/exec (no shell); every
 * soukd started is killed at exit if a test failed before stopping it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t creator_pid;
static char tmpdir[256];
static pid_t servers[16];
static size_t nservers;
static pthread_mutex_t forbid_mu = PTHREAD_MUTEX_INITIALIZER;
static char *forbidden[64];
static size_t nforbidden;

void th_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	fflush(stderr);
	exit(1);
}

void th_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	fprintf(stderr, "[%5lld.%03ld] ", (long long)ts.tv_sec % 100000, ts.tv_nsec / 1000000);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
}

void th_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

uint32_t th_rand(void)
{
	uint32_t v;
	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)time(NULL);
	return v;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void at_exit(void)
{
	if (getpid() != creator_pid)
		return;
	for (size_t i = 0; i < nservers; i++) {
		if (servers[i] > 0) {
			kill(servers[i], SIGCONT);
			kill(servers[i], SIGKILL);
			waitpid(servers[i], NULL, 0);
		}
	}
	if (tmpdir[0] && !getenv("SOUK_KEEP_TEST_DIRS"))
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else if (tmpdir[0])
		fprintf(stderr, "kept %s\n", tmpdir);
}

const char *th_tmpdir(void)
{
	if (!tmpdir[0] && getenv("SOUK_TEST_SHARED_DIR")) {
		/* a child process of a test: use the parent's directory, never remove it */
		snprintf(tmpdir, sizeof(tmpdir), "%s", getenv("SOUK_TEST_SHARED_DIR"));
		creator_pid = -1;
	}
	if (!tmpdir[0]) {
		creator_pid = getpid();
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/souk-sdk-test-XXXXXX");
		if (!mkdtemp(tmpdir))
			th_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		atexit(at_exit);
		signal(SIGPIPE, SIG_IGN);
	}
	return tmpdir;
}

/* ---- processes ------------------------------------------------------------------------ */

/* Runs argv, returns its exit status; stdout into out (NUL-terminated) when given. */
int th_run(char *const argv[], char *out, size_t outlen)
{
	return th_run_input(argv, NULL, out, outlen);
}

int th_run_input(char *const argv[], const char *input, char *out, size_t outlen)
{
	int p[2], in[2];
	if (pipe(p) != 0 || pipe(in) != 0)
		th_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		th_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(in[0], 0);
		close(p[0]);
		close(p[1]);
		close(in[0]);
		close(in[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	close(in[0]);
	/* small inputs: they fit in the pipe buffer, so writing first cannot deadlock */
	if (input && write(in[1], input, strlen(input)) != (ssize_t)strlen(input))
		th_fail(__FILE__, __LINE__, "cannot write the child's input");
	close(in[1]);
	size_t n = 0;
	char buf[4096];
	ssize_t k;
	while ((k = read(p[0], buf, sizeof(buf))) > 0) {
		if (out && n + (size_t)k < outlen) {
			memcpy(out + n, buf, (size_t)k);
			n += (size_t)k;
		}
	}
	close(p[0]);
	if (out)
		out[n] = '\0';
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *env_bin(const char *name)
{
	const char *v = getenv(name);
	if (!v || !v[0])
		th_fail(__FILE__, __LINE__, "$%s is not set (run the test through ctest)", name);
	return v;
}

static void json_field(const char *json, const char *key, char *out, size_t len)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(json, pat);
	if (!p)
		th_fail(__FILE__, __LINE__, "no %s in soukctl output: %s", key, json);
	p += strlen(pat);
	const char *e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= len)
		th_fail(__FILE__, __LINE__, "bad %s in soukctl output", key);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

void th_server_init(th_server *s, const char *config_json)
{
	static int count;
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/soukd-%d", th_tmpdir(), count++);
	if (mkdir(s->dir, 0700) != 0)
		th_fail(__FILE__, __LINE__, "mkdir %s: %s", s->dir, strerror(errno));
	snprintf(s->port_file, sizeof(s->port_file), "%s/port", s->dir);
	snprintf(s->log_path, sizeof(s->log_path), "%s/soukd.log", s->dir);
	if (config_json) {
		snprintf(s->config, sizeof(s->config), "%s/soukd.json", s->dir);
		FILE *f = fopen(s->config, "w");
		if (!f)
			th_fail(__FILE__, __LINE__, "cannot write %s", s->config);
		fputs(config_json, f);
		fclose(f);
	}
	char out[4096];
	char *argv[] = {(char *)env_bin("SOUKCTL"),
			"--data-dir",
			s->dir,
			"app",
			"create",
			"Test Shop",
			"--json",
			NULL};
	if (th_run(argv, out, sizeof(out)) != 0)
		th_fail(__FILE__, __LINE__, "soukctl app create failed");
	json_field(out, "app_id", s->app_id, sizeof(s->app_id));
	json_field(out, "jwt_secret", s->jwt_secret, sizeof(s->jwt_secret));
	json_field(out, "api_key", s->api_key, sizeof(s->api_key));
}

/*
 * A free port below the kernel's ephemeral range. A port the kernel hands out for bind(0)
 * lies in the ephemeral range, where any process's outgoing connection may take it as
 * its source port between the moment we learn it and the moment soukd listens on it (or
 * listens again after a kill) — on a busy machine that happens. Ports below the range are
 * only ever taken by an explicit bind.
 */
static int pick_port(void)
{
	int lo = 32768, hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%d %d", &lo, &hi) != 2)
			lo = 32768;
		fclose(f);
	}
	const int base = 10000;
	for (int i = 0; lo - base > 1000 && i < 200; i++) {
		int port = base + (int)(th_rand() % (uint32_t)(lo - base));
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	/* no room below the range: let the kernel choose */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		th_fail(__FILE__, __LINE__, "cannot reserve a port: %s", strerror(errno));
	close(fd);
	return ntohs(a.sin_port);
}

void th_server_reserve_port(th_server *s)
{
	s->port = pick_port();
}

static int healthz(int port, int tls)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = 0;
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		const char req[] =
			"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
		if (tls) {
			ok = 1; /* listening; the TLS handshake is the tests' business */
		} else if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
			char buf[512];
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			if (n > 12) {
				buf[n] = '\0';
				ok = strncmp(buf + 9, "200", 3) == 0;
			}
		}
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

int th_http(th_server *s, const char *method, const char *path, const char *json, char *out,
	    size_t outlen)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		th_fail(__FILE__, __LINE__, "cannot connect to soukd: %s", strerror(errno));
	size_t blen = json ? strlen(json) : 0;
	char head[1024];
	int n = snprintf(head, sizeof(head),
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
			 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n",
			 method, path, s->api_key, blen);
	if (write(fd, head, (size_t)n) != n || (blen && write(fd, json, blen) != (ssize_t)blen))
		th_fail(__FILE__, __LINE__, "cannot write the HTTP request");
	static char buf[65536];
	size_t len = 0;
	ssize_t k;
	while (len < sizeof(buf) - 1 && (k = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)k;
	buf[len] = '\0';
	close(fd);
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		th_fail(__FILE__, __LINE__, "no HTTP status from soukd");
	if (out) {
		const char *body = strstr(buf, "\r\n\r\n");
		snprintf(out, outlen, "%s", body ? body + 4 : "");
	}
	return status;
}

void th_server_start(th_server *s)
{
	unlink(s->port_file);
	if (!s->port)
		s->port = pick_port(); /* and the same one for restarts (see pick_port) */
	char listen[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
	const char *soukd = env_bin("SOUKD");
	char *argv[16];
	int n = 0;
	argv[n++] = (char *)soukd;
	argv[n++] = "--data-dir";
	argv[n++] = s->dir;
	argv[n++] = "--listen";
	argv[n++] = listen;
	argv[n++] = "--port-file";
	argv[n++] = s->port_file;
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	if (s->config[0]) {
		argv[n++] = "--config";
		argv[n++] = s->config;
	}
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		th_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(soukd, argv);
		_exit(127);
	}
	s->pid = pid;
	s->stopped = 0;
	if (nservers < sizeof(servers) / sizeof(servers[0]))
		servers[nservers++] = pid;
	/* up to 60 s: a generous bound against hangs, not a speed requirement */
	for (int i = 0; i < 3000; i++) {
		int st;
		if (waitpid(pid, &st, WNOHANG) == pid)
			th_fail(__FILE__, __LINE__, "soukd exited at start (status %d); log %s", st,
				s->log_path);
		FILE *f = fopen(s->port_file, "r");
		if (f) {
			int port = 0;
			if (fscanf(f, "%d", &port) == 1 && port > 0) {
				fclose(f);
				s->port = port;
				if (healthz(port, s->tls))
					return;
			} else {
				fclose(f);
			}
		}
		th_sleep_ms(20);
	}
	th_fail(__FILE__, __LINE__, "soukd did not start; log %s", s->log_path);
}

static void forget_pid(pid_t pid)
{
	for (size_t i = 0; i < nservers; i++)
		if (servers[i] == pid)
			servers[i] = 0;
}

void th_server_signal(th_server *s, int sig)
{
	if (s->pid <= 0)
		return;
	if (sig == SIGKILL || sig == SIGTERM) {
		if (s->stopped)
			kill(s->pid, SIGCONT);
		kill(s->pid, sig);
		int st = 0;
		waitpid(s->pid, &st, 0);
		if (sig == SIGTERM && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			th_fail(__FILE__, __LINE__,
				"soukd did not exit cleanly on SIGTERM (%d); log %s", st,
				s->log_path);
		forget_pid(s->pid);
		s->pid = 0;
		s->stopped = 0;
		return;
	}
	kill(s->pid, sig);
	if (sig == SIGSTOP)
		s->stopped = 1;
	if (sig == SIGCONT)
		s->stopped = 0;
}

void th_server_stop(th_server *s)
{
	if (s->pid > 0)
		th_server_signal(s, SIGTERM);
	if (th_file_contains(s->log_path, "Sanitizer") ||
	    th_file_contains(s->log_path, "runtime error:"))
		th_fail(__FILE__, __LINE__, "sanitizer report in soukd's log %s", s->log_path);
}

char *th_token(th_server *s, const char *user_id, int ttl_s)
{
	char ttl[32], out[8192];
	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	char *argv[] = {(char *)env_bin("SOUKCTL"),
			"--data-dir",
			s->dir,
			"token",
			s->app_id,
			(char *)user_id,
			"--ttl",
			ttl,
			NULL};
	if (th_run(argv, out, sizeof(out)) != 0)
		th_fail(__FILE__, __LINE__, "soukctl token failed");
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		out[--n] = '\0';
	char *t = strdup(out);
	if (!t)
		th_fail(__FILE__, __LINE__, "out of memory");
	th_forbid_in_logs(t);
	return t;
}

const char *th_url(th_server *s)
{
	static char urls[16][64];
	static int next;
	char *u = urls[next++ % 16];
	snprintf(u, 64, "%s://127.0.0.1:%d/v1/ws", s->tls ? "wss" : "ws", s->port);
	return u;
}

/* ---- clients ------------------------------------------------------------------------------ */

void th_forbid_in_logs(const char *str)
{
	pthread_mutex_lock(&forbid_mu);
	if (nforbidden < sizeof(forbidden) / sizeof(forbidden[0]))
		forbidden[nforbidden++] = strdup(str);
	pthread_mutex_unlock(&forbid_mu);
}

static void log_cb(souk_log_level level, const char *msg, void *ud)
{
	static const char *names[] = {"none", "error", "warn", "info", "debug"};
	pthread_mutex_lock(&forbid_mu);
	for (size_t i = 0; i < nforbidden; i++)
		if (forbidden[i] && strstr(msg, forbidden[i]))
			th_fail(__FILE__, __LINE__,
				"a forbidden string (token or body) was logged");
	pthread_mutex_unlock(&forbid_mu);
	if (getenv("SOUK_TEST_VERBOSE"))
		th_log("sdk[%s] %s: %s", ud ? (const char *)ud : "?", names[level], msg);
}

void th_key(uint8_t key[32], int variant)
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7 + 3 + variant * 31);
}

void th_db_path(char *out, size_t len, const char *db_name)
{
	snprintf(out, len, "%s/%s", th_tmpdir(), db_name);
}

unsigned th_heartbeat_s;

souk_client *th_client(th_server *s, const char *db_name, const char *device_id, int key_variant)
{
	uint8_t key[32];
	th_key(key, key_variant);
	char path[512];
	th_db_path(path, sizeof(path), db_name);
	souk_client_options o;
	CHECK_OK(souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION));
	o.server_url = th_url(s);
	o.app_id = s->app_id;
	o.db_path = path;
	o.db_key = key;
	o.db_key_len = sizeof(key);
	o.device_id = device_id;
	o.platform = SOUK_PLATFORM_DESKTOP;
	o.reconnect_min_ms = 50;
	o.reconnect_max_ms = 1000;
	o.heartbeat_s = th_heartbeat_s;
	o.log_level = SOUK_LOG_DEBUG;
	o.log_cb = log_cb;
	o.log_user_data = (void *)device_id;
	souk_client *c = NULL;
	CHECK_OK(souk_client_create(&c, &o));
	return c;
}

souk_client *th_started_client(th_server *s, const char *db_name, const char *device_id,
			       int key_variant, const char *token)
{
	souk_client *c = th_client(s, db_name, device_id, key_variant);
	CHECK_OK(souk_client_login(c, token));
	CHECK_OK(souk_client_start(c));
	return c;
}

void th_wait(souk_client *c, th_pred pred, void *arg, th_event_fn on_event, void *ev_arg,
	     int timeout_ms, const char *what)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		souk_event *ev = NULL;
		int r = souk_client_next_event(&ev, c, 100);
		if (r == SOUK_OK) {
			if (on_event)
				on_event(ev, ev_arg);
			souk_event_free(ev);
		} else if (r == SOUK_ESTATE) {
			th_sleep_ms(50); /* stopped client: nothing more will come */
		} else if (r != SOUK_ETIMEOUT) {
			th_fail(__FILE__, __LINE__, "next_event: %s", souk_strerror(r));
		}
		if (pred(c, arg)) {
			/* hand over what is already queued, so that counts kept by on_event
			 * cover every event published before the condition held */
			th_drain(c, on_event, ev_arg);
			return;
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		long long ms = (t.tv_sec - t0.tv_sec) * 1000LL + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > timeout_ms)
			th_fail(__FILE__, __LINE__, "timed out after %d ms waiting for: %s",
				timeout_ms, what);
	}
}

void th_drain(souk_client *c, th_event_fn on_event, void *ev_arg)
{
	souk_event *ev = NULL;
	while (souk_client_next_event(&ev, c, 0) == SOUK_OK) {
		if (on_event)
			on_event(ev, ev_arg);
		souk_event_free(ev);
	}
}

int th_outbox_empty(souk_client *c, void *arg)
{
	(void)arg;
	size_t n = 1;
	CHECK_OK(souk_client_outbox_count(&n, c));
	return n == 0;
}

th_list *th_messages(souk_client *c, int64_t conv)
{
	/* pages of 100 (the API allows 500), so that paging itself is exercised */
	th_list *all = calloc(1, sizeof(*all));
	CHECK(all != NULL);
	int64_t anchor = 0;
	for (;;) {
		souk_message_list *l = NULL;
		CHECK_OK(souk_client_list_messages(&l, c, conv, anchor, SOUK_PAGE_AFTER, 100));
		size_t n = souk_message_list_count(l);
		all->v = realloc(all->v, (all->n + n + 1) * sizeof(*all->v));
		CHECK(all->v != NULL);
		for (size_t i = 0; i < n; i++)
			CHECK_OK(souk_message_copy(&all->v[all->n++], souk_message_list_get(l, i)));
		souk_message_list_free(l);
		if (n < 100)
			return all;
		anchor = souk_message_get_id(all->v[all->n - 1]);
	}
}

void th_list_free(th_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		souk_message_free(l->v[i]);
	free(l->v);
	free(l);
}

int th_file_contains(const char *path, const char *needle)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	struct stat sb;
	int found = 0;
	if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
		void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			found = memmem(p, (size_t)sb.st_size, needle, strlen(needle)) != NULL;
			munmap(p, (size_t)sb.st_size);
		}
	}
	close(fd);
	return found;
}
