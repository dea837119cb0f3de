package io.souk

/*
 * The values the API hands out: immutable snapshots of messages and conversations, and the
 * enums of libsouk (sdk/include/souk/message.h, conversation.h, event.h, client.h).
 *
 * Every enum maps libsouk's numeric value with `fromCode`, and has an UNKNOWN case for
 * values a newer libsouk may add: an old app never crashes on a new value.
 */

/** Where a message is in its life. Outgoing: PENDING → SENT → DELIVERED → READ, or FAILED. */
enum class MessageStatus(val code: Int) {
    /** Committed locally and waiting in the outbox; it survives process death. */
    PENDING(1),
    /** The server has made it durable. */
    SENT(2),
    /** Another participant's device has it. */
    DELIVERED(3),
    /** Another participant has read it. */
    READ(4),
    /** Refused for good by the server: see [Message.failureCode] and [Message.failureReason]. */
    FAILED(5),
    /** An incoming message. */
    RECEIVED(6),
    UNKNOWN(0);

    companion object {
        fun fromCode(code: Int): MessageStatus = entries.firstOrNull { it.code == code } ?: UNKNOWN
    }
}

/** Who wrote a message. */
enum class SenderKind(val code: Int) {
    UNSPECIFIED(0), SHOPPER(1), AGENT(2), BOT(3), SYSTEM(4), UNKNOWN(-1);

    companion object {
        fun fromCode(code: Int): SenderKind = entries.firstOrNull { it.code == code } ?: UNKNOWN
    }
}

/**
 * The kind of a message's content. Kinds this version cannot render still have a
 * [Message.text] to show (the sender's fallback text, or a label such as "[product]").
 */
enum class ContentKind(val code: Int) {
    UNKNOWN(0), TEXT(1), ATTACHMENT(2), PRODUCT(3), ORDER(4), QUICK_REPLIES(5),
    CSAT_SURVEY(6), CSAT_ANSWER(7);

    companion object {
        fun fromCode(code: Int): ContentKind = entries.firstOrNull { it.code == code } ?: UNKNOWN
    }
}

/** A conversation's status on the shop's side. */
enum class ConversationStatus(val code: Int) {
    /** Not known to the server yet, or not reported. */
    UNKNOWN(0), OPEN(1), PENDING(2), RESOLVED(3);

    companion object {
        fun fromCode(code: Int): ConversationStatus = entries.firstOrNull { it.code == code } ?: UNKNOWN
    }
}

/** What a conversation is for. */
enum class ConversationKind(val code: Int) {
    /** Not reported (yet). */
    UNSPECIFIED(0),
    /** The shopper's one support conversation. */
    SUPPORT(1),
    UNKNOWN(-1);

    companion object {
        fun fromCode(code: Int): ConversationKind = entries.firstOrNull { it.code == code } ?: UNKNOWN
    }
}

/** The connection to the Souk server, as [SoukEvent.ConnectionStateChanged] reports it. */
enum class ConnectionState(val code: Int) {
    /** The client is not started. */
    STOPPED(0),
    /** Waiting to retry, for a token, or for the network. */
    WAITING(1),
    /** Connecting and authenticating. */
    CONNECTING(2),
    /** Authenticated; syncing or live. */
    CONNECTED(3),
    UNKNOWN(-1);

    companion object {
        fun fromCode(code: Int): ConnectionState = entries.firstOrNull { it.code == code } ?: UNKNOWN
    }
}

/** Which way [Souk.messages] pages from its anchor. */
enum class PageDirection(val code: Int) {
    /** Messages before the anchor (anchor 0: the newest page). */
    BEFORE(0),
    /** Messages after the anchor (anchor 0: the oldest page). */
    AFTER(1)
}

