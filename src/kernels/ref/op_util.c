/* kernels/ref/op_util.c — attribute access and error helpers shared by the reference ops. */
#include <stdarg.h>
#include <stdio.h>

#include "kernels/kernels.h"

int64_t op_attr_int(const op_node *n, const char *name, int64_t dflt)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    return a && a->type == ATTR_INT ? a->i : dflt;
}

float op_attr_float(const op_node *n, const char *name, float dflt)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    if (!a) return dflt;
    if (a->type == ATTR_FLOAT) return a->f;
    if (a->type == ATTR_INT) return (float)a->i;
    return dflt;
}

const char *op_attr_string(const op_node *n, const char *name, const char *dflt)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    return a && a->type == ATTR_STRING ? a->s : dflt;
}

const int64_t *op_attr_ints(const op_node *n, const char *name, size_t *n_out)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    if (!a || a->type != ATTR_INTS) {
        *n_out = 0;
        return NULL;
    }
    *n_out = a->n;
    return a->ints ? a->ints : (const int64_t *)"";
}

const float *op_attr_floats(const op_node *n, const char *name, size_t *n_out)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    if (!a || a->type != ATTR_FLOATS) {
        *n_out = 0;
        return NULL;
    }
    *n_out = a->n;
    return a->floats ? a->floats : (const float *)"";
}

strata_status op_error(const op_node *n, strata_status code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(code, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type, msg);
}

const strata_tensor *op_input(const op_node *n, const strata_tensor *const *in, size_t i)
{
    return i < n->n_inputs ? in[i] : NULL;
}

strata_status op_axis(const op_node *n, int64_t axis, int rank, int *out)
{
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank > 0 ? rank : 1))
        return op_error(n, STRATA_INVALID_MODEL, "axis %lld out of range for rank %d",
                        (long long)axis, rank);
    *out = (int)a;
    return STRATA_OK;
}
