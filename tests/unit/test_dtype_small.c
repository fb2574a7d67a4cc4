/* tests/unit/test_dtype_small.c — the narrow element types (float8 e4m3fn/e4m3fnuz/e5m2/e5m2fnuz/
 * e8m0, float4 e2m1, int4/uint4, int2/uint2): conversions against hand-checked values (largest
 * finite, smallest subnormal, ties, NaN/inf, saturation), the packing in the ONNX reader and
 * writer (also through the plan's placed weights), and Cast / QuantizeLinear on them. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "../test.h"
#include "kernels/kernels.h"
#include "serialize/protobuf.h"
#include "serialize/serialize.h"

/* ---- conversions ----------------------------------------------------------------------------- */

static double dec(strata_dtype t, unsigned b) { return dtype_narrow_to_f64(t, (uint8_t)b); }
static unsigned enc(strata_dtype t, double v, bool sat) { return dtype_f64_to_narrow(t, v, sat); }

/* Every finite code converts back to itself, whatever the saturation. */
static void expect_round_trip(strata_dtype t, unsigned n_codes)
{
    for (unsigned c = 0; c < n_codes; c++) {
        double v = dec(t, c);
        if (isnan(v) || isinf(v)) continue;
        if (enc(t, v, true) != c || enc(t, v, false) != c)
            test_fail(__FILE__, __LINE__, "%s code 0x%02x (%g) does not round-trip",
                      strata_dtype_name(t), c, v);
    }
}

TEST(dtype_small_table)
{
    EXPECT_STR_CONTAINS(strata_dtype_name(STRATA_DTYPE_F8E4M3FN), "float8_e4m3fn");
    EXPECT_STR_CONTAINS(strata_dtype_name(STRATA_DTYPE_I2), "int2");
    EXPECT_STR_CONTAINS(strata_dtype_name(STRATA_DTYPE_F8E8M0), "float8_e8m0fnu");
    for (int t = STRATA_DTYPE_F8E4M3FN; t <= STRATA_DTYPE_I2; t++) {
        EXPECT(dtype_is_valid(t));
        EXPECT_EQ(strata_dtype_size((strata_dtype)t), 1);
        EXPECT(dtype_is_narrow_float((strata_dtype)t) != dtype_is_narrow_int((strata_dtype)t));
    }
    EXPECT(!dtype_is_valid(STRATA_DTYPE_COUNT));
    EXPECT_EQ(dtype_file_bits(STRATA_DTYPE_I4), 4);
    EXPECT_EQ(dtype_file_bits(STRATA_DTYPE_F4E2M1), 4);
    EXPECT_EQ(dtype_file_bits(STRATA_DTYPE_U2), 2);
    EXPECT_EQ(dtype_file_bits(STRATA_DTYPE_F8E5M2), 8);
    EXPECT_EQ(dtype_file_bits(STRATA_DTYPE_F32), 32);
    EXPECT_EQ(dtype_file_bytes(STRATA_DTYPE_I4, 5), 3);
    EXPECT_EQ(dtype_file_bytes(STRATA_DTYPE_I2, 7), 2);
    EXPECT_EQ(dtype_file_bytes(STRATA_DTYPE_U2, 8), 2);
    EXPECT_EQ(dtype_file_bytes(STRATA_DTYPE_F8E4M3FN, 5), 5);
    EXPECT_EQ(dtype_file_bytes(STRATA_DTYPE_I4, 0), 0);
}

