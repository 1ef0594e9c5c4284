/*
 * session — one subscription that stays connected without losing anything,
 * shared by the subscribe and stats commands: it sends the request built
 * from the flags, hands every signal to the command (heartbeats only move
 * the resume point), and decides what every end of a call means:
 *   - UNAVAILABLE, RESOURCE_EXHAUSTED, a dropped connection, a silent one:
 *     reconnect with backoff, resuming after the last sequence seen;
 *   - a new sigstream-epoch (the server restarted, sequences restarted):
 *     start over at the new epoch's first retained signal;
 *   - OUT_OF_RANGE: report the lost range, then go on or fail (--on-gap);
 *   - anything else: the right exit code (cli.h) with the server's message.
 * Also owns the clock of the run: --duration, the once-a-second tick, and
 * the stop request from a signal handler.
 */
#ifndef SIGSTREAM_CLIENT_SESSION_H
#define SIGSTREAM_CLIENT_SESSION_H

#include <signal.h>
#include <stdint.h>

#include "client/cli.h"
#include "signals/v1/signal.pb.h"

/* What a hook returns: go on, stop cleanly (exit 0), or a negative errno (exit 1). */
#define SESSION_CONTINUE 0
#define SESSION_STOP 1

/*
 * Maps the result of writing to stdout to a handler's return: 0 goes on,
 * -EPIPE (the reader went away, `| head`) is a normal end, anything else is
 * logged and returned as the error.
 */
int session_write_result(int rc);

struct session_counters {
	uint64_t signals;    /* handed to on_signal */
	uint64_t heartbeats;
	uint64_t gaps;       /* lost ranges reported */
	uint64_t lost;       /* sequences in those ranges */
	uint64_t reconnects; /* streams re-established after one was lost */
	uint64_t restarts;   /* server restarts seen (epoch changes) */
};

struct session_hooks {
	/* A signal, in sequence order, never twice. */
	int (*on_signal)(void *ctx, const signals_v1_Signal *s);
	/* Nothing more is waiting to be read: the moment to flush output. */
	int (*on_idle)(void *ctx);
	/* About once a second (absolute ticks, no drift), connected or not. */
	int (*on_tick)(void *ctx, int64_t now_ns, const struct session_counters *c);
	void *ctx;
	/* Set (to non-zero) by the SIGINT/SIGTERM handler. */
	const volatile sig_atomic_t *stop;
};

/* Runs until done; returns an exit code (enum cli_exit). */
int session_run(const struct cli_options *o, const struct session_hooks *h,
		struct session_counters *counters);

#endif
