"""The fallback for models that cannot be traced: nlsqc.curve_fit calls
the function back (nlsq_fit_callback) and agrees with SciPy's curve_fit on
the same data; one FallbackWarning per call; result.model_path says which
path ran."""
import warnings

import numpy as np
import pytest

import nlsqc

scipy_optimize = pytest.importorskip("scipy.optimize", reason="SciPy is the reference for the fallback's results")

ROT = np.array([[1 / np.sqrt(2), -1 / np.sqrt(2), 0], [1 / np.sqrt(2), 1 / np.sqrt(2), 0], [0, 0, 1.0]])


def dot_model(x, a, b, c):
    return np.dot(np.column_stack([np.exp(-b * x), np.ones_like(x)]), np.array([a, c]))


def fit_both(f, x, y, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = nlsqc.curve_fit(f, x, y, **kw)
    fallback = [w for w in caught if issubclass(w.category, nlsqc.FallbackWarning)]
    assert len(fallback) == 1, [str(w.message) for w in caught]
    assert r.model_path == "callback" and r.model_reason
    popt, pcov = scipy_optimize.curve_fit(f, x, y, **kw)
    return r, popt, pcov


def check(r, popt, pcov, rtol, cov_rtol=1e-4):
    """popt to rtol; pcov as standard errors and correlations to cov_rtol:
    SciPy's lm takes pcov from the Jacobian of the iterate before the last
    step (MINPACK's fjac), nlsq from the one at popt, so they differ by
    about the last step (1e-5 relative on a 3-point fit)."""
    np.testing.assert_allclose(r.popt, popt, rtol=rtol)
    perr = np.sqrt(np.diag(pcov))
    np.testing.assert_allclose(r.perr, perr, rtol=cov_rtol)
    np.testing.assert_allclose(r.pcov / np.outer(r.perr, r.perr), pcov / np.outer(perr, perr), atol=cov_rtol)


def test_rotation_matrix_model_of_scipys_test_curvefit_covariance():
    def funcp(x, a, b):
        return ROT.dot(a * np.exp(-b * x))

    def jacp(x, a, b):
        e = np.exp(-b * x)
        return ROT.dot(np.vstack((e, -a * x * e)).T)

    np.random.seed(0)
    xdata = np.arange(1, 4)
    ydata = 2.5 * np.exp(-xdata) + 0.2 * np.random.normal(size=3)
    covarp = ROT.dot(np.diag(np.full(3, 0.04))).dot(ROT.T)
    for jac in (jacp, None):
        for absolute_sigma in (False, True):
            r, popt, pcov = fit_both(funcp, xdata, ROT.dot(ydata), sigma=covarp, jac=jac,
                                     absolute_sigma=absolute_sigma)
            check(r, popt, pcov, 1.2e-7)
    # SciPy's own check on nlsqc alone: the rotated fit (called back) equals
    # the plain one (traced), at tolerances both reach
    tight = dict(method="trf", ftol=1e-12, xtol=1e-12, gtol=1e-12)
    for absolute_sigma in (False, True):
        popt1, pcov1 = nlsqc.curve_fit(lambda x, a, b: a * np.exp(-b * x), xdata, ydata, sigma=np.full(3, 0.2),
                                       absolute_sigma=absolute_sigma, **tight)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nlsqc.FallbackWarning)
            popt2, pcov2 = nlsqc.curve_fit(funcp, xdata, ROT.dot(ydata), sigma=covarp, jac=jacp,
                                           absolute_sigma=absolute_sigma, **tight)
        np.testing.assert_allclose(popt1, popt2, rtol=1.2e-7, atol=1e-14)
        np.testing.assert_allclose(pcov1, pcov2, rtol=1.2e-7, atol=1e-14)


@pytest.mark.parametrize("method", ["lm", "trf", "dogbox"])
def test_np_dot_model_each_method(method):
    x = np.linspace(0, 4, 1000)
    y = dot_model(x, 2.0, 1.3, 0.5) + 0.01 * np.sin(37 * x)
    r, popt, pcov = fit_both(dot_model, x, y, p0=[1, 1, 0], method=method)
    check(r, popt, pcov, 1e-6)


def test_np_convolve_model():
    kernel = np.array([0.25, 0.5, 0.25])

    def f(x, a, b):
        return np.convolve(a * np.exp(-b * x), kernel, mode="same")

    x = np.linspace(0, 3, 200)
    y = f(x, 1.5, 0.8) + 0.005 * np.cos(11 * x)
    r, popt, pcov = fit_both(f, x, y, p0=[1, 1])
    check(r, popt, pcov, 1e-6)


def test_np_interp_model():
    grid = np.linspace(-5, 5, 41)
    shape = np.exp(-grid ** 2)

    def f(x, a, x0):
        return a * np.interp(x - x0, grid, shape)

    x = np.linspace(-3, 3, 300)
    y = f(x, 2.0, 0.37) + 0.01 * np.sin(5 * x)
    r, popt, pcov = fit_both(f, x, y, p0=[1, 0.2])
    check(r, popt, pcov, 1e-6)


def test_lm_counts_calls_as_minpack_and_takes_the_covariance_jacobian_centrally():
    """lm with differences: nfev is SciPy's (MINPACK's count); the calls
    beyond it are the trace attempt and the backward differences (n calls)
    that make lm's last forward ones central for the covariance's
    Jacobian, where lm took it last as MINPACK's fjac; the covariance
    agrees with SciPy's."""
    grid = np.linspace(-6, 6, 61)
    shape = np.exp(-grid ** 2)
    calls = [0]

    def f(x, a, x0, c):
        calls[0] += 1
        return a * np.interp(x - x0, grid, shape) + c

    x = np.linspace(-3, 4, 1000)
    y = f(x, 2.0, 0.37, 0.1) + 0.01 * np.sin(37 * x)
    calls[0] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nlsqc.FallbackWarning)
        r = nlsqc.curve_fit(f, x, y, p0=[1, 0.2, 0])
    ours = calls[0] - r.nfev - 1  # the trace attempt
    popt, pcov, info, _, _ = scipy_optimize.curve_fit(f, x, y, p0=[1, 0.2, 0], full_output=True)
    assert r.nfev == info["nfev"], (r.nfev, info["nfev"])
    assert ours == 3, ours
    check(r, popt, pcov, 1e-6)


