/* tests/unit/test_onnx_write.c — the ONNX writer: read → write → read keeps the graph (nodes,
 * op types, attributes of every kind, subgraphs, initializer bytes, interface types), and the
 * files it writes pass onnx.checker.check_model (when python3-onnx is installed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "serialize/protobuf.h"
#include "serialize/serialize.h"

static void put_vi(protobuf_writer *w, uint32_t field, const char *name, int rank)
{
    size_t m = protobuf_begin(w, field);
    protobuf_put_string(w, 1, name);
    size_t t = protobuf_begin(w, 2);
    size_t tt = protobuf_begin(w, 1);
    protobuf_put_varint(w, 1, 1);
    size_t s = protobuf_begin(w, 2);
    for (int d = 0; d < rank; d++) {
        size_t dm = protobuf_begin(w, 1);
        if (d == 0) protobuf_put_string(w, 2, "n");
        else protobuf_put_varint(w, 1, 3);
        protobuf_end(w, dm);
    }
    protobuf_end(w, s);
    protobuf_end(w, tt);
    protobuf_end(w, t);
    protobuf_end(w, m);
}

/* One node of a custom domain carrying an attribute of every kind, plus a Relu. */
static void build_attr_model(protobuf_writer *w)
{
    protobuf_writer_init(w);
    protobuf_put_varint(w, 1, 8);
    protobuf_put_string(w, 2, "p");
    protobuf_put_string(w, 3, "1.0");
    protobuf_put_string(w, 4, "dom");
    protobuf_put_varint(w, 5, 7);
    protobuf_put_string(w, 6, "model doc");
    size_t md = protobuf_begin(w, 14);
    protobuf_put_string(w, 1, "k");
    protobuf_put_string(w, 2, "v");
    protobuf_end(w, md);
    size_t o = protobuf_begin(w, 8);
    protobuf_put_varint(w, 2, 17);
    protobuf_end(w, o);
    o = protobuf_begin(w, 8);
    protobuf_put_string(w, 1, "test.domain");
    protobuf_put_varint(w, 2, 1);
    protobuf_end(w, o);
    size_t g = protobuf_begin(w, 7);
    size_t n = protobuf_begin(w, 1);
    protobuf_put_string(w, 1, "x");
    protobuf_put_string(w, 1, "");
    protobuf_put_string(w, 2, "h");
    protobuf_put_string(w, 3, "custom");
    protobuf_put_string(w, 4, "Everything");
    protobuf_put_string(w, 7, "test.domain");
    size_t a;
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "f");
    protobuf_put_varint(w, 20, 1);
    float fv = 0.25f;
    uint32_t fb;
    memcpy(&fb, &fv, 4);
    protobuf_put_fixed32(w, 2, fb);
    protobuf_end(w, a);
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "i");
    protobuf_put_varint(w, 20, 2);
    protobuf_put_varint(w, 3, (uint64_t)(int64_t)-3);
    protobuf_end(w, a);
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "s");
    protobuf_put_varint(w, 20, 3);
    protobuf_put_bytes(w, 4, "a\0b", 3);
    protobuf_end(w, a);
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "t");
    protobuf_put_varint(w, 20, 4);
    size_t t = protobuf_begin(w, 5);
    protobuf_put_varint(w, 1, 2);
    protobuf_put_varint(w, 2, 7);
    protobuf_put_varint(w, 7, 11);
    protobuf_put_varint(w, 7, 12);
    protobuf_end(w, t);
    protobuf_end(w, a);
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "g");
    protobuf_put_varint(w, 20, 5);
    size_t sg = protobuf_begin(w, 6);
    size_t sn = protobuf_begin(w, 1);
    protobuf_put_string(w, 1, "x");
    protobuf_put_string(w, 2, "r");
    protobuf_put_string(w, 4, "Identity");
    protobuf_end(w, sn);
    protobuf_put_string(w, 2, "body");
    put_vi(w, 12, "r", 2);
    protobuf_end(w, sg);
    protobuf_end(w, a);
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "fs");
    protobuf_put_varint(w, 20, 6);
    protobuf_put_fixed32(w, 7, fb);
    protobuf_put_fixed32(w, 7, fb);
    protobuf_end(w, a);
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "is");
    protobuf_put_varint(w, 20, 7);
    size_t pk = protobuf_begin(w, 8);
    protobuf_put_raw_varint(w, 1);
    protobuf_put_raw_varint(w, (uint64_t)(int64_t)-2);
    protobuf_put_raw_varint(w, 300);
    protobuf_end(w, pk);
    protobuf_end(w, a);
    a = protobuf_begin(w, 5);
    protobuf_put_string(w, 1, "ss");
    protobuf_put_varint(w, 20, 8);
    protobuf_put_string(w, 9, "one");
    protobuf_put_string(w, 9, "two");
    protobuf_end(w, a);
    protobuf_end(w, n);
    n = protobuf_begin(w, 1);
    protobuf_put_string(w, 1, "h");
    protobuf_put_string(w, 2, "y");
    protobuf_put_string(w, 3, "relu");
    protobuf_put_string(w, 4, "Relu");
    protobuf_end(w, n);
    protobuf_put_string(w, 2, "main");
    t = protobuf_begin(w, 5);
    protobuf_put_varint(w, 1, 2);
    protobuf_put_varint(w, 2, 8);
    protobuf_put_string(w, 8, "labels");
    protobuf_put_string(w, 6, "cat");
    protobuf_put_string(w, 6, "dog");
    protobuf_end(w, t);
    put_vi(w, 11, "x", 2);
    put_vi(w, 12, "y", 2);
    protobuf_end(w, g);
}

