/*
 * payload.h — the JSON shapes of the REST API and the webhooks (docs/rest-api.md,
 * docs/webhooks.md), converted to and from the souk.v1 protobuf types with jansson.
 *
 * Parsing is strict: an unknown field of a known object, or a field of the wrong type, is
 * refused with a message naming the field ("content.product.price.amount_minor must be an
 * integer"), so an agent backend learns at once what it sent wrong.
 */
#ifndef SOUK_SERVER_PAYLOAD_H
#define SOUK_SERVER_PAYLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "souk_wire/wire.h"

/* JSON -> Content. Returns a Content allocated with protobuf-c's default allocator (free
 * with souk__v1__content__free_unpacked(c, NULL)), or NULL with a reason in err. The
 * content is also validated with souk_wire_validate_content(max_bytes). */
Souk__V1__Content *payload_content_from_json(const json_t *j, size_t max_bytes, char *err,
					     size_t errlen);

/* JSON -> ProductCard (same ownership rules; `path` names the field in messages). */
Souk__V1__ProductCard *payload_product_from_json(const json_t *j, const char *path, char *err,
						 size_t errlen);

/* JSON -> ShoppingContext (same ownership rules). */
Souk__V1__ShoppingContext *payload_context_from_json(const json_t *j, char *err, size_t errlen);

/* protobuf -> JSON (new references). */
json_t *payload_content_to_json(const Souk__V1__Content *c);
json_t *payload_context_to_json(const Souk__V1__ShoppingContext *x);
json_t *payload_message_to_json(const Souk__V1__Message *m);

/* Decodes an encoded Content/ShoppingContext blob and converts it; NULL blob -> json null. */
json_t *payload_content_blob_to_json(const void *data, size_t len);
json_t *payload_context_blob_to_json(const void *data, size_t len);

const char *payload_sender_kind_name(int kind);
int payload_sender_kind_parse(const char *s); /* -1 if unknown */
const char *payload_status_name(int status);
int payload_status_parse(const char *s); /* -1 if unknown */

#endif
