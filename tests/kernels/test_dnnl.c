/* tests/kernels/test_dnnl.c — the oneDNN sgemm tactic against the reference ops: Gemm with
 * transposes, alpha/beta and a broadcast C, FusedMatMul with bias, residual and activations, on
 * random shapes including 1-wide and odd sizes, on 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "kernels/dnnl/dnnl_common.h"
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

/* ---- oneDNN matmul primitive rows (kernels/dnnl/matmul.c): fp32 and bf16 ------------------- */

/* One Gemm / MatMul case: sizes, the batch of a MatMul's A, and what is fused. */
typedef struct mm_case {
    int64_t M, N, K;
    int64_t batch;    /* MatMul: A is [batch, M, K] when > 0 */
    bool gemm, fused; /* Gemm / FusedGemm, else MatMul / FusedMatMul */
    bool ta, tb;      /* Gemm transA / transB; FusedMatMul transB */
    float alpha, beta;
    int c_kind;       /* Gemm C: 0 none, 1 [N], 2 [1,N], 3 [M,N], 4 [M,1], 5 scalar [1] */
    bool bias;        /* FusedMatMul bias [N] */
    int z_kind;       /* residual: 0 none, 1 output's dims, 2 [N], 3 [1], 4 [M,1] (a pass after) */
    const char *act;  /* "", "Relu", ... */
} mm_case;

/* Runs row name on case c (weights packed when packed: then B's values are hidden from the
 * row) and compares with the reference op. bf16 rows: |err| <= 2^-7 * sum_k |a||b| (+ C, Z
 * terms exact) per element and cosine >= 0.9999; fp32: 1e-5 relative to the same sum. */
