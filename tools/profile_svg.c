/*
 * The 2-D profile as a picture: the confidence regions {prob <= level} of
 * a parameter pair as contour lines (marching squares on the grid, the
 * crossing on each cell edge by linear interpolation, a saddle cell split
 * by its centre's value), the best fit marked, axes with 1-2-5 ticks.
 */
#include <math.h>
#include <stdio.h>

#include "present.h"

enum { W = 640, H = 560, LEFT = 90, RIGHT = 150, TOP = 40, BOTTOM = 60 };

typedef struct frame_map {
    double lo, hi, px0, px1;
} frame_map;

static double px(const frame_map *a, double v)
{
    return a->px0 + (v - a->lo) / (a->hi - a->lo) * (a->px1 - a->px0);
}

/* Ticks at 1, 2 or 5 times a power of ten, about 6 of them. */
static void axis_ticks(FILE *f, const frame_map *a, int vertical, double c0, double c1)
{
    double raw = (a->hi - a->lo) / 6, mag = pow(10, floor(log10(raw))), r = raw / mag;
    double step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
    for (double v = ceil(a->lo / step) * step; v <= a->hi + step * 1e-9; v += step) {
        double t = fabs(v) < step * 1e-9 ? 0 : v, p = px(a, t);
        if (vertical)
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n"
                    "<text x=\"%.1f\" y=\"%.1f\" class=\"tl\">%.6g</text>\n",
                    c0, p, c1, p, c0 - 6, p + 4, t);
        else
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n"
                    "<text x=\"%.1f\" y=\"%.1f\" class=\"tb\">%.6g</text>\n",
                    p, c0, p, c1, p, c1 + 16, t);
    }
}

/* Where the level crosses the edge from value u (at 0) to w (at 1). */
static double crossing(double u, double w, double level)
{
    return (level - u) / (w - u);
}

/* One cell's segments for one level. Corners: 0 (i, j), 1 (i+1, j),
   2 (i+1, j+1), 3 (i, j+1); an edge e joins corners e and e+1. */
static void cell(FILE *f, const frame_map *ax, const frame_map *ay, const nlsq_profile2d_result *p, int i, int j,
                 double level)
{
    int nx = p->nx;
    double v[4] = {p->prob[(size_t)j * nx + i], p->prob[(size_t)j * nx + i + 1], p->prob[(size_t)(j + 1) * nx + i + 1],
                   p->prob[(size_t)(j + 1) * nx + i]};
    double cx[4] = {p->a_values[i], p->a_values[i + 1], p->a_values[i + 1], p->a_values[i]};
    double cy[4] = {p->b_values[j], p->b_values[j], p->b_values[j + 1], p->b_values[j + 1]};
    int code = 0;
    for (int k = 0; k < 4; k++) {
        if (isnan(v[k])) return; /* a failed refit: no line through its cells */
        code |= (v[k] > level) << k;
    }
    if (code == 0 || code == 15) return;
    /* the edges the level crosses, in order around the cell */
    int cross[4], nc = 0;
    for (int e = 0; e < 4; e++)
        if (((code >> e) & 1) != ((code >> ((e + 1) & 3)) & 1)) cross[nc++] = e;
    double ex[4], ey[4];
    for (int q = 0; q < nc; q++) {
        int e = cross[q], a = e, b = (e + 1) & 3;
        double t = crossing(v[a], v[b], level);
        ex[q] = cx[a] + t * (cx[b] - cx[a]);
        ey[q] = cy[a] + t * (cy[b] - cy[a]);
    }
    int pairs[2][2] = {{0, 1}, {2, 3}};
    if (nc == 4) {
        /* a saddle: the centre decides which corners the region joins */
        double centre = 0.25 * (v[0] + v[1] + v[2] + v[3]);
        int c0_above = (code & 1) != 0;
        if ((centre > level) != c0_above) { pairs[0][0] = 0, pairs[0][1] = 3, pairs[1][0] = 1, pairs[1][1] = 2; }
    }
    for (int s = 0; s < nc / 2; s++) {
        int a = pairs[s][0], b = pairs[s][1];
        fprintf(f, "M%.1f %.1fL%.1f %.1f", px(ax, ex[a]), px(ay, ey[a]), px(ax, ex[b]), px(ay, ey[b]));
    }
}

int profile_svg_write(FILE *f, const nlsq_model *m, const nlsq_result *r, const nlsq_profile2d_result *p,
                      const double *levels, int nlevels)
{
    static const char *const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
    frame_map ax = {p->a_values[0], p->a_values[p->nx - 1], LEFT, W - RIGHT};
    frame_map ay = {p->b_values[0], p->b_values[p->ny - 1], H - BOTTOM, TOP};
    const char *an = nlsq_model_param_name(m, p->a), *bn = nlsq_model_param_name(m, p->b);
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", W, H, W,
            H);
    fputs("<style>text{font:12px sans-serif}.tl{text-anchor:end}.tb{text-anchor:middle}"
          ".grid{stroke:#e5e5e5}.frame{fill:none;stroke:#333}.c{fill:none;stroke-width:1.8}</style>\n"
          "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
          f);
    fprintf(f, "<text x=\"%d\" y=\"24\" class=\"tb\">2-D profile: confidence regions of %s, %s (%s)</text>\n",
            (LEFT + W - RIGHT) / 2, an, bn, p->absolute_sigma ? "delta chi-square" : "F-test");
    axis_ticks(f, &ay, 1, LEFT, W - RIGHT);
    axis_ticks(f, &ax, 0, TOP, H - BOTTOM);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" class=\"frame\"/>\n", LEFT, TOP, W - RIGHT - LEFT,
            H - BOTTOM - TOP);
    fprintf(f, "<text x=\"%d\" y=\"%d\" class=\"tb\">%s</text>\n", (LEFT + W - RIGHT) / 2, H - 18, an);
    fprintf(f, "<text x=\"20\" y=\"%d\" class=\"tb\" transform=\"rotate(-90 20 %d)\">%s</text>\n",
            (TOP + H - BOTTOM) / 2, (TOP + H - BOTTOM) / 2, bn);
    for (int k = 0; k < nlevels; k++) {
        fprintf(f, "<path class=\"c\" stroke=\"%s\" d=\"", colors[k % 6]);
        for (int j = 0; j + 1 < p->ny; j++)
            for (int i = 0; i + 1 < p->nx; i++) cell(f, &ax, &ay, p, i, j, levels[k]);
        fputs("\"/>\n", f);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>"
                "<text x=\"%d\" y=\"%d\">%.4g%%</text>\n",
                W - RIGHT + 12, TOP + 14 + 20 * k, W - RIGHT + 36, TOP + 14 + 20 * k, colors[k % 6], W - RIGHT + 42,
                TOP + 18 + 20 * k, 100 * levels[k]);
    }
    double bx = px(&ax, r->popt[p->a]), by = px(&ay, r->popt[p->b]);
    fprintf(f, "<path d=\"M%.1f %.1fh10M%.1f %.1fv10\" stroke=\"black\" stroke-width=\"1.5\"/>\n", bx - 5, by, bx,
            by - 5);
    fprintf(f, "<text x=\"%d\" y=\"%d\">+ best fit</text>\n", W - RIGHT + 12, TOP + 18 + 20 * nlevels);
    if (p->failed)
        fprintf(f, "<text x=\"%d\" y=\"%d\">%d refits failed</text>\n", W - RIGHT + 12, TOP + 38 + 20 * nlevels,
                p->failed);
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}
