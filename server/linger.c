#include "server/linger.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "common/timeutil.h"

#define SLOT(ms) ((size_t)((uint64_t)(ms) & (LINGER_SLOTS - 1)))

struct linger {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* monotonic deadlines */
	pthread_t thread;
	linger_fire_fn fire;
	void *ctx;
	uint64_t pending;
	int64_t cursor_ms; /* slots before this millisecond have been emptied */
	int64_t wait_ms;   /* what the thread sleeps until; INT64_MAX: until told */
	bool flushing;
	bool stop;
	struct linger_entry *slots[LINGER_SLOTS];
};

static int64_t now_ms(void)
{
	return timeutil_monotonic_ns() / TIMEUTIL_NS_PER_MS;
}

/*
 * Takes every entry due by `now` (all of them when flushing or stopping).
 * A slot may also hold entries of a later turn of the wheel (when the
 * thread ran late): they stay. Caller holds the lock.
 */
static struct linger_entry *collect(struct linger *l, int64_t now)
{
	struct linger_entry *out = NULL;
	bool all = l->flushing || l->stop;
	int64_t from = l->cursor_ms;

	if (l->pending == 0) {
		l->cursor_ms = now + 1;
		return NULL;
	}
	if (all || now - from >= LINGER_SLOTS)
		from = now - LINGER_SLOTS + 1; /* look at every slot once */
	for (int64_t t = from; t <= now; t++) {
		struct linger_entry **p = &l->slots[SLOT(t)];

		while (*p != NULL) {
			struct linger_entry *e = *p;

			if (!all && e->due_ms > now) {
				p = &e->next;
				continue;
			}
			*p = e->next;
			e->next = out;
			out = e;
			l->pending--;
		}
	}
	l->cursor_ms = now + 1;
	return out;
}

/* The first millisecond at which something may come due: the first
 * non-empty slot from the cursor. Caller holds the lock; pending > 0. */
static int64_t next_due(const struct linger *l)
{
	for (int64_t t = l->cursor_ms; t < l->cursor_ms + LINGER_SLOTS; t++)
		if (l->slots[SLOT(t)] != NULL)
			return t;
	return l->cursor_ms;
}

static void *linger_main(void *arg)
{
	struct linger *l = arg;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		struct linger_entry *due = collect(l, now_ms());

		if (due != NULL) {
			l->wait_ms = -1; /* awake: adders need not signal */
			pthread_mutex_unlock(&l->lock);
			l->fire(l->ctx, due);
			pthread_mutex_lock(&l->lock);
			continue;
		}
		if (l->stop)
			break;
		if (l->pending == 0) {
			l->wait_ms = INT64_MAX;
			pthread_cond_wait(&l->cond, &l->lock);
		} else {
			struct timespec ts;

			l->wait_ms = next_due(l);
			ts = timeutil_timespec(l->wait_ms * TIMEUTIL_NS_PER_MS);
			pthread_cond_timedwait(&l->cond, &l->lock, &ts);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int linger_create(struct linger **out, linger_fire_fn fire, void *ctx)
{
	struct linger *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	if (l == NULL)
		return -ENOMEM;
	l->fire = fire;
	l->ctx = ctx;
	l->cursor_ms = now_ms();
	l->wait_ms = INT64_MAX;
	rc = -pthread_mutex_init(&l->lock, NULL);
	if (rc < 0)
		goto fail_free;
	rc = timeutil_cond_init_monotonic(&l->cond);
	if (rc < 0)
		goto fail_mutex;
	rc = -pthread_create(&l->thread, NULL, linger_main, l);
	if (rc < 0)
		goto fail_cond;
	*out = l;
	return 0;

fail_cond:
	pthread_cond_destroy(&l->cond);
fail_mutex:
	pthread_mutex_destroy(&l->lock);
fail_free:
	free(l);
	return rc;
}

void linger_destroy(struct linger *l)
{
	if (l == NULL)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int64_t linger_add(struct linger *l, struct linger_entry *e, int64_t due_ns)
{
	int64_t due = due_ns / TIMEUTIL_NS_PER_MS + (due_ns % TIMEUTIL_NS_PER_MS != 0);
	int64_t now;

	pthread_mutex_lock(&l->lock);
	/* The clock is read under the lock, so a due time is never before a
	 * millisecond the thread has already emptied. */
	now = now_ms();
	if (due <= now)
		due = now + 1;
	if (due > now + LINGER_MAX_NS / TIMEUTIL_NS_PER_MS)
		due = now + LINGER_MAX_NS / TIMEUTIL_NS_PER_MS;
	if (due < l->cursor_ms)
		due = l->cursor_ms;
	e->due_ms = due;
	e->next = l->slots[SLOT(due)];
	l->slots[SLOT(due)] = e;
	l->pending++;
	if (l->flushing || due < l->wait_ms)
		pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return due * TIMEUTIL_NS_PER_MS;
}

void linger_flush(struct linger *l)
{
	pthread_mutex_lock(&l->lock);
	l->flushing = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
}
