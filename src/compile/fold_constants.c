/* compile/fold_constants.c — pass: a node whose inputs are all constants is evaluated once
 * with its reference op and its outputs become initializers; Constant nodes become
 * initializers; Shape of a fully known shape becomes a constant. Outputs over
 * COMPILE_FOLD_LIMIT_BYTES are left alone (a model may not blow up at compile time). */
#include <string.h>

#include "internal.h"
#include "kernels/kernels.h"

static bool has_subgraph(const ir_node *n)
{
    for (size_t a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == ATTR_GRAPH || n->attrs[a].type == ATTR_GRAPHS) return true;
    return false;
}

/* Evaluates node i (all inputs constant) and turns its outputs into initializers. */
static strata_status fold_node(ir_model *m, ir_graph *g, size_t i, bool *folded)
{
    ir_node *n = &g->nodes[i];
    *folded = false;
    if (n->n_inputs > 16 || n->n_outputs > 16 || has_subgraph(n)) return STRATA_OK;
    int64_t opset = ir_model_opset(m, n->domain);
    const op_def *d = opset >= 0 ? ref_op_find(n->domain, n->op_type, (int)opset) : NULL;
    if (!d) return STRATA_OK;
    const strata_tensor *in[16];
    strata_tensor shape_only[16];
    for (size_t k = 0; k < n->n_inputs; k++) {
        int id = n->inputs[k];
        in[k] = NULL;
        if (id < 0) continue;
        const strata_tensor *c = value_const(g, id);
        if (c) {
            in[k] = c;
            continue;
        }
        /* Shape and Size read only the shape: a fully known shape is enough */
        const ir_value *v = &g->values[id];
        if ((node_is(n, "Shape") || node_is(n, "Size")) && value_shape_known(v)) {
            memset(&shape_only[k], 0, sizeof shape_only[k]);
            shape_only[k].dtype = v->dtype;
            shape_only[k].rank = v->rank;
            memcpy(shape_only[k].dims, v->dims, sizeof v->dims);
            shape_only[k].data = (void *)""; /* never read */
            in[k] = &shape_only[k];
            continue;
        }
        return STRATA_OK;
    }
    op_node on = {n->name, n->op_type, n->domain, (int)opset, n->attrs, n->n_attrs, n->n_inputs, n->n_outputs};
    strata_tensor *out[16] = {NULL};
    strata_status st = STRATA_OK;
    for (size_t k = 0; k < n->n_outputs; k++) {
        if (n->outputs[k] < 0) continue;
        out[k] = mem_calloc(1, sizeof(strata_tensor));
        if (!out[k]) {
            st = error_set(STRATA_OUT_OF_MEMORY, "fold: out of memory");
            goto done;
        }
    }
    if (d->infer(&on, in, out) != STRATA_OK) goto done; /* leave it for run time to report */
    bool constant_node = node_is(n, "Constant");
    for (size_t k = 0; k < n->n_outputs; k++) {
        if (!out[k]) continue;
        if (tensor_set_shape(out[k], out[k]->dtype, out[k]->rank, out[k]->dims) != STRATA_OK) goto done;
        if (!constant_node && out[k]->n_bytes > COMPILE_FOLD_LIMIT_BYTES) goto done;
        if ((st = tensor_alloc_data(out[k])) != STRATA_OK) goto done;
    }
    if (d->compute(&on, in, out) != STRATA_OK) goto done;
    for (size_t k = 0; k < n->n_outputs; k++) {
        int id = n->outputs[k];
        if (id < 0 || !out[k]) continue;
        ir_value *v = &g->values[id];
        strata_tensor_destroy(v->init);
        v->init = out[k];
        out[k] = NULL;
        v->dtype = v->init->dtype;
        v->rank = v->init->rank;
        memcpy(v->dims, v->init->dims, sizeof v->dims);
    }
    n->dead = true;
    *folded = true;
done:
    for (size_t k = 0; k < n->n_outputs; k++) strata_tensor_destroy(out[k]);
    return st;
}

strata_status pass_fold_constants(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)o;
    for (size_t i = 0; i < g->n_nodes; i++) { /* topological: folded outputs feed later nodes */
        if (g->nodes[i].dead) continue;
        bool folded;
        strata_status st = fold_node(m, g, i, &folded);
        if (st != STRATA_OK) return st;
        if (folded) (*n_changed)++;
    }
    return STRATA_OK;
}
