/*
 * Block math with glibc's libmvec, AVX2 variants (4 doubles a call, at
 * most 4 ulp from the correctly rounded result, as glibc documents). This
 * file alone is compiled with -mavx2; it is entered only after
 * vmath_select has checked the CPU.
 */
#include <immintrin.h>

#include "exec.h"

/* The vector-ABI names of libmvec's AVX2 ("d") variants. */
__m256d _ZGVdN4v_exp(__m256d);
__m256d _ZGVdN4v_expm1(__m256d);
__m256d _ZGVdN4v_log(__m256d);
__m256d _ZGVdN4v_log1p(__m256d);
__m256d _ZGVdN4v_log10(__m256d);
__m256d _ZGVdN4v_log2(__m256d);
__m256d _ZGVdN4v_cbrt(__m256d);
__m256d _ZGVdN4v_sin(__m256d);
__m256d _ZGVdN4v_cos(__m256d);
__m256d _ZGVdN4v_tan(__m256d);
__m256d _ZGVdN4v_asin(__m256d);
__m256d _ZGVdN4v_acos(__m256d);
__m256d _ZGVdN4v_atan(__m256d);
__m256d _ZGVdN4v_sinh(__m256d);
__m256d _ZGVdN4v_cosh(__m256d);
__m256d _ZGVdN4v_tanh(__m256d);
__m256d _ZGVdN4v_asinh(__m256d);
__m256d _ZGVdN4v_acosh(__m256d);
__m256d _ZGVdN4v_atanh(__m256d);
__m256d _ZGVdN4v_erf(__m256d);
__m256d _ZGVdN4v_erfc(__m256d);
__m256d _ZGVdN4vv_pow(__m256d, __m256d);
__m256d _ZGVdN4vv_hypot(__m256d, __m256d);
__m256d _ZGVdN4vv_atan2(__m256d, __m256d);

#define UNARY(fn) \
    static void v_##fn(const double *restrict a, double *restrict o) \
    { \
        for (int i = 0; i < NLSQ_BLOCK; i += 4) _mm256_storeu_pd(o + i, _ZGVdN4v_##fn(_mm256_loadu_pd(a + i))); \
    }
#define BINARY(fn) \
    static void v_##fn(const double *restrict a, const double *restrict b, double *restrict o) \
    { \
        for (int i = 0; i < NLSQ_BLOCK; i += 4) \
            _mm256_storeu_pd(o + i, _ZGVdN4vv_##fn(_mm256_loadu_pd(a + i), _mm256_loadu_pd(b + i))); \
    }

UNARY(exp)
UNARY(expm1) UNARY(log) UNARY(log1p) UNARY(log10) UNARY(log2) UNARY(cbrt) UNARY(sin) UNARY(cos) UNARY(tan) UNARY(asin)
    UNARY(acos) UNARY(atan) UNARY(sinh) UNARY(cosh) UNARY(tanh) UNARY(asinh) UNARY(acosh) UNARY(atanh) UNARY(erf)
        UNARY(erfc) BINARY(pow) BINARY(hypot) BINARY(atan2)

            static const vmath
    AVX2 = {
        "libmvec avx2",
        {
            [NLSQ_OP_EXP] = v_exp,     [NLSQ_OP_EXPM1] = v_expm1, [NLSQ_OP_LOG] = v_log,     [NLSQ_OP_LOG1P] = v_log1p,
            [NLSQ_OP_LOG10] = v_log10, [NLSQ_OP_LOG2] = v_log2,   [NLSQ_OP_CBRT] = v_cbrt,   [NLSQ_OP_SIN] = v_sin,
            [NLSQ_OP_COS] = v_cos,     [NLSQ_OP_TAN] = v_tan,     [NLSQ_OP_ASIN] = v_asin,   [NLSQ_OP_ACOS] = v_acos,
            [NLSQ_OP_ATAN] = v_atan,   [NLSQ_OP_SINH] = v_sinh,   [NLSQ_OP_COSH] = v_cosh,   [NLSQ_OP_TANH] = v_tanh,
            [NLSQ_OP_ASINH] = v_asinh, [NLSQ_OP_ACOSH] = v_acosh, [NLSQ_OP_ATANH] = v_atanh, [NLSQ_OP_ERF] = v_erf,
            [NLSQ_OP_ERFC] = v_erfc,
        },
        {[NLSQ_OP_POW] = v_pow, [NLSQ_OP_HYPOT] = v_hypot, [NLSQ_OP_ATAN2] = v_atan2},
};

const vmath *vmath_avx2(void)
{
    return &AVX2;
}
