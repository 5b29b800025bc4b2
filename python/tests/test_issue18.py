"""Issue 18 (curve_fit as a true drop-in): SciPy's defaults, every
argument form SciPy accepts, full_output in MINPACK's layout, SciPy's
errors. Comparisons with SciPy skip where SciPy is missing."""
import types
import warnings

import numpy as np
import pytest

import nlsqc


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def decay_data():
    rng = np.random.default_rng(408113519974467917)
    x = np.linspace(0, 4, 50)
    return x, decay(x, 2.5, 1.3, 0.5) + 0.2 * rng.normal(size=x.size)


def scipy_optimize():
    return pytest.importorskip("scipy.optimize", reason="SciPy is the reference here (apt-get install python3-scipy)")


def test_issue18_scipy_defaults_method_and_tolerances():
    x, y = decay_data()
    r = nlsqc.curve_fit(decay, x, y)
    assert r.method == "lm"  # SciPy: lm without bounds
    assert nlsqc.curve_fit(decay, x, y, bounds=(0, 10)).method == "trf"  # and trf with
    assert nlsqc.curve_fit(decay, x, y, loss="soft_l1").method == "trf"  # a robust loss: trf (lm has none)
    # the same stopping rule as explicit SciPy tolerances (lm: 1.49012e-8, gtol 0)
    same = nlsqc.curve_fit(decay, x, y, method="lm", ftol=1.49012e-8, xtol=1.49012e-8, gtol=0.0)
    np.testing.assert_array_equal(r.popt, same.popt)
    assert r.nfev == same.nfev
    # nlsq's own defaults one argument away: trf, tolerances 1e-15
    own = nlsqc.curve_fit(decay, x, y, defaults="nlsq")
    assert own.method == "trf"
    tight = nlsqc.curve_fit(decay, x, y, method="trf", ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=300)
    np.testing.assert_array_equal(own.popt, tight.popt)
    with pytest.raises(ValueError, match="defaults must be 'scipy' or 'nlsq'"):
        nlsqc.curve_fit(decay, x, y, defaults="strict")


def test_issue18_scipy_numbers_to_scipy_precision():
    so = scipy_optimize()
    x, y = decay_data()
    for kw in ({}, {"bounds": (0, 10)}, {"method": "dogbox"}):
        p, c = nlsqc.curve_fit(decay, x, y, **kw)
        rp, rc = so.curve_fit(decay, x, y, **kw)
        np.testing.assert_allclose(p, rp, rtol=1e-6)
        np.testing.assert_allclose(c, rc, rtol=1e-5)  # SciPy differences J: ~1e-6 off the exact covariance


def test_issue18_regression_2639_converges_with_the_default_method():
    x = 574.142 + 0.0114 * np.arange(10)
    y = [859.0, 997.0, 1699.0, 2604.0, 2013.0, 1964.0, 2435.0, 1550.0, 949.0, 841.0]
    guess = [574.1861428571428, 574.2155714285715, 1302.0, 1302.0, 0.0035, 859.0]

    def f(x, x0, x1, A0, A1, sigma, c):
        return A0 * np.exp(-(x - x0) ** 2 / (2 * sigma ** 2)) + A1 * np.exp(-(x - x1) ** 2 / (2 * sigma ** 2)) + c

    r = nlsqc.curve_fit(f, x, y, guess, maxfev=10000)
    assert r.success and r.method == "lm"


def test_issue18_xdata_none():
    p, _ = nlsqc.curve_fit(lambda _, a: a * np.arange(10), None, 2 * np.arange(10))
    np.testing.assert_allclose(p, [2.0])
    p, _ = nlsqc.curve_fit(lambda _, a: a * np.ones(3), None, [1.0, 2.0, 3.0], p0=[0])
    assert p[0] == pytest.approx(2.0)
    # a model that uses x cannot have xdata=None (SciPy's call fails on None)
    with pytest.raises(ValueError, match="xdata is None but the model uses its variable 'x'"):
        nlsqc.curve_fit(lambda x, a: a * x, None, [1.0, 2.0, 3.0])


def test_issue18_scalar_and_broadcast_ydata():
    x = np.arange(10.0)
    target = 4.7 * x ** 2 + 3.5 * x + np.linspace(0, 1, 10)

    def f(x, a, b):
        return a * x ** 2 + b * x - target

    for method in ("lm", "trf", "dogbox"):
        p0, c0 = nlsqc.curve_fit(f, x, np.zeros_like(x), method=method)
        p1, c1 = nlsqc.curve_fit(f, x, 0, method=method)
        np.testing.assert_array_equal(p0, p1)
        np.testing.assert_array_equal(c0, c1)
    with pytest.raises(ValueError, match="xdata has 10 points but ydata has 3"):
        nlsqc.curve_fit(f, x, [1.0, 2.0, 3.0])


def test_issue18_unused_parameter_infinite_covariance():
    x = np.array([0, 1, 2, 3, 4, 5.0])
    y = np.array([1, 1, 5, 7, 8, 12.0])
    with pytest.warns(nlsqc.OptimizeWarning, match="Covariance of the parameters could not be estimated"):
        p, c = nlsqc.curve_fit(lambda x, a, b: a * x, x, y, p0=[2, 0.5])
    assert p[0] == pytest.approx(np.dot(x, y) / np.dot(x, x), rel=1e-7)
    assert p[1] == 0.5  # untouched: it has nothing to fit
    assert np.all(np.isinf(c))
    # trf and dogbox, as SciPy's: the pseudo-inverse (b's variance 0), and
    # (SciPy says nothing) a warning that b is not determined
    for method in ("trf", "dogbox"):
        with pytest.warns(nlsqc.OptimizeWarning, match="rank 1 of 2"):
            r = nlsqc.curve_fit(lambda x, a, b: a * x, x, y, p0=[2, 0.5], method=method)
        assert r.popt[1] == 0.5 and r.pcov[1, 1] == 0 and np.isfinite(r.pcov).all() and r.pcov_rank == 1


