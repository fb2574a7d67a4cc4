/* serialize/plan_format.h — the plan file: Strata's engine for one machine. Documented here as
 * offset tables, next to its reader (plan_read.c) and writer (plan_write.c).
 *
 * FILE LAYOUT (all integers little-endian; sections start 64-byte aligned)
 *
 *   [header: PLAN_HEADER_BYTES] [graph section] [program section] [weights section]
 *
 * HEADER
 *   offset size  field
 *   0      8     magic "STRATAPL"
 *   8      4     format version (PLAN_FORMAT_VERSION); another version is refused
 *   12     4     header bytes (PLAN_HEADER_BYTES)
 *   16     16    strata version that wrote it, NUL-padded ("0.1.0")
 *   32     8     CPU features the plan's kernels need (core/cpu.h CPU_* bits)
 *   40     8     hash64 of the source model file (what it was compiled from)
 *   48     8     hash64 of the compile options (shapes, tactics)
 *   56     8     file bytes (the whole file; a shorter file is truncated)
 *   64     8/8   graph section offset / bytes: an ONNX ModelProto of the optimized graph whose
 *                initializers are external data at ONNX_PLAN_LOCATION, i.e. offsets into the
 *                weights section (each 64-byte aligned)
 *   80     8/8   program section offset / bytes (below)
 *   96     8/8   weights section offset / bytes
 *   112    8     arena bytes (the memory plan's activation arena at the profile's max shapes)
 *   120    8     hash64 of the graph and program sections
 *   128    8     hash64_chunked of the weights section (hash of its 4 MiB chunks' hashes)
 *   136    112   reserved, zero
 *   248    8     hash64 of header bytes [0, 248)
 *
 * PROGRAM SECTION (a sequence; strings are u16 length + bytes, no NUL)
 *   u32 n_steps; per step (the main graph's nodes, in order): string kernel name
 *   u32 n_slots; per slot: string value name, u64 arena offset, u64 bytes at the max shape
 *   u32 n_inputs; per graph input: string name, u32 rank, rank x i64 min, rank x i64 max
 */
#ifndef STRATA_PLAN_FORMAT_H
#define STRATA_PLAN_FORMAT_H

#include "serialize.h"

#define PLAN_MAGIC "STRATAPL"
#define PLAN_FORMAT_VERSION 1u
#define PLAN_HEADER_BYTES 256u
#define PLAN_ALIGN 64u

enum {
    PLAN_OFF_MAGIC = 0,
    PLAN_OFF_VERSION = 8,
    PLAN_OFF_HEADER_BYTES = 12,
    PLAN_OFF_STRATA_VERSION = 16,
    PLAN_OFF_CPU = 32,
    PLAN_OFF_MODEL_HASH = 40,
    PLAN_OFF_OPTIONS_HASH = 48,
    PLAN_OFF_FILE_BYTES = 56,
    PLAN_OFF_GRAPH = 64,
    PLAN_OFF_PROGRAM = 80,
    PLAN_OFF_WEIGHTS = 96,
    PLAN_OFF_ARENA = 112,
    PLAN_OFF_META_HASH = 120,
    PLAN_OFF_WEIGHTS_HASH = 128,
    PLAN_OFF_HEADER_HASH = 248
};

#endif
