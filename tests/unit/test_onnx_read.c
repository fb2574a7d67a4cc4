/* tests/unit/test_onnx_read.c — the ONNX reader: real models (mlp.onnx, backend .pb files),
 * zero-copy initializers, typed tensor fields, subgraphs, and one test per malformed input
 * (truncation, wire types, lengths, dims, data sizes, external data escapes, deep nesting). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../test.h"
#include "serialize/protobuf.h"
#include "serialize/serialize.h"

/* ---- model builders ------------------------------------------------------------------------ */

static void put_dims(protobuf_writer *w, int rank, const int64_t *dims)
{
    for (int d = 0; d < rank; d++) protobuf_put_varint(w, 1, (uint64_t)dims[d]);
}

/* TensorProto with raw_data. */
static void put_raw_tensor(protobuf_writer *w, uint32_t field, const char *name, int dtype,
                           int rank, const int64_t *dims, const void *raw, size_t n_raw)
{
    size_t m = protobuf_begin(w, field);
    put_dims(w, rank, dims);
    protobuf_put_varint(w, 2, (uint64_t)dtype);
    protobuf_put_string(w, 8, name);
    protobuf_put_bytes(w, 9, raw, n_raw);
    protobuf_end(w, m);
}

static void put_value_info(protobuf_writer *w, uint32_t field, const char *name, int dtype,
                           int rank, const int64_t *dims)
{
    size_t m = protobuf_begin(w, field);
    protobuf_put_string(w, 1, name);
    size_t t = protobuf_begin(w, 2);
    size_t tt = protobuf_begin(w, 1);
    protobuf_put_varint(w, 1, (uint64_t)dtype);
    size_t s = protobuf_begin(w, 2);
    for (int d = 0; d < rank; d++) {
        size_t dm = protobuf_begin(w, 1);
        if (dims[d] < 0) protobuf_put_string(w, 2, "batch");
        else protobuf_put_varint(w, 1, (uint64_t)dims[d]);
        protobuf_end(w, dm);
    }
    protobuf_end(w, s);
    protobuf_end(w, tt);
    protobuf_end(w, t);
    protobuf_end(w, m);
}

static void put_node(protobuf_writer *w, const char *op, const char *name, const char *in0,
                     const char *in1, const char *out)
{
    size_t m = protobuf_begin(w, 1);
    if (in0) protobuf_put_string(w, 1, in0);
    if (in1) protobuf_put_string(w, 1, in1);
    protobuf_put_string(w, 2, out);
    protobuf_put_string(w, 3, name);
    protobuf_put_string(w, 4, op);
    protobuf_end(w, m);
}

static void put_model_head(protobuf_writer *w)
{
    protobuf_put_varint(w, 1, 8);
    protobuf_put_string(w, 2, "strata-test");
    size_t o = protobuf_begin(w, 8);
    protobuf_put_varint(w, 2, 17);
    protobuf_end(w, o);
}

/* y = Add(x, w) with w a float32[4] initializer given by the caller's tensor writer. */
typedef void (*init_fn)(protobuf_writer *w);

static void build_add_model(protobuf_writer *w, init_fn init, const char *x, const char *winit)
{
    int64_t d4[1] = {4};
    protobuf_writer_init(w);
    put_model_head(w);
    size_t g = protobuf_begin(w, 7);
    put_node(w, "Add", "add0", x, winit, "y");
    protobuf_put_string(w, 2, "g");
    if (init) init(w);
    put_value_info(w, 11, "x", 1, 1, d4);
    put_value_info(w, 12, "y", 1, 1, d4);
    protobuf_end(w, g);
}

static strata_status read_built(protobuf_writer *w, const char *name, ir_model **m)
{
    EXPECT(!w->failed);
    strata_status st = onnx_read_model_bytes(w->buf, w->n, name, m);
    protobuf_writer_release(w);
    return st;
}

static const float four[4] = {1, 2, 3, 4};

static void init_good(protobuf_writer *w)
{
    int64_t d[1] = {4};
    put_raw_tensor(w, 5, "w", 1, 1, d, four, 16);
}

