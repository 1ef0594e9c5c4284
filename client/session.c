#include "client/session.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client/backoff.h"
#include "client/rpc.h"
#include "common/config.h"
#include "common/log.h"
#include "common/timeutil.h"

/* How soon a stop request (Ctrl-C) is noticed while nothing arrives. */
#define POLL_NS (100 * TIMEUTIL_NS_PER_MS)
#define TICK_NS TIMEUTIL_NS_PER_SEC
/* Heartbeats come after heartbeat_ms of quiet: allow twice that, plus slack for the network. */
#define SILENCE_SLACK_NS TIMEUTIL_NS_PER_SEC

/* Why a call ended, when it was not simply the status that decides. */
enum call_end {
	END_STATUS,  /* the status (the server's or the transport's) decides */
	END_RESTART, /* we cancelled it: the server's epoch changed under a resume */
	END_SILENT,  /* we cancelled it: no message or heartbeat in time */
	END_NO_ANSWER, /* we cancelled it: connected to nothing by the end of --retry-for */
};

struct session {
	const struct cli_options *o;
	const struct session_hooks *h;
	struct rpc *rpc;
	struct backoff backoff;
	uint64_t rng_state;
	struct session_counters c;

	/*
	 * Where the stream is. Sequence numbers only mean something within one
	 * server incarnation: `epoch` ("" until a server names one).
	 */
	char epoch[RPC_EPOCH_MAX];
	uint64_t next_from;   /* from_sequence of the next request */
	uint64_t last_signal; /* highest signal sequence handed on; 0: none yet */

	/* The call in flight. */
	bool in_call;
	uint64_t call_from;
	bool call_resumes; /* call_from counts in `epoch`'s numbering */
	bool call_connected;
	enum call_end call_end;
	int64_t last_heard; /* monotonic: last metadata or message */

	/* Connection health across calls. */
	bool ever_connected;
	bool reconnecting;  /* a call failed since the last good one */
	bool fresh_channel; /* the next call needs a new connection (rpc_reconnect) */
	int64_t down_since; /* monotonic: start of the current stretch with no connection */
	unsigned attempts;  /* failed attempts in that stretch */

	int64_t next_tick;
	int64_t stop_at;    /* INT64_MAX: no --duration */
	bool unflushed;     /* signals went to the command since its last on_idle */
	bool stopping;
	int exit_code;
};

static void stop(struct session *s, int exit_code)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->exit_code = exit_code;
	/* The call still ends through an END event: its buffers are released in order. */
	rpc_cancel(s->rpc);
}

/* The command's hooks report their own errors; here only the outcome counts. */
static void hook_result(struct session *s, int rc)
{
	if (rc == SESSION_STOP)
		stop(s, CLI_EXIT_OK);
	else if (rc < 0)
		stop(s, CLI_EXIT_ERROR);
}

static void flush(struct session *s)
{
	if (!s->unflushed)
		return;
	s->unflushed = false;
	if (s->h->on_idle != NULL)
		hook_result(s, s->h->on_idle(s->h->ctx));
}

static void check_clock(struct session *s, int64_t now)
{
	if (*s->h->stop != 0 || now >= s->stop_at)
		stop(s, CLI_EXIT_OK);
	if (now >= s->next_tick && !s->stopping) {
		s->next_tick += TICK_NS;
		/* Fell behind (the process was stopped): one tick, not a burst of them. */
		if (s->next_tick <= now)
			s->next_tick = now + TICK_NS;
		if (s->h->on_tick != NULL)
			hook_result(s, s->h->on_tick(s->h->ctx, now, &s->c));
	}
}

/*
 * Checked only after a wait that timed out, never after a pause of our own
 * (a SIGSTOP): what was received meanwhile is read before silence is judged.
 */
