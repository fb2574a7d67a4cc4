/* tests/kernels/test_gemm.c — the f32 GEMM kernels against the double-precision oracle at every
 * ISA this CPU runs (forced by gemm_args.isa), on odd shapes, tails, transposes, alpha/beta,
 * every epilogue, packed and unpacked B, 1 and 2 threads; plus CPU feature masks and the
 * thread pool. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/core.h"
#include "core/cpu.h"
#include "core/thread_pool.h"
#include "kernels/gemm.h"
#include "test.h"

static const gemm_isa all_isas[] = {GEMM_ISA_SCALAR, GEMM_ISA_AVX2, GEMM_ISA_AVX512};

/* Deterministic values in [-1, 1). */
static float rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

static float *rnd_array(int64_t n, uint64_t *s)
{
    float *p = mem_alloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (p)
        for (int64_t i = 0; i < n; i++) p[i] = rnd(s);
    return p;
}

typedef struct gemm_case {
    int64_t M, N, K;
    bool ta, tb;
    float alpha, beta;
    gemm_bias bias;
    bool residual;
    gemm_act act;
    int packed; /* 0: unpacked; 1: B prepacked; 2: A prepacked; 3: A prepacked, B read in place */
    int threads;
} gemm_case;

/* Runs one case on isa and compares with gemm_f32__ref; returns 1 when it matches. */
static int run_case(gemm_isa isa, const gemm_case *c, uint64_t seed)
{
    const int64_t M = c->M, N = c->N, K = c->K, pad = 3;
    uint64_t s = seed;
    int64_t lda = (c->ta ? M : K) + pad, ldb = (c->tb ? K : N) + pad, ldc = N + pad,
            ldr = N + 1;
    int64_t a_rows = c->ta ? K : M, b_rows = c->tb ? N : K;
    float *A = rnd_array(a_rows * lda, &s), *B = rnd_array(b_rows * ldb, &s);
    float *C = rnd_array(M * ldc + 16, &s), *C_ref = mem_alloc((size_t)(M * ldc + 16) * sizeof(float));
    float *bias = rnd_array(M > N ? M : N, &s), *R = rnd_array(M * ldr, &s);
    void *packed = NULL;
    thread_pool *pool = NULL;
    int ok = 0;
    if (!A || !B || !C || !C_ref || !bias || !R) {
        test_fail(__FILE__, __LINE__, "out of memory");
        goto done;
    }
    if (c->beta == 0.0f)
        for (int64_t i = 0; i < M * ldc; i++) C[i] = NAN; /* beta 0: C must not be read */
    memcpy(C_ref, C, (size_t)(M * ldc + 16) * sizeof(float));
    gemm_args g = gemm_args_make(M, N, K, A, B, C);
    g.lda = lda, g.ldb = ldb, g.ldc = ldc;
    g.trans_a = c->ta, g.trans_b = c->tb;
    g.alpha = c->alpha, g.beta = c->beta;
    g.epi.bias_kind = c->bias;
    g.epi.bias = c->bias ? bias : NULL;
    g.epi.residual = c->residual ? R : NULL;
    g.epi.ldr = ldr;
    g.epi.act = c->act;
    g.epi.act_min = -0.25f, g.epi.act_max = 0.5f;
    g.isa = isa;
    gemm_args gr = g;
    gr.C = C_ref;
    if (gemm_f32__ref(&gr) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "ref: %s", strata_last_error());
        goto done;
    }
    if (c->threads > 1 && thread_pool_create(c->threads, &pool) != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "pool: %s", strata_last_error());
        goto done;
    }
    strata_status st;
    if (c->packed == 1) {
        packed = mem_alloc_aligned(gemm_f32_packed_b_size(K, N, isa));
        st = packed ? gemm_f32_pack_b(K, N, B, ldb, c->tb, isa, packed) : STRATA_OUT_OF_MEMORY;
        if (st == STRATA_OK) st = gemm_f32_with_packed_b(&g, packed, pool);
    } else if (c->packed >= 2) {
        packed = mem_alloc_aligned(gemm_f32_packed_a_size(M, K, isa));
        st = packed ? gemm_f32_pack_a(M, K, A, lda, c->ta, isa, packed) : STRATA_OUT_OF_MEMORY;
        g.b_in_place = c->packed == 3;
        if (st == STRATA_OK) st = gemm_f32_with_packed_a(&g, packed, pool);
    } else {
        st = gemm_f32(&g, pool);
    }
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "gemm: %s", strata_last_error());
        goto done;
    }
    /* Error bound: fp32 accumulation over K terms of |a||b| <= 1, plus the other terms. */
    double scale = fabs(c->alpha) + fabs(c->beta) + (c->bias ? 1 : 0) + (c->residual ? 1 : 0);
    double tol = 1e-5 * (double)(K + 4) * scale + 1e-6;
    ok = 1;
    for (int64_t i = 0; i < M * ldc + 16 && ok; i++) {
        int64_t row = i / ldc, col = i % ldc;
        int inside = row < M && col < N;
        if (inside ? !(fabs((double)C[i] - (double)C_ref[i]) <= tol)
                   : memcmp(&C[i], &C_ref[i], sizeof(float)) != 0) {
            test_fail(__FILE__, __LINE__,
                      "%s M=%lld N=%lld K=%lld ta=%d tb=%d alpha=%g beta=%g bias=%d res=%d act=%d "
                      "packed=%d threads=%d: C[%lld,%lld] = %.9g, expected %.9g (%s, tol %g)",
                      gemm_isa_name(isa), (long long)M, (long long)N, (long long)K, c->ta, c->tb,
                      (double)c->alpha, (double)c->beta, c->bias, c->residual, c->act, c->packed,
                      c->threads, (long long)row, (long long)col, (double)C[i], (double)C_ref[i],
                      inside ? "value" : "outside the matrix was written", tol);
            ok = 0;
        }
    }
