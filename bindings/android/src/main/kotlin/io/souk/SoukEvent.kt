package io.souk

/**
 * One entry of a client's ordered event stream ([Souk.events]).
 *
 * Events come in the order the local store committed the changes they describe, numbered
 * by [serial] (1, 2, 3, …). Each is published right after its change committed, so reading
 * the store ([Souk.messages], [Souk.conversations]) when an event arrives is always
 * consistent with it. Types this version does not know arrive as [Unknown].
 */
sealed class SoukEvent {
    /** Position in the client's stream: 1, 2, 3, … */
    abstract val serial: Long

    /** A message appeared: sent here (status PENDING) or received (also the user's own, from another device). */
    data class MessageAdded(override val serial: Long, val message: Message) : SoukEvent()

    /** A message's status, server id or failure changed; [message] is the new snapshot. */
    data class MessageUpdated(override val serial: Long, val message: Message) : SoukEvent()

    /** A failed message was deleted ([Souk.deleteFailed]); [message] is its last snapshot. */
    data class MessageDeleted(override val serial: Long, val message: Message) : SoukEvent()

    /** A conversation appeared or changed: status, unread count, read positions, server id, last message. */
    data class ConversationUpdated(override val serial: Long, val conversation: Conversation) : SoukEvent()

    /**
     * A local conversation was merged into the support conversation (it was created on another
     * device while this one was offline) and no longer exists; a [ConversationUpdated] of the
     * conversation that now holds its messages follows.
     */
    data class ConversationRemoved(override val serial: Long, val conversationId: Long) : SoukEvent()

    /** Someone in [conversationId] started ([isTyping] true) or stopped typing. */
    data class Typing(
        override val serial: Long,
        val conversationId: Long,
        val userId: String?,
        val isTyping: Boolean,
    ) : SoukEvent()

    /**
     * The connection state changed. When it went down, [errorCode] says why (for example
     * [SoukErrorCode.NETWORK]: the SDK retries by itself; messages stay pending), [wireCode]
     * is the server's code when it sent one, and [message] an English explanation.
     */
    data class ConnectionStateChanged(
        override val serial: Long,
        val state: ConnectionState,
        val errorCode: SoukErrorCode?,
        val wireCode: Int,
        val message: String?,
    ) : SoukEvent() {
        /** The reason as an exception of the typed hierarchy, or null when nothing went wrong. */
        val error: SoukException? get() = errorCode?.let { SoukException.of(it.code, message ?: "") }
    }

    /**
     * The SDK needs a fresh user token: fetch one from your backend and call [Souk.setToken].
     * [wireCode]: 0 none was given since the client was created; 202 expired; 201, 203, 204,
     * 206 refused (docs/protocol.md).
     */
    data class TokenNeeded(override val serial: Long, val wireCode: Int, val message: String?) : SoukEvent()

    /** Catching up with the server after a connect started. */
    data class SyncStarted(override val serial: Long) : SoukEvent()

    /** Caught up: the connection is live. */
    data class SyncFinished(override val serial: Long) : SoukEvent()

    /**
     * Events were dropped because nobody collected [Souk.events] for too long (see
     * [SoukConfig.maxQueuedEvents]): reload what you display from the store.
     */
    data class EventsDropped(override val serial: Long) : SoukEvent()

    /** The server has the latest shopping context of [conversationId] ([Souk.setContext]). */
    data class ContextUpdated(override val serial: Long, val conversationId: Long) : SoukEvent()

    /**
     * The server refused the latest shopping context of [conversationId] for good (it is dropped):
     * [errorCode] [SoukErrorCode.NOT_FOUND] when the conversation is gone, else INVALID_ARGUMENT.
     */
    data class ContextFailed(
        override val serial: Long,
        val conversationId: Long,
        val errorCode: SoukErrorCode?,
        val wireCode: Int,
        val message: String?,
    ) : SoukEvent()

    /** A marketer's in-app push arrived (reported once per store). */
    data class PushReceived(override val serial: Long, val push: InAppPush) : SoukEvent()

    /** An event type added by a newer libsouk than this binding knows. */
    data class Unknown(override val serial: Long, val type: Int) : SoukEvent()
}
