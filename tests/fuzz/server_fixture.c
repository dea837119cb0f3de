/* server_fixture.c — see server_fixture.h. */
#include "server_fixture.h"

#include <errno.h>
#include <jwt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "util.h"

fx_app fx_apps[FX_APPS];

static char work_dir[256];
static char db_path[300];
static uint8_t *tmpl;
static size_t tmpl_len;

/* the storage thread's wake-ups (lws_cancel_service in soukd) */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static uint64_t wake_gen;

static void on_wake(void *ud)
{
	(void)ud;
	pthread_mutex_lock(&wake_mu);
	wake_gen++;
	pthread_cond_broadcast(&wake_cv);
	pthread_mutex_unlock(&wake_mu);
}

static void make_dir(char *out, size_t cap, const char *what)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(out, cap, "%s/souk-fuzz-%s-XXXXXX", base, what);
	FUZZ_CHECK(mkdtemp(out) != NULL, "cannot create a scratch directory");
}

static void remove_db(const char *dir)
{
	static const char *const names[] = {"souk.db", "souk.db-wal", "souk.db-shm",
					    "souk.db-journal"};
	char p[400];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
}

static void cleanup(void)
{
	if (work_dir[0]) {
		remove_db(work_dir);
		rmdir(work_dir);
	}
}

void fx_init(void)
{
	if (tmpl)
		return;
	souk_log_level = -1; /* quiet: the refusals are expected */
	char tdir[256], err[256];
	make_dir(tdir, sizeof(tdir), "template");
	souk_store *s = store_sqlite_open(tdir, err, sizeof(err));
	FUZZ_CHECK(s != NULL, err);
	for (int i = 0; i < FX_APPS; i++) {
		store_app_created out;
		char name[32];
		snprintf(name, sizeof(name), "fuzz app %d", i);
		FUZZ_CHECK(s->ops->app_create(s, name, "", "", &out) == 0, "app_create");
		fx_app *a = &fx_apps[i];
		snprintf(a->app_id, sizeof(a->app_id), "%s", out.app_id);
		snprintf(a->api_key, sizeof(a->api_key), "%s", out.api_key);
		souk_sha256_hex(a->api_key, strlen(a->api_key), a->key_hash);
		/* a fixed secret per app, so that the harness signs tokens the server accepts */
		snprintf(a->secret, sizeof(a->secret), "fuzz-secret-of-app-%d-0123456789abcdef", i);
		FUZZ_CHECK(s->ops->app_add_key(s, a->app_id, "fz", "HS256", a->secret,
					       strlen(a->secret)) == 0,
			   "app_add_key");
	}
	for (int i = 0; i < FX_APPS; i++)
		for (int k = 0; k < FX_CONVS; k++) {
			char user[32];
			snprintf(user, sizeof(user), "shopper-%d", k);
			store_conv conv;
			store_appends ap = {0};
			memset(&conv, 0, sizeof(conv));
			FUZZ_CHECK(s->ops->begin(s) == 0 &&
					   s->ops->open_support(s, fx_apps[i].app_id, user,
								souk_now_ms(), &conv, &ap) == 0 &&
					   s->ops->commit(s) == 0,
				   "open_support in the template");
			store_appends_clear(&ap);
			snprintf(fx_apps[i].convs[k], STORE_ID_MAX, "%s", conv.conversation_id);
		}
	s->ops->close(s); /* checkpoints the WAL into souk.db */

	char p[400];
	snprintf(p, sizeof(p), "%s/souk.db", tdir);
	FILE *f = fopen(p, "rb");
	FUZZ_CHECK(f != NULL, "cannot read the template database");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	FUZZ_CHECK(n > 0, "empty template database");
	tmpl = malloc((size_t)n);
	FUZZ_CHECK(tmpl && fread(tmpl, 1, (size_t)n, f) == (size_t)n, "reading the template");
	tmpl_len = (size_t)n;
	fclose(f);
	remove_db(tdir);
	rmdir(tdir);

	make_dir(work_dir, sizeof(work_dir), "run");
	snprintf(db_path, sizeof(db_path), "%s/souk.db", work_dir);
	atexit(cleanup);
}

gateway *fx_gateway_new(const souk_config *cfg)
{
	fx_init();
	remove_db(work_dir);
	FILE *f = fopen(db_path, "wb");
	FUZZ_CHECK(f && fwrite(tmpl, 1, tmpl_len, f) == tmpl_len && fclose(f) == 0,
		   "writing the run's database");
	char err[256];
	souk_store *s = store_sqlite_open(work_dir, err, sizeof(err));
	FUZZ_CHECK(s != NULL, err);
	gateway *gw = calloc(1, sizeof(*gw));
	FUZZ_CHECK(gw != NULL, "out of memory");
	if (cfg)
		gw->cfg = *cfg;
	else
		config_defaults(&gw->cfg);
	gw->started_ms = souk_now_ms();
	gw->webhooks.due_pending = 1; /* no webhook scan: it needs the lws context */
	gw->gc = gc_start(s, (size_t)gw->cfg.commit_batch_max,
			  strcmp(gw->cfg.commit_sync, "pipelined") == 0, on_wake, gw);
	FUZZ_CHECK(gw->gc != NULL, "gc_start");
	return gw;
}

