/* kernels/ref/transformer_attention.c — reference Attention (opset 23 and 24): scaled dot-product
 * attention over 3-D (B, S, H*D) or 4-D (B, H, S, D) inputs with past/present key and value,
 * grouped-query heads, boolean or additive masks, causal masking, nonpad_kv_seqlen, softcap and
 * the qk_matmul_output modes. Computes in double over staged copies. */
#include <math.h>
#include <string.h>

#include "ref_transformer.h"

/* The sizes every part of the op agrees on; -1 where unknown (static inference). */
typedef struct att_geom {
    bool is3d;
    int64_t B, qH, kvH, qS, kvS, pastS, total, D, Dv;
} att_geom;

static bool dim_ok(int64_t a, int64_t b)
{
    return a < 0 || b < 0 || a == b;
}

/* Splits a 3-D hidden dim into heads: -1 when unknown, error when it does not divide. */
static strata_status split_heads(const op_node *n, int64_t hidden, int64_t heads,
                                 const char *what, int64_t *out)
{
    if (hidden < 0) {
        *out = -1;
        return STRATA_OK;
    }
    if (hidden % heads != 0)
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "%s hidden size %lld is not a multiple of %lld heads", what,
                        (long long)hidden, (long long)heads);
    *out = hidden / heads;
    return STRATA_OK;
}

static strata_status geometry(const op_node *n, const strata_tensor *const *in, att_geom *g)
{
    const strata_tensor *q = op_input(n, in, 0), *k = op_input(n, in, 1), *v = op_input(n, in, 2);
    strata_status st;
    if ((st = transformer_util_need_float(n, q, "Q"))) return st;
    if ((st = transformer_util_need_float(n, k, "K"))) return st;
    if ((st = transformer_util_need_float(n, v, "V"))) return st;
    if (q->rank != 3 && q->rank != 4)
        return op_error(n, STRATA_INVALID_ARGUMENT, "Q has rank %d; want 3 or 4", q->rank);
    if (k->rank != q->rank || v->rank != q->rank)
        return op_error(n, STRATA_INVALID_ARGUMENT, "Q, K and V have ranks %d, %d, %d; want equal",
                        q->rank, k->rank, v->rank);
    memset(g, 0, sizeof *g);
    g->is3d = q->rank == 3;
    g->B = q->dims[0];
    if (g->is3d) {
        g->qH = op_attr_int(n, "q_num_heads", 0);
        g->kvH = op_attr_int(n, "kv_num_heads", 0);
        if (g->qH <= 0 || g->kvH <= 0)
            return op_error(n, STRATA_INVALID_MODEL,
                            "3-D inputs need q_num_heads and kv_num_heads > 0 (got %lld, %lld)",
                            (long long)g->qH, (long long)g->kvH);
        g->qS = q->dims[1];
        g->kvS = k->dims[1];
        int64_t dk = -1;
        if ((st = split_heads(n, q->dims[2], g->qH, "Q", &g->D))) return st;
        if ((st = split_heads(n, k->dims[2], g->kvH, "K", &dk))) return st;
        if ((st = split_heads(n, v->dims[2], g->kvH, "V", &g->Dv))) return st;
        if (!dim_ok(dk, g->D))
            return op_error(n, STRATA_INVALID_ARGUMENT, "K head size %lld != Q head size %lld",
                            (long long)dk, (long long)g->D);
        if (!dim_ok(v->dims[1], g->kvS))
            return op_error(n, STRATA_INVALID_ARGUMENT, "V has %lld positions, K has %lld",
                            (long long)v->dims[1], (long long)g->kvS);
    } else {
        g->qH = q->dims[1];
        g->kvH = k->dims[1];
        g->qS = q->dims[2];
        g->kvS = k->dims[2];
        g->D = q->dims[3];
        g->Dv = v->dims[3];
        if (!dim_ok(k->dims[3], g->D))
            return op_error(n, STRATA_INVALID_ARGUMENT, "K head size %lld != Q head size %lld",
                            (long long)k->dims[3], (long long)g->D);
        if (!dim_ok(v->dims[1], g->kvH) || !dim_ok(v->dims[2], g->kvS))
            return op_error(n, STRATA_INVALID_ARGUMENT, "V heads/positions (%lld, %lld) differ "
                            "from K's (%lld, %lld)", (long long)v->dims[1],
                            (long long)v->dims[2], (long long)g->kvH, (long long)g->kvS);
    }
    if (!dim_ok(k->dims[0], g->B) || !dim_ok(v->dims[0], g->B))
        return op_error(n, STRATA_INVALID_ARGUMENT, "Q, K and V batch sizes differ");
    if (g->qH > 0 && g->kvH > 0 && g->qH % g->kvH != 0)
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "%lld query heads are not a multiple of %lld key/value heads",
                        (long long)g->qH, (long long)g->kvH);
    if (g->kvH == 0 && g->qH != 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "K has no heads");
    const strata_tensor *pk = op_input(n, in, 4), *pv = op_input(n, in, 5);
    if (!pk != !pv)
        return op_error(n, STRATA_INVALID_MODEL, "past_key and past_value must come together");
    g->pastS = 0;
    if (pk) {
        if (pk->rank != 4 || pv->rank != 4)
            return op_error(n, STRATA_INVALID_ARGUMENT, "past_key/past_value must be 4-D");
        if (pk->dtype != k->dtype || pv->dtype != v->dtype)
            return op_error(n, STRATA_INVALID_ARGUMENT, "past_key/past_value types differ from "
                            "K/V");
        if (!dim_ok(pk->dims[0], g->B) || !dim_ok(pk->dims[1], g->kvH) ||
            !dim_ok(pk->dims[3], g->D) || !dim_ok(pv->dims[0], g->B) ||
            !dim_ok(pv->dims[1], g->kvH) || !dim_ok(pv->dims[2], pk->dims[2]) ||
            !dim_ok(pv->dims[3], g->Dv)) {
            char a[96], b[96];
            return op_error(n, STRATA_INVALID_ARGUMENT, "past_key %s / past_value %s do not fit "
                            "batch %lld, %lld kv heads, head sizes %lld/%lld",
                            tensor_describe(pk, a, sizeof a), tensor_describe(pv, b, sizeof b),
                            (long long)g->B, (long long)g->kvH, (long long)g->D,
                            (long long)g->Dv);
        }
        g->pastS = pk->dims[2];
    }
    g->total = transformer_util_add_dim(g->pastS, g->kvS);
    return STRATA_OK;
}

