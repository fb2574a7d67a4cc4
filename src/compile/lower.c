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
        if (v->kind == VALUE_SEQUENCE || v->kind == VALUE_OPTIONAL) continue; /* no shape range */
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
            if (v->dims[d] >= 0) in->min[d] = in->opt[d] = in->max[d] = v->dims[d];
            else if (cs) in->min[d] = cs->min[d], in->opt[d] = cs->opt[d], in->max[d] = cs->max[d];
            else in->min[d] = in->opt[d] = in->max[d] = 1; /* a symbolic dim without a profile */
        }
    }
    return STRATA_OK;
}

typedef enum shape_point { AT_MAX, AT_OPT, AT_SYMBOLIC } shape_point;

/* Sets input dims to the profile's max or opt (or back to symbolic where min != max) and infers
 * again. */
static strata_status infer_at(ir_graph *g, const plan_program *p, shape_point at)
{
    for (size_t i = 0; i < p->n_inputs; i++) {
        int id = ir_graph_find(g, p->inputs[i].name);
        ir_value *v = &g->values[id];
        const plan_input *pi = &p->inputs[i];
        for (int d = 0; d < v->rank; d++)
            v->dims[d] = at == AT_MAX ? pi->max[d] : at == AT_OPT ? pi->opt[d] : pi->min[d] == pi->max[d] ? pi->max[d] : -1;
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

/* Ops whose output may take its first input's memory when that input dies at the node:
 * elementwise ops (every output element depends only on the same input element and broadcast
 * operands) and the reshapes, whose output is the input's bytes (the copy then has nothing to
 * move: BERT-base's 48 Reshapes cost 1.3 ms a run as copies). */
static bool in_place_op(const ir_node *n)
{
    static const char *const ops[] = {"Relu", "Sigmoid", "Tanh", "Clip", "LeakyRelu", "Elu", "Selu",
                                      "HardSigmoid", "HardSwish", "Softplus", "Exp", "Log", "Sqrt",
                                      "Neg", "Abs", "Reciprocal", "Erf", "Add", "Sub", "Mul", "Div",
                                      "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
    if (strcmp(n->domain, STRATA_FUSED_DOMAIN) == 0) return strcmp(n->op_type, "Gelu") == 0;
    if (n->domain[0] != 0) return false;
    for (size_t k = 0; k < ARRAY_LEN(ops); k++)
        if (strcmp(n->op_type, ops[k]) == 0) return true;
    return false;
}

static bool same_static_dims(const ir_value *a, const ir_value *b)
{
    if (a->rank != b->rank) return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] < 0 || a->dims[d] != b->dims[d]) return false;
    return true;
}

bool residual_in_place_ok(const ir_graph *g, const ir_node *n, const fast_kernel *k)
{
    if (!k || !k->residual_in_place || n->n_inputs < 4 || n->inputs[3] < 0 || n->n_outputs < 1 || n->outputs[0] < 0)
        return false;
    for (size_t j = 0; j < n->n_inputs; j++)
        if (j != 3 && n->inputs[j] == n->inputs[3]) return false;
    if (!same_static_dims(&g->values[n->inputs[3]], &g->values[n->outputs[0]])) return false;
    op_node on = {n->name, n->op_type, n->domain, 0, n->attrs, n->n_attrs, n->n_inputs, n->n_outputs};
    return k->residual_in_place(&on);
}

/* Input slot of node i whose memory its output 0 may take when that input dies at the node:
 * the first input of an elementwise op or reshape, the residual (input 3) of a conv whose
 * chosen kernel adds it in its epilogue; -1 for none. */
static int in_place_input(const ir_graph *g, const plan_program *p, size_t i)
{
    const ir_node *n = &g->nodes[i];
    if (in_place_op(n)) return n->n_inputs > 0 ? 0 : -1;
    if (!p->kernels || !p->kernels[i]) return -1;
    return residual_in_place_ok(g, n, fast_kernel_find(p->kernels[i], n->op_type, n->domain)) ? 3 : -1;
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
    int *req_of = mem_calloc(nv + 1, sizeof *req_of);   /* value → its request, or -1 */
    int *alias = mem_calloc(nv + 1, sizeof *alias);     /* request → request it shares, or -1 */
    if (!req_of || !alias) {
        mem_free(req_of);
        mem_free(alias);
        st = error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
        goto done;
    }
    for (size_t v = 0; v < nv; v++) req_of[v] = -1;
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
            alias[n_req] = -1;
            /* in place: take an input's memory when it dies here and has our size */
            int slot = k == 0 ? in_place_input(g, p, i) : -1;
            int x = slot >= 0 ? n->inputs[slot] : -1;
            if (x >= 0 && req_of[x] >= 0 && last[x] == (int)i &&
                !ir_graph_is_output(g, x) && g->values[x].dtype == v->dtype) {
                int root = req_of[x];
                while (alias[root] >= 0) root = alias[root];
                if (req[root].n_bytes == req[n_req].n_bytes) {
                    alias[n_req] = root;
                    if (req[n_req].last > req[root].last) req[root].last = req[n_req].last;
                }
            }
            req_of[id] = (int)n_req;
            n_req++;
        }
    }
    /* plan only the roots; an in-place output gets its root's offset */
    mem_request *roots = mem_calloc(n_req + 1, sizeof *roots);
    int *root_index = mem_calloc(n_req + 1, sizeof *root_index);
    size_t n_roots = 0;
    if (!roots || !root_index) {
        mem_free(roots);
        mem_free(root_index);
        mem_free(req_of);
        mem_free(alias);
        st = error_set(STRATA_OUT_OF_MEMORY, "lower: out of memory");
        goto done;
    }
    for (size_t r = 0; r < n_req; r++)
        if (alias[r] < 0) {
            root_index[r] = (int)n_roots;
            roots[n_roots++] = req[r];
        }
    st = memory_plan(roots, n_roots, &p->arena_bytes);
    for (size_t r = 0; r < n_req && st == STRATA_OK; r++) {
        size_t root = r;
        while (alias[root] >= 0) root = (size_t)alias[root];
        req[r].offset = roots[root_index[root]].offset;
    }
    mem_free(roots);
    mem_free(root_index);
    mem_free(req_of);
    mem_free(alias);
    if (st != STRATA_OK) goto done;
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

