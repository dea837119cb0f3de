/*
 * fault_checker.c — the controller and checker of the crash and network-fault test
 * (docs/fault-testing.md): a Jepsen-style queue check of Souk's promise that no
 * acknowledged message is lost, none is doubled, and each user's order is kept.
 *
 * 1. Setup: a soukd on a temporary data dir, an app, a faultproxy in front of soukd, and
 *    the workload (fault_client processes): P producers (shopper-0 … shopper-P-1, each
 *    writing values p<i>/<counter> into their support conversation) and C consumer
 *    processes holding other devices of the same users. Every client talks to soukd
 *    through the proxy.
 * 2. Faults, cycle after cycle, drawn from a seeded RNG (the seed is printed: the schedule
 *    replays, the timing of course does not): soukd SIGKILL + restart; soukd SIGSTOP +
 *    SIGCONT; SIGKILL of one or two clients + restart on the same database; a proxy mode
 *    (reset, latency, slice, stall, halfopen), sometimes laid over another fault.
 * 3. Drain: faults stop, soukd runs, the proxy resets every connection and turns clean,
 *    producers stop producing (SIGUSR1) and empty their outboxes; the checker waits until
 *    every reader has read its user's highest promised value, then stops everything
 *    cleanly. A producer or device that is behind and made no progress for
 *    --drain-timeout (a bound against hangs, not a speed requirement) is stuck: an error;
 *    its process is restarted on its databases, as a user would force-quit the app, and
 *    the drain goes on, so that the check can still tell loss from a stall.
 * 4. Check: every value is classified from the logs (fault_client.c describes them):
 *      ok          acked by the server and read exactly once, in order, by every device
 *      lost        promised (acked, or accepted by send_text) or read somewhere, and
 *                  missing on some device (in its event stream or its final store)
 *      duplicated  shown twice by some device (two events, or two rows in its store)
 *      unexpected  read but never sent (or sent by another user)
 *      reordered   read after a higher counter of the same producer
 *      recovered   never seen acked by the producer (killed in between) but read by all
 *    and one line is printed:
 *      checker: values=N ok=N lost=N duplicated=N unexpected=N reordered=N recovered=N cycles=N
 *    The exit status is non-zero when lost, duplicated, unexpected or reordered is not 0,
 *    or when a process crashed or got stuck, or soukd did not stop cleanly.
 *
 * Binaries: $SOUKD, $SOUKCTL, $FAULT_CLIENT, $FAULTPROXY, else the ones of the build tree
 * (compiled in). Every child gets PR_SET_PDEATHSIG, so nothing outlives the controller.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "fault_util.h"

#ifndef FAULT_DEFAULT_SOUKD
#define FAULT_DEFAULT_SOUKD "soukd"
#endif
#ifndef FAULT_DEFAULT_SOUKCTL
#define FAULT_DEFAULT_SOUKCTL "soukctl"
#endif
#ifndef FAULT_DEFAULT_CLIENT
#define FAULT_DEFAULT_CLIENT "fault_client"
#endif
#ifndef FAULT_DEFAULT_PROXY
#define FAULT_DEFAULT_PROXY "faultproxy"
#endif

enum { MAX_PRODUCERS = 32, MAX_CONSUMERS = 32 };

enum { F_SOUKD_KILL = 1, F_SOUKD_STOP = 2, F_CLIENT_KILL = 4, F_PROXY = 8, F_ALL = 15 };

typedef struct proc {
	pid_t pid;
	int producer; /* 1: producer, 0: consumer */
	int idx;
	int starts;
	int kills;
} proc;

static struct {
	/* options */
	long cycles_max, seconds;
	uint64_t seed;
	int producers, consumers, devices, faults, interval_ms, verbose, keep, discard, selftest;
	long drain_timeout_s;
	const char *soukd, *soukctl, *client, *proxy;

	/* state */
	char dir[256];
	char app_id[128];
	char *tokens[MAX_PRODUCERS];
	int soukd_port, proxy_port;
	pid_t soukd_pid, proxy_pid;
	int soukd_stopped;
	FILE *proxy_in;
	proc procs[MAX_PRODUCERS + MAX_CONSUMERS];
	int nprocs;
	int draining;
	fu_rng rng;
	int64_t t0;

	/* tallies */
	long cycles, soukd_kills, soukd_stops, client_kills, proxy_faults;
	int errors; /* crashes, unclean stops */
	int stalls; /* processes stuck in the drain phase */
} g;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fault: [%7.1fs] ", (double)(fu_now_ms() - g.t0) / 1000.0);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "fault: FATAL: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	g.keep = 1;
	exit(2);
}

