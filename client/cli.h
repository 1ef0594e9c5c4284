/*
 * cli — the command line of `sigstream`: the commands, their flags (with the
 * SIGSTREAM_<FLAG> environment fallbacks), every check a value must pass
 * before anything connects (the contract's limits from common/limits.h), the
 * help texts, and the exit codes those texts document.
 */
#ifndef SIGSTREAM_CLIENT_CLI_H
#define SIGSTREAM_CLIENT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/format.h"
#include "common/limits.h"
#include "common/log.h"

#define CLI_DEFAULT_SERVER "127.0.0.1:50051"
#define CLI_DEFAULT_RETRY_FOR_S 30

/* What the process returns: documented in `sigstream --help`. */
enum cli_exit {
	CLI_EXIT_OK = 0,           /* --count/--duration reached, Ctrl-C, SIGTERM, pipe closed */
	CLI_EXIT_ERROR = 1,        /* a local failure (gRPC setup, writing stdout) */
	CLI_EXIT_USAGE = 2,        /* a bad command, flag or value */
	CLI_EXIT_REJECTED = 3,     /* the server answered INVALID_ARGUMENT */
	CLI_EXIT_GAP = 4,          /* signals were lost and --on-gap=fail */
	CLI_EXIT_UNREACHABLE = 5,  /* no connection within --retry-for */
	CLI_EXIT_SERVER = 6,       /* the server ended the stream with another final status */
	CLI_EXIT_PROTOCOL = 7,     /* a message from the server could not be decoded */
	CLI_EXIT_INTERRUPTED = 130 /* a second Ctrl-C while the first was being handled */
};

enum cli_command {
	CLI_NONE,
	CLI_SUBSCRIBE,
	CLI_STATS,
};

/* What cli_parse() found the user asked for. */
enum cli_parse_result {
	CLI_PARSE_RUN,
	CLI_PARSE_HELP,    /* print cli_help(options->command) on stdout, exit 0 */
	CLI_PARSE_VERSION, /* print the version, exit 0 */
};

struct cli_options {
	enum cli_command command;
	const char *server;
	/* Point into argv, split in place (argv strings are the program's to modify). */
	char *symbols[LIMITS_REQUEST_SYMBOLS_MAX];
	size_t nsymbols;
	char *strategies[LIMITS_REQUEST_STRATEGIES_MAX];
	size_t nstrategies;
	double min_strength;
	uint64_t from_sequence; /* 0: live */
	uint64_t count;         /* 0: no limit */
	int64_t duration_ns;    /* 0: no limit */
	int64_t retry_for_ns;
	uint32_t heartbeat_ms;  /* 0: off */
	enum format_kind format;
	bool gap_fail;
	bool batches;
	uint32_t linger_ms;     /* with batches; 0: off */
	enum log_level log_level;
};

/*
 * Fills `o` from argv (and the environment for what argv leaves out).
 * Returns a cli_parse_result, or -EINVAL with `err` naming the flag and what
 * is wrong with it (o->command says which help to point at).
 */
int cli_parse(int argc, char **argv, struct cli_options *o, char *err, size_t err_cap);

/* The help text of a command, or the overview for CLI_NONE. */
const char *cli_help(enum cli_command command);
/* "subscribe", "stats", or "" for CLI_NONE. */
const char *cli_command_name(enum cli_command command);

#endif
