/* tests/unit/test_ref_nn.c — the nn family's reference ops run directly (ref_op_find, infer,
 * compute) on small hand-computed cases: Conv, ConvTranspose, Gemm, MatMul, pools, norms, Q/DQ,
 * Einsum, NonMaxSuppression; plus bad inputs that must fail with a message naming the node. */
#include "op_harness.h"

static const double x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};

TEST(ref_nn_conv_pads_strides_and_types)
{
    int64_t xd[4] = {1, 1, 3, 3}, wd[4] = {1, 1, 2, 2};
    double ones[4] = {1, 1, 1, 1};
    strata_dtype types[3] = {STRATA_DTYPE_F32, STRATA_DTYPE_F64, STRATA_DTYPE_F16};
    for (int t = 0; t < 3; t++) {
        strata_tensor *in[2] = {op_tensor(types[t], 4, xd, x9), op_tensor(types[t], 4, wd, ones)}, *y;
        EXPECT_OK(op_run("Conv", 11, NULL, 0, in, 2, &y, 1));
        double want[4] = {12, 16, 24, 28};
        EXPECT_EQ(y->dtype, types[t]);
        EXPECT_EQ(y->dims[2], 2);
        EXPECT_VALUES(y, want, 4, 1e-6);
        strata_tensor_destroy(y);
        /* pads 1, stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1) */
        int64_t pads[4] = {1, 1, 1, 1}, strides[2] = {2, 2};
        attr a[2] = {attr_ints_of("pads", pads, 4), attr_ints_of("strides", strides, 2)};
        EXPECT_OK(op_run("Conv", 11, a, 2, in, 2, &y, 1));
        double want2[4] = {1, 5, 11, 28};
        EXPECT_VALUES(y, want2, 4, 1e-6);
        strata_tensor_destroy(y);
        strata_tensor_destroy(in[0]);
        strata_tensor_destroy(in[1]);
    }
}

TEST(ref_nn_conv_groups_bias_and_same_padding)
{
    /* two channels, group 2, 1x1 kernels scaling by 2 and 3, bias 10 and 20 */
    int64_t xd[4] = {1, 2, 1, 2}, wd[4] = {2, 1, 1, 1}, bd[1] = {2};
    double xv[4] = {1, 2, 3, 4}, wv[2] = {2, 3}, bv[2] = {10, 20};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 4, xd, xv), op_tensor(STRATA_DTYPE_F32, 4, wd, wv),
                            op_tensor(STRATA_DTYPE_F32, 1, bd, bv)},
                  *y;
    attr g = attr_int_of("group", 2);
    EXPECT_OK(op_run("Conv", 11, &g, 1, in, 3, &y, 1));
    double want[4] = {12, 14, 29, 32};
    EXPECT_VALUES(y, want, 4, 1e-6);
    strata_tensor_destroy(y);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
    /* SAME_UPPER 3x3 kernel of ones on 3x3 keeps the shape: centre sums the whole input */
    int64_t xd2[4] = {1, 1, 3, 3}, wd2[4] = {1, 1, 3, 3};
    double w9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    strata_tensor *in2[2] = {op_tensor(STRATA_DTYPE_F32, 4, xd2, x9), op_tensor(STRATA_DTYPE_F32, 4, wd2, w9)};
    attr ap = attr_string_of("auto_pad", "SAME_UPPER");
    EXPECT_OK(op_run("Conv", 11, &ap, 1, in2, 2, &y, 1));
    EXPECT_EQ(y->dims[3], 3);
    EXPECT_NEAR(tensor_get_f64(y, 4), 45, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y, 0), 1 + 2 + 4 + 5, 1e-6);
    strata_tensor_destroy(y);
    strata_tensor_destroy(in2[0]);
    strata_tensor_destroy(in2[1]);
}

