#include "server/producer.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/timeutil.h"
#include "server/market.h"
#include "server/pacer.h"

/*
 * Tokens a thread may bank: 100 ms of its rate (and at least two ticks).
 * A stall shorter than that (a preempted thread on a busy machine) is made
 * up afterwards, so the delivered rate stays exact; a longer one is lost
 * rather than released downstream as one huge burst.
 */
#define PRODUCER_CATCHUP_NS (100 * TIMEUTIL_NS_PER_MS)

/* Behind the tick grid by more than this many ticks: skip ahead, don't spin. */
#define PRODUCER_MAX_LAG_TICKS 4

/*
 * At low rates a thread sleeps over the ticks that cannot earn a token,
 * but never longer than this, so stop stays prompt.
 */
#define PRODUCER_IDLE_MAX_NS (20 * TIMEUTIL_NS_PER_MS)

/* A thread notices stop once per tick at worst; longer ticks are refused. */
#define PRODUCER_TICK_MAX_NS (100 * TIMEUTIL_NS_PER_MS)

struct producer_slot {
	struct market_symbol market;
	struct strategy_state strategy;
	uint32_t symbol;
	/*
	 * Strategies alternate per symbol, not per thread step: with an even
	 * number of symbols per thread a per-thread alternation would pin each
	 * symbol to one strategy, and a symbol's signal series would depend on
	 * the thread count.
	 */
	uint32_t next_strategy;
};

struct producer_shard {
	struct producer_pool *pool;
	pthread_t thread;
	struct producer_slot *slots;
	size_t n_slots;
	size_t next_slot;
	uint64_t rate; /* this thread's share; 0 = unlimited */
	uint64_t burst;
	/* A quiet tick's tokens with as much again to spare: a late wake-up
	 * loses none of them. */
	uint64_t quiet_burst;
	/* Lives here rather than on the stack: 32 KiB per thread. */
	struct producer_signal buf[PRODUCER_BATCH_MAX];
};

enum producer_state {
	PRODUCER_IDLE,
	PRODUCER_RUNNING,
	PRODUCER_STOPPED,
};

struct producer_pool {
	producer_publish_fn publish;
	void *ctx;
	int64_t tick_ns;
	/*
	 * Every thread's ticks fall on epoch_ns + k * tick_ns, and every
	 * pacer starts at epoch_ns: threads with the same share publish at
	 * the same instants, so one wake-up of the parked streams carries all
	 * of a tick's signals instead of one per thread at scattered phases.
	 */
	int64_t epoch_ns;
	int64_t quiet_tick_ns;
	unsigned n_shards;
	struct producer_shard *shards;
	atomic_bool stop;
	/*
	 * Written under quiet_lock, which a quiet thread also holds while it
	 * decides to sleep, so a broadcast (leaving quiet, or stop) is never
	 * missed; a thread at the fine tick only loads it, once per tick.
	 */
	atomic_bool quiet;
	/*
	 * When the pool last left quiet (epoch_ns before that), strictly
	 * increasing: every thread restarts its pacer from this one instant.
	 * Restarted from each thread's own wake-up, two threads at 500/s
	 * landed a fraction of a tick apart in about one run in four and
	 * then published in alternate ticks for good: each stream woken
	 * twice as often with half the signals, ~2x the server's CPU at
	 * 100 streams x 1000/s.
	 */
	_Atomic int64_t awake_ns;
	pthread_mutex_t quiet_lock;
	pthread_cond_t quiet_cond; /* CLOCK_MONOTONIC */
	/* Serialises start and stop, so concurrent stops both return joined. */
	pthread_mutex_t lock;
	enum producer_state state;
};

/* rate * ns / 1e9, rounded down, saturating. */
static uint64_t tokens_in(uint64_t rate, int64_t ns)
{
	uint64_t t = (uint64_t)ns;
	uint64_t secs = t / (uint64_t)TIMEUTIL_NS_PER_SEC;
	uint64_t rem = t % (uint64_t)TIMEUTIL_NS_PER_SEC;
	uint64_t hi = rate / (uint64_t)TIMEUTIL_NS_PER_SEC;
	uint64_t lo = rate % (uint64_t)TIMEUTIL_NS_PER_SEC;
	uint64_t parts[3];
	uint64_t sum = 0;

	parts[0] = secs != 0 && rate > UINT64_MAX / secs ? UINT64_MAX : secs * rate;
	parts[1] = hi != 0 && rem > UINT64_MAX / hi ? UINT64_MAX : rem * hi;
	parts[2] = rem * lo / (uint64_t)TIMEUTIL_NS_PER_SEC;
	for (int i = 0; i < 3; i++)
		sum = sum > UINT64_MAX - parts[i] ? UINT64_MAX : sum + parts[i];
	return sum;
}

