/* kernels/ref/tensor_pad.c — reference padding ops: Pad (constant, reflect, edge, wrap; negative
 * pads crop) and CenterCropPad, which shares Pad's constant-mode engine. */
#include <string.h>

#include "ref_tensor.h"

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

typedef struct pad_plan {
    int64_t begin[STRATA_MAX_DIMS]; /* elements added before each axis (negative: cropped) */
    int64_t end[STRATA_MAX_DIMS];   /* elements added after each axis */
    pad_mode mode;
} pad_plan;

static strata_status pad_plan_make(const op_node *n, const strata_tensor *const *in, pad_plan *p)
{
    const strata_tensor *x = in[0];
    int r = x->rank;
    int64_t pads[4 * STRATA_MAX_DIMS], axes[STRATA_MAX_DIMS];
    size_t np = 0, na = 0;
    strata_status st;
    const char *mode = op_attr_string(n, "mode", "constant");
    if (strcmp(mode, "constant") == 0) p->mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0) p->mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0) p->mode = PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0) p->mode = PAD_WRAP;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown mode '%s'", mode);
    if (n->opset < 11) {
        const int64_t *a = op_attr_ints(n, n->opset < 2 ? "paddings" : "pads", &np);
        if (!a) a = op_attr_ints(n, "pads", &np);
        if (!a) return op_error(n, STRATA_INVALID_MODEL, "missing 'pads'");
        if (np > ARRAY_LEN(pads)) return op_error(n, STRATA_INVALID_MODEL, "too many pads");
        memcpy(pads, a, np * sizeof *a);
    } else {
        st = tensor_util_ints(n, op_input(n, in, 1), "pads", pads, ARRAY_LEN(pads), &np);
        if (st != STRATA_OK) return st;
    }
    bool have_axes = n->opset >= 18 && op_input(n, in, 3);
    if (have_axes) {
        st = tensor_util_ints(n, in[3], "axes", axes, STRATA_MAX_DIMS, &na);
        if (st != STRATA_OK) return st;
    } else {
        na = (size_t)r;
        for (int i = 0; i < r; i++) axes[i] = i;
    }
    if (np != 2 * na)
        return op_error(n, STRATA_INVALID_MODEL, "pads has %zu entries, expected %zu", np, 2 * na);
    for (int d = 0; d < r; d++) p->begin[d] = p->end[d] = 0;
    for (size_t i = 0; i < na; i++) {
        int a;
        st = op_axis(n, axes[i], r, &a);
        if (st != STRATA_OK) return st;
        p->begin[a] = pads[i];
        p->end[a] = pads[i + na];
    }
    for (int d = 0; d < r; d++) {
        int64_t dim = x->dims[d];
        if (dim >= 0 && dim + p->begin[d] + p->end[d] < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "pads crop axis %d (extent %lld) below zero",
                            d, (long long)dim);
        if (dim == 0 && p->mode != PAD_CONSTANT && (p->begin[d] > 0 || p->end[d] > 0))
            return op_error(n, STRATA_INVALID_ARGUMENT, "cannot %s-pad the empty axis %d", mode, d);
    }
    return STRATA_OK;
}

strata_status tensor_pad_pad_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    if (!op_input(n, in, 0)) return op_error(n, STRATA_INVALID_MODEL, "missing input 'data'");
    pad_plan p;
    strata_status st = pad_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    int64_t dims[STRATA_MAX_DIMS];
    for (int d = 0; d < in[0]->rank; d++)
        dims[d] = in[0]->dims[d] < 0 ? -1 : in[0]->dims[d] + p.begin[d] + p.end[d];
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, dims);
}

/* Source coordinate for output coordinate o on an axis of extent dim, or -1 (constant). */
static int64_t pad_source(int64_t o, int64_t begin, int64_t dim, pad_mode m)
{
    int64_t i = o - begin;
    if (i >= 0 && i < dim) return i;
    switch (m) {
    case PAD_EDGE: return i < 0 ? 0 : dim - 1;
    case PAD_WRAP: return ((i % dim) + dim) % dim;
    case PAD_REFLECT: {
        if (dim == 1) return 0;
        int64_t period = 2 * (dim - 1);
        int64_t k = ((i % period) + period) % period;
        return k < dim ? k : period - k;
    }
    default: return -1;
    }
}

/* Writes out from x with the plan; value (one element, same dtype as x) fills constant areas,
 * or NULL for zeros/empty strings. */
