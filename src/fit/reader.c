/*
 * The reader: how a pass gets its windows of points from a source. Where
 * every column the fit needs lies in memory as native doubles (caller
 * arrays, a mapped Fortran-order float64 .npy) the pass reads them in
 * place; otherwise each worker has buffers for one window and the source
 * fills them. During the first pass the reader also looks at every value
 * once — the data check of nan_policy, the count of usable points and the
 * weighted sums for R^2 — so a fit never makes a separate sweep over its
 * data.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit.h"
#include "source.h"

/* Hand mapped pages back in pieces of this many points, not every window:
   each madvise costs a TLB shootdown across the threads. */
#define RELEASE_POINTS (PASS_WINDOW * 8)

int reader_in_place(const nlsq_source *src, const int *cols, int nread, int k, const double **direct,
                    size_t *x_stride)
{
    for (int j = 0; j < nread; j++)
        if (!(direct[j] = source_direct(src, cols[j]))) return 0;
    *x_stride = nlsq_source_rows(src);
    if (k <= 1) return 1;
    /* the x columns must be rows of one array: equally spaced */
    uintptr_t a = (uintptr_t)direct[0], b = (uintptr_t)direct[1];
    if (b <= a || (b - a) % sizeof(double)) return 0;
    for (int j = 2; j < k; j++)
        if ((uintptr_t)direct[j] != a + (uintptr_t)j * (b - a)) return 0;
    *x_stride = (b - a) / sizeof(double);
    return 1;
}

int reader_init(reader *rd, nlsq_source *src, const int *xcols, int k, int ycol, int sigcol, int nworkers,
                double sigma_all, int omit)
{
    memset(rd, 0, sizeof *rd);
    rd->src = src;
    rd->m = nlsq_source_rows(src);
    rd->nvars = k;
    rd->nworkers = nworkers;
    rd->sigma_all = sigma_all;
    rd->omit = omit;
    for (int j = 0; j < k; j++) rd->cols[j] = xcols[j];
    rd->cols[k] = ycol;
    rd->nread = k + 1;
    if (sigcol >= 0) rd->cols[rd->nread++] = sigcol;
    rd->has_sigma = sigcol >= 0;
    pthread_mutex_init(&rd->lock, NULL);
    const double *direct[NLSQ_READER_MAX_COLS];
    if (reader_in_place(src, rd->cols, rd->nread, k, direct, &rd->x_stride)) {
        rd->in_place = 1;
        rd->x = k ? direct[0] : NULL;
        rd->y = direct[k];
        rd->sigma = rd->has_sigma ? direct[k + 1] : NULL;
    } else {
        rd->buf = malloc((size_t)nworkers * (size_t)rd->nread * PASS_WINDOW * sizeof(double));
        if (!rd->buf) return -1;
    }
    rd->pending = calloc((size_t)nworkers, sizeof *rd->pending);
    return rd->pending ? 0 : -1;
}

void reader_free(reader *rd)
{
    if (rd->pending) reader_flush(rd);
    free(rd->buf);
    free(rd->stats);
    free(rd->pending);
    pthread_mutex_destroy(&rd->lock);
    memset(rd, 0, sizeof *rd);
}

int reader_check_next_pass(reader *rd, int nchunks)
{
    free(rd->stats);
    rd->stats = calloc((size_t)nchunks, sizeof *rd->stats);
    if (!rd->stats) return -1;
    for (int c = 0; c < nchunks; c++) rd->stats[c].bad_row = SIZE_MAX;
    rd->nstats = nchunks;
    rd->checking = 1;
    return 0;
}

/* Chan's update: the weighted mean and sum of squared deviations of two
   parts, exactly as stable as two sweeps over each. */
static void merge_moments(data_stats *a, double sw, double mean, double m2)
{
    if (sw <= 0) return;
    double n = a->sw + sw, delta = mean - a->mean;
    a->mean += delta * (sw / n);
    a->m2 += m2 + delta * delta * (a->sw * sw / n);
    a->sw = n;
}

