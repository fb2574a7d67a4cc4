/* kernels/x86/transformer_f32_avx2.c — the transformer row kernels of fast_transformer_body.c
 * built with 8-lane vectors under the avx2 flags the Makefile gives this file's suffix;
 * called only when cpu_features() has CPU_AVX2. */
#if defined(__x86_64__) || defined(__i386__)
#define TF_VW 8
#define TF_ISA avx2
#include "kernels/fast_transformer_body.c"
#else
typedef int transformer_f32_avx2_unused;
#endif
