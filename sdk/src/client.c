/*
 * client.c — the public client API: creation, lifecycle, the command queue to the SDK
 * thread, the event stream, and the calls that read or write the store.
 *
 * Threads. Public calls may come from any thread. They never touch the connection: they
 * enqueue a command and wake the SDK thread (lws_cancel_service). Store writes are
 * serialised through one write connection (wmu): the SDK thread does every write that
 * the protocol drives; send / resend / delete / mark-read / open-support commit on the
 * caller's thread so that they return only once durable — and never wait behind the
 * network (libwebsockets 4.1 resolves host names with a blocking getaddrinfo on the SDK
 * thread). Reads for the UI go through a second, query-only connection (rmu).
 *
 * Lock order: wmu -> emu, and mu is never held while taking wmu or rmu.
 */
#include "client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libwebsockets.h>

/* The client whose SDK thread is the calling thread, if any: calls that would wait for
 * that thread (stop, free, logout) refuse to run from inside its callbacks. */
static _Thread_local souk_client *sdk_thread_client;

void souk__session_mark_thread(souk_client *c);
void souk__session_mark_thread(souk_client *c)
{
	sdk_thread_client = c;
}

static int on_sdk_thread(const souk_client *c)
{
	return sdk_thread_client == c;
}

/* ---- options ---------------------------------------------------------------------------- */

int souk_client_options_init(souk_client_options *o, unsigned int version)
{
	souk__clear_error();
	if (!o)
		return souk__fail(NULL, SOUK_EINVAL, "options is NULL");
	if (version == 0 || version > SOUK_CLIENT_OPTIONS_VERSION)
		return souk__fail(NULL, SOUK_EINVAL, "unknown souk_client_options version");
	memset(o, 0, sizeof(*o));
	o->version = version;
	o->platform = SOUK_PLATFORM_UNSPECIFIED;
	o->log_level = SOUK_LOG_WARN;
	return SOUK_OK;
}

static int valid_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	return n > 0 && n <= SOUK_WIRE_MAX_ID && souk_wire_utf8_valid(s, n);
}

static int parse_url(souk_client *c, const char *url)
{
	const char *p;
	if (strncmp(url, "wss://", 6) == 0) {
		c->url_tls = 1;
		c->url_port = 443;
		p = url + 6;
	} else if (strncmp(url, "ws://", 5) == 0) {
		c->url_tls = 0;
		c->url_port = 80;
		p = url + 5;
	} else {
		return -1;
	}
	const char *host = p, *host_end;
	if (*p == '[') { /* IPv6 literal */
		host = p + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return -1;
		p = host_end + 1;
	} else {
		while (*p && *p != ':' && *p != '/')
			p++;
		host_end = p;
	}
	if (host_end == host || host_end - host > 253)
		return -1;
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (end == p + 1 || port < 1 || port > 65535)
			return -1;
		c->url_port = (int)port;
		p = end;
	}
	if (*p && *p != '/')
		return -1;
	c->url_host = strndup(host, (size_t)(host_end - host));
	c->url_path = souk__strdup(*p ? p : SOUK_WIRE_PATH);
	return c->url_host && c->url_path ? 0 : -1;
}

/* ---- create / free ------------------------------------------------------------------------ */

static void client_destroy(souk_client *c);

static int load_device_id(souk_client *c, const char *given)
{
	if (given) {
		c->device_id = souk__strdup(given);
		return c->device_id ? SOUK_OK : SOUK_ENOMEM;
	}
	int r = souk__state_get_text(c->wst, "device_id", &c->device_id);
	if (r != SOUK_OK || c->device_id)
		return r;
	uint8_t raw[16];
	if (souk__random(raw, sizeof(raw)) != 0)
		return SOUK_EINTERNAL;
	c->device_id = malloc(33);
	if (!c->device_id)
		return SOUK_ENOMEM;
	souk__hex(c->device_id, raw, sizeof(raw));
	return souk__state_set_text(c->wst, "device_id", c->device_id);
}

static int open_stores(souk_client *c, char *err, size_t errlen)
{
	int r = souk__store_open(&c->wst, c->db_path, c->key, 1, err, errlen);
	if (r == SOUK_OK)
		r = souk__store_open(&c->rst, c->db_path, c->key, 0, err, errlen);
	return r;
}

