/*
 * request — the server's side of a signals.v1.SignalRequest: decoding the
 * wire bytes with protobuf-c and validating every field against
 * common/limits.h, with messages that name the field and the limit.
 */
#ifndef SIGSTREAM_REQUEST_H
#define SIGSTREAM_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "signals/v1/signal.pb-c.h"

/*
 * Returns 0 when every field is within its limit, else -EINVAL with `err`
 * naming the first offending field and its limit.
 */
int request_validate(const Signals__V1__SignalRequest *req, char *err, size_t err_cap);

/*
 * Decodes and validates the wire bytes of a request. Returns 0 with *out
 * (free it with signals__v1__signal_request__free_unpacked), or -EINVAL with
 * `err` saying why. Names are checked at their length on the wire: decoded
 * strings end at their first NUL, so "AB\0C" would otherwise pass as "AB".
 */
int request_decode(const uint8_t *buf, size_t len, Signals__V1__SignalRequest **out, char *err,
		   size_t err_cap);

#endif
