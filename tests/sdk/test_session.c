/*
 * The session with a real soukd: tokens, users, and the server going away.
 *
 *  - a token the server refuses: TOKEN_NEEDED (wire code 201) and a WAITING state with
 *    SOUK_EAUTH; souk_client_set_token() with a good one connects;
 *  - a new process on a store with a session asks for a token (TOKEN_NEEDED, code 0);
 *  - a token of another user: SOUK_EUSER, nothing of the stored user's data is mixed;
 *    logout with wipe lets the other user in;
 *  - the server frozen (SIGSTOP) while messages are in flight, then killed (SIGKILL) and
 *    restarted on the same port and data: the in-flight messages are resent and stored
 *    once; a graceful stop (SIGTERM) and restart also resumes;
 *  - the heartbeat: a frozen server (the TCP connection stays open, nothing answers) is
 *    detected by the WebSocket ping and the client goes back to waiting; when the
 *    server thaws it connects again.
 */
#include "harness.h"

#include <signal.h>
#include <string.h>

typedef struct seen {
	int token_needed;
	int token_wire;
	int auth_waiting;
	int user_error;
	int connected;
	int synced;
} seen;

static void on_event(const souk_event *ev, void *arg)
{
	seen *s = arg;
	switch (souk_event_get_type(ev)) {
	case SOUK_EVENT_TOKEN_NEEDED:
		s->token_needed++;
		s->token_wire = souk_event_get_wire_code(ev);
		break;
	case SOUK_EVENT_CONNECTION_STATE:
		if (souk_event_get_connection_state(ev) == SOUK_CONNECTION_CONNECTED)
			s->connected++;
		if (souk_event_get_error(ev) == SOUK_EAUTH)
			s->auth_waiting++;
		if (souk_event_get_error(ev) == SOUK_EUSER)
			s->user_error++;
		break;
	case SOUK_EVENT_SYNC_FINISHED:
		s->synced++;
		break;
	default:
		break;
	}
}

static int got_token_needed(souk_client *c, void *arg)
{
	(void)c;
	return ((seen *)arg)->token_needed > 0;
}
static int got_synced(souk_client *c, void *arg)
{
	(void)c;
	return ((seen *)arg)->synced > 0;
}
static int got_user_error(souk_client *c, void *arg)
{
	(void)c;
	return ((seen *)arg)->user_error > 0;
}

static int lost(souk_client *c, void *arg)
{
	(void)arg;
	return souk_client_get_connection_state(c) != SOUK_CONNECTION_CONNECTED;
}

static char *bad_token(th_server *srv, const char *user)
{
	/* signed with a secret the app does not have */
	char *good = th_token(srv, user, 3600);
	char *dot = strrchr(good, '.');
	CHECK(dot && dot[1]);
	dot[1] = dot[1] == 'A' ? 'B' : 'A';
	return good;
}

