/* rpc_slices: one shared slice per signal, a slot reused a window later, and
 * a reader behind the window served a copy of its own. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "server/rpc_slices.h"

/* By pointer: an inline slice's bytes live inside the grpc_slice itself. */
static const uint8_t *start(const grpc_slice *s)
{
	return GRPC_SLICE_START_PTR(*s);
}

static bool holds(const grpc_slice *s, const char *text)
{
	return GRPC_SLICE_LENGTH(*s) == strlen(text) && memcmp(start(s), text, strlen(text)) == 0;
}

/* Longer than a slice's inline storage, so slices are refcounted. */
#define A "signal one, serialised: more than twenty-three bytes"
#define B "signal seventeen, serialised: more than twenty-three bytes"

START_TEST(test_shared_then_replaced)
{
	struct rpc_slices *w = rpc_slices_create(16);
	grpc_slice first, again, next, late;

	ck_assert_ptr_nonnull(w);
	first = rpc_slices_get(w, 1, (const uint8_t *)A, strlen(A));
	/* The second reader shares the bytes whatever it passes in. */
	again = rpc_slices_get(w, 1, (const uint8_t *)A, strlen(A));
	ck_assert(holds(&first, A));
	ck_assert_ptr_eq(start(&first), start(&again));

	/* Sequence 17 takes slot 1; the sends of 1 still hold their bytes. */
	next = rpc_slices_get(w, 17, (const uint8_t *)B, strlen(B));
	ck_assert(holds(&next, B));
	ck_assert(holds(&first, A));

	/* A reader of 1 now is behind the window: a copy of its own. */
	late = rpc_slices_get(w, 1, (const uint8_t *)A, strlen(A));
	ck_assert(holds(&late, A));
	ck_assert_ptr_ne(start(&late), start(&first));
	ck_assert_ptr_ne(start(&late), start(&next));

	grpc_slice_unref(first);
	grpc_slice_unref(again);
	grpc_slice_unref(next);
	grpc_slice_unref(late);
	/* The window's own references go with it (ASan checks for leaks). */
	rpc_slices_destroy(w);
}
END_TEST

START_TEST(test_bad_capacity)
{
	ck_assert_ptr_null(rpc_slices_create(0));
	ck_assert_ptr_null(rpc_slices_create(24));
}
END_TEST

Suite *slices_suite(void);
Suite *slices_suite(void)
{
	Suite *s = suite_create("slices");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, test_shared_then_replaced);
	tcase_add_test(tc, test_bad_capacity);
	suite_add_tcase(s, tc);
	return s;
}
