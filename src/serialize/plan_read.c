/* serialize/plan_read.c — plan file → validated read-only view over the mapping: header
 * (magic, format version, sizes, hashes), this CPU's features against the plan's, the program
 * section (bounds-checked), and the graph with weights pointing into the mapping. */
#include <stdio.h>
#include <string.h>

#include "plan_format.h"

static uint64_t get_u64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t get_u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* A bounds-checked cursor over the program section. */
typedef struct cursor {
    const uint8_t *p;
    size_t n, off;        /* bytes, position */
    size_t base;          /* file offset of p[0], for messages */
    const char *path;
} cursor;

static strata_status need(cursor *c, size_t k, const char *what)
{
    if (k > c->n - c->off)
        return error_set(STRATA_INVALID_MODEL, "%s@%zu: plan program truncated reading %s",
                         c->path, c->base + c->off, what);
    return STRATA_OK;
}

static strata_status rd_u32(cursor *c, uint32_t *v, const char *what)
{
    strata_status st = need(c, 4, what);
    if (st == STRATA_OK) *v = get_u32(c->p + c->off), c->off += 4;
    return st;
}

static strata_status rd_u64(cursor *c, uint64_t *v, const char *what)
{
    strata_status st = need(c, 8, what);
    if (st == STRATA_OK) *v = get_u64(c->p + c->off), c->off += 8;
    return st;
}

static strata_status rd_str(cursor *c, char **out, const char *what)
{
    *out = NULL;
    strata_status st = need(c, 2, what);
    if (st != STRATA_OK) return st;
    uint16_t n;
    memcpy(&n, c->p + c->off, 2);
    c->off += 2;
    if ((st = need(c, n, what)) != STRATA_OK) return st;
    *out = mem_strndup((const char *)c->p + c->off, n);
    c->off += n;
    return *out ? STRATA_OK : error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
}

/* Counts are bounded by the bytes left so a forged count cannot make us allocate much. */
static strata_status rd_count(cursor *c, uint32_t *n, size_t min_entry, const char *what)
{
    strata_status st = rd_u32(c, n, what);
    if (st == STRATA_OK && (uint64_t)*n * min_entry > c->n - c->off)
        return error_set(STRATA_INVALID_MODEL, "%s@%zu: plan says %u %s, more than fit in the "
                         "section", c->path, c->base + c->off - 4, *n, what);
    return st;
}

static strata_status read_program(cursor *c, plan_program *p)
{
    uint32_t n;
    strata_status st = rd_count(c, &n, 2, "steps");
    if (st != STRATA_OK) return st;
    p->kernels = mem_calloc(n + 1, sizeof *p->kernels);
    if (!p->kernels) return error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        if ((st = rd_str(c, &p->kernels[i], "kernel name")) != STRATA_OK) return st;
        p->n_kernels++;
    }
    if ((st = rd_count(c, &n, 18, "slots")) != STRATA_OK) return st;
    p->slots = mem_calloc(n + 1, sizeof *p->slots);
    if (!p->slots) return error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        plan_slot *s = &p->slots[i];
        if ((st = rd_str(c, &s->name, "slot name")) != STRATA_OK) return st;
        p->n_slots++;
        if ((st = rd_u64(c, &s->offset, "slot offset")) != STRATA_OK) return st;
        if ((st = rd_u64(c, &s->n_bytes, "slot bytes")) != STRATA_OK) return st;
        if (s->offset > p->arena_bytes || s->n_bytes > p->arena_bytes - s->offset)
            return error_set(STRATA_INVALID_MODEL, "%s@%zu: slot '%s' [%llu, +%llu) is outside the "
                             "arena (%llu bytes)", c->path, c->base + c->off - 16, s->name,
                             (unsigned long long)s->offset, (unsigned long long)s->n_bytes,
                             (unsigned long long)p->arena_bytes);
    }
    if ((st = rd_count(c, &n, 6, "inputs")) != STRATA_OK) return st;
    p->inputs = mem_calloc(n + 1, sizeof *p->inputs);
    if (!p->inputs) return error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
    for (uint32_t i = 0; i < n; i++) {
        plan_input *in = &p->inputs[i];
        uint32_t rank;
        if ((st = rd_str(c, &in->name, "input name")) != STRATA_OK) return st;
        p->n_inputs++;
        if ((st = rd_u32(c, &rank, "input rank")) != STRATA_OK) return st;
        if (rank > STRATA_MAX_DIMS)
            return error_set(STRATA_INVALID_MODEL, "%s@%zu: input '%s' has rank %u", c->path,
                             c->base + c->off - 4, in->name, rank);
        in->rank = (int)rank;
        for (int pass = 0; pass < 2; pass++)
            for (uint32_t d = 0; d < rank; d++) {
                uint64_t v;
                if ((st = rd_u64(c, &v, "input dims")) != STRATA_OK) return st;
                if ((int64_t)v < 0)
                    return error_set(STRATA_INVALID_MODEL, "%s: input '%s' has a negative dim",
                                     c->path, in->name);
                (pass ? in->max : in->min)[d] = (int64_t)v;
            }
    }
    if (c->off != c->n)
        return error_set(STRATA_INVALID_MODEL, "%s@%zu: %zu unexpected bytes after the program",
                         c->path, c->base + c->off, c->n - c->off);
    return STRATA_OK;
}

