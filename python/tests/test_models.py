"""nlsqc.models and the model library in model text: the Faddeeva function
against scipy.special.wofz over a wide grid, each shape against a direct
NumPy formula (and voigt against scipy.special.voigt_profile), traced
functions against the library's own text, components, and fits."""
import math

import numpy as np
import pytest

import nlsqc
from nlsqc import models

sp = pytest.importorskip("scipy.special")

try:
    import mpmath
except ImportError:
    mpmath = None


def _w(x, y):
    """The library's w(x + iy) through model text."""
    xy = np.vstack([x, y])
    re = nlsqc.model("p*faddeeva_re(x, y)", vars="x,y").eval(xy, [1.0], jacobian=False)
    im = nlsqc.model("p*faddeeva_im(x, y)", vars="x,y").eval(xy, [1.0], jacobian=False)
    return re + 1j * im


def _rel(a, b):
    """Relative error of each part (absolute where the reference is 0)."""
    def part(u, v):
        return np.where(v == 0, np.abs(u), np.abs(u - v) / np.where(v == 0, 1.0, np.abs(v)))
    return np.maximum(part(a.real, b.real), part(a.imag, b.imag))


def test_faddeeva_matches_scipy_wofz_to_1e13_over_a_wide_grid():
    mags = np.concatenate([[0.0], np.logspace(-8, 4, 49)])
    axis = np.concatenate([-mags[::-1], mags])
    X, Y = np.meshgrid(axis, axis)
    x, y = X.ravel(), Y.ravel()
    ref = sp.wofz(x + 1j * y)
    keep = np.isfinite(ref) & (np.abs(ref) < 1e300)  # below the axis w overflows for |y| > |x| + 26
    x, y, ref = x[keep], y[keep], ref[keep]
    err = _rel(_w(x, y), ref)
    # SciPy's own error exceeds 1e-13 in places: below the axis it forms exp(-z^2) with a rounded 2xy (off by
    # up to 1e-8 at |xy| = 3e7), and elsewhere a small Re or Im part loses a few digits. Where the two
    # differ by more than 1e-13, 40-digit mpmath decides (the library is within 1e-14 of it there).
    off = np.flatnonzero(err > 1e-13)
    assert off.size < 0.02 * x.size and np.all(err[off] <= 1e-8), (off.size, err.max())
    if mpmath is None:
        pytest.skip(f"{off.size} of {x.size} points where SciPy's wofz is the less accurate need mpmath")
    mpmath.mp.dps = 40
    for i in off:
        z = mpmath.mpc(x[i], y[i])
        w = complex(mpmath.exp(-z * z) * mpmath.erfc(-1j * z))
        assert _rel(_w(x[i:i + 1], y[i:i + 1]), np.array([w]))[0] <= 1e-14, (x[i], y[i])


def test_voigt_matches_scipy_voigt_profile():
    x = np.linspace(-40, 40, 801)
    for sigma, gamma in [(1.0, 0.0), (0.7, 0.3), (0.2, 2.0), (3.0, 1e-6), (1e-3, 1.0)]:
        want = 2.5 * sp.voigt_profile(x - 0.3, sigma, gamma)
        got_fn = models.voigt(x, 2.5, 0.3, sigma, gamma)
        got_text = nlsqc.model("voigt(x, A, 0.3, s, g)").eval(x, [2.5, sigma, gamma], jacobian=False)
        # In the Gaussian's far tail the rounding of z = (x - center)/(sigma sqrt 2) alone moves
        # exp(-z^2) by 2 z^2 2^-53 (1e-13 at 1e-246): compared where the profile is above 1e-100.
        body = want > 1e-100
        np.testing.assert_allclose(got_fn[body], want[body], rtol=1e-13, atol=0)
        np.testing.assert_allclose(got_text[body], want[body], rtol=1e-13, atol=0)


