/*
 * souk_jni.c — the JNI layer under the Kotlin API (io.souk.Souk).
 *
 * Owns: one sj_client per Kotlin client (the souk_client, a global reference to its
 * EventSink, the event collector thread, and the log thread when the app gave a logger).
 * Never: calls into the JVM from a thread it has not attached, keeps a JNI local
 * reference across calls, or looks a class up from a native thread.
 *
 * Design notes
 *
 * - Threads. libsouk's own SDK thread never enters the JVM. Events are pulled with
 *   souk_client_next_event() by a collector thread created here and attached to the JVM
 *   (as a daemon named "souk-events") for its whole life; it turns each event into a
 *   Kotlin object and hands it to EventSink.deliver(), which may block while the Kotlin
 *   buffer is full (back-pressure: libsouk then queues, and past max_queued_events says
 *   EVENTS_DROPPED). The log callback runs on whichever thread logs, possibly with
 *   libsouk's locks held, so it only copies the line into a bounded queue; a second
 *   attached thread ("souk-log") hands the lines to the Kotlin logger.
 *
 * - Stop versus close. souk_client_next_event() returns SOUK_ESTATE once the client is
 *   stopped and drained — also for a moment inside souk_client_logout(), which stops and
 *   restarts the SDK thread. So SOUK_ESTATE does not end the collector: it waits until
 *   this layer starts the client again (a generation counter bumped after start and
 *   logout) or closes it (`closing`). Only close() ends it.
 *
 * - Close. Kotlin guarantees that no other call is inside this layer for the handle
 *   (a read-write lock) and closes its event channel first, so deliver() cannot block.
 *   Order: closing = 1, souk_client_stop (wakes the collector), join the collector,
 *   souk_client_free (after which libsouk logs no more), drain and join the log thread,
 *   release the global reference.
 *
 * - Strings cross as UTF-8 byte arrays, never through NewStringUTF/GetStringUTFChars:
 *   those speak "modified UTF-8", which differs for NUL and for characters outside the
 *   BMP (emoji), and Android's CheckJNI aborts on the difference.
 *
 * - Errors. A failed call throws the Kotlin exception NativeBridge.error(code, message)
 *   builds, with souk_client_errmsg() read on the failing thread before any other
 *   libsouk call (the message is thread-local).
 *
 * - Natives are registered in JNI_OnLoad with RegisterNatives, and every class and method
 *   the layer calls is resolved there: a Kotlin/native mismatch fails the load with
 *   UnsatisfiedLinkError / NoSuchMethodError instead of failing later on some thread.
 */
#include <jni.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <souk/souk.h>

#ifdef __ANDROID__
#include <android/log.h>
#endif

/* Bumped whenever a native signature below changes; Kotlin checks it at load time
 * (io.souk.internal.SoukNative.JNI_ABI). */
#define SJ_JNI_ABI 2

#define SJ_LOG_CAP 256 /* log lines kept while the Kotlin logger is slow */

#define PKG "io/souk/"
#define IPKG "io/souk/internal/"

typedef struct sj_log_line {
	int level;
	char *text;
} sj_log_line;

typedef struct sj_client {
	souk_client *c;
	jobject sink; /* global: io.souk.internal.EventSink */

	pthread_mutex_t mu; /* closing, gen */
	pthread_cond_t cond;
	int closing;
	unsigned long gen; /* bumped when the client may produce events again */
	pthread_t collector;
	int collector_running;

	/* log lines for the Kotlin logger (only with logToSink) */
	pthread_mutex_t lmu;
	pthread_cond_t lcond;
	sj_log_line lines[SJ_LOG_CAP];
	size_t lhead, lcount;
	unsigned long ldropped;
	int lclosing;
	pthread_t logger;
	int logger_running;
} sj_client;

static JavaVM *g_vm;
static jclass g_bridge, g_sink, g_message, g_conversation, g_push, g_bytes;
static jmethodID m_message, m_conversation, m_event, m_error, m_deliver, m_log, m_content, m_push;
static atomic_int g_live; /* sj_clients not yet closed: the leak check's counter */

/* ---- small helpers --------------------------------------------------------------------- */

/* A Kotlin byte array holding `s` (NULL for NULL, or when an exception is pending). */
static jbyteArray jbytes(JNIEnv *env, const char *s)
{
	if (!s || (*env)->ExceptionCheck(env))
		return NULL;
	size_t n = strlen(s);
	jbyteArray a = (*env)->NewByteArray(env, (jsize)n);
	if (!a)
		return NULL; /* OutOfMemoryError pending */
	if (n)
		(*env)->SetByteArrayRegion(env, a, 0, (jsize)n, (const jbyte *)s);
	return a;
}

/* Throws the Kotlin exception for `code` with `message`, unless one is pending. */
static void throw_code(JNIEnv *env, int code, const char *message)
{
	if ((*env)->ExceptionCheck(env))
		return;
	jbyteArray m = jbytes(env, message ? message : "");
	if (!m)
		return; /* OutOfMemoryError pending */
	jobject t = (*env)->CallStaticObjectMethod(env, g_bridge, m_error, (jint)code, m);
	if ((*env)->ExceptionCheck(env))
		t = NULL; /* building it failed: that exception stands */
	(*env)->DeleteLocalRef(env, m);
	if (t)
		(*env)->Throw(env, (jthrowable)t);
}

/* After a failed libsouk call: its code and this thread's message for it. */
static void throw_last(JNIEnv *env, int code, const souk_client *c)
{
	throw_code(env, code, souk_client_errmsg(c));
}

/* A NUL-terminated copy of a Kotlin UTF-8 byte array (NULL array: NULL, no error).
 * On failure throws and returns NULL with *failed set. */
static char *cstr(JNIEnv *env, jbyteArray a, const char *what, int *failed)
{
	if (!a)
		return NULL;
	jsize n = (*env)->GetArrayLength(env, a);
	char *s = malloc((size_t)n + 1);
	if (!s) {
		*failed = 1;
		throw_code(env, SOUK_ENOMEM, "out of memory");
		return NULL;
	}
	(*env)->GetByteArrayRegion(env, a, 0, n, (jbyte *)s);
	s[n] = '\0';
	if (memchr(s, '\0', (size_t)n)) {
		/* C strings end at the first NUL: refuse rather than silently truncate */
		free(s);
		*failed = 1;
		char msg[96];
		snprintf(msg, sizeof(msg), "%s contains a NUL character", what);
		throw_code(env, SOUK_EINVAL, msg);
		return NULL;
	}
	return s;
}

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
}

static sj_client *J(jlong h)
{
	return (sj_client *)(intptr_t)h;
}

/* ---- snapshots to Kotlin objects ------------------------------------------------------- */

