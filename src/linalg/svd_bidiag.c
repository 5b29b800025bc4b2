/*
 * SVD by Householder bidiagonalisation and implicit-shift QR on the
 * bidiagonal (Golub & Kahan 1965, Golub & Reinsch 1970), with Demmel &
 * Kahan's zero-shift sweep (1990) when the shift would spoil the small
 * singular values: O(m n^2) once, where the one-sided Jacobi SVD costs
 * O(m n^2) per sweep and may need many sweeps (or not converge at all on
 * the nearly parallel columns of a sum of exponentials).
 *
 * U is never formed: the solvers need only U^T b for one vector b, so the
 * left reflectors and rotations are applied to b as they are made.
 */
#include <float.h>
#include <math.h>

#include "linalg.h"

#define EPS 2.220446049250313e-16
/* e_i is negligible below REL_TOL (|d_i| + |d_i+1|): the relative error
   this makes in the singular values is about REL_TOL (Demmel & Kahan) */
#define REL_TOL (10 * EPS)

size_t svd_work_doubles(int m, int n)
{
    return 2 * (size_t)n + (size_t)(m > n ? m : n); /* e, the right taus, a row */
}

/* ||x|| over len entries a stride inc apart, scaled against overflow. */
static double strided_norm(const double *x, size_t inc, int len)
{
    double big = 0, ssq = 0;
    for (int i = 0; i < len; i++) big = fmax(big, fabs(x[(size_t)i * inc]));
    if (big == 0 || !isfinite(big)) return big;
    for (int i = 0; i < len; i++) {
        double t = x[(size_t)i * inc] / big;
        ssq += t * t;
    }
    return big * sqrt(ssq);
}

/*
 * The reflector H = I - tau v v^T (v_0 = 1) with H x = (beta, 0, ..., 0):
 * x[1..] becomes v[1..]; returns beta. x[0] is left to the caller.
 */
static double make_reflector(double *x, size_t inc, int len, double *tau)
{
    double alpha = x[0], rest = strided_norm(x + inc, inc, len - 1);
    if (rest == 0) {
        *tau = 0;
        return alpha;
    }
    double beta = -copysign(hypot(alpha, rest), alpha);
    *tau = (beta - alpha) / beta;
    double denom = alpha - beta; /* |alpha| + |beta|: no cancellation */
    for (int i = 1; i < len; i++) x[(size_t)i * inc] /= denom;
    return beta;
}

/* y (len, contiguous) <- H y with H's v in x (v_0 = 1 implied, stride inc) */
static void reflect(const double *v, size_t inc, int len, double tau, double *y)
{
    double w = y[0];
    for (int i = 1; i < len; i++) w += v[(size_t)i * inc] * y[i];
    w *= tau;
    y[0] -= w;
    for (int i = 1; i < len; i++) y[i] -= w * v[(size_t)i * inc];
}

/*
 * A = Q_L B Q_R^T, B upper bidiagonal (d on the diagonal, e above it).
 * b <- Q_L^T b; the right reflectors stay in A's rows (for V), their taus
 * in tau_r.
 */
static void bidiagonalise(double *A, size_t lda, int m, int n, double *d, double *e, double *tau_r, double *b,
                          double *w)
{
    for (int k = 0; k < n; k++) {
        double *col = A + (size_t)k * lda + k, tau;
        d[k] = make_reflector(col, 1, m - k, &tau);
        if (tau != 0) {
            for (int j = k + 1; j < n; j++) reflect(col, 1, m - k, tau, A + (size_t)j * lda + k);
            if (b) reflect(col, 1, m - k, tau, b + k);
        }
        if (k + 1 >= n) break;
        double *row = A + (size_t)(k + 1) * lda + k; /* A[k, k+1 ..] */
        int len = n - k - 1, rows = m - k - 1;
        e[k] = make_reflector(row, lda, len, &tau_r[k]);
        if (tau_r[k] == 0 || rows == 0) continue;
        /* A[k+1.., k+1..] <- A[k+1.., k+1..] (I - tau v v^T), by columns */
        for (int i = 0; i < rows; i++) w[i] = A[(size_t)(k + 1) * lda + k + 1 + (size_t)i];
        for (int j = 1; j < len; j++) {
            const double *cj = A + (size_t)(k + 1 + j) * lda + k + 1;
            double vj = row[(size_t)j * lda];
            for (int i = 0; i < rows; i++) w[i] += vj * cj[i];
        }
        for (int j = 0; j < len; j++) {
            double *cj = A + (size_t)(k + 1 + j) * lda + k + 1;
            double f = tau_r[k] * (j == 0 ? 1 : row[(size_t)j * lda]);
            for (int i = 0; i < rows; i++) cj[i] -= f * w[i];
        }
    }
}

