#include "client/rpc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>
#include <pb_decode.h>
#include <pb_encode.h>

#include "common/grpcrt.h"
#include "common/log.h"
#include "common/timeutil.h"

/*
 * Received messages are copied out of their slices into this buffer and
 * decoded from it: one fixed allocation for the process. A full
 * SignalBatch is at most signals_v1_SignalBatch_size (24064) bytes; the
 * rest is headroom for fields a newer server may add, which nanopb skips.
 */
#define WIRE_MAX 65536

/* Completion-queue tags: one call at a time, so the operation is enough. */
enum tag {
	TAG_START = 1, /* sends + initial metadata */
	TAG_MESSAGE,   /* one RECV_MESSAGE */
	TAG_STATUS,    /* RECV_STATUS_ON_CLIENT */
};

struct rpc {
	char *target;
	grpc_channel *channel;
	grpc_completion_queue *cq;

	/* The call in flight; NULL between calls. */
	grpc_call *call;
	enum rpc_method method;
	unsigned pending; /* batches started and not completed yet */
	bool status_done;
	grpc_byte_buffer *send_buf;
	grpc_byte_buffer *recv_buf;
	grpc_metadata_array initial_md;
	grpc_metadata_array trailing_md;
	grpc_status_code status;
	grpc_slice status_details;

	char epoch[RPC_EPOCH_MAX];
	char details[RPC_DETAILS_MAX];
	uint8_t wire[WIRE_MAX];
	/* Decoded messages land here; StreamSignals uses signals[0]. */
	signals_v1_SignalBatch batch;
};

static const char *const method_paths[] = {
	[RPC_STREAM_SIGNALS] = "/signals.v1.SignalService/StreamSignals",
	[RPC_STREAM_SIGNAL_BATCHES] = "/signals.v1.SignalService/StreamSignalBatches",
};

static const char *const code_names[] = {
	"OK",		     "CANCELLED",	   "UNKNOWN",	     "INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED", "NOT_FOUND",	   "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",	     "OUT_OF_RANGE",
	"UNIMPLEMENTED",     "INTERNAL",	   "UNAVAILABLE",    "DATA_LOSS",
	"UNAUTHENTICATED",
};

const char *rpc_code_name(enum rpc_code code)
{
	if ((unsigned)code < sizeof(code_names) / sizeof(code_names[0]))
		return code_names[code];
	return "UNKNOWN_STATUS";
}

/* Copies a slice into a C string, with anything unprintable shown as '?'. */
static void copy_printable(char *dst, size_t cap, grpc_slice s)
{
	size_t n = GRPC_SLICE_LENGTH(s);
	const uint8_t *p = GRPC_SLICE_START_PTR(s);

	if (n > cap - 1)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	dst[n] = '\0';
}

static gpr_timespec deadline_from(int64_t deadline_ns)
{
	/*
	 * gpr's monotonic clock has its own origin: carry the remaining time
	 * over rather than the absolute value.
	 */
	int64_t left = deadline_ns - timeutil_monotonic_ns();

	if (left <= 0)
		return gpr_inf_past(GPR_CLOCK_MONOTONIC);
	return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(left, GPR_TIMESPAN));
}

/*
 * A channel of our own, with its own connection: GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL
 * keeps gRPC from sharing the connection (and its reconnect backoff) with
 * other channels to the same address, so that rpc_reconnect() really
 * starts from scratch.
 */
static grpc_channel *create_channel(const char *target)
{
	grpc_arg args[] = {
		{.type = GRPC_ARG_INTEGER,
		 .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
		 .value.integer = 1},
	};
	grpc_channel_args channel_args = {.num_args = sizeof(args) / sizeof(args[0]), .args = args};
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);

	grpc_channel_credentials_release(creds);
	return ch;
}

