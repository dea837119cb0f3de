/*
 * sdkbench.c — libsouk figures through its public API, and the SQLCipher limit under them.
 *
 *   sdkbench send DIR N
 *       time of souk_client_send_text() (commit of the message and its outbox entry in the
 *       encrypted store) for N 100-byte messages, client not started (offline).
 *   sdkbench sync DIR URL APP_ID TOKEN EXPECT
 *       a fresh client catches up a stream of EXPECT message events: time from
 *       souk_client_start() until SYNC_FINISHED, with every message in the store.
 *   sdkbench raw DIR N BATCH
 *       raw prepared inserts of N rows shaped like libsouk's messages (100-byte content,
 *       same indexes), BATCH rows per transaction, same SQLCipher (raw key, WAL,
 *       synchronous=FULL): the rate libsouk's sync could reach at best.
 *
 * Each prints one line "RESULT {json}". Links libsouk and SQLCipher — both SQLCipher; never
 * plain SQLite in the same process (docs/sdk.md).
 */
#include <pthread.h>
#include <souk/souk.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU time of the whole process (every thread): on a shared machine a steadier figure
 * than the wall clock, which includes waiting for other processes' CPU and the disk. */
static int64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const uint8_t KEY[32] = {0x5b, 0x11, 0x42, 0x7e, 0x09, 0xc3, 0x3d, 0x88, 0x1a, 0x6f, 0x20,
				0x94, 0xe1, 0x57, 0x0c, 0xb2, 0x73, 0x4d, 0x98, 0x2e, 0xf5, 0x61,
				0x3a, 0x07, 0xcc, 0x19, 0x84, 0x50, 0xde, 0x2b, 0x66, 0x93};

static void body100(char *out, int i)
{
	int n = snprintf(out, 101, "message %d ", i);
	for (int k = n; k < 100; k++)
		out[k] = (char)('a' + k % 26);
	out[100] = '\0';
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static souk_client *make_client(const char *dir, const char *name, const char *url, const char *app)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	souk_client_options o;
	souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION);
	o.server_url = url;
	o.app_id = app;
	o.db_path = path;
	o.db_key = KEY;
	o.db_key_len = sizeof(KEY);
	o.platform = SOUK_PLATFORM_DESKTOP;
	o.max_queued_events = 1000000;
	souk_client *c = NULL;
	if (souk_client_create(&c, &o) != SOUK_OK) {
		fprintf(stderr, "sdkbench: create: %s\n", souk_client_errmsg(NULL));
		return NULL;
	}
	return c;
}

static int bench_send(const char *dir, int n)
{
	souk_client *c = make_client(dir, "send.db", "ws://127.0.0.1:9/v1/ws", "app_bench");
	if (!c)
		return 1;
	int64_t conv;
	if (souk_client_open_support_conversation(&conv, c) != SOUK_OK) {
		fprintf(stderr, "sdkbench: open: %s\n", souk_client_errmsg(c));
		return 1;
	}
	int64_t *t = calloc((size_t)n, sizeof(*t));
	if (!t)
		return 1;
	char body[101];
	int64_t all0 = mono_ns(), cpu0 = cpu_ns();
	for (int i = 0; i < n; i++) {
		body100(body, i);
		int64_t id, t0 = mono_ns();
		if (souk_client_send_text(&id, c, conv, body) != SOUK_OK) {
			fprintf(stderr, "sdkbench: send: %s\n", souk_client_errmsg(c));
			return 1;
		}
		t[i] = mono_ns() - t0;
		souk_event *ev;
		while (souk_client_next_event(&ev, c, 0) == SOUK_OK)
			souk_event_free(ev);
	}
	double total = (double)(mono_ns() - all0) / 1e9;
	double cpu = (double)(cpu_ns() - cpu0) / 1e9;
	qsort(t, (size_t)n, sizeof(*t), cmp_i64);
	printf("RESULT {\"sends\": %d, \"sdk_send_us_p50\": %.1f, \"sdk_send_us_p99\": %.1f, "
	       "\"sdk_send_us_max\": %.1f, \"sends_per_s\": %.1f, \"cpu_us_per_send\": %.1f}\n",
	       n, (double)t[n / 2] / 1e3, (double)t[(size_t)((double)n * 0.99)] / 1e3,
	       (double)t[n - 1] / 1e3, (double)n / total, cpu * 1e6 / n);
	free(t);
	souk_client_free(c);
	return 0;
}

typedef struct sync_state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	long messages;
	int finished;
	int64_t t_finished;
	int token_needed;
} sync_state;

static void on_event(const souk_event *ev, void *ud)
{
	sync_state *s = ud;
	pthread_mutex_lock(&s->mu);
	switch (souk_event_get_type(ev)) {
	case SOUK_EVENT_MESSAGE_ADDED:
		s->messages++;
		break;
	case SOUK_EVENT_SYNC_FINISHED:
		s->finished = 1;
		s->t_finished = mono_ns();
		pthread_cond_signal(&s->cv);
		break;
	case SOUK_EVENT_TOKEN_NEEDED:
		s->token_needed = souk_event_get_wire_code(ev);
		if (s->token_needed)
			pthread_cond_signal(&s->cv);
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&s->mu);
}

