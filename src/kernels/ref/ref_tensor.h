/* kernels/ref/ref_tensor.h — private declarations shared by the tensor family's reference ops
 * (kernels/ref/tensor_*.c): element copy by dtype size, shape setting that tolerates unknown
 * dims, integer-list inputs, strided copies and a stable sort. Not for use outside ref/. */
#ifndef STRATA_REF_TENSOR_H
#define STRATA_REF_TENSOR_H

#include "kernels/kernels.h"

/* Sets dtype/rank/dims of an output during inference; dims may be -1 (unknown). */
strata_status tensor_util_shape(const op_node *n, strata_tensor *out, strata_dtype dtype,
                                int rank, const int64_t *dims);
/* Elements of t, or -1 when a dim is unknown. */
int64_t tensor_util_numel(const strata_tensor *t);
/* True when t's elements are present (data set, or no elements at all). */
bool tensor_util_has_data(const strata_tensor *t);
/* Copies count consecutive elements src[si..] to dst[di..] (any dtype; strings are duplicated
 * and the old dst strings freed). OUT_OF_MEMORY on a failed string copy. */
strata_status tensor_util_copy(strata_tensor *dst, int64_t di, const strata_tensor *src,
                               int64_t si, int64_t count);
/* Copies an output-shaped walk over src: out element with index (o_0..o_r-1) (row-major over
 * dims) reads src element base + sum o_k * src_strides[k] (strides in elements, may be 0 or
 * negative). dst receives every element in order from 0. */
strata_status tensor_util_strided_copy(strata_tensor *dst, const strata_tensor *src, int rank,
                                       const int64_t *dims, const int64_t *src_strides,
                                       int64_t base);
/* Reads an integer tensor (int32/int64; what names it in messages) into buf[cap]; *count gets
 * the element count. NOT_FOUND when its data is unknown; INVALID_MODEL when not an integer
 * tensor or longer than cap. */
strata_status tensor_util_ints(const op_node *n, const strata_tensor *t, const char *what,
                               int64_t *buf, size_t cap, size_t *count);
/* The single value of a one-element tensor as int64 / double; NOT_FOUND when unknown. */
strata_status tensor_util_scalar_i64(const op_node *n, const strata_tensor *t, const char *what,
                                     int64_t *out);
strata_status tensor_util_scalar_f64(const op_node *n, const strata_tensor *t, const char *what,
                                     double *out);
/* Compares elements a and b of t (numeric, bool or string): <0, 0, >0. NaN sorts last. */
int tensor_util_compare(const strata_tensor *ta, int64_t a, const strata_tensor *tb, int64_t b);
/* Stable merge sort of idx[0..n) by cmp(x, y, ctx). OUT_OF_MEMORY when scratch fails. */
strata_status tensor_util_sort(int64_t *idx, int64_t n,
                               int (*cmp)(int64_t x, int64_t y, void *ctx), void *ctx);
/* Error unless t's dtype can be copied by the tensor ops (every dtype but UNDEFINED). */
strata_status tensor_util_check_dtype(const op_node *n, const strata_tensor *t, const char *what);
/* Product of dims[from..to), -1 when one of them is unknown. */
int64_t tensor_util_prod(const int64_t *dims, int from, int to);

/* ---- the ops (infer/compute pairs; see list_tensor.c) ---- */
#define TENSOR_OP_FN(name)                                                                   \
    strata_status name(const op_node *n, const strata_tensor *const *in, strata_tensor *const *out)
