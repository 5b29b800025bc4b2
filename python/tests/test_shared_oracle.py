"""nlsqc.fit_global (nlsq_fit_shared) against independent oracles (issue 23).

1. SciPy's least_squares on the STACKED problem: unknowns
   [a_0, c_0, d_0, a_1, ..., k0, Ea], one residual vector over all data
   sets, the full dense analytic Jacobian; trf and lm. Parameters agree to
   1e-8 of max(|p|, perr), every covariance entry (each data set's block
   with its local/shared cross terms, and the shared block) to 1e-6 of
   sqrt(var_i var_j). The covariance of the oracle is curve_fit's: the
   pseudo-inverse of J^T J at the solution from J's SVD, times chi2/dof.
2. lmfit's documented multi-data-set global fit (lmfit-py,
   examples/example_fit_multi_datasets.py: five Gaussians sharing sigma,
   x = linspace(-1, 2, 151), amp = 0.6 + 9.5 U, cen = -0.2 + 1.2 U,
   sig = 0.25 + 0.03 U, noise N(0, 0.1); start amp 0.5, cen 0.4, sig 0.3).
   The example draws without a seed; here np.random.seed(2021) fixes the
   data. lmfit is not a test dependency: its answer was computed once with
   lmfit 1.3.4 (minimize, method leastsq, the example's bounds and
   sig_2..5 = sig_1 expressions) on exactly this data and is stored below.
"""
import numpy as np
import pytest
from scipy.optimize import least_squares

import nlsqc

fit_global = getattr(nlsqc, "fit_global", None)


def _have_shared():
    lib = getattr(getattr(nlsqc, "_lib", None), "lib", None)
    return fit_global is not None and lib is not None and hasattr(lib, "nlsq_fit_shared")


needs_shared = pytest.mark.skipif(
    not _have_shared(),
    reason="nlsqc.fit_global or the library's nlsq_fit_shared is missing (issue 23: python/nlsqc/_shared.py and "
           "src/fit/shared.c not merged into this build yet)")

ARR = "a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c + d*x"
NAMES = ["a", "c", "d", "k0", "Ea"]
TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15)