static char *path_join(const char *a, const char *b)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ & 3];
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 2 > sizeof buf[0]) la = lb = 0;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    EXPECT(f != NULL);
    if (!f) return;
    EXPECT_EQ(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* ---- real models ------------------------------------------------------------------------- */

TEST(onnx_read_mlp)
{
    const char *path = path_join(test_shared_dir(), "models/mlp.onnx");
    if (access(path, R_OK) != 0) SKIP("shared/models/mlp.onnx missing");
    ir_model *m = NULL;
    EXPECT_OK(onnx_read_model(path, &m));
    if (!m) return;
    EXPECT_EQ(m->ir_version, 8);
    EXPECT_EQ(ir_model_opset(m, ""), 17);
    EXPECT(m->producer_name && strcmp(m->producer_name, "pytorch") == 0);
    ir_graph *g = m->graph;
    EXPECT_EQ(g->n_nodes, 5);
    EXPECT_EQ(g->n_inputs, 1);
    EXPECT_EQ(g->n_outputs, 1);
    const ir_value *in = &g->values[g->inputs[0]];
    EXPECT(strcmp(in->name, "input") == 0);
    EXPECT_EQ(in->dtype, STRATA_DTYPE_F32);
    EXPECT_EQ(in->rank, 2);
    EXPECT_EQ(in->dims[0], -1);
    EXPECT(in->dim_names[0] && strcmp(in->dim_names[0], "batch") == 0);
    EXPECT_EQ(in->dims[1], 64);
    const ir_value *out = &g->values[g->outputs[0]];
    EXPECT(strcmp(out->name, "logits") == 0);
    EXPECT_EQ(out->rank, 2);
    EXPECT(out->dim_names[0] && strcmp(out->dim_names[0], "batch") == 0);
    EXPECT_EQ(out->dims[1], 10);
    EXPECT(strcmp(g->nodes[0].op_type, "Gemm") == 0);
    EXPECT(strcmp(g->nodes[4].op_type, "Gemm") == 0);
    /* initializers are zero-copy views of the mapping */
    int w0 = ir_graph_find(g, "net.0.weight");
    EXPECT(w0 >= 0);
    if (w0 >= 0) {
        const strata_tensor *t = g->values[w0].init;
        EXPECT(t != NULL);
        if (t) {
            EXPECT_EQ(t->rank, 2);
            EXPECT_EQ(t->dims[0], 256);
            EXPECT_EQ(t->dims[1], 64);
            const uint8_t *p = t->data;
            bool inside = p >= m->file->data && p + t->n_bytes <= m->file->data + m->file->n_bytes;
            EXPECT(inside == (t->free_fn == NULL));
            EXPECT_EQ((uintptr_t)p % 4, 0);
        }
    }
    ir_model_destroy(m);
}

TEST(onnx_read_backend_tensor_pb)
{
    char path[512];
    snprintf(path, sizeof path, "%s/testdata/onnx-backend/node/test_abs/test_data_set_0/input_0.pb",
             test_shared_dir());
    if (access(path, R_OK) != 0) SKIP("backend test data missing");
    strata_tensor *t = NULL;
    EXPECT_OK(onnx_read_tensor_file(path, &t));
    if (!t) return;
    EXPECT_EQ(t->dtype, STRATA_DTYPE_F32);
    EXPECT_EQ(t->rank, 3);
    EXPECT_EQ(t->dims[0], 3);
    EXPECT_EQ(t->dims[1], 4);
    EXPECT_EQ(t->dims[2], 5);
    EXPECT(t->free_fn != NULL); /* standalone tensors own their bytes */
    strata_tensor_destroy(t);
}

TEST(onnx_read_misaligned_raw_is_copied)
{
    int copied = 0, viewed = 0;
    for (int pad = 0; pad < 4; pad++) {
        char name[8] = "w";
        for (int k = 0; k < pad; k++) strcat(name, "q");
        int64_t d[1] = {4};
        protobuf_writer w;
        protobuf_writer_init(&w);
        put_model_head(&w);
        size_t g = protobuf_begin(&w, 7);
        put_node(&w, "Add", "add0", "x", name, "y");
        put_raw_tensor(&w, 5, name, 1, 1, d, four, 16);
        put_value_info(&w, 11, "x", 1, 1, d);
        put_value_info(&w, 12, "y", 1, 1, d);
        protobuf_end(&w, g);
        ir_model *m = NULL;
        EXPECT_OK(read_built(&w, "pad.onnx", &m));
        if (!m) continue;
        const strata_tensor *t = m->graph->values[ir_graph_find(m->graph, name)].init;
        EXPECT_EQ((uintptr_t)t->data % 4, 0);
        EXPECT(memcmp(t->data, four, 16) == 0);
        const uint8_t *p = t->data;
        if (p >= m->file->data && p < m->file->data + m->file->n_bytes) {
            EXPECT(t->free_fn == NULL);
            viewed++;
        } else {
            EXPECT(t->free_fn != NULL);
            copied++;
        }
        ir_model_destroy(m);
    }
    EXPECT(copied > 0);
    EXPECT(viewed > 0);
}

TEST(onnx_read_typed_fields)
{
    protobuf_writer w;
    strata_tensor *t = NULL;
    /* float_data packed */
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 2);
    protobuf_put_varint(&w, 2, 1);
    size_t p = protobuf_begin(&w, 4);
    protobuf_put_raw(&w, four, 8);
    protobuf_end(&w, p);
    EXPECT_OK(onnx_read_tensor_bytes(w.buf, w.n, "f.pb", &t));
    if (t) EXPECT_NEAR(((float *)t->data)[1], 2.0, 0);
    strata_tensor_destroy(t);
    protobuf_writer_release(&w);
    /* int32_data unpacked carrying float16 bits and int8 */
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 2);
    protobuf_put_varint(&w, 2, STRATA_DTYPE_F16);
    protobuf_put_varint(&w, 5, 0x3c00); /* 1.0 */
    protobuf_put_varint(&w, 5, 0xc000); /* -2.0 */
    EXPECT_OK(onnx_read_tensor_bytes(w.buf, w.n, "h.pb", &t));
    if (t) EXPECT_NEAR(f16_to_f32(((uint16_t *)t->data)[1]), -2.0, 0);
    strata_tensor_destroy(t);
    protobuf_writer_release(&w);
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 3);
    protobuf_put_varint(&w, 2, STRATA_DTYPE_I8);
    p = protobuf_begin(&w, 5);
    protobuf_put_raw_varint(&w, (uint64_t)(int64_t)-5);
    protobuf_put_raw_varint(&w, 7);
    protobuf_put_raw_varint(&w, 127);
    protobuf_end(&w, p);
    EXPECT_OK(onnx_read_tensor_bytes(w.buf, w.n, "i8.pb", &t));
    if (t) {
        EXPECT_EQ(((int8_t *)t->data)[0], -5);
        EXPECT_EQ(((int8_t *)t->data)[2], 127);
    }
    strata_tensor_destroy(t);
    protobuf_writer_release(&w);
    /* int64_data, strings, doubles, uint64 */
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 2, STRATA_DTYPE_I64); /* scalar */
    protobuf_put_varint(&w, 7, (uint64_t)(int64_t)-9);
    EXPECT_OK(onnx_read_tensor_bytes(w.buf, w.n, "i64.pb", &t));
    if (t) {
        EXPECT_EQ(t->rank, 0);
        EXPECT_EQ(((int64_t *)t->data)[0], -9);
    }
    strata_tensor_destroy(t);
    protobuf_writer_release(&w);
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 2);
    protobuf_put_varint(&w, 2, STRATA_DTYPE_STRING);
    protobuf_put_string(&w, 6, "hello");
    protobuf_put_string(&w, 6, "");
    EXPECT_OK(onnx_read_tensor_bytes(w.buf, w.n, "s.pb", &t));
    if (t) EXPECT(strcmp(((char **)t->data)[0], "hello") == 0);
    strata_tensor_destroy(t);
    protobuf_writer_release(&w);
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 1);
    protobuf_put_varint(&w, 2, STRATA_DTYPE_F64);
    double dv = 2.5;
    uint64_t bits;
    memcpy(&bits, &dv, 8);
    protobuf_put_fixed64(&w, 10, bits);
    EXPECT_OK(onnx_read_tensor_bytes(w.buf, w.n, "d.pb", &t));
    if (t) EXPECT_NEAR(((double *)t->data)[0], 2.5, 0);
    strata_tensor_destroy(t);
    protobuf_writer_release(&w);
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 1);
    protobuf_put_varint(&w, 2, STRATA_DTYPE_U32);
    protobuf_put_varint(&w, 11, 4000000000u);
    EXPECT_OK(onnx_read_tensor_bytes(w.buf, w.n, "u32.pb", &t));
    if (t) EXPECT_EQ(((uint32_t *)t->data)[0], 4000000000u);
    strata_tensor_destroy(t);
    protobuf_writer_release(&w);
}

