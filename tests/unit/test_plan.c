/* tests/unit/test_plan.c — plans end to end: compile the digits CNN, open the plan, run it at
 * several batch sizes within its profile against the reference interpreter; refusal of bad
 * plans (flipped bytes, truncation, CPU features this machine lacks, another format version);
 * deterministic bytes; no heap allocation after the first run; sessions on one plan from
 * several threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "serialize/plan_format.h"
#include "test.h"

static const char *demo_model(void)
{
    return "models/digits_cnn.onnx"; /* the repository's demo model (tests run from the root) */
}

static void compile_demo(const char *plan_path)
{
    const char *shapes[1] = {"input=1x1x8x8:4x1x8x8:16x1x8x8"};
    strata_compile_options o = {shapes, 1, NULL, NULL, NULL, 0, NULL};
    EXPECT_OK(strata_compile(demo_model(), plan_path, &o));
}

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len);
    if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void write_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    if (fwrite(b, 1, n, f) != n) test_fail(__FILE__, __LINE__, "short write");
    fclose(f);
}

static strata_tensor *random_input(int64_t batch, unsigned seed)
{
    int64_t dims[4] = {batch, 1, 8, 8};
    strata_tensor *t = NULL;
    if (strata_tensor_create(STRATA_DTYPE_F32, 4, dims, &t) != STRATA_OK) return NULL;
    float *d = strata_tensor_data(t);
    for (int64_t i = 0; i < batch * 64; i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 16) & 0xff) / 16.0f;
    }
    return t;
}

/* Largest relative difference |a-b| / (1 + |b|). */
static double max_diff(const strata_tensor *a, const strata_tensor *b)
{
    if (strata_tensor_numel(a) != strata_tensor_numel(b)) return 1e30;
    double m = 0;
    for (int64_t i = 0; i < strata_tensor_numel(a); i++) {
        double d = fabs(tensor_get_f64(a, i) - tensor_get_f64(b, i)) / (1.0 + fabs(tensor_get_f64(b, i)));
        if (d > m) m = d;
    }
    return m;
}

TEST(test_plan_runs_dynamic_batch_like_reference)
{
    char path[512];
    snprintf(path, sizeof path, "%s/digits.plan", test_tmpdir());
    compile_demo(path);
    strata_plan *p = NULL;
    strata_session *s = NULL, *ref = NULL;
    strata_model *m = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    EXPECT_OK(strata_model_load(demo_model(), &m));
    if (!p || !m) goto done;
    EXPECT_OK(strata_session_create_plan(p, NULL, &s));
    EXPECT_OK(strata_session_create(m, NULL, &ref));
    const char *names[1] = {"input"};
    /* shapes revisited and repeated: the executor keeps the shapes of the last run (shape_memo.c) */
    static const int64_t batches[] = {1, 6, 6, 1, 16, 11, 11, 6};
    for (size_t bi = 0; bi < ARRAY_LEN(batches); bi++) {
        int64_t batch = batches[bi];
        strata_tensor *x = random_input(batch, (unsigned)batch), *y = NULL, *yr = NULL;
        EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y));
        EXPECT_OK(strata_session_run(ref, 1, names, &x, 0, NULL, &yr));
        if (y && yr) {
            EXPECT_EQ(strata_tensor_dims(y)[0], batch);
            EXPECT_NEAR(max_diff(y, yr), 0.0, 1e-4);
        }
        strata_tensor_destroy(x);
        strata_tensor_destroy(y);
        strata_tensor_destroy(yr);
    }
    /* outside the profile: a clear error, not a wrong answer */
    strata_tensor *big = random_input(17, 1), *y = NULL;
    EXPECT_STATUS(strata_session_run(s, 1, names, &big, 0, NULL, &y), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "1..16");
    strata_tensor_destroy(big);
done:
    strata_session_destroy(s);
    strata_session_destroy(ref);
    strata_plan_close(p);
    strata_model_destroy(m);
}

TEST(test_plan_is_deterministic)
{
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a.plan", test_tmpdir());
    snprintf(b, sizeof b, "%s/b.plan", test_tmpdir());
    compile_demo(a);
    compile_demo(b);
    size_t na = 0, nb = 0;
    char *ba = read_file(a, &na), *bb = read_file(b, &nb);
    EXPECT(ba && bb && na == nb && memcmp(ba, bb, na) == 0);
    free(ba);
    free(bb);
}

/* Rewrites the header hash after editing the header, as a forger (or another version) would. */
static void rehash_header(char *bytes)
{
    uint64_t h = hash64(bytes, PLAN_OFF_HEADER_HASH, 0);
    memcpy(bytes + PLAN_OFF_HEADER_HASH, &h, 8);
}