def test_issue18_bounds_object_without_scipy():
    x, y = decay_data()
    bounds = types.SimpleNamespace(lb=[0, 0, -1], ub=[10, 1.2, 1])  # duck-typed like scipy.optimize.Bounds
    r = nlsqc.curve_fit(decay, x, y, bounds=bounds)
    assert r.method == "trf" and r.popt[1] == pytest.approx(1.2, abs=1e-10)
    np.testing.assert_array_equal(r.popt, nlsqc.curve_fit(decay, x, y, bounds=([0, 0, -1], [10, 1.2, 1])).popt)


def test_issue18_full_output_lm_fjac_ipvt_qtf_as_minpack():
    so = scipy_optimize()
    x, y = decay_data()
    sigma = 0.1 + 0.01 * np.arange(x.size)
    popt, pcov, info, mesg, ier = nlsqc.curve_fit(decay, x, y, sigma=sigma, full_output=True)
    assert ier in (1, 2, 3, 4) and isinstance(mesg, str)
    at = nlsqc.curve_fit(decay, x, y, sigma=sigma).jac_at  # where lm took J last, as MINPACK's fjac
    assert not np.array_equal(at, popt) and np.allclose(at, popt, rtol=1e-3)
    n, m = 3, x.size
    fjac, ipvt, qtf = info["fjac"], info["ipvt"], info["qtf"]
    assert fjac.shape == (n, m) and sorted(ipvt) == [1, 2, 3] and qtf.shape == (n,)
    # leastsq's recipe for the covariance from fjac and ipvt gives pcov
    perm = ipvt - 1
    invR = np.linalg.inv(np.triu(fjac.T[:n, :]))
    invR[perm] = invR.copy()
    fvec = info["fvec"]
    np.testing.assert_allclose(invR @ invR.T * (fvec @ fvec) / (m - n), pcov, rtol=1e-9)
    # MINPACK's own factors of the same exact Jacobian at the same point (its
    # qtf: Q^T of the residuals there)

    def resid(p):
        return (decay(x, *p) - y) / sigma

    def jac(p):
        ee = np.exp(-p[1] * x)
        return np.vstack([ee, -p[0] * x * ee, np.ones_like(x)]).T / sigma[:, None]

    ref = so.leastsq(resid, at, Dfun=jac, full_output=True, maxfev=1)[2]  # one evaluation: at `at`
    np.testing.assert_array_equal(ipvt, ref["ipvt"])
    np.testing.assert_allclose(np.abs(np.triu(fjac.T[:n])), np.abs(np.triu(ref["fjac"].T[:n])), rtol=1e-10)
    np.testing.assert_allclose(np.abs(qtf), np.abs(ref["qtf"]), rtol=1e-8, atol=1e-12)


def test_issue18_pivoted_qr_of_a_zero_column():
    from nlsqc._fit import pivoted_qr
    J = np.column_stack([np.arange(1.0, 6.0), np.zeros(5), np.ones(5)])
    r = np.linspace(-1, 1, 5)
    fjac, ipvt, qtf = pivoted_qr(J, r)
    assert ipvt[-1] == 2  # the zero column last
    R = np.triu(fjac.T[:3])
    np.testing.assert_allclose(R.T @ R, (J.T @ J)[np.ix_(ipvt - 1, ipvt - 1)], atol=1e-12)
    Q = np.linalg.qr(J[:, ipvt - 1][:, :2])[0]
    np.testing.assert_allclose(np.abs(qtf[:2]), np.abs(Q.T @ r), atol=1e-12)


def test_issue18_scipy_errors():
    x, y = decay_data()
    with pytest.raises(ValueError, match="'args' is not a supported keyword argument."):
        nlsqc.curve_fit(decay, x, y, args=(1,))
    with pytest.raises(RuntimeError, match="Optimal parameters not found: "):
        nlsqc.curve_fit(decay, x, y, maxfev=2)
    with pytest.raises(TypeError, match="The number of func parameters=3 must not exceed the number of data "
                                        "points=2"):
        nlsqc.curve_fit(decay, x[:2], y[:2])
    with pytest.raises(ValueError, match="Method 'lm' only works for unconstrained problems"):
        nlsqc.curve_fit(decay, x, y, bounds=(0, 10), method="lm")
    with pytest.raises(ValueError, match="Unable to determine number of fit parameters."):
        nlsqc.curve_fit(lambda x: x, x, y)
    with pytest.raises(ValueError, match="`method` must be 'trf', 'dogbox' or 'lm'"):
        nlsqc.curve_fit(decay, x, y, method="unknown")


def test_issue18_scalar_ydata_broadcast_to_a_model_of_constant_arrays():
    """SciPy fits f(x, *p) - ydata with ydata a scalar and f returning k
    values (xdata=None): the traced model has one value per point, so
    nlsqc calls f back and broadcasts ydata to its k values, as SciPy."""
    with pytest.warns(nlsqc.FallbackWarning, match="array of 3 values"):
        r = nlsqc.curve_fit(lambda x, a: a * np.ones(3), None, 2.0)
    assert r.model_path == "callback" and r.m == 3
    assert r.popt[0] == pytest.approx(2.0, abs=1e-12) and r.pcov[0, 0] == pytest.approx(0.0, abs=1e-20)
