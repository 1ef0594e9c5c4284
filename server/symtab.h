/*
 * symtab — the fixed table of symbols the producers trade, built once at
 * startup and read-only afterwards (so lock-free for every thread): id ->
 * name and name -> id through an open-addressing hash. Ids are dense
 * (0..count-1) so that per-symbol structures can be plain arrays.
 */
#ifndef SIGSTREAM_SYMTAB_H
#define SIGSTREAM_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

#include "common/limits.h"

#define SYMTAB_NOT_FOUND UINT32_MAX

struct symtab;

/*
 * Copies `names` (each already valid per limits_check_symbol). Duplicates
 * are rejected (-EEXIST via errno, NULL returned).
 */
struct symtab *symtab_create(const char *const *names, size_t count);
/* "SYM0000".."SYM<count-1>" (at least 4 digits), as the Go reference names them. */
struct symtab *symtab_create_numbered(size_t count);
void symtab_destroy(struct symtab *tab);

size_t symtab_count(const struct symtab *tab);
const char *symtab_name(const struct symtab *tab, uint32_t id);
/* `len` bytes of `name` (not NUL-terminated needed); SYMTAB_NOT_FOUND if absent. */
uint32_t symtab_find(const struct symtab *tab, const char *name, size_t len);

#endif
