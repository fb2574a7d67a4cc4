/* kernels/x86/nhwcdirect_f32_avx512.c — AVX-512 direct NHWC convolution over a run of output
 * pixels (see nhwc_x86.h): register tiles of MR pixels x NV*16 output channels, the input read
 * in place (one broadcast per pixel and weight row; no im2col, no packing of the activations),
 * weights from the packed rows, bias / residual / relu / clip fused. Built with AVX-512 flags. */
#include <immintrin.h>
#include <stdbool.h>

#include "nhwc_x86.h"

#define DI static inline __attribute__((always_inline))

/* MR pixels x NV column vectors; HALF: the last vector has at most 8 live columns and runs as a
 * 256-bit vector (on CPUs that split 512-bit FMAs into two 256-bit halves, such as AMD Zen 4,
 * it then costs half: MobileNetV2's 24-channel projections wasted a quarter of their FMAs). */
DI void tile(const nhwc_direct_args *a, const float *x, int64_t col0, float *y, const float *z, __mmask16 mlast,
             const int PF, const int MR, const int NV, const int HALF)
{
    const int64_t ps = a->pix_stride, ldw = a->ldw, N = a->N, L = a->seg_len;
    const int NF = HALF ? NV - 1 : NV; /* full 512-bit vectors */
    const __mmask8 mh = (__mmask8)mlast;
    __m512 acc[8][4]; /* [MR][NF] used; fixed bounds for -Wvla */
    __m256 acch[8];   /* [MR] with HALF */
#pragma GCC unroll 4
    for (int v = 0; v < NF; v++) {
        __mmask16 m = v == NV - 1 ? mlast : (__mmask16)0xFFFF;
        __m512 b = a->bias ? _mm512_maskz_loadu_ps(m, a->bias + col0 + v * 16) : _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) acc[r][v] = b;
    }
    if (HALF) {
        __m256 b = a->bias ? _mm256_maskz_loadu_ps(mh, a->bias + col0 + NF * 16) : _mm256_setzero_ps();
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) acch[r] = b;
    }
    /* Activations beyond the caches: the output lines of the next tile (owned before the stores
     * come), and below, a line of each of its pixels per 16 inputs. */
    if (PF)
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) __asm__ volatile("prefetchw %0" ::"m"(y[(MR + r) * N + col0 + v * 16]));
    for (int s = 0; s < a->nseg; s++) {
        const float *xs = x + a->seg_off[s], *ws = a->seg_w[s] + col0;
        for (int64_t q = 0; q < L; q++, xs++, ws += ldw) {
            if (PF && (q & 15) == 0)
#pragma GCC unroll 16
                for (int r = 0; r < MR; r++) _mm_prefetch((const char *)(xs + (MR + r) * ps), _MM_HINT_T0);
            __m512 w[4];
            __m256 wh = HALF ? _mm256_loadu_ps(ws + NF * 16) : _mm256_setzero_ps();
#pragma GCC unroll 4
            for (int v = 0; v < NF; v++) w[v] = _mm512_loadu_ps(ws + v * 16);
#pragma GCC unroll 16
            for (int r = 0; r < MR; r++) {
                __m512 xb = _mm512_set1_ps(xs[r * ps]);
#pragma GCC unroll 4
                for (int v = 0; v < NF; v++) acc[r][v] = _mm512_fmadd_ps(xb, w[v], acc[r][v]);
                if (HALF) acch[r] = _mm256_fmadd_ps(_mm512_castps512_ps256(xb), wh, acch[r]);
            }
        }
    }
    const __m512 vlo = _mm512_set1_ps(a->lo), vhi = _mm512_set1_ps(a->hi), zero = _mm512_setzero_ps();
    const int act = a->act; /* read once: the stores below may alias *a as far as the compiler knows */
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
#pragma GCC unroll 4
        for (int v = 0; v < NF; v++) {
            __mmask16 m = v == NV - 1 ? mlast : (__mmask16)0xFFFF;
            int64_t o = r * N + col0 + v * 16;
            __m512 t = acc[r][v];
            bool whole = v < NV - 1 || mlast == 0xFFFF; /* plain stores: masked ones cost more on some CPUs */
            if (z) t = _mm512_add_ps(t, whole ? _mm512_loadu_ps(z + o) : _mm512_maskz_loadu_ps(m, z + o));
            if (act == 1) t = _mm512_max_ps(t, zero);
            else if (act == 2) t = _mm512_min_ps(_mm512_max_ps(t, vlo), vhi);
            if (whole) _mm512_storeu_ps(y + o, t);
            else _mm512_mask_storeu_ps(y + o, m, t);
        }
        if (HALF) {
            int64_t o = r * N + col0 + NF * 16;
            __m256 t = acch[r];
            if (z) t = _mm256_add_ps(t, _mm256_maskz_loadu_ps(mh, z + o));
            if (act == 1) t = _mm256_max_ps(t, _mm512_castps512_ps256(zero));
            else if (act == 2)
                t = _mm256_min_ps(_mm256_max_ps(t, _mm512_castps512_ps256(vlo)), _mm512_castps512_ps256(vhi));
            _mm256_mask_storeu_ps(y + o, mh, t);
        }
    }
}

