"""Intervals at a level, confidence and prediction bands, and derived
quantities from Python (issue 20): FitResult.interval / conf_int / band /
derive / quantities against SciPy's t quantiles, the straight line's
textbook formulas, a NumPy delta method with finite differences, and
clear errors for bad input."""
import numpy as np
import pytest
from scipy import stats

import nlsqc


def line_data(n=25, seed=3):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 12, n)
    return x, 1.7 + 0.45 * x + rng.normal(0, 0.5, n)


# t quantiles by SciPy 1.17 (Boost's, to about 1e-15); SciPy before 1.11
# (cephes' stdtrit) is off by up to 2e-9 at some of them, e.g. 0.75 with
# 23 degrees of freedom: 0.68530627921 where the value is 0.68530627806
T_23 = {0.5: 0.6853062780612957, 0.9: 1.713871527747048, 0.95: 2.0686576104190486, 0.99: 2.807335683769999}


def test_intervals_are_popt_plus_minus_t_times_perr():
    x, y = line_data()
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1])
    assert r.dof == 23
    for level, q in T_23.items():
        assert r.critical(level) == pytest.approx(q, rel=1e-14)
        assert r.critical(level) == pytest.approx(stats.t.ppf(0.5 + level / 2, r.dof), rel=1e-8)
        lo, hi = r.interval(level)
        np.testing.assert_allclose(lo, r.popt - q * r.perr, rtol=1e-13)
        np.testing.assert_allclose(hi, r.popt + q * r.perr, rtol=1e-13)
    assert r.conf_int(0.9).shape == (2, 2)


def test_absolute_sigma_takes_the_normal_quantile():
    x, y = line_data()
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1], sigma=np.full(x.size, 0.5), absolute_sigma=True)
    assert r.absolute_sigma
    assert r.critical(0.95) == pytest.approx(stats.norm.ppf(0.975), rel=1e-13)


def test_line_bands_equal_the_textbook_formulas():
    x, y = line_data()
    n = x.size
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1])
    b, a = np.polyfit(x, y, 1)
    s2 = np.sum((y - a - b * x) ** 2) / (n - 2)
    sxx = np.sum((x - x.mean()) ** 2)
    t = stats.t.ppf(0.975, n - 2)
    x0 = np.array([-5.0, 0.0, x.mean(), 7.77, 30.0])
    f, lo, hi = r.band(x0)
    conf = t * np.sqrt(s2 * (1 / n + (x0 - x.mean()) ** 2 / sxx))
    np.testing.assert_allclose(f, a + b * x0, rtol=1e-12)
    np.testing.assert_allclose((hi - lo) / 2, conf, rtol=1e-12)
    f, lo, hi = r.band(x0, kind="prediction")
    pred = t * np.sqrt(s2 * (1 + 1 / n + (x0 - x.mean()) ** 2 / sxx))
    np.testing.assert_allclose((hi - lo) / 2, pred, rtol=1e-12)
    # both at once: the same numbers
    both = r.bands(x0)
    np.testing.assert_array_equal(both.pred_lower, lo)
    np.testing.assert_array_equal(both.conf_upper, r.band(x0)[2])
    # a measurement's sigma at x: sigma^2 redchi (scalar broadcast)
    f, lo, hi = r.band(x0, kind="prediction", sigma=3.0)
    pred = t * np.sqrt(s2 * (9 + 1 / n + (x0 - x.mean()) ** 2 / sxx))
    np.testing.assert_allclose((hi - lo) / 2, pred, rtol=1e-12)


def decay(x, A, k, c):
    return A * nlsqc.np.exp(-k * x) + c


