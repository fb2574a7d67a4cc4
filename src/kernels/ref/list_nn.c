/* kernels/ref/list_nn.c — the nn family's op table: convolutions, matrix products, quantize /
 * dequantize, normalisations, pooling, recurrent cells, sampling and box ops (nn_*.c). */
#include "ref_nn.h"

#define ROW(op, since, fn) {op, "", since, fn##_infer, fn##_compute}

const op_def ref_ops_nn[] = {
    ROW("Conv", 1, nn_conv),
    ROW("ConvTranspose", 1, nn_conv_transpose),
    ROW("ConvInteger", 10, nn_conv_integer),
    ROW("QLinearConv", 10, nn_conv_qlinear),
    ROW("Gemm", 1, nn_matmul_gemm),
    ROW("MatMul", 1, nn_matmul),
    ROW("MatMulInteger", 10, nn_matmul_integer),
    ROW("QLinearMatMul", 10, nn_matmul_qlinear),
    ROW("BatchNormalization", 1, nn_norm_batch),
    ROW("InstanceNormalization", 1, nn_norm_instance),
    ROW("LayerNormalization", 17, nn_norm_layer),
    ROW("GroupNormalization", 18, nn_norm_group),
    ROW("LpNormalization", 1, nn_norm_lp),
    ROW("MeanVarianceNormalization", 9, nn_norm_mvn),
    ROW("LRN", 1, nn_norm_lrn),
    ROW("MaxPool", 1, nn_pool_max),
    ROW("AveragePool", 1, nn_pool_average),
    ROW("LpPool", 1, nn_pool_lp),
    ROW("GlobalAveragePool", 1, nn_pool_global_average),
    ROW("GlobalMaxPool", 1, nn_pool_global_max),
    ROW("GlobalLpPool", 1, nn_pool_global_lp),
    ROW("MaxUnpool", 9, nn_pool_max_unpool),
    ROW("MaxRoiPool", 1, nn_pool_max_roi),
    ROW("QuantizeLinear", 10, nn_quant_quantize),
    ROW("DequantizeLinear", 10, nn_quant_dequantize),
    ROW("DynamicQuantizeLinear", 11, nn_quant_dynamic),
    ROW("RNN", 7, nn_rnn),
    ROW("GRU", 7, nn_rnn_gru),
    ROW("LSTM", 7, nn_rnn_lstm),
    ROW("Einsum", 12, nn_einsum),
    ROW("GridSample", 16, nn_sample_grid),
    ROW("AffineGrid", 20, nn_sample_affine_grid),
    ROW("RoiAlign", 10, nn_sample_roi_align),
    ROW("NonMaxSuppression", 10, nn_nms),
    {NULL, NULL, 0, NULL, NULL},
};
