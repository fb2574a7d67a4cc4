/* kernels/ref/math_cast.c — Cast and CastLike between every numeric type, bool and string.
 * Float to narrower float rounds once (double to f16/bf16 goes through a round-to-odd float);
 * to float8/float4 it rounds to nearest even with the 'saturate' rule, to e8m0 by 'round_mode';
 * float to string prints the shortest text that reads back, as Python/numpy do. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref_math.h"

static bool castable(strata_dtype t)
{
    return dtype_is_float(t) || dtype_is_int(t) || t == STRATA_DTYPE_BOOL ||
           t == STRATA_DTYPE_STRING || dtype_is_narrow_float(t) || dtype_is_narrow_int(t);
}

/* Integer-like types whose values read back through math_ldi as signed. */
static bool is_signed_int(strata_dtype t)
{
    return dtype_is_signed(t) || t == STRATA_DTYPE_I4 || t == STRATA_DTYPE_I2;
}

/* How values are rounded into a narrow float: attributes 'saturate' (float8, float4) and
 * 'round_mode' (e8m0). */
typedef struct cast_opts {
    bool saturate;
    dtype_round_mode round;
} cast_opts;

static strata_status cast_opts_read(const op_node *n, cast_opts *o)
{
    o->saturate = op_attr_int(n, "saturate", 1) != 0;
    const char *m = op_attr_string(n, "round_mode", "up");
    if (strcmp(m, "up") == 0) o->round = DTYPE_ROUND_UP;
    else if (strcmp(m, "down") == 0) o->round = DTYPE_ROUND_DOWN;
    else if (strcmp(m, "nearest") == 0) o->round = DTYPE_ROUND_NEAREST;
    else
        return op_error(n, STRATA_INVALID_MODEL,
                        "'round_mode' is '%.40s'; want 'up', 'down' or 'nearest'", m);
    return STRATA_OK;
}

/* Stores the value v into element i of y, rounding narrow floats as the options say. */
static void store_value(strata_tensor *y, int64_t i, double v, const cast_opts *o)
{
    uint8_t *b = y->data;
    if (y->dtype == STRATA_DTYPE_F8E8M0) {
        float f = isnan(v) ? NAN : fabs(v) > FLT_MAX ? (float)copysign(INFINITY, v) : (float)v;
        b[i] = dtype_f32_to_e8m0(f, o->saturate, o->round);
    } else if (dtype_is_narrow_float(y->dtype)) {
        b[i] = dtype_f64_to_narrow(y->dtype, v, o->saturate);
    } else {
        math_st(y, i, v);
    }
}

/* The target dtype of a Cast (attribute 'to') or CastLike (input 1's type). */
static strata_status cast_target(const op_node *n, const strata_tensor *const *in,
                                 strata_dtype *to)
{
    if (strcmp(n->op_type, "CastLike") == 0) {
        const strata_tensor *like = op_input(n, in, 1);
        if (!like) return op_error(n, STRATA_INVALID_MODEL, "input 1 (target_type) is missing");
        *to = like->dtype;
    } else {
        const attr *a = attr_find(n->attrs, n->n_attrs, "to");
        if (!a || a->type != ATTR_INT)
            return op_error(n, STRATA_INVALID_MODEL, "attribute 'to' is missing");
        if (!dtype_is_valid((int)a->i))
            return op_error(n, STRATA_UNSUPPORTED, "attribute 'to' is %lld, not a known type",
                            (long long)a->i);
        *to = (strata_dtype)a->i;
    }
    if (!castable(*to))
        return op_error(n, STRATA_UNSUPPORTED, "cast to %s is not supported",
                        strata_dtype_name(*to));
    return STRATA_OK;
}

