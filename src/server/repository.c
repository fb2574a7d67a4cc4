/* server/repository.c — the model repository (Triton's layout: DIR/<model>/config.pbtxt and
 * DIR/<model>/<version>/model.onnx|model.plan) and its lifecycle: scan, version policy, compile
 * ONNX models to plans cached by model hash and CPU features, warm each new version before it
 * takes traffic, swap it in, drain and release the old one; control modes none, poll, explicit. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Explicit-mode entry points for kserve_http.c (declared here until internal.h carries them). */
bool repository_explicit(const repository *r);

typedef enum control_mode { CONTROL_NONE = 0, CONTROL_POLL = 1, CONTROL_EXPLICIT = 2 } control_mode;

#define REAP_INTERVAL_NS 20000000ull /* how often retired versions are checked for drain */

typedef struct repo_version {
    int64_t version;             /* version number */
    model_version *mv;           /* serving version, or NULL when loading failed */
    uint64_t stamp;              /* fingerprint of the files mv was loaded from */
    char reason[512];            /* why it is not served, or why its last reload failed */
} repo_version;

typedef struct repo_model {
    char name[SERVER_MAX_NAME];  /* folder name */
    repo_version *versions;      /* selected versions, newest first */
    size_t n_versions;
    char reason[512];            /* model-level failure ("" when none) */
    bool wanted;                 /* meant to be loaded (explicit mode: load requested) */
    bool removed;                /* its folder is gone (poll mode) */
    uint64_t stamp;              /* fingerprint of the model folder at the last sync */
    char (*vnames)[24];          /* interned version strings: append-only, for metadata */
    size_t n_vnames;
} repo_model;

/* A version taken out of service: it drains its in-flight requests, then is released. */
typedef struct retired_version {
    model_version *mv;           /* holds the repository's reference */
    metrics_model *snap;         /* its counters when retired (folded into the successor) */
} retired_version;

