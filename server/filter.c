#include "server/filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/strategy.h"

_Static_assert(STRATEGY_COUNT <= 32, "strategy mask is 32 bits");

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

int filter_init(struct filter *f, const struct symtab *tab, char *const *symbols,
		size_t n_symbols, char *const *strategies, size_t n_strategies,
		double min_strength)
{
	uint32_t ids[LIMITS_REQUEST_SYMBOLS_MAX];
	uint32_t n = 0;

	memset(f, 0, sizeof(*f));
	f->all_symbols = n_symbols == 0;
	for (size_t i = 0; i < n_symbols && i < LIMITS_REQUEST_SYMBOLS_MAX; i++) {
		uint32_t id = symtab_find(tab, symbols[i], strlen(symbols[i]));

		if (id != SYMTAB_NOT_FOUND)
			ids[n++] = id;
	}
	qsort(ids, n, sizeof(ids[0]), cmp_u32);
	/* Drop duplicates so each id parks the stream once. */
	if (n > 1) {
		uint32_t o = 1;

		for (uint32_t i = 1; i < n; i++)
			if (ids[i] != ids[o - 1])
				ids[o++] = ids[i];
		n = o;
	}
	if (n > 0) {
		f->symbols = malloc(n * sizeof(ids[0]));
		if (f->symbols == NULL)
			return -ENOMEM;
		memcpy(f->symbols, ids, n * sizeof(ids[0]));
		f->n_symbols = n;
	}
	if (n_strategies == 0)
		f->strategies = (1u << STRATEGY_COUNT) - 1;
	for (size_t i = 0; i < n_strategies; i++)
		for (uint32_t id = 0; id < STRATEGY_COUNT; id++)
			if (strcmp(strategies[i], strategy_name((enum strategy_id)id)) == 0)
				f->strategies |= 1u << id;
	f->min_strength = min_strength;
	return 0;
}

void filter_finish(struct filter *f)
{
	free(f->symbols);
	f->symbols = NULL;
	f->n_symbols = 0;
}

bool filter_match(const struct filter *f, const struct ring_meta *meta)
{
	if (meta->strength < f->min_strength || !(f->strategies >> meta->strategy & 1u))
		return false;
	if (f->all_symbols)
		return true;
	/* Binary search: at most 64 ids. */
	for (uint32_t lo = 0, hi = f->n_symbols; lo < hi;) {
		uint32_t mid = (lo + hi) / 2;

		if (f->symbols[mid] == meta->symbol)
			return true;
		if (f->symbols[mid] < meta->symbol)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool filter_matches_nothing(const struct filter *f)
{
	return f->strategies == 0 || (!f->all_symbols && f->n_symbols == 0);
}
