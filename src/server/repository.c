/* server/repository.c — the model repository (Triton's layout: DIR/<model>/config.pbtxt and
 * DIR/<model>/<version>/model.onnx|model.plan): scan, version policy, compile ONNX models to
 * plans kept in a cache keyed by model hash and CPU features, one session per instance, and
 * lookups by name and version for the frontends. Loaded once at start (control mode none). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct repo_version {
    int64_t version;             /* version number */
    model_version *mv;           /* loaded version, or NULL when loading failed */
    char reason[512];            /* why it failed */
} repo_version;

typedef struct repo_model {
    char name[SERVER_MAX_NAME];  /* folder name */
    model_config *config;        /* effective config (NULL when it could not be read) */
    repo_version *versions;      /* selected versions, newest first */
    size_t n_versions;
    char reason[512];            /* model-level failure ("" when none) */
} repo_model;

struct repository {
    char *root;                  /* repository folder */
    char *cache;                 /* plan cache folder */
    repo_model *models;          /* sorted by name */
    size_t n_models;
};

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static strata_status make_dirs(const char *path)
{
    char buf[4096];
    if (strlen(path) >= sizeof buf) return error_set(STRATA_INVALID_ARGUMENT, "plan cache path too long");
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return error_set(STRATA_IO_ERROR, "cannot create '%s': %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return error_set(STRATA_IO_ERROR, "cannot create '%s': %s", buf, strerror(errno));
    return STRATA_OK;
}

/* A version folder name: digits, no leading zero, at most 18 digits. */
static bool parse_version(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || s[0] == '0') return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static strata_status read_small_file(const char *path, size_t max, char **out, size_t *n_out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(STRATA_IO_ERROR, "cannot open '%s': %s", path, strerror(errno));
    char *buf = mem_alloc(max + 1);
    if (!buf) {
        fclose(f);
        return error_set(STRATA_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, max + 1, f);
    bool err = ferror(f) != 0;
    fclose(f);
    if (err) {
        mem_free(buf);
        return error_set(STRATA_IO_ERROR, "cannot read '%s'", path);
    }
    if (n > max) {
        mem_free(buf);
        return error_set(STRATA_INVALID_MODEL, "%s: larger than %zu bytes", path, max);
    }
    buf[n] = 0;
    *out = buf;
    *n_out = n;
    return STRATA_OK;
}

static int cmp_version_desc(const void *a, const void *b)
{
    int64_t x = ((const repo_version *)a)->version, y = ((const repo_version *)b)->version;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const repo_model *)a)->name, ((const repo_model *)b)->name);
}

/* "name=1xAxB:OxAxB:MxAxB" (batching) or "name=AxB" for every input into buf. */
static strata_status shape_specs(const model_config *c, char (*specs)[512], size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < c->n_inputs; i++) {
        const config_io *io = &c->inputs[i];
        int rank = io->reshape_rank >= 0 ? io->reshape_rank : io->rank;
        const int64_t *dims = io->reshape_rank >= 0 ? io->reshape : io->dims;
        char tail[400] = "";
        size_t k = 0;
        for (int d = 0; d < rank; d++) {
            if (dims[d] < 0)
                return error_set(STRATA_UNSUPPORTED,
                                 "model '%s': input '%s' dim %d is variable; give it in config.pbtxt dims (only the batch dim may vary)",
                                 c->name, io->name, d + (c->max_batch_size > 0));
            k += (size_t)snprintf(tail + k, sizeof tail - k, "%s%lld", (d || c->max_batch_size > 0) ? "x" : "",
                                  (long long)dims[d]);
            if (k >= sizeof tail) return error_set(STRATA_UNSUPPORTED, "model '%s': input '%s' shape too long", c->name, io->name);
        }
        if (c->max_batch_size > 0) {
            long long mb = (long long)c->max_batch_size, opt = mb < 8 ? mb : 8;
            snprintf(specs[i], sizeof specs[i], "%s=1%s:%lld%s:%lld%s", io->name, tail, opt, tail, mb, tail);
        } else {
            snprintf(specs[i], sizeof specs[i], "%s=%s", io->name, rank ? tail : "1");
        }
        (*n)++;
    }
    return STRATA_OK;
}

