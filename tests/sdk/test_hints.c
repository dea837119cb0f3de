/*
 * The app's hints change when the SDK connects, never what it delivers:
 *  - BACKGROUND with nothing to do: the connection is closed and stays closed;
 *  - a send while in the background connects, delivers, and closes again;
 *  - PUSH_RECEIVED in the background connects, syncs what another device sent, closes;
 *  - FOREGROUND connects and stays connected;
 *  - NETWORK_LOST disconnects and makes no attempt; a message written meanwhile stays
 *    pending until NETWORK_CHANGED, then goes.
 */
#include "harness.h"

#include <string.h>

typedef struct st {
	int connected;	  /* CONNECTED states seen */
	int disconnected; /* WAITING states after a connection */
	int added;	  /* MESSAGE_ADDED from the other device */
	int state;
} st;

static void on_event(const souk_event *ev, void *arg)
{
	st *s = arg;
	if (souk_event_get_type(ev) == SOUK_EVENT_CONNECTION_STATE) {
		int state = souk_event_get_connection_state(ev);
		if (state == SOUK_CONNECTION_CONNECTED)
			s->connected++;
		if (state == SOUK_CONNECTION_WAITING && s->state == SOUK_CONNECTION_CONNECTED)
			s->disconnected++;
		s->state = state;
	}
	if (souk_event_get_type(ev) == SOUK_EVENT_MESSAGE_ADDED &&
	    strcmp(souk_message_get_text(souk_event_get_message(ev)), "from the tablet") == 0)
		s->added++;
}

static int n_connected;
static int connected_n(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->connected >= n_connected &&
	       ((st *)arg)->state == SOUK_CONNECTION_CONNECTED;
}
static int closed_after_n(souk_client *c, void *arg)
{
	(void)c;
	st *s = arg;
	return s->connected >= n_connected && s->state == SOUK_CONNECTION_WAITING;
}
static int live_and_empty(souk_client *c, void *arg)
{
	return connected_n(c, arg) && th_outbox_empty(c, NULL);
}
static int got_tablet_message(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->added == 1;
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-hints", 3600);
	souk_client *a = th_started_client(&srv, "a.db", "phone", 0, token);
	souk_client *b = th_started_client(&srv, "b.db", "tablet", 1, token);
	st s = {0};
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));
	n_connected = 1;
	th_wait(a, live_and_empty, &s, on_event, &s, 60000, "a connected");

	/* background, idle: closed */
	CHECK_OK(souk_client_hint(a, SOUK_HINT_BACKGROUND));
	th_wait(a, closed_after_n, &s, on_event, &s, 60000, "closed in the background");
	CHECK_EQ(s.disconnected, 1);

	/* a send in the background: connect, deliver, close */
	int64_t id = 0;
	CHECK_OK(souk_client_send_text(&id, a, conv, "sent from the background"));
	n_connected = 2;
	th_wait(a, closed_after_n, &s, on_event, &s, 60000, "connected for the send, closed again");
	souk_message *m = NULL;
	CHECK_OK(souk_client_get_message(&m, a, id));
	CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_SENT);
	souk_message_free(m);
	CHECK_EQ(s.disconnected, 2);

	/* a push in the background: connect, sync the tablet's message, close */
	int64_t conv_b = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv_b, b));
	CHECK_OK(souk_client_send_text(NULL, b, conv_b, "from the tablet"));
	th_wait(b, th_outbox_empty, NULL, NULL, NULL, 60000, "the tablet's message acked");
	CHECK_OK(souk_client_hint(a, SOUK_HINT_PUSH_RECEIVED));
	n_connected = 3;
	th_wait(a, got_tablet_message, &s, on_event, &s, 60000, "synced after the push");
	th_wait(a, closed_after_n, &s, on_event, &s, 60000, "closed again after the sync");

	/* foreground: connected, and stays so */
	CHECK_OK(souk_client_hint(a, SOUK_HINT_FOREGROUND));
	n_connected = 4;
	th_wait(a, connected_n, &s, on_event, &s, 60000, "connected in the foreground");

	/* network lost: disconnected, no attempts, the message waits */
	CHECK_OK(souk_client_hint(a, SOUK_HINT_NETWORK_LOST));
	th_wait(a, closed_after_n, &s, on_event, &s, 60000, "disconnected on network loss");
	CHECK_OK(souk_client_send_text(&id, a, conv, "written in a tunnel"));
	th_sleep_ms(300); /* a wrong reconnect would have time to deliver it */
	th_drain(a, on_event, &s);
	CHECK_EQ(s.connected, 4);
	CHECK_OK(souk_client_get_message(&m, a, id));
	CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_PENDING);
	souk_message_free(m);
	CHECK_OK(souk_client_hint(a, SOUK_HINT_NETWORK_CHANGED));
	n_connected = 5;
	th_wait(a, live_and_empty, &s, on_event, &s, 60000, "delivered when the network is back");

	souk_client_free(b);
	souk_client_free(a);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
