/*
 * fuzz_dispatch — soukd's dispatcher after decoding: gw_conn_receive() (reassembly,
 * on_frame, the CS_NEW/CS_AUTHING/CS_READY rules, dispatch of every request kind) on up
 * to four connections of two apps, into the real SQLite store through the real storage
 * thread and the real completion path (complete(), on_read_done(), gw_deliver()), with
 * the gateway's own send queues as the output (server_fixture.h).
 *
 * Input: one configuration byte (send burst 1..8 at 1 token/s, 1..4 connections per
 * user, send queue 1024/4/16/64 frames, sync page 200 or 2), then commands until the
 * input ends. A command is
 *   op       bits 0-3 kind, bits 4-5 connection slot, bit 6 hold (do not wait for the
 *            storage thread after it: the next commands queue behind), bit 7 fragmented
 *   [piece]  when fragmented: piece size (0: an empty first piece, then the rest)
 *   rid      Frame.request_id (0..255)
 *   ...      kind-specific bytes (see build()): RAW carries a u16 length and the bytes
 *            of any WebSocket message; the other kinds are frames the harness encodes,
 *            so that Hello carries a token it signed for a seeded app (valid, expired,
 *            not yet valid, signed with the wrong secret, unknown kid, garbage) and
 *            requests name conversations the server returned (of this app or the other).
 * A command on a slot without a connection opens one; CLOSE is the client going away;
 * TEXT sends a text message.
 *
 * Properties, after every settled step:
 *   - every queued output is a Frame the SDK's decoder accepts (from_client = 0);
 *   - before its Welcome a connection receives only Error frames; Welcome names the user
 *     whose token the harness signed, once; a hello's refusal has the code its token
 *     calls for (expired: TOKEN_EXPIRED, wrong secret: TOKEN_INVALID, ...);
 *   - every Error has a documented non-zero code and a message, and an Error answering
 *     a Send carries its client_msg_id;
 *   - every answer (request_id != 0) answers a request of a matching kind sent on that
 *     connection, once; every request that calls for an answer (hello, send, sync, open,
 *     update_context, ping, a refused frame) has exactly one once settled, unless the
 *     server closed the connection (mark_read and typing are answered only by an Error);
 *   - events reach a connection only after its first SyncRequest, strictly increasing,
 *     consecutive except right after a SyncPage answering a request whose after_seq
 *     skipped ahead of the last event received (docs/protocol.md);
 *   - a request refused with an Error appends no event to any user's stream;
 * and at the end:
 *   - every user's stream in the store is dense (1..head_seq);
 *   - every event a connection received is byte for byte (after canonical re-encoding)
 *     the event at that seq in its own user's stream: nothing crosses users or apps;
 *   - every SendAck's seq holds that message (its client_msg_id, sent by that user);
 *   - a conversation id never shows up in both apps.
 */
#include <string.h>
#include <time.h>

#include "fuzz_util.h"
#include "server_fixture.h"
#include "util.h"

enum {
	SLOTS = 4,
	MAX_PENDING = 512,
	MAX_CONVS = 32,
	MAX_SEEN = 8192,
	MAX_ACKS = 2048,
};

enum kind {
	K_RAW,
	K_HELLO,
	K_SEND,
	K_SYNC,
	K_ACK,
	K_MARK_READ,
	K_OPEN_SUPPORT,
	K_OPEN_CONV,
	K_TYPING,
	K_PING,
	K_UPDATE_CONTEXT,
	K_CLOSE,
	K_TEXT,
	K_KINDS
};

/* token variants of a structured hello, and the refusal each calls for (0: welcome) */
enum tok {
	T_VALID,
	T_EXPIRED,
	T_WRONG_SECRET,
	T_UNKNOWN_KID,
	T_GARBAGE,
	T_NBF,
	T_UNKNOWN_APP,
	T_OTHER_APP_SECRET,
	T_VARIANTS
};
static const int tok_code[T_VARIANTS] = {
	0,
	SOUK__V1__ERROR_CODE__TOKEN_EXPIRED,
	SOUK__V1__ERROR_CODE__TOKEN_INVALID,
	SOUK__V1__ERROR_CODE__UNKNOWN_KEY,
	SOUK__V1__ERROR_CODE__TOKEN_INVALID,
	SOUK__V1__ERROR_CODE__TOKEN_NOT_YET_VALID,
	SOUK__V1__ERROR_CODE__UNKNOWN_APP,
	SOUK__V1__ERROR_CODE__TOKEN_INVALID,
};

typedef struct pending {
	uint64_t rid;
	int body;	/* Frame body case of the request; 0: a refused frame */
	int must;	/* calls for exactly one answer */
	int want_code;	/* hello in CS_NEW: -1 any, 0 Welcome, else this Error code */
	uint64_t after; /* SyncRequest.after_seq */
	int has_cmid;
	uint8_t cmid[SOUK_WIRE_CLIENT_MSG_ID_LEN];
	uint64_t step;
} pending;

