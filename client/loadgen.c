#include "client/loadgen.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/log.h>
#include <grpc/support/time.h>

#include "common/grpcrt.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "common/wire.h"

/*
 * A message that arrives in several slices is copied here to be scanned in
 * one piece. A full SignalBatch (256 signals) is ~24 KB; anything larger
 * takes the slow path (grpc_byte_buffer_reader_readall).
 */
#define SCRATCH_MAX 65536
/* How often an idle worker looks at the clock and the stop flag. */
#define POLL_NS (100 * TIMEUTIL_NS_PER_MS)
/* How long cancelled calls get to complete before we give up on them. */
#define DRAIN_NS (5 * TIMEUTIL_NS_PER_SEC)
/* One symbol (tag, length, 15 bytes), a min_strength (tag, 8 bytes) and
 * a linger_ms (tag, varint of at most 2 bytes). */
#define REQUEST_MAX 40

/*
 * The completion-queue tag is the stream's address with the operation in
 * its two low bits: struct stream holds pointers, so they are always zero.
 */
enum op {
	OP_START = 1,   /* sends + RECV_INITIAL_METADATA */
	OP_MESSAGE = 2, /* one RECV_MESSAGE */
	OP_STATUS = 3,  /* RECV_STATUS_ON_CLIENT */
};
#define OP_MASK ((uintptr_t)3)

struct worker;

struct stream {
	struct worker *w;
	grpc_call *call; /* NULL once released (or never started) */
	grpc_byte_buffer *send_buf;
	grpc_byte_buffer *recv_buf;
	grpc_metadata_array initial_md;
	grpc_metadata_array trailing_md;
	grpc_status_code status;
	grpc_slice details;
	uint64_t last_seq;     /* 0: nothing seen yet (sequences start at 1) */
	unsigned pending;      /* batches started and not completed */
	bool status_done;      /* RECV_STATUS_ON_CLIENT completed (or never will) */
	bool status_from_grpc; /* `details` is ours to unref */
	bool early;            /* ended before the run did */
	bool got_message;
	int64_t started_rt;    /* when the call was started (realtime ns) */
	bool decode_failed;
	bool aborted;          /* gRPC refused an operation: we cancelled the call */
};

struct run;

struct worker {
	struct run *run;
	unsigned index;
	pthread_t thread;
	bool thread_started;
	grpc_completion_queue *cq;
	unsigned live; /* streams of this worker with a call not yet released */
	bool stopping;
	int64_t drain_deadline; /* realtime */
	uint64_t sample_left;

	uint64_t deliveries, messages, heartbeats, gaps, started, errors, cut;
	uint64_t errors_by_code[LOADGEN_CODES];
	char error_details[LOADGEN_CODES][LOADGEN_DETAILS_MAX];
	struct histogram latency;
	struct histogram first; /* call start -> first message, ns */
	uint8_t scratch[SCRATCH_MAX];
};

struct run {
	const struct loadgen_config *cfg;
	bool check_gaps; /* unfiltered: sequences must be consecutive */
	const char *method;
	grpc_channel **channels;
	struct stream *streams; /* stream i belongs to worker i % threads */
	struct worker *workers;
	/* CLOCK_REALTIME, like the timestamps the window is judged by. */
	int64_t window_rt;
	int64_t end_rt;
};

/* What a message scan pulls out of one Signal. */
struct scanned {
	uint64_t sequence;
	int64_t timestamp_ns;
	bool has_symbol; /* false: a heartbeat */
};

static const char *const code_names[LOADGEN_CODES] = {
	"OK",
	"CANCELLED",
	"UNKNOWN",
	"INVALID_ARGUMENT",
	"DEADLINE_EXCEEDED",
	"NOT_FOUND",
	"ALREADY_EXISTS",
	"PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION",
	"ABORTED",
	"OUT_OF_RANGE",
	"UNIMPLEMENTED",
	"INTERNAL",
	"UNAVAILABLE",
	"DATA_LOSS",
	"UNAUTHENTICATED",
	[LOADGEN_CODE_DECODE] = "DECODE_ERROR",
};

