/*
 * The fixed part of every generated kernel (src/exec/codegen.c splices the
 * model's code in at the MODEL marker below and puts the configuration
 * macros in front). It is compiled by the user's C compiler at run time,
 * not as part of the library, so it includes no header: <math.h> and
 * <immintrin.h> alone would cost more compile time than the kernel.
 *
 * It is built with -fno-builtin: otherwise the compiler evaluates libm
 * calls whose argument it can prove constant with its own correctly
 * rounded arithmetic, which differs from glibc's in the last bit.
 *
 * The scalar functions, dot products, norms, compensated sums and the
 * Householder fold are the library's own (the headers of src/kernel/,
 * spliced in at the KERNELS marker below); every other operation here
 * repeats, in the same order, the arithmetic of the library's code (the
 * rows of src/exec/pass.c). Built with -ffp-contract=off and without -ffast-math,
 * the kernel then produces the interpreter's results bit for bit, so the
 * pass may switch to it between two iterations without changing the fit.
 *
 * Configuration macros, defined by the generator:
 *   NLSQ_W      lanes per vector: 4 (AVX2 and glibc's libmvec) or 1 (libm)
 *   NLSQ_NCOLS  Jacobian columns folded (free parameters)
 *   NLSQ_NVARS  independent variables
 *   NLSQ_KEY    the cache key, a string, for the loader to check
 */
typedef unsigned long size_t;

#define NLSQ_BLOCK 256
#define NLSQ_JIT_ABI 2
#define NR (NLSQ_NCOLS + 1) /* columns of R_aug: J, then r */

double exp(double), expm1(double), log(double), log1p(double), log10(double), log2(double);
double cbrt(double), sin(double), cos(double), tan(double), asin(double), acos(double);
double atan(double), sinh(double), cosh(double), tanh(double), asinh(double), acosh(double);
double atanh(double), erf(double), erfc(double), tgamma(double), lgamma_r(double, int *);
double pow(double, double), hypot(double, double), atan2(double, double);

/* ---- the ABI shared with src/exec/jit.h ---------------------------------- */

typedef struct nlsq_jit_chunk {
    const double *x; /* row k of the variables at x + k*stride */
    size_t stride;
    const double *y;
    const double *sigma;
    double sigma_all;
    size_t first, last;                      /* the points of this call */
    double *R;                               /* NR x NR, the chunk's running triangle */
    double *block;                           /* NLSQ_BLOCK x (NR + 1) workspace */
    double *xb;                              /* NLSQ_BLOCK x NLSQ_NVARS workspace */
    double cost, cost_comp, chi2, chi2_comp; /* running compensated sums */
    size_t bad;                              /* running count */
} nlsq_jit_chunk;

typedef struct nlsq_jit_kernel {
    int abi, nvars, ncols, width;
    const char *key;
    void (*uniform)(const double *params, double *u);
    void (*block)(const double *u, const double *x, size_t stride, size_t start, size_t len, double *xb, double *out);
    void (*chunk_linear)(const double *u, nlsq_jit_chunk *a);
} nlsq_jit_kernel;

/* ---- the numeric core: src/kernel/ ------------------------------------------- */

/* Its headers call these by their <math.h> names; -fno-builtin leaves
   only the __builtin_ forms inline (all exact, so no bit changes). */
#define NK_SPLICED 1
#define KFN static __attribute__((unused))
#define KFN_OUTLINE static __attribute__((noinline, unused))
#define KFN_FOLD static inline __attribute__((always_inline))
#define NK_FOLD_NC(nc) NR
#define copysign(x, y) __builtin_copysign(x, y)
#define sqrt(x) __builtin_sqrt(x)
#define fabs(x) __builtin_fabs(x)
#define floor(x) __builtin_floor(x)
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define signbit(x) __builtin_signbit(x)
#define nan(s) __builtin_nan(s)

/* @KERNELS@ */

