/*
 * Unit tests of the public C API without a server (the client points at a closed
 * loopback port): options and validation, error codes and per-thread messages, offline
 * sends and the pulled event stream, callbacks on the SDK thread, stop waking a blocked
 * puller, logout with and without wipe, the event queue limit, lifecycle misuse.
 * Links the shared libsouk: only exported symbols are used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* NULL where the API says non-null: libsouk must still refuse it cleanly (bindings and C
 * callers make mistakes). volatile keeps the compiler from warning about the test. */
static void *volatile null_ptr;

static int destroyed;
static void count_destroy(void *ud)
{
	(void)ud;
	destroyed++;
}

static void fill(souk_client_options *o, const char *db, uint8_t key[32])
{
	static char path[512];
	th_db_path(path, sizeof(path), db);
	th_key(key, 0);
	assert_int_equal(souk_client_options_init(o, SOUK_CLIENT_OPTIONS_VERSION), SOUK_OK);
	o->server_url = "ws://127.0.0.1:1"; /* nothing listens: connections fail at once */
	o->app_id = "app_test";
	o->db_path = path;
	o->db_key = key;
	o->db_key_len = 32;
	o->reconnect_min_ms = 1000;
	o->reconnect_max_ms = 1000;
}

static souk_client *new_client(const char *db)
{
	souk_client_options o;
	uint8_t key[32];
	fill(&o, db, key);
	souk_client *c = NULL;
	assert_int_equal(souk_client_create(&c, &o), SOUK_OK);
	return c;
}

static souk_event *next(souk_client *c)
{
	souk_event *ev = NULL;
	int r = souk_client_next_event(&ev, c, 10000);
	if (r != SOUK_OK)
		fail_msg("next_event: %s", souk_strerror(r));
	return ev;
}

static void test_version_and_strerror(void **state)
{
	(void)state;
	assert_string_equal(souk_version(), SOUK_VERSION_STRING);
	assert_int_equal(souk_version_number(), SOUK_VERSION_NUMBER);
	for (int code = SOUK_EINTERNAL; code <= SOUK_OK; code++)
		assert_non_null(strstr(souk_strerror(code), "SOUK_"));
	assert_non_null(strstr(souk_strerror(SOUK_EKEY), "SOUK_EKEY"));
	assert_string_equal(souk_strerror(-999), "unknown libsouk error code");
}

static void test_options_validation(void **state)
{
	(void)state;
	souk_client_options o;
	assert_int_equal(souk_client_options_init(null_ptr, 1), SOUK_EINVAL);
	assert_int_equal(souk_client_options_init(&o, 0), SOUK_EINVAL);
	assert_int_equal(souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION + 1),
			 SOUK_EINVAL);
	assert_int_equal(souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION), SOUK_OK);
	assert_int_equal(o.version, SOUK_CLIENT_OPTIONS_VERSION);
	assert_int_equal(o.log_level, SOUK_LOG_WARN);

	struct {
		const char *field;
		const char *expect; /* in the error message */
	} cases[] = {
		{"url-missing", "server_url"},
		{"url-scheme", "server_url"},
		{"url-port", "server_url"},
		{"app", "app_id"},
		{"db", "db_path"},
		{"key", "32 bytes"},
		{"device", "device_id"},
		{"platform", "platform"},
		{"pins", "tls_pins"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t key[32];
		fill(&o, "never.db", key);
		o.log_destroy = count_destroy;
		const char *f = cases[i].field;
		if (!strcmp(f, "url-missing"))
			o.server_url = NULL;
		else if (!strcmp(f, "url-scheme"))
			o.server_url = "http://127.0.0.1:80";
		else if (!strcmp(f, "url-port"))
			o.server_url = "ws://127.0.0.1:99999";
		else if (!strcmp(f, "app"))
			o.app_id = "";
		else if (!strcmp(f, "db"))
			o.db_path = NULL;
		else if (!strcmp(f, "key"))
			o.db_key_len = 16;
		else if (!strcmp(f, "device"))
			o.device_id = "";
		else if (!strcmp(f, "platform"))
			o.platform = (souk_platform)42;
		else if (!strcmp(f, "pins"))
			o.tls_pins = "not-base64";
		destroyed = 0;
		souk_client *c = (souk_client *)&o; /* must be reset to NULL */
		assert_int_equal(souk_client_create(&c, &o), SOUK_EINVAL);
		assert_null(c);
		assert_int_equal(destroyed, 1); /* the log registration is released, once */
		if (!strstr(souk_client_errmsg(NULL), cases[i].expect))
			fail_msg("%s: message '%s'", f, souk_client_errmsg(NULL));
	}
	char never[512];
	th_db_path(never, sizeof(never), "never.db");
	assert_int_not_equal(access(never, F_OK), 0); /* nothing was created */
}