static void mm_check(const char *name, const mm_case *c, bool packed, int threads, unsigned seed)
{
    const char *op = c->gemm ? (c->fused ? "FusedGemm" : "Gemm") : (c->fused ? "FusedMatMul" : "MatMul");
    const char *dom = c->fused ? "com.strata" : "";
    const fast_kernel *k = fast_kernel_find(name, op, dom);
    const op_def *ref = ref_op_find(dom, op, 21);
    if (!k || !ref) {
        test_fail(__FILE__, __LINE__, "no row %s / reference for %s", name, op);
        return;
    }
    if (k->isa & ~cpu_features()) return;
    bool bf16 = fast_kernel_is_bf16(k);
    int64_t M = c->M, N = c->N, K = c->K;
    strata_tensor *in[6] = {NULL};
    int64_t ad3[3] = {c->batch, M, K}, ad[2] = {c->ta ? K : M, c->ta ? M : K}, bd[2] = {c->tb ? N : K, c->tb ? K : N};
    bool batched = !c->gemm && c->batch > 0;
    in[0] = batched ? rnd(3, ad3, &seed) : rnd(2, ad, &seed);
    in[1] = rnd(2, bd, &seed);
    int64_t rows = batched ? c->batch * M : M;
    if (c->gemm && c->c_kind) {
        int64_t cd[2][2] = {{N, 0}, {1, N}}, cf[2] = {M, N}, cm[2] = {M, 1}, cs[1] = {1};
        in[2] = c->c_kind == 1 ? rnd(1, cd[0], &seed) : c->c_kind == 2 ? rnd(2, cd[1], &seed)
              : c->c_kind == 3 ? rnd(2, cf, &seed) : c->c_kind == 4 ? rnd(2, cm, &seed) : rnd(1, cs, &seed);
    }
    if (!c->gemm && c->bias) {
        int64_t nd[1] = {N};
        in[2] = rnd(1, nd, &seed);
    }
    if (c->z_kind) {
        int64_t yd3[3] = {c->batch, M, N}, yd[2] = {M, N}, nd[1] = {N}, sd[1] = {1}, md[2] = {M, 1};
        in[3] = c->z_kind == 1 ? (batched ? rnd(3, yd3, &seed) : rnd(2, yd, &seed))
              : c->z_kind == 2 ? rnd(1, nd, &seed) : c->z_kind == 3 ? rnd(1, sd, &seed) : rnd(2, md, &seed);
    }
    attr at[10];
    size_t na = 0;
    if (c->gemm) {
        at[na++] = attr_int_of("transA", c->ta);
        at[na++] = attr_int_of("transB", c->tb);
        at[na++] = attr_float_of("alpha", c->alpha);
        at[na++] = attr_float_of("beta", c->beta);
    } else if (c->fused) {
        at[na++] = attr_int_of("transB", c->tb);
    }
    if (c->act[0]) {
        at[na++] = attr_string_of("activation", c->act);
        at[na++] = attr_float_of("activation_min", -0.25f);
        at[na++] = attr_float_of("activation_max", 0.5f);
        at[na++] = attr_float_of("activation_alpha", 0.2f);
    }
    size_t n_in = c->fused ? 4 : c->gemm && c->c_kind ? 3 : 2;
    op_node node = {"mm_under_test", op, dom, 21, at, na, n_in, 1};
    strata_tensor *want = mem_calloc(1, sizeof *want), *got = mem_calloc(1, sizeof *got), *pk = NULL;
    strata_tensor bview = *in[1];
    const strata_tensor *kin[6] = {in[0], in[1], in[2], in[3], NULL, NULL};
    thread_pool *pool = NULL;
    /* the fp32 brgemm rows are chosen for M >= 64 only, but must run any M (a plan's batch
     * may shrink at run time), so smaller cases run them too */
    bool small_ok = strstr(name, "f32_brgemm") != NULL && M < 64;
    if (!small_ok && !k->supports(&node, (const strata_tensor *const *)in)) {
        test_fail(__FILE__, __LINE__, "%s does not support %s M=%lld N=%lld K=%lld", name, op, (long long)M,
                  (long long)N, (long long)K);
        goto done;
    }
    EXPECT_OK(ref->infer(&node, (const strata_tensor *const *)in, &want));
    EXPECT_OK(ref->infer(&node, (const strata_tensor *const *)in, &got));
    EXPECT_OK(tensor_alloc_data(want));
    EXPECT_OK(tensor_alloc_data(got));
    EXPECT_OK(ref->compute(&node, (const strata_tensor *const *)in, &want));
    if (packed) {
        size_t bytes = k->packed_size(k, &node, (const strata_tensor *const *)in);
        EXPECT(bytes > 0);
        int64_t pd[1] = {(int64_t)bytes};
        EXPECT_OK(strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk));
        EXPECT_OK(k->pack(k, &node, (const strata_tensor *const *)in, pk->data));
        at[na++] = attr_int_of("packed_input", 4);
        node.n_attrs = na;
        node.n_inputs = 5;
        bview.data = NULL; /* the plan drops the weights' values: the row must not read them */
        kin[1] = &bview;
        kin[4] = pk;
    }
    for (int64_t i = 0; i < strata_tensor_numel(got); i++) ((float *)got->data)[i] = NAN;
    if (threads > 1) thread_pool_create(threads, &pool);
    kernel_ctx ctx = {pool, threads};
    strata_status st = k->run(k, &node, kin, &got, &ctx);
    if (st != STRATA_OK) {
        test_fail(__FILE__, __LINE__, "%s %s: %s", name, op, strata_last_error());
        goto done;
    }
    /* per-element bound from sum_k |a||b| (A row-major [rows,K] unless transA) */
    const float *A = in[0]->data, *B = in[1]->data, *g = got->data, *w = want->data;
    double eps = bf16 ? 1.0 / 128 : 1e-5, dot = 0, gg = 0, ww = 0, worst = 0;
    int64_t bad = -1;
    float amul = c->gemm ? fabsf(c->alpha) : 1.0f;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t q = 0; q < K; q++) {
                float a = c->ta ? A[q * M + i] : A[i * K + q], b = c->tb ? B[j * K + q] : B[q * N + j];
                s += fabs((double)a * b);
            }
            double gv = g[i * N + j], wv = w[i * N + j], err = fabs(gv - wv);
            double tol = eps * (amul * s * 1.15 + 1.0) + 1e-5 * fabs(wv); /* 1.15: steepest activation */
            if (!(err <= tol) && bad < 0) bad = i * N + j;
            if (err > worst) worst = err;
            dot += gv * wv, gg += gv * gv, ww += wv * wv;
        }
    double cosine = gg > 0 && ww > 0 ? dot / sqrt(gg * ww) : (gg == ww ? 1.0 : 0.0);
    if (bad >= 0 || (bf16 && !(cosine >= 0.9999)))
        test_fail(__FILE__, __LINE__,
                  "%s %s M=%lld N=%lld K=%lld batch=%lld ta=%d tb=%d c=%d bias=%d z=%d act='%s' packed=%d "
                  "threads=%d: worst err %g (first bad element %lld: got %g want %g), cosine %.6f",
                  name, op, (long long)M, (long long)N, (long long)K, (long long)c->batch, c->ta, c->tb, c->c_kind,
                  c->bias, c->z_kind, c->act, packed, threads, worst, (long long)bad, bad >= 0 ? g[bad] : 0.0,
                  bad >= 0 ? w[bad] : 0.0, cosine);
