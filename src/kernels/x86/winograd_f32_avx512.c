/* kernels/x86/winograd_f32_avx512.c — the Winograd F(4x4,3x3) and F(2x2,3x3) tile transforms (kernels/winograd.h)
 * built with AVX-512 flags, with a vector gather: the 6x6 windows of a run of tiles along one
 * tile row are 66 consecutive input columns per row, split into stride-4 phases by permutes. */
#include <immintrin.h>

#include "kernels/winograd.h"

/* wino_gather's contract. Lanes [a, b) whose tiles are consecutive in one tile row form a run:
 * per input row, 80 columns from the run's lane-0 column (masked: zero outside [0, W)), phases
 * j = 0..3 (columns j + 4l) by permutes, phases 4 and 5 as phases 0 and 1 shifted one lane. */
static void gather_avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x, int64_t c,
                          float *d)
{
    const int64_t H = g->H, W = g->W;
    const __m512i idx01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i idx23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 zero = _mm512_setzero_ps();
    int64_t a = 0;
    while (a < WINO_LANES) {
        if (a >= n) { /* lanes past the block: zeros */
            __mmask16 m = (__mmask16)(0xFFFFu << a);
            for (int e = 0; e < 36; e++) _mm512_mask_storeu_ps(d + e * WINO_LANES, m, zero);
            break;
        }
        const wino_tile *t = &tiles[a];
        int64_t b = a + 1;
        while (b < n && b < WINO_LANES && tiles[b].x_img == t->x_img && tiles[b].iy0 == t->iy0 &&
               tiles[b].ix0 == t->ix0 + 4 * (b - a))
            b++;
        __mmask16 run = (__mmask16)((0xFFFFu >> (16 - b)) & (0xFFFFu << a));
        int64_t col0 = t->ix0 - 4 * a; /* input column of lane 0's window */
        const float *plane = x + t->x_img + c * H * W;
        __mmask16 cm[5];
        for (int q = 0; q < 5; q++) {
            __m512i col = _mm512_add_epi32(iota, _mm512_set1_epi32((int)(col0 + 16 * q)));
            cm[q] = _mm512_cmp_epi32_mask(col, _mm512_setzero_si512(), _MM_CMPINT_NLT) &
                    _mm512_cmp_epi32_mask(col, _mm512_set1_epi32((int)W), _MM_CMPINT_LT);
        }
        for (int r = 0; r < 6; r++) {
            float *dr = d + r * 6 * WINO_LANES;
            int64_t iy = t->iy0 + r;
            if (iy < 0 || iy >= H) {
                for (int j = 0; j < 6; j++) _mm512_mask_storeu_ps(dr + j * WINO_LANES, run, zero);
                continue;
            }
            /* (uintptr_t) arithmetic: the masked-off lanes may lie outside the plane */
            const float *row = (const float *)((uintptr_t)(plane + iy * W) + (uintptr_t)(col0 * 4));
            __m512 a0 = _mm512_maskz_loadu_ps(cm[0], row), a1 = _mm512_maskz_loadu_ps(cm[1], row + 16);
            __m512 a2 = _mm512_maskz_loadu_ps(cm[2], row + 32), a3 = _mm512_maskz_loadu_ps(cm[3], row + 48);
            __m512 a4 = _mm512_maskz_loadu_ps(cm[4] & 3, row + 64);
            __m512 lo01 = _mm512_permutex2var_ps(a0, idx01, a1), hi01 = _mm512_permutex2var_ps(a2, idx01, a3);
            __m512 lo23 = _mm512_permutex2var_ps(a0, idx23, a1), hi23 = _mm512_permutex2var_ps(a2, idx23, a3);
            __m512 p0 = _mm512_shuffle_f32x4(lo01, hi01, 0x44), p1 = _mm512_shuffle_f32x4(lo01, hi01, 0xEE);
            __m512 p2 = _mm512_shuffle_f32x4(lo23, hi23, 0x44), p3 = _mm512_shuffle_f32x4(lo23, hi23, 0xEE);
            __m512i n4 = _mm512_castps_si512(a4), n5 = _mm512_alignr_epi32(n4, n4, 1);
            __m512 p4 = _mm512_castsi512_ps(_mm512_alignr_epi32(n4, _mm512_castps_si512(p0), 1));
            __m512 p5 = _mm512_castsi512_ps(_mm512_alignr_epi32(n5, _mm512_castps_si512(p1), 1));
            _mm512_mask_storeu_ps(dr, run, p0);
            _mm512_mask_storeu_ps(dr + WINO_LANES, run, p1);
            _mm512_mask_storeu_ps(dr + 2 * WINO_LANES, run, p2);
            _mm512_mask_storeu_ps(dr + 3 * WINO_LANES, run, p3);
            _mm512_mask_storeu_ps(dr + 4 * WINO_LANES, run, p4);
            _mm512_mask_storeu_ps(dr + 5 * WINO_LANES, run, p5);
        }
        a = b;
    }
}

