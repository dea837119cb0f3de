/*
 * shopper-cli — a terminal chat with the shop's support, on libsouk.
 *
 * It is the smallest complete libsouk app: a key kept in a file (a real app keeps it in
 * the Keychain / Android Keystore), a client, the support conversation, an event
 * callback that prints what happens, and a loop that sends what you type. It keeps
 * working while soukd is down: messages show as pending and go when it is back.
 * Rich messages from the shop are rendered from their typed content (product and order
 * cards, quick replies to pick with /reply N, surveys to answer with /rate N), in-app
 * pushes are shown as they arrive, and /context attaches a demo shopping context.
 *
 *   shopper-cli --url ws://127.0.0.1:8080 --app APP_ID --token TOKEN [--db FILE]
 *
 * Only the public API (souk/souk.h) is used.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "souk/souk.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t out_cond = PTHREAD_COND_INITIALIZER;
static int verbose;
static int64_t conv_id;
static souk_client *client;
/* under out_mu: what /reply and /rate answer, and what the exit waits for */
static int64_t last_quick_replies, last_survey;
static int synced, context_waiting;
static char controller[64], assignee[64];

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&out_mu);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: shopper-cli [--url URL] [--app APP_ID] [--token TOKEN] [--db FILE]\n"
		   "                   [--key-file FILE] [--device ID] [--wait-sent SECONDS] [-v]\n"
		   "Environment: SOUK_URL, SOUK_APP_ID, SOUK_TOKEN, SOUK_DB, SOUK_KEY_FILE.\n"
		   "                   [--wait-sync SECONDS]\n"
		   "Type a line to send it. Commands: /history, /read, /reply N (pick quick reply "
		   "N),\n"
		   "/rate N [comment] (answer the survey), /context (attach a demo shopping "
		   "context),\n"
		   "/pushes, /retry N, /delete N, /token JWT, /status, /quit. With --wait-sync it\n"
		   "first waits up to SECONDS to be up to date; at end of input it exits, with\n"
		   "--wait-sent first waiting up to SECONDS for pending messages and context.\n");
}

static const char *status_text(const souk_message *m, char *buf, size_t len)
{
	switch (souk_message_get_status(m)) {
	case SOUK_MESSAGE_PENDING:
		return "pending";
	case SOUK_MESSAGE_SENT:
		return "sent";
	case SOUK_MESSAGE_DELIVERED:
		return "delivered";
	case SOUK_MESSAGE_READ:
		return "read";
	case SOUK_MESSAGE_FAILED:
		snprintf(buf, len, "failed: %s (code %d; /retry %lld or /delete %lld)",
			 souk_message_get_failure_reason(m) ? souk_message_get_failure_reason(m)
							    : "refused",
			 souk_message_get_failure_code(m), (long long)souk_message_get_id(m),
			 (long long)souk_message_get_id(m));
		return buf;
	default:
		return NULL;
	}
}

