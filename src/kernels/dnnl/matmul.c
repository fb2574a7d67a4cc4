/* kernels/dnnl/matmul.c — oneDNN's matmul primitive (fp32, and bf16 with f32 output) as tactics
 * for Gemm / MatMul and their com.strata fused forms, with weights prepacked in the primitive's
 * preferred layout and bias, C, residual and activation as post-ops. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bf16_convert.h"
#include "dnnl_common.h"

static bool op_is(const op_node *n, const char *onnx, const char *fused)
{
    return (strcmp(n->op_type, onnx) == 0 && n->domain[0] == 0) ||
           (strcmp(n->op_type, fused) == 0 && strcmp(n->domain, "com.strata") == 0);
}

static bool is_bf16_row(const fast_kernel *k)
{
    return fast_kernel_is_bf16(k);
}

/* Input i of n, or NULL when absent or when it is the packed blob. */
static const strata_tensor *input(const op_node *n, const strata_tensor *const *in, size_t i)
{
    if (i >= n->n_inputs || (int64_t)i == op_attr_int(n, "packed_input", -1)) return NULL;
    return in[i];
}

/* ---- the problem: everything a primitive depends on; it is also the primitive-cache key ------ */

enum { Z_NONE = 0, Z_FULL = 1, Z_ROW = 2, Z_SCALAR = 3 }; /* residual as [M,N], [1,N], [1,1] */

typedef struct mm_desc {
    char tag[8];             /* "dnnl_mm": keys of other primitives never match */
    int64_t M, K, N;         /* the 2-D problem (a batch folded into M), or one chunk of it */
    int64_t lda, ldb, ldc;   /* row strides of A (of A^T when ta), plain B (B^T when tb), Y and Z */
    int32_t bf16;            /* bf16 src and weights, f32 dst */
    int32_t ta, tb;          /* A stored [K,M], B stored [N,K] */
    int32_t w_kind;          /* 0 plain B, 1 format any (to pick the packed layout), 2 packed wmd */
    int32_t bias;            /* a [N] bias argument */
    int32_t sum;             /* dst += sum_scale * (dst before the call) (a prefilled C) */
    int32_t z_kind;          /* residual added by a binary post-op (Z_*) */
    int32_t act_alg;         /* eltwise post-op algorithm, 0: none */
    float alpha, sum_scale, act_a, act_b;
    dnnl_memory_desc_t wmd;  /* the packed weights' layout (w_kind 2), else zero */
} mm_desc;

/* An r x c matrix with row stride ld (trans: stored transposed, column stride ld). */
static dnnl_memory_desc_t md_2d(int64_t r, int64_t c, dnnl_data_type_t dt, bool trans, int64_t ld)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {r, c}, strides = {trans ? 1 : ld, trans ? ld : 1};
    if (dnnl_memory_desc_init_by_strides(&md, 2, dims, dt, strides) != dnnl_success) memset(&md, 0, sizeof md);
    return md;
}

static dnnl_memory_desc_t src_md(const mm_desc *d)
{
    return md_2d(d->M, d->K, d->bf16 ? dnnl_bf16 : dnnl_f32, d->ta, d->lda);
}

static dnnl_memory_desc_t plain_weights_md(const mm_desc *d, dnnl_data_type_t dt)
{
    return md_2d(d->K, d->N, dt, d->tb, d->ldb);
}

static dnnl_memory_desc_t weights_md(const mm_desc *d)
{
    if (d->w_kind == 2) return d->wmd;
    dnnl_data_type_t dt = d->bf16 ? dnnl_bf16 : dnnl_f32;
    if (d->w_kind == 0) return plain_weights_md(d, dt);
    dnnl_memory_desc_t md;
    dnnl_dims_t dims = {d->K, d->N};
    if (dnnl_memory_desc_init_by_tag(&md, 2, dims, dt, dnnl_format_tag_any) != dnnl_success) memset(&md, 0, sizeof md);
    return md;
}

