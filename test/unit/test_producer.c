/* producer: the thread pool's rate, batches, reproducibility and lifecycle. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/timeutil.h"
#include "server/producer.h"

#define MS TIMEUTIL_NS_PER_MS
#define MAX_SYMBOLS 64
#define SINK_SIZES 4096

/* What the publish callback saw, updated from every producer thread. */
struct sink {
	size_t n_symbols;
	atomic_uint_fast64_t signals;
	atomic_uint_fast64_t calls;
	atomic_uint_fast64_t bad_batch;   /* n == 0 or n > PRODUCER_BATCH_MAX */
	atomic_uint_fast64_t bad_signal;  /* a field out of its range */
	atomic_uint_fast64_t max_batch;   /* the largest n seen */
	/* n, time and first symbol of each of the first SINK_SIZES calls,
	 * by call number. */
	atomic_uint_fast64_t sizes[SINK_SIZES];
	atomic_int_fast64_t when[SINK_SIZES];
	atomic_uint_fast32_t symbol[SINK_SIZES];
	/* Armed: the next call publishing an odd symbol sets `holding` and
	 * waits in the callback until `release`. */
	atomic_bool hold_armed, holding, release;
	atomic_uint_fast64_t per_symbol[MAX_SYMBOLS];
	/* Optional record of the signals, in per-thread emission order. */
	struct producer_signal *rec;
	size_t rec_cap;
	atomic_size_t rec_n;
};

static bool signal_ok(const struct sink *k, const struct producer_signal *s)
{
	return s->symbol < k->n_symbols && (unsigned)s->strategy < STRATEGY_COUNT &&
	       (s->side == STRATEGY_SIDE_BUY || s->side == STRATEGY_SIDE_SELL) &&
	       isfinite(s->strength) && s->strength >= 0.0 && s->strength <= 1.0 &&
	       isfinite(s->price) && s->price > 0.0;
}

