/* kernels/x86/transpose_f32_avx512.c — AVX-512 write-back of a transposed GEMM output (see
 * cnn_x86.h): 16 x 16 blocks transposed in registers (unpack, shuffle, two 128-bit lane
 * shuffles), the residual added and relu / clip applied on the way out, masked edges. Built
 * with AVX-512 flags. */
#include <immintrin.h>

#include "cnn_x86.h"

#define TI static inline __attribute__((always_inline))

/* r[i] (row i: 16 columns) -> r[j] (column j: 16 rows). */
TI void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* now r[4q + k] holds, in 128-bit lane l, element k of rows 4l' .. : combine lanes */
    for (int h = 0; h < 16; h += 8)
        for (int k = 0; k < 4; k++) {
            t[h + k] = _mm512_shuffle_f32x4(r[h + k], r[h + 4 + k], 0x88);
            t[h + 4 + k] = _mm512_shuffle_f32x4(r[h + k], r[h + 4 + k], 0xdd);
        }
    for (int k = 0; k < 8; k++) {
        r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
        r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xdd);
    }
}

void transpose_back_f32__avx512(const float *t, int64_t ldt, int64_t P, int64_t m0, int64_t m1, const float *z,
                                float *y, int act, float lo, float hi)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi), zero = _mm512_setzero_ps();
    for (int64_t m = m0; m < m1; m += 16) {
        int mn = m1 - m < 16 ? (int)(m1 - m) : 16;
        __mmask16 mm = (__mmask16)(mn == 16 ? 0xFFFF : (1u << mn) - 1);
        for (int64_t p = 0; p < P; p += 16) {
            int pn = P - p < 16 ? (int)(P - p) : 16;
            __mmask16 pm = (__mmask16)(pn == 16 ? 0xFFFF : (1u << pn) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < pn ? _mm512_maskz_loadu_ps(mm, t + (p + i) * ldt + m) : zero;
            transpose16(r);
            for (int j = 0; j < mn; j++) {
                float *yo = y + (m + j) * P + p;
                __m512 v = r[j];
                if (z) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(pm, z + (m + j) * P + p));
                if (act == DW_ACT_RELU) v = _mm512_max_ps(v, zero);
                else if (act == DW_ACT_CLIP) v = _mm512_min_ps(_mm512_max_ps(v, vlo), vhi);
                _mm512_mask_storeu_ps(yo, pm, v);
            }
        }
    }
}
