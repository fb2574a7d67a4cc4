/* server/kserve_grpc.c — KServe v2 over gRPC: inference.GRPCInferenceService (proto/grpc_service.proto)
 * on gRPC's C core. A few worker threads poll one completion queue; each call is a small state
 * machine (accepted -> message received -> answered exactly once). Messages are decoded with
 * protobuf-c (64 MiB cap set on the channel, every count and size checked before use); ModelInfer
 * becomes the same infer_request the HTTP frontend builds (request.c) and is answered from the
 * scheduler's completion callback, so a worker never waits for a model. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "grpc_service.pb-c.h"
#include "internal.h"

#define N_WORKERS 4               /* threads polling the completion queue */
#define N_ACCEPT 16               /* calls requested ahead of their arrival */
#define STOP_WAIT_NS 5000000000u  /* how long stop waits for calls that are still answering */
#define METHOD_PREFIX "/inference.GRPCInferenceService/"

/* Explicit model control (repository.c; declared here as kserve_http.c does until internal.h
 * carries them). */

typedef enum call_phase { PHASE_ACCEPT, PHASE_RECEIVE, PHASE_RUN, PHASE_ANSWER } call_phase;

struct grpc_frontend {
    kserve_ctx *k;                   /* repository, in-flight count, draining flag */
    grpc_server *server;
    grpc_completion_queue *cq;
    ProtobufCAllocator alloc;        /* protobuf-c allocates through mem_alloc/mem_free */
    pthread_t workers[N_WORKERS];
    size_t n_workers;
    int port;                        /* bound port */
    char shutdown_tag;               /* its address tags the server's shutdown notification */
    pthread_mutex_t mu;              /* guards the two flags */
    pthread_cond_t cv;
    bool quiescing;                  /* shutdown requested: no new calls are requested */
    bool shut_down;                  /* the shutdown notification arrived */
};

typedef struct gcall {
    grpc_frontend *g;
    call_phase phase;
    grpc_call *call;
    grpc_call_details details;
    grpc_metadata_array md;
    grpc_byte_buffer *recv;          /* the request message */
    grpc_byte_buffer *send;          /* the response message, or NULL */
    grpc_slice status_text;
    bool has_status_text;
    int cancelled;                   /* from RECV_CLOSE_ON_SERVER */
    bool counted;                    /* counted in k->in_flight */
    Inference__ModelInferRequest *infer_msg; /* ModelInfer: the decoded request (inputs point in) */
} gcall;

typedef void (*method_fn)(gcall *c, const uint8_t *msg, size_t n);

/* ---- allocation through the project's allocator -------------------------------------------------- */

static void *pb_alloc(void *data, size_t n)
{
    (void)data;
    return mem_alloc(n ? n : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    mem_free(p);
}

/* ---- call lifetime ----------------------------------------------------------------------------------- */

static void free_call(gcall *c)
{
    if (c->call) grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    if (c->recv) grpc_byte_buffer_destroy(c->recv);
    if (c->send) grpc_byte_buffer_destroy(c->send);
    if (c->has_status_text) grpc_slice_unref(c->status_text);
    if (c->infer_msg) inference__model_infer_request__free_unpacked(c->infer_msg, &c->g->alloc);
    if (c->counted) atomic_fetch_sub(&c->g->k->in_flight, 1);
    mem_free(c);
}

/* Asks the server for one more call (a no-op once shutting down). */
static void accept_one(grpc_frontend *g)
{
    pthread_mutex_lock(&g->mu);
    bool stop = g->quiescing;
    pthread_mutex_unlock(&g->mu);
    if (stop) return;
    gcall *c = mem_calloc(1, sizeof *c);
    if (!c) return; /* one fewer call waiting; the next accepted call asks again */
    c->g = g;
    c->phase = PHASE_ACCEPT;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    if (grpc_server_request_call(g->server, &c->call, &c->details, &c->md, g->cq, g->cq, c) != GRPC_CALL_OK)
        free_call(c);
}

/* Packs resp as the call's response message; false on out-of-memory. */
static bool set_message(gcall *c, const ProtobufCMessage *resp)
{
    size_t n = protobuf_c_message_get_packed_size(resp);
    grpc_slice s;
    if (n == 0) {
        s = grpc_empty_slice();
    } else {
        uint8_t *buf = mem_alloc(n);
        if (!buf) return false;
        protobuf_c_message_pack(resp, buf);
        s = grpc_slice_new(buf, n, mem_free);
    }
    c->send = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return c->send != NULL;
}

/* Sends the status (and the message set before, when the code is OK). The last use of c by the
 * caller: the completion may free c on another thread at once. */
static void finish(gcall *c, grpc_status_code code, const char *text)
{
    if (code != GRPC_STATUS_OK && c->send) {
        grpc_byte_buffer_destroy(c->send);
        c->send = NULL;
    }
    c->status_text = grpc_slice_from_copied_string(code == GRPC_STATUS_OK ? "" : text);
    c->has_status_text = true;
    grpc_op ops[4];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n++].data.send_initial_metadata.count = 0;
    if (c->send) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = c->send;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.trailing_metadata_count = 0;
    ops[n].data.send_status_from_server.status = code;
    ops[n++].data.send_status_from_server.status_details = &c->status_text;
    ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[n++].data.recv_close_on_server.cancelled = &c->cancelled;
    c->phase = PHASE_ANSWER;
    if (grpc_call_start_batch(c->call, ops, n, c, NULL) != GRPC_CALL_OK) free_call(c);
}

static void answer_ok(gcall *c, const ProtobufCMessage *resp)
{
    if (set_message(c, resp)) finish(c, GRPC_STATUS_OK, "");
    else finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory building the response");
}

/* The gRPC code of a status: Triton answers UNAVAILABLE for expired and cancelled requests (as
 * the HTTP frontend answers 503); everything else from the one status table. */
static grpc_status_code grpc_code(strata_status st)
{
    if (st == STRATA_TIMEOUT || st == STRATA_CANCELLED) return GRPC_STATUS_UNAVAILABLE;
    return (grpc_status_code)strata_status_grpc(st);
}

