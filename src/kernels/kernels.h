/* kernels/kernels.h — the kernels layer's interface: the reference ops (one obvious, correct
 * implementation per ONNX op, the oracle every faster kernel is tested against) and their
 * registry. Kernels are pure compute over core tensors; they see only core. */
#ifndef STRATA_KERNELS_H
#define STRATA_KERNELS_H

#include "core/core.h"

/* What an op sees of a graph node: its identity and attributes, never the graph. */
typedef struct op_node {
    const char *name;      /* node name, for messages (may be "") */
    const char *op_type;   /* "Conv" */
    const char *domain;    /* "" for the default ONNX domain, "ai.onnx.ml", "com.microsoft" */
    int opset;             /* opset version imported for the node's domain */
    const attr *attrs;     /* the node's attributes */
    size_t n_attrs;
    size_t n_inputs;       /* entries in the input array (missing optional inputs are NULL) */
    size_t n_outputs;      /* outputs the node declares (missing optional outputs are NULL) */
} op_node;

/* Shape and dtype inference. in[i] has dtype, rank and dims; in[i]->data is NULL when the value
 * is not known (static inference) and set at run time. A dim of -1 is unknown: any dim computed
 * from an unknown one is -1. The op fills dtype, rank and dims of every non-NULL out[j]
 * (data stays NULL; the caller allocates). An op whose output shape depends on an input's
 * value returns STRATA_NOT_FOUND (no message needed) when that value is not known.
 * Errors (bad attribute, bad shape) name the node and what is wrong. */
typedef strata_status (*op_infer_fn)(const op_node *n, const strata_tensor *const *in,
                                     strata_tensor *const *out);

/* Computes the outputs. out[j] have the shapes infer gave and zeroed storage. Reference ops may
 * allocate scratch with mem_alloc and must free it. */
typedef strata_status (*op_compute_fn)(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out);

typedef struct op_def {
    const char *op_type;    /* ONNX op name */
    const char *domain;     /* "" for ai.onnx */
    int since_opset;        /* first opset version this row implements */
    op_infer_fn infer;      /* shape/dtype inference */
    op_compute_fn compute;  /* reference implementation */
} op_def;

/* The row for (domain, op_type) with the largest since_opset <= opset; NULL when none.
 * domain "ai.onnx" is the same as "". */
const op_def *ref_op_find(const char *domain, const char *op_type, int opset);
/* Calls fn for every registered row (for listings). */
void ref_op_foreach(void (*fn)(const op_def *d, void *ctx), void *ctx);

/* Op tables, each ended by a row with op_type == NULL; one per family (kernels/ref/list_*.c). */
extern const op_def ref_ops_math[];   /* elementwise, activations, comparisons, reductions... */
extern const op_def ref_ops_tensor[]; /* shape and data movement: Reshape, Gather, Slice... */
extern const op_def ref_ops_nn[];     /* Conv, Gemm, MatMul, pooling, normalisation... */
extern const op_def ref_ops_transformer[]; /* Attention, RMSNormalization, RotaryEmbedding... */
extern const op_def ref_ops_loss[];   /* NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss */
extern const op_def ref_ops_signal[]; /* DFT, STFT, windows, mel weights */
extern const op_def ref_ops_fused[];  /* com.strata ops the compiler creates (ref/fused.c) */
extern const op_def ref_ops_fused_dwpw[]; /* com.strata FusedDwPw (ref/fused_dwpw.c) */
extern const op_def ref_ops_seq[];    /* sequence and optional values (ref/seq_*.c) */

/* Sequence and optional values (STRATA_DTYPE_SEQUENCE/OPTIONAL containers) may only reach the
 * ops of ref_ops_seq: INVALID_ARGUMENT naming the node and input when a container input goes
 * to another op d (which would read it as elements); STRATA_OK otherwise. */
strata_status ref_op_check_values(const op_def *d, const op_node *n,
                                  const strata_tensor *const *in);

/* ---- helpers for writing ops (kernels/ref/op_util.c) -------------------------------------- */

int64_t op_attr_int(const op_node *n, const char *name, int64_t dflt);
float op_attr_float(const op_node *n, const char *name, float dflt);
/* String attribute or dflt; borrowed. */
const char *op_attr_string(const op_node *n, const char *name, const char *dflt);
/* INTS attribute: count into *n_out and the array (borrowed), or NULL when absent. */
const int64_t *op_attr_ints(const op_node *n, const char *name, size_t *n_out);
const float *op_attr_floats(const op_node *n, const char *name, size_t *n_out);
/* Error naming the node: "node 'conv1' (Conv): <message>". Returns code. */
strata_status op_error(const op_node *n, strata_status code, const char *fmt, ...)
    STRATA_PRINTF(3, 4);
/* The input i or NULL when absent/out of range. */
const strata_tensor *op_input(const op_node *n, const strata_tensor *const *in, size_t i);
/* Normalises a possibly negative axis against rank; error naming the node when out of range. */
strata_status op_axis(const op_node *n, int64_t axis, int rank, int *out);

#include "fast.h" /* fast kernels (tactics) and the GEMM contract */

#endif