typedef struct slot {
	conn *c;
	int app, user; /* of the structured hello sent; -1 none */
	int welcomed;
	int synced;   /* a SyncRequest was sent on this connection */
	int may_jump; /* a SyncPage since the last event answered a request that skipped
		       * ahead (or one the harness cannot tell) */
	uint64_t last_seq;
	pending p[MAX_PENDING];
	size_t np;
	uint64_t poisoned[16]; /* request ids reused while pending: answers not matched */
	size_t n_poisoned;
} slot;

typedef struct seen_event {
	int app, user;
	uint64_t seq;
	uint8_t *packed;
	size_t len;
} seen_event;

typedef struct seen_ack {
	int app, user;
	uint64_t seq;
	uint8_t cmid[SOUK_WIRE_CLIENT_MSG_ID_LEN];
} seen_ack;

static struct run {
	gateway *gw;
	slot s[SLOTS];
	char convs[FX_APPS][MAX_CONVS][STORE_ID_MAX];
	size_t n_convs[FX_APPS];
	seen_event seen[MAX_SEEN];
	size_t n_seen;
	seen_ack acks[MAX_ACKS];
	size_t n_acks;
	uint64_t step;
	int refused_step; /* an Error answered this step's request */
} R;

static char tokens[FX_APPS][FX_USERS][T_VARIANTS][1024];

static void user_name(char *out, size_t cap, int user)
{
	snprintf(out, cap, "shopper-%d", user);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fx_init();
	/* tokens are signed once: exp a day away (expired: a day ago), nbf a day ahead */
	int64_t now = souk_now_ms() / 1000;
	for (int a = 0; a < FX_APPS; a++)
		for (int u = 0; u < FX_USERS; u++) {
			char sub[32];
			user_name(sub, sizeof(sub), u);
			for (int t = 0; t < T_VARIANTS; t++) {
				const char *secret = fx_apps[a].secret, *kid = "fz";
				int64_t exp = now + 86400, nbf = 0;
				char *tok = NULL;
				if (t == T_EXPIRED)
					exp = now - 86400;
				if (t == T_WRONG_SECRET)
					secret = "not-the-secret-of-any-app-0123456789";
				if (t == T_UNKNOWN_KID)
					kid = "no-such-kid";
				if (t == T_NBF)
					nbf = now + 86400;
				if (t == T_OTHER_APP_SECRET)
					secret = fx_apps[(a + 1) % FX_APPS].secret;
				if (t == T_GARBAGE)
					tok = strdup("eyJhbGciOiJIUzI1NiJ9.not-a-token");
				else
					tok = fx_sign_token(secret, kid, sub, exp, nbf);
				snprintf(tokens[a][u][t], sizeof(tokens[a][u][t]), "%s", tok);
				free(tok);
			}
		}
	return 0;
}

/* ---- the client side's bookkeeping --------------------------------------------------- */

static int is_poisoned(const slot *s, uint64_t rid)
{
	for (size_t i = 0; i < s->n_poisoned; i++)
		if (s->poisoned[i] == rid)
			return 1;
	return 0;
}

static void expect(slot *s, uint64_t rid, int body, int must, int want_code,
		   const ProtobufCBinaryData *cmid, uint64_t after)
{
	if (rid == 0)
		return; /* answers with request id 0 cannot be told from pushes */
	int dup = is_poisoned(s, rid);
	for (size_t i = 0; i < s->np; i++)
		if (s->p[i].rid == rid)
			dup = 1;
	if (dup) {
		if (!is_poisoned(s, rid) && s->n_poisoned < 16)
			s->poisoned[s->n_poisoned++] = rid;
		for (size_t i = 0; i < s->np; i++)
			if (s->p[i].rid == rid) { /* any answer may be any of theirs now */
				s->p[i].must = 0;
				s->p[i].want_code = -1;
				s->p[i].has_cmid = 0;
			}
		must = 0;
	}
	if (s->np == MAX_PENDING)
		return;
	pending *p = &s->p[s->np++];
	memset(p, 0, sizeof(*p));
	p->rid = rid;
	p->body = body;
	p->must = must;
	p->want_code = dup ? -1 : want_code;
	p->step = R.step;
	p->after = after;
	if (cmid && cmid->len == SOUK_WIRE_CLIENT_MSG_ID_LEN && !dup) {
		p->has_cmid = 1;
		memcpy(p->cmid, cmid->data, SOUK_WIRE_CLIENT_MSG_ID_LEN);
	}
}

/* What the client expects for a message it is about to send on s (before the server
 * sees it: the connection's state decides). */
