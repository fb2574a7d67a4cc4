/* kernels/ref/tensor_sort.c — reference ops that order elements: TopK (largest/smallest,
 * stable so that equal values keep the lower index first) and Unique (flattened or slices along
 * an axis, sorted or in order of first occurrence). */
#include <string.h>

#include "ref_tensor.h"

/* ---- TopK --------------------------------------------------------------------------------- */

static strata_status topk_params(const op_node *n, const strata_tensor *const *in, int *axis,
                                 int64_t *k)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input 'X'");
    if (x->dtype == STRATA_DTYPE_STRING || x->dtype == STRATA_DTYPE_C64 ||
        x->dtype == STRATA_DTYPE_C128)
        return op_error(n, STRATA_UNSUPPORTED, "dtype %s", strata_dtype_name(x->dtype));
    strata_status st = op_axis(n, op_attr_int(n, "axis", -1), x->rank, axis);
    if (st != STRATA_OK) return st;
    if (n->opset < 10) {
        *k = op_attr_int(n, "k", -1);
    } else {
        int64_t kv[1];
        size_t nk;
        st = tensor_util_ints(n, op_input(n, in, 1), "K", kv, 1, &nk);
        if (st != STRATA_OK) return st;
        if (nk != 1) return op_error(n, STRATA_INVALID_MODEL, "K must have one element");
        *k = kv[0];
    }
    int64_t dim = x->dims[*axis];
    if (*k < 0 || (dim >= 0 && *k > dim))
        return op_error(n, STRATA_INVALID_ARGUMENT, "k = %lld outside 0..%lld", (long long)*k,
                        (long long)dim);
    return STRATA_OK;
}

strata_status tensor_sort_topk_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    int axis;
    int64_t k;
    strata_status st = topk_params(n, in, &axis, &k);
    if (st != STRATA_OK) return st;
    int64_t dims[STRATA_MAX_DIMS];
    memcpy(dims, in[0]->dims, sizeof dims);
    dims[axis] = k;
    st = tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, dims);
    if (st == STRATA_OK && n->n_outputs > 1)
        st = tensor_util_shape(n, out[1], STRATA_DTYPE_I64, in[0]->rank, dims);
    return st;
}

typedef struct topk_ctx {
    const strata_tensor *x; /* the input */
    int64_t base, stride;   /* element of position i along the axis: base + i * stride */
    bool largest;           /* descending order */
} topk_ctx;

static int topk_cmp(int64_t a, int64_t b, void *vctx)
{
    const topk_ctx *c = vctx;
    int r = tensor_util_compare(c->x, c->base + a * c->stride, c->x, c->base + b * c->stride);
    return c->largest ? -r : r;
}

strata_status tensor_sort_topk_compute(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    int axis;
    int64_t k;
    strata_status st = topk_params(n, in, &axis, &k);
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    int64_t dim = x->dims[axis];
    int64_t outer = tensor_util_prod(x->dims, 0, axis);
    int64_t inner = tensor_util_prod(x->dims, axis + 1, x->rank);
    int64_t *idx = mem_alloc((size_t)(dim + 1) * sizeof *idx);
    if (!idx) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    topk_ctx c = {x, 0, inner, op_attr_int(n, "largest", 1) != 0};
    for (int64_t o = 0; o < outer && st == STRATA_OK; o++)
        for (int64_t i = 0; i < inner && st == STRATA_OK; i++) {
            for (int64_t j = 0; j < dim; j++) idx[j] = j;
            c.base = o * dim * inner + i;
            st = tensor_util_sort(idx, dim, topk_cmp, &c);
            for (int64_t j = 0; j < k && st == STRATA_OK; j++) {
                int64_t e = (o * k + j) * inner + i;
                st = tensor_util_copy(out[0], e, x, c.base + idx[j] * inner, 1);
                if (n->n_outputs > 1 && out[1]) ((int64_t *)out[1]->data)[e] = idx[j];
            }
        }
    mem_free(idx);
    return st;
}

/* ---- Unique ------------------------------------------------------------------------------- */

typedef struct unique_ctx {
    const strata_tensor *x; /* the input */
    int64_t outer;          /* product of dims before the axis (1 when flattened) */
    int64_t dim;            /* items: extent of the axis (or element count) */
    int64_t inner;          /* product of dims after the axis (1 when flattened) */
} unique_ctx;

/* Lexicographic comparison of items a and b (slices along the axis). */
static int unique_cmp(int64_t a, int64_t b, void *vctx)
{
    const unique_ctx *c = vctx;
    for (int64_t o = 0; o < c->outer; o++)
        for (int64_t i = 0; i < c->inner; i++) {
            int64_t base = o * c->dim * c->inner + i;
            int r = tensor_util_compare(c->x, base + a * c->inner, c->x, base + b * c->inner);
            if (r) return r;
        }
    return 0;
}

typedef struct unique_result {
    int64_t n_unique;   /* number of distinct items */
    int64_t *first;     /* [n_unique] item index of each unique item's first occurrence, in
                           output order */
    int64_t *inverse;   /* [dim] output position of each item */
    int64_t *counts;    /* [n_unique] occurrences */
} unique_result;

static void unique_free(unique_result *r)
{
    mem_free(r->first);
    mem_free(r->inverse);
    mem_free(r->counts);
}

