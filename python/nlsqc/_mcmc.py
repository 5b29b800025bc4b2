"""Posterior sampling after a fit: result.mcmc(steps=..., walkers=...,
seed=...) or nlsqc.mcmc(result, ...), over the C library's nlsq_mcmc (an
affine-invariant ensemble sampler, emcee's stretch move; each half of the
walkers evaluated in one pass over the data). docs/uncertainty.md."""
import ctypes
import warnings

import numpy

from . import _lib
from ._options import raise_status

_dp = ctypes.POINTER(ctypes.c_double)
NQUANT = 5
QUANTILE_LEVELS = (0.025, 0.16, 0.5, 0.84, 0.975)


class _Options(ctypes.Structure):
    _fields_ = [
        ("walkers", ctypes.c_int), ("steps", ctypes.c_int), ("burn", ctypes.c_int), ("thin", ctypes.c_int),
        ("seed", ctypes.c_uint64), ("stretch", ctypes.c_double), ("init_scale", ctypes.c_double),
        ("init", _dp), ("prior_mean", _dp), ("prior_sd", _dp),
    ]


class _Result(ctypes.Structure):
    _fields_ = [
        ("n", ctypes.c_int), ("n_free", ctypes.c_int), ("walkers", ctypes.c_int), ("steps", ctypes.c_int),
        ("burn", ctypes.c_int), ("thin", ctypes.c_int), ("kept", ctypes.c_int),
        ("chain", _dp), ("log_prob", _dp), ("acceptance", _dp), ("acceptance_mean", ctypes.c_double),
        ("tau", _dp), ("ess", _dp), ("mean", _dp), ("sd", _dp), ("quantiles", _dp),
        ("tau_reliable", ctypes.c_int), ("warning", ctypes.c_char * 240), ("noise_var", ctypes.c_double),
        ("seconds", ctypes.c_double), ("passes", ctypes.c_int), ("jit_passes", ctypes.c_int), ("threads", ctypes.c_int),
    ]


# checked against the header by tests/test_abi.py with the library's own
_lib.ABI_STRUCTS.update({_Options: "nlsq_mcmc_options", _Result: "nlsq_mcmc_result"})

_P = ctypes.c_void_p
_PROTOTYPES = {
    "nlsq_mcmc_options_default": (_Options, []),
    "nlsq_mcmc": (ctypes.c_int, [_P, ctypes.POINTER(_lib.Data), ctypes.POINTER(_lib.Options),
                                 ctypes.POINTER(_lib.Result), ctypes.POINTER(_Options),
                                 ctypes.POINTER(ctypes.POINTER(_Result)), ctypes.POINTER(_lib.Error)]),
    "nlsq_mcmc_result_free": (None, [ctypes.POINTER(_Result)]),
    "nlsq_autocorr_time": (ctypes.c_double, [_dp, ctypes.c_size_t, ctypes.c_int, ctypes.c_size_t, ctypes.c_size_t,
                                             ctypes.c_double]),
}


def _fn(name):
    fn = getattr(_lib.lib, name, None)
    if fn is None:
        raise RuntimeError(f"the nlsq library at {_lib.path} is too old: it lacks {name} (MCMC)")
    restype, argtypes = _PROTOTYPES[name]
    fn.restype, fn.argtypes = restype, argtypes
    return fn


class McmcWarning(UserWarning):
    """The chain is shorter than 50 autocorrelation times: tau and the ESS
    are rough (McmcResult.warning says which parameter)."""


