/* kernels/ref/tensor_move.c — reference ops that rearrange elements: Transpose, Concat, Split,
 * Slice, Tile, DepthToSpace, SpaceToDepth, Trilu, ReverseSequence. Every dtype is moved by
 * its size (strings are duplicated). */
#include <string.h>

#include "ref_tensor.h"

#define MAX_LIST (4 * STRATA_MAX_DIMS)

static strata_status need_input(const op_node *n, const strata_tensor *const *in, size_t i,
                                const char *what)
{
    if (!op_input(n, in, i))
        return op_error(n, STRATA_INVALID_MODEL, "missing input %zu ('%s')", i, what);
    return tensor_util_check_dtype(n, in[i], what);
}

/* ---- Transpose ---------------------------------------------------------------------------- */

static strata_status read_perm(const op_node *n, int rank, int *perm)
{
    size_t np;
    const int64_t *p = op_attr_ints(n, "perm", &np);
    if (!p) {
        for (int i = 0; i < rank; i++) perm[i] = rank - 1 - i;
        return STRATA_OK;
    }
    if ((int)np != rank)
        return op_error(n, STRATA_INVALID_MODEL, "perm has %zu entries for rank %d", np, rank);
    bool seen[STRATA_MAX_DIMS] = {false};
    for (int i = 0; i < rank; i++) {
        int64_t a = p[i] < 0 ? p[i] + rank : p[i];
        if (a < 0 || a >= rank || seen[a])
            return op_error(n, STRATA_INVALID_MODEL, "perm is not a permutation of 0..%d",
                            rank - 1);
        seen[a] = true;
        perm[i] = (int)a;
    }
    return STRATA_OK;
}

strata_status tensor_move_transpose_infer(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st != STRATA_OK) return st;
    int perm[STRATA_MAX_DIMS];
    st = read_perm(n, in[0]->rank, perm);
    if (st != STRATA_OK) return st;
    int64_t dims[STRATA_MAX_DIMS];
    for (int i = 0; i < in[0]->rank; i++) dims[i] = in[0]->dims[perm[i]];
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, dims);
}

strata_status tensor_move_transpose_compute(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    int perm[STRATA_MAX_DIMS];
    strata_status st = read_perm(n, in[0]->rank, perm);
    if (st != STRATA_OK) return st;
    int64_t s[STRATA_MAX_DIMS], ps[STRATA_MAX_DIMS];
    shape_strides(in[0]->rank, in[0]->dims, s);
    for (int i = 0; i < in[0]->rank; i++) ps[i] = s[perm[i]];
    return tensor_util_strided_copy(out[0], in[0], out[0]->rank, out[0]->dims, ps, 0);
}

/* ---- Concat ------------------------------------------------------------------------------- */

static strata_status concat_axis(const op_node *n, int rank, int *axis)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, "axis");
    if (!a && n->opset >= 4) return op_error(n, STRATA_INVALID_MODEL, "missing 'axis'");
    return op_axis(n, a ? a->i : 1, rank, axis);
}

strata_status tensor_move_concat_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    if (n->n_inputs == 0 || !in[0]) return op_error(n, STRATA_INVALID_MODEL, "no inputs");
    const strata_tensor *x0 = in[0];
    strata_status st = tensor_util_check_dtype(n, x0, "input 0");
    if (st != STRATA_OK) return st;
    int axis;
    st = concat_axis(n, x0->rank, &axis);
    if (st != STRATA_OK) return st;
    int64_t dims[STRATA_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (size_t i = 0; i < n->n_inputs; i++) {
        const strata_tensor *x = in[i];
        if (!x) return op_error(n, STRATA_INVALID_MODEL, "input %zu is missing", i);
        if (x->dtype != x0->dtype || x->rank != x0->rank)
            return op_error(n, STRATA_INVALID_MODEL,
                            "input %zu (%s, rank %d) differs from input 0 (%s, rank %d)", i,
                            strata_dtype_name(x->dtype), x->rank, strata_dtype_name(x0->dtype),
                            x0->rank);
        for (int d = 0; d < x->rank; d++) {
            if (d == axis) continue;
            if (dims[d] < 0) dims[d] = x->dims[d];
            else if (x->dims[d] >= 0 && x->dims[d] != dims[d])
                return op_error(n, STRATA_INVALID_ARGUMENT,
                                "input %zu has extent %lld on axis %d, input 0 has %lld", i,
                                (long long)x->dims[d], d, (long long)dims[d]);
        }
        if (dims[axis] >= 0) dims[axis] = x->dims[axis] < 0 ? -1 : dims[axis] + x->dims[axis];
    }
    return tensor_util_shape(n, out[0], x0->dtype, x0->rank, dims);
}

