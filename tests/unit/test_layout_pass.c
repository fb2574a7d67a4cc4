/* tests/unit/test_layout_pass.c — compile/layout_nhwc.c on a small conv chain built with the IR
 * API (conv, relu, max pool, depthwise conv with a residual add, 1x1 conv, global average pool,
 * flatten): after compile_optimize the region is NHWC with a Transpose where the input enters
 * and a Reshape where it leaves, and ir_eval gives the same result as before. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "test.h"

static int add_value(ir_graph *g, const char *name)
{
    int id = -1;
    ir_graph_value(g, name, &id);
    return id;
}

static int add_const(ir_graph *g, const char *name, int rank, const int64_t *dims, unsigned seed)
{
    strata_tensor *t = NULL;
    strata_tensor_create(STRATA_DTYPE_F32, rank, dims, &t);
    float *d = t->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 16) % 2000) / 1000.0f - 1.0f;
    }
    int id = -1;
    ir_graph_add_initializer(g, name, t, &id);
    return id;
}

/* op(in...) -> out with up to two INTS attributes (name NULL: none). */
static int add_op(ir_graph *g, const char *op, const char *out, int n_in, const int *in, const char *a1,
                  const int64_t *v1, size_t n1, const char *a2, int64_t i2)
{
    int idx, oid = add_value(g, out);
    size_t na = (a1 ? 1 : 0) + (a2 ? 1 : 0);
    ir_graph_add_node(g, op, "", out, (size_t)n_in, 1, na, &idx);
    ir_node *n = &g->nodes[idx];
    for (int k = 0; k < n_in; k++) n->inputs[k] = in[k];
    n->outputs[0] = oid;
    size_t a = 0;
    if (a1) {
        n->attrs[a].name = mem_strdup(a1);
        n->attrs[a].type = ATTR_INTS;
        n->attrs[a].n = n1;
        n->attrs[a].ints = mem_alloc(n1 * sizeof(int64_t));
        memcpy(n->attrs[a].ints, v1, n1 * sizeof(int64_t));
        a++;
    }
    if (a2) {
        n->attrs[a].name = mem_strdup(a2);
        n->attrs[a].type = ATTR_INT;
        n->attrs[a].i = i2;
    }
    return oid;
}

static bool is_nhwc(const ir_node *n)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, "layout");
    return a && a->type == ATTR_STRING && strcmp(a->s, "NHWC") == 0;
}

