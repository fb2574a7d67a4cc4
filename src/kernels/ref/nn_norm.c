/* kernels/ref/nn_norm.c — reference normalisations: BatchNormalization (inference and training
 * mode), InstanceNormalization, LayerNormalization, GroupNormalization, LpNormalization,
 * MeanVarianceNormalization and LRN. All compute in double over staged copies. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

/* Same shape as x, same dtype. */
static strata_status same_as_input(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out, int min_rank)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input X");
    strata_status st = nn_util_need_float(n, x, "X");
    if (st) return st;
    if (x->rank < min_rank)
        return op_error(n, STRATA_INVALID_ARGUMENT, "X has rank %d; need >= %d", x->rank,
                        min_rank);
    return tensor_set_shape(out[0], x->dtype, x->rank, x->dims);
}

/* Checks that a per-channel parameter has c elements. */
static strata_status check_vec(const op_node *n, const strata_tensor *p, int64_t c,
                               const char *what)
{
    if (!p) return op_error(n, STRATA_INVALID_MODEL, "missing input %s", what);
    if (!dtype_is_float(p->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "%s has type %s", what, strata_dtype_name(p->dtype));
    int64_t k = nn_util_numel(p);
    if (c >= 0 && k >= 0 && k != c)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s has %lld elements; want %lld", what,
                        (long long)k, (long long)c);
    return STRATA_OK;
}

/* Spatial size of an N, C, ... tensor. */
static int64_t inner_size(const strata_tensor *x)
{
    int64_t s = 1;
    for (int i = 2; i < x->rank; i++) s *= x->dims[i];
    return s;
}

/* ---- BatchNormalization -------------------------------------------------------------------- */

strata_status nn_norm_batch_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    strata_status st = same_as_input(n, in, out, 2);
    if (st) return st;
    const strata_tensor *x = in[0];
    static const char *const names[] = {"", "scale", "B", "input_mean", "input_var"};
    for (size_t i = 1; i <= 4; i++)
        if ((st = check_vec(n, op_input(n, in, i), x->dims[1], names[i]))) return st;
    bool training = op_attr_int(n, "training_mode", 0) != 0;
    if (!training && n->n_outputs > 1) {
        for (size_t j = 1; j < n->n_outputs; j++)
            if (out[j])
                return op_error(n, STRATA_UNSUPPORTED,
                                "running_mean/var outputs need training_mode=1");
    }
    for (size_t j = 1; j < n->n_outputs && j < 3; j++)
        if (out[j] && (st = tensor_set_shape(out[j], in[3]->dtype, 1, x->dims + 1))) return st;
    if (n->n_outputs > 3)
        return op_error(n, STRATA_UNSUPPORTED, "saved_mean/saved_var outputs (opset < 14)");
    return STRATA_OK;
}

strata_status nn_norm_batch_compute(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    double eps = op_attr_float(n, "epsilon", 1e-5f);
    double momentum = op_attr_float(n, "momentum", 0.9f);
    bool training = op_attr_int(n, "training_mode", 0) != 0;
    int64_t N = x->dims[0], C = x->dims[1], S = inner_size(x);
    double *xd = nn_util_f64_load(x), *sc = nn_util_f64_load(in[1]), *bb = nn_util_f64_load(in[2]);
    double *mean = nn_util_f64_load(in[3]), *var = nn_util_f64_load(in[4]);
    double *bm = mem_calloc((size_t)(C > 0 ? C : 1), sizeof *bm);
    double *bv = mem_calloc((size_t)(C > 0 ? C : 1), sizeof *bv);
    strata_status st = STRATA_OK;
    if (!xd || !sc || !bb || !mean || !var || !bm || !bv) {
        st = nn_util_oom(n);
        goto done;
    }
    if (training) { /* batch statistics (population variance) */
        double cnt = (double)(N * S);
        for (int64_t c = 0; c < C; c++) {
            double s = 0, q = 0;
            for (int64_t b = 0; b < N; b++)
                for (int64_t i = 0; i < S; i++) s += xd[(b * C + c) * S + i];
            double m = cnt > 0 ? s / cnt : 0;
            for (int64_t b = 0; b < N; b++)
                for (int64_t i = 0; i < S; i++) {
                    double d = xd[(b * C + c) * S + i] - m;
                    q += d * d;
                }
            bm[c] = m;
            bv[c] = cnt > 0 ? q / cnt : 0;
        }
    } else {
        memcpy(bm, mean, (size_t)C * sizeof *bm);
        memcpy(bv, var, (size_t)C * sizeof *bv);
    }
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++) {
            double k = sc[c] / sqrt(bv[c] + eps), o = bb[c] - bm[c] * k;
            double *p = xd + (b * C + c) * S;
            for (int64_t i = 0; i < S; i++) p[i] = p[i] * k + o;
        }
    nn_util_f64_store(out[0], xd);
    if (training) {
        for (int64_t c = 0; c < C; c++) {
            mean[c] = mean[c] * momentum + bm[c] * (1 - momentum);
            var[c] = var[c] * momentum + bv[c] * (1 - momentum);
        }
        if (n->n_outputs > 1 && out[1]) nn_util_f64_store(out[1], mean);
        if (n->n_outputs > 2 && out[2]) nn_util_f64_store(out[2], var);
    }
