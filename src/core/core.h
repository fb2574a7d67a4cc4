/* core/core.h — the core layer's interface to every other layer: errors, memory, the tensor
 * struct, dtype and shape math, attributes, mapped files. Core depends on nothing. */
#ifndef STRATA_CORE_H
#define STRATA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strata/strata.h"

#define STRATA_HIDDEN __attribute__((visibility("hidden")))
#define STRATA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Limits on untrusted input (shared/reference/reliability.md 3.0). */
#define STRATA_MAX_ELEMENTS ((int64_t)1 << 40) /* elements in one tensor */
#define STRATA_MAX_SUBGRAPH_DEPTH 32             /* If/Loop/Scan nesting */
#define STRATA_MAX_PROTO_DEPTH 100               /* protobuf message nesting */

/* ---- errors (status.c) ------------------------------------------------------------------- */

/* Stores the formatted message as this thread's last error and returns code. */
strata_status error_set(strata_status code, const char *fmt, ...) STRATA_PRINTF(2, 3);
/* Prepends "prefix: " to the last error (for callers that know more context); returns code. */
strata_status error_prefix(strata_status code, const char *fmt, ...) STRATA_PRINTF(2, 3);

/* ---- memory (alloc.c): every heap byte goes through here --------------------------------- */

typedef struct strata_allocator {
    void *ctx;                                            /* passed to every call */
    void *(*alloc)(void *ctx, size_t n_bytes);            /* NULL on failure */
    void *(*realloc)(void *ctx, void *p, size_t n_bytes); /* NULL on failure, p kept */
    void (*free)(void *ctx, void *p);                     /* accepts NULL */
} strata_allocator;

/* Replaces the process allocator (tests: counting, fail-on-Nth); NULL restores libc's.
 * Not thread-safe: call before any other Strata call. */
void alloc_set(const strata_allocator *a);
void *mem_alloc(size_t n_bytes);                 /* NULL on failure (no message) */
void *mem_calloc(size_t n, size_t size);         /* zeroed, overflow-checked */
void *mem_realloc(void *p, size_t n_bytes);
void mem_free(void *p);
/* 64-byte aligned block (for tensors and arenas); free with mem_free_aligned. */
void *mem_alloc_aligned(size_t n_bytes);
void mem_free_aligned(void *p);
char *mem_strdup(const char *s);                 /* NULL on failure or NULL s */
char *mem_strndup(const char *s, size_t n);

/* ---- dtypes (tensor.c) ------------------------------------------------------------------- */

bool dtype_is_valid(int t);             /* a known, non-UNDEFINED ONNX dtype */
bool dtype_is_float(strata_dtype t);    /* f16 bf16 f32 f64 */
bool dtype_is_int(strata_dtype t);      /* signed or unsigned integer (not bool) */
bool dtype_is_signed(strata_dtype t);   /* signed integers and floats */

/* Internal value kinds carried in a strata_tensor, outside the public dtype range (never in a
 * file's TensorProto nor at the public API). A SEQUENCE has rank 1 and data =
 * strata_tensor *[dims[0]]; an OPTIONAL has rank 1, dims[0] 0 (none) or 1 with data[0] its value
 * (a tensor or a sequence). With owns_strings set the elements are destroyed with the container.
 * tensor_set_shape refuses these dtypes: they are built by tensor_alloc_container only. */
#define STRATA_DTYPE_SEQUENCE ((strata_dtype)100)
#define STRATA_DTYPE_OPTIONAL ((strata_dtype)101)
bool dtype_is_container(strata_dtype t); /* SEQUENCE or OPTIONAL */
/* Makes t (no data yet) a container of kind SEQUENCE/OPTIONAL with n NULL element slots that it
 * owns. */
strata_status tensor_alloc_container(strata_tensor *t, strata_dtype kind, int64_t n);

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);           /* round to nearest even */
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);          /* round to nearest even; NaN stays NaN */

/* ---- narrow dtypes (dtype_convert.c): float8, float4, e8m0, int4/uint4, int2/uint2 ------------
 * In memory each element is one byte; I4/I2 are sign-extended, U4/U2 zero-extended. */
bool dtype_is_narrow_float(strata_dtype t); /* the float8 types, F8E8M0 and F4E2M1 */
bool dtype_is_narrow_int(strata_dtype t);   /* I4 U4 I2 U2 */
int dtype_file_bits(strata_dtype t);        /* bits per element in an ONNX file: 4 or 2 for the
                                               packed types, 8 * size for others, 0 if none */