TENSOR_OP_FN(tensor_col2im_col2im_infer);
TENSOR_OP_FN(tensor_col2im_col2im_compute);
TENSOR_OP_FN(tensor_const_constant_infer);
TENSOR_OP_FN(tensor_const_constant_compute);
TENSOR_OP_FN(tensor_const_of_shape_infer);
TENSOR_OP_FN(tensor_const_of_shape_compute);
TENSOR_OP_FN(tensor_const_eyelike_infer);
TENSOR_OP_FN(tensor_const_eyelike_compute);
TENSOR_OP_FN(tensor_const_range_infer);
TENSOR_OP_FN(tensor_const_range_compute);
TENSOR_OP_FN(tensor_index_gather_infer);
TENSOR_OP_FN(tensor_index_gather_compute);
TENSOR_OP_FN(tensor_index_gather_elements_infer);
TENSOR_OP_FN(tensor_index_gather_elements_compute);
TENSOR_OP_FN(tensor_index_scatter_elements_infer);
TENSOR_OP_FN(tensor_index_scatter_elements_compute);
TENSOR_OP_FN(tensor_index_gather_nd_infer);
TENSOR_OP_FN(tensor_index_gather_nd_compute);
TENSOR_OP_FN(tensor_index_scatter_nd_infer);
TENSOR_OP_FN(tensor_index_scatter_nd_compute);
TENSOR_OP_FN(tensor_index_compress_infer);
TENSOR_OP_FN(tensor_index_compress_compute);
TENSOR_OP_FN(tensor_index_nonzero_infer);
TENSOR_OP_FN(tensor_index_nonzero_compute);
TENSOR_OP_FN(tensor_index_onehot_infer);
TENSOR_OP_FN(tensor_index_onehot_compute);
TENSOR_OP_FN(tensor_index_tensor_scatter_infer);
TENSOR_OP_FN(tensor_index_tensor_scatter_compute);
TENSOR_OP_FN(tensor_move_transpose_infer);
TENSOR_OP_FN(tensor_move_transpose_compute);
TENSOR_OP_FN(tensor_move_concat_infer);
TENSOR_OP_FN(tensor_move_concat_compute);
TENSOR_OP_FN(tensor_move_split_infer);
TENSOR_OP_FN(tensor_move_split_compute);
TENSOR_OP_FN(tensor_move_slice_infer);
TENSOR_OP_FN(tensor_move_slice_compute);
TENSOR_OP_FN(tensor_move_tile_infer);
TENSOR_OP_FN(tensor_move_tile_compute);
TENSOR_OP_FN(tensor_move_d2s_infer);
TENSOR_OP_FN(tensor_move_d2s_compute);
TENSOR_OP_FN(tensor_move_s2d_infer);
TENSOR_OP_FN(tensor_move_s2d_compute);
TENSOR_OP_FN(tensor_move_trilu_infer);
TENSOR_OP_FN(tensor_move_trilu_compute);
TENSOR_OP_FN(tensor_move_revseq_infer);
TENSOR_OP_FN(tensor_move_revseq_compute);
TENSOR_OP_FN(tensor_pad_pad_infer);
TENSOR_OP_FN(tensor_pad_pad_compute);
TENSOR_OP_FN(tensor_pad_ccp_infer);
TENSOR_OP_FN(tensor_pad_ccp_compute);
TENSOR_OP_FN(tensor_resize_resize_infer);
TENSOR_OP_FN(tensor_resize_resize_compute);
TENSOR_OP_FN(tensor_resize_upsample_infer);
TENSOR_OP_FN(tensor_resize_upsample_compute);
TENSOR_OP_FN(tensor_shape_copy_all_compute);
TENSOR_OP_FN(tensor_shape_reshape_infer);
TENSOR_OP_FN(tensor_shape_flatten_infer);
TENSOR_OP_FN(tensor_shape_squeeze_infer);
TENSOR_OP_FN(tensor_shape_unsqueeze_infer);
TENSOR_OP_FN(tensor_shape_identity_infer);
TENSOR_OP_FN(tensor_shape_dropout_infer);
TENSOR_OP_FN(tensor_shape_dropout_compute);
TENSOR_OP_FN(tensor_shape_expand_infer);
TENSOR_OP_FN(tensor_shape_expand_compute);
TENSOR_OP_FN(tensor_shape_shape_infer);
TENSOR_OP_FN(tensor_shape_shape_compute);
TENSOR_OP_FN(tensor_shape_size_infer);
TENSOR_OP_FN(tensor_shape_size_compute);
TENSOR_OP_FN(tensor_sort_topk_infer);
TENSOR_OP_FN(tensor_sort_topk_compute);
TENSOR_OP_FN(tensor_sort_unique_infer);
TENSOR_OP_FN(tensor_sort_unique_compute);

#endif
