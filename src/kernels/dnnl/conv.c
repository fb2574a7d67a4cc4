/* kernels/dnnl/conv.c — oneDNN's convolution_forward primitive (fp32 and bf16) as tactics for Conv
 * and com.strata FusedConv, NCHW and NHWC, with the bias as the conv bias, the residual as a sum
 * post-op (dst prefilled with it) and the activation as an eltwise post-op.
 *
 * Layouts: oneDNN's fast implementations (brgconv, jit) read channels-last or channel-blocked
 * data; a plain NCHW src/dst sends it to a slow gemm-based one. So the NCHW rows reorder the
 * input to nChw16c (nchw kept when C < 16: the "first conv" path reads it), run blocked and
 * reorder the result back; the NHWC rows run in place on the node's tensors. bf16 rows convert
 * the activations with the same reorder (into scratch) and the weights at pack time; the output
 * stays f32. Weights are packed at compile time into the format the primitive prefers, behind a
 * header holding that format's dnnl_memory_desc_t (plain struct in oneDNN 2.6), so a run builds
 * its primitive for the actual batch with exactly that weights format; where an optimized
 * implementation no longer takes it (the preferred format can change with the thread count),
 * the run reorders the packed weights into scratch rather than fall to oneDNN's reference conv. */
#include <string.h>

#include "dnnl_common.h"
#include "kernels/ref/ref_nn.h"

/* ---- what a row runs ------------------------------------------------------------------------ */

static bool row_bf16(const fast_kernel *k)
{
    return fast_kernel_is_bf16(k);
}

static bool row_nhwc(const fast_kernel *k)
{
    return strstr(k->name, "_nhwc_") != NULL;
}

static bool is_conv(const op_node *n)
{
    return (strcmp(n->op_type, "Conv") == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, "FusedConv") == 0 && strcmp(n->domain, "com.strata") == 0);
}

static bool node_nhwc(const op_node *n)
{
    return strcmp(op_attr_string(n, "layout", "NCHW"), "NHWC") == 0;
}

/* The node's activation as a oneDNN eltwise post-op; false for one it does not name. */
static bool act_of(const op_node *n, int32_t *alg, float *alpha, float *beta)
{
    fast_act a;
    if (!fast_activation(n, &a)) return false;
    const char *name = op_attr_string(n, "activation", "");
    *alg = 0, *alpha = 0.0f, *beta = 0.0f;
    if (!name[0]) return true;
    if (strcmp(name, "Relu") == 0) *alg = dnnl_eltwise_relu;
    else if (strcmp(name, "LeakyRelu") == 0) *alg = dnnl_eltwise_relu, *alpha = a.alpha;
    else if (strcmp(name, "Clip") == 0) *alg = dnnl_eltwise_clip_v2, *alpha = a.act_min, *beta = a.act_max;
    else if (strcmp(name, "Sigmoid") == 0) *alg = dnnl_eltwise_logistic;
    else if (strcmp(name, "Tanh") == 0) *alg = dnnl_eltwise_tanh;
    else if (strcmp(name, "Gelu") == 0) *alg = dnnl_eltwise_gelu_erf;
    else if (strcmp(name, "Silu") == 0) *alg = dnnl_eltwise_swish, *alpha = 1.0f;
    else return false;
    return true;
}