static double k_from_bits(unsigned long long bits)
{
    double d;
    __builtin_memcpy(&d, &bits, sizeof d);
    return d;
}

static double k_lgamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* ---- vectors of NLSQ_W points ---------------------------------------------- */

#if NLSQ_W == 4
typedef double V __attribute__((vector_size(32)));
typedef long long VI __attribute__((vector_size(32)));
typedef double VU __attribute__((vector_size(32), aligned(8)));
#define VLOAD(p) (*(const VU *)(p))
#define VSTORE(p, v) (*(VU *)(p) = (v))
#define VSPLAT(s) ((V){(s), (s), (s), (s)})
/* a comparison gives a mask of -1/0 lanes; as numbers 1.0/0.0 */
#define VBOOL(m) ((V)((m) & (VI)VSPLAT(1.0)))
#define VSEL(m, a, b) ((V)(((m) & (VI)(a)) | (~(m) & (VI)(b))))
#define VLANES1(f, a) \
    ({ \
        V a_ = (a), r_; \
        for (int l_ = 0; l_ < 4; l_++) r_[l_] = f(a_[l_]); \
        r_; \
    })
#define VLANES2(f, a, b) \
    ({ \
        V a_ = (a), b_ = (b), r_; \
        for (int l_ = 0; l_ < 4; l_++) r_[l_] = f(a_[l_], b_[l_]); \
        r_; \
    })
#define VM(name) _ZGVdN4v_##name
#define VM2(name) _ZGVdN4vv_##name
#define DECL1(name) V VM(name)(V) __attribute__((const, nothrow));
#define DECL2(name) V VM2(name)(V, V) __attribute__((const, nothrow));
DECL1(exp)
DECL1(expm1) DECL1(log) DECL1(log1p) DECL1(log10) DECL1(log2) DECL1(cbrt) DECL1(sin) DECL1(cos) DECL1(tan) DECL1(asin)
    DECL1(acos) DECL1(atan) DECL1(sinh) DECL1(cosh) DECL1(tanh) DECL1(asinh) DECL1(acosh) DECL1(atanh) DECL1(erf)
        DECL1(erfc) DECL2(pow) DECL2(hypot) DECL2(atan2)
#else
typedef double V;
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VSPLAT(s) (s)
#define VBOOL(m) ((m) ? 1.0 : 0.0)
#define VSEL(m, a, b) ((m) ? (a) : (b))
#define VLANES1(f, a) f(a)
#define VLANES2(f, a, b) f(a, b)
#define VM(name) name
#define VM2(name) name
#endif

#define V_SQRT(a) VLANES1(__builtin_sqrt, a)
#define V_ABS(a) VLANES1(__builtin_fabs, a)
#define V_FLOOR(a) VLANES1(__builtin_floor, a)
#define V_CEIL(a) VLANES1(__builtin_ceil, a)
#define V_SIGN(a) VLANES1(nk_sign, a)
#define V_MIN(a, b) VLANES2(nk_min, a, b)
#define V_MAX(a, b) VLANES2(nk_max, a, b)
#define V_LGAMMA(a) VLANES1(k_lgamma, a)
#define V_TGAMMA(a) VLANES1(tgamma, a)
#define V_DIGAMMA(a) VLANES1(nk_digamma, a)
#define V_FADDEEVA_RE(a, b) VLANES2(nk_faddeeva_re, a, b)
#define V_FADDEEVA_IM(a, b) VLANES2(nk_faddeeva_im, a, b)
#define V_POWI(a, k) v_powi(a, k)

    /* u^k by nk_powi's multiplications, on all lanes at once */
    NK_DEFINE_POWI(v_powi, V, VSPLAT(1.0))

    /* The points model_block computes for len: len rounded up to whole
   vectors. A short block (a small fit of a batch) costs its own points,
   not a full block's. */
    static int padded(size_t len)
{
    return (int)((len + NLSQ_W - 1) / NLSQ_W * NLSQ_W);
}

