package io.souk.internal

import io.souk.ConnectionState
import io.souk.Content
import io.souk.ContentKind
import io.souk.Conversation
import io.souk.ConversationKind
import io.souk.InAppPush
import io.souk.ConversationStatus
import io.souk.Message
import io.souk.MessageStatus
import io.souk.SenderKind
import io.souk.SoukErrorCode
import io.souk.SoukEvent
import io.souk.SoukException

/**
 * What libsoukjni calls to build Kotlin values (resolved once in JNI_OnLoad). The native side
 * passes UTF-8 byte arrays and raw enum values; all mapping happens here, in Kotlin.
 * Keep the signatures in step with souk_jni.c (and bump JNI_ABI when they change).
 */
internal object NativeBridge {
    private fun str(b: ByteArray?): String? = b?.let { String(it, Charsets.UTF_8) }

    @JvmStatic
    fun message(
        id: Long, conversationId: Long, serverId: ByteArray?, clientMessageId: ByteArray?,
        conversationSeq: Long, senderId: ByteArray?, senderKind: Int, senderName: ByteArray?,
        senderAvatarUrl: ByteArray?, outgoing: Boolean, status: Int, contentKind: Int, content: Content?,
        text: ByteArray?,
        failureCode: Int, failureReason: ByteArray?, createdMillis: Long, serverTimeMillis: Long,
    ): Message = Message(
        id = id,
        conversationId = conversationId,
        serverId = str(serverId),
        clientMessageId = str(clientMessageId) ?: "",
        conversationSeq = conversationSeq,
        senderId = str(senderId),
        senderKind = SenderKind.fromCode(senderKind),
        senderName = str(senderName),
        senderAvatarUrl = str(senderAvatarUrl),
        isOutgoing = outgoing,
        status = MessageStatus.fromCode(status),
        contentKind = ContentKind.fromCode(contentKind),
        content = content,
        text = str(text) ?: "",
        failureCode = failureCode,
        failureReason = str(failureReason),
        createdAtMillis = createdMillis,
        serverTimeMillis = serverTimeMillis,
    )

    @JvmStatic
    fun conversation(
        id: Long, serverId: ByteArray?, support: Boolean, kind: Int, status: Int, unread: Long, readUpTo: Long,
        peerReadUpTo: Long, lastConversationSeq: Long, controller: ByteArray?, assignee: ByteArray?,
        lastMessage: Message?,
    ): Conversation = Conversation(
        id = id,
        serverId = str(serverId),
        isSupport = support,
        kind = ConversationKind.fromCode(kind),
        status = ConversationStatus.fromCode(status),
        unreadCount = unread,
        readUpTo = readUpTo,
        peerReadUpTo = peerReadUpTo,
        lastConversationSeq = lastConversationSeq,
        controller = str(controller),
        assignee = str(assignee),
        lastMessage = lastMessage,
    )

    @JvmStatic
    fun event(
        type: Int, serial: Long, message: Message?, conversation: Conversation?, conversationId: Long,
        userId: ByteArray?, typing: Boolean, connectionState: Int, error: Int, wireCode: Int,
        errorMessage: ByteArray?, push: InAppPush?,
    ): SoukEvent = when {
        type == 1 && message != null -> SoukEvent.MessageAdded(serial, message)
        type == 2 && message != null -> SoukEvent.MessageUpdated(serial, message)
        type == 3 && message != null -> SoukEvent.MessageDeleted(serial, message)
        type == 4 && conversation != null -> SoukEvent.ConversationUpdated(serial, conversation)
        type == 5 -> SoukEvent.ConversationRemoved(serial, conversationId)
        type == 6 -> SoukEvent.Typing(serial, conversationId, str(userId), typing)
        type == 7 -> SoukEvent.ConnectionStateChanged(
            serial, ConnectionState.fromCode(connectionState), SoukErrorCode.fromCode(error), wireCode,
            str(errorMessage))
        type == 8 -> SoukEvent.TokenNeeded(serial, wireCode, str(errorMessage))
        type == 9 -> SoukEvent.SyncStarted(serial)
        type == 10 -> SoukEvent.SyncFinished(serial)
        type == 11 -> SoukEvent.EventsDropped(serial)
        type == 12 -> SoukEvent.ContextUpdated(serial, conversationId)
        type == 13 -> SoukEvent.ContextFailed(
            serial, conversationId, SoukErrorCode.fromCode(error), wireCode, str(errorMessage))
        type == 14 && push != null -> SoukEvent.PushReceived(serial, push)
        else -> SoukEvent.Unknown(serial, type)
    }

    @JvmStatic
    fun content(
        kind: Int, fallback: ByteArray?, s: Array<ByteArray?>, n: LongArray, items: Array<ByteArray?>,
        itemNums: LongArray,
    ): Content = ContentCodec.decode(kind, fallback, s, n, items, itemNums)

    @JvmStatic
    fun push(
        id: ByteArray?, title: ByteArray?, body: ByteArray?, imageUrl: ByteArray?, deepLink: ByteArray?,
        product: Content?, serverTimeMillis: Long,
    ): InAppPush = InAppPush(
        id = str(id) ?: "",
        title = str(title),
        body = str(body),
        imageUrl = str(imageUrl),
        deepLink = str(deepLink),
        product = product as? Content.Product,
        serverTimeMillis = serverTimeMillis,
    )

    @JvmStatic
    fun error(code: Int, message: ByteArray): Throwable {
        val text = String(message, Charsets.UTF_8)
        return SoukException.of(code, text.ifEmpty { String(SoukNative.strerror(code), Charsets.UTF_8) })
    }
}
