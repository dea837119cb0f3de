/*
 * In-app pushes (POST /v1/push): an online shopper gets SOUK_EVENT_PUSH_RECEIVED once with
 * every field; a push sent while the app was stopped arrives once when it starts again;
 * reconnecting and restarting the app report nothing twice; a device that joins later
 * gets each push once; souk_client_list_pushes reads them back newest first.
 */
#include "rest_json.h"

static const char *USER = "shopper-push";

typedef struct st {
	int pushes;
	int synced;
	char last_id[64];
	char title[64];
	char body[64];
	char image[128];
	char link[64];
} st;

static void on_event(const souk_event *ev, void *arg)
{
	st *s = arg;
	switch (souk_event_get_type(ev)) {
	case SOUK_EVENT_PUSH_RECEIVED: {
		const souk_push *p = souk_event_get_push(ev);
		CHECK(p != NULL);
		s->pushes++;
		snprintf(s->last_id, sizeof(s->last_id), "%s", souk_push_get_id(p));
		snprintf(s->title, sizeof(s->title), "%s",
			 souk_push_get_title(p) ? souk_push_get_title(p) : "");
		snprintf(s->body, sizeof(s->body), "%s",
			 souk_push_get_body(p) ? souk_push_get_body(p) : "");
		snprintf(s->image, sizeof(s->image), "%s",
			 souk_push_get_image_url(p) ? souk_push_get_image_url(p) : "");
		snprintf(s->link, sizeof(s->link), "%s",
			 souk_push_get_deep_link(p) ? souk_push_get_deep_link(p) : "");
		CHECK(souk_push_get_server_time_ms(p) > 0);
		CHECK(souk_push_get_product(p) == NULL); /* REST does not take one (yet) */
		break;
	}
	case SOUK_EVENT_SYNC_FINISHED:
		s->synced++;
		break;
	default:
		break;
	}
}

static int got_push(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->pushes > 0;
}

static int got_two(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->pushes == 2;
}

static int synced(souk_client *c, void *arg)
{
	(void)c;
	return ((st *)arg)->synced > 0;
}

static void push(th_server *srv, const char *json, int users, char *push_id, size_t len)
{
	char out[1024];
	CHECK_EQ(th_http(srv, "POST", "/v1/push", json, out, sizeof(out)), 202);
	json_error_t err;
	json_t *j = json_loads(out, 0, &err);
	CHECK(j != NULL);
	CHECK_EQ(rj_int(j, "stored"), users);
	snprintf(push_id, len, "%s", rj_str(j, "push_id"));
	json_decref(j);
}

static souk_client *start(th_server *srv, const char *db, const char *device, int key,
			  const char *token)
{
	souk_client *c = th_started_client(srv, db, device, key, token);
	return c;
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_start(&srv);
	char *token = th_token(&srv, USER, 3600);
	souk_client *a = start(&srv, "a.db", "phone", 0, token);
	st s = {0};
	th_wait(a, synced, &s, on_event, &s, 60000, "connected and synced");

	/* ---- online: once, with every field ---- */
	char p1[64], p2[64];
	push(&srv,
	     "{\"user_ids\": [\"shopper-push\", \"someone-else\"], \"push\": {\"title\": "
	     "\"Summer sale\", \"body\": \"-30% on sneakers\", \"image_url\": "
	     "\"https://cdn.example/sale.png\", \"deep_link\": \"shop://sale\"}}",
	     2, p1, sizeof(p1));
	th_wait(a, got_push, &s, on_event, &s, 60000, "the push");
	CHECK_STR(s.last_id, p1);
	CHECK_STR(s.title, "Summer sale");
	CHECK_STR(s.body, "-30% on sneakers");
	CHECK_STR(s.image, "https://cdn.example/sale.png");
	CHECK_STR(s.link, "shop://sale");
	/* a reconnect syncs again from the device's position: nothing twice */
	s.synced = 0;
	CHECK_OK(souk_client_hint(a, SOUK_HINT_NETWORK_LOST));
	CHECK_OK(souk_client_hint(a, SOUK_HINT_NETWORK_CHANGED));
	th_wait(a, synced, &s, on_event, &s, 60000, "synced again");
	CHECK_EQ(s.pushes, 1);

	/* ---- sent while the app was stopped: once when it is back ---- */
	CHECK_OK(souk_client_stop(a));
	th_drain(a, on_event, &s);
	push(&srv,
	     "{\"user_ids\": [\"shopper-push\"], \"push\": {\"body\": \"Your cart misses you\"}}",
	     1, p2, sizeof(p2));
	CHECK(strcmp(p1, p2) != 0);
	CHECK_OK(souk_client_start(a));
	th_wait(a, got_two, &s, on_event, &s, 60000, "the push sent while offline");
	CHECK_STR(s.last_id, p2);
	CHECK_STR(s.title, "");
	CHECK_STR(s.body, "Your cart misses you");
	souk_client_free(a);

	/* ---- the app restarts: nothing is reported again; the store has both ---- */
	a = start(&srv, "a.db", "phone", 0, token);
	s.pushes = s.synced = 0;
	th_wait(a, synced, &s, on_event, &s, 60000, "synced after the restart");
	th_sleep_ms(300);
	th_drain(a, on_event, &s);
	CHECK_EQ(s.pushes, 0);
	souk_push_list *l = NULL;
	CHECK_OK(souk_client_list_pushes(&l, a, 0));
	CHECK_EQ(souk_push_list_count(l), 2);
	CHECK_STR(souk_push_get_id(souk_push_list_get(l, 0)), p2);
	CHECK_STR(souk_push_get_id(souk_push_list_get(l, 1)), p1);
	CHECK_STR(souk_push_get_title(souk_push_list_get(l, 1)), "Summer sale");
	souk_push *kept = NULL;
	CHECK_OK(souk_push_copy(&kept, souk_push_list_get(l, 1)));
	souk_push_list_free(l);
	CHECK_STR(souk_push_get_deep_link(kept), "shop://sale");
	souk_push_free(kept);
	CHECK_OK(souk_client_list_pushes(&l, a, 1));
	CHECK_EQ(souk_push_list_count(l), 1);
	souk_push_list_free(l);

	/* ---- a device that joins later: each once ---- */
	souk_client *b = start(&srv, "b.db", "tablet", 1, token);
	st t = {0};
	th_wait(b, synced, &t, on_event, &t, 60000, "the new device synced");
	th_sleep_ms(300);
	th_drain(b, on_event, &t);
	CHECK_EQ(t.pushes, 2);

	souk_client_free(b);
	souk_client_free(a);
	char db[512];
	th_db_path(db, sizeof(db), "a.db");
	CHECK(!th_file_contains(db, "Summer sale"));
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
