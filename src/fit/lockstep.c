/*
 * Many local fits in lockstep: every start runs the ordinary solver
 * (trf, lm, dogbox; src/solve, unchanged) on its own thread, and each
 * evaluation it asks for waits until every live start has asked for one;
 * then ONE shared pass (pass_run_many) evaluates them all and each solver
 * goes on. The data are read once per iteration for all starts.
 *
 * The solver threads only take turns: each one's arithmetic depends on
 * its own evaluations alone, and pass_run_many gives each vector what
 * pass_run would, so a start's path is the same whatever the others do,
 * in whatever order the threads run, and on any number of pass threads.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "global.h"

typedef struct lane {
    struct lockstep *ls;
    int id;
    double *x, *R;
    solve_result sr;
    int rc; /* the solver's own return (-1: out of memory) */
    /* the evaluation asked for */
    double *req_cost, *req_R;
    int req_bad, waiting, done;
    pthread_cond_t go; /* the coordinator's answer to this lane alone */
    pthread_t th;
    int started;
} lane;

typedef struct lockstep {
    const lockstep_problem *lp;
    lane *lanes;
    int K, running;
    pthread_mutex_t mu;
    pthread_cond_t to_coord;
} lockstep;

/* The solver's evaluate: post the point, wait for the shared pass. */
static int lane_evaluate(void *ctx, const double *x_free, double *cost, double *R)
{
    lane *L = ctx;
    lockstep *ls = L->ls;
    const lockstep_problem *lp = ls->lp;
    double *p = lp->P + (size_t)L->id * (size_t)lp->n;
    memcpy(p, lp->p_fixed, (size_t)lp->n * sizeof *p);
    for (int k = 0; k < lp->nf; k++) p[lp->free_idx[k]] = x_free[k];
    pthread_mutex_lock(&ls->mu);
    L->req_cost = cost;
    L->req_R = R;
    L->waiting = 1;
    if (--ls->running == 0) pthread_cond_signal(&ls->to_coord);
    while (L->waiting) pthread_cond_wait(&L->go, &ls->mu);
    int bad = L->req_bad;
    pthread_mutex_unlock(&ls->mu);
    return bad;
}

static void *lane_main(void *arg)
{
    lane *L = arg;
    lockstep *ls = L->ls;
    const lockstep_problem *lp = ls->lp;
    solve_problem pb = {lp->nf, lp->m_used, lane_evaluate, L, lp->lbf, lp->ubf, NULL, 0};
    solve_options so = lp->so;
    L->rc = lp->method == NLSQ_LM     ? solve_lm(&pb, &so, L->x, L->R, &L->sr)
          : lp->method == NLSQ_DOGBOX ? solve_dogbox(&pb, &so, L->x, L->R, &L->sr)
                                      : solve_trf(&pb, &so, L->x, L->R, &L->sr);
    pthread_mutex_lock(&ls->mu);
    L->done = 1;
    if (--ls->running == 0) pthread_cond_signal(&ls->to_coord);
    pthread_mutex_unlock(&ls->mu);
    return NULL;
}

/* One shared pass for the lanes waiting, in lane order. */
static void serve(lockstep *ls, const int *ids, int cnt)
{
    const lockstep_problem *lp = ls->lp;
    size_t n = (size_t)lp->n, sz = ((size_t)lp->nf + 1) * ((size_t)lp->nf + 1);
    for (int i = 0; i < cnt; i++)
        if (ids[i] != i) memcpy(lp->P + (size_t)i * n, lp->P + (size_t)ids[i] * n, n * sizeof *lp->P);
    pass_many pm = {cnt, lp->P, n, 0, lp->cost, lp->chi2, lp->R, lp->bad, 0, 0};
    pass_run_many(lp->ps, lp->pd, &pm);
    lp->stats->passes++;
    lp->stats->evaluations += cnt;
    if (pm.read_failed || pm.nomem) lp->stats->failed = 1;
    for (int i = 0; i < cnt; i++) {
        lane *L = &ls->lanes[ids[i]];
        *L->req_cost = lp->cost[i];
        memcpy(L->req_R, lp->R + (size_t)i * sz, sz * sizeof *lp->R);
        L->req_bad = pm.read_failed || pm.nomem || lp->bad[i] != 0 || !isfinite(lp->cost[i]);
    }
}

int lockstep_run(const lockstep_problem *lp, int K, double *X, double *cost, solve_result *sr)
{
    size_t nf = (size_t)lp->nf, sz = (nf + 1) * (nf + 1);
    lockstep ls = {lp, calloc((size_t)K, sizeof(lane)), K, K, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    double *Rs = malloc((size_t)K * sz * sizeof *Rs);
    int *ids = malloc((size_t)K * sizeof *ids);
    if (!ls.lanes || !Rs || !ids) {
        free(ls.lanes);
        free(Rs);
        free(ids);
        return -1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, (size_t)1 << 21); /* the solvers keep their arrays on the heap */
    int failed = 0;
    for (int k = 0; k < K; k++) {
        lane *L = &ls.lanes[k];
        L->ls = &ls;
        L->id = k;
        L->x = X + (size_t)k * nf;
        L->R = Rs + (size_t)k * sz;
        pthread_cond_init(&L->go, NULL);
        pthread_mutex_lock(&ls.mu);
        if (pthread_create(&L->th, &attr, lane_main, L) == 0) {
            L->started = 1;
        } else { /* no thread: this start does not run */
            L->done = 1;
            L->rc = -1;
            failed = 1;
            ls.running--;
        }
        pthread_mutex_unlock(&ls.mu);
    }
    pthread_attr_destroy(&attr);
    for (;;) {
        pthread_mutex_lock(&ls.mu);
        while (ls.running > 0) pthread_cond_wait(&ls.to_coord, &ls.mu);
        int cnt = 0;
        for (int k = 0; k < K; k++)
            if (ls.lanes[k].waiting) ids[cnt++] = k;
        pthread_mutex_unlock(&ls.mu);
        if (cnt == 0) break;
        serve(&ls, ids, cnt); /* every lane waits or is done: their posts are stable */
        pthread_mutex_lock(&ls.mu);
        ls.running = cnt;
        for (int i = 0; i < cnt; i++) { /* each woken alone: no herd on one condition */
            ls.lanes[ids[i]].waiting = 0;
            pthread_cond_signal(&ls.lanes[ids[i]].go);
        }
        pthread_mutex_unlock(&ls.mu);
    }
    for (int k = 0; k < K; k++) {
        lane *L = &ls.lanes[k];
        if (L->started) pthread_join(L->th, NULL);
        pthread_cond_destroy(&L->go);
        failed |= L->rc != 0;
        cost[k] = L->started && L->rc == 0 && !L->sr.start_nonfinite ? L->sr.cost : NAN;
        if (sr) sr[k] = L->sr;
    }
    pthread_mutex_destroy(&ls.mu);
    pthread_cond_destroy(&ls.to_coord);
    free(ls.lanes);
    free(Rs);
    free(ids);
    return failed ? -1 : 0;
}