done:
    thread_pool_destroy(pool);
    mem_free_aligned(packed);
    mem_free(A), mem_free(B), mem_free(C), mem_free(C_ref), mem_free(bias), mem_free(R);
    return ok;
}

/* Shapes: unit sizes, tails smaller than a vector, tile +- 1, K past the K block, M past the
 * M block, N past the N block, and one larger odd shape. */
static const int64_t shapes[][3] = {
    {1, 1, 1},    {1, 1, 7},    {3, 5, 2},    {7, 15, 9},    {6, 16, 8},     {13, 31, 17},
    {14, 32, 64}, {15, 33, 65}, {29, 64, 300}, {64, 48, 1},  {1, 200, 33},   {200, 1, 33},
    {5, 7, 0},    {171, 40, 20}, {20, 530, 40}, {257, 383, 129}, {1, 40, 1100}, {9, 70, 600},
};

static void sweep(gemm_isa isa)
{
    if (!gemm_isa_supported(isa)) SKIP("this CPU lacks the ISA");
    int failures = 0;
    for (size_t s = 0; s < ARRAY_LEN(shapes) && failures < 3; s++) {
        int big = shapes[s][0] * shapes[s][1] * shapes[s][2] > 1000000;
        for (int v = 0; v < 16 && failures < 3; v++) {
            if (big && v % 5 != 0) continue; /* the large shape: a few variants */
            gemm_case c;
            memset(&c, 0, sizeof c);
            c.M = shapes[s][0], c.N = shapes[s][1], c.K = shapes[s][2];
            c.ta = v & 1, c.tb = (v >> 1) & 1, c.packed = (v >> 2) & 1;
            c.threads = (v >> 3) & 1 ? 2 : 1;
            c.alpha = v % 3 == 0 ? 1.0f : -0.75f;
            c.beta = (v + (int)s) % 3 == 0 ? 0.0f : (v + (int)s) % 3 == 1 ? 1.0f : 0.5f;
            c.bias = (gemm_bias)((v + (int)s) % 3);
            c.residual = (v + (int)s) % 4 == 1;
            c.act = (gemm_act)((v + 2 * (int)s) % 6);
            failures += !run_case(isa, &c, 1000 + s * 31 + (uint64_t)v);
        }
    }
}

