/* kernels/ref/tensor_index.c — reference ops that read or write elements by index tensors:
 * Gather, GatherElements, GatherND, Scatter/ScatterElements, ScatterND (with reductions),
 * Compress, NonZero, OneHot. Indices out of range are errors naming the index and its bound. */
#include <string.h>

#include "ref_tensor.h"

static strata_status need_input(const op_node *n, const strata_tensor *const *in, size_t i,
                                const char *what)
{
    if (!op_input(n, in, i))
        return op_error(n, STRATA_INVALID_MODEL, "missing input %zu ('%s')", i, what);
    return tensor_util_check_dtype(n, in[i], what);
}

static strata_status check_indices(const op_node *n, const strata_tensor *t, const char *what)
{
    if (t->dtype != STRATA_DTYPE_I64 && t->dtype != STRATA_DTYPE_I32)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' must be int32 or int64, not %s", what,
                        strata_dtype_name(t->dtype));
    return STRATA_OK;
}

/* Index element i of t normalised against dim (negative counts from the end). */
static strata_status index_at(const op_node *n, const strata_tensor *t, int64_t i, int64_t dim,
                              int64_t *out)
{
    int64_t v = tensor_get_i64(t, i);
    int64_t w = v < 0 ? v + dim : v;
    if (w < 0 || w >= dim)
        return op_error(n, STRATA_INVALID_ARGUMENT, "index %lld (element %lld) out of range for extent %lld",
                        (long long)v, (long long)i, (long long)dim);
    *out = w;
    return STRATA_OK;
}

/* ---- Gather ------------------------------------------------------------------------------- */

strata_status tensor_index_gather_infer(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st == STRATA_OK) st = need_input(n, in, 1, "indices");
    if (st == STRATA_OK) st = check_indices(n, in[1], "indices");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0], *ix = in[1];
    if (x->rank < 1) return op_error(n, STRATA_INVALID_ARGUMENT, "data must have rank >= 1");
    int axis;
    st = op_axis(n, op_attr_int(n, "axis", 0), x->rank, &axis);
    if (st != STRATA_OK) return st;
    int r = x->rank - 1 + ix->rank;
    if (r > STRATA_MAX_DIMS) return op_error(n, STRATA_UNSUPPORTED, "output rank %d", r);
    int64_t dims[STRATA_MAX_DIMS];
    int k = 0;
    for (int d = 0; d < axis; d++) dims[k++] = x->dims[d];
    for (int d = 0; d < ix->rank; d++) dims[k++] = ix->dims[d];
    for (int d = axis + 1; d < x->rank; d++) dims[k++] = x->dims[d];
    return tensor_util_shape(n, out[0], x->dtype, r, dims);
}

strata_status tensor_index_gather_compute(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *ix = in[1];
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", 0), x->rank, &axis);
    if (st != STRATA_OK) return st;
    int64_t outer = tensor_util_prod(x->dims, 0, axis);
    int64_t inner = tensor_util_prod(x->dims, axis + 1, x->rank);
    int64_t dim = x->dims[axis], ni = tensor_util_numel(ix);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < ni; i++) {
            int64_t j = 0;
            st = index_at(n, ix, i, dim, &j);
            if (st == STRATA_OK)
                st = tensor_util_copy(out[0], (o * ni + i) * inner, x, (o * dim + j) * inner, inner);
            if (st != STRATA_OK) return st;
        }
    return STRATA_OK;
}

/* ---- GatherElements ----------------------------------------------------------------------- */

strata_status tensor_index_gather_elements_infer(const op_node *n, const strata_tensor *const *in,
                                                 strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st == STRATA_OK) st = need_input(n, in, 1, "indices");
    if (st == STRATA_OK) st = check_indices(n, in[1], "indices");
    if (st != STRATA_OK) return st;
    if (in[1]->rank != in[0]->rank)
        return op_error(n, STRATA_INVALID_MODEL, "indices rank %d differs from data rank %d",
                        in[1]->rank, in[0]->rank);
    int axis;
    st = op_axis(n, op_attr_int(n, "axis", 0), in[0]->rank, &axis);
    if (st != STRATA_OK) return st;
    return tensor_util_shape(n, out[0], in[0]->dtype, in[1]->rank, in[1]->dims);
}