/* Checks the mask's shape against [B, qH, qS, total] (right aligned, broadcast) and fills its
 * element strides for those 4 dims (0 where broadcast) and its last dim. */
static strata_status mask_layout(const op_node *n, const strata_tensor *m, const att_geom *g,
                                 int64_t strides[4], int64_t *last)
{
    if (m->dtype != STRATA_DTYPE_BOOL && !dtype_is_float(m->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "attn_mask has type %s; want bool or float",
                        strata_dtype_name(m->dtype));
    if (m->rank < 1 || m->rank > 4)
        return op_error(n, STRATA_INVALID_ARGUMENT, "attn_mask has rank %d; want 1 to 4",
                        m->rank);
    int64_t target[4] = {g->B, g->qH, g->qS, g->total};
    int64_t st[4] = {0, 0, 0, 0}, s = 1;
    for (int i = m->rank - 1; i >= 0; i--) {
        int ax = 4 - m->rank + i;
        int64_t d = m->dims[i];
        if (ax == 3) {
            if (d >= 0 && target[3] >= 0 && d > target[3])
                return op_error(n, STRATA_INVALID_ARGUMENT, "attn_mask has %lld key positions; "
                                "the keys have %lld", (long long)d, (long long)target[3]);
            st[ax] = 1;
        } else {
            if (d >= 0 && target[ax] >= 0 && d != 1 && d != target[ax]) {
                char buf[96];
                return op_error(n, STRATA_INVALID_ARGUMENT, "attn_mask %s does not broadcast to "
                                "[%lld, %lld, %lld, %lld]", tensor_describe(m, buf, sizeof buf),
                                (long long)g->B, (long long)g->qH, (long long)g->qS,
                                (long long)g->total);
            }
            st[ax] = d == 1 ? 0 : s;
        }
        s *= d;
    }
    memcpy(strides, st, sizeof st);
    *last = m->dims[m->rank - 1];
    return STRATA_OK;
}

strata_status transformer_attention_infer(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    att_geom g;
    strata_status st = geometry(n, in, &g);
    if (st) return st;
    const strata_tensor *m = op_input(n, in, 3);
    if (m) {
        int64_t strides[4], last;
        if ((st = mask_layout(n, m, &g, strides, &last))) return st;
    }
    const strata_tensor *np = op_input(n, in, 6);
    if (np) {
        if (!dtype_is_int(np->dtype) || np->rank != 1 || !dim_ok(np->dims[0], g.B))
            return op_error(n, STRATA_INVALID_ARGUMENT, "nonpad_kv_seqlen must be an integer "
                            "vector of %lld batch entries", (long long)g.B);
    }
    int64_t qk = op_attr_int(n, "qk_matmul_output_mode", 0);
    if (qk < 0 || qk > 3)
        return op_error(n, STRATA_INVALID_MODEL, "qk_matmul_output_mode %lld not in 0..3",
                        (long long)qk);
    strata_dtype qt = in[0]->dtype;
    if (g.is3d) {
        int64_t d[3] = {g.B, g.qS, transformer_util_mul_dim(g.qH, g.Dv)};
        st = tensor_set_shape(out[0], qt, 3, d);
    } else {
        int64_t d[4] = {g.B, g.qH, g.qS, g.Dv};
        st = tensor_set_shape(out[0], qt, 4, d);
    }
    if (st) return st;
    if (n->n_outputs > 1 && out[1]) {
        int64_t d[4] = {g.B, g.kvH, g.total, g.D};
        if ((st = tensor_set_shape(out[1], in[1]->dtype, 4, d))) return st;
    }
    if (n->n_outputs > 2 && out[2]) {
        int64_t d[4] = {g.B, g.kvH, g.total, g.Dv};
        if ((st = tensor_set_shape(out[2], in[2]->dtype, 4, d))) return st;
    }
    if (n->n_outputs > 3 && out[3]) {
        int64_t d[4] = {g.B, g.qH, g.qS, g.total};
        if ((st = tensor_set_shape(out[3], qt, 4, d))) return st;
    }
    return STRATA_OK;
}

/* Copies the elements of t (3-D [B, S, H*Dh] or 4-D [B, H, S, Dh]) into dst laid out as
 * [B, H, S_total, Dh] at positions s0 .. s0+S-1. */
static bool stage_heads(const strata_tensor *t, bool is3d, int64_t B, int64_t H, int64_t S,
                        int64_t Dh, double *dst, int64_t S_total, int64_t s0)
{
    double *src = transformer_util_load(t);
    if (!src) return false;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t s = 0; s < S; s++) {
                const double *from = is3d ? src + (b * S + s) * H * Dh + h * Dh
                                          : src + ((b * H + h) * S + s) * Dh;
                double *to = dst + ((b * H + h) * S_total + s0 + s) * Dh;
                memcpy(to, from, (size_t)Dh * sizeof *to);
            }
    mem_free(src);
    return true;
}

