/* kernels/ref/transformer_linear.c — reference recurrent-state ops of linear-attention models
 * (opset 27): LinearAttention (linear, gated, delta and gated_delta state updates over a
 * [Dk, Dv] state per key/value head, grouped query heads) and CausalConvWithState (depthwise
 * causal 1-D convolution that carries its last kernel-1 inputs as state). Computes in double. */
#include <math.h>
#include <string.h>

#include "ref_transformer.h"

/* ---- LinearAttention ------------------------------------------------------------------------ */

static bool dim_ok(int64_t a, int64_t b)
{
    return a < 0 || b < 0 || a == b;
}

typedef enum la_rule { LA_LINEAR, LA_GATED, LA_DELTA, LA_GATED_DELTA } la_rule;

typedef struct la_geom {
    int64_t B, T, Hq, Hkv, Dk, Dv;
    la_rule rule;
    bool decay_per_dim; /* decay holds Hkv*Dk values per step (else Hkv) */
    bool beta_per_head; /* beta holds Hkv values per step (else 1) */
} la_geom;

static strata_status la_geometry(const op_node *n, const strata_tensor *const *in, la_geom *g)
{
    const strata_tensor *q = op_input(n, in, 0), *k = op_input(n, in, 1), *v = op_input(n, in, 2),
                        *past = op_input(n, in, 3), *decay = op_input(n, in, 4),
                        *beta = op_input(n, in, 5);
    strata_status st;
    if ((st = transformer_util_need_float(n, q, "query"))) return st;
    if ((st = transformer_util_need_float(n, k, "key"))) return st;
    if ((st = transformer_util_need_float(n, v, "value"))) return st;
    const char *rule = op_attr_string(n, "update_rule", "gated_delta");
    if (strcmp(rule, "linear") == 0) g->rule = LA_LINEAR;
    else if (strcmp(rule, "gated") == 0) g->rule = LA_GATED;
    else if (strcmp(rule, "delta") == 0) g->rule = LA_DELTA;
    else if (strcmp(rule, "gated_delta") == 0) g->rule = LA_GATED_DELTA;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown update_rule '%s'", rule);
    if (q->rank != 3 || k->rank != 3 || v->rank != 3)
        return op_error(n, STRATA_UNSUPPORTED, "query/key/value must be 3-D [batch, sequence, "
                        "heads*size] (ranks %d, %d, %d)", q->rank, k->rank, v->rank);
    g->Hq = op_attr_int(n, "q_num_heads", 0);
    g->Hkv = op_attr_int(n, "kv_num_heads", 0);
    if (g->Hq <= 0 || g->Hkv <= 0 || g->Hq % g->Hkv != 0)
        return op_error(n, STRATA_INVALID_MODEL, "q_num_heads %lld must be a positive multiple "
                        "of kv_num_heads %lld", (long long)g->Hq, (long long)g->Hkv);
    g->B = q->dims[0];
    g->T = q->dims[1];
    for (int i = 0; i < 2; i++)
        if (!dim_ok(k->dims[i], q->dims[i]) || !dim_ok(v->dims[i], q->dims[i]))
            return op_error(n, STRATA_INVALID_ARGUMENT, "query, key and value differ in batch "
                            "or sequence length");
    if (q->dims[2] < 0 || k->dims[2] < 0 || v->dims[2] < 0) { /* static inference only */
        g->Dk = q->dims[2] < 0 ? -1 : q->dims[2] / g->Hq;
        g->Dv = v->dims[2] < 0 ? -1 : v->dims[2] / g->Hkv;
        return STRATA_OK;
    }
    if (q->dims[2] % g->Hq || k->dims[2] % g->Hkv || v->dims[2] % g->Hkv)
        return op_error(n, STRATA_INVALID_ARGUMENT, "hidden sizes %lld/%lld/%lld do not split "
                        "into %lld/%lld heads", (long long)q->dims[2], (long long)k->dims[2],
                        (long long)v->dims[2], (long long)g->Hq, (long long)g->Hkv);
    g->Dk = q->dims[2] / g->Hq;
    g->Dv = v->dims[2] / g->Hkv;
    if (k->dims[2] / g->Hkv != g->Dk)
        return op_error(n, STRATA_INVALID_ARGUMENT, "key head size %lld != query head size %lld",
                        (long long)(k->dims[2] / g->Hkv), (long long)g->Dk);
    if (past) {
        int64_t want[4] = {g->B, g->Hkv, g->Dk, g->Dv};
        bool ok = past->rank == 4;
        for (int i = 0; ok && i < 4; i++) ok = past->dims[i] < 0 || want[i] < 0 ||
                                               past->dims[i] == want[i];
        if (!ok) {
            char buf[96];
            return op_error(n, STRATA_INVALID_ARGUMENT, "past_state %s; want [%lld, %lld, %lld, "
                            "%lld]", tensor_describe(past, buf, sizeof buf), (long long)g->B,
                            (long long)g->Hkv, (long long)g->Dk, (long long)g->Dv);
        }
    }
    bool need_decay = g->rule == LA_GATED || g->rule == LA_GATED_DELTA;
    bool need_beta = g->rule == LA_DELTA || g->rule == LA_GATED_DELTA;
    if (need_decay) {
        if ((st = transformer_util_need_float(n, decay, "decay"))) return st;
        if (decay->rank != 3 || !dim_ok(decay->dims[0], g->B) ||
            !dim_ok(decay->dims[1], g->T) ||
            (decay->dims[2] != g->Hkv * g->Dk && decay->dims[2] != g->Hkv))
            return op_error(n, STRATA_INVALID_ARGUMENT, "decay must be [%lld, %lld, %lld] or "
                            "[%lld, %lld, %lld]", (long long)g->B, (long long)g->T,
                            (long long)(g->Hkv * g->Dk), (long long)g->B, (long long)g->T,
                            (long long)g->Hkv);
        g->decay_per_dim = decay->dims[2] == g->Hkv * g->Dk;
    }
    if (need_beta) {
        if ((st = transformer_util_need_float(n, beta, "beta"))) return st;
        if (beta->rank != 3 || !dim_ok(beta->dims[0], g->B) || !dim_ok(beta->dims[1], g->T) ||
            (beta->dims[2] != g->Hkv && beta->dims[2] != 1))
            return op_error(n, STRATA_INVALID_ARGUMENT, "beta must be [%lld, %lld, %lld] or "
                            "[%lld, %lld, 1]", (long long)g->B, (long long)g->T,
                            (long long)g->Hkv, (long long)g->B, (long long)g->T);
        g->beta_per_head = beta->dims[2] == g->Hkv;
    }
    return STRATA_OK;
}

