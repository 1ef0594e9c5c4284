/*
 * histogram — a fixed-size log-linear histogram of non-negative 64-bit
 * values (the stats command records latencies in nanoseconds). Each power of
 * two is split into HISTOGRAM_SUB_BUCKETS linear buckets, so any value is
 * known to within 1/HISTOGRAM_SUB_BUCKETS (< 0.8 %) of itself, across the
 * whole 64-bit range, in a fixed ~60 KB: no allocation while recording,
 * however long the run. The exact minimum and maximum are kept beside the
 * buckets.
 */
#ifndef SIGSTREAM_CLIENT_HISTOGRAM_H
#define SIGSTREAM_CLIENT_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_SUB_BITS 7
#define HISTOGRAM_SUB_BUCKETS (1u << HISTOGRAM_SUB_BITS)
/* Values below SUB_BUCKETS get one bucket each; every power above, SUB_BUCKETS. */
#define HISTOGRAM_BUCKETS ((64 - HISTOGRAM_SUB_BITS + 1) * HISTOGRAM_SUB_BUCKETS)

struct histogram {
	uint64_t total;
	uint64_t min;
	uint64_t max;
	uint64_t counts[HISTOGRAM_BUCKETS];
};

void histogram_reset(struct histogram *h);
void histogram_record(struct histogram *h, uint64_t value);
/* Adds every value recorded in `src` to `dst`. */
void histogram_merge(struct histogram *dst, const struct histogram *src);
/*
 * The value at percentile `p` (0..100): the upper end of the bucket holding
 * the round(p% * total)-th smallest value, clamped to [min, max] so that
 * p = 100 is the exact maximum. 0 when empty.
 */
uint64_t histogram_percentile(const struct histogram *h, double p);

/* The bucket of `value`, and the bucket's inclusive value range (for tests). */
unsigned histogram_bucket(uint64_t value);
uint64_t histogram_bucket_low(unsigned bucket);
uint64_t histogram_bucket_high(unsigned bucket);

#endif
