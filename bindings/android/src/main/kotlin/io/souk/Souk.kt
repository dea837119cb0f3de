package io.souk

import io.souk.internal.ClientState
import io.souk.internal.ContentCodec
import io.souk.internal.EventSink
import io.souk.internal.SoukCleaner
import io.souk.internal.SoukNative
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.withContext
import java.io.Closeable

/**
 * One user's Souk chat on this device: an encrypted local store, a durable outbox, and (once
 * [started][start]) a connection to the Souk server that syncs and sends.
 *
 * ```
 * val souk = Souk(config)                  // opens the store; off the main thread
 * souk.login(tokenFromYourBackend)
 * souk.start()
 * scope.launch { souk.events.collect { render(it) } }
 * val conversation = souk.openSupportConversation()
 * val message = souk.send(conversation, "Where is my order?")   // durable when it returns
 * ```
 *
 * **Threads.** Every method may be called from any thread, concurrently. The suspending ones
 * do their native work on [SoukConfig.ioDispatcher] (store writes end in an fsync) and are
 * main-safe. Nothing here ever calls back into your code on libsouk's own thread: events are
 * pulled by a dedicated JVM-attached thread and handed to [events].
 *
 * **Lifetime.** [close] stops the connection, ends the native threads and frees the native
 * client; later calls throw [SoukException.Closed]. A client that is never closed is closed
 * by a cleaner once it is garbage-collected, but close it yourself (e.g. at logout of the
 * app, or in tests): only one client may use a database file at a time.
 *
 * @throws SoukException.WrongKey the key does not open the store.
 * @throws SoukException.InvalidArgument a malformed URL, app id, key length, pin list…
 * @throws SoukException.IncompatibleNativeLibrary the native libraries are of another release.
 */
class Souk(config: SoukConfig) : Closeable {
    private val state: ClientState
    private val sink: EventSink
    private val cleanable: io.souk.internal.Cleanable
    private val io = config.ioDispatcher

    init {
        SoukNative.ensureLoaded()
        sink = EventSink(config.eventBufferSize, config.logger)
        val handle = SoukNative.create(
            sink,
            config.serverUrl.utf8(),
            config.appId.utf8(),
            config.databasePath.utf8(),
            config.databaseKey,
            config.deviceId?.utf8(),
            config.platform.code,
            config.tlsCaFile?.utf8(),
            if (config.tlsPins.isEmpty()) null else config.tlsPins.joinToString(",").utf8(),
            config.heartbeatSeconds,
            config.reconnectMinMillis,
            config.reconnectMaxMillis,
            config.maxQueuedEvents.toLong(),
            config.logLevel.code,
            config.logger != null,
        )
        state = ClientState(handle, sink)
        cleanable = SoukCleaner.register(this, state)
    }

    /**
     * The client's ordered event stream: what to render, as it happens.
     *
     * Each event is delivered once, to one collector, in order; events wait (bounded by
     * [SoukConfig.eventBufferSize] plus libsouk's [SoukConfig.maxQueuedEvents]) until someone
     * collects, so collect from one place (a repository or a ViewModel scope) for the life of
     * the client and share it with `shareIn` if several screens need it. The flow completes
     * when the client is closed. Events flow whether or not the client is started (sends
     * while stopped produce them too).
     */
    val events: Flow<SoukEvent> = sink.channel.receiveAsFlow()

    /** True after [close] (or after the cleaner closed an abandoned client). */
    val isClosed: Boolean get() = state.isClosed

    /** This installation's device id (generated once and kept in the store unless configured). */
    val deviceId: String get() = state.use { String(SoukNative.deviceId(it), Charsets.UTF_8) }

    /** The current connection state (the last [SoukEvent.ConnectionStateChanged]'s). */
    val connectionState: ConnectionState
        get() = state.use { ConnectionState.fromCode(SoukNative.connectionState(it)) }

    // ---- lifecycle and session ---------------------------------------------------------------

    /** Starts the connection: connect, sync, send the outbox, reconnect when needed. Returns at once. */
    fun start() = state.use { SoukNative.start(it) }

    /** Stops the connection; pending messages stay in the outbox. [start] resumes. */
    suspend fun stop() = withContext(io) { state.use { SoukNative.stop(it) } }

    /**
     * Starts a session with a token (a JWT your backend minted for this shopper; its subject is
     * the user). The token is kept in memory only: call this after every `Souk(config)`.
     * A store that belongs to another user is refused when the server answers
     * ([SoukEvent.ConnectionStateChanged] with [SoukErrorCode.USER_MISMATCH]): `logout(wipe = true)` first.
     */
    fun login(token: String) = state.use { SoukNative.login(it, token.utf8()) }

    /** Hands over a fresh token after [SoukEvent.TokenNeeded]; reconnects at once. */
    fun setToken(token: String) = state.use { SoukNative.setToken(it, token.utf8()) }

