/* core/dtype_convert.c — the narrow ONNX element types: float8 (e4m3fn, e4m3fnuz, e5m2,
 * e5m2fnuz, e8m0), float4 e2m1 and the 4- and 2-bit integers. Exact decoding, encoding with
 * round-to-nearest-even and the Cast 'saturate' rules, and the packing of 4/2-bit values that
 * ONNX files use (in memory every element takes one byte). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core.h"

/* How NaN (and infinity) are spelled in a small float format. */
typedef enum {
    SPECIALS_FN,   /* no inf; NaN = S.1...1 (all exponent and mantissa bits set) */
    SPECIALS_UZ,   /* no inf, no -0; the only NaN is 0x80 (the -0 pattern) */
    SPECIALS_IEEE, /* IEEE: exponent all ones is inf (mantissa 0) or NaN */
    SPECIALS_NONE  /* neither inf nor NaN (float4 e2m1) */
} specials;

typedef struct small_float {
    int exp_bits, man_bits, bias; /* layout: sign | exponent | mantissa */
    uint8_t max_code;             /* largest finite positive code */
    specials kind;
} small_float;

static bool small_float_of(strata_dtype t, small_float *f)
{
    switch (t) {
    case STRATA_DTYPE_F8E4M3FN: *f = (small_float){4, 3, 7, 0x7E, SPECIALS_FN}; return true;
    case STRATA_DTYPE_F8E4M3FNUZ: *f = (small_float){4, 3, 8, 0x7F, SPECIALS_UZ}; return true;
    case STRATA_DTYPE_F8E5M2: *f = (small_float){5, 2, 15, 0x7B, SPECIALS_IEEE}; return true;
    case STRATA_DTYPE_F8E5M2FNUZ: *f = (small_float){5, 2, 16, 0x7F, SPECIALS_UZ}; return true;
    case STRATA_DTYPE_F4E2M1: *f = (small_float){2, 1, 1, 0x07, SPECIALS_NONE}; return true;
    default: return false;
    }
}

bool dtype_is_narrow_float(strata_dtype t)
{
    small_float f;
    return small_float_of(t, &f) || t == STRATA_DTYPE_F8E8M0;
}

bool dtype_is_narrow_int(strata_dtype t)
{
    return t == STRATA_DTYPE_I4 || t == STRATA_DTYPE_U4 || t == STRATA_DTYPE_I2 ||
           t == STRATA_DTYPE_U2;
}

int dtype_file_bits(strata_dtype t)
{
    switch (t) {
    case STRATA_DTYPE_I4: case STRATA_DTYPE_U4: case STRATA_DTYPE_F4E2M1: return 4;
    case STRATA_DTYPE_I2: case STRATA_DTYPE_U2: return 2;
    case STRATA_DTYPE_STRING: case STRATA_DTYPE_UNDEFINED: return 0;
    default: return dtype_is_valid((int)t) ? 8 * (int)strata_dtype_size(t) : 0;
    }
}

size_t dtype_file_bytes(strata_dtype t, int64_t numel)
{
    if (numel <= 0) return 0;
    return (size_t)(((uint64_t)numel * (uint64_t)dtype_file_bits(t) + 7) / 8);
}

/* ---- 4- and 2-bit packing (element i at bits (i % per_byte) * bits of byte i / per_byte) ---- */

void dtype_unpack(strata_dtype t, const uint8_t *packed, int64_t numel, uint8_t *out)
{
    int bits = dtype_file_bits(t);
    if (bits != 4 && bits != 2) {
        if (numel > 0) memcpy(out, packed, (size_t)numel * strata_dtype_size(t));
        return;
    }
    int per_byte = 8 / bits;
    unsigned mask = (1u << bits) - 1;
    for (int64_t i = 0; i < numel; i++) {
        uint8_t v = (uint8_t)((packed[i / per_byte] >> ((i % per_byte) * bits)) & mask);
        out[i] = dtype_is_narrow_int(t) ? dtype_narrow_int_wrap(t, v) : v;
    }
}

void dtype_pack(strata_dtype t, const uint8_t *elems, int64_t numel, uint8_t *packed)
{
    int bits = dtype_file_bits(t);
    if (bits != 4 && bits != 2) {
        if (numel > 0) memcpy(packed, elems, (size_t)numel * strata_dtype_size(t));
        return;
    }
    int per_byte = 8 / bits;
    unsigned mask = (1u << bits) - 1;
    size_t n_bytes = dtype_file_bytes(t, numel);
    if (n_bytes) memset(packed, 0, n_bytes);
    for (int64_t i = 0; i < numel; i++)
        packed[i / per_byte] |= (uint8_t)((elems[i] & mask) << ((i % per_byte) * bits));
}

/* ---- 4- and 2-bit integers ------------------------------------------------------------------ */

int64_t dtype_narrow_int_get(strata_dtype t, uint8_t b)
{
    switch (t) {
    case STRATA_DTYPE_U4: return b & 0xF;
    case STRATA_DTYPE_I4: return (b & 0x8) ? (int64_t)(b & 0xF) - 16 : (int64_t)(b & 0xF);
    case STRATA_DTYPE_U2: return b & 0x3;
    case STRATA_DTYPE_I2: return (b & 0x2) ? (int64_t)(b & 0x3) - 4 : (int64_t)(b & 0x3);
    default: return b;
    }
}