int souk_client_create(souk_client **out, const souk_client_options *o)
{
	souk__clear_error();
	if (!out) {
		if (o && o->log_destroy)
			o->log_destroy(o->log_user_data);
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	}
	*out = NULL;
	if (!o)
		return souk__fail(NULL, SOUK_EINVAL, "options is NULL");
	const char *why = NULL;
	if (o->version == 0 || o->version > SOUK_CLIENT_OPTIONS_VERSION)
		why = "unknown souk_client_options version (use souk_client_options_init)";
	else if (!o->server_url)
		why = "server_url is required";
	else if (!valid_id(o->app_id))
		why = "app_id is required (1..128 bytes of UTF-8)";
	else if (!o->db_path || !o->db_path[0])
		why = "db_path is required";
	else if (!o->db_key || o->db_key_len != 32)
		why = "db_key must be exactly 32 bytes";
	else if (o->device_id && !valid_id(o->device_id))
		why = "device_id must be 1..128 bytes of UTF-8";
	else if (o->platform < SOUK_PLATFORM_UNSPECIFIED || o->platform > SOUK_PLATFORM_DESKTOP)
		why = "platform is not a souk_platform value";
	if (why) {
		if (o->log_destroy)
			o->log_destroy(o->log_user_data);
		return souk__fail(NULL, SOUK_EINVAL, why);
	}

	souk_client *c = calloc(1, sizeof(*c));
	if (!c) {
		if (o->log_destroy)
			o->log_destroy(o->log_user_data);
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	}
	c->log.level = o->log_level;
	c->log.cb = o->log_cb;
	c->log.ud = o->log_user_data;
	c->log.destroy = o->log_destroy;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	pthread_mutex_init(&c->rmu, NULL);
	pthread_mutex_init(&c->emu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->econd, &ca);
	pthread_condattr_destroy(&ca);
	memcpy(c->key, o->db_key, 32);
	c->platform = o->platform;
	c->heartbeat_s = o->heartbeat_s ? o->heartbeat_s : 30;
	if (c->heartbeat_s > 3600)
		c->heartbeat_s = 3600;
	c->backoff_min_ms = o->reconnect_min_ms ? o->reconnect_min_ms : 500;
	c->backoff_max_ms = o->reconnect_max_ms ? o->reconnect_max_ms : 60000;
	if (c->backoff_max_ms < c->backoff_min_ms)
		c->backoff_max_ms = c->backoff_min_ms;
	c->max_events = o->max_queued_events ? o->max_queued_events : 10000;
	c->conn_state = SOUK_CONNECTION_STOPPED;

	int r = SOUK_OK;
	char err[256] = "";
	if (parse_url(c, o->server_url) != 0) {
		r = SOUK_EINVAL;
		snprintf(err, sizeof(err),
			 "server_url must be ws://host[:port][/path] or wss://...");
	} else if (!(c->app_id = souk__strdup(o->app_id)) ||
		   !(c->db_path = souk__strdup(o->db_path)) ||
		   (o->tls_ca_file && !(c->ca_file = souk__strdup(o->tls_ca_file)))) {
		r = SOUK_ENOMEM;
	} else if (o->tls_pins && souk__parse_pins(o->tls_pins, &c->pins, &c->npins) != 0) {
		r = SOUK_EINVAL;
		snprintf(err, sizeof(err),
			 "tls_pins must be base64 SHA-256 digests, comma separated");
	}
	if (r == SOUK_OK && c->url_tls)
		r = souk__tls_ctx_create(c, err, sizeof(err));
	if (r == SOUK_OK)
		r = open_stores(c, err, sizeof(err));
	if (r == SOUK_OK) {
		r = load_device_id(c, o->device_id);
		if (r != SOUK_OK)
			snprintf(err, sizeof(err), "cannot set up the device id: %s",
				 souk__store_errmsg(c->wst));
	}
	if (r != SOUK_OK) {
		souk__logf(&c->log, SOUK_LOG_ERROR, "souk_client_create failed: %s",
			   err[0] ? err : souk_strerror(r));
		client_destroy(c);
		return souk__fail(NULL, r, err[0] ? err : NULL);
	}
	souk__logf(&c->log, SOUK_LOG_INFO, "client created (libsouk %s, device %s)",
		   SOUK_VERSION_STRING, c->device_id);
	*out = c;
	return SOUK_OK;
}

static void free_cmds(souk__cmd *cmd)
{
	while (cmd) {
		souk__cmd *next = cmd->next;
		free(cmd);
		cmd = next;
	}
}

static void client_destroy(souk_client *c)
{
	souk__store_close(c->rst);
	souk__store_close(c->wst);
	free_cmds(c->cmd_head);
	souk_event *ev = c->eq_head;
	while (ev) {
		souk_event *next = ev->next;
		souk_event_free(ev);
		ev = next;
	}
	if (c->cb_destroy)
		c->cb_destroy(c->cb_ud);
	if (c->log.destroy)
		c->log.destroy(c->log.ud);
	if (c->token) {
		souk__wipe(c->token, strlen(c->token));
		free(c->token);
	}
	souk__wipe(c->key, sizeof(c->key));
	souk__tls_ctx_free(c);
	free(c->url_host);
	free(c->url_path);
	free(c->app_id);
	free(c->db_path);
	free(c->device_id);
	free(c->ca_file);
	free(c->pins);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->wmu);
	pthread_mutex_destroy(&c->rmu);
	pthread_mutex_destroy(&c->emu);
	pthread_cond_destroy(&c->econd);
	free(c);
}