static bool supports(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    if (!is_conv(n) || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (in[0]->rank != 4 || in[1]->rank != 4 || node_nhwc(n) != row_nhwc(k)) return false;
    if (row_nhwc(k) && strcmp(n->domain, "com.strata") != 0) return false;
    if (n->n_inputs > 2 && in[2] && (!fast_f32(in[2]) || in[2]->rank != 1)) return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    int64_t g = op_attr_int(n, "group", 1), C = in[0]->dims[row_nhwc(k) ? 3 : 1];
    const int64_t *w = in[1]->dims;
    if (g < 1 || C <= 0 || C % g || w[0] <= 0 || w[0] % g || w[1] * g != C || w[2] <= 0 || w[3] <= 0) return false;
    int32_t alg;
    float alpha, beta;
    return act_of(n, &alg, &alpha, &beta);
}

static bool supports_f32(const op_node *n, const strata_tensor *const *in);
static bool supports_f32_first(const op_node *n, const strata_tensor *const *in);
static bool supports_nhwc_f32(const op_node *n, const strata_tensor *const *in);
static bool supports_bf16(const op_node *n, const strata_tensor *const *in);
static bool supports_nhwc_bf16(const op_node *n, const strata_tensor *const *in);

/* ---- geometry and the primitive's key --------------------------------------------------------- */

/* Everything a primitive depends on; zeroed before filling so the bytes are the key. */
typedef struct conv_key {
    char what[8];                   /* "conv" */
    int64_t N, C, H, W, M, kh, kw, groups;
    int64_t s[2], d[2], pb[2], pe[2], Ho, Wo;
    int32_t bf16, nhwc, bias, sum;  /* sum: residual as a sum post-op (dst prefilled) */
    int32_t act, threads, packed, reserved;
    float alpha, beta;
    dnnl_memory_desc_t wmd;         /* the packed weights' format when packed, else zero */
} conv_key;

/* Fills the sizes of k from the node (batch from in[0], or 1 when unknown). */
static strata_status key_geometry(const op_node *n, const strata_tensor *const *in, bool nhwc, conv_key *k)
{
    const strata_tensor *x = in[0], *w = in[1];
    k->N = x->dims[0] > 0 ? x->dims[0] : 1;
    k->C = x->dims[nhwc ? 3 : 1];
    k->H = x->dims[nhwc ? 1 : 2];
    k->W = x->dims[nhwc ? 2 : 3];
    k->M = w->dims[0], k->kh = w->dims[2], k->kw = w->dims[3];
    k->groups = op_attr_int(n, "group", 1);
    if (k->H <= 0 || k->W <= 0 || k->C <= 0 || k->groups < 1 || k->C % k->groups || k->M % k->groups ||
        w->dims[1] * k->groups != k->C)
        return op_error(n, STRATA_INVALID_ARGUMENT, "conv input [%lld channels, %lld x %lld] does not fit weights [%lld, %lld, %lld, %lld] with %lld groups",
                        (long long)k->C, (long long)k->H, (long long)k->W, (long long)w->dims[0], (long long)w->dims[1],
                        (long long)w->dims[2], (long long)w->dims[3], (long long)k->groups);
    int64_t sp[2] = {k->H, k->W};
    nn_window win;
    strata_status st = nn_util_window(n, 2, sp, &w->dims[2], false, &win);
    if (st != STRATA_OK) return st;
    for (int i = 0; i < 2; i++) k->s[i] = win.s[i], k->d[i] = win.d[i], k->pb[i] = win.pb[i], k->pe[i] = win.pe[i];
    k->Ho = win.out[0], k->Wo = win.out[1];
    if (k->Ho <= 0 || k->Wo <= 0) return op_error(n, STRATA_INVALID_ARGUMENT, "conv output would be %lld x %lld", (long long)k->Ho, (long long)k->Wo);
    return STRATA_OK;
}

static dnnl_status_t md_4d(dnnl_memory_desc_t *md, int64_t a, int64_t b, int64_t c, int64_t d, dnnl_data_type_t dt,
                           dnnl_format_tag_t tag)
{
    dnnl_dims_t dims = {a, b, c, d};
    memset(md, 0, sizeof *md);
    return dnnl_memory_desc_init_by_tag(md, 4, dims, dt, tag);
}

/* The weights as the node holds them (f32 OIHW, as goihw when grouped). */
static dnnl_status_t user_weights_md(const conv_key *k, dnnl_memory_desc_t *md, dnnl_data_type_t dt, dnnl_format_tag_t any)
{
    memset(md, 0, sizeof *md);
    if (k->groups == 1) return md_4d(md, k->M, k->C, k->kh, k->kw, dt, any ? any : dnnl_oihw);
    dnnl_dims_t dims = {k->groups, k->M / k->groups, k->C / k->groups, k->kh, k->kw};
    return dnnl_memory_desc_init_by_tag(md, 5, dims, dt, any ? any : dnnl_goihw);
}

/* The user's activations: f32, the node's layout. */
static dnnl_status_t user_act_md(const conv_key *k, bool dst, dnnl_memory_desc_t *md)
{
    return dst ? md_4d(md, k->N, k->M, k->Ho, k->Wo, dnnl_f32, k->nhwc ? dnnl_nhwc : dnnl_nchw)
               : md_4d(md, k->N, k->C, k->H, k->W, dnnl_f32, k->nhwc ? dnnl_nhwc : dnnl_nchw);
}

/* The primitive descriptor for key k with weights in format wei (any, plain or packed). */
static dnnl_status_t conv_pd(const conv_key *k, const dnnl_memory_desc_t *wei_in, dnnl_primitive_desc_t *out)
{
    dnnl_data_type_t dt = k->bf16 ? dnnl_bf16 : dnnl_f32;
    dnnl_format_tag_t src_tag = k->nhwc ? dnnl_nhwc : k->C < 16 ? dnnl_nchw : dnnl_nChw16c;
    dnnl_format_tag_t dst_tag = k->nhwc ? dnnl_nhwc : dnnl_nChw16c;
    dnnl_memory_desc_t src, dst, wei, bias;
    dnnl_status_t s;
    if ((s = md_4d(&src, k->N, k->C, k->H, k->W, dt, src_tag)) != dnnl_success) return s;
    if ((s = md_4d(&dst, k->N, k->M, k->Ho, k->Wo, dnnl_f32, dst_tag)) != dnnl_success) return s;
    if (wei_in) wei = *wei_in;
    else if ((s = user_weights_md(k, &wei, dt, dnnl_format_tag_any)) != dnnl_success) return s;
    dnnl_dims_t bd = {k->M};
    memset(&bias, 0, sizeof bias);
    if (k->bias && (s = dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x)) != dnnl_success) return s;
    dnnl_dims_t strides = {k->s[0], k->s[1]}, dil = {k->d[0] - 1, k->d[1] - 1}, pl = {k->pb[0], k->pb[1]},
                pr = {k->pe[0], k->pe[1]};
    dnnl_convolution_desc_t cd;
    s = dnnl_dilated_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei,
                                                   k->bias ? &bias : NULL, &dst, strides, dil, pl, pr);
    if (s != dnnl_success) return s;
    dnnl_primitive_attr_t pattr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    if ((s = dnnl_primitive_attr_create(&pattr)) != dnnl_success) return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(pattr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && (k->sum || k->act)) {
        s = dnnl_post_ops_create(&po);
        if (s == dnnl_success && k->sum) s = dnnl_post_ops_append_sum(po, 1.0f);
        if (s == dnnl_success && k->act) s = dnnl_post_ops_append_eltwise(po, 1.0f, (dnnl_alg_kind_t)k->act, k->alpha, k->beta);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(pattr, po);
    }
    if (s == dnnl_success) s = dnnl_primitive_desc_create(&pd, &cd, pattr, dnnl_engine(), NULL);
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(pattr);
    *out = pd;
    return s;
}

