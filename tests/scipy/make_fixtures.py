#!/usr/bin/python3
"""Write tests/scipy/fixtures.txt: curve_fit problems solved by SciPy, for
tests/test_scipy.c to compare nlsq against.

Run with Debian's SciPy (apt-get install python3-scipy):
    /usr/bin/python3 tests/scipy/make_fixtures.py

Every problem is solved by scipy.optimize.curve_fit with the exact
Jacobian (complex step, which is exact to rounding for these analytic
models) and tight tolerances, so that the fixtures record the solution
itself rather than where a finite-difference Jacobian or a loose tolerance
happened to stop. Fixed parameters, which SciPy does not have, are fixed by
fitting a wrapper with the parameter substituted.
"""
import os
import sys

import numpy as np
import scipy
from scipy.optimize import curve_fit

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures.txt")
TOL = 1e-15


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def gauss_lin(x, A, mu, s, c0, c1):
    return A * np.exp(-(x - mu) ** 2 / (2 * s ** 2)) + c0 + c1 * x


def gauss2d(xy, A, x0, sx, y0, sy, B):
    x, y = xy
    return A * np.exp(-((x - x0) ** 2 / (2 * sx ** 2) + (y - y0) ** 2 / (2 * sy ** 2))) + B


def sine(x, a, w, phi, c):
    return a * np.sin(w * x + phi) + c


def power(x, a, b):
    return a * x ** b


def rational(x, a, b, c):
    return (a + b * x) / (1 + c * x)


def mm(x, vmax, km):
    return vmax * x / (km + x)


MODELS = {
    "decay": ("a*exp(-b*x) + c", "x", decay),
    "gauss_lin": ("A*exp(-(x-mu)^2/(2*s^2)) + c0 + c1*x", "x", gauss_lin),
    "gauss2d": ("A*exp(-((x-x0)^2/(2*sx^2) + (y-y0)^2/(2*sy^2))) + B", "x,y", gauss2d),
    "sine": ("a*sin(w*x + phi) + c", "x", sine),
    "power": ("a*x^b", "x", power),
    "rational": ("(a + b*x)/(1 + c*x)", "x", rational),
    "mm": ("vmax*x/(km + x)", "x", mm),
}


def complex_step_jac(f):
    def jac(x, *p):
        p = np.asarray(p, dtype=float)
        cols = []
        h = 1e-30
        for j in range(p.size):
            pc = p.astype(complex)
            pc[j] += 1j * h
            cols.append(np.imag(f(x, *pc)) / h)
        return np.column_stack(cols)
    return jac


def data(kind, m, rng):
    if kind == "decay":
        x = np.linspace(0, 4, m)
        return x, decay(x, 2.5, 1.3, 0.5) + rng.normal(0, 0.02, m)
    if kind == "gauss_lin":
        x = np.linspace(-3, 3, m)
        return x, gauss_lin(x, 3, 0.2, 0.7, 0.1, 0.05) + rng.normal(0, 0.03, m)
    if kind == "gauss2d":
        g = int(round(np.sqrt(m)))
        xs, ys = np.meshgrid(np.linspace(-2, 2, g), np.linspace(-2, 2, g))
        xy = np.vstack([xs.ravel(), ys.ravel()])
        return xy, gauss2d(xy, 3, 0.1, 0.8, -0.2, 0.6, 0.3) + rng.normal(0, 0.02, xy.shape[1])
    if kind == "sine":
        x = np.linspace(0, 10, m)
        return x, sine(x, 1.5, 1.7, 0.3, 0.2) + rng.normal(0, 0.05, m)
    if kind == "power":
        x = np.linspace(1, 10, m)
        return x, power(x, 2.0, 1.5) * (1 + rng.normal(0, 0.02, m))
    if kind == "rational":
        x = np.linspace(0, 5, m)
        return x, rational(x, 1.0, 2.0, 0.5) + rng.normal(0, 0.01, m)
    if kind == "mm":
        x = np.linspace(0.1, 5, m)
        return x, mm(x, 2.0, 0.8) + rng.normal(0, 0.02, m)
    raise ValueError(kind)


