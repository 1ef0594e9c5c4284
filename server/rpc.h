/*
 * rpc — everything sigstreamd does with the gRPC C core (the only server
 * file besides its siblings named rpc_* that may call grpc_*): the server
 * and its channel arguments, the connections the listener accepts (handed
 * to the core by descriptor, each to one poller's core server), the poller
 * threads (one completion queue and one core server each; only the first
 * polls sockets),
 * accepting StreamSignals / StreamSignalBatches calls, answering unknown
 * methods, and each stream's send loop over the shared ring.
 *
 * A stream's life: accepted with its request -> validated -> initial
 * metadata (sigstream-epoch) -> a loop on poller threads: read matching
 * signals from the ring, one SEND_MESSAGE in flight, the next started from
 * that send's completion, GRPC_WRITE_BUFFER_HINT on every message of a
 * backlog except the last; when caught up it parks in the parking index and
 * is woken by an empty batch (so the send runs on a poller thread, never on
 * a producer); the connection's writes are held from that wake until each
 * woken stream has started its last (un-hinted) send, so a tick leaves as
 * one TCP send (conn.h). It ends with
 * a status: RESOURCE_EXHAUSTED when the ring overtakes it, UNAVAILABLE on
 * shutdown, or the client's cancel.
 */
#ifndef SIGSTREAM_RPC_H
#define SIGSTREAM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/parking.h"
#include "server/ring.h"
#include "server/symtab.h"

struct rpc_config {
	const char *listen;
	unsigned threads;
	uint64_t max_streams;
	uint64_t max_connection_age_s; /* 0 = unlimited */
	uint64_t keepalive_s;
	struct ring *ring;
	const struct symtab *symtab;
	struct parking *parking;
	const char *epoch;             /* sigstream-epoch value; must outlive the server */
	/*
	 * The longest a batch stream may hold its signals back (linger_ms):
	 * what the producers take to publish a full batch, so that a waiting
	 * stream never lets a whole batch pile up. 0: batch streams never
	 * linger (unpaced producers fill a batch at once).
	 */
	int64_t linger_max_ns;
};

struct rpc_server;

/*
 * Creates the server and binds cfg->listen. On failure returns NULL with a
 * message in `err` (e.g. the address is in use). *port gets the bound port.
 */
struct rpc_server *rpc_server_create(const struct rpc_config *cfg, int *port, char *err,
				     size_t err_cap);
/*
 * Has `fn` told when the server goes from no signal stream to one (true)
 * and from one to none (false), so the producers can idle while nobody is
 * subscribed. Call before rpc_server_start() (the server starts with none);
 * NULL unregisters.
 * `fn` runs under the server's stream lock, in order: it must not block or
 * call back into the server.
 */
void rpc_server_watch_subscribers(struct rpc_server *srv, void (*fn)(void *ctx, bool any),
				  void *ctx);
/* Starts accepting and the poller threads. Returns 0 or a negative errno. */
int rpc_server_start(struct rpc_server *srv);
/*
 * A hub_wake_fn, for the streams a publish unparked: `ctx` is the
 * rpc_server. Lingering batch streams start their wait; the rest wake.
 */
void rpc_wake_published(void *ctx, struct parking_waiter *list);
/*
 * Stops accepting, ends every stream with UNAVAILABLE and its resume point,
 * waits up to `grace_ns` for them to finish, cancels the rest, then sends
 * the GOAWAY and waits for the connections to close (what is left of the
 * grace, at least 1 s) before it disconnects them and stops the pollers.
 * Idempotent.
 */
void rpc_server_shutdown(struct rpc_server *srv, int64_t grace_ns);
void rpc_server_destroy(struct rpc_server *srv);

#endif
