#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull accepts "-1" and leading blanks; a flag value must not. */
	if (text == NULL || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

int config_parse_double(const char *text, double min, double max, double *out)
{
	double v;
	char *end;

	if (text == NULL || text[0] == '\0' || isspace((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (*end != '\0' || !isfinite(v))
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

const char *config_env(const char *flag)
{
	char name[64] = "SIGSTREAM_";
	size_t o = strlen(name);
	const char *v;

	for (; *flag != '\0' && o < sizeof(name) - 1; flag++)
		name[o++] = *flag == '-' ? '_' : (char)toupper((unsigned char)*flag);
	name[o] = '\0';
	v = getenv(name);
	return (v != NULL && v[0] != '\0') ? v : NULL;
}

int config_split_list(char *text, char **items, size_t max)
{
	size_t n = 0;
	char *p = text;

	if (text[0] == '\0')
		return 0;
	for (;;) {
		char *comma = strchr(p, ',');

		if (comma != NULL)
			*comma = '\0';
		if (p[0] == '\0')
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		items[n++] = p;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return (int)n;
}
