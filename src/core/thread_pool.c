/* core/thread_pool.c — fixed worker threads for parallel_for. A call publishes the job under
 * an even generation number; workers (spinning briefly, then on a condvar) join it, take
 * indices from one atomic counter alongside the caller, and count finished tasks; the caller
 * returns when all tasks are done, without waiting for workers that never woke up. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "core/thread_pool.h"

#define SPIN_ROUNDS 4000 /* polls before a worker or the caller sleeps (tens of us) */

typedef struct worker {
    struct thread_pool *pool; /* owner */
    int index;                /* thread_index passed to tasks (1..n_threads-1) */
    pthread_t thread;         /* the worker */
} worker;

struct thread_pool {
    int n_threads;                  /* including the caller */
    int n_started;                  /* workers actually started */
    worker *workers;                /* n_threads - 1 entries */
    pthread_mutex_t call_lock;      /* one parallel_for at a time; trylock: busy -> serial */
    pthread_mutex_t lock;           /* guards sleeping on the condvars */
    pthread_cond_t wake;            /* new generation or shutdown */
    pthread_cond_t done;            /* the last task finished */
    atomic_uint_fast64_t generation;/* odd while a job is being published, even when open */
    atomic_int stop;                /* destroy asked the workers to leave */
    atomic_int n_active;            /* workers inside the current job */
    atomic_int_fast64_t next;       /* next task index to take */
    atomic_int_fast64_t n_done;     /* tasks finished in the current job */
    int64_t n_tasks;                /* current job */
    thread_pool_task task;
    void *arg;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Takes and runs tasks until none are left; returns how many this thread ran. */
static int64_t run_tasks(thread_pool *p, int thread_index)
{
    int64_t n = p->n_tasks, ran = 0;
    for (;;) {
        int64_t i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= n) break;
        p->task(p->arg, i, thread_index);
        ran++;
    }
    return ran;
}

/* Adds ran to the finished count; the thread that finishes the last task wakes the caller. */
static void finish_tasks(thread_pool *p, int64_t ran)
{
    if (ran == 0) return;
    if (atomic_fetch_add_explicit(&p->n_done, ran, memory_order_acq_rel) + ran == p->n_tasks) {
        pthread_mutex_lock(&p->lock);
        pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
}

static void *worker_main(void *vw)
{
    worker *w = vw;
    thread_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        /* Wait for an open generation other than the one already served. */
        uint64_t g = atomic_load(&p->generation);
        for (int s = 0; (g == seen || (g & 1)) && s < SPIN_ROUNDS && !atomic_load(&p->stop); s++) {
            cpu_relax();
            g = atomic_load(&p->generation);
        }
        if (g == seen || (g & 1)) {
            pthread_mutex_lock(&p->lock);
            while (((g = atomic_load(&p->generation)) == seen || (g & 1)) && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->lock);
            pthread_mutex_unlock(&p->lock);
        }
        if (atomic_load(&p->stop)) break;
        /* Join; if the caller closed the generation meanwhile, back off (see parallel_for). */
        atomic_fetch_add(&p->n_active, 1);
        if (atomic_load(&p->generation) != g) {
            atomic_fetch_sub(&p->n_active, 1);
            continue;
        }
        seen = g;
        finish_tasks(p, run_tasks(p, w->index));
        atomic_fetch_sub(&p->n_active, 1);
    }
    return NULL;
}

strata_status thread_pool_create(int n_threads, thread_pool **out)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return error_set(STRATA_INVALID_ARGUMENT, "thread pool: %d threads (want 1..1024)",
                         n_threads);
    thread_pool *p = mem_calloc(1, sizeof *p);
    if (!p) return error_set(STRATA_OUT_OF_MEMORY, "thread pool: out of memory");
    p->n_threads = n_threads;
    atomic_init(&p->generation, 0);
    atomic_init(&p->stop, 0);
    atomic_init(&p->n_active, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->n_done, 0);
    pthread_mutex_init(&p->call_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (n_threads > 1) {
        p->workers = mem_calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) {
            thread_pool_destroy(p);
            return error_set(STRATA_OUT_OF_MEMORY, "thread pool: out of memory");
        }
        for (int i = 0; i < n_threads - 1; i++) {
            p->workers[i].pool = p;
            p->workers[i].index = i + 1;
            int rc = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
            if (rc != 0) {
                thread_pool_destroy(p);
                return error_set(STRATA_INTERNAL, "thread pool: cannot start worker %d of %d: %s",
                                 i + 1, n_threads - 1, strerror(rc));
            }
            p->n_started++;
        }
    }
    *out = p;
    return STRATA_OK;
}

void thread_pool_destroy(thread_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->workers[i].thread, NULL);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->call_lock);
    mem_free(p->workers);
    mem_free(p);
}

int thread_pool_size(const thread_pool *p)
{
    return p ? p->n_threads : 1;
}

void thread_pool_parallel_for(thread_pool *p, int64_t n_tasks, thread_pool_task task, void *arg)
{
    if (n_tasks <= 0) return;
    if (!p || p->n_started == 0 || n_tasks == 1 || pthread_mutex_trylock(&p->call_lock) != 0) {
        for (int64_t i = 0; i < n_tasks; i++) task(arg, i, 0);
        return;
    }
    /* Close the generation (odd), wait until no worker is inside the last job, publish, open.
     * A worker joins by incrementing n_active and then re-reading the generation; with
     * sequentially consistent atomics either we see its increment and wait, or it sees the
     * odd generation and backs off, so nobody runs the old job against the new fields. */
    atomic_fetch_add(&p->generation, 1);
    for (int s = 0; atomic_load(&p->n_active) != 0; s++)
        if (s > SPIN_ROUNDS) sched_yield();
        else cpu_relax();
    p->n_tasks = n_tasks;
    p->task = task;
    p->arg = arg;
    atomic_store(&p->next, 0);
    atomic_store(&p->n_done, 0);
    pthread_mutex_lock(&p->lock);
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    finish_tasks(p, run_tasks(p, 0));

    for (int s = 0; s < SPIN_ROUNDS; s++) {
        if (atomic_load_explicit(&p->n_done, memory_order_acquire) == n_tasks) break;
        cpu_relax();
    }
    if (atomic_load_explicit(&p->n_done, memory_order_acquire) != n_tasks) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->n_done) != n_tasks) pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->call_lock);
}
