/* kernels/ref/nn_rnn.c — reference recurrent layers RNN, GRU and LSTM: forward, reverse and
 * bidirectional, both layouts, sequence_lens, initial states, clip, peepholes, GRU's
 * linear_before_reset, LSTM's input_forget, and the ONNX activation list. Computes in double. */
#include <math.h>
#include <strings.h>
#include <string.h>

#include "ref_nn.h"

typedef enum rnn_kind { RNN_PLAIN, RNN_GRU, RNN_LSTM } rnn_kind;

typedef enum act_fn {
    ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_AFFINE, ACT_LEAKY_RELU, ACT_THRESHOLDED_RELU,
    ACT_SCALED_TANH, ACT_HARD_SIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS
} act_fn;

typedef struct rnn_act {
    act_fn fn;      /* which function */
    double alpha;   /* its alpha (defaults per function) */
    double beta;    /* its beta */
} rnn_act;

typedef struct rnn_cfg {
    rnn_kind kind;        /* RNN, GRU or LSTM */
    int G;                /* gates: 1, 3, 4 */
    int n_act;            /* activations per direction: 1, 2, 3 */
    int64_t S, B, I, H;   /* sequence, batch, input and hidden sizes */
    int64_t dirs;         /* 1 or 2 */
    bool reverse;         /* single direction runs backwards */
    int layout;           /* 0: [S, B, ...]; 1: [B, S, ...] */
    double clip;          /* clip of pre-activations (<= 0: none) */
    bool lbr;             /* GRU linear_before_reset */
    bool input_forget;    /* LSTM couples input and forget gates */
    rnn_act act[2][3];    /* per direction */
} rnn_cfg;

static const struct {
    const char *name;
    act_fn fn;
    double alpha, beta;
} act_table[] = {
    {"Relu", ACT_RELU, 0, 0},
    {"Tanh", ACT_TANH, 0, 0},
    {"Sigmoid", ACT_SIGMOID, 0, 0},
    {"Affine", ACT_AFFINE, 1.0, 0.0},
    {"LeakyRelu", ACT_LEAKY_RELU, 0.01, 0},
    {"ThresholdedRelu", ACT_THRESHOLDED_RELU, 1.0, 0},
    {"ScaledTanh", ACT_SCALED_TANH, 1.0, 1.0},
    {"HardSigmoid", ACT_HARD_SIGMOID, 0.2, 0.5},
    {"Elu", ACT_ELU, 1.0, 0},
    {"Softsign", ACT_SOFTSIGN, 0, 0},
    {"Softplus", ACT_SOFTPLUS, 0, 0},
};

