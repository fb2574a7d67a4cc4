/* kernels/dnnl/gemm.c — oneDNN's sgemm (Debian libdnnl) as a tactic for Gemm / MatMul and their
 * com.strata fused forms, beside Strata's own GEMM, for autotune to choose per shape. Each
 * thread of the session's pool runs a single-threaded sgemm on a block of rows (oneDNN's OpenMP
 * team would spin after each call, taking the cores our pool needs next). The bias, residual
 * and activation are applied around the call (C prefilled with the bias; the rest in a pass
 * after). */
#include <omp.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "kernels/fast_internal.h"

#define ROW_GRAIN 16

typedef struct sgemm_job {
    char ta, tb;
    int64_t M, N, K, lda, ldb, step;
    float alpha, beta;
    const float *A, *B;
    float *C;
    dnnl_status_t status[64];
} sgemm_job;

static void sgemm_rows(void *arg, int64_t i, int thread_index)
{
    (void)thread_index;
    sgemm_job *j = arg;
    int64_t m0 = i * j->step, m = j->M - m0 < j->step ? j->M - m0 : j->step;
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
    const float *a = j->ta == 'T' ? j->A + m0 : j->A + m0 * j->lda;
    j->status[i] = dnnl_sgemm(j->ta, j->tb, m, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb, j->beta,
                              j->C + m0 * j->N, j->N);
}

static bool op_is(const op_node *n, const char *onnx, const char *fused)
{
    return (strcmp(n->op_type, onnx) == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, fused) == 0 && strcmp(n->domain, "com.strata") == 0);
}

static bool supports(const op_node *n, const strata_tensor *const *in)
{
    bool gemm = op_is(n, "Gemm", "FusedGemm"), matmul = op_is(n, "MatMul", "FusedMatMul");
    if ((!gemm && !matmul) || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (strcmp(op_attr_string(n, "layout", "NCHW"), "NCHW") != 0) return false;
    if (in[1]->rank != 2 || in[0]->rank < 2 || (gemm && in[0]->rank != 2)) return false;
    if (n->n_inputs > 2 && in[2] && (!fast_f32(in[2]) || in[2]->rank > 2)) return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    fast_act a;
    return fast_activation(n, &a);
}

static strata_status run(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                         strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)k;
    const strata_tensor *A = in[0], *B = in[1], *C = n->n_inputs > 2 ? in[2] : NULL;
    const strata_tensor *z = n->n_inputs > 3 ? in[3] : NULL;
    strata_tensor *y = out[0];
    bool gemm = op_is(n, "Gemm", "FusedGemm");
    bool ta = gemm && op_attr_int(n, "transA", 0) != 0, tb = op_attr_int(n, "transB", 0) != 0;
    float alpha = gemm ? op_attr_float(n, "alpha", 1.0f) : 1.0f, beta = gemm ? op_attr_float(n, "beta", 1.0f) : 1.0f;
    int64_t N = y->dims[y->rank - 1], M = strata_tensor_numel(y) / (N ? N : 1);
    int64_t K = ta ? A->dims[0] : A->dims[A->rank - 1];
    float *Y = y->data;
    float c_scale = 0.0f;
    if (C && beta != 0.0f) { /* C broadcast into the output, scaled by beta inside the call */
        int64_t cstr[STRATA_MAX_DIMS];
        shape_broadcast_strides(C->rank, C->dims, 2, cstr);
        const float *c = C->data;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) Y[i * N + j] = c[(C->rank == 2 ? i * cstr[0] : 0) + j * cstr[1]];
        c_scale = beta;
    }
    sgemm_job job = {ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, A->dims[A->rank - 1], B->dims[1], M, alpha, c_scale,
                     A->data, B->data, Y, {dnnl_success}};
    int threads = thread_pool_size(ctx ? ctx->pool : NULL);
    int64_t parts = M / ROW_GRAIN < threads ? M / ROW_GRAIN : threads;
    if (parts > 64) parts = 64;
    if (parts > 1) job.step = (M + parts - 1) / parts;
    int64_t n_parts = M ? (M + job.step - 1) / job.step : 0;
    if (n_parts > 1) thread_pool_parallel_for(ctx->pool, n_parts, sgemm_rows, &job);
    else if (n_parts == 1) sgemm_rows(&job, 0, 0);
    for (int64_t i = 0; i < n_parts; i++)
        if (job.status[i] != dnnl_success)
            return op_error(n, STRATA_INTERNAL, "oneDNN sgemm failed with status %d", (int)job.status[i]);
    fast_act act;
    fast_activation(n, &act);
    fast_tail(Y, y->dims, y->rank, z, &act);
    return STRATA_OK;
}

const fast_kernel fast_dnnl_kernels[] = {
    {"gemm_f32__dnnl", "Gemm", "", 0, GEMM_ISA_AUTO, 5, supports, run, NULL, NULL, NULL},
    {"gemm_f32__dnnl", "FusedGemm", "com.strata", 0, GEMM_ISA_AUTO, 5, supports, run, NULL, NULL, NULL},
    {"matmul_f32__dnnl", "MatMul", "", 0, GEMM_ISA_AUTO, 5, supports, run, NULL, NULL, NULL},
    {"matmul_f32__dnnl", "FusedMatMul", "com.strata", 0, GEMM_ISA_AUTO, 5, supports, run, NULL, NULL, NULL},
};
const size_t fast_dnnl_count = ARRAY_LEN(fast_dnnl_kernels);