struct repository {
    char *root;                  /* repository folder */
    char *cache;                 /* plan cache folder */
    control_mode mode;
    int poll_secs;               /* poll mode: rescan period */
    pthread_mutex_t mu;          /* guards models, their versions and retired */
    pthread_mutex_t load_mu;     /* serializes loads, reloads and unloads (taken before mu) */
    repo_model *models;          /* sorted by name */
    size_t n_models, cap_models;
    retired_version *retired;    /* versions draining */
    size_t n_retired, cap_retired;
    pthread_mutex_t life_mu;     /* guards stopping; life_cv wakes the lifecycle thread */
    pthread_cond_t life_cv;
    bool stopping;
    pthread_t life;              /* poller + reaper (poll and explicit modes) */
    bool life_started;
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
static strata_status plan_for_onnx(repository *r, const char *name, const model_config *c, int64_t version,
                                   const char *path, strata_plan **plan, bool *cached)
{
    char(*specs)[512] = mem_calloc(SERVER_MAX_IO, sizeof *specs);
    if (!specs) return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", name);
    size_t n_specs = 0;
    strata_status st = shape_specs(c, specs, &n_specs);
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
    if (c->precision[0]) h = hash64(c->precision, strlen(c->precision), h);
    h = hash64(STRATA_VERSION_STRING, strlen(STRATA_VERSION_STRING), h);
    char cache_path[4096], tmp_path[4200];
    snprintf(cache_path, sizeof cache_path, "%s/%s-%lld-%016llx.plan", r->cache, name, (long long)version,
             (unsigned long long)h);
    if (is_file(cache_path) && strata_plan_open(cache_path, plan) == STRATA_OK) {
        *cached = true;
        mem_free(specs);
        return STRATA_OK;
    }
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp%ld", cache_path, (long)getpid());
    const char *shapes[SERVER_MAX_IO];
    for (size_t i = 0; i < n_specs; i++) shapes[i] = specs[i];
    strata_compile_options o = {.shapes = shapes, .n_shapes = (unsigned)n_specs, .dump_dir = NULL,
                                .precision = c->precision[0] ? c->precision : NULL};
    st = strata_compile(path, tmp_path, &o);
    mem_free(specs);
    if (st != STRATA_OK) {
        unlink(tmp_path);
        return error_prefix(st, "model '%s' version %lld: compiling %s", name, (long long)version, path);
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
    mem_free(mv->config);
    mem_free(mv);
}

/* ---- counters carried across reloads --------------------------------------------------------- */

/* dst += src - base (base may be NULL): a reloaded version's counters continue its predecessor's,
 * so /metrics counters never go backwards and a client's ledger can be checked across reloads.
 * The caller holds the locks that guard dst and src. */
static void counters_fold(metrics_model *dst, const metrics_model *src, const metrics_model *base)
{
#define FOLD(f) dst->f += src->f - (base ? base->f : 0)
    FOLD(success);
    FOLD(success_ns);
    FOLD(fail_rejected);
    FOLD(fail_other);
    FOLD(fail_ns);
    FOLD(inference_count);
    FOLD(exec_count);
    FOLD(queue_ns);
    FOLD(input_ns);
    FOLD(infer_ns);
    FOLD(output_ns);
    for (size_t k = 0; k < METRICS_N_LATENCY_BUCKETS; k++) FOLD(latency_buckets[k]);
    for (size_t k = 0; k < METRICS_N_BATCH_BUCKETS; k++) FOLD(batch_buckets[k]);
    for (size_t k = 0; k < dst->n_batch && k < src->n_batch && (!base || k < base->n_batch); k++) {
        FOLD(batch[k].count);
        FOLD(batch[k].input_ns);
        FOLD(batch[k].infer_ns);
        FOLD(batch[k].output_ns);
    }
#undef FOLD
    if (src->last_inference_ms > dst->last_inference_ms) dst->last_inference_ms = src->last_inference_ms;
}

/* A copy of mv's counters (NULL on out-of-memory: then the drain's tail is not carried over). */
static metrics_model *counters_snapshot(model_version *mv)
{
    metrics_model *s = mem_calloc(1, sizeof *s);
    if (!s) return NULL;
    s->n_batch = mv->metrics.n_batch;
    s->batch = mem_calloc(s->n_batch, sizeof *s->batch);
    if (!s->batch) {
        mem_free(s);
        return NULL;
    }
    pthread_mutex_lock(&mv->metrics.mu);
    counters_fold(s, &mv->metrics, NULL);
    pthread_mutex_unlock(&mv->metrics.mu);
    return s;
}

static void snapshot_free(metrics_model *s)
{
    if (!s) return;
    mem_free(s->batch);
    mem_free(s);
}

/* ---- loading one version ----------------------------------------------------------------------- */

/* The shape one warmup input has in the model: [batch] + the sample's dims (or the config's with
 * variable dims 1 when w is NULL), through the config's reshape (a -1 there takes what is left). */
static int warm_shape(const model_config *c, const config_io *io, const config_warmup *w, int64_t *dims)
{
    int64_t given[STRATA_MAX_DIMS];
    int n_given = io->rank;
    const config_warmup_input *in = NULL;
    for (size_t k = 0; w && k < w->n_inputs; k++)
        if (strcmp(w->inputs[k].name, io->name) == 0) in = &w->inputs[k];
    if (in) n_given = in->rank;
    for (int d = 0; d < n_given; d++) given[d] = in ? in->dims[d] : io->dims[d] < 0 ? 1 : io->dims[d];
    int rank = 0;
    if (c->max_batch_size > 0) dims[rank++] = w ? w->batch_size : 1;
    if (io->reshape_rank < 0) {
        for (int d = 0; d < n_given && rank < STRATA_MAX_DIMS; d++) dims[rank++] = given[d];
        return rank;
    }
    int64_t total = shape_numel(n_given, given), known = 1;
    for (int d = 0; d < io->reshape_rank; d++)
        if (io->reshape[d] >= 0) known *= io->reshape[d];
    for (int d = 0; d < io->reshape_rank && rank < STRATA_MAX_DIMS; d++) {
        int64_t v = io->reshape[d];
        dims[rank++] = v >= 0 ? v : (in && known > 0 && total >= 0 ? total / known : 1);
    }
    return rank;
}

/* Runs each model_warmup sample count times on every instance (or, without model_warmup, every
 * instance once on zeros at batch 1, variable dims 1) so the first request does not pay for
 * first-touch costs, and so a version that cannot run is never swapped in. */
static strata_status warm_version(model_version *mv)
{
    const model_config *c = mv->config;
    size_t n_out = strata_model_output_count(mv->iface);
    strata_tensor **outputs = mem_calloc(n_out ? n_out : 1, sizeof *outputs);
    const char *names[SERVER_MAX_IO];
    if (!outputs) return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", mv->model);
    strata_status st = STRATA_OK;
    size_t n_samples = c->n_warmup ? c->n_warmup : 1;
    uint64_t rng = 0x9E3779B97F4A7C15ull;  /* random_data: xorshift64, the same on every load */
    for (size_t w_i = 0; st == STRATA_OK && w_i < n_samples; w_i++) {
        const config_warmup *w = c->n_warmup ? &c->warmup[w_i] : NULL;
        strata_tensor *inputs[SERVER_MAX_IO] = {NULL};
        for (size_t i = 0; st == STRATA_OK && i < c->n_inputs; i++) {
            const config_io *io = &c->inputs[i];
            int64_t dims[STRATA_MAX_DIMS];
            int rank = warm_shape(c, io, w, dims);
            names[i] = io->name;
            st = strata_tensor_create(io->dtype, rank, dims, &inputs[i]);
            bool random = false;
            for (size_t k = 0; w && k < w->n_inputs; k++)
                if (strcmp(w->inputs[k].name, io->name) == 0) random = w->inputs[k].random;
            int64_t n = st == STRATA_OK && random ? strata_tensor_numel(inputs[i]) : 0;
            for (int64_t e = 0; e < n; e++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                bool is_float = io->dtype == STRATA_DTYPE_F32 || io->dtype == STRATA_DTYPE_F64 ||
                                io->dtype == STRATA_DTYPE_F16 || io->dtype == STRATA_DTYPE_BF16;
                double v = io->dtype == STRATA_DTYPE_BOOL ? (double)(rng & 1)
                           : is_float                     ? (double)(rng >> 11) / 9007199254740992.0
                                                          : (double)(rng % 16);
                tensor_set_f64(inputs[i], e, v);
            }
        }
        int64_t count = w ? w->count : 1;
        for (size_t s = 0; st == STRATA_OK && s < mv->n_sessions; s++) {
            for (int64_t k = 0; st == STRATA_OK && k < count; k++) {
                st = strata_session_run(mv->sessions[s], c->n_inputs, names, inputs, 0, NULL, outputs);
                for (size_t o = 0; o < n_out; o++) strata_tensor_destroy(outputs[o]), outputs[o] = NULL;
            }
        }
        for (size_t i = 0; i < c->n_inputs; i++) strata_tensor_destroy(inputs[i]);
        if (st != STRATA_OK && w) {
            mem_free(outputs);
            return error_prefix(st, "model '%s' version %s: model_warmup '%s' (batch_size %lld)", mv->model,
                                mv->version_str, w->name, (long long)w->batch_size);
        }
    }
    mem_free(outputs);
    if (st != STRATA_OK) return error_prefix(st, "model '%s' version %s: warmup run", mv->model, mv->version_str);
    return STRATA_OK;
}

/* Loads, compiles (or takes from the cache) and warms one version with its own copy of the
 * config; *out holds one reference (the repository's). */
static strata_status load_version(repository *r, const char *name, const model_config *base, bool derive,
                                  int64_t version, model_version **out)
{
    *out = NULL;
    char dir[4096], onnx[4200], planf[4200];
    snprintf(dir, sizeof dir, "%s/%s/%lld", r->root, name, (long long)version);
    snprintf(onnx, sizeof onnx, "%s/model.onnx", dir);
    snprintf(planf, sizeof planf, "%s/model.plan", dir);
    bool is_plan = is_file(planf);
    if (!is_plan && !is_file(onnx))
        return error_set(STRATA_NOT_FOUND, "model '%s' version %lld: no model.plan or model.onnx in %s", name,
                         (long long)version, dir);
    uint64_t t0 = clock_now_ns();
    model_version *mv = mem_calloc(1, sizeof *mv);
    model_config *c = mem_alloc(sizeof *c);
    if (!mv || !c) {
        mem_free(mv);
        mem_free(c);
        return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", name);
    }
    *c = *base;
    snprintf(mv->model, sizeof mv->model, "%s", name);
    mv->version = version;
    snprintf(mv->version_str, sizeof mv->version_str, "%lld", (long long)version);
    mv->config = c;
    atomic_init(&mv->refs, 1);
    strata_status st = STRATA_OK;
    if (is_plan) {
        st = strata_plan_open(planf, &mv->plan);
        if (st == STRATA_OK) st = model_config_complete(c, strata_plan_model(mv->plan), true);
    } else {
        strata_model *sm = NULL;
        st = strata_model_load(onnx, &sm);
        if (st == STRATA_OK && derive && c->max_batch_size == 0 && !c->has_inputs) {
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
                c->max_batch_size = 4;
                c->dynamic_batching = true;
            }
        }
        if (st == STRATA_OK) st = model_config_complete(c, sm, false);
        strata_model_destroy(sm);
        if (st == STRATA_OK) st = plan_for_onnx(r, name, c, version, onnx, &mv->plan, &mv->plan_cached);
    }
    for (size_t i = 0; st == STRATA_OK && i < c->n_inputs + c->n_outputs; i++) {
        const config_io *io = i < c->n_inputs ? &c->inputs[i] : &c->outputs[i - c->n_inputs];
        if (io->dtype == STRATA_DTYPE_STRING || io->dtype == STRATA_DTYPE_UNDEFINED)
            st = error_set(STRATA_UNSUPPORTED, "model '%s': tensor '%s' has type %s, which the server does not serve yet",
                           name, io->name, model_config_kserve_dtype(io->dtype));
    }
    if (st == STRATA_OK) {
        mv->iface = strata_plan_model(mv->plan);
        st = metrics_model_init(&mv->metrics, c->max_batch_size);
    }
    if (st == STRATA_OK) {
        size_t n = (size_t)c->instance_count;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        strata_session_options so = {.n_threads = (int)(cpus > (long)n ? cpus / (long)n : 1)};
        mv->sessions = mem_calloc(n, sizeof *mv->sessions);
        if (!mv->sessions) st = error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", name);
        for (size_t i = 0; st == STRATA_OK && i < n; i++) {
            st = strata_session_create_plan(mv->plan, &so, &mv->sessions[i]);
            if (st == STRATA_OK) mv->n_sessions++;
        }
    }
    if (st == STRATA_OK) st = warm_version(mv);
    if (st == STRATA_OK) st = scheduler_create(mv, &mv->sched);
    if (st != STRATA_OK) {
        if (!strstr(strata_last_error(), name)) error_prefix(st, "model '%s' version %lld", name, (long long)version);
        version_free(mv);
        return st;
    }
    mv->load_ms = (double)(clock_now_ns() - t0) / 1e6;
    *out = mv;
    return STRATA_OK;
}

/* ---- what is on disk ------------------------------------------------------------------------------ */

/* Mixes a file's identity (mtime, ctime, size, inode; "absent" when missing) into h. */
static uint64_t file_stamp(const char *path, uint64_t h)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return hash64("-", 1, h);
    uint64_t v[6] = {(uint64_t)sb.st_mtim.tv_sec, (uint64_t)sb.st_mtim.tv_nsec, (uint64_t)sb.st_ctim.tv_sec,
                     (uint64_t)sb.st_ctim.tv_nsec, (uint64_t)sb.st_size, (uint64_t)sb.st_ino};
    return hash64(v, sizeof v, h);
}

