/* client/format: JSON escaping and numbers, CSV quoting, text alignment. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/format.h"

static signals_v1_Signal sample(void)
{
	signals_v1_Signal s = signals_v1_Signal_init_zero;

	s.sequence = 42;
	snprintf(s.symbol, sizeof(s.symbol), "AAPL");
	s.side = signals_v1_Side_SIDE_BUY;
	s.strength = 0.5;
	s.price = 187.25;
	s.timestamp_ns = INT64_C(1795836660123456789);
	snprintf(s.strategy, sizeof(s.strategy), "ema-cross");
	return s;
}

static const char *line(enum format_kind kind, const signals_v1_Signal *s)
{
	static char buf[FORMAT_LINE_MAX];
	int n = format_signal(kind, s, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_uint_eq(strlen(buf), (size_t)n);
	return buf;
}

START_TEST(test_parse)
{
	enum format_kind k;

	ck_assert_int_eq(format_parse("json", &k), 0);
	ck_assert_int_eq(k, FORMAT_JSON);
	ck_assert_int_eq(format_parse("csv", &k), 0);
	ck_assert_int_eq(k, FORMAT_CSV);
	ck_assert_int_eq(format_parse("text", &k), 0);
	ck_assert_int_eq(k, FORMAT_TEXT);
	ck_assert_int_eq(format_parse("JSON", &k), -EINVAL);
	ck_assert_int_eq(format_parse("", &k), -EINVAL);
}
END_TEST

START_TEST(test_json_plain)
{
	signals_v1_Signal s = sample();

	ck_assert_str_eq(line(FORMAT_JSON, &s),
			 "{\"sequence\":42,\"symbol\":\"AAPL\",\"side\":\"BUY\",\"strength\":0.5,"
			 "\"price\":187.25,\"timestamp_ns\":1795836660123456789,"
			 "\"strategy\":\"ema-cross\"}\n");
}
END_TEST

START_TEST(test_json_escaping)
{
	signals_v1_Signal s = sample();

	/* quote, backslash, control characters, DEL; bytes >= 0x80 (UTF-8 "é") pass through */
	snprintf(s.symbol, sizeof(s.symbol), "a\"b\\c");
	snprintf(s.strategy, sizeof(s.strategy), "x\ny\t\x01\x1f\x7f\xc3\xa9");
	ck_assert_str_eq(line(FORMAT_JSON, &s),
			 "{\"sequence\":42,\"symbol\":\"a\\\"b\\\\c\",\"side\":\"BUY\","
			 "\"strength\":0.5,\"price\":187.25,\"timestamp_ns\":1795836660123456789,"
			 "\"strategy\":\"x\\u000ay\\u0009\\u0001\\u001f\\u007f\xc3\xa9\"}\n");
}
END_TEST

START_TEST(test_json_numbers)
{
	signals_v1_Signal s = sample();
	const char *out;
	char *p;

	/* Shortest form that reads back exactly: 0.1, not 0.10000000000000001. */
	s.strength = 0.1;
	s.price = 1.0 / 3.0;
	out = line(FORMAT_JSON, &s);
	ck_assert_ptr_nonnull(strstr(out, "\"strength\":0.1,"));
	p = strstr(out, "\"price\":");
	ck_assert_ptr_nonnull(p);
	ck_assert(strtod(p + 8, NULL) == 1.0 / 3.0);

	/* Not finite: null, never NaN or inf (not JSON). */
	s.strength = NAN;
	s.price = INFINITY;
	out = line(FORMAT_JSON, &s);
	ck_assert_ptr_nonnull(strstr(out, "\"strength\":null,\"price\":null,"));

	/* Integers at their extremes stay integers. */
	s.sequence = UINT64_MAX;
	s.timestamp_ns = INT64_MIN;
	out = line(FORMAT_JSON, &s);
	ck_assert_ptr_nonnull(strstr(out, "\"sequence\":18446744073709551615,"));
	ck_assert_ptr_nonnull(strstr(out, "\"timestamp_ns\":-9223372036854775808,"));
}
END_TEST

START_TEST(test_side_names)
{
	signals_v1_Signal s = sample();

	s.side = signals_v1_Side_SIDE_SELL;
	ck_assert_ptr_nonnull(strstr(line(FORMAT_JSON, &s), "\"side\":\"SELL\""));
	s.side = (signals_v1_Side)7; /* a value from a newer contract */
	ck_assert_ptr_nonnull(strstr(line(FORMAT_JSON, &s), "\"side\":\"SIDE_7\""));
	ck_assert_ptr_nonnull(strstr(line(FORMAT_CSV, &s), ",SIDE_7,"));
}
END_TEST

