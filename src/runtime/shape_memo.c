/* runtime/shape_memo.c — the executor's memo of shape inference: per step, the input shapes
 * (dtype, rank, dims) its last inference saw. A run whose inputs have the shapes of the last one
 * skips the step's inference and keeps the output shapes it found (a plan runs at one shape
 * again and again: MobileNetV2 spent ~1.5% of a batch-1 run re-deriving its 29 steps' shapes,
 * mostly attribute lookups by name).
 * Only steps whose output shapes follow from input shapes alone may skip: ops that read no input
 * values to infer, and ops that read only parameters which are initializers here (a Reshape's
 * constant shape). An op whose shapes depend on computed values (NonZero, Range, a Reshape to
 * a computed shape) infers every run. */
#include <string.h>

#include "runtime.h"

#define SLOT_INTS (2 + STRATA_MAX_DIMS) /* per input: dtype, rank, dims */

/* Output shapes follow from input shapes and attributes. */
static const char *const dims_only_ops[] = {
    "Conv", "FusedConv", "FusedDwPw", "Gemm", "FusedGemm", "MatMul", "FusedMatMul", "FusedAttention",
    "Transpose", "GlobalAveragePool", "GlobalMaxPool", "MaxPool", "AveragePool", "Flatten", "Identity",
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Gelu", "Erf", "Exp", "Sqrt", "Neg", "Abs", "Reciprocal",
    "HardSigmoid", "HardSwish", "Softplus", "Elu", "Selu", "PRelu", "Add", "Sub", "Mul", "Div", "Pow",
    "Softmax", "LogSoftmax", "LayerNormalization", "BatchNormalization", "InstanceNormalization", "Concat",
    "Cast", "Where", "Equal", "Less", "Greater", "Not", "And", "Or", "Min", "Max", "Sum", "Mean", "Gather",
};

/* Output shapes follow from input 0's shape and the values of the other inputs. */
static const char *const const_param_ops[] = {
    "Reshape", "Squeeze", "Unsqueeze", "Slice", "Expand", "Tile", "Pad", "Split",
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2",
};

static bool listed(const char *op, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(op, list[i]) == 0) return true;
    return false;
}

static bool may_skip(const ir_graph *g, const ir_node *n)
{
    if (n->domain[0] && strcmp(n->domain, "ai.onnx") != 0 && strcmp(n->domain, "com.strata") != 0) return false;
    if (n->n_inputs > 64 || n->n_outputs > 64) return false;
    if (listed(n->op_type, dims_only_ops, ARRAY_LEN(dims_only_ops))) return true;
    if (!listed(n->op_type, const_param_ops, ARRAY_LEN(const_param_ops))) return false;
    for (size_t k = 1; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !g->values[n->inputs[k]].init) return false;
    return true;
}

strata_status shape_memo_init(shape_memo *m, const strata_plan *p)
{
    const ir_graph *g = p->view->model->graph;
    memset(m, 0, sizeof *m);
    m->n_steps = g->n_nodes;
    m->first = mem_calloc(g->n_nodes + 1, sizeof *m->first);
    m->state = mem_calloc(g->n_nodes + 1, sizeof *m->state);
    if (!m->first || !m->state) return STRATA_OUT_OF_MEMORY;
    size_t ints = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        m->first[i] = ints;
        m->state[i] = p->ops[i] && may_skip(g, n) ? SHAPE_MEMO_EMPTY : SHAPE_MEMO_NEVER;
        if (m->state[i] != SHAPE_MEMO_NEVER) ints += n->n_inputs * SLOT_INTS;
    }
    m->seen = mem_calloc(ints + 1, sizeof *m->seen);
    return m->seen ? STRATA_OK : STRATA_OUT_OF_MEMORY;
}

void shape_memo_release(shape_memo *m)
{
    mem_free(m->first);
    mem_free(m->state);
    mem_free(m->seen);
    memset(m, 0, sizeof *m);
}

bool shape_memo_hit(const shape_memo *m, size_t step, const strata_tensor *const *in, size_t n_in)
{
    if (!m->state || step >= m->n_steps || m->state[step] != SHAPE_MEMO_HELD) return false;
    const int64_t *s = m->seen + m->first[step];
    for (size_t k = 0; k < n_in; k++, s += SLOT_INTS) {
        const strata_tensor *t = in[k];
        if (!t) {
            if (s[1] != -1) return false;
            continue;
        }
        if (s[0] != (int64_t)t->dtype || s[1] != t->rank ||
            memcmp(s + 2, t->dims, (size_t)t->rank * sizeof t->dims[0]) != 0)
            return false;
    }
    return true;
}

void shape_memo_forget(shape_memo *m, size_t step)
{
    if (m->state && step < m->n_steps && m->state[step] == SHAPE_MEMO_HELD) m->state[step] = SHAPE_MEMO_EMPTY;
}

void shape_memo_store(shape_memo *m, size_t step, const strata_tensor *const *in, size_t n_in)
{
    if (!m->state || step >= m->n_steps || m->state[step] == SHAPE_MEMO_NEVER) return;
    int64_t *s = m->seen + m->first[step];
    for (size_t k = 0; k < n_in; k++, s += SLOT_INTS) {
        const strata_tensor *t = in[k];
        if (t && (t->rank < 0 || t->rank > STRATA_MAX_DIMS)) return; /* stays EMPTY */
        s[0] = t ? (int64_t)t->dtype : 0;
        s[1] = t ? t->rank : -1;
        if (t) memcpy(s + 2, t->dims, (size_t)t->rank * sizeof t->dims[0]);
    }
    m->state[step] = SHAPE_MEMO_HELD;
}
