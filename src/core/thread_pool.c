/* core/thread_pool.c — parallel_for over task indices on an OpenMP team. The team is the same
 * one oneDNN (Debian's libdnnl runs on OpenMP) uses from the same calling thread, so our
 * kernels and oneDNN's share one set of threads: a pool of our own beside OpenMP's workers,
 * both spinning between calls, put three or more busy threads on two cores (ResNet-50 bf16 on 2
 * threads measured ~1 s per run that way, ~30 ms on the shared team). Tasks take indices from
 * one atomic counter; the calling thread is thread 0 of the team. */
#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/thread_pool.h"

struct thread_pool {
    int n_threads;             /* including the caller */
    pthread_mutex_t call_lock; /* one parallel_for at a time; trylock: busy -> serial */
};

strata_status thread_pool_create(int n_threads, thread_pool **out)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return error_set(STRATA_INVALID_ARGUMENT, "thread pool: %d threads (want 1..1024)",
                         n_threads);
    thread_pool *p = mem_calloc(1, sizeof *p);
    if (!p) return error_set(STRATA_OUT_OF_MEMORY, "thread pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->call_lock, NULL);
    *out = p;
    return STRATA_OK;
}

void thread_pool_destroy(thread_pool *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->call_lock);
    mem_free(p);
}

int thread_pool_size(const thread_pool *p)
{
    return p ? p->n_threads : 1;
}

void thread_pool_parallel_for(thread_pool *p, int64_t n_tasks, thread_pool_task task, void *arg)
{
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1 || omp_in_parallel() ||
        pthread_mutex_trylock(&p->call_lock) != 0) {
        for (int64_t i = 0; i < n_tasks; i++) task(arg, i, 0);
        return;
    }
    int team = n_tasks < p->n_threads ? (int)n_tasks : p->n_threads;
    atomic_int_fast64_t next;
    atomic_init(&next, 0);
#pragma omp parallel num_threads(team)
    {
        int thread_index = omp_get_thread_num();
        for (;;) {
            int64_t i = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
            if (i >= n_tasks) break;
            task(arg, i, thread_index);
        }
    }
    pthread_mutex_unlock(&p->call_lock);
}
