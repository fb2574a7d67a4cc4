/* kernels/x86/gemm_f32_avx2.c — the AVX2+FMA f32 GEMM microkernel gemm_f32_6x16__avx2: 6 rows
 * x 16 columns of C in 12 ymm accumulators, masked loads/stores for column tails, fused
 * epilogue. Built with -mavx2 -mfma; called only when cpu_features() has CPU_AVX2. */
#include <immintrin.h>

#include "kernels/gemm.h"

#define MR 6
#define NR 16
#define PREFETCH_C 48 /* K steps */
#define PREFETCH_A 64 /* K steps ahead the A panel is fetched (see the AVX-512 kernel) */

#define INLINE static inline __attribute__((always_inline))

/* e^x, ~2 ulp: x = n ln2 + r, |r| <= ln2/2, degree-6 Taylor in r, 2^n built in the exponent. */
INLINE __m256 exp_ps(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* erfc(z) for z >= 0, fractional error < 1.2e-7 (Numerical Recipes' Chebyshev fit). */
INLINE __m256 erfc_pos_ps(__m256 z)
{
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f),
                             _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)));
    static const float c[] = {0.17087277f,  -0.82215223f, 1.48851587f, -1.13520398f,
                              0.27886807f,  -0.18628806f, 0.09678418f, 0.37409196f,
                              1.00002368f,  -1.26551223f};
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < 10; i++) p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c[i]));
    p = _mm256_fnmadd_ps(z, z, p);
    return _mm256_mul_ps(t, exp_ps(p));
}

static __m256 act_ps(__m256 x, gemm_act act)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    switch (act) {
    case GEMM_ACT_SIGMOID:
        return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    case GEMM_ACT_SILU:
        return _mm256_div_ps(x, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
    case GEMM_ACT_GELU: {
        /* x/2 * (1 + erf(x/sqrt2)) = x/2 * erfc(-x/sqrt2): erfc(|z|) or 2 - erfc(|z|). */
        __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
        __m256 e = erfc_pos_ps(_mm256_mul_ps(ax, _mm256_set1_ps(0.70710678f)));
        __m256 pos = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
        e = _mm256_blendv_ps(e, _mm256_sub_ps(_mm256_set1_ps(2.0f), e), pos);
        return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), e);
    }
    default:
        return x;
    }
}

/* Lane mask with the first n (0..8) lanes set. */
INLINE __m256i lane_mask(int n)
{
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    n = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - n));
}

/* The transcendental activations, applied over a stored tile (still in L1). */
static __attribute__((noinline)) void act_tile(float *c, int64_t ldc, int m, int n, gemm_act act)
{
    for (int i = 0; i < m; i++) {
        float *row = c + i * ldc;
        for (int j = 0; j < n; j += 8) {
            __m256i k = lane_mask(n - j);
            _mm256_maskstore_ps(row + j, k, act_ps(_mm256_maskload_ps(row + j, k), act));
        }
    }
}

/* A masked load of 8 floats, or a plain one when the piece is full. */
INLINE __m256 load8(const float *p, __m256i k, int full)
{
    return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, k);
}

/* The epilogue of a ROWS-row tile (columns 0..8 in acc0, 8..16 in acc1 when n > 8), one phase
 * at a time over all its vectors: alpha, beta * old C, then on the last K block bias, residual
 * and relu/clip; then the stores. The tile's parameters are read once into locals (the stores
 * to c may alias *t as far as the compiler knows; see the AVX-512 kernel). */
