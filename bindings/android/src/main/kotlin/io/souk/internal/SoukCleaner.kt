package io.souk.internal

import java.lang.ref.PhantomReference
import java.lang.ref.ReferenceQueue
import java.util.Collections
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicBoolean

/** A registration: [clean] runs the action at most once, now (explicit close) or never again. */
internal fun interface Cleanable {
    fun clean()
}

/**
 * The safety net for clients the app forgot to close: when the Souk object becomes
 * unreachable, its [ClientState] is run (stop, join the native threads, free).
 *
 * java.lang.ref.Cleaner where the platform has it (any JVM 9+, Android API 33+); elsewhere
 * (older Android) the same thing built on a PhantomReference queue and one daemon thread.
 */
internal object SoukCleaner {
    private val jdk: Boolean = try {
        Class.forName("java.lang.ref.Cleaner")
        true
    } catch (e: ClassNotFoundException) {
        false
    }

    fun register(owner: Any, action: Runnable): Cleanable =
        if (jdk) JdkCleaner.register(owner, action) else PhantomCleaner.register(owner, action)

    @Suppress("NewApi") // only reached where java.lang.ref.Cleaner exists
    private object JdkCleaner {
        private val cleaner = java.lang.ref.Cleaner.create()

        fun register(owner: Any, action: Runnable): Cleanable {
            val c = cleaner.register(owner, action)
            return Cleanable { c.clean() }
        }
    }

    private object PhantomCleaner {
        private val queue = ReferenceQueue<Any>()
        private val live: MutableSet<Ref> = Collections.newSetFromMap(ConcurrentHashMap())

        private class Ref(owner: Any, private val action: Runnable) :
            PhantomReference<Any>(owner, queue), Cleanable {
            private val done = AtomicBoolean(false)
            override fun clean() {
                if (done.compareAndSet(false, true)) {
                    live.remove(this)
                    clear()
                    action.run()
                }
            }
        }

        init {
            val t = Thread({
                while (true) {
                    try {
                        (queue.remove() as Ref).clean()
                    } catch (e: InterruptedException) {
                        // keep serving
                    } catch (e: RuntimeException) {
                        // one failed cleanup must not stop the others
                    }
                }
            }, "souk-cleaner")
            t.isDaemon = true
            t.start()
        }

        fun register(owner: Any, action: Runnable): Cleanable = Ref(owner, action).also { live.add(it) }
    }
}
