/*
 * util.c — clocks, randomness, hex and backoff arithmetic.
 *
 * Randomness comes from the kernel (getrandom): client message ids and generated device
 * ids must not collide across devices, and backoff jitter should not synchronise
 * thousands of phones after a server restart.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int64_t souk__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t souk__mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int souk__random(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint32_t souk__random_u32(void)
{
	uint32_t v = 0;
	if (souk__random(&v, sizeof(v)) != 0)
		v = (uint32_t)souk__mono_ms() * 2654435761u;
	return v;
}

void souk__hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

void souk__wipe(void *p, size_t len)
{
	/* volatile so that the compiler cannot drop the stores as dead */
	volatile uint8_t *v = p;
	while (len--)
		*v++ = 0;
}

unsigned souk__backoff_ms(unsigned attempt, unsigned min_ms, unsigned max_ms)
{
	uint64_t d = min_ms ? min_ms : 1;
	for (unsigned i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	uint64_t half = d / 2;
	return (unsigned)(half + (half ? souk__random_u32() % (half + 1) : 0));
}