size_t dtype_file_bytes(strata_dtype t, int64_t numel); /* ceil(numel * file bits / 8) */
/* Packed file bytes (low bits first) <-> one byte per element; unpack sign-extends I4/I2. */
void dtype_unpack(strata_dtype t, const uint8_t *packed, int64_t numel, uint8_t *out);
void dtype_pack(strata_dtype t, const uint8_t *elems, int64_t numel, uint8_t *packed);
double dtype_narrow_to_f64(strata_dtype t, uint8_t b); /* narrow float byte -> exact value */
/* v rounded to nearest even. saturate: out-of-range values and infinities become +-max (the
 * Cast default); otherwise inf (E5M2) or NaN. F8E8M0 rounds up (dtype_f32_to_e8m0 for modes). */
uint8_t dtype_f64_to_narrow(strata_dtype t, double v, bool saturate);
typedef enum { DTYPE_ROUND_UP, DTYPE_ROUND_DOWN, DTYPE_ROUND_NEAREST } dtype_round_mode;
uint8_t dtype_f32_to_e8m0(float f, bool saturate, dtype_round_mode mode); /* sign ignored */
int64_t dtype_narrow_int_get(strata_dtype t, uint8_t b);  /* I4/U4/I2/U2 byte -> value */
uint8_t dtype_narrow_int_wrap(strata_dtype t, int64_t v); /* v modulo 2^bits, stored form */

/* ---- the tensor -------------------------------------------------------------------------- */

struct strata_tensor {
    strata_dtype dtype;              /* element type */
    int rank;                        /* number of dims, 0 for a scalar */
    int64_t dims[STRATA_MAX_DIMS];   /* extent of each dim (>= 0) */
    void *data;                      /* elements, row-major; STRING: char *[numel] */
    size_t n_bytes;                  /* numel * dtype size */
    void (*free_fn)(void *);         /* called on data at destroy, or NULL (borrowed) */
    bool owns_strings;               /* STRING: the char * elements are freed at destroy;
                                        SEQUENCE/OPTIONAL: the element tensors are */
};

/* Elements of a shape; -1 when a dim is negative or the count exceeds STRATA_MAX_ELEMENTS. */
int64_t shape_numel(int rank, const int64_t *dims);
/* Allocates (zeroed, 64-byte aligned) storage for t's dtype and shape; t->data must be NULL. */
strata_status tensor_alloc_data(strata_tensor *t);
/* Fills dtype/rank/dims of a tensor struct that has no data yet. A dim of -1 means unknown
 * (static shape inference); n_bytes is then 0 and tensor_alloc_data refuses it. */
strata_status tensor_set_shape(strata_tensor *t, strata_dtype dtype, int rank,
                               const int64_t *dims);
/* Frees t's storage (not t itself) and leaves it empty. */
void tensor_release_data(strata_tensor *t);
/* A new tensor that owns a copy of src's elements. */
strata_status tensor_clone(const strata_tensor *src, strata_tensor **out);
/* Element i as double / int64 / stores v into element i, converting from/to the dtype.
 * Works for every numeric dtype and BOOL (not STRING/complex). For the reference kernels. */
double tensor_get_f64(const strata_tensor *t, int64_t i);
int64_t tensor_get_i64(const strata_tensor *t, int64_t i);
void tensor_set_f64(strata_tensor *t, int64_t i, double v);
void tensor_set_i64(strata_tensor *t, int64_t i, int64_t v);
/* "float32[1,3,224,224]" into buf (always NUL-terminated); returns buf. */
const char *tensor_describe(const strata_tensor *t, char *buf, size_t n_buf);
const char *shape_describe(int rank, const int64_t *dims, char *buf, size_t n_buf);

/* ---- broadcasting (shape.c) ----------------------------------------------------------------- */

/* Numpy broadcast of two shapes; INVALID_ARGUMENT (with message) when they do not fit.
 * Unknown dims (-1) are allowed for static inference: they broadcast to the other dim if > 1. */
strata_status shape_broadcast(int rank_a, const int64_t *dims_a, int rank_b,
                              const int64_t *dims_b, int *rank_out, int64_t *dims_out);
/* Row-major strides (in elements) of a shape, with 0 stride for dims broadcast from size 1
 * when the shape is aligned right to a result of out_rank dims. */
void shape_broadcast_strides(int rank, const int64_t *dims, int out_rank, int64_t *strides_out);
void shape_strides(int rank, const int64_t *dims, int64_t *strides_out);

/* ---- attributes (attr.c) ----------------------------------------------------------------- */

