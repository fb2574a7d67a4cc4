/* kernels/ref/math_reduce.c — the Reduce* family (axes as attribute in early opsets, as input
 * later; keepdims; noop_with_empty_axes), ArgMax/ArgMin and CumSum. Floats accumulate in
 * double; integers in int64 with wrap-around. */
#include <math.h>
#include <string.h>

#include "ref_math.h"

typedef enum rkind {
    R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQUARE
} rkind;

typedef struct rop {
    const char *name;
    rkind kind;
    int axes_input_since; /* opset from which axes is an input */
} rop;

static const rop rops[] = {
    {"ReduceSum", R_SUM, 13},         {"ReduceMean", R_MEAN, 18},
    {"ReduceMax", R_MAX, 18},         {"ReduceMin", R_MIN, 18},
    {"ReduceProd", R_PROD, 18},       {"ReduceL1", R_L1, 18},
    {"ReduceL2", R_L2, 18},           {"ReduceLogSum", R_LOGSUM, 18},
    {"ReduceLogSumExp", R_LOGSUMEXP, 18}, {"ReduceSumSquare", R_SUMSQUARE, 18},
};

static const rop *rop_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(rops); i++)
        if (strcmp(rops[i].name, name) == 0) return &rops[i];
    return NULL;
}

/* Which axes of x to reduce: fills mask; *noop when the op passes x through unchanged.
 * STRATA_NOT_FOUND when the axes input's value is not known yet. */
static strata_status reduce_axes(const op_node *n, const rop *op,
                                 const strata_tensor *const *in, bool *mask, bool *noop)
{
    const strata_tensor *x = in[0];
    int rank = x->rank;
    const int64_t *attr_axes = NULL;
    size_t n_axes = 0;
    const strata_tensor *t = NULL;
    *noop = false;
    for (int d = 0; d < rank; d++) mask[d] = false;
    if (n->opset >= op->axes_input_since) {
        t = op_input(n, in, 1);
        if (t) {
            int64_t k = shape_numel(t->rank, t->dims);
            if (k < 0 || (k > 0 && !t->data)) return STRATA_NOT_FOUND;
            if (t->dtype != STRATA_DTYPE_I64 && t->dtype != STRATA_DTYPE_I32)
                return op_error(n, STRATA_INVALID_MODEL, "axes input is %s, expected int64",
                                math_dtype(t));
            if (t->rank > 1)
                return op_error(n, STRATA_INVALID_MODEL, "axes input has rank %d, expected 1",
                                t->rank);
            n_axes = (size_t)k;
        }
    } else {
        attr_axes = op_attr_ints(n, "axes", &n_axes);
    }
    if (n_axes == 0) {
        if (n->opset >= op->axes_input_since && op_attr_int(n, "noop_with_empty_axes", 0))
            *noop = true;
        else
            for (int d = 0; d < rank; d++) mask[d] = true;
        return STRATA_OK;
    }
    for (size_t i = 0; i < n_axes; i++) {
        int64_t a = attr_axes ? attr_axes[i] : math_ldi(t, (int64_t)i);
        int ax;
        strata_status st = op_axis(n, a, rank, &ax);
        if (st != STRATA_OK) return st;
        if (rank == 0) continue;
        mask[ax] = true;
    }
    return STRATA_OK;
}

static strata_status reduce_shape(const op_node *n, const strata_tensor *x, const bool *mask,
                                  bool noop, int *rank, int64_t *dims)
{
    bool keep = op_attr_int(n, "keepdims", 1) != 0;
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (noop || !mask[d]) dims[r++] = x->dims[d];
        else if (keep) dims[r++] = 1;
    }
    *rank = r;
    return STRATA_OK;
}

static bool reduce_type_ok(rkind k, strata_dtype t)
{
    if (dtype_is_float(t)) return true;
    if (dtype_is_int(t)) return true;
    return t == STRATA_DTYPE_BOOL && (k == R_MAX || k == R_MIN);
}

