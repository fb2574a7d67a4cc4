/* kernels/ref/nn_conv.c — reference Conv, ConvTranspose, ConvInteger and QLinearConv over 1 to
 * 14 spatial dims: im2col into a scratch matrix and the plain GEMM of nn_util.c (f32), or an
 * int64 im2col + GEMM for the integer ops; ConvTranspose is GEMM then col2im. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

/* ---- im2col / col2im ----------------------------------------------------------------------- */

/* Row-major decomposition of idx over dims[0..n). */
static void unravel(int64_t idx, int n, const int64_t *dims, int64_t *out)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = idx % dims[i];
        idx /= dims[i];
    }
}

static int64_t prod(int n, const int64_t *d)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= d[i];
    return p;
}

/* col[(c * KP + kp) * OP + op] = x[c][input position of (op, kp)] or 0 in the padding, for the
 * C channels at x (each IP elements). */
#define DEFINE_IM2COL(name, T)                                                                \
    static void name(const T *x, int64_t C, const nn_window *w, T *col)                       \
    {                                                                                         \
        int ns = w->n_sp, last = ns - 1;                                                      \
        int64_t KP = prod(ns, w->k), OP = prod(ns, w->out), IP = prod(ns, w->in);             \
        int64_t OL = w->out[last], n_outer = OP / (OL > 0 ? OL : 1);                          \
        int64_t kidx[NN_MAX_SPATIAL], offs[NN_MAX_SPATIAL], oidx[NN_MAX_SPATIAL];             \
        for (int64_t c = 0; c < C; c++) {                                                     \
            const T *xc = x + c * IP;                                                         \
            for (int64_t kp = 0; kp < KP; kp++) {                                             \
                T *row = col + (c * KP + kp) * OP;                                            \
                unravel(kp, ns, w->k, kidx);                                                  \
                for (int i = 0; i < ns; i++) offs[i] = kidx[i] * w->d[i] - w->pb[i];          \
                memset(oidx, 0, sizeof oidx);                                                 \
                for (int64_t o = 0; o < n_outer; o++) {                                       \
                    int64_t base = 0;                                                         \
                    bool ok = true;                                                           \
                    for (int i = 0; i < last; i++) {                                          \
                        int64_t ii = oidx[i] * w->s[i] + offs[i];                             \
                        if (ii < 0 || ii >= w->in[i]) ok = false;                             \
                        base = base * w->in[i] + ii;                                          \
                    }                                                                         \
                    T *dst = row + o * OL;                                                    \
                    if (!ok) {                                                                \
                        for (int64_t j = 0; j < OL; j++) dst[j] = 0;                          \
                    } else {                                                                  \
                        const T *src = xc + base * w->in[last];                               \
                        int64_t s = w->s[last], off = offs[last], in_l = w->in[last];         \
                        for (int64_t j = 0; j < OL; j++) {                                    \
                            int64_t ii = j * s + off;                                         \
                            dst[j] = ii >= 0 && ii < in_l ? src[ii] : 0;                      \
                        }                                                                     \
                    }                                                                         \
                    for (int i = last - 1; i >= 0; i--) {                                     \
                        if (++oidx[i] < w->out[i]) break;                                     \
                        oidx[i] = 0;                                                          \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

DEFINE_IM2COL(im2col_f32, float)
DEFINE_IM2COL(im2col_i64, int64_t)

/* True when the window is the identity (1x1 kernel, stride 1, no pads): col == x. */
static bool is_pointwise(const nn_window *w)
{
    for (int i = 0; i < w->n_sp; i++)
        if (w->k[i] != 1 || w->s[i] != 1 || w->pb[i] || w->pe[i] || w->in[i] != w->out[i])
            return false;
    return true;
}

/* ---- shared shape checks ------------------------------------------------------------------- */

/* Checks X [N, C, sp...] against W [M, C/group, k...] and fills the window; *m_out = M. */
static strata_status conv_geometry(const op_node *n, const strata_tensor *x,
                                   const strata_tensor *w, nn_window *win, int64_t *group_out)
{
    if (!x || !w) return op_error(n, STRATA_INVALID_MODEL, "needs inputs X and W");
    if (x->rank < 3 || w->rank != x->rank)
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "X has rank %d and W rank %d; need equal ranks >= 3", x->rank, w->rank);
    int64_t group = op_attr_int(n, "group", 1);
    if (group < 1) return op_error(n, STRATA_INVALID_MODEL, "'group' is %lld", (long long)group);
    int64_t C = x->dims[1], M = w->dims[0], Cg = w->dims[1];
    if (C >= 0 && Cg >= 0 && C != Cg * group)
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "X has %lld channels but W expects %lld x group %lld", (long long)C,
                        (long long)Cg, (long long)group);
    if (M >= 0 && M % group != 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "group %lld does not divide %lld output channels",
                        (long long)group, (long long)M);
    int ns = x->rank - 2;
    size_t nk = 0;
    const int64_t *ks = op_attr_ints(n, "kernel_shape", &nk);
    for (int i = 0; i < ns; i++) {
        if (w->dims[2 + i] < 0)
            return op_error(n, STRATA_NOT_FOUND, "kernel extent unknown");
        if (ks && (nk != (size_t)ns || ks[i] != w->dims[2 + i]))
            return op_error(n, STRATA_INVALID_MODEL, "'kernel_shape' does not match W's shape");
    }
    *group_out = group;
    return nn_util_window(n, ns, x->dims + 2, w->dims + 2, false, win);
}

static strata_status set_conv_out(strata_tensor *y, strata_dtype t, const strata_tensor *x,
                                  int64_t M, const nn_window *win)
{
    int64_t dims[STRATA_MAX_DIMS];
    dims[0] = x->dims[0];
    dims[1] = M;
    for (int i = 0; i < win->n_sp; i++) dims[2 + i] = win->out[i];
    return tensor_set_shape(y, t, x->rank, dims);
}

/* ---- Conv ------------------------------------------------------------------------------------ */

strata_status nn_conv_infer(const op_node *n, const strata_tensor *const *in,
                            strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1), *b = op_input(n, in, 2);
    nn_window win;
    int64_t group;
    strata_status st = conv_geometry(n, x, w, &win, &group);
    if (st == STRATA_NOT_FOUND) { /* kernel unknown statically: spatial dims unknown */
        int64_t dims[STRATA_MAX_DIMS];
        dims[0] = x->dims[0];
        dims[1] = w->dims[0];
        for (int i = 2; i < x->rank; i++) dims[i] = -1;
        return tensor_set_shape(out[0], x->dtype, x->rank, dims);
    }
    if (st) return st;
    if ((st = nn_util_need_float(n, x, "X"))) return st;
    if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "X, W and B types differ");
    if (b && (b->rank != 1 || (b->dims[0] >= 0 && w->dims[0] >= 0 && b->dims[0] != w->dims[0])))
        return op_error(n, STRATA_INVALID_ARGUMENT, "B must have shape [%lld]",
                        (long long)w->dims[0]);
    return set_conv_out(out[0], x->dtype, x, w->dims[0], &win);
}

/* y[N][M][OP] = conv(x[N][C][IP], w[M][Cg][KP]) (+ bias), all f32. */
static strata_status conv_run_f32(const op_node *n, const float *x, int64_t N, int64_t C,
                                  const float *w, int64_t M, int64_t group, const float *bias,
                                  const nn_window *win, float *y)
{
    int ns = win->n_sp;
    int64_t KP = prod(ns, win->k), OP = prod(ns, win->out), IP = prod(ns, win->in);
    int64_t Cg = C / group, Mg = M / group, Kdim = Cg * KP;
    bool direct = is_pointwise(win);
    float *col = NULL;
    if (!direct) {
        col = mem_alloc((size_t)(Kdim * OP > 0 ? Kdim * OP : 1) * sizeof *col);
        if (!col) return nn_util_oom(n);
    }
    for (int64_t b = 0; b < N; b++) {
        for (int64_t g = 0; g < group; g++) {
            const float *xg = x + (b * C + g * Cg) * IP;
            float *yg = y + (b * M + g * Mg) * OP;
            if (bias)
                for (int64_t m = 0; m < Mg; m++)
                    for (int64_t j = 0; j < OP; j++) yg[m * OP + j] = bias[g * Mg + m];
            const float *B = xg;
            if (!direct) {
                im2col_f32(xg, Cg, win, col);
                B = col;
            }
            if (!nn_util_gemm_f32(Mg, OP, Kdim, 1.0f, w + g * Mg * Kdim, Kdim, false, B, OP,
                                  false, yg, OP)) {
                mem_free(col);
                return nn_util_oom(n);
            }
        }
    }
    mem_free(col);
    return STRATA_OK;
}

strata_status nn_conv_compute(const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1), *b = op_input(n, in, 2);
    nn_window win;
    int64_t group;
    strata_status st = conv_geometry(n, x, w, &win, &group);
    if (st) return st;
    float *sx = NULL, *sw = NULL, *sb = NULL, *sy = NULL;
    const float *xf = nn_util_f32_in(x, &sx), *wf = nn_util_f32_in(w, &sw);
    const float *bf = b ? nn_util_f32_in(b, &sb) : NULL;
    float *yf = nn_util_f32_out(out[0], &sy);
    if (!xf || !wf || (b && !bf) || !yf) {
        st = nn_util_oom(n);
    } else {
        st = conv_run_f32(n, xf, x->dims[0], x->dims[1], wf, w->dims[0], group, bf, &win, yf);
        if (!st) nn_util_f32_store(out[0], yf);
    }
    mem_free(sx);
    mem_free(sw);
    mem_free(sb);
    mem_free(sy);
    return st;
}