TEST(ref_nn_conv_rejects_bad_shapes)
{
    int64_t xd[4] = {1, 3, 4, 4}, wd[4] = {2, 2, 3, 3};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 4, xd, NULL), op_tensor(STRATA_DTYPE_F32, 4, wd, NULL)}, *y;
    EXPECT_STATUS(op_run("Conv", 11, NULL, 0, in, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "node 't' (Conv)");
    EXPECT_STR_CONTAINS(strata_last_error(), "channels");
    strata_tensor_destroy(in[1]);
    /* kernel larger than the input */
    int64_t wd2[4] = {2, 3, 5, 5};
    in[1] = op_tensor(STRATA_DTYPE_F32, 4, wd2, NULL);
    EXPECT_STATUS(op_run("Conv", 11, NULL, 0, in, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "smaller than");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_nn_conv_transpose_stride2)
{
    /* 1-D: x = [1, 2], w = [1, 1, 1], stride 2 -> [1, 1, 3, 2, 2] */
    int64_t xd[3] = {1, 1, 2}, wd[3] = {1, 1, 3}, s[1] = {2};
    double xv[2] = {1, 2}, wv[3] = {1, 1, 1};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 3, xd, xv), op_tensor(STRATA_DTYPE_F32, 3, wd, wv)}, *y;
    attr a = attr_ints_of("strides", s, 1);
    EXPECT_OK(op_run("ConvTranspose", 11, &a, 1, in, 2, &y, 1));
    double want[5] = {1, 1, 3, 2, 2};
    EXPECT_VALUES(y, want, 5, 1e-6);
    strata_tensor_destroy(y);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_nn_gemm_trans_alpha_beta_bias)
{
    int64_t ad[2] = {2, 3}, bd[2] = {2, 3}, cd[1] = {2};
    double av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {1, 0, 1, 0, 1, 0}, cv[2] = {10, 20};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 2, ad, av), op_tensor(STRATA_DTYPE_F32, 2, bd, bv),
                            op_tensor(STRATA_DTYPE_F32, 1, cd, cv)},
                  *y;
    attr a[3] = {attr_int_of("transB", 1), attr_float_of("alpha", 2.0f), attr_float_of("beta", 0.5f)};
    EXPECT_OK(op_run("Gemm", 13, a, 3, in, 3, &y, 1));
    /* A B^T = [[4, 2], [10, 5]]; *2 + 0.5*[10, 20] */
    double want[4] = {13, 14, 25, 20};
    EXPECT_VALUES(y, want, 4, 1e-6);
    strata_tensor_destroy(y);
    /* inner dims mismatch without transB */
    EXPECT_STATUS(op_run("Gemm", 13, NULL, 0, in, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "inner dims");
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
}

TEST(ref_nn_matmul_broadcast_and_vectors)
{
    int64_t ad[3] = {2, 1, 2}, bd[2] = {2, 2}, vd[1] = {2};
    double av[4] = {1, 2, 3, 4}, bv[4] = {1, 2, 3, 4}, vv[2] = {1, 1};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 3, ad, av), op_tensor(STRATA_DTYPE_F32, 2, bd, bv)}, *y;
    EXPECT_OK(op_run("MatMul", 13, NULL, 0, in, 2, &y, 1));
    EXPECT_EQ(y->rank, 3);
    double want[4] = {7, 10, 15, 22};
    EXPECT_VALUES(y, want, 4, 1e-6);
    strata_tensor_destroy(y);
    strata_tensor_destroy(in[0]);
    /* 1-D times matrix drops the dim; int64 runs the generic path */
    strata_tensor *in2[2] = {op_tensor(STRATA_DTYPE_I64, 1, vd, vv), op_tensor(STRATA_DTYPE_I64, 2, bd, bv)};
    EXPECT_OK(op_run("MatMul", 13, NULL, 0, in2, 2, &y, 1));
    EXPECT_EQ(y->rank, 1);
    double want2[2] = {4, 6};
    EXPECT_VALUES(y, want2, 2, 0);
    strata_tensor_destroy(y);
    strata_tensor_destroy(in2[0]);
    strata_tensor_destroy(in2[1]);
    strata_tensor_destroy(in[1]);
}

TEST(ref_nn_maxpool_indices_and_avgpool_pads)
{
    int64_t xd[4] = {1, 1, 3, 3}, k[2] = {2, 2}, pads[4] = {1, 1, 1, 1}, s[2] = {2, 2};
    strata_tensor *x = op_tensor(STRATA_DTYPE_F32, 4, xd, x9), *y[2];
    attr a[1] = {attr_ints_of("kernel_shape", k, 2)};
    EXPECT_OK(op_run("MaxPool", 12, a, 1, &x, 1, y, 2));
    double want[4] = {5, 6, 8, 9}, wi[4] = {4, 5, 7, 8};
    EXPECT_VALUES(y[0], want, 4, 0);
    EXPECT_VALUES(y[1], wi, 4, 0);
    strata_tensor_destroy(y[0]);
    strata_tensor_destroy(y[1]);
    attr b[4] = {attr_ints_of("kernel_shape", k, 2), attr_ints_of("pads", pads, 4),
                 attr_ints_of("strides", s, 2), attr_int_of("count_include_pad", 1)};
    EXPECT_OK(op_run("AveragePool", 11, b, 4, &x, 1, y, 1));
    double want2[4] = {0.25, 5.0 / 4, 11.0 / 4, 7};
    EXPECT_VALUES(y[0], want2, 4, 1e-6);
    strata_tensor_destroy(y[0]);
    EXPECT_OK(op_run("AveragePool", 11, b, 3, &x, 1, y, 1)); /* pads not counted */
    double want3[4] = {1, 2.5, 5.5, 7};
    EXPECT_VALUES(y[0], want3, 4, 1e-6);
    strata_tensor_destroy(y[0]);
    EXPECT_OK(op_run("GlobalAveragePool", 1, NULL, 0, &x, 1, y, 1));
    EXPECT_NEAR(tensor_get_f64(y[0], 0), 5, 1e-6);
    strata_tensor_destroy(y[0]);
    EXPECT_STATUS(op_run("MaxPool", 12, NULL, 0, &x, 1, y, 1), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "kernel_shape");
    strata_tensor_destroy(x);
}

