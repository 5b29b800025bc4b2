"""Tracing: every function and operator, constants, closures, where,
several variables, and the errors for what cannot be traced."""
import math
import warnings

import numpy as np
import pytest

import nlsqc
from nlsqc import np as nnp

try:
    import scipy.special as sp
except ImportError:  # pragma: no cover
    sp = None

X = np.linspace(0.15, 0.85, 23)  # inside every function's domain
P = np.array([0.7, 1.3])


def check(f, x=X, p=P, rtol=1e-13, nvars=None):
    """The traced model's values equal f run on NumPy arrays, and its exact
    Jacobian matches central differences of those values."""
    m = nlsqc.model(f, nvars=nvars or (1 if np.ndim(x) == 1 else np.shape(x)[0]), rows=np.ndim(x) == 2)
    fv, J = m.eval(x, p)
    want = np.broadcast_to(np.asarray(f(x, *p), dtype=float), fv.shape)
    np.testing.assert_allclose(fv, want, rtol=rtol, atol=1e-300)
    for j in range(len(p)):
        h = 1e-6 * max(1.0, abs(p[j]))
        up, dn = p.copy(), p.copy()
        up[j] += h
        dn[j] -= h
        fd = (np.asarray(f(x, *up), float) - np.asarray(f(x, *dn), float)) / (2 * h)
        np.testing.assert_allclose(J[:, j], np.broadcast_to(fd, J[:, j].shape), rtol=1e-6, atol=1e-7)
    return m


UNARY_NUMPY = ["exp", "expm1", "log", "log1p", "log10", "log2", "sqrt", "cbrt", "abs", "absolute", "fabs",
               "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "arcsinh", "arctanh",
               "square", "reciprocal", "exp2", "deg2rad", "rad2deg", "negative", "positive"]


@pytest.mark.parametrize("name", UNARY_NUMPY)
def test_numpy_unary(name):
    fn = getattr(np, name)
    check(lambda x, a, b: a * fn(b * x * 0.5))


@pytest.mark.parametrize("name", ["exp", "expm1", "log", "log1p", "log10", "log2", "sqrt", "cbrt", "abs", "sin",
                                  "cos", "tan", "arcsin", "arccos", "arctan", "asin", "acos", "atan", "sinh", "cosh",
                                  "tanh", "arcsinh", "arctanh", "erf", "erfc", "lgamma", "tgamma", "square",
                                  "reciprocal"])
def test_nlsqc_np_unary(name):
    fn = getattr(nnp, name)
    check(lambda x, a, b: a * fn(b * x * 0.5))


def test_arccosh_sign_floor_ceil():
    check(lambda x, a, b: a * np.arccosh(1 + b * x))
    check(lambda x, a, b: a * nnp.acosh(1 + b * x))
    # piecewise constant: value checked, derivative 0
    for f in (lambda x, a, b: a * np.sign(x - 0.5) + b, lambda x, a, b: a * np.floor(4 * x) + b,
              lambda x, a, b: a * np.ceil(4 * x) + b, lambda x, a, b: a * math.floor(4 * x) + b):
        m = nlsqc.model(f)
        fv, J = m.eval(X, P)
        np.testing.assert_array_equal(fv, [f(t, *P) for t in X])
        np.testing.assert_array_equal(J[:, 0], [f(t, 1.0, 0.0) for t in X])
        np.testing.assert_array_equal(J[:, 1], 1.0)


@pytest.mark.skipif(sp is None, reason="scipy.special not installed")
def test_scipy_special_ufuncs():
    check(lambda x, a, b: a * sp.erf(b * x) + sp.erfc(x))
    check(lambda x, a, b: a * sp.gammaln(b + x) + sp.gamma(1 + b * x))


@pytest.mark.parametrize("name", ["power", "float_power", "hypot", "arctan2", "minimum", "maximum", "add",
                                  "subtract", "multiply", "true_divide", "divide"])
def test_numpy_binary(name):
    fn = getattr(np, name)
    check(lambda x, a, b: fn(a + x, b * x + 0.1))


@pytest.mark.parametrize("name", ["power", "pow", "hypot", "arctan2", "atan2", "minimum", "maximum"])
def test_nlsqc_np_binary(name):
    fn = getattr(nnp, name)
    check(lambda x, a, b: fn(a + x, b * x + 0.1))