static void sink_publish(void *ctx, const struct producer_signal *sigs, size_t n)
{
	struct sink *k = ctx;

	uint_fast64_t call = atomic_fetch_add(&k->calls, 1);

	if (call < SINK_SIZES) {
		atomic_store(&k->sizes[call], n);
		atomic_store(&k->when[call], timeutil_monotonic_ns());
		atomic_store(&k->symbol[call], n > 0 ? sigs[0].symbol : 0);
	}
	if (n > 0 && sigs[0].symbol % 2 == 1 && atomic_load(&k->hold_armed) &&
	    atomic_exchange(&k->hold_armed, false)) {
		atomic_store(&k->holding, true);
		while (!atomic_load(&k->release))
			timeutil_sleep_until(timeutil_monotonic_ns() + MS / 10);
	}
	atomic_fetch_add(&k->signals, n);
	for (uint_fast64_t m = atomic_load(&k->max_batch);
	     n > m && !atomic_compare_exchange_weak(&k->max_batch, &m, n);)
		;
	if (n == 0 || n > PRODUCER_BATCH_MAX) {
		atomic_fetch_add(&k->bad_batch, 1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (!signal_ok(k, &sigs[i])) {
			atomic_fetch_add(&k->bad_signal, 1);
			continue;
		}
		atomic_fetch_add_explicit(&k->per_symbol[sigs[i].symbol], 1,
					  memory_order_relaxed);
	}
	if (k->rec != NULL) {
		/* Reserving the range first keeps each thread's signals in order. */
		size_t at = atomic_fetch_add(&k->rec_n, n);

		for (size_t i = 0; i < n && at + i < k->rec_cap; i++)
			k->rec[at + i] = sigs[i];
	}
}

static void sink_init(struct sink *k, size_t n_symbols, size_t rec_cap)
{
	ck_assert_uint_le(n_symbols, MAX_SYMBOLS);
	k->n_symbols = n_symbols;
	atomic_init(&k->signals, 0);
	atomic_init(&k->calls, 0);
	atomic_init(&k->bad_batch, 0);
	atomic_init(&k->bad_signal, 0);
	atomic_init(&k->max_batch, 0);
	for (size_t i = 0; i < SINK_SIZES; i++) {
		atomic_init(&k->sizes[i], 0);
		atomic_init(&k->when[i], 0);
		atomic_init(&k->symbol[i], 0);
	}
	atomic_init(&k->hold_armed, false);
	atomic_init(&k->holding, false);
	atomic_init(&k->release, false);
	for (size_t i = 0; i < MAX_SYMBOLS; i++)
		atomic_init(&k->per_symbol[i], 0);
	k->rec = NULL;
	k->rec_cap = rec_cap;
	atomic_init(&k->rec_n, 0);
	if (rec_cap > 0) {
		k->rec = calloc(rec_cap, sizeof(*k->rec));
		ck_assert_ptr_nonnull(k->rec);
	}
}

static void sink_check(struct sink *k)
{
	ck_assert_uint_eq(atomic_load(&k->bad_batch), 0);
	ck_assert_uint_eq(atomic_load(&k->bad_signal), 0);
}

static void sink_free(struct sink *k)
{
	free(k->rec);
	k->rec = NULL;
}

static struct producer_config config(unsigned threads, uint64_t rate, size_t n_symbols,
				     struct sink *k)
{
	return (struct producer_config){
		.threads = threads,
		.rate = rate,
		.seed = 12345,
		.n_symbols = n_symbols,
		.tick_ns = MS,
		.publish = sink_publish,
		.ctx = k,
	};
}

static void sleep_ms(int64_t ms)
{
	timeutil_sleep_until(timeutil_monotonic_ns() + ms * MS);
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Runs a pool for ~1 s and checks the count against rate * elapsed. The
 * tolerance is generous: CI has two noisy cores.
 */
static void check_rate(unsigned threads, uint64_t rate, size_t n_symbols)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;
	int64_t t0, t1;
	double expect, got, slack;

	sink_init(&k, n_symbols, 0);
	cfg = config(threads, rate, n_symbols, &k);
	pool = producer_pool_create(&cfg);
	ck_assert_ptr_nonnull(pool);
	t0 = timeutil_monotonic_ns();
	ck_assert_int_eq(producer_pool_start(pool), 0);
	sleep_ms(1000);
	producer_pool_stop(pool);
	t1 = timeutil_monotonic_ns();
	producer_pool_destroy(pool);

	expect = (double)rate * (double)(t1 - t0) / 1e9;
	got = (double)atomic_load(&k.signals);
	/* Each thread may be short of one token at the end. */
	slack = expect * 0.25 + threads;
	ck_assert_msg(fabs(got - expect) <= slack,
		      "rate %llu x %u threads: %.0f signals, expected %.0f",
		      (unsigned long long)rate, threads, got, expect);
	sink_check(&k);
	for (size_t i = 0; i < n_symbols; i++)
		ck_assert_msg(atomic_load(&k.per_symbol[i]) > 0, "symbol %zu got nothing", i);
	sink_free(&k);
}

START_TEST(test_rate_10000)
{
	check_rate(2, 10000, 8);
}
END_TEST

START_TEST(test_rate_uneven_split)
{
	/* 1000 / 3 leaves a remainder; 7 symbols do not divide among 3. */
	check_rate(3, 1000, 7);
}
END_TEST

START_TEST(test_rate_high)
{
	check_rate(2, 200000, 16);
}
END_TEST

START_TEST(test_rate_low)
{
	/* Fewer tokens than threads per tick, and a rate below the tick rate. */
	check_rate(4, 50, 4);
}
END_TEST

START_TEST(test_unlimited)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;

	sink_init(&k, 5, 0);
	cfg = config(2, 0, 5, &k);
	pool = producer_pool_create(&cfg);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(producer_pool_start(pool), 0);
	sleep_ms(300);
	producer_pool_destroy(pool);
	ck_assert_uint_gt(atomic_load(&k.signals), 20 * PRODUCER_BATCH_MAX);
	/* Every call but possibly none is a full batch. */
	ck_assert_uint_eq(atomic_load(&k.signals), atomic_load(&k.calls) * PRODUCER_BATCH_MAX);
	sink_check(&k);
	sink_free(&k);
}
END_TEST

