/* kernels/fast_transformer.h — between fast_transformer.c (the tactic rows, threading, shape
 * checks) and the SIMD bodies of fast_transformer_body.c, compiled once per ISA (portable C
 * vectors, and kernels/x86/transformer_f32_{avx2,avx512}.c): one table of row kernels per ISA. */
#ifndef STRATA_KERNELS_FAST_TRANSFORMER_H
#define STRATA_KERNELS_FAST_TRANSFORMER_H

#include <stdint.h>

typedef enum tf_binop { TF_ADD = 0, TF_SUB = 1, TF_MUL = 2, TF_DIV = 3 } tf_binop;

/* One attention head (or a block of its query rows): Y[i] = softmax(scale * Q[i] K^T + M[i]) V
 * for i in [q_begin, q_end). Last dims (D, Dv) are contiguous in Q, V and Y; K is [Sk][D]
 * with row stride ks, or when k_trans [D][Sk] with row stride ks. */
typedef struct tf_attn_head {
    int64_t sq, sk, d, dv;
    const float *q;
    int64_t qs;           /* row stride of Q */
    const float *k;
    int64_t ks;
    int k_trans;
    const float *v;
    int64_t vs;
    float *y;
    int64_t ys;
    const float *mask;    /* additive mask element (i, j) at mask[i * ms_row + j * ms_col], or NULL */
    int64_t ms_row, ms_col;
    float scale;
    int64_t q_begin, q_end;
} tf_attn_head;

/* Key tile and query block of the attention kernel; scratch floats one call needs. */
#define TF_ATTN_KT 64
#define TF_ATTN_QB 128
#define TF_ATTN_ROWS 4 /* query rows that share every K and V load */
#define TF_ATTN_SCRATCH(d, dv) \
    ((int64_t)(d) * TF_ATTN_KT + TF_ATTN_ROWS * TF_ATTN_KT + TF_ATTN_QB * ((int64_t)(dv) + 2) + TF_ATTN_KT * (int64_t)(dv) + 64)

typedef struct tf_ops {
    const char *isa;
    /* rows x D: y = (x - mean) / sqrt(var + eps) * scale + bias (bias may be NULL); mean and
     * inv_std (1 per row) written when non-NULL. y may equal x. */
    void (*layernorm_rows)(const float *x, float *y, int64_t rows, int64_t D, const float *scale,
                           const float *bias, float eps, float *mean, float *inv_std);
    /* rows x D softmax over each row; y may equal x. */
    void (*softmax_rows)(const float *x, float *y, int64_t rows, int64_t D);
    /* y = x/2 * (1 + erf(x / sqrt 2)) over n floats; y may equal x. */
    void (*gelu)(const float *x, float *y, int64_t n);
    /* y[i] = a[i * sa] op b[i * sb], sa and sb 0 or 1; y may equal a or b where the stride is 1. */
    void (*binary)(tf_binop op, const float *a, int64_t sa, const float *b, int64_t sb, float *y,
                   int64_t n);
    /* e^x over n floats (for tests). */
    void (*exp)(const float *x, float *y, int64_t n);
    /* Attention over one head's query block; scratch holds TF_ATTN_SCRATCH(d, dv) floats,
     * 64-byte aligned. */
    void (*attention)(const tf_attn_head *h, float *scratch);
} tf_ops;

extern const tf_ops fast_transformer_ops_scalar;
#if defined(__x86_64__) || defined(__i386__)
extern const tf_ops fast_transformer_ops_avx2;
extern const tf_ops fast_transformer_ops_avx512;
#endif

/* The table of an ISA ("scalar", "avx2", "avx512"), or NULL (for the differential tests; the
 * caller checks that this CPU runs it). */
const tf_ops *fast_transformer_ops(const char *isa);

#endif
