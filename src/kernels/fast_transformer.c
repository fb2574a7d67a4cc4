/* kernels/fast_transformer.c — f32 tactics for the transformer path: LayerNormalization and
 * Softmax over the last axis, Gelu (erf form), Add/Sub/Mul/Div with numpy broadcasting,
 * Transpose (any perm), Gather (axis 0, row copies) and com.strata FusedAttention (flash-style:
 * key tiles with an online softmax, no score matrix). Shape checks and threading over rows live
 * here; the vector bodies are fast_transformer_body.c, one table per ISA. */
#include <math.h>
#include <string.h>

#include "fast_internal.h"
#include "fast_transformer.h"
#include "x86/nhwc_x86.h"

#define PAR_MIN_ELEMS 131072 /* below this a node runs on one thread (a 128 x 768 LayerNorm: 40 us alone, 75 us on 2 threads) */

static const tf_ops *ops_of(const fast_kernel *k)
{
#if defined(__x86_64__) || defined(__i386__)
    if (k->isa & CPU_AVX512) return &fast_transformer_ops_avx512;
    if (k->isa & CPU_AVX2) return &fast_transformer_ops_avx2;
#endif
    (void)k;
    return &fast_transformer_ops_scalar;
}

static bool is_op(const op_node *n, const char *domain, const char *op_type)
{
    return strcmp(n->domain, domain) == 0 && strcmp(n->op_type, op_type) == 0;
}

static thread_pool *pool_for(const kernel_ctx *ctx, int64_t elems)
{
    return elems >= PAR_MIN_ELEMS ? ctx->pool : NULL;
}

/* Runs the reference op (outputs zeroed first, as it expects): for shapes a row accepted at
 * compile time but that differ at run time in a way the fast path does not handle. */
static strata_status run_reference(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
{
    const op_def *d = ref_op_find(n->domain, n->op_type, n->opset);
    if (!d) return op_error(n, STRATA_INTERNAL, "no reference op to fall back to");
    for (size_t j = 0; j < n->n_outputs; j++)
        if (out[j] && out[j]->data) memset(out[j]->data, 0, out[j]->n_bytes);
    return d->compute(n, in, out);
}

/* Rows of a [rows x D] job split into at most 4 tasks per thread. */
typedef struct rows_job {
    const tf_ops *ops;
    const float *x;
    float *y;
    int64_t rows, D, per_task;
    const float *scale, *bias;
    float eps;
    float *mean, *inv;
} rows_job;

static int64_t rows_per_task(const kernel_ctx *ctx, int64_t rows, int64_t D)
{
    if (!pool_for(ctx, rows * D)) return rows > 0 ? rows : 1;
    int64_t tasks = (int64_t)ctx->n_threads * 4;
    int64_t per = (rows + tasks - 1) / tasks;
    return per > 0 ? per : 1;
}

static int64_t n_tasks(int64_t total, int64_t per)
{
    return (total + per - 1) / per;
}

/* ---- LayerNormalization -------------------------------------------------------------------- */

/* A [D] vector (any rank with all dims 1 but the last) or NULL when t is absent. */
static bool vector_of(const strata_tensor *t, int64_t D)
{
    if (!t) return true;
    if (!fast_f32(t) || t->rank < 1 || t->dims[t->rank - 1] != D) return false;
    for (int d = 0; d < t->rank - 1; d++)
        if (t->dims[d] != 1) return false;
    return true;
}

static bool layernorm_shape_ok(const op_node *n, const strata_tensor *const *in)
{
    const strata_tensor *x = in[0];
    if (!fast_f32(x) || x->rank < 1 || n->n_inputs < 2) return false;
    int64_t D = x->dims[x->rank - 1];
    int64_t axis = op_attr_int(n, "axis", -1);
    if (axis != -1 && axis != x->rank - 1) return false;
    if (D <= 0 || !vector_of(in[1], D) || !in[1]) return false;
    if (n->n_inputs > 2 && !vector_of(in[2], D)) return false;
    return n->n_outputs <= 1 || op_attr_int(n, "stash_type", 1) == 1;
}

static bool supports_layernorm(const op_node *n, const strata_tensor *const *in)
{
    return (is_op(n, "", "LayerNormalization") || is_op(n, "com.strata", "LayerNormalization")) &&
           layernorm_shape_ok(n, in);
}

static void layernorm_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const rows_job *j = arg;
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task < j->rows ? r0 + j->per_task : j->rows;
    j->ops->layernorm_rows(j->x + r0 * j->D, j->y + r0 * j->D, r1 - r0, j->D, j->scale, j->bias, j->eps,
                           j->mean ? j->mean + r0 : NULL, j->inv ? j->inv + r0 : NULL);
}

