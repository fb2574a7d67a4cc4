/* kernels/ref/tensor_shape.c — reference ops that change a tensor's shape but not its elements
 * (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout at inference, Expand) and the ops
 * that report shapes (Shape, Size). */
#include <string.h>

#include "ref_tensor.h"

#define MAX_LIST (4 * STRATA_MAX_DIMS)

static strata_status need_input(const op_node *n, const strata_tensor *const *in, size_t i,
                                const char *what)
{
    if (!op_input(n, in, i))
        return op_error(n, STRATA_INVALID_MODEL, "missing input %zu ('%s')", i, what);
    return tensor_util_check_dtype(n, in[i], what);
}

/* Compute shared by every op whose output holds the input's elements in the same order. */
strata_status tensor_shape_copy_all_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    int64_t ne = tensor_util_numel(out[0]);
    if (ne != tensor_util_numel(in[0]))
        return op_error(n, STRATA_INTERNAL, "output has %lld elements, input %lld",
                        (long long)ne, (long long)tensor_util_numel(in[0]));
    return tensor_util_copy(out[0], 0, in[0], 0, ne);
}

/* ---- Reshape ------------------------------------------------------------------------------ */

strata_status tensor_shape_reshape_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    int64_t shape[MAX_LIST];
    size_t ns = 0;
    if (n->opset < 5) {
        const int64_t *s = op_attr_ints(n, "shape", &ns);
        if (!s) return op_error(n, STRATA_INVALID_MODEL, "missing 'shape' attribute");
        if (ns > MAX_LIST) return op_error(n, STRATA_UNSUPPORTED, "shape too long");
        memcpy(shape, s, ns * sizeof *s);
    } else {
        st = tensor_util_ints(n, op_input(n, in, 1), "shape", shape, MAX_LIST, &ns);
        if (st != STRATA_OK) return st;
    }
    if (ns > STRATA_MAX_DIMS)
        return op_error(n, STRATA_UNSUPPORTED, "target rank %zu exceeds %d", ns, STRATA_MAX_DIMS);
    bool allowzero = op_attr_int(n, "allowzero", 0) != 0;
    int64_t dims[STRATA_MAX_DIMS];
    int infer_at = -1;
    int64_t known_prod = 1;
    bool unknown = false;
    for (size_t i = 0; i < ns; i++) {
        int64_t d = shape[i];
        if (d == 0 && !allowzero) {
            if ((int)i >= x->rank)
                return op_error(n, STRATA_INVALID_MODEL,
                                "shape[%zu] is 0 (copy) but the input has rank %d", i, x->rank);
            d = x->dims[i];
        } else if (d == -1) {
            if (infer_at >= 0)
                return op_error(n, STRATA_INVALID_MODEL, "shape has more than one -1");
            infer_at = (int)i;
            dims[i] = -1;
            continue;
        } else if (d < -1) {
            return op_error(n, STRATA_INVALID_MODEL, "shape[%zu] is %lld", i, (long long)d);
        }
        dims[i] = d;
        if (d < 0) unknown = true;
        else if (__builtin_mul_overflow(known_prod, d, &known_prod) || known_prod > STRATA_MAX_ELEMENTS)
            return op_error(n, STRATA_INVALID_ARGUMENT, "target shape has more than 2^40 elements");
    }
    int64_t total = tensor_util_numel(x);
    if (infer_at >= 0) {
        if (total < 0 || unknown) {
            dims[infer_at] = -1;
        } else if (known_prod == 0) {
            if (total != 0)
                return op_error(n, STRATA_INVALID_MODEL,
                                "cannot infer the -1 dim: other dims multiply to 0");
            dims[infer_at] = 0;
        } else {
            if (total % known_prod != 0)
                return op_error(n, STRATA_INVALID_ARGUMENT,
                                "cannot reshape %lld elements with -1 and a %lld-element rest",
                                (long long)total, (long long)known_prod);
            dims[infer_at] = total / known_prod;
        }
    } else if (total >= 0 && !unknown && known_prod != total) {
        char b1[160], b2[160];
        return op_error(n, STRATA_INVALID_ARGUMENT, "cannot reshape %s to %s",
                        shape_describe(x->rank, x->dims, b1, sizeof b1),
                        shape_describe((int)ns, dims, b2, sizeof b2));
    }
    return tensor_util_shape(n, out[0], x->dtype, (int)ns, dims);
}

/* ---- Flatten ------------------------------------------------------------------------------ */

