/* The progress bar and the --verbose iteration lines (progress.c). */
#ifndef NLSQ_TOOLS_PROGRESS_H
#define NLSQ_TOOLS_PROGRESS_H

#include "cli.h"

typedef struct watcher {
    int mode;  /* c->progress: -1 never, 0 on a terminal, 1 always */
    int shown; /* a bar is on the screen                         */
    int started;
    double last_cost;
} watcher;

/* Set o's callbacks for c's --verbose and --progress. */
void watcher_start(watcher *w, const cli *c, nlsq_options *o);
/* Remove the bar before anything else is printed. */
void watcher_clear(watcher *w);

#endif
