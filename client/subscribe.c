#include "client/subscribe.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "client/format.h"
#include "client/output.h"
#include "client/session.h"
#include "common/log.h"

struct printer {
	const struct cli_options *o;
	uint64_t printed;
	struct output out;
};

static int on_signal(void *ctx, const signals_v1_Signal *s)
{
	struct printer *p = ctx;
	char *space;
	int n, rc;

	rc = output_reserve(&p->out, FORMAT_LINE_MAX, &space);
	if (rc < 0)
		return session_write_result(rc);
	/* Cannot overflow: FORMAT_LINE_MAX bounds every line of every format. */
	n = format_signal(p->o->format, s, space, FORMAT_LINE_MAX);
	if (n < 0)
		return n;
	output_commit(&p->out, (size_t)n);
	if (p->o->count != 0 && ++p->printed >= p->o->count)
		return SESSION_STOP;
	return SESSION_CONTINUE;
}

static int on_idle(void *ctx)
{
	struct printer *p = ctx;

	return session_write_result(output_flush(&p->out));
}

static int on_tick(void *ctx, int64_t now_ns, const struct session_counters *c)
{
	struct printer *p = ctx;

	/* A quiet stream would otherwise notice a closed pipe only at its next line. */
	return output_reader_gone(&p->out) ? SESSION_STOP : SESSION_CONTINUE;
}

int subscribe_run(const struct cli_options *o, const volatile sig_atomic_t *stop)
{
	/* Static: the 64 KiB output buffer has no business on the stack. */
	static struct printer p;
	struct session_hooks hooks = {
		.on_signal = on_signal,
		.on_idle = on_idle,
		.on_tick = on_tick,
		.ctx = &p,
		.stop = stop,
	};
	struct session_counters counters;
	char *space;
	int code, n, rc;

	p.o = o;
	output_init(&p.out, STDOUT_FILENO);
	rc = output_reserve(&p.out, FORMAT_LINE_MAX, &space);
	if (rc == 0) {
		n = format_header(o->format, space, FORMAT_LINE_MAX);
		output_commit(&p.out, n > 0 ? (size_t)n : 0);
		rc = output_flush(&p.out);
	}
	if (session_write_result(rc) != SESSION_CONTINUE)
		return rc == -EPIPE ? CLI_EXIT_OK : CLI_EXIT_ERROR;

	code = session_run(o, &hooks, &counters);
	rc = session_write_result(output_flush(&p.out));
	if (rc < 0 && code == CLI_EXIT_OK)
		code = CLI_EXIT_ERROR;
	return code;
}
