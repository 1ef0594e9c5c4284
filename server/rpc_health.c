/*
 * rpc_health — grpc.health.v1.Health on the C core. See rpc_health.h.
 *
 * Health traffic is a handful of calls, so one mutex guards everything
 * here: the serving states, the watch list and every Watch call's state.
 * A Watch call is a tiny loop on the poller threads: at most one
 * SEND_MESSAGE in flight, and whenever the status it last sent differs from
 * the current one it sends the current one; once shutdown began and the
 * watcher has the final status, it ends the call.
 */
#include "server/rpc_health.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/slice.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "server/health.pb-c.h"
#include "server/rpc_internal.h"

#define HEALTH_ACCEPTS 2          /* request_registered_calls kept armed per method */
#define HEALTH_WATCHES_MAX 1024   /* open Watch calls; beyond: RESOURCE_EXHAUSTED */
#define HEALTH_REQUEST_BYTES_MAX 4096
/* How long shutdown waits for watchers to be handed NOT_SERVING: a watcher
 * that stopped reading must not hold the server up. */
#define HEALTH_NOTIFY_WAIT_NS (1 * TIMEUTIL_NS_PER_SEC)

#define SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
#define NOT_SERVING GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
#define SERVICE_UNKNOWN GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

/* The services whose health we report; "" is the server as a whole. */
static const char *const health_services[] = {
	"",
	"signals.v1.SignalService",
};

#define N_SERVICES (sizeof(health_services) / sizeof(health_services[0]))

enum health_method {
	HEALTH_CHECK,
	HEALTH_WATCH,
	HEALTH_METHODS,
};

static const char *const health_paths[HEALTH_METHODS] = {
	"/grpc.health.v1.Health/Check",
	"/grpc.health.v1.Health/Watch",
};

/* A Check's answer in flight: message, status and close in one batch. */
struct check_reply {
	struct rpc_tag tag;
	grpc_call *call;
	grpc_byte_buffer *bb;
	int cancelled;
};

struct watch {
	struct rpc_tag t_close, t_send, t_status;
	struct rpc_health *h;
	grpc_call *call;
	struct rpc_deadline deadline;
	int service;          /* index into health_services; -1: unknown name */
	int sent;             /* status the watcher has; -1: none yet */
	int sending;          /* status of the send in flight */
	unsigned refs;        /* pending batches, + the accept path while it runs */
	bool send_pending;
	bool finishing;       /* status sent */
	bool closed;          /* the call is over: start nothing more */
	int cancelled;
	grpc_byte_buffer *send_bb;
	struct watch *prev, *next;
};

struct rpc_health {
	struct rpc_method methods[HEALTH_METHODS];
	pthread_mutex_t lock;  /* everything below, and every watch's state */
	pthread_cond_t cond;   /* a watch got its final status or ended (CLOCK_MONOTONIC) */
	int status[N_SERVICES];
	bool shutting_down;
	struct watch *watches;
	unsigned n_watches;
};

static void check_done(struct rpc_tag *tag, bool ok);
static void watch_close_done(struct rpc_tag *tag, bool ok);
static void watch_send_done(struct rpc_tag *tag, bool ok);
static void watch_status_done(struct rpc_tag *tag, bool ok);

static const char *status_name(int status)
{
	switch (status) {
	case SERVING:
		return "SERVING";
	case NOT_SERVING:
		return "NOT_SERVING";
	case SERVICE_UNKNOWN:
		return "SERVICE_UNKNOWN";
	default:
		return "UNKNOWN";
	}
}

static int find_service(const char *name)
{
	for (size_t i = 0; i < N_SERVICES; i++) {
		if (strcmp(name, health_services[i]) == 0)
			return (int)i;
	}
	return -1;
}

/*
 * Decodes the request; NULL (after answering the call INVALID_ARGUMENT)
 * when there is none or it is not a HealthCheckRequest.
 */