TEST(dtype_small_f8e4m3fn)
{
    strata_dtype t = STRATA_DTYPE_F8E4M3FN;
    EXPECT_NEAR(dec(t, 0x7E), 448, 0);            /* largest finite */
    EXPECT_NEAR(dec(t, 0x01), ldexp(1, -9), 0);   /* smallest subnormal */
    EXPECT_NEAR(dec(t, 0x08), ldexp(1, -6), 0);   /* smallest normal */
    EXPECT_NEAR(dec(t, 0x38), 1, 0);
    EXPECT_NEAR(dec(t, 0xFE), -448, 0);
    EXPECT(isnan(dec(t, 0x7F)) && isnan(dec(t, 0xFF)));
    EXPECT(dec(t, 0x80) == 0 && signbit(dec(t, 0x80)));
    EXPECT_EQ(enc(t, 464, false), 0x7E);  /* tie between 448 and 480: even mantissa */
    EXPECT_EQ(enc(t, 470, true), 0x7E);   /* rounds past the max: saturates ... */
    EXPECT_EQ(enc(t, 470, false), 0x7F);  /* ... or becomes NaN */
    EXPECT_EQ(enc(t, 1e6, true), 0x7E);
    EXPECT_EQ(enc(t, -1e6, true), 0xFE);
    EXPECT_EQ(enc(t, INFINITY, true), 0x7E);
    EXPECT_EQ(enc(t, -INFINITY, true), 0xFE);
    EXPECT_EQ(enc(t, INFINITY, false), 0x7F);
    EXPECT_EQ(enc(t, NAN, true), 0x7F);
    EXPECT_EQ(enc(t, ldexp(1, -10), true), 0x00);     /* half the smallest subnormal: to even 0 */
    EXPECT_EQ(enc(t, 3 * ldexp(1, -11), true), 0x01); /* 0.75 of it: up */
    EXPECT_EQ(enc(t, -1e-7, true), 0x80);             /* keeps the sign of zero */
    EXPECT_EQ(enc(t, 0.4789254665374756, true), 0x2F); /* backend test value -> 0.46875 */
    expect_round_trip(t, 256);
}

TEST(dtype_small_f8e4m3fnuz)
{
    strata_dtype t = STRATA_DTYPE_F8E4M3FNUZ;
    EXPECT_NEAR(dec(t, 0x7F), 240, 0);
    EXPECT_NEAR(dec(t, 0x01), ldexp(1, -10), 0);
    EXPECT_NEAR(dec(t, 0x40), 1, 0);
    EXPECT(isnan(dec(t, 0x80)));
    EXPECT_NEAR(dec(t, 0xFF), -240, 0);
    EXPECT_EQ(enc(t, -0.0, true), 0x00); /* no negative zero */
    EXPECT_EQ(enc(t, -1e-7, false), 0x00);
    EXPECT_EQ(enc(t, 248, true), 0x7F);  /* tie rounds to 256: beyond the max */
    EXPECT_EQ(enc(t, 248, false), 0x80);
    EXPECT_EQ(enc(t, INFINITY, true), 0x7F);
    EXPECT_EQ(enc(t, -INFINITY, true), 0xFF);
    EXPECT_EQ(enc(t, INFINITY, false), 0x80);
    EXPECT_EQ(enc(t, NAN, true), 0x80);
    expect_round_trip(t, 256);
}

TEST(dtype_small_f8e5m2)
{
    strata_dtype t = STRATA_DTYPE_F8E5M2;
    EXPECT_NEAR(dec(t, 0x7B), 57344, 0);
    EXPECT_NEAR(dec(t, 0x01), ldexp(1, -16), 0);
    EXPECT_NEAR(dec(t, 0x3C), 1, 0);
    EXPECT(isinf(dec(t, 0x7C)) && dec(t, 0x7C) > 0);
    EXPECT(isinf(dec(t, 0xFC)) && dec(t, 0xFC) < 0);
    EXPECT(isnan(dec(t, 0x7D)) && isnan(dec(t, 0x7E)) && isnan(dec(t, 0xFF)));
    EXPECT_EQ(enc(t, 60000, false), 0x7B);
    EXPECT_EQ(enc(t, 61440, false), 0x7C); /* tie: to the even code, infinity */
    EXPECT_EQ(enc(t, 61440, true), 0x7B);
    EXPECT_EQ(enc(t, INFINITY, true), 0x7B);
    EXPECT_EQ(enc(t, INFINITY, false), 0x7C);
    EXPECT_EQ(enc(t, -INFINITY, false), 0xFC);
    EXPECT_EQ(enc(t, NAN, true), 0x7E);
    EXPECT_EQ(enc(t, 50000, true), 0x7A); /* nearest is 49152 */
    expect_round_trip(t, 256);
}

