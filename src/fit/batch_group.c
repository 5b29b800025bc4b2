/*
 * A batch spread over a group of processes (nlsq_options.group): each
 * process fits an even, contiguous share of the fits as a batch of its own
 * and every process then receives every share, broadcast by its owner in
 * rank order. A fit's arithmetic does not depend on which other fits run
 * beside it, so fit i comes out bitwise as in one process; only bytes
 * travel, nothing is summed across processes.
 */
#include <stdlib.h>
#include <string.h>

#include "fit.h"

/* Fits [f0, f1) of b as a batch of their own; x rows of per-fit x with
   several variables are copied into *xcopy (their row stride is the
   whole batch's). 0, or -1 out of memory. */
static int sub_batch(const nlsq_model *model, const nlsq_batch *b, size_t f0, size_t f1, nlsq_batch *sub,
                     size_t **offsets, double **xcopy)
{
    int n = model->params.count, k = model->vars.count;
    size_t first = b->offsets ? b->offsets[f0] : f0 * b->m, last = b->offsets ? b->offsets[f1] : f1 * b->m;
    size_t total = b->offsets ? b->offsets[b->nfits] : b->nfits * b->m, count = last - first;
    *sub = *b;
    sub->nfits = f1 - f0;
    *offsets = NULL;
    *xcopy = NULL;
    if (b->offsets) {
        if (!(*offsets = malloc((sub->nfits + 1) * sizeof **offsets))) return -1;
        for (size_t i = 0; i <= sub->nfits; i++) (*offsets)[i] = b->offsets[f0 + i] - first;
        sub->offsets = *offsets;
    }
    sub->y = b->y ? b->y + first : NULL;
    sub->sigma = b->sigma ? b->sigma + first : NULL;
    if (b->x && !b->x_shared) {
        if (k <= 1) {
            sub->x = b->x + first;
        } else {
            if (!(*xcopy = malloc((count ? count : 1) * (size_t)k * sizeof **xcopy))) return -1;
            for (int v = 0; v < k; v++) memcpy(*xcopy + (size_t)v * count, b->x + (size_t)v * total + first,
                                               count * sizeof **xcopy);
            sub->x = *xcopy;
        }
    }
    size_t at = f0 * (size_t)n;
    if (b->p0) sub->p0 = b->p0 + at;
    if (b->lower) sub->lower = b->lower + at;
    if (b->upper) sub->upper = b->upper + at;
    if (b->fixed) sub->fixed = b->fixed + at;
    return 0;
}

/* Rows [f0, f1) of an array of `each` bytes per fit, from process q. */
static int share(const nlsq_group *g, int q, void *base, size_t each, size_t f0, size_t f1)
{
    if (!base || f1 <= f0) return 0;
    return g->bcast(g->ctx, q, (char *)base + f0 * each, (f1 - f0) * each);
}

static int share_all(const nlsq_group *g, nlsq_batch_result *r, int q, size_t f0, size_t f1)
{
    size_t n = (size_t)r->n;
    return share(g, q, r->popt, n * sizeof(double), f0, f1) || share(g, q, r->perr, n * sizeof(double), f0, f1) ||
           share(g, q, r->pcov, n * n * sizeof(double), f0, f1) ||
           share(g, q, r->status, sizeof *r->status, f0, f1) ||
           share(g, q, r->pcov_valid, sizeof *r->pcov_valid, f0, f1) ||
           share(g, q, r->cost, sizeof *r->cost, f0, f1) || share(g, q, r->chi2, sizeof *r->chi2, f0, f1) ||
           share(g, q, r->nit, sizeof *r->nit, f0, f1) || share(g, q, r->nfev, sizeof *r->nfev, f0, f1) ||
           share(g, q, r->m, sizeof *r->m, f0, f1) || share(g, q, r->diag_flags, sizeof *r->diag_flags, f0, f1);
}

/* Copy this process's share into the whole result r (allocated like it). */
static void place(nlsq_batch_result *r, const nlsq_batch_result *s, size_t f0)
{
    size_t n = (size_t)r->n, c = s->nfits;
#define PUT(field, each)                                                                                               \
    if (r->field && s->field) memcpy((char *)r->field + f0 * (each), s->field, c * (each))
    PUT(popt, n * sizeof(double));
    PUT(perr, n * sizeof(double));
    PUT(pcov, n * n * sizeof(double));
    PUT(status, sizeof *r->status);
    PUT(pcov_valid, sizeof *r->pcov_valid);
    PUT(cost, sizeof *r->cost);
    PUT(chi2, sizeof *r->chi2);
    PUT(nit, sizeof *r->nit);
    PUT(nfev, sizeof *r->nfev);
    PUT(m, sizeof *r->m);
    PUT(diag_flags, sizeof *r->diag_flags);
#undef PUT
    r->method = s->method;
    r->threads = s->threads;
    memcpy(r->backend, s->backend, sizeof r->backend);
    memcpy(r->backend_note, s->backend_note, sizeof r->backend_note);
    memcpy(r->device, s->device, sizeof r->device);
    memcpy(r->device_note, s->device_note, sizeof r->device_note);
}