static Grpc__Health__V1__HealthCheckRequest *read_request(grpc_call *call,
							   grpc_byte_buffer *payload)
{
	Grpc__Health__V1__HealthCheckRequest *req = NULL;
	grpc_byte_buffer_reader reader;
	grpc_slice all;
	bool too_big = false;

	if (payload == NULL || !grpc_byte_buffer_reader_init(&reader, payload)) {
		rpc_finish_call(call, GRPC_STATUS_INVALID_ARGUMENT,
				"request: no HealthCheckRequest message was sent");
		return NULL;
	}
	all = grpc_byte_buffer_reader_readall(&reader);
	grpc_byte_buffer_reader_destroy(&reader);
	if (GRPC_SLICE_LENGTH(all) <= HEALTH_REQUEST_BYTES_MAX)
		req = grpc__health__v1__health_check_request__unpack(NULL, GRPC_SLICE_LENGTH(all),
								      GRPC_SLICE_START_PTR(all));
	else
		too_big = true;
	grpc_slice_unref(all);
	if (req == NULL)
		rpc_finish_call(call, GRPC_STATUS_INVALID_ARGUMENT,
				too_big ? "request: HealthCheckRequest over 4096 bytes"
					: "request: not a valid grpc.health.v1.HealthCheckRequest");
	return req;
}

/* A HealthCheckResponse as a byte buffer the caller destroys after sending. */
static grpc_byte_buffer *encode_response(int status)
{
	Grpc__Health__V1__HealthCheckResponse resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
	grpc_byte_buffer *bb;
	grpc_slice slice;

	resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)status;
	slice = grpc_slice_malloc(grpc__health__v1__health_check_response__get_packed_size(&resp));
	grpc__health__v1__health_check_response__pack(&resp, GRPC_SLICE_START_PTR(slice));
	bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

/* ---- Check ---- */

static void check_reply(grpc_call *call, int status)
{
	struct check_reply *c = calloc(1, sizeof(*c));
	grpc_op ops[4];
	grpc_call_error err;

	if (c == NULL) {
		rpc_finish_call(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "server out of memory");
		return;
	}
	c->tag.done = check_done;
	c->call = call;
	c->bb = encode_response(status);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = c->bb;
	ops[2].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[2].data.send_status_from_server.status = GRPC_STATUS_OK;
	ops[3].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
	ops[3].data.recv_close_on_server.cancelled = &c->cancelled;
	err = grpc_call_start_batch(call, ops, 4, &c->tag, NULL);
	if (err != GRPC_CALL_OK) {
		log_error("call_error", "op=health_check code=%d", (int)err);
		check_done(&c->tag, false);
	}
}

