/* kernels/x86/dwnhwc_f32_avx512.c — AVX-512 depthwise convolution pixel in NHWC: 16 channels per
 * vector, masked tail (see nhwc_x86.h). Built with AVX-512 flags; called only on such CPUs. */
#include <immintrin.h>

#include "nhwc_x86.h"

void dwnhwc_f32_pixel__avx512(float *y, int64_t C, const float *const *src, const float *w, int ntaps,
                              const float *bias, const float *z, int act, float lo, float hi)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), zero = _mm512_setzero_ps();
    for (int64_t c = 0; c < C; c += 16) {
        __mmask16 m = C - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1);
        __m512 acc = bias ? _mm512_maskz_loadu_ps(m, bias + c) : zero;
        for (int t = 0; t < ntaps; t++) {
            if (!src[t]) continue;
            acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, src[t] + c), _mm512_maskz_loadu_ps(m, w + t * C + c), acc);
        }
        if (z) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, z + c));
        if (act == 1) acc = _mm512_max_ps(acc, zero);
        else if (act == 2) acc = _mm512_min_ps(_mm512_max_ps(acc, vlo), vhi);
        _mm512_mask_storeu_ps(y + c, m, acc);
    }
}
