/*
 * souk/push.h — in-app pushes: a marketer's message (title, body, image, deep link, a
 * product) delivered in the user's event stream (POST /v1/push on the server).
 *
 * A push arrives as SOUK_EVENT_PUSH_RECEIVED (souk_event_get_push()) exactly once per
 * store: pushes are applied with the rest of the stream, stored (encrypted) and never
 * reported twice, also across restarts and offline periods. souk_client_list_pushes()
 * reads the stored ones back (for an inbox, or after SOUK_EVENT_EVENTS_DROPPED).
 *
 * A souk_push is an immutable snapshot, independent of the client; its strings are
 * borrowed from it. Ownership follows souk/message.h: borrowed from an event or a list,
 * owned (souk_push_free()) when copied.
 */
#ifndef SOUK_PUSH_H
#define SOUK_PUSH_H

#include "souk/common.h"
#include "souk/content.h"

SOUK_ASSUME_NONNULL_BEGIN
#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_push souk_push;
typedef struct souk_push_list souk_push_list;

/* The push id given by the server ("push_..."): the same for every user of a campaign,
 * unique within the user's pushes. */
SOUK_API const char *souk_push_get_id(const souk_push *push);
SOUK_API const char *SOUK_NULLABLE souk_push_get_title(const souk_push *push);
SOUK_API const char *SOUK_NULLABLE souk_push_get_body(const souk_push *push);
SOUK_API const char *SOUK_NULLABLE souk_push_get_image_url(const souk_push *push);
SOUK_API const char *SOUK_NULLABLE souk_push_get_deep_link(const souk_push *push);
/* The product it advertises: a content of kind SOUK_CONTENT_PRODUCT borrowed from the
 * push, or NULL. */
SOUK_API const souk_content *SOUK_NULLABLE souk_push_get_product(const souk_push *push);
/* When the server stored it (ms since the epoch, server clock). */
SOUK_API int64_t souk_push_get_server_time_ms(const souk_push *push);

SOUK_API int souk_push_copy(souk_push *SOUK_NULLABLE *SOUK_NONNULL out, const souk_push *push);
SOUK_API void souk_push_free(souk_push *SOUK_NULLABLE push);

/* Newest first. */
SOUK_API size_t souk_push_list_count(const souk_push_list *list);
/* Borrowed from the list; NULL when index >= count. */
SOUK_API const souk_push *SOUK_NULLABLE souk_push_list_get(const souk_push_list *list,
							   size_t index);
SOUK_API void souk_push_list_free(souk_push_list *SOUK_NULLABLE list);

/* The `limit` most recent stored pushes (0 means 50; at most 500), newest first. */
SOUK_API int souk_client_list_pushes(souk_push_list *SOUK_NULLABLE *SOUK_NONNULL out,
				     souk_client *client, unsigned limit);

#ifdef __cplusplus
}
#endif
SOUK_ASSUME_NONNULL_END

#endif
