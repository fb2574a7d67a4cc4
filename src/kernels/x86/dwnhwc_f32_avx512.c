/* kernels/x86/dwnhwc_f32_avx512.c — AVX-512 depthwise convolution in NHWC, one output row per
 * call (see nhwc_x86.h): 16 channels per vector, masked channel tail; interior pixels 8 at a
 * time with each input vector loaded once per kernel row (3-wide windows, stride 1 or 2), the
 * border pixels one at a time skipping the taps in the padding. Built with AVX-512 flags. */
#include <immintrin.h>
#include <stdbool.h>

#include "nhwc_x86.h"

#define DW_P 8      /* interior output pixels per step */
#define DW_MAXKH 64 /* kernel rows (the caller allows at most 64 taps) */
#define DW_PF (2 * DW_P) /* prefetch distance in output pixels */

#define DW_INLINE static inline __attribute__((always_inline))

typedef struct dw_rows {
    int n;                       /* kernel rows inside the image */
    const float *x[DW_MAXKH];    /* the input row of each */
    const float *w[DW_MAXKH];    /* its packed weights: kw rows of ldw */
} dw_rows;

DW_INLINE __m512 dw_finish(__m512 acc, const float *z, __mmask16 m, int act, __m512 vlo, __m512 vhi)
{
    if (z) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, z));
    if (act == 1) acc = _mm512_max_ps(acc, _mm512_setzero_ps());
    else if (act == 2) acc = _mm512_min_ps(_mm512_max_ps(acc, vlo), vhi);
    return acc;
}

/* Channels c..c+15 of P (<= DW_P) interior pixels from ow (window start column iw0), KW wide, stride
 * SW; FULL: all 16 channels, plain loads and stores (masked ones cost more on some CPUs). */
DW_INLINE void dw_block(const dwnhwc_row_args *a, const dw_rows *r, int64_t ow, int64_t iw0, int64_t c, __mmask16 m,
                        const int KW, const int SW, const int FULL, const int P)
{
    const int64_t C = a->C, ldw = a->ldw;
    const __m512 vlo = _mm512_set1_ps(a->lo), vhi = _mm512_set1_ps(a->hi);
    enum { NX = (DW_P - 1) * 2 + 8 }; /* >= (DW_P-1)*SW + KW for SW <= 2, KW <= 3 */
    if (FULL) m = (__mmask16)0xFFFF;
    __m512 b = !a->bias ? _mm512_setzero_ps() : FULL ? _mm512_loadu_ps(a->bias + c) : _mm512_maskz_loadu_ps(m, a->bias + c);
    __m512 acc[DW_P];
#pragma GCC unroll 8
    for (int p = 0; p < P; p++) acc[p] = b;
    /* Activations larger than the caches come from memory: fetch the lines of the input rows
     * this output row reads first (the last SW) two groups ahead, and the output lines to be
     * written (prefetchw: owned, no second trip when the store comes). */
    if (a->prefetch && P == DW_P && ow + DW_PF + DW_P <= a->Wo && iw0 + (DW_PF + DW_P) * SW <= a->W) {
        for (int i = r->n - SW < 0 ? 0 : r->n - SW; i < r->n; i++) {
            const float *pf = r->x[i] + (iw0 + DW_PF * SW) * C + c;
#pragma GCC unroll 16
            for (int q = 0; q < DW_P * SW; q++) _mm_prefetch((const char *)(pf + q * C), _MM_HINT_T0);
        }
#pragma GCC unroll 8
        for (int p = 0; p < P; p++) __asm__ volatile("prefetchw %0" ::"m"(a->y[(ow + DW_PF + p) * C + c]));
    }
    for (int i = 0; i < r->n; i++) {
        const float *xr = r->x[i] + iw0 * C + c, *wr = r->w[i] + c;
        __m512 wv[3], xv[NX];
#pragma GCC unroll 3
        for (int j = 0; j < KW; j++) wv[j] = _mm512_loadu_ps(wr + j * ldw);
        /* each input vector is loaded once into a register (the asm keeps the compiler from
         * folding it into the KW FMAs that read it: three loads each, and on CPUs with one
         * 512-bit load a cycle (Zen 4) the loads, not the FMAs, set the pace: 60 -> GFLOP/s) */
#pragma GCC unroll 24
        for (int q = 0; q < (P - 1) * SW + KW; q++) {
            xv[q] = FULL ? _mm512_loadu_ps(xr + q * C) : _mm512_maskz_loadu_ps(m, xr + q * C);
            __asm__("" : "+v"(xv[q]));
        }
#pragma GCC unroll 8
        for (int p = 0; p < P; p++)
#pragma GCC unroll 3
            for (int j = 0; j < KW; j++) acc[p] = _mm512_fmadd_ps(xv[p * SW + j], wv[j], acc[p]);
    }
#pragma GCC unroll 8
    for (int p = 0; p < P; p++) {
        int64_t o = (ow + p) * C + c;
        __m512 t = acc[p];
        if (a->z) t = _mm512_add_ps(t, FULL ? _mm512_loadu_ps(a->z + o) : _mm512_maskz_loadu_ps(m, a->z + o));
        t = dw_finish(t, NULL, m, a->act, vlo, vhi);
        if (FULL) _mm512_storeu_ps(a->y + o, t);
        else _mm512_mask_storeu_ps(a->y + o, m, t);
    }
}

