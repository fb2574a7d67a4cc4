/* kernels/x86/interleave_f32_avx512.c — AVX-512 interleave of three planes into pixels (see
 * nhwc_x86.h): the NCHW -> NHWC transpose of a 3-channel image (a CNN's input), which as
 * scalar stores of stride 3 ran at ~1 ns a float (MobileNetV2 batch 8: 1.36 ms). 16 pixels per
 * step: two two-source permutes per output vector. Built with AVX-512 flags. */
#include <immintrin.h>

#include "nhwc_x86.h"

void interleave3_f32__avx512(const float *a, const float *b, const float *c, float *dst, int64_t n)
{
    /* Output float g = 16k + e is channel g % 3 of pixel g / 3, counted from the vector's first
     * pixel 16k / 3 (0, 5, 10), where its loads start: first a or b (index p or 16 + p), then
     * that (index e) or c (16 + p). Constant tables: a tile is as short as 64 pixels. */
    static const int32_t iab[3][16] = {{0, 16, 0, 1, 17, 1, 2, 18, 2, 3, 19, 3, 4, 20, 4, 5},
                                       {16, 0, 1, 17, 1, 2, 18, 2, 3, 19, 3, 4, 20, 4, 5, 21},
                                       {0, 1, 17, 1, 2, 18, 2, 3, 19, 3, 4, 20, 4, 5, 21, 5}};
    static const int32_t ic[3][16] = {{0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15},
                                      {0, 16, 2, 3, 17, 5, 6, 18, 8, 9, 19, 11, 12, 20, 14, 15},
                                      {16, 1, 2, 17, 4, 5, 18, 7, 8, 19, 10, 11, 20, 13, 14, 21}};
    __m512i vab[3], vc[3];
    for (int k = 0; k < 3; k++) {
        vab[k] = _mm512_loadu_si512(iab[k]);
        vc[k] = _mm512_loadu_si512(ic[k]);
    }
    int64_t i = 0;
    for (; i + 26 <= n; i += 16) { /* the last vector's loads reach pixel i + 25 */
        for (int k = 0; k < 3; k++) {
            int64_t p0 = i + 16 * k / 3; /* 0, 5, 10 */
            __m512 va = _mm512_loadu_ps(a + p0), vb = _mm512_loadu_ps(b + p0), vcc = _mm512_loadu_ps(c + p0);
            __m512 t = _mm512_permutex2var_ps(va, vab[k], vb);
            _mm512_storeu_ps(dst + 3 * i + 16 * k, _mm512_permutex2var_ps(t, vc[k], vcc));
        }
    }
    for (; i < n; i++) {
        dst[3 * i] = a[i];
        dst[3 * i + 1] = b[i];
        dst[3 * i + 2] = c[i];
    }
}
