/* kernels/ref/math_det.c — Det: the determinant of each square matrix in [..., M, M], by LU
 * decomposition with partial pivoting in double. */
#include <math.h>

#include "ref_math.h"

strata_status math_det_infer(const op_node *n, const strata_tensor *const *in,
                             strata_tensor *const *out)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "input 0 is missing");
    if (!dtype_is_float(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "input type %s is not supported", math_dtype(x));
    if (x->rank < 2)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input has rank %d, expected >= 2",
                        x->rank);
    int64_t r = x->dims[x->rank - 2], c = x->dims[x->rank - 1];
    if (r >= 0 && c >= 0 && r != c)
        return op_error(n, STRATA_INVALID_ARGUMENT, "matrices are %lldx%lld, not square",
                        (long long)r, (long long)c);
    if (!out[0]) return STRATA_OK;
    return tensor_set_shape(out[0], x->dtype, x->rank - 2, x->dims);
}

strata_status math_det_compute(const op_node *n, const strata_tensor *const *in,
                               strata_tensor *const *out)
{
    const strata_tensor *x = in[0];
    strata_tensor *y = out[0];
    if (!y) return STRATA_OK;
    int64_t m = x->dims[x->rank - 1];
    int64_t batch = shape_numel(x->rank - 2, x->dims);
    if (batch <= 0) return STRATA_OK;
    double *a = mem_alloc((size_t)(m > 0 ? m * m : 1) * sizeof *a);
    if (!a) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory for a %lldx%lld matrix",
                            (long long)m, (long long)m);
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t i = 0; i < m * m; i++) a[i] = math_ld(x, b * m * m + i);
        double det = 1;
        for (int64_t k = 0; k < m && det != 0; k++) {
            int64_t p = k;
            for (int64_t i = k + 1; i < m; i++)
                if (fabs(a[i * m + k]) > fabs(a[p * m + k])) p = i;
            if (a[p * m + k] == 0) {
                det = 0;
                break;
            }
            if (p != k) {
                for (int64_t j = 0; j < m; j++) {
                    double t = a[k * m + j];
                    a[k * m + j] = a[p * m + j];
                    a[p * m + j] = t;
                }
                det = -det;
            }
            det *= a[k * m + k];
            for (int64_t i = k + 1; i < m; i++) {
                double f = a[i * m + k] / a[k * m + k];
                for (int64_t j = k; j < m; j++) a[i * m + j] -= f * a[k * m + j];
            }
        }
        math_st(y, b, det);
    }
    mem_free(a);
    return STRATA_OK;
}