static strata_status pad_run(const op_node *n, const strata_tensor *x, const pad_plan *p,
                             const strata_tensor *value, strata_tensor *out)
{
    int r = x->rank;
    int64_t total = tensor_util_numel(out);
    if (total == 0) return STRATA_OK;
    if (r == 0) return tensor_util_copy(out, 0, x, 0, 1);
    int64_t s[STRATA_MAX_DIMS], coord[STRATA_MAX_DIMS] = {0};
    shape_strides(r, x->dims, s);
    for (int64_t o = 0; o < total; o++) {
        int64_t src = 0;
        for (int d = 0; d < r && src >= 0; d++) {
            int64_t c = pad_source(coord[d], p->begin[d], x->dims[d], p->mode);
            src = c < 0 ? -1 : src + c * s[d];
        }
        strata_status st = STRATA_OK;
        if (src >= 0) st = tensor_util_copy(out, o, x, src, 1);
        else if (value) st = tensor_util_copy(out, o, value, 0, 1);
        if (st != STRATA_OK) return st;
        for (int d = r - 1; d >= 0; d--) {
            if (++coord[d] < out->dims[d]) break;
            coord[d] = 0;
        }
    }
    (void)n;
    return STRATA_OK;
}

strata_status tensor_pad_pad_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    pad_plan p;
    strata_status st = pad_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    strata_tensor tmp;
    const strata_tensor *value = NULL;
    double v = 0;
    if (n->opset < 11) {
        v = op_attr_float(n, "value", 0.0f);
    } else if (op_input(n, in, 2) && tensor_util_numel(in[2]) > 0) {
        if (in[2]->dtype != x->dtype)
            return op_error(n, STRATA_INVALID_MODEL, "constant_value dtype %s differs from data %s",
                            strata_dtype_name(in[2]->dtype), strata_dtype_name(x->dtype));
        value = in[2];
    }
    uint64_t cell[2] = {0, 0};
    if (!value && v != 0 && x->dtype != STRATA_DTYPE_STRING) {
        memset(&tmp, 0, sizeof tmp);
        tmp.dtype = x->dtype;
        tmp.data = cell;
        tmp.n_bytes = strata_dtype_size(x->dtype);
        tensor_set_f64(&tmp, 0, v);
        value = &tmp;
    }
    return pad_run(n, x, &p, value, out[0]);
}

/* ---- CenterCropPad ------------------------------------------------------------------------ */

static strata_status ccp_plan(const op_node *n, const strata_tensor *const *in, pad_plan *p)
{
    const strata_tensor *x = in[0];
    int64_t shape[STRATA_MAX_DIMS], axes[STRATA_MAX_DIMS];
    size_t ns, na = 0;
    strata_status st = tensor_util_ints(n, op_input(n, in, 1), "shape", shape, STRATA_MAX_DIMS, &ns);
    if (st != STRATA_OK) return st;
    const int64_t *a = op_attr_ints(n, "axes", &na);
    if (a) {
        if (na > STRATA_MAX_DIMS) return op_error(n, STRATA_INVALID_MODEL, "too many axes");
        memcpy(axes, a, na * sizeof *a);
    } else {
        na = (size_t)x->rank;
        for (size_t i = 0; i < na; i++) axes[i] = (int64_t)i;
    }
    if (ns != na)
        return op_error(n, STRATA_INVALID_MODEL, "shape has %zu entries for %zu axes", ns, na);
    p->mode = PAD_CONSTANT;
    for (int d = 0; d < x->rank; d++) p->begin[d] = p->end[d] = 0;
    for (size_t i = 0; i < na; i++) {
        int ax;
        st = op_axis(n, axes[i], x->rank, &ax);
        if (st != STRATA_OK) return st;
        int64_t dim = x->dims[ax], want = shape[i];
        if (want < 0) return op_error(n, STRATA_INVALID_ARGUMENT, "shape[%zu] is negative", i);
        if (dim < 0) return STRATA_NOT_FOUND;
        int64_t diff = want - dim; /* > 0 pad, < 0 crop */
        int64_t b = diff >= 0 ? diff / 2 : -((-diff) / 2);
        p->begin[ax] = b;
        p->end[ax] = diff - b;
    }
    return STRATA_OK;
}

strata_status tensor_pad_ccp_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    if (!op_input(n, in, 0)) return op_error(n, STRATA_INVALID_MODEL, "missing input");
    pad_plan p;
    strata_status st = ccp_plan(n, in, &p);
    if (st != STRATA_OK) return st;
    int64_t dims[STRATA_MAX_DIMS];
    for (int d = 0; d < in[0]->rank; d++)
        dims[d] = in[0]->dims[d] < 0 ? -1 : in[0]->dims[d] + p.begin[d] + p.end[d];
    return tensor_util_shape(n, out[0], in[0]->dtype, in[0]->rank, dims);
}

strata_status tensor_pad_ccp_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    pad_plan p;
    strata_status st = ccp_plan(n, in, &p);
    if (st != STRATA_OK) return st;
    return pad_run(n, in[0], &p, NULL, out[0]);
}