strata_status transformer_linear_attention_infer(const op_node *n,
                                                 const strata_tensor *const *in,
                                                 strata_tensor *const *out)
{
    la_geom g;
    strata_status st = la_geometry(n, in, &g);
    if (st) return st;
    int64_t yd[3] = {g.B, g.T, g.Hq * g.Dv};
    if ((st = tensor_set_shape(out[0], in[0]->dtype, 3, yd))) return st;
    if (n->n_outputs > 1 && out[1]) {
        int64_t sd[4] = {g.B, g.Hkv, g.Dk, g.Dv};
        if ((st = tensor_set_shape(out[1], in[0]->dtype, 4, sd))) return st;
    }
    return STRATA_OK;
}

strata_status transformer_linear_attention_compute(const op_node *n,
                                                   const strata_tensor *const *in,
                                                   strata_tensor *const *out)
{
    la_geom g;
    strata_status st = la_geometry(n, in, &g);
    if (st) return st;
    const strata_tensor *past = op_input(n, in, 3);
    bool gated = g.rule == LA_GATED || g.rule == LA_GATED_DELTA;
    bool delta = g.rule == LA_DELTA || g.rule == LA_GATED_DELTA;
    const attr *sa = attr_find(n->attrs, n->n_attrs, "scale");
    double scale = sa && op_attr_float(n, "scale", 0) != 0 ? op_attr_float(n, "scale", 0)
                                                          : 1.0 / sqrt((double)g.Dk);
    int64_t B = g.B, T = g.T, Hq = g.Hq, Hkv = g.Hkv, Dk = g.Dk, Dv = g.Dv, grp = Hq / Hkv;
    double *q = transformer_util_load(in[0]), *k = transformer_util_load(in[1]),
           *v = transformer_util_load(in[2]);
    double *dec = gated ? transformer_util_load(in[4]) : NULL;
    double *bet = delta ? transformer_util_load(in[5]) : NULL;
    double *state = past ? transformer_util_load(past)
                         : mem_calloc((size_t)(B * Hkv * Dk * Dv + 1), sizeof *state);
    double *y = mem_calloc((size_t)(B * T * Hq * Dv + 1), sizeof *y);
    double *r = mem_alloc((size_t)(Dv + 1) * sizeof *r);
    if (!q || !k || !v || (gated && !dec) || (delta && !bet) || !state || !y || !r) {
        st = transformer_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < Hkv; h++) {
            double *S = state + (b * Hkv + h) * Dk * Dv;
            for (int64_t t = 0; t < T; t++) {
                int64_t bt = b * T + t;
                const double *kt = k + bt * Hkv * Dk + h * Dk, *vt = v + bt * Hkv * Dv + h * Dv;
                if (gated) {
                    for (int64_t i = 0; i < Dk; i++) {
                        double dv = g.decay_per_dim ? dec[bt * Hkv * Dk + h * Dk + i]
                                                    : dec[bt * Hkv + h];
                        double f = exp(dv);
                        for (int64_t j = 0; j < Dv; j++) S[i * Dv + j] *= f;
                    }
                }
                if (delta) {
                    double be = g.beta_per_head ? bet[bt * Hkv + h] : bet[bt];
                    for (int64_t j = 0; j < Dv; j++) {
                        double s = 0;
                        for (int64_t i = 0; i < Dk; i++) s += S[i * Dv + j] * kt[i];
                        r[j] = be * (vt[j] - s);
                    }
                } else {
                    memcpy(r, vt, (size_t)Dv * sizeof *r);
                }
                for (int64_t i = 0; i < Dk; i++)
                    for (int64_t j = 0; j < Dv; j++) S[i * Dv + j] += kt[i] * r[j];
                for (int64_t gq = 0; gq < grp; gq++) {
                    int64_t hq = h * grp + gq;
                    const double *qt = q + bt * Hq * Dk + hq * Dk;
                    double *yt = y + bt * Hq * Dv + hq * Dv;
                    for (int64_t j = 0; j < Dv; j++) {
                        double s = 0;
                        for (int64_t i = 0; i < Dk; i++) s += qt[i] * S[i * Dv + j];
                        yt[j] = scale * s;
                    }
                }
            }
        }
    transformer_util_store(out[0], y);
    if (n->n_outputs > 1 && out[1]) transformer_util_store(out[1], state);
done:
    mem_free(q);
    mem_free(k);
    mem_free(v);
    mem_free(dec);
    mem_free(bet);
    mem_free(state);
    mem_free(y);
    mem_free(r);
    return st;
}

