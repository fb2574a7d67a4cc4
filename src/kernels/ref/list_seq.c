/* kernels/ref/list_seq.c — the sequence family's op table: sequence and optional values, and
 * Identity from opset 14 (any value passes through; it supersedes the tensor family's row). */
#include "ref_seq.h"

#define ROW(op, since, fn) {op, "", since, fn##_infer, fn##_compute}

const op_def ref_ops_seq[] = {
    ROW("SequenceConstruct", 11, seq_construct),
    ROW("SequenceEmpty", 11, seq_empty),
    ROW("SequenceAt", 11, seq_at),
    ROW("SequenceInsert", 11, seq_insert),
    ROW("SequenceErase", 11, seq_erase),
    ROW("SequenceLength", 11, seq_length),
    ROW("SplitToSequence", 11, seq_split),
    ROW("ConcatFromSequence", 11, seq_concat),
    ROW("Optional", 15, seq_optional),
    ROW("OptionalHasElement", 15, seq_optional_has),
    ROW("OptionalGetElement", 15, seq_optional_get),
    ROW("Identity", 14, seq_identity),
    {NULL, NULL, 0, NULL, NULL},
};
