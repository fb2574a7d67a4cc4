/* kernels/ref/transformer_util.c — staging helpers for the transformer, loss and signal
 * families: double copies of tensors, unknown-dim arithmetic and scalar inputs. */
#include "ref_transformer.h"

strata_status transformer_util_need_float(const op_node *n, const strata_tensor *t,
                                          const char *what)
{
    if (!t) return op_error(n, STRATA_INVALID_MODEL, "missing input %s", what);
    if (!dtype_is_float(t->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "%s has type %s; want a float type", what,
                        strata_dtype_name(t->dtype));
    return STRATA_OK;
}

double *transformer_util_load(const strata_tensor *t)
{
    if (!t) return NULL;
    int64_t cnt = shape_numel(t->rank, t->dims);
    if (cnt < 0) return NULL;
    double *d = mem_alloc((size_t)(cnt > 0 ? cnt : 1) * sizeof *d);
    if (!d) return NULL;
    if (t->dtype == STRATA_DTYPE_F32) {
        const float *s = t->data;
        for (int64_t i = 0; i < cnt; i++) d[i] = s[i];
    } else if (t->dtype == STRATA_DTYPE_F64) {
        const double *s = t->data;
        for (int64_t i = 0; i < cnt; i++) d[i] = s[i];
    } else {
        for (int64_t i = 0; i < cnt; i++) d[i] = tensor_get_f64(t, i);
    }
    return d;
}

void transformer_util_store(strata_tensor *t, const double *src)
{
    int64_t cnt = shape_numel(t->rank, t->dims);
    if (t->dtype == STRATA_DTYPE_F32) {
        float *d = t->data;
        for (int64_t i = 0; i < cnt; i++) d[i] = (float)src[i];
    } else if (t->dtype == STRATA_DTYPE_F64) {
        double *d = t->data;
        for (int64_t i = 0; i < cnt; i++) d[i] = src[i];
    } else {
        for (int64_t i = 0; i < cnt; i++) tensor_set_f64(t, i, src[i]);
    }
}

strata_status transformer_util_oom(const op_node *n)
{
    return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory for scratch buffers");
}

int64_t transformer_util_mul_dim(int64_t a, int64_t b)
{
    return a < 0 || b < 0 ? -1 : a * b;
}

int64_t transformer_util_add_dim(int64_t a, int64_t b)
{
    return a < 0 || b < 0 ? -1 : a + b;
}

strata_status transformer_util_scalar_int(const op_node *n, const strata_tensor *t,
                                          const char *what, int64_t *out)
{
    if (!t) return op_error(n, STRATA_INVALID_MODEL, "missing input %s", what);
    if (!dtype_is_int(t->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s has type %s; want an integer", what,
                        strata_dtype_name(t->dtype));
    if (shape_numel(t->rank, t->dims) != 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s must hold one value", what);
    if (!t->data) return STRATA_NOT_FOUND;
    *out = tensor_get_i64(t, 0);
    return STRATA_OK;
}
