/* core/tensor.c — dtype table, fp16/bf16 conversion, the tensor object and its element
 * accessors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static const struct {
    const char *name;
    size_t size;
} dtype_table[STRATA_DTYPE_COUNT] = {
    [STRATA_DTYPE_UNDEFINED] = {"undefined", 0}, [STRATA_DTYPE_F32] = {"float32", 4},
    [STRATA_DTYPE_U8] = {"uint8", 1},            [STRATA_DTYPE_I8] = {"int8", 1},
    [STRATA_DTYPE_U16] = {"uint16", 2},          [STRATA_DTYPE_I16] = {"int16", 2},
    [STRATA_DTYPE_I32] = {"int32", 4},           [STRATA_DTYPE_I64] = {"int64", 8},
    [STRATA_DTYPE_STRING] = {"string", sizeof(char *)},
    [STRATA_DTYPE_BOOL] = {"bool", 1},           [STRATA_DTYPE_F16] = {"float16", 2},
    [STRATA_DTYPE_F64] = {"float64", 8},         [STRATA_DTYPE_U32] = {"uint32", 4},
    [STRATA_DTYPE_U64] = {"uint64", 8},          [STRATA_DTYPE_C64] = {"complex64", 8},
    [STRATA_DTYPE_C128] = {"complex128", 16},    [STRATA_DTYPE_BF16] = {"bfloat16", 2},
    /* narrow types (names as ml_dtypes): one byte per element in memory, see dtype_convert.c */
    [STRATA_DTYPE_F8E4M3FN] = {"float8_e4m3fn", 1},
    [STRATA_DTYPE_F8E4M3FNUZ] = {"float8_e4m3fnuz", 1},
    [STRATA_DTYPE_F8E5M2] = {"float8_e5m2", 1},
    [STRATA_DTYPE_F8E5M2FNUZ] = {"float8_e5m2fnuz", 1},
    [STRATA_DTYPE_U4] = {"uint4", 1},            [STRATA_DTYPE_I4] = {"int4", 1},
    [STRATA_DTYPE_F4E2M1] = {"float4_e2m1fn", 1},
    [STRATA_DTYPE_F8E8M0] = {"float8_e8m0fnu", 1},
    [STRATA_DTYPE_U2] = {"uint2", 1},            [STRATA_DTYPE_I2] = {"int2", 1},
};

const char *strata_dtype_name(strata_dtype t)
{
    if (t == STRATA_DTYPE_SEQUENCE) return "sequence";
    if (t == STRATA_DTYPE_OPTIONAL) return "optional";
    if ((unsigned)t >= STRATA_DTYPE_COUNT) return "undefined";
    return dtype_table[t].name;
}

size_t strata_dtype_size(strata_dtype t)
{
    if ((unsigned)t >= STRATA_DTYPE_COUNT) return 0;
    return dtype_table[t].size;
}

bool dtype_is_valid(int t)
{
    return t > 0 && t < STRATA_DTYPE_COUNT;
}

bool dtype_is_float(strata_dtype t)
{
    return t == STRATA_DTYPE_F32 || t == STRATA_DTYPE_F64 || t == STRATA_DTYPE_F16 ||
           t == STRATA_DTYPE_BF16;
}

bool dtype_is_int(strata_dtype t)
{
    switch (t) {
    case STRATA_DTYPE_U8: case STRATA_DTYPE_I8: case STRATA_DTYPE_U16: case STRATA_DTYPE_I16:
    case STRATA_DTYPE_I32: case STRATA_DTYPE_I64: case STRATA_DTYPE_U32: case STRATA_DTYPE_U64:
        return true;
    default:
        return false;
    }
}

bool dtype_is_signed(strata_dtype t)
{
    return dtype_is_float(t) || t == STRATA_DTYPE_I8 || t == STRATA_DTYPE_I16 ||
           t == STRATA_DTYPE_I32 || t == STRATA_DTYPE_I64;
}

/* ---- half precision ------------------------------------------------------------------------ */

