/*
 * symtab, filter, parking and hub together, without gRPC: consumers that
 * read the ring, park when caught up and are woken by the hub must see
 * every matching signal exactly once, with no lost wake-up.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "server/filter.h"
#include "server/hub.h"
#include "server/parking.h"
#include "server/ring.h"
#include "server/symtab.h"
#include "signals/v1/signal.pb-c.h"

START_TEST(test_symtab)
{
	const char *names[] = {"AAPL", "MSFT", "BTC-USD"};
	struct symtab *t = symtab_create(names, 3);
	const char *dup[] = {"A", "A"};

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(symtab_count(t), 3);
	ck_assert_uint_eq(symtab_find(t, "MSFT", 4), 1);
	ck_assert_uint_eq(symtab_find(t, "MSFTX", 4), 1); /* length-bounded */
	ck_assert_uint_eq(symtab_find(t, "MSF", 3), SYMTAB_NOT_FOUND);
	ck_assert_str_eq(symtab_name(t, 2), "BTC-USD");
	ck_assert_ptr_null(symtab_name(t, 3));
	symtab_destroy(t);
	ck_assert_ptr_null(symtab_create(dup, 2));
	t = symtab_create_numbered(12000);
	ck_assert_str_eq(symtab_name(t, 0), "SYM0000");
	ck_assert_str_eq(symtab_name(t, 11999), "SYM11999");
	ck_assert_uint_eq(symtab_find(t, "SYM0042", 7), 42);
	symtab_destroy(t);
}
END_TEST

START_TEST(test_filter)
{
	struct symtab *t = symtab_create_numbered(10);
	char *syms[] = {"SYM0003", "NOPE", "SYM0001", "SYM0003"};
	char *strats[] = {"zscore-revert", "unknown"};
	char *none[] = {"NOPE"};
	struct filter f;
	struct ring_meta m = {.symbol = 3, .strategy = STRATEGY_ZSCORE_REVERT, .strength = 0.6};

	ck_assert_int_eq(filter_init(&f, t, syms, 4, strats, 2, 0.5), 0);
	ck_assert_uint_eq(f.n_symbols, 2);
	ck_assert(filter_match(&f, &m));
	m.strength = 0.4;
	ck_assert(!filter_match(&f, &m));
	m.strength = 0.5;
	ck_assert(filter_match(&f, &m));
	m.strategy = STRATEGY_EMA_CROSS;
	ck_assert(!filter_match(&f, &m));
	m.strategy = STRATEGY_ZSCORE_REVERT;
	m.symbol = 2;
	ck_assert(!filter_match(&f, &m));
	ck_assert(!filter_matches_nothing(&f));
	filter_finish(&f);

	ck_assert_int_eq(filter_init(&f, t, NULL, 0, NULL, 0, 0.0), 0);
	ck_assert(filter_match(&f, &m));
	filter_finish(&f);
	ck_assert_int_eq(filter_init(&f, t, none, 1, NULL, 0, 0.0), 0);
	ck_assert(!filter_match(&f, &m));
	ck_assert(filter_matches_nothing(&f));
	filter_finish(&f);
	ck_assert_int_eq(filter_init(&f, t, NULL, 0, none, 1, 0.0), 0);
	ck_assert(filter_matches_nothing(&f));
	filter_finish(&f);
	symtab_destroy(t);
}
END_TEST

START_TEST(test_parking_rules)
{
	struct ring *r = ring_create(16);
	struct parking *p = parking_create(4);
	struct parking_waiter a, b, all, none;
	uint32_t ida[] = {1}, idb[] = {2, 3}, touched[] = {3};
	struct parking_waiter *w;
	struct ring_meta m = {0};
	uint8_t byte = 0x08;

	ck_assert_int_eq(parking_waiter_init(&a, false, ida, 1), 0);
	ck_assert_int_eq(parking_waiter_init(&b, false, idb, 2), 0);
	ck_assert_int_eq(parking_waiter_init(&all, true, NULL, 0), 0);
	ck_assert_int_eq(parking_waiter_init(&none, false, NULL, 0), 0);
	ck_assert(parking_park(p, &a, r, 1));
	ck_assert(parking_park(p, &b, r, 1));
	ck_assert(parking_park(p, &all, r, 1));
	ck_assert(parking_park(p, &none, r, 1));
	ck_assert(!parking_park(p, &a, r, 1)); /* already parked */

	/* Symbol 3 wakes b (once, though it waits on two lists) and all. */
	w = parking_collect(p, touched, 1, 1, 1);
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(w->resume, 1);
	ck_assert_ptr_nonnull(w->wake_next);
	ck_assert_ptr_null(w->wake_next->wake_next);
	ck_assert(!b.parked && !all.parked && a.parked && none.parked);
	ck_assert(!parking_unpark(p, &b));

	/* Data already in the ring: no parking. */
	ring_put(r, 1, &m, &byte, 1);
	ring_publish(r, 1);
	ck_assert(!parking_park(p, &b, r, 1));
	ck_assert(parking_park(p, &b, r, 2));

	ck_assert(parking_unpark(p, &a));
	ck_assert_uint_eq(a.resume, 2); /* after the last collected sequence */
	ck_assert(!parking_unpark(p, &a));
	w = parking_collect_all(p);
	ck_assert_ptr_nonnull(w); /* b and none */
	ck_assert_ptr_nonnull(w->wake_next);
	ck_assert_ptr_null(w->wake_next->wake_next);
	ck_assert(!none.parked);
	parking_waiter_finish(&a);
	parking_waiter_finish(&b);
	parking_waiter_finish(&all);
	parking_waiter_finish(&none);
	parking_destroy(p);
	ring_destroy(r);
}
END_TEST

