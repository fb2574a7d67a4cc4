/* kernels/ref/math_binary.c — binary elementwise ops with numpy broadcasting (arithmetic, Pow,
 * Mod, PRelu, logic, comparisons, bit shifts and bitwise ops), the variadic Max/Min/Sum/Mean,
 * and Where. Floats compute in double and round once; integers on int64 bit patterns. */
#include <math.h>
#include <string.h>

#include "ref_math.h"

typedef enum bkind {
    B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MOD, B_PRELU, B_AND, B_OR, B_XOR, B_EQUAL, B_LESS,
    B_GREATER, B_LESS_EQUAL, B_GREATER_EQUAL, B_SHIFT_LEFT, B_SHIFT_RIGHT, B_BIT_AND, B_BIT_OR,
    B_BIT_XOR, B_SWIGLU
} bkind;

enum { C_FLOAT = 1, C_INT = 2, C_BOOL = 4, C_STRING = 8, C_UINT_ONLY = 16 };

typedef struct bop {
    const char *name;
    bkind kind;
    int types;    /* accepted type classes of input A */
    bool to_bool; /* the result is BOOL */
} bop;

static const bop bops[] = {
    {"Add", B_ADD, C_FLOAT | C_INT, false},
    {"Sub", B_SUB, C_FLOAT | C_INT, false},
    {"Mul", B_MUL, C_FLOAT | C_INT, false},
    {"Div", B_DIV, C_FLOAT | C_INT, false},
    {"Pow", B_POW, C_FLOAT | C_INT, false},
    {"Mod", B_MOD, C_FLOAT | C_INT, false},
    {"PRelu", B_PRELU, C_FLOAT | C_INT, false},
    {"And", B_AND, C_BOOL, true},
    {"Or", B_OR, C_BOOL, true},
    {"Xor", B_XOR, C_BOOL, true},
    {"Equal", B_EQUAL, C_FLOAT | C_INT | C_BOOL | C_STRING, true},
    {"Less", B_LESS, C_FLOAT | C_INT, true},
    {"Greater", B_GREATER, C_FLOAT | C_INT, true},
    {"LessOrEqual", B_LESS_EQUAL, C_FLOAT | C_INT, true},
    {"GreaterOrEqual", B_GREATER_EQUAL, C_FLOAT | C_INT, true},
    {"BitShift", B_SHIFT_LEFT, C_UINT_ONLY, false},
    {"BitwiseAnd", B_BIT_AND, C_INT | C_BOOL, false},
    {"BitwiseOr", B_BIT_OR, C_INT | C_BOOL, false},
    {"BitwiseXor", B_BIT_XOR, C_INT | C_BOOL, false},
    {"SwiGLU", B_SWIGLU, C_FLOAT, false},
};

static const bop *bop_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(bops); i++)
        if (strcmp(bops[i].name, name) == 0) return &bops[i];
    return NULL;
}

static int class_of(strata_dtype t)
{
    if (dtype_is_float(t)) return C_FLOAT;
    if (dtype_is_int(t)) return dtype_is_signed(t) ? C_INT : C_INT | C_UINT_ONLY;
    if (t == STRATA_DTYPE_BOOL) return C_BOOL;
    if (t == STRATA_DTYPE_STRING) return C_STRING;
    return 0;
}

/* Before opset 7 the arithmetic and logic ops broadcast only with broadcast=1, B's dims aligned
 * to A's starting at 'axis' (default: aligned right). view gets B's shape in A's rank. */
static strata_status legacy_view(const op_node *n, const strata_tensor *a,
                                 const strata_tensor *b, strata_tensor *view)
{
    *view = *b;
    if (n->opset >= 7) return STRATA_OK;
    int64_t axis;
    if (strcmp(n->op_type, "PRelu") == 0) {
        /* PRelu-6: a slope of C values is per channel (dim 1) */
        if (shape_numel(b->rank, b->dims) == 1 || b->rank >= a->rank || a->rank < 2)
            return STRATA_OK;
        axis = 1;
    } else {
        if (op_attr_int(n, "broadcast", 0) == 0) return STRATA_OK;
        axis = op_attr_int(n, "axis", a->rank - b->rank);
    }
    if (axis < 0) axis += a->rank;
    if (axis < 0 || axis + b->rank > a->rank)
        return op_error(n, STRATA_INVALID_MODEL,
                        "legacy broadcast: axis %lld does not fit B (rank %d) into A (rank %d)",
                        (long long)op_attr_int(n, "axis", 0), b->rank, a->rank);
    view->rank = a->rank;
    for (int d = 0; d < a->rank; d++) view->dims[d] = 1;
    for (int d = 0; d < b->rank; d++) view->dims[axis + d] = b->dims[d];
    return STRATA_OK;
}

