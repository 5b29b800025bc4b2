/*
 * Fits over a group of processes (nlsq_options.group), without MPI: the
 * group here is P threads of this process, each calling the library with
 * its own handle {rank, size, ctx, send, recv, bcast} over mailboxes (one
 * queue per sender, receiver and tag, under one mutex). Every fit over the
 * group must give every rank the single-process fit to the bit, for P = 1
 * .. 5 and data of one chunk, a few, more chunks than ranks and fewer (some
 * ranks then fold nothing); batches, the global search and the bootstrap
 * must too; checkpoints are written by rank 0 and resume on another P;
 * failures seen on one rank end the fit on all with the same words.
 *
 * Every wait of the mailboxes is bounded (20 s): a deadlock in the library's
 * group code fails the test instead of hanging it, and a message left
 * unread or read with the wrong size is a failure too.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "group_cases.h"

static char tmpdir[256];

/* ---- a group of threads --------------------------------------------------- */

typedef struct msg {
    struct msg *next;
    int from, to, tag;
    size_t bytes;
    unsigned char data[];
} msg;

enum { BCAST_TAG = -77 };

typedef struct hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg *head, *tail;
    int broken;    /* a wait timed out: every later call fails       */
    int bad_size;  /* a message read with another size than sent     */
    long messages; /* sent                                           */
} hub;

typedef struct port {
    hub *h;
    int rank;
} port;

static int hub_send(void *ctx, int to, int tag, const void *buf, size_t bytes)
{
    port *p = ctx;
    hub *h = p->h;
    msg *m = malloc(sizeof *m + (bytes ? bytes : 1));
    if (!m) return -1;
    *m = (msg){NULL, p->rank, to, tag, bytes};
    if (bytes) memcpy(m->data, buf, bytes);
    pthread_mutex_lock(&h->mu);
    int broken = h->broken;
    if (!broken) {
        if (h->tail)
            h->tail->next = m;
        else
            h->head = m;
        h->tail = m;
        h->messages++;
        pthread_cond_broadcast(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    if (broken) free(m);
    return broken ? -1 : 0;
}

static int hub_recv(void *ctx, int from, int tag, void *buf, size_t bytes)
{
    port *p = ctx;
    hub *h = p->h;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 20;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        msg *prev = NULL, *m = h->head;
        while (m && !(m->from == from && m->to == p->rank && m->tag == tag)) prev = m, m = m->next;
        if (m) {
            if (prev)
                prev->next = m->next;
            else
                h->head = m->next;
            if (h->tail == m) h->tail = prev;
            pthread_mutex_unlock(&h->mu);
            if (m->bytes != bytes) {
                __atomic_store_n(&h->bad_size, 1, __ATOMIC_SEQ_CST);
                printf("    rank %d: message from %d tag %d has %zu bytes, %zu expected\n", p->rank, from, tag,
                       m->bytes, bytes);
            }
            memcpy(buf, m->data, m->bytes < bytes ? m->bytes : bytes);
            free(m);
            return 0;
        }
        if (h->broken || pthread_cond_timedwait(&h->cv, &h->mu, &deadline) == ETIMEDOUT) {
            if (!h->broken) printf("    rank %d: waited 20 s for tag %d from rank %d\n", p->rank, tag, from);
            h->broken = 1;
            pthread_cond_broadcast(&h->cv);
            pthread_mutex_unlock(&h->mu);
            return -1;
        }
    }
}

/* Root's bytes to every rank through the mailboxes (in call order). */
static int hub_bcast(void *ctx, int root, void *buf, size_t bytes);

typedef struct rank_job rank_job;
typedef void (*rank_fn)(rank_job *job, void *arg);

struct rank_job {
    nlsq_group g;
    port port;
    rank_fn fn;
    void *arg;
    nlsq_status st;
    char msg[256];
    nlsq_result *res;
    nlsq_batch_result *batch;
    nlsq_bootstrap_result *boot;
    nlsq_shared_result *shared;
};

static int group_size_of(void *ctx);

static int hub_bcast(void *ctx, int root, void *buf, size_t bytes)
{
    port *p = ctx;
    if (p->rank != root) return hub_recv(ctx, root, BCAST_TAG, buf, bytes);
    int size = group_size_of(ctx);
    for (int to = 0; to < size; to++)
        if (to != root && hub_send(ctx, to, BCAST_TAG, buf, bytes) != 0) return -1;
    return 0;
}

/* The job a port belongs to (and so the group's size). */
static int group_size_of(void *ctx)
{
    const rank_job *j = (const rank_job *)((const char *)ctx - offsetof(rank_job, port));
    return j->g.size;
}

static void *rank_main(void *arg)
{
    rank_job *j = arg;
    j->fn(j, j->arg);
    return NULL;
}

/* fn on P threads, each with its own handle; jobs[0..P) get their
   results. The mailboxes must end empty and every size must match. */
static long run_group(int P, rank_fn fn, void *arg, rank_job *jobs)
{
    hub h;
    memset(&h, 0, sizeof h);
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    pthread_t t[8];
    for (int r = 0; r < P; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].port = (port){&h, r};
        jobs[r].g = (nlsq_group){r, P, &jobs[r].port, hub_send, hub_recv, hub_bcast};
        jobs[r].fn = fn;
        jobs[r].arg = arg;
    }
    for (int r = 0; r < P; r++) CHECK(pthread_create(&t[r], NULL, rank_main, &jobs[r]) == 0);
    for (int r = 0; r < P; r++) pthread_join(t[r], NULL);
    CHECK_MSG(!h.broken, "P=%d: a rank waited 20 s (a deadlock)", P);
    CHECK_MSG(!h.bad_size, "P=%d: a message was read with another size than sent", P);
    int left = 0;
    for (msg *m = h.head, *next; m; m = next) {
        next = m->next;
        if (left++ < 3) printf("    left unread: from %d to %d tag %d (%zu bytes)\n", m->from, m->to, m->tag, m->bytes);
        free(m);
    }
    CHECK_MSG(left == 0, "P=%d: %d messages left unread", P, left);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
    return h.messages;
}

static void free_jobs(rank_job *jobs, int P)
{
    for (int r = 0; r < P; r++) {
        nlsq_result_free(jobs[r].res);
        nlsq_batch_result_free(jobs[r].batch);
        nlsq_bootstrap_result_free(jobs[r].boot);
        nlsq_shared_result_free(jobs[r].shared);
    }
}

/* ---- one fit, with a group or alone ---------------------------------------- */

enum { VIA_ARRAYS, VIA_NPY, VIA_CURVE_FIT, VIA_PIECES };

