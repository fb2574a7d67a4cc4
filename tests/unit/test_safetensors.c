/* tests/unit/test_safetensors.c — binding safetensors weights to initializers: a good file
 * replaces the weights (zero-copy where aligned); bad headers, overlaps, holes, duplicate keys
 * and dtype/shape mismatches are refused with the tensor named. */
#include <stdio.h>
#include <string.h>

#include "../test.h"
#include "serialize/protobuf.h"
#include "serialize/serialize.h"

/* A model y = Add(x, w) with w float32[2,2] = 0. */
static ir_model *small_model(void)
{
    protobuf_writer w;
    protobuf_writer_init(&w);
    protobuf_put_varint(&w, 1, 8);
    size_t o = protobuf_begin(&w, 8);
    protobuf_put_varint(&w, 2, 17);
    protobuf_end(&w, o);
    size_t g = protobuf_begin(&w, 7);
    size_t n = protobuf_begin(&w, 1);
    protobuf_put_string(&w, 1, "x");
    protobuf_put_string(&w, 1, "w");
    protobuf_put_string(&w, 2, "y");
    protobuf_put_string(&w, 4, "Add");
    protobuf_end(&w, n);
    protobuf_put_string(&w, 2, "g");
    size_t t = protobuf_begin(&w, 5);
    protobuf_put_varint(&w, 1, 2);
    protobuf_put_varint(&w, 1, 2);
    protobuf_put_varint(&w, 2, 1);
    protobuf_put_string(&w, 8, "w");
    static const float zero[4] = {0};
    protobuf_put_bytes(&w, 9, zero, 16);
    protobuf_end(&w, t);
    size_t v = protobuf_begin(&w, 11);
    protobuf_put_string(&w, 1, "x");
    protobuf_end(&w, v);
    v = protobuf_begin(&w, 12);
    protobuf_put_string(&w, 1, "y");
    protobuf_end(&w, v);
    protobuf_end(&w, g);
    ir_model *m = NULL;
    EXPECT_OK(onnx_read_model_bytes(w.buf, w.n, "small.onnx", &m));
    protobuf_writer_release(&w);
    return m;
}

/* Writes a safetensors file with header json (padded to 8) and data; returns its path. */
static const char *write_st(const char *name, const char *json, const void *data, size_t n_data,
                            uint64_t forced_len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    EXPECT(f != NULL);
    if (!f) return path;
    size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
    uint64_t hl = forced_len ? forced_len : padded;
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(hl >> (8 * i));
    fwrite(len, 1, 8, f);
    fwrite(json, 1, jl, f);
    for (size_t k = jl; k < padded; k++) fputc(' ', f);
    if (n_data) fwrite(data, 1, n_data, f);
    fclose(f);
    return path;
}

static const float vals[6] = {1, 2, 3, 4, 5, 6};

TEST(safetensors_bind_ok)
{
    ir_model *m = small_model();
    if (!m) return;
    const char *p = write_st("ok.safetensors",
                             "{\"__metadata__\":{\"format\":\"pt\"},"
                             "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                             "\"other\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}",
                             vals, 24, 0);
    size_t n = 0;
    EXPECT_OK(safetensors_bind(m, p, &n));
    EXPECT_EQ(n, 1);
    const strata_tensor *t = m->graph->values[ir_graph_find(m->graph, "w")].init;
    EXPECT(memcmp(t->data, vals, 16) == 0);
    EXPECT_EQ(m->n_extra_files, 1);
    const uint8_t *d = t->data;
    const mapped_file *f = m->extra_files[0];
    bool inside = d >= f->data && d < f->data + f->n_bytes;
    EXPECT(inside == (t->free_fn == NULL));
    if (((uintptr_t)f->data + 8 + (uintptr_t)f->n_bytes - 24) % 4 == 0) EXPECT(inside);
    ir_model_destroy(m);
}

