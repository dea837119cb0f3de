/*
 * rest.h — the agent REST API (docs/rest-api.md) and the webhook outbox, as data.
 *
 * A REST request is parsed and validated on the loop thread (rest.c) into a rest_call;
 * the storage thread executes it inside the group commit (store_sqlite_agent.c) and fills
 * in the HTTP status and JSON body; the loop thread writes the response and delivers the
 * events the call appended. Webhook deliveries (webhooks.c) are read from and reported to
 * the store the same way.
 */
#ifndef SOUK_SERVER_REST_H
#define SOUK_SERVER_REST_H

#include <jansson.h>
#include <stdint.h>

#include "store.h"

typedef enum rest_kind {
	/* writes (inside the group transaction) */
	REST_POST_MESSAGE,
	REST_MARK_READ,
	REST_UPDATE_CONVERSATION,
	REST_HANDOFF,
	REST_CREATE_WEBHOOK,
	REST_DELETE_WEBHOOK,
	REST_ROTATE_WEBHOOK_SECRET,
	REST_UPDATE_APP,
	REST_PUSH,
	/* reads */
	REST_AUTH,
	REST_TYPING,
	REST_GET_CONVERSATION,
	REST_LIST_CONVERSATIONS,
	REST_LIST_MESSAGES,
	REST_GET_USER_CONTEXT,
	REST_LIST_WEBHOOKS,
	REST_LIST_DELIVERIES,
	REST_GET_APP,
} rest_kind;

#define REST_IS_WRITE(k) ((k) < REST_AUTH)

typedef struct rest_call {
	rest_kind kind;
	char app_id[STORE_ID_MAX];
	char conversation_id[STORE_ID_MAX];
	char user_id[STORE_ID_MAX];
	char target_id[STORE_ID_MAX];
	char idempotency_key[256];
	char key_hash[65]; /* REST_AUTH: SHA-256 of the presented API key */

	/* sender of a message, typing or read (agent or bot) */
	char sender_id[STORE_ID_MAX];
	int sender_kind;
	char sender_name[257];
	char sender_avatar_url[SOUK_WIRE_MAX_URL + 1];

	Souk__V1__Content *content; /* owned (free_unpacked with NULL allocator) */
	int status;		    /* REST_UPDATE_CONVERSATION: -1 = unchanged */
	int has_assignee;
	char assignee[STORE_ID_MAX];
	char to_integration[STORE_ID_MAX];
	char reason[513];
	uint64_t up_to;
	uint64_t after;
	uint32_t limit;
	int on;
	char filter[32]; /* status filter / delivery state filter */
	char url[SOUK_WIRE_MAX_URL + 1];
	char integration[STORE_ID_MAX];
	char events[512]; /* comma-separated event types, "*" = all */
	int64_t now_ms;
	/* REST_PUSH */
	char **user_ids; /* owned */
	size_t n_user_ids;
	Souk__V1__InAppPush *push; /* owned (free_unpacked with NULL allocator) */

	/* results */
	int http_status;
	json_t *body;	       /* response JSON (new reference) or NULL for 204 */
	int webhooks_enqueued; /* wake the webhook scheduler */
	store_conv conv;       /* REST_TYPING: the participants to relay to */
} rest_call;

void rest_call_free(rest_call *c);

enum { REST_MAX_PUSH_USERS = 100000 };

/* Sets http_status and a JSON error body {"error": {"code", "message"}}. */
void rest_error(rest_call *c, int http_status, const char *code, const char *message);

/* ---- webhook outbox ---------------------------------------------------------------- */

typedef struct store_delivery {
	int64_t delivery_id;
	char event_id[64];
	char target_id[STORE_ID_MAX];
	char conversation_id[STORE_ID_MAX];
	char url[SOUK_WIRE_MAX_URL + 1];
	char secrets[512]; /* space-separated whsec_ secrets; all sign */
	char type[64];
	char *body; /* malloc'ed JSON */
	int attempts;
	int64_t first_attempt_ms;
} store_delivery;

typedef struct store_deliveries {
	store_delivery *v;
	size_t n;
	int64_t next_due_ms; /* earliest pending attempt not returned (0: none) */
} store_deliveries;

void store_deliveries_free(store_deliveries *d);

/* Backoff schedule for webhook retries: give up after this long since the first attempt. */
enum { WEBHOOK_GIVE_UP_MS = 26 * 3600 * 1000, WEBHOOK_MAX_DELAY_MS = 3600 * 1000 };

#endif