def test_nonlinear_band_matches_a_numpy_delta_method():
    rng = np.random.default_rng(8)
    x = np.linspace(0, 5, 60)
    y = 4 * np.exp(-0.9 * x) + 0.3 + rng.normal(0, 0.03, x.size)
    r = nlsqc.curve_fit(decay, x, y, p0=[3, 1, 0])
    x0 = np.linspace(-0.5, 6, 23)
    f0 = lambda p: p[0] * np.exp(-p[1] * x0) + p[2]
    G = np.empty((x0.size, 3))
    for j in range(3):
        h = 1e-6 * max(abs(r.popt[j]), 1)
        dp = np.zeros(3)
        dp[j] = h
        G[:, j] = (f0(r.popt + dp) - f0(r.popt - dp)) / (2 * h)
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, r.pcov, G))
    q = stats.t.ppf(0.975, r.dof)
    f, lo, hi = r.band(x0)
    np.testing.assert_allclose(f, f0(r.popt), rtol=1e-13)
    np.testing.assert_allclose((hi - lo) / 2, q * se, rtol=1e-7)
    f, lo, hi = r.band(x0, kind="prediction", level=0.8)
    np.testing.assert_allclose((hi - lo) / 2, stats.t.ppf(0.9, r.dof) * np.sqrt(se ** 2 + r.redchi), rtol=1e-7)


def two_peaks():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 10, 400)
    y = (3 * np.exp(-0.5 * ((x - 4) / 0.6) ** 2) + 1.5 * np.exp(-0.5 * ((x - 6.5) / 0.5) ** 2) + 0.2
         + rng.normal(0, 0.04, x.size))
    return x, y


def test_component_band_and_library_quantities():
    x, y = two_peaks()
    r = nlsqc.curve_fit("gaussian(x) + gaussian(x) + constant(x)", x, y, p0=[4, 4, 0.5, 2, 6.5, 0.5, 0])
    q = r.quantities()
    assert q["gaussian1_fwhm"] == "2*sqrt(2*log(2))*gaussian1_sigma"
    assert {"gaussian2_height", "gaussian2_area"} <= set(q)
    # component 2's band: its own Jacobian columns (amplitude, center, sigma of the second peak)
    x0 = np.array([5.0, 6.5, 8.0])
    f, lo, hi = r.band(x0, component="gaussian2")
    A, mu, s = r.popt[3:6]
    g = np.exp(-0.5 * ((x0 - mu) / s) ** 2) / (s * np.sqrt(2 * np.pi))
    G = np.column_stack([g, A * g * (x0 - mu) / s ** 2, A * g * ((x0 - mu) ** 2 / s ** 3 - 1 / s)])
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, r.pcov[3:6, 3:6], G))
    np.testing.assert_allclose(f, A * g, rtol=1e-13)
    np.testing.assert_allclose((hi - lo) / 2, stats.t.ppf(0.975, r.dof) * se, rtol=1e-10)
    np.testing.assert_array_equal(r.band(x0, component=1)[1], lo)
    # derived quantities by library name against a NumPy delta method
    d = r.derive("gaussian1_fwhm", "ratio = gaussian1_height/gaussian2_height")
    k = 2 * np.sqrt(2 * np.log(2))
    assert d["gaussian1_fwhm"][0] == pytest.approx(k * r.popt[2], rel=1e-15)
    assert d["gaussian1_fwhm"][1] == pytest.approx(k * r.perr[2], rel=1e-14)
    R = (r.popt[0] / r.popt[2]) / (r.popt[3] / r.popt[5])
    grad = np.array([R / r.popt[0], 0, -R / r.popt[2], -R / r.popt[3], 0, R / r.popt[5], 0])
    assert d["ratio"][0] == pytest.approx(R, rel=1e-14)
    assert d["ratio"][1] == pytest.approx(np.sqrt(grad @ r.pcov @ grad), rel=1e-12)
    np.testing.assert_allclose(d.grad[1], grad, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(d.cov[0, 1], k * np.array([0, 0, 1, 0, 0, 0, 0]) @ r.pcov @ grad, rtol=1e-12)


def test_derived_expressions_from_a_traced_function():
    rng = np.random.default_rng(5)
    x = np.linspace(0, 4, 50)
    y = 4 * np.exp(-0.9 * x) + 0.3 + rng.normal(0, 0.02, x.size)
    r = nlsqc.curve_fit(decay, x, y, p0=[3, 1, 0])
    d = r.derive({"half_life": "log(2)/k"}, "A + c")
    assert d.names == ["half_life", "A + c"]
    A, k, c = r.popt
    assert d.values[0] == pytest.approx(np.log(2) / k, rel=1e-15)
    assert d.stderr[0] == pytest.approx(np.log(2) / k ** 2 * r.perr[1], rel=1e-13)
    var = r.pcov[0, 0] + 2 * r.pcov[0, 2] + r.pcov[2, 2]
    assert d.stderr[1] == pytest.approx(np.sqrt(var), rel=1e-13)
    lo, hi = d.interval(0.9)
    np.testing.assert_allclose(hi - d.values, r.critical(0.9) * d.stderr, rtol=1e-14)
    assert r.critical(0.9) == pytest.approx(stats.t.ppf(0.95, r.dof), rel=1e-8)
    assert d.corr[0, 1] == pytest.approx(-1, abs=1e-13)  # half-life falls as k rises, exactly


def test_bad_input_is_named():
    x, y = line_data()
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1])
    for level in (0, 1, 1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"outside \(0, 1\)"):
            r.interval(level)
        with pytest.raises(ValueError, match=r"outside \(0, 1\)"):
            r.band([1.0], level=level)
    with pytest.raises(TypeError, match="level must be a number"):
        r.interval("0.95")
    with pytest.raises(ValueError, match="kind must be 'confidence' or 'prediction'"):
        r.band([1.0], kind="both")
    with pytest.raises(ValueError, match=r"sigma\[1\] is -1"):
        r.band([1.0, 2.0], kind="prediction", sigma=[1, -1])
    with pytest.raises(ValueError, match="derived quantity 'w = 2\\*q': unknown name 'q'"):
        r.derive("w = 2*q")
    with pytest.raises(ValueError, match="'x' is a variable of the model"):
        r.derive("a*x")
    with pytest.raises(ValueError, match="component 'gaussian1' is not one of the model's"):
        r.band([1.0], component="gaussian1")
    with pytest.raises(ValueError, match="at least one expression"):
        r.derive()


