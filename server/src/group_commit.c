/*
 * group_commit.c — the storage thread (see group_commit.h).
 *
 * Design note: durability and throughput coexist by batching. Every loop iteration takes
 * *all* queued operations (up to batch_max), runs the writes inside one BEGIN IMMEDIATE …
 * COMMIT with a savepoint per operation — so a refused request (unknown conversation, say)
 * undoes only itself; sends and device acks, which refuse before writing, skip it (see
 * run_writes) — and only after COMMIT has returned (WAL fsynced) are the results
 * handed back. If COMMIT fails, every write of the group is reported as a storage failure
 * and none of their appended events is announced: nothing unacknowledged is ever acked.
 * Reads run after the commit, in queue order, so a read queued after a write sees it.
 * The loop thread never waits for this thread; it is woken through `wake`.
 *
 * Pipelined commit sync (gc_start's `pipelined`, config commit_sync): COMMIT writes the
 * group's WAL frames but leaves their fdatasync to a second thread (souk-sync), so the
 * storage thread runs the next group while the disk works. Nothing changes about what
 * leaves soukd: a group — and every group after it, reads included, since they may have
 * seen its writes — is handed back only once an fdatasync that started after its COMMIT
 * returned has succeeded. A failed fdatasync cannot be retried (the kernel may have
 * dropped the pages and cleared the error), so soukd aborts without handing anything
 * back, and SQLite recovers from what reached the disk at the next start.
 */
#include "group_commit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "util.h"

#ifdef SOUK_TEST_UNSAFE_EARLY_ACK
#include <time.h>
#endif

struct group_commit {
	souk_store *store;
	size_t batch_max;
	void (*wake)(void *);
	void *wake_ud;

	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	gc_op *q_head, *q_tail;
	size_t queued;
	size_t running;
	gc_op *done_head, *done_tail;
	int stopping;

	/* pipelined commit sync: groups committed, waiting for (or in) an fdatasync */
	int pipelined;
	pthread_t sync_thread;
	pthread_cond_t sync_cv;
	gc_op *sync_head, *sync_tail;
	size_t sync_n; /* operations in the list and in the fdatasync running */
	int sync_fd;   /* to fdatasync for the list (-1: nothing committed since the last) */
	int syncing;   /* the sync thread is in an fdatasync */
	int sync_stopping;
};

/* what syncs a deferred commit: fdatasync, or a test's (gc_set_sync_fn) */
static int (*sync_fn)(int fd) = fdatasync;

void gc_set_sync_fn(int (*fn)(int fd))
{
	sync_fn = fn ? fn : fdatasync;
}

static void append(gc_op **head, gc_op **tail, gc_op *first, gc_op *last)
{
	if (*tail)
		(*tail)->next = first;
	else
		*head = first;
	*tail = last;
}

gc_op *gc_op_new(gc_kind kind)
{
	gc_op *op = calloc(1, sizeof(*op));
	if (op)
		op->kind = kind;
	return op;
}

void gc_op_free(gc_op *op)
{
	if (!op)
		return;
	souk_wire_frame_free(op->frame);
	free(op->conv);
	store_events_free(&op->events);
	if (op->app) {
		store_app_clear(op->app);
		free(op->app);
	}
	store_appends_clear(&op->appends);
	rest_call_free(op->rest);
	store_deliveries_free(&op->deliveries);
	for (size_t i = 0; i < op->n_busy; i++)
		free((void *)op->busy[i]);
	free(op->busy);
	free(op);
}

static int is_write(const gc_op *op)
{
	if (op->kind == GC_REST)
		return REST_IS_WRITE(op->rest->kind);
	return op->kind < GC_READ_EVENTS;
}