TEST(onnx_read_sorts_nodes_and_keeps_optional_absent)
{
    int64_t d4[1] = {4};
    protobuf_writer w;
    protobuf_writer_init(&w);
    put_model_head(&w);
    size_t g = protobuf_begin(&w, 7);
    put_node(&w, "Relu", "second", "a", NULL, "y"); /* consumer listed first */
    /* Clip with an absent optional min ("") and max */
    size_t n = protobuf_begin(&w, 1);
    protobuf_put_string(&w, 1, "x");
    protobuf_put_string(&w, 1, "");
    protobuf_put_string(&w, 2, "a");
    protobuf_put_string(&w, 3, "first");
    protobuf_put_string(&w, 4, "Clip");
    protobuf_end(&w, n);
    protobuf_put_string(&w, 2, "g");
    put_value_info(&w, 11, "x", 1, 1, d4);
    put_value_info(&w, 12, "y", 1, 1, d4);
    protobuf_end(&w, g);
    ir_model *m = NULL;
    EXPECT_OK(read_built(&w, "sort.onnx", &m));
    if (!m) return;
    EXPECT(strcmp(m->graph->nodes[0].name, "first") == 0);
    EXPECT(strcmp(m->graph->nodes[1].name, "second") == 0);
    EXPECT_EQ(m->graph->nodes[0].n_inputs, 2);
    EXPECT_EQ(m->graph->nodes[0].inputs[1], -1);
    EXPECT_EQ(m->graph->values[ir_graph_find(m->graph, "a")].producer, 0);
    ir_model_destroy(m);
}