float f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            man &= 0x3ff;
            bits = sign | (exp << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t man = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into inf: right */
    return (uint16_t)(sign | half);
}

float bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ---- tensor objects ------------------------------------------------------------------------ */

int64_t shape_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (__builtin_mul_overflow(n, dims[i], &n) || n > STRATA_MAX_ELEMENTS) return -1;
    }
    return n;
}

strata_status tensor_set_shape(strata_tensor *t, strata_dtype dtype, int rank,
                               const int64_t *dims)
{
    char buf[160];
    if (!dtype_is_valid((int)dtype))
        return error_set(STRATA_INVALID_ARGUMENT, "tensor: unknown dtype %d", (int)dtype);
    if (rank < 0 || rank > STRATA_MAX_DIMS)
        return error_set(STRATA_INVALID_ARGUMENT, "tensor: rank %d outside 0..%d", rank,
                         STRATA_MAX_DIMS);
    bool unknown = false;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < -1)
            return error_set(STRATA_INVALID_ARGUMENT, "tensor: shape %s has a negative dim",
                             shape_describe(rank, dims, buf, sizeof buf));
        unknown |= dims[i] == -1;
    }
    int64_t n = unknown ? 0 : shape_numel(rank, dims);
    if (n < 0)
        return error_set(STRATA_INVALID_ARGUMENT, "tensor: shape %s has more than 2^40 elements",
                         shape_describe(rank, dims, buf, sizeof buf));
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->n_bytes = (size_t)n * strata_dtype_size(dtype); /* 0 while a dim is unknown (-1) */
    return STRATA_OK;
}

static void free_aligned_fn(void *p)
{
    mem_free_aligned(p);
}

strata_status tensor_alloc_data(strata_tensor *t)
{
    char buf[160];
    if (shape_numel(t->rank, t->dims) < 0)
        return error_set(STRATA_INVALID_ARGUMENT, "tensor: cannot allocate shape %s (unknown or "
                         "negative dim)", shape_describe(t->rank, t->dims, buf, sizeof buf));
    void *p = mem_alloc_aligned(t->n_bytes ? t->n_bytes : 1);
    if (!p)
        return error_set(STRATA_OUT_OF_MEMORY, "tensor: out of memory for %zu bytes",
                         t->n_bytes);
    memset(p, 0, t->n_bytes);
    t->data = p;
    t->free_fn = free_aligned_fn;
    if (t->dtype == STRATA_DTYPE_STRING) {
        t->owns_strings = true; /* NULL entries read as "" */
    }
    return STRATA_OK;
}

void tensor_release_data(strata_tensor *t)
{
    if (!t) return;
    if (t->dtype == STRATA_DTYPE_STRING && t->owns_strings && t->data) {
        char **s = t->data;
        int64_t n = shape_numel(t->rank, t->dims);
        for (int64_t i = 0; i < n; i++) mem_free(s[i]);
    }
    if (dtype_is_container(t->dtype) && t->owns_strings && t->data) {
        strata_tensor **e = t->data;
        for (int64_t i = 0; i < t->dims[0]; i++) strata_tensor_destroy(e[i]);
    }
    if (t->free_fn && t->data) t->free_fn(t->data);
    t->data = NULL;
    t->free_fn = NULL;
    t->owns_strings = false;
}

strata_status strata_tensor_create(strata_dtype dtype, int rank, const int64_t *dims,
                                   strata_tensor **out)
{
    *out = NULL;
    strata_tensor *t = mem_calloc(1, sizeof *t);
    if (!t) return error_set(STRATA_OUT_OF_MEMORY, "tensor: out of memory");
    strata_status st = tensor_set_shape(t, dtype, rank, dims);
    if (st == STRATA_OK) st = tensor_alloc_data(t);
    if (st != STRATA_OK) {
        mem_free(t);
        return st;
    }
    *out = t;
    return STRATA_OK;
}

