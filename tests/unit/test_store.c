/* Unit tests of the SQLite store: sequences, dedup, conversations, receipts, paging, apps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sqlite3.h>
#include <sys/stat.h>

#include "store.h"
#include "store_sqlite_internal.h"
#include "unit_util.h"
#include "wal_gather.h"

typedef struct fx {
	char *dir;
	souk_store *s;
	store_app_created app;
	store_conv conv;
} fx;

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char err[256];
	f->dir = tmp_data_dir();
	f->s = store_sqlite_open(f->dir, err, sizeof(err));
	assert_non_null(f->s);
	assert_int_equal(f->s->ops->app_create(f->s, "shop", "", "", &f->app), 0);
	store_appends ap = {0};
	assert_int_equal(f->s->ops->begin(f->s), 0);
	assert_int_equal(f->s->ops->open_support(f->s, f->app.app_id, "alice", 1000, &f->conv, &ap),
			 0);
	assert_int_equal(f->s->ops->commit(f->s), 0);
	assert_int_equal(ap.n, 1);
	assert_int_equal(ap.v[0].seq, 1);
	store_appends_clear(&ap);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	f->s->ops->close(f->s);
	rm_data_dir(f->dir);
	free(f);
	return 0;
}

/* A shopper's text send inside the transaction the caller opened. */
static int send_in_tx(fx *f, const char *user, const char *conv, const uint8_t cmid[16],
		      const char *txt, int64_t now_ms, store_send_res *res, store_appends *ap)
{
	Souk__V1__Text t = SOUK__V1__TEXT__INIT;
	Souk__V1__Content c = SOUK__V1__CONTENT__INIT;
	t.body = (char *)txt;
	c.kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	c.text = &t;
	store_send_req r = {.app_id = f->app.app_id,
			    .user_id = user,
			    .device_id = "d1",
			    .client_msg_id = cmid,
			    .conversation_id = conv,
			    .content = &c,
			    .sender_kind = SOUK__V1__SENDER_KIND__SENDER_SHOPPER,
			    .now_ms = now_ms};
	return f->s->ops->send(f->s, &r, res, ap);
}

static int send_text(fx *f, const char *user, const char *conv, uint8_t id_byte, const char *txt,
		     store_send_res *res, store_appends *ap)
{
	uint8_t cmid[16] = {id_byte};
	f->s->ops->begin(f->s);
	int rc = send_in_tx(f, user, conv, cmid, txt, 2000, res, ap);
	if (f->s->ops->commit(f->s))
		return -1;
	return rc;
}

static void dense_sequence_and_dedup(void **state)
{
	fx *f = *state;
	store_send_res r1, r2, r3;
	store_appends ap = {0};
	assert_int_equal(send_text(f, "alice", f->conv.conversation_id, 1, "one", &r1, &ap), 0);
	assert_int_equal(r1.seq, 2);
	assert_int_equal(r1.conv_seq, 1);
	assert_false(r1.duplicate);
	assert_int_equal(ap.n, 1);
	store_appends_clear(&ap);
	assert_int_equal(send_text(f, "alice", f->conv.conversation_id, 1, "one", &r2, &ap), 0);
	assert_true(r2.duplicate);
	assert_string_equal(r2.message_id, r1.message_id);
	assert_int_equal(r2.seq, r1.seq);
	assert_int_equal(ap.n, 0);
	assert_int_equal(send_text(f, "alice", f->conv.conversation_id, 2, "two", &r3, &ap), 0);
	assert_int_equal(r3.seq, 3);
	assert_int_equal(r3.conv_seq, 2);
	store_appends_clear(&ap);

	store_events e;
	assert_int_equal(f->s->ops->read_events(f->s, f->app.app_id, "alice", 0, 10, &e), 0);
	assert_int_equal(e.n, 3);
	assert_int_equal(e.head_seq, 3);
	assert_false(e.has_more);
	for (size_t i = 0; i < e.n; i++) {
		assert_int_equal(e.seq[i], i + 1);
		Souk__V1__Event *ev = souk__v1__event__unpack(NULL, e.v[i].len, e.v[i].data);
		assert_non_null(ev);
		assert_int_equal(ev->seq, i + 1);
		souk__v1__event__free_unpacked(ev, NULL);
	}
	store_events_free(&e);
	assert_int_equal(f->s->ops->read_events(f->s, f->app.app_id, "alice", 1, 1, &e), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.seq[0], 2);
	assert_true(e.has_more);
	store_events_free(&e);
}