/* The additive mask value of attn_mask for (b, h, i, j); -inf beyond the mask's last dim. */
static double mask_value(const strata_tensor *m, const int64_t st[4], int64_t last, int64_t b,
                         int64_t h, int64_t i, int64_t j)
{
    if (j >= last) return -INFINITY;
    int64_t idx = b * st[0] + h * st[1] + i * st[2] + j * st[3];
    if (m->dtype == STRATA_DTYPE_BOOL) return ((const uint8_t *)m->data)[idx] ? 0.0 : -INFINITY;
    if (m->dtype == STRATA_DTYPE_F32) return ((const float *)m->data)[idx];
    return tensor_get_f64(m, idx);
}

strata_status transformer_attention_compute(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    att_geom g;
    strata_status st = geometry(n, in, &g);
    if (st) return st;
    const strata_tensor *m = op_input(n, in, 3), *np = op_input(n, in, 6);
    int64_t mst[4] = {0, 0, 0, 0}, mlast = 0;
    if (m && (st = mask_layout(n, m, &g, mst, &mlast))) return st;
    int64_t B = g.B, qH = g.qH, kvH = g.kvH, qS = g.qS, T = g.total, D = g.D, Dv = g.Dv;
    int64_t group = kvH > 0 ? qH / kvH : 1;
    const attr *sa = attr_find(n->attrs, n->n_attrs, "scale");
    double scale = sa ? op_attr_float(n, "scale", 1.0f) : 1.0 / sqrt((double)(D > 0 ? D : 1));
    double softcap = op_attr_float(n, "softcap", 0.0f);
    bool causal = op_attr_int(n, "is_causal", 0) != 0;
    int64_t mode = op_attr_int(n, "qk_matmul_output_mode", 0);
    strata_tensor *qk_out = n->n_outputs > 3 ? out[3] : NULL;

    double *q = mem_alloc((size_t)(B * qH * qS * D + 1) * sizeof *q);
    double *k = mem_alloc((size_t)(B * kvH * T * D + 1) * sizeof *k);
    double *v = mem_alloc((size_t)(B * kvH * T * Dv + 1) * sizeof *v);
    double *y = mem_calloc((size_t)(B * qH * qS * Dv + 1), sizeof *y);
    double *qk = qk_out ? mem_calloc((size_t)(B * qH * qS * T + 1), sizeof *qk) : NULL;
    double *row = mem_alloc((size_t)(4 * T + 1) * sizeof *row);
    int64_t *nonpad = np ? mem_alloc((size_t)(B + 1) * sizeof *nonpad) : NULL;
    if (!q || !k || !v || !y || !row || (qk_out && !qk) || (np && !nonpad)) {
        st = transformer_util_oom(n);
        goto done;
    }
    if (!stage_heads(in[0], g.is3d, B, qH, qS, D, q, qS, 0) ||
        !stage_heads(in[1], g.is3d, B, kvH, g.kvS, D, k, T, g.pastS) ||
        !stage_heads(in[2], g.is3d, B, kvH, g.kvS, Dv, v, T, g.pastS) ||
        (g.pastS > 0 && (!stage_heads(in[4], false, B, kvH, g.pastS, D, k, T, 0) ||
                         !stage_heads(in[5], false, B, kvH, g.pastS, Dv, v, T, 0)))) {
        st = transformer_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < B && np; b++) nonpad[b] = tensor_get_i64(np, b);

    double *raw = row, *capped = row + T, *biased = row + 2 * T, *prob = row + 3 * T;
    for (int64_t b = 0; b < B; b++) {
        int64_t offset = np ? nonpad[b] - qS : g.pastS;
        for (int64_t h = 0; h < qH; h++) {
            int64_t kh = h / group;
            const double *kb = k + (b * kvH + kh) * T * D, *vb = v + (b * kvH + kh) * T * Dv;
            for (int64_t i = 0; i < qS; i++) {
                const double *qi = q + ((b * qH + h) * qS + i) * D;
                double bias_max = -INFINITY, mx = -INFINITY;
                for (int64_t j = 0; j < T; j++) {
                    double bias = m ? mask_value(m, mst, mlast, b, h, i, j) : 0.0;
                    if (causal && i + offset < j) bias += -INFINITY;
                    if (np && j >= nonpad[b]) bias += -INFINITY;
                    double s = 0;
                    const double *kj = kb + j * D;
                    for (int64_t d = 0; d < D; d++) s += qi[d] * kj[d];
                    raw[j] = s * scale;
                    capped[j] = softcap > 0 ? softcap * tanh(raw[j] / softcap) : raw[j];
                    biased[j] = capped[j] + bias;
                    if (bias > bias_max) bias_max = bias;
                    if (biased[j] > mx) mx = biased[j];
                }
                bool all_masked = bias_max == -INFINITY;
                double sum = 0;
                for (int64_t j = 0; j < T; j++) {
                    prob[j] = all_masked ? 0.0 : exp(biased[j] - mx);
                    sum += prob[j];
                }
                for (int64_t j = 0; j < T && !all_masked; j++) prob[j] /= sum;
                double *yi = y + ((b * qH + h) * qS + i) * Dv;
                for (int64_t j = 0; j < T; j++) {
                    if (prob[j] == 0) continue;
                    const double *vj = vb + j * Dv;
                    for (int64_t d = 0; d < Dv; d++) yi[d] += prob[j] * vj[d];
                }
                if (qk) {
                    const double *src = mode == 0 ? raw : mode == 1 ? capped
                                      : mode == 2 ? biased : prob;
                    memcpy(qk + ((b * qH + h) * qS + i) * T, src, (size_t)T * sizeof *qk);
                }
            }
        }
    }
    if (g.is3d) { /* [B, qH, qS, Dv] -> [B, qS, qH * Dv] */
        double *y3 = mem_alloc((size_t)(B * qH * qS * Dv + 1) * sizeof *y3);
        if (!y3) {
            st = transformer_util_oom(n);
            goto done;
        }
        for (int64_t b = 0; b < B; b++)
            for (int64_t h = 0; h < qH; h++)
                for (int64_t i = 0; i < qS; i++)
                    memcpy(y3 + (b * qS + i) * qH * Dv + h * Dv, y + ((b * qH + h) * qS + i) * Dv,
                           (size_t)Dv * sizeof *y3);
        transformer_util_store(out[0], y3);
        mem_free(y3);
    } else {
        transformer_util_store(out[0], y);
    }
    if (n->n_outputs > 1 && out[1]) transformer_util_store(out[1], k);
    if (n->n_outputs > 2 && out[2]) transformer_util_store(out[2], v);
    if (qk) transformer_util_store(qk_out, qk);
done:
    mem_free(q);
    mem_free(k);
    mem_free(v);
    mem_free(y);
    mem_free(qk);
    mem_free(row);
    mem_free(nonpad);
    return st;
}

