/* server/internal.h — structs shared by the server layer's files: the model config, the
 * protocol-independent inference request, the repository's model versions, the scheduler and
 * the metrics counters. Never included from outside src/server (server.h is the interface). */
#ifndef STRATA_SERVER_INTERNAL_H
#define STRATA_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "server.h"

/* Limits on requests (shared/reference/reliability.md 3.0). */
#define SERVER_MAX_IO 64                  /* inputs / outputs per request and per model */
#define SERVER_MAX_NAME 128               /* model, version and tensor names (bytes) */
#define SERVER_MAX_JSON_DEPTH 100         /* JSON nesting, checked before parsing */
#define SERVER_MAX_BODY ((size_t)64 << 20) /* request body bytes */
#define SERVER_MAX_VERSIONS 64            /* versions of one model kept loaded */
#define SERVER_MAX_QUEUE 65536            /* queue bound when the config says 0 (unbounded) */
#define SERVER_MAX_CONFIG_BYTES (1u << 20) /* config.pbtxt size */

/* ---- model config (model_config.c) ----------------------------------------------------------- */

typedef struct config_io {
    char name[SERVER_MAX_NAME];          /* tensor name */
    strata_dtype dtype;                  /* data_type */
    int rank;                            /* dims given (without the batch dim when batching) */
    int64_t dims[STRATA_MAX_DIMS];       /* dims; -1 = variable */
    int reshape_rank;                    /* -1: no reshape */
    int64_t reshape[STRATA_MAX_DIMS];    /* the model's shape for this tensor, when reshaped */
} config_io;

/* One input of a model_warmup sample; line/col: where its entry starts in config.pbtxt. */
typedef struct config_warmup_input {
    char name[SERVER_MAX_NAME];          /* key */
    strata_dtype dtype;                  /* data_type */
    int rank;                            /* dims (without the batch dim when batching) */
    int64_t dims[STRATA_MAX_DIMS];
    bool random;                         /* random_data (else zero_data) */
    int line, col;
} config_warmup_input;

#define SERVER_MAX_WARMUP 4              /* model_warmup samples kept */

/* One model_warmup sample (Triton's ModelWarmup). */
typedef struct config_warmup {
    char name[SERVER_MAX_NAME];          /* sample name, for messages */
    int64_t batch_size;                  /* rows (1 when not given) */
    int64_t count;                       /* runs per instance (1 when not given) */
    size_t n_inputs;
    config_warmup_input inputs[SERVER_MAX_IO];
    int line, col;                       /* where the sample starts */
    int bs_line, bs_col;                 /* where batch_size is (or the sample) */
} config_warmup;

typedef enum version_policy_kind { POLICY_LATEST = 0, POLICY_ALL = 1, POLICY_SPECIFIC = 2 } version_policy_kind;

typedef struct model_config {
    char name[SERVER_MAX_NAME];          /* model name (the folder's name) */
    char platform[64];                   /* "onnxruntime_onnx", "strata_plan", ... */
    char backend[64];                    /* "onnxruntime", "strata", ... or "" */
    int64_t max_batch_size;              /* 0: no batching, dims include the batch dim */
    size_t n_inputs, n_outputs;          /* entries below */
    config_io inputs[SERVER_MAX_IO];
    config_io outputs[SERVER_MAX_IO];
    bool dynamic_batching;               /* dynamic_batching { } present */
    size_t n_preferred;                  /* preferred_batch_size entries */
    int64_t preferred[16];               /* preferred batch sizes, ascending */
    int64_t max_queue_delay_us;          /* max_queue_delay_microseconds */
    int64_t max_queue_size;              /* default_queue_policy.max_queue_size (0 = unbounded) */
    int64_t default_timeout_us;          /* default_queue_policy.default_timeout_microseconds */
    bool timeout_delay;                  /* timeout_action DELAY (expired requests still run) */
    int64_t priority_levels;             /* dynamic_batching priority_levels (0: none) */
    int64_t default_priority_level;      /* for requests without one (0: the lowest level) */
    size_t n_warmup;                     /* model_warmup samples (0: one run on zeros) */
    char precision[16];                  /* parameters { key: "precision" }: "" (fp32) or "bf16",
                                            the compile precision of an ONNX model's plan */
    config_warmup warmup[SERVER_MAX_WARMUP];
    char source[256];                    /* config.pbtxt path, for warmup messages */
    int64_t instance_count;              /* instance_group count (sum over groups) */
    version_policy_kind policy;          /* version_policy */
    int64_t policy_latest;               /* latest { num_versions } */
    size_t n_policy_versions;            /* specific { versions } entries */
    int64_t policy_versions[SERVER_MAX_VERSIONS];
    bool has_inputs, has_outputs;        /* given in the file (else derived from the model) */
} model_config;