static void expect_for(slot *s, const uint8_t *msg, size_t len, int want_code)
{
	Souk__V1__Frame *f = NULL;
	souk_wire_status st = souk_wire_decode_keep(msg, len, 1, &f);
	if (st.code) {
		expect(s, f ? f->request_id : 0, 0, 1, -1, NULL, 0);
		souk_wire_frame_free(f);
		return;
	}
	enum conn_state cs = s->c->state;
	uint64_t rid = f->request_id;
	int body = f->body_case;
	if (cs != CS_READY || body == SOUK__V1__FRAME__BODY_HELLO) {
		/* hello in CS_NEW: Welcome or a refusal; anything else: an Error */
		expect(s, rid, body, 1,
		       cs == CS_NEW && body == SOUK__V1__FRAME__BODY_HELLO ? want_code : -1, NULL,
		       0);
	} else {
		switch (body) {
		case SOUK__V1__FRAME__BODY_SEND:
			expect(s, rid, body, 1, -1, &f->send->client_msg_id, 0);
			break;
		case SOUK__V1__FRAME__BODY_SYNC_REQUEST:
			s->synced = 1;
			expect(s, rid, body, 1, -1, NULL, f->sync_request->after_seq);
			break;
		case SOUK__V1__FRAME__BODY_OPEN_CONVERSATION:
		case SOUK__V1__FRAME__BODY_UPDATE_CONTEXT:
		case SOUK__V1__FRAME__BODY_PING:
			expect(s, rid, body, 1, -1, NULL, 0);
			break;
		case SOUK__V1__FRAME__BODY_MARK_READ:
		case SOUK__V1__FRAME__BODY_TYPING:
		case SOUK__V1__FRAME__BODY_ACK:
			expect(s, rid, body, 0, -1, NULL, 0); /* an Error at most */
			break;
		default:
			FUZZ_CHECK(0, "the client decoder accepted a frame a client may not send");
		}
	}
	souk_wire_frame_free(f);
}

static int answers(int req, int ans)
{
	if (ans == SOUK__V1__FRAME__BODY_ERROR)
		return 1;
	switch (req) {
	case SOUK__V1__FRAME__BODY_HELLO:
		return ans == SOUK__V1__FRAME__BODY_WELCOME;
	case SOUK__V1__FRAME__BODY_SEND:
		return ans == SOUK__V1__FRAME__BODY_SEND_ACK;
	case SOUK__V1__FRAME__BODY_SYNC_REQUEST:
		return ans == SOUK__V1__FRAME__BODY_SYNC_PAGE;
	case SOUK__V1__FRAME__BODY_OPEN_CONVERSATION:
		return ans == SOUK__V1__FRAME__BODY_CONVERSATION;
	case SOUK__V1__FRAME__BODY_UPDATE_CONTEXT:
		return ans == SOUK__V1__FRAME__BODY_CONTEXT_UPDATED;
	case SOUK__V1__FRAME__BODY_PING:
		return ans == SOUK__V1__FRAME__BODY_PONG;
	default:
		return 0;
	}
}

/* Removes and returns (a copy of) the request an answer belongs to; body -1: none. */
static pending take_answered(slot *s, uint64_t rid, int ans)
{
	pending out;
	memset(&out, 0, sizeof(out));
	out.body = -1;
	for (size_t i = 0; i < s->np; i++) {
		if (s->p[i].rid != rid || !answers(s->p[i].body, ans))
			continue;
		out = s->p[i];
		memmove(&s->p[i], &s->p[i + 1], (s->np - i - 1) * sizeof(s->p[0]));
		s->np--;
		return out;
	}
	return out;
}

static void learn_conv(int app, const char *id)
{
	for (int a = 0; a < FX_APPS; a++)
		for (size_t i = 0; i < R.n_convs[a]; i++)
			if (strcmp(R.convs[a][i], id) == 0) {
				FUZZ_CHECK(a == app, "a conversation id shows up in two apps");
				return;
			}
	if (R.n_convs[app] < MAX_CONVS)
		snprintf(R.convs[app][R.n_convs[app]++], STORE_ID_MAX, "%s", id);
}

static void on_events(slot *s, Souk__V1__Event **ev, size_t n)
{
	FUZZ_CHECK(s->welcomed, "no event before Welcome");
	FUZZ_CHECK(n == 0 || s->synced, "no event before the connection's first SyncRequest");
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = ev[i]->seq;
		FUZZ_CHECK(seq > s->last_seq, "events on a connection strictly increase");
		FUZZ_CHECK(seq == s->last_seq + 1 || s->may_jump,
			   "events on a connection are consecutive (no gap without a SyncRequest)");
		s->last_seq = seq;
		s->may_jump = 0;
		if (R.n_seen < MAX_SEEN) {
			seen_event *e = &R.seen[R.n_seen++];
			e->app = s->app;
			e->user = s->user;
			e->seq = seq;
			e->len = souk__v1__event__get_packed_size(ev[i]);
			e->packed = malloc(e->len ? e->len : 1);
			FUZZ_CHECK(e->packed != NULL, "out of memory");
			souk__v1__event__pack(ev[i], e->packed);
		}
	}
}

