/*
 * outbox.c — the durable outbox: what the user sent and the server has not acked yet.
 *
 * Owns: the outbox table and the PENDING/FAILED transitions of outgoing messages.
 * Never: removes an entry on a transient refusal, or generates a new client message id
 * for a retry — the id is what lets the server answer a retry with the original ack, so
 * a message is stored once however often it is sent.
 *
 * Order: entries are sent in `ord` order per conversation, one at a time (the session
 * keeps at most one send in flight per conversation). Pipelining would be faster, but a
 * transient refusal of message k (RATE_LIMITED) while k+1 is already accepted would store
 * them out of order; chat volumes do not need the speed.
 */
#define SQLITE_HAS_CODEC 1
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

int souk__outbox_add(souk__store *st, int64_t conv_id, const uint8_t *content, size_t len,
		     int64_t now_ms, int64_t *out_id, souk__evlist *ev)
{
	uint8_t cmid[16];
	if (souk__random(cmid, sizeof(cmid)) != 0)
		return SOUK_EINTERNAL;
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	if (!souk__conv_exists(st, conv_id)) {
		souk__store_rollback(st, ev);
		return SOUK_ENOTFOUND;
	}
	char *me = NULL;
	r = souk__state_get_text(st, "user_id", &me);
	sqlite3_stmt *s = r == SOUK_OK
				  ? souk__stmt(st, "INSERT INTO messages (conv_id, client_msg_id, "
						   "sender_id, sender_kind, outgoing, content, "
						   "status, created_ms) "
						   "VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?7)")
				  : NULL;
	if (s) {
		sqlite3_bind_int64(s, 1, conv_id);
		sqlite3_bind_blob(s, 2, cmid, sizeof(cmid), SQLITE_STATIC);
		sqlite3_bind_text(s, 3, me, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 4, SOUK_SENDER_SHOPPER);
		sqlite3_bind_blob(s, 5, content, (int)len, SQLITE_STATIC);
		sqlite3_bind_int(s, 6, SOUK__ST_PENDING);
		sqlite3_bind_int64(s, 7, now_ms);
		r = souk__exec_stmt(st, s);
	} else if (r == SOUK_OK) {
		r = SOUK_ESTORE;
	}
	free(me);
	int64_t id = r == SOUK_OK ? souk__store_last_rowid(st) : 0;
	if (r == SOUK_OK)
		r = souk__exec_ids(st, "INSERT INTO outbox (msg_id) VALUES (?1)", id, 0);
	if (r == SOUK_OK)
		r = souk__emit_message(st, ev, SOUK_EVENT_MESSAGE_ADDED, id);
	if (r == SOUK_OK)
		r = souk__store_commit(st, ev);
	else
		souk__store_rollback(st, ev);
	if (r == SOUK_OK && out_id)
		*out_id = id;
	return r;
}

void souk__outbox_heads_free(souk__outbox_head *h, size_t n)
{
	if (!h)
		return;
	for (size_t i = 0; i < n; i++) {
		free(h[i].conv_server_id);
		free(h[i].content);
	}
	free(h);
}

int souk__outbox_heads(souk__store *st, souk__outbox_head **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = souk__stmt(
		st, "SELECT o.msg_id, m.conv_id, c.server_id, m.client_msg_id, m.content, "
		    "o.next_attempt_ms, o.attempts "
		    "FROM outbox o JOIN messages m ON m.id = o.msg_id "
		    "JOIN conversations c ON c.id = m.conv_id "
		    "WHERE o.ord IN (SELECT MIN(o2.ord) FROM outbox o2 "
		    "  JOIN messages m2 ON m2.id = o2.msg_id GROUP BY m2.conv_id) "
		    "ORDER BY o.ord");
	if (!s)
		return SOUK_ESTORE;
	souk__outbox_head *h = NULL;
	size_t cnt = 0, cap = 0;
	int rc = SQLITE_DONE, r = SOUK_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 4;
			souk__outbox_head *p = realloc(h, cap * sizeof(*p));
			if (!p) {
				r = SOUK_ENOMEM;
				break;
			}
			h = p;
		}
		souk__outbox_head *e = &h[cnt];
		memset(e, 0, sizeof(*e));
		cnt++;
		e->msg_id = sqlite3_column_int64(s, 0);
		e->conv_id = sqlite3_column_int64(s, 1);
		const unsigned char *sid = sqlite3_column_text(s, 2);
		if (sid && !(e->conv_server_id = souk__strdup((const char *)sid))) {
			r = SOUK_ENOMEM;
			break;
		}
		if (sqlite3_column_bytes(s, 3) == 16)
			memcpy(e->cmid, sqlite3_column_blob(s, 3), 16);
		int len = sqlite3_column_bytes(s, 4);
		const void *blob = sqlite3_column_blob(s, 4);
		e->content = malloc(len > 0 ? (size_t)len : 1);
		if (!e->content) {
			r = SOUK_ENOMEM;
			break;
		}
		if (len > 0)
			memcpy(e->content, blob, (size_t)len);
		e->content_len = (size_t)len;
		e->next_attempt_ms = sqlite3_column_int64(s, 5);
		e->attempts = (unsigned)sqlite3_column_int(s, 6);
	}
	if (r == SOUK_OK && rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	if (r != SOUK_OK) {
		souk__outbox_heads_free(h, cnt);
		return r;
	}
	*out = h;
	*n = cnt;
	return SOUK_OK;
}

