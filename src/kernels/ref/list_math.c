/* kernels/ref/list_math.c — the math family's op table: elementwise math and activations,
 * broadcasting binary and variadic ops, Where, Cast/CastLike/BitCast, reductions, ArgMax/ArgMin,
 * CumSum/CumProd, Softmax/LogSoftmax/Hardmax, Det. */
#include "ref_math.h"

#define UNARY(name, since) {name, "", since, math_unary_infer, math_unary_compute}
#define BINARY(name, since) {name, "", since, math_binary_infer, math_binary_compute}
#define VARIADIC(name, since) \
    {name, "", since, math_binary_variadic_infer, math_binary_variadic_compute}
#define REDUCE(name, since) {name, "", since, math_reduce_infer, math_reduce_compute}
#define SOFTMAX(name, since) {name, "", since, math_softmax_infer, math_softmax_compute}

const op_def ref_ops_math[] = {
    UNARY("Abs", 1), UNARY("Neg", 1), UNARY("Exp", 1), UNARY("Log", 1), UNARY("Sqrt", 1),
    UNARY("Reciprocal", 1), UNARY("Floor", 1), UNARY("Ceil", 1), UNARY("Round", 11),
    UNARY("Sign", 9), UNARY("Sin", 7), UNARY("Cos", 7), UNARY("Tan", 7), UNARY("Asin", 7),
    UNARY("Acos", 7), UNARY("Atan", 7), UNARY("Sinh", 9), UNARY("Cosh", 9), UNARY("Asinh", 9),
    UNARY("Acosh", 9), UNARY("Atanh", 9), UNARY("Erf", 9), UNARY("Relu", 1),
    UNARY("LeakyRelu", 1), UNARY("Elu", 1), UNARY("Selu", 1), UNARY("Celu", 12),
    UNARY("Sigmoid", 1), UNARY("HardSigmoid", 1), UNARY("HardSwish", 14), UNARY("Tanh", 1),
    UNARY("Softplus", 1), UNARY("Softsign", 1), UNARY("Gelu", 20), UNARY("Mish", 18),
    UNARY("ThresholdedRelu", 10), UNARY("Shrink", 9), UNARY("IsNaN", 9), UNARY("IsInf", 10),
    UNARY("Not", 1), UNARY("BitwiseNot", 18), UNARY("Swish", 24),
    {"Clip", "", 1, math_unary_clip_infer, math_unary_clip_compute},
    BINARY("Add", 1), BINARY("Sub", 1), BINARY("Mul", 1), BINARY("Div", 1), BINARY("Pow", 1),
    BINARY("Mod", 10), BINARY("PRelu", 1), BINARY("And", 1), BINARY("Or", 1),
    BINARY("Xor", 1), BINARY("Equal", 1), BINARY("Less", 1), BINARY("Greater", 1),
    BINARY("LessOrEqual", 12), BINARY("GreaterOrEqual", 12), BINARY("BitShift", 11),
    BINARY("BitwiseAnd", 18), BINARY("BitwiseOr", 18), BINARY("BitwiseXor", 18),
    BINARY("SwiGLU", 28),
    VARIADIC("Max", 1), VARIADIC("Min", 1), VARIADIC("Sum", 1), VARIADIC("Mean", 1),
    {"Where", "", 9, math_binary_where_infer, math_binary_where_compute},
    {"Cast", "", 1, math_cast_infer, math_cast_compute},
    {"CastLike", "", 15, math_cast_infer, math_cast_compute},
    REDUCE("ReduceSum", 1), REDUCE("ReduceMean", 1), REDUCE("ReduceMax", 1),
    REDUCE("ReduceMin", 1), REDUCE("ReduceProd", 1), REDUCE("ReduceL1", 1),
    REDUCE("ReduceL2", 1), REDUCE("ReduceLogSum", 1), REDUCE("ReduceLogSumExp", 1),
    REDUCE("ReduceSumSquare", 1),
    {"ArgMax", "", 1, math_reduce_arg_infer, math_reduce_arg_compute},
    {"ArgMin", "", 1, math_reduce_arg_infer, math_reduce_arg_compute},
    {"CumSum", "", 11, math_reduce_cumsum_infer, math_reduce_cumsum_compute},
    {"CumProd", "", 26, math_reduce_cumsum_infer, math_reduce_cumsum_compute},
    {"BitCast", "", 26, math_cast_bitcast_infer, math_cast_bitcast_compute},
    SOFTMAX("Softmax", 1), SOFTMAX("LogSoftmax", 1), SOFTMAX("Hardmax", 1),
    {"Det", "", 11, math_det_infer, math_det_compute},
    {NULL, NULL, 0, NULL, NULL},
};