/*
 * Runs until `want` signals are recorded and every symbol has had at least
 * `per_symbol` (or 10 s pass).
 */
static bool record_done(struct sink *k, size_t want, uint64_t per_symbol)
{
	if (atomic_load(&k->rec_n) < want)
		return false;
	for (size_t i = 0; i < k->n_symbols; i++) {
		if (atomic_load(&k->per_symbol[i]) < per_symbol)
			return false;
	}
	return true;
}

static void record_run(const struct producer_config *tmpl, struct sink *k, size_t want,
		       uint64_t per_symbol)
{
	struct producer_config cfg = *tmpl;
	struct producer_pool *pool;
	int64_t give_up = timeutil_monotonic_ns() + 10000 * MS;

	cfg.ctx = k;
	pool = producer_pool_create(&cfg);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(producer_pool_start(pool), 0);
	while (!record_done(k, want, per_symbol) && timeutil_monotonic_ns() < give_up)
		sleep_ms(5);
	producer_pool_destroy(pool);
	ck_assert(record_done(k, want, per_symbol));
	ck_assert_uint_le(want, k->rec_cap);
	sink_check(k);
}

static void assert_same_signal(const struct producer_signal *a, const struct producer_signal *b,
			       size_t i)
{
	ck_assert_msg(a->symbol == b->symbol && a->strategy == b->strategy &&
			      a->side == b->side && a->strength == b->strength &&
			      a->price == b->price,
		      "signal %zu differs: sym %u/%u strat %d/%d side %d/%d str %.17g/%.17g "
		      "price %.17g/%.17g",
		      i, a->symbol, b->symbol, a->strategy, b->strategy, a->side, b->side,
		      a->strength, b->strength, a->price, b->price);
}

START_TEST(test_reproducible_one_thread)
{
	enum { N = 20000, SYMS = 5 };
	struct sink a, b, c;
	struct producer_config cfg = config(1, 0, SYMS, NULL);
	size_t flips = 0;

	sink_init(&a, SYMS, N);
	sink_init(&b, SYMS, N);
	sink_init(&c, SYMS, N);
	record_run(&cfg, &a, N, 0);
	record_run(&cfg, &b, N, 0);
	/* Paced, so batches are cut differently: the series must not care. */
	cfg.rate = 100000;
	record_run(&cfg, &c, N, 0);
	for (size_t i = 0; i < N; i++) {
		assert_same_signal(&a.rec[i], &b.rec[i], i);
		assert_same_signal(&a.rec[i], &c.rec[i], i);
		/* Round robin over the symbols, strategies alternating per symbol. */
		ck_assert_uint_eq(a.rec[i].symbol, i % SYMS);
		ck_assert_int_eq(a.rec[i].strategy, (int)((i / SYMS) % STRATEGY_COUNT));
		if (i >= SYMS && a.rec[i].side != a.rec[i - SYMS].side)
			flips++;
	}
	/* The readings are live: sides change over 20000 steps. */
	ck_assert_uint_gt(flips, 10);

	/* Another seed, another series. */
	sink_free(&b);
	sink_init(&b, SYMS, N);
	cfg.rate = 0;
	cfg.seed++;
	record_run(&cfg, &b, N, 0);
	ck_assert(a.rec[0].price != b.rec[0].price);
	sink_free(&a);
	sink_free(&b);
	sink_free(&c);
}
END_TEST

/* The i-th signal of `symbol` in a recording, or NULL. */
static const struct producer_signal *nth_of(const struct sink *k, uint32_t symbol, size_t nth)
{
	size_t n = atomic_load(&k->rec_n);

	if (n > k->rec_cap)
		n = k->rec_cap;
	for (size_t i = 0; i < n; i++) {
		if (k->rec[i].symbol == symbol && nth-- == 0)
			return &k->rec[i];
	}
	return NULL;
}

