"""NumPy's names for the model language's functions.

Inside a traced model these record operations; on plain numbers and arrays
they compute with NumPy, so a model written with them also runs as an
ordinary function:

    def model(x, a, b, c):
        return a * nlsqc.np.exp(-b * x) + c
"""
import math as _math

from ._trace import apply as _apply, where, _clip


def _one(name):
    def fn(u):
        return _apply(name, u)
    fn.__name__ = name
    return fn


def _two(name):
    def fn(u, v):
        return _apply(name, u, v)
    fn.__name__ = name
    return fn


exp, expm1, log, log1p, log10, log2 = (_one(n) for n in ("exp", "expm1", "log", "log1p", "log10", "log2"))
sqrt, cbrt, abs, sign, floor, ceil = (_one(n) for n in ("sqrt", "cbrt", "abs", "sign", "floor", "ceil"))
sin, cos, tan, sinh, cosh, tanh = (_one(n) for n in ("sin", "cos", "tan", "sinh", "cosh", "tanh"))
arcsin, arccos, arctan = _one("asin"), _one("acos"), _one("atan")
arcsinh, arccosh, arctanh = _one("asinh"), _one("acosh"), _one("atanh")
asin, acos, atan, asinh, acosh, atanh = arcsin, arccos, arctan, arcsinh, arccosh, arctanh
erf, erfc, lgamma, tgamma = _one("erf"), _one("erfc"), _one("lgamma"), _one("tgamma")
gammaln, gamma = lgamma, tgamma
absolute, fabs = abs, abs
power, hypot, arctan2 = _two("pow"), _two("hypot"), _two("atan2")
# Re and Im of the Faddeeva function w(x + iy) (scipy.special.wofz)
faddeeva_re, faddeeva_im = _two("faddeeva_re"), _two("faddeeva_im")
pow, atan2 = power, arctan2
minimum, maximum = _two("min"), _two("max")
less, less_equal, greater, greater_equal = _two("<"), _two("<="), _two(">"), _two(">=")
equal, not_equal = _two("=="), _two("!=")
logical_and, logical_or, logical_not = _two("&&"), _two("||"), _one("!")


def square(u):
    return _apply("pow", u, 2.0)


def reciprocal(u):
    return _apply("/", 1.0, u)


def clip(a, a_min, a_max):
    return _clip(a, a_min, a_max)


def heaviside(u, h0):
    return where(u < 0, 0.0, where(u > 0, 1.0, h0))


pi = _math.pi
e = _math.e
inf = _math.inf
nan = _math.nan

__all__ = [n for n in dir() if not n.startswith("_")]
