#!/usr/bin/python3
"""SciPy peer of bench/fit: curve_fit with method lm and trf, with SciPy's
default finite-difference Jacobian and with an analytic jac, on the data
files bench_fit --write made. Prints RESULT lines like bench_fit.

    peer_scipy.py DIR SIZES MODELS
"""
import sys
import time

import numpy as np
from scipy.optimize import curve_fit

TRUTH = {
    "decay": [2.5, 1.3, 0.5],
    "gauss_lin": [3, 0.2, 0.7, 0.1, 0.05],
    "gauss2d": [3, 0.1, 0.8, -0.2, 0.6, 0.3],
    "gauss3": [1, -1, 0.5, 2, 0.05, 0.3, 1.5, 1.2, 0.4, 0.1],
}


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def decay_jac(x, a, b, c):
    e = np.exp(-b * x)
    return np.column_stack([e, -a * x * e, np.ones_like(x)])


def gauss_lin(x, A, mu, s, c0, c1):
    return A * np.exp(-(x - mu) ** 2 / (2 * s * s)) + c0 + c1 * x


def gauss_lin_jac(x, A, mu, s, c0, c1):
    d = x - mu
    g = np.exp(-d * d / (2 * s * s))
    return np.column_stack([g, A * g * d / s**2, A * g * d * d / s**3, np.ones_like(x), x])


def gauss2d(xy, A, x0, sx, y0, sy, B):
    x, y = xy
    return A * np.exp(-((x - x0) ** 2 / (2 * sx * sx) + (y - y0) ** 2 / (2 * sy * sy))) + B


def gauss2d_jac(xy, A, x0, sx, y0, sy, B):
    x, y = xy
    dx, dy = x - x0, y - y0
    g = np.exp(-(dx * dx / (2 * sx * sx) + dy * dy / (2 * sy * sy)))
    Ag = A * g
    return np.column_stack([g, Ag * dx / sx**2, Ag * dx * dx / sx**3, Ag * dy / sy**2, Ag * dy * dy / sy**3,
                            np.ones_like(x)])


def gauss3(x, *p):
    s = p[9]
    for k in range(3):
        s = s + p[3 * k] * np.exp(-(x - p[3 * k + 1]) ** 2 / (2 * p[3 * k + 2] ** 2))
    return s


def gauss3_jac(x, *p):
    cols = []
    for k in range(3):
        a, m, s = p[3 * k:3 * k + 3]
        d = x - m
        g = np.exp(-d * d / (2 * s * s))
        cols += [g, a * g * d / s**2, a * g * d * d / s**3]
    cols.append(np.ones_like(x))
    return np.column_stack(cols)


FUNCS = {"decay": (decay, decay_jac, 1), "gauss_lin": (gauss_lin, gauss_lin_jac, 1),
         "gauss2d": (gauss2d, gauss2d_jac, 2), "gauss3": (gauss3, gauss3_jac, 1)}


def main():
    d, sizes, models = sys.argv[1], sys.argv[2], sys.argv[3]
    for s in sizes.split(","):
        m = int(float(s))
        for name in ["decay", "gauss_lin", "gauss2d", "gauss3"]:
            if name not in models:
                continue
            f, jac, nv = FUNCS[name]
            raw = np.fromfile(f"{d}/{name}_{m}.bin", dtype=np.float64)
            x = raw[:nv * m].reshape(nv, m) if nv > 1 else raw[:m]
            y = raw[nv * m:]
            p0 = [v * (0.75 if j % 2 else 1.25) for j, v in enumerate(TRUTH[name])]
            for method in ["lm", "trf"]:
                for j, label in [(None, ""), (jac, "-jac")]:
                    t0 = time.perf_counter()
                    try:
                        kw = {"jac": j} if j is not None else {}
                        popt, _, info, _, _ = curve_fit(f, x, y, p0=p0, method=method, full_output=True, **kw)
                        ok = True
                    except RuntimeError:
                        popt, info, ok = np.array(p0), {"nfev": -1}, False
                    t = time.perf_counter() - t0
                    r = f(x, *popt) - y
                    peer = f"scipy-{method}{label}" + ("" if ok else "(failed)")
                    print(f"RESULT {name} {m} {peer} {t:.6f} {info['nfev']} {float(r @ r)!r} "
                          + " ".join(repr(float(v)) for v in popt), flush=True)


if __name__ == "__main__":
    main()
