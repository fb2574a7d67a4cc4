/* kernels/x86/gemm_f32_avx512.c — the AVX-512 f32 GEMM microkernel gemm_f32_14x32__avx512:
 * 14 rows x 32 columns of C in 28 zmm accumulators, one broadcast A element times two B vectors
 * per FMA pair (one vector for a tile of <= 16 columns), masked stores for column tails, fused
 * epilogue. Built with -mavx512*; called only when cpu_features() has CPU_AVX512. */
#include <immintrin.h>

#include "kernels/gemm.h"

#define MR 14
#define NR 32
#define PREFETCH_C 24 /* K steps */
/* K steps ahead the A panel is fetched: a weights panel prepacked at compile time streams from
 * memory on its first use (conv layers with 7x7 or 14x14 outputs use each weight few times) */
#define PREFETCH_A 32

#define INLINE static inline __attribute__((always_inline))

/* e^x for x in float range, ~2 ulp: x = n ln2 + r, |r| <= ln2/2, degree-6 Taylor in r. */
INLINE __m512 exp_ps(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33f)), _mm512_set1_ps(88.72f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* erfc(z) for z >= 0, fractional error < 1.2e-7 (Numerical Recipes' Chebyshev fit). */
INLINE __m512 erfc_pos_ps(__m512 z)
{
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                             _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
    static const float c[] = {0.17087277f,  -0.82215223f, 1.48851587f, -1.13520398f,
                              0.27886807f,  -0.18628806f, 0.09678418f, 0.37409196f,
                              1.00002368f,  -1.26551223f};
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i < 10; i++) p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(c[i]));
    p = _mm512_fnmadd_ps(z, z, p);
    return _mm512_mul_ps(t, exp_ps(p));
}

static __m512 act_ps(__m512 x, gemm_act act)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    switch (act) {
    case GEMM_ACT_SIGMOID:
        return _mm512_div_ps(one, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    case GEMM_ACT_SILU:
        return _mm512_div_ps(x, _mm512_add_ps(one, exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))));
    case GEMM_ACT_GELU: {
        /* x/2 * (1 + erf(x/sqrt2)) = x/2 * erfc(-x/sqrt2): erfc(|z|) or 2 - erfc(|z|). */
        __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678f));
        __m512 e = erfc_pos_ps(z);
        __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ);
        e = _mm512_mask_sub_ps(e, pos, _mm512_set1_ps(2.0f), e);
        return _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), e);
    }
    default:
        return x;
    }
}

/* The transcendental activations, applied over a stored tile (still in L1). */
static __attribute__((noinline)) void act_tile(float *c, int64_t ldc, int m, int n, gemm_act act)
{
    for (int i = 0; i < m; i++) {
        float *row = c + i * ldc;
        for (int j = 0; j < n; j += 16) {
            __mmask16 k = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
            _mm512_mask_storeu_ps(row + j, k, act_ps(_mm512_maskz_loadu_ps(k, row + j), act));
        }
    }
}

/* The epilogue of a ROWS-row tile (columns 0..16 in acc0 under mask k0, 16..32 in acc1 under k1;
 * k1 == 0: no second vector), one phase at a time over all its vectors: alpha, beta * old C,
 * then on the last K block bias, residual and relu/clip; then the stores. The tile's parameters
 * are read once into locals: the stores to c may alias *t as far as the compiler knows, and a
 * per-vector epilogue re-read and re-tested them for every vector (a 14 x 32 tile in L1 took
 * 1.07x this time at K = 16, 1.02x at K = 64). */
