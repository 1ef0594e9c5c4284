#include "server/rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/slice_buffer.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

#include "common/log.h"
#include "common/limits.h"
#include "common/request.h"
#include "common/timeutil.h"
#include "common/wire.h"
#include "server/conn.h"
#include "server/filter.h"
#include "server/hub.h"
#include "server/linger.h"
#include "server/listener.h"
#include "server/rpc_health.h"
#include "server/rpc_internal.h"
#include "server/rpc_reflection.h"
#include "server/rpc_slices.h"

#define ACCEPTS_PER_METHOD 8   /* request_registered_calls kept armed per shard */
#define GENERIC_ACCEPTS 2      /* per shard */
#define BATCH_BYTES_MAX 16384  /* a SignalBatch stops growing past this */
#define HOUSEKEEPING_PERIOD_NS (20 * TIMEUTIL_NS_PER_MS)
#define SHUTDOWN_GOAWAY_MIN_NS TIMEUTIL_NS_PER_SEC /* rpc_server_shutdown() */

enum method {
	METHOD_SIGNALS,
	METHOD_BATCHES,
	METHOD_COUNT,
};

static const char *const method_paths[METHOD_COUNT] = {
	"/signals.v1.SignalService/StreamSignals",
	"/signals.v1.SignalService/StreamSignalBatches",
};

#define OWNER RPC_OWNER
/* The most connections one wake_list() call groups streams by; a stream
 * of any further connection gets a wake of its own. */
#define WAKE_GROUPS_MAX 16

struct generic_slot {
	struct rpc_tag tag;
	struct rpc_server *srv;
	unsigned shard;
	grpc_call *call;
	grpc_call_details details;
	grpc_metadata_array md;
};

struct stream {
	struct parking_waiter waiter;
	struct linger_entry linger; /* while it holds its signals back */
	struct rpc_deadline deadline;
	/* Streams of its connection woken with it, by its wake (wake_list). */
	struct stream *wake_group;
	struct rpc_tag t_send, t_wake, t_close, t_status;
	struct rpc_server *srv;
	grpc_call *call;
	pthread_mutex_t lock;   /* completions of one call arrive on any poller */
	unsigned refs;          /* pending ops + parked; under lock */
	bool batches;
	bool lingering;         /* waits in srv->linger (see stream_pump) */
	bool backlog;           /* its last message left matching signals behind */
	bool send_in_flight;
	bool held;              /* owes its connection a conn_release() */
	bool finishing;         /* status sent */
	bool closed;            /* RECV_CLOSE_ON_SERVER completed: the call is over */
	int cancelled;
	const char *end_reason;
	uint64_t id;
	uint64_t next_seq;      /* next ring sequence to examine */
	uint64_t from_seq;      /* the request's from_sequence */
	uint64_t last_delivered;
	uint64_t delivered;     /* signals, not messages */
	uint32_t heartbeat_ms;
	int64_t linger_ns;      /* 0: sends what waits at once */
	_Atomic int64_t last_send_ns; /* monotonic; read by housekeeping */
	int64_t opened_ns;
	/* Made at the first send (a stream that never sends costs nothing),
	 * then reused by every send: emptied at its completion. */
	grpc_byte_buffer *send_bb;
	struct filter filter;
	struct conn *conn;      /* NULL if the server did not accept it itself */
	char *peer;             /* the core's name for it, only where conn is NULL */
	struct stream *prev, *next;       /* srv->streams */
	struct stream *hb_prev, *hb_next; /* srv->heartbeats */
};

/* One per shard: the tag of its server's shutdown. */
struct shutdown_tag {
	struct rpc_tag tag;
	struct rpc_server *srv;
};

struct rpc_server {
	struct rpc_config cfg;
	/*
	 * One completion queue per poller thread. cqs[0] polls the sockets;
	 * the others poll nothing (GRPC_CQ_NON_POLLING) and only carry
	 * completions. With every poller on one polling queue, the core's
	 * epoll engine handed its one polling role from thread to thread at
	 * nearly every wake-up, a futex wake and a context switch each time.
	 *
	 * And one core server per queue (a shard): servers[i] announces and
	 * binds its calls on cqs[i] only, and each connection is given to one
	 * server (on_connection). So every call of a connection, and the
	 * one wake per connection and tick (wake_list), complete on one
	 * queue: one poller drives the connection's transport, where calls
	 * spread over all the queues had the pollers contend for it, hand its
	 * work to the core's executor thread and wake each other.
	 */
	grpc_completion_queue **cqs;
	unsigned n_cqs;
	grpc_server **servers;           /* n_cqs once created */
	struct shutdown_tag *t_shutdowns; /* per shard */
	unsigned shutdowns_left;         /* under streams_lock */
	unsigned next_shard;             /* the next connection's; the listener's */
	struct rpc_method methods[METHOD_COUNT];
	struct generic_slot *generics;   /* GENERIC_ACCEPTS per shard */
	struct rpc_health *health;
	struct rpc_reflection *reflection;
	struct rpc_slices *slices;
	struct linger *linger;  /* from start until the streams are gone */
	struct deadline *deadlines; /* every call's deadline (rpc_deadline_arm) */
	struct listener *listener;
	struct conn_table *conns;
	grpc_server_credentials *creds;
	pthread_t *pollers;     /* poller i serves cqs[i] */
	unsigned n_pollers;     /* started */
	pthread_t housekeeper;
	bool housekeeper_started;
	atomic_bool shutting_down;

	pthread_mutex_t streams_lock;
	pthread_cond_t streams_cond; /* stream count changed; shutdown tag seen */
	struct stream *streams;
	struct stream *heartbeats;
	uint64_t n_streams;
	void (*subscribers_fn)(void *ctx, bool any); /* on n_streams 0 <-> 1 */
	void *subscribers_ctx;
	uint64_t next_id;
	bool shutdown_done;
	bool stop_housekeeping;
	bool stopped;
};

static void stream_pump(struct stream *s);
static void send_done(struct rpc_tag *tag, bool ok);
static void wake_done(struct rpc_tag *tag, bool ok);
static void close_done(struct rpc_tag *tag, bool ok);
static void status_done(struct rpc_tag *tag, bool ok);

/* ---- small helpers ---- */

static const char *status_name(grpc_status_code code)
{
	switch (code) {
	case GRPC_STATUS_OK:
		return "OK";
	case GRPC_STATUS_INVALID_ARGUMENT:
		return "INVALID_ARGUMENT";
	case GRPC_STATUS_OUT_OF_RANGE:
		return "OUT_OF_RANGE";
	case GRPC_STATUS_RESOURCE_EXHAUSTED:
		return "RESOURCE_EXHAUSTED";
	case GRPC_STATUS_UNAVAILABLE:
		return "UNAVAILABLE";
	case GRPC_STATUS_UNIMPLEMENTED:
		return "UNIMPLEMENTED";
	default:
		return "OTHER";
	}
}

