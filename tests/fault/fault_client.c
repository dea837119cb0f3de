/*
 * fault_client.c — the workload of the fault checker (docs/fault-testing.md): one program,
 * two roles, each an ordinary app on the public libsouk API. The controller execs them,
 * SIGKILLs them at random and restarts them on the same database and log.
 *
 * producer: a shopper (user shopper-<id>) writing into their support conversation. Every
 * message is a unique value "p<id>/<counter>". Its log (appended, one write per line,
 * fsync'ed) says what the app knows:
 *     T <c>   about to call souk_client_send_text (written before the call)
 *     Q <c>   souk_client_send_text returned SOUK_OK: committed locally, promised
 *     E <c> <code>   souk_client_send_text failed
 *     A <c>   the SDK reported the message SENT (or further): the server acked it
 *     F <c> <wire code>   the message became FAILED
 *     D       drain mode and the outbox is empty
 * On restart it continues after the highest counter of the log. SIGUSR1 (or --drain) stops
 * new values; SIGTERM stops the client cleanly and exits 0.
 *
 * consumer: other devices of the same users. For each --reader USER,TOKEN,DB,LOG it runs
 * one client (a device of USER with its own database) and logs every message the app is
 * shown, in order:
 *     R <local id> <text>   a MESSAGE_ADDED event, or a message found in the store at
 *                           start that no earlier line named (the app renders its store:
 *                           events queued but not handed over before a kill are there)
 *     S                     SYNC_FINISHED (informational)
 * On SIGTERM it stops its clients and writes LOG.final: the store's messages in display
 * order ("<local id> <text>" per line), which the checker compares too.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault_util.h"
#include "souk/souk.h"

static volatile sig_atomic_t g_stop, g_drain;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		g_drain = 1;
	else
		g_stop = 1;
}

static void die(const char *what, int code)
{
	fprintf(stderr, "fault_client[%d]: %s: %s (%s)\n", (int)getpid(), what, souk_strerror(code),
		souk_client_errmsg(NULL));
	exit(3);
}

static void log_cb(souk_log_level level, const char *msg, void *ud)
{
	static const char *names[] = {"none", "error", "warn", "info", "debug"};
	fprintf(stderr, "%s %s: %s\n", (const char *)ud, names[level], msg);
}

static souk_client *make_client(const char *url, const char *app, const char *db,
				const char *device, const char *tag)
{
	uint8_t key[32];
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 13 + 7);
	souk_client_options o;
	int r = souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION);
	if (r != SOUK_OK)
		die("options", r);
	o.server_url = url;
	o.app_id = app;
	o.db_path = db;
	o.db_key = key;
	o.db_key_len = sizeof(key);
	o.device_id = device;
	o.platform = SOUK_PLATFORM_DESKTOP;
	/* quick recovery, so that a minute holds many faults; heartbeat 1 s: a half-open
	 * connection is noticed within 2.5 s */
	o.heartbeat_s = 1;
	o.reconnect_min_ms = 50;
	o.reconnect_max_ms = 1000;
	o.max_queued_events = 1000000;
	o.log_level = getenv("FAULT_CLIENT_VERBOSE") ? SOUK_LOG_DEBUG : SOUK_LOG_WARN;
	o.log_cb = log_cb;
	o.log_user_data = (void *)tag;
	souk_client *c = NULL;
	r = souk_client_create(&c, &o);
	if (r != SOUK_OK)
		die("souk_client_create", r);
	return c;
}

/* ---- producer --------------------------------------------------------------------------- */

typedef struct bitset {
	uint8_t *v;
	size_t n;
} bitset;

static int bitset_test_set(bitset *b, uint64_t i)
{
	if (i / 8 >= b->n) {
		size_t n = b->n ? b->n : 1024;
		while (i / 8 >= n)
			n *= 2;
		uint8_t *v = realloc(b->v, n);
		if (!v)
			exit(4);
		memset(v + b->n, 0, n - b->n);
		b->v = v;
		b->n = n;
	}
	int was = (b->v[i / 8] >> (i % 8)) & 1;
	b->v[i / 8] |= (uint8_t)(1u << (i % 8));
	return was;
}

