/* kernels/x86/nhwc_x86.h — the SIMD pieces of the NHWC CNN kernels (fast_conv_nhwc.c): one
 * depthwise output pixel vectorised over channels, one file per ISA
 * (kernels/x86/dwnhwc_f32_<isa>.c), called only when cpu_features() has that ISA. */
#ifndef STRATA_KERNELS_X86_NHWC_H
#define STRATA_KERNELS_X86_NHWC_H

#include <stdint.h>

#if defined(__x86_64__)
/* y[c] = act(bias[c] + sum_t w[t*C + c] * src[t][c] (+ z[c] when z)) for c < C; taps whose
 * src[t] is NULL (padding) are skipped; bias may be NULL; act 0 none, 1 relu, 2 clip lo..hi. */
void dwnhwc_f32_pixel__avx512(float *y, int64_t C, const float *const *src, const float *w, int ntaps,
                              const float *bias, const float *z, int act, float lo, float hi);
void dwnhwc_f32_pixel__avx2(float *y, int64_t C, const float *const *src, const float *w, int ntaps,
                            const float *bias, const float *z, int act, float lo, float hi);
#endif

#endif
