/* kernels/dnnl/dnnl_common.c — the oneDNN engine, per-thread streams, the primitive cache and
 * status translation shared by the oneDNN tactics (see dnnl_common.h). */
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dnnl_common.h"

static dnnl_engine_t engine;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void)
{
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) engine = NULL;
}

dnnl_engine_t dnnl_engine(void)
{
    pthread_once(&engine_once, engine_init);
    return engine;
}

dnnl_stream_t dnnl_thread_stream(void)
{
    static _Thread_local dnnl_stream_t stream;
    if (!stream && dnnl_engine() && dnnl_stream_create(&stream, dnnl_engine(), dnnl_stream_in_order) != dnnl_success)
        stream = NULL;
    return stream;
}

static const char *status_name(dnnl_status_t s)
{
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented (no implementation for these sizes/formats)";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

strata_status dnnl_check(dnnl_status_t s, const op_node *n, const char *what)
{
    if (s == dnnl_success) return STRATA_OK;
    strata_status code = s == dnnl_out_of_memory ? STRATA_OUT_OF_MEMORY : STRATA_INTERNAL;
    if (n) return op_error(n, code, "oneDNN %s failed: %s (%d)", what, status_name(s), (int)s);
    return error_set(code, "oneDNN %s failed: %s (%d)", what, status_name(s), (int)s);
}

void dnnl_use_threads(const kernel_ctx *ctx)
{
    int t = ctx && ctx->n_threads > 0 ? ctx->n_threads : 1;
    if (omp_get_max_threads() != t) omp_set_num_threads(t);
}

/* ---- primitive cache: open addressing on a 64-bit hash of the key, under one mutex ---------- */

typedef struct slot {
    uint64_t hash;
    void *key; /* mem_alloc'd copy; NULL: empty */
    size_t key_len;
    dnnl_primitive_t prim;
} slot;

static slot slots[DNNL_CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

strata_status dnnl_primitive_get(const void *key, size_t key_len, dnnl_make_fn make, const void *arg,
                                 const op_node *n, dnnl_primitive_t *out, bool *owned)
{
    *out = NULL;
    *owned = false;
    uint64_t h = hash64(key, key_len, 0x5eed);
    size_t at = (size_t)(h % DNNL_CACHE_SLOTS);
    pthread_mutex_lock(&cache_lock);
    for (size_t probe = 0; probe < DNNL_CACHE_SLOTS; probe++, at = (at + 1) % DNNL_CACHE_SLOTS) {
        slot *s = &slots[at];
        if (!s->key) break;
        if (s->hash == h && s->key_len == key_len && memcmp(s->key, key, key_len) == 0) {
            *out = s->prim;
            pthread_mutex_unlock(&cache_lock);
            return STRATA_OK;
        }
    }
    /* miss: made under the lock so two threads never build the same primitive twice */
    dnnl_primitive_t p = NULL;
    dnnl_status_t ds = make(arg, &p);
    if (ds != dnnl_success) {
        pthread_mutex_unlock(&cache_lock);
        return dnnl_check(ds, n, "primitive creation");
    }
    slot *s = &slots[at];
    /* libc, not mem_alloc: during a run mem_alloc is the session's scratch arena, and the key
     * must outlive the run */
    void *copy = s->key ? NULL : malloc(key_len ? key_len : 1);
    if (copy) {
        memcpy(copy, key, key_len);
        s->hash = h, s->key = copy, s->key_len = key_len, s->prim = p;
    } else {
        *owned = true; /* full (or out of memory): the caller destroys it after use */
    }
    *out = p;
    pthread_mutex_unlock(&cache_lock);
    return STRATA_OK;
}

strata_status dnnl_run(dnnl_primitive_t p, int n_args, const int *args, const dnnl_memory_desc_t *mds,
                       void *const *ptrs, const op_node *n)
{
    enum { MAX_ARGS = 16 };
    if (n_args > MAX_ARGS) return op_error(n, STRATA_INTERNAL, "oneDNN: %d arguments (max %d)", n_args, MAX_ARGS);
    dnnl_stream_t stream = dnnl_thread_stream();
    if (!stream) return op_error(n, STRATA_INTERNAL, "oneDNN: no CPU stream");
    dnnl_exec_arg_t ea[MAX_ARGS];
    strata_status st = STRATA_OK;
    int made = 0;
    for (; made < n_args; made++) {
        ea[made].arg = args[made];
        dnnl_status_t ds = dnnl_memory_create(&ea[made].memory, &mds[made], dnnl_engine(), ptrs[made]);
        if (ds != dnnl_success) {
            st = dnnl_check(ds, n, "memory creation");
            break;
        }
    }
    if (st == STRATA_OK) st = dnnl_check(dnnl_primitive_execute(p, stream, n_args, ea), n, "execution");
    if (st == STRATA_OK) st = dnnl_check(dnnl_stream_wait(stream), n, "stream wait");
    for (int i = 0; i < made; i++) dnnl_memory_destroy(ea[i].memory);
    return st;
}

uint16_t dnnl_f32_to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void dnnl_f32_to_bf16_n(const float *src, uint16_t *dst, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] = dnnl_f32_to_bf16(src[i]);
}
