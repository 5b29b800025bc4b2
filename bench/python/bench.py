"""bench/python: time to fit from Python, nlsqc.curve_fit against
scipy.optimize.curve_fit in the same process, on the data files bench_fit
--write made (the four reference models of bench/fit).

    bench.py DIR SIZES MODELS [SCIPY_MAX]

nlsqc's model functions are the plain-NumPy functions SciPy gets (traced).
"nlsqc first" is the first call in the process for the model (trace,
build, kernel from the disk cache or compiled); "nlsqc" the best of the
calls after it. SciPy runs lm and trf with its default finite-difference
Jacobian and lm with the analytic Jacobian (peer_scipy.py's functions), up
to SCIPY_MAX points (default all). Prints a table; the ratio is the fastest
SciPy variant's time over nlsqc's. Then bench/batch's 1-D case from Python:
nlsqc.fit_batch on 10^5 Gaussians against a loop of SciPy's curve_fit.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import peer_scipy  # noqa: E402  the same model functions and analytic Jacobians as bench/fit
from scipy.optimize import curve_fit as scipy_curve_fit  # noqa: E402

import nlsqc  # noqa: E402


def timed(fn, repeat):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    d, sizes, models = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    scipy_max = float(sys.argv[4]) if len(sys.argv) > 4 else float("inf")
    first_done = set()
    rows = []
    print(f"nlsqc {nlsqc.info()['nlsqc']} ({nlsqc.info()['library']}), numpy {np.__version__}, "
          f"{os.cpu_count()} cores", flush=True)
    for s in sizes.split(","):
        m = int(float(s))
        for name in models:
            f, jac, nv = peer_scipy.FUNCS[name]
            raw = np.fromfile(f"{d}/{name}_{m}.bin", dtype=np.float64)
            x = raw[:nv * m].reshape(nv, m) if nv > 1 else raw[:m]
            y = raw[nv * m:]
            p0 = [v * (0.75 if j % 2 else 1.25) for j, v in enumerate(peer_scipy.TRUTH[name])]
            # gauss3 is f(x, *p): nlsqc needs the count, which p0 gives.
            # defaults="nlsq": the library's trf at 1e-15, as these figures
            # have always been (curve_fit's defaults are SciPy's since issue 18)
            t_first = None
            if name not in first_done:
                t_first, _ = timed(lambda: nlsqc.curve_fit(f, x, y, p0=p0, defaults="nlsq"), 1)
                first_done.add(name)
            rep = 5 if m <= 10**5 else 2
            t_ours, r = timed(lambda: nlsqc.curve_fit(f, x, y, p0=p0, defaults="nlsq"), rep)
            peers = {}
            if m <= scipy_max:
                for label, kw in (("lm", {"method": "lm"}), ("trf", {"method": "trf"}),
                                  ("lm-jac", {"method": "lm", "jac": jac})):
                    try:
                        t, (popt, _) = timed(lambda: scipy_curve_fit(f, x, y, p0=p0, **kw), 3 if m <= 10**4 else 1)
                        dp = np.max(np.abs(popt - r.popt) / np.maximum(np.abs(r.popt), r.perr))
                        peers[label] = (t, dp)
                    except RuntimeError as e:
                        peers[label] = (float("nan"), float("nan"))
                        print(f"note: scipy {label} {name} {m}: {e}", file=sys.stderr)
            rows.append((name, m, t_first, t_ours, r.backend, r.nfev, peers))
            best = min((v[0] for v in peers.values() if v[0] == v[0]), default=float("nan"))
            print(f"RESULT {name} {m} nlsqc {t_ours:.6f} first {t_first if t_first else -1:.6f} backend {r.backend} "
                  f"nfev {r.nfev} " + " ".join(f"scipy-{k} {v[0]:.6f} dp {v[1]:.2e}" for k, v in peers.items())
                  + f" ratio {best / t_ours:.1f}", flush=True)
    print()
    print(f"{'model':<10} {'points':>9} {'nlsqc':>10} {'first':>9} {'scipy lm':>10} {'scipy trf':>10} "
          f"{'lm+jac':>10} {'best/nlsqc':>10} {'max dp':>8}")
    for name, m, tf, t, backend, nfev, peers in rows:
        def cell(k):
            return f"{peers[k][0] * 1e3:9.1f}m" if k in peers else f"{'-':>10}"
        best = min((v[0] for v in peers.values() if v[0] == v[0]), default=float("nan"))
        dp = max((v[1] for v in peers.values() if v[1] == v[1]), default=float("nan"))
        first = f"{tf * 1e3:8.1f}m" if tf else f"{'':>9}"
        print(f"{name:<10} {m:>9} {t * 1e3:9.2f}m {first} {cell('lm')} {cell('trf')} {cell('lm-jac')} "
              f"{best / t:9.1f}x {dp:8.1e}")
    print("times in ms (m); dp: the largest parameter difference to SciPy's in units of max(|p|, sigma_p)")
    batch()


def batch(nfits=100000, scipy_fits=2000):
    """bench/batch's 1-D case from Python: 4-parameter Gaussians with
    background, 32 points each, fit_batch against a curve_fit loop."""
    rng = np.random.default_rng(11)
    x = np.linspace(-3, 3, 32)
    truth = np.column_stack([rng.uniform(1, 3, nfits), rng.uniform(-1, 1, nfits), rng.uniform(0.5, 1.2, nfits),
                             rng.uniform(0, 0.5, nfits)])

    def g(x, a, mu, w, bg):
        return a * np.exp(-0.5 * ((x - mu) / w) ** 2) + bg
    y = g(x[None, :], *truth.T[:, :, None]) + 0.05 * rng.standard_normal((nfits, x.size))
    p0 = truth * rng.uniform(0.9, 1.1, truth.shape)
    print(f"\nbatches: {nfits} fits of a 1-D Gaussian with background (4 parameters, 32 points)")
    scipy_tols = dict(ftol=1.49012e-8, xtol=1.49012e-8, gtol=0.0)  # leastsq's defaults, as bench/batch
    for method in ("lm", "trf"):
        for label, tols in (("tolerances 1e-15 (nlsq's)", {}), ("SciPy's tolerances", scipy_tols)):
            nlsqc.fit_batch(g, x, y[:1000], p0=p0[:1000], method=method, **tols)  # the trace, the kernel
            t, r = timed(lambda: nlsqc.fit_batch(g, x, y, p0=p0, method=method, **tols), 2)
            print(f"  nlsqc.fit_batch {method:<3} {label:<26} {nfits / t:10.3g} fits/s  ({r.converged} converged, "
                  f"mean nfev {r.nfev.mean():.1f}, {r.threads} threads, {r.backend})")
    t0 = time.perf_counter()
    for i in range(scipy_fits):
        scipy_curve_fit(g, x, y[i], p0=p0[i])
    t = time.perf_counter() - t0
    print(f"  scipy curve_fit loop (lm, {scipy_fits} fits) {scipy_fits / t:10.3g} fits/s")


if __name__ == "__main__":
    main()
