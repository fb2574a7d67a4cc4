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

/* ---- asynchronous runs ------------------------------------------------------------------------ */

/* Called on the session's worker thread when an asynchronous run ends. */
typedef void (*strata_run_callback)(void *user, strata_status status);

/* Starts strata_session_run(...) on the session's worker thread and returns at once. Names,
 * tensors and the outputs array are borrowed until the run ends (done called, or
 * strata_session_wait returned). One run at a time per session: a second submit while one is in
 * flight returns STRATA_QUEUE_FULL at once. done may be NULL (then use strata_session_wait). */
STRATA_API strata_status strata_session_run_async(strata_session *s, size_t n_inputs,
                                                  const char *const *input_names,
                                                  strata_tensor *const *inputs, size_t n_outputs,
                                                  const char *const *output_names,
                                                  strata_tensor **outputs,
                                                  strata_run_callback done, void *user);
/* Waits for the submitted run (if any) and returns its status; its error message becomes this
 * thread's last error. */
STRATA_API strata_status strata_session_wait(strata_session *s);

/* ---- profiling (plan sessions) --------------------------------------------------------------- */

/* What a step's time is spent on, so a user can see which layer owns a bottleneck. */
typedef enum strata_cost_class {
    STRATA_COST_COMPUTE = 0,   /* arithmetic kernels (conv, matmul, attention, elementwise math) */
    STRATA_COST_MEMORY = 1,    /* data movement: copies, layout conversions, reshapes, gathers */
    STRATA_COST_CONTROL = 2    /* control flow run by the interpreter (If, Loop, Scan) */
} strata_cost_class;

typedef struct strata_step_profile {
    const char *node;          /* node name (borrowed from the plan) */
    const char *op_type;       /* op type (borrowed) */
    const char *kernel;        /* kernel the plan chose (borrowed) */
    uint64_t start_ns;         /* start, relative to the run's start */
    uint64_t ns;               /* duration in the last run */
    uint64_t bytes_read;       /* input bytes */
    uint64_t bytes_written;    /* output bytes */
    strata_cost_class cost;    /* what kind of work it is */
} strata_step_profile;

/* Turns per-step timing on or off for the next runs (plan sessions only). */
STRATA_API strata_status strata_session_set_profiling(strata_session *s, int on);
/* Copies up to max steps of the last profiled run into steps; returns the number of steps.
 * *run_ns receives the whole run's time (steps + framework overhead). */
STRATA_API size_t strata_session_profile(const strata_session *s, strata_step_profile *steps,
                                         size_t max, uint64_t *run_ns);

/* Heap allocations the last run made (0 once a shape has been seen: the arena and scratch
 * cover it). For tests and profiling. */
STRATA_API size_t strata_session_last_run_allocations(const strata_session *s);

#ifdef __cplusplus
}
#endif
#endif