INLINE void store_tile(const int ROWS, __m512 *acc0, __m512 *acc1, float *c, int64_t ldc, int n,
                       __mmask16 k0, __mmask16 k1, const gemm_tile *t)
{
    const float alpha = t->alpha, beta = t->beta;
    const int last = t->last;
    const gemm_bias bias_kind = t->bias_kind;
    const float *bias = t->bias, *res = t->residual;
    const int64_t ldr = t->ldr;
    const gemm_act act = t->act;
    const int two = k1 != 0;
    if (alpha != 1.0f) {
        const __m512 va = _mm512_set1_ps(alpha);
#pragma GCC unroll 14
        for (int i = 0; i < ROWS; i++) {
            acc0[i] = _mm512_mul_ps(acc0[i], va);
            if (two) acc1[i] = _mm512_mul_ps(acc1[i], va);
        }
    }
    if (beta != 0.0f) {
        const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 14
        for (int i = 0; i < ROWS; i++) {
            acc0[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k0, c + i * ldc), vb, acc0[i]);
            if (two) acc1[i] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k1, c + i * ldc + 16), vb, acc1[i]);
        }
    }
    if (last) {
        if (bias_kind == GEMM_BIAS_ROW) {
#pragma GCC unroll 14
            for (int i = 0; i < ROWS; i++) {
                const __m512 bi = _mm512_set1_ps(bias[i]);
                acc0[i] = _mm512_add_ps(acc0[i], bi);
                if (two) acc1[i] = _mm512_add_ps(acc1[i], bi);
            }
        } else if (bias_kind == GEMM_BIAS_COL) {
            const __m512 b0 = _mm512_maskz_loadu_ps(k0, bias);
            const __m512 b1 = two ? _mm512_maskz_loadu_ps(k1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm512_add_ps(acc0[i], b0);
                if (two) acc1[i] = _mm512_add_ps(acc1[i], b1);
            }
        }
        if (res) {
#pragma GCC unroll 14
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm512_add_ps(acc0[i], _mm512_maskz_loadu_ps(k0, res + i * ldr));
                if (two) acc1[i] = _mm512_add_ps(acc1[i], _mm512_maskz_loadu_ps(k1, res + i * ldr + 16));
            }
        }
        if (act == GEMM_ACT_RELU) {
            const __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 14
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm512_max_ps(z, acc0[i]);
                if (two) acc1[i] = _mm512_max_ps(z, acc1[i]);
            }
        } else if (act == GEMM_ACT_CLIP) {
            const __m512 lo = _mm512_set1_ps(t->act_min), hi = _mm512_set1_ps(t->act_max);
#pragma GCC unroll 14
            for (int i = 0; i < ROWS; i++) {
                acc0[i] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc0[i]));
                if (two) acc1[i] = _mm512_min_ps(hi, _mm512_max_ps(lo, acc1[i]));
            }
        }
    }
#pragma GCC unroll 14
    for (int i = 0; i < ROWS; i++) {
        _mm512_mask_storeu_ps(c + i * ldc, k0, acc0[i]);
        if (two) _mm512_mask_storeu_ps(c + i * ldc + 16, k1, acc1[i]);
    }
    if (last && act >= GEMM_ACT_SIGMOID) act_tile(c, ldc, ROWS, n, act);
}

/* The kernel body for a compile-time row count ROWS (<= MR); A panel stride stays MR. B is a
 * packed panel, or with IN_PLACE rows of op(B) t->ldb_in_place floats apart, read with column
 * masks (nothing past column n is touched) while the next 32 columns of each row are fetched. */
INLINE void kernel_rows(const int ROWS, const int IN_PLACE, int64_t kc, const float *a, const float *b, float *c,
                        int64_t ldc, int n, const gemm_tile *t)
{
    const int64_t bs = IN_PLACE ? t->ldb_in_place : NR;
    __m512 acc0[MR], acc1[MR];
#pragma GCC unroll 14
    for (int i = 0; i < ROWS; i++) {
        acc0[i] = _mm512_setzero_ps();
        acc1[i] = _mm512_setzero_ps();
    }
    /* The C tile is fetched PREFETCH_C steps before the end of the K loop: late enough that the
     * streaming B panel does not evict it from L1 again, early enough to hide an L3 miss. */
    int64_t k_main = kc > PREFETCH_C ? kc - PREFETCH_C : 0;
    __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 k1 = n >= 32 ? (__mmask16)0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t k_end = pass == 0 ? k_main : kc;
        if (pass == 1) {
#pragma GCC unroll 14
            for (int i = 0; i < ROWS; i++) {
                _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
                _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
            }
        }
        for (int64_t p = pass == 0 ? 0 : k_main; p < k_end; p++) {
            __m512 b0, b1;
            if (IN_PLACE) {
                b0 = _mm512_maskz_loadu_ps(k0, b), b1 = _mm512_maskz_loadu_ps(k1, b + 16);
                _mm_prefetch((const char *)(b + NR), _MM_HINT_T0);
                _mm_prefetch((const char *)(b + NR + 16), _MM_HINT_T0);
            } else {
                b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
                _mm_prefetch((const char *)(b + 8 * NR), _MM_HINT_T0);
            }
            _mm_prefetch((const char *)(a + PREFETCH_A * MR), _MM_HINT_T0);
#pragma GCC unroll 14
            for (int i = 0; i < ROWS; i++) {
                __m512 ai = _mm512_set1_ps(a[i]);
                acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
                acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
            }
            a += MR;
            b += bs;
        }
    }
    store_tile(ROWS, acc0, acc1, c, ldc, n, k0, k1, t);
}

/* The same for a tile of at most 16 columns (the tail panel of a narrow C: 7x7 and 14x14
 * feature maps): one accumulator per row, half the FMAs. */
