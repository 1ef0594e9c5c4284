/*
 * parking — the index of parked streams (caught up with the ring, nothing
 * to send) by symbol, so that a publish wakes only the streams whose filter
 * can match what was published. A stream filtering on k symbols waits on k
 * lists; an unfiltered one on the "all" list; one whose filter matches
 * nothing on none (only an explicit unpark wakes it: heartbeat, shutdown).
 *
 * The race between "I am caught up, park me" and "I just published" is
 * closed by checking the ring head under the index lock: the publisher
 * advances the head before it takes the lock to collect waiters.
 *
 * Ownership: whoever moves a waiter out of the parked state (a publisher's
 * parking_collect(), or parking_unpark() returning true) owns one wake-up
 * of it and must deliver it; the stream keeps itself alive while parked.
 */
#ifndef SIGSTREAM_PARKING_H
#define SIGSTREAM_PARKING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/ring.h"

struct parking_node {
	struct parking_node *prev, *next;
	struct parking_waiter *waiter;
};

struct parking_waiter {
	struct parking_node *nodes;   /* one per list it waits on */
	uint32_t *lists;              /* list index of each node */
	uint32_t n_nodes;
	bool parked;
	struct parking_waiter *wake_next; /* parking_collect()'s result list */
};

struct parking;

struct parking *parking_create(uint32_t n_symbols);
void parking_destroy(struct parking *p);

/*
 * Prepares a waiter for `n` symbol ids; `all` waits on every symbol
 * instead. n == 0 && !all: waits on nothing. Returns 0 or -ENOMEM.
 */
int parking_waiter_init(struct parking_waiter *w, bool all, const uint32_t *ids, uint32_t n);
void parking_waiter_finish(struct parking_waiter *w);

/*
 * Parks `w` unless the ring already holds `next_seq`. Returns true when
 * parked, false when the caller should go on reading.
 */
bool parking_park(struct parking *p, struct parking_waiter *w, const struct ring *ring,
		  uint64_t next_seq);
/* Unparks `w` if it is parked; true if this call did (the caller owns the wake). */
bool parking_unpark(struct parking *p, struct parking_waiter *w);
/*
 * Unparks every waiter on the lists of `ids` (and on the "all" list) and
 * returns them chained through wake_next; the caller owns their wakes.
 */
struct parking_waiter *parking_collect(struct parking *p, const uint32_t *ids, uint32_t n);
/* Unparks every waiter (shutdown); same ownership as parking_collect(). */
struct parking_waiter *parking_collect_all(struct parking *p);

#endif
