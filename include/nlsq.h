/*
 * nlsq — nonlinear least-squares curve fitting with exact derivatives.
 *
 * This header is the whole public API. Read it top to bottom.
 *
 * Overview
 * --------
 * A model is written as math over independent variables (default `x`) and
 * parameters (every other free name):
 *
 *     a*exp(-b*x) + c
 *     t = x - t0; where(t > 0, A*exp(-t/tau), 0) + bg
 *
 * nlsq parses it into an expression graph, derives the exact partial
 * derivative with respect to every parameter by reverse-mode automatic
 * differentiation, and schedules model and Jacobian into one linear
 * program that is run over blocks of data points.
 *
 *     nlsq_model *m;
 *     nlsq_error err;
 *     if (nlsq_model_parse("a*exp(-b*x) + c", NULL, &m, &err) != NLSQ_OK)
 *         fprintf(stderr, "%s\n", err.message);
 *     double p[3] = {2.0, 0.5, 1.0};
 *     nlsq_model_eval(m, p, x, npoints, f, J, &err);   // f[m], J[m*3]
 *     nlsq_model_free(m);
 *
 * Conventions
 * -----------
 * - Every fallible call returns an nlsq_status and, when `err` is not NULL,
 *   fills it. The library never prints, aborts or keeps global error state.
 * - Objects are opaque handles freed by their `_free` function, which
 *   accepts NULL.
 * - A model is immutable after it is made: evaluating it from several
 *   threads at once is safe.
 */
/* clang-format off: this header is the manual, laid out by hand (its
   comment columns and tables), and is read more than it is edited. */
#ifndef NLSQ_H
#define NLSQ_H

#include <stddef.h>
#include <stdint.h> /* uint64_t, for the global search's seed */
#include <stdio.h> /* FILE, for nlsq_output_stream */

#include "nlsq_version.h" /* NLSQ_VERSION_MAJOR, _MINOR, _PATCH, _STRING */

