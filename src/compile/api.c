/* compile/api.c — the public strata_compile(): read, optimize, lower, write the plan. */
#include <string.h>

#include "internal.h"

strata_status strata_compile(const char *model_path, const char *plan_path,
                             const strata_compile_options *opts)
{
    compile_options o;
    memset(&o, 0, sizeof o);
    if (opts) {
        if (opts->n_shapes > ARRAY_LEN(o.shapes))
            return error_set(STRATA_INVALID_ARGUMENT, "compile: more than %zu shapes", ARRAY_LEN(o.shapes));
        for (unsigned i = 0; i < opts->n_shapes; i++) {
            strata_status st = compile_parse_shape(opts->shapes[i], &o.shapes[i]);
            if (st != STRATA_OK) return st;
        }
        o.n_shapes = (int)opts->n_shapes;
        o.dump_dir = opts->dump_dir;
        o.timing_cache = opts->timing_cache;
        o.n_threads = opts->n_threads;
        if (opts->precision) {
            strata_status st = compile_parse_precision(opts->precision, &o.precision);
            if (st != STRATA_OK) return st;
        }
        if (!opts->tactics || strcmp(opts->tactics, "heuristic") == 0) o.tactics = TACTICS_HEURISTIC;
        else if (strcmp(opts->tactics, "autotune") == 0) o.tactics = TACTICS_AUTOTUNE;
        else if (strcmp(opts->tactics, "reference") == 0) o.tactics = TACTICS_REFERENCE;
        else return error_set(STRATA_INVALID_ARGUMENT, "compile: tactics '%s' is not heuristic, autotune or reference",
                              opts->tactics);
    }
    ir_model *m = NULL;
    strata_status st = onnx_read_model(model_path, &m);
    if (st == STRATA_OK) st = compile_optimize(m, &o);
    if (st == STRATA_OK) st = compile_write_plan(m, &o, plan_path);
    ir_model_destroy(m);
    return st;
}