static dnnl_memory_desc_t dst_md(const mm_desc *d)
{
    return md_2d(d->M, d->N, dnnl_f32, false, d->ldc);
}

static dnnl_memory_desc_t bias_md(const mm_desc *d)
{
    return md_2d(1, d->N, dnnl_f32, false, d->N);
}

static dnnl_memory_desc_t z_md(const mm_desc *d)
{
    if (d->z_kind == Z_FULL) return dst_md(d);
    return md_2d(1, d->z_kind == Z_SCALAR ? 1 : d->N, dnnl_f32, false, d->N);
}

/* The primitive descriptor for d (caller destroys it). */
static dnnl_status_t make_pd(const mm_desc *d, dnnl_primitive_desc_t *pd)
{
    *pd = NULL;
    dnnl_engine_t eng = dnnl_engine();
    if (!eng) return dnnl_runtime_error;
    dnnl_memory_desc_t src = src_md(d), wei = weights_md(d), dst = dst_md(d), bias = bias_md(d), zmd = z_md(d);
    dnnl_matmul_desc_t md;
    dnnl_status_t s = dnnl_matmul_desc_init(&md, &src, &wei, d->bias ? &bias : NULL, &dst);
    if (s != dnnl_success) return s;
    dnnl_primitive_attr_t pa = NULL;
    dnnl_post_ops_t po = NULL;
    if ((s = dnnl_primitive_attr_create(&pa)) != dnnl_success) return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(pa, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && d->alpha != 1.0f) s = dnnl_primitive_attr_set_output_scales(pa, 1, 0, &d->alpha);
    if (s == dnnl_success) s = dnnl_post_ops_create(&po);
    if (s == dnnl_success && d->sum) s = dnnl_post_ops_append_sum(po, d->sum_scale);
    if (s == dnnl_success && d->z_kind) s = dnnl_post_ops_append_binary(po, dnnl_binary_add, &zmd);
    if (s == dnnl_success && d->act_alg)
        s = dnnl_post_ops_append_eltwise(po, 1.0f, (dnnl_alg_kind_t)d->act_alg, d->act_a, d->act_b);
    if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(pa, po);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &md, pa, eng, NULL);
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(pa);
    return s;
}

