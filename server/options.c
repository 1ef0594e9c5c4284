#include "server/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/limits.h"
#include "server/ring.h"
#include "sigstream_version.h"

enum {
	OPT_LISTEN = 256,
	OPT_RATE,
	OPT_RING,
	OPT_PRODUCERS,
	OPT_SYMBOLS,
	OPT_SEED,
	OPT_THREADS,
	OPT_MAX_STREAMS,
	OPT_GRACE,
	OPT_TICK_US,
	OPT_MAX_CONN_AGE,
	OPT_KEEPALIVE,
	OPT_LOG_LEVEL,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_opts[] = {
	{"listen", required_argument, NULL, OPT_LISTEN},
	{"rate", required_argument, NULL, OPT_RATE},
	{"ring", required_argument, NULL, OPT_RING},
	{"producers", required_argument, NULL, OPT_PRODUCERS},
	{"symbols", required_argument, NULL, OPT_SYMBOLS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"threads", required_argument, NULL, OPT_THREADS},
	{"max-streams", required_argument, NULL, OPT_MAX_STREAMS},
	{"grace", required_argument, NULL, OPT_GRACE},
	{"tick-us", required_argument, NULL, OPT_TICK_US},
	{"max-connection-age", required_argument, NULL, OPT_MAX_CONN_AGE},
	{"keepalive", required_argument, NULL, OPT_KEEPALIVE},
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

static const char usage_text[] =
	"Usage: sigstreamd [OPTION]...\n"
	"Streams trading signals over gRPC (signals.v1.SignalService).\n"
	"\n"
	"  --listen ADDR          address to listen on (default 0.0.0.0:50051; port 0 picks one)\n"
	"  --rate N               signals per second over all producers, 0 = as fast as\n"
	"                         possible (default 5000)\n"
	"  --ring N               signals retained for replay, a power of two in\n"
	"                         16..16777216 (default 65536)\n"
	"  --producers N          producer threads, 1..64 (default 2)\n"
	"  --symbols N|LIST       N numbered symbols SYM0000.. (1..100000), or a comma list\n"
	"                         of names (default 100)\n"
	"  --seed N               seed of the simulated market (default 1)\n"
	"  --threads N            gRPC poller threads, 1..64 (default: CPU count)\n"
	"  --max-streams N        concurrent streams before RESOURCE_EXHAUSTED (default 10000)\n"
	"  --grace SECONDS        on SIGTERM, time given to streams to end (default 10)\n"
	"  --tick-us N            producer publish tick in microseconds, 100..100000 (default 1000)\n"
	"  --max-connection-age SECONDS\n"
	"                         close connections after this long so clients rebalance\n"
	"                         across replicas; 0 = never (default 1800)\n"
	"  --keepalive SECONDS    ping idle connections this often, 10..7200 (default 60)\n"
	"  --log-level LEVEL      debug, info, warn or error (default info)\n"
	"  --help                 this text\n"
	"  --version              the version\n"
	"\n"
	"Every option can also be set by environment: SIGSTREAM_LISTEN, SIGSTREAM_RATE,\n"
	"SIGSTREAM_MAX_STREAMS, ... (flags win).\n"
	"Exit status: 0 after a clean shutdown, 1 on a runtime error, 2 on a bad option.\n";

static int bad(FILE *err, const char *src, const char *name, const char *value, const char *why)
{
	fprintf(err, "sigstreamd: %s%s: invalid value '%s': %s\n", src, name, value, why);
	return -EINVAL;
}

static int parse_u64(FILE *err, const char *src, const char *name, const char *v, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	char why[96];

	if (config_parse_u64(v, min, max, out) == 0)
		return 0;
	snprintf(why, sizeof(why), "expected an integer in %llu..%llu", (unsigned long long)min,
		 (unsigned long long)max);
	return bad(err, src, name, v, why);
}

static void free_list(struct options *o)
{
	if (o->symbol_list == NULL)
		return;
	free(o->symbol_list[0]); /* one buffer holds every name */
	free(o->symbol_list);
	o->symbol_list = NULL;
}

static int parse_symbols(struct options *o, FILE *err, const char *src, const char *v)
{
	char **items = NULL, *copy = NULL;
	char msg[128];
	int n;

	if (v[0] >= '0' && v[0] <= '9' && strspn(v, "0123456789") == strlen(v)) {
		free_list(o);
		return parse_u64(err, src, "", v, 1, OPTIONS_SYMBOLS_MAX, &o->n_symbols);
	}
	copy = strdup(v);
	items = calloc(OPTIONS_SYMBOLS_MAX + 1, sizeof(*items));
	if (copy == NULL || items == NULL)
		goto nomem;
	n = config_split_list(copy, items, OPTIONS_SYMBOLS_MAX);
	if (n <= 0) {
		bad(err, src, "", v, "expected a count or a comma-separated list of names");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		if (limits_check_symbol(items[i], items[i], strlen(items[i]), msg, sizeof(msg)) < 0) {
			bad(err, src, "", v, msg);
			goto fail;
		}
		for (int j = 0; j < i; j++) {
			if (strcmp(items[i], items[j]) == 0) {
				bad(err, src, "", v, "a symbol is listed twice");
				goto fail;
			}
		}
	}
	items[n] = NULL;
	free_list(o);
	o->symbol_list = items;
	o->n_symbols = (uint64_t)n;
	return 0;
nomem:
	fprintf(err, "sigstreamd: out of memory\n");
fail:
	free(copy);
	free(items);
	return -EINVAL;
}

/* Applies one option value; `src` names where it came from in messages
 * ("--max-streams" or "SIGSTREAM_MAX_STREAMS"). */
static int apply(struct options *o, int id, const char *v, const char *src, FILE *err)
{
	const char *name = "";

	switch (id) {
	case OPT_LISTEN:
		if (v[0] == '\0' || strlen(v) >= sizeof(o->listen) || strchr(v, ':') == NULL)
			return bad(err, src, name, v, "expected HOST:PORT");
		strcpy(o->listen, v);
		return 0;
	case OPT_RATE:
		return parse_u64(err, src, name, v, 0, 100000000, &o->rate);
	case OPT_RING:
		if (parse_u64(err, src, name, v, RING_CAPACITY_MIN, RING_CAPACITY_MAX, &o->ring) < 0)
			return -EINVAL;
		if ((o->ring & (o->ring - 1)) != 0)
			return bad(err, src, name, v, "expected a power of two");
		return 0;
	case OPT_PRODUCERS:
		return parse_u64(err, src, name, v, 1, 64, &o->producers);
	case OPT_SYMBOLS:
		return parse_symbols(o, err, src, v);
	case OPT_SEED:
		return parse_u64(err, src, name, v, 0, UINT64_MAX, &o->seed);
	case OPT_THREADS:
		return parse_u64(err, src, name, v, 1, 64, &o->threads);
	case OPT_MAX_STREAMS:
		return parse_u64(err, src, name, v, 1, 1000000, &o->max_streams);
	case OPT_GRACE:
		return parse_u64(err, src, name, v, 0, 3600, &o->grace_s);
	case OPT_TICK_US:
		return parse_u64(err, src, name, v, 100, 100000, &o->tick_us);
	case OPT_MAX_CONN_AGE:
		return parse_u64(err, src, name, v, 0, 30 * 86400, &o->max_connection_age_s);
	case OPT_KEEPALIVE:
		return parse_u64(err, src, name, v, 10, 7200, &o->keepalive_s);
	case OPT_LOG_LEVEL:
		if (log_level_parse(v, &o->log_level) < 0)
			return bad(err, src, name, v, "expected debug, info, warn or error");
		return 0;
	default:
		return -EINVAL;
	}
}

uint64_t options_default_threads(long cpus)
{
	if (cpus <= 1)
		return 1;
	return cpus > 64 ? 64 : (uint64_t)cpus;
}

static void set_defaults(struct options *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->listen, "0.0.0.0:50051");
	o->rate = 5000;
	o->ring = 65536;
	o->producers = 2;
	o->n_symbols = 100;
	o->seed = 1;
	o->threads = options_default_threads(sysconf(_SC_NPROCESSORS_ONLN));
	o->max_streams = 10000;
	o->grace_s = 10;
	o->tick_us = 1000;
	o->max_connection_age_s = 1800;
	o->keepalive_s = 60;
	o->log_level = LOG_INFO;
}

enum options_result options_parse(struct options *o, int argc, char **argv, FILE *out,
				  FILE *err)
{
	char src[64];
	int c;

	set_defaults(o);
	for (int id = OPT_LISTEN; id < OPT_HELP; id++) {
		const char *name = long_opts[id - OPT_LISTEN].name;
		const char *v = config_env(name);
		size_t k;

		if (v == NULL)
			continue;
		/* The variable's name, for the message: SIGSTREAM_MAX_STREAMS. */
		k = (size_t)snprintf(src, sizeof(src), "SIGSTREAM_");
		for (const char *p = name; *p != '\0' && k < sizeof(src) - 2; p++)
			src[k++] = *p == '-' ? '_' : (char)(*p - 'a' + 'A');
		src[k] = '\0';
		if (apply(o, id, v, src, err) < 0)
			goto usage;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_HELP:
			fputs(usage_text, out);
			options_finish(o);
			return OPTIONS_EXIT;
		case OPT_VERSION:
			fprintf(out, "sigstreamd %s\n", SIGSTREAM_VERSION);
			options_finish(o);
			return OPTIONS_EXIT;
		case '?':
			if (optopt >= OPT_LISTEN)
				fprintf(err, "sigstreamd: option '%s' needs a value\n", argv[optind - 1]);
			else
				fprintf(err, "sigstreamd: unknown option '%s'\n", argv[optind - 1]);
			goto usage;
		default:
			snprintf(src, sizeof(src), "--%s", long_opts[c - OPT_LISTEN].name);
			if (apply(o, c, optarg, src, err) < 0)
				goto usage;
		}
	}
	if (optind < argc) {
		fprintf(err, "sigstreamd: unexpected argument '%s'\n", argv[optind]);
		goto usage;
	}
	return OPTIONS_RUN;
usage:
	fprintf(err, "Try 'sigstreamd --help'.\n");
	options_finish(o);
	return OPTIONS_USAGE;
}

void options_finish(struct options *o)
{
	free_list(o);
}
