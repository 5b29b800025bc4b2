/*
 * src/kernel/scalar.h — the scalar functions of the model language that
 * no math library provides in the form we need: sign, min, max, integer
 * powers and digamma. One source for every evaluator: compiled as host C
 * (constant folding and the interpreter, through src/model/model.h),
 * spliced into the generated C kernels (src/exec/codegen.c) and into the
 * CUDA kernels (src/gpu/cuda_source.c). The interpreter and the C kernels
 * must agree bit for bit, so each function fixes one order of operations.
 *
 * Every header of src/kernel/ works the same way. KFN qualifies its
 * functions: static inline on the host; the spliced copies are preceded
 * by NK_SPLICED and their own KFN (src/exec/jit_runtime.c: static, marked
 * unused; src/gpu/cuda_source.c: __device__ static inline, marked unused).
 * Those contexts have no headers: they provide sqrt, fabs, floor,
 * copysign, isnan, isinf, signbit, nan, tan, log, hypot (and on CUDA
 * fmin, fmax, isfinite, log1p, atan) under their usual names, and size_t.
 * A header never includes another in spliced text: the splicer puts them
 * in order.
 */
#ifndef NLSQ_KERNEL_SCALAR_H
#define NLSQ_KERNEL_SCALAR_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#endif
#ifndef KFN
#define KFN static inline
#endif

KFN double nk_sign(double a)
{
    double r = a > 0 ? 1.0 : a; /* 0, -0 and NaN are their own sign */
    return a < 0 ? -1.0 : r;
}

/* Symmetric in its arguments: NaN wins, and -0 is the smaller zero. */
KFN double nk_min(double a, double b)
{
    if (isnan(a) || isnan(b)) return a + b;
    if (a < b) return a;
    if (b < a) return b;
    return signbit(a) ? a : b;
}

KFN double nk_max(double a, double b)
{
    if (isnan(a) || isnan(b)) return a + b;
    if (a > b) return a;
    if (b > a) return b;
    return signbit(a) ? b : a;
}

/*
 * x^k by binary powering: at most 2*log2(64) roundings, which keeps x^k
 * within a few ulp of pow(x, k) for the |k| <= 64 it is used for. The
 * evaluators that work on vectors (the interpreter's blocks, the C
 * kernels' lanes) need the same multiplications on their own type, so the
 * body is written once here for a type T whose 1 is `one`:
 * NK_DEFINE_POWI(name, T, one) defines T name(T x, int k).
 */
#define NK_DEFINE_POWI(name, T, one) \
    KFN T name(T x, int k) \
    { \
        unsigned n = k < 0 ? (unsigned)(-k) : (unsigned)k; \
        T r = one, b = x; \
        while (n) { \
            if (n & 1u) r *= b; \
            n >>= 1; \
            if (n) b *= b; \
        } \
        return k < 0 ? one / r : r; \
    }

NK_DEFINE_POWI(nk_powi, double, 1.0)

/* psi(x) for x > 0, or +Inf: shift up with psi(x) = psi(x+1) - 1/x until
   x >= 10, then the asymptotic series psi(x) ~ log x - 1/(2x) -
   sum B_2k / (2k x^2k) (Abramowitz & Stegun 6.3.18), whose first omitted
   term is below 1e-17 at x = 10. */
KFN double nk_digamma_positive(double x)
{
    if (isinf(x)) return x;
    double acc = 0.0;
    while (x < 10.0) {
        acc -= 1.0 / x;
        x += 1.0;
    }
    double z = 1.0 / (x * x);
    double series = z *
                    (1.0 / 12 -
                     z * (1.0 / 120 -
                          z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132 - z * (691.0 / 32760 - z * (1.0 / 12)))))));
    return acc + log(x) - 0.5 / x - series;
}

/*
 * Digamma psi(x) = d/dx lgamma(x). For x <= 0 the reflection
 * psi(x) = psi(1-x) - pi cot(pi x) (A&S 6.3.7), with the cotangent's
 * argument reduced exactly by x - floor(x). psi(1-x) is completed first
 * and the reflection term subtracted from it last: the order of the
 * library's first digamma, which constant folding, the interpreter and
 * the C kernels have always used (the CUDA copy had started its sum with
 * the reflection term, which rounds differently).
 */
KFN double nk_digamma(double x)
{
    if (isnan(x)) return x;
    if (x <= 0) {
        double fl = floor(x);
        if (x == fl) return nan(""); /* poles at 0, -1, -2, ... */
        double r = x - fl;           /* exact, in (0, 1) */
        return nk_digamma_positive(1.0 - x) - 3.14159265358979323846 / tan(3.14159265358979323846 * r);
    }
    return nk_digamma_positive(x);
}

#endif