static void expect_refused(const char *path, strata_status code, const char *needle)
{
    strata_plan *p = NULL;
    EXPECT_STATUS(strata_plan_open(path, &p), code);
    EXPECT(p == NULL);
    EXPECT_STR_CONTAINS(strata_last_error(), needle);
    strata_plan_close(p);
}

TEST(test_plan_refuses_flipped_bytes)
{
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/d.plan", test_tmpdir());
    snprintf(bad, sizeof bad, "%s/bad.plan", test_tmpdir());
    compile_demo(path);
    size_t n = 0;
    char *b = read_file(path, &n);
    if (!b) return;
    uint64_t graph_off, weights_off;
    memcpy(&graph_off, b + PLAN_OFF_GRAPH, 8);
    memcpy(&weights_off, b + PLAN_OFF_WEIGHTS, 8);
    size_t where[3] = {PLAN_OFF_ARENA, (size_t)graph_off + 10, (size_t)weights_off + 100};
    const char *needle[3] = {"header checksum", "graph/program checksum", "weights checksum"};
    for (int k = 0; k < 3; k++) {
        b[where[k]] ^= 0x10;
        write_file(bad, b, n);
        expect_refused(bad, STRATA_INVALID_MODEL, needle[k]);
        b[where[k]] ^= 0x10;
    }
    free(b);
}

TEST(test_plan_refuses_truncated_file)
{
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/d.plan", test_tmpdir());
    snprintf(bad, sizeof bad, "%s/short.plan", test_tmpdir());
    compile_demo(path);
    size_t n = 0;
    char *b = read_file(path, &n);
    if (!b) return;
    write_file(bad, b, n - 1000);
    expect_refused(bad, STRATA_INVALID_MODEL, "truncated");
    write_file(bad, b, 100);
    expect_refused(bad, STRATA_INVALID_MODEL, "not a Strata plan");
    free(b);
}

TEST(test_plan_refuses_missing_cpu_features)
{
    setenv("STRATA_ISA", "avx2", 1); /* this process now runs as an AVX2-only machine */
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/d.plan", test_tmpdir());
    snprintf(bad, sizeof bad, "%s/avx512.plan", test_tmpdir());
    compile_demo(path);
    size_t n = 0;
    char *b = read_file(path, &n);
    if (!b) return;
    uint64_t need = CPU_AVX512;
    memcpy(b + PLAN_OFF_CPU, &need, 8);
    rehash_header(b);
    write_file(bad, b, n);
    expect_refused(bad, STRATA_PLAN_MISMATCH, "avx512");
    expect_refused(bad, STRATA_PLAN_MISMATCH, "lacks");
    free(b);
}

TEST(test_plan_refuses_other_format_version)
{
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/d.plan", test_tmpdir());
    snprintf(bad, sizeof bad, "%s/v2.plan", test_tmpdir());
    compile_demo(path);
    size_t n = 0;
    char *b = read_file(path, &n);
    if (!b) return;
    uint32_t v = PLAN_FORMAT_VERSION + 1;
    memcpy(b + PLAN_OFF_VERSION, &v, 4);
    rehash_header(b);
    write_file(bad, b, n);
    expect_refused(bad, STRATA_PLAN_MISMATCH, "format version");
    free(b);
}

/* Counting allocator: every heap allocation through core's allocator. */
static long n_allocs;
static void *count_alloc(void *ctx, size_t n)
{
    (void)ctx;
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    return malloc(n ? n : 1);
}
static void *count_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
    return realloc(p, n ? n : 1);
}
static void count_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

TEST(test_plan_run_allocates_nothing_after_first_run)
{
    strata_allocator a = {NULL, count_alloc, count_realloc, count_free};
    alloc_set(&a);
    char path[512];
    snprintf(path, sizeof path, "%s/d.plan", test_tmpdir());
    compile_demo(path);
    strata_plan *p = NULL;
    strata_session *s = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    if (p) EXPECT_OK(strata_session_create_plan(p, NULL, &s));
    if (!s) goto done;
    const char *names[1] = {"input"};
    for (int64_t batch = 3; batch <= 8; batch += 5) {
        strata_tensor *x = random_input(batch, 7), *y = NULL;
        int64_t ydims[2] = {batch, 10};
        EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, ydims, &y));
        EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y)); /* first run at this shape */
        long before = __atomic_load_n(&n_allocs, __ATOMIC_RELAXED);
        EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y));
        EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y));
        long after = __atomic_load_n(&n_allocs, __ATOMIC_RELAXED);
        EXPECT_EQ(after - before, 0);
        EXPECT_EQ(strata_session_last_run_allocations(s), 0);
        /* the output written in place equals one handed back as a new tensor */
        strata_tensor *y2 = NULL;
        EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y2));
        if (y2) EXPECT_NEAR(max_diff(y, y2), 0.0, 0.0);
        strata_tensor_destroy(y2);
        strata_tensor_destroy(x);
        strata_tensor_destroy(y);
    }
