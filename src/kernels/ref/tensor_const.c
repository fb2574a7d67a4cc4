/* kernels/ref/tensor_const.c — reference ops that make tensors from attributes and scalars:
 * Constant, ConstantOfShape, EyeLike, Range. */
#include <math.h>
#include <string.h>

#include "ref_tensor.h"

/* ---- Constant ----------------------------------------------------------------------------- */

/* The attribute that holds the constant (the first of the known names present). */
static const attr *constant_attr(const op_node *n)
{
    static const char *const names[] = {"value",        "value_float", "value_floats",
                                        "value_int",    "value_ints",  "value_string",
                                        "value_strings", "sparse_value"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        const attr *a = attr_find(n->attrs, n->n_attrs, names[i]);
        if (a) return a;
    }
    return NULL;
}

strata_status tensor_const_constant_infer(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    const attr *a = constant_attr(n);
    if (!a) return op_error(n, STRATA_INVALID_MODEL, "no value attribute");
    int64_t len = (int64_t)a->n;
    switch (a->type) {
    case ATTR_TENSOR:
        if (!a->t) return op_error(n, STRATA_INVALID_MODEL, "'%s' holds no tensor", a->name);
        if (strcmp(a->name, "value") != 0)
            return op_error(n, STRATA_UNSUPPORTED, "attribute '%s' (sparse tensors)", a->name);
        return tensor_util_shape(n, out[0], a->t->dtype, a->t->rank, a->t->dims);
    case ATTR_FLOAT: return tensor_util_shape(n, out[0], STRATA_DTYPE_F32, 0, NULL);
    case ATTR_INT: return tensor_util_shape(n, out[0], STRATA_DTYPE_I64, 0, NULL);
    case ATTR_STRING: return tensor_util_shape(n, out[0], STRATA_DTYPE_STRING, 0, NULL);
    case ATTR_FLOATS: return tensor_util_shape(n, out[0], STRATA_DTYPE_F32, 1, &len);
    case ATTR_INTS: return tensor_util_shape(n, out[0], STRATA_DTYPE_I64, 1, &len);
    case ATTR_STRINGS: return tensor_util_shape(n, out[0], STRATA_DTYPE_STRING, 1, &len);
    default:
        return op_error(n, STRATA_UNSUPPORTED, "attribute '%s' of type %d", a->name,
                        (int)a->type);
    }
}

static strata_status set_string(const op_node *n, strata_tensor *t, int64_t i, const char *s)
{
    char *c = mem_strdup(s ? s : "");
    if (!c) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    char **d = t->data;
    mem_free(d[i]);
    d[i] = c;
    return STRATA_OK;
}

strata_status tensor_const_constant_compute(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    const attr *a = constant_attr(n);
    strata_tensor *o = out[0];
    switch (a->type) {
    case ATTR_TENSOR:
        if (a->t->n_bytes && !a->t->data)
            return op_error(n, STRATA_INVALID_MODEL, "'value' tensor has no data");
        return tensor_util_copy(o, 0, a->t, 0, tensor_util_numel(a->t));
    case ATTR_FLOAT: ((float *)o->data)[0] = a->f; return STRATA_OK;
    case ATTR_INT: ((int64_t *)o->data)[0] = a->i; return STRATA_OK;
    case ATTR_STRING: return set_string(n, o, 0, a->s);
    case ATTR_FLOATS:
        for (size_t i = 0; i < a->n; i++) ((float *)o->data)[i] = a->floats[i];
        return STRATA_OK;
    case ATTR_INTS:
        for (size_t i = 0; i < a->n; i++) ((int64_t *)o->data)[i] = a->ints[i];
        return STRATA_OK;
    case ATTR_STRINGS:
        for (size_t i = 0; i < a->n; i++) {
            strata_status st = set_string(n, o, (int64_t)i, a->strings[i]);
            if (st != STRATA_OK) return st;
        }
        return STRATA_OK;
    default: return op_error(n, STRATA_UNSUPPORTED, "attribute '%s'", a->name);
    }
}

/* ---- ConstantOfShape ---------------------------------------------------------------------- */

strata_status tensor_const_of_shape_infer(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    int64_t dims[STRATA_MAX_DIMS];
    size_t nd;
    strata_status st = tensor_util_ints(n, op_input(n, in, 0), "input", dims, STRATA_MAX_DIMS,
                                        &nd);
    if (st != STRATA_OK) return st;
    for (size_t i = 0; i < nd; i++)
        if (dims[i] < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "shape[%zu] is negative (%lld)", i,
                            (long long)dims[i]);
    strata_dtype dt = STRATA_DTYPE_F32;
    const attr *a = attr_find(n->attrs, n->n_attrs, "value");
    if (a) {
        if (a->type != ATTR_TENSOR || !a->t || tensor_util_numel(a->t) != 1)
            return op_error(n, STRATA_INVALID_MODEL, "'value' must be a one-element tensor");
        dt = a->t->dtype;
    }
    return tensor_util_shape(n, out[0], dt, (int)nd, dims);
}

