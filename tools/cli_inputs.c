/* tools/cli_inputs.c — random inputs for a model's inputs (bench, profile): symbolic dims get
 * the batch for dim 0 and 1 elsewhere; int inputs get small non-negative values (token ids). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

strata_status cli_random_inputs(const strata_model *m, int64_t batch, cli_inputs *in)
{
    memset(in, 0, sizeof *in);
    size_t n = strata_model_input_count(m);
    if (n > CLI_MAX_INPUTS) return error_set(STRATA_UNSUPPORTED, "more than %d inputs", CLI_MAX_INPUTS);
    uint64_t seed = 42;
    for (size_t i = 0; i < n; i++) {
        strata_value_info info;
        strata_status st = strata_model_input_info(m, i, &info);
        if (st != STRATA_OK) return st;
        if (info.rank < 0) return error_set(STRATA_UNSUPPORTED, "input '%s' has no known rank", info.name);
        int64_t dims[STRATA_MAX_DIMS];
        for (int d = 0; d < info.rank; d++) dims[d] = info.dims[d] >= 0 ? info.dims[d] : d == 0 ? batch : 1;
        strata_dtype dt = info.dtype == STRATA_DTYPE_UNDEFINED ? STRATA_DTYPE_F32 : info.dtype;
        st = strata_tensor_create(dt, info.rank, dims, &in->tensors[i]);
        if (st != STRATA_OK) return st;
        in->names[i] = info.name;
        strata_tensor *t = in->tensors[i];
        for (int64_t k = 0; k < strata_tensor_numel(t); k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t r = (uint32_t)(seed >> 33);
            if (dtype_is_float(dt)) tensor_set_f64(t, k, (double)(r % 2000) / 1000.0 - 1.0);
            else if (dt != STRATA_DTYPE_STRING) tensor_set_i64(t, k, (int64_t)(r % 1000));
        }
        in->n++;
    }
    return STRATA_OK;
}

void cli_inputs_release(cli_inputs *in)
{
    for (size_t i = 0; i < in->n; i++) strata_tensor_destroy(in->tensors[i]);
    memset(in, 0, sizeof *in);
}
