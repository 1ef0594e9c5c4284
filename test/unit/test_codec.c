/*
 * Shared test vectors across the two codecs: whatever protobuf-c (server)
 * encodes, nanopb (client) decodes to the same values, and the reverse,
 * byte for byte.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pb_decode.h>
#include <pb_encode.h>

#include "common/limits.h"
#include "common/request.h"
#include "signals/v1/signal.pb-c.h"
#include "signals/v1/signal.pb.h"

static char sym_max[LIMITS_SYMBOL_MAX + 1];
static char strat_max[LIMITS_STRATEGY_MAX + 1];

static void fill_names(void)
{
	memset(sym_max, 'Z', LIMITS_SYMBOL_MAX);
	sym_max[LIMITS_SYMBOL_MAX] = '\0';
	memset(strat_max, 's', LIMITS_STRATEGY_MAX);
	strat_max[LIMITS_STRATEGY_MAX] = '\0';
}

static size_t pbc_pack_signal(const Signals__V1__Signal *s, uint8_t *buf)
{
	size_t n = signals__v1__signal__get_packed_size(s);

	ck_assert_uint_le(n, LIMITS_SIGNAL_ENCODED_MAX);
	ck_assert_uint_eq(signals__v1__signal__pack(s, buf), n);
	return n;
}

static size_t npb_encode(const pb_msgdesc_t *fields, const void *msg, uint8_t *buf, size_t cap)
{
	pb_ostream_t os = pb_ostream_from_buffer(buf, cap);

	ck_assert_msg(pb_encode(&os, fields, msg), "nanopb encode: %s", PB_GET_ERROR(&os));
	return os.bytes_written;
}

static bool npb_decode(const pb_msgdesc_t *fields, void *msg, const uint8_t *buf, size_t n)
{
	pb_istream_t is = pb_istream_from_buffer(buf, n);

	return pb_decode(&is, fields, msg);
}

START_TEST(test_empty_signal)
{
	Signals__V1__Signal s = SIGNALS__V1__SIGNAL__INIT;
	signals_v1_Signal ns = signals_v1_Signal_init_zero;
	uint8_t a[LIMITS_SIGNAL_ENCODED_MAX], b[LIMITS_SIGNAL_ENCODED_MAX];

	ck_assert_uint_eq(pbc_pack_signal(&s, a), 0);
	ck_assert_uint_eq(npb_encode(signals_v1_Signal_fields, &ns, b, sizeof(b)), 0);
	ck_assert(npb_decode(signals_v1_Signal_fields, &ns, a, 0));
	ck_assert_uint_eq(ns.sequence, 0);
	ck_assert_str_eq(ns.symbol, "");
}
END_TEST

START_TEST(test_signal_max_both_ways)
{
	Signals__V1__Signal s = SIGNALS__V1__SIGNAL__INIT;
	signals_v1_Signal ns = signals_v1_Signal_init_zero;
	Signals__V1__Signal *back;
	uint8_t a[LIMITS_SIGNAL_ENCODED_MAX], b[LIMITS_SIGNAL_ENCODED_MAX];
	size_t na, nb;

	fill_names();
	s.sequence = UINT64_MAX;
	s.symbol = sym_max;
	s.side = SIGNALS__V1__SIDE__SIDE_SELL;
	s.strength = 1.0;
	s.price = 123456.789;
	s.timestamp_ns = INT64_MIN; /* widest varint: 10 bytes */
	s.strategy = strat_max;
	na = pbc_pack_signal(&s, a);
	ck_assert_uint_eq(na, LIMITS_SIGNAL_ENCODED_MAX);

	ck_assert(npb_decode(signals_v1_Signal_fields, &ns, a, na));
	ck_assert_uint_eq(ns.sequence, UINT64_MAX);
	ck_assert_str_eq(ns.symbol, sym_max);
	ck_assert_int_eq(ns.side, signals_v1_Side_SIDE_SELL);
	ck_assert(ns.strength == 1.0);
	ck_assert(ns.price == 123456.789);
	ck_assert(ns.timestamp_ns == INT64_MIN);
	ck_assert_str_eq(ns.strategy, strat_max);

	nb = npb_encode(signals_v1_Signal_fields, &ns, b, sizeof(b));
	ck_assert_uint_eq(nb, na);
	ck_assert_mem_eq(a, b, na);

	back = signals__v1__signal__unpack(NULL, nb, b);
	ck_assert_ptr_nonnull(back);
	ck_assert_uint_eq(back->sequence, UINT64_MAX);
	ck_assert_str_eq(back->symbol, sym_max);
	ck_assert_str_eq(back->strategy, strat_max);
	signals__v1__signal__free_unpacked(back, NULL);
}
END_TEST

