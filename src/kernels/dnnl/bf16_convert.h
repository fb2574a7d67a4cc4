/* kernels/dnnl/bf16_convert.h — f32 -> bfloat16 conversion of activations for the bf16 oneDNN
 * tactics: AVX512-BF16 (vcvtneps2bf16) where the CPU has it, else the scalar dnnl_f32_to_bf16_n. */
#ifndef STRATA_KERNELS_DNNL_BF16_CONVERT_H
#define STRATA_KERNELS_DNNL_BF16_CONVERT_H

#include <stdint.h>

/* dst[i] = bf16(src[i]) for n elements, round to nearest even (kernels/x86/cvt_bf16_avx512bf16.c;
 * needs CPU_AVX512BF16). */
void cvt_f32_to_bf16_avx512bf16(const float *src, uint16_t *dst, int64_t n);

#endif