static strata_status run_layernorm(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out, const kernel_ctx *ctx)
{
    if (!layernorm_shape_ok(n, in)) return run_reference(n, in, out);
    const strata_tensor *x = in[0];
    rows_job j;
    memset(&j, 0, sizeof j);
    j.ops = ops_of(k);
    j.D = x->dims[x->rank - 1];
    j.rows = strata_tensor_numel(x) / j.D;
    j.x = x->data;
    j.y = out[0]->data;
    j.scale = in[1]->data;
    j.bias = n->n_inputs > 2 && in[2] ? in[2]->data : NULL;
    j.eps = op_attr_float(n, "epsilon", 1e-5f);
    if (n->n_outputs > 1 && out[1]) j.mean = out[1]->data;
    if (n->n_outputs > 2 && out[2]) j.inv = out[2]->data;
    j.per_task = rows_per_task(ctx, j.rows, j.D);
    thread_pool_parallel_for(pool_for(ctx, j.rows * j.D), n_tasks(j.rows, j.per_task), layernorm_task, &j);
    return STRATA_OK;
}

/* ---- Softmax --------------------------------------------------------------------------------- */

static bool softmax_shape_ok(const op_node *n, const strata_tensor *const *in)
{
    const strata_tensor *x = in[0];
    if (!fast_f32(x) || x->rank < 1 || x->dims[x->rank - 1] <= 0) return false;
    bool legacy = n->opset < 13;
    int64_t axis = op_attr_int(n, "axis", legacy ? 1 : -1);
    if (axis < 0) axis += x->rank;
    return axis == x->rank - 1;
}

static bool supports_softmax(const op_node *n, const strata_tensor *const *in)
{
    return is_op(n, "", "Softmax") && n->n_inputs == 1 && softmax_shape_ok(n, in);
}

static void softmax_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const rows_job *j = arg;
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task < j->rows ? r0 + j->per_task : j->rows;
    j->ops->softmax_rows(j->x + r0 * j->D, j->y + r0 * j->D, r1 - r0, j->D);
}

static strata_status run_softmax(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                 strata_tensor *const *out, const kernel_ctx *ctx)
{
    if (!softmax_shape_ok(n, in)) return run_reference(n, in, out);
    const strata_tensor *x = in[0];
    rows_job j;
    memset(&j, 0, sizeof j);
    j.ops = ops_of(k);
    j.D = x->dims[x->rank - 1];
    j.rows = strata_tensor_numel(x) / j.D;
    j.x = x->data;
    j.y = out[0]->data;
    j.per_task = rows_per_task(ctx, j.rows, j.D);
    thread_pool_parallel_for(pool_for(ctx, j.rows * j.D), n_tasks(j.rows, j.per_task), softmax_task, &j);
    return STRATA_OK;
}

/* ---- Gelu ------------------------------------------------------------------------------------ */

static bool supports_gelu(const op_node *n, const strata_tensor *const *in)
{
    bool onnx = is_op(n, "", "Gelu") && strcmp(op_attr_string(n, "approximate", "none"), "none") == 0;
    return (onnx || is_op(n, "com.strata", "Gelu")) && n->n_inputs == 1 && fast_f32(in[0]);
}

static void gelu_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const rows_job *j = arg;
    int64_t i0 = t * j->per_task, i1 = i0 + j->per_task < j->rows ? i0 + j->per_task : j->rows;
    j->ops->gelu(j->x + i0, j->y + i0, i1 - i0);
}

