/*
 * The C code generator: a scheduled program becomes the model part of a
 * kernel (model_uniform and model_block), spliced into the fixed runtime
 * of src/exec/jit_runtime.c. The per-point instructions become one loop
 * over the block in steps of NLSQ_W points, each slot a local vector
 * variable, so that a point's temporaries live in registers and only the
 * outputs are stored. Instructions whose results no requested output
 * needs (derivatives of fixed parameters) are left out.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jit.h"
#include "jit_runtime.h" /* JIT_RUNTIME_SOURCE, made from jit_runtime.c at build time */

/* A growing string; on out of memory `failed` is set and writes stop. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int failed;
} sbuf;

static void sb_grow(sbuf *b, size_t need)
{
    if (b->failed || b->len + need + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need + 1) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return;
    }
    b->s = s;
    b->cap = cap;
}

static void sb_put(sbuf *b, const char *s, size_t n)
{
    sb_grow(b, n);
    if (b->failed) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        sb_put(b, small, (size_t)n);
        return;
    }
    sb_grow(b, (size_t)n);
    if (b->failed) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The libm / libmvec name of a call op with a vector variant, or NULL. */
static const char *math_name(int op)
{
    switch (op) {
    case NLSQ_OP_EXP: return "exp";
    case NLSQ_OP_EXPM1: return "expm1";
    case NLSQ_OP_LOG: return "log";
    case NLSQ_OP_LOG1P: return "log1p";
    case NLSQ_OP_LOG10: return "log10";
    case NLSQ_OP_LOG2: return "log2";
    case NLSQ_OP_CBRT: return "cbrt";
    case NLSQ_OP_SIN: return "sin";
    case NLSQ_OP_COS: return "cos";
    case NLSQ_OP_TAN: return "tan";
    case NLSQ_OP_ASIN: return "asin";
    case NLSQ_OP_ACOS: return "acos";
    case NLSQ_OP_ATAN: return "atan";
    case NLSQ_OP_SINH: return "sinh";
    case NLSQ_OP_COSH: return "cosh";
    case NLSQ_OP_TANH: return "tanh";
    case NLSQ_OP_ASINH: return "asinh";
    case NLSQ_OP_ACOSH: return "acosh";
    case NLSQ_OP_ATANH: return "atanh";
    case NLSQ_OP_ERF: return "erf";
    case NLSQ_OP_ERFC: return "erfc";
    case NLSQ_OP_POW: return "pow";
    case NLSQ_OP_HYPOT: return "hypot";
    case NLSQ_OP_ATAN2: return "atan2";
    default: return NULL;
    }
}

static const char *compare_symbol(int op)
{
    switch (op) {
    case NLSQ_OP_LT: return "<";
    case NLSQ_OP_LE: return "<=";
    case NLSQ_OP_GT: return ">";
    case NLSQ_OP_GE: return ">=";
    case NLSQ_OP_EQ: return "==";
    case NLSQ_OP_NE: return "!=";
    default: return NULL;
    }
}

/* The scalar expression of op_apply for a uniform instruction. */
static void emit_scalar(sbuf *b, const instr *in)
{
    char a[32], x[32], c[32];
    snprintf(a, sizeof a, "u[%d]", in->src[0]);
    snprintf(x, sizeof x, "u[%d]", in->src[1] >= 0 ? in->src[1] : 0);
    snprintf(c, sizeof c, "u[%d]", in->src[2] >= 0 ? in->src[2] : 0);
    const char *name = math_name(in->op), *cmp = compare_symbol(in->op);
    if (name && op_get(in->op)->arity == 2) sb_printf(b, "%s(%s, %s)", name, a, x);
    else if (name) sb_printf(b, "%s(%s)", name, a);
    else if (cmp) sb_printf(b, "(%s %s %s ? 1.0 : 0.0)", a, cmp, x);
    else switch (in->op) {
    case NLSQ_OP_NEG: sb_printf(b, "-%s", a); break;
    case NLSQ_OP_ADD: sb_printf(b, "%s + %s", a, x); break;
    case NLSQ_OP_SUB: sb_printf(b, "%s - %s", a, x); break;
    case NLSQ_OP_MUL: sb_printf(b, "%s * %s", a, x); break;
    case NLSQ_OP_DIV: sb_printf(b, "%s / %s", a, x); break;
    case NLSQ_OP_SQRT: sb_printf(b, "__builtin_sqrt(%s)", a); break;
    case NLSQ_OP_ABS: sb_printf(b, "__builtin_fabs(%s)", a); break;
    case NLSQ_OP_SIGN: sb_printf(b, "k_sign(%s)", a); break;
    case NLSQ_OP_FLOOR: sb_printf(b, "__builtin_floor(%s)", a); break;
    case NLSQ_OP_CEIL: sb_printf(b, "__builtin_ceil(%s)", a); break;
    case NLSQ_OP_MIN: sb_printf(b, "k_min(%s, %s)", a, x); break;
    case NLSQ_OP_MAX: sb_printf(b, "k_max(%s, %s)", a, x); break;
    case NLSQ_OP_LGAMMA: sb_printf(b, "k_lgamma(%s)", a); break;
    case NLSQ_OP_TGAMMA: sb_printf(b, "tgamma(%s)", a); break;
    case OP_DIGAMMA: sb_printf(b, "k_digamma(%s)", a); break;
    case NLSQ_OP_NOT: sb_printf(b, "(%s != 0 ? 0.0 : 1.0)", a); break;
    case NLSQ_OP_AND: sb_printf(b, "((%s != 0 && %s != 0) ? 1.0 : 0.0)", a, x); break;
    case NLSQ_OP_OR: sb_printf(b, "((%s != 0 || %s != 0) ? 1.0 : 0.0)", a, x); break;
    case NLSQ_OP_WHERE: sb_printf(b, "(%s != 0 ? %s : %s)", a, x, c); break;
    case OP_POWI: sb_printf(b, "k_powi(%s, %d)", a, in->k); break;
    case OP_MUL0: sb_printf(b, "((%s == 0 || %s == 0) ? 0.0 : %s * %s)", a, x, a, x); break;
    case OP_DIV0: sb_printf(b, "(%s == 0 ? 0.0 : %s / %s)", x, a, x); break;
    default: b->failed = 1; /* an op the generator does not know: no kernel */
    }
}