/* Fingerprint of what one version is loaded from: its model file and the model's config. */
static uint64_t version_stamp(const char *dir, int64_t version)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/config.pbtxt", dir);
    uint64_t h = file_stamp(path, 0x4c69666531ull);
    snprintf(path, sizeof path, "%s/%lld/model.plan", dir, (long long)version);
    h = file_stamp(path, h);
    snprintf(path, sizeof path, "%s/%lld/model.onnx", dir, (long long)version);
    return file_stamp(path, h);
}

static int cmp_i64_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The version folders of a model folder, newest first (caller frees *out). */
static strata_status list_versions(const char *dir, int64_t **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return error_set(STRATA_IO_ERROR, "cannot read '%.400s': %s", dir, strerror(errno));
    int64_t *found = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    strata_status st = STRATA_OK;
    while ((e = readdir(d))) {
        int64_t v;
        char vpath[4600];
        snprintf(vpath, sizeof vpath, "%s/%s", dir, e->d_name);
        if (!parse_version(e->d_name, &v) || !is_dir(vpath)) continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            int64_t *nf = mem_realloc(found, nc * sizeof *nf);
            if (!nf) {
                st = error_set(STRATA_OUT_OF_MEMORY, "'%.400s': out of memory listing versions", dir);
                break;
            }
            found = nf;
            cap = nc;
        }
        found[n++] = v;
    }
    closedir(d);
    if (st != STRATA_OK) {
        mem_free(found);
        return st;
    }
    if (n) qsort(found, n, sizeof *found, cmp_i64_desc);
    *out = found;
    *n_out = n;
    return STRATA_OK;
}

