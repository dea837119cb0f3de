/*
 * souk/content.h — rich message content: text, attachments, product and order cards,
 * quick replies, satisfaction (CSAT) surveys and answers.
 *
 * A souk_content is a value the app builds and reads without knowing the wire format.
 * Build one with souk_content_create(kind) and the setters of that kind, send it with
 * souk_client_send_content(), and free it (the SDK copies what it sends). Received
 * messages carry one too: souk_message_get_content() returns it borrowed from the
 * message snapshot, read it with the getters below.
 *
 * Getters return the value for the content's own kind and NULL / 0 otherwise; a string
 * getter also returns NULL for a field that is empty (absent). Returned strings are UTF-8
 * and borrowed from the content: valid until it is freed (or, for a content borrowed from
 * a message, a push or a context, until that owner is freed) or until the same field is
 * set again.
 *
 * Setters copy their strings. They fail with SOUK_EINVAL when the field does not belong
 * to the content's kind or a string is not UTF-8; everything else (required fields,
 * lengths, the 16 KiB size limit) is checked by souk_content_validate(), which
 * souk_client_send_content() calls. The rules are the protocol's (docs/protocol.md and
 * docs/rest-api.md): the same code validates on the server.
 *
 * A content is not thread-safe while it is being built; once built it may be read from
 * any thread. It is independent of any client.
 */
#ifndef SOUK_CONTENT_H
#define SOUK_CONTENT_H

#include "souk/common.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

/* The kind of content. Kinds a newer server sends and this SDK does not know read as
 * UNKNOWN; such messages still have a text (souk_message_get_text()). */
typedef enum SOUK_ENUM souk_content_kind {
	SOUK_CONTENT_UNKNOWN = 0,
	SOUK_CONTENT_TEXT = 1,
	SOUK_CONTENT_ATTACHMENT = 2,
	SOUK_CONTENT_PRODUCT = 3,
	SOUK_CONTENT_ORDER = 4,
	SOUK_CONTENT_QUICK_REPLIES = 5,
	SOUK_CONTENT_CSAT_SURVEY = 6,
	SOUK_CONTENT_CSAT_ANSWER = 7
} souk_content_kind;

typedef struct souk_content souk_content;

/* ---- lifetime -------------------------------------------------------------------------- */

/* An empty content of `kind` (not UNKNOWN). The caller owns *out: souk_content_free(). */
SOUK_API int souk_content_create(souk_content *SOUK_NULLABLE *SOUK_NONNULL out,
				 souk_content_kind kind);
/* A deep copy, owned by the caller. */
SOUK_API int souk_content_copy(souk_content *SOUK_NULLABLE *SOUK_NONNULL out,
			       const souk_content *content);
/* NULL is a no-op. Never free a content borrowed from a message, push or context. */
SOUK_API void souk_content_free(souk_content *SOUK_NULLABLE content);

SOUK_API souk_content_kind souk_content_get_kind(const souk_content *content);

/* Checks the content against the protocol's rules and its 16 KiB maximum (a server may be
 * configured lower). SOUK_OK; SOUK_EINVAL with a message naming the field (e.g.
 * "product.title is required"); SOUK_ETOOLARGE. The message: souk_client_errmsg(NULL). */
SOUK_API int souk_content_validate(const souk_content *content);

/* Plain text shown by clients that do not render the kind, and in previews (every kind
 * may have one; recommended for all but text). NULL clears it. */
SOUK_API int souk_content_set_fallback_text(souk_content *content,
					    const char *SOUK_NULLABLE fallback_text);
SOUK_API const char *SOUK_NULLABLE souk_content_get_fallback_text(const souk_content *content);

/* ---- text: body (required) ---------------------------------------------------------------- */

SOUK_API int souk_content_set_text(souk_content *content, const char *body);
SOUK_API const char *SOUK_NULLABLE souk_content_get_text(const souk_content *content);

/* ---- attachment: url and mime type (required), file name, size, image dimensions --------- */

