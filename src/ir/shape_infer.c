/* ir/shape_infer.c — static shape and dtype inference: walks a verified (topologically sorted)
 * graph and asks each node's reference op for its outputs' dtype and shape. Small constant
 * subexpressions (initializers, Shape of a known shape, arithmetic on those) are evaluated on
 * the way so that Reshape targets and similar shape inputs become known. */
#include <string.h>

#include "ir.h"
#include "kernels/kernels.h"

#define FOLD_LIMIT_BYTES (1u << 20) /* constants larger than this are not evaluated */

static void value_to_tensor(const ir_value *v, strata_tensor *t)
{
    memset(t, 0, sizeof *t);
    t->dtype = v->dtype;
    t->rank = v->rank < 0 ? 0 : v->rank;
    for (int d = 0; d < t->rank; d++) t->dims[d] = v->dims[d];
}

static bool value_known(const ir_value *v)
{
    return v->kind == VALUE_TENSOR && v->dtype != STRATA_DTYPE_UNDEFINED && v->rank >= 0;
}

/* Merges an inferred tensor type into a value: inferred facts fill unknowns; declared dims win
 * where the inference has -1. */
static void merge_into(ir_value *v, const strata_tensor *t)
{
    if (v->dtype == STRATA_DTYPE_UNDEFINED) v->dtype = t->dtype;
    if (v->rank < 0) {
        v->rank = t->rank;
        for (int d = 0; d < t->rank; d++) v->dims[d] = t->dims[d];
    } else if (v->rank == t->rank) {
        for (int d = 0; d < t->rank; d++)
            if (v->dims[d] < 0 && t->dims[d] >= 0 && !v->dim_names[d]) v->dims[d] = t->dims[d];
    }
}

strata_status ir_graph_infer_shapes(ir_graph *g)
{
    size_t nv = g->n_values;
    strata_tensor **known = mem_calloc(nv + 1, sizeof *known); /* folded constant values */
    strata_tensor *tin = mem_calloc(64, sizeof *tin);
    strata_tensor *tout = mem_calloc(64, sizeof *tout);
    const strata_tensor *pin[64];
    strata_tensor *pout[64];
    strata_status st = STRATA_OK;
    if (!known || !tin || !tout) {
        st = error_set(STRATA_OUT_OF_MEMORY, "shape inference: out of memory");
        goto done;
    }
    for (size_t v = 0; v < nv; v++) {
        ir_value *val = &g->values[v];
        if (val->init && val->rank < 0) {
            val->dtype = val->init->dtype;
            val->rank = val->init->rank;
            for (int d = 0; d < val->rank; d++) val->dims[d] = val->init->dims[d];
        }
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (n->n_inputs > 64 || n->n_outputs > 64) continue;
        int64_t opset = ir_model_opset(g->model, n->domain);
        const op_def *d = opset >= 0 ? ref_op_find(n->domain, n->op_type, (int)opset) : NULL;
        if (!d) continue;
        bool all_inputs_known = true, all_data = true;
        bool is_graph_input[64] = {false};
        for (size_t k = 0; k < n->n_inputs; k++) {
            int id = n->inputs[k];
            pin[k] = NULL;
            if (id < 0) continue;
            const ir_value *v = &g->values[id];
            if (!value_known(v)) {
                all_inputs_known = false;
                break;
            }
            for (size_t q = 0; q < g->n_inputs; q++)
                if (g->inputs[q] == id) is_graph_input[k] = true;
            value_to_tensor(v, &tin[k]);
            if (v->init && !is_graph_input[k]) tin[k].data = v->init->data, tin[k].n_bytes = v->init->n_bytes;
            else if (known[id]) tin[k].data = known[id]->data, tin[k].n_bytes = known[id]->n_bytes;
            else if ((strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0) &&
                     n->domain[0] == 0 && shape_numel(v->rank, v->dims) >= 0)
                tin[k].data = (void *)""; /* only the (fully known) shape is read */
            else all_data = false;
            pin[k] = &tin[k];
        }
        if (!all_inputs_known) continue;
        for (size_t j = 0; j < 64; j++) { /* slots past n_outputs read as absent */
            memset(&tout[j], 0, sizeof tout[j]);
            pout[j] = j < n->n_outputs && n->outputs[j] >= 0 ? &tout[j] : NULL;
        }
        op_node on = {n->name, n->op_type, n->domain, (int)opset, n->attrs, n->n_attrs,
                      n->n_inputs, n->n_outputs};
        strata_status r = d->infer(&on, pin, pout);
        if (r != STRATA_OK) continue; /* unknown stays unknown; errors surface when it runs */
        for (size_t j = 0; j < n->n_outputs; j++) {
            int id = n->outputs[j];
            if (id < 0 || !dtype_is_valid((int)tout[j].dtype)) continue;
            merge_into(&g->values[id], &tout[j]);
        }
        /* fold small constant computations so later shape inputs are known */
        if (!all_data) continue;
        bool small = true;
        for (size_t j = 0; j < n->n_outputs; j++) {
            if (!pout[j]) continue;
            int64_t ne = shape_numel(tout[j].rank, tout[j].dims);
            if (ne < 0 || (uint64_t)ne * strata_dtype_size(tout[j].dtype) > FOLD_LIMIT_BYTES) small = false;
        }
        if (!small) continue;
        strata_tensor *res[64] = {NULL};
        bool ok = true;
        for (size_t j = 0; j < n->n_outputs && ok; j++) {
            if (!pout[j]) continue;
            ok = strata_tensor_create(tout[j].dtype, tout[j].rank, tout[j].dims, &res[j]) == STRATA_OK;
        }
        if (ok) ok = d->compute(&on, pin, res) == STRATA_OK;
        for (size_t j = 0; j < n->n_outputs; j++) {
            int id = n->outputs[j];
            if (ok && id >= 0 && res[j] && !known[id]) {
                known[id] = res[j];
                res[j] = NULL;
            }
            strata_tensor_destroy(res[j]);
        }
    }
done:
    if (known)
        for (size_t v = 0; v < nv; v++) strata_tensor_destroy(known[v]);
    mem_free(known);
    mem_free(tin);
    mem_free(tout);
    return st;
}
