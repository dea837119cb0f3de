/*
 * sync.c — applying the server's truth to the local store: stream events (sync pages and
 * live batches), send acks, the support conversation's answer, and read positions.
 *
 * Design note. The user's stream is dense (seq 1, 2, 3, ...), and the store keeps
 * `last_applied_seq`. A batch is applied in one transaction that also moves
 * last_applied_seq, so after a crash the store is either before or after the whole
 * batch, and the session acks only what a committed transaction covered. An event at or
 * below last_applied_seq is skipped; an event after a hole stops the batch (gap) and the
 * session refetches from last_applied_seq. Even so, every application is idempotent by
 * identity (message_id, monotonic positions), so a store whose position was rolled back
 * (restored backup, a bug) still never shows an event twice.
 *
 * The pending copy of an outgoing message meets its server copy in reconcile_outgoing()
 * and only there — whether the SendAck or the stream event comes first.
 */
#define SQLITE_HAS_CODEC 1
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

/* ---- conversations ------------------------------------------------------------------------ */

int souk__conv_exists(souk__store *st, int64_t conv_id)
{
	sqlite3_stmt *s = souk__stmt(st, "SELECT 1 FROM conversations WHERE id = ?1");
	if (!s)
		return 0;
	sqlite3_bind_int64(s, 1, conv_id);
	int found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	return found;
}

int souk__conv_by_server_id(souk__store *st, const char *server_id, int64_t *out)
{
	*out = 0;
	sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM conversations WHERE server_id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, server_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int r = SOUK_OK;
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else
		r = rc == SQLITE_DONE ? SOUK_ENOTFOUND : souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}

int souk__conv_server_id(souk__store *st, int64_t conv_id, char **out)
{
	*out = NULL;
	sqlite3_stmt *s = souk__stmt(st, "SELECT server_id FROM conversations WHERE id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, conv_id);
	int rc = sqlite3_step(s);
	int r = SOUK_OK;
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		if (t && !(*out = souk__strdup((const char *)t)))
			r = SOUK_ENOMEM;
	} else {
		r = rc == SQLITE_DONE ? SOUK_ENOTFOUND : souk__store_err(st, rc);
	}
	sqlite3_reset(s);
	return r;
}

/* Local id of the conversation with this server id, created when unknown. */
static int ensure_conv(souk__store *st, const char *server_id, int64_t *out, souk__evlist *ev)
{
	int r = souk__conv_by_server_id(st, server_id, out);
	if (r != SOUK_ENOTFOUND)
		return r;
	sqlite3_stmt *s = souk__stmt(st, "INSERT INTO conversations (server_id) VALUES (?1)");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, server_id, -1, SQLITE_STATIC);
	r = souk__exec_stmt(st, s);
	if (r == SOUK_OK) {
		*out = souk__store_last_rowid(st);
		souk__evlist_touch(ev, *out);
	}
	return r;
}

int souk__conv_open_support(souk__store *st, int64_t *out, souk__evlist *ev)
{
	*out = 0;
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM conversations WHERE is_support = 1 "
					 "ORDER BY id LIMIT 1");
	if (!s) {
		souk__store_rollback(st, ev);
		return SOUK_ESTORE;
	}
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	if (r == SOUK_OK && *out == 0) {
		s = souk__stmt(st, "INSERT INTO conversations (is_support) VALUES (1)");
		r = s ? souk__exec_stmt(st, s) : SOUK_ESTORE;
		if (r == SOUK_OK) {
			*out = souk__store_last_rowid(st);
			souk__evlist_touch(ev, *out);
		}
	}
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

int souk__conv_support_unconfirmed(souk__store *st, int64_t *id)
{
	*id = 0;
	sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM conversations WHERE is_support = 1 "
					 "AND server_id IS NULL LIMIT 1");
	if (!s)
		return 0;
	int found = 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		*id = sqlite3_column_int64(s, 0);
		found = 1;
	}
	sqlite3_reset(s);
	return found;
}