/* ---- rich content, both ways ------------------------------------------------------------
 *
 * A souk_content crosses as (kind, fallback text, strings s[], numbers n[], per-item
 * strings items[], per-item numbers item_nums[]) — one JNI call instead of a class per kind.
 * The positions, the same in io.souk.internal.ContentCodec:
 *   TEXT           s = [body]
 *   ATTACHMENT     s = [url, mime type, file name]         n = [size, width, height]
 *   PRODUCT        s = [product id, title, image url, url, currency]   n = [price minor]
 *   ORDER          s = [order id, status, total currency]  n = [total minor]
 *                  items = [product id, title, currency] per item, item_nums = [quantity, price]
 *   QUICK_REPLIES  s = [prompt]                            items = [id, title] per reply
 *   CSAT_SURVEY    s = [survey id, question]               n = [scale]
 *   CSAT_ANSWER    s = [survey id, comment]                n = [rating]
 */
#define SJ_S 5 /* the longest s[] */
#define SJ_N 3

static jobjectArray jbytes_array(JNIEnv *env, const char *const *v, size_t n)
{
	if ((*env)->ExceptionCheck(env))
		return NULL;
	jobjectArray a = (*env)->NewObjectArray(env, (jsize)n, g_bytes, NULL);
	for (size_t i = 0; a && i < n; i++) {
		jbyteArray b = jbytes(env, v[i]);
		if ((*env)->ExceptionCheck(env))
			return NULL;
		(*env)->SetObjectArrayElement(env, a, (jsize)i, b);
		if (b)
			(*env)->DeleteLocalRef(env, b);
	}
	return a;
}