strata_status tensor_shape_flatten_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    int64_t axis = op_attr_int(n, "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > x->rank)
        return op_error(n, STRATA_INVALID_MODEL, "axis %lld out of range for rank %d",
                        (long long)op_attr_int(n, "axis", 1), x->rank);
    int64_t dims[2] = {tensor_util_prod(x->dims, 0, (int)axis),
                       tensor_util_prod(x->dims, (int)axis, x->rank)};
    return tensor_util_shape(n, out[0], x->dtype, 2, dims);
}

/* ---- Squeeze / Unsqueeze -------------------------------------------------------------------- */

/* Reads axes from the attribute (before opset 13) or from input 1. *present is false when none. */
static strata_status read_axes(const op_node *n, const strata_tensor *const *in, int64_t *axes,
                               size_t *n_axes, bool *present)
{
    *present = false;
    *n_axes = 0;
    if (n->opset < 13) {
        size_t k = 0;
        const int64_t *a = op_attr_ints(n, "axes", &k);
        if (!a) return STRATA_OK;
        if (k > MAX_LIST) return op_error(n, STRATA_INVALID_MODEL, "too many axes");
        memcpy(axes, a, k * sizeof *a);
        *n_axes = k;
        *present = true;
        return STRATA_OK;
    }
    const strata_tensor *t = op_input(n, in, 1);
    if (!t) return STRATA_OK;
    *present = true;
    return tensor_util_ints(n, t, "axes", axes, MAX_LIST, n_axes);
}

strata_status tensor_shape_squeeze_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    int64_t axes[MAX_LIST];
    size_t na;
    bool present;
    st = read_axes(n, in, axes, &na, &present);
    if (st != STRATA_OK) return st;
    bool drop[STRATA_MAX_DIMS] = {false};
    if (!present) {
        for (int d = 0; d < x->rank; d++) {
            if (x->dims[d] < 0) return STRATA_NOT_FOUND;
            drop[d] = x->dims[d] == 1;
        }
    }
    for (size_t i = 0; i < na; i++) {
        int a;
        st = op_axis(n, axes[i], x->rank, &a);
        if (st != STRATA_OK) return st;
        if (drop[a]) return op_error(n, STRATA_INVALID_MODEL, "axis %d repeated", a);
        if (x->dims[a] >= 0 && x->dims[a] != 1)
            return op_error(n, STRATA_INVALID_ARGUMENT, "cannot squeeze axis %d of extent %lld",
                            a, (long long)x->dims[a]);
        drop[a] = true;
    }
    int64_t dims[STRATA_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < x->rank; d++)
        if (!drop[d]) dims[r++] = x->dims[d];
    return tensor_util_shape(n, out[0], x->dtype, r, dims);
}

strata_status tensor_shape_unsqueeze_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    int64_t axes[MAX_LIST];
    size_t na;
    bool present;
    st = read_axes(n, in, axes, &na, &present);
    if (st != STRATA_OK) return st;
    if (!present) return op_error(n, STRATA_INVALID_MODEL, "missing axes");
    int r = x->rank + (int)na;
    if (r > STRATA_MAX_DIMS)
        return op_error(n, STRATA_UNSUPPORTED, "output rank %d exceeds %d", r, STRATA_MAX_DIMS);
    bool ins[STRATA_MAX_DIMS] = {false};
    for (size_t i = 0; i < na; i++) {
        int a;
        st = op_axis(n, axes[i], r, &a);
        if (st != STRATA_OK) return st;
        if (ins[a]) return op_error(n, STRATA_INVALID_MODEL, "axis %d repeated", a);
        ins[a] = true;
    }
    int64_t dims[STRATA_MAX_DIMS];
    for (int d = 0, k = 0; d < r; d++) dims[d] = ins[d] ? 1 : x->dims[k++];
    return tensor_util_shape(n, out[0], x->dtype, r, dims);
}

/* ---- Identity / Dropout ------------------------------------------------------------------- */

strata_status tensor_shape_identity_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st != STRATA_OK) return st;
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
}

/* Dropout at inference is the identity; training mode with a nonzero ratio draws random
 * numbers, which a reference oracle cannot reproduce: UNSUPPORTED. */
static strata_status dropout_training(const op_node *n, const strata_tensor *const *in,
                                      bool *training)
{
    *training = false;
    if (n->opset < 12) return STRATA_OK; /* before 12: is_test/ratio attributes, inference */
    const strata_tensor *tm = op_input(n, in, 2);
    if (!tm) return STRATA_OK;
    int64_t v;
    strata_status st = tensor_util_scalar_i64(n, tm, "training_mode", &v);
    if (st != STRATA_OK) return st;
    if (!v) return STRATA_OK;
    double ratio = 0.5;
    const strata_tensor *r = op_input(n, in, 1);
    if (r) {
        st = tensor_util_scalar_f64(n, r, "ratio", &ratio);
        if (st != STRATA_OK) return st;
    }
    if (ratio != 0.0)
        return op_error(n, STRATA_UNSUPPORTED,
                        "training mode with ratio %g draws random numbers (not reproducible)",
                        ratio);
    *training = true;
    return STRATA_OK;
}

