/*
 * Acks of live events are coalesced (session.c, ACK_DELAY_US): device A sends N messages
 * one after the other, device B of the same user receives each live. Without coalescing
 * each of the two devices acks every EventBatch, 2 N Ack frames or more; with it a few.
 * The acks still come: soukd counts at least one per device (souk_acks_total).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N = 60 };

static unsigned long long acks_total(th_server *srv)
{
	char out[65536];
	CHECK_EQ(th_http(srv, "GET", "/metrics", NULL, out, sizeof(out)), 200);
	const char *p = strstr(out, "\nsouk_acks_total ");
	CHECK(p != NULL);
	return strtoull(p + strlen("\nsouk_acks_total "), NULL, 10);
}

static int has_n(souk_client *c, void *arg)
{
	(void)arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1 &&
		 souk_conversation_get_last_conv_seq(souk_conversation_list_get(l, 0)) == N;
	souk_conversation_list_free(l);
	return ok;
}

static int has_conversation(souk_client *c, void *arg)
{
	(void)arg;
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	int ok = souk_conversation_list_count(l) == 1;
	souk_conversation_list_free(l);
	return ok;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* souk_acks_total unchanged for a second (five times the ack delay) */
typedef struct settle {
	th_server *srv;
	unsigned long long last;
	int64_t since;
} settle;

static int settled(souk_client *c, void *arg)
{
	(void)c;
	settle *st = arg;
	unsigned long long now = acks_total(st->srv);
	if (!st->since || now != st->last) {
		st->last = now;
		st->since = mono_ms();
	}
	return mono_ms() - st->since >= 1000;
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, "{\"send_rate_per_s\": 100000, \"send_burst\": 100000}");
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-acks", 3600);
	souk_client *a = th_started_client(&srv, "a.db", "phone", 0, token);
	souk_client *b = th_started_client(&srv, "b.db", "tablet", 1, token);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));
	th_wait(a, th_outbox_empty, NULL, NULL, NULL, 60000, "the conversation is open");
	th_wait(b, has_conversation, NULL, NULL, NULL, 60000, "b has the conversation");
	settle st = {.srv = &srv};
	th_wait(b, settled, &st, NULL, NULL, 60000, "acks of the opening settled");

	unsigned long long before = acks_total(&srv);
	for (int k = 0; k < N; k++) {
		char text[32];
		snprintf(text, sizeof(text), "ack test %d", k);
		CHECK_OK(souk_client_send_text(NULL, a, conv, text));
	}
	th_wait(a, th_outbox_empty, NULL, NULL, NULL, 60000, "a's messages acked");
	th_wait(b, has_n, NULL, NULL, NULL, 60000, "b has every message");
	st = (settle){.srv = &srv};
	th_wait(b, settled, &st, NULL, NULL, 60000, "the delayed acks are in");
	unsigned long long acks = acks_total(&srv) - before;
	th_log("%d live messages, two devices: %llu acks", N, acks);
	CHECK(acks >= 2);     /* both devices acked */
	CHECK(acks <= N / 2); /* not one per event: 2 N without coalescing */

	souk_client_free(a);
	souk_client_free(b);
	free(token);
	th_server_stop(&srv);
	return 0;
}
