/* kernels/ref/seq_optional.c — reference ops over optional values: Optional (wrap a value, or
 * none), OptionalHasElement and OptionalGetElement (opset 18 also accepts plain tensors and
 * sequences, which always have an element). */
#include "ref_seq.h"

strata_status seq_optional_infer(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (x && x->dtype == STRATA_DTYPE_OPTIONAL)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input is already an optional");
    if (!x && !attr_find(n->attrs, n->n_attrs, "type"))
        return op_error(n, STRATA_INVALID_MODEL, "an Optional without input needs a 'type' attribute");
    return seq_out_type(out[0], STRATA_DTYPE_OPTIONAL, x ? 1 : 0);
}

strata_status seq_optional_compute(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    strata_status st = tensor_alloc_container(out[0], STRATA_DTYPE_OPTIONAL, x ? 1 : 0);
    if (st == STRATA_OK && x) st = tensor_clone(x, &((strata_tensor **)out[0]->data)[0]);
    return st;
}

strata_status seq_optional_has_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], STRATA_DTYPE_BOOL, 0, NULL);
}

strata_status seq_optional_has_compute(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    bool has = x && (x->dtype != STRATA_DTYPE_OPTIONAL || x->dims[0] == 1);
    ((uint8_t *)out[0]->data)[0] = has;
    return STRATA_OK;
}

/* The value OptionalGetElement returns (borrowed); NOT_FOUND while unknown. */
static strata_status get_element(const op_node *n, const strata_tensor *const *in,
                                 const strata_tensor **val)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input 0 (input)");
    if (x->dtype != STRATA_DTYPE_OPTIONAL) {
        *val = x;
        return STRATA_OK;
    }
    if (!x->data) return STRATA_NOT_FOUND;
    if (x->dims[0] == 0 || !((strata_tensor *const *)x->data)[0])
        return op_error(n, STRATA_INVALID_ARGUMENT, "the optional input holds no value");
    *val = ((strata_tensor *const *)x->data)[0];
    return STRATA_OK;
}

strata_status seq_optional_get_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    const strata_tensor *v = NULL;
    strata_status st = get_element(n, in, &v);
    if (st != STRATA_OK) return st;
    return seq_out_like(out[0], v);
}

strata_status seq_optional_get_compute(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    const strata_tensor *v = NULL;
    strata_status st = get_element(n, in, &v);
    if (st != STRATA_OK) return st;
    if (dtype_is_container(v->dtype)) return seq_copy_value(out[0], v);
    return seq_copy_data(out[0], v);
}