done:
    mem_free(xd);
    mem_free(sc);
    mem_free(bb);
    mem_free(mean);
    mem_free(var);
    mem_free(bm);
    mem_free(bv);
    return st;
}

/* ---- InstanceNormalization and GroupNormalization ------------------------------------------ */

/* Normalises each of the n_groups contiguous runs of len elements of xd in place. */
static void normalize_runs(double *xd, int64_t n_groups, int64_t len, double eps)
{
    for (int64_t g = 0; g < n_groups; g++) {
        double *p = xd + g * len, s = 0, q = 0;
        for (int64_t i = 0; i < len; i++) s += p[i];
        double m = len > 0 ? s / (double)len : 0;
        for (int64_t i = 0; i < len; i++) q += (p[i] - m) * (p[i] - m);
        double inv = 1.0 / sqrt((len > 0 ? q / (double)len : 0) + eps);
        for (int64_t i = 0; i < len; i++) p[i] = (p[i] - m) * inv;
    }
}

strata_status nn_norm_instance_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    strata_status st = same_as_input(n, in, out, 3);
    if (st) return st;
    if ((st = check_vec(n, op_input(n, in, 1), in[0]->dims[1], "scale"))) return st;
    return check_vec(n, op_input(n, in, 2), in[0]->dims[1], "B");
}

strata_status nn_norm_instance_compute(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    double eps = op_attr_float(n, "epsilon", 1e-5f);
    int64_t N = x->dims[0], C = x->dims[1], S = inner_size(x);
    double *xd = nn_util_f64_load(x), *sc = nn_util_f64_load(in[1]), *bb = nn_util_f64_load(in[2]);
    strata_status st = STRATA_OK;
    if (!xd || !sc || !bb) {
        st = nn_util_oom(n);
    } else {
        normalize_runs(xd, N * C, S, eps);
        for (int64_t i = 0; i < N * C * S; i++) {
            int64_t c = (i / (S > 0 ? S : 1)) % C;
            xd[i] = xd[i] * sc[c] + bb[c];
        }
        nn_util_f64_store(out[0], xd);
    }
    mem_free(xd);
    mem_free(sc);
    mem_free(bb);
    return st;
}

strata_status nn_norm_group_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    strata_status st = same_as_input(n, in, out, 2);
    if (st) return st;
    int64_t G = op_attr_int(n, "num_groups", 0), C = in[0]->dims[1];
    if (G < 1 || (C >= 0 && C % G != 0))
        return op_error(n, STRATA_INVALID_MODEL, "num_groups %lld does not divide %lld channels",
                        (long long)G, (long long)C);
    /* opset 18 had per-group scale/bias; opset 21 per-channel */
    int64_t want = n->opset < 21 ? G : C;
    if ((st = check_vec(n, op_input(n, in, 1), want, "scale"))) return st;
    return check_vec(n, op_input(n, in, 2), want, "bias");
}

