/*
 * souk/message.h — a chat message as the local store knows it.
 *
 * A souk_message is an immutable snapshot: a later status change produces a new
 * snapshot (SOUK_EVENT_MESSAGE_UPDATED), it never changes one you hold. Snapshots come
 * from events (borrowed, valid as long as the event), from souk_message_list_get()
 * (borrowed, valid as long as the list) or from souk_client_get_message() /
 * souk_message_copy() (owned, free with souk_message_free()). Snapshots are not tied to
 * the client: they stay valid after the client is freed, and may be read from any thread.
 *
 * Every string getter returns a UTF-8 string borrowed from the snapshot.
 */
#ifndef SOUK_MESSAGE_H
#define SOUK_MESSAGE_H

#include "souk/common.h"
#include "souk/content.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_message souk_message;
typedef struct souk_message_list souk_message_list;

/* Where a message is in its life. Outgoing: PENDING -> SENT -> DELIVERED -> READ, or
 * FAILED. Incoming messages (from agents, bots, the shop) are RECEIVED. */
typedef enum SOUK_ENUM souk_message_status {
	SOUK_MESSAGE_PENDING = 1,   /* committed locally, in the outbox, not acked yet */
	SOUK_MESSAGE_SENT = 2,	    /* the server made it durable (acked) */
	SOUK_MESSAGE_DELIVERED = 3, /* another participant's device has it */
	SOUK_MESSAGE_READ = 4,	    /* another participant read it */
	SOUK_MESSAGE_FAILED = 5,    /* permanently refused; see the failure code */
	SOUK_MESSAGE_RECEIVED = 6   /* an incoming message */
} souk_message_status;

typedef enum SOUK_ENUM souk_sender_kind {
	SOUK_SENDER_UNSPECIFIED = 0,
	SOUK_SENDER_SHOPPER = 1,
	SOUK_SENDER_AGENT = 2,
	SOUK_SENDER_BOT = 3,
	SOUK_SENDER_SYSTEM = 4
} souk_sender_kind;

/* The local id: stable for the life of the local store, > 0. Use it for every
 * souk_client_* call that takes a message. */
SOUK_API int64_t souk_message_get_id(const souk_message *message);

/* The local id of the conversation the message belongs to. */
SOUK_API int64_t souk_message_get_conversation_id(const souk_message *message);

/* The server's message id; NULL while the message is pending or failed. */
SOUK_API const char *SOUK_NULLABLE souk_message_get_server_id(const souk_message *message);

/* The client message id as 32 lowercase hex characters; "" for messages that have
 * none (sent by agents through the REST API). Stable across retries. */
SOUK_API const char *souk_message_get_client_msg_id(const souk_message *message);

/* Position in the conversation (1, 2, ...) assigned by the server; 0 until acked. */
SOUK_API uint64_t souk_message_get_conv_seq(const souk_message *message);

/* The sender's user id; NULL for an outgoing message sent before the first login. */
SOUK_API const char *SOUK_NULLABLE souk_message_get_sender_id(const souk_message *message);
SOUK_API souk_sender_kind souk_message_get_sender_kind(const souk_message *message);
/* Display name of an agent or bot; NULL when the server gave none. */
SOUK_API const char *SOUK_NULLABLE souk_message_get_sender_name(const souk_message *message);
/* Avatar image URL of an agent or bot; NULL when the server gave none. */
SOUK_API const char *SOUK_NULLABLE souk_message_get_sender_avatar_url(const souk_message *message);

/* 1 when the current user sent it (from this or another of their devices). */
SOUK_API int souk_message_is_outgoing(const souk_message *message);

SOUK_API souk_message_status souk_message_get_status(const souk_message *message);

/* The kind of content (souk/content.h); the same as souk_content_get_kind() of
 * souk_message_get_content(). */
SOUK_API souk_content_kind souk_message_get_content_kind(const souk_message *message);

/* The content, for the typed getters of souk/content.h (a product card's price, the
 * replies of quick replies, ...). Borrowed from the snapshot: valid as long as the
 * message. NULL only when the stored content cannot be decoded (then the kind is
 * UNKNOWN). */
SOUK_API const souk_content *SOUK_NULLABLE souk_message_get_content(const souk_message *message);

