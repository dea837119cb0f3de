package io.souk.test

import io.souk.ConnectionState
import io.souk.MessageStatus
import io.souk.SoukEvent
import kotlin.test.assertEquals

/*
 * Offline sending: soukd goes away (SIGTERM), the app sends, the message is PENDING in the
 * outbox; soukd comes back on the same port, a network hint, and the message is SENT. Then
 * the same with the client closed in between (the app quit while offline): a new client on
 * the same store sends it. The server holds each message exactly once.
 */
private fun lastConnected(ev: List<SoukEvent>) = ev.indexOfLast {
    it is SoukEvent.ConnectionStateChanged && it.state == ConnectionState.CONNECTED
}

private fun wentDown(ev: List<SoukEvent>): Boolean? {
    val i = lastConnected(ev)
    return if (i >= 0 && ev.drop(i + 1).any {
            it is SoukEvent.ConnectionStateChanged && it.state == ConnectionState.WAITING
        }) true else null
}

private fun sentEvent(id: Long) = { ev: List<SoukEvent> ->
    ev.filterIsInstance<SoukEvent.MessageUpdated>().firstOrNull { it.message.id == id && it.message.status == MessageStatus.SENT }
}

suspend fun TestContext.offlineSendTest() {
    val server = server()
    server.start()
    val alice = server.token("alice")
    forbidden += alice
    val c = client(config(server, "offline.db"))
    val log = EventLog(scope, c)
    val conv = c.openSupportConversation()
    c.login(alice)
    c.start()
    val sid = log.await("support conversation confirmed") { ev ->
        ev.filterIsInstance<SoukEvent.ConversationUpdated>().firstOrNull { it.conversation.id == conv && it.conversation.serverId != null }
    }.conversation.serverId!!
    log.await("synced") { ev -> ev.filterIsInstance<SoukEvent.SyncFinished>().firstOrNull() }

    // 1. soukd stops; a message sent meanwhile waits, then goes
    server.stop()
    log.await("offline", 120_000) { wentDown(it) }
    val first = "sent while soukd is down"
    val m = c.send(conv, first)
    assertEquals(MessageStatus.PENDING, m.status)
    assertEquals(1, c.outboxCount())
    server.start()
    c.onNetworkChanged()
    log.await("sent after the reconnect", 120_000, sentEvent(m.id))
    assertEquals(0, c.outboxCount())

    // 2. offline again, and the app quits with the message pending
    server.stop()
    log.await("offline again", 120_000) { wentDown(it) }
    val second = "queued, then the app quit"
    val m2 = c.send(conv, second)
    assertEquals(MessageStatus.PENDING, m2.status)
    c.close()
    server.start()
    val c2 = client(config(server, "offline.db"))
    val log2 = EventLog(scope, c2)
    assertEquals(1, c2.outboxCount())
    assertEquals(MessageStatus.PENDING, c2.message(m2.id).status)
    c2.login(alice)
    c2.start()
    log2.await("sent by the next client", 120_000, sentEvent(m2.id))
    assertEquals(0, c2.outboxCount())
    assertEquals(listOf(first, second), server.serverTexts(sid))
    c2.close()
    server.stop()
}