/* The stream's connection. gRPC names a transport made from an accepted
 * socket "fd:N"; the peer is then the name the listener recorded, which the
 * stream reads from its connection rather than keep a copy (10,000 streams:
 * 1 MB). */
static void find_conn(struct rpc_server *srv, grpc_call *call, struct stream *s)
{
	char *peer = grpc_call_get_peer(call);
	int fd = -1, end = 0;

	if (peer != NULL && sscanf(peer, "fd:%d%n", &fd, &end) == 1 && peer[end] == '\0')
		s->conn = conn_table_get(srv->conns, fd);
	if (s->conn == NULL) {
		s->peer = peer;
		return;
	}
	gpr_free(peer);
}

static const char *stream_peer(const struct stream *s)
{
	if (s->conn != NULL)
		return conn_peer(s->conn);
	return s->peer != NULL ? s->peer : "?";
}

/* ---- accepting ---- */

static void arm_generic(struct generic_slot *g)
{
	struct rpc_server *srv = g->srv;
	grpc_call_error err;

	g->call = NULL;
	grpc_call_details_init(&g->details);
	grpc_metadata_array_init(&g->md);
	err = grpc_server_request_call(srv->servers[g->shard], &g->call, &g->details, &g->md,
				       srv->cqs[g->shard], srv->cqs[g->shard], &g->tag);
	if (err != GRPC_CALL_OK)
		log_error("call_error", "op=request_call code=%d", (int)err);
}

static void on_generic(struct generic_slot *g, bool ok)
{
	char method[256], quoted[300], msg[320];
	size_t len;

	if (ok) {
		len = GRPC_SLICE_LENGTH(g->details.method);
		if (len >= sizeof(method))
			len = sizeof(method) - 1;
		memcpy(method, GRPC_SLICE_START_PTR(g->details.method), len);
		method[len] = '\0';
		log_debug("unimplemented", "method=%s", log_quote(method, quoted, sizeof(quoted)));
		snprintf(msg, sizeof(msg), "unknown method %s", method);
		rpc_finish_call(g->call, GRPC_STATUS_UNIMPLEMENTED, msg);
	}
	grpc_call_details_destroy(&g->details);
	grpc_metadata_array_destroy(&g->md);
	/* A failed completion means the server is shutting down. */
	if (ok && !atomic_load(&g->srv->shutting_down))
		arm_generic(g);
}

/* Decodes and validates the request; on failure answers the call. */
static Signals__V1__SignalRequest *read_request(grpc_call *call, grpc_byte_buffer *payload)
{
	Signals__V1__SignalRequest *req = NULL;
	grpc_byte_buffer_reader reader;
	grpc_slice all;
	char err[192];

	if (payload == NULL) {
		rpc_finish_call(call, GRPC_STATUS_INVALID_ARGUMENT,
			    "request: no SignalRequest message was sent");
		return NULL;
	}
	if (!grpc_byte_buffer_reader_init(&reader, payload)) {
		rpc_finish_call(call, GRPC_STATUS_INVALID_ARGUMENT,
			    "request: cannot read the request message");
		return NULL;
	}
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	/* The only size check: the channel sets no receive limit (see
	 * rpc_server_create()). A compressed request is measured inflated. */
	if (GRPC_SLICE_LENGTH(all) > LIMITS_REQUEST_BYTES_MAX)
		snprintf(err, sizeof(err), "request: %zu bytes, larger than the limit of %d bytes",
			 GRPC_SLICE_LENGTH(all), LIMITS_REQUEST_BYTES_MAX);
	else
		request_decode(GRPC_SLICE_START_PTR(all), GRPC_SLICE_LENGTH(all), &req, err,
			       sizeof(err));
	grpc_slice_unref(all);
	if (req == NULL)
		rpc_finish_call(call, GRPC_STATUS_INVALID_ARGUMENT, err);
	return req;
}