static jlongArray jlongs(JNIEnv *env, const int64_t *v, size_t n)
{
	if ((*env)->ExceptionCheck(env))
		return NULL;
	jlongArray a = (*env)->NewLongArray(env, (jsize)n);
	if (!a || !n)
		return a;
	jlong *tmp = malloc(n * sizeof(*tmp));
	if (!tmp) {
		throw_code(env, SOUK_ENOMEM, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		tmp[i] = (jlong)v[i];
	(*env)->SetLongArrayRegion(env, a, 0, (jsize)n, tmp);
	free(tmp);
	return a;
}

static jobject jcontent(JNIEnv *env, const souk_content *c)
{
	if (!c)
		return NULL;
	if ((*env)->PushLocalFrame(env, 16) != 0)
		return NULL;
	const char *s[SJ_S] = {0};
	int64_t n[SJ_N] = {0};
	size_t ns = 0, nn = 0, count = 0, per = 0, pern = 0;
	const char **items = NULL;
	int64_t *item_nums = NULL;
	souk_content_kind kind = souk_content_get_kind(c);
	switch (kind) {
	case SOUK_CONTENT_TEXT:
		s[0] = souk_content_get_text(c);
		ns = 1;
		break;
	case SOUK_CONTENT_ATTACHMENT:
		s[0] = souk_content_get_attachment_url(c);
		s[1] = souk_content_get_attachment_mime_type(c);
		s[2] = souk_content_get_attachment_file_name(c);
		n[0] = (int64_t)souk_content_get_attachment_size(c);
		n[1] = souk_content_get_attachment_width(c);
		n[2] = souk_content_get_attachment_height(c);
		ns = 3;
		nn = 3;
		break;
	case SOUK_CONTENT_PRODUCT:
		s[0] = souk_content_get_product_id(c);
		s[1] = souk_content_get_product_title(c);
		s[2] = souk_content_get_product_image_url(c);
		s[3] = souk_content_get_product_url(c);
		s[4] = souk_content_get_product_price_currency(c);
		n[0] = souk_content_get_product_price_minor(c);
		ns = 5;
		nn = 1;
		break;
	case SOUK_CONTENT_ORDER:
		s[0] = souk_content_get_order_id(c);
		s[1] = souk_content_get_order_status(c);
		s[2] = souk_content_get_order_total_currency(c);
		n[0] = souk_content_get_order_total_minor(c);
		ns = 3;
		nn = 1;
		count = souk_content_get_order_item_count(c);
		per = 3;
		pern = 2;
		break;
	case SOUK_CONTENT_QUICK_REPLIES:
		s[0] = souk_content_get_quick_replies_prompt(c);
		ns = 1;
		count = souk_content_get_quick_reply_count(c);
		per = 2;
		break;
	case SOUK_CONTENT_CSAT_SURVEY:
		s[0] = souk_content_get_csat_survey_id(c);
		s[1] = souk_content_get_csat_question(c);
		n[0] = souk_content_get_csat_scale(c);
		ns = 2;
		nn = 1;
		break;
	case SOUK_CONTENT_CSAT_ANSWER:
		s[0] = souk_content_get_csat_survey_id(c);
		s[1] = souk_content_get_csat_comment(c);
		n[0] = souk_content_get_csat_rating(c);
		ns = 2;
		nn = 1;
		break;
	default:
		break;
	}
	if (count) {
		items = calloc(count * per, sizeof(*items));
		item_nums = calloc(count * (pern ? pern : 1), sizeof(*item_nums));
		if (!items || !item_nums) {
			free(items);
			free(item_nums);
			(*env)->PopLocalFrame(env, NULL);
			throw_code(env, SOUK_ENOMEM, "out of memory");
			return NULL;
		}
		for (size_t i = 0; i < count; i++) {
			if (kind == SOUK_CONTENT_ORDER) {
				items[i * 3] = souk_content_get_order_item_product_id(c, i);
				items[i * 3 + 1] = souk_content_get_order_item_title(c, i);
				items[i * 3 + 2] = souk_content_get_order_item_price_currency(c, i);
				item_nums[i * 2] = souk_content_get_order_item_quantity(c, i);
				item_nums[i * 2 + 1] =
					souk_content_get_order_item_price_minor(c, i);
			} else {
				items[i * 2] = souk_content_get_quick_reply_id(c, i);
				items[i * 2 + 1] = souk_content_get_quick_reply_title(c, i);
			}
		}
	}
	jbyteArray fallback = jbytes(env, souk_content_get_fallback_text(c));
	jobjectArray js = jbytes_array(env, s, ns);
	jlongArray jn = jlongs(env, n, nn);
	jobjectArray ji = jbytes_array(env, items, count * per);
	jlongArray jin = jlongs(env, item_nums, count * pern);
	free(items);
	free(item_nums);
	jobject o = NULL;
	if (!(*env)->ExceptionCheck(env))
		o = (*env)->CallStaticObjectMethod(env, g_bridge, m_content, (jint)kind, fallback,
						   js, jn, ji, jin);
	if ((*env)->ExceptionCheck(env))
		o = NULL;
	return (*env)->PopLocalFrame(env, o);
}

/* Element i of a Kotlin byte[][] as a NUL-terminated copy (NULL for a null element).
 * Sets *failed (and throws) on NUL characters or no memory. */
static char *cstr_at(JNIEnv *env, jobjectArray a, jsize i, int *failed)
{
	if (!a || i >= (*env)->GetArrayLength(env, a))
		return NULL;
	jbyteArray b = (*env)->GetObjectArrayElement(env, a, i);
	if (!b)
		return NULL;
	char *s = cstr(env, b, "a content field", failed);
	(*env)->DeleteLocalRef(env, b);
	return s;
}

static int64_t long_at(JNIEnv *env, jlongArray a, jsize i)
{
	jlong v = 0;
	if (a && i < (*env)->GetArrayLength(env, a))
		(*env)->GetLongArrayRegion(env, a, i, 1, &v);
	return (int64_t)v;
}

/* Builds a souk_content from the positional form above. On failure returns NULL with a
 * Kotlin exception pending (a setter's SOUK_EINVAL with its message, or NUL/ENOMEM). */
static souk_content *build_content(JNIEnv *env, jint kind, jbyteArray fallback, jobjectArray s,
				   jlongArray n, jobjectArray items, jlongArray item_nums)
{
	souk_content *c = NULL;
	int r = souk_content_create(&c, (souk_content_kind)kind);
	if (r != SOUK_OK) {
		throw_last(env, r, NULL);
		return NULL;
	}
	int failed = 0;
	char *v[SJ_S] = {0};
	for (jsize i = 0; i < SJ_S && !failed; i++)
		v[i] = cstr_at(env, s, i, &failed);
	char *fb = failed ? NULL : cstr(env, fallback, "fallbackText", &failed);
	jsize nitems = items ? (*env)->GetArrayLength(env, items) : 0;
	if (!failed) {
		switch (kind) {
		case SOUK_CONTENT_TEXT:
			r = souk_content_set_text(c, v[0] ? v[0] : "");
			break;
		case SOUK_CONTENT_ATTACHMENT:
			r = souk_content_set_attachment_url(c, v[0] ? v[0] : "");
			if (!r)
				r = souk_content_set_attachment_mime_type(c, v[1] ? v[1] : "");
			if (!r)
				r = souk_content_set_attachment_file_name(c, v[2]);
			if (!r && long_at(env, n, 0) > 0)
				r = souk_content_set_attachment_size(c,
								     (uint64_t)long_at(env, n, 0));
			if (!r && (long_at(env, n, 1) > 0 || long_at(env, n, 2) > 0))
				r = souk_content_set_attachment_dimensions(
					c, (uint32_t)long_at(env, n, 1),
					(uint32_t)long_at(env, n, 2));
			break;
		case SOUK_CONTENT_PRODUCT:
			r = souk_content_set_product_id(c, v[0]);
			if (!r)
				r = souk_content_set_product_title(c, v[1] ? v[1] : "");
			if (!r)
				r = souk_content_set_product_image_url(c, v[2]);
			if (!r)
				r = souk_content_set_product_url(c, v[3]);
			if (!r && v[4])
				r = souk_content_set_product_price(c, long_at(env, n, 0), v[4]);
			break;
		case SOUK_CONTENT_ORDER:
			r = souk_content_set_order_id(c, v[0] ? v[0] : "");
			if (!r)
				r = souk_content_set_order_status(c, v[1]);
			for (jsize i = 0; !r && !failed && i + 2 < nitems; i += 3) {
				char *pid = cstr_at(env, items, i, &failed);
				char *title = failed ? NULL : cstr_at(env, items, i + 1, &failed);
				char *cur = failed ? NULL : cstr_at(env, items, i + 2, &failed);
				if (!failed)
					r = souk_content_add_order_item(
						c, pid, title,
						(uint32_t)long_at(env, item_nums, i / 3 * 2),
						long_at(env, item_nums, i / 3 * 2 + 1), cur);
				free(pid);
				free(title);
				free(cur);
			}
			if (!r && !failed && v[2])
				r = souk_content_set_order_total(c, long_at(env, n, 0), v[2]);
			break;
		case SOUK_CONTENT_QUICK_REPLIES:
			r = souk_content_set_quick_replies_prompt(c, v[0]);
			for (jsize i = 0; !r && !failed && i + 1 < nitems; i += 2) {
				char *id = cstr_at(env, items, i, &failed);
				char *title = failed ? NULL : cstr_at(env, items, i + 1, &failed);
				if (!failed)
					r = souk_content_add_quick_reply(c, id ? id : "",
									 title ? title : "");
				free(id);
				free(title);
			}
			break;
		case SOUK_CONTENT_CSAT_SURVEY:
			r = souk_content_set_csat_survey_id(c, v[0] ? v[0] : "");
			if (!r)
				r = souk_content_set_csat_question(c, v[1]);
			if (!r)
				r = souk_content_set_csat_scale(c, (uint32_t)long_at(env, n, 0));
			break;
		case SOUK_CONTENT_CSAT_ANSWER:
			r = souk_content_set_csat_survey_id(c, v[0] ? v[0] : "");
			if (!r)
				r = souk_content_set_csat_comment(c, v[1]);
			if (!r)
				r = souk_content_set_csat_rating(c, (uint32_t)long_at(env, n, 0));
			break;
		default:
			break;
		}
		if (!r && !failed && fb)
			r = souk_content_set_fallback_text(c, fb);
		if (r != SOUK_OK && !failed)
			throw_last(env, r, NULL);
	}
	for (int i = 0; i < SJ_S; i++)
		free(v[i]);
	free(fb);
	if (failed || r != SOUK_OK) {
		souk_content_free(c);
		return NULL;
	}
	return c;
}

static jobject jpush(JNIEnv *env, const souk_push *p)
{
	if (!p)
		return NULL;
	if ((*env)->PushLocalFrame(env, 8) != 0)
		return NULL;
	jbyteArray id = jbytes(env, souk_push_get_id(p));
	jbyteArray title = jbytes(env, souk_push_get_title(p));
	jbyteArray body = jbytes(env, souk_push_get_body(p));
	jbyteArray image = jbytes(env, souk_push_get_image_url(p));
	jbyteArray link = jbytes(env, souk_push_get_deep_link(p));
	jobject product = jcontent(env, souk_push_get_product(p));
	jobject o = NULL;
	if (!(*env)->ExceptionCheck(env))
		o = (*env)->CallStaticObjectMethod(env, g_bridge, m_push, id, title, body, image,
						   link, product,
						   (jlong)souk_push_get_server_time_ms(p));
	if ((*env)->ExceptionCheck(env))
		o = NULL;
	return (*env)->PopLocalFrame(env, o);
}

static jobject jmessage(JNIEnv *env, const souk_message *m)
{
	if (!m)
		return NULL;
	if ((*env)->PushLocalFrame(env, 16) != 0)
		return NULL;
	jbyteArray server_id = jbytes(env, souk_message_get_server_id(m));
	jbyteArray cmid = jbytes(env, souk_message_get_client_msg_id(m));
	jbyteArray sender_id = jbytes(env, souk_message_get_sender_id(m));
	jbyteArray sender_name = jbytes(env, souk_message_get_sender_name(m));
	jbyteArray avatar = jbytes(env, souk_message_get_sender_avatar_url(m));
	jbyteArray text = jbytes(env, souk_message_get_text(m));
	jbyteArray reason = jbytes(env, souk_message_get_failure_reason(m));
	jobject content = jcontent(env, souk_message_get_content(m));
	jobject o = NULL;
	if (!(*env)->ExceptionCheck(env))
		o = (*env)->CallStaticObjectMethod(
			env, g_bridge, m_message, (jlong)souk_message_get_id(m),
			(jlong)souk_message_get_conversation_id(m), server_id, cmid,
			(jlong)souk_message_get_conv_seq(m), sender_id,
			(jint)souk_message_get_sender_kind(m), sender_name, avatar,
			(jboolean)(souk_message_is_outgoing(m) != 0),
			(jint)souk_message_get_status(m), (jint)souk_message_get_content_kind(m),
			content, text, (jint)souk_message_get_failure_code(m), reason,
			(jlong)souk_message_get_created_ms(m),
			(jlong)souk_message_get_server_time_ms(m));
	if ((*env)->ExceptionCheck(env))
		o = NULL;
	return (*env)->PopLocalFrame(env, o);
}

static jobject jconversation(JNIEnv *env, const souk_conversation *v)
{
	if (!v)
		return NULL;
	if ((*env)->PushLocalFrame(env, 8) != 0)
		return NULL;
	jbyteArray server_id = jbytes(env, souk_conversation_get_server_id(v));
	jbyteArray controller = jbytes(env, souk_conversation_get_controller(v));
	jbyteArray assignee = jbytes(env, souk_conversation_get_assignee(v));
	jobject last = jmessage(env, souk_conversation_get_last_message(v));
	jobject o = NULL;
	if (!(*env)->ExceptionCheck(env))
		o = (*env)->CallStaticObjectMethod(
			env, g_bridge, m_conversation, (jlong)souk_conversation_get_id(v),
			server_id, (jboolean)(souk_conversation_is_support(v) != 0),
			(jint)souk_conversation_get_kind(v), (jint)souk_conversation_get_status(v),
			(jlong)souk_conversation_get_unread_count(v),
			(jlong)souk_conversation_get_read_up_to(v),
			(jlong)souk_conversation_get_peer_read_up_to(v),
			(jlong)souk_conversation_get_last_conv_seq(v), controller, assignee, last);
	if ((*env)->ExceptionCheck(env))
		o = NULL;
	return (*env)->PopLocalFrame(env, o);
}

static jobject jevent(JNIEnv *env, const souk_event *e)
{
	if ((*env)->PushLocalFrame(env, 8) != 0)
		return NULL;
	jobject msg = jmessage(env, souk_event_get_message(e));
	jobject conv = jconversation(env, souk_event_get_conversation(e));
	jbyteArray user = jbytes(env, souk_event_get_user_id(e));
	jbyteArray why = jbytes(env, souk_event_get_error_message(e));
	jobject push = jpush(env, souk_event_get_push(e));
	jobject o = NULL;
	if (!(*env)->ExceptionCheck(env))
		o = (*env)->CallStaticObjectMethod(
			env, g_bridge, m_event, (jint)souk_event_get_type(e),
			(jlong)souk_event_get_serial(e), msg, conv,
			(jlong)souk_event_get_conversation_id(e), user,
			(jboolean)(souk_event_get_typing(e) != 0),
			(jint)souk_event_get_connection_state(e), (jint)souk_event_get_error(e),
			(jint)souk_event_get_wire_code(e), why, push);
	if ((*env)->ExceptionCheck(env))
		o = NULL;
	return (*env)->PopLocalFrame(env, o);
}

/* ---- the collector thread -------------------------------------------------------------- */

static JNIEnv *attach(const char *name)
{
	JNIEnv *env = NULL;
	JavaVMAttachArgs args = {JNI_VERSION_1_6, (char *)name, NULL};
	/* a daemon: a client the app forgot to close never keeps the process alive */
	if ((*g_vm)->AttachCurrentThreadAsDaemon(g_vm, (void **)&env, &args) != JNI_OK)
		return NULL;
	return env;
}

static void *collector_main(void *arg)
{
	sj_client *j = arg;
	JNIEnv *env = attach("souk-events");
	for (;;) {
		pthread_mutex_lock(&j->mu);
		int closing = j->closing;
		unsigned long seen = j->gen;
		pthread_mutex_unlock(&j->mu);
		if (closing)
			break;
		souk_event *ev = NULL;
		int r = souk_client_next_event(&ev, j->c, -1);
		if (r == SOUK_OK) {
			if (env) {
				jobject o = jevent(env, ev);
				if (o) {
					/* false: the Kotlin side is closed; keep draining */
					(*env)->CallBooleanMethod(env, j->sink, m_deliver, o);
					if ((*env)->ExceptionCheck(env)) {
						(*env)->ExceptionDescribe(env);
						(*env)->ExceptionClear(env);
					}
					(*env)->DeleteLocalRef(env, o);
				}
				if ((*env)->ExceptionCheck(env)) {
					/* nobody could catch it on this thread; an event is lost
					 * only on OutOfMemoryError */
					(*env)->ExceptionDescribe(env);
					(*env)->ExceptionClear(env);
				}
			}
			souk_event_free(ev);
			continue;
		}
		/* SOUK_ESTATE: stopped and drained (or inside a logout). Wait for a start or
		 * the close. Nothing else is expected; wait the same way rather than spin. */
		pthread_mutex_lock(&j->mu);
		while (!j->closing && j->gen == seen)
			pthread_cond_wait(&j->cond, &j->mu);
		pthread_mutex_unlock(&j->mu);
	}
	if (env)
		(*g_vm)->DetachCurrentThread(g_vm);
	return NULL;
}

static void bump_gen(sj_client *j)
{
	pthread_mutex_lock(&j->mu);
	j->gen++;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
}

/* ---- logs ------------------------------------------------------------------------------- */

/* libsouk's log callback: any thread, possibly with libsouk's locks held. No JVM here. */
static void log_to_queue(souk_log_level level, const char *message, void *ud)
{
	sj_client *j = ud;
	size_t n = strlen(message);
	char *copy = malloc(n + 1);
	if (copy)
		memcpy(copy, message, n + 1);
	pthread_mutex_lock(&j->lmu);
	if (!copy || j->lcount == SJ_LOG_CAP) {
		j->ldropped++;
		free(copy);
	} else {
		sj_log_line *l = &j->lines[(j->lhead + j->lcount) % SJ_LOG_CAP];
		l->level = (int)level;
		l->text = copy;
		j->lcount++;
		pthread_cond_signal(&j->lcond);
	}
	pthread_mutex_unlock(&j->lmu);
}

#ifdef __ANDROID__
static void log_to_logcat(souk_log_level level, const char *message, void *ud)
{
	(void)ud;
	int prio = level == SOUK_LOG_ERROR  ? ANDROID_LOG_ERROR
		   : level == SOUK_LOG_WARN ? ANDROID_LOG_WARN
		   : level == SOUK_LOG_INFO ? ANDROID_LOG_INFO
					    : ANDROID_LOG_DEBUG;
	__android_log_write(prio, "Souk", message);
}
#endif

static void *logger_main(void *arg)
{
	sj_client *j = arg;
	JNIEnv *env = attach("souk-log");
	for (;;) {
		pthread_mutex_lock(&j->lmu);
		while (!j->lcount && !j->ldropped && !j->lclosing)
			pthread_cond_wait(&j->lcond, &j->lmu);
		if (!j->lcount && !j->ldropped) { /* closing and drained */
			pthread_mutex_unlock(&j->lmu);
			break;
		}
		sj_log_line l = {0, NULL};
		unsigned long dropped = 0;
		if (j->lcount) {
			l = j->lines[j->lhead];
			j->lhead = (j->lhead + 1) % SJ_LOG_CAP;
			j->lcount--;
		} else {
			dropped = j->ldropped;
			j->ldropped = 0;
		}
		pthread_mutex_unlock(&j->lmu);
		char buf[96];
		const char *text = l.text;
		if (!text) {
			snprintf(buf, sizeof(buf), "%lu log lines were dropped (slow logger)",
				 dropped);
			text = buf;
			l.level = SOUK_LOG_WARN;
		}
		if (env) {
			jbyteArray m = jbytes(env, text);
			if (m) {
				(*env)->CallVoidMethod(env, j->sink, m_log, (jint)l.level, m);
				if ((*env)->ExceptionCheck(env))
					(*env)->ExceptionClear(
						env); /* EventSink.log catches; OOM only */
				(*env)->DeleteLocalRef(env, m);
			}
			if ((*env)->ExceptionCheck(env))
				(*env)->ExceptionClear(env);
		}
		free(l.text);
	}
	if (env)
		(*g_vm)->DetachCurrentThread(g_vm);
	return NULL;
}

static void logger_stop(sj_client *j)
{
	if (!j->logger_running)
		return;
	pthread_mutex_lock(&j->lmu);
	j->lclosing = 1;
	pthread_cond_signal(&j->lcond);
	pthread_mutex_unlock(&j->lmu);
	pthread_join(j->logger, NULL);
	j->logger_running = 0;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void sj_free(JNIEnv *env, sj_client *j)
{
	logger_stop(j);
	for (size_t i = 0; i < j->lcount; i++)
		free(j->lines[(j->lhead + i) % SJ_LOG_CAP].text);
	if (j->sink)
		(*env)->DeleteGlobalRef(env, j->sink);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cond);
	pthread_mutex_destroy(&j->lmu);
	pthread_cond_destroy(&j->lcond);
	free(j);
}

static jlong JNICALL n_create(JNIEnv *env, jclass cls, jobject sink, jbyteArray url, jbyteArray app,
			      jbyteArray db, jbyteArray key, jbyteArray device, jint platform,
			      jbyteArray ca_file, jbyteArray pins, jint heartbeat_s,
			      jint reconnect_min_ms, jint reconnect_max_ms, jlong max_queued,
			      jint log_level, jboolean log_to_sink)
{
	(void)cls;
	sj_client *j = calloc(1, sizeof(*j));
	if (!j) {
		throw_code(env, SOUK_ENOMEM, "out of memory");
		return 0;
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cond, NULL);
	pthread_mutex_init(&j->lmu, NULL);
	pthread_cond_init(&j->lcond, NULL);
	j->sink = (*env)->NewGlobalRef(env, sink);

	int failed = 0;
	char *s_url = cstr(env, url, "serverUrl", &failed);
	char *s_app = failed ? NULL : cstr(env, app, "appId", &failed);
	char *s_db = failed ? NULL : cstr(env, db, "databasePath", &failed);
	char *s_dev = failed ? NULL : cstr(env, device, "deviceId", &failed);
	char *s_ca = failed ? NULL : cstr(env, ca_file, "tlsCaFile", &failed);
	char *s_pins = failed ? NULL : cstr(env, pins, "tlsPins", &failed);
	uint8_t *k = NULL;
	jsize klen = !failed && key ? (*env)->GetArrayLength(env, key) : 0;
	if (klen > 0) {
		k = malloc((size_t)klen);
		if (!k) {
			failed = 1;
			throw_code(env, SOUK_ENOMEM, "out of memory");
		} else {
			(*env)->GetByteArrayRegion(env, key, 0, klen, (jbyte *)k);
		}
	}
	if (!failed && !j->sink) {
		failed = 1; /* OutOfMemoryError pending */
	}

	int r = SOUK_OK;
	char err[512] = "";
	if (!failed) {
		souk_client_options o;
		souk_client_options_init(&o, SOUK_CLIENT_OPTIONS_VERSION);
		o.server_url = s_url;
		o.app_id = s_app;
		o.db_path = s_db;
		o.db_key = k;
		o.db_key_len = (size_t)klen;
		o.device_id = s_dev;
		o.platform = (souk_platform)platform;
		o.tls_ca_file = s_ca;
		o.tls_pins = s_pins;
		o.heartbeat_s = heartbeat_s > 0 ? (unsigned)heartbeat_s : 0;
		o.reconnect_min_ms = reconnect_min_ms > 0 ? (unsigned)reconnect_min_ms : 0;
		o.reconnect_max_ms = reconnect_max_ms > 0 ? (unsigned)reconnect_max_ms : 0;
		o.max_queued_events = max_queued > 0 ? (size_t)max_queued : 0;
		o.log_level = (souk_log_level)log_level;
		if (log_to_sink && log_level > SOUK_LOG_NONE) {
			if (pthread_create(&j->logger, NULL, logger_main, j) == 0) {
				j->logger_running = 1;
				o.log_cb = log_to_queue;
				o.log_user_data = j;
			}
		}
#ifdef __ANDROID__
		if (!o.log_cb && log_level > SOUK_LOG_NONE)
			o.log_cb = log_to_logcat;
#endif
		if (!o.log_cb)
			o.log_level = SOUK_LOG_NONE;
		r = souk_client_create(&j->c, &o);
		if (r != SOUK_OK) /* read the message before anything else touches libsouk */
			snprintf(err, sizeof(err), "%s", souk_client_errmsg(NULL));
	}
	if (k) {
		wipe(k, (size_t)klen);
		free(k);
	}
	free(s_url);
	free(s_app);
	free(s_db);
	free(s_dev);
	free(s_ca);
	free(s_pins);
	if (failed || r != SOUK_OK) {
		sj_free(env, j);
		if (!failed)
			throw_code(env, r, err);
		return 0;
	}
	if (pthread_create(&j->collector, NULL, collector_main, j) != 0) {
		souk_client_free(j->c);
		sj_free(env, j);
		throw_code(env, SOUK_EINTERNAL, "cannot create the event collector thread");
		return 0;
	}
	j->collector_running = 1;
	atomic_fetch_add(&g_live, 1);
	return (jlong)(intptr_t)j;
}

static void JNICALL n_close(JNIEnv *env, jclass cls, jlong h)
{
	(void)cls;
	sj_client *j = J(h);
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	j->closing = 1;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->mu);
	souk_client_stop(j->c); /* wakes a collector blocked in next_event */
	if (j->collector_running)
		pthread_join(j->collector, NULL);
	souk_client_free(j->c);
	sj_free(env, j);
	atomic_fetch_sub(&g_live, 1);
}

static void JNICALL n_start(JNIEnv *env, jclass cls, jlong h)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_start(j->c);
	if (r != SOUK_OK) {
		throw_last(env, r, j->c);
		return;
	}
	bump_gen(j);
}