done:
    thread_pool_destroy(pool);
    strata_tensor_destroy(want);
    strata_tensor_destroy(got);
    strata_tensor_destroy(pk);
    for (int i = 0; i < 6; i++) strata_tensor_destroy(in[i]);
}

static const int64_t mm_shapes[][3] = {{1, 1, 1},   {1, 17, 33}, {17, 33, 100}, {33, 100, 17},
                                       {100, 65, 33}, {64, 96, 128}, {3, 130, 768}};
static const char *const mm_acts[] = {"", "Relu", "Clip", "Sigmoid", "Gelu", "Silu", "Tanh", "LeakyRelu"};

/* Every shape, packed or not, 1 and 2 threads, for MatMul (batched A), FusedMatMul (bias,
 * residual, transB, each activation), Gemm (transposes, alpha/beta, each C form) and
 * FusedGemm (residual forms, activation) on row family `matmul` / `gemm`. */
static void mm_sweep(const char *matmul, const char *gemm)
{
    unsigned seed = 99;
    int v = 0;
    for (size_t s = 0; s < ARRAY_LEN(mm_shapes); s++)
        for (int packed = 0; packed < 2; packed++)
            for (int threads = 1; threads <= 2; threads++, v++) {
                int64_t M = mm_shapes[s][0], N = mm_shapes[s][1], K = mm_shapes[s][2];
                const char *act = mm_acts[v % ARRAY_LEN(mm_acts)];
                mm_case c = {M, N, K, 0, false, false, false, false, 1, 1, 0, false, 0, ""};
                c.batch = 1 + v % 3;
                mm_check(matmul, &c, packed, threads, seed++);
                c.fused = true, c.bias = v % 2 == 0, c.z_kind = v % 5, c.tb = v % 3 == 1, c.act = act;
                mm_check(matmul, &c, packed, threads, seed++);
                mm_case gm = {M, N, K, 0, true, false, v % 2 == 1, v % 4 >= 2, 1, 1, v % 6, false, 0, ""};
                if (v % 3 == 0) gm.alpha = 0.5f;
                if (v % 4 == 1) gm.beta = 2.0f;
                mm_check(gemm, &gm, packed, threads, seed++);
                gm.fused = true, gm.z_kind = (v + 2) % 5, gm.act = mm_acts[(v + 3) % ARRAY_LEN(mm_acts)];
                mm_check(gemm, &gm, packed, threads, seed++);
            }
}

TEST(test_dnnl_matmul_f32_brgemm_matches_reference)
{
    if (!(cpu_features() & CPU_AVX512)) SKIP("no AVX-512");
    mm_sweep("matmul_f32_brgemm__dnnl", "gemm_f32_brgemm__dnnl");
}

TEST(test_dnnl_matmul_bf16_matches_reference)
{
    if (!(cpu_features() & CPU_AVX512BF16)) SKIP("no AVX512-BF16");
    mm_sweep("matmul_bf16__dnnl", "gemm_bf16__dnnl");
}

/* Each activation on its own, with bias and full residual, both families, packed. */
TEST(test_dnnl_matmul_each_activation)
{
    if (!(cpu_features() & CPU_AVX512)) SKIP("no AVX-512");
    const char *rows[2] = {"matmul_f32_brgemm__dnnl", "matmul_bf16__dnnl"};
    for (int r = 0; r < 2; r++)
        for (size_t a = 0; a < ARRAY_LEN(mm_acts); a++) {
            mm_case c = {17, 33, 100, 2, false, true, false, false, 1, 1, 0, true, 1, mm_acts[a]};
            mm_check(rows[r], &c, true, 2, 5u + (unsigned)a);
        }
}

/* A packed blob whose header was damaged, or that belongs to other weights, is refused with a
 * clear error instead of being read. */