/* wino_scatter's contract. Per run of lanes along one tile row and output row i, the four
 * column phases o[i][0..3] interleaved by permutes into 64 consecutive output columns, then
 * residual, activation and a masked store (columns of the run, below Wo). */
static void scatter_avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *o, int64_t m,
                           const wino_epi *e, float *y)
{
    const int64_t HoWo = g->Ho * g->Wo, Wo = g->Wo;
    const __m512i pair_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i pair_hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i quad_lo = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
    const __m512i quad_hi = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi), zero = _mm512_setzero_ps();
    int64_t a = 0;
    while (a < n) {
        const wino_tile *t = &tiles[a];
        int64_t b = a + 1;
        while (b < n && tiles[b].y_off == t->y_off + 4 * (b - a) && tiles[b].rows == t->rows &&
               tiles[b - 1].cols == 4)
            b++;
        /* output columns, relative to lane 0's tile, that this run writes */
        int64_t cend = 4 * (b - 1) + tiles[b - 1].cols;
        __mmask16 cm[4];
        for (int q = 0; q < 4; q++) {
            __m512i col = _mm512_add_epi32(iota, _mm512_set1_epi32(16 * q));
            cm[q] = _mm512_cmp_epi32_mask(col, _mm512_set1_epi32((int)(4 * a)), _MM_CMPINT_NLT) &
                    _mm512_cmp_epi32_mask(col, _mm512_set1_epi32((int)cend), _MM_CMPINT_LT);
        }
        for (int i = 0; i < t->rows; i++) {
            const float *oi = o + i * 4 * WINO_LANES;
            __m512 o0 = _mm512_loadu_ps(oi), o1 = _mm512_loadu_ps(oi + 16);
            __m512 o2 = _mm512_loadu_ps(oi + 32), o3 = _mm512_loadu_ps(oi + 48);
            __m512 t01l = _mm512_permutex2var_ps(o0, pair_lo, o1), t01h = _mm512_permutex2var_ps(o0, pair_hi, o1);
            __m512 t23l = _mm512_permutex2var_ps(o2, pair_lo, o3), t23h = _mm512_permutex2var_ps(o2, pair_hi, o3);
            __m512 ch[4] = {_mm512_permutex2var_ps(t01l, quad_lo, t23l), _mm512_permutex2var_ps(t01l, quad_hi, t23l),
                            _mm512_permutex2var_ps(t01h, quad_lo, t23h), _mm512_permutex2var_ps(t01h, quad_hi, t23h)};
            /* (uintptr_t) arithmetic: lane 0's tile may lie before this run's first one */
            uintptr_t off = (uintptr_t)((t->y_off + m * HoWo + i * Wo - 4 * a) * 4);
            float *yr = (float *)((uintptr_t)y + off);
            const float *zr = e->z ? (const float *)((uintptr_t)e->z + off) : NULL;
            for (int q = 0; q < 4; q++) {
                if (!cm[q]) continue;
                __m512 s = ch[q];
                if (zr) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(cm[q], zr + 16 * q));
                if (e->act == WINO_ACT_RELU) s = _mm512_max_ps(s, zero);
                else if (e->act == WINO_ACT_CLIP) s = _mm512_min_ps(_mm512_max_ps(s, lo), hi);
                _mm512_mask_storeu_ps(yr + 16 * q, cm[q], s);
            }
        }
        a = b;
    }
}

void winograd_f32_input__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                int64_t c0, int64_t c1, float *v, int64_t ldv)
{
    wino_input_body(g, tiles, n, x, c0, c1, v, ldv, gather_avx512);
}

void winograd_f32_output__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                 int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y)
{
    wino_output_body(g, tiles, n, mx, m0, m1, ldm, e, y, scatter_avx512);
}

void winograd2_f32_input__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                            int64_t c0, int64_t c1, float *v, int64_t ldv)
{
    wino2_input_body(g, tiles, n, x, c0, c1, v, ldv);
}

void winograd2_f32_output__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                             int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y)
{
    wino2_output_body(g, tiles, n, mx, m0, m1, ldm, e, y);
}