void souk_client_free(souk_client *c)
{
	if (!c)
		return;
	if (on_sdk_thread(c)) {
		/* freeing from a callback would free the stack we run on */
		souk__logf(&c->log, SOUK_LOG_ERROR,
			   "souk_client_free called from a callback: ignored (leaks the client)");
		return;
	}
	souk_client_stop(c);
	client_destroy(c);
}

/* ---- commands to the SDK thread ------------------------------------------------------------ */

static void wake(souk_client *c)
{
	/* under mu: the SDK thread clears c->lws under mu before destroying the context */
	if (c->lws)
		lws_cancel_service(c->lws);
}

static int push_cmd(souk_client *c, int type, int64_t a, int b)
{
	souk__cmd *cmd = calloc(1, sizeof(*cmd));
	if (!cmd)
		return SOUK_ENOMEM;
	cmd->type = type;
	cmd->a = a;
	cmd->b = b;
	pthread_mutex_lock(&c->mu);
	/* "something changed" commands carry no data: one queued is enough (a stopped
	 * client would otherwise collect one per send) */
	if (type == SOUK__CMD_OUTBOX || type == SOUK__CMD_READS || type == SOUK__CMD_TOKEN ||
	    type == SOUK__CMD_CONTEXT) {
		for (souk__cmd *q = c->cmd_head; q; q = q->next) {
			if (q->type == type) {
				pthread_mutex_unlock(&c->mu);
				free(cmd);
				return SOUK_OK;
			}
		}
	}
	if (type == SOUK__CMD_TYPING && !c->started) {
		/* ephemeral: nobody would send it */
		pthread_mutex_unlock(&c->mu);
		free(cmd);
		return SOUK_OK;
	}
	if (c->cmd_tail)
		c->cmd_tail->next = cmd;
	else
		c->cmd_head = cmd;
	c->cmd_tail = cmd;
	wake(c);
	pthread_mutex_unlock(&c->mu);
	return SOUK_OK;
}

souk__cmd *souk__take_cmds(souk_client *c)
{
	pthread_mutex_lock(&c->mu);
	souk__cmd *cmd = c->cmd_head;
	c->cmd_head = c->cmd_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	return cmd;
}

char *souk__token_copy(souk_client *c)
{
	pthread_mutex_lock(&c->mu);
	char *t = c->logged_in && c->token ? souk__strdup(c->token) : NULL;
	pthread_mutex_unlock(&c->mu);
	return t;
}

void souk__set_conn_state(souk_client *c, int state)
{
	pthread_mutex_lock(&c->mu);
	c->conn_state = state;
	pthread_mutex_unlock(&c->mu);
}

/* ---- events -------------------------------------------------------------------------------- */

static void eq_append(souk_client *c, souk_event *ev)
{
	ev->next = NULL;
	ev->serial = ++c->serial;
	if (c->eq_tail)
		c->eq_tail->next = ev;
	else
		c->eq_head = ev;
	c->eq_tail = ev;
	c->eq_len++;
}

/* emu held */
static void eq_push(souk_client *c, souk_event *ev)
{
	if (c->eq_len >= c->max_events) {
		/* nobody is consuming: drop, and say so where the hole is */
		c->dropped = 1;
		souk_event_free(ev);
		return;
	}
	if (c->dropped) {
		souk_event *marker = souk__event_new(SOUK_EVENT_EVENTS_DROPPED);
		if (marker) {
			eq_append(c, marker);
			c->dropped = 0;
		}
	}
	eq_append(c, ev);
}

/* emu held: the next event, or NULL */
static souk_event *eq_pop(souk_client *c)
{
	souk_event *ev = c->eq_head;
	if (!ev && c->dropped) {
		ev = souk__event_new(SOUK_EVENT_EVENTS_DROPPED);
		if (ev) {
			ev->serial = ++c->serial;
			c->dropped = 0;
		}
		return ev;
	}
	if (ev) {
		c->eq_head = ev->next;
		if (!c->eq_head)
			c->eq_tail = NULL;
		c->eq_len--;
		ev->next = NULL;
	}
	return ev;
}

void souk__publish(souk_client *c, souk__evlist *l)
{
	if (!l->head) {
		souk__evlist_clear(l);
		return;
	}
	pthread_mutex_lock(&c->emu);
	int cb = c->cb != NULL;
	souk_event *ev = l->head;
	while (ev) {
		souk_event *next = ev->next;
		eq_push(c, ev);
		ev = next;
	}
	l->head = l->tail = NULL;
	pthread_cond_broadcast(&c->econd);
	pthread_mutex_unlock(&c->emu);
	souk__evlist_clear(l);
	/* also from the SDK thread: events published from a timer callback would otherwise
	 * wait for the next network event to be dispatched */
	if (cb) {
		pthread_mutex_lock(&c->mu);
		wake(c);
		pthread_mutex_unlock(&c->mu);
	}
}

void souk__publish_one(souk_client *c, souk_event *e)
{
	if (!e)
		return;
	souk__evlist l = {0};
	souk__evlist_push(&l, e);
	souk__publish(c, &l);
}

