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
