/* kernels/fast_transformer_body.c — the transformer row kernels (LayerNorm, Softmax, Gelu,
 * broadcast binary ops, exp, flash-style attention) written once with GCC vector types of
 * TF_VW floats. Built alone it is the portable variant (4 lanes, "scalar" rows); the x86 files
 * transformer_f32_avx2.c / _avx512.c include it with TF_VW 8 / 16 under their ISA flags.
 *
 * Approximations (max error measured against double-precision libm in
 * tests/kernels/test_fast_transformer.c over the whole float range they accept):
 *   v_exp:  relative error <= 3e-7 for x in [-87.33, 88.72]; 0 below, +inf above, NaN kept.
 *   v_gelu: x/2 * erfc(-x/sqrt2) with Numerical Recipes' erfc fit (fractional error < 1.2e-7)
 *           on top of v_exp: relative error <= 1e-6 where |gelu(x)| >= 1e-30, absolute
 *           error <= 1e-30 below (x < -11, where gelu underflows). */
#include <math.h>
#include <string.h>

#include "kernels/fast_transformer.h"

/* a * b + c as one fused multiply-add where the ISA has it (ISO C mode turns contraction off). */
#pragma GCC optimize("fp-contract=fast")

#ifndef TF_VW
#define TF_VW 4
#define TF_ISA scalar
#endif

#define TF_STR2(x) #x
#define TF_STR(x) TF_STR2(x)
#define TF_CAT2(a, b) a##_##b
#define TF_CAT(a, b) TF_CAT2(a, b)
#define TF(name) TF_CAT(name, TF_ISA)
#define TF_INLINE static inline __attribute__((always_inline))

typedef float vf __attribute__((vector_size(TF_VW * 4)));
typedef int32_t vi __attribute__((vector_size(TF_VW * 4)));

TF_INLINE vf v_ld(const float *p)
{
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

TF_INLINE void v_st(float *p, vf v)
{
    memcpy(p, &v, sizeof v);
}

/* The first n (< TF_VW) floats of p, the rest zero; and the partial store. */
TF_INLINE vf v_ld_part(const float *p, int64_t n)
{
    vf v = {0};
    memcpy(&v, p, (size_t)n * sizeof(float));
    return v;
}

TF_INLINE void v_st_part(float *p, vf v, int64_t n)
{
    memcpy(p, &v, (size_t)n * sizeof(float));
}

TF_INLINE vf v_set(float s)
{
    vf v;
    for (int k = 0; k < TF_VW; k++) v[k] = s; /* a broadcast (0 + s would cost an add) */
    return v;
}

/* m ? a : b, lane by lane (m from a comparison: all ones or zero). */
TF_INLINE vf v_sel(vi m, vf a, vf b)
{
    return (vf)((m & (vi)a) | (~m & (vi)b));
}

TF_INLINE float v_hsum(vf v)
{
    float s = 0;
    for (int k = 0; k < TF_VW; k++) s += v[k];
    return s;
}

TF_INLINE float v_hmax(vf v)
{
    float m = v[0];
    for (int k = 1; k < TF_VW; k++) m = v[k] > m ? v[k] : m;
    return m;
}

#define EXP_LO (-87.33654f)
#define EXP_HI 88.72283f

/* e^x: x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), Taylor to r^7, times 2^n
 * as two exponent-field powers (so n = 128 and n = -126 stay exact). */
TF_INLINE vf v_exp(vf x)
{
    vi lo = x < v_set(EXP_LO), hi = x > v_set(EXP_HI);
    vf c = v_sel(lo, v_set(EXP_LO), v_sel(hi, v_set(EXP_HI), x));
    vf t = c * 1.44269504088896341f;
    vf n = (t + 12582912.0f) - 12582912.0f; /* round to nearest */
    n = v_sel(n == n, n, v_set(0.0f));      /* NaN: p carries it, keep the shifts defined */
    vf r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    vf p = v_set(1.0f / 5040);
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    vi ni = __builtin_convertvector(n, vi);
    vi h = ni >> 1, l = ni - h;
    vf y = p * (vf)((h + 127) << 23) * (vf)((l + 127) << 23);
    y = v_sel(lo, v_set(0.0f), y);
    return v_sel(hi, v_set(INFINITY), y);
}

/* erfc(|x| / sqrt 2) for ax = |x| (Numerical Recipes' erfcc: t exp(-z^2 + poly(t)), t = 1/(1 + z/2)).
 * The exponent -z^2 = -x^2/2 is large where erfc is small, and float rounding of it would cost
 * |x^2/2| * 6e-8 of relative error: x is split in two halves of 12 bits (x = xh + xl), so
 * xh^2/2 is exact and goes to its own exp, the small rest with the polynomial. */
TF_INLINE vf v_erfc_scaled(vf ax)
{
    vf z = ax * 0.70710678118654752f;
    vf t = 1.0f / (z * 0.5f + 1.0f);
    vf p = v_set(0.17087277f);
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    vi keep = {0};
    keep = keep + (int32_t)0xFFFFF000;
    vf xh = (vf)((vi)ax & keep), xl = ax - xh;
    vf hi = xh * xh * 0.5f, lo = xh * xl + xl * xl * 0.5f;
    return t * v_exp(p - lo) * v_exp(-hi);
}

/* x/2 * (1 + erf(x/sqrt2)) = x/2 * erfc(-x/sqrt2): erfc(|z|) for x < 0, 2 - erfc(|z|) else. */
TF_INLINE vf v_gelu(vf x)
{
    vi neg = x < v_set(0.0f);
    vf e = v_erfc_scaled(v_sel(neg, -x, x));
    vf f = v_sel(neg, e, 2.0f - e);
    return x * 0.5f * f;
}

/* ---- elementwise ------------------------------------------------------------------------- */

static void TF(exp_span)(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + TF_VW <= n; i += TF_VW) v_st(y + i, v_exp(v_ld(x + i)));
    if (i < n) v_st_part(y + i, v_exp(v_ld_part(x + i, n - i)), n - i);
}