static bool is_reference_impl(const_dnnl_primitive_desc_t pd)
{
    const char *impl = NULL;
    return dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl && strncmp(impl, "ref", 3) == 0;
}

/* With packed weights, the packed format when an optimized implementation takes it; else (the
 * format the primitive prefers changed, e.g. with the thread count) weights "any", and run
 * reorders the packed weights into it: never oneDNN's reference convolution for that. */
static dnnl_status_t make_conv(const void *arg, dnnl_primitive_t *out)
{
    const conv_key *k = arg;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = conv_pd(k, k->packed ? &k->wmd : NULL, &pd);
    if (k->packed && (s != dnnl_success || is_reference_impl(pd))) {
        if (pd) dnnl_primitive_desc_destroy(pd);
        pd = NULL;
        s = conv_pd(k, NULL, &pd);
    }
    if (s == dnnl_success) s = dnnl_primitive_create(out, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return s;
}

/* ---- reorders (layout and f32 -> bf16), cached like the convs ---------------------------------- */

typedef struct reorder_key {
    char what[8]; /* "reorder" */
    int32_t threads, reserved;
    dnnl_memory_desc_t from, to;
} reorder_key;

static dnnl_status_t make_reorder(const void *arg, dnnl_primitive_t *out)
{
    const reorder_key *k = arg;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, &k->from, dnnl_engine(), &k->to, dnnl_engine(), NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(out, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    return s;
}

static strata_status reorder(const dnnl_memory_desc_t *from, const void *src, const dnnl_memory_desc_t *to, void *dst,
                             int threads, const op_node *n)
{
    reorder_key key;
    memset(&key, 0, sizeof key);
    memcpy(key.what, "reorder", 8);
    key.threads = threads;
    key.from = *from, key.to = *to;
    dnnl_primitive_t p;
    bool owned;
    strata_status st = dnnl_primitive_get(&key, sizeof key, make_reorder, &key, n, &p, &owned);
    if (st != STRATA_OK) return st;
    int args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    dnnl_memory_desc_t mds[2] = {*from, *to};
    void *ptrs[2] = {(void *)src, dst};
    st = dnnl_run(p, 2, args, mds, ptrs, n);
    if (owned) dnnl_primitive_destroy(p);
    return st;
}

/* ---- packed weights: header + the weights in the primitive's format ---------------------------- */

#define PACK_MAGIC "STRDNNLW"
#define PACK_VERSION 1u

typedef struct pack_header {
    char magic[8];
    uint32_t version;        /* PACK_VERSION */
    uint32_t md_bytes;       /* sizeof(dnnl_memory_desc_t) of the oneDNN that packed it */
    uint32_t dnnl_version;   /* major * 10000 + minor * 100 + patch */
    uint32_t reserved;
    uint64_t data_bytes;     /* dnnl_memory_desc_get_size(&md) */
    uint64_t check;          /* hash64 of the fields above and md */
    dnnl_memory_desc_t md;
} pack_header;

#define PACK_HEADER_BYTES ((sizeof(pack_header) + 63) / 64 * 64)

static uint32_t dnnl_version_number(void)
{
    const dnnl_version_t *v = dnnl_version();
    return (uint32_t)(v->major * 10000 + v->minor * 100 + v->patch);
}

static uint64_t header_check(const pack_header *h)
{
    pack_header c = *h;
    c.check = 0;
    return hash64(&c, sizeof c, 0xd2c0);
}

static int node_threads(const kernel_ctx *ctx)
{
    return ctx && ctx->n_threads > 0 ? ctx->n_threads : 1;
}

static bool const_weights(const strata_tensor *const *in)
{
    const strata_tensor *w = in[1];
    return w && w->data && w->rank == 4 && w->dtype == STRATA_DTYPE_F32;
}

/* The key of node n for row kk at the compile-time shape with weights "any" (what pack asks). */
static strata_status pack_key(const fast_kernel *kk, const op_node *n, const strata_tensor *const *in, conv_key *k)
{
    memset(k, 0, sizeof *k);
    memcpy(k->what, "conv", 5);
    k->bf16 = row_bf16(kk), k->nhwc = row_nhwc(kk);
    strata_status st = key_geometry(n, in, k->nhwc, k);
    if (st != STRATA_OK) return st;
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    k->bias = b != NULL;
    k->sum = z != NULL;
    act_of(n, &k->act, &k->alpha, &k->beta);
    k->threads = 1;
    return STRATA_OK;
}

/* The weights format the primitive wants for this node at the compile-time shape. */
static strata_status preferred_weights(const fast_kernel *kk, const op_node *n, const strata_tensor *const *in,
                                       dnnl_memory_desc_t *wmd)
{
    conv_key k;
    strata_status st = pack_key(kk, n, in, &k);
    if (st != STRATA_OK) return st;
    kernel_ctx one = {NULL, 1};
    dnnl_use_threads(&one);
    dnnl_primitive_t p;
    bool owned;
    if ((st = dnnl_primitive_get(&k, sizeof k, make_conv, &k, n, &p, &owned)) != STRATA_OK) return st;
    const_dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t ds = dnnl_primitive_get_primitive_desc(p, &pd);
    const dnnl_memory_desc_t *md = ds == dnnl_success ? dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0) : NULL;
    if (md) *wmd = *md;
    if (owned) dnnl_primitive_destroy(p);
    return md ? STRATA_OK : op_error(n, STRATA_INTERNAL, "oneDNN conv: no weights format");
}

static size_t packed_size(const fast_kernel *kk, const op_node *n, const strata_tensor *const *in)
{
    if (!const_weights(in) || !kk->supports(n, in)) return 0;
    dnnl_memory_desc_t wmd;
    if (preferred_weights(kk, n, in, &wmd) != STRATA_OK) return 0; /* not packed: run reads the plain weights */
    return PACK_HEADER_BYTES + dnnl_memory_desc_get_size(&wmd);
}

static strata_status pack(const fast_kernel *kk, const op_node *n, const strata_tensor *const *in, void *packed)
{
    if (!const_weights(in)) return op_error(n, STRATA_INTERNAL, "no constant weight to pack");
    pack_header h;
    memset(&h, 0, sizeof h);
    strata_status st = preferred_weights(kk, n, in, &h.md);
    if (st != STRATA_OK) return st;
    conv_key k;
    if ((st = pack_key(kk, n, in, &k)) != STRATA_OK) return st;
    dnnl_memory_desc_t user;
    if ((st = dnnl_check(user_weights_md(&k, &user, dnnl_f32, 0), n, "weights descriptor")) != STRATA_OK) return st;
    memcpy(h.magic, PACK_MAGIC, 8);
    h.version = PACK_VERSION;
    h.md_bytes = (uint32_t)sizeof h.md;
    h.dnnl_version = dnnl_version_number();
    h.data_bytes = dnnl_memory_desc_get_size(&h.md);
    h.check = header_check(&h);
    memset(packed, 0, PACK_HEADER_BYTES);
    memcpy(packed, &h, sizeof h);
    return reorder(&user, in[1]->data, &h.md, (char *)packed + PACK_HEADER_BYTES, 1, n);
}

/* Reads and checks the packed header (have = bytes attached): the weights format into *wmd, the
 * data after it into *data. */
static strata_status packed_weights(const op_node *n, const void *packed, size_t have, const conv_key *k,
                                    dnnl_memory_desc_t *wmd, const void **data)
{
    pack_header h;
    if (have < PACK_HEADER_BYTES)
        return op_error(n, STRATA_INVALID_ARGUMENT, "packed oneDNN weights hold %zu bytes, fewer than their header (recompile the plan)", have);
    memcpy(&h, packed, sizeof h);
    if (memcmp(h.magic, PACK_MAGIC, 8) != 0 || h.version != PACK_VERSION || h.md_bytes != sizeof h.md ||
        h.check != header_check(&h))
        return op_error(n, STRATA_INVALID_ARGUMENT, "packed oneDNN weights have a damaged or foreign header (recompile the plan)");
    if (h.dnnl_version != dnnl_version_number())
        return op_error(n, STRATA_INVALID_ARGUMENT, "packed oneDNN weights were made by oneDNN %u, this machine has %u (recompile the plan)",
                        h.dnnl_version, dnnl_version_number());
    int nd = k->groups == 1 ? 4 : 5;
    dnnl_dims_t want = {k->M, k->C, k->kh, k->kw};
    if (nd == 5) want[0] = k->groups, want[1] = k->M / k->groups, want[2] = k->C / k->groups, want[3] = k->kh, want[4] = k->kw;
    bool fits = h.md.ndims == nd && h.md.data_type == (k->bf16 ? dnnl_bf16 : dnnl_f32) &&
                memcmp(h.md.dims, want, (size_t)nd * sizeof want[0]) == 0 && h.data_bytes == dnnl_memory_desc_get_size(&h.md);
    if (!fits) return op_error(n, STRATA_INVALID_ARGUMENT, "packed oneDNN weights do not describe this node's weights (recompile the plan)");
    if (have - PACK_HEADER_BYTES < h.data_bytes)
        return op_error(n, STRATA_INVALID_ARGUMENT, "packed oneDNN weights hold %zu bytes, %zu needed (recompile the plan)", have,
                        (size_t)(PACK_HEADER_BYTES + h.data_bytes));
    *wmd = h.md;
    *data = (const char *)packed + PACK_HEADER_BYTES;
    return STRATA_OK;
}

/* ---- run ------------------------------------------------------------------------------------- */

static void *scratch(size_t bytes)
{
    return mem_alloc_aligned(bytes ? bytes : 64);
}

#define MAX_SLICES 64

/* One thread's share of a conv: a slice of the batch, its primitive and its scratch. */
typedef struct conv_slice {
    const op_node *n;
    conv_key k;                        /* N = the slice's images */
    dnnl_primitive_t p;
    bool owned;
    dnnl_memory_desc_t smd, wmd, dmd, scmd, xu, yu, bu;
    const float *x, *z;                /* the slice's input and residual (NULL: none) */
    float *y;                          /* its output */
    const void *w, *bias;
    int64_t ih0, oh0;                  /* a band's first input and output row (0 for batch slices) */
    void *xbuf, *dbuf, *sp;            /* input / output in the primitive's format, scratchpad */
    size_t sp_bytes, y_floats;
    strata_status st;
} conv_slice;

/* The geometry of output rows [oh0, oh1) of one image (key full) as a conv of its own: the input
 * rows it reads and the padding left above and below them. */
static void row_band(const conv_key *full, int64_t oh0, int64_t oh1, conv_key *k, int64_t *ih0, int64_t *oh_at)
{
    int64_t keff = (full->kh - 1) * full->d[0] + 1;
    int64_t top = oh0 * full->s[0] - full->pb[0], end = (oh1 - 1) * full->s[0] - full->pb[0] + keff;
    int64_t a = top > 0 ? top : 0, b = end < full->H ? end : full->H;
    k->H = b - a;
    k->Ho = oh1 - oh0;
    k->pb[0] = a - top;
    k->pe[0] = end - b;
    *ih0 = a;
    *oh_at = oh0;
}

/* True when every band of an even split in threads reads at least one input row. */
static bool row_bands_fit(const conv_key *full, int threads)
{
    int64_t per = (full->Ho + threads - 1) / threads;
    for (int c = 0; c < threads; c++) {
        int64_t oh0 = c * per, oh1 = (c + 1) * per < full->Ho ? (c + 1) * per : full->Ho, ih0, at;
        if (oh0 >= oh1) return false;
        conv_key k = *full;
        row_band(full, oh0, oh1, &k, &ih0, &at);
        if (k.H < 1) return false;
    }
    return true;
}

/* The node's own activation (dst: output) layout for slice k of the full tensor: dense when the
 * slice is contiguous (batch slices; NHWC row bands), else NCHW rows strided like the whole. */
static dnnl_status_t band_md(const conv_key *full, const conv_key *k, bool dst, dnnl_memory_desc_t *md)
{
    if (k->nhwc || (dst ? k->Ho == full->Ho : k->H == full->H)) return user_act_md(k, dst, md);
    int64_t c = dst ? full->M : full->C, h = dst ? full->Ho : full->H, w = dst ? full->Wo : full->W;
    dnnl_dims_t dims = {k->N, c, dst ? k->Ho : k->H, w}, strides = {c * h * w, h * w, w, 1};
    memset(md, 0, sizeof *md);
    return dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides);
}

