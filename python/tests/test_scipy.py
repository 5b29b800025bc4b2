"""nlsqc.curve_fit against scipy.optimize.curve_fit on the same problems."""
import warnings

import numpy as np
import pytest

import nlsqc

scipy_optimize = pytest.importorskip("scipy.optimize", reason="SciPy is the reference here (apt-get install "
                                     "python3-scipy)")
TIGHT = dict(ftol=1e-14, xtol=1e-14, gtol=1e-14)


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def gauss2d(x, amp, x0, y0, w, bg):
    return amp * np.exp(-((x[0] - x0) ** 2 + (x[1] - y0) ** 2) / (2 * w ** 2)) + bg


def data(m=60, seed=1):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 4, m)
    sigma = 0.02 + 0.03 * rng.random(m)
    y = decay(x, 2.5, 1.3, 0.5) + sigma * rng.standard_normal(m)
    return x, y, sigma


def close(ours, ref, popt_rtol=1e-6, pcov_rtol=1e-4):
    p, c = ours
    rp, rc = ref
    assert np.all(np.abs(p - rp) <= popt_rtol * np.maximum(np.abs(rp), np.sqrt(np.diag(rc)))), (p, rp)
    assert np.all(np.abs(c - rc) <= pcov_rtol * np.max(np.abs(rc))), (c, rc)


@pytest.mark.parametrize("method", ["lm", "trf", "dogbox"])
@pytest.mark.parametrize("weighting", ["none", "sigma1d", "sigma1d_abs", "sigma2d", "sigma2d_abs"])
def test_methods_and_sigma(method, weighting):
    x, y, s = data()
    kw = {}
    if weighting.startswith("sigma1d"):
        kw["sigma"] = s
    elif weighting.startswith("sigma2d"):
        C = np.diag(s ** 2) + 0.3 * np.outer(s, s) * np.exp(-np.abs(np.subtract.outer(x, x)))
        kw["sigma"] = C
    kw["absolute_sigma"] = weighting.endswith("_abs")
    ours = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], method=method, **kw)
    ref = scipy_optimize.curve_fit(decay, x, y, p0=[2, 1, 0], method=method, **kw, **TIGHT)
    close(ours, ref)


@pytest.mark.parametrize("method", ["trf", "dogbox"])
def test_bounds(method):
    x, y, s = data()
    bounds = ([0, 1.4, -np.inf], [10, 5, np.inf])  # b's bound is active
    ours = nlsqc.curve_fit(decay, x, y, p0=[2, 2, 0], bounds=bounds, method=method, sigma=s)
    ref = scipy_optimize.curve_fit(decay, x, y, p0=[2, 2, 0], bounds=bounds, method=method, sigma=s, **TIGHT)
    assert ours.popt[1] == pytest.approx(1.4, abs=1e-12)
    close(ours, ref)
    # scalar bounds and no p0: SciPy's feasible start
    ours = nlsqc.curve_fit(decay, x, y, bounds=(0, 10))
    ref = scipy_optimize.curve_fit(decay, x, y, bounds=(0, 10), **TIGHT)
    close(ours, ref)


def test_two_variables_and_default_p0():
    g = np.meshgrid(np.arange(7.0), np.arange(7.0))
    xy = np.vstack([g[0].ravel(), g[1].ravel()])
    rng = np.random.default_rng(3)
    y = gauss2d(xy, 10, 3.2, 2.7, 1.4, 1.0) + 0.1 * rng.standard_normal(xy.shape[1])
    p0 = [8, 3, 3, 1, 0]
    close(nlsqc.curve_fit(gauss2d, xy, y, p0=p0), scipy_optimize.curve_fit(gauss2d, xy, y, p0=p0, **TIGHT))
    # p0 = None: ones, n from the signature
    x, yy, _ = data()
    close(nlsqc.curve_fit(decay, x, yy), scipy_optimize.curve_fit(decay, x, yy, **TIGHT))


def test_model_text_and_model_object():
    x, y, s = data()
    ref = scipy_optimize.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, **TIGHT)
    close(nlsqc.curve_fit("a*exp(-b*x) + c", x, y, p0=[2, 1, 0], sigma=s), ref)
    m = nlsqc.model(decay)
    close(nlsqc.curve_fit(m, x, y, p0=[2, 1, 0], sigma=s), ref)


