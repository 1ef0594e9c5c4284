/*
 * market — a reproducible simulated market: one geometric random walk of
 * the price per symbol, each symbol with its own PRNG stream derived from
 * (seed, symbol index), so a run is reproducible with the same --seed
 * whatever the number of producer threads.
 */
#ifndef SIGSTREAM_MARKET_H
#define SIGSTREAM_MARKET_H

#include <stdint.h>

struct market_symbol {
	uint64_t rng[2];     /* PRNG state (e.g. xorshift128+ or splitmix-seeded) */
	double price;        /* last price, > 0 */
	double volatility;   /* per-step stddev of log returns */
};

/* Seeds the walk of symbol `index` from `seed`; the starting price and
 * volatility are themselves drawn from that stream. */
void market_symbol_init(struct market_symbol *m, uint64_t seed, uint32_t index);
/* Advances one step and returns the new price. */
double market_symbol_step(struct market_symbol *m);

#endif