static void TF(gelu_span)(const float *x, float *y, int64_t n)
{
    int64_t i = 0;
    for (; i + TF_VW <= n; i += TF_VW) v_st(y + i, v_gelu(v_ld(x + i)));
    if (i < n) v_st_part(y + i, v_gelu(v_ld_part(x + i, n - i)), n - i);
}

TF_INLINE vf v_binop(tf_binop op, vf a, vf b)
{
    switch (op) {
    case TF_ADD: return a + b;
    case TF_SUB: return a - b;
    case TF_MUL: return a * b;
    default: return a / b;
    }
}

TF_INLINE float s_binop(tf_binop op, float a, float b)
{
    switch (op) {
    case TF_ADD: return a + b;
    case TF_SUB: return a - b;
    case TF_MUL: return a * b;
    default: return a / b;
    }
}

/* One op, one stride pattern: the switch is hoisted out of the loop by the caller. */
#define BINARY_LOOP(OP, SA, SB)                                                               \
    do {                                                                                      \
        int64_t i = 0;                                                                        \
        vf va = v_set(a[0]), vb = v_set(b[0]);                                                \
        for (; i + TF_VW <= n; i += TF_VW) {                                                  \
            if (SA) va = v_ld(a + i);                                                         \
            if (SB) vb = v_ld(b + i);                                                         \
            v_st(y + i, v_binop(OP, va, vb));                                                 \
        }                                                                                     \
        for (; i < n; i++) y[i] = s_binop(OP, a[(SA) ? i : 0], b[(SB) ? i : 0]);              \
    } while (0)

#define BINARY_STRIDES(OP)                                                                    \
    do {                                                                                      \
        if (sa && sb) BINARY_LOOP(OP, 1, 1);                                                  \
        else if (sa) BINARY_LOOP(OP, 1, 0);                                                   \
        else if (sb) BINARY_LOOP(OP, 0, 1);                                                   \
        else BINARY_LOOP(OP, 0, 0);                                                           \
    } while (0)

