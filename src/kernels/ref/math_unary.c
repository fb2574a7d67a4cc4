/* kernels/ref/math_unary.c — elementwise unary math and activations (Abs ... Mish, Shrink),
 * the predicates IsNaN/IsInf, Not, BitwiseNot, and Clip. Floats compute in double and round
 * once to the output type; integers compute on int64 bit patterns. */
#include <math.h>
#include <string.h>

#include "ref_math.h"

typedef enum ukind {
    U_ABS, U_NEG, U_EXP, U_LOG, U_SQRT, U_RECIPROCAL, U_FLOOR, U_CEIL, U_ROUND, U_SIGN,
    U_SIN, U_COS, U_TAN, U_ASIN, U_ACOS, U_ATAN, U_SINH, U_COSH, U_ASINH, U_ACOSH, U_ATANH,
    U_ERF, U_RELU, U_LEAKYRELU, U_ELU, U_SELU, U_CELU, U_SIGMOID, U_HARDSIGMOID, U_HARDSWISH,
    U_TANH, U_SOFTPLUS, U_SOFTSIGN, U_GELU, U_MISH, U_THRESHOLDEDRELU, U_SHRINK, U_ISNAN,
    U_ISINF, U_NOT, U_BITWISENOT, U_SWISH
} ukind;

/* Which input types an op accepts. */
enum {
    T_FLOAT = 1,    /* f16 bf16 f32 f64 */
    T_SIGNED = 2,   /* signed integers */
    T_UNSIGNED = 4, /* unsigned integers */
    T_BOOL = 8,
    T_INT = T_SIGNED | T_UNSIGNED,
    T_NUM = T_FLOAT | T_INT,
    T_SNUM = T_FLOAT | T_SIGNED
};

typedef struct uop {
    const char *name;
    ukind kind;
    int types;     /* accepted input types */
    bool to_bool;  /* output is BOOL */
} uop;

static const uop uops[] = {
    {"Abs", U_ABS, T_NUM, false},           {"Neg", U_NEG, T_SNUM, false},
    {"Exp", U_EXP, T_FLOAT, false},         {"Log", U_LOG, T_FLOAT, false},
    {"Sqrt", U_SQRT, T_FLOAT, false},       {"Reciprocal", U_RECIPROCAL, T_FLOAT, false},
    {"Floor", U_FLOOR, T_FLOAT, false},     {"Ceil", U_CEIL, T_FLOAT, false},
    {"Round", U_ROUND, T_FLOAT, false},     {"Sign", U_SIGN, T_NUM, false},
    {"Sin", U_SIN, T_FLOAT, false},         {"Cos", U_COS, T_FLOAT, false},
    {"Tan", U_TAN, T_FLOAT, false},         {"Asin", U_ASIN, T_FLOAT, false},
    {"Acos", U_ACOS, T_FLOAT, false},       {"Atan", U_ATAN, T_FLOAT, false},
    {"Sinh", U_SINH, T_FLOAT, false},       {"Cosh", U_COSH, T_FLOAT, false},
    {"Asinh", U_ASINH, T_FLOAT, false},     {"Acosh", U_ACOSH, T_FLOAT, false},
    {"Atanh", U_ATANH, T_FLOAT, false},     {"Erf", U_ERF, T_NUM, false},
    {"Relu", U_RELU, T_SNUM, false},        {"LeakyRelu", U_LEAKYRELU, T_FLOAT, false},
    {"Elu", U_ELU, T_FLOAT, false},         {"Selu", U_SELU, T_FLOAT, false},
    {"Celu", U_CELU, T_FLOAT, false},       {"Sigmoid", U_SIGMOID, T_FLOAT, false},
    {"HardSigmoid", U_HARDSIGMOID, T_FLOAT, false},
    {"HardSwish", U_HARDSWISH, T_FLOAT, false},
    {"Tanh", U_TANH, T_FLOAT, false},       {"Softplus", U_SOFTPLUS, T_FLOAT, false},
    {"Softsign", U_SOFTSIGN, T_FLOAT, false},
    {"Gelu", U_GELU, T_FLOAT, false},       {"Mish", U_MISH, T_FLOAT, false},
    {"ThresholdedRelu", U_THRESHOLDEDRELU, T_FLOAT, false},
    {"Shrink", U_SHRINK, T_NUM, false},     {"IsNaN", U_ISNAN, T_FLOAT, true},
    {"IsInf", U_ISINF, T_FLOAT, true},      {"Not", U_NOT, T_BOOL, true},
    {"BitwiseNot", U_BITWISENOT, T_INT, false},
    {"Swish", U_SWISH, T_FLOAT, false},
};

/* Attribute values an op reads, fetched once per call. */
typedef struct uparams {
    double alpha, beta, gamma, lambd, bias;
    bool tanh_gelu;
    bool neg_inf, pos_inf;
} uparams;

static const uop *uop_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(uops); i++)
        if (strcmp(uops[i].name, name) == 0) return &uops[i];
    return NULL;
}

