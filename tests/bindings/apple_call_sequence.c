/*
 * apple_call_sequence.c — the Swift layer's C calls, made in the same order and the same way,
 * against a real soukd. No Swift toolchain exists where this is built: this program is what
 * checks that the sequence bindings/apple/Sources/Souk/SoukClient.swift makes is a correct
 * use of libsouk (ownership, threads, errors, the pull loop). Keep the two in step: each
 * block names the Swift function it stands for.
 *
 *  - SoukClient.init: version check, options with strdup'ed strings freed after create, the
 *    key from a buffer, a log callback with a retained box released by log_destroy (exactly
 *    once, also when create fails), errors read with souk_client_errmsg(NULL);
 *  - EventPump: a dedicated thread that calls souk_client_next_event(-1) only when there is
 *    demand, survives SOUK_ESTATE during a logout, and ends at close;
 *  - send text and rich content (NativeContent: create, setters, send_content, free), read
 *    back every field through Message(reading:) / Content(reading:); quick reply; CSAT;
 *  - an agent's reply, quick replies and survey over the REST API; an in-app push;
 *  - list, conversations, mark read, typing, hints, outbox count, pushes;
 *  - logout(wipe:), then close(): stop, join the pump, free.
 */
#include "harness.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

/* ---- EventPump --------------------------------------------------------------------------- */

typedef struct pump {
	souk_client *c;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int demand;	   /* pending next() calls */
	souk_event *ready; /* the event handed to the waiting next() */
	int closing, finished;
	unsigned long generation;
	pthread_t thread;
	int events_pulled;
} pump;

static void *pump_run(void *arg)
{
	pump *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->demand && !p->closing)
			pthread_cond_wait(&p->cond, &p->mu);
		if (p->closing)
			break;
		unsigned long seen = p->generation;
		pthread_mutex_unlock(&p->mu);
		souk_event *ev = NULL;
		int r = souk_client_next_event(&ev, p->c, -1);
		pthread_mutex_lock(&p->mu);
		if (r == SOUK_OK) {
			p->demand--;
			p->ready = ev; /* continuation.resume(returning:) */
			p->events_pulled++;
			pthread_cond_broadcast(&p->cond);
		} else {
			CHECK_EQ(r, SOUK_ESTATE); /* stopped, or inside a logout */
			while (!p->closing && p->generation == seen)
				pthread_cond_wait(&p->cond, &p->mu);
		}
	}
	p->finished = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void pump_start(pump *p, souk_client *c)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	CHECK(pthread_create(&p->thread, NULL, pump_run, p) == 0);
}

/* EventPump.next(): one demand, wait for its event (the test bounds the wait). NULL when
 * the pump finished. The caller owns the event. */
