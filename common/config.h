/*
 * config — strict parsing of command-line and environment values shared by
 * the server and the client: whole-string numbers within a range (no
 * silent truncation of "12abc"), comma-separated lists, and the
 * flag-or-environment lookup (SIGSTREAM_<FLAG>, flags win).
 */
#ifndef SIGSTREAM_CONFIG_H
#define SIGSTREAM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0, -EINVAL (not a number) or -ERANGE (outside [min, max]). */
int config_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out);
/* Finite decimal within [min, max]; NaN and infinities are -EINVAL. */
int config_parse_double(const char *text, double min, double max, double *out);

/*
 * The environment fallback of a long flag: "max-streams" ->
 * getenv("SIGSTREAM_MAX_STREAMS"). Returns NULL when unset or empty.
 */
const char *config_env(const char *flag);

/*
 * Splits a comma-separated list in place (writes NULs into `text`), storing
 * up to `max` non-empty items in `items`. Returns the count, or -E2BIG when
 * there are more than `max` items, -EINVAL for an empty item ("a,,b").
 */
int config_split_list(char *text, char **items, size_t max);

#endif