const char *loadgen_code_name(unsigned code)
{
	return code < LOADGEN_CODES ? code_names[code] : "UNKNOWN_STATUS";
}

/* ---- the message scanner ---- */

/* One encoded signals.v1.Signal: fields 1 (sequence), 2 (symbol), 6 (timestamp_ns). */
static bool scan_signal(const uint8_t *p, const uint8_t *end, struct scanned *out)
{
	out->sequence = 0;
	out->timestamp_ns = 0;
	out->has_symbol = false;
	while (p < end) {
		const uint8_t *body;
		uint64_t key, v;
		size_t len;

		if (!wire_varint(&p, end, &key) || (key >> 3) == 0)
			return false;
		switch (key) {
		case (1 << 3) | 0:
			if (!wire_varint(&p, end, &out->sequence))
				return false;
			break;
		case (2 << 3) | 2:
			if (!wire_bytes(&p, end, &body, &len))
				return false;
			out->has_symbol = len > 0;
			break;
		case (6 << 3) | 0:
			if (!wire_varint(&p, end, &v))
				return false;
			out->timestamp_ns = (int64_t)v; /* int64 on the wire: two's complement */
			break;
		default:
			if (!wire_skip(&p, end, (unsigned)(key & 7)))
				return false;
		}
	}
	return true;
}

/* ---- measuring ---- */

static void on_signal(struct worker *w, struct stream *s, const struct scanned *g, int64_t now,
		      bool in_window)
{
	struct run *run = w->run;

	if (!g->has_symbol) {
		w->heartbeats++;
		return;
	}
	/*
	 * Unfiltered, every published sequence must arrive, in order; filtered,
	 * they must at least keep increasing (no duplicate, no reordering).
	 */
	if (s->last_seq != 0 &&
	    (run->check_gaps ? g->sequence != s->last_seq + 1 : g->sequence <= s->last_seq))
		w->gaps++;
	s->last_seq = g->sequence;
	if (!in_window)
		return;
	w->deliveries++;
	if (--w->sample_left == 0) {
		int64_t latency = now - g->timestamp_ns;

		w->sample_left = run->cfg->sample;
		/* Clocks a little apart can make it negative: no measurable delay. */
		histogram_record(&w->latency, latency > 0 ? (uint64_t)latency : 0);
	}
}

/* Scans one contiguous message. */
static bool scan_message(struct worker *w, struct stream *s, const uint8_t *p, size_t len,
			 int64_t now)
{
	const uint8_t *end = p + len;
	bool in_window = now >= w->run->window_rt && now < w->run->end_rt && !w->stopping;
	struct scanned g;

	if (in_window)
		w->messages++;
	if (!w->run->cfg->batches) {
		if (!scan_signal(p, end, &g))
			return false;
		on_signal(w, s, &g, now, in_window);
		return true;
	}
	/* A SignalBatch: field 1, repeated Signal. */
	while (p < end) {
		const uint8_t *body;
		uint64_t key;
		size_t n;

		if (!wire_varint(&p, end, &key) || (key >> 3) == 0)
			return false;
		if (key != ((1 << 3) | 2)) {
			if (!wire_skip(&p, end, (unsigned)(key & 7)))
				return false;
			continue;
		}
		if (!wire_bytes(&p, end, &body, &n) || !scan_signal(body, body + n, &g))
			return false;
		on_signal(w, s, &g, now, in_window);
	}
	return true;
}

/*
 * Reads the message where it lies: one uncompressed slice (the usual case)
 * is scanned in place, a few slices are gathered into the worker's scratch
 * buffer, and only what is left (compressed, or huge) goes through gRPC's
 * reader, which allocates.
 */
