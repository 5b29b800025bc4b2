/*
 * 10,000 randomly generated well-formed models. For each, a syntax tree is
 * made here, printed as text for the parser and walked in the parser's
 * order for the builder:
 *   - the builder and the parser must give identical programs;
 *   - the value must match an independent long double evaluation of the
 *     tree, and every dF/dp_j the Richardson-extrapolated central
 *     difference of that evaluation.
 * Points where the long double reference is not smooth or not well
 * conditioned (its own error estimate, or the double value disagreeing
 * with it) are skipped and counted; the test fails if too few remain.
 *
 * Bound: |d - D| <= 1e-6 * (|D| + 1e-3 * max(1, |f|)) at compared points.
 * A wrong derivative rule gives O(1) errors; conditioning gives < 1e-8.
 */
#define _DEFAULT_SOURCE
#include <float.h>
#include <math.h>

#include "check.h"
#include "model/model.h"
#include "program_equal.h"
#include "random_model.h"
#include "nlsq.h"

#define NMODELS 10000
#define NPOINTS 4

/* ---- builder: the same tree, in the parser's order -------------------- */

static nlsq_expr build(const tree *t, int id, nlsq_builder *b)
{
    const ast *n = &t->n[id];
    char name[8];
    switch (n->kind) {
    case LEAF_VAR: return nlsq_builder_var(b, n->index ? "y" : "x");
    case LEAF_PARAM: snprintf(name, sizeof name, "p%d", n->index); return nlsq_builder_param(b, name);
    case LEAF_CONST: /* the text "(-2.5)" is -(2.5): make the same nodes */
        if (signbit(n->value)) return nlsq_builder_op1(b, NLSQ_OP_NEG, nlsq_builder_const(b, -n->value));
        return nlsq_builder_const(b, n->value);
    }
    const op_info *info = op_get(n->op);
    if (n->powk) {
        nlsq_expr base = build(t, n->a[0], b);
        nlsq_expr k = n->powk < 0 ? nlsq_builder_op1(b, NLSQ_OP_NEG, nlsq_builder_const(b, -n->powk)) /* "^-2" */
                                  : nlsq_builder_const(b, n->powk);
        return nlsq_builder_op2(b, NLSQ_OP_POW, base, k);
    }
    nlsq_expr a0 = build(t, n->a[0], b);
    if (info->arity == 1) return nlsq_builder_op1(b, (nlsq_op)n->op, a0);
    nlsq_expr a1 = build(t, n->a[1], b);
    if (info->arity == 2) return nlsq_builder_op2(b, (nlsq_op)n->op, a0, a1);
    nlsq_expr a2 = build(t, n->a[2], b);
    return nlsq_builder_where(b, a0, a1, a2);
}

/* ---- the long double reference ------------------------------------------ */

static long double lsign(long double a)
{
    return a > 0 ? 1 : a < 0 ? -1 : a;
}

/*
 * Where an intermediate value is infinite or NaN, or an op is at a point
 * where its own derivative is infinite or undefined, AD through it is
 * documented to give inf or NaN even if the whole expression is smooth
 * (cbrt(p - p)); such points are not compared.
 */
static int singular_at(int op, long double a, long double b)
{
    switch (op) {
    case NLSQ_OP_SQRT:
    case NLSQ_OP_CBRT:
    case NLSQ_OP_LOG:
    case NLSQ_OP_LOG10:
    case NLSQ_OP_LOG2: return a == 0;
    case NLSQ_OP_LOG1P: return a == -1;
    case NLSQ_OP_ASIN:
    case NLSQ_OP_ACOS:
    case NLSQ_OP_ATANH: return fabsl(a) == 1;
    case NLSQ_OP_ACOSH: return a == 1;
    case NLSQ_OP_DIV: return b == 0;
    case NLSQ_OP_POW: return a == 0;
    case NLSQ_OP_HYPOT:
    case NLSQ_OP_ATAN2: return a == 0 && b == 0;
    }
    return 0;
}

static long double leval_op(const ast *n, long double a, long double b);

