/* kernels/x86/winograd_f32_avx2.c — the Winograd F(4x4,3x3) and F(2x2,3x3) tile transforms (kernels/winograd.h) built with avx2 flags. */
#include "kernels/winograd.h"

void winograd_f32_input__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                              int64_t c0, int64_t c1, float *v, int64_t ldv)
{
    wino_input_body(g, tiles, n, x, c0, c1, v, ldv, wino_gather);
}

void winograd_f32_output__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                               int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y)
{
    wino_output_body(g, tiles, n, mx, m0, m1, ldm, e, y, wino_scatter);
}

void winograd2_f32_input__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *x,
                            int64_t c0, int64_t c1, float *v, int64_t ldv)
{
    wino2_input_body(g, tiles, n, x, c0, c1, v, ldv);
}

void winograd2_f32_output__avx2(const wino_geom *g, const wino_tile *tiles, int64_t n, const float *mx,
                             int64_t m0, int64_t m1, int64_t ldm, const wino_epi *e, float *y)
{
    wino2_output_body(g, tiles, n, mx, m0, m1, ldm, e, y);
}