static bool scan_buffer(struct worker *w, struct stream *s, grpc_byte_buffer *bb, int64_t now)
{
	grpc_byte_buffer_reader reader;
	grpc_slice all;
	bool ok;

	if (bb->type == GRPC_BB_RAW && bb->data.raw.compression == GRPC_COMPRESS_NONE) {
		const grpc_slice_buffer *sb = &bb->data.raw.slice_buffer;

		if (sb->count == 1)
			return scan_message(w, s, GRPC_SLICE_START_PTR(sb->slices[0]),
					    GRPC_SLICE_LENGTH(sb->slices[0]), now);
		if (sb->length <= sizeof(w->scratch)) {
			size_t off = 0;

			for (size_t i = 0; i < sb->count; i++) {
				size_t n = GRPC_SLICE_LENGTH(sb->slices[i]);

				memcpy(w->scratch + off, GRPC_SLICE_START_PTR(sb->slices[i]), n);
				off += n;
			}
			return scan_message(w, s, w->scratch, off, now);
		}
	}
	if (!grpc_byte_buffer_reader_init(&reader, bb))
		return false;
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	ok = scan_message(w, s, GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), now);
	grpc_slice_unref(all);
	return ok;
}

/* ---- streams ---- */

static void *tag_of(struct stream *s, enum op op)
{
	return (void *)((uintptr_t)s | (uintptr_t)op);
}

/*
 * The SignalRequest of stream `i`, encoded by hand (it is at most one
 * symbol and a double). Returns its length.
 */
static size_t encode_request(const struct loadgen_config *cfg, size_t i, uint8_t *buf)
{
	char name[LIMITS_SYMBOL_MAX + 1];
	const char *sym = NULL;
	size_t n = 0;

	if (cfg->filter == LOADGEN_FILTER_ONE_SYMBOL) {
		snprintf(name, sizeof(name), "SYM%04u", (unsigned)(i % cfg->nsymbols));
		sym = name;
	} else if (cfg->filter == LOADGEN_FILTER_SYMBOL) {
		sym = cfg->symbol;
	}
	if (sym != NULL) {
		size_t len = strlen(sym); /* <= LIMITS_SYMBOL_MAX: checked by loadgen_run */

		buf[n++] = (1 << 3) | 2;
		buf[n++] = (uint8_t)len;
		memcpy(buf + n, sym, len);
		n += len;
	}
	if (cfg->filter == LOADGEN_FILTER_MIN_STRENGTH && cfg->min_strength != 0) {
		uint64_t bits;

		memcpy(&bits, &cfg->min_strength, sizeof(bits));
		buf[n++] = (3 << 3) | 1;
		for (unsigned k = 0; k < 8; k++)
			buf[n++] = (uint8_t)(bits >> (8 * k));
	}
	if (cfg->linger_ms != 0) {
		buf[n++] = 6 << 3; /* <= LIMITS_LINGER_MS_MAX: 2 varint bytes */
		n += wire_put_varint(buf + n, cfg->linger_ms);
	}
	return n;
}

/*
 * Counts a stream that ended before the run did, under its status code,
 * keeping the first message seen for each code for the report.
 */
static void note_error(struct worker *w, unsigned code, const char *details, bool cut)
{
	w->errors++;
	if (cut)
		w->cut++;
	w->errors_by_code[code]++;
	if (w->error_details[code][0] == '\0')
		snprintf(w->error_details[code], LOADGEN_DETAILS_MAX, "%s", details);
}