/* Minor units to text: "89.99 EUR" (currencies without minor units are listed). */
static const char *money(int64_t minor, const char *currency, char *buf, size_t len)
{
	if (!currency) {
		snprintf(buf, len, "-");
		return buf;
	}
	static const char *const whole[] = {"JPY", "KRW", "VND", "CLP", "ISK", "XOF", "XAF"};
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		if (!strcmp(currency, whole[i])) {
			snprintf(buf, len, "%lld %s", (long long)minor, currency);
			return buf;
		}
	long long a = minor < 0 ? -minor : minor;
	snprintf(buf, len, "%s%lld.%02lld %s", minor < 0 ? "-" : "", a / 100, a % 100, currency);
	return buf;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* The body of a message, rendered from its typed content. */
static void render(const souk_message *m, char *out, size_t len)
{
	const souk_content *c = souk_message_get_content(m);
	char p1[48], p2[48];
	size_t n = 0;
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (n < len)                                                                       \
			n += (size_t)snprintf(out + n, len - n, __VA_ARGS__);                      \
	} while (0)
	switch (souk_content_get_kind(c)) {
	case SOUK_CONTENT_PRODUCT:
		ADD("[product] %s  %s", or_empty(souk_content_get_product_title(c)),
		    money(souk_content_get_product_price_minor(c),
			  souk_content_get_product_price_currency(c), p1, sizeof(p1)));
		if (souk_content_get_product_url(c))
			ADD("  %s", souk_content_get_product_url(c));
		break;
	case SOUK_CONTENT_ORDER:
		ADD("[order %s%s%s]", or_empty(souk_content_get_order_id(c)),
		    souk_content_get_order_status(c) ? ": " : "",
		    or_empty(souk_content_get_order_status(c)));
		for (size_t i = 0; i < souk_content_get_order_item_count(c); i++)
			ADD("%s %u x %s %s", i ? ";" : "",
			    souk_content_get_order_item_quantity(c, i),
			    or_empty(souk_content_get_order_item_title(c, i)),
			    money(souk_content_get_order_item_price_minor(c, i),
				  souk_content_get_order_item_price_currency(c, i), p1,
				  sizeof(p1)));
		if (souk_content_get_order_total_currency(c))
			ADD("; total %s",
			    money(souk_content_get_order_total_minor(c),
				  souk_content_get_order_total_currency(c), p2, sizeof(p2)));
		break;
	case SOUK_CONTENT_QUICK_REPLIES:
		ADD("%s", souk_content_get_quick_replies_prompt(c)
				  ? souk_content_get_quick_replies_prompt(c)
				  : souk_message_get_text(m));
		for (size_t i = 0; i < souk_content_get_quick_reply_count(c); i++)
			ADD("  [%zu] %s", i + 1,
			    or_empty(souk_content_get_quick_reply_title(c, i)));
		ADD("   (/reply N)");
		break;
	case SOUK_CONTENT_CSAT_SURVEY:
		ADD("%s (1..%u)   (/rate N [comment])",
		    souk_content_get_csat_question(c) ? souk_content_get_csat_question(c)
						      : "How did we do?",
		    souk_content_get_csat_scale(c));
		break;
	case SOUK_CONTENT_CSAT_ANSWER:
		ADD("[rated %u%s%s]", souk_content_get_csat_rating(c),
		    souk_content_get_csat_comment(c) ? ": " : "",
		    or_empty(souk_content_get_csat_comment(c)));
		break;
	case SOUK_CONTENT_ATTACHMENT:
		ADD("[attachment] %s (%s, %llu bytes) %s",
		    souk_content_get_attachment_file_name(c)
			    ? souk_content_get_attachment_file_name(c)
			    : "file",
		    or_empty(souk_content_get_attachment_mime_type(c)),
		    (unsigned long long)souk_content_get_attachment_size(c),
		    or_empty(souk_content_get_attachment_url(c)));
		break;
	default: /* text, and kinds this version does not know: the text to show */
		ADD("%s", souk_message_get_text(m));
		break;
	}
#undef ADD
}

static void print_message(const souk_message *m, const char *prefix)
{
	char when[16] = "--:--";
	int64_t ms = souk_message_get_server_time_ms(m);
	if (!ms)
		ms = souk_message_get_created_ms(m);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%H:%M", &tm);
	const char *who = "you";
	if (!souk_message_is_outgoing(m))
		who = souk_message_get_sender_name(m)
			      ? souk_message_get_sender_name(m)
			      : (souk_message_get_sender_kind(m) == SOUK_SENDER_BOT ? "bot"
										    : "shop");
	char buf[300], body[2048];
	const char *st = status_text(m, buf, sizeof(buf));
	render(m, body, sizeof(body));
	say("%s#%lld %s %s: %s%s%s%s", prefix, (long long)souk_message_get_id(m), when, who, body,
	    st ? "  (" : "", st ? st : "", st ? ")" : "");
	/* the newest quick replies and survey from the shop are what /reply and /rate answer */
	souk_content_kind kind = souk_message_get_content_kind(m);
	if (!souk_message_is_outgoing(m) &&
	    (kind == SOUK_CONTENT_QUICK_REPLIES || kind == SOUK_CONTENT_CSAT_SURVEY)) {
		pthread_mutex_lock(&out_mu);
		int64_t *slot =
			kind == SOUK_CONTENT_QUICK_REPLIES ? &last_quick_replies : &last_survey;
		if (souk_message_get_id(m) > *slot)
			*slot = souk_message_get_id(m);
		pthread_mutex_unlock(&out_mu);
	}
}

