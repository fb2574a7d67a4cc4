/* ir/eval.c — the reference interpreter: runs a graph node by node with the reference ops,
 * including the control-flow ops (If, Loop, Scan, SequenceMap) whose bodies are subgraphs. It
 * is the oracle for the compiled path and the engine of constant folding and calibration. Values
 * may be tensors or sequence/optional containers (core.h). Intermediate values are freed after
 * their last use. */
#include <stdio.h>
#include <string.h>

#include "ir.h"
#include "kernels/kernels.h"


static const strata_tensor *scope_lookup(const ir_scope *s, const char *name)
{
    for (; s; s = s->parent) {
        int id = ir_graph_find(s->g, name);
        if (id >= 0 && s->vals[id]) return s->vals[id];
    }
    return NULL;
}

static const char *node_label(const ir_node *n, char *buf, size_t n_buf)
{
    snprintf(buf, n_buf, "node '%s' (%s)", n->name ? n->name : "", n->op_type);
    return buf;
}

static void scope_release(ir_scope *s)
{
    if (!s->vals || !s->owned) {
        mem_free(s->vals);
        mem_free(s->owned);
        s->vals = NULL;
        s->owned = NULL;
        return;
    }
    for (size_t v = 0; v < s->g->n_values; v++)
        if (s->owned[v]) strata_tensor_destroy(s->vals[v]);
    mem_free(s->vals);
    mem_free(s->owned);
    s->vals = NULL;
    s->owned = NULL;
}

/* Collects into uses the last node index that reads each value of g, counting reads by
 * subgraphs of a node (outer references at any depth) as reads by that node. */
static void mark_outer_uses(const ir_graph *g, const ir_graph *sub, int node_index, int *last_use,
                            int depth)
{
    if (depth > STRATA_MAX_SUBGRAPH_DEPTH) return;
    for (size_t v = 0; v < sub->n_values; v++) {
        if (!sub->values[v].is_outer) continue;
        int id = ir_graph_find(g, sub->values[v].name);
        if (id >= 0 && last_use[id] < node_index) last_use[id] = node_index;
    }
    for (size_t i = 0; i < sub->n_nodes; i++)
        for (size_t a = 0; a < sub->nodes[i].n_attrs; a++) {
            const attr *at = &sub->nodes[i].attrs[a];
            if (at->type == ATTR_GRAPH && at->g)
                mark_outer_uses(g, at->g, node_index, last_use, depth + 1);
            if (at->type == ATTR_GRAPHS)
                for (size_t k = 0; k < at->n; k++)
                    mark_outer_uses(g, at->graphs[k], node_index, last_use, depth + 1);
        }
}

static const ir_graph *node_graph_attr(const ir_node *n, const char *name)
{
    const attr *a = attr_find(n->attrs, n->n_attrs, name);
    return a && a->type == ATTR_GRAPH ? a->g : NULL;
}

static strata_status run_graph(const ir_graph *g, const ir_scope *outer,
                               const strata_tensor *const *inputs, size_t n_inputs,
                               strata_tensor **outputs, size_t n_outputs, int depth);

/* ---- control flow ------------------------------------------------------------------------ */

static strata_status run_if(const ir_node *n, const ir_scope *s, const strata_tensor *const *in,
                            strata_tensor **out, int depth)
{
    char lb[300];
    if (n->n_inputs < 1 || !in[0] || dtype_is_container(in[0]->dtype) ||
        strata_tensor_numel(in[0]) != 1)
        return error_set(STRATA_INVALID_MODEL, "%s: condition must be a one-element tensor",
                         node_label(n, lb, sizeof lb));
    bool cond = tensor_get_f64(in[0], 0) != 0.0;
    const ir_graph *body = node_graph_attr(n, cond ? "then_branch" : "else_branch");
    if (!body)
        return error_set(STRATA_INVALID_MODEL, "%s: missing %s", node_label(n, lb, sizeof lb),
                         cond ? "then_branch" : "else_branch");
    if (body->n_outputs != n->n_outputs)
        return error_set(STRATA_INVALID_MODEL, "%s: branch has %zu outputs, node has %zu",
                         node_label(n, lb, sizeof lb), body->n_outputs, n->n_outputs);
    return run_graph(body, s, NULL, 0, out, n->n_outputs, depth + 1);
}

