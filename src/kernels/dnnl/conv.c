/* kernels/dnnl/conv.c — oneDNN convolution primitives (fp32 and bf16) for Conv and FusedConv (placeholder row until the kernel lands: supports nothing). */
#include "kernels/fast_internal.h"

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

const fast_kernel fast_dnnl_conv_kernels[] = {
    {"dnnl_conv_placeholder__none", "Conv", "", 0, GEMM_ISA_AUTO, 0, supports_none, run_none, NULL, NULL},
};
const size_t fast_dnnl_conv_count = ARRAY_LEN(fast_dnnl_conv_kernels);