/* Number of nodes (and graph outputs) that read value id. */
static int readers(const ir_graph *g, int id)
{
    int count = ir_graph_is_output(g, id) ? 1 : 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == id) count++;
    return count;
}

/* Packs constant weights for the kernels that want them (fast_kernel.pack): a uint8
 * initializer appended to the node's inputs, named by its "packed_input" attribute; ONNX
 * Gemm/MatMul/Conv become their com.strata Fused* form, whose extra inputs the reference op
 * ignores. */
static strata_status prepack(ir_model *m, ir_graph *g, const plan_program *p)
{
    static const char *const fused_of[][2] = {{"Gemm", "FusedGemm"}, {"MatMul", "FusedMatMul"}, {"Conv", "FusedConv"}};
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        const fast_kernel *k = fast_kernel_find(p->kernels[i], n->op_type, n->domain);
        if (!k || !k->packed_size || !k->pack || n->n_inputs > 16) continue;
        strata_tensor tin[16];
        const strata_tensor *pin[16];
        bool ok = true;
        for (size_t j = 0; j < n->n_inputs; j++) {
            pin[j] = NULL;
            int id = n->inputs[j];
            if (id < 0) continue;
            const ir_value *v = &g->values[id];
            if (v->rank < 0) ok = false;
            memset(&tin[j], 0, sizeof tin[j]);
            tin[j].dtype = v->dtype;
            tin[j].rank = v->rank < 0 ? 0 : v->rank;
            memcpy(tin[j].dims, v->dims, sizeof v->dims);
            const strata_tensor *c = value_const(g, id);
            if (c) tin[j].data = c->data, tin[j].n_bytes = c->n_bytes;
            pin[j] = &tin[j];
        }
        if (!ok) continue;
        op_node on = {n->name, n->op_type, n->domain, (int)ir_model_opset(m, n->domain), n->attrs, n->n_attrs,
                      n->n_inputs, n->n_outputs};
        size_t bytes = k->packed_size(k, &on, pin);
        if (bytes == 0) continue;
        strata_tensor *packed = NULL;
        int64_t dims[1] = {(int64_t)bytes};
        strata_status st = strata_tensor_create(STRATA_DTYPE_U8, 1, dims, &packed);
        if (st == STRATA_OK) st = k->pack(k, &on, pin, packed->data);
        if (st != STRATA_OK) {
            strata_tensor_destroy(packed);
            return error_prefix(st, "prepack node '%s' for %s", n->name, k->name);
        }
        for (size_t f = 0; f < ARRAY_LEN(fused_of); f++)
            if (node_is(n, fused_of[f][0])) {
                if ((st = model_import_fused(m)) == STRATA_OK) st = node_make_fused(n, fused_of[f][1]);
                if (st != STRATA_OK) {
                    strata_tensor_destroy(packed);
                    return st;
                }
            }
        char base[300];
        snprintf(base, sizeof base, "%s__packed", n->name[0] ? n->name : n->op_type);
        int pid;
        if ((st = ir_graph_add_initializer(g, base, packed, &pid)) != STRATA_OK) return st;
        n = &g->nodes[i];
        while (n->n_inputs < 4 && st == STRATA_OK) st = ir_node_add_input(n, -1);
        if (st == STRATA_OK) st = ir_node_add_input(n, pid);
        if (st == STRATA_OK) st = ir_node_set_int(n, "packed_input", (int64_t)n->n_inputs - 1);
        if (st != STRATA_OK) return st;
        /* the packed form replaces the weights: drop their values when nothing else reads them */
        int wid = n->inputs[FAST_PACKED_REPLACES_INPUT];
        if (wid >= 0 && value_const(g, wid) && !ir_graph_is_output(g, wid) && readers(g, wid) == 1) {
            strata_tensor *w = g->values[wid].init;
            tensor_release_data(w); /* dims and dtype stay: the plan keeps the shape only */
        }
    }
    return STRATA_OK;
}

