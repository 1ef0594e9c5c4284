/*
 * format — one signal as one output line, in the CLI's three formats,
 * written into a caller's buffer (no allocation, no stdio):
 *   text  aligned columns for people: sequence, RFC 3339 time with ms,
 *         symbol, side, strength, price, strategy;
 *   json  JSON Lines, keys = the proto field names, integers as integers,
 *         doubles in their shortest round-trip form (null if not finite);
 *   csv   RFC 4180: a header line, CRLF line ends, fields holding a comma,
 *         quote, CR or LF quoted with their quotes doubled.
 */
#ifndef SIGSTREAM_CLIENT_FORMAT_H
#define SIGSTREAM_CLIENT_FORMAT_H

#include <stddef.h>

#include "signals/v1/signal.pb.h"

enum format_kind {
	FORMAT_TEXT,
	FORMAT_JSON,
	FORMAT_CSV,
};

/*
 * Enough for any line of any format: JSON escapes a byte as at most 6
 * ("\u00XX"), so the two names take at most (15 + 31) * 6 bytes; the rest is
 * keys and numbers.
 */
#define FORMAT_LINE_MAX 1024

/* "text", "json", "csv" -> 0, else -EINVAL. */
int format_parse(const char *name, enum format_kind *out);

/*
 * The line that comes before the first signal (the CSV header), or nothing.
 * Both return the length written (no NUL counted; one is written when it
 * fits), or -ENOSPC when `cap` is too small.
 */
int format_header(enum format_kind kind, char *buf, size_t cap);
int format_signal(enum format_kind kind, const signals_v1_Signal *s, char *buf, size_t cap);

#endif
