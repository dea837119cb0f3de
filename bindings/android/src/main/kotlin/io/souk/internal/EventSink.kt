package io.souk.internal

import io.souk.LogLevel
import io.souk.SoukEvent
import io.souk.SoukLogger
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.trySendBlocking

/**
 * The Kotlin end of a client's native threads. libsoukjni holds a global reference to it
 * (never to the Souk object, so an abandoned client can still be collected and cleaned).
 *
 * [deliver] runs on the attached native collector thread "souk-events"; [log] on the
 * attached thread "souk-log". Neither runs app code except the app's [SoukLogger].
 */
internal class EventSink(bufferSize: Int, private val logger: SoukLogger?) {
    /** Events waiting for a collector of Souk.events. Bounded: when it is full, [deliver]
     *  blocks the collector thread, and libsouk's own queue takes over (max_queued_events,
     *  then EventsDropped) — memory stays bounded when nobody collects. */
    val channel = Channel<SoukEvent>(bufferSize)

    /** The thread the last event came from (tests check it is the attached collector). */
    @Volatile
    var deliveryThread: Thread? = null
        private set

    /** Called by libsoukjni; false once the client is closed (the event is dropped). */
    fun deliver(event: SoukEvent): Boolean {
        deliveryThread = Thread.currentThread()
        return channel.trySendBlocking(event).isSuccess
    }

    /** Called by libsoukjni with one log line. */
    fun log(level: Int, message: ByteArray) {
        try {
            logger?.log(LogLevel.fromCode(level), String(message, Charsets.UTF_8))
        } catch (e: Exception) {
            // a logger's failure must not take the log thread down
        }
    }

    fun close() {
        channel.close()
    }
}
