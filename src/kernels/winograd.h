/* kernels/winograd.h — the tile transforms of Winograd F(4x4,3x3) convolution (6x6 input tiles,
 * points 0, +-1, +-2, inf) and of F(2x2,3x3) (4x4 input tiles, points 0, +-1, inf: for small
 * feature maps, where 4x4 output tiles would be few and mostly padding), written once over
 * 16-lane GCC vectors (lanes = 16 tiles) and compiled per ISA by fast_conv_winograd.c (portable)
 * and x86/winograd_f32_{avx2,avx512}.c.
 *   input  V = B^T d B   (d: 6x6 input window of a tile)
 *   weight U = G g G^T   (g: 3x3 kernel; fast_conv_winograd.c, in double)
 *   output Y = A^T m A   (m: the 6x6 elementwise products summed over channels)
 * Element xi = 6*i + j of a transformed tile is row i, column j. The bodies take the gather of
 * input windows and the scatter of output tiles as parameters: the portable ones here, vector
 * ones (permutes over runs of tiles along a tile row) in x86/winograd_f32_avx512.c. */
#ifndef STRATA_KERNELS_WINOGRAD_H
#define STRATA_KERNELS_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WINO_LANES 16 /* tiles per vector group */
#define WINO_XI 36    /* elements of a transformed tile */

/* One convolution's geometry (batch N, NCHW, 3x3, stride 1): tiles of 4x4 (or 2x2) outputs. */
typedef struct wino_geom {
    int64_t C, H, W;  /* input channels and extent */
    int64_t M, Ho, Wo;/* output channels and extent */
    int64_t pt, pl;   /* padding before (top, left) */
    int64_t tw, T;    /* tile columns, tiles per image */
} wino_geom;

/* Where one tile reads and writes (precomputed per block of tiles). */
typedef struct wino_tile {
    int64_t x_img;    /* offset of the tile's image in x (img * C*H*W) */
    int64_t y_off;    /* offset of its first output in y's channel 0 (img*M*Ho*Wo + oy*Wo + ox) */
    int32_t iy0, ix0; /* top-left of its 6x6 input window (may be negative: padding) */
    int32_t rows, cols;/* valid outputs (<= 4, or 2, each) at the bottom / right edges */
} wino_tile;

/* What the output transform fuses: + bias[m], + residual z (same layout as y), activation. */
typedef struct wino_epi {
    const float *bias;/* M floats or NULL */
    const float *z;   /* residual like y, or NULL */
    int act;          /* WINO_ACT_* */
    float lo, hi;     /* clip bounds */
} wino_epi;

enum { WINO_ACT_NONE = 0, WINO_ACT_RELU = 1, WINO_ACT_CLIP = 2 };

/* Input transform of channels [c0, c1) for tiles[0..n) (n <= ldv, ldv a multiple of 16, v
 * 64-byte aligned): v[(xi*C + c)*ldv + l] = V of tile l, channel c; lanes n..ldv are zeroed. */
typedef void (*wino_input_fn)(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                              int64_t c0, int64_t c1, float *v, int64_t ldv);
/* Output transform of channels [m0, m1) for tiles[0..n) from mx[(xi*M + m)*ldm + l], with the
 * epilogue, into y (NCHW). */
typedef void (*wino_output_fn)(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                               int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y);

void winograd_f32_input__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                int64_t c0, int64_t c1, float *v, int64_t ldv);
void winograd_f32_output__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                 int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y);
/* The same for F(2x2,3x3): 16 transformed elements a tile (xi = 4*i + j). */
void winograd2_f32_input__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                 int64_t c0, int64_t c1, float *v, int64_t ldv);
void winograd2_f32_output__scalar(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                  int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y);
#if defined(__x86_64__)
void winograd2_f32_input__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                               int64_t c0, int64_t c1, float *v, int64_t ldv);
void winograd2_f32_output__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y);
void winograd2_f32_input__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                 int64_t c0, int64_t c1, float *v, int64_t ldv);
void winograd2_f32_output__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                  int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y);
void winograd_f32_input__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                              int64_t c0, int64_t c1, float *v, int64_t ldv);
void winograd_f32_output__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                               int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y);
void winograd_f32_input__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                int64_t c0, int64_t c1, float *v, int64_t ldv);
void winograd_f32_output__avx512(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                 int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y);
#endif

/* ---- the bodies (static inline: each including file compiles them with its ISA flags) ------ */

typedef float wino_v __attribute__((vector_size(64))); /* 16 lanes; lowered to what the ISA has */

/* The generic bodies take the tile size and 1-D transforms as arguments: inlined, they become
 * constants and direct calls again (an out-of-line body called the transforms through pointers). */
#define WINO_INLINE static inline __attribute__((always_inline))

