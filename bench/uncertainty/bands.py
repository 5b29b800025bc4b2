"""Intervals and bands (issue 20, part 1-2) against lmfit and SciPy.

For each bench model (a Gaussian on a line, an exponential decay on a
constant, a straight line) both fit the same data to 1e-15 tolerances,
then:
  interval   nlsq's result.interval(0.95) against lmfit's stderr times
             SciPy's t.ppf(0.975, dof)
  t          nlsq's critical value against SciPy's t.ppf
  conf/pred  result.band(x) against lmfit's ModelResult.eval_uncertainty
             (dely) and dely_predicted, on 200 x-values across the data
             and beyond
Each agreement is the largest relative difference, twice: "own fits"
(each package's own parameters and covariance, so it includes how closely
the two fits agree; lmfit's covariance comes from MINPACK's
finite-difference Jacobian, compared with the exact one in a table of its
own) and "method" (nlsq's band and interval computed from
lmfit's parameters and covariance: the formulas alone). Then the time for
a band on 10^5 x-values: nlsq (result.band: the confidence band alone;
result.bands: both from one evaluation) against lmfit's eval_uncertainty
(both at once), median of several runs.

Run (numpy 2 and lmfit in the peers' environment):
  NLSQ_LIBRARY=build/libnlsq.so PYTHONPATH=python \
      /work/venvs/lmfit-env/bin/python bench/uncertainty/bands.py [--points 100000] [--repeat 5]
"""
import argparse
import os
import time

import numpy as np
from scipy import stats

import lmfit
import nlsqc


def data(kind, n=300):
    rng = np.random.default_rng(20)
    if kind == "gaussian+line":
        x = np.linspace(0, 10, n)
        y = 6 / (0.8 * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((x - 5) / 0.8) ** 2) + 0.2 * x + 0.5
        y += rng.normal(0, 0.05, n)
    elif kind == "exponential":
        x = np.linspace(0, 8, n)
        y = 5 * np.exp(-x / 1.7) + 0.4 + rng.normal(0, 0.03, n)
    else:
        x = np.linspace(-3, 7, n)
        y = 1.2 - 0.6 * x + rng.normal(0, 0.2, n)
    return x, y


def models(kind):
    """(nlsq model text, lmfit model, start values by lmfit's names, the
    order of nlsq's parameters by lmfit's names)"""
    if kind == "gaussian+line":
        m = lmfit.models.GaussianModel(prefix="g_") + lmfit.models.LinearModel(prefix="l_")
        p0 = {"g_amplitude": 5, "g_center": 4.8, "g_sigma": 1, "l_slope": 0.1, "l_intercept": 0}
        return "gaussian(x) + linear(x)", m, p0, ["g_amplitude", "g_center", "g_sigma", "l_slope", "l_intercept"]
    if kind == "exponential":
        m = lmfit.models.ExponentialModel(prefix="e_") + lmfit.models.ConstantModel(prefix="c_")
        p0 = {"e_amplitude": 4, "e_decay": 1, "c_c": 0}
        return "exponential(x) + constant(x)", m, p0, ["e_amplitude", "e_decay", "c_c"]
    m = lmfit.models.LinearModel(prefix="l_")
    return "linear(x)", m, {"l_slope": 1, "l_intercept": 0}, ["l_slope", "l_intercept"]


def maxrel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


