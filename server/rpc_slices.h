/*
 * rpc_slices — the gRPC slices of the newest signals, each made once and
 * shared by every stream that sends it: a delivery takes a reference, not a
 * malloc and a copy. The ring stays the source of truth (its seqlock tells a
 * reader whether the bytes it copied are the signal it asked for); this
 * window only turns validated bytes into one refcounted slice per signal, on
 * first use. A slot is reused for the signal `capacity` later, and a reader
 * that far behind (a replay, a slow stream) gets a private copy instead.
 * Slots are locked in stripes (neighbouring signals under different locks),
 * held only to take or replace a reference: no lock is shared by all streams.
 */
#ifndef SIGSTREAM_RPC_SLICES_H
#define SIGSTREAM_RPC_SLICES_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/slice.h>

#define RPC_SLICES_DEFAULT 4096 /* a few ticks at the highest rates measured */

struct rpc_slices;

/* capacity: a power of two. Returns NULL when out of memory. */
struct rpc_slices *rpc_slices_create(size_t capacity);
void rpc_slices_destroy(struct rpc_slices *w);

/*
 * A reference (the caller's to unref) to the slice of signal `seq`, whose
 * encoded form `bytes`/`len` the caller read from the ring and validated.
 * The first caller for `seq` makes the slice; the others share it.
 */
grpc_slice rpc_slices_get(struct rpc_slices *w, uint64_t seq, const uint8_t *bytes, size_t len);

#endif
