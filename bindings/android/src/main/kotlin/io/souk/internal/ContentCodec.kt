package io.souk.internal

import io.souk.Content
import io.souk.ContentKind
import io.souk.LineItem
import io.souk.Money
import io.souk.QuickReply

/**
 * [Content] in the positional form libsoukjni passes (souk_jni.c, "rich content, both ways"):
 * kind, fallback, strings s[], numbers n[], per-item strings and numbers. Keep in step.
 */
internal class EncodedContent(
    val kind: Int,
    val fallback: ByteArray?,
    val s: Array<ByteArray?>,
    val n: LongArray,
    val items: Array<ByteArray?>,
    val itemNums: LongArray,
)

internal object ContentCodec {
    private fun b(s: String?): ByteArray? = s?.toByteArray(Charsets.UTF_8)
    private fun str(b: ByteArray?): String? = b?.let { String(it, Charsets.UTF_8) }

    fun encode(c: Content): EncodedContent {
        val none = LongArray(0)
        val noItems = arrayOf<ByteArray?>()
        return when (c) {
            is Content.Text -> EncodedContent(c.kind.code, b(c.fallbackText), arrayOf(b(c.body)), none, noItems, none)
            is Content.Attachment -> EncodedContent(
                c.kind.code, b(c.fallbackText), arrayOf(b(c.url), b(c.mimeType), b(c.fileName)),
                longArrayOf(c.sizeBytes, c.width.toLong(), c.height.toLong()), noItems, none)
            is Content.Product -> EncodedContent(
                c.kind.code, b(c.fallbackText),
                arrayOf(b(c.productId), b(c.title), b(c.imageUrl), b(c.url), b(c.price?.currency)),
                longArrayOf(c.price?.amountMinor ?: 0), noItems, none)
            is Content.Order -> {
                val (items, nums) = lineItems(c.items)
                EncodedContent(
                    c.kind.code, b(c.fallbackText), arrayOf(b(c.orderId), b(c.status), b(c.total?.currency)),
                    longArrayOf(c.total?.amountMinor ?: 0), items, nums)
            }
            is Content.QuickReplies -> EncodedContent(
                c.kind.code, b(c.fallbackText), arrayOf(b(c.prompt)), none,
                c.replies.flatMap { listOf(b(it.id), b(it.title)) }.toTypedArray(), none)
            is Content.CsatSurvey -> EncodedContent(
                c.kind.code, b(c.fallbackText), arrayOf(b(c.surveyId), b(c.question)), longArrayOf(c.scale.toLong()),
                noItems, none)
            is Content.CsatAnswer -> EncodedContent(
                c.kind.code, b(c.fallbackText), arrayOf(b(c.surveyId), b(c.comment)), longArrayOf(c.rating.toLong()),
                noItems, none)
            is Content.Unknown -> EncodedContent(0, b(c.fallbackText), arrayOf(), none, noItems, none)
        }
    }

    /** Items as [product id, title, currency] and [quantity, price] per item. */
    fun lineItems(items: List<LineItem>): Pair<Array<ByteArray?>, LongArray> =
        items.flatMap { listOf(b(it.productId), b(it.title), b(it.price?.currency)) }.toTypedArray() to
            items.flatMap { listOf(it.quantity.toLong(), it.price?.amountMinor ?: 0) }.toLongArray()

    fun decode(kind: Int, fallback: ByteArray?, s: Array<ByteArray?>, n: LongArray, items: Array<ByteArray?>, itemNums: LongArray): Content {
        val fb = str(fallback)
        fun s(i: Int) = str(s.getOrNull(i))
        fun n(i: Int) = n.getOrElse(i) { 0L }
        fun money(amount: Long, currency: String?) = currency?.let { Money(amount, it) }
        return when (ContentKind.fromCode(kind)) {
            ContentKind.TEXT -> Content.Text(s(0) ?: "", fb)
            ContentKind.ATTACHMENT -> Content.Attachment(s(0) ?: "", s(1) ?: "", s(2), n(0), n(1).toInt(), n(2).toInt(), fb)
            ContentKind.PRODUCT -> Content.Product(s(1) ?: "", s(0), s(2), s(3), money(n(0), s(4)), fb)
            ContentKind.ORDER -> Content.Order(
                s(0) ?: "", s(1),
                (0 until items.size / 3).map { i ->
                    LineItem(str(items[i * 3]), str(items[i * 3 + 1]), itemNums.getOrElse(i * 2) { 0 }.toInt(),
                        money(itemNums.getOrElse(i * 2 + 1) { 0 }, str(items[i * 3 + 2])))
                },
                money(n(0), s(2)), fb)
            ContentKind.QUICK_REPLIES -> Content.QuickReplies(
                s(0), (0 until items.size / 2).map { i -> QuickReply(str(items[i * 2]) ?: "", str(items[i * 2 + 1]) ?: "") }, fb)
            ContentKind.CSAT_SURVEY -> Content.CsatSurvey(s(0) ?: "", s(1), n(0).toInt(), fb)
            ContentKind.CSAT_ANSWER -> Content.CsatAnswer(s(0) ?: "", n(0).toInt(), s(1), fb)
            ContentKind.UNKNOWN -> Content.Unknown(fb)
        }
    }
}