int souk__outbox_defer(souk__store *st, int64_t msg_id, int64_t next_ms)
{
	sqlite3_stmt *s = souk__stmt(st, "UPDATE outbox SET attempts = attempts + 1, "
					 "next_attempt_ms = ?2 WHERE msg_id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, msg_id);
	sqlite3_bind_int64(s, 2, next_ms);
	return souk__exec_stmt(st, s);
}

int souk__outbox_fail(souk__store *st, int64_t msg_id, int code, const char *reason,
		      souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	/* only a message still waiting for its ack can fail: an ack that raced the refusal
	 * (impossible by the protocol, cheap to guard) wins */
	sqlite3_stmt *s = souk__stmt(st, "UPDATE messages SET status = ?2, error_code = ?3, "
					 "error_reason = ?4 WHERE id = ?1 AND status = ?5 "
					 "AND message_id IS NULL");
	if (!s) {
		souk__store_rollback(st, ev);
		return SOUK_ESTORE;
	}
	sqlite3_bind_int64(s, 1, msg_id);
	sqlite3_bind_int(s, 2, SOUK__ST_FAILED);
	sqlite3_bind_int(s, 3, code);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, SOUK__ST_PENDING);
	r = souk__exec_stmt(st, s);
	int changed = r == SOUK_OK && souk__store_changes(st) > 0;
	if (r == SOUK_OK)
		r = souk__exec_ids(st, "DELETE FROM outbox WHERE msg_id = ?1", msg_id, 0);
	if (r == SOUK_OK && changed)
		r = souk__emit_message(st, ev, SOUK_EVENT_MESSAGE_UPDATED, msg_id);
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

static int message_status(souk__store *st, int64_t msg_id, int *status)
{
	sqlite3_stmt *s = souk__stmt(st, "SELECT status FROM messages WHERE id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, msg_id);
	int rc = sqlite3_step(s);
	int r = SOUK_OK;
	if (rc == SQLITE_ROW)
		*status = sqlite3_column_int(s, 0);
	else
		r = rc == SQLITE_DONE ? SOUK_ENOTFOUND : souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}

int souk__outbox_resend(souk__store *st, int64_t msg_id, souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	int status = 0;
	r = message_status(st, msg_id, &status);
	if (r == SOUK_OK && status != SOUK__ST_FAILED)
		r = SOUK_ESTATE;
	if (r == SOUK_OK)
		r = souk__exec_ids(st,
				   "UPDATE messages SET status = ?2, error_code = 0, error_reason "
				   "= NULL WHERE id = ?1",
				   msg_id, SOUK__ST_PENDING);
	if (r == SOUK_OK)
		r = souk__exec_ids(st, "INSERT INTO outbox (msg_id) VALUES (?1)", msg_id, 0);
	if (r == SOUK_OK)
		r = souk__emit_message(st, ev, SOUK_EVENT_MESSAGE_UPDATED, msg_id);
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

int souk__outbox_delete_failed(souk__store *st, int64_t msg_id, souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	int status = 0;
	r = message_status(st, msg_id, &status);
	if (r == SOUK_OK && status != SOUK__ST_FAILED)
		r = SOUK_ESTATE;
	/* the snapshot is taken before the row goes: it is what the app last saw */
	if (r == SOUK_OK)
		r = souk__emit_message(st, ev, SOUK_EVENT_MESSAGE_DELETED, msg_id);
	if (r == SOUK_OK)
		r = souk__exec_ids(st, "DELETE FROM messages WHERE id = ?1", msg_id, 0);
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

int souk__outbox_count(souk__store *st, size_t *out)
{
	*out = 0;
	sqlite3_stmt *s = souk__stmt(st, "SELECT COUNT(*) FROM outbox");
	if (!s)
		return SOUK_ESTORE;
	int rc = sqlite3_step(s);
	int r = SOUK_OK;
	if (rc == SQLITE_ROW)
		*out = (size_t)sqlite3_column_int64(s, 0);
	else
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}
