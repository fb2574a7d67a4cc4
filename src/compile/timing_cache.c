/* compile/timing_cache.c — autotune results kept across compiles: one line per measurement,
 * "KEY<TAB>NANOSECONDS", where KEY names the op, its input shapes and dtypes, its attributes'
 * hash, the kernel and this CPU's features. Read at the start of a compile, appended to after,
 * so the same model, options and cache give the same choices (and the same plan bytes). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define CACHE_MAX_LINE 1024
#define CACHE_MAX_ENTRIES 100000

strata_status timing_cache_load(timing_cache *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    if (!path) return STRATA_OK;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return STRATA_OK; /* a new cache */
        return error_set(STRATA_IO_ERROR, "timing cache '%s': %s", path, strerror(errno));
    }
    char line[CACHE_MAX_LINE];
    long lineno = 0;
    strata_status st = STRATA_OK;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *tab = strchr(line, '\t');
        if (!tab || !strchr(tab, '\n')) {
            st = error_set(STRATA_INVALID_ARGUMENT, "timing cache '%s' line %ld: not KEY<TAB>NS", path, lineno);
            break;
        }
        *tab = 0;
        char *end;
        errno = 0;
        unsigned long long ns = strtoull(tab + 1, &end, 10);
        if (errno || end == tab + 1 || (*end != '\n' && *end != 0)) {
            st = error_set(STRATA_INVALID_ARGUMENT, "timing cache '%s' line %ld: bad time", path, lineno);
            break;
        }
        if ((st = timing_cache_put(c, line, ns, false)) != STRATA_OK) break;
    }
    fclose(f);
    if (st != STRATA_OK) timing_cache_release(c);
    return st;
}

bool timing_cache_get(const timing_cache *c, const char *key, uint64_t *ns)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->keys[i], key) == 0) {
            *ns = c->ns[i];
            return true;
        }
    return false;
}

strata_status timing_cache_put(timing_cache *c, const char *key, uint64_t ns, bool is_new)
{
    if (c->n >= CACHE_MAX_ENTRIES)
        return error_set(STRATA_INVALID_ARGUMENT, "timing cache: more than %d entries", CACHE_MAX_ENTRIES);
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        char **k = mem_realloc(c->keys, cap * sizeof *k);
        if (!k) return error_set(STRATA_OUT_OF_MEMORY, "timing cache: out of memory");
        c->keys = k;
        uint64_t *v = mem_realloc(c->ns, cap * sizeof *v);
        if (!v) return error_set(STRATA_OUT_OF_MEMORY, "timing cache: out of memory");
        c->ns = v;
        c->cap = cap;
    }
    c->keys[c->n] = mem_strdup(key);
    if (!c->keys[c->n]) return error_set(STRATA_OUT_OF_MEMORY, "timing cache: out of memory");
    c->ns[c->n++] = ns;
    if (is_new) c->n_new++;
    return STRATA_OK;
}

strata_status timing_cache_save(const timing_cache *c)
{
    if (!c->path || c->n_new == 0) return STRATA_OK;
    FILE *f = fopen(c->path, "a");
    if (!f) return error_set(STRATA_IO_ERROR, "timing cache '%s': %s", c->path, strerror(errno));
    for (size_t i = c->n - c->n_new; i < c->n; i++)
        fprintf(f, "%s\t%llu\n", c->keys[i], (unsigned long long)c->ns[i]);
    if (fclose(f) != 0) return error_set(STRATA_IO_ERROR, "timing cache '%s': write failed", c->path);
    return STRATA_OK;
}

void timing_cache_release(timing_cache *c)
{
    for (size_t i = 0; i < c->n; i++) mem_free(c->keys[i]);
    mem_free(c->keys);
    mem_free(c->ns);
    memset(c, 0, sizeof *c);
}