#ifdef __cplusplus
extern "C" {
#endif

/* Marks the library's public functions. The library is built with
   -fvisibility=hidden, so everything without it stays inside. */
#if defined(__GNUC__) || defined(__clang__)
#define NLSQ_API __attribute__((visibility("default")))
#else
#define NLSQ_API
#endif

/* The library's version as "MAJOR.MINOR.PATCH": NLSQ_VERSION_STRING of the
   header it was built with (a program can compare the two at run time). */
NLSQ_API const char *nlsq_version(void);

/* ------------------------------------------------------------------------
 * Status and errors
 * ------------------------------------------------------------------------ */

typedef enum nlsq_status {
    NLSQ_OK = 0,
    NLSQ_ERR_INVALID_ARGUMENT, /* a NULL pointer, a bad size, a bad enum   */
    NLSQ_ERR_NOMEM,            /* an allocation failed                      */
    NLSQ_ERR_SYNTAX,           /* malformed model text                      */
    NLSQ_ERR_BAD_CHAR,         /* a byte that cannot start a token:
                                   non-ASCII, NUL, control, or stray symbol  */
    NLSQ_ERR_BAD_NUMBER,       /* malformed or out-of-range number literal  */
    NLSQ_ERR_UNKNOWN_FUNCTION, /* name(...) where name is not a function    */
    NLSQ_ERR_ARITY,            /* a function called with the wrong count    */
    NLSQ_ERR_TYPE,             /* a condition where a number is expected,
                                   or a number where a condition is expected */
    NLSQ_ERR_UNDEFINED_NAME,   /* a name that is not a variable, a local or
                                   a listed parameter                        */
    NLSQ_ERR_REDEFINED,        /* a local name assigned twice, or a local
                                   that would hide a variable, parameter,
                                   constant or function                      */
    NLSQ_ERR_NAME_CONFLICT,    /* bad variable or parameter lists: a name
                                   used as both, twice, or not an identifier */
    NLSQ_ERR_LIMIT,            /* text too long, nesting too deep, graph
                                   too large (see NLSQ_MODEL_MAX_*)          */
    NLSQ_ERR_BUILDER,          /* a builder call failed earlier; see the
                                   builder's first error                     */
    NLSQ_ERR_DATA,             /* NaN/Inf in the data, sigma <= 0 or not
                                   positive definite, too few points         */
    NLSQ_ERR_BOUNDS,           /* lb >= ub, p0 outside the bounds, bounds
                                   or a robust loss with lm                 */
    NLSQ_ERR_MODEL_NONFINITE,  /* the model or its Jacobian is NaN or Inf
                                   at the start point                       */
    NLSQ_ERR_IO,               /* a file could not be written (or is an
                                   input, a directory, ...); nothing was
                                   left half-written                        */
    NLSQ_ERR_CALLBACK,         /* nlsq_fit_callback: the residual function
                                   returned nonzero                         */
    NLSQ_STATUS_COUNT
} nlsq_status;

/*
 * What went wrong and where. `line` and `column` are 1-based positions in
 * the model text (0 when the error is not about the text); `column` counts
 * bytes from the start of its line, so for one-line models it is the byte
 * offset plus one. `message` is a complete sentence naming what and where.
 */
typedef struct nlsq_error {
    nlsq_status code;
    int line;
    int column;
    char message[256];
} nlsq_error;

/* A short fixed name for a status, e.g. "syntax error". Never NULL. */
NLSQ_API const char *nlsq_status_str(nlsq_status status);

/* ------------------------------------------------------------------------
 * The model language
 * ------------------------------------------------------------------------
 *
 * Text:      statements separated by `;` or new lines; every statement but
 *            the last is a local definition `name = expr`; the last is the
 *            model's value. `#` starts a comment to the end of the line.
 * Numbers:   1  .5  2.  1e-3  6.02E23 (decimal; out-of-range is an error).
 * Operators: by increasing precedence:  ||   &&   !   < <= > >= == !=
 *            + -   * /   unary - +   ^ or ** (right-associative; binds
 *            tighter than unary minus on its left: -x^2 is -(x^2), and
 *            accepts a unary minus on its right: 2^-x is 2^(-x)).
 *            Comparisons and && || ! make conditions, which may appear only
 *            as the first argument of where() or in a local used there.
 *            Comparisons do not chain: a < b < c is an error.
 * Functions: exp expm1 log log1p log10 log2 sqrt cbrt abs sign floor ceil
 *            sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh
 *            erf erfc lgamma tgamma (one argument); pow hypot atan2 min max
 *            faddeeva_re faddeeva_im (two arguments: atan2(y, x);
 *            faddeeva_re(x, y) = Re w(x + iy), w the Faddeeva function,
 *            SciPy's wofz); where(cond, a, b); and the shapes of the model
 *            library (below: gaussian(x), voigt(x, A, mu, s, g), ...).
 * Constants: pi, e.
 * Names:     [A-Za-z_][A-Za-z0-9_]*. Variables are named by the caller;
 *            local names must be defined before use and only once; every
 *            other name is a parameter. Function and constant names are
 *            reserved.
 *
 * Semantics (values follow IEEE 754 and C's libm unless stated):
 *   sign(u)   1 for u > 0, -1 for u < 0, u itself for ±0 and NaN.
 *   min, max  NaN if either argument is NaN; min(-0, +0) = -0 and
 *             max(-0, +0) = +0, so both are symmetric in their arguments.
 *   where     selects; the branch not taken never affects the value, even
 *             when it is NaN or infinite.
 *   u^n       for an integer constant n with |n| <= 64, repeated
 *             multiplication (u^-n = 1/u^n); otherwise pow().
 *   Conditions are true when nonzero; comparisons with NaN are false.
 *
 * The graph applies only rewrites that are exact in IEEE arithmetic for
 * every input: constant folding, x*1 -> x, x/1 -> x, x-0 -> x, -(-x) -> x,
 * u^1 -> u, u^0 -> 1, x*(-1) -> -x, and operand ordering for + * min max
 * == != && || (exactly commutative; hypot is not reordered, because glibc's
 * vector hypot is not bitwise symmetric). It never rewrites x*0 -> 0,
 * x-x -> 0 or x+0 -> x.
 *
 * Derivative conventions (where the derivative is not classical):
 *   - Chain-rule products use a "strong zero": when either the adjoint or
 *     the local partial is exactly 0 the product is 0, even if the other
 *     factor is infinite or NaN. So the branch of where() not taken
 *     contributes exactly 0 to every derivative, even if it is NaN; a
 *     max() that picks its other argument, or a floor(), cuts the path even
 *     below an infinite derivative such as acos'(1); and 0*g(p) has
 *     derivative 0 whatever g'(p) is.
 *   - AD differentiates the expression as written: where an intermediate
 *     value or partial is infinite (sqrt'(0), acos'(1), a value of inf),
 *     derivatives through it are infinite or NaN even if the expression as
 *     a whole is smooth there (cbrt(p - p) has derivative NaN at every p).
 *   - d/du u^v = v*u^(v-1) (so 1 at u = 0, v = 1);
 *     d/dv u^v = u^v*log(u), taken as 0 when u^v = 0 (u = 0, v > 0): the
 *     limit from the right, never NaN.
 *   - abs'(0) = 0, sign' = 0, floor' = ceil' = 0 everywhere.
 *   - sqrt'(0) = +inf, cbrt'(0) = +inf (the one-sided limits).
 *   - min/max: the derivative goes to the smaller (larger) argument; at a
 *     tie each argument gets 1/2.
 *   - hypot(x, y): partials x/h, y/h, taken as 0 at the origin.
 *   - atan2(y, x): partials x/h^2, -y/h^2 (h = hypot), 0 at the origin.
 *   - lgamma' = digamma (also for negative non-integer u, where lgamma is
 *     log|Gamma|); tgamma' = tgamma*digamma; both NaN at the poles.
 *   - erf' = 2/sqrt(pi)*exp(-u^2); erfc' = -erf'.
 *   - faddeeva: w'(z) = -2z w(z) + 2i/sqrt(pi), so d Re w/dx = Re w',
 *     d Re w/dy = -Im w', d Im w/dx = Im w', d Im w/dy = Re w'.
 */

/* Limits that malformed or hostile input runs into (NLSQ_ERR_LIMIT). */
#define NLSQ_MODEL_MAX_TEXT (256 * 1024) /* bytes of model text          */
#define NLSQ_MODEL_MAX_NODES (1 << 20)   /* graph nodes incl. derivatives */
/* Nesting of (), calls, ^, - in model text: the parser alone recurses, and
   models made with the builder may nest to any depth. */
#define NLSQ_MODEL_MAX_DEPTH 200

/* ------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------ */

typedef struct nlsq_model nlsq_model;

typedef struct nlsq_model_options {
    /* Comma-separated independent variable names, in the order of the rows
       of the x array given to nlsq_model_eval. Default "x". */
    const char *vars;
    /* Comma-separated parameter names in the order of the parameter vector,
       or NULL for order of first appearance in the text. When given, every
       parameter of the model must be listed and every listed name must be
       used (NLSQ_ERR_UNDEFINED_NAME otherwise). */
    const char *params;
} nlsq_model_options;

/* vars = "x", params = NULL. */
NLSQ_API nlsq_model_options nlsq_model_options_default(void);

/*
 * Parse `text` (NUL-terminated) into a model with its exact Jacobian.
 * `opt` may be NULL for the defaults. On success *out owns a new model; on
 * failure *out is NULL and `err` names the problem and its position.
 */
NLSQ_API nlsq_status nlsq_model_parse(const char *text, const nlsq_model_options *opt, nlsq_model **out,
                                      nlsq_error *err);

/* As nlsq_model_parse, for `len` bytes that need not end in NUL; a NUL byte
   inside them is an error (NLSQ_ERR_BAD_CHAR) with its position. */
NLSQ_API nlsq_status nlsq_model_parse_n(const char *text, size_t len, const nlsq_model_options *opt, nlsq_model **out,
                                        nlsq_error *err);

NLSQ_API void nlsq_model_free(nlsq_model *model);

/* Counts and names. Names are owned by the model; an index out of range
   gives NULL. */
NLSQ_API int nlsq_model_num_params(const nlsq_model *model);
NLSQ_API int nlsq_model_num_vars(const nlsq_model *model);
NLSQ_API const char *nlsq_model_param_name(const nlsq_model *model, int index);
NLSQ_API const char *nlsq_model_var_name(const nlsq_model *model, int index);

/*
 * Evaluate the model and its Jacobian at `npoints` points for parameters
 * `params[num_params]`.
 *
 *   x  the variables, one row of `npoints` doubles per variable, row k for
 *      the k-th variable: x[k*npoints + i] (SciPy's xdata of shape (k, m)).
 *      May be NULL only when npoints is 0.
 *   f  out: f[i], the model at point i; may be NULL.
 *   J  out: J[i*num_params + j] = d f[i] / d params[j] (row-major m x n);
 *      may be NULL.
 *
 * Thread-safe for a shared model. Allocates one workspace per call (not
 * per point). Transcendental functions use glibc's libmvec (AVX2, within
 * 4 ulp) when the CPU has AVX2 and FMA, scalar libm otherwise, or always
 * scalar libm when the environment sets NLSQ_VECTOR_MATH=off.
 */
NLSQ_API nlsq_status nlsq_model_eval(const nlsq_model *model, const double *params, const double *x, size_t npoints,
                                     double *f, double *J, nlsq_error *err);

/*
 * Write the model (which = -1) or its derivative dF/dp_which as text in the
 * model language into buf (at most `size` bytes with the NUL; truncated
 * text still ends in NUL). Subexpressions used more than once become local
 * definitions "t1 = ...; ", and so do subexpressions nested deeper than
 * NLSQ_MODEL_MAX_DEPTH / 2 (a built model may nest to any depth; its
 * text stays within the parser's limit). The text parses back (with the
 * same variables and parameter order) to the same values, except that the
 * derivative of lgamma shows as digamma(u), which is not part of the
 * language, strong-zero products show as plain products, and text longer
 * than NLSQ_MODEL_MAX_TEXT is refused by the parser. Any model formats
 * (nothing recurses per level) on any thread. Returns the length the full
 * text needs, excluding the NUL; 0 for bad arguments or out of memory.
 */
NLSQ_API size_t nlsq_model_format(const nlsq_model *model, int which, char *buf, size_t size);

/* What the scheduled program does per point and per evaluation. */
typedef struct nlsq_model_stats {
    int graph_nodes;          /* nodes in the graph of f and all dF/dp      */
    int point_instructions;   /* instructions run for every point           */
    int uniform_instructions; /* instructions run once per evaluation       */
    int point_calls;          /* of which transcendental calls per point    */
    int slots;                /* per-point temporaries (blocks of points)   */
} nlsq_model_stats;

NLSQ_API nlsq_status nlsq_model_get_stats(const nlsq_model *model, nlsq_model_stats *stats, nlsq_error *err);

/*
 * Write the scheduled program as readable text into buf (at most `size`
 * bytes including the NUL; truncated output still ends in NUL). Returns
 * the length the full text needs, excluding the NUL, or 0 on bad arguments.
 */
NLSQ_API size_t nlsq_model_dump(const nlsq_model *model, char *buf, size_t size);

/* ------------------------------------------------------------------------
 * The model library
 * ------------------------------------------------------------------------
 *
 * Named shapes that model text may call, each defined by a formula in the
 * language (so derivatives, kernels and GPU code are those of any model):
 *
 *   gaussian(x, A, mu, s)        explicit: the parameters are the
 *                                expressions given (components may share
 *                                parameters, or be constrained)
 *   gaussian(x) + gaussian(x)    a component: the shape's parameters are
 *                                made as parameters named prefix + name:
 *                                gaussian1_amplitude, gaussian1_center,
 *                                gaussian1_sigma, gaussian2_amplitude, ...
 *   gaussian2d(x, y)             2-D shapes take both variables
 *
 * The prefix is the shape's name, then '_' if the name ends in a digit,
 * then the component's occurrence among the calls of that shape in the
 * text (from 1), then '_': linear1_, polynomial3_1_, logistic4_2_. So
 * the names of different components never collide, and they are
 * ordinary parameters: --p0 gaussian2_center=5, --params, or text that
 * uses them all work. The first argument of a shape (x, or x and y) may
 * be any expression (gaussian(log(x))). `nlsq models` lists the shapes.
 */

/* The largest num_params of a shape (polynomial7). */
#define NLSQ_SHAPE_MAX_PARAMS 8

typedef struct nlsq_shape {
    const char *name;               /* "gaussian"                             */
    int num_vars;                   /* 1, or 2 for gaussian2d(x, y)           */
    int num_params;                 /* the parameters, in call order          */
    const char *const *param_names; /* "amplitude", "center", "sigma"         */
    const char *formula;            /* its definition in the model language,
                                       over x (and y) and param_names        */
    const char *summary;            /* one line for people                    */
} nlsq_shape;

/* The shapes in the library's order; NULL for an index out of range or
   an unknown name. The table is constant: nothing to free. */
NLSQ_API int nlsq_shape_count(void);
NLSQ_API const nlsq_shape *nlsq_shape_get(int index);
NLSQ_API const nlsq_shape *nlsq_shape_find(const char *name);

/* One call of a library shape in a model's text, in the text's order. */
typedef struct nlsq_component {
    const char *shape;  /* the shape's name                               */
    const char *prefix; /* "gaussian1_" for gaussian(x); "" when the call
                           gave the parameters (gaussian(x, A, mu, s))   */
    int num_params;     /* the shape's parameter count                    */
    /* params[k]: the index in the model's parameter vector of the shape's
       k-th parameter, or -1 where the call gave an expression that is not
       a plain parameter (gaussian(x, 2*A, mu, s) has -1 for amplitude) */
    const int *params;
    /* The component's value alone: a model with the same variables and
       parameters (Jacobian columns of the other parameters are zero), for
       plotting components or predicting them. Owned by the model. */
    const nlsq_model *value;
} nlsq_component;

/* Components of a parsed model (0 for a model built from calls). */
NLSQ_API int nlsq_model_num_components(const nlsq_model *model);
/* Fill *out with component `index` (valid while the model lives);
   NLSQ_ERR_INVALID_ARGUMENT for a NULL argument or an index out of range. */
NLSQ_API nlsq_status nlsq_model_component(const nlsq_model *model, int index, nlsq_component *out, nlsq_error *err);

/* ------------------------------------------------------------------------
 * Building a model from calls
 * ------------------------------------------------------------------------
 *
 * The builder makes the same graph as the parser from C calls, for
 * bindings that trace code (e.g. Python functions) and for programs that
 * generate models. Expressions are small integer handles valid within
 * their builder. A failing call returns NLSQ_EXPR_INVALID and records the
 * builder's first error; later calls given an invalid handle return it
 * again, so a whole expression can be built and checked once at the end by
 * nlsq_builder_finish, which reports that first error.
 *
 * The parser and the builder give identical programs when the builder
 * makes the nodes in the parser's order: variables first (in declaration
 * order), then operands before the operation, left before right.
 */

typedef struct nlsq_builder nlsq_builder;
typedef int nlsq_expr;
#define NLSQ_EXPR_INVALID (-1)

typedef enum nlsq_op {
    /* one argument */
    NLSQ_OP_NEG,
    NLSQ_OP_EXP,
    NLSQ_OP_EXPM1,
    NLSQ_OP_LOG,
    NLSQ_OP_LOG1P,
    NLSQ_OP_LOG10,
    NLSQ_OP_LOG2,
    NLSQ_OP_SQRT,
    NLSQ_OP_CBRT,
    NLSQ_OP_ABS,
    NLSQ_OP_SIGN,
    NLSQ_OP_FLOOR,
    NLSQ_OP_CEIL,
    NLSQ_OP_SIN,
    NLSQ_OP_COS,
    NLSQ_OP_TAN,
    NLSQ_OP_ASIN,
    NLSQ_OP_ACOS,
    NLSQ_OP_ATAN,
    NLSQ_OP_SINH,
    NLSQ_OP_COSH,
    NLSQ_OP_TANH,
    NLSQ_OP_ASINH,
    NLSQ_OP_ACOSH,
    NLSQ_OP_ATANH,
    NLSQ_OP_ERF,
    NLSQ_OP_ERFC,
    NLSQ_OP_LGAMMA,
    NLSQ_OP_TGAMMA,
    NLSQ_OP_NOT, /* condition -> condition */
    /* two arguments */
    NLSQ_OP_ADD,
    NLSQ_OP_SUB,
    NLSQ_OP_MUL,
    NLSQ_OP_DIV,
    NLSQ_OP_POW,
    NLSQ_OP_HYPOT,
    NLSQ_OP_ATAN2,
    NLSQ_OP_MIN,
    NLSQ_OP_MAX,
    NLSQ_OP_LT,
    NLSQ_OP_LE,
    NLSQ_OP_GT,
    NLSQ_OP_GE,
    NLSQ_OP_EQ,
    NLSQ_OP_NE,
    /* numbers -> condition */
    NLSQ_OP_AND,
    NLSQ_OP_OR, /* conditions -> condition */
    /* three arguments */
    NLSQ_OP_WHERE, /* (condition, number, number) */
    /* two arguments, numbered after where so that the older ops keep
       their numbers: Re and Im of the Faddeeva function w(x + iy) */
    NLSQ_OP_FADDEEVA_RE,
    NLSQ_OP_FADDEEVA_IM,
    NLSQ_OP_COUNT
} nlsq_op;

/* The language's name of an op ("exp", "+", "where", ...), or NULL. */
NLSQ_API const char *nlsq_op_name(nlsq_op op);
/* Number of arguments of an op (1, 2 or 3), or 0 for an invalid op. */
NLSQ_API int nlsq_op_arity(nlsq_op op);

NLSQ_API nlsq_status nlsq_builder_new(nlsq_builder **out, nlsq_error *err);
NLSQ_API void nlsq_builder_free(nlsq_builder *b);

/* A variable or parameter by name; the first call for a name declares it
   and fixes its index (declaration order). A name may not be both. */
NLSQ_API nlsq_expr nlsq_builder_var(nlsq_builder *b, const char *name);
NLSQ_API nlsq_expr nlsq_builder_param(nlsq_builder *b, const char *name);
/* A constant; any double, including inf and NaN. */
NLSQ_API nlsq_expr nlsq_builder_const(nlsq_builder *b, double value);
/* An operation of the right arity; argument types are checked
   (conditions only where the op takes conditions). */
NLSQ_API nlsq_expr nlsq_builder_op1(nlsq_builder *b, nlsq_op op, nlsq_expr a);
NLSQ_API nlsq_expr nlsq_builder_op2(nlsq_builder *b, nlsq_op op, nlsq_expr a, nlsq_expr c);
NLSQ_API nlsq_expr nlsq_builder_where(nlsq_builder *b, nlsq_expr cond, nlsq_expr a, nlsq_expr c);

/*
 * Make a model whose value is `root` (a number, not a condition). The
 * builder stays usable. Fails with the builder's first error if any call
 * failed, or NLSQ_ERR_INVALID_ARGUMENT for a bad root.
 */
NLSQ_API nlsq_status nlsq_builder_finish(nlsq_builder *b, nlsq_expr root, nlsq_model **out, nlsq_error *err);

/*
 * By default nlsq_builder_finish refuses a model with a declared parameter
 * that does not affect its value (NLSQ_ERR_UNDEFINED_NAME, "parameter 'b'
 * does not affect the model"): its Jacobian column would be all zero and
 * the fit singular. allow != 0 keeps such parameters, with a zero
 * derivative, for bindings that must accept what SciPy accepts
 * (curve_fit(lambda x, a, b: a*x, ...) fits b to nothing; its covariance
 * is then infinite and the result's pcov_valid 0). NULL b does nothing.
 */
NLSQ_API void nlsq_builder_allow_unused_params(nlsq_builder *b, int allow);

/* ------------------------------------------------------------------------
 * Fitting: nlsq_curve_fit
 * ------------------------------------------------------------------------
 *
 * Least squares in the sense of SciPy's curve_fit / least_squares: find p
 * minimising cost = 1/2 sum rho(r_i^2), r = W (f(x, p) - y), with W from
 * sigma, rho a robust loss, p within bounds, some parameters held fixed.
 *
 * Every iteration is one pass over the data that folds the weighted rows
 * [J | r] into a small triangle R_aug; the solvers work on R_aug only, so
 * memory is O(n^2) beyond the data, and the numerics are those of a QR of
 * J (no squared condition number).
 */

/*
 * Defaults that differ from SciPy's, chosen on NIST StRD (all 18 datasets
 * here, both starts, exact Jacobians; tests/test_nist.c):
 *   - tolerances ftol = xtol = gtol = 1e-15 instead of 1e-8: worst
 *     parameter LRE 6.41 (Lanczos3, start 2) instead of 2.92 (ENSO), worst
 *     standard-deviation LRE 6.40 instead of 3.71, for about a fifth more
 *     evaluations (1554 against 1279 over all 36 runs); at 1e-14 ENSO
 *     stops at 5.93, at 1e-12 at 4.97.
 *   - method trf also without bounds (SciPy: lm): with the same tolerances
 *     lm stops at its evaluation limit on MGH09 from start 1 (LRE 3.2);
 *     trf solves every run.
 * max_nfev: SciPy's (100 n for trf and dogbox, 100 (n+1) for lm) is the
 * first window of the default budget, which goes on in windows of that
 * size while the cost falls by more than 1e-8 of itself per window, up to
 * 100 windows (see nlsq_options.max_nfev). With SciPy's fixed budget
 * MGH09 (dogbox, lm), MGH10 (dogbox) and MGH17 (trf; not in the suite)
 * stopped at it from start 1 while still converging; now no NIST run
 * does (tests/test_finish.c, docs/c-api.md has the table).
 *
 * trf and dogbox stop with NLSQ_FIT_NO_REDUCTION (5, converged) at the
 * working-precision floor that tolerances of 1e-15 or less may not
 * detect: the Gauss-Newton step could gain at most 4 EPS cost and a trial
 * step gained no more, or a step of at most 4 EPS ||x|| failed to reduce
 * the cost (MINPACK's info 6 and 7). On NIST it ends 13 of the 36 trf
 * runs, a little earlier than the xtol test that ended them before (1493
 * evaluations over the 36 runs instead of 1584; the worst parameter LRE
 * stays 6.38, Lanczos3 start 1, which ends by xtol); with tolerances 0
 * the fits end there instead of at max_nfev.
 *
 * One stopping rule is added to trf and dogbox: besides SciPy's ftol test
 * (dF < ftol F with ratio > 0.25), ftol is also satisfied, as in MINPACK,
 * when the predicted and the actual reduction are both within ftol F. At
 * tolerances near rounding the actual reduction becomes noise; without
 * this the last passes are spent shrinking the radius until xtol holds
 * (on the bench/fit problems at 10^7 points: 6 to 8 passes instead of up to
 * 18). The cost is summed with compensation, so it is exact to about one
 * rounding at any number of points.
 */
#define NLSQ_DEFAULT_FTOL 1e-15
#define NLSQ_DEFAULT_XTOL 1e-15
#define NLSQ_DEFAULT_GTOL 1e-15

typedef enum nlsq_method {
    NLSQ_METHOD_AUTO = 0, /* trf (see above)                                */
    NLSQ_TRF,             /* trust-region reflective, bounds allowed        */
    NLSQ_LM,              /* Levenberg-Marquardt (MINPACK), no bounds       */
    NLSQ_DOGBOX           /* rectangular trust region, bounds allowed       */
} nlsq_method;

typedef enum nlsq_loss {
    NLSQ_LOSS_LINEAR = 0, /* rho(z) = z                                     */
    NLSQ_LOSS_SOFT_L1,    /* 2 (sqrt(1+z) - 1)                              */
    NLSQ_LOSS_HUBER,      /* z if z <= 1, else 2 sqrt(z) - 1                */
    NLSQ_LOSS_CAUCHY,     /* log1p(z)                                       */
    NLSQ_LOSS_ARCTAN      /* arctan(z)                                      */
} nlsq_loss;

typedef enum nlsq_sigma_kind {
    NLSQ_SIGMA_NONE = 0,  /* unweighted                                     */
    NLSQ_SIGMA_SCALAR,    /* sigma[0] for every point                       */
    NLSQ_SIGMA_PER_POINT, /* sigma[i]: r_i = (f_i - y_i) / sigma_i          */
    NLSQ_SIGMA_COVARIANCE /* sigma[i*m + j], an m x m covariance matrix:
                             r = L^-1 (f - y) with sigma = L L^T            */
} nlsq_sigma_kind;

typedef enum nlsq_nan_policy {
    NLSQ_NAN_RAISE = 0, /* NaN or Inf in x, y or sigma is an error        */
    NLSQ_NAN_OMIT,      /* points with NaN or Inf in x, y or sigma are
                             left out (not with a covariance sigma)        */
    NLSQ_NAN_IGNORE     /* no check at all (check_finite = False)         */
} nlsq_nan_policy;

/* The data of a fit. x is k rows of m values (k = number of variables). */
typedef struct nlsq_data {
    const double *x;
    const double *y;
    size_t m;
    const double *sigma; /* NULL, or as sigma_kind says            */
    nlsq_sigma_kind sigma_kind;
} nlsq_data;

/* Called after every accepted iteration; return nonzero to stop the fit
   (status -2). `params` has all n parameters, fixed ones included. */
typedef int (*nlsq_callback)(void *user, int iteration, double cost, const double *params, double grad_norm,
                             double step_norm);

/*
 * Progress within a fit, for long passes (a billion points take seconds a
 * pass). Called on the thread that called the fit, at most every
 * progress_interval seconds during a pass and once at its end. Return
 * nonzero to stop the fit after the current iteration (status -2).
 */
typedef struct nlsq_progress {
    int pass;              /* passes started, this one included            */
    int iteration;         /* iterations completed                         */
    double pass_fraction;  /* of the current pass, 0 .. 1                  */
    double cost;           /* the cost at the latest accepted point (NaN
                               before the first pass ends)                  */
    double elapsed;        /* seconds since the fit started                */
    double pass_seconds;   /* the last complete pass took (NaN: none yet)  */
    double pass_remaining; /* seconds to the end of the current pass, by
                               its rate so far                              */
    size_t points;         /* points in a pass                             */
} nlsq_progress;

typedef int (*nlsq_progress_fn)(void *user, const nlsq_progress *p);

/*
 * Where the passes run. The compiled kernel (the model, its Jacobian, the
 * weights and the fold into R_aug as one C function built by the system
 * compiler, $NLSQ_CC or cc, and cached in $XDG_CACHE_HOME/nlsq or
 * ~/.cache/nlsq) computes exactly the interpreter's arithmetic: the
 * results are bitwise the same, only faster.
 *   DEFAULT  $NLSQ_BACKEND (auto, interp or jit) if set, else AUTO
 *   AUTO     the interpreter below 20000 points; from 20000 a cached
 *            kernel when there is one; from 100000 a missing kernel is
 *            compiled in the background while the interpreter serves the
 *            first iterations, and used from the pass after it is ready
 *   INTERP   the interpreter only
 *   JIT      compile (or load) before the first pass and wait for it
 * No compiler, or a failed compile, never fails a fit: the interpreter
 * carries on and result->backend_note says why. (A covariance sigma, whose
 * whitening needs all rows at once, always runs on the interpreter.) A model keeps its
 * kernels until nlsq_model_free, which waits for a compile in progress.
 * NLSQ_JIT_DUMP=DIR writes each generated source to DIR for inspection.
 */
typedef enum nlsq_backend {
    NLSQ_BACKEND_DEFAULT = 0,
    NLSQ_BACKEND_AUTO,
    NLSQ_BACKEND_INTERP,
    NLSQ_BACKEND_JIT
} nlsq_backend;

/*
 * A group of processes fitting one problem together (several machines;
 * docs/cluster.md). Each process holds the same data source (a shared file,
 * or the same arrays) and the same options; the points are split into
 * chunks that depend on their number alone, each process folds the chunks
 * of its own even share, and the chunk triangles merge in the fixed binary
 * tree a single process uses, the partial triangles travelling between
 * processes where the tree crosses from one share to the next. The result
 * is therefore bitwise the single-process fit's, for any group size and
 * thread count, on every process. Every process runs the same solver on the
 * same merged numbers (no second message per iteration); process 0 alone
 * writes checkpoints.
 *
 * The library moves bytes only through these three calls, so it links no
 * transport: libnlsq_mpi (nlsq_mpi.h) makes a group from an MPI
 * communicator. Each call returns 0, or nonzero when the group is broken
 * (the fit then fails with NLSQ_ERR_IO). A call must not return before its
 * bytes are delivered (send) or have arrived (recv, bcast); messages
 * between two processes with one tag arrive in the order sent.
 */
typedef struct nlsq_group {
    int rank, size; /* this process, and how many there are (>= 1)     */
    void *ctx;      /* the transport's own                             */
    int (*send)(void *ctx, int to, int tag, const void *buf, size_t bytes);
    int (*recv)(void *ctx, int from, int tag, void *buf, size_t bytes);
    /* every process gets root's bytes */
    int (*bcast)(void *ctx, int root, void *buf, size_t bytes);
} nlsq_group;

typedef struct nlsq_options {
    nlsq_method method;         /* default NLSQ_METHOD_AUTO                     */
    nlsq_loss loss;             /* default linear                               */
    double f_scale;             /* loss scale C, default 1                      */
    double ftol, xtol, gtol;    /* negative: the defaults above (lm: gtol 0)  */
    int max_nfev;               /* > 0: a hard limit, as SciPy's. 0: windows
                               of SciPy's 100*n (trf, dogbox) or 100*(n+1)
                               (lm) evaluations, another window granted
                               while the cost fell by more than 1e-8 of
                               itself in the last one, at most 100 windows
                               (10000*n): a fit that still makes progress
                               is not cut off, one that has stalled stops
                               where SciPy's would. See above.            */
    const double *p0;           /* n start values, or NULL for SciPy's rule:
                               1; the midpoint of two finite bounds;
                               lb+1 or ub-1 for one finite bound. A NaN
                               entry takes the rule for that parameter
                               alone (start values given for some)        */
    const double *lower;        /* n lower bounds (-INFINITY: none), or NULL    */
    const double *upper;        /* n upper bounds (INFINITY: none), or NULL     */
    const unsigned char *fixed; /* n flags: nonzero holds the parameter at
                               its p0 value; NULL: all free                */
    const double *x_scale;      /* n characteristic scales, or NULL for 1       */
    int x_scale_jac;            /* nonzero: x_scale = 'jac' (column norms of J) */
    int absolute_sigma;         /* nonzero: pcov not scaled by chi2/dof         */
    nlsq_nan_policy nan_policy; /* default NLSQ_NAN_RAISE                   */
    int keep_residuals;         /* nonzero: result->residuals gets r (length m) */
    nlsq_callback callback;     /* or NULL                                      */
    void *callback_data;
    int threads;               /* threads for the passes; 0: $NLSQ_THREADS if
                               set, else all online cores. Results are
                               bitwise the same for any count: the points
                               are split into chunks that depend on m alone
                               and merged in a fixed order. A fit whose
                               points fit in one chunk (16384) uses one.   */
    nlsq_backend backend;      /* see above; default NLSQ_BACKEND_DEFAULT      */
    nlsq_progress_fn progress; /* or NULL; see nlsq_progress                */
    void *progress_data;
    double progress_interval; /* seconds between progress calls; 0: 0.1     */
    const char *checkpoint;   /* a file to write the solver's state to after
                               every evaluation, or NULL; see below         */
    int resume;               /* nonzero: continue from `checkpoint` if it
                               exists (a fresh fit if it does not)         */
    const char *device;       /* where the passes run: "auto" (a CUDA GPU when
                               there is one and the data have 3*10^4
                               points or more — 10^7 for a process's first
                               GPU fit, which makes the GPU's context —
                               else the CPU), "cpu", "cuda" or
                               "cuda:N", "cuda:all" (every GPU, a share
                               of the points each); NULL: $NLSQ_DEVICE,
                               else auto. A GPU asked for by name that
                               cannot be used is an error saying why.
                               Data are uploaded once per fit; data larger
                               than half of one GPU's memory are streamed
                               through it in segments every pass (one GPU;
                               with cuda:all each GPU must hold its share).
                               Results agree with the CPU's to rounding
                               (1e-10) and are the same on every run.    */
    int gpu_float32;          /* nonzero: on a GPU, keep the data as float32
                               (half the memory: twice the points fit on
                               the device) and compute the Jacobian in
                               float32; the model's value, the residuals,
                               every sum, the triangle and the solver stay
                               float64, so the fit converges as in
                               float64. Parameters agree with a float64
                               fit to about 1e-7 relative (tests: 1e-5 of
                               max(|p|, its standard error)), pcov to
                               1e-4. The CPU ignores it.                 */
    int lm_last_jacobian;     /* nonzero, with lm: pcov from the Jacobian of
                               lm's last iteration, as MINPACK's lmder and
                               lmdif return it (fjac) and SciPy's
                               curve_fit inverts it, instead of from J at
                               popt. The two differ where the last step
                               was accepted: by about that step's size
                               (1e-6 relative is common at SciPy's
                               tolerances). nlsqc.curve_fit sets it with
                               defaults="scipy". Other methods ignore it. */
    const nlsq_group *group;  /* or NULL: this process alone. With a group,
                               nlsq_fit_source, nlsq_curve_fit and
                               nlsq_fit_global fold only this process's
                               share of the points and nlsq_fit_batch fits
                               only its share of the fits (every process
                               gets every result); every process must make
                               the same call. A group runs on the CPU.   */
} nlsq_options;

NLSQ_API nlsq_options nlsq_options_default(void);

/*
 * How a fit ended. 0 .. 4 and -2 are SciPy's least_squares statuses (the
 * same numbers, so results compare directly); 5 and -3 are ours (the
 * working-precision floor, and a numerical failure SciPy would raise as
 * LinAlgError); -10 .. -12 are given only by
 * nlsq_fit_batch to a fit that did not run, whose popt is then its start
 * point (NaN if none). Errors of a call are nlsq_status, never these.
 * A fit succeeded when its status is > 0.
 */
typedef enum nlsq_fit_status {
    NLSQ_FIT_NONFINITE = -12, /* the model or its Jacobian is NaN/Inf at
                                  the start point                           */
    NLSQ_FIT_BAD_DATA = -11,  /* NaN/Inf in its x, y or sigma (nan_policy
                                  raise), sigma <= 0, fewer usable points
                                  than free parameters (any method), or
                                  none                                     */
    NLSQ_FIT_BAD_INPUT = -10, /* p0 outside its bounds, lower >= upper,
                                  every parameter fixed, lm with bounds     */
    NLSQ_FIT_SVD_FAILED = -3, /* trf or dogbox stopped: the SVD of the
                                  trust-region subproblem failed (the
                                  Jacobian is not finite, or both the QR
                                  and the Jacobi SVD stalled); popt is the
                                  last accepted point. Not converged.      */
    NLSQ_FIT_STOPPED = -2,    /* the callback asked to stop (a batch: the
                                  progress function cancelled it; nfev 0
                                  and NaN popt for a fit not started)      */
    NLSQ_FIT_MAX_NFEV = 0,    /* max_nfev evaluations reached              */
    NLSQ_FIT_GTOL = 1,        /* gtol satisfied                            */
    NLSQ_FIT_FTOL = 2,        /* ftol satisfied                            */
    NLSQ_FIT_XTOL = 3,        /* xtol satisfied                            */
    NLSQ_FIT_FTOL_XTOL = 4,   /* ftol and xtol satisfied                   */
    NLSQ_FIT_NO_REDUCTION = 5 /* the tolerances are too small to be met
                                  and no further reduction in the sum of
                                  squares is possible at working precision.
                                  lm: MINPACK's info 6-8. trf, dogbox: a
                                  trial step from the current point gained
                                  at most 4 EPS cost while the Gauss-Newton
                                  step could gain at most 4 EPS cost, or a
                                  step of at most 4 EPS ||x|| failed to
                                  reduce the cost. Converged.              */
} nlsq_fit_status;

/* A sentence for a fit status, SciPy's words where SciPy has one. Never
   NULL (a value outside the enum gets "unknown status"). */
NLSQ_API const char *nlsq_fit_status_str(nlsq_fit_status status);

/* ------------------------------------------------------------------------
 * Diagnostics: can the result be trusted?
 * ------------------------------------------------------------------------
 *
 * A status > 0 says only that the solver stopped by a tolerance. A fit
 * from a poor start can stop "converged" with parameters that never moved
 * (a Gaussian started far from its peak has zero Jacobian columns there),
 * standard errors of 0 and R^2 = 0. After every single fit (nlsq_curve_fit,
 * the source and file fits, nlsq_fit_callback) nlsq checks the result and
 * fills nlsq_result.diag, from what the fit already has: the final R_aug
 * (J's column norms and singular values), popt, p0, the bounds, pcov, R^2
 * and, where the data are passed once more, the residuals' signs.
 *
 * The findings, as bits of nlsq_diagnostics.flags. The first five make the
 * result untrusted (NLSQ_DIAG_UNTRUSTED); the others are cautions, shown
 * to the user, that leave the verdict trusted.
 */
typedef enum nlsq_diagnostic {
    /* status <= 0 */
    NLSQ_DIAG_NOT_CONVERGED = 1 << 0,
    /* a free parameter changes nothing at popt: ||J[:,j]|| s_j is 0 or at
       most 1e-10 of the largest such product, s_j = max(|popt_j|, |p0_j|)
       (1 where both are 0) */
    NLSQ_DIAG_NO_INFLUENCE = 1 << 1,
    /* a free parameter ended where it started (|popt - p0| <= 1e-12 |p0|,
       bitwise for p0 = 0) while the fit does not reproduce the data
       exactly (1 - R^2 > 1e-12; without R^2, chi2 > 0) */
    NLSQ_DIAG_NOT_MOVED = 1 << 2,
    /* J's influential columns scaled to unit norm have a singular value at
       most EPS max(m, n) times the largest: some combination of
       parameters is not determined by the data */
    NLSQ_DIAG_RANK_DEFICIENT = 1 << 3,
    /* R^2 <= 1e-10: the model explains the data no better than their mean */
    NLSQ_DIAG_NO_EXPLANATION = 1 << 4,
    /* caution: cond (below) > 1e7 */
    NLSQ_DIAG_ILL_CONDITIONED = 1 << 5,
    /* caution: a pair of parameters with |corr| > 0.99 */
    NLSQ_DIAG_CORRELATED = 1 << 6,
    /* caution: a parameter at a bound (active_mask), where its standard
       error assumes it is free */
    NLSQ_DIAG_AT_BOUND = 1 << 7,
    /* caution: the residuals are not random in data order: the runs test's
       z < -4 (far fewer sign changes than chance, p < 3e-5; all of one
       sign is z = -Inf), or lag-1 autocorrelation > 0.5 with
       lag1 sqrt(count) > 4; tested with at least 20 nonzero residuals */
    NLSQ_DIAG_RESIDUAL_STRUCTURE = 1 << 8
} nlsq_diagnostic;

/* The findings that make a result untrusted. */
#define NLSQ_DIAG_UNTRUSTED \
    (NLSQ_DIAG_NOT_CONVERGED | NLSQ_DIAG_NO_INFLUENCE | NLSQ_DIAG_NOT_MOVED | NLSQ_DIAG_RANK_DEFICIENT | \
     NLSQ_DIAG_NO_EXPLANATION)

typedef struct nlsq_diagnostics {
    unsigned flags;        /* the findings (nlsq_diagnostic bits); 0: none */
    int trusted;           /* 1 when no bit of NLSQ_DIAG_UNTRUSTED is set  */
    unsigned *param_flags; /* n: per parameter, NLSQ_DIAG_NO_INFLUENCE,
                              _NOT_MOVED, _AT_BOUND, and _RANK_DEFICIENT
                              for those in a combination the data do
                              not determine (a component above 0.1 in
                              a null vector); 0 for a fixed one        */
    double *influence;     /* n: ||J[:,j]|| s_j (NLSQ_DIAG_NO_INFLUENCE's
                              s_j) over the largest such product
                              (0 .. 1; 0 for a fixed one)              */
    int rank;              /* rank of J's influential free columns scaled
                              to unit norm (those without influence are
                              reported on their own)                   */
    double cond;           /* those columns' 2-norm condition number
                              s_max/s_min (independent of the parameters'
                              units; 1 for one column; Inf when rank-
                              deficient or no column has influence; NaN
                              when J is not finite)                    */
    int n_correlated;      /* pairs with |corr| > 0.99 (from a valid pcov) */
    int *correlated;       /* 2 n_correlated parameter indices, a < b     */
    double *correlation;   /* n_correlated: their correlations            */
    int residuals_tested;  /* 1 when the residual tests below ran: the
                              residuals were kept (keep_residuals), or
                              the final pass computed them (a robust
                              loss; or on the CPU with at most 2^22
                              points, no covariance sigma and no
                              checkpoint, one extra pass at popt, not
                              counted in passes); a callback fit with the
                              linear loss tests them only with
                              keep_residuals                          */
    size_t runs;           /* runs of equal sign in data order (zeros and
                              omitted points skipped)                  */
    size_t n_pos, n_neg;   /* positive and negative residuals           */
    double runs_z;         /* Wald-Wolfowitz: (runs - E) / sd, E = 1 +
                              2 n_pos n_neg / N, N = n_pos + n_neg;
                              negative: fewer sign changes than chance
                              (NaN when not tested)                    */
    double lag1;           /* sum r_i r_(i+1) / sum r_i^2 of the weighted
                              residuals in data order (NaN: not tested) */
} nlsq_diagnostics;

/* A sentence for one finding (one bit); "" for 0, "unknown diagnostic"
   for anything else. Never NULL. */
NLSQ_API const char *nlsq_diagnostic_str(nlsq_diagnostic d);

typedef struct nlsq_result {
    int n;        /* parameters (fixed ones included)                */
    int n_free;   /* parameters fitted                               */
    size_t m;     /* points used (after nan_policy omit)             */
    int dof;      /* m - n_free                                      */
    double *popt; /* n                                               */
    double *pcov; /* n x n, row-major; rows/columns of fixed
                             parameters are 0; all Inf when it could not be
                             estimated (pcov_valid = 0)                      */
    double *perr; /* n: sqrt(diag(pcov))                             */
    int pcov_valid;
    double cost;      /* 1/2 sum rho(r_i^2) at popt                      */
    double chi2;      /* sum r_i^2 of the weighted residuals, before the
                             loss (with a covariance sigma: 2 cost)        */
    double redchi;    /* chi2 / dof                                      */
    double r2;        /* 1 - chi2 / SS_tot, SS_tot = sum w_i (y_i - ybar)^2
                             about the weighted mean, w_i = 1/sigma_i^2
                             (the diagonal for a covariance sigma)         */
    double aic, bic;  /* m log(chi2/m) + 2k, m log(chi2/m) + k log m     */
    double grad_norm; /* first-order optimality at popt                  */
    int nfev, njev, nit;
    nlsq_fit_status status;
    int success;              /* status > 0                                      */
    char message[200];        /* nlsq_fit_status_str(status), or the reason the
                             fit stopped in more words                      */
    nlsq_method method;       /* the method actually used                        */
    int threads;              /* threads the passes ran on                       */
    char backend[8];          /* "jit" when the final passes ran compiled code,
                             "interp" for the interpreter, "cuda" on a GPU  */
    char backend_note[240];   /* how the kernel came ("loaded from the cache
                             in 0.3 ms"), or why there is none; "" when the
                             interpreter was chosen                          */
    int jit_passes, passes;   /* passes run, and how many of them compiled    */
    int resumed_evaluations;  /* evaluations taken from a checkpoint         */
    char device[16];          /* where the passes ran: "cpu" or "cuda:N"        */
    char device_note[240];    /* the GPU's name and how its kernel came, or why
                             the CPU ran the fit                            */
    size_t memory_bytes;      /* the fit's own working memory (see
                             nlsq_fit_memory), not counting the data       */
    signed char *active_mask; /* n: -1 at lower bound, 1 at upper, 0 free    */
    double *residuals;        /* m weighted residuals if keep_residuals, else NULL */
    int pcov_rank;            /* directions pcov covers: n_free, or fewer when
                             J is rank-deficient at working precision and
                             pcov is the pseudo-inverse over the singular
                             values above EPS max(m, n) s_max (trf and
                             dogbox always take it, as SciPy; lm where
                             its plain inverse would be rounding: cond
                             beyond 1/(EPS max(m, n))). The variance
                             along the dropped directions is not in pcov:
                             those parameter combinations are not
                             determined by the data. 0: no pcov.        */
    double *jac_at;           /* n: the parameters at which the Jacobian
                             behind pcov was taken: popt, or with
                             lm_last_jacobian where lm took it last     */
    nlsq_diagnostics diag;    /* can it be trusted? (see above)              */
    struct nlsq_global_summary *global; /* nlsq_fit_global's search: the
                             starts and the distinct minima found; NULL
                             for every other fit. Freed with the result. */
    int absolute_sigma;       /* the fit's options.absolute_sigma: pcov is
                             sigma's own scale (intervals use the normal
                             distribution), not scaled by chi2/dof
                             (Student-t with dof degrees of freedom)    */
} nlsq_result;

NLSQ_API void nlsq_result_free(nlsq_result *result);

/*
 * Fit `model` to `data`. opt may be NULL for the defaults. On success
 * (*out)->popt etc. are filled and NLSQ_OK is returned even when the
 * solver stopped without converging: check (*out)->success and status.
 * Errors (bad input, a model that is NaN at p0, ...) return a status and
 * leave *out NULL.
 */
NLSQ_API nlsq_status nlsq_curve_fit(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                                    nlsq_result **out, nlsq_error *err);

/* ------------------------------------------------------------------------
 * Fitting a model given as a callback
 * ------------------------------------------------------------------------
 *
 * For a model that cannot be written in the model language (a numerical
 * integration, a convolution, a library call): the caller computes the m
 * residuals, least_squares style, and nlsq runs the same solvers, bounds,
 * losses, x_scale, stopping rules and covariance on them, folding each
 * evaluation's [J | r] into R_aug in blocks of rows. The residual form
 * (not model values plus y and sigma) keeps one call for both curve_fit
 * and least_squares: weighting by sigma (scalar, per point, or the inverse
 * Cholesky factor of a covariance) is the caller's, as SciPy's curve_fit
 * does it, and R^2 (which needs y) is left NaN.
 *
 * fn fills r[0..m) at params (all n parameters, fixed ones included) and,
 * when J is not NULL, J (m x n, row-major: J[i*n + j] = d r_i / d p_j).
 * nlsq asks for J only when jac is NLSQ_JAC_CALLBACK; otherwise J is
 * always NULL and the Jacobian is taken by finite differences:
 *   trf, dogbox: SciPy's approx_derivative. 2-point: forward differences
 *     with h = diff_step * sign(x) * |x| (sign(0) = 1), or, without
 *     diff_step (or where that step vanishes), h = sqrt(EPS) * sign(x) *
 *     max(1, |x|); 3-point: central differences with EPS^(1/3) in place of
 *     sqrt(EPS). Near a bound the step goes the other way, or becomes a
 *     one-sided 3-point formula, as SciPy does; h is taken as the
 *     difference actually represented, (x + h) - x.
 *   lm: MINPACK's forward differences, h = sqrt(max(epsfcn, EPS)) * |x|
 *     (h = sqrt(max(epsfcn, EPS)) when x = 0); epsfcn 0 is EPS, and
 *     when epsfcn is 0 but diff_step is given, epsfcn = diff_step^2 (as
 *     SciPy's least_squares passes it). 3-point is the same as 2-point
 *     with lm, as in SciPy.
 * nfev counts as SciPy does: trf and dogbox count the solver's
 * evaluations only (not the Jacobian's calls); lm counts every call of fn,
 * the finite differences included, as MINPACK, and max_nfev (if given)
 * bounds those calls. njev counts Jacobians.
 *
 * fn is called on the calling thread only, one call at a time, so it need
 * not be thread-safe. A nonzero return stops the fit: the call returns
 * NLSQ_ERR_CALLBACK ("the residual function returned <code> at evaluation
 * <k>") and no result. Residuals or a Jacobian that are NaN or Inf at the
 * start are NLSQ_ERR_MODEL_NONFINITE; later, a step to such a point is
 * rejected as with a model. options->backend, device, threads, checkpoint
 * and nan_policy do not apply (checkpoint and resume are refused);
 * keep_residuals gives the residuals at popt.
 */
typedef int (*nlsq_residual_fn)(void *user, const double *params, double *r, double *J);

typedef enum nlsq_jac_kind {
    NLSQ_JAC_2POINT = 0, /* finite differences (see above), the default */
    NLSQ_JAC_3POINT,     /* central differences (lm: as 2-point)        */
    NLSQ_JAC_CALLBACK    /* fn fills J when J is not NULL               */
} nlsq_jac_kind;

typedef struct nlsq_residual_problem {
    nlsq_residual_fn fn;
    void *user;
    int n;             /* parameters (>= 1)                              */
    size_t m;          /* residuals (>= the free parameters)            */
    nlsq_jac_kind jac; /* default NLSQ_JAC_2POINT                        */
    double diff_step;  /* relative step for trf/dogbox differences;
                          0: the default above                           */
    double epsfcn;     /* lm's MINPACK step parameter; 0: EPS           */
} nlsq_residual_problem;

NLSQ_API nlsq_residual_problem nlsq_residual_problem_default(void);

/*
 * Minimise 1/2 sum rho(r_i^2) over the parameters of `problem`, with the
 * options of nlsq_curve_fit (p0, bounds, fixed, method, loss, f_scale,
 * tolerances, max_nfev, x_scale, absolute_sigma, keep_residuals,
 * callback). The result is nlsq_curve_fit's: pcov by SciPy's curve_fit
 * rules on the residuals as given (scaled by chi2/dof unless
 * absolute_sigma), r2 NaN, backend "callback".
 */
NLSQ_API nlsq_status nlsq_fit_callback(const nlsq_residual_problem *problem, const nlsq_options *opt, nlsq_result **out,
                                       nlsq_error *err);

/* ------------------------------------------------------------------------
 * Data sources: fitting data of any size
 * ------------------------------------------------------------------------
 *
 * A source is a table of columns read in windows of rows by index, so the
 * passes of a fit read it from all threads at once and never hold more
 * than a few windows per thread: a fit from a source needs memory that
 * does not depend on the number of rows. The fit is the same as in memory
 * — same passes, same arithmetic: from float64 data of any source the
 * parameters and covariance are bitwise those of nlsq_curve_fit on arrays.
 *
 *     nlsq_source *src;
 *     nlsq_source_open_npy("big.npy", &src, &err);     // (rows, 2): x, y
 *     nlsq_fit_source(model, src, NULL, &opt, &res, &err);
 *     nlsq_source_free(src);
 *
 * Sources are read-only and may be shared by fits one after another; a
 * source must not be freed while a fit reads it.
 */
typedef struct nlsq_source nlsq_source;

/* Caller arrays cols[0..ncols) of nrows values each, read in place (no
   copy): they must outlive the source. */
NLSQ_API nlsq_status nlsq_source_from_arrays(const double *const *cols, int ncols, size_t nrows, nlsq_source **out,
                                             nlsq_error *err);

/* A NumPy .npy file, memory-mapped: float64 or float32, either byte order,
   1-D (one column) or 2-D (rows, columns), C or Fortran order. Native
   float64 in Fortran order is read in place; the other layouts are
   converted window by window. Mapped pages are given back after use, so
   resident memory stays small however large the file. */
NLSQ_API nlsq_status nlsq_source_open_npy(const char *path, nlsq_source **out, nlsq_error *err);

typedef enum nlsq_dtype { NLSQ_FLOAT64 = 0, NLSQ_FLOAT32 } nlsq_dtype;

/*
 * A raw binary file: `offset` bytes of anything, then rows x ncols values
 * of `dtype` in the given byte order, either row after row (interleaved:
 * x0 y0 x1 y1 ...) or column after column (planar: all x, then all y).
 * The row count is (file size - offset) / (ncols * size of dtype), and
 * the size must divide exactly.
 */
typedef struct nlsq_raw_layout {
    int ncols;        /* columns, >= 1 (default 2)                    */
    nlsq_dtype dtype; /* default NLSQ_FLOAT64                         */
    int column_major; /* nonzero: planar; default 0: interleaved rows */
    int big_endian;   /* default 0: little-endian                     */
    size_t offset;    /* bytes before the data, default 0             */
} nlsq_raw_layout;

NLSQ_API nlsq_raw_layout nlsq_raw_layout_default(void);
NLSQ_API nlsq_status nlsq_source_open_raw(const char *path, const nlsq_raw_layout *layout, nlsq_source **out,
                                          nlsq_error *err);

/*
 * A text table (CSV, TSV, semicolons or whitespace; the rules of the
 * CLI's reader: '#' comments, an optional header row, quoted fields,
 * empty/NA/nan as NaN), converted once, in a single streaming read, into
 * a column cache: a float64 .npy file (C order) that is then mapped like
 * any .npy. The cache is reused while the text file's size and
 * modification time are unchanged. A names file beside it (CACHE.names)
 * holds the text file's identity, the .npy's (device, inode, size, mtime)
 * and the column names; the .npy is committed first, the names last, so
 * a kill at any moment never leaves names vouching for other data. A
 * cache_path that is the text file itself (by device and inode), not a
 * regular file, or "-" is refused with NLSQ_ERR_IO, the file untouched;
 * a symbolic link is followed. Caches in the default place are evicted,
 * least recently used first, past $NLSQ_COLUMN_CACHE_MAX (a value that is
 * not a size: NLSQ_ERR_INVALID_ARGUMENT). Write failures: NLSQ_ERR_IO.
 */
typedef struct nlsq_text_options {
    char delimiter;         /* ',', ';', '\t', ' ' (blank runs); 0: found on
                               the first data line                          */
    const char *cache_path; /* the cache file; NULL: in the kernel cache
                               directory ($XDG_CACHE_HOME/nlsq/columns),
                               named by the text file's identity            */
} nlsq_text_options;

NLSQ_API nlsq_text_options nlsq_text_options_default(void);
NLSQ_API nlsq_status nlsq_source_open_text(const char *path, const nlsq_text_options *opt, nlsq_source **out,
                                           nlsq_error *err);

/*
 * A text table read whole into memory (no column cache): the same rules
 * and the same numbers as nlsq_source_open_text, for a small table or one
 * that is not a file. `path` "-" reads standard input to its end. Only
 * opt->delimiter is used (opt may be NULL). Errors name the file, line and
 * field ("data.csv:3: field 2 ('oops') is not a number"); a file that
 * cannot be opened gives "PATH: <the system's reason>". Columns are named
 * by the header row, else "1", "2", ...; up to 256 of them.
 */
NLSQ_API nlsq_status nlsq_source_load_text(const char *path, const nlsq_text_options *opt, nlsq_source **out,
                                           nlsq_error *err);
/*
 * Any data file read whole into memory and exactly once: a .npy (told by
 * its \x93NUMPY magic, not by its name) or a text table (the rules of
 * nlsq_source_load_text). For what cannot be read twice — a pipe, a FIFO,
 * /dev/stdin, a shell's <(...) — where sniffing the type by reading the
 * start and then reopening the path would lose that start. `path` "-" is
 * standard input. A .npy's header is checked against the bytes that
 * arrive ("truncated file" when it claims more), so memory grows with
 * what is read, not with what a header claims, and reading stops at half
 * the machine's memory (NLSQ_ERR_NOMEM: give a file, which is mapped). A
 * text line is at most 1 MiB (/dev/zero is refused). A directory is refused
 * ("PATH: Is a directory"). Only opt->delimiter is used (opt may be NULL).
 */
NLSQ_API nlsq_status nlsq_source_load(const char *path, const nlsq_text_options *opt, nlsq_source **out,
                                      nlsq_error *err);
/* The same from len bytes of text in memory (copied: text may be freed
   afterwards); `name` (NULL: "text") names it in messages and in
   nlsq_source_describe. */
NLSQ_API nlsq_status nlsq_source_load_text_buffer(const char *text, size_t len, const char *name,
                                                  const nlsq_text_options *opt, nlsq_source **out, nlsq_error *err);

/* A caller callback that fills rows [first, first+count) of the columns
   asked for: cols[c] is NULL for a column not needed, else room for count
   values. Return 0, or nonzero for an error (the fit fails with it). With
   thread_safe = 0, calls are serialised; with 1 they may come from several
   threads at once for different rows. The same rows must always get the
   same values. */
typedef int (*nlsq_fill_fn)(void *user, size_t first, size_t count, double *const *cols);

NLSQ_API nlsq_status nlsq_source_from_callback(int ncols, size_t nrows, nlsq_fill_fn fill, void *user, int thread_safe,
                                               nlsq_source **out, nlsq_error *err);

/*
 * An HDF5 file (NeXus files are HDF5), read in windows of rows
 * (hyperslabs) in memory that does not depend on the dataset's size.
 * datasets[0..count) name datasets by path ("/entry/data/x"): a 1-D
 * dataset is one column, a 2-D dataset (rows, columns) a table of
 * columns; all must have the same number of rows. Any integer or
 * floating-point type in either byte order; contiguous, chunked and
 * compressed (every filter the HDF5 library provides). With count 0 the
 * file's NeXus default plottable data is used (the root's @default, its
 * NXentry's @default, the NXdata's @signal and @axes): the axes, then the
 * signal, then its errors when present (the older signal=1 and axes
 * attributes on the dataset are read too). Columns are named by the path
 * as given ("/entry/data/x"); a 2-D dataset's "PATH:1", "PATH:2", ...
 * Every call into the HDF5 library is serialised by one process-wide lock.
 * Without HDF5 in this build: NLSQ_ERR_INVALID_ARGUMENT, the message naming
 * the package (libhdf5-dev).
 */
NLSQ_API nlsq_status nlsq_source_open_hdf5(const char *path, const char *const *datasets, int count,
                                           nlsq_source **out, nlsq_error *err);
/*
 * A NumPy .npz archive (numpy.savez, savez_compressed): members named
 * without ".npy" ("x", "y"), each a 1-D column or a 2-D table; stored
 * members are mapped in place like a .npy, deflated ones inflated through
 * zlib. count 0: every member, in the archive's order.
 * A 1-D member's column is named by the member; a 2-D member's columns
 * NAME:1 ... NAME:k (NAME when k is 1); all members must have the same
 * rows. Dtypes and layouts: those of nlsq_source_open_npy. A deflated
 * member is inflated once, its CRC-32 and declared size checked, into
 * memory as float64 when that takes at most $NLSQ_NPZ_INFLATE_MEMORY
 * bytes (default 64 MiB), else into a column cache (the text tables'
 * cache, keyed by the archive's size, mtime, device and inode). Without
 * zlib in this build a deflated member is NLSQ_ERR_INVALID_ARGUMENT, the
 * message naming zlib1g-dev. A member not there is
 * NLSQ_ERR_INVALID_ARGUMENT (the message lists those there); a damaged
 * archive or member NLSQ_ERR_DATA, naming the file and the member.
 */
NLSQ_API nlsq_status nlsq_source_open_npz(const char *path, const char *const *members, int count,
                                          nlsq_source **out, nlsq_error *err);
/*
 * Any data file, told by its content, not its name: HDF5 (and NeXus),
 * .npz, .npy or a text table (nlsq_source_open_text, with opt). `spec` is
 * PATH, or PATH:NAME[,NAME...] naming the datasets of an HDF5 file or the
 * members of an .npz ("scan.h5:/entry/data/x,/entry/data/y",
 * "data.npz:x,y"); an existing file whose own name holds a ':' is taken
 * whole.
 */
NLSQ_API nlsq_status nlsq_source_open_file(const char *spec, const nlsq_text_options *opt, nlsq_source **out,
                                           nlsq_error *err);
/* Whether this build reads and writes HDF5, and reads deflated .npz
   members (zlib): 1 or 0. */
NLSQ_API int nlsq_have_hdf5(void);
NLSQ_API int nlsq_have_zlib(void);

/* The columns of several sources with the same row count side by side
   (x.npy, y.npy, sigma.npy as one table). On success the joined source
   owns the parts and frees them; on failure they stay the caller's. */
NLSQ_API nlsq_status nlsq_source_join(nlsq_source *const *parts, int nparts, nlsq_source **out, nlsq_error *err);

/* Data held in pieces by the processes of a group (each node's own file):
   this process's `local` holds the next rows after the lower ranks'
   pieces, the whole being the pieces in rank order. Collective: every
   process of g calls it. The result has the whole's rows; this process
   reads only those of its share — the chunks that start in its piece,
   plus the rows up to its last chunk's end, which the next processes send
   it here once (at most one chunk of rows, kept in memory). Fit it with
   opt.group = g: the answer is bitwise the fit of the whole file on one
   process. On success the result owns local; on failure it stays the
   caller's, and every process gets the same status. */
NLSQ_API nlsq_status nlsq_source_from_pieces(nlsq_source *local, const nlsq_group *group, nlsq_source **out,
                                             nlsq_error *err);

NLSQ_API size_t nlsq_source_num_rows(const nlsq_source *src);
NLSQ_API int nlsq_source_num_columns(const nlsq_source *src);
/* A column's name: the header of a text table, else "1", "2", ... */
NLSQ_API const char *nlsq_source_column_name(const nlsq_source *src, int col);
/* Rows [first, first+count) of column `col` into out[count]. */
NLSQ_API nlsq_status nlsq_source_read(nlsq_source *src, int col, size_t first, size_t count, double *out,
                                      nlsq_error *err);
/* A description for messages: "big.npy: 1000000 x 2 float64, Fortran
   order, mapped". */
NLSQ_API const char *nlsq_source_describe(const nlsq_source *src);
NLSQ_API void nlsq_source_free(nlsq_source *src);

/* Which columns of a source the fit reads. */
typedef struct nlsq_columns {
    const int *x;       /* one 0-based column per model variable; NULL:
                               columns 0 .. k-1                             */
    int y;              /* -1 (default): the column after x's (after
                           the last of them)                            */
    int sigma;          /* per-point sigma, or -1 (default): none       */
    double sigma_value; /* with sigma = -1: one sigma for all points if
                               > 0 (matters with absolute_sigma); 0: none   */
} nlsq_columns;

NLSQ_API nlsq_columns nlsq_columns_default(void);

/*
 * Fit `model` to a source: everything nlsq_curve_fit does (methods,
 * bounds, losses, sigma, fixed parameters, nan_policy, exact pcov) except
 * a covariance sigma. The first pass also checks the data (nan_policy),
 * counts the usable points and gathers the statistics for R^2, so no
 * separate sweep over the data is made. cols may be NULL for the default.
 * keep_residuals needs m doubles and is refused when that exceeds the
 * available memory.
 *
 * Checkpoints (opt->checkpoint): after every pass the evaluations so far
 * (the point, its cost and R_aug; a few kB) are written to the file
 * atomically (a temporary file, fsync, rename). With opt->resume a killed
 * fit continues: the solver runs again from p0 and takes its evaluations
 * from the file, then carries on with real passes. Because every pass is
 * deterministic, the result is bitwise the uninterrupted fit's. The file
 * records the model, the options and the data's fingerprint (the row
 * count and the exact cost and R_aug of the first pass, which is run
 * again on resume), and a checkpoint of another model, other options or
 * other data is refused. A checkpoint path that is one of the source's
 * files (by device and inode: a mapped file, the text file a source was
 * read or converted from, its column cache, a joined part), a directory,
 * a device, a pipe or "-" is refused with NLSQ_ERR_IO before the first
 * pass; a symbolic link is followed (its target replaced). Temporary files
 * (PATH.tmp-HOST-PID-XXXXXX) are registered for
 * nlsq_output_remove_temporaries, and those of a killed run are removed
 * by the next run on the same path, resumed or not.
 */
NLSQ_API nlsq_status nlsq_fit_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                                     const nlsq_options *opt, nlsq_result **out, nlsq_error *err);

