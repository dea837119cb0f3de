/*
 * Encryption at rest: after a canary message was sent by one device and received by
 * another, neither database file nor its -wal or -shm holds the canary or the token in
 * plaintext — while the clients are open (WAL in use) and after they are closed. Opening
 * a database with the wrong key fails with SOUK_EKEY and the documented message, and
 * leaves the file intact (the right key still opens it).
 */
#include "harness.h"

#include <string.h>
#include <sys/stat.h>

static int has_canary(souk_client *c, void *arg)
{
	const char *canary = arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = 0;
	if (souk_conversation_list_count(l) == 1) {
		const souk_message *m =
			souk_conversation_get_last_message(souk_conversation_list_get(l, 0));
		ok = m && strcmp(souk_message_get_text(m), canary) == 0 &&
		     souk_message_get_status(m) == SOUK_MESSAGE_SENT;
	}
	souk_conversation_list_free(l);
	return ok;
}

static void check_files(const char *db, const char *canary, const char *token, int expect_wal)
{
	const char *suffixes[] = {"", "-wal", "-shm"};
	int present = 0;
	for (int i = 0; i < 3; i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s%s", db, suffixes[i]);
		struct stat sb;
		if (stat(path, &sb) != 0)
			continue;
		present++;
		CHECK((sb.st_mode & 077) == 0); /* not readable by others */
		if (th_file_contains(path, canary))
			th_fail(__FILE__, __LINE__, "%s holds the canary in plaintext", path);
		if (th_file_contains(path, token))
			th_fail(__FILE__, __LINE__, "%s holds the token in plaintext", path);
		if (th_file_contains(path, "SQLite format 3"))
			th_fail(__FILE__, __LINE__, "%s has a plaintext SQLite header", path);
	}
	if (expect_wal)
		CHECK_EQ(present, 3);
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, NULL);
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-canary", 3600);
	char canary[64];
	snprintf(canary, sizeof(canary), "CANARY-%08x-%08x", th_rand(), th_rand());
	th_forbid_in_logs(canary);

	/* the scanner itself can fail: a file that holds the canary is reported */
	char probe[600];
	snprintf(probe, sizeof(probe), "%s/probe.txt", th_tmpdir());
	FILE *f = fopen(probe, "w");
	CHECK(f != NULL);
	fprintf(f, "xx%syy", canary);
	fclose(f);
	CHECK(th_file_contains(probe, canary));

	souk_client *a = th_started_client(&srv, "sender.db", "sender", 0, token);
	souk_client *b = th_started_client(&srv, "receiver.db", "receiver", 1, token);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));
	for (int i = 0; i < 20; i++)
		CHECK_OK(souk_client_send_text(NULL, a, conv, "filler message to fill the WAL"));
	CHECK_OK(souk_client_send_text(NULL, a, conv, canary));
	th_wait(a, has_canary, canary, NULL, NULL, 60000, "the canary acked on the sender");
	th_wait(b, has_canary, canary, NULL, NULL, 60000, "the canary received");

	char da[512], db[512];
	th_db_path(da, sizeof(da), "sender.db");
	th_db_path(db, sizeof(db), "receiver.db");
	check_files(da, canary, token, 1); /* open: WAL and SHM in use */
	check_files(db, canary, token, 1);
	souk_client_free(a);
	souk_client_free(b);
	check_files(da, canary, token, 0); /* closed: checkpointed into the main file */
	check_files(db, canary, token, 0);

	/* the wrong key: SOUK_EKEY, the documented message, the file untouched */
	struct stat before, after;
	CHECK(stat(da, &before) == 0);
	uint8_t wrong[32];
	th_key(wrong, 7);
	souk_client_options o;
	CHECK_OK(souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION));
	o.server_url = th_url(&srv);
	o.app_id = srv.app_id;
	o.db_path = da;
	o.db_key = wrong;
	o.db_key_len = 32;
	souk_client *bad = NULL;
	CHECK_EQ(souk_client_create(&bad, &o), SOUK_EKEY);
	CHECK(bad == NULL);
	CHECK(strcmp(souk_client_errmsg(NULL),
		     "the database key is wrong, or the file is not a Souk database") == 0);
	CHECK(strstr(souk_strerror(SOUK_EKEY), "SOUK_EKEY") != NULL);
	CHECK(stat(da, &after) == 0);
	CHECK_EQ(after.st_size, before.st_size);

	/* the right key still opens it, with the canary intact */
	souk_client *again = th_client(&srv, "sender.db", "sender", 0);
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, again));
	CHECK_EQ(souk_conversation_list_count(l), 1);
	CHECK(strcmp(souk_message_get_text(
			     souk_conversation_get_last_message(souk_conversation_list_get(l, 0))),
		     canary) == 0);
	souk_conversation_list_free(l);
	souk_client_free(again);
	check_files(da, canary, token, 0);

	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
