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

/*
 * One grpc_server_request_registered_call kept armed for a method. On each
 * accepted call it re-arms first (the next caller is not kept waiting),
 * then hands the call, and its first message when the method was registered
 * with GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, to on_call(), which owns
 * the call; the message is destroyed once on_call() returns. A failed
 * completion means the server is stopping: the slot then stays idle.
 * Owners embed it and find themselves with RPC_OWNER().
 */
struct rpc_accept {
	grpc_server *server;
	grpc_completion_queue *cq;
	void *method;     /* from grpc_server_register_method() */
	const char *path; /* for logs */
	bool payload;     /* the method reads its first message at accept */
	void (*on_call)(struct rpc_accept *a, grpc_call *call, grpc_byte_buffer *payload);
	/* the pending request, private to rpc_accept.c */
	struct rpc_tag tag;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *first;
};

/* Arms `a`, whose public fields are set. */
void rpc_accept_arm(struct rpc_accept *a);

/* Answers `call` with a status and no message, then releases the call. */
void rpc_finish_call(grpc_call *call, grpc_status_code code, const char *msg);

#endif