/* Attribute kinds: ONNX AttributeProto.AttributeType numbers. */
typedef enum attr_type {
    ATTR_UNDEFINED = 0,
    ATTR_FLOAT = 1,
    ATTR_INT = 2,
    ATTR_STRING = 3,
    ATTR_TENSOR = 4,
    ATTR_GRAPH = 5,
    ATTR_FLOATS = 6,
    ATTR_INTS = 7,
    ATTR_STRINGS = 8,
    ATTR_TENSORS = 9,
    ATTR_GRAPHS = 10,
    ATTR_SPARSE_TENSOR = 11,
    ATTR_SPARSE_TENSORS = 12,
    ATTR_TYPE_PROTO = 13,
    ATTR_TYPE_PROTOS = 14
} attr_type;

/* One node attribute. Scalars in i/f/s/t/g; lists in the plural pointer with n entries.
 * Owned by the graph that holds the node. g/graphs point to ir_graph (opaque below ir). */
typedef struct attr {
    char *name;             /* attribute name */
    attr_type type;         /* which fields below are meaningful */
    int64_t i;              /* INT */
    float f;                /* FLOAT */
    char *s;                /* STRING: bytes, NUL-terminated for convenience */
    size_t s_len;           /* STRING: length in bytes (may hold NULs) */
    strata_tensor *t;       /* TENSOR */
    void *g;                /* GRAPH (struct ir_graph *) */
    size_t n;               /* entries in the list below */
    int64_t *ints;          /* INTS */
    float *floats;          /* FLOATS */
    char **strings;         /* STRINGS (NUL-terminated) */
    strata_tensor **tensors;/* TENSORS */
    void **graphs;          /* GRAPHS */
    char *ref_attr_name;    /* attribute reference inside a function body, or NULL */
} attr;

const attr *attr_find(const attr *attrs, size_t n_attrs, const char *name);
/* Frees everything an attr owns (not the attr itself); graph attributes via graph_free. */
void attr_release(attr *a, void (*graph_free)(void *g));

/* ---- mapped files (mapped_file.c) -------------------------------------------------------- */

typedef struct mapped_file {
    const uint8_t *data;    /* the file's bytes (read-only mapping, or heap copy) */
    size_t n_bytes;         /* file size */
    char *path;             /* path as opened, for messages */
    int is_heap;            /* 0 mmap, 1 heap copy (from bytes), 2 borrowed view (not freed) */
} mapped_file;

/* Maps a whole file read-only. IO_ERROR with the path and errno text on failure. */
strata_status mapped_file_open(const char *path, mapped_file **out);
/* Heap copy of bytes, presented as a mapped file named name. */
strata_status mapped_file_from_bytes(const void *bytes, size_t n_bytes, const char *name,
                                     mapped_file **out);
void mapped_file_close(mapped_file *f);

/* ---- scratch (alloc.c): allocation-free runs --------------------------------------------------
 * While a scratch is active on a thread, mem_alloc/mem_calloc/mem_alloc_aligned on that thread
 * take memory from it (bump allocation, freed all at once by the next scratch_begin); what does
 * not fit falls back to the heap and raises the high-water mark, so that the owner can grow
 * the scratch between runs (scratch_reserve). A run at a shape seen before then allocates
 * nothing. mem_free of scratch memory is a no-op. */
typedef struct scratch_arena {
    uint8_t *base;        /* the block, 64-byte aligned (owned) */
    size_t cap;           /* its size */
    size_t used;          /* bytes handed out since scratch_begin */
    size_t high;          /* most bytes one run wanted (including what fell back) */
    size_t n_fallback;    /* allocations that went to the heap in this run */
    void **fallback;      /* those still allocated: freed by the next scratch_begin/release */
    uint8_t *fallback_aligned; /* per entry: 1 when it came from mem_alloc_aligned */
    size_t n_live, cap_live;   /* entries in fallback */
} scratch_arena;

/* Makes s the active scratch of this thread and empties it. */
void scratch_begin(scratch_arena *s);
/* Deactivates the thread's scratch. */
void scratch_end(void);
/* Grows s to at least its high-water mark (outside a run); OUT_OF_MEMORY on failure. */
strata_status scratch_reserve(scratch_arena *s);
void scratch_release(scratch_arena *s);

/* ---- hashing (hash.c) ------------------------------------------------------------------------ */

/* 64-bit content hash of n bytes (fast, not cryptographic). */
uint64_t hash64(const void *data, size_t n, uint64_t seed);
/* The hash of 4 MiB chunks' hashes: the same value for any n_threads (used for large files). */
uint64_t hash64_chunked(const void *data, size_t n, uint64_t seed, int n_threads);

/* ---- time (clock.c) ------------------------------------------------------------------------ */

/* Monotonic time in nanoseconds. */
uint64_t clock_now_ns(void);

#include "cpu.h"
#include "thread_pool.h"

#endif
