/*
 * The op table and the scalar meaning of every op. Constant folding and
 * the interpreter's scalar paths both call op_apply, so a folded constant
 * is bit-for-bit what evaluation would have produced.
 */
#define _DEFAULT_SOURCE /* lgamma_r: lgamma() writes the global signgam */
#include <math.h>
#include <string.h>

#include "model.h"

static const op_info OPS[OP_TOTAL] = {
    [NLSQ_OP_NEG] = {"-", 1, 0},
    [NLSQ_OP_EXP] = {"exp", 1, OPF_CALL},
    [NLSQ_OP_EXPM1] = {"expm1", 1, OPF_CALL},
    [NLSQ_OP_LOG] = {"log", 1, OPF_CALL},
    [NLSQ_OP_LOG1P] = {"log1p", 1, OPF_CALL},
    [NLSQ_OP_LOG10] = {"log10", 1, OPF_CALL},
    [NLSQ_OP_LOG2] = {"log2", 1, OPF_CALL},
    [NLSQ_OP_SQRT] = {"sqrt", 1, 0},
    [NLSQ_OP_CBRT] = {"cbrt", 1, OPF_CALL},
    [NLSQ_OP_ABS] = {"abs", 1, 0},
    [NLSQ_OP_SIGN] = {"sign", 1, 0},
    [NLSQ_OP_FLOOR] = {"floor", 1, 0},
    [NLSQ_OP_CEIL] = {"ceil", 1, 0},
    [NLSQ_OP_SIN] = {"sin", 1, OPF_CALL},
    [NLSQ_OP_COS] = {"cos", 1, OPF_CALL},
    [NLSQ_OP_TAN] = {"tan", 1, OPF_CALL},
    [NLSQ_OP_ASIN] = {"asin", 1, OPF_CALL},
    [NLSQ_OP_ACOS] = {"acos", 1, OPF_CALL},
    [NLSQ_OP_ATAN] = {"atan", 1, OPF_CALL},
    [NLSQ_OP_SINH] = {"sinh", 1, OPF_CALL},
    [NLSQ_OP_COSH] = {"cosh", 1, OPF_CALL},
    [NLSQ_OP_TANH] = {"tanh", 1, OPF_CALL},
    [NLSQ_OP_ASINH] = {"asinh", 1, OPF_CALL},
    [NLSQ_OP_ACOSH] = {"acosh", 1, OPF_CALL},
    [NLSQ_OP_ATANH] = {"atanh", 1, OPF_CALL},
    [NLSQ_OP_ERF] = {"erf", 1, OPF_CALL},
    [NLSQ_OP_ERFC] = {"erfc", 1, OPF_CALL},
    [NLSQ_OP_LGAMMA] = {"lgamma", 1, OPF_CALL},
    [NLSQ_OP_TGAMMA] = {"tgamma", 1, OPF_CALL},
    [NLSQ_OP_NOT] = {"!", 1, OPF_BOOL_ARGS | OPF_BOOL_RESULT},
    [NLSQ_OP_ADD] = {"+", 2, OPF_COMMUTATIVE},
    [NLSQ_OP_SUB] = {"-", 2, 0},
    [NLSQ_OP_MUL] = {"*", 2, OPF_COMMUTATIVE},
    [NLSQ_OP_DIV] = {"/", 2, 0},
    [NLSQ_OP_POW] = {"pow", 2, OPF_CALL},
    /* not commutative: glibc's vector hypot differs in the last bit from
       hypot(y, x) for about one argument pair in ten, so the two orders
       are different computations and must stay different nodes */
    [NLSQ_OP_HYPOT] = {"hypot", 2, OPF_CALL},
    [NLSQ_OP_ATAN2] = {"atan2", 2, OPF_CALL},
    [NLSQ_OP_MIN] = {"min", 2, OPF_COMMUTATIVE},
    [NLSQ_OP_MAX] = {"max", 2, OPF_COMMUTATIVE},
    [NLSQ_OP_LT] = {"<", 2, OPF_BOOL_RESULT},
    [NLSQ_OP_LE] = {"<=", 2, OPF_BOOL_RESULT},
    [NLSQ_OP_GT] = {">", 2, OPF_BOOL_RESULT},
    [NLSQ_OP_GE] = {">=", 2, OPF_BOOL_RESULT},
    [NLSQ_OP_EQ] = {"==", 2, OPF_BOOL_RESULT | OPF_COMMUTATIVE},
    [NLSQ_OP_NE] = {"!=", 2, OPF_BOOL_RESULT | OPF_COMMUTATIVE},
    [NLSQ_OP_AND] = {"&&", 2, OPF_BOOL_ARGS | OPF_BOOL_RESULT | OPF_COMMUTATIVE},
    [NLSQ_OP_OR] = {"||", 2, OPF_BOOL_ARGS | OPF_BOOL_RESULT | OPF_COMMUTATIVE},
    [NLSQ_OP_WHERE] = {"where", 3, 0},
    [NLSQ_OP_FADDEEVA_RE] = {"faddeeva_re", 2, OPF_CALL},
    [NLSQ_OP_FADDEEVA_IM] = {"faddeeva_im", 2, OPF_CALL},
    [OP_CONST] = {"const", 0, OPF_LEAF},
    [OP_VAR] = {"var", 0, OPF_LEAF},
    [OP_PARAM] = {"param", 0, OPF_LEAF},
    [OP_POWI] = {"powi", 1, 0},
    [OP_MUL0] = {"mul0", 2, 0},
    [OP_DIV0] = {"div0", 2, 0},
    [OP_DIGAMMA] = {"digamma", 1, OPF_CALL},
};

