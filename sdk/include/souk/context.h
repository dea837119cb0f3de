/*
 * souk/context.h — the shopping context: what the shopper is looking at, attached to a
 * conversation so that the agent sees it with the thread.
 *
 * Build a souk_context (the product being viewed, an order, the cart, the recent page
 * trail, user attributes such as name, locale, tier) and hand it to
 * souk_client_set_context(). Each call replaces the conversation's whole context. The SDK
 * keeps the latest one durably (encrypted, like messages) until the server has confirmed
 * it, also across restarts and offline periods; a context replaced before it was sent is
 * never sent. SOUK_EVENT_CONTEXT_UPDATED tells when the server has the latest one.
 *
 * Getters return NULL / 0 for what is not set; strings are borrowed from the context and
 * valid until it is freed or the same field is changed. A context is not thread-safe
 * while it is being built; it is independent of any client.
 */
#ifndef SOUK_CONTEXT_H
#define SOUK_CONTEXT_H

#include "souk/common.h"
#include "souk/content.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_context souk_context;

/* An empty context (setting an empty context clears what the agent sees). The caller owns
 * *out: souk_context_free(). */
SOUK_API int souk_context_create(souk_context *SOUK_NULLABLE *SOUK_NONNULL out);
SOUK_API int souk_context_copy(souk_context *SOUK_NULLABLE *SOUK_NONNULL out,
			       const souk_context *context);
SOUK_API void souk_context_free(souk_context *SOUK_NULLABLE context);

/* Checks the protocol's rules (docs/protocol.md, UpdateContext): at most 100 cart items,
 * 50 page visits and 50 attributes (keys 1..64 bytes, values up to 1,024), the product's
 * and order's own rules, prices with a 3-letter currency, and a total encoded size that
 * fits one frame. SOUK_OK, SOUK_EINVAL (the message names the field) or SOUK_ETOOLARGE;
 * the message: souk_client_errmsg(NULL). */
SOUK_API int souk_context_validate(const souk_context *context);

/* The product being viewed: a content of kind SOUK_CONTENT_PRODUCT (copied; its fallback
 * text is not part of the context). NULL removes it. SOUK_EINVAL for another kind. */
SOUK_API int souk_context_set_product(souk_context *context,
				      const souk_content *SOUK_NULLABLE product);
/* Borrowed from the context; NULL when none. */
SOUK_API const souk_content *SOUK_NULLABLE souk_context_get_product(const souk_context *context);

/* The order the question is about: a content of kind SOUK_CONTENT_ORDER (copied). */
SOUK_API int souk_context_set_order(souk_context *context, const souk_content *SOUK_NULLABLE order);
SOUK_API const souk_content *SOUK_NULLABLE souk_context_get_order(const souk_context *context);

/* The cart: items in order (a NULL currency: no price) and a total. */
SOUK_API int souk_context_add_cart_item(souk_context *context, const char *SOUK_NULLABLE product_id,
					const char *SOUK_NULLABLE title, uint32_t quantity,
					int64_t price_minor, const char *SOUK_NULLABLE currency);
/* A NULL currency removes the total. */
SOUK_API int souk_context_set_cart_total(souk_context *context, int64_t amount_minor,
					 const char *SOUK_NULLABLE currency);
SOUK_API size_t souk_context_get_cart_item_count(const souk_context *context);
SOUK_API const char *SOUK_NULLABLE
souk_context_get_cart_item_product_id(const souk_context *context, size_t index);
SOUK_API const char *SOUK_NULLABLE souk_context_get_cart_item_title(const souk_context *context,
								    size_t index);
SOUK_API uint32_t souk_context_get_cart_item_quantity(const souk_context *context, size_t index);
SOUK_API int64_t souk_context_get_cart_item_price_minor(const souk_context *context, size_t index);
SOUK_API const char *SOUK_NULLABLE
souk_context_get_cart_item_price_currency(const souk_context *context, size_t index);
SOUK_API int64_t souk_context_get_cart_total_minor(const souk_context *context);
SOUK_API const char *SOUK_NULLABLE
souk_context_get_cart_total_currency(const souk_context *context);

/* The recent page trail, oldest first (append as the shopper navigates; at most 50 are
 * sent, so drop old ones yourself). `at_ms`: when the page was visited, ms since the
 * epoch. */
SOUK_API int souk_context_add_page_visit(souk_context *context, const char *url,
					 const char *SOUK_NULLABLE title, int64_t at_ms);
SOUK_API size_t souk_context_get_page_visit_count(const souk_context *context);
SOUK_API const char *SOUK_NULLABLE souk_context_get_page_visit_url(const souk_context *context,
								   size_t index);
SOUK_API const char *SOUK_NULLABLE souk_context_get_page_visit_title(const souk_context *context,
								     size_t index);
SOUK_API int64_t souk_context_get_page_visit_at_ms(const souk_context *context, size_t index);

/* User attributes (name, locale, tier, ...): setting a key again replaces its value; a
 * NULL value removes the key. Kept in the order first set. */
SOUK_API int souk_context_set_attribute(souk_context *context, const char *key,
					const char *SOUK_NULLABLE value);
SOUK_API size_t souk_context_get_attribute_count(const souk_context *context);
SOUK_API const char *SOUK_NULLABLE souk_context_get_attribute_key(const souk_context *context,
								  size_t index);
SOUK_API const char *SOUK_NULLABLE souk_context_get_attribute_value(const souk_context *context,
								    size_t index);
/* The value of `key`; NULL when it is not set. */
SOUK_API const char *SOUK_NULLABLE souk_context_get_attribute(const souk_context *context,
							      const char *key);

/* ---- operations on a client (thread-safe; see docs/threading.md) ---------------------- */

/* Attaches `context` to a conversation, replacing the previous one (UpdateContext). The
 * context is validated and copied, then committed durably (encrypted) before this
 * returns, replacing one not yet sent; the SDK thread sends it once connected (after the
 * conversation is known to the server) and retries until the server answers.
 * SOUK_EVENT_CONTEXT_UPDATED follows when the server confirmed the latest context of
 * that conversation; SOUK_EVENT_CONTEXT_FAILED when it refused it for good.
 * SOUK_EINVAL / SOUK_ETOOLARGE: see souk_context_validate(). SOUK_ENOTFOUND: no such
 * conversation. */
SOUK_API int souk_client_set_context(souk_client *client, int64_t conversation_id,
				     const souk_context *context);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
