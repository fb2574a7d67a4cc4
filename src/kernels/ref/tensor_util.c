/* kernels/ref/tensor_util.c — helpers for the tensor family's reference ops: generic element
 * copies by dtype size (strings duplicated), output shapes with unknown dims, integer-list
 * inputs, a strided walk that serves Transpose/Slice/Expand/DepthToSpace, and a stable sort. */
#include <math.h>
#include <string.h>

#include "ref_tensor.h"

strata_status tensor_util_shape(const op_node *n, strata_tensor *out, strata_dtype dtype,
                                int rank, const int64_t *dims)
{
    if (!out) return STRATA_OK;
    if (rank < 0 || rank > STRATA_MAX_DIMS)
        return op_error(n, STRATA_UNSUPPORTED, "output rank %d exceeds %d", rank,
                        STRATA_MAX_DIMS);
    bool known = true;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < -1)
            return op_error(n, STRATA_INVALID_MODEL, "output dim %d is negative (%lld)", i,
                            (long long)dims[i]);
        if (dims[i] < 0) known = false;
    }
    out->dtype = dtype;
    out->rank = rank;
    for (int i = 0; i < rank; i++) out->dims[i] = dims[i];
    out->n_bytes = 0;
    if (known) {
        int64_t ne = shape_numel(rank, dims);
        if (ne < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "output has more than 2^40 elements");
        out->n_bytes = (size_t)ne * strata_dtype_size(dtype);
    }
    return STRATA_OK;
}

int64_t tensor_util_numel(const strata_tensor *t)
{
    return shape_numel(t->rank, t->dims);
}

bool tensor_util_has_data(const strata_tensor *t)
{
    return t && (t->data || tensor_util_numel(t) == 0);
}

int64_t tensor_util_prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) {
        if (dims[i] < 0) return -1;
        p *= dims[i];
    }
    return p;
}

strata_status tensor_util_check_dtype(const op_node *n, const strata_tensor *t, const char *what)
{
    if (!dtype_is_valid((int)t->dtype) || strata_dtype_size(t->dtype) == 0)
        return op_error(n, STRATA_UNSUPPORTED, "%s has unsupported dtype %d", what,
                        (int)t->dtype);
    return STRATA_OK;
}

strata_status tensor_util_copy(strata_tensor *dst, int64_t di, const strata_tensor *src,
                               int64_t si, int64_t count)
{
    if (count <= 0) return STRATA_OK;
    if (src->dtype == STRATA_DTYPE_STRING) {
        char **d = (char **)dst->data + di;
        char *const *s = (char *const *)src->data + si;
        for (int64_t i = 0; i < count; i++) {
            char *c = mem_strdup(s[i] ? s[i] : "");
            if (!c) return error_set(STRATA_OUT_OF_MEMORY, "out of memory copying strings");
            mem_free(d[i]);
            d[i] = c;
        }
        return STRATA_OK;
    }
    size_t es = strata_dtype_size(src->dtype);
    if ((char *)dst->data + (size_t)di * es == (const char *)src->data + (size_t)si * es) return STRATA_OK; /* in place */
    memmove((char *)dst->data + (size_t)di * es, (const char *)src->data + (size_t)si * es,
            (size_t)count * es);
    return STRATA_OK;
}

/* Copies one row of n elements with a source stride, by element size. */
static void row_copy(char *d, const char *s, int64_t n, int64_t stride, size_t es)
{
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++) ((uint8_t *)d)[i] = ((const uint8_t *)s)[i * stride];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)d)[i] = ((const uint16_t *)s)[i * stride];
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) ((uint32_t *)d)[i] = ((const uint32_t *)s)[i * stride];
        break;
    case 8:
        for (int64_t i = 0; i < n; i++) ((uint64_t *)d)[i] = ((const uint64_t *)s)[i * stride];
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + (size_t)i * es, s + (ptrdiff_t)(i * stride) * (ptrdiff_t)es, es);
        break;
    }
}

strata_status tensor_util_strided_copy(strata_tensor *dst, const strata_tensor *src, int rank,
                                       const int64_t *dims, const int64_t *src_strides,
                                       int64_t base)
{
    int64_t total = shape_numel(rank, dims);
    if (total <= 0) return STRATA_OK;
    if (rank == 0) return tensor_util_copy(dst, 0, src, base, 1);
    int64_t idx[STRATA_MAX_DIMS] = {0};
    int64_t inner = dims[rank - 1], istride = src_strides[rank - 1];
    int64_t off = base, o = 0;
    size_t es = strata_dtype_size(src->dtype);
    bool str = src->dtype == STRATA_DTYPE_STRING;
    while (o < total) {
        if (str) {
            for (int64_t i = 0; i < inner; i++) {
                strata_status st = tensor_util_copy(dst, o + i, src, off + i * istride, 1);
                if (st != STRATA_OK) return st;
            }
        } else {
            row_copy((char *)dst->data + (size_t)o * es,
                     (const char *)src->data + (ptrdiff_t)off * (ptrdiff_t)es, inner, istride, es);
        }
        o += inner;
        int k = rank - 2;
        for (; k >= 0; k--) {
            idx[k]++;
            off += src_strides[k];
            if (idx[k] < dims[k]) break;
            off -= idx[k] * src_strides[k];
            idx[k] = 0;
        }
        if (k < 0) break;
    }
    return STRATA_OK;
}