static dnnl_status_t make_primitive(const void *arg, dnnl_primitive_t *out)
{
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = make_pd(arg, &pd);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* The node's activation as an eltwise post-op (d->act_alg 0: none). */
static void set_activation(const fast_act *a, mm_desc *d)
{
    d->act_alg = 0, d->act_a = 0.0f, d->act_b = 0.0f;
    switch (a->gemm) {
    case GEMM_ACT_RELU: d->act_alg = dnnl_eltwise_relu; break;
    case GEMM_ACT_CLIP: d->act_alg = dnnl_eltwise_clip, d->act_a = a->act_min, d->act_b = a->act_max; break;
    case GEMM_ACT_SIGMOID: d->act_alg = dnnl_eltwise_logistic; break;
    case GEMM_ACT_GELU: d->act_alg = dnnl_eltwise_gelu_erf; break;
    case GEMM_ACT_SILU: d->act_alg = dnnl_eltwise_swish, d->act_a = 1.0f; break;
    default: break;
    }
    if (a->post == FAST_POST_LEAKY) d->act_alg = dnnl_eltwise_relu, d->act_a = a->alpha;
    if (a->post == FAST_POST_TANH) d->act_alg = dnnl_eltwise_tanh;
}

/* The problem of node n from its inputs' dims (no data read): M, K, N, transposes, alpha, the
 * plan for C / bias / residual / activation. *col_bias_c: Gemm's C is a [N] row used as the bias
 * (scaled by beta when beta != 1). *z_tail: the residual and activation go to a pass after. */
typedef struct mm_plan {
    mm_desc d;
    const strata_tensor *A, *B, *bias, *C, *Z;
    float beta;
    bool c_as_bias, c_prefill, z_tail;
    fast_act act;
} mm_plan;

static bool plan_node(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, mm_plan *p)
{
    memset(p, 0, sizeof *p);
    memcpy(p->d.tag, "dnnl_mm", 8);
    bool gemm = op_is(n, "Gemm", "FusedGemm");
    p->A = in[0], p->B = in[1];
    if (!p->A || !p->B) return false;
    const strata_tensor *A = p->A, *B = p->B;
    p->d.ta = gemm && op_attr_int(n, "transA", 0) != 0;
    p->d.tb = (gemm || strcmp(n->op_type, "FusedMatMul") == 0) && op_attr_int(n, "transB", 0) != 0;
    p->d.alpha = gemm ? op_attr_float(n, "alpha", 1.0f) : 1.0f;
    p->beta = gemm ? op_attr_float(n, "beta", 1.0f) : 1.0f;
    p->d.bf16 = is_bf16_row(k);
    if (B->rank != 2 || A->rank < 2 || (gemm && A->rank != 2)) return false;
    p->d.K = p->d.tb ? B->dims[1] : B->dims[0];
    p->d.N = p->d.tb ? B->dims[0] : B->dims[1];
    int64_t ka = p->d.ta ? A->dims[0] : A->dims[A->rank - 1];
    if (ka != p->d.K) return false;
    p->d.M = p->d.ta ? A->dims[1] : shape_numel(A->rank - 1, A->dims); /* batch folded into M */
    p->d.lda = p->d.ta ? p->d.M : p->d.K;
    p->d.ldb = p->d.tb ? p->d.K : p->d.N;
    p->d.ldc = p->d.N;
    if (gemm) {
        p->C = p->beta != 0.0f ? input(n, in, 2) : NULL;
    } else if (strcmp(n->op_type, "FusedMatMul") == 0) {
        p->bias = input(n, in, 2);
    }
    if (strcmp(n->domain, "com.strata") == 0) p->Z = input(n, in, 3);
    if (!fast_activation(n, &p->act)) return false;
    if (p->C) {
        int64_t cn = shape_numel(p->C->rank, p->C->dims);
        bool row = p->C->rank == 1 || (p->C->rank == 2 && p->C->dims[0] == 1);
        if (row && cn == p->d.N && p->C->dims[p->C->rank - 1] == p->d.N && p->d.alpha == 1.0f) {
            p->c_as_bias = true; /* output scales and bias order is left out of the question */
            p->d.bias = 1;
        } else {
            p->c_prefill = true;
            p->d.sum = 1;
            p->d.sum_scale = p->beta;
        }
    }
    if (p->bias) p->d.bias = 1;
    if (p->Z) {
        const strata_tensor *Z = p->Z;
        int64_t zn = shape_numel(Z->rank, Z->dims);
        int ry = gemm ? 2 : A->rank;
        bool full = Z->rank == ry && zn == p->d.M * p->d.N && Z->dims[Z->rank - 1] == p->d.N;
        if (full && !gemm) /* same dims as the output: A's batch and rows, then N */
            for (int i = 0; i < ry - 1; i++) full = full && Z->dims[i] == A->dims[i];
        if (full && gemm) full = Z->dims[0] == p->d.M;
        if (full) p->d.z_kind = Z_FULL;
        else if (zn == 1) p->d.z_kind = Z_SCALAR;
        else if (Z->rank >= 1 && zn == p->d.N && Z->dims[Z->rank - 1] == p->d.N) p->d.z_kind = Z_ROW;
        else p->z_tail = true;
    }
    if (!p->z_tail) set_activation(&p->act, &p->d);
    return true;
}

static bool supports(const op_node *n, const strata_tensor *const *in)
{
    bool gemm = op_is(n, "Gemm", "FusedGemm"), matmul = op_is(n, "MatMul", "FusedMatMul");
    if ((!gemm && !matmul) || n->n_inputs < 2 || !fast_f32(in[0]) || !fast_f32(in[1])) return false;
    if (strcmp(op_attr_string(n, "layout", "NCHW"), "NCHW") != 0) return false;
    if (in[1]->rank != 2 || in[0]->rank < 2 || (gemm && in[0]->rank != 2)) return false;
    if (in[1]->dims[0] <= 0 || in[1]->dims[1] <= 0) return false; /* K and N known, K > 0 */
    if (n->n_inputs > 2 && in[2] && (!fast_f32(in[2]) || in[2]->rank > 2 || (matmul && in[2]->rank != 1)))
        return false;
    if (n->n_inputs > 3 && in[3] && !fast_f32(in[3])) return false;
    fast_act a;
    return fast_activation(n, &a);
}

/* ---- packed weights: a header (with the oneDNN memory descriptor), then the weights ---------- */

#define PACK_MAGIC "STDNNLMM"
#define PACK_ALIGN 64

typedef struct pack_header {
    char magic[8];
    uint32_t header_bytes;   /* where the weights start (a multiple of PACK_ALIGN) */
    uint32_t md_bytes;       /* sizeof(dnnl_memory_desc_t) of the oneDNN that packed */
    uint32_t dnnl_major, dnnl_minor;
    int32_t bf16;
    int32_t reserved;
    int64_t K, N;
    uint64_t weights_bytes;
    dnnl_memory_desc_t md;
    uint64_t check;          /* hash64 of the bytes above */
} pack_header;

static uint32_t header_bytes(void)
{
    return (uint32_t)((sizeof(pack_header) + PACK_ALIGN - 1) / PACK_ALIGN * PACK_ALIGN);
}

/* The packed-weights problem of node n: its plan with M as compiled (the layout oneDNN
 * prefers does not depend on M beyond its size class) and weights of format any. */
static bool pack_plan(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, mm_plan *p)
{
    if (!supports(n, in) || !in[1]->data || !plan_node(k, n, in, p)) return false;
    if (p->d.M <= 0) { /* dynamic: a typical size; the layout is what matters */
        p->d.M = 128;
        p->d.lda = p->d.ta ? p->d.M : p->d.K;
    }
    p->d.w_kind = 1;
    return true;
}

/* The layout oneDNN wants for node n's weights; false when nothing is to be packed. */
static bool packed_md(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, dnnl_memory_desc_t *md)
{
    mm_plan p;
    if (!pack_plan(k, n, in, &p)) return false;
    dnnl_primitive_desc_t pd;
    if (make_pd(&p.d, &pd) != dnnl_success) return false;
    const dnnl_memory_desc_t *q = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    bool ok = q && q->format_kind == dnnl_blocked;
    if (ok) *md = *q;
    dnnl_primitive_desc_destroy(pd);
    return ok;
}

static size_t packed_size(const fast_kernel *k, const op_node *n, const strata_tensor *const *in)
{
    dnnl_memory_desc_t md;
    if (!packed_md(k, n, in, &md)) return 0;
    return header_bytes() + dnnl_memory_desc_get_size(&md);
}

static dnnl_status_t make_reorder(const void *arg, dnnl_primitive_t *out)
{
    const dnnl_memory_desc_t *mds = arg;
    dnnl_primitive_desc_t pd;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, &mds[0], dnnl_engine(), &mds[1], dnnl_engine(), NULL);
    if (s != dnnl_success) return s;
    s = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

static strata_status pack(const fast_kernel *k, const op_node *n, const strata_tensor *const *in, void *packed)
{
    mm_plan p;
    dnnl_memory_desc_t md;
    if (!pack_plan(k, n, in, &p) || !packed_md(k, n, in, &md))
        return op_error(n, STRATA_INTERNAL, "%s: nothing to pack", k->name);
    pack_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PACK_MAGIC, 8);
    h.header_bytes = header_bytes();
    h.md_bytes = (uint32_t)sizeof(dnnl_memory_desc_t);
    h.dnnl_major = (uint32_t)dnnl_version()->major;
    h.dnnl_minor = (uint32_t)dnnl_version()->minor;
    h.bf16 = p.d.bf16;
    h.K = p.d.K, h.N = p.d.N;
    h.weights_bytes = dnnl_memory_desc_get_size(&md);
    h.md = md;
    h.check = hash64(&h, offsetof(pack_header, check), 0x9ac4);
    memset(packed, 0, h.header_bytes);
    memcpy(packed, &h, sizeof h);
    /* reorder (and convert, for bf16) the plain f32 weights into the chosen layout */
    dnnl_memory_desc_t mds[2] = {plain_weights_md(&p.d, dnnl_f32), md};
    dnnl_primitive_t r; /* compile time only: not cached */
    strata_status st = dnnl_check(make_reorder(mds, &r), n, "weights reorder creation");
    if (st != STRATA_OK) return st;
    int args[2] = {DNNL_ARG_FROM, DNNL_ARG_TO};
    void *ptrs[2] = {in[1]->data, (uint8_t *)packed + h.header_bytes};
    st = dnnl_run(r, 2, args, mds, ptrs, n);
    dnnl_primitive_destroy(r);
    return st;
}

