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

/* ---- scratch: bump allocation during a run ----------------------------------------------------
 * Each scratch block starts with a 64-byte header holding its size (for realloc). */
#define SCRATCH_HDR 64

static _Thread_local scratch_arena *active;

static bool in_scratch(const void *p)
{
    /* as integers: an empty arena has a NULL base, and NULL + 0 is undefined behaviour */
    return active && (uintptr_t)p - (uintptr_t)active->base < active->cap;
}

static void *scratch_take(size_t n)
{
    size_t need;
    if (__builtin_add_overflow(n, (size_t)SCRATCH_HDR + 63, &need)) return NULL;
    need &= ~(size_t)63;
    if (active->used + need > active->high) active->high = active->used + need;
    if (active->used + need <= active->cap) {
        uint8_t *blk = active->base + active->used;
        active->used += need;
        *(size_t *)blk = n;
        return blk + SCRATCH_HDR;
    }
    active->used += need; /* counts toward the high-water mark */
    active->n_fallback++;
    return NULL;
}

static void *heap_alloc_aligned(size_t n_bytes);
static void heap_free_aligned(void *p);

/* Remembers a heap block handed out during a run, so that it is freed even if the kernel that
 * asked for it never frees it. */
static void track(void *p, bool aligned)
{
    scratch_arena *s = active;
    if (s->n_live == s->cap_live) {
        size_t cap = s->cap_live ? s->cap_live * 2 : 16;
        void **f = current.realloc(current.ctx, s->fallback, cap * sizeof *f);
        if (!f) return; /* not tracked: it leaks only if the kernel forgets to free it */
        s->fallback = f;
        uint8_t *a = current.realloc(current.ctx, s->fallback_aligned, cap);
        if (!a) return;
        s->fallback_aligned = a;
        s->cap_live = cap;
    }
    s->fallback[s->n_live] = p;
    s->fallback_aligned[s->n_live] = aligned;
    s->n_live++;
}

/* Forgets p if tracked (the caller frees it). */
static void untrack(void *p)
{
    scratch_arena *s = active;
    for (size_t i = s->n_live; i-- > 0;)
        if (s->fallback[i] == p) {
            s->fallback[i] = s->fallback[s->n_live - 1];
            s->fallback_aligned[i] = s->fallback_aligned[s->n_live - 1];
            s->n_live--;
            return;
        }
}

static void free_tracked(scratch_arena *s)
{
    for (size_t i = 0; i < s->n_live; i++) {
        if (s->fallback_aligned[i]) heap_free_aligned(s->fallback[i]);
        else current.free(current.ctx, s->fallback[i]);
    }
    s->n_live = 0;
}

/* Frees a scratch block when it is the last one handed out (kernels free in reverse order, so
 * the scratch's high-water mark is what is live at once, not what a run allocates in total). */
static void scratch_pop(void *p)
{
    uint8_t *blk = (uint8_t *)p - SCRATCH_HDR;
    size_t n = *(size_t *)blk;
    size_t need = (n + SCRATCH_HDR + 63) & ~(size_t)63;
    if (blk + need == active->base + active->used) active->used = (size_t)(blk - active->base);
}

void scratch_begin(scratch_arena *s)
{
    free_tracked(s);
    s->used = 0;
    s->n_fallback = 0;
    active = s;
}

void scratch_end(void)
{
    active = NULL;
}

strata_status scratch_reserve(scratch_arena *s)
{
    if (s->high <= s->cap) return STRATA_OK;
    scratch_arena *keep = active;
    active = NULL;
    void *p = mem_alloc_aligned(s->high);
    active = keep;
    if (!p) return error_set(STRATA_OUT_OF_MEMORY, "scratch: out of memory for %zu bytes", s->high);
    mem_free_aligned(s->base);
    s->base = p;
    s->cap = s->high;
    return STRATA_OK;
}

void scratch_release(scratch_arena *s)
{
    if (!s) return;
    free_tracked(s);
    current.free(current.ctx, s->fallback);
    current.free(current.ctx, s->fallback_aligned);
    mem_free_aligned(s->base);
    memset(s, 0, sizeof *s);
}

void *mem_alloc(size_t n_bytes)
{
    if (active) {
        void *p = scratch_take(n_bytes);
        if (p) return p;
        p = current.alloc(current.ctx, n_bytes);
        if (p) track(p, false);
        return p;
    }
    return current.alloc(current.ctx, n_bytes);
}

void *mem_calloc(size_t n, size_t size)
{
    size_t total;
    if (__builtin_mul_overflow(n, size, &total)) return NULL;
    void *p = mem_alloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void *mem_realloc(void *p, size_t n_bytes)
{
    if (!p) return mem_alloc(n_bytes);
    if (in_scratch(p)) {
        size_t old = *(size_t *)((uint8_t *)p - SCRATCH_HDR);
        void *q = mem_alloc(n_bytes);
        if (q) memcpy(q, p, old < n_bytes ? old : n_bytes);
        return q;
    }
    if (active) untrack(p);
    void *q = current.realloc(current.ctx, p, n_bytes);
    if (active) track(q ? q : p, false);
    return q;
}

void mem_free(void *p)
{
    if (!p) return;
    if (in_scratch(p)) {
        scratch_pop(p);
        return;
    }
    if (active) untrack(p);
    current.free(current.ctx, p);
}

/* Aligned blocks keep the raw pointer just before the aligned address. */
void *mem_alloc_aligned(size_t n_bytes)
{
    if (active) { /* scratch blocks are 64-byte aligned already */
        void *p = scratch_take(n_bytes);
        if (p) return p;
        p = heap_alloc_aligned(n_bytes);
        if (p) track(p, true);
        return p;
    }
    return heap_alloc_aligned(n_bytes);
}

static void *heap_alloc_aligned(size_t n_bytes)
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
    if (!p) return;
    if (in_scratch(p)) {
        scratch_pop(p);
        return;
    }
    if (active) untrack(p);
    heap_free_aligned(p);
}

static void heap_free_aligned(void *p)
{
    current.free(current.ctx, ((void **)p)[-1]);
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
