/* compile/compile.h — the compile layer's interface: a pipeline of graph passes that turns a
 * model into a faster equivalent graph for this machine (still runnable by ir/eval, so every
 * pass is checked against the reference), then lowering to a plan. */
#ifndef STRATA_COMPILE_H
#define STRATA_COMPILE_H

#include "serialize/serialize.h"

#define STRATA_FUSED_DOMAIN "com.strata" /* ops the compiler creates (kernels/ref/fused.c) */
#define COMPILE_FOLD_LIMIT_BYTES (1u << 20)  /* constant folding never makes a bigger tensor */

/* An input shape range: MIN:OPT:MAX per dim (all equal for a fixed --shape). */
typedef struct compile_shape {
    char name[128];                 /* graph input name */
    int rank;                       /* dims below */
    int64_t min[STRATA_MAX_DIMS];   /* smallest extent accepted at run time */
    int64_t opt[STRATA_MAX_DIMS];   /* extent tactics are chosen for */
    int64_t max[STRATA_MAX_DIMS];   /* extent the memory plan is sized for */
} compile_shape;

typedef enum compile_tactics {
    TACTICS_HEURISTIC = 0,  /* the best fast kernel this CPU supports, chosen without running */
    TACTICS_REFERENCE = 1,  /* reference kernels only (the oracle; portable plans) */
    TACTICS_AUTOTUNE = 2    /* time the candidates on this machine, keep the fastest */
} compile_tactics;

typedef enum compile_layout {
    LAYOUT_AUTO = 0,  /* NHWC for convolution regions with depthwise convs (where it measured
                         faster), NCHW elsewhere */
    LAYOUT_NCHW = 1,  /* keep the model's NCHW everywhere */
    LAYOUT_NHWC = 2   /* every convolution region in NHWC */
} compile_layout;

typedef enum compile_precision {
    PRECISION_FP32 = 0, /* every kernel computes in float32 */
    PRECISION_BF16 = 1  /* kernels with a bfloat16 form (conv, matmul: names with "_bf16") may
                           compute in bfloat16 (inputs rounded to bf16, f32 accumulation and
                           output); the rest stays float32 */
} compile_precision;

typedef struct compile_options {
    compile_tactics tactics;        /* how kernels are chosen */
    compile_layout layout;          /* activation layout of convolution regions */
    compile_precision precision;    /* --precision fp32|bf16 */
    const char *timing_cache;       /* autotune results file (read and updated), or NULL */
    int n_threads;                  /* threads autotune times kernels with (0 = one per core) */
    compile_shape shapes[16];       /* --shape / --profile per input */
    int n_shapes;
    const char *dump_dir;           /* write the graph after each pass here, or NULL */
    bool verbose;                   /* print one line per pass with its change count */
} compile_options;

/* Runs the pass pipeline (compile/passes.def) over m's main graph in place, verifying the
 * graph after every pass. */
strata_status compile_optimize(ir_model *m, const compile_options *o);

/* Lowers an optimized model (compile_optimize) to a plan file at path: a kernel per node, the
 * memory plan at the profile's max shapes, the accepted input shapes. Symbolic input dims
 * without a --shape/--profile are taken as 1. */
strata_status compile_write_plan(ir_model *m, const compile_options *o, const char *path);

/* Parses "NAME=1x3x224x224" (fixed) or "NAME=1x3x224x224:8x3x224x224:32x3x224x224"
 * (min:opt:max) into s. */
strata_status compile_parse_shape(const char *spec, compile_shape *s);

/* Parses "fp32" or "bf16" (also "float32", "bfloat16"). */
strata_status compile_parse_precision(const char *name, compile_precision *p);

#endif
