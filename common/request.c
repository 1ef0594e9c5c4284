#include "common/request.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/limits.h"
#include "common/wire.h"

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
	rc = limits_check_heartbeat_ms(req->heartbeat_ms, err, err_cap);
	if (rc < 0)
		return rc;
	return limits_check_linger_ms(req->linger_ms, err, err_cap);
}

/*
 * Walks the top-level fields and checks each symbols / strategies value that
 * holds a NUL byte at its full wire length, so limits_check_name() reports
 * that byte. Stops quietly at anything malformed: protobuf-c rejects it next.
 */
static int check_wire_names(const uint8_t *buf, size_t len, char *err, size_t err_cap)
{
	/* Field numbers from the generated descriptor, not written again here. */
	const ProtobufCMessageDescriptor *desc = &signals__v1__signal_request__descriptor;
	const uint64_t f_symbols =
		protobuf_c_message_descriptor_get_field_by_name(desc, "symbols")->id;
	const uint64_t f_strategies =
		protobuf_c_message_descriptor_get_field_by_name(desc, "strategies")->id;
	const uint8_t *p = buf, *end = buf + len;
	size_t n_symbols = 0, n_strategies = 0;
	char field[40];
	uint64_t key;

	while (p < end && wire_varint(&p, end, &key)) {
		const uint8_t *body;
		size_t n;
		bool sym = key >> 3 == f_symbols;

		if ((key & 7) != 2 || (!sym && key >> 3 != f_strategies)) {
			if (!wire_skip(&p, end, (unsigned)(key & 7)))
				return 0;
			continue;
		}
		if (!wire_bytes(&p, end, &body, &n))
			return 0;
		if (memchr(body, 0, n) != NULL) {
			snprintf(field, sizeof(field), "%s[%zu]", sym ? "symbols" : "strategies",
				 sym ? n_symbols : n_strategies);
			return limits_check_name(field, (const char *)body, n,
						 sym ? LIMITS_SYMBOL_MAX : LIMITS_STRATEGY_MAX, err,
						 err_cap);
		}
		if (sym)
			n_symbols++;
		else
			n_strategies++;
	}
	return 0;
}

int request_decode(const uint8_t *buf, size_t len, Signals__V1__SignalRequest **out, char *err,
		   size_t err_cap)
{
	Signals__V1__SignalRequest *req;
	int rc;

	*out = NULL;
	req = signals__v1__signal_request__unpack(NULL, len, buf);
	if (req == NULL) {
		snprintf(err, err_cap,
			 "request: not a valid signals.v1.SignalRequest (protobuf decoding failed)");
		return -EINVAL;
	}
	rc = check_wire_names(buf, len, err, err_cap);
	if (rc == 0)
		rc = request_validate(req, err, err_cap);
	if (rc < 0) {
		signals__v1__signal_request__free_unpacked(req, NULL);
		return rc;
	}
	*out = req;
	return 0;
}
