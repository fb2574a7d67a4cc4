/* kernels/x86/dwnhwc_f32_avx2.c — AVX2 depthwise convolution in NHWC, one output row per call
 * (see nhwc_x86.h): 8 channels per vector, masked channel tail; interior pixels 4 at a time
 * with each input vector loaded once per kernel row (3-wide windows, stride 1 or 2), the border
 * pixels one at a time skipping the taps in the padding. Built with AVX2/FMA flags. */
#include <immintrin.h>
#include <stdbool.h>

#include "nhwc_x86.h"

#define DW_P 4      /* interior output pixels per step */
#define DW_MAXKH 64 /* kernel rows (the caller allows at most 64 taps) */

#define DW_INLINE static inline __attribute__((always_inline))

typedef struct dw_rows {
    int n;                       /* kernel rows inside the image */
    const float *x[DW_MAXKH];    /* the input row of each */
    const float *w[DW_MAXKH];    /* its packed weights: kw rows of ldw */
} dw_rows;

DW_INLINE __m256i dw_mask(int64_t left)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left >= 8 ? 8 : (int)left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Full vectors use plain loads and stores: masked ones are slow on some CPUs (AMD). */
DW_INLINE __m256 dw_ld(const float *p, __m256i m, const int FULL)
{
    return FULL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

DW_INLINE void dw_st(float *p, __m256i m, __m256 v, const int FULL)
{
    if (FULL) _mm256_storeu_ps(p, v);
    else _mm256_maskstore_ps(p, m, v);
}

DW_INLINE __m256 dw_finish(__m256 acc, const float *z, __m256i m, int act, __m256 vlo, __m256 vhi, const int FULL)
{
    if (z) acc = _mm256_add_ps(acc, dw_ld(z, m, FULL));
    if (act == 1) acc = _mm256_max_ps(acc, _mm256_setzero_ps());
    else if (act == 2) acc = _mm256_min_ps(_mm256_max_ps(acc, vlo), vhi);
    return acc;
}

/* Channels c..c+7 of P (<= DW_P) interior pixels from ow (window start column iw0), KW wide, stride SW. */
DW_INLINE void dw_block(const dwnhwc_row_args *a, const dw_rows *r, int64_t ow, int64_t iw0, int64_t c, __m256i m,
                        const int KW, const int SW, const int FULL, const int P)
{
    const int64_t C = a->C, ldw = a->ldw;
    const __m256 vlo = _mm256_set1_ps(a->lo), vhi = _mm256_set1_ps(a->hi);
    enum { NX = (DW_P - 1) * 2 + 3 }; /* >= (DW_P-1)*SW + KW for SW <= 2, KW <= 3 */
    __m256 b = a->bias ? dw_ld(a->bias + c, m, FULL) : _mm256_setzero_ps();
    __m256 acc[DW_P];
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) acc[p] = b;
    for (int i = 0; i < r->n; i++) {
        const float *xr = r->x[i] + iw0 * C + c, *wr = r->w[i] + c;
        __m256 wv[3], xv[NX];
#pragma GCC unroll 3
        for (int j = 0; j < KW; j++) wv[j] = _mm256_loadu_ps(wr + j * ldw);
#pragma GCC unroll 9
        for (int q = 0; q < (P - 1) * SW + KW; q++) xv[q] = dw_ld(xr + q * C, m, FULL);
#pragma GCC unroll 4
        for (int p = 0; p < P; p++)
#pragma GCC unroll 3
            for (int j = 0; j < KW; j++) acc[p] = _mm256_fmadd_ps(xv[p * SW + j], wv[j], acc[p]);
    }
#pragma GCC unroll 4
    for (int p = 0; p < P; p++) {
        int64_t o = (ow + p) * C + c;
        dw_st(a->y + o, m, dw_finish(acc[p], a->z ? a->z + o : NULL, m, a->act, vlo, vhi, FULL), FULL);
    }
}

/* P interior pixels from ow (window start column iw0) with a KW-wide, stride-SW window. */
DW_INLINE void dw_group(const dwnhwc_row_args *a, const dw_rows *r, int64_t ow, int64_t iw0, const int KW,
                        const int SW, const int P)
{
    int64_t c = 0;
    for (; c + 8 <= a->C; c += 8) dw_block(a, r, ow, iw0, c, _mm256_setzero_si256(), KW, SW, 1, P);
    if (c < a->C) dw_block(a, r, ow, iw0, c, dw_mask(a->C - c), KW, SW, 0, P);
}