static void path_in(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void path_in(char *out, size_t len, const char *fmt, ...)
{
	char name[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	snprintf(out, len, "%s/%s", g.dir, name);
}

/* ---- processes ----------------------------------------------------------------------- */

/* fork + exec, output appended to `out_path`, stdin from `in_fd` (or /dev/null). */
static pid_t spawn(char *const argv[], const char *out_path, int in_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (in_fd < 0)
			in_fd = open("/dev/null", O_RDONLY);
		if (in_fd >= 0 && in_fd != 0) {
			dup2(in_fd, 0);
			close(in_fd);
		}
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Runs a program to completion; stdout into out. Returns the exit status. */
static int run_capture(char *const argv[], char *out, size_t outlen)
{
	int p[2];
	if (pipe(p) != 0)
		fatal("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	size_t n = 0;
	ssize_t k;
	while ((k = read(p[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(p[0]);
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *status_str(int st)
{
	static char buf[64];
	if (WIFEXITED(st))
		snprintf(buf, sizeof(buf), "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "signal %d", WTERMSIG(st));
	else
		snprintf(buf, sizeof(buf), "status %d", st);
	return buf;
}

static void start_client(proc *p);
static void start_soukd(void);

/* Collects children that ended on their own: every such exit is a crash (an error), and
 * the process is started again so that the run can go on. */
static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid == g.soukd_pid) {
			g.errors++;
			say("ERROR: soukd ended by itself (%s); see %s/soukd.log", status_str(st),
			    g.dir);
			g.soukd_pid = 0;
			g.soukd_stopped = 0;
			start_soukd();
			continue;
		}
		if (pid == g.proxy_pid)
			fatal("faultproxy ended (%s); see %s/proxy.out", status_str(st), g.dir);
		for (int i = 0; i < g.nprocs; i++) {
			proc *p = &g.procs[i];
			if (p->pid != pid)
				continue;
			g.errors++;
			say("ERROR: %s %d ended by itself (%s); see %s/%c%d.out",
			    p->producer ? "producer" : "consumer", p->idx, status_str(st), g.dir,
			    p->producer ? 'p' : 'c', p->idx);
			p->pid = 0;
			start_client(p);
		}
	}
}

/* Sleeps while watching the children. */
static void ctl_sleep(int64_t ms)
{
	int64_t end = fu_now_ms() + ms;
	for (;;) {
		reap();
		int64_t left = end - fu_now_ms();
		if (left <= 0)
			return;
		fu_sleep_ms(left < 50 ? left : 50);
	}
}

static void kill_wait(pid_t pid, int sig)
{
	if (pid <= 0)
		return;
	kill(pid, sig);
	waitpid(pid, NULL, 0);
}

/* ---- soukd --------------------------------------------------------------------------- */

static int healthz(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int ok = 0;
	struct timeval tv = {2, 0};
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		const char req[] =
			"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
		if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
			char buf[256];
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

static int read_port(const char *path)
{
	int port = 0;
	FILE *f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &port) != 1)
			port = 0;
		fclose(f);
	}
	return port;
}

/*
 * A port for soukd that no outgoing connection can take while soukd is down: below the
 * kernel's ephemeral range (a port it picked itself would be in that range, and any
 * connect() on the machine may get it as its source port between a kill and the restart:
 * EADDRINUSE). Checked free by binding it.
 */
static int pick_port(void)
{
	int lo = 32768;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%d", &lo) != 1)
			lo = 32768;
		fclose(f);
	}
	int top = lo > 12000 ? lo - 1 : 32767, bottom = lo > 12000 ? 10000 : 1024;
	for (int i = 0; i < 200; i++) {
		int port = (int)fu_rng_range(&g.rng, bottom, top);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return port;
	}
	fatal("no free port below the ephemeral range");
}

static void proxy_cmd(const char *cmd);

static void start_soukd(void)
{
	char data[512], port_file[512], log[512], config[512], listen[64];
	path_in(data, sizeof(data), "soukd");
	path_in(port_file, sizeof(port_file), "soukd.port");
	path_in(log, sizeof(log), "soukd.log");
	path_in(config, sizeof(config), "soukd.json");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", g.soukd_port);
	unlink(port_file);
	char *argv[] = {(char *)g.soukd, "--data-dir", data,   "--listen",    listen, "--port-file",
			port_file,	 "--config",   config, "--log-level", "info", NULL};
	/* the port may linger after a kill (a connection in TIME_WAIT is fine with
	 * SO_REUSEADDR, but be patient with anything else): a bounded number of attempts */
	for (int attempt = 0; attempt < 20; attempt++) {
		if (attempt == 10) {
			/* taken by someone else meanwhile: move, and point the proxy there */
			char cmd[32];
			g.soukd_port = pick_port();
			snprintf(listen, sizeof(listen), "127.0.0.1:%d", g.soukd_port);
			snprintf(cmd, sizeof(cmd), "target %d", g.soukd_port);
			say("soukd moves to port %d", g.soukd_port);
			if (g.proxy_pid)
				proxy_cmd(cmd);
		}
		g.soukd_pid = spawn(argv, log, -1);
		g.soukd_stopped = 0;
		/* generous bound against hangs: 60 s */
		for (int i = 0; i < 3000; i++) {
			int st;
			if (waitpid(g.soukd_pid, &st, WNOHANG) == g.soukd_pid) {
				say("soukd exited at start (%s), retrying", status_str(st));
				g.soukd_pid = 0;
				break;
			}
			int port = read_port(port_file);
			if (port > 0 && healthz(port)) {
				g.soukd_port = port;
				return;
			}
			fu_sleep_ms(20);
		}
		if (g.soukd_pid)
			fatal("soukd did not answer /healthz within 60 s; see %s", log);
		fu_sleep_ms(250);
	}
	fatal("soukd would not start; see %s", log);
}

static void soukd_signal(int sig)
{
	if (!g.soukd_pid)
		return;
	if (sig == SIGKILL) {
		kill_wait(g.soukd_pid, SIGKILL);
		g.soukd_pid = 0;
		g.soukd_stopped = 0;
		return;
	}
	kill(g.soukd_pid, sig);
	if (sig == SIGSTOP)
		g.soukd_stopped = 1;
	if (sig == SIGCONT)
		g.soukd_stopped = 0;
}

/* ---- proxy ----------------------------------------------------------------------------- */

static void proxy_cmd(const char *cmd)
{
	if (fprintf(g.proxy_in, "%s\n", cmd) < 0 || fflush(g.proxy_in) != 0)
		fatal("cannot talk to faultproxy");
}

static void start_proxy(void)
{
	int p[2];
	if (pipe(p) != 0)
		fatal("pipe: %s", strerror(errno));
	char target[16], seed[32], port_file[512], out[512];
	snprintf(target, sizeof(target), "%d", g.soukd_port);
	snprintf(seed, sizeof(seed), "%" PRIu64, g.seed ^ 0x5eed);
	path_in(port_file, sizeof(port_file), "proxy.port");
	path_in(out, sizeof(out), "proxy.out");
	char *argv[] = {(char *)g.proxy, "--target", target, "--port-file",
			port_file,	 "--seed",   seed,   NULL};
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	g.proxy_pid = spawn(argv, out, p[0]);
	close(p[0]);
	g.proxy_in = fdopen(p[1], "w");
	for (int i = 0; i < 3000 && !(g.proxy_port = read_port(port_file)); i++)
		fu_sleep_ms(20);
	if (!g.proxy_port)
		fatal("faultproxy did not start; see %s", out);
}

/* ---- workload ----------------------------------------------------------------------------- */

/* Whether consumer process j holds a device of user u: device k (0 ≤ k < --devices) of
 * user u lives in process (u·D + k) mod C, so a user's devices are in distinct processes
 * and a process usually holds devices of several users. */
static int consumer_has_user(int j, int u)
{
	for (int k = 0; k < g.devices; k++)
		if ((u * g.devices + k) % g.consumers == j)
			return 1;
	return 0;
}

static void start_client(proc *p)
{
	char url[128], out[512], seed[32], id[16], interval[16];
	char *argv[16 + 2 * MAX_PRODUCERS];
	static char readers[MAX_PRODUCERS][2048];
	int n = 0;
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/v1/ws", g.proxy_port);
	snprintf(seed, sizeof(seed), "%" PRIu64,
		 (uint64_t)(fu_rng_next(&g.rng) % 1000000000000ULL));
	snprintf(id, sizeof(id), "%d", p->idx);
	snprintf(interval, sizeof(interval), "%d", g.interval_ms);
	path_in(out, sizeof(out), "%c%d.out", p->producer ? 'p' : 'c', p->idx);
	argv[n++] = (char *)g.client;
	if (p->producer) {
		static char db[512], log[512];
		path_in(db, sizeof(db), "p%d.db", p->idx);
		path_in(log, sizeof(log), "p%d.log", p->idx);
		argv[n++] = "producer";
		argv[n++] = "--token";
		argv[n++] = g.tokens[p->idx];
		argv[n++] = "--db";
		argv[n++] = db;
		argv[n++] = "--log";
		argv[n++] = log;
		argv[n++] = "--interval-ms";
		argv[n++] = interval;
		if (g.draining)
			argv[n++] = "--drain";
	} else {
		argv[n++] = "consumer";
		for (int u = 0; u < g.producers; u++) {
			if (!consumer_has_user(p->idx, u))
				continue;
			snprintf(readers[u], sizeof(readers[u]),
				 "shopper-%d,%s,%s/c%d-u%d.db,%s/c%d-u%d.log", u, g.tokens[u],
				 g.dir, p->idx, u, g.dir, p->idx, u);
			argv[n++] = "--reader";
			argv[n++] = readers[u];
		}
	}
	argv[n++] = "--url";
	argv[n++] = url;
	argv[n++] = "--app";
	argv[n++] = g.app_id;
	argv[n++] = "--id";
	argv[n++] = id;
	argv[n++] = "--seed";
	argv[n++] = seed;
	argv[n] = NULL;
	p->pid = spawn(argv, out, -1);
	p->starts++;
}

static void setup(void)
{
	char data[512], config[512], out[8192];
	path_in(data, sizeof(data), "soukd");
	path_in(config, sizeof(config), "soukd.json");
	if (mkdir(data, 0700) != 0)
		fatal("mkdir %s: %s", data, strerror(errno));
	FILE *f = fopen(config, "w");
	if (!f)
		fatal("cannot write %s", config);
	/* room for an outbox emptying after an outage; the rate limit itself stays on */
	fputs("{\"send_rate_per_s\": 100, \"send_burst\": 200}\n", f);
	fclose(f);
	char *create[] = {(char *)g.soukctl, "--data-dir", data,     "app",
			  "create",	     "Fault Shop", "--json", NULL};
	if (run_capture(create, out, sizeof(out)) != 0)
		fatal("soukctl app create failed");
	const char *p = strstr(out, "\"app_id\":\"");
	if (!p || sscanf(p + 10, "%127[^\"]", g.app_id) != 1)
		fatal("no app_id in soukctl output");
	for (int u = 0; u < g.producers; u++) {
		char user[32];
		snprintf(user, sizeof(user), "shopper-%d", u);
		char *tok[] = {(char *)g.soukctl, "--data-dir", data, "token", g.app_id, user,
			       "--ttl",		  "2592000",	NULL};
		if (run_capture(tok, out, sizeof(out)) != 0)
			fatal("soukctl token failed");
		out[strcspn(out, "\r\n")] = '\0';
		g.tokens[u] = strdup(out);
	}
	g.soukd_port = pick_port();
	start_soukd();
	start_proxy();
	for (int i = 0; i < g.producers; i++)
		g.procs[g.nprocs++] = (proc){.producer = 1, .idx = i};
	for (int j = 0; j < g.consumers; j++)
		g.procs[g.nprocs++] = (proc){.producer = 0, .idx = j};
	for (int i = 0; i < g.nprocs; i++)
		start_client(&g.procs[i]);
	say("soukd on 127.0.0.1:%d, faultproxy on 127.0.0.1:%d, %d producers, %d consumers, dir %s",
	    g.soukd_port, g.proxy_port, g.producers, g.consumers, g.dir);
}

/* ---- faults ------------------------------------------------------------------------------ */

static const char *const PROXY_MODES[] = {"reset", "latency", "slice", "stall", "halfopen"};

static int pick_fault(void)
{
	static const struct {
		int kind, weight;
	} w[] = {{F_SOUKD_KILL, 3}, {F_SOUKD_STOP, 2}, {F_CLIENT_KILL, 3}, {F_PROXY, 3}};
	int total = 0;
	for (size_t i = 0; i < 4; i++)
		if (g.faults & w[i].kind)
			total += w[i].weight;
	int64_t r = fu_rng_range(&g.rng, 0, total - 1);
	for (size_t i = 0; i < 4; i++) {
		if (!(g.faults & w[i].kind))
			continue;
		if (r < w[i].weight)
			return w[i].kind;
		r -= w[i].weight;
	}
	return F_SOUKD_KILL;
}

static void cycle(void)
{
	g.cycles++;
	int f = pick_fault();
	const char *overlay = NULL;
	if ((g.faults & F_PROXY) && f != F_PROXY && fu_rng_chance(&g.rng, 1, 3)) {
		overlay = PROXY_MODES[fu_rng_range(&g.rng, 0, 4)];
		proxy_cmd(overlay);
		g.proxy_faults++;
	}
	char what[160];
	switch (f) {
	case F_SOUKD_KILL: {
		int64_t down = fu_rng_range(&g.rng, 0, 1000);
		soukd_signal(SIGKILL);
		g.soukd_kills++;
		ctl_sleep(down);
		start_soukd();
		snprintf(what, sizeof(what), "soukd SIGKILL, restarted after %" PRId64 " ms", down);
		break;
	}
	case F_SOUKD_STOP: {
		int64_t pause = fu_rng_range(&g.rng, 100, 3000);
		soukd_signal(SIGSTOP);
		g.soukd_stops++;
		ctl_sleep(pause);
		soukd_signal(SIGCONT);
		snprintf(what, sizeof(what), "soukd SIGSTOP for %" PRId64 " ms", pause);
		break;
	}
	case F_CLIENT_KILL: {
		int n = (int)fu_rng_range(&g.rng, 1, 2);
		proc *victims[2] = {NULL, NULL};
		for (int i = 0; i < n; i++) {
			victims[i] = &g.procs[fu_rng_range(&g.rng, 0, g.nprocs - 1)];
			if (i == 1 && victims[1] == victims[0])
				victims[1] = NULL;
		}
		int64_t down = fu_rng_range(&g.rng, 0, 500);
		int len = snprintf(what, sizeof(what), "SIGKILL");
		for (int i = 0; i < 2; i++) {
			if (!victims[i] || !victims[i]->pid)
				continue;
			kill_wait(victims[i]->pid, SIGKILL);
			victims[i]->pid = 0;
			victims[i]->kills++;
			g.client_kills++;
			len += snprintf(what + len, sizeof(what) - (size_t)len, " %s %d",
					victims[i]->producer ? "producer" : "consumer",
					victims[i]->idx);
		}
		ctl_sleep(down);
		for (int i = 0; i < 2; i++)
			if (victims[i] && !victims[i]->pid)
				start_client(victims[i]);
		snprintf(what + len, sizeof(what) - (size_t)len, ", restarted after %" PRId64 " ms",
			 down);
		break;
	}
	default: {
		const char *mode = PROXY_MODES[fu_rng_range(&g.rng, 0, 4)];
		int64_t hold = fu_rng_range(&g.rng, 300, 3000);
		proxy_cmd(mode);
		g.proxy_faults++;
		ctl_sleep(hold);
		proxy_cmd("clean");
		snprintf(what, sizeof(what), "proxy %s for %" PRId64 " ms", mode, hold);
		break;
	}
	}
	if (overlay) {
		ctl_sleep(fu_rng_range(&g.rng, 0, 1000));
		proxy_cmd("clean");
	}
	if (g.verbose)
		say("cycle %ld: %s%s%s", g.cycles, what, overlay ? " + proxy " : "",
		    overlay ? overlay : "");
	ctl_sleep(fu_rng_range(&g.rng, 200, 1200)); /* let the clients recover a little */
}

/* ---- logs ----------------------------------------------------------------------------------- */

/* What a producer's log says about its values, indexed by counter. */
enum { V_T = 1, V_Q = 2, V_A = 4, V_E = 8, V_F = 16 };

typedef struct plog {
	uint8_t *flags; /* per counter */
	uint64_t max_t, max_promised;
	size_t cap;
	int drained;
	long failed, send_errors, n_acks;
} plog;

static void plog_set(plog *p, uint64_t c, uint8_t f)
{
	if (c >= p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		while (c >= cap)
			cap *= 2;
		uint8_t *v = realloc(p->flags, cap);
		if (!v)
			fatal("out of memory");
		memset(v + p->cap, 0, cap - p->cap);
		p->flags = v;
		p->cap = cap;
	}
	p->flags[c] |= f;
}

static void plog_read(plog *p, int u)
{
	memset(p, 0, sizeof(*p));
	char path[512];
	path_in(path, sizeof(path), "p%d.log", u);
	char *buf = fu_read_file(path, NULL);
	for (char *save = NULL, *line = buf ? strtok_r(buf, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long long c = 0;
		if (line[0] == 'D') {
			p->drained = 1;
			continue;
		}
		if (sscanf(line + 1, "%llu", &c) != 1)
			continue;
		switch (line[0]) {
		case 'T':
			plog_set(p, c, V_T);
			if (c > p->max_t)
				p->max_t = c;
			break;
		case 'Q':
			plog_set(p, c, V_Q);
			break;
		case 'A':
			plog_set(p, c, V_A);
			p->n_acks++;
			break;
		case 'E':
			plog_set(p, c, V_E);
			p->send_errors++;
			break;
		case 'F':
			plog_set(p, c, V_F);
			p->failed++;
			break;
		}
		if ((line[0] == 'Q' || line[0] == 'A') && c > p->max_promised)
			p->max_promised = c;
	}
	free(buf);
}

static void plog_free(plog *p)
{
	free(p->flags);
	memset(p, 0, sizeof(*p));
}

/* One device's view: the values in the order the app was shown them. */
typedef struct rlog {
	int consumer, user;
	size_t n, cap;
	int *prod;	  /* producer of each read (-1: not a value) */
	uint64_t *ctr;	  /* counter of each read */
	long dropped;	  /* EVENTS_DROPPED lines */
	uint64_t max_ctr; /* highest counter of its own user's producer read */
} rlog;

static void rlog_add(rlog *r, int p, uint64_t c)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 4096;
		r->prod = realloc(r->prod, r->cap * sizeof(*r->prod));
		r->ctr = realloc(r->ctr, r->cap * sizeof(*r->ctr));
		if (!r->prod || !r->ctr)
			fatal("out of memory");
	}
	r->prod[r->n] = p;
	r->ctr[r->n] = c;
	r->n++;
	if (p == r->user && c > r->max_ctr)
		r->max_ctr = c;
}

/* final: 0 reads LOG (lines "R <id> <text>"), 1 reads LOG.final (lines "<id> <text>") */
static int rlog_read(rlog *r, int j, int u, int final)
{
	memset(r, 0, sizeof(*r));
	r->consumer = j;
	r->user = u;
	char path[512];
	path_in(path, sizeof(path), "c%d-u%d.log%s", j, u, final ? ".final" : "");
	char *buf = fu_read_file(path, NULL);
	if (!buf)
		return -1;
	for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!final && line[0] == 'X')
			r->dropped++;
		if (!final && line[0] != 'R')
			continue;
		char *text = strchr(final ? line : line + 2, ' ');
		int p = -1;
		uint64_t c = 0;
		if (!text || !fu_parse_value(text + 1, &p, &c))
			p = -1;
		rlog_add(r, p, c);
	}
	free(buf);
	return 0;
}

static void rlog_free(rlog *r)
{
	free(r->prod);
	free(r->ctr);
	memset(r, 0, sizeof(*r));
}

/* ---- drain -------------------------------------------------------------------------------- */

/* Drain progress is watched per producer and per device: key u for producer u, key
 * P + j·P + u for consumer j's device of user u. */
enum { MAX_KEYS = MAX_PRODUCERS + MAX_CONSUMERS * MAX_PRODUCERS };

/* 1 when every producer emptied its outbox and every device read its user's highest
 * promised value. `why` says what is missing; lagging[k] and metric[k] (acks of a
 * producer, reads of a device: they grow while it makes progress) are filled per key. */
static int drained(char *why, size_t len, int *lagging, long *metric)
{
	why[0] = '\0';
	int ok = 1;
	for (int k = 0; k < MAX_KEYS; k++)
		lagging[k] = 0;
	for (int u = 0; u < g.producers; u++) {
		plog p;
		plog_read(&p, u);
		metric[u] = p.n_acks;
		if (!p.drained) {
			snprintf(why + strlen(why), len - strlen(why), " p%d:outbox", u);
			lagging[u] = 1;
			ok = 0;
		}
		for (int j = 0; j < g.consumers; j++) {
			if (!consumer_has_user(j, u))
				continue;
			int k = g.producers + j * g.producers + u;
			rlog r;
			rlog_read(&r, j, u, 0);
			metric[k] = (long)r.n;
			if (r.max_ctr < p.max_promised) {
				snprintf(why + strlen(why), len - strlen(why),
					 " c%d-u%d:%" PRIu64 "/%" PRIu64, j, u, r.max_ctr,
					 p.max_promised);
				lagging[k] = 1;
				ok = 0;
			}
			rlog_free(&r);
		}
		plog_free(&p);
	}
	return ok;
}

/* The process a progress key belongs to. */
static proc *key_proc(int k)
{
	if (k < g.producers)
		return &g.procs[k];
	return &g.procs[g.producers + (k - g.producers) / g.producers];
}

static void drain(void)
{
	say("drain: faults stopped after %ld cycles; waiting for every device to catch up",
	    g.cycles);
	g.draining = 1;
	if (!g.soukd_pid)
		start_soukd();
	else if (g.soukd_stopped)
		soukd_signal(SIGCONT);
	proxy_cmd("heal");
	for (int i = 0; i < g.nprocs; i++) {
		proc *p = &g.procs[i];
		if (!p->pid)
			start_client(p);
		else if (p->producer)
			kill(p->pid, SIGUSR1);
	}
	int64_t start = fu_now_ms(), last_report = start;
	char why[4096];
	static int lagging[MAX_KEYS];
	static long metric[MAX_KEYS], last_metric[MAX_KEYS];
	static int64_t last_change[MAX_KEYS];
	int restarts[MAX_PRODUCERS + MAX_CONSUMERS] = {0};
	for (int k = 0; k < MAX_KEYS; k++) {
		last_metric[k] = -1;
		last_change[k] = start;
	}
	while (!drained(why, sizeof(why), lagging, metric)) {
		int64_t now = fu_now_ms();
		int hopeless = 0;
		for (int k = 0; k < MAX_KEYS; k++) {
			if (metric[k] != last_metric[k]) {
				last_metric[k] = metric[k];
				last_change[k] = now;
			}
			if (!lagging[k] || now - last_change[k] <= g.drain_timeout_s * 1000)
				continue;
			/* no progress for --drain-timeout with the server up and the network
			 * clean: stuck, a liveness failure (an error). Restart the process on its
			 * database, as a user would force-quit the app, so that the check can
			 * still tell whether anything was lost. */
			proc *p = key_proc(k);
			int i = (int)(p - g.procs);
			if (restarts[i] >= 2) {
				hopeless = 1;
				continue;
			}
			restarts[i]++;
			g.stalls++;
			say("drain: ERROR: %s %d stuck: no progress in %ld s (missing:%s); "
			    "restarting it on its databases",
			    p->producer ? "producer" : "consumer", p->idx, g.drain_timeout_s, why);
			kill_wait(p->pid, SIGKILL);
			p->pid = 0;
			start_client(p);
			for (int q = 0; q < MAX_KEYS; q++)
				if (key_proc(q) == p)
					last_change[q] = now;
		}
		if (hopeless) {
			say("drain: gave up; still missing:%s", why);
			break;
		}
		if (now - last_report > 10000) {
			say("drain: waiting for:%s", why);
			last_report = now;
		}
		ctl_sleep(250);
	}
	say("drain: done in %.1f s", (double)(fu_now_ms() - start) / 1000.0);
}

static void stop_all(void)
{
	for (int i = 0; i < g.nprocs; i++)
		if (g.procs[i].pid)
			kill(g.procs[i].pid, SIGTERM);
	for (int i = 0; i < g.nprocs; i++) {
		proc *p = &g.procs[i];
		if (!p->pid)
			continue;
		int st = 0;
		pid_t r = 0;
		/* generous bound against hangs: 60 s */
		for (int k = 0; k < 1200 && (r = waitpid(p->pid, &st, WNOHANG)) == 0; k++)
			fu_sleep_ms(50);
		if (r == 0) {
			say("ERROR: %s %d did not stop within 60 s of SIGTERM",
			    p->producer ? "producer" : "consumer", p->idx);
			kill_wait(p->pid, SIGKILL);
			g.errors++;
		} else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			say("ERROR: %s %d stopped with %s", p->producer ? "producer" : "consumer",
			    p->idx, status_str(st));
			g.errors++;
		}
		p->pid = 0;
	}
	if (g.soukd_pid) {
		int st = 0;
		kill(g.soukd_pid, SIGTERM);
		waitpid(g.soukd_pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			say("ERROR: soukd did not exit cleanly on SIGTERM (%s)", status_str(st));
			g.errors++;
		}
		g.soukd_pid = 0;
	}
	if (g.proxy_pid) {
		proxy_cmd("quit"); /* prints its counters */
		fclose(g.proxy_in);
		waitpid(g.proxy_pid, NULL, 0);
		g.proxy_pid = 0;
	}
}

