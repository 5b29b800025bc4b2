/*
 * The distinct minima of a global search: its starts' end points
 * clustered, best first, with how many starts ended at each and at the
 * best cost (docs/global-search.md, "The summary").
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "global.h"

/* Two end points are one minimum when their costs agree to this (relative)
   and every free parameter to CLUSTER_PTOL of its search range; a start
   is at the best when its cost is within AT_BEST_RTOL of the best's. */
#define AT_BEST_RTOL 1e-6
#define CLUSTER_PTOL 1e-3

static int same_minimum(const minima_space *sp, const double *xa, double ca, const double *xb, double cb)
{
    if (fabs(ca - cb) > AT_BEST_RTOL * fmax(fabs(ca), fabs(cb))) return 0;
    for (int k = 0; k < sp->nf; k++)
        if (fabs(xa[k] - xb[k]) > CLUSTER_PTOL * (sp->hi[k] - sp->lo[k])) return 0;
    return 1;
}

static nlsq_global_summary *summary_new(int K, size_t n)
{
    nlsq_global_summary *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->minima_cost = malloc((size_t)K * sizeof *s->minima_cost);
    s->minima_params = malloc((size_t)K * n * sizeof *s->minima_params);
    s->minima_count = calloc((size_t)K, sizeof *s->minima_count);
    s->search_lower = malloc(2 * n * sizeof *s->search_lower);
    if (!s->minima_cost || !s->minima_params || !s->minima_count || !s->search_lower) {
        global_summary_free(s);
        return NULL;
    }
    s->search_upper = s->search_lower + n;
    return s;
}

/* The finite costs' indices by cost, ties by index (a stable insertion
   sort: K is small). Returns how many. */
static int order_by_cost(const double *cost, int K, int *order)
{
    int cnt = 0;
    for (int i = 0; i < K; i++)
        if (isfinite(cost[i])) order[cnt++] = i;
    for (int i = 1; i < cnt; i++)
        for (int j = i; j > 0 && cost[order[j]] < cost[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    return cnt;
}

nlsq_global_summary *minima_cluster(const minima_space *sp, const double *X, const double *cost, int K)
{
    size_t n = (size_t)sp->n, nf = (size_t)sp->nf;
    nlsq_global_summary *s = summary_new(K, n);
    int *order = malloc(2 * (size_t)K * sizeof *order);
    if (!s || !order) {
        free(order);
        global_summary_free(s);
        return NULL;
    }
    int *rep = order + K; /* each minimum's first (best) end point */
    for (size_t j = 0; j < n; j++) s->search_lower[j] = s->search_upper[j] = sp->p_full[j];
    for (size_t k = 0; k < nf; k++) {
        s->search_lower[sp->free_idx[k]] = sp->lo[k];
        s->search_upper[sp->free_idx[k]] = sp->hi[k];
    }
    int cnt = order_by_cost(cost, K, order);
    for (int i = 0; i < cnt; i++) {
        const double *x = X + (size_t)order[i] * nf;
        int c = 0;
        while (c < s->n_minima && !same_minimum(sp, X + (size_t)rep[c] * nf, cost[rep[c]], x, cost[order[i]])) c++;
        if (c == s->n_minima) {
            rep[c] = order[i];
            s->minima_cost[c] = cost[order[i]];
            double *p = s->minima_params + (size_t)c * n;
            memcpy(p, sp->p_full, n * sizeof *p);
            for (size_t k = 0; k < nf; k++) p[sp->free_idx[k]] = x[k];
            s->n_minima++;
        }
        s->minima_count[c]++;
        if (cost[order[i]] - cost[order[0]] <= AT_BEST_RTOL * fabs(cost[order[0]])) s->at_best++;
    }
    s->starts = K;
    s->n = (int)n;
    free(order);
    return s;
}