TEST(ref_nn_batch_and_layer_norm)
{
    int64_t xd[4] = {1, 2, 1, 2}, cd[1] = {2};
    double xv[4] = {1, 3, 5, 9}, sc[2] = {1, 2}, bi[2] = {0, 1}, mean[2] = {2, 7}, var[2] = {1, 4};
    strata_tensor *in[5] = {op_tensor(STRATA_DTYPE_F32, 4, xd, xv), op_tensor(STRATA_DTYPE_F32, 1, cd, sc),
                            op_tensor(STRATA_DTYPE_F32, 1, cd, bi), op_tensor(STRATA_DTYPE_F32, 1, cd, mean),
                            op_tensor(STRATA_DTYPE_F32, 1, cd, var)},
                  *y[3];
    attr eps = attr_float_of("epsilon", 0.0f);
    EXPECT_OK(op_run("BatchNormalization", 15, &eps, 1, in, 5, y, 1));
    double want[4] = {-1, 1, -1, 3};
    EXPECT_VALUES(y[0], want, 4, 1e-6);
    strata_tensor_destroy(y[0]);
    /* LayerNormalization over the last axis of [2, 2]: rows (1,3) and (5,9) -> (-1, 1) */
    int64_t ld[2] = {2, 2};
    strata_tensor *ln[3] = {op_tensor(STRATA_DTYPE_F32, 2, ld, xv), op_tensor(STRATA_DTYPE_F32, 1, cd, sc),
                            op_tensor(STRATA_DTYPE_F32, 1, cd, bi)};
    EXPECT_OK(op_run("LayerNormalization", 17, &eps, 1, ln, 3, y, 3));
    double want2[4] = {-1, 3, -1, 3}, wm[2] = {2, 7}, wi[2] = {1, 0.5};
    EXPECT_VALUES(y[0], want2, 4, 1e-6);
    EXPECT_VALUES(y[1], wm, 2, 1e-6);
    EXPECT_VALUES(y[2], wi, 2, 1e-6);
    EXPECT_EQ(y[1]->rank, 2);
    EXPECT_EQ(y[1]->dims[1], 1);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(y[i]);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(ln[i]);
    for (int i = 0; i < 5; i++) strata_tensor_destroy(in[i]);
}

TEST(ref_nn_quantize_dequantize_per_axis)
{
    int64_t xd[2] = {2, 2}, sd[1] = {2};
    double xv[4] = {1, 2.5, -4, 100}, sv[2] = {1, 2}, zv[2] = {0, 10};
    strata_tensor *in[3] = {op_tensor(STRATA_DTYPE_F32, 2, xd, xv), op_tensor(STRATA_DTYPE_F32, 1, sd, sv),
                            op_tensor(STRATA_DTYPE_I8, 1, sd, zv)},
                  *y, *z;
    attr ax = attr_int_of("axis", 0);
    EXPECT_OK(op_run("QuantizeLinear", 21, &ax, 1, in, 3, &y, 1));
    EXPECT_EQ(y->dtype, STRATA_DTYPE_I8);
    double want[4] = {1, 2, 8, 60}; /* 2.5 rounds to even; row 1: x/2 + 10 */
    EXPECT_VALUES(y, want, 4, 0);
    strata_tensor *dq[3] = {y, in[1], in[2]};
    EXPECT_OK(op_run("DequantizeLinear", 21, &ax, 1, dq, 3, &z, 1));
    EXPECT_EQ(z->dtype, STRATA_DTYPE_F32);
    double back[4] = {1, 2, -4, 100};
    EXPECT_VALUES(z, back, 4, 1e-6);
    strata_tensor_destroy(z);
    strata_tensor_destroy(y);
    /* a scale that fits no axis */
    int64_t bad[1] = {3};
    strata_tensor *s3 = op_tensor(STRATA_DTYPE_F32, 1, bad, NULL);
    strata_tensor *in2[2] = {in[0], s3};
    EXPECT_STATUS(op_run("QuantizeLinear", 21, &ax, 1, in2, 2, &y, 1), STRATA_INVALID_ARGUMENT);
    EXPECT_STR_CONTAINS(strata_last_error(), "per-axis scale");
    strata_tensor_destroy(s3);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(in[i]);
}