static strata_status run_gelu(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                              strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)n;
    rows_job j;
    memset(&j, 0, sizeof j);
    j.ops = ops_of(k);
    j.x = in[0]->data;
    j.y = out[0]->data;
    j.rows = strata_tensor_numel(in[0]); /* elements, in chunks of per_task */
    j.per_task = j.rows >= PAR_MIN_ELEMS && ctx->pool ? (j.rows + 4 * ctx->n_threads - 1) / (4 * ctx->n_threads) : j.rows;
    if (j.per_task < 1) j.per_task = 1;
    thread_pool_parallel_for(pool_for(ctx, j.rows), n_tasks(j.rows, j.per_task), gelu_task, &j);
    return STRATA_OK;
}

/* ---- Add / Sub / Mul / Div with numpy broadcasting ------------------------------------------- */

static const char *const binop_names[] = {"Add", "Sub", "Mul", "Div"};

static bool supports_binary(const op_node *n, const strata_tensor *const *in)
{
    if (n->domain[0] || n->opset < 7 || n->n_inputs != 2) return false; /* opset < 7: legacy broadcast */
    return fast_f32(in[0]) && fast_f32(in[1]);
}

typedef struct binary_job {
    const tf_ops *ops;
    tf_binop op;
    const float *a, *b;
    float *y;
    int rank;                        /* outer dims (after merging), the inner run excluded */
    int64_t dims[STRATA_MAX_DIMS], sa[STRATA_MAX_DIMS], sb[STRATA_MAX_DIMS];
    int64_t inner, ia, ib;           /* inner run length and its strides (0 or 1) */
    int64_t rows, per_task, chunks;  /* outer rows; tasks split rows, or the run in chunks */
} binary_job;

static void binary_row(const binary_job *j, int64_t row, int64_t c0, int64_t c1)
{
    int64_t ao = 0, bo = 0, rem = row;
    for (int d = j->rank - 1; d >= 0; d--) {
        int64_t idx = rem % j->dims[d];
        rem /= j->dims[d];
        ao += idx * j->sa[d];
        bo += idx * j->sb[d];
    }
    j->ops->binary(j->op, j->a + ao + c0 * j->ia, j->ia, j->b + bo + c0 * j->ib, j->ib, j->y + row * j->inner + c0,
                   c1 - c0);
}

static void binary_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const binary_job *j = arg;
    if (j->chunks > 1) { /* few rows: task t is a chunk of one row's run */
        int64_t row = t / j->chunks, c = t % j->chunks, len = (j->inner + j->chunks - 1) / j->chunks;
        int64_t c0 = c * len, c1 = c0 + len < j->inner ? c0 + len : j->inner;
        if (c0 < c1) binary_row(j, row, c0, c1);
        return;
    }
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task < j->rows ? r0 + j->per_task : j->rows;
    for (int64_t r = r0; r < r1; r++) binary_row(j, r, 0, j->inner);
}