static void plog(int fd, const char *line)
{
	if (fu_log_line(fd, 1, line) != 0) {
		fprintf(stderr, "fault_client: cannot write the log: %s\n", strerror(errno));
		exit(4);
	}
}

static int producer(const char *url, const char *app, const char *token, const char *db,
		    const char *logpath, int id, uint64_t seed, int interval_ms, int drain)
{
	/* continue after every value ever attempted on this database */
	uint64_t counter = 0;
	char *old = fu_read_file(logpath, NULL);
	for (char *line = old ? strtok(old, "\n") : NULL; line; line = strtok(NULL, "\n")) {
		unsigned long long c;
		if (line[0] == 'T' && sscanf(line + 1, "%llu", &c) == 1 && c > counter)
			counter = c;
	}
	free(old);
	int fd = fu_log_open(logpath);
	if (fd < 0) {
		fprintf(stderr, "fault_client: cannot open %s\n", logpath);
		return 4;
	}
	fu_rng rng;
	fu_rng_seed(&rng, seed);
	char device[64], tag[64];
	snprintf(device, sizeof(device), "producer-%d", id);
	snprintf(tag, sizeof(tag), "p%d", id);
	souk_client *c = make_client(url, app, db, device, tag);
	int r = souk_client_login(c, token);
	if (r != SOUK_OK)
		die("login", r);
	r = souk_client_start(c);
	if (r != SOUK_OK)
		die("start", r);
	int64_t conv = 0;
	r = souk_client_open_support_conversation(&conv, c);
	if (r != SOUK_OK)
		die("open_support_conversation", r);

	bitset acked = {0};
	int drained = 0;
	int64_t next_send = fu_now_ms(), next_outbox_check = 0;
	char line[160];
	while (!g_stop) {
		if (g_drain)
			drain = 1;
		int64_t now = fu_now_ms();
		int timeout = 200;
		if (!drain)
			timeout = next_send > now ? (int)(next_send - now) : 0;
		souk_event *ev = NULL;
		r = souk_client_next_event(&ev, c, timeout);
		if (r == SOUK_OK) {
			const souk_message *m = souk_event_get_message(ev);
			int p = -1;
			uint64_t v = 0;
			souk_event_type t = souk_event_get_type(ev);
			if (m &&
			    (t == SOUK_EVENT_MESSAGE_UPDATED || t == SOUK_EVENT_MESSAGE_ADDED) &&
			    fu_parse_value(souk_message_get_text(m), &p, &v) && p == id) {
				souk_message_status s = souk_message_get_status(m);
				if ((s == SOUK_MESSAGE_SENT || s == SOUK_MESSAGE_DELIVERED ||
				     s == SOUK_MESSAGE_READ) &&
				    !bitset_test_set(&acked, v)) {
					snprintf(line, sizeof(line), "A %" PRIu64, v);
					plog(fd, line);
				} else if (s == SOUK_MESSAGE_FAILED) {
					snprintf(line, sizeof(line), "F %" PRIu64 " %d", v,
						 souk_message_get_failure_code(m));
					plog(fd, line);
				}
			}
			souk_event_free(ev);
		} else if (r != SOUK_ETIMEOUT) {
			die("next_event", r);
		}
		now = fu_now_ms();
		if (!drain && now >= next_send) {
			counter++;
			char text[64];
			snprintf(text, sizeof(text), "p%d/%" PRIu64, id, counter);
			snprintf(line, sizeof(line), "T %" PRIu64, counter);
			plog(fd, line);
			r = souk_client_send_text(NULL, c, conv, text);
			if (r == SOUK_OK)
				snprintf(line, sizeof(line), "Q %" PRIu64, counter);
			else
				snprintf(line, sizeof(line), "E %" PRIu64 " %d", counter, r);
			plog(fd, line);
			next_send = now + fu_rng_range(&rng, 0, 2 * (int64_t)interval_ms);
		}
		if (drain && !drained && now >= next_outbox_check) {
			size_t pending = 1;
			if (souk_client_outbox_count(&pending, c) == SOUK_OK && pending == 0) {
				plog(fd, "D");
				drained = 1;
			}
			next_outbox_check = now + 100;
		}
	}
	souk_client_stop(c);
	souk_client_free(c);
	free(acked.v);
	close(fd);
	return 0;
}