static void stream_destroy(struct stream *s)
{
	struct rpc_server *srv = s->srv;
	char peer[128];
	double secs = (double)(timeutil_monotonic_ns() - s->opened_ns) / 1e9;

	/* A close the deadline caused says so, not "cancelled". */
	if (rpc_deadline_disarm(&s->deadline) && s->end_reason == NULL)
		s->end_reason = "deadline_exceeded";
	log_info("stream_close",
		 "id=%" PRIu64 " peer=%s delivered=%" PRIu64 " last_sequence=%" PRIu64
		 " reason=%s seconds=%.3f",
		 s->id, log_quote(stream_peer(s), peer, sizeof(peer)), s->delivered,
		 s->last_delivered,
		 s->end_reason != NULL ? s->end_reason : (s->cancelled ? "cancelled" : "ended"),
		 secs);
	pthread_mutex_lock(&srv->streams_lock);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		srv->streams = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	if (s->heartbeat_ms > 0) {
		if (s->hb_prev != NULL)
			s->hb_prev->hb_next = s->hb_next;
		else
			srv->heartbeats = s->hb_next;
		if (s->hb_next != NULL)
			s->hb_next->hb_prev = s->hb_prev;
	}
	if (--srv->n_streams == 0 && srv->subscribers_fn != NULL)
		srv->subscribers_fn(srv->subscribers_ctx, false);
	pthread_cond_broadcast(&srv->streams_cond);
	pthread_mutex_unlock(&srv->streams_lock);

	if (s->send_bb != NULL)
		grpc_byte_buffer_destroy(s->send_bb);
	grpc_call_unref(s->call);
	conn_unref(s->conn);
	gpr_free(s->peer);
	parking_waiter_finish(&s->waiter);
	filter_finish(&s->filter);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Drops one reference; the caller holds s->lock, which this releases. */
static void stream_unref_unlock(struct stream *s)
{
	bool last = --s->refs == 0;

	pthread_mutex_unlock(&s->lock);
	if (last)
		stream_destroy(s);
}

static void start_stream(struct rpc_server *srv, enum method method, grpc_call *call,
			 Signals__V1__SignalRequest *req, gpr_timespec deadline)
{
	struct stream *s = NULL;
	uint64_t oldest = ring_oldest(srv->cfg.ring);
	grpc_metadata epoch_md;
	char msg[192] = "server out of memory", peer[128];
	grpc_status_code code = GRPC_STATUS_RESOURCE_EXHAUSTED;
	grpc_call_error err;
	bool none;

	if (req->from_sequence != 0 && req->from_sequence < oldest) {
		snprintf(msg, sizeof(msg),
			 "from_sequence %" PRIu64 " is older than the oldest retained sequence %" PRIu64,
			 req->from_sequence, oldest);
		code = GRPC_STATUS_OUT_OF_RANGE;
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto fail;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail_free;
	s->srv = srv;
	s->call = call;
	s->batches = method == METHOD_BATCHES;
	s->t_send.done = send_done;
	s->t_wake.done = wake_done;
	s->t_close.done = close_done;
	s->t_status.done = status_done;
	s->heartbeat_ms = req->heartbeat_ms;
	s->linger_ns = (int64_t)req->linger_ms * TIMEUTIL_NS_PER_MS;
	if (s->linger_ns > srv->cfg.linger_max_ns)
		s->linger_ns = srv->cfg.linger_max_ns;
	s->opened_ns = timeutil_monotonic_ns();
	atomic_init(&s->last_send_ns, s->opened_ns);
	s->from_seq = req->from_sequence;
	s->next_seq = req->from_sequence != 0 ? req->from_sequence : ring_head(srv->cfg.ring) + 1;
	if (filter_init(&s->filter, srv->cfg.symtab, req->symbols, req->n_symbols,
			req->strategies, req->n_strategies, req->min_strength) < 0)
		goto fail_lock;
	none = filter_matches_nothing(&s->filter);
	if (parking_waiter_init(&s->waiter, !none && s->filter.all_symbols, s->filter.symbols,
				none ? 0 : s->filter.n_symbols) < 0)
		goto fail_filter;
	find_conn(srv, call, s);

	pthread_mutex_lock(&srv->streams_lock);
	if (srv->n_streams >= srv->cfg.max_streams) {
		pthread_mutex_unlock(&srv->streams_lock);
		snprintf(msg, sizeof(msg), "too many streams: the server's limit is %" PRIu64
			 " (--max-streams)", srv->cfg.max_streams);
		log_warn("stream_refused", "peer=%s reason=max_streams limit=%" PRIu64,
			 log_quote(stream_peer(s), peer, sizeof(peer)), srv->cfg.max_streams);
		goto fail_waiter;
	}
	s->id = ++srv->next_id;
	s->next = srv->streams;
	if (s->next != NULL)
		s->next->prev = s;
	srv->streams = s;
	if (s->heartbeat_ms > 0) {
		s->hb_next = srv->heartbeats;
		if (s->hb_next != NULL)
			s->hb_next->hb_prev = s;
		srv->heartbeats = s;
		pthread_cond_broadcast(&srv->streams_cond); /* the housekeeper may sleep */
	}
	if (srv->n_streams++ == 0 && srv->subscribers_fn != NULL)
		srv->subscribers_fn(srv->subscribers_ctx, true);
	pthread_mutex_unlock(&srv->streams_lock);

	log_info("stream_open",
		 "id=%" PRIu64 " peer=%s method=%s symbols=%zu strategies=%zu min_strength=%g"
		 " from_sequence=%" PRIu64 " heartbeat_ms=%" PRIu32 " linger_us=%" PRId64,
		 s->id, log_quote(stream_peer(s), peer, sizeof(peer)),
		 s->batches ? "StreamSignalBatches" : "StreamSignals", req->n_symbols,
		 req->n_strategies, req->min_strength, req->from_sequence, s->heartbeat_ms,
		 s->linger_ns / 1000);

	/* Initial metadata and the close watch in one batch: it completes when
	 * the call is over, whoever ends it. */
	epoch_md.key = grpc_slice_from_static_string("sigstream-epoch");
	epoch_md.value = grpc_slice_from_static_string(srv->cfg.epoch);
	pthread_mutex_lock(&s->lock);
	s->refs = 2; /* the close batch, and this function until it unlocks */
	rpc_deadline_arm(&s->deadline, &srv->methods[method], call, deadline);
	err = rpc_call_open(call, &epoch_md, 1, &s->cancelled, &s->t_close);
	if (err != GRPC_CALL_OK) {
		log_error("call_error", "op=start_stream code=%d", (int)err);
		s->refs--;
		s->closed = true;
		s->end_reason = "internal_error";
	}
	stream_pump(s);
	stream_unref_unlock(s);
	return;

fail_waiter:
	conn_unref(s->conn);
	gpr_free(s->peer);
	parking_waiter_finish(&s->waiter);
fail_filter:
	filter_finish(&s->filter);
fail_lock:
	pthread_mutex_destroy(&s->lock);
fail_free:
	free(s);
fail:
	rpc_finish_call(call, code, msg);
}

static void on_accept(struct rpc_method *m, grpc_call *call, grpc_byte_buffer *payload,
		      gpr_timespec deadline)
{
	struct rpc_server *srv = m->ctx;
	Signals__V1__SignalRequest *req;

	req = read_request(call, payload);
	if (req == NULL)
		return;
	if (atomic_load(&srv->shutting_down))
		rpc_finish_call(call, GRPC_STATUS_UNAVAILABLE, "shutting down");
	else if (m->kind == METHOD_SIGNALS && req->linger_ms != 0)
		/* A field that would silently do nothing is a trap. */
		rpc_finish_call(call, GRPC_STATUS_INVALID_ARGUMENT,
				"linger_ms: must be 0 on StreamSignals, which sends each signal at "
				"once; use StreamSignalBatches to batch");
	else
		start_stream(srv, (enum method)m->kind, call, req, deadline);
	signals__v1__signal_request__free_unpacked(req, NULL);
}

/* ---- a stream's send loop ---- */

/*
 * Builds the next message into `buf`: one Signal, or for batches the
 * already-serialised signals each behind SignalBatch's field-1 tag and
 * length. Returns its length (0: nothing to send, -ESTALE: overtaken) and
 * sets *more when another matching signal is already waiting.
 */
static int build_message(struct stream *s, uint8_t *buf, bool *more, uint32_t *count)
{
	struct ring *ring = s->srv->cfg.ring;
	uint8_t one[RING_PAYLOAD_MAX];
	struct ring_meta meta;
	uint64_t seq = s->next_seq;
	size_t len = 0;
	int rc;

	*more = false;
	*count = 0;
	/* One seqlock read per examined signal: its bytes come with it, so a
	 * delivered signal is not read twice. */
	for (;; seq++) {
		rc = ring_read(ring, seq, &meta, one);
		if (rc == -EAGAIN)
			break;
		if (rc < 0)
			return rc;
		if (!filter_match(&s->filter, &meta))
			continue;
		if (*count > 0 && (!s->batches || *count == LIMITS_BATCH_SIGNALS_MAX ||
				   len + 2 + RING_PAYLOAD_MAX > BATCH_BYTES_MAX)) {
			*more = true; /* left for the next message */
			break;
		}
		if (s->batches) {
			buf[len++] = 0x0a; /* SignalBatch.signals: field 1, length-delimited */
			len += wire_put_varint(buf + len, (uint64_t)rc);
		}
		memcpy(buf + len, one, (size_t)rc);
		len += (size_t)rc;
		s->last_delivered = seq;
		(*count)++;
	}
	s->next_seq = seq;
	return (int)len;
}

/* Sends `msg`, whose reference it takes. */
static void start_send(struct stream *s, grpc_slice msg, uint32_t flags)
{
	grpc_call_error err;

	if (s->send_bb == NULL)
		s->send_bb = grpc_raw_byte_buffer_create(NULL, 0);
	grpc_slice_buffer_add(&s->send_bb->data.raw.slice_buffer, msg);
	s->refs++;
	s->send_in_flight = true;
	atomic_store_explicit(&s->last_send_ns, timeutil_monotonic_ns(), memory_order_relaxed);
	err = rpc_call_send(s->call, s->send_bb, flags, &s->t_send);
	if (err != GRPC_CALL_OK) {
		log_error("call_error", "op=send id=%" PRIu64 " code=%d", s->id, (int)err);
		grpc_slice_buffer_reset_and_unref(&s->send_bb->data.raw.slice_buffer);
		s->send_in_flight = false;
		s->refs--;
		s->closed = true;
		s->end_reason = "internal_error";
	}
}

/*
 * A batch stream lingers when signals wait but not a full batch's worth:
 * counting every waiting signal, matching or not, errs on the side of
 * sending early.
 */
static bool worth_lingering(const struct stream *s)
{
	uint64_t head = ring_head(s->srv->cfg.ring);

	return head >= s->next_seq && head - s->next_seq + 1 < LIMITS_BATCH_SIGNALS_MAX;
}

/*
 * Hands the stream to the linger timer, which wakes it at the next multiple
 * of its linger on the monotonic clock after `now`: a signal waits at most
 * one linger, and every stream with the same linger_ms wakes at the same
 * instants, however it got there. So their connections flush once for all
 * of them, where waits counted from each stream's own last send drifted
 * apart and woke the timer nearly every millisecond.
 *
 * The caller owns the stream's next wake (holds its lock, or took it from
 * the parking index) and hands the timer a reference.
 */
static void linger_start(struct stream *s, int64_t now)
{
	s->lingering = true;
	linger_add(s->srv->linger, &s->linger, (now / s->linger_ns + 1) * s->linger_ns);
}

/* Ends the stream with a status. Caller holds s->lock; no send in flight. */
static void stream_finish(struct stream *s, grpc_status_code code, const char *reason,
			  const char *msg)
{
	grpc_call_error err;

	s->finishing = true;
	s->end_reason = reason;
	s->refs++;
	err = rpc_call_status(s->call, code, msg, &s->t_status);
	if (err != GRPC_CALL_OK) {
		log_error("call_error", "op=status id=%" PRIu64 " code=%d", s->id, (int)err);
		s->refs--;
	}
	log_debug("stream_status", "id=%" PRIu64 " code=%s", s->id, status_name(code));
}

/*
 * The send loop. Runs under s->lock on whichever thread saw the stream's
 * last completion (or accepted it): sends the next message if none is in
 * flight, else a due heartbeat, else parks.
 */
static void stream_pump(struct stream *s)
{
	/* On the stack, not _Thread_local: every thread of the process
	 * (gRPC's own included) zeroes its copy of the TLS block at start,
	 * so a TLS buffer costs 16 KB of RSS in each of 13 threads where
	 * only the pollers use it. Here only the pages a message fills are
	 * ever touched. */
	uint8_t buf[BATCH_BYTES_MAX + RING_PAYLOAD_MAX];
	struct rpc_server *srv = s->srv;
	char msg[256];
	bool more;
	uint32_t count;
	int len;

	for (;;) {
		if (s->finishing || s->closed || s->send_in_flight)
			return;
		if (atomic_load(&srv->shutting_down)) {
			snprintf(msg, sizeof(msg), "shutting down; resume from sequence %" PRIu64,
				 s->next_seq);
			stream_finish(s, GRPC_STATUS_UNAVAILABLE, "shutdown", msg);
			return;
		}
		/* What a full message left behind has waited already: it goes
		 * now, and only newer signals start a wait. */
		if (s->lingering) {
			s->lingering = false; /* its wait is over: send what came */
		} else if (s->linger_ns > 0 && !s->backlog && worth_lingering(s)) {
			s->refs++; /* the timer's */
			linger_start(s, timeutil_monotonic_ns());
			return;
		}
		len = build_message(s, buf, &more, &count);
		if (len == -ESTALE && s->delivered == 0 && s->from_seq != 0 &&
		    s->next_seq == s->from_seq) {
			/* The replay start went out of the ring between the
			 * check at accept and the first read: the same answer. */
			snprintf(msg, sizeof(msg),
				 "from_sequence %" PRIu64
				 " is older than the oldest retained sequence %" PRIu64,
				 s->from_seq, ring_oldest(srv->cfg.ring));
			stream_finish(s, GRPC_STATUS_OUT_OF_RANGE, "out_of_range", msg);
			return;
		}
		if (len == -ESTALE) {
			char last[32] = "none";

			if (s->delivered > 0)
				snprintf(last, sizeof(last), "%" PRIu64, s->last_delivered);
			snprintf(msg, sizeof(msg),
				 "slow consumer: the server's ring (%zu signals) overtook this stream; "
				 "last delivered sequence %s; resume from sequence %" PRIu64
				 " (oldest retained now %" PRIu64 ")",
				 ring_capacity(srv->cfg.ring), last, s->next_seq,
				 ring_oldest(srv->cfg.ring));
			stream_finish(s, GRPC_STATUS_RESOURCE_EXHAUSTED, "slow_consumer", msg);
			return;
		}
		if (len > 0) {
			/* One Signal: the slice every stream shares. A batch is
			 * this stream's own concatenation: one copy per message. */
			grpc_slice msg_slice =
				s->batches ? grpc_slice_from_copied_buffer((const char *)buf, (size_t)len)
					   : rpc_slices_get(srv->slices, s->last_delivered, buf,
							    (size_t)len);

			s->delivered += count;
			s->backlog = more;
			/* Hold back the flush only while more is known to follow:
			 * never on the last message of a backlog. */
			start_send(s, msg_slice, more ? GRPC_WRITE_BUFFER_HINT : 0);
			return;
		}
		if (s->heartbeat_ms > 0 &&
		    timeutil_monotonic_ns() -
				    atomic_load_explicit(&s->last_send_ns, memory_order_relaxed) >=
			    (int64_t)s->heartbeat_ms * TIMEUTIL_NS_PER_MS) {
			size_t n = hub_encode_heartbeat(ring_head(srv->cfg.ring), buf);

			if (s->batches) {
				/* A batch holding the one heartbeat Signal. */
				uint8_t head[1 + 10];
				size_t h = 1;

				head[0] = 0x0a;
				h += wire_put_varint(head + 1, n);
				memmove(buf + h, buf, n);
				memcpy(buf, head, h);
				n += h;
			}
			start_send(s, grpc_slice_from_copied_buffer((const char *)buf, n), 0);
			return;
		}
		s->refs++; /* parked: the stream stays alive until woken */
		if (parking_park(srv->cfg.parking, &s->waiter, srv->cfg.ring, s->next_seq))
			return;
		s->refs--; /* something arrived meanwhile: go round again */
	}
}

/*
 * A woken stream's hold (conn.h) ends once its bytes are on their way:
 * when it has started a send without the write hint, or when it has
 * nothing to send. The core writes an un-hinted send before start_batch
 * returns, unless another thread is in the transport just then (only
 * poller 0's socket reads can be: every call of the connection runs on
 * this poller); a late write still leaves, only not gathered with the
 * rest. A hinted send is only buffered by the core and completes at once:
 * the hold goes on through it to the send that carries it out, so a stream
 * with a backlog leaves in the same TCP send as its neighbours. (Ending
 * the hold at the first send's completion let each backlog's last message
 * out alone: 4 segments a tick for 4 such streams, 44k segments/s at
 * 20 x 10k/s instead of 10k. Holding on until that last send's completion
 * cost a trip through the queue per stream, and latency.)
 */
static void hold_settle(struct stream *s)
{
	/* A send carries the hint exactly when it left a backlog (stream_pump). */
	if (s->held && !(s->send_in_flight && s->backlog)) {
		s->held = false;
		conn_release(s->conn);
	}
}

static void on_send(struct stream *s, bool ok)
{
	pthread_mutex_lock(&s->lock);
	s->send_in_flight = false;
	/* Empty already where the core moves the message out at start_batch;
	 * releasing here is right for a core that reads it until completion. */
	grpc_slice_buffer_reset_and_unref(&s->send_bb->data.raw.slice_buffer);
	if (!ok) {
		/* The call is gone; the close completion says why. */
		s->closed = true;
	}
	stream_pump(s);
	hold_settle(s);
	stream_unref_unlock(s);
}

static void on_wake(struct stream *s)
{
	pthread_mutex_lock(&s->lock);
	/* What was published while it slept did not match: skip it, so a
	 * rarely-matching stream is not mistaken for a slow one. */
	if (s->waiter.resume > s->next_seq)
		s->next_seq = s->waiter.resume;
	stream_pump(s);
	s->held = true;
	hold_settle(s);
	stream_unref_unlock(s); /* the park reference the waker inherited */
}

static void on_close(struct stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->closed = true;
	if (parking_unpark(s->srv->cfg.parking, &s->waiter))
		s->refs--; /* we took the park reference back: nobody will wake it */
	stream_unref_unlock(s);
}

static void on_status(struct stream *s)
{
	pthread_mutex_lock(&s->lock);
	stream_unref_unlock(s);
}

/* Hands a wake (and the park reference that comes with it) to the stream's
 * poller side: the empty batch completes at once on the completion queue. */
static void wake_stream(struct stream *s)
{
	grpc_call_error err = grpc_call_start_batch(s->call, NULL, 0, &s->t_wake, NULL);

	if (err != GRPC_CALL_OK) {
		struct stream *g = s->wake_group;

		log_error("call_error", "op=wake id=%" PRIu64 " code=%d", s->id, (int)err);
		pthread_mutex_lock(&s->lock);
		conn_release(s->conn);
		stream_unref_unlock(s);
		/* The rest of its group still needs waking: each on its own. */
		while (g != NULL) {
			struct stream *next = g->wake_group;

			g->wake_group = NULL;
			wake_stream(g);
			g = next;
		}
	}
}

static void wake_list(struct parking_waiter *list)
{
	/* Every connection is held before the first wake goes out: a poller
	 * quick to take that wake must not find its connection's count back
	 * at zero, and flush, while the rest of the tick is still being
	 * woken. Each hold ends once its stream's last send has started
	 * (hold_settle). */
	int64_t now = list != NULL ? timeutil_monotonic_ns() : 0;
	struct stream *carriers[WAKE_GROUPS_MAX];
	unsigned n = 0;

	for (struct parking_waiter *w = list; w != NULL; w = w->wake_next)
		conn_hold(OWNER(w, struct stream, waiter)->conn, now);
	/*
	 * One empty batch per connection, not per stream: the poller that
	 * takes it starts the sends of all that connection's woken streams,
	 * one after another. That is one trip through the completion queue
	 * per connection and tick instead of one per stream, and the
	 * connection's transport is driven by one thread, not contended by
	 * all the pollers at once.
	 */
	while (list != NULL) {
		struct parking_waiter *next = list->wake_next;
		struct stream *s = OWNER(list, struct stream, waiter);
		unsigned i = 0;

		s->wake_group = NULL;
		while (s->conn != NULL && i < n && carriers[i]->conn != s->conn)
			i++;
		if (s->conn == NULL || i == WAKE_GROUPS_MAX) {
			wake_stream(s); /* no connection to share a wake with */
		} else if (i < n) {
			s->wake_group = carriers[i]->wake_group;
			carriers[i]->wake_group = s;
		} else {
			carriers[n++] = s;
		}
		list = next;
	}
	for (unsigned i = 0; i < n; i++)
		wake_stream(carriers[i]);
}

void rpc_wake_published(void *ctx, struct parking_waiter *list)
{
	struct rpc_server *srv = ctx;
	struct parking_waiter *now = NULL;
	int64_t t = list != NULL ? timeutil_monotonic_ns() : 0;
	/* After shutdown began nothing waits (the timer is flushing, but the
	 * wake is sooner this way). */
	bool may_linger = !atomic_load_explicit(&srv->shutting_down, memory_order_relaxed);

	while (list != NULL) {
		struct parking_waiter *next = list->wake_next;
		struct stream *s = OWNER(list, struct stream, waiter);

		/* A lingering batch stream starts its wait here, with the
		 * park reference passing to the timer. */
		if (s->linger_ns > 0 && may_linger) {
			linger_start(s, t);
		} else {
			list->wake_next = now;
			now = list;
		}
		list = next;
	}
	wake_list(now);
}

/* The linger timer's callback: these streams' waits are over. */
static void linger_fired(void *ctx, struct linger_entry *list)
{
	struct parking_waiter *wake = NULL;

	(void)ctx;
	for (struct linger_entry *e = list; e != NULL; e = e->next) {
		struct stream *s = OWNER(e, struct stream, linger);

		s->waiter.wake_next = wake;
		wake = &s->waiter;
	}
	wake_list(wake);
}

/* ---- threads ---- */

static void generic_done(struct rpc_tag *tag, bool ok)
{
	on_generic(OWNER(tag, struct generic_slot, tag), ok);
}

static void send_done(struct rpc_tag *tag, bool ok)
{
	on_send(OWNER(tag, struct stream, t_send), ok);
}

static void wake_done(struct rpc_tag *tag, bool ok)
{
	struct stream *s = OWNER(tag, struct stream, t_wake);
	/* Read first: once woken, a stream may park and be woken again,
	 * which rewrites its group. */
	struct stream *g = s->wake_group;

	(void)ok;
	on_wake(s);
	while (g != NULL) {
		struct stream *next = g->wake_group;

		on_wake(g);
		g = next;
	}
}

static void close_done(struct rpc_tag *tag, bool ok)
{
	(void)ok;
	on_close(OWNER(tag, struct stream, t_close));
}

static void status_done(struct rpc_tag *tag, bool ok)
{
	(void)ok;
	on_status(OWNER(tag, struct stream, t_status));
}

static void shutdown_done(struct rpc_tag *tag, bool ok)
{
	struct rpc_server *srv = OWNER(tag, struct shutdown_tag, tag)->srv;

	(void)ok;
	pthread_mutex_lock(&srv->streams_lock);
	if (--srv->shutdowns_left == 0) {
		srv->shutdown_done = true;
		pthread_cond_broadcast(&srv->streams_cond);
	}
	pthread_mutex_unlock(&srv->streams_lock);
}

/*
 * Hands every completion of `cq` to its tag until the queue is shut down
 * and empty. No timeout: an idle server sleeps in the kernel. `fail_all`
 * reports every completion as failed (draining a server that never ran).
 */
static void run_queue(grpc_completion_queue *cq, bool fail_all)
{
	for (;;) {
		grpc_event ev =
			grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type == GRPC_OP_COMPLETE)
			((struct rpc_tag *)ev.tag)->done(ev.tag, !fail_all && ev.success != 0);
	}
}

static void *poller_main(void *arg)
{
	run_queue(arg, false);
	return NULL;
}

/* Wakes parked streams whose heartbeat is due. Sleeps on a condition
 * variable while no stream asked for heartbeats. */
static void *housekeeper_main(void *arg)
{
	struct rpc_server *srv = arg;
	int64_t deadline = timeutil_monotonic_ns();

	pthread_mutex_lock(&srv->streams_lock);
	while (!srv->stop_housekeeping) {
		if (srv->heartbeats == NULL) {
			pthread_cond_wait(&srv->streams_cond, &srv->streams_lock);
			deadline = timeutil_monotonic_ns();
			continue;
		}
		int64_t now = timeutil_monotonic_ns();
		struct parking_waiter *due = NULL;

		for (struct stream *s = srv->heartbeats; s != NULL; s = s->hb_next) {
			int64_t last = atomic_load_explicit(&s->last_send_ns, memory_order_relaxed);

			/* Unparking hands us the park reference: the stream stays
			 * alive until its wake completes, even after we unlock. */
			if (now - last >= (int64_t)s->heartbeat_ms * TIMEUTIL_NS_PER_MS &&
			    parking_unpark(srv->cfg.parking, &s->waiter)) {
				s->waiter.wake_next = due;
				due = &s->waiter;
			}
		}
		pthread_mutex_unlock(&srv->streams_lock);
		wake_list(due);
		deadline += HOUSEKEEPING_PERIOD_NS;
		if (deadline < now)
			deadline = now + HOUSEKEEPING_PERIOD_NS;
		timeutil_sleep_until(deadline);
		pthread_mutex_lock(&srv->streams_lock);
	}
	pthread_mutex_unlock(&srv->streams_lock);
	return NULL;
}

/* ---- lifecycle ---- */

/* The pollers' queues (see struct rpc_server): 0 or -ENOMEM. */
static int cqs_create(struct rpc_server *srv)
{
	grpc_completion_queue_attributes quiet = {
		.version = 1,
		.cq_completion_type = GRPC_CQ_NEXT,
		.cq_polling_type = GRPC_CQ_NON_POLLING,
	};
	const grpc_completion_queue_factory *factory = grpc_completion_queue_factory_lookup(&quiet);

	srv->cqs = calloc(srv->cfg.threads, sizeof(*srv->cqs));
	if (srv->cqs == NULL || factory == NULL)
		return -ENOMEM;
	for (; srv->n_cqs < srv->cfg.threads; srv->n_cqs++) {
		grpc_completion_queue *cq =
			srv->n_cqs == 0 ? grpc_completion_queue_create_for_next(NULL)
					: grpc_completion_queue_create(factory, &quiet, NULL);

		if (cq == NULL)
			return -ENOMEM;
		srv->cqs[srv->n_cqs] = cq;
	}
	return 0;
}

/* Shuts down queues `from`.. and takes their remaining completions as
 * failed: for queues no poller serves. */
static void cqs_drain(struct rpc_server *srv, unsigned from)
{
	for (unsigned i = from; i < srv->n_cqs; i++) {
		grpc_completion_queue_shutdown(srv->cqs[i]);
		run_queue(srv->cqs[i], true);
	}
}

/* After they are shut down and drained. */
static void cqs_destroy(struct rpc_server *srv)
{
	for (unsigned i = 0; i < srv->n_cqs; i++)
		grpc_completion_queue_destroy(srv->cqs[i]);
	free(srv->cqs);
	srv->cqs = NULL;
	srv->n_cqs = 0;
}

/* One core server per queue, each taking calls on its queue only: 0 or
 * -ENOMEM. The generic slots and shutdown tags go with them. */
static int servers_create(struct rpc_server *srv, const grpc_channel_args *chargs)
{
	srv->servers = calloc(srv->n_cqs, sizeof(*srv->servers));
	srv->t_shutdowns = calloc(srv->n_cqs, sizeof(*srv->t_shutdowns));
	srv->generics = calloc((size_t)srv->n_cqs * GENERIC_ACCEPTS, sizeof(*srv->generics));
	if (srv->servers == NULL || srv->t_shutdowns == NULL || srv->generics == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < srv->n_cqs; i++) {
		srv->servers[i] = grpc_server_create(chargs, NULL);
		if (srv->servers[i] == NULL)
			return -ENOMEM;
		grpc_server_register_completion_queue(srv->servers[i], srv->cqs[i], NULL);
		srv->t_shutdowns[i] = (struct shutdown_tag){{shutdown_done}, srv};
	}
	for (unsigned i = 0; i < srv->n_cqs * GENERIC_ACCEPTS; i++)
		srv->generics[i] = (struct generic_slot){
			.tag.done = generic_done, .srv = srv, .shard = i / GENERIC_ACCEPTS};
	return 0;
}

/* Starts every server's shutdown: each sends its GOAWAYs, and its tag
 * completes on its own queue once its connections are gone. Once. */
static void servers_shutdown(struct rpc_server *srv)
{
	pthread_mutex_lock(&srv->streams_lock);
	srv->shutdowns_left = srv->n_cqs;
	pthread_mutex_unlock(&srv->streams_lock);
	for (unsigned i = 0; i < srv->n_cqs; i++)
		grpc_server_shutdown_and_notify(srv->servers[i], srv->cqs[i],
						&srv->t_shutdowns[i].tag);
}

static void servers_cancel_calls(struct rpc_server *srv)
{
	for (unsigned i = 0; i < srv->n_cqs; i++)
		grpc_server_cancel_all_calls(srv->servers[i]);
}

static void servers_destroy(struct rpc_server *srv)
{
	for (unsigned i = 0; srv->servers != NULL && i < srv->n_cqs; i++) {
		if (srv->servers[i] != NULL)
			grpc_server_destroy(srv->servers[i]);
	}
	free(srv->servers);
	free(srv->t_shutdowns);
	free(srv->generics);
	srv->servers = NULL;
	srv->t_shutdowns = NULL;
	srv->generics = NULL;
}

/* On the listener's thread: a new client connection. */
static void on_connection(void *ctx, int fd, const char *peer)
{
	struct rpc_server *srv = ctx;
	/* Round robin: connections are long-lived, so each shard's count
	 * stays within one of the others' as they arrive. */
	unsigned shard = srv->next_shard++ % srv->n_cqs;
	char q[128];

	/* Without an entry the connection still works, only never held. */
	if (conn_table_add(srv->conns, fd, peer) < 0)
		log_warn("connection_untracked", "peer=%s fd=%d", log_quote(peer, q, sizeof(q)), fd);
	log_debug("connection_open", "peer=%s shard=%u", log_quote(peer, q, sizeof(q)), shard);
	grpc_server_add_channel_from_fd(srv->servers[shard], fd, srv->creds);
}

struct rpc_server *rpc_server_create(const struct rpc_config *cfg, int *port, char *err,
				     size_t err_cap)
{
	struct rpc_server *srv = calloc(1, sizeof(*srv));
	struct rpc_host host;
	int64_t age_ms = (int64_t)cfg->max_connection_age_s * 1000;
	grpc_arg args[] = {
		/* Streams are endless: find dead peers (and keep NAT and load
		 * balancer idle timers from cutting healthy ones). */
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_TIME_MS,
		 .value.integer = (int)(cfg->keepalive_s * 1000)},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_TIMEOUT_MS, .value.integer = 20000},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
		 .value.integer = 1},
		/* Let clients ping every 10 s while streaming (gRFC A8). */
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
		 .value.integer = 10000},
		/* gRFC A9: behind a Kubernetes Service, connections (and so the
		 * streams on them) must end now and then, or new replicas never
		 * get traffic. Clients resume from their last sequence. */
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_CONNECTION_AGE_MS,
		 .value.integer = age_ms > 0 && age_ms < INT32_MAX ? (int)age_ms : INT32_MAX},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
		 .value.integer = 30000},
		/*
		 * Two filters fewer in every call's stack, ~0.25 KB less per
		 * open stream: the server never compresses what it sends, and
		 * each handler checks the size of the request it reads against
		 * its own limit (LIMITS_REQUEST_BYTES_MAX for SignalRequest),
		 * which the message size filter also did only once the whole
		 * message had arrived, and answered RESOURCE_EXHAUSTED without
		 * naming the request. With no receive limit set, that filter is
		 * left out. The decompression filter stays: a request read with
		 * the call arrives inflated only through it.
		 */
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_PER_MESSAGE_COMPRESSION,
		 .value.integer = 0},
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		 .value.integer = -1},
		/* And the deadline filter: its timer and state cost each call
		 * 0.25 KB (2.5 MB at 10,000 streams). The server keeps the
		 * deadlines itself, in one heap (srv->deadlines). */
		{.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ENABLE_DEADLINE_CHECKS,
		 .value.integer = 0},
	};
	grpc_channel_args chargs = {.num_args = sizeof(args) / sizeof(args[0]), .args = args};

	if (srv == NULL) {
		snprintf(err, err_cap, "out of memory");
		return NULL;
	}
	srv->cfg = *cfg;
	srv->slices = rpc_slices_create(RPC_SLICES_DEFAULT);
	if (srv->slices == NULL) {
		snprintf(err, err_cap, "out of memory");
		free(srv);
		return NULL;
	}
	atomic_init(&srv->shutting_down, false);
	pthread_mutex_init(&srv->streams_lock, NULL);
	/* Shutdown waits on it with monotonic deadlines. */
	if (timeutil_cond_init_monotonic(&srv->streams_cond) < 0) {
		snprintf(err, err_cap, "cannot create a condition variable");
		goto fail_cond;
	}
	if (deadline_create(&srv->deadlines, rpc_deadline_fire, NULL) < 0) {
		snprintf(err, err_cap, "cannot start the deadline timer");
		goto fail_deadlines;
	}
	if (cqs_create(srv) < 0) {
		snprintf(err, err_cap, "out of memory");
		goto fail_cqs;
	}
	if (servers_create(srv, &chargs) < 0) {
		snprintf(err, err_cap, "out of memory");
		goto fail;
	}
	host = (struct rpc_host){srv->servers, srv->cqs, srv->n_cqs, srv->deadlines};
	for (int m = 0; m < METHOD_COUNT; m++) {
		srv->methods[m] = (struct rpc_method){
			.path = method_paths[m],
			.payload = true,
			.n_slots = ACCEPTS_PER_METHOD,
			.on_call = on_accept,
			.ctx = srv,
			.kind = m,
		};
		if (rpc_method_register(&srv->methods[m], &host) < 0) {
			snprintf(err, err_cap, "cannot register %s", method_paths[m]);
			goto fail;
		}
	}
	/* The server accepts its connections itself (listener.h) and hands
	 * them to the core: it must know their sockets (conn.h). */
	srv->conns = conn_table_create(0);
	srv->creds = grpc_insecure_server_credentials_create();
	if (srv->conns == NULL || srv->creds == NULL) {
		snprintf(err, err_cap, "out of memory");
		goto fail;
	}
	if (listener_create(&srv->listener, cfg->listen, on_connection, srv, port, err, err_cap) < 0)
		goto fail;
	/* Health and reflection register their methods: before start. */
	srv->health = rpc_health_create(&host);
	srv->reflection = srv->health != NULL ? rpc_reflection_create(&host) : NULL;
	if (srv->reflection == NULL) {
		snprintf(err, err_cap, "cannot set up health checking and reflection: %s",
			 strerror(errno));
		goto fail;
	}
	return srv;