static void TF(binary_span)(tf_binop op, const float *a, int64_t sa, const float *b, int64_t sb,
                            float *y, int64_t n)
{
    if (n <= 0) return;
    switch (op) {
    case TF_ADD: BINARY_STRIDES(TF_ADD); break;
    case TF_SUB: BINARY_STRIDES(TF_SUB); break;
    case TF_MUL: BINARY_STRIDES(TF_MUL); break;
    default: BINARY_STRIDES(TF_DIV); break;
    }
}

/* ---- LayerNormalization and Softmax over rows --------------------------------------------- */

static void TF(layernorm_rows)(const float *x, float *y, int64_t rows, int64_t D, const float *scale,
                               const float *bias, float eps, float *mean_out, float *inv_out)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        vf s0 = {0}, s1 = {0};
        int64_t i = 0;
        for (; i + 2 * TF_VW <= D; i += 2 * TF_VW) {
            s0 += v_ld(xr + i);
            s1 += v_ld(xr + i + TF_VW);
        }
        for (; i + TF_VW <= D; i += TF_VW) s0 += v_ld(xr + i);
        if (i < D) s1 += v_ld_part(xr + i, D - i);
        float mean = D > 0 ? v_hsum(s0 + s1) / (float)D : 0.0f;
        vf vm = v_set(mean), q0 = {0}, q1 = {0};
        for (i = 0; i + TF_VW <= D; i += TF_VW) {
            vf d = v_ld(xr + i) - vm;
            q0 += d * d;
        }
        float tail = 0.0f;
        for (; i < D; i++) tail += (xr[i] - mean) * (xr[i] - mean);
        float var = D > 0 ? (v_hsum(q0 + q1) + tail) / (float)D : 0.0f;
        float inv = 1.0f / sqrtf(var + eps);
        if (mean_out) mean_out[r] = mean;
        if (inv_out) inv_out[r] = inv;
        vf vi_ = v_set(inv);
        for (i = 0; i + TF_VW <= D; i += TF_VW) {
            vf v = (v_ld(xr + i) - vm) * vi_ * v_ld(scale + i);
            if (bias) v += v_ld(bias + i);
            v_st(yr + i, v);
        }
        for (; i < D; i++) yr[i] = (xr[i] - mean) * inv * scale[i] + (bias ? bias[i] : 0.0f);
    }
}

static void TF(softmax_rows)(const float *x, float *y, int64_t rows, int64_t D)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        if (D <= 0) continue;
        float mx = xr[0];
        vf vmx = v_set(mx);
        int64_t i = 0;
        for (; i + TF_VW <= D; i += TF_VW) {
            vf v = v_ld(xr + i);
            vmx = v_sel(v > vmx, v, vmx);
        }
        mx = v_hmax(vmx);
        for (; i < D; i++) mx = xr[i] > mx ? xr[i] : mx;
        if (isinf(mx)) mx = 0.0f; /* as the reference: all -inf rows give NaN, +inf gives inf/inf */
        vf vm = v_set(mx), vs = {0};
        for (i = 0; i + TF_VW <= D; i += TF_VW) {
            vf e = v_exp(v_ld(xr + i) - vm);
            vs += e;
            v_st(yr + i, e);
        }
        float sum = v_hsum(vs);
        if (i < D) {
            vf e = v_exp(v_ld_part(xr + i, D - i) - vm);
            for (int64_t k = 0; k < D - i; k++) sum += e[k];
            v_st_part(yr + i, e, D - i);
        }
        float inv = 1.0f / sum;
        vf vinv = v_set(inv);
        for (i = 0; i + TF_VW <= D; i += TF_VW) v_st(yr + i, v_ld(yr + i) * vinv);
        for (; i < D; i++) yr[i] *= inv;
    }
}

/* ---- attention: one query block of one head, key tiles with an online softmax -------------- */