static strata_status run_binary(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out, const kernel_ctx *ctx)
{
    const strata_tensor *A = in[0], *B = in[1];
    strata_tensor *y = out[0];
    binary_job j;
    memset(&j, 0, sizeof j);
    j.ops = ops_of(k);
    for (int o = 0; o < 4; o++)
        if (strcmp(n->op_type, binop_names[o]) == 0) j.op = (tf_binop)o;
    j.a = A->data;
    j.b = B->data;
    j.y = y->data;
    int64_t total = strata_tensor_numel(y);
    if (total <= 0) return STRATA_OK;
    int64_t sa[STRATA_MAX_DIMS], sb[STRATA_MAX_DIMS];
    shape_broadcast_strides(A->rank, A->dims, y->rank, sa);
    shape_broadcast_strides(B->rank, B->dims, y->rank, sb);
    /* drop extent-1 dims, merge neighbours that both operands walk contiguously (or not at all) */
    int r = 0;
    int64_t dims[STRATA_MAX_DIMS], ma[STRATA_MAX_DIMS], mb[STRATA_MAX_DIMS];
    for (int d = 0; d < y->rank; d++) {
        if (y->dims[d] == 1) continue;
        if (r > 0 && ma[r - 1] == sa[d] * y->dims[d] && mb[r - 1] == sb[d] * y->dims[d]) {
            dims[r - 1] *= y->dims[d];
            ma[r - 1] = sa[d];
            mb[r - 1] = sb[d];
            continue;
        }
        dims[r] = y->dims[d];
        ma[r] = sa[d];
        mb[r] = sb[d];
        r++;
    }
    if (r == 0) { /* a single element */
        dims[0] = 1;
        ma[0] = mb[0] = 0;
        r = 1;
    }
    j.inner = dims[r - 1];
    j.ia = ma[r - 1] ? 1 : 0;
    j.ib = mb[r - 1] ? 1 : 0;
    if ((ma[r - 1] != 0 && ma[r - 1] != 1) || (mb[r - 1] != 0 && mb[r - 1] != 1))
        return run_reference(n, in, out); /* cannot happen with broadcast strides; be safe */
    j.rank = r - 1;
    for (int d = 0; d < j.rank; d++) {
        j.dims[d] = dims[d];
        j.sa[d] = ma[d];
        j.sb[d] = mb[d];
    }
    j.rows = total / j.inner;
    thread_pool *pool = pool_for(ctx, total);
    int64_t want = pool ? (int64_t)ctx->n_threads * 4 : 1;
    j.chunks = 1;
    if (pool && j.rows < want) j.chunks = (want + j.rows - 1) / j.rows;
    if (j.chunks > 1) {
        thread_pool_parallel_for(pool, j.rows * j.chunks, binary_task, &j);
    } else {
        j.per_task = (j.rows + want - 1) / want;
        thread_pool_parallel_for(pool, n_tasks(j.rows, j.per_task), binary_task, &j);
    }
    return STRATA_OK;
}

/* ---- Transpose (any rank, any perm; row copies where the input's last dim stays last) ------- */

static bool supports_transpose(const op_node *n, const strata_tensor *const *in)
{
    return is_op(n, "", "Transpose") && n->n_inputs == 1 && fast_f32(in[0]) && in[0]->rank >= 1;
}

typedef struct transpose_job {
    const float *x;
    float *y;
    int rank;                        /* outer dims */
    int64_t dims[STRATA_MAX_DIMS], sx[STRATA_MAX_DIMS];
    int64_t inner, ix;               /* inner run of y and its input stride */
    int64_t rows, per_task;
    int64_t mid;                     /* tiled form: y[outer][mid][inner], mid contiguous in x */
    bool avx512;                     /* 3-channel tiles interleave with AVX-512 */
} transpose_job;

/* Rows of the middle dim per tile of the tiled form: its reads are `inner` runs of this many
 * contiguous floats, its writes one contiguous block. */
#define TRANSPOSE_TILE 64

/* The tiled form, for a 2-D transpose of the last two dims (NCHW -> NHWC of an image: the
 * gather form would make one short row per pixel): tile t of one outer index. */
static void transpose_tile(const transpose_job *j, int64_t t)
{
    int64_t tiles = (j->mid + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE;
    int64_t o = t / tiles, i0 = t % tiles * TRANSPOSE_TILE;
    int64_t ni = j->mid - i0 < TRANSPOSE_TILE ? j->mid - i0 : TRANSPOSE_TILE;
    int64_t xo = 0, rem = o;
    for (int d = j->rank - 1; d >= 0; d--) {
        xo += (rem % j->dims[d]) * j->sx[d];
        rem /= j->dims[d];
    }
    float *dst = j->y + (o * j->mid + i0) * j->inner;
#if defined(__x86_64__)
    if (j->inner == 3 && j->avx512) {
        const float *src = j->x + xo + i0;
        interleave3_f32__avx512(src, src + j->ix, src + 2 * j->ix, dst, ni);
        return;
    }
#endif
    for (int64_t c = 0; c < j->inner; c++) {
        const float *src = j->x + xo + c * j->ix + i0;
        for (int64_t i = 0; i < ni; i++) dst[i * j->inner + c] = src[i];
    }
}

/* Task t: tiles t*per_task onwards (a few tasks a thread: one task a tile made MobileNetV2's
 * input transpose 3x slower on two threads than on one) */
static void transpose_tile_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const transpose_job *j = arg;
    for (int64_t i = t * j->per_task; i < (t + 1) * j->per_task && i < j->rows; i++) transpose_tile(j, i);
}