strata_status strata_tensor_wrap(strata_dtype dtype, int rank, const int64_t *dims, void *data,
                                 size_t n_bytes, void (*free_fn)(void *), strata_tensor **out)
{
    *out = NULL;
    strata_status st;
    strata_tensor *t = NULL;
    if (dtype == STRATA_DTYPE_STRING) {
        st = error_set(STRATA_INVALID_ARGUMENT, "tensor: cannot wrap a string tensor");
        goto fail;
    }
    t = mem_calloc(1, sizeof *t);
    if (!t) {
        st = error_set(STRATA_OUT_OF_MEMORY, "tensor: out of memory");
        goto fail;
    }
    st = tensor_set_shape(t, dtype, rank, dims);
    if (st != STRATA_OK) goto fail;
    if (shape_numel(rank, dims) < 0) {
        st = error_set(STRATA_INVALID_ARGUMENT, "tensor: cannot wrap a shape with a negative dim");
        goto fail;
    }
    if (n_bytes != t->n_bytes) {
        st = error_set(STRATA_INVALID_ARGUMENT,
                       "tensor: %zu bytes given, shape and dtype need %zu", n_bytes,
                       t->n_bytes);
        goto fail;
    }
    if (!data && n_bytes) {
        st = error_set(STRATA_INVALID_ARGUMENT, "tensor: NULL data for %zu bytes", n_bytes);
        goto fail;
    }
    t->data = data;
    t->free_fn = free_fn;
    *out = t;
    return STRATA_OK;
fail:
    mem_free(t);
    if (free_fn && data) free_fn(data);
    return st;
}

void strata_tensor_destroy(strata_tensor *t)
{
    if (!t) return;
    tensor_release_data(t);
    mem_free(t);
}

bool dtype_is_container(strata_dtype t)
{
    return t == STRATA_DTYPE_SEQUENCE || t == STRATA_DTYPE_OPTIONAL;
}

static void free_plain_fn(void *p)
{
    mem_free(p);
}

strata_status tensor_alloc_container(strata_tensor *t, strata_dtype kind, int64_t n)
{
    if (!dtype_is_container(kind) || n < 0 || n > (kind == STRATA_DTYPE_OPTIONAL ? 1 : INT32_MAX))
        return error_set(STRATA_INVALID_ARGUMENT, "tensor: bad %s of %lld elements",
                         strata_dtype_name(kind), (long long)n);
    void *p = mem_calloc((size_t)n + 1, sizeof(strata_tensor *));
    if (!p) return error_set(STRATA_OUT_OF_MEMORY, "tensor: out of memory for a %s of %lld",
                             strata_dtype_name(kind), (long long)n);
    memset(t->dims, 0, sizeof t->dims);
    t->dtype = kind;
    t->rank = 1;
    t->dims[0] = n;
    t->data = p;
    t->n_bytes = (size_t)n * sizeof(strata_tensor *);
    t->free_fn = free_plain_fn;
    t->owns_strings = true;
    return STRATA_OK;
}

