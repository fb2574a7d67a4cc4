/* kernels/fast_registry.c — the table of fast kernels (fast_conv.c, fast_matmul.c): lookup by
 * name for plans, and the choice among rows that support a node on this CPU. */
#include <string.h>

#include "fast_internal.h"

typedef struct family {
    const fast_kernel *rows;
    const size_t *count;
} family;

static const family families[] = {
    {fast_conv_nhwc_kernels, &fast_conv_nhwc_count},
    {fast_conv_dwpw_kernels, &fast_conv_dwpw_count},
    {fast_winograd_kernels, &fast_winograd_count},
    {fast_conv_kernels, &fast_conv_count},
    {fast_conv_pwt_kernels, &fast_conv_pwt_count},
    {fast_dnnl_conv_kernels, &fast_dnnl_conv_count},
    {fast_matmul_kernels, &fast_matmul_count},
    {fast_pool_kernels, &fast_pool_count},
    {fast_dnnl_kernels, &fast_dnnl_count},
    {fast_dnnl_matmul_kernels, &fast_dnnl_matmul_count},
    {fast_transformer_kernels, &fast_transformer_count},
};

static bool op_matches(const fast_kernel *k, const op_node *n)
{
    return strcmp(k->op_type, n->op_type) == 0 && strcmp(k->domain, n->domain) == 0;
}

bool fast_kernel_is_bf16(const fast_kernel *k)
{
    const char *end = strstr(k->name, "__"), *at = strstr(k->name, "_bf16");
    return at && (!end || at < end);
}

const fast_kernel *fast_kernel_find(const char *name, const char *op_type, const char *domain)
{
    for (size_t f = 0; f < ARRAY_LEN(families); f++)
        for (size_t i = 0; i < *families[f].count; i++) {
            const fast_kernel *k = &families[f].rows[i];
            if (strcmp(k->name, name) == 0 && strcmp(k->op_type, op_type) == 0 && strcmp(k->domain, domain) == 0)
                return k;
        }
    return NULL;
}

size_t fast_kernel_candidates(const op_node *n, const strata_tensor *const *in,
                              const fast_kernel **out, size_t max)
{
    uint32_t have = cpu_features();
    size_t count = 0;
    for (size_t f = 0; f < ARRAY_LEN(families); f++)
        for (size_t i = 0; i < *families[f].count; i++) {
            const fast_kernel *k = &families[f].rows[i];
            if (!op_matches(k, n) || (k->isa & ~have) || !k->supports(n, in)) continue;
            /* insertion by priority, best first */
            size_t at = count < max ? count : max;
            while (at > 0 && out[at - 1]->priority < k->priority) {
                if (at < max) out[at] = out[at - 1];
                at--;
            }
            if (at < max) out[at] = k;
            if (count < max) count++;
        }
    return count;
}

const fast_kernel *fast_kernel_choose(const op_node *n, const strata_tensor *const *in)
{
    const fast_kernel *best[1];
    return fast_kernel_candidates(n, in, best, 1) ? best[0] : NULL;
}
