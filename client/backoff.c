#include "client/backoff.h"

#include <errno.h>
#include <stddef.h>

int backoff_init(struct backoff *b, int64_t initial_ns, int64_t max_ns, backoff_rng_fn rng,
		 void *rng_state)
{
	if (initial_ns <= 0 || max_ns < initial_ns || rng == NULL)
		return -EINVAL;
	b->initial_ns = initial_ns;
	b->max_ns = max_ns;
	b->ceiling_ns = initial_ns;
	b->rng = rng;
	b->rng_state = rng_state;
	return 0;
}

int64_t backoff_next(struct backoff *b)
{
	uint64_t span = (uint64_t)b->ceiling_ns + 1;
	/*
	 * Modulo bias is below span / 2^64 (< 1e-9 for a 5 s cap in ns):
	 * irrelevant for spreading reconnects.
	 */
	int64_t delay = (int64_t)(b->rng(b->rng_state) % span);

	/* Compare before doubling so that the ceiling can never overflow. */
	if (b->ceiling_ns > b->max_ns / 2)
		b->ceiling_ns = b->max_ns;
	else
		b->ceiling_ns *= 2;
	return delay;
}

void backoff_reset(struct backoff *b)
{
	b->ceiling_ns = b->initial_ns;
}

uint64_t backoff_splitmix64(void *state)
{
	uint64_t *s = state;
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}
