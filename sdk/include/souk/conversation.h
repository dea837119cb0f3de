/*
 * souk/conversation.h — a conversation as the local store knows it.
 *
 * Like messages, a souk_conversation is an immutable snapshot (see souk/message.h for
 * the ownership rules, which are the same). Conversations are named by a local id
 * (int64, > 0) that exists before the server knows the conversation: a shopper can open
 * the support conversation and write to it while offline.
 */
#ifndef SOUK_CONVERSATION_H
#define SOUK_CONVERSATION_H

#include "souk/common.h"
#include "souk/message.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_conversation souk_conversation;
typedef struct souk_conversation_list souk_conversation_list;

typedef enum SOUK_ENUM souk_conversation_status {
	SOUK_CONVERSATION_UNKNOWN = 0, /* not known to the server yet, or not reported */
	SOUK_CONVERSATION_OPEN = 1,
	SOUK_CONVERSATION_PENDING = 2,
	SOUK_CONVERSATION_RESOLVED = 3
} souk_conversation_status;

/* What the conversation is for (ConversationInfo.kind). */
typedef enum SOUK_ENUM souk_conversation_kind {
	SOUK_CONVERSATION_KIND_UNSPECIFIED = 0, /* not reported (yet) */
	SOUK_CONVERSATION_KIND_SUPPORT = 1	/* the shopper's one support conversation */
} souk_conversation_kind;

SOUK_API int64_t souk_conversation_get_id(const souk_conversation *conversation);
/* The server's conversation id; NULL until the server has confirmed the conversation. */
SOUK_API const char *SOUK_NULLABLE
souk_conversation_get_server_id(const souk_conversation *conversation);
/* 1 for the shopper's support conversation (souk_client_open_support_conversation()),
 * whether this device opened it or learnt it from the server. */
SOUK_API int souk_conversation_is_support(const souk_conversation *conversation);
/* The kind: SUPPORT for the support conversation (also while it is not yet confirmed by
 * the server), else as the server reports it. */
SOUK_API souk_conversation_kind souk_conversation_get_kind(const souk_conversation *conversation);
/* The integration in control of the conversation on the shop's side (the switchboard:
 * e.g. "desk" for the human help desk, or a bot's name); NULL until the server reports
 * it. Changes arrive as SOUK_EVENT_CONVERSATION_UPDATED. */
SOUK_API const char *SOUK_NULLABLE
souk_conversation_get_controller(const souk_conversation *conversation);
/* The agent assigned by the shop, if any (NULL: nobody). */
SOUK_API const char *SOUK_NULLABLE
souk_conversation_get_assignee(const souk_conversation *conversation);
SOUK_API souk_conversation_status
souk_conversation_get_status(const souk_conversation *conversation);
/* Incoming messages after the user's read position. */
SOUK_API uint64_t souk_conversation_get_unread_count(const souk_conversation *conversation);
/* The user's read position (a conv_seq; 0 = nothing read), as marked on any device. */
SOUK_API uint64_t souk_conversation_get_read_up_to(const souk_conversation *conversation);
/* The highest position the other participants have read. */
SOUK_API uint64_t souk_conversation_get_peer_read_up_to(const souk_conversation *conversation);
/* The highest conv_seq known locally. */
SOUK_API uint64_t souk_conversation_get_last_conv_seq(const souk_conversation *conversation);
/* The newest message (pending ones included); NULL for an empty conversation. Borrowed
 * from the conversation snapshot. */
SOUK_API const souk_message *SOUK_NULLABLE
souk_conversation_get_last_message(const souk_conversation *conversation);

SOUK_API int souk_conversation_copy(souk_conversation *SOUK_NULLABLE *SOUK_NONNULL out,
				    const souk_conversation *conversation);
SOUK_API void souk_conversation_free(souk_conversation *SOUK_NULLABLE conversation);

/* Conversations, most recently active first. */
SOUK_API size_t souk_conversation_list_count(const souk_conversation_list *list);
SOUK_API const souk_conversation *SOUK_NULLABLE
souk_conversation_list_get(const souk_conversation_list *list, size_t index);
SOUK_API void souk_conversation_list_free(souk_conversation_list *SOUK_NULLABLE list);

/* ---- operations on a client (thread-safe; see docs/threading.md) ---------------------- */

/* The shopper's support conversation: its local id at once, offline or not. The first
 * call creates it locally; the SDK asks the server for it (OpenConversation) when
 * connected, and messages sent meanwhile wait in the outbox until the server has
 * confirmed it (SOUK_EVENT_CONVERSATION_UPDATED with a server id). */
SOUK_API int souk_client_open_support_conversation(int64_t *out_conversation_id,
						   souk_client *client);

/* All local conversations with their unread counts and last messages. */
SOUK_API int souk_client_list_conversations(souk_conversation_list *SOUK_NULLABLE *SOUK_NONNULL out,
					    souk_client *client);

/* A snapshot of one conversation. */
SOUK_API int souk_client_get_conversation(souk_conversation *SOUK_NULLABLE *SOUK_NONNULL out,
					  souk_client *client, int64_t conversation_id);

/* Marks the conversation read up to and including a message (0: up to its newest
 * message). Applied locally at once (SOUK_EVENT_CONVERSATION_UPDATED) and sent to the
 * server when connected, which tells the user's other devices and the shop. Marking
 * below the current position changes nothing. */
SOUK_API int souk_client_mark_read(souk_client *client, int64_t conversation_id,
				   int64_t up_to_message_id);

/* Tells the other participants the user started (1) or stopped (0) typing. Ephemeral:
 * dropped when not connected. */
SOUK_API int souk_client_set_typing(souk_client *client, int64_t conversation_id, int on);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
