#include "client/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/histogram.h"
#include "client/output.h"
#include "client/session.h"
#include "common/log.h"
#include "common/timeutil.h"

#define LINE_MAX_LEN 512

struct stats {
	const struct cli_options *o;
	uint64_t seen;              /* for --count */
	uint64_t interval_signals;  /* since the last tick */
	int64_t interval_start;     /* monotonic */
	int64_t run_start;          /* monotonic */
	struct histogram interval;  /* latencies of the current second, ns */
	struct histogram run;       /* latencies of every earlier second, ns */
	struct output out;
};

/* One line straight out: once a second is no rate to buffer for. */
static int print_line(struct stats *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int print_line(struct stats *st, const char *fmt, ...)
{
	va_list ap;
	char *space;
	int n, rc;

	rc = output_reserve(&st->out, LINE_MAX_LEN, &space);
	if (rc < 0)
		return session_write_result(rc);
	va_start(ap, fmt);
	n = vsnprintf(space, LINE_MAX_LEN, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	output_commit(&st->out, (size_t)n < LINE_MAX_LEN ? (size_t)n : LINE_MAX_LEN - 1);
	return session_write_result(output_flush(&st->out));
}

static double ms(uint64_t ns)
{
	return (double)ns / (double)TIMEUTIL_NS_PER_MS;
}

static int on_signal(void *ctx, const signals_v1_Signal *s)
{
	struct stats *st = ctx;
	int64_t latency = timeutil_realtime_ns() - s->timestamp_ns;

	/* Clocks a little apart can make it negative: that is "no measurable delay". */
	histogram_record(&st->interval, latency > 0 ? (uint64_t)latency : 0);
	st->interval_signals++;
	if (st->o->count != 0 && ++st->seen >= st->o->count)
		return SESSION_STOP;
	return SESSION_CONTINUE;
}

static int on_tick(void *ctx, int64_t now_ns, const struct session_counters *c)
{
	struct stats *st = ctx;
	double secs = (double)(now_ns - st->interval_start) / (double)TIMEUTIL_NS_PER_SEC;
	const struct histogram *h = &st->interval;
	char when[32];
	char latency[128];
	int rc;

	if (timeutil_format_rfc3339(timeutil_realtime_ns(), when, sizeof(when)) < 0)
		snprintf(when, sizeof(when), "-");
	if (h->total > 0)
		snprintf(latency, sizeof(latency), "p50 %.3f p99 %.3f max %.3f",
			 ms(histogram_percentile(h, 50)), ms(histogram_percentile(h, 99)), ms(h->max));
	else
		snprintf(latency, sizeof(latency), "p50 - p99 - max -");
	rc = print_line(st,
			"%s  signals/s %.0f  latency_ms %s  gaps %" PRIu64 "  reconnects %" PRIu64
			"\n",
			when, secs > 0 ? (double)st->interval_signals / secs : 0.0, latency, c->gaps,
			c->reconnects);
	histogram_merge(&st->run, &st->interval);
	histogram_reset(&st->interval);
	st->interval_signals = 0;
	st->interval_start = now_ns;
	return rc;
}

static int print_summary(struct stats *st, const struct session_counters *c)
{
	double secs = (double)(timeutil_monotonic_ns() - st->run_start) / (double)TIMEUTIL_NS_PER_SEC;
	const struct histogram *h = &st->run;
	char latency[192];

	histogram_merge(&st->run, &st->interval);
	histogram_reset(&st->interval);
	if (h->total > 0)
		snprintf(latency, sizeof(latency), "p50 %.3f p90 %.3f p99 %.3f p999 %.3f max %.3f",
			 ms(histogram_percentile(h, 50)), ms(histogram_percentile(h, 90)),
			 ms(histogram_percentile(h, 99)), ms(histogram_percentile(h, 99.9)), ms(h->max));
	else
		snprintf(latency, sizeof(latency), "p50 - p90 - p99 - p999 - max -");
	return print_line(st,
			  "summary  signals %" PRIu64 "  seconds %.1f  signals/s %.1f  latency_ms %s"
			  "  gaps %" PRIu64 "  lost %" PRIu64 "  reconnects %" PRIu64
			  "  restarts %" PRIu64 "\n",
			  c->signals, secs, secs > 0 ? (double)c->signals / secs : 0.0, latency,
			  c->gaps, c->lost, c->reconnects, c->restarts);
}

int stats_run(const struct cli_options *o, const volatile sig_atomic_t *stop)
{
	/* Static: two ~60 KB histograms and a 64 KiB buffer stay off the stack. */
	static struct stats st;
	struct session_hooks hooks = {
		.on_signal = on_signal,
		.on_tick = on_tick,
		.ctx = &st,
		.stop = stop,
	};
	struct session_counters counters;
	int code, rc;

	st.o = o;
	st.run_start = st.interval_start = timeutil_monotonic_ns();
	histogram_reset(&st.interval);
	histogram_reset(&st.run);
	output_init(&st.out, STDOUT_FILENO);
	code = session_run(o, &hooks, &counters);
	rc = print_summary(&st, &counters);
	if (rc < 0 && code == CLI_EXIT_OK)
		code = CLI_EXIT_ERROR;
	return code;
}
