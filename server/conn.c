#include "server/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* A Linux socket option; glibc hides it from strict POSIX builds. */
#if defined(__linux__) && !defined(TCP_CORK)
#define TCP_CORK 3
#endif

struct conn {
	int fd;
	atomic_uint refs;
	atomic_uint pending;  /* woken streams whose send has not completed */
	_Atomic int64_t corked_ns; /* when the cork went on */
	pthread_mutex_t lock; /* orders the cork changes of racing threads */
	bool corked;          /* under lock */
	bool overdue;         /* under lock: held too long; no cork until pending is 0 */
	char peer[80];
};

struct conn_table {
	pthread_mutex_t lock;
	size_t max_fds;
	struct conn **by_fd;
};

/* As many descriptors as the process may open, at most CONN_FDS_MAX. */
static size_t fds_allowed(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > CONN_FDS_MAX)
		return CONN_FDS_MAX;
	return (size_t)rl.rlim_cur;
}

struct conn_table *conn_table_create(size_t max_fds)
{
	struct conn_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (max_fds == 0)
		max_fds = fds_allowed();
	/* Untouched pages of a large calloc are never made resident. */
	t->by_fd = calloc(max_fds, sizeof(*t->by_fd));
	if (t->by_fd == NULL) {
		free(t);
		return NULL;
	}
	t->max_fds = max_fds;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void conn_table_destroy(struct conn_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->max_fds; i++)
		if (t->by_fd[i] != NULL)
			conn_unref(t->by_fd[i]);
	pthread_mutex_destroy(&t->lock);
	free(t->by_fd);
	free(t);
}

int conn_table_add(struct conn_table *t, int fd, const char *peer)
{
	struct conn *c, *old;

	if (fd < 0 || (size_t)fd >= t->max_fds)
		return -ERANGE;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->fd = fd;
	atomic_init(&c->refs, 1); /* the table's */
	atomic_init(&c->pending, 0);
	atomic_init(&c->corked_ns, 0);
	pthread_mutex_init(&c->lock, NULL);
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	pthread_mutex_lock(&t->lock);
	old = t->by_fd[fd];
	t->by_fd[fd] = c;
	pthread_mutex_unlock(&t->lock);
	if (old != NULL)
		conn_unref(old);
	return 0;
}

struct conn *conn_table_get(struct conn_table *t, int fd)
{
	struct conn *c = NULL;

	if (fd < 0 || (size_t)fd >= t->max_fds)
		return NULL;
	pthread_mutex_lock(&t->lock);
	c = t->by_fd[fd];
	if (c != NULL)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&t->lock);
	return c;
}

void conn_unref(struct conn *c)
{
	if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&c->lock);
	free(c);
}

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

/*
 * Makes the cork match `pending` as it is now. Called after every 0<->1
 * transition; the lock orders racing calls, and whichever runs last reads
 * the final count, so the socket never stays corked with nothing pending.
 * A hold (now_ns > 0) also ends a hold older than CONN_HOLD_MAX_NS. A
 * release (now_ns 0) only ever uncorks: a hold that raced it corks with
 * its own clock reading, so corked_ns is always a real time.
 */
static void sync_cork(struct conn *c, int64_t now_ns)
{
#ifdef TCP_CORK
	bool want;

	pthread_mutex_lock(&c->lock);
	if (atomic_load_explicit(&c->pending, memory_order_acquire) == 0)
		c->overdue = false;
	else if (c->corked && now_ns > 0 &&
		 now_ns - atomic_load_explicit(&c->corked_ns, memory_order_relaxed) >
			 CONN_HOLD_MAX_NS)
		c->overdue = true;
	want = atomic_load_explicit(&c->pending, memory_order_acquire) > 0 && !c->overdue &&
	       (now_ns > 0 || c->corked);
	if (want != c->corked) {
		int v = want;

		/* Fails only on a socket already gone: nothing to hold. */
		setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof(v));
		c->corked = want;
		if (want)
			atomic_store_explicit(&c->corked_ns, now_ns, memory_order_relaxed);
	}
	pthread_mutex_unlock(&c->lock);
#else
	(void)c;
	(void)now_ns;
#endif
}

void conn_hold(struct conn *c, int64_t now_ns)
{
	if (c == NULL)
		return;
	if (atomic_fetch_add_explicit(&c->pending, 1, memory_order_acq_rel) == 0 ||
	    now_ns - atomic_load_explicit(&c->corked_ns, memory_order_relaxed) > CONN_HOLD_MAX_NS)
		sync_cork(c, now_ns);
}

void conn_release(struct conn *c)
{
	if (c == NULL)
		return;
	if (atomic_fetch_sub_explicit(&c->pending, 1, memory_order_acq_rel) == 1)
		sync_cork(c, 0);
}
