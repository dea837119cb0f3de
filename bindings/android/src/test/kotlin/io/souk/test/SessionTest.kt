package io.souk.test

import io.souk.ConnectionState
import io.souk.MessageStatus
import io.souk.PageDirection
import io.souk.SenderKind
import io.souk.SoukEvent
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.withTimeout
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/*
 * A shopper's session against a real soukd: log in, send (the local message, then SENT),
 * the support conversation confirmed by the server, the agent typing and replying over the
 * REST API, conversations with unread counts, mark read, paging, and the server holding
 * every message exactly once.
 */
suspend fun TestContext.sessionTest() {
    val server = server()
    server.start()
    val alice = server.token("alice")
    forbidden += alice
    val c = client(config(server, "session.db"))
    val log = EventLog(scope, c)
    val conv = c.openSupportConversation()
    c.login(alice)
    c.start()
    log.await("connected") { ev ->
        ev.filterIsInstance<SoukEvent.ConnectionStateChanged>().firstOrNull { it.state == ConnectionState.CONNECTED }
    }

    val text = "Where is my order? 📦 — ünïcödé"
    forbidden += "Where is my order"
    val m = c.send(conv, text)
    assertEquals(text, m.text)
    assertTrue(m.isOutgoing)
    assertTrue(m.status == MessageStatus.PENDING || m.status == MessageStatus.SENT, "${m.status}")
    val sent = log.await("message sent") { ev ->
        ev.filterIsInstance<SoukEvent.MessageUpdated>().firstOrNull { it.message.id == m.id && it.message.status == MessageStatus.SENT }
    }.message
    assertNotNull(sent.serverId)
    assertTrue(sent.conversationSeq > 0)
    assertEquals("alice", sent.senderId)
    val sid = log.await("support conversation confirmed") { ev ->
        ev.filterIsInstance<SoukEvent.ConversationUpdated>().firstOrNull { it.conversation.id == conv && it.conversation.serverId != null }
    }.conversation.serverId!!

    // the agent types, then replies (REST API, like a help desk)
    server.agentTyping(sid, true)
    val typing = log.await("agent typing") { ev ->
        ev.filterIsInstance<SoukEvent.Typing>().firstOrNull { it.conversationId == conv && it.isTyping }
    }
    assertEquals("agent-7", typing.userId)
    c.setTyping(conv, true)
    c.setTyping(conv, false)
    val replyText = "Your order ships today ✓"
    forbidden += "ships today"
    server.agentReply(sid, replyText)
    val reply = log.await("agent reply") { ev ->
        ev.filterIsInstance<SoukEvent.MessageAdded>().firstOrNull { !it.message.isOutgoing && it.message.text == replyText }
    }.message
    assertEquals(SenderKind.AGENT, reply.senderKind)
    assertEquals("Sam", reply.senderName)
    assertEquals(MessageStatus.RECEIVED, reply.status)
    assertEquals(conv, reply.conversationId)

    // conversations: one, the support one, with the reply unread
    log.await("unread 1") { ev ->
        ev.filterIsInstance<SoukEvent.ConversationUpdated>().firstOrNull { it.conversation.id == conv && it.conversation.unreadCount == 1L }
    }
    val convs = c.conversations()
    assertEquals(1, convs.size)
    assertTrue(convs[0].isSupport)
    assertEquals(sid, convs[0].serverId)
    assertEquals(1L, convs[0].unreadCount)
    assertEquals(reply.id, convs[0].lastMessage?.id)

    c.markRead(conv)
    log.await("read") { ev ->
        ev.filterIsInstance<SoukEvent.ConversationUpdated>().firstOrNull { it.conversation.id == conv && it.conversation.unreadCount == 0L }
    }
    assertEquals(0L, c.conversation(conv).unreadCount)
    assertEquals(reply.conversationSeq, c.conversation(conv).readUpTo)

    // paging through the local store
    val more = (1..5).map { c.send(conv, "more $it") }
    val all = c.messages(conv, 0, PageDirection.AFTER, 0)
    assertEquals(listOf(text, replyText) + (1..5).map { "more $it" }, all.map { it.text })
    val pages = c.messagePages(conv, 3).toList()
    assertEquals(listOf(3, 3, 1), pages.map { it.size })
    assertEquals(all.map { it.id }, pages.reversed().flatten().map { it.id })
    assertEquals(all.subList(1, 3).map { it.id }, c.messages(conv, all[3].id, PageDirection.BEFORE, 2).map { it.id })
    assertEquals(all.subList(4, 6).map { it.id }, c.messages(conv, all[3].id, PageDirection.AFTER, 2).map { it.id })

    log.await("all sent", 120_000) { ev ->
        val done = ev.filterIsInstance<SoukEvent.MessageUpdated>()
            .filter { it.message.status == MessageStatus.SENT }.map { it.message.id }.toSet()
        if (done.containsAll(more.map { it.id })) true else null
    }
    assertEquals(0, c.outboxCount())
    assertEquals(listOf(text, replyText) + (1..5).map { "more $it" }, server.serverTexts(sid))

    // the stream is one ordered sequence: serials 1, 2, 3, … without gaps
    val serials = log.events().map { it.serial }
    assertEquals((serials.first()..serials.last()).toList(), serials)

    c.close()
    withTimeout(60_000) { log.job.join() }
    server.stop()
}