INLINE void kernel_rows_half(const int ROWS, const int IN_PLACE, int64_t kc, const float *a, const float *b, float *c,
                             int64_t ldc, int n, const gemm_tile *t)
{
    const int64_t bs = IN_PLACE ? t->ldb_in_place : NR;
    __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    __m512 acc0[MR];
#pragma GCC unroll 14
    for (int i = 0; i < ROWS; i++) acc0[i] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; p++) {
        __m512 b0 = IN_PLACE ? _mm512_maskz_loadu_ps(k0, b) : _mm512_loadu_ps(b);
        _mm_prefetch((const char *)(b + (IN_PLACE ? NR : 8 * NR)), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + PREFETCH_A * MR), _MM_HINT_T0);
#pragma GCC unroll 14
        for (int i = 0; i < ROWS; i++) acc0[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), b0, acc0[i]);
        a += MR;
        b += bs;
    }
    store_tile(ROWS, acc0, acc0, c, ldc, n, k0, 0, t);
}

/* One row of A over a packed B panel (a GEMV: a CNN's classifier at batch 1, whose weights
 * stream from memory once): four independent sums over k, the panel fetched 4 KiB ahead. One
 * chain of dependent FMAs kept too few of the panel's loads in flight: 12 GB/s from memory. */
INLINE void kernel_row1(int64_t kc, const float *a, const float *b, float *c, int n, const gemm_tile *t)
{
    enum { AHEAD = 32 }; /* k steps: 32 x 128 bytes */
    __mmask16 k0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1);
    __mmask16 k1 = n >= 32 ? (__mmask16)0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1) : 0;
    __m512 s0[4], s1[4];
    for (int q = 0; q < 4; q++) s0[q] = s1[q] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            _mm_prefetch((const char *)(b + (AHEAD + q) * NR), _MM_HINT_T0);
            _mm_prefetch((const char *)(b + (AHEAD + q) * NR + 16), _MM_HINT_T0);
            __m512 ai = _mm512_set1_ps(a[q * MR]);
            s0[q] = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b + q * NR), s0[q]);
            s1[q] = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b + q * NR + 16), s1[q]);
        }
        a += 4 * MR;
        b += 4 * NR;
    }
    for (; p < kc; p++, a += MR, b += NR) {
        __m512 ai = _mm512_set1_ps(a[0]);
        s0[0] = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b), s0[0]);
        s1[0] = _mm512_fmadd_ps(ai, _mm512_loadu_ps(b + 16), s1[0]);
    }
    __m512 acc0 = _mm512_add_ps(_mm512_add_ps(s0[0], s0[1]), _mm512_add_ps(s0[2], s0[3]));
    __m512 acc1 = _mm512_add_ps(_mm512_add_ps(s1[0], s1[1]), _mm512_add_ps(s1[2], s1[3]));
    store_tile(1, &acc0, &acc1, c, 0, n, k0, k1, t);
}

#define ROWS_FN(R)                                                                                 \
    static void rows_##R(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,        \
                         int n, const gemm_tile *t)                                                \
    {                                                                                              \
        if (t->ldb_in_place) {                                                                     \
            if (n <= 16) kernel_rows_half(R, 1, kc, a, b, c, ldc, n, t);                           \
            else kernel_rows(R, 1, kc, a, b, c, ldc, n, t);                                        \
        } else if (n <= 16) {                                                                      \
            kernel_rows_half(R, 0, kc, a, b, c, ldc, n, t);                                        \
        } else {                                                                                   \
            kernel_rows(R, 0, kc, a, b, c, ldc, n, t);                                             \
        }                                                                                          \
    }
static void rows_1(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int n, const gemm_tile *t)
{
    if (t->ldb_in_place) {
        if (n <= 16) kernel_rows_half(1, 1, kc, a, b, c, ldc, n, t);
        else kernel_rows(1, 1, kc, a, b, c, ldc, n, t);
    } else {
        kernel_row1(kc, a, b, c, n, t);
    }
}
ROWS_FN(2) ROWS_FN(3) ROWS_FN(4) ROWS_FN(5) ROWS_FN(6) ROWS_FN(7)
ROWS_FN(8) ROWS_FN(9) ROWS_FN(10) ROWS_FN(11) ROWS_FN(12) ROWS_FN(13) ROWS_FN(14)

void gemm_f32_14x32__avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                            int m, int n, const gemm_tile *t)
{
    typedef void (*rows_fn)(int64_t, const float *, const float *, float *, int64_t, int,
                            const gemm_tile *);
    static const rows_fn by_rows[MR + 1] = {NULL,     rows_1,  rows_2,  rows_3,  rows_4,
                                            rows_5,   rows_6,  rows_7,  rows_8,  rows_9,
                                            rows_10,  rows_11, rows_12, rows_13, rows_14};
    if (m < 1 || m > MR || n < 1 || n > NR) return;
    by_rows[m](kc, a, b, c, ldc, n, t);
}
