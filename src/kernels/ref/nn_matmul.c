/* kernels/ref/nn_matmul.c — reference Gemm, MatMul (numpy batch broadcasting, 1-D operands),
 * MatMulInteger and QLinearMatMul. f32 runs on the blocked GEMM of nn_util.c; other float and
 * integer types run in double; the integer ops accumulate in int64. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

static bool gemm_type_ok(strata_dtype t)
{
    return dtype_is_float(t) || t == STRATA_DTYPE_I32 || t == STRATA_DTYPE_I64 ||
           t == STRATA_DTYPE_U32 || t == STRATA_DTYPE_U64;
}

/* ---- Gemm -------------------------------------------------------------------------------------- */

strata_status nn_matmul_gemm_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    const strata_tensor *a = op_input(n, in, 0), *b = op_input(n, in, 1), *c = op_input(n, in, 2);
    if (!a || !b) return op_error(n, STRATA_INVALID_MODEL, "needs inputs A and B");
    if (a->rank != 2 || b->rank != 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "A and B must be 2-D (ranks %d and %d)",
                        a->rank, b->rank);
    if (!gemm_type_ok(a->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "type %s", strata_dtype_name(a->dtype));
    if (b->dtype != a->dtype || (c && c->dtype != a->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "A, B and C types differ");
    bool ta = op_attr_int(n, "transA", 0) != 0, tb = op_attr_int(n, "transB", 0) != 0;
    int64_t M = a->dims[ta ? 1 : 0], K = a->dims[ta ? 0 : 1];
    int64_t K2 = b->dims[tb ? 1 : 0], N = b->dims[tb ? 0 : 1];
    if (K >= 0 && K2 >= 0 && K != K2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "inner dims differ: A gives %lld, B gives %lld",
                        (long long)K, (long long)K2);
    int64_t dims[2] = {M, N};
    if (c) {
        if (c->rank > 2)
            return op_error(n, STRATA_INVALID_ARGUMENT, "C has rank %d", c->rank);
        for (int i = 0; i < c->rank; i++) {
            int64_t cd = c->dims[i], od = dims[2 - c->rank + i];
            if (cd >= 0 && od >= 0 && cd != 1 && cd != od)
                return op_error(n, STRATA_INVALID_ARGUMENT,
                                "C dim %d (%lld) does not broadcast to %lld", i, (long long)cd,
                                (long long)od);
        }
    }
    return tensor_set_shape(out[0], a->dtype, 2, dims);
}

strata_status nn_matmul_gemm_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    const strata_tensor *a = op_input(n, in, 0), *b = op_input(n, in, 1), *c = op_input(n, in, 2);
    bool ta = op_attr_int(n, "transA", 0) != 0, tb = op_attr_int(n, "transB", 0) != 0;
    double alpha = op_attr_float(n, "alpha", 1.0f), beta = op_attr_float(n, "beta", 1.0f);
    int64_t M = out[0]->dims[0], N = out[0]->dims[1], K = a->dims[ta ? 0 : 1];
    int64_t cs[2] = {0, 0};
    if (c) shape_broadcast_strides(c->rank, c->dims, 2, cs);
    if (a->dtype == STRATA_DTYPE_F32) {
        float *y = out[0]->data;
        const float *cf = c ? c->data : NULL;
        if (cf && beta != 0.0)
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++)
                    y[i * N + j] = (float)beta * cf[i * cs[0] + j * cs[1]];
        if (!nn_util_gemm_f32(M, N, K, (float)alpha, a->data, a->dims[1], ta, b->data,
                              b->dims[1], tb, y, N))
            return nn_util_oom(n);
        return STRATA_OK;
    }
    double *ad = nn_util_f64_load(a), *bd = nn_util_f64_load(b), *cd = nn_util_f64_load(c);
    double *y = mem_calloc((size_t)(M * N > 0 ? M * N : 1), sizeof *y);
    strata_status st = STRATA_OK;
    if (!ad || !bd || (c && !cd) || !y) {
        st = nn_util_oom(n);
        goto done;
    }
    if (cd && beta != 0.0)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) y[i * N + j] = beta * cd[i * cs[0] + j * cs[1]];
    nn_util_gemm_f64(M, N, K, alpha, ad, a->dims[1], ta, bd, b->dims[1], tb, y, N);
    nn_util_f64_store(out[0], y);
done:
    mem_free(ad);
    mem_free(bd);
    mem_free(cd);
    mem_free(y);
    return st;
}

/* ---- batched matmul geometry ------------------------------------------------------------------- */

