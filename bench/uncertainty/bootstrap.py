"""Bootstrap benchmark (issue 20): N replicas of a 10^4-point exponential
decay a*exp(-b*x) + c, nlsq's batch-engine bootstrap (nlsqc: FitResult.
bootstrap) against the peers a user would write in Python -- a loop of
scipy.optimize.curve_fit, scipy.stats.bootstrap with curve_fit as the
statistic (paired: the same pairs resampling), and a loop of lmfit's
Model.fit -- in the same run; then the intervals against SciPy's
(percentile and BCa) on the same statistic.

    NLSQ_LIBRARY=build/libnlsq.so PYTHONPATH=python \\
        /work/venvs/lmfit-env/bin/python bench/uncertainty/bootstrap.py [--m 10000] [--replicas 1000]
        [--peer-replicas 1000] [--no-scipy-bca] [--threads T] [--device cuda]

Every peer gets the same start (popt) and the same data. A peer's loop
runs --peer-replicas replicas and its time is scaled to --replicas (said
in the table). nlsq's time is the whole call: resampling, fits, statistics
and the BCa acceleration (influence values above 2000 points). SciPy's BCa
needs m leave-one-out fits (10^4 here: its time is printed on its own).
"""
import argparse
import os
import time

import numpy as np
from scipy import stats
from scipy.optimize import curve_fit

import nlsqc

try:
    import lmfit
except ImportError:  # the peer is optional; its row says so
    lmfit = None


def model(x, a, b, c):
    return a * np.exp(-b * x) + c


def data(m, seed=0):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 10, m)
    return x, 2.5 * np.exp(-0.7 * x) + 0.5 + 0.05 * rng.standard_normal(m)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def scipy_loop(x, y, popt, kind, n, seed):
    """The loop a SciPy user writes: resample, curve_fit from popt."""
    rng = np.random.default_rng(seed)
    m = x.size
    f = model(x, *popt)
    e = y - f
    out = np.empty((n, 3))
    for i in range(n):
        idx = rng.integers(0, m, m)
        if kind == "pairs":
            out[i] = curve_fit(model, x[idx], y[idx], p0=popt)[0]
        else:
            out[i] = curve_fit(model, x, f + (e - e.mean())[idx], p0=popt)[0]
    return out


