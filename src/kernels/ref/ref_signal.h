/* kernels/ref/ref_signal.h — private declarations of the signal family of reference ops
 * (signal_*.c): the infer/compute pairs that list_signal.c puts in its table. */
#ifndef STRATA_REF_SIGNAL_H
#define STRATA_REF_SIGNAL_H

#include "ref_transformer.h"

/* signal_dft.c */
TRANSFORMER_DECLARE_OP(signal_dft);
TRANSFORMER_DECLARE_OP(signal_dft_stft);
/* signal_window.c */
TRANSFORMER_DECLARE_OP(signal_window_hann);
TRANSFORMER_DECLARE_OP(signal_window_hamming);
TRANSFORMER_DECLARE_OP(signal_window_blackman);
TRANSFORMER_DECLARE_OP(signal_window_mel);

#endif