/* ---- ConvInteger and QLinearConv ---------------------------------------------------------- */

/* acc[N][M][OP] = conv(x, w) on int64 values (zero points already subtracted). */
static strata_status conv_run_i64(const op_node *n, const int64_t *x, int64_t N, int64_t C,
                                  const int64_t *w, int64_t M, int64_t group,
                                  const nn_window *win, int64_t *acc)
{
    int ns = win->n_sp;
    int64_t KP = prod(ns, win->k), OP = prod(ns, win->out), IP = prod(ns, win->in);
    int64_t Cg = C / group, Mg = M / group, Kdim = Cg * KP;
    int64_t *col = mem_alloc((size_t)(Kdim * OP > 0 ? Kdim * OP : 1) * sizeof *col);
    if (!col) return nn_util_oom(n);
    for (int64_t b = 0; b < N; b++)
        for (int64_t g = 0; g < group; g++) {
            im2col_i64(x + (b * C + g * Cg) * IP, Cg, win, col);
            int64_t *yg = acc + (b * M + g * Mg) * OP;
            const int64_t *wg = w + g * Mg * Kdim;
            for (int64_t m = 0; m < Mg; m++)
                for (int64_t k = 0; k < Kdim; k++) {
                    int64_t a = wg[m * Kdim + k];
                    const int64_t *cr = col + k * OP;
                    for (int64_t j = 0; j < OP; j++) yg[m * OP + j] += a * cr[j];
                }
        }
    mem_free(col);
    return STRATA_OK;
}

