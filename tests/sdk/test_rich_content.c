/*
 * Rich content end to end: a shopper sends one message of every kind (text, attachment,
 * product card, order card, quick replies, CSAT survey, CSAT answer) with
 * souk_client_send_content; the server stores them (checked over the REST API) and the
 * shopper's second device receives each once with every field intact through the typed
 * getters. Invalid content is refused locally with the documented codes and leaves
 * nothing in the outbox; the store holds no plaintext of the rich fields.
 */
#include "rest_json.h"

static souk_content *make(souk_content_kind kind)
{
	souk_content *c = NULL;
	CHECK_OK(souk_content_create(&c, kind));
	return c;
}

static void send(souk_client *c, int64_t conv, souk_content *content)
{
	CHECK_OK(souk_client_send_content(NULL, c, conv, content));
	souk_content_free(content);
}

static int seven_received(souk_client *c, void *arg)
{
	(void)arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1 &&
		 souk_conversation_get_last_conv_seq(souk_conversation_list_get(l, 0)) == 7;
	souk_conversation_list_free(l);
	return ok;
}

static void count_added(const souk_event *ev, void *arg)
{
	if (souk_event_get_type(ev) == SOUK_EVENT_MESSAGE_ADDED)
		(*(int *)arg)++;
}

/* The same checks on the sender's and on the other device's copies. */
static void check_all(th_list *l)
{
	CHECK_EQ(l->n, 7);
	const souk_content *c = souk_message_get_content(l->v[0]);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_TEXT);
	CHECK_STR(souk_content_get_text(c), "Do you have these in blue?");

	c = souk_message_get_content(l->v[1]);
	CHECK_EQ(souk_message_get_content_kind(l->v[1]), SOUK_CONTENT_ATTACHMENT);
	CHECK_STR(souk_content_get_attachment_url(c), "https://cdn.example/photo.jpg");
	CHECK_STR(souk_content_get_attachment_mime_type(c), "image/jpeg");
	CHECK_STR(souk_content_get_attachment_file_name(c), "photo.jpg");
	CHECK_EQ(souk_content_get_attachment_size(c), 123456);
	CHECK_EQ(souk_content_get_attachment_width(c), 1024);
	CHECK_EQ(souk_content_get_attachment_height(c), 768);
	CHECK_STR(souk_content_get_fallback_text(c), "[photo]");
	CHECK_STR(souk_message_get_text(l->v[1]), "[photo]");

	c = souk_message_get_content(l->v[2]);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_PRODUCT);
	CHECK_STR(souk_content_get_product_id(c), "sku-1");
	CHECK_STR(souk_content_get_product_title(c), "Trail shoe");
	CHECK_STR(souk_content_get_product_image_url(c), "https://cdn.example/sku-1.png");
	CHECK_STR(souk_content_get_product_url(c), "https://shop.example/p/sku-1");
	CHECK_EQ(souk_content_get_product_price_minor(c), 8999);
	CHECK_STR(souk_content_get_product_price_currency(c), "EUR");
	CHECK_STR(souk_message_get_text(l->v[2]), "Trail shoe, 89.99 EUR");

	c = souk_message_get_content(l->v[3]);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_ORDER);
	CHECK_STR(souk_content_get_order_id(c), "o-42");
	CHECK_STR(souk_content_get_order_status(c), "shipped");
	CHECK_EQ(souk_content_get_order_item_count(c), 2);
	CHECK_STR(souk_content_get_order_item_product_id(c, 0), "sku-1");
	CHECK_STR(souk_content_get_order_item_title(c, 0), "Trail shoe");
	CHECK_EQ(souk_content_get_order_item_quantity(c, 0), 1);
	CHECK_EQ(souk_content_get_order_item_price_minor(c, 0), 8999);
	CHECK_STR(souk_content_get_order_item_price_currency(c, 0), "EUR");
	CHECK_STR(souk_content_get_order_item_title(c, 1), "Socks");
	CHECK_EQ(souk_content_get_order_item_quantity(c, 1), 3);
	CHECK(souk_content_get_order_item_price_currency(c, 1) == NULL);
	CHECK_EQ(souk_content_get_order_total_minor(c), 8999);
	CHECK_STR(souk_content_get_order_total_currency(c), "EUR");

	c = souk_message_get_content(l->v[4]);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_QUICK_REPLIES);
	CHECK_STR(souk_content_get_quick_replies_prompt(c), "Which size?");
	CHECK_EQ(souk_content_get_quick_reply_count(c), 3);
	CHECK_STR(souk_content_get_quick_reply_id(c, 2), "s44");
	CHECK_STR(souk_content_get_quick_reply_title(c, 2), "44 (EU)");

	c = souk_message_get_content(l->v[5]);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_CSAT_SURVEY);
	CHECK_STR(souk_content_get_csat_survey_id(c), "s-9");
	CHECK_STR(souk_content_get_csat_question(c), "Rate the app?");
	CHECK_EQ(souk_content_get_csat_scale(c), 10);

	c = souk_message_get_content(l->v[6]);
	CHECK_EQ(souk_content_get_kind(c), SOUK_CONTENT_CSAT_ANSWER);
	CHECK_STR(souk_content_get_csat_survey_id(c), "s-9");
	CHECK_EQ(souk_content_get_csat_rating(c), 9);
	CHECK_STR(souk_content_get_csat_comment(c), "très bien");
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-rich", 3600);
	souk_client *a = th_started_client(&srv, "a.db", "phone", 0, token);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));

	/* ---- refused locally: nothing stored, the documented codes ---- */
	souk_content *bad = make(SOUK_CONTENT_PRODUCT);
	CHECK_OK(souk_content_set_product_id(bad, "sku-1"));
	CHECK_EQ(souk_client_send_content(NULL, a, conv, bad), SOUK_EINVAL);
	CHECK(strstr(souk_client_errmsg(a), "product.title is required") != NULL);
	CHECK_OK(souk_content_set_product_title(bad, "Trail shoe"));
	CHECK_OK(souk_content_set_product_price(bad, 8999, "euro"));
	CHECK_EQ(souk_client_send_content(NULL, a, conv, bad), SOUK_EINVAL);
	CHECK(strstr(souk_client_errmsg(a), "currency") != NULL);
	souk_content_free(bad);
	bad = make(SOUK_CONTENT_QUICK_REPLIES);
	CHECK_EQ(souk_client_send_content(NULL, a, conv, bad), SOUK_EINVAL);
	CHECK(strstr(souk_client_errmsg(a), "replies") != NULL);
	souk_content_free(bad);
	bad = make(SOUK_CONTENT_CSAT_ANSWER);
	CHECK_OK(souk_content_set_csat_survey_id(bad, "s-9"));
	CHECK_OK(souk_content_set_csat_rating(bad, 11));
	CHECK_EQ(souk_client_send_content(NULL, a, conv, bad), SOUK_EINVAL);
	souk_content_free(bad);
	bad = make(SOUK_CONTENT_ATTACHMENT);
	CHECK_OK(souk_content_set_attachment_url(bad, "https://cdn.example/a"));
	CHECK_OK(souk_content_set_attachment_mime_type(bad, "text/plain"));
	char *huge = malloc(20000);
	memset(huge, 'x', 19999);
	huge[19999] = '\0';
	CHECK_OK(souk_content_set_fallback_text(bad, huge));
	free(huge);
	CHECK_EQ(souk_client_send_content(NULL, a, conv, bad), SOUK_ETOOLARGE);
	souk_content_free(bad);
	bad = make(SOUK_CONTENT_TEXT);
	CHECK_EQ(souk_client_send_content(NULL, a, conv, bad), SOUK_EINVAL); /* empty body */
	CHECK_OK(souk_content_set_text(bad, "hello"));
	CHECK_EQ(souk_client_send_content(NULL, a, 9999, bad), SOUK_ENOTFOUND);
	souk_content_free(bad);
	size_t pending = 99;
	CHECK_OK(souk_client_outbox_count(&pending, a));
	CHECK_EQ(pending, 0);

	/* ---- one of every kind ---- */
	souk_content *c = make(SOUK_CONTENT_TEXT);
	CHECK_OK(souk_content_set_text(c, "Do you have these in blue?"));
	send(a, conv, c);

	c = make(SOUK_CONTENT_ATTACHMENT);
	CHECK_OK(souk_content_set_attachment_url(c, "https://cdn.example/photo.jpg"));
	CHECK_OK(souk_content_set_attachment_mime_type(c, "image/jpeg"));
	CHECK_OK(souk_content_set_attachment_file_name(c, "photo.jpg"));
	CHECK_OK(souk_content_set_attachment_size(c, 123456));
	CHECK_OK(souk_content_set_attachment_dimensions(c, 1024, 768));
	CHECK_OK(souk_content_set_fallback_text(c, "[photo]"));
	send(a, conv, c);

	c = make(SOUK_CONTENT_PRODUCT);
	CHECK_OK(souk_content_set_product_id(c, "sku-1"));
	CHECK_OK(souk_content_set_product_title(c, "Trail shoe"));
	CHECK_OK(souk_content_set_product_image_url(c, "https://cdn.example/sku-1.png"));
	CHECK_OK(souk_content_set_product_url(c, "https://shop.example/p/sku-1"));
	CHECK_OK(souk_content_set_product_price(c, 8999, "EUR"));
	CHECK_OK(souk_content_set_fallback_text(c, "Trail shoe, 89.99 EUR"));
	send(a, conv, c);

	c = make(SOUK_CONTENT_ORDER);
	CHECK_OK(souk_content_set_order_id(c, "o-42"));
	CHECK_OK(souk_content_set_order_status(c, "shipped"));
	CHECK_OK(souk_content_add_order_item(c, "sku-1", "Trail shoe", 1, 8999, "EUR"));
	CHECK_OK(souk_content_add_order_item(c, "sku-2", "Socks", 3, 0, NULL));
	CHECK_OK(souk_content_set_order_total(c, 8999, "EUR"));
	send(a, conv, c);

	c = make(SOUK_CONTENT_QUICK_REPLIES);
	CHECK_OK(souk_content_set_quick_replies_prompt(c, "Which size?"));
	CHECK_OK(souk_content_add_quick_reply(c, "s42", "42 (EU)"));
	CHECK_OK(souk_content_add_quick_reply(c, "s43", "43 (EU)"));
	CHECK_OK(souk_content_add_quick_reply(c, "s44", "44 (EU)"));
	send(a, conv, c);

	c = make(SOUK_CONTENT_CSAT_SURVEY);
	CHECK_OK(souk_content_set_csat_survey_id(c, "s-9"));
	CHECK_OK(souk_content_set_csat_question(c, "Rate the app?"));
	CHECK_OK(souk_content_set_csat_scale(c, 10));
	send(a, conv, c);

	c = make(SOUK_CONTENT_CSAT_ANSWER);
	CHECK_OK(souk_content_set_csat_survey_id(c, "s-9"));
	CHECK_OK(souk_content_set_csat_rating(c, 9));
	CHECK_OK(souk_content_set_csat_comment(c, "très bien"));
	send(a, conv, c);

	th_wait(a, th_outbox_empty, NULL, NULL, NULL, 60000, "every kind acked");
	th_list *l = th_messages(a, conv);
	check_all(l);
	for (size_t i = 0; i < l->n; i++)
		CHECK_EQ(souk_message_get_status(l->v[i]), SOUK_MESSAGE_SENT);
	th_list_free(l);

	/* ---- the second device: each once, every field intact ---- */
	souk_client *b = th_started_client(&srv, "b.db", "tablet", 1, token);
	int added = 0;
	th_wait(b, seven_received, NULL, count_added, &added, 60000, "the tablet has all seven");
	CHECK_EQ(added, 7);
	souk_conversation_list *cl = NULL;
	CHECK_OK(souk_client_list_conversations(&cl, b));
	const souk_conversation *bc = souk_conversation_list_get(cl, 0);
	CHECK(souk_conversation_is_support(bc)); /* from ConversationInfo.kind alone */
	CHECK_EQ(souk_conversation_get_kind(bc), SOUK_CONVERSATION_KIND_SUPPORT);
	char sid[160];
	snprintf(sid, sizeof(sid), "%s", souk_conversation_get_server_id(bc));
	l = th_messages(b, souk_conversation_get_id(bc));
	souk_conversation_list_free(cl);
	check_all(l);
	for (size_t i = 0; i < l->n; i++)
		CHECK(souk_message_is_outgoing(l->v[i]));
	th_list_free(l);

	/* ---- the server has the typed content (what the agent sees) ---- */
	char path[256];
	snprintf(path, sizeof(path), "/v1/conversations/%s/messages", sid);
	json_t *j = rj_get(&srv, path);
	CHECK_EQ(json_array_size(rj_at(j, "messages")), 7);
	CHECK_STR(rj_str(j, "messages.1.content.attachment.mime_type"), "image/jpeg");
	CHECK_EQ(rj_int(j, "messages.1.content.attachment.size_bytes"), 123456);
	CHECK_STR(rj_str(j, "messages.2.content.product.title"), "Trail shoe");
	CHECK_EQ(rj_int(j, "messages.2.content.product.price.amount_minor"), 8999);
	CHECK_STR(rj_str(j, "messages.3.content.order.items.1.title"), "Socks");
	CHECK_STR(rj_str(j, "messages.4.content.quick_replies.replies.0.id"), "s42");
	CHECK_EQ(rj_int(j, "messages.5.content.csat_survey.scale"), 10);
	CHECK_EQ(rj_int(j, "messages.6.content.csat_answer.rating"), 9);
	CHECK_STR(rj_str(j, "messages.6.content.csat_answer.comment"), "très bien");
	json_decref(j);

	/* stored encrypted like everything else */
	souk_client_free(b);
	souk_client_free(a);
	char db[512];
	th_db_path(db, sizeof(db), "a.db");
	CHECK(!th_file_contains(db, "Trail shoe"));
	CHECK(!th_file_contains(db, "cdn.example"));
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
