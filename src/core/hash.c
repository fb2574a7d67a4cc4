/* core/hash.c — a fast 64-bit content hash (plan checksums, model hashes, timing-cache keys).
 * Eight independent 64-bit lanes take 64-byte stripes; each lane adds the 32x32→64 product of
 * the two halves of (word ^ key) and the neighbour's raw word (the accumulate step of the xxh3
 * design), which compilers vectorise with plain SSE2/AVX2 multiplies; lanes are scrambled every
 * 1 KiB and mixed at the end. Detects corruption, not tampering (not cryptographic). */
#include <pthread.h>
#include <string.h>

#include "core.h"

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P32 0x9E3779B1u
#define STRIPE 64
#define STRIPES_PER_BLOCK 16

static const uint64_t lane_key[8] = {
    0xbe4ba423396cfeb8ull, 0x1cad21f72c81017cull, 0xdb979083e96dd4deull, 0x1f67b3b7a4a44072ull,
    0x78e5c0cc4ee679cbull, 0x2172ffcc7dd05a82ull, 0x8e2443f7744608b8ull, 0x4c263a81e69035e0ull,
};

static uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static void accumulate(uint64_t acc[8], const uint8_t *p, uint64_t salt)
{
    uint64_t w[8];
    memcpy(w, p, STRIPE);
    for (int i = 0; i < 8; i++) {
        uint64_t k = w[i] ^ (lane_key[i] + salt);
        acc[i ^ 1] += w[i];
        acc[i] += (k & 0xffffffffull) * (k >> 32);
    }
}

static void scramble(uint64_t acc[8])
{
    for (int i = 0; i < 8; i++) {
        uint64_t a = acc[i] ^ (acc[i] >> 47) ^ lane_key[i];
        acc[i] = a * P32;
    }
}

static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

uint64_t hash64(const void *data, size_t n, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t acc[8] = {P1, P2, P3, P32, P1 ^ seed, P2 + seed, P3 - seed, rotl(P1, 17) ^ seed};
    size_t i = 0, stripe = 0;
    for (; i + STRIPE <= n; i += STRIPE) {
        accumulate(acc, p + i, seed);
        if (++stripe == STRIPES_PER_BLOCK) {
            scramble(acc);
            stripe = 0;
        }
    }
    uint64_t h = (uint64_t)n * P1 ^ seed;
    for (int k = 0; k < 8; k++) h = rotl(h ^ mix64(acc[k] + (uint64_t)k), 27) * P1 + P3;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = rotl(h ^ (w * P2), 31) * P1 + P3;
    }
    for (; i < n; i++) h = rotl(h ^ (p[i] * P3), 11) * P1;
    return mix64(h);
}

/* ---- chunked hash: the same value whatever the thread count --------------------------------- */

#define CHUNK ((size_t)4 << 20)

typedef struct chunk_job {
    const uint8_t *p;
    size_t n;
    uint64_t seed;
    uint64_t *out;    /* one hash per chunk */
    size_t first, step, n_chunks;
} chunk_job;

static void *hash_chunks(void *arg)
{
    chunk_job *j = arg;
    for (size_t c = j->first; c < j->n_chunks; c += j->step) {
        size_t off = c * CHUNK, len = j->n - off < CHUNK ? j->n - off : CHUNK;
        j->out[c] = hash64(j->p + off, len, j->seed);
    }
    return NULL;
}

uint64_t hash64_chunked(const void *data, size_t n, uint64_t seed, int n_threads)
{
    size_t n_chunks = (n + CHUNK - 1) / CHUNK;
    if (n_chunks <= 1) return hash64(data, n, seed);
    uint64_t local[64];
    uint64_t *out = n_chunks <= 64 ? local : mem_alloc(n_chunks * sizeof *out);
    if (!out) { /* no memory for the list: hash serially, chunk by chunk, in a rolling value */
        uint64_t h = seed;
        for (size_t c = 0; c < n_chunks; c++) {
            size_t off = c * CHUNK, len = n - off < CHUNK ? n - off : CHUNK;
            uint64_t hc = hash64((const uint8_t *)data + off, len, seed);
            h = hash64(&hc, 8, h);
        }
        return h;
    }
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 8) n_threads = 8;
    chunk_job jobs[8];
    pthread_t th[8];
    int started = 0;
    for (int t = 0; t < n_threads; t++)
        jobs[t] = (chunk_job){data, n, seed, out, (size_t)t, (size_t)n_threads, n_chunks};
    for (int t = 1; t < n_threads; t++)
        if (pthread_create(&th[t], NULL, hash_chunks, &jobs[t]) == 0) started |= 1 << t;
        else hash_chunks(&jobs[t]); /* no thread: do its share here */
    hash_chunks(&jobs[0]);
    for (int t = 1; t < n_threads; t++)
        if (started & (1 << t)) pthread_join(th[t], NULL);
    uint64_t h = seed;
    for (size_t c = 0; c < n_chunks; c++) h = hash64(&out[c], 8, h);
    if (out != local) mem_free(out);
    return h;
}