/* Checks the packed blob of node n and returns its weights layout and data. */
static strata_status packed_weights(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                    const mm_desc *d, dnnl_memory_desc_t *md, const void **data)
{
    int64_t idx = op_attr_int(n, "packed_input", -1);
    const strata_tensor *blob = in[idx];
    const uint8_t *bytes = blob->data;
    pack_header h;
    if (blob->n_bytes < sizeof h) return op_error(n, STRATA_INVALID_MODEL, "%s: packed weights too short", k->name);
    memcpy(&h, bytes, sizeof h);
    if (memcmp(h.magic, PACK_MAGIC, 8) != 0 || h.check != hash64(&h, offsetof(pack_header, check), 0x9ac4))
        return op_error(n, STRATA_INVALID_MODEL, "%s: packed weights header damaged", k->name);
    if (h.md_bytes != sizeof(dnnl_memory_desc_t) || h.dnnl_major != (uint32_t)dnnl_version()->major ||
        h.dnnl_minor != (uint32_t)dnnl_version()->minor)
        return op_error(n, STRATA_INVALID_MODEL, "%s: weights packed by oneDNN %u.%u, this is %d.%d: recompile the plan",
                        k->name, h.dnnl_major, h.dnnl_minor, dnnl_version()->major, dnnl_version()->minor);
    if (h.K != d->K || h.N != d->N || h.bf16 != d->bf16 || h.header_bytes != header_bytes() ||
        h.md.ndims != 2 || h.md.dims[0] != d->K || h.md.dims[1] != d->N ||
        h.md.data_type != (d->bf16 ? dnnl_bf16 : dnnl_f32) || h.md.format_kind != dnnl_blocked ||
        dnnl_memory_desc_get_size(&h.md) != h.weights_bytes || h.header_bytes + h.weights_bytes > blob->n_bytes)
        return op_error(n, STRATA_INVALID_MODEL, "%s: packed weights do not match the node (K %lld N %lld)", k->name,
                        (long long)d->K, (long long)d->N);
    *md = h.md;
    *data = bytes + h.header_bytes;
    return STRATA_OK;
}

