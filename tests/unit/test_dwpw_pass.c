/* tests/unit/test_dwpw_pass.c — compile/fuse_dw_pointwise.c on small MobileNet-like blocks built
 * with the IR API: the depthwise 3x3 conv and the 1x1 conv reading it become one FusedDwPw (with
 * the 1x1 expand before them too when STRATA_FUSE_IR allows) and the reference interpreter gives
 * the same output as before; no fusion when the depthwise output has a second reader or the
 * conv after it is not 1x1 stride 1, and no expand fusion when the expanded tensor has another
 * reader; a network's stem conv (3x3 stride 2 over few channels) joins as the expand, one over
 * many channels does not. */
#include <stdlib.h>
#include <string.h>

#include "graph_builder.h"
#include "strata/strata.h"

static void set_ints(ir_node *n, const char *name, const int64_t *v, size_t count)
{
    n->attrs = mem_realloc(n->attrs, (n->n_attrs + 1) * sizeof *n->attrs);
    attr *a = &n->attrs[n->n_attrs++];
    memset(a, 0, sizeof *a);
    a->name = mem_strdup(name);
    a->type = ATTR_INTS;
    a->n = count;
    a->ints = mem_alloc(count * sizeof *a->ints);
    memcpy(a->ints, v, count * sizeof *a->ints);
}

static int weights(builder *b, const char *name, int rank, const int64_t *dims, unsigned seed)
{
    strata_tensor *t = random_tensor(rank, dims, seed);
    float *d = t->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) d[i] *= 0.25f; /* keep activations moderate */
    int id;
    ir_graph_add_initializer(b->g, name, t, &id);
    return id;
}

/* conv(x, w[, bias]) with kernel k, stride s, pads p, group g. */
static int conv(builder *b, const char *out, int x, int w, int bias, int64_t k, int64_t s, int64_t p, int64_t g)
{
    int y = bias >= 0 ? b_node(b, "Conv", out, 3, (int[]){x, w, bias}) : b_node(b, "Conv", out, 2, (int[]){x, w});
    ir_node *n = last_node(b);
    int64_t ks[2] = {k, k}, st[2] = {s, s}, pads[4] = {p, p, p, p};
    set_ints(n, "kernel_shape", ks, 2);
    set_ints(n, "strides", st, 2);
    set_ints(n, "pads", pads, 4);
    if (g != 1) ir_node_set_int(n, "group", g);
    return y;
}

static int clip6(builder *b, const char *out, int x)
{
    int lo = b_scalar(b, out[0] == 'a' ? "lo_a" : "lo_b", 0.0f), hi = b_scalar(b, out[0] == 'a' ? "hi_a" : "hi_b", 6.0f);
    return b_node(b, "Clip", out, 3, (int[]){x, lo, hi});
}

static size_t count_op(const ir_graph *g, const char *op)
{
    size_t count = 0;
    for (size_t i = 0; i < g->n_nodes; i++) count += strcmp(g->nodes[i].op_type, op) == 0;
    return count;
}

enum { SHAPE_PLAIN, SECOND_READER, PW_3X3, PW_STRIDE2, EXPAND_READ_TWICE };

