/*
 * backoff — the delay before the next reconnect attempt: exponential growth
 * from an initial ceiling to a cap, with "full jitter" (a uniform draw in
 * [0, ceiling]) so that many clients cut off by one server restart do not
 * come back in lockstep. The random source is injected so that tests can
 * pin it down.
 */
#ifndef SIGSTREAM_CLIENT_BACKOFF_H
#define SIGSTREAM_CLIENT_BACKOFF_H

#include <stdint.h>

/* Returns 64 uniformly distributed bits; `state` is the caller's. */
typedef uint64_t (*backoff_rng_fn)(void *state);

struct backoff {
	int64_t initial_ns;
	int64_t max_ns;
	int64_t ceiling_ns; /* upper bound of the next draw */
	backoff_rng_fn rng;
	void *rng_state;
};

#define BACKOFF_INITIAL_NS (100 * INT64_C(1000000))
#define BACKOFF_MAX_NS (5000 * INT64_C(1000000))

/* initial_ns > 0 and max_ns >= initial_ns, else -EINVAL. */
int backoff_init(struct backoff *b, int64_t initial_ns, int64_t max_ns, backoff_rng_fn rng,
		 void *rng_state);
/* The delay to wait now, in [0, ceiling]; then the ceiling doubles up to the cap. */
int64_t backoff_next(struct backoff *b);
/* After a good connection: the next failure starts from the initial ceiling. */
void backoff_reset(struct backoff *b);

/* A default random source: splitmix64 over a caller-seeded uint64_t state. */
uint64_t backoff_splitmix64(void *state);

#endif
