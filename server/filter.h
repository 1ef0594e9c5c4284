/*
 * filter — a stream's compiled request filter: the requested symbols as
 * sorted symtab ids, the strategies as a bit mask, and min_strength.
 * Names the server does not produce are dropped at compile time, so a
 * request naming only unknown symbols matches nothing (but still gets
 * heartbeats) rather than everything.
 */
#ifndef SIGSTREAM_FILTER_H
#define SIGSTREAM_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"
#include "server/ring.h"
#include "server/symtab.h"

struct filter {
	bool all_symbols;     /* no symbol named: every symbol */
	uint32_t n_symbols;   /* known ids in `symbols` */
	/* Exactly n_symbols ids (NULL when none): every open stream holds a
	 * filter, and most name a few symbols, not LIMITS_REQUEST_SYMBOLS_MAX. */
	uint32_t *symbols;
	uint32_t strategies;  /* bit per strategy id */
	double min_strength;
};

/* Inputs are already validated (request_validate). Returns 0 or -ENOMEM;
 * filter_finish() releases what a successful filter_init() made. */
int filter_init(struct filter *f, const struct symtab *tab, char *const *symbols,
		size_t n_symbols, char *const *strategies, size_t n_strategies,
		double min_strength);
void filter_finish(struct filter *f);
bool filter_match(const struct filter *f, const struct ring_meta *meta);
/* True when no signal can ever match (only unknown names requested). */
bool filter_matches_nothing(const struct filter *f);

#endif
