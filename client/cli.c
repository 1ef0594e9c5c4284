#include "client/cli.h"

#include <errno.h>
#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/timeutil.h"

/* Longest --duration / --retry-for: keeps seconds * 1e9 far inside int64_t. */
#define MAX_SECONDS 1e9

#define EXIT_CODES                                                                         \
	"Exit status:\n"                                                                   \
	"  0  done: --count or --duration reached, Ctrl-C or SIGTERM, or stdout closed\n" \
	"  1  a local error (gRPC setup, writing stdout)\n"                              \
	"  2  usage: an unknown command or flag, or a bad value (checked before\n"       \
	"     connecting)\n"                                                               \
	"  3  the server rejected the request (INVALID_ARGUMENT; its message is on\n"    \
	"     stderr)\n"                                                                   \
	"  4  signals were lost (no longer retained by the server) and --on-gap=fail\n"  \
	"  5  no connection to the server for --retry-for seconds\n"                     \
	"  6  the server ended the stream with another final status (UNIMPLEMENTED,\n"   \
	"     PERMISSION_DENIED, NOT_FOUND, ...)\n"                                        \
	"  7  a message from the server could not be decoded\n"                          \
	"  130 a second Ctrl-C while the first one is being handled\n"

#define COMMON_FLAGS                                                                      \
	"Connection:\n"                                                                   \
	"  --server HOST:PORT    server address (default $SIGSTREAM_SERVER, else\n"      \
	"                        " CLI_DEFAULT_SERVER ")\n"                              \
	"  --retry-for SECONDS   give up (exit 5) after this long with no connection\n"   \
	"                        (default 30; 0: never retry)\n"                          \
	"  --heartbeat MS        ask the server for a heartbeat after MS ms of silence:\n" \
	"                        0 (off, default) or 100-60000. Heartbeats are never\n"   \
	"                        printed; they move the resume point of a filtered\n"     \
	"                        stream, and silence longer than 2*MS+1000 ms is then\n"  \
	"                        taken for a dead connection\n"                           \
	"  --batches             use StreamSignalBatches (many signals per message)\n"    \
	"  --linger MS           with --batches: let the server hold a signal up to MS\n" \
	"                        ms (1-1000; default 0, none) to pack fuller batches\n"  \
	"  --log-level LEVEL     stderr detail: debug, info (default), warn, error\n"     \
	"                        (also $SIGSTREAM_LOG_LEVEL)\n"                           \
	"Filter and position:\n"                                                          \
	"  --symbols A,B,...     only these symbols (at most 64; 1-15 bytes of\n"        \
	"                        [A-Za-z0-9._:/-] each)\n"                                \
	"  --strategies X,Y,...  only these strategies (at most 16; 1-31 bytes each)\n"   \
	"  --min-strength F      only signals with strength >= F, F in [0, 1]\n"          \
	"  --from SEQ            start with the retained signals from sequence SEQ\n"     \
	"                        (default 0: live, from the next signal)\n"               \
	"  --on-gap continue|fail\n"                                                      \
	"                        when the server no longer retains where the stream\n"    \
	"                        has to resume: report the lost range on stderr and go\n" \
	"                        on from the oldest retained (continue, default), or\n"   \
	"                        exit 4 (fail)\n"                                         \
	"  --count N             stop after N signals\n"                                  \
	"  --duration SECONDS    stop after SECONDS (decimals allowed)\n"

#define STAYING_CONNECTED                                                                 \
	"On UNAVAILABLE, RESOURCE_EXHAUSTED or a lost connection the stream reconnects\n" \
	"(backoff 100 ms doubling to 5 s, full jitter) and resumes after the last\n"     \
	"sequence it saw, so nothing is skipped silently: reconnects, server restarts\n"  \
	"(a new sigstream-epoch) and lost ranges are reported on stderr.\n"

static const char help_main[] =
	"Usage: sigstream COMMAND [OPTIONS]\n"
	"\n"
	"Client of sigstreamd (signals.v1.SignalService): streams trading signals.\n"
	"\n"
	"Commands:\n"
	"  subscribe   print every matching signal on stdout, one line each\n"
	"  stats       once a second: signal rate, end-to-end latency, gaps, reconnects\n"
	"\n"
	"Options:\n"
	"  -h, --help  this help; `sigstream COMMAND --help` for a command's flags\n"
	"  --version   print the version\n"
	"\n"
	"Environment:\n"
	"  SIGSTREAM_SERVER     default for --server (" CLI_DEFAULT_SERVER ")\n"
	"  SIGSTREAM_LOG_LEVEL  default for --log-level (info)\n"
	"\n" EXIT_CODES;

