/*
 * subscribe — the `sigstream subscribe` command: every signal the session
 * hands over, formatted (client/format) into stdout's buffer
 * (client/output), up to --count; a closed pipe ends it quietly.
 */
#ifndef SIGSTREAM_CLIENT_SUBSCRIBE_H
#define SIGSTREAM_CLIENT_SUBSCRIBE_H

#include <signal.h>

#include "client/cli.h"

/* Returns an exit code (enum cli_exit). */
int subscribe_run(const struct cli_options *o, const volatile sig_atomic_t *stop);

#endif