void souk__dispatch(souk_client *c)
{
	for (;;) {
		pthread_mutex_lock(&c->emu);
		souk_event_cb cb = c->cb;
		void *ud = c->cb_ud;
		souk_event *ev = cb ? eq_pop(c) : NULL;
		pthread_mutex_unlock(&c->emu);
		if (!ev)
			return;
		cb(ev, ud);
		souk_event_free(ev);
	}
}

int souk_client_set_event_callback(souk_client *c, souk_event_cb cb, void *ud,
				   souk_destroy_cb destroy)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	pthread_mutex_lock(&c->mu);
	int started = c->started;
	pthread_mutex_unlock(&c->mu);
	if (started)
		return souk__fail(c, SOUK_ESTATE,
				  "set the event callback while the client is stopped");
	pthread_mutex_lock(&c->emu);
	souk_destroy_cb old_destroy = c->cb_destroy;
	void *old_ud = c->cb_ud;
	c->cb = cb;
	c->cb_ud = ud;
	c->cb_destroy = destroy;
	pthread_cond_broadcast(&c->econd); /* pullers learn that pulling is over */
	pthread_mutex_unlock(&c->emu);
	if (old_destroy)
		old_destroy(old_ud);
	return SOUK_OK;
}

int souk_client_next_event(souk_event **out, souk_client *c, int timeout_ms)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	if (timeout_ms > 0) {
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&c->emu);
	int r = SOUK_OK;
	const char *why = NULL;
	for (;;) {
		if (c->cb) {
			r = SOUK_ESTATE;
			why = "events go to the registered callback";
			break;
		}
		souk_event *ev = eq_pop(c);
		if (ev) {
			*out = ev;
			break;
		}
		if (c->closed) {
			r = SOUK_ESTATE;
			why = "the client was stopped and every event has been returned";
			break;
		}
		if (timeout_ms == 0) {
			r = SOUK_ETIMEOUT;
			break;
		}
		if (timeout_ms < 0) {
			pthread_cond_wait(&c->econd, &c->emu);
		} else if (pthread_cond_timedwait(&c->econd, &c->emu, &deadline) == ETIMEDOUT &&
			   !c->eq_head && !c->dropped) {
			r = SOUK_ETIMEOUT;
			break;
		}
	}
	pthread_mutex_unlock(&c->emu);
	if (r == SOUK_ESTATE)
		return souk__fail(c, r, why);
	if (r == SOUK_ETIMEOUT)
		return souk__fail(c, r, "no event within the timeout");
	return r;
}

/* ---- lifecycle ------------------------------------------------------------------------------- */

int souk_client_start(souk_client *c)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (!c->wst)
		return souk__fail(c, SOUK_ESTATE, "the store is closed (a wipe failed)");
	pthread_mutex_lock(&c->mu);
	if (c->started) {
		pthread_mutex_unlock(&c->mu);
		return souk__fail(c, SOUK_ESTATE, "already started");
	}
	char err[200] = "";
	int r = souk__session_create(c, err, sizeof(err));
	if (r != SOUK_OK) {
		pthread_mutex_unlock(&c->mu);
		return souk__fail(c, r, err[0] ? err : NULL);
	}
	pthread_mutex_lock(&c->emu);
	c->closed = 0;
	pthread_mutex_unlock(&c->emu);
	c->stopping = 0;
	c->started = 1;
	if (pthread_create(&c->thread, NULL, souk__session_main, c) != 0) {
		c->started = 0;
		pthread_mutex_unlock(&c->mu);
		souk__session_destroy(c);
		return souk__fail(c, SOUK_EINTERNAL, "cannot create the SDK thread");
	}
	pthread_mutex_unlock(&c->mu);
	return SOUK_OK;
}

int souk_client_stop(souk_client *c)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (on_sdk_thread(c))
		return souk__fail(c, SOUK_ESTATE,
				  "souk_client_stop cannot be called from a callback");
	pthread_mutex_lock(&c->mu);
	if (!c->started) {
		pthread_mutex_unlock(&c->mu);
		pthread_mutex_lock(&c->emu);
		c->closed = 1;
		pthread_cond_broadcast(&c->econd);
		pthread_mutex_unlock(&c->emu);
		return SOUK_OK;
	}
	c->stopping = 1;
	wake(c);
	pthread_t t = c->thread;
	pthread_mutex_unlock(&c->mu);
	pthread_join(t, NULL);
	souk__session_destroy(c);
	pthread_mutex_lock(&c->mu);
	c->started = 0;
	c->stopping = 0;
	pthread_mutex_unlock(&c->mu);
	pthread_mutex_lock(&c->emu);
	c->closed = 1;
	pthread_cond_broadcast(&c->econd);
	pthread_mutex_unlock(&c->emu);
	return SOUK_OK;
}

static int check_token(const char *token)
{
	size_t n = token ? strlen(token) : 0;
	return n > 0 && n <= SOUK_WIRE_MAX_TOKEN && souk_wire_utf8_valid(token, n);
}

