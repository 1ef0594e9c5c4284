#include "server/rpc_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/support/time.h>

#include "common/log.h"
#include "common/timeutil.h"

/* Longer than this is no deadline: grpc-timeout reaches 11,000 years,
 * past what nanoseconds in an int64_t hold. */
#define DEADLINE_FOREVER_S (100LL * 365 * 86400)

/* A call answered with a status and nothing else. */
struct oneshot {
	struct rpc_tag tag;
	grpc_call *call;
	int cancelled;
};

static void arm(struct rpc_accept *a);

static void accept_done(struct rpc_tag *tag, bool ok)
{
	struct rpc_accept *a = RPC_OWNER(tag, struct rpc_accept, tag);
	grpc_call *call = a->call;
	grpc_byte_buffer *first = a->first;
	gpr_timespec deadline = a->deadline;

	grpc_metadata_array_destroy(&a->md);
	if (!ok)
		return;
	arm(a);
	a->m->on_call(a->m, call, first, deadline);
	if (first != NULL)
		grpc_byte_buffer_destroy(first);
}

static void arm(struct rpc_accept *a)
{
	struct rpc_method *m = a->m;
	grpc_completion_queue *cq = m->host.cqs[a->shard];
	grpc_call_error err;

	a->tag.done = accept_done;
	a->call = NULL;
	a->first = NULL;
	grpc_metadata_array_init(&a->md);
	err = grpc_server_request_registered_call(m->host.servers[a->shard], m->handles[a->shard],
						  &a->call, &a->deadline, &a->md,
						  m->payload ? &a->first : NULL, cq, cq, &a->tag);
	if (err != GRPC_CALL_OK)
		log_error("call_error", "op=request_registered_call method=%s code=%d", m->path,
			  (int)err);
}

int rpc_method_register(struct rpc_method *m, const struct rpc_host *host)
{
	int rc = -ENOMEM;

	if (m->n_slots == 0 || m->n_slots > RPC_METHOD_SLOTS_MAX || host->n_shards == 0)
		return -EINVAL;
	m->host = *host;
	m->handles = calloc(host->n_shards, sizeof(*m->handles));
	m->slots = calloc((size_t)host->n_shards * m->n_slots, sizeof(*m->slots));
	if (m->handles == NULL || m->slots == NULL)
		goto fail;
	for (unsigned i = 0; i < host->n_shards; i++) {
		m->handles[i] = grpc_server_register_method(
			host->servers[i], m->path, NULL,
			m->payload ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER : GRPC_SRM_PAYLOAD_NONE,
			0);
		if (m->handles[i] == NULL) {
			rc = -EEXIST;
			goto fail;
		}
	}
	return 0;

fail:
	rpc_method_finish(m);
	return rc;
}

void rpc_method_start(struct rpc_method *m)
{
	for (unsigned i = 0; i < m->host.n_shards * m->n_slots; i++) {
		m->slots[i].m = m;
		m->slots[i].shard = i / m->n_slots;
		arm(&m->slots[i]);
	}
}

void rpc_method_finish(struct rpc_method *m)
{
	free(m->slots);
	free(m->handles);
	m->slots = NULL;
	m->handles = NULL;
}

grpc_call_error rpc_call_open(grpc_call *call, grpc_metadata *md, size_t n_md, int *cancelled,
			      struct rpc_tag *tag)
{
	grpc_op ops[2];

	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[0].data.send_initial_metadata.count = n_md;
	ops[0].data.send_initial_metadata.metadata = md;
	ops[1].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[1].data.recv_close_on_server.cancelled = cancelled;
	return grpc_call_start_batch(call, ops, 2, tag, NULL);
}

grpc_call_error rpc_call_send(grpc_call *call, grpc_byte_buffer *bb, uint32_t flags,
			      struct rpc_tag *tag)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_MESSAGE;
	op.flags = flags;
	op.data.send_message.send_message = bb;
	return grpc_call_start_batch(call, &op, 1, tag, NULL);
}

