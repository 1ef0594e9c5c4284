/*
 * rpc — everything the client does with gRPC, and the only file that
 * includes <grpc/...>: the channel and its completion queue, one streaming
 * call at a time (StreamSignals or StreamSignalBatches), its initial
 * metadata (the server's sigstream-epoch), each received message read out of
 * its grpc_byte_buffer and decoded with nanopb into one fixed buffer, the
 * final status, and cancellation. A gRPC upgrade touches this file alone.
 *
 * Single-threaded: the caller drives everything through rpc_next().
 */
#ifndef SIGSTREAM_CLIENT_RPC_H
#define SIGSTREAM_CLIENT_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "signals/v1/signal.pb.h"

#define RPC_EPOCH_MAX 64
#define RPC_DETAILS_MAX 512

/* The canonical status codes: numbers fixed by the gRPC protocol itself. */
enum rpc_code {
	RPC_OK = 0,
	RPC_CANCELLED = 1,
	RPC_UNKNOWN = 2,
	RPC_INVALID_ARGUMENT = 3,
	RPC_DEADLINE_EXCEEDED = 4,
	RPC_NOT_FOUND = 5,
	RPC_ALREADY_EXISTS = 6,
	RPC_PERMISSION_DENIED = 7,
	RPC_RESOURCE_EXHAUSTED = 8,
	RPC_FAILED_PRECONDITION = 9,
	RPC_ABORTED = 10,
	RPC_OUT_OF_RANGE = 11,
	RPC_UNIMPLEMENTED = 12,
	RPC_INTERNAL = 13,
	RPC_UNAVAILABLE = 14,
	RPC_DATA_LOSS = 15,
	RPC_UNAUTHENTICATED = 16,
};

enum rpc_method {
	RPC_STREAM_SIGNALS,        /* one Signal per message */
	RPC_STREAM_SIGNAL_BATCHES, /* one SignalBatch per message */
};

enum rpc_event_type {
	RPC_EVENT_TIMEOUT,  /* the deadline passed with nothing to report */
	RPC_EVENT_METADATA, /* the server's initial metadata arrived */
	RPC_EVENT_MESSAGE,  /* one message: a Signal, or a batch of them */
	RPC_EVENT_END,      /* the call is over (every operation completed) */
};

struct rpc_event {
	enum rpc_event_type type;
	/* METADATA: the sigstream-epoch value, NULL when the server sent none. */
	const char *epoch;
	/* MESSAGE: valid until the next rpc_next(). */
	const signals_v1_Signal *signals;
	size_t nsignals;
	/* END: the status and the server's message (RPC_DETAILS_MAX - 1 bytes at most). */
	enum rpc_code code;
	const char *details;
};

struct rpc;

/* Channel to `target` ("host:port"; any gRPC target name). 0 or -errno. */
int rpc_open(struct rpc **out, const char *target);
/* Cancels a call still in flight, waits for it to end, frees everything. */
void rpc_close(struct rpc *r);

/*
 * Replaces the channel, between calls: the next call makes a new connection
 * attempt at once instead of inheriting a failed one (see rpc.c).
 */
int rpc_reconnect(struct rpc *r);

/* Starts a call; -EBUSY when one is already in flight. */
int rpc_start(struct rpc *r, enum rpc_method method, const signals_v1_SignalRequest *req);
/*
 * Waits until something happens on the call or CLOCK_MONOTONIC reaches
 * `deadline_ns` (timeutil_monotonic_ns(); a past deadline only polls).
 * Returns 0 with `ev` filled, -EPROTO when a message could not be decoded
 * (ev->details says why; the call has been cancelled and still ends with an
 * END event), or -EIO when gRPC misbehaves.
 */
int rpc_next(struct rpc *r, int64_t deadline_ns, struct rpc_event *ev);
/* Asks the call in flight, if any, to end; it still ends with an END event. */
void rpc_cancel(struct rpc *r);

/* "UNAVAILABLE", ... */
const char *rpc_code_name(enum rpc_code code);

#endif