/* B^T applied to d[0], d[s], .., d[5s], written to w[0], w[ws], .., w[5ws]. */
WINO_INLINE void wino_bt(const wino_v *d, ptrdiff_t s, wino_v *w, ptrdiff_t ws)
{
    wino_v d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
    wino_v t0 = d4 - 4.0f * d2, t1 = d3 - 4.0f * d1, t2 = d4 - d2, t3 = 2.0f * (d3 - d1);
    w[0] = 4.0f * d0 - 5.0f * d2 + d4;
    w[ws] = t0 + t1;
    w[2 * ws] = t0 - t1;
    w[3 * ws] = t2 + t3;
    w[4 * ws] = t2 - t3;
    w[5 * ws] = 4.0f * d1 - 5.0f * d3 + d5;
}

/* A^T applied to m[0], m[s], .., m[5s] into o[0..3] stride os. */
WINO_INLINE void wino_at(const wino_v *m, ptrdiff_t s, wino_v *o, ptrdiff_t os)
{
    wino_v a = m[s] + m[2 * s], b = m[s] - m[2 * s], c = m[3 * s] + m[4 * s], e = m[3 * s] - m[4 * s];
    o[0] = m[0] + a + c;
    o[os] = b + 2.0f * e;
    o[2 * os] = a + 4.0f * c;
    o[3 * os] = b + 8.0f * e + m[5 * s];
}

/* The 6x6 windows of tiles[0..n) of one input plane, d[(r*6 + j)*16 + l]; zero outside. */
static inline void wino_gather(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                               int64_t c, float *d)
{
    const int64_t H = g->H, W = g->W;
    for (int64_t l = 0; l < WINO_LANES; l++) {
        if (l >= n) {
            for (int e = 0; e < 36; e++) d[e * WINO_LANES + l] = 0.0f;
            continue;
        }
        const wino_tile *t = &tiles[l];
        const float *p = x + t->x_img + c * H * W;
        if (t->iy0 >= 0 && t->iy0 + 6 <= H && t->ix0 >= 0 && t->ix0 + 6 <= W) {
            const float *row = p + t->iy0 * W + t->ix0;
            for (int r = 0; r < 6; r++, row += W)
                for (int j = 0; j < 6; j++) d[(r * 6 + j) * WINO_LANES + l] = row[j];
            continue;
        }
        for (int r = 0; r < 6; r++) {
            int64_t iy = t->iy0 + r;
            for (int j = 0; j < 6; j++) {
                int64_t ix = t->ix0 + j;
                d[(r * 6 + j) * WINO_LANES + l] = iy >= 0 && iy < H && ix >= 0 && ix < W ? p[iy * W + ix] : 0.0f;
            }
        }
    }
}

/* A gather: wino_gather's contract (an ISA file may bring a faster one). */
typedef void (*wino_gather_fn)(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                               int64_t c, float *d);

/* A 1-D transform of a values (a = 6, or 4 for F(2x2,3x3)): in[0], in[s], ... to out[0], out[os], ... */
typedef void (*wino_1d_fn)(const wino_v *in, ptrdiff_t s, wino_v *out, ptrdiff_t os);

/* The input transform over a x a windows (B^T d B with bt): v[(xi*C + c)*ldv + l]. */
WINO_INLINE void wino_input_tiles(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                    int64_t c0, int64_t c1, float *v, int64_t ldv, wino_gather_fn gather, int a,
                                    wino_1d_fn bt)
{
    wino_v d[36], t[36];
    const ptrdiff_t xs = (ptrdiff_t)(g->C * ldv / WINO_LANES); /* vectors between xi planes */
    for (int64_t l0 = 0; l0 < ldv; l0 += WINO_LANES) {
        int64_t nl = n - l0;
        for (int64_t c = c0; c < c1; c++) {
            wino_v *out = (wino_v *)(v + c * ldv + l0);
            if (nl <= 0) {
                for (int xi = 0; xi < a * a; xi++) out[xi * xs] = (wino_v){0};
                continue;
            }
            gather(g, tiles + l0, nl, x, c, (float *)d);
            for (int r = 0; r < a; r++) bt(d + r * a, 1, t + r * a, 1); /* along rows */
            for (int j = 0; j < a; j++) bt(t + j, a, out + j * xs, a * xs); /* along columns */
        }
    }
}

static inline void wino_input_body(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                   int64_t c0, int64_t c1, float *v, int64_t ldv, wino_gather_fn gather)
{
    wino_input_tiles(g, tiles, n, x, c0, c1, v, ldv, gather, 6, wino_bt);
}

/* Writes channel m of tiles[0..n) from o[(i*f + j)*16 + l] (bias added; f x f output tiles)
 * into y with the residual and activation, clipped at the bottom and right edges. */