def test_nan_policy():
    x, y, s = data()
    y2 = y.copy()
    y2[[3, 17, 40]] = np.nan
    keep = np.isfinite(y2)
    ref = scipy_optimize.curve_fit(decay, x[keep], y[keep], p0=[2, 1, 0], sigma=s[keep], **TIGHT)
    ours = nlsqc.curve_fit(decay, x, y2, p0=[2, 1, 0], sigma=s, nan_policy="omit")
    close(ours, ref)
    assert ours.m == keep.sum()
    with pytest.raises(ValueError):
        nlsqc.curve_fit(decay, x, y2, p0=[2, 1, 0], nan_policy="raise")
    with pytest.raises(ValueError):
        nlsqc.curve_fit(decay, x, y2, p0=[2, 1, 0])  # check_finite (SciPy's default)
    with pytest.raises(ValueError):
        nlsqc.curve_fit(decay, x, y2, p0=[2, 1, 0], nan_policy="propagate")


def test_full_output():
    x, y, s = data()
    popt, pcov, info, mesg, ier = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, full_output=True)
    rp, rc, rinfo, rmesg, rier = scipy_optimize.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, full_output=True,
                                                          method="trf", **TIGHT)
    close((popt, pcov), (rp, rc))
    assert ier in (1, 2, 3, 4) and rier in (1, 2, 3, 4)
    assert isinstance(mesg, str) and mesg
    assert info["nfev"] >= 1
    # fvec: the weighted residuals at popt, as SciPy's
    np.testing.assert_allclose(info["fvec"], (decay(x, *popt) - y) / s, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(info["fvec"], rinfo["fvec"], atol=1e-6)


def test_result_object():
    x, y, s = data()
    r = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, absolute_sigma=True)
    popt, pcov = r
    assert popt is r.popt and pcov is r.pcov and len(r) == 2 and r[0] is popt
    np.testing.assert_allclose(r.perr, np.sqrt(np.diag(pcov)))
    resid = (decay(x, *popt) - y) / s
    assert r.chi2 == pytest.approx(np.sum(resid ** 2), rel=1e-12)
    assert r.redchi == pytest.approx(r.chi2 / (x.size - 3), rel=1e-12)
    assert r.dof == x.size - 3 and r.m == x.size
    w = 1 / s ** 2
    ybar = np.sum(w * y) / np.sum(w)
    assert r.r2 == pytest.approx(1 - r.chi2 / np.sum(w * (y - ybar) ** 2), rel=1e-12)
    assert r.aic == pytest.approx(x.size * np.log(r.chi2 / x.size) + 6, rel=1e-12)
    assert r.bic == pytest.approx(x.size * np.log(r.chi2 / x.size) + 3 * np.log(x.size), rel=1e-12)
    assert r.success and r.status > 0 and r.nfev > 0 and r.message
    assert r.params == {"a": popt[0], "b": popt[1], "c": popt[2]}
    assert "FitResult" in repr(r)


def test_bad_input_like_scipy():
    x, y, s = data()
    for fn in (nlsqc.curve_fit, scipy_optimize.curve_fit):
        with pytest.raises(ValueError):
            fn(decay, x, [], p0=[2, 1, 0])  # empty ydata
        with pytest.raises(ValueError):
            fn(decay, x, y, p0=[2, 1, 0], sigma=s[:-1])  # sigma shape
        with pytest.raises(ValueError):
            fn(decay, x, y, p0=[2, 1, 0], bounds=([0, 0, 0], [1, 1, 1]), method="lm")
        with pytest.raises(ValueError):
            fn(decay, x, y, p0=[2, 1, 0], bounds=([0, 0, 0], [1, 1, 1]))  # p0 infeasible
        with pytest.raises(ValueError):
            fn(decay, x, y, p0=[2, 1, 0], bounds=([1, 1, 1], [0, 0, 0]))  # lb >= ub
        with pytest.raises(RuntimeError, match="Optimal parameters not found"):
            fn(decay, x, y, p0=[2, 1, 0], max_nfev=2, method="trf")
        with pytest.raises(ValueError):
            fn(lambda x, *p: x, x, y)  # parameters cannot be counted
        yy = y.copy()
        yy[0] = np.inf
        with pytest.raises(ValueError):
            fn(decay, x, yy, p0=[2, 1, 0])
    with pytest.raises(TypeError, match="unexpected keyword"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], nonsense=1)
    with pytest.raises(ValueError, match="p0 has 2 values"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1])
    with pytest.raises(ValueError, match="model text"):
        nlsqc.curve_fit("a*exp(-b*x", x, y)
    with pytest.raises(ValueError, match="loss"):
        nlsqc.curve_fit(decay, x, y, loss="l3")
    with pytest.raises(ValueError, match="did you mean xdata.T"):
        nlsqc.curve_fit(decay, np.linspace(0, 4, 100)[:, None], np.ones(100))