static bool is_q8(strata_dtype t)
{
    return t == STRATA_DTYPE_U8 || t == STRATA_DTYPE_I8;
}

/* Zero point of element index i (per tensor or per channel of extent n_ch). */
static strata_status check_zp(const op_node *n, const strata_tensor *zp, int64_t n_ch,
                              strata_dtype want, const char *what)
{
    if (!zp) return STRATA_OK;
    int64_t cnt = nn_util_numel(zp);
    if (zp->dtype != want)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s has type %s, want %s", what,
                        strata_dtype_name(zp->dtype), strata_dtype_name(want));
    if (cnt != 1 && cnt != n_ch)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s has %lld elements; want 1 or %lld", what,
                        (long long)cnt, (long long)n_ch);
    return STRATA_OK;
}

static double zp_at(const strata_tensor *zp, int64_t ch)
{
    if (!zp) return 0;
    return tensor_get_f64(zp, nn_util_numel(zp) == 1 ? 0 : ch);
}

/* Loads x - x_zp (per tensor) and w - w_zp (per output channel) as int64 and runs the conv. */
static strata_status conv_integer_acc(const op_node *n, const strata_tensor *x,
                                      const strata_tensor *xzp, const strata_tensor *w,
                                      const strata_tensor *wzp, int64_t **acc_out, nn_window *win,
                                      int64_t *group)
{
    strata_status st = conv_geometry(n, x, w, win, group);
    if (st) return st;
    int64_t nx = nn_util_numel(x), nw = nn_util_numel(w), M = w->dims[0];
    int64_t ny = x->dims[0] * M * prod(win->n_sp, win->out);
    int64_t *xi = mem_alloc((size_t)(nx > 0 ? nx : 1) * sizeof *xi);
    int64_t *wi = mem_alloc((size_t)(nw > 0 ? nw : 1) * sizeof *wi);
    int64_t *acc = mem_calloc((size_t)(ny > 0 ? ny : 1), sizeof *acc);
    if (!xi || !wi || !acc) {
        st = nn_util_oom(n);
        goto done;
    }
    int64_t xz = (int64_t)zp_at(xzp, 0), per = M > 0 ? nw / M : 0;
    for (int64_t i = 0; i < nx; i++) xi[i] = tensor_get_i64(x, i) - xz;
    for (int64_t i = 0; i < nw; i++) wi[i] = tensor_get_i64(w, i) - (int64_t)zp_at(wzp, i / per);
    st = conv_run_i64(n, xi, x->dims[0], x->dims[1], wi, M, *group, win, acc);
done:
    mem_free(xi);
    mem_free(wi);
    if (st) {
        mem_free(acc);
        acc = NULL;
    }
    *acc_out = acc;
    return st;
}

