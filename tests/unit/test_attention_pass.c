/* tests/unit/test_attention_pass.c — the fuse_attention pass on hand-built graphs: the
 * PyTorch-exported pattern (BSHD transposes, K^T as a Transpose, a plain value or a folded
 * FusedMatMul, Mul or Div scale, optional mask) becomes one com.strata FusedAttention, and the
 * optimized graph computes what the original computes (reference interpreter on both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_builder.h"

static int b_transpose(builder *b, const char *out, int x, int64_t p0, int64_t p1, int64_t p2, int64_t p3)
{
    int y = b_node(b, "Transpose", out, 1, &x);
    ir_node *n = &b->g->nodes[b->g->n_nodes - 1];
    attr *a = mem_calloc(1, sizeof *a);
    a->name = mem_strdup("perm");
    a->type = ATTR_INTS;
    a->n = 4;
    a->ints = mem_calloc(4, sizeof(int64_t));
    a->ints[0] = p0, a->ints[1] = p1, a->ints[2] = p2, a->ints[3] = p3;
    n->attrs = a;
    n->n_attrs = 1;
    return y;
}

static int b_softmax(builder *b, const char *out, int x)
{
    int y = b_node(b, "Softmax", out, 1, &x);
    ir_node_set_int(&b->g->nodes[b->g->n_nodes - 1], "axis", -1);
    return y;
}

static const ir_node *find_attention(const builder *b)
{
    for (size_t i = 0; i < b->m->graph->n_nodes; i++)
        if (strcmp(b->m->graph->nodes[i].op_type, "FusedAttention") == 0) return &b->m->graph->nodes[i];
    return NULL;
}

static int64_t attr_int(const ir_node *n, const char *name, int64_t dflt)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    return a && a->type == ATTR_INT ? a->i : dflt;
}

/* BERT as PyTorch exports it: [B,S,H,D] inputs, Transposes in and out, scale by Mul. */
TEST(test_attention_pass_fuses_bshd_pattern)
{
    builder b;
    b_init(&b, 17);
    int64_t dims[4] = {2, 5, 3, 4};
    int q = b_input(&b, "q", 4, dims), k = b_input(&b, "k", 4, dims), v = b_input(&b, "v", 4, dims);
    int tq = b_transpose(&b, "tq", q, 0, 2, 1, 3), tk = b_transpose(&b, "tk", k, 0, 2, 3, 1);
    int tv = b_transpose(&b, "tv", v, 0, 2, 1, 3);
    int s = b_node(&b, "MatMul", "s", 2, (int[]){tq, tk});
    float half = 0.5f;
    int c = b_const(&b, "c", 0, NULL, &half);
    int sc = b_node(&b, "Mul", "sc", 2, (int[]){s, c});
    int p = b_softmax(&b, "p", sc);
    int o = b_node(&b, "MatMul", "o", 2, (int[]){p, tv});
    int y = b_transpose(&b, "y", o, 0, 2, 1, 3);
    ir_graph_add_output(b.g, y);
    strata_tensor *xs[3] = {random_tensor(4, dims, 1), random_tensor(4, dims, 2), random_tensor(4, dims, 3)};
    size_t n = optimize_and_compare_n(&b, xs, 3, 1e-5);
    EXPECT_EQ(n, 1);
    const ir_node *f = find_attention(&b);
    EXPECT(f != NULL);
    if (f) {
        EXPECT_EQ(attr_int(f, "layout", -1), 1);
        EXPECT_EQ(f->n_inputs, 3);
        const attr *a = attr_find(f->attrs, f->n_attrs, "scale");
        EXPECT(a && fabs(a->f - 0.5) < 1e-7);
    }
    for (int i = 0; i < 3; i++) strata_tensor_destroy(xs[i]);
    ir_model_destroy(b.m);
}

