/* kernels/fast_matmul.c — f32 Gemm / MatMul tactics on the packed GEMM: gemm_f32 for Gemm and
 * com.strata FusedGemm (transposes, alpha, beta*C as a bias or a copied C, residual and
 * activation in the epilogue), matmul_f32 for MatMul and com.strata FusedMatMul (numpy batch
 * broadcasting, one GEMM per batch item; a 2-D right operand folds the batch into M). */
#include <string.h>

#include "fast_internal.h"

static bool op_is(const op_node *n, const char *onnx, const char *fused)
{
    return (strcmp(n->op_type, onnx) == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, fused) == 0 && strcmp(n->domain, "com.strata") == 0);
}

/* ---- Gemm ------------------------------------------------------------------------------------ */

static bool supports_gemm(const op_node *n, const strata_tensor *const *in)
{
    if (!op_is(n, "Gemm", "FusedGemm") || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (in[0]->rank != 2 || in[1]->rank != 2) return false;
    if (n->n_inputs > 2 && in[2] && (!fast_f32(in[2]) || in[2]->rank > 2)) return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    fast_act a;
    return fast_activation(n, &a);
}

static strata_status run_gemm(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    const strata_tensor *A = in[0], *B = in[1], *Cin = n->n_inputs > 2 ? in[2] : NULL;
    const strata_tensor *z = n->n_inputs > 3 ? in[3] : NULL;
    strata_tensor *y = out[0];
    bool ta = op_attr_int(n, "transA", 0) != 0, tb = op_attr_int(n, "transB", 0) != 0;
    float alpha = op_attr_float(n, "alpha", 1.0f), beta = op_attr_float(n, "beta", 1.0f);
    int64_t M = y->dims[0], N = y->dims[1], K = ta ? A->dims[0] : A->dims[1];
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool tail = (z && !z_exact) || act.post != FAST_POST_NONE;
    gemm_args a = gemm_args_make(M, N, K, A->data, B->data, y->data);
    a.trans_a = ta;
    a.lda = A->dims[1];
    a.trans_b = tb;
    a.ldb = B->dims[1];
    a.alpha = alpha;
    a.isa = k->gemm;
    float *scaled = NULL;
    if (Cin && beta != 0.0f) {
        int64_t cn = strata_tensor_numel(Cin);
        const float *c = Cin->data;
        bool col_bias = cn == N && (Cin->rank == 1 || Cin->dims[0] == 1);
        if (col_bias && beta == 1.0f) {
            a.epi.bias_kind = GEMM_BIAS_COL;
            a.epi.bias = c;
        } else if (col_bias) {
            scaled = mem_alloc((size_t)N * sizeof *scaled);
            if (!scaled) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
            for (int64_t j = 0; j < N; j++) scaled[j] = beta * c[j];
            a.epi.bias_kind = GEMM_BIAS_COL;
            a.epi.bias = scaled;
        } else { /* broadcast C into the output, then C_out = beta*C + alpha*AB */
            int64_t cstr[STRATA_MAX_DIMS];
            shape_broadcast_strides(Cin->rank, Cin->dims, 2, cstr);
            float *Y = y->data;
            for (int64_t i = 0; i < M; i++)
                for (int64_t j = 0; j < N; j++) Y[i * N + j] = c[i * cstr[0] + j * cstr[1]];
            a.beta = beta;
        }
    }
    if (z_exact && !tail) {
        a.epi.residual = z->data;
        a.epi.ldr = N;
    }
    if (!tail) {
        a.epi.act = act.gemm;
        a.epi.act_min = act.act_min;
        a.epi.act_max = act.act_max;
    }
    const void *packed = fast_packed_input(n, in);
    strata_status st = packed ? gemm_f32_with_packed_b(&a, packed, ctx->pool) : gemm_f32(&a, ctx->pool);
    mem_free(scaled);
    if (st == STRATA_OK && tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return st;
}

/* ---- MatMul ---------------------------------------------------------------------------------- */

static bool supports_matmul(const op_node *n, const strata_tensor *const *in)
{
    if (!op_is(n, "MatMul", "FusedMatMul") || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1]))
        return false;
    if (in[0]->rank < 2 || in[1]->rank < 2) return false; /* 1-D operands: reference */
    if (n->n_inputs > 2 && in[2] && (!fast_f32(in[2]) || in[2]->rank != 1)) return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    fast_act a;
    return fast_activation(n, &a);
}