/* x [2,8,9,11] -> 1x1 expand to 24 + relu6 -> dw 3x3 (stride) + relu6 -> tail -> (+ x) */
static void build_block(builder *b, int variant, int64_t stride, strata_tensor **x_out)
{
    b_init(b, 17);
    int64_t xd[4] = {2, 8, 9, 11}, w1d[4] = {24, 8, 1, 1}, b1d[1] = {24}, wdd[4] = {24, 1, 3, 3}, bdd[1] = {24};
    int64_t wpd[4] = {8, 24, 1, 1}, bpd[1] = {8}, w3d[4] = {8, 24, 3, 3};
    int x = b_input(b, "x", 4, xd);
    int w1 = weights(b, "w1", 4, w1d, 1), b1 = weights(b, "b1", 1, b1d, 2), wd = weights(b, "wd", 4, wdd, 3);
    int bd = weights(b, "bd", 1, bdd, 4), wp = weights(b, "wp", 4, wpd, 5), bp = weights(b, "bp", 1, bpd, 6);
    int e = clip6(b, "a_e", conv(b, "c1", x, w1, b1, 1, 1, 0, 1));
    int d = clip6(b, "b_d", conv(b, "c2", e, wd, bd, 3, stride, 1, 24));
    int y;
    if (variant == PW_3X3) {
        y = conv(b, "c3", d, weights(b, "w3", 4, w3d, 7), bp, 3, 1, 1, 1);
    } else if (variant == PW_STRIDE2) {
        y = conv(b, "c3", d, wp, bp, 1, 2, 0, 1);
    } else {
        y = conv(b, "c3", d, wp, bp, 1, 1, 0, 1);
    }
    if (variant == SECOND_READER) {
        int y2 = conv(b, "c4", d, weights(b, "wq", 4, wpd, 8), -1, 1, 1, 0, 1);
        y = b_node(b, "Add", "sum", 2, (int[]){y, y2});
    } else if (stride == 1 && variant == SHAPE_PLAIN) {
        y = b_node(b, "Add", "res", 2, (int[]){y, x}); /* the residual of MobileNetV2's stride-1 blocks */
    } else if (variant == EXPAND_READ_TWICE) {
        ir_graph_add_output(b->g, e); /* the expanded tensor is wanted as well */
    }
    ir_graph_add_output(b->g, y);
    int64_t xdims[4] = {2, 8, 9, 11};
    *x_out = random_tensor(4, xdims, 42);
}

TEST(dwpw_pass_fuses_depthwise_and_pointwise)
{
    setenv("STRATA_FUSE_DWPW", "all", 1); /* these blocks are below the default size threshold */
    setenv("STRATA_FUSE_IR", "off", 1);
    for (int64_t stride = 1; stride <= 2; stride++) {
        builder b;
        strata_tensor *x;
        build_block(&b, SHAPE_PLAIN, stride, &x);
        optimize_and_compare_n(&b, &x, 1, 1e-4);
        const ir_graph *g = b.m->graph;
        EXPECT_EQ(count_op(g, "FusedDwPw"), 1);
        EXPECT_EQ(count_op(g, "FusedConv"), 1); /* only the expansion is left */
        for (size_t i = 0; i < g->n_nodes; i++) {
            const ir_node *n = &g->nodes[i];
            if (strcmp(n->op_type, "FusedDwPw") != 0) continue;
            EXPECT_EQ(n->n_inputs, 6);
            EXPECT(n->inputs[5] >= 0 ? stride == 1 : stride == 2); /* the residual when there is one */
            const attr *s = attr_find(n->attrs, n->n_attrs, "dw_strides");
            EXPECT(s && s->type == ATTR_INTS && s->n == 2 && s->ints[0] == stride);
            const attr *a = attr_find(n->attrs, n->n_attrs, "dw_activation");
            EXPECT(a && a->type == ATTR_STRING && strcmp(a->s, "Clip") == 0);
            EXPECT(attr_find(n->attrs, n->n_attrs, "pw_activation") == NULL);
        }
        strata_tensor_destroy(x);
        ir_model_destroy(b.m);
    }
}

TEST(dwpw_pass_leaves_other_shapes)
{
    unsetenv("STRATA_FUSE_DWPW");
    unsetenv("STRATA_FUSE_IR");
    { /* by default a block whose tensors stay in cache is left alone */
        builder b;
        strata_tensor *x;
        build_block(&b, SHAPE_PLAIN, 1, &x);
        optimize_and_compare_n(&b, &x, 1, 1e-4);
        EXPECT_EQ(count_op(b.m->graph, "FusedDwPw"), 0);
        strata_tensor_destroy(x);
        ir_model_destroy(b.m);
    }
    setenv("STRATA_FUSE_DWPW", "all", 1);
    const int variants[] = {SECOND_READER, PW_3X3, PW_STRIDE2};
    for (size_t v = 0; v < ARRAY_LEN(variants); v++) {
        builder b;
        strata_tensor *x;
        build_block(&b, variants[v], 1, &x);
        optimize_and_compare_n(&b, &x, 1, 1e-4);
        EXPECT_EQ(count_op(b.m->graph, "FusedDwPw"), 0);
        strata_tensor_destroy(x);
        ir_model_destroy(b.m);
    }
}