strata_status tensor_move_concat_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    int axis;
    strata_status st = concat_axis(n, out[0]->rank, &axis);
    if (st != STRATA_OK) return st;
    int64_t outer = tensor_util_prod(out[0]->dims, 0, axis);
    int64_t inner = tensor_util_prod(out[0]->dims, axis + 1, out[0]->rank);
    int64_t orow = out[0]->dims[axis] * inner, off = 0;
    for (size_t i = 0; i < n->n_inputs; i++) {
        int64_t row = in[i]->dims[axis] * inner;
        for (int64_t o = 0; o < outer; o++) {
            st = tensor_util_copy(out[0], o * orow + off, in[i], o * row, row);
            if (st != STRATA_OK) return st;
        }
        off += row;
    }
    return STRATA_OK;
}

/* ---- Split -------------------------------------------------------------------------------- */

/* Fills sizes[n_outputs] along the axis (extent dim, -1 when unknown). */
static strata_status split_sizes(const op_node *n, const strata_tensor *const *in, int64_t dim,
                                 int64_t *sizes)
{
    size_t k = n->n_outputs, ns = 0;
    const int64_t *sp = NULL;
    int64_t *buf = NULL;
    strata_status st = STRATA_OK;
    if (n->opset < 13) {
        sp = op_attr_ints(n, "split", &ns);
    } else if (op_input(n, in, 1)) {
        buf = mem_alloc((k + 1) * sizeof *buf);
        if (!buf) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
        st = tensor_util_ints(n, in[1], "split", buf, k, &ns);
        if (st != STRATA_OK) {
            if (st == STRATA_INVALID_MODEL)
                op_error(n, st, "'split' must have one entry per output (%zu)", k);
            mem_free(buf);
            return st;
        }
        sp = buf;
    }
    if (sp) {
        int64_t sum = 0;
        if (ns != k) st = op_error(n, STRATA_INVALID_MODEL, "'split' has %zu entries for %zu outputs", ns, k);
        for (size_t i = 0; i < ns && st == STRATA_OK; i++) {
            if (sp[i] < 0) st = op_error(n, STRATA_INVALID_MODEL, "split[%zu] is negative", i);
            sizes[i] = sp[i];
            sum += sp[i];
        }
        if (st == STRATA_OK && dim >= 0 && sum != dim)
            st = op_error(n, STRATA_INVALID_ARGUMENT, "split sizes add to %lld, the axis has %lld",
                          (long long)sum, (long long)dim);
        mem_free(buf);
        return st;
    }
    int64_t parts = (int64_t)k;
    if (n->opset >= 18) {
        int64_t no = op_attr_int(n, "num_outputs", -1);
        if (no >= 1) {
            if (no != (int64_t)k)
                return op_error(n, STRATA_INVALID_MODEL, "num_outputs %lld but %zu outputs",
                                (long long)no, k);
        }
    }
    if (parts == 0) return op_error(n, STRATA_INVALID_MODEL, "no outputs");
    for (int64_t i = 0; i < parts; i++) {
        if (dim < 0) {
            sizes[i] = -1;
            continue;
        }
        int64_t chunk = (dim + parts - 1) / parts; /* last chunk may be smaller */
        int64_t s = i * chunk;
        int64_t e = s + chunk > dim ? dim : s + chunk;
        sizes[i] = e > s ? e - s : 0;
    }
    if (dim >= 0 && n->opset < 18 && dim % parts != 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "axis of extent %lld does not split into %lld equal parts",
                        (long long)dim, (long long)parts);
    return STRATA_OK;
}

strata_status tensor_move_split_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st != STRATA_OK) return st;
    int axis;
    st = op_axis(n, op_attr_int(n, "axis", 0), in[0]->rank, &axis);
    if (st != STRATA_OK) return st;
    int64_t *sizes = mem_alloc((n->n_outputs + 1) * sizeof *sizes);
    if (!sizes) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    st = split_sizes(n, in, in[0]->dims[axis], sizes);
    for (size_t j = 0; j < n->n_outputs && st == STRATA_OK; j++) {
        int64_t dims[STRATA_MAX_DIMS];
        memcpy(dims, in[0]->dims, sizeof dims);
        dims[axis] = sizes[j];
        st = tensor_util_shape(n, out[j], in[0]->dtype, in[0]->rank, dims);
    }
    mem_free(sizes);
    return st;
}

