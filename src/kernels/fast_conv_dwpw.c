/* kernels/fast_conv_dwpw.c — com.strata FusedDwPw (NHWC depthwise conv, then a 1x1 conv, with
 * an optional 1x1 "expand" conv in front; see kernels/ref/fused_dwpw.c): per task a band of
 * output rows; a few depthwise rows at a time go into the thread's scratch (the NHWC depthwise
 * row kernel), which stays in cache while the direct 1x1 tiles project it into the output with
 * bias, residual and relu/clip. With an expand, the depthwise input rows are made on demand by
 * the direct 1x1 tiles into a ring of kh rows per thread. Neither the expanded tensor nor the
 * depthwise output reaches memory (MobileNetV2 batch 1: 4.8 MB written and re-read in its second
 * block alone; batch 8: up to 38 MB). */
#include <math.h>
#include <string.h>

#include "fast_internal.h"
#include "x86/nhwc_x86.h"

#define DWPW_MAX_TAPS 64             /* the depthwise row kernels' limit */
/* Depthwise rows kept per group, L2-resident with the weights. Measured on MobileNetV2's blocks
 * (1 thread, batch 1): 32 KiB 1.04x, 96 KiB 1.015x, 256 KiB 1.00x the unfused time; the 7-wide
 * layers need the pixels (each tile pass streams the 1x1 weights) */
#define DWPW_SCRATCH_BYTES (256 << 10)
#define DWPW_MAGIC 0x31505744u       /* "DWP1" */
#define DWPW_HEADER 64

/* The geometry of a node: depthwise input [N,H,W,C], Y [N,Ho,Wo,M], depthwise kh x kw window.
 * Without an expand X is the depthwise input; with one X is [N,Hx,Wx,Cin] and the expand a
 * group-1 ekh x ekw conv (1x1 in an inverted residual block; a network's stem, e.g. MobileNetV2's
 * 3x3 stride-2 conv of the image, otherwise) whose output is the depthwise input. */
typedef struct dwpw_shape {
    int64_t N, H, W, C, M, Ho, Wo, kh, kw, sh, sw, dh, dw, ph, pw;
    int64_t Cin; /* with an expand its input channels; else 0 */
    int64_t Hx, Wx, ekh, ekw, esh, esw, eph, epw; /* with an expand: X's extent and its window */
} dwpw_shape;

static bool is_dwpw(const op_node *n)
{
    return strcmp(n->op_type, "FusedDwPw") == 0 && strcmp(n->domain, "com.strata") == 0 &&
           strcmp(op_attr_string(n, "layout", "NHWC"), "NHWC") == 0;
}

/* 0 none, 1 relu, 2 clip, -1 another (run by no row here). */
static int act_kind(const op_node *n, const char *attr_name)
{
    const char *a = op_attr_string(n, attr_name, "");
    return !a[0] ? 0 : strcmp(a, "Relu") == 0 ? 1 : strcmp(a, "Clip") == 0 ? 2 : -1;
}

/* The INTS attribute name with count entries into v (default dflt each); false when malformed. */
static bool ints_or(const op_node *n, const char *name, size_t count, int64_t dflt, int64_t *v)
{
    size_t got = 0;
    const int64_t *a = op_attr_ints(n, name, &got);
    for (size_t i = 0; i < count; i++) v[i] = a ? (i < got ? a[i] : 0) : dflt;
    return !a || got == count;
}

static const strata_tensor *opt_in(const op_node *n, const strata_tensor *const *in, size_t i)
{
    return i < n->n_inputs ? in[i] : NULL;
}

/* Optional input i unless the compiler's packed weights sit there. */
static const strata_tensor *unpacked_in(const op_node *n, const strata_tensor *const *in, size_t i)
{
    return op_attr_int(n, "packed_input", -1) == (int64_t)i ? NULL : opt_in(n, in, i);
}

static const strata_tensor *residual_of(const op_node *n, const strata_tensor *const *in)
{
    return unpacked_in(n, in, 5);
}

static const strata_tensor *expand_weights(const op_node *n, const strata_tensor *const *in)
{
    return unpacked_in(n, in, 6);
}