typedef struct mm_geom {
    int64_t M, N, K;                        /* per-matrix sizes */
    int batch_rank;                         /* broadcast batch dims */
    int64_t batch[STRATA_MAX_DIMS];         /* broadcast batch extents */
    int64_t a_str[STRATA_MAX_DIMS];         /* A's matrix-index stride per batch dim (0: bcast) */
    int64_t b_str[STRATA_MAX_DIMS];         /* B's matrix-index stride per batch dim */
    int64_t n_batch;                        /* product of batch (-1 unknown) */
    int out_rank;                           /* rank of the result */
    int64_t out_dims[STRATA_MAX_DIMS];      /* shape of the result */
} mm_geom;

static strata_status mm_geometry(const op_node *n, const strata_tensor *a, const strata_tensor *b,
                                 mm_geom *g)
{
    if (!a || !b) return op_error(n, STRATA_INVALID_MODEL, "needs inputs A and B");
    if (a->rank < 1 || b->rank < 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "A and B must have rank >= 1 (got %d, %d)",
                        a->rank, b->rank);
    int64_t ad[STRATA_MAX_DIMS + 1], bd[STRATA_MAX_DIMS + 1];
    int ar = a->rank, br = b->rank;
    memcpy(ad, a->dims, (size_t)ar * sizeof *ad);
    memcpy(bd, b->dims, (size_t)br * sizeof *bd);
    if (ar == 1) { /* [K] -> [1, K] */
        ad[1] = ad[0];
        ad[0] = 1;
        ar = 2;
    }
    if (br == 1) { /* [K] -> [K, 1] */
        bd[1] = 1;
        br = 2;
    }
    g->M = ad[ar - 2];
    g->K = ad[ar - 1];
    g->N = bd[br - 1];
    if (g->K >= 0 && bd[br - 2] >= 0 && g->K != bd[br - 2]) {
        char s1[128], s2[128];
        return op_error(n, STRATA_INVALID_ARGUMENT, "shapes %s and %s: inner dims differ",
                        shape_describe(a->rank, a->dims, s1, sizeof s1),
                        shape_describe(b->rank, b->dims, s2, sizeof s2));
    }
    strata_status st = shape_broadcast(ar - 2, ad, br - 2, bd, &g->batch_rank, g->batch);
    if (st) return op_error(n, STRATA_INVALID_ARGUMENT, "batch dims do not broadcast");
    shape_broadcast_strides(ar - 2, ad, g->batch_rank, g->a_str);
    shape_broadcast_strides(br - 2, bd, g->batch_rank, g->b_str);
    g->n_batch = shape_numel(g->batch_rank, g->batch);
    g->out_rank = g->batch_rank;
    memcpy(g->out_dims, g->batch, (size_t)g->batch_rank * sizeof *g->batch);
    if (a->rank > 1) g->out_dims[g->out_rank++] = g->M;
    if (b->rank > 1) g->out_dims[g->out_rank++] = g->N;
    if (g->out_rank > STRATA_MAX_DIMS)
        return op_error(n, STRATA_INVALID_ARGUMENT, "result rank exceeds %d", STRATA_MAX_DIMS);
    return STRATA_OK;
}

/* Offsets (in matrices) of A and B for flat batch index bi. */
static void mm_offsets(const mm_geom *g, int64_t bi, int64_t *ao, int64_t *bo)
{
    int64_t oa = 0, ob = 0;
    for (int i = g->batch_rank - 1; i >= 0; i--) {
        int64_t idx = bi % g->batch[i];
        bi /= g->batch[i];
        oa += idx * g->a_str[i];
        ob += idx * g->b_str[i];
    }
    *ao = oa;
    *bo = ob;
}