strata_status math_reduce_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    const rop *op = rop_find(n->op_type);
    if (!op) return op_error(n, STRATA_INTERNAL, "not a reduction");
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    if (!reduce_type_ok(op->kind, x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(x));
    bool mask[STRATA_MAX_DIMS], noop;
    strata_status st = reduce_axes(n, op, in, mask, &noop);
    if (st != STRATA_OK) return st;
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    reduce_shape(n, x, mask, noop, &rank, dims);
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], x->dtype, rank, dims);
}

/* Smallest and largest value of an integer dtype, as int64 bit patterns. */
static void int_limits(strata_dtype t, int64_t *lo, int64_t *hi)
{
    int bits = (int)strata_dtype_size(t) * 8;
    if (t == STRATA_DTYPE_BOOL) {
        *lo = 0;
        *hi = 1;
    } else if (dtype_is_signed(t)) {
        *hi = bits == 64 ? INT64_MAX : ((int64_t)1 << (bits - 1)) - 1;
        *lo = -*hi - 1;
    } else {
        *lo = 0;
        *hi = bits == 64 ? -1 : (int64_t)(((uint64_t)1 << bits) - 1);
    }
}

strata_status math_reduce_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    const rop *op = rop_find(n->op_type);
    if (!op) return op_error(n, STRATA_INTERNAL, "not a reduction");
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    bool mask[STRATA_MAX_DIMS], noop;
    strata_status st = reduce_axes(n, op, in, mask, &noop);
    if (st == STRATA_NOT_FOUND)
        return op_error(n, STRATA_INVALID_ARGUMENT, "the axes input has no value");
    if (st != STRATA_OK) return st;
    int64_t total = shape_numel(x->rank, x->dims), out_n = shape_numel(y->rank, y->dims);
    if (noop) {
        if (x->n_bytes) memcpy(y->data, x->data, x->n_bytes);
        return STRATA_OK;
    }
    /* Offset into the output for each input index: the input's strides with reduced dims
     * zeroed, in the output's (keepdims) layout. */
    int64_t kdims[STRATA_MAX_DIMS], kstr[STRATA_MAX_DIMS], idx[STRATA_MAX_DIMS] = {0};
    for (int d = 0; d < x->rank; d++) kdims[d] = mask[d] ? 1 : x->dims[d];
    shape_strides(x->rank, kdims, kstr);
    for (int d = 0; d < x->rank; d++)
        if (mask[d]) kstr[d] = 0;
    int64_t group = 1; /* inputs per output */
    for (int d = 0; d < x->rank; d++)
        if (mask[d]) group *= x->dims[d];

    rkind k = op->kind;
    bool is_float = dtype_is_float(x->dtype), u = !dtype_is_signed(x->dtype);
    double *acc = mem_calloc((size_t)(out_n > 0 ? out_n : 1), sizeof *acc);
    double *mx = k == R_LOGSUMEXP ? mem_calloc((size_t)(out_n > 0 ? out_n : 1), sizeof *mx)
                                  : NULL;
    int64_t *iacc = mem_calloc((size_t)(out_n > 0 ? out_n : 1), sizeof *iacc);
    if (!acc || !iacc || (k == R_LOGSUMEXP && !mx)) {
        mem_free(acc);
        mem_free(mx);
        mem_free(iacc);
        return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory for %lld accumulators",
                        (long long)out_n);
    }
    int64_t lo = 0, hi = 0;
    if (!is_float) int_limits(x->dtype, &lo, &hi);
    for (int64_t o = 0; o < out_n; o++) {
        if (k == R_PROD) acc[o] = 1, iacc[o] = 1;
        if (k == R_MAX) acc[o] = -INFINITY, iacc[o] = lo;
        if (k == R_MIN) acc[o] = INFINITY, iacc[o] = hi;
        if (mx) mx[o] = -INFINITY;
    }
    if (mx) { /* LogSumExp: the max of each group first, for stability */
        int64_t off = 0;
        for (int64_t i = 0; i < total; i++) {
            double v = math_ld(x, i);
            if (v > mx[off]) mx[off] = v;
            for (int d = x->rank - 1; d >= 0; d--) {
                off += kstr[d];
                if (++idx[d] < x->dims[d]) break;
                off -= kstr[d] * x->dims[d];
                idx[d] = 0;
            }
        }
        for (int64_t o = 0; o < out_n; o++)
            if (isinf(mx[o])) mx[o] = 0;
    }
    int64_t off = 0;
    for (int64_t i = 0; i < total; i++) {
        if (is_float || k == R_L2 || k == R_LOGSUM || k == R_LOGSUMEXP) {
            double v = math_ld(x, i);
            if (!is_float && u) v = (double)(uint64_t)math_ldi(x, i);
            double *a = &acc[off];
            switch (k) {
            case R_SUM: case R_MEAN: case R_LOGSUM: *a += v; break;
            case R_MAX: if (v > *a || isnan(v)) *a = v; break;
            case R_MIN: if (v < *a || isnan(v)) *a = v; break;
            case R_PROD: *a *= v; break;
            case R_L1: *a += fabs(v); break;
            case R_L2: case R_SUMSQUARE: *a += v * v; break;
            case R_LOGSUMEXP: *a += exp(v - mx[off]); break;
            }
        } else {
            int64_t v = math_ldi(x, i);
            uint64_t uv = (uint64_t)v;
            int64_t *a = &iacc[off];
            switch (k) {
            case R_SUM: case R_MEAN: *a = (int64_t)((uint64_t)*a + uv); break;
            case R_MAX: if (u ? uv > (uint64_t)*a : v > *a) *a = v; break;
            case R_MIN: if (u ? uv < (uint64_t)*a : v < *a) *a = v; break;
            case R_PROD: *a = (int64_t)((uint64_t)*a * uv); break;
            case R_L1: *a = (int64_t)((uint64_t)*a + (u || v >= 0 ? uv : 0 - uv)); break;
            case R_SUMSQUARE: *a = (int64_t)((uint64_t)*a + uv * uv); break;
            default: break;
            }
        }
        for (int d = x->rank - 1; d >= 0; d--) {
            off += kstr[d];
            if (++idx[d] < x->dims[d]) break;
            off -= kstr[d] * x->dims[d];
            idx[d] = 0;
        }
    }
    for (int64_t o = 0; o < out_n; o++) {
        if (is_float || k == R_L2 || k == R_LOGSUM || k == R_LOGSUMEXP) {
            double a = acc[o];
            switch (k) {
            case R_MEAN: a = a / (double)group; break;
            case R_L2: a = sqrt(a); break;
            case R_LOGSUM: a = log(a); break;
            case R_LOGSUMEXP: a = log(a) + mx[o]; break;
            default: break;
            }
            math_st(y, o, a);
        } else {
            int64_t a = iacc[o];
            if (k == R_MEAN && group > 0)
                a = u ? (int64_t)((uint64_t)a / (uint64_t)group) : a / group;
            math_sti(y, o, a);
        }
    }
    mem_free(acc);
    mem_free(mx);
    mem_free(iacc);
    return STRATA_OK;
}

