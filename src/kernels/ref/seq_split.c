/* kernels/ref/seq_split.c — reference ops between tensors and sequences: SplitToSequence (cut a
 * tensor along an axis into equal chunks or given sizes) and ConcatFromSequence (concatenate the
 * elements along an axis, or stack them along a new one). */
#include <string.h>

#include "ref_seq.h"

#define MAX_PIECES (1 << 24)

/* Copies count elements from src[si..] to dst[di..] (strings duplicated). */
static strata_status copy_elems(strata_tensor *dst, int64_t di, const strata_tensor *src,
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
    memcpy((char *)dst->data + (size_t)di * es, (const char *)src->data + (size_t)si * es,
           (size_t)count * es);
    return STRATA_OK;
}

static int64_t prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++) p *= dims[i];
    return p;
}

/* ---- SplitToSequence ------------------------------------------------------------------------ */

typedef struct split_plan {
    int axis;
    bool keepdims;
    int64_t n;          /* pieces, -1 when unknown */
    int64_t chunk;      /* > 0: equal chunks of this size (the last may be shorter) */
    const strata_tensor *sizes; /* 1-D split input, or NULL */
} split_plan;

static int64_t piece_size(const split_plan *p, int64_t dim, int64_t k)
{
    if (p->sizes) return tensor_get_i64(p->sizes, k);
    int64_t rest = dim - k * p->chunk;
    return rest < p->chunk ? rest : p->chunk;
}

