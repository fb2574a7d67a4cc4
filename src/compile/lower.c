/* compile/lower.c — optimized graph → plan: the accepted input shapes (profile), a kernel per
 * node, tensor sizes at the profile's max shapes, liveness, the memory plan (memory_plan.c),
 * and the plan file (serialize/plan_write.c). */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "kernels/kernels.h"

static const compile_shape *find_shape(const compile_options *o, const char *name)
{
    for (int s = 0; o && s < o->n_shapes; s++)
        if (strcmp(o->shapes[s].name, name) == 0) return &o->shapes[s];
    return NULL;
}

/* The accepted range of every graph input that is not an initializer. */
static strata_status build_profile(const ir_graph *g, const compile_options *o, plan_program *p)
{
    p->inputs = mem_calloc(g->n_inputs + 1, sizeof *p->inputs);
    if (!p->inputs) return error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
    for (size_t i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->init) continue;
        if (v->kind != VALUE_TENSOR || v->rank < 0)
            return error_set(STRATA_UNSUPPORTED, "lower: input '%s' has no tensor shape; give --shape",
                             v->name);
        plan_input *in = &p->inputs[p->n_inputs];
        in->name = mem_strdup(v->name);
        if (!in->name) return error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
        p->n_inputs++;
        in->rank = v->rank;
        const compile_shape *cs = find_shape(o, v->name);
        for (int d = 0; d < v->rank; d++) {
            if (v->dims[d] >= 0) in->min[d] = in->max[d] = v->dims[d];
            else if (cs) in->min[d] = cs->min[d], in->max[d] = cs->max[d];
            else in->min[d] = in->max[d] = 1; /* a symbolic dim without a profile */
        }
    }
    return STRATA_OK;
}

/* Sets input dims to max (or back to symbolic where min != max) and infers again. */
static strata_status infer_at(ir_graph *g, const plan_program *p, bool at_max)
{
    for (size_t i = 0; i < p->n_inputs; i++) {
        int id = ir_graph_find(g, p->inputs[i].name);
        ir_value *v = &g->values[id];
        for (int d = 0; d < v->rank; d++)
            v->dims[d] = at_max || p->inputs[i].min[d] == p->inputs[i].max[d] ? p->inputs[i].max[d] : -1;
    }
    graph_forget_shapes(g);
    return ir_graph_infer_shapes(g);
}

static void outer_last_use(const ir_graph *g, const ir_graph *sub, int step, int *last, int depth)
{
    if (depth > STRATA_MAX_SUBGRAPH_DEPTH) return;
    for (size_t v = 0; v < sub->n_values; v++)
        if (sub->values[v].is_outer) {
            int id = ir_graph_find(g, sub->values[v].name);
            if (id >= 0 && last[id] < step) last[id] = step;
        }
    for (size_t i = 0; i < sub->n_nodes; i++)
        for (size_t a = 0; a < sub->nodes[i].n_attrs; a++) {
            const attr *at = &sub->nodes[i].attrs[a];
            if (at->type == ATTR_GRAPH && at->g) outer_last_use(g, at->g, step, last, depth + 1);
            if (at->type == ATTR_GRAPHS)
                for (size_t k = 0; k < at->n; k++) outer_last_use(g, at->graphs[k], step, last, depth + 1);
        }
}

static strata_status build_slots(const ir_graph *g, plan_program *p)
{
    size_t nv = g->n_values, n_steps = g->n_nodes;
    int *last = mem_calloc(nv + 1, sizeof *last);
    mem_request *req = mem_calloc(nv + 1, sizeof *req);
    int *req_value = mem_calloc(nv + 1, sizeof *req_value);
    strata_status st = STRATA_OK;
    if (!last || !req || !req_value) {
        st = error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
        goto done;
    }
    for (size_t v = 0; v < nv; v++) last[v] = -1;
    for (size_t i = 0; i < n_steps; i++) {
        const ir_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) last[n->inputs[k]] = (int)i;
        for (size_t a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].type == ATTR_GRAPH && n->attrs[a].g) outer_last_use(g, n->attrs[a].g, (int)i, last, 1);
            if (n->attrs[a].type == ATTR_GRAPHS)
                for (size_t k = 0; k < n->attrs[a].n; k++) outer_last_use(g, n->attrs[a].graphs[k], (int)i, last, 1);
        }
    }
    for (size_t o = 0; o < g->n_outputs; o++) last[g->outputs[o]] = (int)n_steps;
    size_t n_req = 0;
    for (size_t i = 0; i < n_steps; i++) {
        const ir_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_outputs; k++) {
            int id = n->outputs[k];
            if (id < 0) continue;
            const ir_value *v = &g->values[id];
            if (v->kind != VALUE_TENSOR || v->dtype == STRATA_DTYPE_STRING || !value_shape_known(v))
                continue; /* sized at run time, in the session's scratch */
            int64_t numel = shape_numel(v->rank, v->dims);
            if (numel < 0) continue;
            req[n_req].n_bytes = (uint64_t)numel * strata_dtype_size(v->dtype);
            req[n_req].first = (int)i;
            req[n_req].last = last[id] > (int)i ? last[id] : (int)i;
            req_value[n_req] = id;
            n_req++;
        }
    }
    if ((st = memory_plan(req, n_req, &p->arena_bytes)) != STRATA_OK) goto done;
    p->slots = mem_calloc(n_req + 1, sizeof *p->slots);
    if (!p->slots) {
        st = error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
        goto done;
    }
    for (size_t r = 0; r < n_req; r++) {
        p->slots[r].name = mem_strdup(g->values[req_value[r]].name);
        if (!p->slots[r].name) {
            st = error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
            goto done;
        }
        p->slots[r].offset = req[r].offset;
        p->slots[r].n_bytes = req[r].n_bytes;
        p->n_slots++;
    }