static void refusals_write_nothing(void **state)
{
	fx *f = *state;
	store_send_res r;
	store_appends ap = {0};
	assert_int_equal(send_text(f, "alice", "conv_missing", 3, "x", &r, &ap),
			 SOUK__V1__ERROR_CODE__CONVERSATION_NOT_FOUND);
	assert_int_equal(send_text(f, "mallory", f->conv.conversation_id, 4, "x", &r, &ap),
			 SOUK__V1__ERROR_CODE__NOT_A_PARTICIPANT);
	assert_int_equal(ap.n, 0);
	/* another app cannot see this conversation at all */
	store_app_created other;
	assert_int_equal(f->s->ops->app_create(f->s, "other", "", "", &other), 0);
	store_conv c;
	assert_int_equal(f->s->ops->open_conversation(f->s, other.app_id, "alice",
						      f->conv.conversation_id, &c),
			 SOUK__V1__ERROR_CODE__CONVERSATION_NOT_FOUND);
}

static void open_support_is_idempotent(void **state)
{
	fx *f = *state;
	store_conv c;
	store_appends ap = {0};
	f->s->ops->begin(f->s);
	assert_int_equal(f->s->ops->open_support(f->s, f->app.app_id, "alice", 3000, &c, &ap), 0);
	f->s->ops->commit(f->s);
	assert_string_equal(c.conversation_id, f->conv.conversation_id);
	assert_false(c.created);
	assert_int_equal(ap.n, 0);
	assert_int_equal(c.n_participants, 1);
	assert_string_equal(c.participants[0].user_id, "alice");
}

static void mark_read_advances_only(void **state)
{
	fx *f = *state;
	store_send_res r;
	store_appends ap = {0};
	for (uint8_t i = 10; i < 13; i++)
		send_text(f, "alice", f->conv.conversation_id, i, "m", &r, &ap);
	store_appends_clear(&ap);
	f->s->ops->begin(f->s);
	assert_int_equal(f->s->ops->mark_read(f->s, f->app.app_id, "alice", f->conv.conversation_id,
					      99, 4000, &ap),
			 0);
	f->s->ops->commit(f->s);
	assert_int_equal(ap.n, 1);
	Souk__V1__Event *ev = souk__v1__event__unpack(NULL, ap.v[0].event.len, ap.v[0].event.data);
	assert_int_equal(ev->receipt->up_to_conv_seq, 3); /* clamped to the last message */
	souk__v1__event__free_unpacked(ev, NULL);
	store_appends_clear(&ap);
	f->s->ops->begin(f->s);
	assert_int_equal(f->s->ops->mark_read(f->s, f->app.app_id, "alice", f->conv.conversation_id,
					      2, 4000, &ap),
			 0);
	f->s->ops->commit(f->s);
	assert_int_equal(ap.n, 0);
}

static void savepoint_undoes_one_operation(void **state)
{
	fx *f = *state;
	const struct souk_store_ops *o = f->s->ops;
	store_appends ap = {0};
	uint64_t head = 0;
	o->begin(f->s);
	o->savepoint(f->s);
	o->device_connect(f->s, f->app.app_id, "bob", "d1", 1, "t", 0, 1, &head);
	o->release(f->s, 0); /* undone */
	o->savepoint(f->s);
	o->device_connect(f->s, f->app.app_id, "carol", "d1", 1, "t", 0, 1, &head);
	o->release(f->s, 1);
	o->commit(f->s);
	store_conv c;
	o->begin(f->s);
	assert_int_equal(o->open_support(f->s, f->app.app_id, "carol", 5, &c, &ap), 0);
	o->commit(f->s);
	/* carol existed with head 0, so her conversation event is seq 1 */
	assert_int_equal(ap.v[0].seq, 1);
	store_appends_clear(&ap);
}

