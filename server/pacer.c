#include "server/pacer.h"

#include "common/timeutil.h"

/* One whole token in the units of pacer.frac. */
#define PACER_FRAC_ONE ((uint64_t)TIMEUTIL_NS_PER_SEC)

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	if (a != 0 && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

void pacer_init(struct pacer *p, uint64_t rate, uint64_t burst, int64_t now_ns)
{
	p->rate = rate;
	p->burst = burst > 0 ? burst : 1;
	p->last_ns = now_ns;
	p->frac = 0;
	/* Starts empty: the first tick earns its own tokens instead of a burst. */
	p->tokens = 0;
}

/*
 * Credits elapsed_ns * rate / 1e9 tokens exactly: the product is kept in
 * 1e-9 token units, split so no term overflows and no remainder is ever
 * dropped, which is what keeps the long-run rate exact.
 */
static void pacer_refill(struct pacer *p, uint64_t elapsed_ns)
{
	uint64_t secs = elapsed_ns / PACER_FRAC_ONE;
	uint64_t rem = elapsed_ns % PACER_FRAC_ONE;
	uint64_t rate_hi = p->rate / PACER_FRAC_ONE;
	uint64_t rate_lo = p->rate % PACER_FRAC_ONE;
	uint64_t whole, part;

	/* rem < 1e9 and rate_lo < 1e9: the product fits in 64 bits. */
	part = rem * rate_lo;
	whole = sat_add(sat_mul(secs, p->rate), sat_mul(rem, rate_hi));
	whole = sat_add(whole, part / PACER_FRAC_ONE);
	p->frac += part % PACER_FRAC_ONE;
	if (p->frac >= PACER_FRAC_ONE) {
		p->frac -= PACER_FRAC_ONE;
		whole = sat_add(whole, 1);
	}
	p->tokens = sat_add(p->tokens, whole);
	if (p->tokens >= p->burst) {
		/* A full bucket banks nothing more, not even a fraction. */
		p->tokens = p->burst;
		p->frac = 0;
	}
}

uint64_t pacer_take(struct pacer *p, int64_t now_ns, uint64_t want)
{
	uint64_t n;

	if (p->rate == 0)
		return want < p->burst ? want : p->burst;
	/*
	 * last_ns only moves forward, so a clock step back followed by a step
	 * forward is not credited twice.
	 */
	if (now_ns > p->last_ns) {
		pacer_refill(p, (uint64_t)now_ns - (uint64_t)p->last_ns);
		p->last_ns = now_ns;
	}
	n = want < p->tokens ? want : p->tokens;
	p->tokens -= n;
	return n;
}