/* The working memory nlsq_fit_source will use with these arguments, in
   bytes: thread buffers, chunk triangles, kept residuals; not the data. */
NLSQ_API nlsq_status nlsq_fit_memory(const nlsq_model *model, const nlsq_source *src, const nlsq_columns *cols,
                                     const nlsq_options *opt, size_t *bytes, nlsq_error *err);

/* ------------------------------------------------------------------------
 * Batches: many independent small fits of one model in one call
 * ------------------------------------------------------------------------
 *
 * Every pixel, peak or detector channel fitted with the same model: each
 * fit runs exactly as nlsq_curve_fit would run it on its own points (the
 * same pass, kernel and solver), so fit i of a batch gives bitwise the
 * parameters nlsq_curve_fit gives for the same data and options. The fits
 * are spread over all cores; each thread reuses its buffers from fit to
 * fit, and nothing is allocated per fit.
 *
 *     nlsq_batch b = nlsq_batch_default();
 *     b.nfits = 1000000; b.m = 32;        // 32 points each
 *     b.x = x; b.x_shared = 1;            // one x for all: 32 values
 *     b.y = y;                            // 32 * 10^6 values, fit by fit
 *     b.p0 = p0;                          // 10^6 x n, row-major
 *     nlsq_fit_batch(model, &b, &opt, NLSQ_BATCH_PERR, &res, &err);
 *     // res->popt[i*n + j], res->status[i], res->perr[i*n + j] ...
 *
 * Point p of fit i is element offsets[i] + p of y, sigma and (per-fit x)
 * of each of x's k rows; without offsets, fit i's points start at i*m.
 */
