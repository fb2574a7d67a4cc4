/* tests/unit/test_sequence.c — sequence and optional values: the sequence ops run by the
 * reference interpreter on graphs built with the IR API, a Loop that carries a sequence (on the
 * reference and the compiled path), SequenceProto test data files, and bad input that must give
 * a clear error. */
#include <stdio.h>
#include <string.h>

#include "compile/compile.h"
#include "core/core.h"
#include "ir/ir.h"
#include "test.h"


static int val(ir_graph *g, const char *name)
{
    int id = -1;
    EXPECT_OK(ir_graph_value(g, name, &id));
    return id;
}

/* Adds op(ins...) -> outs...; names "" are absent. Returns the node (valid until the next add). */
static ir_node *add(ir_graph *g, const char *op, const char *name, const char *const *ins,
                    size_t n_in, const char *const *outs, size_t n_out, size_t n_attrs)
{
    int idx = -1;
    EXPECT_OK(ir_graph_add_node(g, op, "", name, n_in, n_out, n_attrs, &idx));
    if (idx < 0) return NULL;
    for (size_t k = 0; k < n_in; k++) {
        int id = ins[k][0] ? val(g, ins[k]) : -1;
        g->nodes[idx].inputs[k] = id;
    }
    for (size_t k = 0; k < n_out; k++) {
        int id = val(g, outs[k]);
        g->nodes[idx].outputs[k] = id;
    }
    return &g->nodes[idx];
}

static void set_int_attr(attr *a, const char *name, int64_t v)
{
    a->name = mem_strdup(name);
    a->type = ATTR_INT;
    a->i = v;
}

static ir_model *new_model(int opset)
{
    ir_model *m = ir_model_create();
    EXPECT(m != NULL);
    if (!m) return NULL;
    m->ir_version = 8;
    m->opsets = mem_calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = mem_strdup("");
    m->opsets[0].version = opset;
    m->n_opsets = 1;
    m->graph = ir_graph_create(NULL, m);
    m->graph->name = mem_strdup("main");
    return m;
}

static strata_tensor *vec_f32(int64_t n, float first)
{
    strata_tensor *t = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 1, &n, &t));
    for (int64_t i = 0; t && i < n; i++) ((float *)t->data)[i] = first + (float)i;
    return t;
}

static strata_tensor *scalar_i64(int64_t v)
{
    strata_tensor *t = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I64, 0, NULL, &t));
    if (t) ((int64_t *)t->data)[0] = v;
    return t;
}

/* a, b: float[2]. s = [a, b]; s2 = Insert(s, b, 0) = [b, a, b]; s3 = Erase(s2, -1) = [b, a];
 * len = Length(s2); at = At(s3, i); cat = ConcatFromSequence(s3, axis 0, new_axis 1). */
static ir_model *ops_model(void)
{
    ir_model *m = new_model(17);
    if (!m) return NULL;
    ir_graph *g = m->graph;
    const char *in[] = {"a", "b", "i"};
    for (int k = 0; k < 3; k++) EXPECT_OK(ir_graph_add_input(g, val(g, in[k])));
    g->values[val(g, "a")].dtype = STRATA_DTYPE_F32;
    add(g, "SequenceConstruct", "construct", (const char *[]){"a", "b"}, 2, (const char *[]){"s"}, 1, 0);
    ir_node *c = add(g, "Constant", "zero", NULL, 0, (const char *[]){"zero"}, 1, 1);
    if (c) {
        c->attrs[0].name = mem_strdup("value");
        c->attrs[0].type = ATTR_TENSOR;
        c->attrs[0].t = scalar_i64(0);
    }
    add(g, "SequenceInsert", "insert", (const char *[]){"s", "b", "zero"}, 3, (const char *[]){"s2"}, 1, 0);
    add(g, "SequenceErase", "erase", (const char *[]){"s2"}, 1, (const char *[]){"s3"}, 1, 0);
    add(g, "SequenceLength", "length", (const char *[]){"s2"}, 1, (const char *[]){"len"}, 1, 0);
    add(g, "SequenceAt", "at", (const char *[]){"s3", "i"}, 2, (const char *[]){"at"}, 1, 0);
    ir_node *cat = add(g, "ConcatFromSequence", "cat", (const char *[]){"s3"}, 1,
                       (const char *[]){"cat"}, 1, 2);
    if (cat) {
        set_int_attr(&cat->attrs[0], "axis", 0);
        set_int_attr(&cat->attrs[1], "new_axis", 1);
    }
    const char *out[] = {"len", "at", "cat", "s3"};
    for (int k = 0; k < 4; k++) EXPECT_OK(ir_graph_add_output(g, val(g, out[k])));
    EXPECT_OK(ir_graph_verify(g, "ops"));
    return m;
}