const op_info *op_get(int op)
{
    return (op >= 0 && op < OP_TOTAL) ? &OPS[op] : NULL;
}

const char *nlsq_op_name(nlsq_op op)
{
    return ((int)op >= 0 && op < NLSQ_OP_COUNT) ? OPS[op].name : NULL;
}

int nlsq_op_arity(nlsq_op op)
{
    return ((int)op >= 0 && op < NLSQ_OP_COUNT) ? OPS[op].arity : 0;
}

/* Functions callable by name in the language: every public op whose name
   starts with a letter. */
int op_lookup_function(const char *name, size_t len)
{
    for (int op = 0; op < NLSQ_OP_COUNT; op++) {
        const char *s = OPS[op].name;
        if (s[0] >= 'a' && s[0] <= 'z' && strlen(s) == len && memcmp(s, name, len) == 0) return op;
    }
    return -1;
}

static double lgamma_threadsafe(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

double op_apply(int op, double a, double b, double c, int k)
{
    switch (op) {
    case NLSQ_OP_NEG: return -a;
    case NLSQ_OP_EXP: return exp(a);
    case NLSQ_OP_EXPM1: return expm1(a);
    case NLSQ_OP_LOG: return log(a);
    case NLSQ_OP_LOG1P: return log1p(a);
    case NLSQ_OP_LOG10: return log10(a);
    case NLSQ_OP_LOG2: return log2(a);
    case NLSQ_OP_SQRT: return sqrt(a);
    case NLSQ_OP_CBRT: return cbrt(a);
    case NLSQ_OP_ABS: return fabs(a);
    case NLSQ_OP_SIGN: return nk_sign(a);
    case NLSQ_OP_FLOOR: return floor(a);
    case NLSQ_OP_CEIL: return ceil(a);
    case NLSQ_OP_SIN: return sin(a);
    case NLSQ_OP_COS: return cos(a);
    case NLSQ_OP_TAN: return tan(a);
    case NLSQ_OP_ASIN: return asin(a);
    case NLSQ_OP_ACOS: return acos(a);
    case NLSQ_OP_ATAN: return atan(a);
    case NLSQ_OP_SINH: return sinh(a);
    case NLSQ_OP_COSH: return cosh(a);
    case NLSQ_OP_TANH: return tanh(a);
    case NLSQ_OP_ASINH: return asinh(a);
    case NLSQ_OP_ACOSH: return acosh(a);
    case NLSQ_OP_ATANH: return atanh(a);
    case NLSQ_OP_ERF: return erf(a);
    case NLSQ_OP_ERFC: return erfc(a);
    case NLSQ_OP_LGAMMA: return lgamma_threadsafe(a);
    case NLSQ_OP_TGAMMA: return tgamma(a);
    case NLSQ_OP_NOT: return a != 0 ? 0.0 : 1.0;
    case NLSQ_OP_ADD: return a + b;
    case NLSQ_OP_SUB: return a - b;
    case NLSQ_OP_MUL: return a * b;
    case NLSQ_OP_DIV: return a / b;
    case NLSQ_OP_POW: return pow(a, b);
    case NLSQ_OP_HYPOT: return hypot(a, b);
    case NLSQ_OP_ATAN2: return atan2(a, b);
    case NLSQ_OP_MIN: return nk_min(a, b);
    case NLSQ_OP_MAX: return nk_max(a, b);
    case NLSQ_OP_LT: return a < b ? 1.0 : 0.0;
    case NLSQ_OP_LE: return a <= b ? 1.0 : 0.0;
    case NLSQ_OP_GT: return a > b ? 1.0 : 0.0;
    case NLSQ_OP_GE: return a >= b ? 1.0 : 0.0;
    case NLSQ_OP_EQ: return a == b ? 1.0 : 0.0;
    case NLSQ_OP_NE: return a != b ? 1.0 : 0.0;
    case NLSQ_OP_AND: return (a != 0 && b != 0) ? 1.0 : 0.0;
    case NLSQ_OP_OR: return (a != 0 || b != 0) ? 1.0 : 0.0;
    case NLSQ_OP_WHERE: return a != 0 ? b : c;
    case NLSQ_OP_FADDEEVA_RE: return nk_faddeeva_re(a, b);
    case NLSQ_OP_FADDEEVA_IM: return nk_faddeeva_im(a, b);
    case OP_POWI: return nk_powi(a, k);
    case OP_MUL0: return (a == 0 || b == 0) ? 0.0 : a * b;
    case OP_DIV0: return b == 0 ? 0.0 : a / b;
    case OP_DIGAMMA: return nk_digamma(a);
    default: return NAN;
    }
}