/* Deep copy of a SEQUENCE/OPTIONAL. */
static strata_status clone_container(const strata_tensor *src, strata_tensor **out)
{
    *out = mem_calloc(1, sizeof **out);
    if (!*out) return error_set(STRATA_OUT_OF_MEMORY, "tensor: out of memory");
    strata_status st = tensor_alloc_container(*out, src->dtype, src->dims[0]);
    strata_tensor *const *s = src->data;
    strata_tensor **d = st == STRATA_OK ? (*out)->data : NULL;
    for (int64_t i = 0; st == STRATA_OK && i < src->dims[0]; i++)
        if (s[i]) st = tensor_clone(s[i], &d[i]);
    if (st != STRATA_OK) {
        strata_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
}

strata_status tensor_clone(const strata_tensor *src, strata_tensor **out)
{
    if (dtype_is_container(src->dtype)) return clone_container(src, out);
    strata_status st = strata_tensor_create(src->dtype, src->rank, src->dims, out);
    if (st != STRATA_OK) return st;
    if (src->dtype == STRATA_DTYPE_STRING) {
        int64_t n = shape_numel(src->rank, src->dims);
        char *const *s = src->data;
        char **d = (*out)->data;
        for (int64_t i = 0; i < n; i++) {
            d[i] = mem_strdup(s[i] ? s[i] : "");
            if (!d[i]) {
                strata_tensor_destroy(*out);
                *out = NULL;
                return error_set(STRATA_OUT_OF_MEMORY, "tensor: out of memory copying strings");
            }
        }
    } else if (src->n_bytes) {
        memcpy((*out)->data, src->data, src->n_bytes);
    }
    return STRATA_OK;
}

strata_dtype strata_tensor_dtype(const strata_tensor *t) { return t->dtype; }
int strata_tensor_rank(const strata_tensor *t) { return t->rank; }
const int64_t *strata_tensor_dims(const strata_tensor *t) { return t->dims; }
int64_t strata_tensor_numel(const strata_tensor *t) { return shape_numel(t->rank, t->dims); }
void *strata_tensor_data(strata_tensor *t) { return t->data; }
size_t strata_tensor_bytes(const strata_tensor *t) { return t->n_bytes; }

/* ---- element access (slow and general: for reference kernels) --------------------------------- */

double tensor_get_f64(const strata_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case STRATA_DTYPE_F32: return ((const float *)p)[i];
    case STRATA_DTYPE_F64: return ((const double *)p)[i];
    case STRATA_DTYPE_F16: return f16_to_f32(((const uint16_t *)p)[i]);
    case STRATA_DTYPE_BF16: return bf16_to_f32(((const uint16_t *)p)[i]);
    case STRATA_DTYPE_U8: return ((const uint8_t *)p)[i];
    case STRATA_DTYPE_I8: return ((const int8_t *)p)[i];
    case STRATA_DTYPE_U16: return ((const uint16_t *)p)[i];
    case STRATA_DTYPE_I16: return ((const int16_t *)p)[i];
    case STRATA_DTYPE_U32: return ((const uint32_t *)p)[i];
    case STRATA_DTYPE_I32: return ((const int32_t *)p)[i];
    case STRATA_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    case STRATA_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case STRATA_DTYPE_BOOL: return ((const uint8_t *)p)[i] ? 1.0 : 0.0;
    case STRATA_DTYPE_F8E4M3FN: case STRATA_DTYPE_F8E4M3FNUZ: case STRATA_DTYPE_F8E5M2:
    case STRATA_DTYPE_F8E5M2FNUZ: case STRATA_DTYPE_F8E8M0: case STRATA_DTYPE_F4E2M1:
        return dtype_narrow_to_f64(t->dtype, ((const uint8_t *)p)[i]);
    case STRATA_DTYPE_I4: case STRATA_DTYPE_U4: case STRATA_DTYPE_I2: case STRATA_DTYPE_U2:
        return (double)dtype_narrow_int_get(t->dtype, ((const uint8_t *)p)[i]);
    default: return 0.0;
    }
}

int64_t tensor_get_i64(const strata_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case STRATA_DTYPE_U8: return ((const uint8_t *)p)[i];
    case STRATA_DTYPE_I8: return ((const int8_t *)p)[i];
    case STRATA_DTYPE_U16: return ((const uint16_t *)p)[i];
    case STRATA_DTYPE_I16: return ((const int16_t *)p)[i];
    case STRATA_DTYPE_U32: return ((const uint32_t *)p)[i];
    case STRATA_DTYPE_I32: return ((const int32_t *)p)[i];
    case STRATA_DTYPE_U64: return (int64_t)((const uint64_t *)p)[i];
    case STRATA_DTYPE_I64: return ((const int64_t *)p)[i];
    case STRATA_DTYPE_BOOL: return ((const uint8_t *)p)[i] ? 1 : 0;
    case STRATA_DTYPE_I4: case STRATA_DTYPE_U4: case STRATA_DTYPE_I2: case STRATA_DTYPE_U2:
        return dtype_narrow_int_get(t->dtype, ((const uint8_t *)p)[i]);
    default: {
        double v = tensor_get_f64(t, i);
        if (isnan(v)) return 0;
        if (v >= 9.2233720368547758e18) return INT64_MAX;
        if (v <= -9.2233720368547758e18) return INT64_MIN;
        return (int64_t)v;
    }
    }
}

