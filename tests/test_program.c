/*
 * The scheduled program: hash-consing and hoisting are real (counted in
 * the program itself), slots are reused, the builder makes the same
 * program as the parser, evaluation is blockwise-exact, and a shared model
 * evaluates correctly from several threads at once.
 */
#define _DEFAULT_SOURCE
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "model/model.h"
#include "program_equal.h"
#include "nlsq.h"

static nlsq_model *parse(const char *text, const char *vars, const char *params)
{
    nlsq_model_options o = nlsq_model_options_default();
    if (vars) o.vars = vars;
    o.params = params;
    nlsq_model *m = NULL;
    nlsq_error e;
    if (nlsq_model_parse(text, &o, &m, &e) != NLSQ_OK) CHECK_MSG(0, "parse \"%s\": %s", text, e.message);
    return m;
}

static int count_point_ops(const nlsq_model *m, int op)
{
    int n = 0;
    for (int i = 0; i < m->prog.npinstr; i++) n += m->prog.pinstr[i].op == op;
    return n;
}

static int is_broadcast(const program *p, int slot)
{
    return slot >= p->nvars && slot < p->nvars + p->nbcast;
}

/* No per-point instruction may have only uniform operands: such work is
   the same for every point and belongs in the uniform program. */
static void check_no_uniform_work_per_point(const nlsq_model *m, const char *text)
{
    const program *p = &m->prog;
    for (int i = 0; i < p->npinstr; i++) {
        const instr *in = &p->pinstr[i];
        int arity = op_get(in->op)->arity, varying = 0;
        for (int k = 0; k < arity; k++) varying |= !is_broadcast(p, in->src[k]);
        CHECK_MSG(varying, "%s: point instruction %d (%s) uses only uniform values", text, i, op_get(in->op)->name);
    }
}

static void test_exponential_decay_evaluates_exp_once_per_point(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL, NULL);
    if (!m) return;
    CHECK_MSG(count_point_ops(m, NLSQ_OP_EXP) == 1, "exp per point: %d", count_point_ops(m, NLSQ_OP_EXP));
    nlsq_model_stats st;
    CHECK(nlsq_model_get_stats(m, &st, NULL) == NLSQ_OK);
    CHECK_MSG(st.point_calls == 1, "library calls per point: %d", st.point_calls);
    CHECK(st.point_instructions == m->prog.npinstr && st.point_instructions <= 8);
    check_no_uniform_work_per_point(m, "decay");
    nlsq_model_free(m);
}

/* 2*s^2 depends on s alone: computed once per evaluation. */
static void test_gaussian_hoists_parameter_only_work(void)
{
    nlsq_model *m = parse("A*exp(-(x-mu)^2/(2*s^2))", NULL, NULL);
    if (!m) return;
    const program *p = &m->prog;
    int s_index = 2, found = 0;
    CHECK(strcmp(nlsq_model_param_name(m, s_index), "s") == 0);
    /* find u = powi(s, 2), then u' = 2 * u among the uniform instructions */
    for (int i = 0; i < p->nuinstr; i++) {
        const instr *sq = &p->uinstr[i];
        if (sq->op != OP_POWI || sq->k != 2 || sq->src[0] != s_index) continue;
        for (int j = 0; j < p->nuinstr; j++) {
            const instr *tw = &p->uinstr[j];
            if (tw->op != NLSQ_OP_MUL) continue;
            int a = tw->src[0], b = tw->src[1];
            int other = a == sq->dst ? b : b == sq->dst ? a : -1;
            if (other >= p->nparams && other < p->nparams + p->nconst && p->uconst[other - p->nparams] == 2) found = 1;
        }
    }
    CHECK_MSG(found, "2*s^2 is not in the uniform program");
    CHECK(count_point_ops(m, NLSQ_OP_EXP) == 1);
    CHECK(count_point_ops(m, OP_POWI) == 1); /* (x-mu)^2 only */
    check_no_uniform_work_per_point(m, "gaussian");
    nlsq_model_free(m);
}

