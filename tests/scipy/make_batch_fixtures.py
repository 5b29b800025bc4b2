#!/usr/bin/python3
"""Write tests/scipy/batch_fixtures.txt: batches of small fits, each fit
solved on its own by scipy.optimize.curve_fit, for tests/test_batch.c to
compare nlsq_fit_batch against (popt to 1e-12 relative).

Run with Debian's SciPy (apt-get install python3-scipy):
    /usr/bin/python3 tests/scipy/make_batch_fixtures.py

The Jacobian is exact (the derivatives written out below) and the
tolerances are tight (1e-15). Even so a fit's answer is fixed only to about
1e-9 relative: near the minimum the cost changes by less than its own
rounding over a region that wide, and a trust-region solver cannot tell the
points in it apart (a Gauss-Newton step from SciPy's answers is ~1e-10
relative, nlsq's alike). tests/test_batch.c therefore compares with SciPy
to 1e-8 of max(|p|, standard error), and to the bit with nlsq_curve_fit.
The data are drawn with a fixed seed.

File format, per case:
    case METHOD NFITS M N
    MODEL TEXT (nlsq's language; parameters in first-use order)
    x (M values)
    lower upper (N pairs, used by trf-bounds)
    then per fit: y (M), p0 (N), popt (N), perr (N)
"""
import os
import sys

import numpy as np
import scipy
from scipy.optimize import curve_fit

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "batch_fixtures.txt")
TOL = 1e-15
TEXT = "a*exp(-(x-mu)^2/(2*s^2)) + b"


def gauss(x, a, mu, s, b):
    return a * np.exp(-(x - mu) ** 2 / (2 * s ** 2)) + b


def gauss_jac(x, a, mu, s, b):
    e = np.exp(-(x - mu) ** 2 / (2 * s ** 2))
    return np.column_stack([e, a * e * (x - mu) / s ** 2, a * e * (x - mu) ** 2 / s ** 3, np.ones_like(x)])


def case(out, method, nfits, rng):
    m = 32
    x = np.arange(m, dtype=float)
    lower = np.array([0.0, 0.0, 0.5, -100.0])
    upper = np.array([1000.0, 31.0, 10.0, 100.0])
    out.write(f"case {method} {nfits} {m} 4\n{TEXT}\n")
    out.write(" ".join(repr(float(v)) for v in x) + "\n")
    out.write(" ".join(f"{lo!r} {hi!r}" for lo, hi in zip(lower, upper)) + "\n")
    for _ in range(nfits):
        a, mu, s, b = rng.uniform(50, 150), rng.uniform(10, 20), rng.uniform(2, 4), rng.uniform(5, 15)
        y = gauss(x, a, mu, s, b) + rng.normal(0, 2, m)
        p0 = np.array([a * rng.uniform(0.8, 1.2), mu + rng.uniform(-1, 1), s * rng.uniform(0.8, 1.2),
                       b + rng.uniform(-2, 2)])
        kw = dict(p0=p0, jac=gauss_jac, ftol=TOL, xtol=TOL, gtol=TOL)
        if method == "lm":
            popt, pcov = curve_fit(gauss, x, y, method="lm", **kw)
        elif method == "trf":
            popt, pcov = curve_fit(gauss, x, y, method="trf", **kw)
        else:
            popt, pcov = curve_fit(gauss, x, y, method="trf", bounds=(lower, upper), **kw)
        perr = np.sqrt(np.diag(pcov))
        for row in (y, p0, popt, perr):
            out.write(" ".join(repr(float(v)) for v in row) + "\n")


def main():
    rng = np.random.default_rng(20261127)
    with open(OUT, "w") as out:
        out.write(f"# written by make_batch_fixtures.py with SciPy {scipy.__version__}, NumPy {np.__version__}\n")
        for method in ("lm", "trf", "trf-bounds"):
            case(out, method, 40, rng)
    print("wrote", OUT, file=sys.stderr)


if __name__ == "__main__":
    main()
