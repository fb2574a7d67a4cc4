/* kernels/x86/dwconv_f32_avx2.c — one output row of a depthwise convolution with AVX2 + FMA:
 * y[ow] = act(bias + sum over taps t of k[t] * src[t][ow] (+ z[ow])), 8 outputs per vector,
 * masked tail; the taps' rows come from a zero-padded, phase-split copy of the input plane
 * (fast_conv.c), so every tap is a contiguous load. Built with -mavx2 -mfma. */
#include <immintrin.h>

#include "kernels/x86/cnn_x86.h"

void dwconv_f32_row__avx2(float *y, int64_t wo, const float *const *src, const float *k,
                          int ntaps, float bias, const float *z, int act, float lo, float hi)
{
    const __m256 vb = _mm256_set1_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int64_t ow = 0; ow < wo; ow += 8) {
        int64_t left = wo - ow < 8 ? wo - ow : 8;
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)left), lane);
        __m256 acc0 = vb, acc1 = _mm256_setzero_ps();
        int t = 0;
        for (; t + 2 <= ntaps; t += 2) {
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(k[t]), _mm256_maskload_ps(src[t] + ow, m), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(k[t + 1]), _mm256_maskload_ps(src[t + 1] + ow, m), acc1);
        }
        if (t < ntaps) acc0 = _mm256_fmadd_ps(_mm256_set1_ps(k[t]), _mm256_maskload_ps(src[t] + ow, m), acc0);
        __m256 v = _mm256_add_ps(acc0, acc1);
        if (z) v = _mm256_add_ps(v, _mm256_maskload_ps(z + ow, m));
        if (act == DW_ACT_RELU) v = _mm256_max_ps(v, _mm256_setzero_ps());
        else if (act == DW_ACT_CLIP) v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
        _mm256_maskstore_ps(y + ow, m, v);
    }
}
