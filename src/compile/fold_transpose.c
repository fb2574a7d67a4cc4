/* compile/fold_transpose.c — pass: a Transpose that only swaps the last two dims and feeds the
 * right operand of a MatMul or Gemm is folded into the product: Gemm flips transB, MatMul
 * becomes com.strata FusedMatMul with transB = 1 (the GEMM reads B transposed for free). The
 * Transpose is left for eliminate_dead when nothing else reads it. */
#include <string.h>

#include "internal.h"

/* The input of Transpose node t when its perm swaps exactly the last two dims, else -1. */
static int swapped_input(const ir_graph *g, const ir_node *t)
{
    const ir_value *x = &g->values[t->inputs[0]];
    const attr *perm = attr_find(t->attrs, t->n_attrs, "perm");
    if (x->rank < 2 || !perm || perm->type != ATTR_INTS || perm->n != (size_t)x->rank) return -1;
    int r = x->rank;
    for (int d = 0; d < r - 2; d++)
        if (perm->ints[d] != d) return -1;
    if (perm->ints[r - 2] != r - 1 || perm->ints[r - 1] != r - 2) return -1;
    return t->inputs[0];
}

strata_status pass_fold_transpose(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)o;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *n = &g->nodes[i];
        bool gemm = node_is(n, "Gemm");
        bool matmul = node_is(n, "MatMul") ||
                      (!n->dead && strcmp(n->domain, STRATA_FUSED_DOMAIN) == 0 && strcmp(n->op_type, "FusedMatMul") == 0 &&
                       !attr_find(n->attrs, n->n_attrs, "transB"));
        if ((!gemm && !matmul) || n->n_inputs < 2 || n->inputs[1] < 0) continue;
        int p = node_producer(g, n->inputs[1]);
        if (p < 0 || !node_is(&g->nodes[p], "Transpose")) continue;
        int b = swapped_input(g, &g->nodes[p]);
        if (b < 0) continue;
        const ir_value *a = &g->values[n->inputs[0]];
        if (matmul && (a->rank < 2 || g->values[b].rank < 2)) continue; /* 1-D operands: keep */
        strata_status st;
        if (gemm) {
            const attr *tb = attr_find(n->attrs, n->n_attrs, "transB");
            st = ir_node_set_int(n, "transB", tb && tb->type == ATTR_INT && tb->i ? 0 : 1);
        } else {
            st = model_import_fused(m);
            if (st == STRATA_OK && node_is(n, "MatMul")) st = node_make_fused(n, "FusedMatMul");
            if (st == STRATA_OK) st = ir_node_set_int(n, "transB", 1);
        }
        if (st != STRATA_OK) return st;
        g->nodes[i].inputs[1] = b;
        (*n_changed)++;
    }
    return STRATA_OK;
}
