#include "server/symtab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct symtab {
	size_t count;
	size_t mask;                                  /* hash slots - 1 */
	uint32_t *slots;                              /* id + 1; 0 = empty */
	char (*names)[LIMITS_SYMBOL_MAX + 1];
};

/* FNV-1a: names are short; this is only used on the request path. */
static uint64_t hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211u;
	}
	return h;
}

static struct symtab *alloc_table(size_t count)
{
	struct symtab *tab;
	size_t nslots = 16;

	if (count == 0 || count > UINT32_MAX / 4) {
		errno = EINVAL;
		return NULL;
	}
	while (nslots < count * 2)
		nslots *= 2;
	tab = calloc(1, sizeof(*tab));
	if (tab == NULL)
		return NULL;
	tab->slots = calloc(nslots, sizeof(*tab->slots));
	tab->names = calloc(count, sizeof(*tab->names));
	if (tab->slots == NULL || tab->names == NULL) {
		symtab_destroy(tab);
		return NULL;
	}
	tab->mask = nslots - 1;
	return tab;
}

static int insert(struct symtab *tab, const char *name)
{
	size_t len = strlen(name);
	size_t i = hash(name, len) & tab->mask;
	uint32_t id = (uint32_t)tab->count;

	if (len == 0 || len > LIMITS_SYMBOL_MAX)
		return -EINVAL;
	while (tab->slots[i] != 0) {
		if (strcmp(tab->names[tab->slots[i] - 1], name) == 0)
			return -EEXIST;
		i = (i + 1) & tab->mask;
	}
	memcpy(tab->names[id], name, len + 1);
	tab->slots[i] = id + 1;
	tab->count++;
	return 0;
}

struct symtab *symtab_create(const char *const *names, size_t count)
{
	struct symtab *tab = alloc_table(count);
	int rc;

	if (tab == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		rc = insert(tab, names[i]);
		if (rc < 0) {
			symtab_destroy(tab);
			errno = -rc;
			return NULL;
		}
	}
	return tab;
}

struct symtab *symtab_create_numbered(size_t count)
{
	struct symtab *tab = alloc_table(count);
	char name[LIMITS_SYMBOL_MAX + 1];

	if (tab == NULL)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		snprintf(name, sizeof(name), "SYM%04zu", i % 1000000000u);
		if (insert(tab, name) < 0) {
			symtab_destroy(tab);
			errno = EINVAL;
			return NULL;
		}
	}
	return tab;
}

void symtab_destroy(struct symtab *tab)
{
	if (tab == NULL)
		return;
	free(tab->slots);
	free(tab->names);
	free(tab);
}

size_t symtab_count(const struct symtab *tab)
{
	return tab->count;
}

const char *symtab_name(const struct symtab *tab, uint32_t id)
{
	return id < tab->count ? tab->names[id] : NULL;
}

uint32_t symtab_find(const struct symtab *tab, const char *name, size_t len)
{
	size_t i;

	if (len == 0 || len > LIMITS_SYMBOL_MAX)
		return SYMTAB_NOT_FOUND;
	i = hash(name, len) & tab->mask;
	while (tab->slots[i] != 0) {
		const char *n = tab->names[tab->slots[i] - 1];

		if (strncmp(n, name, len) == 0 && n[len] == '\0')
			return tab->slots[i] - 1;
		i = (i + 1) & tab->mask;
	}
	return SYMTAB_NOT_FOUND;
}
