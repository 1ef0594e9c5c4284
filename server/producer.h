/*
 * producer — the pool of producer threads. Each thread owns a shard of the
 * symbols (symbol i belongs to thread i % threads), advances their simulated
 * prices (market.h), runs the strategies (strategy.h) and emits signals
 * paced by a token bucket (pacer.h) on absolute ticks of `tick_ns`, handing
 * each tick's signals to the publish callback in one call, so the sequencer
 * takes its lock once per tick per thread and downstream writes coalesce.
 * All threads share one tick grid, anchored when the pool starts, so their
 * publishes of a tick arrive together rather than at scattered phases.
 *
 * Quiet: while nobody is subscribed (producer_pool_set_quiet()) the threads
 * emit the same signals per second, in ticks of PRODUCER_QUIET_TICK_NS
 * instead of `tick_ns` (or shorter: quiet_burst_max): the ring fills as
 * before, for clients that resume later, but an idle server wakes ten times
 * a second per thread instead of up to a thousand. Leaving quiet wakes every
 * thread at once onto the fine grid, so the first subscriber never waits for
 * the end of a coarse tick; what the unfinished quiet tick earned is
 * dropped, not published at the new stream in one burst. Every thread's
 * bucket restarts empty at the one instant the pool left quiet, so threads
 * with the same share stay in step on the fine grid too.
 *
 * Every step emits one signal: the next symbol of the shard (round robin)
 * moves one price step, and the strategies alternate, so the rate is exact
 * and strength follows the indicator.
 */
#ifndef SIGSTREAM_PRODUCER_H
#define SIGSTREAM_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/strategy.h"

/* The tick of a quiet pool, 100 ms (rounded down to a whole number of tick_ns). */
#define PRODUCER_QUIET_TICK_NS 100000000

/* The most signals one publish call carries. */
#define PRODUCER_BATCH_MAX 1024

struct producer_signal {
	uint32_t symbol;         /* index into producer_config.symbols */
	enum strategy_id strategy;
	enum strategy_side side; /* BUY or SELL */
	double strength;         /* [0, 1] */
	double price;
};

/*
 * Called from a producer thread with that thread's signals of one tick
 * (1..PRODUCER_BATCH_MAX). Must not block for long: it is the sequencer.
 */
typedef void (*producer_publish_fn)(void *ctx, const struct producer_signal *sigs, size_t n);

struct producer_config {
	unsigned threads;            /* >= 1 */
	uint64_t rate;               /* signals/s over the whole pool; 0 = as fast as possible */
	uint64_t seed;
	size_t n_symbols;            /* >= 1 */
	int64_t tick_ns;             /* pacing tick, e.g. 1 ms */
	/*
	 * The most signals a quiet pool publishes per quiet tick (its tick
	 * shrinks to stay under it), so that a new stream never meets a burst
	 * that overtakes it in the ring: e.g. a quarter of the ring. 0: no
	 * bound.
	 */
	uint64_t quiet_burst_max;
	producer_publish_fn publish;
	void *ctx;
};

struct producer_pool;

/* Returns NULL on bad config (errno EINVAL) or allocation failure. */
struct producer_pool *producer_pool_create(const struct producer_config *cfg);
/* Starts the threads. Returns 0 or a negative errno. */
int producer_pool_start(struct producer_pool *pool);
/* Asks the threads to stop and joins them; idempotent. */
void producer_pool_stop(struct producer_pool *pool);
/*
 * Quiet or not (see above); a new pool is not. Takes effect at once, before
 * or after start. Cheap and non-blocking beyond a short mutex: it may be
 * called under the caller's own locks. No effect at rate 0 (unpaced).
 */
void producer_pool_set_quiet(struct producer_pool *pool, bool quiet);
/* Stops if needed, then frees. NULL is a no-op. */
void producer_pool_destroy(struct producer_pool *pool);

#endif
