"""fit_batch: fit by fit the same as curve_fit; shapes; mixed statuses."""
import numpy as np
import pytest

import nlsqc


def gauss(x, a, mu, w, bg):
    return a * np.exp(-0.5 * ((x - mu) / w) ** 2) + bg


def curves(nfits=40, m=32, seed=4):
    rng = np.random.default_rng(seed)
    x = np.linspace(-3, 3, m)
    truth = np.column_stack([rng.uniform(1, 3, nfits), rng.uniform(-1, 1, nfits), rng.uniform(0.5, 1.2, nfits),
                             rng.uniform(0, 0.5, nfits)])
    y = np.array([gauss(x, *t) for t in truth]) + 0.05 * rng.standard_normal((nfits, m))
    p0 = truth * rng.uniform(0.8, 1.2, truth.shape)
    return x, y, p0


@pytest.mark.parametrize("method", ["trf", "lm"])
def test_batch_equals_curve_fit(method):
    x, y, p0 = curves()
    b = nlsqc.fit_batch(gauss, x, y, p0=p0, method=method, pcov=True)
    assert len(b) == y.shape[0] and b.converged == y.shape[0] and b.failed == 0 and b.success.all()
    for i in range(y.shape[0]):
        r = nlsqc.curve_fit(gauss, x, y[i], p0=p0[i], method=method, defaults="nlsq")
        np.testing.assert_array_equal(b.popt[i], r.popt)  # bitwise
        np.testing.assert_array_equal(b.pcov[i], r.pcov)
        np.testing.assert_array_equal(b.perr[i], r.perr)
        assert b.status[i] == r.status and b.nfev[i] == r.nfev and b.chi2[i] == r.chi2 and b.m[i] == x.size
    assert b.device == "cpu" and b.threads >= 1 and b.seconds > 0 and "BatchResult" in repr(b)


def test_shapes_ragged_per_fit_x_sigma_bounds():
    x, y, p0 = curves(12)
    rng = np.random.default_rng(5)
    s = 0.05 + 0.01 * rng.random(y.shape)
    xs = np.array([x + 0.01 * i for i in range(12)])  # per-fit x (12 rows: said with x_shared)
    lb = np.tile([0, -2, 0.1, -1], (12, 1))
    ub = np.tile([10, 2, 5, 1], (12, 1))
    lb[3, 3] = 0.8  # an active bound in fit 3 (its background is at most 0.5)
    p0 = np.clip(p0, lb + 1e-3, ub - 1e-3)
    b = nlsqc.fit_batch(gauss, xs, y, p0=p0, sigma=s, bounds=(lb, ub), x_shared=False)
    for i in range(12):
        r = nlsqc.curve_fit(gauss, xs[i], y[i], p0=p0[i], sigma=s[i], bounds=(lb[i], ub[i]), defaults="nlsq")
        np.testing.assert_array_equal(b.popt[i], r.popt)
    assert b.popt[3, 3] == pytest.approx(0.8, abs=1e-12)
    # ragged: lists of curves of different lengths, per-fit x
    ys = [y[i][: 20 + i] for i in range(12)]
    xr = [x[: 20 + i] for i in range(12)]
    b = nlsqc.fit_batch(gauss, xr, ys, p0=p0)
    for i in range(12):
        r = nlsqc.curve_fit(gauss, xr[i], ys[i], p0=p0[i], defaults="nlsq")
        np.testing.assert_array_equal(b.popt[i], r.popt)
        assert b.m[i] == 20 + i
    # ragged with a shared x (as long as the longest fit)
    b2 = nlsqc.fit_batch(gauss, x, ys, p0=p0)
    np.testing.assert_array_equal(b2.popt, b.popt)
    # two variables, shared grid: the 2-D Gaussian on 5x5
    g = np.meshgrid(np.arange(5.0), np.arange(5.0))
    xy = np.vstack([g[0].ravel(), g[1].ravel()])

    def g2(v, a, x0, y0, w, bg):
        return a * np.exp(-((v[0] - x0) ** 2 + (v[1] - y0) ** 2) / (2 * w * w)) + bg
    truth = np.array([[5, 2.1, 1.9, 1.1, 0.3], [4, 2.4, 2.2, 0.9, 0.1]])
    yy = np.array([g2(xy, *t) for t in truth]) + 0.01 * np.cos(np.arange(25))
    with pytest.raises(ValueError, match="x_shared"):
        nlsqc.fit_batch(g2, xy, yy, p0=truth * 1.1)
    b = nlsqc.fit_batch(g2, xy, yy, p0=truth * 1.1, x_shared=True)
    for i in range(2):
        r = nlsqc.curve_fit(g2, xy, yy[i], p0=truth[i] * 1.1, defaults="nlsq")
        np.testing.assert_array_equal(b.popt[i], r.popt)


def test_mixed_statuses():
    x, y, p0 = curves(6)
    y = y.copy()
    y[1, 5] = np.nan                        # bad data
    p0 = p0.copy()
    p0[2] = [1, x[5], 0, 0]                 # w = 0 at a data point: 0/0 there
    lb = np.full((6, 4), -np.inf)
    ub = np.full((6, 4), np.inf)
    ub[3, 0] = 0.5                          # p0 outside its bounds
    b = nlsqc.fit_batch(gauss, x, y, p0=p0, bounds=(lb, ub), max_nfev=3 * 4 * 100)
    assert b.status[1] == -11 and b.status[2] == -12 and b.status[3] == -10
    for i in (0, 4, 5):
        assert b.status[i] > 0
        np.testing.assert_array_equal(b.popt[i], nlsqc.curve_fit(gauss, x, y[i], p0=p0[i], defaults="nlsq").popt)
    msgs = b.messages()
    assert set(msgs) >= {-10, -11, -12} and all(isinstance(v, str) and v for v in msgs.values())
    assert b.failed == 3 and b.converged == 3
    assert list(b.success) == [True, False, False, False, True, True]
    # omit the NaN instead
    b = nlsqc.fit_batch(gauss, x, y, p0=p0, nan_policy="omit")
    assert b.status[1] > 0 and b.m[1] == x.size - 1


def test_refusals():
    x, y, p0 = curves(4)
    with pytest.raises(ValueError, match="ydata"):
        nlsqc.fit_batch(gauss, x, y[0], p0=p0)
    with pytest.raises(ValueError, match="p0 has shape"):
        nlsqc.fit_batch(gauss, x, y, p0=np.ones((3, 4)))
    with pytest.raises(ValueError, match="xdata"):
        nlsqc.fit_batch(gauss, x[:-1], y, p0=p0)
    with pytest.raises(ValueError, match="sigma"):
        nlsqc.fit_batch(gauss, x, y, p0=p0, sigma=np.ones(3))
    with pytest.raises(ValueError):
        nlsqc.fit_batch(gauss, x, y, p0=p0, device="cuda:all")
    with pytest.raises(ValueError, match="lower bounds have shape"):
        nlsqc.fit_batch(gauss, x, y, p0=p0, bounds=(np.zeros((3, 4)), np.inf))