/* Walks every element of idx (shape of indices) and maps it to the data element whose
 * coordinate on axis is the index value: shared by GatherElements and ScatterElements. */
static strata_status elements_offset(const op_node *n, const strata_tensor *data,
                                     const strata_tensor *ix, int axis, int64_t e,
                                     const int64_t *coord, int64_t *off)
{
    int64_t ds[STRATA_MAX_DIMS];
    shape_strides(data->rank, data->dims, ds);
    int64_t j = 0;
    strata_status st = index_at(n, ix, e, data->dims[axis], &j);
    if (st != STRATA_OK) return st;
    int64_t o = 0;
    for (int d = 0; d < data->rank; d++) {
        int64_t c = d == axis ? j : coord[d];
        if (c >= data->dims[d])
            return op_error(n, STRATA_INVALID_ARGUMENT, "indices extent exceeds data on axis %d", d);
        o += c * ds[d];
    }
    *off = o;
    return STRATA_OK;
}

static void coord_next(int64_t *coord, const int64_t *dims, int rank)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++coord[d] < dims[d]) return;
        coord[d] = 0;
    }
}

strata_status tensor_index_gather_elements_compute(const op_node *n,
                                                   const strata_tensor *const *in,
                                                   strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *ix = in[1];
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", 0), x->rank, &axis);
    if (st != STRATA_OK) return st;
    int64_t ne = tensor_util_numel(ix), coord[STRATA_MAX_DIMS] = {0};
    for (int64_t e = 0; e < ne; e++) {
        int64_t off;
        st = elements_offset(n, x, ix, axis, e, coord, &off);
        if (st == STRATA_OK) st = tensor_util_copy(out[0], e, x, off, 1);
        if (st != STRATA_OK) return st;
        coord_next(coord, ix->dims, ix->rank);
    }
    return STRATA_OK;
}

/* ---- scatter reductions ------------------------------------------------------------------- */

typedef enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction;

static strata_status read_reduction(const op_node *n, reduction *r)
{
    const char *s = op_attr_string(n, "reduction", "none");
    if (strcmp(s, "none") == 0) *r = RED_NONE;
    else if (strcmp(s, "add") == 0) *r = RED_ADD;
    else if (strcmp(s, "mul") == 0) *r = RED_MUL;
    else if (strcmp(s, "max") == 0) *r = RED_MAX;
    else if (strcmp(s, "min") == 0) *r = RED_MIN;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown reduction '%s'", s);
    return STRATA_OK;
}