static int conv_count(souk_client *c, uint64_t want)
{
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1 &&
		 souk_conversation_get_last_conv_seq(souk_conversation_list_get(l, 0)) == want;
	souk_conversation_list_free(l);
	return ok;
}
static int has_6(souk_client *c, void *arg)
{
	(void)arg;
	return conv_count(c, 6);
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_start(&srv);

	/* 1. a refused token, then a good one */
	char *bad = bad_token(&srv, "alice");
	char *alice = th_token(&srv, "alice", 3600);
	souk_client *a = th_started_client(&srv, "alice.db", "alice-phone", 0, bad);
	seen s = {0};
	th_wait(a, got_token_needed, &s, on_event, &s, 60000, "TOKEN_NEEDED for a bad token");
	CHECK_EQ(s.token_wire, 201); /* TOKEN_INVALID */
	CHECK(s.auth_waiting >= 1);
	CHECK_EQ(s.connected, 0);
	CHECK_EQ(souk_client_get_connection_state(a), SOUK_CONNECTION_WAITING);
	CHECK_OK(souk_client_set_token(a, alice));
	th_wait(a, got_synced, &s, on_event, &s, 60000, "connected with the good token");
	CHECK_EQ(s.token_needed, 1);
	CHECK_EQ(souk_client_get_connection_state(a), SOUK_CONNECTION_CONNECTED);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));
	CHECK_OK(souk_client_send_text(NULL, a, conv, "first"));
	th_wait(a, th_outbox_empty, NULL, on_event, &s, 60000, "first acked");
	souk_client_free(a);

	/* 2. a new process: the session is remembered, the token is not */
	a = th_client(&srv, "alice.db", "alice-phone", 0);
	CHECK_OK(souk_client_start(a));
	memset(&s, 0, sizeof(s));
	th_wait(a, got_token_needed, &s, on_event, &s, 60000, "TOKEN_NEEDED after a restart");
	CHECK_EQ(s.token_wire, 0);
	CHECK_OK(souk_client_login(a, alice));
	th_wait(a, got_synced, &s, on_event, &s, 60000, "resumed");
	CHECK_OK(souk_client_stop(a));

	/* 3. another user's token on alice's store */
	char *bob = th_token(&srv, "bob", 3600);
	CHECK_OK(souk_client_login(a, bob));
	CHECK_OK(souk_client_start(a));
	memset(&s, 0, sizeof(s));
	th_wait(a, got_user_error, &s, on_event, &s, 60000, "SOUK_EUSER for bob on alice's store");
	CHECK_EQ(s.synced, 0);
	souk_conversation_list *cl = NULL;
	CHECK_OK(souk_client_list_conversations(&cl, a));
	CHECK_EQ(souk_conversation_list_count(cl), 1); /* alice's data, untouched */
	souk_conversation_list_free(cl);
	CHECK_OK(souk_client_logout(a, SOUK_LOGOUT_WIPE));
	CHECK_OK(souk_client_login(a, bob));
	th_wait(a, got_synced, &s, on_event, &s, 60000, "bob in after the wipe");
	CHECK_OK(souk_client_list_conversations(&cl, a));
	CHECK_EQ(souk_conversation_list_count(cl), 0); /* bob has no conversation yet */
	souk_conversation_list_free(cl);
	souk_client_free(a);

	/* 4. the server freezes with messages in flight, dies, comes back */
	a = th_client(&srv, "alice2.db", "alice-tablet", 2);
	CHECK_OK(souk_client_login(a, alice));
	CHECK_OK(souk_client_start(a));
	memset(&s, 0, sizeof(s));
	th_wait(a, got_synced, &s, on_event, &s, 60000, "alice's second device connected");
	CHECK_OK(souk_client_open_support_conversation(&conv, a));
	th_wait(a, th_outbox_empty, NULL, on_event, &s, 60000, "conversation known");
	th_server_signal(&srv, SIGSTOP);
	for (int i = 2; i <= 4; i++) {
		char text[32];
		snprintf(text, sizeof(text), "in flight %d", i);
		CHECK_OK(souk_client_send_text(NULL, a, conv, text));
	}
	th_sleep_ms(200); /* let the SDK write them to the frozen server's socket */
	th_server_signal(&srv, SIGKILL);
	size_t pending = 0;
	CHECK_OK(souk_client_outbox_count(&pending, a));
	CHECK_EQ(pending, 3);
	th_server_start(&srv); /* same data, same port */
	CHECK_OK(souk_client_hint(a, SOUK_HINT_NETWORK_CHANGED));
	th_wait(a, th_outbox_empty, NULL, on_event, &s, 60000, "in-flight messages resent");

	/* a graceful stop and restart */
	th_server_signal(&srv, SIGTERM);
	CHECK_OK(souk_client_send_text(NULL, a, conv, "after the stop 5"));
	CHECK_OK(souk_client_send_text(NULL, a, conv, "after the stop 6"));
	th_server_start(&srv);
	CHECK_OK(souk_client_hint(a, SOUK_HINT_NETWORK_CHANGED));
	th_wait(a, th_outbox_empty, NULL, on_event, &s, 60000, "messages after the restart");
	th_wait(a, has_6, NULL, on_event, &s, 60000, "six messages in the conversation");
	th_list *l = th_messages(a, conv);
	CHECK_EQ(l->n, 6); /* "first" (synced from the first device) + 5, each once */
	for (size_t i = 0; i < l->n; i++)
		CHECK_EQ(souk_message_get_conv_seq(l->v[i]), i + 1);
	CHECK(strcmp(souk_message_get_text(l->v[0]), "first") == 0);
	CHECK(strcmp(souk_message_get_text(l->v[5]), "after the stop 6") == 0);
	th_list_free(l);
	souk_client_free(a);

	/* 5. the heartbeat notices a frozen server */
	th_heartbeat_s = 1;
	a = th_client(&srv, "alice3.db", "alice-watch", 3);
	CHECK_OK(souk_client_login(a, alice));
	CHECK_OK(souk_client_start(a));
	memset(&s, 0, sizeof(s));
	th_wait(a, got_synced, &s, on_event, &s, 60000, "the watch connected");
	th_server_signal(&srv, SIGSTOP);
	th_wait(a, lost, &s, on_event, &s, 60000, "the frozen server detected by the heartbeat");
	th_server_signal(&srv, SIGCONT);
	s.synced = 0;
	th_wait(a, got_synced, &s, on_event, &s, 60000, "reconnected after the thaw");
	souk_client_free(a);

	th_server_stop(&srv);
	free(bad);
	free(alice);
	free(bob);
	th_log("ok");
	return 0;
}