static void run_slice(void *arg, int64_t i, int thread_index)
{
    (void)thread_index;
    conv_slice *sl = &((conv_slice *)arg)[i];
    const op_node *n = sl->n;
    kernel_ctx one = {NULL, 1};
    dnnl_use_threads(&one);
    strata_status st = STRATA_OK;
    const void *xs = sl->x;
    void *ds = sl->y;
    if (sl->xbuf) {
        st = reorder(&sl->xu, sl->x, &sl->smd, sl->xbuf, 1, n);
        xs = sl->xbuf;
    }
    if (sl->dbuf) ds = sl->dbuf;
    if (st == STRATA_OK && sl->z) { /* the residual into dst first: the sum post-op adds the conv to it */
        if (sl->dbuf) st = reorder(&sl->yu, sl->z, &sl->dmd, sl->dbuf, 1, n);
        else if (sl->z != sl->y) memcpy(sl->y, sl->z, sl->y_floats * sizeof(float));
    }
    if (st == STRATA_OK) {
        int args[5] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_BIAS, DNNL_ARG_SCRATCHPAD};
        dnnl_memory_desc_t mds[5] = {sl->smd, sl->wmd, sl->dmd, sl->bu, sl->bu};
        void *ptrs[5] = {(void *)xs, (void *)sl->w, ds, (void *)sl->bias, sl->sp};
        int n_args = sl->bias ? 4 : 3;
        if (sl->sp_bytes) { /* scratchpad after the bias, or in its place */
            args[n_args] = DNNL_ARG_SCRATCHPAD, mds[n_args] = sl->scmd, ptrs[n_args] = sl->sp;
            n_args++;
        }
        st = dnnl_run(sl->p, n_args, args, mds, ptrs, n);
    }
    if (st == STRATA_OK && sl->dbuf) st = reorder(&sl->dmd, sl->dbuf, &sl->yu, sl->y, 1, n);
    sl->st = st;
}

