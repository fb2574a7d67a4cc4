/* serialize/plan_write.c — optimized model + program → plan file bytes (plan_format.h),
 * deterministic, written atomically (temporary file, fsync, rename). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "plan_format.h"

/* A growable byte buffer. */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    bool failed;
} buf;

static void put(buf *b, const void *src, size_t n)
{
    if (b->failed) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *q = mem_realloc(b->p, cap);
        if (!q) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put_u16(buf *b, uint16_t v) { put(b, &v, 2); }
static void put_u32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(buf *b, uint64_t v) { put(b, &v, 8); }

static void put_str(buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 65535) n = 65535;
    put_u16(b, (uint16_t)n);
    put(b, s, n);
}

static void pad_to(buf *b, size_t align)
{
    static const uint8_t zeros[PLAN_ALIGN];
    size_t r = b->n % align;
    if (r) put(b, zeros, align - r);
}

/* Weight placement for the ONNX writer: append at the next 64-byte boundary. */
static strata_status place_weight(void *ctx, const strata_tensor *t, uint64_t *offset)
{
    buf *w = ctx;
    pad_to(w, PLAN_ALIGN);
    *offset = w->n;
    put(w, t->data, t->n_bytes);
    return w->failed ? error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory for weights") : STRATA_OK;
}

static void set_u64(uint8_t *h, size_t off, uint64_t v) { memcpy(h + off, &v, 8); }
static void set_u32(uint8_t *h, size_t off, uint32_t v) { memcpy(h + off, &v, 4); }

static strata_status write_all(const char *path, const uint8_t *parts[], const size_t sizes[], int n_parts)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return error_set(STRATA_IO_ERROR, "%s: cannot create: %s", tmp, strerror(errno));
    for (int k = 0; k < n_parts; k++) {
        size_t done = 0;
        while (done < sizes[k]) {
            ssize_t w = write(fd, parts[k] + done, sizes[k] - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                int e = errno;
                close(fd);
                unlink(tmp);
                return error_set(STRATA_IO_ERROR, "%s: write failed: %s", tmp, strerror(e));
            }
            done += (size_t)w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return error_set(STRATA_IO_ERROR, "%s: cannot flush: %s", tmp, strerror(errno));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return error_set(STRATA_IO_ERROR, "%s: cannot rename into place: %s", path, strerror(e));
    }
    return STRATA_OK;
}

strata_status plan_write(const char *path, const ir_model *m, const plan_program *p)
{
    buf weights = {0}, prog = {0}, head = {0};
    uint8_t *graph = NULL;
    size_t n_graph = 0;
    strata_status st = onnx_write_model_placed(m, place_weight, &weights, &graph, &n_graph);
    if (st != STRATA_OK) goto done;
    pad_to(&weights, PLAN_ALIGN);

    put_u32(&prog, (uint32_t)p->n_kernels);
    for (size_t i = 0; i < p->n_kernels; i++) put_str(&prog, p->kernels[i]);
    put_u32(&prog, (uint32_t)p->n_slots);
    for (size_t i = 0; i < p->n_slots; i++) {
        put_str(&prog, p->slots[i].name);
        put_u64(&prog, p->slots[i].offset);
        put_u64(&prog, p->slots[i].n_bytes);
    }
    put_u32(&prog, (uint32_t)p->n_inputs);
    for (size_t i = 0; i < p->n_inputs; i++) {
        const plan_input *in = &p->inputs[i];
        put_str(&prog, in->name);
        put_u32(&prog, (uint32_t)in->rank);
        for (int d = 0; d < in->rank; d++) put_u64(&prog, (uint64_t)in->min[d]);
        for (int d = 0; d < in->rank; d++) put_u64(&prog, (uint64_t)in->max[d]);
    }
    if (weights.failed || prog.failed) {
        st = error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
        goto done;
    }
    /* graph + program form one contiguous hashed region: graph, pad, program */
    size_t graph_off = PLAN_HEADER_BYTES;
    size_t graph_pad = (PLAN_ALIGN - n_graph % PLAN_ALIGN) % PLAN_ALIGN;
    size_t prog_off = graph_off + n_graph + graph_pad;
    size_t prog_pad = (PLAN_ALIGN - prog.n % PLAN_ALIGN) % PLAN_ALIGN;
    size_t weights_off = prog_off + prog.n + prog_pad;
    size_t file_bytes = weights_off + weights.n;

    static const uint8_t zeros[PLAN_ALIGN];
    buf meta = {0};
    put(&meta, graph, n_graph);
    put(&meta, zeros, graph_pad);
    put(&meta, prog.p, prog.n);
    put(&meta, zeros, prog_pad);
    if (meta.failed) {
        mem_free(meta.p);
        st = error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
        goto done;
    }
    uint8_t h[PLAN_HEADER_BYTES];
    memset(h, 0, sizeof h);
    memcpy(h + PLAN_OFF_MAGIC, PLAN_MAGIC, 8);
    set_u32(h, PLAN_OFF_VERSION, PLAN_FORMAT_VERSION);
    set_u32(h, PLAN_OFF_HEADER_BYTES, PLAN_HEADER_BYTES);
    snprintf((char *)h + PLAN_OFF_STRATA_VERSION, 16, "%s", STRATA_VERSION_STRING);
    set_u64(h, PLAN_OFF_CPU, p->cpu_features);
    set_u64(h, PLAN_OFF_MODEL_HASH, p->model_hash);
    set_u64(h, PLAN_OFF_OPTIONS_HASH, p->options_hash);
    set_u64(h, PLAN_OFF_FILE_BYTES, file_bytes);
    set_u64(h, PLAN_OFF_GRAPH, graph_off);
    set_u64(h, PLAN_OFF_GRAPH + 8, n_graph);
    set_u64(h, PLAN_OFF_PROGRAM, prog_off);
    set_u64(h, PLAN_OFF_PROGRAM + 8, prog.n);
    set_u64(h, PLAN_OFF_WEIGHTS, weights_off);
    set_u64(h, PLAN_OFF_WEIGHTS + 8, weights.n);
    set_u64(h, PLAN_OFF_ARENA, p->arena_bytes);
    set_u64(h, PLAN_OFF_META_HASH, hash64(meta.p, meta.n, 0));
    set_u64(h, PLAN_OFF_WEIGHTS_HASH, hash64_chunked(weights.p, weights.n, 0, 2));
    set_u64(h, PLAN_OFF_HEADER_HASH, hash64(h, PLAN_OFF_HEADER_HASH, 0));
    const uint8_t *parts[3] = {h, meta.p, weights.p};
    size_t sizes[3] = {sizeof h, meta.n, weights.n};
    st = write_all(path, parts, sizes, 3);
    mem_free(meta.p);
    (void)head;
done:
    mem_free(graph);
    mem_free(weights.p);
    mem_free(prog.p);
    return st;
}

void plan_program_release(plan_program *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_kernels; i++) mem_free(p->kernels[i]);
    mem_free(p->kernels);
    for (size_t i = 0; i < p->n_slots; i++) mem_free(p->slots[i].name);
    mem_free(p->slots);
    for (size_t i = 0; i < p->n_inputs; i++) mem_free(p->inputs[i].name);
    mem_free(p->inputs);
    memset(p, 0, sizeof *p);
}
