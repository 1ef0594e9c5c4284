/*
 * timeutil — the clocks sigstream uses: CLOCK_REALTIME nanoseconds for
 * signal timestamps and latency, CLOCK_MONOTONIC nanoseconds for pacing and
 * timeouts, absolute-deadline sleeps (so periodic loops do not drift), and
 * RFC 3339 formatting for logs.
 */
#ifndef SIGSTREAM_TIMEUTIL_H
#define SIGSTREAM_TIMEUTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TIMEUTIL_NS_PER_MS INT64_C(1000000)
#define TIMEUTIL_NS_PER_SEC INT64_C(1000000000)

int64_t timeutil_realtime_ns(void);
int64_t timeutil_monotonic_ns(void);
/* Sleeps until CLOCK_MONOTONIC reaches `deadline_ns`; returns at once if past. */
void timeutil_sleep_until(int64_t deadline_ns);
/* Nanoseconds as a timespec (for absolute deadlines). */
struct timespec timeutil_timespec(int64_t ns);
/*
 * Initialises a condition variable whose timed waits take CLOCK_MONOTONIC
 * deadlines, so that a wall-clock step neither stretches nor cuts them.
 * Returns 0 or a negative errno.
 */
int timeutil_cond_init_monotonic(pthread_cond_t *cond);
/*
 * Writes `realtime_ns` as RFC 3339 UTC with milliseconds
 * ("2026-11-28T03:31:00.123Z") into buf (at least 25 bytes).
 * Returns the length written, or -ENOSPC.
 */
int timeutil_format_rfc3339(int64_t realtime_ns, char *buf, size_t cap);

#endif