fail:
	/* Never started: destroy directly. */
	listener_destroy(srv->listener);
	rpc_health_destroy(srv->health);
	for (int m = 0; m < METHOD_COUNT; m++)
		rpc_method_finish(&srv->methods[m]);
	servers_destroy(srv);
	if (srv->creds != NULL)
		grpc_server_credentials_release(srv->creds);
	conn_table_destroy(srv->conns);
	cqs_drain(srv, 0); /* nothing was armed: only the shutdowns */
fail_cqs:
	cqs_destroy(srv);
	deadline_destroy(srv->deadlines);
fail_deadlines:
	pthread_cond_destroy(&srv->streams_cond);
fail_cond:
	pthread_mutex_destroy(&srv->streams_lock);
	rpc_slices_destroy(srv->slices);
	free(srv);
	return NULL;
}

void rpc_server_watch_subscribers(struct rpc_server *srv, void (*fn)(void *ctx, bool any),
				  void *ctx)
{
	pthread_mutex_lock(&srv->streams_lock);
	srv->subscribers_fn = fn;
	srv->subscribers_ctx = ctx;
	pthread_mutex_unlock(&srv->streams_lock);
}

int rpc_server_start(struct rpc_server *srv)
{
	int rc;

	for (unsigned i = 0; i < srv->n_cqs; i++)
		grpc_server_start(srv->servers[i]);
	for (int m = 0; m < METHOD_COUNT; m++)
		rpc_method_start(&srv->methods[m]);
	for (unsigned i = 0; i < srv->n_cqs * GENERIC_ACCEPTS; i++)
		arm_generic(&srv->generics[i]);
	rpc_health_start(srv->health);
	rpc_reflection_start(srv->reflection);
	rc = linger_create(&srv->linger, linger_fired, srv);
	if (rc < 0)
		return rc;
	srv->pollers = calloc(srv->n_cqs, sizeof(*srv->pollers));
	if (srv->pollers == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < srv->n_cqs; i++) {
		rc = pthread_create(&srv->pollers[i], NULL, poller_main, srv->cqs[i]);
		if (rc != 0)
			return -rc;
		srv->n_pollers++;
	}
	rc = pthread_create(&srv->housekeeper, NULL, housekeeper_main, srv);
	if (rc != 0)
		return -rc;
	srv->housekeeper_started = true;
	/* Last: connections queue in the kernel's backlog until the core
	 * can take them. */
	return listener_start(srv->listener);
}