static strata_status run_matmul(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out, const kernel_ctx *ctx)
{
    const strata_tensor *A = in[0], *B = in[1];
    const strata_tensor *bias = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    strata_tensor *y = out[0];
    bool tb = strcmp(n->op_type, "FusedMatMul") == 0 && op_attr_int(n, "transB", 0) != 0;
    int ra = A->rank, rb = B->rank, ry = y->rank;
    int64_t M = A->dims[ra - 2], K = A->dims[ra - 1], N = tb ? B->dims[rb - 2] : B->dims[rb - 1];
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool tail = (z && !z_exact) || act.post != FAST_POST_NONE;
    gemm_args a = gemm_args_make(M, N, K, A->data, B->data, y->data);
    a.isa = k->gemm;
    if (tb) {
        a.trans_b = true;
        a.ldb = K;
    }
    if (bias) {
        a.epi.bias_kind = GEMM_BIAS_COL;
        a.epi.bias = bias->data;
    }
    if (!tail) {
        a.epi.act = act.gemm;
        a.epi.act_min = act.act_min;
        a.epi.act_max = act.act_max;
    }
    int64_t batch = shape_numel(ry - 2, y->dims);
    if (rb == 2) { /* fold A's batch into M: one GEMM */
        a.M = M * (strata_tensor_numel(A) / (M * K));
        if (z_exact && !tail) {
            a.epi.residual = z->data;
            a.epi.ldr = N;
        }
        const void *packed = fast_packed_input(n, in);
        strata_status st = packed ? gemm_f32_with_packed_b(&a, packed, ctx->pool) : gemm_f32(&a, ctx->pool);
        if (st == STRATA_OK && tail) fast_tail(y->data, y->dims, y->rank, z, &act);
        return st;
    }
    /* batch broadcasting: element strides of A's and B's batch dims against y's */
    int64_t astr[STRATA_MAX_DIMS], bstr[STRATA_MAX_DIMS], ystr[STRATA_MAX_DIMS];
    shape_broadcast_strides(ra - 2, A->dims, ry - 2, astr);
    shape_broadcast_strides(rb - 2, B->dims, ry - 2, bstr);
    shape_strides(ry - 2, y->dims, ystr);
    const float *Ad = A->data, *Bd = B->data;
    float *Yd = y->data;
    strata_status st = STRATA_OK;
    for (int64_t t = 0; t < batch && st == STRATA_OK; t++) {
        int64_t ai = 0, bi = 0, rem = t;
        for (int d = 0; d < ry - 2; d++) {
            int64_t idx = rem / ystr[d];
            rem %= ystr[d];
            ai += idx * astr[d];
            bi += idx * bstr[d];
        }
        a.A = Ad + ai * M * K;
        a.B = Bd + bi * K * N;
        a.C = Yd + t * M * N;
        if (z_exact && !tail) {
            a.epi.residual = (const float *)z->data + t * M * N;
            a.epi.ldr = N;
        }
        st = gemm_f32(&a, ctx->pool);
    }
    if (st == STRATA_OK && tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return st;
}

/* ---- prepacked weights: a constant 2-D right operand, packed for the kernel's GEMM ---------- */

/* K, N and the transposition of a constant 2-D B; false when B is not a constant matrix. */
static bool const_b(const op_node *n, const strata_tensor *const *in, int64_t *K, int64_t *N, bool *tb)
{
    const strata_tensor *B = in[1];
    if (!B || !B->data || B->rank != 2 || B->dtype != STRATA_DTYPE_F32) return false;
    *tb = op_attr_int(n, "transB", 0) != 0;
    *K = *tb ? B->dims[1] : B->dims[0];
    *N = *tb ? B->dims[0] : B->dims[1];
    return *K > 0 && *N > 0;
}

static size_t packed_size_b(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    int64_t K, N;
    bool tb;
    if (strcmp(n->op_type, "MatMul") == 0 || strcmp(n->op_type, "FusedMatMul") == 0)
        if (in[0]->rank < 2) return 0;
    return const_b(n, in, &K, &N, &tb) ? gemm_f32_packed_b_size(K, N, k->gemm) : 0;
}

static strata_status pack_b(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    int64_t K, N;
    bool tb;
    if (!const_b(n, in, &K, &N, &tb)) return op_error(n, STRATA_INTERNAL, "nothing to pack");
    return gemm_f32_pack_b(K, N, in[1]->data, in[1]->dims[1], tb, k->gemm, packed);
}

const fast_kernel fast_matmul_kernels[] = {
    {"gemm_f32__avx512", "FusedGemm", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_gemm, run_gemm, packed_size_b, pack_b, NULL},
    {"gemm_f32__avx2", "FusedGemm", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_gemm, run_gemm, packed_size_b, pack_b, NULL},
    {"gemm_f32__scalar", "FusedGemm", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_gemm, run_gemm, packed_size_b, pack_b, NULL},
    {"gemm_f32__avx512", "Gemm", "", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_gemm, run_gemm, packed_size_b, pack_b, NULL},
    {"gemm_f32__avx2", "Gemm", "", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_gemm, run_gemm, packed_size_b, pack_b, NULL},
    {"gemm_f32__scalar", "Gemm", "", 0, GEMM_ISA_SCALAR, 10, supports_gemm, run_gemm, packed_size_b, pack_b, NULL},
    {"matmul_f32__avx512", "FusedMatMul", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_matmul, run_matmul, packed_size_b, pack_b, NULL},
    {"matmul_f32__avx2", "FusedMatMul", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_matmul, run_matmul, packed_size_b, pack_b, NULL},
    {"matmul_f32__scalar", "FusedMatMul", "com.strata", 0, GEMM_ISA_SCALAR, 10, supports_matmul, run_matmul, packed_size_b, pack_b, NULL},
    {"matmul_f32__avx512", "MatMul", "", CPU_AVX512, GEMM_ISA_AVX512, 30, supports_matmul, run_matmul, packed_size_b, pack_b, NULL},
    {"matmul_f32__avx2", "MatMul", "", CPU_AVX2, GEMM_ISA_AVX2, 20, supports_matmul, run_matmul, packed_size_b, pack_b, NULL},
    {"matmul_f32__scalar", "MatMul", "", 0, GEMM_ISA_SCALAR, 10, supports_matmul, run_matmul, packed_size_b, pack_b, NULL},
};
const size_t fast_matmul_count = ARRAY_LEN(fast_matmul_kernels);