static void compare_models(const ir_model *a, const ir_model *b)
{
    EXPECT_EQ(a->ir_version, b->ir_version);
    EXPECT_EQ(a->n_opsets, b->n_opsets);
    EXPECT_EQ(a->model_version, b->model_version);
    EXPECT_EQ(a->n_metadata, b->n_metadata);
    const ir_graph *ga = a->graph, *gb = b->graph;
    EXPECT(strcmp(ga->name, gb->name) == 0);
    EXPECT_EQ(ga->n_nodes, gb->n_nodes);
    EXPECT_EQ(ga->n_inputs, gb->n_inputs);
    EXPECT_EQ(ga->n_outputs, gb->n_outputs);
    for (size_t n = 0; n < ga->n_nodes && n < gb->n_nodes; n++) {
        const ir_node *na = &ga->nodes[n], *nb = &gb->nodes[n];
        EXPECT(strcmp(na->op_type, nb->op_type) == 0);
        EXPECT(strcmp(na->domain, nb->domain) == 0);
        EXPECT(strcmp(na->name, nb->name) == 0);
        EXPECT_EQ(na->n_inputs, nb->n_inputs);
        EXPECT_EQ(na->n_attrs, nb->n_attrs);
        for (size_t k = 0; k < na->n_attrs && k < nb->n_attrs; k++) {
            const attr *x = &na->attrs[k], *y = attr_find(nb->attrs, nb->n_attrs, x->name);
            EXPECT(y != NULL);
            if (!y) continue;
            EXPECT_EQ(x->type, y->type);
            EXPECT_EQ(x->i, y->i);
            EXPECT(x->f == y->f);
            EXPECT_EQ(x->n, y->n);
            EXPECT_EQ(x->s_len, y->s_len);
            if (x->s && y->s) EXPECT(memcmp(x->s, y->s, x->s_len) == 0);
            for (size_t q = 0; q < x->n && q < y->n; q++) {
                if (x->ints) EXPECT_EQ(x->ints[q], y->ints[q]);
                if (x->floats) EXPECT(x->floats[q] == y->floats[q]);
                if (x->strings) EXPECT(strcmp(x->strings[q], y->strings[q]) == 0);
            }
            if (x->t && y->t) {
                EXPECT_EQ(x->t->n_bytes, y->t->n_bytes);
                EXPECT(memcmp(x->t->data, y->t->data, x->t->n_bytes) == 0);
            }
            if (x->g) {
                const ir_graph *sx = x->g, *sy = y->g;
                EXPECT(sy != NULL);
                if (sy) {
                    EXPECT_EQ(sx->n_nodes, sy->n_nodes);
                    EXPECT(sy->parent == gb);
                }
            }
        }
    }
    for (size_t v = 0; v < ga->n_values; v++) {
        const ir_value *va = &ga->values[v];
        if (!va->init) continue;
        int id = ir_graph_find(gb, va->name);
        EXPECT(id >= 0);
        if (id < 0) continue;
        const strata_tensor *ta = va->init, *tb = gb->values[id].init;
        EXPECT(tb != NULL);
        if (!tb) continue;
        EXPECT_EQ(ta->dtype, tb->dtype);
        EXPECT_EQ(ta->n_bytes, tb->n_bytes);
        if (ta->dtype == STRATA_DTYPE_STRING) {
            for (int64_t e = 0; e < shape_numel(ta->rank, ta->dims); e++)
                EXPECT(strcmp(((char **)ta->data)[e], ((char **)tb->data)[e]) == 0);
        } else {
            EXPECT(memcmp(ta->data, tb->data, ta->n_bytes) == 0);
        }
    }
    for (size_t k = 0; k < ga->n_inputs && k < gb->n_inputs; k++) {
        const ir_value *x = &ga->values[ga->inputs[k]], *y = &gb->values[gb->inputs[k]];
        EXPECT(strcmp(x->name, y->name) == 0);
        EXPECT_EQ(x->dtype, y->dtype);
        EXPECT_EQ(x->rank, y->rank);
        for (int d = 0; d < x->rank; d++) {
            EXPECT_EQ(x->dims[d], y->dims[d]);
            EXPECT((x->dim_names[d] == NULL) == (y->dim_names[d] == NULL));
        }
    }
}