/* Fingerprint of a whole model folder: config, version folders and their model files. */
static uint64_t model_stamp(const repository *r, const char *name)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", r->root, name);
    int64_t *v = NULL;
    size_t n = 0;
    if (list_versions(dir, &v, &n) != STRATA_OK) return 1;
    uint64_t h = hash64(&n, sizeof n, 0x53746d70ull);
    for (size_t i = 0; i < n; i++) {
        h = hash64(&v[i], sizeof v[i], h);
        h = hash64(&(uint64_t){version_stamp(dir, v[i])}, sizeof(uint64_t), h);
    }
    mem_free(v);
    return h ? h : 2;
}

/* Keeps in v[0..) the versions the policy selects (v is newest first); returns how many. */
static size_t select_versions(const model_config *c, int64_t *v, size_t n)
{
    size_t keep = 0;
    for (size_t i = 0; i < n; i++) {
        bool take = c->policy == POLICY_ALL;
        if (c->policy == POLICY_LATEST) take = (int64_t)i < c->policy_latest;
        for (size_t k = 0; c->policy == POLICY_SPECIFIC && k < c->n_policy_versions; k++)
            if (c->policy_versions[k] == v[i]) take = true;
        if (take && keep < SERVER_MAX_VERSIONS) v[keep++] = v[i];
    }
    return keep;
}

/* ---- the model table (writers hold load_mu and mu; readers hold mu) -------------------------------- */

static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const repo_model *)a)->name, ((const repo_model *)b)->name);
}

static repo_model *find_model(const repository *r, const char *name)
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

/* Adds an (unloaded) entry for a model folder; caller holds load_mu. */
static strata_status add_model(repository *r, const char *name)
{
    char (*vn)[24] = mem_calloc(SERVER_MAX_VERSIONS * 4, sizeof *vn);
    if (!vn) return error_set(STRATA_OUT_OF_MEMORY, "repository: out of memory");
    pthread_mutex_lock(&r->mu);
    if (r->n_models == r->cap_models) {
        size_t nc = r->cap_models ? r->cap_models * 2 : 8;
        repo_model *nm = mem_realloc(r->models, nc * sizeof *nm);
        if (!nm) {
            pthread_mutex_unlock(&r->mu);
            mem_free(vn);
            return error_set(STRATA_OUT_OF_MEMORY, "repository: out of memory");
        }
        r->models = nm;
        r->cap_models = nc;
    }
    repo_model *m = &r->models[r->n_models++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%.127s", name);
    snprintf(m->reason, sizeof m->reason, "unloaded");
    m->vnames = vn;
    qsort(r->models, r->n_models, sizeof *r->models, cmp_model);
    pthread_mutex_unlock(&r->mu);
    return STRATA_OK;
}

/* The interned copy of a version string (stable for the repository's life), or NULL when full. */
static const char *intern_version(repo_model *m, const char *v)
{
    for (size_t i = 0; i < m->n_vnames; i++)
        if (strcmp(m->vnames[i], v) == 0) return m->vnames[i];
    if (m->n_vnames == SERVER_MAX_VERSIONS * 4) return NULL;
    snprintf(m->vnames[m->n_vnames], sizeof m->vnames[0], "%s", v);
    return m->vnames[m->n_vnames++];
}

/* Takes mv out of service: it drains, then the reaper releases it. successor (not yet visible,
 * may be NULL) continues its counters. Caller holds mu. */
static void retire(repository *r, model_version *mv, model_version *successor)
{
    metrics_model *snap = successor ? counters_snapshot(mv) : NULL;
    if (snap) counters_fold(&successor->metrics, snap, NULL);
    if (r->n_retired == r->cap_retired) {
        size_t nc = r->cap_retired ? r->cap_retired * 2 : 8;
        retired_version *nr = mem_realloc(r->retired, nc * sizeof *nr);
        if (!nr) {
            /* cannot track it: stop it now (queued requests answered CANCELLED) and leak nothing
             * else; it is freed at close */
            scheduler_stop(mv->sched);
            snapshot_free(snap);
            fprintf(stderr, "strata serve: out of memory retiring model '%s' version %s\n", mv->model, mv->version_str);
            return;
        }
        r->retired = nr;
        r->cap_retired = nc;
    }
    r->retired[r->n_retired++] = (retired_version){mv, snap};
}

/* Releases the retired versions that have drained (only the repository's reference is left). */
static void reap(repository *r)
{
    model_version *done[64];
    size_t n_done = 0;
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_retired && n_done < ARRAY_LEN(done);) {
        retired_version *rv = &r->retired[i];
        if (atomic_load(&rv->mv->refs) > 1) {
            i++;
            continue;
        }
        /* fold the drain's tail into the version now serving the same number */
        repo_model *m = find_model(r, rv->mv->model);
        for (size_t k = 0; rv->snap && m && k < m->n_versions; k++) {
            model_version *live = m->versions[k].mv;
            if (!live || live->version != rv->mv->version) continue;
            pthread_mutex_lock(&live->metrics.mu);
            pthread_mutex_lock(&rv->mv->metrics.mu);
            counters_fold(&live->metrics, &rv->mv->metrics, rv->snap);
            pthread_mutex_unlock(&rv->mv->metrics.mu);
            pthread_mutex_unlock(&live->metrics.mu);
        }
        snapshot_free(rv->snap);
        done[n_done++] = rv->mv;
        r->retired[i] = r->retired[--r->n_retired];
    }
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n_done; i++) {
        fprintf(stderr, "strata serve: released model '%s' version %s (drained)\n", done[i]->model, done[i]->version_str);
        version_free(done[i]);
    }
}