strata_status tensor_shape_dropout_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st != STRATA_OK) return st;
    if (!dtype_is_float(in[0]->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "dtype %s (float types only)",
                        strata_dtype_name(in[0]->dtype));
    bool training;
    st = dropout_training(n, in, &training);
    if (st != STRATA_OK && st != STRATA_NOT_FOUND) return st;
    st = tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
    if (st == STRATA_OK && n->n_outputs > 1 && out[1])
        st = tensor_util_shape(n, out[1], n->opset >= 10 ? STRATA_DTYPE_BOOL : in[0]->dtype,
                               in[0]->rank, in[0]->dims);
    return st;
}

strata_status tensor_shape_dropout_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    bool training;
    strata_status st = dropout_training(n, in, &training);
    if (st != STRATA_OK) return st;
    st = tensor_shape_copy_all_compute(n, in, out);
    if (st != STRATA_OK) return st;
    if (n->n_outputs > 1 && out[1]) {
        int64_t ne = tensor_util_numel(out[1]);
        for (int64_t i = 0; i < ne; i++) tensor_set_f64(out[1], i, 1.0);
    }
    return STRATA_OK;
}

/* ---- Expand ------------------------------------------------------------------------------- */

strata_status tensor_shape_expand_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st != STRATA_OK) return st;
    int64_t shape[STRATA_MAX_DIMS];
    size_t ns;
    st = tensor_util_ints(n, op_input(n, in, 1), "shape", shape, STRATA_MAX_DIMS, &ns);
    if (st != STRATA_OK) return st;
    for (size_t i = 0; i < ns; i++)
        if (shape[i] < 0)
            return op_error(n, STRATA_INVALID_MODEL, "shape[%zu] is negative (%lld)", i,
                            (long long)shape[i]);
    int r;
    int64_t dims[STRATA_MAX_DIMS];
    st = shape_broadcast(in[0]->rank, in[0]->dims, (int)ns, shape, &r, dims);
    if (st != STRATA_OK) return op_error(n, st, "%s", strata_last_error());
    return tensor_util_shape(n, out[0], in[0]->dtype, r, dims);
}

strata_status tensor_shape_expand_compute(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    int64_t strides[STRATA_MAX_DIMS];
    shape_broadcast_strides(in[0]->rank, in[0]->dims, out[0]->rank, strides);
    return tensor_util_strided_copy(out[0], in[0], out[0]->rank, out[0]->dims, strides, 0);
}

/* ---- Shape / Size ------------------------------------------------------------------------- */

static void shape_range(const op_node *n, int rank, int64_t *start, int64_t *end)
{
    int64_t s = n->opset >= 15 ? op_attr_int(n, "start", 0) : 0;
    int64_t e = n->opset >= 15 ? op_attr_int(n, "end", rank) : rank;
    if (s < 0) s += rank;
    if (e < 0) e += rank;
    s = s < 0 ? 0 : s > rank ? rank : s;
    e = e < 0 ? 0 : e > rank ? rank : e;
    *start = s;
    *end = e < s ? s : e;
}

strata_status tensor_shape_shape_infer(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    if (!op_input(n, in, 0)) return op_error(n, STRATA_INVALID_MODEL, "missing input");
    int64_t s, e;
    shape_range(n, in[0]->rank, &s, &e);
    int64_t dims[1] = {e - s};
    return tensor_util_shape(n, out[0], STRATA_DTYPE_I64, 1, dims);
}

strata_status tensor_shape_shape_compute(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    int64_t s, e;
    shape_range(n, in[0]->rank, &s, &e);
    for (int64_t i = s; i < e; i++) ((int64_t *)out[0]->data)[i - s] = in[0]->dims[i];
    return STRATA_OK;
}

strata_status tensor_shape_size_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    if (!op_input(n, in, 0)) return op_error(n, STRATA_INVALID_MODEL, "missing input");
    return tensor_util_shape(n, out[0], STRATA_DTYPE_I64, 0, NULL);
}

strata_status tensor_shape_size_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    ((int64_t *)out[0]->data)[0] = tensor_util_numel(in[0]);
    return STRATA_OK;
}