static int type_class(strata_dtype t)
{
    if (dtype_is_float(t)) return T_FLOAT;
    if (t == STRATA_DTYPE_BOOL) return T_BOOL;
    if (dtype_is_int(t)) return dtype_is_signed(t) ? T_SIGNED : T_UNSIGNED;
    return 0;
}

static strata_status uparams_get(const op_node *n, const uop *op, uparams *p)
{
    p->alpha = p->beta = p->gamma = p->lambd = p->bias = 0;
    p->tanh_gelu = false;
    p->neg_inf = p->pos_inf = true;
    switch (op->kind) {
    case U_LEAKYRELU: p->alpha = op_attr_float(n, "alpha", 0.01f); break;
    case U_ELU: case U_CELU: case U_THRESHOLDEDRELU: case U_SWISH:
        p->alpha = op_attr_float(n, "alpha", 1.0f);
        break;
    case U_SELU:
        p->alpha = op_attr_float(n, "alpha", 1.67326319217681884765625f);
        p->gamma = op_attr_float(n, "gamma", 1.05070102214813232421875f);
        break;
    case U_HARDSIGMOID:
        p->alpha = op_attr_float(n, "alpha", 0.2f);
        p->beta = op_attr_float(n, "beta", 0.5f);
        break;
    case U_SHRINK:
        p->lambd = op_attr_float(n, "lambd", 0.5f);
        p->bias = op_attr_float(n, "bias", 0.0f);
        break;
    case U_GELU: {
        const char *a = op_attr_string(n, "approximate", "none");
        if (strcmp(a, "tanh") == 0) p->tanh_gelu = true;
        else if (strcmp(a, "none") != 0)
            return op_error(n, STRATA_INVALID_MODEL,
                            "attribute 'approximate' is '%s', expected 'none' or 'tanh'", a);
        break;
    }
    case U_ISINF:
        p->neg_inf = op_attr_int(n, "detect_negative", 1) != 0;
        p->pos_inf = op_attr_int(n, "detect_positive", 1) != 0;
        break;
    default: break;
    }
    if (op->kind == U_CELU && p->alpha == 0)
        return op_error(n, STRATA_INVALID_MODEL, "attribute 'alpha' must not be 0");
    return STRATA_OK;
}

static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* One float element. */
static double ueval_f(ukind k, double x, const uparams *p)
{
    switch (k) {
    case U_ABS: return fabs(x);
    case U_NEG: return -x;
    case U_EXP: return exp(x);
    case U_LOG: return log(x);
    case U_SQRT: return sqrt(x);
    case U_RECIPROCAL: return 1.0 / x;
    case U_FLOOR: return floor(x);
    case U_CEIL: return ceil(x);
    case U_ROUND: return nearbyint(x); /* half to even in the default rounding mode */
    case U_SIGN: return isnan(x) ? x : x > 0 ? 1.0 : x < 0 ? -1.0 : 0.0;
    case U_SIN: return sin(x);
    case U_COS: return cos(x);
    case U_TAN: return tan(x);
    case U_ASIN: return asin(x);
    case U_ACOS: return acos(x);
    case U_ATAN: return atan(x);
    case U_SINH: return sinh(x);
    case U_COSH: return cosh(x);
    case U_ASINH: return asinh(x);
    case U_ACOSH: return acosh(x);
    case U_ATANH: return atanh(x);
    case U_ERF: return erf(x);
    case U_RELU: return x > 0 ? x : isnan(x) ? x : 0.0;
    case U_LEAKYRELU: return x < 0 ? p->alpha * x : x;
    case U_ELU: return x < 0 ? p->alpha * (exp(x) - 1.0) : x;
    case U_SELU: return x > 0 ? p->gamma * x : p->gamma * (p->alpha * exp(x) - p->alpha);
    case U_CELU: return fmax(0.0, x) + fmin(0.0, p->alpha * (exp(x / p->alpha) - 1.0));
    case U_SIGMOID: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case U_HARDSIGMOID: return fmax(0.0, fmin(1.0, p->alpha * x + p->beta));
    case U_HARDSWISH: return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    case U_TANH: return tanh(x);
    case U_SOFTPLUS: return softplus(x);
    case U_SOFTSIGN: return x / (1.0 + fabs(x));
    case U_GELU:
        if (p->tanh_gelu)
            return 0.5 * x *
                   (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
    case U_MISH: return x * tanh(softplus(x));
    case U_THRESHOLDEDRELU: return x > p->alpha ? x : 0.0;
    case U_SHRINK: return x < -p->lambd ? x + p->bias : x > p->lambd ? x - p->bias : 0.0;
    case U_ISNAN: return isnan(x) ? 1.0 : 0.0;
    case U_ISINF:
        return isinf(x) && ((x > 0 && p->pos_inf) || (x < 0 && p->neg_inf)) ? 1.0 : 0.0;
    case U_NOT: return x == 0 ? 1.0 : 0.0;
    case U_BITWISENOT: return 0.0; /* integers only */
    case U_SWISH: {
        double z = p->alpha * x;
        return x * (z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z)));
    }
    }
    return 0.0;
}

/* double to int64 without undefined behaviour: NaN is 0, out of range saturates. */
static int64_t d2i(double v)
{
    if (isnan(v)) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
}