/* Checks the operands and computes the output dtype and shape. */
static strata_status binary_prepare(const op_node *n, const bop *op,
                                    const strata_tensor *const *in, strata_tensor *bview,
                                    strata_dtype *dtype, int *rank, int64_t *dims)
{
    const strata_tensor *a = op_input(n, in, 0), *b = op_input(n, in, 1);
    if (!a || !b) return op_error(n, STRATA_INVALID_MODEL, "needs two inputs");
    int ca = class_of(a->dtype);
    if (op->kind == B_SHIFT_LEFT ? !(ca & C_UINT_ONLY) : !(ca & op->types))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(a));
    if (op->kind == B_POW) {
        if (!(class_of(b->dtype) & (C_FLOAT | C_INT)))
            return op_error(n, STRATA_UNSUPPORTED, "exponent type %s is not supported",
                            math_dtype(b));
    } else if (a->dtype != b->dtype) {
        return op_error(n, STRATA_INVALID_MODEL, "input types differ: %s and %s", math_dtype(a),
                        math_dtype(b));
    }
    strata_status st = legacy_view(n, a, b, bview);
    if (st != STRATA_OK) return st;
    const strata_tensor *pair[2] = {a, bview};
    st = math_bcast_shape(n, pair, 2, rank, dims);
    if (st != STRATA_OK) return st;
    if (op->kind == B_PRELU) {
        bool same = *rank == a->rank;
        for (int d = 0; same && d < a->rank; d++)
            same = dims[d] == a->dims[d] || dims[d] < 0 || a->dims[d] < 0;
        if (!same)
            return op_error(n, STRATA_INVALID_ARGUMENT,
                            "slope does not broadcast to the shape of X (rank %d)", a->rank);
    }
    *dtype = op->to_bool ? STRATA_DTYPE_BOOL : a->dtype;
    return STRATA_OK;
}

strata_status math_binary_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    const bop *op = bop_find(n->op_type);
    if (!op) return op_error(n, STRATA_INTERNAL, "not a binary elementwise op");
    strata_tensor bview;
    strata_dtype dt;
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = binary_prepare(n, op, in, &bview, &dt, &rank, dims);
    if (st != STRATA_OK || !out[0]) return st;
    return tensor_set_shape(out[0], dt, rank, dims);
}

/* Python-style modulo (sign of the divisor) on doubles. */
static double mod_floor(double a, double b)
{
    double r = fmod(a, b);
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}

/* alpha: SwiGLU's attribute. */
static double feval(bkind k, double a, double b, bool fmod_mode, double alpha)
{
    switch (k) {
    case B_ADD: return a + b;
    case B_SUB: return a - b;
    case B_MUL: return a * b;
    case B_DIV: return a / b;
    case B_POW: return pow(a, b);
    case B_MOD: return fmod_mode ? fmod(a, b) : mod_floor(a, b);
    case B_PRELU: return a < 0 ? a * b : a;
    case B_EQUAL: return a == b;
    case B_LESS: return a < b;
    case B_GREATER: return a > b;
    case B_LESS_EQUAL: return a <= b;
    case B_GREATER_EQUAL: return a >= b;
    case B_SWIGLU: {
        double z = alpha * a;
        return a * (z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z))) * b;
    }
    default: return 0;
    }
}