static bool in_versions(const repo_version *v, size_t n, const model_version *mv)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].mv == mv) return true;
    return false;
}

/* Brings model `name` in line with its folder: loads and warms the selected versions whose files
 * changed (every selected version when force), swaps them in, and retires the versions replaced or
 * no longer selected. A failed (re)load keeps what was serving. Caller holds load_mu. */
static strata_status model_sync(repository *r, const char *name, bool force)
{
    repo_model *m = find_model(r, name); /* stable: writers hold load_mu */
    if (!m) return error_set(STRATA_NOT_FOUND, "unknown model '%s'", name);
    uint64_t stamp = model_stamp(r, name);
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/%s", r->root, name);
    snprintf(path, sizeof path, "%s/config.pbtxt", dir);
    bool had_live = false;
    for (size_t k = 0; k < m->n_versions; k++) had_live |= m->versions[k].mv != NULL;
    model_config *base = mem_alloc(sizeof *base);
    if (!base) return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", name);
    model_config_init(base, name);
    bool derive = !is_file(path);
    strata_status st = STRATA_OK;
    if (!derive) {
        char *text = NULL;
        size_t n = 0;
        st = read_small_file(path, SERVER_MAX_CONFIG_BYTES, &text, &n);
        if (st == STRATA_OK) st = model_config_parse(text, n, path, base);
        mem_free(text);
    }
    int64_t *found = NULL;
    size_t keep = 0;
    if (st == STRATA_OK) st = list_versions(dir, &found, &keep);
    if (st == STRATA_OK) {
        keep = select_versions(base, found, keep);
        if (keep == 0)
            st = error_set(STRATA_NOT_FOUND, "model '%s': no version folder (1/, 2/, ...) that the version policy selects in %.300s",
                           name, dir);
    }
    repo_version *next = st == STRATA_OK ? mem_calloc(keep, sizeof *next) : NULL;
    bool *fresh = st == STRATA_OK ? mem_calloc(keep, sizeof *fresh) : NULL;
    if (st == STRATA_OK && (!next || !fresh)) st = error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", name);
    if (st != STRATA_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", strata_last_error());
        pthread_mutex_lock(&r->mu);
        if (had_live) {
            fprintf(stderr, "strata serve: reload of model '%s' failed, the loaded versions keep serving: %s\n", name, msg);
            for (size_t k = 0; k < m->n_versions; k++)
                snprintf(m->versions[k].reason, sizeof m->versions[k].reason, "reload failed, still serving the previous load: %.400s", msg);
        } else {
            fprintf(stderr, "strata serve: %s\n", msg);
            snprintf(m->reason, sizeof m->reason, "%s", msg);
        }
        m->wanted = true;
        m->stamp = stamp;
        pthread_mutex_unlock(&r->mu);
        mem_free(base);
        mem_free(found);
        mem_free(next);
        mem_free(fresh);
        return error_set(STRATA_INVALID_MODEL, "%s", msg);
    }
    char first_err[512] = "";
    size_t n_serving = 0;
    for (size_t i = 0; i < keep; i++) {
        repo_version *nv = &next[i];
        nv->version = found[i];
        nv->stamp = version_stamp(dir, found[i]);
        const repo_version *cur = NULL;
        for (size_t k = 0; k < m->n_versions && !cur; k++)
            if (m->versions[k].version == found[i]) cur = &m->versions[k];
        if (cur && cur->mv && cur->stamp == nv->stamp && !force) {
            nv->mv = cur->mv;
            n_serving++;
            continue;
        }
        st = load_version(r, name, base, derive, found[i], &nv->mv);
        if (st == STRATA_OK) {
            fresh[i] = true;
            n_serving++;
            fprintf(stderr, "strata serve: loaded model '%s' version %lld in %.1f ms%s\n", name, (long long)found[i],
                    nv->mv->load_ms, nv->mv->plan_cached ? " (cached plan)" : "");
            continue;
        }
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", strata_last_error());
        if (cur && cur->mv) {
            /* a failed reload keeps the previous load of this version serving */
            nv->mv = cur->mv;
            nv->stamp = cur->stamp;
            n_serving++;
            snprintf(nv->reason, sizeof nv->reason, "reload failed, still serving the previous load: %.400s", strata_last_error());
            fprintf(stderr, "strata serve: %s\n", nv->reason);
        } else {
            snprintf(nv->reason, sizeof nv->reason, "%s", strata_last_error());
            fprintf(stderr, "strata serve: %s\n", nv->reason);
        }
    }
    mem_free(found);
    mem_free(base);
    pthread_mutex_lock(&r->mu);
    if (n_serving == 0 && had_live) {
        /* nothing of the new selection loads: keep the versions that were serving */
        for (size_t k = 0; k < m->n_versions; k++)
            snprintf(m->versions[k].reason, sizeof m->versions[k].reason, "reload failed, still serving the previous load: %.400s", first_err);
        fprintf(stderr, "strata serve: reload of model '%s' failed, the loaded versions keep serving\n", name);
        m->stamp = stamp;
        pthread_mutex_unlock(&r->mu);
        mem_free(next);
        mem_free(fresh);
        return error_set(STRATA_INVALID_MODEL, "%s", first_err);
    }
    for (size_t k = 0; k < m->n_versions; k++) {
        model_version *old = m->versions[k].mv;
        if (!old || in_versions(next, keep, old)) continue;
        model_version *succ = NULL;
        for (size_t i = 0; i < keep; i++)
            if (fresh[i] && next[i].version == old->version) succ = next[i].mv;
        retire(r, old, succ);
    }
    mem_free(m->versions);
    m->versions = next;
    m->n_versions = keep;
    m->reason[0] = 0;
    m->wanted = true;
    m->removed = false;
    m->stamp = stamp;
    for (size_t i = 0; i < keep; i++)
        if (next[i].mv) intern_version(m, next[i].mv->version_str);
    pthread_mutex_unlock(&r->mu);
    mem_free(fresh);
    if (first_err[0]) return error_set(STRATA_INVALID_MODEL, "%s", first_err);
    return STRATA_OK;
}

