/* tests/fuzz/fuzz_safetensors.c — a safetensors file, untrusted, bound to a model whose
 * initializers cover the dtypes and ranks the binder checks against ("w" f32 [4,3], "b" f32
 * [3], "i" int64 [2,2,2], "h" f16 [5], "s" f32 scalar). Binding must fail with an error or
 * leave every bound tensor with the initializer's dtype, shape and byte count.
 * Seeds: scripts/fuzz.sh writes a few valid files. */
#include <string.h>

#include "fuzz.h"
#include "serialize/serialize.h"

static void add(ir_graph *g, const char *name, strata_dtype t, int rank, const int64_t *dims)
{
    strata_tensor *x = NULL;
    int id;
    if (strata_tensor_create(t, rank, dims, &x) != STRATA_OK ||
        ir_graph_add_initializer(g, name, x, &id) != STRATA_OK)
        fuzz_fail("cannot build the model");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ir_model *m = ir_model_create();
    m->graph = ir_graph_create(NULL, m);
    add(m->graph, "w", STRATA_DTYPE_F32, 2, (const int64_t[]){4, 3});
    add(m->graph, "b", STRATA_DTYPE_F32, 1, (const int64_t[]){3});
    add(m->graph, "i", STRATA_DTYPE_I64, 3, (const int64_t[]){2, 2, 2});
    add(m->graph, "h", STRATA_DTYPE_F16, 1, (const int64_t[]){5});
    add(m->graph, "s", STRATA_DTYPE_F32, 0, NULL);
    size_t n_bound = 0;
    if (safetensors_bind(m, fuzz_scratch_file(data, size, ".safetensors"), &n_bound) == STRATA_OK) {
        if (n_bound > 5) fuzz_fail("bound more tensors than the model has");
        const ir_graph *g = m->graph;
        for (size_t k = 0; k < g->n_values; k++) {
            const strata_tensor *t = g->values[k].init;
            if (!t) continue;
            if (t->n_bytes != (size_t)strata_tensor_numel(t) * strata_dtype_size(t->dtype))
                fuzz_fail("a bound tensor's bytes do not match its shape");
            volatile uint8_t sum = 0; /* every byte must be readable (ASan checks) */
            for (size_t j = 0; j < t->n_bytes; j++) sum ^= ((const uint8_t *)t->data)[j];
            (void)sum;
        }
    }
    ir_model_destroy(m);
    return 0;
}
