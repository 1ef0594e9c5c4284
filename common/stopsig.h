/*
 * stopsig — how the interactive programs (the sigstream CLI, sigbench) take
 * SIGINT and SIGTERM: a handler the program supplies, with SA_RESTART (gRPC's
 * threads may receive the signal; their system calls just resume), and
 * SIGPIPE ignored, so a closed stdout shows up as EPIPE from write(2). The
 * server blocks these signals in every thread and waits for them instead.
 */
#ifndef SIGSTREAM_STOPSIG_H
#define SIGSTREAM_STOPSIG_H

/* Returns 0, or -errno from sigaction(2). */
int stopsig_install(void (*on_stop)(int sig));

#endif
