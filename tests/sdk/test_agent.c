/*
 * A conversation with the shop: an agent answers through soukd's REST API (as a help desk
 * would) and the shopper's SDK shows it — incoming messages (RECEIVED, sender kind and
 * name, unread counts, a product card shown by its fallback text), the agent's typing,
 * the agent's read receipt turning the shopper's message READ, a status change of the
 * conversation, and the shopper's read position reaching the user's other device.
 */
#include "harness.h"

#include <string.h>

typedef struct st {
	int64_t conv;
	int incoming;
	int typing_on;
	int read_updates;
	int status;
	char agent_name[64];
} st;

static void on_event(const souk_event *ev, void *arg)
{
	st *s = arg;
	const souk_message *m = souk_event_get_message(ev);
	switch (souk_event_get_type(ev)) {
	case SOUK_EVENT_MESSAGE_ADDED:
		if (!souk_message_is_outgoing(m)) {
			s->incoming++;
			CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_RECEIVED);
			CHECK_EQ(souk_message_get_sender_kind(m), SOUK_SENDER_AGENT);
			CHECK(souk_message_get_sender_name(m) != NULL);
			snprintf(s->agent_name, sizeof(s->agent_name), "%s",
				 souk_message_get_sender_name(m));
		}
		break;
	case SOUK_EVENT_MESSAGE_UPDATED:
		if (souk_message_get_status(m) == SOUK_MESSAGE_READ)
			s->read_updates++;
		break;
	case SOUK_EVENT_TYPING:
		if (souk_event_get_typing(ev) && souk_event_get_conversation_id(ev) == s->conv) {
			CHECK(souk_event_get_user_id(ev) != NULL);
			CHECK(strcmp(souk_event_get_user_id(ev), "agent-7") == 0);
			s->typing_on++;
		}
		break;
	case SOUK_EVENT_CONVERSATION_UPDATED:
		s->status = souk_conversation_get_status(souk_event_get_conversation(ev));
		break;
	default:
		break;
	}
}

static int typing_seen(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->typing_on > 0;
}
static int two_incoming(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->incoming == 2;
}
static int read_seen(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->read_updates > 0;
}
static int pending_status(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->status == SOUK_CONVERSATION_PENDING;
}
static int b_read_all(souk_client *c, void *arg)
{
	(void)arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1 &&
		 souk_conversation_get_read_up_to(souk_conversation_list_get(l, 0)) == 3 &&
		 souk_conversation_get_unread_count(souk_conversation_list_get(l, 0)) == 0;
	souk_conversation_list_free(l);
	return ok;
}
static int synced(souk_client *c, void *arg)
{
	(void)arg;
	return souk_client_get_connection_state(c) == SOUK_CONNECTION_CONNECTED &&
	       th_outbox_empty(c, NULL);
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-agent", 3600);
	souk_client *a = th_started_client(&srv, "a.db", "phone", 0, token);
	st s = {0};
	CHECK_OK(souk_client_open_support_conversation(&s.conv, a));
	int64_t mine = 0;
	CHECK_OK(souk_client_send_text(&mine, a, s.conv, "Where is order 1234?"));
	th_wait(a, synced, NULL, on_event, &s, 60000, "the question acked");
	souk_conversation *cv = NULL;
	CHECK_OK(souk_client_get_conversation(&cv, a, s.conv));
	char path[256], sid[160];
	snprintf(sid, sizeof(sid), "%s", souk_conversation_get_server_id(cv));
	souk_conversation_free(cv);

	/* the agent types, then answers with text and a product card */
	const char *sender = "\"sender\": {\"id\": \"agent-7\", \"kind\": \"agent\", \"name\": "
			     "\"Sam\", \"avatar_url\": \"https://cdn.example/sam.png\"}";
	char body[1024];
	snprintf(path, sizeof(path), "/v1/conversations/%s/typing", sid);
	snprintf(body, sizeof(body), "{%s, \"on\": true}", sender);
	CHECK_EQ(th_http(&srv, "POST", path, body, NULL, 0), 204);
	th_wait(a, typing_seen, &s, on_event, &s, 60000, "the agent typing");
	snprintf(path, sizeof(path), "/v1/conversations/%s/messages", sid);
	snprintf(body, sizeof(body),
		 "{%s, \"content\": {\"text\": {\"body\": \"It ships today\"}}}", sender);
	CHECK_EQ(th_http(&srv, "POST", path, body, NULL, 0), 201);
	snprintf(body, sizeof(body),
		 "{%s, \"content\": {\"fallback_text\": \"Trail shoe, 89.99 EUR\", \"product\": "
		 "{\"product_id\": \"sku-1\", \"title\": \"Trail shoe\", \"price\": "
		 "{\"amount_minor\": 8999, \"currency\": \"EUR\"}}}}",
		 sender);
	CHECK_EQ(th_http(&srv, "POST", path, body, NULL, 0), 201);
	th_wait(a, two_incoming, &s, on_event, &s, 60000, "the agent's two messages");
	CHECK(strcmp(s.agent_name, "Sam") == 0);
	th_list *l = th_messages(a, s.conv);
	CHECK_EQ(l->n, 3);
	CHECK(strcmp(souk_message_get_text(l->v[1]), "It ships today") == 0);
	CHECK_EQ(souk_message_get_content_kind(l->v[2]), SOUK_CONTENT_PRODUCT);
	CHECK(strcmp(souk_message_get_text(l->v[2]), "Trail shoe, 89.99 EUR") == 0);
	CHECK(strcmp(souk_message_get_sender_id(l->v[2]), "agent-7") == 0);
	CHECK(souk_message_get_sender_avatar_url(l->v[2]) != NULL);
	CHECK(strcmp(souk_message_get_sender_avatar_url(l->v[2]), "https://cdn.example/sam.png") ==
	      0);
	th_list_free(l);
	CHECK_OK(souk_client_get_conversation(&cv, a, s.conv));
	CHECK_EQ(souk_conversation_get_unread_count(cv), 2);
	souk_conversation_free(cv);

	/* the agent read the question: it shows as read */
	snprintf(path, sizeof(path), "/v1/conversations/%s/read", sid);
	snprintf(body, sizeof(body), "{%s, \"up_to_conv_seq\": 1}", sender);
	CHECK_EQ(th_http(&srv, "POST", path, body, NULL, 0), 204);
	th_wait(a, read_seen, &s, on_event, &s, 60000, "the question read by the agent");
	souk_message *m = NULL;
	CHECK_OK(souk_client_get_message(&m, a, mine));
	CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_READ);
	souk_message_free(m);
	CHECK_OK(souk_client_get_conversation(&cv, a, s.conv));
	CHECK_EQ(souk_conversation_get_peer_read_up_to(cv), 1);
	souk_conversation_free(cv);

	/* the desk moves the conversation to pending */
	snprintf(path, sizeof(path), "/v1/conversations/%s", sid);
	CHECK_EQ(th_http(&srv, "PATCH", path, "{\"status\": \"pending\"}", NULL, 0), 200);
	th_wait(a, pending_status, &s, on_event, &s, 60000, "the conversation pending");

	/* the shopper reads everything; the other device learns it */
	souk_client *b = th_started_client(&srv, "b.db", "tablet", 1, token);
	CHECK_OK(souk_client_mark_read(a, s.conv, 0));
	CHECK_OK(souk_client_get_conversation(&cv, a, s.conv));
	CHECK_EQ(souk_conversation_get_unread_count(cv), 0);
	souk_conversation_free(cv);
	th_wait(b, b_read_all, NULL, NULL, NULL, 60000, "the tablet learns the read position");

	souk_client_free(b);
	souk_client_free(a);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