/* ---- CausalConvWithState -------------------------------------------------------------------- */

static strata_status cc_check(const op_node *n, const strata_tensor *const *in, int64_t *kw,
                              bool *silu)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1),
                        *bias = op_input(n, in, 2), *past = op_input(n, in, 3);
    strata_status st;
    if ((st = transformer_util_need_float(n, x, "input"))) return st;
    if ((st = transformer_util_need_float(n, w, "weight"))) return st;
    const char *act = op_attr_string(n, "activation", "none");
    if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0) *silu = true;
    else if (strcmp(act, "none") == 0 || act[0] == '\0') *silu = false;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown activation '%s'", act);
    if (x->rank != 3)
        return op_error(n, STRATA_UNSUPPORTED, "input has rank %d; want 3 [batch, channels, "
                        "length]", x->rank);
    int64_t C = x->dims[1];
    if (w->rank != 3 || !dim_ok(w->dims[0], C) || !dim_ok(w->dims[1], 1) ||
        w->dims[2] == 0) {
        char buf[96];
        return op_error(n, STRATA_INVALID_ARGUMENT, "weight %s; want [%lld, 1, kernel >= 1]",
                        tensor_describe(w, buf, sizeof buf), (long long)C);
    }
    *kw = w->dims[2];
    if (bias) {
        if ((st = transformer_util_need_float(n, bias, "bias"))) return st;
        if (bias->rank != 1 || (C >= 0 && bias->dims[0] >= 0 && bias->dims[0] != C))
            return op_error(n, STRATA_INVALID_ARGUMENT, "bias must be [%lld]", (long long)C);
    }
    if (past) {
        if ((st = transformer_util_need_float(n, past, "past_state"))) return st;
        if (past->rank != 3 || (x->dims[0] >= 0 && past->dims[0] >= 0 &&
                                past->dims[0] != x->dims[0]) ||
            (C >= 0 && past->dims[1] >= 0 && past->dims[1] != C) ||
            (*kw >= 0 && past->dims[2] >= 0 && past->dims[2] != *kw - 1))
            return op_error(n, STRATA_INVALID_ARGUMENT, "past_state must be [%lld, %lld, %lld]",
                            (long long)x->dims[0], (long long)C, (long long)(*kw - 1));
    }
    return STRATA_OK;
}

