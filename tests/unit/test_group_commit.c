/* Unit tests of the storage thread: many operations from another thread are committed in
 * groups, each answered once, in order; a refused operation does not undo its group; with
 * the pipelined commit sync nothing is answered before the fdatasync that covers it. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "group_commit.h"
#include "metrics.h"
#include "unit_util.h"
#include "util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int wakes;

static void wake(void *ud)
{
	(void)ud;
	pthread_mutex_lock(&mu);
	wakes++;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static gc_op *send_op(const char *app, const char *conv, uint32_t i)
{
	gc_op *op = gc_op_new(GC_SEND);
	snprintf(op->app_id, sizeof(op->app_id), "%s", app);
	snprintf(op->user_id, sizeof(op->user_id), "alice");
	snprintf(op->device_id, sizeof(op->device_id), "d1");
	op->request_id = i + 1;
	op->now_ms = 1;
	uint8_t cmid[16] = {0};
	memcpy(cmid, &i, sizeof(i));
	Souk__V1__Text t = SOUK__V1__TEXT__INIT;
	Souk__V1__Content c = SOUK__V1__CONTENT__INIT;
	Souk__V1__Send snd = SOUK__V1__SEND__INIT;
	Souk__V1__Frame fr = SOUK__V1__FRAME__INIT;
	t.body = "hello";
	c.kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	c.text = &t;
	snd.client_msg_id.data = cmid;
	snd.client_msg_id.len = 16;
	snd.conversation_id = (char *)conv;
	snd.content = &c;
	fr.body_case = SOUK__V1__FRAME__BODY_SEND;
	fr.send = &snd;
	uint8_t *buf;
	size_t len;
	assert_int_equal(souk_wire_encode(&fr, 0, &buf, &len), 0);
	Souk__V1__Frame *f = NULL;
	assert_int_equal(souk_wire_decode(buf, len, 1, &f).code, 0);
	free(buf);
	op->frame = f; /* freed by gc_op_free */
	return op;
}

/* A store with app "shop" and alice's support conversation. */
static souk_store *open_with_conversation(const char *dir, store_app_created *app, store_conv *conv)
{
	char err[256];
	souk_store *s = store_sqlite_open(dir, err, sizeof(err));
	assert_non_null(s);
	assert_int_equal(s->ops->app_create(s, "shop", "", "", app), 0);
	store_appends ap = {0};
	assert_int_equal(s->ops->begin(s), 0);
	assert_int_equal(s->ops->open_support(s, app->app_id, "alice", 1, conv, &ap), 0);
	assert_int_equal(s->ops->commit(s), 0);
	store_appends_clear(&ap);
	return s;
}

static void groups_commit_and_answer_in_order(void **state)
{
	(void)state;
	char *dir = tmp_data_dir();
	store_app_created app;
	store_conv conv;
	souk_store *s = open_with_conversation(dir, &app, &conv);

	group_commit *gc = gc_start(s, 1024, 1, wake, NULL);
	enum { N = 2000 };
	int64_t t_submit_first = souk_mono_us();
	for (uint32_t i = 0; i < N; i++) {
		gc_op *op = send_op(app.app_id,
				    i % 100 == 7 ? "conv_missing" : conv.conversation_id, i);
		op->t_recv_us = souk_mono_us();
		gc_submit(gc, op);
	}
	uint64_t next_rid = 1, last_seq = 1, ok = 0, refused = 0;
	int64_t prev_group = 0, prev_commit = 0;
	while (next_rid <= N) {
		pthread_mutex_lock(&mu);
		while (!wakes)
			pthread_cond_wait(&cv, &mu);
		wakes = 0;
		pthread_mutex_unlock(&mu);
		for (gc_op *op = gc_take_done(gc), *n; op; op = n) {
			n = op->next;
			assert_int_equal(op->request_id, next_rid); /* FIFO answers */
			next_rid++;
			/* the stage stamps (souk_send_*_seconds): a group starts after its ops
			 * were queued and commits after it started; groups run one at a time */
			assert_true(op->t_group_us >= op->t_recv_us);
			assert_true(op->t_recv_us >= t_submit_first);
			assert_true(op->t_commit_us >= op->t_group_us);
			assert_true(op->t_commit_us <= souk_mono_us());
			if (op->t_group_us != prev_group) { /* the next group */
				assert_true(op->t_group_us >= prev_commit);
				prev_group = op->t_group_us;
			} else {
				assert_int_equal(op->t_commit_us, prev_commit); /* one COMMIT */
			}
			prev_commit = op->t_commit_us;
			if (op->status == 0) {
				assert_int_equal(op->send.seq, last_seq + 1); /* dense */
				last_seq = op->send.seq;
				assert_int_equal(op->appends.n, 1);
				ok++;
			} else {
				assert_int_equal(op->status,
						 SOUK__V1__ERROR_CODE__CONVERSATION_NOT_FOUND);
				assert_int_equal(op->appends.n, 0);
				refused++;
			}
			gc_op_free(op);
		}
	}
	assert_int_equal(refused, N / 100);
	assert_int_equal(ok, N - N / 100);
	/* grouping happened: fewer commits than operations */
	uint64_t commits = 0;
	for (int i = 0; i <= METRICS_HIST_MAX_BUCKETS; i++)
		commits += atomic_load(&g_metrics.commit_batch.bucket[i]);
	assert_true(commits < N);
	assert_int_equal(atomic_load(&g_metrics.commit_batch.sum), N);
	gc_stop(gc);
	rm_data_dir(dir);
}

