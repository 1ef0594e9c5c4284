#include "server/rpc_slices.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* Locks striped over the slots: neighbouring signals use different ones,
 * and slots a stream never reads are never touched (an idle server pays
 * for 64 locks, not for one per slot). */
#define LOCKS 64

struct slot {
	uint64_t seq;      /* 0: empty (sequences start at 1) */
	grpc_slice slice;  /* one reference, the window's */
};

struct rpc_slices {
	size_t mask;
	struct slot *slots;
	pthread_mutex_t locks[LOCKS];
};

struct rpc_slices *rpc_slices_create(size_t capacity)
{
	struct rpc_slices *w = calloc(1, sizeof(*w));
	size_t i = 0;

	if (w == NULL || capacity == 0 || (capacity & (capacity - 1)) != 0)
		goto fail;
	w->slots = calloc(capacity, sizeof(*w->slots));
	if (w->slots == NULL)
		goto fail;
	for (; i < LOCKS; i++) {
		if (pthread_mutex_init(&w->locks[i], NULL) != 0)
			goto fail_locks;
	}
	w->mask = capacity - 1;
	return w;

fail_locks:
	while (i-- > 0)
		pthread_mutex_destroy(&w->locks[i]);
	free(w->slots);
fail:
	free(w);
	return NULL;
}

void rpc_slices_destroy(struct rpc_slices *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i <= w->mask; i++) {
		if (w->slots[i].seq != 0)
			grpc_slice_unref(w->slots[i].slice);
	}
	for (size_t i = 0; i < LOCKS; i++)
		pthread_mutex_destroy(&w->locks[i]);
	free(w->slots);
	free(w);
}

grpc_slice rpc_slices_get(struct rpc_slices *w, uint64_t seq, const uint8_t *bytes, size_t len)
{
	struct slot *slot = &w->slots[seq & w->mask];
	/* By slot, not by sequence: the signals sharing a slot share its lock. */
	pthread_mutex_t *lock = &w->locks[(seq & w->mask) % LOCKS];
	grpc_slice old = grpc_empty_slice(), out;
	bool drop_old = false;

	pthread_mutex_lock(lock);
	if (slot->seq == seq) {
		out = grpc_slice_ref(slot->slice);
	} else if (slot->seq < seq) {
		/* The first reader of `seq`: it replaces a signal `capacity`
		 * older, whose in-flight sends keep their own references. */
		drop_old = slot->seq != 0;
		old = slot->slice;
		slot->slice = grpc_slice_from_copied_buffer((const char *)bytes, len);
		slot->seq = seq;
		out = grpc_slice_ref(slot->slice);
	} else {
		/* A reader more than `capacity` behind the newest reader. */
		out = grpc_slice_from_copied_buffer((const char *)bytes, len);
	}
	pthread_mutex_unlock(lock);
	if (drop_old)
		grpc_slice_unref(old);
	return out;
}