static int bench_sync(const char *dir, const char *url, const char *app, const char *token,
		      long expect)
{
	souk_client *c = make_client(dir, "sync.db", url, app);
	if (!c)
		return 1;
	sync_state s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	souk_client_set_event_callback(c, on_event, &s, NULL);
	souk_client_login(c, token);
	int64_t t0 = mono_ns(), cpu0 = cpu_ns();
	if (souk_client_start(c) != SOUK_OK) {
		fprintf(stderr, "sdkbench: start: %s\n", souk_client_errmsg(c));
		return 1;
	}
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 300;
	pthread_mutex_lock(&s.mu);
	while (!s.finished && !s.token_needed)
		if (pthread_cond_timedwait(&s.cv, &s.mu, &dl) != 0)
			break;
	int ok = s.finished && s.messages >= expect;
	double secs = s.finished ? (double)(s.t_finished - t0) / 1e9 : -1;
	double cpu = (double)(cpu_ns() - cpu0) / 1e9; /* to the end of the sync, about */
	long msgs = s.messages;
	pthread_mutex_unlock(&s.mu);
	souk_client_stop(c);
	souk_client_free(c);
	if (!ok) {
		fprintf(stderr, "sdkbench: sync did not finish (messages %ld of %ld, token %d)\n",
			msgs, expect, s.token_needed);
		return 1;
	}
	printf("RESULT {\"synced_messages\": %ld, \"sync_s\": %.3f, \"sdk_sync_msgs_per_s\": "
	       "%.1f, \"cpu_us_per_msg\": %.1f}\n",
	       msgs, secs, (double)msgs / secs, cpu * 1e6 / (double)msgs);
	return 0;
}

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sdkbench: %s: %s\n", sql, err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int bench_raw(const char *dir, int n, int batch)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/raw.db", dir);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	char keyspec[68] = "x'";
	for (int i = 0; i < 32; i++)
		snprintf(keyspec + 2 + 2 * i, 3, "%02x", KEY[i]);
	keyspec[66] = '\'';
	keyspec[67] = '\0';
	if (sqlite3_key(db, keyspec, 67) != SQLITE_OK)
		return 1;
	if (exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;") ||
	    exec(db, "CREATE TABLE messages (id INTEGER PRIMARY KEY, conv_id INTEGER NOT NULL,"
		     " message_id TEXT UNIQUE, client_msg_id BLOB, conv_seq INTEGER, seq INTEGER,"
		     " sender_id TEXT, sender_kind INTEGER NOT NULL DEFAULT 0, sender_name TEXT,"
		     " sender_device_id TEXT, outgoing INTEGER NOT NULL, content BLOB NOT NULL,"
		     " status INTEGER NOT NULL, error_code INTEGER NOT NULL DEFAULT 0,"
		     " error_reason TEXT, created_ms INTEGER NOT NULL,"
		     " server_time_ms INTEGER NOT NULL DEFAULT 0, sender_avatar_url TEXT);"
		     "CREATE INDEX messages_pending_by_cmid ON messages(client_msg_id)"
		     " WHERE message_id IS NULL;"
		     "CREATE INDEX messages_by_conv ON messages(conv_id, conv_seq);"))
		return 1;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO messages (conv_id, message_id, client_msg_id, conv_seq,"
			       " seq, sender_id, sender_kind, sender_device_id, outgoing, content,"
			       " status, created_ms, server_time_ms)"
			       " VALUES (1, ?1, ?2, ?3, ?3, 'u1', 1, 'dev', 1, ?4, 3, ?5, ?5)",
			       -1, &st, NULL) != SQLITE_OK)
		return 1;
	char body[101], mid[64];
	uint8_t cmid[16];
	int64_t t0 = mono_ns(), cpu0 = cpu_ns();
	for (int i = 0; i < n;) {
		if (exec(db, "BEGIN IMMEDIATE"))
			return 1;
		for (int k = 0; k < batch && i < n; k++, i++) {
			body100(body, i);
			snprintf(mid, sizeof(mid), "msg_%032d", i);
			memset(cmid, 0, sizeof(cmid));
			memcpy(cmid, &i, sizeof(i));
			sqlite3_bind_text(st, 1, mid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_blob(st, 2, cmid, sizeof(cmid), SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 3, i + 1);
			sqlite3_bind_blob(st, 4, body, 100, SQLITE_TRANSIENT);
			sqlite3_bind_int64(st, 5, 1700000000000LL + i);
			if (sqlite3_step(st) != SQLITE_DONE) {
				fprintf(stderr, "sdkbench: insert: %s\n", sqlite3_errmsg(db));
				return 1;
			}
			sqlite3_reset(st);
		}
		if (exec(db, "COMMIT"))
			return 1;
	}
	double secs = (double)(mono_ns() - t0) / 1e9;
	double cpu = (double)(cpu_ns() - cpu0) / 1e9;
	sqlite3_finalize(st);
	sqlite3_close(db);
	printf("RESULT {\"raw_rows\": %d, \"raw_batch\": %d, \"raw_s\": %.3f, "
	       "\"sqlcipher_raw_rows_per_s\": %.1f, \"cpu_us_per_row\": %.1f}\n",
	       n, batch, secs, (double)n / secs, cpu * 1e6 / n);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "send"))
		return bench_send(argv[2], atoi(argv[3]));
	if (argc == 7 && !strcmp(argv[1], "sync"))
		return bench_sync(argv[2], argv[3], argv[4], argv[5], atol(argv[6]));
	if (argc == 5 && !strcmp(argv[1], "raw"))
		return bench_raw(argv[2], atoi(argv[3]), atoi(argv[4]));
	fprintf(stderr, "usage: sdkbench send DIR N | sync DIR URL APP TOKEN EXPECT |"
			" raw DIR N BATCH\n");
	return 2;
}
