/*
 * Fits over MPI (libnlsq_mpi), run by tests/test_mpi.sh under mpirun with
 * 1 .. 4 ranks, over shared memory and over TCP alone. Every rank computes
 * the single-process fit itself and then the fit over the communicator,
 * and compares the two bit for bit; the ranks' verdicts are summed, and
 * rank 0 prints the closing line.
 *
 *   test_mpi all DIR          the reference models, a large mapped .npy
 *                             (written into DIR by rank 0 if missing),
 *                             kept residuals, a batch, the global search
 *   test_mpi stall CKPT       a fit with a checkpoint in which the last
 *                             rank stops taking part after 3 iterations
 *                             (sleeps 30 s): the job must end by the
 *                             library's timeout (NLSQ_MPI_TIMEOUT), not hang
 *   test_mpi kill CKPT        the same, the last rank killed (SIGKILL)
 *   test_mpi resume CKPT      that fit resumed from the checkpoint: the
 *                             single-process fit's bits
 *   test_mpi badread          a read that fails on the last rank only:
 *                             every rank reports the same status and words
 *   test_mpi onesided         steps that fail or stop on some ranks only
 *                             (a checkpoint refused on rank 0 or named
 *                             there alone, a global search stopped by
 *                             rank 0's hook, pieces with other columns, a
 *                             batch of fewer fits than ranks): the same
 *                             status and words on every rank
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../group_cases.h"
#include "nlsq_mpi.h"

static int failures, checks, rank, size;
static const nlsq_group *group;

#define EXPECT(cond, ...) \
    do { \
        checks++; \
        if (!(cond)) { \
            failures++; \
            printf("rank %d of %d: %s:%d: ", rank, size, __FILE__, __LINE__); \
            printf(__VA_ARGS__); \
            printf("\n"); \
            fflush(stdout); \
        } \
    } while (0)

static nlsq_status fit_arrays_or_curve(const nlsq_model *model, const gc_data *d, nlsq_options o, int curve,
                                       nlsq_result **out, nlsq_error *e)
{
    *out = NULL;
    if (curve) {
        nlsq_data data = {d->x, d->y, d->m, NULL, NLSQ_SIGMA_NONE};
        return nlsq_curve_fit(model, &data, &o, out, e);
    }
    nlsq_source *s = gc_source(d, d->m);
    nlsq_status st = s ? nlsq_fit_source(model, s, NULL, &o, out, e) : NLSQ_ERR_NOMEM;
    nlsq_source_free(s);
    return st;
}

/* The fit alone and over the group, compared. */
static void compare_fit(const char *what, const nlsq_model *model, const gc_data *d, const nlsq_options *opt, int curve)
{
    nlsq_options o = *opt;
    nlsq_result *ref = NULL, *got = NULL;
    nlsq_error e = {0};
    nlsq_status st = fit_arrays_or_curve(model, d, o, curve, &ref, &e);
    EXPECT(st == NLSQ_OK, "%s alone: %s", what, e.message);
    o.group = group;
    st = fit_arrays_or_curve(model, d, o, curve, &got, &e);
    EXPECT(st == NLSQ_OK, "%s over %d ranks: %s", what, size, e.message);
    char why[256];
    if (ref && got) EXPECT(!gc_differ(ref, got, why, sizeof why), "%s: %s", what, why);
    nlsq_result_free(ref);
    nlsq_result_free(got);
}

static void start_near(int w, double *p0)
{
    for (int j = 0; j < REFS[w].n; j++) p0[j] = REFS[w].p[j] * 1.1 + 0.05 * (j % 2 ? 1 : -1);
}