/* Sets the defaults (Triton's): latest 1 version, one instance, no batching. */
void model_config_init(model_config *c, const char *name);
/* Parses protobuf text format (source names the file in messages: "file:line:col: ..."). */
strata_status model_config_parse(const char *text, size_t n, const char *source, model_config *c);
/* Completes c from the model's interface (inputs/outputs/batch dim) and checks that what c
 * says fits the model. */
strata_status model_config_complete(model_config *c, const strata_model *m, bool is_plan);
/* The config as Triton's ModelConfig JSON (caller deletes). NULL on out-of-memory. */
cJSON *model_config_to_json(const model_config *c);
/* KServe datatype name ("FP32") and Triton config type ("TYPE_FP32") of a dtype. */
const char *model_config_kserve_dtype(strata_dtype t);
strata_dtype model_config_dtype_from_kserve(const char *s);
/* True when s matches ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$. */
bool model_config_name_valid(const char *s);

/* ---- metrics (metrics.c) --------------------------------------------------------------------- */

#define METRICS_N_LATENCY_BUCKETS 16
#define METRICS_N_BATCH_BUCKETS 9

typedef struct metrics_batch {
    uint64_t count;                      /* executions at this batch size */
    uint64_t input_ns, infer_ns, output_ns; /* summed durations */
} metrics_batch;

/* Counters of one model version; guarded by mu. */
typedef struct metrics_model {
    pthread_mutex_t mu;
    uint64_t success, success_ns;        /* requests answered OK; end-to-end ns */
    uint64_t fail_rejected, fail_other;  /* failed requests by reason (queue full/expired; other) */
    uint64_t fail_ns;                    /* summed duration of failed requests */
    uint64_t inference_count;            /* rows inferred (a batch of n counts n) */
    uint64_t exec_count;                 /* batch executions */
    uint64_t queue_ns, input_ns, infer_ns, output_ns; /* summed per request */
    uint64_t last_inference_ms;          /* wall clock ms of the last success */
    uint64_t latency_buckets[METRICS_N_LATENCY_BUCKETS]; /* request duration histogram */
    uint64_t batch_buckets[METRICS_N_BATCH_BUCKETS];     /* batch size histogram */
    size_t n_batch;                      /* entries in batch (max_batch_size + 1) */
    metrics_batch *batch;                /* per batch size */
    _Atomic int64_t queue_depth;         /* requests waiting now */
} metrics_model;

strata_status metrics_model_init(metrics_model *m, int64_t max_batch_size);
void metrics_model_release(metrics_model *m);
void metrics_record_batch(metrics_model *m, int64_t rows, uint64_t input_ns, uint64_t infer_ns,
                          uint64_t output_ns);
/* One finished request: ok or not, rejected (queue full / expired), durations. */
void metrics_record_request(metrics_model *m, bool ok, bool rejected, uint64_t total_ns,
                            uint64_t queue_ns, uint64_t input_ns, uint64_t infer_ns,
                            uint64_t output_ns);

/* ---- inference requests (scheduler.c) ------------------------------------------------------- */

/* One tensor of a request or response. data is owned when owned is true. */
typedef struct infer_tensor {
    char name[SERVER_MAX_NAME];          /* tensor name */
    strata_dtype dtype;                  /* element type */
    int rank;                            /* dims */
    int64_t dims[STRATA_MAX_DIMS];       /* shape as the client sees it (with batch dim) */
    void *data;                          /* elements, row-major, little-endian */
    size_t n_bytes;                      /* bytes of data */
    bool owned;                          /* data was allocated with mem_alloc */
    bool binary;                         /* output: answer in the binary extension */
} infer_tensor;

typedef struct model_version model_version;
typedef struct infer_request infer_request;

/* Called exactly once when a request ends (ok or not), on some scheduler or frontend thread. */
typedef void (*infer_done_fn)(infer_request *r, void *user);

struct infer_request {
    /* filled by the frontend */
    model_version *mv;                   /* the version that runs it (reference held) */
    char id[256];                        /* request id, echoed */
    size_t n_inputs;
    infer_tensor inputs[SERVER_MAX_IO];
    size_t n_outputs;                    /* requested outputs; 0 = all */
    infer_tensor outputs[SERVER_MAX_IO]; /* names + binary flag on entry; results on success */
    bool all_outputs_binary;             /* binary_data_output */
    int64_t priority;                    /* 0 default (not scheduled yet) */
    int64_t timeout_us;                  /* 0: the queue policy's default */
    infer_done_fn done;                  /* completion callback */
    void *user;                          /* its argument */
    /* scheduler state */
    int64_t rows;                        /* dim 0 of the inputs (1 when not batching) */
    uint64_t enqueue_ns, deadline_ns;    /* deadline 0: none */
    bool queued;                         /* in the queue (guarded by the scheduler's lock) */
    infer_request *prev, *next;          /* queue links */
    /* result */
    strata_status status;                /* STRATA_OK or the failure */
    char error[512];                     /* message on failure */
    uint64_t queue_ns, input_ns, infer_ns, output_ns; /* time in each phase */
};

