#include "server/rpc_internal.h"

#include <errno.h>

#include <grpc/byte_buffer.h>

#include "common/log.h"

static void arm(struct rpc_accept *a);

static void accept_done(struct rpc_tag *tag, bool ok)
{
	struct rpc_accept *a = RPC_OWNER(tag, struct rpc_accept, tag);
	grpc_call *call = a->call;
	grpc_byte_buffer *first = a->first;

	grpc_metadata_array_destroy(&a->md);
	if (!ok)
		return;
	arm(a);
	a->m->on_call(a->m, call, first);
	if (first != NULL)
		grpc_byte_buffer_destroy(first);
}

static void arm(struct rpc_accept *a)
{
	struct rpc_method *m = a->m;
	grpc_call_error err;

	a->tag.done = accept_done;
	a->call = NULL;
	a->first = NULL;
	grpc_metadata_array_init(&a->md);
	err = grpc_server_request_registered_call(m->server, m->handle, &a->call, &a->deadline,
						  &a->md, m->payload ? &a->first : NULL, m->cq,
						  m->cq, &a->tag);
	if (err != GRPC_CALL_OK)
		log_error("call_error", "op=request_registered_call method=%s code=%d", m->path,
			  (int)err);
}

int rpc_method_register(struct rpc_method *m, const struct rpc_host *host)
{
	m->server = host->server;
	m->cq = host->cq;
	m->handle = grpc_server_register_method(m->server, m->path, NULL,
					       m->payload ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER
							  : GRPC_SRM_PAYLOAD_NONE,
					       0);
	return m->handle != NULL ? 0 : -EEXIST;
}

void rpc_method_start(struct rpc_method *m)
{
	for (unsigned i = 0; i < m->n_slots && i < RPC_METHOD_SLOTS_MAX; i++) {
		m->slots[i].m = m;
		arm(&m->slots[i]);
	}
}