static const char help_subscribe[] =
	"Usage: sigstream subscribe [OPTIONS]\n"
	"\n"
	"Prints every matching signal on stdout, one line each.\n" STAYING_CONNECTED "\n"
	"Output:\n"
	"  --format text|json|csv\n"
	"                        text (default): aligned columns: sequence, time (RFC 3339,\n"
	"                        ms), symbol, side, strength, price, strategy;\n"
	"                        json: JSON Lines with the proto field names;\n"
	"                        csv: RFC 4180 with a header line\n"
	"\n" COMMON_FLAGS "\n" EXIT_CODES;

static const char help_stats[] =
	"Usage: sigstream stats [OPTIONS]\n"
	"\n"
	"Once a second, one line on stdout: signals/s, end-to-end latency (now minus\n"
	"the signal's timestamp_ns; p50, p99, max in ms), gaps and reconnects. At the\n"
	"end (--count, --duration, Ctrl-C) a summary with p50/p90/p99/p99.9/max.\n"
	"Latency compares two clocks: meaningful with client and server on one host.\n" STAYING_CONNECTED
	"\n" COMMON_FLAGS "\n" EXIT_CODES;

enum flag_id {
	FLAG_SERVER,
	FLAG_SYMBOLS,
	FLAG_STRATEGIES,
	FLAG_MIN_STRENGTH,
	FLAG_FROM,
	FLAG_COUNT,
	FLAG_DURATION,
	FLAG_FORMAT,
	FLAG_HEARTBEAT,
	FLAG_RETRY_FOR,
	FLAG_ON_GAP,
	FLAG_BATCHES,
	FLAG_LINGER,
	FLAG_LOG_LEVEL,
};

#define FOR_SUBSCRIBE (1u << CLI_SUBSCRIBE)
#define FOR_STATS (1u << CLI_STATS)
#define FOR_BOTH (FOR_SUBSCRIBE | FOR_STATS)

static const struct flag {
	const char *name;
	enum flag_id id;
	unsigned commands;
	bool has_value;
} flags[] = {
	{"server", FLAG_SERVER, FOR_BOTH, true},
	{"symbols", FLAG_SYMBOLS, FOR_BOTH, true},
	{"strategies", FLAG_STRATEGIES, FOR_BOTH, true},
	{"min-strength", FLAG_MIN_STRENGTH, FOR_BOTH, true},
	{"from", FLAG_FROM, FOR_BOTH, true},
	{"count", FLAG_COUNT, FOR_BOTH, true},
	{"duration", FLAG_DURATION, FOR_BOTH, true},
	{"format", FLAG_FORMAT, FOR_SUBSCRIBE, true},
	{"heartbeat", FLAG_HEARTBEAT, FOR_BOTH, true},
	{"retry-for", FLAG_RETRY_FOR, FOR_BOTH, true},
	{"on-gap", FLAG_ON_GAP, FOR_BOTH, true},
	{"batches", FLAG_BATCHES, FOR_BOTH, false},
	{"linger", FLAG_LINGER, FOR_BOTH, true},
	{"log-level", FLAG_LOG_LEVEL, FOR_BOTH, true},
};

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* `what` names where the value came from: "--count" or "SIGSTREAM_LOG_LEVEL". */
static int parse_seconds(const char *what, const char *text, int64_t *out, char *err,
			 size_t cap)
{
	double v;
	int rc = config_parse_double(text, 0, MAX_SECONDS, &v);

	if (rc == -EINVAL)
		return fail(err, cap, "%s: \"%s\" is not a number of seconds", what, text);
	if (rc < 0)
		return fail(err, cap, "%s: %s outside 0..%.0f seconds", what, text, MAX_SECONDS);
	*out = (int64_t)(v * (double)TIMEUTIL_NS_PER_SEC);
	return 0;
}

static int parse_u64(const char *what, const char *text, uint64_t min, uint64_t max,
		     uint64_t *out, char *err, size_t cap)
{
	int rc = config_parse_u64(text, min, max, out);

	if (rc == -EINVAL)
		return fail(err, cap, "%s: \"%s\" is not a whole number", what, text);
	if (rc < 0 && max == UINT64_MAX)
		return fail(err, cap, "%s: %s is not at least %llu", what, text,
			    (unsigned long long)min);
	if (rc < 0)
		return fail(err, cap, "%s: %s is outside %llu..%llu", what, text,
			    (unsigned long long)min, (unsigned long long)max);
	return 0;
}