/* Stacks k tensors of equal shape along a new axis 0 into a new tensor. */
static strata_status stack_tensors(strata_tensor **parts, size_t k, const char *what,
                                   strata_tensor **out)
{
    if (k == 0)
        return error_set(STRATA_UNSUPPORTED, "%s: zero iterations leave the scan output's shape unknown", what);
    const strata_tensor *p0 = parts[0];
    if (p0->rank + 1 > STRATA_MAX_DIMS)
        return error_set(STRATA_INVALID_MODEL, "%s: scan output rank too large", what);
    int64_t dims[STRATA_MAX_DIMS];
    dims[0] = (int64_t)k;
    for (int d = 0; d < p0->rank; d++) dims[d + 1] = p0->dims[d];
    strata_status st = strata_tensor_create(p0->dtype, p0->rank + 1, dims, out);
    if (st != STRATA_OK) return st;
    uint8_t *dst = (*out)->data;
    for (size_t i = 0; i < k; i++) {
        if (parts[i]->dtype != p0->dtype || parts[i]->n_bytes != p0->n_bytes) {
            strata_tensor_destroy(*out);
            *out = NULL;
            return error_set(STRATA_INVALID_MODEL,
                             "%s: scan output of iteration %zu has another shape than the first", what, i);
        }
        if (p0->dtype == STRATA_DTYPE_STRING) {
            char *const *src = parts[i]->data;
            char **d = (char **)dst;
            int64_t m = strata_tensor_numel(parts[i]);
            for (int64_t e = 0; e < m; e++) d[e] = mem_strdup(src[e] ? src[e] : "");
        } else if (p0->n_bytes) {
            memcpy(dst, parts[i]->data, p0->n_bytes);
        }
        dst += p0->n_bytes;
    }
    return STRATA_OK;
}

static strata_status run_loop(const ir_node *n, const ir_scope *s, const strata_tensor *const *in,
                              strata_tensor **out, int depth)
{
    char lb[300];
    node_label(n, lb, sizeof lb);
    const ir_graph *body = node_graph_attr(n, "body");
    if (!body) return error_set(STRATA_INVALID_MODEL, "%s: missing body", lb);
    if (n->n_inputs < 2) return error_set(STRATA_INVALID_MODEL, "%s: needs M and cond inputs", lb);
    size_t n_carried = n->n_inputs - 2;
    if (body->n_inputs != n_carried + 2 || body->n_outputs < n_carried + 1)
        return error_set(STRATA_INVALID_MODEL,
                         "%s: body has %zu inputs and %zu outputs for %zu loop-carried values",
                         lb, body->n_inputs, body->n_outputs, n_carried);
    size_t n_scan = body->n_outputs - 1 - n_carried;
    if (n->n_outputs > n_carried + n_scan)
        return error_set(STRATA_INVALID_MODEL, "%s: more outputs than the body provides", lb);
    int64_t max_trips = INT64_MAX;
    if (in[0]) {
        if (dtype_is_container(in[0]->dtype) || strata_tensor_numel(in[0]) != 1)
            return error_set(STRATA_INVALID_MODEL, "%s: M must be a scalar", lb);
        max_trips = tensor_get_i64(in[0], 0);
    }
    bool cond = true;
    if (in[1]) {
        if (dtype_is_container(in[1]->dtype) || strata_tensor_numel(in[1]) != 1)
            return error_set(STRATA_INVALID_MODEL, "%s: cond must be a scalar", lb);
        cond = tensor_get_f64(in[1], 0) != 0.0;
    }
    if (!in[0] && !in[1])
        return error_set(STRATA_UNSUPPORTED, "%s: a loop with neither M nor cond never ends", lb);

    strata_status st = STRATA_OK;
    size_t n_body_out = body->n_outputs;
    strata_tensor **carried = mem_calloc(n_carried + 1, sizeof *carried);
    strata_tensor **bout = mem_calloc(n_body_out, sizeof *bout);
    const strata_tensor **bin = mem_calloc(n_carried + 2, sizeof *bin);
    strata_tensor ***scans = mem_calloc(n_scan + 1, sizeof *scans);
    size_t n_iter = 0, cap_iter = 0;
    strata_tensor *iter_t = NULL, *cond_t = NULL;
    if (!carried || !bout || !bin || !scans) {
        st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", lb);
        goto done;
    }
    for (size_t i = 0; i < n_carried; i++) {
        if (!in[2 + i]) {
            st = error_set(STRATA_UNSUPPORTED, "%s: absent loop-carried input %zu", lb, i);
            goto done;
        }
        st = tensor_clone(in[2 + i], &carried[i]);
        if (st != STRATA_OK) goto done;
    }
    st = strata_tensor_create(STRATA_DTYPE_I64, 0, NULL, &iter_t);
    if (st == STRATA_OK) st = strata_tensor_create(STRATA_DTYPE_BOOL, 0, NULL, &cond_t);
    if (st != STRATA_OK) goto done;
    for (int64_t it = 0; it < max_trips && cond; it++) {
        if (it >= 10000000) {
            st = error_set(STRATA_UNSUPPORTED, "%s: more than 10^7 iterations", lb);
            goto done;
        }
        ((int64_t *)iter_t->data)[0] = it;
        ((uint8_t *)cond_t->data)[0] = cond;
        bin[0] = iter_t;
        bin[1] = cond_t;
        for (size_t i = 0; i < n_carried; i++) bin[2 + i] = carried[i];
        memset(bout, 0, n_body_out * sizeof *bout);
        st = run_graph(body, s, bin, n_carried + 2, bout, n_body_out, depth + 1);
        if (st != STRATA_OK) goto done;
        if (!bout[0] || dtype_is_container(bout[0]->dtype) || strata_tensor_numel(bout[0]) != 1) {
            st = error_set(STRATA_INVALID_MODEL, "%s: body's cond output is not a scalar", lb);
            for (size_t k = 0; k < n_body_out; k++) strata_tensor_destroy(bout[k]);
            goto done;
        }
        cond = tensor_get_f64(bout[0], 0) != 0.0;
        strata_tensor_destroy(bout[0]);
        for (size_t i = 0; i < n_carried; i++) {
            strata_tensor_destroy(carried[i]);
            carried[i] = bout[1 + i];
        }
        if (n_iter == cap_iter) {
            size_t cap = cap_iter ? cap_iter * 2 : 8;
            for (size_t k = 0; k < n_scan; k++) {
                strata_tensor **ns = mem_realloc(scans[k], cap * sizeof *ns);
                if (!ns) {
                    st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", lb);
                    for (size_t j = 0; j < n_scan; j++) strata_tensor_destroy(bout[1 + n_carried + j]);
                    goto done;
                }
                scans[k] = ns;
            }
            cap_iter = cap;
        }
        for (size_t k = 0; k < n_scan; k++) scans[k][n_iter] = bout[1 + n_carried + k];
        n_iter++;
    }
    for (size_t i = 0; i < n_carried && i < n->n_outputs; i++) {
        out[i] = carried[i];
        carried[i] = NULL;
    }
    for (size_t k = 0; k < n_scan && n_carried + k < n->n_outputs; k++) {
        if (n->outputs[n_carried + k] < 0) continue;
        st = stack_tensors(scans[k], n_iter, lb, &out[n_carried + k]);
        if (st != STRATA_OK) goto done;
    }
done:
    if (carried)
        for (size_t i = 0; i < n_carried; i++) strata_tensor_destroy(carried[i]);
    if (scans) {
        for (size_t k = 0; k < n_scan; k++) {
            for (size_t i = 0; i < n_iter; i++) strata_tensor_destroy(scans[k][i]);
            mem_free(scans[k]);
        }
    }
    strata_tensor_destroy(iter_t);
    strata_tensor_destroy(cond_t);
    mem_free(carried);
    mem_free(bout);
    mem_free(bin);
    mem_free(scans);
    return st;
}

