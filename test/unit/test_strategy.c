/* strategy: EMA crossover and z-score mean reversion readings. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "server/strategy.h"

/*
 * Every strategy's reading has a side and a finite strength in [0, 1].
 * Loops count failures and assert once: each Check assertion is a write to
 * its pipe, too slow for hundreds of thousands of steps.
 */
static bool sane(const struct strategy_state *s)
{
	for (int id = 0; id < STRATEGY_COUNT; id++) {
		struct strategy_output o = strategy_eval(s, (enum strategy_id)id);

		if (!(isfinite(o.strength) && o.strength >= 0.0 && o.strength <= 1.0))
			return false;
		if (o.side != STRATEGY_SIDE_BUY && o.side != STRATEGY_SIDE_SELL)
			return false;
	}
	return true;
}

static void assert_sane(const struct strategy_state *s)
{
	ck_assert_msg(sane(s), "ema-cross %g, zscore-revert %g",
		      strategy_eval(s, STRATEGY_EMA_CROSS).strength,
		      strategy_eval(s, STRATEGY_ZSCORE_REVERT).strength);
}

START_TEST(test_names)
{
	ck_assert_str_eq(strategy_name(STRATEGY_EMA_CROSS), "ema-cross");
	ck_assert_str_eq(strategy_name(STRATEGY_ZSCORE_REVERT), "zscore-revert");
	ck_assert_ptr_null(strategy_name(STRATEGY_COUNT));
	ck_assert_ptr_null(strategy_name((enum strategy_id)-1));
}
END_TEST

START_TEST(test_ema_trend)
{
	struct strategy_state s;
	struct strategy_output o;
	double p = 100.0;

	strategy_state_init(&s, p);
	for (int i = 0; i < 50; i++) {
		p *= 1.002;
		strategy_update(&s, p);
	}
	o = strategy_eval(&s, STRATEGY_EMA_CROSS);
	ck_assert_int_eq(o.side, STRATEGY_SIDE_BUY);
	ck_assert(o.strength > 0.1 && o.strength <= 1.0);

	for (int i = 0; i < 100; i++) {
		p /= 1.002;
		strategy_update(&s, p);
	}
	o = strategy_eval(&s, STRATEGY_EMA_CROSS);
	ck_assert_int_eq(o.side, STRATEGY_SIDE_SELL);
	ck_assert(o.strength > 0.1 && o.strength <= 1.0);
}
END_TEST

START_TEST(test_ema_strength_grows)
{
	struct strategy_state slow, fast;
	double ps = 100.0, pf = 100.0;

	/* A steeper trend opens a wider gap: a stronger signal. */
	strategy_state_init(&slow, ps);
	strategy_state_init(&fast, pf);
	for (int i = 0; i < 50; i++) {
		ps *= 1.0005;
		pf *= 1.002;
		strategy_update(&slow, ps);
		strategy_update(&fast, pf);
	}
	ck_assert(strategy_eval(&fast, STRATEGY_EMA_CROSS).strength >
		  strategy_eval(&slow, STRATEGY_EMA_CROSS).strength);
}
END_TEST

static void feed_noise(struct strategy_state *s, double base, int n)
{
	/* Small alternating wiggle so the window has some variance. */
	for (int i = 0; i < n; i++)
		strategy_update(s, base * (1.0 + ((i % 2) ? 1e-4 : -1e-4)));
}

START_TEST(test_zscore_spike)
{
	struct strategy_state s;
	struct strategy_output o;

	strategy_state_init(&s, 100.0);
	feed_noise(&s, 100.0, 64);
	strategy_update(&s, 110.0);
	o = strategy_eval(&s, STRATEGY_ZSCORE_REVERT);
	ck_assert_int_eq(o.side, STRATEGY_SIDE_SELL);
	ck_assert(o.strength > 0.9 && o.strength <= 1.0);

	strategy_state_init(&s, 100.0);
	feed_noise(&s, 100.0, 64);
	strategy_update(&s, 90.0);
	o = strategy_eval(&s, STRATEGY_ZSCORE_REVERT);
	ck_assert_int_eq(o.side, STRATEGY_SIDE_BUY);
	ck_assert(o.strength > 0.9 && o.strength <= 1.0);

	/* Also from a perfectly flat window (variance 0 before the spike). */
	strategy_state_init(&s, 50.0);
	for (int i = 0; i < 40; i++)
		strategy_update(&s, 50.0);
	strategy_update(&s, 51.0);
	o = strategy_eval(&s, STRATEGY_ZSCORE_REVERT);
	ck_assert_int_eq(o.side, STRATEGY_SIDE_SELL);
	ck_assert(o.strength > 0.9);
}
END_TEST

START_TEST(test_zscore_forgets)
{
	struct strategy_state s;

	/* Once the spike has left the window, only the wiggle is left. */
	strategy_state_init(&s, 100.0);
	feed_noise(&s, 100.0, 40);
	strategy_update(&s, 1000.0);
	feed_noise(&s, 100.0, STRATEGY_ZSCORE_WINDOW);
	ck_assert(strategy_eval(&s, STRATEGY_ZSCORE_REVERT).strength < 0.6);
	ck_assert_uint_eq(s.count, STRATEGY_ZSCORE_WINDOW);
}
END_TEST