static souk_event *pump_next(pump *p, int timeout_ms)
{
	pthread_mutex_lock(&p->mu);
	if (p->closing || p->finished) {
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	p->demand++;
	pthread_cond_broadcast(&p->cond);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	while (!p->ready && !p->finished)
		if (pthread_cond_timedwait(&p->cond, &p->mu, &deadline) != 0)
			th_fail(__FILE__, __LINE__, "no event within %d ms", timeout_ms);
	souk_event *ev = p->ready;
	p->ready = NULL;
	pthread_mutex_unlock(&p->mu);
	return ev;
}

static void pump_restarted(pump *p)
{
	pthread_mutex_lock(&p->mu);
	p->generation++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

static void pump_begin_close(pump *p)
{
	pthread_mutex_lock(&p->mu);
	p->closing = 1;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

/* ---- Message(reading:), Content(reading:), Conversation(reading:), SoukEvent(reading:) ---- */

typedef struct view {
	int64_t id, conv;
	int outgoing, status, kind, content_kind, sender_kind;
	char text[512], server_id[128], sender_name[64], product_title[128], currency[8];
	int64_t price;
	size_t replies;
	char reply_id[64], reply_title[128];
	uint32_t scale, rating;
} view;

static void copy_str(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static void read_content(const souk_content *c, view *v)
{
	v->content_kind = (int)souk_content_get_kind(c);
	(void)souk_content_get_fallback_text(c);
	switch (souk_content_get_kind(c)) {
	case SOUK_CONTENT_TEXT:
		(void)souk_content_get_text(c);
		break;
	case SOUK_CONTENT_PRODUCT:
		copy_str(v->product_title, sizeof(v->product_title),
			 souk_content_get_product_title(c));
		(void)souk_content_get_product_id(c);
		(void)souk_content_get_product_image_url(c);
		(void)souk_content_get_product_url(c);
		v->price = souk_content_get_product_price_minor(c);
		copy_str(v->currency, sizeof(v->currency),
			 souk_content_get_product_price_currency(c));
		break;
	case SOUK_CONTENT_QUICK_REPLIES:
		(void)souk_content_get_quick_replies_prompt(c);
		v->replies = souk_content_get_quick_reply_count(c);
		for (size_t i = 0; i < v->replies; i++) {
			copy_str(v->reply_id, sizeof(v->reply_id),
				 souk_content_get_quick_reply_id(c, i));
			copy_str(v->reply_title, sizeof(v->reply_title),
				 souk_content_get_quick_reply_title(c, i));
		}
		break;
	case SOUK_CONTENT_CSAT_SURVEY:
		(void)souk_content_get_csat_survey_id(c);
		(void)souk_content_get_csat_question(c);
		v->scale = souk_content_get_csat_scale(c);
		break;
	case SOUK_CONTENT_CSAT_ANSWER:
		(void)souk_content_get_csat_survey_id(c);
		v->rating = souk_content_get_csat_rating(c);
		(void)souk_content_get_csat_comment(c);
		break;
	default:
		break;
	}
}

static void read_message(const souk_message *m, view *v)
{
	memset(v, 0, sizeof(*v));
	v->id = souk_message_get_id(m);
	v->conv = souk_message_get_conversation_id(m);
	copy_str(v->server_id, sizeof(v->server_id), souk_message_get_server_id(m));
	CHECK(souk_message_get_client_msg_id(m) != NULL);
	(void)souk_message_get_conv_seq(m);
	(void)souk_message_get_sender_id(m);
	v->sender_kind = (int)souk_message_get_sender_kind(m);
	copy_str(v->sender_name, sizeof(v->sender_name), souk_message_get_sender_name(m));
	(void)souk_message_get_sender_avatar_url(m);
	v->outgoing = souk_message_is_outgoing(m);
	v->status = (int)souk_message_get_status(m);
	v->kind = (int)souk_message_get_content_kind(m);
	const souk_content *c = souk_message_get_content(m);
	if (c)
		read_content(c, v);
	copy_str(v->text, sizeof(v->text), souk_message_get_text(m));
	(void)souk_message_get_failure_code(m);
	(void)souk_message_get_failure_reason(m);
	(void)souk_message_get_created_ms(m);
	(void)souk_message_get_server_time_ms(m);
}

typedef struct conv_view {
	int64_t id;
	char server_id[128];
	uint64_t unread;
} conv_view;

static void read_conversation(const souk_conversation *c, conv_view *v)
{
	v->id = souk_conversation_get_id(c);
	copy_str(v->server_id, sizeof(v->server_id), souk_conversation_get_server_id(c));
	(void)souk_conversation_is_support(c);
	(void)souk_conversation_get_status(c);
	v->unread = souk_conversation_get_unread_count(c);
	(void)souk_conversation_get_read_up_to(c);
	(void)souk_conversation_get_peer_read_up_to(c);
	(void)souk_conversation_get_last_conv_seq(c);
	(void)souk_conversation_get_controller(c);
	(void)souk_conversation_get_assignee(c);
	view last;
	if (souk_conversation_get_last_message(c))
		read_message(souk_conversation_get_last_message(c), &last);
}

typedef struct ev_view {
	int type;
	view msg;
	conv_view conv;
	int state, error, typing;
	char push_title[128];
} ev_view;

static void read_event(const souk_event *e, ev_view *v)
{
	memset(v, 0, sizeof(*v));
	v->error = souk_event_get_error(e);
	if (v->error)
		(void)souk_event_get_error_message(e);
	(void)souk_event_get_conversation_id(e);
	v->type = (int)souk_event_get_type(e);
	switch (souk_event_get_type(e)) {
	case SOUK_EVENT_MESSAGE_ADDED:
	case SOUK_EVENT_MESSAGE_UPDATED:
	case SOUK_EVENT_MESSAGE_DELETED:
		CHECK(souk_event_get_message(e) != NULL);
		read_message(souk_event_get_message(e), &v->msg);
		break;
	case SOUK_EVENT_CONVERSATION_UPDATED:
		CHECK(souk_event_get_conversation(e) != NULL);
		read_conversation(souk_event_get_conversation(e), &v->conv);
		break;
	case SOUK_EVENT_TYPING:
		(void)souk_event_get_user_id(e);
		v->typing = souk_event_get_typing(e);
		break;
	case SOUK_EVENT_CONNECTION_STATE:
		v->state = (int)souk_event_get_connection_state(e);
		(void)souk_event_get_wire_code(e);
		break;
	case SOUK_EVENT_TOKEN_NEEDED:
	case SOUK_EVENT_CONTEXT_FAILED:
		(void)souk_event_get_wire_code(e);
		(void)souk_event_get_error_message(e);
		break;
	case SOUK_EVENT_PUSH_RECEIVED:
		CHECK(souk_event_get_push(e) != NULL);
		(void)souk_push_get_id(souk_event_get_push(e));
		copy_str(v->push_title, sizeof(v->push_title),
			 souk_push_get_title(souk_event_get_push(e)));
		(void)souk_push_get_body(souk_event_get_push(e));
		(void)souk_push_get_image_url(souk_event_get_push(e));
		(void)souk_push_get_deep_link(souk_event_get_push(e));
		(void)souk_push_get_product(souk_event_get_push(e));
		(void)souk_push_get_server_time_ms(souk_event_get_push(e));
		break;
	default:
		break;
	}
}

/* `for await event in souk.events` until `pred` */
typedef int (*ev_pred)(const ev_view *v, const void *arg);

static void await_event(pump *p, ev_pred pred, const void *arg, ev_view *out, const char *what)
{
	for (int i = 0; i < 10000; i++) {
		souk_event *e = pump_next(p, 60000); /* a bound against hangs */
		if (!e)
			th_fail(__FILE__, __LINE__, "events finished waiting for %s", what);
		ev_view v;
		read_event(e, &v);
		souk_event_free(e);
		if (pred(&v, arg)) {
			if (out)
				*out = v;
			return;
		}
	}
	th_fail(__FILE__, __LINE__, "no %s", what);
}

static int is_connected(const ev_view *v, const void *a)
{
	(void)a;
	return v->type == SOUK_EVENT_CONNECTION_STATE && v->state == SOUK_CONNECTION_CONNECTED;
}

static int is_sent(const ev_view *v, const void *a)
{
	return v->type == SOUK_EVENT_MESSAGE_UPDATED && v->msg.id == *(const int64_t *)a &&
	       v->msg.status == SOUK_MESSAGE_SENT;
}

static int conv_confirmed(const ev_view *v, const void *a)
{
	return v->type == SOUK_EVENT_CONVERSATION_UPDATED && v->conv.id == *(const int64_t *)a &&
	       v->conv.server_id[0];
}

static int incoming_kind(const ev_view *v, const void *a)
{
	return v->type == SOUK_EVENT_MESSAGE_ADDED && !v->msg.outgoing &&
	       v->msg.kind == *(const int *)a;
}

static int is_push(const ev_view *v, const void *a)
{
	(void)a;
	return v->type == SOUK_EVENT_PUSH_RECEIVED;
}

/* ---- SoukClient ----------------------------------------------------------------------------- */

static int log_lines, log_destroyed;

static void on_log(souk_log_level level, const char *message, void *box)
{
	(void)level;
	CHECK(box != NULL);
	CHECK(strstr(message, "Where is my order") == NULL); /* never message text in logs */
	__atomic_add_fetch(&log_lines, 1, __ATOMIC_SEQ_CST);
}

static void on_log_destroy(void *box)
{
	CHECK(box != NULL);
	__atomic_add_fetch(&log_destroyed, 1, __ATOMIC_SEQ_CST);
}

/* SoukClient.init(configuration:) */
static souk_client *client_init(th_server *s, const char *db, int key_variant, int *err)
{
	CHECK(souk_version_number() / 10000 == SOUK_VERSION_NUMBER / 10000 &&
	      souk_version_number() >= SOUK_VERSION_NUMBER);
	souk_client_options o;
	CHECK_OK(souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION));
	char path[512];
	th_db_path(path, sizeof(path), db);
	char *owned[3] = {strdup(th_url(s)), strdup(s->app_id), strdup(path)};
	o.server_url = owned[0];
	o.app_id = owned[1];
	o.db_path = owned[2];
	o.platform = SOUK_PLATFORM_IOS;
	o.reconnect_min_ms = 50;
	o.reconnect_max_ms = 1000;
	o.log_level = SOUK_LOG_DEBUG;
	o.log_cb = on_log;
	o.log_user_data = &log_lines; /* Unmanaged.passRetained(LogBox) */
	o.log_destroy = on_log_destroy;
	uint8_t key[32];
	th_key(key, key_variant); /* Data.withUnsafeBytes */
	o.db_key = key;
	o.db_key_len = sizeof(key);
	souk_client *c = NULL;
	int r = souk_client_create(&c, &o);
	for (int i = 0; i < 3; i++)
		free(owned[i]);
	*err = r;
	if (r != SOUK_OK)
		CHECK(souk_client_errmsg(NULL)[0] != '\0'); /* Self.check(r, nil) */
	return c;
}

/* SoukClient.snapshot(_:_:) after a send */
static void snapshot(souk_client *c, int64_t id, view *v)
{
	souk_message *m = NULL;
	CHECK_OK(souk_client_get_message(&m, c, id));
	read_message(m, v);
	souk_message_free(m);
}

static int64_t list_count_messages(souk_client *c, int64_t conv)
{
	souk_message_list *l = NULL;
	CHECK_OK(souk_client_list_messages(&l, c, conv, 0, SOUK_PAGE_BEFORE, 50));
	size_t n = souk_message_list_count(l);
	for (size_t i = 0; i < n; i++) {
		view v;
		read_message(souk_message_list_get(l, i), &v);
	}
	souk_message_list_free(l);
	return (int64_t)n;
}

static size_t list_conversations(souk_client *c)
{
	souk_conversation_list *l = NULL;
	CHECK_OK(souk_client_list_conversations(&l, c));
	size_t n = souk_conversation_list_count(l);
	for (size_t i = 0; i < n; i++) {
		conv_view v;
		read_conversation(souk_conversation_list_get(l, i), &v);
	}
	souk_conversation_list_free(l);
	return n;
}

int main(void)
{
	th_server s;
	th_server_init(&s, NULL);
	th_server_start(&s);
	char *alice = th_token(&s, "alice", 3600);

	/* init, login, start; the pump */
	int err = 0;
	souk_client *c = client_init(&s, "swift.db", 0, &err);
	CHECK_EQ(err, SOUK_OK);
	pump p;
	pump_start(&p, c);
	CHECK_OK(souk_client_login(c, alice));
	CHECK_OK(souk_client_start(c));
	pump_restarted(&p);
	int64_t conv = 0;
	CHECK_OK(souk_client_open_support_conversation(&conv, c));
	await_event(&p, is_connected, NULL, NULL, "connected");

	/* send(_:in:) */
	const char *text = "Where is my order? 📦";
	int64_t id = 0;
	CHECK_OK(souk_client_send_text(&id, c, conv, text));
	view v;
	snapshot(c, id, &v);
	CHECK(strcmp(v.text, text) == 0);
	CHECK(v.outgoing);
	await_event(&p, is_sent, &id, NULL, "text sent");
	ev_view ev;
	await_event(&p, conv_confirmed, &conv, &ev, "support conversation confirmed");
	char sid[128];
	snprintf(sid, sizeof(sid), "%s", ev.conv.server_id);

	/* send(_ content:fallbackText:in:) with a product card (NativeContent) */
	souk_content *pc = NULL;
	CHECK_OK(souk_content_create(&pc, SOUK_CONTENT_PRODUCT));
	CHECK_OK(souk_content_set_product_title(pc, "Trail shoe"));
	CHECK_OK(souk_content_set_product_id(pc, "sku-1"));
	CHECK_OK(souk_content_set_product_image_url(pc, NULL));
	CHECK_OK(souk_content_set_product_url(pc, "https://shop.example/p/sku-1"));
	CHECK_OK(souk_content_set_product_price(pc, 8999, "EUR"));
	CHECK_OK(souk_content_set_fallback_text(pc, "Trail shoe, 89.99 EUR"));
	int64_t pid = 0;
	CHECK_OK(souk_client_send_content(&pid, c, conv, pc));
	souk_content_free(pc);
	snapshot(c, pid, &v);
	CHECK_EQ(v.kind, SOUK_CONTENT_PRODUCT);
	CHECK_EQ(v.content_kind, SOUK_CONTENT_PRODUCT);
	CHECK(strcmp(v.product_title, "Trail shoe") == 0);
	CHECK_EQ(v.price, 8999);
	CHECK(strcmp(v.currency, "EUR") == 0);
	await_event(&p, is_sent, &pid, NULL, "product card sent");
	/* a content that breaks a rule: SoukError.invalidArgument with libsouk's message */
	CHECK_OK(souk_content_create(&pc, SOUK_CONTENT_PRODUCT));
	int r = souk_client_send_content(NULL, c, conv, pc);
	CHECK_EQ(r, SOUK_EINVAL);
	CHECK(souk_client_errmsg(c)[0] != '\0');
	souk_content_free(pc);

	/* an agent's reply, quick replies and a survey (REST); the shopper answers */
	char path[256], body[1024];
	snprintf(path, sizeof(path), "/v1/conversations/%s/messages", sid);
	CHECK_EQ(th_http(&s, "POST", path,
			 "{\"sender\":{\"id\":\"agent-7\",\"kind\":\"agent\",\"name\":\"Sam\"},"
			 "\"content\":{\"text\":{\"body\":\"It ships today\"}}}",
			 body, sizeof(body)),
		 201);
	int kind = SOUK_CONTENT_TEXT;
	await_event(&p, incoming_kind, &kind, &ev, "agent reply");
	CHECK(strcmp(ev.msg.text, "It ships today") == 0);
	CHECK(strcmp(ev.msg.sender_name, "Sam") == 0);
	CHECK_EQ(th_http(&s, "POST", path,
			 "{\"sender\":{\"id\":\"bot-1\",\"kind\":\"bot\"},\"content\":{\"quick_"
			 "replies\":"
			 "{\"prompt\":\"Track it?\",\"replies\":[{\"id\":\"yes\",\"title\":\"Yes "
			 "please\"}]}}}",
			 body, sizeof(body)),
		 201);
	kind = SOUK_CONTENT_QUICK_REPLIES;
	await_event(&p, incoming_kind, &kind, &ev, "quick replies");
	CHECK_EQ(ev.msg.replies, 1);
	int64_t qid = 0;
	CHECK_OK(souk_client_send_quick_reply(&qid, c, conv, ev.msg.id, ev.msg.reply_id));
	snapshot(c, qid, &v);
	CHECK(strcmp(v.text, "Yes please") == 0);
	CHECK_EQ(th_http(&s, "POST", path,
			 "{\"sender\":{\"id\":\"bot-1\",\"kind\":\"bot\"},\"content\":{\"csat_"
			 "survey\":"
			 "{\"survey_id\":\"s-1\",\"question\":\"How did we do?\",\"scale\":5}}}",
			 body, sizeof(body)),
		 201);
	kind = SOUK_CONTENT_CSAT_SURVEY;
	await_event(&p, incoming_kind, &kind, &ev, "survey");
	CHECK_EQ(ev.msg.scale, 5);
	int64_t aid = 0;
	CHECK_EQ(souk_client_answer_csat(&aid, c, conv, ev.msg.id, 9, NULL), SOUK_EINVAL);
	CHECK_OK(souk_client_answer_csat(&aid, c, conv, ev.msg.id, 4, "quick"));
	snapshot(c, aid, &v);
	CHECK_EQ(v.kind, SOUK_CONTENT_CSAT_ANSWER);
	CHECK_EQ(v.rating, 4);

	/* an in-app push */
	CHECK_EQ(th_http(&s, "POST", "/v1/push",
			 "{\"user_ids\":[\"alice\"],\"push\":{\"title\":\"Summer "
			 "sale\",\"body\":\"-30%\"}}",
			 body, sizeof(body)),
		 202);
	await_event(&p, is_push, NULL, &ev, "push");
	CHECK(strcmp(ev.push_title, "Summer sale") == 0);
	souk_push_list *pl = NULL;
	CHECK_OK(souk_client_list_pushes(&pl, c, 50));
	CHECK_EQ(souk_push_list_count(pl), 1);
	souk_push_list_free(pl);

	/* messages(in:), conversations(), markRead, setTyping, hints, outboxCount */
	CHECK(list_count_messages(c, conv) >= 6);
	CHECK_EQ(list_conversations(c), 1);
	CHECK_OK(souk_client_mark_read(c, conv, 0));
	CHECK_OK(souk_client_set_typing(c, conv, 1));
	CHECK_OK(souk_client_set_typing(c, conv, 0));
	CHECK_OK(souk_client_hint(c, SOUK_HINT_BACKGROUND));
	CHECK_OK(souk_client_hint(c, SOUK_HINT_FOREGROUND));
	CHECK_OK(souk_client_hint(c, SOUK_HINT_NETWORK_CHANGED));
	size_t pending = 99;
	CHECK_OK(souk_client_outbox_count(&pending, c));
	CHECK(souk_client_get_connection_state(c) <= SOUK_CONNECTION_CONNECTED);
	CHECK(souk_client_get_device_id(c)[0] != '\0');

	/* logout(wipe: true): the pump survives the stop/start inside it */
	CHECK_OK(souk_client_logout(c, SOUK_LOGOUT_WIPE));
	pump_restarted(&p);
	CHECK_EQ(list_conversations(c), 0);
	CHECK_OK(souk_client_login(c, alice));
	kind = SOUK_CONTENT_TEXT; /* alice's stream is synced again into the empty store */
	await_event(&p, incoming_kind, &kind, &ev,
		    "the agent's reply, synced again after the wipe");
	CHECK(strcmp(ev.msg.text, "It ships today") == 0);
	CHECK_EQ(list_conversations(c), 1);

	/* close() */
	pump_begin_close(&p);
	CHECK_OK(souk_client_stop(c));
	pthread_join(p.thread, NULL);
	CHECK(pump_next(&p, 1000) == NULL); /* the stream has finished */
	souk_client_free(c);
	CHECK_EQ(__atomic_load_n(&log_destroyed, __ATOMIC_SEQ_CST), 1);
	CHECK(log_lines > 0);
	CHECK(p.events_pulled > 10);

	/* init with the wrong key: SoukError.wrongKey; the logger box is released anyway */
	c = client_init(&s, "swift.db", 1, &err);
	CHECK(c == NULL);
	CHECK_EQ(err, SOUK_EKEY);
	CHECK_EQ(__atomic_load_n(&log_destroyed, __ATOMIC_SEQ_CST), 2);

	free(alice);
	th_server_stop(&s);
	printf("apple call sequence: 1 passed, 0 failed\n");
	return 0;
}
