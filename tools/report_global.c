/* The global search's part of the report (nlsq fit --global): how many
   starts reached the best minimum and the distinct minima, in text and
   as the JSON object "global" (docs/cli.md). */
#include <math.h>
#include <stdio.h>

#include "present.h"

/* Minima listed in the text report; the JSON has them all. */
#define TEXT_MINIMA 10

void report_global_text(FILE *out, const nlsq_model *m, const nlsq_result *r)
{
    const nlsq_global_summary *g = r->global;
    if (!g) return;
    fprintf(out, "\n  global search (%s", g->method == NLSQ_GLOBAL_CMAES ? "cmaes" : "multistart");
    if (g->method == NLSQ_GLOBAL_MULTISTART) fprintf(out, ", %s design", nlsq_design_name(g->design));
    fprintf(out, ", seed %llu): %d start%s, %d at the best minimum, %d distinct minim%s\n", (unsigned long long)g->seed,
            g->starts, g->starts == 1 ? "" : "s", g->at_best, g->n_minima, g->n_minima == 1 ? "um" : "a");
    fprintf(out, "    %d shared passes evaluating %d parameter vectors", g->shared_passes, g->evaluations);
    if (g->rungs) fprintf(out, "; successive halving: %d rungs from %zu points", g->rungs, g->sample_points);
    fprintf(out, "; %.3g s in all\n", g->seconds);
    fprintf(out, "    (the fit above is the best start refined on all the data: its evaluations are the "
                 "refinement's)\n");
    if (g->sample_points != r->m)
        fprintf(out, "    (the minima's costs are on the first rung's sample of %zu points)\n", g->sample_points);
    for (int i = 0; i < g->n_minima && i < TEXT_MINIMA; i++) {
        fprintf(out, "    %2d. cost %-14.8g %3d start%s ", i + 1, g->minima_cost[i], g->minima_count[i],
                g->minima_count[i] == 1 ? ": " : "s:");
        for (int j = 0; j < g->n; j++)
            fprintf(out, "%s%s=%.6g", j ? ", " : "", nlsq_model_param_name(m, j),
                    g->minima_params[(size_t)i * g->n + j]);
        fputc('\n', out);
    }
    if (g->n_minima > TEXT_MINIMA) fprintf(out, "    ... %d more (--json lists them all)\n", g->n_minima - TEXT_MINIMA);
}

void report_global_json(FILE *out, const nlsq_result *r)
{
    const nlsq_global_summary *g = r->global;
    if (!g) return;
    fprintf(out,
            ",\n  \"global\": {\"method\": \"%s\", \"design\": \"%s\", \"seed\": %llu, \"starts\": %d, "
            "\"at_best\": %d, \"rungs\": %d, \"sample_points\": %zu, \"shared_passes\": %d, "
            "\"evaluations\": %d, \"seconds\": ",
            g->method == NLSQ_GLOBAL_CMAES ? "cmaes" : "multistart", nlsq_design_name(g->design),
            (unsigned long long)g->seed, g->starts, g->at_best, g->rungs, g->sample_points, g->shared_passes,
            g->evaluations);
    json_number(out, g->seconds);
    fputs(",\n    \"minima\": [", out);
    for (int i = 0; i < g->n_minima; i++) {
        fputs(i ? ",\n      {\"cost\": " : "\n      {\"cost\": ", out);
        json_number(out, g->minima_cost[i]);
        fprintf(out, ", \"starts\": %d, \"params\": [", g->minima_count[i]);
        for (int j = 0; j < g->n; j++) {
            if (j) fputs(", ", out);
            json_number(out, g->minima_params[(size_t)i * g->n + j]);
        }
        fputs("]}", out);
    }
    fputs("\n    ]}", out);
}
