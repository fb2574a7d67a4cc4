/* kernels/fast_conv_pwt.c — conv_f32_pwt: an NCHW 1x1 convolution (group 1, unpadded, any
 * stride) on a small map computed transposed, Y^T = X^T W^T: the output pixels are the GEMM's
 * rows and the output channels its columns, then a pass writes the result back as NCHW with the
 * residual and activation. Why: the plain form (C = W X, one column per pixel) tiles ResNet-50's
 * 7x7 maps as 32 + 17 columns, so a quarter of its multiply-adds are padding (layer4's 1x1
 * convs ran at 77% of the GEMM's rate); 49 rows in 14-row panels waste 2%. The weights are
 * prepacked at compile time as the GEMM's B panels (K x M). */
#include <string.h>

#include "fast_internal.h"
#include "ref/ref_nn.h"
#include "x86/cnn_x86.h"

#define PWT_MAX_PIXELS 256 /* past this the plain GEMM's columns are full anyway */
#define PWT_MAX_THREADS 64

static bool is_conv(const op_node *n)
{
    return (strcmp(n->op_type, "Conv") == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, "FusedConv") == 0 && strcmp(n->domain, "com.strata") == 0);
}

/* The output map of node n for input X (dims known): false unless a 1x1 unpadded window. */
static bool window_of(const op_node *n, const strata_tensor *x, const strata_tensor *w, nn_window *win)
{
    if (nn_util_window(n, 2, &x->dims[2], &w->dims[2], false, win) != STRATA_OK) return false;
    return win->pb[0] == 0 && win->pb[1] == 0 && win->pe[0] == 0 && win->pe[1] == 0;
}

