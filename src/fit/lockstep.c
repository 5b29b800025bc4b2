/*
 * Many local fits in lockstep: every start runs the ordinary solver
 * (trf, lm, dogbox; src/solve, unchanged) as a coroutine on its own small
 * stack, and each evaluation it asks for suspends it; once every live
 * start has asked, ONE shared pass (pass_run_many) evaluates them all and
 * each solver resumes. The data are read once per round for all starts.
 *
 * Coroutines (ucontext), not threads: the starts take turns on the
 * caller's thread in start order, so a round costs two context switches
 * per start in user space, no locks and no scheduler (threads cost a
 * futex wake and sleep per start and round, which on small data outweighs
 * the arithmetic). The passes still run on the pool's threads. A start's
 * path depends on its own evaluations alone, and pass_run_many gives each
 * vector what pass_run would: the same answer on any thread count.
 */
#define _XOPEN_SOURCE 700 /* ucontext */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "global.h"

/* AddressSanitizer must be told when the stack changes under it. */
#if defined(__SANITIZE_ADDRESS__)
#define LOCKSTEP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOCKSTEP_ASAN 1
#endif
#endif
#ifdef LOCKSTEP_ASAN
#include <sanitizer/common_interface_defs.h>
#define FIBER_START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define FIBER_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#define LANE_STACK ((size_t)4 << 20) /* ASan's redzones grow the frames */
#else
#define FIBER_START(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define FIBER_FINISH(save, bottom, size) ((void)(save), (void)(bottom), (void)(size))
#define LANE_STACK ((size_t)512 << 10) /* the solvers keep their arrays on the heap */
#endif

typedef struct lane {
    struct lockstep *ls;
    int id;
    double *x, *R;
    solve_result sr;
    int rc; /* the solver's own return (-1: out of memory) */
    /* the evaluation asked for */
    double *req_cost, *req_R;
    int req_bad, waiting, done;
    ucontext_t uc;
    void *stack;
    void *fake; /* ASan's fake stack while suspended */
} lane;

typedef struct lockstep {
    const lockstep_problem *lp;
    lane *lanes;
    int K;
    ucontext_t main;
    void *main_fake;
    const void *main_bottom; /* the caller's stack, for ASan */
    size_t main_size;
} lockstep;

/* From a lane back to the coordinator; `finished`: the lane will not
   run again (its fake stack can go). */
static void yield_to_main(lane *L, int finished)
{
    lockstep *ls = L->ls;
    FIBER_START(finished ? NULL : &L->fake, ls->main_bottom, ls->main_size);
    if (!finished) {
        swapcontext(&L->uc, &ls->main);
        FIBER_FINISH(L->fake, NULL, NULL);
    }
}

/* The solver's evaluate: post the point, suspend until the shared pass. */
static int lane_evaluate(void *ctx, const double *x_free, double *cost, double *R)
{
    lane *L = ctx;
    const lockstep_problem *lp = L->ls->lp;
    double *p = lp->P + (size_t)L->id * (size_t)lp->n;
    memcpy(p, lp->p_fixed, (size_t)lp->n * sizeof *p);
    for (int k = 0; k < lp->nf; k++) p[lp->free_idx[k]] = x_free[k];
    L->req_cost = cost;
    L->req_R = R;
    L->waiting = 1;
    yield_to_main(L, 0);
    return L->req_bad;
}

/* makecontext passes ints: the lane's address in two halves. */
static void lane_main(unsigned hi, unsigned lo)
{
    lane *L = (lane *)(uintptr_t)(((uint64_t)hi << 32) | lo);
    lockstep *ls = L->ls;
    FIBER_FINISH(NULL, &ls->main_bottom, &ls->main_size);
    const lockstep_problem *lp = ls->lp;
    solve_problem pb = {lp->nf, lp->m_used, lane_evaluate, L, lp->lbf, lp->ubf, NULL, 0, NULL};
    solve_options so = lp->so;
    L->rc = lp->method == NLSQ_LM     ? solve_lm(&pb, &so, L->x, L->R, &L->sr)
          : lp->method == NLSQ_DOGBOX ? solve_dogbox(&pb, &so, L->x, L->R, &L->sr)
                                      : solve_trf(&pb, &so, L->x, L->R, &L->sr);
    L->done = 1;
    yield_to_main(L, 1); /* returning resumes uc_link: the coordinator */
}

