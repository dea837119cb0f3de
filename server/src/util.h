/* util.h — small helpers shared by soukd and soukctl: time, random ids, hashing, logs. */
#ifndef SOUK_SERVER_UTIL_H
#define SOUK_SERVER_UTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t souk_now_ms(void);
int64_t souk_mono_us(void);

/* Writes 2*nbytes hex chars of cryptographic randomness + NUL into out. 0 or -1. */
int souk_random_hex(char *out, size_t nbytes);

/* Lowercase hex SHA-256 of data. */
void souk_sha256_hex(const void *data, size_t len, char out[65]);

/* Constant-time string equality (for secrets). */
int souk_secure_streq(const char *a, const char *b);

enum { SOUK_LOG_ERROR = 0, SOUK_LOG_WARN = 1, SOUK_LOG_INFO = 2, SOUK_LOG_DEBUG = 3 };
extern int souk_log_level;
/* Logs never carry message bodies or tokens: callers pass ids and codes only. */
void souk_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int souk_log_level_parse(const char *s);

#endif