void tensor_set_f64(strata_tensor *t, int64_t i, double v)
{
    void *p = t->data;
    switch (t->dtype) {
    case STRATA_DTYPE_F32: ((float *)p)[i] = (float)v; return;
    case STRATA_DTYPE_F64: ((double *)p)[i] = v; return;
    case STRATA_DTYPE_F16: ((uint16_t *)p)[i] = f32_to_f16((float)v); return;
    case STRATA_DTYPE_BF16: ((uint16_t *)p)[i] = f32_to_bf16((float)v); return;
    case STRATA_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0.0; return;
    case STRATA_DTYPE_F8E4M3FN: case STRATA_DTYPE_F8E4M3FNUZ: case STRATA_DTYPE_F8E5M2:
    case STRATA_DTYPE_F8E5M2FNUZ: case STRATA_DTYPE_F8E8M0: case STRATA_DTYPE_F4E2M1:
        ((uint8_t *)p)[i] = dtype_f64_to_narrow(t->dtype, v, /*saturate=*/true);
        return;
    case STRATA_DTYPE_I4: case STRATA_DTYPE_U4: case STRATA_DTYPE_I2: case STRATA_DTYPE_U2:
        /* truncate, then wrap to the width like the other integer casts */
        ((uint8_t *)p)[i] = dtype_narrow_int_wrap(t->dtype, isnan(v) ? 0 : fabs(v) >= 1e18 ? 0
                                                                      : (int64_t)v);
        return;
    default:
        if (isnan(v)) v = 0;
        if (dtype_is_signed(t->dtype)) {
            int64_t x = v >= 9.2233720368547758e18 ? INT64_MAX
                        : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
            tensor_set_i64(t, i, x);
        } else {
            uint64_t x = v <= 0 ? 0 : v >= 1.8446744073709552e19 ? UINT64_MAX : (uint64_t)v;
            tensor_set_i64(t, i, (int64_t)x);
        }
        return;
    }
}

/* Integer stores wrap like a C cast to the target width (ONNX Cast semantics for ints). */
void tensor_set_i64(strata_tensor *t, int64_t i, int64_t v)
{
    void *p = t->data;
    switch (t->dtype) {
    case STRATA_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; return;
    case STRATA_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; return;
    case STRATA_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)v; return;
    case STRATA_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; return;
    case STRATA_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; return;
    case STRATA_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; return;
    case STRATA_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)v; return;
    case STRATA_DTYPE_I64: ((int64_t *)p)[i] = v; return;
    case STRATA_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; return;
    case STRATA_DTYPE_I4: case STRATA_DTYPE_U4: case STRATA_DTYPE_I2: case STRATA_DTYPE_U2:
        ((uint8_t *)p)[i] = dtype_narrow_int_wrap(t->dtype, v);
        return;
    default: tensor_set_f64(t, i, (double)v); return;
    }
}

const char *shape_describe(int rank, const int64_t *dims, char *buf, size_t n_buf)
{
    size_t o = 0;
    if (n_buf == 0) return buf;
    buf[0] = 0;
    o += (size_t)snprintf(buf + o, n_buf - o, "[");
    for (int i = 0; i < rank && o < n_buf; i++)
        o += (size_t)snprintf(buf + o, n_buf - o, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (o < n_buf) snprintf(buf + o, n_buf - o, "]");
    return buf;
}

const char *tensor_describe(const strata_tensor *t, char *buf, size_t n_buf)
{
    char s[140];
    snprintf(buf, n_buf, "%s%s", strata_dtype_name(t->dtype),
             shape_describe(t->rank, t->dims, s, sizeof s));
    return buf;
}