/* ---- hub + consumers racing ---- */

#define N_SYMBOLS 8
#define N_CONSUMERS 6
#define N_TICKS 3000
#define PER_TICK 7

struct consumer {
	struct parking_waiter w; /* first: the wake callback casts back */
	struct filter f;
	sem_t wake;
	uint64_t matched;
	uint64_t last_seq;
	bool lost_wakeup;
	bool order_error;
};

static struct ring *ring;
static struct parking *parking;
static struct symtab *tab;
static atomic_bool publishing_done;
static atomic_uint_fast64_t wakes;

static void on_wake(void *ctx, struct parking_waiter *w)
{
	(void)ctx;
	atomic_fetch_add(&wakes, 1);
	sem_post(&((struct consumer *)(void *)w)->wake);
}

static void on_wake_list(void *ctx, struct parking_waiter *list)
{
	while (list != NULL) {
		/* The woken consumer may park the waiter again at once. */
		struct parking_waiter *next = list->wake_next;

		on_wake(ctx, list);
		list = next;
	}
}

static void *consume(void *arg)
{
	struct consumer *c = arg;
	uint64_t next = 1;
	struct ring_meta m;
	uint8_t bytes[RING_PAYLOAD_MAX];

	for (;;) {
		int len = ring_read(ring, next, &m, bytes);

		if (len > 0) {
			if (filter_match(&c->f, &m)) {
				Signals__V1__Signal *s =
					signals__v1__signal__unpack(NULL, (size_t)len, bytes);

				if (s == NULL || s->sequence != next ||
				    strcmp(s->symbol, symtab_name(tab, m.symbol)) != 0)
					c->order_error = true;
				signals__v1__signal__free_unpacked(s, NULL);
				c->matched++;
				c->last_seq = next;
			}
			next++;
			continue;
		}
		if (len == -ESTALE) {
			c->order_error = true; /* ring is big enough: must not happen */
			return NULL;
		}
		if (atomic_load(&publishing_done) && ring_head(ring) < next)
			return NULL;
		if (parking_park(parking, &c->w, ring, next)) {
			struct timespec ts;
			bool woken;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 5;
			woken = sem_timedwait(&c->wake, &ts) == 0;
			if (!woken) {
				/* Only the end of publishing may leave us parked. */
				if (!atomic_load(&publishing_done) || ring_head(ring) >= next)
					c->lost_wakeup = true;
				parking_unpark(parking, &c->w);
				return NULL;
			}
			if (c->w.resume > next)
				next = c->w.resume;
		}
	}
}

