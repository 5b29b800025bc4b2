"""nlsqc.fit_global (issue 23): the Arrhenius reference problem's truth
recovered within the errors; the same numbers whichever way the data sets
are given; model text, Model and traced functions; covariates; and clear
errors for bad input."""
import numpy as np
import pytest

import nlsqc
from nlsqc import _lib

pytestmark = pytest.mark.skipif(not hasattr(_lib.lib, "nlsq_fit_shared"),
                                reason="the nlsq library has no nlsq_fit_shared yet (issue 23's core)")

TEXT = "a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c + d*x"
P0 = dict(a=2, c=0, d=0, k0=1, Ea=2000)


def arrhenius(D=12, m=50, seed=23, noise=0.01):
    """The issue's reference problem: D curves at T = 280 .. 340 K sharing
    k0 = 1.3 and Ea = 2500 K; a, c, d each curve's own."""
    rng = np.random.default_rng(seed)
    T = np.linspace(280, 340, D)
    x = np.linspace(0, 5, m)
    a, c, d = rng.uniform(1, 3, D), rng.uniform(-0.5, 0.5, D), rng.uniform(-0.05, 0.05, D)
    k = 1.3 * np.exp(-2500 * (1 / T - 1 / 300))
    Y = a[:, None] * np.exp(-k[:, None] * x) + c[:, None] + d[:, None] * x + noise * rng.standard_normal((D, m))
    return x, Y, T, np.column_stack([a, c, d])


def fn(X, a, c, d, k0, Ea):
    t, T = X
    return a * nlsqc.np.exp(-k0 * nlsqc.np.exp(-Ea * (1 / T - 1 / 300)) * t) + c + d * t


def test_reference_problem_recovers_the_truth():
    x, Y, T, locals_ = arrhenius()
    r = nlsqc.fit_global(TEXT, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T}, p0=P0)
    assert r.success and r.status > 0 and r.message
    assert r.shared == ["k0", "Ea"] and list(r.shared_mask) == [n in ("k0", "Ea") for n in r.names]
    assert r.popt.shape == r.perr.shape == (12, 5) and r.pcov is None
    k0, Ea = r.values["k0"], r.values["Ea"]
    ek0, eEa = r.shared_perr
    assert abs(k0 - 1.3) < 4 * ek0 and abs(Ea - 2500) < 4 * eEa
    assert 0 < ek0 < 0.05 and 0 < eEa < 100
    # every row carries the same shared values
    for name in ("k0", "Ea"):
        j = r.names.index(name)
        assert np.all(r.popt[:, j] == r.popt[0, j]) and np.all(r.perr[:, j] == r.perr[0, j])
    # each curve's locals near its truth (a, c, d in model order a, ..., c, d)
    ia, ic, id_ = r.names.index("a"), r.names.index("c"), r.names.index("d")
    z = (r.popt[:, [ia, ic, id_]] - locals_) / r.perr[:, [ia, ic, id_]]
    assert np.all(np.abs(z) < 5)
    # the shared covariance: symmetric, its diagonal the errors' squares
    C = r.shared_pcov
    assert C.shape == (2, 2) and np.allclose(C, C.T, rtol=0, atol=0) and np.allclose(np.sqrt(np.diag(C)), r.shared_perr)
    assert -1 < C[0, 1] / np.sqrt(C[0, 0] * C[1, 1]) < 1
    # the whole problem's bookkeeping
    assert r.m_total == 600 and list(r.m) == [50] * 12 and r.n_free == 12 * 3 + 2 and r.dof == 600 - 38
    assert np.isclose(r.chi2, r.chi2_set.sum(), rtol=1e-12) and np.isclose(r.cost, r.cost_set.sum(), rtol=1e-12)
    assert np.isclose(r.redchi, r.chi2 / r.dof, rtol=1e-12) and r.redchi == pytest.approx(1e-4, rel=0.3)
    assert r.nfev >= 1 and r.nit >= 1 and r.method == "trf"
    assert "k0=" in repr(r)