typedef void (*tile_fn)(const nhwc_direct_args *a, const float *x, int64_t col0, float *y, const float *z, __mmask16 mlast);

/* Each tile with and without the prefetches (a compile-time flag: a run-time one in the inner
 * loop made the cache-resident convs 3-4x slower), and with a half last vector. */
#define TILE_FN(NV, MR, SUFFIX, PF, HALF)                                                                   \
    static void tile_##NV##_##MR##SUFFIX(const nhwc_direct_args *a, const float *x, int64_t col0, float *y,   \
                                         const float *z, __mmask16 mlast)                                    \
    {                                                                                                       \
        tile(a, x, col0, y, z, mlast, PF, MR, NV, HALF);                                                    \
    }
#define TILE(NV, MR) TILE_FN(NV, MR, , 0, 0) TILE_FN(NV, MR, _pf, 1, 0) TILE_FN(NV, MR, _h, 0, 1) TILE_FN(NV, MR, _hpf, 1, 1)
TILE(1, 8) TILE(1, 4) TILE(1, 2) TILE(1, 1)
TILE(2, 8) TILE(2, 4) TILE(2, 2) TILE(2, 1)
TILE(3, 8) TILE(3, 4) TILE(3, 2) TILE(3, 1)
TILE(4, 6) TILE(4, 4) TILE(4, 2) TILE(4, 1)

/* Per NV, tiles from the tallest down (MR 0 ends the list); fn without, pf with prefetches, h
 * and hpf the same with a half last vector. */
#define ROW(NV, MR) {MR, tile_##NV##_##MR, tile_##NV##_##MR##_pf, tile_##NV##_##MR##_h, tile_##NV##_##MR##_hpf}
static const struct {
    int mr;
    tile_fn fn, pf, h, hpf;
} tiles[4][5] = {
    {ROW(1, 8), ROW(1, 4), ROW(1, 2), ROW(1, 1), {0, NULL, NULL, NULL, NULL}},
    {ROW(2, 8), ROW(2, 4), ROW(2, 2), ROW(2, 1), {0, NULL, NULL, NULL, NULL}},
    {ROW(3, 8), ROW(3, 4), ROW(3, 2), ROW(3, 1), {0, NULL, NULL, NULL, NULL}},
    {ROW(4, 6), ROW(4, 4), ROW(4, 2), ROW(4, 1), {0, NULL, NULL, NULL, NULL}},
};

void nhwc_direct_f32__avx512(const nhwc_direct_args *a, int64_t pixels)
{
    /* column blocks of at most 4 vectors, as even as possible */
    int64_t nvt = (a->N + 15) / 16, nb = (nvt + 3) / 4, per = (nvt + nb - 1) / nb;
    for (int64_t col0 = 0; col0 < a->N; col0 += per * 16) {
        int64_t ncols = a->N - col0 < per * 16 ? a->N - col0 : per * 16;
        int nv = (int)((ncols + 15) / 16);
        int last = (int)(ncols - (nv - 1) * 16);
        __mmask16 mlast = last >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << last) - 1);
        bool half = last <= 8;
        int64_t p = 0;
        for (int t = 0; t < 5 && tiles[nv - 1][t].mr; t++) {
            int mr = tiles[nv - 1][t].mr;
            bool pf = a->prefetch && p + 2 * mr <= pixels;
            tile_fn fn = half ? (pf ? tiles[nv - 1][t].hpf : tiles[nv - 1][t].h) : pf ? tiles[nv - 1][t].pf : tiles[nv - 1][t].fn;
            for (; p + mr <= pixels; p += mr) {
                if (pf && p + 2 * mr > pixels) fn = half ? tiles[nv - 1][t].h : tiles[nv - 1][t].fn;
                fn(a, a->x + p * a->pix_stride, col0, a->y + p * a->N, a->z ? a->z + p * a->N : NULL, mlast);
            }
        }
    }
}
