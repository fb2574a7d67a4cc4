/* core/cpu.c — CPU feature detection: cpuid for what the processor implements, xgetbv for what
 * the OS saves on a context switch (YMM, ZMM/opmask, AMX tiles) and, on Linux, the AMX tile-data
 * permission request. Detected once (pthread_once); STRATA_ISA caps the result. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* xgetbv(0) without needing -mxsave: the raw opcode. Only called when OSXSAVE is set. */
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Asks Linux for permission to use AMX tile data (XFEATURE_XTILEDATA = 18); true when granted. */
static int amx_permitted(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
    unsigned long bits = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) != 0) return 0;
    return (bits >> XFEATURE_XTILEDATA) & 1;
#else
    return 0;
#endif
}

static uint32_t detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    unsigned max_leaf = a;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int sse41 = (c >> 19) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    uint32_t f = 0;
    if (sse41) f |= CPU_SSE41;
    if (!osxsave || !avx || max_leaf < 7) return f;

    uint64_t xcr0 = read_xcr0();
    int os_ymm = (xcr0 & 0x6) == 0x6;                 /* SSE + AVX state */
    int os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;     /* opmask, ZMM_Hi256, Hi16_ZMM */
    int os_amx = (xcr0 & (3u << 17)) == (3u << 17);   /* XTILECFG + XTILEDATA */

    unsigned b7, c7, d7, a71 = 0, b71, c71, d71;
    __cpuid_count(7, 0, a, b7, c7, d7);
    unsigned max_sub7 = a;
    if (max_sub7 >= 1) __cpuid_count(7, 1, a71, b71, c71, d71);
    int avx2 = (b7 >> 5) & 1;
    int avx512f = (b7 >> 16) & 1, avx512dq = (b7 >> 17) & 1, avx512bw = (b7 >> 30) & 1,
        avx512vl = (b7 >> 31) & 1;
    int avx512vnni = (c7 >> 11) & 1;
    int amx_bf16 = (d7 >> 22) & 1, amx_tile = (d7 >> 24) & 1, amx_int8 = (d7 >> 25) & 1;
    int avxvnni = (a71 >> 4) & 1, avx512bf16 = (a71 >> 5) & 1;

    if (os_ymm && avx2 && fma && f16c) f |= CPU_AVX2;
    if ((f & CPU_AVX2) && avxvnni) f |= CPU_AVXVNNI;
    if ((f & CPU_AVX2) && os_zmm && avx512f && avx512bw && avx512dq && avx512vl) {
        f |= CPU_AVX512;
        if (avx512vnni) f |= CPU_AVX512VNNI;
        if (avx512bf16) f |= CPU_AVX512BF16;
        if (amx_tile && os_amx && (amx_int8 || amx_bf16) && amx_permitted()) {
            if (amx_int8) f |= CPU_AMX_INT8;
            if (amx_bf16) f |= CPU_AMX_BF16;
        }
    }
    return f;
}
#else
static uint32_t detect(void)
{
    return 0;
}
#endif

/* Written once under pthread_once, read-only afterwards. */
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static uint32_t native_mask;
static uint32_t capped_mask;

static void detect_init(void)
{
    native_mask = detect();
    capped_mask = cpu_features_cap(native_mask, getenv("STRATA_ISA"));
}

uint32_t cpu_features(void)
{
    pthread_once(&detect_once, detect_init);
    return capped_mask;
}

uint32_t cpu_features_native(void)
{
    pthread_once(&detect_once, detect_init);
    return native_mask;
}

static const struct {
    const char *name;
    uint32_t allowed;
} caps[] = {
    {"scalar", 0},
    {"sse41", CPU_SSE41},
    {"avx2", CPU_SSE41 | CPU_AVX2},
    {"avx512", CPU_SSE41 | CPU_AVX2 | CPU_AVXVNNI | CPU_AVX512 | CPU_AVX512VNNI | CPU_AVX512BF16},
    {"native", CPU_ALL},
};

int cpu_isa_name_valid(const char *isa)
{
    if (!isa) return 0;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (strcmp(isa, caps[i].name) == 0) return 1;
    return 0;
}

uint32_t cpu_features_cap(uint32_t mask, const char *isa)
{
    if (!isa || !*isa) return mask;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (strcmp(isa, caps[i].name) == 0) return mask & caps[i].allowed;
    return mask;
}

const char *cpu_feature_names(uint32_t mask, char *buf, size_t n)
{
    static const char *const names[] = {"sse41",      "avx2",    "avx512",  "avx512vnni",
                                        "avx512bf16", "avxvnni", "amx-int8", "amx-bf16"};
    if (!buf || n == 0) return buf;
    buf[0] = 0;
    size_t used = 0;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(mask & (1u << i))) continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? " " : "", names[i]);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
    if (!used) snprintf(buf, n, "none");
    return buf;
}

void cpu_touch(const void *p, size_t n)
{
    const volatile unsigned char *c = p;
    unsigned char sink = 0;
    for (size_t i = 0; i < n; i += 64) sink ^= c[i];
    if (n) sink ^= c[n - 1];
    (void)sink;
}

void cpu_flush_cache(const void *p, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
    const char *c = (const char *)((uintptr_t)p & ~(uintptr_t)63), *end = (const char *)p + n;
    for (; c < end; c += 64) __builtin_ia32_clflush(c);
    __builtin_ia32_mfence();
#else
    (void)p, (void)n;
#endif
}