static double act_apply(const rnn_act *a, double x)
{
    switch (a->fn) {
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_TANH: return tanh(x);
    case ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case ACT_AFFINE: return a->alpha * x + a->beta;
    case ACT_LEAKY_RELU: return x >= 0 ? x : a->alpha * x;
    case ACT_THRESHOLDED_RELU: return x > a->alpha ? x : 0;
    case ACT_SCALED_TANH: return a->alpha * tanh(a->beta * x);
    case ACT_HARD_SIGMOID: {
        double v = a->alpha * x + a->beta;
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case ACT_ELU: return x >= 0 ? x : a->alpha * (exp(x) - 1);
    case ACT_SOFTSIGN: return x / (1 + fabs(x));
    case ACT_SOFTPLUS: return log1p(exp(x));
    }
    return x;
}

static strata_status rnn_config(const op_node *n, const strata_tensor *const *in, rnn_kind kind,
                                rnn_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->G = kind == RNN_PLAIN ? 1 : kind == RNN_GRU ? 3 : 4;
    c->n_act = kind == RNN_PLAIN ? 1 : kind == RNN_GRU ? 2 : 3;
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1), *r = op_input(n, in, 2);
    if (!x || !w || !r) return op_error(n, STRATA_INVALID_MODEL, "needs inputs X, W and R");
    strata_status st = nn_util_need_float(n, x, "X");
    if (st) return st;
    if (x->rank != 3 || w->rank != 3 || r->rank != 3)
        return op_error(n, STRATA_INVALID_ARGUMENT, "X, W and R must be 3-D");
    c->layout = (int)op_attr_int(n, "layout", 0);
    if (c->layout != 0 && c->layout != 1)
        return op_error(n, STRATA_INVALID_MODEL, "'layout' must be 0 or 1");
    c->S = x->dims[c->layout ? 1 : 0];
    c->B = x->dims[c->layout ? 0 : 1];
    c->I = x->dims[2];
    const char *dir = op_attr_string(n, "direction", "forward");
    if (strcmp(dir, "forward") == 0) c->dirs = 1;
    else if (strcmp(dir, "reverse") == 0) c->dirs = 1, c->reverse = true;
    else if (strcmp(dir, "bidirectional") == 0) c->dirs = 2;
    else return op_error(n, STRATA_INVALID_MODEL, "unknown direction '%s'", dir);
    c->H = op_attr_int(n, "hidden_size", w->dims[1] >= 0 ? w->dims[1] / c->G : -1);
    if (c->H < 1 && w->dims[1] >= 0)
        return op_error(n, STRATA_INVALID_MODEL, "'hidden_size' is %lld", (long long)c->H);
    int64_t GH = c->G * c->H;
    if ((w->dims[0] >= 0 && w->dims[0] != c->dirs) || (w->dims[1] >= 0 && w->dims[1] != GH) ||
        (w->dims[2] >= 0 && c->I >= 0 && w->dims[2] != c->I))
        return op_error(n, STRATA_INVALID_ARGUMENT, "W must be [%lld, %lld, %lld]",
                        (long long)c->dirs, (long long)GH, (long long)c->I);
    if ((r->dims[0] >= 0 && r->dims[0] != c->dirs) || (r->dims[1] >= 0 && r->dims[1] != GH) ||
        (r->dims[2] >= 0 && r->dims[2] != c->H))
        return op_error(n, STRATA_INVALID_ARGUMENT, "R must be [%lld, %lld, %lld]",
                        (long long)c->dirs, (long long)GH, (long long)c->H);
    const strata_tensor *b = op_input(n, in, 3);
    if (b && nn_util_numel(b) >= 0 && nn_util_numel(b) != c->dirs * 2 * GH)
        return op_error(n, STRATA_INVALID_ARGUMENT, "B must be [%lld, %lld]", (long long)c->dirs,
                        (long long)(2 * GH));
    const strata_tensor *sl = op_input(n, in, 4);
    if (sl && (!dtype_is_int(sl->dtype) || (nn_util_numel(sl) >= 0 && c->B >= 0 && nn_util_numel(sl) != c->B)))
        return op_error(n, STRATA_INVALID_ARGUMENT, "sequence_lens must be int with %lld entries",
                        (long long)c->B);
    for (size_t i = 5; i <= (kind == RNN_LSTM ? 6u : 5u); i++) {
        const strata_tensor *h0 = op_input(n, in, i);
        if (h0 && nn_util_numel(h0) >= 0 && c->B >= 0 && nn_util_numel(h0) != c->dirs * c->B * c->H)
            return op_error(n, STRATA_INVALID_ARGUMENT, "initial state %zu has the wrong size", i);
    }
    const strata_tensor *p = kind == RNN_LSTM ? op_input(n, in, 7) : NULL;
    if (p && nn_util_numel(p) >= 0 && nn_util_numel(p) != c->dirs * 3 * c->H)
        return op_error(n, STRATA_INVALID_ARGUMENT, "P must be [%lld, %lld]", (long long)c->dirs,
                        (long long)(3 * c->H));
    c->clip = op_attr_float(n, "clip", 0.0f);
    c->lbr = op_attr_int(n, "linear_before_reset", 0) != 0;
    c->input_forget = op_attr_int(n, "input_forget", 0) != 0;
    /* activations: defaults, or the list (n_act per direction) */
    size_t na = 0, nal = 0, nbe = 0;
    const attr *acts = attr_find(n->attrs, n->n_attrs, "activations");
    const float *alphas = op_attr_floats(n, "activation_alpha", &nal);
    const float *betas = op_attr_floats(n, "activation_beta", &nbe);
    if (acts && acts->type == ATTR_STRINGS) na = acts->n;
    if (na && na != (size_t)(c->n_act * c->dirs))
        return op_error(n, STRATA_INVALID_MODEL, "'activations' has %zu entries; want %lld", na,
                        (long long)(c->n_act * c->dirs));
    static const act_fn dflt[3][3] = {{ACT_TANH}, {ACT_SIGMOID, ACT_TANH},
                                      {ACT_SIGMOID, ACT_TANH, ACT_TANH}};
    size_t ia = 0, ib = 0;
    for (int d = 0; d < c->dirs; d++)
        for (int k = 0; k < c->n_act; k++) {
            rnn_act *a = &c->act[d][k];
            size_t ti = 0;
            if (na) {
                const char *name = acts->strings[d * c->n_act + k];
                for (ti = 0; ti < ARRAY_LEN(act_table); ti++)
                    if (strcasecmp(name, act_table[ti].name) == 0) break;
                if (ti == ARRAY_LEN(act_table))
                    return op_error(n, STRATA_UNSUPPORTED, "activation '%s'", name);
            } else {
                for (ti = 0; act_table[ti].fn != dflt[kind][k]; ti++) {
                }
            }
            a->fn = act_table[ti].fn;
            a->alpha = act_table[ti].alpha;
            a->beta = act_table[ti].beta;
            bool uses_alpha = a->fn == ACT_AFFINE || a->fn == ACT_LEAKY_RELU ||
                              a->fn == ACT_THRESHOLDED_RELU || a->fn == ACT_SCALED_TANH ||
                              a->fn == ACT_HARD_SIGMOID || a->fn == ACT_ELU;
            bool uses_beta = a->fn == ACT_AFFINE || a->fn == ACT_SCALED_TANH ||
                             a->fn == ACT_HARD_SIGMOID;
            if (uses_alpha && alphas && ia < nal) a->alpha = alphas[ia++];
            if (uses_beta && betas && ib < nbe) a->beta = betas[ib++];
        }
    return STRATA_OK;
}