int souk__conv_mark_read(souk__store *st, int64_t conv_id, int64_t up_to_msg, souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	sqlite3_stmt *s;
	if (up_to_msg > 0) {
		s = souk__stmt(st, "SELECT conv_seq FROM messages WHERE id = ?1 AND conv_id = ?2");
		if (s) {
			sqlite3_bind_int64(s, 1, up_to_msg);
			sqlite3_bind_int64(s, 2, conv_id);
		}
	} else {
		s = souk__stmt(st, "SELECT MAX(conv_seq) FROM messages WHERE conv_id = ?1 "
				   "AND EXISTS (SELECT 1 FROM conversations WHERE id = ?1)");
		if (s)
			sqlite3_bind_int64(s, 1, conv_id);
	}
	if (!s) {
		souk__store_rollback(st, ev);
		return SOUK_ESTORE;
	}
	int64_t pos = 0;
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		pos = sqlite3_column_int64(s, 0); /* NULL (pending message, empty) reads as 0 */
	else if (rc == SQLITE_DONE)
		r = SOUK_ENOTFOUND;
	else
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	if (r == SOUK_OK && up_to_msg == 0 && !souk__conv_exists(st, conv_id))
		r = SOUK_ENOTFOUND;
	if (r == SOUK_OK && pos > 0) {
		s = souk__stmt(st, "UPDATE conversations SET read_up_to = ?2 "
				   "WHERE id = ?1 AND read_up_to < ?2");
		if (!s)
			r = SOUK_ESTORE;
		else {
			sqlite3_bind_int64(s, 1, conv_id);
			sqlite3_bind_int64(s, 2, pos);
			r = souk__exec_stmt(st, s);
			if (r == SOUK_OK && souk__store_changes(st) > 0) {
				souk__evlist_touch(ev, conv_id);
				r = souk__conv_recount_unread(st, conv_id);
			}
		}
	}
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

void souk__read_marks_free(souk__read_mark *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++)
		free(m[i].conv_server_id);
	free(m);
}

int souk__conv_unsent_reads(souk__store *st, souk__read_mark **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s =
		souk__stmt(st, "SELECT server_id, read_up_to FROM conversations "
			       "WHERE server_id IS NOT NULL AND read_up_to > read_acked_up_to");
	if (!s)
		return SOUK_ESTORE;
	souk__read_mark *m = NULL;
	size_t cnt = 0, cap = 0;
	int rc = SQLITE_DONE, r = SOUK_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 4;
			souk__read_mark *p = realloc(m, cap * sizeof(*p));
			if (!p) {
				r = SOUK_ENOMEM;
				break;
			}
			m = p;
		}
		m[cnt].conv_server_id = souk__strdup((const char *)sqlite3_column_text(s, 0));
		m[cnt].up_to = (uint64_t)sqlite3_column_int64(s, 1);
		if (!m[cnt++].conv_server_id) {
			r = SOUK_ENOMEM;
			break;
		}
	}
	if (r == SOUK_OK && rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	if (r != SOUK_OK) {
		souk__read_marks_free(m, cnt);
		return r;
	}
	*out = m;
	*n = cnt;
	return SOUK_OK;
}

/* ---- outgoing status ------------------------------------------------------------------------- */

/*
 * THE reconciliation of a pending outgoing message with its server copy, called for a
 * SendAck and for the stream event of the same message, whichever comes first. Moves the
 * message to SENT (or further), records the server's id and position, and takes it out
 * of the outbox. Idempotent: a second call for the same message changes nothing and
 * emits nothing.
 */
static int reconcile_outgoing(souk__store *st, int64_t msg_id, const char *message_id,
			      uint64_t conv_seq, int64_t server_time_ms, uint64_t seq,
			      const char *me, souk__evlist *ev)
{
	sqlite3_stmt *s = souk__stmt(
		st, "UPDATE messages SET message_id = ?2, conv_seq = ?3, server_time_ms = ?4, "
		    "seq = COALESCE(seq, ?5), sender_id = COALESCE(sender_id, ?6), error_code = 0, "
		    "error_reason = NULL, status = "
		    "CASE WHEN (SELECT peer_read_up_to FROM conversations c "
		    "WHERE c.id = messages.conv_id) >= ?3 THEN 4 "
		    "WHEN (SELECT peer_delivered_up_to FROM conversations c "
		    "WHERE c.id = messages.conv_id) >= ?3 THEN 3 ELSE 2 END "
		    "WHERE id = ?1 AND message_id IS NULL");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, msg_id);
	sqlite3_bind_text(s, 2, message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)conv_seq);
	sqlite3_bind_int64(s, 4, server_time_ms);
	if (seq)
		sqlite3_bind_int64(s, 5, (sqlite3_int64)seq);
	sqlite3_bind_text(s, 6, me, -1, SQLITE_STATIC);
	int r = souk__exec_stmt(st, s);
	if (r != SOUK_OK)
		return r;
	if (souk__store_changes(st) == 0) {
		/* already reconciled: only fill in the stream position if it was unknown */
		if (!seq)
			return SOUK_OK;
		s = souk__stmt(st, "UPDATE messages SET seq = ?2 WHERE id = ?1 AND seq IS NULL");
		if (!s)
			return SOUK_ESTORE;
		sqlite3_bind_int64(s, 1, msg_id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)seq);
		return souk__exec_stmt(st, s);
	}
	s = souk__stmt(st, "DELETE FROM outbox WHERE msg_id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, msg_id);
	r = souk__exec_stmt(st, s);
	if (r != SOUK_OK)
		return r;
	s = souk__stmt(st, "UPDATE conversations SET last_conv_seq = ?2 WHERE id = "
			   "(SELECT conv_id FROM messages WHERE id = ?1) AND last_conv_seq < ?2");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, msg_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)conv_seq);
	r = souk__exec_stmt(st, s);
	if (r != SOUK_OK)
		return r;
	return souk__emit_message(st, ev, SOUK_EVENT_MESSAGE_UPDATED, msg_id);
}

