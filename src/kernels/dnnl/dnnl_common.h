/* kernels/dnnl/dnnl_common.h — what the oneDNN tactics (the files of kernels/dnnl) share: one CPU engine per
 * process, a stream per thread, a process-wide cache of primitives keyed by a description of
 * the node (so a run looks a primitive up instead of creating it), thread-count control of
 * oneDNN's OpenMP team, and status translation. Internal to src/kernels/dnnl. */
#ifndef STRATA_KERNELS_DNNL_COMMON_H
#define STRATA_KERNELS_DNNL_COMMON_H

#include <oneapi/dnnl/dnnl.h>

#include "kernels/fast_internal.h"

/* The CPU engine, created once (thread-safe); NULL when oneDNN could not create it. */
dnnl_engine_t dnnl_engine(void);

/* This thread's in-order CPU stream on dnnl_engine() (created on first use); NULL on failure. */
dnnl_stream_t dnnl_thread_stream(void);

/* op_error(n, STRATA_INTERNAL, "oneDNN <what> failed: <status name>") when s is not success,
 * else STRATA_OK. n may be NULL (error_set without a node). */
strata_status dnnl_check(dnnl_status_t s, const op_node *n, const char *what);

/* Sets the calling thread's OpenMP team (oneDNN's threads) to the session's thread count. */
void dnnl_use_threads(const kernel_ctx *ctx);

/* Builds a primitive for a cache miss; returns a oneDNN status. */
typedef dnnl_status_t (*dnnl_make_fn)(const void *arg, dnnl_primitive_t *out);

/* The primitive cached under key (any bytes, e.g. a struct of the node's sizes, formats and
 * attributes), made with make(arg) on the first request. Primitives live until the process
 * exits; the cache holds DNNL_CACHE_SLOTS of them, and a key that finds it full gets a fresh
 * primitive in *out with *owned set (the caller destroys it after use). Thread-safe. */
#define DNNL_CACHE_SLOTS 4096
strata_status dnnl_primitive_get(const void *key, size_t key_len, dnnl_make_fn make, const void *arg,
                                 const op_node *n, dnnl_primitive_t *out, bool *owned);

/* Executes p on this thread's stream with the given arguments and waits for it; wraps the
 * user pointers of each argument in dnnl_memory objects for the call. mds[i] describes
 * ptrs[i], bound to argument kind args[i] (DNNL_ARG_SRC, ...). */
strata_status dnnl_run(dnnl_primitive_t p, int n_args, const int *args, const dnnl_memory_desc_t *mds,
                       void *const *ptrs, const op_node *n);

/* float <-> bfloat16 (round to nearest even; NaN kept a quiet NaN). */
uint16_t dnnl_f32_to_bf16(float x);
void dnnl_f32_to_bf16_n(const float *src, uint16_t *dst, int64_t n);

#endif