def test_wofz_voigt_model():
    special = pytest.importorskip("scipy.special")

    def voigt(x, a, x0, s, g):
        z = ((x - x0) + 1j * g) / (s * np.sqrt(2))
        return a * special.wofz(z).real

    x = np.linspace(-5, 5, 400)
    y = voigt(x, 3.0, 0.2, 0.8, 0.4) + 0.01 * np.cos(9 * x)
    r, popt, pcov = fit_both(voigt, x, y, p0=[2, 0, 1, 0.5])
    check(r, popt, pcov, 1e-6)


def test_solve_ivp_model():
    integrate = pytest.importorskip("scipy.integrate")

    def f(t, k, y0):
        sol = integrate.solve_ivp(lambda _, y: -k * y, (0, t[-1]), [y0], t_eval=t, rtol=1e-10, atol=1e-12)
        return sol.y[0]

    t = np.linspace(0, 4, 60)
    y = 2.0 * np.exp(-0.9 * t) + 0.01 * np.sin(7 * t)
    r, popt, pcov = fit_both(f, t, y, p0=[1, 1])
    check(r, popt, pcov, 1e-5)


def test_traced_model_reports_traced_and_no_warning():
    x = np.linspace(0, 4, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nlsqc.FallbackWarning)
        r = nlsqc.curve_fit(lambda x, a, b: a * np.exp(-b * x), x, 2 * np.exp(-x), p0=[1, 1])
    assert r.model_path == "traced" and r.model_reason is None


def test_a_refused_function_is_not_traced_again():
    """A second fit of the same untraceable function goes straight to the
    callback path: the same reason and result, and no call of f spent on
    tracing (the first fit's extra call)."""
    x = np.linspace(0, 4, 60)
    y = dot_model(x, 2, 1, 0.5)
    calls = [0]

    def counted(x, a, b, c):
        calls[0] += 1
        return dot_model(x, a, b, c)

    runs = []
    for _ in range(2):
        calls[0] = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nlsqc.FallbackWarning)
            r = nlsqc.curve_fit(counted, x, y, p0=[1, 1.2, 0])
        runs.append((calls[0], r))
    (first, r1), (second, r2) = runs
    assert r1.model_path == r2.model_path == "callback" and r1.model_reason == r2.model_reason
    assert second == first - 1, (first, second)
    np.testing.assert_array_equal(r1.popt, r2.popt)
    np.testing.assert_array_equal(r1.pcov, r2.pcov)


def test_fallback_warning_is_silenceable_and_a_userwarning():
    assert issubclass(nlsqc.FallbackWarning, UserWarning)
    x = np.linspace(0, 4, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", nlsqc.FallbackWarning)
        r = nlsqc.curve_fit(dot_model, x, dot_model(x, 2, 1, 0.5), p0=[1, 1.2, 0])
    np.testing.assert_allclose(r.popt, [2, 1, 0.5], rtol=1e-6)


def test_callback_exception_propagates():
    def bad(x, a):
        if a > 1.5:
            raise ArithmeticError("boom")
        return np.dot(np.ones((x.size, 1)), [a])

    x = np.arange(5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nlsqc.FallbackWarning)
        with pytest.raises(ArithmeticError, match="boom"):
            nlsqc.curve_fit(bad, x, np.full(5, 3.0), p0=[1.0])


def test_large_entry_points_say_the_callback_path_is_not_offered():
    x = np.linspace(0, 4, 100)
    with pytest.raises(nlsqc.TraceError, match="would call Python once per chunk"):
        nlsqc.curve_fit_large(dot_model, x, dot_model(x, 2, 1, 0.5), p0=[1, 1, 0])


def test_batch_and_file_entry_points_say_the_callback_path_is_not_offered(tmp_path):
    x = np.linspace(0, 4, 20)
    with pytest.raises(nlsqc.TraceError, match="would call Python once per chunk, fit or data set"):
        nlsqc.fit_batch(dot_model, x, np.tile(dot_model(x, 2, 1, 0.5), (2, 1)), p0=[1, 1, 0])
    path = tmp_path / "d.csv"
    np.savetxt(path, np.column_stack([x, dot_model(x, 2, 1, 0.5)]), delimiter=",")
    with pytest.raises(nlsqc.TraceError, match="would call Python once per chunk, fit or data set"):
        nlsqc.fit_file(dot_model, str(path), p0=[1, 1, 0])


def test_full_output_and_nan_policy_omit():
    x = np.linspace(0, 4, 100)
    y = dot_model(x, 2, 1, 0.5) + 0.01 * np.sin(9 * x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nlsqc.FallbackWarning)
        popt, pcov, info, mesg, ier = nlsqc.curve_fit(dot_model, x, y, p0=[1, 1.2, 0], full_output=True)
        np.testing.assert_allclose(info["fvec"], dot_model(x, *popt) - y, atol=1e-12)
        assert ier > 0 and mesg
        with pytest.raises(ValueError, match="nan_policy='omit' is not offered for a model that is called back"):
            nlsqc.curve_fit(dot_model, x, y, p0=[1, 1.2, 0], nan_policy="omit")
