/*
 * ring — the last `capacity` published signals, already serialised, shared
 * by every stream. One writer at a time (the sequencer, which serialises
 * publishers); any number of lock-free readers. Each slot is a seqlock:
 * a reader copies what it needs, then checks the slot still holds the
 * sequence it asked for; if not, the writer overtook it and the reader
 * learns so (-ESTALE) instead of seeing a torn or newer signal. A stalled
 * reader therefore never holds memory or blocks the writer.
 *
 * Every field of a slot is an atomic accessed with relaxed ordering plus the
 * seqlock's fences (Boehm, "Can seqlocks get along with programming language
 * memory models?"), so the protocol is well defined in C11 and visible to
 * ThreadSanitizer.
 */
#ifndef SIGSTREAM_RING_H
#define SIGSTREAM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define RING_PAYLOAD_MAX 96 /* >= LIMITS_SIGNAL_ENCODED_MAX, a whole number of words */
#define RING_CAPACITY_MIN 16
#define RING_CAPACITY_MAX (1u << 24)

/* What filtering needs to know of a signal without decoding it. */
struct ring_meta {
	uint32_t symbol;   /* symbol id (server/symtab.h) */
	uint8_t strategy;  /* strategy id (server/strategy.h) */
	double strength;
};

struct ring;

/* capacity: a power of two in [RING_CAPACITY_MIN, RING_CAPACITY_MAX]. */
struct ring *ring_create(size_t capacity);
void ring_destroy(struct ring *ring);
size_t ring_capacity(const struct ring *ring);

/*
 * Writer side (callers serialise): stores signal `seq` (which must be
 * head + 1, head + 2, ... in order), then ring_publish() makes everything up
 * to `seq` visible to readers at once.
 */
void ring_put(struct ring *ring, uint64_t seq, const struct ring_meta *meta,
	      const uint8_t *bytes, size_t len);
void ring_publish(struct ring *ring, uint64_t seq);

/* Newest published sequence; 0 before the first. */
uint64_t ring_head(const struct ring *ring);
/*
 * Oldest sequence still retained (1 until the ring has wrapped): older ones
 * read -ESTALE. Counted from what the writer has started to write, not from
 * head, so it is never a sequence whose slot is already being overwritten.
 */
uint64_t ring_oldest(const struct ring *ring);

/*
 * Reads slot `seq`: its metadata and, if `bytes` is non-NULL, its encoded
 * form (RING_PAYLOAD_MAX bytes of room). Returns the encoded length (> 0),
 * -EAGAIN if `seq` is not published yet, or -ESTALE if it was overwritten.
 */
int ring_read(const struct ring *ring, uint64_t seq, struct ring_meta *meta, uint8_t *bytes);

#endif