TEST(sequence_ops_reference)
{
    ir_model *m = ops_model();
    if (!m) return;
    strata_tensor *a = vec_f32(2, 1.0f), *b = vec_f32(2, 10.0f), *i = scalar_i64(-1);
    const strata_tensor *in[] = {a, b, i};
    strata_tensor *out[4] = {NULL};
    EXPECT_OK(ir_eval(m->graph, NULL, in, 3, out, 4));
    if (out[0] && out[1] && out[2] && out[3]) {
        EXPECT_EQ(((int64_t *)out[0]->data)[0], 3);
        EXPECT_EQ(out[1]->rank, 1); /* s3[-1] = a */
        EXPECT_NEAR(((float *)out[1]->data)[1], 2.0, 0);
        EXPECT_EQ(out[2]->rank, 2); /* stack [b, a] */
        EXPECT_EQ(out[2]->dims[0], 2);
        EXPECT_NEAR(((float *)out[2]->data)[0], 10.0, 0);
        EXPECT_NEAR(((float *)out[2]->data)[3], 2.0, 0);
        EXPECT(out[3]->dtype == STRATA_DTYPE_SEQUENCE);
        EXPECT_EQ(out[3]->dims[0], 2);
        strata_tensor *copy = NULL; /* a deep copy outlives the original */
        EXPECT_OK(tensor_clone(out[3], &copy));
        strata_tensor_destroy(out[3]);
        out[3] = NULL;
        if (copy) {
            const strata_tensor *e = ((strata_tensor **)copy->data)[0];
            EXPECT_NEAR(((float *)e->data)[1], 11.0, 0);
        }
        strata_tensor_destroy(copy);
    }
    for (int k = 0; k < 4; k++) strata_tensor_destroy(out[k]);
    strata_tensor_destroy(a);
    strata_tensor_destroy(b);
    strata_tensor_destroy(i);
    ir_model_destroy(m);
}

TEST(sequence_bad_position_names_node)
{
    ir_model *m = ops_model();
    if (!m) return;
    strata_tensor *a = vec_f32(2, 1.0f), *b = vec_f32(2, 10.0f), *i = scalar_i64(5);
    const strata_tensor *in[] = {a, b, i};
    strata_tensor *out[4] = {NULL};
    EXPECT_STATUS(ir_eval(m->graph, NULL, in, 3, out, 4), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "node 'at' (SequenceAt)");
    EXPECT_STR_CONTAINS(strata_last_error(), "position 5 outside [-2, 1]");
    for (int k = 0; k < 4; k++) EXPECT(out[k] == NULL);
    strata_tensor_destroy(a);
    strata_tensor_destroy(b);
    strata_tensor_destroy(i);
    ir_model_destroy(m);
}

