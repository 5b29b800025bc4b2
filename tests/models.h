/*
 * Models the kernel tests share: the four reference models of the
 * benchmarks (with parameter values), and one model per function and
 * operator of the language, each applied to something that moves with the
 * parameters (x in [-3, 3] reaches both sides of every domain edge).
 */
#ifndef NLSQ_TESTS_MODELS_H
#define NLSQ_TESTS_MODELS_H

typedef struct ref_model {
    const char *name, *text, *vars;
    int n;
    double p[10];
} ref_model;

static const ref_model REFS[] = {
    {"exponential decay", "a*exp(-b*x) + c", "x", 3, {2.5, 1.3, 0.5}},
    {"gaussian + linear", "A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x", "x", 5, {3, 0.2, 0.7, 0.1, 0.05}},
    {"2-D gaussian", "A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B", "x,y", 6, {3, 0.1, 0.8, -0.2, 0.6, 0.3}},
    {"3 gaussians + c",
     "a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c",
     "x",
     10,
     {1, -1, 0.5, 2, 0, 0.3, 1.5, 1.2, 0.4, 0.1}},
};

static const char *const FUNCTION_MODELS[] = {
    "a*exp(b*x) + c",
    "a*expm1(b*x) + c",
    "a*log(b*x + 4) + c",
    "a*log1p(b*x) + c",
    "a*log10(b*x + 4) + c",
    "a*log2(b*x + 4) + c",
    "a*sqrt(b*x + 3) + c",
    "a*cbrt(b*x) + c",
    "pow(abs(a*x) + 0.5, b) + c",
    "a*hypot(b*x, c)",
    "a*abs(b*x - 1) + c",
    "a*sign(b*x - 0.5) + c*x",
    "a*min(b*x, c) + x",
    "a*max(b*x, c) + x",
    "a*sin(b*x) + c",
    "a*cos(b*x) + c",
    "a*tan(b*x) + c",
    "a*asin(b*x/4) + c",
    "a*acos(b*x/4) + c",
    "a*atan(b*x) + c",
    "a*atan2(b*x, c + x)",
    "a*sinh(b*x) + c",
    "a*cosh(b*x) + c",
    "a*tanh(b*x) + c",
    "a*asinh(b*x) + c",
    "a*acosh(b*x + 4) + c",
    "a*atanh(b*x/4) + c",
    "a*erf(b*x) + c",
    "a*erfc(b*x) + c",
    "a*lgamma(b*x + 3.5) + c",
    "a*tgamma(b*x + 3.5) + c",
    "a*floor(b*x) + c*x",
    "a*ceil(b*x) + c*x",
    "a*x^3 + b*x^-2 + c*(x - 1)^4",
    "(a*x + b)^2.5 + c",
    "a*x^b + c",
    "where(x > b && x <= 2 || !(x != c), a*x, -a) + c",
    "where(x < b, a, where(x >= c, a*x, a*x*x)) + b",
    "t = x - b; where(t > 0, a*exp(-t/c), 0) + 0.1",
    "a/(b + x^2) + c/x",
    "a*faddeeva_re(b*x, c) + faddeeva_im(x, c - b)",
    "voigt(x, a, b, c, 0.3) + pseudo_voigt(x, a, c, b, 0.5)",
    "-a*x - b + c*pi + e",
};

#endif
