/* kernels/x86/nhwc_x86.h — the SIMD pieces of the NHWC CNN kernels (fast_conv_nhwc.c): a
 * depthwise output row (kernels/x86/dwnhwc_f32_<isa>.c), a direct convolution over pixels for
 * small windows and 1x1 convs (kernels/x86/nhwcdirect_f32_<isa>.c), and the 3-channel input's
 * NCHW -> NHWC interleave (kernels/x86/interleave_f32_avx512.c, for the Transpose row), one
 * file per ISA, called only when cpu_features() has that ISA. */
#ifndef STRATA_KERNELS_X86_NHWC_H
#define STRATA_KERNELS_X86_NHWC_H

#include <stdint.h>

/* Packed depthwise and direct weights have rows of NHWC_LDW(n) floats (columns past n zero), so
 * full vectors of either ISA can be loaded without masks. */
#define NHWC_LDW(n) (((n) + 15) / 16 * 16)

/* One output row of a depthwise conv: y[ow*C + c] = act(bias[c] + sum over taps (i, j) inside
 * the image of w[(i*kw + j)*ldw + c] * x[(ih*W + iw)*C + c] (+ z[ow*C + c] when z)), with
 * ih = oh*sh - ph + i*dh, iw = ow*sw - pw + j*dw; act 0 none, 1 relu, 2 clip lo..hi; with
 * ring > 0, input row ih is read from slot ih % ring of x. */
typedef struct dwnhwc_row_args {
    const float *x;             /* the image, H x W x C */
    int64_t H, W, C, Wo, oh;
    int64_t kh, kw, sh, sw, dh, dw, ph, pw;
    const float *w;             /* packed [kh*kw][ldw] */
    int64_t ldw;
    const float *bias;          /* C floats or NULL */
    const float *z;             /* this row of the residual (Wo x C) or NULL */
    float *y;                   /* this output row, Wo x C */
    int act;
    float lo, hi;
    int prefetch;               /* activations beyond the caches: software prefetch (AVX-512) */
    int64_t ring;               /* 0: x is the whole image; else x holds `ring` rows, row ih at
                                   slot ih % ring (a fused producer's rolling buffer) */
} dwnhwc_row_args;

/* A direct convolution over `pixels` consecutive outputs of one row, y[p*N + m] = act(bias[m]
 * + sum over segments s, q < seg_len of x[p*pix_stride + seg_off[s] + q] * seg_w[s][q*ldw + m]
 * (+ z[p*N + m])): a window is nseg runs of seg_len contiguous floats (kernel rows of kw*C
 * floats; one run of C for a 1x1 conv), packed weights in matching rows. */
typedef struct nhwc_direct_args {
    const float *x;             /* the first pixel's window start */
    int64_t pix_stride;         /* floats from one pixel's window to the next's */
    int nseg;                   /* runs per window (kernel rows inside the image) */
    const int64_t *seg_off;     /* offset of each run from the window start */
    const float *const *seg_w;  /* packed weights of each run: seg_len rows of ldw floats */
    int64_t seg_len, ldw, N;    /* run length, packed row width, output channels */
    const float *bias;          /* N floats or NULL */
    const float *z;             /* residual rows (N floats per pixel) or NULL */
    float *y;                   /* output rows, N floats per pixel */
    int act;
    float lo, hi;
    int prefetch;               /* activations beyond the caches: software prefetch (AVX-512) */
} nhwc_direct_args;

/* dst[3i + k] = plane k's float i for i < n (planes a, b, c): NCHW -> NHWC of 3 channels. */
#if defined(__x86_64__)
void interleave3_f32__avx512(const float *a, const float *b, const float *c, float *dst, int64_t n);
void dwnhwc_f32_row__avx512(const dwnhwc_row_args *a);
void dwnhwc_f32_row__avx2(const dwnhwc_row_args *a);
void nhwc_direct_f32__avx512(const nhwc_direct_args *a, int64_t pixels);
void nhwc_direct_f32__avx2(const nhwc_direct_args *a, int64_t pixels);
#endif

#endif
