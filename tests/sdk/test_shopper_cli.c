/*
 * samples/shopper-cli end to end: with soukd down a typed message is shown pending and
 * kept; once soukd is up the next run sends it (shown sent), and a second device of the
 * user receives it exactly once.
 */
#include "harness.h"

#include <string.h>

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

	souk_client *b = th_client(&srv, "other.db", "other-device", 1);
	CHECK_OK(souk_client_login(b, token));
	CHECK_OK(souk_client_start(b));
	th_wait(b, has_one, NULL, NULL, NULL, 60000, "the other device has both messages");
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, b));
	th_list *m = th_messages(b, souk_conversation_get_id(souk_conversation_list_get(l, 0)));
	souk_conversation_list_free(l);
	CHECK_EQ(m->n, 2);
	CHECK(strcmp(souk_message_get_text(m->v[0]), "hello from the terminal") == 0);
	CHECK(strcmp(souk_message_get_text(m->v[1]), "and one more") == 0);
	th_list_free(m);
	souk_client_free(b);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
