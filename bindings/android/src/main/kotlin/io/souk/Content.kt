package io.souk

/*
 * Rich content (sdk/include/souk/content.h), shopping context (context.h) and in-app pushes
 * (push.h) as Kotlin values. Build a [Content] to send with [Souk.send]; read one from
 * [Message.content]. libsouk validates with the protocol's own rules when you send
 * (SoukException.InvalidArgument names the field, e.g. "product.title is required").
 */

/** Money: an integer amount in the currency's minor unit (cents) and an ISO 4217 code ("EUR"). */
data class Money(val amountMinor: Long, val currency: String)

/** A line of an order or a cart. */
data class LineItem(
    val productId: String? = null,
    val title: String? = null,
    val quantity: Int = 1,
    val price: Money? = null,
)

/** One button of a quick-replies message. */
data class QuickReply(val id: String, val title: String)

/**
 * A message's content, typed. Every kind may carry a [fallbackText] shown by clients that do
 * not render the kind (recommended for all but [Text]).
 */
sealed class Content {
    abstract val fallbackText: String?
    abstract val kind: ContentKind

    data class Text(val body: String, override val fallbackText: String? = null) : Content() {
        override val kind get() = ContentKind.TEXT
    }

    data class Attachment(
        val url: String,
        val mimeType: String,
        val fileName: String? = null,
        val sizeBytes: Long = 0,
        val width: Int = 0,
        val height: Int = 0,
        override val fallbackText: String? = null,
    ) : Content() {
        override val kind get() = ContentKind.ATTACHMENT
    }

    data class Product(
        val title: String,
        val productId: String? = null,
        val imageUrl: String? = null,
        val url: String? = null,
        val price: Money? = null,
        override val fallbackText: String? = null,
    ) : Content() {
        override val kind get() = ContentKind.PRODUCT
    }

    data class Order(
        val orderId: String,
        val status: String? = null,
        val items: List<LineItem> = emptyList(),
        val total: Money? = null,
        override val fallbackText: String? = null,
    ) : Content() {
        override val kind get() = ContentKind.ORDER
    }

    data class QuickReplies(
        val prompt: String?,
        val replies: List<QuickReply>,
        override val fallbackText: String? = null,
    ) : Content() {
        override val kind get() = ContentKind.QUICK_REPLIES
    }

    /** A satisfaction survey: answers are 1..[scale] ([Souk.answerSurvey]). */
    data class CsatSurvey(
        val surveyId: String,
        val question: String? = null,
        val scale: Int = 5,
        override val fallbackText: String? = null,
    ) : Content() {
        override val kind get() = ContentKind.CSAT_SURVEY
    }

    data class CsatAnswer(
        val surveyId: String,
        val rating: Int,
        val comment: String? = null,
        override val fallbackText: String? = null,
    ) : Content() {
        override val kind get() = ContentKind.CSAT_ANSWER
    }

    /** A kind added by a newer server than this SDK knows: show [Message.text]. */
    data class Unknown(override val fallbackText: String?) : Content() {
        override val kind get() = ContentKind.UNKNOWN
    }
}

/** A page the shopper visited, for [ShoppingContext.pages]. */
data class PageVisit(val url: String, val title: String? = null, val atMillis: Long = System.currentTimeMillis())

/**
 * What the shopper is looking at, attached to a conversation so the agent sees it with the
 * thread ([Souk.setContext]). Each call replaces the conversation's whole context; an empty
 * one clears it. Limits (validated by libsouk): 100 cart items, 50 pages, 50 attributes.
 */
data class ShoppingContext(
    val product: Content.Product? = null,
    val order: Content.Order? = null,
    val cart: List<LineItem> = emptyList(),
    val cartTotal: Money? = null,
    val pages: List<PageVisit> = emptyList(),
    /** Name, locale, tier…: kept in the map's iteration order. */
    val attributes: Map<String, String> = emptyMap(),
)

/** A marketer's in-app push, delivered once per store ([SoukEvent.PushReceived], [Souk.pushes]). */
data class InAppPush(
    /** The campaign's push id ("push_…"). */
    val id: String,
    val title: String?,
    val body: String?,
    val imageUrl: String?,
    val deepLink: String?,
    val product: Content.Product?,
    /** When the server stored it (ms since the epoch, server clock). */
    val serverTimeMillis: Long,
)