static void answer_status(gcall *c, strata_status st)
{
    char text[1024];
    snprintf(text, sizeof text, "%s", strata_last_error());
    finish(c, grpc_code(st), text);
}

static void answer_error(gcall *c, grpc_status_code code, const char *fmt, ...) STRATA_PRINTF(3, 4);
static void answer_error(gcall *c, grpc_status_code code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    finish(c, code, text);
}

/* Decodes a request message with the given descriptor; answers INVALID_ARGUMENT and returns
 * NULL when the bytes are not that message. */
static ProtobufCMessage *unpack(gcall *c, const ProtobufCMessageDescriptor *d, const uint8_t *msg, size_t n)
{
    ProtobufCMessage *m = protobuf_c_message_unpack(d, &c->g->alloc, n, msg);
    if (!m) answer_error(c, GRPC_STATUS_INVALID_ARGUMENT, "the request is not a valid %s message (%zu bytes)", d->name, n);
    return m;
}

static const char *opt(const char *s) { return s && s[0] ? s : NULL; }

/* ---- health and metadata ---------------------------------------------------------------------------- */

static void rpc_server_live(gcall *c, const uint8_t *msg, size_t n)
{
    Inference__ServerLiveResponse r = INFERENCE__SERVER_LIVE_RESPONSE__INIT;
    r.live = 1;
    answer_ok(c, &r.base);
}

static void rpc_server_ready(gcall *c, const uint8_t *msg, size_t n)
{
    Inference__ServerReadyResponse r = INFERENCE__SERVER_READY_RESPONSE__INIT;
    r.ready = !atomic_load(&c->g->k->draining) && repository_ready(c->g->k->repo);
    answer_ok(c, &r.base);
}

static void rpc_model_ready(gcall *c, const uint8_t *msg, size_t n)
{
    Inference__ModelReadyRequest *q = (void *)unpack(c, &inference__model_ready_request__descriptor, msg, n);
    if (!q) return;
    Inference__ModelReadyResponse r = INFERENCE__MODEL_READY_RESPONSE__INIT;
    model_version *mv = NULL;
    strata_status st = repository_acquire(c->g->k->repo, q->name, opt(q->version), &mv);
    inference__model_ready_request__free_unpacked(q, &c->g->alloc);
    /* like Triton: an unknown or unavailable model is simply not ready */
    if (st == STRATA_OK) {
        r.ready = 1;
        repository_release(mv);
    } else if (st != STRATA_NOT_FOUND && st != STRATA_QUEUE_FULL) {
        answer_status(c, st);
        return;
    }
    answer_ok(c, &r.base);
}

static void rpc_server_metadata(gcall *c, const uint8_t *msg, size_t n)
{
    static const char *const ext[] = {"model_configuration", "statistics", "model_repository", "schedule_policy"};
    Inference__ServerMetadataResponse r = INFERENCE__SERVER_METADATA_RESPONSE__INIT;
    r.name = "strata";
    r.version = STRATA_VERSION_STRING;
    r.n_extensions = ARRAY_LEN(ext);
    r.extensions = (char **)ext;
    answer_ok(c, &r.base);
}

static void rpc_model_metadata(gcall *c, const uint8_t *msg, size_t n)
{
    Inference__ModelMetadataRequest *q = (void *)unpack(c, &inference__model_metadata_request__descriptor, msg, n);
    if (!q) return;
    model_version *mv = NULL;
    strata_status st = repository_acquire(c->g->k->repo, q->name, opt(q->version), &mv);
    inference__model_metadata_request__free_unpacked(q, &c->g->alloc);
    if (st != STRATA_OK) {
        answer_status(c, st);
        return;
    }
    const model_config *cf = mv->config;
    Inference__ModelMetadataResponse r = INFERENCE__MODEL_METADATA_RESPONSE__INIT;
    Inference__ModelMetadataResponse__TensorMetadata tm[2 * SERVER_MAX_IO], *tin[SERVER_MAX_IO], *tout[SERVER_MAX_IO];
    int64_t dims[2 * SERVER_MAX_IO][STRATA_MAX_DIMS + 1];
    const char *versions[SERVER_MAX_VERSIONS];
    r.name = mv->model;
    r.n_versions = repository_versions(c->g->k->repo, mv->model, versions, SERVER_MAX_VERSIONS);
    r.versions = (char **)versions;
    r.platform = (char *)cf->platform;
    bool batch = cf->max_batch_size > 0;
    for (size_t i = 0; i < cf->n_inputs + cf->n_outputs; i++) {
        const config_io *io = i < cf->n_inputs ? &cf->inputs[i] : &cf->outputs[i - cf->n_inputs];
        inference__model_metadata_response__tensor_metadata__init(&tm[i]);
        tm[i].name = (char *)io->name;
        tm[i].datatype = (char *)model_config_kserve_dtype(io->dtype);
        size_t rank = 0;
        if (batch) dims[i][rank++] = -1;
        for (int d = 0; d < io->rank; d++) dims[i][rank++] = io->dims[d];
        tm[i].n_shape = rank;
        tm[i].shape = dims[i];
        if (i < cf->n_inputs) tin[i] = &tm[i];
        else tout[i - cf->n_inputs] = &tm[i];
    }
    r.n_inputs = cf->n_inputs;
    r.inputs = tin;
    r.n_outputs = cf->n_outputs;
    r.outputs = tout;
    answer_ok(c, &r.base);
    repository_release(mv);
}

/* ---- model configuration ---------------------------------------------------------------------------- */

static int data_type(strata_dtype t)
{
    const char *k = model_config_kserve_dtype(t);
    char name[32];
    snprintf(name, sizeof name, "TYPE_%s", strcmp(k, "BYTES") == 0 ? "STRING" : k);
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(&inference__data_type__descriptor, name);
    return v ? v->value : INFERENCE__DATA_TYPE__TYPE_INVALID;
}