strata_status nn_matmul_infer(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    const strata_tensor *a = op_input(n, in, 0), *b = op_input(n, in, 1);
    mm_geom g;
    strata_status st = mm_geometry(n, a, b, &g);
    if (st) return st;
    if (!gemm_type_ok(a->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "type %s", strata_dtype_name(a->dtype));
    if (b->dtype != a->dtype) return op_error(n, STRATA_INVALID_ARGUMENT, "A and B types differ");
    return tensor_set_shape(out[0], a->dtype, g.out_rank, g.out_dims);
}

strata_status nn_matmul_compute(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    const strata_tensor *a = op_input(n, in, 0), *b = op_input(n, in, 1);
    mm_geom g;
    strata_status st = mm_geometry(n, a, b, &g);
    if (st) return st;
    int64_t M = g.M, N = g.N, K = g.K;
    if (a->dtype == STRATA_DTYPE_F32) {
        const float *af = a->data, *bf = b->data;
        float *y = out[0]->data;
        for (int64_t bi = 0; bi < g.n_batch; bi++) {
            int64_t ao, bo;
            mm_offsets(&g, bi, &ao, &bo);
            if (!nn_util_gemm_f32(M, N, K, 1.0f, af + ao * M * K, K, false, bf + bo * K * N, N,
                                  false, y + bi * M * N, N))
                return nn_util_oom(n);
        }
        return STRATA_OK;
    }
    double *ad = nn_util_f64_load(a), *bd = nn_util_f64_load(b);
    int64_t ny = nn_util_numel(out[0]);
    double *y = mem_calloc((size_t)(ny > 0 ? ny : 1), sizeof *y);
    if (!ad || !bd || !y) {
        st = nn_util_oom(n);
    } else {
        for (int64_t bi = 0; bi < g.n_batch; bi++) {
            int64_t ao, bo;
            mm_offsets(&g, bi, &ao, &bo);
            nn_util_gemm_f64(M, N, K, 1.0, ad + ao * M * K, K, false, bd + bo * K * N, N, false,
                             y + bi * M * N, N);
        }
        nn_util_f64_store(out[0], y);
    }
    mem_free(ad);
    mem_free(bd);
    mem_free(y);
    return st;
}

/* ---- integer matmuls ---------------------------------------------------------------------------- */

static bool is_q8(strata_dtype t)
{
    return t == STRATA_DTYPE_U8 || t == STRATA_DTYPE_I8;
}

/* Per-row (of A: count M) or per-column (of B: count N) parameter index, or per tensor. */
static strata_status check_param(const op_node *n, const strata_tensor *p, int64_t count,
                                 const char *what)
{
    if (!p) return STRATA_OK;
    int64_t k = nn_util_numel(p);
    if (k != 1 && k != count)
        return op_error(n, STRATA_UNSUPPORTED, "%s has %lld elements; supported: 1 or %lld", what,
                        (long long)k, (long long)count);
    return STRATA_OK;
}

static double param_at(const strata_tensor *p, int64_t i)
{
    if (!p) return 0;
    return tensor_get_f64(p, nn_util_numel(p) == 1 ? 0 : i);
}

/* acc (int64, shape of the result) = (A - a_zp) x (B - b_zp); a_zp per row, b_zp per column. */
static strata_status mm_integer(const op_node *n, const strata_tensor *a, const strata_tensor *azp,
                                const strata_tensor *b, const strata_tensor *bzp, mm_geom *g,
                                int64_t **acc_out)
{
    *acc_out = NULL;
    strata_status st = mm_geometry(n, a, b, g);
    if (st) return st;
    if ((st = check_param(n, azp, g->M, "a_zero_point"))) return st;
    if ((st = check_param(n, bzp, g->N, "b_zero_point"))) return st;
    int64_t na = nn_util_numel(a), nb = nn_util_numel(b), M = g->M, N = g->N, K = g->K;
    int64_t ny = g->n_batch * M * N;
    int64_t *ai = mem_alloc((size_t)(na > 0 ? na : 1) * sizeof *ai);
    int64_t *bi_ = mem_alloc((size_t)(nb > 0 ? nb : 1) * sizeof *bi_);
    int64_t *acc = mem_calloc((size_t)(ny > 0 ? ny : 1), sizeof *acc);
    if (!ai || !bi_ || !acc) {
        mem_free(ai);
        mem_free(bi_);
        mem_free(acc);
        return nn_util_oom(n);
    }
    for (int64_t i = 0; i < na; i++)
        ai[i] = tensor_get_i64(a, i) - (int64_t)param_at(azp, (i / (K > 0 ? K : 1)) % (M > 0 ? M : 1));
    for (int64_t i = 0; i < nb; i++)
        bi_[i] = tensor_get_i64(b, i) - (int64_t)param_at(bzp, i % (N > 0 ? N : 1));
    for (int64_t bt = 0; bt < g->n_batch; bt++) {
        int64_t ao, bo;
        mm_offsets(g, bt, &ao, &bo);
        const int64_t *am = ai + ao * M * K, *bm = bi_ + bo * K * N;
        int64_t *y = acc + bt * M * N;
        for (int64_t i = 0; i < M; i++)
            for (int64_t k = 0; k < K; k++) {
                int64_t av = am[i * K + k];
                for (int64_t j = 0; j < N; j++) y[i * N + j] += av * bm[k * N + j];
            }
    }
    mem_free(ai);
    mem_free(bi_);
    *acc_out = acc;
    return STRATA_OK;
}

strata_status nn_matmul_integer_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    const strata_tensor *a = op_input(n, in, 0), *b = op_input(n, in, 1);
    const strata_tensor *azp = op_input(n, in, 2), *bzp = op_input(n, in, 3);
    mm_geom g;
    strata_status st = mm_geometry(n, a, b, &g);
    if (st) return st;
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "A and B must be int8 or uint8 (got %s, %s)",
                        strata_dtype_name(a->dtype), strata_dtype_name(b->dtype));
    if ((azp && azp->dtype != a->dtype) || (bzp && bzp->dtype != b->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "zero point types differ from A / B");
    return tensor_set_shape(out[0], STRATA_DTYPE_I32, g.out_rank, g.out_dims);
}

