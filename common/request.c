#include "common/request.h"

#include <stdio.h>
#include <string.h>

#include "common/limits.h"

int request_validate(const Signals__V1__SignalRequest *req, char *err, size_t err_cap)
{
	char field[40];
	int rc;

	rc = limits_check_count("symbols", req->n_symbols, LIMITS_REQUEST_SYMBOLS_MAX, err,
				err_cap);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < req->n_symbols; i++) {
		snprintf(field, sizeof(field), "symbols[%zu]", i);
		rc = limits_check_symbol(field, req->symbols[i], strlen(req->symbols[i]), err,
					 err_cap);
		if (rc < 0)
			return rc;
	}
	rc = limits_check_count("strategies", req->n_strategies, LIMITS_REQUEST_STRATEGIES_MAX,
				err, err_cap);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < req->n_strategies; i++) {
		snprintf(field, sizeof(field), "strategies[%zu]", i);
		rc = limits_check_strategy(field, req->strategies[i], strlen(req->strategies[i]),
					   err, err_cap);
		if (rc < 0)
			return rc;
	}
	rc = limits_check_min_strength(req->min_strength, err, err_cap);
	if (rc < 0)
		return rc;
	return limits_check_heartbeat_ms(req->heartbeat_ms, err, err_cap);
}
