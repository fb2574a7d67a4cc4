/* kernels/ref/signal_window.c — reference window generators (opset 17): HannWindow,
 * HammingWindow, BlackmanWindow (periodic or symmetric) and MelWeightMatrix (triangular mel
 * filter banks over the onesided DFT bins). The output type comes from output_datatype. */
#include <math.h>

#include "ref_signal.h"

/* The output_datatype attribute as a numeric dtype. */
static strata_status out_dtype(const op_node *n, strata_dtype *dt)
{
    int64_t v = op_attr_int(n, "output_datatype", STRATA_DTYPE_F32);
    if (!dtype_is_valid((int)v) || v == STRATA_DTYPE_STRING || v == STRATA_DTYPE_BOOL ||
        v == STRATA_DTYPE_C64 || v == STRATA_DTYPE_C128)
        return op_error(n, STRATA_UNSUPPORTED, "output_datatype %lld is not a numeric type",
                        (long long)v);
    *dt = (strata_dtype)v;
    return STRATA_OK;
}

/* ---- cosine-sum windows --------------------------------------------------------------------- */

static strata_status window_infer(const op_node *n, const strata_tensor *const *in,
                                  strata_tensor *const *out)
{
    strata_dtype dt;
    strata_status st = out_dtype(n, &dt);
    if (st) return st;
    int64_t size;
    st = transformer_util_scalar_int(n, op_input(n, in, 0), "size", &size);
    if (st) return st;
    if (size < 0)
        return op_error(n, STRATA_INVALID_ARGUMENT, "window size %lld is negative",
                        (long long)size);
    return tensor_set_shape(out[0], dt, 1, &size);
}

/* w[i] = a0 - a1 cos(2 pi i / N) + a2 cos(4 pi i / N), N = size (periodic) or size - 1. */
static strata_status window_compute(const op_node *n, strata_tensor *out, double a0, double a1,
                                    double a2)
{
    int64_t size = out->dims[0];
    double N = (double)(op_attr_int(n, "periodic", 1) ? size : size - 1);
    for (int64_t i = 0; i < size; i++) {
        double x = N > 0 ? 2.0 * M_PI * (double)i / N : 0.0;
        tensor_set_f64(out, i, a0 - a1 * cos(x) + a2 * cos(2.0 * x));
    }
    return STRATA_OK;
}

strata_status signal_window_hann_infer(const op_node *n, const strata_tensor *const *in,
                                       strata_tensor *const *out)
{
    return window_infer(n, in, out);
}

strata_status signal_window_hann_compute(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    return window_compute(n, out[0], 0.5, 0.5, 0.0);
}

strata_status signal_window_hamming_infer(const op_node *n, const strata_tensor *const *in,
                                          strata_tensor *const *out)
{
    return window_infer(n, in, out);
}

strata_status signal_window_hamming_compute(const op_node *n, const strata_tensor *const *in,
                                            strata_tensor *const *out)
{
    return window_compute(n, out[0], 25.0 / 46.0, 21.0 / 46.0, 0.0);
}

strata_status signal_window_blackman_infer(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    return window_infer(n, in, out);
}

strata_status signal_window_blackman_compute(const op_node *n, const strata_tensor *const *in,
                                             strata_tensor *const *out)
{
    return window_compute(n, out[0], 0.42, 0.5, 0.08);
}

/* ---- MelWeightMatrix ------------------------------------------------------------------------ */

typedef struct mel_args {
    int64_t bins, dft, rate;
    double lo, hi;
} mel_args;