TEST(dtype_small_f8e5m2fnuz)
{
    strata_dtype t = STRATA_DTYPE_F8E5M2FNUZ;
    EXPECT_NEAR(dec(t, 0x7F), 57344, 0);
    EXPECT_NEAR(dec(t, 0x01), ldexp(1, -17), 0);
    EXPECT_NEAR(dec(t, 0x40), 1, 0);
    EXPECT(isnan(dec(t, 0x80)));
    EXPECT_EQ(enc(t, -0.0, true), 0x00);
    EXPECT_EQ(enc(t, 1e9, true), 0x7F);
    EXPECT_EQ(enc(t, 1e9, false), 0x80);
    EXPECT_EQ(enc(t, -INFINITY, true), 0xFF);
    EXPECT_EQ(enc(t, NAN, false), 0x80);
    expect_round_trip(t, 256);
}

TEST(dtype_small_f4e2m1)
{
    strata_dtype t = STRATA_DTYPE_F4E2M1;
    static const double v[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    for (unsigned c = 0; c < 8; c++) {
        EXPECT_NEAR(dec(t, c), v[c], 0);
        EXPECT_NEAR(dec(t, c | 8), -v[c], 0);
    }
    EXPECT(signbit(dec(t, 8)));
    EXPECT_EQ(enc(t, 0.25, true), 0x0); /* ties go to the even code */
    EXPECT_EQ(enc(t, 0.75, true), 0x2);
    EXPECT_EQ(enc(t, 5, true), 0x6);
    EXPECT_EQ(enc(t, -3.5, true), 0xE);
    EXPECT_EQ(enc(t, 100, false), 0x7);  /* no inf or NaN: always saturates */
    EXPECT_EQ(enc(t, -INFINITY, false), 0xF);
    EXPECT_EQ(enc(t, NAN, true), 0x8);   /* as the ONNX reference data has it */
    EXPECT_EQ(enc(t, -0.0, true), 0x8);
    expect_round_trip(t, 16);
}

TEST(dtype_small_e8m0)
{
    strata_dtype t = STRATA_DTYPE_F8E8M0;
    EXPECT_NEAR(dec(t, 0), ldexp(1, -127), 0);
    EXPECT_NEAR(dec(t, 127), 1, 0);
    EXPECT_NEAR(dec(t, 0xFE), ldexp(1, 127), 0);
    EXPECT(isnan(dec(t, 0xFF)));
    EXPECT_EQ(dtype_f32_to_e8m0(1.1f, true, DTYPE_ROUND_UP), 0x80);
    EXPECT_EQ(dtype_f32_to_e8m0(0.124f, true, DTYPE_ROUND_UP), 0x7C);
    EXPECT_EQ(dtype_f32_to_e8m0(0.0f, true, DTYPE_ROUND_UP), 0x00);
    EXPECT_EQ(dtype_f32_to_e8m0(-2.0f, true, DTYPE_ROUND_UP), 0x80); /* sign ignored */
    EXPECT_EQ(dtype_f32_to_e8m0(1.9f, true, DTYPE_ROUND_DOWN), 0x7F);
    EXPECT_EQ(dtype_f32_to_e8m0(1.4f, true, DTYPE_ROUND_NEAREST), 0x7F);
    EXPECT_EQ(dtype_f32_to_e8m0(1.6f, true, DTYPE_ROUND_NEAREST), 0x80);
    EXPECT_EQ(dtype_f32_to_e8m0(3.0f, true, DTYPE_ROUND_NEAREST), 0x81);
    EXPECT_EQ(dtype_f32_to_e8m0(FLT_MAX, true, DTYPE_ROUND_UP), 0xFE);
    EXPECT_EQ(dtype_f32_to_e8m0(FLT_MAX, false, DTYPE_ROUND_UP), 0xFF);
    EXPECT_EQ(dtype_f32_to_e8m0(NAN, true, DTYPE_ROUND_UP), 0xFF);
    EXPECT_EQ(enc(t, 1.1, true), 0x80);
    /* 2^-127 is a float32 subnormal: its mantissa bits make "up" give 2^-126 (the reference) */
    for (unsigned c = 1; c < 0xFF; c++) EXPECT_EQ(enc(t, dec(t, c), true), c);
    EXPECT_EQ(enc(t, dec(t, 0), true), 1);
}

TEST(dtype_small_ints)
{
    EXPECT_EQ(dtype_narrow_int_get(STRATA_DTYPE_I4, dtype_narrow_int_wrap(STRATA_DTYPE_I4, 7)), 7);
    EXPECT_EQ(dtype_narrow_int_get(STRATA_DTYPE_I4, dtype_narrow_int_wrap(STRATA_DTYPE_I4, 8)), -8);
    EXPECT_EQ(dtype_narrow_int_get(STRATA_DTYPE_I4, dtype_narrow_int_wrap(STRATA_DTYPE_I4, -9)), 7);
    EXPECT_EQ(dtype_narrow_int_wrap(STRATA_DTYPE_I4, -1), 0xFF); /* stored sign-extended */
    EXPECT_EQ(dtype_narrow_int_wrap(STRATA_DTYPE_U4, -1), 15);
    EXPECT_EQ(dtype_narrow_int_wrap(STRATA_DTYPE_U4, 16), 0);
    EXPECT_EQ(dtype_narrow_int_get(STRATA_DTYPE_I2, dtype_narrow_int_wrap(STRATA_DTYPE_I2, 2)), -2);
    EXPECT_EQ(dtype_narrow_int_get(STRATA_DTYPE_I2, dtype_narrow_int_wrap(STRATA_DTYPE_I2, -3)), 1);
    EXPECT_EQ(dtype_narrow_int_wrap(STRATA_DTYPE_U2, 4), 0);
    EXPECT_EQ(dtype_narrow_int_get(STRATA_DTYPE_U4, 0xF3), 3); /* stray high bits ignored */
    /* the generic element access used by reference ops */
    int64_t d[1] = {4};
    strata_tensor *t = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I4, 1, d, &t));
    if (!t) return;
    tensor_set_f64(t, 0, -9.0);
    tensor_set_f64(t, 1, 7.9);
    tensor_set_i64(t, 2, -8);
    tensor_set_f64(t, 3, NAN);
    EXPECT_EQ(tensor_get_i64(t, 0), 7);
    EXPECT_EQ(tensor_get_i64(t, 1), 7);
    EXPECT_NEAR(tensor_get_f64(t, 2), -8, 0);
    EXPECT_EQ(tensor_get_i64(t, 3), 0);
    strata_tensor_destroy(t);
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F8E5M2, 1, d, &t));
    if (!t) return;
    tensor_set_f64(t, 0, 1e9); /* generic stores saturate (the Cast default) */
    tensor_set_i64(t, 1, 3);
    EXPECT_NEAR(tensor_get_f64(t, 0), 57344, 0);
    EXPECT_EQ(tensor_get_i64(t, 1), 3);
    strata_tensor_destroy(t);
}