static strata_status run(const fast_kernel *kk, const op_node *n, const strata_tensor *const *in,
                         strata_tensor *const *out, const kernel_ctx *ctx)
{
    strata_tensor *y = out[0];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    conv_key k;
    memset(&k, 0, sizeof k);
    memcpy(k.what, "conv", 5);
    k.bf16 = row_bf16(kk), k.nhwc = row_nhwc(kk);
    if (in[0]->rank != 4 || in[1]->rank != 4 || y->rank != 4)
        return op_error(n, STRATA_INVALID_ARGUMENT, "oneDNN conv needs 4-D input, weights and output");
    strata_status st = key_geometry(n, in, k.nhwc, &k);
    if (st != STRATA_OK) return st;
    int64_t want[4] = {k.N, k.M, k.Ho, k.Wo};
    if (k.nhwc) want[1] = k.Ho, want[2] = k.Wo, want[3] = k.M;
    if (memcmp(y->dims, want, sizeof want) != 0 || in[0]->dims[0] != k.N)
        return op_error(n, STRATA_INTERNAL, "conv geometry does not match the inferred output");
    if (b && (b->rank != 1 || b->dims[0] != k.M))
        return op_error(n, STRATA_INVALID_ARGUMENT, "bias has %lld entries, %lld output channels", (long long)(b->rank ? b->dims[0] : 0), (long long)k.M);
    if (!act_of(n, &k.act, &k.alpha, &k.beta)) return op_error(n, STRATA_UNSUPPORTED, "activation '%s' is not a oneDNN post-op", op_attr_string(n, "activation", ""));
    bool z_exact = z && fast_same_dims(z, y);
    if (z && z->data == y->data && !z_exact) return fast_in_place_error(n, kk->name);
    fast_act tail_act;
    fast_activation(n, &tail_act);
    if (z && !z_exact) k.act = 0, k.alpha = k.beta = 0; /* broadcast residual: added after, then the activation */
    k.bias = b != NULL;
    k.sum = z_exact;
    k.threads = node_threads(ctx);
    const void *pk = fast_packed_input(n, in), *wdata = in[1]->data;
    if (pk) {
        size_t have = (size_t)strata_tensor_numel(in[op_attr_int(n, "packed_input", 0)]);
        if ((st = packed_weights(n, pk, have, &k, &k.wmd, &wdata)) != STRATA_OK) return st;
        k.packed = 1;
    } else if (!wdata) {
        return op_error(n, STRATA_INVALID_ARGUMENT, "weights have neither values nor a packed form");
    }
    /* oneDNN runs single-threaded: the batch is split over the session's pool, one slice of
     * images per thread (one image: bands of output rows), so oneDNN never starts an OpenMP
     * team beside our threads */
    int threads = node_threads(ctx);
    bool bands = k.N == 1 && threads > 1 && k.Ho >= 2 * threads && row_bands_fit(&k, threads);
    int n_slices = bands ? threads : (int)(k.N < threads ? k.N : threads);
    if (n_slices > MAX_SLICES) n_slices = MAX_SLICES;
    if (n_slices < 1) n_slices = 1;
    k.threads = 1;
    kernel_ctx one = {NULL, 1};
    dnnl_use_threads(&one);
    conv_slice *slices = mem_calloc((size_t)n_slices, sizeof *slices); /* ~5 KB each: not on the stack */
    if (!slices) return nn_util_oom(n);
    void *wbuf = NULL;
    const void *ws = wdata;
    int64_t per = ((bands ? k.Ho : k.N) + n_slices - 1) / n_slices;
    size_t x_img = (size_t)(k.C * k.H * k.W), y_img = (size_t)(k.M * k.Ho * k.Wo);
    for (int c = 0; c < n_slices && st == STRATA_OK; c++) {
        conv_slice *sl = &slices[c];
        int64_t n0 = c * per, nn = k.N - n0 < per ? k.N - n0 : per;
        sl->n = n;
        sl->k = k;
        if (bands) {
            n0 = 0, nn = 1;
            row_band(&k, c * per, (c + 1) * per < k.Ho ? (c + 1) * per : k.Ho, &sl->k, &sl->ih0, &sl->oh0);
        } else {
            sl->k.N = nn;
        }
        if ((st = dnnl_primitive_get(&sl->k, sizeof sl->k, make_conv, &sl->k, n, &sl->p, &sl->owned)) != STRATA_OK) break;
        const_dnnl_primitive_desc_t pd = NULL;
        if ((st = dnnl_check(dnnl_primitive_get_primitive_desc(sl->p, &pd), n, "primitive query")) != STRATA_OK) break;
        const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
        const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
        const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
        const dnnl_memory_desc_t *scmd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        dnnl_dims_t bd = {k.M};
        if (!smd || !wmd || !dmd || band_md(&k, &sl->k, false, &sl->xu) != dnnl_success ||
            band_md(&k, &sl->k, true, &sl->yu) != dnnl_success ||
            dnnl_memory_desc_init_by_tag(&sl->bu, 1, bd, dnnl_f32, dnnl_x) != dnnl_success) {
            st = op_error(n, STRATA_INTERNAL, "oneDNN conv: memory descriptors");
            break;
        }
        sl->smd = *smd, sl->wmd = *wmd, sl->dmd = *dmd;
        /* a band starts at its first row: W (NCHW) or W * C (NHWC) floats per row */
        size_t x_at = (size_t)n0 * x_img + (size_t)(sl->ih0 * k.W * (k.nhwc ? k.C : 1));
        size_t y_at = (size_t)n0 * y_img + (size_t)(sl->oh0 * k.Wo * (k.nhwc ? k.M : 1));
        sl->x = (const float *)in[0]->data + x_at;
        sl->y = (float *)y->data + y_at;
        sl->z = k.sum ? (const float *)z->data + y_at : NULL;
        sl->bias = b ? b->data : NULL;
        sl->y_floats = (size_t)(nn * sl->k.M * sl->k.Ho * sl->k.Wo); /* contiguous when dst is plain (NHWC) */
        /* the buffers the primitive reads and writes: the node's own where formats agree, else scratch */
        if (!dnnl_memory_desc_equal(smd, &sl->xu) && !(sl->xbuf = scratch(dnnl_memory_desc_get_size(smd)))) goto oom;
        if (!dnnl_memory_desc_equal(dmd, &sl->yu) && !(sl->dbuf = scratch(dnnl_memory_desc_get_size(dmd)))) goto oom;
        sl->sp_bytes = scmd ? dnnl_memory_desc_get_size(scmd) : 0;
        if (sl->sp_bytes) {
            sl->scmd = *scmd;
            if (!(sl->sp = scratch(sl->sp_bytes))) goto oom;
        }
        if (c == 0) { /* the weights in the primitive's format, once for all slices */
            dnnl_memory_desc_t wu;
            if ((st = dnnl_check(user_weights_md(&k, &wu, dnnl_f32, 0), n, "weights descriptor")) != STRATA_OK) break;
            const dnnl_memory_desc_t *wsrc = k.packed ? &k.wmd : &wu; /* the weights as they are stored */
            if (!dnnl_memory_desc_equal(wmd, wsrc)) {
                if (!(wbuf = scratch(dnnl_memory_desc_get_size(wmd)))) goto oom;
                if ((st = reorder(wsrc, wdata, wmd, wbuf, 1, n)) != STRATA_OK) {
                    if (k.packed)
                        st = op_error(n, STRATA_UNSUPPORTED, "this machine's oneDNN cannot read the plan's packed conv weights (%s; recompile the plan)",
                                      strata_last_error());
                    break;
                }
                ws = wbuf;
            }
        }
        sl->w = ws;
    }
    if (st == STRATA_OK) {
        if (n_slices == 1) run_slice(slices, 0, 0);
        else thread_pool_parallel_for(ctx->pool, n_slices, run_slice, slices);
        for (int c = 0; c < n_slices && st == STRATA_OK; c++)
            if (slices[c].st != STRATA_OK)
                st = n_slices == 1 ? slices[c].st : op_error(n, STRATA_INTERNAL, "oneDNN conv failed on a worker thread");
    }
    if (st == STRATA_OK && z && !z_exact) fast_tail(y->data, y->dims, y->rank, z, &tail_act);
    goto done;
oom:
    st = nn_util_oom(n);
done:
    for (int c = n_slices - 1; c >= 0; c--) {
        mem_free_aligned(slices[c].sp);
        mem_free_aligned(slices[c].dbuf);
        mem_free_aligned(slices[c].xbuf);
        if (slices[c].owned) dnnl_primitive_destroy(slices[c].p);
    }
    mem_free_aligned(wbuf);
    mem_free(slices);
    return st;
}

