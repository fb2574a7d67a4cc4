/* compile/fuse_matmul_add.c — pass: MatMul(A, W) + bias, with W a constant [K, N] and bias a
 * constant [N], becomes Gemm(A, W, bias) when A is 2-D, else com.strata FusedMatMul(A, W, bias).
 * The Add must be the MatMul's only reader. */
#include "internal.h"

strata_status pass_fuse_matmul_add(ir_model *m, ir_graph *g, const compile_options *o, int *n_changed)
{
    (void)o;
    int *uses = mem_calloc(g->n_values + 1, sizeof *uses);
    if (!uses) return error_set(STRATA_OUT_OF_MEMORY, "fuse_matmul_add: out of memory");
    ir_graph_count_uses(g, uses);
    strata_status st = STRATA_OK;
    for (size_t i = 0; i < g->n_nodes; i++) {
        ir_node *add = &g->nodes[i];
        if (!node_is(add, "Add") || add->n_inputs != 2) continue;
        for (int s = 0; s < 2; s++) {
            int mm_out = add->inputs[s], bias = add->inputs[1 - s];
            int p = node_producer(g, mm_out);
            if (p < 0 || uses[mm_out] != 1 || ir_graph_is_output(g, mm_out)) continue;
            ir_node *mm = &g->nodes[p];
            if (!node_is(mm, "MatMul")) continue;
            const strata_tensor *w = value_const(g, mm->inputs[1]), *b = value_const(g, bias);
            const ir_value *a = &g->values[mm->inputs[0]];
            if (!w || !b || w->rank != 2 || w->dtype != STRATA_DTYPE_F32 || b->dtype != STRATA_DTYPE_F32) continue;
            if (strata_tensor_numel(b) != w->dims[1] || (b->rank != 1 && !(b->rank == 2 && b->dims[0] == 1)))
                continue;
            if (a->rank < 2) continue;
            bool two_d = a->rank == 2;
            if (!two_d) {
                if (b->rank != 1) continue; /* FusedMatMul takes bias [N] */
                if ((st = model_import_fused(m)) != STRATA_OK) goto done;
            }
            if ((st = node_make_fused(mm, two_d ? "Gemm" : "FusedMatMul")) != STRATA_OK) goto done;
            if (two_d) { /* node_make_fused set com.strata; Gemm is ONNX's */
                mm->domain[0] = 0;
            }
            if ((st = ir_node_add_input(mm, bias)) != STRATA_OK) goto done;
            mm = &g->nodes[p];
            add = &g->nodes[i];
            mm->outputs[0] = add->outputs[0];
            g->values[add->outputs[0]].producer = p;
            add->dead = true;
            (*n_changed)++;
            break;
        }
    }
done:
    mem_free(uses);
    return st;
}