typedef struct nlsq_batch {
    size_t nfits;
    size_t m;                    /* points of every fit (offsets NULL)        */
    const size_t *offsets;       /* or nfits+1 non-decreasing offsets:
                                  fit i has points offsets[i] .. offsets[i+1]-1
                                  (offsets[0] = 0); m is then ignored     */
    const double *y;             /* all fits' points, fit after fit           */
    const double *x;             /* k rows (one per variable); NULL if k = 0  */
    int x_shared;                /* 0: each row holds all fits' points, like
                                  y (row v at x + v*total); 1: one x for
                                  every fit, each row as long as the longest
                                  fit (row v at x + v*longest), a fit of
                                  L points using the first L                */
    const double *sigma;         /* per point, like y, or NULL: unweighted    */
    const double *p0;            /* nfits x n row-major, or NULL: opt->p0 for
                                  all (or SciPy's rule)                     */
    const double *lower, *upper; /* nfits x n each, or NULL: opt's shared   */
    const unsigned char *fixed;  /* nfits x n, or NULL: opt->fixed          */
} nlsq_batch;

NLSQ_API nlsq_batch nlsq_batch_default(void);

/* What nlsq_fit_batch computes besides popt, status, cost, chi2, nit,
   nfev and m: a bitwise or of these. */