static void JNICALL n_stop(JNIEnv *env, jclass cls, jlong h)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_stop(j->c);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
}

static void token_call(JNIEnv *env, jlong h, jbyteArray token, int login)
{
	sj_client *j = J(h);
	int failed = 0;
	char *t = cstr(env, token, "token", &failed);
	if (failed)
		return;
	int r = login ? souk_client_login(j->c, t ? t : "")
		      : souk_client_set_token(j->c, t ? t : "");
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	if (t) {
		wipe(t, strlen(t));
		free(t);
	}
}

static void JNICALL n_login(JNIEnv *env, jclass cls, jlong h, jbyteArray token)
{
	(void)cls;
	token_call(env, h, token, 1);
}

static void JNICALL n_set_token(JNIEnv *env, jclass cls, jlong h, jbyteArray token)
{
	(void)cls;
	token_call(env, h, token, 0);
}

static void JNICALL n_logout(JNIEnv *env, jclass cls, jlong h, jint mode)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_logout(j->c, (souk_logout_mode)mode);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	bump_gen(j); /* logout restarted a started client: the collector may go on */
}

static void JNICALL n_hint(JNIEnv *env, jclass cls, jlong h, jint hint)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_hint(j->c, (souk_hint)hint);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
}

static jint JNICALL n_connection_state(JNIEnv *env, jclass cls, jlong h)
{
	(void)env;
	(void)cls;
	return (jint)souk_client_get_connection_state(J(h)->c);
}