static void transpose_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const transpose_job *j = arg;
    int64_t r0 = t * j->per_task, r1 = r0 + j->per_task < j->rows ? r0 + j->per_task : j->rows;
    for (int64_t r = r0; r < r1; r++) {
        int64_t xo = 0, rem = r;
        for (int d = j->rank - 1; d >= 0; d--) {
            xo += (rem % j->dims[d]) * j->sx[d];
            rem /= j->dims[d];
        }
        const float *src = j->x + xo;
        float *dst = j->y + r * j->inner;
        if (j->ix == 1) {
            memcpy(dst, src, (size_t)j->inner * sizeof *dst);
        } else {
            for (int64_t i = 0; i < j->inner; i++) dst[i] = src[i * j->ix];
        }
    }
}

static strata_status run_transpose(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)k;
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    int64_t total = strata_tensor_numel(y);
    if (total <= 0) return STRATA_OK;
    size_t np = 0;
    const int64_t *perm = op_attr_ints(n, "perm", &np);
    if (perm && np != (size_t)x->rank) return run_reference(n, in, out);
    int64_t xs[STRATA_MAX_DIMS];
    shape_strides(x->rank, x->dims, xs);
    int r = 0;
    int64_t dims[STRATA_MAX_DIMS], s[STRATA_MAX_DIMS];
    for (int d = 0; d < x->rank; d++) {
        int64_t p = perm ? perm[d] : x->rank - 1 - d;
        if (p < 0 || p >= x->rank) return run_reference(n, in, out);
        if (x->dims[p] == 1) continue;
        if (r > 0 && s[r - 1] == xs[p] * x->dims[p]) { /* contiguous in x too: merge */
            dims[r - 1] *= x->dims[p];
            s[r - 1] = xs[p];
            continue;
        }
        dims[r] = x->dims[p];
        s[r] = xs[p];
        r++;
    }
    if (r == 0) {
        dims[0] = 1;
        s[0] = 1;
        r = 1;
    }
    transpose_job j;
    memset(&j, 0, sizeof j);
    j.x = x->data;
    j.y = y->data;
    j.inner = dims[r - 1];
    j.ix = s[r - 1];
    if (r >= 2 && s[r - 2] == 1 && j.inner < 64 && dims[r - 2] >= 16) { /* tiled 2-D transpose */
        j.mid = dims[r - 2];
        j.avx512 = (cpu_features() & CPU_AVX512) != 0;
        j.rank = r - 2;
        for (int d = 0; d < j.rank; d++) {
            j.dims[d] = dims[d];
            j.sx[d] = s[d];
        }
        j.rows = total / (j.mid * j.inner) * ((j.mid + TRANSPOSE_TILE - 1) / TRANSPOSE_TILE); /* tiles */
        j.per_task = rows_per_task(ctx, j.rows, TRANSPOSE_TILE * j.inner);
        thread_pool_parallel_for(pool_for(ctx, total), n_tasks(j.rows, j.per_task), transpose_tile_task, &j);
        return STRATA_OK;
    }
    j.rank = r - 1;
    for (int d = 0; d < j.rank; d++) {
        j.dims[d] = dims[d];
        j.sx[d] = s[d];
    }
    j.rows = total / j.inner;
    j.per_task = rows_per_task(ctx, j.rows, j.inner);
    thread_pool_parallel_for(pool_for(ctx, total), n_tasks(j.rows, j.per_task), transpose_task, &j);
    return STRATA_OK;
}

/* ---- Gather on axis 0: row copies ------------------------------------------------------------ */