/* If node whose branches read the outer value "x". */
static void put_if_model(protobuf_writer *w, const char *then_input)
{
    int64_t d4[1] = {4};
    int64_t d0[1] = {0};
    protobuf_writer_init(w);
    put_model_head(w);
    size_t g = protobuf_begin(w, 7);
    size_t n = protobuf_begin(w, 1);
    protobuf_put_string(w, 1, "c");
    protobuf_put_string(w, 2, "y");
    protobuf_put_string(w, 3, "if0");
    protobuf_put_string(w, 4, "If");
    for (int b = 0; b < 2; b++) {
        size_t a = protobuf_begin(w, 5);
        protobuf_put_string(w, 1, b ? "else_branch" : "then_branch");
        protobuf_put_varint(w, 20, 5);
        size_t sg = protobuf_begin(w, 6);
        put_node(w, "Neg", b ? "neg_else" : "neg_then", b ? "x" : then_input, NULL, "r");
        protobuf_put_string(w, 2, b ? "else" : "then");
        put_value_info(w, 12, "r", 1, 1, d4);
        protobuf_end(w, sg);
        protobuf_end(w, a);
    }
    protobuf_end(w, n);
    protobuf_put_string(w, 2, "g");
    put_value_info(w, 11, "c", 9, 0, d0);
    put_value_info(w, 11, "x", 1, 1, d4);
    put_value_info(w, 12, "y", 1, 1, d4);
    protobuf_end(w, g);
}

TEST(onnx_read_subgraph_outer_reference)
{
    protobuf_writer w;
    put_if_model(&w, "x");
    ir_model *m = NULL;
    EXPECT_OK(read_built(&w, "if.onnx", &m));
    if (!m) return;
    const ir_node *n = &m->graph->nodes[0];
    EXPECT_EQ(n->n_attrs, 2);
    const attr *a = attr_find(n->attrs, n->n_attrs, "then_branch");
    EXPECT(a && a->type == ATTR_GRAPH && a->g);
    if (a && a->g) {
        ir_graph *sub = a->g;
        EXPECT(sub->parent == m->graph);
        int x = ir_graph_find(sub, "x");
        EXPECT(x >= 0);
        if (x >= 0) EXPECT(sub->values[x].is_outer);
    }
    ir_model_destroy(m);
}

