"""result.bootstrap() and nlsqc.bootstrap(): percentile intervals against
numpy's percentile of the replicas; BCa against an independent NumPy
computation (leave-one-out fits, z0, acceleration) and against
scipy.stats.bootstrap(method='BCa') on the same statistic (pairs, a
line's slope); determinism (seed, thread count, replica i); the residual
bootstrap's standard errors on a line; bad input; the structs' layout."""
import ctypes
import os
import shutil
import subprocess

import numpy as np
import pytest

import nlsqc
from nlsqc import _bootstrap

from conftest import ROOT

scipy_stats = pytest.importorskip("scipy.stats")
ndtr, ndtri = scipy_stats.norm.cdf, scipy_stats.norm.ppf


def decay(m=40, seed=0, noise=0.03):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 5, m)
    y = 2.5 * np.exp(-1.3 * x) + 0.5 + noise * (1 + x) * rng.standard_normal(m)
    return x, y


MODEL = "a*exp(-b*x) + c"


def line(m=50, seed=1, noise=0.3):
    rng = np.random.default_rng(seed)
    x = np.linspace(1, 10, m)
    return x, 1.5 + 0.7 * x + noise * rng.standard_normal(m)


@pytest.mark.parametrize("kind", ["residual", "pairs", "wild"])
def test_percentile_is_numpys(kind):
    x, y = decay()
    b = nlsqc.curve_fit(MODEL, x, y, p0=[2, 1, 0]).bootstrap(n=400, kind=kind, seed=3, level=0.9)
    assert b.samples.shape == (400, 3) and b.converged + b.failed == 400
    s = b.converged_samples
    want = np.percentile(s, [5, 95], axis=0).T
    np.testing.assert_allclose(b.percentile, want, rtol=1e-14, atol=0)
    np.testing.assert_allclose(b.stderr, s.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(b.bias, s.mean(axis=0) - b.popt, rtol=1e-9, atol=1e-15)


def bca_by_numpy(samples, popt, jack, level):
    """Efron's BCa from replicas and leave-one-out estimates, as
    scipy.stats.bootstrap computes it."""
    z0 = ndtri(np.mean(samples < popt, axis=0))
    d = jack.mean(axis=0) - jack
    a = (d ** 3).sum(axis=0) / (6 * ((d ** 2).sum(axis=0)) ** 1.5)
    za = ndtri((1 - level) / 2)
    lo = ndtr(z0 + (z0 + za) / (1 - a * (z0 + za)))
    hi = ndtr(z0 + (z0 - za) / (1 - a * (z0 - za)))
    out = np.empty((samples.shape[1], 2))
    for j in range(samples.shape[1]):
        out[j] = np.percentile(samples[:, j], [100 * lo[j], 100 * hi[j]])
    return out, z0, a


def test_bca_against_numpy_with_leave_one_out_fits():
    x, y = decay(m=30, seed=4)
    r = nlsqc.curve_fit(MODEL, x, y, p0=[2, 1, 0])
    b = r.bootstrap(n=1000, kind="pairs", seed=11)
    assert b.jackknife == "exact" and b.converged > 990
    assert np.all(np.isnan(b.samples[b.status <= 0]))  # a failed replica is a NaN row, left out
    # the leave-one-out fits, each alone from popt with the same options
    jack = np.array([nlsqc.curve_fit(MODEL, np.delete(x, i), np.delete(y, i), p0=r.popt).popt for i in range(30)])
    want, z0, a = bca_by_numpy(b.converged_samples, r.popt, jack, 0.95)
    np.testing.assert_allclose(b.accel, a, rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(b.z0, z0, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b.bca, want, rtol=1e-9)


def test_bca_against_scipy_bootstrap_on_a_slope():
    """Pairs bootstrap of a line's slope: nlsq's BCa interval and SciPy's
    (scipy.stats.bootstrap, paired, method='BCa', 4000 resamples each)
    agree within Monte Carlo error (the limits' sd is about 0.05 of the
    slope's standard error; allowed: 0.3)."""
    x, y = line(m=40, seed=5, noise=0.5)
    y = y + 0.8 * (np.random.default_rng(2).exponential(size=40) - 1)  # skewed noise
    r = nlsqc.curve_fit("a + b*x", x, y)
    b = r.bootstrap(n=4000, kind="pairs", seed=1)

    def slope(xs, ys, axis=-1):
        xm, ym = xs.mean(axis=axis, keepdims=True), ys.mean(axis=axis, keepdims=True)
        return ((xs - xm) * (ys - ym)).sum(axis=axis) / ((xs - xm) ** 2).sum(axis=axis)

    s = scipy_stats.bootstrap((x, y), slope, paired=True, vectorized=True, n_resamples=4000, method="BCa",
                              confidence_level=0.95, random_state=np.random.default_rng(7))
    se = b.stderr[1]
    assert abs(s.standard_error - se) < 0.1 * se
    assert abs(b.bca[1, 0] - s.confidence_interval.low) < 0.3 * se
    assert abs(b.bca[1, 1] - s.confidence_interval.high) < 0.3 * se
    # the acceleration is scipy's jackknife formula exactly (the slope's
    # leave-one-out values are closed-form here)
    jack = np.array([slope(np.delete(x, i), np.delete(y, i)) for i in range(40)])
    d = jack.mean() - jack
    np.testing.assert_allclose(b.accel[1], (d ** 3).sum() / (6 * ((d ** 2).sum()) ** 1.5), rtol=1e-6)


def test_influence_values_exact_on_a_line():
    x, y = line(m=60, seed=8)
    r = nlsqc.curve_fit("a + b*x", x, y)
    ex = r.bootstrap(n=300, kind="pairs", seed=2)
    inf = r.bootstrap(n=300, kind="pairs", seed=2, jackknife_max=0)
    assert ex.jackknife == "exact" and inf.jackknife == "influence"
    np.testing.assert_allclose(inf.accel, ex.accel, rtol=1e-6)
    np.testing.assert_array_equal(inf.samples, ex.samples)


def test_determinism_threads_and_replica_index():
    x, y = decay(m=50, seed=9)
    r = nlsqc.curve_fit(MODEL, x, y, p0=[2, 1, 0])
    for kind in ("residual", "pairs", "wild"):
        one = r.bootstrap(n=200, kind=kind, seed=5, threads=1)
        two = r.bootstrap(n=200, kind=kind, seed=5, threads=2)
        assert one.samples.tobytes() == two.samples.tobytes(), kind
        assert one.bca.tobytes() == two.bca.tobytes(), kind
        few = r.bootstrap(n=20, kind=kind, seed=5, threads=2, bca=False)
        assert few.samples.tobytes() == one.samples[:20].tobytes(), kind  # replica i depends on (seed, i)
        other = r.bootstrap(n=20, kind=kind, seed=6, bca=False)
        assert not np.array_equal(other.samples, few.samples)


def test_residual_standard_errors_on_a_line():
    x, y = line(m=50, seed=3)
    r = nlsqc.curve_fit("a + b*x", x, y)
    N = 4000
    b = r.bootstrap(n=N, seed=0)
    X = np.stack([np.ones_like(x), x], axis=1)
    res = y - X @ r.popt
    s2 = res @ res / (50 - 2)
    want = np.sqrt(np.diag(s2 * np.linalg.inv(X.T @ X)) * (50 - 2) / 50)
    np.testing.assert_allclose(b.stderr, want, rtol=4 / np.sqrt(2 * N))


def test_sigma_weighted_residuals_and_function_models():
    x, y = decay(m=40, seed=2)
    sigma = 0.03 * (1 + x)
    b = nlsqc.bootstrap(lambda x, a, b, c: a * nlsqc.np.exp(-b * x) + c, x, y, p0=[2, 1, 0], sigma=sigma,
                        absolute_sigma=True, n=300, seed=4)
    assert b.converged == 300 and b.fit.success
    # with absolute sigma the bootstrap's spread is near the covariance's
    assert np.all(np.abs(b.stderr / b.fit.perr - 1) < 0.35)


def test_bad_input():
    x, y = decay()
    r = nlsqc.curve_fit(MODEL, x, y, p0=[2, 1, 0])
    with pytest.raises(ValueError, match="at least 2"):
        r.bootstrap(n=1)
    with pytest.raises(ValueError, match="kind must be one of residual, pairs, wild"):
        r.bootstrap(kind="jackknife")
    for level in (0, 1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"level must lie in \(0, 1\)"):
            r.bootstrap(level=level)
    with pytest.raises(ValueError, match="covariance sigma"):
        nlsqc.curve_fit(MODEL, x, y, p0=[2, 1, 0], sigma=np.eye(x.size) * 0.01).bootstrap(n=10)


def test_struct_layouts(tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    made = [d for d in (os.environ.get("NLSQ_BUILD_DIR"), os.path.join(ROOT, "build")) if d]
    made = [os.path.join(d, "include") for d in made if os.path.isfile(os.path.join(d, "include", "nlsq_version.h"))]
    if not cc or not made:
        pytest.skip("no C compiler or no build tree with include/nlsq_version.h")
    structs = {_bootstrap.BootstrapOptions: "nlsq_bootstrap_options",
               _bootstrap.BootstrapResultC: "nlsq_bootstrap_result"}
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "nlsq.h"', 'int main(void) {']
    for cls, cname in structs.items():
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{cname}.{field} %zu\\n", offsetof({cname}, {field}));')
    lines.append("return 0; }")
    (tmp_path / "abi.c").write_text("\n".join(lines))
    subprocess.check_call([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), "-I", made[0],
                           str(tmp_path / "abi.c"), "-o", str(tmp_path / "abi")])
    out = dict(line.rsplit(" ", 1) for line in subprocess.check_output([str(tmp_path / "abi")], text=True).splitlines())
    for cls, cname in structs.items():
        assert int(out[cname]) == ctypes.sizeof(cls), cname
        for field, _ in cls._fields_:
            assert int(out[f"{cname}.{field}"]) == getattr(cls, field).offset, f"{cname}.{field}"
