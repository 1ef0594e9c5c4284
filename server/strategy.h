/*
 * strategy — the trading strategies the producers run on each symbol's
 * price series. Each strategy keeps a small per-symbol state and, on every
 * new price, yields an indicator whose sign gives the side and whose
 * magnitude, squashed into [0, 1], gives the strength.
 *   - "ema-cross": fast EMA vs slow EMA crossover; indicator = (fast - slow)
 *     relative to price, scaled.
 *   - "zscore-revert": z-score of the price against a rolling mean and
 *     standard deviation (fixed window); mean reversion, so a high z-score
 *     means SELL.
 */
#ifndef SIGSTREAM_STRATEGY_H
#define SIGSTREAM_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

enum strategy_id {
	STRATEGY_EMA_CROSS,
	STRATEGY_ZSCORE_REVERT,
	STRATEGY_COUNT,
};

#define STRATEGY_ZSCORE_WINDOW 32

struct strategy_state {
	/* ema-cross */
	double ema_fast, ema_slow;
	/* zscore-revert: ring of the last STRATEGY_ZSCORE_WINDOW prices */
	double window[STRATEGY_ZSCORE_WINDOW];
	double sum, sum_sq;
	uint32_t count, pos;
};

/* Values follow the wire enum signals.v1.Side. */
enum strategy_side {
	STRATEGY_SIDE_UNSPECIFIED = 0,
	STRATEGY_SIDE_BUY = 1,
	STRATEGY_SIDE_SELL = 2,
};

struct strategy_output {
	enum strategy_side side;
	double strength; /* [0, 1] */
};

/* "ema-cross", "zscore-revert"; NULL for an id out of range. */
const char *strategy_name(enum strategy_id id);
void strategy_state_init(struct strategy_state *s, double first_price);
/* Feeds one price to every strategy's state. */
void strategy_update(struct strategy_state *s, double price);
/* The current reading of strategy `id` (valid after at least one update). */
struct strategy_output strategy_eval(const struct strategy_state *s, enum strategy_id id);

#endif
