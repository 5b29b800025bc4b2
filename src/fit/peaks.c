/*
 * Peaks of a sampled curve (x sorted): local maxima, their prominence and
 * their width at half prominence, with the definitions of
 * scipy.signal.find_peaks / peak_prominences / peak_widths (rel_height
 * 0.5), so a user can reproduce what the estimator saw:
 *   - a flat top (equal neighbours) is one maximum at its middle sample;
 *   - the prominence is the height above the higher of the two lowest
 *     points reached walking left and right until a strictly higher
 *     sample or the end;
 *   - the width runs between the crossings of height - prominence/2,
 *     linearly interpolated, each side searched no further than its base.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "guess.h"

/* The lowest sample walking from i in direction dir until one higher than
   y[i] or the end; its index goes to *base. */
static double lowest_before_higher(const double *y, size_t m, size_t i, int dir, size_t *base)
{
    double low = y[i];
    *base = i;
    for (size_t k = i; dir < 0 ? k > 0 : k + 1 < m;) {
        k = dir < 0 ? k - 1 : k + 1;
        if (y[k] > y[i]) break;
        if (y[k] < low) low = y[k], *base = k;
    }
    return low;
}

/* Where y crosses ref walking from i towards base (exclusive of i). */
static double crossing(const double *x, const double *y, size_t i, size_t base, int dir, double ref)
{
    size_t k = i;
    while (k != base && y[k] > ref) k = dir < 0 ? k - 1 : k + 1;
    size_t inner = dir < 0 ? k + 1 : k - 1;
    if (k == i || y[k] > ref) return x[k];
    double t = (ref - y[k]) / (y[inner] - y[k]);
    return x[k] + t * (x[inner] - x[k]);
}

peak peaks_measure(const double *x, const double *y, size_t m, size_t i)
{
    size_t lb, rb;
    double left_low = lowest_before_higher(y, m, i, -1, &lb);
    double right_low = lowest_before_higher(y, m, i, +1, &rb);
    peak p = {i, x[i], y[i], y[i] - fmax(left_low, right_low), x[i], x[i]};
    double ref = y[i] - 0.5 * p.prominence;
    p.left = crossing(x, y, i, lb, -1, ref);
    p.right = crossing(x, y, i, rb, +1, ref);
    return p;
}

/* Keep out[0..*count) sorted by prominence, at most max entries. */
static void keep_most_prominent(peak *out, int *count, int max, peak p)
{
    int at = *count < max ? (*count)++ : max;
    if (at == max && !(p.prominence > out[max - 1].prominence)) return;
    if (at == max) at = max - 1;
    while (at > 0 && out[at - 1].prominence < p.prominence) {
        out[at] = out[at - 1];
        at--;
    }
    out[at] = p;
}

/* Minimum over a range in O(log m): a segment tree over the samples,
   leaves at [n, 2n), each inner node the lower of its two children. */
typedef struct range_min {
    size_t n;
    size_t *at; /* 2n: the index of each node's lowest sample */
    const double *y;
} range_min;

static size_t lower_of(const range_min *t, size_t a, size_t b)
{
    return t->y[b] < t->y[a] ? b : a;
}

static int range_min_build(range_min *t, const double *y, size_t n)
{
    t->n = n, t->y = y;
    t->at = malloc(2 * n * sizeof *t->at);
    if (!t->at) return -1;
    for (size_t i = 0; i < n; i++) t->at[n + i] = i;
    for (size_t i = n - 1; i >= 1; i--) t->at[i] = lower_of(t, t->at[2 * i], t->at[2 * i + 1]);
    return 0;
}

/* The index of the lowest sample in [lo, hi] (lo <= hi). */
static size_t range_min_query(const range_min *t, size_t lo, size_t hi)
{
    size_t best = lo;
    for (size_t l = lo + t->n, r = hi + t->n + 1; l < r; l /= 2, r /= 2) {
        if (l & 1) best = lower_of(t, best, t->at[l++]);
        if (r & 1) best = lower_of(t, best, t->at[--r]);
    }
    return best;
}

/* For every sample the nearest one on side dir that is strictly higher,
   or SIZE_MAX: a monotonic stack, O(m). */
static void nearest_higher(const double *y, size_t m, int dir, size_t *out, size_t *stack)
{
    size_t top = 0;
    for (size_t k = 0; k < m; k++) {
        size_t i = dir < 0 ? k : m - 1 - k;
        while (top > 0 && y[stack[top - 1]] <= y[i]) top--;
        out[i] = top > 0 ? stack[top - 1] : SIZE_MAX;
        stack[top++] = i;
    }
}

/* peaks_measure with the walks replaced by lookups: a maximum on the
   flank of a big peak would otherwise walk to the end of the data. */
static peak measure_fast(const double *x, const double *y, size_t m, size_t i, const size_t *left_higher,
                         const size_t *right_higher, const range_min *t)
{
    size_t lb = i, rb = i;
    if (i > 0) lb = range_min_query(t, left_higher[i] == SIZE_MAX ? 0 : left_higher[i] + 1, i);
    if (i + 1 < m) rb = range_min_query(t, i, right_higher[i] == SIZE_MAX ? m - 1 : right_higher[i] - 1);
    peak p = {i, x[i], y[i], y[i] - fmax(y[lb], y[rb]), x[i], x[i]};
    double ref = y[i] - 0.5 * p.prominence;
    p.left = crossing(x, y, i, lb, -1, ref);
    p.right = crossing(x, y, i, rb, +1, ref);
    return p;
}

int peaks_find(const double *x, const double *y, size_t m, peak *out, int max_peaks)
{
    int count = 0;
    if (max_peaks <= 0 || m < 3) return 0;
    size_t *left = malloc(m * sizeof *left), *right = malloc(m * sizeof *right), *stack = malloc(m * sizeof *stack);
    range_min t = {0, NULL, NULL};
    if (!left || !right || !stack || range_min_build(&t, y, m) != 0) {
        count = -1;
        goto done;
    }
    nearest_higher(y, m, -1, left, stack);
    nearest_higher(y, m, +1, right, stack);
    for (size_t i = 1; i + 1 < m; i++) {
        if (!(y[i - 1] < y[i])) continue;
        size_t end = i; /* the last sample of a flat top */
        while (end + 1 < m && y[end + 1] == y[i]) end++;
        if (end + 1 >= m) break;
        if (y[end + 1] < y[i]) {
            peak p = measure_fast(x, y, m, (i + end) / 2, left, right, &t);
            if (p.prominence > 0) keep_most_prominent(out, &count, max_peaks, p);
        }
        i = end;
    }
done:
    free(left);
    free(right);
    free(stack);
    free(t.at);
    return count;
}