static int set_token(souk_client *c, const char *token, int login)
{
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (!check_token(token))
		return souk__fail(c, SOUK_EINVAL, "the token must be 1..4096 bytes of UTF-8");
	char *copy = souk__strdup(token);
	if (!copy)
		return souk__fail(c, SOUK_ENOMEM, NULL);
	pthread_mutex_lock(&c->mu);
	if (!login && !c->logged_in) {
		pthread_mutex_unlock(&c->mu);
		souk__wipe(copy, strlen(copy));
		free(copy);
		return souk__fail(c, SOUK_ESTATE, "not logged in: call souk_client_login");
	}
	if (c->token) {
		souk__wipe(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = copy;
	c->logged_in = 1;
	pthread_mutex_unlock(&c->mu);
	return push_cmd(c, SOUK__CMD_TOKEN, 0, 0) == SOUK_OK ? SOUK_OK
							     : souk__fail(c, SOUK_ENOMEM, NULL);
}

int souk_client_login(souk_client *c, const char *token)
{
	souk__clear_error();
	return set_token(c, token, 1);
}

int souk_client_set_token(souk_client *c, const char *token)
{
	souk__clear_error();
	return set_token(c, token, 0);
}

int souk_client_logout(souk_client *c, souk_logout_mode mode)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (mode != SOUK_LOGOUT_KEEP_DATA && mode != SOUK_LOGOUT_WIPE)
		return souk__fail(c, SOUK_EINVAL, "mode is not a souk_logout_mode value");
	if (on_sdk_thread(c))
		return souk__fail(c, SOUK_ESTATE,
				  "souk_client_logout cannot be called from a callback");
	pthread_mutex_lock(&c->mu);
	int was_started = c->started;
	pthread_mutex_unlock(&c->mu);
	if (was_started)
		souk_client_stop(c);
	pthread_mutex_lock(&c->mu);
	if (c->token) {
		souk__wipe(c->token, strlen(c->token));
		free(c->token);
		c->token = NULL;
	}
	c->logged_in = 0;
	pthread_mutex_unlock(&c->mu);
	int r = SOUK_OK;
	if (mode == SOUK_LOGOUT_WIPE) {
		char err[256] = "";
		pthread_mutex_lock(&c->wmu);
		pthread_mutex_lock(&c->rmu);
		souk__store_close(c->rst);
		souk__store_close(c->wst);
		c->rst = c->wst = NULL;
		if (souk__store_wipe_files(c->db_path) != 0) {
			r = SOUK_ESTORE;
			snprintf(err, sizeof(err), "cannot delete the database files: %s",
				 strerror(errno));
		}
		if (r == SOUK_OK)
			r = open_stores(c, err, sizeof(err));
		if (r == SOUK_OK)
			r = souk__state_set_text(c->wst, "device_id", c->device_id);
		if (r != SOUK_OK) {
			souk__store_close(c->rst);
			souk__store_close(c->wst);
			c->rst = c->wst = NULL;
		}
		pthread_mutex_unlock(&c->rmu);
		pthread_mutex_unlock(&c->wmu);
		if (r != SOUK_OK) {
			souk__logf(&c->log, SOUK_LOG_ERROR, "logout wipe failed: %s", err);
			return souk__fail(c, r, err[0] ? err : NULL);
		}
		souk__logf(&c->log, SOUK_LOG_INFO, "logged out; local data wiped");
	} else {
		/* no TOKEN_NEEDED at the next start: the user left on purpose */
		pthread_mutex_lock(&c->wmu);
		r = c->wst ? souk__state_delete(c->wst, "session") : SOUK_ESTATE;
		pthread_mutex_unlock(&c->wmu);
		if (r != SOUK_OK)
			return souk__fail(c, r, "cannot record the logout");
		souk__logf(&c->log, SOUK_LOG_INFO, "logged out; local data kept");
	}
	if (was_started)
		return souk_client_start(c);
	return SOUK_OK;
}

int souk_client_hint(souk_client *c, souk_hint hint)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (hint < SOUK_HINT_NETWORK_CHANGED || hint > SOUK_HINT_PUSH_RECEIVED)
		return souk__fail(c, SOUK_EINVAL, "hint is not a souk_hint value");
	if (push_cmd(c, SOUK__CMD_HINT, 0, (int)hint) != SOUK_OK)
		return souk__fail(c, SOUK_ENOMEM, NULL);
	return SOUK_OK;
}

souk_connection_state souk_client_get_connection_state(souk_client *c)
{
	if (!c)
		return SOUK_CONNECTION_STOPPED;
	pthread_mutex_lock(&c->mu);
	int s = c->conn_state;
	pthread_mutex_unlock(&c->mu);
	return (souk_connection_state)s;
}

const char *souk_client_get_device_id(souk_client *c)
{
	return c && c->device_id ? c->device_id : "";
}

/* ---- writes on the caller's thread -------------------------------------------------------- */