static int run_write(souk_store *s, gc_op *op)
{
	const struct souk_store_ops *o = s->ops;
	switch (op->kind) {
	case GC_SEND: {
		const Souk__V1__Send *snd = op->frame->send;
		store_send_req req = {
			.app_id = op->app_id,
			.user_id = op->user_id,
			.device_id = op->device_id,
			.client_msg_id = snd->client_msg_id.data,
			.conversation_id = snd->conversation_id,
			.content = snd->content,
			.sender_kind = SOUK__V1__SENDER_KIND__SENDER_SHOPPER,
			.sender_name = "",
			.now_ms = op->now_ms,
		};
		return o->send(s, &req, &op->send, &op->appends);
	}
	case GC_OPEN_SUPPORT:
		op->conv = calloc(1, sizeof(*op->conv));
		if (!op->conv)
			return -1;
		return o->open_support(s, op->app_id, op->user_id, op->now_ms, op->conv,
				       &op->appends);
	case GC_OPEN_CONVERSATION:
		op->conv = calloc(1, sizeof(*op->conv));
		if (!op->conv)
			return -1;
		return o->open_conversation(s, op->app_id, op->user_id, op->conversation_id,
					    op->conv);
	case GC_MARK_READ:
		return o->mark_read(s, op->app_id, op->user_id, op->conversation_id, op->seq,
				    op->now_ms, &op->appends);
	case GC_DEVICE_CONNECT:
		return o->device_connect(s, op->app_id, op->user_id, op->device_id, op->platform,
					 op->sdk_version, op->seq, op->now_ms, &op->head_seq);
	case GC_DEVICE_ACK:
		return o->device_ack(s, op->app_id, op->user_id, op->device_id, op->seq,
				     op->now_ms);
	case GC_UPDATE_CONTEXT:
		return o->update_context(s, op->app_id, op->user_id, op->conversation_id,
					 op->frame->update_context->context, op->now_ms);
	case GC_WEBHOOK_RESULT:
		return o->webhook_result(s, op->delivery_id, op->delivered, op->http_status,
					 op->error, op->now_ms, op->next_attempt_ms);
	case GC_REST:
		return o->rest(s, op->rest, &op->appends);
	default:
		return -1;
	}
}

static int run_read(souk_store *s, gc_op *op)
{
	switch (op->kind) {
	case GC_READ_EVENTS:
		return s->ops->read_events(s, op->app_id, op->user_id, op->seq, op->limit,
					   &op->events);
	case GC_LOAD_APP:
		op->app = calloc(1, sizeof(*op->app));
		if (!op->app)
			return -1;
		return s->ops->load_app(s, op->app_id, op->app);
	case GC_WEBHOOK_DUE:
		return s->ops->webhook_due(s, op->now_ms, op->limit, op->busy, op->n_busy,
					   &op->deliveries);
	case GC_REST:
		return s->ops->rest(s, op->rest, &op->appends);
	default:
		return -1;
	}
}

/* One write inside its own savepoint: a refused or failed one is undone alone and leaves
 * no outputs behind. */
static void run_write_alone(souk_store *s, gc_op *op)
{
	if (s->ops->savepoint(s)) {
		op->status = -1;
		return;
	}
	op->status = run_write(s, op);
	s->ops->release(s, op->status == 0);
	if (op->status != 0)
		store_appends_clear(&op->appends);
}

/* Writes that refuse (> 0) only before writing anything and whose outputs are reset when
 * run again (store.h): they need no savepoint of their own. */
static int needs_no_savepoint(const gc_op *op)
{
	return op->kind == GC_SEND || op->kind == GC_DEVICE_ACK;
}

static void reset_outputs(gc_op *op)
{
	op->status = 0;
	memset(&op->send, 0, sizeof(op->send));
	store_appends_clear(&op->appends);
}

/*
 * The writes of a group in one transaction. Each write normally runs inside its own
 * savepoint, so that a refused or failed one is undone alone. A group made only of sends
 * and device acks — the bulk of the traffic — first runs without savepoints (each one
 * costs a statement journal copy of every page the operation touches): their refusals
 * write nothing, so only a storage failure (< 0) can leave half an operation behind, and
 * then the whole transaction is rolled back and the group is run again the careful way.
 * Either way a failed operation never takes the others down with it.
 */
