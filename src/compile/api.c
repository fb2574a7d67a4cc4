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
    }
    ir_model *m = NULL;
    strata_status st = onnx_read_model(model_path, &m);
    if (st == STRATA_OK) st = compile_optimize(m, &o);
    if (st == STRATA_OK) st = compile_write_plan(m, &o, plan_path);
    ir_model_destroy(m);
    return st;
}