typedef enum nlsq_batch_output {
    NLSQ_BATCH_PERR = 1, /* standard errors                           */
    NLSQ_BATCH_PCOV = 2  /* covariance matrices (and standard errors) */
} nlsq_batch_output;

typedef struct nlsq_batch_result {
    size_t nfits;
    int n;                     /* parameters                                */
    double *popt;              /* nfits x n                                 */
    double *perr;              /* nfits x n (Inf where pcov is not valid,
                                  NaN for a fit that did not run; 0 for a
                                  fixed parameter), with NLSQ_BATCH_PERR or
                                  _PCOV, else NULL                         */
    double *pcov;              /* nfits x n x n row-major, with
                                  NLSQ_BATCH_PCOV, as nlsq_result.pcov     */
    nlsq_fit_status *status;   /* nfits                                     */
    unsigned char *pcov_valid; /* nfits: 0 when the covariance could not be
                                  estimated (a singular Jacobian, no dof)  */
    double *cost;              /* nfits: 1/2 sum rho(r^2) at popt           */
    double *chi2;              /* nfits: sum r^2 before the loss            */
    int *nit, *nfev;           /* nfits each                                */
    size_t *m;                 /* nfits: points used (after nan_policy omit)*/
    size_t converged;          /* fits with status > 0                      */
    size_t failed;             /* fits with status < 0 (did not run, or
                                  stopped); the rest hit max_nfev           */
    nlsq_method method;        /* the method used                           */
    int threads;               /* threads the fits ran on                   */
    double seconds;            /* wall time of the call                     */
    char backend[8];           /* "jit", "interp" or "cuda"                 */
    char backend_note[240];
    char device[16];       /* "cpu" or "cuda:N"                         */
    char device_note[240]; /* threads, or the GPU and its kernel; why
                                  the CPU ran a batch a GPU was asked for */
    unsigned *diag_flags;  /* nfits: each fit's findings (nlsq_diagnostic
                                  bits, as nlsq_result.diag.flags) from J at
                                  its solution: NOT_CONVERGED, NO_INFLUENCE,
                                  NOT_MOVED, RANK_DEFICIENT, ILL_CONDITIONED
                                  (a batch has no R^2, correlations, bound
                                  or residual tests); NOT_CONVERGED alone
                                  for a fit that did not run. Trusted:
                                  no bit of NLSQ_DIAG_UNTRUSTED. NULL when
                                  the batch ran on a GPU.                  */
} nlsq_batch_result;

NLSQ_API void nlsq_batch_result_free(nlsq_batch_result *r);

/*
 * Fit every fit of `batch`. opt (NULL: the defaults) applies to all fits:
 * method, loss, f_scale, tolerances, max_nfev, x_scale, absolute_sigma,
 * nan_policy, threads, backend, device; its p0, lower, upper and fixed
 * serve the fits whose batch arrays are NULL. Callbacks, checkpoints and
 * keep_residuals are single-fit options and are refused.
 * Progress: opt->progress, when set, is called on the calling thread
 * every progress_interval seconds while the fits run on `threads` other
 * threads (pass 1, pass_fraction the share of fits done, points the
 * batch's total; cost NaN). A nonzero return cancels the batch promptly:
 * the fits not yet started get status NLSQ_FIT_STOPPED with nfev 0 and
 * NaN popt and perr, a fit running stops after its current iteration
 * (NLSQ_FIT_STOPPED, its latest point), and the call returns NLSQ_OK with
 * the finished fits' results. This is how a front end (Python's Ctrl-C)
 * interrupts a long batch. A batch on a GPU runs as one launch and does
 * not call it.
 * A fit that cannot run or fails gets its status; the others are not
 * disturbed. Errors of the call itself (NULL pointers, bad offsets, bad
 * options, no memory, a GPU named that cannot be used) return a status
 * and leave *out NULL.
 *
 * Devices: "cuda" or "cuda:N" (opt->device, else $NLSQ_DEVICE) runs a
 * batch with method lm on that GPU: one launch, MINPACK's lm on the
 * device (a thread a fit for small fits, a warp a fit from 64 points on
 * average), the data uploaded once. Its fits agree with the CPU's
 * to where lm pins each minimum (about 1e-7 relative on noisy data), not
 * to the bit, and repeat bit for bit; opt->gpu_float32 holds the data
 * and computes the Jacobian in float32 there. A batch the GPU kernel does not run
 * (trf, dogbox, per-fit fixed masks, x_scale) runs on the CPU and
 * device_note says why; "auto" and "cpu" run on the CPU; "cuda:all" is
 * refused (a batch runs on one GPU).
 */
NLSQ_API nlsq_status nlsq_fit_batch(const nlsq_model *model, const nlsq_batch *batch, const nlsq_options *opt,
                                    unsigned outputs, nlsq_batch_result **out, nlsq_error *err);

/* ------------------------------------------------------------------------
 * Shared-parameter (global) fits: many data sets, some parameters common
 * ------------------------------------------------------------------------
 *
 * D data sets of one model, each with its own points, in a batch's layout
 * (nlsq_batch); parameters marked `shared` take one value for all data
 * sets (a rate constant, an activation energy, a lifetime), the rest are
 * each data set's own (an amplitude, a baseline). One least-squares
 * problem in sum(n_local) + n_shared unknowns, solved by its structure:
 * every pass folds each data set's points into a small triangle over its
 * local and shared columns; the locals are eliminated from each (a Schur
 * complement, in square-root form), the shared triangles merged, the
 * shared step solved and the local steps back-substituted. Memory
 * O(D (n_l + n_s)^2), time linear in D, bitwise the same on any number of
 * threads (and ranks, with opt->group).
 *
 * (nlsq_fit_global is the global *search* for one fit's minimum; this is
 * nlsq_fit_shared, which Python calls nlsqc.fit_global.)
 *
 *     nlsq_shared s = nlsq_shared_default();
 *     s.data.nfits = D; s.data.offsets = off;    // data set d: points off[d]..off[d+1]-1
 *     s.data.x = x; s.data.y = y;                // x: k rows of all points (x_shared 0)
 *     s.shared = is_shared;                      // n flags, 1 = one value for all
 *     s.covariate = is_cov;                      // vars.count flags: T constant per set
 *     nlsq_fit_shared(model, &s, &opt, NLSQ_BATCH_PERR, &res, &err);
 *     // res->popt[d*n + j] (shared j: the same in every row), res->perr ...
 *
 * A shared parameter may enter through per-data-set values: a variable
 * flagged `covariate` (e.g. a temperature T, with the model
 * y = a*exp(-A*exp(-Ea/(8.314*T))*x) + c) is given per point like x but
 * must be constant within each data set (checked: NLSQ_ERR_DATA naming
 * the set and the row that differs; NaN/Inf are nan_policy's). Its
 * subexpressions are then computed once per set, not per point (the
 * same function, rounded once: the last bits can differ from leaving
 * the variable unflagged).
 *
 * Start values, bounds and fixed flags: a local parameter's come from the
 * batch's per-fit arrays (data.p0, lower, upper, fixed; row d) where given,
 * else from opt (p0, lower, upper, fixed); a shared parameter's from opt
 * where given, else from row 0 of the batch's arrays. Without any p0,
 * SciPy's rule (1 for every parameter). Methods: "trf" (default; bounds)
 * and "lm" (no bounds), with SciPy's semantics: the same trust-region
 * steps a dense solve of the stacked problem takes; "dogbox" is refused.
 * opt's loss, f_scale, tolerances, max_nfev (over the whole problem),
 * x_scale (n scales in model order, each data set's local taking its
 * parameter's, or "jac"), absolute_sigma, nan_policy, threads,
 * backend and group apply; progress is called after every iteration
 * (pass_fraction 1, the cost at the accepted point) and a nonzero return
 * stops the fit (NLSQ_FIT_STOPPED, the latest point kept); callbacks,
 * checkpoints, keep_residuals and GPU devices are refused.
 *
 * Refused with NLSQ_ERR_DATA and a message naming the culprit: a data set
 * with fewer usable points than its free local parameters, a shared
 * parameter no data set depends on (its Jacobian column is zero in every
 * data set at the start), covariates that vary within a data set, fewer
 * points in all than free parameters; NLSQ_ERR_BOUNDS for bounds (lb >=
 * ub, p0 outside, bounds with lm); NLSQ_ERR_INVALID_ARGUMENT for bad
 * layouts or options.
 */
typedef struct nlsq_shared {
    nlsq_batch data;                /* the data sets, as a batch's fits       */
    const unsigned char *shared;    /* n flags (model order): 1 = one value
                                       for every data set                     */
    const unsigned char *covariate; /* vars.count flags, or NULL: variables
                                       constant within each data set         */
} nlsq_shared;

NLSQ_API nlsq_shared nlsq_shared_default(void);

typedef struct nlsq_shared_result {
    size_t nsets;              /* D                                         */
    int n;                     /* model parameters                          */
    int n_shared;              /* parameters flagged shared                 */
    int n_free;                /* unknowns fitted: free locals of every set
                                  + free shared                            */
    double *popt;              /* nsets x n: each data set's full vector;
                                  a shared parameter's value in every row  */
    double *perr;              /* nsets x n: standard errors (Inf where pcov
                                  is not valid, 0 for a fixed parameter),
                                  with NLSQ_BATCH_PERR or _PCOV            */
    double *pcov;              /* nsets x n x n row-major, with
                                  NLSQ_BATCH_PCOV: data set d's parameters'
                                  covariance, locals, shared and their
                                  cross terms, from the whole problem      */
    double *shared_pcov;       /* n x n row-major: the shared parameters'
                                  covariance (0 rows/columns for locals)   */
    double *cost_set, *chi2_set; /* nsets: each data set's share at popt   */
    size_t *m;                 /* nsets: points used per data set          */
    size_t m_total;            /* points used in all                        */
    int dof;                   /* m_total - n_free                          */
    double cost, chi2, redchi; /* of the whole problem                      */
    double grad_norm;
    int pcov_valid;
    nlsq_fit_status status;
    int success;
    char message[200];
    int nfev, njev, nit;
    nlsq_method method;
    int threads;
    double seconds;
    size_t memory_bytes;       /* the solver's working memory               */
} nlsq_shared_result;

NLSQ_API void nlsq_shared_result_free(nlsq_shared_result *r);

/* Fit `problem` (see above). outputs: NLSQ_BATCH_PERR, NLSQ_BATCH_PCOV.
   Returns NLSQ_OK with *out set (the fit's own status in (*out)->status),
   or an error with *out NULL and err filled. */
NLSQ_API nlsq_status nlsq_fit_shared(const nlsq_model *model, const nlsq_shared *problem, const nlsq_options *opt,
                                     unsigned outputs, nlsq_shared_result **out, nlsq_error *err);

/* ------------------------------------------------------------------------
 * Devices
 * ------------------------------------------------------------------------ */

/* A CUDA GPU nlsq can run on, as its driver reports it. */
typedef struct nlsq_device {
    char name[16];          /* "cuda:N", as opt->device takes it         */
    char description[128];  /* the GPU's name, e.g. "NVIDIA H100 80GB HBM3" */
    size_t memory;          /* bytes of device memory                    */
    int cc_major, cc_minor; /* compute capability                        */
    int multiprocessors;
} nlsq_device;

/*
 * The CUDA devices of this machine, up to `max` of them into out[] (out
 * may be NULL when max is 0), their number in *count. No GPU is not an
 * error: *count is 0 and `why` (when not NULL) says why there is none —
 * no driver, no device, a driver too old. The CPU is always available.
 */
NLSQ_API nlsq_status nlsq_device_list(nlsq_device *out, int max, int *count, char *why, size_t why_size,
                                      nlsq_error *err);

/* What the CPU side offers: what `nlsq devices` shows. */
typedef struct nlsq_cpu_info {
    int cores;            /* online cores: the default thread count
                                  ($NLSQ_THREADS aside)                     */
    char vector_math[48]; /* the interpreter's vector math: "libmvec
                                  avx2" (glibc's) or "scalar libm"
                                  ($NLSQ_VECTOR_MATH=off: scalar)           */
    char compiler[600];   /* the C compiler for compiled kernels and
                                  the kernel cache directory ("C compiler
                                  /usr/bin/cc; kernels cached in DIR"), or
                                  why models run on the interpreter        */
} nlsq_cpu_info;

/* Fills *out (never fails; looks for the compiler as a fit would). */
NLSQ_API void nlsq_cpu_describe(nlsq_cpu_info *out);

/* NVRTC, the run-time CUDA compiler the GPU kernels are built with
   (libnvrtc.so.13, .12 or libnvrtc.so; $NLSQ_NVRTC names another). */
typedef struct nlsq_nvrtc_info {
    int available;    /* 1: found and loaded                       */
    int major, minor; /* its version, when available               */
    char path[64];    /* the library opened, when available        */
    char why[300];    /* why not, when not available               */
} nlsq_nvrtc_info;