/* Geometry from the input dims and attributes (Ho, Wo computed); false when it cannot run. */
static bool shape_of(const op_node *n, const strata_tensor *const *in, dwpw_shape *s)
{
    const strata_tensor *x = in[0], *wd = in[1], *wp = in[3], *we = expand_weights(n, in);
    if (x->rank != 4 || wd->rank != 4 || wp->rank != 4) return false;
    s->N = x->dims[0], s->H = x->dims[1], s->W = x->dims[2], s->C = x->dims[3], s->Cin = 0;
    s->Hx = s->H, s->Wx = s->W, s->ekh = s->ekw = s->esh = s->esw = 1, s->eph = s->epw = 0;
    if (we) {
        s->Cin = x->dims[3], s->C = wd->dims[0];
        if (we->rank != 4 || s->Cin <= 0 || we->dims[0] != s->C || we->dims[1] != s->Cin || we->dims[2] <= 0 ||
            we->dims[3] <= 0 || we->dims[2] > 64 || we->dims[2] * we->dims[3] * s->Cin > NHWC_CONV_ROW_MAX_K)
            return false;
        int64_t est[2], edl[2], epd[4];
        if (!ints_or(n, "ex_strides", 2, 1, est) || !ints_or(n, "ex_dilations", 2, 1, edl) ||
            !ints_or(n, "ex_pads", 4, 0, epd) || strcmp(op_attr_string(n, "ex_auto_pad", "NOTSET"), "NOTSET") != 0)
            return false;
        if (est[0] < 1 || est[1] < 1 || edl[0] != 1 || edl[1] != 1 || epd[0] < 0 || epd[1] < 0 || epd[2] < 0 ||
            epd[3] < 0 || epd[0] >= we->dims[2] || epd[2] >= we->dims[2] || epd[1] >= we->dims[3] || epd[3] >= we->dims[3])
            return false;
        s->ekh = we->dims[2], s->ekw = we->dims[3], s->esh = est[0], s->esw = est[1], s->eph = epd[0], s->epw = epd[1];
        if (s->Hx >= 0 && s->Wx >= 0) {
            s->H = s->Hx + epd[0] + epd[2] - s->ekh >= 0 ? (s->Hx + epd[0] + epd[2] - s->ekh) / s->esh + 1 : 0;
            s->W = s->Wx + epd[1] + epd[3] - s->ekw >= 0 ? (s->Wx + epd[1] + epd[3] - s->ekw) / s->esw + 1 : 0;
        }
    }
    s->kh = wd->dims[2], s->kw = wd->dims[3], s->M = wp->dims[0];
    int64_t st[2], dl[2], pd[4];
    if (!ints_or(n, "dw_strides", 2, 1, st) || !ints_or(n, "dw_dilations", 2, 1, dl) || !ints_or(n, "dw_pads", 4, 0, pd))
        return false;
    if (strcmp(op_attr_string(n, "dw_auto_pad", "NOTSET"), "NOTSET") != 0) return false;
    s->sh = st[0], s->sw = st[1], s->dh = dl[0], s->dw = dl[1], s->ph = pd[0], s->pw = pd[1];
    if (s->sh < 1 || s->sw < 1 || s->dh < 1 || s->dw < 1 || pd[0] < 0 || pd[1] < 0 || pd[2] < 0 || pd[3] < 0) return false;
    if (s->C <= 0 || s->M <= 0 || s->kh <= 0 || s->kw <= 0 || s->kh * s->kw > DWPW_MAX_TAPS) return false;
    if (wd->dims[0] != s->C || wd->dims[1] != 1 || wp->dims[1] != s->C || wp->dims[2] != 1 || wp->dims[3] != 1) return false;
    if (s->H >= 0 && s->W >= 0) {
        s->Ho = (s->H + pd[0] + pd[2] - s->dh * (s->kh - 1) - 1) / s->sh + 1;
        s->Wo = (s->W + pd[1] + pd[3] - s->dw * (s->kw - 1) - 1) / s->sw + 1;
    } else {
        s->Ho = s->Wo = -1;
    }
    return true;
}

static bool vec_ok(const strata_tensor *b, int64_t count)
{
    return !b || (fast_f32(b) && b->rank == 1 && b->dims[0] == count);
}

