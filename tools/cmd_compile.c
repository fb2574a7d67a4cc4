/* tools/cmd_compile.c — `strata compile MODEL -o OUT [--shape NAME=DxD | --profile
 * NAME=MIN:OPT:MAX]... [--dump DIR] [-v]`: runs the pass pipeline and writes a plan file, or,
 * when OUT ends in .onnx, the optimized graph as portable ONNX (com.strata fused ops). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compile/compile.h"

int cmd_compile(int argc, char **argv)
{
    const char *path = NULL, *out = NULL;
    compile_options o;
    memset(&o, 0, sizeof o);
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--shape") == 0 || strcmp(argv[i], "--profile") == 0) && i + 1 < argc) {
            if (o.n_shapes >= (int)ARRAY_LEN(o.shapes)) {
                fprintf(stderr, "strata compile: too many --shape options\n");
                return 2;
            }
            strata_status st = compile_parse_shape(argv[++i], &o.shapes[o.n_shapes++]);
            if (st != STRATA_OK) return cli_fail("compile", st);
        } else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc) {
            o.dump_dir = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--tactics") == 0 && i + 1 < argc) {
            const char *m = argv[++i];
            if (strcmp(m, "heuristic") == 0) o.tactics = TACTICS_HEURISTIC;
            else if (strcmp(m, "autotune") == 0) o.tactics = TACTICS_AUTOTUNE;
            else if (strcmp(m, "reference") == 0) o.tactics = TACTICS_REFERENCE;
            else {
                fprintf(stderr, "strata compile: --tactics is heuristic, autotune or reference, not '%s'\n", m);
                return 2;
            }
        } else if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc) {
            const char *l = argv[++i];
            if (strcmp(l, "auto") == 0) o.layout = LAYOUT_AUTO;
            else if (strcmp(l, "nhwc") == 0) o.layout = LAYOUT_NHWC;
            else if (strcmp(l, "nchw") == 0) o.layout = LAYOUT_NCHW;
            else {
                fprintf(stderr, "strata compile: --layout is auto, nhwc or nchw, not '%s'\n", l);
                return 2;
            }
        } else if (strcmp(argv[i], "--precision") == 0 && i + 1 < argc) {
            strata_status st = compile_parse_precision(argv[++i], &o.precision);
            if (st != STRATA_OK) return cli_fail("compile", st);
        } else if (strcmp(argv[i], "--timing-cache") == 0 && i + 1 < argc) {
            o.timing_cache = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            o.n_threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-v") == 0) {
            o.verbose = true;
        } else if (argv[i][0] != '-' && !path) {
            path = argv[i];
        } else {
            fprintf(stderr, "strata compile: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path || !out) {
        fprintf(stderr, "usage: strata compile MODEL -o OUT.plan|OUT.onnx [--shape NAME=1x3x224x224 | "
                        "--profile NAME=MIN:OPT:MAX] [--tactics heuristic|autotune|reference] [--timing-cache FILE]\n"
                        "       [--layout auto|nhwc|nchw] [--precision fp32|bf16]"
                        "       [--threads N] [--dump DIR] [-v]\n");
        return 2;
    }
    ir_model *m = NULL;
    strata_status st = onnx_read_model(path, &m);
    if (st != STRATA_OK) return cli_fail("compile", st);
    size_t before = m->graph->n_nodes;
    uint64_t t0 = clock_now_ns();
    st = compile_optimize(m, &o);
    uint64_t t1 = clock_now_ns();
    size_t n_out = strlen(out);
    bool onnx_out = n_out > 5 && strcmp(out + n_out - 5, ".onnx") == 0;
    if (st == STRATA_OK) st = onnx_out ? onnx_write_model(m, out) : compile_write_plan(m, &o, out);
    if (st != STRATA_OK) {
        ir_model_destroy(m);
        return cli_fail("compile", st);
    }
    printf("%s: %zu nodes -> %zu nodes in %.1f ms; wrote %s\n", path, before, m->graph->n_nodes,
           (double)(t1 - t0) / 1e6, out);
    ir_model_destroy(m);
    return 0;
}
