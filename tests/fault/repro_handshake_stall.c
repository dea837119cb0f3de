/*
 * repro_handshake_stall.c — minimal reproduction of a libsouk bug found by the fault
 * checker (docs/fault-testing.md, "Findings"): a client whose WebSocket handshake got no
 * answer stayed CONNECTING for ever and never reconnected.
 *
 * A server that accepts TCP but does not answer the upgrade (here: a socket that listens
 * and never accepts; in the checker: soukd paused by SIGSTOP, or slow to come back) makes
 * libwebsockets 4.1 give up on the handshake after its pending timeout (about 5 s, "TIMEDOUT
 * WAITING on 4" in the lws log) and free the wsi without LWS_CALLBACK_CLIENT_CONNECTION_ERROR
 * or LWS_CALLBACK_CLIENT_CLOSED. sdk/src/session.c waited for one of those two callbacks to
 * leave PH_CONNECTING, so the session stayed there with a dangling `wsi`: no socket, no
 * timer, no further attempt — a device that silently stops syncing and sending until the
 * app restarts it.
 *
 * Expected: CONNECTING, then WAITING when the attempt fails, then CONNECTING again (the
 * backoff is 50..1000 ms). Exit 0 when the client retried, 1 when it is stuck. Fixed in
 * sdk/src/session.c (LWS_CALLBACK_WSI_DESTROY ends the attempt); kept as the regression
 * test fault.repro_handshake_stall.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fault_util.h"
#include "souk/souk.h"

static const char *state_name(souk_connection_state s)
{
	static const char *n[] = {"STOPPED", "WAITING", "CONNECTING", "CONNECTED"};
	return (unsigned)s < 4 ? n[s] : "?";
}

/* Pulls events for up to ms; returns how many CONNECTING states were seen. */
static int watch(souk_client *c, int64_t t0, int64_t ms)
{
	int connecting = 0;
	int64_t end = fu_now_ms() + ms;
	while (fu_now_ms() < end) {
		souk_event *ev = NULL;
		if (souk_client_next_event(&ev, c, 200) != SOUK_OK)
			continue;
		if (souk_event_get_type(ev) == SOUK_EVENT_CONNECTION_STATE) {
			souk_connection_state s = souk_event_get_connection_state(ev);
			printf("[%6.2fs] %s%s%s\n", (double)(fu_now_ms() - t0) / 1000.0,
			       state_name(s), souk_event_get_error_message(ev) ? ": " : "",
			       souk_event_get_error_message(ev) ? souk_event_get_error_message(ev)
								: "");
			connecting += s == SOUK_CONNECTION_CONNECTING;
		}
		souk_event_free(ev);
	}
	return connecting;
}

int main(void)
{
	/* a "server" that completes TCP handshakes (kernel backlog) and never answers */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof(a);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
		perror("listen");
		return 2;
	}
	char dir[] = "/tmp/souk-repro-XXXXXX", db[64], url[64];
	if (!mkdtemp(dir))
		return 2;
	snprintf(db, sizeof(db), "%s/c.db", dir);
	snprintf(url, sizeof(url), "ws://127.0.0.1:%d/v1/ws", ntohs(a.sin_port));
	uint8_t key[32] = {1};
	souk_client_options o;
	souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION);
	o.server_url = url;
	o.app_id = "app_repro";
	o.db_path = db;
	o.db_key = key;
	o.db_key_len = sizeof(key);
	o.heartbeat_s = 1;
	o.reconnect_min_ms = 50;
	o.reconnect_max_ms = 1000;
	souk_client *c = NULL;
	if (souk_client_create(&c, &o) != SOUK_OK || souk_client_login(c, "not.a.token") != 0 ||
	    souk_client_start(c) != SOUK_OK) {
		fprintf(stderr, "cannot start a client: %s\n", souk_client_errmsg(NULL));
		return 2;
	}
	int64_t t0 = fu_now_ms();
	printf("server %s accepts TCP and never answers the upgrade\n", url);
	int n = watch(c, t0, 20000);
	int stuck = n < 2;
	if (stuck) {
		/* nothing listens any more: a new attempt would fail at once; tell the SDK the
		 * network changed, which should make it reconnect now */
		close(lfd);
		lfd = -1;
		printf("[%6.2fs] listener closed; SOUK_HINT_NETWORK_CHANGED\n",
		       (double)(fu_now_ms() - t0) / 1000.0);
		souk_client_hint(c, SOUK_HINT_NETWORK_CHANGED);
		n += watch(c, t0, 10000);
	}
	printf("%s: %d connection attempt(s) in %.0f s\n",
	       stuck ? "STUCK (bug)" : "ok, the client kept retrying", n,
	       (double)(fu_now_ms() - t0) / 1000.0);
	fflush(stdout);
	souk_client_free(c);
	if (lfd >= 0)
		close(lfd);
	char p[80];
	static const char *const sfx[] = {"", "-wal", "-shm"};
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
	rmdir(dir);
	return stuck;
}