/* The vector expression of the interpreter's block loop for instruction in. */
static void emit_vector(sbuf *b, const instr *in)
{
    char a[24], x[24], c[24];
    snprintf(a, sizeof a, "s%d", in->src[0]);
    snprintf(x, sizeof x, "s%d", in->src[1] >= 0 ? in->src[1] : 0);
    snprintf(c, sizeof c, "s%d", in->src[2] >= 0 ? in->src[2] : 0);
    const char *name = math_name(in->op), *cmp = compare_symbol(in->op);
    const char *zero = "VSPLAT(0.0)";
    if (name && op_get(in->op)->arity == 2) sb_printf(b, "VM2(%s)(%s, %s)", name, a, x);
    else if (name) sb_printf(b, "VM(%s)(%s)", name, a);
    else if (cmp) sb_printf(b, "VBOOL(%s %s %s)", a, cmp, x);
    else switch (in->op) {
    case NLSQ_OP_NEG: sb_printf(b, "-%s", a); break;
    case NLSQ_OP_ADD: sb_printf(b, "%s + %s", a, x); break;
    case NLSQ_OP_SUB: sb_printf(b, "%s - %s", a, x); break;
    case NLSQ_OP_MUL: sb_printf(b, "%s * %s", a, x); break;
    case NLSQ_OP_DIV: sb_printf(b, "%s / %s", a, x); break;
    case NLSQ_OP_SQRT: sb_printf(b, "V_SQRT(%s)", a); break;
    case NLSQ_OP_ABS: sb_printf(b, "V_ABS(%s)", a); break;
    case NLSQ_OP_SIGN: sb_printf(b, "V_SIGN(%s)", a); break;
    case NLSQ_OP_FLOOR: sb_printf(b, "V_FLOOR(%s)", a); break;
    case NLSQ_OP_CEIL: sb_printf(b, "V_CEIL(%s)", a); break;
    case NLSQ_OP_MIN: sb_printf(b, "V_MIN(%s, %s)", a, x); break;
    case NLSQ_OP_MAX: sb_printf(b, "V_MAX(%s, %s)", a, x); break;
    case NLSQ_OP_LGAMMA: sb_printf(b, "V_LGAMMA(%s)", a); break;
    case NLSQ_OP_TGAMMA: sb_printf(b, "V_TGAMMA(%s)", a); break;
    case OP_DIGAMMA: sb_printf(b, "V_DIGAMMA(%s)", a); break;
    case NLSQ_OP_NOT: sb_printf(b, "VBOOL(%s == %s)", a, zero); break;
    case NLSQ_OP_AND: sb_printf(b, "VBOOL((%s != %s) & (%s != %s))", a, zero, x, zero); break;
    case NLSQ_OP_OR: sb_printf(b, "VBOOL((%s != %s) | (%s != %s))", a, zero, x, zero); break;
    case NLSQ_OP_WHERE: sb_printf(b, "VSEL(%s != %s, %s, %s)", a, zero, x, c); break;
    case OP_POWI: sb_printf(b, "v_powi(%s, %d)", a, in->k); break;
    case OP_MUL0: sb_printf(b, "VSEL((%s == %s) | (%s == %s), %s, %s * %s)", a, zero, x, zero, zero, a, x); break;
    case OP_DIV0: sb_printf(b, "VSEL(%s == %s, %s, %s / %s)", x, zero, zero, a, x); break;
    default: b->failed = 1;
    }
}