/* out[oi] = reduce(out[oi], upd[ui]). */
static strata_status scatter_one(const op_node *n, strata_tensor *out, int64_t oi,
                                 const strata_tensor *upd, int64_t ui, reduction r)
{
    if (r == RED_NONE) return tensor_util_copy(out, oi, upd, ui, 1);
    strata_dtype t = out->dtype;
    if (dtype_is_float(t)) {
        double a = tensor_get_f64(out, oi), b = tensor_get_f64(upd, ui), v;
        switch (r) {
        case RED_ADD: v = a + b; break;
        case RED_MUL: v = a * b; break;
        case RED_MAX: v = a > b ? a : b; break;
        default: v = a < b ? a : b; break;
        }
        tensor_set_f64(out, oi, v);
        return STRATA_OK;
    }
    if (dtype_is_int(t) || t == STRATA_DTYPE_BOOL) {
        if (t == STRATA_DTYPE_U64) {
            uint64_t a = ((uint64_t *)out->data)[oi], b = ((const uint64_t *)upd->data)[ui], v;
            switch (r) {
            case RED_ADD: v = a + b; break;
            case RED_MUL: v = a * b; break;
            case RED_MAX: v = a > b ? a : b; break;
            default: v = a < b ? a : b; break;
            }
            ((uint64_t *)out->data)[oi] = v;
            return STRATA_OK;
        }
        int64_t a = tensor_get_i64(out, oi), b = tensor_get_i64(upd, ui), v;
        switch (r) {
        case RED_ADD: v = (int64_t)((uint64_t)a + (uint64_t)b); break;
        case RED_MUL: v = (int64_t)((uint64_t)a * (uint64_t)b); break;
        case RED_MAX: v = a > b ? a : b; break;
        default: v = a < b ? a : b; break;
        }
        if (t == STRATA_DTYPE_BOOL && r == RED_ADD) v = a || b;
        tensor_set_i64(out, oi, v);
        return STRATA_OK;
    }
    return op_error(n, STRATA_UNSUPPORTED, "reduction on %s", strata_dtype_name(t));
}

/* ---- ScatterElements / Scatter ------------------------------------------------------------ */

strata_status tensor_index_scatter_elements_infer(const op_node *n,
                                                  const strata_tensor *const *in,
                                                  strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st == STRATA_OK) st = need_input(n, in, 1, "indices");
    if (st == STRATA_OK) st = need_input(n, in, 2, "updates");
    if (st == STRATA_OK) st = check_indices(n, in[1], "indices");
    if (st != STRATA_OK) return st;
    if (in[1]->rank != in[0]->rank || in[2]->rank != in[1]->rank)
        return op_error(n, STRATA_INVALID_MODEL, "data, indices and updates differ in rank");
    if (in[2]->dtype != in[0]->dtype)
        return op_error(n, STRATA_INVALID_MODEL, "updates dtype differs from data");
    for (int d = 0; d < in[1]->rank; d++)
        if (in[1]->dims[d] >= 0 && in[2]->dims[d] >= 0 && in[1]->dims[d] != in[2]->dims[d])
            return op_error(n, STRATA_INVALID_ARGUMENT, "indices and updates differ in shape");
    int axis;
    st = op_axis(n, op_attr_int(n, "axis", 0), in[0]->rank, &axis);
    if (st != STRATA_OK) return st;
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
}

strata_status tensor_index_scatter_elements_compute(const op_node *n,
                                                    const strata_tensor *const *in,
                                                    strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *ix = in[1], *up = in[2];
    reduction r;
    strata_status st = read_reduction(n, &r);
    if (st != STRATA_OK) return st;
    int axis;
    st = op_axis(n, op_attr_int(n, "axis", 0), x->rank, &axis);
    if (st != STRATA_OK) return st;
    st = tensor_util_copy(out[0], 0, x, 0, tensor_util_numel(x));
    if (st != STRATA_OK) return st;
    int64_t ne = tensor_util_numel(ix), coord[STRATA_MAX_DIMS] = {0};
    for (int64_t e = 0; e < ne; e++) {
        int64_t off;
        st = elements_offset(n, x, ix, axis, e, coord, &off);
        if (st == STRATA_OK) st = scatter_one(n, out[0], off, up, e, r);
        if (st != STRATA_OK) return st;
        coord_next(coord, ix->dims, ix->rank);
    }
    return STRATA_OK;
}

/* ---- GatherND / ScatterND ----------------------------------------------------------------- */

/* Data offset (in elements) of the slice addressed by index tuple t (k entries starting at
 * element t*k of ix) within batch b. */
