/*
 * log — one-line structured logs on stderr: an RFC 3339 UTC timestamp, the
 * level, an event name, then key=value fields, e.g.
 *   2026-11-28T03:31:00.123Z level=info event=stream_open peer="ipv4:..." id=7
 * Each line goes out in one write(2), so lines from threads never interleave.
 * The level threshold is process-wide.
 */
#ifndef SIGSTREAM_LOG_H
#define SIGSTREAM_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

#if defined(__GNUC__)
#define LOG_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define LOG_PRINTF(fmt_idx, arg_idx)
#endif

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* "debug", "info", "warn", "error" -> 0, else -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

/*
 * `fields` is a printf format for the key=value part (may be NULL).
 * Use log_quote() for values that may hold spaces or quotes.
 */
void log_write(enum log_level level, const char *event, const char *fields, ...)
	LOG_PRINTF(3, 4);
void log_vwrite(enum log_level level, const char *event, const char *fields, va_list ap)
	LOG_PRINTF(3, 0);

/*
 * Formats `s` as a double-quoted value with '"', '\\' and control bytes
 * escaped, truncated to fit `cap`. Returns buf.
 */
const char *log_quote(const char *s, char *buf, size_t cap);

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