static void check_silence(struct session *s, int64_t now)
{
	int64_t limit;

	if (!s->in_call || s->stopping || s->call_end != END_STATUS)
		return;
	/*
	 * A call that is neither answered nor refused (an address that drops
	 * packets, a server that accepts and hangs) must not outlast
	 * --retry-for: gRPC alone would wait 20 s per connect, or forever.
	 */
	if (!s->call_connected && now - s->down_since >= s->o->retry_for_ns) {
		s->call_end = END_NO_ANSWER;
		rpc_cancel(s->rpc);
		return;
	}
	if (s->o->heartbeat_ms == 0)
		return;
	limit = 2 * (int64_t)s->o->heartbeat_ms * TIMEUTIL_NS_PER_MS + SILENCE_SLACK_NS;
	if (now - s->last_heard > limit) {
		s->call_end = END_SILENT;
		rpc_cancel(s->rpc);
	}
}

static void mark_connected(struct session *s)
{
	char epoch[RPC_EPOCH_MAX + 8];

	if (s->call_connected)
		return;
	s->call_connected = true;
	backoff_reset(&s->backoff);
	s->attempts = 0;
	log_quote(s->epoch, epoch, sizeof(epoch));
	if (s->reconnecting) {
		s->c.reconnects++;
		log_info("reconnected", "server=%s epoch=%s from_sequence=%" PRIu64, s->o->server,
			 epoch, s->call_from);
	} else if (!s->ever_connected) {
		log_debug("connected", "server=%s epoch=%s from_sequence=%" PRIu64, s->o->server,
			  epoch, s->call_from);
	}
	s->reconnecting = false;
	s->ever_connected = true;
}

/*
 * A changed epoch means the server restarted and its sequence numbers
 * started again at 1. A from_sequence computed from the old numbering means
 * nothing to the new server: N beyond its newest would make it wait, in
 * silence, until it reaches N; N within its window would skip 1..N-1; N
 * older than its oldest would report a gap that is not one. So a call that
 * resumed is cancelled as soon as its initial metadata shows the new epoch
 * (no message can have been read yet) and re-requested from sequence 1:
 * everything the new server still retains, all of it new to us. (Asking
 * for live, from 0, would silently drop what it published before we got
 * back.) If it no longer retains sequence 1, OUT_OF_RANGE names exactly
 * what was lost, as for any gap. What the old server published after our
 * last sequence is gone with it: said on stderr.
 */
static void on_metadata(struct session *s, const struct rpc_event *ev, int64_t now)
{
	char old_q[RPC_EPOCH_MAX + 8], new_q[RPC_EPOCH_MAX + 8];

	s->last_heard = now;
	/* No epoch: a server without them, or an error answered at once. */
	if (ev->epoch == NULL || s->stopping)
		return;
	if (s->epoch[0] != '\0' && strcmp(s->epoch, ev->epoch) != 0) {
		s->c.restarts++;
		s->last_signal = 0;
		log_quote(s->epoch, old_q, sizeof(old_q));
		log_quote(ev->epoch, new_q, sizeof(new_q));
		if (s->call_resumes) {
			log_warn("server_restarted",
				 "old_epoch=%s new_epoch=%s last_sequence=%" PRIu64
				 " action=\"sequences restarted: anything the old server published "
				 "after last_sequence is unrecoverable; continuing from the new "
				 "server's oldest retained signal\"",
				 old_q, new_q, s->call_from - 1);
			s->call_end = END_RESTART;
			rpc_cancel(s->rpc);
		} else {
			log_warn("server_restarted", "old_epoch=%s new_epoch=%s action=live", old_q,
				 new_q);
		}
	}
	snprintf(s->epoch, sizeof(s->epoch), "%s", ev->epoch);
	if (s->call_end == END_STATUS)
		mark_connected(s);
}

