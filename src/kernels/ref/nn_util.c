/* kernels/ref/nn_util.c — helpers shared by the nn family of reference ops: sliding-window
 * geometry (kernel, strides, dilations, pads, auto_pad), float/double staging of tensors of any
 * float dtype, and the plain blocked f32 GEMM under Conv, Gemm and MatMul. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

strata_status nn_util_oom(const op_node *n)
{
    return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
}

int64_t nn_util_numel(const strata_tensor *t)
{
    return t ? shape_numel(t->rank, t->dims) : 0;
}

double nn_util_rint(double x)
{
    return nearbyint(x); /* default rounding mode: to nearest, ties to even */
}

int64_t nn_util_saturate(double q, int64_t lo, int64_t hi)
{
    return isnan(q) ? 0 : q < (double)lo ? lo : q > (double)hi ? hi : (int64_t)q;
}

bool nn_util_int_range(strata_dtype t, int64_t *lo, int64_t *hi)
{
    switch (t) {
    case STRATA_DTYPE_U8: *lo = 0; *hi = 255; return true;
    case STRATA_DTYPE_I8: *lo = -128; *hi = 127; return true;
    case STRATA_DTYPE_U16: *lo = 0; *hi = 65535; return true;
    case STRATA_DTYPE_I16: *lo = -32768; *hi = 32767; return true;
    case STRATA_DTYPE_I32: *lo = INT32_MIN; *hi = INT32_MAX; return true;
    case STRATA_DTYPE_U32: *lo = 0; *hi = UINT32_MAX; return true;
    default: return false;
    }
}

strata_status nn_util_window(const op_node *n, int n_sp, const int64_t *in_sp,
                             const int64_t *kernel, bool ceil_mode, nn_window *w)
{
    size_t nk = 0, ns = 0, nd = 0, np = 0;
    const int64_t *ks = op_attr_ints(n, "kernel_shape", &nk);
    const int64_t *ss = op_attr_ints(n, "strides", &ns);
    const int64_t *ds = op_attr_ints(n, "dilations", &nd);
    const int64_t *ps = op_attr_ints(n, "pads", &np);
    const char *auto_pad = op_attr_string(n, "auto_pad", "NOTSET");
    if (n_sp < 1 || n_sp > NN_MAX_SPATIAL)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input has %d spatial dims; need 1 to %d",
                        n_sp, NN_MAX_SPATIAL);
    if (!kernel && !ks) return op_error(n, STRATA_INVALID_MODEL, "missing 'kernel_shape'");
    if (!kernel && nk != (size_t)n_sp)
        return op_error(n, STRATA_INVALID_MODEL, "'kernel_shape' has %zu entries for %d spatial dims",
                        nk, n_sp);
    if (ss && ns != (size_t)n_sp)
        return op_error(n, STRATA_INVALID_MODEL, "'strides' has %zu entries for %d spatial dims",
                        ns, n_sp);
    if (ds && nd != (size_t)n_sp)
        return op_error(n, STRATA_INVALID_MODEL, "'dilations' has %zu entries for %d spatial dims",
                        nd, n_sp);
    if (ps && np != 2 * (size_t)n_sp)
        return op_error(n, STRATA_INVALID_MODEL, "'pads' has %zu entries for %d spatial dims", np,
                        n_sp);
    bool same_upper = strcmp(auto_pad, "SAME_UPPER") == 0;
    bool same_lower = strcmp(auto_pad, "SAME_LOWER") == 0;
    bool valid = strcmp(auto_pad, "VALID") == 0;
    if (!same_upper && !same_lower && !valid && strcmp(auto_pad, "NOTSET") != 0)
        return op_error(n, STRATA_INVALID_MODEL, "unknown auto_pad '%s'", auto_pad);
    memset(w, 0, sizeof *w);
    w->n_sp = n_sp;
    for (int i = 0; i < n_sp; i++) {
        w->in[i] = in_sp[i];
        w->k[i] = kernel ? kernel[i] : ks[i];
        w->s[i] = ss ? ss[i] : 1;
        w->d[i] = ds ? ds[i] : 1;
        w->pb[i] = ps && !same_upper && !same_lower && !valid ? ps[i] : 0;
        w->pe[i] = ps && !same_upper && !same_lower && !valid ? ps[i + n_sp] : 0;
        if (w->k[i] < 1 || w->s[i] < 1 || w->d[i] < 1 || w->pb[i] < 0 || w->pe[i] < 0 ||
            w->k[i] > (1 << 24) || w->s[i] > (1 << 24) || w->d[i] > (1 << 24) ||
            w->pb[i] > (1 << 24) || w->pe[i] > (1 << 24))
            return op_error(n, STRATA_INVALID_MODEL,
                            "spatial dim %d: bad kernel %lld / stride %lld / dilation %lld / pads "
                            "%lld,%lld",
                            i, (long long)w->k[i], (long long)w->s[i], (long long)w->d[i],
                            (long long)w->pb[i], (long long)w->pe[i]);
        int64_t dk = (w->k[i] - 1) * w->d[i] + 1;
        if (w->in[i] < 0) {
            w->out[i] = -1;
            continue;
        }
        if (same_upper || same_lower) {
            w->out[i] = (w->in[i] + w->s[i] - 1) / w->s[i];
            int64_t total = (w->out[i] - 1) * w->s[i] + dk - w->in[i];
            if (total < 0) total = 0;
            w->pb[i] = same_upper ? total / 2 : total - total / 2;
            w->pe[i] = total - w->pb[i];
            continue;
        }
        int64_t span = w->in[i] + w->pb[i] + w->pe[i] - dk;
        if (span < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "spatial dim %d: input extent %lld (padded %lld) is smaller than the "
                            "dilated kernel %lld",
                            i, (long long)w->in[i], (long long)(w->in[i] + w->pb[i] + w->pe[i]),
                            (long long)dk);
        if (ceil_mode) {
            w->out[i] = (span + w->s[i] - 1) / w->s[i] + 1;
            /* the last window must start inside the input or the leading padding */
            if ((w->out[i] - 1) * w->s[i] >= w->in[i] + w->pb[i]) w->out[i]--;
        } else {
            w->out[i] = span / w->s[i] + 1;
        }
    }
    /* bound the work of one window walk: kernel taps times output positions */
    double taps = 1, outs = 1;
    for (int i = 0; i < n_sp; i++) {
        taps *= (double)w->k[i];
        outs *= w->out[i] > 0 ? (double)w->out[i] : 1.0;
    }
    if (taps * outs > 1e13)
        return op_error(n, STRATA_UNSUPPORTED, "window of %.3g taps over %.3g outputs is too large",
                        taps, outs);
    return STRATA_OK;
}