static jbyteArray JNICALL n_device_id(JNIEnv *env, jclass cls, jlong h)
{
	(void)cls;
	return jbytes(env, souk_client_get_device_id(J(h)->c));
}

/* ---- conversations and messages --------------------------------------------------------- */

static jlong JNICALL n_open_support(JNIEnv *env, jclass cls, jlong h)
{
	(void)cls;
	sj_client *j = J(h);
	int64_t id = 0;
	int r = souk_client_open_support_conversation(&id, j->c);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	return (jlong)id;
}

static jlong JNICALL n_send_text(JNIEnv *env, jclass cls, jlong h, jlong conv, jbyteArray text)
{
	(void)cls;
	sj_client *j = J(h);
	int failed = 0;
	char *t = cstr(env, text, "text", &failed);
	if (failed)
		return 0;
	int64_t id = 0;
	int r = souk_client_send_text(&id, j->c, (int64_t)conv, t ? t : "");
	free(t);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	return (jlong)id;
}

static void JNICALL n_resend(JNIEnv *env, jclass cls, jlong h, jlong msg)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_resend(j->c, (int64_t)msg);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
}

static void JNICALL n_delete_failed(JNIEnv *env, jclass cls, jlong h, jlong msg)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_delete_failed(j->c, (int64_t)msg);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
}

