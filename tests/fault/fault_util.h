/*
 * fault_util.h — what the fault checker's three programs share (docs/fault-testing.md):
 * a seeded PRNG (so a run's fault schedule can be replayed from its printed seed), clocks,
 * sleeping, and the line-oriented log files through which the workload processes report
 * to the checker.
 *
 * A log line is written with one write(2) of the whole line, so a SIGKILL leaves either the
 * whole line or nothing (the kernel keeps what write() accepted even when the process
 * dies). Lines that must survive a machine crash as well are followed by fsync(2).
 */
#ifndef SOUK_FAULT_UTIL_H
#define SOUK_FAULT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64: tiny, fast, good enough to schedule faults; never for secrets */
typedef struct fu_rng {
	uint64_t s;
} fu_rng;

void fu_rng_seed(fu_rng *r, uint64_t seed);
uint64_t fu_rng_next(fu_rng *r);
/* uniform in [lo, hi] (inclusive) */
int64_t fu_rng_range(fu_rng *r, int64_t lo, int64_t hi);
/* 1 with probability num/den */
int fu_rng_chance(fu_rng *r, unsigned num, unsigned den);
/* a seed nobody chose: from getrandom(2) */
uint64_t fu_random_seed(void);

int64_t fu_now_ms(void); /* CLOCK_MONOTONIC */
void fu_sleep_ms(int64_t ms);

/* Opens `path` for appending (created 0600). -1 on failure. */
int fu_log_open(const char *path);
/* Appends one line (a '\n' is added) with a single write(2); fsyncs when `sync`.
 * Returns 0, or -1 when the line could not be written whole. */
int fu_log_line(int fd, int sync, const char *line);

/* Reads a whole file into a NUL-terminated buffer (caller frees); NULL if absent. */
char *fu_read_file(const char *path, size_t *len);

/* A workload value is the message text "p<producer>/<counter>". Returns 1 and fills the
 * parts when `text` is exactly that. */
int fu_parse_value(const char *text, int *producer, uint64_t *counter);

#endif
