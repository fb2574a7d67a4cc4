/* compile/fuse_gelu.c — pass: the erf form of Gelu that PyTorch exports,
 * Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5) in any operand order, becomes one com.strata
 * Gelu(x); the pieces are left for eliminate_dead. */
#include <math.h>

#include "internal.h"

static bool is_scalar(const ir_graph *g, int id, double want)
{
    const strata_tensor *t = value_const(g, id);
    if (!t || strata_tensor_numel(t) != 1 || !dtype_is_float(t->dtype)) return false;
    return fabs(tensor_get_f64(t, 0) - want) <= 1e-4 * fabs(want);
}

/* If node n (binary) has a scalar constant operand equal to want, the other operand's id. */
static int other_operand(const ir_graph *g, const ir_node *n, double want)
{
    if (n->n_inputs != 2) return -1;
    if (is_scalar(g, n->inputs[1], want)) return n->inputs[0];
    if (is_scalar(g, n->inputs[0], want)) return n->inputs[1];
    return -1;
}

/* x if value a is Add(Erf(Div(x, sqrt2)), 1), else -1. */
static int erf_branch(const ir_graph *g, int a)
{
    int p = node_producer(g, a);
    if (p < 0 || !node_is(&g->nodes[p], "Add")) return -1;
    int e = other_operand(g, &g->nodes[p], 1.0);
    int pe = node_producer(g, e);
    if (pe < 0 || !node_is(&g->nodes[pe], "Erf")) return -1;
    int pd = node_producer(g, g->nodes[pe].inputs[0]);
    if (pd < 0) return -1;
    const ir_node *d = &g->nodes[pd];
    if (node_is(d, "Div") && d->n_inputs == 2 && is_scalar(g, d->inputs[1], sqrt(2.0))) return d->inputs[0];
    if (node_is(d, "Mul")) return other_operand(g, d, 1.0 / sqrt(2.0));
    return -1;
}

strata_status pass_fuse_gelu(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)o;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        if (!node_is(n, "Mul") || n->n_inputs != 2) continue;
        int x = -1;
        /* form 1: Mul(Mul(x, a), 0.5) */
        int inner = other_operand(g, n, 0.5);
        int pi = node_producer(g, inner);
        if (pi >= 0 && node_is(&g->nodes[pi], "Mul")) {
            const ir_node *mm = &g->nodes[pi];
            for (int s = 0; s < 2 && x < 0; s++) {
                int cand = erf_branch(g, mm->inputs[1 - s]);
                if (cand >= 0 && cand == mm->inputs[s]) x = cand;
            }
        }
        /* form 2: Mul(Mul(x, 0.5), a) */
        for (int s = 0; s < 2 && x < 0; s++) {
            int ph = node_producer(g, n->inputs[s]);
            if (ph < 0 || !node_is(&g->nodes[ph], "Mul")) continue;
            int cand = other_operand(g, &g->nodes[ph], 0.5);
            if (cand >= 0 && erf_branch(g, n->inputs[1 - s]) == cand) x = cand;
        }
        if (x < 0) continue;
        strata_status st = model_import_fused(m);
        if (st == STRATA_OK) st = node_make_fused(n, "Gelu");
        if (st != STRATA_OK) return st;
        n->inputs[0] = x;
        n->n_inputs = 1;
        (*n_changed)++;
    }
    return STRATA_OK;
}