START_TEST(test_startup)
{
	struct strategy_state s;

	/* Before any update, after one, and on a flat series: zero strength. */
	strategy_state_init(&s, 123.0);
	assert_sane(&s);
	ck_assert(strategy_eval(&s, STRATEGY_ZSCORE_REVERT).strength == 0.0);
	ck_assert(strategy_eval(&s, STRATEGY_EMA_CROSS).strength == 0.0);
	strategy_update(&s, 123.0);
	assert_sane(&s);
	for (int i = 0; i < 1000; i++) {
		strategy_update(&s, 123.0);
		if (!sane(&s) || strategy_eval(&s, STRATEGY_ZSCORE_REVERT).strength != 0.0 ||
		    strategy_eval(&s, STRATEGY_EMA_CROSS).strength != 0.0)
			ck_abort_msg("flat series, step %d: not a zero reading", i);
	}
	ck_assert_int_eq(strategy_eval(&s, STRATEGY_COUNT).side, STRATEGY_SIDE_UNSPECIFIED);
}
END_TEST

START_TEST(test_flat_series_no_rounding_noise)
{
	/* Flat at values whose squares round: cancellation must not read as a
	 * signal (or a negative variance). */
	static const double prices[] = {0.1, 1.0 / 3.0, 99.99, 12345.678901, 1e9 + 0.3,
					7.77e12};

	for (size_t k = 0; k < sizeof(prices) / sizeof(prices[0]); k++) {
		struct strategy_state s;

		strategy_state_init(&s, prices[k]);
		for (int i = 0; i < 500; i++) {
			strategy_update(&s, prices[k]);
			if (!sane(&s) || strategy_eval(&s, STRATEGY_ZSCORE_REVERT).strength > 1e-3)
				ck_abort_msg("price %g step %d: %g", prices[k], i,
					     strategy_eval(&s, STRATEGY_ZSCORE_REVERT).strength);
		}
	}
}
END_TEST

static uint64_t rng_state = 0x853c49e6748fea9bu;

static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) * 0x1p-53;
}

START_TEST(test_random_series)
{
	static const double scales[] = {1e-300, 1e-200, 1e-100, 1e-5, 1.0, 1e5,
					1e100, 1e150, 1e200, 1e300, DBL_MAX / 4};

	for (size_t k = 0; k < sizeof(scales) / sizeof(scales[0]); k++) {
		struct strategy_state s;
		double p = 1.0;
		int strong[STRATEGY_COUNT] = {0};

		strategy_state_init(&s, scales[k]);
		for (int i = 0; i < 5000; i++) {
			p *= 1.0 + (uniform() - 0.5) * 0.02;
			if (p > 2.0)
				p = 2.0;
			strategy_update(&s, scales[k] * p);
			if (!sane(&s))
				ck_abort_msg("scale %g step %d", scales[k], i);
			for (int id = 0; id < STRATEGY_COUNT; id++) {
				enum strategy_id sid = (enum strategy_id)id;

				strong[id] += strategy_eval(&s, sid).strength > 0.5;
			}
		}
		/* Huge and tiny prices still give real readings, not just 0. */
		for (int id = 0; id < STRATEGY_COUNT; id++)
			ck_assert_msg(strong[id] > 250, "scale %g, strategy %d: %d strong readings",
				      scales[k], id, strong[id]);
	}
}
END_TEST

START_TEST(test_jumps_between_extremes)
{
	static const double prices[] = {1e-300, 1e300, DBL_MAX, DBL_MIN, 5e-324, 1.0,
					DBL_MAX, DBL_MAX, 1e-320};
	struct strategy_state s;

	strategy_state_init(&s, 1.0);
	for (int lap = 0; lap < 20; lap++) {
		for (size_t k = 0; k < sizeof(prices) / sizeof(prices[0]); k++) {
			strategy_update(&s, prices[k]);
			if (!sane(&s))
				ck_abort_msg("lap %d price %g", lap, prices[k]);
		}
	}
	/* Non-finite prices are ignored, not absorbed. */
	strategy_update(&s, NAN);
	strategy_update(&s, INFINITY);
	assert_sane(&s);
	ck_assert(isfinite(s.ema_fast) && isfinite(s.ema_slow));
}
END_TEST

START_TEST(test_long_run_sums)
{
	struct strategy_state s, fresh;
	double p = 100.0;
	int i;

	/* After a million updates the running sums still match the window. */
	strategy_state_init(&s, p);
	for (i = 0; i < 1000000 + 7; i++) {
		p *= 1.0 + (uniform() - 0.5) * 0.01;
		strategy_update(&s, p);
	}
	memset(&fresh, 0, sizeof(fresh));
	for (uint32_t j = 0; j < STRATEGY_ZSCORE_WINDOW; j++) {
		fresh.sum += s.window[j];
		fresh.sum_sq += s.window[j] * s.window[j];
	}
	ck_assert_double_eq_tol(s.sum, fresh.sum, fabs(fresh.sum) * 1e-12);
	ck_assert_double_eq_tol(s.sum_sq, fresh.sum_sq, fabs(fresh.sum_sq) * 1e-12);
	assert_sane(&s);
}
END_TEST

Suite *strategy_suite(void);
Suite *strategy_suite(void)
{
	Suite *s = suite_create("strategy");
	TCase *tc = tcase_create("strategy");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_ema_trend);
	tcase_add_test(tc, test_ema_strength_grows);
	tcase_add_test(tc, test_zscore_spike);
	tcase_add_test(tc, test_zscore_forgets);
	tcase_add_test(tc, test_startup);
	tcase_add_test(tc, test_flat_series_no_rounding_noise);
	tcase_add_test(tc, test_random_series);
	tcase_add_test(tc, test_jumps_between_extremes);
	tcase_add_test(tc, test_long_run_sums);
	suite_add_tcase(s, tc);
	return s;
}