# name, model, m, p0, bounds (None or (lo, hi)), sigma kind, absolute_sigma,
# method, loss, f_scale, fixed {index: value}, extra (x_scale, outliers)
PROBLEMS = [
    ("decay_trf", "decay", 40, [2, 1, 0], None, "none", 0, "trf", "linear", 1, {}, {}),
    ("decay_lm", "decay", 40, [2, 1, 0], None, "none", 0, "lm", "linear", 1, {}, {}),
    ("decay_sigma1d_rel", "decay", 40, [2, 1, 0], None, "1d", 0, "trf", "linear", 1, {}, {}),
    ("decay_sigma1d_abs", "decay", 40, [2, 1, 0], None, "1d", 1, "trf", "linear", 1, {}, {}),
    ("decay_sigma1d_lm", "decay", 40, [2, 1, 0], None, "1d", 0, "lm", "linear", 1, {}, {}),
    ("decay_sigma_scalar", "decay", 40, [2, 1, 0], None, "scalar", 0, "trf", "linear", 1, {}, {}),
    ("decay_sigma_scalar_abs", "decay", 40, [2, 1, 0], None, "scalar", 1, "trf", "linear", 1, {}, {}),
    ("decay_sigma2d_rel", "decay", 30, [2, 1, 0], None, "2d", 0, "trf", "linear", 1, {}, {}),
    ("decay_sigma2d_abs", "decay", 30, [2, 1, 0], None, "2d", 1, "trf", "linear", 1, {}, {}),
    ("decay_sigma2d_lm", "decay", 30, [2, 1, 0], None, "2d", 0, "lm", "linear", 1, {}, {}),
    ("decay_bound_active", "decay", 40, [2, 1, 0.7], ([-np.inf, -np.inf, 0.6], [np.inf, np.inf, np.inf]), "none", 0, "trf", "linear", 1, {}, {}),
    ("decay_soft_l1", "decay", 40, [2, 1, 0], None, "none", 0, "trf", "soft_l1", 0.1, {}, {"outliers": 3}),
    ("decay_huber", "decay", 40, [2, 1, 0], None, "none", 0, "trf", "huber", 0.1, {}, {"outliers": 3}),
    ("decay_cauchy", "decay", 40, [2, 1, 0], None, "none", 0, "trf", "cauchy", 0.1, {}, {"outliers": 3}),
    ("decay_arctan", "decay", 40, [2, 1, 0], None, "1d", 0, "trf", "arctan", 2.0, {}, {"outliers": 3}),
    ("decay_fixed_c", "decay", 40, [2, 1, 0.5], None, "none", 0, "trf", "linear", 1, {2: 0.5}, {}),
    ("decay_fixed_lm", "decay", 40, [2, 1, 0.5], None, "1d", 1, "lm", "linear", 1, {0: 2.5}, {}),
    ("decay_x_scale_jac", "decay", 40, [2, 1, 0], None, "none", 0, "trf", "linear", 1, {}, {"x_scale": "jac"}),
    ("gauss_lin_trf", "gauss_lin", 80, [2.5, 0, 1, 0, 0], None, "none", 0, "trf", "linear", 1, {}, {}),
    ("gauss_lin_bounds", "gauss_lin", 80, [2.5, 0, 0.5, 0, 0], ([0, -1, 0.1, -1, -1], [10, 1, 0.65, 1, 1]), "1d", 0, "trf", "linear", 1, {}, {}),
    ("gauss2d_trf", "gauss2d", 225, [2.5, 0, 1, 0, 1, 0], None, "none", 0, "trf", "linear", 1, {}, {}),
    ("sine_lm", "sine", 60, [1.2, 1.6, 0.2, 0], None, "none", 0, "lm", "linear", 1, {}, {}),
    ("power_sigma", "power", 30, [1, 1], None, "1d", 0, "lm", "linear", 1, {}, {}),
    ("rational_lm", "rational", 40, [1, 1, 1], None, "none", 0, "lm", "linear", 1, {}, {}),
    ("mm_bound_active", "mm", 30, [1.5, 1.0], ([0, 0.9], [10, 5]), "none", 0, "trf", "linear", 1, {}, {}),
    ("decay_dogbox", "decay", 40, [2, 1, 0], None, "none", 0, "dogbox", "linear", 1, {}, {}),
    ("decay_dogbox_bound", "decay", 40, [2, 1, 0.7], ([-np.inf, -np.inf, 0.6], [np.inf, np.inf, np.inf]), "1d", 0, "dogbox", "linear", 1, {}, {}),
    ("gauss_lin_dogbox_huber", "gauss_lin", 80, [2.5, 0, 0.5, 0, 0], ([0, -1, 0.1, -1, -1], [10, 1, 0.65, 1, 1]), "none", 0, "dogbox", "huber", 0.05, {}, {"outliers": 4}),
    ("mm_dogbox_bound", "mm", 30, [1.5, 1.0], ([0, 0.9], [10, 5]), "none", 0, "dogbox", "linear", 1, {}, {}),
]


