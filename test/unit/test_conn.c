/* listener and conn: the server's own accept loop on loopback, and the
 * write hold (TCP_CORK) of a connection, including its racing callers and
 * the bound on a hold that never ends. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "server/conn.h"
#include "server/listener.h"

#if defined(__linux__) && !defined(TCP_CORK)
#define TCP_CORK 3
#endif

struct accepted {
	sem_t ready;
	int fd;
	char peer[80];
};

static void on_accept(void *ctx, int fd, const char *peer)
{
	struct accepted *a = ctx;

	a->fd = fd;
	snprintf(a->peer, sizeof(a->peer), "%s", peer);
	sem_post(&a->ready);
}

static int connect_to(int family, int port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons((uint16_t)port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons((uint16_t)port);
		len = sizeof(*a);
	}
	if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/* Waits up to 5 s for the accept callback. */
static int wait_accept(struct accepted *a)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	return sem_timedwait(&a->ready, &ts);
}

static int corked(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);

	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_CORK, &v, &len), 0);
	return v;
}

static int64_t ms(int64_t n)
{
	return n * 1000000;
}

START_TEST(test_accepts_and_names_peer)
{
	struct accepted a = {.fd = -1};
	struct listener *l = NULL;
	char err[256], want[40];
	int port = 0, c, one = 0;
	socklen_t len = sizeof(one);
	struct sockaddr_in self;
	socklen_t slen = sizeof(self);

	sem_init(&a.ready, 0, 0);
	ck_assert_int_eq(listener_create(&l, "127.0.0.1:0", on_accept, &a, &port, err, sizeof(err)),
			 0);
	ck_assert_int_gt(port, 0);
	ck_assert_int_eq(listener_start(l), 0);
	c = connect_to(AF_INET, port);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(wait_accept(&a), 0);
	getsockname(c, (struct sockaddr *)&self, &slen);
	snprintf(want, sizeof(want), "ipv4:127.0.0.1:%u", (unsigned)ntohs(self.sin_port));
	ck_assert_str_eq(a.peer, want);
	/* Low latency, as gRPC's own listener sets it. */
	ck_assert_int_eq(getsockopt(a.fd, IPPROTO_TCP, TCP_NODELAY, &one, &len), 0);
	ck_assert_int_eq(one, 1);
	close(a.fd);
	close(c);

	/* Stopped: the port refuses. */
	listener_stop(l);
	ck_assert_int_eq(connect_to(AF_INET, port), -ECONNREFUSED);
	listener_destroy(l);
	sem_destroy(&a.ready);
}
END_TEST

START_TEST(test_wildcard_takes_both_families)
{
	struct accepted a = {.fd = -1};
	struct listener *l = NULL;
	char err[256];
	int port = 0, c;

	sem_init(&a.ready, 0, 0);
	ck_assert_int_eq(listener_create(&l, "0.0.0.0:0", on_accept, &a, &port, err, sizeof(err)),
			 0);
	ck_assert_int_eq(listener_start(l), 0);
	c = connect_to(AF_INET, port);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(wait_accept(&a), 0);
	close(a.fd);
	close(c);
	/* IPv6 where the machine has it (containers may not). */
	c = connect_to(AF_INET6, port);
	if (c != -EAFNOSUPPORT && c != -EADDRNOTAVAIL && c != -ENETUNREACH) {
		ck_assert_int_ge(c, 0);
		ck_assert_int_eq(wait_accept(&a), 0);
		ck_assert_msg(strncmp(a.peer, "ipv6:[::1]:", 11) == 0, "%s", a.peer);
		close(a.fd);
		close(c);
	}
	listener_destroy(l);
	sem_destroy(&a.ready);
}
END_TEST

START_TEST(test_bad_addresses)
{
	struct listener *l = NULL, *l2 = NULL;
	char err[256];
	int port = 0, port2 = 0;
	char busy[64];

	ck_assert_int_eq(listener_create(&l, "nonsense:http", on_accept, NULL, &port, err,
					 sizeof(err)),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "nonsense:http"));
	ck_assert_int_eq(listener_create(&l, "127.0.0.1:65536", on_accept, NULL, &port, err,
					 sizeof(err)),
			 -EINVAL);
	/* TEST-NET-1: no host has it. */
	ck_assert_int_lt(listener_create(&l, "192.0.2.1:0", on_accept, NULL, &port, err,
					 sizeof(err)),
			 0);
	ck_assert_ptr_nonnull(strstr(err, "192.0.2.1:0"));

	/* A busy port fails: no SO_REUSEPORT sharing. */
	ck_assert_int_eq(listener_create(&l, "127.0.0.1:0", on_accept, NULL, &port, err,
					 sizeof(err)),
			 0);
	snprintf(busy, sizeof(busy), "127.0.0.1:%d", port);
	ck_assert_int_eq(listener_create(&l2, busy, on_accept, NULL, &port2, err, sizeof(err)),
			 -EADDRINUSE);
	ck_assert_ptr_nonnull(strstr(err, busy));
	listener_destroy(l);
}
END_TEST