/* ---- check -------------------------------------------------------------------------------- */

typedef struct tally {
	long values, ok, lost, duplicated, unexpected, reordered, recovered;
	long unknown, promised, acked, reads, readers, dropped, missed_events, failed, send_errors;
} tally;

static void explain(int u, uint64_t c, const char *what)
{
	static int shown;
	if (shown++ < 20)
		say("check: p%d/%" PRIu64 " %s", u, c, what);
}

/* Whether (device, producer, counter) was already counted as unexpected (few: a list). */
static int seen_unexpected(int device, int prod, uint64_t c)
{
	static struct {
		int device, prod;
		uint64_t c;
	} * v;
	static size_t n, cap;
	if (device < 0) { /* reset */
		n = 0;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].device == device && v[i].prod == prod && v[i].c == c)
			return 1;
	if (n == cap) {
		cap = cap ? cap * 2 : 64;
		v = realloc(v, cap * sizeof(*v));
		if (!v)
			fatal("out of memory");
	}
	v[n].device = device;
	v[n].prod = prod;
	v[n].c = c;
	n++;
	return 0;
}

static int check(tally *t)
{
	memset(t, 0, sizeof(*t));
	for (int u = 0; u < g.producers; u++) {
		seen_unexpected(-1, 0, 0);
		plog p;
		plog_read(&p, u);
		t->failed += p.failed;
		t->send_errors += p.send_errors;
		/* this user's devices: event-stream logs and final stores */
		rlog logs[MAX_CONSUMERS], finals[MAX_CONSUMERS];
		int has_final[MAX_CONSUMERS];
		int nr = 0;
		for (int j = 0; j < g.consumers; j++) {
			if (!consumer_has_user(j, u))
				continue;
			rlog_read(&logs[nr], j, u, 0);
			has_final[nr] = rlog_read(&finals[nr], j, u, 1) == 0;
			t->dropped += logs[nr].dropped;
			t->reads += (long)logs[nr].n;
			nr++;
		}
		t->readers += nr;
		uint64_t n = p.max_t + 1;
		/* per counter and device: times read, times stored, read out of order */
		uint16_t *reads = calloc(n * (size_t)nr + 1, sizeof(*reads));
		uint16_t *stored = calloc(n * (size_t)nr + 1, sizeof(*stored));
		uint8_t *reord = calloc(n + 1, 1);
		if (!reads || !stored || !reord)
			fatal("out of memory");
		for (int r = 0; r < nr; r++) {
			for (int pass = 0; pass < 2; pass++) {
				rlog *l = pass ? &finals[r] : &logs[r];
				uint16_t *cnt = pass ? stored : reads;
				uint64_t high = 0;
				for (size_t i = 0; i < l->n; i++) {
					int pr = l->prod[i];
					uint64_t c = l->ctr[i];
					if (pr != u || c == 0 || c > p.max_t ||
					    !(p.flags[c] & V_T)) {
						/* never sent, or another user's: once per device
						 * and value, whether in its events or its store */
						if (!seen_unexpected(r, pr, c)) {
							t->unexpected++;
							say("check: unexpected %s%d/%" PRIu64
							    " on c%d-u%d (%s)",
							    pr >= 0 ? "p" : "text ", pr, c,
							    l->consumer, u,
							    pass ? "store" : "events");
						}
						continue;
					}
					uint16_t *k = &cnt[c * (size_t)nr + (size_t)r];
					if (*k < UINT16_MAX)
						(*k)++;
					if (*k == 1) {
						if (c < high)
							reord[c] = 1;
						else
							high = c;
					}
				}
			}
		}
		for (uint64_t c = 1; c <= p.max_t; c++) {
			uint8_t f = c < p.cap ? p.flags[c] : 0;
			if (!(f & V_T))
				continue; /* cannot happen: T lines are consecutive */
			t->values++;
			int promised = (f & (V_Q | V_A)) != 0;
			t->promised += promised;
			t->acked += (f & V_A) != 0;
			int dup = 0, read_by = 0, store_miss = 0, missed = 0;
			for (int r = 0; r < nr; r++) {
				uint16_t rd = reads[c * (size_t)nr + (size_t)r];
				uint16_t sd = stored[c * (size_t)nr + (size_t)r];
				dup |= rd > 1 || sd > 1;
				read_by += rd > 0;
				if (has_final[r] && rd > 0 && sd == 0)
					store_miss = 1;
				if (has_final[r] && rd == 0 && sd > 0)
					missed = 1; /* in the store, never shown as an event */
			}
			t->missed_events += missed;
			if (dup) {
				t->duplicated++;
				explain(u, c, "duplicated");
			} else if ((promised && read_by < nr) || (read_by > 0 && read_by < nr) ||
				   store_miss) {
				t->lost++;
				explain(u, c,
					f & V_A ? "lost (acked)"
						: (promised ? "lost (accepted by send_text)"
							    : "lost (read on some devices only)"));
			} else if (reord[c]) {
				t->reordered++;
				explain(u, c, "reordered");
			} else if (read_by == nr && (f & V_A)) {
				t->ok++;
			} else if (read_by == nr) {
				t->recovered++;
			} else {
				t->unknown++; /* attempted, killed before send_text returned, never
						 stored: nothing was promised */
			}
		}
		free(reads);
		free(stored);
		free(reord);
		for (int r = 0; r < nr; r++) {
			rlog_free(&logs[r]);
			rlog_free(&finals[r]);
		}
		plog_free(&p);
	}
	t->values += t->unexpected;
	printf("checker: values=%ld ok=%ld lost=%ld duplicated=%ld unexpected=%ld reordered=%ld "
	       "recovered=%ld cycles=%ld\n",
	       t->values, t->ok, t->lost, t->duplicated, t->unexpected, t->reordered, t->recovered,
	       g.cycles);
	fflush(stdout);
	say("detail: promised=%ld acked=%ld unknown=%ld reads=%ld devices=%ld send_errors=%ld "
	    "failed=%ld events_dropped=%ld missed_events=%ld",
	    t->promised, t->acked, t->unknown, t->reads, t->readers, t->send_errors, t->failed,
	    t->dropped, t->missed_events);
	say("faults: soukd_kills=%ld soukd_stops=%ld client_kills=%ld proxy_faults=%ld errors=%d "
	    "stuck=%d",
	    g.soukd_kills, g.soukd_stops, g.client_kills, g.proxy_faults, g.errors, g.stalls);
	return t->lost || t->duplicated || t->unexpected || t->reordered || t->missed_events ||
	       t->dropped || t->failed;
}

