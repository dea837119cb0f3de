/*
 * faultproxy.c — a TCP proxy that breaks connections on purpose, for the fault checker
 * (docs/fault-testing.md). It sits between SDK clients and soukd on 127.0.0.1 and forwards
 * bytes both ways; commands on standard input, one per line, switch how it misbehaves:
 *
 *   clean     forward faithfully
 *   reset     reset (RST) every connection now, and each new one after 0–400 ms
 *   latency   delay every chunk by 30–280 ms (jitter), order kept per direction
 *   slice     write in tiny pieces (1–16 bytes, TCP_NODELAY: one segment each)
 *   stall     stop reading and writing entirely (connections stay open, buffers fill)
 *   halfopen  one direction of every connection (now, and of each new one after a
 *             moment) goes silent for good: bytes are read and dropped, FIN included —
 *             a peer behind a dead NAT. Only heartbeats can tell.
 *   heal      reset every connection and go back to clean (start of the drain phase)
 *   target P  connect new connections to 127.0.0.1:P from now on
 *   stats     print counters to stderr
 *   quit      exit (so does end of input: the proxy never outlives its controller)
 *
 * Usage: faultproxy --target PORT [--listen PORT] [--port-file FILE] [--seed N]
 *
 * One thread, poll(2), non-blocking sockets; at most MAX_CONNS connections and DIR_CAP
 * bytes queued per direction, so memory and descriptors stay bounded whatever the peers do.
 * This file owns only the bytes in flight; it never parses them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault_util.h"

enum { MAX_CONNS = 256, DIR_CAP = 256 * 1024, READ_MAX = 16384 };

typedef enum mode { M_CLEAN, M_RESET, M_LATENCY, M_SLICE, M_STALL, M_HALFOPEN } mode;
static const char *const MODE_NAMES[] = {"clean", "reset", "latency", "slice", "stall", "halfopen"};

typedef struct chunk {
	struct chunk *next;
	size_t len, off;
	int64_t due; /* not written before (latency) */
	uint8_t data[];
} chunk;

typedef struct pdir {
	chunk *head, *tail;
	size_t queued;
	int eof;	    /* the reading side sent FIN */
	int shut;	    /* FIN passed on (shutdown(SHUT_WR) of the writing side) */
	int dead;	    /* half-open: read and drop everything, write nothing */
	int64_t next_write; /* slice mode pacing */
	int64_t last_due;
} pdir;

typedef struct pconn {
	int used;
	int cfd, sfd; /* client side, server side */
	int connecting;
	pdir up;	  /* client -> server */
	pdir down;	  /* server -> client */
	int64_t reset_at; /* reset mode: when to reset it (0: never) */
	int64_t half_at;  /* halfopen mode: when to kill one direction (0: never) */
} pconn;

static pconn conns[MAX_CONNS];
static mode cur = M_CLEAN;
static fu_rng rng;
static struct sockaddr_in target;
static struct {
	uint64_t accepted, refused, resets, halfopened, bytes_up, bytes_down, dropped;
} st;

static void logf_(const char *fmt, const char *a, long long b)
{
	fprintf(stderr, "faultproxy: ");
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
}

