/* kernels/ref/ref_nn.h — private declarations of the nn family of reference ops (nn_*.c):
 * the infer/compute pairs that list_nn.c puts in its table, the window geometry shared by
 * convolutions and pools, float/double staging helpers and the plain f32 GEMM. */
#ifndef STRATA_REF_NN_H
#define STRATA_REF_NN_H

#include "kernels/kernels.h"

/* Declares name_infer and name_compute with the op_def signatures. */
#define NN_DECLARE_OP(name)                                                                   \
    strata_status name##_infer(const op_node *n, const strata_tensor *const *in,              \
                               strata_tensor *const *out);                                    \
    strata_status name##_compute(const op_node *n, const strata_tensor *const *in,            \
                                 strata_tensor *const *out)

/* nn_conv.c */
NN_DECLARE_OP(nn_conv);
NN_DECLARE_OP(nn_conv_transpose);
NN_DECLARE_OP(nn_conv_integer);
NN_DECLARE_OP(nn_conv_qlinear);
/* nn_matmul.c */
NN_DECLARE_OP(nn_matmul_gemm);
NN_DECLARE_OP(nn_matmul);
NN_DECLARE_OP(nn_matmul_integer);
NN_DECLARE_OP(nn_matmul_qlinear);
/* nn_quant.c */
NN_DECLARE_OP(nn_quant_quantize);
NN_DECLARE_OP(nn_quant_dequantize);
NN_DECLARE_OP(nn_quant_dynamic);
/* nn_norm.c */
NN_DECLARE_OP(nn_norm_batch);
NN_DECLARE_OP(nn_norm_instance);
NN_DECLARE_OP(nn_norm_layer);
NN_DECLARE_OP(nn_norm_group);
NN_DECLARE_OP(nn_norm_lp);
NN_DECLARE_OP(nn_norm_mvn);
NN_DECLARE_OP(nn_norm_lrn);
/* nn_pool.c */
NN_DECLARE_OP(nn_pool_max);
NN_DECLARE_OP(nn_pool_average);
NN_DECLARE_OP(nn_pool_lp);
NN_DECLARE_OP(nn_pool_global_average);
NN_DECLARE_OP(nn_pool_global_max);
NN_DECLARE_OP(nn_pool_global_lp);
NN_DECLARE_OP(nn_pool_max_unpool);
NN_DECLARE_OP(nn_pool_max_roi);
/* nn_rnn.c */
NN_DECLARE_OP(nn_rnn);
NN_DECLARE_OP(nn_rnn_gru);
NN_DECLARE_OP(nn_rnn_lstm);
/* nn_einsum.c */
NN_DECLARE_OP(nn_einsum);
/* nn_sample.c */
NN_DECLARE_OP(nn_sample_grid);
NN_DECLARE_OP(nn_sample_affine_grid);
NN_DECLARE_OP(nn_sample_roi_align);
/* nn_nms.c */
NN_DECLARE_OP(nn_nms);
/* nn_deform.c */
NN_DECLARE_OP(nn_deform_conv);
/* nn_causal.c */
NN_DECLARE_OP(nn_causal_conv);

/* ---- window geometry (nn_util.c) ---------------------------------------------------------- */

#define NN_MAX_SPATIAL (STRATA_MAX_DIMS - 2)

/* Sliding-window geometry over the spatial dims of an N, C, spatial... tensor. */
typedef struct nn_window {
    int n_sp;                      /* number of spatial dims */
    int64_t in[NN_MAX_SPATIAL];    /* input extent (-1 unknown) */
    int64_t k[NN_MAX_SPATIAL];     /* kernel extent */
    int64_t s[NN_MAX_SPATIAL];     /* stride */
    int64_t d[NN_MAX_SPATIAL];     /* dilation */
    int64_t pb[NN_MAX_SPATIAL];    /* padding before */
    int64_t pe[NN_MAX_SPATIAL];    /* padding after */
    int64_t out[NN_MAX_SPATIAL];   /* output extent (-1 unknown) */
} nn_window;

/* Reads kernel_shape (or takes kernel when non-NULL), strides, dilations, pads, auto_pad from
 * the node and computes output extents; ceil_mode rounds the output up (pools). */
strata_status nn_util_window(const op_node *n, int n_sp, const int64_t *in_sp,
                             const int64_t *kernel, bool ceil_mode, nn_window *w);

/* ---- staging (nn_util.c) ------------------------------------------------------------------ */

/* UNSUPPORTED naming the node and what unless t is f16/bf16/f32/f64. */
strata_status nn_util_need_float(const op_node *n, const strata_tensor *t, const char *what);
/* t's elements as floats: t->data itself for F32, else a converted copy in *tmp (the
 * caller frees *tmp with mem_free). NULL when out of memory. */
const float *nn_util_f32_in(const strata_tensor *t, float **tmp);
/* Where to write t's elements as floats: t->data for F32, else zeroed *tmp. */
float *nn_util_f32_out(strata_tensor *t, float **tmp);
/* Stores src into t converting when src is not t->data. */
void nn_util_f32_store(strata_tensor *t, const float *src);
/* A new double copy of t's elements (mem_free it); NULL when out of memory. t may be NULL
 * (returns NULL). */
double *nn_util_f64_load(const strata_tensor *t);
/* Stores doubles into t's elements, converting to its dtype. */
void nn_util_f64_store(strata_tensor *t, const double *src);
/* OUT_OF_MEMORY naming the node. */
strata_status nn_util_oom(const op_node *n);
/* Numel of a tensor (0 for NULL). */
int64_t nn_util_numel(const strata_tensor *t);
/* Round half to even, as numpy's rint. */
double nn_util_rint(double x);
/* Saturating range of an integer dtype used by quantized ops; false when not one. */
bool nn_util_int_range(strata_dtype t, int64_t *lo, int64_t *hi);
/* q clamped to [lo, hi]; NaN (a zero or NaN scale) gives 0 rather than an undefined cast. */
int64_t nn_util_saturate(double q, int64_t lo, int64_t hi);

/* ---- gemm (nn_util.c) --------------------------------------------------------------------- */

/* C[m][j] += alpha * sum_k op(A)[m][k] * op(B)[k][j] for m < M, j < N; op transposes when the
 * flag is set (A is then K x M, B is N x K); lda/ldb/ldc are row strides. Blocked, contiguous
 * inner loop over j. Returns false when out of memory (transB needs a scratch copy). */
bool nn_util_gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      bool trans_a, const float *B, int64_t ldb, bool trans_b, float *C,
                      int64_t ldc);
/* The same on doubles (no blocking; for the non-f32 paths). */
void nn_util_gemm_f64(int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                      int64_t lda, bool trans_a, const double *B, int64_t ldb, bool trans_b,
                      double *C, int64_t ldc);

#endif
