#include "server/parking.h"

#include <errno.h>
#include <stdlib.h>

/* Lists 0..n_symbols-1 are per symbol; then the "all" list, which every
 * publish walks, and the "none" list, which only collect_all walks (it
 * holds waiters whose filter matches nothing, so shutdown finds them). */
struct parking {
	pthread_mutex_t lock;
	uint64_t collected; /* last sequence a collect has seen */
	uint32_t n_symbols;
	struct parking_node heads[]; /* circular sentinels */
};

#define LIST_ALL(p) ((p)->n_symbols)
#define LIST_NONE(p) ((p)->n_symbols + 1)

struct parking *parking_create(uint32_t n_symbols)
{
	struct parking *p;
	uint32_t n = n_symbols + 2;

	p = calloc(1, sizeof(*p) + n * sizeof(p->heads[0]));
	if (p == NULL)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return NULL;
	}
	p->n_symbols = n_symbols;
	for (uint32_t i = 0; i < n; i++)
		p->heads[i].prev = p->heads[i].next = &p->heads[i];
	return p;
}

void parking_destroy(struct parking *p)
{
	if (p == NULL)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int parking_waiter_init(struct parking_waiter *w, bool all, const uint32_t *ids, uint32_t n)
{
	uint32_t count = (all || n == 0) ? 1 : n;

	w->nodes = calloc(count, sizeof(*w->nodes));
	w->lists = calloc(count, sizeof(*w->lists));
	if (w->nodes == NULL || w->lists == NULL) {
		parking_waiter_finish(w);
		return -ENOMEM;
	}
	w->n_nodes = count;
	w->parked = false;
	w->wake_next = NULL;
	for (uint32_t i = 0; i < count; i++) {
		w->nodes[i].waiter = w;
		/* Ids are resolved against the index at park time (see below). */
		w->lists[i] = all ? UINT32_MAX : n == 0 ? UINT32_MAX - 1 : ids[i];
	}
	return 0;
}

void parking_waiter_finish(struct parking_waiter *w)
{
	free(w->nodes);
	free(w->lists);
	w->nodes = NULL;
	w->lists = NULL;
	w->n_nodes = 0;
}

static uint32_t list_of(const struct parking *p, uint32_t id)
{
	if (id == UINT32_MAX)
		return LIST_ALL(p);
	if (id == UINT32_MAX - 1 || id >= p->n_symbols)
		return LIST_NONE(p);
	return id;
}

static void unlink_waiter(struct parking_waiter *w)
{
	for (uint32_t i = 0; i < w->n_nodes; i++) {
		struct parking_node *n = &w->nodes[i];

		n->prev->next = n->next;
		n->next->prev = n->prev;
		n->prev = n->next = NULL;
	}
	w->parked = false;
}

bool parking_park(struct parking *p, struct parking_waiter *w, const struct ring *ring,
		  uint64_t next_seq)
{
	bool parked = false;

	pthread_mutex_lock(&p->lock);
	if (!w->parked && ring_head(ring) < next_seq) {
		for (uint32_t i = 0; i < w->n_nodes; i++) {
			struct parking_node *head = &p->heads[list_of(p, w->lists[i])];
			struct parking_node *n = &w->nodes[i];

			n->next = head->next;
			n->prev = head;
			head->next->prev = n;
			head->next = n;
		}
		w->parked = true;
		parked = true;
	}
	pthread_mutex_unlock(&p->lock);
	return parked;
}

bool parking_unpark(struct parking *p, struct parking_waiter *w)
{
	bool was;

	pthread_mutex_lock(&p->lock);
	was = w->parked;
	if (was) {
		unlink_waiter(w);
		w->resume = p->collected + 1;
	}
	pthread_mutex_unlock(&p->lock);
	return was;
}

/* Moves every waiter of list `l` onto `out`. Caller holds the lock. */
static void drain_list(struct parking *p, uint32_t l, uint64_t resume,
		       struct parking_waiter **out)
{
	struct parking_node *head = &p->heads[l];

	while (head->next != head) {
		struct parking_waiter *w = head->next->waiter;

		unlink_waiter(w);
		w->resume = resume;
		w->wake_next = *out;
		*out = w;
	}
}

struct parking_waiter *parking_collect(struct parking *p, const uint32_t *ids, uint32_t n,
				       uint64_t first, uint64_t last)
{
	struct parking_waiter *out = NULL;

	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 0; i < n; i++)
		if (ids[i] < p->n_symbols)
			drain_list(p, ids[i], first, &out);
	drain_list(p, LIST_ALL(p), first, &out);
	p->collected = last;
	pthread_mutex_unlock(&p->lock);
	return out;
}

struct parking_waiter *parking_collect_all(struct parking *p)
{
	struct parking_waiter *out = NULL;

	pthread_mutex_lock(&p->lock);
	for (uint32_t l = 0; l < p->n_symbols + 2; l++)
		drain_list(p, l, p->collected + 1, &out);
	pthread_mutex_unlock(&p->lock);
	return out;
}
