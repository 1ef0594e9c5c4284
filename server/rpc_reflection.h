/*
 * rpc_reflection — gRPC server reflection on the C core, which has none of
 * its own: grpc.reflection.v1.ServerReflection and the older
 * grpc.reflection.v1alpha one (which older grpcurl, grpcui and Postman
 * speak), both bidirectional streams answering requests in order.
 *
 * It owns the index over the descriptor set that the build embeds into the
 * binary (signal.proto plus the health and reflection protos, with their
 * imports), the two methods' accept slots, and every open reflection
 * stream. Files are answered with the FileDescriptorProto bytes exactly as
 * protoc wrote them, each with its transitive dependencies.
 */
#ifndef SIGSTREAM_RPC_REFLECTION_H
#define SIGSTREAM_RPC_REFLECTION_H

struct rpc_host;
struct rpc_reflection;

/*
 * Indexes the embedded descriptor set and registers both methods on
 * host->server; call before grpc_server_start. Returns NULL with errno set
 * on failure (EINVAL: the embedded set is unusable, which the log details).
 */
struct rpc_reflection *rpc_reflection_create(const struct rpc_host *host);
/* After grpc_server_start: starts accepting. */
void rpc_reflection_start(struct rpc_reflection *r);
/*
 * Ends every reflection stream with UNAVAILABLE (after the answer in flight,
 * if any) and refuses new ones, so the server's shutdown can complete.
 * Idempotent; NULL is a no-op.
 */
void rpc_reflection_shutdown(struct rpc_reflection *r);
/* After the completion queue is drained. NULL is a no-op. */
void rpc_reflection_destroy(struct rpc_reflection *r);

#endif
