/*
 * rpc_internal — what the server's gRPC files (rpc.c and the rpc_*.c
 * services beside it) share, and nothing else includes: the completion-queue
 * tag convention and the handle a service needs to register its methods and
 * take calls. Keeping it private keeps every grpc_* type out of the rest of
 * the server.
 */
#ifndef SIGSTREAM_RPC_INTERNAL_H
#define SIGSTREAM_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <grpc/grpc.h>

/*
 * Every tag handed to the completion queue is a struct rpc_tag embedded in
 * its owner; a poller calls done() with the completion's success bit, and
 * the handler finds its owner with RPC_OWNER().
 */
struct rpc_tag {
	void (*done)(struct rpc_tag *tag, bool ok);
};

#define RPC_OWNER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* The server a service lives in: methods are registered before start. */
struct rpc_host {
	grpc_server *server;
	grpc_completion_queue *cq;
};

/* Answers `call` with a status and no message, then releases the call. */
void rpc_finish_call(grpc_call *call, grpc_status_code code, const char *msg);

#endif