strata_status nn_norm_group_compute(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    double eps = op_attr_float(n, "epsilon", 1e-5f);
    int64_t G = op_attr_int(n, "num_groups", 1);
    int64_t N = x->dims[0], C = x->dims[1], S = inner_size(x), cpg = C / G;
    bool per_group = nn_util_numel(in[1]) == G && G != C;
    double *xd = nn_util_f64_load(x), *sc = nn_util_f64_load(in[1]), *bb = nn_util_f64_load(in[2]);
    strata_status st = STRATA_OK;
    if (!xd || !sc || !bb) {
        st = nn_util_oom(n);
    } else {
        normalize_runs(xd, N * G, cpg * S, eps);
        for (int64_t i = 0; i < N * C * S; i++) {
            int64_t c = (i / (S > 0 ? S : 1)) % C, k = per_group ? c / cpg : c;
            xd[i] = xd[i] * sc[k] + bb[k];
        }
        nn_util_f64_store(out[0], xd);
    }
    mem_free(xd);
    mem_free(sc);
    mem_free(bb);
    return st;
}

/* ---- LayerNormalization -------------------------------------------------------------------- */

static strata_status layer_axis(const op_node *n, const strata_tensor *x, int *axis)
{
    return op_axis(n, op_attr_int(n, "axis", -1), x->rank, axis);
}

/* Checks that p broadcasts to the normalised dims x->dims[axis..]. */
static strata_status check_bcast(const op_node *n, const strata_tensor *p, const strata_tensor *x,
                                 int axis, const char *what)
{
    if (!p) return STRATA_OK;
    if (p->dtype != x->dtype)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s type differs from X", what);
    if (p->rank > x->rank) return op_error(n, STRATA_INVALID_ARGUMENT, "%s rank too large", what);
    for (int i = 0; i < p->rank; i++) {
        int xi = x->rank - p->rank + i;
        int64_t pd = p->dims[i], xd = x->dims[xi];
        if (pd < 0 || xd < 0 || pd == 1) continue;
        if (xi < axis || pd != xd)
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "%s dim %d (%lld) does not broadcast to the normalised shape", what, i,
                            (long long)pd);
    }
    return STRATA_OK;
}

strata_status nn_norm_layer_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    strata_status st = same_as_input(n, in, out, 1);
    if (st) return st;
    const strata_tensor *x = in[0];
    int axis;
    if ((st = layer_axis(n, x, &axis))) return st;
    if (!op_input(n, in, 1)) return op_error(n, STRATA_INVALID_MODEL, "missing input Scale");
    if ((st = check_bcast(n, in[1], x, axis, "Scale"))) return st;
    if ((st = check_bcast(n, op_input(n, in, 2), x, axis, "B"))) return st;
    int64_t dims[STRATA_MAX_DIMS];
    for (int i = 0; i < x->rank; i++) dims[i] = i < axis ? x->dims[i] : 1;
    strata_dtype ut = op_attr_int(n, "stash_type", 1) == 1 ? STRATA_DTYPE_F32 : x->dtype;
    for (size_t j = 1; j < n->n_outputs && j < 3; j++)
        if (out[j] && (st = tensor_set_shape(out[j], ut, x->rank, dims))) return st;
    return STRATA_OK;
}