TEST(ref_nn_einsum_and_nms)
{
    int64_t ad[2] = {2, 2};
    double av[4] = {1, 2, 3, 4};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F64, 2, ad, av), op_tensor(STRATA_DTYPE_F64, 2, ad, av)}, *y;
    attr eq = attr_string_of("equation", "ij,jk->ik");
    EXPECT_OK(op_run("Einsum", 12, &eq, 1, in, 2, &y, 1));
    double want[4] = {7, 10, 15, 22};
    EXPECT_VALUES(y, want, 4, 0);
    strata_tensor_destroy(y);
    attr tr = attr_string_of("equation", "ii");
    EXPECT_OK(op_run("Einsum", 12, &tr, 1, in, 1, &y, 1));
    EXPECT_EQ(y->rank, 0);
    EXPECT_NEAR(tensor_get_f64(y, 0), 5, 0);
    strata_tensor_destroy(y);
    attr bad = attr_string_of("equation", "ij,j?->i");
    EXPECT_STATUS(op_run("Einsum", 12, &bad, 1, in, 2, &y, 1), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "bad character");
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
    /* two overlapping boxes and one apart: the weaker overlapping one goes */
    int64_t bd[3] = {1, 3, 4}, sd[3] = {1, 1, 3}, one[1] = {1};
    double boxes[12] = {0, 0, 1, 1, 0, 0.1, 1, 1.1, 0, 5, 1, 6}, scores[3] = {0.9, 0.8, 0.7};
    double mo = 10, iou = 0.5;
    strata_tensor *nin[4] = {op_tensor(STRATA_DTYPE_F32, 3, bd, boxes), op_tensor(STRATA_DTYPE_F32, 3, sd, scores),
                             op_tensor(STRATA_DTYPE_I64, 1, one, &mo), op_tensor(STRATA_DTYPE_F32, 1, one, &iou)};
    EXPECT_OK(op_run("NonMaxSuppression", 11, NULL, 0, nin, 4, &y, 1));
    EXPECT_EQ(y->dims[0], 2);
    double sel[6] = {0, 0, 0, 0, 0, 2};
    EXPECT_VALUES(y, sel, 6, 0);
    strata_tensor_destroy(y);
    for (int i = 0; i < 4; i++) strata_tensor_destroy(nin[i]);
}

TEST(ref_nn_lstm_zero_weights)
{
    /* zero weights: gates i = o = f = 0.5, c~ = 0 -> C stays 0 and H = 0.5 * tanh(0) = 0;
     * a bias of 1 on the cell gate gives C = 0.5 * tanh(1) after one step */
    int64_t xd[3] = {1, 1, 1}, wd[3] = {1, 4, 1}, rd[3] = {1, 4, 1}, bd[2] = {1, 8};
    double bv[8] = {0, 0, 0, 1, 0, 0, 0, 0};
    strata_tensor *in[4] = {op_tensor(STRATA_DTYPE_F32, 3, xd, NULL), op_tensor(STRATA_DTYPE_F32, 3, wd, NULL),
                            op_tensor(STRATA_DTYPE_F32, 3, rd, NULL), op_tensor(STRATA_DTYPE_F32, 2, bd, bv)},
                  *y[3];
    attr hs = attr_int_of("hidden_size", 1);
    EXPECT_OK(op_run("LSTM", 14, &hs, 1, in, 4, y, 3));
    double c = 0.5 * tanh(1.0), h = 0.5 * tanh(c);
    EXPECT_NEAR(tensor_get_f64(y[2], 0), c, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y[1], 0), h, 1e-6);
    EXPECT_NEAR(tensor_get_f64(y[0], 0), h, 1e-6);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(y[i]);
    for (int i = 0; i < 4; i++) strata_tensor_destroy(in[i]);
}

