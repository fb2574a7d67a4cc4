/* runtime/async_run.c — asynchronous runs: one worker thread per session (started on first
 * use) runs a submitted request and reports through a callback or strata_session_wait. A
 * session runs one request at a time, so a second submit while one is in flight is refused at
 * once (QUEUE_FULL), never queued behind a hang. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "runtime.h"

struct async_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    strata_session *s;
    bool busy;                     /* a run is submitted and not finished */
    bool has_job;                  /* the worker has not picked the run up yet */
    bool stop;
    strata_status status;          /* of the last finished run */
    char message[1024];            /* its error message */
    /* the request (borrowed from the submitter) */
    size_t n_inputs, n_outputs;
    const char *const *input_names;
    strata_tensor *const *inputs;
    const char *const *output_names;
    strata_tensor **outputs;
    strata_run_callback done;
    void *user;
};

static void *worker_main(void *arg)
{
    async_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->has_job && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop && !w->has_job) break;
        w->has_job = false;
        pthread_mutex_unlock(&w->mu);
        strata_status st = strata_session_run(w->s, w->n_inputs, w->input_names, w->inputs,
                                              w->n_outputs, w->output_names, w->outputs);
        strata_run_callback done = w->done;
        void *user = w->user;
        pthread_mutex_lock(&w->mu);
        w->status = st;
        snprintf(w->message, sizeof w->message, "%s", st == STRATA_OK ? "" : strata_last_error());
        pthread_mutex_unlock(&w->mu);
        if (done) done(user, st); /* before busy clears: the callback may not submit again */
        pthread_mutex_lock(&w->mu);
        w->busy = false;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static strata_status worker_start(strata_session *s)
{
    async_worker *w = mem_calloc(1, sizeof *w);
    if (!w) return error_set(STRATA_OUT_OF_MEMORY, "session: out of memory for the async worker");
    w->s = s;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        mem_free(w);
        return error_set(STRATA_INTERNAL, "session: cannot start the async worker thread");
    }
    s->worker = w;
    return STRATA_OK;
}

strata_status strata_session_run_async(strata_session *s, size_t n_inputs,
                                       const char *const *input_names, strata_tensor *const *inputs,
                                       size_t n_outputs, const char *const *output_names,
                                       strata_tensor **outputs, strata_run_callback done, void *user)
{
    if (!s) return error_set(STRATA_INVALID_ARGUMENT, "run_async: no session");
    if (!s->worker) {
        strata_status st = worker_start(s);
        if (st != STRATA_OK) return st;
    }
    async_worker *w = s->worker;
    pthread_mutex_lock(&w->mu);
    if (w->busy) {
        pthread_mutex_unlock(&w->mu);
        return error_set(STRATA_QUEUE_FULL, "run_async: the session is already running a request");
    }
    w->busy = true;
    w->has_job = true;
    w->n_inputs = n_inputs;
    w->input_names = input_names;
    w->inputs = inputs;
    w->n_outputs = n_outputs;
    w->output_names = output_names;
    w->outputs = outputs;
    w->done = done;
    w->user = user;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return STRATA_OK;
}

strata_status strata_session_wait(strata_session *s)
{
    if (!s || !s->worker) return STRATA_OK;
    async_worker *w = s->worker;
    pthread_mutex_lock(&w->mu);
    while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
    strata_status st = w->status;
    if (st != STRATA_OK) error_set(st, "%s", w->message);
    pthread_mutex_unlock(&w->mu);
    return st;
}

void async_worker_destroy(async_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    while (w->busy) pthread_cond_wait(&w->cv, &w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    mem_free(w);
}
