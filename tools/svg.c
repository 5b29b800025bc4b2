/*
 * The fit as a picture: a self-contained SVG with the data (and error bars
 * when sigma is known), the fitted curve on a fine grid, and a residual
 * panel beneath sharing the x axis; ticks at 1-2-5 steps (decades on log
 * axes), axis titles, and a legend with the model and its parameters.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "present.h"

enum { W = 860, H = 640, LEFT = 90, RIGHT = 30, TOP = 40, MAIN_H = 400, GAP = 30, RES_H = 120 };

typedef struct axis {
    double lo, hi;
    int log;
    double px0, px1; /* pixel positions of lo and hi */
} axis;

static double to_px(const axis *a, double v)
{
    double t = a->log ? (log10(v) - log10(a->lo)) / (log10(a->hi) - log10(a->lo)) : (v - a->lo) / (a->hi - a->lo);
    return a->px0 + t * (a->px1 - a->px0);
}

static int usable(const axis *a, double v)
{
    return isfinite(v) && (!a->log || v > 0);
}

/* Range of the usable values, padded by 5% (a decade fraction on log). */
static void fit_range(axis *a, const double *v, size_t n, const double *v2, size_t n2)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n + n2; i++) {
        double x = i < n ? v[i] : v2[i - n];
        if (!usable(a, x)) continue;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    if (!(lo <= hi)) {
        lo = a->log ? 1 : 0;
        hi = a->log ? 10 : 1;
    }
    if (a->log) {
        double l = log10(lo), h = log10(hi), pad = (h - l) * 0.05 + (h == l ? 0.5 : 0);
        a->lo = pow(10, l - pad);
        a->hi = pow(10, h + pad);
    } else {
        double pad = (hi - lo) * 0.05 + (hi == lo ? fmax(fabs(lo) * 0.1, 1) : 0);
        a->lo = lo - pad;
        a->hi = hi + pad;
    }
}

void svg_xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* Ticks at 1, 2 or 5 times a power of ten, about `want` of them; decades
   on log axes. Draws grid lines across [c0, c1] of the other direction. */
static void ticks(FILE *f, const axis *a, int vertical, double c0, double c1, int labels, int want)
{
    double vals[64];
    int n = 0;
    if (a->log) {
        for (double e = ceil(log10(a->lo)); e <= floor(log10(a->hi)) && n < 64; e++) vals[n++] = pow(10, e);
    } else {
        double raw = (a->hi - a->lo) / want, mag = pow(10, floor(log10(raw))), r = raw / mag;
        double step = (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
        for (double v = ceil(a->lo / step) * step; v <= a->hi + step * 1e-9 && n < 64; v += step)
            vals[n++] = fabs(v) < step * 1e-9 ? 0 : v;
    }
    for (int i = 0; i < n; i++) {
        double p = to_px(a, vals[i]);
        if (vertical) {
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", c0, p, c1, p);
            if (labels) fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tl\">%g</text>\n", c0 - 6, p + 4, vals[i]);
        } else {
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>\n", p, c0, p, c1);
            if (labels) fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"tb\">%g</text>\n", p, c1 + 16, vals[i]);
        }
    }
}

static void frame(FILE *f, double x0, double y0, double x1, double y1)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n", x0, y0, x1 - x0,
            y1 - y0);
}

static void points(FILE *f, const axis *ax, const axis *ay, const double *x, const double *y, const double *err,
                   size_t m, const char *cls)
{
    for (size_t i = 0; i < m; i++) {
        if (!usable(ax, x[i]) || !usable(ay, y[i])) continue;
        double px = to_px(ax, x[i]), py = to_px(ay, y[i]);
        if (err && isfinite(err[i]) && usable(ay, y[i] - err[i]) && usable(ay, y[i] + err[i]))
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"err\"/>\n", px,
                    to_px(ay, y[i] - err[i]), px, to_px(ay, y[i] + err[i]));
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.6\" class=\"%s\"/>\n", px, py, cls);
    }
}

static void curve(FILE *f, const axis *ax, const axis *ay, const double *x, const double *y, size_t n, const char *cls)
{
    int open = 0;
    for (size_t i = 0; i < n; i++) {
        if (!usable(ax, x[i]) || !usable(ay, y[i])) { /* break the line at gaps */
            if (open) fputs("\"/>\n", f);
            open = 0;
            continue;
        }
        if (!open) fprintf(f, "<polyline class=\"%s\" points=\"", cls);
        fprintf(f, "%s%.1f,%.1f", open ? " " : "", to_px(ax, x[i]), to_px(ay, y[i]));
        open = 1;
    }
    if (open) fputs("\"/>\n", f);
}

