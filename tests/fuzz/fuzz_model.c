/*
 * libFuzzer target over the parser, the builder, AD, the scheduler and the
 * interpreter. The first byte picks the path:
 *   even: the rest is model text (variables "x" or "x,y"), parsed; a model
 *         that parses is evaluated at a few points and parameter values,
 *         including zeros, infinities and NaN, and dumped.
 *   odd:  the rest is a little program of builder calls (ops and handles
 *         taken from the bytes, valid or not), finished and evaluated.
 * Nothing may crash, leak, or trip a sanitizer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nlsq.h"

static const double POINTS[] = {0.0, -0.0, 1.0, -1.5, 0.5, 1e-300, 1e300, 3.0};
#define NPTS 8

static void exercise(nlsq_model *m)
{
    int n = nlsq_model_num_params(m), k = nlsq_model_num_vars(m);
    if (n > 64 || k > 2) return;
    double x[2 * NPTS], f[NPTS], *J = malloc(sizeof(double) * NPTS * (size_t)(n ? n : 1));
    double p[64];
    static const double PVALS[] = {0.0, 1.0, -2.0, 1e-8, 1e8, __builtin_inf(), __builtin_nan("")};
    for (int i = 0; i < NPTS; i++) {
        x[i] = POINTS[i];
        x[NPTS + i] = POINTS[(i + 3) % NPTS];
    }
    for (size_t v = 0; v < sizeof PVALS / sizeof PVALS[0]; v++) {
        for (int j = 0; j < n; j++) p[j] = j % 2 ? PVALS[v] : PVALS[(v + j) % 7];
        nlsq_model_eval(m, p, x, NPTS, f, J, NULL);
    }
    char buf[256];
    nlsq_model_dump(m, buf, sizeof buf);
    nlsq_model_stats st;
    nlsq_model_get_stats(m, &st, NULL);
    free(J);
}

static void fuzz_text(const uint8_t *data, size_t size, int two_vars)
{
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = two_vars ? "x,y" : "x";
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse_n((const char *)data, size, &o, &m, &e) == NLSQ_OK) exercise(m);
    nlsq_model_free(m);
}

static void fuzz_builder(const uint8_t *data, size_t size)
{
    nlsq_builder *b = NULL;
    if (nlsq_builder_new(&b, NULL) != NLSQ_OK) return;
    nlsq_expr h[64];
    int nh = 0;
    static const char *names[] = {"x", "y", "a", "b", "c", "exp", "2z", ""};
    h[nh++] = nlsq_builder_var(b, "x");
    for (size_t i = 0; i + 2 < size && nh < 64; i += 3) {
        uint8_t code = data[i], u = data[i + 1], v = data[i + 2];
        nlsq_expr r;
        switch (code % 6) {
        case 0: r = nlsq_builder_var(b, names[u % 8]); break;
        case 1: r = nlsq_builder_param(b, names[u % 8]); break;
        case 2: r = nlsq_builder_const(b, (double)(int8_t)u / (1 + v)); break;
        case 3: r = nlsq_builder_op1(b, (nlsq_op)(u % (NLSQ_OP_COUNT + 2)), h[v % nh]); break;
        case 4: r = nlsq_builder_op2(b, (nlsq_op)(u % (NLSQ_OP_COUNT + 2)), h[v % nh], h[(v / 7) % nh]); break;
        default: r = nlsq_builder_where(b, h[u % nh], h[v % nh], h[(u + v) % nh]); break;
        }
        h[nh++] = r;
    }
    nlsq_model *m = NULL;
    if (nlsq_builder_finish(b, h[nh - 1], &m, NULL) == NLSQ_OK) exercise(m);
    nlsq_model_free(m);
    nlsq_builder_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    if (data[0] & 1)
        fuzz_builder(data + 1, size - 1);
    else
        fuzz_text(data + 1, size - 1, (data[0] & 2) != 0);
    return 0;
}
