/* compile/fuse_layernorm.c — pass: the decomposed layer normalization that older exporters
 * write, (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) [* gamma] [+ beta] over the last
 * axis, becomes one com.strata LayerNormalization(x, gamma, beta) (ONNX's op, usable at any
 * opset). The pieces are left for eliminate_dead. */
#include <math.h>
#include <string.h>

#include "internal.h"

static int producer_is(const ir_graph *g, int id, const char *op)
{
    int p = node_producer(g, id);
    return p >= 0 && node_is(&g->nodes[p], op) ? p : -1;
}

static bool const_scalar(const ir_graph *g, int id, double *v)
{
    const strata_tensor *t = value_const(g, id);
    if (!t || strata_tensor_numel(t) != 1 || !dtype_is_float(t->dtype)) return false;
    *v = tensor_get_f64(t, 0);
    return true;
}

/* ReduceMean over the last axis only, keepdims on; its input id or -1. */
static int mean_last_axis(const ir_graph *g, const ir_node *r)
{
    const ir_value *x = &g->values[r->inputs[0]];
    if (x->rank < 1) return -1;
    const attr *kd = attr_find(r->attrs, r->n_attrs, "keepdims");
    if (kd && kd->type == ATTR_INT && kd->i == 0) return -1;
    const attr *ax = attr_find(r->attrs, r->n_attrs, "axes");
    int64_t axis;
    if (ax && ax->type == ATTR_INTS && ax->n == 1) axis = ax->ints[0];
    else if (r->n_inputs > 1 && r->inputs[1] >= 0) {
        const strata_tensor *t = value_const(g, r->inputs[1]);
        if (!t || strata_tensor_numel(t) != 1) return -1;
        axis = tensor_get_i64(t, 0);
    } else
        return -1;
    if (axis != -1 && axis != x->rank - 1) return -1;
    return r->inputs[0];
}

/* x when value d is Sub(x, ReduceMean(x)) over the last axis, else -1. */
static int centered(const ir_graph *g, int d)
{
    int ps = producer_is(g, d, "Sub");
    if (ps < 0) return -1;
    const ir_node *sub = &g->nodes[ps];
    int pm = producer_is(g, sub->inputs[1], "ReduceMean");
    if (pm < 0) return -1;
    int x = mean_last_axis(g, &g->nodes[pm]);
    return x == sub->inputs[0] ? x : -1;
}

strata_status pass_fuse_layernorm(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)o;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *div = &g->nodes[i];
        if (!node_is(div, "Div") || div->n_inputs != 2) continue;
        int d = div->inputs[0];
        int x = centered(g, d);
        if (x < 0) continue;
        int psq = producer_is(g, div->inputs[1], "Sqrt");
        if (psq < 0) continue;
        int pa = producer_is(g, g->nodes[psq].inputs[0], "Add");
        if (pa < 0) continue;
        const ir_node *add = &g->nodes[pa];
        double eps;
        int var;
        if (const_scalar(g, add->inputs[1], &eps)) var = add->inputs[0];
        else if (const_scalar(g, add->inputs[0], &eps)) var = add->inputs[1];
        else continue;
        int pv = producer_is(g, var, "ReduceMean");
        if (pv < 0) continue;
        int sq = mean_last_axis(g, &g->nodes[pv]);
        if (sq < 0) continue;
        int pp = producer_is(g, sq, "Pow"), pmul = producer_is(g, sq, "Mul");
        double two;
        bool squares = (pp >= 0 && g->nodes[pp].inputs[0] == d && const_scalar(g, g->nodes[pp].inputs[1], &two) && two == 2.0) ||
                       (pmul >= 0 && g->nodes[pmul].inputs[0] == d && g->nodes[pmul].inputs[1] == d);
        if (!squares) continue;
        /* optional * gamma, + beta: follow Div's only reader */
        int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
        if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "fuse_layernorm: out of memory");
        ir_graph_count_uses(g, uses);
        const ir_value *xv = &g->values[x];
        int64_t last = xv->rank > 0 ? xv->dims[xv->rank - 1] : -1;
        int out_node = (int)i, gamma = -1, beta = -1;
        for (int step = 0; step < 2; step++) {
            int out = g->nodes[out_node].outputs[0];
            if (uses[out] != 1 || ir_graph_is_output(g, out)) break;
            int next = -1;
            for (size_t j = 0; j < g->n_nodes && next < 0; j++)
                if (!g->nodes[j].dead && g->nodes[j].n_inputs == 2 &&
                    (g->nodes[j].inputs[0] == out || g->nodes[j].inputs[1] == out))
                    next = (int)j;
            if (next < 0) break;
            const ir_node *nn = &g->nodes[next];
            int other = nn->inputs[0] == out ? nn->inputs[1] : nn->inputs[0];
            const strata_tensor *c = value_const(g, other);
            if (!c || c->rank != 1 || c->dims[0] != last) break;
            if (step == 0 && node_is(nn, "Mul")) gamma = other;
            else if (node_is(nn, "Add") && beta < 0) beta = other;
            else break;
            out_node = next;
            if (beta >= 0) break;
        }
        mem_free(uses);
        if (gamma < 0) { /* LayerNormalization needs a scale: ones */
            if (last < 1 || xv->dtype != STRATA_DTYPE_F32) continue;
            strata_tensor *ones = NULL;
            int64_t dims[1] = {last};
            strata_status st = strata_tensor_create(STRATA_DTYPE_F32, 1, dims, &ones);
            if (st != STRATA_OK) return st;
            for (int64_t k = 0; k < last; k++) ((float *)ones->data)[k] = 1.0f;
            if ((st = ir_graph_add_initializer(g, "layernorm_ones", ones, &gamma)) != STRATA_OK) return st;
        }
        ir_node *ln = &g->nodes[out_node];
        strata_status st = model_import_fused(m);
        if (st == STRATA_OK) st = node_make_fused(ln, "LayerNormalization");
        if (st == STRATA_OK) {
            ln->inputs[0] = x;
            ln->inputs[1] = gamma;
            ln->n_inputs = 2;
            if (beta >= 0) st = ir_node_add_input(ln, beta);
        }
        if (st == STRATA_OK) {
            ln = &g->nodes[out_node];
            for (size_t a = 0; a < ln->n_attrs; a++) attr_release(&ln->attrs[a], ir_graph_free_fn);
            ln->n_attrs = 0;
            st = ir_node_set_int(ln, "axis", -1);
        }
        if (st == STRATA_OK) st = ir_node_set_float(ln, "epsilon", (float)eps);
        if (st != STRATA_OK) return st;
        for (size_t k = 1; k < ln->n_outputs; k++) ln->outputs[k] = -1;
        (*n_changed)++;
    }
    return STRATA_OK;
}