static void *fail_on_thread(void *arg)
{
	(void)arg;
	souk_client_options o;
	souk_client_options_init(&o, 1);
	souk_client *c = NULL;
	souk_client_create(&c, &o); /* EINVAL: no url */
	return strstr(souk_client_errmsg(NULL), "server_url") ? (void *)1 : NULL;
}

static void test_errmsg_is_per_thread(void **state)
{
	(void)state;
	souk_client_options o;
	assert_int_equal(souk_client_options_init(&o, 99), SOUK_EINVAL);
	char mine[256];
	snprintf(mine, sizeof(mine), "%s", souk_client_errmsg(NULL));
	assert_non_null(strstr(mine, "version"));
	pthread_t t;
	void *ok = NULL;
	pthread_create(&t, NULL, fail_on_thread, NULL);
	pthread_join(t, &ok);
	assert_non_null(ok);
	assert_string_equal(souk_client_errmsg(NULL), mine); /* untouched by the other thread */
	/* a success clears it */
	assert_int_equal(souk_client_options_init(&o, 1), SOUK_OK);
	assert_string_equal(souk_client_errmsg(NULL), "");
}

static void test_offline_send_and_pulled_events(void **state)
{
	(void)state;
	souk_client *c = new_client("offline.db");
	assert_true(strlen(souk_client_get_device_id(c)) == 32); /* generated */
	assert_int_equal(souk_client_get_connection_state(c), SOUK_CONNECTION_STOPPED);
	int64_t conv = 0;
	assert_int_equal(souk_client_open_support_conversation(&conv, c), SOUK_OK);
	souk_event *ev = next(c);
	assert_int_equal(souk_event_get_type(ev), SOUK_EVENT_CONVERSATION_UPDATED);
	const souk_conversation *cv = souk_event_get_conversation(ev);
	assert_int_equal(souk_conversation_get_id(cv), conv);
	assert_true(souk_conversation_is_support(cv));
	assert_null(souk_conversation_get_server_id(cv));
	uint64_t serial = souk_event_get_serial(ev);
	souk_event_free(ev);

	int64_t ids[3];
	const char *texts[3] = {"one", "two", "three"};
	for (int i = 0; i < 3; i++)
		assert_int_equal(souk_client_send_text(&ids[i], c, conv, texts[i]), SOUK_OK);
	for (int i = 0; i < 3; i++) {
		ev = next(c);
		assert_true(souk_event_get_serial(ev) > serial);
		serial = souk_event_get_serial(ev);
		assert_int_equal(souk_event_get_type(ev), SOUK_EVENT_MESSAGE_ADDED);
		const souk_message *m = souk_event_get_message(ev);
		assert_int_equal(souk_message_get_id(m), ids[i]);
		assert_string_equal(souk_message_get_text(m), texts[i]);
		assert_int_equal(souk_message_get_status(m), SOUK_MESSAGE_PENDING);
		assert_int_equal(souk_message_get_content_kind(m), SOUK_CONTENT_TEXT);
		assert_true(souk_message_is_outgoing(m));
		assert_int_equal(strlen(souk_message_get_client_msg_id(m)), 32);
		assert_true(souk_message_get_created_ms(m) > 0);
		/* an owned copy outlives the event */
		souk_message *copy = NULL;
		assert_int_equal(souk_message_copy(&copy, m), SOUK_OK);
		souk_event_free(ev);
		assert_string_equal(souk_message_get_text(copy), texts[i]);
		souk_message_free(copy);
		ev = next(c);
		assert_int_equal(souk_event_get_type(ev), SOUK_EVENT_CONVERSATION_UPDATED);
		cv = souk_event_get_conversation(ev);
		assert_int_equal(souk_message_get_id(souk_conversation_get_last_message(cv)),
				 ids[i]);
		souk_event_free(ev);
	}
	ev = (souk_event *)c;
	assert_int_equal(souk_client_next_event(&ev, c, 0), SOUK_ETIMEOUT);
	assert_null(ev);
	size_t n = 0;
	assert_int_equal(souk_client_outbox_count(&n, c), SOUK_OK);
	assert_int_equal(n, 3);
	souk_message *m = NULL;
	assert_int_equal(souk_client_get_message(&m, c, ids[1]), SOUK_OK);
	assert_string_equal(souk_message_get_text(m), "two");
	souk_message_free(m);
	assert_int_equal(souk_client_get_message(&m, c, 9999), SOUK_ENOTFOUND);
	assert_null(m);
	souk_message_list *l = NULL;
	assert_int_equal(souk_client_list_messages(&l, c, conv, ids[2], SOUK_PAGE_BEFORE, 0),
			 SOUK_OK);
	assert_int_equal(souk_message_list_count(l), 2);
	assert_int_equal(souk_message_get_id(souk_message_list_get(l, 0)), ids[0]);
	assert_null(souk_message_list_get(l, 2));
	souk_message_list_free(l);
	assert_int_equal(souk_client_list_messages(&l, c, conv + 5, 0, SOUK_PAGE_AFTER, 0),
			 SOUK_ENOTFOUND);
	assert_int_equal(souk_client_list_messages(&l, c, conv, 0, (souk_page_direction)7, 0),
			 SOUK_EINVAL);
	souk_conversation_list *cl = NULL;
	assert_int_equal(souk_client_list_conversations(&cl, c), SOUK_OK);
	assert_int_equal(souk_conversation_list_count(cl), 1);
	souk_conversation_list_free(cl);
	/* only failed messages can be resent or deleted */
	assert_int_equal(souk_client_resend(c, ids[0]), SOUK_ESTATE);
	assert_int_equal(souk_client_delete_failed(c, ids[0]), SOUK_ESTATE);

	/* started without a login: waiting, and no TOKEN_NEEDED (no session to resume) */
	assert_int_equal(souk_client_start(c), SOUK_OK);
	assert_int_equal(souk_client_start(c), SOUK_ESTATE);
	ev = next(c);
	assert_int_equal(souk_event_get_type(ev), SOUK_EVENT_CONNECTION_STATE);
	assert_int_equal(souk_event_get_connection_state(ev), SOUK_CONNECTION_WAITING);
	souk_event_free(ev);
	assert_int_equal(souk_client_stop(c), SOUK_OK);
	ev = next(c);
	assert_int_equal(souk_event_get_connection_state(ev), SOUK_CONNECTION_STOPPED);
	souk_event_free(ev);
	assert_int_equal(souk_client_next_event(&ev, c, 5000), SOUK_ESTATE); /* at once */
	assert_int_equal(souk_client_stop(c), SOUK_OK);
	souk_client_free(c);

	/* pending messages survive the client */
	c = new_client("offline.db");
	assert_int_equal(souk_client_outbox_count(&n, c), SOUK_OK);
	assert_int_equal(n, 3);
	souk_client_free(c);
}

