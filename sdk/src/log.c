/*
 * log.c — leveled logging through the app's callback.
 *
 * Never: formats message bodies, tokens or keys. Callers log ids, counts, sizes and
 * codes only; lines are truncated at 512 bytes.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

void souk__logf(const souk__log *lg, int level, const char *fmt, ...)
{
	if (!lg || !lg->cb || level > lg->level || level <= SOUK_LOG_NONE)
		return;
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	lg->cb((souk_log_level)level, line, lg->ud);
}