static void apps_and_keys(void **state)
{
	fx *f = *state;
	store_app a;
	assert_int_equal(f->s->ops->load_app(f->s, f->app.app_id, &a), 0);
	assert_int_equal(a.n_keys, 1);
	assert_string_equal(a.keys[0].kid, "default");
	assert_string_equal(a.keys[0].alg, "HS256");
	assert_string_equal(a.keys[0].key, f->app.jwt_secret);
	store_app_clear(&a);
	const char *pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	assert_int_equal(
		f->s->ops->app_add_key(f->s, f->app.app_id, "k1", "ES256", pem, strlen(pem)), 0);
	assert_int_equal(f->s->ops->load_app(f->s, f->app.app_id, &a), 0);
	assert_int_equal(a.n_keys, 2);
	store_app_clear(&a);
	assert_int_equal(f->s->ops->app_revoke_key(f->s, f->app.app_id, "k1"), 0);
	assert_int_equal(f->s->ops->app_revoke_key(f->s, f->app.app_id, "nope"),
			 SOUK__V1__ERROR_CODE__UNKNOWN_KEY);
	assert_int_equal(f->s->ops->load_app(f->s, f->app.app_id, &a), 0);
	assert_int_equal(a.n_keys, 1);
	store_app_clear(&a);
	assert_int_equal(f->s->ops->load_app(f->s, "app_nope", &a),
			 SOUK__V1__ERROR_CODE__UNKNOWN_APP);
	assert_int_equal(strncmp(f->app.api_key, "sk_", 3), 0);
}

static void reopen_keeps_everything(void **state)
{
	fx *f = *state;
	store_send_res r;
	store_appends ap = {0};
	send_text(f, "alice", f->conv.conversation_id, 20, "persist", &r, &ap);
	store_appends_clear(&ap);
	f->s->ops->close(f->s);
	char err[256];
	f->s = store_sqlite_open(f->dir, err, sizeof(err));
	assert_non_null(f->s);
	store_events e;
	assert_int_equal(f->s->ops->read_events(f->s, f->app.app_id, "alice", 1, 10, &e), 0);
	assert_int_equal(e.n, 1);
	assert_int_equal(e.seq[0], r.seq);
	store_events_free(&e);
}

/* Message, conversation and webhook event ids: prefix, 12 hex digits of the millisecond
 * time, 20 of randomness — later ones sort after earlier ones, none repeats. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

static void ids_are_time_ordered_and_unique(void **state)
{
	(void)state;
	enum { N = 3000 };
	static char ids[N][STORE_ID_MAX];
	for (int i = 0; i < N; i++) {
		assert_int_equal(
			sqs_time_id(ids[i], sizeof(ids[i]), "msg_", 1700000000000 + i / 100), 0);
		assert_int_equal(strlen(ids[i]), 4 + SQS_TIME_ID_HEX);
		assert_int_equal(strncmp(ids[i], "msg_018bcfe568", 14), 0);
		if (i >= 100) /* a later millisecond sorts after */
			assert_true(strcmp(ids[i], ids[i - 100]) > 0);
	}
	qsort(ids, N, sizeof(ids[0]), cmp_str);
	for (int i = 1; i < N; i++)
		assert_true(strcmp(ids[i - 1], ids[i]) != 0);
	char small[20];
	assert_int_equal(sqs_time_id(small, sizeof(small), "msg_", 1), -1); /* too small */
}

/* The database goes through the WAL-gathering VFS (wal_gather.c), and a group far larger
 * than its 1 MiB buffer (~3,000 messages with 3 KB bodies: over 12 MiB of WAL frames, written
 * in pieces under the unix VFS's 128 KiB per-call limit) commits, reopens whole and passes
 * SQLite's integrity check. */