done:
    strata_session_destroy(s);
    strata_plan_close(p);
    alloc_set(NULL);
}

typedef struct worker_arg {
    strata_plan *plan;
    const strata_tensor *want;
    strata_tensor *x;
    int ok;
} worker_arg;

static void *worker(void *argp)
{
    worker_arg *a = argp;
    strata_session *s = NULL;
    if (strata_session_create_plan(a->plan, NULL, &s) != STRATA_OK) return NULL;
    const char *names[1] = {"input"};
    a->ok = 1;
    for (int i = 0; i < 20; i++) {
        strata_tensor *y = NULL;
        if (strata_session_run(s, 1, names, &a->x, 0, NULL, &y) != STRATA_OK || max_diff(y, a->want) > 0)
            a->ok = 0;
        strata_tensor_destroy(y);
    }
    strata_session_destroy(s);
    return NULL;
}

TEST(test_plan_shared_by_sessions_on_threads)
{
    char path[512];
    snprintf(path, sizeof path, "%s/d.plan", test_tmpdir());
    compile_demo(path);
    strata_plan *p = NULL;
    strata_session *s = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    if (!p) return;
    EXPECT_OK(strata_session_create_plan(p, NULL, &s));
    strata_tensor *x = random_input(4, 3), *want = NULL;
    const char *names[1] = {"input"};
    EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &want));
    worker_arg args[4];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (worker_arg){p, want, x, 0};
        pthread_create(&th[t], NULL, worker, &args[t]);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        EXPECT_EQ(args[t].ok, 1);
    }
    strata_tensor_destroy(x);
    strata_tensor_destroy(want);
    strata_session_destroy(s);
    strata_plan_close(p);
}

static int callback_status = -1;
static void on_done(void *user, strata_status st)
{
    *(int *)user += 1;
    callback_status = (int)st;
}

TEST(test_plan_async_run_callback_and_wait)
{
    char path[512];
    snprintf(path, sizeof path, "%s/d.plan", test_tmpdir());
    compile_demo(path);
    strata_plan *p = NULL;
    strata_session *s = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    if (p) EXPECT_OK(strata_session_create_plan(p, NULL, &s));
    if (!s) goto done;
    strata_tensor *x = random_input(2, 5), *y = NULL, *y_sync = NULL;
    const char *names[1] = {"input"};
    EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y_sync));
    int calls = 0;
    EXPECT_OK(strata_session_run_async(s, 1, names, &x, 0, NULL, &y, on_done, &calls));
    EXPECT_OK(strata_session_wait(s));
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(callback_status, 0);
    if (y && y_sync) EXPECT_NEAR(max_diff(y, y_sync), 0.0, 0.0);
    /* a failing async run reports through wait, with its message */
    strata_tensor *bad = random_input(40, 1), *y2 = NULL;
    EXPECT_OK(strata_session_run_async(s, 1, names, &bad, 0, NULL, &y2, NULL, NULL));
    EXPECT_STATUS(strata_session_wait(s), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "input 'input'");
    strata_tensor_destroy(bad);
    strata_tensor_destroy(x);
    strata_tensor_destroy(y);
    strata_tensor_destroy(y_sync);
done:
    strata_session_destroy(s);
    strata_plan_close(p);
}

TEST(test_plan_autotune_uses_and_fills_timing_cache)
{
    char a[512], b[512], cache[512];
    snprintf(a, sizeof a, "%s/a.plan", test_tmpdir());
    snprintf(b, sizeof b, "%s/b.plan", test_tmpdir());
    snprintf(cache, sizeof cache, "%s/timing.txt", test_tmpdir());
    const char *shapes[1] = {"input=4x1x8x8"};
    strata_compile_options o = {shapes, 1, NULL, "autotune", cache, 1, NULL};
    EXPECT_OK(strata_compile(demo_model(), a, &o));
    size_t n_cache = 0, na = 0, nb = 0;
    char *text = read_file(cache, &n_cache);
    EXPECT(text && n_cache > 0 && strstr(text, "_gemm__") && strstr(text, "FusedConv__ref"));
    free(text);
    /* a second compile takes every choice from the cache: the same plan bytes */
    EXPECT_OK(strata_compile(demo_model(), b, &o));
    char *ba = read_file(a, &na), *bb = read_file(b, &nb);
    EXPECT(ba && bb && na == nb && memcmp(ba, bb, na) == 0);
    free(ba);
    free(bb);
    /* a damaged cache is refused with the line named */
    write_file(cache, "no tab here\n", 12);
    EXPECT_STATUS(strata_compile(demo_model(), b, &o), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "line 1");
    strata_compile_options bad = {shapes, 1, NULL, "fastest", NULL, 0, NULL};
    EXPECT_STATUS(strata_compile(demo_model(), b, &bad), STRATA_INVALID_ARGUMENT);
}

