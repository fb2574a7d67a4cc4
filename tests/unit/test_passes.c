/* tests/unit/test_passes.c — the compiler's passes on small graphs built with the IR API: each
 * pattern is recognised (the node count and op types say so) and the optimized graph computes
 * what the original computes (reference interpreter on both). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph_builder.h"

static size_t optimize_and_compare(builder *b, strata_tensor *x, double tol)
{
    return optimize_and_compare_n(b, &x, 1, tol);
}

TEST(test_pass_fuses_decomposed_layernorm)
{
    builder b;
    b_init(&b, 13);
    int64_t dims[2] = {3, 8}, axes_dims[1] = {1};
    int x = b_input(&b, "x", 2, dims);
    float gamma[8], beta[8];
    for (int i = 0; i < 8; i++) gamma[i] = 0.5f + 0.1f * (float)i, beta[i] = 0.01f * (float)i;
    int g = b_const(&b, "gamma", 1, &dims[1], gamma), be = b_const(&b, "beta", 1, &dims[1], beta);
    int two = b_scalar(&b, "two", 2.0f), eps = b_scalar(&b, "eps", 1e-5f);
    (void)axes_dims;
    int mean = b_node(&b, "ReduceMean", "mean", 1, &x);
    int64_t axis = -1;
    ir_node *rm = last_node(&b);
    attr *a = mem_calloc(1, sizeof *a);
    a->name = mem_strdup("axes");
    a->type = ATTR_INTS;
    a->n = 1;
    a->ints = mem_calloc(1, sizeof(int64_t));
    a->ints[0] = axis;
    rm->attrs = a;
    rm->n_attrs = 1;
    int d = b_node(&b, "Sub", "d", 2, (int[]){x, mean});
    int sq = b_node(&b, "Pow", "sq", 2, (int[]){d, two});
    int var = b_node(&b, "ReduceMean", "var", 1, &sq);
    rm = last_node(&b);
    a = mem_calloc(1, sizeof *a);
    a->name = mem_strdup("axes");
    a->type = ATTR_INTS;
    a->n = 1;
    a->ints = mem_calloc(1, sizeof(int64_t));
    a->ints[0] = 1;
    rm->attrs = a;
    rm->n_attrs = 1;
    int ve = b_node(&b, "Add", "ve", 2, (int[]){var, eps});
    int sd = b_node(&b, "Sqrt", "sd", 1, &ve);
    int nrm = b_node(&b, "Div", "nrm", 2, (int[]){d, sd});
    int sc = b_node(&b, "Mul", "sc", 2, (int[]){nrm, g});
    int y = b_node(&b, "Add", "y", 2, (int[]){sc, be});
    ir_graph_add_output(b.g, y);
    strata_tensor *xt = random_tensor(2, dims, 7);
    size_t n = optimize_and_compare(&b, xt, 1e-5);
    EXPECT_EQ(n, 1);
    if (n == 1) EXPECT(strcmp(b.m->graph->nodes[0].op_type, "LayerNormalization") == 0);
    strata_tensor_destroy(xt);
    ir_model_destroy(b.m);
}

TEST(test_pass_merges_common_subexpressions)
{
    builder b;
    b_init(&b, 17);
    int64_t dims[2] = {2, 5};
    int x = b_input(&b, "x", 2, dims);
    int e1 = b_node(&b, "Exp", "e1", 1, &x);
    int e2 = b_node(&b, "Exp", "e2", 1, &x); /* the same as e1 */
    int y = b_node(&b, "Add", "y", 2, (int[]){e1, e2});
    ir_graph_add_output(b.g, y);
    strata_tensor *xt = random_tensor(2, dims, 3);
    EXPECT_EQ(optimize_and_compare(&b, xt, 1e-6), 2);
    strata_tensor_destroy(xt);
    ir_model_destroy(b.m);
}