/* ---- ArgMax, ArgMin ------------------------------------------------------------------------- */

strata_status math_reduce_arg_infer(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    if (!dtype_is_float(x->dtype) && !dtype_is_int(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(x));
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", 0), x->rank, &axis);
    if (st != STRATA_OK) return st;
    if (x->rank == 0) return op_error(n, STRATA_INVALID_MODEL, "input must have rank >= 1");
    if (x->dims[axis] == 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "axis %d has size 0", axis);
    bool keep = op_attr_int(n, "keepdims", 1) != 0;
    int64_t dims[STRATA_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis) dims[r++] = x->dims[d];
        else if (keep) dims[r++] = 1;
    }
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], STRATA_DTYPE_I64, r, dims);
}

/* Outer count, axis length and inner count of x split at axis. */
static void split_at(const strata_tensor *x, int axis, int64_t *outer, int64_t *len,
                     int64_t *inner)
{
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) *inner *= x->dims[d];
    *len = x->rank ? x->dims[axis] : 1;
}

strata_status math_reduce_arg_compute(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    int axis;
    strata_status st = op_axis(n, op_attr_int(n, "axis", 0), x->rank, &axis);
    if (st != STRATA_OK) return st;
    bool is_max = strcmp(n->op_type, "ArgMax") == 0;
    bool last = op_attr_int(n, "select_last_index", 0) != 0;
    bool is_float = dtype_is_float(x->dtype), u = !dtype_is_signed(x->dtype);
    int64_t outer, len, inner;
    split_at(x, axis, &outer, &len, &inner);
    int64_t *res = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            int64_t base = o * len * inner + j, best = 0;
            for (int64_t t = 1; t < len; t++) {
                int64_t i = base + t * inner, b = base + best * inner;
                int cmp; /* sign of x[i] - x[b] */
                if (is_float) {
                    double v = math_ld(x, i), w = math_ld(x, b);
                    if (isnan(w)) continue; /* the first NaN wins, as in numpy */
                    if (isnan(v)) {
                        best = t;
                        continue;
                    }
                    cmp = (v > w) - (v < w);
                } else {
                    int64_t v = math_ldi(x, i), w = math_ldi(x, b);
                    cmp = u ? ((uint64_t)v > (uint64_t)w) - ((uint64_t)v < (uint64_t)w)
                            : (v > w) - (v < w);
                }
                if (!is_max) cmp = -cmp;
                if (cmp > 0 || (cmp == 0 && last)) best = t;
            }
            res[o * inner + j] = best;
        }
    return STRATA_OK;
}

