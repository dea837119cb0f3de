package io.souk.test

import io.souk.ConnectionState
import io.souk.MessageStatus
import io.souk.Platform
import io.souk.Souk
import io.souk.SoukConfig
import io.souk.SoukErrorCode
import io.souk.SoukEvent
import io.souk.SoukException
import io.souk.internal.SoukNative
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.onEach
import kotlinx.coroutines.withTimeout
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/*
 * The binding without a server: the load-time version check, the mapping of every C error
 * code to its exception class, sending while never connected (durable, pending), the event
 * stream coming from the attached collector thread, close() and what follows it, and the
 * wrong key refused with the store left intact.
 */
suspend fun TestContext.apiTest() {
    // ---- versions: checked at load; a mismatch of any of the three is refused ----
    assertEquals(Souk.VERSION, Souk.nativeVersion)
    val abi = SoukNative.JNI_ABI
    SoukNative.checkVersions(abi, Souk.VERSION_NUMBER, Souk.VERSION_NUMBER)
    SoukNative.checkVersions(abi, Souk.VERSION_NUMBER, Souk.VERSION_NUMBER + 100) // a later minor libsouk
    for ((a, built, loaded) in listOf(
        Triple(abi + 1, Souk.VERSION_NUMBER, Souk.VERSION_NUMBER), // libsoukjni of another binding
        Triple(abi, Souk.VERSION_NUMBER + 1, Souk.VERSION_NUMBER + 1), // built against another libsouk
        Triple(abi, Souk.VERSION_NUMBER, Souk.VERSION_NUMBER + 10000), // another major loaded
        Triple(abi, Souk.VERSION_NUMBER + 1, Souk.VERSION_NUMBER), // an older libsouk loaded
    )) {
        assertFailsWith<SoukException.IncompatibleNativeLibrary> { SoukNative.checkVersions(a, built, loaded) }
    }

    // ---- error codes: each C code has its class, and libsouk names it ----
    for (code in SoukErrorCode.entries.filter { it != SoukErrorCode.UNKNOWN }) {
        val e = SoukException.of(code.code, "m")
        assertEquals(code, e.code)
        assertEquals(code.code, e.nativeCode)
        assertTrue(Souk.describe(code).startsWith("SOUK_E"), Souk.describe(code))
    }
    assertTrue(SoukException.of(-99, "m") is SoukException.Unknown)
    assertTrue(SoukException.of(-7, "m") is SoukException.Store)
    assertTrue(SoukException.of(-13, "m") is SoukException.Connection)

    // ---- configuration errors come back as typed exceptions with libsouk's message ----
    fun cfg(url: String = "ws://127.0.0.1:9/v1/ws", app: String = "app_x", key: ByteArray = key()) =
        SoukConfig(url, app, dbPath("cfg.db"), key, platform = Platform.DESKTOP)
    val shortKey = assertFailsWith<SoukException.InvalidArgument> { Souk(cfg(key = ByteArray(16))) }
    assertTrue(shortKey.message!!.isNotEmpty())
    assertFailsWith<SoukException.InvalidArgument> { Souk(cfg(url = "http://example.invalid")) }
    assertFailsWith<SoukException.InvalidArgument> { Souk(cfg(app = "app\u0000x")) }
    assertTrue("databaseKey=<32 bytes>" in cfg().toString())

    // ---- a client that never connects: everything local works ----
    val c = client(config(null, "api.db"))
    val log = EventLog(scope, c)
    val conv = c.openSupportConversation()
    assertEquals(conv, c.openSupportConversation())
    val text = "hello offline 👋 — ünïcödé"
    forbidden += "hello offline"
    val m = c.send(conv, text)
    assertEquals(text, m.text) // UTF-8 both ways, outside the BMP too
    assertEquals(MessageStatus.PENDING, m.status)
    assertTrue(m.isOutgoing)
    assertEquals(conv, m.conversationId)
    assertEquals(32, m.clientMessageId.length)
    assertEquals(null, m.serverId)
    val added = log.await("MessageAdded") { ev ->
        ev.filterIsInstance<SoukEvent.MessageAdded>().firstOrNull { it.message.id == m.id }
    }
    assertEquals(text, added.message.text)
    // events are pulled by a JVM-attached native thread (a daemon: it never holds the JVM up)
    val collector = Thread.getAllStackTraces().keys.filter { it.name == "souk-events" }
    assertEquals(1, collector.size, "one attached collector thread per client")
    assertTrue(collector[0].isDaemon)

    assertFailsWith<SoukException.InvalidArgument> { c.send(conv, "") }
    assertFailsWith<SoukException.InvalidArgument> { c.send(conv, "a\u0000b") }
    assertFailsWith<SoukException.TooLarge> { c.send(conv, "x".repeat(17_000)) }
    assertFailsWith<SoukException.NotFound> { c.send(987_654, "x") }
    assertFailsWith<SoukException.NotFound> { c.message(987_654) }
    assertFailsWith<SoukException.State> { c.resend(m.id) } // not FAILED
    assertFailsWith<SoukException.State> { c.deleteFailed(m.id) }
    assertFailsWith<SoukException.State> { c.setToken("not-logged-in") }
    assertEquals(1, c.outboxCount())
    assertEquals(ConnectionState.STOPPED, c.connectionState)
    assertTrue(c.deviceId.isNotEmpty())
    c.setTyping(conv, true) // dropped while offline
    c.onNetworkChanged()
    c.onBackground()
    c.onForeground()
    c.onPushReceived()
    assertEquals(listOf(m.id), c.messages(conv).map { it.id })
    assertEquals(m, c.message(m.id))
    assertEquals(m.id, c.conversation(conv).lastMessage?.id)

    // ---- close: idempotent; then every call says Closed and the event flow completes ----
    c.close()
    c.close()
    assertTrue(c.isClosed)
    assertFailsWith<SoukException.Closed> { c.send(conv, "x") }
    assertFailsWith<SoukException.Closed> { c.deviceId }
    assertFailsWith<SoukException.Closed> { c.start() }
    withTimeout(60_000) { log.job.join() }
    assertTrue(log.completed)
    assertTrue(Thread.getAllStackTraces().keys.none { it.name == "souk-events" }, "the collector detached")

    // ---- the wrong key is refused and leaves the store intact ----
    val wrong = assertFailsWith<SoukException.WrongKey> { Souk(config(null, "api.db", keyVariant = 1)) }
    assertEquals(SoukErrorCode.WRONG_KEY, wrong.code)
    val again = client(config(null, "api.db"))
    assertEquals(1, again.outboxCount())
    assertEquals(listOf(text), again.messages(conv).map { it.text })
    assertEquals(MessageStatus.PENDING, again.message(m.id).status)
    again.close()

    // ---- bounded memory: nobody collects, the buffers fill, libsouk drops and says so ----
    val small = client(SoukConfig(
        "ws://127.0.0.1:9/v1/ws", "app_x", dbPath("small.db"), key(), platform = Platform.DESKTOP,
        maxQueuedEvents = 5, eventBufferSize = 1))
    val sconv = small.openSupportConversation()
    repeat(20) { small.send(sconv, "m$it") } // MessageAdded + ConversationUpdated each: 40 events
    val seen = mutableListOf<SoukEvent>()
    withTimeout(60_000) { small.events.onEach { seen += it }.first { it is SoukEvent.EventsDropped } }
    assertTrue(seen.size < 40, "dropped, not buffered: ${seen.size} events")
    assertEquals(20, small.messages(sconv, limit = 100).size, "the store has everything")
    small.close()
    assertEquals(0, SoukNative.liveHandles(), "every native client was freed")
}