/* Copy the block's points in, zero-padding them to whole vectors. */
static void load_x(const double *x, size_t stride, size_t start, size_t len, double *xb)
{
    for (int k = 0; k < NLSQ_NVARS; k++) {
        __builtin_memcpy(xb + k * NLSQ_BLOCK, x + k * stride + start, len * sizeof(double));
        __builtin_memset(xb + k * NLSQ_BLOCK + len, 0, ((size_t)padded(len) - len) * sizeof(double));
    }
}

/* @MODEL@ */

/* ---- the fold: src/kernel/householder.h, with the column count fixed ---------- */

/* A full block: the row count a constant multiple of 4 (no tail). */
static __attribute__((noinline)) void fold_full(double *R, double *A)
{
    nk_fold_householder(R, NR, NR, A, NLSQ_BLOCK, NLSQ_BLOCK);
}

/* A short block (the last of a chunk; every block of a batch's small
   fits). */
static __attribute__((noinline)) void fold_any(double *R, double *A, size_t rows)
{
    if (rows > 0) nk_fold_householder(R, NR, NR, A, NLSQ_BLOCK, rows);
}

/* ---- the entry points --------------------------------------------------------- */

/* Weighted rows [J | r] of one block, as make_rows_linear in pass.c; the
   evaluation left f in column NLSQ_NCOLS, where r now goes. */
static inline __attribute__((always_inline)) int rows_linear(double *A, const double *y, const double *sg, double w_all,
                                                             size_t len, double *chi2_out)
{
    double *rcol = A + NLSQ_NCOLS * NLSQ_BLOCK, *w = A + (NLSQ_NCOLS + 1) * NLSQ_BLOCK;
    for (size_t i = 0; i < len; i++) {
        w[i] = sg ? 1.0 / sg[i] : w_all;
        rcol[i] = w[i] * (rcol[i] - y[i]);
    }
    double chi2 = nk_dot4(rcol, rcol, len);
    /* any non-finite Jacobian entry: v*0 is NaN exactly for Inf and NaN,
       and OR-ing the comparisons waits on nothing (one probe sum per
       column was a chain of additions and a call each) */
    long long bad = 0;
    for (int c = 0; c < NLSQ_NCOLS; c++) {
        double *dst = A + c * NLSQ_BLOCK;
        for (size_t i = 0; i < len; i++) {
            double v = w[i] * dst[i], z = v * 0.0;
            dst[i] = v;
            bad |= z != z;
        }
    }
    *chi2_out = chi2;
    return !__builtin_isfinite(chi2) || bad != 0;
}

/* With no column (the MCMC's cost-only passes, src/uncertainty/mcmc.c)
   the scalar loop of rows_linear is most of a block's time: the sweep
   below serves there too. */
#if NLSQ_NCOLS >= 4 || NLSQ_NCOLS == 0
/*
 * The same in one sweep of 4 rows at a time (a full block's 256, or a
 * short block's — every block of a batch's or a shared fit's small data
 * sets — whole vectors, then its tail row by row into lane 0): chi2 in
 * nk_dot4's order, so to the bit rows_linear's sum, and every entry the
 * same product; instead of the probe's chain of additions a mask of
 * non-finite entries (v*0 is NaN exactly for Inf and NaN), whose OR waits
 * on nothing: the answer (any non-finite?) is the same.
 */