def arrhenius(D, m=30, varying=False, with_sigma=False, seed=0):
    """The issue's reference problem: D sets, T from 280 to 340 K."""
    rng = np.random.default_rng(seed)
    sets, T = [], (np.linspace(280, 340, D) if D > 1 else np.array([300.0]))
    for d in range(D):
        md = int(rng.integers(m // 2, m + m // 2)) if varying else m
        x = np.linspace(0, 5, md)
        a, c, dd = rng.uniform(1, 3), rng.uniform(-0.5, 0.5), rng.uniform(-0.05, 0.05)
        sd = rng.uniform(0.005, 0.02, md) if with_sigma else np.full(md, 0.01)
        y = a * np.exp(-1.3 * np.exp(-2500 * (1 / T[d] - 1 / 300)) * x) + c + dd * x + sd * rng.standard_normal(md)
        sets.append((x, y, sd) if with_sigma else (x, y))
    return sets, T


def stacked(sets, T):
    """Residuals and the dense Jacobian of the stacked Arrhenius problem."""
    D = len(sets)
    N = 3 * D + 2

    def split(p):
        return p[:3 * D].reshape(D, 3), p[3 * D], p[3 * D + 1]

    def fun(p):
        loc, k0, Ea = split(p)
        out = []
        for d, s in enumerate(sets):
            x, y = s[0], s[1]
            w = 1 / s[2] if len(s) > 2 else 1.0
            a, c, dd = loc[d]
            E = np.exp(-Ea * (1 / T[d] - 1 / 300))
            out.append(w * (a * np.exp(-k0 * E * x) + c + dd * x - y))
        return np.concatenate(out)

    def jac(p):
        loc, k0, Ea = split(p)
        rows = []
        for d, s in enumerate(sets):
            x = s[0]
            w = 1 / s[2] if len(s) > 2 else np.ones_like(x)
            a = loc[d, 0]
            u = 1 / T[d] - 1 / 300
            E = np.exp(-Ea * u)
            g = np.exp(-k0 * E * x)
            J = np.zeros((x.size, N))
            J[:, 3 * d] = g
            J[:, 3 * d + 1] = 1
            J[:, 3 * d + 2] = x
            J[:, 3 * D] = -a * g * E * x
            J[:, 3 * D + 1] = a * g * k0 * x * E * u
            rows.append(w[:, None] * J)
        return np.vstack(rows)

    return fun, jac, N


def curve_fit_pcov(J, r, n_free, absolute=False):
    """curve_fit's covariance: pinv(J^T J) by J's SVD, times chi2/dof."""
    _, s, VT = np.linalg.svd(J, full_matrices=False)
    keep = s > np.finfo(float).eps * max(J.shape) * s[0]
    pcov = (VT[keep].T / s[keep] ** 2) @ VT[keep]
    return pcov if absolute else pcov * (r @ r) / (J.shape[0] - n_free)


def polish(fun, jac, x, free=None, steps=4):
    """Gauss-Newton steps from least_squares' answer on the free columns:
    SciPy at 1e-15 tolerances still stops up to ~4e-8 of perr short of the
    minimum on the D = 20 stacked problem (its trf and lm disagree by that
    much); two or three full steps from there pin it to rounding."""
    x = x.copy()
    free = np.ones(x.size, bool) if free is None else free
    for _ in range(steps):
        step = np.linalg.lstsq(jac(x)[:, free], -fun(x), rcond=None)[0]
        x[free] += step
    return x


def polish_soft_l1(fun, jac, x, f_scale, steps=60):
    """The soft_l1 minimum by iteratively reweighted Gauss-Newton steps
    (weights rho'(z) = 1/sqrt(1 + z), z = (r/C)^2): its fixed point is
    where J^T rho'(z) r = 0, the robust cost's stationary point."""
    x = x.copy()
    for _ in range(steps):
        r = fun(x)
        w = np.sqrt(1 / np.sqrt(1 + (r / f_scale) ** 2))
        x += np.linalg.lstsq(w[:, None] * jac(x), -w * r, rcond=None)[0]
    return x


def scipy_stacked(sets, T, p0, method="trf", absolute=False):
    """SciPy's answer polished to the minimum, its covariance there, and
    SciPy's own answer."""
    fun, jac, N = stacked(sets, T)
    D = len(sets)
    x0 = np.concatenate([np.tile(p0[:3], D), p0[3:]])
    res = least_squares(fun, x0, jac=jac, method=method, **TIGHT)
    x = polish(fun, jac, res.x)
    pcov = curve_fit_pcov(jac(x), fun(x), N, absolute)
    return x, pcov, res.x, res.cost


def index(D, d, j):
    return 3 * d + j if j < 3 else 3 * D + (j - 3)


def compare(r, popt_s, pcov_s, D, what, ptol=1e-8, ctol=1e-6, raw=None, cost_s=None):
    """popt within ptol of max(|p|, perr) of the polished minimum, or 1e-8
    of SciPy's own answer `raw`, or (at the cost's rounding floor, where a
    cost-based stop leaves ~sqrt(EPS dof) perr) within 10 ptol at a cost
    no higher than SciPy's `cost_s`; pcov entries within ctol of
    sqrt(var_i var_j)."""
    at_floor = cost_s is not None and r.cost <= cost_s * (1 + 8 * np.finfo(float).eps)
    perr_s = np.sqrt(np.diag(pcov_s))
    worst_p = worst_c = 0.0
    for d in range(D):
        for i in range(5):
            a = index(D, d, i)
            scale = max(abs(popt_s[a]), perr_s[a])
            dev = abs(r.popt[d, i] - popt_s[a]) / scale
            worst_p = max(worst_p, dev)
            near_raw = raw is not None and abs(r.popt[d, i] - raw[a]) <= 1e-8 * scale
            assert dev <= ptol or near_raw or (at_floor and dev <= 10 * ptol), \
                f"{what}: set {d} {NAMES[i]}: {r.popt[d, i]!r} vs {popt_s[a]!r}"
            assert abs(r.perr[d, i] - perr_s[a]) <= ctol * perr_s[a], f"{what}: perr set {d} {NAMES[i]}"
            for j in range(5):
                b = index(D, d, j)
                sc = np.sqrt(pcov_s[a, a] * pcov_s[b, b])
                dc = abs(r.pcov[d, i, j] - pcov_s[a, b]) / sc
                worst_c = max(worst_c, dc)
                assert dc <= ctol, f"{what}: pcov set {d} ({NAMES[i]}, {NAMES[j]}): {r.pcov[d, i, j]!r} vs " \
                                   f"{pcov_s[a, b]!r}"
    sh = [3 * D, 3 * D + 1]
    np.testing.assert_allclose(r.shared_pcov, pcov_s[np.ix_(sh, sh)], rtol=0,
                               atol=ctol * np.sqrt(np.outer(np.diag(pcov_s)[sh], np.diag(pcov_s)[sh])).max())
    full = r.shared_pcov_full
    assert np.all(full[:3, :] == 0) and np.all(full[:, :3] == 0), f"{what}: shared_pcov_full nonzero for a local"
    return worst_p, worst_c


@needs_shared
@pytest.mark.parametrize("D", [2, 3, 5, 20])
@pytest.mark.parametrize("method", ["trf", "lm"])
def test_arrhenius_against_scipy_dense(D, method):
    sets, T = arrhenius(D, seed=D)
    p0 = np.array([2.0, 0.0, 0.0, 1.0, 2000.0])
    popt_s, pcov_s, raw, cost_s = scipy_stacked(sets, T, p0, method)
    r = fit_global(ARR, sets, shared=["k0", "Ea"], covariates={"T": T}, params="a,c,d,k0,Ea", p0=p0, method=method,
                   pcov=True, **TIGHT)
    assert r.success, r.message
    assert r.popt.shape == (D, 5) and r.pcov.shape == (D, 5, 5)
    assert r.dof == sum(s[0].size for s in sets) - (3 * D + 2)
    # lm (nlsq's as SciPy's) pins the minimum to ~3e-8 of max(|p|, perr)
    # at D = 20; within 1e-8 of SciPy's lm or 5e-8 of the minimum
    compare(r, popt_s, pcov_s, D, f"{method} D={D}", ptol=1e-8 if method == "trf" else 5e-8, raw=raw,
            cost_s=cost_s)
    # the shared values repeated in every row
    assert np.all(r.popt[:, 3] == r.popt[0, 3]) and np.all(r.popt[:, 4] == r.popt[0, 4])


@needs_shared
@pytest.mark.parametrize("absolute", [False, True])
def test_arrhenius_sigma_varying_lengths(absolute):
    sets, T = arrhenius(6, m=24, varying=True, with_sigma=True, seed=11)
    p0 = np.array([2.0, 0.0, 0.0, 1.0, 2000.0])
    popt_s, pcov_s, raw, cost_s = scipy_stacked(sets, T, p0, "trf", absolute)
    r = fit_global(ARR, sets, shared=["k0", "Ea"], covariates={"T": T}, params="a,c,d,k0,Ea", p0=p0, pcov=True,
                   absolute_sigma=absolute, **TIGHT)
    assert r.success, r.message
    compare(r, popt_s, pcov_s, 6, f"sigma, varying lengths, absolute_sigma={absolute}", raw=raw, cost_s=cost_s)
    assert list(r.m) == [s[0].size for s in sets]


@needs_shared
def test_arrhenius_bounds_active():
    """k0 capped below its truth (1.3 -> 1.2): the shared bound is active;
    SciPy's trf with the same bounds on the stacked vector."""
    D = 5
    sets, T = arrhenius(D, seed=3)
    p0 = np.array([2.0, 0.1, 0.0, 1.0, 2000.0])
    lo = np.array([0, -1, -1, 0.1, 0])
    hi = np.array([10, 1, 1, 1.2, 1e4])
    fun, jac, N = stacked(sets, T)
    x0 = np.concatenate([np.tile(p0[:3], D), p0[3:]])
    lb = np.concatenate([np.tile(lo[:3], D), lo[3:]])
    ub = np.concatenate([np.tile(hi[:3], D), hi[3:]])
    res = least_squares(fun, x0, jac=jac, bounds=(lb, ub), method="trf", **TIGHT)
    assert abs(res.x[3 * D] - 1.2) < 1e-12
    assert list(np.flatnonzero(res.active_mask)) == [3 * D]
    res.x = polish(fun, jac, res.x, res.active_mask == 0)
    res.jac, res.fun = jac(res.x), fun(res.x)
    r = fit_global(ARR, sets, shared=["k0", "Ea"], covariates={"T": T}, params="a,c,d,k0,Ea", p0=p0,
                   bounds=(lo, hi), pcov=True, **TIGHT)
    assert r.success, r.message
    perr = np.sqrt(np.diag(curve_fit_pcov(res.jac, res.fun, N)))
    for d in range(D):
        for i in range(5):
            a = index(D, d, i)
            assert abs(r.popt[d, i] - res.x[a]) <= 1e-8 * max(abs(res.x[a]), perr[a]), (d, NAMES[i])
    assert r.popt[0, 3] == pytest.approx(1.2, abs=1e-12)


@needs_shared
def test_robust_loss_against_scipy():
    D = 4
    sets, T = arrhenius(D, seed=21)
    sets = [(x, y + np.where(np.arange(y.size) % 7 == 0, 0.3, 0.0)) for x, y in sets]
    p0 = np.array([2.0, 0.0, 0.0, 1.0, 2000.0])
    fun, jac, N = stacked(sets, T)
    x0 = np.concatenate([np.tile(p0[:3], D), p0[3:]])
    res = least_squares(fun, x0, jac=jac, loss="soft_l1", f_scale=0.02, **TIGHT)
    xm = polish_soft_l1(fun, jac, res.x, 0.02)
    r = fit_global(ARR, sets, shared=["k0", "Ea"], covariates={"T": T}, params="a,c,d,k0,Ea", p0=p0, loss="soft_l1",
                   f_scale=0.02, pcov=True, **TIGHT)
    assert r.success, r.message
    # within 1e-8 of max(|p|, perr) of SciPy's answer or of the polished
    # minimum (SciPy stops ~2e-8 of |p| short of it here)
    for d in range(D):
        for i in range(5):
            a = index(D, d, i)
            scale = max(abs(res.x[a]), r.perr[d, i])
            dev = min(abs(r.popt[d, i] - res.x[a]), abs(r.popt[d, i] - xm[a])) / scale
            at_floor = r.cost <= res.cost * (1 + 8 * np.finfo(float).eps) and dev <= 1e-7
            assert dev <= 1e-8 or at_floor, (d, NAMES[i], r.popt[d, i], res.x[a], xm[a])
    assert r.cost == pytest.approx(res.cost, rel=1e-10)


# ---- lmfit's global-fit example -----------------------------------------------------------------

# lmfit 1.3.4, minimize(objective, fit_params) (leastsq) on the data below
# (np.random.seed(2021)): chisqr 8.195214212732422, redchi 0.011015072866575836,
# 755 points, 11 variables; name: (value, stderr)
LMFIT_REF = {
    "amp_1": (6.3274200985108386, 0.022790885765277387),
    "cen_1": (0.68049261158073815, 0.0012645774411545584),
    "amp_2": (6.986047529425921, 0.022967327860056109),
    "cen_2": (0.5043369965333131, 0.0011453558250053802),
    "amp_3": (7.1164350971483215, 0.023004148384818835),
    "cen_3": (-0.082602743722614447, 0.0011243729712454148),
    "amp_4": (6.1019742213573309, 0.022734210486913944),
    "cen_4": (0.073860976035077464, 0.0013112981982720932),
    "amp_5": (9.2391055499562604, 0.023688723126623103),
    "cen_5": (0.34443082683101256, 0.000866047958125162),
    "sig_1": (0.25755570366291686, 0.0004942587784019755),
}
LMFIT_CHISQR = 8.195214212732422


def lmfit_data():
    """The example's recipe with np.random.seed(2021) (the legacy
    generator: the same numbers on every NumPy)."""
    rs = np.random.RandomState(2021)
    x = np.linspace(-1, 2, 151)
    data = []
    for _ in range(5):
        amp = 0.60 + 9.50 * rs.rand()
        cen = -0.20 + 1.20 * rs.rand()
        sig = 0.25 + 0.03 * rs.rand()
        data.append(amp * np.exp(-(x - cen) ** 2 / (2 * sig ** 2)) + rs.normal(size=x.size, scale=0.1))
    return x, np.array(data)


def test_lmfit_data_rebuilt():
    _, data = lmfit_data()
    # the first values lmfit's reference run saw
    np.testing.assert_allclose(data[0, :3], [-0.01738389, -0.02013659, 0.07703977], atol=5e-9)
    np.testing.assert_allclose(data[4, :3], [0.02197948, -0.01417899, -0.08565124], atol=5e-9)


@needs_shared
@pytest.mark.parametrize("method", ["trf", "lm"])
def test_lmfit_multi_dataset_example(method):
    x, data = lmfit_data()
    kw = dict(bounds=([0.0, -2.0, 0.01], [200.0, 2.0, 3.0])) if method == "trf" else {}
    r = fit_global("amp*exp(-(x - cen)^2/(2*sig^2))", x, data, p0=[0.5, 0.4, 0.3], shared=["sig"], method=method,
                   pcov=True, **kw)
    assert r.success, r.message
    assert r.m_total == 755 and r.dof == 755 - 11
    # the model is even in sig: lm, unbounded, may end at -sig
    sgn = np.sign(r.popt[0, 2])
    # lmfit's leastsq stops at its own tolerances (1.5e-8): its values are
    # within 2e-7 of max(|v|, stderr) of the minimum, its stderr (from its
    # bounds-transformed internal covariance) within 2e-5 relative
    for d in range(5):
        for j, name in enumerate(("amp", "cen")):
            v, e = LMFIT_REF[f"{name}_{d + 1}"]
            assert abs(r.popt[d, j] - v) <= 1e-6 * max(abs(v), e), (name, d, r.popt[d, j], v)
            assert r.perr[d, j] == pytest.approx(e, rel=1e-4), (name, d)
    v, e = LMFIT_REF["sig_1"]
    assert sgn * r.popt[0, 2] == pytest.approx(v, rel=1e-7)
    assert r.perr[0, 2] == pytest.approx(e, rel=1e-4)
    assert r.chi2 == pytest.approx(LMFIT_CHISQR, rel=1e-10)

    # and the SciPy stacked dense fit to 1e-8 / 1e-6
    def fun(p):
        amp, cen, sig = p[0:10:2], p[1:10:2], p[10]
        return (amp[:, None] * np.exp(-(x[None, :] - cen[:, None]) ** 2 / (2 * sig ** 2)) - data).ravel()

    def jac(p):
        amp, cen, sig = p[0:10:2], p[1:10:2], p[10]
        J = np.zeros((5, x.size, 11))
        for d in range(5):
            g = np.exp(-(x - cen[d]) ** 2 / (2 * sig ** 2))
            J[d, :, 2 * d] = g
            J[d, :, 2 * d + 1] = amp[d] * g * (x - cen[d]) / sig ** 2
            J[d, :, 10] = amp[d] * g * (x - cen[d]) ** 2 / sig ** 3
        return J.reshape(-1, 11)

    x0 = np.array([0.5, 0.4] * 5 + [0.3])
    res = least_squares(fun, x0, jac=jac, method=method, **TIGHT)
    xs = polish(fun, jac, res.x)
    xs[10] = abs(xs[10]) * sgn  # the same branch of sig as nlsq's
    pcov = curve_fit_pcov(jac(xs), fun(xs), 11)
    perr = np.sqrt(np.diag(pcov))
    for d in range(5):
        for j in range(3):
            a = 2 * d + j if j < 2 else 10
            assert abs(r.popt[d, j] - xs[a]) <= 1e-8 * max(abs(xs[a]), perr[a]), (method, d, j)
            for k in range(3):
                b = 2 * d + k if k < 2 else 10
                assert abs(r.pcov[d, j, k] - pcov[a, b]) <= 1e-6 * np.sqrt(pcov[a, a] * pcov[b, b]), (d, j, k)


@needs_shared
def test_arctan_bounds_steps_follow_scipy():
    """A saturating loss (arctan, f_scale 2 on sigma-weighted residuals
    that start in the hundreds) with bounds: the first steps of
    fit_global are SciPy's (on such a problem nlsq_curve_fit, fitting the
    stacked model, takes another first step: /work/notes/i23_findings.md D8)."""
    D = 5
    sets, T = arrhenius(D, m=24, varying=True, with_sigma=True, seed=10)
    sets = [(x, y - np.where(np.arange(y.size) % 9 == 3, 0.2, 0.0), s) for x, y, s in sets]
    p0 = np.array([2.0, 0.0, 0.0, 1.0, 2000.0])
    lo = np.array([0, -1, -1, 0.1, 0])
    hi = np.array([10, 1, 1, 1.25, 1e4])
    fun, jac, N = stacked(sets, T)
    x0 = np.concatenate([np.tile(p0[:3], D), p0[3:]])
    lb = np.concatenate([np.tile(lo[:3], D), lo[3:]])
    ub = np.concatenate([np.tile(hi[:3], D), hi[3:]])
    for nfev in (2, 3, 4):
        res = least_squares(fun, x0, jac=jac, bounds=(lb, ub), loss="arctan", f_scale=2.0, max_nfev=nfev, **TIGHT)
        r = fit_global(ARR, sets, shared=["k0", "Ea"], covariates={"T": T}, params="a,c,d,k0,Ea", p0=p0,
                       bounds=(lo, hi), loss="arctan", f_scale=2.0, max_nfev=nfev, **TIGHT)
        assert r.nfev == res.nfev
        assert r.cost == pytest.approx(res.cost, rel=1e-6), (nfev, r.cost, res.cost)
