"""result.mcmc / nlsqc.mcmc: the posterior of a straight line with known
sigma is Gaussian with mean popt and covariance pcov exactly; priors,
bounds, determinism across threads, the chain's shape, the AR(1)
autocorrelation time, and bad input."""
import numpy as np
import pytest

import nlsqc


def _line(m=40, seed=7, x0=0.0):
    rng = np.random.default_rng(seed)
    x = np.linspace(x0, x0 + 10, m)
    y = 1.5 - 0.7 * x + 0.5 * rng.standard_normal(m)
    return x, y, np.full(m, 0.5)


def test_linear_gaussian_posterior():
    x, y, s = _line()
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1], sigma=s, absolute_sigma=True)
    m = r.mcmc(steps=3000, burn=300, seed=2)
    assert m.chain.shape == (2700, 32, 2) and m.log_prob.shape == (2700, 32)
    assert m.flat.shape == (2700 * 32, 2)
    assert m.tau_reliable, m.warning
    ess = m.ess.min()
    se = np.sqrt(np.diag(r.pcov) / m.ess)
    assert np.all(np.abs(m.mean - r.popt) < 5 * se)
    scale = np.sqrt(np.outer(np.diag(r.pcov), np.diag(r.pcov)))
    assert np.all(np.abs(np.cov(m.flat.T) - r.pcov) < 5 * np.sqrt(2 / ess) * scale)
    lo, hi = m.interval(0.95)
    assert np.allclose(lo, m.quantiles[:, 0]) and np.allclose(hi, m.quantiles[:, 4])
    lo, hi = m.interval(0.5)
    assert np.all(lo < m.median) and np.all(m.median < hi)
    assert 0.4 < m.acceptance_mean < 0.9 and m.acceptance.shape == (32,)
    assert m.noise_var == 1


def test_noise_scale_from_redchi():
    x, y, _ = _line()
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1])  # no sigma: the scale is estimated
    m = r.mcmc(steps=2000, seed=4)
    assert m.noise_var == pytest.approx(r.redchi)
    # pcov is scaled by redchi too: the posterior's sd is perr
    assert np.all(np.abs(m.sd - r.perr) < 5 * np.sqrt(0.5 / m.ess) * r.perr)


def test_prior_conjugate():
    x, y, s = _line(30, 5)
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1], sigma=s, absolute_sigma=True)
    sdb = np.sqrt(r.pcov[1, 1])
    mu0, sd0 = r.popt[1] + 2 * sdb, sdb
    F = np.linalg.inv(r.pcov)
    P = F + np.diag([0, 1 / sd0 ** 2])
    S = np.linalg.inv(P)
    want = S @ (F @ r.popt + np.array([0, mu0 / sd0 ** 2]))
    m = nlsqc.mcmc(r, steps=3000, burn=300, priors={"b": (mu0, sd0)}, seed=8)
    assert np.all(np.abs(m.mean - want) < 5 * np.sqrt(np.diag(S) / m.ess))


def test_bounds_fixed_and_determinism():
    x, y, s = _line(2000, 3)
    kw = dict(p0=[1, -0.5, 0], sigma=s, absolute_sigma=True, bounds=([-np.inf, -0.7005, -1], [np.inf, np.inf, 1]),
              fixed=["c"])
    r1 = nlsqc.curve_fit("a + b*x + c*x^2", x, y, threads=1, **kw)
    r2 = nlsqc.curve_fit("a + b*x + c*x^2", x, y, threads=2, **kw)
    with pytest.warns(nlsqc.McmcWarning, match="shorter than 50 autocorrelation times"):
        m1 = r1.mcmc(steps=100, seed=11)
    with pytest.warns(nlsqc.McmcWarning):
        m2 = r2.mcmc(steps=100, seed=11)
    assert m2.threads == 2
    assert np.array_equal(m1.chain, m2.chain) and np.array_equal(m1.log_prob, m2.log_prob)
    with pytest.warns(nlsqc.McmcWarning):
        assert not np.array_equal(m1.chain, r1.mcmc(steps=100, seed=12).chain)
    assert m1.chain[..., 1].min() >= -0.7005
    assert np.all(m1.chain[..., 2] == 0) and np.isnan(m1.tau[2])


def test_autocorr_ar1():
    rng = np.random.default_rng(0)
    phi, L, W = 0.7, 20000, 8
    x = np.zeros((L, W))
    v = rng.standard_normal(W) / np.sqrt(1 - phi ** 2)
    e = rng.standard_normal((L, W))
    for t in range(L):
        v = phi * v + e[t]
        x[t] = v
    tau = nlsqc._mcmc.autocorr_time(x)
    assert tau == pytest.approx((1 + phi) / (1 - phi), rel=0.08)


def test_callback_fit_cannot_be_sampled():
    x, y, s = _line()
    grid = np.linspace(0, 10, 11)

    def f(x, a, b):  # np.interp cannot be traced: the fit calls it back
        return a + b * np.interp(x, grid, grid)

    with pytest.warns(nlsqc.FallbackWarning):
        r = nlsqc.curve_fit(f, x, y, p0=[1, 1])
    with pytest.raises(ValueError, match="cannot be sampled"):
        r.mcmc(steps=10)


def test_bad_input():
    x, y, s = _line()
    r = nlsqc.curve_fit("a + b*x", x, y, p0=[1, 1], sigma=s, absolute_sigma=True, bounds=([-10, -10], [10, 10]))
    with pytest.raises(ValueError, match="walkers must be even"):
        r.mcmc(steps=10, walkers=7)
    with pytest.raises(ValueError, match=r"steps \(10\) must exceed burn \(10\)"):
        r.mcmc(steps=10, burn=10)
    with pytest.raises(ValueError, match="no parameter 'z'"):
        r.mcmc(steps=10, priors={"z": (0, 1)})
    init = np.tile(r.popt, (4, 1))
    init[2, 1] = 30
    with pytest.raises(Exception, match="walker 2: 'b' = 30 is outside its bounds"):
        r.mcmc(steps=10, walkers=4, init=init)
    with pytest.raises(ValueError, match="init must have shape"):
        r.mcmc(steps=10, init=np.zeros((4, 3)))