/* The local pending copy of an outgoing message, by client message id (0 if none).
 * INDEXED BY: without statistics SQLite 3.15 would rather scan every message without a
 * server id through the message_id index than use the partial index (schema 5). */
static int find_pending(souk__store *st, const uint8_t *cmid, size_t len, int64_t *out)
{
	*out = 0;
	if (len != 16)
		return SOUK_OK;
	sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM messages INDEXED BY "
					 "messages_pending_by_cmid WHERE client_msg_id = ?1 "
					 "AND outgoing = 1 AND message_id IS NULL");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_blob(s, 1, cmid, 16, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int r = SOUK_OK;
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	return r;
}

int souk__sync_ack(souk__store *st, const char *me, const Souk__V1__SendAck *ack, souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	int64_t id = 0;
	r = find_pending(st, ack->client_msg_id.data, ack->client_msg_id.len, &id);
	/* no pending copy: the stream event came first (already reconciled) or the store was
	 * wiped since; nothing to do */
	if (r == SOUK_OK && id > 0)
		r = reconcile_outgoing(st, id, ack->message_id, ack->conv_seq, ack->server_time_ms,
				       0, me, ev);
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}

/* ---- applying events ------------------------------------------------------------------------- */

/*
 * The conversation row during a run of message events (souk__sync_apply): a page is
 * mostly messages of one conversation, and looking the row up and updating it for each
 * message cost about a quarter of the page's CPU (docs/performance.md, SDK). So the
 * conversation of the last message is remembered, and what the messages change in its
 * row (last_conv_seq, unread_count) is added up and written once, by acc_flush(): before
 * any other kind of event (a receipt, a ConversationInfo or a merge reads or rewrites the
 * row), when the conversation changes, and before the commit.
 */
typedef struct conv_acc {
	const char *server_id; /* borrowed from an event of the current call */
	int64_t conv;
	/* the row's positions, unchanged while messages are applied */
	int64_t read_up_to, peer_read_up_to, peer_delivered_up_to;
	int64_t last_conv_seq;
	int64_t unread_add;
	int dirty;
} conv_acc;

static int acc_flush(souk__store *st, conv_acc *a)
{
	int r = SOUK_OK;
	if (a->dirty) {
		sqlite3_stmt *s = souk__stmt(
			st, "UPDATE conversations SET last_conv_seq = MAX(last_conv_seq, ?2), "
			    "unread_count = unread_count + ?3 WHERE id = ?1");
		if (!s)
			return SOUK_ESTORE;
		sqlite3_bind_int64(s, 1, a->conv);
		sqlite3_bind_int64(s, 2, a->last_conv_seq);
		sqlite3_bind_int64(s, 3, a->unread_add);
		r = souk__exec_stmt(st, s);
	}
	memset(a, 0, sizeof(*a));
	return r;
}

