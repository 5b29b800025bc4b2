/* The numeric core's headers as strings (made from them by CMakeLists.txt). */
#include "text.h"

#include "kernel_covariance.h"
#include "kernel_dot.h"
#include "kernel_faddeeva.h"
#include "kernel_givens.h"
#include "kernel_householder.h"
#include "kernel_loss.h"
#include "kernel_minpack.h"
#include "kernel_scalar.h"
#include "kernel_sum.h"

const char *const kernel_text_scalar = KERNEL_SCALAR_SOURCE;
const char *const kernel_text_faddeeva = KERNEL_FADDEEVA_SOURCE;
const char *const kernel_text_dot = KERNEL_DOT_SOURCE;
const char *const kernel_text_sum = KERNEL_SUM_SOURCE;
const char *const kernel_text_loss = KERNEL_LOSS_SOURCE;
const char *const kernel_text_givens = KERNEL_GIVENS_SOURCE;
const char *const kernel_text_householder = KERNEL_HOUSEHOLDER_SOURCE;
const char *const kernel_text_minpack = KERNEL_MINPACK_SOURCE;
const char *const kernel_text_covariance = KERNEL_COVARIANCE_SOURCE;