    /**
     * Logs out: forgets the token and disconnects. With [wipe], also deletes the database and its
     * -wal/-shm/-journal files and starts over with an empty store (same key, same device id);
     * pending messages are then lost. A started client is restarted afterwards.
     */
    suspend fun logout(wipe: Boolean = false) = withContext(io) {
        state.use { SoukNative.logout(it, if (wipe) 1 else 0) }
    }

    /** Tells the SDK what the app knows; hints change timing, never what is delivered. */
    fun hint(hint: Hint) = state.use { SoukNative.hint(it, hint.code) }

    /** The app came to the foreground: connect now. */
    fun onForeground() = hint(Hint.FOREGROUND)

    /** The app went to the background: finish sending the outbox, then disconnect. */
    fun onBackground() = hint(Hint.BACKGROUND)

    /** The network came back or changed: reconnect now (or probe a live connection). */
    fun onNetworkChanged() = hint(Hint.NETWORK_CHANGED)

    /** The network is gone: disconnect and stop trying until it changes or the app comes forward. */
    fun onNetworkLost() = hint(Hint.NETWORK_LOST)

    /** A push notification woke the app: connect and sync (then disconnect again in the background). */
    fun onPushReceived() = hint(Hint.PUSH_RECEIVED)

    // ---- conversations and messages -----------------------------------------------------------

    /**
     * The shopper's support conversation: its local id at once, offline or not. Messages sent to
     * it before the server has confirmed it wait in the outbox.
     */
    suspend fun openSupportConversation(): Long = withContext(io) {
        state.use { SoukNative.openSupportConversation(it) }
    }

    /**
     * Sends a text message. When this returns, the message is committed to the encrypted store
     * with its outbox entry: it survives process death and reaches the server exactly once.
     * Returns the local message (status [MessageStatus.PENDING], or later if it was already
     * sent); a [SoukEvent.MessageAdded] and then [SoukEvent.MessageUpdated]s follow.
     *
     * Cancelling the calling coroutine does not take a message back once the write has begun.
     *
     * @throws SoukException.InvalidArgument empty text, or text containing NUL.
     * @throws SoukException.TooLarge over the protocol's 16 KiB content limit.
     * @throws SoukException.NotFound no such conversation.
     */
    suspend fun send(conversationId: Long, text: String): Message = withContext(io) {
        state.use { h ->
            val id = SoukNative.sendText(h, conversationId, text.utf8())
            SoukNative.getMessage(h, id)
        }
    }

    /**
     * Sends rich content (a product or order card, an attachment, …) with the guarantees of
     * [send]. libsouk validates it first: [SoukException.InvalidArgument] names the field.
     */
    suspend fun send(conversationId: Long, content: Content): Message = withContext(io) {
        val e = ContentCodec.encode(content)
        state.use { h ->
            val id = SoukNative.sendContent(h, conversationId, e.kind, e.fallback, e.s, e.n, e.items, e.itemNums)
            SoukNative.getMessage(h, id)
        }
    }

    /**
     * The shopper tapped reply [replyId] of the quick-replies message [messageId]: sends its title
     * as a text message (what the agent sees as the answer).
     */
    suspend fun sendQuickReply(conversationId: Long, messageId: Long, replyId: String): Message = withContext(io) {
        state.use { h ->
            SoukNative.getMessage(h, SoukNative.sendQuickReply(h, conversationId, messageId, replyId.utf8()))
        }
    }

    /** Answers the satisfaction survey [surveyMessageId] with [rating] (1..its scale) and an optional comment. */
    suspend fun answerSurvey(conversationId: Long, surveyMessageId: Long, rating: Int, comment: String? = null): Message =
        withContext(io) {
            state.use { h ->
                SoukNative.getMessage(h, SoukNative.answerCsat(h, conversationId, surveyMessageId, rating, comment?.utf8()))
            }
        }

    /**
     * Attaches what the shopper is looking at to a conversation, replacing its previous context.
     * Committed durably before this returns and sent when connected (a context replaced before it
     * was sent is never sent); [SoukEvent.ContextUpdated] tells when the server has it.
     */
    suspend fun setContext(conversationId: Long, context: ShoppingContext) = withContext(io) {
        val product = context.product?.let { ContentCodec.encode(it) }
        val order = context.order?.let { ContentCodec.encode(it) }
        val (cart, cartNums) = ContentCodec.lineItems(context.cart)
        state.use { h ->
            SoukNative.setContext(
                h, conversationId,
                product?.kind ?: -1, product?.s, product?.n,
                order?.kind ?: -1, order?.s, order?.n, order?.items, order?.itemNums,
                cart, cartNums, context.cartTotal?.currency?.utf8(), context.cartTotal?.amountMinor ?: 0,
                context.pages.flatMap { listOf(it.url.utf8(), it.title?.utf8()) }.toTypedArray(),
                context.pages.map { it.atMillis }.toLongArray(),
                context.attributes.flatMap { (k, v) -> listOf(k.utf8(), v.utf8()) }.toTypedArray(),
            )
        }
    }

