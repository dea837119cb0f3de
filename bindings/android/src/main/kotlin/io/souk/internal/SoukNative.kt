package io.souk.internal

import io.souk.Conversation
import io.souk.InAppPush
import io.souk.Message
import io.souk.Souk
import io.souk.SoukException

/**
 * The native methods of libsoukjni (src/main/cpp/souk_jni.c), registered by its JNI_OnLoad.
 *
 * Every method that takes a `handle` must be called inside [ClientState.use], which
 * guarantees the handle is live and not being closed. Strings cross as UTF-8 byte arrays.
 * A failing call throws the [SoukException] that [NativeBridge.error] builds.
 */
internal object SoukNative {
    /** Must equal SJ_JNI_ABI in souk_jni.c: the shape of the methods below. */
    const val JNI_ABI = 2

    @JvmStatic external fun versionInfo(): IntArray // [JNI ABI, SOUK_VERSION_NUMBER built against, souk_version_number()]
    @JvmStatic external fun libraryVersion(): ByteArray
    @JvmStatic external fun strerror(code: Int): ByteArray
    @JvmStatic external fun liveHandles(): Int

    @JvmStatic external fun create(
        sink: EventSink, serverUrl: ByteArray, appId: ByteArray, databasePath: ByteArray,
        key: ByteArray, deviceId: ByteArray?, platform: Int, tlsCaFile: ByteArray?, tlsPins: ByteArray?,
        heartbeatSeconds: Int, reconnectMinMillis: Int, reconnectMaxMillis: Int, maxQueuedEvents: Long,
        logLevel: Int, logToSink: Boolean,
    ): Long

    @JvmStatic external fun close(handle: Long)
    @JvmStatic external fun start(handle: Long)
    @JvmStatic external fun stop(handle: Long)
    @JvmStatic external fun login(handle: Long, token: ByteArray)
    @JvmStatic external fun setToken(handle: Long, token: ByteArray)
    @JvmStatic external fun logout(handle: Long, mode: Int)
    @JvmStatic external fun hint(handle: Long, hint: Int)
    @JvmStatic external fun connectionState(handle: Long): Int
    @JvmStatic external fun deviceId(handle: Long): ByteArray
    @JvmStatic external fun openSupportConversation(handle: Long): Long
    @JvmStatic external fun sendText(handle: Long, conversationId: Long, text: ByteArray): Long
    @JvmStatic external fun resend(handle: Long, messageId: Long)
    @JvmStatic external fun deleteFailed(handle: Long, messageId: Long)
    @JvmStatic external fun getMessage(handle: Long, messageId: Long): Message
    @JvmStatic external fun listMessages(handle: Long, conversationId: Long, anchor: Long, direction: Int, limit: Int): Array<Message>
    @JvmStatic external fun outboxCount(handle: Long): Long
    @JvmStatic external fun listConversations(handle: Long): Array<Conversation>
    @JvmStatic external fun getConversation(handle: Long, conversationId: Long): Conversation
    @JvmStatic external fun markRead(handle: Long, conversationId: Long, upToMessageId: Long)
    @JvmStatic external fun setTyping(handle: Long, conversationId: Long, typing: Boolean)
    @JvmStatic external fun sendContent(
        handle: Long, conversationId: Long, kind: Int, fallback: ByteArray?, s: Array<ByteArray?>, n: LongArray,
        items: Array<ByteArray?>, itemNums: LongArray,
    ): Long
    @JvmStatic external fun sendQuickReply(handle: Long, conversationId: Long, messageId: Long, replyId: ByteArray): Long
    @JvmStatic external fun answerCsat(handle: Long, conversationId: Long, messageId: Long, rating: Int, comment: ByteArray?): Long
    /** Product / order in the content form (kind -1: none); see souk_jni.c n_set_context. */
    @JvmStatic external fun setContext(
        handle: Long, conversationId: Long,
        productKind: Int, productS: Array<ByteArray?>?, productN: LongArray?,
        orderKind: Int, orderS: Array<ByteArray?>?, orderN: LongArray?, orderItems: Array<ByteArray?>?, orderItemNums: LongArray?,
        cart: Array<ByteArray?>, cartNums: LongArray, cartTotalCurrency: ByteArray?, cartTotalMinor: Long,
        pages: Array<ByteArray?>, pageTimes: LongArray, attributes: Array<ByteArray?>,
    )
    @JvmStatic external fun listPushes(handle: Long, limit: Int): Array<InAppPush>

    /** The loaded libsouk's version, e.g. "0.1.0" (after [ensureLoaded]). */
    val libraryVersionName: String by lazy { ensureLoaded(); String(libraryVersion(), Charsets.UTF_8) }

    private val loadFailure: SoukException? by lazy {
        try {
            val explicit = System.getProperty(LIBRARY_PROPERTY)
            if (explicit != null) System.load(explicit) else System.loadLibrary("soukjni")
            val v = versionInfo()
            checkVersions(v[0], v[1], v[2])
            null
        } catch (e: SoukException) {
            e
        } catch (e: LinkageError) { // missing library, or JNI_OnLoad refused our classes
            SoukException.IncompatibleNativeLibrary("cannot load libsoukjni: ${e.message}").also { it.initCause(e) }
        }
    }

    /** Loads and checks the native libraries once; throws the same failure every time after. */
    fun ensureLoaded() {
        loadFailure?.let { throw it }
    }

    /**
     * The load-time check: this Kotlin code, libsoukjni and libsouk must be of one release.
     * libsoukjni must speak our JNI ABI and have been built against libsouk [Souk.VERSION_NUMBER];
     * the libsouk actually loaded may be a later minor or patch of the same major (its ABI only grows).
     */
    fun checkVersions(jniAbi: Int, builtAgainst: Int, loaded: Int) {
        fun name(n: Int) = "${n / 10000}.${n / 100 % 100}.${n % 100}"
        if (jniAbi != JNI_ABI)
            throw SoukException.IncompatibleNativeLibrary(
                "libsoukjni speaks JNI ABI $jniAbi but this Kotlin code needs $JNI_ABI: " +
                    "package the libsoukjni of the same Souk release as the Kotlin classes")
        if (builtAgainst != Souk.VERSION_NUMBER)
            throw SoukException.IncompatibleNativeLibrary(
                "libsoukjni was built against libsouk ${name(builtAgainst)} but the Kotlin classes are " +
                    "${Souk.VERSION}: rebuild both from one release")
        if (loaded / 10000 != builtAgainst / 10000 || loaded < builtAgainst)
            throw SoukException.IncompatibleNativeLibrary(
                "the loaded libsouk is ${name(loaded)} but libsoukjni needs ${name(builtAgainst)} " +
                    "or a later ${builtAgainst / 10000}.x: an older libsouk is on the library path")
    }

    /** A system property naming libsoukjni's file, for hosts without java.library.path set up. */
    const val LIBRARY_PROPERTY = "io.souk.jni.library"
}
