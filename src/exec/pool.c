/*
 * A small thread pool: N-1 workers plus the caller run the tasks of one
 * job, taking task numbers from a shared counter. Threads are made once per
 * pool (a fit), not per pass. Which thread runs which task does not affect
 * any result: tasks write only their own outputs, and the caller combines
 * them in task order.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_condattr_setclock, clock_gettime */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "exec.h"

struct pool {
    int nthreads;
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t start, done;
    unsigned long generation; /* bumped for every job */
    int running;              /* workers still in the current job */
    int quit;
    pool_task_fn fn;
    void *ctx;
    int ntasks;
    atomic_int next;
};

static void run_tasks(pool *p, int worker)
{
    for (;;) {
        int task = atomic_fetch_add(&p->next, 1);
        if (task >= p->ntasks) break;
        p->fn(p->ctx, task, worker);
    }
}

typedef struct worker_arg {
    pool *p;
    int index;
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    pool *p = wa->p;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->quit && p->generation == seen) pthread_cond_wait(&p->start, &p->lock);
        if (p->quit) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        run_tasks(p, index);
        pthread_mutex_lock(&p->lock);
        if (--p->running == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

pool *pool_new(int nthreads)
{
    pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->nthreads = nthreads < 1 ? 1 : nthreads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_condattr_t monotonic; /* pool_run_watched's timed waits ignore clock changes */
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&p->done, &monotonic);
    pthread_condattr_destroy(&monotonic);
    atomic_init(&p->next, 0);
    p->threads = calloc((size_t)p->nthreads, sizeof *p->threads);
    if (!p->threads) {
        pool_free(p);
        return NULL;
    }
    for (int i = 1; i < p->nthreads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (!wa) {
            p->nthreads = i; /* run with the workers made so far */
            break;
        }
        wa->p = p;
        wa->index = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->nthreads = i;
            break;
        }
    }
    return p;
}

int pool_threads(const pool *p)
{
    return p ? p->nthreads : 1;
}

/* Hand the job to the workers. */
static void start_job(pool *p, pool_task_fn fn, void *ctx, int ntasks)
{
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->ntasks = ntasks;
    atomic_store(&p->next, 0);
    p->running = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
}

void pool_run(pool *p, pool_task_fn fn, void *ctx, int ntasks)
{
    if (!p || p->nthreads == 1 || ntasks <= 1) {
        for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
        return;
    }
    start_job(p, fn, ctx, ntasks);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->lock);
    while (p->running > 0) pthread_cond_wait(&p->done, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

static struct timespec after(double seconds)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long ns = (long long)t.tv_nsec + (long long)(seconds * 1e9);
    t.tv_sec += (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

void pool_run_watched(pool *p, pool_task_fn fn, void *ctx, int ntasks, void (*watch)(void *wctx), void *wctx,
                      double interval)
{
    if (!p || p->nthreads == 1) {
        double due = host_seconds() + interval;
        for (int t = 0; t < ntasks; t++) {
            fn(ctx, t, 0);
            if (host_seconds() >= due) {
                watch(wctx);
                due = host_seconds() + interval;
            }
        }
        return;
    }
    start_job(p, fn, ctx, ntasks);
    pthread_mutex_lock(&p->lock);
    while (p->running > 0) {
        struct timespec until = after(interval);
        while (p->running > 0 && pthread_cond_timedwait(&p->done, &p->lock, &until) == 0) {}
        if (p->running == 0) break;
        pthread_mutex_unlock(&p->lock); /* the watcher may take its time */
        watch(wctx);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
}

void pool_free(pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->quit = 1;
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; p->threads && i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}