static inline void wino_scatter_tiles(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *o,
                                      int64_t m, const wino_epi *e, float *y, int f)
{
    const int64_t HoWo = g->Ho * g->Wo, Wo = g->Wo;
    for (int64_t l = 0; l < n; l++) {
        const wino_tile *tl = &tiles[l];
        int64_t base = tl->y_off + m * HoWo;
        for (int i = 0; i < tl->rows; i++) {
            float *yr = y + base + i * Wo;
            const float *zr = e->z ? e->z + base + i * Wo : NULL;
            for (int j = 0; j < tl->cols; j++) {
                float s = o[(i * f + j) * WINO_LANES + l];
                if (zr) s += zr[j];
                if (e->act == WINO_ACT_RELU) s = s > 0.0f ? s : 0.0f;
                else if (e->act == WINO_ACT_CLIP) s = s < e->lo ? e->lo : s > e->hi ? e->hi : s;
                yr[j] = s;
            }
        }
    }
}

/* F(4x4,3x3)'s scatter. */
static inline void wino_scatter(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *o, int64_t m,
                                const wino_epi *e, float *y)
{
    wino_scatter_tiles(g, tiles, n, o, m, e, y, 4);
}

/* A scatter: wino_scatter's contract (an ISA file may bring a faster one). */
typedef void (*wino_scatter_fn)(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *o, int64_t m,
                                const wino_epi *e, float *y);

/* The output transform (A^T m A with at, f x f outputs from a x a) with the bias, then scatter. */
WINO_INLINE void wino_output_tiles(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                     int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y,
                                     wino_scatter_fn scatter, int a, int f, wino_1d_fn at)
{
    wino_v t[24], o[16];
    const ptrdiff_t xs = (ptrdiff_t)(g->M * ldm / WINO_LANES);
    for (int64_t m = m0; m < m1; m++) {
        float bias = e->bias ? e->bias[m] : 0.0f;
        for (int64_t l0 = 0; l0 < n; l0 += WINO_LANES) {
            const wino_v *in = (const wino_v *)(mx + m * ldm + l0);
            for (int i = 0; i < a; i++) at(in + a * i * xs, xs, t + i * f, 1); /* along rows */
            for (int j = 0; j < f; j++) at(t + j, f, o + j, f);                /* along columns */
            for (int q = 0; q < f * f; q++) o[q] += bias;
            scatter(g, tiles + l0, n - l0 < WINO_LANES ? n - l0 : WINO_LANES, (const float *)o, m, e, y);
        }
    }
}

static inline void wino_output_body(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                    int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y,
                                    wino_scatter_fn scatter)
{
    wino_output_tiles(g, tiles, n, mx, m0, m1, ldm, e, y, scatter, 6, 4, wino_at);
}

/* ---- F(2x2,3x3) ------------------------------------------------------------------------- */

#define WINO2_XI 16 /* elements of a transformed 4x4 tile */

/* B^T of F(2,3) applied to d[0], d[s], d[2s], d[3s], written to w[0], w[ws], w[2ws], w[3ws]. */
WINO_INLINE void wino2_bt(const wino_v *d, ptrdiff_t s, wino_v *w, ptrdiff_t ws)
{
    wino_v d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s];
    w[0] = d0 - d2;
    w[ws] = d1 + d2;
    w[2 * ws] = d2 - d1;
    w[3 * ws] = d1 - d3;
}

/* A^T of F(2,3) applied to m[0], m[s], m[2s], m[3s] into o[0], o[os]. */
WINO_INLINE void wino2_at(const wino_v *m, ptrdiff_t s, wino_v *o, ptrdiff_t os)
{
    o[0] = m[0] + m[s] + m[2 * s];
    o[os] = m[s] - m[2 * s] - m[3 * s];
}

/* The 4x4 windows of tiles[0..n) of one input plane, d[(r*4 + j)*16 + l]; zero outside. */
static inline void wino2_gather(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x, int64_t c,
                                float *d)
{
    const int64_t H = g->H, W = g->W;
    for (int64_t l = 0; l < WINO_LANES; l++) {
        if (l >= n) {
            for (int e = 0; e < 16; e++) d[e * WINO_LANES + l] = 0.0f;
            continue;
        }
        const wino_tile *t = &tiles[l];
        const float *p = x + t->x_img + c * H * W;
        for (int r = 0; r < 4; r++) {
            int64_t iy = t->iy0 + r;
            for (int j = 0; j < 4; j++) {
                int64_t ix = t->ix0 + j;
                d[(r * 4 + j) * WINO_LANES + l] = iy >= 0 && iy < H && ix >= 0 && ix < W ? p[iy * W + ix] : 0.0f;
            }
        }
    }
}

static inline void wino2_scatter(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *o, int64_t m,
                                 const wino_epi *e, float *y)
{
    wino_scatter_tiles(g, tiles, n, o, m, e, y, 2);
}

static inline void wino2_input_body(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                                    int64_t c0, int64_t c1, float *v, int64_t ldv)
{
    wino_input_tiles(g, tiles, n, x, c0, c1, v, ldv, wino2_gather, 4, wino2_bt);
}

static inline void wino2_output_body(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                                     int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y)
{
    wino_output_tiles(g, tiles, n, mx, m0, m1, ldm, e, y, wino2_scatter, 4, 2, wino2_at);
}

#endif
