/* tests/unit/test_ref_tensor.c — the tensor family's reference ops run directly (ref_op_find,
 * infer, compute) on small hand-computed cases: shapes, slicing, gathers, strings, padding,
 * sorting, resizing, static inference with unknown values, and bad inputs that must fail with a
 * message naming the node. */
#include "op_harness.h"

static strata_tensor *mk_i64(int64_t n, const double *vals)
{
    return op_tensor(STRATA_DTYPE_I64, 1, &n, vals);
}

TEST(ref_tensor_reshape_zero_and_infer_dims)
{
    int64_t d[3] = {2, 3, 4};
    double sv[3] = {0, -1, 2};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 3, d, NULL), mk_i64(3, sv)}, *y;
    EXPECT_OK(op_run("Reshape", 14, NULL, 0, in, 2, &y, 1));
    EXPECT_EQ(y->rank, 3);
    EXPECT_EQ(y->dims[0], 2);
    EXPECT_EQ(y->dims[1], 6);
    EXPECT_EQ(y->dims[2], 2);
    strata_tensor_destroy(y);
    /* 24 elements cannot become 5 x -1 */
    double bad[2] = {5, -1};
    strata_tensor_destroy(in[1]);
    in[1] = mk_i64(2, bad);
    EXPECT_STATUS(op_run("Reshape", 14, NULL, 0, in, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "node 't' (Reshape)");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_tensor_static_inference_unknowns)
{
    /* Reshape without the shape's value: NOT_FOUND; Transpose keeps unknown dims as -1 */
    const op_def *d = ref_op_find("", "Reshape", 14);
    EXPECT(d != NULL);
    strata_tensor x = {0}, s = {0}, out = {0};
    x.dtype = STRATA_DTYPE_F32;
    x.rank = 2;
    x.dims[0] = -1;
    x.dims[1] = 4;
    s.dtype = STRATA_DTYPE_I64;
    s.rank = 1;
    s.dims[0] = 2;
    const strata_tensor *in[2] = {&x, &s};
    strata_tensor *o[1] = {&out};
    op_node n = {"r", "Reshape", "", 14, NULL, 0, 2, 1};
    if (d) EXPECT_STATUS(d->infer(&n, in, o), STRATA_NOT_FOUND);
    d = ref_op_find("", "Transpose", 13);
    op_node nt = {"t", "Transpose", "", 13, NULL, 0, 1, 1};
    EXPECT(d != NULL);
    if (d) {
        EXPECT_OK(d->infer(&nt, in, o));
        EXPECT_EQ(out.dims[0], 4);
        EXPECT_EQ(out.dims[1], -1);
    }
}

TEST(ref_tensor_transpose_and_slice)
{
    int64_t d[2] = {2, 3};
    double xv[6] = {0, 1, 2, 3, 4, 5};
    strata_tensor *x = op_tensor(STRATA_DTYPE_I32, 2, d, xv), *y;
    EXPECT_OK(op_run("Transpose", 13, NULL, 0, &x, 1, &y, 1));
    double tw[6] = {0, 3, 1, 4, 2, 5};
    EXPECT_VALUES(y, tw, 6, 1e-6);
    strata_tensor_destroy(y);
    /* x[:, 100:-100:-2] — start clamps to 2, step -2 → columns 2, 0 */
    double s[1] = {100}, e[1] = {-100}, a[1] = {1}, st[1] = {-2};
    strata_tensor *in[5] = {x, mk_i64(1, s), mk_i64(1, e), mk_i64(1, a), mk_i64(1, st)};
    EXPECT_OK(op_run("Slice", 13, NULL, 0, in, 5, &y, 1));
    EXPECT_EQ(y->dims[0], 2);
    EXPECT_EQ(y->dims[1], 2);
    double sw[4] = {2, 0, 5, 3};
    EXPECT_VALUES(y, sw, 4, 1e-6);
    strata_tensor_destroy(y);
    for (int i = 0; i < 5; i++) strata_tensor_destroy(in[i]);
}

TEST(ref_tensor_gather_negative_and_out_of_range)
{
    int64_t d[1] = {5};
    double xv[5] = {10, 11, 12, 13, 14}, iv[2] = {-1, 1};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 1, d, xv), mk_i64(2, iv)}, *y;
    EXPECT_OK(op_run("Gather", 13, NULL, 0, in, 2, &y, 1));
    double w[2] = {14, 11};
    EXPECT_VALUES(y, w, 2, 1e-6);
    strata_tensor_destroy(y);
    strata_tensor_destroy(in[1]);
    double bad[1] = {5};
    in[1] = mk_i64(1, bad);
    EXPECT_STATUS(op_run("Gather", 13, NULL, 0, in, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "index 5");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_tensor_concat_strings)
{
    int64_t d[1] = {1};
    strata_tensor *a = op_tensor(STRATA_DTYPE_STRING, 1, d, NULL), *b = op_tensor(STRATA_DTYPE_STRING, 1, d, NULL);
    ((char **)a->data)[0] = mem_strdup("ab");
    ((char **)b->data)[0] = mem_strdup("cd");
    strata_tensor *in[2] = {a, b}, *y;
    attr ax = attr_int_of("axis", 0);
    EXPECT_OK(op_run("Concat", 13, &ax, 1, in, 2, &y, 1));
    EXPECT_EQ(y->dims[0], 2);
    EXPECT(strcmp(((char **)y->data)[0], "ab") == 0);
    EXPECT(strcmp(((char **)y->data)[1], "cd") == 0);
    EXPECT(((char **)y->data)[0] != ((char **)a->data)[0]); /* copied, not shared */
    strata_tensor_destroy(y);
    strata_tensor_destroy(a);
    strata_tensor_destroy(b);
}