TEST(dtype_small_pack_unpack)
{
    uint8_t el[8], packed[4], back[8];
    const int8_t i4[5] = {-8, 7, -1, 0, 3};
    memcpy(el, i4, 5);
    dtype_pack(STRATA_DTYPE_I4, el, 5, packed);
    EXPECT_EQ(packed[0], 0x78);
    EXPECT_EQ(packed[1], 0x0F);
    EXPECT_EQ(packed[2], 0x03); /* the unused high nibble is zero */
    dtype_unpack(STRATA_DTYPE_I4, packed, 5, back);
    EXPECT_EQ(memcmp(back, el, 5), 0);
    const int8_t i2[7] = {1, -2, -1, 0, 1, -2, -1};
    memcpy(el, i2, 7);
    dtype_pack(STRATA_DTYPE_I2, el, 7, packed);
    EXPECT_EQ(packed[0], 0x39);
    EXPECT_EQ(packed[1], 0x39);
    dtype_unpack(STRATA_DTYPE_I2, packed, 7, back);
    EXPECT_EQ(memcmp(back, el, 7), 0);
    dtype_unpack(STRATA_DTYPE_U2, packed, 7, back);
    EXPECT_EQ(back[1], 2);
    EXPECT_EQ(back[2], 3);
    const uint8_t f4[3] = {0x1, 0x0, 0xE};
    dtype_pack(STRATA_DTYPE_F4E2M1, f4, 3, packed);
    EXPECT_EQ(packed[0], 0x01);
    EXPECT_EQ(packed[1], 0x0E);
}