def test_list_and_2d_inputs_agree_bitwise():
    x, Y, T, _ = arrhenius()
    kw = dict(shared=["k0", "Ea"], covariates={"T": T}, p0=P0)
    r1 = nlsqc.fit_global(TEXT, [(x, y) for y in Y], **kw)
    r2 = nlsqc.fit_global(TEXT, x, Y, **kw)                                   # x shared by every set
    r3 = nlsqc.fit_global(TEXT, np.tile(x, (12, 1)), Y, x_shared=False, **kw)  # x per set
    r4 = nlsqc.fit_global(TEXT, x, list(Y), **kw)                              # y as a list
    for r in (r2, r3, r4):
        np.testing.assert_array_equal(r.popt, r1.popt)
        np.testing.assert_array_equal(r.perr, r1.perr)
        np.testing.assert_array_equal(r.shared_pcov, r1.shared_pcov)
        assert r.cost == r1.cost and r.nfev == r1.nfev


def test_traced_function_and_model_text_agree():
    x, Y, T, _ = arrhenius(D=6)
    r_text = nlsqc.fit_global(TEXT, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T}, p0=P0,
                              params="a,c,d,k0,Ea")
    # a function gets the covariates as the rows of x after the data's
    r_fn = nlsqc.fit_global(fn, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T}, p0=[2, 0, 0, 1, 2000])
    assert r_fn.names == ["a", "c", "d", "k0", "Ea"] == r_text.names
    np.testing.assert_allclose(r_fn.popt, r_text.popt, rtol=1e-9)
    np.testing.assert_allclose(r_fn.perr, r_text.perr, rtol=1e-6)


def test_ragged_sets_sigma_and_pcov():
    x, Y, T, _ = arrhenius(D=5)
    sets = [(x[: 30 + 5 * i], Y[i, : 30 + 5 * i], np.full(30 + 5 * i, 0.01)) for i in range(5)]
    r = nlsqc.fit_global(TEXT, sets, shared=["k0", "Ea"], covariates={"T": T}, p0=P0, absolute_sigma=True, pcov=True)
    assert r.success and list(r.m) == [30, 35, 40, 45, 50]
    assert r.pcov.shape == (5, 5, 5)
    np.testing.assert_allclose(np.sqrt(np.einsum("dii->di", r.pcov)), r.perr, rtol=1e-12)
    # with absolute sigma = the noise, chi2 / dof is about 1
    assert 0.6 < r.redchi < 1.5


def test_p0_per_set_bounds_and_fixed():
    x, Y, T, truth = arrhenius(D=6)
    names = ["a", "c", "d", "k0", "Ea"]
    p0 = np.column_stack([truth, np.full(6, 1.0), np.full(6, 2000.0)])  # (D, n) in the function's order
    r = nlsqc.fit_global(fn, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T}, p0=p0,
                         bounds=([0, -1, -1, 0.1, 100], [10, 1, 1, 10, 1e4]))
    assert r.success and r.names == names and abs(r.values["Ea"] - 2500) < 5 * r.shared_perr[1]
    # Ea held at 2500: only k0 shared and free
    rf = nlsqc.fit_global(fn, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T},
                          p0=[2, 0, 0, 1, 2500], fixed=["Ea"])
    assert rf.values["Ea"] == 2500 and rf.shared_perr[1] == 0 and rf.n_free == 6 * 3 + 1