static jobject JNICALL n_get_message(JNIEnv *env, jclass cls, jlong h, jlong msg)
{
	(void)cls;
	sj_client *j = J(h);
	souk_message *m = NULL;
	int r = souk_client_get_message(&m, j->c, (int64_t)msg);
	if (r != SOUK_OK) {
		throw_last(env, r, j->c);
		return NULL;
	}
	jobject o = jmessage(env, m);
	souk_message_free(m);
	return o;
}

static jobjectArray JNICALL n_list_messages(JNIEnv *env, jclass cls, jlong h, jlong conv,
					    jlong anchor, jint direction, jint limit)
{
	(void)cls;
	sj_client *j = J(h);
	souk_message_list *l = NULL;
	int r = souk_client_list_messages(&l, j->c, (int64_t)conv, (int64_t)anchor,
					  (souk_page_direction)direction,
					  limit > 0 ? (unsigned)limit : 0);
	if (r != SOUK_OK) {
		throw_last(env, r, j->c);
		return NULL;
	}
	size_t n = souk_message_list_count(l);
	jobjectArray a = (*env)->NewObjectArray(env, (jsize)n, g_message, NULL);
	for (size_t i = 0; a && i < n; i++) {
		jobject o = jmessage(env, souk_message_list_get(l, i));
		if (!o)
			break; /* exception pending */
		(*env)->SetObjectArrayElement(env, a, (jsize)i, o);
		(*env)->DeleteLocalRef(env, o);
	}
	souk_message_list_free(l);
	return (*env)->ExceptionCheck(env) ? NULL : a;
}

static jlong JNICALL n_outbox_count(JNIEnv *env, jclass cls, jlong h)
{
	(void)cls;
	sj_client *j = J(h);
	size_t n = 0;
	int r = souk_client_outbox_count(&n, j->c);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	return (jlong)n;
}

static jobjectArray JNICALL n_list_conversations(JNIEnv *env, jclass cls, jlong h)
{
	(void)cls;
	sj_client *j = J(h);
	souk_conversation_list *l = NULL;
	int r = souk_client_list_conversations(&l, j->c);
	if (r != SOUK_OK) {
		throw_last(env, r, j->c);
		return NULL;
	}
	size_t n = souk_conversation_list_count(l);
	jobjectArray a = (*env)->NewObjectArray(env, (jsize)n, g_conversation, NULL);
	for (size_t i = 0; a && i < n; i++) {
		jobject o = jconversation(env, souk_conversation_list_get(l, i));
		if (!o)
			break;
		(*env)->SetObjectArrayElement(env, a, (jsize)i, o);
		(*env)->DeleteLocalRef(env, o);
	}
	souk_conversation_list_free(l);
	return (*env)->ExceptionCheck(env) ? NULL : a;
}