START_TEST(test_request_max_both_ways)
{
	Signals__V1__SignalRequest r = SIGNALS__V1__SIGNAL_REQUEST__INIT;
	signals_v1_SignalRequest *nr = calloc(1, sizeof(*nr));
	Signals__V1__SignalRequest *back;
	char *syms[LIMITS_REQUEST_SYMBOLS_MAX], *strats[LIMITS_REQUEST_STRATEGIES_MAX];
	uint8_t *a, *b;
	size_t na, nb;
	char err[128];

	fill_names();
	for (size_t i = 0; i < LIMITS_REQUEST_SYMBOLS_MAX; i++)
		syms[i] = sym_max;
	for (size_t i = 0; i < LIMITS_REQUEST_STRATEGIES_MAX; i++)
		strats[i] = strat_max;
	r.n_symbols = LIMITS_REQUEST_SYMBOLS_MAX;
	r.symbols = syms;
	r.n_strategies = LIMITS_REQUEST_STRATEGIES_MAX;
	r.strategies = strats;
	r.min_strength = 1.0;
	r.from_sequence = UINT64_MAX;
	r.heartbeat_ms = LIMITS_HEARTBEAT_MS_MAX;
	r.linger_ms = LIMITS_LINGER_MS_MAX;
	ck_assert_int_eq(request_validate(&r, err, sizeof(err)), 0);

	na = signals__v1__signal_request__get_packed_size(&r);
	ck_assert_uint_le(na, signals_v1_SignalRequest_size);
	a = malloc(na);
	b = malloc(signals_v1_SignalRequest_size);
	signals__v1__signal_request__pack(&r, a);

	ck_assert(npb_decode(signals_v1_SignalRequest_fields, nr, a, na));
	ck_assert_uint_eq(nr->symbols_count, LIMITS_REQUEST_SYMBOLS_MAX);
	ck_assert_uint_eq(nr->strategies_count, LIMITS_REQUEST_STRATEGIES_MAX);
	ck_assert_str_eq(nr->symbols[63], sym_max);
	ck_assert_str_eq(nr->strategies[15], strat_max);
	ck_assert_uint_eq(nr->from_sequence, UINT64_MAX);
	ck_assert_uint_eq(nr->heartbeat_ms, LIMITS_HEARTBEAT_MS_MAX);
	ck_assert_uint_eq(nr->linger_ms, LIMITS_LINGER_MS_MAX);

	nb = npb_encode(signals_v1_SignalRequest_fields, nr, b, signals_v1_SignalRequest_size);
	ck_assert_uint_eq(nb, na);
	ck_assert_mem_eq(a, b, na);
	back = signals__v1__signal_request__unpack(NULL, nb, b);
	ck_assert_ptr_nonnull(back);
	ck_assert_uint_eq(back->n_symbols, LIMITS_REQUEST_SYMBOLS_MAX);
	signals__v1__signal_request__free_unpacked(back, NULL);
	free(a);
	free(b);
	free(nr);
}
END_TEST