/* FUZZ_DISPATCH_STATS=1: counts of output frames by body and of Error codes, printed at
 * exit (to see what a corpus reaches: tests/fuzz/README.md). */
static unsigned long stat_body[32], stat_code[6][10];
static int stats_on = -1;

static void print_stats(void)
{
	static const char *const names[32] = {
		[11] = "welcome", [12] = "error",	 [14] = "send_ack",
		[15] = "events",  [18] = "sync_page",	 [20] = "typing",
		[22] = "pong",	  [24] = "conversation", [26] = "context_updated"};
	for (int i = 0; i < 32; i++)
		if (stat_body[i])
			fprintf(stderr, "output %-16s %lu\n", names[i] ? names[i] : "?",
				stat_body[i]);
	for (int h = 1; h < 6; h++)
		for (int k = 0; k < 10; k++)
			if (stat_code[h][k])
				fprintf(stderr, "error code %d %lu\n", h * 100 + k,
					stat_code[h][k]);
}

static void count(const Souk__V1__Frame *f)
{
	if (stats_on < 0) {
		const char *e = getenv("FUZZ_DISPATCH_STATS");
		stats_on = e && e[0] == '1';
		if (stats_on)
			atexit(print_stats);
	}
	if (!stats_on)
		return;
	if ((unsigned)f->body_case < 32)
		stat_body[f->body_case]++;
	if (f->body_case == SOUK__V1__FRAME__BODY_ERROR && f->error->code / 100 < 6 &&
	    f->error->code % 100 < 10)
		stat_code[f->error->code / 100][f->error->code % 100]++;
}

static void on_output(slot *s, const uint8_t *buf, size_t len)
{
	Souk__V1__Frame *f = NULL;
	souk_wire_status st = souk_wire_decode(buf, len, 0, &f);
	if (st.code)
		fprintf(stderr, "refused output: %s (%s)\n", souk_wire_error_name(st.code), st.why);
	FUZZ_CHECK(st.code == 0, "every output is a Frame the SDK accepts");
	count(f);
	int body = f->body_case;
	if (!s->welcomed)
		FUZZ_CHECK(body == SOUK__V1__FRAME__BODY_ERROR ||
				   body == SOUK__V1__FRAME__BODY_WELCOME,
			   "before Welcome a connection receives only Error frames");

	pending req;
	memset(&req, 0, sizeof(req));
	req.body = -1;
	int answer = body != SOUK__V1__FRAME__BODY_EVENTS && body != SOUK__V1__FRAME__BODY_TYPING;
	if (f->request_id && answer) {
		req = take_answered(s, f->request_id, body);
		if (req.body == -1)
			FUZZ_CHECK(is_poisoned(s, f->request_id),
				   "an answer belongs to a request of its kind, and comes once");
	} else if (body == SOUK__V1__FRAME__BODY_SEND_ACK ||
		   body == SOUK__V1__FRAME__BODY_WELCOME || body == SOUK__V1__FRAME__BODY_PONG ||
		   body == SOUK__V1__FRAME__BODY_CONVERSATION ||
		   body == SOUK__V1__FRAME__BODY_CONTEXT_UPDATED ||
		   body == SOUK__V1__FRAME__BODY_SYNC_PAGE) {
		/* an answer to a request sent with request_id 0: drop one such request */
		req = take_answered(s, 0, body);
	}

	switch (body) {
	case SOUK__V1__FRAME__BODY_ERROR: {
		const Souk__V1__Error *e = f->error;
		FUZZ_CHECK(e->code != 0 &&
				   protobuf_c_enum_descriptor_get_value(
					   &souk__v1__error_code__descriptor, e->code) != NULL,
			   "an Error carries a documented, non-zero code");
		FUZZ_CHECK(e->message && e->message[0], "an Error says why");
		if (req.body >= 0) {
			if (req.want_code > 0)
				FUZZ_CHECK((int)e->code == req.want_code,
					   "a hello is refused with the code its token calls for");
			if (req.want_code == 0)
				FUZZ_CHECK(
					e->code == SOUK__V1__ERROR_CODE__TOO_MANY_CONNECTIONS,
					"a valid hello is refused only over the connection limit");
			if (req.has_cmid)
				FUZZ_CHECK(e->client_msg_id.len == SOUK_WIRE_CLIENT_MSG_ID_LEN &&
						   memcmp(e->client_msg_id.data, req.cmid,
							  SOUK_WIRE_CLIENT_MSG_ID_LEN) == 0,
					   "an Error answering a Send carries its client_msg_id");
			if (req.step == R.step)
				R.refused_step = 1;
		}
		break;
	}
	case SOUK__V1__FRAME__BODY_WELCOME: {
		FUZZ_CHECK(!s->welcomed, "one Welcome per connection");
		FUZZ_CHECK(s->app >= 0, "Welcome only for a hello the harness signed");
		if (req.body >= 0)
			FUZZ_CHECK(req.want_code == 0 || req.want_code == -1,
				   "a hello whose token calls for a refusal is not welcomed");
		char want[32];
		user_name(want, sizeof(want), s->user);
		FUZZ_CHECK(strcmp(f->welcome->user_id, want) == 0,
			   "Welcome names the token's user");
		s->welcomed = 1;
		break;
	}
	case SOUK__V1__FRAME__BODY_SEND_ACK: {
		const Souk__V1__SendAck *a = f->send_ack;
		FUZZ_CHECK(s->welcomed && a->seq > 0, "a SendAck carries the message's seq");
		if (req.has_cmid)
			FUZZ_CHECK(a->client_msg_id.len == SOUK_WIRE_CLIENT_MSG_ID_LEN &&
					   memcmp(a->client_msg_id.data, req.cmid,
						  SOUK_WIRE_CLIENT_MSG_ID_LEN) == 0,
				   "a SendAck echoes the client_msg_id");
		if (R.n_acks < MAX_ACKS && a->client_msg_id.len == SOUK_WIRE_CLIENT_MSG_ID_LEN) {
			seen_ack *k = &R.acks[R.n_acks++];
			k->app = s->app;
			k->user = s->user;
			k->seq = a->seq;
			memcpy(k->cmid, a->client_msg_id.data, SOUK_WIRE_CLIENT_MSG_ID_LEN);
		}
		break;
	}
	case SOUK__V1__FRAME__BODY_EVENTS:
		FUZZ_CHECK(f->request_id == 0, "a live push carries request id 0");
		FUZZ_CHECK(f->events->n_events > 0, "a live push is not empty");
		on_events(s, f->events->events, f->events->n_events);
		break;
	case SOUK__V1__FRAME__BODY_SYNC_PAGE:
		/* the connection follows a client that skips ahead (then falls back to the
		 * store's head when the client was ahead of it): the first event after such
		 * a page may jump */
		if (req.body < 0 || req.after > s->last_seq)
			s->may_jump = 1;
		on_events(s, f->sync_page->events, f->sync_page->n_events);
		break;
	case SOUK__V1__FRAME__BODY_CONVERSATION:
		FUZZ_CHECK(s->welcomed, "a conversation only after Welcome");
		learn_conv(s->app, f->conversation->conversation_id);
		break;
	case SOUK__V1__FRAME__BODY_TYPING: {
		char own[32];
		user_name(own, sizeof(own), s->user);
		FUZZ_CHECK(s->welcomed && strcmp(f->typing->user_id, own) != 0,
			   "typing is relayed to others, never echoed");
		break;
	}
	case SOUK__V1__FRAME__BODY_PONG:
	case SOUK__V1__FRAME__BODY_CONTEXT_UPDATED:
		break;
	default:
		FUZZ_CHECK(0, "a frame kind the server does not send");
	}
	souk_wire_frame_free(f);
}