static bool supports(const op_node *n, const strata_tensor *const *in)
{
    if (!is_dwpw(n) || n->n_inputs < 4 || !fast_f32(in[0]) || !fast_f32(in[1]) || !fast_f32(in[3])) return false;
    dwpw_shape s;
    if (!shape_of(n, in, &s)) return false;
    if (!vec_ok(opt_in(n, in, 2), s.C) || !vec_ok(opt_in(n, in, 4), s.M)) return false;
    const strata_tensor *we = expand_weights(n, in);
    if (we && (!fast_f32(we) || !vec_ok(unpacked_in(n, in, 7), s.C) || act_kind(n, "ex_activation") < 0)) return false;
    const strata_tensor *z = residual_of(n, in);
    if (z && (!fast_f32(z) || z->rank != 4 || z->dims[3] != s.M || z->dims[1] != s.Ho || z->dims[2] != s.Wo)) return false;
    return act_kind(n, "dw_activation") >= 0 && act_kind(n, "pw_activation") >= 0;
}

/* ---- packed weights: a 64-byte header (u32 magic, u32 0, i64 C, i64 M, i64 taps, i64 Cin, i64
 * expand taps, zero to 64), the depthwise rows (taps x NHWC_LDW(C) floats, wd[t*ldw + c] =
 * Wd[c][0][t]), the pointwise rows (C x NHWC_LDW(M) floats, wp[c*ldw + m] = Wp[m][c]), then with
 * an expand its rows (ekh*ekw*Cin x NHWC_LDW(C) floats, we[((i*ekw + j)*Cin + k)*ldw + c] =
 * We[c][k][i][j], the direct conv's order); columns past C / M zero. */

static size_t packed_floats(const dwpw_shape *s)
{
    int64_t ldc = NHWC_LDW(s->C);
    return (size_t)(s->kh * s->kw * ldc + s->C * NHWC_LDW(s->M) + s->ekh * s->ekw * s->Cin * ldc);
}

static void pack_into(const float *wd, const float *wp, const float *we, const dwpw_shape *s, float *dst)
{
    int64_t C = s->C, M = s->M, taps = s->kh * s->kw, ldc = NHWC_LDW(C), ldm = NHWC_LDW(M);
    float *pd = dst, *pp = dst + taps * ldc, *pe = pp + C * ldm;
    memset(dst, 0, packed_floats(s) * sizeof *dst);
    for (int64_t c = 0; c < C; c++)
        for (int64_t t = 0; t < taps; t++) pd[t * ldc + c] = wd[c * taps + t];
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++) pp[c * ldm + m] = wp[m * C + c];
    int64_t etaps = s->ekh * s->ekw;
    for (int64_t c = 0; we && c < C; c++)
        for (int64_t k = 0; k < s->Cin; k++)
            for (int64_t t = 0; t < etaps; t++) pe[(t * s->Cin + k) * ldc + c] = we[(c * s->Cin + k) * etaps + t];
}

static bool const_weights(const op_node *n, const strata_tensor *const *in, dwpw_shape *s)
{
    if (n->n_inputs < 4 || !in[0] || !in[1] || !in[3] || !in[1]->data || !in[3]->data || !fast_f32(in[1]) ||
        !fast_f32(in[3]) || !shape_of(n, in, s))
        return false;
    const strata_tensor *we = expand_weights(n, in);
    return !we || (we->data && fast_f32(we));
}

static size_t packed_size(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    dwpw_shape s;
    if (!const_weights(n, in, &s)) return 0;
    return DWPW_HEADER + packed_floats(&s) * sizeof(float);
}

static strata_status pack(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    dwpw_shape s;
    if (!const_weights(n, in, &s)) return op_error(n, STRATA_INTERNAL, "no constant weights to pack");
    uint8_t *h = packed;
    int64_t taps = s.kh * s.kw, ex_taps = s.Cin ? s.ekh * s.ekw : 0;
    uint32_t magic = DWPW_MAGIC;
    memset(h, 0, DWPW_HEADER);
    memcpy(h, &magic, 4);
    memcpy(h + 8, &s.C, 8);
    memcpy(h + 16, &s.M, 8);
    memcpy(h + 24, &taps, 8);
    memcpy(h + 32, &s.Cin, 8);
    memcpy(h + 40, &ex_taps, 8);
    const strata_tensor *we = expand_weights(n, in);
    pack_into(in[1]->data, in[3]->data, we ? we->data : NULL, &s, (float *)(h + DWPW_HEADER));
    return STRATA_OK;
}