/* V <- Q_R = H_0 H_1 ... H_{n-2}, accumulated backwards (each H_k acts on
   k+1 .. n-1, where the product so far is the identity outside). */
static void form_right_vectors(const double *A, size_t lda, int n, const double *tau_r, double *V)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++) V[(size_t)j * n + i] = i == j;
    for (int k = n - 2; k >= 0; k--) {
        if (tau_r[k] == 0) continue;
        const double *v = A + (size_t)(k + 1) * lda + k; /* stride lda */
        for (int j = k + 1; j < n; j++) reflect(v, lda, n - k - 1, tau_r[k], V + (size_t)j * n + k + 1);
    }
}

/* [c s; -s c] [f; g] = [r; 0] */
static void givens(double f, double g, double *c, double *s, double *r)
{
    *r = hypot(f, g);
    if (*r == 0) {
        *c = 1;
        *s = 0;
    } else {
        *c = f / *r;
        *s = g / *r;
    }
}

/* x_i <- c x_i + s x_j, x_j <- c x_j - s x_i, for len entries */
static void rotate_pair(double *xi, double *xj, int len, double c, double s)
{
    for (int k = 0; k < len; k++) {
        double a = xi[k], b = xj[k];
        xi[k] = c * a + s * b;
        xj[k] = c * b - s * a;
    }
}

typedef struct bidiag {
    double *d, *e, *V, *b; /* b: U^T b so far, or NULL */
    int n;
} bidiag;

static void rotate_right(const bidiag *B, int i, int j, double c, double s)
{
    rotate_pair(B->V + (size_t)i * B->n, B->V + (size_t)j * B->n, B->n, c, s);
}

static void rotate_left(const bidiag *B, int i, int j, double c, double s)
{
    if (B->b) rotate_pair(B->b + i, B->b + j, 1, c, s);
}

/* d_i = 0 (i < hi): left rotations chase e_i along row i to column hi. */
static void chase_row(const bidiag *B, int i, int hi)
{
    double f = B->e[i], c, s, r;
    B->e[i] = 0;
    for (int j = i + 1; j <= hi && f != 0; j++) {
        givens(B->d[j], f, &c, &s, &r);
        B->d[j] = r;
        if (j < hi) {
            f = -s * B->e[j];
            B->e[j] *= c;
        }
        rotate_left(B, j, i, c, s);
    }
}

/* d_hi = 0: right rotations chase e_{hi-1} up column hi to row lo. */
static void chase_column(const bidiag *B, int lo, int hi)
{
    double f = B->e[hi - 1], c, s, r;
    B->e[hi - 1] = 0;
    for (int j = hi - 1; j >= lo && f != 0; j--) {
        givens(B->d[j], f, &c, &s, &r);
        B->d[j] = r;
        if (j > lo) {
            f = -s * B->e[j - 1];
            B->e[j - 1] *= c;
        }
        rotate_right(B, j, hi, c, s);
    }
}

/* The smaller singular value of [f g; 0 h]. */
static double small_singular_2x2(double f, double g, double h)
{
    double fa = fabs(f), ha = fabs(h), ga = fabs(g);
    double big = 0.5 * (hypot(fa + ha, ga) + hypot(fa - ha, ga));
    return big > 0 ? fa * (ha / big) : 0;
}

/* One implicit QR sweep with shift sigma over d[lo..hi], top to bottom. */
static void shifted_sweep(const bidiag *B, int lo, int hi, double sigma)
{
    double *d = B->d, *e = B->e, cr, sr, cl, sl, r;
    /* the first column of B^T B - sigma^2 I, divided by d_lo */
    double f = (fabs(d[lo]) - sigma) * (copysign(1.0, d[lo]) + sigma / d[lo]), g = e[lo];
    for (int i = lo; i < hi; i++) {
        givens(f, g, &cr, &sr, &r);
        if (i > lo) e[i - 1] = r;
        f = cr * d[i] + sr * e[i];
        e[i] = cr * e[i] - sr * d[i];
        g = sr * d[i + 1];
        d[i + 1] *= cr;
        givens(f, g, &cl, &sl, &r);
        d[i] = r;
        f = cl * e[i] + sl * d[i + 1];
        d[i + 1] = cl * d[i + 1] - sl * e[i];
        if (i + 1 < hi) {
            g = sl * e[i + 1];
            e[i + 1] *= cl;
        }
        rotate_right(B, i, i + 1, cr, sr);
        rotate_left(B, i, i + 1, cl, sl);
    }
    e[hi - 1] = f;
}