/* ---- run ------------------------------------------------------------------------------------- */

/* dst[i] = bf16(src[i]): the vector converter where the CPU has it. */
static void to_bf16(const float *src, uint16_t *dst, int64_t count)
{
    if (cpu_features() & CPU_AVX512BF16) cvt_f32_to_bf16_avx512bf16(src, dst, count);
    else dnnl_f32_to_bf16_n(src, dst, count);
}

/* K == 0: the product is zero, so y = act(beta*C + bias + Z). */
static void run_empty_k(const mm_plan *p, strata_tensor *y)
{
    int64_t M = p->d.M, N = p->d.N;
    float *Y = y->data;
    memset(Y, 0, (size_t)(M * N) * sizeof *Y);
    if (p->C) {
        int64_t cstr[STRATA_MAX_DIMS];
        shape_broadcast_strides(p->C->rank, p->C->dims, 2, cstr);
        const float *c = p->C->data;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) Y[i * N + j] = p->beta * c[i * cstr[0] + j * cstr[1]];
    }
    if (p->bias)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) Y[i * N + j] += ((const float *)p->bias->data)[j];
    fast_tail(Y, y->dims, y->rank, p->Z, &p->act);
}

/* ---- threads: oneDNN runs single-threaded on each thread of the session's pool, on a block of
 * rows. oneDNN's own OpenMP team would spin for milliseconds after each call (libgomp reads
 * OMP_WAIT_POLICY only at load), taking the cores our pool needs next. Rows only: brgemm takes
 * neither a strided output (column blocks) nor a row block of A^T, and falls back to slow
 * implementations for them. */