/* The local id of the message's conversation, through the run's cache. */
static int acc_conv(souk__store *st, conv_acc *a, const char *server_id, int64_t *out,
		    souk__evlist *ev)
{
	if (a->server_id && strcmp(a->server_id, server_id) == 0) {
		*out = a->conv;
		return SOUK_OK;
	}
	int r = acc_flush(st, a);
	if (r == SOUK_OK)
		r = ensure_conv(st, server_id, out, ev);
	if (r != SOUK_OK)
		return r;
	sqlite3_stmt *s = souk__stmt(st, "SELECT read_up_to, last_conv_seq, peer_read_up_to, "
					 "peer_delivered_up_to FROM conversations WHERE id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, *out);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		a->server_id = server_id;
		a->conv = *out;
		a->read_up_to = sqlite3_column_int64(s, 0);
		a->last_conv_seq = sqlite3_column_int64(s, 1);
		a->peer_read_up_to = sqlite3_column_int64(s, 2);
		a->peer_delivered_up_to = sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? SOUK_OK : souk__store_err(st, rc);
}

static char *opt_dup(const char *s, int *oom)
{
	if (!s || !s[0])
		return NULL; /* stored as NULL */
	char *p = souk__strdup(s);
	if (!p)
		*oom = 1;
	return p;
}

/* The snapshot of a message just inserted, built from what was bound to the INSERT
 * instead of read back (a SELECT and a decode of the row per synced message): field by
 * field what message_from_row (store.c) would read from that row. tests/sdk/test_store.c
 * compares the two. */
static souk_message *new_snapshot(int64_t id, int64_t conv, const Souk__V1__Message *pb,
				  int outgoing, int status, int64_t time_ms, const uint8_t *content,
				  size_t content_len)
{
	souk_message *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	int oom = 0;
	m->id = id;
	m->conv_id = conv;
	if (pb->message_id && !(m->server_id = souk__strdup(pb->message_id))) /* bound as is */
		oom = 1;
	if (pb->client_msg_id.len == 16)
		souk__hex(m->cmid_hex, pb->client_msg_id.data, 16);
	m->conv_seq = pb->conv_seq;
	m->sender_id = opt_dup(pb->sender_id, &oom);
	m->sender_name = opt_dup(pb->sender_name, &oom);
	m->sender_kind = (int)pb->sender_kind;
	m->outgoing = outgoing;
	m->status = status;
	souk__message_set_content(m, content, content_len, &oom);
	m->created_ms = time_ms;
	m->server_time_ms = time_ms;
	m->sender_avatar_url = opt_dup(pb->sender_avatar_url, &oom);
	if (oom) {
		souk_message_free(m);
		return NULL;
	}
	return m;
}

static int apply_message(souk__store *st, const char *me, const Souk__V1__Event *e, conv_acc *acc,
			 souk__evlist *ev)
{
	const Souk__V1__Message *m = e->message;
	int64_t conv = 0;
	int r = acc_conv(st, acc, m->conversation_id, &conv, ev);
	if (r != SOUK_OK)
		return r;

	/* 1. already known by server id: an event applied before, or the ack came first */
	sqlite3_stmt *s = souk__stmt(st, "SELECT id FROM messages WHERE message_id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_text(s, 1, m->message_id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	int64_t known = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return souk__store_err(st, rc);
	if (known) {
		s = souk__stmt(st, "UPDATE messages SET seq = ?2 WHERE id = ?1 AND seq IS NULL");
		if (!s)
			return SOUK_ESTORE;
		sqlite3_bind_int64(s, 1, known);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)e->seq);
		return souk__exec_stmt(st, s);
	}

	int outgoing = me && m->sender_id && strcmp(me, m->sender_id) == 0;
	/* 2. our own pending copy, sent from this device */
	if (outgoing) {
		int64_t pending = 0;
		r = find_pending(st, m->client_msg_id.data, m->client_msg_id.len, &pending);
		if (r != SOUK_OK)
			return r;
		if (pending)
			return reconcile_outgoing(st, pending, m->message_id, m->conv_seq,
						  m->server_time_ms, e->seq, me, ev);
	}

	/* 3. new here: someone else's message, or ours from another device */
	uint8_t small[2048]; /* most messages: no allocation for the encoded content */
	size_t len = protobuf_c_message_get_packed_size(&m->content->base);
	uint8_t *buf = len <= sizeof(small) ? small : malloc(len);
	if (!buf)
		return SOUK_ENOMEM;
	protobuf_c_message_pack(&m->content->base, buf);
	s = souk__stmt(st,
		       "INSERT INTO messages (conv_id, message_id, client_msg_id, conv_seq, "
		       "seq, sender_id, sender_kind, sender_name, sender_device_id, outgoing, "
		       "content, status, created_ms, server_time_ms, sender_avatar_url) "
		       "VALUES (?1, ?2, ?10, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?11, ?14, ?12, ?12, ?13)");
	if (!s) {
		if (buf != small)
			free(buf);
		return SOUK_ESTORE;
	}
	sqlite3_bind_int64(s, 1, conv);
	sqlite3_bind_text(s, 2, m->message_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)m->conv_seq);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)e->seq);
	sqlite3_bind_text(s, 5, m->sender_id && m->sender_id[0] ? m->sender_id : NULL, -1,
			  SQLITE_STATIC);
	sqlite3_bind_int(s, 6, (int)m->sender_kind);
	sqlite3_bind_text(s, 7, m->sender_name && m->sender_name[0] ? m->sender_name : NULL, -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(
		s, 8, m->sender_device_id && m->sender_device_id[0] ? m->sender_device_id : NULL,
		-1, SQLITE_STATIC);
	sqlite3_bind_int(s, 9, outgoing);
	if (m->client_msg_id.len == 16)
		sqlite3_bind_blob(s, 10, m->client_msg_id.data, 16, SQLITE_STATIC);
	sqlite3_bind_blob(s, 11, buf, (int)len, SQLITE_STATIC);
	int64_t time_ms = m->server_time_ms ? m->server_time_ms : e->server_time_ms;
	sqlite3_bind_int64(s, 12, time_ms);
	sqlite3_bind_text(s, 13,
			  m->sender_avatar_url && m->sender_avatar_url[0] ? m->sender_avatar_url
									  : NULL,
			  -1, SQLITE_STATIC);
	/* ours from another device: as far as the peer's receipts already say (the positions
	 * as stored, compared like the stored conv_seq) */
	int64_t cs = (int64_t)m->conv_seq;
	int status = !outgoing			       ? SOUK__ST_RECEIVED
		     : acc->peer_read_up_to >= cs      ? SOUK__ST_READ
		     : acc->peer_delivered_up_to >= cs ? SOUK__ST_DELIVERED
						       : SOUK__ST_SENT;
	sqlite3_bind_int(s, 14, status);
	r = souk__exec_stmt(st, s);
	souk_message *snap = NULL;
	if (r == SOUK_OK) {
		snap = new_snapshot(souk__store_last_rowid(st), conv, m, outgoing, status, time_ms,
				    len ? buf : NULL, len);
		if (!snap)
			r = SOUK_ENOMEM;
	}
	if (buf != small)
		free(buf);
	if (r != SOUK_OK)
		return r;
	/* unread_count counts incoming messages after read_up_to (store.c, migration 4);
	 * compared as the stored (signed) values, as the counting query would */
	if (cs > acc->last_conv_seq)
		acc->last_conv_seq = cs;
	if (!outgoing && cs > acc->read_up_to)
		acc->unread_add++;
	acc->dirty = 1;
	return souk__emit_snapshot(ev, SOUK_EVENT_MESSAGE_ADDED, snap);
}