TEST(test_dnnl_matmul_refuses_damaged_packed_weights)
{
    if (!(cpu_features() & CPU_AVX512)) SKIP("no AVX-512");
    const fast_kernel *k = fast_kernel_find("matmul_f32_brgemm__dnnl", "FusedMatMul", "com.strata");
    EXPECT(k != NULL);
    if (!k) return;
    unsigned seed = 3;
    int64_t ad[2] = {8, 32}, bd[2] = {32, 48}, bd2[2] = {32, 64};
    strata_tensor *in[5] = {rnd(2, ad, &seed), rnd(2, bd, &seed), NULL, NULL, NULL}, *other = rnd(2, bd2, &seed);
    attr at[1] = {attr_int_of("packed_input", 4)};
    op_node node = {"damaged", "FusedMatMul", "com.strata", 1, at, 0, 2, 1};
    size_t bytes = k->packed_size(k, &node, (const strata_tensor *const *)in);
    int64_t pd[1] = {(int64_t)bytes};
    strata_tensor *pk = NULL, *y = NULL;
    int64_t yd[2] = {8, 48};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_U8, 1, pd, &pk));
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, yd, &y));
    EXPECT_OK(k->pack(k, &node, (const strata_tensor *const *)in, pk->data));
    in[4] = pk;
    node.n_attrs = 1, node.n_inputs = 5;
    kernel_ctx ctx = {NULL, 1};
    EXPECT_OK(k->run(k, &node, (const strata_tensor *const *)in, &y, &ctx));
    ((uint8_t *)pk->data)[40] ^= 0x5a; /* inside the memory descriptor */
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)in, &y, &ctx), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "damaged");
    ((uint8_t *)pk->data)[40] ^= 0x5a;
    ((uint8_t *)pk->data)[0] = 'X'; /* not a packed blob of this row */
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)in, &y, &ctx), STRATA_INVALID_MODEL);
    ((uint8_t *)pk->data)[0] = 'S';
    strata_tensor *wrong[5] = {in[0], other, NULL, NULL, pk}; /* weights of another N */
    strata_tensor_destroy(y);
    yd[1] = 64;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, yd, &y));
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)wrong, &y, &ctx), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "do not match");
    int64_t short_d[1] = {16};
    strata_tensor *tiny = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_U8, 1, short_d, &tiny));
    strata_tensor *cut[5] = {in[0], in[1], NULL, NULL, tiny};
    yd[1] = 48;
    strata_tensor_destroy(y);
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, yd, &y));
    EXPECT_STATUS(k->run(k, &node, (const strata_tensor *const *)cut, &y, &ctx), STRATA_INVALID_MODEL);
    strata_tensor_destroy(tiny);
    strata_tensor_destroy(y);
    strata_tensor_destroy(pk);
    strata_tensor_destroy(other);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

/* The primitive cache outlives runs: a primitive made during a run (mem_alloc then takes from
 * the session's scratch, which the next run reuses) must still be found by the next run. */
static int cache_made;

static dnnl_status_t make_relu(const void *arg, dnnl_primitive_t *out)
{
    (void)arg;
    cache_made++;
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {1, 8};
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab);
    if (s == dnnl_success) s = dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, dnnl_eltwise_relu, &md, 0, 0);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &ed, NULL, dnnl_engine(), NULL);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

TEST(test_dnnl_primitive_cache_survives_scratch)
{
    static const char key[] = "test_dnnl_primitive_cache_survives_scratch";
    scratch_arena sa;
    memset(&sa, 0, sizeof sa);
    dnnl_primitive_t first = NULL, again = NULL;
    bool owned1 = false, owned2 = false;
    cache_made = 0;
    scratch_begin(&sa); /* run 1: the primitive is made */
    EXPECT_OK(dnnl_primitive_get(key, sizeof key, make_relu, NULL, NULL, &first, &owned1));
    scratch_end();
    EXPECT_OK(scratch_reserve(&sa));
    scratch_begin(&sa); /* run 2: other kernels use the scratch first */
    void *junk = mem_alloc(4096);
    if (junk) memset(junk, 0xa5, 4096);
    EXPECT_OK(dnnl_primitive_get(key, sizeof key, make_relu, NULL, NULL, &again, &owned2));
    scratch_end();
    EXPECT(first != NULL && again == first);
    EXPECT_EQ(cache_made, 1);
    if (owned2 && again != first) dnnl_primitive_destroy(again);
    scratch_release(&sa);
}
