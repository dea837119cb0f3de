package io.souk.test

import io.souk.Content
import io.souk.ContentKind
import io.souk.ConversationKind
import io.souk.LineItem
import io.souk.MessageStatus
import io.souk.Money
import io.souk.PageVisit
import io.souk.ShoppingContext
import io.souk.SoukEvent
import io.souk.SoukException
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/*
 * Rich content, shopping context and in-app pushes through the binding, against a real soukd:
 * a product card sent and read back field by field; an agent's order card, quick replies and
 * survey received typed, answered with sendQuickReply / answerSurvey; a shopping context
 * confirmed by the server; a push received once and listed; libsouk's validation surfacing as
 * InvalidArgument naming the field.
 */
private fun sentEvent(id: Long) = { ev: List<SoukEvent> ->
    ev.filterIsInstance<SoukEvent.MessageUpdated>().firstOrNull { it.message.id == id && it.message.status == MessageStatus.SENT }
}

private fun incoming(kind: ContentKind) = { ev: List<SoukEvent> ->
    ev.filterIsInstance<SoukEvent.MessageAdded>().lastOrNull { !it.message.isOutgoing && it.message.contentKind == kind }
}

suspend fun TestContext.richTest() {
    val server = server()
    server.start()
    val alice = server.token("alice")
    forbidden += alice
    val c = client(config(server, "rich.db"))
    val log = EventLog(scope, c)
    val conv = c.openSupportConversation()
    c.login(alice)
    c.start()
    val sid = log.await("support conversation confirmed") { ev ->
        ev.filterIsInstance<SoukEvent.ConversationUpdated>().firstOrNull { it.conversation.id == conv && it.conversation.serverId != null }
    }.conversation.serverId!!
    assertEquals(ConversationKind.SUPPORT, c.conversation(conv).kind)

    // a product card, both ways
    val shoe = Content.Product(
        title = "Trail shoe ✓", productId = "sku-1", url = "https://shop.example/p/sku-1",
        price = Money(8999, "EUR"), fallbackText = "Trail shoe, 89.99 EUR")
    val sent = c.send(conv, shoe)
    assertEquals(ContentKind.PRODUCT, sent.contentKind)
    assertEquals(shoe, sent.content)
    log.await("product card sent", 60_000, sentEvent(sent.id))
    val bad = assertFailsWith<SoukException.InvalidArgument> { c.send(conv, Content.Product(title = "")) }
    assertTrue("title" in bad.message!!, bad.message)

    // the agent's order card, quick replies and survey
    fun post(json: String) {
        val (status, body) = server.rest("POST", "/v1/conversations/$sid/messages", json)
        if (status != 201) kotlin.test.fail("HTTP $status $body")
    }
    post("""{"sender":{"id":"agent-7","kind":"agent","name":"Sam"},"content":{"fallback_text":"Order o-42","order":{"order_id":"o-42","status":"shipped","items":[{"product_id":"sku-1","title":"Trail shoe","quantity":2,"price":{"amount_minor":8999,"currency":"EUR"}}],"total":{"amount_minor":17998,"currency":"EUR"}}}}""")
    val order = log.await("order card", 60_000, incoming(ContentKind.ORDER)).message
    assertEquals(
        Content.Order("o-42", "shipped", listOf(LineItem("sku-1", "Trail shoe", 2, Money(8999, "EUR"))), Money(17998, "EUR"), "Order o-42"),
        order.content)
    post("""{"sender":{"id":"bot-1","kind":"bot"},"content":{"quick_replies":{"prompt":"Track it?","replies":[{"id":"yes","title":"Yes please"},{"id":"no","title":"No"}]}}}""")
    val qr = log.await("quick replies", 60_000, incoming(ContentKind.QUICK_REPLIES)).message
    val replies = (qr.content as Content.QuickReplies).replies
    assertEquals(listOf("yes", "no"), replies.map { it.id })
    val answer = c.sendQuickReply(conv, qr.id, "yes")
    assertEquals("Yes please", answer.text)
    post("""{"sender":{"id":"bot-1","kind":"bot"},"content":{"csat_survey":{"survey_id":"s-1","question":"How did we do?","scale":5}}}""")
    val survey = log.await("survey", 60_000, incoming(ContentKind.CSAT_SURVEY)).message
    assertEquals(Content.CsatSurvey("s-1", "How did we do?", 5, survey.content?.fallbackText), survey.content)
    assertFailsWith<SoukException.InvalidArgument> { c.answerSurvey(conv, survey.id, 9) }
    val rated = c.answerSurvey(conv, survey.id, 4, "quick")
    assertEquals(ContentKind.CSAT_ANSWER, rated.contentKind)
    assertEquals(4, (rated.content as Content.CsatAnswer).rating)
    log.await("answers sent", 60_000, sentEvent(rated.id))

    // the shopping context
    c.setContext(conv, ShoppingContext(
        product = shoe.copy(fallbackText = null),
        cart = listOf(LineItem("sku-1", "Trail shoe", 1, Money(8999, "EUR"))),
        cartTotal = Money(8999, "EUR"),
        pages = listOf(PageVisit("https://shop.example/p/sku-1", "Trail shoe", 1_700_000_000_000)),
        attributes = linkedMapOf("tier" to "gold", "locale" to "fr-FR"),
    ))
    log.await("context confirmed", 60_000) { ev ->
        ev.filterIsInstance<SoukEvent.ContextUpdated>().firstOrNull { it.conversationId == conv }
    }
    assertFailsWith<SoukException.InvalidArgument> {
        c.setContext(conv, ShoppingContext(cartTotal = Money(1, "euro")))
    }

    // an in-app push
    val (status, body) = server.rest(
        "POST", "/v1/push", """{"user_ids":["alice"],"push":{"title":"Summer sale","body":"-30% ✓","deep_link":"shop://sale"}}""")
    assertEquals(202, status, body)
    val push = log.await("push", 60_000) { ev -> ev.filterIsInstance<SoukEvent.PushReceived>().firstOrNull() }.push
    assertEquals("Summer sale", push.title)
    assertEquals("-30% ✓", push.body)
    assertEquals("shop://sale", push.deepLink)
    assertEquals(listOf(push), c.pushes())

    c.close()
    server.stop()
}