/* Copies slice `index` along `axis` of src into a new tensor without that axis. */
static strata_status slice_axis(const strata_tensor *src, int axis, int64_t index,
                                strata_tensor **out)
{
    int64_t dims[STRATA_MAX_DIMS];
    int r = 0;
    for (int d = 0; d < src->rank; d++)
        if (d != axis) dims[r++] = src->dims[d];
    strata_status st = strata_tensor_create(src->dtype, r, dims, out);
    if (st != STRATA_OK) return st;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= src->dims[d];
    for (int d = axis + 1; d < src->rank; d++) inner *= src->dims[d];
    size_t es = strata_dtype_size(src->dtype);
    const uint8_t *s = src->data;
    uint8_t *o = (*out)->data;
    for (int64_t a = 0; a < outer; a++) {
        const uint8_t *from = s + ((size_t)(a * src->dims[axis] + index) * (size_t)inner) * es;
        if (src->dtype == STRATA_DTYPE_STRING) {
            for (int64_t e = 0; e < inner; e++) {
                const char *str = ((char *const *)from)[e];
                ((char **)o)[a * inner + e] = mem_strdup(str ? str : "");
            }
        } else {
            memcpy(o + (size_t)(a * inner) * es, from, (size_t)inner * es);
        }
    }
    return STRATA_OK;
}