def _direct(name, x, p):
    """Each shape written once more with NumPy, from the contract."""
    g = lambda a, c, s: a / (s * np.sqrt(2 * np.pi)) * np.exp(-(x - c) ** 2 / (2 * s ** 2))  # noqa: E731
    lor = lambda a, c, s: a / np.pi * s / ((x - c) ** 2 + s ** 2)  # noqa: E731
    d = {
        "constant": lambda c: c + 0 * x,
        "linear": lambda m, b: m * x + b,
        "exponential": lambda a, t: a * np.exp(-x / t),
        "stretched_exponential": lambda a, t, b: a * np.exp(-(x / t) ** b),
        "power_law": lambda a, k: a * x ** k,
        "gaussian": g,
        "lorentzian": lor,
        "voigt": lambda a, c, s, gm: a * sp.voigt_profile(x - c, s, gm),
        "pseudo_voigt": lambda a, c, s, f: ((1 - f) * a / (s / np.sqrt(2 * np.log(2)) * np.sqrt(2 * np.pi)) *
                                            np.exp(-(x - c) ** 2 / (2 * (s / np.sqrt(2 * np.log(2))) ** 2)) +
                                            f * lor(a, c, s)),
        "pearson7": lambda a, c, s, m: a / (s * sp.beta(m - 0.5, 0.5)) *
        (1 + ((x - c) / s) ** 2 * (2 ** (1 / m) - 1)) ** (-m),
        "skewed_gaussian": lambda a, c, s, gm: g(a, c, s) * (1 + sp.erf(gm * (x - c) / (s * np.sqrt(2)))),
        "exp_gaussian": lambda a, c, s, gm: a * gm / 2 * np.exp(gm * (c - x + gm * s ** 2 / 2)) *
        sp.erfc((c + gm * s ** 2 - x) / (np.sqrt(2) * s)),
        "logistic": lambda a, c, s: a * (1 - 1 / (1 + np.exp((x - c) / s))),
        "logistic4": lambda b, t, e, h: b + (t - b) / (1 + (e / x) ** h),
        "logistic5": lambda b, t, e, h, s: b + (t - b) / (1 + (e / x) ** h) ** s,
        "hill": lambda v, k, n: v * x ** n / (k ** n + x ** n),
        "michaelis_menten": lambda v, k: v * x / (k + x),
        "arrhenius": lambda a, e: a * np.exp(-e / x),
        "damped_sine": lambda a, f, ph, t: a * np.exp(-x / t) * np.sin(2 * np.pi * f * x + ph),
        "erf_step": lambda a, c, s: a / 2 * (1 + sp.erf((x - c) / (s * np.sqrt(2)))),
        "lognormal": lambda a, c, s: a / (x * s * np.sqrt(2 * np.pi)) * np.exp(-(np.log(x) - c) ** 2 / (2 * s * s)),
        "moffat": lambda a, c, s, b: a / (((x - c) / s) ** 2 + 1) ** b,
    }
    if name.startswith("polynomial"):
        return sum(c * x ** k for k, c in enumerate(p))
    return d[name](*p)


PARAMS = {"constant": [2.5], "linear": [1.5, -0.5], "exponential": [2.0, 1.5], "stretched_exponential": [2, 1.5, 0.7],
          "power_law": [1.5, -0.7], "logistic4": [0.1, 2.0, 1.5, 1.3], "logistic5": [0.1, 2.0, 1.5, 1.3, 0.7],
          "hill": [2.0, 1.5, 2.3], "michaelis_menten": [2.0, 1.5], "arrhenius": [1e3, 500.0],
          "damped_sine": [2.0, 0.3, 0.4, 5.0]}
POSITIVE = {"stretched_exponential", "power_law", "logistic4", "logistic5", "hill", "michaelis_menten", "lognormal"}