TEST(layout_pass_makes_conv_chain_nhwc)
{
    ir_model *m = ir_model_create();
    ir_graph *g = ir_graph_create(NULL, m);
    m->graph = g;
    m->ir_version = 8;
    m->opsets = mem_calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = mem_strdup("");
    m->opsets[0].version = 17;
    m->n_opsets = 1;
    int x = add_value(g, "x");
    int64_t xd[4] = {2, 3, 10, 10};
    g->values[x].dtype = STRATA_DTYPE_F32;
    g->values[x].rank = 4;
    memcpy(g->values[x].dims, xd, sizeof xd);
    ir_graph_add_input(g, x);
    int64_t w1d[4] = {8, 3, 3, 3}, b1d[1] = {8}, w2d[4] = {8, 1, 3, 3}, w3d[4] = {5, 8, 1, 1}, b3d[1] = {5};
    int64_t pads1[4] = {1, 1, 1, 1}, k2[2] = {2, 2};
    int w1 = add_const(g, "w1", 4, w1d, 1), b1 = add_const(g, "b1", 1, b1d, 2), w2 = add_const(g, "w2", 4, w2d, 3);
    int w3 = add_const(g, "w3", 4, w3d, 4), b3 = add_const(g, "b3", 1, b3d, 5);
    int c1 = add_op(g, "Conv", "c1", 3, (int[]){x, w1, b1}, "pads", pads1, 4, NULL, 0);
    int r1 = add_op(g, "Relu", "r1", 1, (int[]){c1}, NULL, NULL, 0, NULL, 0);
    int p1 = add_op(g, "MaxPool", "p1", 1, (int[]){r1}, "kernel_shape", k2, 2, NULL, 0);
    g->nodes[g->n_nodes - 1].attrs = mem_realloc(g->nodes[g->n_nodes - 1].attrs, 2 * sizeof(attr));
    {
        ir_node *mp = &g->nodes[g->n_nodes - 1];
        memset(&mp->attrs[1], 0, sizeof(attr));
        mp->attrs[1].name = mem_strdup("strides");
        mp->attrs[1].type = ATTR_INTS;
        mp->attrs[1].n = 2;
        mp->attrs[1].ints = mem_alloc(2 * sizeof(int64_t));
        mp->attrs[1].ints[0] = mp->attrs[1].ints[1] = 2;
        mp->n_attrs = 2;
    }
    int c2 = add_op(g, "Conv", "c2", 2, (int[]){p1, w2}, "pads", pads1, 4, "group", 8);
    int a2 = add_op(g, "Add", "a2", 2, (int[]){c2, p1}, NULL, NULL, 0, NULL, 0);
    int c3 = add_op(g, "Conv", "c3", 3, (int[]){a2, w3, b3}, NULL, NULL, 0, NULL, 0);
    int gp = add_op(g, "GlobalAveragePool", "gp", 1, (int[]){c3}, NULL, NULL, 0, NULL, 0);
    int y = add_op(g, "Flatten", "y", 1, (int[]){gp}, NULL, NULL, 0, NULL, 0);
    ir_graph_add_output(g, y);
    EXPECT_OK(ir_graph_verify(g, "test"));
    EXPECT_OK(ir_graph_infer_shapes(g));

    strata_tensor *in = NULL, *before = NULL, *after = NULL;
    strata_tensor_create(STRATA_DTYPE_F32, 4, xd, &in);
    float *xv = in->data;
    for (int64_t i = 0; i < strata_tensor_numel(in); i++) xv[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    const strata_tensor *ins[1] = {in};
    EXPECT_OK(ir_eval(g, NULL, ins, 1, &before, 1));
    setenv("STRATA_LAYOUT", "nhwc", 1); /* every conv region (the default converts depthwise ones) */
    EXPECT_OK(compile_optimize(m, NULL));
    unsetenv("STRATA_LAYOUT");
    g = m->graph;
    int n_nhwc = 0, n_transpose = 0, n_reshape = 0, n_other = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        if (is_nhwc(n)) n_nhwc++;
        else if (!strcmp(n->op_type, "Transpose")) {
            n_transpose++;
            EXPECT_EQ(n->inputs[0], ir_graph_find(g, "x")); /* only where the input enters */
        } else if (!strcmp(n->op_type, "Reshape")) n_reshape++;
        else if (strcmp(n->op_type, "Flatten") != 0) n_other++;
    }
    EXPECT_EQ(n_nhwc, 5); /* conv(+relu), max pool, dw conv(+add), 1x1 conv, global pool */
    EXPECT_EQ(n_transpose, 1);
    EXPECT_EQ(n_reshape, 1); /* [N,1,1,C] -> [N,C,1,1] leaving the region */
    EXPECT_EQ(n_other, 0);
    EXPECT_OK(ir_eval(g, NULL, ins, 1, &after, 1));
    EXPECT(before && after && strata_tensor_numel(before) == strata_tensor_numel(after));
    if (before && after && strata_tensor_numel(before) == strata_tensor_numel(after)) {
        EXPECT_EQ(after->rank, 2);
        for (int64_t i = 0; i < strata_tensor_numel(before); i++)
            EXPECT_NEAR(((float *)after->data)[i], ((float *)before->data)[i], 1e-4);
    }
    strata_tensor_destroy(in);
    strata_tensor_destroy(before);
    strata_tensor_destroy(after);
    ir_model_destroy(m);
}