strata_status math_cast_infer(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    if (!castable(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "cast from %s is not supported", math_dtype(x));
    strata_dtype to = STRATA_DTYPE_UNDEFINED;
    cast_opts o;
    strata_status st = cast_target(n, in, &to);
    if (st == STRATA_OK) st = cast_opts_read(n, &o);
    if (st != STRATA_OK || !out[0]) return st;
    return tensor_set_shape(out[0], to, x->rank, x->dims);
}

/* Nearest float to v with round-to-odd: rounding it again to f16/bf16 then equals rounding v
 * directly (float keeps more than twice their precision plus two bits). */
static float to_float_odd(double v)
{
    float f = (float)v;
    if (isnan(v) || isinf(f) || (double)f == v) return f;
    if (fabs((double)f) > fabs(v)) f = nextafterf(f, 0.0f);
    uint32_t bits;
    memcpy(&bits, &f, 4);
    bits |= 1;
    memcpy(&f, &bits, 4);
    return f;
}

/* Shortest decimal text of v that reads back to the same value (digits: 9 for float, 17 for
 * double), laid out like Python's repr: "0.1", "3.0", "1e-05", "1.5e+17", "inf", "nan". */
static void format_float(double v, bool is_f32, char *buf, size_t n_buf)
{
    if (isnan(v)) {
        snprintf(buf, n_buf, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n_buf, v < 0 ? "-inf" : "inf");
        return;
    }
    char e_txt[64];
    int max_p = is_f32 ? 9 : 17;
    for (int p = 1; p <= max_p; p++) {
        snprintf(e_txt, sizeof e_txt, "%.*e", p - 1, v);
        double back = strtod(e_txt, NULL);
        if (is_f32 ? (float)back == (float)v : back == v) break;
    }
    /* e_txt: [-]d[.ddd]e[+-]XX */
    char digits[32];
    size_t nd = 0;
    const char *s = e_txt;
    bool neg = *s == '-';
    if (neg) s++;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && nd < sizeof digits - 1) digits[nd++] = *s;
    digits[nd] = 0;
    int exp10 = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') digits[--nd] = 0;
    size_t o = 0;
    char out[96];
    if (neg) out[o++] = '-';
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = 0; i < -exp10 - 1; i++) out[o++] = '0';
            for (size_t i = 0; i < nd; i++) out[o++] = digits[i];
        } else {
            for (int i = 0; i <= exp10; i++) out[o++] = (size_t)i < nd ? digits[i] : '0';
            out[o++] = '.';
            if ((size_t)exp10 + 1 < nd)
                for (size_t i = (size_t)exp10 + 1; i < nd; i++) out[o++] = digits[i];
            else out[o++] = '0';
        }
        out[o] = 0;
    } else {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            for (size_t i = 1; i < nd; i++) out[o++] = digits[i];
        }
        snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    }
    snprintf(buf, n_buf, "%s", out);
}

static strata_status to_string(const op_node *n, const strata_tensor *x, int64_t i, char **dst)
{
    char buf[96];
    if (x->dtype == STRATA_DTYPE_STRING) {
        const char *s = ((char *const *)x->data)[i];
        *dst = mem_strdup(s ? s : "");
    } else {
        if (x->dtype == STRATA_DTYPE_BOOL)
            snprintf(buf, sizeof buf, "%s", math_ldi(x, i) ? "True" : "False");
        else if (dtype_is_float(x->dtype) || dtype_is_narrow_float(x->dtype))
            format_float(math_ld(x, i), x->dtype != STRATA_DTYPE_F64, buf, sizeof buf);
        else if (is_signed_int(x->dtype))
            snprintf(buf, sizeof buf, "%lld", (long long)math_ldi(x, i));
        else
            snprintf(buf, sizeof buf, "%llu", (unsigned long long)(uint64_t)math_ldi(x, i));
        *dst = mem_strdup(buf);
    }
    if (!*dst) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory making strings");
    return STRATA_OK;
}

/* Parses string element i into y[i]. Integers parse exactly; anything else through strtod. */
static strata_status from_string(const op_node *n, const strata_tensor *x, int64_t i,
                                 strata_tensor *y, const cast_opts *o)
{
    const char *s = ((char *const *)x->data)[i];
    if (!s) s = "";
    char *end;
    errno = 0;
    if (dtype_is_int(y->dtype)) {
        int64_t v;
        if (dtype_is_signed(y->dtype)) v = strtoll(s, &end, 10);
        else v = (int64_t)strtoull(s, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (end != s && *end == 0 && errno == 0) {
            math_sti(y, i, v);
            return STRATA_OK;
        }
    }
    errno = 0;
    double d = strtod(s, &end);
    while (*end == ' ' || *end == '\t' || *end == '\n') end++;
    if (end == s || *end != 0) {
        if (y->dtype == STRATA_DTYPE_BOOL && (strcmp(s, "True") == 0 || strcmp(s, "true") == 0)) {
            math_sti(y, i, 1);
            return STRATA_OK;
        }
        if (y->dtype == STRATA_DTYPE_BOOL && (strcmp(s, "False") == 0 || strcmp(s, "false") == 0))
            return STRATA_OK;
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "element %lld: '%.40s' is not a number", (long long)i, s);
    }
    if (y->dtype == STRATA_DTYPE_F16 || y->dtype == STRATA_DTYPE_BF16) d = to_float_odd(d);
    store_value(y, i, d, o);
    return STRATA_OK;
}

