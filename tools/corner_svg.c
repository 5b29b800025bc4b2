/*
 * A corner plot of a chain as a self-contained SVG: for the free
 * parameters, each one's histogram on the diagonal (with the median and
 * the 68 % interval marked) and below it each pair's density as a 2-D
 * histogram whose cells are shaded by their counts (a scatter of 10^5
 * samples would be megabytes). The style is svg.c's: frames, a few tick
 * labels, the parameter names under the columns and beside the rows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "present.h"

enum { CELL = 170, PAD = 14, MARGIN_L = 70, MARGIN_B = 60, MARGIN_T = 20, BINS = 30 };

/* The range shown: the samples' span, cut to the 2.5 .. 97.5 % quantiles
   widened by half their distance on each side (a far outlier does not
   squeeze the bulk into one bin), padded by 5 %. */
static void value_range(const nlsq_mcmc_result *mc, int j, double *lo, double *hi)
{
    size_t N = (size_t)mc->kept * (size_t)mc->walkers, n = (size_t)mc->n;
    double a = INFINITY, b = -INFINITY;
    for (size_t i = 0; i < N; i++) {
        double v = mc->chain[i * n + (size_t)j];
        if (isfinite(v)) a = fmin(a, v), b = fmax(b, v);
    }
    const double *q = mc->quantiles + (size_t)j * NLSQ_MCMC_NQUANT;
    double w = q[4] - q[0];
    if (w > 0) a = fmax(a, q[0] - 0.5 * w), b = fmin(b, q[4] + 0.5 * w);
    if (!(a < b)) a -= 0.5 + fabs(a) * 0.1, b += 0.5 + fabs(b) * 0.1;
    double pad = 0.05 * (b - a);
    *lo = a - pad;
    *hi = b + pad;
}

static int bin_of(double v, double lo, double hi)
{
    if (!(v >= lo && v < hi)) return -1;
    int k = (int)((v - lo) / (hi - lo) * BINS);
    return k < BINS ? k : BINS - 1;
}

static void frame(FILE *f, double x, double y)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", x, y, CELL, CELL);
}

static void diagonal(FILE *f, const nlsq_mcmc_result *mc, int j, double lo, double hi, double x0, double y0)
{
    size_t N = (size_t)mc->kept * (size_t)mc->walkers, n = (size_t)mc->n;
    long count[BINS] = {0}, top = 1;
    for (size_t i = 0; i < N; i++) {
        int k = bin_of(mc->chain[i * n + (size_t)j], lo, hi);
        if (k >= 0 && ++count[k] > top) top = count[k];
    }
    double bw = (double)CELL / BINS;
    for (int k = 0; k < BINS; k++) {
        double h = (CELL - 8) * (double)count[k] / (double)top;
        if (h > 0)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"bar\"/>\n", x0 + k * bw,
                    y0 + CELL - h, bw, h);
    }
    const double *q = mc->quantiles + (size_t)j * NLSQ_MCMC_NQUANT;
    for (int i = 1; i <= 3; i++) {
        double px = x0 + (q[i] - lo) / (hi - lo) * CELL;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"%s\"/>\n", px, y0, px, y0 + CELL,
                i == 2 ? "med" : "q");
    }
}

static void pair(FILE *f, const nlsq_mcmc_result *mc, int jx, int jy, const double *lo, const double *hi, double x0,
                 double y0, long *grid)
{
    size_t N = (size_t)mc->kept * (size_t)mc->walkers, n = (size_t)mc->n;
    memset(grid, 0, BINS * BINS * sizeof *grid);
    long top = 1;
    for (size_t i = 0; i < N; i++) {
        int a = bin_of(mc->chain[i * n + (size_t)jx], lo[jx], hi[jx]);
        int b = bin_of(mc->chain[i * n + (size_t)jy], lo[jy], hi[jy]);
        if (a >= 0 && b >= 0 && ++grid[b * BINS + a] > top) top = grid[b * BINS + a];
    }
    double bw = (double)CELL / BINS;
    for (int b = 0; b < BINS; b++)
        for (int a = 0; a < BINS; a++) {
            long c = grid[b * BINS + a];
            if (!c) continue;
            /* shade by the square root of the count: the tails stay visible */
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" class=\"dens\" opacity=\"%.3f\"/>\n",
                    x0 + a * bw, y0 + CELL - (b + 1) * bw, bw + 0.2, bw + 0.2, 0.08 + 0.92 * sqrt((double)c / top));
        }
}

static void tick_labels(FILE *f, double lo, double hi, double x0, double y0, int vertical)
{
    for (int i = 1; i <= 3; i += 2) {
        double v = lo + (hi - lo) * i / 4.0, p = (double)CELL * i / 4.0;
        if (vertical)
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tl\">%.4g</text>\n", x0 - 4, y0 + CELL - p + 4, v);
        else
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tb\">%.4g</text>\n", x0 + p, y0 + CELL + 14, v);
    }
}

int corner_svg_write(FILE *f, const nlsq_mcmc_result *mc, const char *const *names)
{
    int nf = 0, idx[64];
    for (int j = 0; j < mc->n && nf < 64; j++)
        if (!isnan(mc->tau[j]) || mc->sd[j] > 0) idx[nf++] = j;
    double lo[64], hi[64];
    long *grid = malloc(BINS * BINS * sizeof *grid);
    if (!grid) return -1;
    for (int a = 0; a < nf; a++) value_range(mc, idx[a], &lo[idx[a]], &hi[idx[a]]);
    int width = MARGIN_L + nf * (CELL + PAD) + PAD, height = MARGIN_T + nf * (CELL + PAD) + MARGIN_B;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n",
            width, height, width, height);
    fputs("<style>.frame{fill:none;stroke:#333;stroke-width:1}.bar{fill:#4a78b5}.dens{fill:#1f3f73}"
          ".med{stroke:#c0392b;stroke-width:1.5}.q{stroke:#c0392b;stroke-dasharray:4 3}"
          ".tl{text-anchor:end;fill:#444}.tb{text-anchor:middle;fill:#444}.name{text-anchor:middle;font-size:13}"
          "</style>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
          f);
    for (int r = 0; r < nf; r++)
        for (int c = 0; c <= r; c++) {
            double x0 = MARGIN_L + c * (CELL + PAD), y0 = MARGIN_T + r * (CELL + PAD);
            if (r == c)
                diagonal(f, mc, idx[r], lo[idx[r]], hi[idx[r]], x0, y0);
            else
                pair(f, mc, idx[c], idx[r], lo, hi, x0, y0, grid);
            frame(f, x0, y0);
            if (r == nf - 1) {
                tick_labels(f, lo[idx[c]], hi[idx[c]], x0, y0, 0);
                fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"name\">", x0 + CELL / 2.0, y0 + CELL + 36.0);
                svg_xml_text(f, names[idx[c]]);
                fputs("</text>\n", f);
            }
            if (c == 0 && r > 0) {
                tick_labels(f, lo[idx[r]], hi[idx[r]], x0, y0, 1);
                fprintf(f, "<text x=\"14\" y=\"%.1f\" class=\"name\" transform=\"rotate(-90 14 %.1f)\">",
                        y0 + CELL / 2.0, y0 + CELL / 2.0);
                svg_xml_text(f, names[idx[r]]);
                fputs("</text>\n", f);
            }
        }
    fputs("</svg>\n", f);
    free(grid);
    return ferror(f) ? -1 : 0;
}
