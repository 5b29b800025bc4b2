/*
 * Results into HDF5 from the command (docs/data-formats.md, "Results in
 * HDF5"): `nlsq fit --output FILE.h5` and `nlsq batch --out FILE.h5`,
 * through the library's nlsq_result_write_hdf5 and
 * nlsq_batch_result_write_hdf5 (which write atomically, or into a new
 * group of an existing file). Kept apart from fit.c and cmd_batch.c,
 * which call in at one place each.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "present.h"

#define AT(field) offsetof(cli, field)

static const option hdf5_options[] = {
    {"--output", "FILE.h5", ARG_TEXT, AT(h5.path),
     .help = "write the result into an HDF5 file: popt, pcov, the\ndiagnostics, the model and the options "
             "(replaced\natomically; docs/data-formats.md)"},
    {"--output-group", "GROUP", ARG_TEXT, AT(h5.group), .help = "the group the result goes into (default /)"},
    {"--output-append", NULL, ARG_FLAG, AT(h5.append),
     .help =
         "add the group to an existing --output file (it must\nbe a new group; the file is kept if the write fails)",
     .set = 1},
    {"--output-predictions", NULL, ARG_FLAG, AT(h5.predictions),
     .help = "also write x, y, fit and residual for every row into\nGROUP/predictions (streamed: any size)", .set = 1},
    {NULL},
};
const option_group group_hdf5_output = {"results into HDF5", hdf5_options};

int hdf5_output_check(const cli *c)
{
    if (!c->h5.path) {
        const char *alone = c->h5.group       ? "--output-group"
                          : c->h5.append      ? "--output-append"
                          : c->h5.predictions ? "--output-predictions"
                                              : NULL;
        return alone ? die("%s needs --output FILE.h5", alone) : 0;
    }
    if (!nlsq_have_hdf5())
        return die("--output %s: this nlsq was built without HDF5; install libhdf5-dev and rebuild", c->h5.path);
    if (strcmp(c->h5.path, "-") == 0)
        return die("--output -: an HDF5 file cannot be the standard output (it is written by seeking); name a file");
    return 0;
}

/* The fit's options as the file records them: --p0's array only when the
   user gave start values (c->opt.p0 is set by --p0 or its estimate). */
int hdf5_output_write(const cli *c, const dataset *d, const nlsq_result *r)
{
    const char *inputs[MAX_DATA_FILES];
    size_t n = 0;
    if (!c->text) {
        inputs[n++] = c->data;
        for (int k = 0; k < c->nmore; k++) inputs[n++] = c->more[k];
    }
    nlsq_columns cols = nlsq_columns_default();
    cols.x = d->xc;
    cols.y = d->yc;
    cols.sigma = d->sc;
    nlsq_hdf5_write_options o = nlsq_hdf5_write_options_default();
    o.mode = c->h5.append ? NLSQ_HDF5_APPEND : NLSQ_HDF5_REPLACE;
    o.model_text = c->model;
    o.data_name = c->text ? "demo" : c->data;
    o.fit = &c->opt;
    o.level = bands_level(c);
    o.predictions = c->h5.predictions;
    o.source = d->src;
    o.columns = &cols;
    o.inputs = inputs;
    o.n_inputs = n;
    nlsq_error err;
    if (nlsq_result_write_hdf5(c->h5.path, c->h5.group, d->m, r, &o, &err) != NLSQ_OK)
        return die("--output: %s", err.message);
    return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a > b && strcmp(s + a - b, suffix) == 0;
}

int batch_hdf5_wanted(const cli *c)
{
    if (c->format_jsonl >= 0) return c->format_jsonl == 2;
    static const char *const names[] = {".h5", ".hdf5", ".hdf", ".he5", ".nxs", ".nx5"};
    for (size_t k = 0; c->out && k < sizeof names / sizeof names[0]; k++)
        if (has_suffix(c->out, names[k])) return 1;
    return 0;
}

int batch_hdf5_check(const cli *c)
{
    if (!batch_hdf5_wanted(c)) return 0;
    if (!c->out || strcmp(c->out, "-") == 0)
        return die("--format hdf5 needs --out FILE.h5 (an HDF5 file cannot be the standard output)");
    if (!nlsq_have_hdf5())
        return die("--out %s: this nlsq was built without HDF5; install libhdf5-dev and rebuild", c->out);
    return 0;
}

int batch_hdf5_write(const cli *c, const dataset *D, const nlsq_batch *b, const nlsq_batch_result *r, const double *ids,
                     const int *curve_cols)
{
    const char **names = NULL;
    if (!ids) {
        names = malloc((r->nfits ? r->nfits : 1) * sizeof *names);
        if (!names) return die("out of memory");
        for (size_t i = 0; i < r->nfits; i++) names[i] = nlsq_source_column_name(D->src, curve_cols[i]);
    }
    nlsq_hdf5_write_options o = nlsq_hdf5_write_options_default();
    o.model_text = c->model;
    o.data_name = c->data;
    o.fit = &c->opt;
    o.level = 0;
    o.sigma_kind = D->sc >= 0 ? NLSQ_SIGMA_PER_POINT : NLSQ_SIGMA_NONE;
    o.source = D->src;
    o.inputs = &c->data;
    o.n_inputs = 1;
    nlsq_error err;
    nlsq_status st = nlsq_batch_result_write_hdf5(c->out, "/", D->m, r, b, ids, names, &o, &err);
    free(names);
    return st == NLSQ_OK ? 0 : die("--out: %s", err.message);
}