/** What the app knows about its surroundings. Hints change timing, never what is delivered. */
enum class Hint(val code: Int) {
    /** The network came back or changed: reconnect now, or probe a live connection. */
    NETWORK_CHANGED(1),
    /** No network: disconnect, no attempts until NETWORK_CHANGED or FOREGROUND. */
    NETWORK_LOST(2),
    /** The app came to the foreground: connect now. */
    FOREGROUND(3),
    /** The app went to the background: finish the outbox, then disconnect. */
    BACKGROUND(4),
    /** A push notification woke the app: connect and sync. */
    PUSH_RECEIVED(5)
}

/** The device platform the client reports to the server. */
enum class Platform(val code: Int) { UNSPECIFIED(0), IOS(1), ANDROID(2), WEB(3), DESKTOP(4) }

/** Log levels; a level includes the more severe ones. */
enum class LogLevel(val code: Int) {
    NONE(0), ERROR(1), WARN(2), INFO(3), DEBUG(4);

    companion object {
        fun fromCode(code: Int): LogLevel = entries.firstOrNull { it.code == code } ?: DEBUG
    }
}

/**
 * A message as the local store knew it when the snapshot was taken. A later change (status,
 * server id) arrives as a new snapshot in [SoukEvent.MessageUpdated]; snapshots never change.
 *
 * Messages are named by [id], a local id stable for the life of the store: pass it to
 * [Souk.markRead], [Souk.resend], [Souk.deleteFailed] and as a paging anchor.
 */
data class Message(
    /** The local id (> 0). */
    val id: Long,
    /** The local id of its conversation. */
    val conversationId: Long,
    /** The server's id; null while pending or failed. */
    val serverId: String?,
    /** The client message id (32 hex characters), stable across retries; "" for agent messages. */
    val clientMessageId: String,
    /** Position in the conversation assigned by the server (1, 2, …); 0 until sent. */
    val conversationSeq: Long,
    /** The sender's user id; null for a message sent before the first login. */
    val senderId: String?,
    val senderKind: SenderKind,
    /** Display name of an agent or bot, when the server gave one. */
    val senderName: String?,
    /** Avatar URL of an agent or bot, when the server gave one. */
    val senderAvatarUrl: String?,
    /** True when the current user sent it (from this or another of their devices). */
    val isOutgoing: Boolean,
    val status: MessageStatus,
    val contentKind: ContentKind,
    /** The typed content: render the kinds you know from it; null only if it could not be decoded. */
    val content: Content?,
    /** What to show: the text, or the fallback text / a label for other kinds. Never empty. */
    val text: String,
    /** For FAILED messages: the server's wire error code (docs/protocol.md), else 0. */
    val failureCode: Int,
    /** For FAILED messages: the server's reason in English, else null. */
    val failureReason: String?,
    /** When it was created on this device (ms since the epoch, device clock). */
    val createdAtMillis: Long,
    /** When the server stored it (server clock); 0 until sent. */
    val serverTimeMillis: Long,
)

/** A conversation as the local store knew it when the snapshot was taken. */
data class Conversation(
    /** The local id (> 0); exists before the server knows the conversation. */
    val id: Long,
    /** The server's id; null until the server has confirmed the conversation. */
    val serverId: String?,
    /** True for the shopper's support conversation ([Souk.openSupportConversation]). */
    val isSupport: Boolean,
    val kind: ConversationKind,
    val status: ConversationStatus,
    /** Incoming messages after the user's read position. */
    val unreadCount: Long,
    /** The user's read position (a conversation sequence number; 0: nothing read). */
    val readUpTo: Long,
    /** The highest position the other participants have read. */
    val peerReadUpTo: Long,
    /** The highest conversation sequence number known locally. */
    val lastConversationSeq: Long,
    /** The integration in control on the shop's side ("desk", a bot's name); null until reported. */
    val controller: String?,
    /** The agent assigned by the shop, if any. */
    val assignee: String?,
    /** The newest message, pending ones included; null for an empty conversation. */
    val lastMessage: Message?,
)