bool plan_is_plan_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char magic[8];
    bool yes = fread(magic, 1, 8, f) == 8 && memcmp(magic, PLAN_MAGIC, 8) == 0;
    fclose(f);
    return yes;
}

static strata_status check_section(const mapped_file *f, const uint8_t *h, size_t field,
                                   const char *what, size_t *off, size_t *len)
{
    uint64_t o = get_u64(h + field), n = get_u64(h + field + 8);
    if (o < PLAN_HEADER_BYTES || o > f->n_bytes || n > f->n_bytes - o || o % PLAN_ALIGN)
        return error_set(STRATA_INVALID_MODEL, "%s@%zu: %s section [%llu, +%llu) is outside the "
                         "file (%zu bytes) or misaligned", f->path, field, what,
                         (unsigned long long)o, (unsigned long long)n, f->n_bytes);
    *off = (size_t)o;
    *len = (size_t)n;
    return STRATA_OK;
}

strata_status plan_read(const char *path, bool verify_weights, plan_view **out)
{
    *out = NULL;
    plan_view *v = mem_calloc(1, sizeof *v);
    if (!v) return error_set(STRATA_OUT_OF_MEMORY, "plan: out of memory");
    strata_status st = mapped_file_open(path, &v->file);
    if (st != STRATA_OK) goto fail;
    const mapped_file *f = v->file;
    const uint8_t *h = f->data;
    if (f->n_bytes < PLAN_HEADER_BYTES || memcmp(h, PLAN_MAGIC, 8) != 0) {
        st = error_set(STRATA_INVALID_MODEL, "%s: not a Strata plan (%s)", path,
                       f->n_bytes < PLAN_HEADER_BYTES ? "shorter than a plan header" : "bad magic");
        goto fail;
    }
    uint32_t version = get_u32(h + PLAN_OFF_VERSION);
    if (version != PLAN_FORMAT_VERSION) {
        char wrote[17];
        memcpy(wrote, h + PLAN_OFF_STRATA_VERSION, 16);
        wrote[16] = 0;
        st = error_set(STRATA_PLAN_MISMATCH, "%s: plan format version %u (written by strata %s); "
                       "this strata %s reads version %u: recompile the model", path, version,
                       wrote, STRATA_VERSION_STRING, PLAN_FORMAT_VERSION);
        goto fail;
    }
    if (get_u64(h + PLAN_OFF_HEADER_HASH) != hash64(h, PLAN_OFF_HEADER_HASH, 0)) {
        st = error_set(STRATA_INVALID_MODEL, "%s@0: plan header checksum mismatch (corrupt file)", path);
        goto fail;
    }
    if (get_u64(h + PLAN_OFF_FILE_BYTES) != f->n_bytes) {
        st = error_set(STRATA_INVALID_MODEL, "%s: plan is %zu bytes, its header says %llu "
                       "(truncated or extended)", path, f->n_bytes,
                       (unsigned long long)get_u64(h + PLAN_OFF_FILE_BYTES));
        goto fail;
    }
    uint64_t need_cpu = get_u64(h + PLAN_OFF_CPU), have = cpu_features();
    if (need_cpu & ~(uint64_t)have) {
        char nb[200], hb[200];
        st = error_set(STRATA_PLAN_MISMATCH, "%s: plan needs CPU features [%s] that this machine "
                       "lacks (it has [%s]): recompile the model here", path,
                       cpu_feature_names((uint32_t)(need_cpu & ~(uint64_t)have), nb, sizeof nb),
                       cpu_feature_names(have, hb, sizeof hb));
        if (need_cpu >> 32)
            st = error_set(STRATA_PLAN_MISMATCH, "%s: plan needs CPU features (bits 0x%llx) this "
                           "strata does not know: recompile the model here", path,
                           (unsigned long long)need_cpu);
        goto fail;
    }
    size_t go, gn, po, pn, wo, wn;
    if ((st = check_section(f, h, PLAN_OFF_GRAPH, "graph", &go, &gn)) != STRATA_OK ||
        (st = check_section(f, h, PLAN_OFF_PROGRAM, "program", &po, &pn)) != STRATA_OK ||
        (st = check_section(f, h, PLAN_OFF_WEIGHTS, "weights", &wo, &wn)) != STRATA_OK)
        goto fail;
    if (go != PLAN_HEADER_BYTES || po < go + gn || wo < po + pn || wo + wn != f->n_bytes) {
        st = error_set(STRATA_INVALID_MODEL, "%s: plan sections overlap or leave gaps", path);
        goto fail;
    }
    if (get_u64(h + PLAN_OFF_META_HASH) != hash64(f->data + go, wo - go, 0)) {
        st = error_set(STRATA_INVALID_MODEL, "%s@%zu: plan graph/program checksum mismatch "
                       "(corrupt file)", path, go);
        goto fail;
    }
    if (verify_weights && get_u64(h + PLAN_OFF_WEIGHTS_HASH) != hash64_chunked(f->data + wo, wn, 0, 2)) {
        st = error_set(STRATA_INVALID_MODEL, "%s@%zu: plan weights checksum mismatch (corrupt "
                       "file)", path, wo);
        goto fail;
    }
    v->program.arena_bytes = get_u64(h + PLAN_OFF_ARENA);
    v->program.cpu_features = (uint32_t)need_cpu;
    v->program.model_hash = get_u64(h + PLAN_OFF_MODEL_HASH);
    v->program.options_hash = get_u64(h + PLAN_OFF_OPTIONS_HASH);
    cursor c = {f->data + po, pn, 0, po, path};
    if ((st = read_program(&c, &v->program)) != STRATA_OK) goto fail;
    if ((st = onnx_read_model_view(f->data + go, gn, path, f->data + wo, wn, &v->model)) != STRATA_OK)
        goto fail;
    if (v->program.n_kernels != v->model->graph->n_nodes) {
        st = error_set(STRATA_INVALID_MODEL, "%s: plan has %zu kernels for %zu nodes", path,
                       v->program.n_kernels, v->model->graph->n_nodes);
        goto fail;
    }
    *out = v;
    return STRATA_OK;
fail:
    plan_view_close(v);
    return st;
}

void plan_view_close(plan_view *v)
{
    if (!v) return;
    ir_model_destroy(v->model); /* before the mapping its tensors point into */
    plan_program_release(&v->program);
    mapped_file_close(v->file);
    mem_free(v);
}