/* Moves axis 0 of src (stacked) to position axis. */
static strata_status move_axis0(strata_tensor *src, int axis, strata_tensor **out)
{
    if (axis == 0) {
        *out = src;
        return STRATA_OK;
    }
    int64_t dims[STRATA_MAX_DIMS];
    int r = src->rank, k = 0;
    for (int d = 1; d <= axis; d++) dims[k++] = src->dims[d];
    dims[k++] = src->dims[0];
    for (int d = axis + 1; d < r; d++) dims[k++] = src->dims[d];
    strata_status st = strata_tensor_create(src->dtype, r, dims, out);
    if (st != STRATA_OK) {
        strata_tensor_destroy(src);
        return st;
    }
    /* out[i1..ia, i0, rest] = src[i0, i1..ia, rest] */
    int64_t n0 = src->dims[0], mid = 1, inner = 1;
    for (int d = 1; d <= axis; d++) mid *= src->dims[d];
    for (int d = axis + 1; d < r; d++) inner *= src->dims[d];
    size_t es = strata_dtype_size(src->dtype);
    for (int64_t i0 = 0; i0 < n0; i0++)
        for (int64_t m = 0; m < mid; m++)
            memcpy((uint8_t *)(*out)->data + (size_t)((m * n0 + i0) * inner) * es,
                   (uint8_t *)src->data + (size_t)((i0 * mid + m) * inner) * es,
                   (size_t)inner * es);
    if (src->dtype == STRATA_DTYPE_STRING) src->owns_strings = false, (*out)->owns_strings = true;
    strata_tensor_destroy(src);
    return STRATA_OK;
}

static strata_status run_scan(const ir_node *n, const ir_scope *s, const strata_tensor *const *in,
                              strata_tensor **out, int depth)
{
    char lb[300];
    node_label(n, lb, sizeof lb);
    const ir_graph *body = node_graph_attr(n, "body");
    if (!body) return error_set(STRATA_INVALID_MODEL, "%s: missing body", lb);
    const attr *ns = attr_find(n->attrs, n->n_attrs, "num_scan_inputs");
    if (!ns || ns->type != ATTR_INT || ns->i < 1 || (size_t)ns->i > n->n_inputs)
        return error_set(STRATA_INVALID_MODEL, "%s: bad num_scan_inputs", lb);
    int64_t opset = ir_model_opset(body->model, n->domain);
    if (opset >= 0 && opset < 9) return error_set(STRATA_UNSUPPORTED, "%s: Scan before opset 9", lb);
    size_t n_scan_in = (size_t)ns->i, n_state = n->n_inputs - n_scan_in;
    if (body->n_inputs != n->n_inputs || body->n_outputs < n_state)
        return error_set(STRATA_INVALID_MODEL, "%s: body inputs/outputs do not match the node", lb);
    size_t n_scan_out = body->n_outputs - n_state;
    const attr *in_axes = attr_find(n->attrs, n->n_attrs, "scan_input_axes");
    const attr *in_dirs = attr_find(n->attrs, n->n_attrs, "scan_input_directions");
    const attr *out_axes = attr_find(n->attrs, n->n_attrs, "scan_output_axes");
    const attr *out_dirs = attr_find(n->attrs, n->n_attrs, "scan_output_directions");
    int64_t seq_len = -1;
    int axes[64];
    if (n_scan_in > 64) return error_set(STRATA_UNSUPPORTED, "%s: too many scan inputs", lb);
    for (size_t k = 0; k < n_scan_in; k++) {
        const strata_tensor *x = in[n_state + k];
        if (!x) return error_set(STRATA_INVALID_MODEL, "%s: scan input %zu absent", lb, k);
        int64_t ax = in_axes && in_axes->type == ATTR_INTS && k < in_axes->n ? in_axes->ints[k] : 0;
        if (ax < 0) ax += x->rank;
        if (ax < 0 || ax >= x->rank)
            return error_set(STRATA_INVALID_MODEL, "%s: scan_input_axes[%zu] out of range", lb, k);
        axes[k] = (int)ax;
        if (seq_len >= 0 && x->dims[ax] != seq_len)
            return error_set(STRATA_INVALID_MODEL, "%s: scan inputs differ in sequence length", lb);
        seq_len = x->dims[ax];
    }
    strata_status st = STRATA_OK;
    size_t nb = body->n_outputs;
    strata_tensor **state = mem_calloc(n_state + 1, sizeof *state);
    strata_tensor **bout = mem_calloc(nb, sizeof *bout);
    const strata_tensor **bin = mem_calloc(n->n_inputs, sizeof *bin);
    strata_tensor **slices = mem_calloc(n_scan_in + 1, sizeof *slices);
    strata_tensor **parts = mem_calloc((size_t)(seq_len > 0 ? seq_len : 1) * (n_scan_out + 1), sizeof *parts);
    if (!state || !bout || !bin || !slices || !parts) {
        st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", lb);
        goto done;
    }
    for (size_t i = 0; i < n_state; i++) {
        st = tensor_clone(in[i], &state[i]);
        if (st != STRATA_OK) goto done;
    }
    for (int64_t t = 0; t < seq_len; t++) {
        for (size_t k = 0; k < n_scan_in; k++) {
            bool rev = in_dirs && in_dirs->type == ATTR_INTS && k < in_dirs->n && in_dirs->ints[k];
            strata_tensor_destroy(slices[k]);
            slices[k] = NULL;
            st = slice_axis(in[n_state + k], axes[k], rev ? seq_len - 1 - t : t, &slices[k]);
            if (st != STRATA_OK) goto done;
            bin[n_state + k] = slices[k];
        }
        for (size_t i = 0; i < n_state; i++) bin[i] = state[i];
        memset(bout, 0, nb * sizeof *bout);
        st = run_graph(body, s, bin, n->n_inputs, bout, nb, depth + 1);
        if (st != STRATA_OK) goto done;
        for (size_t i = 0; i < n_state; i++) {
            strata_tensor_destroy(state[i]);
            state[i] = bout[i];
        }
        for (size_t k = 0; k < n_scan_out; k++) {
            bool rev = out_dirs && out_dirs->type == ATTR_INTS && k < out_dirs->n && out_dirs->ints[k];
            parts[k * (size_t)seq_len + (size_t)(rev ? seq_len - 1 - t : t)] = bout[n_state + k];
        }
    }
    for (size_t i = 0; i < n_state && i < n->n_outputs; i++) {
        out[i] = state[i];
        state[i] = NULL;
    }
    for (size_t k = 0; k < n_scan_out && n_state + k < n->n_outputs; k++) {
        strata_tensor *stacked = NULL;
        st = stack_tensors(parts + k * (size_t)seq_len, (size_t)seq_len, lb, &stacked);
        if (st != STRATA_OK) goto done;
        int64_t ax = out_axes && out_axes->type == ATTR_INTS && k < out_axes->n ? out_axes->ints[k] : 0;
        if (ax < 0) ax += stacked->rank;
        if (ax < 0 || ax >= stacked->rank) {
            strata_tensor_destroy(stacked);
            st = error_set(STRATA_INVALID_MODEL, "%s: scan_output_axes[%zu] out of range", lb, k);
            goto done;
        }
        st = move_axis0(stacked, (int)ax, &out[n_state + k]);
        if (st != STRATA_OK) goto done;
    }
done:
    if (state)
        for (size_t i = 0; i < n_state; i++) strata_tensor_destroy(state[i]);
    if (slices)
        for (size_t k = 0; k < n_scan_in; k++) strata_tensor_destroy(slices[k]);
    if (parts && seq_len > 0)
        for (size_t k = 0; k < (size_t)seq_len * n_scan_out; k++) strata_tensor_destroy(parts[k]);
    mem_free(state);
    mem_free(bout);
    mem_free(bin);
    mem_free(slices);
    mem_free(parts);
    return st;
}

