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

int peaks_find(const double *x, const double *y, size_t m, peak *out, int max_peaks)
{
    int count = 0;
    if (max_peaks <= 0) return 0;
    for (size_t i = 1; i + 1 < m; i++) {
        if (!(y[i - 1] < y[i])) continue;
        size_t end = i; /* the last sample of a flat top */
        while (end + 1 < m && y[end + 1] == y[i]) end++;
        if (end + 1 >= m) break;
        if (y[end + 1] < y[i]) {
            peak p = peaks_measure(x, y, m, (i + end) / 2);
            if (p.prominence > 0) keep_most_prominent(out, &count, max_peaks, p);
        }
        i = end;
    }
    return count;
}