nlsq_status batch_group_settle(const nlsq_group *g, nlsq_status st, nlsq_error *err)
{
    if (!g || g->size <= 1 || g->rank < 0 || g->rank >= g->size || !g->send || !g->recv || !g->bcast) return st;
    int lowest;
    if (group_agree(g, GROUP_TAG_BATCH, st != NLSQ_OK, &lowest) != 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "nlsq_fit_batch: a process of the group ended or could not be reached");
        return NLSQ_ERR_IO;
    }
    if (lowest < 0) return NLSQ_OK;
    struct {
        int status;
        char text[256];
    } m = {(int)st, ""};
    if (g->rank == lowest && err) memcpy(m.text, err->message, sizeof m.text);
    int lost = group_tell(g, lowest, (char *)&m, sizeof m) != 0;
    if (lost) m.status = NLSQ_ERR_IO;
    error_set(err, (nlsq_status)m.status, 0, 0, "process %d of %d: %s", lowest, g->size,
              lost ? "the group failed" : m.text);
    return (nlsq_status)m.status;
}

nlsq_status batch_over_group(const nlsq_model *model, const nlsq_batch *b, const nlsq_options *opt, unsigned outputs,
                             batch_fit_fn fit_share, nlsq_batch_result *r, nlsq_error *err)
{
    const nlsq_group *g = opt->group;
    nlsq_options local = *opt;
    local.group = NULL;
    size_t f0 = (size_t)((unsigned long long)b->nfits * (unsigned)g->rank / (unsigned)g->size);
    size_t f1 = (size_t)((unsigned long long)b->nfits * (unsigned)(g->rank + 1) / (unsigned)g->size);
    nlsq_batch sub;
    size_t *offsets;
    double *xcopy;
    nlsq_batch_result *mine = NULL;
    nlsq_status st = sub_batch(model, b, f0, f1, &sub, &offsets, &xcopy) != 0
                         ? NLSQ_ERR_NOMEM
                         : fit_share(model, &sub, &local, outputs, &mine, err);
    free(offsets);
    free(xcopy);
    if (st == NLSQ_ERR_NOMEM && err && !err->message[0])
        error_set(err, st, 0, 0, "nlsq_fit_batch: out of memory for process %d's share", g->rank);
    /* every process learns whether every share ran, with the failing one's words */
    if ((st = batch_group_settle(g, st, err)) != NLSQ_OK) {
        nlsq_batch_result_free(mine);
        return st;
    }
    /* a share run on a GPU has no diagnostics: then the whole has none
       (NULL: not checked), rather than zeros that read as "trusted" */
    int no_diag;
    if (group_agree(g, GROUP_TAG_BATCH + 1, mine->diag_flags == NULL, &no_diag) != 0) {
        nlsq_batch_result_free(mine);
        error_set(err, NLSQ_ERR_IO, 0, 0, "nlsq_fit_batch: a process of the group ended or could not be reached");
        return NLSQ_ERR_IO;
    }
    if (no_diag >= 0) {
        free(r->diag_flags);
        r->diag_flags = NULL;
    }
    place(r, mine, f0);
    nlsq_batch_result_free(mine);
    for (int q = 0; q < g->size; q++) {
        size_t q0 = (size_t)((unsigned long long)b->nfits * (unsigned)q / (unsigned)g->size);
        size_t q1 = (size_t)((unsigned long long)b->nfits * (unsigned)(q + 1) / (unsigned)g->size);
        if (share_all(g, r, q, q0, q1) != 0) {
            error_set(err, NLSQ_ERR_IO, 0, 0, "nlsq_fit_batch: a process of the group ended while the results were shared");
            return NLSQ_ERR_IO;
        }
    }
    /* where the fits ran, as the last process says (its share is never
       empty when there are fits; process 0's is when there are fewer fits
       than processes, and it would report no backend): the same on every
       process */
    struct {
        int method, threads;
        char backend[sizeof r->backend], backend_note[sizeof r->backend_note], device[sizeof r->device],
            device_note[sizeof r->device_note];
    } where;
    memset(&where, 0, sizeof where);
    where.method = (int)r->method;
    where.threads = r->threads;
    memcpy(where.backend, r->backend, sizeof where.backend);
    memcpy(where.backend_note, r->backend_note, sizeof where.backend_note);
    memcpy(where.device, r->device, sizeof where.device);
    memcpy(where.device_note, r->device_note, sizeof where.device_note);
    if (g->bcast(g->ctx, g->size - 1, &where, sizeof where) != 0) {
        error_set(err, NLSQ_ERR_IO, 0, 0, "nlsq_fit_batch: a process of the group ended while the results were shared");
        return NLSQ_ERR_IO;
    }
    r->method = (nlsq_method)where.method;
    r->threads = where.threads;
    memcpy(r->backend, where.backend, sizeof r->backend);
    memcpy(r->backend_note, where.backend_note, sizeof r->backend_note);
    memcpy(r->device, where.device, sizeof r->device);
    memcpy(r->device_note, where.device_note, sizeof r->device_note);
    return NLSQ_OK;
}