static void shard_step(struct producer_shard *sh, struct producer_signal *sig)
{
	struct producer_slot *slot = &sh->slots[sh->next_slot];
	enum strategy_id id = (enum strategy_id)slot->next_strategy;
	struct strategy_output out;
	double price;

	if (++sh->next_slot == sh->n_slots)
		sh->next_slot = 0;
	price = market_symbol_step(&slot->market);
	strategy_update(&slot->strategy, price);
	out = strategy_eval(&slot->strategy, id);
	slot->next_strategy = (slot->next_strategy + 1) % STRATEGY_COUNT;

	sig->symbol = slot->symbol;
	sig->strategy = id;
	sig->side = out.side;
	sig->strength = out.strength;
	sig->price = price;
}

static bool shard_stopping(const struct producer_shard *sh)
{
	return atomic_load_explicit(&sh->pool->stop, memory_order_relaxed);
}

/* Emits n signals in publish calls of at most PRODUCER_BATCH_MAX. */
static void shard_emit(struct producer_shard *sh, uint64_t n)
{
	struct producer_pool *pool = sh->pool;

	/* A long catch-up checks the flag between chunks, so stop stays prompt. */
	while (n > 0 && !shard_stopping(sh)) {
		size_t k = n < PRODUCER_BATCH_MAX ? (size_t)n : PRODUCER_BATCH_MAX;

		for (size_t i = 0; i < k; i++)
			shard_step(sh, &sh->buf[i]);
		pool->publish(pool->ctx, sh->buf, k);
		n -= k;
	}
}

/* Nanoseconds until an empty bucket holds one whole token again. */
static int64_t pacer_ns_to_token(const struct pacer *p)
{
	uint64_t missing = (uint64_t)TIMEUTIL_NS_PER_SEC - p->frac;

	return (int64_t)(missing / p->rate + (missing % p->rate != 0));
}

/*
 * Sleeps until `deadline_ns` or until the pool leaves quiet or stops,
 * whichever comes first.
 */
static void shard_sleep_quiet(struct producer_shard *sh, int64_t deadline_ns)
{
	struct producer_pool *pool = sh->pool;
	struct timespec ts = timeutil_timespec(deadline_ns);

	pthread_mutex_lock(&pool->quiet_lock);
	while (atomic_load_explicit(&pool->quiet, memory_order_relaxed) && !shard_stopping(sh)) {
		if (pthread_cond_timedwait(&pool->quiet_cond, &pool->quiet_lock, &ts) != 0)
			break; /* ETIMEDOUT: the tick is due */
	}
	pthread_mutex_unlock(&pool->quiet_lock);
}

/* The first point of the grid epoch_ns + k * step strictly after `now`. */
static int64_t grid_after(int64_t epoch_ns, int64_t step, int64_t now)
{
	return now < epoch_ns ? epoch_ns : epoch_ns + ((now - epoch_ns) / step + 1) * step;
}

static void shard_run_unlimited(struct producer_shard *sh)
{
	while (!shard_stopping(sh))
		shard_emit(sh, PRODUCER_BATCH_MAX);
}

static void shard_run_paced(struct producer_shard *sh)
{
	struct producer_pool *pool = sh->pool;
	int64_t tick = pool->tick_ns; /* or the quiet tick */
	int64_t next = pool->epoch_ns + tick;
	int64_t anchor = pool->epoch_ns; /* the awake_ns this pacer started at */
	bool quiet = false, want_quiet;
	int64_t now, awake;
	struct pacer pacer;

	pacer_init(&pacer, sh->rate, sh->burst, anchor);
	while (!shard_stopping(sh)) {
		if (quiet)
			shard_sleep_quiet(sh, next);
		else
			timeutil_sleep_until(next);
		now = timeutil_monotonic_ns();
		want_quiet = atomic_load_explicit(&pool->quiet, memory_order_acquire);
		awake = atomic_load_explicit(&pool->awake_ns, memory_order_relaxed);
		if (!want_quiet && awake != anchor) {
			/* A stream has just opened (or opened, closed and opened
			 * again between two of this thread's ticks): back onto
			 * the fine grid with a bucket empty at awake_ns, as every
			 * other thread. What the unfinished quiet tick earned is
			 * dropped: published at once it would be a burst that
			 * can overtake the new stream in a small ring. */
			quiet = false;
			tick = pool->tick_ns;
			anchor = awake;
			pacer_init(&pacer, sh->rate, sh->burst, anchor);
			next = grid_after(pool->epoch_ns, tick, now);
			continue;
		}
		shard_emit(sh, pacer_take(&pacer, now, pacer.burst));
		if (!quiet && want_quiet) {
			/* Onto the quiet grid, at its next point. Everything
			 * banked went out just now. */
			quiet = true;
			tick = pool->quiet_tick_ns;
			pacer.burst = sh->quiet_burst;
			next = grid_after(pool->epoch_ns, tick, now);
			continue;
		}
		/*
		 * Deadlines are absolute, so wake-up latency does not add up
		 * into drift; the pacer, not the tick count, sets the rate.
		 */
		next += tick;
		/* Ticks that cannot earn a whole token are slept through. */
		if (pacer.tokens == 0) {
			int64_t ready = now + pacer_ns_to_token(&pacer);
			int64_t cap = now + PRODUCER_IDLE_MAX_NS;

			if (ready > cap)
				ready = cap;
			if (ready > next)
				next += (ready - next + tick - 1) / tick * tick;
		}
		if (now - next > PRODUCER_MAX_LAG_TICKS * tick)
			next += ((now - next) / tick + 1) * tick;
	}
}