/* Splits and checks a name list with the contract's limits, so the server never has to reject it. */
static int parse_names(const char *what, char *text, char **items, size_t max, size_t *n,
		       bool symbols, char *err, size_t cap)
{
	const char *field = symbols ? "symbols" : "strategies";
	char why[160];
	char item[32];
	int count = config_split_list(text, items, max);

	if (count == -E2BIG)
		return fail(err, cap, "%s: more than %zu names (the server accepts at most %zu)",
			    what, max, max);
	if (count < 0)
		return fail(err, cap, "%s: empty name in the list", what);
	if (count == 0)
		return fail(err, cap, "%s: needs at least one name", what);
	for (int i = 0; i < count; i++) {
		size_t len = strlen(items[i]);
		int rc;

		snprintf(item, sizeof(item), "%s[%d]", field, i);
		rc = symbols ? limits_check_symbol(item, items[i], len, why, sizeof(why))
			     : limits_check_strategy(item, items[i], len, why, sizeof(why));
		if (rc < 0)
			return fail(err, cap, "%s: \"%s\": %s", what, items[i], why);
	}
	*n = (size_t)count;
	return 0;
}

static int apply(struct cli_options *o, const struct flag *f, char *value, char *err, size_t cap)
{
	char what[32];
	char why[160];
	uint64_t u;
	int rc;

	snprintf(what, sizeof(what), "--%s", f->name);
	switch (f->id) {
	case FLAG_SERVER:
		if (value[0] == '\0')
			return fail(err, cap, "--server: empty address (HOST:PORT)");
		o->server = value;
		return 0;
	case FLAG_SYMBOLS:
		return parse_names(what, value, o->symbols, LIMITS_REQUEST_SYMBOLS_MAX,
				   &o->nsymbols, true, err, cap);
	case FLAG_STRATEGIES:
		return parse_names(what, value, o->strategies, LIMITS_REQUEST_STRATEGIES_MAX,
				   &o->nstrategies, false, err, cap);
	case FLAG_MIN_STRENGTH:
		/* Parsed unbounded so that the range is the contract's check, not a copy of it. */
		if (config_parse_double(value, -DBL_MAX, DBL_MAX, &o->min_strength) < 0)
			return fail(err, cap, "--min-strength: \"%s\" is not a number", value);
		if (limits_check_min_strength(o->min_strength, why, sizeof(why)) < 0)
			return fail(err, cap, "--min-strength: %s is outside [0, 1]", value);
		return 0;
	case FLAG_FROM:
		return parse_u64(what, value, 0, UINT64_MAX, &o->from_sequence, err, cap);
	case FLAG_COUNT:
		return parse_u64(what, value, 1, UINT64_MAX, &o->count, err, cap);
	case FLAG_DURATION:
		rc = parse_seconds(what, value, &o->duration_ns, err, cap);
		if (rc == 0 && o->duration_ns <= 0)
			return fail(err, cap, "--duration: must be more than 0 seconds");
		return rc;
	case FLAG_RETRY_FOR:
		return parse_seconds(what, value, &o->retry_for_ns, err, cap);
	case FLAG_FORMAT:
		if (format_parse(value, &o->format) < 0)
			return fail(err, cap, "--format: \"%s\" is not one of text, json, csv", value);
		return 0;
	case FLAG_HEARTBEAT:
		rc = parse_u64(what, value, 0, UINT32_MAX, &u, err, cap);
		if (rc < 0)
			return rc;
		if (limits_check_heartbeat_ms(u, why, sizeof(why)) < 0)
			return fail(err, cap, "--heartbeat: %s", why);
		o->heartbeat_ms = (uint32_t)u;
		return 0;
	case FLAG_ON_GAP:
		if (strcmp(value, "continue") == 0)
			o->gap_fail = false;
		else if (strcmp(value, "fail") == 0)
			o->gap_fail = true;
		else
			return fail(err, cap, "--on-gap: \"%s\" is not one of continue, fail", value);
		return 0;
	case FLAG_BATCHES:
		o->batches = true;
		return 0;
	case FLAG_LINGER:
		rc = parse_u64(what, value, 0, UINT32_MAX, &u, err, cap);
		if (rc < 0)
			return rc;
		if (limits_check_linger_ms(u, why, sizeof(why)) < 0)
			return fail(err, cap, "--linger: %s", why);
		o->linger_ms = (uint32_t)u;
		return 0;
	case FLAG_LOG_LEVEL:
		if (log_level_parse(value, &o->log_level) < 0)
			return fail(err, cap, "--log-level: \"%s\" is not one of debug, info, warn, error",
				    value);
		return 0;
	}
	return fail(err, cap, "%s: not handled", what);
}