START_TEST(test_hub_fanout)
{
	struct consumer cons[N_CONSUMERS];
	pthread_t th[N_CONSUMERS];
	uint64_t expect[N_CONSUMERS] = {0};
	char *sym_a[] = {"SYM0001"}, *sym_b[] = {"SYM0002", "SYM0005"};
	char *strat[] = {"ema-cross"};
	struct hub *hub;
	struct producer_signal sigs[PER_TICK];

	ring = ring_create(1u << 16);
	tab = symtab_create_numbered(N_SYMBOLS);
	parking = parking_create(N_SYMBOLS);
	atomic_store(&publishing_done, false);
	hub = hub_create(&(struct hub_config){.ring = ring, .symtab = tab, .parking = parking,
					      .wake = on_wake_list});
	ck_assert_ptr_nonnull(hub);

	for (int i = 0; i < N_CONSUMERS; i++) {
		struct consumer *c = &cons[i];

		memset(c, 0, sizeof(*c));
		sem_init(&c->wake, 0, 0);
		switch (i % 3) {
		case 0:
			ck_assert_int_eq(filter_init(&c->f, tab, NULL, 0, NULL, 0, 0.0), 0);
			break;
		case 1:
			ck_assert_int_eq(filter_init(&c->f, tab, sym_a, 1, strat, 1, 0.0), 0);
			break;
		default:
			ck_assert_int_eq(filter_init(&c->f, tab, sym_b, 2, NULL, 0, 0.5), 0);
			break;
		}
		ck_assert_int_eq(parking_waiter_init(&c->w, c->f.all_symbols, c->f.symbols,
						     c->f.n_symbols),
				 0);
		pthread_create(&th[i], NULL, consume, c);
	}
	for (int t = 0; t < N_TICKS; t++) {
		for (int k = 0; k < PER_TICK; k++) {
			struct producer_signal *s = &sigs[k];
			struct ring_meta m;

			s->symbol = (uint32_t)((t * 3 + k) % N_SYMBOLS);
			s->strategy = (enum strategy_id)(k % STRATEGY_COUNT);
			s->side = STRATEGY_SIDE_BUY;
			s->strength = (double)((t + k) % 11) / 10.0;
			s->price = 100.0 + k;
			m = (struct ring_meta){s->symbol, (uint8_t)s->strategy, s->strength};
			for (int i = 0; i < N_CONSUMERS; i++)
				expect[i] += filter_match(&cons[i].f, &m);
		}
		hub_publish(hub, sigs, PER_TICK);
	}
	atomic_store(&publishing_done, true);
	/* Wake any consumer parked at the very end so it sees "done". */
	for (struct parking_waiter *w = parking_collect_all(parking); w != NULL;) {
		struct parking_waiter *next = w->wake_next;

		on_wake(NULL, w);
		w = next;
	}
	for (int i = 0; i < N_CONSUMERS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(!cons[i].lost_wakeup, "consumer %d lost a wake-up", i);
		ck_assert_msg(!cons[i].order_error, "consumer %d saw a bad signal", i);
		ck_assert_uint_eq(cons[i].matched, expect[i]);
		ck_assert_uint_gt(cons[i].matched, 0);
		parking_waiter_finish(&cons[i].w);
		filter_finish(&cons[i].f);
		sem_destroy(&cons[i].wake);
	}
	ck_assert_uint_eq(hub_published(hub), (uint64_t)N_TICKS * PER_TICK);
	hub_destroy(hub);
	parking_destroy(parking);
	symtab_destroy(tab);
	ring_destroy(ring);
}
END_TEST

static struct parking_waiter *rare_woken;

static void record_wake(void *ctx, struct parking_waiter *w)
{
	(void)ctx;
	rare_woken = w;
}

START_TEST(test_rare_symbol_survives_wrap)
{
	/* A stream parked on a symbol that is published rarely must not be
	 * overtaken by the other symbols' traffic: it resumes at the signal
	 * that woke it. */
	struct ring *r = ring_create(16);
	struct symtab *t = symtab_create_numbered(8);
	struct parking *p = parking_create(8);
	struct parking_waiter w;
	uint32_t id = 7;
	struct hub *hub = hub_create(&(struct hub_config){
		.ring = r, .symtab = t, .parking = p, .wake = record_wake});
	struct producer_signal sig = {.symbol = 0, .strategy = STRATEGY_EMA_CROSS,
				      .side = STRATEGY_SIDE_BUY, .strength = 0.5, .price = 1};
	struct ring_meta m;

	ck_assert_int_eq(parking_waiter_init(&w, false, &id, 1), 0);
	ck_assert(parking_park(p, &w, r, 1));
	for (int i = 0; i < 100; i++)
		hub_publish(hub, &sig, 1);
	ck_assert_ptr_null(rare_woken);
	ck_assert_int_eq(ring_read(r, 1, &m, NULL), -ESTALE);
	sig.symbol = 7;
	hub_publish(hub, &sig, 1);
	ck_assert_ptr_eq(rare_woken, &w);
	ck_assert_uint_eq(w.resume, 101);
	ck_assert_int_gt(ring_read(r, w.resume, &m, NULL), 0);
	ck_assert_uint_eq(m.symbol, 7);

	/* Unparked by a timer instead: resumes after the last collected. */
	ck_assert(parking_park(p, &w, r, 102));
	sig.symbol = 1;
	hub_publish(hub, &sig, 1);
	ck_assert(parking_unpark(p, &w));
	ck_assert_uint_eq(w.resume, 103);
	parking_waiter_finish(&w);
	hub_destroy(hub);
	parking_destroy(p);
	symtab_destroy(t);
	ring_destroy(r);
}
END_TEST

START_TEST(test_heartbeat_encoding)
{
	uint8_t buf[RING_PAYLOAD_MAX];
	size_t n = hub_encode_heartbeat(12345, buf);
	Signals__V1__Signal *s = signals__v1__signal__unpack(NULL, n, buf);

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->sequence, 12345);
	ck_assert_str_eq(s->symbol, "");
	ck_assert_int_eq(s->side, SIGNALS__V1__SIDE__SIDE_UNSPECIFIED);
	signals__v1__signal__free_unpacked(s, NULL);
}
END_TEST

Suite *fanout_suite(void);
Suite *fanout_suite(void)
{
	Suite *s = suite_create("fanout");
	TCase *tc = tcase_create("fanout");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_symtab);
	tcase_add_test(tc, test_filter);
	tcase_add_test(tc, test_parking_rules);
	tcase_add_test(tc, test_hub_fanout);
	tcase_add_test(tc, test_rare_symbol_survives_wrap);
	tcase_add_test(tc, test_heartbeat_encoding);
	suite_add_tcase(s, tc);
	return s;
}