typedef struct scheduler scheduler;

strata_status scheduler_create(model_version *mv, scheduler **out);
/* Refuses new requests, answers the queued ones CANCELLED, waits for running batches and joins
 * the instances. The scheduler stays valid (submit answers QUEUE_FULL) until destroyed. */
void scheduler_stop(scheduler *s);
/* Stops (if not yet) and frees; accepts NULL. */
void scheduler_destroy(scheduler *s);
/* Checks the request against the model (shapes, dtypes, names), then queues it. On failure the
 * request is NOT queued and done is not called: the caller answers. QUEUE_FULL at once when
 * the queue is full. */
strata_status scheduler_submit(scheduler *s, infer_request *r);
/* Removes r from the queue when it is still waiting (then completes it with TIMEOUT and returns
 * true); false when an instance already has it. */
bool scheduler_cancel(scheduler *s, infer_request *r);
/* Frees owned tensor data of a request (inputs and outputs). */
void infer_request_release(infer_request *r);

/* ---- batcher (batcher.c) ---------------------------------------------------------------------- */

typedef struct batcher_policy {
    int64_t max_batch_size;              /* rows per batch; 0 = no batching (one request) */
    const int64_t *preferred;            /* preferred sizes, ascending */
    size_t n_preferred;
    uint64_t max_delay_ns;               /* longest wait of the oldest request */
} batcher_policy;

/* Decides, from the rows of the compatible queued requests (in queue order) and how long the
 * oldest has waited, how many requests to take now (> 0), or 0 and *wait_ns: how long to wait
 * before deciding again (a new arrival also wakes the batcher). */
size_t batcher_decide(const batcher_policy *p, const int64_t *rows, size_t n, uint64_t waited_ns,
                      uint64_t *wait_ns);
/* True when b can join a batch led by a (same dtypes and non-batch dims for every input). */
bool batcher_compatible(const infer_request *a, const infer_request *b);
/* Concatenates the inputs of reqs along dim 0 into new tensors (names borrowed from reqs[0]). */
strata_status batcher_gather(infer_request *const *reqs, size_t n, const model_config *c,
                             strata_tensor **inputs);
/* Copies each request's rows of the batch outputs into its outputs. */
strata_status batcher_scatter(infer_request *const *reqs, size_t n, const model_config *c,
                              strata_tensor *const *outputs);

/* ---- repository (repository.c) ---------------------------------------------------------------- */

struct model_version {
    char model[SERVER_MAX_NAME];         /* model name */
    int64_t version;                     /* version number */
    char version_str[24];                /* its decimal text */
    model_config *config;                /* the model's config (shared by its versions) */
    strata_plan *plan;                   /* the compiled model (shared by the sessions) */
    const strata_model *iface;           /* the plan's interface (borrowed from plan) */
    strata_session **sessions;           /* one per instance */
    size_t n_sessions;
    scheduler *sched;                    /* queue + batcher + instances */
    metrics_model metrics;               /* counters */
    _Atomic int refs;                    /* in-flight requests + the repository's reference */
    double load_ms;                      /* how long loading took */
    bool plan_cached;                    /* the plan came from the cache */
};

typedef struct repository repository;

/* Scans and loads the repository. Failed models stay listed (state UNAVAILABLE, reason). */
strata_status repository_open(const server_options *o, repository **out);
/* Stops every scheduler (queued requests answered CANCELLED); lookups still work. */
void repository_stop(repository *r);
/* Explicit model control: load (or reload) / unload a model by name; INVALID_ARGUMENT in the
 * other modes. */
strata_status repository_load_model(repository *r, const char *model);
strata_status repository_unload_model(repository *r, const char *model);
void repository_close(repository *r);
/* Version to serve: version NULL or "" = the latest loaded. NOT_FOUND / INVALID_ARGUMENT
 * with a message otherwise; the returned version holds a reference: release it. */
strata_status repository_acquire(repository *r, const char *model, const char *version,
                                 model_version **out);
