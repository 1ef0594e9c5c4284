/*
 * hub — the sequencer between the producers and the streams. It gives every
 * published signal the next sequence number and a CLOCK_REALTIME timestamp,
 * serialises it once with protobuf-c into the ring, makes the producer's
 * whole tick visible at once, and wakes the parked streams that wait on the
 * symbols just published. It knows nothing of gRPC: waking a stream is the
 * caller's `wake` callback, run after every lock is released.
 */
#ifndef SIGSTREAM_HUB_H
#define SIGSTREAM_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "server/parking.h"
#include "server/producer.h"
#include "server/ring.h"
#include "server/symtab.h"

/* Wakes every waiter of `list` (linked by wake_next), all collected by one
 * publish: the callee sees the whole fan-out at once. */
typedef void (*hub_wake_fn)(void *ctx, struct parking_waiter *list);

struct hub_config {
	struct ring *ring;
	const struct symtab *symtab;
	struct parking *parking;
	hub_wake_fn wake;
	void *wake_ctx;
};

struct hub;

struct hub *hub_create(const struct hub_config *cfg);
void hub_destroy(struct hub *hub);

/* A producer_publish_fn: `ctx` is the hub. */
void hub_publish(void *ctx, const struct producer_signal *sigs, size_t n);

/* Signals published so far (the ring head). */
uint64_t hub_published(const struct hub *hub);

/*
 * Encodes the heartbeat Signal (sequence = newest published, empty symbol,
 * SIDE_UNSPECIFIED) into `buf` (RING_PAYLOAD_MAX bytes). Returns its length.
 */
size_t hub_encode_heartbeat(uint64_t sequence, uint8_t *buf);

#endif