/* The packed floats when the blob matches (C, M, taps), else NULL with the error set. */
static const float *packed_check(const op_node *n, const strata_tensor *const *in, const void *packed, const dwpw_shape *s)
{
    size_t have = (size_t)strata_tensor_numel(in[op_attr_int(n, "packed_input", 0)]);
    const uint8_t *h = packed;
    uint32_t magic = 0;
    int64_t C = 0, M = 0, taps = 0, Cin = -1, ex_taps = -1;
    if (have >= DWPW_HEADER) {
        memcpy(&magic, h, 4);
        memcpy(&C, h + 8, 8);
        memcpy(&M, h + 16, 8);
        memcpy(&taps, h + 24, 8);
        memcpy(&Cin, h + 32, 8);
        memcpy(&ex_taps, h + 40, 8);
    }
    int64_t want_ex_taps = s->Cin ? s->ekh * s->ekw : 0;
    if (magic != DWPW_MAGIC || C != s->C || M != s->M || taps != s->kh * s->kw || Cin != s->Cin ||
        ex_taps != want_ex_taps || have < DWPW_HEADER + packed_floats(s) * sizeof(float)) {
        op_error(n, STRATA_INVALID_ARGUMENT,
                 "packed weights (%zu bytes) are not the C=%lld M=%lld taps=%lld Cin=%lld expand taps=%lld form this "
                 "kernel needs", have, (long long)s->C, (long long)s->M, (long long)(s->kh * s->kw), (long long)s->Cin,
                 (long long)want_ex_taps);
        return NULL;
    }
    return (const float *)(h + DWPW_HEADER);
}

/* ---- run ------------------------------------------------------------------------------------ */

typedef struct dwpw_job {
    const dwpw_shape *s;
    const float *x, *wd, *bd, *wp, *bp, *z; /* wd, wp: packed rows */
    const float *we, *be;                   /* the expand's packed rows and bias (we NULL: none) */
    float *y, *scratch;                     /* scratch: per thread, the ring then group*Wo*C floats */
    int dw_act, pw_act, ex_act;
    float dw_lo, dw_hi, pw_lo, pw_hi, ex_lo, ex_hi;
    gemm_isa isa;
    int dw_prefetch, pw_prefetch, ex_prefetch;
    int64_t band, group, scratch_floats;
    int64_t ring;                           /* expanded rows kept per thread: twice a window's span */
} dwpw_job;

/* Which expanded rows a thread's ring holds: rows up to next-1 of image img are made; the band
 * being run ends before output row band_end (global index). */
typedef struct ring_state {
    int64_t img, next, band_end;
} ring_state;

static inline float act_apply(float v, int act, float lo, float hi)
{
    if (act == 1) return v > 0 ? v : 0;
    if (act == 2) return v < lo ? lo : v > hi ? hi : v;
    return v;
}

/* Depthwise output row t (image, oh) into dst (Wo x C), portable C; input rows from the image,
 * or from the ring (slot ih % ring) when there is an expand. */
static void dw_row_c(const dwpw_job *j, int64_t t, const float *ring, float *dst)
{
    const dwpw_shape *s = j->s;
    int64_t img = t / s->Ho, oh = t % s->Ho, C = s->C, ldw = NHWC_LDW(C);
    for (int64_t ow = 0; ow < s->Wo; ow++) {
        float *d = dst + ow * C;
        for (int64_t c = 0; c < C; c++) d[c] = j->bd ? j->bd[c] : 0.0f;
        for (int64_t i = 0; i < s->kh; i++) {
            int64_t ih = oh * s->sh - s->ph + i * s->dh;
            if (ih < 0 || ih >= s->H) continue;
            const float *xr = ring ? ring + (ih % j->ring) * s->W * C : j->x + (img * s->H + ih) * s->W * C;
            for (int64_t jj = 0; jj < s->kw; jj++) {
                int64_t iw = ow * s->sw - s->pw + jj * s->dw;
                if (iw < 0 || iw >= s->W) continue;
                const float *xs = xr + iw * C, *ws = j->wd + (i * s->kw + jj) * ldw;
                for (int64_t c = 0; c < C; c++) d[c] += xs[c] * ws[c];
            }
        }
        for (int64_t c = 0; c < C; c++) d[c] = act_apply(d[c], j->dw_act, j->dw_lo, j->dw_hi);
    }
}

/* pixels of src (K floats each) through 1x1 weights w (K rows of NHWC_LDW(N)) into y (N each),
 * with bias b, residual z and the activation; portable C. */
