/* server/scheduler.c — one model version's bounded request queue and its instances: each
 * instance is a thread with its own session (all sharing the plan) that takes the batches the
 * batcher forms, runs them, and answers every request exactly once (queue removal is the one
 * place that hands a request to an answerer, under the queue lock). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define MAX_BATCH_REQUESTS 1024 /* requests looked at when forming one batch */

typedef struct instance {
    scheduler *s;                /* owner */
    size_t index;                /* which session */
    pthread_t thread;
    bool started;
} instance;

struct scheduler {
    model_version *mv;           /* the version served (borrowed) */
    const model_config *c;       /* its config */
    pthread_mutex_t mu;          /* guards everything below */
    pthread_cond_t cv;           /* a request arrived / stopping */
    infer_request *head, *tail;  /* the queue, oldest first */
    size_t n_queued;
    size_t max_queued;           /* bound */
    bool stopping;               /* no new requests; instances exit when idle */
    instance *instances;
    size_t n_instances;
};

static void unlink_request(scheduler *s, infer_request *r)
{
    if (r->prev) r->prev->next = r->next;
    else s->head = r->next;
    if (r->next) r->next->prev = r->prev;
    else s->tail = r->prev;
    r->prev = r->next = NULL;
    r->queued = false;
    s->n_queued--;
    atomic_fetch_sub(&s->mv->metrics.queue_depth, 1);
}

/* Records and answers r (exactly once: the caller owns r, taken off the queue). */
static void complete(infer_request *r, strata_status st, const char *msg)
{
    uint64_t now = clock_now_ns();
    r->status = st;
    if (st != STRATA_OK) snprintf(r->error, sizeof r->error, "%s", msg ? msg : strata_last_error());
    if (st != STRATA_OK && r->queue_ns == 0) r->queue_ns = now - r->enqueue_ns;
    metrics_record_request(&r->mv->metrics, st == STRATA_OK,
                           st == STRATA_QUEUE_FULL || st == STRATA_TIMEOUT || st == STRATA_CANCELLED,
                           now - r->enqueue_ns, r->queue_ns, r->input_ns, r->infer_ns, r->output_ns);
    r->done(r, r->user);
}

static void expire_message(infer_request *r, char *buf, size_t n)
{
    snprintf(buf, n, "request timed out in the queue of model '%s' version %s (timeout %lld us)",
             r->mv->model, r->mv->version_str,
             (long long)(r->deadline_ns > r->enqueue_ns ? (r->deadline_ns - r->enqueue_ns) / 1000 : 0));
}

static void run_batch(scheduler *s, strata_session *session, infer_request **reqs, size_t n)
{
    const model_config *c = s->c;
    strata_tensor *inputs[SERVER_MAX_IO] = {NULL}, *outputs[SERVER_MAX_IO] = {NULL};
    const char *in_names[SERVER_MAX_IO], *out_names[SERVER_MAX_IO];
    uint64_t t0 = clock_now_ns();
    int64_t rows = 0;
    for (size_t k = 0; k < n; k++) {
        reqs[k]->queue_ns = t0 - reqs[k]->enqueue_ns;
        rows += reqs[k]->rows;
    }
    for (size_t i = 0; i < c->n_inputs; i++) in_names[i] = c->inputs[i].name;
    for (size_t i = 0; i < c->n_outputs; i++) out_names[i] = c->outputs[i].name;
    strata_status st = batcher_gather(reqs, n, c, inputs);
    uint64_t t1 = clock_now_ns();
    if (st == STRATA_OK)
        st = strata_session_run(session, c->n_inputs, in_names, inputs, c->n_outputs, out_names, outputs);
    if (st != STRATA_OK)
        error_prefix(st, "model '%s' version %s", s->mv->model, s->mv->version_str);
    uint64_t t2 = clock_now_ns();
    if (st == STRATA_OK) st = batcher_scatter(reqs, n, c, outputs);
    uint64_t t3 = clock_now_ns();
    char msg[512];
    snprintf(msg, sizeof msg, "%s", st == STRATA_OK ? "" : strata_last_error());
    for (size_t i = 0; i < c->n_inputs; i++) strata_tensor_destroy(inputs[i]);
    for (size_t i = 0; i < c->n_outputs; i++) strata_tensor_destroy(outputs[i]);
    metrics_record_batch(&s->mv->metrics, c->max_batch_size > 0 ? rows : 1, t1 - t0, t2 - t1, t3 - t2);
    for (size_t k = 0; k < n; k++) {
        reqs[k]->input_ns = t1 - t0;
        reqs[k]->infer_ns = t2 - t1;
        reqs[k]->output_ns = t3 - t2;
        complete(reqs[k], st, msg);
    }
}