static strata_status rnn_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out, rnn_kind kind)
{
    rnn_cfg c;
    strata_status st = rnn_config(n, in, kind, &c);
    if (st) return st;
    strata_dtype t = in[0]->dtype;
    int64_t y[4], yh[3];
    if (c.layout == 0) {
        y[0] = c.S, y[1] = c.dirs, y[2] = c.B, y[3] = c.H;
        yh[0] = c.dirs, yh[1] = c.B, yh[2] = c.H;
    } else {
        y[0] = c.B, y[1] = c.S, y[2] = c.dirs, y[3] = c.H;
        yh[0] = c.B, yh[1] = c.dirs, yh[2] = c.H;
    }
    if (n->n_outputs > 0 && out[0] && (st = tensor_set_shape(out[0], t, 4, y))) return st;
    for (size_t j = 1; j < n->n_outputs && j < (kind == RNN_LSTM ? 3u : 2u); j++)
        if (out[j] && (st = tensor_set_shape(out[j], t, 3, yh))) return st;
    return STRATA_OK;
}

static double clipv(const rnn_cfg *c, double v)
{
    if (c->clip > 0) v = v < -c->clip ? -c->clip : v > c->clip ? c->clip : v;
    return v;
}

static strata_status rnn_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out, rnn_kind kind)
{
    rnn_cfg c;
    strata_status st = rnn_config(n, in, kind, &c);
    if (st) return st;
    int64_t S = c.S, B = c.B, I = c.I, H = c.H, G = c.G, GH = G * H, D = c.dirs;
    const strata_tensor *sl = op_input(n, in, 4);
    double *x = nn_util_f64_load(in[0]), *w = nn_util_f64_load(in[1]), *r = nn_util_f64_load(in[2]);
    double *bias = nn_util_f64_load(op_input(n, in, 3));
    double *h0 = nn_util_f64_load(op_input(n, in, 5));
    double *c0 = kind == RNN_LSTM ? nn_util_f64_load(op_input(n, in, 6)) : NULL;
    double *p = kind == RNN_LSTM ? nn_util_f64_load(op_input(n, in, 7)) : NULL;
    int64_t ny = S * D * B * H, nh = D * B * H;
    double *y = mem_calloc((size_t)(ny > 0 ? ny : 1), sizeof *y);
    double *hs = mem_calloc((size_t)(nh > 0 ? nh : 1), sizeof *hs);
    double *cs = mem_calloc((size_t)(nh > 0 ? nh : 1), sizeof *cs);
    double *xw = mem_alloc((size_t)(GH > 0 ? GH : 1) * sizeof *xw);
    double *hr = mem_alloc((size_t)(GH > 0 ? GH : 1) * sizeof *hr);
    double *tmp = mem_alloc((size_t)(H > 0 ? H : 1) * sizeof *tmp);
    double *rv = mem_alloc((size_t)(H > 0 ? H : 1) * sizeof *rv);
    if (!x || !w || !r || (op_input(n, in, 3) && !bias) || (op_input(n, in, 5) && !h0) ||
        (c0 == NULL && kind == RNN_LSTM && op_input(n, in, 6)) ||
        (p == NULL && kind == RNN_LSTM && op_input(n, in, 7)) || !y || !hs || !cs || !xw || !hr ||
        !tmp || !rv) {
        st = nn_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < B; b++) {
        int64_t len = sl ? tensor_get_i64(sl, b) : S;
        if (len < 0 || len > S) {
            st = op_error(n, STRATA_INVALID_ARGUMENT, "sequence_lens[%lld] = %lld outside [0, %lld]",
                          (long long)b, (long long)len, (long long)S);
            goto done;
        }
    }
    /* states as [D][B][H] whatever the layout */
    for (int64_t d = 0; d < D; d++)
        for (int64_t b = 0; b < B; b++)
            for (int64_t k = 0; k < H; k++) {
                int64_t src = (c.layout ? (b * D + d) : (d * B + b)) * H + k;
                hs[(d * B + b) * H + k] = h0 ? h0[src] : 0;
                cs[(d * B + b) * H + k] = c0 ? c0[src] : 0;
            }
    for (int64_t d = 0; d < D; d++) {
        bool rev = c.reverse || d == 1;
        const double *wd = w + d * GH * I, *rd = r + d * GH * H;
        const double *wb = bias ? bias + d * 2 * GH : NULL, *rb = bias ? wb + GH : NULL;
        const double *pd = p ? p + d * 3 * H : NULL;
        const rnn_act *a = c.act[d];
        for (int64_t b = 0; b < B; b++) {
            int64_t len = sl ? tensor_get_i64(sl, b) : S;
            double *h = hs + (d * B + b) * H, *cc = cs + (d * B + b) * H;
            for (int64_t s = 0; s < len; s++) {
                int64_t t = rev ? len - 1 - s : s;
                const double *xt = x + (c.layout ? (b * S + t) : (t * B + b)) * I;
                for (int64_t g = 0; g < GH; g++) {
                    double v = wb ? wb[g] : 0, u = rb ? rb[g] : 0;
                    for (int64_t i = 0; i < I; i++) v += wd[g * I + i] * xt[i];
                    for (int64_t i = 0; i < H; i++) u += rd[g * H + i] * h[i];
                    xw[g] = v;
                    hr[g] = u;
                }
                if (kind == RNN_PLAIN) {
                    for (int64_t k = 0; k < H; k++) h[k] = act_apply(&a[0], clipv(&c, xw[k] + hr[k]));
                } else if (kind == RNN_GRU) {
                    /* gates z, r, h; rv holds the reset gate r */
                    for (int64_t k = 0; k < H; k++)
                        rv[k] = act_apply(&a[0], clipv(&c, xw[H + k] + hr[H + k]));
                    for (int64_t k = 0; k < H; k++) {
                        double z = act_apply(&a[0], clipv(&c, xw[k] + hr[k]));
                        double hh;
                        if (c.lbr) {
                            hh = xw[2 * H + k] + rv[k] * hr[2 * H + k];
                        } else {
                            double u = rb ? rb[2 * H + k] : 0;
                            for (int64_t i = 0; i < H; i++) u += rd[(2 * H + k) * H + i] * h[i] * rv[i];
                            hh = xw[2 * H + k] + u;
                        }
                        hh = act_apply(&a[1], clipv(&c, hh));
                        tmp[k] = (1 - z) * hh + z * h[k];
                    }
                    memcpy(h, tmp, (size_t)H * sizeof *h);
                } else {
                    /* gates i, o, f, c; P is i, o, f */
                    for (int64_t k = 0; k < H; k++) {
                        double ig = xw[k] + hr[k] + (pd ? pd[k] * cc[k] : 0);
                        double fg = xw[2 * H + k] + hr[2 * H + k] + (pd ? pd[2 * H + k] * cc[k] : 0);
                        double cg = xw[3 * H + k] + hr[3 * H + k];
                        ig = act_apply(&a[0], clipv(&c, ig));
                        fg = c.input_forget ? 1 - ig : act_apply(&a[0], clipv(&c, fg));
                        cg = act_apply(&a[1], clipv(&c, cg));
                        double cn = fg * cc[k] + ig * cg;
                        double og = xw[H + k] + hr[H + k] + (pd ? pd[H + k] * cn : 0);
                        og = act_apply(&a[0], clipv(&c, og));
                        cc[k] = cn;
                        tmp[k] = og * act_apply(&a[2], cn);
                    }
                    memcpy(h, tmp, (size_t)H * sizeof *h);
                }
                double *yt = y + (c.layout ? ((b * S + t) * D + d) : ((t * D + d) * B + b)) * H;
                memcpy(yt, h, (size_t)H * sizeof *h);
            }
        }
    }
    if (n->n_outputs > 0 && out[0]) nn_util_f64_store(out[0], y);
    for (int which = 1; which <= (kind == RNN_LSTM ? 2 : 1); which++) {
        if (n->n_outputs <= (size_t)which || !out[which]) continue;
        const double *src = which == 1 ? hs : cs;
        for (int64_t d = 0; d < D; d++)
            for (int64_t b = 0; b < B; b++)
                for (int64_t k = 0; k < H; k++)
                    tensor_set_f64(out[which], (c.layout ? (b * D + d) : (d * B + b)) * H + k,
                                   src[(d * B + b) * H + k]);
    }
done:
    mem_free(x);
    mem_free(w);
    mem_free(r);
    mem_free(bias);
    mem_free(h0);
    mem_free(c0);
    mem_free(p);
    mem_free(y);
    mem_free(hs);
    mem_free(cs);
    mem_free(xw);
    mem_free(hr);
    mem_free(tmp);
    mem_free(rv);
    return st;
}

strata_status nn_rnn_infer(const op_node *n, const strata_tensor *const *in,
                           strata_tensor *const *out)
{
    return rnn_infer(n, in, out, RNN_PLAIN);
}

strata_status nn_rnn_compute(const op_node *n, const strata_tensor *const *in,
                             strata_tensor *const *out)
{
    return rnn_compute(n, in, out, RNN_PLAIN);
}

strata_status nn_rnn_gru_infer(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    return rnn_infer(n, in, out, RNN_GRU);
}

strata_status nn_rnn_gru_compute(const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out)
{
    return rnn_compute(n, in, out, RNN_GRU);
}

strata_status nn_rnn_lstm_infer(const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out)
{
    return rnn_infer(n, in, out, RNN_LSTM);
}

strata_status nn_rnn_lstm_compute(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    return rnn_compute(n, in, out, RNN_LSTM);
}
