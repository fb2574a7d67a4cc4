/* kernels/ref/list_transformer.c — the transformer family's op table: Attention,
 * RMSNormalization, RotaryEmbedding, LinearAttention, CausalConvWithState, and FlexAttention
 * (ai.onnx.preview) without modifier subgraphs. */
#include "ref_transformer.h"

#define ROW(op, since, fn) {op, "", since, fn##_infer, fn##_compute}

const op_def ref_ops_transformer[] = {
    ROW("Attention", 23, transformer_attention),
    {"FlexAttention", "ai.onnx.preview", 1, transformer_attention_flex_infer,
     transformer_attention_flex_compute},
    ROW("RMSNormalization", 23, transformer_norm_rms),
    ROW("RotaryEmbedding", 23, transformer_rotary),
    ROW("LinearAttention", 27, transformer_linear_attention),
    ROW("CausalConvWithState", 27, transformer_linear_causal_conv),
    {NULL, NULL, 0, NULL, NULL},
};
