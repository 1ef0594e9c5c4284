#include "server/ring.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PAYLOAD_WORDS (RING_PAYLOAD_MAX / 8)

_Static_assert(RING_PAYLOAD_MAX >= LIMITS_SIGNAL_ENCODED_MAX, "ring slot too small");
_Static_assert(RING_PAYLOAD_MAX % 8 == 0, "payload must be whole words");

struct slot {
	_Atomic uint64_t seq;      /* 0 while being written */
	_Atomic uint64_t meta;     /* symbol | strategy << 32 | len << 40 */
	_Atomic uint64_t strength; /* bits of the double */
	_Atomic uint64_t words[PAYLOAD_WORDS];
	uint64_t pad;              /* 128 bytes: slots never share a cache line pair */
};

struct ring {
	size_t mask;
	/* Apart from the slots: readers poll head, the writer stores it. */
	_Alignas(64) _Atomic uint64_t head;
	/* The newest sequence written or being written: ahead of head while
	 * a tick is written, whose slots already hold no older signal. */
	_Atomic uint64_t written;
	_Alignas(64) struct slot slots[];
};

struct ring *ring_create(size_t capacity)
{
	struct ring *ring;

	if (capacity < RING_CAPACITY_MIN || capacity > RING_CAPACITY_MAX ||
	    (capacity & (capacity - 1)) != 0) {
		errno = EINVAL;
		return NULL;
	}
	/* calloc: untouched slots stay unbacked until the ring first fills. */
	ring = calloc(1, sizeof(*ring) + capacity * sizeof(struct slot));
	if (ring == NULL)
		return NULL;
	ring->mask = capacity - 1;
	atomic_init(&ring->head, 0);
	atomic_init(&ring->written, 0);
	return ring;
}

void ring_destroy(struct ring *ring)
{
	free(ring);
}

size_t ring_capacity(const struct ring *ring)
{
	return ring->mask + 1;
}

static uint64_t double_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bits_double(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

void ring_put(struct ring *ring, uint64_t seq, const struct ring_meta *meta,
	      const uint8_t *bytes, size_t len)
{
	struct slot *s = &ring->slots[seq & ring->mask];
	uint64_t words[PAYLOAD_WORDS] = {0};

	memcpy(words, bytes, len);
	/* `written` moves before the slot is marked torn, and the release
	 * fence publishes it with the mark: a reader that finds the slot
	 * overwritten then also finds ring_oldest() past what it lost. */
	atomic_store_explicit(&ring->written, seq, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	/* Mark the slot torn before touching it; the fence orders that mark
	 * before the data stores for any reader that sees new data. */
	atomic_store_explicit(&s->seq, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&s->meta,
			      (uint64_t)meta->symbol | (uint64_t)meta->strategy << 32 |
				      (uint64_t)len << 40,
			      memory_order_relaxed);
	atomic_store_explicit(&s->strength, double_bits(meta->strength), memory_order_relaxed);
	for (size_t i = 0; i < (len + 7) / 8; i++)
		atomic_store_explicit(&s->words[i], words[i], memory_order_relaxed);
	atomic_store_explicit(&s->seq, seq, memory_order_release);
}

void ring_publish(struct ring *ring, uint64_t seq)
{
	atomic_store_explicit(&ring->head, seq, memory_order_release);
}

uint64_t ring_head(const struct ring *ring)
{
	return atomic_load_explicit(&ring->head, memory_order_acquire);
}

uint64_t ring_oldest(const struct ring *ring)
{
	/* Not head: while a tick is written, the slots of its signals no
	 * longer hold what head alone would call retained. */
	uint64_t written = atomic_load_explicit(&ring->written, memory_order_acquire);
	uint64_t cap = ring->mask + 1;

	return written > cap ? written - cap + 1 : 1;
}

int ring_read(const struct ring *ring, uint64_t seq, struct ring_meta *meta, uint8_t *bytes)
{
	const struct slot *s = &ring->slots[seq & ring->mask];
	uint64_t words[PAYLOAD_WORDS];
	uint64_t m, st, got;
	size_t len;

	if (seq == 0 || seq > ring_head(ring))
		return -EAGAIN;
	got = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (got != seq)
		return -ESTALE;
	m = atomic_load_explicit(&s->meta, memory_order_relaxed);
	st = atomic_load_explicit(&s->strength, memory_order_relaxed);
	len = (size_t)(m >> 40) & 0xff;
	if (bytes != NULL) {
		for (size_t i = 0; i < (len + 7) / 8; i++)
			words[i] = atomic_load_explicit(&s->words[i], memory_order_relaxed);
	}
	/* Everything above must be read before the re-check below. */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
		return -ESTALE;
	meta->symbol = (uint32_t)m;
	meta->strategy = (uint8_t)(m >> 32);
	meta->strength = bits_double(st);
	if (bytes != NULL)
		memcpy(bytes, words, len);
	return (int)len;
}