/* One pixel, any window, skipping taps outside the image. */
static void dw_pixel(const dwnhwc_row_args *a, const dw_rows *r, int64_t ow)
{
    const int64_t C = a->C, ldw = a->ldw;
    const __m256 vlo = _mm256_set1_ps(a->lo), vhi = _mm256_set1_ps(a->hi);
    int64_t iw0 = ow * a->sw - a->pw;
    for (int64_t c = 0; c < C; c += 8) {
        __m256i m = dw_mask(C - c);
        bool full = C - c >= 8;
        __m256 acc = !a->bias ? _mm256_setzero_ps() : full ? _mm256_loadu_ps(a->bias + c) : _mm256_maskload_ps(a->bias + c, m);
        for (int i = 0; i < r->n; i++)
            for (int64_t j = 0; j < a->kw; j++) {
                int64_t iw = iw0 + j * a->dw;
                if (iw < 0 || iw >= a->W) continue;
                const float *xp = r->x[i] + iw * C + c;
                acc = _mm256_fmadd_ps(full ? _mm256_loadu_ps(xp) : _mm256_maskload_ps(xp, m),
                                      _mm256_loadu_ps(r->w[i] + j * ldw + c), acc);
            }
        int64_t o = ow * C + c;
        if (full) _mm256_storeu_ps(a->y + o, dw_finish(acc, a->z ? a->z + o : NULL, m, a->act, vlo, vhi, 1));
        else _mm256_maskstore_ps(a->y + o, m, dw_finish(acc, a->z ? a->z + o : NULL, m, a->act, vlo, vhi, 0));
    }
}

/* The interior pixels left after the DW_P steps (fewer than DW_P), stride SW. */
#define DW_REST(SW)                                                                            \
    do {                                                                                       \
        if (DW_P > 4 && ow + 4 <= hi) dw_group(a, &r, ow, ow * (SW) - a->pw, 3, SW, 4), ow += 4; \
        if (ow + 2 <= hi) dw_group(a, &r, ow, ow * (SW) - a->pw, 3, SW, 2), ow += 2;             \
        if (ow + 1 <= hi) dw_group(a, &r, ow, ow * (SW) - a->pw, 3, SW, 1), ow += 1;             \
    } while (0)

void dwnhwc_f32_row__avx2(const dwnhwc_row_args *a)
{
    dw_rows r;
    r.n = 0;
    for (int64_t i = 0; i < a->kh && i < DW_MAXKH; i++) {
        int64_t ih = a->oh * a->sh - a->ph + i * a->dh;
        if (ih < 0 || ih >= a->H) continue;
        r.x[r.n] = a->x + (a->ring > 0 ? ih % a->ring : ih) * a->W * a->C;
        r.w[r.n] = a->w + i * a->kw * a->ldw;
        r.n++;
    }
    /* interior columns: the whole window inside the row */
    int64_t span = (a->kw - 1) * a->dw;
    int64_t lo = (a->pw + a->sw - 1) / a->sw, hi = a->W - 1 - span + a->pw >= 0 ? (a->W - 1 - span + a->pw) / a->sw + 1 : 0;
    if (hi > a->Wo) hi = a->Wo;
    if (lo > hi) lo = hi;
    int64_t ow = 0;
    for (; ow < lo; ow++) dw_pixel(a, &r, ow);
    bool fast = a->kw == 3 && a->dw == 1 && (a->sw == 1 || a->sw == 2);
    /* DW_P pixels a step, then the interior's rest in halving steps (one pixel at a time
     * through dw_pixel cost MobileNetV2 ~5% of its run: up to 6 of a 14-wide row) */
    if (fast && a->sw == 1) {
        for (; ow + DW_P <= hi; ow += DW_P) dw_group(a, &r, ow, ow - a->pw, 3, 1, DW_P);
        DW_REST(1);
    } else if (fast) {
        for (; ow + DW_P <= hi; ow += DW_P) dw_group(a, &r, ow, ow * 2 - a->pw, 3, 2, DW_P);
        DW_REST(2);
    }
    for (; ow < a->Wo; ow++) dw_pixel(a, &r, ow);
}
