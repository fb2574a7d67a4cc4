/* kernels/ref/transformer_norm.c — reference RMSNormalization (opset 23): each run of the dims
 * from axis on is divided by its root mean square (plus epsilon) and multiplied by scale, which
 * broadcasts to X's shape. Computes in double. */
#include <math.h>

#include "ref_transformer.h"

/* Scale broadcasts to X (right aligned, dims 1 or equal); fills its strides over X's dims. */
static strata_status scale_layout(const op_node *n, const strata_tensor *x,
                                  const strata_tensor *s, int64_t *strides)
{
    if (s->rank > x->rank)
        return op_error(n, STRATA_INVALID_ARGUMENT, "scale has rank %d > X rank %d", s->rank,
                        x->rank);
    for (int i = 0; i < s->rank; i++) {
        int64_t d = s->dims[i], want = x->dims[x->rank - s->rank + i];
        if (d >= 0 && want >= 0 && d != 1 && d != want) {
            char a[96], b[96];
            return op_error(n, STRATA_INVALID_ARGUMENT, "scale %s does not broadcast to X %s",
                            tensor_describe(s, a, sizeof a), tensor_describe(x, b, sizeof b));
        }
    }
    if (strides) shape_broadcast_strides(s->rank, s->dims, x->rank, strides);
    return STRATA_OK;
}

strata_status transformer_norm_rms_infer(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *s = op_input(n, in, 1);
    strata_status st;
    if ((st = transformer_util_need_float(n, x, "X"))) return st;
    if ((st = transformer_util_need_float(n, s, "scale"))) return st;
    int axis;
    if ((st = op_axis(n, op_attr_int(n, "axis", -1), x->rank, &axis))) return st;
    if ((st = scale_layout(n, x, s, NULL))) return st;
    return tensor_set_shape(out[0], s->dtype, x->rank, x->dims);
}

strata_status transformer_norm_rms_compute(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *s = in[1];
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", -1), x->rank, &axis);
    if (st) return st;
    int64_t strides[STRATA_MAX_DIMS];
    if ((st = scale_layout(n, x, s, strides))) return st;
    double eps = op_attr_float(n, "epsilon", 1e-5f);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis; i < x->rank; i++) inner *= x->dims[i];
    double *xd = transformer_util_load(x), *sd = transformer_util_load(s);
    if (!xd || !sd) {
        st = transformer_util_oom(n);
        goto done;
    }
    for (int64_t o = 0; o < outer; o++) {
        double *p = xd + o * inner, q = 0;
        for (int64_t i = 0; i < inner; i++) q += p[i] * p[i];
        double inv = 1.0 / sqrt((inner > 0 ? q / (double)inner : 0) + eps);
        for (int64_t i = 0; i < inner; i++) {
            /* the scale element for flat index o * inner + i */
            int64_t flat = o * inner + i, si = 0;
            for (int d = x->rank - 1; d >= 0; d--) {
                int64_t c = x->dims[d] > 0 ? flat % x->dims[d] : 0;
                flat = x->dims[d] > 0 ? flat / x->dims[d] : 0;
                si += c * strides[d];
            }
            p[i] = p[i] * inv * sd[si];
        }
    }
    transformer_util_store(out[0], xd);
done:
    mem_free(xd);
    mem_free(sd);
    return st;
}