class FromLmfit:
    """lmfit's fit in the shape nlsqc's band and interval read, for the
    "method" comparison (nlsq's formulas on lmfit's numbers)."""

    def __init__(self, nl, res, order):
        self.popt = np.array([res.params[p].value for p in order])
        idx = [res.var_names.index(p) for p in order]
        self.pcov = res.covar[np.ix_(idx, idx)]
        self.perr = np.sqrt(np.diag(self.pcov))
        self.dof, self.m, self.redchi = res.nfree, res.ndata, res.redchi
        self.pcov_valid, self.absolute_sigma = True, False
        self.names, self.model_path, self._fit_model = nl.names, nl.model_path, nl._fit_model


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run(kind, npoints, repeat, level=0.95):
    x, y = data(kind)
    text, lm, p0, order = models(kind)
    params = lm.make_params(**p0)
    res = lm.fit(y, params, x=x, fit_kws={"xtol": 1e-15, "ftol": 1e-15, "gtol": 1e-15})
    nl = nlsqc.curve_fit(text, x, y, p0=[p0[p] for p in order], defaults="nlsq")
    q_scipy = stats.t.ppf(0.5 + level / 2, res.nfree)
    lm_stderr = np.array([res.params[p].stderr for p in order])
    lm_value = np.array([res.params[p].value for p in order])
    xb = np.linspace(x.min() - 1, x.max() + 1, 200)
    dely = res.eval_uncertainty(x=xb, sigma=level)
    dely_pred = res.dely_predicted
    row = {"model": kind, "t": maxrel(nl.critical(level), q_scipy)}
    lo, hi = nl.interval(level)
    row["interval own"] = maxrel(np.concatenate([lo, hi]),
                                 np.concatenate([lm_value - q_scipy * lm_stderr, lm_value + q_scipy * lm_stderr]))
    f, cl, cu = nl.band(xb, level=level)
    _, pl, pu = nl.band(xb, kind="prediction", level=level)
    row["conf own"] = maxrel((cu - cl) / 2, dely)
    row["pred own"] = maxrel((pu - pl) / 2, dely_pred)
    same = FromLmfit(nl, res, order)
    lo, hi = nlsqc.FitResult.interval(same, level)
    row["interval method"] = maxrel(np.concatenate([lo, hi]),
                                    np.concatenate([lm_value - q_scipy * lm_stderr, lm_value + q_scipy * lm_stderr]))
    _, cl, cu = nlsqc.FitResult.band(same, xb, level=level)
    _, pl, pu = nlsqc.FitResult.band(same, xb, kind="prediction", level=level)
    row["conf method"] = maxrel((cu - cl) / 2, dely)
    row["pred method"] = maxrel((pu - pl) / 2, dely_pred)
    # where "own" differs: each covariance against the exact one,
    # s^2 (J^T J)^-1 with the analytic Jacobian at nlsq's popt
    J = np.empty((x.size, len(order)))
    fx = np.empty(x.size)
    nlsqc._lib.lib.nlsq_model_eval(nl._fit_model.ptr, nlsqc._lib.dptr(np.ascontiguousarray(nl.popt)),
                                   nlsqc._lib.dptr(np.ascontiguousarray(x)), x.size, nlsqc._lib.dptr(fx),
                                   nlsqc._lib.dptr(J), None)
    exact = np.linalg.inv(J.T @ J) * np.sum((y - fx) ** 2) / (x.size - len(order))
    scale = np.sqrt(np.outer(np.diag(exact), np.diag(exact)))
    row["pcov nlsq"] = float(np.max(np.abs(nl.pcov - exact) / scale))
    row["pcov lmfit"] = float(np.max(np.abs(same.pcov - exact) / scale))
    # time: a band on npoints x-values
    xt = np.linspace(x.min(), x.max(), npoints)
    row["nlsq s"] = timed(lambda: nl.band(xt, level=level), repeat)
    row["nlsq both s"] = timed(lambda: nl.bands(xt, level=level), repeat)
    row["lmfit s"] = timed(lambda: res.eval_uncertainty(x=xt, sigma=level), repeat)
    row["ratio"] = row["lmfit s"] / row["nlsq s"]
    row["ratio both"] = row["lmfit s"] / row["nlsq both s"]
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=100000, help="x-values of the timed band (default 10^5)")
    ap.add_argument("--repeat", type=int, default=5, help="timed runs, the median reported (default 5)")
    a = ap.parse_args()
    print(f"nlsqc {nlsqc.__version__}, lmfit {lmfit.__version__}, numpy {np.__version__}; load "
          f"{os.getloadavg()[0]:.2f}; band timed on {a.points} x-values, median of {a.repeat}")
    print("max relative difference against lmfit (bands: eval_uncertainty's dely, dely_predicted; intervals:"
          " lmfit stderr * SciPy t.ppf) and SciPy's t; target 1e-6")
    cols = ["t", "interval own", "interval method", "conf own", "conf method", "pred own", "pred method"]
    print(f"{'model':15s}" + "".join(f"{c:>16s}" for c in cols))
    worst, rows = 0.0, []
    for kind in ("gaussian+line", "exponential", "line"):
        r = run(kind, a.points, a.repeat)
        worst = max(worst, *(r[c] for c in cols if "own" not in c))
        rows.append(r)
        print(f"{kind:15s}" + "".join(f"{r[c]:16.2e}" for c in cols))
    print("\ncovariance against the exact s^2 (J^T J)^-1 (analytic J at nlsq's popt; largest |difference| / "
          "sqrt(var_i var_j)): where 'own' differs")
    print(f"{'model':15s}{'nlsq pcov':>12s}{'lmfit covar':>13s}")
    for r in rows:
        print(f"{r['model']:15s}{r['pcov nlsq']:12.2e}{r['pcov lmfit']:13.2e}")
    print(f"\ntime for a band on {a.points} x-values (seconds; lmfit's eval_uncertainty computes both bands at once)")
    print(f"{'model':15s}{'nlsq conf':>12s}{'nlsq both':>12s}{'lmfit':>12s}{'ratio conf':>12s}{'ratio both':>12s}")
    for r in rows:
        print(f"{r['model']:15s}{r['nlsq s']:12.4f}{r['nlsq both s']:12.4f}{r['lmfit s']:12.4f}"
              f"{r['ratio']:11.1f}x{r['ratio both']:11.1f}x")
    print(f"worst method difference {worst:.2e} ({'meets' if worst <= 1e-6 else 'misses'} the 1e-6 target)")


if __name__ == "__main__":
    main()
