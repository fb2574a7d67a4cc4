/* runtime/runtime.h — the runtime layer's interface. For now a session runs the model's graph
 * with the reference interpreter (ir/eval); plans and compiled sessions come with the compiler. */
#ifndef STRATA_RUNTIME_INTERNAL_H
#define STRATA_RUNTIME_INTERNAL_H

#include "serialize/serialize.h"

struct strata_session {
    const strata_model *model;     /* borrowed; outlives the session */
    strata_session_options opts;   /* as given (defaults filled) */
    const strata_tensor **feeds;   /* per graph input: scratch for one run */
    strata_tensor **results;       /* per graph output: scratch for one run */
};

#endif