static strata_status split_plan_make(const op_node *n, const strata_tensor *const *in, split_plan *p)
{
    memset(p, 0, sizeof *p);
    const strata_tensor *x = op_input(n, in, 0), *split = op_input(n, in, 1);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input 0 (input)");
    if (dtype_is_container(x->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "input 0 must be a tensor, got a %s",
                        strata_dtype_name(x->dtype));
    if (x->rank < 1) return op_error(n, STRATA_INVALID_ARGUMENT, "cannot split a scalar");
    strata_status st = op_axis(n, op_attr_int(n, "axis", 0), x->rank, &p->axis);
    if (st != STRATA_OK) return st;
    p->keepdims = op_attr_int(n, "keepdims", 1) != 0;
    int64_t dim = x->dims[p->axis];
    p->n = -1;
    if (!split) {
        p->chunk = 1;
        p->n = dim;
        return STRATA_OK;
    }
    p->keepdims = true; /* ignored when split is given */
    if (split->dtype != STRATA_DTYPE_I32 && split->dtype != STRATA_DTYPE_I64)
        return op_error(n, STRATA_INVALID_MODEL, "split must be int32 or int64, got %s",
                        strata_dtype_name(split->dtype));
    if (split->rank > 1) return op_error(n, STRATA_INVALID_ARGUMENT, "split must be a scalar or 1-D");
    if (!split->data) return STRATA_OK; /* count unknown */
    if (split->rank == 0) {
        p->chunk = tensor_get_i64(split, 0);
        if (p->chunk <= 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "split size %lld must be positive",
                            (long long)p->chunk);
        if (dim >= 0) p->n = dim / p->chunk + (dim % p->chunk != 0);
        return STRATA_OK;
    }
    int64_t total = 0;
    for (int64_t k = 0; k < split->dims[0]; k++) {
        int64_t s = tensor_get_i64(split, k);
        if (s < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "split[%lld] = %lld is negative",
                            (long long)k, (long long)s);
        total += s;
    }
    if (dim >= 0 && total != dim)
        return op_error(n, STRATA_INVALID_ARGUMENT, "split sizes add up to %lld, axis %d has %lld",
                        (long long)total, p->axis, (long long)dim);
    p->sizes = split;
    p->n = split->dims[0];
    return STRATA_OK;
}

strata_status seq_split_infer(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    split_plan p;
    strata_status st = split_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    if (p.n > MAX_PIECES) return op_error(n, STRATA_UNSUPPORTED, "more than %d pieces", MAX_PIECES);
    return seq_out_type(out[0], STRATA_DTYPE_SEQUENCE, p.n);
}

strata_status seq_split_compute(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    split_plan p;
    strata_status st = split_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    if (p.n < 0 || shape_numel(x->rank, x->dims) < 0)
        return op_error(n, STRATA_INTERNAL, "split sizes unknown at run time");
    if (p.n > MAX_PIECES) return op_error(n, STRATA_UNSUPPORTED, "more than %d pieces", MAX_PIECES);
    st = tensor_alloc_container(out[0], STRATA_DTYPE_SEQUENCE, p.n);
    if (st != STRATA_OK) return st;
    strata_tensor **items = out[0]->data;
    int64_t dim = x->dims[p.axis], outer = prod(x->dims, 0, p.axis);
    int64_t inner = prod(x->dims, p.axis + 1, x->rank), start = 0;
    for (int64_t k = 0; k < p.n; k++) {
        int64_t size = piece_size(&p, dim, k);
        int64_t dims[STRATA_MAX_DIMS];
        int r = 0;
        for (int d = 0; d < x->rank; d++) {
            if (d != p.axis) dims[r++] = x->dims[d];
            else if (p.keepdims) dims[r++] = size;
        }
        st = strata_tensor_create(x->dtype, r, dims, &items[k]);
        if (st != STRATA_OK) return st;
        for (int64_t o = 0; o < outer; o++) {
            st = copy_elems(items[k], o * size * inner, x, (o * dim + start) * inner, size * inner);
            if (st != STRATA_OK) return st;
        }
        start += size;
    }
    return STRATA_OK;
}

/* ---- ConcatFromSequence --------------------------------------------------------------------- */

/* Checks the elements and computes the output shape; NOT_FOUND while the sequence is unknown. */
static strata_status concat_shape(const op_node *n, const strata_tensor *const *in, int *axis,
                                  int *rank, int64_t *dims)
{
    const strata_tensor *s = NULL;
    strata_status st = seq_input(n, in, 0, "input_sequence", &s);
    if (st != STRATA_OK) return st;
    const attr *a = attr_find(n->attrs, n->n_attrs, "axis");
    if (!a || a->type != ATTR_INT) return op_error(n, STRATA_INVALID_MODEL, "missing 'axis' attribute");
    bool new_axis = op_attr_int(n, "new_axis", 0) != 0;
    if (!s->data) return STRATA_NOT_FOUND;
    if (s->dims[0] == 0) return op_error(n, STRATA_INVALID_ARGUMENT, "the input sequence is empty");
    const strata_tensor *e0 = seq_item(s, 0);
    if (!e0 || dtype_is_container(e0->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "sequence element 0 is not a tensor");
    int r = e0->rank + (new_axis ? 1 : 0);
    if (r > STRATA_MAX_DIMS) return op_error(n, STRATA_UNSUPPORTED, "output rank exceeds %d", STRATA_MAX_DIMS);
    if (r < 1) return op_error(n, STRATA_INVALID_ARGUMENT, "cannot concatenate scalars");
    st = op_axis(n, a->i, r, axis);
    if (st != STRATA_OK) return st;
    int64_t total = 0;
    for (int64_t k = 0; k < s->dims[0]; k++) {
        const strata_tensor *e = seq_item(s, k);
        if (!e || e->dtype != e0->dtype || e->rank != e0->rank)
            return op_error(n, STRATA_INVALID_ARGUMENT, "sequence element %lld differs from element "
                            "0 in dtype or rank", (long long)k);
        for (int d = 0; d < e0->rank; d++)
            if ((new_axis || d != *axis) && e->dims[d] != e0->dims[d])
                return op_error(n, STRATA_INVALID_ARGUMENT, "sequence element %lld has dim %d = %lld, "
                                "element 0 has %lld", (long long)k, d, (long long)e->dims[d],
                                (long long)e0->dims[d]);
        total += new_axis ? 1 : e->dims[*axis];
    }
    *rank = r;
    for (int d = 0, k = 0; d < r; d++) {
        if (d == *axis) {
            dims[d] = total;
            if (new_axis) continue; /* no element dim consumed */
        } else {
            dims[d] = e0->dims[k];
        }
        k++;
    }
    return STRATA_OK;
}

strata_status seq_concat_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    int axis, rank;
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = concat_shape(n, in, &axis, &rank, dims);
    if (st != STRATA_OK || !out[0]) return st;
    return tensor_set_shape(out[0], seq_item(in[0], 0)->dtype, rank, dims);
}

strata_status seq_concat_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    int axis, rank;
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = concat_shape(n, in, &axis, &rank, dims);
    if (st != STRATA_OK) return st;
    const strata_tensor *s = in[0];
    int64_t outer = prod(dims, 0, axis), at = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < s->dims[0]; k++) {
            const strata_tensor *e = seq_item(s, k);
            int64_t chunk = prod(e->dims, axis, e->rank);
            st = copy_elems(out[0], at, e, o * chunk, chunk);
            if (st != STRATA_OK) return st;
            at += chunk;
        }
    return STRATA_OK;
}
