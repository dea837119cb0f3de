/*
 * Process death: a client process sends messages and is SIGKILLed at a random moment —
 * before, during or after acks — ten times over on the same database. Then a new process
 * (this one) opens the database and delivers what is pending. Every message whose send()
 * returned is delivered exactly once, messages keep their send order, and nothing is
 * doubled: checked on the sending database and on a second device of the same user.
 *
 * The server's rate limit is set low so that RATE_LIMITED refusals (transient: the SDK
 * must retry the same client message id later) happen along the way.
 */
#include "harness.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { ROUNDS = 10, MAX_TEXTS = 2000 };

static int child_main(int argc, char **argv)
{
	/* child URL APP_ID TOKEN ROUND FD */
	if (argc != 7)
		return 2;
	th_server s;
	memset(&s, 0, sizeof(s));
	snprintf(s.app_id, sizeof(s.app_id), "%s", argv[3]);
	int port = 0;
	if (sscanf(argv[2], "ws://127.0.0.1:%d", &port) != 1)
		return 2;
	s.port = port;
	int round = atoi(argv[5]);
	int fd = atoi(argv[6]);
	souk_client *c = th_started_client(&s, "victim.db", "victim", 0, argv[4]);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, c));
	for (int i = 0; i < 80; i++) {
		char text[64];
		int n = snprintf(text, sizeof(text), "r%02d-m%03d", round, i);
		CHECK_OK(souk_client_send_text(NULL, c, conv, text));
		text[n] = '\n';
		if (write(fd, text, (size_t)n + 1) != n + 1)
			return 3;
		if (th_rand() % 3 == 0)
			th_sleep_ms((int)(th_rand() % 15));
	}
	/* everything queued: wait to be killed while the SDK thread works */
	for (;;) {
		souk_event *ev;
		if (souk_client_next_event(&ev, c, 1000) == SOUK_OK)
			souk_event_free(ev);
	}
}

typedef struct texts {
	char *v[MAX_TEXTS];
	size_t n;
} texts;

static void texts_add(texts *t, const char *s)
{
	CHECK(t->n < MAX_TEXTS);
	t->v[t->n++] = strdup(s);
}

static int texts_count(const texts *t, const char *s)
{
	int n = 0;
	for (size_t i = 0; i < t->n; i++)
		n += strcmp(t->v[i], s) == 0;
	return n;
}

static void run_round(const char *self, th_server *srv, const char *token, int round,
		      texts *reported)
{
	int p[2];
	CHECK(pipe(p) == 0);
	char fdarg[16], roundarg[16];
	snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
	snprintf(roundarg, sizeof(roundarg), "%d", round);
	const char *url = th_url(srv);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		setenv("SOUK_TEST_SHARED_DIR", th_tmpdir(), 1);
		execl(self, self, "child", url, srv->app_id, token, roundarg, fdarg, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* a random moment: early rounds die before connecting, later ones mid-stream */
	int delay = round < 2 ? (int)(th_rand() % 40) : 20 + (int)(th_rand() % 700);
	th_sleep_ms(delay);
	kill(pid, SIGKILL);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	char buf[65536];
	size_t len = 0;
	ssize_t k;
	while ((k = read(p[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)k;
	close(p[0]);
	buf[len] = '\0';
	size_t before = reported->n;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		texts_add(reported, line);
	th_log("round %d: killed after %d ms, %zu sends had returned", round, delay,
	       reported->n - before);
}

static int round_of(const char *t)
{
	return atoi(t + 1);
}
static int index_of(const char *t)
{
	return atoi(t + 5);
}

/* The support conversation's messages, checked for exactly-once and order. */
static void check_list(souk_client *c, int64_t conv, texts *out)
{
	th_list *l = th_messages(c, conv);
	size_t n = l->n;
	for (size_t i = 0; i < n; i++) {
		const souk_message *m = l->v[i];
		const char *t = souk_message_get_text(m);
		CHECK_EQ(souk_message_get_conv_seq(m), i + 1); /* dense: nothing stored twice */
		CHECK(souk_message_get_status(m) == SOUK_MESSAGE_SENT);
		CHECK(texts_count(out, t) == 0);
		if (out->n > 0) {
			/* send order: by round, then by index within a round */
			const char *prev = out->v[out->n - 1];
			CHECK(round_of(prev) < round_of(t) ||
			      (round_of(prev) == round_of(t) && index_of(prev) < index_of(t)));
		}
		texts_add(out, t);
	}
	th_list_free(l);
}

static int synced_to(souk_client *c, void *arg)
{
	uint64_t want = *(uint64_t *)arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1 &&
		 souk_conversation_get_last_conv_seq(souk_conversation_list_get(l, 0)) >= want;
	souk_conversation_list_free(l);
	return ok;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "child") == 0)
		return child_main(argc, argv);

	th_server srv;
	th_server_init(&srv, "{\"send_rate_per_s\": 100, \"send_burst\": 30}");
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-kill", 3600);
	texts reported = {0};
	for (int r = 0; r < ROUNDS; r++)
		run_round(argv[0], &srv, token, r, &reported);
	CHECK(reported.n > 0);

	/* the survivor: same database, a new process's client */
	souk_client *c = th_client(&srv, "victim.db", "victim", 0);
	size_t pending = 0;
	CHECK_OK(souk_client_outbox_count(&pending, c));
	th_log("%zu sends returned in total; %zu still pending", reported.n, pending);
	CHECK_OK(souk_client_login(c, token));
	CHECK_OK(souk_client_start(c));
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, c));
	th_wait(c, th_outbox_empty, NULL, NULL, NULL, 120000, "the outbox to drain");

	texts stored = {0};
	check_list(c, conv, &stored);
	for (size_t i = 0; i < reported.n; i++)
		if (texts_count(&stored, reported.v[i]) != 1)
			th_fail(__FILE__, __LINE__, "reported message %s stored %d times",
				reported.v[i], texts_count(&stored, reported.v[i]));
	th_log("%zu messages delivered (%zu reported before a kill)", stored.n, reported.n);

	/* a second device of the user sees the same messages, once each, in order */
	souk_client *obs = th_started_client(&srv, "observer.db", "observer", 1, token);
	uint64_t want = stored.n;
	th_wait(obs, synced_to, &want, NULL, NULL, 120000, "the observer to sync");
	souk_conversation_list *cl = NULL;
	CHECK_OK(souk_client_list_conversations(&cl, obs));
	int64_t oconv = souk_conversation_get_id(souk_conversation_list_get(cl, 0));
	CHECK_EQ(souk_conversation_get_last_conv_seq(souk_conversation_list_get(cl, 0)), stored.n);
	souk_conversation_list_free(cl);
	texts seen = {0};
	check_list(obs, oconv, &seen);
	CHECK_EQ(seen.n, stored.n);
	for (size_t i = 0; i < seen.n; i++)
		CHECK(strcmp(seen.v[i], stored.v[i]) == 0);

	souk_client_free(obs);
	souk_client_free(c);
	th_server_stop(&srv);
	for (size_t i = 0; i < reported.n; i++)
		free(reported.v[i]);
	for (size_t i = 0; i < stored.n; i++)
		free(stored.v[i]);
	for (size_t i = 0; i < seen.n; i++)
		free(seen.v[i]);
	free(token);
	th_log("ok");
	return 0;
}