static inline __attribute__((always_inline)) int rows_linear_vec(double *A, const double *y, const double *sg,
                                                                   double w_all, size_t len, double *chi2_out)
{
    typedef long long I4 __attribute__((vector_size(32)));
    double *rcol = A + NLSQ_NCOLS * NLSQ_BLOCK;
    nk_d4 chi = {0, 0, 0, 0}, wa = {w_all, w_all, w_all, w_all}, one = {1, 1, 1, 1}, zero = {0, 0, 0, 0};
    I4 bad = {0, 0, 0, 0};
    size_t len4 = len & ~(size_t)3, i = 0;
    for (; i < len4; i += 4) {
        nk_d4 w4 = sg ? one / NK_LD4(sg + i) : wa;
        nk_d4 r = w4 * (NK_LD4(rcol + i) - NK_LD4(y + i));
        NK_ST4(rcol + i, r);
        chi += r * r;
        nk_d4 rz = r * zero;
        bad |= rz != rz;
        for (int c = 0; c < NLSQ_NCOLS; c++) {
            nk_d4 v = w4 * NK_LD4(A + c * NLSQ_BLOCK + i);
            NK_ST4(A + c * NLSQ_BLOCK + i, v);
            nk_d4 vz = v * zero;
            bad |= vz != vz;
        }
    }
    double s0 = chi[0];
    long long tail_bad = 0;
    for (; i < len; i++) {
        double w = sg ? 1.0 / sg[i] : w_all, r = w * (rcol[i] - y[i]), rz = r * 0.0;
        rcol[i] = r;
        s0 += r * r;
        tail_bad |= rz != rz;
        for (int c = 0; c < NLSQ_NCOLS; c++) {
            double v = w * A[c * NLSQ_BLOCK + i], vz = v * 0.0;
            A[c * NLSQ_BLOCK + i] = v;
            tail_bad |= vz != vz;
        }
    }
    *chi2_out = (s0 + chi[1]) + (chi[2] + chi[3]);
    return !__builtin_isfinite(*chi2_out) || (bad[0] | bad[1] | bad[2] | bad[3] | tail_bad) != 0; /* as rows_linear */
}
#endif

static void k_chunk_linear(const double *u, nlsq_jit_chunk *a)
{
    nk_ksum cost = {a->cost, a->cost_comp}, chi2 = {a->chi2, a->chi2_comp};
    size_t bad = 0;
    double w_all = 1.0 / a->sigma_all;
    for (size_t start = a->first; start < a->last; start += NLSQ_BLOCK) {
        size_t len = a->last - start < NLSQ_BLOCK ? a->last - start : NLSQ_BLOCK;
        if (len == NLSQ_BLOCK) {
            model_block(u, a->x + start, a->stride, a->block, NLSQ_BLOCK); /* the points in place */
        } else {
            load_x(a->x, a->stride, start, len, a->xb); /* zero-padded */
            model_block(u, a->xb, NLSQ_BLOCK, a->block, padded(len));
        }
        double c2;
        const double *sg = a->sigma ? a->sigma + start : 0;
#if NLSQ_NCOLS >= 4 || NLSQ_NCOLS == 0
        bad += rows_linear_vec(a->block, a->y + start, sg, w_all, len, &c2);
#else
            /* (with few columns its chains are short, and one copy of the
               code compiles faster) */
            bad += rows_linear(a->block, a->y + start, sg, w_all, len, &c2);
#endif
        if (len == NLSQ_BLOCK)
            fold_full(a->R, a->block);
        else
            fold_any(a->R, a->block, len);
        nk_ksum_add(&cost, 0.5 * c2);
        nk_ksum_add(&chi2, c2);
    }
    a->cost = cost.sum;
    a->cost_comp = cost.comp;
    a->chi2 = chi2.sum;
    a->chi2_comp = chi2.comp;
    a->bad += bad;
}

static void k_block(const double *u, const double *x, size_t stride, size_t start, size_t len, double *xb, double *out)
{
    load_x(x, stride, start, len, xb);
    model_block(u, xb, NLSQ_BLOCK, out, padded(len));
}

__attribute__((visibility("default"))) const nlsq_jit_kernel nlsq_jit_kernel_v1 = {
    NLSQ_JIT_ABI, NLSQ_NVARS, NLSQ_NCOLS, NLSQ_W, NLSQ_KEY, model_uniform, k_block, k_chunk_linear,
};
