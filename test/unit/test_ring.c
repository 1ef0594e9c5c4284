/* ring: ordering, overwrite detection, and a writer racing readers. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "server/ring.h"

static void put_seq(struct ring *r, uint64_t seq)
{
	uint8_t bytes[RING_PAYLOAD_MAX];
	struct ring_meta m = {.symbol = (uint32_t)(seq % 7), .strategy = (uint8_t)(seq % 2),
			      .strength = (double)(seq % 100) / 100.0};
	size_t len = 1 + seq % (RING_PAYLOAD_MAX - 1);

	/* Content derived from seq so a reader can verify it is not torn. */
	for (size_t i = 0; i < len; i++)
		bytes[i] = (uint8_t)(seq * 31 + i);
	ring_put(r, seq, &m, bytes, len);
}

static bool check_seq(uint64_t seq, const struct ring_meta *m, const uint8_t *bytes, int len)
{
	if (len != (int)(1 + seq % (RING_PAYLOAD_MAX - 1)) || m->symbol != seq % 7 ||
	    m->strategy != seq % 2 || m->strength != (double)(seq % 100) / 100.0)
		return false;
	for (int i = 0; i < len; i++)
		if (bytes[i] != (uint8_t)(seq * 31 + (uint64_t)i))
			return false;
	return true;
}

START_TEST(test_create_bounds)
{
	ck_assert_ptr_null(ring_create(15));
	ck_assert_ptr_null(ring_create(100));
	ck_assert_ptr_null(ring_create((size_t)RING_CAPACITY_MAX * 2));
	struct ring *r = ring_create(16);
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(ring_capacity(r), 16);
	ring_destroy(r);
}
END_TEST

START_TEST(test_sequential)
{
	struct ring *r = ring_create(16);
	struct ring_meta m;
	uint8_t bytes[RING_PAYLOAD_MAX];
	int len;

	ck_assert_uint_eq(ring_head(r), 0);
	ck_assert_uint_eq(ring_oldest(r), 1);
	ck_assert_int_eq(ring_read(r, 1, &m, bytes), -EAGAIN);
	put_seq(r, 1);
	/* Written but not published: invisible. */
	ck_assert_int_eq(ring_read(r, 1, &m, bytes), -EAGAIN);
	ring_publish(r, 1);
	len = ring_read(r, 1, &m, bytes);
	ck_assert(check_seq(1, &m, bytes, len));
	for (uint64_t s = 2; s <= 40; s++)
		put_seq(r, s);
	ring_publish(r, 40);
	ck_assert_uint_eq(ring_head(r), 40);
	ck_assert_uint_eq(ring_oldest(r), 25);
	ck_assert_int_eq(ring_read(r, 24, &m, bytes), -ESTALE);
	ck_assert_int_eq(ring_read(r, 1, &m, NULL), -ESTALE);
	for (uint64_t s = 25; s <= 40; s++) {
		len = ring_read(r, s, &m, bytes);
		ck_assert_msg(check_seq(s, &m, bytes, len), "seq %llu", (unsigned long long)s);
	}
	ck_assert_int_eq(ring_read(r, 41, &m, bytes), -EAGAIN);
	ck_assert_int_eq(ring_read(r, 0, &m, bytes), -EAGAIN);
	ring_destroy(r);
}
END_TEST

/* A tick is written before it is published: its slots already hold no
 * older signal, so the oldest retained must move with the writes, not with
 * head. (It once named a sequence that then read -ESTALE: a client told
 * "from_sequence N is older than the oldest retained sequence N".) */
START_TEST(test_oldest_moves_with_unpublished_writes)
{
	struct ring *r = ring_create(16);
	struct ring_meta m;
	uint8_t bytes[RING_PAYLOAD_MAX];

	for (uint64_t s = 1; s <= 16; s++)
		put_seq(r, s);
	ring_publish(r, 16);
	ck_assert_uint_eq(ring_oldest(r), 1);
	for (uint64_t s = 17; s <= 21; s++)
		put_seq(r, s);
	ck_assert_uint_eq(ring_head(r), 16);
	ck_assert_uint_eq(ring_oldest(r), 6);
	for (uint64_t s = 1; s < 6; s++)
		ck_assert_int_eq(ring_read(r, s, &m, bytes), -ESTALE);
	for (uint64_t s = ring_oldest(r); s <= ring_head(r); s++)
		ck_assert_msg(check_seq(s, &m, bytes, ring_read(r, s, &m, bytes)), "seq %llu",
			      (unsigned long long)s);
	ring_destroy(r);
}
END_TEST

#define RACE_N 200000
static struct ring *race_ring;
static atomic_bool race_done;

static void *race_writer(void *arg)
{
	(void)arg;
	for (uint64_t s = 1; s <= RACE_N; s++) {
		put_seq(race_ring, s);
		if (s % 8 == 0 || s == RACE_N)
			ring_publish(race_ring, s);
	}
	atomic_store(&race_done, true);
	return NULL;
}

struct reader_stats {
	uint64_t ok, stale;
};

static void *race_reader(void *arg)
{
	struct reader_stats *st = arg;
	uint8_t bytes[RING_PAYLOAD_MAX];
	struct ring_meta m;
	uint64_t next = 1;

	while (next <= RACE_N) {
		int len = ring_read(race_ring, next, &m, bytes);

		if (len == -EAGAIN) {
			if (atomic_load(&race_done) && ring_head(race_ring) < next)
				break;
			continue;
		}
		if (len == -ESTALE) {
			/* Overtaken: the stream would be cut; jump to the oldest. */
			st->stale++;
			next = ring_oldest(race_ring);
			continue;
		}
		ck_assert_msg(check_seq(next, &m, bytes, len), "torn read at %llu",
			      (unsigned long long)next);
		st->ok++;
		next++;
	}
	return NULL;
}

START_TEST(test_writer_races_readers)
{
	pthread_t w, rd[3];
	struct reader_stats st[3] = {{0}};

	race_ring = ring_create(64);
	atomic_store(&race_done, false);
	for (int i = 0; i < 3; i++)
		pthread_create(&rd[i], NULL, race_reader, &st[i]);
	pthread_create(&w, NULL, race_writer, NULL);
	pthread_join(w, NULL);
	for (int i = 0; i < 3; i++) {
		pthread_join(rd[i], NULL);
		ck_assert_uint_gt(st[i].ok, 0);
	}
	ring_destroy(race_ring);
}
END_TEST

Suite *ring_suite(void);
Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_create_bounds);
	tcase_add_test(tc, test_sequential);
	tcase_add_test(tc, test_oldest_moves_with_unpublished_writes);
	tcase_add_test(tc, test_writer_races_readers);
	suite_add_tcase(s, tc);
	return s;
}
