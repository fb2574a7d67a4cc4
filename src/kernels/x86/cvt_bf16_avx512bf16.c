/* kernels/x86/cvt_bf16_avx512bf16.c — f32 -> bfloat16 with vcvtneps2bf16 (round to nearest even,
 * as dnnl_f32_to_bf16), 16 lanes a step and a masked tail; built with -mavx512bf16. */
#include <immintrin.h>

#include "kernels/dnnl/bf16_convert.h"

void cvt_f32_to_bf16_avx512bf16(const float *src, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256bh lo = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i));
        __m256bh hi = _mm512_cvtneps_pbh(_mm512_loadu_ps(src + i + 16));
        _mm256_storeu_si256((__m256i *)(dst + i), (__m256i)lo);
        _mm256_storeu_si256((__m256i *)(dst + i + 16), (__m256i)hi);
    }
    for (; i < n; i += 16) {
        int64_t left = n - i;
        __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        __m256bh v = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i));
        _mm256_mask_storeu_epi16(dst + i, m, (__m256i)v);
    }
}