/* s[r][0..ktp) = row q[r] . K tile^T for the TF_ATTN_ROWS rows q[] (rows may repeat), the K
 * tile laid out [d][TF_ATTN_KT] with columns past the keys zero; ktp a multiple of TF_VW; s[r]
 * rows TF_ATTN_KT apart. The rows share every K load (4 rows x 2 vectors in registers). */
TF_INLINE void attn_scores(const float *const *q, const float *kt, int64_t d, int64_t ktp, float *s)
{
    int64_t c = 0;
    for (; c + 2 * TF_VW <= ktp; c += 2 * TF_VW) {
        vf a0 = {0}, a1 = {0}, b0 = {0}, b1 = {0}, c0 = {0}, c1 = {0}, d0 = {0}, d1 = {0};
        const float *kp = kt + c;
        for (int64_t e = 0; e < d; e++, kp += TF_ATTN_KT) {
            vf k0 = v_ld(kp), k1 = v_ld(kp + TF_VW);
            vf x = v_set(q[0][e]), y = v_set(q[1][e]), z = v_set(q[2][e]), w = v_set(q[3][e]);
            a0 += x * k0, a1 += x * k1;
            b0 += y * k0, b1 += y * k1;
            c0 += z * k0, c1 += z * k1;
            d0 += w * k0, d1 += w * k1;
        }
        v_st(s + c, a0), v_st(s + c + TF_VW, a1);
        v_st(s + TF_ATTN_KT + c, b0), v_st(s + TF_ATTN_KT + c + TF_VW, b1);
        v_st(s + 2 * TF_ATTN_KT + c, c0), v_st(s + 2 * TF_ATTN_KT + c + TF_VW, c1);
        v_st(s + 3 * TF_ATTN_KT + c, d0), v_st(s + 3 * TF_ATTN_KT + c + TF_VW, d1);
    }
    for (; c < ktp; c += TF_VW) {
        vf a0 = {0}, b0 = {0}, c0 = {0}, d0 = {0};
        const float *kp = kt + c;
        for (int64_t e = 0; e < d; e++, kp += TF_ATTN_KT) {
            vf k0 = v_ld(kp);
            a0 += v_set(q[0][e]) * k0;
            b0 += v_set(q[1][e]) * k0;
            c0 += v_set(q[2][e]) * k0;
            d0 += v_set(q[3][e]) * k0;
        }
        v_st(s + c, a0);
        v_st(s + TF_ATTN_KT + c, b0);
        v_st(s + 2 * TF_ATTN_KT + c, c0);
        v_st(s + 3 * TF_ATTN_KT + c, d0);
    }
}

/* Scales and masks the scores s of query row qi, turns them into exp(s - m_new) (zero past nk)
 * and updates the running max *m and sum *l; returns the factor the row's output so far must
 * be multiplied by. A row with nothing but -inf so far gets zero probabilities and factor 1. */
TF_INLINE float attn_softmax_update(const tf_attn_head *h, int64_t qi, int64_t j0, float *s, int64_t nk,
                                    int64_t nkp, float *m, float *l)
{
    vf vscale = v_set(h->scale);
    for (int64_t c = 0; c < nkp; c += TF_VW) v_st(s + c, v_ld(s + c) * vscale);
    if (h->mask) {
        const float *mp = h->mask + qi * h->ms_row + j0 * h->ms_col;
        for (int64_t j = 0; j < nk; j++) s[j] += mp[j * h->ms_col];
    }
    for (int64_t j = nk; j < nkp; j++) s[j] = -INFINITY;
    vf vmx = v_ld(s);
    for (int64_t c = TF_VW; c < nkp; c += TF_VW) {
        vf x = v_ld(s + c);
        vmx = v_sel(x > vmx, x, vmx);
    }
    float mx = v_hmax(vmx);
    float m_new = mx > *m ? mx : *m;
    if (m_new == -INFINITY) {
        memset(s, 0, (size_t)nkp * sizeof *s);
        return 1.0f;
    }
    float corr = *m == -INFINITY ? 0.0f : expf(*m - m_new);
    vf vm = v_set(m_new), vsum = {0};
    for (int64_t c = 0; c < nkp; c += TF_VW) {
        vf e = v_exp(v_ld(s + c) - vm);
        vsum += e;
        v_st(s + c, e);
    }
    *l = *l * corr + v_hsum(vsum);
    *m = m_new;
    return corr;
}

