/*
 * linger — the timer of batch streams that hold their signals back
 * (SignalRequest.linger_ms): each one waits here, on its own thread, until
 * its due time. Due times are whole milliseconds of the monotonic clock, so
 * the streams woken by one publish come due together and are handed back as
 * one list: their connections then flush once, as after a publish.
 *
 * Entries are intrusive (no allocation per wait) and live in a wheel of
 * LINGER_SLOTS one-millisecond slots; a wait may be up to LINGER_MAX_NS.
 *
 * Ownership: linger_add() hands the entry to the timer until it comes back
 * through the fire callback, on the timer's thread, with no lock held. An
 * entry cannot be taken back early: its owner keeps itself alive until then.
 */
#ifndef SIGSTREAM_LINGER_H
#define SIGSTREAM_LINGER_H

#include <stdint.h>

#include "common/limits.h"
#include "common/timeutil.h"

#define LINGER_SLOTS 1024
#define LINGER_MAX_NS ((int64_t)LIMITS_LINGER_MS_MAX * TIMEUTIL_NS_PER_MS)
/* A wait may not go round the wheel (rounding up adds a millisecond). */
_Static_assert(LINGER_SLOTS > LIMITS_LINGER_MS_MAX + 1, "linger wheel shorter than a wait");

struct linger_entry {
	struct linger_entry *next;
	int64_t due_ms;
};

/* Receives due entries chained through `next`. */
typedef void (*linger_fire_fn)(void *ctx, struct linger_entry *list);

struct linger;

/* Creates the timer and starts its thread. Returns 0 or a negative errno. */
int linger_create(struct linger **out, linger_fire_fn fire, void *ctx);
/* Fires whatever is still waiting, then stops the thread and frees. */
void linger_destroy(struct linger *l);

/*
 * Makes `e` due at `due_ns` (monotonic), rounded up to a whole millisecond
 * and kept within the next millisecond..LINGER_MAX_NS from now. Returns the
 * due time it got. Callers that share a due time are woken together.
 */
int64_t linger_add(struct linger *l, struct linger_entry *e, int64_t due_ns);
/*
 * Fires every waiting entry now, and every later one as soon as it is added
 * (shutdown: nothing may wait any more).
 */
void linger_flush(struct linger *l);

#endif