/* ---- consumer --------------------------------------------------------------------------- */

typedef struct reader {
	char *user, *token, *db, *log;
	int fd;
	souk_client *c;
	char tag[160];
} reader;

static void rlog(reader *rd, int64_t id, const char *text)
{
	char line[300];
	/* texts are the checker's values; anything else (it should not happen) is logged
	 * as "?" rather than copied, so a log never holds arbitrary content */
	int p;
	uint64_t v;
	snprintf(line, sizeof(line), "R %" PRId64 " %s", id,
		 fu_parse_value(text, &p, &v) ? text : "?");
	if (fu_log_line(rd->fd, 0, line) != 0)
		exit(4);
}

static void on_consumer_event(const souk_event *ev, void *ud)
{
	reader *rd = ud;
	souk_event_type t = souk_event_get_type(ev);
	if (t == SOUK_EVENT_MESSAGE_ADDED) {
		const souk_message *m = souk_event_get_message(ev);
		rlog(rd, souk_message_get_id(m), souk_message_get_text(m));
	} else if (t == SOUK_EVENT_SYNC_FINISHED) {
		fu_log_line(rd->fd, 0, "S");
	} else if (t == SOUK_EVENT_EVENTS_DROPPED) {
		fu_log_line(rd->fd, 0, "X events dropped");
	}
}

/* Every message of every local conversation, in display order: calls fn for each. */
static void for_each_stored(souk_client *c, void (*fn)(const souk_message *, void *), void *arg)
{
	souk_conversation_list *cl = NULL;
	int r = souk_client_list_conversations(&cl, c);
	if (r != SOUK_OK)
		die("list_conversations", r);
	for (size_t i = 0; i < souk_conversation_list_count(cl); i++) {
		int64_t conv = souk_conversation_get_id(souk_conversation_list_get(cl, i));
		int64_t anchor = 0;
		for (;;) {
			souk_message_list *l = NULL;
			r = souk_client_list_messages(&l, c, conv, anchor, SOUK_PAGE_AFTER, 500);
			if (r != SOUK_OK)
				die("list_messages", r);
			size_t n = souk_message_list_count(l);
			for (size_t k = 0; k < n; k++)
				fn(souk_message_list_get(l, k), arg);
			if (n)
				anchor = souk_message_get_id(souk_message_list_get(l, n - 1));
			souk_message_list_free(l);
			if (n < 500)
				break;
		}
	}
	souk_conversation_list_free(cl);
}

typedef struct seen {
	bitset ids;
	reader *rd;
	int added;
} seen;

static void reconcile_one(const souk_message *m, void *arg)
{
	seen *s = arg;
	int64_t id = souk_message_get_id(m);
	if (id > 0 && !bitset_test_set(&s->ids, (uint64_t)id)) {
		rlog(s->rd, id, souk_message_get_text(m));
		s->added++;
	}
}

static void final_one(const souk_message *m, void *arg)
{
	int fd = *(int *)arg;
	char line[300];
	int p;
	uint64_t v;
	const char *text = souk_message_get_text(m);
	snprintf(line, sizeof(line), "%" PRId64 " %s", souk_message_get_id(m),
		 fu_parse_value(text, &p, &v) ? text : "?");
	fu_log_line(fd, 0, line);
}

