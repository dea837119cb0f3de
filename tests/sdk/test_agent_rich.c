/*
 * An agent answers with rich content over the REST API (POST /v1/conversations/{id}/
 * messages): a product card, an order card, quick replies and a CSAT survey reach the
 * shopper's SDK typed. The shopper taps a quick reply and rates the conversation; the
 * server has the reply's title as a text message and the csat_answer (GET .../messages).
 * Assignment and handoff reach the SDK as the conversation's assignee and controller.
 */
#include "rest_json.h"

typedef struct st {
	int64_t conv;
	int incoming;
	char assignee[64];
	char controller[64];
} st;

static void on_event(const souk_event *ev, void *arg)
{
	st *s = arg;
	if (souk_event_get_type(ev) == SOUK_EVENT_MESSAGE_ADDED &&
	    !souk_message_is_outgoing(souk_event_get_message(ev)))
		s->incoming++;
	if (souk_event_get_type(ev) == SOUK_EVENT_CONVERSATION_UPDATED) {
		const souk_conversation *c = souk_event_get_conversation(ev);
		const char *a = souk_conversation_get_assignee(c);
		const char *k = souk_conversation_get_controller(c);
		snprintf(s->assignee, sizeof(s->assignee), "%s", a ? a : "");
		snprintf(s->controller, sizeof(s->controller), "%s", k ? k : "");
	}
}

static int four_incoming(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->incoming == 4;
}

static int assigned(souk_client *c, void *arg)
{
	(void)c;
	return strcmp(((st *)arg)->assignee, "agent-7") == 0;
}

