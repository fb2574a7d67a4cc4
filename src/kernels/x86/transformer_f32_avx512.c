/* kernels/x86/transformer_f32_avx512.c — the transformer row kernels of fast_transformer_body.c
 * built with 16-lane vectors under the avx512 flags the Makefile gives this file's suffix;
 * called only when cpu_features() has CPU_AVX512. */
#if defined(__x86_64__) || defined(__i386__)
#define TF_VW 16
#define TF_ISA avx512
#include "kernels/fast_transformer_body.c"
#else
typedef int transformer_f32_avx512_unused;
#endif
