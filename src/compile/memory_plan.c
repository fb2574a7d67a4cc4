/* compile/memory_plan.c — offsets in one activation arena for tensors with known sizes and
 * lifetimes: greedy by size (largest first), each placed in the lowest gap, best fit, among the
 * tensors already placed whose lifetimes overlap it (TFLite's "greedy by size" planner). */
#include <stdlib.h>

#include "internal.h"

static int by_size_desc(const void *a, const void *b)
{
    const mem_request *x = *(const mem_request *const *)a, *y = *(const mem_request *const *)b;
    if (x->n_bytes != y->n_bytes) return x->n_bytes < y->n_bytes ? 1 : -1;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int by_offset(const void *a, const void *b)
{
    const mem_request *x = *(const mem_request *const *)a, *y = *(const mem_request *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x < y ? -1 : x > y;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

strata_status memory_plan(mem_request *r, size_t n, uint64_t *arena_bytes)
{
    mem_request **order = mem_calloc(n + 1, sizeof *order);
    mem_request **live = mem_calloc(n + 1, sizeof *live);
    if (!order || !live) {
        mem_free(order);
        mem_free(live);
        return error_set(STRATA_OUT_OF_MEMORY, "memory plan: out of memory");
    }
    for (size_t i = 0; i < n; i++) order[i] = &r[i];
    qsort(order, n, sizeof *order, by_size_desc);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        mem_request *q = order[i];
        uint64_t size = align_up(q->n_bytes ? q->n_bytes : 1, 64);
        size_t n_live = 0;
        for (size_t j = 0; j < i; j++) {
            const mem_request *p = order[j];
            if (p->first <= q->last && q->first <= p->last) live[n_live++] = order[j];
        }
        qsort(live, n_live, sizeof *live, by_offset);
        uint64_t best = UINT64_MAX, best_gap = UINT64_MAX, cursor = 0;
        for (size_t j = 0; j < n_live; j++) {
            uint64_t start = live[j]->offset;
            if (start > cursor && start - cursor >= size && start - cursor < best_gap) {
                best = cursor;
                best_gap = start - cursor;
            }
            uint64_t end = align_up(live[j]->offset + (live[j]->n_bytes ? live[j]->n_bytes : 1), 64);
            if (end > cursor) cursor = end;
        }
        q->offset = best != UINT64_MAX ? best : cursor;
        if (q->offset + size > total) total = q->offset + size;
    }
    mem_free(order);
    mem_free(live);
    *arena_bytes = total;
    return STRATA_OK;
}
