/*
 * log.h — the bot's log lines on stderr: a level, ids and codes; never a message body,
 * an API key or a secret (callers pass only those).
 */
#ifndef FAQ_LOG_H
#define FAQ_LOG_H

enum { FAQ_LOG_ERROR = 0, FAQ_LOG_WARN = 1, FAQ_LOG_INFO = 2, FAQ_LOG_DEBUG = 3 };

extern int faq_log_level;

void faq_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "error", "warn", "info", "debug" -> the level, or -1 */
int faq_log_level_parse(const char *s);

#endif