/* Integer power with wrap-around (numpy semantics for non-negative exponents). */
static int64_t ipow(int64_t base, int64_t e)
{
    uint64_t r = 1, b = (uint64_t)base;
    while (e > 0) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* One integer element; u: unsigned type. Sets *div0 on a zero divisor. */
static int64_t ieval(bkind k, int64_t a, int64_t b, bool u, bool fmod_mode, bool *div0)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    switch (k) {
    case B_ADD: return (int64_t)(ua + ub);
    case B_SUB: return (int64_t)(ua - ub);
    case B_MUL: return (int64_t)(ua * ub);
    case B_DIV:
        if (b == 0) {
            *div0 = true;
            return 0;
        }
        if (u) return (int64_t)(ua / ub);
        if (b == -1) return (int64_t)(0 - ua);
        return a / b;
    case B_MOD: {
        if (b == 0) {
            *div0 = true;
            return 0;
        }
        if (u) return (int64_t)(ua % ub);
        if (b == -1) return 0;
        int64_t r = a % b;
        if (!fmod_mode && r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }
    case B_PRELU: return !u && a < 0 ? (int64_t)(ua * ub) : a;
    case B_AND: return a && b;
    case B_OR: return a || b;
    case B_XOR: return (a != 0) != (b != 0);
    case B_EQUAL: return a == b;
    case B_LESS: return u ? ua < ub : a < b;
    case B_GREATER: return u ? ua > ub : a > b;
    case B_LESS_EQUAL: return u ? ua <= ub : a <= b;
    case B_GREATER_EQUAL: return u ? ua >= ub : a >= b;
    case B_SHIFT_LEFT: return ub >= 64 ? 0 : (int64_t)(ua << ub);
    case B_SHIFT_RIGHT: return ub >= 64 ? 0 : (int64_t)(ua >> ub);
    case B_BIT_AND: return a & b;
    case B_BIT_OR: return a | b;
    case B_BIT_XOR: return a ^ b;
    default: return 0;
    }
}

strata_status math_binary_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    const bop *op = bop_find(n->op_type);
    if (!op) return op_error(n, STRATA_INTERNAL, "not a binary elementwise op");
    strata_tensor bview;
    strata_dtype dt;
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = binary_prepare(n, op, in, &bview, &dt, &rank, dims);
    if (st != STRATA_OK) return st;
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    const strata_tensor *a = in[0], *b = &bview;
    bkind k = op->kind;
    if (k == B_SHIFT_LEFT) {
        const char *dir = op_attr_string(n, "direction", "");
        if (strcmp(dir, "RIGHT") == 0) k = B_SHIFT_RIGHT;
        else if (strcmp(dir, "LEFT") != 0)
            return op_error(n, STRATA_INVALID_MODEL,
                            "attribute 'direction' is '%s', expected 'LEFT' or 'RIGHT'", dir);
    }
    bool fmod_mode = op_attr_int(n, "fmod", 0) != 0;
    double alpha = op_attr_float(n, "alpha", 1.0f);
    int64_t count = shape_numel(rank, dims);
    const strata_tensor *pair[2] = {a, b};
    math_bcast it;
    math_bcast_init(&it, rank, dims, 2, pair);

    if (a->dtype == STRATA_DTYPE_STRING) { /* Equal only */
        char *const *sa = a->data, *const *sb = b->data;
        for (int64_t i = 0; i < count; i++, math_bcast_next(&it)) {
            const char *x = sa[it.off[0]], *z = sb[it.off[1]];
            math_sti(y, i, strcmp(x ? x : "", z ? z : "") == 0);
        }
        return STRATA_OK;
    }
    if (a->dtype == STRATA_DTYPE_F32 && b->dtype == STRATA_DTYPE_F32 &&
        y->dtype == STRATA_DTYPE_F32) {
        const float *fa = a->data, *fb = b->data;
        float *fy = y->data;
        for (int64_t i = 0; i < count; i++, math_bcast_next(&it))
            fy[i] = (float)feval(k, fa[it.off[0]], fb[it.off[1]], fmod_mode, alpha);
        return STRATA_OK;
    }
    if (dtype_is_float(a->dtype)) {
        for (int64_t i = 0; i < count; i++, math_bcast_next(&it))
            math_st(y, i, feval(k, math_ld(a, it.off[0]), math_ld(b, it.off[1]), fmod_mode,
                                 alpha));
        return STRATA_OK;
    }
    bool u = !dtype_is_signed(a->dtype), div0 = false;
    if (k == B_POW) {
        bool bf = dtype_is_float(b->dtype), bu = !dtype_is_signed(b->dtype);
        for (int64_t i = 0; i < count; i++, math_bcast_next(&it)) {
            int64_t x = math_ldi(a, it.off[0]);
            double xd = u ? (double)(uint64_t)x : (double)x;
            if (bf) {
                math_st(y, i, trunc(pow(xd, math_ld(b, it.off[1]))));
            } else {
                int64_t e = math_ldi(b, it.off[1]);
                if (bu || e >= 0) math_sti(y, i, ipow(x, e));
                else math_st(y, i, trunc(pow(xd, (double)e)));
            }
        }
        return STRATA_OK;
    }
    for (int64_t i = 0; i < count; i++, math_bcast_next(&it))
        math_sti(y, i, ieval(k, math_ldi(a, it.off[0]), math_ldi(b, it.off[1]), u, fmod_mode,
                             &div0));
    if (div0) return op_error(n, STRATA_INVALID_ARGUMENT, "integer division by zero");
    return STRATA_OK;
}

/* ---- Max, Min, Sum, Mean ------------------------------------------------------------------- */

static strata_status variadic_prepare(const op_node *n, const strata_tensor *const *in,
                                      int *rank, int64_t *dims)
{
    const strata_tensor *first = NULL;
    for (size_t i = 0; i < n->n_inputs; i++) {
        if (!in[i]) continue;
        if (!first) first = in[i];
        else if (in[i]->dtype != first->dtype)
            return op_error(n, STRATA_INVALID_MODEL, "input %zu is %s, the first input is %s",
                            i, math_dtype(in[i]), math_dtype(first));
    }
    if (!first) return op_error(n, STRATA_INVALID_MODEL, "needs at least one input");
    bool is_float = dtype_is_float(first->dtype);
    if (!is_float && !dtype_is_int(first->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported",
                        math_dtype(first));
    return math_bcast_shape(n, in, n->n_inputs, rank, dims);
}

strata_status math_binary_variadic_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = variadic_prepare(n, in, &rank, dims);
    if (st != STRATA_OK || !out[0]) return st;
    const strata_tensor *first = NULL;
    for (size_t i = 0; i < n->n_inputs && !first; i++) first = in[i];
    return tensor_set_shape(out[0], first->dtype, rank, dims);
}