/* The text to show: the body of a text message, else the fallback text, else a label
 * such as "[product]". Never NULL. Render the kinds you know from the content instead. */
SOUK_API const char *souk_message_get_text(const souk_message *message);

/* For FAILED messages: the server's wire error code (docs/protocol.md, e.g. 300 for
 * MESSAGE_TOO_LARGE) and its English reason. 0 and NULL otherwise. */
SOUK_API int souk_message_get_failure_code(const souk_message *message);
SOUK_API const char *SOUK_NULLABLE souk_message_get_failure_reason(const souk_message *message);

/* When the message was created on this device (outgoing; ms since the Unix epoch, device
 * clock) and when the server stored it (server clock; 0 until acked). */
SOUK_API int64_t souk_message_get_created_ms(const souk_message *message);
SOUK_API int64_t souk_message_get_server_time_ms(const souk_message *message);

/* Copies a snapshot so that it outlives the event or list it came from. */
SOUK_API int souk_message_copy(souk_message *SOUK_NULLABLE *SOUK_NONNULL out,
			       const souk_message *message);
/* Frees an owned snapshot. NULL is a no-op. */
SOUK_API void souk_message_free(souk_message *SOUK_NULLABLE message);

/* A page of messages, oldest first. */
SOUK_API size_t souk_message_list_count(const souk_message_list *list);
/* Borrowed from the list; NULL when index >= count. */
SOUK_API const souk_message *SOUK_NULLABLE souk_message_list_get(const souk_message_list *list,
								 size_t index);
SOUK_API void souk_message_list_free(souk_message_list *SOUK_NULLABLE list);

/* ---- operations on a client (thread-safe; see docs/threading.md) ---------------------- */

/* Sends a text message. Before returning, the message and its outbox entry are
 * committed to the local store in one transaction: from then on the message survives
 * process death and will reach the server exactly once. Returns at once, whether or not
 * the client is connected or started; *out_message_id (optional) receives the local id
 * and a SOUK_EVENT_MESSAGE_ADDED (status PENDING) follows.
 * SOUK_EINVAL: text empty or not UTF-8. SOUK_ETOOLARGE: over the protocol's 16 KiB
 * content limit (a server may configure less; it then refuses the message and it becomes
 * FAILED with wire code 300). SOUK_ENOTFOUND: no such conversation. */
SOUK_API int souk_client_send_text(int64_t *SOUK_NULLABLE out_message_id, souk_client *client,
				   int64_t conversation_id, const char *text);

/* Puts a FAILED message back in the outbox (same client message id; it is sent after
 * the messages already pending in its conversation). SOUK_ESTATE if it is not FAILED. */
SOUK_API int souk_client_resend(souk_client *client, int64_t message_id);

/* Deletes a FAILED message from the local store (SOUK_EVENT_MESSAGE_DELETED).
 * SOUK_ESTATE if it is not FAILED: messages the server has are never deleted locally. */
SOUK_API int souk_client_delete_failed(souk_client *client, int64_t message_id);

/* A snapshot of one message. */
SOUK_API int souk_client_get_message(souk_message *SOUK_NULLABLE *SOUK_NONNULL out,
				     souk_client *client, int64_t message_id);

typedef enum SOUK_ENUM souk_page_direction {
	SOUK_PAGE_BEFORE = 0, /* messages before the anchor (anchor 0: the newest ones) */
	SOUK_PAGE_AFTER = 1   /* messages after the anchor (anchor 0: the oldest ones) */
} souk_page_direction;

/* Pages through a conversation from the local store, in display order (server order,
 * then pending messages in the order they were sent). `anchor_message_id` is a local
 * message id of the conversation, or 0. `limit` 0 means 50; at most 500. The list is
 * oldest first in both directions. */
SOUK_API int souk_client_list_messages(souk_message_list *SOUK_NULLABLE *SOUK_NONNULL out,
				       souk_client *client, int64_t conversation_id,
				       int64_t anchor_message_id, souk_page_direction direction,
				       unsigned limit);

/* Number of messages waiting in the outbox (pending, not yet acked by the server). */
SOUK_API int souk_client_outbox_count(size_t *out, souk_client *client);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
