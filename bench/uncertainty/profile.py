#!/usr/bin/env python3
"""Profile-likelihood intervals: nlsq (nlsqc: result.profile, every free
parameter, refits on threads) against lmfit's conf_interval on the same
data, for the 3-Gaussian bench model (bench/fitdata.h's gauss3: three
Gaussians on a constant, 10 parameters), x on [-3, 3], noise 0.01.

Both fit with leastsq's tolerances (nlsqc defaults="scipy": lm, ftol =
xtol = 1.49e-8; lmfit's leastsq), and their refits use them too. Times are
the profiles alone (both fits done, and nlsq's kernel compiled and cached,
before the clock starts); nlsq at its default root tolerance (1e-3 standard
errors) and at 1e-6. Agreement: the largest |nlsq - lmfit| over all
limits, in standard errors, and as a fraction of lmfit's own tolerance
(brentq rtol 5e-5 of the value; its refits use a finite-difference
Jacobian).

lmfit at 10^6 points takes many minutes: with --lmfit-params K it profiles
only the first K parameters there and the full time is extrapolated
(x 10/K; said in the table). Run in a Python with lmfit and nlsqc, e.g.

  NLSQ_LIBRARY=build/libnlsq.so PYTHONPATH=python \\
    /work/venvs/lmfit-env/bin/python bench/uncertainty/profile.py --sizes 10000,1000000
"""
import argparse
import time
import warnings

import numpy as np

import nlsqc

TEXT = ("a1*exp(-(x-m1)^2/(2*s1^2)) + a2*exp(-(x-m2)^2/(2*s2^2)) + a3*exp(-(x-m3)^2/(2*s3^2)) + c")
NAMES = ["a1", "m1", "s1", "a2", "m2", "s2", "a3", "m3", "s3", "c"]
TRUTH = np.array([1, -1, 0.5, 2, 0.05, 0.3, 1.5, 1.2, 0.4, 0.1])


def gauss3(x, p):
    f = np.full_like(x, p[9])
    for k in range(3):
        a, m, s = p[3 * k: 3 * k + 3]
        f += a * np.exp(-(x - m) ** 2 / (2 * s * s))
    return f


def data(m):
    rng = np.random.default_rng(20261124 + m)
    x = np.linspace(-3, 3, m)
    return x, gauss3(x, TRUTH) + 0.01 * rng.standard_normal(m)


def start():
    return TRUTH * np.where(np.arange(10) % 2, 0.75, 1.25)


def run_nlsq(x, y, level, threads):
    # the kernels compiled (and cached on disk) before anything is timed:
    # the fit's, and the refits' (one per held parameter: a kernel is made
    # for its set of free parameters); a first run anywhere compiles them
    # in the background while the interpreter serves
    step = max(1, x.size // 50000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nlsqc.curve_fit(TEXT, x[::step], y[::step], p0=start(), backend="jit").profile()
    r = nlsqc.curve_fit(TEXT, x, y, p0=start(), defaults="scipy", threads=threads)
    t0 = time.perf_counter()
    p = r.profile(level=level, threads=threads)
    t1 = time.perf_counter()
    tight = r.profile(level=level, threads=threads, tol=1e-6)
    t2 = time.perf_counter()
    r.profile(level=level, threads=1)
    return r, p, t1 - t0, tight, t2 - t1, time.perf_counter() - t2


def run_lmfit(x, y, level, names, limit):
    import lmfit

    def residual(params):
        v = params.valuesdict()
        return gauss3(x, [v[n] for n in NAMES]) - y

    params = lmfit.Parameters()
    for n, v in zip(NAMES, start()):
        params.add(n, value=v)
    mini = lmfit.Minimizer(residual, params)
    out = mini.minimize(method="leastsq")
    t0 = time.perf_counter()
    ci = lmfit.conf_interval(mini, out, p_names=names, sigmas=[level])
    return out, ci, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--level", type=float, default=0.95)
    ap.add_argument("--threads", type=int, default=0, help="nlsq threads (0: all cores)")
    ap.add_argument("--lmfit-params", type=int, default=2,
                    help="at 10^6 points and above lmfit profiles this many parameters (extrapolated)")
    ap.add_argument("--no-lmfit", action="store_true")
    a = ap.parse_args()
    rows = []
    for m in [int(s) for s in a.sizes.split(",")]:
        x, y = data(m)
        r, p, t_n, tight, t_t, t_1 = run_nlsq(x, y, a.level, a.threads)
        row = {"m": m, "nlsq": t_n, "refits": p.refits, "threads": p.threads, "tight": t_t, "tight_refits": tight.refits,
               "one": t_1}
        print(f"m={m}: nlsq profile of 10 parameters {t_n:.3f} s ({p.refits} refits on {p.threads} threads); "
              f"at tol 1e-6: {t_t:.3f} s ({tight.refits} refits); on 1 thread {t_1:.3f} s", flush=True)
        if not a.no_lmfit:
            k = 10 if m < 10**6 else max(1, min(10, a.lmfit_params))
            out, ci, t_l = run_lmfit(x, y, a.level, NAMES[:k], None)
            worst, of_tol = 0.0, 0.0
            for j, n in enumerate(NAMES[:k]):
                lo, hi = ci[n][0][1], ci[n][-1][1]
                se = r.perr[j]
                for mine, theirs in ((p[n][0], lo), (p[n][1], hi)):
                    worst = max(worst, abs(mine - theirs) / se)
                    of_tol = max(of_tol, abs(mine - theirs) / (5e-5 * abs(theirs)))
            full = t_l * 10 / k
            row.update(lmfit=full, measured=k, agree=worst, of_tol=of_tol)
            print(f"m={m}: lmfit conf_interval of {k} parameters {t_l:.2f} s" +
                  (f" (all 10: {full:.1f} s extrapolated)" if k < 10 else "") +
                  f"; largest difference {worst:.2e} standard errors, {of_tol:.2f} of lmfit's tolerance", flush=True)
        rows.append(row)
    print()
    print("| points | nlsq profile (s) | refits | nlsq, tol 1e-6 (s) | nlsq, 1 thread (s) | lmfit conf_interval (s) "
          "| ratio | ratio (tol 1e-6) | ratio (1 thread) | max |diff| / se | / lmfit's tol |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w in rows:
        head = f"| {w['m']} | {w['nlsq']:.3f} | {w['refits']} | {w['tight']:.3f} ({w['tight_refits']}) | {w['one']:.3f} |"
        if "lmfit" in w:
            note = "" if w["measured"] == 10 else f" (x10/{w['measured']}, extrapolated)"
            print(f"{head} {w['lmfit']:.1f}{note} | {w['lmfit'] / w['nlsq']:.0f}x | {w['lmfit'] / w['tight']:.0f}x | "
                  f"{w['lmfit'] / w['one']:.0f}x | {w['agree']:.1e} | {w['of_tol']:.2f} |")
        else:
            print(f"{head} - | - | - | - | - | - |")


if __name__ == "__main__":
    main()