strata_status nn_conv_integer_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1);
    nn_window win;
    int64_t group;
    strata_status st = conv_geometry(n, x, w, &win, &group);
    if (st) return st;
    if (!is_q8(x->dtype) || !is_q8(w->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "x and w must be int8 or uint8 (got %s, %s)",
                        strata_dtype_name(x->dtype), strata_dtype_name(w->dtype));
    if ((st = check_zp(n, op_input(n, in, 2), 1, x->dtype, "x_zero_point"))) return st;
    if ((st = check_zp(n, op_input(n, in, 3), w->dims[0], w->dtype, "w_zero_point"))) return st;
    return set_conv_out(out[0], STRATA_DTYPE_I32, x, w->dims[0], &win);
}

strata_status nn_conv_integer_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    nn_window win;
    int64_t group, *acc = NULL;
    strata_status st = conv_integer_acc(n, op_input(n, in, 0), op_input(n, in, 2),
                                        op_input(n, in, 1), op_input(n, in, 3), &acc, &win, &group);
    if (st) return st;
    int64_t ny = nn_util_numel(out[0]);
    int32_t *y = out[0]->data;
    for (int64_t i = 0; i < ny; i++) y[i] = (int32_t)acc[i];
    mem_free(acc);
    return STRATA_OK;
}