typedef struct fcase {
    const char *what;
    const nlsq_model *model;
    const gc_data *d;
    int via;
    const char *npy;  /* VIA_NPY: the file */
    nlsq_options opt; /* group and threads set per rank */
    int mixed;        /* odd ranks run the compiled kernel, even ones the interpreter */
} fcase;

/* Where piece q starts: uneven cuts that fall inside chunks, rank 1's
   piece empty from three ranks on (it ends where it starts). */
static size_t piece_cut(size_t m, int P, int q)
{
    if (q <= 0) return 0;
    if (q >= P) return m;
    if (P >= 3 && q == 2) q = 1;
    size_t cut = (size_t)((double)m * q * q / ((double)P * P)) + 1234;
    return cut < m ? cut : m;
}

/* This rank's piece as a source of its own, then the whole through
   nlsq_source_from_pieces. */
static nlsq_status piece_source(const gc_data *d, const nlsq_group *g, nlsq_source **out, nlsq_error *e)
{
    size_t lo = piece_cut(d->m, g->size, g->rank), hi = piece_cut(d->m, g->size, g->rank + 1);
    const double *cols[3] = {d->x + lo, d->k > 1 ? d->x + d->m + lo : d->y + lo, d->y + lo};
    nlsq_source *piece = NULL;
    nlsq_status st = nlsq_source_from_arrays(cols, d->k + 1, hi - lo, &piece, e);
    if (st == NLSQ_OK && (st = nlsq_source_from_pieces(piece, g, out, e)) != NLSQ_OK) nlsq_source_free(piece);
    return st;
}

static nlsq_status fit_one(const fcase *c, const nlsq_group *g, int threads, nlsq_result **out, nlsq_error *e)
{
    nlsq_options o = c->opt;
    o.group = g;
    o.threads = threads;
    *out = NULL;
    if (c->via == VIA_CURVE_FIT) {
        nlsq_data data = {c->d->x, c->d->y, c->d->m, NULL, NLSQ_SIGMA_NONE};
        return nlsq_curve_fit(c->model, &data, &o, out, e);
    }
    nlsq_source *s = NULL;
    nlsq_status st = NLSQ_OK;
    if (c->via == VIA_PIECES && g && g->size > 1) {
        st = piece_source(c->d, g, &s, e);
    } else if (c->via == VIA_NPY)
        st = nlsq_source_open_npy(c->npy, &s, e);
    else if (!(s = gc_source(c->d, c->d->m)))
        st = NLSQ_ERR_NOMEM;
    if (st == NLSQ_OK) st = nlsq_fit_source(c->model, s, NULL, &o, out, e);
    nlsq_source_free(s);
    return st;
}