strata_status tensor_const_of_shape_compute(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, "value");
    if (!a) return STRATA_OK; /* zeros */
    if (!a->t->data) return op_error(n, STRATA_INVALID_MODEL, "'value' tensor has no data");
    int64_t ne = tensor_util_numel(out[0]);
    for (int64_t i = 0; i < ne; i++) {
        strata_status st = tensor_util_copy(out[0], i, a->t, 0, 1);
        if (st != STRATA_OK) return st;
    }
    return STRATA_OK;
}

/* ---- EyeLike ------------------------------------------------------------------------------ */

strata_status tensor_const_eyelike_infer(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input");
    if (x->rank != 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input must be 2-D, has rank %d", x->rank);
    int64_t dt = op_attr_int(n, "dtype", (int64_t)x->dtype);
    if (!dtype_is_valid((int)dt) || dt == STRATA_DTYPE_STRING || dt == STRATA_DTYPE_C64 ||
        dt == STRATA_DTYPE_C128)
        return op_error(n, STRATA_UNSUPPORTED, "dtype %lld", (long long)dt);
    return tensor_util_shape(n, out[0], (strata_dtype)dt, 2, x->dims);
}

strata_status tensor_const_eyelike_compute(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    int64_t k = op_attr_int(n, "k", 0), rows = out[0]->dims[0], cols = out[0]->dims[1];
    if (k >= cols || k <= -rows) return STRATA_OK; /* the diagonal misses the matrix */
    for (int64_t i = 0; i < rows; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < cols) tensor_set_f64(out[0], i * cols + j, 1.0);
    }
    return STRATA_OK;
}

/* ---- Range -------------------------------------------------------------------------------- */

static strata_status range_count(const op_node *n, const strata_tensor *const *in, int64_t *count)
{
    for (size_t i = 0; i < 3; i++)
        if (!op_input(n, in, i)) return op_error(n, STRATA_INVALID_MODEL, "missing input %zu", i);
    strata_dtype t = in[0]->dtype;
    if (in[1]->dtype != t || in[2]->dtype != t)
        return op_error(n, STRATA_INVALID_MODEL, "start, limit and delta differ in dtype");
    if (!dtype_is_float(t) && !dtype_is_int(t))
        return op_error(n, STRATA_UNSUPPORTED, "dtype %s", strata_dtype_name(t));
    double v[3];
    const char *names[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; i++) {
        strata_status st = tensor_util_scalar_f64(n, in[i], names[i], &v[i]);
        if (st != STRATA_OK) return st;
    }
    if (v[2] == 0) return op_error(n, STRATA_INVALID_ARGUMENT, "delta is zero");
    double c;
    if (dtype_is_int(t)) {
        int64_t s = tensor_get_i64(in[0], 0), l = tensor_get_i64(in[1], 0),
                d = tensor_get_i64(in[2], 0);
        int64_t span;
        if (__builtin_sub_overflow(l, s, &span))
            return op_error(n, STRATA_INVALID_ARGUMENT, "range from %lld to %lld is too large",
                            (long long)s, (long long)l);
        if (d == INT64_MIN) d = -INT64_MAX;
        int64_t q = span / d;
        if (q * d != span && ((span > 0) == (d > 0))) q++;
        c = (double)(q < 0 ? 0 : q);
    } else {
        c = ceil((v[1] - v[0]) / v[2]);
        if (!(c > 0)) c = 0;
    }
    if (c > (double)STRATA_MAX_ELEMENTS)
        return op_error(n, STRATA_INVALID_ARGUMENT, "range of %g elements is too large", c);
    *count = (int64_t)c;
    return STRATA_OK;
}

strata_status tensor_const_range_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    int64_t c;
    strata_status st = range_count(n, in, &c);
    if (st != STRATA_OK) return st;
    return tensor_util_shape(n, out[0], in[0]->dtype, 1, &c);
}

strata_status tensor_const_range_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    int64_t c = out[0]->dims[0];
    if (dtype_is_int(in[0]->dtype)) {
        int64_t s = tensor_get_i64(in[0], 0), d = tensor_get_i64(in[2], 0);
        for (int64_t i = 0; i < c; i++)
            tensor_set_i64(out[0], i, (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d));
    } else {
        double s = tensor_get_f64(in[0], 0), d = tensor_get_f64(in[2], 0);
        for (int64_t i = 0; i < c; i++) tensor_set_f64(out[0], i, s + (double)i * d);
    }
    return STRATA_OK;
}