/* A connected pair on loopback: *server is the accepted side. */
static void tcp_pair(int *server, int *client)
{
	struct accepted a = {.fd = -1};
	struct listener *l = NULL;
	char err[256];
	int port = 0;

	sem_init(&a.ready, 0, 0);
	ck_assert_int_eq(listener_create(&l, "127.0.0.1:0", on_accept, &a, &port, err, sizeof(err)),
			 0);
	ck_assert_int_eq(listener_start(l), 0);
	*client = connect_to(AF_INET, port);
	ck_assert_int_ge(*client, 0);
	ck_assert_int_eq(wait_accept(&a), 0);
	*server = a.fd;
	listener_destroy(l);
	sem_destroy(&a.ready);
}

/* A conn on the accepted side of a loopback pair. */
struct fixture {
	struct conn_table *t;
	struct conn *c;
	int s, k;
};

static void fixture_open(struct fixture *f)
{
	f->t = conn_table_create(1024);
	ck_assert_ptr_nonnull(f->t);
	tcp_pair(&f->s, &f->k);
	ck_assert_int_eq(conn_table_add(f->t, f->s, "peer"), 0);
	f->c = conn_table_get(f->t, f->s);
	ck_assert_ptr_nonnull(f->c);
}

static void fixture_close(struct fixture *f)
{
	conn_unref(f->c);
	conn_table_destroy(f->t);
	close(f->s);
	close(f->k);
}

START_TEST(test_table)
{
	struct conn_table *t = conn_table_create(64);
	struct conn *c, *old;

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_null(conn_table_get(t, 5));
	ck_assert_int_eq(conn_table_add(t, 64, "x"), -ERANGE);
	ck_assert_int_eq(conn_table_add(t, -1, "x"), -ERANGE);
	ck_assert_int_eq(conn_table_add(t, 5, "ipv4:10.0.0.1:1"), 0);
	old = conn_table_get(t, 5);
	ck_assert_ptr_nonnull(old);
	/* The descriptor reused by a new connection: a new conn; the old one
	 * lives on for whoever still holds it. */
	ck_assert_int_eq(conn_table_add(t, 5, "ipv4:10.0.0.2:2"), 0);
	c = conn_table_get(t, 5);
	ck_assert_str_eq(conn_peer(c), "ipv4:10.0.0.2:2");
	ck_assert_str_eq(conn_peer(old), "ipv4:10.0.0.1:1");
	conn_unref(old);
	conn_unref(c);
	conn_table_destroy(t);
}
END_TEST

START_TEST(test_hold_corks_until_last_release)
{
	struct fixture f;

	fixture_open(&f);
	ck_assert_int_eq(corked(f.s), 0);
	conn_hold(f.c, ms(100));
	conn_hold(f.c, ms(100));
	ck_assert_int_eq(corked(f.s), 1);
	conn_release(f.c);
	ck_assert_int_eq(corked(f.s), 1);
	conn_release(f.c);
	ck_assert_int_eq(corked(f.s), 0);
	fixture_close(&f);
}
END_TEST

START_TEST(test_overdue_hold_uncorks)
{
	struct fixture f;

	fixture_open(&f);
	conn_hold(f.c, ms(100)); /* a send that never completes */
	ck_assert_int_eq(corked(f.s), 1);
	/* The next tick, past the bound: its neighbours are not held. */
	conn_hold(f.c, ms(100) + CONN_HOLD_MAX_NS + 1);
	ck_assert_int_eq(corked(f.s), 0);
	conn_release(f.c);
	conn_hold(f.c, ms(200));
	ck_assert_int_eq(corked(f.s), 0); /* still the stuck one pending */
	conn_release(f.c);
	conn_release(f.c); /* the stuck send completes at last */
	ck_assert_int_eq(corked(f.s), 0);
	conn_hold(f.c, ms(300)); /* holds work again */
	ck_assert_int_eq(corked(f.s), 1);
	conn_release(f.c);
	ck_assert_int_eq(corked(f.s), 0);
	fixture_close(&f);
}
END_TEST

#define RACE_ROUNDS 20000

static void *holder(void *arg)
{
	struct conn *c = arg;

	for (int i = 0; i < RACE_ROUNDS; i++) {
		conn_hold(c, ms(1000));
		conn_release(c);
	}
	return NULL;
}

/* Holds and releases from several threads (a producer and pollers): once
 * all are released the socket must be uncorked, whatever the order the
 * cork changes raced in. */
START_TEST(test_racing_holds_end_uncorked)
{
	struct fixture f;
	pthread_t th[4];

	fixture_open(&f);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, holder, f.c), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(corked(f.s), 0);
	fixture_close(&f);
}
END_TEST

Suite *conn_suite(void);
Suite *conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tl = tcase_create("listener");
	TCase *tc = tcase_create("conn");

	tcase_add_test(tl, test_accepts_and_names_peer);
	tcase_add_test(tl, test_wildcard_takes_both_families);
	tcase_add_test(tl, test_bad_addresses);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_hold_corks_until_last_release);
	tcase_add_test(tc, test_overdue_hold_uncorks);
	tcase_add_test(tc, test_racing_holds_end_uncorked);
	suite_add_tcase(s, tl);
	suite_add_tcase(s, tc);
	return s;
}
