#include "client/histogram.h"

#include <string.h>

void histogram_reset(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned histogram_bucket(uint64_t value)
{
	unsigned top, shift;

	if (value < HISTOGRAM_SUB_BUCKETS)
		return (unsigned)value;
	/*
	 * top >= SUB_BITS here. Dropping the `shift` low bits leaves a value in
	 * [SUB_BUCKETS, 2 * SUB_BUCKETS): the linear position within this
	 * power of two.
	 */
	top = 63u - (unsigned)__builtin_clzll(value);
	shift = top - HISTOGRAM_SUB_BITS;
	return (shift + 1) * HISTOGRAM_SUB_BUCKETS +
	       (unsigned)((value >> shift) - HISTOGRAM_SUB_BUCKETS);
}

uint64_t histogram_bucket_low(unsigned bucket)
{
	unsigned shift;

	if (bucket < HISTOGRAM_SUB_BUCKETS)
		return bucket;
	shift = bucket / HISTOGRAM_SUB_BUCKETS - 1;
	return ((uint64_t)HISTOGRAM_SUB_BUCKETS + bucket % HISTOGRAM_SUB_BUCKETS) << shift;
}

uint64_t histogram_bucket_high(unsigned bucket)
{
	unsigned shift;

	if (bucket < HISTOGRAM_SUB_BUCKETS)
		return bucket;
	shift = bucket / HISTOGRAM_SUB_BUCKETS - 1;
	/* Written as low + (width - 1): the last bucket ends at UINT64_MAX exactly. */
	return histogram_bucket_low(bucket) + ((UINT64_C(1) << shift) - 1);
}

void histogram_record(struct histogram *h, uint64_t value)
{
	h->counts[histogram_bucket(value)]++;
	h->total++;
	if (value < h->min)
		h->min = value;
	if (value > h->max)
		h->max = value;
}

void histogram_merge(struct histogram *dst, const struct histogram *src)
{
	if (src->total == 0)
		return;
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t histogram_percentile(const struct histogram *h, double p)
{
	uint64_t rank, seen = 0, v;
	double r;

	if (h->total == 0)
		return 0;
	if (!(p > 0.0))
		return h->min;
	if (p >= 100.0)
		return h->max;
	/*
	 * Rounded to nearest rather than ceil(): 99.9 % of 1000 must be rank
	 * 999, and in binary floating point it comes out a hair above.
	 */
	r = p / 100.0 * (double)h->total + 0.5;
	rank = r < 1.0 ? 1 : (uint64_t)r;
	for (unsigned i = 0; i < HISTOGRAM_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			v = histogram_bucket_high(i);
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}
