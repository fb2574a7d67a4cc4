/* kernels/fast_internal.h — shared by the fast op kernels (fast_*.c) only. */
#ifndef STRATA_KERNELS_FAST_INTERNAL_H
#define STRATA_KERNELS_FAST_INTERNAL_H

#include "fast.h"

typedef enum fast_post {
    FAST_POST_NONE = 0,
    FAST_POST_LEAKY = 1, /* leaky relu with alpha */
    FAST_POST_TANH = 2
} fast_post;

/* A node's fused activation: in the GEMM epilogue when it has it, else a post pass. */
typedef struct fast_act {
    gemm_act gemm;            /* what the GEMM epilogue applies */
    fast_post post;           /* what a separate pass applies */
    float act_min, act_max;   /* clip bounds */
    float alpha;              /* leaky relu slope */
} fast_act;

/* Reads the node's "activation" attributes; false for an activation no kernel knows. */
bool fast_activation(const op_node *n, fast_act *a);
/* y += broadcast z (when z), then y = act(y) over the whole tensor. */
void fast_tail(float *y, const int64_t *ydims, int yrank, const strata_tensor *z, const fast_act *a);
bool fast_same_dims(const strata_tensor *a, const strata_tensor *b);
/* fast_kernel.residual_in_place for kernels whose epilogue applies any GEMM activation (post
 * activations run as a separate pass), and for those that fuse only relu / clip. */
bool fast_residual_in_epilogue(const op_node *n);
bool fast_residual_in_simple_epilogue(const op_node *n);
/* The error for an in-place residual (z's memory is y's) that the kernel cannot fuse. */
strata_status fast_in_place_error(const op_node *n, const char *kernel);
bool fast_f32(const strata_tensor *t);

/* One output row of a group-1 NHWC conv with packed weights (rows (i*kw + j)*C + c of
 * NHWC_LDW(M) floats, see fast_conv_nhwc.c), y = act(bias + conv (+ z)): the direct tiles of
 * isa (AVX-512 / AVX2), else portable C. A window holds at most NHWC_CONV_ROW_MAX_K floats;
 * with kw > 1 the horizontal dilation must be 1 (a kernel row is one contiguous run). Used by
 * the direct conv rows and as the stem producer of FusedDwPw. */
#define NHWC_CONV_ROW_MAX_K 1024
typedef struct nhwc_conv_row {
    const float *x;                       /* the image, H x W x C */
    int64_t H, W, C, kh, kw, sh, sw, dh, dw, ph, pw, Wo, M;
    const float *w, *b;                   /* packed weights; bias (M floats) or NULL */
    int act;                              /* 0 none, 1 relu, 2 clip lo..hi */
    float lo, hi;
    gemm_isa isa;
} nhwc_conv_row;
void nhwc_conv_row_run(const nhwc_conv_row *c, int64_t oh, const float *z, float *y);

/* The rows each file defines (fast_registry.c lists them). */
extern const fast_kernel fast_conv_kernels[];
extern const size_t fast_conv_count;
extern const fast_kernel fast_conv_pwt_kernels[]; /* fast_conv_pwt.c */
extern const size_t fast_conv_pwt_count;
extern const fast_kernel fast_conv_nhwc_kernels[];
extern const size_t fast_conv_nhwc_count;
extern const fast_kernel fast_conv_dwpw_kernels[]; extern const size_t fast_conv_dwpw_count; /* fast_conv_dwpw.c */
extern const fast_kernel fast_matmul_kernels[];
extern const size_t fast_matmul_count;
extern const fast_kernel fast_dnnl_kernels[]; /* dnnl/gemm.c: oneDNN sgemm */
extern const size_t fast_dnnl_count;
extern const fast_kernel fast_dnnl_matmul_kernels[]; /* dnnl/matmul.c: oneDNN matmul primitives */
extern const size_t fast_dnnl_matmul_count;
extern const fast_kernel fast_dnnl_conv_kernels[]; /* dnnl/conv.c: oneDNN convolution primitives */
extern const size_t fast_dnnl_conv_count;
extern const fast_kernel fast_winograd_kernels[]; /* fast_conv_winograd.c */
extern const size_t fast_winograd_count;
/* Bytes of transformed Winograd weights below which a block is one vector group of tiles
 * (fast_conv_winograd.c: 16 MiB, so F(2x2) at 512 channels, exactly that, keeps large blocks);
 * tests set 0 to run the large-block path on small layers. */
extern size_t fast_winograd_u_cached;
extern const fast_kernel fast_pool_kernels[];
extern const size_t fast_pool_count;
extern const fast_kernel fast_transformer_kernels[];
extern const size_t fast_transformer_count;

#endif