/* Takes every version of a model out of service (they drain, then are released). */
static void model_unload(repository *r, repo_model *m, const char *why)
{
    pthread_mutex_lock(&r->mu);
    for (size_t k = 0; k < m->n_versions; k++)
        if (m->versions[k].mv) retire(r, m->versions[k].mv, NULL);
    mem_free(m->versions);
    m->versions = NULL;
    m->n_versions = 0;
    m->wanted = false;
    snprintf(m->reason, sizeof m->reason, "%s", why);
    pthread_mutex_unlock(&r->mu);
}

static bool model_dir_ok(const repository *r, const char *name)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->root, name);
    return name[0] != '.' && model_config_name_valid(name) && is_dir(path);
}

/* Poll mode: new folders are loaded, changed ones reloaded, removed ones unloaded. */
static void poll_repository(repository *r)
{
    pthread_mutex_lock(&r->load_mu);
    DIR *d = opendir(r->root);
    if (!d) {
        fprintf(stderr, "strata serve: cannot read the repository '%s': %s\n", r->root, strerror(errno));
        pthread_mutex_unlock(&r->load_mu);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!model_dir_ok(r, e->d_name) || find_model(r, e->d_name)) continue;
        if (add_model(r, e->d_name) == STRATA_OK) find_model(r, e->d_name)->stamp = 0;
    }
    closedir(d);
    for (size_t i = 0; i < r->n_models; i++) {
        repo_model *m = &r->models[i];
        char name[SERVER_MAX_NAME];
        snprintf(name, sizeof name, "%s", m->name);
        if (!model_dir_ok(r, name)) {
            if (!m->removed) {
                fprintf(stderr, "strata serve: model '%s' was removed from the repository: unloading\n", name);
                model_unload(r, m, "removed from the repository");
                m->removed = true;
                m->stamp = 0;
            }
            continue;
        }
        if (model_stamp(r, name) == m->stamp) continue;
        fprintf(stderr, "strata serve: model '%s' changed on disk: reloading\n", name);
        model_sync(r, name, false);
    }
    pthread_mutex_unlock(&r->load_mu);
}

static void *lifecycle_main(void *arg)
{
    repository *r = arg;
    uint64_t next_poll = clock_now_ns() + (uint64_t)r->poll_secs * 1000000000u;
    pthread_mutex_lock(&r->life_mu);
    while (!r->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t until = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + REAP_INTERVAL_NS;
        ts.tv_sec = (time_t)(until / 1000000000u);
        ts.tv_nsec = (long)(until % 1000000000u);
        pthread_cond_timedwait(&r->life_cv, &r->life_mu, &ts);
        if (r->stopping) break;
        pthread_mutex_unlock(&r->life_mu);
        reap(r);
        if (r->mode == CONTROL_POLL && clock_now_ns() >= next_poll) {
            poll_repository(r);
            next_poll = clock_now_ns() + (uint64_t)r->poll_secs * 1000000000u;
        }
        pthread_mutex_lock(&r->life_mu);
    }
    pthread_mutex_unlock(&r->life_mu);
    return NULL;
}

/* The control mode and its arguments from the server options. */
static strata_status parse_mode(const server_options *o, repository *r, const char **load_list)
{
    const char *s = o->control_mode;
    *load_list = NULL;
    r->poll_secs = o->poll_secs ? o->poll_secs : 15;
    if (r->poll_secs < 1 || r->poll_secs > 86400)
        return error_set(STRATA_INVALID_ARGUMENT, "repository poll period %d is not 1..86400 seconds", r->poll_secs);
    if (!s || !s[0] || strcmp(s, "none") == 0) {
        r->mode = CONTROL_NONE;
    } else if (strcmp(s, "poll") == 0) {
        r->mode = CONTROL_POLL;
    } else if (strcmp(s, "explicit") == 0) {
        r->mode = CONTROL_EXPLICIT;
        if (o->load_models && o->load_models[0]) *load_list = o->load_models;
    } else {
        return error_set(STRATA_INVALID_ARGUMENT, "unknown model control mode '%s' (none, poll, explicit)", s);
    }
    return STRATA_OK;
}

