/*
 * sigbench — the load generator of the benchmarks (tools/bench): opens many
 * StreamSignals or StreamSignalBatches streams against any server of the
 * signals.v1 contract, measures a window after a warm-up, and prints one
 * summary line in goref-load's format (plus sigbench's own fields), or one
 * JSON object with --json. This file is the command (flags, report); the
 * gRPC engine is client/loadgen.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/histogram.h"
#include "client/loadgen.h"
#include "common/config.h"
#include "common/log.h"
#include "common/stopsig.h"
#include "common/timeutil.h"

#define EXIT_USAGE 2

static const char usage[] =
	"Usage: sigbench [OPTION]...\n"
	"Opens many signal streams against a signals.v1 server and measures them.\n"
	"\n"
	"  --server HOST:PORT   server address (default 127.0.0.1:50051)\n"
	"  --streams N          concurrent streams (default 100)\n"
	"  --conns M            connections the streams are spread over (default 4)\n"
	"  --threads T          client threads, one completion queue each (default 1)\n"
	"  --batches            StreamSignalBatches instead of StreamSignals\n"
	"  --linger MS          with --batches: the streams' linger_ms, 0..1000 (default 0)\n"
	"  --filter F           what each stream asks for (default all):\n"
	"                         all           every signal (gaps are checked)\n"
	"                         one-symbol    stream i: symbol SYM%04u of i mod --symbols\n"
	"                         min-strength  min_strength --min-strength\n"
	"                         symbol:NAME   every stream: symbol NAME only\n"
	"  --symbols N          symbols of one-symbol (default 100)\n"
	"  --min-strength X     min_strength of min-strength, in [0, 1] (default 0.5)\n"
	"  --warmup S           seconds before the measured window (default 2)\n"
	"  --duration S         measured seconds (default 10)\n"
	"  --sample K           record the latency of every K-th signal (default 1)\n"
	"  --json               print one JSON object instead of the summary line\n"
	"  --log-level LEVEL    debug, info, warn or error (default warn)\n"
	"  --help               this text\n"
	"\n"
	"Summary: streams= msgs= (signals delivered in the window; heartbeats\n"
	"excluded) rate= (msgs per second) p50_us= p90_us= p99_us= p999_us= max_us=\n"
	"(now - timestamp_ns) gaps= (sequence discontinuities; filtered streams:\n"
	"sequences that do not increase) errors= (streams that ended before the run,\n"
	"by status on stderr) cut= (those of them that had received messages)\n"
	"messages= (gRPC messages) client_cpu_us_per_msg= (this process's CPU per\n"
	"signal over the window) first_msg_p50_us= first_msg_max_us= (each stream's\n"
	"wait from starting its call to its first message, over the whole run).\n"
	"Exit status: 0 when the run completed (whatever it measured), 1 when it\n"
	"could not run, 2 on a bad option.\n";

struct options {
	struct loadgen_config cfg;
	bool json;
};

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	stop_requested = sig;
}

static int parse_count(const char *flag, const char *text, uint64_t max, unsigned *out)
{
	uint64_t v;

	if (config_parse_u64(text, 1, max, &v) < 0) {
		fprintf(stderr, "sigbench: --%s: expected a whole number in 1..%" PRIu64 ", got '%s'\n",
			flag, max, text);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int parse_seconds(const char *flag, const char *text, double min, int64_t *out)
{
	double v;

	if (config_parse_double(text, min, 86400, &v) < 0) {
		fprintf(stderr, "sigbench: --%s: expected seconds in [%g, 86400], got '%s'\n", flag,
			min, text);
		return -EINVAL;
	}
	*out = (int64_t)(v * (double)TIMEUTIL_NS_PER_SEC);
	return 0;
}

static int parse_filter(const char *text, struct loadgen_config *cfg)
{
	char err[160];

	if (strcmp(text, "all") == 0) {
		cfg->filter = LOADGEN_FILTER_ALL;
	} else if (strcmp(text, "one-symbol") == 0) {
		cfg->filter = LOADGEN_FILTER_ONE_SYMBOL;
	} else if (strcmp(text, "min-strength") == 0) {
		cfg->filter = LOADGEN_FILTER_MIN_STRENGTH;
	} else if (strncmp(text, "symbol:", 7) == 0) {
		cfg->filter = LOADGEN_FILTER_SYMBOL;
		cfg->symbol = text + 7;
		if (limits_check_symbol("--filter symbol:NAME", cfg->symbol, strlen(cfg->symbol), err,
					sizeof(err)) < 0) {
			fprintf(stderr, "sigbench: %s\n", err);
			return -EINVAL;
		}
	} else {
		fprintf(stderr,
			"sigbench: --filter: expected all, one-symbol, min-strength or symbol:NAME, "
			"got '%s'\n",
			text);
		return -EINVAL;
	}
	return 0;
}

/* Returns 0 to run, 1 after --help, or -EINVAL. */
static int parse_args(int argc, char **argv, struct options *o)
{
	enum {
		OPT_SERVER = 256, OPT_STREAMS, OPT_CONNS, OPT_THREADS, OPT_BATCHES, OPT_LINGER, OPT_FILTER,
		OPT_SYMBOLS, OPT_MIN_STRENGTH, OPT_WARMUP, OPT_DURATION, OPT_SAMPLE, OPT_JSON,
		OPT_LOG_LEVEL, OPT_HELP,
	};
	static const struct option longopts[] = {
		{"server", required_argument, NULL, OPT_SERVER},
		{"streams", required_argument, NULL, OPT_STREAMS},
		{"conns", required_argument, NULL, OPT_CONNS},
		{"threads", required_argument, NULL, OPT_THREADS},
		{"batches", no_argument, NULL, OPT_BATCHES},
		{"linger", required_argument, NULL, OPT_LINGER},
		{"filter", required_argument, NULL, OPT_FILTER},
		{"symbols", required_argument, NULL, OPT_SYMBOLS},
		{"min-strength", required_argument, NULL, OPT_MIN_STRENGTH},
		{"warmup", required_argument, NULL, OPT_WARMUP},
		{"duration", required_argument, NULL, OPT_DURATION},
		{"sample", required_argument, NULL, OPT_SAMPLE},
		{"json", no_argument, NULL, OPT_JSON},
		{"log-level", required_argument, NULL, OPT_LOG_LEVEL},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct loadgen_config *cfg = &o->cfg;
	enum log_level level = LOG_WARN;
	uint64_t sample, u;
	char err[160];
	int opt, rc = 0;

	memset(o, 0, sizeof(*o));
	cfg->target = "127.0.0.1:50051";
	cfg->streams = 100;
	cfg->conns = 4;
	cfg->threads = 1;
	cfg->filter = LOADGEN_FILTER_ALL;
	cfg->nsymbols = 100;
	cfg->min_strength = 0.5;
	cfg->warmup_ns = 2 * TIMEUTIL_NS_PER_SEC;
	cfg->duration_ns = 10 * TIMEUTIL_NS_PER_SEC;
	cfg->sample = 1;
	cfg->stop = &stop_requested;

	opterr = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SERVER:
			cfg->target = optarg;
			if (optarg[0] == '\0') {
				fprintf(stderr, "sigbench: --server: empty address (HOST:PORT)\n");
				rc = -EINVAL;
			}
			break;
		case OPT_STREAMS:
			rc = parse_count("streams", optarg, 1000000, &cfg->streams);
			break;
		case OPT_CONNS:
			rc = parse_count("conns", optarg, 10000, &cfg->conns);
			break;
		case OPT_THREADS:
			rc = parse_count("threads", optarg, 64, &cfg->threads);
			break;
		case OPT_BATCHES:
			cfg->batches = true;
			break;
		case OPT_LINGER:
			if (config_parse_u64(optarg, 0, UINT32_MAX, &u) < 0 ||
			    limits_check_linger_ms(u, err, sizeof(err)) < 0) {
				fprintf(stderr, "sigbench: --linger: expected 0..%d, got '%s'\n",
					LIMITS_LINGER_MS_MAX, optarg);
				rc = -EINVAL;
			}
			cfg->linger_ms = (uint32_t)u;
			break;
		case OPT_FILTER:
			rc = parse_filter(optarg, cfg);
			break;
		case OPT_SYMBOLS:
			rc = parse_count("symbols", optarg, 100000, &cfg->nsymbols);
			break;
		case OPT_MIN_STRENGTH:
			if (config_parse_double(optarg, 0, 1, &cfg->min_strength) < 0 ||
			    limits_check_min_strength(cfg->min_strength, err, sizeof(err)) < 0) {
				fprintf(stderr, "sigbench: --min-strength: expected a number in [0, 1], "
						"got '%s'\n", optarg);
				rc = -EINVAL;
			}
			break;
		case OPT_WARMUP:
			rc = parse_seconds("warmup", optarg, 0, &cfg->warmup_ns);
			break;
		case OPT_DURATION:
			rc = parse_seconds("duration", optarg, 0.001, &cfg->duration_ns);
			break;
		case OPT_SAMPLE:
			if (config_parse_u64(optarg, 1, UINT32_MAX, &sample) < 0) {
				fprintf(stderr, "sigbench: --sample: expected a whole number >= 1, got '%s'\n",
					optarg);
				rc = -EINVAL;
			}
			cfg->sample = sample;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "sigbench: --log-level: expected debug, info, warn or error, "
						"got '%s'\n", optarg);
				rc = -EINVAL;
			}
			break;
		case OPT_HELP:
			fputs(usage, stdout);
			return 1;
		default:
			fprintf(stderr, "sigbench: unknown option or missing value: '%s'\n",
				argv[optind - 1]);
			rc = -EINVAL;
		}
	}
	if (rc == 0 && optind < argc) {
		fprintf(stderr, "sigbench: unexpected argument '%s'\n", argv[optind]);
		rc = -EINVAL;
	}
	if (rc == 0 && cfg->linger_ms != 0 && !cfg->batches) {
		fprintf(stderr, "sigbench: --linger needs --batches (StreamSignals does not "
				"linger)\n");
		rc = -EINVAL;
	}
	log_set_level(level);
	return rc;
}

