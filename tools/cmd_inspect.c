/* tools/cmd_inspect.c — `strata inspect MODEL [--json]`: inputs and outputs with dtypes and
 * (symbolic) shapes, opset imports, op histogram, parameter count and bytes, and an estimate
 * of FLOPs per sample (symbolic dims taken as 1). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct op_count {
    const char *op;
    long count;
    double flops;
} op_count;

static void shape_text(const ir_value *v, char *buf, size_t n)
{
    size_t o = 0;
    if (v->rank < 0) {
        snprintf(buf, n, "?");
        return;
    }
    o += (size_t)snprintf(buf + o, n - o, "[");
    for (int d = 0; d < v->rank && o < n; d++) {
        if (v->dim_names[d]) o += (size_t)snprintf(buf + o, n - o, "%s%s", d ? "," : "", v->dim_names[d]);
        else if (v->dims[d] < 0) o += (size_t)snprintf(buf + o, n - o, "%s?", d ? "," : "");
        else o += (size_t)snprintf(buf + o, n - o, "%s%lld", d ? "," : "", (long long)v->dims[d]);
    }
    if (o < n) snprintf(buf + o, n - o, "]");
}

static double numel_of(const ir_value *v)
{
    if (v->rank < 0) return 0;
    double n = 1;
    for (int d = 0; d < v->rank; d++) {
        if (v->dims[d] < 0) return 0;
        n *= (double)v->dims[d];
    }
    return n;
}

/* FLOPs of one node from inferred shapes (multiply-add = 2); 0 when shapes are unknown. */
static double node_flops(const ir_graph *g, const ir_node *n)
{
    const ir_value *out = n->n_outputs && n->outputs[0] >= 0 ? &g->values[n->outputs[0]] : NULL;
    const ir_value *in0 = n->n_inputs && n->inputs[0] >= 0 ? &g->values[n->inputs[0]] : NULL;
    const ir_value *in1 = n->n_inputs > 1 && n->inputs[1] >= 0 ? &g->values[n->inputs[1]] : NULL;
    if (!out) return 0;
    double out_n = numel_of(out);
    if ((strcmp(n->op_type, "Conv") == 0 || strcmp(n->op_type, "ConvTranspose") == 0) && in1 &&
        in1->rank >= 3) {
        double k = 1; /* weight [M, C/g, k...]: MACs per output element = C/g * prod(k) */
        for (int d = 1; d < in1->rank; d++) k *= (double)(in1->dims[d] < 0 ? 0 : in1->dims[d]);
        if (strcmp(n->op_type, "ConvTranspose") == 0 && in0) return 2.0 * numel_of(in0) * k;
        return 2.0 * out_n * k;
    }
    if ((strcmp(n->op_type, "Gemm") == 0 || strcmp(n->op_type, "MatMul") == 0) && in0 && in0->rank >= 1) {
        int64_t kdim = in0->dims[in0->rank - 1];
        if (strcmp(n->op_type, "Gemm") == 0) {
            const attr *ta = attr_find(n->attrs, n->n_attrs, "transA");
            if (ta && ta->i && in0->rank == 2) kdim = in0->dims[0];
        }
        return kdim < 0 ? 0 : 2.0 * out_n * (double)kdim;
    }
    return out_n; /* elementwise-like: one operation per output element */
}

/* `strata inspect PLAN`: header facts, kernels, the memory plan against the sum of all
 * intermediates. */
