/*
 * souk/client.h — the Souk client: configuration, lifecycle, session, hints, errors.
 *
 * One souk_client is one user's chat on one device: an encrypted local store, a durable
 * outbox, and (once started) an SDK thread that keeps a WebSocket to soukd, syncs the
 * user's event stream into the store and sends the outbox. Typical use:
 *
 *     souk_client_options o;
 *     souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION);
 *     o.server_url = "wss://chat.example.com"; o.app_id = "..."; o.db_path = "...";
 *     o.db_key = key32; o.db_key_len = 32;
 *     souk_client *c;
 *     if (souk_client_create(&c, &o) != SOUK_OK) { ... souk_client_errmsg(NULL) ... }
 *     souk_client_login(c, token);
 *     souk_client_start(c);
 *     ... souk_client_send_text(), souk_client_next_event() ...
 *     souk_client_stop(c);
 *     souk_client_free(c);
 *
 * Every function here may be called from any thread, except where noted; what may be
 * called from inside a callback is written in docs/threading.md.
 */
#ifndef SOUK_CLIENT_H
#define SOUK_CLIENT_H

#include "souk/common.h"
#include "souk/event.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

typedef enum SOUK_ENUM souk_platform {
	SOUK_PLATFORM_UNSPECIFIED = 0,
	SOUK_PLATFORM_IOS = 1,
	SOUK_PLATFORM_ANDROID = 2,
	SOUK_PLATFORM_WEB = 3,
	SOUK_PLATFORM_DESKTOP = 4
} souk_platform;

typedef enum SOUK_ENUM souk_log_level {
	SOUK_LOG_NONE = 0,
	SOUK_LOG_ERROR = 1,
	SOUK_LOG_WARN = 2,
	SOUK_LOG_INFO = 3,
	SOUK_LOG_DEBUG = 4
} souk_log_level;

/* Log callback. Runs on whichever thread logs (mostly the SDK thread) and must not call
 * back into libsouk. `message` is one line without a newline, borrowed for the call.
 * Logs never contain message bodies, tokens or keys, at any level. */
typedef void (*souk_log_cb)(souk_log_level level, const char *message,
			    void *SOUK_NULLABLE user_data);

#define SOUK_CLIENT_OPTIONS_VERSION 1

/* Options for souk_client_create(). Initialise with souk_client_options_init() and set
 * what you need: fields added by later versions keep their defaults. Strings are copied
 * by souk_client_create(); nothing here needs to outlive that call. */
typedef struct souk_client_options {
	unsigned int version; /* SOUK_CLIENT_OPTIONS_VERSION */

	/* Required. "wss://host[:port][/path]" (or "ws://" for loopback and development).
	 * The path defaults to /v1/ws. */
	const char *SOUK_NULLABLE server_url;
	/* Required: the app id from the Souk console (soukctl app create). */
	const char *SOUK_NULLABLE app_id;
	/* Required: the database file. Its directory must exist; "-wal" and "-shm" files are
	 * created beside it. */
	const char *SOUK_NULLABLE db_path;
	/* Required: the 32-byte raw database key. Generate it once with a secure random
	 * generator and keep it in the Keychain / Android Keystore. */
	const uint8_t *SOUK_NULLABLE db_key;
	size_t db_key_len;

	/* A stable id of this app installation (1..128 bytes UTF-8). NULL: one is generated
	 * on first use and kept in the store. */
	const char *SOUK_NULLABLE device_id;
	souk_platform platform;

	/* TLS: a PEM file of trusted CAs (NULL: the system's), and optional pins: a comma
	 * separated list of base64 SHA-256 digests of SubjectPublicKeyInfo (as in HPKP);
	 * when set, some certificate of the server's chain must match one of them. */
	const char *SOUK_NULLABLE tls_ca_file;
	const char *SOUK_NULLABLE tls_pins;

	/* WebSocket ping interval while connected, seconds (0: 30). A connection with no
	 * answer for 2.5 times this long is dropped and re-established. */
	unsigned int heartbeat_s;
	/* Reconnection backoff: first delay and cap, ms (0: 500 and 60000). Delays double
	 * with each failure, with random jitter; souk_client_hint() resets them. */
	unsigned int reconnect_min_ms;
	unsigned int reconnect_max_ms;
	/* Events kept for souk_client_next_event() before dropping (0: 10000). */
	size_t max_queued_events;

	/* Logging: messages at `log_level` or more severe go to `log_cb`. */
	souk_log_level log_level;
	souk_log_cb SOUK_NULLABLE log_cb;
	void *SOUK_NULLABLE log_user_data;
	/* Called exactly once with log_user_data: when the client is freed, or before
	 * souk_client_create() returns an error. */
	souk_destroy_cb SOUK_NULLABLE log_destroy;
} souk_client_options;