def sigma_for(kind, y, m, rng):
    if kind == "none":
        return None
    if kind == "scalar":
        return 0.02
    if kind == "1d":
        return 0.01 + 0.02 * rng.random(m)
    if kind == "2d":  # AR(1) correlated errors
        s = 0.01 + 0.02 * rng.random(m)
        idx = np.arange(m)
        rho = 0.5 ** np.abs(idx[:, None] - idx[None, :])
        return rho * np.outer(s, s)
    raise ValueError(kind)


def fmt(values):
    return " ".join(repr(float(v)) for v in np.ravel(values))


def solve(prob, rng):
    name, kind, m, p0, bounds, skind, absolute, method, loss, f_scale, fixed, extra = prob
    text, vars_, f = MODELS[kind]
    x, y = data(kind, m, rng)
    if "outliers" in extra:
        for i in rng.choice(y.size, extra["outliers"], replace=False):
            y[i] += 1.0
    sigma = sigma_for(skind, y, y.size, rng)
    n = len(p0)
    p0 = list(p0)
    for j, v in fixed.items():  # nlsq holds a fixed parameter at its p0
        p0[j] = v
    free = [j for j in range(n) if j not in fixed]

    def g(xx, *q):  # the model with fixed parameters substituted
        p = [None] * n
        for j, v in fixed.items():
            p[j] = v
        for j, v in zip(free, q):
            p[j] = v
        return f(xx, *p)

    kw = dict(method=method, jac=complex_step_jac(g), absolute_sigma=bool(absolute))
    if method == "lm":
        kw.update(ftol=TOL, xtol=TOL, gtol=0.0, maxfev=100000)
    else:
        kw.update(ftol=TOL, xtol=TOL, gtol=TOL, max_nfev=100000, loss=loss, f_scale=f_scale)
        if "x_scale" in extra:
            kw["x_scale"] = extra["x_scale"]
    lo = np.full(n, -np.inf) if bounds is None else np.asarray(bounds[0], float)
    hi = np.full(n, np.inf) if bounds is None else np.asarray(bounds[1], float)
    if bounds is not None:
        kw["bounds"] = (lo[free], hi[free])
    if sigma is not None:
        kw["sigma"] = np.full(y.size, sigma) if skind == "scalar" else sigma
    q, qcov = curve_fit(g, x, y, p0=[p0[j] for j in free], **kw)
    popt = np.array(p0, dtype=float)
    pcov = np.zeros((n, n))
    for a, ja in enumerate(free):
        popt[ja] = q[a]
        for b, jb in enumerate(free):
            pcov[ja, jb] = qcov[a, b]
    lines = [f"problem {name}", f"model {text}", f"vars {vars_}", f"m {y.size}"]
    xx = np.atleast_2d(x)
    for row in xx:
        lines.append("x " + fmt(row))
    lines.append("y " + fmt(y))
    lines.append(f"sigma_kind {skind}")
    if sigma is not None:
        lines.append("sigma " + fmt(np.atleast_1d(sigma)))
    lines += [
        "p0 " + fmt(p0), "lower " + fmt(lo), "upper " + fmt(hi),
        "fixed " + " ".join("1" if j in fixed else "0" for j in range(n)),
        f"method {method}", f"loss {loss}", f"f_scale {f_scale!r}", f"absolute_sigma {absolute}",
        f"x_scale_jac {1 if extra.get('x_scale') == 'jac' else 0}",
        "popt " + fmt(popt), "pcov " + fmt(pcov), "end",
    ]
    return "\n".join(lines)


def main():
    rng = np.random.default_rng(20261124)
    blocks = [f"# made by tests/scipy/make_fixtures.py with SciPy {scipy.__version__}, NumPy {np.__version__}"]
    for prob in PROBLEMS:
        blocks.append(solve(prob, rng))
    with open(OUT, "w") as fh:
        fh.write("\n".join(blocks) + "\n")
    print(f"wrote {len(PROBLEMS)} problems to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
