#include "server/market.h"

#include <math.h>

/*
 * Starting prices are drawn log-uniformly in [10, 1000] and per-step
 * volatilities in [5e-4, 5e-3]: a spread of realistic instruments.
 */
#define MARKET_PRICE0_MIN 10.0
#define MARKET_PRICE0_SPAN 100.0
#define MARKET_VOL_MIN 5e-4
#define MARKET_VOL_SPAN 10.0

/*
 * An unbounded geometric walk drifts without limit: a server running for
 * days steps each symbol billions of times, enough to reach prices whose
 * squares overflow (or underflow to 0). The log price is reflected off a
 * wide band instead, which leaves the walk untouched in normal operation.
 */
#define MARKET_PRICE_MIN 1e-2
#define MARKET_PRICE_MAX 1e6

#define MARKET_TWO_PI 6.283185307179586476925286766559

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t xorshift128p(uint64_t s[2])
{
	uint64_t a = s[0];
	uint64_t b = s[1];

	s[0] = b;
	a ^= a << 23;
	s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
	return s[1] + b;
}

/* Uniform in (0, 1]: never 0, so it is safe under log(). */
static double unit_open0(uint64_t s[2])
{
	return (double)((xorshift128p(s) >> 11) + 1) * 0x1p-53;
}

/* Uniform in [0, 1). */
static double unit_open1(uint64_t s[2])
{
	return (double)(xorshift128p(s) >> 11) * 0x1p-53;
}

/*
 * Box-Muller, keeping one of the pair: caching the other would need state
 * the struct does not have, and one extra uniform per step is cheap.
 */
static double normal(uint64_t s[2])
{
	double r = sqrt(-2.0 * log(unit_open0(s)));

	return r * cos(MARKET_TWO_PI * unit_open1(s));
}

void market_symbol_init(struct market_symbol *m, uint64_t seed, uint32_t index)
{
	/*
	 * The seed is mixed before the index goes in, so that (seed, index)
	 * and (index, seed) are unrelated streams; for one seed, distinct
	 * indices give distinct keys, and the mixing below spreads a one-bit
	 * difference in the key over the whole state.
	 */
	uint64_t key = seed;

	key = splitmix64(&key) ^ index;
	m->rng[0] = splitmix64(&key);
	m->rng[1] = splitmix64(&key);
	/* All-zero is xorshift's one fixed point. */
	if (m->rng[0] == 0 && m->rng[1] == 0)
		m->rng[1] = 1;
	m->price = MARKET_PRICE0_MIN * pow(MARKET_PRICE0_SPAN, unit_open1(m->rng));
	m->volatility = MARKET_VOL_MIN * pow(MARKET_VOL_SPAN, unit_open1(m->rng));
}

double market_symbol_step(struct market_symbol *m)
{
	const double lo = log(MARKET_PRICE_MIN);
	const double hi = log(MARKET_PRICE_MAX);
	double v = m->volatility;
	/* -v^2/2 makes the price itself, not its log, a martingale. */
	double x = log(m->price) + v * normal(m->rng) - 0.5 * v * v;

	if (x > hi)
		x = 2.0 * hi - x;
	else if (x < lo)
		x = 2.0 * lo - x;
	/* A step can only overshoot by a few v, far less than the band. */
	if (!(x >= lo && x <= hi))
		x = x > hi ? hi : lo;
	m->price = exp(x);
	return m->price;
}