void repository_release(model_version *mv);
/* Every model loaded without error. */
bool repository_ready(const repository *r);
/* [{name, version, state, reason}] (caller deletes); ready_only keeps loaded ones. */
cJSON *repository_index_json(const repository *r, bool ready_only);
/* Names of the loaded versions of a model (for metadata); returns how many (at most max). */
size_t repository_versions(const repository *r, const char *model, const char **out, size_t max);
/* Calls fn for every loaded version (metrics, stats). */
void repository_each(const repository *r, void (*fn)(model_version *mv, void *arg), void *arg);

/* ---- metrics text (metrics.c) ----------------------------------------------------------------- */

/* Prometheus text exposition of every model's counters plus process figures (caller frees with
 * mem_free). NULL on out-of-memory. */
char *metrics_render(const repository *r, size_t *n_out);
/* Triton statistics JSON for one model (version NULL = every loaded version) or all (model NULL). */
strata_status metrics_stats_json(const repository *r, const char *model, const char *version,
                                 cJSON **out);

/* ---- HTTP (http.c) ------------------------------------------------------------------------------ */

typedef struct http_request {
    const char *method;                  /* "GET", "POST", ... */
    const char *url;                     /* path, not unescaped */
    const char *body;                    /* body bytes (NUL-terminated copy) */
    size_t n_body;
    void *conn;                          /* for http_header */
} http_request;

typedef struct http_response {
    int status;                          /* HTTP status */
    const char *content_type;            /* static string */
    char *body;                          /* mem_alloc'd body (freed by http.c) */
    size_t n_body;
    char header_name[64], header_value[64]; /* one extra header, or "" */
} http_response;

typedef void (*http_handler)(void *ctx, const http_request *req, http_response *res);

typedef struct http_server http_server;

strata_status http_server_start(const char *host, int port, http_handler fn, void *ctx,
                                http_server **out);
/* The port it listens on (useful with port 0). */
int http_server_port(const http_server *h);
/* Stops accepting connections (existing ones keep being served). */
void http_server_quiesce(http_server *h);
/* Closes every connection and joins the threads; accepts NULL. */
void http_server_stop(http_server *h);
/* Value of a request header, or NULL. */
const char *http_header(const http_request *req, const char *name);
/* Sets res to {"error": msg} with status. */
void http_error(http_response *res, int status, const char *fmt, ...) STRATA_PRINTF(3, 4);
/* Sets res to the JSON text of j (not deleted) with status. */
void http_json(http_response *res, int status, const cJSON *j);

/* ---- KServe v2 over HTTP (kserve_http.c) -------------------------------------------------------- */

typedef struct kserve_ctx {
    repository *repo;                    /* models */
    _Atomic int64_t in_flight;           /* requests being handled */
    _Atomic bool draining;               /* shutting down: not ready, new infers refused */
} kserve_ctx;

void kserve_http_handle(void *ctx, const http_request *req, http_response *res);
/* The metrics port's handler (GET /metrics). */
void kserve_http_metrics(void *ctx, const http_request *req, http_response *res);

/* ---- request checks shared by the frontends (request.c) --------------------------------------- */

#define REQUEST_MAX_RANK 8               /* dims of a request tensor */

/* Clears r->inputs[index] and sets its name and dtype after the checks every protocol shares
 * (name given and short, not a duplicate, known datatype, not BYTES); name or datatype NULL when
 * the request did not give a string. False with a message in err. */
bool request_input_begin(infer_request *r, size_t index, const char *name, const char *datatype, char *err, size_t n_err);
/* Sets t's shape and n_bytes: rank <= REQUEST_MAX_RANK, dims >= 0, bytes within SERVER_MAX_BODY
 * (overflow-checked). False with a message in err. */
bool request_input_shape(infer_tensor *t, size_t rank, const int64_t *dims, char *err, size_t n_err);
/* Applies a request parameter Strata acts on ("priority", "timeout" in us); others are ignored.
 * is_int: the value is an integer (v); false with a message for a bad value. */
bool request_param_int(infer_request *r, const char *key, bool is_int, int64_t v, char *err, size_t n_err);

/* ---- KServe v2 over gRPC (kserve_grpc.c) -------------------------------------------------------- */

typedef struct grpc_frontend grpc_frontend;

/* Serves inference.GRPCInferenceService on host:port (host NULL = every interface) with the
 * HTTP frontend's context (repository, in-flight count, draining flag). */
strata_status kserve_grpc_start(const char *host, int port, kserve_ctx *k, grpc_frontend **out);
int kserve_grpc_port(const grpc_frontend *g);
/* Stops accepting calls; calls already accepted run to their answer. */
void kserve_grpc_quiesce(grpc_frontend *g);
/* Cancels what is left, joins the threads and frees; accepts NULL. */
void kserve_grpc_stop(grpc_frontend *g);

#endif
