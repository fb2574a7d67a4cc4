/* tests/unit/test_attention_pass.c — the fuse_attention pass on hand-built graphs: the
 * PyTorch-exported pattern (BSHD transposes, K^T as a Transpose, a plain value or a folded
 * FusedMatMul, Mul or Div scale, optional mask) becomes one com.strata FusedAttention, and the
 * optimized graph computes what the original computes (reference interpreter on both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile/compile.h"
#include "test.h"

typedef struct builder {
    ir_model *m;
    ir_graph *g;
} builder;

static void b_init(builder *b)
{
    b->m = ir_model_create();
    b->g = ir_graph_create(NULL, b->m);
    b->m->graph = b->g;
    b->m->ir_version = 8;
    b->m->opsets = mem_calloc(1, sizeof *b->m->opsets);
    b->m->opsets[0].domain = mem_strdup("");
    b->m->opsets[0].version = 17;
    b->m->n_opsets = 1;
}

static int b_input(builder *b, const char *name, const int64_t *dims)
{
    int id;
    ir_graph_value(b->g, name, &id);
    ir_value *v = &b->g->values[id];
    v->dtype = STRATA_DTYPE_F32;
    v->rank = 4;
    for (int d = 0; d < 4; d++) v->dims[d] = dims[d];
    ir_graph_add_input(b->g, id);
    return id;
}

static int b_const(builder *b, const char *name, int rank, const int64_t *dims, const float *vals)
{
    strata_tensor *t = NULL;
    strata_tensor_create(STRATA_DTYPE_F32, rank, dims, &t);
    memcpy(t->data, vals, t->n_bytes);
    int id;
    ir_graph_add_initializer(b->g, name, t, &id);
    return id;
}

static int b_node(builder *b, const char *op, const char *out, int n_in, const int *in)
{
    int idx, oid;
    ir_graph_add_node(b->g, op, "", out, (size_t)n_in, 1, 0, &idx);
    ir_graph_value(b->g, out, &oid);
    ir_node *n = &b->g->nodes[idx];
    for (int k = 0; k < n_in; k++) n->inputs[k] = in[k];
    n->outputs[0] = oid;
    return oid;
}

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

static strata_tensor *random_tensor(const int64_t *dims, unsigned seed)
{
    strata_tensor *t = NULL;
    strata_tensor_create(STRATA_DTYPE_F32, 4, dims, &t);
    float *d = t->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 16) % 2000) / 500.0f - 2.0f;
    }
    return t;
}

/* Runs the graph before and after compile_optimize on xs; returns the optimized node count. */
static size_t optimize_and_compare(builder *b, strata_tensor **xs, size_t n_x)
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
        EXPECT_NEAR(worst, 0.0, 1e-5);
    }
    strata_tensor_destroy(before);
    strata_tensor_destroy(after);
    return b->m->graph->n_nodes;
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
    b_init(&b);
    int64_t dims[4] = {2, 5, 3, 4};
    int q = b_input(&b, "q", dims), k = b_input(&b, "k", dims), v = b_input(&b, "v", dims);
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
    strata_tensor *xs[3] = {random_tensor(dims, 1), random_tensor(dims, 2), random_tensor(dims, 3)};
    size_t n = optimize_and_compare(&b, xs, 3);
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
    b_init(&b);
    int64_t qd[4] = {1, 2, 6, 8}, ktd[4] = {1, 2, 8, 7}, vd[4] = {1, 2, 7, 5};
    int q = b_input(&b, "q", qd), kt = b_input(&b, "kt", ktd), v = b_input(&b, "v", vd);
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
    strata_tensor *xs[3] = {random_tensor(qd, 4), random_tensor(ktd, 5), random_tensor(vd, 6)};
    size_t n = optimize_and_compare(&b, xs, 3);
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
    b_init(&b);
    int64_t qd[4] = {2, 1, 3, 4}, kd[4] = {2, 1, 9, 4}, vd[4] = {2, 1, 9, 6};
    int q = b_input(&b, "q", qd), k = b_input(&b, "k", kd), v = b_input(&b, "v", vd);
    int kt = b_transpose(&b, "kt", k, 0, 1, 3, 2);
    int s = b_node(&b, "MatMul", "s", 2, (int[]){q, kt});
    int p = b_softmax(&b, "p", s);
    int o = b_node(&b, "MatMul", "o", 2, (int[]){p, v});
    ir_graph_add_output(b.g, o);
    strata_tensor *xs[3] = {random_tensor(qd, 7), random_tensor(kd, 8), random_tensor(vd, 9)};
    size_t n = optimize_and_compare(&b, xs, 3);
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
    b_init(&b);
    int64_t qd[4] = {1, 2, 3, 4}, ktd[4] = {1, 2, 4, 3}, vd[4] = {1, 2, 3, 4};
    int q = b_input(&b, "q", qd), kt = b_input(&b, "kt", ktd), v = b_input(&b, "v", vd);
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
