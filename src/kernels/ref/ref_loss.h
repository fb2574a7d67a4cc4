/* kernels/ref/ref_loss.h — private declarations of the loss family of reference ops (loss_*.c):
 * the infer/compute pairs that list_loss.c puts in its table. */
#ifndef STRATA_REF_LOSS_H
#define STRATA_REF_LOSS_H

#include "ref_transformer.h"

/* loss_nll.c */
TRANSFORMER_DECLARE_OP(loss_nll);
TRANSFORMER_DECLARE_OP(loss_nll_softmax_ce);

#endif