START_TEST(test_reproducible_any_threads)
{
	enum { SYMS = 6, PER_SYMBOL = 200, CAP = 40000 };
	struct sink one, three;
	struct producer_config cfg = config(1, 60000, SYMS, NULL);

	/* A symbol's series depends on the seed only, not on the thread count. */
	sink_init(&one, SYMS, CAP);
	sink_init(&three, SYMS, CAP);
	record_run(&cfg, &one, 0, PER_SYMBOL);
	cfg.threads = 3;
	record_run(&cfg, &three, 0, PER_SYMBOL);
	for (uint32_t s = 0; s < SYMS; s++) {
		for (size_t i = 0; i < PER_SYMBOL; i++) {
			const struct producer_signal *x = nth_of(&one, s, i);
			const struct producer_signal *y = nth_of(&three, s, i);

			ck_assert_ptr_nonnull(x);
			ck_assert_ptr_nonnull(y);
			assert_same_signal(x, y, i);
		}
	}
	sink_free(&one);
	sink_free(&three);
}
END_TEST

static int64_t timed_stop(struct producer_pool *pool)
{
	int64_t t0 = timeutil_monotonic_ns();

	producer_pool_stop(pool);
	return timeutil_monotonic_ns() - t0;
}

START_TEST(test_stop_prompt_idempotent)
{
	static const uint64_t rates[] = {0, 1, 1000, 1000000};

	for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
		struct sink k;
		struct producer_config cfg;
		struct producer_pool *pool;
		uint64_t after;
		int64_t took;

		sink_init(&k, 10, 0);
		cfg = config(3, rates[r], 10, &k);
		pool = producer_pool_create(&cfg);
		ck_assert_ptr_nonnull(pool);
		ck_assert_int_eq(producer_pool_start(pool), 0);
		ck_assert_int_eq(producer_pool_start(pool), -EALREADY);
		sleep_ms(100);
		took = timed_stop(pool);
		ck_assert_msg(took < 1000 * MS, "rate %llu: stop took %lld ms",
			      (unsigned long long)rates[r], (long long)(took / MS));
		/* Stopped means stopped: nothing arrives afterwards. */
		after = atomic_load(&k.signals);
		sleep_ms(20);
		ck_assert_uint_eq(atomic_load(&k.signals), after);
		ck_assert_int_lt(timed_stop(pool), 1000 * MS);
		producer_pool_stop(pool);
		ck_assert_int_eq(producer_pool_start(pool), -EALREADY);
		producer_pool_destroy(pool);
		sink_check(&k);
	}
}
END_TEST

START_TEST(test_lifecycle_edges)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;

	producer_pool_destroy(NULL);
	producer_pool_stop(NULL);
	ck_assert_int_eq(producer_pool_start(NULL), -EINVAL);

	sink_init(&k, 3, 0);
	cfg = config(2, 1000, 3, &k);
	/* Never started: stop and destroy are fine. */
	pool = producer_pool_create(&cfg);
	ck_assert_ptr_nonnull(pool);
	producer_pool_destroy(pool);
	pool = producer_pool_create(&cfg);
	ck_assert_ptr_nonnull(pool);
	producer_pool_stop(pool);
	producer_pool_stop(pool);
	producer_pool_destroy(pool);
	/* Started, destroyed without an explicit stop. */
	pool = producer_pool_create(&cfg);
	ck_assert_ptr_nonnull(pool);
	ck_assert_int_eq(producer_pool_start(pool), 0);
	sleep_ms(20);
	producer_pool_destroy(pool);
	sink_check(&k);
}
END_TEST

static void expect_einval(const struct producer_config *cfg)
{
	errno = 0;
	ck_assert_ptr_null(producer_pool_create(cfg));
	ck_assert_int_eq(errno, EINVAL);
}

