/*
 * shopper-cli — a terminal chat with the shop's support, on libsouk.
 *
 * It is the smallest complete libsouk app: a key kept in a file (a real app keeps it in
 * the Keychain / Android Keystore), a client, the support conversation, an event
 * callback that prints what happens, and a loop that sends what you type. It keeps
 * working while soukd is down: messages show as pending and go when it is back.
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
static int verbose;
static int64_t conv_id;
static souk_client *client;

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
	fprintf(f,
		"usage: shopper-cli [--url URL] [--app APP_ID] [--token TOKEN] [--db FILE]\n"
		"                   [--key-file FILE] [--device ID] [--wait-sent SECONDS] [-v]\n"
		"Environment: SOUK_URL, SOUK_APP_ID, SOUK_TOKEN, SOUK_DB, SOUK_KEY_FILE.\n"
		"Type a line to send it. Commands: /history, /read, /retry N, /delete N,\n"
		"/token JWT, /status, /quit. At end of input it exits; with --wait-sent it first\n"
		"waits up to SECONDS for pending messages to be sent.\n");
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
	char buf[300];
	const char *st = status_text(m, buf, sizeof(buf));
	say("%s#%lld %s %s: %s%s%s%s", prefix, (long long)souk_message_get_id(m), when, who,
	    souk_message_get_text(m), st ? "  (" : "", st ? st : "", st ? ")" : "");
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
	case SOUK_EVENT_CONVERSATION_REMOVED:
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

static void command(char *line)
{
	int r = SOUK_OK;
	if (strcmp(line, "/history") == 0) {
		history();
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
	int wait_sent = 0;
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
	size_t pending = 0;
	souk_client_outbox_count(&pending, client);
	if (pending)
		say("-- %zu message(s) still pending: they will be sent next time", pending);
	souk_client_stop(client);
	souk_client_free(client);
	return 0;
}