static void reference_models(void)
{
    for (int w = 0; w < 4; w++) {
        nlsq_model *model = gc_model(REFS[w].text, REFS[w].vars);
        gc_data d;
        EXPECT(model && gc_make(model, REFS[w].p, 3 * 16384 + 100, 10 + (unsigned)w, &d) == 0, "data");
        double p0[10];
        start_near(w, p0);
        nlsq_options o = nlsq_options_default();
        o.p0 = p0;
        compare_fit(REFS[w].name, model, &d, &o, 0);
        if (w == 0) {
            /* one chunk (and two): ranks whose share is empty */
            gc_data small = d;
            small.m = 1000;
            compare_fit("decay, 1000 points", model, &small, &o, 0);
            small.m = 20000;
            compare_fit("decay, 20000 points", model, &small, &o, 0);
        }
        if (w == 1) {
            o.keep_residuals = 1;
            compare_fit("gaussian + linear, kept residuals", model, &d, &o, 0);
            o.keep_residuals = 0;
            o.method = NLSQ_LM;
            compare_fit("gaussian + linear, lm, nlsq_curve_fit", model, &d, &o, 1);
        }
        gc_free(&d);
        nlsq_model_free(model);
    }
}

/* About 4*10^6 rows from a mapped .npy that every rank opens. */
static void large_npy(const char *dir)
{
    nlsq_model *model = gc_model(REFS[0].text, REFS[0].vars);
    char path[600];
    snprintf(path, sizeof path, "%s/large.npy", dir);
    struct stat sb;
    int bad = 0;
    if (rank == 0 && stat(path, &sb) != 0) {
        gc_data d;
        char tmp[620];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        bad = !model || gc_make(model, REFS[0].p, 4000037, 7, &d) != 0 || gc_write_npy(tmp, &d) != 0 ||
              rename(tmp, path) != 0;
        gc_free(&d);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    EXPECT(!bad, "could not write %s", path);
    if (bad) {
        nlsq_model_free(model);
        return;
    }
    double p0[3];
    start_near(0, p0);
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *ref = NULL, *got = NULL;
    nlsq_error e = {0};
    nlsq_source *s = NULL;
    EXPECT(nlsq_source_open_npy(path, &s, &e) == NLSQ_OK, "%s: %s", path, e.message);
    if (s) EXPECT(nlsq_fit_source(model, s, NULL, &o, &ref, &e) == NLSQ_OK, "large alone: %s", e.message);
    o.group = group;
    if (s) EXPECT(nlsq_fit_source(model, s, NULL, &o, &got, &e) == NLSQ_OK, "large over group: %s", e.message);
    char why[256];
    if (ref && got) EXPECT(!gc_differ(ref, got, why, sizeof why), "large .npy: %s", why);
    if (ref) EXPECT(ref->m == 4000037 && ref->status > 0, "large: m %zu status %d", ref->m, (int)ref->status);
    nlsq_result_free(ref);
    nlsq_result_free(got);
    nlsq_source_free(s);
    nlsq_model_free(model);
}

static void batch(void)
{
    nlsq_model *model = gc_model(gc_batch_model_text(), "x,y");
    gc_batch gb;
    EXPECT(model && gc_batch_make(23, &gb) == 0, "batch data");
    nlsq_options o = nlsq_options_default();
    nlsq_batch_result *ref = NULL, *got = NULL;
    nlsq_error e = {0};
    EXPECT(nlsq_fit_batch(model, &gb.b, &o, NLSQ_BATCH_PCOV, &ref, &e) == NLSQ_OK, "batch alone: %s", e.message);
    o.group = group;
    EXPECT(nlsq_fit_batch(model, &gb.b, &o, NLSQ_BATCH_PCOV, &got, &e) == NLSQ_OK, "batch over group: %s", e.message);
    char why[256];
    if (ref && got) EXPECT(!gc_batch_differ(ref, got, why, sizeof why), "batch: %s", why);
    nlsq_batch_result_free(ref);
    nlsq_batch_result_free(got);
    gc_batch_free(&gb);
    nlsq_model_free(model);
}

static void global_search(void)
{
    nlsq_model *model = gc_model(REFS[0].text, REFS[0].vars);
    gc_data d;
    EXPECT(model && gc_make(model, REFS[0].p, 2 * 16384 + 5, 31, &d) == 0, "global data");
    double lo[3] = {0, 0, -2}, hi[3] = {5, 4, 2};
    nlsq_options o = nlsq_options_default();
    o.lower = lo;
    o.upper = hi;
    nlsq_global_options go = nlsq_global_options_default();
    go.starts = 6;
    go.seed = 3;
    nlsq_data data = {d.x, d.y, d.m, NULL, NLSQ_SIGMA_NONE};
    nlsq_result *ref = NULL, *got = NULL;
    nlsq_error e = {0};
    EXPECT(nlsq_fit_global(model, &data, &o, &go, &ref, &e) == NLSQ_OK, "global alone: %s", e.message);
    o.group = group;
    EXPECT(nlsq_fit_global(model, &data, &o, &go, &got, &e) == NLSQ_OK, "global over group: %s", e.message);
    char why[256];
    if (ref && got) EXPECT(!gc_differ(ref, got, why, sizeof why), "global: %s", why);
    if (ref && got && ref->global && got->global)
        EXPECT(ref->global->n_minima == got->global->n_minima && ref->global->at_best == got->global->at_best,
               "global: the summaries differ");
    nlsq_result_free(ref);
    nlsq_result_free(got);
    gc_free(&d);
    nlsq_model_free(model);
}

/* ---- the checkpointed fit of the fault case and its resume ---- */

static int stall_kills; /* the stalled rank kills itself instead of sleeping */

static int stall_at(void *user, int iteration, double cost, const double *params, double g, double s)
{
    (void)user, (void)cost, (void)params, (void)g, (void)s;
    if (iteration == 3 && rank == size - 1 && stall_kills) {
        printf("rank %d of %d: killed (SIGKILL)\n", rank, size);
        fflush(stdout);
        raise(SIGKILL);
    }
    if (iteration == 3 && rank == size - 1) {
        printf("rank %d of %d: stops taking part (sleeps 30 s)\n", rank, size);
        fflush(stdout);
        sleep(30);
    }
    return 0;
}

static void checkpointed(const char *ckpt, int stall)
{
    nlsq_model *model = gc_model(REFS[1].text, REFS[1].vars);
    gc_data d;
    EXPECT(model && gc_make(model, REFS[1].p, 4 * 16384 + 3, 51, &d) == 0, "data");
    double p0[5];
    start_near(1, p0);
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    nlsq_result *ref = NULL, *got = NULL;
    nlsq_error e = {0};
    if (!stall) EXPECT(fit_arrays_or_curve(model, &d, o, 0, &ref, &e) == NLSQ_OK, "alone: %s", e.message);
    o.group = group;
    o.checkpoint = ckpt;
    o.resume = !stall;
    if (stall) o.callback = stall_at;
    nlsq_status st = fit_arrays_or_curve(model, &d, o, 0, &got, &e);
    if (stall) {
        EXPECT(0, "the fit with a stalled rank returned (status %d: %s)", (int)st, e.message);
    } else {
        EXPECT(st == NLSQ_OK, "resume over %d ranks: %s", size, e.message);
        char why[256];
        if (ref && got) EXPECT(!gc_differ(ref, got, why, sizeof why), "resumed: %s", why);
        if (got) EXPECT(got->resumed_evaluations > 0, "resumed %d evaluations", got->resumed_evaluations);
    }
    nlsq_result_free(ref);
    nlsq_result_free(got);
    gc_free(&d);
    nlsq_model_free(model);
}

/* ---- a read that fails on one rank ---- */

typedef struct fill_case {
    const gc_data *d;
    size_t bad_row;
} fill_case;

static int fill_rows(void *user, size_t first, size_t count, double *const *cols)
{
    const fill_case *f = user;
    if (f->bad_row >= first && f->bad_row < first + count) return 5;
    if (cols[0]) memcpy(cols[0], f->d->x + first, count * sizeof(double));
    if (cols[1]) memcpy(cols[1], f->d->y + first, count * sizeof(double));
    return 0;
}

static void bad_read(void)
{
    nlsq_model *model = gc_model(REFS[0].text, REFS[0].vars);
    gc_data d;
    size_t m = 8 * 16384;
    EXPECT(model && gc_make(model, REFS[0].p, m, 61, &d) == 0, "data");
    fill_case fc = {&d, m - 100}; /* in the last rank's share */
    nlsq_source *s = NULL;
    nlsq_error e = {0};
    EXPECT(nlsq_source_from_callback(2, m, fill_rows, &fc, 1, &s, &e) == NLSQ_OK, "%s", e.message);
    nlsq_options o = nlsq_options_default();
    o.group = group;
    nlsq_result *r = NULL;
    nlsq_status st = s ? nlsq_fit_source(model, s, NULL, &o, &r, &e) : NLSQ_ERR_NOMEM;
    EXPECT(st != NLSQ_OK && r == NULL, "a failed read gave status %d", (int)st);
    char want[64];
    snprintf(want, sizeof want, "process %d of %d: ", size - 1, size);
    EXPECT(size == 1 || strstr(e.message, want), "\"%s\" does not name %s", e.message, want);
    /* every rank's status and words against rank 0's */
    struct {
        int status;
        char text[256];
    } mine = {(int)st, ""}, first;
    snprintf(mine.text, sizeof mine.text, "%s", e.message);
    first = mine;
    MPI_Bcast(&first, (int)sizeof first, MPI_BYTE, 0, MPI_COMM_WORLD);
    EXPECT(first.status == mine.status && strcmp(first.text, mine.text) == 0, "says %d \"%s\", rank 0 %d \"%s\"",
           mine.status, mine.text, first.status, first.text);
    if (rank == 0) printf("every rank: %s\n", mine.text);
    nlsq_result_free(r);
    nlsq_source_free(s);
    gc_free(&d);
    nlsq_model_free(model);
}

/* Rank 0's status and words against this rank's. */
static void same_everywhere(const char *what, nlsq_status st, const char *text)
{
    struct {
        int status;
        char text[256];
    } mine = {(int)st, ""}, first;
    snprintf(mine.text, sizeof mine.text, "%s", text);
    first = mine;
    MPI_Bcast(&first, (int)sizeof first, MPI_BYTE, 0, MPI_COMM_WORLD);
    EXPECT(first.status == mine.status && strcmp(first.text, mine.text) == 0, "%s: says %d \"%s\", rank 0 %d \"%s\"",
           what, mine.status, mine.text, first.status, first.text);
    if (rank == 0) printf("%s, every rank: %d %s\n", what, (int)st, text);
}

static int stop_now(void *user, const nlsq_progress *p)
{
    (void)user, (void)p;
    return 1;
}

/* Steps that fail, or stop, on some ranks only: every call must end on
   every rank with the same status and words (each of these once left the
   other ranks waiting until the timeout ended the job). */
static void one_sided(void)
{
    nlsq_model *model = gc_model(REFS[0].text, REFS[0].vars);
    gc_data d;
    size_t m = 3 * 16384 + 77;
    EXPECT(model && gc_make(model, REFS[0].p, m, 83, &d) == 0, "data");
    nlsq_source *s = gc_source(&d, m);
    double p0[3];
    start_near(0, p0);
    nlsq_error e = {0};
    nlsq_result *r = NULL;
    nlsq_options o = nlsq_options_default();
    o.p0 = p0;
    o.group = group;
    /* a checkpoint path only process 0 checks (a directory) */
    nlsq_options oc = o;
    oc.checkpoint = "/";
    nlsq_status st = nlsq_fit_source(model, s, NULL, &oc, &r, &e);
    EXPECT(st != NLSQ_OK && !r, "checkpoint '/' gave %d", (int)st);
    same_everywhere("a checkpoint path refused on rank 0", st, e.message);
    nlsq_result_free(r), r = NULL;
    /* a checkpoint named on rank 0 alone */
    char path[64];
    snprintf(path, sizeof path, "/tmp/nlsq-test-mpi-%d.ckpt", (int)getpid());
    oc.checkpoint = rank == 0 ? path : NULL;
    st = nlsq_fit_source(model, s, NULL, &oc, &r, &e);
    if (rank == 0) remove(path);
    EXPECT(size == 1 ? st == NLSQ_OK : st == NLSQ_ERR_INVALID_ARGUMENT && !r, "checkpoint on rank 0 gave %d", (int)st);
    same_everywhere("a checkpoint named on rank 0 only", st, st ? e.message : "");
    nlsq_result_free(r), r = NULL;
    /* the global search stopped by rank 0's progress hook alone */
    nlsq_data data = {d.x, d.y, m, NULL, NLSQ_SIGMA_NONE};
    nlsq_global_options go = nlsq_global_options_default();
    go.starts = 4;
    nlsq_options og = nlsq_options_default();
    double lb[3] = {0, 0, -5}, ub[3] = {10, 5, 5};
    og.lower = lb, og.upper = ub, og.group = group;
    if (rank == 0) og.progress = stop_now, og.progress_interval = 1e-9;
    st = nlsq_fit_global(model, &data, &og, &go, &r, &e);
    char cost[64];
    snprintf(cost, sizeof cost, "%a", r ? r->cost : -1.0);
    EXPECT(st == NLSQ_OK, "global stopped on rank 0 gave %d (%s)", (int)st, e.message);
    same_everywhere("a global search stopped on rank 0", st, cost);
    nlsq_result_free(r), r = NULL;
    /* pieces whose columns differ */
    const double *cols[3] = {d.x, d.y, d.y};
    nlsq_source *piece = NULL, *whole = NULL;
    nlsq_source_from_arrays(cols, rank == size - 1 && size > 1 ? 3 : 2, 100, &piece, &e);
    st = nlsq_source_from_pieces(piece, group, &whole, &e);
    EXPECT(size == 1 ? st == NLSQ_OK : st == NLSQ_ERR_DATA, "pieces with other columns gave %d", (int)st);
    same_everywhere("pieces with other columns", st, st ? e.message : "");
    nlsq_source_free(st == NLSQ_OK ? whole : piece);
    /* a batch of fewer fits than ranks: every rank says where they ran */
    nlsq_batch b = nlsq_batch_default();
    b.nfits = 1, b.m = 1000, b.x = d.x, b.y = d.y, b.x_shared = 1;
    nlsq_options ob = nlsq_options_default();
    ob.p0 = p0, ob.group = group;
    nlsq_batch_result *br = NULL;
    st = nlsq_fit_batch(model, &b, &ob, 0, &br, &e);
    EXPECT(st == NLSQ_OK && br && br->backend[0], "a batch of 1 fit gave %d, backend '%s'", (int)st,
           br ? br->backend : "");
    same_everywhere("a batch of one fit", st, br ? br->backend : "");
    nlsq_batch_result_free(br);
    nlsq_source_free(s);
    gc_free(&d);
    nlsq_model_free(model);
}

int main(int argc, char **argv)
{
    int level;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &level);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "";
    nlsq_mpi *mpi = NULL;
    nlsq_error e = {0};
    if (nlsq_mpi_open(MPI_COMM_WORLD, NULL, &mpi, &e) != NLSQ_OK) {
        printf("rank %d: %s\n", rank, e.message);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    group = nlsq_mpi_group(mpi);
    if (strcmp(mode, "all") == 0 && argc > 2) {
        reference_models();
        large_npy(argv[2]);
        batch();
        global_search();
    } else if ((strcmp(mode, "stall") == 0 || strcmp(mode, "kill") == 0 || strcmp(mode, "resume") == 0) && argc > 2) {
        stall_kills = mode[0] == 'k';
        checkpointed(argv[2], mode[0] != 'r');
    } else if (strcmp(mode, "badread") == 0) {
        bad_read();
    } else if (strcmp(mode, "onesided") == 0) {
        one_sided();
    } else {
        if (rank == 0) fprintf(stderr, "usage: test_mpi all DIR | stall CKPT | resume CKPT | badread | onesided\n");
        failures++;
    }
    nlsq_mpi_stats stats;
    nlsq_mpi_stats_get(mpi, &stats);
    int sums[2] = {failures, checks}, total[2];
    MPI_Reduce(sums, total, 2, MPI_INT, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s over %d ranks: %d checks, %d failed (rank 0: %llu messages, %.3f s in the transport)\n", mode, size,
               total[1], total[0], (unsigned long long)stats.messages, stats.seconds);
    int any = rank == 0 ? total[0] : 0;
    MPI_Bcast(&any, 1, MPI_INT, 0, MPI_COMM_WORLD);
    nlsq_mpi_close(mpi);
    MPI_Finalize();
    return any ? 1 : 0;
}
