"""bench/python/fallback.py: the fallback path (a model nlsqc cannot
trace, called back through nlsq_fit_callback) against SciPy's curve_fit
on the same function, data and start, in the same process.

    NLSQ_LIBRARY=build/libnlsq.so PYTHONPATH=python python3 bench/python/fallback.py [POINTS ...]

The models use np.dot, np.convolve and np.interp (none traceable). Both
sides call the same Python function once per evaluation, plus once per
parameter (2-point) for the Jacobian; SciPy's defaults (lm without bounds,
trf with) on both sides. Prints the best of 21 runs of each, in ms, the
ratio SciPy / nlsqc, the evaluations each made and the largest relative
difference of popt.
"""
import sys
import time
import warnings

import numpy as np
from scipy.optimize import curve_fit as scipy_curve_fit

import nlsqc

warnings.simplefilter("ignore", nlsqc.FallbackWarning)
KERNEL = np.array([0.25, 0.5, 0.25])
GRID = np.linspace(-6, 6, 61)
SHAPE = np.exp(-GRID ** 2)


def dot_model(x, a, b, c):
    return np.dot(np.column_stack([np.exp(-b * x), np.ones_like(x)]), np.array([a, c]))


def conv_model(x, a, b, c):
    return np.convolve(a * np.exp(-b * x), KERNEL, mode="same") + c


def interp_model(x, a, x0, c):
    return a * np.interp(x - x0, GRID, SHAPE) + c


CASES = [("np.dot", dot_model, (2.0, 1.3, 0.5), [1, 1, 0], None),
         ("np.convolve", conv_model, (1.5, 0.8, 0.1), [1, 1, 0], None),
         ("np.interp", interp_model, (2.0, 0.37, 0.1), [1, 0.2, 0], None),
         ("np.dot bounded", dot_model, (2.0, 1.3, 0.5), [1, 1, 0], ([0, 0, -1], [10, 10, 1]))]


def best(fn, repeat=21):
    t, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        t = min(t, time.perf_counter() - t0)
    return t * 1e3, out


def main(sizes):
    print(f"{'model':>15} {'points':>8} {'nlsqc ms':>9} {'scipy ms':>9} {'ratio':>6} {'nfev n/s':>9} {'popt rel':>9}")
    for m in sizes:
        x = np.linspace(-3, 4, m)
        for name, f, truth, p0, bounds in CASES:
            y = f(x, *truth) + 0.01 * np.sin(37 * x)
            kw = {} if bounds is None else {"bounds": bounds}
            tn, r = best(lambda: nlsqc.curve_fit(f, x, y, p0=p0, **kw))
            ts, s = best(lambda: scipy_curve_fit(f, x, y, p0=p0, full_output=True, **kw))
            rel = np.max(np.abs(r.popt - s[0]) / np.abs(s[0]))
            print(f"{name:>15} {m:>8} {tn:9.3f} {ts:9.3f} {ts / tn:6.2f} {r.nfev:>4}/{s[2]['nfev']:<4} {rel:9.1e}")


if __name__ == "__main__":
    main([int(float(a)) for a in sys.argv[1:]] or [1000, 100000])