static int run_writes(souk_store *s, gc_op *batch, int careful)
{
	if (s->ops->begin(s) != 0) {
		for (gc_op *op = batch; op; op = op->next)
			if (is_write(op))
				op->status = -1;
		return -1;
	}
	for (gc_op *op = batch; op; op = op->next) {
		if (!is_write(op))
			continue;
		if (!careful) {
			op->status = run_write(s, op);
			if (op->status < 0) {
				s->ops->rollback(s);
				for (gc_op *o = batch; o; o = o->next)
					if (is_write(o))
						reset_outputs(o);
				return 1; /* run again, carefully */
			}
			if (op->status != 0)
				store_appends_clear(&op->appends);
			continue;
		}
		run_write_alone(s, op);
	}
	return 0;
}

/* Runs a group; returns the descriptor its commit left to fdatasync, or -1. */
static int run_batch(group_commit *gc, gc_op *batch, size_t n)
{
	souk_store *s = gc->store;
	int sync_fd = -1;
	size_t writes = 0;
	int careful = 0;
	for (gc_op *op = batch; op; op = op->next) {
		if (!is_write(op))
			continue;
		writes++;
		careful |= !needs_no_savepoint(op);
	}

	if (writes) {
		int64_t t0 = souk_mono_us();
		for (gc_op *op = batch; op; op = op->next)
			op->t_group_us = t0; /* souk_send_queue_seconds ends here */
		int rc = run_writes(s, batch, careful);
		if (rc > 0)
			rc = run_writes(s, batch, 1);
		int began = rc == 0;
		if (began && (gc->pipelined ? s->ops->commit_deferred(s, &sync_fd)
					    : s->ops->commit(s)) != 0) {
			sync_fd = -1;
			s->ops->rollback(s);
			began = 0;
			atomic_fetch_add(&g_metrics.commit_failures, 1);
			for (gc_op *op = batch; op; op = op->next) {
				if (is_write(op) && op->status == 0) {
					op->status = -1;
					store_appends_clear(&op->appends);
				}
			}
		}
		int64_t t1 = souk_mono_us();
		for (gc_op *op = batch; op; op = op->next)
			op->t_commit_us =
				t1; /* also after a failed COMMIT: the answer waits on it */
		if (began)
			metrics_observe_commit(writes, t1 - t0);
	}
	for (gc_op *op = batch; op; op = op->next)
		if (!is_write(op))
			op->status = run_read(s, op);
	(void)n;
	return sync_fd;
}

/* Hands a finished group back (gc->mu held): to the loop at once, or behind the syncs
 * still to come when its commit deferred one or an earlier group waits for one. Returns
 * whether the loop should be woken. */
static int finish_group(group_commit *gc, gc_op *batch, gc_op *last, size_t n, int sync_fd)
{
	if (sync_fd < 0 && !gc->sync_head && !gc->syncing) {
		append(&gc->done_head, &gc->done_tail, batch, last);
		return 1;
	}
	append(&gc->sync_head, &gc->sync_tail, batch, last);
	gc->sync_n += n;
	if (sync_fd >= 0)
		gc->sync_fd = sync_fd;
	pthread_cond_signal(&gc->sync_cv);
	return 0;
}

