/* strata/compile.h — compile an ONNX model into a plan for this machine (graph passes, kernel
 * choice, memory plan), written as a versioned plan file that strata_plan_open maps. */
#ifndef STRATA_COMPILE_H_PUBLIC
#define STRATA_COMPILE_H_PUBLIC

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_compile_options {
    const char *const *shapes; /* "NAME=1x3x224x224" (fixed) or "NAME=MIN:OPT:MAX" per input */
    unsigned n_shapes;
    const char *dump_dir;      /* write the graph after each pass here (ONNX), or NULL */
    const char *tactics;       /* "heuristic" (NULL), "autotune" or "reference" */
    const char *timing_cache;  /* autotune results file (read, then appended to), or NULL */
    int n_threads;             /* threads autotune times with (0 = one per core) */
    const char *precision;     /* "fp32" (NULL) or "bf16": conv and matmul may compute in
                                  bfloat16 where this CPU has kernels for it */
} strata_compile_options;

/* Reads model_path (ONNX), optimizes it and writes the plan to plan_path. opts may be NULL:
 * symbolic input dims are then taken as 1. */
STRATA_API strata_status strata_compile(const char *model_path, const char *plan_path,
                                        const strata_compile_options *opts);

#ifdef __cplusplus
}
#endif
#endif
