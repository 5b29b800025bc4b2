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
SciPy variant's time over nlsqc's.
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
            # gauss3 is f(x, *p): nlsqc needs the count, which p0 gives
            t_first = None
            if name not in first_done:
                t_first, _ = timed(lambda: nlsqc.curve_fit(f, x, y, p0=p0), 1)
                first_done.add(name)
            rep = 5 if m <= 10**5 else 2
            t_ours, r = timed(lambda: nlsqc.curve_fit(f, x, y, p0=p0), rep)
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


if __name__ == "__main__":
    main()
