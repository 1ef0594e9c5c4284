/* The C limits, the nanopb .options and the checks agree. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/limits.h"
#include "signals/v1/signal.pb.h"

#define MEMBER_SIZE(type, member) sizeof(((type *)0)->member)
#define MEMBER_COUNT(type, member) (sizeof(((type *)0)->member) / sizeof(((type *)0)->member[0]))

START_TEST(test_options_match_limits)
{
	/* nanopb's max_size counts the NUL. */
	ck_assert_uint_eq(MEMBER_SIZE(signals_v1_Signal, symbol), LIMITS_SYMBOL_MAX + 1);
	ck_assert_uint_eq(MEMBER_SIZE(signals_v1_Signal, strategy), LIMITS_STRATEGY_MAX + 1);
	ck_assert_uint_eq(MEMBER_COUNT(signals_v1_SignalRequest, symbols),
			  LIMITS_REQUEST_SYMBOLS_MAX);
	ck_assert_uint_eq(MEMBER_SIZE(signals_v1_SignalRequest, symbols[0]),
			  LIMITS_SYMBOL_MAX + 1);
	ck_assert_uint_eq(MEMBER_COUNT(signals_v1_SignalRequest, strategies),
			  LIMITS_REQUEST_STRATEGIES_MAX);
	ck_assert_uint_eq(MEMBER_SIZE(signals_v1_SignalRequest, strategies[0]),
			  LIMITS_STRATEGY_MAX + 1);
	ck_assert_uint_eq(MEMBER_COUNT(signals_v1_SignalBatch, signals), LIMITS_BATCH_SIGNALS_MAX);
	ck_assert_uint_eq(signals_v1_Signal_size, LIMITS_SIGNAL_ENCODED_MAX);
}
END_TEST

START_TEST(test_names)
{
	char err[128];

	ck_assert_int_eq(limits_check_symbol("symbol", "BTC-USD", 7, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_symbol("symbol", "a.b_c:d/e-F9", 12, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_symbol("symbols[2]", "", 0, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "symbols[2]: length 0 outside 1..15 bytes");
	ck_assert_int_eq(limits_check_symbol("symbol", "AAAAAAAAAAAAAAAA", 16, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(limits_check_symbol("symbol", "AAAAAAAAAAAAAAA", 15, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_symbol("symbol", "A B", 3, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "symbol: byte 1 (0x20) outside [A-Za-z0-9._:/-]");
	ck_assert_int_eq(limits_check_strategy("strategies[0]", "ema", 3, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_strategy("strategies[0]", "\xc3\xa9", 2, err, sizeof(err)),
			 -EINVAL);
	ck_assert_int_eq(
		limits_check_strategy("s", "0123456789012345678901234567890", 31, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_strategy("s", "01234567890123456789012345678901", 32, err,
					       sizeof(err)),
			 -EINVAL);
}
END_TEST

START_TEST(test_numbers)
{
	char err[128];

	ck_assert_int_eq(limits_check_min_strength(0.0, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_min_strength(1.0, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_min_strength(-0.01, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(limits_check_min_strength(1.5, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "min_strength: 1.5 outside [0, 1]");
	ck_assert_int_eq(limits_check_min_strength(NAN, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(limits_check_heartbeat_ms(0, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_heartbeat_ms(100, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_heartbeat_ms(60000, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_heartbeat_ms(99, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(limits_check_heartbeat_ms(60001, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "heartbeat_ms") && strstr(err, "100..60000"), "%s", err);
	ck_assert_int_eq(limits_check_linger_ms(0, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_linger_ms(1, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_linger_ms(1000, err, sizeof(err)), 0);
	ck_assert_int_eq(limits_check_linger_ms(1001, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "linger_ms") && strstr(err, "1..1000"), "%s", err);
	ck_assert_int_eq(limits_check_count("symbols", 65, 64, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "symbols: 65 entries, at most 64 allowed");
}
END_TEST

Suite *limits_suite(void);
Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_add_test(tc, test_options_match_limits);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_numbers);
	suite_add_tcase(s, tc);
	return s;
}
