/* log.c — timestamped, levelled lines on stderr (see log.h). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int faq_log_level = FAQ_LOG_INFO;

static const char *const NAMES[] = {"error", "warn", "info", "debug"};

void faq_log(int level, const char *fmt, ...)
{
	if (level > faq_log_level)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char when[32];
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level < 0)
		level = 0;
	fprintf(stderr, "%s.%03ldZ faq-bot %s: %s\n", when, ts.tv_nsec / 1000000L,
		NAMES[level > 3 ? 3 : level], line);
}

int faq_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, NAMES[i]) == 0)
			return i;
	return -1;
}