static const struct flag *find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
			return &flags[i];
	}
	return NULL;
}

static void set_defaults(struct cli_options *o)
{
	memset(o, 0, sizeof(*o));
	o->server = CLI_DEFAULT_SERVER;
	o->retry_for_ns = CLI_DEFAULT_RETRY_FOR_S * TIMEUTIL_NS_PER_SEC;
	o->format = FORMAT_TEXT;
	o->log_level = LOG_INFO;
}

/* The environment fills in what the command line left out: flags win. */
static int apply_env(struct cli_options *o, bool server_set, bool level_set, char *err,
		     size_t cap)
{
	const char *v;

	if (!server_set && (v = config_env("server")) != NULL)
		o->server = v;
	if (!level_set && (v = config_env("log-level")) != NULL &&
	    log_level_parse(v, &o->log_level) < 0)
		return fail(err, cap, "SIGSTREAM_LOG_LEVEL: \"%s\" is not one of debug, info, warn, error",
			    v);
	return 0;
}

int cli_parse(int argc, char **argv, struct cli_options *o, char *err, size_t err_cap)
{
	bool server_set = false, level_set = false;
	const char *cmd;
	int rc;

	set_defaults(o);
	if (argc < 2)
		return fail(err, err_cap, "missing command (subscribe or stats)");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		if (argc > 2 && strcmp(argv[2], "subscribe") == 0)
			o->command = CLI_SUBSCRIBE;
		else if (argc > 2 && strcmp(argv[2], "stats") == 0)
			o->command = CLI_STATS;
		return CLI_PARSE_HELP;
	}
	if (strcmp(cmd, "--version") == 0)
		return CLI_PARSE_VERSION;
	if (strcmp(cmd, "subscribe") == 0)
		o->command = CLI_SUBSCRIBE;
	else if (strcmp(cmd, "stats") == 0)
		o->command = CLI_STATS;
	else if (cmd[0] == '-')
		return fail(err, err_cap, "%s: expected a command (subscribe or stats) first", cmd);
	else
		return fail(err, err_cap, "unknown command \"%s\" (subscribe or stats)", cmd);

	for (int i = 2; i < argc; i++) {
		char *arg = argv[i];
		char *name, *eq, *value;
		const struct flag *f;
		size_t len;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return CLI_PARSE_HELP;
		if (strncmp(arg, "--", 2) != 0)
			return fail(err, err_cap, "unexpected argument \"%s\"", arg);
		name = arg + 2;
		eq = strchr(name, '=');
		len = eq != NULL ? (size_t)(eq - name) : strlen(name);
		f = find_flag(name, len);
		if (f == NULL)
			return fail(err, err_cap, "unknown flag --%.*s", (int)len, name);
		if ((f->commands & (1u << o->command)) == 0)
			return fail(err, err_cap, "--%s is not a flag of %s", f->name, cmd);
		if (!f->has_value) {
			if (eq != NULL)
				return fail(err, err_cap, "--%s takes no value", f->name);
			value = NULL;
		} else if (eq != NULL) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			return fail(err, err_cap, "--%s needs a value", f->name);
		}
		rc = apply(o, f, value, err, err_cap);
		if (rc < 0)
			return rc;
		server_set |= f->id == FLAG_SERVER;
		level_set |= f->id == FLAG_LOG_LEVEL;
	}
	if (o->linger_ms != 0 && !o->batches)
		return fail(err, err_cap, "--linger: needs --batches (StreamSignals sends each "
					  "signal at once)");
	rc = apply_env(o, server_set, level_set, err, err_cap);
	if (rc < 0)
		return rc;
	return CLI_PARSE_RUN;
}

const char *cli_help(enum cli_command command)
{
	switch (command) {
	case CLI_SUBSCRIBE:
		return help_subscribe;
	case CLI_STATS:
		return help_stats;
	case CLI_NONE:
		break;
	}
	return help_main;
}

const char *cli_command_name(enum cli_command command)
{
	switch (command) {
	case CLI_SUBSCRIBE:
		return "subscribe";
	case CLI_STATS:
		return "stats";
	case CLI_NONE:
		break;
	}
	return "";
}