/* One integer element; u: the type is unsigned. v holds the widened bit pattern. */
static int64_t ueval_i(ukind k, int64_t v, bool u, const uparams *p)
{
    switch (k) {
    case U_ABS: return u ? v : v < 0 ? (int64_t)(0 - (uint64_t)v) : v;
    case U_NEG: return (int64_t)(0 - (uint64_t)v);
    case U_SIGN: return u ? (v != 0) : (v > 0) - (v < 0);
    case U_RELU: return v > 0 ? v : 0;
    case U_NOT: return v == 0;
    case U_BITWISENOT: return ~v;
    case U_ERF: {
        double x = u ? (double)(uint64_t)v : (double)v;
        return d2i(erf(x));
    }
    case U_SHRINK: {
        double x = u ? (double)(uint64_t)v : (double)v;
        double y = x < -p->lambd ? x + p->bias : x > p->lambd ? x - p->bias : 0.0;
        return d2i(y);
    }
    default: return 0;
    }
}

strata_status math_unary_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    const uop *op = uop_find(n->op_type);
    if (!op) return op_error(n, STRATA_INTERNAL, "not an elementwise unary op");
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    if (!(type_class(x->dtype) & op->types))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(x));
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], op->to_bool ? STRATA_DTYPE_BOOL : x->dtype, x->rank,
                            x->dims);
}

strata_status math_unary_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    const uop *op = uop_find(n->op_type);
    if (!op) return op_error(n, STRATA_INTERNAL, "not an elementwise unary op");
    const strata_tensor *x = op_input(n, in, 0);
    strata_tensor *y = out[0];
    if (!x || !y) return STRATA_OK;
    uparams p;
    strata_status st = uparams_get(n, op, &p);
    if (st != STRATA_OK) return st;
    int64_t count = shape_numel(x->rank, x->dims);
    ukind k = op->kind;
    if (x->dtype == STRATA_DTYPE_F32 && y->dtype == STRATA_DTYPE_F32) {
        const float *xs = x->data;
        float *ys = y->data;
        for (int64_t i = 0; i < count; i++) ys[i] = (float)ueval_f(k, xs[i], &p);
    } else if (dtype_is_float(x->dtype)) {
        for (int64_t i = 0; i < count; i++) math_st(y, i, ueval_f(k, math_ld(x, i), &p));
    } else {
        bool u = !dtype_is_signed(x->dtype);
        for (int64_t i = 0; i < count; i++) math_sti(y, i, ueval_i(k, math_ldi(x, i), u, &p));
    }
    return STRATA_OK;
}

/* ---- Clip ------------------------------------------------------------------------------------ */

strata_status math_unary_clip_infer(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    if (!dtype_is_float(x->dtype) && !dtype_is_int(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(x));
    for (size_t i = 1; i < 3; i++) {
        const strata_tensor *b = op_input(n, in, i);
        if (!b) continue;
        if (b->dtype != x->dtype)
            return op_error(n, STRATA_INVALID_MODEL, "input %zu is %s, input 0 is %s", i,
                            math_dtype(b), math_dtype(x));
        if (shape_numel(b->rank, b->dims) > 1)
            return op_error(n, STRATA_INVALID_MODEL, "input %zu ('%s' bound) must be a scalar",
                            i, i == 1 ? "min" : "max");
    }
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], x->dtype, x->rank, x->dims);
}

strata_status math_unary_clip_compute(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    const strata_tensor *lo_t = op_input(n, in, 1), *hi_t = op_input(n, in, 2);
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    if (lo_t && shape_numel(lo_t->rank, lo_t->dims) == 0) lo_t = NULL;
    if (hi_t && shape_numel(hi_t->rank, hi_t->dims) == 0) hi_t = NULL;
    int64_t count = shape_numel(x->rank, x->dims);
    if (dtype_is_float(x->dtype)) {
        double lo = -INFINITY, hi = INFINITY;
        if (n->opset < 11) {
            lo = op_attr_float(n, "min", -3.402823466e+38f);
            hi = op_attr_float(n, "max", 3.402823466e+38f);
        }
        if (lo_t) lo = math_ld(lo_t, 0);
        if (hi_t) hi = math_ld(hi_t, 0);
        for (int64_t i = 0; i < count; i++) {
            double v = math_ld(x, i);
            if (v < lo) v = lo;
            if (v > hi) v = hi;
            math_st(y, i, v);
        }
        return STRATA_OK;
    }
    bool u = !dtype_is_signed(x->dtype);
    int64_t lo = 0, hi = 0;
    if (lo_t) lo = math_ldi(lo_t, 0);
    if (hi_t) hi = math_ldi(hi_t, 0);
    for (int64_t i = 0; i < count; i++) {
        int64_t v = math_ldi(x, i);
        if (u) {
            if (lo_t && (uint64_t)v < (uint64_t)lo) v = lo;
            if (hi_t && (uint64_t)v > (uint64_t)hi) v = hi;
        } else {
            if (lo_t && v < lo) v = lo;
            if (hi_t && v > hi) v = hi;
        }
        math_sti(y, i, v);
    }
    return STRATA_OK;
}