/* Moves outgoing messages at or below `up_to` from any status in [from_lo, from_hi] to
 * `to`, emitting an update for each. */
static int advance_outgoing(souk__store *st, int64_t conv, uint64_t up_to, int from_lo, int from_hi,
			    int to, souk__evlist *ev)
{
	sqlite3_stmt *s =
		souk__stmt(st, "SELECT id FROM messages WHERE conv_id = ?1 AND "
			       "outgoing = 1 AND conv_seq <= ?2 AND status BETWEEN ?3 AND ?4");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, conv);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)up_to);
	sqlite3_bind_int(s, 3, from_lo);
	sqlite3_bind_int(s, 4, from_hi);
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, r = SOUK_OK;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			int64_t *p = realloc(ids, cap * sizeof(*p));
			if (!p) {
				r = SOUK_ENOMEM;
				break;
			}
			ids = p;
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	if (r == SOUK_OK && rc != SQLITE_DONE)
		r = souk__store_err(st, rc);
	sqlite3_reset(s);
	for (size_t i = 0; r == SOUK_OK && i < n; i++) {
		s = souk__stmt(st, "UPDATE messages SET status = ?2 WHERE id = ?1");
		if (!s) {
			r = SOUK_ESTORE;
			break;
		}
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int(s, 2, to);
		r = souk__exec_stmt(st, s);
		if (r == SOUK_OK)
			r = souk__emit_message(st, ev, SOUK_EVENT_MESSAGE_UPDATED, ids[i]);
	}
	free(ids);
	return r;
}

static int raise_position(souk__store *st, const char *sql, int64_t conv, uint64_t up_to,
			  int *changed)
{
	sqlite3_stmt *s = souk__stmt(st, sql);
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, conv);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)up_to);
	int r = souk__exec_stmt(st, s);
	*changed = r == SOUK_OK && souk__store_changes(st) > 0;
	return r;
}

