/* kernels/ref/loss_nll.c — reference NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss
 * (opset 12/13): per-element losses -input[n, target, d...] * weight[target] with ignore_index,
 * reduced by none, sum or mean (weighted mean); the cross entropy adds a log-softmax over the
 * class axis and may return it as log_prob. Computes in double. */
#include <math.h>
#include <string.h>

#include "ref_loss.h"

typedef enum loss_reduction { LOSS_NONE, LOSS_SUM, LOSS_MEAN } loss_reduction;

/* Checks input [N, C, d...], target [N, d...], optional weight [C] and reduction. */
static strata_status check(const op_node *n, const strata_tensor *const *in, const char *xname,
                           const char *tname, const char *wname, loss_reduction *red)
{
    const strata_tensor *x = op_input(n, in, 0), *t = op_input(n, in, 1), *w = op_input(n, in, 2);
    strata_status st;
    if ((st = transformer_util_need_float(n, x, xname))) return st;
    if (!t) return op_error(n, STRATA_INVALID_MODEL, "missing input %s", tname);
    if (t->dtype != STRATA_DTYPE_I32 && t->dtype != STRATA_DTYPE_I64)
        return op_error(n, STRATA_UNSUPPORTED, "%s has type %s; want int32 or int64", tname,
                        strata_dtype_name(t->dtype));
    if (x->rank < 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s has rank %d; want >= 2 [N, C, ...]",
                        xname, x->rank);
    bool ok = t->rank == x->rank - 1;
    for (int i = 0; ok && i < t->rank; i++) {
        int64_t want = x->dims[i == 0 ? 0 : i + 1];
        ok = t->dims[i] < 0 || want < 0 || t->dims[i] == want;
    }
    if (!ok) {
        char a[96], b[96];
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s %s does not fit %s %s (want its shape "
                        "without the class dim)", tname, tensor_describe(t, a, sizeof a), xname,
                        tensor_describe(x, b, sizeof b));
    }
    if (w) {
        if ((st = transformer_util_need_float(n, w, wname))) return st;
        if (w->rank != 1 || (w->dims[0] >= 0 && x->dims[1] >= 0 && w->dims[0] != x->dims[1]))
            return op_error(n, STRATA_INVALID_ARGUMENT, "%s must be [%lld]", wname,
                            (long long)x->dims[1]);
    }
    const char *r = op_attr_string(n, "reduction", "mean");
    if (strcmp(r, "none") == 0) *red = LOSS_NONE;
    else if (strcmp(r, "sum") == 0) *red = LOSS_SUM;
    else if (strcmp(r, "mean") == 0) *red = LOSS_MEAN;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown reduction '%s'", r);
    return STRATA_OK;
}

static strata_status infer_loss(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out, loss_reduction red)
{
    const strata_tensor *t = in[1];
    if (red == LOSS_NONE) return tensor_set_shape(out[0], in[0]->dtype, t->rank, t->dims);
    return tensor_set_shape(out[0], in[0]->dtype, 0, NULL);
}

/* The loss of log-probabilities lp laid out as x ([N, C, D] flattened) into out. */
static strata_status reduce_nll(const op_node *n, const double *lp, const strata_tensor *x,
                                const strata_tensor *t, const double *w, loss_reduction red,
                                strata_tensor *out)
{
    int64_t N = x->dims[0], C = x->dims[1], D = 1;
    for (int i = 2; i < x->rank; i++) D *= x->dims[i];
    int64_t ignore = op_attr_int(n, "ignore_index", INT64_MIN);
    bool has_ignore = attr_find(n->attrs, n->n_attrs, "ignore_index") != NULL;
    double *loss = mem_calloc((size_t)(N * D + 1), sizeof *loss);
    if (!loss) return transformer_util_oom(n);
    double sum = 0, wsum = 0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t d = 0; d < D; d++) {
            int64_t c = tensor_get_i64(t, b * D + d);
            if (has_ignore && c == ignore) continue;
            if (c < 0 || c >= C) {
                mem_free(loss);
                return op_error(n, STRATA_INVALID_ARGUMENT, "target[%lld] = %lld is not a class "
                                "in [0, %lld)", (long long)(b * D + d), (long long)c,
                                (long long)C);
            }
            double wc = w ? w[c] : 1.0;
            loss[b * D + d] = -lp[(b * C + c) * D + d] * wc;
            sum += loss[b * D + d];
            wsum += wc;
        }
    if (red == LOSS_NONE) {
        transformer_util_store(out, loss);
    } else {
        double v = red == LOSS_SUM ? sum : sum / wsum;
        tensor_set_f64(out, 0, v);
    }
    mem_free(loss);
    return STRATA_OK;
}

/* ---- NegativeLogLikelihoodLoss -------------------------------------------------------------- */

strata_status loss_nll_infer(const op_node *n, const strata_tensor *const *in,
                             strata_tensor *const *out)
{
    loss_reduction red;
    strata_status st = check(n, in, "input", "target", "weight", &red);
    if (st) return st;
    return infer_loss(n, in, out, red);
}

strata_status loss_nll_compute(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    loss_reduction red;
    strata_status st = check(n, in, "input", "target", "weight", &red);
    if (st) return st;
    const strata_tensor *w = op_input(n, in, 2);
    double *xd = transformer_util_load(in[0]), *wd = w ? transformer_util_load(w) : NULL;
    if (!xd || (w && !wd)) st = transformer_util_oom(n);
    else st = reduce_nll(n, xd, in[0], in[1], wd, red, out[0]);
    mem_free(xd);
    mem_free(wd);
    return st;
}

/* ---- SoftmaxCrossEntropyLoss ---------------------------------------------------------------- */

strata_status loss_nll_softmax_ce_infer(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    loss_reduction red;
    strata_status st = check(n, in, "scores", "labels", "weights", &red);
    if (st) return st;
    if ((st = infer_loss(n, in, out, red))) return st;
    if (n->n_outputs > 1 && out[1])
        return tensor_set_shape(out[1], in[0]->dtype, in[0]->rank, in[0]->dims);
    return STRATA_OK;
}

strata_status loss_nll_softmax_ce_compute(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    loss_reduction red;
    strata_status st = check(n, in, "scores", "labels", "weights", &red);
    if (st) return st;
    const strata_tensor *x = in[0], *w = op_input(n, in, 2);
    int64_t N = x->dims[0], C = x->dims[1], D = 1;
    for (int i = 2; i < x->rank; i++) D *= x->dims[i];
    double *xd = transformer_util_load(x), *wd = w ? transformer_util_load(w) : NULL;
    if (!xd || (w && !wd)) {
        st = transformer_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < N; b++) /* log-softmax over the class axis, in place */
        for (int64_t d = 0; d < D; d++) {
            double *p = xd + b * C * D + d, mx = -INFINITY, s = 0;
            for (int64_t c = 0; c < C; c++)
                if (p[c * D] > mx) mx = p[c * D];
            for (int64_t c = 0; c < C; c++) s += exp(p[c * D] - mx);
            double lse = mx + log(s);
            for (int64_t c = 0; c < C; c++) p[c * D] -= lse;
        }
    st = reduce_nll(n, xd, x, in[1], wd, red, out[0]);
    if (st == STRATA_OK && n->n_outputs > 1 && out[1]) transformer_util_store(out[1], xd);
done:
    mem_free(xd);
    mem_free(wd);
    return st;
}
