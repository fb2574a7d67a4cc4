/* kernels/ref/nn_nms.c — reference NonMaxSuppression: per batch and class, greedy selection by
 * descending score (ties by box index), dropping boxes whose IoU with a selected one exceeds the
 * threshold. The output's row count depends on the values, so infer runs the selection too. */
#include <math.h>
#include <string.h>

#include "ref_nn.h"

typedef struct nms_cand {
    double score;   /* box score for this class */
    int64_t box;    /* box index */
} nms_cand;

/* Corners (y1, x1, y2, x2) of box i of batch b, normalised so that y1 <= y2, x1 <= x2. */
static void nms_box(const double *boxes, int64_t S, int64_t b, int64_t i, bool center,
                    double *c)
{
    const double *p = boxes + (b * S + i) * 4;
    if (center) {
        c[0] = p[1] - p[3] / 2;
        c[1] = p[0] - p[2] / 2;
        c[2] = p[1] + p[3] / 2;
        c[3] = p[0] + p[2] / 2;
    } else {
        c[0] = fmin(p[0], p[2]);
        c[1] = fmin(p[1], p[3]);
        c[2] = fmax(p[0], p[2]);
        c[3] = fmax(p[1], p[3]);
    }
}

static double nms_iou(const double *a, const double *b)
{
    double ih = fmin(a[2], b[2]) - fmax(a[0], b[0]);
    double iw = fmin(a[3], b[3]) - fmax(a[1], b[1]);
    if (ih <= 0 || iw <= 0) return 0;
    double inter = ih * iw;
    double ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return ua > 0 ? inter / ua : 0;
}

/* Stable insertion sort by descending score (reference code: clarity over speed). */
static void sort_cands(nms_cand *c, int64_t n)
{
    for (int64_t i = 1; i < n; i++) {
        nms_cand v = c[i];
        int64_t j = i;
        while (j > 0 && c[j - 1].score < v.score) {
            c[j] = c[j - 1];
            j--;
        }
        c[j] = v;
    }
}

/* Runs the selection; writes up to cap triples into sel (may be NULL) and the count. */
static strata_status nms_run(const op_node *n, const strata_tensor *const *in, int64_t *sel,
                             int64_t cap, int64_t *count)
{
    const strata_tensor *bx = in[0], *sc = in[1];
    const strata_tensor *mo = op_input(n, in, 2), *it = op_input(n, in, 3), *st_ = op_input(n, in, 4);
    int64_t B = bx->dims[0], S = bx->dims[1], C = sc->dims[1];
    int64_t max_out = mo && nn_util_numel(mo) > 0 ? tensor_get_i64(mo, 0) : 0;
    double iou_th = it && nn_util_numel(it) > 0 ? tensor_get_f64(it, 0) : 0.0;
    bool has_sth = st_ && nn_util_numel(st_) > 0;
    double score_th = has_sth ? tensor_get_f64(st_, 0) : 0.0;
    bool center = op_attr_int(n, "center_point_box", 0) != 0;
    *count = 0;
    if (max_out <= 0 || S == 0) return STRATA_OK;
    double *boxes = nn_util_f64_load(bx), *scores = nn_util_f64_load(sc);
    nms_cand *cand = mem_alloc((size_t)S * sizeof *cand);
    int64_t *kept = mem_alloc((size_t)S * sizeof *kept);
    strata_status st = STRATA_OK;
    if (!boxes || !scores || !cand || !kept) {
        st = nn_util_oom(n);
        goto done;
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t c = 0; c < C; c++) {
            int64_t nc = 0, nk = 0;
            for (int64_t i = 0; i < S; i++) {
                double s = scores[(b * C + c) * S + i];
                if (has_sth && !(s > score_th)) continue;
                cand[nc].score = s;
                cand[nc].box = i;
                nc++;
            }
            sort_cands(cand, nc);
            for (int64_t k = 0; k < nc && nk < max_out; k++) {
                double a[4], o[4];
                nms_box(boxes, S, b, cand[k].box, center, a);
                bool keep = true;
                for (int64_t j = 0; j < nk && keep; j++) {
                    nms_box(boxes, S, b, kept[j], center, o);
                    if (nms_iou(a, o) > iou_th) keep = false;
                }
                if (!keep) continue;
                kept[nk++] = cand[k].box;
                if (sel && *count < cap) {
                    sel[*count * 3] = b;
                    sel[*count * 3 + 1] = c;
                    sel[*count * 3 + 2] = cand[k].box;
                }
                (*count)++;
            }
        }
done:
    mem_free(boxes);
    mem_free(scores);
    mem_free(cand);
    mem_free(kept);
    return st;
}

strata_status nn_nms_infer(const op_node *n, const strata_tensor *const *in,
                           strata_tensor *const *out)
{
    const strata_tensor *bx = op_input(n, in, 0), *sc = op_input(n, in, 1);
    if (!bx || !sc) return op_error(n, STRATA_INVALID_MODEL, "needs inputs boxes and scores");
    strata_status st = nn_util_need_float(n, bx, "boxes");
    if (!st) st = nn_util_need_float(n, sc, "scores");
    if (st) return st;
    if (bx->rank != 3 || sc->rank != 3 || (bx->dims[2] >= 0 && bx->dims[2] != 4))
        return op_error(n, STRATA_INVALID_ARGUMENT, "need boxes [B, S, 4] and scores [B, C, S]");
    if ((bx->dims[0] >= 0 && sc->dims[0] >= 0 && bx->dims[0] != sc->dims[0]) ||
        (bx->dims[1] >= 0 && sc->dims[2] >= 0 && bx->dims[1] != sc->dims[2]))
        return op_error(n, STRATA_INVALID_ARGUMENT, "boxes and scores disagree on batch or box count");
    for (size_t i = 0; i < 5 && i < n->n_inputs; i++)
        if (in[i] && !in[i]->data) {
            int64_t dims[2] = {-1, 3};
            tensor_set_shape(out[0], STRATA_DTYPE_I64, 2, dims);
            return STRATA_NOT_FOUND;
        }
    int64_t cnt;
    if ((st = nms_run(n, in, NULL, 0, &cnt))) return st;
    int64_t dims[2] = {cnt, 3};
    return tensor_set_shape(out[0], STRATA_DTYPE_I64, 2, dims);
}

strata_status nn_nms_compute(const op_node *n, const strata_tensor *const *in,
                             strata_tensor *const *out)
{
    int64_t cnt, cap = out[0]->dims[0];
    return nms_run(n, in, out[0]->data, cap, &cnt);
}