/* The data check and the sums for R^2 over one window of a view. */
static void scan_window(reader *rd, data_stats *st, const pass_view *v, size_t first, size_t count)
{
    size_t lo = first - v->base;
    int k = rd->nvars;
    double sw = 0, swy = 0;
    for (size_t i = lo; i < lo + count; i++) {
        double y = v->y[i], s = v->sigma ? v->sigma[i] : rd->sigma_all;
        int finite = isfinite(y) && isfinite(s);
        int bad_var = -1;
        for (int j = 0; j < k; j++)
            if (!isfinite(v->x[(size_t)j * v->stride + i]) && bad_var < 0) bad_var = j;
        finite &= bad_var < 0;
        if (st->bad_row == SIZE_MAX) {
            int kind = BAD_NONE;
            if (v->sigma && !(s > 0) && !(rd->omit && isnan(s))) kind = BAD_SIGMA_NONPOSITIVE;
            else if (rd->raise && !isfinite(y)) kind = BAD_Y;
            else if (rd->raise && bad_var >= 0) kind = BAD_X;
            else if (rd->raise && !isfinite(s)) kind = BAD_SIGMA;
            if (kind != BAD_NONE) {
                st->bad_row = first + (i - lo);
                st->bad_kind = kind;
                st->bad_var = bad_var;
                st->bad_value = kind == BAD_Y ? y : kind == BAD_X ? v->x[(size_t)bad_var * v->stride + i] : s;
            }
        }
        st->usable += !rd->omit || finite;
        double w = v->sigma ? 1 / (s * s) : 1;
        if (isfinite(y) && isfinite(w)) {
            sw += w;
            swy += w * y;
        }
    }
    if (!(sw > 0)) return;
    double mean = swy / sw, m2 = 0;
    for (size_t i = lo; i < lo + count; i++) {
        double y = v->y[i], s = v->sigma ? v->sigma[i] : rd->sigma_all;
        double w = v->sigma ? 1 / (s * s) : 1;
        if (isfinite(y) && isfinite(w)) m2 += w * (y - mean) * (y - mean);
    }
    merge_moments(st, sw, mean, m2);
}

static void fail_read(reader *rd, const char *why)
{
    pthread_mutex_lock(&rd->lock);
    if (!rd->failed) snprintf(rd->why, sizeof rd->why, "%s", why);
    rd->failed = 1;
    pthread_mutex_unlock(&rd->lock);
}

static int reader_read(void *ctx, int chunk, size_t first, size_t count, int worker, pass_view *v)
{
    reader *rd = ctx;
    if (rd->in_place) {
        *v = (pass_view){rd->x, rd->x_stride, rd->y, rd->sigma, 0};
    } else {
        double *b = rd->buf + (size_t)worker * (size_t)rd->nread * PASS_WINDOW, *out[NLSQ_READER_MAX_COLS];
        for (int j = 0; j < rd->nread; j++) out[j] = b + (size_t)j * PASS_WINDOW;
        char why[300];
        if (source_read(rd->src, rd->cols, rd->nread, first, count, out, why, sizeof why) != 0) {
            fail_read(rd, why);
            return -1;
        }
        int k = rd->nvars;
        *v = (pass_view){b, PASS_WINDOW, out[k], rd->has_sigma ? out[k + 1] : NULL, first};
    }
    if (rd->checking) scan_window(rd, &rd->stats[chunk], v, first, count);
    return 0;
}

/* Windows of one worker within a chunk are consecutive: collect them and
   hand the pages back in larger pieces. */
static void reader_release(void *ctx, size_t first, size_t count, int worker)
{
    reader *rd = ctx;
    release_range *r = &rd->pending[worker];
    if (r->count && r->first + r->count != first) {
        source_release(rd->src, rd->cols, rd->nread, r->first, r->count);
        r->count = 0;
    }
    if (!r->count) r->first = first;
    r->count += count;
    if (r->count >= RELEASE_POINTS) {
        source_release(rd->src, rd->cols, rd->nread, r->first, r->count);
        r->count = 0;
    }
}

void reader_flush(reader *rd)
{
    for (int w = 0; w < rd->nworkers; w++)
        if (rd->pending[w].count) {
            source_release(rd->src, rd->cols, rd->nread, rd->pending[w].first, rd->pending[w].count);
            rd->pending[w].count = 0;
        }
}

pass_data reader_pass_data(reader *rd)
{
    return (pass_data){rd->m, reader_read, reader_release, rd, rd->sigma_all, rd->omit};
}

void reader_finish_check(reader *rd, data_stats *total)
{
    memset(total, 0, sizeof *total);
    total->bad_row = SIZE_MAX;
    for (int c = 0; c < rd->nstats; c++) {
        const data_stats *s = &rd->stats[c];
        total->usable += s->usable;
        if (total->bad_row == SIZE_MAX && s->bad_row != SIZE_MAX) {
            total->bad_row = s->bad_row;
            total->bad_kind = s->bad_kind;
            total->bad_var = s->bad_var;
            total->bad_value = s->bad_value;
        }
        merge_moments(total, s->sw, s->mean, s->m2);
    }
    rd->checking = 0;
}
