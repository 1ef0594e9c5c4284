/*
 * Fuzz target: what sigstreamd does with the bytes of a request before any
 * stream exists (common/request.c: protobuf-c decoding, the wire-length
 * name check, validation against common/limits.h). Whatever the bytes, it
 * must answer 0 or -EINVAL with a message, never crash or leak.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Signals__V1__SignalRequest *req;
	char err[192];
	int rc;

	err[0] = '\0';
	rc = request_decode(data, size, &req, err, sizeof(err));
	if (rc == 0) {
		/* Accepted: every name is what its check said it was. */
		for (size_t i = 0; i < req->n_symbols; i++)
			if (strlen(req->symbols[i]) == 0)
				abort();
		signals__v1__signal_request__free_unpacked(req, NULL);
	} else if (rc != -EINVAL || req != NULL || err[0] == '\0') {
		abort();
	}
	return 0;
}
