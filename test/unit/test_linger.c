/* The batch linger timer: due times, grouping, flush and teardown. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/timeutil.h"
#include "server/linger.h"

#define MS INT64_C(1000000)
#define MAX_FIRES 64

/* What the fire callback saw: one record per entry, with the size of the
 * list it came in and the time it arrived. */
struct seen {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	struct linger_entry *entry[MAX_FIRES];
	int64_t at[MAX_FIRES];
	int list_len[MAX_FIRES];
	int lists;
};

static void on_fire(void *ctx, struct linger_entry *list)
{
	struct seen *s = ctx;
	int64_t now = timeutil_monotonic_ns();
	int len = 0;

	for (struct linger_entry *e = list; e != NULL; e = e->next)
		len++;
	pthread_mutex_lock(&s->lock);
	for (struct linger_entry *e = list; e != NULL && s->n < MAX_FIRES; e = e->next) {
		s->entry[s->n] = e;
		s->at[s->n] = now;
		s->list_len[s->n] = len;
		s->n++;
	}
	s->lists++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void seen_init(struct seen *s)
{
	*s = (struct seen){.n = 0};
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

/* Waits (up to 5 s, a hang guard) until `n` entries have fired. */
static bool seen_wait(struct seen *s, int n)
{
	int64_t give_up = timeutil_monotonic_ns() + 5000 * MS;
	bool ok;

	pthread_mutex_lock(&s->lock);
	while (s->n < n && timeutil_monotonic_ns() < give_up) {
		pthread_mutex_unlock(&s->lock);
		timeutil_sleep_until(timeutil_monotonic_ns() + MS);
		pthread_mutex_lock(&s->lock);
	}
	ok = s->n >= n;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

static int index_of(struct seen *s, const struct linger_entry *e)
{
	for (int i = 0; i < s->n; i++)
		if (s->entry[i] == e)
			return i;
	return -1;
}

START_TEST(test_fires_at_due_time_grouped)
{
	struct seen s;
	struct linger *l;
	struct linger_entry a, b, c;
	int64_t due_a, due_b, due_c;

	seen_init(&s);
	ck_assert_int_eq(linger_create(&l, on_fire, &s), 0);
	/* a and b due in the same millisecond come back as one list. */
	int64_t t = timeutil_monotonic_ns();

	due_a = linger_add(l, &a, t + 200 * MS);
	due_b = linger_add(l, &b, t + 200 * MS);
	due_c = linger_add(l, &c, t + 300 * MS);
	ck_assert_int_eq(due_a, due_b);
	ck_assert(due_a % MS == 0);
	ck_assert(seen_wait(&s, 3));
	int ia = index_of(&s, &a), ib = index_of(&s, &b), ic = index_of(&s, &c);

	ck_assert(ia >= 0 && ib >= 0 && ic >= 0);
	/* Never early. */
	ck_assert_int_ge(s.at[ia], due_a);
	ck_assert_int_ge(s.at[ib], due_b);
	ck_assert_int_ge(s.at[ic], due_c);
	ck_assert_int_eq(s.list_len[ia], 2);
	ck_assert_int_eq(s.list_len[ic], 1);
	ck_assert_int_lt(ia < ib ? ib : ia, ic); /* c last */
	linger_destroy(l);
}
END_TEST

START_TEST(test_wait_is_clamped)
{
	struct seen s;
	struct linger *l;
	struct linger_entry a, b;
	int64_t before = timeutil_monotonic_ns();

	seen_init(&s);
	ck_assert_int_eq(linger_create(&l, on_fire, &s), 0);
	/* The past waits for the next millisecond; 10 s from now at most
	 * LINGER_MAX_NS. */
	ck_assert_int_gt(linger_add(l, &a, before - 50 * MS), before);
	int64_t due_b = linger_add(l, &b, timeutil_monotonic_ns() + 10000 * MS);

	ck_assert_int_le(due_b, timeutil_monotonic_ns() + LINGER_MAX_NS + MS);
	ck_assert(seen_wait(&s, 1));
	ck_assert_ptr_eq(s.entry[0], &a);
	/* b fires at teardown: nothing is left behind. */
	linger_destroy(l);
	ck_assert_int_eq(s.n, 2);
	ck_assert_ptr_eq(s.entry[1], &b);
}
END_TEST

START_TEST(test_flush_fires_now_and_later_adds_at_once)
{
	struct seen s;
	struct linger *l;
	struct linger_entry a, b;
	int64_t t0;

	seen_init(&s);
	ck_assert_int_eq(linger_create(&l, on_fire, &s), 0);
	t0 = timeutil_monotonic_ns();
	linger_add(l, &a, t0 + 900 * MS);
	linger_flush(l);
	ck_assert(seen_wait(&s, 1));
	/* Well before the 900 ms it asked for (a generous bound: CI is slow). */
	ck_assert_int_lt(s.at[0] - t0, 500 * MS);
	linger_add(l, &b, t0 + 900 * MS);
	ck_assert(seen_wait(&s, 2));
	ck_assert_int_lt(s.at[1] - t0, 500 * MS);
	linger_destroy(l);
}
END_TEST

/* Many waits of many lengths from several threads: every entry comes back
 * exactly once, and never before its due time. */
struct adder {
	struct linger *l;
	struct linger_entry e[8];
	int64_t due[8];
};

static void *add_some(void *arg)
{
	struct adder *a = arg;

	for (int i = 0; i < 8; i++)
		a->due[i] = linger_add(a->l, &a->e[i],
				       timeutil_monotonic_ns() + (int64_t)(1 + (i * 7) % 40) * MS);
	return NULL;
}

START_TEST(test_concurrent_adds_each_fire_once)
{
	struct seen s;
	struct linger *l;
	struct adder ad[4];
	pthread_t th[4];

	seen_init(&s);
	ck_assert_int_eq(linger_create(&l, on_fire, &s), 0);
	for (int t = 0; t < 4; t++) {
		ad[t].l = l;
		ck_assert_int_eq(pthread_create(&th[t], NULL, add_some, &ad[t]), 0);
	}
	for (int t = 0; t < 4; t++)
		pthread_join(th[t], NULL);
	ck_assert(seen_wait(&s, 32));
	for (int t = 0; t < 4; t++)
		for (int i = 0; i < 8; i++) {
			int k = index_of(&s, &ad[t].e[i]);

			ck_assert_int_ge(k, 0);
			ck_assert_int_ge(s.at[k], ad[t].due[i]);
		}
	linger_destroy(l);
	ck_assert_int_eq(s.n, 32);
}
END_TEST

Suite *linger_suite(void);
Suite *linger_suite(void)
{
	Suite *s = suite_create("linger");
	TCase *tc = tcase_create("linger");

	tcase_add_test(tc, test_fires_at_due_time_grouped);
	tcase_add_test(tc, test_wait_is_clamped);
	tcase_add_test(tc, test_flush_fires_now_and_later_adds_at_once);
	tcase_add_test(tc, test_concurrent_adds_each_fire_once);
	suite_add_tcase(s, tc);
	return s;
}