#define WRITE_BEGIN(c)                                                                             \
	pthread_mutex_lock(&(c)->wmu);                                                             \
	if (!(c)->wst) {                                                                           \
		pthread_mutex_unlock(&(c)->wmu);                                                   \
		return souk__fail((c), SOUK_ESTATE, "the store is closed (a wipe failed)");        \
	}

/* Finishes a write: publishes its events (under wmu, so the stream follows commit order)
 * and records an error message. */
static int write_end(souk_client *c, int r, souk__evlist *ev, const char *notfound)
{
	const char *msg = NULL;
	char buf[256];
	if (r == SOUK_OK) {
		souk__publish(c, ev);
	} else {
		souk__evlist_clear(ev);
		if (r == SOUK_ENOTFOUND)
			msg = notfound;
		else if (r == SOUK_ESTORE || r == SOUK_ENOMEM) {
			snprintf(buf, sizeof(buf), "%s", souk__store_errmsg(c->wst));
			msg = buf;
		}
	}
	pthread_mutex_unlock(&c->wmu);
	if (r != SOUK_OK) {
		if (r == SOUK_ESTORE)
			souk__logf(&c->log, SOUK_LOG_ERROR, "store write failed: %s", msg);
		return souk__fail(c, r, msg);
	}
	return SOUK_OK;
}

/* Validates, encodes and commits a message with its outbox entry (every send_* call). */
static int send_pb(souk_client *c, int64_t *out_id, int64_t conv_id,
		   const Souk__V1__Content *content)
{
	/* Only the protocol maximum here: a server configured lower refuses the message
	 * (MESSAGE_TOO_LARGE) and it becomes FAILED, which the app can show. */
	const char *why = NULL;
	int r = souk__content_check(content, &why);
	if (r != SOUK_OK)
		return souk__fail(c, r, why);
	size_t len = souk__v1__content__get_packed_size(content);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return souk__fail(c, SOUK_ENOMEM, NULL);
	souk__v1__content__pack(content, buf);
	souk__evlist ev = {0};
	int64_t id = 0;
	WRITE_BEGIN(c);
	r = souk__outbox_add(c->wst, conv_id, buf, len, souk__now_ms(), &id, &ev);
	free(buf);
	r = write_end(c, r, &ev, "no such conversation");
	if (r != SOUK_OK)
		return r;
	souk__logf(&c->log, SOUK_LOG_DEBUG, "message %lld queued (%zu bytes, kind %d)",
		   (long long)id, len, (int)content->kind_case);
	if (out_id)
		*out_id = id;
	push_cmd(c, SOUK__CMD_OUTBOX, 0, 0); /* if this fails the next wake-up sends it */
	return SOUK_OK;
}

static int send_text(souk_client *c, int64_t *out_id, int64_t conv_id, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	if (n == 0)
		return souk__fail(c, SOUK_EINVAL, "text is empty");
	if (!souk_wire_utf8_valid(text, n))
		return souk__fail(c, SOUK_EINVAL, "text is not valid UTF-8");
	Souk__V1__Text t = SOUK__V1__TEXT__INIT;
	t.body = (char *)text;
	Souk__V1__Content content = SOUK__V1__CONTENT__INIT;
	content.kind_case = SOUK__V1__CONTENT__KIND_TEXT;
	content.text = &t;
	int r = send_pb(c, out_id, conv_id, &content);
	if (r == SOUK_ETOOLARGE)
		souk__fail(c, r, "the text is over the 16 KiB message limit");
	return r;
}

int souk_client_send_text(int64_t *out_id, souk_client *c, int64_t conv_id, const char *text)
{
	souk__clear_error();
	if (out_id)
		*out_id = 0;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	return send_text(c, out_id, conv_id, text);
}

int souk_client_send_content(int64_t *out_id, souk_client *c, int64_t conv_id,
			     const souk_content *content)
{
	souk__clear_error();
	if (out_id)
		*out_id = 0;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (!content)
		return souk__fail(c, SOUK_EINVAL, "content is NULL");
	return send_pb(c, out_id, conv_id, content->pb);
}

/* A snapshot of message `msg_id`, which must be in conversation `conv_id`. */
static int load_in_conversation(souk_client *c, int64_t conv_id, int64_t msg_id, souk_message **out)
{
	*out = NULL;
	pthread_mutex_lock(&c->rmu);
	int r = c->rst ? souk__load_message(c->rst, msg_id, out) : SOUK_ESTATE;
	pthread_mutex_unlock(&c->rmu);
	if (r == SOUK_OK && (*out)->conv_id != conv_id) {
		souk_message_free(*out);
		*out = NULL;
		r = SOUK_ENOTFOUND;
	}
	if (r == SOUK_ENOTFOUND)
		return souk__fail(c, r, "no such message in the conversation");
	if (r == SOUK_ESTATE)
		return souk__fail(c, r, "the store is closed (a wipe failed)");
	return r == SOUK_OK ? SOUK_OK : souk__fail(c, r, NULL);
}