START_TEST(test_bad_config)
{
	struct sink k;
	struct producer_config good, cfg;

	sink_init(&k, 4, 0);
	good = config(2, 1000, 4, &k);
	expect_einval(NULL);
	cfg = good;
	cfg.threads = 0;
	expect_einval(&cfg);
	cfg = good;
	cfg.n_symbols = 0;
	expect_einval(&cfg);
	cfg = good;
	cfg.tick_ns = 0;
	expect_einval(&cfg);
	cfg = good;
	cfg.tick_ns = -MS;
	expect_einval(&cfg);
	cfg = good;
	cfg.publish = NULL;
	expect_einval(&cfg);
	/* ctx may be NULL: it is the callback's business. */
	cfg = good;
	cfg.ctx = NULL;
	producer_pool_destroy(producer_pool_create(&cfg));
}
END_TEST

START_TEST(test_idle_threads_do_not_spin)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;
	double cpu0, cpu;

	/*
	 * Eight threads for two symbols at a low rate: spare threads must cost
	 * nothing. A spinning thread alone would burn ~0.5 s of CPU here; the bound
	 * leaves room for a loaded CI machine, it is not a performance figure.
	 */
	sink_init(&k, 2, 0);
	cfg = config(8, 100, 2, &k);
	pool = producer_pool_create(&cfg);
	ck_assert_ptr_nonnull(pool);
	cpu0 = cpu_seconds();
	ck_assert_int_eq(producer_pool_start(pool), 0);
	sleep_ms(500);
	producer_pool_destroy(pool);
	cpu = cpu_seconds() - cpu0;
	ck_assert_msg(cpu < 0.35, "8 threads, 2 symbols, 100/s: %.3f s CPU in 0.5 s", cpu);
	ck_assert_uint_gt(atomic_load(&k.per_symbol[0]), 0);
	ck_assert_uint_gt(atomic_load(&k.per_symbol[1]), 0);
	sink_check(&k);
}
END_TEST

/* Publish calls and signals between two instants, from the sink's counters. */
struct window {
	uint64_t calls, signals;
	int64_t ns;
};

static struct window window_over(struct sink *k, int64_t ms)
{
	uint64_t c0 = atomic_load(&k->calls), s0 = atomic_load(&k->signals);
	int64_t t0 = timeutil_monotonic_ns();

	sleep_ms(ms);
	return (struct window){
		.calls = atomic_load(&k->calls) - c0,
		.signals = atomic_load(&k->signals) - s0,
		.ns = timeutil_monotonic_ns() - t0,
	};
}

/* Creates and starts a pool that is quiet from the first tick. */
static struct producer_pool *start_quiet(const struct producer_config *cfg)
{
	struct producer_pool *pool = producer_pool_create(cfg);

	ck_assert_ptr_nonnull(pool);
	producer_pool_set_quiet(pool, true);
	ck_assert_int_eq(producer_pool_start(pool), 0);
	return pool;
}

/* Waits until the pool publishes again. */
static void wait_past_next_publish(struct sink *k)
{
	uint64_t before = atomic_load(&k->calls);

	while (atomic_load(&k->calls) == before)
		sleep_ms(1);
}

/*
 * Ends quiet and waits (up to 1 s) for the next publish. Returns how long
 * that took; *first gets that publish's call number.
 */
static int64_t leave_quiet(struct producer_pool *pool, struct sink *k, uint64_t *first)
{
	int64_t t0 = timeutil_monotonic_ns(), waited = 0;

	*first = atomic_load(&k->calls);
	producer_pool_set_quiet(pool, false);
	while (atomic_load(&k->calls) == *first && waited < 1000 * MS) {
		sleep_ms(1);
		waited = timeutil_monotonic_ns() - t0;
	}
	return waited;
}

