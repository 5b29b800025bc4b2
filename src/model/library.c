/*
 * The model library: named shapes (gaussian, voigt, logistic4, ...) that
 * model text may call. Each shape is defined by a formula in the model
 * language itself, over its variables (x, or x and y) and its parameters;
 * the parser expands a call by parsing that formula with those names bound
 * to the call's arguments (parse.c), so a shape is made of ordinary graph
 * nodes and gets the exact derivatives, the interpreter, the C kernels and
 * the CUDA kernels of any other model. `nlsq models` shows these very
 * formulas. Names, parameter names and their order are a contract with the
 * start-value estimators (docs/model-language.md, "Model library");
 * meanings follow lmfit's built-in models where lmfit has the shape
 * (amplitude is the area under a peak).
 */
#include <stdio.h>
#include <string.h>

#include "model.h"

static const char *const P_C[] = {"c"};
static const char *const P_LINEAR[] = {"slope", "intercept"};
static const char *const P_POLY[] = {"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"};
static const char *const P_EXP[] = {"amplitude", "decay"};
static const char *const P_STRETCHED[] = {"amplitude", "tau", "beta"};
static const char *const P_POWER[] = {"amplitude", "exponent"};
static const char *const P_PEAK[] = {"amplitude", "center", "sigma"};
static const char *const P_VOIGT[] = {"amplitude", "center", "sigma", "gamma"};
static const char *const P_PSEUDO_VOIGT[] = {"amplitude", "center", "sigma", "fraction"};
static const char *const P_PEARSON7[] = {"amplitude", "center", "sigma", "expon"};
static const char *const P_LOGISTIC4[] = {"bottom", "top", "ec50", "hill"};
static const char *const P_LOGISTIC5[] = {"bottom", "top", "ec50", "hill", "asymmetry"};
static const char *const P_HILL[] = {"vmax", "k", "n"};
static const char *const P_MM[] = {"vmax", "km"};
static const char *const P_ARRHENIUS[] = {"amplitude", "activation"};
static const char *const P_DAMPED_SINE[] = {"amplitude", "frequency", "phase", "decay"};
static const char *const P_MOFFAT[] = {"amplitude", "center", "sigma", "beta"};
static const char *const P_GAUSSIAN2D[] = {"amplitude", "centerx", "centery", "sigmax", "sigmay", "theta"};

#define GAUSSIAN "amplitude/(sigma*sqrt(2*pi))*exp(-(x - center)^2/(2*sigma^2))"