static strata_status nd_offset(const op_node *n, const strata_tensor *x, const strata_tensor *ix,
                               int batch_dims, int64_t k, int64_t b, int64_t t, int64_t *off)
{
    int64_t ds[STRATA_MAX_DIMS];
    shape_strides(x->rank, x->dims, ds);
    int64_t o = b * (batch_dims > 0 ? ds[batch_dims - 1] : 0);
    for (int64_t i = 0; i < k; i++) {
        int64_t j = 0;
        strata_status st = index_at(n, ix, t * k + i, x->dims[batch_dims + i], &j);
        if (st != STRATA_OK) return st;
        o += j * ds[batch_dims + i];
    }
    *off = o;
    return STRATA_OK;
}

strata_status tensor_index_gather_nd_infer(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st == STRATA_OK) st = need_input(n, in, 1, "indices");
    if (st == STRATA_OK) st = check_indices(n, in[1], "indices");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0], *ix = in[1];
    int64_t b = op_attr_int(n, "batch_dims", 0);
    if (ix->rank < 1 || b < 0 || b >= ix->rank || b >= x->rank)
        return op_error(n, STRATA_INVALID_MODEL, "batch_dims %lld invalid for ranks %d and %d",
                        (long long)b, x->rank, ix->rank);
    for (int64_t d = 0; d < b; d++)
        if (x->dims[d] >= 0 && ix->dims[d] >= 0 && x->dims[d] != ix->dims[d])
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "batch dim %lld: indices extent %lld differs from data extent %lld",
                            (long long)d, (long long)ix->dims[d], (long long)x->dims[d]);
    int64_t k = ix->dims[ix->rank - 1];
    if (k < 0) return STRATA_NOT_FOUND;
    if (k < 1 || b + k > x->rank)
        return op_error(n, STRATA_INVALID_MODEL, "index tuples of %lld entries for data rank %d",
                        (long long)k, x->rank);
    int64_t dims[2 * STRATA_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < ix->rank - 1; d++) dims[r++] = ix->dims[d];
    for (int d = (int)(b + k); d < x->rank; d++) dims[r++] = x->dims[d];
    if (r > STRATA_MAX_DIMS) return op_error(n, STRATA_UNSUPPORTED, "output rank %d", r);
    return tensor_util_shape(n, out[0], x->dtype, r, dims);
}

strata_status tensor_index_gather_nd_compute(const op_node *n, const strata_tensor *const *in,
                                             strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *ix = in[1];
    int b = (int)op_attr_int(n, "batch_dims", 0);
    int64_t k = ix->dims[ix->rank - 1];
    int64_t batches = tensor_util_prod(x->dims, 0, b);
    int64_t tuples = tensor_util_prod(ix->dims, b, ix->rank - 1);
    int64_t slice = tensor_util_prod(x->dims, b + (int)k, x->rank);
    for (int64_t bi = 0; bi < batches; bi++)
        for (int64_t t = 0; t < tuples; t++) {
            int64_t off;
            strata_status st = nd_offset(n, x, ix, b, k, bi, bi * tuples + t, &off);
            if (st == STRATA_OK)
                st = tensor_util_copy(out[0], (bi * tuples + t) * slice, x, off, slice);
            if (st != STRATA_OK) return st;
        }
    return STRATA_OK;
}

strata_status tensor_index_scatter_nd_infer(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st == STRATA_OK) st = need_input(n, in, 1, "indices");
    if (st == STRATA_OK) st = need_input(n, in, 2, "updates");
    if (st == STRATA_OK) st = check_indices(n, in[1], "indices");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0], *ix = in[1], *up = in[2];
    if (up->dtype != x->dtype)
        return op_error(n, STRATA_INVALID_MODEL, "updates dtype differs from data");
    if (ix->rank < 1) return op_error(n, STRATA_INVALID_MODEL, "indices must have rank >= 1");
    int64_t k = ix->dims[ix->rank - 1];
    if (k >= 0) {
        if (k < 1 || k > x->rank)
            return op_error(n, STRATA_INVALID_MODEL, "index tuples of %lld entries for data rank %d",
                            (long long)k, x->rank);
        if (up->rank != ix->rank - 1 + x->rank - (int)k)
            return op_error(n, STRATA_INVALID_MODEL, "updates rank %d, expected %d", up->rank,
                            ix->rank - 1 + x->rank - (int)k);
    }
    return tensor_util_shape(n, out[0], x->dtype, x->rank, x->dims);
}

