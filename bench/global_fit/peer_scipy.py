#!/usr/bin/python3
"""bench/global_fit's SciPy peer: least_squares (trf) on the stacked problem,
unknowns [a_0, c_0, d_0, a_1, ..., k0, Ea], with the analytic Jacobian.

    peer_scipy.py FILE sparse|fd|dense [MAX_DENSE_BYTES]

sparse: the analytic jac returns a CSR matrix (5 nonzeros a row),
        tr_solver='lsmr' (SciPy's large-problem path). jac_sparsity is not
        passed: SciPy uses it only for finite differences and ignores it
        with a callable jac.
fd:     jac='2-point' with jac_sparsity (SciPy groups the columns: 5
        evaluations a Jacobian) and tr_solver='lsmr': the issue's
        "jac_sparsity + lsmr" as a user without a Jacobian writes it.
dense:  jac returns the full ndarray, tr_solver='exact' (an SVD a step);
        refused (a SKIP line) when the Jacobian would exceed MAX_DENSE_BYTES
        (default 1 GiB).
Both with x_scale='jac' (as nlsq and Ceres's Jacobi scaling): with the
default x_scale=1, lsmr stops on xtol far from the minimum (Ea's column is
~1e-4 of the others'). SciPy's default tolerances (1e-8).
Prints one RESULT line: seconds of the least_squares call, the process's
peak RSS, the final cost and k0, Ea.
"""
import resource
import sys
import time

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.optimize import least_squares

from gen_data import read


def problem(x, T, y):
    D, m = y.shape
    u = 1.0 / T - 1.0 / 300.0  # per data set

    def parts(p):
        loc = p[:-2].reshape(D, 3)
        k0, Ea = p[-2], p[-1]
        s = np.exp(-Ea * u)  # dk/dk0
        k = k0 * s
        e = np.exp(-k[:, None] * x[None, :])
        return loc, k0, Ea, s, k, e

    def fun(p):
        loc, _, _, _, _, e = parts(p)
        r = loc[:, 0:1] * e + loc[:, 1:2] + loc[:, 2:3] * x[None, :] - y
        return r.ravel()

    def jac_rows(p):
        """(D*m, 5): d/da, d/dc, d/dd, d/dk0, d/dEa of every residual"""
        loc, _, _, s, k, e = parts(p)
        axe = loc[:, 0:1] * x[None, :] * e
        J = np.empty((D, m, 5))
        J[:, :, 0] = e
        J[:, :, 1] = 1.0
        J[:, :, 2] = x[None, :]
        J[:, :, 3] = -axe * s[:, None]
        J[:, :, 4] = axe * (k * u)[:, None]
        return J.reshape(D * m, 5)

    return fun, jac_rows


def main():
    path, mode = sys.argv[1], sys.argv[2]
    cap = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0**30
    x, T, y, p0 = read(path)
    D, m = y.shape
    nrow, ncol = D * m, 3 * D + 2
    tool = "scipy-" + mode
    if mode == "dense" and nrow * ncol * 8 > cap:
        print(f"SKIP tool={tool} D={D} why=dense_J_{nrow * ncol * 8 / 2**30:.1f}GiB>cap_{cap / 2**30:.1f}GiB")
        return
    fun, jac_rows = problem(x, T, y)
    # column of each row's five entries: its set's a, c, d, then k0, Ea
    setcol = np.repeat(3 * np.arange(D, dtype=np.int32), m)
    cols = np.empty((nrow, 5), dtype=np.int32)  # SciPy's own index type at these sizes
    cols[:, 0], cols[:, 1], cols[:, 2] = setcol, setcol + 1, setcol + 2
    cols[:, 3], cols[:, 4] = ncol - 2, ncol - 1
    if mode == "sparse":
        indptr = np.arange(0, 5 * nrow + 1, 5, dtype=np.int32)
        indices = cols.ravel()

        def jac(p):
            return sp.csr_matrix((jac_rows(p).ravel(), indices, indptr), shape=(nrow, ncol))

        kw = dict(jac=jac, tr_solver="lsmr")
    elif mode == "fd":
        # what a user without a Jacobian writes: 2-point differences over
        # the sparsity's column groups (5 evaluations a Jacobian here)
        kw = dict(jac="2-point", tr_solver="lsmr",
                  jac_sparsity=sp.csr_matrix((np.ones(5 * nrow, dtype=np.int8), cols.ravel(),
                                              np.arange(0, 5 * nrow + 1, 5, dtype=np.int32)), shape=(nrow, ncol)))
    else:
        rows = np.repeat(np.arange(nrow), 5)

        def jac(p):
            J = np.zeros((nrow, ncol))
            J[rows, cols.ravel()] = jac_rows(p).ravel()
            return J

        kw = dict(jac=jac, tr_solver="exact")
    start = np.concatenate([np.tile(p0[:3], D), p0[3:]])
    t0 = time.perf_counter()
    res = least_squares(fun, start, method="trf", x_scale="jac", **kw)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT tool={tool} D={D} seconds={dt:.6g} rss_mb={rss:.1f} cost={res.cost:.12g} "
          f"k0={res.x[-2]:.15g} Ea={res.x[-1]:.15g} nfev={res.nfev} status={res.status} scipy={scipy.__version__}")


if __name__ == "__main__":
    main()