static void print_push(const souk_push *p)
{
	const char *link = souk_push_get_deep_link(p);
	say("-- push: %s%s%s%s%s%s", or_empty(souk_push_get_title(p)),
	    souk_push_get_title(p) && souk_push_get_body(p) ? " - " : "",
	    or_empty(souk_push_get_body(p)), link ? "  (open " : "", or_empty(link),
	    link ? ")" : "");
	const souk_content *product = souk_push_get_product(p);
	if (product) {
		char price[48];
		say("   [product] %s  %s", or_empty(souk_content_get_product_title(product)),
		    money(souk_content_get_product_price_minor(product),
			  souk_content_get_product_price_currency(product), price, sizeof(price)));
	}
}

/* Says who is on the shop's side when it changes (assignment, bot <-> human handoff). */
static void conversation_changed(const souk_conversation *c)
{
	if (souk_conversation_get_id(c) != conv_id)
		return;
	const char *k = or_empty(souk_conversation_get_controller(c));
	const char *a = or_empty(souk_conversation_get_assignee(c));
	pthread_mutex_lock(&out_mu);
	int changed = strcmp(k, controller) != 0 || strcmp(a, assignee) != 0;
	int first = !controller[0] && !assignee[0];
	snprintf(controller, sizeof(controller), "%s", k);
	snprintf(assignee, sizeof(assignee), "%s", a);
	pthread_mutex_unlock(&out_mu);
	if (changed && !first)
		say("-- now answering: %s%s%s", a[0] ? a : k, a[0] ? " via " : "", a[0] ? k : "");
}

static void on_event(const souk_event *ev, void *ud)
{
	(void)ud;
	const souk_message *m = souk_event_get_message(ev);
	switch (souk_event_get_type(ev)) {
	case SOUK_EVENT_MESSAGE_ADDED:
		print_message(m, "");
		if (!souk_message_is_outgoing(m))
			souk_client_mark_read(client, souk_message_get_conversation_id(m),
					      souk_message_get_id(m));
		break;
	case SOUK_EVENT_MESSAGE_UPDATED:
		print_message(m, "  updated ");
		break;
	case SOUK_EVENT_MESSAGE_DELETED:
		say("  deleted #%lld", (long long)souk_message_get_id(m));
		break;
	case SOUK_EVENT_CONVERSATION_UPDATED:
		conversation_changed(souk_event_get_conversation(ev));
		break;
	case SOUK_EVENT_CONVERSATION_REMOVED:
		break;
	case SOUK_EVENT_PUSH_RECEIVED:
		print_push(souk_event_get_push(ev));
		break;
	case SOUK_EVENT_CONTEXT_UPDATED:
		pthread_mutex_lock(&out_mu);
		context_waiting = 0;
		pthread_cond_broadcast(&out_cond);
		pthread_mutex_unlock(&out_mu);
		say("-- the shop now sees what you are looking at");
		break;
	case SOUK_EVENT_CONTEXT_FAILED:
		pthread_mutex_lock(&out_mu);
		context_waiting = 0;
		pthread_cond_broadcast(&out_cond);
		pthread_mutex_unlock(&out_mu);
		say("-- the shop refused the context: %s",
		    or_empty(souk_event_get_error_message(ev)));
		break;
	case SOUK_EVENT_TYPING:
		if (souk_event_get_typing(ev))
			say("  ... %s is typing",
			    souk_event_get_user_id(ev) ? souk_event_get_user_id(ev) : "someone");
		break;
	case SOUK_EVENT_CONNECTION_STATE:
		switch (souk_event_get_connection_state(ev)) {
		case SOUK_CONNECTION_CONNECTED:
			say("-- connected");
			break;
		case SOUK_CONNECTION_WAITING:
			if (souk_event_get_error(ev))
				say("-- offline (%s); messages wait and go when it is back",
				    souk_event_get_error_message(ev)
					    ? souk_event_get_error_message(ev)
					    : souk_strerror(souk_event_get_error(ev)));
			break;
		default:
			break;
		}
		break;
	case SOUK_EVENT_TOKEN_NEEDED:
		say("-- the server needs a new token%s%s: paste one with /token JWT",
		    souk_event_get_error_message(ev) ? ": " : "",
		    souk_event_get_error_message(ev) ? souk_event_get_error_message(ev) : "");
		break;
	case SOUK_EVENT_SYNC_FINISHED:
		pthread_mutex_lock(&out_mu);
		synced = 1;
		pthread_cond_broadcast(&out_cond);
		pthread_mutex_unlock(&out_mu);
		if (verbose)
			say("-- up to date");
		break;
	case SOUK_EVENT_EVENTS_DROPPED:
		say("-- some updates were skipped; /history shows the current state");
		break;
	default:
		break;
	}
}

