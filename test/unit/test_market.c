/* market: reproducible, well-behaved per-symbol random walks. */
#include <check.h>
#include <math.h>
#include <stdint.h>

#include "server/market.h"

#define SERIES_LEN 1000

static void series(uint64_t seed, uint32_t index, double *out, int n)
{
	struct market_symbol m;

	market_symbol_init(&m, seed, index);
	for (int i = 0; i < n; i++)
		out[i] = market_symbol_step(&m);
}

START_TEST(test_reproducible)
{
	static double a[SERIES_LEN], b[SERIES_LEN];
	struct market_symbol m1, m2;

	market_symbol_init(&m1, 42, 7);
	market_symbol_init(&m2, 42, 7);
	ck_assert(m1.price == m2.price);
	ck_assert(m1.volatility == m2.volatility);
	series(42, 7, a, SERIES_LEN);
	series(42, 7, b, SERIES_LEN);
	for (int i = 0; i < SERIES_LEN; i++)
		ck_assert_msg(a[i] == b[i], "step %d: %.17g != %.17g", i, a[i], b[i]);
}
END_TEST

static int count_equal(const double *a, const double *b, int n)
{
	int same = 0;

	for (int i = 0; i < n; i++)
		same += a[i] == b[i];
	return same;
}

START_TEST(test_streams_differ)
{
	static double a[SERIES_LEN], b[SERIES_LEN];

	series(42, 0, a, SERIES_LEN);
	/* Neighbouring indices, neighbouring seeds, and swapped (seed, index). */
	series(42, 1, b, SERIES_LEN);
	ck_assert_int_eq(count_equal(a, b, SERIES_LEN), 0);
	series(43, 0, b, SERIES_LEN);
	ck_assert_int_eq(count_equal(a, b, SERIES_LEN), 0);
	series(0, 42, b, SERIES_LEN);
	ck_assert_int_eq(count_equal(a, b, SERIES_LEN), 0);
	series(0, 0, a, SERIES_LEN);
	series(0, 1, b, SERIES_LEN);
	ck_assert_int_eq(count_equal(a, b, SERIES_LEN), 0);
}
END_TEST

START_TEST(test_initial_draws)
{
	double lo = INFINITY, hi = 0.0;

	/* Starting prices and volatilities spread over their ranges. */
	for (uint32_t i = 0; i < 1000; i++) {
		struct market_symbol m;

		market_symbol_init(&m, 1, i);
		ck_assert(isfinite(m.price) && m.price > 0.0);
		ck_assert(m.volatility > 0.0 && m.volatility < 0.1);
		ck_assert(m.rng[0] != 0 || m.rng[1] != 0);
		lo = fmin(lo, m.price);
		hi = fmax(hi, m.price);
	}
	ck_assert(hi / lo > 10.0);
}
END_TEST

START_TEST(test_long_walk)
{
	/*
	 * Every price of a million steps is finite and positive, and the walk
	 * really moves: its log returns have about the symbol's volatility.
	 * (Assertions stay out of the loop: each one is a write to Check's pipe.)
	 */
	for (uint32_t idx = 0; idx < 3; idx++) {
		struct market_symbol m;
		double prev, sum_sq = 0.0;
		const int steps = 1000000;
		int bad = -1;

		market_symbol_init(&m, 2024, idx);
		prev = m.price;
		for (int i = 0; i < steps; i++) {
			double p = market_symbol_step(&m);
			double r;

			if (!(isfinite(p) && p > 0.0) && bad < 0)
				bad = i;
			r = log(p / prev);
			sum_sq += r * r;
			prev = p;
		}
		ck_assert_msg(bad < 0, "symbol %u: step %d not finite and positive", idx, bad);
		ck_assert_double_eq_tol(sqrt(sum_sq / steps) / m.volatility, 1.0, 0.05);
	}
}
END_TEST

START_TEST(test_extreme_volatility)
{
	struct market_symbol m;
	double lo = INFINITY, hi = 0.0;

	/* Even a wildly volatile symbol stays within finite, positive prices. */
	market_symbol_init(&m, 5, 5);
	m.volatility = 2.0;
	for (int i = 0; i < 100000; i++) {
		double p = market_symbol_step(&m);

		lo = p < lo ? p : lo;
		hi = p > hi ? p : hi;
		/* NaN fails both comparisons: make it visible. */
		if (isnan(p))
			lo = -1.0;
	}
	ck_assert_msg(lo > 0.0 && isfinite(hi), "prices in [%g, %g]", lo, hi);
}
END_TEST

Suite *market_suite(void);
Suite *market_suite(void)
{
	Suite *s = suite_create("market");
	TCase *tc = tcase_create("market");

	/* A million steps under the sanitizers take a few seconds. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reproducible);
	tcase_add_test(tc, test_streams_differ);
	tcase_add_test(tc, test_initial_draws);
	tcase_add_test(tc, test_long_walk);
	tcase_add_test(tc, test_extreme_volatility);
	suite_add_tcase(s, tc);
	return s;
}
