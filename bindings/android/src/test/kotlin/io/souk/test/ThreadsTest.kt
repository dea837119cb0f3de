package io.souk.test

import io.souk.MessageStatus
import io.souk.PageDirection
import io.souk.Souk
import io.souk.SoukConfig
import io.souk.SoukEvent
import io.souk.SoukException
import io.souk.internal.SoukNative
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import kotlin.concurrent.thread
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/*
 * Threads and handles:
 *  - 8 plain threads send 25 messages each, concurrently with readers: every message is
 *    added once, sent once, in each thread's order, and the server holds each once;
 *  - close() while other threads are calling: each call completes or throws Closed;
 *  - clients the app forgets are freed by the cleaner once unreachable (the native handle
 *    count returns to where it was), and their event flows complete.
 */
suspend fun TestContext.threadsTest() {
    val server = server()
    server.start()
    val alice = server.token("alice")
    forbidden += alice
    val c = client(config(server, "threads.db"))
    val log = EventLog(scope, c)
    val conv = c.openSupportConversation()
    c.login(alice)
    c.start()

    val errors = ConcurrentLinkedQueue<Throwable>()
    val ids = ConcurrentHashMap.newKeySet<Long>()
    val sendersDone = AtomicBoolean(false)
    val senders = (0 until 8).map { t ->
        thread(name = "sender-$t") {
            try {
                repeat(25) { i ->
                    ids += runBlocking { c.send(conv, "t$t-$i") }.id
                    c.setTyping(conv, i % 2 == 0)
                }
            } catch (e: Throwable) {
                errors += e
            }
        }
    }
    val readers = (0 until 2).map {
        thread(name = "reader-$it") {
            try {
                while (!sendersDone.get()) runBlocking {
                    c.messages(conv, limit = 20)
                    c.conversations()
                    c.outboxCount()
                }
            } catch (e: Throwable) {
                errors += e
            }
        }
    }
    senders.forEach { it.join() }
    sendersDone.set(true)
    readers.forEach { it.join() }
    if (errors.isNotEmpty()) throw errors.first()
    assertEquals(200, ids.size)

    log.await("200 messages sent", 180_000) { ev ->
        val sent = ev.filterIsInstance<SoukEvent.MessageUpdated>()
            .filter { it.message.status == MessageStatus.SENT }.map { it.message.id }.toSet()
        if (sent.containsAll(ids)) true else null
    }
    val added = log.all<SoukEvent.MessageAdded>().map { it.message.id }
    assertEquals(200, added.size, "each message added once")
    assertEquals(ids.toSet(), added.toSet())
    val texts = c.messages(conv, 0, PageDirection.AFTER, 500).map { it.text }
    for (t in 0 until 8) assertEquals((0 until 25).map { "t$t-$it" }, texts.filter { it.startsWith("t$t-") })
    val sid = c.conversation(conv).serverId ?: fail("no server id")
    assertEquals(texts.sorted(), server.serverTexts(sid).sorted())

    // close() while other threads are inside calls
    val started = CountDownLatch(4)
    val callers = (0 until 4).map {
        thread(name = "caller-$it") {
            var first = true
            while (true) {
                try {
                    runBlocking { c.messages(conv, limit = 10); c.outboxCount() }
                    c.connectionState
                    if (first) started.countDown().also { first = false }
                } catch (e: SoukException.Closed) {
                    break
                } catch (e: Throwable) {
                    errors += e
                    break
                }
            }
        }
    }
    assertTrue(started.await(60, TimeUnit.SECONDS))
    c.close()
    callers.forEach { it.join(60_000) }
    assertTrue(callers.none { it.isAlive })
    if (errors.isNotEmpty()) throw errors.first()
    withTimeout(60_000) { log.job.join() }

    // the safety net: abandoned clients are closed by the cleaner
    val base = SoukNative.liveHandles()
    val logs = (0 until 3).map { abandonClient(config(server, "gc$it.db"), alice) }
    assertEquals(base + 3, SoukNative.liveHandles())
    val freed = withTimeoutOrNull(120_000) {
        while (SoukNative.liveHandles() != base) {
            System.gc()
            delay(50)
        }
        true
    }
    assertEquals(true, freed, "the cleaner freed the abandoned clients (live: ${SoukNative.liveHandles()})")
    withTimeout(60_000) { logs.forEach { it.job.join() } }
    assertTrue(logs.all { it.completed }, "the abandoned clients' event flows completed")
    server.stop()
}

/** Makes a started, logged-in client with a message sent and its events collected, and drops it. */
private fun TestContext.abandonClient(config: SoukConfig, token: String): EventLog {
    val s = Souk(config)
    val log = EventLog(scope, s)
    s.login(token)
    s.start()
    runBlocking { s.send(s.openSupportConversation(), "abandoned") }
    return log // holds the event flow, never the client
}
