/* pacer: the token bucket's arithmetic, on synthetic clocks. */
#include <check.h>
#include <stdint.h>

#include "common/timeutil.h"
#include "server/pacer.h"

#define MS TIMEUTIL_NS_PER_MS
#define SEC TIMEUTIL_NS_PER_SEC

/* Ticks every `step_ns` from t0 for `span_ns`, taking all it can. */
static uint64_t drain(struct pacer *p, int64_t t0, int64_t step_ns, int64_t span_ns)
{
	uint64_t n = 0;

	for (int64_t t = t0 + step_ns; t <= t0 + span_ns; t += step_ns)
		n += pacer_take(p, t, UINT64_MAX);
	return n;
}

START_TEST(test_exact_rate)
{
	struct pacer p;

	pacer_init(&p, 1000, 1000, 0);
	ck_assert_uint_eq(drain(&p, 0, MS, 10 * SEC), 10000);

	/* A rate that is not a whole number of tokens per tick. */
	pacer_init(&p, 7, 100, 5 * SEC);
	ck_assert_uint_eq(drain(&p, 5 * SEC, MS, 10 * SEC), 70);

	/* Nor of nanoseconds per token: 1e9 / 3 is not an integer. */
	pacer_init(&p, 3, 10, 0);
	ck_assert_uint_eq(drain(&p, 0, MS, 999 * MS), 2);
	ck_assert_uint_eq(pacer_take(&p, SEC, 10), 1);
}
END_TEST

START_TEST(test_no_drift_with_jitter)
{
	struct pacer p;
	uint64_t x = 88172645463325252u;
	uint64_t n = 0;
	int64_t t = 0;

	/* Irregular wake-ups (0..2.9 ms) over 100 s: exactly rate * 100. */
	pacer_init(&p, 12345, 1000000, 0);
	while (t < 100 * SEC) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		t += (int64_t)(x % 2900000);
		if (t > 100 * SEC)
			t = 100 * SEC;
		n += pacer_take(&p, t, UINT64_MAX);
	}
	ck_assert_uint_eq(n, 1234500);
}
END_TEST

START_TEST(test_fraction_boundary)
{
	struct pacer p;

	pacer_init(&p, 1, 5, 0);
	ck_assert_uint_eq(pacer_take(&p, SEC - 1, 5), 0);
	ck_assert_uint_eq(pacer_take(&p, SEC, 5), 1);
	ck_assert_uint_eq(pacer_take(&p, SEC, 5), 0);
	ck_assert_uint_eq(pacer_take(&p, 3 * SEC, 5), 2);
}
END_TEST

START_TEST(test_burst_and_want)
{
	struct pacer p;

	pacer_init(&p, 1000, 50, 0);
	/* A 10 s stall banks at most `burst`. */
	ck_assert_uint_eq(pacer_take(&p, 10 * SEC, 20), 20);
	ck_assert_uint_eq(pacer_take(&p, 10 * SEC, 100), 30);
	ck_assert_uint_eq(pacer_take(&p, 10 * SEC, 100), 0);
	/* And the stall leaves no fraction behind to skew what follows. */
	ck_assert_uint_eq(pacer_take(&p, 10 * SEC + 10 * MS, 100), 10);
	ck_assert_uint_eq(pacer_take(&p, 10 * SEC + 10 * MS, 0), 0);
}
END_TEST

START_TEST(test_time_backwards)
{
	struct pacer p;

	pacer_init(&p, 1000, 1000, 100 * MS);
	ck_assert_uint_eq(pacer_take(&p, 110 * MS, 1000), 10);
	ck_assert_uint_eq(pacer_take(&p, 50 * MS, 1000), 0);
	/* Returning to the past high-water mark earns nothing twice. */
	ck_assert_uint_eq(pacer_take(&p, 110 * MS, 1000), 0);
	ck_assert_uint_eq(pacer_take(&p, 111 * MS, 1000), 1);
	/* Negative clock values are just times. */
	pacer_init(&p, 1000, 1000, -5 * MS);
	ck_assert_uint_eq(pacer_take(&p, 5 * MS, 1000), 10);
}
END_TEST

START_TEST(test_unlimited)
{
	struct pacer p;

	pacer_init(&p, 0, 64, 0);
	ck_assert_uint_eq(pacer_take(&p, 0, 64), 64);
	ck_assert_uint_eq(pacer_take(&p, 0, UINT64_MAX), 64);
	ck_assert_uint_eq(pacer_take(&p, -SEC, 1000), 64);
	ck_assert_uint_eq(pacer_take(&p, SEC, 10), 10);
}
END_TEST

START_TEST(test_huge_values)
{
	struct pacer p;

	/* Products far past 64 bits saturate at the burst, never wrap. */
	pacer_init(&p, UINT64_MAX, UINT64_MAX, INT64_MIN);
	ck_assert_uint_eq(pacer_take(&p, INT64_MAX, UINT64_MAX), UINT64_MAX);
	pacer_init(&p, UINT64_MAX / 3, 1000, 0);
	ck_assert_uint_eq(pacer_take(&p, 1, UINT64_MAX), 1000);
	/* 2e10/s: 20 tokens a nanosecond. */
	pacer_init(&p, 20000000000u, UINT64_MAX, 0);
	ck_assert_uint_eq(pacer_take(&p, 3, UINT64_MAX), 60);
	ck_assert_uint_eq(pacer_take(&p, 3 + 5 * SEC, UINT64_MAX), 100000000000u);
	/* burst 0 is treated as 1. */
	pacer_init(&p, 1000, 0, 0);
	ck_assert_uint_eq(pacer_take(&p, SEC, 10), 1);
}
END_TEST

Suite *pacer_suite(void);
Suite *pacer_suite(void)
{
	Suite *s = suite_create("pacer");
	TCase *tc = tcase_create("pacer");

	tcase_add_test(tc, test_exact_rate);
	tcase_add_test(tc, test_no_drift_with_jitter);
	tcase_add_test(tc, test_fraction_boundary);
	tcase_add_test(tc, test_burst_and_want);
	tcase_add_test(tc, test_time_backwards);
	tcase_add_test(tc, test_unlimited);
	tcase_add_test(tc, test_huge_values);
	suite_add_tcase(s, tc);
	return s;
}
