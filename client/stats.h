/*
 * stats — the `sigstream stats` command: the session's signals measured
 * instead of printed. End-to-end latency is now (CLOCK_REALTIME) minus the
 * signal's timestamp_ns, kept in log-linear histograms (client/histogram):
 * one for the current second, merged each second into one for the whole
 * run. Once a second a dashboard line on stdout; at the end a summary.
 */
#ifndef SIGSTREAM_CLIENT_STATS_H
#define SIGSTREAM_CLIENT_STATS_H

#include <signal.h>

#include "client/cli.h"

/* Returns an exit code (enum cli_exit). */
int stats_run(const struct cli_options *o, const volatile sig_atomic_t *stop);

#endif