strata_status tensor_move_split_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", 0), in[0]->rank, &axis);
    if (st != STRATA_OK) return st;
    int64_t *sizes = mem_alloc((n->n_outputs + 1) * sizeof *sizes);
    if (!sizes) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    st = split_sizes(n, in, in[0]->dims[axis], sizes);
    int64_t outer = tensor_util_prod(in[0]->dims, 0, axis);
    int64_t inner = tensor_util_prod(in[0]->dims, axis + 1, in[0]->rank);
    int64_t irow = in[0]->dims[axis] * inner, off = 0;
    for (size_t j = 0; j < n->n_outputs && st == STRATA_OK; j++) {
        int64_t row = sizes[j] * inner;
        if (out[j])
            for (int64_t o = 0; o < outer && st == STRATA_OK; o++)
                st = tensor_util_copy(out[j], o * row, in[0], o * irow + off, row);
        off += row;
    }
    mem_free(sizes);
    return st;
}

/* ---- Slice -------------------------------------------------------------------------------- */

typedef struct slice_plan {
    int64_t start[STRATA_MAX_DIMS]; /* first source index per axis */
    int64_t step[STRATA_MAX_DIMS];  /* source step per axis */
    int64_t dims[STRATA_MAX_DIMS];  /* output extent per axis (-1 unknown) */
} slice_plan;

static strata_status slice_plan_make(const op_node *n, const strata_tensor *const *in,
                                     slice_plan *p)
{
    const strata_tensor *x = in[0];
    int64_t starts[MAX_LIST], ends[MAX_LIST], axes[MAX_LIST], steps[MAX_LIST];
    size_t ns, ne, na = 0, nst = 0;
    bool have_axes = false, have_steps = false;
    strata_status st;
    if (n->opset < 10) {
        const int64_t *s = op_attr_ints(n, "starts", &ns), *e = op_attr_ints(n, "ends", &ne);
        const int64_t *a = op_attr_ints(n, "axes", &na);
        if (!s || !e) return op_error(n, STRATA_INVALID_MODEL, "missing 'starts' or 'ends'");
        if (ns > MAX_LIST || ne > MAX_LIST || na > MAX_LIST)
            return op_error(n, STRATA_INVALID_MODEL, "too many slice entries");
        memcpy(starts, s, ns * sizeof *s);
        memcpy(ends, e, ne * sizeof *e);
        if (a) memcpy(axes, a, na * sizeof *a), have_axes = true;
    } else {
        st = tensor_util_ints(n, op_input(n, in, 1), "starts", starts, MAX_LIST, &ns);
        if (st == STRATA_OK) st = tensor_util_ints(n, op_input(n, in, 2), "ends", ends, MAX_LIST, &ne);
        if (st == STRATA_OK && op_input(n, in, 3)) {
            have_axes = true;
            st = tensor_util_ints(n, in[3], "axes", axes, MAX_LIST, &na);
        }
        if (st == STRATA_OK && op_input(n, in, 4)) {
            have_steps = true;
            st = tensor_util_ints(n, in[4], "steps", steps, MAX_LIST, &nst);
        }
        if (st != STRATA_OK) return st;
    }
    if (ne != ns || (have_axes && na != ns) || (have_steps && nst != ns))
        return op_error(n, STRATA_INVALID_MODEL,
                        "starts (%zu), ends (%zu), axes and steps differ in length", ns, ne);
    for (int d = 0; d < x->rank; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->dims[d] = x->dims[d];
    }
    bool seen[STRATA_MAX_DIMS] = {false};
    for (size_t i = 0; i < ns; i++) {
        int a;
        st = op_axis(n, have_axes ? axes[i] : (int64_t)i, x->rank, &a);
        if (st != STRATA_OK) return st;
        if (seen[a]) return op_error(n, STRATA_INVALID_MODEL, "axis %d repeated", a);
        seen[a] = true;
        int64_t step = have_steps ? steps[i] : 1;
        if (step == 0) return op_error(n, STRATA_INVALID_MODEL, "step on axis %d is 0", a);
        int64_t dim = x->dims[a];
        if (dim >= 0) { /* |step| > dim selects at most one element: clamp to avoid overflow */
            int64_t lim = dim > 0 ? dim : 1;
            step = step > lim ? lim : step < -lim ? -lim : step;
        }
        p->step[a] = step;
        if (dim < 0) {
            p->dims[a] = -1;
            continue;
        }
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        if (step > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
        }
        int64_t len = 0;
        if (step > 0 && e > s) len = (e - s + step - 1) / step;
        if (step < 0 && s > e) len = (s - e + (-step) - 1) / (-step);
        p->start[a] = s;
        p->dims[a] = len;
    }
    return STRATA_OK;
}