static void *blocked_puller(void *arg)
{
	souk_client *c = arg;
	souk_event *ev = NULL;
	int r;
	while ((r = souk_client_next_event(&ev, c, -1)) == SOUK_OK)
		souk_event_free(ev);
	return (void *)(intptr_t)r;
}

static void test_stop_wakes_puller(void **state)
{
	(void)state;
	souk_client *c = new_client("puller.db");
	assert_int_equal(souk_client_login(c, "header.payload.signature"), SOUK_OK);
	assert_int_equal(souk_client_start(c), SOUK_OK);
	pthread_t t;
	pthread_create(&t, NULL, blocked_puller, c);
	usleep(100 * 1000);
	assert_int_equal(souk_client_stop(c), SOUK_OK);
	void *r = NULL;
	pthread_join(t, &r);
	assert_int_equal((int)(intptr_t)r, SOUK_ESTATE);
	souk_client_free(c);
}

typedef struct cbstate {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t main;
	int added;
	int on_other_thread;
	int stop_refused;
	int reads_ok;
	souk_client *c;
} cbstate;

static void on_event_cb(const souk_event *ev, void *ud)
{
	cbstate *s = ud;
	if (souk_event_get_type(ev) != SOUK_EVENT_MESSAGE_ADDED)
		return;
	pthread_mutex_lock(&s->mu);
	s->on_other_thread = !pthread_equal(pthread_self(), s->main);
	/* from a callback: stop is refused, reads work */
	s->stop_refused = souk_client_stop(s->c) == SOUK_ESTATE;
	souk_message *m = NULL;
	s->reads_ok = souk_client_get_message(
			      &m, s->c, souk_message_get_id(souk_event_get_message(ev))) == SOUK_OK;
	souk_message_free(m);
	s->added++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

static void test_callback_on_sdk_thread(void **state)
{
	(void)state;
	cbstate s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	s.main = pthread_self();
	souk_client *c = new_client("callback.db");
	s.c = c;
	destroyed = 0;
	assert_int_equal(souk_client_set_event_callback(c, on_event_cb, &s, count_destroy),
			 SOUK_OK);
	assert_int_equal(souk_client_start(c), SOUK_OK);
	assert_int_equal(souk_client_set_event_callback(c, NULL, NULL, NULL), SOUK_ESTATE);
	souk_event *ev = NULL;
	assert_int_equal(souk_client_next_event(&ev, c, 0), SOUK_ESTATE);
	int64_t conv = 0;
	assert_int_equal(souk_client_open_support_conversation(&conv, c), SOUK_OK);
	assert_int_equal(souk_client_send_text(NULL, c, conv, "hello"), SOUK_OK);
	pthread_mutex_lock(&s.mu);
	while (s.added == 0)
		pthread_cond_wait(&s.cond, &s.mu);
	pthread_mutex_unlock(&s.mu);
	assert_true(s.on_other_thread);
	assert_true(s.stop_refused);
	assert_true(s.reads_ok);
	assert_int_equal(souk_client_stop(c), SOUK_OK);
	assert_int_equal(destroyed, 0);
	/* replacing the registration releases the old one */
	assert_int_equal(souk_client_set_event_callback(c, on_event_cb, &s, count_destroy),
			 SOUK_OK);
	assert_int_equal(destroyed, 1);
	souk_client_free(c);
	assert_int_equal(destroyed, 2);
}

static void test_logout(void **state)
{
	(void)state;
	char path[512], wal[520];
	th_db_path(path, sizeof(path), "logout.db");
	snprintf(wal, sizeof(wal), "%s-wal", path);
	souk_client *c = new_client("logout.db");
	char device[64];
	snprintf(device, sizeof(device), "%s", souk_client_get_device_id(c));
	assert_int_equal(souk_client_set_token(c, "a.b.c"), SOUK_ESTATE); /* not logged in */
	assert_int_equal(souk_client_login(c, ""), SOUK_EINVAL);
	assert_int_equal(souk_client_login(c, "a.b.c"), SOUK_OK);
	assert_int_equal(souk_client_set_token(c, "a.b.d"), SOUK_OK);
	int64_t conv = 0;
	assert_int_equal(souk_client_open_support_conversation(&conv, c), SOUK_OK);
	assert_int_equal(souk_client_send_text(NULL, c, conv, "secret plans"), SOUK_OK);

	assert_int_equal(souk_client_logout(c, SOUK_LOGOUT_KEEP_DATA), SOUK_OK);
	assert_int_equal(souk_client_set_token(c, "a.b.c"), SOUK_ESTATE);
	size_t n = 0;
	assert_int_equal(souk_client_outbox_count(&n, c), SOUK_OK);
	assert_int_equal(n, 1); /* kept */

	assert_int_equal(souk_client_start(c), SOUK_OK);
	assert_int_equal(souk_client_logout(c, SOUK_LOGOUT_WIPE), SOUK_OK); /* while started */
	assert_int_equal(souk_client_outbox_count(&n, c), SOUK_OK);
	assert_int_equal(n, 0);
	souk_conversation_list *cl = NULL;
	assert_int_equal(souk_client_list_conversations(&cl, c), SOUK_OK);
	assert_int_equal(souk_conversation_list_count(cl), 0);
	souk_conversation_list_free(cl);
	assert_string_equal(souk_client_get_device_id(c), device);
	assert_int_equal(souk_client_logout(c, (souk_logout_mode)5), SOUK_EINVAL);
	souk_client_free(c);
	/* the wiped store is a new one: the old message is not in any file */
	assert_false(th_file_contains(path, "secret plans"));
	assert_false(th_file_contains(wal, "secret plans"));
	c = new_client("logout.db");
	assert_string_equal(souk_client_get_device_id(c), device);
	souk_client_free(c);
}

static void test_event_queue_limit(void **state)
{
	(void)state;
	souk_client_options o;
	uint8_t key[32];
	fill(&o, "limit.db", key);
	o.max_queued_events = 5;
	souk_client *c = NULL;
	assert_int_equal(souk_client_create(&c, &o), SOUK_OK);
	int64_t conv = 0;
	assert_int_equal(souk_client_open_support_conversation(&conv, c), SOUK_OK); /* 1 */
	for (int i = 0; i < 5; i++) /* 2 events each: 11 in all, 5 kept */
		assert_int_equal(souk_client_send_text(NULL, c, conv, "x"), SOUK_OK);
	int types[8] = {0}, n = 0;
	souk_event *ev;
	while (souk_client_next_event(&ev, c, 0) == SOUK_OK) {
		assert_true(n < 8);
		types[n++] = souk_event_get_type(ev);
		souk_event_free(ev);
	}
	assert_int_equal(n, 6);
	assert_int_equal(types[5], SOUK_EVENT_EVENTS_DROPPED);
	/* and then normal again */
	assert_int_equal(souk_client_send_text(NULL, c, conv, "y"), SOUK_OK);
	ev = next(c);
	assert_int_equal(souk_event_get_type(ev), SOUK_EVENT_MESSAGE_ADDED);
	souk_event_free(ev);
	souk_client_free(c);
}

static void test_misuse(void **state)
{
	(void)state;
	souk_client_free(NULL);
	souk_event_free(NULL);
	souk_message_free(NULL);
	souk_message_list_free(NULL);
	souk_conversation_free(NULL);
	souk_conversation_list_free(NULL);
	souk_client *c = new_client("misuse.db");
	assert_int_equal(souk_client_stop(c), SOUK_OK); /* stopping a stopped client */
	assert_int_equal(souk_client_hint(c, (souk_hint)0), SOUK_EINVAL);
	assert_int_equal(souk_client_hint(c, SOUK_HINT_BACKGROUND), SOUK_OK);
	assert_int_equal(souk_client_mark_read(c, 1, -1), SOUK_EINVAL);
	assert_int_equal(souk_client_mark_read(c, 12345, 0), SOUK_ENOTFOUND);
	assert_int_equal(souk_client_set_typing(c, 0, 1), SOUK_EINVAL);
	assert_int_equal(souk_client_send_text(NULL, c, 1, null_ptr), SOUK_EINVAL);
	assert_non_null(strstr(souk_client_errmsg(c), "empty"));
	assert_string_equal(souk_client_errmsg((souk_client *)&state), ""); /* another client */
	souk_client_free(c);
}

int main(void)
{
	th_tmpdir();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_and_strerror),
		cmocka_unit_test(test_options_validation),
		cmocka_unit_test(test_errmsg_is_per_thread),
		cmocka_unit_test(test_offline_send_and_pulled_events),
		cmocka_unit_test(test_stop_wakes_puller),
		cmocka_unit_test(test_callback_on_sdk_thread),
		cmocka_unit_test(test_logout),
		cmocka_unit_test(test_event_queue_limit),
		cmocka_unit_test(test_misuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
