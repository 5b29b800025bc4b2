#!/usr/bin/env python3
"""The Python NLSQ library (JAX, GPU) on bench_gpu's data: curve_fit on the
same x, y and start, first call (tracing, XLA compilation) and a repeated
call timed apart. Prints RESULT lines like bench_gpu.

    peer_nlsq.py DIR SIZES MODELS
"""
import sys
import time

import jax.numpy as jnp
import numpy as np
from nlsq import curve_fit

TRUTH = {
    "decay": [2.5, 1.3, 0.5],
    "gauss_lin": [3, 0.2, 0.7, 0.1, 0.05],
    "gauss2d": [3, 0.1, 0.8, -0.2, 0.6, 0.3],
    "gauss3": [1, -1, 0.5, 2, 0, 0.3, 1.5, 1.2, 0.4, 0.1],
}


def decay(x, a, b, c):
    return a * jnp.exp(-b * x) + c


def gauss_lin(x, A, mu, s, c0, c1):
    return A * jnp.exp(-(x - mu) ** 2 / (2 * s * s)) + c0 + c1 * x


def gauss2d(xy, A, x0, sx, y0, sy, B):
    x, y = xy
    return A * jnp.exp(-((x - x0) ** 2 / (2 * sx * sx) + (y - y0) ** 2 / (2 * sy * sy))) + B


def gauss3(x, a1, m1, s1, a2, m2, s2, a3, m3, s3, c):
    g = lambda a, m, s: a * jnp.exp(-(x - m) ** 2 / (2 * s * s))
    return g(a1, m1, s1) + g(a2, m2, s2) + g(a3, m3, s3) + c


FUNCS = {"decay": decay, "gauss_lin": gauss_lin, "gauss2d": gauss2d, "gauss3": gauss3}

d, sizes, models = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
for tok in sizes:
    for name in models:
        x = np.load(f"{d}/{name}_{tok}_x.npy")
        if name == "gauss2d":
            x = np.vstack([x, np.load(f"{d}/{name}_{tok}_x2.npy")])
        y = np.load(f"{d}/{name}_{tok}_y.npy")
        p0 = [p * 1.1 + 0.02 for p in TRUTH[name]]
        for label in ("first", "repeat"):
            t0 = time.perf_counter()
            popt, pcov = curve_fit(FUNCS[name], x, y, p0=p0)
            np.asarray(popt)
            t = time.perf_counter() - t0
            print(f"RESULT {name} m={y.size} device=nlsq-jax-{label} seconds={t:.4f} b={float(popt[1]):.12g}")
            sys.stdout.flush()