static void on_message(struct session *s, const struct rpc_event *ev, int64_t now)
{
	s->last_heard = now;
	if (s->stopping || s->call_end != END_STATUS)
		return;
	mark_connected(s);
	for (size_t i = 0; i < ev->nsignals && !s->stopping; i++) {
		const signals_v1_Signal *sig = &ev->signals[i];

		/* Heartbeats count too: a filtered stream resumes past what it skipped. */
		if (sig->sequence >= s->next_from && sig->sequence < UINT64_MAX)
			s->next_from = sig->sequence + 1;
		if (sig->symbol[0] == '\0') {
			s->c.heartbeats++;
			continue;
		}
		/* The contract promises no duplicates; a resume must not be the exception. */
		if (s->last_signal != 0 && sig->sequence <= s->last_signal)
			continue;
		s->last_signal = sig->sequence;
		s->c.signals++;
		s->unflushed = true;
		hook_result(s, s->h->on_signal(s->h->ctx, sig));
	}
}

/* Returns the delay before the next attempt, or -1 when giving up. */
static int64_t retry(struct session *s, const char *reason)
{
	char q[RPC_DETAILS_MAX + 64];
	int64_t now = timeutil_monotonic_ns();
	int64_t delay, left;

	if (s->call_connected)
		s->down_since = now;
	s->reconnecting = true;
	s->fresh_channel = true;
	log_quote(reason, q, sizeof(q));
	left = s->down_since + s->o->retry_for_ns - now;
	if (left <= 0) {
		log_error("unreachable",
			  "server=%s retry_for_s=%.3f attempts=%u last_error=%s action=exit", s->o->server,
			  (double)s->o->retry_for_ns / (double)TIMEUTIL_NS_PER_SEC, s->attempts + 1, q);
		stop(s, CLI_EXIT_UNREACHABLE);
		return -1;
	}
	delay = backoff_next(&s->backoff);
	/* The last attempt happens at the end of --retry-for, not after it. */
	if (delay > left)
		delay = left;
	s->attempts++;
	log_warn("reconnect", "reason=%s attempt=%u delay_ms=%" PRId64 " from_sequence=%" PRIu64, q,
		 s->attempts, delay / TIMEUTIL_NS_PER_MS, s->next_from);
	return delay;
}

/*
 * The server names the oldest retained sequence in the OUT_OF_RANGE message
 * ("... is older than the oldest retained sequence 1234"); failing that
 * phrase, its last number is taken.
 */
static int parse_oldest(const char *message, uint64_t *out)
{
	static const char phrase[] = "oldest retained sequence";
	const char *p = strstr(message, phrase);
	const char *digits = NULL;
	char num[24];
	size_t n = 0;

	if (p != NULL) {
		for (p += sizeof(phrase) - 1; *p != '\0' && !isdigit((unsigned char)*p); p++)
			;
		if (*p != '\0')
			digits = p;
	} else {
		for (p = message; *p != '\0'; p++) {
			if (isdigit((unsigned char)*p) && (p == message || !isdigit((unsigned char)p[-1])))
				digits = p;
		}
	}
	if (digits == NULL)
		return -EINVAL;
	while (isdigit((unsigned char)digits[n]) && n < sizeof(num) - 1) {
		num[n] = digits[n];
		n++;
	}
	num[n] = '\0';
	return config_parse_u64(num, 1, UINT64_MAX, out);
}

static int64_t gap(struct session *s, const char *details)
{
	char q[RPC_DETAILS_MAX + 8];
	uint64_t oldest, first, last;

	if (parse_oldest(details, &oldest) < 0 || oldest <= s->call_from) {
		log_error("stream_failed",
			  "status=OUT_OF_RANGE message=%s from_sequence=%" PRIu64
			  " reason=\"no oldest retained sequence after from_sequence in the message\"",
			  log_quote(details, q, sizeof(q)), s->call_from);
		stop(s, CLI_EXIT_SERVER);
		return -1;
	}
	first = s->call_from;
	last = oldest - 1;
	s->c.gaps++;
	s->c.lost += last - first + 1;
	if (s->o->gap_fail) {
		log_error("gap",
			  "lost_sequences=%" PRIu64 "..%" PRIu64 " count=%" PRIu64
			  " oldest_retained=%" PRIu64 " on_gap=fail",
			  first, last, last - first + 1, oldest);
		stop(s, CLI_EXIT_GAP);
		return -1;
	}
	log_warn("gap",
		 "lost_sequences=%" PRIu64 "..%" PRIu64 " count=%" PRIu64 " oldest_retained=%" PRIu64
		 " on_gap=continue",
		 first, last, last - first + 1, oldest);
	s->next_from = oldest;
	return 0;
}

