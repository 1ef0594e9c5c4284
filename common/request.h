/*
 * request — validation of a decoded signals.v1.SignalRequest (protobuf-c
 * types, the server's side of the contract) against common/limits.h.
 */
#ifndef SIGSTREAM_REQUEST_H
#define SIGSTREAM_REQUEST_H

#include <stddef.h>

#include "signals/v1/signal.pb-c.h"

/*
 * Returns 0 when every field is within its limit, else -EINVAL with `err`
 * naming the first offending field and its limit.
 */
int request_validate(const Signals__V1__SignalRequest *req, char *err, size_t err_cap);

#endif
