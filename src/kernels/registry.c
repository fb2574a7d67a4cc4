/* kernels/registry.c — finds the reference op for (domain, op_type, opset) across the op
 * families' tables. */
#include <string.h>

#include "kernels.h"

static const op_def *const families[] = {ref_ops_math,        ref_ops_tensor, ref_ops_nn,
                                        ref_ops_transformer, ref_ops_loss,   ref_ops_signal,
                                        ref_ops_fused,       ref_ops_seq,    ref_ops_fused_dwpw};

static bool same_domain(const char *a, const char *b)
{
    if (!a || strcmp(a, "ai.onnx") == 0) a = "";
    if (!b || strcmp(b, "ai.onnx") == 0) b = "";
    return strcmp(a, b) == 0;
}

const op_def *ref_op_find(const char *domain, const char *op_type, int opset)
{
    const op_def *best = NULL;
    for (size_t f = 0; f < ARRAY_LEN(families); f++)
        for (const op_def *d = families[f]; d->op_type; d++)
            if (strcmp(d->op_type, op_type) == 0 && same_domain(d->domain, domain) &&
                d->since_opset <= opset && (!best || d->since_opset > best->since_opset))
                best = d;
    return best;
}

void ref_op_foreach(void (*fn)(const op_def *d, void *ctx), void *ctx)
{
    for (size_t f = 0; f < ARRAY_LEN(families); f++)
        for (const op_def *d = families[f]; d->op_type; d++) fn(d, ctx);
}

strata_status ref_op_check_values(const op_def *d, const op_node *n,
                                  const strata_tensor *const *in)
{
    for (const op_def *q = ref_ops_seq; q->op_type; q++)
        if (q == d) return STRATA_OK;
    for (size_t k = 0; k < n->n_inputs; k++)
        if (in[k] && dtype_is_container(in[k]->dtype))
            return op_error(n, STRATA_INVALID_ARGUMENT, "input %zu is a %s; this op takes tensors",
                            k, strata_dtype_name(in[k]->dtype));
    return STRATA_OK;
}