TEST(safetensors_public_api)
{
    char mp[512];
    snprintf(mp, sizeof mp, "%s/models/mlp.onnx", test_shared_dir());
    strata_model *m = NULL;
    if (strata_model_load(mp, &m) != STRATA_OK) SKIP("mlp.onnx missing");
    float b[10];
    for (int i = 0; i < 10; i++) b[i] = (float)i;
    const char *p = write_st("bias.safetensors",
                             "{\"net.4.bias\":{\"dtype\":\"F32\",\"shape\":[10],\"data_offsets\":[0,40]}}",
                             b, 40, 0);
    size_t n = 0;
    EXPECT_OK(strata_model_bind_safetensors(m, p, &n));
    EXPECT_EQ(n, 1);
    strata_model_destroy(m);
}

static void expect_bind_fails(const char *name, const char *json, size_t n_data,
                              uint64_t forced_len, strata_status code, const char *needle)
{
    ir_model *m = small_model();
    if (!m) return;
    const char *p = write_st(name, json, vals, n_data, forced_len);
    size_t n = 99;
    EXPECT_STATUS(safetensors_bind(m, p, &n), code);
    EXPECT_EQ(n, 0);
    EXPECT_STR_CONTAINS(strata_last_error(), name);
    EXPECT_STR_CONTAINS(strata_last_error(), needle);
    /* nothing changed */
    const strata_tensor *t = m->graph->values[ir_graph_find(m->graph, "w")].init;
    EXPECT_EQ(((const float *)t->data)[0], 0);
    ir_model_destroy(m);
}

TEST(safetensors_bad_header_length)
{
    expect_bind_fails("big.safetensors", "{}", 0, (uint64_t)200 * 1000 * 1000,
                      STRATA_INVALID_MODEL, "over 100 MB or past the end");
    expect_bind_fails("past.safetensors", "{}", 0, 4096, STRATA_INVALID_MODEL,
                      "past the end");
}

TEST(safetensors_bad_json)
{
    expect_bind_fails("json.safetensors", "{\"w\":", 0, 0, STRATA_INVALID_MODEL,
                      "not a JSON object");
}

TEST(safetensors_bad_overlap)
{
    expect_bind_fails("overlap.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                      "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                      16, 0, STRATA_INVALID_MODEL, "overlap");
}

TEST(safetensors_bad_hole)
{
    expect_bind_fails("hole.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[8,24]}}", 24, 0,
                      STRATA_INVALID_MODEL, "tensor 'w': data_offsets begin at 8, expected 0 (hole)");
    expect_bind_fails("tail.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 24, 0,
                      STRATA_INVALID_MODEL, "unindexed bytes");
    expect_bind_fails("beyond.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 8, 0,
                      STRATA_INVALID_MODEL, "past the end of the file");
}

TEST(safetensors_bad_span_and_dtype)
{
    expect_bind_fails("span.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", 16, 0,
                      STRATA_INVALID_MODEL, "tensor 'w': data_offsets span 16 bytes");
    expect_bind_fails("dtype.safetensors",
                      "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[16],\"data_offsets\":[0,16]}}", 16, 0,
                      STRATA_INVALID_MODEL, "tensor 'w': unsupported dtype 'F8_E4M3'");
    expect_bind_fails("neg.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2,-2],\"data_offsets\":[0,16]}}", 16, 0,
                      STRATA_INVALID_MODEL, "tensor 'w': dim 0");
}

TEST(safetensors_bad_mismatch_with_model)
{
    expect_bind_fails("mismatch.safetensors",
                      "{\"w\":{\"dtype\":\"I32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, 0,
                      STRATA_INVALID_MODEL, "tensor 'w' is int32[4] but the model's initializer is float32[2,2]");
}

TEST(safetensors_bad_duplicate_key)
{
    expect_bind_fails("dup.safetensors",
                      "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, 0,
                      STRATA_INVALID_MODEL, "tensor 'w' appears twice");
}

TEST(safetensors_bad_no_match)
{
    expect_bind_fails("none.safetensors",
                      "{\"zz\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0,
                      STRATA_NOT_FOUND, "names an initializer");
}