typedef struct config_msg {
    Inference__ModelConfig mc;
    Inference__ModelVersionPolicy vp;
    Inference__ModelVersionPolicy__Latest latest;
    Inference__ModelVersionPolicy__All all;
    Inference__ModelVersionPolicy__Specific specific;
    Inference__ModelInput in[SERVER_MAX_IO], *inp[SERVER_MAX_IO];
    Inference__ModelOutput out[SERVER_MAX_IO], *outp[SERVER_MAX_IO];
    Inference__ModelTensorReshape reshape[2 * SERVER_MAX_IO];
    int64_t dims[2 * SERVER_MAX_IO][STRATA_MAX_DIMS];
    Inference__ModelDynamicBatching db;
    Inference__ModelQueuePolicy qp;
    int32_t preferred[16];
    Inference__ModelInstanceGroup ig, *igp[1];
} config_msg;

static void config_fill(config_msg *m, const model_config *cf)
{
    inference__model_config__init(&m->mc);
    m->mc.name = (char *)cf->name;
    m->mc.platform = (char *)cf->platform;
    m->mc.backend = (char *)cf->backend;
    m->mc.max_batch_size = (int32_t)cf->max_batch_size;
    inference__model_version_policy__init(&m->vp);
    if (cf->policy == POLICY_ALL) {
        inference__model_version_policy__all__init(&m->all);
        m->vp.policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_ALL;
        m->vp.all = &m->all;
    } else if (cf->policy == POLICY_SPECIFIC) {
        inference__model_version_policy__specific__init(&m->specific);
        m->specific.n_versions = cf->n_policy_versions;
        m->specific.versions = (int64_t *)cf->policy_versions;
        m->vp.policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_SPECIFIC;
        m->vp.specific = &m->specific;
    } else {
        inference__model_version_policy__latest__init(&m->latest);
        m->latest.num_versions = (uint32_t)cf->policy_latest;
        m->vp.policy_choice_case = INFERENCE__MODEL_VERSION_POLICY__POLICY_CHOICE_LATEST;
        m->vp.latest = &m->latest;
    }
    m->mc.version_policy = &m->vp;
    for (size_t i = 0; i < cf->n_inputs + cf->n_outputs; i++) {
        bool is_in = i < cf->n_inputs;
        const config_io *io = is_in ? &cf->inputs[i] : &cf->outputs[i - cf->n_inputs];
        Inference__ModelTensorReshape *rs = NULL;
        if (io->reshape_rank >= 0) {
            rs = &m->reshape[i];
            inference__model_tensor_reshape__init(rs);
            rs->n_shape = (size_t)io->reshape_rank;
            rs->shape = (int64_t *)io->reshape;
        }
        for (int d = 0; d < io->rank; d++) m->dims[i][d] = io->dims[d];
        if (is_in) {
            Inference__ModelInput *e = &m->in[i];
            inference__model_input__init(e);
            e->name = (char *)io->name;
            e->data_type = data_type(io->dtype);
            e->n_dims = (size_t)io->rank;
            e->dims = m->dims[i];
            e->reshape = rs;
            m->inp[i] = e;
        } else {
            Inference__ModelOutput *e = &m->out[i - cf->n_inputs];
            inference__model_output__init(e);
            e->name = (char *)io->name;
            e->data_type = data_type(io->dtype);
            e->n_dims = (size_t)io->rank;
            e->dims = m->dims[i];
            e->reshape = rs;
            m->outp[i - cf->n_inputs] = e;
        }
    }
    m->mc.n_input = cf->n_inputs;
    m->mc.input = m->inp;
    m->mc.n_output = cf->n_outputs;
    m->mc.output = m->outp;
    if (cf->dynamic_batching) {
        inference__model_dynamic_batching__init(&m->db);
        size_t np = cf->n_preferred < ARRAY_LEN(m->preferred) ? cf->n_preferred : ARRAY_LEN(m->preferred);
        for (size_t i = 0; i < np; i++) m->preferred[i] = (int32_t)cf->preferred[i];
        m->db.n_preferred_batch_size = np;
        m->db.preferred_batch_size = m->preferred;
        m->db.max_queue_delay_microseconds = (uint64_t)cf->max_queue_delay_us;
        m->db.priority_levels = (uint64_t)cf->priority_levels;
        inference__model_queue_policy__init(&m->qp);
        m->qp.timeout_action = cf->timeout_delay ? INFERENCE__MODEL_QUEUE_POLICY__TIMEOUT_ACTION__DELAY
                                                 : INFERENCE__MODEL_QUEUE_POLICY__TIMEOUT_ACTION__REJECT;
        m->qp.default_timeout_microseconds = (uint64_t)cf->default_timeout_us;
        m->qp.max_queue_size = cf->max_queue_size > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)cf->max_queue_size;
        m->db.default_queue_policy = &m->qp;
        m->mc.dynamic_batching = &m->db;
    }
    inference__model_instance_group__init(&m->ig);
    m->ig.count = (int32_t)cf->instance_count;
    m->ig.kind = INFERENCE__MODEL_INSTANCE_GROUP__KIND__KIND_CPU;
    m->igp[0] = &m->ig;
    m->mc.n_instance_group = 1;
    m->mc.instance_group = m->igp;
}