TEST(sequence_into_tensor_op_is_refused)
{
    ir_model *m = new_model(17);
    if (!m) return;
    ir_graph *g = m->graph;
    EXPECT_OK(ir_graph_add_input(g, val(g, "a")));
    add(g, "SequenceConstruct", "construct", (const char *[]){"a"}, 1, (const char *[]){"s"}, 1, 0);
    add(g, "Relu", "relu", (const char *[]){"s"}, 1, (const char *[]){"y"}, 1, 0);
    EXPECT_OK(ir_graph_add_output(g, val(g, "y")));
    EXPECT_OK(ir_graph_verify(g, "bad"));
    strata_tensor *a = vec_f32(3, 0.0f), *y = NULL;
    const strata_tensor *in[] = {a};
    EXPECT_STATUS(ir_eval(g, NULL, in, 1, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "node 'relu' (Relu): input 0 is a sequence");
    strata_tensor_destroy(a);
    ir_model_destroy(m);
}

/* M -> Loop(M, , SequenceEmpty) whose body appends the iteration number; outputs the sequence,
 * its length and its elements stacked. */
static ir_model *loop_model(void)
{
    ir_model *m = new_model(17);
    if (!m) return NULL;
    ir_graph *g = m->graph;
    int mid = val(g, "M");
    g->values[mid].dtype = STRATA_DTYPE_I64;
    g->values[mid].rank = 0;
    EXPECT_OK(ir_graph_add_input(g, mid));
    ir_node *e = add(g, "SequenceEmpty", "empty", NULL, 0, (const char *[]){"seq0"}, 1, 1);
    if (e) set_int_attr(&e->attrs[0], "dtype", STRATA_DTYPE_I64);
    ir_node *loop = add(g, "Loop", "loop", (const char *[]){"M", "", "seq0"}, 3,
                        (const char *[]){"seq"}, 1, 1);
    if (!loop) return m;
    ir_graph *body = ir_graph_create(g, m);
    body->name = mem_strdup("body");
    loop->attrs[0].name = mem_strdup("body");
    loop->attrs[0].type = ATTR_GRAPH;
    loop->attrs[0].g = body;
    const char *bin[] = {"iter", "cond_in", "seq_in"};
    for (int k = 0; k < 3; k++) EXPECT_OK(ir_graph_add_input(body, val(body, bin[k])));
    body->values[val(body, "seq_in")].kind = VALUE_SEQUENCE;
    add(body, "Identity", "keep", (const char *[]){"cond_in"}, 1, (const char *[]){"cond_out"}, 1, 0);
    add(body, "SequenceInsert", "append", (const char *[]){"seq_in", "iter"}, 2,
        (const char *[]){"seq_out"}, 1, 0);
    EXPECT_OK(ir_graph_add_output(body, val(body, "cond_out")));
    EXPECT_OK(ir_graph_add_output(body, val(body, "seq_out")));
    add(g, "SequenceLength", "length", (const char *[]){"seq"}, 1, (const char *[]){"len"}, 1, 0);
    ir_node *cat = add(g, "ConcatFromSequence", "stack", (const char *[]){"seq"}, 1,
                       (const char *[]){"stacked"}, 1, 2);
    if (cat) {
        set_int_attr(&cat->attrs[0], "axis", 0);
        set_int_attr(&cat->attrs[1], "new_axis", 1);
    }
    int sid = val(g, "seq");
    g->values[sid].kind = VALUE_SEQUENCE;
    EXPECT_OK(ir_graph_add_output(g, val(g, "len")));
    EXPECT_OK(ir_graph_add_output(g, val(g, "stacked")));
    EXPECT_OK(ir_graph_add_output(g, sid));
    EXPECT_OK(ir_graph_verify(g, "loop"));
    return m;
}

static void check_loop_outputs(strata_tensor **out, int64_t trips)
{
    if (!out[0] || !out[1] || !out[2]) return;
    EXPECT_EQ(((int64_t *)out[0]->data)[0], trips);
    EXPECT_EQ(out[1]->dims[0], trips);
    for (int64_t i = 0; i < trips; i++) EXPECT_EQ(((int64_t *)out[1]->data)[i], i);
    EXPECT(out[2]->dtype == STRATA_DTYPE_SEQUENCE);
    EXPECT_EQ(out[2]->dims[0], trips);
}

TEST(sequence_loop_carried_reference)
{
    ir_model *m = loop_model();
    if (!m) return;
    strata_tensor *trips = scalar_i64(4), *out[3] = {NULL};
    const strata_tensor *in[] = {trips};
    EXPECT_OK(ir_eval(m->graph, NULL, in, 1, out, 3));
    check_loop_outputs(out, 4);
    for (int k = 0; k < 3; k++) strata_tensor_destroy(out[k]);
    strata_tensor_destroy(trips);
    ir_model_destroy(m);
}

TEST(sequence_loop_carried_compiled)
{
    ir_model *m = loop_model();
    if (!m) return;
    char path[512];
    snprintf(path, sizeof path, "%s/seq_loop.plan", test_tmpdir());
    compile_options o;
    memset(&o, 0, sizeof o);
    EXPECT_OK(compile_optimize(m, &o));
    EXPECT_OK(compile_write_plan(m, &o, path));
    ir_model_destroy(m);
    strata_plan *p = NULL;
    strata_session *s = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    if (p) EXPECT_OK(strata_session_create_plan(p, NULL, &s));
    for (int64_t n = 2; s && n < 8; n += 3) { /* twice: the second run reuses the scratch */
        strata_tensor *trips = scalar_i64(n), *out[3] = {NULL};
        const char *names[] = {"M"};
        EXPECT_OK(strata_session_run(s, 1, names, &trips, 0, NULL, out));
        check_loop_outputs(out, n);
        for (int k = 0; k < 3; k++) strata_tensor_destroy(out[k]);
        strata_tensor_destroy(trips);
    }
    strata_session_destroy(s);
    strata_plan_close(p);
}

TEST(sequence_read_test_data_file)
{
    /* SequenceProto { elem_type: TENSOR, tensor_values: float[2] {1.5, -2} } */
    const unsigned char tensor[] = {0x08, 0x02, 0x10, 0x01, 0x4a, 0x08, 0x00, 0x00, 0xc0, 0x3f,
                                    0x00, 0x00, 0x00, 0xc0};
    unsigned char file[64];
    size_t n = 0;
    file[n++] = 0x10, file[n++] = 0x01, file[n++] = 0x1a, file[n++] = sizeof tensor;
    memcpy(file + n, tensor, sizeof tensor);
    n += sizeof tensor;
    char path[512];
    snprintf(path, sizeof path, "%s/seq.pb", test_tmpdir());
    FILE *f = fopen(path, "wb");
    EXPECT(f != NULL);
    if (!f) return;
    fwrite(file, 1, n, f);
    fclose(f);
    strata_tensor *t = NULL;
    EXPECT_OK(onnx_read_value_file(path, VALUE_SEQUENCE, &t));
    if (t) {
        EXPECT(t->dtype == STRATA_DTYPE_SEQUENCE);
        EXPECT_EQ(t->dims[0], 1);
        const strata_tensor *e = ((strata_tensor **)t->data)[0];
        EXPECT_NEAR(((float *)e->data)[0], 1.5, 0);
        EXPECT_NEAR(((float *)e->data)[1], -2.0, 0);
    }
    strata_tensor_destroy(t);
    /* cut short inside the tensor: an error with the file and offset, no value */
    f = fopen(path, "wb");
    if (!f) return;
    fwrite(file, 1, n - 3, f);
    fclose(f);
    t = NULL;
    EXPECT(onnx_read_value_file(path, VALUE_SEQUENCE, &t) != STRATA_OK);
    EXPECT(t == NULL);
    EXPECT_STR_CONTAINS(strata_last_error(), "seq.pb@");
}