static void *shard_main(void *arg)
{
	struct producer_shard *sh = arg;

	if (sh->rate == 0)
		shard_run_unlimited(sh);
	else
		shard_run_paced(sh);
	return NULL;
}

static void pool_free(struct producer_pool *pool)
{
	if (pool->shards != NULL) {
		for (unsigned i = 0; i < pool->n_shards; i++)
			free(pool->shards[i].slots);
		free(pool->shards);
	}
	free(pool);
}

/*
 * PRODUCER_QUIET_TICK_NS, or shorter where the whole pool's signals of one
 * would exceed quiet_burst_max; a whole number of ticks, at least one.
 */
static int64_t quiet_tick(const struct producer_config *cfg)
{
	int64_t ns = PRODUCER_QUIET_TICK_NS;

	if (cfg->rate != 0 && cfg->quiet_burst_max != 0 &&
	    tokens_in(cfg->rate, ns) > cfg->quiet_burst_max) {
		/* In double: quiet_burst_max * 1e9 overflows 64 bits for
		 * rates the pool accepts (any uint64), and the result is
		 * rounded down to whole ticks anyway. */
		ns = (int64_t)((double)cfg->quiet_burst_max * (double)TIMEUTIL_NS_PER_SEC /
			       (double)cfg->rate);
	}
	ns = ns / cfg->tick_ns * cfg->tick_ns;
	return ns > cfg->tick_ns ? ns : cfg->tick_ns;
}

static bool config_valid(const struct producer_config *cfg)
{
	return cfg != NULL && cfg->threads >= 1 && cfg->n_symbols >= 1 &&
	       cfg->n_symbols <= UINT32_MAX && cfg->tick_ns > 0 &&
	       cfg->tick_ns <= PRODUCER_TICK_MAX_NS && cfg->publish != NULL;
}

struct producer_pool *producer_pool_create(const struct producer_config *cfg)
{
	struct producer_pool *pool;
	uint64_t n_shards;
	int err;

	if (!config_valid(cfg)) {
		errno = EINVAL;
		return NULL;
	}
	pool = calloc(1, sizeof(*pool));
	if (pool == NULL)
		return NULL;
	pool->publish = cfg->publish;
	pool->ctx = cfg->ctx;
	pool->tick_ns = cfg->tick_ns;
	pool->quiet_tick_ns = quiet_tick(cfg);
	atomic_init(&pool->stop, false);
	atomic_init(&pool->quiet, false);
	atomic_init(&pool->awake_ns, 0);
	pool->state = PRODUCER_IDLE;

	/*
	 * A thread with no symbol, or with a zero share of the rate, would only
	 * wake up to do nothing: such threads are not created at all.
	 */
	n_shards = cfg->threads;
	if (n_shards > cfg->n_symbols)
		n_shards = cfg->n_symbols;
	if (cfg->rate != 0 && n_shards > cfg->rate)
		n_shards = cfg->rate;
	pool->n_shards = (unsigned)n_shards;

	pool->shards = calloc(pool->n_shards, sizeof(*pool->shards));
	if (pool->shards == NULL)
		goto fail_free;
	for (unsigned i = 0; i < pool->n_shards; i++) {
		struct producer_shard *sh = &pool->shards[i];
		/* tick_ns <= PRODUCER_TICK_MAX_NS: two ticks never overflow. */
		int64_t window = PRODUCER_CATCHUP_NS;

		sh->pool = pool;
		sh->n_slots = (cfg->n_symbols - i + n_shards - 1) / n_shards;
		sh->slots = calloc(sh->n_slots, sizeof(*sh->slots));
		if (sh->slots == NULL)
			goto fail_free;
		/* The remainder goes one each to the first threads: the sum is exact. */
		sh->rate = cfg->rate / n_shards + (i < cfg->rate % n_shards ? 1 : 0);
		if (window < 2 * cfg->tick_ns)
			window = 2 * cfg->tick_ns;
		sh->burst = tokens_in(sh->rate, window);
		if (sh->burst == 0)
			sh->burst = 1;
		sh->quiet_burst = tokens_in(sh->rate, 2 * pool->quiet_tick_ns);
		if (sh->quiet_burst < sh->burst)
			sh->quiet_burst = sh->burst;
	}
	for (size_t i = 0; i < cfg->n_symbols; i++) {
		struct producer_shard *sh = &pool->shards[i % n_shards];
		struct producer_slot *slot = &sh->slots[i / n_shards];

		market_symbol_init(&slot->market, cfg->seed, (uint32_t)i);
		strategy_state_init(&slot->strategy, slot->market.price);
		slot->symbol = (uint32_t)i;
		slot->next_strategy = 0;
	}

