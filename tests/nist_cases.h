/* The NIST StRD problems of ../shared/data/nist that the C tests fit
   (test_nist, test_finish): one list of their models, so the two agree. */
#ifndef NLSQ_TESTS_NIST_CASES_H
#define NLSQ_TESTS_NIST_CASES_H

typedef struct nist_case {
    const char *name;
    const char *model;
    const char *vars;
    int log_y; /* Nelson: the model is for log(y) */
} nist_case;

static const nist_case NIST_CASES[] = {
    {"Misra1a", "b1*(1-exp(-b2*x))", "x", 0},
    {"Chwirut2", "exp(-b1*x)/(b2+b3*x)", "x", 0},
    {"Lanczos3", "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)", "x", 0},
    {"Gauss1", "b1*exp(-b2*x) + b3*exp(-(x-b4)^2/b5^2) + b6*exp(-(x-b7)^2/b8^2)", "x", 0},
    {"Gauss2", "b1*exp(-b2*x) + b3*exp(-(x-b4)^2/b5^2) + b6*exp(-(x-b7)^2/b8^2)", "x", 0},
    {"DanWood", "b1*x^b2", "x", 0},
    {"Hahn1", "(b1+b2*x+b3*x^2+b4*x^3)/(1+b5*x+b6*x^2+b7*x^3)", "x", 0},
    {"Nelson", "b1 - b2*x1*exp(-b3*x2)", "x1,x2", 1},
    {"Lanczos1", "b1*exp(-b2*x) + b3*exp(-b4*x) + b5*exp(-b6*x)", "x", 0},
    {"Misra1c", "b1*(1-(1+2*b2*x)^(-.5))", "x", 0},
    {"Misra1d", "b1*b2*x*((1+b2*x)^(-1))", "x", 0},
    {"ENSO",
     "b1 + b2*cos(2*pi*x/12) + b3*sin(2*pi*x/12) + b5*cos(2*pi*x/b4) + b6*sin(2*pi*x/b4)"
     " + b8*cos(2*pi*x/b7) + b9*sin(2*pi*x/b7)",
     "x", 0},
    {"MGH09", "b1*(x^2+x*b2)/(x^2+x*b3+b4)", "x", 0},
    {"Thurber", "(b1+b2*x+b3*x^2+b4*x^3)/(1+b5*x+b6*x^2+b7*x^3)", "x", 0},
    {"BoxBOD", "b1*(1-exp(-b2*x))", "x", 0},
    {"Rat42", "b1/(1+exp(b2-b3*x))", "x", 0},
    {"MGH10", "b1*exp(b2/(x+b3))", "x", 0},
    {"Eckerle4", "(b1/b2)*exp(-0.5*((x-b3)/b2)^2)", "x", 0},
};

#define NIST_CASE_COUNT (sizeof NIST_CASES / sizeof NIST_CASES[0])

#endif