/* Opens (or compiles into the cache) the plan for an ONNX model. */
static strata_status plan_for_onnx(repository *r, repo_model *m, int64_t version, const char *path,
                                   strata_plan **plan, bool *cached)
{
    char(*specs)[512] = mem_calloc(SERVER_MAX_IO, sizeof *specs);
    if (!specs) return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", m->name);
    size_t n_specs = 0;
    strata_status st = shape_specs(m->config, specs, &n_specs);
    mapped_file *f = NULL;
    if (st == STRATA_OK) st = mapped_file_open(path, &f);
    if (st != STRATA_OK) {
        mem_free(specs);
        return st;
    }
    uint64_t h = hash64(f->data, f->n_bytes, 0x5374726174614d31ull);
    mapped_file_close(f);
    uint32_t cpu = cpu_features();
    h = hash64(&cpu, sizeof cpu, h);
    for (size_t i = 0; i < n_specs; i++) h = hash64(specs[i], strlen(specs[i]), h);
    h = hash64(STRATA_VERSION_STRING, strlen(STRATA_VERSION_STRING), h);
    char cache_path[4096], tmp_path[4200];
    snprintf(cache_path, sizeof cache_path, "%s/%s-%lld-%016llx.plan", r->cache, m->name, (long long)version,
             (unsigned long long)h);
    if (is_file(cache_path) && strata_plan_open(cache_path, plan) == STRATA_OK) {
        *cached = true;
        mem_free(specs);
        return STRATA_OK;
    }
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp%ld", cache_path, (long)getpid());
    const char *shapes[SERVER_MAX_IO];
    for (size_t i = 0; i < n_specs; i++) shapes[i] = specs[i];
    strata_compile_options o = {.shapes = shapes, .n_shapes = (unsigned)n_specs, .dump_dir = NULL};
    st = strata_compile(path, tmp_path, &o);
    mem_free(specs);
    if (st != STRATA_OK) {
        unlink(tmp_path);
        return error_prefix(st, "model '%s' version %lld: compiling %s", m->name, (long long)version, path);
    }
    if (rename(tmp_path, cache_path) != 0) {
        unlink(tmp_path);
        return error_set(STRATA_IO_ERROR, "cannot move the plan into the cache '%s': %s", cache_path, strerror(errno));
    }
    *cached = false;
    return strata_plan_open(cache_path, plan);
}

static void version_free(model_version *mv)
{
    if (!mv) return;
    scheduler_destroy(mv->sched);
    for (size_t i = 0; i < mv->n_sessions; i++) strata_session_destroy(mv->sessions[i]);
    mem_free(mv->sessions);
    metrics_model_release(&mv->metrics);
    strata_plan_close(mv->plan);
    mem_free(mv);
}

