/*
 * context_queue.c — the shopping context waiting for the server: the latest one per
 * conversation, kept durably until the server confirms it (ContextUpdated).
 *
 * Owns: the contexts table. Never: keeps more than one context per conversation, or
 * confirms a context that was replaced meanwhile.
 *
 * Design note. Unlike messages, contexts need no exactly-once history: each UpdateContext
 * replaces the whole context on the server, so only the latest matters and an older one
 * never needs to reach it. Each set gets a new revision (a counter in the state table
 * that never goes back); the session sends one revision at a time per conversation and
 * the answer confirms that revision only — if the app set another one meanwhile, that
 * one is still unconfirmed and goes next. Sending the same revision twice (after a
 * reconnect) is harmless: the server simply stores the same context again.
 */
#define SQLITE_HAS_CODEC 1
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

int souk__context_put(souk__store *st, int64_t conv_id, const uint8_t *blob, size_t len,
		      int64_t now_ms)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	if (!souk__conv_exists(st, conv_id)) {
		souk__store_rollback(st, NULL);
		return SOUK_ENOTFOUND;
	}
	uint64_t rev = 0;
	r = souk__state_get_u64(st, "context_revision", &rev);
	if (r == SOUK_OK)
		r = souk__state_set_u64(st, "context_revision", ++rev);
	sqlite3_stmt *s = NULL;
	if (r == SOUK_OK) {
		s = souk__stmt(st, "INSERT OR REPLACE INTO contexts (conv_id, context, revision, "
				   "confirmed, attempts, next_attempt_ms, updated_ms) "
				   "VALUES (?1, ?2, ?3, 0, 0, 0, ?4)");
		if (!s)
			r = SOUK_ESTORE;
	}
	if (r == SOUK_OK) {
		sqlite3_bind_int64(s, 1, conv_id);
		sqlite3_bind_blob(s, 2, blob, (int)len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)rev);
		sqlite3_bind_int64(s, 4, now_ms);
		r = souk__exec_stmt(st, s);
	}
	if (r == SOUK_OK)
		return souk__store_commit(st, NULL);
	souk__store_rollback(st, NULL);
	return r;
}

void souk__context_pending_free(souk__context_pending *p, size_t n)
{
	if (!p)
		return;
	for (size_t i = 0; i < n; i++) {
		free(p[i].conv_server_id);
		free(p[i].blob);
	}
	free(p);
}

int souk__context_pending_list(souk__store *st, souk__context_pending **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = souk__stmt(st, "SELECT x.conv_id, c.server_id, x.revision, x.context, "
					 "x.attempts, x.next_attempt_ms FROM contexts x "
					 "JOIN conversations c ON c.id = x.conv_id "
					 "WHERE x.confirmed = 0 ORDER BY x.revision");
	if (!s)
		return SOUK_ESTORE;
	souk__context_pending *p = NULL;
	size_t cnt = 0, cap = 0;
	int rc = SQLITE_DONE, r = SOUK_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 4;
			souk__context_pending *q = realloc(p, cap * sizeof(*q));
			if (!q) {
				r = SOUK_ENOMEM;
				break;
			}
			p = q;
		}
		souk__context_pending *e = &p[cnt++];
		memset(e, 0, sizeof(*e));
		e->conv_id = sqlite3_column_int64(s, 0);
		const unsigned char *sid = sqlite3_column_text(s, 1);
		e->revision = sqlite3_column_int64(s, 2);
		int len = sqlite3_column_bytes(s, 3);
		const void *blob = sqlite3_column_blob(s, 3);
		e->attempts = (unsigned)sqlite3_column_int(s, 4);
		e->next_attempt_ms = sqlite3_column_int64(s, 5);
		e->blob = malloc(len > 0 ? (size_t)len : 1);
		if (!e->blob || (sid && !(e->conv_server_id = souk__strdup((const char *)sid)))) {
			r = SOUK_ENOMEM;
			break;
		}
		if (len > 0)
			memcpy(e->blob, blob, (size_t)len);
		e->len = (size_t)len;
	}
	if (r == SOUK_OK && rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	if (r != SOUK_OK) {
		souk__context_pending_free(p, cnt);
		return r;
	}
	*out = p;
	*n = cnt;
	return SOUK_OK;
}

static int context_event(souk__evlist *ev, int type, int64_t conv_id, int wire, const char *reason)
{
	souk_event *e = souk__event_new(type);
	if (e) {
		e->conv_id = conv_id;
		e->wire_code = wire;
		if (type == SOUK_EVENT_CONTEXT_FAILED) {
			e->error = wire == SOUK__V1__ERROR_CODE__CONVERSATION_NOT_FOUND ||
						   wire == SOUK__V1__ERROR_CODE__NOT_A_PARTICIPANT
					   ? SOUK_ENOTFOUND
					   : SOUK_EINVAL;
			if (reason && reason[0] && !(e->error_message = souk__strdup(reason))) {
				souk_event_free(e);
				e = NULL;
			}
		}
	}
	souk__evlist_push(ev, e);
	return ev->oom ? SOUK_ENOMEM : SOUK_OK;
}

int souk__context_confirm(souk__store *st, int64_t conv_id, int64_t revision, souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	r = souk__exec_ids(st,
			   "UPDATE contexts SET confirmed = 1 WHERE conv_id = ?1 AND revision = ?2 "
			   "AND confirmed = 0",
			   conv_id, revision);
	if (r == SOUK_OK && souk__store_changes(st) > 0)
		r = context_event(ev, SOUK_EVENT_CONTEXT_UPDATED, conv_id, 0, NULL);
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

int souk__context_fail(souk__store *st, int64_t conv_id, int64_t revision, int wire_code,
		       const char *reason, souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	r = souk__exec_ids(
		st, "DELETE FROM contexts WHERE conv_id = ?1 AND revision = ?2 AND confirmed = 0",
		conv_id, revision);
	if (r == SOUK_OK && souk__store_changes(st) > 0)
		r = context_event(ev, SOUK_EVENT_CONTEXT_FAILED, conv_id, wire_code, reason);
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

int souk__context_defer(souk__store *st, int64_t conv_id, int64_t revision, int64_t next_ms)
{
	sqlite3_stmt *s =
		souk__stmt(st, "UPDATE contexts SET attempts = attempts + 1, "
			       "next_attempt_ms = ?3 WHERE conv_id = ?1 AND revision = ?2");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, conv_id);
	sqlite3_bind_int64(s, 2, revision);
	sqlite3_bind_int64(s, 3, next_ms);
	return souk__exec_stmt(st, s);
}
