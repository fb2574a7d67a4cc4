/* tests/unit/test_models.c — end to end through the public API: load the exported PyTorch
 * models of ../shared/models, run them on the saved batch-2 input and compare with torch's
 * output; plus the session API's argument checks. */
#include <stdio.h>

#include "strata/strata.h"
#include "core/core.h"
#include "test.h"

static void run_against_torch_impl(const char *name, double tol, bool compiled)
{
    char model[512], in[512], want[512];
    snprintf(model, sizeof model, "%s/models/%s.onnx", test_shared_dir(), name);
    snprintf(in, sizeof in, "%s/models/ref/%s_input.npy", test_shared_dir(), name);
    snprintf(want, sizeof want, "%s/models/ref/%s_output.npy", test_shared_dir(), name);
    strata_model *m = NULL;
    strata_session *s = NULL;
    strata_tensor *x = NULL, *y = NULL, *ref = NULL;
    strata_plan *plan = NULL;
    EXPECT_OK(strata_npy_read(in, &x));
    EXPECT_OK(strata_npy_read(want, &ref));
    if (compiled && x) { /* compile for this input's shape, through a plan file */
        char plan_path[600], shape[200];
        const int64_t *d = strata_tensor_dims(x);
        snprintf(plan_path, sizeof plan_path, "%s/%s.plan", test_tmpdir(), name);
        snprintf(shape, sizeof shape, "input=%lldx%lldx%lldx%lld", (long long)d[0], (long long)d[1],
                 strata_tensor_rank(x) > 2 ? (long long)d[2] : 0LL, strata_tensor_rank(x) > 3 ? (long long)d[3] : 0LL);
        if (strata_tensor_rank(x) == 2) snprintf(shape, sizeof shape, "input=%lldx%lld", (long long)d[0], (long long)d[1]);
        const char *shapes[1] = {shape};
        strata_compile_options o = {shapes, 1, NULL, NULL, NULL, 0, NULL};
        EXPECT_OK(strata_compile(model, plan_path, &o));
        EXPECT_OK(strata_plan_open(plan_path, &plan));
        if (!plan) goto done;
        EXPECT_OK(strata_session_create_plan(plan, NULL, &s));
    } else {
        EXPECT_OK(strata_model_load(model, &m));
        if (!m) goto done;
        EXPECT_OK(strata_session_create(m, NULL, &s));
    }
    if (!s || !x || !ref) goto done;
    strata_value_info info;
    EXPECT_OK(strata_model_input_info(compiled ? strata_plan_model(plan) : m, 0, &info));
    const char *names[1] = {info.name};
    EXPECT_OK(strata_session_run(s, 1, names, &x, 0, NULL, &y));
    if (!y) goto done;
    EXPECT_EQ(strata_tensor_numel(y), strata_tensor_numel(ref));
    double max_err = 0;
    const float *a = strata_tensor_data(y), *b = strata_tensor_data(ref);
    for (int64_t i = 0; i < strata_tensor_numel(ref) && i < strata_tensor_numel(y); i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (e > max_err) max_err = e;
    }
    if (max_err > tol) test_fail(__FILE__, __LINE__, "%s: max relative error %g > %g", name, max_err, tol);
done:
    strata_tensor_destroy(x);
    strata_tensor_destroy(y);
    strata_tensor_destroy(ref);
    strata_session_destroy(s);
    strata_model_destroy(m);
    strata_plan_close(plan);
}

static void run_against_torch(const char *name, double tol)
{
    run_against_torch_impl(name, tol, false);
}

TEST(test_model_mlp_matches_torch) { run_against_torch("mlp", 1e-4); }
TEST(test_model_digits_cnn_matches_torch) { run_against_torch("digits_cnn", 1e-4); }
TEST(test_model_mobilenet_v2_matches_torch) { run_against_torch("mobilenet_v2", 1e-3); }
TEST(test_model_compiled_mlp_matches_torch) { run_against_torch_impl("mlp", 1e-4, true); }
TEST(test_model_compiled_digits_cnn_matches_torch) { run_against_torch_impl("digits_cnn", 1e-4, true); }
TEST(test_model_compiled_mobilenet_v2_matches_torch) { run_against_torch_impl("mobilenet_v2", 1e-3, true); }

TEST(test_session_rejects_bad_inputs)
{
    char model[512];
    snprintf(model, sizeof model, "%s/models/mlp.onnx", test_shared_dir());
    strata_model *m = NULL;
    strata_session *s = NULL;
    EXPECT_OK(strata_model_load(model, &m));
    if (!m) return;
    EXPECT_OK(strata_session_create(m, NULL, &s));
    int64_t dims[2] = {2, 63};
    strata_tensor *x = NULL, *y = NULL;
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, dims, &x));
    const char *good[1] = {"input"}, *bad[1] = {"nope"};
    EXPECT_STATUS(strata_session_run(s, 1, bad, &x, 0, NULL, &y), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "no input 'nope'");
    EXPECT_STATUS(strata_session_run(s, 1, good, &x, 0, NULL, &y), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "input 'input'");
    EXPECT(y == NULL);
    strata_tensor_destroy(x);
    int64_t ok_dims[2] = {3, 64};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_I64, 2, ok_dims, &x));
    EXPECT_STATUS(strata_session_run(s, 1, good, &x, 0, NULL, &y), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "int64");
    strata_tensor_destroy(x);
    /* caller-provided output of the wrong shape */
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, ok_dims, &x));
    int64_t out_dims[2] = {3, 9};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, out_dims, &y));
    EXPECT_STATUS(strata_session_run(s, 1, good, &x, 0, NULL, &y), STRATA_INVALID_ARGUMENT);
    strata_tensor_destroy(y);
    /* right shape: written in place */
    int64_t right[2] = {3, 10};
    EXPECT_OK(strata_tensor_create(STRATA_DTYPE_F32, 2, right, &y));
    strata_tensor *keep = y;
    EXPECT_OK(strata_session_run(s, 1, good, &x, 0, NULL, &y));
    EXPECT(y == keep);
    strata_tensor_destroy(y);
    strata_tensor_destroy(x);
    strata_session_destroy(s);
    strata_model_destroy(m);
}
