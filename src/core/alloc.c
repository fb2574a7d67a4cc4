/* core/alloc.c — the one allocator every heap byte goes through (Lua's lua_Alloc).
 * Tests swap in counting and fail-on-Nth allocators with alloc_set. */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void *libc_alloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n ? n : 1);
}
static void *libc_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    return realloc(p, n ? n : 1);
}
static void libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static const strata_allocator libc_allocator = {NULL, libc_alloc, libc_realloc, libc_free};
static strata_allocator current = {NULL, libc_alloc, libc_realloc, libc_free};

void alloc_set(const strata_allocator *a)
{
    current = a ? *a : libc_allocator;
}

void *mem_alloc(size_t n_bytes)
{
    return current.alloc(current.ctx, n_bytes);
}

void *mem_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) return NULL;
    void *p = current.alloc(current.ctx, total);
    if (p) memset(p, 0, total);
    return p;
}

void *mem_realloc(void *p, size_t n_bytes)
{
    if (!p) return current.alloc(current.ctx, n_bytes);
    return current.realloc(current.ctx, p, n_bytes);
}

void mem_free(void *p)
{
    if (p) current.free(current.ctx, p);
}

/* Aligned blocks keep the raw pointer just before the aligned address. */
void *mem_alloc_aligned(size_t n_bytes)
{
    size_t total;
    if (__builtin_add_overflow(n_bytes, (size_t)64 + sizeof(void *), &total)) return NULL;
    uint8_t *raw = current.alloc(current.ctx, total);
    if (!raw) return NULL;
    uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    return (void *)a;
}

void mem_free_aligned(void *p)
{
    if (p) current.free(current.ctx, ((void **)p)[-1]);
}

char *mem_strndup(const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = mem_alloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *mem_strdup(const char *s)
{
    return s ? mem_strndup(s, strlen(s)) : NULL;
}