/* The same shapes with A prepacked (the convolution path), B packed or read in place (rows
 * ldb apart, column tails masked: B ends 3 floats past column N of its last row). */
static void sweep_packed_a(gemm_isa isa)
{
    if (!gemm_isa_supported(isa)) SKIP("this CPU lacks the ISA");
    int failures = 0;
    for (size_t s = 0; s < ARRAY_LEN(shapes) && failures < 3; s++) {
        int big = shapes[s][0] * shapes[s][1] * shapes[s][2] > 1000000;
        for (int v = 0; v < 8 && failures < 3; v++) {
            if (big && v % 3 != 0) continue;
            gemm_case c;
            memset(&c, 0, sizeof c);
            c.M = shapes[s][0], c.N = shapes[s][1], c.K = shapes[s][2];
            c.ta = v == 5, c.tb = v == 6;
            c.packed = v & 1 ? 2 : 3;
            c.threads = (v >> 1) & 1 ? 2 : 1;
            c.alpha = v % 3 == 0 ? 1.0f : -0.75f;
            c.beta = (v + (int)s) % 3 == 0 ? 0.0f : (v + (int)s) % 3 == 1 ? 1.0f : 0.5f;
            c.bias = (gemm_bias)((v + (int)s) % 3);
            c.residual = (v + (int)s) % 4 == 1;
            c.act = (gemm_act)((v + 2 * (int)s) % 6);
            failures += !run_case(isa, &c, 5000 + s * 37 + (uint64_t)v);
        }
    }
}

TEST(test_gemm_packed_a_matches_ref)
{
    sweep_packed_a(GEMM_ISA_SCALAR);
    sweep_packed_a(GEMM_ISA_AVX2);
    sweep_packed_a(GEMM_ISA_AVX512);
}

TEST(test_gemm_scalar_matches_ref) { sweep(GEMM_ISA_SCALAR); }
TEST(test_gemm_avx2_matches_ref) { sweep(GEMM_ISA_AVX2); }
TEST(test_gemm_avx512_matches_ref) { sweep(GEMM_ISA_AVX512); }

/* Every epilogue on every ISA, on a shape with M, N and K tails, packed and not, 1-2 threads. */
TEST(test_gemm_every_epilogue)
{
    for (size_t ii = 0; ii < ARRAY_LEN(all_isas); ii++) {
        if (!gemm_isa_supported(all_isas[ii])) continue;
        for (int bias = 0; bias < 3; bias++)
            for (int act = 0; act < 6; act++)
                for (int v = 0; v < 4; v++) {
                    gemm_case c;
                    memset(&c, 0, sizeof c);
                    c.M = 37, c.N = 45, c.K = 70;
                    c.alpha = 1.5f, c.beta = v & 1 ? 0.25f : 0.0f;
                    c.bias = (gemm_bias)bias, c.act = (gemm_act)act;
                    c.residual = v & 2, c.packed = v & 1, c.threads = v & 2 ? 2 : 1;
                    if (!run_case(all_isas[ii], &c, (uint64_t)(bias * 100 + act * 10 + v))) return;
                }
    }
}

/* Activations over a wide input range (saturation, large negative) against libm in double. */
TEST(test_gemm_activation_range)
{
    for (size_t ii = 0; ii < ARRAY_LEN(all_isas); ii++) {
        gemm_isa isa = all_isas[ii];
        if (!gemm_isa_supported(isa)) continue;
        enum { N = 200 };
        float a = 1.0f, b[N], c[N];
        for (int j = 0; j < N; j++) b[j] = -100.0f + 200.0f * (float)j / (N - 1);
        for (int act = GEMM_ACT_SIGMOID; act <= GEMM_ACT_SILU; act++) {
            gemm_args g = gemm_args_make(1, N, 1, &a, b, c);
            g.isa = isa;
            g.epi.act = (gemm_act)act;
            EXPECT_OK(gemm_f32(&g, NULL));
            for (int j = 0; j < N; j++) {
                double x = b[j], want = act == GEMM_ACT_SIGMOID ? 1 / (1 + exp(-x))
                                      : act == GEMM_ACT_GELU  ? 0.5 * x * erfc(-x / sqrt(2.0))
                                                              : x / (1 + exp(-x));
                double tol = 1e-6 * (fabs(want) > 1 ? fabs(want) : 1) + 1e-30;
                if (!(fabs(c[j] - want) <= tol)) {
                    test_fail(__FILE__, __LINE__, "%s act %d x=%g: %.9g, expected %.9g",
                              gemm_isa_name(isa), act, x, (double)c[j], want);
                    break;
                }
            }
        }
    }
}