static void emit_uniform(sbuf *b, const program *p)
{
    sb_printf(b, "static void model_uniform(const double *restrict params, double *restrict u)\n{\n");
    for (int j = 0; j < p->nparams; j++) sb_printf(b, "    u[%d] = params[%d];\n", j, j);
    for (int i = 0; i < p->nconst; i++) {
        unsigned long long bits;
        memcpy(&bits, &p->uconst[i], sizeof bits);
        sb_printf(b, "    u[%d] = k_from_bits(0x%016llxULL); /* %.17g */\n", p->nparams + i, bits, p->uconst[i]);
    }
    for (int i = 0; i < p->nuinstr; i++) {
        sb_printf(b, "    u[%d] = ", p->uinstr[i].dst);
        emit_scalar(b, &p->uinstr[i]);
        sb_put(b, ";\n", 2);
    }
    if (p->nparams + p->nconst + p->nuinstr == 0) sb_printf(b, "    (void)params;\n    (void)u;\n");
    sb_put(b, "}\n\n", 3);
}

/*
 * Which per-point instructions the requested outputs need: walk the
 * program backwards with the set of slots still to be produced. Slots are
 * reused, so a slot is "wanted" only from its last read back to the
 * instruction that writes it.
 */
static char *live_instructions(const program *p, const int *want, int nwant)
{
    char *live = calloc((size_t)(p->npinstr ? p->npinstr : 1), 1);
    char *wanted = calloc((size_t)(p->nslots ? p->nslots : 1), 1);
    if (!live || !wanted) {
        free(live);
        free(wanted);
        return NULL;
    }
    for (int k = 0; k < nwant; k++) wanted[want[k]] = 1;
    for (int i = p->npinstr - 1; i >= 0; i--) {
        const instr *in = &p->pinstr[i];
        if (!wanted[in->dst]) continue;
        live[i] = 1;
        wanted[in->dst] = 0;
        for (int s = 0; s < 3; s++)
            if (in->src[s] >= 0) wanted[in->src[s]] = 1;
    }
    free(wanted);
    return live;
}

/* model_block: out column c < ncols is dF/dp[cols[c]], column ncols is F. */
static void emit_block(sbuf *b, const program *p, const int *cols, int ncols)
{
    int want[ncols + 1];
    for (int c = 0; c < ncols; c++) want[c] = p->out[cols[c] + 1];
    want[ncols] = p->out[0];
    char *live = live_instructions(p, want, ncols + 1);
    if (!live) {
        b->failed = 1;
        return;
    }
    sb_printf(b, "static void model_block(const double *restrict u, const double *restrict xb, size_t xstride,\n"
                 "                        double *restrict out)\n{\n");
    sb_printf(b, "    (void)u;\n    (void)xb;\n    (void)xstride;\n");
    for (int i = 0; i < p->nbcast; i++) sb_printf(b, "    const V s%d = VSPLAT(u[%d]);\n", p->nvars + i, p->bcast[i]);
    sb_printf(b, "    for (int i = 0; i < NLSQ_BLOCK; i += NLSQ_W) {\n");
    for (int k = 0; k < p->nvars; k++) sb_printf(b, "        const V s%d = VLOAD(xb + %d * xstride + i);\n", k, k);
    int first_temp = p->nvars + p->nbcast;
    if (p->nslots > first_temp) {
        sb_printf(b, "        V");
        for (int s = first_temp; s < p->nslots; s++) sb_printf(b, "%s s%d", s > first_temp ? "," : "", s);
        sb_printf(b, ";\n");
    }
    for (int i = 0; i < p->npinstr; i++) {
        if (!live[i]) continue;
        sb_printf(b, "        s%d = ", p->pinstr[i].dst);
        emit_vector(b, &p->pinstr[i]);
        sb_put(b, ";\n", 2);
    }
    for (int c = 0; c <= ncols; c++) sb_printf(b, "        VSTORE(out + %d * NLSQ_BLOCK + i, s%d);\n", c, want[c]);
    sb_printf(b, "    }\n}\n\n");
    free(live);
}

char *codegen_kernel(const program *p, const int *cols, int ncols, int width)
{
    static const char marker[] = "/* @MODEL@ */";
    const char *rt = JIT_RUNTIME_SOURCE;
    const char *split = strstr(rt, marker);
    if (!split || (width != 1 && width != 4)) return NULL;
    sbuf b = {0};
    sb_printf(&b, "/* generated by nlsq (codegen version %d) */\n", JIT_CODEGEN_VERSION);
    sb_printf(&b, "#define NLSQ_W %d\n#define NLSQ_NCOLS %d\n#define NLSQ_NVARS %d\n", width, ncols, p->nvars);
    sb_put(&b, rt, (size_t)(split - rt));
    emit_uniform(&b, p);
    emit_block(&b, p, cols, ncols);
    sb_put(&b, split, strlen(split));
    if (b.failed) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