TEST(ref_tensor_pad_reflect_and_old_opset)
{
    int64_t d[1] = {3};
    double xv[3] = {1, 2, 3}, pv[2] = {2, 1};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 1, d, xv), mk_i64(2, pv)}, *y;
    attr m = attr_string_of("mode", "reflect");
    EXPECT_OK(op_run("Pad", 18, &m, 1, in, 2, &y, 1));
    double w[6] = {3, 2, 1, 2, 3, 2};
    EXPECT_VALUES(y, w, 6, 1e-6);
    strata_tensor_destroy(y);
    /* opset 2: pads and value are attributes */
    int64_t pads[2] = {1, 0};
    attr at[2] = {attr_ints_of("pads", pads, 2), {0}};
    at[1].name = "value";
    at[1].type = ATTR_FLOAT;
    at[1].f = 7;
    EXPECT_OK(op_run("Pad", 2, at, 2, in, 1, &y, 1));
    double w2[4] = {7, 1, 2, 3};
    EXPECT_VALUES(y, w2, 4, 1e-6);
    strata_tensor_destroy(y);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_tensor_topk_ties_keep_lower_index)
{
    int64_t d[1] = {4};
    double xv[4] = {3, 5, 5, 1}, kv[1] = {2};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 1, d, xv), mk_i64(1, kv)}, *out[2];
    EXPECT_OK(op_run("TopK", 11, NULL, 0, in, 2, out, 2));
    double wv[2] = {5, 5}, wi[2] = {1, 2};
    EXPECT_VALUES(out[0], wv, 2, 1e-6);
    EXPECT_VALUES(out[1], wi, 2, 1e-6);
    strata_tensor_destroy(out[0]);
    strata_tensor_destroy(out[1]);
    attr sm = attr_int_of("largest", 0);
    EXPECT_OK(op_run("TopK", 11, &sm, 1, in, 2, out, 2));
    double sv[2] = {1, 3}, si[2] = {3, 0};
    EXPECT_VALUES(out[0], sv, 2, 1e-6);
    EXPECT_VALUES(out[1], si, 2, 1e-6);
    strata_tensor_destroy(out[0]);
    strata_tensor_destroy(out[1]);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_tensor_unique_unsorted)
{
    int64_t d[1] = {5};
    double xv[5] = {2, 1, 2, 3, 1};
    strata_tensor *x = op_tensor(STRATA_DTYPE_F32, 1, d, xv), *out[4];
    attr s = attr_int_of("sorted", 0);
    EXPECT_OK(op_run("Unique", 11, &s, 1, &x, 1, out, 4));
    double y[3] = {2, 1, 3}, idx[3] = {0, 1, 3}, inv[5] = {0, 1, 0, 2, 1}, cnt[3] = {2, 2, 1};
    EXPECT_VALUES(out[0], y, 3, 1e-6);
    EXPECT_VALUES(out[1], idx, 3, 1e-6);
    EXPECT_VALUES(out[2], inv, 5, 1e-6);
    EXPECT_VALUES(out[3], cnt, 3, 1e-6);
    for (int i = 0; i < 4; i++) strata_tensor_destroy(out[i]);
    strata_tensor_destroy(x);
}

TEST(ref_tensor_resize_nearest_and_linear)
{
    int64_t d[4] = {1, 1, 1, 2};
    double xv[2] = {1, 3}, sc[4] = {1, 1, 1, 2};
    int64_t four = 4;
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 4, d, xv), NULL, op_tensor(STRATA_DTYPE_F32, 1, &four, sc)};
    strata_tensor *y;
    EXPECT_OK(op_run("Resize", 19, NULL, 0, in, 3, &y, 1));
    double wn[4] = {1, 1, 3, 3};
    EXPECT_VALUES(y, wn, 4, 1e-6);
    strata_tensor_destroy(y);
    attr m = attr_string_of("mode", "linear");
    EXPECT_OK(op_run("Resize", 19, &m, 1, in, 3, &y, 1)); /* half_pixel: 1, 1.5, 2.5, 3 */
    double wl[4] = {1, 1.5, 2.5, 3};
    EXPECT_VALUES(y, wl, 4, 1e-6);
    strata_tensor_destroy(y);
    attr bad = attr_string_of("mode", "bogus");
    EXPECT_STATUS(op_run("Resize", 19, &bad, 1, in, 3, &y, 1), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "unknown mode 'bogus'");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[2]);
}

TEST(ref_tensor_split_and_scatter_nd)
{
    int64_t d[1] = {7};
    double xv[7] = {0, 1, 2, 3, 4, 5, 6};
    strata_tensor *x = op_tensor(STRATA_DTYPE_F32, 1, d, xv), *out[3];
    attr no = attr_int_of("num_outputs", 3);
    EXPECT_OK(op_run("Split", 18, &no, 1, &x, 1, out, 3));
    EXPECT_EQ(out[0]->dims[0], 3);
    EXPECT_EQ(out[1]->dims[0], 3);
    EXPECT_EQ(out[2]->dims[0], 1);
    EXPECT_NEAR(tensor_get_f64(out[2], 0), 6, 0);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(out[i]);
    int64_t id[2] = {2, 1};
    double iv[2] = {1, 1}, uv[2] = {10, 20};
    int64_t two = 2;
    strata_tensor *in[3] = {x, op_tensor(STRATA_DTYPE_I64, 2, id, iv), op_tensor(STRATA_DTYPE_F32, 1, &two, uv)};
    attr red = attr_string_of("reduction", "add");
    strata_tensor *y;
    EXPECT_OK(op_run("ScatterND", 18, &red, 1, in, 3, &y, 1));
    double w[7] = {0, 31, 2, 3, 4, 5, 6};
    EXPECT_VALUES(y, w, 7, 1e-6);
    strata_tensor_destroy(y);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
}
