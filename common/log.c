#include "common/log.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"

static atomic_int log_threshold = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

bool log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

void log_vwrite(enum log_level level, const char *event, const char *fields, va_list ap)
{
	char line[2048];
	size_t len = 0;
	int n;

	if (!log_enabled(level))
		return;
	n = timeutil_format_rfc3339(timeutil_realtime_ns(), line, sizeof(line));
	if (n < 0)
		n = 0;
	len = (size_t)n;
	n = snprintf(line + len, sizeof(line) - len, " level=%s event=%s", level_names[level],
		     event);
	if (n > 0)
		len += (size_t)n;
	if (fields != NULL && len < sizeof(line) - 2) {
		line[len++] = ' ';
		n = vsnprintf(line + len, sizeof(line) - len, fields, ap);
		if (n > 0)
			len += (size_t)n;
	}
	/* A truncated line still ends with a newline. */
	if (len > sizeof(line) - 1)
		len = sizeof(line) - 1;
	line[len++] = '\n';
	/* One write per line: atomic with respect to other threads' lines. */
	if (write(STDERR_FILENO, line, len) < 0)
		return;
}

void log_write(enum log_level level, const char *event, const char *fields, ...)
{
	va_list ap;

	va_start(ap, fields);
	log_vwrite(level, event, fields, ap);
	va_end(ap);
}

const char *log_quote(const char *s, char *buf, size_t cap)
{
	size_t o = 0;

	if (cap < 3) {
		if (cap > 0)
			buf[0] = '\0';
		return buf;
	}
	buf[o++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool ctl = c < 0x20 || c == 0x7f;
		size_t w = ctl ? 4 : (c == '"' || c == '\\') ? 2 : 1;

		/* Room for this character, the closing quote and the NUL. */
		if (o + w + 2 > cap)
			break;
		if (ctl) {
			snprintf(buf + o, cap - o, "\\x%02x", c);
		} else {
			if (w == 2)
				buf[o++] = '\\';
			buf[o] = (char)c;
		}
		o += ctl ? 4 : 1;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}