/* A store whose send fails (< 0) for one client_msg_id *after* its writes, like a storage
 * error halfway through; it counts savepoints. */
static const struct souk_store_ops *real_ops;
static struct souk_store_ops failing_ops;
static int savepoints;
static uint8_t poison_cmid[16];

static int failing_send(souk_store *s, const store_send_req *req, store_send_res *res,
			store_appends *out)
{
	int rc = real_ops->send(s, req, res, out);
	if (rc == 0 && memcmp(req->client_msg_id, poison_cmid, 16) == 0)
		return -1; /* its event, message and bumps are written: half an operation */
	return rc;
}

static int counting_savepoint(souk_store *s)
{
	savepoints++;
	return real_ops->savepoint(s);
}

static void failed_send_without_savepoint_does_not_poison_group(void **state)
{
	(void)state;
	char *dir = tmp_data_dir();
	char err[256];
	store_app_created app;
	store_conv conv;
	souk_store *s = open_with_conversation(dir, &app, &conv);
	real_ops = s->ops;
	failing_ops = *s->ops;
	failing_ops.send = failing_send;
	failing_ops.savepoint = counting_savepoint;
	s->ops = &failing_ops;

	/* a first group of sends only: no savepoint at all */
	group_commit *gc = gc_start(s, 1024, 1, wake, NULL);
	enum { N = 50, POISON = 20 };
	uint32_t poison = POISON;
	memcpy(poison_cmid, &poison, sizeof(poison)); /* send_op's client_msg_id for i */
	gc_submit(gc, send_op(app.app_id, conv.conversation_id, 1000));
	uint64_t seen = 0;
	while (!seen) {
		pthread_mutex_lock(&mu);
		while (!wakes)
			pthread_cond_wait(&cv, &mu);
		wakes = 0;
		pthread_mutex_unlock(&mu);
		for (gc_op *op = gc_take_done(gc), *n; op; op = n) {
			n = op->next;
			assert_int_equal(op->status, 0);
			seen = op->send.seq;
			gc_op_free(op);
		}
	}
	assert_int_equal(savepoints, 0);

	/* then a group with the failing send in the middle: only that one fails, the others
	 * are committed with dense sequences (nothing of the failed one is left behind) */
	gc_stop(gc);
	s = store_sqlite_open(dir, err, sizeof(err));
	assert_non_null(s);
	real_ops = s->ops;
	s->ops = &failing_ops;
	gc = gc_start(s, 1024, 1, wake, NULL);
	for (uint32_t i = 0; i < N; i++) /* in one or a few groups */
		gc_submit(gc, send_op(app.app_id, conv.conversation_id, i));
	uint64_t answered = 0, ok = 0, last_seq = seen;
	while (answered < N) {
		pthread_mutex_lock(&mu);
		while (!wakes)
			pthread_cond_wait(&cv, &mu);
		wakes = 0;
		pthread_mutex_unlock(&mu);
		for (gc_op *op = gc_take_done(gc), *n; op; op = n) {
			n = op->next;
			answered++;
			if (op->request_id == POISON + 1) {
				assert_true(op->status < 0);
				assert_int_equal(op->appends.n, 0);
			} else {
				assert_int_equal(op->status, 0);
				assert_int_equal(op->send.seq, last_seq + 1);
				last_seq = op->send.seq;
				ok++;
			}
			gc_op_free(op);
		}
	}
	assert_int_equal(ok, N - 1);
	assert_true(savepoints > 0); /* the careful second run */
	gc_stop(gc);

	/* the store holds exactly the committed events */
	s = store_sqlite_open(dir, err, sizeof(err));
	assert_non_null(s);
	store_events ev;
	assert_int_equal(s->ops->read_events(s, app.app_id, "alice", 0, 200, &ev), 0);
	assert_int_equal(ev.head_seq, last_seq);
	assert_int_equal(ev.n, last_seq);
	store_events_free(&ev);
	s->ops->close(s);
	rm_data_dir(dir);
}

/* ---- the pipelined commit sync ----------------------------------------------------- */

static sem_t sync_entered, sync_release;
static atomic_int sync_calls;
static int sync_fd_seen = -1;

/* the sync thread's fdatasync, held until the test releases it */
static int held_sync(int fd)
{
	atomic_fetch_add(&sync_calls, 1);
	sync_fd_seen = fd;
	sem_post(&sync_entered);
	while (sem_wait(&sync_release) != 0)
		;
	return fdatasync(fd);
}