/* P interior pixels from ow (window start column iw0) with a KW-wide, stride-SW window. */
DW_INLINE void dw_group(const dwnhwc_row_args *a, const dw_rows *r, int64_t ow, int64_t iw0, const int KW,
                        const int SW, const int P)
{
    int64_t c = 0;
    for (; c + 16 <= a->C; c += 16) dw_block(a, r, ow, iw0, c, 0, KW, SW, 1, P);
    if (c < a->C) dw_block(a, r, ow, iw0, c, (__mmask16)((1u << (a->C - c)) - 1), KW, SW, 0, P);
}

/* One pixel, any window, skipping taps outside the image: the taps inside are a range of the
 * kernel's columns, found once; two accumulators halve the dependent chain (this border path
 * took 12% of a 56-wide row and 28% of a 14-wide one with a branch per tap and one chain). */
static void dw_pixel(const dwnhwc_row_args *a, const dw_rows *r, int64_t ow)
{
    const int64_t C = a->C, ldw = a->ldw, W = a->W, dw = a->dw;
    const __m512 vlo = _mm512_set1_ps(a->lo), vhi = _mm512_set1_ps(a->hi);
    int64_t iw0 = ow * a->sw - a->pw;
    int64_t j0 = iw0 >= 0 ? 0 : (-iw0 + dw - 1) / dw, j1 = W - iw0 > 0 ? (W - iw0 + dw - 1) / dw : 0;
    if (j1 > a->kw) j1 = a->kw;
    for (int64_t c = 0; c < C; c += 16) {
        __mmask16 m = C - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (C - c)) - 1);
        __m512 acc0 = a->bias ? _mm512_maskz_loadu_ps(m, a->bias + c) : _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        for (int i = 0; i < r->n; i++) {
            const float *xr = r->x[i] + iw0 * C + c, *wr = r->w[i] + c;
            for (int64_t j = j0; j < j1; j++) {
                __m512 x = _mm512_maskz_loadu_ps(m, xr + j * dw * C), w = _mm512_loadu_ps(wr + j * ldw);
                if ((i + j) & 1) acc1 = _mm512_fmadd_ps(x, w, acc1);
                else acc0 = _mm512_fmadd_ps(x, w, acc0);
            }
        }
        int64_t o = ow * C + c;
        _mm512_mask_storeu_ps(a->y + o, m, dw_finish(_mm512_add_ps(acc0, acc1), a->z ? a->z + o : NULL, m, a->act, vlo, vhi));
    }
}

/* The interior pixels left after the DW_P steps (fewer than DW_P), stride SW. */
#define DW_REST(SW)                                                                            \
    do {                                                                                       \
        if (DW_P > 4 && ow + 4 <= hi) dw_group(a, &r, ow, ow * (SW) - a->pw, 3, SW, 4), ow += 4; \
        if (ow + 2 <= hi) dw_group(a, &r, ow, ow * (SW) - a->pw, 3, SW, 2), ow += 2;             \
        if (ow + 1 <= hi) dw_group(a, &r, ow, ow * (SW) - a->pw, 3, SW, 1), ow += 1;             \
    } while (0)

void dwnhwc_f32_row__avx512(const dwnhwc_row_args *a)
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
