/* tests/unit/test_verify.c — ir_graph_verify on graphs built with the IR API: stable
 * topological order, producers, cycles, double producers, undefined inputs and outputs,
 * outer-scope references in subgraphs, and the subgraph depth limit. */
#include <string.h>

#include "../test.h"
#include "ir/ir.h"

static int val(ir_graph *g, const char *name)
{
    int id = -1;
    EXPECT_OK(ir_graph_value(g, name, &id));
    return id;
}

/* Adds op(in0[, in1]) -> out; returns the node index. */
static int node(ir_graph *g, const char *op, const char *name, const char *in0, const char *in1,
                const char *out)
{
    int idx = -1;
    EXPECT_OK(ir_graph_add_node(g, op, "", name, in1 ? 2 : 1, 1, 0, &idx));
    if (idx < 0) return idx;
    int a = val(g, in0), b = in1 ? val(g, in1) : -1, o = val(g, out);
    g->nodes[idx].inputs[0] = a;
    if (in1) g->nodes[idx].inputs[1] = b;
    g->nodes[idx].outputs[0] = o;
    return idx;
}

static ir_model *model_with_graph(void)
{
    ir_model *m = ir_model_create();
    EXPECT(m != NULL);
    if (!m) return NULL;
    m->graph = ir_graph_create(NULL, m);
    m->graph->name = mem_strdup("main");
    return m;
}

TEST(verify_sorts_stably)
{
    ir_model *m = model_with_graph();
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "x")));
    node(g, "Relu", "d", "c", NULL, "y");  /* needs c */
    node(g, "Neg", "a", "x", NULL, "a1");  /* independent */
    node(g, "Abs", "c", "b1", NULL, "c");  /* needs b1 */
    node(g, "Exp", "b", "x", NULL, "b1");
    node(g, "Sin", "e", "x", NULL, "e1");
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    EXPECT_OK(ir_graph_verify(g, "t"));
    const char *want[] = {"a", "b", "c", "d", "e"};
    for (int i = 0; i < 5; i++) EXPECT(strcmp(g->nodes[i].name, want[i]) == 0);
    EXPECT_EQ(g->values[ir_graph_find(g, "y")].producer, 3);
    EXPECT_EQ(g->values[ir_graph_find(g, "x")].producer, -1);
    /* already sorted: unchanged */
    EXPECT_OK(ir_graph_verify(g, "t"));
    for (int i = 0; i < 5; i++) EXPECT(strcmp(g->nodes[i].name, want[i]) == 0);
    ir_model_destroy(m);
}

TEST(verify_bad_cycle)
{
    ir_model *m = model_with_graph();
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "x")));
    node(g, "Relu", "head", "x", NULL, "h");
    node(g, "Add", "p", "h", "r", "pq");
    node(g, "Neg", "q", "pq", NULL, "r");
    node(g, "Abs", "tail", "r", NULL, "y");
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    EXPECT_STATUS(ir_graph_verify(g, "cyc.onnx"), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "cyc.onnx: graph 'main': cycle through node '");
    const char *e = strata_last_error();
    EXPECT(strstr(e, "'p'") || strstr(e, "'q'")); /* a node on the cycle, not downstream */
    ir_model_destroy(m);
}

TEST(verify_bad_two_producers)
{
    ir_model *m = model_with_graph();
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "x")));
    node(g, "Relu", "one", "x", NULL, "y");
    node(g, "Neg", "two", "x", NULL, "y");
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    EXPECT_STATUS(ir_graph_verify(g, NULL), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "value 'y' is produced twice");
    ir_model_destroy(m);
}

TEST(verify_bad_undefined_input_and_output)
{
    ir_model *m = model_with_graph();
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "x")));
    node(g, "MatMul", "mm", "x", "weight", "y");
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    EXPECT_STATUS(ir_graph_verify(g, "m.onnx"), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(),
                        "node 'mm' (MatMul): input 'weight' is not defined (missing initializer?)");
    ir_model_destroy(m);
    m = model_with_graph();
    if (!m) return;
    g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "x")));
    EXPECT_OK(ir_graph_add_output(g, val(g, "ghost")));
    EXPECT_STATUS(ir_graph_verify(g, "m.onnx"), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "output 'ghost' is not defined");
    ir_model_destroy(m);
}

/* Adds an If-like node to g whose then_branch is a new subgraph; returns the subgraph. */
static ir_graph *add_sub(ir_graph *g, const ir_model *m, const char *cond, const char *out)
{
    int idx = -1;
    EXPECT_OK(ir_graph_add_node(g, "If", "", "if", 1, 1, 1, &idx));
    if (idx < 0) return NULL;
    int c = val(g, cond), o = val(g, out);
    ir_node *n = &g->nodes[idx];
    n->inputs[0] = c;
    n->outputs[0] = o;
    ir_graph *sub = ir_graph_create(g, m);
    sub->name = mem_strdup("branch");
    n->attrs[0].name = mem_strdup("then_branch");
    n->attrs[0].type = ATTR_GRAPH;
    n->attrs[0].g = sub;
    return sub;
}

TEST(verify_outer_reference_and_order)
{
    ir_model *m = model_with_graph();
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "x")));
    EXPECT_OK(ir_graph_add_input(g, val(g, "c")));
    ir_graph *sub = add_sub(g, m, "c", "y");   /* node 0 reads "t" implicitly */
    node(g, "Exp", "make_t", "x", NULL, "t");  /* node 1 produces t */
    if (!sub) return;
    node(sub, "Neg", "inner", "t", NULL, "r");
    EXPECT_OK(ir_graph_add_output(sub, val(sub, "r")));
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    EXPECT_OK(ir_graph_verify(g, "o.onnx"));
    EXPECT(sub->values[ir_graph_find(sub, "t")].is_outer);
    EXPECT(strcmp(g->nodes[0].name, "make_t") == 0); /* the implicit edge orders them */
    ir_model_destroy(m);
}

TEST(verify_bad_subgraph_undefined)
{
    ir_model *m = model_with_graph();
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "c")));
    ir_graph *sub = add_sub(g, m, "c", "y");
    if (!sub) return;
    node(sub, "Neg", "inner", "nowhere", NULL, "r");
    EXPECT_OK(ir_graph_add_output(sub, val(sub, "r")));
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    EXPECT_STATUS(ir_graph_verify(g, "s.onnx"), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(),
                        "graph 'branch': node 'inner' (Neg): input 'nowhere' is not defined");
    ir_model_destroy(m);
}

TEST(verify_bad_depth)
{
    ir_model *m = model_with_graph();
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "c")));
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    for (int level = 0; level < 40 && g; level++) {
        ir_graph *sub = add_sub(g, m, "c", "y");
        if (!sub) return;
        EXPECT_OK(ir_graph_add_output(sub, val(sub, "y")));
        g = sub;
    }
    if (g) node(g, "Identity", "leaf", "c", NULL, "y");
    EXPECT_STATUS(ir_graph_verify(m->graph, "deep"), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "nested deeper than 32");
    ir_model_destroy(m);
}