/* ---- the ONNX reader and writer ------------------------------------------------------------ */

static void put_dims(protobuf_writer *w, int rank, const int64_t *dims)
{
    for (int d = 0; d < rank; d++) protobuf_put_varint(w, 1, (uint64_t)dims[d]);
}

static strata_status read_raw(int dtype, int64_t n, const void *raw, size_t n_raw,
                              strata_tensor **t)
{
    protobuf_writer w;
    protobuf_writer_init(&w);
    put_dims(&w, 1, &n);
    protobuf_put_varint(&w, 2, (uint64_t)dtype);
    protobuf_put_string(&w, 8, "q");
    protobuf_put_bytes(&w, 9, raw, n_raw);
    strata_status st = onnx_read_tensor_bytes(w.buf, w.n, "q.pb", t);
    protobuf_writer_release(&w);
    return st;
}

static strata_status read_int32s(int dtype, int64_t n, const int32_t *v, size_t n_v,
                                 strata_tensor **t)
{
    protobuf_writer w;
    protobuf_writer_init(&w);
    put_dims(&w, 1, &n);
    protobuf_put_varint(&w, 2, (uint64_t)dtype);
    for (size_t k = 0; k < n_v; k++) protobuf_put_varint(&w, 5, (uint64_t)(int64_t)v[k]);
    strata_status st = onnx_read_tensor_bytes(w.buf, w.n, "q.pb", t);
    protobuf_writer_release(&w);
    return st;
}

TEST(dtype_small_onnx_read)
{
    strata_tensor *t = NULL;
    const uint8_t raw[3] = {0x10, 0xC7, 0x08};
    EXPECT_OK(read_raw(STRATA_DTYPE_I4, 5, raw, 3, &t));
    if (t) {
        const int64_t want[5] = {0, 1, 7, -4, -8};
        EXPECT_EQ(t->n_bytes, 5);
        for (int i = 0; i < 5; i++) EXPECT_EQ(tensor_get_i64(t, i), want[i]);
    }
    strata_tensor_destroy(t);
    t = NULL;
    EXPECT_STATUS(read_raw(STRATA_DTYPE_I4, 5, raw, 2, &t), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "needs 3");
    EXPECT_STATUS(read_raw(STRATA_DTYPE_U2, 5, raw, 3, &t), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "q.pb@");
    /* int32_data: one packed byte per value for 4/2-bit types, one element for float8 */
    const int32_t u2[1] = {0xE4};
    EXPECT_OK(read_int32s(STRATA_DTYPE_U2, 4, u2, 1, &t));
    for (int i = 0; t && i < 4; i++) EXPECT_EQ(tensor_get_i64(t, i), i);
    strata_tensor_destroy(t);
    t = NULL;
    const int32_t f4[2] = {0x20, 0x0A};
    EXPECT_OK(read_int32s(STRATA_DTYPE_F4E2M1, 3, f4, 2, &t));
    if (t) {
        EXPECT_NEAR(tensor_get_f64(t, 1), 1.0, 0);
        EXPECT_NEAR(tensor_get_f64(t, 2), -1.0, 0);
    }
    strata_tensor_destroy(t);
    t = NULL;
    EXPECT_STATUS(read_int32s(STRATA_DTYPE_F4E2M1, 5, f4, 2, &t), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "needs 3");
    const int32_t f8[3] = {0x00, 0x7E, 0xED};
    EXPECT_OK(read_int32s(STRATA_DTYPE_F8E4M3FN, 3, f8, 3, &t));
    if (t) {
        EXPECT_NEAR(tensor_get_f64(t, 1), 448, 0);
        EXPECT_NEAR(tensor_get_f64(t, 2), -104, 0);
    }
    strata_tensor_destroy(t);
}