/* ---- self-test ---------------------------------------------------------------------------- */

static void write_file(const char *name, const char *text)
{
	char path[512];
	path_in(path, sizeof(path), "%s", name);
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		fatal("cannot write %s", path);
}

/*
 * Proves that every category can fire: hand-written logs with one value of each kind are
 * checked, and the tallies must be exactly the expected ones.
 */
static int selftest(void)
{
	g.producers = 2;
	g.consumers = 3;
	g.devices = 2; /* shopper-0's devices in c0 and c1, shopper-1's in c2 and c0 */
	/* shopper-0: 1, 2, 4 ok; 3 read after 4 on c0: reordered; 5 never seen acked but
	 * read by both devices: recovered; 6 attempted only, never stored: unknown; 7 shown
	 * twice on c0: duplicated; 8 acked, missing on c0: lost. On c0's shopper-0 device,
	 * p0/99 (never sent) and p1/1 (shopper-1's): unexpected, once each although in both
	 * the events and the store. shopper-1: p1/1 ok on its two devices. */
	write_file("p0.log", "T 1\nQ 1\nA 1\nT 2\nQ 2\nA 2\nT 3\nQ 3\nA 3\nT 4\nQ 4\nA 4\n"
			     "T 5\nQ 5\nT 6\nT 7\nQ 7\nA 7\nT 8\nQ 8\nA 8\nD\n");
	write_file("c0-u0.log", "R 1 p0/1\nR 2 p0/2\nS\nR 4 p0/4\nR 3 p0/3\nR 5 p0/5\n"
				"R 7 p0/7\nR 7 p0/7\nR 9 p0/99\nR 10 p1/1\n");
	write_file("c0-u0.log.final", "1 p0/1\n2 p0/2\n3 p0/3\n4 p0/4\n5 p0/5\n7 p0/7\n"
				      "9 p0/99\n10 p1/1\n");
	write_file("c1-u0.log", "R 1 p0/1\nR 2 p0/2\nR 3 p0/3\nR 4 p0/4\nR 5 p0/5\n"
				"R 6 p0/7\nR 7 p0/8\n");
	write_file("c1-u0.log.final", "1 p0/1\n2 p0/2\n3 p0/3\n4 p0/4\n5 p0/5\n6 p0/7\n"
				      "7 p0/8\n");
	write_file("p1.log", "T 1\nQ 1\nA 1\nD\n");
	write_file("c2-u1.log", "R 1 p1/1\n");
	write_file("c2-u1.log.final", "1 p1/1\n");
	write_file("c0-u1.log", "S\nR 3 p1/1\n");
	write_file("c0-u1.log.final", "3 p1/1\n");
	tally t;
	check(&t);
	tally want = {.values = 11,
		      .ok = 4,
		      .lost = 1,
		      .duplicated = 1,
		      .unexpected = 2,
		      .reordered = 1,
		      .recovered = 1,
		      .unknown = 1};
	int ok = t.values == want.values && t.ok == want.ok && t.lost == want.lost &&
		 t.duplicated == want.duplicated && t.unexpected == want.unexpected &&
		 t.reordered == want.reordered && t.recovered == want.recovered &&
		 t.unknown == want.unknown;
	/* the same logs, each fixed: nothing is wrong any more */
	write_file("c0-u0.log", "R 1 p0/1\nR 2 p0/2\nR 3 p0/3\nR 4 p0/4\nR 5 p0/5\nR 7 p0/7\n"
				"R 8 p0/8\n");
	write_file("c0-u0.log.final", "1 p0/1\n2 p0/2\n3 p0/3\n4 p0/4\n5 p0/5\n7 p0/7\n"
				      "8 p0/8\n");
	int bad = check(&t);
	ok = ok && !bad && t.values == 9 && t.ok == 7 && t.recovered == 1 && t.unknown == 1;
	fprintf(stderr, "fault: self-test %s\n", ok ? "passed" : "FAILED");
	g.keep = !ok;
	return ok ? 0 : 1;
}