static void on_log(souk_log_level level, const char *msg, void *ud)
{
	(void)ud;
	static const char *names[] = {"", "error", "warn", "info", "debug"};
	pthread_mutex_lock(&out_mu);
	fprintf(stderr, "libsouk %s: %s\n", names[level], msg);
	pthread_mutex_unlock(&out_mu);
}

/* The database key: 32 random bytes in a 0600 file beside the database. */
static int load_key(const char *path, uint8_t key[32])
{
	int fd = open(path, O_RDONLY);
	if (fd >= 0) {
		ssize_t n = read(fd, key, 32);
		close(fd);
		if (n == 32)
			return 0;
		fprintf(stderr, "shopper-cli: %s is not a 32-byte key\n", path);
		return -1;
	}
	if (errno != ENOENT || getrandom(key, 32, 0) != 32)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0 || write(fd, key, 32) != 32) {
		fprintf(stderr, "shopper-cli: cannot write %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void history(void)
{
	souk_message_list *l = NULL;
	if (souk_client_list_messages(&l, client, conv_id, 0, SOUK_PAGE_BEFORE, 20) != SOUK_OK) {
		say("-- cannot read the history: %s", souk_client_errmsg(client));
		return;
	}
	if (souk_message_list_count(l) == 0)
		say("-- no messages yet: say hello");
	for (size_t i = 0; i < souk_message_list_count(l); i++)
		print_message(souk_message_list_get(l, i), "");
	souk_message_list_free(l);
}

static void status(void)
{
	static const char *states[] = {"stopped", "waiting", "connecting", "connected"};
	size_t pending = 0;
	souk_client_outbox_count(&pending, client);
	say("-- %s, %zu message(s) pending, device %s",
	    states[souk_client_get_connection_state(client)], pending,
	    souk_client_get_device_id(client));
}

/* A demo of what a shop app attaches: the product on screen, the cart, the last pages, who
 * the shopper is. A real app sets it when the shopper opens the chat (and on changes). */
static int set_demo_context(void)
{
	souk_context *x = NULL;
	souk_content *p = NULL;
	int64_t now = (int64_t)time(NULL) * 1000;
	int r = souk_context_create(&x);
	if (r == SOUK_OK)
		r = souk_content_create(&p, SOUK_CONTENT_PRODUCT);
	if (r == SOUK_OK)
		r = souk_content_set_product_id(p, "sku-trail-42");
	if (r == SOUK_OK)
		r = souk_content_set_product_title(p, "Trail running shoe");
	if (r == SOUK_OK)
		r = souk_content_set_product_price(p, 8999, "EUR");
	if (r == SOUK_OK)
		r = souk_content_set_product_url(p, "https://shop.example/p/sku-trail-42");
	if (r == SOUK_OK)
		r = souk_context_set_product(x, p);
	if (r == SOUK_OK)
		r = souk_context_add_cart_item(x, "sku-socks-3", "Running socks (3 pairs)", 1, 1299,
					       "EUR");
	if (r == SOUK_OK)
		r = souk_context_set_cart_total(x, 1299, "EUR");
	if (r == SOUK_OK)
		r = souk_context_add_page_visit(x, "https://shop.example/c/running", "Running",
						now - 60000);
	if (r == SOUK_OK)
		r = souk_context_add_page_visit(x, "https://shop.example/p/sku-trail-42",
						"Trail running shoe", now);
	if (r == SOUK_OK)
		r = souk_context_set_attribute(x, "locale", "en-GB");
	if (r == SOUK_OK)
		r = souk_context_set_attribute(x, "tier", "gold");
	if (r == SOUK_OK) {
		pthread_mutex_lock(&out_mu);
		context_waiting = 1;
		pthread_mutex_unlock(&out_mu);
		r = souk_client_set_context(client, conv_id, x);
		if (r == SOUK_OK)
			say("-- context attached (the trail shoe, your cart, your last pages)");
	}
	souk_content_free(p);
	souk_context_free(x);
	return r;
}

static int answer(char *line, int rate)
{
	char *end = NULL;
	long n = strtol(line, &end, 10);
	while (end && *end == ' ')
		end++;
	pthread_mutex_lock(&out_mu);
	int64_t msg = rate ? last_survey : last_quick_replies;
	pthread_mutex_unlock(&out_mu);
	if (!msg) {
		say("-- nothing to %s yet", rate ? "rate" : "reply to");
		return SOUK_OK;
	}
	if (rate)
		return souk_client_answer_csat(NULL, client, conv_id, msg, n > 0 ? (uint32_t)n : 0,
					       end && *end ? end : NULL);
	souk_message *m = NULL;
	int r = souk_client_get_message(&m, client, msg);
	if (r != SOUK_OK)
		return r;
	const char *id = n > 0 ? souk_content_get_quick_reply_id(souk_message_get_content(m),
								 (size_t)(n - 1))
			       : NULL;
	if (id)
		r = souk_client_send_quick_reply(NULL, client, conv_id, msg, id);
	else
		say("-- no reply %ld: pick one of the numbers shown", n);
	souk_message_free(m);
	return r;
}

static void pushes(void)
{
	souk_push_list *l = NULL;
	if (souk_client_list_pushes(&l, client, 10) != SOUK_OK) {
		say("-- %s", souk_client_errmsg(client));
		return;
	}
	if (souk_push_list_count(l) == 0)
		say("-- no pushes yet");
	for (size_t i = souk_push_list_count(l); i > 0; i--)
		print_push(souk_push_list_get(l, i - 1));
	souk_push_list_free(l);
}

static void command(char *line)
{
	int r = SOUK_OK;
	if (strcmp(line, "/history") == 0) {
		history();
	} else if (strncmp(line, "/reply ", 7) == 0) {
		r = answer(line + 7, 0);
	} else if (strncmp(line, "/rate ", 6) == 0) {
		r = answer(line + 6, 1);
	} else if (strcmp(line, "/context") == 0) {
		r = set_demo_context();
	} else if (strcmp(line, "/pushes") == 0) {
		pushes();
	} else if (strcmp(line, "/read") == 0) {
		r = souk_client_mark_read(client, conv_id, 0);
	} else if (strncmp(line, "/retry ", 7) == 0) {
		r = souk_client_resend(client, strtoll(line + 7, NULL, 10));
	} else if (strncmp(line, "/delete ", 8) == 0) {
		r = souk_client_delete_failed(client, strtoll(line + 8, NULL, 10));
	} else if (strncmp(line, "/token ", 7) == 0) {
		r = souk_client_set_token(client, line + 7);
	} else if (strcmp(line, "/status") == 0) {
		status();
	} else if (strcmp(line, "/help") == 0) {
		usage(stdout);
	} else {
		say("-- unknown command; /help lists them");
	}
	if (r != SOUK_OK)
		say("-- %s", souk_client_errmsg(client));
}

int main(int argc, char **argv)
{
	const char *url = getenv("SOUK_URL"), *app = getenv("SOUK_APP_ID");
	const char *token = getenv("SOUK_TOKEN"), *db = getenv("SOUK_DB");
	const char *key_file = getenv("SOUK_KEY_FILE"), *device = NULL;
	int wait_sent = 0, wait_sync = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			verbose = 1;
		} else if (v && !strcmp(a, "--url")) {
			url = argv[++i];
		} else if (v && !strcmp(a, "--app")) {
			app = argv[++i];
		} else if (v && !strcmp(a, "--token")) {
			token = argv[++i];
		} else if (v && !strcmp(a, "--db")) {
			db = argv[++i];
		} else if (v && !strcmp(a, "--key-file")) {
			key_file = argv[++i];
		} else if (v && !strcmp(a, "--device")) {
			device = argv[++i];
		} else if (v && !strcmp(a, "--wait-sent")) {
			wait_sent = atoi(argv[++i]);
		} else if (v && !strcmp(a, "--wait-sync")) {
			wait_sync = atoi(argv[++i]);
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!url || !app || !token) {
		fprintf(stderr, "shopper-cli: the server URL, app id and token are required\n");
		usage(stderr);
		return 2;
	}
	char dbbuf[600], keybuf[640];
	if (!db) {
		const char *home = getenv("HOME") ? getenv("HOME") : ".";
		snprintf(dbbuf, sizeof(dbbuf), "%s/.souk-shopper", home);
		mkdir(dbbuf, 0700);
		snprintf(dbbuf, sizeof(dbbuf), "%s/.souk-shopper/%s.db", home, app);
		db = dbbuf;
	}
	if (!key_file) {
		snprintf(keybuf, sizeof(keybuf), "%s.key", db);
		key_file = keybuf;
	}
	uint8_t key[32];
	if (load_key(key_file, key) != 0)
		return 1;

	souk_client_options o;
	souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION);
	o.server_url = url;
	o.app_id = app;
	o.db_path = db;
	o.db_key = key;
	o.db_key_len = sizeof(key);
	o.device_id = device;
	o.platform = SOUK_PLATFORM_DESKTOP;
	o.log_level = verbose ? SOUK_LOG_DEBUG : SOUK_LOG_WARN;
	o.log_cb = on_log;
	o.reconnect_max_ms = 5000; /* a demo: come back quickly when soukd does */
	int r = souk_client_create(&client, &o);
	memset(key, 0, sizeof(key));
	if (r != SOUK_OK) {
		fprintf(stderr, "shopper-cli: %s\n", souk_client_errmsg(NULL));
		return 1;
	}
	if (souk_client_open_support_conversation(&conv_id, client) != SOUK_OK ||
	    souk_client_set_event_callback(client, on_event, NULL, NULL) != SOUK_OK ||
	    souk_client_login(client, token) != SOUK_OK) {
		fprintf(stderr, "shopper-cli: %s\n", souk_client_errmsg(client));
		souk_client_free(client);
		return 1;
	}
	say("Souk support chat — type a message and press Enter (/help for commands)");
	history();
	if (souk_client_start(client) != SOUK_OK) {
		fprintf(stderr, "shopper-cli: %s\n", souk_client_errmsg(client));
		souk_client_free(client);
		return 1;
	}

	if (wait_sync > 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_sync;
		pthread_mutex_lock(&out_mu);
		while (!synced && pthread_cond_timedwait(&out_cond, &out_mu, &until) == 0)
			;
		int ok = synced;
		pthread_mutex_unlock(&out_mu);
		if (!ok)
			say("-- not up to date after %d s; going on", wait_sync);
	}

	char line[4096];
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		if (!strcmp(line, "/quit"))
			break;
		if (line[0] == '/') {
			command(line);
			continue;
		}
		if (souk_client_send_text(NULL, client, conv_id, line) != SOUK_OK)
			say("-- not sent: %s", souk_client_errmsg(client));
	}
	for (int i = 0; i < wait_sent * 10; i++) {
		size_t pending = 0;
		if (souk_client_outbox_count(&pending, client) != SOUK_OK || pending == 0)
			break;
		usleep(100 * 1000);
	}
	if (wait_sent > 0) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_sent;
		pthread_mutex_lock(&out_mu);
		while (context_waiting && pthread_cond_timedwait(&out_cond, &out_mu, &until) == 0)
			;
		pthread_mutex_unlock(&out_mu);
	}
	size_t pending = 0;
	souk_client_outbox_count(&pending, client);
	if (pending)
		say("-- %zu message(s) still pending: they will be sent next time", pending);
	pthread_mutex_lock(&out_mu);
	if (context_waiting)
		say("-- the context is not confirmed yet: it will be sent next time");
	pthread_mutex_unlock(&out_mu);
	souk_client_stop(client);
	souk_client_free(client);
	return 0;
}