grpc_call_error rpc_call_recv(grpc_call *call, grpc_byte_buffer **bb, struct rpc_tag *tag)
{
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_RECV_MESSAGE;
	op.data.recv_message.recv_message = bb;
	return grpc_call_start_batch(call, &op, 1, tag, NULL);
}

grpc_call_error rpc_call_status(grpc_call *call, grpc_status_code code, const char *msg,
				struct rpc_tag *tag)
{
	/* Copied: a caller's message may live on its stack. */
	grpc_slice details = grpc_slice_from_copied_string(msg);
	grpc_call_error err;
	grpc_op op;

	memset(&op, 0, sizeof(op));
	op.op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	op.data.send_status_from_server.status = code;
	op.data.send_status_from_server.status_details = &details;
	err = grpc_call_start_batch(call, &op, 1, tag, NULL);
	grpc_slice_unref(details);
	return err;
}

static void oneshot_done(struct rpc_tag *tag, bool ok)
{
	struct oneshot *o = RPC_OWNER(tag, struct oneshot, tag);

	(void)ok;
	grpc_call_unref(o->call);
	free(o);
}

void rpc_finish_call(grpc_call *call, grpc_status_code code, const char *msg)
{
	struct oneshot *o = calloc(1, sizeof(*o));
	grpc_slice details = grpc_slice_from_copied_string(msg);
	grpc_op ops[3];
	grpc_call_error err;

	if (o == NULL) {
		grpc_call_cancel_with_status(call, code, msg, NULL);
		grpc_call_unref(call);
		grpc_slice_unref(details);
		return;
	}
	o->tag.done = oneshot_done;
	o->call = call;
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[1].data.send_status_from_server.status = code;
	ops[1].data.send_status_from_server.status_details = &details;
	ops[2].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[2].data.recv_close_on_server.cancelled = &o->cancelled;
	err = grpc_call_start_batch(call, ops, 3, &o->tag, NULL);
	grpc_slice_unref(details);
	if (err != GRPC_CALL_OK) {
		log_error("call_error", "op=finish code=%d", (int)err);
		grpc_call_unref(call);
		free(o);
	}
}

void rpc_deadline_arm(struct rpc_deadline *dl, const struct rpc_method *m, grpc_call *call,
		      gpr_timespec deadline)
{
	gpr_timespec left;

	deadline_entry_init(&dl->entry);
	dl->timer = m->host.deadlines;
	dl->call = call;
	dl->fired = false;
	if (dl->timer == NULL || gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0)
		return;
	left = gpr_time_sub(gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC),
			    gpr_now(GPR_CLOCK_MONOTONIC));
	if (left.tv_sec >= DEADLINE_FOREVER_S)
		return;
	if (left.tv_sec < 0)
		left = gpr_time_0(GPR_TIMESPAN);
	if (deadline_add(dl->timer, &dl->entry,
			 timeutil_monotonic_ns() + (int64_t)left.tv_sec * TIMEUTIL_NS_PER_SEC +
				 left.tv_nsec) < 0)
		/* The client still ends the call at its deadline. */
		log_warn("deadline_untracked", "reason=out_of_memory");
}

bool rpc_deadline_disarm(struct rpc_deadline *dl)
{
	if (dl->timer == NULL)
		return false;
	/* Taken under the timer's lock: `fired` is settled once it returns. */
	deadline_remove(dl->timer, &dl->entry);
	return dl->fired;
}

void rpc_deadline_fire(void *ctx, struct deadline_entry *e)
{
	struct rpc_deadline *dl = RPC_OWNER(e, struct rpc_deadline, entry);

	(void)ctx;
	dl->fired = true;
	/* The words and code of the core's own deadline filter. */
	grpc_call_cancel_with_status(dl->call, GRPC_STATUS_DEADLINE_EXCEEDED, "Deadline Exceeded",
				     NULL);
}