/* Fills *out (never fails: no NVRTC is not an error). */
NLSQ_API void nlsq_nvrtc_describe(nlsq_nvrtc_info *out);

/* ------------------------------------------------------------------------
 * Caches on disk
 * ------------------------------------------------------------------------
 *
 * Two caches live under $XDG_CACHE_HOME/nlsq (or ~/.cache/nlsq), made
 * private (0700) on first use: compiled kernels (KEY.so, one per model and
 * build), and the column caches of text tables (columns/, one .npy per
 * text file opened with nlsq_source_open_text without a cache_path). Both
 * are only ever a speed-up: removing them is always safe between fits.
 * The directory may be a symbolic link to a private directory when the
 * link and the directory are ours. The column caches are evicted, least
 * recently used first, past $NLSQ_COLUMN_CACHE_MAX (docs/environment.md).
 */
typedef struct nlsq_cache_info {
    char dir[4096];            /* the cache's directory                     */
    int count;                 /* files: kernels, or column caches          */
    long long bytes;           /* their size                                */
    int temporaries;           /* files being written, or left by a killed
                                  process (name.tmp-...): not caches        */
    long long temporary_bytes; /* their size                                */
} nlsq_cache_info;

/* The kernel cache: its directory, its kernels (KEY.so, and the GPU's
   KEY.cubin and KEY.ptx in cuda/) and their bytes, and the temporary
   files of builds apart. Fails (NLSQ_ERR_INVALID_ARGUMENT,
   saying why) when the directory cannot be made or is not private. */
NLSQ_API nlsq_status nlsq_kernel_cache_info(nlsq_cache_info *out, nlsq_error *err);
/* Remove the compiled kernels, and the temporary files of builds whose
   process is gone (killed) or, from older versions, that are over ten
   minutes old (a build still running is left alone); *out says what was
   removed. Files that are not ours are left. */
NLSQ_API nlsq_status nlsq_kernel_cache_clear(nlsq_cache_info *out, nlsq_error *err);
/* The same for the text tables' column caches (columns/). */
NLSQ_API nlsq_status nlsq_column_cache_info(nlsq_cache_info *out, nlsq_error *err);
NLSQ_API nlsq_status nlsq_column_cache_clear(nlsq_cache_info *out, nlsq_error *err);

/* ------------------------------------------------------------------------
 * Output files
 * ------------------------------------------------------------------------
 *
 * Every file nlsq writes (checkpoints, caches, and the command's tables,
 * plots and predictions) goes through these, so that a file appears whole
 * or not at all and never in the wrong place:
 *   - a regular or missing file is written to PATH.tmp-HOST-PID-XXXXXX in
 *     the same directory, fsync'ed and renamed over PATH; the old file, or
 *     none, survives any error or crash;
 *   - a symbolic link is followed and its target replaced (the link stays);
 *   - a FIFO or a character device (a terminal, /dev/null) is written in
 *     place; "-", /dev/stdout, or the very file the standard output goes
 *     to, is the stdout stream itself (the output and the rest of stdout
 *     keep their order);
 *   - a directory, a read-only regular file or any other kind of file is
 *     refused.
 * Opening removes temporary files of the same PATH left by processes of
 * this host that no longer exist (killed by SIGKILL, say).
 */
typedef struct nlsq_output nlsq_output;

/* Whether PATH can be written, before any work is done: not a directory,
   its directory exists and is writable, and it is not the same file
   (device and inode) as any of the n_inputs paths. NLSQ_ERR_IO with the
   reason, naming PATH, when not. "-" always can. */
NLSQ_API nlsq_status nlsq_output_check(const char *path, const char *const *inputs, size_t n_inputs, nlsq_error *err);
/* Open PATH for writing as above; *out is the caller's to commit or
   discard. NLSQ_ERR_IO (or NLSQ_ERR_NOMEM) with the reason. */
NLSQ_API nlsq_status nlsq_output_open(const char *path, nlsq_output **out, nlsq_error *err);
/* The stream to write to. Write errors are found by nlsq_output_commit. */
NLSQ_API FILE *nlsq_output_stream(nlsq_output *o);
/* Finish: flush and check every write, fsync, rename into place; frees o.
   NLSQ_ERR_IO, naming the file and the error, when any write failed (the
   old file is left as it was). */
NLSQ_API nlsq_status nlsq_output_commit(nlsq_output *o, nlsq_error *err);
/* Give up: the temporary file is removed, the old file left; frees o. */
NLSQ_API void nlsq_output_discard(nlsq_output *o);
/* Remove every temporary file this process has open (outputs, checkpoints
   being written, caches being built). Async-signal-safe: for a SIGINT or
   SIGTERM handler, which should then restore the default action and raise
   the signal again. */
NLSQ_API void nlsq_output_remove_temporaries(void);

/* ------------------------------------------------------------------------
 * Start values from the data: nlsq_guess
 * ------------------------------------------------------------------------
 *
 * Data-driven start values for the shapes of the model library and their
 * sums (docs/start-values.md has each estimator and its limits). Shapes
 * are named as in the model language, parameters come in its order
 * (amplitude = area for peaks, as lmfit):
 *   constant (c), linear (slope, intercept), polynomial2..polynomial7
 *   (c0..cN), exponential (amplitude, decay), stretched_exponential
 *   (amplitude, tau, beta), power_law (amplitude, exponent), gaussian,
 *   lorentzian, lognormal (amplitude, center, sigma), voigt (amplitude,
 *   center, sigma, gamma), pseudo_voigt (..., fraction), pearson7 (...,
 *   expon), skewed_gaussian and exp_gaussian (..., gamma), moffat (...,
 *   beta; amplitude = height), logistic and erf_step (amplitude, center,
 *   sigma), logistic4 (bottom, top, ec50, hill), logistic5 (..., asymmetry),
 *   hill (vmax, k, n), michaelis_menten (vmax, km), arrhenius (amplitude,
 *   activation), damped_sine (amplitude, frequency, phase, decay),
 *   gaussian2d (amplitude, centerx, centery, sigmax, sigmay, theta).
 *
 * A sum may hold, besides constant/linear/polynomial background terms
 * (solved together; the coefficients go to the highest-degree term, the
 * others get 0): any number of peaks (up to 8), or exponentials (up to
 * 6), or one other curve; gaussian2d takes at most one constant. x may be
 * unsorted; points with a non-finite x or y are ignored. For gaussian2d x
 * holds two rows of m values (x, then y) as nlsq_data does.
 *
 * Errors (params untouched): NLSQ_ERR_INVALID_ARGUMENT for a NULL
 * pointer, a name that is not a shape, or a sum with no estimator;
 * NLSQ_ERR_DATA when the data cannot support an estimate (fewer points
 * than parameters + 1, all x equal, x <= 0 where the shape needs x > 0,
 * no finite estimate); NLSQ_ERR_NOMEM. The message says which.
 */

/* The number of parameters of a shape, or -1 for a name that is not one. */
NLSQ_API int nlsq_guess_num_params(const char *shape);

/* Start values for one shape: fills params[0 .. nlsq_guess_num_params). */
NLSQ_API nlsq_status nlsq_guess_shape(const char *shape, const double *x, const double *y, size_t m, double *params,
                                      nlsq_error *err);

/* Start values for the sum of nshapes shapes (e.g. {"gaussian", "gaussian",
   "linear"}): fills the parameters of every component in order. Peaks of a
   sum are assigned to components in order of position. */
NLSQ_API nlsq_status nlsq_guess_sum(const char *const *shapes, int nshapes, const double *x, const double *y,
                                    size_t m, double *params, nlsq_error *err);

/* Start values for a parsed model that is a sum of library components
   written as shape(x) (gaussian(x) + gaussian(x) + linear(x)): the
   components' shapes are estimated together by nlsq_guess_sum on data->x
   and data->y (sigma is not used) and the values put at the components'
   parameters. given: n values, NaN for "estimate this one", or NULL; the
   values given are kept. p0: out, n values (may be `given`). Checked, not
   assumed: every parameter must belong to one component, and the model
   must equal the sum of its components (gaussian(x)*linear(x) is refused).
   Errors as nlsq_guess_sum's, and NLSQ_ERR_INVALID_ARGUMENT saying which
   of these checks failed; p0 is then untouched. */
NLSQ_API nlsq_status nlsq_guess_p0(const nlsq_model *model, const nlsq_data *data, const double *given, double *p0,
                                   nlsq_error *err);

/* ------------------------------------------------------------------------
 * Global search: many starts at once (docs/global-search.md)
 * ------------------------------------------------------------------------
 *
 * Space-filling designs in [0,1)^d, n_points rows of n_dims values
 * (row-major: point i at out + i*n_dims), deterministic for a seed:
 *   SOBOL  Sobol' points (Joe and Kuo's direction numbers, up to
 *          NLSQ_SOBOL_MAX_DIMS dimensions); seed 0: the plain sequence
 *          from its first point (0, ..., 0); any other seed: a random
 *          digital shift (XOR of each coordinate's 32 bits with a word
 *          drawn from the seed), which keeps the net's stratification.
 *   HALTON Halton points (radical inverses in the first n_dims primes)
 *          from index 1; seed 0: plain; else each coordinate shifted by
 *          a random amount modulo 1 (Cranley-Patterson rotation).
 *   LHS    Latin hypercube: each dimension's n_points strata in a random
 *          order, a uniform point inside each stratum (any seed).
 * Errors: NLSQ_ERR_INVALID_ARGUMENT (unknown kind, n_dims < 1 or over the
 * kind's limit, NULL out); NLSQ_ERR_NOMEM.
 */
typedef enum nlsq_design { NLSQ_DESIGN_SOBOL = 0, NLSQ_DESIGN_HALTON = 1, NLSQ_DESIGN_LHS = 2 } nlsq_design;
#define NLSQ_SOBOL_MAX_DIMS 21
#define NLSQ_HALTON_MAX_DIMS 64

NLSQ_API nlsq_status nlsq_design_fill(nlsq_design kind, int n_dims, size_t n_points, uint64_t seed, double *out,
                                      nlsq_error *err);
/* "sobol", "halton", "lhs" */
NLSQ_API const char *nlsq_design_name(nlsq_design kind);

typedef enum nlsq_global_method {
    NLSQ_GLOBAL_MULTISTART = 0, /* local fits from the design's points      */
    NLSQ_GLOBAL_CMAES = 1       /* CMA-ES with BIPOP restarts over the box
                                   (docs/cmaes.md), its population costed in
                                   one shared pass per generation; then the
                                   best refined by the local solver        */
} nlsq_global_method;

typedef struct nlsq_global_options {
    int starts;                /* N starts (multistart; default 64), >= 1     */
    nlsq_design design;        /* default NLSQ_DESIGN_SOBOL                    */
    uint64_t seed;             /* default 1; the result depends on it alone,
                                  not on the thread count                    */
    nlsq_global_method method; /* default NLSQ_GLOBAL_MULTISTART               */
    const double *search_lower; /* n, or NULL: the box the starts are drawn
                                   from. NaN entries (or NULL) take the rule
                                   of docs/global-search.md: the bounds when
                                   both are finite, else a range from p0
                                   and the data's scales                    */
    const double *search_upper;
    int halving;               /* successive halving: 1 on, 0 off, -1 (the
                                  default) on from halving_points points     */
    size_t halving_points;     /* default 100000                               */
    size_t halving_sample;     /* points of the first rung's sample; 0 (the
                                  default): max(2000, 50 n, m / starts)     */
    int max_nfev;              /* per start and rung (0: the fit options')    */
    int cmaes_max_evals;       /* CMA-ES evaluations (0: its default)         */
    int guess;                 /* 1 (default): for a sum of library shapes,
                                  start values estimated from the data
                                  (nlsq_guess_p0) stand in for a p0 not
                                  given: they centre the box and are the
                                  first start; 0: not                       */
} nlsq_global_options;

NLSQ_API nlsq_global_options nlsq_global_options_default(void);

/* Where the starts ended: the distinct minima, best first. */
typedef struct nlsq_global_summary {
    int starts;           /* starts run (CMA-ES: 1, its best point)          */
    int at_best;          /* starts that ended at the best minimum: cost
                             within 1e-6 relative of the best's           */
    int n_minima;         /* distinct minima (clustered: cost within 1e-6
                             relative and parameters within 1e-4 of their
                             search range), at most starts                */
    int n;                /* parameters per minimum                        */
    double *minima_cost;  /* n_minima costs, ascending                     */
    double *minima_params; /* n_minima x n, row-major                      */
    int *minima_count;    /* n_minima: starts that ended there            */
    size_t sample_points; /* the points the minima's costs are on: all the
                             data, or with halving the first rung's sample */
    int rungs;            /* successive-halving rungs run (0: none)        */
    int shared_passes;    /* passes over the data shared by the starts      */
    int evaluations;      /* parameter vectors evaluated in them            */
    double seconds;       /* the search, the final refinement included     */
    nlsq_design design;
    nlsq_global_method method;
    uint64_t seed;
    double *search_lower, *search_upper; /* n: the box the starts came from */
} nlsq_global_summary;

/*
 * Fit `model` to `data` from many starts (global search): the design's
 * starts within the search box all iterate the local solver (options'
 * method) together, one pass over the data per iteration evaluating every
 * live start; for large data (halving) they compete on growing strided
 * samples, the worse half dropped at each rung. The best is refined on all
 * the data from its end point, and *out is that fit's result (as
 * nlsq_curve_fit's, with p0 the best start's end point) with out->global
 * the search's summary. options->p0 (if given) centres the ranges of
 * unbounded parameters (and estimates from the data stand in where it is
 * not given, for a sum of library shapes; see guess); a covariance sigma
 * is refused. options->device chooses where the shared passes run, by
 * nlsq_curve_fit's rule (a GPU must hold all the data; docs/gpu.md), and
 * the refinement runs there too. gopt NULL: the defaults.
 */
NLSQ_API nlsq_status nlsq_fit_global(const nlsq_model *model, const nlsq_data *data, const nlsq_options *options,
                                     const nlsq_global_options *gopt, nlsq_result **out, nlsq_error *err);

/* ------------------------------------------------------------------------
 * Uncertainty: distributions (docs/uncertainty.md)
 * ------------------------------------------------------------------------
 *
 * The distributions behind intervals and tests, for any degrees of freedom
 * > 0 (t: Inf is the normal; chi2 and F take finite ones). Relative error
 * within 1e-13 of 40-digit values (tests/test_dist.c, from mpmath) over
 * tails down to 1e-300, 5e-11 where a dof is 1e5 or more; SciPy 1.10's
 * own t and F are off by up to 1e-9 at moderate dof. A cdf near 1 is
 * accurate in its tail 1 - cdf, as far as a double near 1 can hold it. p
 * must lie in (0, 1) for a quantile; outside it, or for a dof <= 0 or
 * NaN, the result is NaN. A cdf of NaN is NaN.
 */
NLSQ_API double nlsq_normal_cdf(double x);
NLSQ_API double nlsq_normal_quantile(double p);
NLSQ_API double nlsq_t_cdf(double t, double dof);
NLSQ_API double nlsq_t_quantile(double p, double dof);
NLSQ_API double nlsq_chi2_cdf(double x, double dof);
NLSQ_API double nlsq_chi2_quantile(double p, double dof);
NLSQ_API double nlsq_f_cdf(double x, double dof1, double dof2);
NLSQ_API double nlsq_f_quantile(double p, double dof1, double dof2);

/* ------------------------------------------------------------------------
 * Uncertainty: intervals, bands and derived quantities
 * ------------------------------------------------------------------------ */

/*
 * Parameter intervals. The two-sided critical value of a fit at `level`
 * (0 < level < 1, e.g. 0.95): Student-t's quantile t((1 + level)/2, dof)
 * with the fit's r->dof degrees of freedom, because pcov was scaled by the
 * estimate chi2/dof; the normal's z((1 + level)/2) when r->absolute_sigma
 * (pcov in sigma's own scale, nothing estimated). The interval of
 * parameter j is popt[j] -/+ critical * perr[j] (SciPy's t.ppf, lmfit's
 * stderr times t). A fixed parameter's is [popt, popt]; without a
 * covariance (pcov_valid 0) every interval is (-Inf, Inf).
 * Errors (NLSQ_ERR_INVALID_ARGUMENT): a NULL argument, a level outside
 * (0, 1) ("level 1.5 is outside (0, 1)"), or a t interval from a fit with
 * dof <= 0.
 */
NLSQ_API nlsq_status nlsq_result_critical(const nlsq_result *r, double level, double *critical, nlsq_error *err);
/* lower[n], upper[n]: the interval of every parameter at `level`. */
NLSQ_API nlsq_status nlsq_result_intervals(const nlsq_result *r, double level, double *lower, double *upper,
                                           nlsq_error *err);
/* Parameter j's interval alone (0 <= j < r->n), by the same rule;
   allocates nothing. */
