/* The call deadline timer: order, removal, the past, and many threads. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/timeutil.h"
#include "server/deadline.h"

#define MS INT64_C(1000000)
#define MAX_FIRES 1024

/* What the fire callback saw, in order, and when. */
struct seen {
	pthread_mutex_t lock;
	int n;
	struct deadline_entry *entry[MAX_FIRES];
	int64_t at[MAX_FIRES];
};

static void on_fire(void *ctx, struct deadline_entry *e)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->lock);
	if (s->n < MAX_FIRES) {
		s->entry[s->n] = e;
		s->at[s->n] = timeutil_monotonic_ns();
	}
	s->n++;
	pthread_mutex_unlock(&s->lock);
}

static void seen_init(struct seen *s)
{
	*s = (struct seen){.n = 0};
	pthread_mutex_init(&s->lock, NULL);
}

static int seen_count(struct seen *s)
{
	int n;

	pthread_mutex_lock(&s->lock);
	n = s->n;
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* Waits (up to 5 s, a hang guard) until `n` entries have fired. */
static bool seen_wait(struct seen *s, int n)
{
	int64_t give_up = timeutil_monotonic_ns() + 5000 * MS;

	while (seen_count(s) < n && timeutil_monotonic_ns() < give_up)
		timeutil_sleep_until(timeutil_monotonic_ns() + MS);
	return seen_count(s) >= n;
}

START_TEST(test_fires_in_due_order_never_early)
{
	struct seen s;
	struct deadline *d;
	struct deadline_entry e[3];
	/* Added out of order: c, a, b. */
	int64_t t = timeutil_monotonic_ns();
	int64_t due[3] = {t + 60 * MS, t + 120 * MS, t + 30 * MS};

	seen_init(&s);
	ck_assert_int_eq(deadline_create(&d, on_fire, &s), 0);
	for (int i = 0; i < 3; i++)
		deadline_entry_init(&e[i]);
	ck_assert_int_eq(deadline_add(d, &e[2], due[2]), 0);
	ck_assert_int_eq(deadline_add(d, &e[0], due[0]), 0);
	ck_assert_int_eq(deadline_add(d, &e[1], due[1]), 0);
	ck_assert_uint_eq(deadline_pending(d), 3);
	ck_assert(seen_wait(&s, 3));
	ck_assert_ptr_eq(s.entry[0], &e[2]);
	ck_assert_ptr_eq(s.entry[1], &e[0]);
	ck_assert_ptr_eq(s.entry[2], &e[1]);
	ck_assert_int_ge(s.at[0], due[2]);
	ck_assert_int_ge(s.at[1], due[0]);
	ck_assert_int_ge(s.at[2], due[1]);
	ck_assert_uint_eq(deadline_pending(d), 0);
	/* Fired: nothing left to remove. */
	ck_assert(!deadline_remove(d, &e[0]));
	deadline_destroy(d);
	ck_assert_int_eq(s.n, 3);
}
END_TEST

START_TEST(test_removed_entry_never_fires)
{
	struct seen s;
	struct deadline *d;
	struct deadline_entry a, b, never;
	int64_t t = timeutil_monotonic_ns();

	seen_init(&s);
	ck_assert_int_eq(deadline_create(&d, on_fire, &s), 0);
	deadline_entry_init(&a);
	deadline_entry_init(&b);
	deadline_entry_init(&never);
	ck_assert(!deadline_remove(d, &never)); /* never armed: a no-op */
	ck_assert_int_eq(deadline_add(d, &a, t + 40 * MS), 0);
	ck_assert_int_eq(deadline_add(d, &b, t + 80 * MS), 0);
	/* The first due goes: the thread must re-aim at b, not sleep on. */
	ck_assert(deadline_remove(d, &a));
	ck_assert(!deadline_remove(d, &a));
	ck_assert(seen_wait(&s, 1));
	timeutil_sleep_until(timeutil_monotonic_ns() + 60 * MS);
	ck_assert_int_eq(seen_count(&s), 1);
	ck_assert_ptr_eq(s.entry[0], &b);
	/* Removed entries may be armed again. */
	ck_assert_int_eq(deadline_add(d, &a, timeutil_monotonic_ns() + 10 * MS), 0);
	ck_assert(seen_wait(&s, 2));
	ck_assert_ptr_eq(s.entry[1], &a);
	deadline_destroy(d);
}
END_TEST

START_TEST(test_past_fires_at_once_and_wakes_a_sleeper)
{
	struct seen s;
	struct deadline *d;
	struct deadline_entry late, past;
	int64_t t0;

	seen_init(&s);
	ck_assert_int_eq(deadline_create(&d, on_fire, &s), 0);
	deadline_entry_init(&late);
	deadline_entry_init(&past);
	/* The thread sleeps towards an hour from now... */
	ck_assert_int_eq(deadline_add(d, &late, timeutil_monotonic_ns() + 3600000 * MS), 0);
	timeutil_sleep_until(timeutil_monotonic_ns() + 20 * MS);
	/* ...and a due time already past must not wait for it. */
	t0 = timeutil_monotonic_ns();
	ck_assert_int_eq(deadline_add(d, &past, t0 - 50 * MS), 0);
	ck_assert(seen_wait(&s, 1));
	ck_assert_ptr_eq(s.entry[0], &past);
	/* A generous bound: CI machines are slow. */
	ck_assert_int_lt(s.at[0] - t0, 500 * MS);
	/* Teardown drops what still waits, unfired and unarmed. */
	deadline_destroy(d);
	ck_assert_int_eq(s.n, 1);
	ck_assert_uint_eq(late.slot, DEADLINE_UNARMED);
}
END_TEST

/*
 * Many entries from several threads, a third of them removed again: each
 * of the rest fires exactly once, none early, and in due order (the heap
 * stays a heap through removals from its middle). Nothing is due for the
 * first 300 ms, so every add and remove is over before the first fire.
 */
#define ADDERS 4
#define PER_ADDER 200

struct adder {
	struct deadline *d;
	int64_t base;
	unsigned seed;
	struct deadline_entry e[PER_ADDER];
	int64_t due[PER_ADDER];
	bool removed[PER_ADDER];
};

static void *add_some(void *arg)
{
	struct adder *a = arg;

	for (int i = 0; i < PER_ADDER; i++) {
		deadline_entry_init(&a->e[i]);
		a->due[i] = a->base + (int64_t)(rand_r(&a->seed) % 200) * MS;
		ck_assert_int_eq(deadline_add(a->d, &a->e[i], a->due[i]), 0);
	}
	for (int i = 0; i < PER_ADDER; i += 3)
		a->removed[i] = deadline_remove(a->d, &a->e[i]);
	return NULL;
}

START_TEST(test_concurrent_adds_and_removes)
{
	static struct adder ad[ADDERS];
	static struct seen s;
	struct deadline *d;
	pthread_t th[ADDERS];
	int64_t base = timeutil_monotonic_ns() + 300 * MS;
	int expect = 0;

	seen_init(&s);
	ck_assert_int_eq(deadline_create(&d, on_fire, &s), 0);
	for (int t = 0; t < ADDERS; t++) {
		ad[t] = (struct adder){.d = d, .base = base, .seed = 17u + (unsigned)t};
		ck_assert_int_eq(pthread_create(&th[t], NULL, add_some, &ad[t]), 0);
	}
	for (int t = 0; t < ADDERS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < ADDERS; t++)
		for (int i = 0; i < PER_ADDER; i++)
			expect += !ad[t].removed[i];
	ck_assert_int_lt(timeutil_monotonic_ns(), base); /* else the test proves little */
	ck_assert_int_eq(expect, ADDERS * (PER_ADDER - (PER_ADDER + 2) / 3));
	ck_assert(seen_wait(&s, expect));
	timeutil_sleep_until(timeutil_monotonic_ns() + 30 * MS);
	ck_assert_int_eq(seen_count(&s), expect);
	for (int k = 1; k < expect; k++)
		ck_assert_int_le(s.entry[k - 1]->due_ns, s.entry[k]->due_ns);
	for (int k = 0; k < expect; k++) {
		struct deadline_entry *e = s.entry[k];

		ck_assert_int_ge(s.at[k], e->due_ns);
		ck_assert_uint_eq(e->slot, DEADLINE_UNARMED);
		for (int j = 0; j < k; j++)
			ck_assert_ptr_ne(s.entry[j], e);
	}
	deadline_destroy(d);
}
END_TEST

Suite *deadline_suite(void);
Suite *deadline_suite(void)
{
	Suite *s = suite_create("deadline");
	TCase *tc = tcase_create("deadline");

	tcase_add_test(tc, test_fires_in_due_order_never_early);
	tcase_add_test(tc, test_removed_entry_never_fires);
	tcase_add_test(tc, test_past_fires_at_once_and_wakes_a_sleeper);
	tcase_add_test(tc, test_concurrent_adds_and_removes);
	suite_add_tcase(s, tc);
	return s;
}