static void rpc_model_config(gcall *c, const uint8_t *msg, size_t n)
{
    Inference__ModelConfigRequest *q = (void *)unpack(c, &inference__model_config_request__descriptor, msg, n);
    if (!q) return;
    model_version *mv = NULL;
    strata_status st = repository_acquire(c->g->k->repo, q->name, opt(q->version), &mv);
    inference__model_config_request__free_unpacked(q, &c->g->alloc);
    if (st != STRATA_OK) {
        answer_status(c, st);
        return;
    }
    config_msg *m = mem_calloc(1, sizeof *m);
    if (!m) {
        repository_release(mv);
        answer_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    config_fill(m, mv->config);
    Inference__ModelConfigResponse r = INFERENCE__MODEL_CONFIG_RESPONSE__INIT;
    r.config = &m->mc;
    bool ok = set_message(c, &r.base);
    mem_free(m);
    repository_release(mv);
    if (ok) finish(c, GRPC_STATUS_OK, "");
    else finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory building the response");
}

/* ---- statistics and repository (from the JSON the HTTP frontend serves: one source) -------------- */

static uint64_t jnum(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : (char *)"";
}

static void duration_from(Inference__StatisticDuration *d, const cJSON *o, const char *key)
{
    inference__statistic_duration__init(d);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    d->count = jnum(v, "count");
    d->ns = jnum(v, "ns");
}

typedef struct stat_entry {
    Inference__ModelStatistics ms;
    Inference__InferStatistics is;
    Inference__StatisticDuration d[8];
    size_t n_batch;
    Inference__InferBatchStatistics *bs;
    Inference__InferBatchStatistics **bsp;
    Inference__StatisticDuration *bd; /* 3 per batch size */
} stat_entry;

static void rpc_model_statistics(gcall *c, const uint8_t *msg, size_t n)
{
    Inference__ModelStatisticsRequest *q = (void *)unpack(c, &inference__model_statistics_request__descriptor, msg, n);
    if (!q) return;
    if (q->name[0] && !model_config_name_valid(q->name)) {
        answer_error(c, GRPC_STATUS_INVALID_ARGUMENT, "'%.64s' is not a valid model name", q->name);
        inference__model_statistics_request__free_unpacked(q, &c->g->alloc);
        return;
    }
    cJSON *j = NULL;
    strata_status st = metrics_stats_json(c->g->k->repo, opt(q->name), opt(q->version), &j);
    inference__model_statistics_request__free_unpacked(q, &c->g->alloc);
    if (st != STRATA_OK) {
        answer_status(c, st);
        return;
    }
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(j, "model_stats");
    size_t count = (size_t)cJSON_GetArraySize(list), k = 0;
    stat_entry *e = mem_calloc(count ? count : 1, sizeof *e);
    Inference__ModelStatistics **msp = mem_calloc(count ? count : 1, sizeof *msp);
    bool ok = e && msp;
    static const char *const dnames[8] = {"success", "fail", "queue", "compute_input", "compute_infer",
                                          "compute_output", "cache_hit", "cache_miss"};
    for (const cJSON *o = list ? list->child : NULL; ok && o && k < count; o = o->next, k++) {
        stat_entry *s = &e[k];
        inference__model_statistics__init(&s->ms);
        s->ms.name = jstr(o, "name");
        s->ms.version = jstr(o, "version");
        s->ms.last_inference = jnum(o, "last_inference");
        s->ms.inference_count = jnum(o, "inference_count");
        s->ms.execution_count = jnum(o, "execution_count");
        inference__infer_statistics__init(&s->is);
        const cJSON *is = cJSON_GetObjectItemCaseSensitive(o, "inference_stats");
        for (size_t d = 0; d < 8; d++) duration_from(&s->d[d], is, dnames[d]);
        s->is.success = &s->d[0];
        s->is.fail = &s->d[1];
        s->is.queue = &s->d[2];
        s->is.compute_input = &s->d[3];
        s->is.compute_infer = &s->d[4];
        s->is.compute_output = &s->d[5];
        s->is.cache_hit = &s->d[6];
        s->is.cache_miss = &s->d[7];
        s->ms.inference_stats = &s->is;
        const cJSON *bl = cJSON_GetObjectItemCaseSensitive(o, "batch_stats");
        size_t nb = (size_t)cJSON_GetArraySize(bl);
        if (nb) {
            s->bs = mem_calloc(nb, sizeof *s->bs);
            s->bsp = mem_calloc(nb, sizeof *s->bsp);
            s->bd = mem_calloc(3 * nb, sizeof *s->bd);
            if (!s->bs || !s->bsp || !s->bd) {
                ok = false;
                break;
            }
            size_t b = 0;
            for (const cJSON *x = bl->child; x && b < nb; x = x->next, b++) {
                inference__infer_batch_statistics__init(&s->bs[b]);
                s->bs[b].batch_size = jnum(x, "batch_size");
                duration_from(&s->bd[3 * b], x, "compute_input");
                duration_from(&s->bd[3 * b + 1], x, "compute_infer");
                duration_from(&s->bd[3 * b + 2], x, "compute_output");
                s->bs[b].compute_input = &s->bd[3 * b];
                s->bs[b].compute_infer = &s->bd[3 * b + 1];
                s->bs[b].compute_output = &s->bd[3 * b + 2];
                s->bsp[b] = &s->bs[b];
            }
            s->n_batch = b;
            s->ms.n_batch_stats = b;
            s->ms.batch_stats = s->bsp;
        }
        msp[k] = &s->ms;
    }
    Inference__ModelStatisticsResponse r = INFERENCE__MODEL_STATISTICS_RESPONSE__INIT;
    r.n_model_stats = k;
    r.model_stats = msp;
    if (ok) ok = set_message(c, &r.base);
    for (size_t i = 0; e && i < count; i++) {
        mem_free(e[i].bs);
        mem_free(e[i].bsp);
        mem_free(e[i].bd);
    }
    mem_free(e);
    mem_free(msp);
    cJSON_Delete(j);
    if (ok) finish(c, GRPC_STATUS_OK, "");
    else finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory building the statistics");
}

static void rpc_repository_index(gcall *c, const uint8_t *msg, size_t n)
{
    Inference__RepositoryIndexRequest *q = (void *)unpack(c, &inference__repository_index_request__descriptor, msg, n);
    if (!q) return;
    bool ready_only = q->ready;
    inference__repository_index_request__free_unpacked(q, &c->g->alloc);
    cJSON *a = repository_index_json(c->g->k->repo, ready_only);
    size_t count = (size_t)cJSON_GetArraySize(a), k = 0;
    Inference__RepositoryIndexResponse__ModelIndex *e = mem_calloc(count ? count : 1, sizeof *e);
    Inference__RepositoryIndexResponse__ModelIndex **ep = mem_calloc(count ? count : 1, sizeof *ep);
    bool ok = a && e && ep;
    for (const cJSON *o = ok ? a->child : NULL; o && k < count; o = o->next, k++) {
        inference__repository_index_response__model_index__init(&e[k]);
        e[k].name = jstr(o, "name");
        e[k].version = jstr(o, "version");
        e[k].state = jstr(o, "state");
        e[k].reason = jstr(o, "reason");
        ep[k] = &e[k];
    }
    Inference__RepositoryIndexResponse r = INFERENCE__REPOSITORY_INDEX_RESPONSE__INIT;
    r.n_models = k;
    r.models = ep;
    if (ok) ok = set_message(c, &r.base);
    mem_free(e);
    mem_free(ep);
    cJSON_Delete(a);
    if (ok) finish(c, GRPC_STATUS_OK, "");
    else finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory building the repository index");
}

/* Load (or reload) and unload in explicit model control mode, with the HTTP frontend's semantics
 * (repository.c decides; a load answers once the new version serves). The only parameter
 * accepted is unload_dependents (there are no dependents); Triton's config / file: overrides are
 * refused. */
static void rpc_repository_control(gcall *c, const uint8_t *msg, size_t n, bool load)
{
    const ProtobufCMessageDescriptor *d = load ? &inference__repository_model_load_request__descriptor
                                               : &inference__repository_model_unload_request__descriptor;
    ProtobufCMessage *q = unpack(c, d, msg, n);
    if (!q) return;
    char name[SERVER_MAX_NAME + 8], bad[80] = "";
    size_t n_params;
    Inference__RepositoryModelLoadRequest__ParametersEntry **lp = NULL;
    Inference__RepositoryModelUnloadRequest__ParametersEntry **up = NULL;
    if (load) {
        Inference__RepositoryModelLoadRequest *l = (void *)q;
        snprintf(name, sizeof name, "%s", l->model_name);
        n_params = l->n_parameters, lp = l->parameters;
    } else {
        Inference__RepositoryModelUnloadRequest *u = (void *)q;
        snprintf(name, sizeof name, "%s", u->model_name);
        n_params = u->n_parameters, up = u->parameters;
    }
    for (size_t i = 0; i < n_params && !bad[0]; i++) {
        const char *key = load ? lp[i]->key : up[i]->key;
        if (strcmp(key, "unload_dependents") != 0) snprintf(bad, sizeof bad, "%.64s", key);
    }
    protobuf_c_message_free_unpacked(q, &c->g->alloc);
    if (bad[0]) {
        answer_error(c, GRPC_STATUS_INVALID_ARGUMENT, "repository %s: parameter '%s' is not supported",
                     load ? "load" : "unload", bad);
        return;
    }
    if (atomic_load(&c->g->k->draining)) {
        answer_error(c, GRPC_STATUS_UNAVAILABLE, "the server is shutting down");
        return;
    }
    strata_status st = load ? repository_load_model(c->g->k->repo, name) : repository_unload_model(c->g->k->repo, name);
    if (st != STRATA_OK) {
        answer_status(c, st);
        return;
    }
    if (load) {
        Inference__RepositoryModelLoadResponse r = INFERENCE__REPOSITORY_MODEL_LOAD_RESPONSE__INIT;
        answer_ok(c, &r.base);
    } else {
        Inference__RepositoryModelUnloadResponse r = INFERENCE__REPOSITORY_MODEL_UNLOAD_RESPONSE__INIT;
        answer_ok(c, &r.base);
    }
}

static void rpc_repository_load(gcall *c, const uint8_t *msg, size_t n) { rpc_repository_control(c, msg, n, true); }
static void rpc_repository_unload(gcall *c, const uint8_t *msg, size_t n) { rpc_repository_control(c, msg, n, false); }

/* ---- infer ------------------------------------------------------------------------------------------- */

static size_t contents_count(const Inference__InferTensorContents *ct)
{
    if (!ct) return 0;
    return ct->n_bool_contents + ct->n_int_contents + ct->n_int64_contents + ct->n_uint_contents +
           ct->n_uint64_contents + ct->n_fp32_contents + ct->n_fp64_contents + ct->n_bytes_contents;
}

/* Typed contents -> the tensor's bytes (owned), with the count and every narrow value checked. */
static bool fill_typed(infer_tensor *t, const Inference__InferTensorContents *ct, char *err, size_t ne)
{
    size_t esize = strata_dtype_size(t->dtype), numel = t->n_bytes / esize, have;
    const char *field;
    const char *dt = model_config_kserve_dtype(t->dtype);
    switch (t->dtype) {
    case STRATA_DTYPE_BOOL: field = "bool_contents", have = ct ? ct->n_bool_contents : 0; break;
    case STRATA_DTYPE_I8: case STRATA_DTYPE_I16: case STRATA_DTYPE_I32:
        field = "int_contents", have = ct ? ct->n_int_contents : 0; break;
    case STRATA_DTYPE_I64: field = "int64_contents", have = ct ? ct->n_int64_contents : 0; break;
    case STRATA_DTYPE_U8: case STRATA_DTYPE_U16: case STRATA_DTYPE_U32:
        field = "uint_contents", have = ct ? ct->n_uint_contents : 0; break;
    case STRATA_DTYPE_U64: field = "uint64_contents", have = ct ? ct->n_uint64_contents : 0; break;
    case STRATA_DTYPE_F32: field = "fp32_contents", have = ct ? ct->n_fp32_contents : 0; break;
    case STRATA_DTYPE_F64: field = "fp64_contents", have = ct ? ct->n_fp64_contents : 0; break;
    default:
        return snprintf(err, ne, "input '%s': %s data has no typed contents field: send it in raw_input_contents", t->name,
                        dt), false;
    }
    if (contents_count(ct) != have)
        return snprintf(err, ne, "input '%s': 'contents' has values in a field other than %s (the field for %s)", t->name,
                        field, dt), false;
    if (have != numel)
        return snprintf(err, ne, "input '%s': %s has %zu values, the shape has %zu elements", t->name, field, have, numel),
               false;
    t->data = mem_alloc(t->n_bytes ? t->n_bytes : 1);
    if (!t->data) return snprintf(err, ne, "input '%s': out of memory", t->name), false;
    t->owned = true;
    uint8_t *p = t->data;
    for (size_t i = 0; i < numel; i++, p += esize) {
        int64_t v = 0, lo = 0, hi = 0;
        switch (t->dtype) {
        case STRATA_DTYPE_BOOL: *p = ct->bool_contents[i] ? 1 : 0; continue;
        case STRATA_DTYPE_F32: memcpy(p, &ct->fp32_contents[i], 4); continue;
        case STRATA_DTYPE_F64: memcpy(p, &ct->fp64_contents[i], 8); continue;
        case STRATA_DTYPE_I64: memcpy(p, &ct->int64_contents[i], 8); continue;
        case STRATA_DTYPE_U64: memcpy(p, &ct->uint64_contents[i], 8); continue;
        case STRATA_DTYPE_I8: v = ct->int_contents[i], lo = INT8_MIN, hi = INT8_MAX; break;
        case STRATA_DTYPE_I16: v = ct->int_contents[i], lo = INT16_MIN, hi = INT16_MAX; break;
        case STRATA_DTYPE_I32: v = ct->int_contents[i], lo = INT32_MIN, hi = INT32_MAX; break;
        case STRATA_DTYPE_U8: v = ct->uint_contents[i], hi = UINT8_MAX; break;
        case STRATA_DTYPE_U16: v = ct->uint_contents[i], hi = UINT16_MAX; break;
        default: v = ct->uint_contents[i], hi = UINT32_MAX; break;
        }
        if (v < lo || v > hi)
            return snprintf(err, ne, "input '%s': element %zu (%lld) is out of range for %s", t->name, i, (long long)v, dt),
                   false;
        switch (esize) {
        case 1: { uint8_t b = (uint8_t)v; memcpy(p, &b, 1); break; }
        case 2: { uint16_t b = (uint16_t)v; memcpy(p, &b, 2); break; }
        default: { uint32_t b = (uint32_t)v; memcpy(p, &b, 4); break; }
        }
    }
    return true;
}

/* ModelInferRequest -> infer_request (names, dtypes, shapes, data); false with err on a bad one.
 * Raw inputs point into m, which lives until the call ends. */
static bool build_request(const Inference__ModelInferRequest *m, infer_request *r, char *err, size_t ne)
{
    if (strlen(m->id) >= sizeof r->id)
        return snprintf(err, ne, "'id' must be at most %zu bytes", sizeof r->id - 1), false;
    snprintf(r->id, sizeof r->id, "%s", m->id);
    for (size_t i = 0; i < m->n_parameters; i++) {
        const Inference__ModelInferRequest__ParametersEntry *p = m->parameters[i];
        const Inference__InferParameter *v = p->value;
        bool is_int = false;
        int64_t x = 0;
        if (v && v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM) {
            is_int = true, x = v->int64_param;
        } else if (v && v->parameter_choice_case == INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_UINT64_PARAM) {
            is_int = v->uint64_param <= (uint64_t)INT64_MAX, x = (int64_t)v->uint64_param;
        }
        if (!request_param_int(r, p->key, is_int, x, err, ne)) return false;
    }
    if (m->n_inputs == 0) return snprintf(err, ne, "'inputs' must not be empty"), false;
    if (m->n_inputs > SERVER_MAX_IO) return snprintf(err, ne, "%zu inputs, more than %d", m->n_inputs, SERVER_MAX_IO), false;
    bool raw = m->n_raw_input_contents > 0;
    if (raw && m->n_raw_input_contents != m->n_inputs)
        return snprintf(err, ne, "raw_input_contents has %zu entries for %zu inputs (one per input, in order)",
                        m->n_raw_input_contents, m->n_inputs), false;
    for (size_t i = 0; i < m->n_inputs; i++) {
        const Inference__ModelInferRequest__InferInputTensor *in = m->inputs[i];
        if (!request_input_begin(r, i, in->name, in->datatype, err, ne)) return false;
        r->n_inputs = i + 1;
        infer_tensor *t = &r->inputs[i];
        if (!request_input_shape(t, in->n_shape, in->shape, err, ne)) return false;
        if (!raw) {
            if (!fill_typed(t, in->contents, err, ne)) return false;
            continue;
        }
        if (contents_count(in->contents))
            return snprintf(err, ne, "input '%s': 'contents' is set although raw_input_contents is used", t->name), false;
        if (m->raw_input_contents[i].len != t->n_bytes)
            return snprintf(err, ne, "input '%s': raw_input_contents[%zu] is %zu bytes, shape x datatype is %zu bytes", t->name,
                            i, m->raw_input_contents[i].len, t->n_bytes), false;
        t->data = m->raw_input_contents[i].data;
        t->owned = false;
    }
    if (m->n_outputs > SERVER_MAX_IO)
        return snprintf(err, ne, "%zu outputs requested, more than %d", m->n_outputs, SERVER_MAX_IO), false;
    for (size_t o = 0; o < m->n_outputs; o++) {
        const Inference__ModelInferRequest__InferRequestedOutputTensor *q = m->outputs[o];
        if (!q->name[0] || strlen(q->name) >= SERVER_MAX_NAME)
            return snprintf(err, ne, "outputs[%zu]: 'name' must be a non-empty string of at most %d bytes", o,
                            SERVER_MAX_NAME - 1), false;
        for (size_t i = 0; i < q->n_parameters; i++)
            if (strcmp(q->parameters[i]->key, "classification") == 0)
                return snprintf(err, ne, "output '%s': the classification extension is not supported", q->name), false;
        infer_tensor *t = &r->outputs[o];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", q->name);
    }
    r->n_outputs = m->n_outputs;
    return true;
}

/* Packs the response of a successful request: outputs in raw_output_contents (as Triton does). */
static bool pack_infer_response(gcall *c, infer_request *r)
{
    Inference__ModelInferResponse resp = INFERENCE__MODEL_INFER_RESPONSE__INIT;
    Inference__ModelInferResponse__InferOutputTensor out[SERVER_MAX_IO], *outp[SERVER_MAX_IO];
    ProtobufCBinaryData raw[SERVER_MAX_IO];
    resp.model_name = r->mv->model;
    resp.model_version = r->mv->version_str;
    resp.id = r->id;
    for (size_t o = 0; o < r->n_outputs; o++) {
        infer_tensor *t = &r->outputs[o];
        inference__model_infer_response__infer_output_tensor__init(&out[o]);
        out[o].name = t->name;
        out[o].datatype = (char *)model_config_kserve_dtype(t->dtype);
        out[o].n_shape = (size_t)t->rank;
        out[o].shape = t->dims;
        outp[o] = &out[o];
        raw[o].len = t->n_bytes;
        raw[o].data = t->data;
    }
    resp.n_outputs = r->n_outputs;
    resp.outputs = outp;
    resp.n_raw_output_contents = r->n_outputs;
    resp.raw_output_contents = raw;
    return set_message(c, &resp.base);
}

/* The scheduler's completion callback: runs exactly once per submitted request. */
static void infer_done(infer_request *r, void *user)
{
    gcall *c = user;
    model_version *mv = r->mv;
    grpc_status_code code = GRPC_STATUS_OK;
    char text[sizeof r->error + 64];
    text[0] = 0;
    if (r->status != STRATA_OK) {
        code = grpc_code(r->status);
        snprintf(text, sizeof text, "%s", r->error);
    } else if (!pack_infer_response(c, r)) {
        code = GRPC_STATUS_RESOURCE_EXHAUSTED;
        snprintf(text, sizeof text, "model '%s': out of memory building the response", mv->model);
    }
    infer_request_release(r);
    mem_free(r);
    repository_release(mv);
    finish(c, code, text);
}

static void rpc_model_infer(gcall *c, const uint8_t *msg, size_t n)
{
    kserve_ctx *k = c->g->k;
    if (atomic_load(&k->draining)) {
        answer_error(c, GRPC_STATUS_UNAVAILABLE, "the server is shutting down");
        return;
    }
    Inference__ModelInferRequest *m = (void *)unpack(c, &inference__model_infer_request__descriptor, msg, n);
    if (!m) return;
    c->infer_msg = m; /* freed with the call */
    model_version *mv = NULL;
    strata_status st = repository_acquire(k->repo, m->model_name, opt(m->model_version), &mv);
    if (st != STRATA_OK) {
        answer_status(c, st);
        return;
    }
    infer_request *r = mem_calloc(1, sizeof *r);
    char *err = mem_alloc(512);
    if (!r || !err) {
        mem_free(r);
        mem_free(err);
        repository_release(mv);
        answer_error(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    r->mv = mv;
    grpc_status_code code = GRPC_STATUS_INVALID_ARGUMENT;
    char text[600];
    if (build_request(m, r, err, 512)) {
        r->done = infer_done;
        r->user = c;
        c->phase = PHASE_RUN;
        st = scheduler_submit(mv->sched, r);
        if (st == STRATA_OK) { /* infer_done answers; c may be gone already */
            mem_free(err);
            return;
        }
        metrics_record_request(&mv->metrics, false, st == STRATA_QUEUE_FULL, 0, 0, 0, 0, 0);
        code = grpc_code(st);
        snprintf(text, sizeof text, "%s", strata_last_error());
    } else {
        snprintf(text, sizeof text, "model '%s': %s", mv->model, err);
    }
    /* free everything first: the answer's completion may free c on another thread */
    mem_free(err);
    infer_request_release(r);
    mem_free(r);
    repository_release(mv);
    finish(c, code, text);
}

/* ---- dispatch ---------------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    method_fn fn;
} methods[] = {
    {"ServerLive", rpc_server_live},
    {"ServerReady", rpc_server_ready},
    {"ModelReady", rpc_model_ready},
    {"ServerMetadata", rpc_server_metadata},
    {"ModelMetadata", rpc_model_metadata},
    {"ModelInfer", rpc_model_infer},
    {"ModelConfig", rpc_model_config},
    {"ModelStatistics", rpc_model_statistics},
    {"RepositoryIndex", rpc_repository_index},
    {"RepositoryModelLoad", rpc_repository_load},
    {"RepositoryModelUnload", rpc_repository_unload},
};

static void dispatch(gcall *c)
{
    const char *path = (const char *)GRPC_SLICE_START_PTR(c->details.method);
    size_t n_path = GRPC_SLICE_LENGTH(c->details.method), n_prefix = strlen(METHOD_PREFIX);
    method_fn fn = NULL;
    if (n_path > n_prefix && memcmp(path, METHOD_PREFIX, n_prefix) == 0)
        for (size_t i = 0; i < ARRAY_LEN(methods) && !fn; i++)
            if (strlen(methods[i].name) == n_path - n_prefix && memcmp(path + n_prefix, methods[i].name, n_path - n_prefix) == 0)
                fn = methods[i].fn;
    if (!fn) {
        answer_error(c, GRPC_STATUS_UNIMPLEMENTED, "method '%.*s' is not implemented", (int)(n_path < 200 ? n_path : 200), path);
        return;
    }
    if (!c->recv) {
        answer_error(c, GRPC_STATUS_INVALID_ARGUMENT, "the call has no request message");
        return;
    }
    grpc_byte_buffer_reader rd;
    if (!grpc_byte_buffer_reader_init(&rd, c->recv)) {
        answer_error(c, GRPC_STATUS_INVALID_ARGUMENT, "cannot read the request message (bad compression?)");
        return;
    }
    grpc_slice s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    grpc_byte_buffer_destroy(c->recv);
    c->recv = NULL;
    fn(c, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s));
    grpc_slice_unref(s);
}

static void *worker_main(void *arg)
{
    grpc_frontend *g = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        if (ev.tag == &g->shutdown_tag) {
            pthread_mutex_lock(&g->mu);
            g->shut_down = true;
            pthread_cond_broadcast(&g->cv);
            pthread_mutex_unlock(&g->mu);
            continue;
        }
        gcall *c = ev.tag;
        switch (c->phase) {
        case PHASE_ACCEPT: {
            if (!ev.success) { /* the server is shutting down */
                free_call(c);
                break;
            }
            accept_one(g); /* keep the number of waiting calls */
            grpc_op op;
            memset(&op, 0, sizeof op);
            op.op = GRPC_OP_RECV_MESSAGE;
            op.data.recv_message.recv_message = &c->recv;
            c->phase = PHASE_RECEIVE;
            if (grpc_call_start_batch(c->call, &op, 1, c, NULL) != GRPC_CALL_OK) free_call(c);
            break;
        }
        case PHASE_RECEIVE:
            if (!ev.success) { /* the client went away (or the message was over the limit) */
                free_call(c);
                break;
            }
            atomic_fetch_add(&g->k->in_flight, 1);
            c->counted = true;
            dispatch(c);
            break;
        case PHASE_ANSWER:
            free_call(c);
            break;
        case PHASE_RUN:
            break;
        }
    }
    return NULL;
}

