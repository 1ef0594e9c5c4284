/*
 * sigstreamd — wires the pieces together and owns the process: options,
 * signal handling, startup order (ring, index, gRPC server, sequencer,
 * producers) and the shutdown order that lets every stream end with a
 * resume point.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/grpcrt.h"
#include "common/limits.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "server/hub.h"
#include "server/options.h"
#include "server/parking.h"
#include "server/producer.h"
#include "server/ring.h"
#include "server/rpc.h"
#include "server/symtab.h"
#include "sigstream_version.h"

/* A fresh id per server incarnation: clients compare it to learn that
 * sequence numbers restarted. */
static void make_epoch(char *buf, size_t cap)
{
	uint64_t r = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
		r = (uint64_t)timeutil_realtime_ns() ^ ((uint64_t)getpid() << 32);
	if (fd >= 0)
		close(fd);
	snprintf(buf, cap, "%" PRIx64 "-%016" PRIx64,
		 (uint64_t)(timeutil_realtime_ns() / TIMEUTIL_NS_PER_SEC), r);
}

/* The producers go quiet (coarse ticks, same rate) while nobody listens:
 * an idle server then costs next to no CPU. */
static void subscribers_changed(void *ctx, bool any)
{
	producer_pool_set_quiet(ctx, !any);
}

int main(int argc, char **argv)
{
	struct options opt;
	struct symtab *symtab = NULL;
	struct ring *ring = NULL;
	struct parking *parking = NULL;
	struct rpc_server *srv = NULL;
	struct hub *hub = NULL;
	struct producer_pool *pool = NULL;
	char epoch[64], err[256], listen[300];
	sigset_t sigs;
	int64_t t0 = timeutil_monotonic_ns();
	int port = 0, sig = 0, rc = 1;

	switch (options_parse(&opt, argc, argv, stdout, stderr)) {
	case OPTIONS_RUN:
		break;
	case OPTIONS_EXIT:
		return 0;
	default:
		return 2;
	}
	log_set_level(opt.log_level);
	make_epoch(epoch, sizeof(epoch));

	/* Before grpc_init starts threads: they inherit the mask, so only
	 * sigwait() below ever sees these. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	grpcrt_init();

	symtab = opt.symbol_list != NULL
			 ? symtab_create((const char *const *)opt.symbol_list, opt.n_symbols)
			 : symtab_create_numbered(opt.n_symbols);
	ring = ring_create(opt.ring);
	parking = symtab != NULL ? parking_create((uint32_t)symtab_count(symtab)) : NULL;
	if (symtab == NULL || ring == NULL || parking == NULL) {
		log_error("startup_failed", "reason=%s", strerror(errno));
		goto out;
	}
	srv = rpc_server_create(&(struct rpc_config){
					.listen = opt.listen,
					.threads = (unsigned)opt.threads,
					.max_streams = opt.max_streams,
					.max_connection_age_s = opt.max_connection_age_s,
					.keepalive_s = opt.keepalive_s,
					.ring = ring,
					.symtab = symtab,
					.parking = parking,
					.epoch = epoch,
					.linger_max_ns =
						opt.rate == 0
							? 0
							: (int64_t)(LIMITS_BATCH_SIGNALS_MAX *
								    (uint64_t)TIMEUTIL_NS_PER_SEC /
								    opt.rate),
				},
				&port, err, sizeof(err));
	if (srv == NULL) {
		fprintf(stderr, "sigstreamd: %s\n", err);
		log_error("startup_failed", "reason=%s", log_quote(err, listen, sizeof(listen)));
		goto out;
	}
	hub = hub_create(&(struct hub_config){
		.ring = ring,
		.symtab = symtab,
		.parking = parking,
		.wake = rpc_wake_published,
		.wake_ctx = srv,
	});
	pool = hub != NULL ? producer_pool_create(&(struct producer_config){
				     .threads = (unsigned)opt.producers,
				     .rate = opt.rate,
				     .seed = opt.seed,
				     .n_symbols = symtab_count(symtab),
				     .tick_ns = (int64_t)opt.tick_us * 1000,
				     /* A new stream starts at the head: a quiet
				      * tick's burst stays well inside the ring. */
				     .quiet_burst_max = ring_capacity(ring) / 4,
				     .publish = hub_publish,
				     .ctx = hub,
			     })
			   : NULL;
	if (pool == NULL) {
		log_error("startup_failed", "reason=%s", strerror(errno));
		goto out;
	}
	/* Nobody is subscribed yet. */
	producer_pool_set_quiet(pool, true);
	rpc_server_watch_subscribers(srv, subscribers_changed, pool);
	if (rpc_server_start(srv) < 0 || producer_pool_start(pool) < 0) {
		log_error("startup_failed", "reason=threads");
		goto out;
	}
	log_info("listening",
		 "address=%s port=%d version=%s grpc_core=%s epoch=%s rate=%" PRIu64
		 " ring=%" PRIu64 " producers=%" PRIu64 " symbols=%zu threads=%" PRIu64
		 " max_streams=%" PRIu64 " startup_ms=%.1f",
		 opt.listen, port, SIGSTREAM_VERSION, grpcrt_version(), epoch, opt.rate, opt.ring,
		 opt.producers, symtab_count(symtab), opt.threads, opt.max_streams,
		 (double)(timeutil_monotonic_ns() - t0) / 1e6);

	while (sigwait(&sigs, &sig) != 0)
		;
	log_info("shutdown", "signal=%s grace_s=%" PRIu64, sig == SIGINT ? "SIGINT" : "SIGTERM",
		 opt.grace_s);
	/* Producers first: the resume point each stream is told stays true. */
	producer_pool_stop(pool);
	rpc_server_shutdown(srv, (int64_t)opt.grace_s * TIMEUTIL_NS_PER_SEC);
	log_info("stopped", "published=%" PRIu64, ring_head(ring));
	rc = 0;
out:
	if (srv != NULL)
		rpc_server_watch_subscribers(srv, NULL, NULL);
	producer_pool_destroy(pool);
	rpc_server_destroy(srv);
	hub_destroy(hub);
	grpcrt_shutdown();
	parking_destroy(parking);
	ring_destroy(ring);
	symtab_destroy(symtab);
	options_finish(&opt);
	return rc;
}
