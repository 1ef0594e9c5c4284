/*
 * listener — sigstreamd's listening sockets and the thread that accepts on
 * them. The server accepts its connections itself, rather than letting gRPC
 * do it, so that it knows every connection's socket (conn.h says why) and
 * hands each accepted one to gRPC (grpc_server_add_channel_from_fd).
 *
 * Addresses are HOST:PORT as gRPC takes them: a wildcard host (0.0.0.0 or
 * [::]) listens on IPv6 and IPv4 alike (one dual-stack socket, or IPv4 alone
 * where the kernel has no IPv6); a name or literal listens on every address
 * it resolves to; port 0 picks a free port, the same for all of them. No
 * SO_REUSEPORT: a second server on a busy port fails instead of sharing it.
 * No gRPC here.
 */
#ifndef SIGSTREAM_LISTENER_H
#define SIGSTREAM_LISTENER_H

#include <stddef.h>

/*
 * Called on the accept thread with a connected socket, already non-blocking,
 * close-on-exec and TCP_NODELAY, and the peer's name in gRPC's form
 * ("ipv4:127.0.0.1:40312", "ipv6:[::1]:40312"). The callee owns `fd`.
 */
typedef void (*listener_accept_fn)(void *ctx, int fd, const char *peer);

struct listener;

/*
 * Binds and listens on `addr`. Returns 0 with *out and *port set, or a
 * negative errno with a message naming the address in `err`.
 */
int listener_create(struct listener **out, const char *addr, listener_accept_fn on_accept,
		    void *ctx, int *port, char *err, size_t err_cap);
/* Starts the accept thread. Returns 0 or a negative errno. */
int listener_start(struct listener *l);
/* Stops accepting and closes the listening sockets: new connections are
 * refused from here on; accepted ones are not touched. Idempotent. */
void listener_stop(struct listener *l);
void listener_destroy(struct listener *l);

#endif
