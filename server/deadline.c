#include "server/deadline.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/timeutil.h"

#define HEAP_INITIAL 64

struct deadline {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* monotonic deadlines */
	pthread_t thread;
	deadline_fire_fn fire;
	void *ctx;
	struct deadline_entry **heap; /* heap[0] is due first */
	size_t n, cap;
	int64_t wait_ns; /* what the thread sleeps until; INT64_MAX: until told */
	bool stop;
};

static void place(struct deadline *d, size_t i, struct deadline_entry *e)
{
	d->heap[i] = e;
	e->slot = i;
}

static void sift_up(struct deadline *d, size_t i)
{
	struct deadline_entry *e = d->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (d->heap[parent]->due_ns <= e->due_ns)
			break;
		place(d, i, d->heap[parent]);
		i = parent;
	}
	place(d, i, e);
}

static void sift_down(struct deadline *d, size_t i)
{
	struct deadline_entry *e = d->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= d->n)
			break;
		if (child + 1 < d->n && d->heap[child + 1]->due_ns < d->heap[child]->due_ns)
			child++;
		if (e->due_ns <= d->heap[child]->due_ns)
			break;
		place(d, i, d->heap[child]);
		i = child;
	}
	place(d, i, e);
}

/* Takes `e` out of the heap. Caller holds the lock; e is armed. */
static void take(struct deadline *d, struct deadline_entry *e)
{
	size_t i = e->slot;
	struct deadline_entry *last = d->heap[--d->n];

	e->slot = DEADLINE_UNARMED;
	if (last == e)
		return;
	place(d, i, last);
	/* The entry moved into the hole may belong above it or below it. */
	if (i > 0 && d->heap[(i - 1) / 2]->due_ns > last->due_ns)
		sift_up(d, i);
	else
		sift_down(d, i);
}

static void *deadline_main(void *arg)
{
	struct deadline *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		int64_t now = timeutil_monotonic_ns();

		/* Fired under the lock: see deadline.h. */
		while (d->n > 0 && d->heap[0]->due_ns <= now) {
			struct deadline_entry *e = d->heap[0];

			take(d, e);
			d->fire(d->ctx, e);
		}
		if (d->n == 0) {
			d->wait_ns = INT64_MAX;
			pthread_cond_wait(&d->cond, &d->lock);
		} else {
			struct timespec ts = timeutil_timespec(d->heap[0]->due_ns);

			d->wait_ns = d->heap[0]->due_ns;
			pthread_cond_timedwait(&d->cond, &d->lock, &ts);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int deadline_create(struct deadline **out, deadline_fire_fn fire, void *ctx)
{
	struct deadline *d = calloc(1, sizeof(*d));
	int rc;

	*out = NULL;
	if (d == NULL)
		return -ENOMEM;
	d->fire = fire;
	d->ctx = ctx;
	d->wait_ns = INT64_MAX;
	rc = -pthread_mutex_init(&d->lock, NULL);
	if (rc < 0)
		goto fail_free;
	rc = timeutil_cond_init_monotonic(&d->cond);
	if (rc < 0)
		goto fail_mutex;
	rc = -pthread_create(&d->thread, NULL, deadline_main, d);
	if (rc < 0)
		goto fail_cond;
	*out = d;
	return 0;

fail_cond:
	pthread_cond_destroy(&d->cond);
fail_mutex:
	pthread_mutex_destroy(&d->lock);
fail_free:
	free(d);
	return rc;
}

void deadline_destroy(struct deadline *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->lock);
	d->stop = true;
	pthread_cond_signal(&d->cond);
	pthread_mutex_unlock(&d->lock);
	pthread_join(d->thread, NULL);
	for (size_t i = 0; i < d->n; i++)
		d->heap[i]->slot = DEADLINE_UNARMED;
	free(d->heap);
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void deadline_entry_init(struct deadline_entry *e)
{
	e->due_ns = 0;
	e->slot = DEADLINE_UNARMED;
}

int deadline_add(struct deadline *d, struct deadline_entry *e, int64_t due_ns)
{
	pthread_mutex_lock(&d->lock);
	if (d->n == d->cap) {
		size_t cap = d->cap == 0 ? HEAP_INITIAL : 2 * d->cap;
		struct deadline_entry **heap = realloc(d->heap, cap * sizeof(*heap));

		if (heap == NULL) {
			pthread_mutex_unlock(&d->lock);
			return -ENOMEM;
		}
		d->heap = heap;
		d->cap = cap;
	}
	e->due_ns = due_ns;
	d->heap[d->n] = e;
	sift_up(d, d->n++);
	/* Only an entry due before the thread's wake-up needs to wake it. */
	if (due_ns < d->wait_ns) {
		d->wait_ns = due_ns;
		pthread_cond_signal(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

bool deadline_remove(struct deadline *d, struct deadline_entry *e)
{
	bool armed;

	pthread_mutex_lock(&d->lock);
	armed = e->slot != DEADLINE_UNARMED;
	if (armed)
		take(d, e);
	pthread_mutex_unlock(&d->lock);
	return armed;
}

size_t deadline_pending(struct deadline *d)
{
	size_t n;

	pthread_mutex_lock(&d->lock);
	n = d->n;
	pthread_mutex_unlock(&d->lock);
	return n;
}