static const nlsq_shape SHAPES[] = {
    {"constant", 1, 1, P_C, "c", "a constant background"},
    {"linear", 1, 2, P_LINEAR, "slope*x + intercept", "a straight line"},
    {"polynomial2", 1, 3, P_POLY, "c0 + c1*x + c2*x^2", "a polynomial of degree 2 (polynomial2 .. polynomial7)"},
    {"polynomial3", 1, 4, P_POLY, "c0 + c1*x + c2*x^2 + c3*x^3", "a polynomial of degree 3"},
    {"polynomial4", 1, 5, P_POLY, "c0 + c1*x + c2*x^2 + c3*x^3 + c4*x^4", "a polynomial of degree 4"},
    {"polynomial5", 1, 6, P_POLY, "c0 + c1*x + c2*x^2 + c3*x^3 + c4*x^4 + c5*x^5", "a polynomial of degree 5"},
    {"polynomial6", 1, 7, P_POLY, "c0 + c1*x + c2*x^2 + c3*x^3 + c4*x^4 + c5*x^5 + c6*x^6", "a polynomial of degree 6"},
    {"polynomial7", 1, 8, P_POLY, "c0 + c1*x + c2*x^2 + c3*x^3 + c4*x^4 + c5*x^5 + c6*x^6 + c7*x^7",
     "a polynomial of degree 7"},
    {"exponential", 1, 2, P_EXP, "amplitude*exp(-x/decay)",
     "exponential decay (a sum of decays: exponential(x) + exponential(x))"},
    {"stretched_exponential", 1, 3, P_STRETCHED, "amplitude*exp(-(x/tau)^beta)", "stretched exponential (Kohlrausch)"},
    {"power_law", 1, 2, P_POWER, "amplitude*x^exponent", "power law"},
    {"gaussian", 1, 3, P_PEAK, GAUSSIAN, "Gaussian peak of area amplitude"},
    {"lorentzian", 1, 3, P_PEAK, "amplitude/pi*sigma/((x - center)^2 + sigma^2)",
     "Lorentzian (Cauchy) peak of area amplitude, half width sigma"},
    {"voigt", 1, 4, P_VOIGT, "s = sigma*sqrt(2); amplitude*faddeeva_re((x - center)/s, gamma/s)/(sigma*sqrt(2*pi))",
     "Voigt peak: Gaussian sigma convolved with Lorentzian gamma, exact (Faddeeva function)"},
    {"pseudo_voigt", 1, 4, P_PSEUDO_VOIGT,
     "sg = sigma/sqrt(2*log(2)); (1 - fraction)*amplitude/(sg*sqrt(2*pi))*exp(-(x - center)^2/(2*sg^2)) + "
     "fraction*amplitude/pi*sigma/((x - center)^2 + sigma^2)",
     "pseudo-Voigt: Gaussian and Lorentzian of one half width sigma, mixed by fraction"},
    {"pearson7", 1, 4, P_PEARSON7,
     "amplitude/(sigma*exp(lgamma(expon - 0.5) + lgamma(0.5) - lgamma(expon)))*"
     "(1 + ((x - center)/sigma)^2*(2^(1/expon) - 1))^(-expon)",
     "Pearson VII peak of area amplitude"},
    {"skewed_gaussian", 1, 4, P_VOIGT, GAUSSIAN "*(1 + erf(gamma*(x - center)/(sigma*sqrt(2))))",
     "skewed Gaussian (skew gamma)"},
    {"exp_gaussian", 1, 4, P_VOIGT,
     "amplitude*gamma/2*exp(gamma*(center - x + gamma*sigma^2/2))*erfc((center + gamma*sigma^2 - x)/(sqrt(2)*sigma))",
     "exponentially modified Gaussian (decay rate gamma)"},
    {"logistic", 1, 3, P_PEAK, "amplitude*(1 - 1/(1 + exp((x - center)/sigma)))", "logistic step of height amplitude"},
    {"logistic4", 1, 4, P_LOGISTIC4, "bottom + (top - bottom)/(1 + (ec50/x)^hill)",
     "4-parameter logistic (dose-response)"},
    {"logistic5", 1, 5, P_LOGISTIC5, "bottom + (top - bottom)/(1 + (ec50/x)^hill)^asymmetry",
     "5-parameter logistic (asymmetric dose-response)"},
    {"hill", 1, 3, P_HILL, "vmax*x^n/(k^n + x^n)", "Hill equation"},
    {"michaelis_menten", 1, 2, P_MM, "vmax*x/(km + x)", "Michaelis-Menten kinetics"},
    {"arrhenius", 1, 2, P_ARRHENIUS, "amplitude*exp(-activation/x)",
     "Arrhenius rate (activation = Ea/R in the units of x)"},
    {"damped_sine", 1, 4, P_DAMPED_SINE, "amplitude*exp(-x/decay)*sin(2*pi*frequency*x + phase)",
     "exponentially damped sine"},
    {"erf_step", 1, 3, P_PEAK, "amplitude/2*(1 + erf((x - center)/(sigma*sqrt(2))))",
     "error-function step of height amplitude"},
    {"lognormal", 1, 3, P_PEAK, "amplitude/(x*sigma*sqrt(2*pi))*exp(-(log(x) - center)^2/(2*sigma^2))",
     "log-normal peak of area amplitude"},
    {"moffat", 1, 4, P_MOFFAT, "amplitude/(((x - center)/sigma)^2 + 1)^beta", "Moffat profile of height amplitude"},
    {"gaussian2d", 2, 6, P_GAUSSIAN2D,
     "dx = x - centerx; dy = y - centery; ct = cos(theta); st = sin(theta); s2t = sin(2*theta); "
     "a = ct^2/(2*sigmax^2) + st^2/(2*sigmay^2); b = -s2t/(4*sigmax^2) + s2t/(4*sigmay^2); "
     "c = st^2/(2*sigmax^2) + ct^2/(2*sigmay^2); amplitude*exp(-(a*dx^2 + 2*b*dx*dy + c*dy^2))",
     "rotated 2-D Gaussian of height amplitude (variables x, y; theta in radians)"},
};

#define NSHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

int nlsq_shape_count(void)
{
    return NSHAPES;
}

const nlsq_shape *nlsq_shape_get(int index)
{
    return index >= 0 && index < NSHAPES ? &SHAPES[index] : NULL;
}

int library_lookup(const char *name, size_t len)
{
    for (int i = 0; i < NSHAPES; i++)
        if (strlen(SHAPES[i].name) == len && memcmp(SHAPES[i].name, name, len) == 0) return i;
    return -1;
}

const nlsq_shape *nlsq_shape_find(const char *name)
{
    return name ? nlsq_shape_get(library_lookup(name, strlen(name))) : NULL;
}

/* shape name, '_' if it ends in a digit, the occurrence, '_' */
void library_prefix(int shape, int occurrence, char *buf, size_t size)
{
    const char *name = SHAPES[shape].name;
    size_t len = strlen(name);
    int digit = len > 0 && name[len - 1] >= '0' && name[len - 1] <= '9';
    snprintf(buf, size, "%s%s%d_", name, digit ? "_" : "", occurrence);
}