static void test_hash_consing_shares_subexpressions(void)
{
    nlsq_model *m = parse("sin(x*a) + sin(a*x) + a*x", NULL, NULL);
    if (m) {
        CHECK_MSG(count_point_ops(m, NLSQ_OP_SIN) == 1, "sin per point: %d", count_point_ops(m, NLSQ_OP_SIN));
        CHECK_MSG(count_point_ops(m, NLSQ_OP_COS) == 1, "cos per point: %d", count_point_ops(m, NLSQ_OP_COS));
        nlsq_model_free(m);
    }
    /* three Gaussians plus a constant: exactly three exp per point */
    m = parse("a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c", NULL, NULL);
    if (m) {
        CHECK(nlsq_model_num_params(m) == 10);
        CHECK_MSG(count_point_ops(m, NLSQ_OP_EXP) == 3, "exp per point: %d", count_point_ops(m, NLSQ_OP_EXP));
        check_no_uniform_work_per_point(m, "3 gaussians");
        nlsq_model_free(m);
    }
    /* tanh' = cosh^-2 and tgamma' = tgamma * digamma reuse their nodes */
    m = parse("tgamma(a*x) + tanh(b*x)", NULL, NULL);
    if (m) {
        CHECK(count_point_ops(m, NLSQ_OP_TGAMMA) == 1);
        CHECK(count_point_ops(m, OP_DIGAMMA) == 1);
        CHECK(count_point_ops(m, NLSQ_OP_COSH) == 1);
        nlsq_model_free(m);
    }
}

/* Reverse mode keeps forward values alive until the backward sweep uses
   them, so a chain of n exp needs about n temporaries; the rest of the
   program's values must share slots. */
static void test_temporaries_reuse_slots(void)
{
    const char *models[] = {"a*exp(-b*x) + c", "exp(exp(exp(exp(exp(exp(exp(exp(a*x))))))))/8 + b",
                            "a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + c"};
    int max_temps[] = {4, 11, 14};
    for (int k = 0; k < 3; k++) {
        nlsq_model *m = parse(models[k], NULL, NULL);
        if (!m) continue;
        const program *p = &m->prog;
        int temps = p->nslots - p->nvars - p->nbcast;
        CHECK_MSG(temps <= max_temps[k] && temps < p->npinstr, "%s: %d temporaries for %d instructions", models[k],
                  temps, p->npinstr);
        nlsq_model_free(m);
    }
}

static void test_destinations_never_alias_operands(void)
{
    const char *models[] = {"a*exp(-b*x) + c", "x*x*a + sqrt(x*a)", "where(x > a, x - a, a - x)^2"};
    for (size_t k = 0; k < 3; k++) {
        nlsq_model *m = parse(models[k], NULL, NULL);
        if (!m) continue;
        for (int i = 0; i < m->prog.npinstr; i++)
            for (int s = 0; s < 3; s++) CHECK(m->prog.pinstr[i].src[s] != m->prog.pinstr[i].dst);
        nlsq_model_free(m);
    }
}

static void test_parameter_order_first_appearance_or_listed(void)
{
    nlsq_model *m = parse("c + b*x + a*x^2", NULL, NULL);
    if (m) {
        CHECK(nlsq_model_num_params(m) == 3);
        CHECK(strcmp(nlsq_model_param_name(m, 0), "c") == 0);
        CHECK(strcmp(nlsq_model_param_name(m, 1), "b") == 0);
        CHECK(strcmp(nlsq_model_param_name(m, 2), "a") == 0);
        nlsq_model_free(m);
    }
    m = parse("c + b*x + a*x^2", NULL, " a, b ,c");
    if (m) {
        CHECK(strcmp(nlsq_model_param_name(m, 0), "a") == 0);
        CHECK(strcmp(nlsq_model_param_name(m, 2), "c") == 0);
        double p[3] = {1, 2, 3}, x = 2, f, J[3];
        CHECK(nlsq_model_eval(m, p, &x, 1, &f, J, NULL) == NLSQ_OK);
        CHECK_SAME(f, 3 + 2 * 2 + 1 * 4.0, "listed order value");
        CHECK_SAME(J[0], 4.0, "d/da");
        CHECK_SAME(J[1], 2.0, "d/db");
        CHECK_SAME(J[2], 1.0, "d/dc");
        nlsq_model_free(m);
    }
}