strata_status nn_norm_layer_compute(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *sc = in[1], *b = op_input(n, in, 2);
    int axis;
    strata_status st = layer_axis(n, x, &axis);
    if (st) return st;
    double eps = op_attr_float(n, "epsilon", 1e-5f);
    int64_t outer = shape_numel(axis, x->dims), inner = shape_numel(x->rank - axis, x->dims + axis);
    int inner_rank = x->rank - axis;
    int64_t ss[STRATA_MAX_DIMS], bs[STRATA_MAX_DIMS], idx[STRATA_MAX_DIMS];
    shape_broadcast_strides(sc->rank, sc->dims, inner_rank, ss);
    if (b) shape_broadcast_strides(b->rank, b->dims, inner_rank, bs);
    double *xd = nn_util_f64_load(x), *sd = nn_util_f64_load(sc), *bd = nn_util_f64_load(b);
    double *mean = mem_alloc((size_t)(outer > 0 ? outer : 1) * sizeof *mean);
    double *inv = mem_alloc((size_t)(outer > 0 ? outer : 1) * sizeof *inv);
    if (!xd || !sd || (b && !bd) || !mean || !inv) {
        st = nn_util_oom(n);
        goto done;
    }
    for (int64_t o = 0; o < outer; o++) {
        double *p = xd + o * inner, s = 0, q = 0;
        for (int64_t i = 0; i < inner; i++) s += p[i];
        double m = inner > 0 ? s / (double)inner : 0;
        for (int64_t i = 0; i < inner; i++) q += (p[i] - m) * (p[i] - m);
        double iv = 1.0 / sqrt((inner > 0 ? q / (double)inner : 0) + eps);
        mean[o] = m;
        inv[o] = iv;
        memset(idx, 0, sizeof idx);
        for (int64_t i = 0; i < inner; i++) {
            int64_t so = 0, bo = 0;
            for (int d = 0; d < inner_rank; d++) {
                so += idx[d] * ss[d];
                if (b) bo += idx[d] * bs[d];
            }
            p[i] = (p[i] - m) * iv * sd[so] + (b ? bd[bo] : 0);
            for (int d = inner_rank - 1; d >= 0; d--) {
                if (++idx[d] < x->dims[axis + d]) break;
                idx[d] = 0;
            }
        }
    }
    nn_util_f64_store(out[0], xd);
    if (n->n_outputs > 1 && out[1]) nn_util_f64_store(out[1], mean);
    if (n->n_outputs > 2 && out[2]) nn_util_f64_store(out[2], inv);
done:
    mem_free(xd);
    mem_free(sd);
    mem_free(bd);
    mem_free(mean);
    mem_free(inv);
    return st;
}

/* ---- LpNormalization ------------------------------------------------------------------------ */

strata_status nn_norm_lp_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    strata_status st = same_as_input(n, in, out, 1);
    if (st) return st;
    int axis;
    if ((st = op_axis(n, op_attr_int(n, "axis", -1), in[0]->rank, &axis))) return st;
    int64_t p = op_attr_int(n, "p", 2);
    if (p != 1 && p != 2) return op_error(n, STRATA_INVALID_MODEL, "p must be 1 or 2 (got %lld)", (long long)p);
    return STRATA_OK;
}

strata_status nn_norm_lp_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", -1), x->rank, &axis);
    if (st) return st;
    int64_t p = op_attr_int(n, "p", 2);
    int64_t outer = shape_numel(axis, x->dims), A = x->dims[axis];
    int64_t inner = shape_numel(x->rank - axis - 1, x->dims + axis + 1);
    double *xd = nn_util_f64_load(x);
    if (!xd) return nn_util_oom(n);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t r = 0; r < inner; r++) {
            double *q = xd + o * A * inner + r, s = 0;
            for (int64_t a = 0; a < A; a++) s += p == 1 ? fabs(q[a * inner]) : q[a * inner] * q[a * inner];
            double norm = p == 1 ? s : sqrt(s);
            for (int64_t a = 0; a < A; a++) q[a * inner] = norm == 0 ? 0 : q[a * inner] / norm;
        }
    nn_util_f64_store(out[0], xd);
    mem_free(xd);
    return STRATA_OK;
}

/* ---- MeanVarianceNormalization ---------------------------------------------------------------- */

/* Reduction mask over x's dims from 'axes' (default 0, 2, 3). */
static strata_status mvn_mask(const op_node *n, const strata_tensor *x, bool *mask)
{
    size_t na = 0;
    const int64_t *axes = op_attr_ints(n, "axes", &na);
    static const int64_t dflt[] = {0, 2, 3};
    if (!axes) {
        axes = dflt;
        na = 3;
    }
    memset(mask, 0, STRATA_MAX_DIMS * sizeof *mask);
    for (size_t i = 0; i < na; i++) {
        int a;
        strata_status st = op_axis(n, axes[i], x->rank, &a);
        if (st) return st;
        mask[a] = true;
    }
    return STRATA_OK;
}