/* y = Identity(w) with w an int4[5] initializer (packed raw_data), opset 21. */
static void build_int4_model(protobuf_writer *w, const uint8_t *packed)
{
    int64_t n = 5;
    protobuf_writer_init(w);
    protobuf_put_varint(w, 1, 10);
    size_t o = protobuf_begin(w, 8);
    protobuf_put_varint(w, 2, 21);
    protobuf_end(w, o);
    size_t g = protobuf_begin(w, 7);
    size_t nd = protobuf_begin(w, 1);
    protobuf_put_string(w, 1, "w");
    protobuf_put_string(w, 2, "y");
    protobuf_put_string(w, 3, "id");
    protobuf_put_string(w, 4, "Identity");
    protobuf_end(w, nd);
    protobuf_put_string(w, 2, "g");
    size_t ti = protobuf_begin(w, 5);
    put_dims(w, 1, &n);
    protobuf_put_varint(w, 2, STRATA_DTYPE_I4);
    protobuf_put_string(w, 8, "w");
    protobuf_put_bytes(w, 9, packed, 3);
    protobuf_end(w, ti);
    size_t vi = protobuf_begin(w, 12);
    protobuf_put_string(w, 1, "y");
    size_t tp = protobuf_begin(w, 2);
    size_t tt = protobuf_begin(w, 1);
    protobuf_put_varint(w, 1, STRATA_DTYPE_I4);
    size_t sh = protobuf_begin(w, 2);
    size_t dm = protobuf_begin(w, 1);
    protobuf_put_varint(w, 1, 5);
    protobuf_end(w, dm);
    protobuf_end(w, sh);
    protobuf_end(w, tt);
    protobuf_end(w, tp);
    protobuf_end(w, vi);
    protobuf_end(w, g);
}

static const strata_tensor *init_of(const ir_model *m, const char *name)
{
    int id = ir_graph_find(m->graph, name);
    return id >= 0 ? m->graph->values[id].init : NULL;
}

/* The plan's weight placement: appends the bytes to a fixed buffer. */
typedef struct weights_buf {
    uint8_t bytes[256];
    size_t n;
} weights_buf;

static strata_status place(void *ctx, const strata_tensor *t, uint64_t *offset)
{
    weights_buf *b = ctx;
    if (t->n_bytes > sizeof b->bytes - b->n) return error_set(STRATA_INTERNAL, "full");
    memcpy(b->bytes + b->n, t->data, t->n_bytes);
    *offset = b->n;
    b->n += t->n_bytes;
    return STRATA_OK;
}

TEST(dtype_small_onnx_write_packs)
{
    const uint8_t packed[3] = {0x10, 0xC7, 0x08};
    const int64_t want[5] = {0, 1, 7, -4, -8};
    protobuf_writer w;
    build_int4_model(&w, packed);
    EXPECT(!w.failed);
    ir_model *m = NULL, *m2 = NULL, *m3 = NULL;
    EXPECT_OK(onnx_read_model_bytes(w.buf, w.n, "int4.onnx", &m));
    protobuf_writer_release(&w);
    if (!m) return;
    const strata_tensor *t = init_of(m, "w");
    EXPECT(t && t->dtype == STRATA_DTYPE_I4 && t->n_bytes == 5);
    uint8_t *out = NULL;
    size_t n_out = 0;
    EXPECT_OK(onnx_write_model_bytes(m, &out, &n_out));
    if (out) {
        bool found = false; /* the written raw_data is the packed form */
        for (size_t i = 0; i + 3 <= n_out && !found; i++) found = memcmp(out + i, packed, 3) == 0;
        EXPECT(found);
        EXPECT_OK(onnx_read_model_bytes(out, n_out, "int4-out.onnx", &m2));
        t = m2 ? init_of(m2, "w") : NULL;
        EXPECT(t != NULL);
        for (int i = 0; t && i < 5; i++) EXPECT_EQ(tensor_get_i64(t, i), want[i]);
    }
    mem_free(out);
    /* plan weights keep the in-memory layout: one byte per element */
    weights_buf wb = {{0}, 0};
    out = NULL;
    EXPECT_OK(onnx_write_model_placed(m, place, &wb, &out, &n_out));
    EXPECT_EQ(wb.n, 5);
    if (out) {
        EXPECT_OK(onnx_read_model_view(out, n_out, "plan", wb.bytes, wb.n, &m3));
        t = m3 ? init_of(m3, "w") : NULL;
        EXPECT(t != NULL);
        for (int i = 0; t && i < 5; i++) EXPECT_EQ(tensor_get_i64(t, i), want[i]);
    }
    ir_model_destroy(m3);
    mem_free(out);
    ir_model_destroy(m2);
    ir_model_destroy(m);
}

