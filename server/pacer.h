/*
 * pacer — a token bucket that turns a target rate (events per second) into
 * a whole number of events allowed at each tick, so a producer that wakes on
 * absolute ~1 ms ticks emits exactly `rate` events per second on average,
 * whatever its wake-up jitter, without a sleep per event. Pure arithmetic on
 * caller-supplied monotonic times: deterministic and unit-testable.
 */
#ifndef SIGSTREAM_PACER_H
#define SIGSTREAM_PACER_H

#include <stdint.h>

struct pacer {
	uint64_t rate;       /* events per second; 0 = unlimited */
	uint64_t burst;      /* most tokens ever banked (bounds catch-up after a stall) */
	int64_t last_ns;     /* monotonic time of the last refill */
	uint64_t frac;       /* fractional tokens, in units of 1/1e9 token */
	uint64_t tokens;     /* whole tokens banked */
};

/* rate 0: pacer_take() always returns `burst`. burst must be >= 1. */
void pacer_init(struct pacer *p, uint64_t rate, uint64_t burst, int64_t now_ns);
/*
 * Refills for the time elapsed since the last call and takes up to `want`
 * whole tokens; returns how many were taken. Times going backwards count as
 * no time.
 */
uint64_t pacer_take(struct pacer *p, int64_t now_ns, uint64_t want);

#endif
