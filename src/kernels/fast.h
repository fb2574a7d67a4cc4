/* kernels/fast.h — fast kernels as tactics: each row implements one op (same semantics and
 * shape inference as its reference op) for some shapes, on some ISA. The compiler asks which
 * rows support a node, picks one and writes its name into the plan; the runtime resolves the
 * name back to the row and refuses a plan whose kernel this machine cannot run. */
#ifndef STRATA_KERNELS_FAST_H
#define STRATA_KERNELS_FAST_H

#include "gemm.h"
#include "kernels.h"

/* What a running kernel gets besides its tensors. */
typedef struct kernel_ctx {
    thread_pool *pool;       /* the session's threads (NULL: one thread) */
    int n_threads;           /* size of pool (1 when NULL) */
} kernel_ctx;

typedef struct fast_kernel {
    const char *name;        /* "conv_f32_gemm__avx512": contract before "__", ISA after */
    const char *op_type;     /* the op it runs ("FusedConv") */
    const char *domain;      /* its domain ("com.strata", "" for ai.onnx) */
    uint32_t isa;            /* CPU_* bits it needs */
    gemm_isa gemm;           /* the GEMM microkernel family it calls */
    int priority;            /* larger wins among supported rows (heuristic tactic choice) */
    /* Can this row run node n whose inputs have these static types (data set for constants,
     * dims -1 when unknown)? Must not fail: false when unsure. */
    bool (*supports)(const op_node *n, const strata_tensor *const *in);
    /* Computes the outputs (their shapes come from the reference op's infer; data is not
     * zeroed). Scratch comes from mem_alloc (the session's scratch arena during a run). */
    strata_status (*run)(const struct fast_kernel *k, const op_node *n,
                         const strata_tensor *const *in, strata_tensor *const *out,
                         const kernel_ctx *ctx);
    /* Optional weight prepacking at compile time (NULL: none). packed_size gives the bytes of
     * the packed form of node n's constant weights for this kernel (0: nothing to pack, e.g. a
     * weight that is not constant); pack writes them. The compiler stores the result as a
     * uint8 initializer appended to the node's inputs and names its index in the node's
     * "packed_input" attribute, so run finds it with fast_packed_input(). */
    size_t (*packed_size)(const struct fast_kernel *k, const op_node *n, const strata_tensor *const *in);
    strata_status (*pack)(const struct fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                          void *packed);
    /* Optional (NULL: never): may node n's output share the memory of its input 3, a residual of
     * exactly the output's shape, when that residual dies at n? True where the kernel reads each
     * residual element just before it writes the same output element and never after (the sum
     * in its epilogue), so the memory plan can drop one activation-sized buffer and its
     * traffic. The compiler checks the shapes; the kernel checks the activation and refuses,
     * with an error, an in-place residual it would have to add in a separate pass. */
    bool (*residual_in_place)(const op_node *n);
} fast_kernel;

/* The input whose values a packed form replaces (the weights of Conv, Gemm, MatMul): when the
 * node is its only reader, the compiler drops those values from the plan and keeps the dims, so
 * a kernel with packed weights must read only the dims of this input. */
#define FAST_PACKED_REPLACES_INPUT 1

/* The packed weights the compiler attached to node n (see fast_kernel.pack), or NULL. */
const void *fast_packed_input(const op_node *n, const strata_tensor *const *in);

/* True for rows that compute in bfloat16 (their contract, the part of the name before "__",
 * contains "_bf16"): the compiler offers them only when a plan is compiled with --precision
 * bf16. */
bool fast_kernel_is_bf16(const fast_kernel *k);

/* The row called name that runs op_type of domain, or NULL. */
const fast_kernel *fast_kernel_find(const char *name, const char *op_type, const char *domain);
/* The best row (highest priority) for node n that this CPU can run, or NULL. */
const fast_kernel *fast_kernel_choose(const op_node *n, const strata_tensor *const *in);
/* All rows whose op matches n and that this CPU can run and that support it, best first, up to
 * max; returns the count (for autotuning). */
size_t fast_kernel_candidates(const op_node *n, const strata_tensor *const *in,
                              const fast_kernel **out, size_t max);

#endif