/* Runs the body once per element of the sequence input 0; inputs that are sequences (of the same
 * length) give their i-th element, the others are passed whole; each body output is collected
 * into an output sequence. */
static strata_status run_seqmap(const ir_node *n, const ir_scope *s, const strata_tensor *const *in,
                                strata_tensor **out, int depth)
{
    char lb[300];
    node_label(n, lb, sizeof lb);
    const ir_graph *body = node_graph_attr(n, "body");
    if (!body) return error_set(STRATA_INVALID_MODEL, "%s: missing body", lb);
    if (n->n_inputs < 1 || !in[0] || in[0]->dtype != STRATA_DTYPE_SEQUENCE)
        return error_set(STRATA_INVALID_ARGUMENT, "%s: input 0 must be a sequence", lb);
    if (body->n_inputs != n->n_inputs || body->n_outputs != n->n_outputs)
        return error_set(STRATA_INVALID_MODEL, "%s: body has %zu inputs and %zu outputs, the node "
                         "%zu and %zu", lb, body->n_inputs, body->n_outputs, n->n_inputs,
                         n->n_outputs);
    int64_t len = in[0]->dims[0];
    for (size_t k = 0; k < n->n_inputs; k++) {
        if (!in[k]) return error_set(STRATA_INVALID_MODEL, "%s: input %zu is absent", lb, k);
        if (in[k]->dtype == STRATA_DTYPE_SEQUENCE && in[k]->dims[0] != len)
            return error_set(STRATA_INVALID_ARGUMENT, "%s: input %zu has %lld elements, input 0 "
                             "has %lld", lb, k, (long long)in[k]->dims[0], (long long)len);
    }
    strata_status st = STRATA_OK;
    const strata_tensor **bin = mem_calloc(n->n_inputs + 1, sizeof *bin);
    strata_tensor **bout = mem_calloc(n->n_outputs + 1, sizeof *bout);
    if (!bin || !bout) {
        st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", lb);
        goto done;
    }
    for (size_t j = 0; j < n->n_outputs; j++) {
        out[j] = mem_calloc(1, sizeof *out[j]);
        if (!out[j]) {
            st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", lb);
            goto done;
        }
        st = tensor_alloc_container(out[j], STRATA_DTYPE_SEQUENCE, len);
        if (st != STRATA_OK) goto done;
    }
    for (int64_t i = 0; i < len; i++) {
        for (size_t k = 0; k < n->n_inputs; k++)
            bin[k] = in[k]->dtype == STRATA_DTYPE_SEQUENCE ? ((strata_tensor *const *)in[k]->data)[i]
                                                           : in[k];
        memset(bout, 0, n->n_outputs * sizeof *bout);
        st = run_graph(body, s, bin, n->n_inputs, bout, n->n_outputs, depth + 1);
        if (st != STRATA_OK) goto done;
        for (size_t j = 0; j < n->n_outputs; j++) ((strata_tensor **)out[j]->data)[i] = bout[j];
    }
done:
    if (st != STRATA_OK)
        for (size_t j = 0; j < n->n_outputs; j++) {
            strata_tensor_destroy(out[j]);
            out[j] = NULL;
        }
    mem_free(bin);
    mem_free(bout);
    return st;
}