static void large_group_through_the_gathering_vfs(void **state)
{
	fx *f = *state;
	sqlite_store *ss = (sqlite_store *)f->s;
	char *vfs = NULL;
	assert_int_equal(sqlite3_file_control(ss->db, "main", SQLITE_FCNTL_VFSNAME, &vfs),
			 SQLITE_OK);
	assert_non_null(vfs);
	assert_non_null(strstr(vfs, "souk-wal-gather"));
	sqlite3_free(vfs);

	char body[3000];
	memset(body, 'y', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	enum { N = 3000 };
	assert_int_equal(f->s->ops->begin(f->s), 0);
	for (int i = 0; i < N; i++) {
		uint8_t cmid[16] = {0xee, (uint8_t)(i >> 8), (uint8_t)i};
		store_send_res res;
		store_appends ap = {0};
		assert_int_equal(send_in_tx(f, "alice", f->conv.conversation_id, cmid, body,
					    3000 + i, &res, &ap),
				 0);
		store_appends_clear(&ap);
	}
	assert_int_equal(f->s->ops->commit(f->s), 0);
	f->s->ops->close(f->s);

	char err[256];
	f->s = store_sqlite_open(f->dir, err, sizeof(err));
	assert_non_null(f->s);
	store_events e;
	assert_int_equal(f->s->ops->read_events(f->s, f->app.app_id, "alice", N - 1, 10, &e), 0);
	assert_int_equal(e.head_seq, 1 + N);
	assert_int_equal(e.n, 2);
	store_events_free(&e);
	ss = (sqlite_store *)f->s;
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(ss->db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
}

/* Deferred WAL syncs (wal_gather.h): a COMMIT inside the window leaves a descriptor of
 * the WAL to fdatasync, and the commit is visible to another connection at once; a
 * checkpoint inside the window (SQLite's automatic one, switched on here) syncs the WAL
 * itself and leaves nothing deferred. */
static void deferred_wal_sync(void **state)
{
	fx *f = *state;
	sqlite_store *ss = (sqlite_store *)f->s;
	char wal[1100];
	snprintf(wal, sizeof(wal), "%s/souk.db-wal", f->dir);
	uint8_t cmid[16] = {0xdf, 1};
	store_send_res res;
	store_appends ap = {0};
	assert_int_equal(f->s->ops->begin(f->s), 0);
	assert_int_equal(
		send_in_tx(f, "alice", f->conv.conversation_id, cmid, "deferred", 1, &res, &ap), 0);
	store_appends_clear(&ap);
	int fd = -2;
	assert_int_equal(f->s->ops->commit_deferred(f->s, &fd), 0);
	assert_true(fd >= 0);
	struct stat a, b;
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(stat(wal, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	assert_int_equal(fdatasync(fd), 0);
	/* another connection (the default VFS, like soukctl) sees the commit */
	sqlite3 *other;
	char db[1100];
	snprintf(db, sizeof(db), "%s/souk.db", f->dir);
	assert_int_equal(sqlite3_open_v2(db, &other, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(other,
					    "SELECT count(*) FROM messages WHERE"
					    " client_msg_id = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, cmid, 16, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(other);

	/* an automatic checkpoint inside COMMIT: synced there, nothing left to the caller */
	assert_int_equal(sqlite3_exec(ss->db, "PRAGMA wal_autocheckpoint=1", NULL, NULL, NULL),
			 SQLITE_OK);
	cmid[1] = 2;
	assert_int_equal(f->s->ops->begin(f->s), 0);
	assert_int_equal(
		send_in_tx(f, "alice", f->conv.conversation_id, cmid, "checkpointed", 2, &res, &ap),
		0);
	store_appends_clear(&ap);
	fd = -2;
	assert_int_equal(f->s->ops->commit_deferred(f->s, &fd), 0);
	assert_int_equal(fd, -1);
	/* and outside any window nothing is deferred */
	assert_int_equal(wal_gather_defer_end(), -1);
}

/* Under continuous writes, with maintain() between groups as the storage thread calls it,
 * the WAL is checkpointed in the background and starts over: it does not grow with what
 * was written, and everything is in the store after reopening. */
static void wal_stays_bounded_under_continuous_writes(void **state)
{
	fx *f = *state;
	sqlite_store *ss = (sqlite_store *)f->s;
	ss->checkpoint_frames = 256; /* 1 MiB instead of 256 MiB */
	char body[3000];
	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	enum { GROUPS = 600, PER_GROUP = 5 };
	char wal[600];
	snprintf(wal, sizeof(wal), "%s/souk.db-wal", f->dir);
	off_t wal_max = 0;
	uint64_t sent = 0;
	for (int g = 0; g < GROUPS; g++) {
		assert_int_equal(f->s->ops->begin(f->s), 0);
		for (int i = 0; i < PER_GROUP; i++) {
			uint8_t cmid[16] = {0};
			uint32_t n = (uint32_t)(g * PER_GROUP + i + 1);
			memcpy(cmid + 4, &n, sizeof(n));
			store_send_res res;
			store_appends ap = {0};
			assert_int_equal(send_in_tx(f, "alice", f->conv.conversation_id, cmid, body,
						    3000 + g, &res, &ap),
					 0);
			store_appends_clear(&ap);
			sent++;
		}
		assert_int_equal(f->s->ops->commit(f->s), 0);
		f->s->ops->maintain(f->s);
		struct stat sb;
		if (stat(wal, &sb) == 0 && sb.st_size > wal_max)
			wal_max = sb.st_size;
	}
	/* ~6 KiB of events and messages per send: ~18 MiB went through the WAL */
	if (wal_max >= 8 * 1024 * 1024)
		fprintf(stderr, "WAL grew to %lld bytes\n", (long long)wal_max);
	assert_true(wal_max < 8 * 1024 * 1024);
	f->s->ops->close(f->s);
	char err[256];
	f->s = store_sqlite_open(f->dir, err, sizeof(err));
	assert_non_null(f->s);
	store_events ev;
	assert_int_equal(f->s->ops->read_events(f->s, f->app.app_id, "alice", 0, 1, &ev), 0);
	assert_int_equal(ev.head_seq, 1 + sent); /* the conversation event, then every send */
	store_events_free(&ev);
	assert_int_equal(f->s->ops->read_events(f->s, f->app.app_id, "alice", sent - 1, 10, &ev),
			 0);
	assert_int_equal(ev.n, 2);
	store_events_free(&ev);
}

/* A schema-2 database (tests/unit/data/store_v2.sql, written by soukd 16f1d32) opens
 * migrated, and its sequences continue where they were: alice's head 4 (the conversation
 * event and three messages), the conversation's conv_seq 3; bob (no events) has head 0. */
static void migrates_schema_2_and_continues_its_sequences(void **state)
{
	(void)state;
	const char *app = "app_23735f5df36a59df", *conv = "conv_01a2031eba5648d303ca03b8c7984464";
	char *dir = tmp_data_dir();
	char path[512], *sql = NULL;
	snprintf(path, sizeof(path), "%s/store_v2.sql", SOUK_TEST_DATA_DIR);
	FILE *in = fopen(path, "rb");
	assert_non_null(in);
	size_t cap = 0, len = 0;
	for (size_t got = 1; got;) {
		if (len + 4096 + 1 > cap && !(sql = realloc(sql, cap = cap * 2 + 8192)))
			fail();
		got = fread(sql + len, 1, 4096, in);
		len += got;
	}
	fclose(in);
	sql[len] = '\0';
	snprintf(path, sizeof(path), "%s/souk.db", dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(sql);

	char err[256];
	fx f = {.dir = dir};
	f.s = store_sqlite_open(dir, err, sizeof(err));
	assert_non_null(f.s);
	snprintf(f.app.app_id, sizeof(f.app.app_id), "%s", app);
	store_events e;
	assert_int_equal(f.s->ops->read_events(f.s, app, "alice", 0, 10, &e), 0);
	assert_int_equal(e.n, 4);
	assert_int_equal(e.head_seq, 4);
	store_events_free(&e);
	assert_int_equal(f.s->ops->read_events(f.s, app, "bob", 0, 10, &e), 0);
	assert_int_equal(e.n, 0);
	assert_int_equal(e.head_seq, 0);
	store_events_free(&e);
	store_conv c;
	assert_int_equal(sqs_load_conv(f.s, app, conv, &c), 0);
	assert_int_equal(c.last_conv_seq, 3);

	store_send_res r;
	store_appends ap = {0};
	assert_int_equal(send_text(&f, "alice", conv, 99, "after", &r, &ap), 0);
	assert_false(r.duplicate);
	assert_int_equal(r.seq, 5);
	assert_int_equal(r.conv_seq, 4);
	store_appends_clear(&ap);
	uint64_t head = 0;
	assert_int_equal(f.s->ops->begin(f.s), 0);
	assert_int_equal(f.s->ops->device_connect(f.s, app, "bob", "tab", 4, "t", 0, 3000, &head),
			 0);
	assert_int_equal(f.s->ops->commit(f.s), 0);
	assert_int_equal(head, 0);
	f.s->ops->close(f.s);

	/* the counter columns are gone: nothing can read a stale copy of a sequence */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_not_equal(sqlite3_prepare_v2(db, "SELECT head_seq FROM users", -1, &st, NULL),
			     SQLITE_OK);
	assert_int_not_equal(
		sqlite3_prepare_v2(db, "SELECT last_conv_seq FROM conversations", -1, &st, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 3);
	sqlite3_finalize(st);
	sqlite3_close(db);
	rm_data_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(dense_sequence_and_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(refusals_write_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(open_support_is_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(mark_read_advances_only, setup, teardown),
		cmocka_unit_test_setup_teardown(savepoint_undoes_one_operation, setup, teardown),
		cmocka_unit_test_setup_teardown(apps_and_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(reopen_keeps_everything, setup, teardown),
		cmocka_unit_test(ids_are_time_ordered_and_unique),
		cmocka_unit_test(migrates_schema_2_and_continues_its_sequences),
		cmocka_unit_test_setup_teardown(large_group_through_the_gathering_vfs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(deferred_wal_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(wal_stays_bounded_under_continuous_writes, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