static strata_status unique_run(const op_node *n, const strata_tensor *x, int axis,
                                unique_result *r)
{
    memset(r, 0, sizeof *r);
    unique_ctx c = {x, 1, tensor_util_numel(x), 1};
    if (axis >= 0) {
        c.outer = tensor_util_prod(x->dims, 0, axis);
        c.dim = x->dims[axis];
        c.inner = tensor_util_prod(x->dims, axis + 1, x->rank);
    }
    int64_t m = c.dim;
    int64_t *order = mem_alloc((size_t)(m + 1) * sizeof *order);
    int64_t *group = mem_alloc((size_t)(m + 1) * sizeof *group); /* group of sorted position */
    r->first = mem_alloc((size_t)(m + 1) * sizeof *r->first);
    r->inverse = mem_alloc((size_t)(m + 1) * sizeof *r->inverse);
    r->counts = mem_alloc((size_t)(m + 1) * sizeof *r->counts);
    int64_t *rank_of = mem_alloc((size_t)(m + 1) * sizeof *rank_of);
    strata_status st = STRATA_OK;
    if (!order || !group || !r->first || !r->inverse || !r->counts || !rank_of) {
        st = op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < m; i++) order[i] = i;
    st = tensor_util_sort(order, m, unique_cmp, &c);
    if (st != STRATA_OK) goto done;
    /* groups in sorted order; stable sort puts each group's first occurrence first */
    int64_t g = -1;
    for (int64_t i = 0; i < m; i++) {
        if (i == 0 || unique_cmp(order[i - 1], order[i], &c) != 0) {
            g++;
            r->first[g] = order[i];
            r->counts[g] = 0;
        }
        group[order[i]] = g;
        r->counts[g]++;
    }
    r->n_unique = g + 1;
    bool sorted = op_attr_int(n, "sorted", 1) != 0;
    for (int64_t j = 0; j < r->n_unique; j++) rank_of[j] = j;
    if (!sorted) {
        /* reorder groups by first occurrence: walk items in order */
        int64_t *nf = order, *nc = mem_alloc((size_t)(r->n_unique + 1) * sizeof *nc), k = 0;
        if (!nc) {
            st = op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
            goto done;
        }
        for (int64_t j = 0; j < r->n_unique; j++) rank_of[j] = -1;
        for (int64_t i = 0; i < m; i++) {
            int64_t gi = group[i];
            if (rank_of[gi] >= 0) continue;
            rank_of[gi] = k;
            nf[k] = i;
            nc[k] = r->counts[gi];
            k++;
        }
        memcpy(r->first, nf, (size_t)r->n_unique * sizeof *nf);
        memcpy(r->counts, nc, (size_t)r->n_unique * sizeof *nc);
        mem_free(nc);
    }
    for (int64_t i = 0; i < m; i++) r->inverse[i] = rank_of[group[i]];
done:
    mem_free(order);
    mem_free(group);
    mem_free(rank_of);
    if (st != STRATA_OK) unique_free(r);
    return st;
}

static strata_status unique_axis(const op_node *n, const strata_tensor *x, int *axis)
{
    *axis = -1;
    const attr *a = attr_find(n->attrs, n->n_attrs, "axis");
    if (!a) return STRATA_OK;
    return op_axis(n, a->i, x->rank, axis);
}

strata_status tensor_sort_unique_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input 'X'");
    if (x->dtype == STRATA_DTYPE_C64 || x->dtype == STRATA_DTYPE_C128)
        return op_error(n, STRATA_UNSUPPORTED, "dtype %s", strata_dtype_name(x->dtype));
    int axis;
    strata_status st = unique_axis(n, x, &axis);
    if (st != STRATA_OK) return st;
    if (tensor_util_numel(x) < 0 || !tensor_util_has_data(x)) return STRATA_NOT_FOUND;
    unique_result r;
    st = unique_run(n, x, axis, &r);
    if (st != STRATA_OK) return st;
    int64_t u = r.n_unique, m = axis < 0 ? tensor_util_numel(x) : x->dims[axis];
    unique_free(&r);
    int64_t dims[STRATA_MAX_DIMS];
    if (axis < 0) {
        st = tensor_util_shape(n, out[0], x->dtype, 1, &u);
    } else {
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = u;
        st = tensor_util_shape(n, out[0], x->dtype, x->rank, dims);
    }
    if (st == STRATA_OK && n->n_outputs > 1) st = tensor_util_shape(n, out[1], STRATA_DTYPE_I64, 1, &u);
    if (st == STRATA_OK && n->n_outputs > 2) st = tensor_util_shape(n, out[2], STRATA_DTYPE_I64, 1, &m);
    if (st == STRATA_OK && n->n_outputs > 3) st = tensor_util_shape(n, out[3], STRATA_DTYPE_I64, 1, &u);
    return st;
}

strata_status tensor_sort_unique_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    int axis;
    strata_status st = unique_axis(n, x, &axis);
    if (st != STRATA_OK) return st;
    unique_result r;
    st = unique_run(n, x, axis, &r);
    if (st != STRATA_OK) return st;
    int64_t u = r.n_unique;
    int64_t outer = 1, inner = 1, m = tensor_util_numel(x);
    if (axis >= 0) {
        outer = tensor_util_prod(x->dims, 0, axis);
        inner = tensor_util_prod(x->dims, axis + 1, x->rank);
        m = x->dims[axis];
    }
    for (int64_t o = 0; o < outer && st == STRATA_OK; o++)
        for (int64_t j = 0; j < u && st == STRATA_OK; j++)
            st = tensor_util_copy(out[0], (o * u + j) * inner, x, (o * m + r.first[j]) * inner,
                                  inner);
    for (int64_t j = 0; j < u && st == STRATA_OK; j++) {
        if (n->n_outputs > 1 && out[1]) ((int64_t *)out[1]->data)[j] = r.first[j];
        if (n->n_outputs > 3 && out[3]) ((int64_t *)out[3]->data)[j] = r.counts[j];
    }
    if (n->n_outputs > 2 && out[2])
        for (int64_t i = 0; i < m; i++) ((int64_t *)out[2]->data)[i] = r.inverse[i];
    unique_free(&r);
    return st;
}