strata_status tensor_move_slice_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "data");
    if (st != STRATA_OK) return st;
    slice_plan p;
    st = slice_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, p.dims);
}

strata_status tensor_move_slice_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    slice_plan p;
    strata_status st = slice_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    int64_t s[STRATA_MAX_DIMS], ps[STRATA_MAX_DIMS], base = 0;
    shape_strides(in[0]->rank, in[0]->dims, s);
    for (int d = 0; d < in[0]->rank; d++) {
        ps[d] = s[d] * p.step[d];
        base += p.start[d] * s[d];
    }
    return tensor_util_strided_copy(out[0], in[0], out[0]->rank, out[0]->dims, ps, base);
}

/* ---- Tile --------------------------------------------------------------------------------- */

strata_status tensor_move_tile_infer(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st != STRATA_OK) return st;
    int64_t rep[STRATA_MAX_DIMS], dims[STRATA_MAX_DIMS];
    size_t nr;
    st = tensor_util_ints(n, op_input(n, in, 1), "repeats", rep, STRATA_MAX_DIMS, &nr);
    if (st != STRATA_OK) return st;
    if ((int)nr != in[0]->rank)
        return op_error(n, STRATA_INVALID_MODEL, "repeats has %zu entries for rank %d", nr,
                        in[0]->rank);
    for (int d = 0; d < in[0]->rank; d++) {
        if (rep[d] < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "repeats[%d] is negative", d);
        dims[d] = in[0]->dims[d] < 0 ? -1 : in[0]->dims[d] * rep[d];
    }
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, dims);
}

strata_status tensor_move_tile_compute(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    int r = x->rank;
    int64_t total = tensor_util_numel(out[0]);
    if (total == 0) return STRATA_OK;
    if (r == 0) return tensor_util_copy(out[0], 0, x, 0, 1);
    int64_t s[STRATA_MAX_DIMS], idx[STRATA_MAX_DIMS] = {0};
    shape_strides(r, x->dims, s);
    int64_t inner = x->dims[r - 1];
    for (int64_t o = 0; o < total;) {
        int64_t src = 0;
        for (int d = 0; d < r - 1; d++) src += (idx[d] % x->dims[d]) * s[d];
        strata_status st = tensor_util_copy(out[0], o, x, src, inner);
        if (st != STRATA_OK) return st;
        o += inner;
        idx[r - 1] += inner;
        for (int d = r - 1; d > 0 && idx[d] >= out[0]->dims[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
    return STRATA_OK;
}

/* ---- DepthToSpace / SpaceToDepth ---------------------------------------------------------- */

static strata_status block_size(const op_node *n, const strata_tensor *x, int64_t *b)
{
    *b = op_attr_int(n, "blocksize", 0);
    if (*b <= 0) return op_error(n, STRATA_INVALID_MODEL, "'blocksize' must be positive");
    if (x->rank != 4)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input must be 4-D, has rank %d", x->rank);
    return STRATA_OK;
}

strata_status tensor_move_d2s_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    int64_t b;
    if (st == STRATA_OK) st = block_size(n, in[0], &b);
    if (st != STRATA_OK) return st;
    const int64_t *d = in[0]->dims;
    if (d[1] >= 0 && d[1] % (b * b) != 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "channels %lld not divisible by %lld",
                        (long long)d[1], (long long)(b * b));
    int64_t dims[4] = {d[0], d[1] < 0 ? -1 : d[1] / (b * b), d[2] < 0 ? -1 : d[2] * b,
                       d[3] < 0 ? -1 : d[3] * b};
    return tensor_util_shape(n, out[0], in[0]->dtype, 4, dims);
}

strata_status tensor_move_d2s_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    int64_t b = op_attr_int(n, "blocksize", 1);
    const int64_t *d = in[0]->dims;
    int64_t N = d[0], C = d[1] / (b * b), H = d[2], W = d[3];
    bool crd = strcmp(op_attr_string(n, "mode", "DCR"), "CRD") == 0;
    /* view the input as 6-D, walk it in output order [N, C, H, b, W, b] */
    int64_t v[6], vs[6];
    if (crd) { /* input [N, C, b1, b2, H, W] */
        v[0] = N, v[1] = C, v[2] = b, v[3] = b, v[4] = H, v[5] = W;
    } else { /* input [N, b1, b2, C, H, W] */
        v[0] = N, v[1] = b, v[2] = b, v[3] = C, v[4] = H, v[5] = W;
    }
    shape_strides(6, v, vs);
    int64_t dims[6] = {N, C, H, b, W, b}, ps[6];
    ps[0] = vs[0];
    ps[2] = vs[4];
    ps[4] = vs[5];
    if (crd) ps[1] = vs[1], ps[3] = vs[2], ps[5] = vs[3];
    else ps[1] = vs[3], ps[3] = vs[1], ps[5] = vs[2];
    return tensor_util_strided_copy(out[0], in[0], 6, dims, ps, 0);
}

strata_status tensor_move_s2d_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    int64_t b;
    if (st == STRATA_OK) st = block_size(n, in[0], &b);
    if (st != STRATA_OK) return st;
    const int64_t *d = in[0]->dims;
    if ((d[2] >= 0 && d[2] % b) || (d[3] >= 0 && d[3] % b))
        return op_error(n, STRATA_INVALID_ARGUMENT, "height %lld / width %lld not divisible by %lld",
                        (long long)d[2], (long long)d[3], (long long)b);
    int64_t dims[4] = {d[0], d[1] < 0 ? -1 : d[1] * b * b, d[2] < 0 ? -1 : d[2] / b,
                       d[3] < 0 ? -1 : d[3] / b};
    return tensor_util_shape(n, out[0], in[0]->dtype, 4, dims);
}

