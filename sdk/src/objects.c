/*
 * objects.c — the immutable snapshots handed to the app: messages, conversations,
 * events, and the lists of them.
 *
 * Owns: their memory and getters. Never: touches the store or the client; a snapshot
 * outlives both, so bindings can hand it to a garbage collector.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

char *souk__strdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* ---- messages ------------------------------------------------------------------------ */

void souk__message_free_fields(souk_message *m)
{
	free(m->server_id);
	free(m->sender_id);
	free(m->sender_name);
	free(m->sender_avatar_url);
	free(m->text);
	free(m->failure_reason);
	souk_content_free(m->content);
}

int64_t souk_message_get_id(const souk_message *m)
{
	return m->id;
}

int64_t souk_message_get_conversation_id(const souk_message *m)
{
	return m->conv_id;
}

const char *souk_message_get_server_id(const souk_message *m)
{
	return m->server_id;
}

const char *souk_message_get_client_msg_id(const souk_message *m)
{
	return m->cmid_hex;
}

uint64_t souk_message_get_conv_seq(const souk_message *m)
{
	return m->conv_seq;
}

const char *souk_message_get_sender_id(const souk_message *m)
{
	return m->sender_id;
}

souk_sender_kind souk_message_get_sender_kind(const souk_message *m)
{
	return (souk_sender_kind)m->sender_kind;
}

const char *souk_message_get_sender_name(const souk_message *m)
{
	return m->sender_name;
}

const char *souk_message_get_sender_avatar_url(const souk_message *m)
{
	return m->sender_avatar_url;
}

int souk_message_is_outgoing(const souk_message *m)
{
	return m->outgoing;
}

souk_message_status souk_message_get_status(const souk_message *m)
{
	return (souk_message_status)m->status;
}

souk_content_kind souk_message_get_content_kind(const souk_message *m)
{
	return (souk_content_kind)m->content_kind;
}

const souk_content *souk_message_get_content(const souk_message *m)
{
	return m->content;
}

const char *souk_message_get_text(const souk_message *m)
{
	return m->text ? m->text : "";
}

int souk_message_get_failure_code(const souk_message *m)
{
	return m->failure_code;
}

const char *souk_message_get_failure_reason(const souk_message *m)
{
	return m->failure_reason;
}

int64_t souk_message_get_created_ms(const souk_message *m)
{
	return m->created_ms;
}

int64_t souk_message_get_server_time_ms(const souk_message *m)
{
	return m->server_time_ms;
}

static int dup_field(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = souk__strdup(src);
	return *dst ? 0 : -1;
}

int souk_message_copy(souk_message **out, const souk_message *m)
{
	if (!out)
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!m)
		return souk__fail(NULL, SOUK_EINVAL, "message is NULL");
	souk_message *c = malloc(sizeof(*c));
	if (!c)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	*c = *m;
	c->server_id = c->sender_id = c->sender_name = c->text = c->failure_reason = NULL;
	c->sender_avatar_url = NULL;
	c->content = NULL;
	if (dup_field(&c->server_id, m->server_id) || dup_field(&c->sender_id, m->sender_id) ||
	    dup_field(&c->sender_name, m->sender_name) ||
	    dup_field(&c->sender_avatar_url, m->sender_avatar_url) ||
	    dup_field(&c->text, m->text) || dup_field(&c->failure_reason, m->failure_reason) ||
	    (m->content && souk_content_copy(&c->content, m->content) != SOUK_OK)) {
		souk_message_free(c);
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	}
	*out = c;
	return SOUK_OK;
}

void souk_message_free(souk_message *m)
{
	if (!m)
		return;
	souk__message_free_fields(m);
	free(m);
}

size_t souk_message_list_count(const souk_message_list *l)
{
	return l->n;
}

const souk_message *souk_message_list_get(const souk_message_list *l, size_t i)
{
	return i < l->n ? l->items[i] : NULL;
}

void souk_message_list_free(souk_message_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		souk_message_free(l->items[i]);
	free(l->items);
	free(l);
}