def test_operators():
    check(lambda x, a, b: a + x - b * x / (1 + a) + (-x) + (+b) ** 2 - 3 / (b + x) + 2 - a)
    check(lambda x, a, b: x ** a + 2 ** (b * x) + abs(x - a) + (x ** 3) * b)
    check(lambda x, a, b: (a * x) // 0.3 + (b * x) % 0.25 + 1 // (1 + x) + 3 % (a + x))


def test_conditions_where():
    check(lambda x, a, b: np.where(x > 0.5, a * x, b * x * x))
    check(lambda x, a, b: nnp.where((x > 0.3) & (x < 0.6), a, b * x))
    check(lambda x, a, b: np.where((x < 0.3) | ~(x < 0.6), a, b * x))
    check(lambda x, a, b: np.where(np.logical_and(x >= 0.3, np.logical_not(x > 0.6)), a, b))
    check(lambda x, a, b: np.where(np.less_equal(x, 0.5) | np.equal(x, 0.85) | np.not_equal(x, x), a, b))
    # NumPy's bool arithmetic: True counts as 1
    check(lambda x, a, b: a * (x > 0.5) + b * np.greater_equal(x, 0.2))
    check(lambda x, a, b: np.clip(a * x, 0.2, b * 0.5) + np.heaviside(x - 0.5, 0.5) * b)
    # a where with both branches numbers and a scalar condition
    check(lambda x, a, b: nnp.where(True, a * x, b) + nnp.where(np.bool_(False), a, b * x))


def test_constants_and_closures():
    k = 0.25
    arr0 = np.array(1.5)
    arr1 = np.array([2.0])
    coeffs = np.array([0.5, -1.0, 2.0])
    check(lambda x, a, b: np.float64(2.0) * a * x + np.float32(0.5) * b + np.int64(3) + arr0 * x + arr1 * b
          + coeffs[1] * x + k * np.pi * x + nnp.e + True)
    models = [nlsqc.model(lambda x, a, b, c=c: a * x + c * b, n=2) for c in (1.0, 2.0)]
    f1, _ = models[0].eval(X, P)
    f2, _ = models[1].eval(X, P)
    np.testing.assert_allclose(f1, P[0] * X + 1.0 * P[1])
    np.testing.assert_allclose(f2, P[0] * X + 2.0 * P[1])  # a closure's value is part of the model


def test_constant_model_and_unused_parameter():
    m = nlsqc.model(lambda x, a, b: a * 1.0 + 0 * x + b * 0)
    fv, J = m.eval(X, P)
    np.testing.assert_array_equal(fv, np.full(X.size, P[0]))
    np.testing.assert_array_equal(J[:, 1], 0)
    # a parameter the model never uses is kept with a zero column, as
    # SciPy fits it (issue 18; curve_fit then reports an infinite covariance)
    fv, J = nlsqc.model(lambda x, a, b: a * x).eval(X, P)
    np.testing.assert_array_equal(fv, P[0] * X)
    np.testing.assert_array_equal(J[:, 1], 0)


def test_several_variables():
    xy = np.vstack([X, X[::-1]])
    check(lambda x, a, b: a * x[0] + np.exp(-b * x[1]) * x[0, :], x=xy)
    check(lambda x, a, b: (lambda u, v: a * u * v + b)(*x), x=xy)
    check(lambda x, a, b: a * x[0] ** 2 + b * x[-1], x=xy)
    # SciPy's xdata of shape (1, m): x[0]
    check(lambda x, a, b: a * x[0] + b, x=X[None, :])


def test_parameter_names():
    def f(x, e, pi, exp, x0):  # reserved names in the language, and x0 next to x
        return e * np.exp(-pi * x) + exp * x + x0
    m = nlsqc.model(f)
    assert m.param_names == ("e", "pi", "exp", "x0")
    fv = m(X, 1.0, 2.0, 3.0, 4.0)
    np.testing.assert_allclose(fv, f(X, 1.0, 2.0, 3.0, 4.0), rtol=1e-14)
    m = nlsqc.model(lambda x, *p: p[0] + p[1] * x, n=2)
    assert m.param_names == ("p0", "p1")


def test_the_same_trace_is_cached():
    def f(x, a, b):
        return a * np.exp(-b * x)
    assert nlsqc.model(f) is nlsqc.model(f)
    assert nlsqc.model(f) is nlsqc.model(lambda x, a, b: a * np.exp(-b * x))


def test_model_function_still_runs_on_numbers():
    def f(x, a, b):
        return a * nnp.exp(-b * x) + nnp.where(x > 0.5, nnp.erf(x), nnp.lgamma(1 + x))
    v = f(X, *P)
    want = P[0] * np.exp(-P[1] * X) + np.where(X > 0.5, [math.erf(t) for t in X], [math.lgamma(1 + t) for t in X])
    np.testing.assert_allclose(v, want, rtol=1e-14)


UNTRACEABLE = [
    (lambda x, a, b: a if b > 0 else x, "truth value"),
    (lambda x, a, b: a * x if a and b else x, "truth value"),
    (lambda x, a, b: max(a, b * x), "np.minimum/np.maximum"),
    (lambda x, a, b: math.exp(a) * x, "Python number"),
    (lambda x, a, b: float(a) * x, "Python number"),
    (lambda x, a, b: np.sum(a * x), "cannot be traced"),
    (lambda x, a, b: np.asarray(a * x) + b, "cannot become a NumPy array"),
    (lambda x, a, b: a * x + np.ones((2, 3)), "array of shape"),
    (lambda x, a, b: np.fmin(a, x), "no counterpart"),
    (lambda x, a, b: x[0] * a + b, "single variable"),
    (lambda x, a, b: len(x) * a, "len()"),
    (lambda x, a, b: "text", "returned a str"),
    (lambda x, a, b: [a * x, b], "returned a list"),
    (lambda x, a, b: np.add(a, x, out=None, where=True), "where="),
    (lambda x, a, b: complex(1, 2) * a + x, "complex"),
]


@pytest.mark.parametrize("f,message", UNTRACEABLE, ids=[m for _, m in UNTRACEABLE])
def test_untraceable_models_say_what_to_do(f, message):
    with pytest.raises(nlsqc.TraceError, match=message):
        nlsqc.model(f)
    with pytest.raises(TypeError):  # TraceError is a TypeError, as JAX's tracer errors are
        nlsqc.curve_fit_large(f, X, X, p0=[1, 1])
    # curve_fit calls such a model back instead (python/tests/test_fallback.py),
    # with one FallbackWarning; it may then fail on the data as under SciPy
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            r = nlsqc.curve_fit(f, X, X, p0=[1, 1])
        except (TypeError, ValueError, RuntimeError, IndexError):
            r = None
    assert sum(issubclass(w.category, nlsqc.FallbackWarning) for w in caught) == 1
    assert r is None or r.model_path == "callback"


def test_if_error_suggests_where():
    with pytest.raises(nlsqc.TraceError, match=r"where\(cond, a, b\)"):
        nlsqc.model(lambda x, a, b: a if x > 0 else b)


def test_model_text():
    m = nlsqc.model("a*exp(-b*x) + c")
    assert m.param_names == ("a", "b", "c") and m.var_names == ("x",)
    m2 = nlsqc.model("a*u + b*v", nvars=2, vars="u,v", params=["b", "a"])
    assert m2.param_names == ("b", "a")
    fv = m2(np.vstack([X, 2 * X]), 1.0, 2.0)
    np.testing.assert_allclose(fv, 2.0 * X + 1.0 * 2 * X)
    assert "exp" in m.text() and m.text(1)


def test_per_point_arrays_join_the_data():
    """A SciPy model that closes over an array with one value per point (a
    measured background, a response) fits unchanged: the array becomes one
    more row of xdata, and the fit is bitwise the stacked-xdata fit."""
    rng = np.random.default_rng(9)
    x = np.linspace(0, 4, 200)
    bkg = 0.3 + 0.1 * np.sin(3 * x)
    resp = 1 + 0.2 * np.cos(x)
    y = 2.5 * np.exp(-1.3 * x) * resp + 0.7 * bkg + 0.01 * rng.standard_normal(x.size)

    def model(x, a, b, c):
        return a * np.exp(-b * x) * resp + c * np.where(bkg > 0.25, bkg, bkg)

    r = nlsqc.curve_fit(model, x, y, p0=[2, 1, 0.5])
    stacked = np.vstack([x, resp, bkg])
    stacked = np.vstack([x, resp, bkg > 0.25, bkg])
    ref = nlsqc.curve_fit(lambda v, a, b, c: a * np.exp(-b * v[0]) * v[1] + c * np.where(v[2], v[3], v[3]),
                          stacked, y, p0=[2, 1, 0.5])
    np.testing.assert_array_equal(r.popt, ref.popt)
    np.testing.assert_array_equal(r.pcov, ref.pcov)
    ls = nlsqc.least_squares_model(model, [2, 1, 0.5], x, y)
    np.testing.assert_array_equal(ls.x, ref.popt)
    big = nlsqc.curve_fit_large(model, x, y, p0=[2, 1, 0.5])
    np.testing.assert_array_equal(big.popt, ref.popt)
    # 50 points and arrays of 200: not traced; called back, the model's own
    # numpy raises on the shapes, as under SciPy
    with pytest.warns(nlsqc.FallbackWarning, match="one value per point"), \
            pytest.raises(ValueError, match="could not be broadcast"):
        nlsqc.curve_fit(model, x[:50], y[:50], p0=[2, 1, 0.5])
    with pytest.raises(nlsqc.TraceError, match="per-point array"):
        nlsqc.model(model)


def test_a_jax_style_model_with_nlsqc_np_as_jnp():
    import nlsqc.np as jnp

    def model(x, a, mu, s, c):  # as NLSQ's examples write it, with jnp
        return a * jnp.exp(-((x - mu) ** 2) / (2 * s ** 2)) + jnp.where(x > 0, c, c)
    check(model, p=np.array([1.5, 0.4, 0.3, 0.2]))