static void test_two_variable_gaussian_surface(void)
{
    const char *text = "A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B";
    nlsq_model *m = parse(text, "x,y", NULL);
    if (!m) return;
    CHECK(nlsq_model_num_vars(m) == 2 && strcmp(nlsq_model_var_name(m, 1), "y") == 0);
    CHECK(nlsq_model_num_params(m) == 6);
    double p[6] = {2, 0.5, 1.5, -1, 0.7, 0.1}; /* A x0 sx y0 sy B */
    double xy[4] = {0.3, 1.1, -0.2, -1.4}, f[2], J[12];
    CHECK(nlsq_model_eval(m, p, xy, 2, f, J, NULL) == NLSQ_OK);
    for (int i = 0; i < 2; i++) {
        double x = xy[i], y = xy[2 + i];
        double dx = x - p[1], dy = y - p[3];
        double g = exp(-(dx * dx / (2 * p[2] * p[2]) + dy * dy / (2 * p[4] * p[4])));
        double want[6] = {g,
                          p[0] * g * dx / (p[2] * p[2]),
                          p[0] * g * dx * dx / (p[2] * p[2] * p[2]),
                          p[0] * g * dy / (p[4] * p[4]),
                          p[0] * g * dy * dy / (p[4] * p[4] * p[4]),
                          1};
        CHECK_NEAR(f[i], p[0] * g + p[5], 1e-15, "surface value %d", i);
        for (int j = 0; j < 6; j++)
            CHECK_NEAR(J[i * 6 + j], want[j], 4e-16 * (1 + fabs(want[j])), "dF/dp%d at %d", j, i);
    }
    nlsq_model_free(m);
}

/* Evaluating 1000 points at once (full blocks and a tail) gives bit for
   bit what evaluating them one at a time gives. */
static void test_blocks_and_tail_match_single_points(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c*sin(x) + where(x > 0.5, d*x, d)", NULL, NULL);
    if (!m) return;
    enum { N = 1000 };
    static double x[N], f[N], J[4 * N];
    for (int i = 0; i < N; i++) x[i] = i / 1000.0;
    double p[4] = {1.5, 0.7, -0.3, 2};
    CHECK(nlsq_model_eval(m, p, x, N, f, J, NULL) == NLSQ_OK);
    for (int i = 0; i < N; i++) {
        double f1, J1[4];
        CHECK(nlsq_model_eval(m, p, &x[i], 1, &f1, J1, NULL) == NLSQ_OK);
        CHECK_SAME(f[i], f1, "f[%d]", i);
        for (int j = 0; j < 4; j++) CHECK_SAME(J[4 * i + j], J1[j], "J[%d][%d]", i, j);
    }
    /* values only, Jacobian only */
    static double f2[N], J2[4 * N];
    CHECK(nlsq_model_eval(m, p, x, N, f2, NULL, NULL) == NLSQ_OK);
    CHECK(nlsq_model_eval(m, p, x, N, NULL, J2, NULL) == NLSQ_OK);
    CHECK(memcmp(f, f2, sizeof f2) == 0 && memcmp(J, J2, sizeof J2) == 0);
    nlsq_model_free(m);
}

static void test_builder_makes_the_parsers_program(void)
{
    nlsq_builder *b = NULL;
    CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
    if (!b) return;
    /* a*exp(-b*x) + c, in the parser's order */
    nlsq_expr x = nlsq_builder_var(b, "x");
    nlsq_expr pa = nlsq_builder_param(b, "a");
    nlsq_expr pb = nlsq_builder_param(b, "b");
    nlsq_expr nb = nlsq_builder_op1(b, NLSQ_OP_NEG, pb);
    nlsq_expr e = nlsq_builder_op1(b, NLSQ_OP_EXP, nlsq_builder_op2(b, NLSQ_OP_MUL, nb, x));
    nlsq_expr ae = nlsq_builder_op2(b, NLSQ_OP_MUL, pa, e);
    nlsq_expr root = nlsq_builder_op2(b, NLSQ_OP_ADD, ae, nlsq_builder_param(b, "c"));
    nlsq_model *built = NULL, *parsed = parse("a*exp(-b*x) + c", NULL, NULL);
    nlsq_error err;
    CHECK_MSG(nlsq_builder_finish(b, root, &built, &err) == NLSQ_OK, "%s", err.message);
    if (built && parsed) CHECK(programs_equal(&built->prog, &parsed->prog));
    nlsq_model_free(built);
    nlsq_model_free(parsed);

    /* the builder stays usable: where(x > t0, A*(x - t0), 0) + bg */
    nlsq_expr t0 = nlsq_builder_param(b, "t0");
    nlsq_expr cond = nlsq_builder_op2(b, NLSQ_OP_GT, x, t0);
    nlsq_expr ramp = nlsq_builder_op2(b, NLSQ_OP_MUL, pa, nlsq_builder_op2(b, NLSQ_OP_SUB, x, t0));
    nlsq_expr w = nlsq_builder_where(b, cond, ramp, nlsq_builder_const(b, 0));
    root = nlsq_builder_op2(b, NLSQ_OP_ADD, w, nlsq_builder_param(b, "bg"));
    /* a, b, c were declared earlier, so they must all be used: not so here */
    CHECK(nlsq_builder_finish(b, root, &built, &err) == NLSQ_ERR_UNDEFINED_NAME && built == NULL);
    CHECK(strstr(err.message, "'b'") != NULL);
    nlsq_builder_free(b);
}

