package io.souk.internal

import io.souk.SoukException
import java.util.concurrent.locks.ReentrantReadWriteLock

/**
 * The native handle of one client and the lock that keeps it valid while it is used.
 *
 * Every call runs inside [use] with the read lock held, so calls from any number of threads
 * run concurrently (libsouk is thread-safe) while [run] — the close, from Souk.close() or
 * from the cleaner when the Souk object was garbage-collected — waits for them with the
 * write lock and frees the handle exactly once. After it, [use] throws [SoukException.Closed].
 *
 * This object must never refer to the Souk object: it is the cleaner's action.
 */
internal class ClientState(handle: Long, private val sink: EventSink) : Runnable {
    private val lock = ReentrantReadWriteLock()
    @Volatile
    private var handle: Long = handle

    val isClosed: Boolean get() = handle == 0L

    inline fun <T> use(block: (Long) -> T): T {
        val read = lockForUse()
        try {
            val h = currentHandle()
            if (h == 0L) throw SoukException.Closed()
            return block(h)
        } finally {
            read.unlock()
        }
    }

    fun lockForUse(): ReentrantReadWriteLock.ReadLock = lock.readLock().also { it.lock() }

    fun currentHandle(): Long = handle

    /** Closes the client (idempotent, any thread but a Souk callback thread). */
    override fun run() {
        // first, so that a collector thread blocked handing over an event lets go
        sink.close()
        val write = lock.writeLock()
        write.lock()
        try {
            val h = handle
            if (h != 0L) {
                handle = 0L
                SoukNative.close(h)
            }
        } finally {
            write.unlock()
        }
    }
}
