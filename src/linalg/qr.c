/*
 * The block fold and the triangle merge of the passes: the numeric core's
 * Householder fold (src/kernel/householder.h), behind the library's names.
 */
#include <math.h>

#include "kernel/householder.h"
#include "linalg.h"

/* The fold of src/kernel/householder.h (the C kernels run it too), here
   also built for x86-64 CPUs with AVX2: the same bits, 4 lanes (no FMA). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void qr_fold(double *R, size_t ldr, int nc, double *A, size_t lda, size_t rows)
{
    nk_fold_householder(R, ldr, nc, A, lda, rows);
}

void qr_merge(double *R1, const double *R2, int nc, double *work)
{
    /* R2 as a block of nc rows; only its upper triangle is nonzero */
    for (int j = 0; j < nc; j++)
        for (int i = 0; i < nc; i++) work[(size_t)j * nc + i] = i <= j ? R2[(size_t)j * nc + i] : 0.0;
    qr_fold(R1, (size_t)nc, nc, work, (size_t)nc, (size_t)nc);
}