SOUK_API int souk_content_set_attachment_url(souk_content *content, const char *url);
SOUK_API int souk_content_set_attachment_mime_type(souk_content *content, const char *mime_type);
SOUK_API int souk_content_set_attachment_file_name(souk_content *content,
						   const char *SOUK_NULLABLE file_name);
SOUK_API int souk_content_set_attachment_size(souk_content *content, uint64_t size_bytes);
SOUK_API int souk_content_set_attachment_dimensions(souk_content *content, uint32_t width,
						    uint32_t height);
SOUK_API const char *SOUK_NULLABLE souk_content_get_attachment_url(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE
souk_content_get_attachment_mime_type(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE
souk_content_get_attachment_file_name(const souk_content *content);
SOUK_API uint64_t souk_content_get_attachment_size(const souk_content *content);
SOUK_API uint32_t souk_content_get_attachment_width(const souk_content *content);
SOUK_API uint32_t souk_content_get_attachment_height(const souk_content *content);

/* ---- product card: title (required), product id, image URL, price, URL ------------------ */

/* Prices are an integer amount in the currency's minor unit (cents) and an ISO 4217 code
 * of 3 capital letters ("EUR"). A NULL currency removes the price. */
SOUK_API int souk_content_set_product_id(souk_content *content,
					 const char *SOUK_NULLABLE product_id);
SOUK_API int souk_content_set_product_title(souk_content *content, const char *title);
SOUK_API int souk_content_set_product_image_url(souk_content *content,
						const char *SOUK_NULLABLE image_url);
SOUK_API int souk_content_set_product_url(souk_content *content, const char *SOUK_NULLABLE url);
SOUK_API int souk_content_set_product_price(souk_content *content, int64_t amount_minor,
					    const char *SOUK_NULLABLE currency);
SOUK_API const char *SOUK_NULLABLE souk_content_get_product_id(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE souk_content_get_product_title(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE souk_content_get_product_image_url(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE souk_content_get_product_url(const souk_content *content);
/* The price; the currency is NULL (and the amount 0) when there is none. */
SOUK_API int64_t souk_content_get_product_price_minor(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE
souk_content_get_product_price_currency(const souk_content *content);

/* ---- order card: order id (required), status, items (at most 100), total ---------------- */

SOUK_API int souk_content_set_order_id(souk_content *content, const char *order_id);
SOUK_API int souk_content_set_order_status(souk_content *content, const char *SOUK_NULLABLE status);
/* Appends an item. A NULL currency: no price. */
SOUK_API int souk_content_add_order_item(souk_content *content,
					 const char *SOUK_NULLABLE product_id,
					 const char *SOUK_NULLABLE title, uint32_t quantity,
					 int64_t price_minor, const char *SOUK_NULLABLE currency);
/* A NULL currency removes the total. */
SOUK_API int souk_content_set_order_total(souk_content *content, int64_t amount_minor,
					  const char *SOUK_NULLABLE currency);
SOUK_API const char *SOUK_NULLABLE souk_content_get_order_id(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE souk_content_get_order_status(const souk_content *content);
SOUK_API size_t souk_content_get_order_item_count(const souk_content *content);
/* Item `index` (< count); NULL / 0 when out of range. */
SOUK_API const char *SOUK_NULLABLE
souk_content_get_order_item_product_id(const souk_content *content, size_t index);
SOUK_API const char *SOUK_NULLABLE souk_content_get_order_item_title(const souk_content *content,
								     size_t index);
SOUK_API uint32_t souk_content_get_order_item_quantity(const souk_content *content, size_t index);
SOUK_API int64_t souk_content_get_order_item_price_minor(const souk_content *content, size_t index);
SOUK_API const char *SOUK_NULLABLE
souk_content_get_order_item_price_currency(const souk_content *content, size_t index);
SOUK_API int64_t souk_content_get_order_total_minor(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE
souk_content_get_order_total_currency(const souk_content *content);

/* ---- quick replies: prompt, replies (1..100, each an id and a title) -------------------- */

SOUK_API int souk_content_set_quick_replies_prompt(souk_content *content,
						   const char *SOUK_NULLABLE prompt);
SOUK_API int souk_content_add_quick_reply(souk_content *content, const char *id, const char *title);
SOUK_API const char *SOUK_NULLABLE
souk_content_get_quick_replies_prompt(const souk_content *content);
SOUK_API size_t souk_content_get_quick_reply_count(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE souk_content_get_quick_reply_id(const souk_content *content,
								   size_t index);
SOUK_API const char *SOUK_NULLABLE souk_content_get_quick_reply_title(const souk_content *content,
								      size_t index);

/* ---- CSAT survey: survey id (required), question, scale (2..10: answers 1..scale) -------
 * ---- CSAT answer: survey id (required), rating (1..10), comment -------------------------- */

/* Both kinds. */
SOUK_API int souk_content_set_csat_survey_id(souk_content *content, const char *survey_id);
SOUK_API const char *SOUK_NULLABLE souk_content_get_csat_survey_id(const souk_content *content);
/* Survey. */
SOUK_API int souk_content_set_csat_question(souk_content *content,
					    const char *SOUK_NULLABLE question);
SOUK_API int souk_content_set_csat_scale(souk_content *content, uint32_t scale);
SOUK_API const char *SOUK_NULLABLE souk_content_get_csat_question(const souk_content *content);
SOUK_API uint32_t souk_content_get_csat_scale(const souk_content *content);
/* Answer. */
SOUK_API int souk_content_set_csat_rating(souk_content *content, uint32_t rating);
SOUK_API int souk_content_set_csat_comment(souk_content *content,
					   const char *SOUK_NULLABLE comment);
SOUK_API uint32_t souk_content_get_csat_rating(const souk_content *content);
SOUK_API const char *SOUK_NULLABLE souk_content_get_csat_comment(const souk_content *content);

/* ---- operations on a client (thread-safe; see docs/threading.md) ---------------------- */

/* Sends a message with rich content, with the guarantees of souk_client_send_text(): the
 * message and its outbox entry are committed (encrypted) before this returns, and it
 * reaches the server exactly once. The content is copied; the caller keeps ownership.
 * *out_message_id (optional) receives the local id; a SOUK_EVENT_MESSAGE_ADDED follows.
 * SOUK_EINVAL: the content breaks a protocol rule (the message names the field).
 * SOUK_ETOOLARGE: over 16 KiB encoded. SOUK_ENOTFOUND: no such conversation. */
SOUK_API int souk_client_send_content(int64_t *SOUK_NULLABLE out_message_id, souk_client *client,
				      int64_t conversation_id, const souk_content *content);

/* The shopper tapped reply `reply_id` of the quick-replies message `message_id` (a local
 * message id of `conversation_id`). Sends a text message whose body is that reply's
 * title, exactly as souk_client_send_text() would (protocol v1 has no field that refers
 * to the quick replies; the agent sees the title as the shopper's answer).
 * SOUK_ENOTFOUND: no such message in the conversation. SOUK_EINVAL: it is not a quick
 * replies message, or it has no reply with that id. */
SOUK_API int souk_client_send_quick_reply(int64_t *SOUK_NULLABLE out_message_id,
					  souk_client *client, int64_t conversation_id,
					  int64_t message_id, const char *reply_id);

/* Answers the CSAT survey message `survey_message_id` (a local message id of
 * `conversation_id`) with `rating` (1..the survey's scale) and an optional comment: sends
 * a csat_answer content with the survey's id and the fallback text "Rated R/SCALE" (plus
 * ": comment"). SOUK_ENOTFOUND: no such message in the conversation. SOUK_EINVAL: not a
 * survey, rating out of range, comment not UTF-8. */
SOUK_API int souk_client_answer_csat(int64_t *SOUK_NULLABLE out_message_id, souk_client *client,
				     int64_t conversation_id, int64_t survey_message_id,
				     uint32_t rating, const char *SOUK_NULLABLE comment);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