TEST(test_pass_fuses_gelu_and_matmul_bias)
{
    builder b;
    b_init(&b, 17);
    int64_t dims[3] = {2, 3, 4}, wd[2] = {4, 6};
    int x = b_input(&b, "x", 3, dims);
    float w[24], bias[6];
    for (int i = 0; i < 24; i++) w[i] = 0.05f * (float)(i % 7) - 0.1f;
    for (int i = 0; i < 6; i++) bias[i] = 0.1f * (float)i;
    int W = b_const(&b, "W", 2, wd, w), B = b_const(&b, "B", 1, &wd[1], bias);
    int mm = b_node(&b, "MatMul", "mm", 2, (int[]){x, W});
    int h = b_node(&b, "Add", "h", 2, (int[]){mm, B});
    int s2 = b_scalar(&b, "sqrt2", 1.4142135f), one = b_scalar(&b, "one", 1.0f), half = b_scalar(&b, "half", 0.5f);
    int dv = b_node(&b, "Div", "dv", 2, (int[]){h, s2});
    int er = b_node(&b, "Erf", "er", 1, &dv);
    int ad = b_node(&b, "Add", "ad", 2, (int[]){er, one});
    int mu = b_node(&b, "Mul", "mu", 2, (int[]){h, ad});
    int y = b_node(&b, "Mul", "y", 2, (int[]){mu, half});
    ir_graph_add_output(b.g, y);
    strata_tensor *xt = random_tensor(3, dims, 11);
    size_t n = optimize_and_compare(&b, xt, 1e-5);
    EXPECT_EQ(n, 1); /* FusedMatMul(x, W, B) with activation Gelu */
    if (n == 1) {
        const ir_node *f = &b.m->graph->nodes[0];
        EXPECT(strcmp(f->op_type, "FusedMatMul") == 0);
        const attr *act = attr_find(f->attrs, f->n_attrs, "activation");
        EXPECT(act && strcmp(act->s, "Gelu") == 0);
    }
    strata_tensor_destroy(xt);
    ir_model_destroy(b.m);
}

TEST(test_pass_folds_transpose_into_matmul)
{
    builder b;
    b_init(&b, 17);
    int64_t qd[4] = {1, 2, 3, 4}, kd[4] = {1, 2, 5, 4};
    int q = b_input(&b, "q", 4, qd), k = b_input(&b, "k", 4, kd);
    int kt = b_node(&b, "Transpose", "kt", 1, &k);
    ir_node *tn = last_node(&b);
    attr *a = mem_calloc(1, sizeof *a);
    a->name = mem_strdup("perm");
    a->type = ATTR_INTS;
    a->n = 4;
    a->ints = mem_calloc(4, sizeof(int64_t));
    a->ints[0] = 0, a->ints[1] = 1, a->ints[2] = 3, a->ints[3] = 2;
    tn->attrs = a;
    tn->n_attrs = 1;
    int y = b_node(&b, "MatMul", "y", 2, (int[]){q, kt});
    ir_graph_add_output(b.g, y);
    strata_tensor *xs[2] = {random_tensor(4, qd, 5), random_tensor(4, kd, 9)};
    size_t n = optimize_and_compare_n(&b, xs, 2, 1e-5);
    EXPECT_EQ(n, 1);
    if (n == 1) {
        const ir_node *f = &b.m->graph->nodes[0];
        EXPECT(strcmp(f->op_type, "FusedMatMul") == 0);
        const attr *tb = attr_find(f->attrs, f->n_attrs, "transB");
        EXPECT(tb && tb->i == 1);
    }
    strata_tensor_destroy(xs[0]);
    strata_tensor_destroy(xs[1]);
    ir_model_destroy(b.m);
}