strata_status nn_matmul_integer_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    mm_geom g;
    int64_t *acc;
    strata_status st = mm_integer(n, op_input(n, in, 0), op_input(n, in, 2), op_input(n, in, 1),
                                  op_input(n, in, 3), &g, &acc);
    if (st) return st;
    int64_t ny = nn_util_numel(out[0]);
    int32_t *y = out[0]->data;
    for (int64_t i = 0; i < ny; i++) y[i] = (int32_t)acc[i];
    mem_free(acc);
    return STRATA_OK;
}

/* QLinearMatMul inputs: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp. */
strata_status nn_matmul_qlinear_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    const strata_tensor *a = op_input(n, in, 0), *b = op_input(n, in, 3);
    const strata_tensor *yzp = op_input(n, in, 7);
    mm_geom g;
    strata_status st = mm_geometry(n, a, b, &g);
    if (st) return st;
    if (!is_q8(a->dtype) || !is_q8(b->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "a and b must be int8 or uint8 (got %s, %s)",
                        strata_dtype_name(a->dtype), strata_dtype_name(b->dtype));
    for (int i = 1; i <= 6; i += (i == 1 ? 3 : 2))
        if (!op_input(n, in, (size_t)i) || !dtype_is_float(in[i]->dtype))
            return op_error(n, STRATA_INVALID_MODEL, "input %d (a scale) missing or not float", i);
    strata_dtype yt = yzp ? yzp->dtype : a->dtype;
    if (!is_q8(yt)) return op_error(n, STRATA_UNSUPPORTED, "y_zero_point must be int8 or uint8");
    return tensor_set_shape(out[0], yt, g.out_rank, g.out_dims);
}

/* v rounded to the precision of dtype t (so products of f16 scales round as f16 does). */
static float round_to(strata_dtype t, float v)
{
    if (t == STRATA_DTYPE_F16) return f16_to_f32(f32_to_f16(v));
    if (t == STRATA_DTYPE_BF16) return bf16_to_f32(f32_to_bf16(v));
    return v;
}

strata_status nn_matmul_qlinear_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    const strata_tensor *as = op_input(n, in, 1), *bs = op_input(n, in, 4);
    const strata_tensor *ys = op_input(n, in, 6), *yzp = op_input(n, in, 7);
    mm_geom g;
    int64_t *acc, lo, hi;
    strata_status st = mm_integer(n, op_input(n, in, 0), op_input(n, in, 2), op_input(n, in, 3),
                                  op_input(n, in, 5), &g, &acc);
    if (st) return st;
    if ((st = check_param(n, as, g.M, "a_scale")) || (st = check_param(n, bs, g.N, "b_scale")) ||
        (st = check_param(n, ys, 1, "y_scale")) || (st = check_param(n, yzp, 1, "y_zero_point"))) {
        mem_free(acc);
        return st;
    }
    nn_util_int_range(out[0]->dtype, &lo, &hi);
    int64_t ny = nn_util_numel(out[0]), M = g.M > 0 ? g.M : 1, N = g.N > 0 ? g.N : 1;
    float ysc = (float)tensor_get_f64(ys, 0);
    double yz = param_at(yzp, 0);
    for (int64_t i = 0; i < ny; i++) {
        int64_t row = (i / N) % M, col = i % N;
        float s = round_to(as->dtype, (float)param_at(as, row) * (float)param_at(bs, col));
        s = round_to(as->dtype, s / ysc);
        double q = nn_util_rint((double)acc[i] * (double)s) + yz;
        tensor_set_i64(out[0], i, nn_util_saturate(q, lo, hi));
    }
    mem_free(acc);
    return STRATA_OK;
}