def test_errors():
    x, Y, T, _ = arrhenius(D=4)
    sets = [(x, y) for y in Y]
    with pytest.raises(ValueError, match="covariate 'T' has 3 values; give one per data set"):
        nlsqc.fit_global(TEXT, sets, shared=["k0"], covariates={"T": T[:3]}, p0=P0)
    with pytest.raises(ValueError, match="'k9' is not a parameter"):
        nlsqc.fit_global(TEXT, sets, shared=["k9"], covariates={"T": T}, p0=P0)
    with pytest.raises(ValueError, match="covariate 'Q' is not a variable"):
        nlsqc.fit_global(nlsqc.model(TEXT, nvars=2, vars="x,T"), sets, shared=["k0"], covariates={"Q": T}, p0=P0)
    with pytest.raises(ValueError, match="give sigma for every data set or for none"):
        nlsqc.fit_global(TEXT, [(x, Y[0], np.ones(50))] + sets[1:], shared=["k0"], covariates={"T": T}, p0=P0)
    with pytest.raises(ValueError, match="x_shared"):
        nlsqc.fit_global("a*exp(-k*x)", np.tile(x, (4, 1)), Y, shared=["k"])
    with pytest.raises(ValueError, match="tuple"):
        nlsqc.fit_global(TEXT, [x, Y[0]], shared=["k0"], covariates={"T": T[:2]}, p0=P0)
    with pytest.raises(ValueError):  # dogbox: refused by the library
        nlsqc.fit_global(TEXT, sets, shared=["k0", "Ea"], covariates={"T": T}, p0=P0, method="dogbox")
    with pytest.raises(ValueError, match="fit_global takes no callback"):
        nlsqc.fit_global(TEXT, sets, shared=["k0", "Ea"], covariates={"T": T}, p0=P0, callback=print)
    with pytest.raises(TypeError, match="unexpected keyword argument 'shard'"):
        nlsqc.fit_global(TEXT, sets, shared=["k0"], shard=["Ea"])
    # the library's refusals: a data set too short for its three locals
    short = sets[:2] + [(x[:2], Y[2, :2])] + sets[3:]
    with pytest.raises(ValueError):
        nlsqc.fit_global(TEXT, short, shared=["k0", "Ea"], covariates={"T": T}, p0=P0)


def test_lm_and_nan_policy_omit():
    x, Y, T, _ = arrhenius(D=6)
    kw = dict(shared=["k0", "Ea"], covariates={"T": T}, p0=P0)
    r_trf = nlsqc.fit_global(TEXT, x, Y, **kw)
    r_lm = nlsqc.fit_global(TEXT, x, Y, method="lm", **kw)
    assert r_lm.success and r_lm.method == "lm"
    np.testing.assert_allclose(r_lm.popt, r_trf.popt, rtol=1e-8)
    Yn = Y.copy()
    Yn[2, 5] = np.nan
    with pytest.raises(ValueError, match="data set 2"):
        nlsqc.fit_global(TEXT, x, Yn, **kw)
    r = nlsqc.fit_global(TEXT, x, Yn, nan_policy="omit", **kw)
    assert r.success and list(r.m) == [50, 50, 49, 50, 50, 50] and r.m_total == 299


def test_interrupt_stops_the_fit(monkeypatch):
    """Ctrl-C: the progress function the fit calls on Python's thread each
    iteration raises KeyboardInterrupt, which stops the fit and comes out
    of fit_global."""
    from nlsqc import _shared
    calls = []

    def interrupted(info):
        calls.append(info)
        raise KeyboardInterrupt

    monkeypatch.setattr(_shared, "quiet", interrupted)
    x, Y, T, _ = arrhenius(D=4)
    with pytest.raises(KeyboardInterrupt):
        nlsqc.fit_global(TEXT, x, Y, shared=["k0", "Ea"], covariates={"T": T}, p0=P0)
    assert len(calls) == 1


def test_undetermined_parameters_warn():
    """One data set at one T cannot tell k0 from Ea: inf errors and
    curve_fit's OptimizeWarning."""
    x, Y, T, _ = arrhenius(D=1)
    with pytest.warns(nlsqc.OptimizeWarning, match="could not be estimated"):
        r = nlsqc.fit_global(TEXT, [(x, Y[0])], shared=["k0", "Ea"], covariates={"T": T}, p0=P0)
    assert not r.pcov_valid and np.all(np.isinf(r.shared_perr))


