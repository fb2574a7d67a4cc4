/* kernels/ref/list_loss.c — the loss family's op table: NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss. */
#include "ref_loss.h"

#define ROW(op, since, fn) {op, "", since, fn##_infer, fn##_compute}

const op_def ref_ops_loss[] = {
    ROW("NegativeLogLikelihoodLoss", 12, loss_nll),
    ROW("SoftmaxCrossEntropyLoss", 12, loss_nll_softmax_ce),
    {NULL, NULL, 0, NULL, NULL},
};