static void *instance_main(void *arg)
{
    instance *in = arg;
    scheduler *s = in->s;
    strata_session *session = s->mv->sessions[in->index];
    const model_config *c = s->c;
    batcher_policy policy = {
        .max_batch_size = c->dynamic_batching ? c->max_batch_size : (c->max_batch_size > 0 ? 1 : 0),
        .preferred = c->preferred,
        .n_preferred = c->n_preferred,
        .max_delay_ns = (uint64_t)c->max_queue_delay_us * 1000u,
    };
    if (!c->dynamic_batching && c->max_batch_size > 0) {
        /* without dynamic_batching a request runs alone (with its own rows) */
        policy.max_batch_size = 0;
    }
    infer_request **batch = mem_calloc(MAX_BATCH_REQUESTS, sizeof *batch);
    int64_t *rows = mem_calloc(MAX_BATCH_REQUESTS, sizeof *rows);
    pthread_mutex_lock(&s->mu);
    while (batch && rows) {
        /* expired requests answer at once */
        uint64_t now = clock_now_ns();
        size_t n_expired = 0;
        for (infer_request *r = s->head, *nx; r && n_expired < MAX_BATCH_REQUESTS; r = nx) {
            nx = r->next;
            if (r->deadline_ns && now >= r->deadline_ns) {
                unlink_request(s, r);
                batch[n_expired++] = r;
            }
        }
        if (n_expired) {
            pthread_mutex_unlock(&s->mu);
            for (size_t k = 0; k < n_expired; k++) {
                char msg[256];
                expire_message(batch[k], msg, sizeof msg);
                complete(batch[k], STRATA_TIMEOUT, msg);
            }
            pthread_mutex_lock(&s->mu);
            continue;
        }
        if (s->n_queued == 0) {
            if (s->stopping) break;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        size_t n = 0;
        uint64_t next_deadline = 0, oldest = s->head->enqueue_ns;
        for (infer_request *r = s->head; r && n < MAX_BATCH_REQUESTS; r = r->next) {
            if (n > 0 && !batcher_compatible(s->head, r)) break;
            batch[n] = r;
            rows[n++] = r->rows;
            if (r->enqueue_ns < oldest) oldest = r->enqueue_ns;
        }
        for (infer_request *r = s->head; r; r = r->next)
            if (r->deadline_ns && (!next_deadline || r->deadline_ns < next_deadline)) next_deadline = r->deadline_ns;
        uint64_t wait_ns;
        size_t take = batcher_decide(&policy, rows, n, now - oldest, &wait_ns);
        if (take == 0 && s->stopping) take = batcher_decide(&policy, rows, n, UINT64_MAX, &wait_ns);
        if (take == 0) {
            if (next_deadline && next_deadline - now < wait_ns) wait_ns = next_deadline - now;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            uint64_t until = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + wait_ns;
            ts.tv_sec = (time_t)(until / 1000000000u);
            ts.tv_nsec = (long)(until % 1000000000u);
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            continue;
        }
        for (size_t k = 0; k < take; k++) unlink_request(s, batch[k]);
        pthread_mutex_unlock(&s->mu);
        run_batch(s, session, batch, take);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    mem_free(batch);
    mem_free(rows);
    return NULL;
}

strata_status scheduler_create(model_version *mv, scheduler **out)
{
    *out = NULL;
    scheduler *s = mem_calloc(1, sizeof *s);
    if (!s) return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", mv->model);
    s->mv = mv;
    s->c = mv->config;
    s->max_queued = mv->config->max_queue_size > 0 ? (size_t)mv->config->max_queue_size : SERVER_MAX_QUEUE;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->instances = mem_calloc(mv->n_sessions, sizeof *s->instances);
    if (!s->instances) {
        scheduler_destroy(s);
        return error_set(STRATA_OUT_OF_MEMORY, "model '%s': out of memory", mv->model);
    }
    for (size_t i = 0; i < mv->n_sessions; i++) {
        instance *in = &s->instances[i];
        in->s = s;
        in->index = i;
        if (pthread_create(&in->thread, NULL, instance_main, in) != 0) {
            scheduler_destroy(s);
            return error_set(STRATA_INTERNAL, "model '%s': cannot start instance thread %zu", mv->model, i);
        }
        in->started = true;
        s->n_instances = i + 1;
    }
    *out = s;
    return STRATA_OK;
}

void scheduler_stop(scheduler *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    infer_request *r = s->head;
    s->head = s->tail = NULL;
    while (s->n_queued) {
        s->n_queued--;
        atomic_fetch_sub(&s->mv->metrics.queue_depth, 1);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    while (r) {
        infer_request *nx = r->next;
        r->prev = r->next = NULL;
        r->queued = false;
        char msg[256];
        snprintf(msg, sizeof msg, "model '%s' version %s is shutting down", r->mv->model, r->mv->version_str);
        complete(r, STRATA_CANCELLED, msg);
        r = nx;
    }
    for (size_t i = 0; i < s->n_instances; i++)
        if (s->instances[i].started) {
            pthread_join(s->instances[i].thread, NULL);
            s->instances[i].started = false;
        }
}

void scheduler_destroy(scheduler *s)
{
    if (!s) return;
    scheduler_stop(s);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    mem_free(s->instances);
    mem_free(s);
}

/* Checks r against the config, puts its inputs in config order, fills default outputs. */
static strata_status check_request(scheduler *s, infer_request *r)
{
    const model_config *c = s->c;
    const char *m = s->mv->model, *v = s->mv->version_str;
    if (r->n_inputs != c->n_inputs) {
        for (size_t i = 0; i < c->n_inputs; i++) {
            bool found = false;
            for (size_t k = 0; k < r->n_inputs; k++) found |= strcmp(r->inputs[k].name, c->inputs[i].name) == 0;
            if (!found)
                return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s: input '%s' is missing", m, v,
                                 c->inputs[i].name);
        }
    }
    /* order by config (selection sort: at most 64) */
    for (size_t i = 0; i < r->n_inputs; i++) {
        size_t idx = 0;
        while (idx < c->n_inputs && strcmp(c->inputs[idx].name, r->inputs[i].name) != 0) idx++;
        if (idx == c->n_inputs)
            return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s has no input '%s'", m, v, r->inputs[i].name);
    }
    for (size_t i = 0; i < c->n_inputs; i++) {
        size_t k = i;
        while (k < r->n_inputs && strcmp(r->inputs[k].name, c->inputs[i].name) != 0) k++;
        if (k == r->n_inputs)
            return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s: input '%s' is missing or repeated", m, v,
                             c->inputs[i].name);
        if (k != i) {
            infer_tensor tmp = r->inputs[i];
            r->inputs[i] = r->inputs[k];
            r->inputs[k] = tmp;
        }
    }
    int skip = c->max_batch_size > 0 ? 1 : 0;
    r->rows = 1;
    for (size_t i = 0; i < c->n_inputs; i++) {
        const config_io *io = &c->inputs[i];
        const infer_tensor *t = &r->inputs[i];
        char want[160], got[160];
        if (t->dtype != io->dtype)
            return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s: input '%s' is %s, the model takes %s", m, v,
                             t->name, model_config_kserve_dtype(t->dtype), model_config_kserve_dtype(io->dtype));
        bool ok = t->rank == io->rank + skip;
        for (int d = 0; ok && d < io->rank; d++)
            ok = io->dims[d] < 0 || io->dims[d] == t->dims[d + skip];
        if (!ok) {
            int64_t wd[STRATA_MAX_DIMS + 1];
            int wr = 0;
            if (skip) wd[wr++] = -1;
            for (int d = 0; d < io->rank; d++) wd[wr++] = io->dims[d];
            return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s: input '%s' has shape %s, the model takes %s",
                             m, v, t->name, shape_describe(t->rank, t->dims, got, sizeof got),
                             shape_describe(wr, wd, want, sizeof want));
        }
        if (skip) {
            if (t->dims[0] < 1 || t->dims[0] > c->max_batch_size)
                return error_set(STRATA_INVALID_ARGUMENT,
                                 "model '%s' version %s: input '%s' has batch size %lld, outside [1, %lld] (max_batch_size)",
                                 m, v, t->name, (long long)t->dims[0], (long long)c->max_batch_size);
            if (i > 0 && t->dims[0] != r->rows)
                return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s: input '%s' has batch size %lld, input '%s' has %lld",
                                 m, v, t->name, (long long)t->dims[0], r->inputs[0].name, (long long)r->rows);
            r->rows = t->dims[0];
        }
    }
    if (r->n_outputs == 0) {
        for (size_t o = 0; o < c->n_outputs; o++) {
            memset(&r->outputs[o], 0, sizeof r->outputs[o]);
            snprintf(r->outputs[o].name, sizeof r->outputs[o].name, "%s", c->outputs[o].name);
            r->outputs[o].binary = r->all_outputs_binary;
        }
        r->n_outputs = c->n_outputs;
    } else {
        for (size_t o = 0; o < r->n_outputs; o++) {
            size_t idx = 0;
            while (idx < c->n_outputs && strcmp(c->outputs[idx].name, r->outputs[o].name) != 0) idx++;
            if (idx == c->n_outputs)
                return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s has no output '%s'", m, v, r->outputs[o].name);
            for (size_t q = 0; q < o; q++)
                if (strcmp(r->outputs[q].name, r->outputs[o].name) == 0)
                    return error_set(STRATA_INVALID_ARGUMENT, "model '%s' version %s: output '%s' is requested twice", m, v,
                                     r->outputs[o].name);
        }
    }
    return STRATA_OK;
}

