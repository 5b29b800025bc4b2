/*
 * Block math with scalar libm, and the run-time choice of the fastest
 * table. The choice is returned, never stored: there is no global state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* One loop per libm function; a macro, since the twenty-odd bodies differ
   only in the function called. */
#define UNARY(fn) \
    static void s_##fn(const double *restrict a, double *restrict o) \
    { \
        for (int i = 0; i < NLSQ_BLOCK; i++) o[i] = fn(a[i]); \
    }
#define BINARY(fn) \
    static void s_##fn(const double *restrict a, const double *restrict b, double *restrict o) \
    { \
        for (int i = 0; i < NLSQ_BLOCK; i++) o[i] = fn(a[i], b[i]); \
    }

UNARY(exp)
UNARY(expm1) UNARY(log) UNARY(log1p) UNARY(log10) UNARY(log2) UNARY(cbrt) UNARY(sin) UNARY(cos) UNARY(tan) UNARY(asin)
    UNARY(acos) UNARY(atan) UNARY(sinh) UNARY(cosh) UNARY(tanh) UNARY(asinh) UNARY(acosh) UNARY(atanh) UNARY(erf)
        UNARY(erfc) BINARY(pow) BINARY(hypot) BINARY(atan2)

            static const vmath
    SCALAR = {
        "scalar libm",
        {
            [NLSQ_OP_EXP] = s_exp,     [NLSQ_OP_EXPM1] = s_expm1, [NLSQ_OP_LOG] = s_log,     [NLSQ_OP_LOG1P] = s_log1p,
            [NLSQ_OP_LOG10] = s_log10, [NLSQ_OP_LOG2] = s_log2,   [NLSQ_OP_CBRT] = s_cbrt,   [NLSQ_OP_SIN] = s_sin,
            [NLSQ_OP_COS] = s_cos,     [NLSQ_OP_TAN] = s_tan,     [NLSQ_OP_ASIN] = s_asin,   [NLSQ_OP_ACOS] = s_acos,
            [NLSQ_OP_ATAN] = s_atan,   [NLSQ_OP_SINH] = s_sinh,   [NLSQ_OP_COSH] = s_cosh,   [NLSQ_OP_TANH] = s_tanh,
            [NLSQ_OP_ASINH] = s_asinh, [NLSQ_OP_ACOSH] = s_acosh, [NLSQ_OP_ATANH] = s_atanh, [NLSQ_OP_ERF] = s_erf,
            [NLSQ_OP_ERFC] = s_erfc,
        },
        {[NLSQ_OP_POW] = s_pow, [NLSQ_OP_HYPOT] = s_hypot, [NLSQ_OP_ATAN2] = s_atan2},
};

const vmath *vmath_scalar(void)
{
    return &SCALAR;
}

#ifndef NLSQ_HAVE_MVEC
const vmath *vmath_avx2(void)
{
    return NULL;
}
#endif

const vmath *vmath_select(void)
{
    const char *env = getenv("NLSQ_VECTOR_MATH");
    if (env && (strcmp(env, "off") == 0 || strcmp(env, "0") == 0)) return &SCALAR;
#if defined(NLSQ_HAVE_MVEC) && defined(__x86_64__) && defined(__GNUC__)
    /* glibc's AVX2 variants also use FMA */
    if (vmath_avx2() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return vmath_avx2();
#endif
    return &SCALAR;
}