/* ---- malformed inputs ---------------------------------------------------------------------- */

TEST(onnx_read_bad_truncated_file)
{
    const char *path = path_join(test_shared_dir(), "models/mlp.onnx");
    mapped_file *f = NULL;
    if (mapped_file_open(path, &f) != STRATA_OK) SKIP("mlp.onnx missing");
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model_bytes(f->data, f->n_bytes / 2, "half.onnx", &m),
                  STRATA_INVALID_MODEL);
    EXPECT(m == NULL);
    EXPECT_STR_CONTAINS(strata_last_error(), "half.onnx@");
    EXPECT_STR_CONTAINS(strata_last_error(), "past the end");
    /* cut inside a varint */
    static const uint8_t cut[] = {0x08, 0x88};
    EXPECT_STATUS(onnx_read_model_bytes(cut, sizeof cut, "cut.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "cut.onnx@1: field 1: truncated varint");
    mapped_file_close(f);
}

TEST(onnx_read_bad_wire_type)
{
    static const uint8_t b[] = {0x08, 0x08, 0x3b}; /* ir_version 8, then field 7 wire type 3 */
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model_bytes(b, sizeof b, "wire.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "wire.onnx@2");
    EXPECT_STR_CONTAINS(strata_last_error(), "bad wire type 3");
}

TEST(onnx_read_bad_length_past_end)
{
    static const uint8_t b[] = {0x08, 0x08, 0x3a, 0xff, 0x01, 0x0a, 0x00}; /* graph: 255 bytes */
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model_bytes(b, sizeof b, "len.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "len.onnx@3");
    EXPECT_STR_CONTAINS(strata_last_error(), "length 255 runs past the end of the file");
}

TEST(onnx_read_bad_varint_too_long)
{
    uint8_t b[12] = {0x08};
    for (int i = 1; i < 12; i++) b[i] = 0xff;
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model_bytes(b, sizeof b, "v.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "v.onnx@1");
    EXPECT_STR_CONTAINS(strata_last_error(), "longer than 10 bytes");
}

static void init_negative_dim(protobuf_writer *w)
{
    int64_t d[1] = {-4};
    put_raw_tensor(w, 5, "w", 1, 1, d, four, 16);
}

TEST(onnx_read_bad_negative_dim)
{
    protobuf_writer w;
    build_add_model(&w, init_negative_dim, "x", "w");
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "neg.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "neg.onnx@");
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w': negative dim -4");
}

static void init_huge_dims(protobuf_writer *w)
{
    int64_t d[3] = {1 << 30, 1 << 30, 1 << 30};
    put_raw_tensor(w, 5, "w", 1, 3, d, four, 16);
}

TEST(onnx_read_bad_overflowing_dims)
{
    protobuf_writer w;
    build_add_model(&w, init_huge_dims, "x", "w");
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "huge.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w'");
    EXPECT_STR_CONTAINS(strata_last_error(), "more than 2^40 elements");
}

static void init_short_data(protobuf_writer *w)
{
    int64_t d[1] = {4};
    put_raw_tensor(w, 5, "w", 1, 1, d, four, 12);
}

TEST(onnx_read_bad_data_size)
{
    protobuf_writer w;
    build_add_model(&w, init_short_data, "x", "w");
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "short.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "short.onnx@");
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w': raw_data has 12 bytes, float32[4] needs 16");
}

TEST(onnx_read_bad_typed_count)
{
    protobuf_writer w;
    strata_tensor *t = NULL;
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 3);
    protobuf_put_varint(&w, 2, STRATA_DTYPE_I64);
    protobuf_put_string(&w, 8, "idx");
    protobuf_put_varint(&w, 7, 1);
    EXPECT_STATUS(onnx_read_tensor_bytes(w.buf, w.n, "cnt.pb", &t), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "cnt.pb@0: tensor 'idx': int64_data has 1 values");
    protobuf_writer_release(&w);
}

TEST(onnx_read_bad_rank_and_dtype)
{
    protobuf_writer w;
    strata_tensor *t = NULL;
    protobuf_writer_init(&w);
    for (int k = 0; k < 17; k++) protobuf_put_varint(&w, 1, 1);
    protobuf_put_varint(&w, 2, 1);
    protobuf_put_string(&w, 8, "deep");
    EXPECT_STATUS(onnx_read_tensor_bytes(w.buf, w.n, "r.pb", &t), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'deep': rank > 16");
    protobuf_writer_release(&w);
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 2, 99);
    protobuf_put_string(&w, 8, "odd");
    EXPECT_STATUS(onnx_read_tensor_bytes(w.buf, w.n, "dt.pb", &t), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'odd': unknown dtype 99");
    protobuf_writer_release(&w);
}

TEST(onnx_read_bad_raw_and_typed)
{
    protobuf_writer w;
    strata_tensor *t = NULL;
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 1);
    protobuf_put_varint(&w, 2, 1);
    protobuf_put_string(&w, 8, "two");
    protobuf_put_fixed32(&w, 4, 0);
    protobuf_put_bytes(&w, 9, four, 4);
    EXPECT_STATUS(onnx_read_tensor_bytes(w.buf, w.n, "amb.pb", &t), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'two'");
    EXPECT_STR_CONTAINS(strata_last_error(), "ambiguous");
    protobuf_writer_release(&w);
}

TEST(onnx_read_bad_missing_initializer)
{
    protobuf_writer w;
    build_add_model(&w, NULL, "x", "w");
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "miss.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "miss.onnx");
    EXPECT_STR_CONTAINS(strata_last_error(),
                        "node 'add0' (Add): input 'w' is not defined (missing initializer?)");
}

TEST(onnx_read_bad_cycle)
{
    int64_t d4[1] = {4};
    protobuf_writer w;
    protobuf_writer_init(&w);
    put_model_head(&w);
    size_t g = protobuf_begin(&w, 7);
    put_node(&w, "Add", "a", "x", "b_out", "a_out");
    put_node(&w, "Relu", "b", "a_out", NULL, "b_out");
    put_node(&w, "Relu", "c", "a_out", NULL, "y");
    protobuf_put_string(&w, 2, "main");
    put_value_info(&w, 11, "x", 1, 1, d4);
    put_value_info(&w, 12, "y", 1, 1, d4);
    protobuf_end(&w, g);
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "cyc.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "graph 'main': cycle through node '");
}

TEST(onnx_read_bad_subgraph_undefined)
{
    protobuf_writer w;
    put_if_model(&w, "nowhere");
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "ifbad.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "graph 'then': node 'neg_then' (Neg): input 'nowhere' is not defined");
}

TEST(onnx_read_bad_sparse_initializer)
{
    protobuf_writer w;
    int64_t d4[1] = {4};
    protobuf_writer_init(&w);
    put_model_head(&w);
    size_t g = protobuf_begin(&w, 7);
    put_node(&w, "Relu", "r", "x", NULL, "y");
    protobuf_put_string(&w, 2, "g");
    size_t s = protobuf_begin(&w, 15);
    protobuf_end(&w, s);
    put_value_info(&w, 11, "x", 1, 1, d4);
    put_value_info(&w, 12, "y", 1, 1, d4);
    protobuf_end(&w, g);
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "sp.onnx", &m), STRATA_UNSUPPORTED);
    EXPECT_STR_CONTAINS(strata_last_error(), "sparse_initializer is not supported");
}

/* 1000 nested If bodies, built inside out. */
TEST(onnx_read_bad_nested_if_1000)
{
    protobuf_writer body, next;
    protobuf_writer_init(&body);
    put_node(&body, "Identity", "leaf", "x", NULL, "r");
    protobuf_put_string(&body, 2, "leaf");
    for (int level = 0; level < 1000 && !body.failed; level++) {
        protobuf_writer_init(&next);
        size_t n = protobuf_begin(&next, 1);
        protobuf_put_string(&next, 1, "c");
        protobuf_put_string(&next, 2, "r");
        protobuf_put_string(&next, 4, "If");
        size_t a = protobuf_begin(&next, 5);
        protobuf_put_string(&next, 1, "then_branch");
        protobuf_put_varint(&next, 20, 5);
        protobuf_put_bytes(&next, 6, body.buf, body.n);
        protobuf_end(&next, a);
        protobuf_end(&next, n);
        protobuf_put_string(&next, 2, "level");
        protobuf_writer_release(&body);
        body = next;
    }
    protobuf_writer w;
    protobuf_writer_init(&w);
    put_model_head(&w);
    protobuf_put_bytes(&w, 7, body.buf, body.n);
    protobuf_writer_release(&body);
    ir_model *m = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    EXPECT_STATUS(read_built(&w, "deep.onnx", &m), STRATA_INVALID_MODEL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    EXPECT_STR_CONTAINS(strata_last_error(), "deep.onnx@");
    EXPECT_STR_CONTAINS(strata_last_error(), "nested deeper than");
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    EXPECT(secs < 1.0);
}

TEST(onnx_read_protobuf_depth_limit)
{
    protobuf_writer a, b;
    protobuf_writer_init(&a);
    protobuf_put_varint(&a, 1, 1);
    for (int k = 0; k < 150; k++) {
        protobuf_writer_init(&b);
        protobuf_put_bytes(&b, 2, a.buf, a.n);
        protobuf_writer_release(&a);
        a = b;
    }
    protobuf_reader r[2];
    protobuf_reader_init(&r[0], a.buf, a.n, "nest.pb");
    strata_status st = STRATA_OK;
    int depth = 1;
    for (;;) {
        protobuf_field f;
        bool more;
        protobuf_reader *cur = &r[(depth - 1) & 1];
        st = protobuf_next(cur, &f, &more);
        if (st != STRATA_OK || !more || f.number != 2) break;
        st = protobuf_enter(cur, &f, &r[depth & 1]);
        if (st != STRATA_OK) break;
        depth++;
    }
    EXPECT_STATUS(st, STRATA_INVALID_MODEL);
    EXPECT_EQ(depth, STRATA_MAX_PROTO_DEPTH);
    EXPECT_STR_CONTAINS(strata_last_error(), "nest.pb@");
    EXPECT_STR_CONTAINS(strata_last_error(), "nested deeper than 100");
    protobuf_writer_release(&a);
}

/* ---- external data --------------------------------------------------------------------------- */

static const char *ext_location;
static const char *ext_offset;
static const char *ext_length;

static void put_kv(protobuf_writer *w, const char *k, const char *v)
{
    size_t e = protobuf_begin(w, 13);
    protobuf_put_string(w, 1, k);
    protobuf_put_string(w, 2, v);
    protobuf_end(w, e);
}

static void init_external(protobuf_writer *w)
{
    size_t m = protobuf_begin(w, 5);
    protobuf_put_varint(w, 1, 4);
    protobuf_put_varint(w, 2, 1);
    protobuf_put_string(w, 8, "w");
    put_kv(w, "location", ext_location);
    if (ext_offset) put_kv(w, "offset", ext_offset);
    if (ext_length) put_kv(w, "length", ext_length);
    protobuf_put_varint(w, 14, 1);
    protobuf_end(w, m);
}

/* Writes model.onnx into dir/ with the external initializer; returns its path. */
static const char *write_ext_model(const char *dir, const char *loc, const char *off,
                                   const char *len)
{
    ext_location = loc;
    ext_offset = off;
    ext_length = len;
    protobuf_writer w;
    build_add_model(&w, init_external, "x", "w");
    static char path[512];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    write_file(path, w.buf, w.n);
    protobuf_writer_release(&w);
    return path;
}

static const char *make_model_dir(void)
{
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/m", test_tmpdir());
    mkdir(dir, 0755);
    float data[8] = {0, 0, 0, 0, 1, 2, 3, 4};
    write_file(path_join(dir, "weights.bin"), data, sizeof data);
    return dir;
}

TEST(onnx_read_external_ok_zero_copy)
{
    const char *dir = make_model_dir();
    mkdir(path_join(dir, "sub"), 0755);
    float data[4] = {5, 6, 7, 8};
    write_file(path_join(dir, "sub/w.bin"), data, sizeof data);
    ir_model *m = NULL;
    EXPECT_OK(onnx_read_model(write_ext_model(dir, "weights.bin", "16", "16"), &m));
    if (m) {
        const strata_tensor *t = m->graph->values[ir_graph_find(m->graph, "w")].init;
        EXPECT(memcmp(t->data, four, 16) == 0);
        EXPECT_EQ(m->n_extra_files, 1);
        EXPECT(t->free_fn == NULL);
        EXPECT((const uint8_t *)t->data == m->extra_files[0]->data + 16);
        ir_model_destroy(m);
    }
    EXPECT_OK(onnx_read_model(write_ext_model(dir, "./sub/w.bin", NULL, NULL), &m));
    if (m) {
        const strata_tensor *t = m->graph->values[ir_graph_find(m->graph, "w")].init;
        EXPECT(memcmp(t->data, data, 16) == 0);
        ir_model_destroy(m);
    }
}

TEST(onnx_read_bad_external_absolute)
{
    const char *dir = make_model_dir();
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "/etc/passwd", NULL, NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "model.onnx@");
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w': external data location '/etc/passwd' is an absolute path");
}

TEST(onnx_read_bad_external_dotdot)
{
    const char *dir = make_model_dir();
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "sub/../../weights.bin", NULL, NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w'");
    EXPECT_STR_CONTAINS(strata_last_error(), "'..' component");
}

TEST(onnx_read_bad_external_symlink)
{
    const char *dir = make_model_dir();
    char outside[512];
    snprintf(outside, sizeof outside, "%s/secret.bin", test_tmpdir());
    write_file(outside, four, 16);
    EXPECT_EQ(symlink(outside, path_join(dir, "link.bin")), 0);
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "link.bin", NULL, NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w'");
    EXPECT_STR_CONTAINS(strata_last_error(), "symbolic link");
    /* a symlinked folder in the middle */
    EXPECT_EQ(symlink(test_tmpdir(), path_join(dir, "up")), 0);
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "up/secret.bin", NULL, NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "symbolic link");
}

