#!/usr/bin/python3
"""SciPy's curve_fit looped over small fits: the bench/batch peer.

Prints "g1 RATE" and "g2 RATE" (fits per second) for the two cases of
bench/batch.c (1-D Gaussian, 32 points; 2-D Gaussian on 5x5), each fit
with method lm (curve_fit's default without bounds), the analytic
Jacobian and the default tolerances, over NFITS fits (default 2000).
"""
import sys
import time

import numpy as np
from scipy.optimize import curve_fit


def g1(x, a, mu, s, b):
    return a * np.exp(-(x - mu) ** 2 / (2 * s * s)) + b


def g1_jac(x, a, mu, s, b):
    d = x - mu
    e = np.exp(-d * d / (2 * s * s))
    return np.column_stack([e, a * e * d / (s * s), a * e * d * d / s ** 3, np.ones_like(x)])


def g2(xy, A, x0, y0, s, B):
    x, y = xy
    return A * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * s * s)) + B


def g2_jac(xy, A, x0, y0, s, B):
    x, y = xy
    dx, dy = x - x0, y - y0
    e = np.exp(-(dx * dx + dy * dy) / (2 * s * s))
    return np.column_stack([e, A * e * dx / (s * s), A * e * dy / (s * s), A * e * (dx * dx + dy * dy) / s ** 3,
                            np.ones_like(x)])


def run(f, jac, x, truths, noise, rng):
    ys, p0s = [], []
    for t in truths:
        ys.append(f(x, *t) + noise * rng.standard_normal(x.shape[-1]))
        p0s.append(np.asarray(t) * rng.uniform(0.9, 1.1, len(t)))
    t0 = time.perf_counter()
    for y, p0 in zip(ys, p0s):
        curve_fit(f, x, y, p0=p0, jac=jac)
    return len(ys) / (time.perf_counter() - t0)


def main():
    nfits = int(float(sys.argv[1])) if len(sys.argv) > 1 else 2000
    rng = np.random.default_rng(7)
    x1 = np.arange(32.0)
    t1 = [(rng.uniform(50, 150), rng.uniform(12, 20), rng.uniform(2, 4), rng.uniform(5, 15)) for _ in range(nfits)]
    print("g1", run(g1, g1_jac, x1, t1, 2.0, rng))
    grid = np.arange(25)
    x2 = np.vstack([grid % 5, grid // 5]).astype(float)
    t2 = [(rng.uniform(500, 1500), rng.uniform(1.6, 2.4), rng.uniform(1.6, 2.4), rng.uniform(0.8, 1.3),
           rng.uniform(5, 15)) for _ in range(nfits)]
    print("g2", run(g2, g2_jac, x2, t2, 5.0, rng))


if __name__ == "__main__":
    main()
