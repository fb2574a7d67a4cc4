/* strata/runtime.h — plans and sessions: run a model on caller tensors.
 * A plan (a compiled model file) is immutable and may be shared by any number of sessions on
 * any threads. A session borrows its plan or model (which must outlive it), owns its memory,
 * and runs one request at a time: one session per thread runs in parallel. */
#ifndef STRATA_RUNTIME_H
#define STRATA_RUNTIME_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_session strata_session;
typedef struct strata_plan strata_plan;

/* ---- plans ---------------------------------------------------------------------------------- */

/* Maps and validates a plan file (strata compile): refuses, with what is missing, a plan of
 * another format version or one that needs CPU features this machine lacks. */
STRATA_API strata_status strata_plan_open(const char *path, strata_plan **out);
STRATA_API void strata_plan_close(strata_plan *p);
/* Activation arena bytes each session of this plan owns. */
STRATA_API uint64_t strata_plan_arena_bytes(const strata_plan *p);
/* The plan's optimized model (borrowed; lives as long as the plan): inputs, outputs. */
STRATA_API const strata_model *strata_plan_model(const strata_plan *p);

/* ---- sessions ------------------------------------------------------------------------------- */

typedef struct strata_session_options {
    int n_threads; /* worker threads; 0 = one per core */
} strata_session_options;

/* opts may be NULL for defaults. */
STRATA_API strata_status strata_session_create(const strata_model *m,
                                               const strata_session_options *opts,
                                               strata_session **out);
/* A session on a plan: its own arena (sized by the plan) and scratch. */
STRATA_API strata_status strata_session_create_plan(const strata_plan *p,
                                                    const strata_session_options *opts,
                                                    strata_session **out);
STRATA_API void strata_session_destroy(strata_session *s);

/* Runs the model. inputs[i] feeds the graph input named input_names[i] (borrowed for the call).
 * For each requested output: outputs[i] == NULL on entry receives a new tensor the caller
 * destroys; a non-NULL outputs[i] must have the output's dtype and shape and is written in
 * place. n_outputs == 0 with output_names == NULL asks for all graph outputs in order. */
STRATA_API strata_status strata_session_run(strata_session *s, size_t n_inputs,
                                            const char *const *input_names,
                                            strata_tensor *const *inputs, size_t n_outputs,
                                            const char *const *output_names,
                                            strata_tensor **outputs);

/* Heap allocations the last run made (0 once a shape has been seen: the arena and scratch
 * cover it). For tests and profiling. */
STRATA_API size_t strata_session_last_run_allocations(const strata_session *s);

#ifdef __cplusplus
}
#endif
#endif