strata_status tensor_index_scatter_nd_compute(const op_node *n, const strata_tensor *const *in,
                                              strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *ix = in[1], *up = in[2];
    reduction r;
    strata_status st = read_reduction(n, &r);
    if (st != STRATA_OK) return st;
    st = tensor_util_copy(out[0], 0, x, 0, tensor_util_numel(x));
    if (st != STRATA_OK) return st;
    int64_t k = ix->dims[ix->rank - 1];
    int64_t tuples = tensor_util_prod(ix->dims, 0, ix->rank - 1);
    int64_t slice = tensor_util_prod(x->dims, (int)k, x->rank);
    if (tensor_util_numel(up) != tuples * slice)
        return op_error(n, STRATA_INVALID_ARGUMENT, "updates has %lld elements, expected %lld",
                        (long long)tensor_util_numel(up), (long long)(tuples * slice));
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off;
        st = nd_offset(n, x, ix, 0, k, 0, t, &off);
        if (st != STRATA_OK) return st;
        for (int64_t e = 0; e < slice; e++) {
            st = scatter_one(n, out[0], off + e, up, t * slice + e, r);
            if (st != STRATA_OK) return st;
        }
    }
    return STRATA_OK;
}

/* ---- Compress ----------------------------------------------------------------------------- */

static strata_status compress_count(const op_node *n, const strata_tensor *const *in, int *axis,
                                    int64_t *count)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st == STRATA_OK) st = need_input(n, in, 1, "condition");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0], *c = in[1];
    if (c->rank != 1) return op_error(n, STRATA_INVALID_MODEL, "condition must be 1-D");
    const attr *a = attr_find(n->attrs, n->n_attrs, "axis");
    *axis = -1;
    if (a) {
        st = op_axis(n, a->i, x->rank, axis);
        if (st != STRATA_OK) return st;
    }
    int64_t dim = *axis < 0 ? tensor_util_numel(x) : x->dims[*axis];
    int64_t nc = c->dims[0];
    if (dim < 0 || nc < 0 || !tensor_util_has_data(c)) return STRATA_NOT_FOUND;
    if (nc > dim)
        return op_error(n, STRATA_INVALID_ARGUMENT, "condition has %lld entries, axis has %lld",
                        (long long)nc, (long long)dim);
    int64_t k = 0;
    for (int64_t i = 0; i < nc; i++) k += tensor_get_f64(c, i) != 0;
    *count = k;
    return STRATA_OK;
}

strata_status tensor_index_compress_infer(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    int axis;
    int64_t k;
    strata_status st = compress_count(n, in, &axis, &k);
    if (st != STRATA_OK) return st;
    if (axis < 0) return tensor_util_shape(n, out[0], in[0]->dtype, 1, &k);
    int64_t dims[STRATA_MAX_DIMS];
    memcpy(dims, in[0]->dims, sizeof dims);
    dims[axis] = k;
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, dims);
}

strata_status tensor_index_compress_compute(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    int axis;
    int64_t k;
    strata_status st = compress_count(n, in, &axis, &k);
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0], *c = in[1];
    int64_t outer = 1, inner = 1, dim = tensor_util_numel(x);
    if (axis >= 0) {
        outer = tensor_util_prod(x->dims, 0, axis);
        inner = tensor_util_prod(x->dims, axis + 1, x->rank);
        dim = x->dims[axis];
    }
    int64_t nc = c->dims[0], o = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t i = 0; i < nc; i++) {
            if (tensor_get_f64(c, i) == 0) continue;
            st = tensor_util_copy(out[0], o, x, (a * dim + i) * inner, inner);
            if (st != STRATA_OK) return st;
            o += inner;
        }
    return STRATA_OK;
}

