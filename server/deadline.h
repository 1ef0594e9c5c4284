/*
 * deadline — the server's own clock for call deadlines (grpc-timeout): a
 * binary min-heap of intrusive entries and one thread that fires each entry
 * when its monotonic due time comes. The gRPC core's deadline filter does
 * the same with a timer and ~0.25 KB in every call; the server leaves it out
 * of its stack (rpc_server_create) and arms an entry here for each call
 * that has a deadline instead.
 *
 * Ownership: deadline_add() lends the entry to the timer until it fires or
 * deadline_remove() takes it back. The fire callback runs on the timer's
 * thread with the timer's lock held, so once deadline_remove() returns the
 * callback is neither running nor will run for that entry: an owner may
 * free what the entry refers to. The callback must not call back into the
 * timer.
 */
#ifndef SIGSTREAM_DEADLINE_H
#define SIGSTREAM_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct deadline_entry {
	int64_t due_ns; /* monotonic */
	size_t slot;    /* its place in the heap; DEADLINE_UNARMED when not there */
};

#define DEADLINE_UNARMED SIZE_MAX

typedef void (*deadline_fire_fn)(void *ctx, struct deadline_entry *e);

struct deadline;

/* Creates the timer and starts its thread. Returns 0 or a negative errno. */
int deadline_create(struct deadline **out, deadline_fire_fn fire, void *ctx);
/* Stops the thread and frees; entries still armed are dropped unfired. */
void deadline_destroy(struct deadline *d);

/* Marks `e` unarmed: deadline_remove() on it is then a no-op. */
void deadline_entry_init(struct deadline_entry *e);
/*
 * Arms `e` (unarmed) to fire at `due_ns` on CLOCK_MONOTONIC; a due time
 * already past fires at once. Returns 0, or -ENOMEM when the heap could not
 * grow (the entry stays unarmed).
 */
int deadline_add(struct deadline *d, struct deadline_entry *e, int64_t due_ns);
/* Disarms `e`: true if it was still waiting, false if it had fired (or was
 * never armed). */
bool deadline_remove(struct deadline *d, struct deadline_entry *e);
/* Entries waiting. */
size_t deadline_pending(struct deadline *d);

#endif
