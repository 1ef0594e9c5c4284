/* config parsing, log formatting and time helpers. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

START_TEST(test_parse_u64)
{
	uint64_t v = 0;

	ck_assert_int_eq(config_parse_u64("42", 0, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(config_parse_u64("101", 0, 100, &v), -ERANGE);
	ck_assert_int_eq(config_parse_u64("12abc", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(config_parse_u64("-1", 0, UINT64_MAX, &v), -EINVAL);
	ck_assert_int_eq(config_parse_u64(" 1", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(config_parse_u64("", 0, 100, &v), -EINVAL);
	ck_assert_int_eq(config_parse_u64("99999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(config_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(test_parse_double)
{
	double v = 0;

	ck_assert_int_eq(config_parse_double("0.5", 0, 1, &v), 0);
	ck_assert(v == 0.5);
	ck_assert_int_eq(config_parse_double("abc", 0, 1, &v), -EINVAL);
	ck_assert_int_eq(config_parse_double("3", 0, 1, &v), -ERANGE);
	ck_assert_int_eq(config_parse_double("nan", 0, 1, &v), -EINVAL);
	ck_assert_int_eq(config_parse_double("inf", 0, 1, &v), -EINVAL);
	ck_assert_int_eq(config_parse_double("", 0, 1, &v), -EINVAL);
}
END_TEST

START_TEST(test_env)
{
	setenv("SIGSTREAM_MAX_STREAMS", "12", 1);
	ck_assert_str_eq(config_env("max-streams"), "12");
	setenv("SIGSTREAM_MAX_STREAMS", "", 1);
	ck_assert_ptr_null(config_env("max-streams"));
	unsetenv("SIGSTREAM_MAX_STREAMS");
	ck_assert_ptr_null(config_env("max-streams"));
}
END_TEST

START_TEST(test_split_list)
{
	char a[] = "AAPL,MSFT,X";
	char b[] = "A,,B";
	char c[] = "A,B,C";
	char d[] = "";
	char *items[2];
	char *items3[3];

	ck_assert_int_eq(config_split_list(a, items3, 3), 3);
	ck_assert_str_eq(items3[0], "AAPL");
	ck_assert_str_eq(items3[2], "X");
	ck_assert_int_eq(config_split_list(b, items3, 3), -EINVAL);
	ck_assert_int_eq(config_split_list(c, items, 2), -E2BIG);
	ck_assert_int_eq(config_split_list(d, items, 2), 0);
}
END_TEST

START_TEST(test_log_helpers)
{
	char buf[64];
	enum log_level l;

	ck_assert_str_eq(log_quote("a \"b\"\\\n", buf, sizeof(buf)), "\"a \\\"b\\\"\\\\\\x0a\"");
	ck_assert_int_eq(strlen(log_quote("0123456789012345678901234567890123456789", buf, 12)),
			 11);
	ck_assert_int_eq(log_level_parse("warn", &l), 0);
	ck_assert_int_eq(l, LOG_WARN);
	ck_assert_int_eq(log_level_parse("loud", &l), -EINVAL);
	log_set_level(LOG_ERROR);
	ck_assert(!log_enabled(LOG_INFO));
	ck_assert(log_enabled(LOG_ERROR));
	log_set_level(LOG_INFO);
}
END_TEST

START_TEST(test_rfc3339)
{
	char buf[32];

	ck_assert_int_eq(timeutil_format_rfc3339(INT64_C(1795836660123456789), buf, sizeof(buf)),
			 24);
	ck_assert_str_eq(buf, "2026-11-28T03:31:00.123Z");
	ck_assert_int_lt(timeutil_format_rfc3339(0, buf, 10), 0);
}
END_TEST

START_TEST(test_sleep_until)
{
	int64_t t0 = timeutil_monotonic_ns();

	timeutil_sleep_until(t0 + 2 * TIMEUTIL_NS_PER_MS);
	ck_assert_int_ge(timeutil_monotonic_ns() - t0, 2 * TIMEUTIL_NS_PER_MS);
	timeutil_sleep_until(t0); /* past: returns at once */
}
END_TEST

START_TEST(test_wire)
{
	static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t cut[] = {0x80, 0x80};
	static const uint8_t str[] = {0x03, 'a', 'b', 'c', 0x7f};
	static const uint8_t short_str[] = {0x04, 'a', 'b', 'c'};
	const uint8_t *p, *body;
	uint64_t v;
	size_t len;

	p = max;
	ck_assert(wire_varint(&p, max + sizeof(max), &v));
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_ptr_eq(p, max + sizeof(max));
	p = eleven;
	ck_assert(!wire_varint(&p, eleven + sizeof(eleven), &v));
	ck_assert_ptr_eq(p, eleven); /* untouched on failure */
	p = cut;
	ck_assert(!wire_varint(&p, cut + sizeof(cut), &v));

	/* The writer: the same bytes back, and a round trip at each width. */
	uint8_t out[10];

	ck_assert_uint_eq(wire_put_varint(out, UINT64_MAX), sizeof(max));
	ck_assert_mem_eq(out, max, sizeof(max));
	for (uint64_t x = 0; x < 64; x += 7) {
		uint64_t want = (UINT64_C(1) << x) | 1;
		size_t n = wire_put_varint(out, want);

		p = out;
		ck_assert(wire_varint(&p, out + n, &v));
		ck_assert_uint_eq(v, want);
		ck_assert_ptr_eq(p, out + n);
	}
	ck_assert_uint_eq(wire_put_varint(out, 127), 1);
	ck_assert_uint_eq(wire_put_varint(out, 128), 2);

	p = str;
	ck_assert(wire_bytes(&p, str + sizeof(str), &body, &len));
	ck_assert_uint_eq(len, 3);
	ck_assert_ptr_eq(body, str + 1);
	ck_assert_ptr_eq(p, str + 4);
	p = short_str;
	ck_assert(!wire_bytes(&p, short_str + sizeof(short_str), &body, &len));

	p = str;
	ck_assert(wire_skip(&p, str + sizeof(str), 2));
	ck_assert(wire_skip(&p, str + sizeof(str), 0)); /* the 0x7f varint */
	ck_assert_ptr_eq(p, str + sizeof(str));
	p = str;
	ck_assert(!wire_skip(&p, str + sizeof(str), 1)); /* 8 bytes: only 5 there */
	ck_assert(!wire_skip(&p, str + sizeof(str), 3)); /* groups are not proto3 */
	ck_assert(!wire_skip(&p, str + sizeof(str), 6));
}
END_TEST

Suite *common_suite(void);
Suite *common_suite(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("common");

	tcase_add_test(tc, test_parse_u64);
	tcase_add_test(tc, test_parse_double);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_split_list);
	tcase_add_test(tc, test_log_helpers);
	tcase_add_test(tc, test_rfc3339);
	tcase_add_test(tc, test_sleep_until);
	tcase_add_test(tc, test_wire);
	suite_add_tcase(s, tc);
	return s;
}