class McmcResult:
    """The posterior sample of a fit.

    chain: (samples, walkers, n) array of the kept steps (fixed parameters
    constant); flat: (samples * walkers, n); log_prob: (samples, walkers);
    acceptance: per walker, acceptance_mean; tau: integrated
    autocorrelation time per parameter (in kept steps; NaN for fixed
    ones), ess = samples * walkers / tau; mean, sd; quantiles: (n, 5) at
    QUANTILE_LEVELS (2.5, 16, 50, 84, 97.5 %); median; names; warning ('' or
    why tau is rough: a chain shorter than 50 tau); noise_var (the
    likelihood's sigma^2 scale: 1 with absolute sigma, else the fit's
    redchi)."""

    quantile_levels = QUANTILE_LEVELS

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def flat(self):
        return self.chain.reshape(-1, self.chain.shape[-1])

    @property
    def median(self):
        return self.quantiles[:, 2]

    def interval(self, level=0.68):
        """(lo, hi) arrays of the central credible interval: 0.68 or 0.95
        from the stored quantiles, any other level from the samples."""
        if abs(level - 0.68) < 1e-12:
            return self.quantiles[:, 1], self.quantiles[:, 3]
        if abs(level - 0.95) < 1e-12:
            return self.quantiles[:, 0], self.quantiles[:, 4]
        if not 0 < level < 1:
            raise ValueError(f"level must lie in (0, 1), not {level}")
        q = numpy.quantile(self.flat, [(1 - level) / 2, (1 + level) / 2], axis=0)
        return q[0], q[1]

    def __repr__(self):
        rows = "\n".join(f"  {n:>12}: median {q[2]:.6g}, 68% [{q[1]:.6g}, {q[3]:.6g}], tau {t:.3g}, ESS {e:.0f}"
                         for n, q, t, e in zip(self.names, self.quantiles, self.tau, self.ess))
        return (f"McmcResult({self.walkers} walkers x {self.steps} steps, burn {self.burn}, thin {self.thin}; "
                f"acceptance {self.acceptance_mean:.3f}\n{rows})")


def _per_param(values, names, what, fill):
    """A dict {name: value} or a sequence of n into an array of n."""
    n = len(names)
    out = numpy.full(n, fill, dtype=float)
    if isinstance(values, dict):
        for k, v in values.items():
            if k not in names:
                raise ValueError(f"{what}: the model has no parameter {k!r} (it has {', '.join(names)})")
            out[names.index(k)] = v
        return out
    return numpy.ascontiguousarray(numpy.broadcast_to(numpy.asarray(values, dtype=float), (n,)))


