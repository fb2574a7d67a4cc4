/* compile/infer_shapes.c — pass: apply the compile-time input shapes (--shape / --profile:
 * dims that vary across the profile stay symbolic) and infer every node output afresh. */
#include <string.h>

#include "internal.h"

strata_status pass_infer_shapes(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)m;
    for (int s = 0; s < o->n_shapes; s++) {
        const compile_shape *cs = &o->shapes[s];
        int id = ir_graph_find(g, cs->name);
        if (id < 0 || !ir_graph_is_input(g, id))
            return error_set(STRATA_INVALID_ARGUMENT, "compile: --shape names '%s', which is not a graph input",
                             cs->name);
        ir_value *v = &g->values[id];
        if (v->rank >= 0 && v->rank != cs->rank)
            return error_set(STRATA_INVALID_ARGUMENT, "compile: input '%s' has rank %d, --shape gives %d",
                             cs->name, v->rank, cs->rank);
        for (int d = 0; d < cs->rank; d++) {
            if (v->rank >= 0 && v->dims[d] >= 0 && v->dims[d] != cs->max[d])
                return error_set(STRATA_INVALID_ARGUMENT,
                                 "compile: input '%s' dim %d is fixed at %lld, --shape gives %lld",
                                 cs->name, d, (long long)v->dims[d], (long long)cs->max[d]);
            bool fixed = cs->min[d] == cs->max[d];
            v->dims[d] = fixed ? cs->max[d] : -1;
            if (fixed) {
                mem_free(v->dim_names[d]);
                v->dim_names[d] = NULL;
            }
        }
        v->rank = cs->rank;
        (*n_changed)++;
    }
    graph_forget_shapes(g);
    return ir_graph_infer_shapes(g);
}

void graph_forget_shapes(ir_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_outputs; k++) {
            int id = g->nodes[i].outputs[k];
            if (id < 0) continue;
            ir_value *v = &g->values[id];
            if (v->kind != VALUE_TENSOR) continue;
            v->rank = -1;
            for (int d = 0; d < STRATA_MAX_DIMS; d++) {
                mem_free(v->dim_names[d]);
                v->dim_names[d] = NULL;
                v->dims[d] = -1;
            }
        }
}