int souk_client_send_quick_reply(int64_t *out_id, souk_client *c, int64_t conv_id,
				 int64_t message_id, const char *reply_id)
{
	souk__clear_error();
	if (out_id)
		*out_id = 0;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (!reply_id)
		return souk__fail(c, SOUK_EINVAL, "reply_id is NULL");
	souk_message *m = NULL;
	int r = load_in_conversation(c, conv_id, message_id, &m);
	if (r != SOUK_OK)
		return r;
	const souk_content *qr = m->content;
	const char *title = NULL;
	for (size_t i = 0; i < souk_content_get_quick_reply_count(qr); i++) {
		const char *id = souk_content_get_quick_reply_id(qr, i);
		if (id && strcmp(id, reply_id) == 0) {
			title = souk_content_get_quick_reply_title(qr, i);
			break;
		}
	}
	if (souk_content_get_kind(qr) != SOUK_CONTENT_QUICK_REPLIES)
		r = souk__fail(c, SOUK_EINVAL, "the message is not a quick replies message");
	else if (!title)
		r = souk__fail(c, SOUK_EINVAL, "the message has no reply with that id");
	else
		r = send_text(c, out_id, conv_id, title);
	souk_message_free(m);
	return r;
}

int souk_client_answer_csat(int64_t *out_id, souk_client *c, int64_t conv_id,
			    int64_t survey_message_id, uint32_t rating, const char *comment)
{
	souk__clear_error();
	if (out_id)
		*out_id = 0;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	souk_message *m = NULL;
	int r = load_in_conversation(c, conv_id, survey_message_id, &m);
	if (r != SOUK_OK)
		return r;
	const souk_content *sv = m->content;
	uint32_t scale = souk_content_get_csat_scale(sv);
	const char *survey_id = souk_content_get_csat_survey_id(sv);
	if (souk_content_get_kind(sv) != SOUK_CONTENT_CSAT_SURVEY || !survey_id) {
		r = souk__fail(c, SOUK_EINVAL, "the message is not a CSAT survey");
	} else if (rating < 1 || rating > scale) {
		char msg[96];
		snprintf(msg, sizeof(msg), "rating must be within 1..%u", scale);
		r = souk__fail(c, SOUK_EINVAL, msg);
	} else if (comment && !souk_wire_utf8_valid(comment, strlen(comment))) {
		r = souk__fail(c, SOUK_EINVAL, "comment is not valid UTF-8");
	} else {
		Souk__V1__CsatAnswer a = SOUK__V1__CSAT_ANSWER__INIT;
		a.survey_id = (char *)survey_id;
		a.rating = rating;
		if (comment)
			a.comment = (char *)comment;
		/* the fallback for agents' tools that do not render answers; a comment too long
		 * for it is still in the answer itself */
		char fallback[512];
		snprintf(fallback, sizeof(fallback), "Rated %u/%u%s%s", rating, scale,
			 comment && comment[0] ? ": " : "", comment ? comment : "");
		if (comment && strlen(comment) > 400)
			snprintf(fallback, sizeof(fallback), "Rated %u/%u", rating, scale);
		Souk__V1__Content content = SOUK__V1__CONTENT__INIT;
		content.fallback_text = fallback;
		content.kind_case = SOUK__V1__CONTENT__KIND_CSAT_ANSWER;
		content.csat_answer = &a;
		r = send_pb(c, out_id, conv_id, &content);
	}
	souk_message_free(m);
	return r;
}

int souk_client_set_context(souk_client *c, int64_t conv_id, const souk_context *x)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (!x)
		return souk__fail(c, SOUK_EINVAL, "context is NULL (set an empty one to clear it)");
	const char *why = NULL;
	int r = souk__context_check(x, &why);
	if (r != SOUK_OK)
		return souk__fail(c, r, why);
	uint8_t *buf = NULL;
	size_t len = 0;
	if (souk__context_encode(x, &buf, &len) != SOUK_OK)
		return souk__fail(c, SOUK_ENOMEM, NULL);
	souk__evlist ev = {0};
	WRITE_BEGIN(c);
	r = souk__context_put(c->wst, conv_id, buf, len, souk__now_ms());
	free(buf);
	r = write_end(c, r, &ev, "no such conversation");
	if (r != SOUK_OK)
		return r;
	souk__logf(&c->log, SOUK_LOG_DEBUG, "context of conversation %lld queued (%zu bytes)",
		   (long long)conv_id, len);
	push_cmd(c, SOUK__CMD_CONTEXT, 0, 0);
	return SOUK_OK;
}

int souk_client_resend(souk_client *c, int64_t message_id)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	souk__evlist ev = {0};
	WRITE_BEGIN(c);
	int r = souk__outbox_resend(c->wst, message_id, &ev);
	if (r == SOUK_ESTATE) {
		souk__evlist_clear(&ev);
		pthread_mutex_unlock(&c->wmu);
		return souk__fail(c, r, "only a FAILED message can be resent");
	}
	r = write_end(c, r, &ev, "no such message");
	if (r == SOUK_OK)
		push_cmd(c, SOUK__CMD_OUTBOX, 0, 0);
	return r;
}

