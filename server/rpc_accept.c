#include "server/rpc_internal.h"

#include <grpc/byte_buffer.h>

#include "common/log.h"

static void accept_done(struct rpc_tag *tag, bool ok)
{
	struct rpc_accept *a = RPC_OWNER(tag, struct rpc_accept, tag);
	grpc_call *call = a->call;
	grpc_byte_buffer *first = a->first;

	grpc_metadata_array_destroy(&a->md);
	if (!ok)
		return;
	rpc_accept_arm(a);
	a->on_call(a, call, first);
	if (first != NULL)
		grpc_byte_buffer_destroy(first);
}

void rpc_accept_arm(struct rpc_accept *a)
{
	grpc_call_error err;

	a->tag.done = accept_done;
	a->call = NULL;
	a->first = NULL;
	grpc_metadata_array_init(&a->md);
	err = grpc_server_request_registered_call(a->server, a->method, &a->call, &a->deadline,
						  &a->md, a->payload ? &a->first : NULL, a->cq,
						  a->cq, &a->tag);
	if (err != GRPC_CALL_OK)
		log_error("call_error", "op=request_registered_call method=%s code=%d", a->path,
			  (int)err);
}
