/* kernels/x86/cnn_x86.h — the SIMD pieces of the CNN kernels (fast_conv.c, fast_pool.c):
 * depthwise convolution rows and pooling rows, one file per ISA (kernels/x86/<op>_f32_<isa>.c),
 * called only when cpu_features() has that ISA. */
#ifndef STRATA_KERNELS_X86_CNN_H
#define STRATA_KERNELS_X86_CNN_H

#include <stdbool.h>
#include <stdint.h>

/* The activation a depthwise row applies (others: a separate pass). */
enum { DW_ACT_NONE = 0, DW_ACT_RELU = 1, DW_ACT_CLIP = 2 };

#if defined(__x86_64__)
/* One output row of a depthwise convolution: y[ow] = act(bias + sum_t k[t] * src[t][ow]
 * (+ z[ow] when z)) for ow < wo, act DW_ACT_* with CLIP bounds lo..hi. */
void dwconv_f32_row__avx512(float *y, int64_t wo, const float *const *src, const float *k,
                            int ntaps, float bias, const float *z, int act, float lo, float hi);
void dwconv_f32_row__avx2(float *y, int64_t wo, const float *const *src, const float *k,
                          int ntaps, float bias, const float *z, int act, float lo, float hi);
/* even[t] = row[2t], odd[t] = row[2t + 1] for t < n (a stride-2 row split into phases). */
void dwconv_f32_split2__avx512(const float *row, int64_t n, float *even, float *odd);
/* acc[i] = max(acc[i], x[i]) for i < n (no NaN: the caller checked). */
void pool_f32_max_row__avx512(float *acc, const float *x, int64_t n);
/* True when x[0..n) holds a NaN. */
bool pool_f32_has_nan__avx512(const float *x, int64_t n);
/* y[c] = mean over the HW pixels of x[p * C + c] (one NHWC image). */
void pool_f32_gap_nhwc__avx512(const float *x, int64_t HW, int64_t C, float *y);
/* y[i] = max(t[2i], t[2i+1], t[2i+2]) for i < n: the 3-wide, stride-2 window maxima of a row
 * (ResNet's stem max pool); t holds 2n + 1 floats. */
void pool_f32_max_k3s2__avx512(const float *t, float *y, int64_t n);
/* One output row of a 2x2 stride-2 MaxPool (n outputs) from input rows r0 and r1, NaN as the
 * reference (a NaN first in its window stays). */
void pool_f32_max_2x2_row__avx512(const float *r0, const float *r1, float *y, int64_t n);
/* y[m * P + p] = act(t[p * ldt + m] (+ z[m * P + p] when z)) for m0 <= m < m1, p < P: a
 * transposed GEMM output (pixels x channels) written back as channel planes, act DW_ACT_*. */
void transpose_back_f32__avx512(const float *t, int64_t ldt, int64_t P, int64_t m0, int64_t m1, const float *z,
                                float *y, int act, float lo, float hi);
#endif

#endif
