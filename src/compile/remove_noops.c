/* compile/remove_noops.c — pass: nodes that pass their input through unchanged are dropped
 * and their readers read the input: Identity, Dropout at inference, Cast to the same type,
 * Reshape/Expand/Flatten/Squeeze/Unsqueeze whose output shape equals the input's. */
#include <string.h>

#include "internal.h"

static bool same_shape(const ir_value *a, const ir_value *b)
{
    if (!value_shape_known(a) || !value_shape_known(b) || a->rank != b->rank) return false;
    return memcmp(a->dims, b->dims, (size_t)a->rank * sizeof a->dims[0]) == 0 && a->dtype == b->dtype;
}

static bool is_noop(const ir_graph *g, const ir_node *n)
{
    if (n->n_inputs < 1 || n->inputs[0] < 0 || n->n_outputs < 1 || n->outputs[0] < 0) return false;
    for (size_t k = 1; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0) return false; /* e.g. Dropout's mask is read */
    const ir_value *in = &g->values[n->inputs[0]], *out = &g->values[n->outputs[0]];
    if (node_is(n, "Identity")) return in->kind == VALUE_TENSOR;
    if (node_is(n, "Dropout")) {
        /* training_mode (opset 12+) must be absent or a constant false */
        if (n->n_inputs >= 3 && n->inputs[2] >= 0) {
            const strata_tensor *t = value_const(g, n->inputs[2]);
            if (!t || strata_tensor_numel(t) != 1 || tensor_get_f64(t, 0) != 0.0) return false;
        }
        const attr *a = attr_find(n->attrs, n->n_attrs, "is_test");
        (void)a; /* opset < 7: is_test only changes the mask output, already excluded */
        return true;
    }
    if (node_is(n, "Cast"))
        return in->dtype != STRATA_DTYPE_UNDEFINED && in->dtype == out->dtype;
    if (node_is(n, "Reshape") || node_is(n, "Expand") || node_is(n, "Flatten") ||
        node_is(n, "Squeeze") || node_is(n, "Unsqueeze"))
        return same_shape(in, out);
    return false;
}

strata_status pass_remove_noops(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)m;
    (void)o;
    int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
    if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "remove_noops: out of memory");
    ir_graph_count_uses(g, uses);
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (n->dead || !is_noop(g, n)) continue;
        int in = n->inputs[0], out = n->outputs[0];
        if (!ir_graph_is_output(g, out)) {
            ir_graph_replace_uses(g, out, in);
            uses[in] += uses[out] - 1; /* out's readers now read in; this node no longer does */
            uses[out] = 0;
            n->dead = true;
            (*n_changed)++;
            continue;
        }
        /* out is a graph output: let in's producer write out directly, if in is private */
        int p = node_producer(g, in);
        if (p < 0 || uses[in] != 1 || ir_graph_is_output(g, in)) continue;
        ir_node *pn = &g->nodes[p];
        for (size_t k = 0; k < pn->n_outputs; k++)
            if (pn->outputs[k] == in) pn->outputs[k] = out;
        g->values[out].producer = p;
        g->values[in].producer = -1;
        n->dead = true;
        (*n_changed)++;
    }
    mem_free(uses);
    return STRATA_OK;
}
