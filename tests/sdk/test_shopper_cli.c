/*
 * samples/shopper-cli end to end: with soukd down a typed message is shown pending and
 * kept; once soukd is up the next run sends it (shown sent), and a second device of the
 * user receives it exactly once. Then the shop answers with a product card, quick replies
 * and a survey and sends a push: the next run renders them, /reply 2 and /rate 5 reach the
 * server, and /context attaches the demo context.
 */
#include "rest_json.h"

static int has_one(souk_client *c, void *arg)
{
	(void)arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1 &&
		 souk_conversation_get_last_conv_seq(souk_conversation_list_get(l, 0)) == 2;
	souk_conversation_list_free(l);
	return ok;
}

int main(void)
{
	const char *cli = getenv("SHOPPER_CLI");
	CHECK(cli != NULL);
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_reserve_port(&srv);
	char *token = th_token(&srv, "cli-shopper", 3600);
	char db[512];
	th_db_path(db, sizeof(db), "cli.db");
	char *argv[] = {
		(char *)cli, "--url", (char *)th_url(&srv), "--app", srv.app_id, "--token", token,
		"--db",	     db,      "--wait-sent",	    "60",    NULL};
	static char out[65536];

	/* soukd down: the message is kept, pending */
	argv[10] = "0";
	CHECK_EQ(th_run_input(argv, "hello from the terminal\n/status\n", out, sizeof(out)), 0);
	th_log("first run:\n%s", out);
	CHECK(strstr(out, "hello from the terminal  (pending)") != NULL);
	CHECK(strstr(out, "1 message(s) pending") != NULL);
	CHECK(strstr(out, "still pending") != NULL);

	/* soukd up: the next run delivers it, and a second message */
	th_server_start(&srv);
	argv[10] = "60";
	CHECK_EQ(th_run_input(argv, "and one more\n", out, sizeof(out)), 0);
	th_log("second run:\n%s", out);
	CHECK(strstr(out, "hello from the terminal  (sent)") != NULL);
	CHECK(strstr(out, "and one more  (sent)") != NULL);
	CHECK(strstr(out, "still pending") == NULL);

	souk_client *b = th_started_client(&srv, "other.db", "other-device", 1, token);
	th_wait(b, has_one, NULL, NULL, NULL, 60000, "the other device has both messages");
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, b));
	th_list *m = th_messages(b, souk_conversation_get_id(souk_conversation_list_get(l, 0)));
	souk_conversation_list_free(l);
	CHECK_EQ(m->n, 2);
	CHECK(strcmp(souk_message_get_text(m->v[0]), "hello from the terminal") == 0);
	CHECK(strcmp(souk_message_get_text(m->v[1]), "and one more") == 0);
	th_list_free(m);

	/* ---- rich messages from the shop, a push; the shopper answers from the CLI ---- */
	CHECK_OK(souk_client_list_conversations(&l, b));
	char sid[160], path[256], body[1024];
	snprintf(sid, sizeof(sid), "%s",
		 souk_conversation_get_server_id(souk_conversation_list_get(l, 0)));
	souk_conversation_list_free(l);
	const char *sender =
		"\"sender\": {\"id\": \"agent-7\", \"kind\": \"agent\", \"name\": \"Sam\"}";
	const char *contents[] = {
		("{\"product\": {\"product_id\": \"sku-1\", \"title\": \"Trail shoe\", \"url\": "
		 "\"https://shop.example/p/1\", \"price\": {\"amount_minor\": 8999, \"currency\": "
		 "\"EUR\"}}}"),
		("{\"quick_replies\": {\"prompt\": \"Track your order?\", \"replies\": [{\"id\": "
		 "\"yes\", \"title\": \"Yes please\"}, {\"id\": \"no\", \"title\": \"No "
		 "thanks\"}]}}"),
		("{\"csat_survey\": {\"survey_id\": \"s-1\", \"question\": \"How did we do?\", "
		 "\"scale\": 5}}"),
	};
	snprintf(path, sizeof(path), "/v1/conversations/%s/messages", sid);
	for (size_t i = 0; i < 3; i++) {
		snprintf(body, sizeof(body), "{%s, \"content\": %s}", sender, contents[i]);
		CHECK_EQ(th_http(&srv, "POST", path, body, NULL, 0), 201);
	}
	CHECK_EQ(th_http(&srv, "POST", "/v1/push",
			 "{\"user_ids\": [\"cli-shopper\"], \"push\": {\"title\": \"Summer sale\", "
			 "\"body\": \"-30% on sneakers\", \"deep_link\": \"shop://sale\"}}",
			 NULL, 0),
		 202);
	char *argv3[] = {(char *)cli,	"--url",    (char *)th_url(&srv),
			 "--app",	srv.app_id, "--token",
			 token,		"--db",	    db,
			 "--wait-sync", "60",	    "--wait-sent",
			 "60",		NULL};
	CHECK_EQ(th_run_input(argv3, "/reply 2\n/rate 5 great\n/context\n/pushes\n", out,
			      sizeof(out)),
		 0);
	th_log("third run:\n%s", out);
	CHECK(strstr(out, "Sam: [product] Trail shoe  89.99 EUR  https://shop.example/p/1") !=
	      NULL);
	CHECK(strstr(out, "Track your order?  [1] Yes please  [2] No thanks") != NULL);
	CHECK(strstr(out, "How did we do? (1..5)") != NULL);
	CHECK(strstr(out, "-- push: Summer sale - -30% on sneakers  (open shop://sale)") != NULL);
	CHECK(strstr(out, "you: No thanks") != NULL);
	CHECK(strstr(out, "you: [rated 5: great]") != NULL);
	CHECK(strstr(out, "the shop now sees what you are looking at") != NULL);
	CHECK(strstr(out, "still pending") == NULL);
	json_t *j = rj_get(&srv, path);
	size_t n = json_array_size(rj_at(j, "messages"));
	CHECK_EQ(n, 7);
	char key[64];
	snprintf(key, sizeof(key), "messages.%zu.content.text.body", n - 2);
	CHECK_STR(rj_str(j, key), "No thanks");
	snprintf(key, sizeof(key), "messages.%zu.content.csat_answer.rating", n - 1);
	CHECK_EQ(rj_int(j, key), 5);
	json_decref(j);
	j = rj_get(&srv, "/v1/users/cli-shopper/context");
	CHECK_STR(rj_str(j, "context.product.title"), "Trail running shoe");
	CHECK_STR(rj_str(j, "context.attributes.tier"), "gold");
	json_decref(j);

	souk_client_free(b);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