/* [B,H,S,D] values, K^T given as a value (k_transposed), Div scale, additive mask. */
TEST(test_attention_pass_fuses_masked_bhsd_pattern)
{
    builder b;
    b_init(&b, 17);
    int64_t qd[4] = {1, 2, 6, 8}, ktd[4] = {1, 2, 8, 7}, vd[4] = {1, 2, 7, 5};
    int q = b_input(&b, "q", 4, qd), kt = b_input(&b, "kt", 4, ktd), v = b_input(&b, "v", 4, vd);
    float mask[6 * 7];
    for (int i = 0; i < 6 * 7; i++) mask[i] = (i % 7) > (i / 7) + 1 ? -1e4f : 0.0f; /* causal-ish */
    int m = b_const(&b, "mask", 2, (int64_t[]){6, 7}, mask);
    float root = 2.828427f;
    int c = b_const(&b, "c", 0, NULL, &root);
    int s = b_node(&b, "MatMul", "s", 2, (int[]){q, kt});
    int sd = b_node(&b, "Div", "sd", 2, (int[]){s, c});
    int sm = b_node(&b, "Add", "sm", 2, (int[]){sd, m});
    int p = b_softmax(&b, "p", sm);
    int o = b_node(&b, "MatMul", "o", 2, (int[]){p, v});
    ir_graph_add_output(b.g, o);
    strata_tensor *xs[3] = {random_tensor(4, qd, 4), random_tensor(4, ktd, 5), random_tensor(4, vd, 6)};
    size_t n = optimize_and_compare_n(&b, xs, 3, 1e-5);
    EXPECT_EQ(n, 1);
    const ir_node *f = find_attention(&b);
    EXPECT(f != NULL);
    if (f) {
        EXPECT_EQ(attr_int(f, "layout", -1), 0);
        EXPECT_EQ(attr_int(f, "k_transposed", 0), 1);
        EXPECT_EQ(f->n_inputs, 4);
    }
    for (int i = 0; i < 3; i++) strata_tensor_destroy(xs[i]);
    ir_model_destroy(b.m);
}

/* K^T as a last-two-dims Transpose: fold_transpose makes FusedMatMul(transB), which the pass
 * takes as the scores product with K itself. */
TEST(test_attention_pass_takes_folded_transpose)
{
    builder b;
    b_init(&b, 17);
    int64_t qd[4] = {2, 1, 3, 4}, kd[4] = {2, 1, 9, 4}, vd[4] = {2, 1, 9, 6};
    int q = b_input(&b, "q", 4, qd), k = b_input(&b, "k", 4, kd), v = b_input(&b, "v", 4, vd);
    int kt = b_transpose(&b, "kt", k, 0, 1, 3, 2);
    int s = b_node(&b, "MatMul", "s", 2, (int[]){q, kt});
    int p = b_softmax(&b, "p", s);
    int o = b_node(&b, "MatMul", "o", 2, (int[]){p, v});
    ir_graph_add_output(b.g, o);
    strata_tensor *xs[3] = {random_tensor(4, qd, 7), random_tensor(4, kd, 8), random_tensor(4, vd, 9)};
    size_t n = optimize_and_compare_n(&b, xs, 3, 1e-5);
    EXPECT_EQ(n, 1);
    const ir_node *f = find_attention(&b);
    EXPECT(f != NULL);
    if (f) {
        EXPECT_EQ(attr_int(f, "k_transposed", 0), 0);
        const attr *a = attr_find(f->attrs, f->n_attrs, "scale");
        EXPECT(a && a->f == 1.0f);
    }
    for (int i = 0; i < 3; i++) strata_tensor_destroy(xs[i]);
    ir_model_destroy(b.m);
}

/* The probabilities are also a graph output: nothing to fuse. */
TEST(test_attention_pass_keeps_shared_softmax)
{
    builder b;
    b_init(&b, 17);
    int64_t qd[4] = {1, 2, 3, 4}, ktd[4] = {1, 2, 4, 3}, vd[4] = {1, 2, 3, 4};
    int q = b_input(&b, "q", 4, qd), kt = b_input(&b, "kt", 4, ktd), v = b_input(&b, "v", 4, vd);
    int s = b_node(&b, "MatMul", "s", 2, (int[]){q, kt});
    int p = b_softmax(&b, "p", s);
    int o = b_node(&b, "MatMul", "o", 2, (int[]){p, v});
    ir_graph_add_output(b.g, o);
    ir_graph_add_output(b.g, p);
    EXPECT_OK(ir_graph_verify(b.g, "test"));
    EXPECT_OK(ir_graph_infer_shapes(b.g));
    EXPECT_OK(compile_optimize(b.m, NULL));
    EXPECT(find_attention(&b) == NULL);
    ir_model_destroy(b.m);
}
