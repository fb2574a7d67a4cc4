/* tests/kernels/test_dnnl.c — the oneDNN sgemm tactic against the reference ops: Gemm with
 * transposes, alpha/beta and a broadcast C, FusedMatMul with bias, residual and activations, on
 * random shapes including 1-wide and odd sizes, on 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "op_harness.h"

static strata_tensor *rnd(int rank, const int64_t *dims, unsigned *seed)
{
    strata_tensor *t = op_tensor(STRATA_DTYPE_F32, rank, dims, NULL);
    float *d = t->data;
    for (int64_t i = 0; i < strata_tensor_numel(t); i++) {
        *seed = *seed * 1103515245u + 12345u;
        d[i] = (float)((*seed >> 16) % 2001) / 1000.0f - 1.0f;
    }
    return t;
}

/* Runs node (domain, op) with the fast kernel name and with its reference; compares. */
static void compare(const char *domain, const char *op, const attr *attrs, size_t n_attrs, strata_tensor **in,
                    size_t n_in, const char *kernel, int threads)
{
    const fast_kernel *k = fast_kernel_find(kernel, op, domain);
    const op_def *ref = ref_op_find(domain, op, 21);
    EXPECT(k && ref);
    if (!k || !ref) return;
    op_node n = {"t", op, domain, 21, attrs, n_attrs, n_in, 1};
    EXPECT(k->supports(&n, (const strata_tensor *const *)in));
    strata_tensor *want = mem_calloc(1, sizeof *want), *got = mem_calloc(1, sizeof *got);
    EXPECT_OK(ref->infer(&n, (const strata_tensor *const *)in, &want));
    EXPECT_OK(ref->infer(&n, (const strata_tensor *const *)in, &got));
    EXPECT_OK(tensor_alloc_data(want));
    EXPECT_OK(tensor_alloc_data(got));
    EXPECT_OK(ref->compute(&n, (const strata_tensor *const *)in, &want));
    thread_pool *pool = NULL;
    if (threads > 1) thread_pool_create(threads, &pool);
    kernel_ctx ctx = {pool, threads};
    EXPECT_OK(k->run(k, &n, (const strata_tensor *const *)in, &got, &ctx));
    thread_pool_destroy(pool);
    double worst = 0;
    for (int64_t i = 0; i < strata_tensor_numel(want); i++) {
        double d = fabs(tensor_get_f64(got, i) - tensor_get_f64(want, i)) / (1.0 + fabs(tensor_get_f64(want, i)));
        if (d > worst) worst = d;
    }
    EXPECT_NEAR(worst, 0.0, 1e-4);
    strata_tensor_destroy(want);
    strata_tensor_destroy(got);
}

TEST(test_dnnl_gemm_matches_reference)
{
    unsigned seed = 7;
    const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 128, 96}, {2, 300, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int64_t ad[2] = {ta ? K : M, ta ? M : K}, bd[2] = {tb ? N : K, tb ? K : N}, cd[1] = {N};
            strata_tensor *in[3] = {rnd(2, ad, &seed), rnd(2, bd, &seed), rnd(1, cd, &seed)};
            attr at[4] = {attr_int_of("transA", ta), attr_int_of("transB", tb), attr_float_of("alpha", 0.5f),
                          attr_float_of("beta", 2.0f)};
            compare("", "Gemm", at, 4, in, 3, "gemm_f32__dnnl", 1 + (t & 1));
            for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
        }
    }
}

TEST(test_dnnl_fused_matmul_matches_reference)
{
    unsigned seed = 11;
    const char *acts[3] = {"", "Relu", "Gelu"};
    for (int a = 0; a < 3; a++) {
        int64_t ad[3] = {2, 7, 33}, bd[2] = {33, 19}, biasd[1] = {19}, zd[3] = {2, 7, 19};
        strata_tensor *in[4] = {rnd(3, ad, &seed), rnd(2, bd, &seed), rnd(1, biasd, &seed), rnd(3, zd, &seed)};
        attr at[1] = {attr_string_of("activation", acts[a])};
        compare("com.strata", "FusedMatMul", at, 1, in, 4, "matmul_f32__dnnl", 2);
        for (int i = 0; i < 4; i++) strata_tensor_destroy(in[i]);
    }
}
