/* kernels/x86/pool_f32_avx512.c — AVX-512 pieces of the f32 pooling kernels (fast_pool.c):
 * the elementwise max of a row into an accumulator row and a NaN scan, 16 lanes at a time with
 * masked tails. Built with -mavx512*; called only when cpu_features() has CPU_AVX512. */
#include <immintrin.h>

#include "kernels/x86/cnn_x86.h"

void pool_f32_max_row__avx512(float *acc, const float *x, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(acc + i, _mm512_max_ps(_mm512_loadu_ps(acc + i), _mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(acc + i, k, _mm512_max_ps(_mm512_maskz_loadu_ps(k, acc + i),
                                                        _mm512_maskz_loadu_ps(k, x + i)));
    }
}

bool pool_f32_has_nan__avx512(const float *x, int64_t n)
{
    __mmask16 any = 0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        any |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    if (i < n) {
        __m512 v = _mm512_maskz_loadu_ps((__mmask16)((1u << (n - i)) - 1), x + i);
        any |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    return any != 0;
}

void pool_f32_max_k3s2__avx512(const float *t, float *y, int64_t n)
{
    /* even / odd lanes of 32 consecutive floats: E[i] = t[2i], O[i] = t[2i+1] */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t i = 0;
    for (; i + 16 <= n && 2 * i + 34 <= 2 * n + 1; i += 16) {
        const float *p = t + 2 * i;
        __m512 a = _mm512_loadu_ps(p), b = _mm512_loadu_ps(p + 16);
        __m512 c = _mm512_loadu_ps(p + 2), d = _mm512_loadu_ps(p + 18);
        __m512 e0 = _mm512_permutex2var_ps(a, even, b), o0 = _mm512_permutex2var_ps(a, odd, b);
        __m512 e1 = _mm512_permutex2var_ps(c, even, d); /* t[2i + 2] */
        _mm512_storeu_ps(y + i, _mm512_max_ps(_mm512_max_ps(e0, o0), e1));
    }
    for (; i < n; i++) {
        float m = t[2 * i];
        if (t[2 * i + 1] > m) m = t[2 * i + 1];
        if (t[2 * i + 2] > m) m = t[2 * i + 2];
        y[i] = m;
    }
}

/* One output row of a 2x2 stride-2 MaxPool from input rows r0 and r1 (n outputs, 2n floats of
 * each row read): per output the fold x00, x01, x10, x11 in the reference's order, where
 * max(v, m) = v > m ? v : m keeps a NaN first in its window and passes over a later one. */
void pool_f32_max_2x2_row__avx512(const float *r0, const float *r1, float *y, int64_t n)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t i = 0; i < n; i += 16) {
        int64_t left = 2 * (n - i); /* input floats of this piece: up to 32 */
        __mmask16 k0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __mmask16 k1 = left >= 32 ? (__mmask16)0xFFFF : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;
        __mmask16 ky = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const float *p0 = r0 + 2 * i, *p1 = r1 + 2 * i;
        __m512 a = _mm512_maskz_loadu_ps(k0, p0), b = _mm512_maskz_loadu_ps(k1, p0 + 16);
        __m512 c = _mm512_maskz_loadu_ps(k0, p1), d = _mm512_maskz_loadu_ps(k1, p1 + 16);
        __m512 m = _mm512_permutex2var_ps(a, even, b);
        m = _mm512_max_ps(_mm512_permutex2var_ps(a, odd, b), m);
        m = _mm512_max_ps(_mm512_permutex2var_ps(c, even, d), m);
        m = _mm512_max_ps(_mm512_permutex2var_ps(c, odd, d), m);
        _mm512_mask_storeu_ps(y + i, ky, m);
    }
}

/* NHWC global average of one image (HW pixels of C channels): 128 channels at a time in eight
 * accumulators (independent adds hide the latency), the pixels' 512-byte pieces read in order;
 * a masked tail. */
void pool_f32_gap_nhwc__avx512(const float *x, int64_t HW, int64_t C, float *y)
{
    const __m512 inv = _mm512_set1_ps(HW > 0 ? 1.0f / (float)HW : 0.0f);
    int64_t c0 = 0;
    for (; c0 + 128 <= C; c0 += 128) {
        __m512 a[8];
        for (int v = 0; v < 8; v++) a[v] = _mm512_setzero_ps();
        for (int64_t p = 0; p < HW; p++) {
            const float *xp = x + p * C + c0;
            for (int v = 0; v < 8; v++) a[v] = _mm512_add_ps(a[v], _mm512_loadu_ps(xp + 16 * v));
        }
        for (int v = 0; v < 8; v++) _mm512_storeu_ps(y + c0 + 16 * v, _mm512_mul_ps(a[v], inv));
    }
    for (; c0 < C; c0 += 16) {
        __mmask16 k = C - c0 >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c0)) - 1);
        __m512 a = _mm512_setzero_ps();
        for (int64_t p = 0; p < HW; p++) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(k, x + p * C + c0));
        _mm512_mask_storeu_ps(y + c0, k, _mm512_mul_ps(a, inv));
    }
}