TEST(test_memory_plan_runs_elementwise_chains_in_place)
{
    builder b;
    b_init(&b, 17);
    int64_t dims[2] = {4, 256}; /* 4 KiB per tensor */
    int x = b_input(&b, "x", 2, dims);
    int e = b_node(&b, "Exp", "e", 1, &x);
    int s = b_node(&b, "Sigmoid", "s", 1, &e);
    int t = b_node(&b, "Tanh", "t", 1, &s);
    int y = b_node(&b, "Neg", "y", 1, &t);
    ir_graph_add_output(b.g, y);
    EXPECT_OK(ir_graph_verify(b.g, "test"));
    EXPECT_OK(ir_graph_infer_shapes(b.g));
    char path[512];
    snprintf(path, sizeof path, "%s/chain.plan", test_tmpdir());
    compile_options o;
    memset(&o, 0, sizeof o);
    EXPECT_OK(compile_optimize(b.m, &o));
    EXPECT_OK(compile_write_plan(b.m, &o, path));
    plan_view *v = NULL;
    EXPECT_OK(plan_read(path, true, &v));
    if (v) {
        EXPECT_EQ(v->program.n_slots, 4);
        EXPECT_EQ(v->program.arena_bytes, 4 * 256 * 4); /* one tensor: every step in place */
    }
    plan_view_close(v);
    /* and the plan computes what the interpreter computes, with garbage in free arena bytes */
    setenv("STRATA_STRESS_ARENA", "1", 1);
    strata_plan *p = NULL;
    strata_session *sess = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    if (p) EXPECT_OK(strata_session_create_plan(p, NULL, &sess));
    strata_tensor *xt = random_tensor(2, dims, 21), *yp = NULL, *yr = NULL;
    const char *names[1] = {"x"};
    if (sess) EXPECT_OK(strata_session_run(sess, 1, names, &xt, 0, NULL, &yp));
    const strata_tensor *in[1] = {xt};
    EXPECT_OK(ir_eval(b.m->graph, NULL, in, 1, &yr, 1));
    if (yp && yr)
        for (int64_t i = 0; i < strata_tensor_numel(yr); i++)
            EXPECT_NEAR(tensor_get_f64(yp, i), tensor_get_f64(yr, i), 1e-6);
    strata_tensor_destroy(xt);
    strata_tensor_destroy(yp);
    strata_tensor_destroy(yr);
    strata_session_destroy(sess);
    strata_plan_close(p);
    ir_model_destroy(b.m);
}

/* ---- a conv's residual in place ----------------------------------------------------------- */

/* conv(x, w, bias) with a k x k kernel, stride 1, pads k/2; w and bias random initializers. */
static int conv_same(builder *b, const char *out, int x, int64_t c_in, int64_t c_out, int64_t k, unsigned seed)
{
    char wn[64], bn[64];
    snprintf(wn, sizeof wn, "%s_w", out);
    snprintf(bn, sizeof bn, "%s_b", out);
    int64_t wd[4] = {c_out, c_in, k, k}, bd[1] = {c_out};
    strata_tensor *wt = random_tensor(4, wd, seed), *bt = random_tensor(1, bd, seed + 1);
    float *d = wt->data;
    for (int64_t i = 0; i < strata_tensor_numel(wt); i++) d[i] *= 0.25f;
    int w, bias;
    ir_graph_add_initializer(b->g, wn, wt, &w);
    ir_graph_add_initializer(b->g, bn, bt, &bias);
    int y = b_node(b, "Conv", out, 3, (int[]){x, w, bias});
    ir_node *n = last_node(b);
    int64_t ks[2] = {k, k}, pads[4] = {k / 2, k / 2, k / 2, k / 2};
    ir_node_set_ints(n, "kernel_shape", ks, 2);
    ir_node_set_ints(n, "pads", pads, 4);
    return y;
}

/* The slot offset of value `name` in plan v, or -1. */
static int64_t slot_offset(const plan_view *v, const char *name)
{
    for (size_t i = 0; i < v->program.n_slots; i++)
        if (strcmp(v->program.slots[i].name, name) == 0) return (int64_t)v->program.slots[i].offset;
    return -1;
}

/* x -> conv a (relu) -> conv c (relu) -> conv d; y = relu(d + R) with R = a (shape 0), or
 * R = c (shape 1: the residual is also the conv's input), or R = a read again after y (shape
 * 2: y2 = y + a). Compiles (tactics as given) and returns whether the conv with the residual
 * writes into the residual's memory; checks the plan against the interpreter, garbage in the
 * free arena bytes. */