/* ---- rows ------------------------------------------------------------------------------------ */

/* The residual is the sum post-op's dst, prefilled (a copy skipped when it is the output) or
 * reordered into the blocked dst before the conv writes: safe in place with any activation
 * oneDNN fuses. */
static bool residual_in_place(const op_node *n)
{
    int32_t alg;
    float alpha, beta;
    return act_of(n, &alg, &alpha, &beta);
}

const fast_kernel fast_dnnl_conv_kernels[] = {
    {"conv_f32__dnnl", "Conv", "", 0, GEMM_ISA_AUTO, 25, supports_f32, run, packed_size, pack, residual_in_place},
    {"conv_f32__dnnl", "FusedConv", "com.strata", 0, GEMM_ISA_AUTO, 25, supports_f32, run, packed_size, pack, residual_in_place},
    {"conv_nhwc_f32__dnnl", "FusedConv", "com.strata", 0, GEMM_ISA_AUTO, 35, supports_nhwc_f32, run, packed_size, pack, residual_in_place},
    {"conv_bf16__dnnl", "Conv", "", CPU_AVX512BF16, GEMM_ISA_AUTO, 100, supports_bf16, run, packed_size, pack, NULL},
    {"conv_bf16__dnnl", "FusedConv", "com.strata", CPU_AVX512BF16, GEMM_ISA_AUTO, 100, supports_bf16, run, packed_size, pack, NULL},
    {"conv_nhwc_bf16__dnnl", "FusedConv", "com.strata", CPU_AVX512BF16, GEMM_ISA_AUTO, 100, supports_nhwc_bf16, run, packed_size, pack, NULL},
    /* the same NCHW fp32 kernel ahead of ours (priority 30) where it measured faster */
    {"conv_f32__dnnl", "Conv", "", 0, GEMM_ISA_AUTO, 45, supports_f32_first, run, packed_size, pack, residual_in_place},
    {"conv_f32__dnnl", "FusedConv", "com.strata", 0, GEMM_ISA_AUTO, 45, supports_f32_first, run, packed_size, pack, residual_in_place},
};
const size_t fast_dnnl_conv_count = ARRAY_LEN(fast_dnnl_conv_kernels);

