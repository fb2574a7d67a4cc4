/* core/thread_pool.h — a fixed pool of worker threads and a parallel_for over task indices:
 * the calling thread works too, no allocation per call, workers spin briefly then sleep. */
#ifndef STRATA_CORE_THREAD_POOL_H
#define STRATA_CORE_THREAD_POOL_H

#include <stdint.h>

#include "core/core.h"

typedef struct thread_pool thread_pool;

/* One task: index i in [0, n_tasks); thread_index in [0, thread_pool_size) says which thread
 * runs it (0 is the caller), so a task may use per-thread scratch indexed by it. */
typedef void (*thread_pool_task)(void *arg, int64_t i, int thread_index);

/* A pool of n_threads threads in all, counting the caller (n_threads - 1 workers; 1 = none).
 * INVALID_ARGUMENT when n_threads < 1 or > 1024; OUT_OF_MEMORY / INTERNAL when the workers
 * cannot be made. *out is NULL on failure. */
strata_status thread_pool_create(int n_threads, thread_pool **out);
/* Joins the workers and frees the pool; accepts NULL. No parallel_for may be running. */
void thread_pool_destroy(thread_pool *p);
/* Threads of the pool including the caller; 1 for NULL. */
int thread_pool_size(const thread_pool *p);
/* Runs task(arg, i, thread_index) for every i in [0, n_tasks) exactly once, spread over the
 * workers and the calling thread, and returns when all have finished. A NULL pool, a pool of
 * one thread, or a call made while the pool is busy (from a task of this pool, or from another
 * thread) runs every task serially on the caller with thread_index 0. */
void thread_pool_parallel_for(thread_pool *p, int64_t n_tasks, thread_pool_task task, void *arg);

#endif
