#include "client/format.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"

/* An append-only view of the caller's buffer; overflow is checked once, at the end. */
struct fbuf {
	char *p;
	size_t len;
	size_t cap;
	bool overflow;
};

static void put_bytes(struct fbuf *f, const char *s, size_t n)
{
	if (f->overflow || n > f->cap - f->len) {
		f->overflow = true;
		return;
	}
	memcpy(f->p + f->len, s, n);
	f->len += n;
}

static void put_str(struct fbuf *f, const char *s)
{
	put_bytes(f, s, strlen(s));
}

static void put_char(struct fbuf *f, char c)
{
	put_bytes(f, &c, 1);
}

static void put_fmt(struct fbuf *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(struct fbuf *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (f->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(f->p + f->len, f->cap - f->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= f->cap - f->len) {
		f->overflow = true;
		return;
	}
	f->len += (size_t)n;
}

/* Length or -ENOSPC; NUL-terminates when there is room, for callers that want a string. */
static int fbuf_finish(struct fbuf *f)
{
	if (f->overflow)
		return -ENOSPC;
	if (f->len < f->cap)
		f->p[f->len] = '\0';
	return (int)f->len;
}

/*
 * The shortest of %.15g, %.16g, %.17g that reads back as the same double:
 * 0.1 prints as "0.1", not "0.10000000000000001", and nothing is lost.
 */
static void put_double(struct fbuf *f, double v)
{
	char tmp[40];

	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	put_str(f, tmp);
}

static void put_side(struct fbuf *f, int side)
{
	if (side == signals_v1_Side_SIDE_BUY)
		put_str(f, "BUY");
	else if (side == signals_v1_Side_SIDE_SELL)
		put_str(f, "SELL");
	else
		put_fmt(f, "SIDE_%d", side); /* a newer server's value, shown rather than hidden */
}

static void put_json_string(struct fbuf *f, const char *s)
{
	put_char(f, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			put_char(f, '\\');
			put_char(f, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			put_fmt(f, "\\u%04x", c);
		} else {
			/* Bytes >= 0x80 pass through: UTF-8 stays UTF-8. */
			put_char(f, (char)c);
		}
	}
	put_char(f, '"');
}

static void put_csv_field(struct fbuf *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		put_str(f, s);
		return;
	}
	put_char(f, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			put_char(f, '"');
		put_char(f, *s);
	}
	put_char(f, '"');
}

/*
 * A name padded to `width` with anything but printable ASCII shown as '?':
 * a misbehaving server must not be able to send escape sequences to a
 * terminal, and every byte keeps one column so the alignment holds.
 */
static void put_text_name(struct fbuf *f, const char *s, size_t width)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		put_char(f, (*s >= 0x20 && *s < 0x7f) ? *s : '?');
	for (; n < width; n++)
		put_char(f, ' ');
}

static void format_text(struct fbuf *f, const signals_v1_Signal *s)
{
	char when[32];
	char side[24];
	struct fbuf sf = {side, 0, sizeof(side), false};

	if (s->timestamp_ns < 0 || timeutil_format_rfc3339(s->timestamp_ns, when, sizeof(when)) < 0)
		snprintf(when, sizeof(when), "%-24s", "-");
	put_side(&sf, (int)s->side);
	fbuf_finish(&sf);
	put_fmt(f, "%12" PRIu64 "  %s  ", s->sequence, when);
	put_text_name(f, s->symbol, 15);
	put_fmt(f, "  %-4s  %6.4f  %14.4f  ", side, s->strength, s->price);
	put_text_name(f, s->strategy, 0);
	put_char(f, '\n');
}

static void format_json(struct fbuf *f, const signals_v1_Signal *s)
{
	put_fmt(f, "{\"sequence\":%" PRIu64 ",\"symbol\":", s->sequence);
	put_json_string(f, s->symbol);
	put_str(f, ",\"side\":\"");
	put_side(f, (int)s->side);
	put_str(f, "\",\"strength\":");
	if (isfinite(s->strength))
		put_double(f, s->strength);
	else
		put_str(f, "null");
	put_str(f, ",\"price\":");
	if (isfinite(s->price))
		put_double(f, s->price);
	else
		put_str(f, "null");
	put_fmt(f, ",\"timestamp_ns\":%" PRId64 ",\"strategy\":", s->timestamp_ns);
	put_json_string(f, s->strategy);
	put_str(f, "}\n");
}

static void format_csv(struct fbuf *f, const signals_v1_Signal *s)
{
	put_fmt(f, "%" PRIu64 ",", s->sequence);
	put_csv_field(f, s->symbol);
	put_char(f, ',');
	put_side(f, (int)s->side);
	put_char(f, ',');
	/* Not finite: an empty field, which no CSV reader mistakes for a number. */
	if (isfinite(s->strength))
		put_double(f, s->strength);
	put_char(f, ',');
	if (isfinite(s->price))
		put_double(f, s->price);
	put_fmt(f, ",%" PRId64 ",", s->timestamp_ns);
	put_csv_field(f, s->strategy);
	put_str(f, "\r\n");
}

int format_parse(const char *name, enum format_kind *out)
{
	if (strcmp(name, "text") == 0)
		*out = FORMAT_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = FORMAT_JSON;
	else if (strcmp(name, "csv") == 0)
		*out = FORMAT_CSV;
	else
		return -EINVAL;
	return 0;
}

int format_header(enum format_kind kind, char *buf, size_t cap)
{
	struct fbuf f = {buf, 0, cap, false};

	if (kind == FORMAT_CSV)
		put_str(&f, "sequence,symbol,side,strength,price,timestamp_ns,strategy\r\n");
	return fbuf_finish(&f);
}

int format_signal(enum format_kind kind, const signals_v1_Signal *s, char *buf, size_t cap)
{
	struct fbuf f = {buf, 0, cap, false};

	switch (kind) {
	case FORMAT_TEXT:
		format_text(&f, s);
		break;
	case FORMAT_JSON:
		format_json(&f, s);
		break;
	case FORMAT_CSV:
		format_csv(&f, s);
		break;
	}
	return fbuf_finish(&f);
}