strata_status transformer_linear_causal_conv_infer(const op_node *n,
                                                   const strata_tensor *const *in,
                                                   strata_tensor *const *out)
{
    int64_t kw;
    bool silu;
    strata_status st = cc_check(n, in, &kw, &silu);
    if (st) return st;
    const strata_tensor *x = in[0];
    if ((st = tensor_set_shape(out[0], x->dtype, 3, x->dims))) return st;
    if (n->n_outputs > 1 && out[1]) {
        int64_t d[3] = {x->dims[0], x->dims[1], kw < 0 ? -1 : kw - 1};
        if ((st = tensor_set_shape(out[1], x->dtype, 3, d))) return st;
    }
    return STRATA_OK;
}

strata_status transformer_linear_causal_conv_compute(const op_node *n,
                                                     const strata_tensor *const *in,
                                                     strata_tensor *const *out)
{
    int64_t K;
    bool silu;
    strata_status st = cc_check(n, in, &K, &silu);
    if (st) return st;
    const strata_tensor *x = in[0], *bias = op_input(n, in, 2), *past = op_input(n, in, 3);
    int64_t B = x->dims[0], C = x->dims[1], L = x->dims[2], P = K - 1 + L;
    double *xd = transformer_util_load(x), *wd = transformer_util_load(in[1]);
    double *bd = bias ? transformer_util_load(bias) : NULL;
    double *pd = past ? transformer_util_load(past) : NULL;
    double *pad = mem_calloc((size_t)(P + 1), sizeof *pad);
    double *y = mem_calloc((size_t)(B * C * L + 1), sizeof *y);
    double *state = mem_calloc((size_t)(B * C * (K - 1) + 1), sizeof *state);
    if (!xd || !wd || (bias && !bd) || (past && !pd) || !pad || !y || !state) {
        st = transformer_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            int64_t bc = b * C + c;
            if (pd) memcpy(pad, pd + bc * (K - 1), (size_t)(K - 1) * sizeof *pad);
            else memset(pad, 0, (size_t)(K - 1) * sizeof *pad);
            memcpy(pad + K - 1, xd + bc * L, (size_t)L * sizeof *pad);
            const double *w = wd + c * K;
            for (int64_t t = 0; t < L; t++) {
                double s = bd ? bd[c] : 0.0;
                for (int64_t j = 0; j < K; j++) s += w[j] * pad[t + j];
                y[bc * L + t] = silu ? s / (1.0 + exp(-s)) : s;
            }
            memcpy(state + bc * (K - 1), pad + L, (size_t)(K - 1) * sizeof *state);
        }
    transformer_util_store(out[0], y);
    if (n->n_outputs > 1 && out[1]) transformer_util_store(out[1], state);
done:
    mem_free(xd);
    mem_free(wd);
    mem_free(bd);
    mem_free(pd);
    mem_free(pad);
    mem_free(y);
    mem_free(state);
    return st;
}
