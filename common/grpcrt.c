#include "common/grpcrt.h"

#include <grpc/grpc.h>
#include <grpc/support/log.h>

#include "common/log.h"

#ifdef SIGSTREAM_ABSL_DEADLOCK_SYMBOL
/* absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore). */
void SIGSTREAM_ABSL_DEADLOCK_SYMBOL(int mode);
#endif

static void log_to_common(gpr_log_func_args *args)
{
	char quoted[512];

	log_write(args->severity == GPR_LOG_SEVERITY_ERROR ? LOG_WARN : LOG_DEBUG, "grpc",
		  "file=%s:%d message=%s", args->file, args->line,
		  log_quote(args->message, quoted, sizeof(quoted)));
}

void grpcrt_init(void)
{
	/* gRPC's threshold stays its own (GRPC_VERBOSITY, default ERROR): its
	 * debug output is vast. */
	gpr_set_log_function(log_to_common);
#ifdef SIGSTREAM_ABSL_DEADLOCK_SYMBOL
	/* Every lock gRPC takes is checked for cycles otherwise: 6-7% of the
	 * CPU of the server and of the load generator. */
	SIGSTREAM_ABSL_DEADLOCK_SYMBOL(0);
#endif
	grpc_init();
}

void grpcrt_shutdown(void)
{
	grpc_shutdown();
}

const char *grpcrt_version(void)
{
	return grpc_version_string();
}