def test_covariance_warning_like_scipy():
    x = np.array([0.0, 1.0, 2.0])
    y = decay(x, 2, 1, 0.5)
    for fn, warning in ((nlsqc.curve_fit, nlsqc.OptimizeWarning),
                        (scipy_optimize.curve_fit, scipy_optimize.OptimizeWarning)):
        with pytest.warns(warning, match="Covariance of the parameters could not be estimated"):
            popt, pcov = fn(decay, x, y, p0=[1.5, 0.8, 0.3])  # m == n: no dof
        assert np.all(np.isinf(pcov))
        np.testing.assert_allclose(popt, [2, 1, 0.5], rtol=1e-7)


@pytest.mark.parametrize("loss", ["soft_l1", "huber", "cauchy", "arctan"])
def test_robust_losses(loss):
    x, y, s = data()
    y = y.copy()
    y[::9] += 0.5  # outliers
    ours = nlsqc.least_squares_model(decay, [2, 1, 0], x, y, loss=loss, f_scale=0.1)
    ref = scipy_optimize.least_squares(lambda p: decay(x, *p) - y, [2, 1, 0], loss=loss, f_scale=0.1,
                                       method="trf", **TIGHT)
    np.testing.assert_allclose(ours.x, ref.x, rtol=1e-6)
    assert ours.cost == pytest.approx(ref.cost, rel=1e-9)
    np.testing.assert_allclose(ours.fun, ref.fun, atol=1e-7)
    np.testing.assert_allclose(ours.jac, ref.jac, rtol=1e-5, atol=1e-6)  # SciPy's: finite differences
    np.testing.assert_allclose(ours.grad, ref.grad, atol=1e-6)
    assert ours.success and ours.status > 0
    # curve_fit passes the loss through as SciPy's does
    close(nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], loss=loss, f_scale=0.1),
          scipy_optimize.curve_fit(decay, x, y, p0=[2, 1, 0], loss=loss, f_scale=0.1, method="trf", **TIGHT))


def test_least_squares_bounds_and_active_mask():
    x, y, s = data()
    r = nlsqc.least_squares_model(decay, [2, 2, 0], x, y, bounds=([0, 1.4, -1], [10, 5, 1]))
    ref = scipy_optimize.least_squares(lambda p: decay(x, *p) - y, [2, 2, 0], bounds=([0, 1.4, -1], [10, 5, 1]),
                                       **TIGHT)
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-6)
    assert list(r.active_mask) == list(ref.active_mask) == [0, -1, 0]
    assert r.fit.chi2 == pytest.approx(2 * r.cost, rel=1e-12)


def test_fixed_parameters_and_callback():
    x, y, s = data()
    r = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0.5], fixed=["c"])
    ref = scipy_optimize.curve_fit(lambda x, a, b: decay(x, a, b, 0.5), x, y, p0=[2, 1], **TIGHT)
    np.testing.assert_allclose(r.popt[:2], ref[0], rtol=1e-6)
    assert r.popt[2] == 0.5 and r.perr[2] == 0
    seen = []
    nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], callback=lambda it, cost, p, g, st: seen.append((it, cost, p)))
    assert seen and seen[0][0] == 1 and all(np.isfinite(c) for _, c, _ in seen)
    assert all(seen[i + 1][1] <= seen[i][1] for i in range(len(seen) - 1))
    with pytest.raises(RuntimeError, match="Optimal parameters not found"):  # a callback that stops the fit
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], callback=lambda *a: True)


def test_warning_free_on_good_fit():
    x, y, s = data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0])


def test_a_model_closing_over_a_per_point_array():
    x, y, s = data()
    bkg = 0.2 * np.cos(x)

    def model(x, a, b, c):  # a measured background, as SciPy users write it
        return a * np.exp(-b * x) + c * bkg

    close(nlsqc.curve_fit(model, x, y + bkg, p0=[2, 1, 0.5], sigma=s),
          scipy_optimize.curve_fit(model, x, y + bkg, p0=[2, 1, 0.5], sigma=s, **TIGHT))