uint8_t dtype_narrow_int_wrap(strata_dtype t, int64_t v)
{
    uint8_t b = (uint8_t)((uint64_t)v & 0xFF);
    switch (t) {
    case STRATA_DTYPE_U4: return b & 0xF;
    case STRATA_DTYPE_I4: return (b & 0x8) ? (uint8_t)(b | 0xF0) : (uint8_t)(b & 0xF);
    case STRATA_DTYPE_U2: return b & 0x3;
    case STRATA_DTYPE_I2: return (b & 0x2) ? (uint8_t)(b | 0xFC) : (uint8_t)(b & 0x3);
    default: return b;
    }
}

/* ---- small floats --------------------------------------------------------------------------- */

static double e8m0_value(uint8_t b)
{
    return b == 0xFF ? NAN : ldexp(1.0, (int)b - 127);
}

double dtype_narrow_to_f64(strata_dtype t, uint8_t b)
{
    small_float f;
    if (t == STRATA_DTYPE_F8E8M0) return e8m0_value(b);
    if (!small_float_of(t, &f)) return 0.0;
    int sign_bit = f.exp_bits + f.man_bits;
    unsigned emask = (1u << f.exp_bits) - 1, mmask = (1u << f.man_bits) - 1;
    b &= (uint8_t)((2u << sign_bit) - 1);
    bool neg = (b >> sign_bit) & 1;
    unsigned e = (b >> f.man_bits) & emask, m = b & mmask;
    if (f.kind == SPECIALS_UZ && b == 0x80) return NAN;
    if (f.kind == SPECIALS_FN && e == emask && m == mmask) return NAN;
    if (f.kind == SPECIALS_IEEE && e == emask) return m ? NAN : neg ? -INFINITY : INFINITY;
    double v = e ? ldexp(1.0 + ldexp((double)m, -f.man_bits), (int)e - f.bias)
                 : ldexp((double)m, 1 - f.bias - f.man_bits);
    return neg ? -v : v;
}

/* x rounded to the nearest integer, ties to even (x >= 0, small, exact in double). */
static double round_even(double x)
{
    double fl = floor(x), d = x - fl;
    if (d > 0.5 || (d == 0.5 && fmod(fl, 2.0) != 0.0)) fl += 1.0;
    return fl;
}

uint8_t dtype_f64_to_narrow(strata_dtype t, double v, bool saturate)
{
    small_float f;
    if (t == STRATA_DTYPE_F8E8M0) {
        float x = isnan(v) ? NAN : fabs(v) > FLT_MAX ? (v > 0 ? INFINITY : -INFINITY) : (float)v;
        return dtype_f32_to_e8m0(x, saturate, DTYPE_ROUND_UP);
    }
    if (!small_float_of(t, &f)) return 0;
    int sign_bit = f.exp_bits + f.man_bits;
    uint8_t sign = signbit(v) ? (uint8_t)(1u << sign_bit) : 0;
    /* float4 has no NaN: the ONNX reference data turns NaN into 0x8 (-0) */
    uint8_t nan_code = f.kind == SPECIALS_FN     ? (uint8_t)(sign | 0x7F)
                       : f.kind == SPECIALS_UZ   ? 0x80
                       : f.kind == SPECIALS_IEEE ? (uint8_t)(sign | 0x7E)
                                                 : 0x08;
    uint8_t max_code = (uint8_t)(f.max_code | sign);
    uint8_t inf_code = (uint8_t)(sign | (((1u << f.exp_bits) - 1) << f.man_bits));
    if (isnan(v)) return nan_code;
    double a = fabs(v);
    if (isinf(a))
        return saturate || f.kind == SPECIALS_NONE ? max_code
               : f.kind == SPECIALS_IEEE           ? inf_code
                                                   : nan_code;
    /* Quantum of a's binade (or of the subnormals), then round a to a multiple of it. */
    int q, emin = 1 - f.bias;
    (void)frexp(a, &q); /* a = m * 2^q, m in [0.5, 1): binade exponent q - 1 */
    int qe = q - 1 < emin ? emin : q - 1;
    double n = round_even(ldexp(a, f.man_bits - qe));
    double r = ldexp(n, qe - f.man_bits);
    if (r == 0.0) return f.kind == SPECIALS_UZ ? 0 : sign;
    if (r > dtype_narrow_to_f64(t, f.max_code))
        return saturate || f.kind == SPECIALS_NONE ? max_code
               : f.kind == SPECIALS_IEEE           ? inf_code
                                                   : nan_code;
    unsigned e, m;
    (void)frexp(r, &q);
    if (q - 1 < emin) { /* subnormal */
        e = 0;
        m = (unsigned)ldexp(r, f.man_bits - emin);
    } else {
        e = (unsigned)(q - 1 + f.bias);
        m = (unsigned)ldexp(r, f.man_bits - (q - 1)) - (1u << f.man_bits);
    }
    return (uint8_t)(sign | (e << f.man_bits) | m);
}

/* E8M0 from the float32 bits, as the ONNX reference computes it: the biased exponent, rounded
 * by the mantissa bits; NaN and inf give 0xFF; the sign is ignored. */
uint8_t dtype_f32_to_e8m0(float x, bool saturate, dtype_round_mode mode)
{
    uint32_t bits;
    memcpy(&bits, &x, 4);
    unsigned e = (bits >> 23) & 0xFF, man = bits & 0x7FFFFF;
    if (e == 0xFF) return 0xFF;
    bool up = false;
    if (mode == DTYPE_ROUND_UP) up = man != 0;
    else if (mode == DTYPE_ROUND_NEAREST) up = (man & 0x400000) && ((man & 0x3FFFFF) || e > 0);
    if (up && saturate && e == 0xFE) up = false;
    return (uint8_t)(e + (up ? 1 : 0));
}