/* Writes a connection's queue (as LWS_CALLBACK_SERVER_WRITEABLE would) and closes it
 * when the server asked to. */
static void flush(slot *s)
{
	conn *c = s->c;
	if (!c)
		return;
	for (outmsg *m; (m = gw_conn_pop(c));) {
		on_output(s, m->buf + LWS_PRE, m->len);
		free(m->buf);
		free(m);
	}
	if (c->close_code) {
		gw_conn_closed(R.gw, c);
		free(c);
		memset(s, 0, sizeof(*s));
		s->app = s->user = -1;
	}
}

static void close_slot(slot *s)
{
	if (!s->c)
		return;
	gw_conn_closed(R.gw, s->c);
	free(s->c);
	memset(s, 0, sizeof(*s));
	s->app = s->user = -1;
}

/* ---- the store ----------------------------------------------------------------------- */

static void heads(uint64_t out[FX_APPS][FX_USERS])
{
	for (int a = 0; a < FX_APPS; a++)
		for (int u = 0; u < FX_USERS; u++) {
			char user[32];
			user_name(user, sizeof(user), u);
			store_events e;
			FUZZ_CHECK(fx_read_events(R.gw, fx_apps[a].app_id, user, INT64_MAX, 1,
						  &e) == 0,
				   "reading a head");
			out[a][u] = e.head_seq;
			store_events_free(&e);
		}
}