static void dir_clear(pdir *d)
{
	for (chunk *c = d->head, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	memset(d, 0, sizeof(*d));
}

static void close_rst(int fd)
{
	if (fd < 0)
		return;
	struct linger l = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Ends a connection: with a reset (abort) or a plain close. */
static void conn_end(pconn *c, int abort)
{
	if (abort) {
		close_rst(c->cfd);
		close_rst(c->sfd);
		st.resets++;
	} else {
		close(c->cfd);
		close(c->sfd);
	}
	dir_clear(&c->up);
	dir_clear(&c->down);
	memset(c, 0, sizeof(*c));
	c->cfd = c->sfd = -1;
}

static void make_half(pconn *c)
{
	c->half_at = 0;
	if (c->up.dead || c->down.dead)
		return;
	pdir *d = fu_rng_chance(&rng, 1, 2) ? &c->up : &c->down;
	d->dead = 1;
	st.dropped += d->queued;
	for (chunk *k = d->head, *n; k; k = n) {
		n = k->next;
		free(k);
	}
	d->head = d->tail = NULL;
	d->queued = 0;
	st.halfopened++;
}

static void set_mode(mode m)
{
	cur = m;
	int64_t now = fu_now_ms();
	for (int i = 0; i < MAX_CONNS; i++) {
		pconn *c = &conns[i];
		if (!c->used)
			continue;
		c->reset_at = c->half_at = 0;
		if (m == M_RESET)
			conn_end(c, 1);
		else if (m == M_HALFOPEN)
			make_half(c);
		else if (m == M_SLICE) /* pacing starts now */
			c->up.next_write = c->down.next_write = now;
	}
}

static void command(const char *line)
{
	for (int m = 0; m < (int)(sizeof(MODE_NAMES) / sizeof(MODE_NAMES[0])); m++) {
		if (strcmp(line, MODE_NAMES[m]) == 0) {
			set_mode((mode)m);
			return;
		}
	}
	if (strcmp(line, "heal") == 0) {
		set_mode(M_RESET);
		set_mode(M_CLEAN);
	} else if (strncmp(line, "target ", 7) == 0 && atoi(line + 7) > 0 &&
		   atoi(line + 7) < 65536) {
		target.sin_port = htons((uint16_t)atoi(line + 7)); /* new connections */
	} else if (strcmp(line, "stats") == 0) {
		fprintf(stderr,
			"faultproxy: accepted=%" PRIu64 " refused=%" PRIu64 " resets=%" PRIu64
			" halfopened=%" PRIu64 " bytes_up=%" PRIu64 " bytes_down=%" PRIu64
			" dropped=%" PRIu64 "\n",
			st.accepted, st.refused, st.resets, st.halfopened, st.bytes_up,
			st.bytes_down, st.dropped);
	} else if (strcmp(line, "quit") == 0) {
		command("stats");
		exit(0);
	} else if (line[0]) {
		logf_("unknown command %s (%lld)", line, 0);
	}
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		pconn *c = NULL;
		for (int i = 0; i < MAX_CONNS && !c; i++)
			if (!conns[i].used)
				c = &conns[i];
		if (!c) {
			st.refused++;
			close_rst(fd);
			continue;
		}
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s < 0) {
			close_rst(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		int r = connect(s, (struct sockaddr *)&target, sizeof(target));
		if (r != 0 && errno != EINPROGRESS) {
			/* soukd is down: the client sees its connection reset, as it would */
			close_rst(fd);
			close(s);
			st.refused++;
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->used = 1;
		c->cfd = fd;
		c->sfd = s;
		c->connecting = r != 0;
		st.accepted++;
		int64_t now = fu_now_ms();
		if (cur == M_RESET)
			c->reset_at = now + fu_rng_range(&rng, 0, 400);
		if (cur == M_HALFOPEN)
			c->half_at = now + fu_rng_range(&rng, 50, 800);
	}
}

static int want_read(const pdir *d)
{
	return cur != M_STALL && !d->eof && (d->dead || d->queued < DIR_CAP);
}

static int want_write(const pdir *d, int64_t now)
{
	return cur != M_STALL && !d->dead && d->head && d->head->due <= now && now >= d->next_write;
}

/* Reads once from `from` into d. Returns -1 when the connection must end. */
static int do_read(pdir *d, int from, uint64_t *bytes)
{
	uint8_t buf[READ_MAX];
	ssize_t n = recv(from, buf, sizeof(buf), 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	if (n == 0) {
		d->eof = 1;
		return 0;
	}
	*bytes += (uint64_t)n;
	if (d->dead) {
		st.dropped += (uint64_t)n;
		return 0;
	}
	chunk *k = malloc(sizeof(*k) + (size_t)n);
	if (!k)
		return -1;
	memcpy(k->data, buf, (size_t)n);
	k->len = (size_t)n;
	k->off = 0;
	k->next = NULL;
	int64_t now = fu_now_ms();
	int64_t due = now;
	if (cur == M_LATENCY)
		due = now + 30 + fu_rng_range(&rng, 0, 250);
	if (due < d->last_due)
		due = d->last_due; /* jitter never reorders bytes */
	k->due = d->last_due = due;
	if (d->tail)
		d->tail->next = k;
	else
		d->head = k;
	d->tail = k;
	d->queued += (size_t)n;
	return 0;
}

/* Writes what is due from d to `to`. Returns -1 when the connection must end. */
static int do_write(pdir *d, int to, int64_t now)
{
	int pieces = 0;
	while (d->head && d->head->due <= now) {
		chunk *k = d->head;
		size_t len = k->len - k->off;
		if (cur == M_SLICE) {
			size_t piece = (size_t)fu_rng_range(&rng, 1, 16);
			if (len > piece)
				len = piece;
		}
		ssize_t w = send(to, k->data + k->off, len, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		k->off += (size_t)w;
		d->queued -= (size_t)w;
		if (k->off == k->len) {
			d->head = k->next;
			if (!d->head)
				d->tail = NULL;
			free(k);
		}
		if (cur == M_SLICE && ++pieces >= 16) {
			d->next_write = now + 1;
			break;
		}
	}
	return 0;
}

/* Passes a FIN on once everything before it was written; 1 when the connection is over. */
static int finish_dirs(pconn *c)
{
	pdir *ds[2] = {&c->up, &c->down};
	int tos[2] = {c->sfd, c->cfd};
	for (int i = 0; i < 2; i++) {
		pdir *d = ds[i];
		if (d->eof && !d->head && !d->shut && !d->dead) {
			shutdown(tos[i], SHUT_WR);
			d->shut = 1;
		}
	}
	int up_done = c->up.dead ? c->up.eof : c->up.shut;
	int down_done = c->down.dead ? c->down.eof : c->down.shut;
	return up_done && down_done;
}

static int usage(void)
{
	fprintf(stderr, "usage: faultproxy --target PORT [--listen PORT] [--port-file FILE] "
			"[--seed N]\n");
	return 2;
}

int main(int argc, char **argv)
{
	int listen_port = 0, target_port = 0;
	const char *port_file = NULL;
	uint64_t seed = fu_random_seed();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--target") == 0 && i + 1 < argc)
			target_port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen_port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc)
			port_file = argv[++i];
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else
			return usage();
	}
	if (target_port <= 0 || target_port > 65535)
		return usage();
	signal(SIGPIPE, SIG_IGN);
	fu_rng_seed(&rng, seed);
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].cfd = conns[i].sfd = -1;
	target.sin_family = AF_INET;
	target.sin_port = htons((uint16_t)target_port);
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t lalen = sizeof(la);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof(la)) != 0 ||
	    listen(lfd, 128) != 0 || getsockname(lfd, (struct sockaddr *)&la, &lalen) != 0) {
		perror("faultproxy: listen");
		return 1;
	}
	if (port_file) {
		char tmp[600];
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", ntohs(la.sin_port)) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) != 0) {
			perror("faultproxy: port file");
			return 1;
		}
	}
	fprintf(stderr, "faultproxy: 127.0.0.1:%d -> 127.0.0.1:%d, seed %" PRIu64 "\n",
		ntohs(la.sin_port), target_port, seed);
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);

	char cmd[256];
	size_t cmd_len = 0;
	static struct pollfd pfd[2 + 2 * MAX_CONNS];
	static int owner[2 + 2 * MAX_CONNS]; /* conn index, or -1 */
	for (;;) {
		int64_t now = fu_now_ms();
		int64_t next = now + 200;
		for (int i = 0; i < MAX_CONNS; i++) {
			pconn *c = &conns[i];
			if (!c->used)
				continue;
			if (c->reset_at && c->reset_at <= now) {
				conn_end(c, 1);
				continue;
			}
			if (c->half_at && c->half_at <= now)
				make_half(c);
			if (c->reset_at && c->reset_at < next)
				next = c->reset_at;
			if (c->half_at && c->half_at < next)
				next = c->half_at;
			pdir *ds[2] = {&c->up, &c->down};
			for (int k = 0; k < 2 && cur != M_STALL; k++) {
				pdir *d = ds[k];
				if (!d->dead && d->head) {
					int64_t t = d->head->due > d->next_write ? d->head->due
										 : d->next_write;
					if (t > now && t < next) /* due now: POLLOUT decides */
						next = t;
				}
			}
		}
		size_t n = 0;
		pfd[n] = (struct pollfd){.fd = 0, .events = POLLIN};
		owner[n++] = -1;
		pfd[n] = (struct pollfd){.fd = lfd, .events = POLLIN};
		owner[n++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			pconn *c = &conns[i];
			if (!c->used)
				continue;
			short ce = 0, se = 0;
			if (c->connecting) {
				se = POLLOUT;
			} else {
				ce = (short)((want_read(&c->up) ? POLLIN : 0) |
					     (want_write(&c->down, now) ? POLLOUT : 0));
				se = (short)((want_read(&c->down) ? POLLIN : 0) |
					     (want_write(&c->up, now) ? POLLOUT : 0));
			}
			pfd[n] = (struct pollfd){.fd = c->cfd, .events = ce};
			owner[n++] = i;
			pfd[n] = (struct pollfd){.fd = c->sfd, .events = se};
			owner[n++] = i;
		}
		int timeout = (int)(next - now);
		if (timeout < 0)
			timeout = 0;
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			perror("faultproxy: poll");
			return 1;
		}
		if (pfd[0].revents) {
			char buf[256];
			ssize_t k = read(0, buf, sizeof(buf));
			if (k == 0) {
				command("quit"); /* the controller is gone */
			}
			for (ssize_t j = 0; j < k; j++) {
				if (buf[j] == '\n') {
					cmd[cmd_len] = '\0';
					command(cmd);
					cmd_len = 0;
				} else if (cmd_len + 1 < sizeof(cmd)) {
					cmd[cmd_len++] = buf[j];
				}
			}
		}
		if (pfd[1].revents & POLLIN)
			on_accept(lfd);
		now = fu_now_ms();
		for (size_t j = 2; j < n; j += 2) {
			pconn *c = &conns[owner[j]];
			if (!c->used || c->cfd != pfd[j].fd)
				continue; /* ended by a command or a timer meanwhile */
			short cr = pfd[j].revents, sr = pfd[j + 1].revents;
			if (c->connecting) {
				if (!sr)
					continue;
				int err = 0;
				socklen_t el = sizeof(err);
				getsockopt(c->sfd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					st.refused++;
					conn_end(c, 1);
				} else {
					c->connecting = 0;
				}
				continue;
			}
			int bad = 0;
			if (cr & POLLIN)
				bad |= do_read(&c->up, c->cfd, &st.bytes_up);
			if (sr & POLLIN)
				bad |= do_read(&c->down, c->sfd, &st.bytes_down);
			if (!bad && (sr & POLLOUT))
				bad |= do_write(&c->up, c->sfd, now);
			if (!bad && (cr & POLLOUT))
				bad |= do_write(&c->down, c->cfd, now);
			/* an error or a hang-up we are not reading (stall): the connection is gone
			 */
			if (!bad && (((cr | sr) & POLLERR) || ((cr & POLLHUP) && !(cr & POLLIN)) ||
				     ((sr & POLLHUP) && !(sr & POLLIN))))
				bad = 1;
			if (bad)
				conn_end(c, 1);
			else if (finish_dirs(c))
				conn_end(c, 0);
		}
	}
}
