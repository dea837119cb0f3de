/*
 * Permanent rejection: soukd is configured with max_message_bytes = 100, below the
 * protocol maximum the SDK checks locally. An over-long message is refused by the server
 * (MESSAGE_TOO_LARGE, permanent): it becomes FAILED with wire code 300 and a reason, and
 * the messages sent after it still go, in order. A resend fails again the same way; a
 * failed message can be deleted; acked messages cannot. Local validation: empty text,
 * invalid UTF-8 and text over the protocol's 16 KiB are refused before anything is stored.
 */
#include "harness.h"

#include <string.h>

typedef struct evcount {
	int failed_updates;
	int deleted;
} evcount;

static int64_t long_id;
static int want_failed;

/* the refusal seen as an event (want_failed of them so far) and the outbox empty */
static int outbox_empty_and_failed(souk_client *c, void *arg)
{
	evcount *n = arg;
	if (n->failed_updates < want_failed)
		return 0;
	int64_t id = long_id;
	if (!th_outbox_empty(c, NULL))
		return 0;
	souk_message *m = NULL;
	CHECK_OK(souk_client_get_message(&m, c, id));
	int failed = souk_message_get_status(m) == SOUK_MESSAGE_FAILED;
	souk_message_free(m);
	return failed;
}

static void on_event(const souk_event *ev, void *arg)
{
	evcount *n = arg;
	const souk_message *m = souk_event_get_message(ev);
	if (souk_event_get_type(ev) == SOUK_EVENT_MESSAGE_UPDATED &&
	    souk_message_get_status(m) == SOUK_MESSAGE_FAILED)
		n->failed_updates++;
	if (souk_event_get_type(ev) == SOUK_EVENT_MESSAGE_DELETED)
		n->deleted++;
}

static void check_failed(souk_client *c, int64_t id)
{
	souk_message *m = NULL;
	CHECK_OK(souk_client_get_message(&m, c, id));
	CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_FAILED);
	CHECK_EQ(souk_message_get_failure_code(m), 300); /* MESSAGE_TOO_LARGE */
	CHECK(souk_message_get_failure_reason(m) != NULL);
	CHECK(souk_message_get_failure_reason(m)[0] != '\0');
	CHECK(souk_message_get_server_id(m) == NULL);
	CHECK_EQ(souk_message_get_conv_seq(m), 0);
	souk_message_free(m);
}

int main(void)
{
	th_server srv;
	th_server_init(&srv, "{\"max_message_bytes\": 100}");
	th_server_start(&srv);
	char *token = th_token(&srv, "shopper-long", 3600);
	souk_client *a = th_started_client(&srv, "a.db", "a", 0, token);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, a));

	/* local validation first: nothing stored */
	char huge[16 * 1024 + 64];
	memset(huge, 'x', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	CHECK_EQ(souk_client_send_text(NULL, a, conv, huge), SOUK_ETOOLARGE);
	CHECK_EQ(souk_client_send_text(NULL, a, conv, ""), SOUK_EINVAL);
	CHECK_EQ(souk_client_send_text(NULL, a, conv, "bad \xC0\xAF utf-8"), SOUK_EINVAL);
	CHECK(strstr(souk_client_errmsg(a), "UTF-8") != NULL);
	CHECK_EQ(souk_client_send_text(NULL, a, conv + 1000, "no such conversation"),
		 SOUK_ENOTFOUND);
	size_t n = 99;
	CHECK_OK(souk_client_outbox_count(&n, a));
	CHECK_EQ(n, 0);

	char longer[301];
	memset(longer, 'L', 300);
	longer[300] = '\0';
	int64_t first, lng, second, third;
	CHECK_OK(souk_client_send_text(&first, a, conv, "first"));
	CHECK_OK(souk_client_send_text(&lng, a, conv, longer));
	CHECK_OK(souk_client_send_text(&second, a, conv, "second"));
	CHECK_OK(souk_client_send_text(&third, a, conv, "third"));
	evcount ev = {0};
	long_id = lng;
	want_failed = 1;
	th_wait(a, outbox_empty_and_failed, &ev, on_event, &ev, 60000,
		"the long message failed and the rest acked");
	CHECK_EQ(ev.failed_updates, 1);
	check_failed(a, lng);
	int64_t ok_ids[3] = {first, second, third};
	for (int i = 0; i < 3; i++) {
		souk_message *m = NULL;
		CHECK_OK(souk_client_get_message(&m, a, ok_ids[i]));
		CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_SENT);
		CHECK_EQ(souk_message_get_conv_seq(m), i + 1);
		CHECK_EQ(souk_message_get_failure_code(m), 0);
		souk_message_free(m);
	}

	/* resend: the same refusal */
	CHECK_EQ(souk_client_resend(a, first), SOUK_ESTATE); /* only FAILED ones */
	CHECK_OK(souk_client_resend(a, lng));
	souk_message *m = NULL;
	CHECK_OK(souk_client_get_message(&m, a, lng));
	CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_PENDING);
	souk_message_free(m);
	want_failed = 2;
	th_wait(a, outbox_empty_and_failed, &ev, on_event, &ev, 60000, "the resend failed again");
	CHECK_EQ(ev.failed_updates, 2);
	check_failed(a, lng);

	/* later messages still go */
	int64_t fourth;
	CHECK_OK(souk_client_send_text(&fourth, a, conv, "fourth"));
	th_wait(a, th_outbox_empty, NULL, on_event, &ev, 60000, "the fourth message acked");
	CHECK_OK(souk_client_get_message(&m, a, fourth));
	CHECK_EQ(souk_message_get_status(m), SOUK_MESSAGE_SENT);
	CHECK_EQ(souk_message_get_conv_seq(m), 4);
	souk_message_free(m);

	/* the failed message sorts after the acked ones, and can be deleted */
	th_list *l = th_messages(a, conv);
	CHECK_EQ(l->n, 5);
	CHECK_EQ(souk_message_get_id(l->v[4]), lng);
	th_list_free(l);
	CHECK_EQ(souk_client_delete_failed(a, fourth), SOUK_ESTATE);
	CHECK_OK(souk_client_delete_failed(a, lng));
	CHECK_EQ(souk_client_get_message(&m, a, lng), SOUK_ENOTFOUND);
	th_drain(a, on_event, &ev); /* published before delete_failed returned */
	CHECK_EQ(ev.deleted, 1);
	l = th_messages(a, conv);
	CHECK_EQ(l->n, 4);
	th_list_free(l);

	souk_client_free(a);
	th_server_stop(&srv);
	free(token);
	th_log("ok");
	return 0;
}
