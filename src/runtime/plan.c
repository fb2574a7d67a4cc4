/* runtime/plan.c — open a plan: map and validate it (serialize/plan_read.c), then resolve each
 * step's kernel name to code on this machine, refusing with the step and kernel named when one
 * does not exist here. */
#include <stdio.h>
#include <string.h>

#include "runtime.h"

/* Resolves kernel name for node n: "<domain.>Op__ref" is the node's reference op; any other
 * name is a fast kernel, which this CPU must be able to run. */
static strata_status resolve(const ir_node *n, const char *name, int opset, size_t step,
                             const op_def **out, const fast_kernel **fast)
{
    char want[300];
    snprintf(want, sizeof want, "%s%s%s__ref", n->domain, n->domain[0] ? "." : "", n->op_type);
    *fast = NULL;
    if (strcmp(name, want) != 0) {
        const fast_kernel *k = fast_kernel_find(name, n->op_type, n->domain);
        if (!k)
            return error_set(STRATA_PLAN_MISMATCH, "plan step %zu (node '%s', %s) needs kernel '%s', "
                             "which this strata does not have", step, n->name, n->op_type, name);
        uint32_t have = cpu_features();
        if (k->isa & ~have) {
            char nb[160], hb[160];
            return error_set(STRATA_PLAN_MISMATCH, "plan step %zu (node '%s') needs %s, which needs [%s]; "
                             "this CPU has [%s]", step, n->name, name,
                             cpu_feature_names(k->isa, nb, sizeof nb), cpu_feature_names(have, hb, sizeof hb));
        }
        *fast = k;
    }
    *out = NULL;
    if (ir_is_control_op(n)) return STRATA_OK; /* run by ir_eval_control */
    *out = ref_op_find(n->domain, n->op_type, opset);
    if (!*out)
        return error_set(STRATA_PLAN_MISMATCH, "plan step %zu (node '%s'): no kernel for %s (opset %d)",
                         step, n->name, n->op_type, opset);
    return STRATA_OK;
}

strata_status strata_plan_open(const char *path, strata_plan **out)
{
    *out = NULL;
    strata_plan *p = mem_calloc(1, sizeof *p);
    if (!p) return error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
    strata_status st = plan_read(path, true, &p->view);
    if (st != STRATA_OK) goto fail;
    const ir_graph *g = p->view->model->graph;
    p->model.ir = p->view->model;
    p->ops = mem_calloc(g->n_nodes + 1, sizeof *p->ops);
    p->opsets = mem_calloc(g->n_nodes + 1, sizeof *p->opsets);
    p->fast = mem_calloc(g->n_nodes + 1, sizeof *p->fast);
    p->slot_of = mem_calloc(g->n_values + 1, sizeof *p->slot_of);
    if (!p->ops || !p->opsets || !p->slot_of || !p->fast) {
        st = error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
        goto fail;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        int64_t opset = ir_model_opset(p->view->model, n->domain);
        if (opset < 0) {
            st = error_set(STRATA_INVALID_MODEL, "%s: node '%s' uses domain '%s' the plan does not import",
                           path, n->name, n->domain);
            goto fail;
        }
        p->opsets[i] = (int)opset;
        if ((st = resolve(n, p->view->program.kernels[i], (int)opset, i, &p->ops[i], &p->fast[i])) != STRATA_OK) {
            error_prefix(st, "%s", path);
            goto fail;
        }
    }
    for (size_t v = 0; v < g->n_values; v++) p->slot_of[v] = -1;
    for (size_t s = 0; s < p->view->program.n_slots; s++) {
        int id = ir_graph_find(g, p->view->program.slots[s].name);
        if (id < 0 || g->values[id].producer < 0) {
            st = error_set(STRATA_INVALID_MODEL, "%s: plan slot '%s' is not a node output of the graph",
                           path, p->view->program.slots[s].name);
            goto fail;
        }
        p->slot_of[id] = (int64_t)s;
    }
    /* slot lifetimes (for the arena stress check) */
    size_t ns = p->view->program.n_slots;
    p->slot_first = mem_calloc(ns + 1, sizeof *p->slot_first);
    p->slot_last = mem_calloc(ns + 1, sizeof *p->slot_last);
    if (!p->slot_first || !p->slot_last) {
        st = error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
        goto fail;
    }
    for (size_t s = 0; s < ns; s++) p->slot_last[s] = -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0 && p->slot_of[n->outputs[k]] >= 0) {
                p->slot_first[p->slot_of[n->outputs[k]]] = (int)i;
                if (p->slot_last[p->slot_of[n->outputs[k]]] < (int)i) p->slot_last[p->slot_of[n->outputs[k]]] = (int)i;
            }
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && p->slot_of[n->inputs[k]] >= 0) p->slot_last[p->slot_of[n->inputs[k]]] = (int)i;
        if (ir_is_control_op(n)) /* subgraphs may read anything produced so far */
            for (size_t s = 0; s < ns; s++)
                if (p->slot_first[s] <= (int)i && p->slot_last[s] < (int)i) p->slot_last[s] = (int)i;
    }
    for (size_t o = 0; o < g->n_outputs; o++)
        if (p->slot_of[g->outputs[o]] >= 0) p->slot_last[p->slot_of[g->outputs[o]]] = (int)g->n_nodes;
    for (size_t i = 0; i < p->view->program.n_inputs; i++) {
        int id = ir_graph_find(g, p->view->program.inputs[i].name);
        if (id < 0 || !ir_graph_is_input(g, id) || g->values[id].rank != p->view->program.inputs[i].rank) {
            st = error_set(STRATA_INVALID_MODEL, "%s: plan profile names input '%s', which the graph "
                           "does not have with that rank", path, p->view->program.inputs[i].name);
            goto fail;
        }
    }
    *out = p;
    return STRATA_OK;
fail:
    strata_plan_close(p);
    return st;
}

void strata_plan_close(strata_plan *p)
{
    if (!p) return;
    plan_view_close(p->view);
    mem_free(p->ops);
    mem_free(p->opsets);
    mem_free(p->fast);
    mem_free(p->slot_of);
    mem_free(p->slot_first);
    mem_free(p->slot_last);
    mem_free(p);
}

uint64_t strata_plan_arena_bytes(const strata_plan *p)
{
    return p ? p->view->program.arena_bytes : 0;
}

const strata_model *strata_plan_model(const strata_plan *p)
{
    return p ? &p->model : NULL;
}