/* ---- NonZero ------------------------------------------------------------------------------ */

static bool is_nonzero(const strata_tensor *x, int64_t i)
{
    if (x->dtype == STRATA_DTYPE_STRING) {
        const char *s = ((char *const *)x->data)[i];
        return s && s[0];
    }
    return tensor_get_f64(x, i) != 0.0;
}

strata_status tensor_index_nonzero_infer(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "X");
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    if (x->dtype == STRATA_DTYPE_C64 || x->dtype == STRATA_DTYPE_C128)
        return op_error(n, STRATA_UNSUPPORTED, "dtype %s", strata_dtype_name(x->dtype));
    int64_t ne = tensor_util_numel(x);
    if (ne < 0 || !tensor_util_has_data(x)) return STRATA_NOT_FOUND;
    int64_t k = 0;
    for (int64_t i = 0; i < ne; i++) k += is_nonzero(x, i);
    int64_t dims[2] = {x->rank, k};
    return tensor_util_shape(n, out[0], STRATA_DTYPE_I64, 2, dims);
}

strata_status tensor_index_nonzero_compute(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    int64_t ne = tensor_util_numel(x), k = out[0]->dims[1], j = 0;
    int64_t coord[STRATA_MAX_DIMS] = {0};
    int64_t *o = out[0]->data;
    for (int64_t i = 0; i < ne; i++) {
        if (is_nonzero(x, i)) {
            if (j >= k) return op_error(n, STRATA_INTERNAL, "nonzero count changed");
            for (int d = 0; d < x->rank; d++) o[d * k + j] = coord[d];
            j++;
        }
        coord_next(coord, x->dims, x->rank);
    }
    return STRATA_OK;
}

/* ---- OneHot ------------------------------------------------------------------------------- */

static strata_status onehot_depth(const op_node *n, const strata_tensor *const *in, int64_t *depth)
{
    double d;
    strata_status st = tensor_util_scalar_f64(n, op_input(n, in, 1), "depth", &d);
    if (st != STRATA_OK) return st;
    if (!(d >= 1) || d > (double)STRATA_MAX_ELEMENTS)
        return op_error(n, STRATA_INVALID_ARGUMENT, "depth %g must be positive", d);
    *depth = (int64_t)d;
    return STRATA_OK;
}

strata_status tensor_index_onehot_infer(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "indices");
    if (st == STRATA_OK) st = need_input(n, in, 2, "values");
    if (st != STRATA_OK) return st;
    const strata_tensor *ix = in[0];
    if (tensor_util_numel(in[2]) >= 0 && tensor_util_numel(in[2]) != 2)
        return op_error(n, STRATA_INVALID_MODEL, "values must have 2 elements");
    int64_t depth;
    st = onehot_depth(n, in, &depth);
    if (st != STRATA_OK) return st;
    int r = ix->rank + 1, axis;
    st = op_axis(n, op_attr_int(n, "axis", -1), r, &axis);
    if (st != STRATA_OK) return st;
    if (r > STRATA_MAX_DIMS) return op_error(n, STRATA_UNSUPPORTED, "output rank %d", r);
    int64_t dims[STRATA_MAX_DIMS];
    for (int d = 0, k = 0; d < r; d++) dims[d] = d == axis ? depth : ix->dims[k++];
    return tensor_util_shape(n, out[0], in[2]->dtype, r, dims);
}

