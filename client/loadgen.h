/*
 * loadgen — the many-stream gRPC engine of the `sigbench` load generator,
 * and its only file that includes <grpc/...>: N StreamSignals (or
 * StreamSignalBatches) calls over M channels, each channel its own
 * connection, driven by worker threads with one completion queue each.
 *
 * It is built to cost far less per message than the server it measures:
 * one RECV_MESSAGE in flight per call, the next one started from the
 * completion of the last; each message scanned in place, in its slices,
 * for the three fields a benchmark needs (sequence, symbol empty or not,
 * timestamp_ns) by a small protobuf varint scanner instead of a full
 * decode; no allocation of its own per message.
 *
 * What it measures, per run: deliveries (signals; heartbeats excluded) and
 * messages within the measured window, end-to-end latency (CLOCK_REALTIME
 * now minus timestamp_ns) into a client/histogram, sequence gaps, the
 * streams that ended before the run did (by status), and the process's own
 * CPU time over the window.
 */
#ifndef SIGSTREAM_CLIENT_LOADGEN_H
#define SIGSTREAM_CLIENT_LOADGEN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "client/histogram.h"
#include "common/limits.h"

/* The 17 canonical gRPC status codes, then LOADGEN_CODE_DECODE. */
#define LOADGEN_CODE_DECODE 17
#define LOADGEN_CODES 18
#define LOADGEN_DETAILS_MAX 160

/* What each stream asks for. */
enum loadgen_filter {
	/* Every signal. Sequences must then be consecutive: anything else is a gap. */
	LOADGEN_FILTER_ALL,
	/* Stream i: symbols = [SYM%04u of i % nsymbols], the server's default names. */
	LOADGEN_FILTER_ONE_SYMBOL,
	/* Every symbol, min_strength = config.min_strength. */
	LOADGEN_FILTER_MIN_STRENGTH,
	/* Every stream: symbols = [config.symbol] (e.g. one that never fires, to hold streams open). */
	LOADGEN_FILTER_SYMBOL,
};

struct loadgen_config {
	const char *target;  /* "host:port", any gRPC target name */
	unsigned streams;    /* >= 1 */
	unsigned conns;      /* channels, each its own connection; >= 1 */
	unsigned threads;    /* workers, one completion queue each; >= 1 */
	bool batches;        /* StreamSignalBatches instead of StreamSignals */
	uint32_t linger_ms;  /* the batches' linger_ms: 0..LIMITS_LINGER_MS_MAX */
	enum loadgen_filter filter;
	unsigned nsymbols;   /* ONE_SYMBOL: 1..10000 */
	double min_strength; /* MIN_STRENGTH */
	const char *symbol;  /* SYMBOL: a valid symbol name */
	int64_t warmup_ns;   /* streams run this long before the window opens */
	int64_t duration_ns; /* the measured window; > 0 */
	uint64_t sample;     /* record the latency of every sample-th delivery; >= 1 */
	/* Optional: when it turns non-zero the run ends early (within ~100 ms). */
	const volatile sig_atomic_t *stop;
};

struct loadgen_result {
	/* Within the measured window. */
	uint64_t deliveries; /* signals, heartbeats excluded */
	uint64_t messages;   /* gRPC messages (one per signal, or one per batch) */
	struct histogram latency; /* ns, every sample-th delivery */
	double window_s;     /* the window's length (shorter when stopped early) */
	/* Over the whole run: each stream's wait from starting its call to its
	 * first message (a signal or a heartbeat), ns. */
	struct histogram first;
	double cpu_s;        /* this process's utime + stime over the window */
	/* Over the whole run. */
	uint64_t heartbeats;
	uint64_t gaps;       /* see loadgen.c: checked on every stream */
	uint64_t started;    /* calls started */
	/* Streams that ended before the run did, whatever the status (even OK). */
	uint64_t errors;
	/* ...of which had delivered at least one message: cut off mid-stream. */
	uint64_t cut;
	uint64_t errors_by_code[LOADGEN_CODES];
	/* One status message per code, for the report. */
	char error_details[LOADGEN_CODES][LOADGEN_DETAILS_MAX];
};

/*
 * Runs the load: starts every stream at once, measures from warmup_ns
 * after the start for duration_ns, then cancels everything and waits for
 * it to end. `res` is large (~60 KB): keep it off small stacks.
 * Returns 0 (stream failures are results, not errors), -EINVAL for a bad
 * config, -ENOMEM, or -EIO when gRPC cannot be set up.
 */
int loadgen_run(const struct loadgen_config *cfg, struct loadgen_result *res);

/* "OK", ..., "UNAUTHENTICATED", "DECODE_ERROR" (a message we could not scan). */
const char *loadgen_code_name(unsigned code);

#endif