strata_status nn_norm_mvn_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    strata_status st = same_as_input(n, in, out, 1);
    bool mask[STRATA_MAX_DIMS];
    return st ? st : mvn_mask(n, in[0], mask);
}

strata_status nn_norm_mvn_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    bool mask[STRATA_MAX_DIMS];
    strata_status st = mvn_mask(n, x, mask);
    if (st) return st;
    int64_t total = nn_util_numel(x), groups = 1, idx[STRATA_MAX_DIMS];
    for (int i = 0; i < x->rank; i++)
        if (!mask[i]) groups *= x->dims[i];
    double *xd = nn_util_f64_load(x);
    double *s1 = mem_calloc((size_t)(groups > 0 ? groups : 1), sizeof *s1);
    double *s2 = mem_calloc((size_t)(groups > 0 ? groups : 1), sizeof *s2);
    int64_t *gi = mem_alloc((size_t)(total > 0 ? total : 1) * sizeof *gi);
    if (!xd || !s1 || !s2 || !gi) {
        st = nn_util_oom(n);
        goto done;
    }
    memset(idx, 0, sizeof idx);
    for (int64_t i = 0; i < total; i++) {
        int64_t g = 0;
        for (int d = 0; d < x->rank; d++)
            if (!mask[d]) g = g * x->dims[d] + idx[d];
        gi[i] = g;
        s1[g] += xd[i];
        s2[g] += xd[i] * xd[i];
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < x->dims[d]) break;
            idx[d] = 0;
        }
    }
    double cnt = groups > 0 ? (double)total / (double)groups : 1;
    for (int64_t g = 0; g < groups; g++) {
        s1[g] /= cnt;
        s2[g] = sqrt(fmax(s2[g] / cnt - s1[g] * s1[g], 0.0));
    }
    for (int64_t i = 0; i < total; i++) xd[i] = (xd[i] - s1[gi[i]]) / (s2[gi[i]] + 1e-9);
    nn_util_f64_store(out[0], xd);
done:
    mem_free(xd);
    mem_free(s1);
    mem_free(s2);
    mem_free(gi);
    return st;
}

/* ---- LRN ------------------------------------------------------------------------------------- */

strata_status nn_norm_lrn_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    strata_status st = same_as_input(n, in, out, 2);
    if (st) return st;
    if (op_attr_int(n, "size", 0) < 1) return op_error(n, STRATA_INVALID_MODEL, "'size' must be >= 1");
    return STRATA_OK;
}

strata_status nn_norm_lrn_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    double alpha = op_attr_float(n, "alpha", 1e-4f), beta = op_attr_float(n, "beta", 0.75f);
    double bias = op_attr_float(n, "bias", 1.0f);
    int64_t size = op_attr_int(n, "size", 1);
    int64_t N = x->dims[0], C = x->dims[1], S = inner_size(x);
    int64_t lo_off = (size - 1) / 2, hi_off = size - 1 - lo_off;
    double *xd = nn_util_f64_load(x), *yd = mem_alloc((size_t)(N * C * S > 0 ? N * C * S : 1) * sizeof *yd);
    strata_status st = STRATA_OK;
    if (!xd || !yd) {
        st = nn_util_oom(n);
    } else {
        for (int64_t b = 0; b < N; b++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t i = 0; i < S; i++) {
                    double sq = 0;
                    int64_t c0 = c - lo_off < 0 ? 0 : c - lo_off;
                    int64_t c1 = c + hi_off > C - 1 ? C - 1 : c + hi_off;
                    for (int64_t k = c0; k <= c1; k++) {
                        double v = xd[(b * C + k) * S + i];
                        sq += v * v;
                    }
                    int64_t at = (b * C + c) * S + i;
                    yd[at] = xd[at] / pow(bias + alpha / (double)size * sq, beta);
                }
        nn_util_f64_store(out[0], yd);
    }
    mem_free(xd);
    mem_free(yd);
    return st;
}
