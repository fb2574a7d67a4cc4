/* kernels/ref/list_signal.c — the signal family's op table. */
#include "kernels/kernels.h"

const op_def ref_ops_signal[] = {{NULL, NULL, 0, NULL, NULL}};
