/*
 * conn — what the server knows of each client connection besides gRPC's
 * view of it: its socket, its peer's name, and the write hold that makes a
 * tick's fan-out leave as one TCP send per connection.
 *
 * Why a hold: the C core writes each stream's message to the socket as soon
 * as that stream's send starts; it coalesces the messages of one stream
 * (GRPC_WRITE_BUFFER_HINT) but not those of different streams. A tick that
 * wakes 25 streams of one connection therefore cost 25 sendmsg, each a
 * loopback transmit and a wake-up of the client, where grpc-go's writer
 * flushes once. While a connection has woken streams whose bytes are not
 * yet on their way (conn_hold() for each wake, conn_release() once the
 * stream has started its last send of the wake, or has none: the caller
 * knows when the core writes, see rpc.c), its socket is corked (TCP_CORK):
 * the core's writes gather in the kernel and leave together at the last
 * release. Corking changes only when data leaves, never what leaves.
 *
 * A send that cannot complete (the client stopped reading; HTTP/2 flow
 * control holds it) must not hold its neighbours: a hold older than
 * CONN_HOLD_MAX_NS is seen at the next conn_hold() and the connection stays
 * uncorked until its count is back to zero. With no next hold (no traffic)
 * the kernel sends a corked socket's data after 200 ms anyway.
 *
 * The table maps a socket descriptor to its conn, so a call whose transport
 * gRPC names "fd:N" (connections the server accepted itself, listener.h)
 * finds its connection. A descriptor is not reused while any call on it
 * exists, so a stream's conn stays that of its own connection.
 */
#ifndef SIGSTREAM_CONN_H
#define SIGSTREAM_CONN_H

#include <stddef.h>
#include <stdint.h>

#define CONN_HOLD_MAX_NS 2000000 /* 2 ms: a tick's fan-out takes well under 1 */
#define CONN_FDS_MAX 65536       /* connections beyond this descriptor are never held */

struct conn;
struct conn_table;

/* A table for descriptors below `max_fds` (others get no conn); 0: as many
 * as RLIMIT_NOFILE allows, at most CONN_FDS_MAX. NULL on ENOMEM. */
struct conn_table *conn_table_create(size_t max_fds);
void conn_table_destroy(struct conn_table *t);
/* Records a new connection on `fd`, replacing whatever closed one held it.
 * Returns 0, -ERANGE (fd beyond the table) or -ENOMEM. */
int conn_table_add(struct conn_table *t, int fd, const char *peer);
/* The conn of `fd` with a reference taken, or NULL if unknown. */
struct conn *conn_table_get(struct conn_table *t, int fd);

void conn_unref(struct conn *c);
const char *conn_peer(const struct conn *c);
/* One more woken stream whose bytes are not on their way yet: holds writes.
 * now_ns: CLOCK_MONOTONIC, to see an overdue hold. `c` may be NULL (a
 * connection the server did not accept itself): nothing to hold. */
void conn_hold(struct conn *c, int64_t now_ns);
/* That stream's last send has started (or it had none): the last release
 * flushes.
 * NULL: nothing. */
void conn_release(struct conn *c);

#endif