def test_wrong_length_p0_and_bounds_named():
    x, Y, T, _ = arrhenius(D=3)
    sets = [(x, y) for y in Y]
    kw = dict(shared=["k0", "Ea"], covariates={"T": T})
    with pytest.raises(ValueError, match=r"p0 has 2 values; the model has 5 parameters: give \(5,\) for every "
                                         r"data set or \(3, 5\) per set"):
        nlsqc.fit_global(TEXT, sets, p0=[1, 1], **kw)
    with pytest.raises(ValueError, match=r"p0 has shape \(3, 4\); it must be \(5,\)"):
        nlsqc.fit_global(TEXT, sets, p0=np.ones((3, 4)), **kw)
    with pytest.raises(ValueError, match=r"bounds: the lower bounds have 3 values; the model has 5 parameters"):
        nlsqc.fit_global(TEXT, sets, p0=P0, bounds=([0, 0, 0], np.inf), **kw)
    with pytest.raises(ValueError, match=r"bounds: the upper bounds have 6 values; the model has 5 parameters"):
        nlsqc.fit_global(TEXT, sets, p0=P0, bounds=(-np.inf, np.ones(6)), **kw)


def test_untraceable_function_says_fit_global_needs_a_traceable_one():
    x, Y, T, _ = arrhenius(D=3)

    def interp_model(X, a, k):  # np.interp of traced values cannot be traced
        t, _T = X
        return a * np.interp(t, [0.0, 5.0], [1.0, np.exp(-5 * k)])

    with pytest.raises(nlsqc.TraceError, match="fit_global needs a traceable function or model text") as e:
        nlsqc.fit_global(interp_model, [(x, y) for y in Y], shared=["k"], covariates={"T": T}, p0=[2, 1])
    assert "does not fall back" in str(e.value) and "curve_fit" in str(e.value)


def test_fixed_per_data_set():
    """A (D, n) fixed mask: a local held in one data set only. Checked
    against fixing by hand: the stacked problem without that unknown,
    solved by SciPy's least_squares."""
    x, Y, T, truth = arrhenius(D=4)
    sets = [(x, y) for y in Y]
    names = ["a", "c", "d", "k0", "Ea"]  # fn's signature order
    p0 = np.column_stack([np.full(4, 2.0), np.zeros(4), np.zeros(4), np.ones(4), np.full(4, 2000.0)])
    p0[1, 1] = 0.2  # set 1's c held at 0.2
    mask = np.zeros((4, 5), bool)
    mask[1, 1] = True
    kw = dict(shared=["k0", "Ea"], covariates={"T": T}, ftol=1e-15, xtol=1e-15, gtol=1e-15)
    r = nlsqc.fit_global(fn, sets, p0=p0, fixed=mask, **kw)
    assert r.success and r.names == names and r.n_free == 4 * 3 - 1 + 2
    assert r.popt[1, 1] == 0.2 and r.perr[1, 1] == 0 and np.all(r.perr[[0, 2, 3], 1] > 0)
    assert np.all(r.popt[[0, 2, 3], 1] != 0.2)

    # the same mask in every row is fixed=["c"], bitwise
    r_all = nlsqc.fit_global(fn, sets, p0=p0, fixed=np.tile([False, True, False, False, False], (4, 1)), **kw)
    r_names = nlsqc.fit_global(fn, sets, p0=p0, fixed=["c"], **kw)
    assert np.array_equal(r_all.popt, r_names.popt) and np.array_equal(r_all.perr, r_names.perr)

    # by hand: unknowns [a_d, c_d, d_d for each d, k0, Ea] less c_1
    scipy_opt = pytest.importorskip("scipy.optimize")

    def residuals(u):
        k0, Ea = u[-2:]
        res, i = [], 0
        for d in range(4):
            a, c, dd = (u[i], 0.2, u[i + 1]) if d == 1 else u[i:i + 3]
            i += 2 if d == 1 else 3
            res.append(a * np.exp(-k0 * np.exp(-Ea * (1 / T[d] - 1 / 300)) * x) + c + dd * x - Y[d])
        return np.concatenate(res)

    u0 = [2, 0, 0, 2, 0, 2, 0, 0, 2, 0, 0, 1, 2000]
    ref = scipy_opt.least_squares(residuals, u0, method="trf", x_scale="jac", ftol=1e-15, xtol=1e-15, gtol=1e-15)
    mine = np.concatenate([r.popt[0, :3], r.popt[1, [0, 2]], r.popt[2, :3], r.popt[3, :3], r.popt[0, 3:]])
    assert np.allclose(mine, ref.x, rtol=1e-7, atol=1e-9), (mine, ref.x)
    J = ref.jac
    cov = np.linalg.inv(J.T @ J) * (2 * ref.cost / (len(ref.fun) - len(u0)))
    ref_err = np.sqrt(np.diag(cov))
    mine_err = np.concatenate([r.perr[0, :3], r.perr[1, [0, 2]], r.perr[2, :3], r.perr[3, :3], r.perr[0, 3:]])
    assert np.allclose(mine_err, ref_err, rtol=1e-5), (mine_err, ref_err)


