/*
 * The code generator: a scheduled program becomes the model part of a
 * kernel (model_uniform and model_block), spliced into the fixed runtime
 * of src/exec/jit_runtime.c together with the numeric core
 * (src/kernel/) it calls; for CUDA, the same model part as text that the
 * GPU layer (src/gpu/cuda_source.c) puts into its own kernels. The per-point instructions become one loop
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
#include "kernel/text.h"

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

/* The string, or NULL (and nothing to free) when a write failed. */
static char *sb_take(sbuf *b)
{
    if (!b->failed) return b->s;
    free(b->s);
    return NULL;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
sb_printf(sbuf *b, const char *fmt, ...)
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

/*
 * How each op is written: as the scalar C of op_apply (uniform
 * instructions, once per pass) and as the vector C of the interpreter's
 * block loop (per point). In a form, $a $b $c stand for the operands,
 * $k for POWI's exponent, $z for a vector of zeros; the math functions
 * with a libmvec variant are written by name ($n).
 */
typedef struct op_form {
    const char *scalar, *vector;
} op_form;

static const op_form FORMS[OP_TOTAL] = {
    [NLSQ_OP_NEG] = {"-$a", "-$a"},
    [NLSQ_OP_ADD] = {"$a + $b", "$a + $b"},
    [NLSQ_OP_SUB] = {"$a - $b", "$a - $b"},
    [NLSQ_OP_MUL] = {"$a * $b", "$a * $b"},
    [NLSQ_OP_DIV] = {"$a / $b", "$a / $b"},
    [NLSQ_OP_SQRT] = {"__builtin_sqrt($a)", "V_SQRT($a)"},
    [NLSQ_OP_ABS] = {"__builtin_fabs($a)", "V_ABS($a)"},
    [NLSQ_OP_SIGN] = {"nk_sign($a)", "V_SIGN($a)"},
    [NLSQ_OP_FLOOR] = {"__builtin_floor($a)", "V_FLOOR($a)"},
    [NLSQ_OP_CEIL] = {"__builtin_ceil($a)", "V_CEIL($a)"},
    [NLSQ_OP_MIN] = {"nk_min($a, $b)", "V_MIN($a, $b)"},
    [NLSQ_OP_MAX] = {"nk_max($a, $b)", "V_MAX($a, $b)"},
    [NLSQ_OP_LGAMMA] = {"k_lgamma($a)", "V_LGAMMA($a)"},
    [NLSQ_OP_TGAMMA] = {"tgamma($a)", "V_TGAMMA($a)"},
    [OP_DIGAMMA] = {"nk_digamma($a)", "V_DIGAMMA($a)"},
    [NLSQ_OP_FADDEEVA_RE] = {"nk_faddeeva_re($a, $b)", "V_FADDEEVA_RE($a, $b)"},
    [NLSQ_OP_FADDEEVA_IM] = {"nk_faddeeva_im($a, $b)", "V_FADDEEVA_IM($a, $b)"},
    [NLSQ_OP_LT] = {"($a < $b ? 1.0 : 0.0)", "VBOOL($a < $b)"},
    [NLSQ_OP_LE] = {"($a <= $b ? 1.0 : 0.0)", "VBOOL($a <= $b)"},
    [NLSQ_OP_GT] = {"($a > $b ? 1.0 : 0.0)", "VBOOL($a > $b)"},
    [NLSQ_OP_GE] = {"($a >= $b ? 1.0 : 0.0)", "VBOOL($a >= $b)"},
    [NLSQ_OP_EQ] = {"($a == $b ? 1.0 : 0.0)", "VBOOL($a == $b)"},
    [NLSQ_OP_NE] = {"($a != $b ? 1.0 : 0.0)", "VBOOL($a != $b)"},
    [NLSQ_OP_NOT] = {"($a != 0 ? 0.0 : 1.0)", "VBOOL($a == $z)"},
    [NLSQ_OP_AND] = {"(($a != 0 && $b != 0) ? 1.0 : 0.0)", "VBOOL(($a != $z) & ($b != $z))"},
    [NLSQ_OP_OR] = {"(($a != 0 || $b != 0) ? 1.0 : 0.0)", "VBOOL(($a != $z) | ($b != $z))"},
    [NLSQ_OP_WHERE] = {"($a != 0 ? $b : $c)", "VSEL($a != $z, $b, $c)"},
    [OP_POWI] = {"nk_powi($a, $k)", "V_POWI($a, $k)"},
    [OP_MUL0] = {"(($a == 0 || $b == 0) ? 0.0 : $a * $b)", "VSEL(($a == $z) | ($b == $z), $z, $a * $b)"},
    [OP_DIV0] = {"($b == 0 ? 0.0 : $a / $b)", "VSEL($b == $z, $z, $a / $b)"},
#define CALL1(op, name) [op] = {#name "($a)", "VM(" #name ")($a)"}
#define CALL2(op, name) [op] = {#name "($a, $b)", "VM2(" #name ")($a, $b)"}
    CALL1(NLSQ_OP_EXP, exp),
    CALL1(NLSQ_OP_EXPM1, expm1),
    CALL1(NLSQ_OP_LOG, log),
    CALL1(NLSQ_OP_LOG1P, log1p),
    CALL1(NLSQ_OP_LOG10, log10),
    CALL1(NLSQ_OP_LOG2, log2),
    CALL1(NLSQ_OP_CBRT, cbrt),
    CALL1(NLSQ_OP_SIN, sin),
    CALL1(NLSQ_OP_COS, cos),
    CALL1(NLSQ_OP_TAN, tan),
    CALL1(NLSQ_OP_ASIN, asin),
    CALL1(NLSQ_OP_ACOS, acos),
    CALL1(NLSQ_OP_ATAN, atan),
    CALL1(NLSQ_OP_SINH, sinh),
    CALL1(NLSQ_OP_COSH, cosh),
    CALL1(NLSQ_OP_TANH, tanh),
    CALL1(NLSQ_OP_ASINH, asinh),
    CALL1(NLSQ_OP_ACOSH, acosh),
    CALL1(NLSQ_OP_ATANH, atanh),
    CALL1(NLSQ_OP_ERF, erf),
    CALL1(NLSQ_OP_ERFC, erfc),
    CALL2(NLSQ_OP_POW, pow),
    CALL2(NLSQ_OP_HYPOT, hypot),
    CALL2(NLSQ_OP_ATAN2, atan2),
#undef CALL1
#undef CALL2
};

enum { FORM_SCALAR, FORM_VECTOR, FORM_SCALAR_CUDA };

/* Write instruction in in its form: registers u[i] (scalar) or slots s<i>
   (vector). CUDA's scalar form is the C one with GCC's __builtin_ names
   as CUDA's math functions (sqrt, fabs, floor, ceil). An op without a
   form fails the generation (no kernel). */
static void emit_instr(sbuf *b, const instr *in, int mode)
{
    int vector = mode == FORM_VECTOR;
    const char *form = in->op < OP_TOTAL ? (vector ? FORMS[in->op].vector : FORMS[in->op].scalar) : NULL;
    if (!form) {
        b->failed = 1;
        return;
    }
    if (mode == FORM_SCALAR_CUDA && strncmp(form, "__builtin_", 10) == 0) form += 10;
    for (const char *f = form; *f; f++) {
        if (*f != '$') {
            sb_put(b, f, 1);
            continue;
        }
        char what = *++f;
        if (what == 'a' || what == 'b' || what == 'c') {
            int src = in->src[what - 'a'];
            sb_printf(b, vector ? "s%d" : "u[%d]", src >= 0 ? src : 0);
        } else if (what == 'k') {
            sb_printf(b, "%d", in->k);
        } else { /* 'z' */
            sb_printf(b, "VSPLAT(0.0)");
        }
    }
}

static void emit_uniform(sbuf *b, const program *p, int cuda)
{
    if (cuda)
        sb_printf(
            b, "__device__ static void model_uniform(const double *__restrict__ params, double *__restrict__ u)\n{\n");
    else
        sb_printf(b, "static void model_uniform(const double *restrict params, double *restrict u)\n{\n");
    for (int j = 0; j < p->nparams; j++) sb_printf(b, "    u[%d] = params[%d];\n", j, j);
    for (int i = 0; i < p->nconst; i++) {
        unsigned long long bits;
        memcpy(&bits, &p->uconst[i], sizeof bits);
        sb_printf(b, "    u[%d] = k_from_bits(0x%016llxULL); /* %.17g */\n", p->nparams + i, bits, p->uconst[i]);
    }
    for (int i = 0; i < p->nuinstr; i++) {
        sb_printf(b, "    u[%d] = ", p->uinstr[i].dst);
        emit_instr(b, &p->uinstr[i], cuda ? FORM_SCALAR_CUDA : FORM_SCALAR);
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

/*
 * The per-point code, for the CPU (model_block: a loop over the block in
 * steps of NLSQ_W points, outputs NLSQ_BLOCK apart) or for CUDA
 * (cuda names the function: one point, thread i; outputs side by side). Output column
 * c < ncols is dF/dp[cols[c]], column ncols is F. Both are written from
 * the same instructions and forms; only the frame differs.
 */
static void emit_point_code(sbuf *b, const program *p, const int *cols, int ncols, const char *cuda)
{
    int want[ncols + 1];
    for (int c = 0; c < ncols; c++) want[c] = p->out[cols[c] + 1];
    want[ncols] = p->out[0];
    char *live = live_instructions(p, want, ncols + 1);
    if (!live) {
        b->failed = 1;
        return;
    }
    const char *in = cuda ? "    " : "        ";
    if (cuda)
        sb_printf(b,
                  "__device__ __forceinline__ void %s(const double *__restrict__ u,\n"
                  "        const NLSQ_DATA *__restrict__ xb, unsigned long long xstride, unsigned long long i,\n"
                  "        double *__restrict__ out)\n{\n",
                  cuda);
    else
        sb_printf(b, "static void model_block(const double *restrict u, const double *restrict xb, size_t xstride,\n"
                     "                        double *restrict out, int npts)\n{\n");
    sb_printf(b, "    (void)u;\n    (void)xb;\n    (void)xstride;\n");
    /* the variables and broadcast registers read by what is emitted (an
       unread one would be a warning for NVRTC) */
    int fixed_slots = p->nvars + p->nbcast;
    char read[fixed_slots > 0 ? fixed_slots : 1];
    memset(read, 0, sizeof read);
    for (int i = 0; i < p->npinstr; i++)
        for (int k = 0; live[i] && k < 3; k++)
            if (p->pinstr[i].src[k] >= 0 && p->pinstr[i].src[k] < fixed_slots) read[p->pinstr[i].src[k]] = 1;
    for (int c = 0; c <= ncols; c++)
        if (want[c] < fixed_slots) read[want[c]] = 1;
    for (int i = 0; i < p->nbcast; i++)
        if (read[p->nvars + i]) sb_printf(b, "    const V s%d = VSPLAT(u[%d]);\n", p->nvars + i, p->bcast[i]);
    if (!cuda) sb_printf(b, "    for (int i = 0; i < npts; i += NLSQ_W) {\n");
    for (int k = 0; k < p->nvars; k++)
        if (read[k]) sb_printf(b, "%sconst V s%d = VLOAD(xb + %d * xstride + i);\n", in, k, k);
    /* the temporaries that the emitted instructions write (a declared,
       unused one would be a warning for NVRTC) */
    int first_temp = p->nvars + p->nbcast, ntemp = 0;
    char written[p->nslots > 0 ? p->nslots : 1];
    memset(written, 0, sizeof written);
    for (int i = 0; i < p->npinstr; i++)
        if (live[i] && p->pinstr[i].dst >= first_temp) written[p->pinstr[i].dst] = 1;
    for (int s = first_temp; s < p->nslots; s++) {
        if (!written[s]) continue;
        if (ntemp == 0)
            sb_printf(b, "%sV s%d", in, s);
        else
            sb_printf(b, ", s%d", s);
        ntemp++;
    }
    if (ntemp) sb_printf(b, ";\n");
    for (int i = 0; i < p->npinstr; i++) {
        if (!live[i]) continue;
        sb_printf(b, "%ss%d = ", in, p->pinstr[i].dst);
        emit_instr(b, &p->pinstr[i], FORM_VECTOR);
        sb_put(b, ";\n", 2);
    }
    for (int c = 0; c <= ncols; c++) {
        if (cuda)
            sb_printf(b, "    VSTORE(out + %d, s%d);\n", c, want[c]);
        else
            sb_printf(b, "        VSTORE(out + %d * NLSQ_BLOCK + i, s%d);\n", c, want[c]);
    }
    sb_printf(b, cuda ? "}\n\n" : "    }\n}\n\n");
    free(live);
}

/* CUDA's float32 mode: the model's value alone in double, so that the
   residuals stay exact to float64 while the Jacobian is computed in
   float32. */
static void emit_model_value(sbuf *b, const program *p, const int *cols)
{
    sb_printf(b, "#undef V\n#define V double\n");
    emit_point_code(b, p, cols, 0, "model_value");
    sb_printf(b, "#undef V\n#define V NLSQ_DATA\n");
}

/* The text of rt between the markers from and to (NULL: its start, its
   end) into b; a missing marker fails the generation. */
static void put_between(sbuf *b, const char *rt, const char *from, const char *to)
{
    const char *start = from ? strstr(rt, from) : rt;
    const char *end = start && to ? strstr(start, to) : start ? start + strlen(start) : NULL;
    if (!start || !end) {
        b->failed = 1;
        return;
    }
    sb_put(b, start, (size_t)(end - start));
}

char *codegen_kernel(const program *p, const int *cols, int ncols, int width)
{
    static const char kernels[] = "/* @KERNELS@ */", model[] = "/* @MODEL@ */";
    if (width != 1 && width != 4) return NULL;
    sbuf b = {0};
    sb_printf(&b, "/* generated by nlsq (codegen version %d) */\n", JIT_CODEGEN_VERSION);
    sb_printf(&b, "#define NLSQ_W %d\n#define NLSQ_NCOLS %d\n#define NLSQ_NVARS %d\n", width, ncols, p->nvars);
    put_between(&b, JIT_RUNTIME_SOURCE, NULL, kernels);
    const char *core[] = {kernel_text_scalar, kernel_text_faddeeva, kernel_text_dot, kernel_text_sum,
                          kernel_text_householder};
    for (size_t i = 0; i < sizeof core / sizeof core[0]; i++) sb_put(&b, core[i], strlen(core[i]));
    put_between(&b, JIT_RUNTIME_SOURCE, kernels, model);
    emit_uniform(&b, p, 0);
    emit_point_code(&b, p, cols, ncols, NULL);
    put_between(&b, JIT_RUNTIME_SOURCE, model, NULL);
    return sb_take(&b);
}

/* CUDA's per-point function model_point (and with float32, model_value
   in double), after model_uniform on the device when asked. */
char *codegen_cuda_model(const program *p, const int *cols, int ncols, int float32, int uniform)
{
    sbuf b = {0};
    if (uniform) emit_uniform(&b, p, 1);
    emit_point_code(&b, p, cols, ncols, "model_point");
    if (float32) emit_model_value(&b, p, cols);
    return sb_take(&b);
}
