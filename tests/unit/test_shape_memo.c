/* tests/unit/test_shape_memo.c — the executor's memo of shape inference (runtime/shape_memo.c):
 * a plan session run again at the same input shapes keeps its output shapes, at other shapes
 * infers them again; a Reshape to a shape computed at run time (a graph input, not an
 * initializer) infers every run, so a new target shape on the same input is honoured. */
#include <stdio.h>
#include <string.h>

#include "graph_builder.h"
#include "strata/strata.h"

/* x [2,6] -> Reshape(x, shape) -> Relu -> y, with shape an int64 graph input. */
static void build_reshape(builder *b)
{
    b_init(b, 17);
    int64_t xd[2] = {2, 6}, sd[1] = {2};
    int x = b_input(b, "x", 2, xd);
    int s = b_input(b, "shape", 1, sd);
    b->g->values[s].dtype = STRATA_DTYPE_I64;
    int r = b_node(b, "Reshape", "r", 2, (int[]){x, s});
    ir_graph_add_output(b->g, b_node(b, "Relu", "y", 1, (int[]){r}));
}

static strata_session *open_plan(builder *b, strata_plan **p)
{
    compile_options o;
    memset(&o, 0, sizeof o);
    EXPECT_OK(ir_graph_verify(b->g, "test"));
    EXPECT_OK(compile_optimize(b->m, &o));
    char path[4096];
    snprintf(path, sizeof path, "%s/shape_memo.plan", test_tmpdir());
    EXPECT_OK(compile_write_plan(b->m, &o, path));
    strata_session *s = NULL;
    *p = NULL;
    EXPECT_OK(strata_plan_open(path, p));
    if (*p) EXPECT_OK(strata_session_create_plan(*p, NULL, &s));
    return s;
}

TEST(test_shape_memo_reshape_to_a_computed_shape)
{
    builder b;
    build_reshape(&b);
    strata_plan *p = NULL;
    strata_session *s = open_plan(&b, &p);
    int64_t xd[2] = {2, 6}, sd[1] = {2};
    strata_tensor *x = random_tensor(2, xd, 5), *shape = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I64, 1, sd, &shape));
    const int64_t targets[][2] = {{3, 4}, {3, 4}, {4, 3}, {12, 1}, {4, 3}};
    for (size_t t = 0; s && x && shape && t < ARRAY_LEN(targets); t++) {
        memcpy(strata_tensor_data(shape), targets[t], sizeof targets[t]);
        strata_tensor *in[2] = {x, shape}, *y = NULL;
        const char *names[2] = {"x", "shape"};
        EXPECT_OK(strata_session_run(s, 2, names, in, 0, NULL, &y));
        if (!y) continue;
        EXPECT_EQ(strata_tensor_rank(y), 2);
        EXPECT_EQ(strata_tensor_dims(y)[0], targets[t][0]);
        EXPECT_EQ(strata_tensor_dims(y)[1], targets[t][1]);
        const float *xv = strata_tensor_data(x), *yv = strata_tensor_data(y);
        for (int i = 0; i < 12; i++) EXPECT_NEAR(yv[i], xv[i] > 0 ? xv[i] : 0.0f, 0.0);
        strata_tensor_destroy(y);
    }
    strata_tensor_destroy(x);
    strata_tensor_destroy(shape);
    strata_session_destroy(s);
    strata_plan_close(p);
    ir_model_destroy(b.m);
}
