/* kernels/fast_conv_winograd.c — Winograd F(4x4,3x3) convolution for 3x3 stride-1 Conv and FusedConv (placeholder row until the kernel lands: supports nothing). */
#include "fast_internal.h"

static bool supports_none(const op_node *n, const strata_tensor *const *in)
{
    (void)n, (void)in;
    return false;
}

static strata_status run_none(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)k, (void)in, (void)out, (void)ctx;
    return op_error(n, STRATA_UNSUPPORTED, "placeholder kernel");
}

const fast_kernel fast_winograd_kernels[] = {
    {"winograd_placeholder__none", "Conv", "", 0, GEMM_ISA_AUTO, 0, supports_none, run_none, NULL, NULL},
};
const size_t fast_winograd_count = ARRAY_LEN(fast_winograd_kernels);