TEST(ref_nn_static_inference_with_unknown_dims)
{
    /* X [-1, 3, -1, 8] with W [4, 3, 3, 3], pads 1: N and H stay unknown, W is 8 */
    strata_tensor x = {0}, w = {0}, y = {0};
    int64_t xd[4] = {-1, 3, -1, 8}, wd[4] = {4, 3, 3, 3}, pads[4] = {1, 1, 1, 1};
    EXPECT_OK(tensor_set_shape(&x, STRATA_DTYPE_F32, 4, xd));
    EXPECT_OK(tensor_set_shape(&w, STRATA_DTYPE_F32, 4, wd));
    attr a = attr_ints_of("pads", pads, 4);
    op_node n = {"t", "Conv", "", 11, &a, 1, 2, 1};
    const strata_tensor *in[2] = {&x, &w};
    strata_tensor *out[1] = {&y};
    EXPECT_OK(ref_op_find("", "Conv", 11)->infer(&n, in, out));
    EXPECT_EQ(y.dims[0], -1);
    EXPECT_EQ(y.dims[1], 4);
    EXPECT_EQ(y.dims[2], -1);
    EXPECT_EQ(y.dims[3], 8);
    /* MatMul [-1, 5, 3] x [3, 7] -> [-1, 5, 7] */
    int64_t ad[3] = {-1, 5, 3}, bd[2] = {3, 7};
    EXPECT_OK(tensor_set_shape(&x, STRATA_DTYPE_F32, 3, ad));
    EXPECT_OK(tensor_set_shape(&w, STRATA_DTYPE_F32, 2, bd));
    op_node m = {"t", "MatMul", "", 13, NULL, 0, 2, 1};
    EXPECT_OK(ref_op_find("", "MatMul", 13)->infer(&m, in, out));
    EXPECT_EQ(y.rank, 3);
    EXPECT_EQ(y.dims[0], -1);
    EXPECT_EQ(y.dims[2], 7);
    /* NonMaxSuppression's row count needs the values */
    int64_t bx[3] = {1, 2, 4}, sc[3] = {1, 1, 2};
    EXPECT_OK(tensor_set_shape(&x, STRATA_DTYPE_F32, 3, bx));
    EXPECT_OK(tensor_set_shape(&w, STRATA_DTYPE_F32, 3, sc));
    op_node s = {"t", "NonMaxSuppression", "", 11, NULL, 0, 2, 1};
    EXPECT_STATUS(ref_op_find("", "NonMaxSuppression", 11)->infer(&s, in, out), STRATA_NOT_FOUND);
}

TEST(ref_nn_causal_conv_and_deform_conv)
{
    /* CausalConvWithState, K = 2, weight [1, 1], no past: [1, 2, 3] -> [1, 3, 5], state [3] */
    int64_t xd[3] = {1, 1, 3}, wd[3] = {1, 1, 2};
    double xv[3] = {1, 2, 3}, wv[2] = {1, 1};
    strata_tensor *in[2] = {op_tensor(STRATA_DTYPE_F32, 3, xd, xv), op_tensor(STRATA_DTYPE_F32, 3, wd, wv)}, *y[2];
    EXPECT_OK(op_run("CausalConvWithState", 27, NULL, 0, in, 2, y, 2));
    double want[3] = {1, 3, 5}, st[1] = {3};
    EXPECT_VALUES(y[0], want, 3, 1e-6);
    EXPECT_VALUES(y[1], st, 1, 0);
    strata_tensor_destroy(y[0]);
    strata_tensor_destroy(y[1]);
    strata_tensor_destroy(in[0]);
    strata_tensor_destroy(in[1]);
    /* DeformConv with zero offsets is Conv; an offset of +1 row shifts the taps down */
    int64_t cx[4] = {1, 1, 3, 3}, cw[4] = {1, 1, 2, 2}, od[4] = {1, 8, 2, 2};
    double ones[4] = {1, 1, 1, 1}, offs[32] = {0};
    strata_tensor *din[3] = {op_tensor(STRATA_DTYPE_F32, 4, cx, x9), op_tensor(STRATA_DTYPE_F32, 4, cw, ones),
                             op_tensor(STRATA_DTYPE_F32, 4, od, offs)};
    EXPECT_OK(op_run("DeformConv", 19, NULL, 0, din, 3, y, 1));
    double w0[4] = {12, 16, 24, 28};
    EXPECT_VALUES(y[0], w0, 4, 1e-6);
    strata_tensor_destroy(y[0]);
    for (int o = 0; o < 4; o++)
        for (int k = 0; k < 4; k++) tensor_set_f64(din[2], (2 * k) * 4 + o, 1.0); /* every tap's h += 1 */
    EXPECT_OK(op_run("DeformConv", 19, NULL, 0, din, 3, y, 1));
    double w1[4] = {24, 28, 7 + 8, 8 + 9}; /* bottom row windows fall half outside */
    EXPECT_VALUES(y[0], w1, 4, 1e-6);
    strata_tensor_destroy(y[0]);
    for (int i = 0; i < 3; i++) strata_tensor_destroy(din[i]);
}