static jobject JNICALL n_get_conversation(JNIEnv *env, jclass cls, jlong h, jlong conv)
{
	(void)cls;
	sj_client *j = J(h);
	souk_conversation *v = NULL;
	int r = souk_client_get_conversation(&v, j->c, (int64_t)conv);
	if (r != SOUK_OK) {
		throw_last(env, r, j->c);
		return NULL;
	}
	jobject o = jconversation(env, v);
	souk_conversation_free(v);
	return o;
}

static void JNICALL n_mark_read(JNIEnv *env, jclass cls, jlong h, jlong conv, jlong up_to)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_mark_read(j->c, (int64_t)conv, (int64_t)up_to);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
}

static void JNICALL n_set_typing(JNIEnv *env, jclass cls, jlong h, jlong conv, jboolean on)
{
	(void)cls;
	sj_client *j = J(h);
	int r = souk_client_set_typing(j->c, (int64_t)conv, on ? 1 : 0);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
}

static jlong JNICALL n_send_content(JNIEnv *env, jclass cls, jlong h, jlong conv, jint kind,
				    jbyteArray fallback, jobjectArray sv, jlongArray nv,
				    jobjectArray items, jlongArray item_nums)
{
	(void)cls;
	sj_client *j = J(h);
	souk_content *c = build_content(env, kind, fallback, sv, nv, items, item_nums);
	if (!c)
		return 0;
	int64_t id = 0;
	int r = souk_client_send_content(&id, j->c, (int64_t)conv, c);
	souk_content_free(c);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	return (jlong)id;
}

static jlong JNICALL n_send_quick_reply(JNIEnv *env, jclass cls, jlong h, jlong conv, jlong msg,
					jbyteArray reply_id)
{
	(void)cls;
	sj_client *j = J(h);
	int failed = 0;
	char *rid = cstr(env, reply_id, "replyId", &failed);
	if (failed)
		return 0;
	int64_t id = 0;
	int r = souk_client_send_quick_reply(&id, j->c, (int64_t)conv, (int64_t)msg,
					     rid ? rid : "");
	free(rid);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	return (jlong)id;
}

static jlong JNICALL n_answer_csat(JNIEnv *env, jclass cls, jlong h, jlong conv, jlong msg,
				   jint rating, jbyteArray comment)
{
	(void)cls;
	sj_client *j = J(h);
	int failed = 0;
	char *cm = cstr(env, comment, "comment", &failed);
	if (failed)
		return 0;
	int64_t id = 0;
	int r = souk_client_answer_csat(&id, j->c, (int64_t)conv, (int64_t)msg,
					rating > 0 ? (uint32_t)rating : 0, cm);
	free(cm);
	if (r != SOUK_OK)
		throw_last(env, r, j->c);
	return (jlong)id;
}

/* The shopping context: product and order in the content form (kind < 0: none), the cart
 * as items [product id, title, currency] + nums [quantity, price] per item, the cart total,
 * page visits [url, title] + at_ms, attributes [key, value]. */
static void JNICALL n_set_context(JNIEnv *env, jclass cls, jlong h, jlong conv, jint pkind,
				  jobjectArray ps, jlongArray pn, jint okind, jobjectArray os,
				  jlongArray on, jobjectArray oitems, jlongArray onums,
				  jobjectArray cart, jlongArray cart_nums,
				  jbyteArray total_currency, jlong total_minor, jobjectArray pages,
				  jlongArray page_times, jobjectArray attrs)
{
	(void)cls;
	sj_client *j = J(h);
	souk_context *x = NULL;
	int r = souk_context_create(&x);
	if (r != SOUK_OK) {
		throw_last(env, r, NULL);
		return;
	}
	int failed = 0;
	if (pkind >= 0) {
		souk_content *p = build_content(env, pkind, NULL, ps, pn, NULL, NULL);
		if (!p)
			failed = 1;
		else {
			r = souk_context_set_product(x, p);
			souk_content_free(p);
		}
	}
	if (!failed && !r && okind >= 0) {
		souk_content *o = build_content(env, okind, NULL, os, on, oitems, onums);
		if (!o)
			failed = 1;
		else {
			r = souk_context_set_order(x, o);
			souk_content_free(o);
		}
	}
	jsize ncart = cart ? (*env)->GetArrayLength(env, cart) : 0;
	for (jsize i = 0; !failed && !r && i + 2 < ncart; i += 3) {
		char *pid = cstr_at(env, cart, i, &failed);
		char *title = failed ? NULL : cstr_at(env, cart, i + 1, &failed);
		char *cur = failed ? NULL : cstr_at(env, cart, i + 2, &failed);
		if (!failed)
			r = souk_context_add_cart_item(x, pid, title,
						       (uint32_t)long_at(env, cart_nums, i / 3 * 2),
						       long_at(env, cart_nums, i / 3 * 2 + 1), cur);
		free(pid);
		free(title);
		free(cur);
	}
	if (!failed && !r && total_currency) {
		char *cur = cstr(env, total_currency, "cartTotal.currency", &failed);
		if (!failed)
			r = souk_context_set_cart_total(x, (int64_t)total_minor, cur);
		free(cur);
	}
	jsize npages = pages ? (*env)->GetArrayLength(env, pages) : 0;
	for (jsize i = 0; !failed && !r && i + 1 < npages; i += 2) {
		char *url = cstr_at(env, pages, i, &failed);
		char *title = failed ? NULL : cstr_at(env, pages, i + 1, &failed);
		if (!failed)
			r = souk_context_add_page_visit(x, url ? url : "", title,
							long_at(env, page_times, i / 2));
		free(url);
		free(title);
	}
	jsize nattrs = attrs ? (*env)->GetArrayLength(env, attrs) : 0;
	for (jsize i = 0; !failed && !r && i + 1 < nattrs; i += 2) {
		char *key = cstr_at(env, attrs, i, &failed);
		char *value = failed ? NULL : cstr_at(env, attrs, i + 1, &failed);
		if (!failed)
			r = souk_context_set_attribute(x, key ? key : "", value);
		free(key);
		free(value);
	}
	if (!failed && r != SOUK_OK) {
		throw_last(env, r, NULL); /* a context setter: the message is the thread's */
		failed = 1;
	}
	if (!failed) {
		r = souk_client_set_context(j->c, (int64_t)conv, x);
		if (r != SOUK_OK)
			throw_last(env, r, j->c);
	}
	souk_context_free(x);
}

static jobjectArray JNICALL n_list_pushes(JNIEnv *env, jclass cls, jlong h, jint limit)
{
	(void)cls;
	sj_client *j = J(h);
	souk_push_list *l = NULL;
	int r = souk_client_list_pushes(&l, j->c, limit > 0 ? (unsigned)limit : 0);
	if (r != SOUK_OK) {
		throw_last(env, r, j->c);
		return NULL;
	}
	size_t n = souk_push_list_count(l);
	jobjectArray a = (*env)->NewObjectArray(env, (jsize)n, g_push, NULL);
	for (size_t i = 0; a && i < n; i++) {
		jobject o = jpush(env, souk_push_list_get(l, i));
		if (!o)
			break;
		(*env)->SetObjectArrayElement(env, a, (jsize)i, o);
		(*env)->DeleteLocalRef(env, o);
	}
	souk_push_list_free(l);
	return (*env)->ExceptionCheck(env) ? NULL : a;
}

