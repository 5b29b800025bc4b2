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
#define RELEASE_POINTS (PASS_WINDOW * 32)

int reader_plan(const nlsq_source *src, const int *cols, int nread, int k, const double **direct, size_t *x_stride)
{
    for (int j = 0; j < nread; j++) direct[j] = source_direct(src, cols[j]);
    *x_stride = nlsq_source_num_rows(src);
    /* the x columns are read in place only all together, as rows of one
       array: present and equally spaced */
    int x_direct = 1;
    for (int j = 0; j < k; j++) x_direct &= direct[j] != NULL;
    if (x_direct && k > 1) {
        uintptr_t a = (uintptr_t)direct[0], b = (uintptr_t)direct[1];
        x_direct = b > a && (b - a) % sizeof(double) == 0;
        for (int j = 2; x_direct && j < k; j++) x_direct = (uintptr_t)direct[j] == a + (uintptr_t)j * (b - a);
        if (x_direct) *x_stride = (b - a) / sizeof(double);
    }
    if (!x_direct)
        for (int j = 0; j < k; j++) direct[j] = NULL;
    int copied = 0;
    for (int j = 0; j < nread; j++) copied += direct[j] == NULL;
    return copied;
}

int reader_init(reader *rd, nlsq_source *src, const int *xcols, int k, int ycol, int sigcol, int nworkers,
                double sigma_all, int omit)
{
    memset(rd, 0, sizeof *rd);
    rd->src = src;
    rd->m = nlsq_source_num_rows(src);
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
    rd->ncopy = reader_plan(src, rd->cols, rd->nread, k, rd->direct, &rd->x_stride);
    for (int j = 0, slot = 0; j < rd->nread; j++)
        if (!rd->direct[j]) {
            rd->copy_cols[slot] = rd->cols[j];
            rd->slot_of[j] = slot++;
        }
    if (rd->ncopy) {
        rd->buf = malloc((size_t)nworkers * (size_t)rd->ncopy * PASS_WINDOW * sizeof(double));
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

/* The first offending row of a block, as nan_policy and sigma > 0 judge. */
static void find_bad_row(reader *rd, data_stats *st, const pass_view *v, size_t lo, size_t len, size_t first_row)
{
    int k = rd->nvars;
    for (size_t i = lo; i < lo + len && st->bad_row == SIZE_MAX; i++) {
        double y = v->y[i], s = v->sigma ? v->sigma[i] : rd->sigma_all;
        int bad_var = -1;
        for (int j = 0; j < k && bad_var < 0; j++)
            if (!isfinite(v->x[(size_t)j * v->stride + i])) bad_var = j;
        int kind = BAD_NONE;
        if (v->sigma && !(s > 0) && !(rd->omit && isnan(s)))
            kind = BAD_SIGMA_NONPOSITIVE;
        else if (rd->raise && !isfinite(y))
            kind = BAD_Y;
        else if (rd->raise && bad_var >= 0)
            kind = BAD_X;
        else if (rd->raise && !isfinite(s))
            kind = BAD_SIGMA;
        if (kind == BAD_NONE) continue;
        st->bad_row = first_row + (i - lo);
        st->bad_kind = kind;
        st->bad_var = bad_var;
        st->bad_value = kind == BAD_Y ? y : kind == BAD_X ? v->x[(size_t)bad_var * v->stride + i] : s;
    }
}

/*
 * The data check and the sums for R^2 over one window of a view, a block
 * of NLSQ_BLOCK points at a time: a block whose values are all finite
 * (sum(v*0) is not NaN) with positive sigma needs no look at single
 * points; the others are examined point by point. Each block's weighted
 * mean and squared deviations come from two sweeps over it, merged into
 * the chunk's by Chan's formula.
 */
static void scan_window(reader *rd, data_stats *st, const pass_view *v, size_t first, size_t count)
{
    int k = rd->nvars;
    double w[NLSQ_BLOCK];
    for (size_t lo = first - v->base; lo < first - v->base + count; lo += NLSQ_BLOCK) {
        size_t len = first - v->base + count - lo < NLSQ_BLOCK ? first - v->base + count - lo : NLSQ_BLOCK;
        double probe = 0, smin = INFINITY;
        for (size_t i = lo; i < lo + len; i++) probe += v->y[i] * 0.0;
        for (int j = 0; j < k; j++)
            for (size_t i = lo; i < lo + len; i++) probe += v->x[(size_t)j * v->stride + i] * 0.0;
        if (v->sigma)
            for (size_t i = lo; i < lo + len; i++) {
                probe += v->sigma[i] * 0.0;
                smin = fmin(smin, v->sigma[i]);
            }
        int clean = !isnan(probe) && (!v->sigma || smin > 0);
        size_t row = first + (lo - (first - v->base));
        if (clean) {
            st->usable += len;
        } else {
            if (st->bad_row == SIZE_MAX) find_bad_row(rd, st, v, lo, len, row);
            for (size_t i = lo; i < lo + len; i++) {
                int ok = isfinite(v->y[i]) && (!v->sigma || isfinite(v->sigma[i]));
                for (int j = 0; j < k && ok; j++) ok = isfinite(v->x[(size_t)j * v->stride + i]);
                st->usable += !rd->omit || ok;
            }
        }
        double sw = 0, swy = 0;
        for (size_t i = 0; i < len; i++) {
            double s = v->sigma ? v->sigma[lo + i] : 1, y = v->y[lo + i];
            double wi = v->sigma ? 1 / (s * s) : 1;
            int use = clean || (isfinite(y) && isfinite(wi));
            w[i] = use ? wi : 0;
            sw += w[i];
            swy += use ? w[i] * y : 0;
        }
        if (!(sw > 0)) continue;
        double mean = swy / sw, m2 = 0;
        for (size_t i = 0; i < len; i++) {
            double d = w[i] > 0 ? v->y[lo + i] - mean : 0;
            m2 += w[i] * d * d;
        }
        merge_moments(st, sw, mean, m2);
    }
}

static void fail_read(reader *rd, const char *why)
{
    pthread_mutex_lock(&rd->lock);
    if (!rd->failed) snprintf(rd->why, sizeof rd->why, "%s", why);
    rd->failed = 1;
    pthread_mutex_unlock(&rd->lock);
}

/* Column j of the window: in place (offset so that index first is at
   element 0) or its slot of the worker's buffer. */
static const double *window_column(const reader *rd, const double *b, int j, size_t first)
{
    return rd->direct[j] ? rd->direct[j] + first : b + (size_t)rd->slot_of[j] * PASS_WINDOW;
}

static int reader_read(void *ctx, int chunk, size_t first, size_t count, int worker, pass_view *v)
{
    reader *rd = ctx;
    int k = rd->nvars;
    if (!rd->ncopy) {
        *v = (pass_view){k ? rd->direct[0] : NULL, rd->x_stride, rd->direct[k],
                         rd->has_sigma ? rd->direct[k + 1] : NULL, 0};
    } else {
        double *b = rd->buf + (size_t)worker * (size_t)rd->ncopy * PASS_WINDOW, *out[NLSQ_READER_MAX_COLS];
        for (int slot = 0; slot < rd->ncopy; slot++) out[slot] = b + (size_t)slot * PASS_WINDOW;
        char why[300];
        if (source_read(rd->src, rd->copy_cols, rd->ncopy, first, count, out, why, sizeof why) != 0) {
            fail_read(rd, why);
            return -1;
        }
        const double *x = k ? window_column(rd, b, 0, first) : NULL;
        size_t stride = k && rd->direct[0] ? rd->x_stride : PASS_WINDOW;
        *v = (pass_view){x, stride, window_column(rd, b, k, first),
                         rd->has_sigma ? window_column(rd, b, k + 1, first) : NULL, first};
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

/* The chunks' findings merged in the pass's fixed tree: the same
   answer for any thread count or group size. */
static void stats_merge(void *ctx, int into, int from)
{
    data_stats *a = &((data_stats *)ctx)[into];
    const data_stats *b = &((data_stats *)ctx)[from];
    a->usable += b->usable;
    if (a->bad_row == SIZE_MAX && b->bad_row != SIZE_MAX) {
        a->bad_row = b->bad_row;
        a->bad_kind = b->bad_kind;
        a->bad_var = b->bad_var;
        a->bad_value = b->bad_value;
    }
    merge_moments(a, b->sw, b->mean, b->m2);
}

static void stats_pack(void *ctx, int at, void *buf)
{
    memcpy(buf, &((data_stats *)ctx)[at], sizeof(data_stats));
}

static void stats_unpack(void *ctx, int at, const void *buf)
{
    memcpy(&((data_stats *)ctx)[at], buf, sizeof(data_stats));
}

int reader_finish_check(reader *rd, const nlsq_group *g, data_stats *total)
{
    rd->checking = 0;
    memset(total, 0, sizeof *total);
    total->bad_row = SIZE_MAX;
    if (rd->nstats == 0) return 0;
    data_stats buf;
    tree_ops ops = {rd->stats, sizeof(data_stats), stats_merge, stats_pack, stats_unpack};
    if (tree_merge(&ops, rd->nstats, g, source_spans(rd->src, NULL), GROUP_TAG_STATS, &buf) != 0) return -1;
    *total = rd->stats[0];
    return 0;
}