/* ---- start and stop ----------------------------------------------------------------------------------- */

strata_status kserve_grpc_start(const char *host, int port, kserve_ctx *k, grpc_frontend **out)
{
    *out = NULL;
    grpc_frontend *g = mem_calloc(1, sizeof *g);
    if (!g) return error_set(STRATA_OUT_OF_MEMORY, "grpc: out of memory");
    g->k = k;
    g->alloc.alloc = pb_alloc;
    g->alloc.free = pb_free;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    grpc_init();
    grpc_arg args[2];
    memset(args, 0, sizeof args);
    args[0].type = GRPC_ARG_INTEGER;
    args[0].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[0].value.integer = (int)SERVER_MAX_BODY;
    args[1].type = GRPC_ARG_INTEGER;
    args[1].key = (char *)GRPC_ARG_MAX_SEND_MESSAGE_LENGTH;
    args[1].value.integer = -1;
    grpc_channel_args ch = {ARRAY_LEN(args), args};
    g->server = grpc_server_create(&ch, NULL);
    g->cq = grpc_completion_queue_create_for_next(NULL);
    strata_status st = STRATA_OK;
    if (!g->server || !g->cq) {
        st = error_set(STRATA_INTERNAL, "grpc: cannot create the server");
        goto fail;
    }
    grpc_server_register_completion_queue(g->server, g->cq, NULL);
    char addr[300];
    if (!host || !host[0]) snprintf(addr, sizeof addr, "[::]:%d", port);
    else if (strchr(host, ':')) snprintf(addr, sizeof addr, "[%.256s]:%d", host, port);
    else snprintf(addr, sizeof addr, "%.256s:%d", host, port);
    grpc_server_credentials *cred = grpc_insecure_server_credentials_create();
    g->port = grpc_server_add_http2_port(g->server, addr, cred);
    grpc_server_credentials_release(cred);
    if (g->port <= 0) {
        st = error_set(STRATA_IO_ERROR, "grpc: cannot listen on %s (port in use or bad address)", addr);
        goto fail;
    }
    grpc_server_start(g->server);
    for (size_t i = 0; i < N_ACCEPT; i++) accept_one(g);
    for (size_t i = 0; i < N_WORKERS; i++) {
        if (pthread_create(&g->workers[i], NULL, worker_main, g) != 0) {
            kserve_grpc_stop(g);
            return error_set(STRATA_INTERNAL, "grpc: cannot start worker thread %zu", i);
        }
        g->n_workers = i + 1;
    }
    *out = g;
    return STRATA_OK;
fail:
    if (g->server) grpc_server_destroy(g->server);
    if (g->cq) {
        grpc_completion_queue_shutdown(g->cq);
        while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
        grpc_completion_queue_destroy(g->cq);
    }
    grpc_shutdown();
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    mem_free(g);
    return st;
}