/* o[r][0..dv) = o[r] * corr[r] + sum_j p[r][j] V[j] for the TF_ATTN_ROWS rows (a repeated row
 * comes with the same o, p and corr, so its copies compute the same values). */
TF_INLINE void attn_accumulate(float *const *o, const float *corr, const float *const *p, int64_t kt,
                               const float *v, int64_t dv)
{
    vf vc0 = v_set(corr[0]), vc1 = v_set(corr[1]), vc2 = v_set(corr[2]), vc3 = v_set(corr[3]);
    int64_t c = 0;
    for (; c + 2 * TF_VW <= dv; c += 2 * TF_VW) {
        vf a0 = v_ld(o[0] + c) * vc0, a1 = v_ld(o[0] + c + TF_VW) * vc0;
        vf b0 = v_ld(o[1] + c) * vc1, b1 = v_ld(o[1] + c + TF_VW) * vc1;
        vf c0 = v_ld(o[2] + c) * vc2, c1 = v_ld(o[2] + c + TF_VW) * vc2;
        vf d0 = v_ld(o[3] + c) * vc3, d1 = v_ld(o[3] + c + TF_VW) * vc3;
        const float *vp = v + c;
        for (int64_t j = 0; j < kt; j++, vp += dv) {
            vf v0 = v_ld(vp), v1 = v_ld(vp + TF_VW);
            vf x = v_set(p[0][j]), y = v_set(p[1][j]), z = v_set(p[2][j]), w = v_set(p[3][j]);
            a0 += x * v0, a1 += x * v1;
            b0 += y * v0, b1 += y * v1;
            c0 += z * v0, c1 += z * v1;
            d0 += w * v0, d1 += w * v1;
        }
        v_st(o[3] + c, d0), v_st(o[3] + c + TF_VW, d1);
        v_st(o[2] + c, c0), v_st(o[2] + c + TF_VW, c1);
        v_st(o[1] + c, b0), v_st(o[1] + c + TF_VW, b1);
        v_st(o[0] + c, a0), v_st(o[0] + c + TF_VW, a1);
    }
    for (; c + TF_VW <= dv; c += TF_VW) {
        vf a0 = v_ld(o[0] + c) * vc0, b0 = v_ld(o[1] + c) * vc1;
        vf c0 = v_ld(o[2] + c) * vc2, d0 = v_ld(o[3] + c) * vc3;
        const float *vp = v + c;
        for (int64_t j = 0; j < kt; j++, vp += dv) {
            vf v0 = v_ld(vp);
            a0 += v_set(p[0][j]) * v0;
            b0 += v_set(p[1][j]) * v0;
            c0 += v_set(p[2][j]) * v0;
            d0 += v_set(p[3][j]) * v0;
        }
        v_st(o[3] + c, d0);
        v_st(o[2] + c, c0);
        v_st(o[1] + c, b0);
        v_st(o[0] + c, a0);
    }
    for (; c < dv; c++) {
        float r[TF_ATTN_ROWS];
        for (int k = 0; k < TF_ATTN_ROWS; k++) {
            r[k] = o[k][c] * corr[k];
            for (int64_t j = 0; j < kt; j++) r[k] += p[k][j] * v[j * dv + c];
        }
        for (int k = TF_ATTN_ROWS - 1; k >= 0; k--) o[k][c] = r[k];
    }
}