/* A shaded band between lo and hi: one polygon per run of points where
   both limits can be drawn (the upper limit left to right, the lower
   back). */
static void band(FILE *f, const axis *ax, const axis *ay, const double *x, const double *lo, const double *hi, size_t n,
                 const char *cls)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && !(usable(ax, x[i]) && usable(ay, lo[i]) && usable(ay, hi[i]))) i++;
        size_t start = i;
        while (i < n && usable(ax, x[i]) && usable(ay, lo[i]) && usable(ay, hi[i])) i++;
        if (i - start < 2) continue;
        fprintf(f, "<polygon class=\"%s\" points=\"", cls);
        for (size_t k = start; k < i; k++) fprintf(f, "%.1f,%.1f ", to_px(ax, x[k]), to_px(ay, hi[k]));
        for (size_t k = i; k-- > start;)
            fprintf(f, "%.1f,%.1f%s", to_px(ax, x[k]), to_px(ay, lo[k]), k > start ? " " : "");
        fputs("\"/>\n", f);
    }
}

/* The bands' entries in the legend: a swatch and the name. */
static double legend_bands(FILE *f, const plot_data *pd, double x, double y)
{
    const char *cls[2] = {"bconf", "bpred"}, *what[2] = {"confidence band", "prediction band"};
    const double *have[2] = {pd->conf_lo, pd->pred_lo};
    for (int b = 0; b < 2; b++) {
        if (!have[b]) continue;
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"24\" height=\"10\" class=\"%s\"/>", x, y - 9, cls[b]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%g%% %s</text>\n", x + 30, y, 100 * pd->level, what[b]);
        y += 16;
    }
    return y;
}

static int band_rows(const plot_data *pd)
{
    return pd->ngrid ? (pd->conf_lo != NULL) + (pd->pred_lo != NULL) : 0;
}

