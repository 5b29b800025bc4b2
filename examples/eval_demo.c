/*
 * eval_demo: parse a model, evaluate it and its exact Jacobian at the
 * points of a two-column CSV file (x,y; '#' comments and a header line are
 * skipped), and show the residuals and the program nlsq runs per point.
 *
 *   eval_demo DATA.csv [MODEL] [p1=v1,p2=v2,...]
 *
 * The fitting engine (issue 3) will turn this into `nlsq fit`; until then
 * this is the library's model layer at work on real data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nlsq.h"

static int read_xy(const char *path, double **x, double **y, size_t *n)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        perror(path);
        return 0;
    }
    size_t cap = 64;
    *x = malloc(cap * sizeof **x);
    *y = malloc(cap * sizeof **y);
    *n = 0;
    char line[512];
    int lineno = 0;
    while (*x && *y && fgets(line, sizeof line, fp)) {
        lineno++;
        double a, b;
        if (line[0] == '#' || sscanf(line, "%lf , %lf", &a, &b) != 2) continue; /* comment or header */
        if (*n == cap) {
            cap *= 2;
            double *nx = realloc(*x, cap * sizeof **x), *ny = realloc(*y, cap * sizeof **y);
            if (nx) *x = nx;
            if (ny) *y = ny;
            if (!nx || !ny) break;
        }
        (*x)[*n] = a;
        (*y)[(*n)++] = b;
    }
    fclose(fp);
    if (*n == 0) fprintf(stderr, "%s: no x,y rows found in %d lines\n", path, lineno);
    return *n > 0;
}

/* "a=1,b=2" -> values in the model's parameter order; 1.0 where unset. */
static int parse_values(const nlsq_model *m, const char *spec, double *p)
{
    int n = nlsq_model_num_params(m);
    for (int j = 0; j < n; j++) p[j] = 1.0;
    while (spec && *spec) {
        const char *eq = strchr(spec, '=');
        if (!eq) break;
        int found = 0;
        for (int j = 0; j < n; j++) {
            const char *name = nlsq_model_param_name(m, j);
            if (strlen(name) == (size_t)(eq - spec) && strncmp(name, spec, (size_t)(eq - spec)) == 0) {
                p[j] = strtod(eq + 1, NULL);
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "no parameter '%.*s' in the model\n", (int)(eq - spec), spec);
            return 0;
        }
        spec = strchr(eq, ',');
        if (spec) spec++;
    }
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s DATA.csv [MODEL] [p1=v1,...]\n", argv[0]);
        return 2;
    }
    const char *text = argc > 2 ? argv[2] : "a*exp(-b*x) + c";
    const char *values = argc > 3 ? argv[3] : "a=2.5,b=1.3,c=0.5";
    double *x = NULL, *y = NULL;
    size_t n = 0;
    nlsq_model *m = NULL;
    nlsq_error err;
    int rc = 1;
    if (!read_xy(argv[1], &x, &y, &n)) goto done;
    if (nlsq_model_parse(text, NULL, &m, &err) != NLSQ_OK) {
        fprintf(stderr, "model: %s\n", err.message);
        goto done;
    }
    int np = nlsq_model_num_params(m);
    double p[64];
    if (np > 64 || !parse_values(m, values, p)) goto done;
    double *f = malloc(n * sizeof *f), *J = malloc(n * (size_t)np * sizeof *J);
    if (!f || !J || nlsq_model_eval(m, p, x, n, f, J, &err) != NLSQ_OK) {
        fprintf(stderr, "eval: %s\n", f && J ? err.message : "out of memory");
        free(f);
        free(J);
        goto done;
    }
    printf("model  %s\nparams", text);
    for (int j = 0; j < np; j++) printf(" %s=%g", nlsq_model_param_name(m, j), p[j]);
    printf("\n\n%8s %12s %12s %12s", "x", "y", "model", "residual");
    for (int j = 0; j < np; j++) printf(" %11s d/d%s", "", nlsq_model_param_name(m, j));
    printf("\n");
    double ss = 0;
    for (size_t i = 0; i < n; i++) {
        double r = y[i] - f[i];
        ss += r * r;
        printf("%8.3f %12.6f %12.6f %12.3e", x[i], y[i], f[i], r);
        for (int j = 0; j < np; j++) printf(" %16.9f", J[i * (size_t)np + (size_t)j]);
        printf("\n");
    }
    printf("\n%zu points, sum of squared residuals %.6g\n\n", n, ss);
    nlsq_model_stats st;
    nlsq_model_get_stats(m, &st, NULL);
    printf("per point: %d instructions (%d library calls); per evaluation: %d\n", st.point_instructions, st.point_calls,
           st.uniform_instructions);
    size_t need = nlsq_model_dump(m, NULL, 0);
    char *dump = malloc(need + 1);
    if (dump) {
        nlsq_model_dump(m, dump, need + 1);
        printf("%s", dump);
        free(dump);
    }
    free(f);
    free(J);
    rc = 0;
done:
    nlsq_model_free(m);
    free(x);
    free(y);
    return rc;
}
