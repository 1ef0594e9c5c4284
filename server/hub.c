#include "server/hub.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/timeutil.h"
#include "signals/v1/signal.pb-c.h"

struct hub {
	struct hub_config cfg;
	pthread_mutex_t lock; /* serialises sequencing and ring writes */
	uint64_t last_seq;
	/* Dedup of the symbols touched by one publish call: touched[i] is
	 * the publish generation in which symbol i was last seen. */
	uint64_t generation;
	uint64_t *touched;
	uint32_t *ids;        /* the distinct symbols of the current call */
};

struct hub *hub_create(const struct hub_config *cfg)
{
	struct hub *hub = calloc(1, sizeof(*hub));
	size_t n = symtab_count(cfg->symtab);

	if (hub == NULL)
		return NULL;
	hub->cfg = *cfg;
	hub->touched = calloc(n, sizeof(*hub->touched));
	hub->ids = calloc(n < PRODUCER_BATCH_MAX ? n : PRODUCER_BATCH_MAX, sizeof(*hub->ids));
	if (hub->touched == NULL || hub->ids == NULL)
		goto fail;
	if (pthread_mutex_init(&hub->lock, NULL) != 0)
		goto fail;
	return hub;
fail:
	free(hub->touched);
	free(hub->ids);
	free(hub);
	return NULL;
}

void hub_destroy(struct hub *hub)
{
	if (hub == NULL)
		return;
	pthread_mutex_destroy(&hub->lock);
	free(hub->touched);
	free(hub->ids);
	free(hub);
}

uint64_t hub_published(const struct hub *hub)
{
	return ring_head(hub->cfg.ring);
}

static size_t encode(const Signals__V1__Signal *s, uint8_t *buf)
{
	return signals__v1__signal__pack(s, buf);
}

void hub_publish(void *ctx, const struct producer_signal *sigs, size_t n)
{
	struct hub *hub = ctx;
	Signals__V1__Signal msg = SIGNALS__V1__SIGNAL__INIT;
	uint8_t buf[RING_PAYLOAD_MAX];
	struct parking_waiter *woken;
	uint32_t n_ids = 0;
	uint64_t first;
	int64_t now;

	if (n == 0)
		return;
	pthread_mutex_lock(&hub->lock);
	/* One clock read per tick: the tick's signals are published together. */
	now = timeutil_realtime_ns();
	hub->generation++;
	first = hub->last_seq + 1;
	for (size_t i = 0; i < n; i++) {
		const struct producer_signal *p = &sigs[i];
		struct ring_meta meta = {
			.symbol = p->symbol,
			.strategy = (uint8_t)p->strategy,
			.strength = p->strength,
		};

		msg.sequence = ++hub->last_seq;
		msg.symbol = (char *)symtab_name(hub->cfg.symtab, p->symbol);
		msg.side = (Signals__V1__Side)p->side;
		msg.strength = p->strength;
		msg.price = p->price;
		msg.timestamp_ns = now;
		msg.strategy = (char *)strategy_name(p->strategy);
		ring_put(hub->cfg.ring, msg.sequence, &meta, buf, encode(&msg, buf));
		if (hub->touched[p->symbol] != hub->generation) {
			hub->touched[p->symbol] = hub->generation;
			hub->ids[n_ids++] = p->symbol;
		}
	}
	/* The head moves before the parking lock is taken: see parking.h. */
	ring_publish(hub->cfg.ring, hub->last_seq);
	woken = parking_collect(hub->cfg.parking, hub->ids, n_ids, first, hub->last_seq);
	pthread_mutex_unlock(&hub->lock);

	if (woken != NULL)
		hub->cfg.wake(hub->cfg.wake_ctx, woken);
}

size_t hub_encode_heartbeat(uint64_t sequence, uint8_t *buf)
{
	Signals__V1__Signal msg = SIGNALS__V1__SIGNAL__INIT;

	msg.sequence = sequence;
	return encode(&msg, buf);
}
