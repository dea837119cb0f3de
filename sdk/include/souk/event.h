/*
 * souk/event.h — the client's event stream.
 *
 * A client produces one ordered stream of events. The app consumes it in one of two
 * ways (docs/threading.md):
 *   - a callback (souk_client_set_event_callback) run on the SDK thread, which borrows
 *     each event for the duration of the call; or
 *   - pulling with souk_client_next_event(), which hands over ownership: free each
 *     event with souk_event_free(). This is what the Kotlin and Swift bindings use.
 *
 * An event is immutable and independent of the client (it may outlive it and be read
 * from any thread). Getters that do not apply to an event's type return 0 / NULL.
 */
#ifndef SOUK_EVENT_H
#define SOUK_EVENT_H

#include "souk/common.h"
#include "souk/conversation.h"
#include "souk/message.h"
#include "souk/push.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_event souk_event;

typedef enum SOUK_ENUM souk_event_type {
	/* A message appeared locally: sent from this device (status PENDING) or received
	 * (from the shop, or from another device of this user). get_message. */
	SOUK_EVENT_MESSAGE_ADDED = 1,
	/* A message changed: status, server id, failure. get_message (the new snapshot). */
	SOUK_EVENT_MESSAGE_UPDATED = 2,
	/* A failed message was deleted (souk_client_delete_failed). get_message (the last
	 * snapshot). */
	SOUK_EVENT_MESSAGE_DELETED = 3,
	/* A conversation appeared or changed (status, unread count, read positions, its
	 * server id). get_conversation. */
	SOUK_EVENT_CONVERSATION_UPDATED = 4,
	/* A local conversation was merged into another one and no longer exists (happens
	 * when the support conversation was created on another device while this one was
	 * offline). get_conversation_id names the removed one; a CONVERSATION_UPDATED of
	 * the conversation that now holds its messages follows. */
	SOUK_EVENT_CONVERSATION_REMOVED = 5,
	/* Someone is typing, or stopped. get_conversation_id, get_user_id, get_typing. */
	SOUK_EVENT_TYPING = 6,
	/* The connection state changed. get_connection_state; get_error / get_wire_code /
	 * get_error_message tell why when it went down. */
	SOUK_EVENT_CONNECTION_STATE = 7,
	/* The SDK needs a (fresh) user token: call souk_client_set_token(). get_wire_code
	 * tells why (0: none was given; 202: expired; 201/203/204/206: refused). */
	SOUK_EVENT_TOKEN_NEEDED = 8,
	/* Catching up with the server started / finished (the connection is live after
	 * SYNC_FINISHED). */
	SOUK_EVENT_SYNC_STARTED = 9,
	SOUK_EVENT_SYNC_FINISHED = 10,
	/* Nobody pulled events for so long that the queue limit was reached and events
	 * were dropped: reload what you display from the store. */
	SOUK_EVENT_EVENTS_DROPPED = 11,
	/* The server confirmed the latest shopping context set on a conversation
	 * (souk_client_set_context). get_conversation_id. */
	SOUK_EVENT_CONTEXT_UPDATED = 12,
	/* The server refused the latest context of a conversation for good (it is dropped).
	 * get_conversation_id; get_error (SOUK_ENOTFOUND: the conversation is gone or not
	 * the user's; SOUK_EINVAL otherwise), get_wire_code, get_error_message. */
	SOUK_EVENT_CONTEXT_FAILED = 13,
	/* An in-app push arrived (souk/push.h). get_push. Reported once per store. */
	SOUK_EVENT_PUSH_RECEIVED = 14
} souk_event_type;

typedef enum SOUK_ENUM souk_connection_state {
	SOUK_CONNECTION_STOPPED = 0,	/* the client is not started */
	SOUK_CONNECTION_WAITING = 1,	/* waiting to retry, for a token, or for the network */
	SOUK_CONNECTION_CONNECTING = 2, /* connecting and authenticating */
	SOUK_CONNECTION_CONNECTED = 3	/* authenticated; syncing or live */
} souk_connection_state;

SOUK_API souk_event_type souk_event_get_type(const souk_event *event);

/* Position of the event in the client's stream: 1, 2, 3, ... */
SOUK_API uint64_t souk_event_get_serial(const souk_event *event);

/* MESSAGE_*: the message snapshot, borrowed from the event. */
SOUK_API const souk_message *SOUK_NULLABLE souk_event_get_message(const souk_event *event);

/* CONVERSATION_*: the conversation snapshot, borrowed from the event. */
SOUK_API const souk_conversation *SOUK_NULLABLE
souk_event_get_conversation(const souk_event *event);

/* PUSH_RECEIVED: the push snapshot, borrowed from the event. */
SOUK_API const souk_push *SOUK_NULLABLE souk_event_get_push(const souk_event *event);

/* MESSAGE_*, CONVERSATION_*, TYPING, CONTEXT_*: the local conversation id. */
SOUK_API int64_t souk_event_get_conversation_id(const souk_event *event);

/* TYPING: who is typing, and whether they started (1) or stopped (0). */
SOUK_API const char *SOUK_NULLABLE souk_event_get_user_id(const souk_event *event);
SOUK_API int souk_event_get_typing(const souk_event *event);

/* CONNECTION_STATE: the new state. */
SOUK_API souk_connection_state souk_event_get_connection_state(const souk_event *event);

/* CONNECTION_STATE, TOKEN_NEEDED, CONTEXT_FAILED: why — a SOUK_E* code (0 when nothing
 * went wrong), the server's wire code when it sent one (docs/protocol.md), and an English
 * message. */
SOUK_API int souk_event_get_error(const souk_event *event);
SOUK_API int souk_event_get_wire_code(const souk_event *event);
SOUK_API const char *SOUK_NULLABLE souk_event_get_error_message(const souk_event *event);

/* Frees an event obtained from souk_client_next_event(). NULL is a no-op. Never free an
 * event passed to a callback. */
SOUK_API void souk_event_free(souk_event *SOUK_NULLABLE event);

/* Event callback, run on the SDK thread; `event` is borrowed for the call. */
typedef void (*souk_event_cb)(const souk_event *event, void *SOUK_NULLABLE user_data);

/* Delivers events to `cb` on the SDK thread instead of queueing them for
 * souk_client_next_event(). Only while the client is stopped (SOUK_ESTATE otherwise). NULL
 * `cb` goes back to pulling. A previous registration's destroy runs before this returns;
 * the last one's when the client is freed. */
SOUK_API int souk_client_set_event_callback(souk_client *client, souk_event_cb SOUK_NULLABLE cb,
					    void *SOUK_NULLABLE user_data,
					    souk_destroy_cb SOUK_NULLABLE destroy);

/* Takes the next event, waiting up to `timeout_ms` (0: do not wait; -1: no limit).
 * On success the caller owns *out and frees it with souk_event_free().
 * SOUK_ETIMEOUT: nothing arrived in time. SOUK_ESTATE: souk_client_stop() was called
 * (the events queued before it have all been returned) or a callback is registered. */
SOUK_API int souk_client_next_event(souk_event *SOUK_NULLABLE *SOUK_NONNULL out,
				    souk_client *client, int timeout_ms);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