/* ---- one ordinary node ------------------------------------------------------------------- */

static strata_status run_op(const ir_graph *g, const ir_node *n, const strata_tensor *const *in,
                            strata_tensor **out)
{
    char lb[300];
    int64_t opset = ir_model_opset(g->model, n->domain);
    if (opset < 0)
        return error_set(STRATA_INVALID_MODEL, "%s: the model imports no opset for domain '%s'",
                         node_label(n, lb, sizeof lb), n->domain);
    const op_def *d = ref_op_find(n->domain, n->op_type, (int)opset);
    if (!d)
        return error_set(STRATA_UNSUPPORTED, "%s: unsupported op %s%s%s (opset %lld)",
                         node_label(n, lb, sizeof lb), n->domain[0] ? n->domain : "",
                         n->domain[0] ? "." : "", n->op_type, (long long)opset);
    op_node on = {n->name, n->op_type, n->domain, (int)opset, n->attrs, n->n_attrs,
                  n->n_inputs, n->n_outputs};
    strata_status st = ref_op_check_values(d, &on, in);
    if (st != STRATA_OK) return st;
    strata_tensor *outs_buf[64] = {0}; /* slots past n_outputs read as absent */
    strata_tensor **outs = n->n_outputs <= 64 ? outs_buf : mem_calloc(n->n_outputs, sizeof *outs);
    if (!outs) return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", node_label(n, lb, sizeof lb));
    for (size_t j = 0; j < n->n_outputs; j++) {
        outs[j] = NULL;
        if (n->outputs[j] < 0) continue;
        outs[j] = mem_calloc(1, sizeof(strata_tensor));
        if (!outs[j]) {
            st = error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", node_label(n, lb, sizeof lb));
            goto fail;
        }
    }
    st = d->infer(&on, in, outs);
    if (st == STRATA_NOT_FOUND)
        st = error_set(STRATA_INTERNAL, "%s: shape inference needs a value it did not get",
                       node_label(n, lb, sizeof lb));
    if (st != STRATA_OK) goto fail;
    for (size_t j = 0; j < n->n_outputs; j++) {
        if (!outs[j] || dtype_is_container(outs[j]->dtype)) continue; /* compute builds those */
        if (!dtype_is_valid((int)outs[j]->dtype)) {
            st = error_set(STRATA_INTERNAL, "%s: output %zu got no dtype from inference",
                           node_label(n, lb, sizeof lb), j);
            goto fail;
        }
        st = tensor_set_shape(outs[j], outs[j]->dtype, outs[j]->rank, outs[j]->dims);
        if (st != STRATA_OK) {
            error_prefix(st, "%s: output %zu", node_label(n, lb, sizeof lb), j);
            goto fail;
        }
        st = tensor_alloc_data(outs[j]);
        if (st != STRATA_OK) {
            error_prefix(st, "%s: output %zu", node_label(n, lb, sizeof lb), j);
            goto fail;
        }
    }
    st = d->compute(&on, in, outs);
    if (st != STRATA_OK) goto fail;
    for (size_t j = 0; j < n->n_outputs; j++) out[j] = outs[j];
    if (outs != outs_buf) mem_free(outs);
    return STRATA_OK;
fail:
    for (size_t j = 0; j < n->n_outputs; j++) strata_tensor_destroy(outs[j]);
    if (outs != outs_buf) mem_free(outs);
    return st;
}

