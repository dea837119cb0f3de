/*
 * Shopping context: set while soukd is down and before the support conversation is known
 * to the server, kept across a restart of the app, it reaches the server once connected
 * (GET /v1/users/{user}/context returns it) and SOUK_EVENT_CONTEXT_UPDATED says so. A
 * context replaced before it was sent never overrides the latest. Invalid contexts and
 * unknown conversations are refused locally.
 */
#include "rest_json.h"

static const char *USER = "shopper-ctx";

typedef struct st {
	int updated;
	int failed;
} st;

static void on_event(const souk_event *ev, void *arg)
{
	st *s = arg;
	if (souk_event_get_type(ev) == SOUK_EVENT_CONTEXT_UPDATED)
		s->updated++;
	if (souk_event_get_type(ev) == SOUK_EVENT_CONTEXT_FAILED)
		s->failed++;
}

static int context_updated(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->updated > 0;
}

static souk_context *full_context(const char *tier)
{
	souk_context *x = NULL;
	CHECK_OK(souk_context_create(&x));
	souk_content *p = NULL;
	CHECK_OK(souk_content_create(&p, SOUK_CONTENT_PRODUCT));
	CHECK_OK(souk_content_set_product_id(p, "sku-1"));
	CHECK_OK(souk_content_set_product_title(p, "Trail shoe"));
	CHECK_OK(souk_content_set_product_price(p, 8999, "EUR"));
	CHECK_OK(souk_context_set_product(x, p));
	souk_content_free(p);
	souk_content *o = NULL;
	CHECK_OK(souk_content_create(&o, SOUK_CONTENT_ORDER));
	CHECK_OK(souk_content_set_order_id(o, "o-42"));
	CHECK_OK(souk_content_set_order_status(o, "shipped"));
	CHECK_OK(souk_context_set_order(x, o));
	souk_content_free(o);
	CHECK_OK(souk_context_add_cart_item(x, "sku-1", "Trail shoe", 1, 8999, "EUR"));
	CHECK_OK(souk_context_add_cart_item(x, "sku-2", "Socks", 2, 499, "EUR"));
	CHECK_OK(souk_context_set_cart_total(x, 9997, "EUR"));
	CHECK_OK(souk_context_add_page_visit(x, "https://shop.example/", "Home", 1700000000000));
	CHECK_OK(souk_context_add_page_visit(x, "https://shop.example/p/sku-1", "Trail shoe",
					     1700000060000));
	CHECK_OK(souk_context_set_attribute(x, "name", "Ada"));
	CHECK_OK(souk_context_set_attribute(x, "locale", "fr-FR"));
	CHECK_OK(souk_context_set_attribute(x, "tier", tier));
	return x;
}

static json_t *server_context(th_server *srv)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/users/%s/context", USER);
	return rj_get(srv, path);
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_reserve_port(&srv); /* down for now */
	char *token = th_token(&srv, USER, 3600);

	/* ---- offline, and the conversation not known to the server yet ---- */
	souk_client *a = th_started_client(&srv, "a.db", "phone", 0, token);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));
	souk_context *x = full_context("silver");
	CHECK_EQ(souk_client_set_context(a, conv + 1000, x), SOUK_ENOTFOUND);
	CHECK_OK(souk_client_set_context(a, conv, x));
	souk_context_free(x);
	/* refused locally: over the protocol's limits */
	CHECK_OK(souk_context_create(&x));
	for (int i = 0; i < 51; i++)
		CHECK_OK(souk_context_add_page_visit(x, "https://shop.example/", NULL, i));
	CHECK_EQ(souk_client_set_context(a, conv, x), SOUK_EINVAL);
	CHECK(strstr(souk_client_errmsg(a), "page_trail") != NULL);
	souk_context_free(x);
	/* the app is killed and started again: the context is still there */
	souk_client_free(a);

	th_server_start(&srv);
	a = th_client(&srv, "a.db", "phone", 0);
	CHECK_OK(souk_client_login(a, token));
	CHECK_OK(souk_client_start(a));
	st s = {0};
	th_wait(a, context_updated, &s, on_event, &s, 60000, "the context confirmed");
	CHECK_EQ(s.updated, 1);
	CHECK_EQ(s.failed, 0);
	json_t *j = server_context(&srv);
	CHECK_STR(rj_str(j, "user_id"), USER);
	CHECK_STR(rj_str(j, "context.product.title"), "Trail shoe");
	CHECK_EQ(rj_int(j, "context.product.price.amount_minor"), 8999);
	CHECK_STR(rj_str(j, "context.order.order_id"), "o-42");
	CHECK_EQ(json_array_size(rj_at(j, "context.cart.items")), 2);
	CHECK_STR(rj_str(j, "context.cart.items.1.title"), "Socks");
	CHECK_EQ(rj_int(j, "context.cart.items.1.quantity"), 2);
	CHECK_EQ(rj_int(j, "context.cart.total.amount_minor"), 9997);
	CHECK_EQ(json_array_size(rj_at(j, "context.page_trail")), 2);
	CHECK_STR(rj_str(j, "context.page_trail.1.url"), "https://shop.example/p/sku-1");
	CHECK_EQ(rj_int(j, "context.page_trail.1.at_ms"), 1700000060000);
	CHECK_STR(rj_str(j, "context.attributes.name"), "Ada");
	CHECK_STR(rj_str(j, "context.attributes.tier"), "silver");
	souk_conversation *cv = NULL;
	CHECK_OK(souk_client_get_conversation(&cv, a, conv));
	CHECK_STR(rj_str(j, "conversation_id"), souk_conversation_get_server_id(cv));
	souk_conversation_free(cv);
	json_decref(j);

	/* ---- replaced before it was sent (the SDK thread stopped): only the latest goes,
	 * and it is confirmed once ---- */
	s.updated = 0;
	CHECK_OK(souk_client_stop(a));
	x = full_context("gold");
	CHECK_OK(souk_client_set_context(a, conv, x));
	souk_context_free(x);
	x = full_context("platinum");
	CHECK_OK(souk_context_set_product(x, NULL));
	CHECK_OK(souk_client_set_context(a, conv, x));
	souk_context_free(x);
	CHECK_OK(souk_client_start(a));
	th_wait(a, context_updated, &s, on_event, &s, 60000, "the latest context confirmed");
	th_sleep_ms(300); /* nothing else is on its way */
	th_drain(a, on_event, &s);
	CHECK_EQ(s.updated, 1);
	j = server_context(&srv);
	CHECK_STR(rj_str(j, "context.attributes.tier"), "platinum");
	CHECK(rj_at(j, "context.product") == NULL);
	json_decref(j);

	/* ---- an empty context clears what the agent sees ---- */
	s.updated = 0;
	CHECK_OK(souk_context_create(&x));
	CHECK_OK(souk_client_set_context(a, conv, x));
	souk_context_free(x);
	th_wait(a, context_updated, &s, on_event, &s, 60000, "the empty context confirmed");
	j = server_context(&srv);
	CHECK(rj_at(j, "context.order") == NULL);
	CHECK_EQ(json_object_size(rj_at(j, "context.attributes")), 0);
	json_decref(j);

	souk_client_free(a);
	char db[512];
	th_db_path(db, sizeof(db), "a.db");
	CHECK(!th_file_contains(db, "shop.example"));
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
