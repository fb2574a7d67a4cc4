/* kernels/x86/nhwcdirect_f32_avx2.c — AVX2 direct NHWC convolution over a run of output pixels
 * (see nhwc_x86.h): register tiles of MR pixels x NV*8 output channels, the input read in place
 * (one broadcast per pixel and weight row; no im2col, no packing of the activations), weights
 * from the packed rows, bias / residual / relu / clip fused. Built with AVX2/FMA flags. */
#include <immintrin.h>
#include <stdbool.h>

#include "nhwc_x86.h"

#define DI static inline __attribute__((always_inline))

DI __m256i mask_of(int left)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

DI void tile(const nhwc_direct_args *a, const float *x, int64_t col0, float *y, const float *z, int last,
             const int MR, const int NV)
{
    const int64_t ps = a->pix_stride, ldw = a->ldw, N = a->N, L = a->seg_len;
    const __m256i full = _mm256_set1_epi32(-1), ml = mask_of(last);
    __m256 acc[8][2]; /* [MR][NV] used; fixed bounds for -Wvla */
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) {
        __m256i m = v == NV - 1 ? ml : full;
        const float *bp = a->bias + col0 + v * 8;
        __m256 b = !a->bias ? _mm256_setzero_ps() : v < NV - 1 || last == 8 ? _mm256_loadu_ps(bp) : _mm256_maskload_ps(bp, m);
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) acc[r][v] = b;
    }
    for (int s = 0; s < a->nseg; s++) {
        const float *xs = x + a->seg_off[s], *ws = a->seg_w[s] + col0;
        for (int64_t q = 0; q < L; q++, xs++, ws += ldw) {
            __m256 w[2];
#pragma GCC unroll 2
            for (int v = 0; v < NV; v++) w[v] = _mm256_loadu_ps(ws + v * 8);
#pragma GCC unroll 12
            for (int r = 0; r < MR; r++) {
                __m256 xb = _mm256_broadcast_ss(xs + r * ps);
#pragma GCC unroll 2
                for (int v = 0; v < NV; v++) acc[r][v] = _mm256_fmadd_ps(xb, w[v], acc[r][v]);
            }
        }
    }
    const __m256 vlo = _mm256_set1_ps(a->lo), vhi = _mm256_set1_ps(a->hi), zero = _mm256_setzero_ps();
    const int act = a->act; /* read once: the stores below may alias *a as far as the compiler knows */
#pragma GCC unroll 12
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < NV; v++) {
            __m256i m = v == NV - 1 ? ml : full;
            int64_t o = r * N + col0 + v * 8;
            __m256 t = acc[r][v];
            bool whole = v < NV - 1 || last == 8; /* masked stores are slow on some CPUs (AMD) */
            if (z) t = _mm256_add_ps(t, whole ? _mm256_loadu_ps(z + o) : _mm256_maskload_ps(z + o, m));
            if (act == 1) t = _mm256_max_ps(t, zero);
            else if (act == 2) t = _mm256_min_ps(_mm256_max_ps(t, vlo), vhi);
            if (whole) _mm256_storeu_ps(y + o, t);
            else _mm256_maskstore_ps(y + o, m, t);
        }
}

typedef void (*tile_fn)(const nhwc_direct_args *a, const float *x, int64_t col0, float *y, const float *z, int last);

#define TILE(NV, MR)                                                                                              \
    static void tile_##NV##_##MR(const nhwc_direct_args *a, const float *x, int64_t col0, float *y, const float *z, \
                                 int last)                                                                        \
    {                                                                                                             \
        tile(a, x, col0, y, z, last, MR, NV);                                                                     \
    }
TILE(1, 8) TILE(1, 4) TILE(1, 2) TILE(1, 1)
TILE(2, 6) TILE(2, 4) TILE(2, 2) TILE(2, 1)

/* Per NV, tiles from the tallest down (MR 0 ends the list). */
static const struct {
    int mr;
    tile_fn fn;
} tiles[2][5] = {
    {{8, tile_1_8}, {4, tile_1_4}, {2, tile_1_2}, {1, tile_1_1}, {0, NULL}},
    {{6, tile_2_6}, {4, tile_2_4}, {2, tile_2_2}, {1, tile_2_1}, {0, NULL}},
};

void nhwc_direct_f32__avx2(const nhwc_direct_args *a, int64_t pixels)
{
    /* column blocks of at most 2 vectors, as even as possible */
    int64_t nvt = (a->N + 7) / 8, nb = (nvt + 1) / 2, per = (nvt + nb - 1) / nb;
    for (int64_t col0 = 0; col0 < a->N; col0 += per * 8) {
        int64_t ncols = a->N - col0 < per * 8 ? a->N - col0 : per * 8;
        int nv = (int)((ncols + 7) / 8);
        int last = (int)(ncols - (nv - 1) * 8);
        int64_t p = 0;
        for (int t = 0; t < 5 && tiles[nv - 1][t].mr; t++) {
            int mr = tiles[nv - 1][t].mr;
            for (; p + mr <= pixels; p += mr)
                tiles[nv - 1][t].fn(a, a->x + p * a->pix_stride, col0, a->y + p * a->N, a->z ? a->z + p * a->N : NULL,
                                    last);
        }
    }
}