TEST(onnx_read_bad_external_hardlink)
{
    const char *dir = make_model_dir();
    char outside[512];
    snprintf(outside, sizeof outside, "%s/secret2.bin", test_tmpdir());
    write_file(outside, four, 16);
    if (link(outside, path_join(dir, "hard.bin")) != 0) SKIP("cannot make a hard link here");
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "hard.bin", NULL, NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "hard links");
}

TEST(onnx_read_bad_external_range)
{
    const char *dir = make_model_dir();
    ir_model *m = NULL;
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "weights.bin", "24", NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w': external data offset 24 + length 16 is outside");
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "weights.bin", "0", "32"), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "external data length 32 does not match");
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "weights.bin", "-1", NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "offset '-1'");
    EXPECT_STATUS(onnx_read_model(write_ext_model(dir, "", NULL, NULL), &m),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "location is empty");
}

TEST(onnx_read_bad_external_from_bytes)
{
    ext_location = "weights.bin";
    ext_offset = ext_length = NULL;
    protobuf_writer w;
    build_add_model(&w, init_external, "x", "w");
    ir_model *m = NULL;
    EXPECT_STATUS(read_built(&w, "mem.onnx", &m), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "tensor 'w': external data is not allowed here");
}

TEST(onnx_read_from_bytes_points_into_copy)
{
    protobuf_writer w;
    build_add_model(&w, init_good, "x", "w");
    ir_model *m = NULL;
    EXPECT_OK(read_built(&w, "bytes.onnx", &m));
    if (!m) return;
    const strata_tensor *t = m->graph->values[ir_graph_find(m->graph, "w")].init;
    EXPECT(memcmp(t->data, four, 16) == 0);
    EXPECT(m->file && m->file->is_heap == 1);
    EXPECT(strcmp(m->graph->name, "g") == 0);
    EXPECT(strcmp(m->producer_name, "strata-test") == 0);
    ir_model_destroy(m);
}