static void check_store(void)
{
	for (int a = 0; a < FX_APPS; a++)
		for (int u = 0; u < FX_USERS; u++) {
			char user[32];
			user_name(user, sizeof(user), u);
			store_events all;
			fx_read_all(R.gw, fx_apps[a].app_id, user, &all);
			for (size_t i = 0; i < R.n_seen; i++) {
				seen_event *e = &R.seen[i];
				if (e->app != a || e->user != u)
					continue;
				FUZZ_CHECK(e->seq >= 1 && e->seq <= all.n,
					   "a delivered event is in its user's stream");
				Souk__V1__Event *ev = souk__v1__event__unpack(
					NULL, all.v[e->seq - 1].len, all.v[e->seq - 1].data);
				size_t n = souk__v1__event__get_packed_size(ev);
				uint8_t *p = malloc(n ? n : 1);
				souk__v1__event__pack(ev, p);
				FUZZ_CHECK(
					n == e->len && memcmp(p, e->packed, n) == 0,
					"a delivered event is its user's stored event at that seq");
				free(p);
				souk__v1__event__free_unpacked(ev, NULL);
			}
			for (size_t i = 0; i < R.n_acks; i++) {
				seen_ack *k = &R.acks[i];
				if (k->app != a || k->user != u)
					continue;
				FUZZ_CHECK(k->seq >= 1 && k->seq <= all.n,
					   "an acked message is in its sender's stream");
				Souk__V1__Event *ev = souk__v1__event__unpack(
					NULL, all.v[k->seq - 1].len, all.v[k->seq - 1].data);
				FUZZ_CHECK(ev && ev->body_case == SOUK__V1__EVENT__BODY_MESSAGE,
					   "a SendAck's seq holds a message");
				const Souk__V1__Message *m = ev->message;
				FUZZ_CHECK(m->client_msg_id.len == SOUK_WIRE_CLIENT_MSG_ID_LEN &&
						   memcmp(m->client_msg_id.data, k->cmid,
							  SOUK_WIRE_CLIENT_MSG_ID_LEN) == 0 &&
						   strcmp(m->sender_id, user) == 0,
					   "a SendAck's seq holds that message, sent by that user");
				souk__v1__event__free_unpacked(ev, NULL);
			}
			store_events_free(&all);
		}
}

/* ---- building messages --------------------------------------------------------------- */

static const char *conv_ref(slot *s, uint8_t ref, char *buf, size_t cap)
{
	if (ref & 0x40) {
		snprintf(buf, cap, "no-such-conversation-%u", ref & 0x3f);
		return buf;
	}
	int app = s->app >= 0 ? s->app : 0;
	if (ref & 0x20)
		app = (app + 1) % FX_APPS;
	if (!R.n_convs[app])
		return (ref & 0x80) ? "" : "none-yet";
	return R.convs[app][(ref & 0x1f) % R.n_convs[app]];
}

static int encode(const Souk__V1__Frame *f, uint8_t **out, size_t *len)
{
	return souk_wire_encode(f, 0, out, len);
}