START_TEST(test_batch_max)
{
	Signals__V1__Signal sig[LIMITS_BATCH_SIGNALS_MAX];
	Signals__V1__Signal *ptrs[LIMITS_BATCH_SIGNALS_MAX];
	Signals__V1__SignalBatch batch = SIGNALS__V1__SIGNAL_BATCH__INIT;
	signals_v1_SignalBatch *nb = calloc(1, sizeof(*nb));
	uint8_t *a, *b;
	size_t na;

	fill_names();
	for (size_t i = 0; i < LIMITS_BATCH_SIGNALS_MAX; i++) {
		signals__v1__signal__init(&sig[i]);
		sig[i].sequence = i + 1;
		sig[i].symbol = sym_max;
		sig[i].strategy = strat_max;
		sig[i].side = SIGNALS__V1__SIDE__SIDE_BUY;
		sig[i].strength = 0.5;
		ptrs[i] = &sig[i];
	}
	batch.n_signals = LIMITS_BATCH_SIGNALS_MAX;
	batch.signals = ptrs;
	na = signals__v1__signal_batch__get_packed_size(&batch);
	a = malloc(na);
	b = malloc(na);
	signals__v1__signal_batch__pack(&batch, a);
	ck_assert(npb_decode(signals_v1_SignalBatch_fields, nb, a, na));
	ck_assert_uint_eq(nb->signals_count, LIMITS_BATCH_SIGNALS_MAX);
	ck_assert_uint_eq(nb->signals[255].sequence, 256);
	ck_assert_uint_eq(npb_encode(signals_v1_SignalBatch_fields, nb, b, na), na);
	ck_assert_mem_eq(a, b, na);
	free(a);
	free(b);
	free(nb);
}
END_TEST

START_TEST(test_unknown_enum_value)
{
	/* field 3 (side), varint 7: a Side this client does not know. */
	static const uint8_t wire[] = {0x08, 0x05, 0x18, 0x07};
	signals_v1_Signal ns = signals_v1_Signal_init_zero;
	Signals__V1__Signal *s;
	uint8_t b[16];

	ck_assert(npb_decode(signals_v1_Signal_fields, &ns, wire, sizeof(wire)));
	ck_assert_uint_eq(ns.sequence, 5);
	ck_assert_int_eq((int)ns.side, 7);
	s = signals__v1__signal__unpack(NULL, sizeof(wire), wire);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq((int)s->side, 7);
	/* Both re-encode it unchanged (proto3 enums are open). */
	ck_assert_uint_eq(npb_encode(signals_v1_Signal_fields, &ns, b, sizeof(b)), sizeof(wire));
	ck_assert_mem_eq(b, wire, sizeof(wire));
	signals__v1__signal__free_unpacked(s, NULL);
}
END_TEST

START_TEST(test_unknown_fields_skipped)
{
	/* sequence=9, field 99 varint, field 100 bytes "xyz", symbol "AB",
	 * field 101 fixed64, field 102 fixed32. */
	static const uint8_t wire[] = {
		0x08, 0x09, 0x98, 0x06, 0x2a, 0xa2, 0x06, 0x03, 'x', 'y', 'z',
		0x12, 0x02, 'A',  'B',  0xa9, 0x06, 1,    2,    3,   4,   5,
		6,    7,    8,    0xb5, 0x06, 1,    2,    3,    4,
	};
	signals_v1_Signal ns = signals_v1_Signal_init_zero;
	Signals__V1__Signal *s;

	ck_assert(npb_decode(signals_v1_Signal_fields, &ns, wire, sizeof(wire)));
	ck_assert_uint_eq(ns.sequence, 9);
	ck_assert_str_eq(ns.symbol, "AB");
	s = signals__v1__signal__unpack(NULL, sizeof(wire), wire);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->sequence, 9);
	ck_assert_str_eq(s->symbol, "AB");
	signals__v1__signal__free_unpacked(s, NULL);
}
END_TEST