INLINE void store_tile(const int ROWS, __m256 *acc0, __m256 *acc1, float *c, int64_t ldc, int n,
                       const gemm_tile *t)
{
    const float alpha = t->alpha, beta = t->beta;
    const int last = t->last;
    const gemm_bias bias_kind = t->bias_kind;
    const float *bias = t->bias, *res = t->residual;
    const int64_t ldr = t->ldr;
    const gemm_act act = t->act;
    const int two = n > 8, full0 = n >= 8, full1 = n >= 16;
    const __m256i k0 = lane_mask(n), k1 = lane_mask(n - 8);
    if (alpha != 1.0f) {
        const __m256 va = _mm256_set1_ps(alpha);
#pragma GCC unroll 6
        for (int i = 0; i < ROWS; i++) {
            acc0[i] = _mm256_mul_ps(acc0[i], va);
            if (two) acc1[i] = _mm256_mul_ps(acc1[i], va);
        }
    }
    if (beta != 0.0f) {
        const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
        for (int i = 0; i < ROWS; i++) {
            acc0[i] = _mm256_fmadd_ps(load8(c + i * ldc, k0, full0), vb, acc0[i]);
            if (two) acc1[i] = _mm256_fmadd_ps(load8(c + i * ldc + 8, k1, full1), vb, acc1[i]);
        }
    }
    if (last) {
        if (bias_kind == GEMM_BIAS_ROW) {
#pragma GCC unroll 6
            for (int i = 0; i < ROWS; i++) {
                const __m256 bi = _mm256_set1_ps(bias[i]);
                acc0[i] = _mm256_add_ps(acc0[i], bi);
                if (two) acc1[i] = _mm256_add_ps(acc1[i], bi);
            }
        } else if (bias_kind == GEMM_BIAS_COL) {
            const __m256 b0 = load8(bias, k0, full0);
            const __m256 b1 = two ? load8(bias + 8, k1, full1) : _mm256_setzero_ps();
#pragma GCC unroll 6
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm256_add_ps(acc0[i], b0);
                if (two) acc1[i] = _mm256_add_ps(acc1[i], b1);
            }
        }
        if (res) {
#pragma GCC unroll 6
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm256_add_ps(acc0[i], load8(res + i * ldr, k0, full0));
                if (two) acc1[i] = _mm256_add_ps(acc1[i], load8(res + i * ldr + 8, k1, full1));
            }
        }
        if (act == GEMM_ACT_RELU) {
            const __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 6
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm256_max_ps(z, acc0[i]);
                if (two) acc1[i] = _mm256_max_ps(z, acc1[i]);
            }
        } else if (act == GEMM_ACT_CLIP) {
            const __m256 lo = _mm256_set1_ps(t->act_min), hi = _mm256_set1_ps(t->act_max);
#pragma GCC unroll 6
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc0[i]));
                if (two) acc1[i] = _mm256_min_ps(hi, _mm256_max_ps(lo, acc1[i]));
            }
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < ROWS; i++) {
        if (full0) _mm256_storeu_ps(c + i * ldc, acc0[i]);
        else _mm256_maskstore_ps(c + i * ldc, k0, acc0[i]);
        if (two) {
            if (full1) _mm256_storeu_ps(c + i * ldc + 8, acc1[i]);
            else _mm256_maskstore_ps(c + i * ldc + 8, k1, acc1[i]);
        }
    }
    if (last && act >= GEMM_ACT_SIGMOID) act_tile(c, ldc, ROWS, n, act);
}

/* The kernel body for a compile-time row count ROWS (<= MR); A panel stride stays MR. */
INLINE void kernel_rows(const int ROWS, int64_t kc, const float *a, const float *b, float *c,
                        int64_t ldc, int n, const gemm_tile *t)
{
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < ROWS; i++) {
        acc0[i] = _mm256_setzero_ps();
        acc1[i] = _mm256_setzero_ps();
    }
    /* The C tile is fetched PREFETCH_C steps before the end of the K loop (see the AVX-512
     * kernel). */
    int64_t k_main = kc > PREFETCH_C ? kc - PREFETCH_C : 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t k_end = pass == 0 ? k_main : kc;
        if (pass == 1) {
#pragma GCC unroll 6
            for (int i = 0; i < ROWS; i++) {
                _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
                _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
            }
        }
        for (int64_t p = pass == 0 ? 0 : k_main; p < k_end; p++) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            _mm_prefetch((const char *)(b + 16 * NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(a + PREFETCH_A * MR), _MM_HINT_T0);
#pragma GCC unroll 6
            for (int i = 0; i < ROWS; i++) {
                __m256 ai = _mm256_broadcast_ss(a + i);
                acc0[i] = _mm256_fmadd_ps(ai, b0, acc0[i]);
                acc1[i] = _mm256_fmadd_ps(ai, b1, acc1[i]);
            }
            a += MR;
            b += NR;
        }
    }
    store_tile(ROWS, acc0, acc1, c, ldc, n, t);
}

#define ROWS_FN(R)                                                                          \
    static void rows_##R(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, \
                         int n, const gemm_tile *t)                                         \
    {                                                                                       \
        kernel_rows(R, kc, a, b, c, ldc, n, t);                                             \
    }
ROWS_FN(1) ROWS_FN(2) ROWS_FN(3) ROWS_FN(4) ROWS_FN(5) ROWS_FN(6)

void gemm_f32_6x16__avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                         int m, int n, const gemm_tile *t)
{
    typedef void (*rows_fn)(int64_t, const float *, const float *, float *, int64_t, int,
                            const gemm_tile *);
    static const rows_fn by_rows[MR + 1] = {NULL, rows_1, rows_2, rows_3, rows_4, rows_5, rows_6};
    if (m < 1 || m > MR || n < 1 || n > NR) return;
    by_rows[m](kc, a, b, c, ldc, n, t);
}
