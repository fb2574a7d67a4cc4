/* core/cpu.h — what this CPU can run: cpuid + xgetbv detection done once, as a bitmask of ISA
 * bundles (the tokens of the kernels' ISA vocabulary), capped by STRATA_ISA for tests and for
 * forcing a lower ISA. Non-x86 builds report no features. (To be folded into core.h.) */
#ifndef STRATA_CORE_CPU_H
#define STRATA_CORE_CPU_H

#include <stddef.h>
#include <stdint.h>

/* Feature bits. Each is a bundle that a kernel file's ISA suffix needs, and is set only when
 * both the CPU and the OS (XCR0 state, AMX permission) support it. */
#define CPU_SSE41      (1u << 0) /* sse4.1 */
#define CPU_AVX2       (1u << 1) /* avx2 + fma + f16c, OS saves YMM */
#define CPU_AVX512     (1u << 2) /* avx512 f + bw + dq + vl, OS saves ZMM and opmask */
#define CPU_AVX512VNNI (1u << 3) /* CPU_AVX512 + avx512_vnni */
#define CPU_AVX512BF16 (1u << 4) /* CPU_AVX512 + avx512_bf16 */
#define CPU_AVXVNNI    (1u << 5) /* CPU_AVX2 + avx_vnni (VEX-encoded VNNI) */
#define CPU_AMX_INT8   (1u << 6) /* CPU_AVX512 + amx-tile + amx-int8, tile data permitted */
#define CPU_AMX_BF16   (1u << 7) /* CPU_AVX512 + amx-tile + amx-bf16, tile data permitted */
#define CPU_ALL        0xFFu

/* Features of this machine, detected once (thread-safe), then capped by the environment
 * variable STRATA_ISA read at that moment: "scalar" (none), "sse41", "avx2" (sse41, avx2),
 * "avx512" (everything but AMX); "native" or unset: no cap. An unknown value caps nothing. */
uint32_t cpu_features(void);
/* The features this machine has, without the STRATA_ISA cap. */
uint32_t cpu_features_native(void);
/* mask limited by the cap named isa (the STRATA_ISA vocabulary above; NULL or "" = no cap).
 * Pure: for tests and for callers that take the cap from an option rather than the env. */
uint32_t cpu_features_cap(uint32_t mask, const char *isa);
/* True when isa is a valid STRATA_ISA value. */
int cpu_isa_name_valid(const char *isa);
/* Space-separated names of the bits in mask ("avx2 avx512 ..."), "none" for 0; always
 * NUL-terminated in buf (truncated if n is small). Returns buf. */
const char *cpu_feature_names(uint32_t mask, char *buf, size_t n);
/* Writes back and evicts [p, p + n) from every cache level (x86 clflush; a no-op elsewhere): so
 * a timed kernel reads its weights from memory, as it does inside a model too large for cache. */
void cpu_flush_cache(const void *p, size_t n);
/* Reads a byte of every cache line of [p, p + n): the range into the caches (as far as it fits). */
void cpu_touch(const void *p, size_t n);

#endif