/* ---- conversations -------------------------------------------------------------------- */

int64_t souk_conversation_get_id(const souk_conversation *c)
{
	return c->id;
}

const char *souk_conversation_get_server_id(const souk_conversation *c)
{
	return c->server_id;
}

int souk_conversation_is_support(const souk_conversation *c)
{
	return c->is_support;
}

souk_conversation_kind souk_conversation_get_kind(const souk_conversation *c)
{
	return (souk_conversation_kind)c->kind;
}

const char *souk_conversation_get_controller(const souk_conversation *c)
{
	return c->controller;
}

const char *souk_conversation_get_assignee(const souk_conversation *c)
{
	return c->assignee;
}

souk_conversation_status souk_conversation_get_status(const souk_conversation *c)
{
	return (souk_conversation_status)c->status;
}

uint64_t souk_conversation_get_unread_count(const souk_conversation *c)
{
	return c->unread;
}

uint64_t souk_conversation_get_read_up_to(const souk_conversation *c)
{
	return c->read_up_to;
}

uint64_t souk_conversation_get_peer_read_up_to(const souk_conversation *c)
{
	return c->peer_read_up_to;
}

uint64_t souk_conversation_get_last_conv_seq(const souk_conversation *c)
{
	return c->last_conv_seq;
}

const souk_message *souk_conversation_get_last_message(const souk_conversation *c)
{
	return c->last;
}

int souk_conversation_copy(souk_conversation **out, const souk_conversation *c)
{
	if (!out)
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!c)
		return souk__fail(NULL, SOUK_EINVAL, "conversation is NULL");
	souk_conversation *n = malloc(sizeof(*n));
	if (!n)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	*n = *c;
	n->server_id = NULL;
	n->controller = n->assignee = NULL;
	n->last = NULL;
	if (dup_field(&n->server_id, c->server_id) || dup_field(&n->controller, c->controller) ||
	    dup_field(&n->assignee, c->assignee) ||
	    (c->last && souk_message_copy(&n->last, c->last) != SOUK_OK)) {
		souk_conversation_free(n);
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	}
	*out = n;
	return SOUK_OK;
}

void souk_conversation_free(souk_conversation *c)
{
	if (!c)
		return;
	free(c->server_id);
	free(c->controller);
	free(c->assignee);
	souk_message_free(c->last);
	free(c);
}

size_t souk_conversation_list_count(const souk_conversation_list *l)
{
	return l->n;
}

const souk_conversation *souk_conversation_list_get(const souk_conversation_list *l, size_t i)
{
	return i < l->n ? l->items[i] : NULL;
}

void souk_conversation_list_free(souk_conversation_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		souk_conversation_free(l->items[i]);
	free(l->items);
	free(l);
}

/* ---- pushes ------------------------------------------------------------------------------- */

void souk__push_free_fields(souk_push *p)
{
	free(p->push_id);
	free(p->title);
	free(p->body);
	free(p->image_url);
	free(p->deep_link);
	souk_content_free(p->product);
}

const char *souk_push_get_id(const souk_push *p)
{
	return p->push_id ? p->push_id : "";
}

const char *souk_push_get_title(const souk_push *p)
{
	return p->title;
}

const char *souk_push_get_body(const souk_push *p)
{
	return p->body;
}

const char *souk_push_get_image_url(const souk_push *p)
{
	return p->image_url;
}

const char *souk_push_get_deep_link(const souk_push *p)
{
	return p->deep_link;
}

const souk_content *souk_push_get_product(const souk_push *p)
{
	return p->product;
}

int64_t souk_push_get_server_time_ms(const souk_push *p)
{
	return p->server_time_ms;
}

