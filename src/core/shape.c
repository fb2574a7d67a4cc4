/* core/shape.c — shape math shared by every layer: strides and numpy broadcasting. */
#include "core.h"

strata_status shape_broadcast(int rank_a, const int64_t *dims_a, int rank_b,
                              const int64_t *dims_b, int *rank_out, int64_t *dims_out)
{
    int r = rank_a > rank_b ? rank_a : rank_b;
    if (r > STRATA_MAX_DIMS)
        return error_set(STRATA_INVALID_ARGUMENT, "broadcast: rank %d too large", r);
    int64_t tmp[STRATA_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - rank_a), ib = i - (r - rank_b);
        int64_t a = ia >= 0 ? dims_a[ia] : 1, b = ib >= 0 ? dims_b[ib] : 1;
        int64_t d;
        if (a == b) d = a;
        else if (a == 1) d = b;
        else if (b == 1) d = a;
        else if (a < 0) d = b; /* unknown vs known (static inference) */
        else if (b < 0) d = a;
        else {
            char sa[140], sb[140];
            return error_set(STRATA_INVALID_ARGUMENT,
                             "shapes %s and %s do not broadcast (dim %d: %lld vs %lld)",
                             shape_describe(rank_a, dims_a, sa, sizeof sa),
                             shape_describe(rank_b, dims_b, sb, sizeof sb), i, (long long)a,
                             (long long)b);
        }
        tmp[i] = d;
    }
    for (int i = 0; i < r; i++) dims_out[i] = tmp[i];
    *rank_out = r;
    return STRATA_OK;
}

void shape_strides(int rank, const int64_t *dims, int64_t *strides_out)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides_out[i] = s;
        s *= dims[i];
    }
}

void shape_broadcast_strides(int rank, const int64_t *dims, int out_rank, int64_t *strides_out)
{
    int64_t own[STRATA_MAX_DIMS];
    shape_strides(rank, dims, own);
    for (int i = 0; i < out_rank; i++) {
        int j = i - (out_rank - rank);
        strides_out[i] = (j < 0 || dims[j] == 1) ? 0 : own[j];
    }
}