def mcmc(result, steps=1000, walkers=None, burn=None, thin=1, seed=1, priors=None, init=None, stretch=2.0,
         init_scale=0.1):
    """Sample the posterior of a fit made by nlsqc.curve_fit (its result):
    log p = -chi2 / (2 s^2) + Gaussian priors, s^2 = 1 with
    absolute_sigma, else the fit's reduced chi-square (the noise scale
    fixed at its estimate); bounds are flat priors, fixed parameters stay.

    steps: per walker, burn-in included; walkers: even, >= 2 n_free
    (default max(32, 2 n_free + 2)); burn: discarded (default steps // 4);
    thin; seed (the same chain on any thread count); priors: {name: (mean,
    sd)}; init: a (walkers, n) starting ensemble (default: a ball of 0.1
    standard errors around popt). Returns an McmcResult; warns McmcWarning
    when the chain is shorter than 50 autocorrelation times."""
    ctx = getattr(result, "_mcmc_context", None)
    if ctx is None:
        raise ValueError("this result cannot be sampled: MCMC needs a fit by nlsqc.curve_fit of a traced model or "
                         "model text (a callback model, a batch or a large-data fit keeps no data to sample on)")
    model, x, y, s, kind, call = ctx
    names = list(model.param_names)
    n = len(names)
    o = _fn("nlsq_mcmc_options_default")()
    o.steps = _lib.integer(steps, "steps", 1)
    if walkers is not None:
        o.walkers = _lib.integer(walkers, "walkers", 1)
    if burn is not None:
        o.burn = _lib.integer(burn, "burn", 0)
    o.thin = _lib.integer(thin, "thin", 1)
    seed = int(seed)
    if seed < 0 or seed >= 2 ** 64:
        raise ValueError(f"seed must be from 0 to 2**64-1, not {seed}")
    o.seed = seed
    o.stretch = float(stretch)
    o.init_scale = float(init_scale)
    keep = []
    if priors:
        mean = numpy.full(n, numpy.nan)
        sd = numpy.full(n, numpy.nan)
        for k, ms in priors.items():
            if k not in names:
                raise ValueError(f"priors: the model has no parameter {k!r} (it has {', '.join(names)})")
            mean[names.index(k)], sd[names.index(k)] = ms
        keep += [mean, sd]
        o.prior_mean, o.prior_sd = _lib.dptr(mean), _lib.dptr(sd)
    if init is not None:
        init = numpy.ascontiguousarray(init, dtype=float)
        w = o.walkers if o.walkers else init.shape[0]
        if init.ndim != 2 or init.shape != (w, n):
            raise ValueError(f"init must have shape (walkers, n) = ({w}, {n}), not {init.shape}")
        o.walkers = w
        keep.append(init)
        o.init = _lib.dptr(init)
    # the fit's result as C sees it: n, n_free, m, dof, popt, perr, redchi,
    # absolute_sigma (what nlsq_mcmc reads)
    popt = numpy.ascontiguousarray(result.popt, dtype=float)
    perr = numpy.ascontiguousarray(result.perr, dtype=float)
    keep += [popt, perr]
    r = _lib.Result()
    r.n, r.n_free, r.m, r.dof = n, result.n_free, result.m, result.dof
    r.popt, r.perr = _lib.dptr(popt), _lib.dptr(perr)
    r.redchi = result.redchi
    r.absolute_sigma = 1 if call.opt.absolute_sigma else 0
    data = _lib.Data(x=_lib.dptr(x) if x.size else None, y=_lib.dptr(y), m=y.size, sigma=_lib.dptr(s),
                     sigma_kind=kind)
    out = ctypes.POINTER(_Result)()
    err = _lib.Error()
    st = _fn("nlsq_mcmc")(model.ptr, ctypes.byref(data), ctypes.byref(call.opt), ctypes.byref(r), ctypes.byref(o),
                          ctypes.byref(out), ctypes.byref(err))
    del keep
    if st != _lib.OK:
        raise_status(st, err)
    c = out.contents
    K, W = c.kept, c.walkers
    res = McmcResult(
        names=names, walkers=W, steps=c.steps, burn=c.burn, thin=c.thin, n_free=c.n_free,
        chain=_lib.copy_out(c.chain, (K, W, n)), log_prob=_lib.copy_out(c.log_prob, (K, W)),
        acceptance=_lib.copy_out(c.acceptance, (W,)), acceptance_mean=c.acceptance_mean,
        tau=_lib.copy_out(c.tau, (n,)), ess=_lib.copy_out(c.ess, (n,)), mean=_lib.copy_out(c.mean, (n,)),
        sd=_lib.copy_out(c.sd, (n,)), quantiles=_lib.copy_out(c.quantiles, (n, NQUANT)),
        tau_reliable=bool(c.tau_reliable), warning=_lib.text(c.warning), noise_var=c.noise_var,
        seconds=c.seconds, passes=c.passes, jit_passes=c.jit_passes, threads=c.threads)
    _fn("nlsq_mcmc_result_free")(out)
    if res.warning:
        warnings.warn(res.warning, McmcWarning, stacklevel=3)
    return res


def autocorr_time(x, c=5.0):
    """emcee's integrated autocorrelation time of x, shape (steps, walkers)
    or (steps,): the walkers' normalized autocorrelation averaged, the
    window the first lag M >= c tau(M)."""
    a = numpy.asarray(x, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    a = numpy.ascontiguousarray(a.T)  # walker-major
    W, L = a.shape
    return _fn("nlsq_autocorr_time")(_lib.dptr(a), L, W, 1, L, float(c))