static strata_status load_version(repository *r, repo_model *m, int64_t version, bool derive,
                                  model_version **out)
{
    *out = NULL;
    char dir[4096], onnx[4200], planf[4200];
    snprintf(dir, sizeof dir, "%s/%s/%lld", r->root, m->name, (long long)version);
    snprintf(onnx, sizeof onnx, "%s/model.onnx", dir);
    snprintf(planf, sizeof planf, "%s/model.plan", dir);
    bool is_plan = is_file(planf);
    if (!is_plan && !is_file(onnx))
        return error_set(STRATA_NOT_FOUND, "model '%s' version %lld: no model.plan or model.onnx in %s", m->name,
                         (long long)version, dir);
    uint64_t t0 = clock_now_ns();
    model_version *mv = mem_calloc(1, sizeof *mv);
    if (!mv) return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", m->name);
    snprintf(mv->model, sizeof mv->model, "%s", m->name);
    mv->version = version;
    snprintf(mv->version_str, sizeof mv->version_str, "%lld", (long long)version);
    mv->config = m->config;
    atomic_init(&mv->refs, 1);
    strata_status st = STRATA_OK;
    if (is_plan) {
        st = strata_plan_open(planf, &mv->plan);
        if (st == STRATA_OK) st = model_config_complete(m->config, strata_plan_model(mv->plan), true);
    } else {
        strata_model *sm = NULL;
        st = strata_model_load(onnx, &sm);
        if (st == STRATA_OK && derive && m->config->max_batch_size == 0 && !m->config->has_inputs) {
            /* no config.pbtxt: batch when every input and output has a variable first dim */
            bool batchable = strata_model_input_count(sm) > 0;
            for (size_t i = 0; batchable && i < strata_model_input_count(sm) + strata_model_output_count(sm); i++) {
                strata_value_info vi;
                size_t n_in = strata_model_input_count(sm);
                if ((i < n_in ? strata_model_input_info(sm, i, &vi) : strata_model_output_info(sm, i - n_in, &vi)) != STRATA_OK ||
                    vi.rank < 1 || vi.dims[0] >= 0)
                    batchable = false;
            }
            if (batchable) {
                m->config->max_batch_size = 4;
                m->config->dynamic_batching = true;
            }
        }
        if (st == STRATA_OK) st = model_config_complete(m->config, sm, false);
        strata_model_destroy(sm);
        if (st == STRATA_OK) st = plan_for_onnx(r, m, version, onnx, &mv->plan, &mv->plan_cached);
    }
    for (size_t i = 0; st == STRATA_OK && i < m->config->n_inputs + m->config->n_outputs; i++) {
        const config_io *io = i < m->config->n_inputs ? &m->config->inputs[i] : &m->config->outputs[i - m->config->n_inputs];
        if (io->dtype == STRATA_DTYPE_STRING || io->dtype == STRATA_DTYPE_UNDEFINED)
            st = error_set(STRATA_UNSUPPORTED, "model '%s': tensor '%s' has type %s, which the server does not serve yet",
                           m->name, io->name, model_config_kserve_dtype(io->dtype));
    }
    if (st == STRATA_OK) {
        mv->iface = strata_plan_model(mv->plan);
        st = metrics_model_init(&mv->metrics, m->config->max_batch_size);
    }
    if (st == STRATA_OK) {
        size_t n = (size_t)m->config->instance_count;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        strata_session_options so = {.n_threads = (int)(cpus > (long)n ? cpus / (long)n : 1)};
        mv->sessions = mem_calloc(n, sizeof *mv->sessions);
        if (!mv->sessions) st = error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", m->name);
        for (size_t i = 0; st == STRATA_OK && i < n; i++) {
            st = strata_session_create_plan(mv->plan, &so, &mv->sessions[i]);
            if (st == STRATA_OK) mv->n_sessions++;
        }
    }
    if (st == STRATA_OK) st = scheduler_create(mv, &mv->sched);
    if (st != STRATA_OK) {
        if (!strstr(strata_last_error(), m->name)) error_prefix(st, "model '%s' version %lld", m->name, (long long)version);
        version_free(mv);
        return st;
    }
    mv->load_ms = (double)(clock_now_ns() - t0) / 1e6;
    *out = mv;
    return STRATA_OK;
}

static void load_model(repository *r, repo_model *m)
{
    char path[4200];
    m->config = mem_alloc(sizeof *m->config);
    if (!m->config) {
        snprintf(m->reason, sizeof m->reason, "out of memory");
        return;
    }
    model_config_init(m->config, m->name);
    snprintf(path, sizeof path, "%s/%s/config.pbtxt", r->root, m->name);
    bool derive = !is_file(path);
    if (!derive) {
        char *text = NULL;
        size_t n = 0;
        strata_status st = read_small_file(path, SERVER_MAX_CONFIG_BYTES, &text, &n);
        if (st == STRATA_OK) st = model_config_parse(text, n, path, m->config);
        mem_free(text);
        if (st != STRATA_OK) {
            snprintf(m->reason, sizeof m->reason, "%s", strata_last_error());
            return;
        }
    }
    /* versions on disk */
    snprintf(path, sizeof path, "%s/%s", r->root, m->name);
    DIR *d = opendir(path);
    if (!d) {
        snprintf(m->reason, sizeof m->reason, "cannot read '%.400s': %s", path, strerror(errno));
        return;
    }
    repo_version *found = NULL;
    size_t n_found = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int64_t v;
        char vpath[4600];
        snprintf(vpath, sizeof vpath, "%s/%s", path, e->d_name);
        if (!parse_version(e->d_name, &v) || !is_dir(vpath)) continue;
        if (n_found == cap) {
            size_t nc = cap ? cap * 2 : 8;
            repo_version *nf = mem_realloc(found, nc * sizeof *nf);
            if (!nf) break;
            found = nf;
            cap = nc;
        }
        memset(&found[n_found], 0, sizeof found[n_found]);
        found[n_found++].version = v;
    }
    closedir(d);
    if (n_found) qsort(found, n_found, sizeof *found, cmp_version_desc);
    /* the version policy */
    const model_config *c = m->config;
    size_t keep = 0;
    for (size_t i = 0; i < n_found; i++) {
        bool take = c->policy == POLICY_ALL;
        if (c->policy == POLICY_LATEST) take = (int64_t)i < c->policy_latest;
        for (size_t k = 0; c->policy == POLICY_SPECIFIC && k < c->n_policy_versions; k++)
            if (c->policy_versions[k] == found[i].version) take = true;
        if (take && keep < SERVER_MAX_VERSIONS) found[keep++] = found[i];
    }
    m->versions = found;
    m->n_versions = keep;
    if (keep == 0) {
        snprintf(m->reason, sizeof m->reason, "model '%s': no version folder (1/, 2/, ...) that the version policy selects in %.300s",
                 m->name, path);
        return;
    }
    for (size_t i = 0; i < keep; i++) {
        strata_status st = load_version(r, m, found[i].version, derive, &found[i].mv);
        if (st != STRATA_OK) {
            snprintf(found[i].reason, sizeof found[i].reason, "%s", strata_last_error());
            fprintf(stderr, "strata serve: %s\n", found[i].reason);
        } else {
            fprintf(stderr, "strata serve: loaded model '%s' version %lld in %.1f ms%s\n", m->name,
                    (long long)found[i].version, found[i].mv->load_ms, found[i].mv->plan_cached ? " (cached plan)" : "");
        }
    }
}