strata_status nn_util_need_float(const op_node *n, const strata_tensor *t, const char *what)
{
    if (t && dtype_is_float(t->dtype)) return STRATA_OK;
    return op_error(n, STRATA_UNSUPPORTED, "%s has type %s; this op needs a float type", what,
                    t ? strata_dtype_name(t->dtype) : "(missing)");
}

const float *nn_util_f32_in(const strata_tensor *t, float **tmp)
{
    *tmp = NULL;
    if (t->dtype == STRATA_DTYPE_F32) return (const float *)t->data;
    int64_t n = nn_util_numel(t);
    float *p = mem_alloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) return NULL;
    for (int64_t i = 0; i < n; i++) p[i] = (float)tensor_get_f64(t, i);
    *tmp = p;
    return p;
}

float *nn_util_f32_out(strata_tensor *t, float **tmp)
{
    *tmp = NULL;
    if (t->dtype == STRATA_DTYPE_F32) return (float *)t->data;
    int64_t n = nn_util_numel(t);
    float *p = mem_calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    *tmp = p;
    return p;
}

void nn_util_f32_store(strata_tensor *t, const float *src)
{
    if ((const void *)src == t->data) return;
    int64_t n = nn_util_numel(t);
    for (int64_t i = 0; i < n; i++) tensor_set_f64(t, i, src[i]);
}

double *nn_util_f64_load(const strata_tensor *t)
{
    if (!t) return NULL;
    int64_t n = nn_util_numel(t);
    double *p = mem_alloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) return NULL;
    if (t->dtype == STRATA_DTYPE_F32) {
        const float *s = t->data;
        for (int64_t i = 0; i < n; i++) p[i] = s[i];
    } else {
        for (int64_t i = 0; i < n; i++) p[i] = tensor_get_f64(t, i);
    }
    return p;
}