	err = pthread_mutex_init(&pool->lock, NULL);
	if (err != 0)
		goto fail_errno;
	err = pthread_mutex_init(&pool->quiet_lock, NULL);
	if (err != 0)
		goto fail_lock;
	err = -timeutil_cond_init_monotonic(&pool->quiet_cond);
	if (err != 0)
		goto fail_quiet_lock;
	return pool;

fail_quiet_lock:
	pthread_mutex_destroy(&pool->quiet_lock);
fail_lock:
	pthread_mutex_destroy(&pool->lock);
fail_errno:
	errno = err;
fail_free:
	err = errno;
	pool_free(pool);
	errno = err;
	return NULL;
}

/* Caller holds pool->lock. */
static void pool_join(struct producer_pool *pool, unsigned n)
{
	atomic_store(&pool->stop, true);
	/* Quiet threads sleep on the condition, not on the clock alone. */
	pthread_mutex_lock(&pool->quiet_lock);
	pthread_cond_broadcast(&pool->quiet_cond);
	pthread_mutex_unlock(&pool->quiet_lock);
	for (unsigned i = 0; i < n; i++)
		pthread_join(pool->shards[i].thread, NULL);
}

int producer_pool_start(struct producer_pool *pool)
{
	sigset_t all, old;
	unsigned started = 0;
	int err = 0;

	if (pool == NULL)
		return -EINVAL;
	pthread_mutex_lock(&pool->lock);
	if (pool->state != PRODUCER_IDLE) {
		err = -EALREADY;
		goto out_unlock;
	}
	/*
	 * Producer threads inherit a mask blocking the asynchronous signals:
	 * those belong to the threads that handle them, not to a producer
	 * mid-tick. Faults stay unblocked so that a crash in a producer still
	 * reaches whatever handler (or sanitizer) reports it.
	 */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGSYS);
	sigdelset(&all, SIGABRT);
	err = -pthread_sigmask(SIG_SETMASK, &all, &old);
	if (err != 0)
		goto out_unlock;
	pool->epoch_ns = timeutil_monotonic_ns();
	atomic_store_explicit(&pool->awake_ns, pool->epoch_ns, memory_order_relaxed);
	for (; started < pool->n_shards; started++) {
		err = -pthread_create(&pool->shards[started].thread, NULL, shard_main,
				      &pool->shards[started]);
		if (err != 0)
			goto out_join;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool->state = PRODUCER_RUNNING;
	pthread_mutex_unlock(&pool->lock);
	return 0;

out_join:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pool_join(pool, started);
	pool->state = PRODUCER_STOPPED;
out_unlock:
	pthread_mutex_unlock(&pool->lock);
	return err;
}

void producer_pool_stop(struct producer_pool *pool)
{
	if (pool == NULL)
		return;
	pthread_mutex_lock(&pool->lock);
	if (pool->state == PRODUCER_RUNNING)
		pool_join(pool, pool->n_shards);
	/* A pool that never ran cannot be started after a stop either. */
	pool->state = PRODUCER_STOPPED;
	pthread_mutex_unlock(&pool->lock);
}

void producer_pool_set_quiet(struct producer_pool *pool, bool quiet)
{
	pthread_mutex_lock(&pool->quiet_lock);
	if (!quiet && atomic_load_explicit(&pool->quiet, memory_order_relaxed)) {
		int64_t now = timeutil_monotonic_ns();
		int64_t last = atomic_load_explicit(&pool->awake_ns, memory_order_relaxed);

		/* Published by the release store below. */
		atomic_store_explicit(&pool->awake_ns, now > last ? now : last + 1,
				      memory_order_relaxed);
	}
	atomic_store_explicit(&pool->quiet, quiet, memory_order_release);
	if (!quiet)
		pthread_cond_broadcast(&pool->quiet_cond);
	pthread_mutex_unlock(&pool->quiet_lock);
}

void producer_pool_destroy(struct producer_pool *pool)
{
	if (pool == NULL)
		return;
	producer_pool_stop(pool);
	pthread_cond_destroy(&pool->quiet_cond);
	pthread_mutex_destroy(&pool->quiet_lock);
	pthread_mutex_destroy(&pool->lock);
	pool_free(pool);
}