strata_status repository_open(const server_options *o, repository **out)
{
    *out = NULL;
    if (!o->repository || !is_dir(o->repository))
        return error_set(STRATA_NOT_FOUND, "model repository '%s' is not a folder", o->repository ? o->repository : "(none)");
    repository *r = mem_calloc(1, sizeof *r);
    if (!r) return error_set(STRATA_OUT_OF_MEMORY, "repository: out of memory");
    char cache[4096];
    if (o->plan_cache) {
        snprintf(cache, sizeof cache, "%s", o->plan_cache);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(cache, sizeof cache, "%s/strata-plan-cache", tmp && tmp[0] ? tmp : "/tmp");
    }
    r->root = mem_strdup(o->repository);
    r->cache = mem_strdup(cache);
    strata_status st = r->root && r->cache ? make_dirs(r->cache) : error_set(STRATA_OUT_OF_MEMORY, "repository: out of memory");
    if (st != STRATA_OK) {
        repository_close(r);
        return st;
    }
    DIR *d = opendir(o->repository);
    if (!d) {
        repository_close(r);
        return error_set(STRATA_IO_ERROR, "cannot read '%s': %s", o->repository, strerror(errno));
    }
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", o->repository, e->d_name);
        if (e->d_name[0] == '.' || !is_dir(path)) continue;
        if (!model_config_name_valid(e->d_name)) {
            fprintf(stderr, "strata serve: skipping '%s': not a valid model name\n", path);
            continue;
        }
        if (r->n_models == cap) {
            size_t nc = cap ? cap * 2 : 8;
            repo_model *nm = mem_realloc(r->models, nc * sizeof *nm);
            if (!nm) {
                closedir(d);
                repository_close(r);
                return error_set(STRATA_OUT_OF_MEMORY, "repository: out of memory");
            }
            r->models = nm;
            cap = nc;
        }
        repo_model *m = &r->models[r->n_models++];
        memset(m, 0, sizeof *m);
        snprintf(m->name, sizeof m->name, "%.127s", e->d_name);
    }
    closedir(d);
    if (r->n_models) qsort(r->models, r->n_models, sizeof *r->models, cmp_model);
    for (size_t i = 0; i < r->n_models; i++) {
        load_model(r, &r->models[i]);
        if (r->models[i].reason[0]) fprintf(stderr, "strata serve: %s\n", r->models[i].reason);
    }
    *out = r;
    return STRATA_OK;
}

void repository_stop(repository *r)
{
    for (size_t i = 0; r && i < r->n_models; i++)
        for (size_t k = 0; k < r->models[i].n_versions; k++)
            if (r->models[i].versions[k].mv) scheduler_stop(r->models[i].versions[k].mv->sched);
}