@pytest.mark.parametrize("name", [n for n in models.library() if n != "gaussian2d"])
def test_each_shape_function_text_and_direct_formula_agree(name):
    info = models.library()[name]
    fn = getattr(models, name)
    assert nlsqc._trace.parameter_names(fn) == list(info["params"])
    p = PARAMS.get(name, [3.0, 0.5, 0.8, 1.7, 0.4, 0.3, 0.2, 0.1][:len(info["params"])])
    x = np.linspace(0.1, 10, 57) if name in POSITIVE else (np.linspace(250, 900, 57) if name == "arrhenius"
                                                           else np.linspace(-3, 4, 57))
    want = _direct(name, x, p)
    # where 1 + erf(u) cancels (erf_step, skewed_gaussian), two erf's last bits differ relatively more
    atol = 1e-15 * np.abs(want).max()
    np.testing.assert_allclose(fn(x, *p), want, rtol=1e-13, atol=atol)
    text = nlsqc.model(f"{name}(x)")
    assert text.components[0]["shape"] == name
    f_text, J_text = text.eval(x, p)
    np.testing.assert_allclose(f_text, want, rtol=1e-13, atol=atol)
    traced = nlsqc.model(fn)  # the Python function, traced: the same values and exact derivatives
    f_tr, J_tr = traced.eval(x, p)
    np.testing.assert_allclose(f_tr, f_text, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(J_tr, J_text, rtol=1e-9, atol=1e-12 * np.abs(J_text).max())


def test_gaussian2d_function_and_text_agree():
    rng = np.random.default_rng(1)
    xy = rng.uniform(-2, 2, (2, 200))
    p = [3.0, 0.5, -0.2, 0.8, 1.3, 0.6]
    f_text, J_text = nlsqc.model("gaussian2d(x, y)", vars="x,y").eval(xy, p)
    np.testing.assert_allclose(models.gaussian2d(xy, *p), f_text, rtol=1e-13)
    f_tr, J_tr = nlsqc.model(models.gaussian2d, nvars=2).eval(xy, p)
    np.testing.assert_allclose(J_tr, J_text, rtol=1e-9, atol=1e-13)


def test_voigt_traces_to_the_faddeeva_op():
    m = nlsqc.model(models.voigt)
    assert "faddeeva_re" in m.text() and "faddeeva_im" in m.text(2)  # d/dsigma needs Im w
    x = np.linspace(-5, 5, 41)
    p = np.array([2.0, 0.3, 0.7, 0.4])
    f, J = m.eval(x, p)
    for j in range(4):  # exact derivatives against central differences
        h = 1e-6 * max(1.0, abs(p[j]))
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        d = (m.eval(x, up, jacobian=False) - m.eval(x, down, jacobian=False)) / (2 * h)
        np.testing.assert_allclose(J[:, j], d, rtol=1e-6, atol=1e-9)
    assert np.isclose(nlsqc.np.faddeeva_re(0.3, 0.2), sp.wofz(0.3 + 0.2j).real, rtol=1e-14)


def _two_peaks():
    x = np.linspace(0, 10, 400)
    truth = [50, 3.0, 0.6, 30, 6.5, 1.1, 0.2, 0.4]
    y = models.gaussian(x, *truth[0:3]) + models.gaussian(x, *truth[3:6]) + models.linear(x, *truth[6:8])
    y = y + np.random.default_rng(5).normal(0, 1e-3, x.size)
    return x, y, truth


def test_named_library_model_recovers_two_gaussians_on_a_line():
    x, y, truth = _two_peaks()
    p0 = [40, 2.7, 0.8, 40, 6.8, 0.8, 0, 0]
    popt, pcov = nlsqc.curve_fit("gaussian(x) + gaussian(x) + linear(x)", x, y, p0=p0)
    np.testing.assert_allclose(popt, truth, rtol=1e-3, atol=1e-3)
    m = nlsqc.model("gaussian(x) + gaussian(x) + linear(x)")
    assert m.param_names[3:6] == ("gaussian2_amplitude", "gaussian2_center", "gaussian2_sigma")
    assert [c["prefix"] for c in m.components] == ["gaussian1_", "gaussian2_", "linear1_"]

    def peaks(x, a1, c1, s1, a2, c2, s2, slope, b):
        return models.gaussian(x, a1, c1, s1) + models.gaussian(x, a2, c2, s2) + models.linear(x, slope, b)

    popt2, _ = nlsqc.curve_fit(peaks, x, y, p0=p0)
    np.testing.assert_allclose(popt2, popt, rtol=1e-9)


def test_explicit_components_and_bad_calls():
    m = nlsqc.model("gaussian(x, A, mu, s) + gaussian(x, 2*A, mu + d, s)")
    assert m.components[1] == {"shape": "gaussian", "prefix": "", "params": [None, None, "s"]}
    with pytest.raises(Exception, match=r"gaussian takes 1 argument \(x\)"):
        nlsqc.model("gaussian(x, 1)")
    assert math.isclose(models.constant(np.zeros(3), 2.0)[2], 2.0)
