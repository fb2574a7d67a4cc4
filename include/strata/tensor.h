/* strata/tensor.h — element types, shapes and the tensor object; .npy files.
 * A tensor is a dtype, a shape (rank <= STRATA_MAX_DIMS) and a block of elements in row-major
 * order. Strings are stored as an array of NUL-terminated char pointers owned by the tensor. */
#ifndef STRATA_TENSOR_H
#define STRATA_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_MAX_DIMS 16

/* Element types. Values are ONNX TensorProto.DataType numbers and never change. */
typedef enum strata_dtype {
    STRATA_DTYPE_UNDEFINED = 0,
    STRATA_DTYPE_F32 = 1,
    STRATA_DTYPE_U8 = 2,
    STRATA_DTYPE_I8 = 3,
    STRATA_DTYPE_U16 = 4,
    STRATA_DTYPE_I16 = 5,
    STRATA_DTYPE_I32 = 6,
    STRATA_DTYPE_I64 = 7,
    STRATA_DTYPE_STRING = 8,
    STRATA_DTYPE_BOOL = 9,
    STRATA_DTYPE_F16 = 10,
    STRATA_DTYPE_F64 = 11,
    STRATA_DTYPE_U32 = 12,
    STRATA_DTYPE_U64 = 13,
    STRATA_DTYPE_C64 = 14,  /* complex64: readable and copyable, no kernels */
    STRATA_DTYPE_C128 = 15, /* complex128: readable and copyable, no kernels */
    STRATA_DTYPE_BF16 = 16,
    /* Narrow types: one byte per element in memory. The 4- and 2-bit types hold the value in
     * the low bits (sign-extended for I4/I2); ONNX files pack them, low bits first. */
    STRATA_DTYPE_F8E4M3FN = 17,   /* float8 e4m3: no infinities, NaN S.1111.111, max 448 */
    STRATA_DTYPE_F8E4M3FNUZ = 18, /* float8 e4m3, bias 8: no -0/inf, NaN 0x80, max 240 */
    STRATA_DTYPE_F8E5M2 = 19,     /* float8 e5m2: IEEE-like with inf and NaN, max 57344 */
    STRATA_DTYPE_F8E5M2FNUZ = 20, /* float8 e5m2, bias 16: no -0/inf, NaN 0x80, max 57344 */
    STRATA_DTYPE_U4 = 21,         /* 0..15 */
    STRATA_DTYPE_I4 = 22,         /* -8..7 */
    STRATA_DTYPE_F4E2M1 = 23,     /* float4 e2m1: no inf/NaN, max 6 */
    STRATA_DTYPE_F8E8M0 = 24,     /* 2^(e-127), unsigned, 0xFF NaN: block scales */
    STRATA_DTYPE_U2 = 25,         /* 0..3 */
    STRATA_DTYPE_I2 = 26,         /* -2..1 */
    STRATA_DTYPE_COUNT = 27
} strata_dtype;

/* "float32", "int64", ... (numpy-style names); "undefined" outside the table. */
STRATA_API const char *strata_dtype_name(strata_dtype t);
/* Bytes per element; 0 for UNDEFINED; sizeof(char *) for STRING. */
STRATA_API size_t strata_dtype_size(strata_dtype t);

typedef struct strata_tensor strata_tensor;

/* ---- lifetime ---------------------------------------------------------------------------- */

/* A new tensor owning zeroed storage for the shape (strings: empty strings). */
STRATA_API strata_status strata_tensor_create(strata_dtype dtype, int rank, const int64_t *dims,
                                              strata_tensor **out);
/* A tensor over caller memory. free_fn == NULL: borrowed, the caller keeps data alive while the
 * tensor is used. free_fn != NULL: adopted, free_fn(data) is called at destroy — and also when
 * this call fails. n_bytes must equal the shape's size. Not for STRING. */
STRATA_API strata_status strata_tensor_wrap(strata_dtype dtype, int rank, const int64_t *dims,
                                            void *data, size_t n_bytes, void (*free_fn)(void *),
                                            strata_tensor **out);
STRATA_API void strata_tensor_destroy(strata_tensor *t);

/* ---- accessors (borrowed; live as long as the tensor) ------------------------------------ */

STRATA_API strata_dtype strata_tensor_dtype(const strata_tensor *t);
STRATA_API int strata_tensor_rank(const strata_tensor *t);
STRATA_API const int64_t *strata_tensor_dims(const strata_tensor *t);
STRATA_API int64_t strata_tensor_numel(const strata_tensor *t);
STRATA_API void *strata_tensor_data(strata_tensor *t);
STRATA_API size_t strata_tensor_bytes(const strata_tensor *t);

/* ---- .npy files ---------------------------------------------------------------------------- */

/* Reads a .npy file (version 1-3, little or big endian, C order; numeric and bool dtypes). */
STRATA_API strata_status strata_npy_read(const char *path, strata_tensor **out);
STRATA_API strata_status strata_npy_write(const char *path, const strata_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