strata_status scheduler_submit(scheduler *s, infer_request *r)
{
    strata_status st = check_request(s, r);
    if (st != STRATA_OK) return st;
    uint64_t now = clock_now_ns();
    r->enqueue_ns = now;
    r->queue_ns = r->input_ns = r->infer_ns = r->output_ns = 0;
    int64_t timeout_us = r->timeout_us > 0 ? r->timeout_us : s->c->default_timeout_us;
    r->deadline_ns = timeout_us > 0 && !s->c->timeout_delay ? now + (uint64_t)timeout_us * 1000u : 0;
    pthread_mutex_lock(&s->mu);
    if (s->stopping) {
        pthread_mutex_unlock(&s->mu);
        return error_set(STRATA_QUEUE_FULL, "model '%s' version %s is shutting down", s->mv->model, s->mv->version_str);
    }
    if (s->n_queued >= s->max_queued) {
        pthread_mutex_unlock(&s->mu);
        return error_set(STRATA_QUEUE_FULL, "the queue of model '%s' version %s is full (%zu requests)", s->mv->model,
                         s->mv->version_str, s->max_queued);
    }
    /* priority levels (Triton's: 1 is the highest; 0 or out of range = default_priority_level,
     * the lowest when the config gives none): the queue stays sorted by level, first come first
     * served within a level */
    int64_t levels = s->c->priority_levels;
    int64_t def_level = s->c->default_priority_level >= 1 && s->c->default_priority_level <= levels
                            ? s->c->default_priority_level : levels;
    r->priority = levels <= 0 ? 0 : (r->priority >= 1 && r->priority <= levels ? r->priority : def_level);
    infer_request *after = s->tail;
    while (after && after->priority > r->priority) after = after->prev;
    r->prev = after;
    r->next = after ? after->next : s->head;
    if (r->next) r->next->prev = r;
    else s->tail = r;
    if (after) after->next = r;
    else s->head = r;
    r->queued = true;
    s->n_queued++;
    atomic_fetch_add(&s->mv->metrics.queue_depth, 1);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return STRATA_OK;
}

bool scheduler_cancel(scheduler *s, infer_request *r)
{
    pthread_mutex_lock(&s->mu);
    if (!r->queued) {
        pthread_mutex_unlock(&s->mu);
        return false;
    }
    unlink_request(s, r);
    pthread_mutex_unlock(&s->mu);
    char msg[256];
    expire_message(r, msg, sizeof msg);
    complete(r, STRATA_TIMEOUT, msg);
    return true;
}

void infer_request_release(infer_request *r)
{
    for (size_t i = 0; i < r->n_inputs; i++)
        if (r->inputs[i].owned) mem_free(r->inputs[i].data), r->inputs[i].owned = false, r->inputs[i].data = NULL;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (r->outputs[i].owned) mem_free(r->outputs[i].data), r->outputs[i].owned = false, r->outputs[i].data = NULL;
}