static bool supports(const op_node *n, const strata_tensor *const *in)
{
    if (!is_conv(n) || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (strcmp(op_attr_string(n, "layout", "NCHW"), "NCHW") != 0 || op_attr_int(n, "group", 1) != 1) return false;
    const strata_tensor *x = in[0], *w = in[1];
    if (x->rank != 4 || w->rank != 4 || w->dims[2] != 1 || w->dims[3] != 1 || w->dims[0] <= 0) return false;
    if (x->dims[1] != w->dims[1] || x->dims[2] <= 0 || x->dims[3] <= 0) return false;
    if (n->n_inputs > 2 && in[2] && (!fast_f32(in[2]) || in[2]->rank != 1 || in[2]->dims[0] != w->dims[0]))
        return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    fast_act a;
    nn_window win;
    if (!fast_activation(n, &a) || !window_of(n, x, w, &win)) return false;
    return win.out[0] > 0 && win.out[1] > 0 && win.out[0] * win.out[1] <= PWT_MAX_PIXELS;
}

/* ---- packed weights: op(B) = W^T, K x M, as gemm_f32_pack_b panels ---------------------------- */

static size_t packed_size(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    (void)n;
    const strata_tensor *w = in[1];
    if (!w || !w->data || w->rank != 4 || w->dtype != STRATA_DTYPE_F32 || w->dims[0] <= 0 || w->dims[1] <= 0)
        return 0;
    return gemm_f32_packed_b_size(w->dims[1] * w->dims[2] * w->dims[3], w->dims[0], k->gemm);
}

static strata_status pack(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    const strata_tensor *w = in[1];
    if (!packed_size(k, n, in)) return op_error(n, STRATA_INTERNAL, "no constant weight to pack");
    int64_t K = w->dims[1] * w->dims[2] * w->dims[3];
    return gemm_f32_pack_b(K, w->dims[0], w->data, K, true, k->gemm, packed);
}

/* ---- run ---------------------------------------------------------------------------------- */

/* The write-back: Y[m][p] = act(T[p][m] + Z[m][p]) for channels m0..m1 of one image. */
typedef struct pwt_back {
    const float *t;        /* P x M, the GEMM's output */
    const float *z;        /* the image's residual (M x P) or NULL */
    float *y;              /* the image's output (M x P) */
    int64_t P, M;          /* pixels, channels */
    int64_t block;         /* channels per task */
    int act;               /* DW_ACT_NONE (the GEMM applied it), _RELU or _CLIP */
    float lo, hi;
    bool simd;             /* the AVX-512 write-back */
} pwt_back;

static void write_back(void *arg, int64_t task, int thread_index)
{
    (void)thread_index;
    const pwt_back *b = arg;
    int64_t m0 = task * b->block, m1 = m0 + b->block < b->M ? m0 + b->block : b->M;
#if defined(__x86_64__)
    if (b->simd) {
        transpose_back_f32__avx512(b->t, b->M, b->P, m0, m1, b->z, b->y, b->act, b->lo, b->hi);
        return;
    }
#endif
    /* 16 channels at a time: 16 contiguous reads of a row of T, 16 sequential write streams */
    for (int64_t mb = m0; mb < m1; mb += 16) {
        int64_t me = mb + 16 < m1 ? mb + 16 : m1;
        for (int64_t p = 0; p < b->P; p++) {
            const float *tr = b->t + p * b->M;
            for (int64_t m = mb; m < me; m++) {
                float v = tr[m];
                if (b->z) v += b->z[m * b->P + p];
                if (b->act == DW_ACT_RELU) v = v > 0 ? v : 0;
                else if (b->act == DW_ACT_CLIP) v = v < b->lo ? b->lo : v > b->hi ? b->hi : v;
                b->y[m * b->P + p] = v;
            }
        }
    }
}

/* dst[c][p] = x[c][oh*sh][ow*sw]: the pixels a strided 1x1 window reads, packed per channel. */
static void gather(const float *x, int64_t C, int64_t H, int64_t W, const nn_window *win, float *dst)
{
    int64_t Ho = win->out[0], Wo = win->out[1];
    for (int64_t c = 0; c < C; c++)
        for (int64_t oh = 0; oh < Ho; oh++) {
            const float *row = x + (c * H + oh * win->s[0]) * W;
            float *d = dst + (c * Ho + oh) * Wo;
            for (int64_t ow = 0; ow < Wo; ow++) d[ow] = row[ow * win->s[1]];
        }
}

static strata_status run(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                         strata_tensor *const *out, const kernel_ctx *ctx)
{
    const strata_tensor *x = in[0], *w = in[1];
    const strata_tensor *b = n->n_inputs > 2 ? in[2] : NULL, *z = n->n_inputs > 3 ? in[3] : NULL;
    strata_tensor *y = out[0];
    nn_window win;
    if (x->rank != 4 || w->rank != 4 || w->dims[2] != 1 || w->dims[3] != 1 || x->dims[1] != w->dims[1] ||
        !window_of(n, x, w, &win))
        return op_error(n, STRATA_INVALID_ARGUMENT, "conv_f32_pwt runs unpadded 1x1 convolutions only");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], M = w->dims[0];
    int64_t P = win.out[0] * win.out[1];
    if (y->rank != 4 || y->dims[0] != N || y->dims[1] != M || y->dims[2] != win.out[0] || y->dims[3] != win.out[1])
        return op_error(n, STRATA_INTERNAL, "conv geometry does not match the inferred output");
    if (b && (b->rank != 1 || b->dims[0] != M)) return op_error(n, STRATA_INVALID_ARGUMENT, "bias must be [M]");
    if (N == 0 || M == 0 || P == 0) return STRATA_OK;
    fast_act act;
    fast_activation(n, &act);
    bool z_exact = z && fast_same_dims(z, y);
    bool simple = act.gemm == GEMM_ACT_NONE || act.gemm == GEMM_ACT_RELU || act.gemm == GEMM_ACT_CLIP;
    /* the residual and the activation go into the write-back, unless something needs a pass of
     * its own (a broadcast residual, an activation the write-back does not apply after it) */
    bool tail = (z && !z_exact) || act.post != FAST_POST_NONE || (z && !simple);
    if (z && z->data == y->data && tail) return fast_in_place_error(n, k->name);

    const void *packed = fast_packed_input(n, in);
    void *own = NULL;
    if (packed) {
        size_t have = (size_t)strata_tensor_numel(in[op_attr_int(n, "packed_input", 0)]);
        if (have < gemm_f32_packed_b_size(C, M, k->gemm))
            return op_error(n, STRATA_INVALID_ARGUMENT, "packed weights hold %zu bytes, %zu needed for %lld x %lld", have,
                            gemm_f32_packed_b_size(C, M, k->gemm), (long long)C, (long long)M);
    } else {
        if (!w->data) return op_error(n, STRATA_INVALID_ARGUMENT, "weights have neither values nor a packed form");
        size_t bytes = gemm_f32_packed_b_size(C, M, k->gemm);
        if (!(own = mem_alloc_aligned(bytes))) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory packing weights");
        strata_status st = gemm_f32_pack_b(C, M, w->data, C, true, k->gemm, own);
        if (st != STRATA_OK) {
            mem_free_aligned(own);
            return st;
        }
        packed = own;
    }
    bool strided = win.s[0] != 1 || win.s[1] != 1;
    float *t = mem_alloc_aligned((size_t)(P * M) * sizeof(float));
    float *xs = strided ? mem_alloc_aligned((size_t)(C * P) * sizeof(float)) : NULL;
    if (!t || (strided && !xs)) {
        mem_free_aligned(xs);
        mem_free_aligned(t);
        mem_free_aligned(own);
        return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory for a %lld x %lld transposed output", (long long)P,
                        (long long)M);
    }
    int threads = ctx->n_threads > 0 ? ctx->n_threads : 1;
    strata_status st = STRATA_OK;
    for (int64_t img = 0; img < N && st == STRATA_OK; img++) {
        const float *xi = (const float *)x->data + img * C * H * W;
        if (strided) {
            gather(xi, C, H, W, &win, xs);
            xi = xs;
        }
        /* T (P x M) = X_img^T (P x C) * W^T (C x M) + bias, with the activation when nothing is
         * added after it */
        gemm_args a = gemm_args_make(P, M, C, xi, NULL, t);
        a.trans_a = true;
        a.lda = P;
        a.isa = k->gemm;
        if (b) a.epi.bias_kind = GEMM_BIAS_COL, a.epi.bias = b->data;
        bool act_in_gemm = !tail && !z;
        if (act_in_gemm) a.epi.act = act.gemm, a.epi.act_min = act.act_min, a.epi.act_max = act.act_max;
        st = gemm_f32_with_packed_b(&a, packed, ctx->pool);
        if (st != STRATA_OK) break;
        pwt_back back = {t, !tail && z ? (const float *)z->data + img * M * P : NULL, (float *)y->data + img * M * P,
                         P, M, 0,
                         act_in_gemm || tail                ? DW_ACT_NONE
                         : act.gemm == GEMM_ACT_RELU        ? DW_ACT_RELU
                         : act.gemm == GEMM_ACT_CLIP        ? DW_ACT_CLIP
                                                            : DW_ACT_NONE,
                         act.act_min, act.act_max, k->gemm == GEMM_ISA_AVX512};
        int64_t tasks = threads > PWT_MAX_THREADS ? PWT_MAX_THREADS : threads;
        back.block = (M + tasks - 1) / tasks;
        back.block = (back.block + 15) / 16 * 16;
        thread_pool_parallel_for(ctx->pool, (M + back.block - 1) / back.block, write_back, &back);
    }
    mem_free_aligned(xs);
    mem_free_aligned(t);
    mem_free_aligned(own);
    if (st == STRATA_OK && tail) fast_tail(y->data, y->dims, y->rank, z, &act);
    return st;
}

/* The write-back reads each residual element just before it writes the same output element. */
static bool residual_in_place(const op_node *n)
{
    return fast_residual_in_simple_epilogue(n);
}

const fast_kernel fast_conv_pwt_kernels[] = {
    {"conv_f32_pwt__avx512", "FusedConv", "com.strata", CPU_AVX512, GEMM_ISA_AVX512, 28, supports, run, packed_size, pack, residual_in_place},
    {"conv_f32_pwt__avx2", "FusedConv", "com.strata", CPU_AVX2, GEMM_ISA_AVX2, 18, supports, run, packed_size, pack, residual_in_place},
    {"conv_f32_pwt__avx512", "Conv", "", CPU_AVX512, GEMM_ISA_AVX512, 28, supports, run, packed_size, pack, residual_in_place},
    {"conv_f32_pwt__avx2", "Conv", "", CPU_AVX2, GEMM_ISA_AVX2, 18, supports, run, packed_size, pack, residual_in_place},
};
const size_t fast_conv_pwt_count = ARRAY_LEN(fast_conv_pwt_kernels);