static void pointwise_c(const float *src, int64_t pixels, int64_t K, int64_t N, const float *w, const float *b,
                        const float *z, float *y, int act, float lo, float hi)
{
    int64_t ldw = NHWC_LDW(N);
    for (int64_t p = 0; p < pixels; p++) {
        float *yp = y + p * N;
        const float *sp = src + p * K;
        for (int64_t m = 0; m < N; m++) yp[m] = b ? b[m] : 0.0f;
        for (int64_t c = 0; c < K; c++) {
            float v = sp[c];
            const float *wr = w + c * ldw;
            for (int64_t m = 0; m < N; m++) yp[m] += v * wr[m];
        }
        for (int64_t m = 0; m < N; m++) yp[m] = act_apply(yp[m] + (z ? z[p * N + m] : 0.0f), act, lo, hi);
    }
}

/* pixels of src (K floats each) projected as above by the direct tiles of the job's ISA. */
static void pointwise(const dwpw_job *j, const float *src, int64_t pixels, int64_t K, int64_t N, const float *w,
                      const float *b, const float *z, float *y, int act, float lo, float hi, int prefetch)
{
#if defined(__x86_64__)
    if (j->isa == GEMM_ISA_AVX512 || j->isa == GEMM_ISA_AVX2) {
        int64_t off = 0;
        nhwc_direct_args a = {src, K, 1, &off, &w, K, NHWC_LDW(N), N, b, z, y, act, lo, hi, prefetch};
        if (j->isa == GEMM_ISA_AVX512) nhwc_direct_f32__avx512(&a, pixels);
        else nhwc_direct_f32__avx2(&a, pixels);
        return;
    }
#endif
    (void)prefetch;
    pointwise_c(src, pixels, K, N, w, b, z, y, act, lo, hi);
}

/* Makes the expanded input rows that depthwise row oh of image img reads (those not in the ring
 * yet), and while at it the rows after them up to the ring's size and the band's last window,
 * several rows a call (one 14-wide row fills the pixel tiles poorly). Rows are asked for in
 * increasing order within an image and a window spans less than half the ring, so a row is
 * overwritten only once no later window needs it. */
static void expand_rows(const dwpw_job *j, int64_t img, int64_t oh, float *ring, ring_state *rs)
{
    const dwpw_shape *s = j->s;
    int64_t lo = oh * s->sh - s->ph, hi = lo + (s->kh - 1) * s->dh;
    if (lo < 0) lo = 0;
    if (hi > s->H - 1) hi = s->H - 1;
    if (rs->img != img) rs->img = img, rs->next = 0;
    if (rs->next > hi) return;
    /* the band's last window in this image: rows past it are not made */
    int64_t last_oh = rs->band_end - 1 - img * s->Ho < s->Ho - 1 ? rs->band_end - 1 - img * s->Ho : s->Ho - 1;
    int64_t end = last_oh * s->sh - s->ph + (s->kh - 1) * s->dh, start = rs->next > lo ? rs->next : lo;
    if (end > lo + j->ring - 1) end = lo + j->ring - 1;
    if (end > s->H - 1) end = s->H - 1;
    if (end < hi) end = hi;
    if (s->ekh != 1 || s->ekw != 1 || s->esh != 1 || s->esw != 1 || s->eph != 0 || s->epw != 0) {
        /* a stem: each row from a window of X's rows, by the direct conv row */
        nhwc_conv_row c = {j->x + img * s->Hx * s->Wx * s->Cin, s->Hx, s->Wx, s->Cin, s->ekh, s->ekw, s->esh, s->esw,
                           1, 1, s->eph, s->epw, s->W, s->C, j->we, j->be, j->ex_act, j->ex_lo, j->ex_hi, j->isa};
        for (int64_t r = start; r <= end; r++) nhwc_conv_row_run(&c, r, NULL, ring + (r % j->ring) * s->W * s->C);
        rs->next = end + 1;
        return;
    }
    while (start <= end) { /* runs of consecutive ring slots */
        int64_t slot = start % j->ring, rows = end - start + 1 < j->ring - slot ? end - start + 1 : j->ring - slot;
        pointwise(j, j->x + (img * s->H + start) * s->W * s->Cin, rows * s->W, s->Cin, s->C, j->we, j->be, NULL,
                  ring + slot * s->W * s->C, j->ex_act, j->ex_lo, j->ex_hi, j->ex_prefetch);
        start += rows;
    }
    rs->next = end + 1;
}