/* ---- main ------------------------------------------------------------------------------- */

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
	for (int i = 0; i < g.nprocs; i++)
		if (g.procs[i].pid)
			kill_wait(g.procs[i].pid, SIGKILL);
	if (g.soukd_pid) {
		kill(g.soukd_pid, SIGCONT);
		kill_wait(g.soukd_pid, SIGKILL);
	}
	if (g.proxy_pid)
		kill_wait(g.proxy_pid, SIGKILL);
	if (!g.dir[0])
		return;
	if (g.keep)
		fprintf(stderr, "fault: kept %s\n", g.dir);
	else
		nftw(g.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* SIGINT/SIGTERM/SIGHUP: async-signal-safe only — kill the children by pid, keep the run
 * directory for a look, leave. */
static void on_interrupt(int sig)
{
	(void)sig;
	for (int i = 0; i < g.nprocs; i++)
		if (g.procs[i].pid > 0)
			kill(g.procs[i].pid, SIGKILL);
	if (g.soukd_pid > 0) {
		kill(g.soukd_pid, SIGCONT);
		kill(g.soukd_pid, SIGKILL);
	}
	if (g.proxy_pid > 0)
		kill(g.proxy_pid, SIGKILL);
	static const char msg[] = "\nfault: interrupted; the run directory is kept: ";
	ssize_t w = write(2, msg, sizeof(msg) - 1);
	w += write(2, g.dir, strlen(g.dir));
	w += write(2, "\n", 1);
	(void)w;
	_exit(2);
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && v[0] ? v : def;
}

static int parse_faults(const char *s)
{
	int f = 0;
	char *copy = strdup(s);
	for (char *save = NULL, *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "all") == 0)
			f |= F_ALL;
		else if (strcmp(t, "soukd-kill") == 0)
			f |= F_SOUKD_KILL;
		else if (strcmp(t, "soukd-stop") == 0)
			f |= F_SOUKD_STOP;
		else if (strcmp(t, "client-kill") == 0)
			f |= F_CLIENT_KILL;
		else if (strcmp(t, "proxy") == 0)
			f |= F_PROXY;
		else
			f = -1000;
	}
	free(copy);
	return f > 0 ? f : -1;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: fault_checker [--cycles N] [--seconds S] [--seed N] [--producers N]\n"
		"                     [--consumers N] [--devices N] [--faults LIST]\n"
		"                     [--interval-ms MS]\n"
		"                     [--drain-timeout S] [--keep | --discard] [-v]\n"
		"       fault_checker --selftest   (the classification, on hand-written logs)\n"
		"  --cycles N / --seconds S   stop the faults after N cycles or S seconds\n"
		"                             (whichever comes first; default --seconds 60)\n"
		"  --producers N              shoppers, one sending process each (3)\n"
		"  --consumers N              processes holding the users' other devices (3)\n"
		"  --devices N                other devices per user, spread over the consumer\n"
		"                             processes (default 2, at most --consumers)\n"
		"  --faults LIST              comma-separated: soukd-kill, soukd-stop,\n"
		"                             client-kill, proxy (default: all)\n"
		"  --interval-ms MS           mean time between a producer's values (100)\n"
		"  --drain-timeout S          how long a producer or device that is behind may\n"
		"                             make no progress in the drain before it counts as\n"
		"                             stuck and is restarted (120; a bound against hangs,\n"
		"                             not a speed limit)\n"
		"  --keep                     keep the run directory (kept anyway on failure)\n"
		"  --discard                  remove it even on failure (the control run)\n"
		"binaries: $SOUKD, $SOUKCTL, $FAULT_CLIENT, $FAULTPROXY override the built ones\n");
	return 2;
}

