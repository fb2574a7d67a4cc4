/* server/metrics.c — per model version counters (Triton's metric names), a request latency
 * histogram and a batch size histogram, rendered as Prometheus text for /metrics and as Triton's
 * statistics JSON for /v2/models/{m}/stats; plus the process's resident memory. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Upper bounds (us) of the latency buckets; the last bucket is +Inf. */
static const double latency_le_us[METRICS_N_LATENCY_BUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};
static const double batch_le[METRICS_N_BATCH_BUCKETS - 1] = {1, 2, 4, 8, 16, 32, 64, 128};

strata_status metrics_model_init(metrics_model *m, int64_t max_batch_size)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->n_batch = (size_t)(max_batch_size > 0 ? max_batch_size : 1) + 1;
    m->batch = mem_calloc(m->n_batch, sizeof *m->batch);
    if (!m->batch) {
        pthread_mutex_destroy(&m->mu);
        return error_set(STRATA_OUT_OF_MEMORY, "metrics: out of memory");
    }
    return STRATA_OK;
}

void metrics_model_release(metrics_model *m)
{
    if (!m->batch) return;
    mem_free(m->batch);
    m->batch = NULL;
    pthread_mutex_destroy(&m->mu);
}

void metrics_record_batch(metrics_model *m, int64_t rows, uint64_t input_ns, uint64_t infer_ns,
                          uint64_t output_ns)
{
    pthread_mutex_lock(&m->mu);
    m->exec_count++;
    m->inference_count += (uint64_t)rows;
    size_t b = rows >= 0 && (size_t)rows < m->n_batch ? (size_t)rows : m->n_batch - 1;
    m->batch[b].count++;
    m->batch[b].input_ns += input_ns;
    m->batch[b].infer_ns += infer_ns;
    m->batch[b].output_ns += output_ns;
    size_t k = 0;
    while (k < ARRAY_LEN(batch_le) && (double)rows > batch_le[k]) k++;
    m->batch_buckets[k]++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_record_request(metrics_model *m, bool ok, bool rejected, uint64_t total_ns,
                            uint64_t queue_ns, uint64_t input_ns, uint64_t infer_ns,
                            uint64_t output_ns)
{
    pthread_mutex_lock(&m->mu);
    if (ok) {
        m->success++;
        m->success_ns += total_ns;
        m->queue_ns += queue_ns;
        m->input_ns += input_ns;
        m->infer_ns += infer_ns;
        m->output_ns += output_ns;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        m->last_inference_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        size_t k = 0;
        while (k < ARRAY_LEN(latency_le_us) && (double)total_ns / 1000.0 > latency_le_us[k]) k++;
        m->latency_buckets[k]++;
    } else {
        if (rejected) m->fail_rejected++;
        else m->fail_other++;
        m->fail_ns += total_ns;
    }
    pthread_mutex_unlock(&m->mu);
}

/* ---- Prometheus text ---------------------------------------------------------------------------- */

typedef struct text_buf {
    char *p;
    size_t n, cap;
    bool failed;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) STRATA_PRINTF(2, 3);
static void put(text_buf *b, const char *fmt, ...)
{
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->failed = true;
            return;
        }
        if (b->p && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 8192) + (size_t)k;
        char *np = mem_realloc(b->p, cap);
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

typedef struct family {
    const char *name, *type, *help;
} family;

static const family families[] = {
    {"nv_inference_request_success", "counter", "Number of successful inference requests"},
    {"nv_inference_request_failure", "counter", "Number of failed inference requests, by reason"},
    {"nv_inference_count", "counter", "Number of inferences performed (a batch of n counts n)"},
    {"nv_inference_exec_count", "counter", "Number of model executions (batches)"},
    {"nv_inference_request_duration_us", "counter", "Cumulative end-to-end inference request duration in us"},
    {"nv_inference_queue_duration_us", "counter", "Cumulative time requests spent waiting in the queue in us"},
    {"nv_inference_compute_input_duration_us", "counter", "Cumulative input preparation (batch gather) time in us"},
    {"nv_inference_compute_infer_duration_us", "counter", "Cumulative model execution time in us"},
    {"nv_inference_compute_output_duration_us", "counter", "Cumulative output split time in us"},
    {"nv_inference_pending_request_count", "gauge", "Requests waiting in the queue"},
    {"strata_inference_request_latency_us", "histogram", "End-to-end latency of successful requests in us"},
    {"strata_inference_batch_size", "histogram", "Rows per model execution"},
};

typedef struct render_ctx {
    text_buf *b;
    size_t family;
} render_ctx;

static void render_one(model_version *mv, void *arg)
{
    render_ctx *rc = arg;
    text_buf *b = rc->b;
    metrics_model *m = &mv->metrics;
    char lab[300];
    snprintf(lab, sizeof lab, "model=\"%s\",version=\"%s\"", mv->model, mv->version_str);
    pthread_mutex_lock(&m->mu);
    switch (rc->family) {
    case 0: put(b, "nv_inference_request_success{%s} %llu\n", lab, (unsigned long long)m->success); break;
    case 1:
        put(b, "nv_inference_request_failure{%s,reason=\"REJECTED\"} %llu\n", lab, (unsigned long long)m->fail_rejected);
        put(b, "nv_inference_request_failure{%s,reason=\"OTHER\"} %llu\n", lab, (unsigned long long)m->fail_other);
        break;
    case 2: put(b, "nv_inference_count{%s} %llu\n", lab, (unsigned long long)m->inference_count); break;
    case 3: put(b, "nv_inference_exec_count{%s} %llu\n", lab, (unsigned long long)m->exec_count); break;
    case 4: put(b, "nv_inference_request_duration_us{%s} %llu\n", lab, (unsigned long long)((m->success_ns + m->fail_ns) / 1000)); break;
    case 5: put(b, "nv_inference_queue_duration_us{%s} %llu\n", lab, (unsigned long long)(m->queue_ns / 1000)); break;
    case 6: put(b, "nv_inference_compute_input_duration_us{%s} %llu\n", lab, (unsigned long long)(m->input_ns / 1000)); break;
    case 7: put(b, "nv_inference_compute_infer_duration_us{%s} %llu\n", lab, (unsigned long long)(m->infer_ns / 1000)); break;
    case 8: put(b, "nv_inference_compute_output_duration_us{%s} %llu\n", lab, (unsigned long long)(m->output_ns / 1000)); break;
    case 9: put(b, "nv_inference_pending_request_count{%s} %lld\n", lab, (long long)atomic_load(&m->queue_depth)); break;
    case 10: {
        uint64_t cum = 0;
        for (size_t k = 0; k < METRICS_N_LATENCY_BUCKETS; k++) {
            cum += m->latency_buckets[k];
            if (k + 1 < METRICS_N_LATENCY_BUCKETS)
                put(b, "strata_inference_request_latency_us_bucket{%s,le=\"%g\"} %llu\n", lab, latency_le_us[k], (unsigned long long)cum);
            else
                put(b, "strata_inference_request_latency_us_bucket{%s,le=\"+Inf\"} %llu\n", lab, (unsigned long long)cum);
        }
        put(b, "strata_inference_request_latency_us_sum{%s} %llu\n", lab, (unsigned long long)(m->success_ns / 1000));
        put(b, "strata_inference_request_latency_us_count{%s} %llu\n", lab, (unsigned long long)m->success);
        break;
    }
    case 11: {
        uint64_t cum = 0;
        for (size_t k = 0; k < METRICS_N_BATCH_BUCKETS; k++) {
            cum += m->batch_buckets[k];
            if (k + 1 < METRICS_N_BATCH_BUCKETS)
                put(b, "strata_inference_batch_size_bucket{%s,le=\"%g\"} %llu\n", lab, batch_le[k], (unsigned long long)cum);
            else
                put(b, "strata_inference_batch_size_bucket{%s,le=\"+Inf\"} %llu\n", lab, (unsigned long long)cum);
        }
        put(b, "strata_inference_batch_size_sum{%s} %llu\n", lab, (unsigned long long)m->inference_count);
        put(b, "strata_inference_batch_size_count{%s} %llu\n", lab, (unsigned long long)m->exec_count);
        break;
    }
    }
    pthread_mutex_unlock(&m->mu);
}

static uint64_t process_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long size = 0, rss = 0;
    int k = fscanf(f, "%llu %llu", &size, &rss);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return k == 2 && page > 0 ? rss * (uint64_t)page : 0;
}

