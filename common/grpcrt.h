/*
 * grpcrt — the process-wide gRPC runtime set-up shared by the server, the
 * CLI and the load generator (the one gRPC helper outside server/ and
 * client/): gRPC's own diagnostics routed through common/log in its line
 * format, Debian abseil's mutex deadlock detection switched off where the
 * build found its switch (see meson.build), then grpc_init().
 */
#ifndef SIGSTREAM_GRPCRT_H
#define SIGSTREAM_GRPCRT_H

/* Call before creating any gRPC object, with signals already masked as the
 * caller wants them in gRPC's threads. Pairs with grpcrt_shutdown(). */
void grpcrt_init(void);
void grpcrt_shutdown(void);
/* The gRPC core version string, for startup logs. */
const char *grpcrt_version(void);

#endif