static void fit_rank(rank_job *j, void *arg)
{
    fcase c = *(const fcase *)arg;
    if (c.mixed) c.opt.backend = j->g.rank % 2 ? NLSQ_BACKEND_JIT : NLSQ_BACKEND_INTERP;
    nlsq_error e = {0};
    j->st = fit_one(&c, &j->g, 1 + j->g.rank % 2, &j->res, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

/* The case alone, then over groups of P = 1 .. maxP: every rank's result
   the same bits. */
static void compare_over_groups(const fcase *c, int maxP)
{
    nlsq_result *ref = NULL;
    nlsq_error e = {0};
    nlsq_status st = fit_one(c, NULL, 2, &ref, &e);
    CHECK_MSG(st == NLSQ_OK, "%s alone: %s", c->what, e.message);
    if (st != NLSQ_OK) return;
    CHECK_MSG(ref->status > 0, "%s alone: status %d", c->what, (int)ref->status);
    for (int P = 1; P <= maxP; P++) {
        rank_job jobs[8];
        long messages = run_group(P, fit_rank, (void *)c, jobs);
        CHECK_MSG(P == 1 || messages > 0, "%s: %d ranks sent no message", c->what, P);
        for (int r = 0; r < P; r++) {
            char why[256];
            CHECK_MSG(jobs[r].st == NLSQ_OK, "%s, rank %d of %d: %s", c->what, r, P, jobs[r].msg);
            if (jobs[r].st == NLSQ_OK && gc_differ(ref, jobs[r].res, why, sizeof why))
                CHECK_MSG(0, "%s, rank %d of %d: %s", c->what, r, P, why);
            if (jobs[r].st == NLSQ_OK && c->mixed && r % 2 && strcmp(jobs[r].res->backend, "jit") != 0)
                printf("    (rank %d ran %s: %s)\n", r, jobs[r].res->backend, jobs[r].res->backend_note);
        }
        free_jobs(jobs, P);
    }
    nlsq_result_free(ref);
}

static nlsq_model *model_of(int which)
{
    return gc_model(REFS[which].text, REFS[which].vars);
}

/* p0: the true values moved by 10% and 0.05 */
static void start_near(int which, double *p0)
{
    for (int j = 0; j < REFS[which].n; j++) p0[j] = REFS[which].p[j] * 1.1 + 0.05 * (j % 2 ? 1 : -1);
}

/* ---- the tests -------------------------------------------------------------- */

/* The decay model at each of `sizes` points, read `via` (arrays, or a
   piece per rank), over groups of 1 .. 5 ranks, then with keep_residuals
   (the residuals of every rank's share, to every rank) over 1 .. resid_P. */
static void decay_over_sizes(const char *label, int via, const size_t *sizes, size_t count, unsigned seed0,
                             int resid_P)
{
    nlsq_model *model = model_of(0);
    double p0[3];
    start_near(0, p0);
    for (size_t s = 0; s < count; s++) {
        gc_data d;
        CHECK(gc_make(model, REFS[0].p, sizes[s], seed0 + s, &d) == 0);
        char what[80];
        snprintf(what, sizeof what, "%s, %zu points", label, sizes[s]);
        fcase c = {what, model, &d, via, NULL, nlsq_options_default(), 0};
        c.opt.p0 = p0;
        compare_over_groups(&c, 5);
        snprintf(what, sizeof what, "%s, %zu points, keep_residuals", label, sizes[s]);
        c.opt.keep_residuals = 1;
        compare_over_groups(&c, resid_P);
        gc_free(&d);
    }
    nlsq_model_free(model);
}

/* One chunk, a few, more chunks than ranks (8 of 16384 points), and
   fewer than ranks (2 chunks for 3 .. 5 ranks: ranks without rows). */
static void group_sizes_and_chunk_counts(void)
{
    static const size_t sizes[] = {1000, 20000, 3 * 16384 + 7, 8 * 16384 - 3};
    decay_over_sizes("decay", VIA_ARRAYS, sizes, sizeof sizes / sizeof *sizes, 1, 5);
}

/* Data in pieces, a piece per rank (nlsq_source_from_pieces): cuts inside
   chunks, an empty piece, pieces smaller than a chunk, and more chunks
   than ranks; the whole's fit bitwise on every rank. */
static void pieces_over_groups(void)
{
    static const size_t sizes[] = {3000, 2 * 16384 + 5, 6 * 16384 + 4321};
    decay_over_sizes("pieces", VIA_PIECES, sizes, sizeof sizes / sizeof *sizes, 11, 4);
}

/* The four reference models, on arrays, with nlsq_curve_fit, and from a
   mapped .npy file. */
static void reference_models(void)
{
    for (int w = 0; w < 4; w++) {
        nlsq_model *model = model_of(w);
        double p0[10];
        start_near(w, p0);
        gc_data d;
        CHECK(gc_make(model, REFS[w].p, 3 * 16384 + 100, 10 + (unsigned)w, &d) == 0);
        char path[300], what[120];
        snprintf(path, sizeof path, "%s/ref%d.npy", tmpdir, w);
        CHECK(gc_write_npy(path, &d) == 0);
        for (int via = VIA_ARRAYS; via <= VIA_CURVE_FIT; via++) {
            snprintf(what, sizeof what, "%s via %s", REFS[w].name,
                     via == VIA_ARRAYS ? "arrays"
                     : via == VIA_NPY  ? ".npy"
                                       : "nlsq_curve_fit");
            fcase c = {what, model, &d, via, path, nlsq_options_default(), 0};
            c.opt.p0 = p0;
            compare_over_groups(&c, via == VIA_ARRAYS ? 5 : 3);
        }
        gc_free(&d);
        nlsq_model_free(model);
    }
}

/* The solver's and the data's options: bounds with trf and dogbox, lm,
   a robust loss, nan_policy omit, keep_residuals (equal residuals). */
static void options_over_groups(void)
{
    nlsq_model *model = model_of(1);
    double p0[5], lo[5] = {0, -1, 0.1, -1, -1}, hi[5] = {10, 1, 0.75, 1, 1};
    start_near(1, p0);
    p0[2] = 0.5;
    gc_data d;
    CHECK(gc_make(model, REFS[1].p, 5 * 16384 + 11, 21, &d) == 0);
    for (int k = 0; k < 7; k++) {
        fcase c = {"", model, &d, VIA_ARRAYS, NULL, nlsq_options_default(), 0};
        c.opt.p0 = p0;
        switch (k) {
        case 0: c.what = "trf with bounds", c.opt.method = NLSQ_TRF, c.opt.lower = lo, c.opt.upper = hi; break;
        case 1: c.what = "dogbox with bounds", c.opt.method = NLSQ_DOGBOX, c.opt.lower = lo, c.opt.upper = hi; break;
        case 2: c.what = "lm", c.opt.method = NLSQ_LM; break;
        case 3: c.what = "soft_l1 loss", c.opt.loss = NLSQ_LOSS_SOFT_L1, c.opt.f_scale = 0.05; break;
        case 4: c.what = "cauchy loss, trf", c.opt.loss = NLSQ_LOSS_CAUCHY, c.opt.method = NLSQ_TRF; break;
        case 5: c.what = "keep_residuals", c.opt.keep_residuals = 1; break;
        case 6:
            c.what = "keep_residuals, curve_fit, lm";
            c.opt.keep_residuals = 1;
            c.via = VIA_CURVE_FIT;
            c.opt.method = NLSQ_LM;
            break;
        }
        compare_over_groups(&c, k < 5 ? 3 : 4);
    }
    /* ranks on different backends (the compiled kernel is the
       interpreter's arithmetic) */
    fcase mixed = {"compiled kernel on odd ranks", model, &d, VIA_ARRAYS, NULL, nlsq_options_default(), 1};
    mixed.opt.p0 = p0;
    compare_over_groups(&mixed, 3);
    /* NaN rows omitted, in different ranks' shares */
    size_t holes[] = {3, 16384, 40000, d.m - 1};
    for (size_t h = 0; h < 4; h++) d.y[holes[h]] = NAN;
    fcase c = {"nan_policy omit", model, &d, VIA_ARRAYS, NULL, nlsq_options_default(), 0};
    c.opt.p0 = p0;
    c.opt.nan_policy = NLSQ_NAN_OMIT;
    c.opt.keep_residuals = 1;
    compare_over_groups(&c, 4);
    gc_free(&d);
    nlsq_model_free(model);
}

/* ---- the global search ---- */

typedef struct global_case {
    const nlsq_model *model;
    const gc_data *d;
    const double *lo, *hi;
} global_case;

static nlsq_status global_one(const global_case *gc, const nlsq_group *g, nlsq_result **out, nlsq_error *e)
{
    nlsq_options o = nlsq_options_default();
    o.group = g;
    o.threads = 1;
    o.lower = gc->lo;
    o.upper = gc->hi;
    nlsq_global_options go = nlsq_global_options_default();
    go.starts = 6;
    go.seed = 3;
    nlsq_data data = {gc->d->x, gc->d->y, gc->d->m, NULL, NLSQ_SIGMA_NONE};
    return nlsq_fit_global(gc->model, &data, &o, &go, out, e);
}

static void global_rank(rank_job *j, void *arg)
{
    nlsq_error e = {0};
    j->st = global_one(arg, &j->g, &j->res, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static void global_search_over_groups(void)
{
    nlsq_model *model = model_of(0);
    gc_data d;
    CHECK(gc_make(model, REFS[0].p, 2 * 16384 + 5, 31, &d) == 0);
    double lo[3] = {0, 0, -2}, hi[3] = {5, 4, 2};
    global_case gc = {model, &d, lo, hi};
    nlsq_result *ref = NULL;
    nlsq_error e = {0};
    CHECK_MSG(global_one(&gc, NULL, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
    for (int P = 2; P <= 4 && ref; P++) {
        rank_job jobs[8];
        run_group(P, global_rank, &gc, jobs);
        for (int r = 0; r < P; r++) {
            char why[256];
            CHECK_MSG(jobs[r].st == NLSQ_OK, "global, rank %d of %d: %s", r, P, jobs[r].msg);
            if (jobs[r].st != NLSQ_OK) continue;
            if (gc_differ(ref, jobs[r].res, why, sizeof why)) CHECK_MSG(0, "global, rank %d of %d: %s", r, P, why);
            const nlsq_global_summary *a = ref->global, *b = jobs[r].res->global;
            CHECK(a && b);
            if (a && b) {
                CHECK(a->n_minima == b->n_minima && a->starts == b->starts && a->at_best == b->at_best);
                CHECK(a->n_minima != b->n_minima ||
                      memcmp(a->minima_cost, b->minima_cost, (size_t)a->n_minima * sizeof(double)) == 0);
            }
        }
        free_jobs(jobs, P);
    }
    nlsq_result_free(ref);
    gc_free(&d);
    nlsq_model_free(model);
}

/* ---- batches and the bootstrap ---- */

typedef struct batch_case {
    const nlsq_model *model;
    const nlsq_batch *b;
} batch_case;

static void batch_rank(rank_job *j, void *arg)
{
    const batch_case *bc = arg;
    nlsq_error e = {0};
    nlsq_options o = nlsq_options_default();
    o.group = &j->g;
    o.threads = 1;
    j->st = nlsq_fit_batch(bc->model, bc->b, &o, NLSQ_BATCH_PCOV, &j->batch, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static void batch_over_groups(void)
{
    nlsq_model *model = gc_model(gc_batch_model_text(), "x,y");
    static const size_t counts[] = {3, 23};
    for (int k = 0; k < 2; k++) {
        gc_batch gb;
        CHECK(gc_batch_make(counts[k], &gb) == 0);
        nlsq_batch_result *ref = NULL;
        nlsq_error e = {0};
        nlsq_options o = nlsq_options_default();
        o.threads = 2;
        CHECK_MSG(nlsq_fit_batch(model, &gb.b, &o, NLSQ_BATCH_PCOV, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
        CHECK(ref && ref->converged >= counts[k] / 2);
        batch_case bc = {model, &gb.b};
        for (int P = 2; P <= 5 && ref; P++) {
            rank_job jobs[8];
            run_group(P, batch_rank, &bc, jobs);
            for (int r = 0; r < P; r++) {
                char why[256];
                CHECK_MSG(jobs[r].st == NLSQ_OK, "batch of %zu, rank %d of %d: %s", counts[k], r, P, jobs[r].msg);
                if (jobs[r].st == NLSQ_OK && gc_batch_differ(ref, jobs[r].batch, why, sizeof why))
                    CHECK_MSG(0, "batch of %zu, rank %d of %d: %s", counts[k], r, P, why);
            }
            free_jobs(jobs, P);
        }
        nlsq_batch_result_free(ref);
        gc_batch_free(&gb);
    }
    nlsq_model_free(model);
}

typedef struct boot_case {
    const nlsq_model *model;
    const nlsq_data *data;
    const nlsq_result *fit;
} boot_case;

static nlsq_status boot_one(const boot_case *bc, const nlsq_group *g, nlsq_bootstrap_result **out, nlsq_error *e)
{
    nlsq_options o = nlsq_options_default();
    o.group = g;
    o.threads = 1;
    nlsq_bootstrap_options bo = nlsq_bootstrap_options_default();
    bo.replicas = 40;
    bo.seed = 5;
    return nlsq_bootstrap(bc->model, bc->data, &o, bc->fit, &bo, out, e);
}

static void boot_rank(rank_job *j, void *arg)
{
    nlsq_error e = {0};
    j->st = boot_one(arg, &j->g, &j->boot, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static void bootstrap_over_groups(void)
{
    nlsq_model *model = model_of(0);
    gc_data d;
    CHECK(gc_make(model, REFS[0].p, 60, 41, &d) == 0);
    nlsq_data data = {d.x, d.y, d.m, NULL, NLSQ_SIGMA_NONE};
    nlsq_result *fit = NULL;
    nlsq_error e = {0};
    CHECK_MSG(nlsq_curve_fit(model, &data, NULL, &fit, &e) == NLSQ_OK, "%s", e.message);
    boot_case bc = {model, &data, fit};
    nlsq_bootstrap_result *ref = NULL;
    CHECK_MSG(fit && boot_one(&bc, NULL, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
    CHECK(!ref || ref->jackknife == NLSQ_JACKKNIFE_EXACT);
    for (int P = 2; P <= 3 && ref; P++) {
        rank_job jobs[8];
        run_group(P, boot_rank, &bc, jobs);
        for (int r = 0; r < P; r++) {
            char why[256];
            CHECK_MSG(jobs[r].st == NLSQ_OK, "bootstrap, rank %d of %d: %s", r, P, jobs[r].msg);
            if (jobs[r].st == NLSQ_OK && gc_boot_differ(ref, jobs[r].boot, why, sizeof why))
                CHECK_MSG(0, "bootstrap, rank %d of %d: %s", r, P, why);
        }
        free_jobs(jobs, P);
    }
    nlsq_bootstrap_result_free(ref);
    nlsq_result_free(fit);
    gc_free(&d);
    nlsq_model_free(model);
}

/* ---- checkpoints ---- */

typedef struct ckpt_case {
    fcase c;
    const char *path; /* rank 0's file                                   */
    int stop_after;   /* > 0: the callback stops the fit after it        */
} ckpt_case;

static int stop_at(void *user, int iteration, double cost, const double *params, double g, double s)
{
    (void)cost, (void)params, (void)g, (void)s;
    return iteration >= *(const int *)user;
}

/* Rank 0 names the checkpoint; the others name a file of their own, which
   must never appear (process 0 alone writes). */
static void ckpt_rank(rank_job *j, void *arg)
{
    const ckpt_case *k = arg;
    fcase c = k->c;
    char other[320];
    snprintf(other, sizeof other, "%s.rank%d", k->path, j->g.rank);
    c.opt.checkpoint = j->g.rank == 0 ? k->path : other;
    if (k->stop_after > 0) {
        c.opt.callback = stop_at;
        c.opt.callback_data = (void *)&k->stop_after;
    }
    nlsq_error e = {0};
    j->st = fit_one(&c, &j->g, 1, &j->res, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static void checkpoint_resume_on_other_group(void)
{
    nlsq_model *model = model_of(1);
    double p0[5];
    start_near(1, p0);
    gc_data d;
    CHECK(gc_make(model, REFS[1].p, 4 * 16384 + 3, 51, &d) == 0);
    char path[280];
    snprintf(path, sizeof path, "%s/fit.ckpt", tmpdir);
    ckpt_case k = {{"checkpoint", model, &d, VIA_ARRAYS, NULL, nlsq_options_default(), 0}, path, 3};
    k.c.opt.p0 = p0;
    nlsq_result *ref = NULL;
    nlsq_error e = {0};
    CHECK_MSG(fit_one(&k.c, NULL, 2, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
    CHECK(!ref || ref->nit > 4);
    /* written by 2 ranks, stopped after 3 iterations */
    rank_job jobs[8];
    run_group(2, ckpt_rank, &k, jobs);
    for (int r = 0; r < 2; r++) {
        CHECK_MSG(jobs[r].st == NLSQ_OK, "rank %d: %s", r, jobs[r].msg);
        CHECK_MSG(!jobs[r].res || jobs[r].res->status == NLSQ_FIT_STOPPED, "rank %d: status %d", r,
                  jobs[r].res ? (int)jobs[r].res->status : 99);
    }
    free_jobs(jobs, 2);
    struct stat sb;
    char other[320];
    snprintf(other, sizeof other, "%s.rank1", path);
    CHECK_MSG(stat(path, &sb) == 0 && sb.st_size > 0, "rank 0 wrote no checkpoint");
    CHECK_MSG(stat(other, &sb) != 0, "rank 1 wrote a checkpoint");
    /* resumed by 3 ranks: the uninterrupted single-process fit's bits */
    k.c.opt.resume = 1;
    k.stop_after = 0;
    run_group(3, ckpt_rank, &k, jobs);
    for (int r = 0; r < 3; r++) {
        char why[256];
        CHECK_MSG(jobs[r].st == NLSQ_OK, "resume, rank %d of 3: %s", r, jobs[r].msg);
        if (jobs[r].st != NLSQ_OK) continue;
        CHECK_MSG(jobs[r].res->resumed_evaluations > 0, "rank %d resumed %d evaluations", r,
                  jobs[r].res->resumed_evaluations);
        if (ref && gc_differ(ref, jobs[r].res, why, sizeof why)) CHECK_MSG(0, "resume, rank %d of 3: %s", r, why);
    }
    free_jobs(jobs, 3);
    for (int r = 1; r < 3; r++) {
        snprintf(other, sizeof other, "%s.rank%d", path, r);
        CHECK_MSG(stat(other, &sb) != 0, "rank %d wrote a checkpoint", r);
    }
    /* a checkpoint path process 0 refuses (a directory): every rank
       fails with its words, none waits for it */
    k.c.opt.resume = 0;
    k.path = tmpdir;
    fcase alone = k.c;
    alone.opt.checkpoint = tmpdir;
    nlsq_result *none = NULL;
    nlsq_status refused = fit_one(&alone, NULL, 1, &none, &e);
    CHECK_MSG(refused != NLSQ_OK && !none, "alone: a directory as checkpoint gave %d", (int)refused);
    run_group(3, ckpt_rank, &k, jobs);
    CHECK_MSG(jobs[0].st == refused && strcmp(jobs[0].msg, e.message) == 0, "refused checkpoint: \"%s\", alone \"%s\"",
              jobs[0].msg, e.message);
    for (int r = 0; r < 3; r++) {
        CHECK_MSG(jobs[r].st != NLSQ_OK && jobs[r].st == jobs[0].st && strcmp(jobs[r].msg, jobs[0].msg) == 0,
                  "a refused checkpoint, rank %d of 3: status %d \"%s\", rank 0 %d \"%s\"", r, (int)jobs[r].st,
                  jobs[r].msg, (int)jobs[0].st, jobs[0].msg);
    }
    free_jobs(jobs, 3);
    nlsq_result_free(ref);
    gc_free(&d);
    nlsq_model_free(model);
}

/* ---- a stop asked for by one rank ---- */

static void stop_rank(rank_job *j, void *arg)
{
    const ckpt_case *k = arg;
    fcase c = k->c;
    if (j->g.rank == j->g.size - 1) { /* the last rank alone asks */
        c.opt.callback = stop_at;
        c.opt.callback_data = (void *)&k->stop_after;
    }
    nlsq_error e = {0};
    j->st = fit_one(&c, &j->g, 1, &j->res, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static int progress_calls[8];

static int count_progress(void *user, const nlsq_progress *pr)
{
    (void)pr;
    ((int *)user)[0]++;
    return 0;
}

/* progress shown by rank 0 alone, as a front end prints on rank 0 */
static void progress_rank(rank_job *j, void *arg)
{
    fcase c = *(const fcase *)arg;
    if (j->g.rank == 0) {
        c.opt.progress = count_progress;
        c.opt.progress_data = &progress_calls[j->g.size];
    }
    nlsq_error e = {0};
    j->st = fit_one(&c, &j->g, 1, &j->res, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static void one_rank_stops_every_rank(void)
{
    nlsq_model *model = model_of(0);
    double p0[3];
    start_near(0, p0);
    gc_data d;
    CHECK(gc_make(model, REFS[0].p, 3 * 16384, 81, &d) == 0);
    ckpt_case k = {{"stop", model, &d, VIA_ARRAYS, NULL, nlsq_options_default(), 0}, NULL, 2};
    k.c.opt.p0 = p0;
    fcase alone = k.c;
    alone.opt.callback = stop_at;
    alone.opt.callback_data = &k.stop_after;
    nlsq_result *ref = NULL;
    nlsq_error e = {0};
    CHECK_MSG(fit_one(&alone, NULL, 2, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
    CHECK(!ref || ref->status == NLSQ_FIT_STOPPED);
    for (int P = 2; P <= 3 && ref; P++) {
        rank_job jobs[8];
        run_group(P, stop_rank, &k, jobs);
        for (int r = 0; r < P; r++) {
            char why[256];
            CHECK_MSG(jobs[r].st == NLSQ_OK, "stop, rank %d of %d: %s", r, P, jobs[r].msg);
            if (jobs[r].st == NLSQ_OK && gc_differ(ref, jobs[r].res, why, sizeof why))
                CHECK_MSG(0, "stop, rank %d of %d: %s", r, P, why);
        }
        free_jobs(jobs, P);
    }
    nlsq_result_free(ref);
    ref = NULL;
    CHECK_MSG(fit_one(&k.c, NULL, 2, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
    for (int P = 2; P <= 3 && ref; P++) {
        rank_job jobs[8];
        run_group(P, progress_rank, &k.c, jobs);
        CHECK_MSG(progress_calls[P] > 0, "rank 0 of %d: no progress call", P);
        for (int r = 0; r < P; r++) {
            char why[256];
            CHECK_MSG(jobs[r].st == NLSQ_OK, "progress on rank 0, rank %d of %d: %s", r, P, jobs[r].msg);
            if (jobs[r].st == NLSQ_OK && gc_differ(ref, jobs[r].res, why, sizeof why))
                CHECK_MSG(0, "progress on rank 0, rank %d of %d: %s", r, P, why);
        }
        free_jobs(jobs, P);
    }
    nlsq_result_free(ref);
    gc_free(&d);
    nlsq_model_free(model);
}

/* ---- failures ---- */

/* Every rank must fail with the same status and words. */
static void check_same_failure(rank_job *jobs, int P, nlsq_status want, const char *must_hold, const char *what)
{
    for (int r = 0; r < P; r++) {
        CHECK_MSG(jobs[r].st == want, "%s: rank %d of %d: status %d, want %d (%s)", what, r, P, (int)jobs[r].st,
                  (int)want, jobs[r].msg);
        CHECK_MSG(strcmp(jobs[r].msg, jobs[0].msg) == 0, "%s: rank %d says \"%s\", rank 0 \"%s\"", what, r, jobs[r].msg,
                  jobs[0].msg);
        CHECK_MSG(!must_hold || strstr(jobs[r].msg, must_hold), "%s: rank %d says \"%s\", without \"%s\"", what, r,
                  jobs[r].msg, must_hold);
        CHECK(jobs[r].res == NULL);
    }
}

typedef struct fill_case {
    const gc_data *d;
    size_t bad_row; /* the fill of a window holding it fails ...      */
    int from_read;  /* ... from its from_read-th read on (0: always)  */
    int reads;
} fill_case;

static int fill_rows(void *user, size_t first, size_t count, double *const *cols)
{
    fill_case *f = user;
    if (f->bad_row >= first && f->bad_row < first + count && ++f->reads >= f->from_read) return 5;
    if (cols[0]) memcpy(cols[0], f->d->x + first, count * sizeof(double));
    if (cols[1]) memcpy(cols[1], f->d->y + first, count * sizeof(double));
    return 0;
}

typedef struct fail_case {
    const nlsq_model *model;
    const gc_data *d;
    const double *p0;
    size_t rows;    /* rows of every rank's source                    */
    size_t bad_row; /* callback source: the fill fails there          */
    int from_read;  /* ... from its from_read-th read of that row      */
    int extra_rank; /* >= 0: this rank's source has one row more      */
    nlsq_nan_policy nan;
    const char *device; /* opt.device, or NULL */
} fail_case;

static nlsq_status fail_one(const fail_case *f, const nlsq_group *g, nlsq_result **out, nlsq_error *e)
{
    nlsq_options o = nlsq_options_default();
    o.group = g;
    o.threads = 1;
    o.p0 = f->p0;
    o.nan_policy = f->nan;
    o.device = f->device;
    fill_case fc = {f->d, f->bad_row, f->from_read, 0};
    nlsq_source *s = NULL;
    nlsq_status st;
    if (f->bad_row != SIZE_MAX)
        st = nlsq_source_from_callback(2, f->rows, fill_rows, &fc, 0, &s, e);
    else if (!(s = gc_source(f->d, f->rows + (g && g->rank == f->extra_rank))))
        st = NLSQ_ERR_NOMEM;
    else
        st = NLSQ_OK;
    if (st == NLSQ_OK) st = nlsq_fit_source(f->model, s, NULL, &o, out, e);
    nlsq_source_free(s);
    return st;
}

static void fail_rank(rank_job *j, void *arg)
{
    nlsq_error e = {0};
    j->st = fail_one(arg, &j->g, &j->res, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static void failures_agreed_by_every_rank(void)
{
    nlsq_model *model = model_of(0);
    double p0[3];
    start_near(0, p0);
    gc_data d;
    size_t m = 6 * 16384;
    CHECK(gc_make(model, REFS[0].p, m + 1, 61, &d) == 0); /* a row to spare */
    rank_job jobs[8];
    nlsq_error e = {0};
    nlsq_result *res = NULL;

    /* a read that fails on the rank owning row 3*16384+5 (rank 1 of 3:
       chunks 2 and 3): every rank fails with its words */
    fail_case f = {model, &d, p0, m, 3 * 16384 + 5, 0, -1, NLSQ_NAN_RAISE, NULL};
    nlsq_status alone = fail_one(&f, NULL, &res, &e);
    CHECK_MSG(alone != NLSQ_OK && res == NULL, "alone: a failing read gave status %d", (int)alone);
    char single[256];
    snprintf(single, sizeof single, "%s", e.message);
    run_group(3, fail_rank, &f, jobs);
    check_same_failure(jobs, 3, alone, "nlsq_fit_source: process 1 of 3: ", "failed read");
    /* "nlsq_fit_source: process 1 of 3: " and the single process's words */
    const char *own = strstr(single, ": ") ? strstr(single, ": ") + 2 : single;
    CHECK_MSG(strstr(jobs[0].msg, own) != NULL, "failed read: \"%s\" lacks the process's own words \"%s\"", jobs[0].msg,
              own);
    free_jobs(jobs, 3);

    /* the same read failing in the fit's fourth pass, not its first */
    f.from_read = 4;
    alone = fail_one(&f, NULL, &res, &e);
    CHECK_MSG(alone != NLSQ_OK && res == NULL, "alone: a read failing in pass 4 gave status %d", (int)alone);
    run_group(3, fail_rank, &f, jobs);
    check_same_failure(jobs, 3, alone, "process 1 of 3", "read failing in pass 4");
    free_jobs(jobs, 3);
    f.from_read = 0;

    /* NaN in y with nan_policy raise, in rank 2 of 3's share: the
       single-process message, word for word, on every rank */
    f.bad_row = SIZE_MAX;
    f.extra_rank = -1;
    double keep = d.y[5 * 16384 + 9];
    d.y[5 * 16384 + 9] = NAN;
    alone = fail_one(&f, NULL, &res, &e);
    CHECK_MSG(alone == NLSQ_ERR_DATA, "alone: NaN gave status %d (%s)", (int)alone, e.message);
    snprintf(single, sizeof single, "%s", e.message);
    for (int P = 2; P <= 4; P++) {
        run_group(P, fail_rank, &f, jobs);
        check_same_failure(jobs, P, alone, NULL, "NaN in y");
        CHECK_MSG(strcmp(jobs[0].msg, single) == 0, "NaN in y, %d ranks: \"%s\", alone \"%s\"", P, jobs[0].msg, single);
        free_jobs(jobs, P);
    }
    d.y[5 * 16384 + 9] = keep;

    /* rank 2 of 3 sees one row more than the others */
    f.extra_rank = 2;
    run_group(3, fail_rank, &f, jobs);
    check_same_failure(jobs, 3, NLSQ_ERR_DATA, "nlsq_fit_source: process 2 of 3: ", "row counts");
    CHECK_MSG(strstr(jobs[0].msg, "rows") != NULL, "row counts: \"%s\" does not say rows", jobs[0].msg);
    free_jobs(jobs, 3);

    /* a GPU asked for by name: a group runs on the CPU, every rank says so */
    f.extra_rank = -1;
    f.device = "cuda:0";
    run_group(2, fail_rank, &f, jobs);
    check_same_failure(jobs, 2, NLSQ_ERR_INVALID_ARGUMENT, "runs on the CPU", "cuda in a group");
    free_jobs(jobs, 2);
    gc_free(&d);
    nlsq_model_free(model);
}

static int no_send(void *ctx, int to, int tag, const void *buf, size_t bytes)
{
    (void)ctx, (void)to, (void)tag, (void)buf, (void)bytes;
    return -1;
}

static int no_recv(void *ctx, int from, int tag, void *buf, size_t bytes)
{
    (void)ctx, (void)from, (void)tag, (void)buf, (void)bytes;
    return -1;
}

static int no_bcast(void *ctx, int root, void *buf, size_t bytes)
{
    (void)ctx, (void)root, (void)buf, (void)bytes;
    return -1;
}

/* rank >= size, a negative rank, size 0 or a missing call: refused by every
   entry point before any message. */
static void invalid_groups_refused(void)
{
    nlsq_model *model = model_of(0);
    gc_data d;
    CHECK(gc_make(model, REFS[0].p, 200, 71, &d) == 0);
    nlsq_source *s = gc_source(&d, d.m);
    gc_batch gb;
    CHECK(gc_batch_make(4, &gb) == 0);
    nlsq_model *bm = gc_model(gc_batch_model_text(), "x,y");
    const nlsq_group bad[] = {{2, 2, NULL, no_send, no_recv, no_bcast},
                              {-1, 2, NULL, no_send, no_recv, no_bcast},
                              {0, 0, NULL, no_send, no_recv, no_bcast},
                              {1, 3, NULL, no_send, NULL, no_bcast}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        nlsq_options o = nlsq_options_default();
        o.group = &bad[k];
        nlsq_error e = {0};
        nlsq_result *r = NULL;
        nlsq_status st = nlsq_fit_source(model, s, NULL, &o, &r, &e);
        CHECK_MSG(st == NLSQ_ERR_INVALID_ARGUMENT && !r, "group %zu: fit_source gave %d (%s)", k, (int)st, e.message);
        CHECK_MSG(strstr(e.message, "group") != NULL, "group %zu: \"%s\"", k, e.message);
        nlsq_data data = {d.x, d.y, d.m, NULL, NLSQ_SIGMA_NONE};
        st = nlsq_curve_fit(model, &data, &o, &r, &e);
        CHECK_MSG(st == NLSQ_ERR_INVALID_ARGUMENT && !r, "group %zu: curve_fit gave %d (%s)", k, (int)st, e.message);
        nlsq_batch_result *br = NULL;
        st = nlsq_fit_batch(bm, &gb.b, &o, 0, &br, &e);
        CHECK_MSG(st == NLSQ_ERR_INVALID_ARGUMENT && !br, "group %zu: fit_batch gave %d (%s)", k, (int)st, e.message);
        nlsq_batch_result_free(br);
        st = nlsq_fit_global(model, &data, &o, NULL, &r, &e);
        CHECK_MSG(st == NLSQ_ERR_INVALID_ARGUMENT && !r, "group %zu: fit_global gave %d (%s)", k, (int)st, e.message);
        nlsq_result_free(r);
    }
    nlsq_model_free(bm);
    gc_batch_free(&gb);
    nlsq_source_free(s);
    gc_free(&d);
    nlsq_model_free(model);
}

static void remove_tmpdir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* ---- shared-parameter fits ------------------------------------------------ */

typedef struct shared_case {
    const nlsq_model *model;
    const nlsq_shared *sp;
    nlsq_method method;
} shared_case;

static nlsq_status shared_one(const shared_case *sc, const nlsq_group *g, int threads, nlsq_shared_result **out,
                              nlsq_error *e)
{
    nlsq_options o = nlsq_options_default();
    static const double p0[5] = {1, 0, 0, 1, 2000};
    o.p0 = p0;
    o.method = sc->method;
    o.group = g;
    o.threads = threads;
    return nlsq_fit_shared(sc->model, sc->sp, &o, NLSQ_BATCH_PCOV, out, e);
}

static void shared_rank(rank_job *j, void *arg)
{
    nlsq_error e = {0};
    j->st = shared_one(arg, &j->g, 1 + j->g.rank % 2, &j->shared, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static int shared_differ(const nlsq_shared_result *a, const nlsq_shared_result *b)
{
    size_t D = a->nsets, n = (size_t)a->n;
    return a->status != b->status || a->nfev != b->nfev || memcmp(&a->cost, &b->cost, sizeof a->cost) ||
           memcmp(a->popt, b->popt, D * n * sizeof *a->popt) || memcmp(a->pcov, b->pcov, D * n * n * sizeof *a->pcov) ||
           memcmp(a->cost_set, b->cost_set, D * sizeof *a->cost_set);
}

/* The Arrhenius decays of the shared-fit cases: x, T; a, c, d local. */
static nlsq_model *arrhenius_model(void)
{
    nlsq_model_options mo = nlsq_model_options_default();
    mo.vars = "x,T";
    mo.params = "a,c,d,k0,Ea";
    nlsq_model *model = NULL;
    nlsq_error e = {0};
    CHECK_MSG(nlsq_model_parse("a*exp(-k0*exp(-Ea*(1/T-1/300))*x) + c + d*x", &mo, &model, &e) == NLSQ_OK, "%s",
              e.message);
    return model;
}

/* Data sets of decays sharing an Arrhenius rate, spread over groups of
   2 .. 5 (more ranks than sets too): every rank the alone fit's bits. */
static void shared_over_groups(void)
{
    nlsq_model *model = arrhenius_model();
    nlsq_error e = {0};
    enum { SETS = 7, PTS = 40 };
    static double x[2 * SETS * PTS], y[SETS * PTS];
    unsigned seed = 11;
    for (int d = 0; d < SETS; d++) {
        double T = 280 + 10 * d, k = 1.3 * exp(-2500 * (1 / T - 1.0 / 300)), a = 1 + 0.3 * d;
        for (int i = 0; i < PTS; i++) {
            size_t r = (size_t)d * PTS + (size_t)i;
            x[r] = 5.0 * i / (PTS - 1);
            x[SETS * PTS + r] = T;
            seed = seed * 1103515245u + 12345u;
            y[r] = a * exp(-k * x[r]) + 0.1 - 0.01 * x[r] + 0.01 * (((seed >> 8) & 0xffff) / 65536.0 - 0.5);
        }
    }
    static const unsigned char shared[5] = {0, 0, 0, 1, 1}, covariate[2] = {0, 1};
    static const size_t nsets[2] = {SETS, 3};
    for (int t = 0; t < 4 && model; t++) {
        nlsq_shared sp = nlsq_shared_default();
        sp.data.nfits = nsets[t % 2];
        sp.data.m = PTS;
        sp.data.x = x;
        sp.data.y = y;
        sp.shared = shared;
        sp.covariate = covariate;
        if (t % 2) { /* three sets: the x rows are as long as theirs */
            static double x3[2 * 3 * PTS];
            memcpy(x3, x, 3 * PTS * sizeof *x);
            memcpy(x3 + 3 * PTS, x + SETS * PTS, 3 * PTS * sizeof *x);
            sp.data.x = x3;
        }
        shared_case sc = {model, &sp, t < 2 ? NLSQ_TRF : NLSQ_LM};
        nlsq_shared_result *ref = NULL;
        CHECK_MSG(shared_one(&sc, NULL, 2, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
        CHECK(ref && ref->status > 0 && fabs(ref->popt[4] - 2500) < 200);
        for (int P = 2; P <= 5 && ref; P++) {
            rank_job jobs[8];
            run_group(P, shared_rank, &sc, jobs);
            for (int r = 0; r < P; r++) {
                CHECK_MSG(jobs[r].st == NLSQ_OK, "shared fit of %zu sets, rank %d of %d: %s", sp.data.nfits, r, P,
                          jobs[r].msg);
                if (jobs[r].st == NLSQ_OK)
                    CHECK_MSG(!shared_differ(ref, jobs[r].shared), "shared fit of %zu sets (%s), rank %d of %d: not "
                              "the alone fit's bits", sp.data.nfits, t < 2 ? "trf" : "lm", r, P);
            }
            free_jobs(jobs, P);
        }
        nlsq_shared_result_free(ref);
    }
    nlsq_model_free(model);
}

/* One process's failure, a start that differs, a stop asked on one
   process: every process ends the same way, with the same words. */
typedef struct shared_fault {
    const shared_case *sc;
    int kind; /* 0: rank 1 without shared flags; 1: rank 2's p0 differs; 2: rank 0 stops;
                 3: rank 2's x_scale differs */
} shared_fault;

static int stop_now(void *user, const nlsq_progress *p)
{
    (void)user;
    return p->iteration >= 2;
}

static void shared_fault_rank(rank_job *j, void *arg)
{
    const shared_fault *f = arg;
    nlsq_shared sp = *f->sc->sp;
    nlsq_options o = nlsq_options_default();
    double p0[5] = {1, 0, 0, 1, 2000};
    if (f->kind == 0 && j->g.rank == 1) sp.shared = NULL;
    if (f->kind == 1 && j->g.rank == 2) p0[4] = 2100;
    if (f->kind == 2 && j->g.rank == 0) o.progress = stop_now;
    static const double scale1[5] = {1, 1, 1, 1, 1}, scale2[5] = {1, 1, 1, 1, 1000};
    if (f->kind == 3) o.x_scale = j->g.rank == 2 ? scale2 : scale1;
    o.p0 = p0;
    o.group = &j->g;
    o.threads = 1;
    nlsq_error e = {0};
    j->st = nlsq_fit_shared(f->sc->model, &sp, &o, 0, &j->shared, &e);
    snprintf(j->msg, sizeof j->msg, "%s", e.message);
}

static void shared_faults_agreed(void)
{
    nlsq_model *model = arrhenius_model();
    enum { SETS = 4, PTS = 30 };
    static double x[2 * SETS * PTS], y[SETS * PTS];
    for (int d = 0; d < SETS; d++)
        for (int i = 0; i < PTS; i++) {
            size_t r = (size_t)d * PTS + (size_t)i;
            double T = 280 + 20 * d;
            x[r] = 5.0 * i / (PTS - 1);
            x[SETS * PTS + r] = T;
            y[r] = (1 + d) * exp(-1.3 * exp(-2500 * (1 / T - 1.0 / 300)) * x[r]) + 0.1 + 0.001 * sin(7.0 * (double)r);
        }
    static const unsigned char shared[5] = {0, 0, 0, 1, 1}, covariate[2] = {0, 1};
    nlsq_shared sp = nlsq_shared_default();
    sp.data.nfits = SETS;
    sp.data.m = PTS;
    sp.data.x = x;
    sp.data.y = y;
    sp.shared = shared;
    sp.covariate = covariate;
    shared_case sc = {model, &sp, NLSQ_TRF};
    static const char *const words[4] = {"process 1 of 3", "different starts", NULL, "different starts"};
    for (int kind = 0; kind < 4 && model; kind++) {
        shared_fault f = {&sc, kind};
        rank_job jobs[8];
        run_group(3, shared_fault_rank, &f, jobs);
        for (int r = 0; r < 3; r++) {
            if (words[kind]) {
                CHECK_MSG(jobs[r].st != NLSQ_OK && strstr(jobs[r].msg, words[kind]),
                          "fault %d, rank %d: status %d, '%s' (want '%s')", kind, r, jobs[r].st, jobs[r].msg,
                          words[kind]);
            } else {
                CHECK_MSG(jobs[r].st == NLSQ_OK && jobs[r].shared && jobs[r].shared->status == NLSQ_FIT_STOPPED,
                          "a stop on rank 0 only, rank %d: %s", r, jobs[r].msg);
                if (r > 0 && jobs[r].shared && jobs[0].shared)
                    CHECK_MSG(!memcmp(jobs[r].shared->popt, jobs[0].shared->popt, SETS * 5 * sizeof(double)),
                              "a stop on rank 0 only: rank %d's point differs", r);
            }
        }
        free_jobs(jobs, 3);
    }
    nlsq_model_free(model);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/nlsq-group-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    static const test_case tests[] = {
        TEST(group_sizes_and_chunk_counts),     TEST(reference_models),          TEST(options_over_groups),
        TEST(global_search_over_groups),        TEST(batch_over_groups),         TEST(bootstrap_over_groups),
        TEST(checkpoint_resume_on_other_group), TEST(one_rank_stops_every_rank), /* and progress on rank 0 alone */
        TEST(failures_agreed_by_every_rank),    TEST(invalid_groups_refused), TEST(pieces_over_groups),
        TEST(shared_over_groups),              TEST(shared_faults_agreed),
    };
    int rc = run_tests(tests, (int)(sizeof tests / sizeof tests[0]));
    remove_tmpdir();
    return rc;
}