static void on_check(struct rpc_health *h, grpc_call *call, grpc_byte_buffer *payload)
{
	Grpc__Health__V1__HealthCheckRequest *req = read_request(call, payload);
	char name[96];
	int idx, status;

	if (req == NULL)
		return;
	idx = find_service(req->service);
	if (idx < 0) {
		log_debug("health_check", "service=%s status=NOT_FOUND",
			  log_quote(req->service, name, sizeof(name)));
		rpc_finish_call(call, GRPC_STATUS_NOT_FOUND, "unknown service");
		goto out;
	}
	pthread_mutex_lock(&h->lock);
	status = h->status[idx];
	pthread_mutex_unlock(&h->lock);
	log_debug("health_check", "service=%s status=%s",
		  log_quote(req->service, name, sizeof(name)), status_name(status));
	check_reply(call, status);
out:
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

/* ---- Watch ---- */

/* Drops one reference; the caller holds h->lock, which this releases. */
static void watch_unref_unlock(struct watch *w)
{
	struct rpc_health *h = w->h;
	bool last = --w->refs == 0;

	if (last) {
		if (w->prev != NULL)
			w->prev->next = w->next;
		else
			h->watches = w->next;
		if (w->next != NULL)
			w->next->prev = w->prev;
		h->n_watches--;
		pthread_cond_broadcast(&h->cond);
	}
	pthread_mutex_unlock(&h->lock);
	if (!last)
		return;
	rpc_deadline_disarm(&w->deadline);
	if (w->send_bb != NULL)
		grpc_byte_buffer_destroy(w->send_bb);
	grpc_call_unref(w->call);
	free(w);
}

/* A batch could not start: the call is unusable, so cancel it (its close
 * completion then tidies up) and start nothing more. Under h->lock. */
static void watch_broken(struct watch *w, const char *op, grpc_call_error err)
{
	log_error("call_error", "op=%s code=%d", op, (int)err);
	w->closed = true;
	grpc_call_cancel(w->call, NULL);
	pthread_cond_broadcast(&w->h->cond);
}

static void watch_finish(struct watch *w, grpc_status_code code, const char *msg)
{
	grpc_call_error err;

	w->finishing = true;
	w->refs++;
	err = rpc_call_status(w->call, code, msg, &w->t_status);
	if (err != GRPC_CALL_OK) {
		w->refs--;
		watch_broken(w, "health_watch_status", err);
	}
	pthread_cond_broadcast(&w->h->cond);
}

/* Under h->lock: sends the current status if the watcher lacks it, else
 * ends the call once shutdown began. */
static void watch_pump(struct watch *w)
{
	struct rpc_health *h = w->h;
	int cur = w->service < 0 ? SERVICE_UNKNOWN : h->status[w->service];
	grpc_call_error err;

	if (w->closed || w->finishing || w->send_pending)
		return;
	if (cur == w->sent) {
		if (h->shutting_down)
			watch_finish(w, GRPC_STATUS_UNAVAILABLE, "shutting down");
		return;
	}
	w->send_bb = encode_response(cur);
	w->sending = cur;
	w->send_pending = true;
	w->refs++;
	err = rpc_call_send(w->call, w->send_bb, 0, &w->t_send);
	if (err != GRPC_CALL_OK) {
		w->refs--;
		w->send_pending = false;
		grpc_byte_buffer_destroy(w->send_bb);
		w->send_bb = NULL;
		watch_broken(w, "health_watch_send", err);
	}
}

static void on_watch(struct rpc_health *h, const struct rpc_method *m, grpc_call *call,
		     grpc_byte_buffer *payload, gpr_timespec deadline)
{
	Grpc__Health__V1__HealthCheckRequest *req = read_request(call, payload);
	struct watch *w = NULL;
	char name[96];
	grpc_call_error err;

	if (req == NULL)
		return;
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		rpc_finish_call(call, GRPC_STATUS_RESOURCE_EXHAUSTED, "server out of memory");
		goto out;
	}
	w->t_close.done = watch_close_done;
	w->t_send.done = watch_send_done;
	w->t_status.done = watch_status_done;
	w->h = h;
	w->call = call;
	w->service = find_service(req->service);
	w->sent = -1;
	log_debug("health_watch", "service=%s known=%s",
		  log_quote(req->service, name, sizeof(name)), w->service >= 0 ? "yes" : "no");

	pthread_mutex_lock(&h->lock);
	if (h->n_watches >= HEALTH_WATCHES_MAX) {
		pthread_mutex_unlock(&h->lock);
		free(w);
		rpc_finish_call(call, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"too many health watchers on this server");
		goto out;
	}
	w->next = h->watches;
	if (w->next != NULL)
		w->next->prev = w;
	h->watches = w;
	h->n_watches++;
	w->refs = 1; /* this function, until it unlocks */
	rpc_deadline_arm(&w->deadline, m, call, deadline);
	err = rpc_call_open(call, NULL, 0, &w->cancelled, &w->t_close);
	if (err == GRPC_CALL_OK)
		w->refs++;
	else
		watch_broken(w, "health_watch", err);
	watch_pump(w);
	watch_unref_unlock(w);
out:
	grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

/* ---- completions ---- */

static void on_accept(struct rpc_method *m, grpc_call *call, grpc_byte_buffer *payload,
		      gpr_timespec deadline)
{
	/* Slots stay armed through our own shutdown: a Check that still gets
	 * in must hear NOT_SERVING. The core fails them once it stops. */
	if (m->kind == HEALTH_CHECK)
		on_check(m->ctx, call, payload);
	else
		on_watch(m->ctx, m, call, payload, deadline);
}

static void check_done(struct rpc_tag *tag, bool ok)
{
	struct check_reply *c = RPC_OWNER(tag, struct check_reply, tag);

	(void)ok;
	grpc_byte_buffer_destroy(c->bb);
	grpc_call_unref(c->call);
	free(c);
}

static void watch_close_done(struct rpc_tag *tag, bool ok)
{
	struct watch *w = RPC_OWNER(tag, struct watch, t_close);

	(void)ok;
	pthread_mutex_lock(&w->h->lock);
	w->closed = true;
	pthread_cond_broadcast(&w->h->cond);
	watch_unref_unlock(w);
}

static void watch_send_done(struct rpc_tag *tag, bool ok)
{
	struct watch *w = RPC_OWNER(tag, struct watch, t_send);

	pthread_mutex_lock(&w->h->lock);
	w->send_pending = false;
	grpc_byte_buffer_destroy(w->send_bb);
	w->send_bb = NULL;
	if (ok) {
		w->sent = w->sending;
		watch_pump(w);
	} else {
		w->closed = true; /* the call is gone; its close completion follows */
	}
	pthread_cond_broadcast(&w->h->cond);
	watch_unref_unlock(w);
}

static void watch_status_done(struct rpc_tag *tag, bool ok)
{
	struct watch *w = RPC_OWNER(tag, struct watch, t_status);

	(void)ok;
	pthread_mutex_lock(&w->h->lock);
	watch_unref_unlock(w);
}

/* ---- lifecycle ---- */

struct rpc_health *rpc_health_create(const struct rpc_host *host)
{
	struct rpc_health *h = calloc(1, sizeof(*h));
	int rc;

	if (h == NULL)
		return NULL;
	for (size_t i = 0; i < N_SERVICES; i++)
		h->status[i] = NOT_SERVING; /* until the server starts */
	rc = -pthread_mutex_init(&h->lock, NULL);
	if (rc < 0)
		goto fail_free;
	/* Shutdown waits with a deadline. */
	rc = timeutil_cond_init_monotonic(&h->cond);
	if (rc < 0)
		goto fail_mutex;
	for (int m = 0; m < HEALTH_METHODS; m++) {
		h->methods[m] = (struct rpc_method){
			.path = health_paths[m],
			.payload = true,
			.n_slots = HEALTH_ACCEPTS,
			.on_call = on_accept,
			.ctx = h,
			.kind = m,
		};
		rc = rpc_method_register(&h->methods[m], host);
		if (rc < 0)
			goto fail_cond;
	}
	return h;

fail_cond:
	for (int m = 0; m < HEALTH_METHODS; m++)
		rpc_method_finish(&h->methods[m]);
	pthread_cond_destroy(&h->cond);
fail_mutex:
	pthread_mutex_destroy(&h->lock);
fail_free:
	free(h);
	errno = -rc;
	return NULL;
}

void rpc_health_start(struct rpc_health *h)
{
	pthread_mutex_lock(&h->lock);
	if (!h->shutting_down) {
		for (size_t i = 0; i < N_SERVICES; i++)
			h->status[i] = SERVING;
	}
	pthread_mutex_unlock(&h->lock);
	for (int m = 0; m < HEALTH_METHODS; m++)
		rpc_method_start(&h->methods[m]);
}

/* Every watcher has its final status (or is gone). Under h->lock. */
static bool watchers_told(const struct rpc_health *h)
{
	for (const struct watch *w = h->watches; w != NULL; w = w->next) {
		if (!w->closed && !w->finishing)
			return false;
	}
	return true;
}

void rpc_health_shutdown(struct rpc_health *h)
{
	int64_t deadline = timeutil_monotonic_ns() + HEALTH_NOTIFY_WAIT_NS;
	struct timespec ts = timeutil_timespec(deadline);
	unsigned watchers;
	bool told;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->lock);
	if (h->shutting_down) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	h->shutting_down = true;
	for (size_t i = 0; i < N_SERVICES; i++)
		h->status[i] = NOT_SERVING;
	for (struct watch *w = h->watches; w != NULL; w = w->next)
		watch_pump(w);
	watchers = h->n_watches;
	/* A watcher is told once its NOT_SERVING send completed: the status
	 * that ends its call is started only then. Bounded, because a
	 * watcher that stopped reading never completes a send. */
	while (!(told = watchers_told(h))) {
		if (pthread_cond_timedwait(&h->cond, &h->lock, &ts) != 0 &&
		    timeutil_monotonic_ns() >= deadline)
			break;
	}
	pthread_mutex_unlock(&h->lock);
	log_info("health_not_serving", "watchers=%u all_told=%s", watchers, told ? "yes" : "no");
}

void rpc_health_destroy(struct rpc_health *h)
{
	if (h == NULL)
		return;
	/* Every call completed before the queue drained; a leftover watch
	 * would be a reference-count bug, worth a line in the log. */
	if (h->watches != NULL)
		log_error("health_leak", "watches=%u", h->n_watches);
	for (int m = 0; m < HEALTH_METHODS; m++)
		rpc_method_finish(&h->methods[m]);
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