/* ---- Cast and QuantizeLinear / DequantizeLinear ---------------------------------------------- */

static strata_tensor *mk(strata_dtype dt, int64_t n, const double *vals)
{
    strata_tensor *t = NULL;
    if (strata_tensor_create(dt, 1, &n, &t) != STRATA_OK) return NULL;
    for (int64_t i = 0; i < n && vals; i++) tensor_set_f64(t, i, vals[i]);
    return t;
}

static strata_status run(const char *op, int opset, const attr *attrs, size_t n_attrs,
                         strata_tensor **ins, size_t n_in, strata_tensor **out)
{
    const op_def *d = ref_op_find("", op, opset);
    if (!d) return error_set(STRATA_UNSUPPORTED, "no op %s", op);
    op_node n = {"t", op, "", opset, attrs, n_attrs, n_in, 1};
    strata_tensor *o = mem_calloc(1, sizeof(strata_tensor));
    *out = NULL;
    if (!o) return STRATA_OUT_OF_MEMORY;
    strata_status st = d->infer(&n, (const strata_tensor *const *)ins, &o);
    if (st == STRATA_OK) st = tensor_set_shape(o, o->dtype, o->rank, o->dims);
    if (st == STRATA_OK) st = tensor_alloc_data(o);
    if (st == STRATA_OK) st = d->compute(&n, (const strata_tensor *const *)ins, &o);
    if (st == STRATA_OK) *out = o;
    else strata_tensor_destroy(o);
    return st;
}

static attr int_attr(const char *name, int64_t v)
{
    attr a = {0};
    a.name = (char *)name;
    a.type = ATTR_INT;
    a.i = v;
    return a;
}

static attr str_attr(const char *name, const char *s)
{
    attr a = {0};
    a.name = (char *)name;
    a.type = ATTR_STRING;
    a.s = (char *)s;
    a.s_len = strlen(s);
    return a;
}

