package io.souk.internal

import io.souk.LogLevel
import io.souk.SoukEvent
import io.souk.SoukLogger
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.ClosedSendChannelException
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeoutOrNull

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

    @Volatile
    private var closed = false

    /**
     * Called by libsoukjni; false once the client is closed (the event is dropped). When the
     * channel is full it waits for room in slices of [WAIT_MS], looking at [closed] between
     * them: Channel.close() does not wake a sender already suspended on a full channel, and
     * the close joins this thread, so a plain trySendBlocking() here deadlocked a close that
     * came while nobody collected (kotlin_api hung about once in ten runs on a busy machine;
     * jstack: the collector parked in trySendBlocking, the closing thread in pthread_join).
     * A timed-out send is not delivered (a cancelled send never is), so nothing is sent twice.
     */
    fun deliver(event: SoukEvent): Boolean {
        deliveryThread = Thread.currentThread()
        while (true) {
            val r = channel.trySend(event)
            if (r.isSuccess) return true
            if (r.isClosed || closed) return false
            val sent = try {
                runBlocking {
                    withTimeoutOrNull(WAIT_MS) {
                        channel.send(event)
                        true
                    }
                }
            } catch (e: ClosedSendChannelException) {
                return false
            }
            if (sent == true) return true
        }
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
        closed = true
        channel.close()
    }

    private companion object {
        const val WAIT_MS = 50L
    }
}