def lmfit_loop(x, y, popt, kind, n, seed):
    rng = np.random.default_rng(seed)
    mod = lmfit.Model(model)
    pars = mod.make_params(a=popt[0], b=popt[1], c=popt[2])
    m = x.size
    f = model(x, *popt)
    e = y - f
    out = np.empty((n, 3))
    for i in range(n):
        idx = rng.integers(0, m, m)
        r = mod.fit(y[idx], pars, x=x[idx]) if kind == "pairs" else mod.fit(f + (e - e.mean())[idx], pars, x=x)
        out[i] = [r.params[k].value for k in "abc"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m", type=int, default=10000)
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--peer-replicas", type=int, default=None, help="replicas each peer loop runs (default: all)")
    ap.add_argument("--no-scipy-bca", action="store_true", help="skip SciPy's BCa (m leave-one-out fits)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default=None)
    a = ap.parse_args()
    N, P = a.replicas, a.peer_replicas or a.replicas
    x, y = data(a.m)
    r = nlsqc.curve_fit(model, x, y, p0=[1, 1, 0])
    popt = r.popt
    print(f"# bootstrap of a*exp(-b*x) + c, m = {a.m} points, {N} replicas; load {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores; nlsq {nlsqc.__version__}, numpy {np.__version__}")
    r.bootstrap(n=8, kind="pairs", threads=a.threads, device=a.device)  # warm: the model's kernel compiled once

    rows = []
    boots, base = {}, {}
    for kind in ("pairs", "residual"):
        b, t = timed(lambda: r.bootstrap(n=N, kind=kind, seed=1, threads=a.threads, device=a.device))
        boots[kind], base[kind] = b, t
        rows.append((kind, f"nlsq bootstrap ({b.device}, {b.threads} threads, BCa by {b.jackknife})", N, t, t,
                     b.converged))
        _, tp = timed(lambda: scipy_loop(x, y, popt, kind, P, 2))
        rows.append((kind, "SciPy curve_fit loop", P, tp, tp * N / P, P))
        if lmfit is not None:
            _, tl = timed(lambda: lmfit_loop(x, y, popt, kind, P, 3))
            rows.append((kind, f"lmfit {lmfit.__version__} Model.fit loop", P, tl, tl * N / P, P))

    def stat(xs, ys):
        return curve_fit(model, xs, ys, p0=popt)[0]

    sp, tsp = timed(lambda: stats.bootstrap((x, y), stat, paired=True, vectorized=False, n_resamples=P,
                                            method="percentile", confidence_level=0.95,
                                            rng=np.random.default_rng(4)))
    rows.append(("pairs", "scipy.stats.bootstrap (percentile)", P, tsp, tsp * N / P, P))
    sb = None
    if not a.no_scipy_bca:  # BCa's jackknife: m leave-one-out fits, not scaled with the replicas
        sb, tb = timed(lambda: stats.bootstrap((x, y), stat, paired=True, vectorized=False, n_resamples=P,
                                               method="BCa", confidence_level=0.95, rng=np.random.default_rng(5)))
        rows.append(("pairs", f"scipy.stats.bootstrap (BCa: + {a.m} jackknife fits)", P, tb, tb, P))
        bx, tx = timed(lambda: r.bootstrap(n=N, kind="pairs", seed=1, jackknife_max=a.m, threads=a.threads,
                                           device=a.device))
        rows.append(("pairs", f"nlsq bootstrap (BCa: + {a.m} jackknife fits)", N, tx, tx, bx.converged))

    print(f"\n{'kind':9} {'who':52} {'ran':>5} {'seconds':>9} {'for ' + str(N):>9} {'per replica':>12} "
          f"{'nlsq is':>9}")
    for kind, who, n, t, tn, ok in rows:
        scaled = "" if n == N or "BCa" in who else " (scaled)"
        ratio = tn / base[kind]
        print(f"{kind:9} {who:52} {n:5d} {t:9.3f} {tn:9.3f} {1e3 * tn / N:10.3f}ms {ratio:8.1f}x{scaled}")

    b = boots["pairs"]
    print("\n# intervals (pairs, 95%): nlsq against scipy.stats.bootstrap on the same statistic (curve_fit's popt);")
    print("# the larger difference of the two ends in units of nlsq's bootstrap standard error (two independent")
    print("# estimates of an end differ by about 0.12 of it (sd) at 1000 replicas each)")
    print(f"{'param':6} {'nlsq stderr':>12} {'scipy stderr':>12} {'nlsq percentile':>30} {'scipy percentile':>30} "
          f"{'diff/se':>8}")
    for j, name in enumerate("abc"):
        lo, hi = sp.confidence_interval.low[j], sp.confidence_interval.high[j]
        d = max(abs(b.percentile[j, 0] - lo), abs(b.percentile[j, 1] - hi)) / b.stderr[j]
        print(f"{name:6} {b.stderr[j]:12.5g} {sp.standard_error[j]:12.5g} "
              f"[{b.percentile[j, 0]:12.7g}, {b.percentile[j, 1]:12.7g}] [{lo:12.7g}, {hi:12.7g}] {d:8.3f}")
    if sb is not None:
        print(f"\n# BCa: SciPy's from {P} resamples and {a.m} leave-one-out fits; nlsq's from its replicas and "
              f"{b.jackknife} values")
        print(f"# BCa with the exact jackknife both ways: nlsq {tx:.3f} s, SciPy {tb:.2f} s: nlsq {tb / tx:.1f}x faster; "
              f"with influence values nlsq {base['pairs']:.3f} s: {tb / base['pairs']:.1f}x")
        print(f"{'param':6} {'nlsq BCa (influence)':>30} {'scipy BCa':>30} {'diff/se':>8} {'nlsq BCa (exact)':>30}")
        for j, name in enumerate("abc"):
            lo, hi = sb.confidence_interval.low[j], sb.confidence_interval.high[j]
            d = max(abs(b.bca[j, 0] - lo), abs(b.bca[j, 1] - hi)) / b.stderr[j]
            print(f"{name:6} [{b.bca[j, 0]:12.7g}, {b.bca[j, 1]:12.7g}] [{lo:12.7g}, {hi:12.7g}] {d:8.3f} "
                  f"[{bx.bca[j, 0]:12.7g}, {bx.bca[j, 1]:12.7g}]")
    print(f"\n# covariance's standard errors: {', '.join(f'{v:.5g}' for v in r.perr)}; load at the end "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