strata_status repository_open(const server_options *o, repository **out)
{
    *out = NULL;
    if (!o->repository || !is_dir(o->repository))
        return error_set(STRATA_NOT_FOUND, "model repository '%s' is not a folder", o->repository ? o->repository : "(none)");
    repository *r = mem_calloc(1, sizeof *r);
    if (!r) return error_set(STRATA_OUT_OF_MEMORY, "repository: out of memory");
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->load_mu, NULL);
    pthread_mutex_init(&r->life_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->life_cv, &ca);
    pthread_condattr_destroy(&ca);
    const char *load_list = NULL;
    strata_status st = parse_mode(o, r, &load_list);
    char cache[4096];
    if (o->plan_cache) {
        snprintf(cache, sizeof cache, "%s", o->plan_cache);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(cache, sizeof cache, "%s/strata-plan-cache", tmp && tmp[0] ? tmp : "/tmp");
    }
    r->root = mem_strdup(o->repository);
    r->cache = mem_strdup(cache);
    if (st == STRATA_OK)
        st = r->root && r->cache ? make_dirs(r->cache) : error_set(STRATA_OUT_OF_MEMORY, "repository: out of memory");
    DIR *d = st == STRATA_OK ? opendir(o->repository) : NULL;
    if (st == STRATA_OK && !d) st = error_set(STRATA_IO_ERROR, "cannot read '%s': %s", o->repository, strerror(errno));
    struct dirent *e;
    while (st == STRATA_OK && (e = readdir(d))) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", o->repository, e->d_name);
        if (e->d_name[0] == '.' || !is_dir(path)) continue;
        if (!model_config_name_valid(e->d_name)) {
            fprintf(stderr, "strata serve: skipping '%s': not a valid model name\n", path);
            continue;
        }
        st = add_model(r, e->d_name);
    }
    if (d) closedir(d);
    if (st != STRATA_OK) {
        repository_close(r);
        return st;
    }
    pthread_mutex_lock(&r->load_mu);
    for (size_t i = 0; i < r->n_models; i++) {
        repo_model *m = &r->models[i];
        bool load = r->mode != CONTROL_EXPLICIT;
        if (!load && load_list) {
            /* comma-separated names, or "*" */
            size_t n = strlen(m->name);
            for (const char *p = load_list; *p && !load;) {
                const char *q = strchr(p, ',');
                size_t len = q ? (size_t)(q - p) : strlen(p);
                load = (len == 1 && *p == '*') || (len == n && strncmp(p, m->name, n) == 0);
                p = q ? q + 1 : p + len;
            }
        }
        if (load) model_sync(r, m->name, false);
    }
    pthread_mutex_unlock(&r->load_mu);
    for (const char *p = load_list; p && *p;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        char name[SERVER_MAX_NAME];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        if (strcmp(name, "*") != 0 && !find_model(r, name))
            fprintf(stderr, "strata serve: --load-model '%s': no such model folder in %s\n", name, r->root);
        p = q ? q + 1 : p + len;
    }
    if (r->mode != CONTROL_NONE) {
        if (pthread_create(&r->life, NULL, lifecycle_main, r) != 0) {
            repository_close(r);
            return error_set(STRATA_INTERNAL, "repository: cannot start the lifecycle thread");
        }
        r->life_started = true;
    }
    *out = r;
    return STRATA_OK;
}

void repository_stop(repository *r)
{
    if (!r) return;
    if (r->life_started) {
        pthread_mutex_lock(&r->life_mu);
        r->stopping = true;
        pthread_cond_broadcast(&r->life_cv);
        pthread_mutex_unlock(&r->life_mu);
        pthread_join(r->life, NULL);
        r->life_started = false;
    }
    pthread_mutex_lock(&r->load_mu); /* no load runs from here on; readers only read */
    for (size_t i = 0; i < r->n_models; i++)
        for (size_t k = 0; k < r->models[i].n_versions; k++)
            if (r->models[i].versions[k].mv) scheduler_stop(r->models[i].versions[k].mv->sched);
    for (size_t i = 0; i < r->n_retired; i++) scheduler_stop(r->retired[i].mv->sched);
    pthread_mutex_unlock(&r->load_mu);
}

void repository_close(repository *r)
{
    if (!r) return;
    repository_stop(r);
    for (size_t i = 0; i < r->n_models; i++) {
        repo_model *m = &r->models[i];
        for (size_t k = 0; k < m->n_versions; k++) version_free(m->versions[k].mv);
        mem_free(m->versions);
        mem_free(m->vnames);
    }
    for (size_t i = 0; i < r->n_retired; i++) {
        version_free(r->retired[i].mv);
        snapshot_free(r->retired[i].snap);
    }
    mem_free(r->retired);
    mem_free(r->models);
    mem_free(r->root);
    mem_free(r->cache);
    pthread_cond_destroy(&r->life_cv);
    pthread_mutex_destroy(&r->life_mu);
    pthread_mutex_destroy(&r->load_mu);
    pthread_mutex_destroy(&r->mu);
    mem_free(r);
}

/* ---- explicit control ----------------------------------------------------------------------------- */

bool repository_explicit(const repository *r) { return r->mode == CONTROL_EXPLICIT; }