/* QLinearConv inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B. */
strata_status nn_conv_qlinear_infer(const op_node *n, const strata_tensor *const *in,
                                    strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 3);
    const strata_tensor *ys = op_input(n, in, 6), *yzp = op_input(n, in, 7);
    nn_window win;
    int64_t group;
    strata_status st = conv_geometry(n, x, w, &win, &group);
    if (st) return st;
    if (!is_q8(x->dtype) || !is_q8(w->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "x and w must be int8 or uint8 (got %s, %s)",
                        strata_dtype_name(x->dtype), strata_dtype_name(w->dtype));
    if (!op_input(n, in, 1) || !op_input(n, in, 4) || !ys)
        return op_error(n, STRATA_INVALID_MODEL, "needs x_scale, w_scale and y_scale");
    if ((st = check_zp(n, op_input(n, in, 2), 1, x->dtype, "x_zero_point"))) return st;
    if ((st = check_zp(n, op_input(n, in, 5), w->dims[0], w->dtype, "w_zero_point"))) return st;
    strata_dtype yt = yzp ? yzp->dtype : x->dtype;
    if (!is_q8(yt)) return op_error(n, STRATA_UNSUPPORTED, "y_zero_point must be int8 or uint8");
    return set_conv_out(out[0], yt, x, w->dims[0], &win);
}

strata_status nn_conv_qlinear_compute(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    const strata_tensor *xs = op_input(n, in, 1), *ws = op_input(n, in, 4);
    const strata_tensor *ys = op_input(n, in, 6), *yzp = op_input(n, in, 7);
    const strata_tensor *bias = op_input(n, in, 8), *w = op_input(n, in, 3);
    nn_window win;
    int64_t group, *acc = NULL;
    strata_status st = conv_integer_acc(n, op_input(n, in, 0), op_input(n, in, 2), w,
                                        op_input(n, in, 5), &acc, &win, &group);
    if (st) return st;
    int64_t M = w->dims[0], OP = prod(win.n_sp, win.out), ny = nn_util_numel(out[0]);
    int64_t n_ws = nn_util_numel(ws), n_b = nn_util_numel(bias), lo, hi;
    if ((n_ws != 1 && n_ws != M) || (bias && n_b != M)) {
        mem_free(acc);
        return op_error(n, STRATA_INVALID_ARGUMENT, "w_scale or B does not match %lld channels",
                        (long long)M);
    }
    nn_util_int_range(out[0]->dtype, &lo, &hi);
    float xsc = (float)tensor_get_f64(xs, 0), ysc = (float)tensor_get_f64(ys, 0);
    double yz = zp_at(yzp, 0);
    for (int64_t i = 0; i < ny; i++) {
        int64_t m = (i / (OP > 0 ? OP : 1)) % (M > 0 ? M : 1);
        float scale = xsc * (float)tensor_get_f64(ws, n_ws == 1 ? 0 : m) / ysc;
        double v = (double)(acc[i] + (bias ? tensor_get_i64(bias, m) : 0));
        double q = nn_util_rint(v * (double)scale) + yz;
        tensor_set_i64(out[0], i, nn_util_saturate(q, lo, hi));
    }
    mem_free(acc);
    return STRATA_OK;
}

/* ---- ConvTranspose ---------------------------------------------------------------------------- */