TEST(dwpw_pass_fuses_the_expand_too)
{
    setenv("STRATA_FUSE_IR", "all", 1);
    for (int64_t stride = 1; stride <= 2; stride++) {
        builder b;
        strata_tensor *x;
        build_block(&b, SHAPE_PLAIN, stride, &x);
        optimize_and_compare_n(&b, &x, 1, 1e-4);
        const ir_graph *g = b.m->graph;
        EXPECT_EQ(count_op(g, "FusedDwPw"), 1);
        EXPECT_EQ(count_op(g, "FusedConv"), 0); /* the whole block is one node */
        for (size_t i = 0; i < g->n_nodes; i++) {
            const ir_node *n = &g->nodes[i];
            if (strcmp(n->op_type, "FusedDwPw") != 0) continue;
            EXPECT_EQ(n->n_inputs, 8);
            EXPECT(n->inputs[0] >= 0 && g->values[n->inputs[0]].dims[3] == 8); /* the block's input (NHWC) */
            EXPECT(n->inputs[6] >= 0 && n->inputs[7] >= 0);
            EXPECT(n->inputs[5] >= 0 ? stride == 1 : stride == 2);
            const attr *a = attr_find(n->attrs, n->n_attrs, "ex_activation");
            EXPECT(a && a->type == ATTR_STRING && strcmp(a->s, "Clip") == 0);
        }
        strata_tensor_destroy(x);
        ir_model_destroy(b.m);
    }
    { /* bf16 plans fuse too (the fused f32 kernel beats oneDNN's bf16 layers on these blocks) */
        builder b;
        strata_tensor *x;
        build_block(&b, SHAPE_PLAIN, 1, &x);
        compile_options o;
        memset(&o, 0, sizeof o);
        o.precision = PRECISION_BF16;
        EXPECT_OK(ir_graph_infer_shapes(b.g));
        EXPECT_OK(compile_optimize(b.m, &o));
        EXPECT_EQ(count_op(b.m->graph, "FusedDwPw"), 1);
        strata_tensor_destroy(x);
        ir_model_destroy(b.m);
    }
    { /* an expanded tensor something else reads stays a tensor: only depthwise + 1x1 fuse */
        setenv("STRATA_FUSE_DWPW", "all", 1);
        builder b;
        strata_tensor *x;
        build_block(&b, EXPAND_READ_TWICE, 1, &x);
        optimize_and_compare_n(&b, &x, 1, 1e-4);
        EXPECT_EQ(count_op(b.m->graph, "FusedConv"), 1);
        EXPECT_EQ(count_op(b.m->graph, "FusedDwPw"), 1);
        unsetenv("STRATA_FUSE_DWPW");
        strata_tensor_destroy(x);
        ir_model_destroy(b.m);
    }
    unsetenv("STRATA_FUSE_IR");
}

/* x [2,cin,17,15] -> stem 3x3 stride 2 pad 1 to 16 + relu6 -> dw 3x3 + relu6 -> 1x1 to 8 */
static void build_stem(builder *b, int64_t cin, strata_tensor **x_out)
{
    b_init(b, 17);
    int64_t xd[4] = {2, cin, 17, 15}, w1d[4] = {16, cin, 3, 3}, b1d[1] = {16}, wdd[4] = {16, 1, 3, 3};
    int64_t wpd[4] = {8, 16, 1, 1}, bpd[1] = {8};
    int x = b_input(b, "x", 4, xd);
    int w1 = weights(b, "w1", 4, w1d, 1), b1 = weights(b, "b1", 1, b1d, 2), wd = weights(b, "wd", 4, wdd, 3);
    int bd = weights(b, "bd", 1, b1d, 4), wp = weights(b, "wp", 4, wpd, 5), bp = weights(b, "bp", 1, bpd, 6);
    int e = clip6(b, "a_e", conv(b, "c1", x, w1, b1, 3, 2, 1, 1));
    int d = clip6(b, "b_d", conv(b, "c2", e, wd, bd, 3, 1, 1, 16));
    ir_graph_add_output(b->g, conv(b, "c3", d, wp, bp, 1, 1, 0, 1));
    *x_out = random_tensor(4, xd, 43);
}