static long double leval(const tree *t, int id, const long double *xy, const long double *p, int *singular)
{
    const ast *n = &t->n[id];
    if (n->kind == LEAF_VAR) return xy[n->index];
    if (n->kind == LEAF_PARAM) return p[n->index];
    if (n->kind == LEAF_CONST) return n->value;
    long double a = leval(t, n->a[0], xy, p, singular), v;
    if (n->op == NLSQ_OP_WHERE) {
        v = a != 0 ? leval(t, n->a[1], xy, p, singular) : leval(t, n->a[2], xy, p, singular);
    } else {
        long double b = n->a[1] >= 0 ? leval(t, n->a[1], xy, p, singular) : 0;
        if (n->powk < 0 && a == 0) *singular = 1;
        if (singular_at(n->op, a, b)) *singular = 1;
        v = leval_op(n, a, b);
    }
    if (!isfinite(v)) *singular = 1;
    return v;
}

static long double leval_op(const ast *n, long double a, long double b)
{
    if (n->powk) return powl(a, n->powk);
    switch (n->op) {
    case NLSQ_OP_NEG: return -a;
    case NLSQ_OP_EXP: return expl(a);
    case NLSQ_OP_EXPM1: return expm1l(a);
    case NLSQ_OP_LOG: return logl(a);
    case NLSQ_OP_LOG1P: return log1pl(a);
    case NLSQ_OP_LOG10: return log10l(a);
    case NLSQ_OP_LOG2: return log2l(a);
    case NLSQ_OP_SQRT: return sqrtl(a);
    case NLSQ_OP_CBRT: return cbrtl(a);
    case NLSQ_OP_ABS: return fabsl(a);
    case NLSQ_OP_SIGN: return lsign(a);
    case NLSQ_OP_FLOOR: return floorl(a);
    case NLSQ_OP_CEIL: return ceill(a);
    case NLSQ_OP_SIN: return sinl(a);
    case NLSQ_OP_COS: return cosl(a);
    case NLSQ_OP_TAN: return tanl(a);
    case NLSQ_OP_ASIN: return asinl(a);
    case NLSQ_OP_ACOS: return acosl(a);
    case NLSQ_OP_ATAN: return atanl(a);
    case NLSQ_OP_SINH: return sinhl(a);
    case NLSQ_OP_COSH: return coshl(a);
    case NLSQ_OP_TANH: return tanhl(a);
    case NLSQ_OP_ASINH: return asinhl(a);
    case NLSQ_OP_ACOSH: return acoshl(a);
    case NLSQ_OP_ATANH: return atanhl(a);
    case NLSQ_OP_ERF: return erfl(a);
    case NLSQ_OP_ERFC: return erfcl(a);
    case NLSQ_OP_LGAMMA: return lgammal(a);
    case NLSQ_OP_TGAMMA: return tgammal(a);
    case NLSQ_OP_NOT: return a == 0;
    case NLSQ_OP_ADD: return a + b;
    case NLSQ_OP_SUB: return a - b;
    case NLSQ_OP_MUL: return a * b;
    case NLSQ_OP_DIV: return a / b;
    case NLSQ_OP_POW: return powl(a, b);
    case NLSQ_OP_HYPOT: return hypotl(a, b);
    case NLSQ_OP_ATAN2: return atan2l(a, b);
    case NLSQ_OP_MIN: return (isnan(a) || isnan(b)) ? a + b : a < b ? a : b;
    case NLSQ_OP_MAX: return (isnan(a) || isnan(b)) ? a + b : a > b ? a : b;
    case NLSQ_OP_LT: return a < b;
    case NLSQ_OP_LE: return a <= b;
    case NLSQ_OP_GT: return a > b;
    case NLSQ_OP_GE: return a >= b;
    case NLSQ_OP_EQ: return a == b;
    case NLSQ_OP_NE: return a != b;
    case NLSQ_OP_AND: return a != 0 && b != 0;
    case NLSQ_OP_OR: return a != 0 || b != 0;
    }
    return NAN;
}

typedef struct stats {
    int models, parse_equal, rejected_both, checked_models, points, skipped, compared_derivs, formatted;
} stats;