static bool supports_gather(const op_node *n, const strata_tensor *const *in)
{
    if (!is_op(n, "", "Gather") || n->n_inputs != 2 || !fast_f32(in[0]) || in[0]->rank < 1) return false;
    if (!in[1] || (in[1]->dtype != STRATA_DTYPE_I64 && in[1]->dtype != STRATA_DTYPE_I32)) return false;
    int64_t axis = op_attr_int(n, "axis", 0);
    return axis == 0 || axis == -in[0]->rank;
}

typedef struct gather_job {
    const float *x;
    float *y;
    const void *idx;
    bool i64;
    int64_t n_idx, dim, row, per_task;
} gather_job;

static int64_t gather_index(const gather_job *j, int64_t i)
{
    int64_t v = j->i64 ? ((const int64_t *)j->idx)[i] : ((const int32_t *)j->idx)[i];
    return v < 0 ? v + j->dim : v;
}

static void gather_task(void *arg, int64_t t, int thread_index)
{
    (void)thread_index;
    const gather_job *j = arg;
    int64_t i0 = t * j->per_task, i1 = i0 + j->per_task < j->n_idx ? i0 + j->per_task : j->n_idx;
    for (int64_t i = i0; i < i1; i++)
        memcpy(j->y + i * j->row, j->x + gather_index(j, i) * j->row, (size_t)j->row * sizeof(float));
}

static strata_status run_gather(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                strata_tensor *const *out, const kernel_ctx *ctx)
{
    (void)k;
    const strata_tensor *x = in[0], *ix = in[1];
    gather_job j = {x->data, out[0]->data, ix->data, ix->dtype == STRATA_DTYPE_I64, strata_tensor_numel(ix),
                    x->dims[0], shape_numel(x->rank - 1, x->dims + 1), 0};
    for (int64_t i = 0; i < j.n_idx; i++) {
        int64_t w = gather_index(&j, i);
        if (w < 0 || w >= j.dim) {
            int64_t v = j.i64 ? ((const int64_t *)j.idx)[i] : ((const int32_t *)j.idx)[i];
            return op_error(n, STRATA_INVALID_ARGUMENT, "index %lld (element %lld) out of range for extent %lld",
                            (long long)v, (long long)i, (long long)j.dim);
        }
    }
    if (j.row <= 0 || j.n_idx <= 0) return STRATA_OK;
    j.per_task = rows_per_task(ctx, j.n_idx, j.row);
    thread_pool_parallel_for(pool_for(ctx, j.n_idx * j.row), n_tasks(j.n_idx, j.per_task), gather_task, &j);
    return STRATA_OK;
}

/* ---- com.strata FusedAttention ---------------------------------------------------------------- */

/* Element strides of a [B, H, S, D]-ordered view of t for the node's layout: stride of b, h,
 * s (row) and d (within row), and the sizes. */
typedef struct attn_view {
    int64_t B, H, S, D;
    int64_t sb, sh, ss, sd;
} attn_view;

static void view_of(const strata_tensor *t, int layout, bool trans, attn_view *v)
{
    int64_t st[4];
    shape_strides(4, t->dims, st);
    if (layout == 1) { /* [B, S, H, D] */
        *v = (attn_view){t->dims[0], t->dims[2], t->dims[1], t->dims[3], st[0], st[2], st[1], st[3]};
    } else if (trans) { /* [B, H, D, S] */
        *v = (attn_view){t->dims[0], t->dims[1], t->dims[3], t->dims[2], st[0], st[1], st[3], st[2]};
    } else {
        *v = (attn_view){t->dims[0], t->dims[1], t->dims[2], t->dims[3], st[0], st[1], st[2], st[3]};
    }
}

