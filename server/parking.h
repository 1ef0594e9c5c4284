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
 * Skipping: every publish collects under the index lock, in sequence order,
 * so while a waiter stays parked, every signal collected so far was for
 * other symbols. A waiter woken by a publish may resume at that publish's
 * first sequence; one unparked otherwise, after the last collected one.
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
	/*
	 * Set when unparked: no signal below this sequence can match the
	 * waiter, so it may skip ahead to it. Without this a stream on a rare
	 * symbol would find the ring overwritten past its position when it
	 * wakes, and be taken for a slow consumer though it missed nothing.
	 */
	uint64_t resume;
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
/* Unparks `w` if it is parked; true if this call did (the caller owns the
 * wake). Sets w->resume. */
bool parking_unpark(struct parking *p, struct parking_waiter *w);
/*
 * After signals first..last (already visible in the ring) were published
 * for the symbols `ids`: unparks every waiter on those lists (and on the
 * "all" list) and returns them chained through wake_next; the caller owns
 * their wakes. Publishers must call this in sequence order.
 */
struct parking_waiter *parking_collect(struct parking *p, const uint32_t *ids, uint32_t n,
				       uint64_t first, uint64_t last);
/* Unparks every waiter (shutdown); same ownership as parking_collect(). */
struct parking_waiter *parking_collect_all(struct parking *p);

#endif