/* Demmel & Kahan's zero-shift sweep: every entry to high relative
   accuracy, so tiny singular values converge without being swamped. */
static void zero_shift_sweep(const bidiag *B, int lo, int hi)
{
    double *d = B->d, *e = B->e, cs = 1, sn = 0, oldcs = 1, oldsn = 0, r;
    for (int i = lo; i < hi; i++) {
        givens(d[i] * cs, e[i], &cs, &sn, &r);
        if (i > lo) e[i - 1] = oldsn * r;
        givens(oldcs * r, d[i + 1] * sn, &oldcs, &oldsn, &d[i]);
        rotate_right(B, i, i + 1, cs, sn);
        rotate_left(B, i, i + 1, oldcs, oldsn);
    }
    double h = d[hi] * cs;
    d[hi] = h * oldcs;
    e[hi - 1] = h * oldsn;
}

static int negligible(const bidiag *B, int i, double floor_abs)
{
    double a = fabs(B->e[i]);
    return a <= REL_TOL * (fabs(B->d[i]) + fabs(B->d[i + 1])) || a <= floor_abs;
}

/* One step on the unreduced block ending at hi: a split, a chase or a
   sweep. Returns the index the block starts at. */
static int reduce_block(const bidiag *B, int hi, double floor_abs)
{
    double *d = B->d, *e = B->e;
    int lo = hi;
    while (lo > 0 && !negligible(B, lo - 1, floor_abs)) lo--;
    if (lo > 0) e[lo - 1] = 0;
    if (lo == hi) return lo;
    for (int i = lo; i < hi; i++)
        if (d[i] == 0) {
            chase_row(B, i, hi);
            return lo;
        }
    if (d[hi] == 0) {
        chase_column(B, lo, hi);
        return lo;
    }
    double sigma = small_singular_2x2(d[hi - 1], e[hi - 1], d[hi]), lead = fabs(d[lo]);
    if (sigma / lead * (sigma / lead) < EPS)
        zero_shift_sweep(B, lo, hi);
    else
        shifted_sweep(B, lo, hi, sigma);
    return lo;
}

/* Nonnegative singular values in decreasing order, V's columns and the
   entries of U^T b following them. */
static void sort_decreasing(const bidiag *B)
{
    int n = B->n;
    for (int j = 0; j < n; j++)
        if (B->d[j] < 0) {
            B->d[j] = -B->d[j];
            for (int i = 0; i < n; i++) B->V[(size_t)j * n + i] = -B->V[(size_t)j * n + i]; /* v_j, not u_j */
        }
    for (int j = 0; j < n; j++) {
        int best = j;
        for (int k = j + 1; k < n; k++)
            if (B->d[k] > B->d[best]) best = k;
        if (best == j) continue;
        double t = B->d[j];
        B->d[j] = B->d[best];
        B->d[best] = t;
        for (int i = 0; i < n; i++) {
            t = B->V[(size_t)j * n + i];
            B->V[(size_t)j * n + i] = B->V[(size_t)best * n + i];
            B->V[(size_t)best * n + i] = t;
        }
        if (B->b) {
            t = B->b[j];
            B->b[j] = B->b[best];
            B->b[best] = t;
        }
    }
}

int svd_bidiag(double *A, size_t lda, int m, int n, double *s, double *V, double *b, double *work)
{
    if (n <= 0) return 0;
    double *e = work, *tau_r = work + n, *row = work + 2 * (size_t)n;
    double anorm = 0;
    for (int j = 0; j < n; j++) {
        const double *col = A + (size_t)j * lda;
        for (int i = 0; i < m; i++)
            if (!isfinite(col[i])) return -1; /* no sweep would converge */
        anorm = fmax(anorm, strided_norm(col, 1, m));
    }
    e[n - 1] = 0;
    bidiagonalise(A, lda, m, n, s, e, tau_r, b, row);
    form_right_vectors(A, lda, n, tau_r, V);
    bidiag B = {s, e, V, b, n};
    /* e below this is rounding noise next to A's norm whatever the
       diagonal: setting it to 0 changes A by far less than the reflectors
       already did, and ends the sweeps on underflowing blocks */
    double floor_abs = fmax(anorm * EPS * EPS, DBL_MIN);
    long sweeps = 0, limit = 6 * (long)n * n + 30;
    for (int hi = n - 1; hi > 0;) {
        if (sweeps++ > limit) return -1;
        int lo = reduce_block(&B, hi, floor_abs);
        if (lo == hi) hi--;
    }
    sort_decreasing(&B);
    return (int)(sweeps > 0x7fffffff ? 0x7fffffff : sweeps);
}
