/*
 * What a fit shows while it runs, on stderr (stdout may carry JSON): the
 * progress bar, after a second (or at once with --progress) and redrawn
 * in place, and with --verbose one line per iteration.
 */
#define _POSIX_C_SOURCE 200809L /* isatty */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "progress.h"

void watcher_clear(watcher *w)
{
    if (w->shown) fprintf(stderr, "\r\033[K");
    w->shown = 0;
}

static int bar_progress(void *user, const nlsq_progress *p)
{
    watcher *w = user;
    if (w->mode == 0 && p->elapsed < 1.0) return 0;
    enum { WIDTH = 24 };
    int filled = (int)(p->pass_fraction * WIDTH + 0.5);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '-';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\r[%s] %3.0f%% of pass %d, iteration %d, cost %.6g, %.1f s", bar, 100 * p->pass_fraction, p->pass,
            p->iteration, p->cost, p->elapsed);
    if (p->pass_fraction < 1 && isfinite(p->pass_remaining))
        fprintf(stderr, ", pass ends in %.1f s", p->pass_remaining);
    fprintf(stderr, "\033[K");
    fflush(stderr);
    w->shown = 1;
    return 0;
}

/* --verbose: cost, its reduction, the step and the optimality. */
static int iteration_line(void *user, int it, double cost, const double *p, double gnorm, double step)
{
    watcher *w = user;
    (void)p;
    watcher_clear(w);
    fprintf(stderr, "iteration %4d  cost %.12g  ", it, cost);
    if (w->started)
        fprintf(stderr, "reduction %.3g  ", w->last_cost - cost);
    else
        fprintf(stderr, "reduction -  ");
    fprintf(stderr, "step %.3g  optimality %.3g\n", step, gnorm);
    w->last_cost = cost;
    w->started = 1;
    return 0;
}

void watcher_start(watcher *w, const cli *c, nlsq_options *o)
{
    memset(w, 0, sizeof *w);
    w->mode = c->progress;
    if (c->verbose) {
        o->callback = iteration_line;
        o->callback_data = w;
    }
    if (c->progress > 0 || (c->progress == 0 && isatty(2) && !c->quiet)) {
        o->progress = bar_progress;
        o->progress_data = w;
        o->progress_interval = 0.2;
    }
}