/* ---- versions and diagnostics ----------------------------------------------------------- */

static jintArray JNICALL n_version_info(JNIEnv *env, jclass cls)
{
	(void)cls;
	jint v[3] = {SJ_JNI_ABI, SOUK_VERSION_NUMBER, (jint)souk_version_number()};
	jintArray a = (*env)->NewIntArray(env, 3);
	if (a)
		(*env)->SetIntArrayRegion(env, a, 0, 3, v);
	return a;
}

static jbyteArray JNICALL n_library_version(JNIEnv *env, jclass cls)
{
	(void)cls;
	return jbytes(env, souk_version());
}

static jbyteArray JNICALL n_strerror(JNIEnv *env, jclass cls, jint code)
{
	(void)cls;
	return jbytes(env, souk_strerror(code));
}

static jint JNICALL n_live_handles(JNIEnv *env, jclass cls)
{
	(void)env;
	(void)cls;
	return (jint)atomic_load(&g_live);
}

/* ---- registration ------------------------------------------------------------------------ */

#define B "[B"
#define MSG "L" PKG "Message;"
#define CONV "L" PKG "Conversation;"
#define CONTENT "L" PKG "Content;"
#define PUSH "L" PKG "InAppPush;"
#define BB "[[B"

static const JNINativeMethod natives[] = {
	{"versionInfo", "()[I", (void *)n_version_info},
	{"libraryVersion", "()" B, (void *)n_library_version},
	{"strerror", "(I)" B, (void *)n_strerror},
	{"liveHandles", "()I", (void *)n_live_handles},
	{"create", "(L" IPKG "EventSink;" B B B B B "I" B B "IIIJIZ)J", (void *)n_create},
	{"close", "(J)V", (void *)n_close},
	{"start", "(J)V", (void *)n_start},
	{"stop", "(J)V", (void *)n_stop},
	{"login", "(J" B ")V", (void *)n_login},
	{"setToken", "(J" B ")V", (void *)n_set_token},
	{"logout", "(JI)V", (void *)n_logout},
	{"hint", "(JI)V", (void *)n_hint},
	{"connectionState", "(J)I", (void *)n_connection_state},
	{"deviceId", "(J)" B, (void *)n_device_id},
	{"openSupportConversation", "(J)J", (void *)n_open_support},
	{"sendText", "(JJ" B ")J", (void *)n_send_text},
	{"resend", "(JJ)V", (void *)n_resend},
	{"deleteFailed", "(JJ)V", (void *)n_delete_failed},
	{"getMessage", "(JJ)" MSG, (void *)n_get_message},
	{"listMessages", "(JJJII)[" MSG, (void *)n_list_messages},
	{"outboxCount", "(J)J", (void *)n_outbox_count},
	{"listConversations", "(J)[" CONV, (void *)n_list_conversations},
	{"getConversation", "(JJ)" CONV, (void *)n_get_conversation},
	{"markRead", "(JJJ)V", (void *)n_mark_read},
	{"setTyping", "(JJZ)V", (void *)n_set_typing},
	{"sendContent", "(JJI" B BB "[J" BB "[J)J", (void *)n_send_content},
	{"sendQuickReply", "(JJJ" B ")J", (void *)n_send_quick_reply},
	{"answerCsat", "(JJJI" B ")J", (void *)n_answer_csat},
	{"setContext", "(JJI" BB "[JI" BB "[J" BB "[J" BB "[J" B "J" BB "[J" BB ")V",
	 (void *)n_set_context},
	{"listPushes", "(JI)[" PUSH, (void *)n_list_pushes},
};

static jclass global_class(JNIEnv *env, const char *name)
{
	jclass local = (*env)->FindClass(env, name);
	if (!local)
		return NULL;
	jclass g = (*env)->NewGlobalRef(env, local);
	(*env)->DeleteLocalRef(env, local);
	return g;
}

JNIEXPORT jint JNICALL JNI_OnLoad(JavaVM *vm, void *reserved)
{
	(void)reserved;
	JNIEnv *env = NULL;
	if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_1_6) != JNI_OK)
		return JNI_ERR;
	g_vm = vm;
	/* FindClass here, on the thread that loads us: it sees the app's class loader,
	 * which a native thread attached later would not (Android). */
	if (!(g_bridge = global_class(env, IPKG "NativeBridge")) ||
	    !(g_sink = global_class(env, IPKG "EventSink")) ||
	    !(g_message = global_class(env, PKG "Message")) ||
	    !(g_conversation = global_class(env, PKG "Conversation")) ||
	    !(g_push = global_class(env, PKG "InAppPush")) || !(g_bytes = global_class(env, "[B")))
		return JNI_ERR;
	m_message = (*env)->GetStaticMethodID(
		env, g_bridge, "message", "(JJ" B B "J" B "I" B B "ZII" CONTENT B "I" B "JJ)" MSG);
	m_conversation = (*env)->GetStaticMethodID(env, g_bridge, "conversation",
						   "(J" B "ZIIJJJJ" B B MSG ")" CONV);
	m_event = (*env)->GetStaticMethodID(
		env, g_bridge, "event", "(IJ" MSG CONV "J" B "ZIII" B PUSH ")L" PKG "SoukEvent;");
	m_content = (*env)->GetStaticMethodID(env, g_bridge, "content",
					      "(I" B BB "[J" BB "[J)" CONTENT);
	m_push = (*env)->GetStaticMethodID(env, g_bridge, "push", "(" B B B B B CONTENT "J)" PUSH);
	m_error =
		(*env)->GetStaticMethodID(env, g_bridge, "error", "(I" B ")Ljava/lang/Throwable;");
	m_deliver = (*env)->GetMethodID(env, g_sink, "deliver", "(L" PKG "SoukEvent;)Z");
	m_log = (*env)->GetMethodID(env, g_sink, "log", "(I" B ")V");
	if (!m_message || !m_conversation || !m_event || !m_error || !m_deliver || !m_log ||
	    !m_content || !m_push)
		return JNI_ERR; /* NoSuchMethodError pending */
	jclass natives_cls = (*env)->FindClass(env, IPKG "SoukNative");
	if (!natives_cls ||
	    (*env)->RegisterNatives(env, natives_cls, natives,
				    (jint)(sizeof(natives) / sizeof(natives[0]))) != 0)
		return JNI_ERR;
	(*env)->DeleteLocalRef(env, natives_cls);
	return JNI_VERSION_1_6;
}
