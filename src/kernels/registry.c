/* kernels/registry.c — finds the reference op for (domain, op_type, opset) across the op
 * families' tables, through an index by op_type built once (lookups run at every step of a
 * plan: the fused ops find their base op's shape inference; a scan of every table cost
 * MobileNetV2 ~1% of a run in strcmp). */
#include <pthread.h>
#include <string.h>

#include "core/core.h"
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

/* Open addressing over every op_def by its op_type's hash; a slot holds one def (an op_type
 * with several domains or opsets takes several slots of its probe run). */
#define INDEX_SLOTS 2048
static const op_def *index_slots[INDEX_SLOTS];
static bool index_ok; /* false: a table outgrew the index, scan instead */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static size_t name_slot(const char *op_type)
{
    return (size_t)hash64(op_type, strlen(op_type), 0) & (INDEX_SLOTS - 1);
}

static void index_build(void)
{
    size_t used = 0;
    for (size_t f = 0; f < ARRAY_LEN(families); f++)
        for (const op_def *d = families[f]; d->op_type; d++) {
            if (++used > INDEX_SLOTS / 2) return; /* too full to probe well: index_ok stays false */
            size_t i = name_slot(d->op_type);
            while (index_slots[i]) i = (i + 1) & (INDEX_SLOTS - 1);
            index_slots[i] = d;
        }
    index_ok = true;
}

static void consider(const op_def *d, const char *domain, const char *op_type, int opset, const op_def **best)
{
    if (strcmp(d->op_type, op_type) == 0 && same_domain(d->domain, domain) && d->since_opset <= opset &&
        (!*best || d->since_opset > (*best)->since_opset))
        *best = d;
}

const op_def *ref_op_find(const char *domain, const char *op_type, int opset)
{
    const op_def *best = NULL;
    pthread_once(&index_once, index_build);
    if (index_ok) {
        for (size_t i = name_slot(op_type); index_slots[i]; i = (i + 1) & (INDEX_SLOTS - 1))
            consider(index_slots[i], domain, op_type, opset, &best);
        return best;
    }
    for (size_t f = 0; f < ARRAY_LEN(families); f++)
        for (const op_def *d = families[f]; d->op_type; d++) consider(d, domain, op_type, opset, &best);
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