static int handed_to_bot(souk_client *c, void *arg)
{
	(void)c;
	return strcmp(((st *)arg)->controller, "bot") == 0;
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
	char *token = th_token(&srv, "shopper-qr", 3600);
	souk_client *a = th_started_client(&srv, "a.db", "phone", 0, token);
	st s = {0};
	CHECK_OK(souk_client_open_support_conversation(&s.conv, a));
	CHECK_OK(souk_client_send_text(NULL, a, s.conv, "My order is late"));
	th_wait(a, synced, NULL, on_event, &s, 60000, "the question acked");
	souk_conversation *cv = NULL;
	CHECK_OK(souk_client_get_conversation(&cv, a, s.conv));
	char sid[160], path[256], body[2048];
	snprintf(sid, sizeof(sid), "%s", souk_conversation_get_server_id(cv));
	CHECK_EQ(souk_conversation_get_kind(cv), SOUK_CONVERSATION_KIND_SUPPORT);
	CHECK_STR(souk_conversation_get_controller(cv), "desk"); /* the app's default */
	CHECK(souk_conversation_get_assignee(cv) == NULL);
	souk_conversation_free(cv);

	/* ---- the agent answers with a product, an order, quick replies, a survey ---- */
	const char *sender =
		"\"sender\": {\"id\": \"bot-1\", \"kind\": \"bot\", \"name\": \"Shopbot\"}";
	const char *contents[] = {
		("{\"fallback_text\": \"Trail shoe, 89.99 EUR\", \"product\": {\"product_id\": "
		 "\"sku-1\", \"title\": \"Trail shoe\", \"image_url\": "
		 "\"https://cdn.example/1.png\", "
		 "\"url\": \"https://shop.example/p/1\", \"price\": {\"amount_minor\": 8999, "
		 "\"currency\": \"EUR\"}}}"),
		("{\"order\": {\"order_id\": \"o-42\", \"status\": \"shipped\", \"items\": "
		 "[{\"product_id\": \"sku-1\", \"title\": \"Trail shoe\", \"quantity\": 1, "
		 "\"price\": "
		 "{\"amount_minor\": 8999, \"currency\": \"EUR\"}}], \"total\": {\"amount_minor\": "
		 "8999, \"currency\": \"EUR\"}}}"),
		("{\"fallback_text\": \"Track your order? Yes / No\", \"quick_replies\": "
		 "{\"prompt\": "
		 "\"Track your order?\", \"replies\": [{\"id\": \"yes\", \"title\": \"Yes "
		 "please\"}, "
		 "{\"id\": \"no\", \"title\": \"No thanks\"}]}}"),
		("{\"csat_survey\": {\"survey_id\": \"s-1\", \"question\": \"How did we do?\", "
		 "\"scale\": 5}}"),
	};
	snprintf(path, sizeof(path), "/v1/conversations/%s/messages", sid);
	for (size_t i = 0; i < 4; i++) {
		snprintf(body, sizeof(body), "{%s, \"content\": %s}", sender, contents[i]);
		CHECK_EQ(th_http(&srv, "POST", path, body, NULL, 0), 201);
	}
	th_wait(a, four_incoming, &s, on_event, &s, 60000, "the agent's four messages");
	th_list *l = th_messages(a, s.conv);
	CHECK_EQ(l->n, 5);
	const souk_message *pm = l->v[1], *om = l->v[2], *qm = l->v[3], *sm = l->v[4];
	CHECK_EQ(souk_message_get_sender_kind(pm), SOUK_SENDER_BOT);
	const souk_content *c = souk_message_get_content(pm);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_PRODUCT);
	CHECK_STR(souk_content_get_product_id(c), "sku-1");
	CHECK_STR(souk_content_get_product_title(c), "Trail shoe");
	CHECK_STR(souk_content_get_product_image_url(c), "https://cdn.example/1.png");
	CHECK_STR(souk_content_get_product_url(c), "https://shop.example/p/1");
	CHECK_EQ(souk_content_get_product_price_minor(c), 8999);
	CHECK_STR(souk_content_get_product_price_currency(c), "EUR");
	c = souk_message_get_content(om);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_ORDER);
	CHECK_STR(souk_content_get_order_id(c), "o-42");
	CHECK_STR(souk_content_get_order_status(c), "shipped");
	CHECK_EQ(souk_content_get_order_item_count(c), 1);
	CHECK_EQ(souk_content_get_order_item_quantity(c, 0), 1);
	CHECK_EQ(souk_content_get_order_total_minor(c), 8999);
	CHECK_STR(souk_message_get_text(om), "[order]"); /* no fallback: the label */
	c = souk_message_get_content(qm);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_QUICK_REPLIES);
	CHECK_STR(souk_content_get_quick_replies_prompt(c), "Track your order?");
	CHECK_EQ(souk_content_get_quick_reply_count(c), 2);
	CHECK_STR(souk_content_get_quick_reply_id(c, 0), "yes");
	CHECK_STR(souk_content_get_quick_reply_title(c, 0), "Yes please");
	c = souk_message_get_content(sm);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_CSAT_SURVEY);
	CHECK_STR(souk_content_get_csat_survey_id(c), "s-1");
	CHECK_STR(souk_content_get_csat_question(c), "How did we do?");
	CHECK_EQ(souk_content_get_csat_scale(c), 5);
	int64_t qr_id = souk_message_get_id(qm), survey_id = souk_message_get_id(sm);
	int64_t product_id = souk_message_get_id(pm);
	th_list_free(l);

	/* ---- the shopper taps a reply and rates; wrong taps are refused ---- */
	CHECK_EQ(souk_client_send_quick_reply(NULL, a, s.conv, qr_id, "maybe"), SOUK_EINVAL);
	CHECK_EQ(souk_client_send_quick_reply(NULL, a, s.conv, product_id, "yes"), SOUK_EINVAL);
	CHECK_EQ(souk_client_send_quick_reply(NULL, a, s.conv, 99999, "yes"), SOUK_ENOTFOUND);
	CHECK_EQ(souk_client_answer_csat(NULL, a, s.conv, survey_id, 6, NULL), SOUK_EINVAL);
	CHECK_EQ(souk_client_answer_csat(NULL, a, s.conv, survey_id, 0, NULL), SOUK_EINVAL);
	CHECK_EQ(souk_client_answer_csat(NULL, a, s.conv, qr_id, 3, NULL), SOUK_EINVAL);
	size_t pending = 9;
	CHECK_OK(souk_client_outbox_count(&pending, a));
	CHECK_EQ(pending, 0);
	int64_t tap = 0, rating = 0;
	CHECK_OK(souk_client_send_quick_reply(&tap, a, s.conv, qr_id, "yes"));
	CHECK_OK(souk_client_answer_csat(&rating, a, s.conv, survey_id, 4, "quick"));
	souk_message *m = NULL;
	CHECK_OK(souk_client_get_message(&m, a, tap));
	CHECK_EQ(souk_message_get_content_kind(m), SOUK_CONTENT_TEXT);
	CHECK_STR(souk_message_get_text(m), "Yes please");
	souk_message_free(m);
	CHECK_OK(souk_client_get_message(&m, a, rating));
	CHECK_EQ(souk_content_get_csat_rating(souk_message_get_content(m)), 4);
	CHECK_STR(souk_message_get_text(m), "Rated 4/5: quick");
	souk_message_free(m);
	th_wait(a, th_outbox_empty, NULL, on_event, &s, 60000, "the tap and the rating acked");

	json_t *j = rj_get(&srv, path);
	CHECK_EQ(json_array_size(rj_at(j, "messages")), 7);
	CHECK_STR(rj_str(j, "messages.5.sender.kind"), "shopper");
	CHECK_STR(rj_str(j, "messages.5.content.text.body"), "Yes please");
	CHECK_STR(rj_str(j, "messages.6.content.csat_answer.survey_id"), "s-1");
	CHECK_EQ(rj_int(j, "messages.6.content.csat_answer.rating"), 4);
	CHECK_STR(rj_str(j, "messages.6.content.csat_answer.comment"), "quick");
	CHECK_STR(rj_str(j, "messages.6.content.fallback_text"), "Rated 4/5: quick");
	json_decref(j);

	/* ---- assignment and the switchboard ---- */
	snprintf(path, sizeof(path), "/v1/conversations/%s", sid);
	CHECK_EQ(th_http(&srv, "PATCH", path, "{\"assignee\": \"agent-7\"}", NULL, 0), 200);
	th_wait(a, assigned, &s, on_event, &s, 60000, "the assignee");
	snprintf(path, sizeof(path), "/v1/conversations/%s/handoff", sid);
	CHECK_EQ(th_http(&srv, "POST", path, "{\"to\": \"bot\", \"reason\": \"night shift\"}", NULL,
			 0),
		 200);
	th_wait(a, handed_to_bot, &s, on_event, &s, 60000, "the controller");
	CHECK_OK(souk_client_get_conversation(&cv, a, s.conv));
	CHECK_STR(souk_conversation_get_controller(cv), "bot");
	CHECK_STR(souk_conversation_get_assignee(cv), "agent-7");
	CHECK(souk_conversation_is_support(cv));
	souk_conversation_free(cv);

	souk_client_free(a);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