#define MAX_CHUNKS 64
#define M_GRAIN 16

typedef struct mm_chunk {
    mm_desc d;
    dnnl_primitive_t prim;
    bool owned;
    int n_args;
    int args[6];
    dnnl_memory_desc_t mds[6];
    void *ptrs[6];
    strata_status st;
} mm_chunk;

typedef struct mm_job {
    mm_chunk *chunks;
    const op_node *n;
} mm_job;

static void run_chunk(void *arg, int64_t i, int thread_index)
{
    (void)thread_index;
    mm_job *job = arg;
    mm_chunk *c = &job->chunks[i];
    kernel_ctx one = {NULL, 1};
    dnnl_use_threads(&one);
    c->st = dnnl_run(c->prim, c->n_args, c->args, c->mds, c->ptrs, job->n);
}

static strata_status run(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                         strata_tensor *const *out, const kernel_ctx *ctx)
{
    mm_plan p;
    if (!plan_node(k, n, in, &p)) return op_error(n, STRATA_INVALID_ARGUMENT, "%s: unsupported inputs", k->name);
    mm_desc *d = &p.d;
    strata_tensor *y = out[0];
    if (strata_tensor_numel(y) != d->M * d->N)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s: output has %lld elements, expected %lld x %lld", k->name,
                        (long long)strata_tensor_numel(y), (long long)d->M, (long long)d->N);
    if (d->M == 0 || d->N == 0) return STRATA_OK;
    if (d->K == 0) {
        run_empty_k(&p, y);
        return STRATA_OK;
    }
    const void *wdata = NULL;
    strata_status st = STRATA_OK;
    if (fast_packed_input(n, in)) {
        if ((st = packed_weights(k, n, in, d, &d->wmd, &wdata)) != STRATA_OK) return st;
        d->w_kind = 2;
    } else if (!p.B->data) {
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s: weights have no values and no packed form", k->name);
    }
    if (p.bias && strata_tensor_numel(p.bias) != d->N)
        return op_error(n, STRATA_INVALID_ARGUMENT, "%s: bias must have N = %lld elements", k->name, (long long)d->N);

    /* scratch, freed in reverse order: bf16 copies, the scaled bias, chunks, scratchpads */
    uint16_t *a16 = NULL, *b16 = NULL;
    float *scaled = NULL;
    mm_chunk *chunks = NULL;
    void *pads[MAX_CHUNKS] = {NULL};
    int n_chunks = 0;
    const void *src = p.A->data, *wei = wdata, *bias = NULL;
    if (d->bf16) {
        int64_t na = d->M * d->K;
        if (!(a16 = mem_alloc_aligned((size_t)na * sizeof *a16))) goto oom;
        to_bf16(p.A->data, a16, na);
        src = a16;
        if (!wei) {
            if (!(b16 = mem_alloc_aligned((size_t)(d->K * d->N) * sizeof *b16))) goto oom;
            to_bf16(p.B->data, b16, d->K * d->N);
            wei = b16;
        }
    } else if (!wei) {
        wei = p.B->data;
    }
    if (p.bias) bias = p.bias->data;
    if (p.c_as_bias) {
        bias = p.C->data;
        if (p.beta != 1.0f) {
            if (!(scaled = mem_alloc((size_t)d->N * sizeof *scaled))) goto oom;
            for (int64_t j = 0; j < d->N; j++) scaled[j] = p.beta * ((const float *)p.C->data)[j];
            bias = scaled;
        }
    }
    if (p.c_prefill) { /* C broadcast into the output; the sum post-op scales it by beta */
        int64_t cstr[STRATA_MAX_DIMS];
        shape_broadcast_strides(p.C->rank, p.C->dims, 2, cstr);
        const float *c = p.C->data;
        float *Y = y->data;
        for (int64_t i = 0; i < d->M; i++)
            for (int64_t j = 0; j < d->N; j++) Y[i * d->N + j] = c[i * cstr[0] + j * cstr[1]];
    }

    /* row blocks, one per thread, when A is not transposed and M is large enough */
    int threads = thread_pool_size(ctx ? ctx->pool : NULL);
    if (threads > MAX_CHUNKS) threads = MAX_CHUNKS;
    int64_t parts = d->ta ? 1 : d->M / M_GRAIN < threads ? d->M / M_GRAIN : threads, step_m = d->M;
    if (parts > 1) step_m = ((d->M + parts - 1) / parts + M_GRAIN - 1) / M_GRAIN * M_GRAIN;
    n_chunks = (int)((d->M + step_m - 1) / step_m);
    if (!(chunks = mem_calloc((size_t)n_chunks, sizeof *chunks))) goto oom;
    kernel_ctx one = {NULL, 1};
    dnnl_use_threads(&one); /* primitives are made for one thread */
    for (int c = 0; c < n_chunks; c++) {
        mm_chunk *ch = &chunks[c];
        int64_t m0 = c * step_m;
        ch->d = *d;
        ch->d.M = d->M - m0 < step_m ? d->M - m0 : step_m;
        const void *a = (const uint8_t *)src + (size_t)(m0 * d->K) * (d->bf16 ? 2 : 4);
        float *yc = (float *)y->data + m0 * d->N;
        if ((st = dnnl_primitive_get(&ch->d, sizeof ch->d, make_primitive, &ch->d, n, &ch->prim, &ch->owned)) !=
            STRATA_OK) {
            if (d->w_kind == 2) {
                char why[256];
                snprintf(why, sizeof why, "%s", strata_last_error());
                st = op_error(n, STRATA_UNSUPPORTED, "%s: this machine's oneDNN cannot use the packed weights "
                              "layout (%s): recompile the plan", k->name, why);
            }
            goto done;
        }
        const_dnnl_primitive_desc_t pd;
        const dnnl_memory_desc_t *pad_md = NULL;
        if (dnnl_primitive_get_primitive_desc(ch->prim, &pd) == dnnl_success)
            pad_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        size_t pad_bytes = pad_md ? dnnl_memory_desc_get_size(pad_md) : 0;
        if (pad_bytes && !(pads[c] = mem_alloc_aligned(pad_bytes))) goto oom;
        int na = 0;
#define ARG(kind, md_, ptr_) \
    (ch->args[na] = (kind), ch->mds[na] = (md_), ch->ptrs[na] = (void *)(ptr_), na++)
        ARG(DNNL_ARG_SRC, src_md(&ch->d), a);
        ARG(DNNL_ARG_WEIGHTS, weights_md(&ch->d), wei);
        ARG(DNNL_ARG_DST, dst_md(&ch->d), yc);
        if (bias) ARG(DNNL_ARG_BIAS, bias_md(&ch->d), bias);
        if (pad_bytes) ARG(DNNL_ARG_SCRATCHPAD, *pad_md, pads[c]);
        if (d->z_kind) {
            const float *z = p.Z->data;
            if (d->z_kind == Z_FULL) z += m0 * d->N;
            ARG(DNNL_ARG_ATTR_MULTIPLE_POST_OP(d->sum ? 1 : 0) | DNNL_ARG_SRC_1, z_md(&ch->d), z);
        }
#undef ARG
        ch->n_args = na;
    }
    mm_job job = {chunks, n};
    if (n_chunks == 1) run_chunk(&job, 0, 0);
    else thread_pool_parallel_for(ctx->pool, n_chunks, run_chunk, &job);
    for (int c = 0; c < n_chunks && st == STRATA_OK; c++)
        if (chunks[c].st != STRATA_OK)
            st = n_chunks == 1 ? chunks[c].st
                               : op_error(n, STRATA_INTERNAL, "%s: oneDNN failed on a worker thread", k->name);
    if (st == STRATA_OK && p.z_tail) fast_tail(y->data, y->dims, y->rank, p.Z, &p.act);
    goto done;