START_TEST(test_quiet_keeps_rate_in_coarse_ticks)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;
	struct window w;
	double expect;

	/*
	 * 2 threads at 2000/s: at the 1 ms tick each wakes ~1000 times a
	 * second; quiet, ~10 times. The rate stays the same (the ring keeps
	 * filling for clients that resume later).
	 */
	sink_init(&k, 8, 0);
	cfg = config(2, 2000, 8, &k);
	pool = start_quiet(&cfg);
	sleep_ms(250); /* onto the quiet grid */
	w = window_over(&k, 1000);
	expect = 2000.0 * (double)w.ns / 1e9;
	ck_assert_msg(fabs((double)w.signals - expect) <= expect * 0.25,
		      "quiet: %llu signals in %.3f s, expected %.0f",
		      (unsigned long long)w.signals, (double)w.ns / 1e9, expect);
	/* Ten quiet ticks a second per thread, with room for one late. */
	ck_assert_msg(w.calls <= 2 * 12, "quiet: %llu publish calls in 1 s",
		      (unsigned long long)w.calls);

	/* Not quiet: fine ticks again, and the rate unchanged. */
	producer_pool_set_quiet(pool, false);
	sleep_ms(50);
	w = window_over(&k, 1000);
	expect = 2000.0 * (double)w.ns / 1e9;
	ck_assert_msg(fabs((double)w.signals - expect) <= expect * 0.25,
		      "after quiet: %llu signals in %.3f s, expected %.0f",
		      (unsigned long long)w.signals, (double)w.ns / 1e9, expect);
	ck_assert_msg(w.calls >= 200, "after quiet: only %llu publish calls in 1 s",
		      (unsigned long long)w.calls);
	producer_pool_destroy(pool);
	sink_check(&k);
	sink_free(&k);
}
END_TEST

START_TEST(test_quiet_ends_at_once)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;
	uint64_t first;
	int64_t t0, waited;

	sink_init(&k, 4, 0);
	cfg = config(1, 1000, 4, &k);
	pool = start_quiet(&cfg);
	/* Just after a quiet tick: the next is ~100 ms away. */
	wait_past_next_publish(&k);
	waited = leave_quiet(pool, &k, &first);
	/* Woken, not left to the end of its coarse tick (~95 ms away). */
	ck_assert_msg(waited < 60 * MS, "first publish %lld ms after leaving quiet",
		      (long long)(waited / MS));

	/* A quiet pool stops at once too. */
	producer_pool_set_quiet(pool, true);
	sleep_ms(150);
	t0 = timeutil_monotonic_ns();
	producer_pool_stop(pool);
	ck_assert_msg(timeutil_monotonic_ns() - t0 < 60 * MS, "a quiet pool took %lld ms to stop",
		      (long long)((timeutil_monotonic_ns() - t0) / MS));
	producer_pool_destroy(pool);
	sink_check(&k);
	sink_free(&k);
}
END_TEST

START_TEST(test_quiet_burst_is_bounded)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;
	struct window w;
	uint64_t first;

	/*
	 * 10000/s with at most 100 signals per quiet tick: the tick shrinks
	 * from 100 ms to 10 ms. Leaving quiet publishes no backlog: the
	 * first batch after it is one fine tick's (10 signals), not what the
	 * unfinished quiet tick earned.
	 */
	sink_init(&k, 4, 0);
	cfg = config(1, 10000, 4, &k);
	cfg.quiet_burst_max = 100;
	pool = start_quiet(&cfg);
	/* Its first tick is a fine one, which moves it onto the quiet grid.
	 * A thread started late on a loaded machine banks up to the
	 * catch-up window there (300 signals): the window starts after. */
	wait_past_next_publish(&k);
	atomic_store(&k.max_batch, 0);
	w = window_over(&k, 500);
	ck_assert_msg(w.calls >= 20 && w.calls <= 80, "%llu quiet publishes in 0.5 s, expected ~50",
		      (unsigned long long)w.calls);
	ck_assert_uint_le(atomic_load(&k.max_batch), 2 * 100);

	/* Just after a quiet tick, then half way to the next: ~5 ms of
	 * tokens (50) are banked. */
	wait_past_next_publish(&k);
	sleep_ms(5);
	ck_assert_int_lt(leave_quiet(pool, &k, &first), 1000 * MS);
	ck_assert_uint_lt(first, SINK_SIZES);
	ck_assert_msg(atomic_load(&k.sizes[first]) <= 30, "first batch after quiet: %llu signals",
		      (unsigned long long)atomic_load(&k.sizes[first]));
	producer_pool_destroy(pool);
	sink_check(&k);
	sink_free(&k);
}
END_TEST

