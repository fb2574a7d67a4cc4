/* compile/eliminate_dead.c — pass: drops nodes none of whose outputs is read (by a node, a
 * subgraph, or as a graph output), repeatedly, so whole dead chains go. */
#include "internal.h"

strata_status pass_eliminate_dead(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)m;
    (void)o;
    int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
    if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "eliminate_dead: out of memory");
    bool again = true;
    while (again) {
        again = false;
        ir_graph_count_uses(g, uses);
        for (size_t i = g->n_nodes; i-- > 0;) {
            ir_node *n = &g->nodes[i];
            if (n->dead) continue;
            bool read = false;
            for (size_t k = 0; k < n->n_outputs; k++)
                if (n->outputs[k] >= 0 && uses[n->outputs[k]] > 0) read = true;
            if (read) continue;
            n->dead = true;
            (*n_changed)++;
            again = true;
            for (size_t k = 0; k < n->n_inputs; k++)
                if (n->inputs[k] >= 0) uses[n->inputs[k]]--;
        }
    }
    mem_free(uses);
    return STRATA_OK;
}