int rpc_open(struct rpc **out, const char *target)
{
	struct rpc *r;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	r->target = strdup(target);
	grpcrt_init();
	if (r->target != NULL)
		r->channel = create_channel(r->target);
	r->cq = grpc_completion_queue_create_for_next(NULL);
	if (r->target == NULL || r->channel == NULL || r->cq == NULL) {
		rpc_close(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

/*
 * A channel that failed to connect keeps failing new calls at once with its
 * last error until its own reconnect backoff (1 s growing to 120 s) has
 * passed, whatever ours says: after a server restart a client could stay
 * away for minutes. A fresh channel makes exactly one connection attempt
 * for the next call, so the caller's backoff alone paces reconnects and
 * every failure carries its own reason.
 */
int rpc_reconnect(struct rpc *r)
{
	grpc_channel *ch;

	if (r->call != NULL)
		return -EBUSY;
	ch = create_channel(r->target);
	if (ch == NULL)
		return -ENOMEM;
	grpc_channel_destroy(r->channel);
	r->channel = ch;
	return 0;
}

static int start_recv_message(struct rpc *r)
{
	grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};

	op.data.recv_message.recv_message = &r->recv_buf;
	if (grpc_call_start_batch(r->call, &op, 1, (void *)(uintptr_t)TAG_MESSAGE, NULL) !=
	    GRPC_CALL_OK)
		return -EIO;
	r->pending++;
	return 0;
}

int rpc_start(struct rpc *r, enum rpc_method method, const signals_v1_SignalRequest *req)
{
	uint8_t buf[signals_v1_SignalRequest_size];
	pb_ostream_t os = pb_ostream_from_buffer(buf, sizeof(buf));
	grpc_slice payload;
	grpc_op ops[4];
	grpc_op status_op = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};

	if (r->call != NULL)
		return -EBUSY;
	if (!pb_encode(&os, signals_v1_SignalRequest_fields, req)) {
		log_error("encode_failed", "what=SignalRequest error=%s", PB_GET_ERROR(&os));
		return -EINVAL;
	}
	payload = grpc_slice_from_copied_buffer((const char *)buf, os.bytes_written);
	r->send_buf = grpc_raw_byte_buffer_create(&payload, 1);
	grpc_slice_unref(payload);

	r->method = method;
	r->status_done = false;
	r->pending = 0;
	r->epoch[0] = '\0';
	r->details[0] = '\0';
	grpc_metadata_array_init(&r->initial_md);
	grpc_metadata_array_init(&r->trailing_md);
	/* No deadline: the stream is meant to last until we end it. */
	r->call = grpc_channel_create_call(r->channel, NULL, GRPC_PROPAGATE_DEFAULTS, r->cq,
					   grpc_slice_from_static_string(method_paths[method]),
					   NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (r->call == NULL)
		goto fail_call;

	/*
	 * Not wait-for-ready: while the server is down a call fails at once
	 * with UNAVAILABLE and the reason, and our own backoff and --retry-for
	 * decide what happens next.
	 */
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = r->send_buf;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->initial_md;
	if (grpc_call_start_batch(r->call, ops, 4, (void *)(uintptr_t)TAG_START, NULL) !=
	    GRPC_CALL_OK)
		goto fail_batch;
	r->pending++;

	status_op.data.recv_status_on_client.trailing_metadata = &r->trailing_md;
	status_op.data.recv_status_on_client.status = &r->status;
	status_op.data.recv_status_on_client.status_details = &r->status_details;
	if (grpc_call_start_batch(r->call, &status_op, 1, (void *)(uintptr_t)TAG_STATUS, NULL) !=
	    GRPC_CALL_OK) {
		/* The first batch is in flight: let the call end through rpc_next(). */
		grpc_call_cancel(r->call, NULL);
		r->status_done = true;
		r->status = GRPC_STATUS_INTERNAL;
		r->status_details = grpc_slice_from_static_string("could not start the call");
		return 0;
	}
	r->pending++;
	return 0;

fail_batch:
	grpc_call_unref(r->call);
	r->call = NULL;
fail_call:
	grpc_metadata_array_destroy(&r->initial_md);
	grpc_metadata_array_destroy(&r->trailing_md);
	grpc_byte_buffer_destroy(r->send_buf);
	r->send_buf = NULL;
	log_error("call_failed", "method=%s", method_paths[method]);
	return -EIO;
}

void rpc_cancel(struct rpc *r)
{
	if (r->call != NULL)
		grpc_call_cancel(r->call, NULL);
}

/* Reads the message out of its (possibly many) slices and decodes it. */
static int decode_message(struct rpc *r, struct rpc_event *ev)
{
	const char *what = r->method == RPC_STREAM_SIGNALS ? "Signal" : "SignalBatch";
	grpc_byte_buffer_reader reader;
	grpc_slice slice;
	pb_istream_t is;
	size_t len = 0;
	bool ok;

	if (!grpc_byte_buffer_reader_init(&reader, r->recv_buf)) {
		snprintf(r->details, sizeof(r->details), "cannot read a %s message (bad compression?)",
			 what);
		return -EPROTO;
	}
	while (grpc_byte_buffer_reader_next(&reader, &slice)) {
		size_t n = GRPC_SLICE_LENGTH(slice);

		/* Past the buffer, keep counting (for the message) but stop copying. */
		if (len <= sizeof(r->wire) && n <= sizeof(r->wire) - len)
			memcpy(r->wire + len, GRPC_SLICE_START_PTR(slice), n);
		len += n;
		grpc_slice_unref(slice);
	}
	grpc_byte_buffer_reader_destroy(&reader);
	if (len > sizeof(r->wire)) {
		snprintf(r->details, sizeof(r->details),
			 "a %s message of %zu bytes is larger than the %d-byte receive buffer", what,
			 len, WIRE_MAX);
		return -EPROTO;
	}

	is = pb_istream_from_buffer(r->wire, len);
	if (r->method == RPC_STREAM_SIGNALS) {
		ok = pb_decode(&is, signals_v1_Signal_fields, &r->batch.signals[0]);
		ev->nsignals = 1;
	} else {
		ok = pb_decode(&is, signals_v1_SignalBatch_fields, &r->batch);
		ev->nsignals = r->batch.signals_count;
	}
	if (!ok) {
		snprintf(r->details, sizeof(r->details), "cannot decode a %s message (%zu bytes): %s",
			 what, len, PB_GET_ERROR(&is));
		return -EPROTO;
	}
	ev->type = RPC_EVENT_MESSAGE;
	ev->signals = r->batch.signals;
	return 0;
}

static void find_epoch(struct rpc *r, struct rpc_event *ev)
{
	for (size_t i = 0; i < r->initial_md.count; i++) {
		const grpc_metadata *md = &r->initial_md.metadata[i];

		if (grpc_slice_str_cmp(md->key, "sigstream-epoch") == 0) {
			copy_printable(r->epoch, sizeof(r->epoch), md->value);
			ev->epoch = r->epoch;
			return;
		}
	}
}

/* Every operation has completed: report the status and release the call. */
static void finish_call(struct rpc *r, struct rpc_event *ev)
{
	/* A decode error already explains the (local) cancellation. */
	if (r->details[0] == '\0')
		copy_printable(r->details, sizeof(r->details), r->status_details);
	ev->type = RPC_EVENT_END;
	ev->code = (enum rpc_code)r->status;
	ev->details = r->details;
	grpc_slice_unref(r->status_details);
	grpc_metadata_array_destroy(&r->initial_md);
	grpc_metadata_array_destroy(&r->trailing_md);
	grpc_call_unref(r->call);
	r->call = NULL;
}

int rpc_next(struct rpc *r, int64_t deadline_ns, struct rpc_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	for (;;) {
		grpc_event e;
		int rc;

		/*
		 * The status can complete before the last RECV_MESSAGE does;
		 * END waits for every batch, so no message is lost behind it and
		 * the call is released only when gRPC is done with our buffers.
		 */
		if (r->call != NULL && r->status_done && r->pending == 0) {
			finish_call(r, ev);
			return 0;
		}
		e = grpc_completion_queue_next(r->cq, deadline_from(deadline_ns), NULL);
		if (e.type == GRPC_QUEUE_TIMEOUT) {
			ev->type = RPC_EVENT_TIMEOUT;
			return 0;
		}
		if (e.type != GRPC_OP_COMPLETE)
			return -EIO;
		r->pending--;
		switch ((enum tag)(uintptr_t)e.tag) {
		case TAG_START:
			grpc_byte_buffer_destroy(r->send_buf);
			r->send_buf = NULL;
			/* Failed: the call is over, and its status will say why. */
			if (!e.success)
				continue;
			find_epoch(r, ev);
			if (start_recv_message(r) < 0)
				grpc_call_cancel(r->call, NULL);
			ev->type = RPC_EVENT_METADATA;
			return 0;
		case TAG_MESSAGE:
			/* NULL: the server closed the stream; the status follows. */
			if (!e.success || r->recv_buf == NULL)
				continue;
			rc = decode_message(r, ev);
			grpc_byte_buffer_destroy(r->recv_buf);
			r->recv_buf = NULL;
			if (rc < 0) {
				grpc_call_cancel(r->call, NULL);
				ev->details = r->details;
				return rc;
			}
			/* Ask for the next one now, so gRPC can read it while we print this one. */
			if (start_recv_message(r) < 0)
				grpc_call_cancel(r->call, NULL);
			return 0;
		case TAG_STATUS:
			r->status_done = true;
			continue;
		}
		return -EIO;
	}
}

void rpc_close(struct rpc *r)
{
	struct rpc_event ev;

	if (r == NULL)
		return;
	if (r->call != NULL) {
		int64_t deadline = timeutil_monotonic_ns() + 5 * TIMEUTIL_NS_PER_SEC;

		grpc_call_cancel(r->call, NULL);
		/* A cancelled call completes everything promptly; the deadline is a backstop. */
		while (r->call != NULL) {
			int rc = rpc_next(r, deadline, &ev);

			if (rc == -EIO || (rc == 0 && ev.type == RPC_EVENT_TIMEOUT))
				break;
		}
		/* Still pending: its completions are drained with the queue below, before r is freed. */
		if (r->call != NULL)
			grpc_call_unref(r->call);
	}
	if (r->channel != NULL)
		grpc_channel_destroy(r->channel);
	if (r->cq != NULL) {
		grpc_completion_queue_shutdown(r->cq);
		while (grpc_completion_queue_next(r->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
			       .type != GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(r->cq);
	}
	free(r->target);
	free(r);
	grpcrt_shutdown();
}