/* Richardson difference of the reference along parameter j. */
static long double ref_derivative(const tree *t, int root, const long double *xy, long double *p, int j,
                                  long double *err)
{
    long double p0 = p[j], h = 1e-3L * (fabsl(p0) > 1 ? fabsl(p0) : 1), d[3];
    for (int k = 0; k < 3; k++) {
        long double s = h / (1 << k);
        int ignored = 0;
        p[j] = p0 + s;
        long double up = leval(t, root, xy, p, &ignored);
        p[j] = p0 - s;
        long double dn = leval(t, root, xy, p, &ignored);
        d[k] = (up - dn) / (2 * s);
    }
    p[j] = p0;
    long double r1a = (4 * d[1] - d[0]) / 3, r1b = (4 * d[2] - d[1]) / 3, r2 = (16 * r1b - r1a) / 15;
    *err = fabsl(r2 - r1b) + fabsl(r1b - r1a);
    return r2;
}

static void check_points(const tree *t, int root, const nlsq_model *m, rng *r, stats *st)
{
    int n = nlsq_model_num_params(m);
    double xy[2 * NPOINTS], p[MAXP], f[NPOINTS], J[NPOINTS * MAXP];
    for (int i = 0; i < 2 * NPOINTS; i++) xy[i] = rng_range(r, -2, 2);
    for (int j = 0; j < n; j++) p[j] = rng_range(r, -2, 2);
    if (nlsq_model_eval(m, p, xy, NPOINTS, f, J, NULL) != NLSQ_OK) {
        CHECK(0);
        return;
    }
    /* reference parameters are indexed by name number, the model's by
       order of first appearance */
    long double lp[MAXP] = {0, 0, 0, 0};
    for (int k = 0; k < MAXP; k++)
        if (t->used_params[k]) lp[k] = p[t->order[k]];
    int compared = 0;
    for (int i = 0; i < NPOINTS; i++) {
        long double lxy[2] = {xy[i], xy[NPOINTS + i]};
        int singular = 0;
        long double F = leval(t, root, lxy, lp, &singular);
        st->points++;
        int ok = !singular && fabsl(F) < 1e100 && fabsl(f[i] - F) <= 1e-10 * (1 + fabsl(F));
        for (int k = 0; ok && k < MAXP; k++) {
            if (!t->used_params[k]) continue;
            long double err, D = ref_derivative(t, root, lxy, lp, k, &err);
            double d = J[i * n + t->order[k]];
            double scale = 1e-3 * fmax(1, fabs((double)F));
            if (!isfinite(D) || fabsl(D) > 1e100 || err > 1e-9 * (fabsl(D) + scale)) {
                ok = 0; /* not smooth here, or the reference is not accurate enough */
                break;
            }
            CHECK_MSG(fabs(d - (double)D) <= 1e-6 * (fabs((double)D) + scale),
                      "d/dp%d at point %d: got %.17g, want %.17g (err %.3Lg)", k, i, d, (double)D, err);
            if (fabs(d - (double)D) > 1e-6 * (fabs((double)D) + scale)) return;
            st->compared_derivs++;
        }
        if (ok)
            compared++;
        else
            st->skipped++;
    }
    if (compared) st->checked_models++;
}

/* The model and each derivative, formatted as text (nlsq_model_format) and
   parsed back with the same variables and parameter order, give the same
   values, bit for bit, wherever both are finite (a printed strong-zero
   product is a plain product, which gives NaN for 0 * NaN). */
static int check_format_round_trip(const nlsq_model *m, int model, const char *text, rng *r)
{
    int n = nlsq_model_num_params(m);
    static char buf[1 << 16];
    double xy[2 * NPOINTS], p[MAXP], q[MAXP], f[NPOINTS], J[NPOINTS * MAXP], g[NPOINTS];
    for (int i = 0; i < 2 * NPOINTS; i++) xy[i] = rng_range(r, -2, 2);
    for (int j = 0; j < n; j++) p[j] = rng_range(r, -2, 2);
    nlsq_model_eval(m, p, xy, NPOINTS, f, J, NULL);
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = "x,y";
    int compared = 0;
    for (int which = -1; which < n; which++) {
        if (nlsq_model_format(m, which, buf, sizeof buf) >= sizeof buf) continue;
        if (strstr(buf, "digamma")) return compared; /* not in the language */
        nlsq_model *back = NULL;
        nlsq_error e;
        if (nlsq_model_parse(buf, &o, &back, &e) != NLSQ_OK) {
            CHECK_MSG(0, "model %d (%s), which %d: \"%s\" does not parse: %s", model, text, which, buf, e.message);
            continue;
        }
        /* the text may use fewer parameters, in another order: map by name */
        for (int k = 0; k < nlsq_model_num_params(back); k++) {
            const char *name = nlsq_model_param_name(back, k);
            for (int j = 0; j < n; j++)
                if (!strcmp(name, nlsq_model_param_name(m, j))) q[k] = p[j];
        }
        nlsq_model_eval(back, q, xy, NPOINTS, g, NULL, NULL);
        for (int i = 0; i < NPOINTS; i++) {
            double want = which < 0 ? f[i] : J[i * n + which];
            /* a printed strong-zero product is a plain product: where the
               original has 0 * NaN -> 0 the text gives NaN (documented) */
            if (!isfinite(want) || want == 0 || !isfinite(g[i])) continue;
            CHECK_MSG(g[i] == want, "model %d (%s), which %d: \"%s\" gives %.17g, want %.17g", model, text, which, buf,
                      g[i], want);
            compared++;
        }
        nlsq_model_free(back);
    }
    return compared;
}

