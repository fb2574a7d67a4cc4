/* kernels/ref/ref_math.h — private interface of the math op family (kernels/ref/math_*.c):
 * the numpy broadcasting iterator, fast element access, and the infer/compute functions that
 * list_math.c puts in the op table. */
#ifndef STRATA_REF_MATH_H
#define STRATA_REF_MATH_H

#include "kernels/kernels.h"

/* ---- element access ------------------------------------------------------------------------ */

/* Element i of a numeric/bool tensor as double (f32 and f64 inline, the rest through core). */
static inline double math_ld(const strata_tensor *t, int64_t i)
{
    if (t->dtype == STRATA_DTYPE_F32) return ((const float *)t->data)[i];
    if (t->dtype == STRATA_DTYPE_F64) return ((const double *)t->data)[i];
    return tensor_get_f64(t, i);
}

static inline void math_st(strata_tensor *t, int64_t i, double v)
{
    if (t->dtype == STRATA_DTYPE_F32) ((float *)t->data)[i] = (float)v;
    else if (t->dtype == STRATA_DTYPE_F64) ((double *)t->data)[i] = v;
    else tensor_set_f64(t, i, v);
}

/* Integer element i: the bit pattern widened (sign-extended for signed types, zero-extended for
 * unsigned ones), so unsigned 64-bit values keep all their bits when read as uint64_t. */
static inline int64_t math_ldi(const strata_tensor *t, int64_t i)
{
    if (t->dtype == STRATA_DTYPE_I64) return ((const int64_t *)t->data)[i];
    if (t->dtype == STRATA_DTYPE_I32) return ((const int32_t *)t->data)[i];
    return tensor_get_i64(t, i);
}

/* Stores v truncated to the dtype's width (wraps like a C cast). */
static inline void math_sti(strata_tensor *t, int64_t i, int64_t v)
{
    if (t->dtype == STRATA_DTYPE_I64) ((int64_t *)t->data)[i] = v;
    else if (t->dtype == STRATA_DTYPE_I32) ((int32_t *)t->data)[i] = (int32_t)v;
    else tensor_set_i64(t, i, v);
}

/* Integer dtype or BOOL: computed on int64 bit patterns. */
static inline bool math_is_intlike(strata_dtype t)
{
    return dtype_is_int(t) || t == STRATA_DTYPE_BOOL;
}

/* ---- numpy broadcasting ------------------------------------------------------------------- */

#define MATH_BCAST_MAX 3 /* inputs one iterator follows (Where has three) */

/* Walks the elements of an output shape in row-major order, keeping the element offset of each
 * input that broadcasts to it. */
typedef struct math_bcast {
    int rank;
    int n;                                               /* inputs followed */
    int64_t dims[STRATA_MAX_DIMS];                       /* output shape */
    int64_t strides[MATH_BCAST_MAX][STRATA_MAX_DIMS];    /* 0 where an input broadcasts */
    int64_t idx[STRATA_MAX_DIMS];                        /* current output index */
    int64_t off[MATH_BCAST_MAX];                         /* current offset into each input */
} math_bcast;

/* Sets up the walk over out_rank/out_dims for n inputs given by their shapes (each must
 * broadcast to the output: rank <= out_rank). */
void math_bcast_init(math_bcast *it, int out_rank, const int64_t *out_dims, int n,
                     const strata_tensor *const *ins);

static inline void math_bcast_next(math_bcast *it)
{
    for (int d = it->rank - 1; d >= 0; d--) {
        for (int k = 0; k < it->n; k++) it->off[k] += it->strides[k][d];
        if (++it->idx[d] < it->dims[d]) return;
        for (int k = 0; k < it->n; k++) it->off[k] -= it->strides[k][d] * it->dims[d];
        it->idx[d] = 0;
    }
}

/* The broadcast shape of n tensors (NULL entries skipped); error naming the node otherwise. */
strata_status math_bcast_shape(const op_node *n, const strata_tensor *const *ins, size_t n_ins,
                               int *rank, int64_t *dims);

/* The tensor's dtype name, for messages. */
static inline const char *math_dtype(const strata_tensor *t)
{
    return strata_dtype_name(t->dtype);
}

/* ---- op entry points (one pair per op or op group) ---------------------------------------- */

#define MATH_OP(name)                                                                       \
    strata_status math_##name##_infer(const op_node *n, const strata_tensor *const *in,     \
                                      strata_tensor *const *out);                           \
    strata_status math_##name##_compute(const op_node *n, const strata_tensor *const *in,   \
                                        strata_tensor *const *out);

MATH_OP(unary)            /* math_unary.c: every elementwise unary op, dispatched on op_type */
MATH_OP(unary_clip)       /* math_unary.c */
MATH_OP(binary)           /* math_binary.c: arithmetic, logic, comparison, bitwise, PRelu, SwiGLU */
MATH_OP(binary_variadic)  /* math_binary.c: Max, Min, Sum, Mean */
MATH_OP(binary_where)     /* math_binary.c */
MATH_OP(cast)             /* math_cast.c: Cast and CastLike */
MATH_OP(cast_bitcast)     /* math_cast.c */
MATH_OP(reduce)           /* math_reduce.c: Reduce* */
MATH_OP(reduce_arg)       /* math_reduce.c: ArgMax, ArgMin */
MATH_OP(reduce_cumsum)    /* math_reduce.c: CumSum, CumProd */
MATH_OP(softmax)          /* math_softmax.c: Softmax, LogSoftmax, Hardmax */
MATH_OP(det)              /* math_det.c */

#undef MATH_OP

#endif