void nn_util_f64_store(strata_tensor *t, const double *src)
{
    int64_t n = nn_util_numel(t);
    if (t->dtype == STRATA_DTYPE_F32) {
        float *d = t->data;
        for (int64_t i = 0; i < n; i++) d[i] = (float)src[i];
        return;
    }
    for (int64_t i = 0; i < n; i++) tensor_set_f64(t, i, src[i]);
}

/* ---- gemm ------------------------------------------------------------------------------------ */

#define GEMM_NB 256 /* columns of C per block: a C row block stays in L1 */
#define GEMM_KB 128 /* depth per block: the B block (KB x NB) stays in L2 */

/* C rows m0..m0+3 (+)= a-scalars times the B block; the inner loop is contiguous over j. */
static void gemm_block(int64_t M, int64_t nb, int64_t k0, int64_t kb, float alpha,
                       const float *A, int64_t lda, bool trans_a, const float *B, int64_t ldb,
                       float *C, int64_t ldc)
{
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) {
        float *c0 = C + m * ldc, *c1 = c0 + ldc, *c2 = c1 + ldc, *c3 = c2 + ldc;
        for (int64_t k = k0; k < k0 + kb; k++) {
            float a0, a1, a2, a3;
            if (trans_a) {
                const float *ak = A + k * lda + m;
                a0 = ak[0], a1 = ak[1], a2 = ak[2], a3 = ak[3];
            } else {
                a0 = A[m * lda + k], a1 = A[(m + 1) * lda + k], a2 = A[(m + 2) * lda + k],
                a3 = A[(m + 3) * lda + k];
            }
            a0 *= alpha, a1 *= alpha, a2 *= alpha, a3 *= alpha;
            const float *b = B + k * ldb;
            for (int64_t j = 0; j < nb; j++) {
                float bj = b[j];
                c0[j] += a0 * bj;
                c1[j] += a1 * bj;
                c2[j] += a2 * bj;
                c3[j] += a3 * bj;
            }
        }
    }
    for (; m < M; m++) {
        float *c0 = C + m * ldc;
        for (int64_t k = k0; k < k0 + kb; k++) {
            float a0 = alpha * (trans_a ? A[k * lda + m] : A[m * lda + k]);
            const float *b = B + k * ldb;
            for (int64_t j = 0; j < nb; j++) c0[j] += a0 * b[j];
        }
    }
}

bool nn_util_gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                      bool trans_a, const float *B, int64_t ldb, bool trans_b, float *C,
                      int64_t ldc)
{
    float *bt = NULL;
    if (M <= 0 || N <= 0 || K <= 0) return true;
    if (trans_b) { /* make B row-major K x N */
        bt = mem_alloc((size_t)K * (size_t)N * sizeof *bt);
        if (!bt) return false;
        for (int64_t j = 0; j < N; j++)
            for (int64_t k = 0; k < K; k++) bt[k * N + j] = B[j * ldb + k];
        B = bt;
        ldb = N;
    }
    for (int64_t j0 = 0; j0 < N; j0 += GEMM_NB) {
        int64_t nb = N - j0 < GEMM_NB ? N - j0 : GEMM_NB;
        for (int64_t k0 = 0; k0 < K; k0 += GEMM_KB) {
            int64_t kb = K - k0 < GEMM_KB ? K - k0 : GEMM_KB;
            gemm_block(M, nb, k0, kb, alpha, A, lda, trans_a, B + j0, ldb, C + j0, ldc);
        }
    }
    mem_free(bt);
    return true;
}

void nn_util_gemm_f64(int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                      int64_t lda, bool trans_a, const double *B, int64_t ldb, bool trans_b,
                      double *C, int64_t ldc)
{
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
            double a = alpha * (trans_a ? A[k * lda + m] : A[m * lda + k]);
            double *c = C + m * ldc;
            if (trans_b)
                for (int64_t j = 0; j < N; j++) c[j] += a * B[j * ldb + k];
            else
                for (int64_t j = 0; j < N; j++) c[j] += a * B[k * ldb + j];
        }
}