strata_status tensor_index_onehot_compute(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    const strata_tensor *ix = in[0], *vals = in[2];
    int64_t depth;
    strata_status st = onehot_depth(n, in, &depth);
    if (st != STRATA_OK) return st;
    int axis;
    st = op_axis(n, op_attr_int(n, "axis", -1), ix->rank + 1, &axis);
    if (st != STRATA_OK) return st;
    int64_t outer = tensor_util_prod(ix->dims, 0, axis);
    int64_t inner = tensor_util_prod(ix->dims, axis, ix->rank);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < depth; d++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t e = (o * depth + d) * inner + i;
                int64_t v = tensor_get_i64(ix, o * inner + i);
                if (v < 0) v += depth;
                st = tensor_util_copy(out[0], e, vals, v == d ? 1 : 0, 1);
                if (st != STRATA_OK) return st;
            }
    return STRATA_OK;
}

/* ---- TensorScatter (opset 24): write an update into a KV cache at per-batch offsets ------- */

strata_status tensor_index_tensor_scatter_infer(const op_node *n, const strata_tensor *const *in,
                                                strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "past_cache");
    if (st == STRATA_OK) st = need_input(n, in, 1, "update");
    if (st != STRATA_OK) return st;
    const strata_tensor *c = in[0], *u = in[1];
    if (u->dtype != c->dtype || u->rank != c->rank || c->rank < 2)
        return op_error(n, STRATA_INVALID_MODEL, "update (%s, rank %d) does not match past_cache (%s, rank %d)",
                        strata_dtype_name(u->dtype), u->rank, strata_dtype_name(c->dtype), c->rank);
    int axis;
    st = op_axis(n, op_attr_int(n, "axis", -2), c->rank, &axis);
    if (st != STRATA_OK) return st;
    if (axis == 0) return op_error(n, STRATA_INVALID_MODEL, "axis must not be the batch axis");
    return tensor_util_shape(n, out[0], c->dtype, c->rank, c->dims);
}

strata_status tensor_index_tensor_scatter_compute(const op_node *n, const strata_tensor *const *in,
                                                  strata_tensor *const *out)
{
    const strata_tensor *c = in[0], *u = in[1], *wi = op_input(n, in, 2);
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", -2), c->rank, &axis);
    if (st != STRATA_OK) return st;
    const char *mode = op_attr_string(n, "mode", "linear");
    bool circular = strcmp(mode, "circular") == 0;
    if (!circular && strcmp(mode, "linear") != 0)
        return op_error(n, STRATA_INVALID_MODEL, "unknown mode '%s'", mode);
    for (int d = 0; d < c->rank; d++)
        if (d != axis && u->dims[d] != c->dims[d])
            return op_error(n, STRATA_INVALID_ARGUMENT, "update extent %lld differs from cache %lld on axis %d",
                            (long long)u->dims[d], (long long)c->dims[d], d);
    int64_t B = c->dims[0], mid = tensor_util_prod(c->dims, 1, axis);
    int64_t inner = tensor_util_prod(c->dims, axis + 1, c->rank);
    int64_t max = c->dims[axis], seq = u->dims[axis];
    if (wi && (check_indices(n, wi, "write_indices") != STRATA_OK || tensor_util_numel(wi) != B))
        return op_error(n, STRATA_INVALID_MODEL, "write_indices must be int32/int64 with %lld entries",
                        (long long)B);
    st = tensor_util_copy(out[0], 0, c, 0, tensor_util_numel(c));
    for (int64_t b = 0; b < B && st == STRATA_OK; b++) {
        int64_t w = wi ? tensor_get_i64(wi, b) : 0;
        if (w < 0 || (!circular && w + seq > max) || (circular && max == 0 && seq > 0))
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "write_indices[%lld] = %lld does not fit %lld updates in %lld slots",
                            (long long)b, (long long)w, (long long)seq, (long long)max);
        for (int64_t m = 0; m < mid && st == STRATA_OK; m++)
            for (int64_t s = 0; s < seq && st == STRATA_OK; s++) {
                int64_t t = circular ? (w + s) % max : w + s;
                st = tensor_util_copy(out[0], ((b * mid + m) * max + t) * inner, u,
                                      ((b * mid + m) * seq + s) * inner, inner);
            }
    }
    return st;
}