/* What the end of a call means; returns the delay before the next call, or -1. */
static int64_t after_call(struct session *s, const struct rpc_event *end)
{
	char reason[RPC_DETAILS_MAX + 64];
	char q[RPC_DETAILS_MAX + 8];

	s->in_call = false;
	flush(s);
	if (s->stopping)
		return -1;
	switch (s->call_end) {
	case END_RESTART:
		s->next_from = 1;
		return 0;
	case END_SILENT:
		snprintf(reason, sizeof(reason), "no message or heartbeat for %" PRId64 " ms",
			 (timeutil_monotonic_ns() - s->last_heard) / TIMEUTIL_NS_PER_MS);
		return retry(s, reason);
	case END_NO_ANSWER:
		return retry(s, "no answer from the server");
	case END_STATUS:
		break;
	}
	snprintf(reason, sizeof(reason), "%s: %s", rpc_code_name(end->code), end->details);
	switch (end->code) {
	case RPC_OUT_OF_RANGE:
		return gap(s, end->details);
	case RPC_INVALID_ARGUMENT:
		log_error("rejected", "status=INVALID_ARGUMENT message=%s",
			  log_quote(end->details, q, sizeof(q)));
		stop(s, CLI_EXIT_REJECTED);
		return -1;
	/*
	 * Transient: the server going away or restarting (UNAVAILABLE), it
	 * cutting off a reader that fell behind or refusing a stream for now
	 * (RESOURCE_EXHAUSTED), a stream ended or cut by something on the way
	 * (OK, CANCELLED, ABORTED, INTERNAL: an HTTP/2 stream reset) or a
	 * deadline imposed on the way.
	 */
	case RPC_OK:
	case RPC_CANCELLED:
	case RPC_DEADLINE_EXCEEDED:
	case RPC_RESOURCE_EXHAUSTED:
	case RPC_ABORTED:
	case RPC_INTERNAL:
	case RPC_UNAVAILABLE:
		return retry(s, reason);
	default:
		log_error("stream_failed", "status=%s message=%s", rpc_code_name(end->code),
			  log_quote(end->details, q, sizeof(q)));
		stop(s, CLI_EXIT_SERVER);
		return -1;
	}
}

static void build_request(const struct session *s, signals_v1_SignalRequest *req)
{
	const struct cli_options *o = s->o;

	memset(req, 0, sizeof(*req));
	/* Lengths were checked against the limits (cli.c), which the buffers are sized by. */
	for (size_t i = 0; i < o->nsymbols; i++)
		snprintf(req->symbols[i], sizeof(req->symbols[i]), "%.*s",
			 (int)sizeof(req->symbols[i]) - 1, o->symbols[i]);
	req->symbols_count = (pb_size_t)o->nsymbols;
	for (size_t i = 0; i < o->nstrategies; i++)
		snprintf(req->strategies[i], sizeof(req->strategies[i]), "%.*s",
			 (int)sizeof(req->strategies[i]) - 1, o->strategies[i]);
	req->strategies_count = (pb_size_t)o->nstrategies;
	req->min_strength = o->min_strength;
	req->from_sequence = s->next_from;
	req->heartbeat_ms = o->heartbeat_ms;
	req->linger_ms = o->linger_ms;
}

static int64_t next_deadline(const struct session *s, int64_t now)
{
	int64_t d = now + POLL_NS;

	if (s->next_tick < d)
		d = s->next_tick;
	if (s->stop_at < d)
		d = s->stop_at;
	return d;
}