oom:
    st = op_error(n, STRATA_OUT_OF_MEMORY, "%s: out of memory for scratch", k->name);
done:
    for (int c = n_chunks - 1; c >= 0; c--) {
        mem_free_aligned(pads[c]);
        if (chunks && chunks[c].owned) dnnl_primitive_destroy(chunks[c].prim);
    }
    mem_free(chunks);
    mem_free(scaled);
    mem_free_aligned(b16);
    mem_free_aligned(a16);
    return st;
}

/* The fp32 rows take nodes of at least 64 rows (M) only, ahead of our own GEMM (priority 30,
 * kernels/fast_matmul.c): on BERT-base's shapes (M = 128 and 1024) oneDNN's brgemm measured
 * 1.05-1.14x ours, on ResNet-50's classifier (M = 1 and 8) 0.92-0.98x. The bf16 rows are only
 * offered in --precision bf16 plans, where they come first. */
#define F32_PRIORITY 35
#define F32_MIN_ROWS 64
#define BF16_PRIORITY 100

static bool supports_f32(const op_node *n, const strata_tensor *const *in)
{
    if (!supports(n, in)) return false;
    bool ta = op_is(n, "Gemm", "FusedGemm") && op_attr_int(n, "transA", 0) != 0;
    int64_t m = 1;
    if (ta) m = in[0]->dims[1];
    else
        for (int d = 0; d < in[0]->rank - 1; d++) m = in[0]->dims[d] < 0 ? -1 : m * in[0]->dims[d];
    return m >= F32_MIN_ROWS;
}