static int consumer(const char *url, const char *app, int id, reader *rds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		reader *rd = &rds[i];
		seen s = {.rd = rd};
		char *old = fu_read_file(rd->log, NULL);
		for (char *line = old ? strtok(old, "\n") : NULL; line; line = strtok(NULL, "\n")) {
			long long lid;
			if (line[0] == 'R' && sscanf(line + 1, "%lld", &lid) == 1 && lid > 0)
				bitset_test_set(&s.ids, (uint64_t)lid);
		}
		free(old);
		rd->fd = fu_log_open(rd->log);
		if (rd->fd < 0) {
			fprintf(stderr, "fault_client: cannot open %s\n", rd->log);
			return 4;
		}
		char device[200];
		snprintf(device, sizeof(device), "consumer-%d-%s", id, rd->user);
		snprintf(rd->tag, sizeof(rd->tag), "c%d/%s", id, rd->user);
		rd->c = make_client(url, app, rd->db, device, rd->tag);
		/* what the app shows at start: the store, including what it never got as events */
		for_each_stored(rd->c, reconcile_one, &s);
		free(s.ids.v);
		int r = souk_client_set_event_callback(rd->c, on_consumer_event, rd, NULL);
		if (r != SOUK_OK)
			die("set_event_callback", r);
		r = souk_client_login(rd->c, rd->token);
		if (r != SOUK_OK)
			die("login", r);
		r = souk_client_start(rd->c);
		if (r != SOUK_OK)
			die("start", r);
	}
	while (!g_stop)
		fu_sleep_ms(50);
	for (size_t i = 0; i < n; i++) {
		reader *rd = &rds[i];
		souk_client_stop(rd->c);
		char path[600];
		snprintf(path, sizeof(path), "%s.final", rd->log);
		unlink(path);
		int fd = fu_log_open(path);
		if (fd >= 0) {
			for_each_stored(rd->c, final_one, &fd);
			fsync(fd);
			close(fd);
		}
		souk_client_free(rd->c);
		close(rd->fd);
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: fault_client producer --url URL --app APP --token TOKEN --db DB --log LOG\n"
		"                    --id N [--seed S] [--interval-ms MS] [--drain]\n"
		"       fault_client consumer --url URL --app APP --id N\n"
		"                    --reader USER,TOKEN,DB,LOG [--reader ...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *role = argv[1], *url = NULL, *app = NULL, *token = NULL, *db = NULL,
		   *logpath = NULL;
	int id = -1, interval = 100, drain = 0;
	uint64_t seed = 1;
	reader rds[64];
	size_t nr = 0;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--drain") == 0) {
			drain = 1;
			continue;
		}
		if (!v)
			return usage();
		i++;
		if (strcmp(a, "--url") == 0)
			url = v;
		else if (strcmp(a, "--app") == 0)
			app = v;
		else if (strcmp(a, "--token") == 0)
			token = v;
		else if (strcmp(a, "--db") == 0)
			db = v;
		else if (strcmp(a, "--log") == 0)
			logpath = v;
		else if (strcmp(a, "--id") == 0)
			id = atoi(v);
		else if (strcmp(a, "--seed") == 0)
			seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--interval-ms") == 0)
			interval = atoi(v);
		else if (strcmp(a, "--reader") == 0 && nr < sizeof(rds) / sizeof(rds[0])) {
			char *s = (char *)v; /* argv is ours to split in place: nothing to free */
			reader *rd = &rds[nr++];
			memset(rd, 0, sizeof(*rd));
			rd->user = strtok(s, ",");
			rd->token = strtok(NULL, ",");
			rd->db = strtok(NULL, ",");
			rd->log = strtok(NULL, ",");
			if (!rd->log)
				return usage();
		} else
			return usage();
	}
	if (!url || !app || id < 0)
		return usage();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(role, "producer") == 0 && token && db && logpath)
		return producer(url, app, token, db, logpath, id, seed, interval > 0 ? interval : 1,
				drain);
	if (strcmp(role, "consumer") == 0 && nr > 0)
		return consumer(url, app, id, rds, nr);
	return usage();
}