/* Checks a bound graph input against the declared type. */
static strata_status check_input(const ir_graph *g, const ir_value *v, const strata_tensor *t)
{
    char a[160], b[160];
    if (v->kind == VALUE_SEQUENCE && t->dtype != STRATA_DTYPE_SEQUENCE)
        return error_set(STRATA_INVALID_ARGUMENT, "input '%s': got %s, the model wants a sequence",
                         v->name, strata_dtype_name(t->dtype));
    if (v->kind == VALUE_SEQUENCE || v->kind == VALUE_OPTIONAL)
        return STRATA_OK; /* an optional may hold (or be given as) a tensor or a sequence */
    if (v->kind != VALUE_TENSOR && v->kind != VALUE_UNKNOWN)
        return error_set(STRATA_UNSUPPORTED, "input '%s': only tensor, sequence and optional "
                         "inputs are supported", v->name);
    if (dtype_is_container(t->dtype)) {
        if (v->dtype != STRATA_DTYPE_UNDEFINED || v->rank >= 0)
            return error_set(STRATA_INVALID_ARGUMENT, "input '%s': got a %s, the model wants a "
                             "tensor", v->name, strata_dtype_name(t->dtype));
        return STRATA_OK; /* type not declared */
    }
    if (v->dtype != STRATA_DTYPE_UNDEFINED && t->dtype != v->dtype)
        return error_set(STRATA_INVALID_ARGUMENT, "input '%s': got %s, the model wants %s",
                         v->name, strata_dtype_name(t->dtype), strata_dtype_name(v->dtype));
    if (v->rank >= 0) {
        bool ok = t->rank == v->rank;
        for (int d = 0; ok && d < v->rank; d++)
            if (v->dims[d] >= 0 && v->dims[d] != t->dims[d]) ok = false;
        if (!ok)
            return error_set(STRATA_INVALID_ARGUMENT, "input '%s': got shape %s, the model wants %s",
                             v->name, shape_describe(t->rank, t->dims, a, sizeof a),
                             shape_describe(v->rank, v->dims, b, sizeof b));
    }
    (void)g;
    return STRATA_OK;
}

static strata_status run_graph(const ir_graph *g, const ir_scope *outer,
                               const strata_tensor *const *inputs, size_t n_inputs,
                               strata_tensor **outputs, size_t n_outputs, int depth)
{
    char lb[300];
    if (depth > STRATA_MAX_SUBGRAPH_DEPTH)
        return error_set(STRATA_INVALID_MODEL, "graph '%s': subgraphs nested deeper than %d",
                         g->name ? g->name : "", STRATA_MAX_SUBGRAPH_DEPTH);
    if (n_outputs > g->n_outputs)
        return error_set(STRATA_INVALID_ARGUMENT, "graph '%s': %zu outputs asked, it has %zu",
                         g->name ? g->name : "", n_outputs, g->n_outputs);
    ir_scope s = {g, NULL, NULL, outer};
    int *last_use = NULL;
    const strata_tensor **in_buf = NULL;
    strata_tensor **out_buf = NULL;
    strata_status st = STRATA_OK;
    size_t nv = g->n_values;
    s.vals = mem_calloc(nv + 1, sizeof *s.vals);
    s.owned = mem_calloc(nv + 1, sizeof *s.owned);
    last_use = mem_calloc(nv + 1, sizeof *last_use);
    size_t max_io = 1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_inputs > max_io) max_io = g->nodes[i].n_inputs;
        if (g->nodes[i].n_outputs > max_io) max_io = g->nodes[i].n_outputs;
    }
    in_buf = mem_calloc(max_io, sizeof *in_buf);
    out_buf = mem_calloc(max_io, sizeof *out_buf);
    if (!s.vals || !s.owned || !last_use || !in_buf || !out_buf) {
        st = error_set(STRATA_OUT_OF_MEMORY, "graph: out of memory");
        goto done;
    }
    /* bind initializers, then inputs (an input overrides its initializer's default) */
    for (size_t v = 0; v < nv; v++) {
        s.vals[v] = g->values[v].init;
        last_use[v] = -1;
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        int id = g->inputs[i];
        const strata_tensor *t = i < n_inputs ? inputs[i] : NULL;
        if (!t) {
            if (!g->values[id].init) {
                st = error_set(STRATA_INVALID_ARGUMENT, "input '%s' was not given",
                               g->values[id].name);
                goto done;
            }
            continue;
        }
        st = check_input(g, &g->values[id], t);
        if (st != STRATA_OK) goto done;
        s.vals[id] = (strata_tensor *)t;
    }
    for (size_t v = 0; v < nv; v++)
        if (g->values[v].is_outer) {
            const strata_tensor *t = scope_lookup(outer, g->values[v].name);
            if (!t) {
                st = error_set(STRATA_INVALID_MODEL, "graph '%s': outer value '%s' is not defined",
                               g->name ? g->name : "", g->values[v].name);
                goto done;
            }
            s.vals[v] = (strata_tensor *)t;
        }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) last_use[n->inputs[k]] = (int)i;
        for (size_t a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].type == ATTR_GRAPH && n->attrs[a].g)
                mark_outer_uses(g, n->attrs[a].g, (int)i, last_use, depth + 1);
            if (n->attrs[a].type == ATTR_GRAPHS)
                for (size_t k = 0; k < n->attrs[a].n; k++)
                    mark_outer_uses(g, n->attrs[a].graphs[k], (int)i, last_use, depth + 1);
        }
    }
    for (size_t o = 0; o < g->n_outputs; o++) last_use[g->outputs[o]] = INT32_MAX;

    for (size_t i = 0; i < g->n_nodes; i++) {
        const ir_node *n = &g->nodes[i];
        for (size_t k = 0; k < n->n_inputs; k++) {
            int id = n->inputs[k];
            in_buf[k] = id >= 0 ? s.vals[id] : NULL;
            if (id >= 0 && !s.vals[id]) {
                st = error_set(STRATA_INVALID_MODEL, "%s: input '%s' has no value",
                               node_label(n, lb, sizeof lb), g->values[id].name);
                goto done;
            }
        }
        memset(out_buf, 0, n->n_outputs * sizeof *out_buf);
        if (n->domain[0] == 0 && strcmp(n->op_type, "If") == 0)
            st = run_if(n, &s, in_buf, out_buf, depth);
        else if (n->domain[0] == 0 && strcmp(n->op_type, "Loop") == 0)
            st = run_loop(n, &s, in_buf, out_buf, depth);
        else if (n->domain[0] == 0 && strcmp(n->op_type, "Scan") == 0)
            st = run_scan(n, &s, in_buf, out_buf, depth);
        else if (n->domain[0] == 0 && strcmp(n->op_type, "SequenceMap") == 0)
            st = run_seqmap(n, &s, in_buf, out_buf, depth);
        else
            st = run_op(g, n, in_buf, out_buf);
        if (st != STRATA_OK) goto done;
        for (size_t j = 0; j < n->n_outputs; j++) {
            int id = n->outputs[j];
            if (id < 0) {
                strata_tensor_destroy(out_buf[j]);
                continue;
            }
            if (s.owned[id]) strata_tensor_destroy(s.vals[id]);
            s.vals[id] = out_buf[j];
            s.owned[id] = out_buf[j] != NULL;
        }
        /* free what no later node reads */
        for (size_t k = 0; k < n->n_inputs; k++) {
            int id = n->inputs[k];
            if (id >= 0 && last_use[id] == (int)i && s.owned[id]) {
                strata_tensor_destroy(s.vals[id]);
                s.vals[id] = NULL;
                s.owned[id] = false;
            }
        }
    }
    for (size_t o = 0; o < n_outputs; o++) {
        int id = g->outputs[o];
        if (!s.vals[id]) {
            st = error_set(STRATA_INVALID_MODEL, "graph output '%s' was not computed",
                           g->values[id].name);
            goto done;
        }
        if (s.owned[id]) { /* hand over; a second use of the same value gets a copy */
            outputs[o] = s.vals[id];
            s.owned[id] = false;
        } else {
            st = tensor_clone(s.vals[id], &outputs[o]);
            if (st != STRATA_OK) goto done;
        }
    }