/* Builds the command's WebSocket message; 0 with *out NULL: nothing to send. */
static void build(fuzz_reader *r, slot *s, int kind, uint64_t rid, uint8_t **out, size_t *len,
		  int *want_code)
{
	Souk__V1__Frame f = SOUK__V1__FRAME__INIT;
	f.request_id = rid;
	char cbuf[64];
	*out = NULL;
	*len = 0;
	*want_code = -1;
	switch (kind) {
	case K_RAW:
	case K_TEXT: {
		size_t n = fuzz_u16(r);
		if (n > r->n)
			n = r->n;
		*out = malloc(n ? n : 1);
		FUZZ_CHECK(*out != NULL, "out of memory");
		if (n)
			memcpy(*out, r->p, n);
		r->p += n;
		r->n -= n;
		*len = n;
		return;
	}
	case K_HELLO: {
		uint8_t who = fuzz_u8(r), tv = fuzz_u8(r), dev = fuzz_u8(r), last = fuzz_u8(r);
		int app = who & 1, user = (who >> 1) % FX_USERS, t = tv % T_VARIANTS;
		Souk__V1__Hello h = SOUK__V1__HELLO__INIT;
		h.protocol_version = (dev & 0x80) ? 2 : (dev & 0x40) ? 0 : 1;
		h.app_id = t == T_UNKNOWN_APP ? "no-such-app" : fx_apps[app].app_id;
		h.token = tokens[app][user][t];
		char device[32];
		snprintf(device, sizeof(device), "device-%d", dev & 3);
		h.device_id = device;
		h.platform = (Souk__V1__Platform)((dev >> 2) & 3);
		h.sdk_version = "fuzz";
		h.last_applied_seq = last;
		f.body_case = SOUK__V1__FRAME__BODY_HELLO;
		f.hello = &h;
		if (s->c->state == CS_NEW && s->app < 0) {
			s->app = app;
			s->user = user;
		}
		*want_code = h.protocol_version > 1 ? SOUK__V1__ERROR_CODE__UNSUPPORTED_VERSION
						    : tok_code[t];
		encode(&f, out, len);
		return;
	}
	case K_SEND: {
		uint8_t ref = fuzz_u8(r), id = fuzz_u8(r), mode = fuzz_u8(r);
		uint8_t cmid[SOUK_WIRE_CLIENT_MSG_ID_LEN];
		memset(cmid, id & 0x0f, sizeof(cmid));
		cmid[0] = (uint8_t)s->user;
		Souk__V1__Send snd = SOUK__V1__SEND__INIT;
		snd.client_msg_id.data = cmid;
		snd.client_msg_id.len = (id & 0x10) ? 15 : sizeof(cmid);
		snd.conversation_id = (char *)conv_ref(s, ref, cbuf, sizeof(cbuf));
		size_t n = mode & 0x7f;
		if (n > r->n)
			n = r->n;
		Souk__V1__Content cont = SOUK__V1__CONTENT__INIT;
		Souk__V1__Text text = SOUK__V1__TEXT__INIT;
		Souk__V1__Content *raw = NULL;
		char *body = NULL;
		if (mode & 0x80)
			raw = souk__v1__content__unpack(NULL, n, r->p);
		if (!raw) {
			body = malloc(n + 1);
			FUZZ_CHECK(body != NULL, "out of memory");
			memcpy(body, r->p, n);
			body[n] = '\0';
			text.body = body;
			cont.kind_case = SOUK__V1__CONTENT__KIND_TEXT;
			cont.text = &text;
		}
		r->p += n;
		r->n -= n;
		snd.content = raw ? raw : &cont;
		f.body_case = SOUK__V1__FRAME__BODY_SEND;
		f.send = &snd;
		encode(&f, out, len);
		free(body);
		if (raw)
			souk__v1__content__free_unpacked(raw, NULL);
		return;
	}
	case K_SYNC: {
		uint8_t a = fuzz_u8(r), l = fuzz_u8(r);
		Souk__V1__SyncRequest q = SOUK__V1__SYNC_REQUEST__INIT;
		q.after_seq = a == 0xff ? UINT64_MAX : a == 0xfe ? (uint64_t)INT64_MAX + 1 : a;
		q.limit = l == 0xff ? 100000 : l;
		f.body_case = SOUK__V1__FRAME__BODY_SYNC_REQUEST;
		f.sync_request = &q;
		encode(&f, out, len);
		return;
	}
	case K_ACK: {
		uint8_t a = fuzz_u8(r);
		Souk__V1__Ack k = SOUK__V1__ACK__INIT;
		k.seq = a == 0xff ? UINT64_MAX : a;
		f.body_case = SOUK__V1__FRAME__BODY_ACK;
		f.ack = &k;
		encode(&f, out, len);
		return;
	}
	case K_MARK_READ: {
		uint8_t ref = fuzz_u8(r), up = fuzz_u8(r);
		Souk__V1__MarkRead m = SOUK__V1__MARK_READ__INIT;
		m.conversation_id = (char *)conv_ref(s, ref, cbuf, sizeof(cbuf));
		m.up_to_conv_seq = up == 0xff ? UINT64_MAX : up;
		f.body_case = SOUK__V1__FRAME__BODY_MARK_READ;
		f.mark_read = &m;
		encode(&f, out, len);
		return;
	}
	case K_OPEN_SUPPORT:
	case K_OPEN_CONV: {
		uint8_t ref = kind == K_OPEN_CONV ? fuzz_u8(r) : 0;
		Souk__V1__OpenConversation o = SOUK__V1__OPEN_CONVERSATION__INIT;
		if (kind == K_OPEN_SUPPORT)
			o.kind = SOUK__V1__CONVERSATION_KIND__CONVERSATION_SUPPORT;
		else
			o.conversation_id = (char *)conv_ref(s, ref, cbuf, sizeof(cbuf));
		f.body_case = SOUK__V1__FRAME__BODY_OPEN_CONVERSATION;
		f.open_conversation = &o;
		encode(&f, out, len);
		return;
	}
	case K_TYPING: {
		uint8_t ref = fuzz_u8(r);
		Souk__V1__Typing t = SOUK__V1__TYPING__INIT;
		t.conversation_id = (char *)conv_ref(s, ref, cbuf, sizeof(cbuf));
		t.on = (ref >> 7) & 1;
		f.body_case = SOUK__V1__FRAME__BODY_TYPING;
		f.typing = &t;
		encode(&f, out, len);
		return;
	}
	case K_PING: {
		Souk__V1__Ping p = SOUK__V1__PING__INIT;
		p.client_time_ms = fuzz_u8(r);
		f.body_case = SOUK__V1__FRAME__BODY_PING;
		f.ping = &p;
		encode(&f, out, len);
		return;
	}
	case K_UPDATE_CONTEXT: {
		uint8_t ref = fuzz_u8(r), n = fuzz_u8(r);
		size_t l = n < r->n ? n : r->n;
		Souk__V1__UpdateContext u = SOUK__V1__UPDATE_CONTEXT__INIT;
		u.conversation_id = (char *)conv_ref(s, ref, cbuf, sizeof(cbuf));
		Souk__V1__ShoppingContext *ctx = souk__v1__shopping_context__unpack(NULL, l, r->p);
		Souk__V1__ShoppingContext empty = SOUK__V1__SHOPPING_CONTEXT__INIT;
		r->p += l;
		r->n -= l;
		u.context = ctx ? ctx : &empty;
		f.body_case = SOUK__V1__FRAME__BODY_UPDATE_CONTEXT;
		f.update_context = &u;
		encode(&f, out, len);
		if (ctx)
			souk__v1__shopping_context__free_unpacked(ctx, NULL);
		return;
	}
	default:
		return;
	}
}

