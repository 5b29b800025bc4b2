/*
 * src/kernel/householder.h — the block fold: a block of rows folded into
 * a running upper triangle by Householder reflections, the pass's one
 * step (DESIGN.md: QR of [R_aug; block]). For column k the reflector acts
 * on R[k][k] and column k of the block only (the rows of R below k are
 * already zero), so folding B rows into an nc-column triangle costs about
 * 2 B nc^2 flops and touches each block column contiguously. The
 * reflector follows LAPACK's dlarfg: H = I - tau v v^T with v[0] = 1,
 * beta = -sign(alpha) ||(alpha, x)||, so that H (alpha, x) = (beta, 0).
 *
 * The host (src/linalg/qr.c: qr_fold, qr_merge) and the C kernels
 * (spliced in by src/exec/codegen.c) run this one copy, so a fit gives the
 * same bits whichever evaluated it. Written with GCC's vector extension:
 * GCC C only, not spliced into CUDA, whose warp fold is its own algorithm.
 *
 * KFN_FOLD qualifies the fold (static inline here; always_inline in the C
 * kernels, where NK_FOLD_NC(nc) is also the column count as a constant,
 * so that the column loops unroll and the accumulators live in
 * registers). Needs dot.h before it.
 */
#ifndef NLSQ_KERNEL_HOUSEHOLDER_H
#define NLSQ_KERNEL_HOUSEHOLDER_H

#ifndef NK_SPLICED /* compiled as host C */
#include <math.h>
#include <stddef.h>

#include "dot.h"
#endif
/* Always inlined: on the host qr_fold is built twice (target_clones,
   default and AVX2), and a fold left out of line would be built for the
   default target only, losing the AVX2 clone's vector code. */
#ifndef KFN_FOLD
#if defined(__GNUC__)
#define KFN_FOLD static inline __attribute__((always_inline))
#else
#define KFN_FOLD static inline
#endif
#endif
#ifndef NK_FOLD_NC
#define NK_FOLD_NC(nc) (nc)
#endif

/* Four lanes of partial sums, whatever the machine's vector width. */
typedef double nk_d4 __attribute__((vector_size(32)));
typedef double nk_d4u __attribute__((vector_size(32), aligned(8)));

/* (macros: a function taking or returning a 32-byte vector would have
   another ABI in a build without AVX, which GCC warns about) */
#define NK_LD4(p) (*(const nk_d4u *)(p))
#define NK_ST4(p, v) (*(nk_d4u *)(p) = (v))

/*
 * R (nc x nc upper triangular, leading dimension ldr) <- the triangle of
 * [R; A] for the block A (rows x nc, column-major, leading dimension lda),
 * which is overwritten. Every sum is formed in nk_dot4's order (lane
 * i % 4, the last rows % 4 added to lane 0 after the rest): for column k
 * one sweep scales it and accumulates its dot products with all later
 * columns at once (independent chains of additions), and a second sweep
 * applies the reflector to them and accumulates the next column's sum of
 * squares.
 */
KFN_FOLD void nk_fold_householder(double *R, size_t ldr, int nc, double *A, size_t lda, size_t rows)
{
    size_t body = rows & ~(size_t)3;
    double ssq = nk_dot4(A, A, rows);
#pragma GCC unroll 32
    for (int k = 0; k < nc; k++) {
        double *ak = A + (size_t)k * lda;
        double xnorm = nk_norm_from_ssq(ak, rows, ssq);
        if (xnorm == 0) { /* H = I */
            if (k + 1 < nc) ssq = nk_dot4(ak + lda, ak + lda, rows);
            continue;
        }
        double alpha = R[(size_t)k * ldr + k];
        /* hypot(0, x) is |x| exactly: a fresh triangle (every small
           fit's first block) skips the call, and not a bit changes */
        double beta = -copysign(alpha == 0 ? xnorm : hypot(alpha, xnorm), alpha);
        double tau = (beta - alpha) / beta;
        double scal = 1 / (alpha - beta);
        R[(size_t)k * ldr + k] = beta;
        if (k + 1 == nc) break; /* the last column only sets R */

        /* scale column k; its dot products with every later column */
        nk_d4 s[NK_FOLD_NC(nc)], sc = {scal, scal, scal, scal};
#pragma GCC unroll 16
        for (int j = k + 1; j < nc; j++) s[j] = (nk_d4){0, 0, 0, 0};
        for (size_t i = 0; i < body; i += 4) {
            nk_d4 v = NK_LD4(ak + i) * sc;
            NK_ST4(ak + i, v);
#pragma GCC unroll 16
            for (int j = k + 1; j < nc; j++) s[j] += v * NK_LD4(A + (size_t)j * lda + i);
        }
        for (size_t i = body; i < rows; i++) {
            double v = ak[i] * scal;
            ak[i] = v;
#pragma GCC unroll 16
            for (int j = k + 1; j < nc; j++) s[j][0] += v * A[(size_t)j * lda + i];
        }
        nk_d4 d[NK_FOLD_NC(nc)];
#pragma GCC unroll 16
        for (int j = k + 1; j < nc; j++) {
            double dot = (s[j][0] + s[j][1]) + (s[j][2] + s[j][3]);
            double dj = (R[(size_t)j * ldr + k] + dot) * tau;
            R[(size_t)j * ldr + k] -= dj;
            d[j] = (nk_d4){dj, dj, dj, dj};
        }

        /* apply the reflector; the next column's sum of squares */
        nk_d4 q = {0, 0, 0, 0};
        double *an = ak + lda;
        for (size_t i = 0; i < body; i += 4) {
            nk_d4 v = NK_LD4(ak + i);
#pragma GCC unroll 16
            for (int j = k + 1; j < nc; j++)
                NK_ST4(A + (size_t)j * lda + i, NK_LD4(A + (size_t)j * lda + i) - d[j] * v);
            nk_d4 w = NK_LD4(an + i);
            q += w * w;
        }
        for (size_t i = body; i < rows; i++) {
            double v = ak[i];
#pragma GCC unroll 16
            for (int j = k + 1; j < nc; j++) A[(size_t)j * lda + i] -= d[j][0] * v;
            q[0] += an[i] * an[i];
        }
        ssq = (q[0] + q[1]) + (q[2] + q[3]);
    }
}

#endif