/* Geometry of ConvTranspose: X [N, C, in...], W [C, M/group, k...]; output extents and pads. */
static strata_status convt_geometry(const op_node *n, const strata_tensor *x,
                                    const strata_tensor *w, nn_window *win, int64_t *group_out,
                                    int64_t *op_out)
{
    if (!x || !w) return op_error(n, STRATA_INVALID_MODEL, "needs inputs X and W");
    if (x->rank < 3 || w->rank != x->rank)
        return op_error(n, STRATA_INVALID_ARGUMENT,
                        "X has rank %d and W rank %d; need equal ranks >= 3", x->rank, w->rank);
    int ns = x->rank - 2;
    if (ns > NN_MAX_SPATIAL)
        return op_error(n, STRATA_INVALID_ARGUMENT, "too many spatial dims (%d)", ns);
    int64_t group = op_attr_int(n, "group", 1);
    if (group < 1) return op_error(n, STRATA_INVALID_MODEL, "'group' is %lld", (long long)group);
    if (x->dims[1] >= 0 && w->dims[0] >= 0 && x->dims[1] != w->dims[0])
        return op_error(n, STRATA_INVALID_ARGUMENT, "X has %lld channels but W has %lld",
                        (long long)x->dims[1], (long long)w->dims[0]);
    if (w->dims[0] >= 0 && w->dims[0] % group != 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "group %lld does not divide %lld channels",
                        (long long)group, (long long)w->dims[0]);
    size_t nk = 0, ns_ = 0, nd = 0, np = 0, nop = 0, nos = 0;
    const int64_t *ks = op_attr_ints(n, "kernel_shape", &nk);
    const int64_t *ss = op_attr_ints(n, "strides", &ns_);
    const int64_t *ds = op_attr_ints(n, "dilations", &nd);
    const int64_t *ps = op_attr_ints(n, "pads", &np);
    const int64_t *ops = op_attr_ints(n, "output_padding", &nop);
    const int64_t *os = op_attr_ints(n, "output_shape", &nos);
    const char *auto_pad = op_attr_string(n, "auto_pad", "NOTSET");
    bool same_upper = strcmp(auto_pad, "SAME_UPPER") == 0;
    bool same_lower = strcmp(auto_pad, "SAME_LOWER") == 0;
    if ((ks && nk != (size_t)ns) || (ss && ns_ != (size_t)ns) || (nd && nd != (size_t)ns) ||
        (ps && np != 2 * (size_t)ns) || (ops && nop != (size_t)ns) ||
        (os && nos != (size_t)ns && nos != (size_t)ns + 2))
        return op_error(n, STRATA_INVALID_MODEL,
                        "an attribute list does not match %d spatial dims", ns);
    if (os && nos == (size_t)ns + 2) os += 2;
    memset(win, 0, sizeof *win);
    win->n_sp = ns;
    for (int i = 0; i < ns; i++) {
        win->in[i] = x->dims[2 + i];
        win->k[i] = ks ? ks[i] : w->dims[2 + i];
        win->s[i] = ss ? ss[i] : 1;
        win->d[i] = ds ? ds[i] : 1;
        int64_t opad = ops ? ops[i] : 0;
        op_out[i] = opad;
        if (win->k[i] < 1 || win->s[i] < 1 || win->d[i] < 1 || opad < 0 ||
            win->k[i] > (1 << 24) || win->s[i] > (1 << 24) || win->d[i] > (1 << 24) ||
            opad > (1 << 24) || (ps && (ps[i] < 0 || ps[i + ns] < 0)))
            return op_error(n, STRATA_INVALID_MODEL, "spatial dim %d: bad kernel/stride/dilation/pads",
                            i);
        if (w->dims[2 + i] >= 0 && win->k[i] != w->dims[2 + i])
            return op_error(n, STRATA_INVALID_MODEL, "'kernel_shape' does not match W's shape");
        int64_t dk = (win->k[i] - 1) * win->d[i] + 1;
        if (win->in[i] < 0) {
            win->out[i] = -1;
            continue;
        }
        int64_t full = win->s[i] * (win->in[i] - 1) + opad + dk;
        if (ps) {
            win->pb[i] = ps[i];
            win->pe[i] = ps[i + ns];
        } else if (os || same_upper || same_lower) {
            int64_t target = os ? os[i] : win->in[i] * win->s[i];
            int64_t total = full - target;
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2); /* floor */
            win->pb[i] = same_upper ? half : total - half;
            win->pe[i] = total - win->pb[i];
        }
        win->out[i] = os ? os[i] : full - win->pb[i] - win->pe[i];
        if (win->out[i] < 1 || win->out[i] > STRATA_MAX_ELEMENTS)
            return op_error(n, STRATA_INVALID_ARGUMENT, "spatial dim %d: output extent %lld", i,
                            (long long)win->out[i]);
    }
    *group_out = group;
    return STRATA_OK;
}