static void *sync_main(void *arg)
{
	group_commit *gc = arg;
	pthread_setname_np(pthread_self(), "souk-sync");
	pthread_mutex_lock(&gc->mu);
	for (;;) {
		while (!gc->sync_head && !gc->sync_stopping)
			pthread_cond_wait(&gc->sync_cv, &gc->mu);
		if (!gc->sync_head)
			break;
		gc_op *list = gc->sync_head, *last = gc->sync_tail;
		size_t n = gc->sync_n;
		int fd = gc->sync_fd;
		gc->sync_head = gc->sync_tail = NULL;
		gc->sync_fd = -1;
		gc->syncing = 1;
		pthread_mutex_unlock(&gc->mu);

		if (fd >= 0) {
			int64_t t0 = souk_mono_us();
			if (sync_fn(fd) != 0) {
				souk_log(SOUK_LOG_ERROR,
					 "fdatasync of the WAL failed (%s): stopping without "
					 "acknowledging the last groups; the next start recovers "
					 "from what reached the disk",
					 strerror(errno));
				abort();
			}
			metrics_observe_wal_sync(souk_mono_us() - t0);
		}

		pthread_mutex_lock(&gc->mu);
		append(&gc->done_head, &gc->done_tail, list, last);
		gc->sync_n -= n;
		gc->syncing = 0;
		pthread_mutex_unlock(&gc->mu);
		if (gc->wake)
			gc->wake(gc->wake_ud);
		pthread_mutex_lock(&gc->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	return NULL;
}

#ifdef SOUK_TEST_UNSAFE_EARLY_ACK
/*
 * TEST ONLY — compiled into soukd-unsafe-early-ack, never into soukd (server/CMakeLists.txt
 * refuses the option without SOUK_BUILD_TESTS and builds it as a separate binary).
 *
 * The deliberate bug the fault checker's control run must catch (tests/fault/): a group
 * with writes is handed back to the loop — which acks the sends and pushes their events —
 * while its transaction is still open, and COMMIT comes only after a hold. A SIGKILL in
 * that window loses writes that clients were told are durable. Returns 0 (nothing done)
 * for a group without writes, which takes the normal path.
 */
enum { UNSAFE_HOLD_MS = 100 };

static int unsafe_early_ack_batch(group_commit *gc, gc_op *batch, gc_op *last)
{
	souk_store *s = gc->store;
	size_t writes = 0;
	for (gc_op *op = batch; op; op = op->next)
		writes += is_write(op);
	if (!writes)
		return 0;
	int began = s->ops->begin(s) == 0;
	for (gc_op *op = batch; op; op = op->next) {
		if (!is_write(op))
			continue;
		if (!began) {
			op->status = -1;
			continue;
		}
		run_write_alone(s, op);
	}
	for (gc_op *op = batch; op; op = op->next)
		if (!is_write(op))
			op->status = run_read(s, op); /* same connection: sees the open writes */
	pthread_mutex_lock(&gc->mu);
	append(&gc->done_head, &gc->done_tail, batch, last);
	gc->running = 0;
	pthread_mutex_unlock(&gc->mu);
	if (gc->wake)
		gc->wake(gc->wake_ud); /* acked now: the ops belong to the loop from here on */
	struct timespec hold = {0, UNSAFE_HOLD_MS * 1000000L};
	nanosleep(&hold, NULL);
	if (began && s->ops->commit(s) != 0)
		s->ops->rollback(s);
	return 1;
}
#endif

static void *storage_main(void *arg)
{
	group_commit *gc = arg;
	pthread_setname_np(pthread_self(), "souk-storage"); /* top -H, perf, schedstat */
	pthread_mutex_lock(&gc->mu);
	for (;;) {
		while (!gc->q_head && !gc->stopping)
			pthread_cond_wait(&gc->cv, &gc->mu);
		if (!gc->q_head && gc->stopping)
			break;
		/* take up to batch_max queued operations */
		gc_op *batch = gc->q_head, *last = batch;
		size_t n = 1;
		while (last->next && n < gc->batch_max) {
			last = last->next;
			n++;
		}
		gc->q_head = last->next;
		if (!gc->q_head)
			gc->q_tail = NULL;
		last->next = NULL;
		gc->queued -= n;
		gc->running = n;
		atomic_store(&g_metrics.storage_queue, gc->queued);
		pthread_mutex_unlock(&gc->mu);

#ifdef SOUK_TEST_UNSAFE_EARLY_ACK
		if (unsafe_early_ack_batch(gc, batch, last)) {
			pthread_mutex_lock(&gc->mu);
			continue;
		}
#endif
		int sync_fd = run_batch(gc, batch, n);

		pthread_mutex_lock(&gc->mu);
		int wake = finish_group(gc, batch, last, n, sync_fd);
		gc->running = 0;
		pthread_mutex_unlock(&gc->mu);
		if (wake && gc->wake)
			gc->wake(gc->wake_ud);
		/* after the hand-back: a checkpoint delays the next group, never these acks */
		if (gc->store->ops->maintain)
			gc->store->ops->maintain(gc->store);
		pthread_mutex_lock(&gc->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	return NULL;
}

/* Lets the sync thread finish what it was given, then joins it (no-op when not pipelined). */
static void stop_sync_thread(group_commit *gc)
{
	if (!gc->pipelined)
		return;
	pthread_mutex_lock(&gc->mu);
	gc->sync_stopping = 1;
	pthread_cond_signal(&gc->sync_cv);
	pthread_mutex_unlock(&gc->mu);
	pthread_join(gc->sync_thread, NULL);
}

group_commit *gc_start(souk_store *store, size_t batch_max, int pipelined, void (*wake)(void *ud),
		       void *ud)
{
	group_commit *gc = calloc(1, sizeof(*gc));
	if (!gc)
		return NULL;
	gc->store = store;
	gc->batch_max = batch_max ? batch_max : 1024;
	gc->wake = wake;
	gc->wake_ud = ud;
	gc->sync_fd = -1;
	pthread_mutex_init(&gc->mu, NULL);
	pthread_cond_init(&gc->cv, NULL);
	pthread_cond_init(&gc->sync_cv, NULL);
	gc->pipelined = pipelined && store->ops->commit_deferred &&
			pthread_create(&gc->sync_thread, NULL, sync_main, gc) == 0;
	if (pthread_create(&gc->thread, NULL, storage_main, gc) != 0) {
		stop_sync_thread(gc);
		free(gc);
		return NULL;
	}
	return gc;
}

int gc_pipelined(const group_commit *gc)
{
	return gc->pipelined;
}

void gc_submit(group_commit *gc, gc_op *op)
{
	op->next = NULL;
	pthread_mutex_lock(&gc->mu);
	append(&gc->q_head, &gc->q_tail, op, op);
	gc->queued++;
	atomic_store(&g_metrics.storage_queue, gc->queued);
	pthread_cond_signal(&gc->cv);
	pthread_mutex_unlock(&gc->mu);
}

gc_op *gc_take_done(group_commit *gc)
{
	pthread_mutex_lock(&gc->mu);
	gc_op *list = gc->done_head;
	gc->done_head = gc->done_tail = NULL;
	pthread_mutex_unlock(&gc->mu);
	return list;
}

size_t gc_in_flight(group_commit *gc)
{
	pthread_mutex_lock(&gc->mu);
	size_t n = gc->queued + gc->running + gc->sync_n;
	pthread_mutex_unlock(&gc->mu);
	return n;
}

void gc_stop(group_commit *gc)
{
	if (!gc)
		return;
	pthread_mutex_lock(&gc->mu);
	gc->stopping = 1;
	pthread_cond_signal(&gc->cv);
	pthread_mutex_unlock(&gc->mu);
	pthread_join(gc->thread, NULL);
	stop_sync_thread(gc); /* the storage thread is gone: the last syncs, then this one */
	for (gc_op *op = gc->done_head, *next; op; op = next) {
		next = op->next;
		gc_op_free(op);
	}
	gc->store->ops->close(gc->store);
	pthread_mutex_destroy(&gc->mu);
	pthread_cond_destroy(&gc->cv);
	pthread_cond_destroy(&gc->sync_cv);
	free(gc);
}