int souk_client_delete_failed(souk_client *c, int64_t message_id)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	souk__evlist ev = {0};
	WRITE_BEGIN(c);
	int r = souk__outbox_delete_failed(c->wst, message_id, &ev);
	if (r == SOUK_ESTATE) {
		souk__evlist_clear(&ev);
		pthread_mutex_unlock(&c->wmu);
		return souk__fail(c, r, "only a FAILED message can be deleted");
	}
	return write_end(c, r, &ev, "no such message");
}

int souk_client_open_support_conversation(int64_t *out, souk_client *c)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = 0;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	souk__evlist ev = {0};
	WRITE_BEGIN(c);
	int r = souk__conv_open_support(c->wst, out, &ev);
	r = write_end(c, r, &ev, NULL);
	if (r == SOUK_OK)
		push_cmd(c, SOUK__CMD_OUTBOX, 0, 0);
	return r;
}

int souk_client_mark_read(souk_client *c, int64_t conv_id, int64_t up_to_message_id)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (up_to_message_id < 0)
		return souk__fail(c, SOUK_EINVAL, "up_to_message_id is negative");
	souk__evlist ev = {0};
	WRITE_BEGIN(c);
	int r = souk__conv_mark_read(c->wst, conv_id, up_to_message_id, &ev);
	r = write_end(c, r, &ev, "no such conversation, or the message is not in it");
	if (r == SOUK_OK)
		push_cmd(c, SOUK__CMD_READS, 0, 0);
	return r;
}

int souk_client_set_typing(souk_client *c, int64_t conv_id, int on)
{
	souk__clear_error();
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (conv_id <= 0)
		return souk__fail(c, SOUK_EINVAL, "conversation_id must be > 0");
	if (push_cmd(c, SOUK__CMD_TYPING, conv_id, on ? 1 : 0) != SOUK_OK)
		return souk__fail(c, SOUK_ENOMEM, NULL);
	return SOUK_OK;
}

/* ---- reads on the UI connection -------------------------------------------------------------- */

#define READ_BEGIN(c)                                                                              \
	pthread_mutex_lock(&(c)->rmu);                                                             \
	if (!(c)->rst) {                                                                           \
		pthread_mutex_unlock(&(c)->rmu);                                                   \
		return souk__fail((c), SOUK_ESTATE, "the store is closed (a wipe failed)");        \
	}

static int read_end(souk_client *c, int r, const char *notfound)
{
	char buf[256];
	const char *msg = NULL;
	if (r == SOUK_ENOTFOUND)
		msg = notfound;
	else if (r != SOUK_OK) {
		snprintf(buf, sizeof(buf), "%s", souk__store_errmsg(c->rst));
		msg = buf;
	}
	pthread_mutex_unlock(&c->rmu);
	return r == SOUK_OK ? SOUK_OK : souk__fail(c, r, msg);
}

int souk_client_get_message(souk_message **out, souk_client *c, int64_t id)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	READ_BEGIN(c);
	return read_end(c, souk__load_message(c->rst, id, out), "no such message");
}

int souk_client_list_messages(souk_message_list **out, souk_client *c, int64_t conv_id,
			      int64_t anchor, souk_page_direction dir, unsigned limit)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	if (dir != SOUK_PAGE_BEFORE && dir != SOUK_PAGE_AFTER)
		return souk__fail(c, SOUK_EINVAL, "direction is not a souk_page_direction value");
	if (anchor < 0)
		return souk__fail(c, SOUK_EINVAL, "anchor_message_id is negative");
	READ_BEGIN(c);
	int r = SOUK_OK;
	if (!souk__conv_exists(c->rst, conv_id))
		r = SOUK_ENOTFOUND;
	if (r == SOUK_OK)
		r = souk__list_messages(c->rst, conv_id, anchor, (int)dir, limit, out);
	return read_end(c, r, "no such conversation, or the anchor is not in it");
}

int souk_client_outbox_count(size_t *out, souk_client *c)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = 0;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	READ_BEGIN(c);
	return read_end(c, souk__outbox_count(c->rst, out), NULL);
}

int souk_client_list_conversations(souk_conversation_list **out, souk_client *c)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	READ_BEGIN(c);
	return read_end(c, souk__list_conversations(c->rst, out), NULL);
}

int souk_client_get_conversation(souk_conversation **out, souk_client *c, int64_t id)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	READ_BEGIN(c);
	return read_end(c, souk__load_conversation(c->rst, id, out), "no such conversation");
}

int souk_client_list_pushes(souk_push_list **out, souk_client *c, unsigned limit)
{
	souk__clear_error();
	if (!out)
		return souk__fail(c, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "client is NULL");
	READ_BEGIN(c);
	return read_end(c, souk__list_pushes(c->rst, limit, out), NULL);
}
