/* kernels/ref/ref_transformer.h — private declarations of the transformer family of reference
 * ops (transformer_*.c): the infer/compute pairs that list_transformer.c puts in its table, and
 * the double staging helpers that the loss and signal families share. */
#ifndef STRATA_REF_TRANSFORMER_H
#define STRATA_REF_TRANSFORMER_H

#include "kernels/kernels.h"

/* Declares name_infer and name_compute with the op_def signatures. */
#define TRANSFORMER_DECLARE_OP(name)                                                          \
    strata_status name##_infer(const op_node *n, const strata_tensor *const *in,              \
                               strata_tensor *const *out);                                    \
    strata_status name##_compute(const op_node *n, const strata_tensor *const *in,            \
                                 strata_tensor *const *out)

/* transformer_attention.c */
TRANSFORMER_DECLARE_OP(transformer_attention);
TRANSFORMER_DECLARE_OP(transformer_attention_flex);
/* transformer_norm.c */
TRANSFORMER_DECLARE_OP(transformer_norm_rms);
/* transformer_rotary.c */
TRANSFORMER_DECLARE_OP(transformer_rotary);
/* transformer_linear.c */
TRANSFORMER_DECLARE_OP(transformer_linear_attention);
TRANSFORMER_DECLARE_OP(transformer_linear_causal_conv);

/* ---- staging (transformer_util.c) --------------------------------------------------------- */

/* UNSUPPORTED naming the node and what unless t is f16/bf16/f32/f64. */
strata_status transformer_util_need_float(const op_node *n, const strata_tensor *t,
                                          const char *what);
/* A new double copy of t's elements (mem_free it); NULL when out of memory or t is NULL.
 * Always allocates at least one element so that empty tensors do not look like failures. */
double *transformer_util_load(const strata_tensor *t);
/* Stores doubles into t's elements, converting to its dtype. */
void transformer_util_store(strata_tensor *t, const double *src);
/* OUT_OF_MEMORY naming the node. */
strata_status transformer_util_oom(const op_node *n);
/* a * b with -1 (unknown) propagating. */
int64_t transformer_util_mul_dim(int64_t a, int64_t b);
/* a + b with -1 (unknown) propagating. */
int64_t transformer_util_add_dim(int64_t a, int64_t b);
/* Reads a scalar (or one-element) integer input; INVALID_ARGUMENT naming what when it is not
 * one integer. */
strata_status transformer_util_scalar_int(const op_node *n, const strata_tensor *t,
                                          const char *what, int64_t *out);

#endif
