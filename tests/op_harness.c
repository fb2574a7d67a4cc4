/* tests/op_harness.c — see op_harness.h. */
#include <string.h>

#include "op_harness.h"

#define MAX_IO 8

strata_tensor *op_tensor(strata_dtype dt, int rank, const int64_t *dims, const double *vals)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(dt, rank, dims, &t) != STRATA_OK) return NULL;
    int64_t n = shape_numel(rank, dims);
    for (int64_t i = 0; i < n && vals; i++) tensor_set_f64(t, i, vals[i]);
    return t;
}

strata_status op_run(const char *op, int opset, const attr *attrs, size_t n_attrs,
                     strata_tensor **ins, size_t n_in, strata_tensor **outs, size_t n_out)
{
    for (size_t j = 0; j < n_out; j++) outs[j] = NULL;
    if (n_out > MAX_IO) return error_set(STRATA_INVALID_ARGUMENT, "op_run: too many outputs");
    const op_def *d = ref_op_find("", op, opset);
    if (!d) return error_set(STRATA_UNSUPPORTED, "no op %s at opset %d", op, opset);
    op_node n = {"t", op, "", opset, attrs, n_attrs, n_in, n_out};
    strata_tensor *o[MAX_IO] = {0};
    for (size_t j = 0; j < n_out; j++) o[j] = mem_calloc(1, sizeof(strata_tensor));
    strata_status st = d->infer(&n, (const strata_tensor *const *)ins, o);
    for (size_t j = 0; st == STRATA_OK && j < n_out; j++) {
        st = tensor_set_shape(o[j], o[j]->dtype, o[j]->rank, o[j]->dims);
        if (st == STRATA_OK) st = tensor_alloc_data(o[j]);
    }
    if (st == STRATA_OK) st = d->compute(&n, (const strata_tensor *const *)ins, o);
    for (size_t j = 0; j < n_out; j++) {
        if (st == STRATA_OK) outs[j] = o[j];
        else strata_tensor_destroy(o[j]);
    }
    return st;
}

attr attr_int_of(const char *name, int64_t v)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = ATTR_INT;
    a.i = v;
    return a;
}

attr attr_float_of(const char *name, float v)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = ATTR_FLOAT;
    a.f = v;
    return a;
}

attr attr_ints_of(const char *name, int64_t *v, size_t n)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = ATTR_INTS;
    a.ints = v;
    a.n = n;
    return a;
}

attr attr_string_of(const char *name, const char *s)
{
    attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = ATTR_STRING;
    a.s = (char *)s;
    a.s_len = strlen(s);
    return a;
}