/* One call, from start to END; returns the delay before the next, or -1 to stop. */
static int64_t run_call(struct session *s)
{
	signals_v1_SignalRequest req;
	struct rpc_event ev;

	s->call_from = s->next_from;
	s->call_resumes = s->epoch[0] != '\0' && s->call_from > 0;
	s->call_connected = false;
	s->call_end = END_STATUS;
	s->last_heard = timeutil_monotonic_ns();
	build_request(s, &req);
	if (s->fresh_channel && rpc_reconnect(s->rpc) < 0) {
		log_error("grpc_failed", "error=\"cannot create a channel\"");
		stop(s, CLI_EXIT_ERROR);
		return -1;
	}
	s->fresh_channel = false;
	if (rpc_start(s->rpc, s->o->batches ? RPC_STREAM_SIGNAL_BATCHES : RPC_STREAM_SIGNALS,
		      &req) < 0) {
		stop(s, CLI_EXIT_ERROR);
		return -1;
	}
	s->in_call = true;
	for (;;) {
		int64_t now = timeutil_monotonic_ns();
		/* Output waiting: only poll, and flush if nothing else is ready. */
		int64_t deadline = s->unflushed ? 0 : next_deadline(s, now);
		int rc;

		check_clock(s, now);
		rc = rpc_next(s->rpc, deadline, &ev);
		if (rc == -EPROTO) {
			char q[RPC_DETAILS_MAX + 8];

			log_error("bad_message", "error=%s action=exit",
				  log_quote(ev.details, q, sizeof(q)));
			stop(s, CLI_EXIT_PROTOCOL);
			continue;
		}
		if (rc < 0) {
			log_error("grpc_failed", "error=%s", strerror(-rc));
			stop(s, CLI_EXIT_ERROR);
			return -1;
		}
		now = timeutil_monotonic_ns();
		switch (ev.type) {
		case RPC_EVENT_TIMEOUT:
			flush(s);
			check_silence(s, now);
			break;
		case RPC_EVENT_METADATA:
			on_metadata(s, &ev, now);
			break;
		case RPC_EVENT_MESSAGE:
			on_message(s, &ev, now);
			break;
		case RPC_EVENT_END:
			return after_call(s, &ev);
		}
	}
}

/* Sleeps between calls, still ticking and still listening for a stop. */
static void wait_until(struct session *s, int64_t deadline)
{
	for (;;) {
		int64_t now = timeutil_monotonic_ns();
		int64_t wake;

		check_clock(s, now);
		if (s->stopping || now >= deadline)
			return;
		wake = next_deadline(s, now);
		timeutil_sleep_until(wake < deadline ? wake : deadline);
	}
}

int session_run(const struct cli_options *o, const struct session_hooks *h,
		struct session_counters *counters)
{
	struct session s = {.o = o, .h = h};
	int64_t now = timeutil_monotonic_ns();
	int rc;

	s.rng_state = (uint64_t)timeutil_realtime_ns() ^ ((uint64_t)getpid() << 32);
	backoff_init(&s.backoff, BACKOFF_INITIAL_NS, BACKOFF_MAX_NS, backoff_splitmix64,
		     &s.rng_state);
	s.next_from = o->from_sequence;
	s.down_since = now;
	s.next_tick = now + TICK_NS;
	s.stop_at = o->duration_ns > 0 ? now + o->duration_ns : INT64_MAX;
	rc = rpc_open(&s.rpc, o->server);
	if (rc < 0) {
		log_error("grpc_setup_failed", "server=%s error=%s", o->server, strerror(-rc));
		return CLI_EXIT_ERROR;
	}
	while (!s.stopping) {
		int64_t delay;

		check_clock(&s, timeutil_monotonic_ns());
		if (s.stopping)
			break;
		delay = run_call(&s);
		if (delay > 0)
			wait_until(&s, timeutil_monotonic_ns() + delay);
	}
	rpc_close(s.rpc);
	*counters = s.c;
	return s.exit_code;
}

int session_write_result(int rc)
{
	if (rc == 0)
		return SESSION_CONTINUE;
	if (rc == -EPIPE)
		return SESSION_STOP;
	log_error("write_failed", "what=stdout error=\"%s\"", strerror(-rc));
	return rc;
}
