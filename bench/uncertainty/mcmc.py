"""MCMC: nlsq's ensemble sampler (nlsqc: result.mcmc) against emcee on the
same posterior, the same walkers, steps and start.

The posterior: an exponential decay A exp(-k x) + c with known sigma
(absolute sigma, flat priors), at 10^3 and 10^5 points. Peers, measured in
this run on this machine:
  - lmfit's Minimizer.emcee (emcee calling lmfit's residual per walker),
  - emcee on a numpy log-probability, one walker per call (emcee's default),
  - emcee with vectorize=True (all walkers of a half in one numpy call).
All start from the same ball around the least-squares solution (0.1
standard errors) and run the same walkers x steps; burn-in steps/4.

Reported: samples per second (walkers x steps / seconds of the sampling
alone) and nlsq's ratio to each; the posterior's 16/50/84 % quantiles of
each peer against nlsq's in units of the Monte Carlo error (|z| < 4 is
agreement; the error of a quantile from the ESS of both chains); and
nlsq's tau against emcee's autocorr.integrated_time on the same chain.

Run with the lmfit environment (numpy 2, lmfit, emcee):
  NLSQ_LIBRARY=build/libnlsq.so PYTHONPATH=python \
      /work/venvs/lmfit-env/bin/python bench/uncertainty/mcmc.py [--quick]
"""
import argparse
import logging
import os
import time
import warnings

import numpy as np

import nlsqc

try:
    import emcee
except ImportError:  # pragma: no cover
    emcee = None
try:
    import lmfit
except ImportError:  # pragma: no cover
    lmfit = None

WALKERS = 32
TRUE = (3.0, 1.3, 0.5)
SIGMA = 0.05


def data(m, seed=1):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 5, m)
    y = TRUE[0] * np.exp(-TRUE[1] * x) + TRUE[2] + SIGMA * rng.standard_normal(m)
    return x, y, np.full(m, SIGMA)


def model(theta, x):
    A, k, c = theta
    return A * np.exp(-k * x) + c


def run_nlsq(x, y, s, steps, burn, pos):
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0], sigma=s, absolute_sigma=True)
    r.mcmc(steps=20, walkers=WALKERS, burn=0, init=pos)  # warm: the kernel compiled or loaded, threads up
    t = time.perf_counter()
    m = r.mcmc(steps=steps, walkers=WALKERS, burn=burn, seed=1, init=pos)
    dt = time.perf_counter() - t
    return dt, m.chain, m.tau, m.ess


def run_emcee(x, y, s, steps, burn, pos, vectorize):
    def logp(theta):
        if vectorize:  # (K, 3)
            A, k, c = theta[:, 0:1], theta[:, 1:2], theta[:, 2:3]
            r = (y - (A * np.exp(-k * x) + c)) / s
            return -0.5 * np.einsum("ij,ij->i", r, r)
        r = (y - model(theta, x)) / s
        return -0.5 * np.sum(r * r)  # (np.dot would call BLAS, whose threads fight over the cores)

    np.random.seed(1)  # emcee draws from numpy's global generator
    sampler = emcee.EnsembleSampler(WALKERS, 3, logp, vectorize=vectorize)
    t = time.perf_counter()
    sampler.run_mcmc(pos, steps, progress=False)
    dt = time.perf_counter() - t
    return dt, sampler.get_chain(discard=burn)


def run_lmfit(x, y, s, steps, burn, pos):
    p = lmfit.Parameters()
    for name, v in zip("Akc", pos.mean(0)):
        p.add(name, value=v)

    def resid(params):
        v = params.valuesdict()
        return (y - (v["A"] * np.exp(-v["k"] * x) + v["c"])) / s

    mini = lmfit.Minimizer(resid, p)
    t = time.perf_counter()
    mini.emcee(params=p, steps=steps, nwalkers=WALKERS, burn=burn, pos=pos, is_weighted=True, progress=False, seed=1)
    dt = time.perf_counter() - t
    return dt, mini.sampler.get_chain(discard=burn)


def ess_of(chain):
    tau = emcee.autocorr.integrated_time(chain, quiet=True)
    return chain.shape[0] * chain.shape[1] / tau