strata_status math_binary_variadic_compute(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = variadic_prepare(n, in, &rank, dims);
    if (st != STRATA_OK) return st;
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    char c = n->op_type[1]; /* mAx, mIn, sUm, mEan */
    int64_t count = shape_numel(rank, dims);
    bool is_float = dtype_is_float(y->dtype), u = !dtype_is_signed(y->dtype), first = true;
    int n_used = 0;
    for (size_t k = 0; k < n->n_inputs; k++) {
        const strata_tensor *x = in[k];
        if (!x) continue;
        n_used++;
        math_bcast it;
        math_bcast_init(&it, rank, dims, 1, &x);
        for (int64_t i = 0; i < count; i++, math_bcast_next(&it)) {
            if (is_float) {
                double v = math_ld(x, it.off[0]);
                if (!first) {
                    double acc = math_ld(y, i);
                    if (c == 'a') v = isnan(acc) || isnan(v) ? NAN : fmax(acc, v);
                    else if (c == 'i') v = isnan(acc) || isnan(v) ? NAN : fmin(acc, v);
                    else v = acc + v;
                }
                math_st(y, i, v);
            } else {
                int64_t v = math_ldi(x, it.off[0]);
                if (!first) {
                    int64_t acc = math_ldi(y, i);
                    if (c == 'a') v = (u ? (uint64_t)acc > (uint64_t)v : acc > v) ? acc : v;
                    else if (c == 'i') v = (u ? (uint64_t)acc < (uint64_t)v : acc < v) ? acc : v;
                    else v = (int64_t)((uint64_t)acc + (uint64_t)v);
                }
                math_sti(y, i, v);
            }
        }
        first = false;
    }
    if (c == 'e') /* Mean */
        for (int64_t i = 0; i < count; i++) {
            if (is_float) math_st(y, i, math_ld(y, i) / n_used);
            else if (u) math_sti(y, i, (int64_t)((uint64_t)math_ldi(y, i) / (uint64_t)n_used));
            else math_sti(y, i, math_ldi(y, i) / n_used);
        }
    return STRATA_OK;
}

/* ---- Where ----------------------------------------------------------------------------------- */

strata_status math_binary_where_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    const strata_tensor *c = op_input(n, in, 0), *x = op_input(n, in, 1),
                        *z = op_input(n, in, 2);
    if (!c || !x || !z) return op_error(n, STRATA_INVALID_MODEL, "needs three inputs");
    if (c->dtype != STRATA_DTYPE_BOOL)
        return op_error(n, STRATA_INVALID_MODEL, "condition is %s, expected bool",
                        math_dtype(c));
    if (x->dtype != z->dtype)
        return op_error(n, STRATA_INVALID_MODEL, "X is %s and Y is %s", math_dtype(x),
                        math_dtype(z));
    if (x->dtype == STRATA_DTYPE_C64 || x->dtype == STRATA_DTYPE_C128 ||
        !dtype_is_valid((int)x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "type %s is not supported", math_dtype(x));
    int rank;
    int64_t dims[STRATA_MAX_DIMS];
    strata_status st = math_bcast_shape(n, in, 3, &rank, dims);
    if (st != STRATA_OK || !out[0]) return st;
    return tensor_set_shape(out[0], x->dtype, rank, dims);
}

strata_status math_binary_where_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    const uint8_t *c = in[0]->data;
    size_t es = strata_dtype_size(y->dtype);
    int64_t count = shape_numel(y->rank, y->dims);
    math_bcast it;
    math_bcast_init(&it, y->rank, y->dims, 3, in);
    for (int64_t i = 0; i < count; i++, math_bcast_next(&it)) {
        bool pick_x = c[it.off[0]] != 0;
        const strata_tensor *src = pick_x ? in[1] : in[2];
        int64_t off = pick_x ? it.off[1] : it.off[2];
        if (y->dtype == STRATA_DTYPE_STRING) {
            const char *s = ((char *const *)src->data)[off];
            char *d = mem_strdup(s ? s : "");
            if (!d) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory copying strings");
            ((char **)y->data)[i] = d;
        } else {
            memcpy((char *)y->data + (size_t)i * es, (const char *)src->data + (size_t)off * es,
                   es);
        }
    }
    return STRATA_OK;
}