/* Run lane L until it asks for an evaluation or finishes. */
static void resume(lockstep *ls, lane *L)
{
    FIBER_START(&ls->main_fake, L->stack, LANE_STACK);
    swapcontext(&ls->main, &L->uc);
    FIBER_FINISH(ls->main_fake, NULL, NULL);
}

/* One shared pass for the lanes waiting, in lane order. */
static void serve(lockstep *ls, const int *ids, int cnt)
{
    const lockstep_problem *lp = ls->lp;
    size_t n = (size_t)lp->n, sz = ((size_t)lp->nf + 1) * ((size_t)lp->nf + 1);
    for (int i = 0; i < cnt; i++)
        if (ids[i] != i) memcpy(lp->P + (size_t)i * n, lp->P + (size_t)ids[i] * n, n * sizeof *lp->P);
    pass_many pm = {cnt, lp->P, n, 0, lp->cost, lp->chi2, lp->R, lp->bad, 0, 0};
    if (lp->run_many)
        lp->run_many(lp->many_ctx, lp->pd, &pm); /* on a GPU (global.c) */
    else
        pass_run_many(lp->ps, lp->pd, &pm);
    lp->stats->passes++;
    lp->stats->evaluations += cnt;
    if (pm.read_failed || pm.nomem) lp->stats->failed = 1;
    if (lp->after_pass && lp->after_pass(lp->after_ctx)) *lp->stop = 1;
    for (int i = 0; i < cnt; i++) {
        lane *L = &ls->lanes[ids[i]];
        *L->req_cost = lp->cost[i];
        memcpy(L->req_R, lp->R + (size_t)i * sz, sz * sizeof *lp->R);
        L->req_bad = pm.read_failed || pm.nomem || lp->bad[i] != 0 || !isfinite(lp->cost[i]);
        L->waiting = 0;
    }
}

static void free_lanes(lockstep *ls)
{
    for (int k = 0; ls->lanes && k < ls->K; k++) free(ls->lanes[k].stack);
    free(ls->lanes);
}

/* Lane k's context: its stack, and lane_main to start there. A function
   of its own: getcontext returns twice, like setjmp, and the caller's
   loop variables must not live across it. */
static int init_lane(lockstep *ls, int k, double *x, double *R)
{
    lane *L = &ls->lanes[k];
    L->ls = ls;
    L->id = k;
    L->x = x;
    L->R = R;
    L->stack = malloc(LANE_STACK); /* large: mapped, touched only as used */
    if (!L->stack || getcontext(&L->uc) != 0) return -1;
    L->uc.uc_stack.ss_sp = L->stack;
    L->uc.uc_stack.ss_size = LANE_STACK;
    L->uc.uc_link = &ls->main;
    uint64_t a = (uint64_t)(uintptr_t)L;
    makecontext(&L->uc, (void (*)(void))lane_main, 2, (unsigned)(a >> 32), (unsigned)(a & 0xFFFFFFFFu));
    return 0;
}

int lockstep_run(const lockstep_problem *lp, int K, double *X, double *cost, solve_result *sr)
{
    size_t nf = (size_t)lp->nf, sz = (nf + 1) * (nf + 1);
    lockstep ls;
    memset(&ls, 0, sizeof ls);
    ls.lp = lp;
    ls.K = K;
    ls.lanes = calloc((size_t)K, sizeof(lane));
    double *Rs = malloc((size_t)K * sz * sizeof *Rs);
    int *ids = malloc((size_t)K * sizeof *ids);
    int failed = !ls.lanes || !Rs || !ids;
    for (int k = 0; !failed && k < K; k++) failed = init_lane(&ls, k, X + (size_t)k * nf, Rs + (size_t)k * sz) != 0;
    if (failed) {
        free_lanes(&ls);
        free(Rs);
        free(ids);
        return -1;
    }
    for (;;) {
        int cnt = 0;
        for (int k = 0; k < K; k++) {
            lane *L = &ls.lanes[k];
            if (!L->done) resume(&ls, L);
            if (L->waiting) ids[cnt++] = k;
        }
        if (cnt == 0) break;
        serve(&ls, ids, cnt);
    }
    for (int k = 0; k < K; k++) {
        lane *L = &ls.lanes[k];
        failed |= L->rc != 0;
        cost[k] = L->rc == 0 && !L->sr.start_nonfinite ? L->sr.cost : NAN;
        if (sr) sr[k] = L->sr;
    }
    free_lanes(&ls);
    free(Rs);
    free(ids);
    return failed ? -1 : 0;
}
