/* kernels/ref/math_bcast.c — numpy broadcasting for the math ops: the result shape of several
 * inputs and an iterator that walks the output keeping each input's element offset. */
#include "ref_math.h"

void math_bcast_init(math_bcast *it, int out_rank, const int64_t *out_dims, int n,
                     const strata_tensor *const *ins)
{
    it->rank = out_rank;
    it->n = n;
    for (int d = 0; d < out_rank; d++) {
        it->dims[d] = out_dims[d];
        it->idx[d] = 0;
    }
    for (int k = 0; k < n; k++) {
        shape_broadcast_strides(ins[k]->rank, ins[k]->dims, out_rank, it->strides[k]);
        it->off[k] = 0;
    }
}

strata_status math_bcast_shape(const op_node *n, const strata_tensor *const *ins, size_t n_ins,
                               int *rank, int64_t *dims)
{
    int r = 0;
    bool any = false;
    for (size_t k = 0; k < n_ins; k++) {
        const strata_tensor *t = ins[k];
        if (!t) continue;
        if (!any) {
            r = t->rank;
            for (int d = 0; d < r; d++) dims[d] = t->dims[d];
            any = true;
            continue;
        }
        strata_status st = shape_broadcast(r, dims, t->rank, t->dims, &r, dims);
        if (st != STRATA_OK)
            return op_error(n, STRATA_INVALID_ARGUMENT, "input %zu: %s", k,
                            strata_last_error());
    }
    if (!any) return op_error(n, STRATA_INVALID_MODEL, "needs at least one input");
    *rank = r;
    return STRATA_OK;
}