static strata_status mel_read(const op_node *n, const strata_tensor *const *in, mel_args *a)
{
    strata_status st;
    if ((st = transformer_util_scalar_int(n, op_input(n, in, 0), "num_mel_bins", &a->bins)))
        return st;
    if ((st = transformer_util_scalar_int(n, op_input(n, in, 1), "dft_length", &a->dft)))
        return st;
    if ((st = transformer_util_scalar_int(n, op_input(n, in, 2), "sample_rate", &a->rate)))
        return st;
    const strata_tensor *lo = op_input(n, in, 3), *hi = op_input(n, in, 4);
    if ((st = transformer_util_need_float(n, lo, "lower_edge_hertz"))) return st;
    if ((st = transformer_util_need_float(n, hi, "upper_edge_hertz"))) return st;
    if (shape_numel(lo->rank, lo->dims) != 1 || shape_numel(hi->rank, hi->dims) != 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "lower/upper_edge_hertz must be scalars");
    if (!lo->data || !hi->data) return STRATA_NOT_FOUND;
    a->lo = tensor_get_f64(lo, 0);
    a->hi = tensor_get_f64(hi, 0);
    if (a->bins < 1 || a->dft < 1 || a->rate < 1)
        return op_error(n, STRATA_INVALID_ARGUMENT, "num_mel_bins %lld, dft_length %lld and "
                        "sample_rate %lld must be >= 1", (long long)a->bins, (long long)a->dft,
                        (long long)a->rate);
    if (!(a->lo >= 0 && a->lo <= a->hi))
        return op_error(n, STRATA_INVALID_ARGUMENT, "edges %g..%g Hz are not an interval from 0",
                        a->lo, a->hi);
    return STRATA_OK;
}

strata_status signal_window_mel_infer(const op_node *n, const strata_tensor *const *in,
                                      strata_tensor *const *out)
{
    strata_dtype dt;
    strata_status st = out_dtype(n, &dt);
    if (st) return st;
    mel_args a;
    if ((st = mel_read(n, in, &a))) return st;
    int64_t d[2] = {a.dft / 2 + 1, a.bins};
    return tensor_set_shape(out[0], dt, 2, d);
}

strata_status signal_window_mel_compute(const op_node *n, const strata_tensor *const *in,
                                        strata_tensor *const *out)
{
    mel_args a;
    strata_status st = mel_read(n, in, &a);
    if (st) return st;
    int64_t spec = a.dft / 2 + 1, nb = a.bins + 2;
    int64_t *edge = mem_alloc((size_t)nb * sizeof *edge);
    double *w = mem_calloc((size_t)(spec * a.bins), sizeof *w);
    if (!edge || !w) {
        st = transformer_util_oom(n);
        goto done;
    }
    /* mel edges equally spaced by (hi - lo) / (bins + 2), mapped back to DFT bin indices */
    float lo_mel = 2595.0f * log10f(1.0f + (float)a.lo / 700.0f);
    float hi_mel = 2595.0f * log10f(1.0f + (float)a.hi / 700.0f);
    float step = (hi_mel - lo_mel) / (float)nb;
    for (int64_t i = 0; i < nb; i++) {
        double mel = (double)i * (double)step + (double)lo_mel;
        double hz = 700.0 * (pow(10.0, mel / 2595.0) - 1.0);
        edge[i] = (int64_t)floor((double)(a.dft + 1) * hz / (double)a.rate);
        if (edge[i] < 0 || edge[i] >= spec) {
            st = op_error(n, STRATA_INVALID_ARGUMENT, "mel band edge %g Hz falls outside the "
                          "%lld DFT bins", hz, (long long)spec);
            goto done;
        }
    }
    for (int64_t m = 0; m < a.bins; m++) {
        int64_t l = edge[m], c = edge[m + 1], r = edge[m + 2];
        if (c == l) {
            w[c * a.bins + m] = 1.0;
        } else {
            for (int64_t j = l; j <= c; j++)
                w[j * a.bins + m] = (double)(j - l) / (double)(c - l);
        }
        for (int64_t j = c; j < r; j++) w[j * a.bins + m] = (double)(r - j) / (double)(r - c);
    }
    for (int64_t i = 0; i < spec * a.bins; i++) tensor_set_f64(out[0], i, w[i]);
done:
    mem_free(edge);
    mem_free(w);
    return st;
}