/* Every operation of the call has completed: account for its end, free it. */
static void stream_release(struct stream *s)
{
	struct worker *w = s->w;

	if (s->early) {
		unsigned code = (unsigned)s->status < LOADGEN_CODE_DECODE ? (unsigned)s->status
									   : GRPC_STATUS_UNKNOWN;
		char details[LOADGEN_DETAILS_MAX];
		size_t n = 0;

		if (s->aborted) {
			code = GRPC_STATUS_INTERNAL;
			snprintf(details, sizeof(details), "gRPC refused an operation on the call");
		} else if (s->decode_failed) {
			code = LOADGEN_CODE_DECODE;
			snprintf(details, sizeof(details), "a %s message could not be scanned",
				 w->run->cfg->batches ? "SignalBatch" : "Signal");
		} else if (s->status_from_grpc) {
			const uint8_t *p = GRPC_SLICE_START_PTR(s->details);

			n = GRPC_SLICE_LENGTH(s->details);
			if (n > sizeof(details) - 1)
				n = sizeof(details) - 1;
			for (size_t i = 0; i < n; i++)
				details[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
			details[n] = '\0';
		} else {
			snprintf(details, sizeof(details), "no status");
		}
		note_error(w, code, details, s->got_message);
	}
	if (s->status_from_grpc)
		grpc_slice_unref(s->details);
	if (s->send_buf != NULL)
		grpc_byte_buffer_destroy(s->send_buf);
	if (s->recv_buf != NULL)
		grpc_byte_buffer_destroy(s->recv_buf);
	s->send_buf = s->recv_buf = NULL;
	grpc_metadata_array_destroy(&s->initial_md);
	grpc_metadata_array_destroy(&s->trailing_md);
	grpc_call_unref(s->call);
	s->call = NULL;
	w->live--;
}

/*
 * gRPC refused an operation on a live call (it should not): end the call
 * and count it as INTERNAL. Its status still completes, unless it was the
 * status operation that was refused (the caller then marks it done).
 */
static void stream_abort(struct stream *s)
{
	grpc_call_cancel(s->call, NULL);
	s->aborted = true;
	if (!s->w->stopping)
		s->early = true;
}

static int start_recv(struct stream *s)
{
	grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};

	op.data.recv_message.recv_message = &s->recv_buf;
	if (grpc_call_start_batch(s->call, &op, 1, tag_of(s, OP_MESSAGE), NULL) != GRPC_CALL_OK)
		return -EIO;
	s->pending++;
	return 0;
}

/*
 * Starts stream `i` on its channel: three batches at once. The request goes
 * with RECV_INITIAL_METADATA, and RECV_MESSAGE is a batch of its own: a
 * server with nothing to send (a filter that never matches) may hold its
 * initial metadata back until the end, and the reads must not wait for it.
 */
