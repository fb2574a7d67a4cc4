/* kernels/ref/list_signal.c — the signal family's op table: DFT (17, 20), STFT, HannWindow,
 * HammingWindow, BlackmanWindow and MelWeightMatrix. */
#include "ref_signal.h"

#define ROW(op, since, fn) {op, "", since, fn##_infer, fn##_compute}

const op_def ref_ops_signal[] = {
    ROW("DFT", 17, signal_dft),
    ROW("DFT", 20, signal_dft),
    ROW("STFT", 17, signal_dft_stft),
    ROW("HannWindow", 17, signal_window_hann),
    ROW("HammingWindow", 17, signal_window_hamming),
    ROW("BlackmanWindow", 17, signal_window_blackman),
    ROW("MelWeightMatrix", 17, signal_window_mel),
    {NULL, NULL, 0, NULL, NULL},
};
