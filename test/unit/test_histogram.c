/* client/histogram: bucket layout, percentiles within bucket precision, exact max, merge/reset. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/histogram.h"

/* Static: a histogram is ~60 KB. */
static struct histogram h, h2, whole;

/* |got - want| within the bucket precision of want (1/SUB_BUCKETS of it), or exact below SUB_BUCKETS. */
static void assert_close(uint64_t got, uint64_t want)
{
	uint64_t tol = want / HISTOGRAM_SUB_BUCKETS;
	uint64_t diff = got > want ? got - want : want - got;

	ck_assert_msg(diff <= tol, "got %llu, want %llu +- %llu", (unsigned long long)got,
		      (unsigned long long)want, (unsigned long long)tol);
}

START_TEST(test_buckets_cover_everything)
{
	/* Contiguous, non-overlapping, each bucket maps back to itself, up to UINT64_MAX. */
	ck_assert_uint_eq(histogram_bucket_low(0), 0);
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		uint64_t lo = histogram_bucket_low(i), hi = histogram_bucket_high(i);

		ck_assert_uint_le(lo, hi);
		ck_assert_uint_eq(histogram_bucket(lo), i);
		ck_assert_uint_eq(histogram_bucket(hi), i);
		if (i + 1 < HISTOGRAM_BUCKETS)
			ck_assert_uint_eq(histogram_bucket_low(i + 1), hi + 1);
		/* Precision: a bucket is at most 1/SUB_BUCKETS of its values wide. */
		if (lo >= HISTOGRAM_SUB_BUCKETS)
			ck_assert_uint_le(hi - lo + 1, lo / HISTOGRAM_SUB_BUCKETS);
		else
			ck_assert_uint_eq(lo, hi);
	}
	ck_assert_uint_eq(histogram_bucket_high(HISTOGRAM_BUCKETS - 1), UINT64_MAX);
	ck_assert_uint_eq(histogram_bucket(UINT64_MAX), HISTOGRAM_BUCKETS - 1);
}
END_TEST

START_TEST(test_empty)
{
	histogram_reset(&h);
	ck_assert_uint_eq(h.total, 0);
	ck_assert_uint_eq(histogram_percentile(&h, 50), 0);
	ck_assert_uint_eq(histogram_percentile(&h, 100), 0);
}
END_TEST

START_TEST(test_small_values_exact)
{
	histogram_reset(&h);
	for (uint64_t v = 1; v <= 100; v++)
		histogram_record(&h, v);
	ck_assert_uint_eq(histogram_percentile(&h, 50), 50);
	ck_assert_uint_eq(histogram_percentile(&h, 90), 90);
	ck_assert_uint_eq(histogram_percentile(&h, 99), 99);
	ck_assert_uint_eq(histogram_percentile(&h, 100), 100);
	ck_assert_uint_eq(histogram_percentile(&h, 0), 1);
	ck_assert_uint_eq(h.min, 1);
	ck_assert_uint_eq(h.max, 100);
}
END_TEST

START_TEST(test_uniform)
{
	/* 1..1,000,000 ns once each: p = the value itself, to bucket precision. */
	histogram_reset(&h);
	for (uint64_t v = 1; v <= 1000000; v++)
		histogram_record(&h, v);
	ck_assert_uint_eq(h.total, 1000000);
	assert_close(histogram_percentile(&h, 50), 500000);
	assert_close(histogram_percentile(&h, 90), 900000);
	assert_close(histogram_percentile(&h, 99), 990000);
	assert_close(histogram_percentile(&h, 99.9), 999000);
	ck_assert_uint_eq(histogram_percentile(&h, 100), 1000000);
}
END_TEST

START_TEST(test_skewed)
{
	/*
	 * Latency-like: 990 fast values of 250 us, 9 of 20 ms, one of 1.5 s.
	 * p50 and p99 land in the fast group, p99.9 in the slow one, max exact.
	 */
	histogram_reset(&h);
	for (int i = 0; i < 990; i++)
		histogram_record(&h, 250000);
	for (int i = 0; i < 9; i++)
		histogram_record(&h, 20000000);
	histogram_record(&h, 1500000123);
	assert_close(histogram_percentile(&h, 50), 250000);
	assert_close(histogram_percentile(&h, 99), 250000);
	assert_close(histogram_percentile(&h, 99.9), 20000000);
	ck_assert_uint_eq(histogram_percentile(&h, 100), 1500000123);
	ck_assert_uint_eq(h.max, 1500000123);
	/* Never above the max, never below the min, even inside a wide bucket. */
	histogram_reset(&h);
	histogram_record(&h, 1000001);
	ck_assert_uint_eq(histogram_percentile(&h, 50), 1000001);
}
END_TEST

START_TEST(test_extremes)
{
	histogram_reset(&h);
	histogram_record(&h, 0);
	histogram_record(&h, UINT64_MAX);
	ck_assert_uint_eq(h.min, 0);
	ck_assert_uint_eq(h.max, UINT64_MAX);
	ck_assert_uint_eq(histogram_percentile(&h, 50), 0);
	ck_assert_uint_eq(histogram_percentile(&h, 100), UINT64_MAX);
	ck_assert_uint_eq(histogram_percentile(&h, 99), UINT64_MAX);
}
END_TEST

START_TEST(test_merge_and_reset)
{
	histogram_reset(&h);
	histogram_reset(&h2);
	histogram_reset(&whole);
	for (uint64_t v = 1; v <= 20000; v++) {
		histogram_record(v % 2 ? &h : &h2, v * 37);
		histogram_record(&whole, v * 37);
	}
	histogram_merge(&h, &h2);
	ck_assert_uint_eq(h.total, whole.total);
	ck_assert_uint_eq(h.min, whole.min);
	ck_assert_uint_eq(h.max, whole.max);
	ck_assert_int_eq(memcmp(h.counts, whole.counts, sizeof(h.counts)), 0);
	ck_assert_uint_eq(histogram_percentile(&h, 99), histogram_percentile(&whole, 99));

	/* Merging an empty histogram changes nothing (its min is UINT64_MAX). */
	histogram_reset(&h2);
	histogram_merge(&h, &h2);
	ck_assert_uint_eq(h.min, 37);
	ck_assert_uint_eq(h.total, 20000);
	/* Into an empty one: a copy. */
	histogram_merge(&h2, &h);
	ck_assert_uint_eq(h2.min, 37);
	ck_assert_uint_eq(h2.max, 20000 * 37);

	histogram_reset(&h);
	ck_assert_uint_eq(h.total, 0);
	ck_assert_uint_eq(h.max, 0);
	ck_assert_uint_eq(histogram_percentile(&h, 99), 0);
	histogram_record(&h, 5);
	ck_assert_uint_eq(h.min, 5);
	ck_assert_uint_eq(histogram_percentile(&h, 50), 5);
}
END_TEST

Suite *histogram_suite(void);
Suite *histogram_suite(void)
{
	Suite *s = suite_create("histogram");
	TCase *tc = tcase_create("histogram");

	tcase_add_test(tc, test_buckets_cover_everything);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_small_values_exact);
	tcase_add_test(tc, test_uniform);
	tcase_add_test(tc, test_skewed);
	tcase_add_test(tc, test_extremes);
	tcase_add_test(tc, test_merge_and_reset);
	suite_add_tcase(s, tc);
	return s;
}