static int stream_start(struct worker *w, struct stream *s, size_t i)
{
	struct run *run = w->run;
	uint8_t req[REQUEST_MAX];
	grpc_slice payload;
	grpc_op ops[4];
	grpc_op status_op = {.op = GRPC_OP_RECV_STATUS_ON_CLIENT};

	s->w = w;
	s->started_rt = timeutil_realtime_ns();
	payload = grpc_slice_from_copied_buffer((const char *)req, encode_request(run->cfg, i, req));
	s->send_buf = grpc_raw_byte_buffer_create(&payload, 1);
	grpc_slice_unref(payload);
	grpc_metadata_array_init(&s->initial_md);
	grpc_metadata_array_init(&s->trailing_md);
	/* No deadline: the run's clock ends it, by cancellation. */
	s->call = grpc_channel_create_call(run->channels[i % run->cfg->conns], NULL,
					   GRPC_PROPAGATE_DEFAULTS, w->cq,
					   grpc_slice_from_static_string(run->method), NULL,
					   gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	if (s->call == NULL)
		goto fail_call;

	/*
	 * Not wait-for-ready: a server that is not there fails the stream at
	 * once with UNAVAILABLE, which the report shows, rather than hiding
	 * behind the cancellation at the end.
	 */
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = s->send_buf;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->initial_md;
	if (grpc_call_start_batch(s->call, ops, 4, tag_of(s, OP_START), NULL) != GRPC_CALL_OK)
		goto fail_batch;
	s->pending = 1;
	w->live++;
	w->started++;

	status_op.data.recv_status_on_client.trailing_metadata = &s->trailing_md;
	status_op.data.recv_status_on_client.status = &s->status;
	status_op.data.recv_status_on_client.status_details = &s->details;
	if (grpc_call_start_batch(s->call, &status_op, 1, tag_of(s, OP_STATUS), NULL) !=
	    GRPC_CALL_OK) {
		stream_abort(s);
		s->status_done = true;
		return 0;
	}
	s->pending++;
	s->status_from_grpc = true;
	if (start_recv(s) < 0)
		stream_abort(s);
	return 0;

fail_batch:
	grpc_call_unref(s->call);
	s->call = NULL;
fail_call:
	grpc_metadata_array_destroy(&s->initial_md);
	grpc_metadata_array_destroy(&s->trailing_md);
	grpc_byte_buffer_destroy(s->send_buf);
	s->send_buf = NULL;
	note_error(w, GRPC_STATUS_INTERNAL, "the call could not be created", false);
	return -EIO;
}

static void on_message(struct worker *w, struct stream *s, bool ok, int64_t now)
{
	grpc_byte_buffer *bb = s->recv_buf;

	s->recv_buf = NULL;
	/* Failed or NULL: the stream is over and its status follows. */
	if (!ok || bb == NULL) {
		if (bb != NULL)
			grpc_byte_buffer_destroy(bb);
		return;
	}
	if (!s->got_message)
		histogram_record(&w->first, now > s->started_rt ? (uint64_t)(now - s->started_rt) : 0);
	s->got_message = true;
	/* The next read goes in first, so gRPC can fill it while we scan this one. */
	if (!w->stopping && !s->status_done && start_recv(s) < 0)
		stream_abort(s);
	if (!scan_buffer(w, s, bb, now) && !s->decode_failed) {
		s->decode_failed = true;
		grpc_call_cancel(s->call, NULL);
	}
	grpc_byte_buffer_destroy(bb);
}

static void dispatch(struct worker *w, const grpc_event *ev, int64_t now)
{
	struct stream *s = (struct stream *)((uintptr_t)ev->tag & ~OP_MASK);

	s->pending--;
	switch ((enum op)((uintptr_t)ev->tag & OP_MASK)) {
	case OP_START:
		/* The request is sent (or the call failed, and its status will say why). */
		grpc_byte_buffer_destroy(s->send_buf);
		s->send_buf = NULL;
		break;
	case OP_MESSAGE:
		on_message(w, s, ev->success != 0, now);
		break;
	case OP_STATUS:
		s->status_done = true;
		/* Our own cancellation at the end is not an error; a decode failure is. */
		if (!w->stopping || s->decode_failed)
			s->early = true;
		break;
	}
	if (s->status_done && s->pending == 0)
		stream_release(s);
}

/* The run is over for this worker: cancel its calls, then let them drain. */
static void begin_stop(struct worker *w, int64_t now)
{
	struct run *run = w->run;
	unsigned threads = run->cfg->threads;

	w->stopping = true;
	w->drain_deadline = now + DRAIN_NS;
	for (size_t i = w->index; i < run->cfg->streams; i += threads)
		if (run->streams[i].call != NULL)
			grpc_call_cancel(run->streams[i].call, NULL);
}

static gpr_timespec realtime_spec(int64_t ns)
{
	gpr_timespec t = {
		.tv_sec = ns / TIMEUTIL_NS_PER_SEC,
		.tv_nsec = (int32_t)(ns % TIMEUTIL_NS_PER_SEC),
		.clock_type = GPR_CLOCK_REALTIME,
	};

	return t;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	const volatile sig_atomic_t *stop = run->cfg->stop;

	int64_t now;

	for (size_t i = w->index; i < run->cfg->streams; i += run->cfg->threads)
		stream_start(w, &run->streams[i], i);
	/* One clock read per completion: it dates the message and drives the loop. */
	now = timeutil_realtime_ns();
	for (;;) {
		int64_t deadline;
		grpc_event ev;

		if (!w->stopping && (now >= run->end_rt || (stop != NULL && *stop)))
			begin_stop(w, now);
		if (w->live == 0)
			break;
		if (w->stopping) {
			if (now >= w->drain_deadline) {
				log_warn("loadgen_drain_timeout", "worker=%u calls=%u", w->index,
					 w->live);
				break;
			}
			deadline = w->drain_deadline;
		} else {
			deadline = now + POLL_NS < run->end_rt ? now + POLL_NS : run->end_rt;
		}
		ev = grpc_completion_queue_next(w->cq, realtime_spec(deadline), NULL);
		now = timeutil_realtime_ns();
		if (ev.type == GRPC_QUEUE_TIMEOUT)
			continue;
		if (ev.type != GRPC_OP_COMPLETE)
			break;
		dispatch(w, &ev, now);
	}
	return NULL;
}

/* ---- the run ---- */

/*
 * Each channel gets a connection of its own (no subchannel sharing between
 * channels of this process), no retries (their bookkeeping costs every
 * message, and a benchmark wants failures plain) and no size limit. The
 * minimal filter stack and no channelz take per-message work off the
 * receive path that a call with no deadline and no compression never
 * needs (a compressed message still decodes: see scan_buffer()).
 */
static grpc_channel *create_channel(const char *target)
{
	grpc_arg args[] = {
		{.type = GRPC_ARG_INTEGER,
		 .key = GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
		 .value.integer = 1},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_RETRIES, .value.integer = 0},
		{.type = GRPC_ARG_INTEGER,
		 .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		 .value.integer = -1},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MINIMAL_STACK, .value.integer = 1},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_CHANNELZ, .value.integer = 0},
	};
	grpc_channel_args channel_args = {.num_args = sizeof(args) / sizeof(args[0]), .args = args};
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	grpc_channel *ch = grpc_channel_create(target, creds, &channel_args);

	grpc_channel_credentials_release(creds);
	return ch;
}