static void test_builder_covers_every_public_op(void)
{
    nlsq_builder *b = NULL;
    CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
    if (!b) return;
    nlsq_expr x = nlsq_builder_var(b, "x"), p = nlsq_builder_param(b, "p");
    nlsq_expr u = nlsq_builder_op2(b, NLSQ_OP_ADD, x, p); /* x + p, in (0, 1) */
    nlsq_expr sum = nlsq_builder_const(b, 0);
    for (int op = 0; op < NLSQ_OP_COUNT; op++) {
        int arity = nlsq_op_arity((nlsq_op)op);
        CHECK(arity >= 1 && arity <= 3 && nlsq_op_name((nlsq_op)op) != NULL);
        nlsq_expr t = NLSQ_EXPR_INVALID;
        if (op == NLSQ_OP_NOT) {
            t = nlsq_builder_where(b, nlsq_builder_op1(b, NLSQ_OP_NOT, nlsq_builder_op2(b, NLSQ_OP_LT, u, x)), u, x);
        } else if (op == NLSQ_OP_AND || op == NLSQ_OP_OR) {
            nlsq_expr c1 = nlsq_builder_op2(b, NLSQ_OP_GT, u, x), c2 = nlsq_builder_op2(b, NLSQ_OP_LT, u, p);
            t = nlsq_builder_where(b, nlsq_builder_op2(b, (nlsq_op)op, c1, c2), u, x);
        } else if (op >= NLSQ_OP_LT && op <= NLSQ_OP_NE) {
            t = nlsq_builder_where(b, nlsq_builder_op2(b, (nlsq_op)op, u, x), u, x);
        } else if (op == NLSQ_OP_WHERE) {
            t = nlsq_builder_where(b, nlsq_builder_op2(b, NLSQ_OP_GT, u, x), u, x);
        } else if (op == NLSQ_OP_ACOSH) {
            t = nlsq_builder_op1(b, NLSQ_OP_ACOSH, nlsq_builder_op2(b, NLSQ_OP_ADD, u, nlsq_builder_const(b, 1.5)));
        } else if (arity == 1) {
            t = nlsq_builder_op1(b, (nlsq_op)op, u);
        } else {
            t = nlsq_builder_op2(b, (nlsq_op)op, u, nlsq_builder_const(b, 0.75));
        }
        CHECK_MSG(t >= 0, "builder op %s", nlsq_op_name((nlsq_op)op));
        sum = nlsq_builder_op2(b, NLSQ_OP_ADD, sum, t);
    }
    nlsq_model *m = NULL;
    nlsq_error err;
    CHECK_MSG(nlsq_builder_finish(b, sum, &m, &err) == NLSQ_OK, "%s", err.message);
    if (m) {
        double par = 0.125, xv = 0.25, f, J;
        CHECK(nlsq_model_eval(m, &par, &xv, 1, &f, &J, NULL) == NLSQ_OK);
        CHECK(isfinite(f) && isfinite(J));
    }
    nlsq_model_free(m);
    nlsq_builder_free(b);
}

