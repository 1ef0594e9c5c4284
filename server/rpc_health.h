/*
 * rpc_health — the standard gRPC health service (grpc.health.v1.Health,
 * Check and Watch) on the C core, which has none of its own. It owns the
 * serving state of "" (the whole server) and "signals.v1.SignalService",
 * its two methods' accept slots, and every open Watch call.
 *
 * Both services are SERVING from rpc_health_start() until
 * rpc_health_shutdown(), which turns them NOT_SERVING, tells every watcher,
 * and then ends the Watch calls with UNAVAILABLE so the server can stop.
 * Check answers NOT_FOUND for any other service name; Watch answers
 * SERVICE_UNKNOWN and stays open, as the protocol asks.
 */
#ifndef SIGSTREAM_RPC_HEALTH_H
#define SIGSTREAM_RPC_HEALTH_H

struct rpc_host;
struct rpc_health;

/*
 * Registers Check and Watch on host->server; call before grpc_server_start.
 * Returns NULL with errno set on failure.
 */
struct rpc_health *rpc_health_create(const struct rpc_host *host);
/* After grpc_server_start: marks the services SERVING and starts accepting. */
void rpc_health_start(struct rpc_health *h);
/*
 * Marks every service NOT_SERVING and sends that to every watcher, waiting
 * (at most a second) until each has been handed to the transport or its call
 * is gone; every Watch call then ends with UNAVAILABLE. Call it while the
 * poller threads still run, before the other streams are ended. Idempotent.
 */
void rpc_health_shutdown(struct rpc_health *h);
/* After the completion queue is drained. NULL is a no-op. */
void rpc_health_destroy(struct rpc_health *h);

#endif