const fast_kernel fast_dnnl_matmul_kernels[] = {
    {"gemm_f32_brgemm__dnnl", "Gemm", "", CPU_AVX512, GEMM_ISA_AUTO, F32_PRIORITY, supports_f32, run, packed_size, pack, NULL},
    {"gemm_f32_brgemm__dnnl", "FusedGemm", "com.strata", CPU_AVX512, GEMM_ISA_AUTO, F32_PRIORITY, supports_f32, run,
     packed_size, pack, NULL},
    {"matmul_f32_brgemm__dnnl", "MatMul", "", CPU_AVX512, GEMM_ISA_AUTO, F32_PRIORITY, supports_f32, run, packed_size,
     pack, NULL},
    {"matmul_f32_brgemm__dnnl", "FusedMatMul", "com.strata", CPU_AVX512, GEMM_ISA_AUTO, F32_PRIORITY, supports_f32, run,
     packed_size, pack, NULL},
    {"gemm_bf16__dnnl", "Gemm", "", CPU_AVX512BF16, GEMM_ISA_AUTO, BF16_PRIORITY, supports, run, packed_size, pack, NULL},
    {"gemm_bf16__dnnl", "FusedGemm", "com.strata", CPU_AVX512BF16, GEMM_ISA_AUTO, BF16_PRIORITY, supports, run,
     packed_size, pack, NULL},
    {"matmul_bf16__dnnl", "MatMul", "", CPU_AVX512BF16, GEMM_ISA_AUTO, BF16_PRIORITY, supports, run, packed_size,
     pack, NULL},
    {"matmul_bf16__dnnl", "FusedMatMul", "com.strata", CPU_AVX512BF16, GEMM_ISA_AUTO, BF16_PRIORITY, supports, run,
     packed_size, pack, NULL},
};
const size_t fast_dnnl_matmul_count = ARRAY_LEN(fast_dnnl_matmul_kernels);
