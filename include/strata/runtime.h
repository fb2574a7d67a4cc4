/* strata/runtime.h — sessions: run a model on caller tensors.
 * A session borrows its model (the model must outlive it) and runs one request at a time; use
 * one session per thread to run in parallel. */
#ifndef STRATA_RUNTIME_H
#define STRATA_RUNTIME_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct strata_session strata_session;

typedef struct strata_session_options {
    int n_threads; /* worker threads; 0 = one per core */
} strata_session_options;

/* opts may be NULL for defaults. */
STRATA_API strata_status strata_session_create(const strata_model *m,
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

#ifdef __cplusplus
}
#endif
#endif