TEST(test_gemm_caller_workspace)
{
    uint64_t s = 7;
    int64_t M = 50, N = 70, K = 300;
    float *A = rnd_array(M * K, &s), *B = rnd_array(K * N, &s), *C = rnd_array(M * N, &s),
          *R = rnd_array(M * N, &s);
    thread_pool *pool = NULL;
    EXPECT_OK(thread_pool_create(2, &pool));
    gemm_args g = gemm_args_make(M, N, K, A, B, C);
    size_t need = gemm_f32_workspace_size(&g, false, 2);
    EXPECT(need > 0);
    void *ws = mem_alloc_aligned(need);
    g.workspace = ws, g.workspace_bytes = need - 1;
    EXPECT_STATUS(gemm_f32(&g, pool), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "workspace");
    g.workspace_bytes = need;
    EXPECT_OK(gemm_f32(&g, pool));
    gemm_args gr = g;
    gr.C = R;
    EXPECT_OK(gemm_f32__ref(&gr));
    for (int64_t i = 0; i < M * N; i++)
        if (!(fabs(C[i] - R[i]) <= 1e-5 * K)) {
            test_fail(__FILE__, __LINE__, "C[%lld] = %g, expected %g", (long long)i, C[i], R[i]);
            break;
        }
    mem_free_aligned(ws);
    thread_pool_destroy(pool);
    mem_free(A), mem_free(B), mem_free(C), mem_free(R);
}

TEST(test_gemm_rejects_bad_args)
{
    float a[4] = {0}, b[4] = {0}, c[4] = {0};
    gemm_args g = gemm_args_make(2, 2, 2, a, b, c);
    g.lda = 1;
    EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "lda");
    g = gemm_args_make(2, 2, 2, a, b, c);
    g.M = -1;
    EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_INVALID_ARGUMENT);
    g = gemm_args_make(2, 2, 2, a, NULL, c);
    EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "B is NULL");
    g = gemm_args_make(2, 2, 2, a, b, c);
    g.epi.bias_kind = GEMM_BIAS_ROW;
    EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_INVALID_ARGUMENT);
    g = gemm_args_make(2, 2, 2, a, b, c);
    g.epi.residual = c;
    EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_INVALID_ARGUMENT);
    g = gemm_args_make(2, 2, 2, a, b, c);
    g.epi.act = GEMM_ACT_CLIP, g.epi.act_min = 1, g.epi.act_max = 0;
    EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_INVALID_ARGUMENT);
    g = gemm_args_make(2, 2, 2, a, b, c);
    g.isa = (gemm_isa)42;
    EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_INVALID_ARGUMENT);
    g = gemm_args_make(0, 2, 2, NULL, NULL, NULL); /* empty: nothing to do */
    EXPECT_OK(gemm_f32(&g, NULL));

    /* Packed B: header checks. */
    void *p = mem_alloc_aligned(gemm_f32_packed_b_size(2, 2, GEMM_ISA_SCALAR));
    EXPECT_OK(gemm_f32_pack_b(2, 2, b, 2, false, GEMM_ISA_SCALAR, p));
    g = gemm_args_make(2, 2, 3, a, NULL, c);
    g.lda = 3;
    EXPECT_STATUS(gemm_f32_with_packed_b(&g, p, NULL), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "packed B is 2 x 2");
    if (gemm_isa_supported(GEMM_ISA_AVX2)) {
        g = gemm_args_make(2, 2, 2, a, NULL, c);
        g.isa = GEMM_ISA_AVX2;
        EXPECT_STATUS(gemm_f32_with_packed_b(&g, p, NULL), STRATA_INVALID_ARGUMENT);
        EXPECT_STR_CONTAINS(strata_last_error(), "packed for scalar");
    }
    memset(p, 0, 8);
    g = gemm_args_make(2, 2, 2, a, NULL, c);
    EXPECT_STATUS(gemm_f32_with_packed_b(&g, p, NULL), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "magic");
    mem_free_aligned(p);
}