static int apply_receipt(souk__store *st, const char *me, const Souk__V1__Receipt *rc,
			 souk__evlist *ev)
{
	int64_t conv = 0;
	int r = ensure_conv(st, rc->conversation_id, &conv, ev);
	if (r != SOUK_OK)
		return r;
	int changed = 0;
	int mine = me && rc->user_id && strcmp(me, rc->user_id) == 0;
	if (mine) {
		if (rc->kind != SOUK__V1__RECEIPT_KIND__RECEIPT_READ)
			return SOUK_OK;
		/* read on one of the user's devices (maybe this one: then it confirms it) */
		r = raise_position(st,
				   "UPDATE conversations SET read_up_to = MAX(read_up_to, ?2), "
				   "read_acked_up_to = MAX(read_acked_up_to, ?2) WHERE id = ?1 "
				   "AND (read_up_to < ?2 OR read_acked_up_to < ?2)",
				   conv, rc->up_to_conv_seq, &changed);
		if (r == SOUK_OK && changed) {
			souk__evlist_touch(ev, conv);
			r = souk__conv_recount_unread(st, conv);
		}
		return r;
	}
	if (rc->kind == SOUK__V1__RECEIPT_KIND__RECEIPT_READ) {
		r = raise_position(st,
				   "UPDATE conversations SET peer_read_up_to = ?2, "
				   "peer_delivered_up_to = MAX(peer_delivered_up_to, ?2) "
				   "WHERE id = ?1 AND peer_read_up_to < ?2",
				   conv, rc->up_to_conv_seq, &changed);
		if (r == SOUK_OK && changed) {
			souk__evlist_touch(ev, conv);
			r = advance_outgoing(st, conv, rc->up_to_conv_seq, SOUK__ST_SENT,
					     SOUK__ST_DELIVERED, SOUK__ST_READ, ev);
		}
	} else if (rc->kind == SOUK__V1__RECEIPT_KIND__RECEIPT_DELIVERED) {
		r = raise_position(st,
				   "UPDATE conversations SET peer_delivered_up_to = ?2 "
				   "WHERE id = ?1 AND peer_delivered_up_to < ?2",
				   conv, rc->up_to_conv_seq, &changed);
		if (r == SOUK_OK && changed)
			r = advance_outgoing(st, conv, rc->up_to_conv_seq, SOUK__ST_SENT,
					     SOUK__ST_SENT, SOUK__ST_DELIVERED, ev);
	}
	return r;
}

/* A display string of a ConversationInfo, or NULL when empty or not UTF-8: souk_wire does
 * not check controller and assignee, and the public getters promise UTF-8. Dropping the
 * value, rather than refusing the event, keeps one bad field from blocking the stream
 * (found by tests/fuzz/fuzz_sdk_events.c). */
static const char *info_str(const char *s)
{
	s = souk__pb_str(s);
	return s && souk_wire_utf8_valid(s, strlen(s)) ? s : NULL;
}

static int update_conv_info(souk__store *st, int64_t conv, const Souk__V1__ConversationInfo *ci,
			    souk__evlist *ev)
{
	/* every ConversationInfo is a full snapshot: controller and assignee are replaced
	 * (an empty assignee clears it); a kind once known is kept */
	sqlite3_stmt *s =
		souk__stmt(st, "UPDATE conversations SET status = ?2, "
			       "created_ms = CASE WHEN ?3 > 0 THEN ?3 ELSE created_ms END, "
			       "last_conv_seq = MAX(last_conv_seq, ?4), "
			       "kind = CASE WHEN ?5 > 0 THEN ?5 ELSE kind END, controller = ?6, "
			       "assignee = ?7 WHERE id = ?1");
	if (!s)
		return SOUK_ESTORE;
	sqlite3_bind_int64(s, 1, conv);
	sqlite3_bind_int(s, 2, (int)ci->status);
	sqlite3_bind_int64(s, 3, ci->created_ms);
	sqlite3_bind_int64(s, 4, (sqlite3_int64)ci->last_conv_seq);
	sqlite3_bind_int(s, 5, (int)ci->kind);
	sqlite3_bind_text(s, 6, info_str(ci->controller), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, info_str(ci->assignee), -1, SQLITE_STATIC);
	int r = souk__exec_stmt(st, s);
	if (r == SOUK_OK)
		souk__evlist_touch(ev, conv);
	return r;
}

static int adopt_support(souk__store *st, const Souk__V1__ConversationInfo *ci, souk__evlist *ev);