NLSQ_API nlsq_status nlsq_result_interval(const nlsq_result *r, double level, int j, double *lower, double *upper,
                                          nlsq_error *err);

/* ------------------------------------------------------------------------
 * Results into HDF5
 * ------------------------------------------------------------------------
 *
 * A fit's result as datasets and attributes of one group of an HDF5 file,
 * so that a processing pipeline keeps its data and every fit in one file
 * (docs/data-formats.md, "Results in HDF5", lists every name). The group
 * (path "/" or "/fit", "/scan7/peak"; intermediate groups are made) gets:
 *   datasets  names[n] (strings), popt[n], perr[n], pcov[n,n],
 *             correlation[n,n], active_mask[n] (int8), fixed[n] (uint8),
 *             interval_lower[n], interval_upper[n] (with level > 0; the
 *             attribute "level"), lower[n], upper[n] and p0[n] (when
 *             `fit` has them); the scalars cost, chi2, redchi, r2, aic,
 *             bic, grad_norm (float64), n, n_free, m, dof, nfev, njev,
 *             nit, status, success, pcov_valid, pcov_rank, passes,
 *             jit_passes, threads, memory_bytes, resumed_evaluations
 *             (int64), message, method, backend, device, backend_note,
 *             device_note (strings), warnings[] (strings: why the fit is in
 *             doubt, as the report words it; empty when none);
 *   diagnostics/  trusted, flags, findings[] (keys), rank, cond,
 *             influence[n], param_flags[n], correlated[k,2],
 *             correlated_value[k], residuals_tested, runs, n_pos, n_neg,
 *             runs_z, lag1;
 *   predictions/  (with a source or data and predictions = 1) x (or x0,
 *             x1, ... for several variables, each with the attribute
 *             "variable"), y, fit, residual (y - fit) and sigma when the
 *             points have their own, one row per row of the data, NaN
 *             rows kept; written window by window (65536 rows), so a
 *             source of any size needs no memory of its size;
 *   attributes of the group: nlsq_result = 1 (the layout's version),
 *             model (the text), nlsq_version, created (UTC, ISO 8601),
 *             method, loss, f_scale, ftol, xtol, gtol, max_nfev,
 *             nan_policy, absolute_sigma, sigma ("none", "scalar",
 *             "per_point", "covariance" or "unknown"), data (its name).
 * Every number is the result's own double, bit for bit.
 *
 * The file (mode):
 *   NLSQ_HDF5_REPLACE  (default) a new file: written to a temporary file
 *                      beside it, then renamed over it, so a failure
 *                      leaves the old file or none (the rules of
 *                      nlsq_output_open: a symbolic link is followed);
 *   NLSQ_HDF5_CREATE   the same, but an existing file is refused;
 *   NLSQ_HDF5_APPEND   into an existing HDF5 file (a missing one is made
 *                      as by REPLACE): the group must not exist yet ("/"
 *                      always does: name one). On a failure reported
 *                      while writing (a full disk, a read-only file) the
 *                      new group is deleted again and the file keeps what
 *                      it held; the space the group took is not returned
 *                      (h5repack does). A process killed while appending
 *                      can leave the file damaged, as any HDF5 write in
 *                      place can: append to a copy where that matters.
 * Refused with NLSQ_ERR_IO before anything is written: a path that is one
 * of `inputs`, or a file `source` reads (by device and inode), a
 * directory, "-", a pipe or a device (HDF5 needs a file it can seek in),
 * a read-only file, a directory that does not take files. Calls are
 * serialised with the library's HDF5 reading (Debian's libhdf5 is not
 * thread-safe), and HDF5's own error printing is silenced while they run:
 * a failure is one message in err.
 * Without HDF5 in this build: NLSQ_ERR_INVALID_ARGUMENT, the message
 * naming the package (libhdf5-dev).
 */
typedef enum nlsq_hdf5_mode {
    NLSQ_HDF5_REPLACE = 0,
    NLSQ_HDF5_CREATE,
    NLSQ_HDF5_APPEND
} nlsq_hdf5_mode;

typedef struct nlsq_hdf5_write_options {
    nlsq_hdf5_mode mode;        /* default NLSQ_HDF5_REPLACE                  */
    const char *model_text;     /* the "model" attribute; NULL: the model
                                   formatted (nlsq_model_format)            */
    const char *data_name;      /* the "data" attribute (a file name); NULL:
                                   none                                      */
    const nlsq_options *fit;    /* the fit's options, for the attributes and
                                   the lower, upper, p0 and fixed datasets;
                                   NULL: what the result holds alone        */
    int sigma_kind;             /* an nlsq_sigma_kind, or -1 (default):
                                   "unknown" (taken from columns or data
                                   when those are given)                   */
    double level;               /* intervals at this level, 0 < level < 1;
                                   0: none. Default 0.95                    */
    int predictions;            /* nonzero: the predictions/ group (needs
                                   source and columns, or data)            */
    nlsq_source *source;        /* the fit's data as a source, or NULL       */
    const nlsq_columns *columns;/* its columns (NULL: the default)           */
    const nlsq_data *data;      /* or the fit's data in memory, or NULL      */
    const char *const *inputs;  /* files the output must not be, or NULL     */
    size_t n_inputs;
} nlsq_hdf5_write_options;

NLSQ_API nlsq_hdf5_write_options nlsq_hdf5_write_options_default(void);

/* Write `result` (a fit of `model`) into `group` (NULL: "/") of the HDF5
   file `path`, as above. opt may be NULL for the defaults. */
NLSQ_API nlsq_status nlsq_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                            const nlsq_result *result, const nlsq_hdf5_write_options *opt,
                                            nlsq_error *err);

/*
 * A batch's results (nlsq_fit_batch) as a table, one 1-D dataset of
 * nfits rows per column, named as `nlsq batch`'s CSV header names them:
 * id, then per parameter NAME and NAME_err, then status, chi2, redchi,
 * points, nfev, trusted (int8: 1, 0, or -1 when not checked), findings
 * (strings, keys joined by '+'); besides those, cost, nit, pcov_valid and
 * diag_flags; and with NLSQ_BATCH_PCOV pcov[nfits,n,n]. The group's
 * attribute "columns" lists the CSV's columns in order; the others are as
 * nlsq_result_write_hdf5's (model, nlsq_version, created, method, ...).
 * id is ids[i] (float64) when ids is given, else names[i] (strings) when
 * names is, else i (int64). redchi is chi2 / (points - free parameters),
 * the free ones counted from batch->fixed (or opt->fit's fixed; NULL
 * batch: all free), NaN without degrees of freedom. The file, the modes,
 * the refusals and the errors are nlsq_result_write_hdf5's; a parameter
 * named as one of the other columns is refused (NLSQ_ERR_INVALID_ARGUMENT).
 */
NLSQ_API nlsq_status nlsq_batch_result_write_hdf5(const char *path, const char *group, const nlsq_model *model,
                                                  const nlsq_batch_result *result, const nlsq_batch *batch,
                                                  const double *ids, const char *const *names,
                                                  const nlsq_hdf5_write_options *opt, nlsq_error *err);

/*
 * Confidence and prediction bands, by the delta method with the model's
 * exact Jacobian g = df/dp at each x (nlsq_model_eval; no finite
 * differences):
 *   var_conf(x) = g^T pcov g                the uncertainty of the curve
 *   var_pred(x) = var_conf(x) + s2(x)       ... of a new measurement at x
 * where the measurement variance s2(x) is
 *   sigma given at x:     sigma(x)^2 * redchi, or sigma(x)^2 with
 *                         absolute_sigma;
 *   no sigma (NULL):      redchi, the fit's estimate of the variance of a
 *                         residual (a fit without sigma: of a point; a fit
 *                         weighted by sigma: give sigma here), or 1 with
 *                         absolute_sigma (pcov then assumed residuals of
 *                         unit variance: pass sigma for a measurement's own).
 * The band is f -/+ critical * sqrt(var), critical as
 * nlsq_result_critical. On a straight line these are the textbook
 * formulas exactly: s^2 (1/n + (x0 - xbar)^2/Sxx) (+ s^2 for prediction).
 * For one component of a sum of library shapes pass the component's
 * model (nlsq_component.value: the same parameter vector), which gives
 * the component's own band. x is one row of npoints per variable (as
 * nlsq_model_eval); the points are taken in blocks of 4096, so any
 * number streams through a fixed workspace per thread (four blocks or
 * more, from 12289 points, run on $NLSQ_THREADS threads, or every core;
 * the results are bitwise the same for any count). Outputs may be NULL
 * (except that lower and upper go together); a point where pcov is not
 * valid has infinite limits. Errors: as nlsq_result_critical, a model
 * whose parameter count is not r->n, a sigma <= 0 or NaN (named by its
 * index), a failed evaluation.
 */
typedef enum nlsq_band_kind {
    NLSQ_BAND_CONFIDENCE = 0, /* the curve: var_conf                       */
    NLSQ_BAND_PREDICTION      /* a new measurement: var_pred               */
} nlsq_band_kind;

NLSQ_API nlsq_status nlsq_band(const nlsq_model *model, const nlsq_result *r, const double *x, size_t npoints,
                               nlsq_band_kind kind, double level, const double *sigma, double *f, double *lower,
                               double *upper, nlsq_error *err);

/* The standard deviations behind both bands at once (one evaluation):
   se_conf[i] = sqrt(var_conf), se_pred[i] = sqrt(var_pred) (sigma as
   nlsq_band; each output may be NULL). The band is f -/+ critical * se. */
NLSQ_API nlsq_status nlsq_band_stderr(const nlsq_model *model, const nlsq_result *r, const double *x, size_t npoints,
                                      const double *sigma, double *f, double *se_conf, double *se_pred,
                                      nlsq_error *err);

/*
 * Derived quantities: functions of the parameters written in the model
 * language, each "name = expression" or just "expression" (then the text
 * is its name), e.g. "fwhm = 2*sqrt(2*log(2))*s" or "A*s*sqrt(2*pi)".
 * The expression may use the model's parameters by name, the library
 * quantities of its components by name (below), numbers, functions and
 * local definitions ("r = t = A/s; t*t"); the model's variables are not
 * allowed (a quantity is a number, not a curve). Its exact gradient by AD
 * gives, by the delta method, value_k = h_k(popt), cov = G pcov G^T
 * (G the count x n gradients), stderr_k = sqrt(cov_kk), and the
 * correlation of quantity k with parameter j, (G pcov)_kj /
 * (stderr_k perr_j) (0 where either is 0).
 * Errors, each naming the expression: a name that is neither a parameter
 * nor a library quantity of the model (NLSQ_ERR_UNDEFINED_NAME, "unknown
 * name 'q' in 'fwhm = 2*q'"), a variable in it, a syntax error (with its
 * column in the expression), an empty name or expression, NULL arguments.
 */
typedef struct nlsq_derived {
    int count;       /* quantities                                      */
    int n;           /* the model's parameters                          */
    char **names;    /* count names                                     */
    char **exprs;    /* count expressions, as given after the name      */
    double *value;   /* count values at popt                            */
    double *se;      /* count standard errors (NaN: no valid pcov)       */
    double *cov;     /* count x count covariance, row-major             */
    double *grad;    /* count x n gradients dh_k/dp_j, row-major         */
    double *corr;    /* count x n correlations with the parameters       */
} nlsq_derived;

NLSQ_API nlsq_status nlsq_derive(const nlsq_model *model, const nlsq_result *r, const char *const *exprs, int count,
                                 nlsq_derived **out, nlsq_error *err);
NLSQ_API void nlsq_derived_free(nlsq_derived *d);

/*
 * The library quantities of a model's components (docs/uncertainty.md has
 * the formulas), named prefix + quantity: gaussian1_fwhm, gaussian1_height,
 * gaussian1_area, lorentzian1_fwhm, voigt1_fwhm (Olivero and Longbothum's
 * approximation, 0.02% accurate), exponential1_half_life, ... A call that
 * gave its parameters (gaussian(x, A, mu, s)) is numbered after the calls
 * of its shape that made theirs (gaussian(x, A, mu, s) + gaussian(x):
 * gaussian1_ is the second call's, gaussian2_fwhm the first's), when each
 * parameter a quantity needs is a plain parameter; a name that is also a
 * parameter of the model is left to the parameter. `definition` is in the model's parameter names.
 */
typedef struct nlsq_quantity {
    char name[96];        /* gaussian1_fwhm                                 */
    char definition[400]; /* 2*sqrt(2*log(2))*gaussian1_sigma               */
    const char *summary;  /* "full width at half maximum"                   */
} nlsq_quantity;

NLSQ_API int nlsq_model_num_quantities(const nlsq_model *model);
/* Quantity `index` into *out; NLSQ_ERR_INVALID_ARGUMENT out of range. */
NLSQ_API nlsq_status nlsq_model_quantity(const nlsq_model *model, int index, nlsq_quantity *out, nlsq_error *err);



/* ------------------------------------------------------------------------
 * Uncertainty: profile-likelihood intervals
 * ------------------------------------------------------------------------ */

/*
 * Profile likelihood (lmfit's conf_interval semantics). For each chosen
 * parameter p_j the fit is repeated with p_j held at a value v and the
 * others re-fitted (warm-started from the nearest value already fitted),
 * and the v on each side of popt_j is found where the statistic reaches
 * the level:
 *   estimated sigma (fit->absolute_sigma 0): lmfit's F-test,
 *       prob(v) = F_cdf((chi2(v)/chi2_best - 1) dof, 1, dof)
 *   absolute sigma: prob(v) = chi2_cdf(chi2(v) - chi2_best, 1)
 * (chi2 is the fit's chi2; with a robust loss 2 cost, the objective the
 * fit minimized). On a linear model the F-test limits are the Student-t
 * interval popt_j -+ t_dof se_j exactly. The search steps out from popt_j
 * (first to the limit the quadratic approximation predicts, then by
 * secant steps on sqrt(chi2(v) - chi2_best), at most 2 max(offset, se)
 * at a time) until it brackets the level, then solves by the Illinois
 * method to tol * se_j. Each refit starts from the others predicted along
 * the path (the covariance's conditional mean, then linearly from the
 * two nearest refits): about two evaluations a refit. Sides and parameters run at once on threads (each
 * refit on its share of them); every side is a fixed sequence of refits,
 * so the results are the same for any thread count. The refits use the
 * fit's options (opt: method, bounds, loss, tolerances, other fixed
 * parameters; p0, fixed, callbacks, progress and checkpoint are replaced).
 */
typedef enum nlsq_profile_status {
    NLSQ_PROFILE_OK = 0,        /* the level was reached; the limit is the
                                   root, to tol standard errors          */
    NLSQ_PROFILE_BOUND = 1,     /* the parameter's bound came first: the
                                   statistic stays below the level up to
                                   it; the limit is the bound (the interval
                                   is open there)                        */
    NLSQ_PROFILE_OPEN = 2,      /* no bound, and the statistic did not
                                   reach the level within max_refits (a
                                   flat profile): the limit is -Inf/+Inf */
    NLSQ_PROFILE_MAX_REFITS = 3,/* bracketed, but max_refits ran out before
                                   tol: the limit is the best estimate    */
    NLSQ_PROFILE_FAILED = 4     /* a refit failed (an error, or a status
                                   <= 0): the limit is NaN; the result's
                                   message says which refit and why       */
} nlsq_profile_status;

/* A sentence for a profile status; never NULL. */
NLSQ_API const char *nlsq_profile_status_str(nlsq_profile_status s);

typedef struct nlsq_profile_options {
    const double *levels;     /* nlevels levels in (0, 1), or NULL: 0.95   */
    int nlevels;
    const char *const *names; /* nnames parameter names, or NULL: every
                                 free parameter                           */
    int nnames;
    double tol;               /* root tolerance in standard errors; 1e-3:
                                 a limit is taken once the linear estimate
                                 puts the root within tol/2 of a refit,
                                 and reported as that estimate (secant on
                                 sqrt(chi2 - chi2_best), whose error is of
                                 second order: on the bench's 3-Gaussian
                                 model 5e-8 se)                           */
    int max_refits;           /* per side (all levels together); 100      */
    int threads;              /* 0: opt->threads, else $NLSQ_THREADS or all
                                 online cores                             */
} nlsq_profile_options;

NLSQ_API nlsq_profile_options nlsq_profile_options_default(void);

/* The refits along one parameter, sorted by value (popt, chi2_best
   included), for plotting chi2 or prob against the value. */
typedef struct nlsq_profile_trace {
    int count;
    double *value;  /* the parameter's value                             */
    double *chi2;   /* chi2 of the refit there (NaN: the refit failed)   */
    double *prob;   /* the statistic: F-test or chi-square probability   */
} nlsq_profile_trace;

