/* kernels/ref/transformer_rotary.c — reference RotaryEmbedding (opset 23): rotates the first
 * rotary_embedding_dim features of each head by position-dependent angles given as cos/sin
 * caches (gathered by position_ids, or already [B, S, *]), split-half or interleaved pairs,
 * over 4-D (B, H, S, D) or 3-D (B, S, H*D) input. Computes in double. */
#include "ref_transformer.h"

typedef struct rope_geom {
    int64_t B, H, S, D, rot;
} rope_geom;

static strata_status geometry(const op_node *n, const strata_tensor *const *in, rope_geom *g)
{
    const strata_tensor *x = op_input(n, in, 0), *c = op_input(n, in, 1),
                        *s = op_input(n, in, 2), *pos = op_input(n, in, 3);
    strata_status st;
    if ((st = transformer_util_need_float(n, x, "input"))) return st;
    if ((st = transformer_util_need_float(n, c, "cos_cache"))) return st;
    if ((st = transformer_util_need_float(n, s, "sin_cache"))) return st;
    int64_t heads = op_attr_int(n, "num_heads", 0);
    if (x->rank == 4) {
        g->B = x->dims[0];
        g->H = x->dims[1];
        g->S = x->dims[2];
        g->D = x->dims[3];
    } else if (x->rank == 3) {
        if (heads <= 0)
            return op_error(n, STRATA_INVALID_MODEL, "3-D input needs num_heads > 0");
        g->B = x->dims[0];
        g->S = x->dims[1];
        g->H = heads;
        if (x->dims[2] >= 0 && x->dims[2] % heads != 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "hidden size %lld is not a multiple of "
                            "num_heads %lld", (long long)x->dims[2], (long long)heads);
        g->D = x->dims[2] < 0 ? -1 : x->dims[2] / heads;
    } else {
        return op_error(n, STRATA_INVALID_ARGUMENT, "input has rank %d; want 3 or 4", x->rank);
    }
    g->rot = op_attr_int(n, "rotary_embedding_dim", 0);
    if (g->rot == 0) g->rot = g->D;
    if (g->rot < 0 || (g->D >= 0 && g->rot > g->D) || (g->rot > 0 && g->rot % 2 != 0))
        return op_error(n, STRATA_INVALID_MODEL, "rotary_embedding_dim %lld must be even and "
                        "<= head size %lld", (long long)g->rot, (long long)g->D);
    int want_rank = pos ? 2 : 3;
    if (c->rank != want_rank || s->rank != want_rank)
        return op_error(n, STRATA_INVALID_ARGUMENT, "cos_cache/sin_cache have ranks %d/%d; want "
                        "%d %s position_ids", c->rank, s->rank, want_rank,
                        pos ? "with" : "without");
    for (int i = 0; i < c->rank; i++)
        if (c->dims[i] >= 0 && s->dims[i] >= 0 && c->dims[i] != s->dims[i])
            return op_error(n, STRATA_INVALID_ARGUMENT, "cos_cache and sin_cache shapes differ");
    int64_t half = c->dims[c->rank - 1];
    if (half >= 0 && g->rot >= 0 && half < g->rot / 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "caches have %lld entries per position; "
                        "need %lld", (long long)half, (long long)(g->rot / 2));
    if (pos) {
        if (!dtype_is_int(pos->dtype) || pos->rank != 2)
            return op_error(n, STRATA_INVALID_ARGUMENT, "position_ids must be a 2-D integer "
                            "tensor [batch, sequence]");
        if ((pos->dims[0] >= 0 && g->B >= 0 && pos->dims[0] != g->B) ||
            (pos->dims[1] >= 0 && g->S >= 0 && pos->dims[1] != g->S))
            return op_error(n, STRATA_INVALID_ARGUMENT, "position_ids shape does not match "
                            "[%lld, %lld]", (long long)g->B, (long long)g->S);
    } else if ((c->dims[0] >= 0 && g->B >= 0 && c->dims[0] != g->B) ||
               (c->dims[1] >= 0 && g->S >= 0 && c->dims[1] != g->S)) {
        return op_error(n, STRATA_INVALID_ARGUMENT, "caches without position_ids must be "
                        "[%lld, %lld, *]", (long long)g->B, (long long)g->S);
    }
    return STRATA_OK;
}

strata_status transformer_rotary_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    rope_geom g;
    strata_status st = geometry(n, in, &g);
    if (st) return st;
    return tensor_set_shape(out[0], in[0]->dtype, in[0]->rank, in[0]->dims);
}

strata_status transformer_rotary_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    rope_geom g;
    strata_status st = geometry(n, in, &g);
    if (st) return st;
    const strata_tensor *x = in[0], *c = in[1], *s = in[2], *pos = op_input(n, in, 3);
    bool inter = op_attr_int(n, "interleaved", 0) != 0, is3d = x->rank == 3;
    int64_t half = g.rot / 2, cw = c->dims[c->rank - 1];
    double *xd = transformer_util_load(x), *cd = transformer_util_load(c),
           *sd = transformer_util_load(s);
    if (!xd || !cd || !sd) {
        st = transformer_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < g.B; b++)
        for (int64_t t = 0; t < g.S; t++) {
            int64_t row = b * g.S + t;
            if (pos) {
                row = tensor_get_i64(pos, b * g.S + t);
                if (row < 0 || row >= c->dims[0]) {
                    st = op_error(n, STRATA_INVALID_ARGUMENT, "position_ids[%lld][%lld] = %lld "
                                  "outside the caches' %lld positions", (long long)b,
                                  (long long)t, (long long)row, (long long)c->dims[0]);
                    goto done;
                }
            }
            const double *cr = cd + row * cw, *sr = sd + row * cw;
            for (int64_t h = 0; h < g.H; h++) {
                double *p = is3d ? xd + (b * g.S + t) * g.H * g.D + h * g.D
                                 : xd + ((b * g.H + h) * g.S + t) * g.D;
                for (int64_t i = 0; i < half; i++) {
                    int64_t i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + half;
                    double x1 = p[i1], x2 = p[i2];
                    p[i1] = cr[i] * x1 - sr[i] * x2;
                    p[i2] = sr[i] * x1 + cr[i] * x2;
                }
            }
        }
    transformer_util_store(out[0], xd);
done:
    mem_free(xd);
    mem_free(cd);
    mem_free(sd);
    return st;
}