done:
    mem_free(last);
    mem_free(req);
    mem_free(req_value);
    return st;
}

/* The static view of node n's inputs for kernel choice: dtype and shape, data for constants. */
static void static_inputs(const ir_graph *g, const ir_node *n, strata_tensor *tin, const strata_tensor **pin)
{
    for (size_t k = 0; k < n->n_inputs && k < 64; k++) {
        pin[k] = NULL;
        int id = n->inputs[k];
        if (id < 0) continue;
        const ir_value *v = &g->values[id];
        memset(&tin[k], 0, sizeof tin[k]);
        tin[k].dtype = v->dtype;
        tin[k].rank = v->rank < 0 ? 0 : v->rank;
        memcpy(tin[k].dims, v->dims, sizeof v->dims);
        const strata_tensor *c = value_const(g, id);
        if (c) tin[k].data = c->data, tin[k].n_bytes = c->n_bytes;
        if (v->rank >= 0 && v->dtype != STRATA_DTYPE_UNDEFINED) pin[k] = &tin[k];
    }
}

/* The kernel for each node: a fast kernel this CPU runs when one supports the node (tactics
 * heuristic), else the reference op ("<domain.>Op__ref"). */
static strata_status choose_kernels(const ir_model *m, const ir_graph *g, const compile_options *o,
                                    plan_program *p)
{
    p->kernels = mem_calloc(g->n_nodes + 1, sizeof *p->kernels);
    if (!p->kernels) return error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
    p->cpu_features = 0;
    strata_tensor tin[64];
    const strata_tensor *pin[64];
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        char name[300];
        snprintf(name, sizeof name, "%s%s%s__ref", n->domain, n->domain[0] ? "." : "", n->op_type);
        if ((!o || o->tactics != TACTICS_REFERENCE) && n->n_inputs <= 64) {
            static_inputs(g, n, tin, pin);
            int64_t opset = ir_model_opset(m, n->domain);
            op_node on = {n->name, n->op_type, n->domain, (int)opset, n->attrs, n->n_attrs, n->n_inputs, n->n_outputs};
            bool all_typed = true;
            for (size_t k = 0; k < n->n_inputs; k++)
                if (n->inputs[k] >= 0 && !pin[k]) all_typed = false;
            const fast_kernel *k = all_typed ? fast_kernel_choose(&on, pin) : NULL;
            if (k) {
                snprintf(name, sizeof name, "%s", k->name);
                p->cpu_features |= k->isa;
            }
        }
        p->kernels[i] = mem_strdup(name);
        if (!p->kernels[i]) return error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
        p->n_kernels++;
    }
    return STRATA_OK;
}

strata_status compile_write_plan(ir_model *m, const compile_options *o, const char *path)
{
    ir_graph *g = m->graph;
    plan_program p;
    memset(&p, 0, sizeof p);
    strata_status st = build_profile(g, o, &p);
    if (st == STRATA_OK) st = infer_at(g, &p, true);
    if (st == STRATA_OK) st = build_slots(g, &p);
    if (st == STRATA_OK) st = infer_at(g, &p, false);
    if (st == STRATA_OK) st = choose_kernels(m, g, o, &p);
    if (st == STRATA_OK) {
        p.model_hash = m->file ? hash64(m->file->data, m->file->n_bytes, 0) : 0;
        p.options_hash = o ? hash64(o->shapes, (size_t)o->n_shapes * sizeof o->shapes[0], 1) : 0;
        st = plan_write(path, m, &p);
    }
    plan_program_release(&p);
    return st;
}