static int inspect_plan(const char *path, bool json, bool slots)
{
    uint64_t t0 = clock_now_ns();
    plan_view *v = NULL;
    strata_status st = plan_read(path, true, &v);
    uint64_t t1 = clock_now_ns();
    if (st != STRATA_OK) return cli_fail("inspect", st);
    const plan_program *p = &v->program;
    uint64_t sum = 0;
    for (size_t s = 0; s < p->n_slots; s++) sum += p->slots[s].n_bytes;
    char cpu[200];
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "plan", path);
        cJSON_AddNumberToObject(root, "open_ms", (double)(t1 - t0) / 1e6);
        cJSON_AddNumberToObject(root, "file_bytes", (double)v->file->n_bytes);
        cJSON_AddNumberToObject(root, "steps", (double)p->n_kernels);
        cJSON_AddStringToObject(root, "cpu_features", cpu_feature_names(p->cpu_features, cpu, sizeof cpu));
        cJSON_AddNumberToObject(root, "arena_bytes", (double)p->arena_bytes);
        cJSON_AddNumberToObject(root, "intermediate_bytes", (double)sum);
        cJSON_AddNumberToObject(root, "arena_ratio", sum ? (double)p->arena_bytes / (double)sum : 0);
        char *text = cJSON_Print(root);
        if (text) puts(text);
        free(text);
        cJSON_Delete(root);
    } else {
        printf("plan: %s (%zu bytes, opened and verified in %.2f ms)\n", path, v->file->n_bytes,
               (double)(t1 - t0) / 1e6);
        printf("steps: %zu, needs CPU features: %s\n", p->n_kernels, cpu_feature_names(p->cpu_features, cpu, sizeof cpu));
        for (size_t i = 0; i < p->n_inputs; i++) {
            printf("input %s:", p->inputs[i].name);
            for (int d = 0; d < p->inputs[i].rank; d++)
                printf(p->inputs[i].min[d] == p->inputs[i].max[d] ? " %lld" : " %lld..%lld",
                       (long long)p->inputs[i].min[d], (long long)p->inputs[i].max[d]);
            printf("\n");
        }
        printf("arena: %.3f MB for %zu intermediates totalling %.3f MB (%.1f%%)\n",
               (double)p->arena_bytes / 1e6, p->n_slots, (double)sum / 1e6,
               sum ? 100.0 * (double)p->arena_bytes / (double)sum : 0.0);
        if (slots)
            for (size_t s = 0; s < p->n_slots; s++)
                printf("  slot %-40s offset %10llu bytes %10llu\n", p->slots[s].name,
                       (unsigned long long)p->slots[s].offset, (unsigned long long)p->slots[s].n_bytes);
    }
    plan_view_close(v);
    return 0;
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false, slots = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--slots") == 0) slots = true;
        else if (argv[i][0] != '-' && !path) path = argv[i];
        else {
            fprintf(stderr, "strata inspect: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: strata inspect MODEL [--json]\n");
        return 2;
    }
    if (plan_is_plan_file(path)) return inspect_plan(path, json, slots);
    uint64_t t0 = clock_now_ns();
    ir_model *m = NULL;
    strata_status st = onnx_read_model(path, &m);
    uint64_t t1 = clock_now_ns();
    if (st != STRATA_OK) return cli_fail("inspect", st);
    ir_graph *g = m->graph;

    /* parameters: initializers */
    double params = 0, param_bytes = 0;
    for (size_t v = 0; v < g->n_values; v++)
        if (g->values[v].init) {
            params += (double)strata_tensor_numel(g->values[v].init);
            param_bytes += (double)g->values[v].init->n_bytes;
        }
    /* FLOPs per sample: symbolic input dims set to 1, shapes inferred again */
    for (size_t i = 0; i < g->n_inputs; i++) {
        ir_value *v = &g->values[g->inputs[i]];
        for (int d = 0; d < v->rank; d++)
            if (v->dims[d] < 0) v->dims[d] = 1;
    }
    char ibuf[300];
    /* the per-sample shapes are only for the estimate; printing uses dim names */
    ir_graph_infer_shapes(g);
    op_count ops[512];
    size_t n_ops = 0;
    double flops = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        double f = node_flops(g, n);
        flops += f;
        size_t k = 0;
        while (k < n_ops && strcmp(ops[k].op, n->op_type) != 0) k++;
        if (k == n_ops && n_ops < ARRAY_LEN(ops)) ops[n_ops++] = (op_count){n->op_type, 0, 0};
        if (k < n_ops) ops[k].count++, ops[k].flops += f;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject(), *ins = cJSON_AddArrayToObject(root, "inputs");
        cJSON_AddStringToObject(root, "model", path);
        cJSON_AddNumberToObject(root, "load_ms", (double)(t1 - t0) / 1e6);
        cJSON_AddNumberToObject(root, "ir_version", (double)m->ir_version);
        cJSON_AddStringToObject(root, "producer", m->producer_name ? m->producer_name : "");
        for (int pass = 0; pass < 2; pass++) {
            cJSON *arr = pass == 0 ? ins : cJSON_AddArrayToObject(root, "outputs");
            size_t cnt = pass == 0 ? g->n_inputs : g->n_outputs;
            for (size_t i = 0; i < cnt; i++) {
                const ir_value *v = &g->values[pass == 0 ? g->inputs[i] : g->outputs[i]];
                if (pass == 0 && v->init) continue;
                cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray();
                cJSON_AddStringToObject(o, "name", v->name);
                cJSON_AddStringToObject(o, "dtype", strata_dtype_name(v->dtype));
                for (int d = 0; d < v->rank; d++)
                    cJSON_AddItemToArray(shape, v->dim_names[d] ? cJSON_CreateString(v->dim_names[d])
                                                                : cJSON_CreateNumber((double)v->dims[d]));
                cJSON_AddItemToObject(o, "shape", shape);
                cJSON_AddItemToArray(arr, o);
            }
        }
        cJSON *opsets = cJSON_AddObjectToObject(root, "opsets");
        for (size_t i = 0; i < m->n_opsets; i++)
            cJSON_AddNumberToObject(opsets, m->opsets[i].domain[0] ? m->opsets[i].domain : "ai.onnx",
                                    (double)m->opsets[i].version);
        cJSON *hist = cJSON_AddObjectToObject(root, "ops");
        for (size_t k = 0; k < n_ops; k++) cJSON_AddNumberToObject(hist, ops[k].op, (double)ops[k].count);
        cJSON_AddNumberToObject(root, "nodes", (double)g->n_nodes);
        cJSON_AddNumberToObject(root, "params", params);
        cJSON_AddNumberToObject(root, "param_bytes", param_bytes);
        cJSON_AddNumberToObject(root, "flops_per_sample", flops);
        char *text = cJSON_Print(root);
        if (text) puts(text);
        free(text);
        cJSON_Delete(root);
        ir_model_destroy(m);
        return 0;
    }
    printf("model: %s (loaded in %.2f ms)\n", path, (double)(t1 - t0) / 1e6);
    printf("ir_version %lld, producer %s %s\n", (long long)m->ir_version,
           m->producer_name ? m->producer_name : "?", m->producer_version ? m->producer_version : "");
    printf("opsets:");
    for (size_t i = 0; i < m->n_opsets; i++)
        printf(" %s=%lld", m->opsets[i].domain[0] ? m->opsets[i].domain : "ai.onnx",
               (long long)m->opsets[i].version);
    printf("\ninputs:\n");
    /* dims were set to 1 above for the estimate; show the names kept in dim_names */
    for (size_t i = 0; i < g->n_inputs; i++) {
        const ir_value *v = &g->values[g->inputs[i]];
        if (v->init) continue;
        shape_text(v, ibuf, sizeof ibuf);
        printf("  %-24s %-8s %s\n", v->name, strata_dtype_name(v->dtype), ibuf);
    }
    printf("outputs:\n");
    for (size_t i = 0; i < g->n_outputs; i++) {
        const ir_value *v = &g->values[g->outputs[i]];
        shape_text(v, ibuf, sizeof ibuf);
        printf("  %-24s %-8s %s\n", v->name, strata_dtype_name(v->dtype), ibuf);
    }
    printf("nodes: %zu\nops:\n", g->n_nodes);
    for (size_t k = 0; k < n_ops; k++)
        printf("  %-24s %5ld  %10.3f MFLOP\n", ops[k].op, ops[k].count, ops[k].flops / 1e6);
    printf("parameters: %.0f (%.2f MB)\n", params, param_bytes / 1e6);
    printf("FLOPs per sample (estimate): %.4g (%.3f GFLOP)\n", flops, flops / 1e9);
    ir_model_destroy(m);
    return 0;
}
