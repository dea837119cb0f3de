/*
 * fuzz_util.h — helpers shared by the libFuzzer targets of tests/fuzz/.
 *
 * Owns: the check macro (a failed property aborts, so libFuzzer saves the input as a
 * crash-* artifact), a cursor that consumes fuzzer bytes as control values, and a
 * reference UTF-8 validator written independently of proto/src/wire.c.
 * Never: depends on anything but libc — each target includes only what it tests.
 */
#ifndef SOUK_FUZZ_UTIL_H
#define SOUK_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* libFuzzer's entry points (declared here so that -Wmissing-prototypes stays quiet). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property of the code under test that must hold for every input. */
#define FUZZ_CHECK(cond, msg)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: property violated: %s (%s)\n", __FILE__, __LINE__, \
				(msg), #cond);                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* SOUK_FUZZ_SKIP_KNOWN=1: skip inputs that hit bugs already reported (README.md,
 * "Findings"), so that a long run can look for new ones. Off by default: the committed
 * reproducers must keep failing until the bugs are fixed. */
static inline int fuzz_skip_known(void)
{
	static int v = -1;
	if (v < 0) {
		const char *e = getenv("SOUK_FUZZ_SKIP_KNOWN");
		v = e && e[0] == '1';
	}
	return v;
}

/* Consumes the fuzzer's bytes as control values; reads past the end yield zeros. */
typedef struct fuzz_reader {
	const uint8_t *p;
	size_t n;
} fuzz_reader;

static inline uint8_t fuzz_u8(fuzz_reader *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static inline uint16_t fuzz_u16(fuzz_reader *r)
{
	uint16_t lo = fuzz_u8(r);
	return (uint16_t)(lo | (uint16_t)fuzz_u8(r) << 8);
}

/* A protobuf-style varint (at most 10 bytes). */
static inline uint64_t fuzz_varint(fuzz_reader *r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 70 && r->n; shift += 7) {
		uint8_t b = fuzz_u8(r);
		if (shift < 64)
			v |= (uint64_t)(b & 0x7F) << shift;
		if (!(b & 0x80))
			break;
	}
	return v;
}

/* Reference UTF-8 check, straight from the table of well-formed byte sequences in the
 * Unicode Standard (chapter 3, table 3-7): a second implementation to compare with. */
static inline int fuzz_utf8_valid_ref(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = s[i];
		uint8_t lo = 0x80, hi = 0xBF;
		size_t more;
		if (b <= 0x7F) {
			i++;
			continue;
		} else if (b >= 0xC2 && b <= 0xDF) {
			more = 1;
		} else if (b == 0xE0) {
			more = 2;
			lo = 0xA0;
		} else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
			more = 2;
		} else if (b == 0xED) {
			more = 2;
			hi = 0x9F;
		} else if (b == 0xF0) {
			more = 3;
			lo = 0x90;
		} else if (b >= 0xF1 && b <= 0xF3) {
			more = 3;
		} else if (b == 0xF4) {
			more = 3;
			hi = 0x8F;
		} else {
			return 0;
		}
		if (len - i - 1 < more)
			return 0;
		/* only the first continuation byte has a narrowed range */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t k = 2; k <= more; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return 0;
		i += more + 1;
	}
	return 1;
}

#endif