static int apply_conversation(souk__store *st, const Souk__V1__ConversationInfo *ci,
			      souk__evlist *ev)
{
	/* The server says which conversation is the user's support one: adopt it at once
	 * (the local placeholder gets its server id, or the two are merged) instead of
	 * waiting for the answer to OpenConversation. */
	if (ci->kind == SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT)
		return adopt_support(st, ci, ev);
	int64_t conv = 0;
	int r = ensure_conv(st, ci->conversation_id, &conv, ev);
	if (r != SOUK_OK)
		return r;
	return update_conv_info(st, conv, ci, ev);
}

/* Stores a push once (by push id) and reports it. */
static int apply_push(souk__store *st, const Souk__V1__Event *e, souk__evlist *ev)
{
	size_t len = souk__v1__in_app_push__get_packed_size(e->push);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return SOUK_ENOMEM;
	souk__v1__in_app_push__pack(e->push, buf);
	sqlite3_stmt *s = souk__stmt(st, "INSERT OR IGNORE INTO pushes (push_id, seq, push, "
					 "server_time_ms) VALUES (?1, ?2, ?3, ?4)");
	if (!s) {
		free(buf);
		return SOUK_ESTORE;
	}
	sqlite3_bind_text(s, 1, e->push->push_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)e->seq);
	sqlite3_bind_blob(s, 3, buf, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, e->server_time_ms);
	int r = souk__exec_stmt(st, s);
	free(buf);
	if (r != SOUK_OK || souk__store_changes(st) == 0)
		return r; /* or seen before: a push is reported once */
	souk_push *p = NULL;
	r = souk__load_push(st, souk__store_last_rowid(st), &p);
	if (r != SOUK_OK)
		return r;
	souk_event *pe = souk__event_new(SOUK_EVENT_PUSH_RECEIVED);
	if (!pe) {
		souk_push_free(p);
		return SOUK_ENOMEM;
	}
	pe->push = p;
	souk__evlist_push(ev, pe);
	return SOUK_OK;
}

int souk__sync_apply(souk__store *st, const char *me, Souk__V1__Event *const *events, size_t n,
		     souk__apply_result *res, souk__evlist *ev)
{
	memset(res, 0, sizeof(*res));
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	uint64_t last = 0;
	conv_acc acc = {0};
	r = souk__state_get_u64(st, "last_applied_seq", &last);
	for (size_t i = 0; r == SOUK_OK && i < n; i++) {
		const Souk__V1__Event *e = events[i];
		if (e->seq <= last) {
			res->skipped++;
			continue;
		}
		if (e->seq != last + 1) {
			res->gap = 1;
			break;
		}
		/* anything but a message may read or rewrite the conversation row */
		if (e->body_case != SOUK__V1__EVENT__BODY_MESSAGE)
			r = acc_flush(st, &acc);
		if (r != SOUK_OK)
			break;
		switch (e->body_case) {
		case SOUK__V1__EVENT__BODY_MESSAGE:
			r = apply_message(st, me, e, &acc, ev);
			break;
		case SOUK__V1__EVENT__BODY_RECEIPT:
			r = apply_receipt(st, me, e->receipt, ev);
			break;
		case SOUK__V1__EVENT__BODY_CONVERSATION:
			r = apply_conversation(st, e->conversation, ev);
			res->conversations++;
			break;
		case SOUK__V1__EVENT__BODY_PUSH:
			r = apply_push(st, e, ev);
			break;
		default:
			/* an event kind from a newer server: nothing to show, but it holds a
			 * place in the stream */
			break;
		}
		if (r == SOUK_OK && ev->oom)
			r = SOUK_ENOMEM;
		if (r == SOUK_OK) {
			last = e->seq;
			res->applied++;
		}
	}
	if (r == SOUK_OK)
		r = acc_flush(st, &acc);
	if (r == SOUK_OK && res->applied)
		r = souk__state_set_u64(st, "last_applied_seq", last);
	if (r == SOUK_OK)
		r = souk__store_commit(st, ev);
	else
		souk__store_rollback(st, ev);
	if (r != SOUK_OK) {
		memset(res, 0, sizeof(*res));
		souk__state_get_u64(st, "last_applied_seq", &res->last_applied);
		return r;
	}
	res->last_applied = last;
	return SOUK_OK;
}