/* Fills `options` with defaults for `version`. SOUK_EINVAL for a version this library
 * does not know (a newer header than the library). */
SOUK_API int souk_client_options_init(souk_client_options *options, unsigned int version);

/* Creates a client: opens (or creates) the encrypted store and migrates its schema.
 * Does not connect: see souk_client_start(). On success the caller owns *out.
 * SOUK_EKEY: wrong key (or not a Souk database). SOUK_ENOCRYPT: libsouk was linked with
 * an SQLite without encryption. SOUK_ESCHEMA: written by a newer libsouk. SOUK_ESTORE:
 * the file cannot be opened or created. The reason: souk_client_errmsg(NULL). */
SOUK_API int souk_client_create(souk_client *SOUK_NULLABLE *SOUK_NONNULL out,
				const souk_client_options *options);

/* Stops the client if needed, closes the store and frees everything. Pending messages
 * stay in the outbox for the next client on this database. NULL is a no-op. Never call it
 * from a callback, nor while another thread may still be using the client (including a
 * thread blocked in souk_client_next_event: stop first, then join that thread). */
SOUK_API void souk_client_free(souk_client *SOUK_NULLABLE client);

/* Starts the SDK thread: connect, sync, send the outbox, reconnect when needed.
 * SOUK_ESTATE if already started. */
SOUK_API int souk_client_start(souk_client *client);

/* Stops the SDK thread and closes the connection; blocks until it has ended. Messages
 * not yet acked stay pending. Wakes souk_client_next_event() waiters. Not from a
 * callback (SOUK_ESTATE). Stopping a stopped client is a no-op. */
SOUK_API int souk_client_stop(souk_client *client);

/* Logs a user in with a token (a JWT minted by the app's backend). The user is the
 * token's subject; a store that belongs to another user is refused when the server
 * answers (SOUK_EVENT_CONNECTION_STATE with SOUK_EUSER): log out with wipe first. The
 * token is kept in memory only: call this again after each souk_client_create(). */
SOUK_API int souk_client_login(souk_client *client, const char *token);

/* Hands over a fresh token, typically after SOUK_EVENT_TOKEN_NEEDED. Reconnects at
 * once when the SDK was waiting for it. SOUK_ESTATE when not logged in. */
SOUK_API int souk_client_set_token(souk_client *client, const char *token);

typedef enum SOUK_ENUM souk_logout_mode {
	/* Forget the token and disconnect; keep the store (the same user may log in again,
	 * and their pending messages are sent then). */
	SOUK_LOGOUT_KEEP_DATA = 0,
	/* Also delete the database and its -wal and -shm files, then start over with an
	 * empty store (same key, same device id). Pending messages are lost. */
	SOUK_LOGOUT_WIPE = 1
} souk_logout_mode;

/* Logs out. Stops the SDK thread for the duration if it runs, and restarts it after.
 * Not from a callback (SOUK_ESTATE). */
SOUK_API int souk_client_logout(souk_client *client, souk_logout_mode mode);

/* What the app knows about its surroundings. Hints only change timing, never what is
 * delivered. */
typedef enum SOUK_ENUM souk_hint {
	/* The network came back or changed (new Wi-Fi, cell handover): reconnect now with a
	 * fresh backoff, or check a live connection with a ping. */
	SOUK_HINT_NETWORK_CHANGED = 1,
	/* No network: disconnect and make no attempts until NETWORK_CHANGED or FOREGROUND. */
	SOUK_HINT_NETWORK_LOST = 2,
	/* The app came to the foreground: connect now with a fresh backoff. */
	SOUK_HINT_FOREGROUND = 3,
	/* The app went to the background: finish sending the outbox, then disconnect and
	 * stay disconnected (no wake-ups) until FOREGROUND, a push (PUSH_RECEIVED) or a send. */
	SOUK_HINT_BACKGROUND = 4,
	/* A push notification woke the app: connect, sync, and disconnect again if in the
	 * background. */
	SOUK_HINT_PUSH_RECEIVED = 5
} souk_hint;

SOUK_API int souk_client_hint(souk_client *client, souk_hint hint);

/* The current connection state (the last SOUK_EVENT_CONNECTION_STATE's). */
SOUK_API souk_connection_state souk_client_get_connection_state(souk_client *client);

/* This installation's device id. Borrowed; valid until the client is freed. */
SOUK_API const char *souk_client_get_device_id(souk_client *client);

/* The message of the last failed libsouk call made by the calling thread on `client`
 * (NULL: the last failed call of this thread, e.g. souk_client_create()). "" when there
 * is none. Borrowed; valid until this thread's next libsouk call. */
SOUK_API const char *souk_client_errmsg(const souk_client *SOUK_NULLABLE client);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