char *metrics_render(const repository *r, size_t *n_out)
{
    text_buf b = {0};
    for (size_t f = 0; f < ARRAY_LEN(families); f++) {
        put(&b, "# HELP %s %s\n# TYPE %s %s\n", families[f].name, families[f].help, families[f].name, families[f].type);
        render_ctx rc = {&b, f};
        repository_each(r, render_one, &rc);
    }
    put(&b, "# HELP process_resident_memory_bytes Resident memory size in bytes\n"
            "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n",
        (unsigned long long)process_rss_bytes());
    if (b.failed) {
        mem_free(b.p);
        return NULL;
    }
    *n_out = b.n;
    return b.p;
}

/* ---- Triton statistics JSON ------------------------------------------------------------------------ */

static cJSON *duration(uint64_t count, uint64_t ns)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddNumberToObject(o, "count", (double)count);
        cJSON_AddNumberToObject(o, "ns", (double)ns);
    }
    return o;
}

typedef struct stats_ctx {
    const char *model, *version;
    cJSON *list;
    size_t n;
} stats_ctx;

static void stats_one(model_version *mv, void *arg)
{
    stats_ctx *sc = arg;
    if (sc->model && strcmp(sc->model, mv->model) != 0) return;
    if (sc->version && sc->version[0] && strcmp(sc->version, mv->version_str) != 0) return;
    metrics_model *m = &mv->metrics;
    cJSON *o = cJSON_CreateObject();
    if (!o) return;
    pthread_mutex_lock(&m->mu);
    cJSON_AddStringToObject(o, "name", mv->model);
    cJSON_AddStringToObject(o, "version", mv->version_str);
    cJSON_AddNumberToObject(o, "last_inference", (double)m->last_inference_ms);
    cJSON_AddNumberToObject(o, "inference_count", (double)m->inference_count);
    cJSON_AddNumberToObject(o, "execution_count", (double)m->exec_count);
    cJSON *is = cJSON_AddObjectToObject(o, "inference_stats");
    if (is) {
        cJSON_AddItemToObject(is, "success", duration(m->success, m->success_ns));
        cJSON_AddItemToObject(is, "fail", duration(m->fail_rejected + m->fail_other, m->fail_ns));
        cJSON_AddItemToObject(is, "queue", duration(m->success, m->queue_ns));
        cJSON_AddItemToObject(is, "compute_input", duration(m->success, m->input_ns));
        cJSON_AddItemToObject(is, "compute_infer", duration(m->success, m->infer_ns));
        cJSON_AddItemToObject(is, "compute_output", duration(m->success, m->output_ns));
        cJSON_AddItemToObject(is, "cache_hit", duration(0, 0));
        cJSON_AddItemToObject(is, "cache_miss", duration(0, 0));
    }
    cJSON_AddItemToObject(o, "response_stats", cJSON_CreateObject());
    cJSON *bs = cJSON_AddArrayToObject(o, "batch_stats");
    for (size_t k = 1; bs && k < m->n_batch; k++) {
        const metrics_batch *mb = &m->batch[k];
        if (!mb->count) continue;
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddNumberToObject(e, "batch_size", (double)k);
        cJSON_AddItemToObject(e, "compute_input", duration(mb->count, mb->input_ns));
        cJSON_AddItemToObject(e, "compute_infer", duration(mb->count, mb->infer_ns));
        cJSON_AddItemToObject(e, "compute_output", duration(mb->count, mb->output_ns));
        cJSON_AddItemToArray(bs, e);
    }
    cJSON_AddItemToObject(o, "memory_usage", cJSON_CreateArray());
    pthread_mutex_unlock(&m->mu);
    cJSON_AddItemToArray(sc->list, o);
    sc->n++;
}

strata_status metrics_stats_json(const repository *r, const char *model, const char *version,
                                 cJSON **out)
{
    *out = NULL;
    cJSON *root = cJSON_CreateObject();
    cJSON *list = root ? cJSON_AddArrayToObject(root, "model_stats") : NULL;
    if (!list) {
        cJSON_Delete(root);
        return error_set(STRATA_OUT_OF_MEMORY, "stats: out of memory");
    }
    stats_ctx sc = {model, version, list, 0};
    repository_each(r, stats_one, &sc);
    if (model && sc.n == 0) {
        cJSON_Delete(root);
        if (version && version[0])
            return error_set(STRATA_NOT_FOUND, "model '%s' version %s is not loaded", model, version);
        return error_set(STRATA_NOT_FOUND, "model '%s' is not loaded", model);
    }
    *out = root;
    return STRATA_OK;
}