/* supports() has no row argument: one wrapper per row kind (rows 0, 2, 3, 5 above). */
static bool supports_f32(const op_node *n, const strata_tensor *const *in)
{
    return supports(&fast_dnnl_conv_kernels[0], n, in);
}

static bool supports_nhwc_f32(const op_node *n, const strata_tensor *const *in)
{
    return supports(&fast_dnnl_conv_kernels[2], n, in);
}

static bool supports_bf16(const op_node *n, const strata_tensor *const *in)
{
    return supports(&fast_dnnl_conv_kernels[3], n, in);
}

static bool supports_nhwc_bf16(const op_node *n, const strata_tensor *const *in)
{
    return supports(&fast_dnnl_conv_kernels[5], n, in);
}

/* Where oneDNN's blocked (nChw16c) convolution beat our NCHW kernels on ResNet-50 (autotune,
 * batch 1, 1 thread, this Zen 4): outputs of 7x7 and smaller (our GEMM's 32-column tiles
 * waste a third of a 49-pixel row), strided convolutions with a window (the im2col gather), and
 * stems of at most 4 input channels. Everywhere else the row stays an autotune candidate only. */
static bool supports_f32_first(const op_node *n, const strata_tensor *const *in)
{
    if (!supports_f32(n, in) || op_attr_int(n, "group", 1) != 1) return false;
    const int64_t *x = in[0]->dims, *w = in[1]->dims;
    size_t ns = 0;
    const int64_t *st = op_attr_ints(n, "strides", &ns);
    int64_t sh = st && ns == 2 ? st[0] : 1, sw = st && ns == 2 ? st[1] : 1;
    bool strided = sh > 1 || sw > 1;
    int64_t ho = sh > 0 ? (x[2] + sh - 1) / sh : 0, wo = sw > 0 ? (x[3] + sw - 1) / sw : 0; /* about */
    bool small_map = x[2] > 0 && x[3] > 0 && ho * wo <= 64 && x[1] >= 64;
    return small_map || (strided && w[2] * w[3] > 1) || (x[1] > 0 && x[1] <= 4);
}