TEST(test_gemm_isa_info)
{
    EXPECT_EQ(gemm_isa_nr(GEMM_ISA_SCALAR), 16);
    EXPECT_EQ(gemm_isa_mr(GEMM_ISA_SCALAR), 4);
    EXPECT(gemm_isa_supported(GEMM_ISA_SCALAR));
    EXPECT(gemm_isa_supported(gemm_isa_resolve(GEMM_ISA_AUTO)));
    uint32_t f = cpu_features();
    if (f & CPU_AVX512) EXPECT_EQ(gemm_isa_resolve(GEMM_ISA_AUTO), GEMM_ISA_AVX512);
    else if (f & CPU_AVX2) EXPECT_EQ(gemm_isa_resolve(GEMM_ISA_AUTO), GEMM_ISA_AVX2);
    else EXPECT_EQ(gemm_isa_resolve(GEMM_ISA_AUTO), GEMM_ISA_SCALAR);
    EXPECT_EQ(gemm_isa_nr(GEMM_ISA_AVX512), 32);
    EXPECT_EQ(gemm_isa_mr(GEMM_ISA_AVX2), 6);
    EXPECT(strcmp(gemm_isa_name(GEMM_ISA_AVX2), "avx2") == 0);
    EXPECT(gemm_f32_packed_b_size(10, 17, GEMM_ISA_AVX512) == 64 + 32 * 10 * 4);
}

/* ---- CPU features ------------------------------------------------------------------------- */

TEST(test_cpu_features_cap)
{
    uint32_t all = CPU_ALL;
    EXPECT_EQ(cpu_features_cap(all, "scalar"), 0);
    EXPECT_EQ(cpu_features_cap(all, "avx2"), CPU_SSE41 | CPU_AVX2);
    uint32_t a5 = cpu_features_cap(all, "avx512");
    EXPECT(a5 & CPU_AVX512);
    EXPECT(!(a5 & (CPU_AMX_INT8 | CPU_AMX_BF16)));
    EXPECT_EQ(cpu_features_cap(all, "native"), all);
    EXPECT_EQ(cpu_features_cap(all, NULL), all);
    EXPECT_EQ(cpu_features_cap(CPU_SSE41, "avx512"), CPU_SSE41); /* a cap never adds */
    EXPECT(cpu_isa_name_valid("avx2"));
    EXPECT(!cpu_isa_name_valid("avx3"));
    /* Bundles imply their base: AVX-512 implies AVX2, VNNI implies AVX-512. */
    uint32_t f = cpu_features_native();
    if (f & CPU_AVX512) EXPECT(f & CPU_AVX2);
    if (f & (CPU_AVX512VNNI | CPU_AVX512BF16 | CPU_AMX_INT8 | CPU_AMX_BF16)) EXPECT(f & CPU_AVX512);
    EXPECT_EQ(cpu_features() & ~f, 0);
}

TEST(test_cpu_feature_names)
{
    char buf[128];
    EXPECT(strcmp(cpu_feature_names(0, buf, sizeof buf), "none") == 0);
    EXPECT(strcmp(cpu_feature_names(CPU_AVX2 | CPU_AVX512, buf, sizeof buf), "avx2 avx512") == 0);
    EXPECT(strlen(cpu_feature_names(CPU_ALL, buf, 10)) < 10);
    printf("  cpu: %s\n", cpu_feature_names(cpu_features_native(), buf, sizeof buf));
}