void repository_close(repository *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_models; i++) {
        repo_model *m = &r->models[i];
        for (size_t k = 0; k < m->n_versions; k++) version_free(m->versions[k].mv);
        mem_free(m->versions);
        mem_free(m->config);
    }
    mem_free(r->models);
    mem_free(r->root);
    mem_free(r->cache);
    mem_free(r);
}

static const repo_model *find_model(const repository *r, const char *name)
{
    size_t lo = 0, hi = r->n_models;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(r->models[mid].name, name);
        if (c == 0) return &r->models[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

strata_status repository_acquire(repository *r, const char *model, const char *version,
                                 model_version **out)
{
    *out = NULL;
    if (!model_config_name_valid(model))
        return error_set(STRATA_INVALID_ARGUMENT, "'%.64s%s' is not a valid model name", model, strlen(model) > 64 ? "..." : "");
    const repo_model *m = find_model(r, model);
    if (!m) return error_set(STRATA_NOT_FOUND, "unknown model '%s'", model);
    const repo_version *rv = NULL;
    if (!version || !version[0]) {
        for (size_t k = 0; k < m->n_versions && !rv; k++)
            if (m->versions[k].mv) rv = &m->versions[k];
        if (!rv)
            return error_set(STRATA_QUEUE_FULL, "model '%s' is not available: %s", model,
                             m->reason[0] ? m->reason : m->n_versions ? m->versions[0].reason : "no version loaded");
    } else {
        int64_t v;
        if (!parse_version(version, &v))
            return error_set(STRATA_INVALID_ARGUMENT, "model '%s': '%.32s' is not a version number", model, version);
        for (size_t k = 0; k < m->n_versions && !rv; k++)
            if (m->versions[k].version == v) rv = &m->versions[k];
        if (!rv) return error_set(STRATA_NOT_FOUND, "model '%s' has no version %lld being served", model, (long long)v);
        if (!rv->mv) return error_set(STRATA_QUEUE_FULL, "model '%s' version %lld is not available: %s", model, (long long)v, rv->reason);
    }
    atomic_fetch_add(&rv->mv->refs, 1);
    *out = rv->mv;
    return STRATA_OK;
}

void repository_release(model_version *mv)
{
    if (mv) atomic_fetch_sub(&mv->refs, 1);
}

bool repository_ready(const repository *r)
{
    for (size_t i = 0; i < r->n_models; i++) {
        const repo_model *m = &r->models[i];
        if (m->reason[0]) return false;
        for (size_t k = 0; k < m->n_versions; k++)
            if (!m->versions[k].mv) return false;
    }
    return true;
}

cJSON *repository_index_json(const repository *r, bool ready_only)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < r->n_models; i++) {
        const repo_model *m = &r->models[i];
        size_t n = m->n_versions ? m->n_versions : 1;
        for (size_t k = 0; k < n; k++) {
            const repo_version *rv = m->n_versions ? &m->versions[k] : NULL;
            bool ready = rv && rv->mv && !m->reason[0];
            if (ready_only && !ready) continue;
            cJSON *o = cJSON_CreateObject();
            if (!o) break;
            cJSON_AddStringToObject(o, "name", m->name);
            if (rv) {
                char v[24];
                snprintf(v, sizeof v, "%lld", (long long)rv->version);
                cJSON_AddStringToObject(o, "version", v);
            }
            cJSON_AddStringToObject(o, "state", ready ? "READY" : "UNAVAILABLE");
            cJSON_AddStringToObject(o, "reason", ready ? "" : m->reason[0] ? m->reason : rv ? rv->reason : "");
            cJSON_AddItemToArray(a, o);
        }
    }
    return a;
}

size_t repository_versions(const repository *r, const char *model, const char **out, size_t max)
{
    const repo_model *m = find_model(r, model);
    size_t n = 0;
    for (size_t k = 0; m && k < m->n_versions && n < max; k++)
        if (m->versions[k].mv) out[n++] = m->versions[k].mv->version_str;
    return n;
}

void repository_each(const repository *r, void (*fn)(model_version *mv, void *arg), void *arg)
{
    for (size_t i = 0; i < r->n_models; i++)
        for (size_t k = 0; k < r->models[i].n_versions; k++)
            if (r->models[i].versions[k].mv) fn(r->models[i].versions[k].mv, arg);
}