def test_a_called_back_model_has_intervals_but_no_band():
    import warnings

    def untraceable(x, a, b):
        return np.asarray([a + b * float(v) for v in x])  # float() of a traced value: called back

    x, y = line_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nlsqc.FallbackWarning)
        r = nlsqc.curve_fit(untraceable, x, y, p0=[1, 1])
    assert r.model_path == "callback"
    lo, hi = r.interval(0.95)
    np.testing.assert_allclose(hi - r.popt, r.critical(0.95) * r.perr, rtol=1e-14)
    with pytest.raises(ValueError, match="needs the fitted model"):
        r.band(x)
    with pytest.raises(ValueError, match="needs the fitted model"):
        r.derive("a + b")


def test_band_of_a_one_variable_model_keeps_the_shape_of_x():
    # x of shape (3, 2): six points, the outputs (3, 2) and equal to the
    # flat evaluation (once a numpy reshape error after 2 of the 6 points)
    x, y = line_data()
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1])
    xs = np.arange(6.0).reshape(3, 2)
    f, lo, hi = r.band(xs, kind="prediction", sigma=np.full((3, 2), 0.5))
    ff, flo, fhi = r.band(xs.ravel(), kind="prediction", sigma=0.5)
    assert f.shape == lo.shape == hi.shape == (3, 2)
    np.testing.assert_array_equal(f.ravel(), ff)
    np.testing.assert_array_equal(hi.ravel(), fhi)
    np.testing.assert_allclose(f.ravel(), r.popt[0] + r.popt[1] * xs.ravel(), rtol=1e-14)


def test_an_unpickled_result_says_it_lost_the_model_not_that_it_was_called_back():
    import pickle

    x, y = line_data()
    r = pickle.loads(pickle.dumps(nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1])))
    with pytest.raises(ValueError, match="does not hold it") as e:
        r.band(x)
    assert "called back" not in str(e.value)
