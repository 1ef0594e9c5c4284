/* client/backoff: growth, cap, full-jitter bounds, reset; the random source injected. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "client/backoff.h"

#define MS INT64_C(1000000)

/* A random source that returns whatever the test put there. */
static uint64_t fixed_rng(void *state)
{
	return *(uint64_t *)state;
}

START_TEST(test_init_checks)
{
	struct backoff b;
	uint64_t r = 0;

	ck_assert_int_eq(backoff_init(&b, 0, 5000 * MS, fixed_rng, &r), -EINVAL);
	ck_assert_int_eq(backoff_init(&b, 100 * MS, 50 * MS, fixed_rng, &r), -EINVAL);
	ck_assert_int_eq(backoff_init(&b, 100 * MS, 5000 * MS, NULL, &r), -EINVAL);
	ck_assert_int_eq(backoff_init(&b, 100 * MS, 5000 * MS, fixed_rng, &r), 0);
}
END_TEST

START_TEST(test_growth_and_cap)
{
	/* Each draw set to the ceiling itself, the largest delay the ceiling allows. */
	struct backoff b;
	uint64_t r;
	const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};

	ck_assert_int_eq(backoff_init(&b, 100 * MS, 5000 * MS, fixed_rng, &r), 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		r = (uint64_t)b.ceiling_ns;
		ck_assert_int_eq(b.ceiling_ns, want[i] * MS);
		ck_assert_int_eq(backoff_next(&b), want[i] * MS);
	}
}
END_TEST

START_TEST(test_full_jitter_bounds)
{
	struct backoff b;
	uint64_t seed = 12345;
	int64_t ceiling, d, lowest = INT64_MAX, highest = 0;

	/* Real random draws: always in [0, ceiling], and they spread over it. */
	ck_assert_int_eq(backoff_init(&b, 100 * MS, 5000 * MS, backoff_splitmix64, &seed), 0);
	for (int i = 0; i < 10000; i++) {
		ceiling = b.ceiling_ns;
		d = backoff_next(&b);
		ck_assert_int_ge(d, 0);
		ck_assert_int_le(d, ceiling);
		if (ceiling == 5000 * MS) {
			if (d < lowest)
				lowest = d;
			if (d > highest)
				highest = d;
		}
	}
	ck_assert_int_lt(lowest, 100 * MS);
	ck_assert_int_gt(highest, 4900 * MS);

	/* The smallest draw is 0: "full" jitter. */
	{
		uint64_t zero = 0;

		ck_assert_int_eq(backoff_init(&b, 100 * MS, 5000 * MS, fixed_rng, &zero), 0);
		ck_assert_int_eq(backoff_next(&b), 0);
	}
}
END_TEST

START_TEST(test_reset)
{
	struct backoff b;
	uint64_t r = 0;

	ck_assert_int_eq(backoff_init(&b, 100 * MS, 5000 * MS, fixed_rng, &r), 0);
	for (int i = 0; i < 20; i++)
		backoff_next(&b);
	ck_assert_int_eq(b.ceiling_ns, 5000 * MS);
	backoff_reset(&b);
	ck_assert_int_eq(b.ceiling_ns, 100 * MS);
	r = (uint64_t)b.ceiling_ns;
	ck_assert_int_eq(backoff_next(&b), 100 * MS);
	ck_assert_int_eq(b.ceiling_ns, 200 * MS);
}
END_TEST

START_TEST(test_no_overflow)
{
	struct backoff b;
	uint64_t r = UINT64_MAX;

	/* A cap near INT64_MAX: doubling must saturate at the cap, never wrap. */
	ck_assert_int_eq(backoff_init(&b, INT64_MAX / 3, INT64_MAX, fixed_rng, &r), 0);
	for (int i = 0; i < 10; i++) {
		int64_t d = backoff_next(&b);

		ck_assert_int_ge(d, 0);
		ck_assert_int_ge(b.ceiling_ns, INT64_MAX / 3);
	}
	ck_assert_int_eq(b.ceiling_ns, INT64_MAX);
}
END_TEST

START_TEST(test_splitmix_deterministic)
{
	uint64_t a = 1, b = 1, c = 2;

	ck_assert_uint_eq(backoff_splitmix64(&a), backoff_splitmix64(&b));
	ck_assert_uint_ne(backoff_splitmix64(&a), backoff_splitmix64(&c));
}
END_TEST

Suite *backoff_suite(void);
Suite *backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("backoff");

	tcase_add_test(tc, test_init_checks);
	tcase_add_test(tc, test_growth_and_cap);
	tcase_add_test(tc, test_full_jitter_bounds);
	tcase_add_test(tc, test_reset);
	tcase_add_test(tc, test_no_overflow);
	tcase_add_test(tc, test_splitmix_deterministic);
	suite_add_tcase(s, tc);
	return s;
}