START_TEST(test_overlong_symbol_rejected)
{
	char longsym[LIMITS_SYMBOL_MAX + 2];
	char *syms[1] = {longsym};
	Signals__V1__SignalRequest r = SIGNALS__V1__SIGNAL_REQUEST__INIT;
	Signals__V1__SignalRequest *back;
	signals_v1_SignalRequest *nr = calloc(1, sizeof(*nr));
	uint8_t buf[64];
	size_t n;
	char err[128];

	memset(longsym, 'A', LIMITS_SYMBOL_MAX + 1);
	longsym[LIMITS_SYMBOL_MAX + 1] = '\0';
	r.n_symbols = 1;
	r.symbols = syms;
	n = signals__v1__signal_request__pack(&r, buf);

	/* nanopb: the static buffer cannot hold it. */
	ck_assert(!npb_decode(signals_v1_SignalRequest_fields, nr, buf, n));
	/* protobuf-c decodes it; validation names the field and the limit. */
	back = signals__v1__signal_request__unpack(NULL, n, buf);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_lt(request_validate(back, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "symbols[0]") != NULL && strstr(err, "1..15") != NULL,
		      "message: %s", err);
	signals__v1__signal_request__free_unpacked(back, NULL);
	free(nr);
}
END_TEST

START_TEST(test_undecodable_bytes)
{
	/* field 1 declared as 5-byte length but truncated. */
	static const uint8_t wire[] = {0x0a, 0x05, 'A'};

	ck_assert_ptr_null(signals__v1__signal_request__unpack(NULL, sizeof(wire), wire));
}
END_TEST

START_TEST(test_request_decode_names_at_wire_length)
{
	/* symbols: "SYM1", then "AB\0C"; strategies: "e\0x". */
	static const uint8_t nul_sym[] = {0x0a, 0x04, 'S', 'Y', 'M', '1', 0x0a, 0x04, 'A', 'B', 0, 'C'};
	static const uint8_t nul_strat[] = {0x12, 0x03, 'e', 0, 'x'};
	static const uint8_t ok[] = {0x0a, 0x02, 'A', 'B', 0x28, 0xe8, 0x07};
	static const uint8_t cut[] = {0x0a, 0x05, 'A'};
	Signals__V1__SignalRequest *req = (Signals__V1__SignalRequest *)1;
	char err[192];

	ck_assert_int_eq(request_decode(nul_sym, sizeof(nul_sym), &req, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(req);
	ck_assert_msg(strstr(err, "symbols[1]") != NULL && strstr(err, "0x00") != NULL, "%s", err);
	ck_assert_int_eq(request_decode(nul_strat, sizeof(nul_strat), &req, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "strategies[0]") != NULL && strstr(err, "0x00") != NULL, "%s",
		      err);
	ck_assert_int_eq(request_decode(cut, sizeof(cut), &req, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "protobuf decoding failed") != NULL, "%s", err);

	ck_assert_int_eq(request_decode(ok, sizeof(ok), &req, err, sizeof(err)), 0);
	ck_assert_uint_eq(req->n_symbols, 1);
	ck_assert_str_eq(req->symbols[0], "AB");
	ck_assert_uint_eq(req->heartbeat_ms, 1000);
	signals__v1__signal_request__free_unpacked(req, NULL);
}
END_TEST

Suite *codec_suite(void);
Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc = tcase_create("cross");

	tcase_add_test(tc, test_empty_signal);
	tcase_add_test(tc, test_signal_max_both_ways);
	tcase_add_test(tc, test_request_max_both_ways);
	tcase_add_test(tc, test_batch_max);
	tcase_add_test(tc, test_unknown_enum_value);
	tcase_add_test(tc, test_unknown_fields_skipped);
	tcase_add_test(tc, test_overlong_symbol_rejected);
	tcase_add_test(tc, test_undecodable_bytes);
	tcase_add_test(tc, test_request_decode_names_at_wire_length);
	suite_add_tcase(s, tc);
	return s;
}
