/* kernels/x86/dwnhwc_f32_avx2.c — AVX2 depthwise convolution pixel in NHWC: 8 channels per
 * vector, scalar tail (see nhwc_x86.h). Built with AVX2/FMA flags; called only on such CPUs. */
#include <immintrin.h>

#include "nhwc_x86.h"

void dwnhwc_f32_pixel__avx2(float *y, int64_t C, const float *const *src, const float *w, int ntaps,
                            const float *bias, const float *z, int act, float lo, float hi)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi), zero = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= C; c += 8) {
        __m256 acc = bias ? _mm256_loadu_ps(bias + c) : zero;
        for (int t = 0; t < ntaps; t++) {
            if (!src[t]) continue;
            acc = _mm256_fmadd_ps(_mm256_loadu_ps(src[t] + c), _mm256_loadu_ps(w + t * C + c), acc);
        }
        if (z) acc = _mm256_add_ps(acc, _mm256_loadu_ps(z + c));
        if (act == 1) acc = _mm256_max_ps(acc, zero);
        else if (act == 2) acc = _mm256_min_ps(_mm256_max_ps(acc, vlo), vhi);
        _mm256_storeu_ps(y + c, acc);
    }
    for (; c < C; c++) {
        float acc = bias ? bias[c] : 0.0f;
        for (int t = 0; t < ntaps; t++)
            if (src[t]) acc += src[t][c] * w[t * C + c];
        if (z) acc += z[c];
        if (act == 1) acc = acc > 0 ? acc : 0;
        else if (act == 2) acc = acc < lo ? lo : acc > hi ? hi : acc;
        y[c] = acc;
    }
}