int kserve_grpc_port(const grpc_frontend *g) { return g ? g->port : -1; }

void kserve_grpc_quiesce(grpc_frontend *g)
{
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    bool first = !g->quiescing;
    g->quiescing = true;
    pthread_mutex_unlock(&g->mu);
    if (first) grpc_server_shutdown_and_notify(g->server, g->cq, &g->shutdown_tag);
}

void kserve_grpc_stop(grpc_frontend *g)
{
    if (!g) return;
    kserve_grpc_quiesce(g);
    if (g->n_workers) {
        /* calls that are still open (a client that never sent its message, or answers still in
         * flight after the drain) are cancelled if the notification does not come soon */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t until = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + STOP_WAIT_NS / 10;
        ts.tv_sec = (time_t)(until / 1000000000u);
        ts.tv_nsec = (long)(until % 1000000000u);
        pthread_mutex_lock(&g->mu);
        while (!g->shut_down && pthread_cond_timedwait(&g->cv, &g->mu, &ts) == 0) {}
        bool done = g->shut_down;
        pthread_mutex_unlock(&g->mu);
        if (!done) grpc_server_cancel_all_calls(g->server);
        clock_gettime(CLOCK_REALTIME, &ts);
        until = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + STOP_WAIT_NS;
        ts.tv_sec = (time_t)(until / 1000000000u);
        ts.tv_nsec = (long)(until % 1000000000u);
        pthread_mutex_lock(&g->mu);
        while (!g->shut_down && pthread_cond_timedwait(&g->cv, &g->mu, &ts) == 0) {}
        done = g->shut_down;
        pthread_mutex_unlock(&g->mu);
        if (!done) {
            /* gRPC forbids destroying a server before its shutdown completes: leave it (and its
             * threads) to the process exit rather than crash */
            fprintf(stderr, "strata serve: grpc: calls still open at stop, frontend left running\n");
            return;
        }
    }
    grpc_completion_queue_shutdown(g->cq);
    for (size_t i = 0; i < g->n_workers; i++) pthread_join(g->workers[i], NULL);
    if (!g->n_workers)
        while (grpc_completion_queue_next(g->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type != GRPC_QUEUE_SHUTDOWN) {}
    grpc_server_destroy(g->server);
    grpc_completion_queue_destroy(g->cq);
    grpc_shutdown();
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    mem_free(g);
}