strata_status tensor_move_s2d_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    int64_t b = op_attr_int(n, "blocksize", 1);
    const int64_t *d = in[0]->dims;
    int64_t N = d[0], C = d[1], H = d[2] / b, W = d[3] / b;
    int64_t v[6] = {N, C, H, b, W, b}, vs[6]; /* input viewed as [N, C, H, b1, W, b2] */
    shape_strides(6, v, vs);
    int64_t dims[6] = {N, b, b, C, H, W}; /* output [N, b1, b2, C, H, W] */
    int64_t ps[6] = {vs[0], vs[3], vs[5], vs[1], vs[2], vs[4]};
    return tensor_util_strided_copy(out[0], in[0], 6, dims, ps, 0);
}

/* ---- Trilu -------------------------------------------------------------------------------- */

strata_status tensor_move_trilu_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st != STRATA_OK) return st;
    if (in[0]->rank < 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input must have rank >= 2, has %d",
                        in[0]->rank);
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
}

strata_status tensor_move_trilu_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    int64_t k = 0;
    if (op_input(n, in, 1)) {
        strata_status st = tensor_util_scalar_i64(n, in[1], "k", &k);
        if (st != STRATA_OK) return st;
    }
    bool upper = op_attr_int(n, "upper", 1) != 0;
    const strata_tensor *x = in[0];
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t mats = tensor_util_prod(x->dims, 0, x->rank - 2);
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                bool keep = upper ? j - i >= k : j - i <= k;
                if (!keep) continue;
                int64_t e = (m * rows + i) * cols + j;
                strata_status st = tensor_util_copy(out[0], e, x, e, 1);
                if (st != STRATA_OK) return st;
            }
    return STRATA_OK;
}

/* ---- ReverseSequence ---------------------------------------------------------------------- */

strata_status tensor_move_revseq_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    strata_status st = need_input(n, in, 0, "input");
    if (st != STRATA_OK) return st;
    if (!op_input(n, in, 1)) return op_error(n, STRATA_INVALID_MODEL, "missing sequence_lens");
    if (in[0]->rank < 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input must have rank >= 2");
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
}

strata_status tensor_move_revseq_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    int64_t ba = op_attr_int(n, "batch_axis", 1), ta = op_attr_int(n, "time_axis", 0);
    if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
        return op_error(n, STRATA_INVALID_MODEL, "batch_axis %lld / time_axis %lld must be 0 and 1",
                        (long long)ba, (long long)ta);
    int64_t B = x->dims[ba], T = x->dims[ta];
    if (tensor_util_numel(in[1]) != B)
        return op_error(n, STRATA_INVALID_ARGUMENT, "sequence_lens has %lld entries for batch %lld",
                        (long long)tensor_util_numel(in[1]), (long long)B);
    int64_t inner = tensor_util_prod(x->dims, 2, x->rank);
    int64_t s[STRATA_MAX_DIMS];
    shape_strides(x->rank, x->dims, s);
    for (int64_t b = 0; b < B; b++) {
        int64_t len = tensor_get_i64(in[1], b);
        if (len < 0 || len > T)
            return op_error(n, STRATA_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld outside 0..%lld",
                            (long long)b, (long long)len, (long long)T);
        for (int64_t t = 0; t < T; t++) {
            int64_t src_t = t < len ? len - 1 - t : t;
            strata_status st = tensor_util_copy(out[0], b * s[ba] + t * s[ta], x,
                                                b * s[ba] + src_t * s[ta], inner);
            if (st != STRATA_OK) return st;
        }
    }
    return STRATA_OK;
}
