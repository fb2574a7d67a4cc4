/* tests/unit/test_core.c — core: status table, tensors, dtype conversion, broadcasting,
 * allocator fault injection. */
#include <stdlib.h>

#include "core/core.h"
#include "test.h"

TEST(test_status_names_and_codes)
{
    EXPECT(strcmp(strata_status_name(STRATA_OK), "OK") == 0);
    EXPECT(strcmp(strata_status_name(STRATA_INVALID_MODEL), "INVALID_MODEL") == 0);
    EXPECT(strcmp(strata_status_name((strata_status)999), "UNKNOWN") == 0);
    EXPECT_EQ(strata_status_http(STRATA_QUEUE_FULL), 503);
    EXPECT_EQ(error_set(STRATA_NOT_FOUND, "thing %d missing", 7), STRATA_NOT_FOUND);
    EXPECT_STR_CONTAINS(strata_last_error(), "thing 7 missing");
    error_prefix(STRATA_NOT_FOUND, "in %s", "model.onnx");
    EXPECT_STR_CONTAINS(strata_last_error(), "in model.onnx: thing 7 missing");
}

TEST(test_tensor_create_and_wrap)
{
    int64_t dims[2] = {2, 3};
    strata_tensor *t = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, dims, &t));
    EXPECT_EQ(strata_tensor_numel(t), 6);
    EXPECT_EQ(strata_tensor_bytes(t), 24);
    EXPECT_EQ(((uintptr_t)strata_tensor_data(t)) % 64, 0);
    strata_tensor_destroy(t);

    float buf[6] = {0};
    EXPECT_STATUS(strata_tensor_wrap(STRATA_DTYPE_F32, 2, dims, buf, 20, NULL, &t),
                  STRATA_INVALID_ARGUMENT);
    EXPECT(t == NULL);
    EXPECT_STR_CONTAINS(strata_last_error(), "20 bytes given");
    EXPECT_OK(strata_tensor_wrap(STRATA_DTYPE_F32, 2, dims, buf, sizeof buf, NULL, &t));
    EXPECT(strata_tensor_data(t) == buf);
    strata_tensor_destroy(t);

    int64_t bad[2] = {-1, 3};
    EXPECT_STATUS(strata_tensor_create(STRATA_DTYPE_F32, 2, bad, &t), STRATA_INVALID_ARGUMENT);
    int64_t huge[3] = {1 << 20, 1 << 20, 1 << 20};
    EXPECT_STATUS(strata_tensor_create(STRATA_DTYPE_F32, 3, huge, &t), STRATA_INVALID_ARGUMENT);
    EXPECT_STATUS(strata_tensor_create((strata_dtype)99, 2, dims, &t), STRATA_INVALID_ARGUMENT);
}

static int freed;
static void count_free(void *p)
{
    (void)p;
    freed++;
}

TEST(test_tensor_wrap_adopts_even_on_failure)
{
    int64_t dims[1] = {4};
    static float buf[4];
    strata_tensor *t = NULL;
    freed = 0;
    EXPECT_STATUS(strata_tensor_wrap(STRATA_DTYPE_F32, 1, dims, buf, 3, count_free, &t),
                  STRATA_INVALID_ARGUMENT);
    EXPECT_EQ(freed, 1);
    EXPECT_OK(strata_tensor_wrap(STRATA_DTYPE_F32, 1, dims, buf, 16, count_free, &t));
    strata_tensor_destroy(t);
    EXPECT_EQ(freed, 2);
}

TEST(test_half_conversions)
{
    const float vals[] = {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.1f};
    for (size_t i = 0; i < ARRAY_LEN(vals); i++) {
        EXPECT_NEAR(f16_to_f32(f32_to_f16(vals[i])), vals[i], fabs(vals[i]) * 1e-3 + 1e-9);
        EXPECT_NEAR(bf16_to_f32(f32_to_bf16(vals[i])), vals[i], fabs(vals[i]) * 1e-2 + 1e-12);
    }
    EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_f16(70000.0f), 0x7c00); /* overflow → inf */
    EXPECT(isnan(f16_to_f32(f32_to_f16(NAN))));
    EXPECT(isnan(bf16_to_f32(f32_to_bf16(NAN))));
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    /* every f16 bit pattern survives f16 → f32 → f16 (NaNs stay NaN) */
    for (uint32_t h = 0; h < 65536; h++) {
        float f = f16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        if (f32_to_f16(f) != h) {
            EXPECT_EQ(f32_to_f16(f), h);
            break;
        }
    }
}

TEST(test_element_access_converts)
{
    int64_t dims[1] = {3};
    strata_tensor *t = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I8, 1, dims, &t));
    tensor_set_i64(t, 0, 300); /* wraps like a C cast */
    tensor_set_f64(t, 1, -5.7);
    EXPECT_EQ(tensor_get_i64(t, 0), 44);
    EXPECT_EQ(tensor_get_i64(t, 1), -5);
    strata_tensor_destroy(t);
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I64, 1, dims, &t));
    tensor_set_i64(t, 0, INT64_MAX);
    EXPECT(tensor_get_i64(t, 0) == INT64_MAX);
    strata_tensor_destroy(t);
}

TEST(test_shape_broadcast)
{
    int64_t a[3] = {2, 1, 4}, b[2] = {3, 1}, out[STRATA_MAX_DIMS];
    int r = 0;
    EXPECT_OK(shape_broadcast(3, a, 2, b, &r, out));
    EXPECT_EQ(r, 3);
    EXPECT_EQ(out[0], 2);
    EXPECT_EQ(out[1], 3);
    EXPECT_EQ(out[2], 4);
    int64_t c[1] = {5};
    EXPECT_STATUS(shape_broadcast(3, a, 1, c, &r, out), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "do not broadcast");
    int64_t strides[3];
    shape_broadcast_strides(2, b, 3, strides);
    EXPECT_EQ(strides[0], 0);
    EXPECT_EQ(strides[1], 1);
    EXPECT_EQ(strides[2], 0);
}

/* A fail-on-Nth allocator: the create path must report OUT_OF_MEMORY, never crash. */
static long alloc_count, fail_at;
static void *fail_alloc(void *ctx, size_t n)
{
    (void)ctx;
    if (++alloc_count == fail_at) return NULL;
    return malloc(n ? n : 1);
}
static void *fail_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (++alloc_count == fail_at) return NULL;
    return realloc(p, n ? n : 1);
}
static void fail_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

TEST(test_alloc_fault_tensor_create)
{
    strata_allocator a = {NULL, fail_alloc, fail_realloc, fail_free};
    int64_t dims[2] = {4, 4};
    for (fail_at = 1; fail_at <= 3; fail_at++) {
        alloc_count = 0;
        alloc_set(&a);
        strata_tensor *t = NULL;
        strata_status st = strata_tensor_create(STRATA_DTYPE_F32, 2, dims, &t);
        alloc_set(NULL);
        if (alloc_count >= fail_at) {
            EXPECT_STATUS(st, STRATA_OUT_OF_MEMORY);
            EXPECT(t == NULL);
        } else {
            EXPECT_OK(st);
        }
        strata_tensor_destroy(t);
    }
}