static int check_config(const struct loadgen_config *cfg)
{
	char err[160];

	if (cfg->target == NULL || cfg->target[0] == '\0' || cfg->streams == 0 ||
	    cfg->conns == 0 || cfg->threads == 0 || cfg->duration_ns <= 0 ||
	    cfg->warmup_ns < 0 || cfg->sample == 0)
		return -EINVAL;
	if (cfg->filter == LOADGEN_FILTER_ONE_SYMBOL && (cfg->nsymbols == 0 || cfg->nsymbols > 100000))
		return -EINVAL;
	if (cfg->filter == LOADGEN_FILTER_MIN_STRENGTH &&
	    limits_check_min_strength(cfg->min_strength, err, sizeof(err)) < 0)
		return -EINVAL;
	if (limits_check_linger_ms(cfg->linger_ms, err, sizeof(err)) < 0 ||
	    (cfg->linger_ms != 0 && !cfg->batches))
		return -EINVAL;
	if (cfg->filter == LOADGEN_FILTER_SYMBOL &&
	    (cfg->symbol == NULL ||
	     limits_check_symbol("symbol", cfg->symbol, strlen(cfg->symbol), err, sizeof(err)) < 0))
		return -EINVAL;
	return 0;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static bool stop_asked(const struct loadgen_config *cfg)
{
	return cfg->stop != NULL && *cfg->stop;
}

/*
 * Sleeps until CLOCK_MONOTONIC reaches `deadline` or a stop is asked, in
 * steps short enough to notice the stop. Returns false when stopped.
 */
static bool wait_until(const struct loadgen_config *cfg, int64_t deadline)
{
	for (;;) {
		int64_t now = timeutil_monotonic_ns();

		if (stop_asked(cfg))
			return false;
		if (now >= deadline)
			return true;
		timeutil_sleep_until(deadline - now > POLL_NS ? now + POLL_NS : deadline);
	}
}

static void collect(struct run *run, struct loadgen_result *res)
{
	for (unsigned t = 0; t < run->cfg->threads; t++) {
		const struct worker *w = &run->workers[t];

		res->deliveries += w->deliveries;
		res->messages += w->messages;
		res->heartbeats += w->heartbeats;
		res->gaps += w->gaps;
		res->started += w->started;
		res->errors += w->errors;
		res->cut += w->cut;
		histogram_merge(&res->latency, &w->latency);
		histogram_merge(&res->first, &w->first);
		for (unsigned c = 0; c < LOADGEN_CODES; c++) {
			res->errors_by_code[c] += w->errors_by_code[c];
			if (res->error_details[c][0] == '\0')
				memcpy(res->error_details[c], w->error_details[c],
				       LOADGEN_DETAILS_MAX);
		}
	}
}

int loadgen_run(const struct loadgen_config *cfg, struct loadgen_result *res)
{
	struct run run = {.cfg = cfg};
	int64_t start_mono, start_rt, window_mono, end_mono, stopped_rt;
	double cpu0 = 0, cpu1;
	unsigned nthreads = 0;
	int rc = 0;

	memset(res, 0, sizeof(*res));
	histogram_reset(&res->latency);
	histogram_reset(&res->first);
	if (check_config(cfg) < 0)
		return -EINVAL;
	run.check_gaps = cfg->filter == LOADGEN_FILTER_ALL;
	run.method = cfg->batches ? "/signals.v1.SignalService/StreamSignalBatches"
				  : "/signals.v1.SignalService/StreamSignals";

	grpcrt_init();
	run.channels = calloc(cfg->conns, sizeof(*run.channels));
	run.streams = calloc(cfg->streams, sizeof(*run.streams));
	run.workers = calloc(cfg->threads, sizeof(*run.workers));
	if (run.channels == NULL || run.streams == NULL || run.workers == NULL) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (unsigned c = 0; c < cfg->conns; c++) {
		run.channels[c] = create_channel(cfg->target);
		if (run.channels[c] == NULL) {
			rc = -EIO;
			goto out_channels;
		}
	}
	for (unsigned t = 0; t < cfg->threads; t++) {
		struct worker *w = &run.workers[t];

		w->run = &run;
		w->index = t;
		w->sample_left = cfg->sample;
		histogram_reset(&w->latency);
		histogram_reset(&w->first);
		w->cq = grpc_completion_queue_create_for_next(NULL);
		if (w->cq == NULL) {
			rc = -EIO;
			goto out_queues;
		}
	}

	start_mono = timeutil_monotonic_ns();
	start_rt = timeutil_realtime_ns();
	window_mono = start_mono + cfg->warmup_ns;
	end_mono = window_mono + cfg->duration_ns;
	run.window_rt = start_rt + cfg->warmup_ns;
	run.end_rt = run.window_rt + cfg->duration_ns;
	for (; nthreads < cfg->threads; nthreads++) {
		struct worker *w = &run.workers[nthreads];
		int err = pthread_create(&w->thread, NULL, worker_main, w);

		if (err != 0) {
			/* The ones running see the stop through the window's end. */
			log_error("loadgen_thread", "error=\"%s\"", strerror(err));
			rc = -err;
			break;
		}
		w->thread_started = true;
	}

	/* The window's CPU time: what the whole process (gRPC's threads too) spent in it. */
	stopped_rt = run.end_rt;
	if (wait_until(cfg, window_mono)) {
		cpu0 = cpu_seconds();
		if (!wait_until(cfg, end_mono))
			stopped_rt = timeutil_realtime_ns();
		cpu1 = cpu_seconds();
	} else {
		stopped_rt = run.window_rt;
		cpu1 = cpu0;
	}
	if (stopped_rt < run.window_rt)
		stopped_rt = run.window_rt;
	res->window_s = (double)(stopped_rt - run.window_rt) / (double)TIMEUTIL_NS_PER_SEC;
	res->cpu_s = cpu1 - cpu0;

	for (unsigned t = 0; t < cfg->threads; t++)
		if (run.workers[t].thread_started)
			pthread_join(run.workers[t].thread, NULL);
	collect(&run, res);

out_queues:
	for (unsigned t = 0; t < cfg->threads; t++) {
		grpc_completion_queue *cq = run.workers[t].cq;

		if (cq == NULL)
			continue;
		/* Calls that never drained are released here, before their queue goes. */
		for (size_t i = t; i < cfg->streams; i += cfg->threads)
			if (run.streams[i].call != NULL)
				grpc_call_unref(run.streams[i].call);
		grpc_completion_queue_shutdown(cq);
		while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
			       .type != GRPC_QUEUE_SHUTDOWN)
			;
		grpc_completion_queue_destroy(cq);
	}
out_channels:
	for (unsigned c = 0; c < cfg->conns; c++)
		if (run.channels[c] != NULL)
			grpc_channel_destroy(run.channels[c]);
out_free:
	free(run.channels);
	free(run.streams);
	free(run.workers);
	grpcrt_shutdown();
	return rc;
}