/* Output rows r0 .. r0+nr (global row index image*Ho + oh): depthwise rows into the group
 * buffer, then one projection over their nr*Wo pixels (consecutive rows are consecutive in Y
 * and the buffer). ring: the thread's expanded rows (NULL without an expand). */
static void do_group(const dwpw_job *j, int64_t r0, int64_t nr, float *ring, ring_state *rs, float *buf)
{
    const dwpw_shape *s = j->s;
    int64_t C = s->C, M = s->M, pixels = nr * s->Wo;
    const float *z = j->z ? j->z + r0 * s->Wo * M : NULL;
    for (int64_t r = 0; r < nr; r++) {
        int64_t t = r0 + r, img = t / s->Ho, oh = t % s->Ho;
        if (ring) expand_rows(j, img, oh, ring, rs);
#if defined(__x86_64__)
        if (j->isa == GEMM_ISA_AVX512 || j->isa == GEMM_ISA_AVX2) {
            dwnhwc_row_args a = {ring ? ring : j->x + img * s->H * s->W * C, s->H, s->W, C, s->Wo, oh, s->kh, s->kw,
                                 s->sh, s->sw, s->dh, s->dw, s->ph, s->pw, j->wd, NHWC_LDW(C), j->bd, NULL,
                                 buf + r * s->Wo * C, j->dw_act, j->dw_lo, j->dw_hi, j->dw_prefetch,
                                 ring ? j->ring : 0};
            if (j->isa == GEMM_ISA_AVX512) dwnhwc_f32_row__avx512(&a);
            else dwnhwc_f32_row__avx2(&a);
            continue;
        }
#endif
        dw_row_c(j, t, ring, buf + r * s->Wo * C);
    }
    pointwise(j, buf, pixels, C, M, j->wp, j->bp, z, j->y + r0 * s->Wo * M, j->pw_act, j->pw_lo, j->pw_hi,
              j->pw_prefetch);
}

static void band_task(void *arg, int64_t t, int thread_index)
{
    const dwpw_job *j = arg;
    int64_t rows = j->s->N * j->s->Ho, r1 = (t + 1) * j->band < rows ? (t + 1) * j->band : rows;
    float *scratch = j->scratch + (int64_t)thread_index * j->scratch_floats;
    int64_t ring_floats = j->we ? j->ring * j->s->W * j->s->C : 0;
    ring_state rs = {-1, 0, r1}; /* a band starts with an empty ring */
    for (int64_t r = t * j->band; r < r1; r += j->group)
        do_group(j, r, r1 - r < j->group ? r1 - r : j->group, j->we ? scratch : NULL, &rs, scratch + ring_floats);
}

