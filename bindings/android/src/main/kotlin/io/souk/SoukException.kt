package io.souk

/**
 * libsouk's error codes (sdk/include/souk/errors.h, docs/errors.md). They are few and never
 * renumbered; each maps to one class of [SoukException].
 */
enum class SoukErrorCode(val code: Int) {
    INVALID_ARGUMENT(-1),
    OUT_OF_MEMORY(-2),
    STATE(-3),
    NOT_FOUND(-4),
    TIMEOUT(-5),
    STORE(-6),
    WRONG_KEY(-7),
    NO_ENCRYPTION(-8),
    SCHEMA(-9),
    TOO_LARGE(-10),
    AUTH(-11),
    USER_MISMATCH(-12),
    NETWORK(-13),
    PROTOCOL(-14),
    INTERNAL(-15),

    /** A code added by a newer libsouk than this binding knows. */
    UNKNOWN(Int.MIN_VALUE);

    companion object {
        /** The code for a libsouk value; null for 0 (no error). */
        fun fromCode(code: Int): SoukErrorCode? =
            if (code == 0) null else entries.firstOrNull { it.code == code } ?: UNKNOWN
    }
}

/**
 * Every failure of the Souk API. The class tells what happened and what to do; [code] is the
 * libsouk error, [nativeCode] its raw value, and [message] the specific reason.
 *
 * ```
 * try { souk.send(conversationId, text) }
 * catch (e: SoukException.TooLarge) { showTooLong() }
 * catch (e: SoukException.InvalidArgument) { showCannotSend(e.message) }
 * ```
 *
 * Groups: [Store] (the local database could not be used), [Connection] (only inside events:
 * why the connection went down).
 */
sealed class SoukException(
    val code: SoukErrorCode,
    val nativeCode: Int,
    message: String,
) : Exception(message) {

    /** An argument is invalid: empty or malformed text, a bad URL, a key that is not 32 bytes… */
    class InvalidArgument(message: String) : SoukException(SoukErrorCode.INVALID_ARGUMENT, -1, message)

    /** libsouk could not allocate memory. */
    class OutOfMemory(message: String) : SoukException(SoukErrorCode.OUT_OF_MEMORY, -2, message)

    /** The call is not allowed now (e.g. [Souk.setToken] before [Souk.login], resending a message that did not fail). */
    open class State(message: String) : SoukException(SoukErrorCode.STATE, -3, message)

    /** The client was closed ([Souk.close], or collected by the garbage collector). */
    class Closed(message: String = "the Souk client is closed") : State(message)

    /** No such message or conversation in the local store (a merge may have removed one: see [SoukEvent.ConversationRemoved]). */
    class NotFound(message: String) : SoukException(SoukErrorCode.NOT_FOUND, -4, message)

    /** Nothing arrived within a timeout. */
    class Timeout(message: String) : SoukException(SoukErrorCode.TIMEOUT, -5, message)

    /** The local database cannot be used. Nothing was half-written: writes are transactions. */
    sealed class Store(code: SoukErrorCode, nativeCode: Int, message: String) :
        SoukException(code, nativeCode, message)

    /** I/O error, disk full, corrupt file, permissions. */
    class StorageFailure(message: String) : Store(SoukErrorCode.STORE, -6, message)

    /** The key does not open the database, or the file is not a Souk database (left untouched). */
    class WrongKey(message: String) : Store(SoukErrorCode.WRONG_KEY, -7, message)

    /** A packaging error: the SQLite in the process does not encrypt, and libsouk refuses plaintext. */
    class EncryptionUnavailable(message: String) : Store(SoukErrorCode.NO_ENCRYPTION, -8, message)

    /** The database was written by a newer libsouk (downgrades are not supported). */
    class SchemaTooNew(message: String) : Store(SoukErrorCode.SCHEMA, -9, message)

    /** The content is over the protocol's 16 KiB limit. */
    class TooLarge(message: String) : SoukException(SoukErrorCode.TOO_LARGE, -10, message)

    /** Why a connection went down ([SoukEvent.ConnectionStateChanged.error]); the SDK handles retries. */
    sealed class Connection(code: SoukErrorCode, nativeCode: Int, message: String) :
        SoukException(code, nativeCode, message)

    /** The server refused the token or does not know the app id: call [Souk.setToken] (or fix the app id). */
    class Auth(message: String) : Connection(SoukErrorCode.AUTH, -11, message)

    /** The store belongs to another user than the token's: `logout(wipe = true)` first. */
    class UserMismatch(message: String) : Connection(SoukErrorCode.USER_MISMATCH, -12, message)

    /** The connection failed or was lost; the SDK retries by itself and messages stay pending. */
    class Network(message: String) : Connection(SoukErrorCode.NETWORK, -13, message)

    /** The server sent something this SDK cannot accept; it reconnects. */
    class Protocol(message: String) : Connection(SoukErrorCode.PROTOCOL, -14, message)

    /** A bug in libsouk; please report it. */
    open class Internal(message: String, nativeCode: Int = -15) :
        SoukException(SoukErrorCode.INTERNAL, nativeCode, message)

    /**
     * The native libraries do not match this Kotlin code (another Souk version, or an old
     * libsoukjni/libsouk left in the app). Thrown by the first [Souk] created.
     */
    class IncompatibleNativeLibrary(message: String) : Internal(message)

    /** A code added by a newer libsouk than this binding knows. */
    class Unknown(nativeCode: Int, message: String) : SoukException(SoukErrorCode.UNKNOWN, nativeCode, message)

    companion object {
        /** The exception for a libsouk code (negative) with its message. */
        fun of(nativeCode: Int, message: String): SoukException = when (nativeCode) {
            -1 -> InvalidArgument(message)
            -2 -> OutOfMemory(message)
            -3 -> State(message)
            -4 -> NotFound(message)
            -5 -> Timeout(message)
            -6 -> StorageFailure(message)
            -7 -> WrongKey(message)
            -8 -> EncryptionUnavailable(message)
            -9 -> SchemaTooNew(message)
            -10 -> TooLarge(message)
            -11 -> Auth(message)
            -12 -> UserMismatch(message)
            -13 -> Network(message)
            -14 -> Protocol(message)
            -15 -> Internal(message)
            else -> Unknown(nativeCode, message)
        }
    }
}