TEST(test_plan_reference_tactics_are_portable)
{
    char path[512];
    snprintf(path, sizeof path, "%s/ref.plan", test_tmpdir());
    const char *shapes[1] = {"input=2x1x8x8"};
    strata_compile_options o = {shapes, 1, NULL, "reference", NULL, 0, NULL};
    EXPECT_OK(strata_compile(demo_model(), path, &o));
    size_t n = 0;
    char *b = read_file(path, &n);
    if (!b) return;
    uint64_t cpu;
    memcpy(&cpu, b + PLAN_OFF_CPU, 8);
    EXPECT_EQ(cpu, 0); /* reference kernels need no CPU feature */
    free(b);
    strata_plan *p = NULL;
    EXPECT_OK(strata_plan_open(path, &p));
    strata_plan_close(p);
}

/* --precision bf16: an fp32 plan never needs bf16 instructions; a bf16 plan on a CPU with them
 * needs them (its convs run in bf16), matches the reference within bf16 rounding at every
 * batch of its profile and keeps the top class; a bad precision name is refused. */
TEST(test_plan_precision_bf16)
{
    char f32[512], bf16[512];
    snprintf(f32, sizeof f32, "%s/f32.plan", test_tmpdir());
    snprintf(bf16, sizeof bf16, "%s/bf16.plan", test_tmpdir());
    const char *shapes[1] = {"input=1x1x8x8:4x1x8x8:16x1x8x8"};
    strata_compile_options o = {shapes, 1, NULL, NULL, NULL, 0, NULL};
    EXPECT_OK(strata_compile(demo_model(), f32, &o));
    o.precision = "bf16";
    EXPECT_OK(strata_compile(demo_model(), bf16, &o));
    o.precision = "fp16";
    EXPECT_STATUS(strata_compile(demo_model(), bf16 /* not written */, &o), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "'fp16'");
    size_t na = 0, nb = 0;
    char *a = read_file(f32, &na), *b = read_file(bf16, &nb);
    uint64_t cpu_a = 0, cpu_b = 0;
    if (a && b) {
        memcpy(&cpu_a, a + PLAN_OFF_CPU, 8);
        memcpy(&cpu_b, b + PLAN_OFF_CPU, 8);
    }
    free(a);
    free(b);
    EXPECT((cpu_a & CPU_AVX512BF16) == 0);
    if (!(cpu_features() & CPU_AVX512BF16)) {
        EXPECT((cpu_b & CPU_AVX512BF16) == 0); /* nothing to run in bf16 here: an fp32 plan */
        return;
    }
    EXPECT((cpu_b & CPU_AVX512BF16) != 0);
    strata_plan *p = NULL;
    strata_session *s = NULL, *ref = NULL;
    strata_model *m = NULL;
    EXPECT_OK(strata_plan_open(bf16, &p));
    EXPECT_OK(strata_model_load(demo_model(), &m));
    if (!p || !m) goto done;
    EXPECT_OK(strata_session_create_plan(p, NULL, &s));
    EXPECT_OK(strata_session_create(m, NULL, &ref));
    const char *names[1] = {"input"};
    /* shapes revisited and repeated: the executor keeps the shapes of the last run (shape_memo.c) */
    static const int64_t batches[] = {1, 6, 6, 1, 16, 11, 11, 6};
    for (size_t bi = 0; bi < ARRAY_LEN(batches); bi++) {
        int64_t batch = batches[bi];
        strata_tensor *x = random_input(batch, 7u + (unsigned)batch), *y = NULL, *yr = NULL;
        EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y));
        EXPECT_OK(strata_session_run(ref, 1, names, &x, 0, NULL, &yr));
        if (y && yr) {
            double dot = 0, ny = 0, nr = 0;
            int64_t classes = strata_tensor_numel(y) / batch, same_top = 0;
            for (int64_t r = 0; r < batch; r++) {
                int64_t ty = 0, tr = 0;
                for (int64_t c = 0; c < classes; c++) {
                    double u = tensor_get_f64(y, r * classes + c), v = tensor_get_f64(yr, r * classes + c);
                    dot += u * v, ny += u * u, nr += v * v;
                    if (u > tensor_get_f64(y, r * classes + ty)) ty = c;
                    if (v > tensor_get_f64(yr, r * classes + tr)) tr = c;
                }
                same_top += ty == tr;
            }
            EXPECT(dot / sqrt(ny * nr) >= 0.999);
            EXPECT(max_diff(y, yr) > 0.0); /* it did compute in bf16 */
            EXPECT_EQ(same_top, batch);
        }
        strata_tensor_destroy(x);
        strata_tensor_destroy(y);
        strata_tensor_destroy(yr);
    }
done:
    strata_session_destroy(s);
    strata_session_destroy(ref);
    strata_plan_close(p);
    strata_model_destroy(m);
}