def test_fixed_mask_shape_named():
    x, Y, T, _ = arrhenius(D=3)
    with pytest.raises(ValueError, match=r"fixed has shape \(2, 5\).*boolean mask \(3, 5\)"):
        nlsqc.fit_global(TEXT, [(x, y) for y in Y], shared=["k0"], covariates={"T": T}, p0=P0,
                         fixed=np.zeros((2, 5), bool))


def test_docs_example_data_gives_the_printed_numbers():
    """docs/global-fits.md's Python example on examples/global/arrhenius.csv:
    the values it prints are the fit's, and both functions agree."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "examples", "global", "arrhenius.csv")
    if not os.path.exists(path):
        pytest.skip(f"no {path} (a source tree's file)")
    doc = open(os.path.join(root, "docs", "global-fits.md")).read()
    d = np.loadtxt(path, delimiter=",", skiprows=1)
    sets = [d[d[:, 0] == s] for s in np.unique(d[:, 0])]
    T = [s[0, 2] for s in sets]
    r = nlsqc.fit_global(TEXT, [(s[:, 1], s[:, 3]) for s in sets], shared=["k0", "Ea"], covariates={"T": T}, p0=P0)
    assert r.names == ["a", "k0", "Ea", "c", "d"] and r.dof == 562
    assert f"r.values            # {r.values}" in doc, r.values
    assert f"r.cost, r.dof       # {r.cost!r} {r.dof}" in doc, r.cost
    rf = nlsqc.fit_global(fn, [(s[:, 1], s[:, 3]) for s in sets], shared=["k0", "Ea"], covariates={"T": T},
                          p0=[2, 0, 0, 1, 2000])
    assert rf.names == ["a", "c", "d", "k0", "Ea"] and rf.values == r.values  # as the docs print


def test_readme_lists_the_result_fields():
    """Every field python/README.md lists for GlobalResult is there, and
    the parameter order it states (text: appearance; function: signature)."""
    import os
    import re
    readme = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
    if not os.path.exists(readme):
        pytest.skip(f"no {readme}")
    text = open(readme).read()
    start = text.index("Returns a `GlobalResult` with:")
    block = text[start:text.index("A covariance that cannot be estimated", start)]
    fields = set(re.findall(r"`([a-z_]+)`", block))
    x, Y, T, _ = arrhenius(D=3)
    r = nlsqc.fit_global(TEXT, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T}, p0=P0, pcov=True)
    missing = sorted(f for f in fields if not hasattr(r, f))
    assert not missing, missing
    for f in ("names", "shared_pcov_full", "pcov_valid", "grad_norm", "n_shared", "covariates", "memory_bytes"):
        assert f in fields, f
    assert r.names == ["a", "k0", "Ea", "c", "d"] and r.covariates == ["T"] and r.n_shared == 2
    rf = nlsqc.fit_global(fn, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T}, p0=[2, 0, 0, 1, 2000])
    assert rf.names == ["a", "c", "d", "k0", "Ea"]
    rp = nlsqc.fit_global(TEXT, [(x, y) for y in Y], shared=["k0", "Ea"], covariates={"T": T}, p0=P0,
                          params="a,c,d,k0,Ea")
    assert rp.names == ["a", "c", "d", "k0", "Ea"]