/* ---- CumSum, CumProd ------------------------------------------------------------------------ */

strata_status math_reduce_cumsum_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *ax = op_input(n, in, 1);
    if (!x || !ax) return op_error(n, STRATA_INVALID_MODEL, "needs inputs x and axis");
    if (!dtype_is_float(x->dtype) && !dtype_is_int(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(x));
    if (ax->dtype != STRATA_DTYPE_I32 && ax->dtype != STRATA_DTYPE_I64)
        return op_error(n, STRATA_INVALID_MODEL, "axis is %s, expected int32 or int64",
                        math_dtype(ax));
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], x->dtype, x->rank, x->dims);
}

strata_status math_reduce_cumsum_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    const strata_tensor *x = in[0], *ax = in[1];
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    if (shape_numel(ax->rank, ax->dims) != 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "axis must hold one value");
    if (x->rank == 0) return op_error(n, STRATA_INVALID_ARGUMENT, "input must have rank >= 1");
    int axis;
    strata_status st = op_axis(n, math_ldi(ax, 0), x->rank, &axis);
    if (st != STRATA_OK) return st;
    bool excl = op_attr_int(n, "exclusive", 0) != 0, rev = op_attr_int(n, "reverse", 0) != 0;
    bool is_float = dtype_is_float(x->dtype), prod = strcmp(n->op_type, "CumProd") == 0;
    int64_t outer, len, inner;
    split_at(x, axis, &outer, &len, &inner);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++) {
            double acc = prod ? 1 : 0;
            int64_t iacc = prod ? 1 : 0;
            for (int64_t s = 0; s < len; s++) {
                int64_t t = rev ? len - 1 - s : s;
                int64_t i = (o * len + t) * inner + j;
                if (is_float) {
                    double v = math_ld(x, i), next = prod ? acc * v : acc + v;
                    math_st(y, i, excl ? acc : next);
                    acc = next;
                } else {
                    uint64_t v = (uint64_t)math_ldi(x, i);
                    int64_t next = (int64_t)(prod ? (uint64_t)iacc * v : (uint64_t)iacc + v);
                    math_sti(y, i, excl ? iacc : next);
                    iacc = next;
                }
            }
        }
    return STRATA_OK;
}
