/*
 * rpc_internal — what the server's gRPC files (rpc.c and the rpc_*.c
 * services beside it) share, and nothing else includes: the completion-queue
 * tag convention, the handle a service needs to register its methods and
 * take calls, and the few batches every service starts on a call. Keeping it
 * private keeps every grpc_* type out of the rest of the server.
 */
#ifndef SIGSTREAM_RPC_INTERNAL_H
#define SIGSTREAM_RPC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "server/deadline.h"

/*
 * Every tag handed to the completion queue is a struct rpc_tag embedded in
 * its owner; a poller calls done() with the completion's success bit, and
 * the handler finds its owner with RPC_OWNER().
 */
struct rpc_tag {
	void (*done)(struct rpc_tag *tag, bool ok);
};

#define RPC_OWNER(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/*
 * Where a service lives: one core server per shard, and the completion
 * queue of that shard, on which the server announces its calls and to which
 * it binds them (their completions go there). The server gives each
 * connection to one shard (rpc.c), so every call of a connection completes
 * on one queue and is driven by one poller thread. Methods are registered
 * with every shard before start. The arrays belong to the caller and
 * outlive the methods. `deadlines` ends the calls whose deadline passes
 * (struct rpc_deadline).
 */
struct rpc_host {
	grpc_server *const *servers;
	grpc_completion_queue *const *cqs;
	unsigned n_shards;
	struct deadline *deadlines;
};

#define RPC_METHOD_SLOTS_MAX 8

struct rpc_method;

/*
 * One grpc_server_request_registered_call kept armed for a method on one
 * shard, private to rpc_internal.c: on each accepted call it re-arms first
 * (the next caller is not kept waiting), then hands the call to its
 * method's on_call(). A failed completion means the server is stopping:
 * the slot stays idle.
 */
struct rpc_accept {
	struct rpc_method *m;
	unsigned shard;
	struct rpc_tag tag;
	grpc_call *call;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *first;
};

/*
 * A registered method of a service and the calls kept armed for it. The
 * owner sets the public fields, registers it before the server starts and
 * starts it after. on_call() owns the call; `payload` is the first message
 * when the method reads it at accept (else NULL, as when the client sent
 * none), destroyed once on_call() returns. `deadline` is the client's (see
 * struct rpc_deadline): a handler that keeps the call past its own return
 * arms it.
 */
struct rpc_method {
	const char *path;
	bool payload;      /* read the first message at accept */
	unsigned n_slots;  /* calls kept armed per shard, 1..RPC_METHOD_SLOTS_MAX */
	void (*on_call)(struct rpc_method *m, grpc_call *call, grpc_byte_buffer *payload,
			gpr_timespec deadline);
	void *ctx;         /* the owner's */
	int kind;          /* the owner's: which of its methods this is */
	/* private to rpc_internal.c */
	struct rpc_host host;
	void **handles;            /* per shard */
	struct rpc_accept *slots;  /* n_slots per shard */
};

/* Registers m->path with every shard's server: 0, -EINVAL when n_slots is
 * outside 1..RPC_METHOD_SLOTS_MAX, -ENOMEM, or -EEXIST when the core
 * refuses the path (registered twice). Before grpc_server_start(). On
 * failure nothing is left to finish. */
int rpc_method_register(struct rpc_method *m, const struct rpc_host *host);
/* Arms its n_slots calls on every shard. After grpc_server_start(). */
void rpc_method_start(struct rpc_method *m);
/* Frees what register took: once the queues are drained (no slot is armed),
 * or when the server never started. Safe on a zeroed, unregistered method. */
void rpc_method_finish(struct rpc_method *m);

/*
 * The batches every service starts, one call each: each returns what
 * grpc_call_start_batch() did, and `tag` completes on the call's queue.
 */
/* Initial metadata (`md`, `n_md` entries) and the close watch, which
 * completes when the call is over, whoever ends it. */
grpc_call_error rpc_call_open(grpc_call *call, grpc_metadata *md, size_t n_md, int *cancelled,
			      struct rpc_tag *tag);
/* One message; the caller keeps `bb` until the tag completes. */
grpc_call_error rpc_call_send(grpc_call *call, grpc_byte_buffer *bb, uint32_t flags,
			      struct rpc_tag *tag);
grpc_call_error rpc_call_recv(grpc_call *call, grpc_byte_buffer **bb, struct rpc_tag *tag);
/* The final status; `msg` is copied. */
grpc_call_error rpc_call_status(grpc_call *call, grpc_status_code code, const char *msg,
				struct rpc_tag *tag);

/* Answers `call` with a status and no message, then releases the call. */
void rpc_finish_call(grpc_call *call, grpc_status_code code, const char *msg);

/*
 * A call's deadline, kept by the server: the core's deadline filter is left
 * out of the stack (rpc_server_create), so a call that outlives its
 * handler's return carries one of these. Embedded in the call's owner:
 * armed once the owner holds the call for good, disarmed before it releases
 * the call. When the deadline passes, the call is cancelled with
 * DEADLINE_EXCEEDED, as the filter did; the owner sees its close complete.
 */
struct rpc_deadline {
	struct deadline_entry entry;
	struct deadline *timer;
	grpc_call *call;
	bool fired; /* under the timer's lock; read after disarm */
};

/* Arms `dl` for `call` with the deadline on_call() got (infinite: nothing to
 * keep, but disarm stays valid). */
void rpc_deadline_arm(struct rpc_deadline *dl, const struct rpc_method *m, grpc_call *call,
		      gpr_timespec deadline);
/* Disarms `dl`: afterwards the timer never touches the call. Returns true
 * when the deadline had passed and cancelled the call. */
bool rpc_deadline_disarm(struct rpc_deadline *dl);
/* The timer's fire callback, for deadline_create(). */
void rpc_deadline_fire(void *ctx, struct deadline_entry *e);

#endif