static gc_op *wait_done(group_commit *gc)
{
	for (int i = 0; i < 10000; i++) {
		gc_op *op = gc_take_done(gc);
		if (op)
			return op;
		usleep(1000);
	}
	fail_msg("nothing handed back in 10 s");
	return NULL;
}

/* A send is handed back only after the fdatasync of its WAL has returned, and so is a read
 * queued after it (it sees the send's event); the storage thread does not wait. */
static void nothing_is_handed_back_before_its_sync(void **state)
{
	(void)state;
	char *dir = tmp_data_dir();
	store_app_created app;
	store_conv conv;
	souk_store *s = open_with_conversation(dir, &app, &conv);
	sem_init(&sync_entered, 0, 0);
	sem_init(&sync_release, 0, 0);
	atomic_store(&sync_calls, 0);
	gc_set_sync_fn(held_sync);
	group_commit *gc = gc_start(s, 1024, 1, wake, NULL);
	assert_true(gc_pipelined(gc));

	gc_submit(gc, send_op(app.app_id, conv.conversation_id, 1));
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	int rc;
	while ((rc = sem_timedwait(&sync_entered, &until)) != 0 && errno == EINTR)
		;
	assert_int_equal(rc, 0); /* the commit left its sync to the sync thread */
	/* what is synced is the database's WAL */
	char wal[1100];
	snprintf(wal, sizeof(wal), "%s/souk.db-wal", dir);
	struct stat a, b;
	assert_int_equal(fstat(sync_fd_seen, &a), 0);
	assert_int_equal(stat(wal, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);

	gc_op *rd = gc_op_new(GC_READ_EVENTS);
	snprintf(rd->app_id, sizeof(rd->app_id), "%s", app.app_id);
	snprintf(rd->user_id, sizeof(rd->user_id), "alice");
	rd->limit = 10;
	rd->request_id = 99;
	gc_submit(gc, rd);
	for (int i = 0; i < 30; i++) { /* the read runs at once; its answer waits */
		assert_null(gc_take_done(gc));
		assert_int_equal(gc_in_flight(gc), 2);
		usleep(10000);
	}

	sem_post(&sync_release);
	gc_op *send = wait_done(gc);
	assert_int_equal(send->request_id, 2); /* send_op(…, 1) */
	assert_int_equal(send->status, 0);
	uint64_t seq = send->send.seq;
	gc_op *read = send->next ? send->next : wait_done(gc);
	send->next = NULL;
	gc_op_free(send);
	assert_int_equal(read->request_id, 99);
	assert_int_equal(read->status, 0);
	assert_int_equal(read->events.head_seq, seq);
	gc_op_free(read);
	assert_int_equal(gc_in_flight(gc), 0);
	assert_int_equal(atomic_load(&sync_calls), 1); /* the read group needed no sync */
	gc_stop(gc);
	gc_set_sync_fn(NULL);
	sem_destroy(&sync_entered);
	sem_destroy(&sync_release);
	rm_data_dir(dir);
}

/* commit_sync "inline": COMMIT syncs, the sync thread is not used */
static void inline_commits_do_not_use_the_sync_thread(void **state)
{
	(void)state;
	char *dir = tmp_data_dir();
	store_app_created app;
	store_conv conv;
	souk_store *s = open_with_conversation(dir, &app, &conv);
	atomic_store(&sync_calls, 0);
	gc_set_sync_fn(held_sync); /* would block: it must not be called */
	group_commit *gc = gc_start(s, 1024, 0, wake, NULL);
	assert_false(gc_pipelined(gc));
	gc_submit(gc, send_op(app.app_id, conv.conversation_id, 5));
	gc_op *op = wait_done(gc);
	assert_int_equal(op->status, 0);
	gc_op_free(op);
	assert_int_equal(atomic_load(&sync_calls), 0);
	gc_stop(gc);
	gc_set_sync_fn(NULL);
	rm_data_dir(dir);
}

static int failing_sync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

/* A failed fdatasync cannot be retried: soukd aborts, and the send is never answered. */
static void a_failed_sync_aborts_without_answering(void **state)
{
	(void)state;
	char *dir = tmp_data_dir();
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		store_app_created app;
		store_conv conv;
		souk_store *s = open_with_conversation(dir, &app, &conv);
		gc_set_sync_fn(failing_sync);
		group_commit *gc = gc_start(s, 1024, 1, wake, NULL);
		gc_submit(gc, send_op(app.app_id, conv.conversation_id, 7));
		for (int i = 0; i < 5000; i++) {
			if (gc_take_done(gc))
				_exit(3); /* answered although its sync failed */
			usleep(1000);
		}
		_exit(4); /* neither answered nor aborted */
	}
	int st = 0;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGABRT);
	rm_data_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(groups_commit_and_answer_in_order),
		cmocka_unit_test(failed_send_without_savepoint_does_not_poison_group),
		cmocka_unit_test(nothing_is_handed_back_before_its_sync),
		cmocka_unit_test(inline_commits_do_not_use_the_sync_thread),
		cmocka_unit_test(a_failed_sync_aborts_without_answering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
