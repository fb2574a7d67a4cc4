/* kernels/ref/nn_causal.c — reference CausalConvWithState (opset 27): a depthwise 1-D causal
 * convolution over concat(past_state or zeros, input) along the last axis, optional bias and
 * SiLU ("silu" / "swish") activation; present_state is the last K-1 padded steps. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

/* Inputs: input [N, C, L], weight [C, 1, K], bias [C] (opt), past_state [N, C, K-1] (opt). */
static strata_status causal_check(const op_node *n, const strata_tensor *const *in, bool *silu)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1);
    const strata_tensor *b = op_input(n, in, 2), *ps = op_input(n, in, 3);
    if (!x || !w) return op_error(n, STRATA_INVALID_MODEL, "needs inputs input and weight");
    strata_status st = nn_util_need_float(n, x, "input");
    if (st) return st;
    if (x->rank != 3 || w->rank != 3)
        return op_error(n, STRATA_UNSUPPORTED, "only 1-D: input [N, C, L] and weight [C, 1, K]");
    int64_t C = x->dims[1], K = w->dims[2];
    if ((C >= 0 && w->dims[0] >= 0 && w->dims[0] != C) || (w->dims[1] >= 0 && w->dims[1] != 1) ||
        K == 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "weight must be [%lld, 1, K>=1]", (long long)C);
    if ((w->dtype != x->dtype) || (b && b->dtype != x->dtype) || (ps && ps->dtype != x->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "input types differ");
    if (b && (b->rank != 1 || (C >= 0 && b->dims[0] >= 0 && b->dims[0] != C)))
        return op_error(n, STRATA_INVALID_ARGUMENT, "bias must be [%lld]", (long long)C);
    if (ps && (ps->rank != 3 || (x->dims[0] >= 0 && ps->dims[0] >= 0 && ps->dims[0] != x->dims[0]) ||
               (C >= 0 && ps->dims[1] >= 0 && ps->dims[1] != C) ||
               (K >= 0 && ps->dims[2] >= 0 && ps->dims[2] != K - 1)))
        return op_error(n, STRATA_INVALID_ARGUMENT, "past_state must be [N, %lld, %lld]",
                        (long long)C, (long long)(K - 1));
    const char *act = op_attr_string(n, "activation", "none");
    *silu = strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0;
    if (!*silu && strcmp(act, "none") != 0 && strcmp(act, "") != 0)
        return op_error(n, STRATA_UNSUPPORTED, "activation '%s'", act);
    return STRATA_OK;
}

strata_status nn_causal_conv_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    bool silu;
    strata_status st = causal_check(n, in, &silu);
    if (st) return st;
    const strata_tensor *x = in[0], *w = in[1];
    if ((st = tensor_set_shape(out[0], x->dtype, 3, x->dims))) return st;
    if (n->n_outputs > 1 && out[1]) {
        int64_t dims[3] = {x->dims[0], x->dims[1], w->dims[2] < 0 ? -1 : w->dims[2] - 1};
        return tensor_set_shape(out[1], x->dtype, 3, dims);
    }
    return STRATA_OK;
}

strata_status nn_causal_conv_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    bool silu;
    strata_status st = causal_check(n, in, &silu);
    if (st) return st;
    const strata_tensor *x = in[0], *ps = op_input(n, in, 3);
    int64_t N = x->dims[0], C = x->dims[1], L = x->dims[2], K = in[1]->dims[2], P = L + K - 1;
    double *xv = nn_util_f64_load(x), *wv = nn_util_f64_load(in[1]);
    double *bv = nn_util_f64_load(op_input(n, in, 2)), *pv = nn_util_f64_load(ps);
    double *pad = mem_alloc((size_t)(P > 0 ? P : 1) * sizeof *pad);
    int64_t ny = N * C * L;
    double *y = mem_alloc((size_t)(ny > 0 ? ny : 1) * sizeof *y);
    double *state = mem_calloc((size_t)(N * C * (K - 1) > 0 ? N * C * (K - 1) : 1), sizeof *state);
    if (!xv || !wv || (op_input(n, in, 2) && !bv) || (ps && !pv) || !pad || !y || !state) {
        st = nn_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++) {
            int64_t row = b * C + c;
            for (int64_t i = 0; i < K - 1; i++) pad[i] = pv ? pv[row * (K - 1) + i] : 0.0;
            memcpy(pad + K - 1, xv + row * L, (size_t)L * sizeof *pad);
            for (int64_t t = 0; t < L; t++) {
                double acc = bv ? bv[c] : 0.0;
                for (int64_t k = 0; k < K; k++) acc += wv[c * K + k] * pad[t + k];
                if (silu) acc = acc / (1.0 + exp(-acc));
                y[row * L + t] = acc;
            }
            memcpy(state + row * (K - 1), pad + L, (size_t)(K - 1) * sizeof *state);
        }
    nn_util_f64_store(out[0], y);
    if (n->n_outputs > 1 && out[1]) nn_util_f64_store(out[1], state);
done:
    mem_free(xv);
    mem_free(wv);
    mem_free(bv);
    mem_free(pv);
    mem_free(pad);
    mem_free(y);
    mem_free(state);
    return st;
}
