/*
 * options — sigstreamd's configuration: defaults, then SIGSTREAM_* environment
 * variables, then command-line flags (flags win). Every value is checked
 * here, before anything starts; a bad one is reported naming the flag (or
 * the variable) and the caller exits 2.
 */
#ifndef SIGSTREAM_OPTIONS_H
#define SIGSTREAM_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "common/log.h"

#define OPTIONS_SYMBOLS_MAX 100000

struct options {
	char listen[256];
	uint64_t rate;              /* signals/s over the pool; 0 = unpaced */
	uint64_t ring;              /* retained signals, power of two */
	uint64_t producers;         /* producer threads */
	uint64_t n_symbols;         /* numbered symbols when `symbol_list` is empty */
	char **symbol_list;         /* --symbols A,B,C (owned) */
	uint64_t seed;
	uint64_t threads;           /* completion-queue poller threads */
	uint64_t max_streams;
	uint64_t grace_s;
	uint64_t tick_us;           /* producer tick */
	uint64_t max_connection_age_s; /* 0 = unlimited */
	uint64_t keepalive_s;       /* server pings idle connections this often */
	enum log_level log_level;
};

enum options_result {
	OPTIONS_RUN = 0,   /* start the server */
	OPTIONS_EXIT = 1,  /* --help/--version printed: exit 0 */
	OPTIONS_USAGE = 2, /* bad flag or value, reported on `err`: exit 2 */
};

enum options_result options_parse(struct options *o, int argc, char **argv, FILE *out,
				  FILE *err);
/* Frees what options_parse() allocated. */
void options_finish(struct options *o);

/*
 * The default poller thread count with `cpus` online CPUs: one per CPU
 * (1..64). Fewer is cheaper per delivery while the fan-out fits in fewer
 * cores (a stream's wake and its send's completion then stay on one
 * thread: on 2 CPUs one poller cost 14-22% less CPU per delivery than
 * two), but a fan-out that needs more than a core falls behind: 1000
 * filtered streams at 100k deliveries/s reached p99 5 s with one poller,
 * 50 ms with two. --threads trades one for the other.
 */
uint64_t options_default_threads(long cpus);

#endif
