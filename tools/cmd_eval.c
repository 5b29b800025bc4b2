/* nlsq eval: the model (and its Jacobian) at the data's x, as CSV on stdout
   (a write error there is found when the command ends, in nlsq.c). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "present.h"

static const option eval_options[] = {
    {"--jacobian", NULL, ARG_FLAG, offsetof(cli, jacobian),
     .help = "also the derivative columns d/dp of every parameter", .set = 1},
    {NULL},
};
static const option_group group_eval = {"output", eval_options};

const option_group *const eval_groups[] = {&group_model, &group_names, &group_x, &group_p0, &group_eval, NULL};

static void print_rows(const cli *c, const dataset *d, const double *x, const double *f, const double *J, size_t rows)
{
    for (int i = 0; i < d->k; i++) {
        csv_field(stdout, nlsq_source_column_name(d->src, d->xc[i]));
        putchar(',');
    }
    printf("f");
    for (int j = 0; c->jacobian && j < d->n; j++) printf(",d/d%s", nlsq_model_param_name(d->m, j));
    printf("\n");
    for (size_t r = 0; r < rows; r++) {
        for (int i = 0; i < d->k; i++) printf("%.17g,", x[(size_t)i * rows + r]);
        printf("%.17g", f[r]);
        for (int j = 0; c->jacobian && j < d->n; j++) printf(",%.17g", J[r * (size_t)d->n + (size_t)j]);
        printf("\n");
    }
}

int cmd_eval(const cli_env *env, int argc, char **argv)
{
    (void)env; /* runs alone */
    cli c;
    cli_init(&c, NULL);
    const char *pos[2];
    int npos, rc = options_parse(command_find("eval"), argc, argv, &c, pos, 2, &npos);
    if (rc) return rc < 0 ? 0 : rc;
    if ((rc = cli_take_data(&c, pos, npos, 0))) return rc;
    dataset d;
    double *p = NULL, *x = NULL, *f = NULL, *J = NULL;
    nlsq_error err;
    if ((rc = dataset_load(&c, 0, &d))) goto done;
    size_t rows = nlsq_source_num_rows(d.src), room = rows ? rows : 1;
    p = malloc((size_t)(d.n ? d.n : 1) * sizeof *p);
    x = malloc(room * (size_t)(d.k ? d.k : 1) * sizeof *x);
    f = malloc(room * sizeof *f);
    J = c.jacobian ? malloc(room * (size_t)(d.n ? d.n : 1) * sizeof *J) : NULL;
    if (!p || !x || !f || (c.jacobian && !J)) {
        rc = die("out of memory");
        goto done;
    }
    for (int v = 0; v < d.k; v++)
        if (nlsq_source_read(d.src, d.xc[v], 0, rows, x + (size_t)v * rows, &err) != NLSQ_OK) {
            rc = die("%s", err.message);
            goto done;
        }
    /* eval's own rule, not a fit's start: a parameter not given is 1 */
    for (int j = 0; j < d.n; j++) p[j] = 1;
    if (c.p0 && (rc = parse_assignments(c.p0, "--p0", d.m, p, NULL, NULL))) goto done;
    if (nlsq_model_eval(d.m, p, x, rows, f, J, &err) != NLSQ_OK) {
        rc = die("%s", err.message);
        goto done;
    }
    print_rows(&c, &d, x, f, J, rows);
done:
    dataset_free(&d);
    free(p);
    free(x);
    free(f);
    free(J);
    return rc;
}