static bool attention_shape_ok(const op_node *n, const strata_tensor *const *in, attn_view *q, attn_view *kv,
                               attn_view *v)
{
    if (n->n_inputs < 3 || n->n_inputs > 4) return false;
    for (size_t i = 0; i < 3; i++)
        if (!fast_f32(in[i]) || in[i]->rank != 4) return false;
    const strata_tensor *mask = n->n_inputs > 3 ? in[3] : NULL;
    if (mask && (!fast_f32(mask) || mask->rank > 4)) return false;
    int layout = (int)op_attr_int(n, "layout", 0);
    bool kt = op_attr_int(n, "k_transposed", 0) != 0;
    if (layout != 0 && layout != 1) return false;
    if (layout == 1 && kt) return false;
    view_of(in[0], layout, false, q);
    view_of(in[1], layout, kt, kv);
    view_of(in[2], layout, false, v);
    if (q->D <= 0 || v->D <= 0 || q->S <= 0 || kv->S <= 0) return false;
    if (q->B != kv->B || q->B != v->B || q->H != kv->H || q->H != v->H || q->D != kv->D || kv->S != v->S)
        return false;
    return q->sd == 1 && v->sd == 1 && (kt ? kv->ss == 1 : kv->sd == 1);
}

static bool supports_attention(const op_node *n, const strata_tensor *const *in)
{
    attn_view q, k, v;
    return is_op(n, "com.strata", "FusedAttention") && attention_shape_ok(n, in, &q, &k, &v);
}

typedef struct attn_job {
    const tf_ops *ops;
    attn_view q, k, v, y;
    bool kt;
    const float *Q, *K, *V, *M;
    float *Y;
    int64_t ms[4];          /* mask strides over [B, H, Sq, Sk] */
    float scale;
    int64_t q_blocks;
    float *scratch;
    int64_t scratch_floats; /* per thread */
} attn_job;

static void attention_task(void *arg, int64_t t, int thread_index)
{
    const attn_job *j = arg;
    int64_t bh = t / j->q_blocks, qb = t % j->q_blocks;
    int64_t b = bh / j->q.H, h = bh % j->q.H;
    tf_attn_head hd;
    hd.sq = j->q.S;
    hd.sk = j->k.S;
    hd.d = j->q.D;
    hd.dv = j->v.D;
    hd.q = j->Q + b * j->q.sb + h * j->q.sh;
    hd.qs = j->q.ss;
    hd.k = j->K + b * j->k.sb + h * j->k.sh;
    hd.ks = j->kt ? j->k.sd : j->k.ss;
    hd.k_trans = j->kt;
    hd.v = j->V + b * j->v.sb + h * j->v.sh;
    hd.vs = j->v.ss;
    hd.y = j->Y + b * j->y.sb + h * j->y.sh;
    hd.ys = j->y.ss;
    hd.mask = j->M ? j->M + b * j->ms[0] + h * j->ms[1] : NULL;
    hd.ms_row = j->ms[2];
    hd.ms_col = j->ms[3];
    hd.scale = j->scale;
    hd.q_begin = qb * TF_ATTN_QB;
    hd.q_end = hd.q_begin + TF_ATTN_QB < hd.sq ? hd.q_begin + TF_ATTN_QB : hd.sq;
    j->ops->attention(&hd, j->scratch + (int64_t)thread_index * j->scratch_floats);
}