int souk_push_copy(souk_push **out, const souk_push *p)
{
	if (!out)
		return souk__fail(NULL, SOUK_EINVAL, "out is NULL");
	*out = NULL;
	if (!p)
		return souk__fail(NULL, SOUK_EINVAL, "push is NULL");
	souk_push *n = calloc(1, sizeof(*n));
	if (!n)
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	n->id = p->id;
	n->server_time_ms = p->server_time_ms;
	if (dup_field(&n->push_id, p->push_id) || dup_field(&n->title, p->title) ||
	    dup_field(&n->body, p->body) || dup_field(&n->image_url, p->image_url) ||
	    dup_field(&n->deep_link, p->deep_link) ||
	    (p->product && souk_content_copy(&n->product, p->product) != SOUK_OK)) {
		souk_push_free(n);
		return souk__fail(NULL, SOUK_ENOMEM, NULL);
	}
	*out = n;
	return SOUK_OK;
}

void souk_push_free(souk_push *p)
{
	if (!p)
		return;
	souk__push_free_fields(p);
	free(p);
}

size_t souk_push_list_count(const souk_push_list *l)
{
	return l->n;
}

const souk_push *souk_push_list_get(const souk_push_list *l, size_t i)
{
	return i < l->n ? l->items[i] : NULL;
}

void souk_push_list_free(souk_push_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		souk_push_free(l->items[i]);
	free(l->items);
	free(l);
}

/* ---- events ------------------------------------------------------------------------------ */

souk_event *souk__event_new(int type)
{
	souk_event *ev = calloc(1, sizeof(*ev));
	if (ev)
		ev->type = type;
	return ev;
}

souk_event_type souk_event_get_type(const souk_event *ev)
{
	return (souk_event_type)ev->type;
}

uint64_t souk_event_get_serial(const souk_event *ev)
{
	return ev->serial;
}

const souk_message *souk_event_get_message(const souk_event *ev)
{
	return ev->msg;
}

const souk_conversation *souk_event_get_conversation(const souk_event *ev)
{
	return ev->conv;
}

const souk_push *souk_event_get_push(const souk_event *ev)
{
	return ev->push;
}

int64_t souk_event_get_conversation_id(const souk_event *ev)
{
	return ev->conv_id;
}

const char *souk_event_get_user_id(const souk_event *ev)
{
	return ev->user_id;
}

int souk_event_get_typing(const souk_event *ev)
{
	return ev->typing;
}

souk_connection_state souk_event_get_connection_state(const souk_event *ev)
{
	return (souk_connection_state)ev->state;
}

int souk_event_get_error(const souk_event *ev)
{
	return ev->error;
}

int souk_event_get_wire_code(const souk_event *ev)
{
	return ev->wire_code;
}

const char *souk_event_get_error_message(const souk_event *ev)
{
	return ev->error_message;
}

void souk_event_free(souk_event *ev)
{
	if (!ev)
		return;
	souk_message_free(ev->msg);
	souk_conversation_free(ev->conv);
	free(ev->user_id);
	free(ev->error_message);
	souk_push_free(ev->push);
	free(ev);
}

void souk__evlist_push(souk__evlist *l, souk_event *ev)
{
	if (!ev) {
		l->oom = 1;
		return;
	}
	ev->next = NULL;
	if (l->tail)
		l->tail->next = ev;
	else
		l->head = ev;
	l->tail = ev;
}

void souk__evlist_touch(souk__evlist *l, int64_t conv_id)
{
	for (size_t i = 0; i < l->nconvs; i++)
		if (l->convs[i] == conv_id)
			return;
	if (l->nconvs == l->capconvs) {
		size_t cap = l->capconvs ? l->capconvs * 2 : 8;
		int64_t *p = realloc(l->convs, cap * sizeof(*p));
		if (!p) {
			l->oom = 1;
			return;
		}
		l->convs = p;
		l->capconvs = cap;
	}
	l->convs[l->nconvs++] = conv_id;
}

void souk__evlist_clear(souk__evlist *l)
{
	souk_event *ev = l->head;
	while (ev) {
		souk_event *next = ev->next;
		souk_event_free(ev);
		ev = next;
	}
	free(l->convs);
	memset(l, 0, sizeof(*l));
}