def quantile_z(chain_ref, ess_ref, chain, ess):
    """Largest |z| over the parameters and the 16/50/84 % quantiles: the
    difference over the Monte Carlo error sqrt(p(1-p)/ESS)/density, the
    density from the normal approximation (sd of the samples)."""
    a, b = chain_ref.reshape(-1, 3), chain.reshape(-1, 3)
    zmax = 0.0
    for j in range(3):
        sd = a[:, j].std()
        for p, u in ((0.16, -0.994458), (0.5, 0.0), (0.84, 0.994458)):
            dens = np.exp(-0.5 * u * u) / (np.sqrt(2 * np.pi) * sd)
            se = np.sqrt(p * (1 - p) * (1 / ess_ref[j] + 1 / ess[j])) / dens
            zmax = max(zmax, abs(np.quantile(a[:, j], p) - np.quantile(b[:, j], p)) / se)
    return zmax


def bench(m, steps, skip_slow):
    x, y, s = data(m)
    burn = steps // 4
    fit = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0], sigma=s, absolute_sigma=True)
    rng = np.random.default_rng(5)
    pos = fit.popt + 0.1 * fit.perr * rng.standard_normal((WALKERS, 3))
    rows = []
    dt, chain, tau, ess = run_nlsq(x, y, s, steps, burn, pos)
    tau_emcee = emcee.autocorr.integrated_time(chain, quiet=True)
    rows.append(("nlsq (nlsqc result.mcmc)", dt, chain, ess))
    print(f"  m={m}: nlsq tau {np.round(tau, 2)} vs emcee.integrated_time on the same chain "
          f"{np.round(tau_emcee, 2)}", flush=True)
    peers = [("emcee, vectorized numpy", lambda: run_emcee(x, y, s, steps, burn, pos, True)),
             ("emcee, numpy per walker", lambda: run_emcee(x, y, s, steps, burn, pos, False))]
    if lmfit is not None:
        peers.append(("lmfit Minimizer.emcee", lambda: run_lmfit(x, y, s, steps, burn, pos)))
    for name, fn in peers:
        if skip_slow and "vectorized" not in name:
            continue
        dt_p, chain_p = fn()
        rows.append((name, dt_p, chain_p, ess_of(chain_p)))
    out = []
    ref = rows[0]
    for name, dt_r, chain_r, ess_r in rows:
        sps = WALKERS * steps / dt_r
        z = 0.0 if name is ref[0] else quantile_z(ref[2], ref[3], chain_r, ess_r)
        out.append((m, name, steps, dt_r, sps, (WALKERS * steps / ref[1]) / sps, z, float(np.min(ess_r))))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    args = ap.parse_args()
    if emcee is None:
        raise SystemExit("emcee is not installed here (pip install emcee)")
    logging.getLogger("emcee").setLevel(logging.ERROR)  # its short-chain notes: the table says it with ESS
    warnings.simplefilter("ignore", nlsqc.McmcWarning)  # nlsq's own
    print(f"nlsq MCMC benchmark: {WALKERS} walkers, exponential decay with known sigma; "
          f"emcee {emcee.__version__}, lmfit {lmfit.__version__ if lmfit else 'absent'}, numpy {np.__version__}; "
          f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    plan = [(1000, 300 if args.quick else 2000), (100000, 40 if args.quick else 200)]
    table = []
    for m, steps in plan:
        table += bench(m, steps, False)
    print()
    print(f"{'points':>7}  {'sampler':<26} {'steps':>6} {'seconds':>9} {'samples/s':>11} {'nlsq x':>8} "
          f"{'quantile |z|':>12} {'min ESS':>8}")
    for m, name, steps, dt, sps, ratio, z, ess in table:
        zt = "-" if name.startswith("nlsq") else f"{z:.2f}"
        print(f"{m:>7}  {name:<26} {steps:>6} {dt:>9.3f} {sps:>11.0f} {ratio:>8.1f} {zt:>12} {ess:>8.0f}")
    print("\nnlsq x: nlsq's samples per second over the peer's (same walkers, steps and start). quantile |z|: the "
          "largest difference of the 16/50/84 % quantiles from nlsq's over their Monte Carlo error (< 4: agree).")


if __name__ == "__main__":
    main()