    /** The [limit] most recent in-app pushes kept in the store, newest first (an inbox). */
    suspend fun pushes(limit: Int = 50): List<InAppPush> = withContext(io) {
        state.use { SoukNative.listPushes(it, limit).asList() }
    }

    /** Puts a [MessageStatus.FAILED] message back in the outbox (same client message id). */
    suspend fun resend(messageId: Long) = withContext(io) { state.use { SoukNative.resend(it, messageId) } }

    /** Deletes a [MessageStatus.FAILED] message ([SoukEvent.MessageDeleted]). Sent messages are never deleted. */
    suspend fun deleteFailed(messageId: Long) = withContext(io) {
        state.use { SoukNative.deleteFailed(it, messageId) }
    }

    /** A snapshot of one message. */
    suspend fun message(messageId: Long): Message = withContext(io) {
        state.use { SoukNative.getMessage(it, messageId) }
    }

    /**
     * One page of a conversation from the local store, oldest first, in display order (server
     * order, then pending and failed messages in the order they were sent).
     *
     * @param anchorMessageId a message of the conversation, or 0: with [PageDirection.BEFORE] the
     *   newest page; with [PageDirection.AFTER] the oldest.
     * @param limit 1..500 (0: 50). A page shorter than the limit is the last in its direction.
     */
    suspend fun messages(
        conversationId: Long,
        anchorMessageId: Long = 0,
        direction: PageDirection = PageDirection.BEFORE,
        limit: Int = 50,
    ): List<Message> = withContext(io) {
        state.use { SoukNative.listMessages(it, conversationId, anchorMessageId, direction.code, limit).asList() }
    }

    /**
     * Pages backwards through a conversation, newest page first (each page oldest first), as a
     * cold flow: collect as far as the user scrolls. For a paging library, call [messages] with
     * the first message of the last page as the anchor.
     */
    fun messagePages(conversationId: Long, pageSize: Int = 50): Flow<List<Message>> = flow {
        var anchor = 0L
        while (true) {
            val page = messages(conversationId, anchor, PageDirection.BEFORE, pageSize)
            if (page.isEmpty()) break
            emit(page)
            if (page.size < pageSize) break
            anchor = page.first().id
        }
    }

    /** Number of messages waiting in the outbox (not yet acknowledged by the server). */
    suspend fun outboxCount(): Int = withContext(io) { state.use { SoukNative.outboxCount(it).toInt() } }

    /** All local conversations, most recently active first, with unread counts and last messages. */
    suspend fun conversations(): List<Conversation> = withContext(io) {
        state.use { SoukNative.listConversations(it).asList() }
    }

    /** A snapshot of one conversation. */
    suspend fun conversation(conversationId: Long): Conversation = withContext(io) {
        state.use { SoukNative.getConversation(it, conversationId) }
    }

    /**
     * Marks a conversation read up to and including a message (0: its newest). Applied locally at
     * once ([SoukEvent.ConversationUpdated]) and sent to the server when connected, which tells
     * the user's other devices and the shop. A position never moves backwards.
     */
    suspend fun markRead(conversationId: Long, upToMessageId: Long = 0) = withContext(io) {
        state.use { SoukNative.markRead(it, conversationId, upToMessageId) }
    }

    /** Tells the other participants the user started or stopped typing (dropped when offline). */
    fun setTyping(conversationId: Long, typing: Boolean) =
        state.use { SoukNative.setTyping(it, conversationId, typing) }

    /**
     * Closes the client: stops the connection, ends the native threads, frees the native client
     * and completes [events]. Pending messages stay in the store for the next client. Blocks
     * until the SDK thread has ended (briefly); idempotent; safe from any thread except from
     * inside a [SoukLogger].
     */
    override fun close() = cleanable.clean()

    companion object {
        /**
         * This binding's version (libsouk's, generated from sdk/include/souk/version.h); the
         * native libraries are checked against it when loaded.
         */
        const val VERSION = SoukVersion.NAME

        /** [VERSION] as major * 10000 + minor * 100 + patch (libsouk's SOUK_VERSION_NUMBER). */
        const val VERSION_NUMBER = SoukVersion.NUMBER

        /**
         * The version of the libsouk actually loaded. Loads and checks the native libraries.
         * @throws SoukException.IncompatibleNativeLibrary
         */
        val nativeVersion: String get() = SoukNative.libraryVersionName

        /** The name and meaning of a libsouk error code (`souk_strerror`). */
        fun describe(code: SoukErrorCode): String {
            SoukNative.ensureLoaded()
            return String(SoukNative.strerror(code.code), Charsets.UTF_8)
        }
    }
}

private fun String.utf8(): ByteArray = toByteArray(Charsets.UTF_8)