TEST(dwpw_pass_fuses_a_stem_as_the_expand)
{
    setenv("STRATA_FUSE_IR", "all", 1);
    for (int64_t cin = 3; cin <= 64; cin += 61) {
        builder b;
        strata_tensor *x;
        build_stem(&b, cin, &x);
        optimize_and_compare_n(&b, &x, 1, 1e-4);
        const ir_graph *g = b.m->graph;
        EXPECT_EQ(count_op(g, "FusedDwPw"), cin == 3 ? 1 : 0); /* 3x3 over 64 channels: not a stem */
        for (size_t i = 0; i < g->n_nodes; i++) {
            const ir_node *n = &g->nodes[i];
            if (strcmp(n->op_type, "FusedDwPw") != 0) continue;
            EXPECT_EQ(n->n_inputs, 8);
            EXPECT(n->inputs[0] >= 0 && g->values[n->inputs[0]].dims[3] == 3); /* the image (NHWC) */
            const attr *st = attr_find(n->attrs, n->n_attrs, "ex_strides");
            EXPECT(st && st->type == ATTR_INTS && st->n == 2 && st->ints[0] == 2 && st->ints[1] == 2);
            const attr *pd = attr_find(n->attrs, n->n_attrs, "ex_pads");
            EXPECT(pd && pd->type == ATTR_INTS && pd->n == 4 && pd->ints[0] == 1);
        }
        strata_tensor_destroy(x);
        ir_model_destroy(b.m);
    }
    unsetenv("STRATA_FUSE_IR");
}

/* Compiles the plain block (stride) and runs the plan: the fast kernel's answer is the
 * reference interpreter's on the unoptimised graph. */
static void compile_and_run(int64_t stride)
{
    builder b;
    strata_tensor *x;
    if (stride > 0) build_block(&b, SHAPE_PLAIN, stride, &x);
    else build_stem(&b, 3, &x); /* stride 0: the stem block */
    EXPECT_OK(ir_graph_verify(b.g, "test"));
    EXPECT_OK(ir_graph_infer_shapes(b.g));
    const strata_tensor *in[1] = {x};
    strata_tensor *before = NULL;
    EXPECT_OK(ir_eval(b.g, NULL, in, 1, &before, 1));
    compile_options o;
    memset(&o, 0, sizeof o); /* heuristic tactics: the fast FusedDwPw row */
    EXPECT_OK(compile_optimize(b.m, &o));
    char path[4096];
    snprintf(path, sizeof path, "%s/dwpw.plan", test_tmpdir());
    EXPECT_OK(compile_write_plan(b.m, &o, path));
    strata_session *s = NULL;
    strata_plan *p = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    if (p) EXPECT_OK(strata_session_create_plan(p, NULL, &s));
    strata_tensor *after = NULL;
    const char *names[1] = {"x"};
    if (s) EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &after));
    if (before && after) {
        EXPECT_EQ(strata_tensor_numel(before), strata_tensor_numel(after));
        double worst = 0;
        for (int64_t i = 0; i < strata_tensor_numel(before); i++) {
            double d = fabs(tensor_get_f64(before, i) - tensor_get_f64(after, i));
            if (d > worst) worst = d;
        }
        EXPECT_NEAR(worst, 0.0, 1e-4);
    }
    strata_tensor_destroy(after);
    strata_session_destroy(s);
    strata_plan_close(p);
    strata_tensor_destroy(before);
    strata_tensor_destroy(x);
    ir_model_destroy(b.m);
}

TEST(dwpw_pass_compiles_and_runs_on_the_fast_kernel)
{
    setenv("STRATA_FUSE_DWPW", "all", 1);
    setenv("STRATA_FUSE_IR", "off", 1);
    compile_and_run(1);
    setenv("STRATA_FUSE_IR", "all", 1); /* the whole block, packed expand weights included */
    compile_and_run(1);
    compile_and_run(2);
    compile_and_run(0);
    unsetenv("STRATA_FUSE_IR");
}