static void wait_idle(gateway *gw)
{
	pthread_mutex_lock(&wake_mu);
	for (;;) {
		uint64_t gen = wake_gen;
		if (gc_in_flight(gw->gc) == 0)
			break;
		while (gen == wake_gen)
			pthread_cond_wait(&wake_cv, &wake_mu);
	}
	pthread_mutex_unlock(&wake_mu);
}

size_t fx_settle(gateway *gw)
{
	size_t total = 0;
	for (;;) {
		wait_idle(gw);
		size_t n = gw_drain_completions(gw);
		total += n;
		if (n == 0 && gc_in_flight(gw->gc) == 0)
			return total;
	}
}

int fx_read_events(gateway *gw, const char *app_id, const char *user_id, uint64_t after,
		   uint32_t limit, store_events *out)
{
	memset(out, 0, sizeof(*out));
	fx_settle(gw); /* e.g. a closed connection's cursor write */
	gc_op *op = gc_op_new(GC_READ_EVENTS);
	FUZZ_CHECK(op != NULL, "out of memory");
	snprintf(op->app_id, sizeof(op->app_id), "%s", app_id);
	snprintf(op->user_id, sizeof(op->user_id), "%s", user_id);
	op->seq = after;
	op->limit = limit;
	gc_submit(gw->gc, op);
	wait_idle(gw);
	gc_op *done = gc_take_done(gw->gc);
	FUZZ_CHECK(done == op && op->next == NULL, "only the probe was in flight");
	int st = op->status;
	*out = op->events;
	memset(&op->events, 0, sizeof(op->events));
	gc_op_free(op);
	return st;
}

void fx_read_all(gateway *gw, const char *app_id, const char *user_id, store_events *all)
{
	memset(all, 0, sizeof(*all));
	uint64_t after = 0;
	for (;;) {
		store_events e;
		FUZZ_CHECK(fx_read_events(gw, app_id, user_id, after, SOUK_WIRE_MAX_SYNC_PAGE,
					  &e) == 0,
			   "reading a user's events");
		if (after == 0)
			all->head_seq = e.head_seq;
		FUZZ_CHECK(e.head_seq == all->head_seq, "the head does not move while settled");
		if (e.n) {
			all->v = realloc(all->v, (all->n + e.n) * sizeof(*all->v));
			all->seq = realloc(all->seq, (all->n + e.n) * sizeof(*all->seq));
			FUZZ_CHECK(all->v && all->seq, "out of memory");
		}
		for (size_t i = 0; i < e.n; i++) {
			FUZZ_CHECK(e.seq[i] == all->n + 1,
				   "a user's stream is dense (1, 2, 3, ...)");
			Souk__V1__Event *ev =
				souk__v1__event__unpack(NULL, e.v[i].len, e.v[i].data);
			FUZZ_CHECK(ev != NULL, "a stored event decodes");
			FUZZ_CHECK(ev->seq == e.seq[i], "a stored event carries its seq");
			souk__v1__event__free_unpacked(ev, NULL);
			all->v[all->n] = e.v[i];
			all->seq[all->n] = e.seq[i];
			all->n++;
			e.v[i].data = NULL;
		}
		int more = e.has_more;
		if (e.n)
			after = e.seq[e.n - 1];
		store_events_free(&e);
		if (!more)
			break;
	}
	FUZZ_CHECK(all->n == all->head_seq, "the head is the last event of a dense stream");
}

void fx_gateway_free(gateway *gw)
{
	gateway_free(gw); /* no lws context; gc_stop() finishes what is queued, closes the store */
}

char *fx_sign_token(const char *secret, const char *kid, const char *sub, int64_t exp, int64_t nbf)
{
	jwt_t *j = NULL;
	FUZZ_CHECK(jwt_new(&j) == 0, "jwt_new");
	FUZZ_CHECK(jwt_set_alg(j, JWT_ALG_HS256, (const unsigned char *)secret,
			       (int)strlen(secret)) == 0,
		   "jwt_set_alg");
	if (kid)
		jwt_add_header(j, "kid", kid);
	jwt_add_grant(j, "sub", sub);
	jwt_add_grant_int(j, "exp", (long)exp);
	if (nbf)
		jwt_add_grant_int(j, "nbf", (long)nbf);
	char *t = jwt_encode_str(j);
	jwt_free(j);
	FUZZ_CHECK(t != NULL, "jwt_encode_str");
	return t;
}