START_TEST(test_csv)
{
	signals_v1_Signal s = sample();
	char buf[128];

	ck_assert_int_eq(format_header(FORMAT_CSV, buf, sizeof(buf)), 59);
	ck_assert_str_eq(buf, "sequence,symbol,side,strength,price,timestamp_ns,strategy\r\n");
	ck_assert_int_eq(format_header(FORMAT_JSON, buf, sizeof(buf)), 0);
	ck_assert_int_eq(format_header(FORMAT_TEXT, buf, sizeof(buf)), 0);
	ck_assert_int_eq(format_header(FORMAT_CSV, buf, 10), -ENOSPC);

	ck_assert_str_eq(line(FORMAT_CSV, &s),
			 "42,AAPL,BUY,0.5,187.25,1795836660123456789,ema-cross\r\n");
	/* Comma, quote, CR, LF: quoted, inner quotes doubled. */
	snprintf(s.symbol, sizeof(s.symbol), "a,b");
	snprintf(s.strategy, sizeof(s.strategy), "say \"hi\"\r\n");
	ck_assert_str_eq(line(FORMAT_CSV, &s),
			 "42,\"a,b\",BUY,0.5,187.25,1795836660123456789,\"say \"\"hi\"\"\r\n\"\r\n");
	/* Not finite: an empty field. */
	snprintf(s.symbol, sizeof(s.symbol), "X");
	snprintf(s.strategy, sizeof(s.strategy), "s");
	s.price = NAN;
	ck_assert_str_eq(line(FORMAT_CSV, &s), "42,X,BUY,0.5,,1795836660123456789,s\r\n");
}
END_TEST

START_TEST(test_text_alignment)
{
	signals_v1_Signal a = sample();
	signals_v1_Signal b = sample();
	char la[FORMAT_LINE_MAX], lb[FORMAT_LINE_MAX];

	b.sequence = 1234567;
	snprintf(b.symbol, sizeof(b.symbol), "LONGSYMBOL.X:15");
	b.side = signals_v1_Side_SIDE_SELL;
	b.strength = 1.0;
	b.price = 98765.4321;
	snprintf(b.strategy, sizeof(b.strategy), "zscore-revert");
	ck_assert_int_gt(format_signal(FORMAT_TEXT, &a, la, sizeof(la)), 0);
	ck_assert_int_gt(format_signal(FORMAT_TEXT, &b, lb, sizeof(lb)), 0);
	ck_assert_str_eq(la, "          42  2026-11-28T03:31:00.123Z  AAPL             BUY   0.5000"
			     "        187.2500  ema-cross\n");
	/* Every column starts at the same offset whatever the values. */
	ck_assert_int_eq(strstr(la, "ema-cross") - la, strstr(lb, "zscore-revert") - lb);
	ck_assert_int_eq(strstr(la, "BUY") - la, strstr(lb, "SELL") - lb);
	ck_assert_int_eq(strstr(la, "AAPL") - la, strstr(lb, "LONGSYMBOL") - lb);
	ck_assert_int_eq(strstr(la, "187.2500") + 8 - la, strstr(lb, "98765.4321") + 10 - lb);
}
END_TEST

START_TEST(test_text_unprintable)
{
	signals_v1_Signal s = sample();

	/* No terminal escape sequences from the wire: one '?' per byte keeps the columns. */
	snprintf(s.symbol, sizeof(s.symbol), "\x1b[2J");
	ck_assert_ptr_nonnull(strstr(line(FORMAT_TEXT, &s), "  ?[2J             BUY"));
}
END_TEST

START_TEST(test_no_overflow)
{
	signals_v1_Signal s = sample();
	char big[FORMAT_LINE_MAX];
	char small[16];

	/* The worst case fits FORMAT_LINE_MAX: every name byte escaped as \u00XX. */
	memset(s.symbol, 0x01, sizeof(s.symbol) - 1);
	s.symbol[sizeof(s.symbol) - 1] = '\0';
	memset(s.strategy, 0x01, sizeof(s.strategy) - 1);
	s.strategy[sizeof(s.strategy) - 1] = '\0';
	s.sequence = UINT64_MAX;
	s.timestamp_ns = INT64_MIN;
	s.side = (signals_v1_Side)-2147483647;
	s.strength = -1.2345678901234567e-300;
	s.price = -1.2345678901234567e300;
	ck_assert_int_gt(format_signal(FORMAT_JSON, &s, big, sizeof(big)), 0);
	ck_assert_int_gt(format_signal(FORMAT_CSV, &s, big, sizeof(big)), 0);
	ck_assert_int_gt(format_signal(FORMAT_TEXT, &s, big, sizeof(big)), 0);
	/* Too small: -ENOSPC, never a write past the end. */
	ck_assert_int_eq(format_signal(FORMAT_JSON, &s, small, sizeof(small)), -ENOSPC);
	ck_assert_int_eq(format_signal(FORMAT_TEXT, &s, small, sizeof(small)), -ENOSPC);
	ck_assert_int_eq(format_signal(FORMAT_CSV, &s, small, sizeof(small)), -ENOSPC);
}
END_TEST

Suite *format_suite(void);
Suite *format_suite(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("format");

	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_json_plain);
	tcase_add_test(tc, test_json_escaping);
	tcase_add_test(tc, test_json_numbers);
	tcase_add_test(tc, test_side_names);
	tcase_add_test(tc, test_csv);
	tcase_add_test(tc, test_text_alignment);
	tcase_add_test(tc, test_text_unprintable);
	tcase_add_test(tc, test_no_overflow);
	suite_add_tcase(s, tc);
	return s;
}
