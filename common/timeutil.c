#include "common/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * TIMEUTIL_NS_PER_SEC + ts.tv_nsec;
}

int64_t timeutil_realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

int64_t timeutil_monotonic_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

struct timespec timeutil_timespec(int64_t ns)
{
	return (struct timespec){
		.tv_sec = (time_t)(ns / TIMEUTIL_NS_PER_SEC),
		.tv_nsec = (long)(ns % TIMEUTIL_NS_PER_SEC),
	};
}

int timeutil_cond_init_monotonic(pthread_cond_t *cond)
{
	pthread_condattr_t attr;
	int rc;

	rc = -pthread_condattr_init(&attr);
	if (rc < 0)
		return rc;
	rc = -pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = -pthread_cond_init(cond, &attr);
	pthread_condattr_destroy(&attr);
	return rc;
}

void timeutil_sleep_until(int64_t deadline_ns)
{
	struct timespec ts = timeutil_timespec(deadline_ns);

	/* EINTR restarts against the same absolute deadline: no drift. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

int timeutil_format_rfc3339(int64_t realtime_ns, char *buf, size_t cap)
{
	time_t secs = (time_t)(realtime_ns / TIMEUTIL_NS_PER_SEC);
	int ms = (int)((realtime_ns % TIMEUTIL_NS_PER_SEC) / TIMEUTIL_NS_PER_MS);
	struct tm tm;
	int n;

	if (gmtime_r(&secs, &tm) == NULL)
		return -EINVAL;
	n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}