static strata_status run(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                         strata_tensor *const *out, const kernel_ctx *ctx)
{
    strata_tensor *y = out[0];
    dwpw_shape s;
    if (n->n_inputs < 4 || !in[0] || !in[1] || !in[3] || !shape_of(n, in, &s))
        return op_error(n, STRATA_INVALID_ARGUMENT, "inputs or attributes this kernel cannot run");
    const strata_tensor *bd = opt_in(n, in, 2), *bp = opt_in(n, in, 4), *z = residual_of(n, in);
    const strata_tensor *we = expand_weights(n, in), *be = we ? unpacked_in(n, in, 7) : NULL;
    if (y->rank != 4 || y->dims[0] != s.N || y->dims[1] != s.Ho || y->dims[2] != s.Wo || y->dims[3] != s.M)
        return op_error(n, STRATA_INTERNAL, "output shape does not match the geometry");
    if (!vec_ok(bd, s.C) || !vec_ok(bp, s.M) || !vec_ok(be, s.C))
        return op_error(n, STRATA_INVALID_ARGUMENT, "biases must be [C] and [M]");
    if (z && !fast_same_dims(z, y)) return op_error(n, STRATA_INVALID_ARGUMENT, "the residual must have the output's shape");
    int dw_act = act_kind(n, "dw_activation"), pw_act = act_kind(n, "pw_activation"), ex_act = act_kind(n, "ex_activation");
    if (dw_act < 0 || pw_act < 0 || ex_act < 0) return op_error(n, STRATA_UNSUPPORTED, "activations other than Relu and Clip");
    int64_t rows = s.N * s.Ho;
    if (rows <= 0 || s.Wo <= 0) return STRATA_OK;
    int64_t taps = s.kh * s.kw;
    const void *packed = fast_packed_input(n, in);
    const float *w = NULL;
    float *wt = NULL;
    if (packed) {
        if (!(w = packed_check(n, in, packed, &s))) return STRATA_INVALID_ARGUMENT;
    } else {
        if (!in[1]->data || !in[3]->data || (we && !we->data))
            return op_error(n, STRATA_INVALID_ARGUMENT, "weights have neither values nor a packed form");
        wt = mem_alloc(packed_floats(&s) * sizeof(float));
        if (!wt) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory packing weights");
        pack_into(in[1]->data, in[3]->data, we ? we->data : NULL, &s, wt);
        w = wt;
    }
    int64_t threads = thread_pool_size(ctx->pool);
    const float *wp = w + taps * NHWC_LDW(s.C);
    dwpw_job j = {&s, in[0]->data, w, bd ? bd->data : NULL, wp, bp ? bp->data : NULL, z ? z->data : NULL,
                  s.Cin ? wp + s.C * NHWC_LDW(s.M) : NULL, be ? be->data : NULL, y->data, NULL,
                  dw_act, pw_act, ex_act,
                  op_attr_float(n, "dw_activation_min", -INFINITY), op_attr_float(n, "dw_activation_max", INFINITY),
                  op_attr_float(n, "pw_activation_min", -INFINITY), op_attr_float(n, "pw_activation_max", INFINITY),
                  op_attr_float(n, "ex_activation_min", -INFINITY), op_attr_float(n, "ex_activation_max", INFINITY),
                  k->gemm, 0, 0, 0, 1, 1, 0, 2 * ((s.kh - 1) * s.dh + 1)};
    /* Groups of depthwise rows up to the scratch budget: more pixels per projection call fill
     * the tiles better on the 7- and 14-wide layers. */
    int64_t row_floats = s.Wo * s.C;
    j.group = (int64_t)(DWPW_SCRATCH_BYTES / sizeof(float)) / row_floats;
    if (j.group < 1) j.group = 1;
    /* bands: one per thread at least, up to 4 (dynamic hand-out evens out a busy core), whole
     * groups; with an expand each band remakes the rows its first window shares with the band
     * above, so short bands are avoided */
    int64_t want = threads <= 1 ? 1 : threads * 4;
    if (s.Cin && want > threads && rows / want < 16) want = threads;
    if (want > rows) want = rows;
    j.band = (rows + want - 1) / want;
    int64_t n_groups = (j.band + j.group - 1) / j.group; /* even groups: a short last one costs a tile pass */
    j.group = (j.band + n_groups - 1) / n_groups;
    int64_t ring_floats = s.Cin ? j.ring * s.W * s.C : 0;
    j.scratch_floats = (ring_floats + j.group * row_floats + 15) / 16 * 16;
    /* As in the unfused kernels: activations past 8 MiB come from memory (the ring does not). */
    j.dw_prefetch = !s.Cin && s.N * s.H * s.W * s.C * (int64_t)sizeof(float) > ((int64_t)8 << 20);
    j.pw_prefetch = s.N * s.Ho * s.Wo * s.M * (int64_t)sizeof(float) > ((int64_t)8 << 20) && s.M >= 24;
    j.ex_prefetch = s.Cin && s.N * s.Hx * s.Wx * s.Cin * (int64_t)sizeof(float) > ((int64_t)8 << 20);
    j.scratch = mem_alloc((size_t)(threads * j.scratch_floats) * sizeof(float));
    if (!j.scratch) {
        mem_free(wt);
        return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory for %lld threads' scratch", (long long)threads);
    }
    thread_pool_parallel_for(ctx->pool, (rows + j.band - 1) / j.band, band_task, &j);
    mem_free(j.scratch);
    mem_free(wt);
    return STRATA_OK;
}

const fast_kernel fast_conv_dwpw_kernels[] = {
    {"conv_nhwc_f32_dwpw__avx512", "FusedDwPw", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 50, supports, run, packed_size, pack, NULL},
    {"conv_nhwc_f32_dwpw__avx2", "FusedDwPw", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 45, supports, run, packed_size, pack, NULL},
    {"conv_nhwc_f32_dwpw__scalar", "FusedDwPw", "com.strata", 0, GEMM_ISA_SCALAR, 32, supports, run, packed_size, pack, NULL},
};
const size_t fast_conv_dwpw_count = ARRAY_LEN(fast_conv_dwpw_kernels);
