/* kernels/x86/dwconv_f32_avx512.c — one output row of a depthwise convolution with AVX-512:
 * y[ow] = act(bias + sum over taps t of k[t] * src[t][ow] (+ z[ow])), 16 outputs per vector,
 * masked tail; the taps' rows come from a zero-padded, phase-split copy of the input plane
 * (fast_conv.c), so every tap is a contiguous load. Built with -mavx512*. */
#include <immintrin.h>

#include "kernels/x86/cnn_x86.h"

void dwconv_f32_row__avx512(float *y, int64_t wo, const float *const *src, const float *k,
                            int ntaps, float bias, const float *z, int act, float lo, float hi)
{
    const __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t ow = 0; ow < wo; ow += 16) {
        __mmask16 m = wo - ow >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (wo - ow)) - 1);
        __m512 acc0 = vb, acc1 = _mm512_setzero_ps();
        int t = 0;
        for (; t + 2 <= ntaps; t += 2) { /* two chains hide the FMA latency */
            acc0 = _mm512_fmadd_ps(_mm512_set1_ps(k[t]), _mm512_maskz_loadu_ps(m, src[t] + ow), acc0);
            acc1 = _mm512_fmadd_ps(_mm512_set1_ps(k[t + 1]), _mm512_maskz_loadu_ps(m, src[t + 1] + ow), acc1);
        }
        if (t < ntaps)
            acc0 = _mm512_fmadd_ps(_mm512_set1_ps(k[t]), _mm512_maskz_loadu_ps(m, src[t] + ow), acc0);
        __m512 v = _mm512_add_ps(acc0, acc1);
        if (z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, z + ow));
        if (act == DW_ACT_RELU) v = _mm512_max_ps(v, _mm512_setzero_ps());
        else if (act == DW_ACT_CLIP) v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
        _mm512_mask_storeu_ps(y + ow, m, v);
    }
}

void dwconv_f32_split2__avx512(const float *row, int64_t n, float *even, float *odd)
{
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t t = 0;
    for (; t + 16 <= n; t += 16) {
        __m512 a = _mm512_loadu_ps(row + 2 * t), b = _mm512_loadu_ps(row + 2 * t + 16);
        _mm512_storeu_ps(even + t, _mm512_permutex2var_ps(a, ie, b));
        _mm512_storeu_ps(odd + t, _mm512_permutex2var_ps(a, io, b));
    }
    for (; t < n; t++) {
        even[t] = row[2 * t];
        odd[t] = row[2 * t + 1];
    }
}