static void round_trip(ir_model *a)
{
    uint8_t *buf = NULL;
    size_t n = 0;
    EXPECT_OK(onnx_write_model_bytes(a, &buf, &n));
    if (!buf) return;
    ir_model *b = NULL;
    EXPECT_OK(onnx_read_model_bytes(buf, n, "written.onnx", &b));
    mem_free(buf);
    if (!b) return;
    compare_models(a, b);
    ir_model_destroy(b);
}

TEST(onnx_write_round_trip_mlp)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/mlp.onnx", test_shared_dir());
    if (access(path, R_OK) != 0) SKIP("mlp.onnx missing");
    ir_model *m = NULL;
    EXPECT_OK(onnx_read_model(path, &m));
    if (!m) return;
    round_trip(m);
    ir_model_destroy(m);
}

TEST(onnx_write_round_trip_digits_cnn)
{
    char path[512];
    snprintf(path, sizeof path, "%s/models/digits_cnn.onnx", test_shared_dir());
    if (access(path, R_OK) != 0) SKIP("digits_cnn.onnx missing");
    ir_model *m = NULL;
    EXPECT_OK(onnx_read_model(path, &m));
    if (!m) return;
    round_trip(m);
    ir_model_destroy(m);
}

TEST(onnx_write_round_trip_every_attribute)
{
    protobuf_writer w;
    build_attr_model(&w);
    ir_model *m = NULL;
    EXPECT_OK(onnx_read_model_bytes(w.buf, w.n, "attrs.onnx", &m));
    protobuf_writer_release(&w);
    if (!m) return;
    const ir_node *n = &m->graph->nodes[0];
    EXPECT_EQ(n->n_attrs, 8);
    const attr *s = attr_find(n->attrs, n->n_attrs, "s");
    EXPECT(s && s->s_len == 3);
    const attr *is = attr_find(n->attrs, n->n_attrs, "is");
    EXPECT(is && is->n == 3 && is->ints[1] == -2 && is->ints[2] == 300);
    const attr *t = attr_find(n->attrs, n->n_attrs, "t");
    EXPECT(t && t->t && ((int64_t *)t->t->data)[1] == 12);
    EXPECT(strcmp(m->metadata[0].key, "k") == 0);
    EXPECT(strcmp(m->doc_string, "model doc") == 0);
    round_trip(m);
    ir_model_destroy(m);
}

static bool have_python_onnx(void)
{
    return system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") == 0;
}

static void check_with_onnx(const char *name)
{
    char path[512], out[512], cmd[1400];
    snprintf(path, sizeof path, "%s/models/%s", test_shared_dir(), name);
    if (access(path, R_OK) != 0) {
        test_skip("model missing");
        return;
    }
    ir_model *m = NULL;
    EXPECT_OK(onnx_read_model(path, &m));
    if (!m) return;
    snprintf(out, sizeof out, "%s/%s", test_tmpdir(), name);
    EXPECT_OK(onnx_write_model(m, out));
    ir_model_destroy(m);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import onnx,sys; m=onnx.load(sys.argv[1]); "
             "onnx.checker.check_model(m); o=onnx.load(sys.argv[2]); "
             "assert len(m.graph.node)==len(o.graph.node); "
             "assert [i.name for i in m.graph.initializer]==[i.name for i in o.graph.initializer]\" "
             "'%s' '%s'", out, path);
    EXPECT_EQ(system(cmd), 0);
}

TEST(onnx_write_passes_onnx_checker)
{
    if (!have_python_onnx()) SKIP("python3-onnx missing");
    check_with_onnx("mlp.onnx");
    check_with_onnx("digits_cnn.onnx");
}

TEST(onnx_write_file_and_public_api)
{
    char path[512], out[512];
    snprintf(path, sizeof path, "%s/models/mlp.onnx", test_shared_dir());
    if (access(path, R_OK) != 0) SKIP("mlp.onnx missing");
    strata_model *m = NULL;
    EXPECT_OK(strata_model_load(path, &m));
    if (!m) return;
    EXPECT_EQ(strata_model_input_count(m), 1);
    EXPECT_EQ(strata_model_output_count(m), 1);
    strata_value_info vi;
    EXPECT_OK(strata_model_input_info(m, 0, &vi));
    EXPECT(strcmp(vi.name, "input") == 0);
    EXPECT(vi.dim_names[0] && strcmp(vi.dim_names[0], "batch") == 0);
    EXPECT_EQ(vi.dims[1], 64);
    EXPECT_STATUS(strata_model_input_info(m, 1, &vi), STRATA_INVALID_ARGUMENT);
    snprintf(out, sizeof out, "%s/saved.onnx", test_tmpdir());
    EXPECT_OK(strata_model_save(m, out));
    strata_model *m2 = NULL;
    EXPECT_OK(strata_model_load(out, &m2));
    if (m2) {
        EXPECT_OK(strata_model_output_info(m2, 0, &vi));
        EXPECT(strcmp(vi.name, "logits") == 0);
        EXPECT_EQ(vi.dims[1], 10);
    }
    strata_model_destroy(m2);
    strata_model_destroy(m);
}
