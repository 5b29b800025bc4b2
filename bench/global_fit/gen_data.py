#!/usr/bin/python3
"""bench/global_fit: the reference shared-parameter problem (issue 23), written
once per D so that every runner fits the same numbers.

    y = a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c + d*x
    locals a ~ U(1,3), c ~ U(-0.5,0.5), d ~ U(-0.05,0.05) per data set;
    shared k0 = 1.3, Ea = 2500 K; T ~ U(280,340) K one per data set;
    x = linspace(0, 5, m); Gaussian noise 0.01; seed 23.

    gen_data.py D M FILE

FILE (little-endian): 8 bytes "NLSQGF01", uint64 D, uint64 m, then float64
x[m], T[D], y[D*m] (set after set), p0[5] (a, c, d, k0, Ea: the start of
every data set, the same for all tools).
"""
import sys

import numpy as np

MAGIC = b"NLSQGF01"
P0 = [2.0, 0.0, 0.0, 1.0, 2000.0]


def make(D, m, seed=23):
    rng = np.random.default_rng(seed)
    x = np.linspace(0.0, 5.0, m)
    T = rng.uniform(280.0, 340.0, D)
    a = rng.uniform(1.0, 3.0, D)
    c = rng.uniform(-0.5, 0.5, D)
    d = rng.uniform(-0.05, 0.05, D)
    k = 1.3 * np.exp(-2500.0 * (1.0 / T - 1.0 / 300.0))
    y = a[:, None] * np.exp(-k[:, None] * x[None, :]) + c[:, None] + d[:, None] * x[None, :]
    y += 0.01 * rng.standard_normal((D, m))
    return x, T, y


def write(path, D, m):
    x, T, y = make(D, m)
    with open(path, "wb") as f:
        f.write(MAGIC)
        np.array([D, m], dtype="<u8").tofile(f)
        for arr in (x, T, y.ravel(), np.array(P0)):
            np.ascontiguousarray(arr, dtype="<f8").tofile(f)


def read(path):
    """x (m), T (D), y (D, m), p0 (5)"""
    with open(path, "rb") as f:
        if f.read(8) != MAGIC:
            raise SystemExit(f"{path}: not a bench/global_fit data file")
        D, m = (int(v) for v in np.fromfile(f, dtype="<u8", count=2))
        x = np.fromfile(f, dtype="<f8", count=m)
        T = np.fromfile(f, dtype="<f8", count=D)
        y = np.fromfile(f, dtype="<f8", count=D * m).reshape(D, m)
        p0 = np.fromfile(f, dtype="<f8", count=5)
    return x, T, y, p0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit("usage: gen_data.py D M FILE")
    write(sys.argv[3], int(float(sys.argv[1])), int(sys.argv[2]))
