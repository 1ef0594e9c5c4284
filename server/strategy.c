#include "server/strategy.h"

#include <float.h>
#include <math.h>

/* The classic 12/26-period pair; alpha = 2 / (N + 1). */
#define STRATEGY_EMA_FAST_ALPHA (2.0 / (12.0 + 1.0))
#define STRATEGY_EMA_SLOW_ALPHA (2.0 / (26.0 + 1.0))

/*
 * Squashing gains: a 1% gap between the EMAs, or a z-score of 2, reads as a
 * strength of tanh(1) ~ 0.76. With the market's per-step volatilities the
 * gap is typically a few tenths of a percent, so strengths use the range.
 */
#define STRATEGY_EMA_GAIN 100.0
#define STRATEGY_ZSCORE_GAIN 0.5

/*
 * A window whose standard deviation is below 1e-6 of its mean is flat: the
 * running sums carry rounding noise of ~1e-15 relative, and dividing by a
 * standard deviation made of that noise would turn it into a full-strength
 * signal.
 */
#define STRATEGY_ZSCORE_FLAT_REL2 1e-12

/*
 * Within these bounds on the mean, the squares in the running sums stay
 * normal and finite; outside, the z-score is computed from a rescaled copy
 * of the window instead.
 */
#define STRATEGY_SUMS_MIN 1e-140
#define STRATEGY_SUMS_MAX 1e140

static const char *const strategy_names[STRATEGY_COUNT] = {
	[STRATEGY_EMA_CROSS] = "ema-cross",
	[STRATEGY_ZSCORE_REVERT] = "zscore-revert",
};

const char *strategy_name(enum strategy_id id)
{
	if ((unsigned)id >= STRATEGY_COUNT)
		return NULL;
	return strategy_names[id];
}

void strategy_state_init(struct strategy_state *s, double first_price)
{
	*s = (struct strategy_state){0};
	/* Both EMAs start level, so the crossover starts neutral. */
	s->ema_fast = first_price;
	s->ema_slow = first_price;
}

/*
 * Rebuilding the sums once per lap of the ring bounds the rounding error
 * that add/subtract updates accumulate over millions of prices.
 */
static void zscore_resum(struct strategy_state *s)
{
	double sum = 0.0, sum_sq = 0.0;

	for (uint32_t i = 0; i < s->count; i++) {
		sum += s->window[i];
		sum_sq += s->window[i] * s->window[i];
	}
	s->sum = sum;
	s->sum_sq = sum_sq;
}

void strategy_update(struct strategy_state *s, double price)
{
	/* One non-finite price would poison every average for good. */
	if (!isfinite(price))
		return;

	s->ema_fast += STRATEGY_EMA_FAST_ALPHA * (price - s->ema_fast);
	s->ema_slow += STRATEGY_EMA_SLOW_ALPHA * (price - s->ema_slow);

	if (s->count == STRATEGY_ZSCORE_WINDOW) {
		double old = s->window[s->pos];

		s->sum -= old;
		s->sum_sq -= old * old;
	} else {
		s->count++;
	}
	s->window[s->pos] = price;
	s->sum += price;
	s->sum_sq += price * price;
	s->pos = (s->pos + 1) % STRATEGY_ZSCORE_WINDOW;
	if (s->pos == 0)
		zscore_resum(s);
}

static double ema_indicator(const struct strategy_state *s)
{
	double ref = fabs(s->ema_slow);

	if (!(ref > 0.0))
		return 0.0;
	return (s->ema_fast - s->ema_slow) / ref;
}

/* Two-pass z-score on the window divided by its largest magnitude. */
static double zscore_rescaled(const struct strategy_state *s, double last)
{
	double n = (double)s->count;
	double scale = 0.0, mean = 0.0, var = 0.0;

	for (uint32_t i = 0; i < s->count; i++) {
		if (fabs(s->window[i]) > scale)
			scale = fabs(s->window[i]);
	}
	if (!(scale > 0.0))
		return 0.0;
	for (uint32_t i = 0; i < s->count; i++)
		mean += s->window[i] / scale;
	mean /= n;
	for (uint32_t i = 0; i < s->count; i++) {
		double d = s->window[i] / scale - mean;

		var += d * d;
	}
	var /= n;
	if (!(var > mean * mean * STRATEGY_ZSCORE_FLAT_REL2))
		return 0.0;
	return (last / scale - mean) / sqrt(var);
}

static double zscore(const struct strategy_state *s)
{
	double n = (double)s->count;
	double last, mean, var;

	if (s->count < 2)
		return 0.0;
	last = s->window[(s->pos + STRATEGY_ZSCORE_WINDOW - 1) % STRATEGY_ZSCORE_WINDOW];
	mean = s->sum / n;
	if (!(fabs(mean) >= STRATEGY_SUMS_MIN && fabs(mean) <= STRATEGY_SUMS_MAX))
		return zscore_rescaled(s, last);
	/* Cancellation can leave a flat window's variance slightly negative. */
	var = s->sum_sq / n - mean * mean;
	if (!(var > mean * mean * STRATEGY_ZSCORE_FLAT_REL2))
		return 0.0;
	return (last - mean) / sqrt(var);
}

/* Positive indicator = BUY. */
static struct strategy_output strategy_reading(double indicator, double gain)
{
	struct strategy_output out = {STRATEGY_SIDE_BUY, 0.0};
	double strength;

	if (!isfinite(indicator))
		return out;
	/*
	 * A zero indicator has no direction; it reads as BUY at strength 0 so
	 * that every signal carries a side the wire accepts.
	 */
	if (indicator < 0.0)
		out.side = STRATEGY_SIDE_SELL;
	strength = tanh(fabs(indicator) * gain);
	if (!(strength >= 0.0))
		strength = 0.0;
	else if (strength > 1.0)
		strength = 1.0;
	out.strength = strength;
	return out;
}

struct strategy_output strategy_eval(const struct strategy_state *s, enum strategy_id id)
{
	switch (id) {
	case STRATEGY_EMA_CROSS:
		return strategy_reading(ema_indicator(s), STRATEGY_EMA_GAIN);
	case STRATEGY_ZSCORE_REVERT:
		/* Mean reversion: a price above its mean is expected to fall. */
		return strategy_reading(-zscore(s), STRATEGY_ZSCORE_GAIN);
	default:
		return (struct strategy_output){STRATEGY_SIDE_UNSPECIFIED, 0.0};
	}
}
