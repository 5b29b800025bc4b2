"""The model library's shapes as Python functions.

Each function computes its shape on numbers and arrays (with NumPy) and
traces inside a model (into the same graph as the shape's name in model
text: exact derivatives, compiled kernels). Names, parameter names and
their order are the library's (`nlsq models`, docs/model-language.md):

    import nlsqc
    from nlsqc import models

    def peaks(x, a1, c1, s1, a2, c2, s2, slope, b):
        return models.gaussian(x, a1, c1, s1) + models.voigt(x, a2, c2, s2, 0.1) + models.linear(x, slope, b)

    popt, pcov = nlsqc.curve_fit(models.lorentzian, x, y, p0=[1, 0, 1])

A library model may also be named instead of written, as model text,
where every component gets parameters of its own (gaussian1_amplitude,
..., linear1_intercept):

    popt, pcov = nlsqc.curve_fit("gaussian(x) + gaussian(x) + linear(x)", x, y, p0=[...])

library() lists the shapes with their parameters and formulas, from the
C library's table.
"""
import inspect as _inspect
import math as _math

import numpy as _numpy

from . import _lib
from . import np as _np
from ._trace import Expr as _Expr

_SQRT2 = _math.sqrt(2.0)
_SQRT2PI = _math.sqrt(2.0 * _math.pi)


def library():
    """{name: {"vars": ("x",) or ("x", "y"), "params": (...), "formula": str, "summary": str}} in the
    library's order: what `nlsq models` prints."""
    out = {}
    lib = _lib.lib
    for i in range(lib.nlsq_shape_count()):
        s = lib.nlsq_shape_get(i).contents
        out[s.name.decode()] = {
            "vars": ("x", "y")[:s.num_vars],
            "params": tuple(s.param_names[k].decode() for k in range(s.num_params)),
            "formula": s.formula.decode(),
            "summary": s.summary.decode(),
        }
    return out


def constant(x, c):
    if isinstance(x, _Expr) or isinstance(c, _Expr):
        return c
    return c * _numpy.ones_like(_numpy.asarray(x, dtype=float))


def linear(x, slope, intercept):
    return slope * x + intercept


def _polynomial(degree):
    def polynomial(x, *c):
        if len(c) != degree + 1:
            raise TypeError(f"polynomial{degree} takes x and {degree + 1} coefficients c0 .. c{degree}")
        s = c[0]
        for k in range(1, degree + 1):
            s = s + c[k] * x ** k
        return s
    polynomial.__name__ = polynomial.__qualname__ = f"polynomial{degree}"
    params = [_inspect.Parameter("x", _inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [_inspect.Parameter(f"c{k}", _inspect.Parameter.POSITIONAL_OR_KEYWORD) for k in range(degree + 1)]
    polynomial.__signature__ = _inspect.Signature(params)
    polynomial.__doc__ = f"c0 + c1*x + ... + c{degree}*x^{degree}"
    return polynomial


polynomial2, polynomial3, polynomial4, polynomial5, polynomial6, polynomial7 = (_polynomial(d) for d in range(2, 8))


def exponential(x, amplitude, decay):
    return amplitude * _np.exp(-x / decay)


def stretched_exponential(x, amplitude, tau, beta):
    return amplitude * _np.exp(-(x / tau) ** beta)


def power_law(x, amplitude, exponent):
    return amplitude * x ** exponent


def gaussian(x, amplitude, center, sigma):
    return amplitude / (sigma * _SQRT2PI) * _np.exp(-(x - center) ** 2 / (2 * sigma ** 2))


def lorentzian(x, amplitude, center, sigma):
    return amplitude / _math.pi * sigma / ((x - center) ** 2 + sigma ** 2)


def voigt(x, amplitude, center, sigma, gamma):
    """amplitude * scipy.special.voigt_profile(x - center, sigma, gamma), exactly: Re w(z) of the
    Faddeeva function (nlsqc.np.faddeeva_re, the language's faddeeva_re)."""
    s = sigma * _SQRT2
    return amplitude * _np.faddeeva_re((x - center) / s, gamma / s) / (sigma * _SQRT2PI)


def pseudo_voigt(x, amplitude, center, sigma, fraction):
    sg = sigma / _math.sqrt(2 * _math.log(2))
    return ((1 - fraction) * amplitude / (sg * _SQRT2PI) * _np.exp(-(x - center) ** 2 / (2 * sg ** 2)) +
            fraction * amplitude / _math.pi * sigma / ((x - center) ** 2 + sigma ** 2))


def pearson7(x, amplitude, center, sigma, expon):
    beta = _np.exp(_np.lgamma(expon - 0.5) + _math.lgamma(0.5) - _np.lgamma(expon))
    return amplitude / (sigma * beta) * (1 + ((x - center) / sigma) ** 2 * (2 ** (1 / expon) - 1)) ** (-expon)


def skewed_gaussian(x, amplitude, center, sigma, gamma):
    return gaussian(x, amplitude, center, sigma) * (1 + _np.erf(gamma * (x - center) / (sigma * _SQRT2)))


def exp_gaussian(x, amplitude, center, sigma, gamma):
    return (amplitude * gamma / 2 * _np.exp(gamma * (center - x + gamma * sigma ** 2 / 2)) *
            _np.erfc((center + gamma * sigma ** 2 - x) / (_SQRT2 * sigma)))


def logistic(x, amplitude, center, sigma):
    return amplitude * (1 - 1 / (1 + _np.exp((x - center) / sigma)))


def logistic4(x, bottom, top, ec50, hill):
    return bottom + (top - bottom) / (1 + (ec50 / x) ** hill)


def logistic5(x, bottom, top, ec50, hill, asymmetry):
    return bottom + (top - bottom) / (1 + (ec50 / x) ** hill) ** asymmetry


def hill(x, vmax, k, n):
    return vmax * x ** n / (k ** n + x ** n)


def michaelis_menten(x, vmax, km):
    return vmax * x / (km + x)


def arrhenius(x, amplitude, activation):
    return amplitude * _np.exp(-activation / x)


def damped_sine(x, amplitude, frequency, phase, decay):
    return amplitude * _np.exp(-x / decay) * _np.sin(2 * _math.pi * frequency * x + phase)


def erf_step(x, amplitude, center, sigma):
    return amplitude / 2 * (1 + _np.erf((x - center) / (sigma * _SQRT2)))


def lognormal(x, amplitude, center, sigma):
    return amplitude / (x * sigma * _SQRT2PI) * _np.exp(-(_np.log(x) - center) ** 2 / (2 * sigma ** 2))


def moffat(x, amplitude, center, sigma, beta):
    return amplitude / (((x - center) / sigma) ** 2 + 1) ** beta


def gaussian2d(x, amplitude, centerx, centery, sigmax, sigmay, theta):
    """x is (x, y): the rows of xdata of shape (2, m), or a traced x with x[0], x[1]."""
    u, v = x[0], x[1]
    ct, st, s2t = _np.cos(theta), _np.sin(theta), _np.sin(2 * theta)
    a = ct ** 2 / (2 * sigmax ** 2) + st ** 2 / (2 * sigmay ** 2)
    b = -s2t / (4 * sigmax ** 2) + s2t / (4 * sigmay ** 2)
    c = st ** 2 / (2 * sigmax ** 2) + ct ** 2 / (2 * sigmay ** 2)
    du, dv = u - centerx, v - centery
    return amplitude * _np.exp(-(a * du ** 2 + 2 * b * du * dv + c * dv ** 2))


__all__ = ["library"] + list(library())