strata_status compile_write_plan(ir_model *m, const compile_options *o, const char *path)
{
    ir_graph *g = m->graph;
    plan_program p;
    memset(&p, 0, sizeof p);
    strata_status st = build_profile(g, o, &p);
    /* kernels first (timed at the profile's opt shapes): the memory plan, at the max shapes,
     * asks the chosen kernels which outputs may share their residual's memory */
    if (st == STRATA_OK) st = infer_at(g, &p, AT_OPT);
    if (st == STRATA_OK) st = tactic_choose(m, g, o, &p);
    if (st == STRATA_OK) st = infer_at(g, &p, AT_MAX);
    if (st == STRATA_OK) st = build_slots(g, &p);
    if (st == STRATA_OK) st = infer_at(g, &p, AT_OPT);
    if (st == STRATA_OK) st = prepack(m, g, &p);
    if (st == STRATA_OK) st = infer_at(g, &p, AT_SYMBOLIC);
    if (st == STRATA_OK) {
        p.model_hash = m->file ? hash64(m->file->data, m->file->n_bytes, 0) : 0;
        p.options_hash = o ? hash64(o->shapes, (size_t)o->n_shapes * sizeof o->shapes[0], 1) : 0;
        if (o && o->precision != PRECISION_FP32) /* fp32 plans keep the hash they always had */
            p.options_hash = hash64(&o->precision, sizeof o->precision, p.options_hash);
        st = plan_write(path, m, &p);
    }
    plan_program_release(&p);
    return st;
}
