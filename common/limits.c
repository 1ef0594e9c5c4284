#include "common/limits.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

bool limits_name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
}

int limits_check_name(const char *field, const char *name, size_t len, size_t max,
		      char *err, size_t err_cap)
{
	if (len == 0 || len > max) {
		snprintf(err, err_cap, "%s: length %zu outside 1..%zu bytes", field, len, max);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!limits_name_char_ok(name[i])) {
			snprintf(err, err_cap,
				 "%s: byte %zu (0x%02x) outside [A-Za-z0-9._:/-]", field, i,
				 (unsigned)(unsigned char)name[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int limits_check_symbol(const char *field, const char *name, size_t len, char *err,
			size_t err_cap)
{
	return limits_check_name(field, name, len, LIMITS_SYMBOL_MAX, err, err_cap);
}

int limits_check_strategy(const char *field, const char *name, size_t len, char *err,
			  size_t err_cap)
{
	return limits_check_name(field, name, len, LIMITS_STRATEGY_MAX, err, err_cap);
}

int limits_check_min_strength(double v, char *err, size_t err_cap)
{
	/* Written so that NaN fails: every comparison with NaN is false. */
	if (!(v >= 0.0 && v <= 1.0)) {
		snprintf(err, err_cap, "min_strength: %g outside [0, 1]", v);
		return -EINVAL;
	}
	return 0;
}

int limits_check_heartbeat_ms(uint64_t v, char *err, size_t err_cap)
{
	if (v != 0 && (v < LIMITS_HEARTBEAT_MS_MIN || v > LIMITS_HEARTBEAT_MS_MAX)) {
		snprintf(err, err_cap, "heartbeat_ms: %llu is neither 0 (off) nor in %d..%d",
			 (unsigned long long)v, LIMITS_HEARTBEAT_MS_MIN, LIMITS_HEARTBEAT_MS_MAX);
		return -EINVAL;
	}
	return 0;
}

int limits_check_linger_ms(uint64_t v, char *err, size_t err_cap)
{
	if (v > LIMITS_LINGER_MS_MAX) {
		snprintf(err, err_cap, "linger_ms: %llu is neither 0 (off) nor in 1..%d",
			 (unsigned long long)v, LIMITS_LINGER_MS_MAX);
		return -EINVAL;
	}
	return 0;
}

int limits_check_count(const char *field, size_t n, size_t max, char *err, size_t err_cap)
{
	if (n > max) {
		snprintf(err, err_cap, "%s: %zu entries, at most %zu allowed", field, n, max);
		return -EINVAL;
	}
	return 0;
}
