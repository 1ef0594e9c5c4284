/*
 * main — `sigstream`: reads the command line (client/cli), sets up the
 * process (signals, log level) and runs the command (client/subscribe,
 * client/stats).
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "client/cli.h"
#include "client/stats.h"
#include "client/subscribe.h"
#include "common/log.h"
#include "common/stopsig.h"
#include "sigstream_version.h"

static volatile sig_atomic_t stop_requested;

/*
 * The first SIGINT/SIGTERM asks the session to cancel its call and end
 * cleanly (it polls this flag at least every 100 ms, whichever thread ran
 * the handler); a second one, if that ever hangs, ends the process at once.
 */
static void on_stop_signal(int sig)
{
	static const char msg[] = "sigstream: interrupted again, exiting now\n";

	if (stop_requested) {
		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(CLI_EXIT_INTERRUPTED);
		_exit(CLI_EXIT_INTERRUPTED);
	}
	stop_requested = sig;
}

int main(int argc, char **argv)
{
	struct cli_options o;
	char err[512];
	int rc;

	rc = cli_parse(argc, argv, &o, err, sizeof(err));
	switch (rc) {
	case CLI_PARSE_HELP:
		fputs(cli_help(o.command), stdout);
		return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
	case CLI_PARSE_VERSION:
		printf("sigstream %s\n", SIGSTREAM_VERSION);
		return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
	case CLI_PARSE_RUN:
		break;
	default:
		fprintf(stderr, "sigstream: %s\nTry 'sigstream%s%s --help'.\n", err,
			o.command != CLI_NONE ? " " : "", cli_command_name(o.command));
		return CLI_EXIT_USAGE;
	}
	log_set_level(o.log_level);
	if (stopsig_install(on_stop_signal) < 0) {
		perror("sigstream: sigaction");
		return CLI_EXIT_ERROR;
	}
	if (o.command == CLI_STATS)
		return stats_run(&o, &stop_requested);
	return subscribe_run(&o, &stop_requested);
}
