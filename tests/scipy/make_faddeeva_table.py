"""The Faddeeva and Voigt reference values of tests/test_library.c.

    python3 tests/scipy/make_faddeeva_table.py > /tmp/faddeeva_table.h

Each w(x + iy) is scipy.special.wofz's (SciPy 1.10). Where mpmath is
installed (pip install mpmath), every value is also computed with 40 digits;
SciPy's value is kept where it agrees with mpmath to 1e-14 (Re and Im
relative), and otherwise mpmath's is used and the row marked 'M': below
the real axis with |x| and |y| both large, SciPy's exp(-z^2) loses up to
1e-8 to the rounding of 2xy (tests/test_library.c says so where it checks).
The Voigt rows are scipy.special.voigt_profile(x, sigma, gamma).
"""
import math
import sys

import numpy as np
import scipy
import scipy.special as sp

try:
    import mpmath
    mpmath.mp.dps = 40
except ImportError:
    mpmath = None

MAGS = [0.0, 1e-8, 1e-4, 0.01, 0.3, 1.0, 2.5, 3.9, 4.1, 6.0, 27.5, 30.0, 100.0, 1e4]


def mp_wofz(x, y):
    z = mpmath.mpc(x, y)
    w = mpmath.exp(-z * z) * mpmath.erfc(-1j * z)
    return complex(float(w.real), float(w.imag))


def close(a, b, tol):
    def one(u, v):
        return u == v or abs(u - v) <= tol * abs(v)
    return one(a.real, b.real) and one(a.imag, b.imag)


def main():
    print(f"/* made by tests/scipy/make_faddeeva_table.py (SciPy {scipy.__version__}"
          f"{', mpmath ' + mpmath.__version__ if mpmath else ''}): x, y, Re w, Im w, source */")
    print("static const faddeeva_row FADDEEVA_TABLE[] = {")
    for x in MAGS:
        for y in MAGS:
            for sy in ((1,) if y == 0 else (1, -1)):
                for sx in ((1,) if x == 0 or x > 30 else (1, -1)):
                    xv, yv = sx * x, sy * y
                    w = complex(sp.wofz(complex(xv, yv)))
                    if not (math.isfinite(w.real) and math.isfinite(w.imag)) or abs(w) > 1e300:
                        continue
                    src = "S"
                    if mpmath:
                        m = mp_wofz(xv, yv)
                        if not close(w, m, 1e-14):
                            w, src = m, "M"
                    print(f"    {{{xv!r}, {yv!r}, {w.real!r}, {w.imag!r}, '{src}'}},")
    print("};")
    print("/* x, sigma, gamma, scipy.special.voigt_profile(x, sigma, gamma) */")
    print("static const voigt_row VOIGT_TABLE[] = {")
    for sigma, gamma in [(1.0, 0.0), (1.0, 1e-8), (0.7, 0.3), (0.2, 2.0), (3.0, 0.01), (1e-3, 1.0), (50.0, 5.0)]:
        for x in [0.0, 1e-6, 0.5, -1.25, 3.0, 10.0, -40.0, 300.0]:
            v = float(sp.voigt_profile(x, sigma, gamma))
            print(f"    {{{x!r}, {sigma!r}, {gamma!r}, {v!r}}},")
    print("};")


if __name__ == "__main__":
    sys.exit(main())
