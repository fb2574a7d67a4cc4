/* kernels/ref/list_transformer.c — the transformer family's op table. */
#include "kernels/kernels.h"

const op_def ref_ops_transformer[] = {{NULL, NULL, 0, NULL, NULL}};