typedef struct nlsq_profile_result {
    int nparams;       /* parameters profiled                             */
    int *param;        /* nparams: their indices in the model             */
    int nlevels;
    double *levels;    /* nlevels, as given                               */
    double *lower;     /* nparams x nlevels (row-major): lower limits     */
    double *upper;     /* nparams x nlevels: upper limits                 */
    int *lower_status; /* nparams x nlevels: nlsq_profile_status           */
    int *upper_status;
    double *delta_chi2;/* nlevels: chi2(v) - chi2_best at each level       */
    nlsq_profile_trace *trace; /* nparams                                 */
    double chi2_best;  /* the fit's chi2 (the profiles' reference)        */
    int dof;           /* the fit's degrees of freedom                     */
    int absolute_sigma;/* 1: delta chi-square test; 0: F-test              */
    int refits;        /* refits run, all parameters together             */
    int failed;        /* limits with NLSQ_PROFILE_FAILED                  */
    int threads;       /* threads used                                     */
    double seconds;    /* wall time                                        */
    char message[300]; /* "" or the first failure, naming the parameter,
                          the side, the value and the reason              */
} nlsq_profile_result;

NLSQ_API void nlsq_profile_result_free(nlsq_profile_result *res);

/* Profile the fit `fit` of `model` to a source (any size: every refit
   streams the data as nlsq_fit_source does). opt: the options the fit
   ran with (NULL: the defaults). Errors: a level outside (0, 1), an
   unknown or a fixed parameter named, no degrees of freedom, a fit that
   did not converge, a zero chi2 with the F-test. */
NLSQ_API nlsq_status nlsq_profile_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                                         const nlsq_options *opt, const nlsq_result *fit,
                                         const nlsq_profile_options *popt, nlsq_profile_result **out,
                                         nlsq_error *err);
/* The same for arrays (as nlsq_curve_fit; not a covariance sigma). */
NLSQ_API nlsq_status nlsq_profile(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                                  const nlsq_result *fit, const nlsq_profile_options *popt,
                                  nlsq_profile_result **out, nlsq_error *err);

/*
 * 2-D profile of a parameter pair (lmfit's conf_interval2d): on an nx x ny
 * grid of (a, b) around (popt_a, popt_b), +-span standard errors each way (4),
 * both held and the others re-fitted (warm-started outward from the
 * centre: the centre row first, then every column up and down from it;
 * columns run at once on threads, the same results for any count). prob
 * per point: F_cdf((chi2/chi2_best - 1) dof / 2, 2, dof), or with
 * absolute sigma chi2_cdf(chi2 - chi2_best, 2); the confidence region at
 * level L is {prob <= L}.
 */
typedef struct nlsq_profile2d_options {
    int nx, ny;      /* grid points along a and b; 21 each (odd: the
                        centre is popt)                                   */
    double span;     /* half-width in standard errors; 4 (lmfit: 5)       */
    double a_min, a_max, b_min, b_max; /* an explicit grid when a_min <
                        a_max (b likewise); NaN: by span             */
    int threads;     /* 0: opt->threads, else $NLSQ_THREADS or all cores  */
} nlsq_profile2d_options;

NLSQ_API nlsq_profile2d_options nlsq_profile2d_options_default(void);

typedef struct nlsq_profile2d_result {
    int a, b;          /* the parameters' indices                          */
    int nx, ny;
    double *a_values;  /* nx                                               */
    double *b_values;  /* ny                                               */
    double *chi2;      /* ny x nx, row-major (row: one b value); NaN where
                          the refit failed                                */
    double *prob;      /* ny x nx                                          */
    double chi2_best;
    int dof, absolute_sigma;
    int refits, failed;/* refits run; of them failed (NaN in the grid)     */
    double seconds;
    char message[300]; /* "" or the first failure                          */
} nlsq_profile2d_result;

NLSQ_API void nlsq_profile2d_result_free(nlsq_profile2d_result *res);

NLSQ_API nlsq_status nlsq_profile2d_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                                           const nlsq_options *opt, const nlsq_result *fit, const char *a,
                                           const char *b, const nlsq_profile2d_options *popt,
                                           nlsq_profile2d_result **out, nlsq_error *err);
NLSQ_API nlsq_status nlsq_profile2d(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                                    const nlsq_result *fit, const char *a, const char *b,
                                    const nlsq_profile2d_options *popt, nlsq_profile2d_result **out,
                                    nlsq_error *err);



/* ------------------------------------------------------------------------
 * Uncertainty: bootstrap
 * ------------------------------------------------------------------------ */

/*
 * Resampling the data and fitting every replica again, through the batch
 * engine (nlsq_fit_batch: one call on all cores, or on a GPU when
 * opt->device names one and the method is lm), each replica started from
 * the fit's popt. The kinds (docs/uncertainty.md):
 *   RESIDUAL  y*_i = f_i + s_i e*_i, f = f(popt), e* drawn with replacement
 *             from the centred weighted residuals e_i = (y_i - f_i)/s_i
 *             (s_i the point's sigma, 1 without sigma); x and sigma
 *             stay. No leverage correction: the replicas' spread is that
 *             of residuals whose variance is chi2/m, not chi2/dof.
 *   PAIRS     cases: rows (x_i, y_i, sigma_i) drawn with replacement.
 *   WILD      y*_i = f_i + (y_i - f_i) v_i with Rademacher v_i = +-1 (each
 *             with probability 1/2): keeps each point's own variance
 *             (heteroscedastic data) and the third moment's sign pattern.
 * Replica i's draws come from a splitmix64 stream seeded by (seed, i)
 * alone, and each batch fit is bitwise the single fit of its data, so the
 * result is the same for any thread count, and replica i the same for any
 * number of replicas. (On a GPU the replicas repeat bit for bit and agree
 * with the CPU's to where lm pins each minimum, as nlsq_fit_batch's.) Only
 * the points the fit used count (nan_policy omit drops the others first);
 * a covariance sigma is refused. Memory: the replicas' data, N m values of
 * y (and of x and sigma where they vary), built in chunks of at most 512 MB,
 * each chunk one batch call.
 *
 * Statistics over the replicas that converged (status > 0); a replica that
 * failed is excluded and counted, its row of samples NaN:
 *   perr      the replicas' standard deviation (divisor N_ok - 1)
 *   bias      their mean minus popt
 *   lower/upper           the percentile interval at `level`: the
 *             (1-level)/2 and (1+level)/2 quantiles of the replicas,
 *             linear between order statistics (numpy.percentile's default)
 *   bca_lower/bca_upper   the bias-corrected and accelerated interval
 *             (Efron 1987): z0 = Phi^-1(share of replicas below popt),
 *             a = sum d^3 / (6 (sum d^2)^1.5) with d_i the jackknife
 *             differences, the quantiles Phi(z0 + (z0 + z)/(1 - a (z0 +
 *             z))) for z = Phi^-1((1 -+ level)/2), taken as the percentile
 *             interval's. d_i: from exact leave-one-out fits (d_i =
 *             mean - theta_(i), m fits of m - 1 points through the batch
 *             engine) when m <= jackknife_max; above it, from influence
 *             values of the least-squares estimator, d_i = -U_i, U_i =
 *             (J^T J)^-1 J_i^T e_i / (1 - h_ii) at popt (weighted J and
 *             residuals, h_ii the leverage: the infinitesimal jackknife
 *             with the leave-one-out correction, exact for a linear model
 *             and the exact jackknife's to first order otherwise). NaN
 *             where z0 is infinite (every replica on one side) or 1 -
 *             a (z0 + z) <= 0 (an acceleration beyond the formula's range).
 */
typedef enum nlsq_bootstrap_kind {
    NLSQ_BOOTSTRAP_RESIDUAL = 0,
    NLSQ_BOOTSTRAP_PAIRS = 1,
    NLSQ_BOOTSTRAP_WILD = 2
} nlsq_bootstrap_kind;

typedef struct nlsq_bootstrap_options {
    nlsq_bootstrap_kind kind; /* default NLSQ_BOOTSTRAP_RESIDUAL            */
    size_t replicas;          /* N >= 2, default 1000                       */
    uint64_t seed;            /* default 0                                  */
    double level;             /* the intervals' level in (0, 1), default 0.95 */
    int bca;                  /* 1 (default): BCa intervals; 0: not (no
                                 jackknife fits)                           */
    size_t jackknife_max;     /* exact leave-one-out fits up to this many
                                 points (default 2000); above, influence
                                 values                                    */
} nlsq_bootstrap_options;

NLSQ_API nlsq_bootstrap_options nlsq_bootstrap_options_default(void);

/* How the BCa acceleration was found. */
typedef enum nlsq_jackknife {
    NLSQ_JACKKNIFE_NONE = 0,     /* bca off                                 */
    NLSQ_JACKKNIFE_EXACT = 1,    /* leave-one-out fits                      */
    NLSQ_JACKKNIFE_INFLUENCE = 2 /* empirical influence values             */
} nlsq_jackknife;

typedef struct nlsq_bootstrap_result {
    int n;                      /* parameters                              */
    size_t replicas;            /* N                                       */
    size_t converged;           /* replicas whose fit converged            */
    size_t failed;              /* N - converged: excluded                 */
    double *samples;            /* N x n row-major: replica i's popt; NaN
                                   rows for the replicas that failed       */
    nlsq_fit_status *status;    /* N: each replica's fit status            */
    double *perr;               /* n: bootstrap standard errors            */
    double *bias;               /* n: mean of the replicas - popt          */
    double *lower, *upper;      /* n: percentile interval                  */
    double *bca_lower, *bca_upper; /* n: BCa interval (NaN with bca off)   */
    double *z0, *accel;         /* n: BCa's bias correction, acceleration  */
    double level;
    nlsq_bootstrap_kind kind;
    uint64_t seed;
    nlsq_jackknife jackknife;   /* how accel was found                     */
    size_t jackknife_failed;    /* leave-one-out fits that failed (left out) */
    size_t m;                   /* points resampled                        */
    int threads;                /* the batch's threads                     */
    char device[16];            /* where the replicas ran: "cpu", "cuda:N" */
    double seconds;             /* wall time, jackknife included           */
} nlsq_bootstrap_result;

NLSQ_API void nlsq_bootstrap_result_free(nlsq_bootstrap_result *r);

/* "residual", "pairs", "wild"; NULL for a value that is none. */
NLSQ_API const char *nlsq_bootstrap_kind_name(nlsq_bootstrap_kind kind);

/*
 * Bootstrap the fit `fit` of `model` to `data` made with options `opt`
 * (NULL: the defaults; its p0 is replaced by fit->popt, its callback,
 * checkpoint and keep_residuals are dropped; method, loss, bounds, fixed,
 * tolerances, threads, backend and device apply to every replica). bopt
 * NULL: the defaults. Errors (*out NULL): NLSQ_ERR_INVALID_ARGUMENT for a
 * NULL pointer, fewer than 2 replicas, an unknown kind, a level outside
 * (0, 1), a covariance sigma, a fit of another model (parameter count) or
 * fewer usable points than free parameters + 1; NLSQ_ERR_NOMEM; the batch
 * engine's own errors.
 */
NLSQ_API nlsq_status nlsq_bootstrap(const nlsq_model *model, const nlsq_data *data, const nlsq_options *opt,
                                    const nlsq_result *fit, const nlsq_bootstrap_options *bopt,
                                    nlsq_bootstrap_result **out, nlsq_error *err);



/* ------------------------------------------------------------------------
 * Uncertainty: MCMC
 * ------------------------------------------------------------------------ */

/*
 * An affine-invariant ensemble sampler (Goodman & Weare 2010, the stretch
 * move emcee runs) over the posterior of a fit's free parameters:
 *   log p(theta) = -chi2(theta) / (2 s^2) + sum_j log prior_j(theta_j)
 * with s^2 = 1 when the fit had absolute_sigma (sigma is the noise) and
 * s^2 = the fit's redchi otherwise (the noise scale fixed at its estimate,
 * not sampled). The bounds are flat priors (outside: probability 0), a
 * parameter may have a Gaussian prior (mean, sd); fixed parameters stay
 * at their values. The walkers are split in two halves, each moved
 * against the other; the proposals of a half are evaluated together in
 * ONE pass over the data. Every random draw is made on the calling
 * thread in a fixed order and the pass gives each vector what a single
 * pass would: the chain is bitwise the same for a seed on any thread
 * count. docs/uncertainty.md.
 */
typedef struct nlsq_mcmc_options {
    int walkers;      /* even, >= 2 n_free; 0: max(32, 2 n_free + 2)   */
    int steps;        /* steps per walker, burn-in included (1000)      */
    int burn;         /* first steps discarded; -1: steps / 4 (default) */
    int thin;         /* keep every thin-th step after the burn-in (1)  */
    uint64_t seed;    /* the chain for a seed (1)                       */
    double stretch;   /* the stretch move's a > 1 (2)                   */
    double init_scale; /* the starting ball: popt + init_scale * perr *
                          N(0, 1) per walker, clipped into the bounds
                          (0.1)                                        */
    const double *init; /* walkers x n row-major starting ensemble (all
                          parameters; fixed ones ignored; walkers must
                          be set), or NULL: the ball. Every start must
                          lie within the bounds. */
    const double *prior_mean, *prior_sd; /* n each, or NULL: Gaussian
                          priors; parameter j has one where prior_sd[j]
                          > 0 (NaN or 0: none)                         */
} nlsq_mcmc_options;

NLSQ_API nlsq_mcmc_options nlsq_mcmc_options_default(void);

/* The quantiles reported, in order: 2.5, 16, 50, 84 and 97.5 % (the
   median, and the central 68 % and 95 % credible intervals). */
#define NLSQ_MCMC_NQUANT 5

typedef struct nlsq_mcmc_result {
    int n, n_free, walkers;
    int steps, burn, thin; /* as run                                       */
    int kept;             /* steps kept: ceil((steps - burn) / thin)        */
    double *chain;        /* kept x walkers x n (C order): sample s of
                             walker w at chain[(s*walkers + w)*n]        */
    double *log_prob;     /* kept x walkers                               */
    double *acceptance;   /* walkers: accepted moves / steps (all steps)  */
    double acceptance_mean;
    double *tau;          /* n: integrated autocorrelation time in kept
                             steps (emcee's integrated_time, c = 5,
                             averaged over walkers); NaN for fixed ones */
    double *ess;          /* n: kept * walkers / tau                      */
    double *mean, *sd;    /* n: over all kept samples                     */
    double *quantiles;    /* n x NLSQ_MCMC_NQUANT (numpy's linear rule)   */
    int tau_reliable;     /* kept >= 50 tau for every free parameter      */
    char warning[240];    /* "" or why the numbers need care              */
    double noise_var;     /* s^2 used in the likelihood                   */
    double seconds;
    int passes;           /* shared passes over the data                  */
    int jit_passes;       /* ... of them on the compiled kernel            */
    int threads;
} nlsq_mcmc_result;

/* Sample the posterior around a finished fit: `model`, `data` and `fit`
   (the options, with the fit's bounds and fixed flags) as given to
   nlsq_curve_fit, `result` its result. mcmc may be NULL for the defaults.
   Bad input (walkers odd or < 2 n_free, steps <= burn, a start outside
   the bounds or where the posterior is 0, a covariance sigma) is
   NLSQ_ERR_INVALID_ARGUMENT or NLSQ_ERR_BOUNDS with the reason. The fit
   options' progress callback, if any, hears after steps (iteration: the
   steps done, pass_fraction: their share, cost: minus the best
   log-posterior); its nonzero answer stops the run: NLSQ_ERR_CALLBACK. */
NLSQ_API nlsq_status nlsq_mcmc(const nlsq_model *model, const nlsq_data *data, const nlsq_options *fit,
                               const nlsq_result *result, const nlsq_mcmc_options *mcmc, nlsq_mcmc_result **out,
                               nlsq_error *err);
/* The same on data of any size: the columns of a source as
   nlsq_fit_source takes them (every step reads them once per half, window
   by window). */
NLSQ_API nlsq_status nlsq_mcmc_source(const nlsq_model *model, nlsq_source *src, const nlsq_columns *cols,
                                      const nlsq_options *fit, const nlsq_result *result,
                                      const nlsq_mcmc_options *mcmc, nlsq_mcmc_result **out, nlsq_error *err);
NLSQ_API void nlsq_mcmc_result_free(nlsq_mcmc_result *r);

/* The chain as a .npy file of shape (kept, walkers, n) float64, written
   through nlsq_output (whole or not at all). */
NLSQ_API nlsq_status nlsq_mcmc_write_npy(const nlsq_mcmc_result *r, const char *path, nlsq_error *err);

/* emcee's integrated autocorrelation time of `walkers` series of length
   `len` (series w at x[w*stride_w + t*stride_t]), averaged over walkers,
   the window chosen automatically with constant c (emcee: 5). NaN when
   len < 2 or every series is constant. */
NLSQ_API double nlsq_autocorr_time(const double *x, size_t len, int walkers, size_t stride_t, size_t stride_w,
                                   double c);



#ifdef __cplusplus
}
#endif

/* clang-format on */
#endif /* NLSQ_H */
