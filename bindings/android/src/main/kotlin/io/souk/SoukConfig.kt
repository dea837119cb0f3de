package io.souk

import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers

/**
 * Receives libsouk's log lines, on a dedicated background thread ("souk-log"). Lines never
 * contain message text, tokens or keys. Keep it quick, and do not call [Souk] from it.
 */
fun interface SoukLogger {
    fun log(level: LogLevel, message: String)
}

/**
 * What a [Souk] client is made from. Only the first four are required:
 *
 * ```
 * val souk = Souk(SoukConfig(
 *     serverUrl = "wss://chat.example.com",
 *     appId = "app_5c2f…",
 *     databasePath = File(context.noBackupFilesDir, "souk.db").path,
 *     databaseKey = SoukKeys.databaseKey(context),   // 32 bytes kept with the Android Keystore
 * ))
 * ```
 *
 * @property serverUrl `wss://host[:port][/path]` (`ws://` for loopback and development); the path defaults to /v1/ws.
 * @property appId the app id from the Souk console (`soukctl app create`).
 * @property databasePath the database file; its directory must exist. `-wal` and `-shm` files are created beside it.
 * @property databaseKey the 32-byte raw key of the encrypted store. Generate it once with a secure random generator
 *   and keep it with the Android Keystore; with another key the store does not open ([SoukException.WrongKey]).
 *   The array is read when the client is created; clear it yourself afterwards if you wish.
 * @property deviceId a stable id of this installation (1..128 bytes); null: generated once and kept in the store.
 * @property platform reported to the server (push routing, segments).
 * @property tlsCaFile a PEM file of trusted CAs; null: the system's.
 * @property tlsPins base64 SHA-256 digests of SubjectPublicKeyInfo (HPKP format); some certificate of the
 *   server's chain must match one. Pin a backup key too.
 * @property heartbeatSeconds WebSocket ping interval while connected (0: 30).
 * @property reconnectMinMillis first reconnection delay (0: 500).
 * @property reconnectMaxMillis reconnection delay cap (0: 60,000).
 * @property maxQueuedEvents events libsouk keeps while nobody collects [Souk.events] before it drops them and
 *   says so with [SoukEvent.EventsDropped] (0: 10,000).
 * @property eventBufferSize events buffered on the Kotlin side between the native collector and your collector.
 * @property logLevel the least severe level passed to [logger].
 * @property logger where libsouk's logs go; null: nowhere (on Android: logcat, tag "Souk").
 * @property ioDispatcher where the suspending calls run their blocking native work (store writes end in an fsync).
 */
class SoukConfig(
    val serverUrl: String,
    val appId: String,
    val databasePath: String,
    val databaseKey: ByteArray,
    val deviceId: String? = null,
    val platform: Platform = Platform.ANDROID,
    val tlsCaFile: String? = null,
    val tlsPins: List<String> = emptyList(),
    val heartbeatSeconds: Int = 0,
    val reconnectMinMillis: Int = 0,
    val reconnectMaxMillis: Int = 0,
    val maxQueuedEvents: Int = 0,
    val eventBufferSize: Int = 256,
    val logLevel: LogLevel = LogLevel.WARN,
    val logger: SoukLogger? = null,
    val ioDispatcher: CoroutineDispatcher = Dispatchers.IO,
) {
    init {
        require(eventBufferSize > 0) { "eventBufferSize must be positive" }
    }

    /** Never prints the key. */
    override fun toString(): String =
        "SoukConfig(serverUrl=$serverUrl, appId=$appId, databasePath=$databasePath, " +
            "databaseKey=<${databaseKey.size} bytes>, deviceId=$deviceId, platform=$platform)"
}