static void TF(attention_block)(const tf_attn_head *h, float *scratch)
{
    const int64_t D = h->d, Dv = h->dv, nq = h->q_end - h->q_begin;
    float *kt = scratch;                               /* [D][KT] */
    float *s = kt + D * TF_ATTN_KT;                    /* [ROWS][KT] scores, then probabilities */
    float *m = s + TF_ATTN_ROWS * TF_ATTN_KT;          /* [QB] running max */
    float *l = m + TF_ATTN_QB;                         /* [QB] running sum */
    float *o = l + TF_ATTN_QB;                         /* [QB][Dv] */
    float *vt = o + TF_ATTN_QB * Dv;                   /* [KT][Dv] */
    for (int64_t i = 0; i < nq; i++) {
        m[i] = -INFINITY;
        l[i] = 0.0f;
        memset(o + i * Dv, 0, (size_t)Dv * sizeof *o);
    }
    for (int64_t j0 = 0; j0 < h->sk; j0 += TF_ATTN_KT) {
        int64_t nk = h->sk - j0 < TF_ATTN_KT ? h->sk - j0 : TF_ATTN_KT;
        int64_t nkp = (nk + TF_VW - 1) / TF_VW * TF_VW;
        /* the K tile transposed: kt[e][j] = K[j0 + j][e] */
        if (h->k_trans) {
            for (int64_t e = 0; e < D; e++)
                memcpy(kt + e * TF_ATTN_KT, h->k + e * h->ks + j0, (size_t)nk * sizeof *kt);
        } else {
            for (int64_t j = 0; j < nk; j++) {
                const float *kp = h->k + (j0 + j) * h->ks;
                for (int64_t e = 0; e < D; e++) kt[e * TF_ATTN_KT + j] = kp[e];
            }
        }
        for (int64_t e = 0; e < D; e++)
            for (int64_t j = nk; j < nkp; j++) kt[e * TF_ATTN_KT + j] = 0.0f;
        /* the V tile packed contiguous (source rows are often far apart: [B,S,H,D] strides
         * map them onto a few L1 sets) */
        for (int64_t j = 0; j < nk; j++) memcpy(vt + j * Dv, h->v + (j0 + j) * h->vs, (size_t)Dv * sizeof *vt);
        for (int64_t i = 0; i < nq; i += TF_ATTN_ROWS) {
            /* rows past the block repeat the last row: same q, o, p and corr as the original */
            const float *qr[TF_ATTN_ROWS], *pr[TF_ATTN_ROWS];
            float *orow[TF_ATTN_ROWS], corr[TF_ATTN_ROWS];
            int64_t row[TF_ATTN_ROWS];
            for (int k = 0; k < TF_ATTN_ROWS; k++) {
                row[k] = i + k < nq ? i + k : nq - 1;
                qr[k] = h->q + (h->q_begin + row[k]) * h->qs;
                orow[k] = o + row[k] * Dv;
            }
            attn_scores(qr, kt, D, nkp, s);
            for (int k = 0; k < TF_ATTN_ROWS; k++) {
                if (k > 0 && row[k] == row[k - 1]) {
                    pr[k] = pr[k - 1];
                    corr[k] = corr[k - 1];
                    continue;
                }
                float *sk = s + k * TF_ATTN_KT;
                corr[k] = attn_softmax_update(h, h->q_begin + row[k], j0, sk, nk, nkp, m + row[k], l + row[k]);
                pr[k] = sk;
            }
            attn_accumulate(orow, corr, pr, nk, vt, Dv);
        }
    }
    for (int64_t i = 0; i < nq; i++) {
        float *yr = h->y + (h->q_begin + i) * h->ys;
        float inv = 1.0f / l[i];
        for (int64_t c = 0; c < Dv; c++) yr[c] = o[i * Dv + c] * inv;
    }
}

const tf_ops TF(fast_transformer_ops) = {
    TF_STR(TF_ISA),
    TF(layernorm_rows),
    TF(softmax_rows),
    TF(gelu_span),
    TF(binary_span),
    TF(exp_span),
    TF(attention_block),
};