done:
    if (st != STRATA_OK) /* outputs handed over are no longer owned by the scope */
        for (size_t o = 0; o < n_outputs; o++) {
            strata_tensor_destroy(outputs[o]);
            outputs[o] = NULL;
        }
    scope_release(&s);
    mem_free(last_use);
    mem_free(in_buf);
    mem_free(out_buf);
    return st;
}

bool ir_is_control_op(const ir_node *n)
{
    return n->domain[0] == 0 && (strcmp(n->op_type, "If") == 0 || strcmp(n->op_type, "Loop") == 0 ||
                                 strcmp(n->op_type, "Scan") == 0 ||
                                 strcmp(n->op_type, "SequenceMap") == 0);
}

strata_status ir_eval_control(const ir_node *n, const ir_scope *scope,
                              const strata_tensor *const *in, strata_tensor **out)
{
    for (size_t j = 0; j < n->n_outputs; j++) out[j] = NULL;
    if (strcmp(n->op_type, "If") == 0) return run_if(n, scope, in, out, 0);
    if (strcmp(n->op_type, "Loop") == 0) return run_loop(n, scope, in, out, 0);
    if (strcmp(n->op_type, "Scan") == 0) return run_scan(n, scope, in, out, 0);
    if (strcmp(n->op_type, "SequenceMap") == 0) return run_seqmap(n, scope, in, out, 0);
    return error_set(STRATA_INTERNAL, "node '%s' (%s) is not a control-flow op", n->name, n->op_type);
}

strata_status ir_eval(const ir_graph *g, const ir_scope *outer, const strata_tensor *const *inputs,
                      size_t n_inputs, strata_tensor **outputs, size_t n_outputs)
{
    for (size_t o = 0; o < n_outputs; o++) outputs[o] = NULL;
    return run_graph(g, outer, inputs, n_inputs, outputs, n_outputs, 0);
}