strata_status nn_conv_transpose_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1), *b = op_input(n, in, 2);
    nn_window win;
    int64_t group, opad[NN_MAX_SPATIAL];
    strata_status st = convt_geometry(n, x, w, &win, &group, opad);
    if (st) return st;
    if ((st = nn_util_need_float(n, x, "X"))) return st;
    if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
        return op_error(n, STRATA_INVALID_ARGUMENT, "X, W and B types differ");
    int64_t M = w->dims[1] < 0 ? -1 : w->dims[1] * group;
    if (b && (b->rank != 1 || (M >= 0 && b->dims[0] >= 0 && b->dims[0] != M)))
        return op_error(n, STRATA_INVALID_ARGUMENT, "B must have shape [%lld]", (long long)M);
    return set_conv_out(out[0], x->dtype, x, M, &win);
}

strata_status nn_conv_transpose_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0), *w = op_input(n, in, 1), *b = op_input(n, in, 2);
    nn_window win;
    int64_t group, opad[NN_MAX_SPATIAL];
    strata_status st = convt_geometry(n, x, w, &win, &group, opad);
    if (st) return st;
    int ns = win.n_sp;
    int64_t N = x->dims[0], C = x->dims[1], Cg = C / group, Mg = w->dims[1], M = Mg * group;
    int64_t KP = prod(ns, win.k), IP = prod(ns, win.in), OP = prod(ns, win.out);
    float *sx = NULL, *sw = NULL, *sb = NULL, *sy = NULL, *col = NULL;
    const float *xf = nn_util_f32_in(x, &sx), *wf = nn_util_f32_in(w, &sw);
    const float *bf = b ? nn_util_f32_in(b, &sb) : NULL;
    float *yf = nn_util_f32_out(out[0], &sy);
    int64_t rows = Mg * KP;
    col = mem_alloc((size_t)(rows * IP > 0 ? rows * IP : 1) * sizeof *col);
    if (!xf || !wf || (b && !bf) || !yf || !col) {
        st = nn_util_oom(n);
        goto done;
    }
    int64_t kidx[NN_MAX_SPATIAL], iidx[NN_MAX_SPATIAL];
    for (int64_t bi = 0; bi < N; bi++)
        for (int64_t g = 0; g < group; g++) {
            memset(col, 0, (size_t)(rows * IP) * sizeof *col);
            /* col[Mg*KP][IP] = W_g^T (W_g is Cg x Mg*KP) times X_g (Cg x IP) */
            if (!nn_util_gemm_f32(rows, IP, Cg, 1.0f, wf + g * Cg * rows, rows, true,
                                  xf + (bi * C + g * Cg) * IP, IP, false, col, IP)) {
                st = nn_util_oom(n);
                goto done;
            }
            float *yg = yf + (bi * M + g * Mg) * OP;
            for (int64_t r = 0; r < rows; r++) {
                int64_t m = r / KP, kp = r % KP;
                unravel(kp, ns, win.k, kidx);
                const float *cr = col + r * IP;
                memset(iidx, 0, sizeof iidx);
                for (int64_t ip = 0; ip < IP; ip++) {
                    int64_t o = 0;
                    bool ok = true;
                    for (int i = 0; i < ns && ok; i++) {
                        int64_t oi = iidx[i] * win.s[i] - win.pb[i] + kidx[i] * win.d[i];
                        if (oi < 0 || oi >= win.out[i]) ok = false;
                        o = o * win.out[i] + oi;
                    }
                    if (ok) yg[m * OP + o] += cr[ip];
                    for (int i = ns - 1; i >= 0; i--) {
                        if (++iidx[i] < win.in[i]) break;
                        iidx[i] = 0;
                    }
                }
            }
        }
    if (bf)
        for (int64_t bi = 0; bi < N; bi++)
            for (int64_t m = 0; m < M; m++)
                for (int64_t j = 0; j < OP; j++) yf[(bi * M + m) * OP + j] += bf[m];
    nn_util_f32_store(out[0], yf);
done:
    mem_free(col);
    mem_free(sx);
    mem_free(sw);
    mem_free(sb);
    mem_free(sy);
    return st;
}