static void test_builder_errors_are_sticky_and_reported(void)
{
    nlsq_builder *b = NULL;
    nlsq_error err;
    nlsq_model *m = NULL;
    CHECK(nlsq_builder_new(NULL, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_builder_var(NULL, "x") == NLSQ_EXPR_INVALID);

    CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
    nlsq_expr x = nlsq_builder_var(b, "x");
    nlsq_expr c = nlsq_builder_op2(b, NLSQ_OP_LT, x, x);
    CHECK(nlsq_builder_op1(b, NLSQ_OP_EXP, c) == NLSQ_EXPR_INVALID); /* condition as number */
    CHECK(nlsq_builder_param(b, "a") == NLSQ_EXPR_INVALID);          /* sticky */
    CHECK(nlsq_builder_finish(b, x, &m, &err) == NLSQ_ERR_BUILDER && m == NULL);
    CHECK_MSG(strstr(err.message, "exp needs a number") != NULL, "%s", err.message);
    nlsq_builder_free(b);

    const char *names[][2] = {{"x", "x"}, {"2x", NULL}, {"exp", NULL}, {"pi", NULL}, {"", NULL}};
    for (int k = 0; k < 5; k++) {
        CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
        nlsq_builder_var(b, names[k][0]);
        if (names[k][1]) nlsq_builder_param(b, names[k][1]);
        CHECK_MSG(nlsq_builder_finish(b, 0, &m, &err) == NLSQ_ERR_BUILDER, "name '%s'", names[k][0]);
        nlsq_builder_free(b);
    }

    CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
    CHECK(nlsq_builder_op1(b, NLSQ_OP_EXP, 12345) == NLSQ_EXPR_INVALID); /* bad handle */
    CHECK(nlsq_builder_finish(b, 0, &m, &err) == NLSQ_ERR_BUILDER);
    CHECK(strstr(err.message, "invalid expression handle") != NULL);
    nlsq_builder_free(b);

    CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
    x = nlsq_builder_var(b, "x");
    CHECK(nlsq_builder_op2(b, NLSQ_OP_EXP, x, x) == NLSQ_EXPR_INVALID); /* wrong arity */
    nlsq_builder_free(b);

    CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
    x = nlsq_builder_var(b, "x");
    nlsq_expr a = nlsq_builder_param(b, "a");
    c = nlsq_builder_op2(b, NLSQ_OP_LT, x, a);
    CHECK(nlsq_builder_finish(b, c, &m, &err) == NLSQ_ERR_INVALID_ARGUMENT); /* root a condition */
    CHECK(nlsq_builder_finish(b, 999, &m, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    CHECK(nlsq_builder_finish(NULL, 0, &m, &err) == NLSQ_ERR_INVALID_ARGUMENT);
    nlsq_builder_free(b);
    nlsq_builder_free(NULL);
}

static void test_dump_shows_the_program(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL, NULL);
    if (!m) return;
    size_t need = nlsq_model_dump(m, NULL, 0);
    CHECK(need > 50);
    char *buf = malloc(need + 1);
    CHECK(nlsq_model_dump(m, buf, need + 1) == need);
    CHECK(strlen(buf) == need && strstr(buf, "= exp s") != NULL && strstr(buf, "outputs: f = s") != NULL);
    char small[16];
    CHECK(nlsq_model_dump(m, small, sizeof small) == need && strlen(small) == sizeof small - 1);
    free(buf);
    nlsq_model_free(m);
}

typedef struct thread_job {
    const nlsq_model *m;
    const double *x;
    double *f, *J;
    int n;
    nlsq_status st;
} thread_job;

static void *eval_job(void *arg)
{
    thread_job *j = arg;
    double p[3] = {2, 0.3, 1};
    for (int rep = 0; rep < 20; rep++) j->st |= nlsq_model_eval(j->m, p, j->x, (size_t)j->n, j->f, j->J, NULL);
    return NULL;
}

static void test_shared_model_evaluates_from_several_threads(void)
{
    nlsq_model *m = parse("a*exp(-b*x) + c", NULL, NULL);
    if (!m) return;
    enum { N = 5000, T = 4 };
    static double x[N], f[T][N], J[T][3 * N];
    for (int i = 0; i < N; i++) x[i] = i * 0.01;
    pthread_t th[T];
    thread_job jobs[T];
    for (int t = 0; t < T; t++) {
        thread_job j = {m, x, f[t], J[t], N, NLSQ_OK};
        jobs[t] = j;
        CHECK(pthread_create(&th[t], NULL, eval_job, &jobs[t]) == 0);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        CHECK(jobs[t].st == NLSQ_OK);
        CHECK(memcmp(f[t], f[0], sizeof f[0]) == 0 && memcmp(J[t], J[0], sizeof J[0]) == 0);
    }
    CHECK_NEAR(f[0][100], 2 * exp(-0.3) + 1, 4e-16, "f at x=1");
    nlsq_model_free(m);
}

/* In a locale whose decimal point is a comma, plain strtod reads "1.5" as
   1; the lexer must read model numbers the C way whatever the process's
   locale. The German locale is built with localedef when not installed. */
static void test_numbers_do_not_depend_on_the_locale(void)
{
    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
        char dir[256], cmd[700];
        snprintf(dir, sizeof dir, "%s/nlsq_test_locales", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        snprintf(cmd, sizeof cmd, "mkdir -p %s && localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir,
                 dir);
        if (system(cmd) == 0) setenv("LOCPATH", dir, 1);
        if (!setlocale(LC_NUMERIC, "de_DE.UTF-8")) {
            test_skip("no de_DE.UTF-8 locale and localedef could not build one");
            return;
        }
    }
    CHECK(strtod("1.5", NULL) == 1.0); /* the hazard is real in this locale */
    nlsq_model *m = parse("a*x + 1.5e0 + .25", NULL, NULL);
    setlocale(LC_NUMERIC, "C");
    if (!m) return;
    double p = 2, x = 1, f;
    CHECK(nlsq_model_eval(m, &p, &x, 1, &f, NULL, NULL) == NLSQ_OK);
    CHECK_SAME(f, 3.75, "2*1 + 1.5 + 0.25 parsed under de_DE");
    nlsq_model_free(m);
}

/* ---- defect 8: models of any depth ------------------------------------------------------------ */

/* sin(sin(...sin(a*x))) with `depth` sines, made through the builder (a
   traced Python model is made this way, with no depth limit). */
static nlsq_model *deep_sines(int depth)
{
    nlsq_builder *b = NULL;
    if (nlsq_builder_new(&b, NULL) != NLSQ_OK) return NULL;
    nlsq_expr u = nlsq_builder_op2(b, NLSQ_OP_MUL, nlsq_builder_param(b, "a"), nlsq_builder_var(b, "x"));
    for (int i = 0; i < depth; i++) u = nlsq_builder_op1(b, NLSQ_OP_SIN, u);
    nlsq_model *m = NULL;
    nlsq_error e;
    nlsq_status st = nlsq_builder_finish(b, u, &m, &e);
    CHECK_MSG(st == NLSQ_OK, "%d nested sines: %s", depth, e.message);
    nlsq_builder_free(b);
    return m;
}

/* The same values computed in C: sin^depth(a x) and its derivative by a,
   the product of the cosines down the chain times x. */
static void deep_sines_direct(int depth, double a, double x, double *f, double *dfda)
{
    double u = a * x, d = x;
    for (int i = 0; i < depth; i++) {
        d *= cos(u);
        u = sin(u);
    }
    *f = u;
    *dfda = d;
}

typedef struct format_job {
    const nlsq_model *m;
    int which;
    char *text;
    size_t len;
} format_job;

static void *format_job_run(void *arg)
{
    format_job *j = arg;
    j->len = nlsq_model_format(j->m, j->which, NULL, 0);
    j->text = malloc(j->len + 1);
    if (j->text) nlsq_model_format(j->m, j->which, j->text, j->len + 1);
    return NULL;
}

/* Format on a thread with a 256 KiB stack, as a pool thread may have: a
   formatter recursing per level needs some 100 bytes a level. */
static char *format_on_small_stack(const nlsq_model *m, int which)
{
    format_job j = {m, which, NULL, 0};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t th;
    if (pthread_create(&th, &attr, format_job_run, &j) == 0)
        pthread_join(th, NULL);
    else
        CHECK_MSG(0, "cannot start a thread with a 256 KiB stack");
    pthread_attr_destroy(&attr);
    CHECK_MSG(j.text && strlen(j.text) == j.len, "formatted %zu bytes", j.len);
    return j.text;
}

static int deepest_parenthesis(const char *s)
{
    int depth = 0, deepest = 0;
    for (; *s; s++) {
        if (*s == '(' && ++depth > deepest) deepest = depth;
        if (*s == ')') depth--;
    }
    return deepest;
}

/* (Not strstr in a loop: the sanitizers' strstr measures the whole
   string on every call.) */
static int occurrences(const char *s, const char *what)
{
    size_t len = strlen(what);
    int n = 0;
    for (; *s; s++) n += strncmp(s, what, len) == 0;
    return n;
}

static void defect08_deep_built_model_formats_without_recursion(void)
{
    enum { DEPTH = 100000 };
    nlsq_model *m = deep_sines(DEPTH);
    if (!m) return;
    for (int which = -1; which < 1; which++) {
        char *text = format_on_small_stack(m, which);
        if (!text) continue;
        /* cut into definitions, none nested deeper than the parser reads */
        CHECK_MSG(strncmp(text, "t1 = ", 5) == 0, "which %d: %.40s", which, text);
        CHECK_MSG(deepest_parenthesis(text) <= NLSQ_MODEL_MAX_DEPTH / 2 + 2, "which %d: %d levels", which,
                  deepest_parenthesis(text));
        if (which < 0) {
            CHECK_MSG(occurrences(text, "sin(") == DEPTH, "f has %d sines", occurrences(text, "sin("));
            CHECK_MSG(occurrences(text, "a*x") == 1 || occurrences(text, "x*a") == 1, "f: %.60s", text);
        } else {
            CHECK_MSG(occurrences(text, "cos(") == DEPTH, "df/da has %d cosines", occurrences(text, "cos("));
        }
        free(text);
    }
    nlsq_model_free(m);
}

/* Deeper still, the derivatives outgrow the node limit: a clear error. */
static void defect08_too_deep_for_the_node_limit_is_a_clear_error(void)
{
    enum { DEPTH = 400000 }; /* f, cos and the chain's products: 1.2 million nodes */
    nlsq_builder *b = NULL;
    if (nlsq_builder_new(&b, NULL) != NLSQ_OK) return;
    nlsq_expr u = nlsq_builder_op2(b, NLSQ_OP_MUL, nlsq_builder_param(b, "a"), nlsq_builder_var(b, "x"));
    for (int i = 0; i < DEPTH; i++) u = nlsq_builder_op1(b, NLSQ_OP_SIN, u);
    nlsq_model *m = NULL;
    nlsq_error e;
    CHECK(nlsq_builder_finish(b, u, &m, &e) == NLSQ_ERR_LIMIT && m == NULL);
    CHECK_MSG(strstr(e.message, "graph nodes") != NULL, "%s", e.message);
    nlsq_builder_free(b);
}

static void defect08_deep_model_text_parses_back_to_the_same_values(void)
{
    enum { DEPTH = 1000, NP = 5 };
    nlsq_model *m = deep_sines(DEPTH);
    if (!m) return;
    double x[NP] = {0.1, 0.5, 1, 2, -3}, a = 1.3;
    double f[NP], J[NP], g[NP], K[NP];
    CHECK(nlsq_model_eval(m, &a, x, NP, f, J, NULL) == NLSQ_OK);
    for (int which = -1; which < 1; which++) {
        char *text = format_on_small_stack(m, which);
        if (!text) continue;
        nlsq_model *back = parse(text, "x", "a");
        if (back) {
            CHECK(nlsq_model_eval(back, &a, x, NP, g, K, NULL) == NLSQ_OK);
            for (int i = 0; i < NP; i++) CHECK_SAME(g[i], which < 0 ? f[i] : J[i], "which %d, x = %g", which, x[i]);
        }
        nlsq_model_free(back);
        free(text);
    }
    nlsq_model_free(m);
}

static void defect08_deep_model_differentiates_and_fits(void)
{
    enum { DEPTH = 100000, NP = 30 };
    nlsq_model *m = deep_sines(DEPTH);
    if (!m) return;
    /* small a*x, where sin^N still depends on a: sin^N(u) ~ u/sqrt(1 + N u^2/3) */
    double x[NP], y[NP], J[NP], a_true = 1.3, a0 = 1;
    for (int i = 0; i < NP; i++) x[i] = 1e-4 + 1e-4 * i;
    CHECK(nlsq_model_eval(m, &a_true, x, NP, y, J, NULL) == NLSQ_OK);
    for (int i = 0; i < NP; i++) {
        double want_f, want_d;
        deep_sines_direct(DEPTH, a_true, x[i], &want_f, &want_d);
        CHECK_NEAR(y[i], want_f, 1e-9 * fabs(want_f), "f at x = %g", x[i]);
        CHECK_NEAR(J[i], want_d, 1e-9 * fabs(want_d), "df/da at x = %g", x[i]);
    }
    nlsq_data d = {x, y, NP, NULL, NLSQ_SIGMA_NONE};
    nlsq_options o = nlsq_options_default();
    o.p0 = &a0;
    nlsq_result *r = NULL;
    nlsq_error e;
    CHECK_MSG(nlsq_curve_fit(m, &d, &o, &r, &e) == NLSQ_OK, "%s", e.message);
    if (r) {
        CHECK_MSG(r->success, "%s", r->message);
        CHECK_NEAR(r->popt[0], a_true, 1e-8, "fitted a");
    }
    nlsq_result_free(r);

    /* a checkpointed fit writes the model's text into its file */
    char ck[256];
    snprintf(ck, sizeof ck, "%s/nlsq-defect08-%d.ckpt", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    const double *cols[2] = {x, y};
    nlsq_source *s = NULL;
    CHECK(nlsq_source_from_arrays(cols, 2, NP, &s, &e) == NLSQ_OK);
    nlsq_columns c = nlsq_columns_default();
    int xc = 0;
    c.x = &xc;
    c.y = 1;
    o.checkpoint = ck;
    r = NULL;
    CHECK_MSG(s && nlsq_fit_source(m, s, &c, &o, &r, &e) == NLSQ_OK, "checkpointed: %s", e.message);
    if (r) CHECK_NEAR(r->popt[0], a_true, 1e-8, "fitted a, checkpointed");
    nlsq_result_free(r);
    nlsq_source_free(s);
    unlink(ck);
    nlsq_model_free(m);
}

/* issue 18: SciPy fits lambda x, a, b: a*x (b unused) and reports an
   infinite covariance; the builder can keep b with a zero column. */
static void issue18_builder_keeps_unused_parameter_with_zero_column(void)
{
    nlsq_builder *b = NULL;
    CHECK(nlsq_builder_new(&b, NULL) == NLSQ_OK);
    if (!b) return;
    nlsq_expr x = nlsq_builder_var(b, "x");
    nlsq_expr root = nlsq_builder_op2(b, NLSQ_OP_MUL, nlsq_builder_param(b, "a"), x);
    nlsq_builder_param(b, "b");
    nlsq_model *m = NULL;
    nlsq_error err;
    CHECK(nlsq_builder_finish(b, root, &m, &err) == NLSQ_ERR_UNDEFINED_NAME && m == NULL);
    CHECK(strstr(err.message, "parameter 'b' does not affect the model") != NULL);
    nlsq_builder_allow_unused_params(b, 1);
    nlsq_builder_allow_unused_params(NULL, 1); /* does nothing */
    CHECK_MSG(nlsq_builder_finish(b, root, &m, &err) == NLSQ_OK, "%s", err.message);
    nlsq_builder_free(b);
    if (!m) return;
    CHECK(nlsq_model_num_params(m) == 2);
    const double p[2] = {3, 5}, xs[3] = {1, 2, 4};
    double f[3], J[6];
    CHECK(nlsq_model_eval(m, p, xs, 3, f, J, &err) == NLSQ_OK);
    for (int i = 0; i < 3; i++) {
        CHECK(f[i] == 3 * xs[i]);
        CHECK(J[2 * i] == xs[i] && J[2 * i + 1] == 0);
    }
    nlsq_model_free(m);
}

int main(void)
{
    static const test_case tests[] = {
        TEST(test_exponential_decay_evaluates_exp_once_per_point),
        TEST(test_gaussian_hoists_parameter_only_work),
        TEST(test_hash_consing_shares_subexpressions),
        TEST(test_temporaries_reuse_slots),
        TEST(test_destinations_never_alias_operands),
        TEST(test_parameter_order_first_appearance_or_listed),
        TEST(test_two_variable_gaussian_surface),
        TEST(test_blocks_and_tail_match_single_points),
        TEST(test_builder_makes_the_parsers_program),
        TEST(test_builder_covers_every_public_op),
        TEST(test_builder_errors_are_sticky_and_reported),
        TEST(issue18_builder_keeps_unused_parameter_with_zero_column),
        TEST(test_dump_shows_the_program),
        TEST(test_shared_model_evaluates_from_several_threads),
        TEST(test_numbers_do_not_depend_on_the_locale),
        TEST(defect08_deep_built_model_formats_without_recursion),
        TEST(defect08_deep_model_text_parses_back_to_the_same_values),
        TEST(defect08_deep_model_differentiates_and_fits),
        TEST(defect08_too_deep_for_the_node_limit_is_a_clear_error),
    };
    return run_tests(tests, sizeof tests / sizeof tests[0]);
}