/* How many of calls [from, to) have a call of the other thread (symbol
 * parity, 2 threads) within `ns` of them. */
static uint64_t calls_in_step(struct sink *k, uint64_t from, uint64_t to, int64_t ns)
{
	uint64_t paired = 0;

	for (uint64_t i = from; i < to; i++) {
		int64_t ti = atomic_load(&k->when[i]);
		uint32_t si = atomic_load(&k->symbol[i]);

		for (uint64_t j = from; j < to; j++) {
			int64_t d = atomic_load(&k->when[j]) - ti;

			if (atomic_load(&k->symbol[j]) % 2 != si % 2 && d < ns && d > -ns) {
				paired++;
				break;
			}
		}
	}
	return paired;
}

START_TEST(test_threads_in_step_after_quiet)
{
	struct sink k;
	struct producer_config cfg;
	struct producer_pool *pool;
	uint64_t from, to, paired;

	/*
	 * 2 threads at 250/s each: one signal every 4 ticks. In step they
	 * publish in the same ticks, and one wake-up of the streams carries
	 * both threads' signals. Thread 1 is held in its quiet publish while
	 * the pool leaves quiet and let go 1.5 ms later: restarted from its
	 * own wake-up it would publish 1-3 ticks after thread 0 for good.
	 */
	sink_init(&k, 2, 0);
	cfg = config(2, 500, 2, &k);
	pool = start_quiet(&cfg);
	atomic_store(&k.hold_armed, true);
	while (!atomic_load(&k.holding))
		sleep_ms(1);
	producer_pool_set_quiet(pool, false);
	timeutil_sleep_until(timeutil_monotonic_ns() + 3 * MS / 2);
	atomic_store(&k.release, true);
	sleep_ms(20);
	from = atomic_load(&k.calls);
	sleep_ms(100);
	to = atomic_load(&k.calls);
	ck_assert_uint_lt(to, SINK_SIZES);
	ck_assert_msg(to - from >= 20, "only %llu publish calls in 100 ms",
		      (unsigned long long)(to - from));
	/* Each thread's calls 4 ms apart; in step, the other's within
	 * microseconds. Half is room for a loaded machine's late wake-ups. */
	paired = calls_in_step(&k, from, to, MS / 2);
	ck_assert_msg(2 * paired >= to - from, "%llu of %llu publish calls in step",
		      (unsigned long long)paired, (unsigned long long)(to - from));
	producer_pool_destroy(pool);
	sink_check(&k);
	sink_free(&k);
}
END_TEST

Suite *producer_suite(void);
Suite *producer_suite(void)
{
	Suite *s = suite_create("producer");
	TCase *tc = tcase_create("producer");

	/* Each rate test runs for a second; the sanitizers slow the rest. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rate_10000);
	tcase_add_test(tc, test_rate_uneven_split);
	tcase_add_test(tc, test_rate_high);
	tcase_add_test(tc, test_rate_low);
	tcase_add_test(tc, test_unlimited);
	tcase_add_test(tc, test_reproducible_one_thread);
	tcase_add_test(tc, test_reproducible_any_threads);
	tcase_add_test(tc, test_stop_prompt_idempotent);
	tcase_add_test(tc, test_lifecycle_edges);
	tcase_add_test(tc, test_bad_config);
	tcase_add_test(tc, test_idle_threads_do_not_spin);
	tcase_add_test(tc, test_quiet_keeps_rate_in_coarse_ticks);
	tcase_add_test(tc, test_quiet_ends_at_once);
	tcase_add_test(tc, test_quiet_burst_is_bounded);
	tcase_add_test(tc, test_threads_in_step_after_quiet);
	suite_add_tcase(s, tc);
	return s;
}