int main(int argc, char **argv)
{
	g.seed = fu_random_seed();
	g.producers = 3;
	g.consumers = 3;
	g.faults = F_ALL;
	g.interval_ms = 100;
	g.drain_timeout_s = 120;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--keep") == 0) {
			g.keep = 1;
			continue;
		}
		if (strcmp(a, "--discard") == 0) {
			g.discard = 1;
			continue;
		}
		if (strcmp(a, "--selftest") == 0) {
			g.selftest = 1;
			continue;
		}
		if (strcmp(a, "-v") == 0) {
			g.verbose = 1;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (strcmp(a, "--cycles") == 0)
			g.cycles_max = atol(v);
		else if (strcmp(a, "--seconds") == 0)
			g.seconds = atol(v);
		else if (strcmp(a, "--seed") == 0)
			g.seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--producers") == 0)
			g.producers = atoi(v);
		else if (strcmp(a, "--consumers") == 0)
			g.consumers = atoi(v);
		else if (strcmp(a, "--devices") == 0)
			g.devices = atoi(v);
		else if (strcmp(a, "--faults") == 0)
			g.faults = parse_faults(v);
		else if (strcmp(a, "--interval-ms") == 0)
			g.interval_ms = atoi(v);
		else if (strcmp(a, "--drain-timeout") == 0)
			g.drain_timeout_s = atol(v);
		else
			return usage();
	}
	if (g.producers < 1 || g.producers > MAX_PRODUCERS || g.consumers < 1 ||
	    g.consumers > MAX_CONSUMERS || g.faults < 0 || g.interval_ms < 1 ||
	    g.drain_timeout_s < 1 || g.cycles_max < 0 || g.seconds < 0)
		return usage();
	if (!g.devices)
		g.devices = g.consumers < 2 ? g.consumers : 2;
	if (g.devices < 1 || g.devices > g.consumers)
		return usage();
	if (!g.cycles_max && !g.seconds)
		g.seconds = 60;
	g.soukd = env_or("SOUKD", FAULT_DEFAULT_SOUKD);
	g.soukctl = env_or("SOUKCTL", FAULT_DEFAULT_SOUKCTL);
	g.client = env_or("FAULT_CLIENT", FAULT_DEFAULT_CLIENT);
	g.proxy = env_or("FAULTPROXY", FAULT_DEFAULT_PROXY);
	fu_rng_seed(&g.rng, g.seed);
	g.t0 = fu_now_ms();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	signal(SIGHUP, on_interrupt);
	snprintf(g.dir, sizeof(g.dir), "%s/souk-fault-XXXXXX", env_or("TMPDIR", "/tmp"));
	if (!mkdtemp(g.dir))
		fatal("mkdtemp: %s", strerror(errno));
	atexit(at_exit);
	if (g.selftest)
		return selftest();
	fprintf(stderr,
		"fault: seed %" PRIu64 " (replay the schedule with --seed %" PRIu64 "), soukd %s\n",
		g.seed, g.seed, g.soukd);

	setup();
	int64_t end = g.seconds ? g.t0 + g.seconds * 1000 : INT64_MAX;
	while ((!g.cycles_max || g.cycles < g.cycles_max) && fu_now_ms() < end)
		cycle();
	drain();
	stop_all();
	tally t;
	int bad = check(&t);
	if ((bad || g.errors || g.stalls) && !g.discard)
		g.keep = 1;
	fprintf(stderr, "fault: seed %" PRIu64 "\n", g.seed);
	return bad || g.errors || g.stalls ? 1 : 0;
}