static void test_random_models_builder_parser_and_derivatives(void)
{
    static tree t;
    static char text[1 << 16];
    stats st;
    memset(&st, 0, sizeof st);
    rng r = {0x2545f4914f6cdd1dull};
    nlsq_model_options o = nlsq_model_options_default();
    o.vars = "x,y";
    for (int model = 0; model < NMODELS; model++) {
        t.count = 0;
        int root = gen(&t, &r, 1 + rng_int(&r, 5));
        note_params(&t);
        size_t len = 0;
        print(&t, root, text, sizeof text, &len);
        nlsq_model *pm = NULL, *bm = NULL;
        nlsq_error pe, be;
        nlsq_status ps = nlsq_model_parse(text, &o, &pm, &pe);
        nlsq_builder *b = NULL;
        nlsq_builder_new(&b, NULL);
        nlsq_builder_var(b, "x");
        nlsq_builder_var(b, "y");
        nlsq_status bs = nlsq_builder_finish(b, build(&t, root, b), &bm, &be);
        nlsq_builder_free(b);
        st.models++;
        CHECK_MSG(ps == bs, "model %d \"%s\": parser %s (%s), builder %s (%s)", model, text, nlsq_status_str(ps),
                  pe.message, nlsq_status_str(bs), be.message);
        if (ps == NLSQ_OK && bs == NLSQ_OK) {
            int same = programs_equal(&pm->prog, &bm->prog);
            CHECK_MSG(same, "model %d \"%s\": builder and parser programs differ", model, text);
            st.parse_equal += same;
            int before = check_failures;
            check_points(&t, root, pm, &r, &st);
            st.formatted += check_format_round_trip(pm, model, text, &r);
            if (check_failures > before) printf("    in model %d: %s\n", model, text);
        } else if (ps == bs) {
            /* a parameter that cannot affect the model (a constant where()
               condition dropped its branch) is refused by both */
            CHECK_MSG(ps == NLSQ_ERR_UNDEFINED_NAME, "model %d \"%s\": %s", model, text, pe.message);
            st.rejected_both++;
        }
        nlsq_model_free(pm);
        nlsq_model_free(bm);
        if (check_failures > 20) break;
    }
    printf("    %d models: %d identical builder/parser programs, %d refused by both; derivatives checked in %d "
           "models (%d derivatives at %d of %d points; %d points skipped as non-smooth or ill-conditioned)\n",
           st.models, st.parse_equal, st.rejected_both, st.checked_models, st.compared_derivs, st.points - st.skipped,
           st.points, st.skipped);
    CHECK(st.models == NMODELS);
    CHECK_MSG(st.parse_equal >= NMODELS * 9 / 10, "only %d models compared", st.parse_equal);
    CHECK_MSG(st.checked_models >= NMODELS / 2, "derivatives checked in only %d models", st.checked_models);
    CHECK_MSG(st.compared_derivs >= NMODELS, "only %d derivatives compared", st.compared_derivs);
    printf("    formatted text parsed back to the same values at %d points\n", st.formatted);
    CHECK_MSG(st.formatted >= 4 * NMODELS, "format round trip compared at only %d points", st.formatted);
}

int main(void)
{
    static const test_case tests[] = {TEST(test_random_models_builder_parser_and_derivatives)};
    return run_tests(tests, 1);
}
