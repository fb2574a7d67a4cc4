/* kernels/ref/math_softmax.c — Softmax, LogSoftmax and Hardmax. From opset 13 they work along
 * one axis (default -1); before, the input is seen as 2-D, flattened at axis (default 1). */
#include <math.h>
#include <string.h>

#include "ref_math.h"

/* Splits x into outer x len x inner for the op's axis semantics. */
static strata_status softmax_split(const op_node *n, const strata_tensor *x, int64_t *outer,
                                   int64_t *len, int64_t *inner)
{
    bool legacy = n->opset < 13;
    int axis = 0;
    if (x->rank > 0) {
        int64_t a = op_attr_int(n, "axis", legacy ? 1 : -1);
        if (legacy && (a < -x->rank || a > x->rank))
            return op_error(n, STRATA_INVALID_MODEL, "axis %lld out of range for rank %d",
                            (long long)a, x->rank);
        if (legacy) {
            axis = (int)(a < 0 ? a + x->rank : a);
        } else {
            strata_status st = op_axis(n, a, x->rank, &axis);
            if (st != STRATA_OK) return st;
        }
    }
    *outer = 1;
    *len = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->dims[d];
    if (legacy) {
        for (int d = axis; d < x->rank; d++) *len *= x->dims[d];
    } else if (x->rank > 0) {
        *len = x->dims[axis];
        for (int d = axis + 1; d < x->rank; d++) *inner *= x->dims[d];
    }
    return STRATA_OK;
}

strata_status math_softmax_infer(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    if (!dtype_is_float(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(x));
    int64_t outer, len, inner;
    strata_status st = softmax_split(n, x, &outer, &len, &inner);
    if (st != STRATA_OK || !out[0]) return st;
    return tensor_set_shape(out[0], x->dtype, x->rank, x->dims);
}

strata_status math_softmax_compute(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    int64_t outer, len, inner;
    strata_status st = softmax_split(n, x, &outer, &len, &inner);
    if (st != STRATA_OK) return st;
    char kind = n->op_type[0]; /* Softmax, LogSoftmax, Hardmax */
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j, arg = 0;
            if (len == 0) continue;
            double mx = math_ld(x, base);
            for (int64_t t = 1; t < len; t++) {
                double v = math_ld(x, base + t * inner);
                if (v > mx) {
                    mx = v;
                    arg = t;
                }
            }
            if (kind == 'H') {
                for (int64_t t = 0; t < len; t++)
                    math_st(y, base + t * inner, t == arg ? 1.0 : 0.0);
                continue;
            }
            if (isinf(mx)) mx = 0;
            double sum = 0;
            for (int64_t t = 0; t < len; t++) sum += exp(math_ld(x, base + t * inner) - mx);
            for (int64_t t = 0; t < len; t++) {
                double v = math_ld(x, base + t * inner) - mx;
                math_st(y, base + t * inner, kind == 'L' ? v - log(sum) : exp(v) / sum);
            }
        }
    return STRATA_OK;
}