static const char *filter_name(const struct loadgen_config *cfg)
{
	switch (cfg->filter) {
	case LOADGEN_FILTER_ALL:
		return "all";
	case LOADGEN_FILTER_ONE_SYMBOL:
		return "one-symbol";
	case LOADGEN_FILTER_MIN_STRENGTH:
		return "min-strength";
	case LOADGEN_FILTER_SYMBOL:
		return "symbol";
	}
	return "?";
}

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

/* Writes `s` as a JSON string. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_json(const struct options *o, const struct loadgen_result *r, double rate,
		       double cpu_per_msg)
{
	const struct histogram *h = &r->latency;
	const struct loadgen_config *cfg = &o->cfg;
	bool first = true;

	printf("{\"server\":");
	json_string(stdout, cfg->target);
	printf(",\"method\":\"%s\",\"filter\":\"%s\",\"linger_ms\":%" PRIu32,
	       cfg->batches ? "StreamSignalBatches" : "StreamSignals", filter_name(cfg),
	       cfg->linger_ms);
	if (cfg->filter == LOADGEN_FILTER_SYMBOL) {
		printf(",\"symbol\":");
		json_string(stdout, cfg->symbol);
	}
	printf(",\"streams\":%u,\"conns\":%u,\"threads\":%u,\"sample\":%" PRIu64
	       ",\"window_s\":%.3f,\"msgs\":%" PRIu64 ",\"messages\":%" PRIu64
	       ",\"heartbeats\":%" PRIu64 ",\"rate\":%.1f,\"latency_samples\":%" PRIu64
	       ",\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f"
	       ",\"gaps\":%" PRIu64 ",\"started\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"cut\":%" PRIu64 ",\"first_msg_p50_us\":%.1f,\"first_msg_max_us\":%.1f"
	       ",\"client_cpu_s\":%.3f,\"client_cpu_us_per_msg\":",
	       cfg->streams, cfg->conns, cfg->threads, cfg->sample, r->window_s, r->deliveries,
	       r->messages, r->heartbeats, rate, h->total, us(histogram_percentile(h, 50)),
	       us(histogram_percentile(h, 90)), us(histogram_percentile(h, 99)),
	       us(histogram_percentile(h, 99.9)), us(h->max), r->gaps, r->started, r->errors,
	       r->cut, us(histogram_percentile(&r->first, 50)), us(r->first.max), r->cpu_s);
	if (r->deliveries > 0)
		printf("%.3f", cpu_per_msg);
	else
		printf("null");
	printf(",\"errors_by_code\":{");
	for (unsigned c = 0; c < LOADGEN_CODES; c++) {
		if (r->errors_by_code[c] == 0)
			continue;
		printf("%s\"%s\":{\"streams\":%" PRIu64 ",\"example\":", first ? "" : ",",
		       loadgen_code_name(c), r->errors_by_code[c]);
		json_string(stdout, r->error_details[c]);
		printf("}");
		first = false;
	}
	printf("}}\n");
}

static void print_summary(const struct options *o, const struct loadgen_result *r, double rate,
			  double cpu_per_msg)
{
	const struct histogram *h = &r->latency;
	char cpu[32];

	if (r->deliveries > 0)
		snprintf(cpu, sizeof(cpu), "%.3f", cpu_per_msg);
	else
		snprintf(cpu, sizeof(cpu), "-");
	printf("streams=%u msgs=%" PRIu64 " rate=%.1f/s p50_us=%.1f p90_us=%.1f p99_us=%.1f"
	       " p999_us=%.1f max_us=%.1f gaps=%" PRIu64 " errors=%" PRIu64 " cut=%" PRIu64
	       " messages=%" PRIu64 " client_cpu_us_per_msg=%s first_msg_p50_us=%.1f"
	       " first_msg_max_us=%.1f\n",
	       o->cfg.streams, r->deliveries, rate, us(histogram_percentile(h, 50)),
	       us(histogram_percentile(h, 90)), us(histogram_percentile(h, 99)),
	       us(histogram_percentile(h, 99.9)), us(h->max), r->gaps, r->errors, r->cut,
	       r->messages, cpu, us(histogram_percentile(&r->first, 50)), us(r->first.max));
}

int main(int argc, char **argv)
{
	/* Static: the result holds a ~60 KB histogram. */
	static struct loadgen_result res;
	struct options o;
	double rate, cpu_per_msg;
	int rc;

	rc = parse_args(argc, argv, &o);
	if (rc == 1)
		return fflush(stdout) == 0 ? 0 : 1;
	if (rc < 0) {
		fprintf(stderr, "Try 'sigbench --help'.\n");
		return EXIT_USAGE;
	}
	if (stopsig_install(on_stop_signal) < 0) {
		perror("sigbench: sigaction");
		return 1;
	}
	rc = loadgen_run(&o.cfg, &res);
	if (rc < 0) {
		fprintf(stderr, "sigbench: cannot run: %s\n", strerror(-rc));
		return 1;
	}

	for (unsigned c = 0; c < LOADGEN_CODES; c++)
		if (res.errors_by_code[c] > 0)
			fprintf(stderr, "sigbench: %" PRIu64 " stream(s) ended with %s, e.g. \"%s\"\n",
				res.errors_by_code[c], loadgen_code_name(c), res.error_details[c]);
	if (o.cfg.filter == LOADGEN_FILTER_ALL && res.gaps > 0)
		fprintf(stderr, "sigbench: sequence gaps seen: %" PRIu64 "\n", res.gaps);
	rate = res.window_s > 0 ? (double)res.deliveries / res.window_s : 0;
	cpu_per_msg = res.deliveries > 0 ? res.cpu_s * 1e6 / (double)res.deliveries : 0;
	if (o.json)
		print_json(&o, &res, rate, cpu_per_msg);
	else
		print_summary(&o, &res, rate, cpu_per_msg);
	return fflush(stdout) == 0 ? 0 : 1;
}
