/* kernels/ref/tensor_col2im.c — reference Col2Im: scatters-and-adds column blocks
 * [N, C * prod(block), L] back into images [N, C, *image_shape] (the inverse of im2col), with
 * dilations, pads and strides. */
#include <string.h>

#include "ref_tensor.h"

typedef struct col2im_plan {
    int nd;                              /* spatial dims */
    int64_t image[STRATA_MAX_DIMS];      /* output spatial extents */
    int64_t block[STRATA_MAX_DIMS];      /* block (kernel) extents */
    int64_t dil[STRATA_MAX_DIMS], stride[STRATA_MAX_DIMS];
    int64_t pad_b[STRATA_MAX_DIMS], pad_e[STRATA_MAX_DIMS];
    int64_t grid[STRATA_MAX_DIMS];       /* sliding positions per spatial dim */
    int64_t n_block, n_grid;             /* products of block and grid */
} col2im_plan;

static strata_status read_attr_list(const op_node *n, const char *name, size_t want, int64_t dflt,
                                    int64_t *out)
{
    size_t k;
    const int64_t *a = op_attr_ints(n, name, &k);
    for (size_t i = 0; i < want; i++) out[i] = dflt;
    if (!a) return STRATA_OK;
    if (k != want)
        return op_error(n, STRATA_INVALID_MODEL, "'%s' has %zu entries, expected %zu", name, k, want);
    memcpy(out, a, k * sizeof *a);
    return STRATA_OK;
}

static strata_status col2im_plan_make(const op_node *n, const strata_tensor *const *in,
                                      col2im_plan *p)
{
    const strata_tensor *x = op_input(n, in, 0);
    if (!x) return op_error(n, STRATA_INVALID_MODEL, "missing input");
    if (!dtype_is_float(x->dtype) && !dtype_is_int(x->dtype))
        return op_error(n, STRATA_UNSUPPORTED, "dtype %s", strata_dtype_name(x->dtype));
    if (x->rank != 3)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input must be 3-D [N, C*prod(block), L]");
    size_t ni, nb;
    strata_status st = tensor_util_ints(n, op_input(n, in, 1), "image_shape", p->image,
                                        STRATA_MAX_DIMS - 2, &ni);
    if (st == STRATA_OK)
        st = tensor_util_ints(n, op_input(n, in, 2), "block_shape", p->block, STRATA_MAX_DIMS - 2, &nb);
    if (st != STRATA_OK) return st;
    if (ni != nb || ni == 0)
        return op_error(n, STRATA_INVALID_MODEL, "image_shape (%zu) and block_shape (%zu) differ", ni, nb);
    p->nd = (int)ni;
    int64_t pads[2 * STRATA_MAX_DIMS];
    st = read_attr_list(n, "dilations", ni, 1, p->dil);
    if (st == STRATA_OK) st = read_attr_list(n, "strides", ni, 1, p->stride);
    if (st == STRATA_OK) st = read_attr_list(n, "pads", 2 * ni, 0, pads);
    if (st != STRATA_OK) return st;
    p->n_block = p->n_grid = 1;
    for (int d = 0; d < p->nd; d++) {
        p->pad_b[d] = pads[d];
        p->pad_e[d] = pads[d + p->nd];
        if (p->image[d] < 0 || p->block[d] < 1 || p->dil[d] < 1 || p->stride[d] < 1)
            return op_error(n, STRATA_INVALID_ARGUMENT, "bad image/block/dilation/stride on dim %d", d);
        const int64_t lim = STRATA_MAX_ELEMENTS;
        int64_t span;
        if (p->image[d] > lim || p->block[d] > lim || p->pad_b[d] > lim || p->pad_b[d] < -lim ||
            p->pad_e[d] > lim || p->pad_e[d] < -lim ||
            __builtin_mul_overflow(p->dil[d], p->block[d] - 1, &span) || span > lim)
            return op_error(n, STRATA_INVALID_ARGUMENT, "sizes on dim %d are too large", d);
        span += 1;
        int64_t room = p->image[d] + p->pad_b[d] + p->pad_e[d] - span;
        if (room < 0)
            return op_error(n, STRATA_INVALID_ARGUMENT, "block larger than the padded image on dim %d", d);
        p->grid[d] = room / p->stride[d] + 1;
        if (__builtin_mul_overflow(p->n_block, p->block[d], &p->n_block) ||
            __builtin_mul_overflow(p->n_grid, p->grid[d], &p->n_grid) ||
            p->n_block > STRATA_MAX_ELEMENTS || p->n_grid > STRATA_MAX_ELEMENTS)
            return op_error(n, STRATA_INVALID_ARGUMENT, "block or image too large");
    }
    if (x->dims[1] >= 0 && x->dims[1] % p->n_block)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input dim 1 (%lld) not a multiple of the block size %lld",
                        (long long)x->dims[1], (long long)p->n_block);
    if (x->dims[2] >= 0 && x->dims[2] != p->n_grid)
        return op_error(n, STRATA_INVALID_ARGUMENT, "input has %lld blocks, the image needs %lld",
                        (long long)x->dims[2], (long long)p->n_grid);
    return STRATA_OK;
}

strata_status tensor_col2im_col2im_infer(const op_node *n, const strata_tensor *const *in,
                                         strata_tensor *const *out)
{
    col2im_plan p;
    strata_status st = col2im_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    int64_t dims[STRATA_MAX_DIMS] = {x->dims[0], x->dims[1] < 0 ? -1 : x->dims[1] / p.n_block};
    for (int d = 0; d < p.nd; d++) dims[2 + d] = p.image[d];
    return tensor_util_shape(n, out[0], x->dtype, 2 + p.nd, dims);
}

strata_status tensor_col2im_col2im_compute(const op_node *n, const strata_tensor *const *in,
                                           strata_tensor *const *out)
{
    col2im_plan p;
    strata_status st = col2im_plan_make(n, in, &p);
    if (st != STRATA_OK) return st;
    const strata_tensor *x = in[0];
    int64_t N = x->dims[0], C = x->dims[1] / p.n_block, img = tensor_util_prod(p.image, 0, p.nd);
    double *acc = mem_calloc((size_t)(N * C * img + 1), sizeof *acc);
    if (!acc) return op_error(n, STRATA_OUT_OF_MEMORY, "out of memory");
    for (int64_t b = 0; b < N * C; b++)
        for (int64_t k = 0; k < p.n_block; k++) {
            int64_t kc[STRATA_MAX_DIMS], kr = k;
            for (int d = p.nd - 1; d >= 0; d--) kc[d] = kr % p.block[d], kr /= p.block[d];
            for (int64_t l = 0; l < p.n_grid; l++) {
                int64_t pos = 0, r = l;
                bool inside = true;
                int64_t lc[STRATA_MAX_DIMS];
                for (int d = p.nd - 1; d >= 0; d--) lc[d] = r % p.grid[d], r /= p.grid[d];
                for (int d = 0; d < p.nd && inside; d++) {
                    int64_t c = lc[d] * p.stride[d] - p.pad_b[d] + kc[d] * p.dil[d];
                    if (c < 0 || c >= p.image[d]) inside = false;
                    pos = pos * p.image[d] + c;
                }
                if (inside) acc[b * img + pos] += tensor_get_f64(x, (b * p.n_block + k) * p.n_grid + l);
            }
        }
    int64_t no = N * C * img;
    for (int64_t i = 0; i < no; i++) tensor_set_f64(out[0], i, acc[i]);
    mem_free(acc);
    return STRATA_OK;
}
