/*
 * limits — the one C source of truth for the size limits of the signals.v1
 * contract, and the per-field checks that both the server (request
 * validation) and the client (flag checking before it connects) apply.
 * proto/signals/v1/signal.options mirrors these for nanopb; a unit test
 * proves they agree.
 *
 * Checks write a message that names the field and the limit, fit for a gRPC
 * INVALID_ARGUMENT status or a usage error.
 */
#ifndef SIGSTREAM_LIMITS_H
#define SIGSTREAM_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIMITS_SYMBOL_MAX 15          /* bytes, without NUL */
#define LIMITS_STRATEGY_MAX 31        /* bytes, without NUL */
#define LIMITS_REQUEST_SYMBOLS_MAX 64
#define LIMITS_REQUEST_STRATEGIES_MAX 16
#define LIMITS_HEARTBEAT_MS_MIN 100
#define LIMITS_HEARTBEAT_MS_MAX 60000
#define LIMITS_LINGER_MS_MAX 1000
#define LIMITS_BATCH_SIGNALS_MAX 256
/* A whole SignalRequest as received (inflated if compressed): far above
 * the largest valid one, which unknown fields may still pad. */
#define LIMITS_REQUEST_BYTES_MAX 65536
/* Largest encoded Signal: every field at its maximum width. */
#define LIMITS_SIGNAL_ENCODED_MAX                                              \
	(1 + 10 + 1 + 1 + LIMITS_SYMBOL_MAX + 1 + 1 + 1 + 8 + 1 + 8 + 1 + 10 + \
	 1 + 1 + LIMITS_STRATEGY_MAX)

/* The characters a symbol or strategy name may hold: [A-Za-z0-9._:/-]. */
bool limits_name_char_ok(char c);

/*
 * Checks one name of `len` bytes against 1..max bytes of the allowed set.
 * `field` names it in the message (e.g. "symbols[3]").
 * Returns 0, or -EINVAL with `err` filled.
 */
int limits_check_name(const char *field, const char *name, size_t len, size_t max,
		      char *err, size_t err_cap);

int limits_check_symbol(const char *field, const char *name, size_t len, char *err,
			size_t err_cap);
int limits_check_strategy(const char *field, const char *name, size_t len, char *err,
			  size_t err_cap);
/* min_strength in [0, 1], NaN rejected. */
int limits_check_min_strength(double v, char *err, size_t err_cap);
/* 0 (off) or LIMITS_HEARTBEAT_MS_MIN..LIMITS_HEARTBEAT_MS_MAX. */
int limits_check_heartbeat_ms(uint64_t v, char *err, size_t err_cap);
/* 0 (off) or 1..LIMITS_LINGER_MS_MAX. */
int limits_check_linger_ms(uint64_t v, char *err, size_t err_cap);
int limits_check_count(const char *field, size_t n, size_t max, char *err, size_t err_cap);

#endif