/* Feeds a message to the connection, whole or in pieces, each in its own allocation. */
static void feed(slot *s, const uint8_t *msg, size_t len, int binary, int fragmented, uint8_t piece)
{
	size_t off = 0;
	int first = 1;
	do {
		size_t l = len - off;
		if (fragmented) {
			if (piece == 0 && first)
				l = 0;
			else if (piece && l > piece)
				l = piece;
		}
		int final = off + l == len && !(fragmented && piece == 0 && first && len);
		uint8_t *p = malloc(l ? l : 1);
		FUZZ_CHECK(p != NULL, "out of memory");
		if (l)
			memcpy(p, msg + off, l);
		int rc = gw_conn_receive(s->c, p, l, binary, final);
		free(p);
		FUZZ_CHECK(rc == 0, "the connection is not dropped without a close");
		off += l;
		first = 0;
		if (final)
			break;
	} while (1);
}

static void settle_and_check(void)
{
	fx_settle(R.gw);
	for (int i = 0; i < SLOTS; i++) {
		slot *s = &R.s[i];
		flush(s);
		if (!s->c)
			continue;
		for (size_t k = 0; k < s->np; k++) {
			if (s->p[k].must)
				fprintf(stderr,
					"slot %d: request %llu (frame body %d) unanswered\n", i,
					(unsigned long long)s->p[k].rid, s->p[k].body);
			FUZZ_CHECK(!s->p[k].must,
				   "every request that calls for an answer has one once settled");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_reader r = {data, size};
	uint8_t cfgb = fuzz_u8(&r);
	souk_config cfg;
	config_defaults(&cfg);
	cfg.send_burst = 1 + (cfgb & 7);
	cfg.send_rate_per_s = 1;
	cfg.max_connections_per_user = 1 + ((cfgb >> 3) & 3);
	static const int64_t qmax[4] = {1024, 4, 16, 64};
	cfg.send_queue_max_frames = qmax[(cfgb >> 5) & 3];
	cfg.sync_page_default = (cfgb & 0x80) ? 2 : 200;

	memset(&R, 0, sizeof(R));
	for (int i = 0; i < SLOTS; i++)
		R.s[i].app = R.s[i].user = -1;
	R.gw = fx_gateway_new(&cfg);
	uint64_t before[FX_APPS][FX_USERS];
	int before_valid = 0, held = 0;

	for (int steps = 0; r.n && steps < 256; steps++) {
		uint8_t op = fuzz_u8(&r);
		int kind = (op & 0x0f) % K_KINDS, hold = (op >> 6) & 1, frag = op >> 7;
		slot *s = &R.s[(op >> 4) & 3];
		uint8_t piece = frag ? fuzz_u8(&r) : 0;
		uint64_t rid = fuzz_u8(&r);
		R.step++;
		R.refused_step = 0;
		if (kind == K_CLOSE) {
			close_slot(s);
			continue;
		}
		if (!s->c) {
			s->c = calloc(1, sizeof(conn));
			FUZZ_CHECK(s->c != NULL, "out of memory");
			gw_conn_open(R.gw, s->c, NULL);
		}
		int writes = kind == K_SEND || kind == K_MARK_READ || kind == K_OPEN_SUPPORT ||
			     kind == K_OPEN_CONV || kind == K_UPDATE_CONTEXT || kind == K_RAW;
		int probe = writes && !hold && !held && s->c->state == CS_READY;
		if (probe && !before_valid)
			heads(before);
		uint8_t *msg;
		size_t len;
		int want_code;
		build(&r, s, kind, rid, &msg, &len, &want_code);
		if (!msg)
			continue;
		if (kind == K_TEXT)
			expect(s, 0, 0, 1, -1, NULL, 0); /* BAD_FRAME, request id 0 */
		else if (!s->c->close_code)
			expect_for(s, msg, len, want_code);
		feed(s, msg, len, kind != K_TEXT, frag, piece);
		free(msg);
		if (hold) {
			held = 1;
			before_valid = 0;
			continue;
		}
		held = 0;
		settle_and_check();
		if (probe && R.refused_step) {
			uint64_t after[FX_APPS][FX_USERS];
			heads(after);
			FUZZ_CHECK(memcmp(before, after, sizeof(before)) == 0,
				   "a refused request appends no event");
			before_valid = 1;
		} else {
			before_valid = 0;
		}
	}
	settle_and_check();
	check_store();
	for (int i = 0; i < SLOTS; i++)
		close_slot(&R.s[i]);
	fx_gateway_free(R.gw);
	for (size_t i = 0; i < R.n_seen; i++)
		free(R.seen[i].packed);
	memset(&R, 0, sizeof(R));
	return 0;
}
