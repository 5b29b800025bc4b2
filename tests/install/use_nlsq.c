/* A user's program, built against an installed nlsq: a real fit of exact
   data, whose parameters it prints, and the header's version against the
   library's. Exit 0 only when both are right. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <nlsq.h>

int main(void)
{
    enum { M = 20 };
    double x[M], y[M];
    for (int i = 0; i < M; i++) {
        x[i] = 0.25 * i;
        y[i] = 2.5 * exp(-1.3 * x[i]) + 0.5;
    }
    nlsq_model *model = NULL;
    nlsq_error err;
    if (nlsq_model_parse("a*exp(-b*x) + c", NULL, &model, &err) != NLSQ_OK) {
        fprintf(stderr, "parse: %s\n", err.message);
        return 1;
    }
    nlsq_data data = {.x = x, .y = y, .m = M};
    nlsq_options opt = nlsq_options_default();
    double p0[3] = {1, 1, 0};
    opt.p0 = p0;
    nlsq_result *r = NULL;
    nlsq_status st = nlsq_curve_fit(model, &data, &opt, &r, &err);
    int ok = st == NLSQ_OK && r->success && fabs(r->popt[0] - 2.5) < 1e-8 && fabs(r->popt[1] - 1.3) < 1e-8 &&
             fabs(r->popt[2] - 0.5) < 1e-8 && strcmp(nlsq_version(), NLSQ_VERSION_STRING) == 0;
    if (st == NLSQ_OK)
        printf("nlsq %s: a=%.10g b=%.10g c=%.10g (%s)\n", nlsq_version(), r->popt[0], r->popt[1], r->popt[2],
               nlsq_fit_status_str(r->status));
    else
        fprintf(stderr, "fit: %s\n", err.message);
    nlsq_result_free(r);
    nlsq_model_free(model);
    return ok ? 0 : 1;
}