/* Each test runs in a fresh child process, so the env is read at this first call. */
TEST(test_cpu_env_override)
{
    setenv("STRATA_ISA", "avx2", 1);
    EXPECT_EQ(cpu_features() & ~(CPU_SSE41 | CPU_AVX2), 0);
    EXPECT_EQ(cpu_features(), cpu_features_native() & (CPU_SSE41 | CPU_AVX2));
    if (cpu_features_native() & CPU_AVX512) {
        EXPECT(!gemm_isa_supported(GEMM_ISA_AVX512));
        float a = 1, b = 1, c = 0;
        gemm_args g = gemm_args_make(1, 1, 1, &a, &b, &c);
        g.isa = GEMM_ISA_AVX512;
        EXPECT_STATUS(gemm_f32(&g, NULL), STRATA_UNSUPPORTED);
        EXPECT_STR_CONTAINS(strata_last_error(), "avx512");
    }
    unsetenv("STRATA_ISA");
}

/* ---- thread pool -------------------------------------------------------------------------- */

typedef struct visit_ctx {
    atomic_int *hits;      /* per index */
    atomic_int bad_thread; /* a thread_index out of range was seen */
    int n_threads;
    thread_pool *pool;     /* for the nested call */
} visit_ctx;

static void visit(void *arg, int64_t i, int thread_index)
{
    visit_ctx *v = arg;
    atomic_fetch_add(&v->hits[i], 1);
    if (thread_index < 0 || thread_index >= v->n_threads) atomic_store(&v->bad_thread, 1);
}

static void check_visits(thread_pool *p, int n_threads, int64_t n, int rounds)
{
    visit_ctx v;
    v.hits = mem_calloc((size_t)n + 1, sizeof(atomic_int));
    atomic_init(&v.bad_thread, 0);
    v.n_threads = n_threads;
    v.pool = p;
    for (int r = 0; r < rounds; r++) thread_pool_parallel_for(p, n, visit, &v);
    for (int64_t i = 0; i < n; i++)
        if (atomic_load(&v.hits[i]) != rounds) {
            test_fail(__FILE__, __LINE__, "%d threads, %lld tasks: index %lld ran %d times, not %d",
                      n_threads, (long long)n, (long long)i, atomic_load(&v.hits[i]), rounds);
            break;
        }
    EXPECT(!atomic_load(&v.bad_thread));
    mem_free(v.hits);
}

TEST(test_thread_pool_visits_each_index_once)
{
    check_visits(NULL, 1, 100, 3);
    int sizes[] = {1, 2, 3, 5};
    for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
        thread_pool *p = NULL;
        EXPECT_OK(thread_pool_create(sizes[s], &p));
        EXPECT_EQ(thread_pool_size(p), sizes[s]);
        check_visits(p, sizes[s], 0, 1);
        check_visits(p, sizes[s], 1, 5);
        check_visits(p, sizes[s], 7, 50);
        check_visits(p, sizes[s], 1000, 20);
        check_visits(p, sizes[s], 3, 2000); /* many short calls back to back */
        thread_pool_destroy(p);
    }
}

static void nested(void *arg, int64_t i, int thread_index)
{
    visit_ctx *v = arg;
    visit_ctx inner = *v;
    inner.hits = v->hits + 10 * (i + 1);
    thread_pool_parallel_for(v->pool, 10, visit, &inner); /* busy pool: runs serially */
}

TEST(test_thread_pool_nested_call_runs_serially)
{
    thread_pool *p = NULL;
    EXPECT_OK(thread_pool_create(2, &p));
    visit_ctx v;
    v.hits = mem_calloc(200, sizeof(atomic_int));
    atomic_init(&v.bad_thread, 0);
    v.n_threads = 2;
    v.pool = p;
    thread_pool_parallel_for(p, 4, nested, &v);
    for (int i = 10; i < 50; i++) EXPECT_EQ(atomic_load(&v.hits[i]), 1);
    EXPECT(!atomic_load(&v.bad_thread));
    mem_free(v.hits);
    thread_pool_destroy(p);
}

TEST(test_thread_pool_rejects_bad_size)
{
    thread_pool *p = (thread_pool *)1;
    EXPECT_STATUS(thread_pool_create(0, &p), STRATA_INVALID_ARGUMENT);
    EXPECT(p == NULL);
    EXPECT_EQ(thread_pool_size(NULL), 1);
    thread_pool_destroy(NULL);
}
