/* tests/graph_builder.c — see graph_builder.h. */
#include <string.h>

#include "graph_builder.h"

void b_init(builder *b, int64_t opset)
{
    b->m = ir_model_create();
    b->g = ir_graph_create(NULL, b->m);
    b->m->graph = b->g;
    b->m->ir_version = 8;
    b->m->opsets = mem_calloc(1, sizeof *b->m->opsets);
    b->m->opsets[0].domain = mem_strdup("");
    b->m->opsets[0].version = opset;
    b->m->n_opsets = 1;
}

int b_input(builder *b, const char *name, int rank, const int64_t *dims)
{
    int id;
    ir_graph_value(b->g, name, &id);
    ir_value *v = &b->g->values[id];
    v->dtype = STRATA_DTYPE_F32;
    v->rank = rank;
    for (int d = 0; d < rank; d++) v->dims[d] = dims[d];
    ir_graph_add_input(b->g, id);
    return id;
}

int b_const(builder *b, const char *name, int rank, const int64_t *dims, const float *vals)
{
    strata_tensor *t = NULL;
    strata_tensor_create(STRATA_DTYPE_F32, rank, dims, &t);
    memcpy(t->data, vals, t->n_bytes);
    int id;
    ir_graph_add_initializer(b->g, name, t, &id);
    return id;
}

int b_scalar(builder *b, const char *name, float v)
{
    return b_const(b, name, 0, NULL, &v);
}

/* Adds node op(inputs) -> one output called out; returns the output's value id. */
int b_node(builder *b, const char *op, const char *out, int n_in, const int *in)
{
    int idx, oid;
    ir_graph_add_node(b->g, op, "", out, (size_t)n_in, 1, 0, &idx);
    ir_graph_value(b->g, out, &oid);
    ir_node *n = &b->g->nodes[idx];
    for (int k = 0; k < n_in; k++) n->inputs[k] = in[k];
    n->outputs[0] = oid;
    return oid;
}

ir_node *last_node(builder *b)
{
    return &b->g->nodes[b->g->n_nodes - 1];
}

strata_tensor *random_tensor(int rank, const int64_t *dims, unsigned seed)
{
    strata_tensor *t = NULL;
    strata_tensor_create(STRATA_DTYPE_F32, rank, dims, &t);
    float *d = t->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 16) % 2000) / 500.0f - 2.0f;
    }
    return t;
}

/* Runs g on inputs before and after compile_optimize; returns the optimized node count. */
size_t optimize_and_compare_n(builder *b, strata_tensor **xs, size_t n_x, double tol)
{
    EXPECT_OK(ir_graph_verify(b->g, "test"));
    EXPECT_OK(ir_graph_infer_shapes(b->g));
    const strata_tensor *in[4];
    for (size_t i = 0; i < n_x; i++) in[i] = xs[i];
    strata_tensor *before = NULL, *after = NULL;
    EXPECT_OK(ir_eval(b->g, NULL, in, n_x, &before, 1));
    EXPECT_OK(compile_optimize(b->m, NULL));
    EXPECT_OK(ir_eval(b->m->graph, NULL, in, n_x, &after, 1));
    if (before && after) {
        EXPECT_EQ(strata_tensor_numel(before), strata_tensor_numel(after));
        double worst = 0;
        for (int64_t i = 0; i < strata_tensor_numel(before); i++) {
            double d = fabs(tensor_get_f64(before, i) - tensor_get_f64(after, i));
            if (d > worst) worst = d;
        }
        EXPECT_NEAR(worst, 0.0, tol);
    }
    strata_tensor_destroy(before);
    strata_tensor_destroy(after);
    return b->m->graph->n_nodes;
}