static strata_status run_attention(const fast_kernel *k, const op_node *n, const strata_tensor *const *in,
                                   strata_tensor *const *out, const kernel_ctx *ctx)
{
    attn_job j;
    memset(&j, 0, sizeof j);
    if (!attention_shape_ok(n, in, &j.q, &j.k, &j.v)) return run_reference(n, in, out);
    int layout = (int)op_attr_int(n, "layout", 0);
    j.ops = ops_of(k);
    j.kt = op_attr_int(n, "k_transposed", 0) != 0;
    view_of(out[0], layout, false, &j.y);
    j.Q = in[0]->data;
    j.K = in[1]->data;
    j.V = in[2]->data;
    j.Y = out[0]->data;
    const strata_tensor *mask = n->n_inputs > 3 ? in[3] : NULL;
    if (mask) {
        j.M = mask->data;
        shape_broadcast_strides(mask->rank, mask->dims, 4, j.ms);
        int64_t want[4] = {j.q.B, j.q.H, j.q.S, j.k.S};
        for (int d = 0; d < mask->rank; d++) {
            int64_t md = mask->dims[d], wd = want[d + 4 - mask->rank];
            if (md != 1 && md != wd) {
                char ms[160];
                return op_error(n, STRATA_INVALID_ARGUMENT, "mask %s does not broadcast to the scores "
                                "[%lld,%lld,%lld,%lld]", tensor_describe(mask, ms, sizeof ms),
                                (long long)want[0], (long long)want[1], (long long)want[2], (long long)want[3]);
            }
        }
    }
    j.scale = op_attr_float(n, "scale", 1.0f / sqrtf((float)j.q.D));
    j.q_blocks = (j.q.S + TF_ATTN_QB - 1) / TF_ATTN_QB;
    int64_t tasks = j.q.B * j.q.H * j.q_blocks;
    int threads = thread_pool_size(ctx->pool);
    j.scratch_floats = (TF_ATTN_SCRATCH(j.q.D, j.v.D) + 15) / 16 * 16;
    j.scratch = mem_alloc_aligned((size_t)(j.scratch_floats * threads) * sizeof(float));
    if (!j.scratch) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory for attention scratch");
    thread_pool_parallel_for(ctx->pool, tasks, attention_task, &j);
    mem_free_aligned(j.scratch);
    return STRATA_OK;
}

/* ---- the rows ------------------------------------------------------------------------------- */

#define ISA_ROWS(NAME, OP, DOMAIN, PRIO, SUPPORTS, RUN)                                                   \
    {NAME "__avx512", OP, DOMAIN, CPU_AVX512, GEMM_ISA_AVX512, PRIO + 20, SUPPORTS, RUN, NULL, NULL, NULL}, \
    {NAME "__avx2", OP, DOMAIN, CPU_AVX2, GEMM_ISA_AVX2, PRIO + 10, SUPPORTS, RUN, NULL, NULL, NULL},       \
    {NAME "__scalar", OP, DOMAIN, 0, GEMM_ISA_SCALAR, PRIO, SUPPORTS, RUN, NULL, NULL, NULL}

const fast_kernel fast_transformer_kernels[] = {
    ISA_ROWS("layernorm_f32", "LayerNormalization", "", 10, supports_layernorm, run_layernorm),
    ISA_ROWS("layernorm_f32", "LayerNormalization", "com.strata", 10, supports_layernorm, run_layernorm),
    ISA_ROWS("softmax_f32", "Softmax", "", 10, supports_softmax, run_softmax),
    ISA_ROWS("gelu_f32", "Gelu", "com.strata", 10, supports_gelu, run_gelu),
    ISA_ROWS("gelu_f32", "Gelu", "", 10, supports_gelu, run_gelu),
    ISA_ROWS("binary_f32_bcast", "Add", "", 10, supports_binary, run_binary),
    ISA_ROWS("binary_f32_bcast", "Sub", "", 10, supports_binary, run_binary),
    ISA_ROWS("binary_f32_bcast", "Mul", "", 10, supports_binary, run_binary),
    ISA_ROWS("binary_f32_bcast", "Div", "", 10, supports_binary, run_binary),
    ISA_ROWS("attention_f32_flash", "FusedAttention", "com.strata", 10, supports_attention, run_attention),
    {"transpose_f32__scalar", "Transpose", "", 0, GEMM_ISA_SCALAR, 10, supports_transpose, run_transpose, NULL, NULL, NULL},
    {"gather_f32_rows__scalar", "Gather", "", 0, GEMM_ISA_SCALAR, 10, supports_gather, run_gather, NULL, NULL, NULL},
};
const size_t fast_transformer_count = ARRAY_LEN(fast_transformer_kernels);

/* The ISA tables by name, for the differential tests. */
const tf_ops *fast_transformer_ops(const char *isa)
{
#if defined(__x86_64__) || defined(__i386__)
    if (strcmp(isa, "avx512") == 0) return &fast_transformer_ops_avx512;
    if (strcmp(isa, "avx2") == 0) return &fast_transformer_ops_avx2;
#endif
    return strcmp(isa, "scalar") == 0 ? &fast_transformer_ops_scalar : NULL;
}
