"""The Python NLSQ library (JAX, on the CPU) as a peer of bench/fit: its
curve_fit on the data files bench_fit --write made. The first call in the
process traces and compiles the model with XLA; a second call on the same
data is reported apart ("nlsq-jax-first" and "nlsq-jax"). Prints RESULT
lines like bench_fit. Needs Python >= 3.12 and `pip install nlsq`.

    peer_nlsq_jax.py DIR SIZES MODELS
"""
import logging
import os
import sys
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from nlsq import curve_fit  # noqa: E402

logging.getLogger("nlsq").setLevel(logging.WARNING)

TRUTH = {
    "decay": [2.5, 1.3, 0.5],
    "gauss_lin": [3, 0.2, 0.7, 0.1, 0.05],
    "gauss2d": [3, 0.1, 0.8, -0.2, 0.6, 0.3],
    "gauss3": [1, -1, 0.5, 2, 0.05, 0.3, 1.5, 1.2, 0.4, 0.1],
}


def decay(x, a, b, c):
    return a * jnp.exp(-b * x) + c


def gauss_lin(x, A, mu, s, c0, c1):
    return A * jnp.exp(-(x - mu) ** 2 / (2 * s * s)) + c0 + c1 * x


def gauss2d(xy, A, x0, sx, y0, sy, B):
    x, y = xy[0], xy[1]
    return A * jnp.exp(-((x - x0) ** 2 / (2 * sx * sx) + (y - y0) ** 2 / (2 * sy * sy))) + B


def gauss3(x, a1, m1, s1, a2, m2, s2, a3, m3, s3, c):
    return (a1 * jnp.exp(-(x - m1) ** 2 / (2 * s1 * s1)) + a2 * jnp.exp(-(x - m2) ** 2 / (2 * s2 * s2))
            + a3 * jnp.exp(-(x - m3) ** 2 / (2 * s3 * s3)) + c)


FUNCS = {"decay": (decay, 1), "gauss_lin": (gauss_lin, 1), "gauss2d": (gauss2d, 2), "gauss3": (gauss3, 1)}


def fit_once(f, x, y, p0):
    t0 = time.perf_counter()
    popt, _ = curve_fit(f, x, y, p0=p0)
    popt = np.asarray(popt)
    return time.perf_counter() - t0, popt


def main():
    d, sizes, models = sys.argv[1], sys.argv[2], sys.argv[3]
    for s in sizes.split(","):
        m = int(float(s))
        for name in ["decay", "gauss_lin", "gauss2d", "gauss3"]:
            if name not in models:
                continue
            f, nv = FUNCS[name]
            raw = np.fromfile(f"{d}/{name}_{m}.bin", dtype=np.float64)
            x = raw[:nv * m].reshape(nv, m) if nv > 1 else raw[:m]
            y = raw[nv * m:]
            p0 = [v * (0.75 if j % 2 else 1.25) for j, v in enumerate(TRUTH[name])]
            for label in ["nlsq-jax-first", "nlsq-jax"]:
                try:
                    t, popt = fit_once(f, x, y, p0)
                    ok = True
                except Exception as e:  # report, do not stop the benchmark
                    print(f"note: {label} {name} {m}: {e}", file=sys.stderr)
                    t, popt, ok = 0.0, np.array(p0, dtype=float), False
                r = np.asarray(f(x, *popt)) - y
                peer = label + ("" if ok else "(failed)")
                print(f"RESULT {name} {m} {peer} {t:.6f} -1 {float(r @ r)!r} "
                      + " ".join(repr(float(v)) for v in popt), flush=True)


if __name__ == "__main__":
    main()
