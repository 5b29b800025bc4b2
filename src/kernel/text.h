/*
 * The numeric core's headers as text, for the code generators that splice
 * them into the kernels they compile at run time (src/exec/codegen.c for
 * C, src/gpu/cuda_source.c for CUDA): the same source the library itself
 * is built from, so a fix lands in every kernel at once.
 */
#ifndef NLSQ_KERNEL_TEXT_H
#define NLSQ_KERNEL_TEXT_H

extern const char *const kernel_text_scalar;      /* scalar.h     */
extern const char *const kernel_text_faddeeva;    /* faddeeva.h  */
extern const char *const kernel_text_dot;         /* dot.h        */
extern const char *const kernel_text_sum;         /* sum.h        */
extern const char *const kernel_text_loss;        /* loss.h       */
extern const char *const kernel_text_givens;      /* givens.h     */
extern const char *const kernel_text_householder; /* householder.h */
extern const char *const kernel_text_minpack;     /* minpack.h    */
extern const char *const kernel_text_covariance;  /* covariance.h */

#endif