strata_status tensor_util_ints(const op_node *n, const strata_tensor *t, const char *what,
                               int64_t *buf, size_t cap, size_t *count)
{
    *count = 0;
    if (!t) return op_error(n, STRATA_INVALID_MODEL, "missing input '%s'", what);
    if (t->dtype != STRATA_DTYPE_I64 && t->dtype != STRATA_DTYPE_I32)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' must be int32 or int64, not %s", what,
                        strata_dtype_name(t->dtype));
    if (t->rank > 1)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' must be 1-D, has rank %d", what, t->rank);
    int64_t ne = tensor_util_numel(t);
    if (ne < 0) return STRATA_NOT_FOUND;
    if ((uint64_t)ne > cap)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' has %lld entries, at most %zu allowed",
                        what, (long long)ne, cap);
    if (ne > 0 && !t->data) return STRATA_NOT_FOUND;
    for (int64_t i = 0; i < ne; i++) buf[i] = tensor_get_i64(t, i);
    *count = (size_t)ne;
    return STRATA_OK;
}

static strata_status scalar_check(const op_node *n, const strata_tensor *t, const char *what)
{
    if (!t) return op_error(n, STRATA_INVALID_MODEL, "missing input '%s'", what);
    int64_t ne = tensor_util_numel(t);
    if (ne < 0) return STRATA_NOT_FOUND;
    if (ne != 1)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' must have one element, has %lld", what,
                        (long long)ne);
    if (t->dtype == STRATA_DTYPE_STRING || t->dtype == STRATA_DTYPE_C64 ||
        t->dtype == STRATA_DTYPE_C128)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' must be numeric, not %s", what,
                        strata_dtype_name(t->dtype));
    if (!t->data) return STRATA_NOT_FOUND;
    return STRATA_OK;
}

strata_status tensor_util_scalar_i64(const op_node *n, const strata_tensor *t, const char *what,
                                     int64_t *out)
{
    strata_status st = scalar_check(n, t, what);
    if (st == STRATA_OK) *out = tensor_get_i64(t, 0);
    return st;
}

strata_status tensor_util_scalar_f64(const op_node *n, const strata_tensor *t, const char *what,
                                     double *out)
{
    strata_status st = scalar_check(n, t, what);
    if (st == STRATA_OK) *out = tensor_get_f64(t, 0);
    return st;
}

int tensor_util_compare(const strata_tensor *ta, int64_t a, const strata_tensor *tb, int64_t b)
{
    strata_dtype t = ta->dtype;
    if (t == STRATA_DTYPE_STRING) {
        const char *x = ((char *const *)ta->data)[a], *y = ((char *const *)tb->data)[b];
        return strcmp(x ? x : "", y ? y : "");
    }
    if (t == STRATA_DTYPE_U64) {
        uint64_t x = ((const uint64_t *)ta->data)[a], y = ((const uint64_t *)tb->data)[b];
        return x < y ? -1 : x > y;
    }
    if (dtype_is_int(t) || t == STRATA_DTYPE_BOOL) {
        int64_t x = tensor_get_i64(ta, a), y = tensor_get_i64(tb, b);
        return x < y ? -1 : x > y;
    }
    double x = tensor_get_f64(ta, a), y = tensor_get_f64(tb, b);
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return x < y ? -1 : x > y;
}

static void merge_sort(int64_t *v, int64_t *tmp, int64_t n,
                       int (*cmp)(int64_t x, int64_t y, void *ctx), void *ctx)
{
    if (n < 2) return;
    int64_t h = n / 2;
    merge_sort(v, tmp, h, cmp, ctx);
    merge_sort(v + h, tmp, n - h, cmp, ctx);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp(v[j], v[i], ctx) < 0 ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, (size_t)n * sizeof *v);
}

strata_status tensor_util_sort(int64_t *idx, int64_t n,
                               int (*cmp)(int64_t x, int64_t y, void *ctx), void *ctx)
{
    if (n < 2) return STRATA_OK;
    int64_t *tmp = mem_alloc((size_t)n * sizeof *tmp);
    if (!tmp) return error_set(STRATA_OUT_OF_MEMORY, "out of memory sorting %lld elements",
                               (long long)n);
    merge_sort(idx, tmp, n, cmp, ctx);
    mem_free(tmp);
    return STRATA_OK;
}