static int residual_shares_memory(int shape, compile_tactics tactics)
{
    builder b;
    b_init(&b, 17);
    int64_t xd[4] = {1, 8, 6, 6};
    int x = b_input(&b, "x", 4, xd);
    int a = b_node(&b, "Relu", "a", 1, (int[]){conv_same(&b, "a_conv", x, 8, 8, 3, 11)});
    int c = b_node(&b, "Relu", "c", 1, (int[]){conv_same(&b, "c_conv", a, 8, 8, 3, 21)});
    int d = conv_same(&b, "d", c, 8, 8, 1, 31);
    int s = b_node(&b, "Add", "s", 2, (int[]){d, shape == 1 ? c : a});
    int y = b_node(&b, "Relu", "y", 1, &s);
    if (shape == 2) y = b_node(&b, "Add", "y2", 2, (int[]){y, a});
    ir_graph_add_output(b.g, y);
    EXPECT_OK(ir_graph_verify(b.g, "test"));
    EXPECT_OK(ir_graph_infer_shapes(b.g));
    strata_tensor *xt = random_tensor(4, xd, 41), *want = NULL, *got = NULL;
    const strata_tensor *in[1] = {xt};
    EXPECT_OK(ir_eval(b.g, NULL, in, 1, &want, 1));
    compile_options o;
    memset(&o, 0, sizeof o);
    o.tactics = tactics;
    EXPECT_OK(compile_optimize(b.m, &o));
    const ir_graph *g = b.m->graph;
    const char *out_name = NULL, *z_name = NULL;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, "FusedConv") == 0 && g->nodes[i].n_inputs > 3 && g->nodes[i].inputs[3] >= 0) {
            out_name = g->values[g->nodes[i].outputs[0]].name;
            z_name = g->values[g->nodes[i].inputs[3]].name;
        }
    EXPECT(out_name && z_name); /* the Add went into the conv as its residual */
    char path[512];
    snprintf(path, sizeof path, "%s/residual.plan", test_tmpdir());
    EXPECT_OK(compile_write_plan(b.m, &o, path));
    plan_view *v = NULL;
    int shared = -1;
    EXPECT_OK(plan_read(path, true, &v));
    if (v && out_name && z_name) {
        int64_t oo = slot_offset(v, out_name), zo = slot_offset(v, z_name);
        EXPECT(oo >= 0 && zo >= 0);
        shared = oo == zo;
    }
    plan_view_close(v);
    setenv("STRATA_STRESS_ARENA", "1", 1);
    strata_plan *p = NULL;
    strata_session *sess = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    if (p) EXPECT_OK(strata_session_create_plan(p, NULL, &sess));
    const char *names[1] = {"x"};
    if (sess) EXPECT_OK(strata_session_run(sess, 1, names, &xt, 0, NULL, &got));
    if (got && want) {
        EXPECT_EQ(strata_tensor_numel(got), strata_tensor_numel(want));
        for (int64_t i = 0; i < strata_tensor_numel(want); i++)
            EXPECT_NEAR(tensor_get_f64(got, i), tensor_get_f64(want, i), 1e-4);
    }
    unsetenv("STRATA_STRESS_ARENA");
    strata_tensor_destroy(xt), strata_tensor_destroy(want), strata_tensor_destroy(got);
    strata_session_destroy(sess);
    strata_plan_close(p);
    ir_model_destroy(b.m);
    return shared;
}

TEST(test_memory_plan_gives_a_conv_its_dying_residual)
{
    EXPECT_EQ(residual_shares_memory(0, TACTICS_HEURISTIC), 1);
    EXPECT_EQ(residual_shares_memory(0, TACTICS_AUTOTUNE), 1);
    EXPECT_EQ(residual_shares_memory(1, TACTICS_HEURISTIC), 0); /* the residual is the conv's input too */
    EXPECT_EQ(residual_shares_memory(2, TACTICS_HEURISTIC), 0); /* read again later */
    EXPECT_EQ(residual_shares_memory(0, TACTICS_REFERENCE), 0); /* the reference op adds it after */
}
