#!/usr/bin/python3
"""SciPy peer of bench/large: curve_fit (trf, analytic jac, per-point
sigma) on the x.npy, y.npy and sigma.npy that bench_large scipy-data wrote.
Prints a RESULT line like bench_large, with the peak RSS of this process.

    peer_scipy_large.py DIR
"""
import resource
import sys
import time

import numpy as np
from scipy.optimize import curve_fit


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def decay_jac(x, a, b, c):
    e = np.exp(-b * x)
    return np.column_stack([e, -a * x * e, np.ones_like(x)])


d = sys.argv[1]
x, y, s = (np.load(f"{d}/{n}.npy").ravel() for n in ("x", "y", "sigma"))
t0 = time.perf_counter()
popt, pcov, info, msg, ier = curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, jac=decay_jac, method="trf",
                                       full_output=True)
t = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"RESULT scipy m={x.size} seconds={t:.3f} passes={info['nfev']} per_pass={t / info['nfev']:.4f} "
      f"rss_mb={rss:.1f} backend=numpy a={popt[0]:.10g} b={popt[1]:.10g} c={popt[2]:.10g} status={ier}")