/*
 * The user's support conversation as the server names it — in the answer to
 * OpenConversation{SUPPORT}, or in a stream event whose ConversationInfo.kind is SUPPORT
 * (servers that send `kind`). The local support conversation may not have a server id
 * yet (created offline): it gets this one. If the same server conversation also has a
 * local row of its own (it came through the stream before we knew it was the support
 * one, e.g. from a server without `kind`), the two rows are merged into the one the app
 * was given by souk_client_open_support_conversation(). No transaction of its own.
 */
static int adopt_support(souk__store *st, const Souk__V1__ConversationInfo *ci, souk__evlist *ev)
{
	int64_t placeholder = 0, existing = 0;
	souk__conv_support_unconfirmed(st, &placeholder);
	int r = souk__conv_by_server_id(st, ci->conversation_id, &existing);
	if (r == SOUK_ENOTFOUND)
		r = SOUK_OK;
	sqlite3_stmt *s;
	if (r == SOUK_OK && placeholder && existing && existing != placeholder) {
		/* merge `existing` into `placeholder` */
		r = souk__exec_ids(st, "UPDATE messages SET conv_id = ?1 WHERE conv_id = ?2",
				   placeholder, existing);
		if (r == SOUK_OK) {
			/* a context set on either: the placeholder's is the app's latest */
			r = souk__exec_ids(
				st, "UPDATE OR IGNORE contexts SET conv_id = ?1 WHERE conv_id = ?2",
				placeholder, existing);
		}
		if (r == SOUK_OK) {
			/* SQLite 3.15 has no UPDATE ... FROM: one subquery per column */
			r = souk__exec_ids(
				st,
				"UPDATE conversations SET read_up_to = MAX(read_up_to, (SELECT "
				"read_up_to FROM conversations WHERE id = ?2)), read_acked_up_to = "
				"MAX(read_acked_up_to, (SELECT read_acked_up_to FROM conversations "
				"WHERE id = ?2)), peer_read_up_to = MAX(peer_read_up_to, (SELECT "
				"peer_read_up_to FROM conversations WHERE id = ?2)), "
				"peer_delivered_up_to = MAX(peer_delivered_up_to, (SELECT "
				"peer_delivered_up_to FROM conversations WHERE id = ?2)), "
				"last_conv_seq = MAX(last_conv_seq, (SELECT last_conv_seq FROM "
				"conversations WHERE id = ?2)) WHERE id = ?1",
				placeholder, existing);
		}
		if (r == SOUK_OK) /* it holds both conversations' messages now */
			r = souk__conv_recount_unread(st, placeholder);
		if (r == SOUK_OK) {
			/* (its context, if the move was ignored, goes with it: ON DELETE CASCADE)
			 */
			r = souk__exec_ids(st, "DELETE FROM conversations WHERE id = ?1", existing,
					   0);
		}
		if (r == SOUK_OK) {
			souk_event *e = souk__event_new(SOUK_EVENT_CONVERSATION_REMOVED);
			if (e)
				e->conv_id = existing;
			souk__evlist_push(ev, e);
			/* the snapshot added at commit is the survivor's; keep the removed id */
			souk__evlist_touch(ev, placeholder);
			if (ev->oom)
				r = SOUK_ENOMEM;
		}
		existing = 0;
	}
	int64_t target = placeholder ? placeholder : existing;
	if (r == SOUK_OK && placeholder) {
		s = souk__stmt(st, "UPDATE conversations SET server_id = ?2 WHERE id = ?1");
		if (!s)
			r = SOUK_ESTORE;
		else {
			sqlite3_bind_int64(s, 1, placeholder);
			sqlite3_bind_text(s, 2, ci->conversation_id, -1, SQLITE_STATIC);
			r = souk__exec_stmt(st, s);
		}
	} else if (r == SOUK_OK && !target) {
		r = ensure_conv(st, ci->conversation_id, &target, ev);
	}
	if (r == SOUK_OK) {
		/* this conversation is the support one; no other is */
		r = souk__exec_ids(st,
				   "UPDATE conversations SET is_support = (id = ?1), kind = CASE "
				   "WHEN id = ?1 THEN 1 WHEN kind = 1 THEN 0 ELSE kind END",
				   target, 0);
	}
	if (r == SOUK_OK)
		r = update_conv_info(st, target, ci, ev);
	return r;
}

int souk__sync_support_info(souk__store *st, const Souk__V1__ConversationInfo *ci, souk__evlist *ev)
{
	int r = souk__store_begin(st);
	if (r != SOUK_OK)
		return r;
	r = adopt_support(st, ci, ev);
	if (r == SOUK_OK)
		return souk__store_commit(st, ev);
	souk__store_rollback(st, ev);
	return r;
}