int svg_write(FILE *f, const plot_data *pd)
{
    axis ax = {0, 0, pd->logx, LEFT, W - RIGHT}, ay = {0, 0, pd->logy, TOP + MAIN_H, TOP};
    fit_range(&ax, pd->x, pd->m, pd->grid_x, pd->ngrid);
    fit_range(&ay, pd->y, pd->m, pd->grid_f, pd->ngrid);
    double rmax = 0;
    for (size_t i = 0; i < pd->m; i++)
        if (isfinite(pd->resid[i])) rmax = fmax(rmax, fabs(pd->resid[i]) + (pd->sigma ? fabs(pd->sigma[i]) : 0));
    if (rmax == 0) rmax = 1;
    double r0 = TOP + MAIN_H + GAP;
    axis ar = {-1.1 * rmax, 1.1 * rmax, 0, r0 + RES_H, r0};
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n"
            "<style>text{font-family:sans-serif;font-size:12px;fill:#222}"
            ".tl{text-anchor:end}.tb{text-anchor:middle}.title{font-size:14px;font-weight:bold}"
            ".grid{stroke:#e4e4e4;stroke-width:1}.frame{fill:none;stroke:#444;stroke-width:1}"
            ".data{fill:#1f5fa8}.res{fill:#1f5fa8}.err{stroke:#7fa6d4;stroke-width:1}"
            ".fit{fill:none;stroke:#d2452d;stroke-width:2}.fitpt{fill:#d2452d}.zero{stroke:#d2452d;stroke-width:1.5}"
            ".legend{fill:#ffffff;fill-opacity:0.85;stroke:#aaa}"
            ".c0,.c1,.c2,.c3,.c4,.c5,.c6,.c7{fill:none;stroke-width:1.5;stroke-dasharray:6 3}"
            ".c0{stroke:#2a9d3c}.c1{stroke:#8e44ad}.c2{stroke:#e08a00}.c3{stroke:#16a2b8}"
            ".c4{stroke:#7a5230}.c5{stroke:#c2185b}.c6{stroke:#607d8b}.c7{stroke:#9e9d24}"
            ".bconf{fill:#d2452d;fill-opacity:0.28;stroke:none}.bpred{fill:#d2452d;fill-opacity:0.10;stroke:none}"
            ".b0,.b1,.b2,.b3,.b4,.b5,.b6,.b7{fill-opacity:0.16;stroke:none}"
            ".b0{fill:#2a9d3c}.b1{fill:#8e44ad}.b2{fill:#e08a00}.b3{fill:#16a2b8}"
            ".b4{fill:#7a5230}.b5{fill:#c2185b}.b6{fill:#607d8b}.b7{fill:#9e9d24}</style>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
            W, H, W, H);
    fputs("<text x=\"90\" y=\"24\" class=\"title\">", f);
    svg_xml_text(f, pd->title);
    fputs("</text>\n", f);
    /* main panel */
    ticks(f, &ax, 0, TOP, TOP + MAIN_H, 0, 6);
    ticks(f, &ay, 1, LEFT, W - RIGHT, 1, 6);
    frame(f, LEFT, TOP, W - RIGHT, TOP + MAIN_H);
    if (pd->ngrid && pd->pred_lo) band(f, &ax, &ay, pd->grid_x, pd->pred_lo, pd->pred_hi, pd->ngrid, "bpred");
    if (pd->ngrid && pd->conf_lo) band(f, &ax, &ay, pd->grid_x, pd->conf_lo, pd->conf_hi, pd->ngrid, "bconf");
    for (int c = 0; pd->ngrid && pd->comp_lo && c < pd->ncomp; c++) {
        char cls[16];
        snprintf(cls, sizeof cls, "b%d", c);
        band(f, &ax, &ay, pd->grid_x, pd->comp_lo + (size_t)c * pd->ngrid, pd->comp_hi + (size_t)c * pd->ngrid,
             pd->ngrid, cls);
    }
    points(f, &ax, &ay, pd->x, pd->y, pd->sigma, pd->m, "data");
    for (int c = 0; pd->ngrid && c < pd->ncomp; c++) {
        char cls[16];
        snprintf(cls, sizeof cls, "c%d", c);
        curve(f, &ax, &ay, pd->grid_x, pd->comp_f + (size_t)c * pd->ngrid, pd->ngrid, cls);
    }
    if (pd->ngrid)
        curve(f, &ax, &ay, pd->grid_x, pd->grid_f, pd->ngrid, "fit");
    else
        points(f, &ax, &ay, pd->x, pd->fit, NULL, pd->m, "fitpt");
    /* residual panel */
    ticks(f, &ax, 0, r0, r0 + RES_H, 1, 6);
    ticks(f, &ar, 1, LEFT, W - RIGHT, 1, 3);
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"zero\"/>\n", LEFT, to_px(&ar, 0), W - RIGHT,
            to_px(&ar, 0));
    frame(f, LEFT, r0, W - RIGHT, r0 + RES_H);
    points(f, &ax, &ar, pd->x, pd->resid, pd->sigma, pd->m, "res");
    /* axis titles */
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tb\">", (LEFT + W - RIGHT) / 2.0, H - 12);
    svg_xml_text(f, pd->xlabel);
    fprintf(f, "</text>\n<text transform=\"translate(22,%.1f) rotate(-90)\" class=\"tb\">", TOP + MAIN_H / 2.0);
    svg_xml_text(f, pd->ylabel);
    fprintf(f, "</text>\n<text transform=\"translate(22,%.1f) rotate(-90)\" class=\"tb\">residual</text>\n",
            r0 + RES_H / 2.0);
    /* legend: the fit's parameters, top right */
    size_t longest = 12;
    for (int k = 0; k < pd->nlegend; k++) longest = strlen(pd->legend[k]) > longest ? strlen(pd->legend[k]) : longest;
    double lw = fmin(20 + 6.9 * (double)longest, W - RIGHT - LEFT - 16); /* ~6.9 px a character at 12 px */
    double lh = 22 + 16.0 * (pd->nlegend + pd->ncomp + band_rows(pd)), lx = W - RIGHT - lw - 8, ly = TOP + 8;
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"legend\"/>\n", lx, ly, lw, lh);
    fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" class=\"data\"/><text x=\"%.1f\" y=\"%.1f\">data</text>\n",
            lx + 14, ly + 14, lx + 24, ly + 18);
    fprintf(
        f,
        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"fit\"/><text x=\"%.1f\" y=\"%.1f\">fit</text>\n",
        lx + 80, ly + 14, lx + 104, ly + 14, lx + 110, ly + 18);
    for (int k = 0; k < pd->nlegend; k++) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", lx + 10, ly + 36 + 16.0 * k);
        svg_xml_text(f, pd->legend[k]);
        fputs("</text>\n", f);
    }
    for (int c = 0; c < pd->ncomp; c++) { /* a sample of each component's line, and its name */
        double y = ly + 36 + 16.0 * (pd->nlegend + c);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"c%d\"/><text x=\"%.1f\" y=\"%.1f\">",
                lx + 10, y - 4, lx + 34, y - 4, c, lx + 40, y);
        svg_xml_text(f, pd->comp_names[c]);
        fputs("</text>\n", f);
    }
    if (pd->ngrid) legend_bands(f, pd, lx + 10, ly + 36 + 16.0 * (pd->nlegend + pd->ncomp));
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}