/* Waits on streams_cond until `done` or the monotonic deadline. */
static bool wait_until(struct rpc_server *srv, bool (*done)(struct rpc_server *), int64_t deadline)
{
	struct timespec ts = timeutil_timespec(deadline);
	bool ok;

	pthread_mutex_lock(&srv->streams_lock);
	while (!(ok = done(srv)) && timeutil_monotonic_ns() < deadline)
		pthread_cond_timedwait(&srv->streams_cond, &srv->streams_lock, &ts);
	pthread_mutex_unlock(&srv->streams_lock);
	return ok;
}

static bool no_streams(struct rpc_server *srv)
{
	return srv->n_streams == 0;
}

static bool server_shut(struct rpc_server *srv)
{
	return srv->shutdown_done;
}

void rpc_server_shutdown(struct rpc_server *srv, int64_t grace_ns)
{
	int64_t deadline = timeutil_monotonic_ns() + grace_ns;
	bool graceful;

	if (srv->stopped)
		return;
	srv->stopped = true;
	/* Health first, while every stream still runs: watchers (load
	 * balancers) must hear NOT_SERVING before any stream ends, and a busy
	 * stream ends at its next send completion once shutting_down is set. */
	rpc_health_shutdown(srv->health);
	atomic_store(&srv->shutting_down, true);
	/* A reflection stream idles between its client's requests: end it, or
	 * grpc_server_shutdown_and_notify waits out the grace period. */
	rpc_reflection_shutdown(srv->reflection);
	listener_stop(srv->listener);
	if (srv->n_pollers == 0) {
		/* Startup failed before the pollers ran: drain here. */
		servers_shutdown(srv);
		servers_cancel_calls(srv);
		cqs_drain(srv, 0);
		linger_destroy(srv->linger);
		srv->linger = NULL;
		return;
	}
	/* Parked and lingering streams learn of the shutdown when woken; the
	 * others at their send's completion. */
	wake_list(parking_collect_all(srv->cfg.parking));
	if (srv->linger != NULL)
		linger_flush(srv->linger);
	graceful = wait_until(srv, no_streams, deadline);
	/* Only now the GOAWAY. The core closes a connection as soon as its
	 * last stream is gone after the GOAWAY went out; the client's window
	 * updates then lie unread in the socket, so the close is a TCP reset,
	 * and a reset throws away whatever of ours is still queued or unread
	 * by the client: the last streams' statuses and their resume points.
	 * Sent after the streams ended, the GOAWAY's ping is answered only
	 * once the client has read every status before it, and the core
	 * closes after that answer. Calls that arrive meanwhile are refused
	 * UNAVAILABLE at once. */
	servers_shutdown(srv);
	if (!graceful) {
		log_warn("shutdown_cancel", "streams=%" PRIu64 " reason=grace_expired",
			 srv->n_streams);
		servers_cancel_calls(srv);
	}
	/* The GOAWAY's ping gets what is left of the grace, and at least
	 * SHUTDOWN_GOAWAY_MIN_NS even when the streams took all of it: a
	 * client that does not answer by then is disconnected. */
	if (deadline < timeutil_monotonic_ns() + SHUTDOWN_GOAWAY_MIN_NS)
		deadline = timeutil_monotonic_ns() + SHUTDOWN_GOAWAY_MIN_NS;
	if (!wait_until(srv, server_shut, deadline)) {
		log_warn("shutdown_disconnect", "reason=connections_open");
		servers_cancel_calls(srv);
		wait_until(srv, server_shut, timeutil_monotonic_ns() + 5 * TIMEUTIL_NS_PER_SEC);
	}
	pthread_mutex_lock(&srv->streams_lock);
	srv->stop_housekeeping = true;
	pthread_cond_broadcast(&srv->streams_cond);
	pthread_mutex_unlock(&srv->streams_lock);
	if (srv->housekeeper_started)
		pthread_join(srv->housekeeper, NULL);
	srv->housekeeper_started = false;
	/* Its last wakes (none, unless streams were cancelled) still need the
	 * pollers. */
	linger_destroy(srv->linger);
	srv->linger = NULL;
	for (unsigned i = 0; i < srv->n_cqs; i++)
		grpc_completion_queue_shutdown(srv->cqs[i]);
	for (unsigned i = 0; i < srv->n_pollers; i++)
		pthread_join(srv->pollers[i], NULL);
	/* Queues whose poller failed to start: drained here. */
	cqs_drain(srv, srv->n_pollers);
	srv->n_pollers = 0;
}

void rpc_server_destroy(struct rpc_server *srv)
{
	if (srv == NULL)
		return;
	rpc_server_shutdown(srv, 0);
	/* Only now: the drained queue holds no more of their tags. */
	rpc_reflection_destroy(srv->reflection);
	rpc_health_destroy(srv->health);
	listener_destroy(srv->listener);
	for (int m = 0; m < METHOD_COUNT; m++)
		rpc_method_finish(&srv->methods[m]);
	servers_destroy(srv);
	grpc_server_credentials_release(srv->creds);
	conn_table_destroy(srv->conns);
	cqs_destroy(srv);
	/* After the queues: every call's owner is gone, and disarmed. */
	deadline_destroy(srv->deadlines);
	free(srv->pollers);
	pthread_cond_destroy(&srv->streams_cond);
	pthread_mutex_destroy(&srv->streams_lock);
	rpc_slices_destroy(srv->slices);
	free(srv);
}