TEST(dtype_small_cast)
{
    const double xs[4] = {1e6, -INFINITY, 0.3, NAN};
    strata_tensor *x = mk(STRATA_DTYPE_F32, 4, xs), *y = NULL, *z = NULL;
    attr a[2] = {int_attr("to", STRATA_DTYPE_F8E4M3FN), int_attr("saturate", 0)};
    EXPECT_OK(run("Cast", 21, a, 1, &x, 1, &y));
    if (y) {
        const uint8_t *b = y->data;
        EXPECT_EQ(b[0], 0x7E);
        EXPECT_EQ(b[1], 0xFE);
        EXPECT_EQ(b[2], 0x2A); /* 0.3 -> 0.3125 */
        EXPECT(isnan(tensor_get_f64(y, 3)));
    }
    strata_tensor_destroy(y);
    EXPECT_OK(run("Cast", 21, a, 2, &x, 1, &y));
    if (y) EXPECT_EQ(((uint8_t *)y->data)[0], 0x7F); /* no saturation: NaN */
    /* float8 -> float16 -> int4 -> float */
    attr to16 = int_attr("to", STRATA_DTYPE_F16), to4 = int_attr("to", STRATA_DTYPE_I4);
    attr to32 = int_attr("to", STRATA_DTYPE_F32);
    strata_tensor_destroy(y);
    const double ws[3] = {-9, 7, 2.5};
    strata_tensor *w = mk(STRATA_DTYPE_F8E4M3FN, 3, ws);
    EXPECT_OK(run("Cast", 21, &to16, 1, &w, 1, &y));
    if (y) EXPECT_NEAR(tensor_get_f64(y, 2), 2.5, 0);
    EXPECT_OK(run("Cast", 21, &to4, 1, &y, 1, &z));
    strata_tensor_destroy(y);
    y = NULL;
    if (z) EXPECT_OK(run("Cast", 21, &to32, 1, &z, 1, &y));
    if (y) {
        EXPECT_NEAR(((float *)y->data)[0], 7, 0); /* -9 wraps to 7, as the backend tests want */
        EXPECT_NEAR(((float *)y->data)[1], 7, 0);
        EXPECT_NEAR(((float *)y->data)[2], 2, 0);
    }
    strata_tensor_destroy(y);
    strata_tensor_destroy(z);
    strata_tensor_destroy(w);
    /* e8m0 with a rounding mode; a bad mode is an error that names the attribute */
    attr e[2] = {int_attr("to", STRATA_DTYPE_F8E8M0), str_attr("round_mode", "down")};
    const double ps[2] = {1.9, 0.3};
    w = mk(STRATA_DTYPE_F32, 2, ps);
    EXPECT_OK(run("Cast", 24, e, 2, &w, 1, &y));
    if (y) {
        EXPECT_EQ(((uint8_t *)y->data)[0], 0x7F);
        EXPECT_NEAR(tensor_get_f64(y, 1), 0.25, 0);
    }
    strata_tensor_destroy(y);
    e[1] = str_attr("round_mode", "sideways");
    EXPECT_STATUS(run("Cast", 24, e, 2, &w, 1, &y), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "round_mode");
    strata_tensor_destroy(w);
    strata_tensor_destroy(x);
}

TEST(dtype_small_quantize)
{
    const double xs[4] = {0, 5, 100, -100};
    const double s1[1] = {2};
    strata_tensor *in[3] = {mk(STRATA_DTYPE_F32, 4, xs), NULL, NULL}, *y = NULL, *back = NULL;
    int64_t one = 1;
    strata_tensor_create(STRATA_DTYPE_F32, 0, &one, &in[1]);
    if (in[1]) tensor_set_f64(in[1], 0, s1[0]);
    attr od = int_attr("output_dtype", STRATA_DTYPE_I4);
    EXPECT_OK(run("QuantizeLinear", 21, &od, 1, in, 2, &y));
    if (y) {
        EXPECT(y->dtype == STRATA_DTYPE_I4);
        EXPECT_EQ(tensor_get_i64(y, 1), 2); /* 2.5 rounds to even */
        EXPECT_EQ(tensor_get_i64(y, 2), 7); /* clamped, not wrapped */
        EXPECT_EQ(tensor_get_i64(y, 3), -8);
        strata_tensor *dq[2] = {y, in[1]};
        EXPECT_OK(run("DequantizeLinear", 21, NULL, 0, dq, 2, &back));
        if (back) EXPECT_NEAR(tensor_get_f64(back, 3), -16, 0);
        strata_tensor_destroy(back);
        back = NULL;
    }
    strata_tensor_destroy(y);
    attr f8[2] = {int_attr("output_dtype", STRATA_DTYPE_F8E4M3FN), int_attr("saturate", 1)};
    EXPECT_OK(run("QuantizeLinear", 21, f8, 2, in, 2, &y));
    if (y) {
        EXPECT_NEAR(tensor_get_f64(y, 1), 2.5, 0);
        EXPECT_NEAR(tensor_get_f64(y, 2), 48, 0);
        strata_tensor *dq[2] = {y, in[1]};
        EXPECT_OK(run("DequantizeLinear", 21, NULL, 0, dq, 2, &back));
        if (back) EXPECT_NEAR(tensor_get_f64(back, 3), -96, 0);
        strata_tensor_destroy(back);
    }
    strata_tensor_destroy(y);
    attr bad = int_attr("output_dtype", STRATA_DTYPE_F8E8M0);
    EXPECT_STATUS(run("QuantizeLinear", 21, &bad, 1, in, 2, &y), STRATA_UNSUPPORTED);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}