strata_status math_cast_compute(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    strata_tensor *y = out[0];
    if (!x || !y) return STRATA_OK;
    int64_t count = shape_numel(x->rank, x->dims);
    strata_dtype to = y->dtype;
    cast_opts o;
    strata_status ost = cast_opts_read(n, &o);
    if (ost != STRATA_OK) return ost;
    if (to == STRATA_DTYPE_STRING) {
        char **d = y->data;
        for (int64_t i = 0; i < count; i++) {
            strata_status st = to_string(n, x, i, &d[i]);
            if (st != STRATA_OK) return st;
        }
        return STRATA_OK;
    }
    if (x->dtype == STRATA_DTYPE_STRING) {
        for (int64_t i = 0; i < count; i++) {
            strata_status st = from_string(n, x, i, y, &o);
            if (st != STRATA_OK) return st;
        }
        return STRATA_OK;
    }
    if (x->dtype == to) {
        if (x->n_bytes) memcpy(y->data, x->data, x->n_bytes);
        return STRATA_OK;
    }
    if (dtype_is_float(x->dtype) || dtype_is_narrow_float(x->dtype)) {
        bool odd = x->dtype == STRATA_DTYPE_F64 &&
                   (to == STRATA_DTYPE_F16 || to == STRATA_DTYPE_BF16);
        for (int64_t i = 0; i < count; i++) {
            double v = math_ld(x, i);
            store_value(y, i, odd ? (double)to_float_odd(v) : v, &o);
        }
        return STRATA_OK;
    }
    /* integer or bool source */
    bool u = !is_signed_int(x->dtype);
    for (int64_t i = 0; i < count; i++) {
        int64_t v = math_ldi(x, i);
        if (to == STRATA_DTYPE_F32) {
            ((float *)y->data)[i] = u ? (float)(uint64_t)v : (float)v;
        } else if (dtype_is_float(to) || dtype_is_narrow_float(to)) {
            double d = u ? (double)(uint64_t)v : (double)v;
            if (to == STRATA_DTYPE_F16 || to == STRATA_DTYPE_BF16) d = to_float_odd(d);
            store_value(y, i, d, &o);
        } else {
            math_sti(y, i, v);
        }
    }
    return STRATA_OK;
}

/* ---- BitCast: the same bytes seen as another type of the same size -------------------------- */

strata_status math_cast_bitcast_infer(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    int64_t to = op_attr_int(n, "to", 0);
    if (!dtype_is_valid((int)to))
        return op_error(n, STRATA_UNSUPPORTED, "attribute 'to' is %lld, not a known type",
                        (long long)to);
    if (x->dtype == STRATA_DTYPE_STRING || to == STRATA_DTYPE_STRING)
        return op_error(n, STRATA_INVALID_MODEL, "strings cannot be bit-cast");
    if (dtype_file_bits(x->dtype) != dtype_file_bits((strata_dtype)to))
        return op_error(n, STRATA_UNSUPPORTED, "bit-cast from %s to %s changes the element size",
                        math_dtype(x), strata_dtype_name((strata_dtype)to));
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], (strata_dtype)to, x->rank, x->dims);
}

strata_status math_cast_bitcast_compute(const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    if (x->n_bytes) memcpy(y->data, x->data, x->n_bytes);
    if (y->dtype == STRATA_DTYPE_BOOL) { /* keep bools 0/1 */
        uint8_t *b = y->data;
        for (size_t i = 0; i < y->n_bytes; i++) b[i] = b[i] != 0;
    } else if (dtype_file_bits(y->dtype) < 8) { /* 4-bit in a byte: keep the stored form */
        uint8_t *b = y->data;
        for (size_t i = 0; i < y->n_bytes; i++)
            b[i] = y->dtype == STRATA_DTYPE_F4E2M1 ? (uint8_t)(b[i] & 0xF)
                                                   : dtype_narrow_int_wrap(y->dtype, b[i]);
    }
    return STRATA_OK;
}