/* ---- FlexAttention (ai.onnx.preview 1) ------------------------------------------------------ */

/* FlexAttention without score/prob/mask modifiers is 4-D Attention over Q, K, V alone. The
 * modifier subgraphs need the graph evaluator, which kernels cannot call. */
static strata_status flex_node(const op_node *n, const strata_tensor *const *in, op_node *plain)
{
    static const char *const mods[] = {"score_mod", "prob_mod", "mask_mod"};
    for (size_t i = 0; i < ARRAY_LEN(mods); i++)
        if (attr_find(n->attrs, n->n_attrs, mods[i]))
            return op_error(n, STRATA_UNSUPPORTED, "the %s subgraph is not supported by the "
                            "reference kernel", mods[i]);
    const strata_tensor *q = op_input(n, in, 0);
    if (q && q->rank != 4)
        return op_error(n, STRATA_INVALID_ARGUMENT, "Q has rank %d; want 4", q->rank);
    *plain = *n;
    plain->n_inputs = n->n_inputs < 3 ? n->n_inputs : 3;
    plain->n_outputs = 1;
    return STRATA_OK;
}

strata_status transformer_attention_flex_infer(const op_node *n, const strata_tensor *const *in,
                                               strata_tensor *const *out)
{
    op_node plain;
    strata_status st = flex_node(n, in, &plain);
    return st ? st : transformer_attention_infer(&plain, in, out);
}

strata_status transformer_attention_flex_compute(const op_node *n,
                                                 const strata_tensor *const *in,
                                                 strata_tensor *const *out)
{
    op_node plain;
    strata_status st = flex_node(n, in, &plain);
    return st ? st : transformer_attention_compute(&plain, in, out);
}