strata_status repository_load_model(repository *r, const char *model)
{
    if (r->mode != CONTROL_EXPLICIT)
        return error_set(STRATA_INVALID_ARGUMENT, "explicit model load / unload is not allowed in model control mode %s",
                         r->mode == CONTROL_POLL ? "poll" : "none");
    if (!model_config_name_valid(model))
        return error_set(STRATA_INVALID_ARGUMENT, "'%.64s' is not a valid model name", model);
    if (!model_dir_ok(r, model))
        return error_set(STRATA_INVALID_ARGUMENT, "failed to load '%s': no such model folder in the repository", model);
    pthread_mutex_lock(&r->load_mu);
    strata_status st = find_model(r, model) ? STRATA_OK : add_model(r, model);
    if (st == STRATA_OK) st = model_sync(r, model, true);
    if (st != STRATA_OK) error_prefix(st, "failed to load '%s'", model);
    pthread_mutex_unlock(&r->load_mu);
    return st;
}

strata_status repository_unload_model(repository *r, const char *model)
{
    if (r->mode != CONTROL_EXPLICIT)
        return error_set(STRATA_INVALID_ARGUMENT, "explicit model load / unload is not allowed in model control mode %s",
                         r->mode == CONTROL_POLL ? "poll" : "none");
    if (!model_config_name_valid(model))
        return error_set(STRATA_INVALID_ARGUMENT, "'%.64s' is not a valid model name", model);
    pthread_mutex_lock(&r->load_mu);
    repo_model *m = find_model(r, model);
    strata_status st = STRATA_OK;
    if (!m) st = error_set(STRATA_INVALID_ARGUMENT, "failed to unload '%s': no such model in the repository", model);
    else model_unload(r, m, "unloaded");
    pthread_mutex_unlock(&r->load_mu);
    if (st == STRATA_OK) fprintf(stderr, "strata serve: unloaded model '%s' (in-flight requests drain first)\n", model);
    return st;
}

/* ---- lookups ------------------------------------------------------------------------------------- */

strata_status repository_acquire(repository *r, const char *model, const char *version,
                                 model_version **out)
{
    *out = NULL;
    if (!model_config_name_valid(model))
        return error_set(STRATA_INVALID_ARGUMENT, "'%.64s%s' is not a valid model name", model, strlen(model) > 64 ? "..." : "");
    int64_t v = 0;
    if (version && version[0] && !parse_version(version, &v))
        return error_set(STRATA_INVALID_ARGUMENT, "model '%s': '%.32s' is not a version number", model, version);
    strata_status st = STRATA_OK;
    pthread_mutex_lock(&r->mu);
    const repo_model *m = find_model(r, model);
    const repo_version *rv = NULL;
    if (!m) {
        st = error_set(STRATA_NOT_FOUND, "unknown model '%s'", model);
    } else if (!version || !version[0]) {
        for (size_t k = 0; k < m->n_versions && !rv; k++)
            if (m->versions[k].mv) rv = &m->versions[k];
        if (!rv)
            st = error_set(STRATA_QUEUE_FULL, "model '%s' is not available: %s", model,
                           m->reason[0] ? m->reason : m->n_versions ? m->versions[0].reason : "no version loaded");
    } else {
        for (size_t k = 0; k < m->n_versions && !rv; k++)
            if (m->versions[k].version == v) rv = &m->versions[k];
        if (!rv) st = error_set(STRATA_NOT_FOUND, "model '%s' has no version %lld being served", model, (long long)v);
        else if (!rv->mv)
            st = error_set(STRATA_QUEUE_FULL, "model '%s' version %lld is not available: %s", model, (long long)v, rv->reason);
    }
    if (st == STRATA_OK) {
        atomic_fetch_add(&rv->mv->refs, 1);
        *out = rv->mv;
    }
    pthread_mutex_unlock(&r->mu);
    return st;
}

void repository_release(model_version *mv)
{
    /* the lifecycle thread frees a retired version once only its reference is left */
    if (mv) atomic_fetch_sub(&mv->refs, 1);
}

bool repository_ready(const repository *r)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&r->mu;
    bool ready = true;
    pthread_mutex_lock(mu);
    for (size_t i = 0; ready && i < r->n_models; i++) {
        const repo_model *m = &r->models[i];
        if (!m->wanted) continue;
        if (m->reason[0]) ready = false;
        for (size_t k = 0; k < m->n_versions; k++)
            if (!m->versions[k].mv) ready = false;
    }
    pthread_mutex_unlock(mu);
    return ready;
}

cJSON *repository_index_json(const repository *r, bool ready_only)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&r->mu;
    cJSON *a = cJSON_CreateArray();
    pthread_mutex_lock(mu);
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
            cJSON_AddStringToObject(o, "reason", m->reason[0] ? m->reason : rv ? rv->reason : "");
            cJSON_AddItemToArray(a, o);
        }
    }
    pthread_mutex_unlock(mu);
    return a;
}

size_t repository_versions(const repository *r, const char *model, const char **out, size_t max)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&r->mu;
    pthread_mutex_lock(mu);
    repo_model *m = find_model(r, model);
    size_t n = 0;
    for (size_t k = 0; m && k < m->n_versions && n < max; k++) {
        const char *s = m->versions[k].mv ? intern_version(m, m->versions[k].mv->version_str) : NULL;
        if (s) out[n++] = s;
    }
    pthread_mutex_unlock(mu);
    return n;
}

void repository_each(const repository *r, void (*fn)(model_version *mv, void *arg), void *arg)
{
    pthread_mutex_t *mu = (pthread_mutex_t *)&r->mu;
    pthread_mutex_lock(mu);
    for (size_t i = 0; i < r->n_models; i++)
        for (size_t k = 0; k < r->models[i].n_versions; k++)
            if (r->models[i].versions[k].mv) fn(r->models[i].versions[k].mv, arg);
    pthread_mutex_unlock(mu);
}
