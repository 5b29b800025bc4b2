"""The bootstrap (nlsq_bootstrap, docs/uncertainty.md): result.bootstrap(...)
on a curve_fit result, or nlsqc.bootstrap(f, xdata, ydata, ...) that fits
first. Residual, pairs or wild resampling; every replica refitted from popt
by the batch engine (all cores, or a GPU with device=); standard errors,
bias, percentile and BCa intervals over the replicas that converged."""
import ctypes

import numpy

from . import _lib
from ._options import raise_status

KINDS = {"residual": 0, "pairs": 1, "wild": 2}
JACKKNIFE = {0: None, 1: "exact", 2: "influence"}


class BootstrapOptions(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int), ("replicas", ctypes.c_size_t), ("seed", ctypes.c_uint64),
                ("level", ctypes.c_double), ("bca", ctypes.c_int), ("jackknife_max", ctypes.c_size_t)]


class BootstrapResultC(ctypes.Structure):
    _fields_ = [("n", ctypes.c_int), ("replicas", ctypes.c_size_t), ("converged", ctypes.c_size_t),
                ("failed", ctypes.c_size_t), ("samples", _lib.c_double_p), ("status", ctypes.POINTER(ctypes.c_int)),
                ("perr", _lib.c_double_p), ("bias", _lib.c_double_p), ("lower", _lib.c_double_p),
                ("upper", _lib.c_double_p), ("bca_lower", _lib.c_double_p), ("bca_upper", _lib.c_double_p),
                ("z0", _lib.c_double_p), ("accel", _lib.c_double_p), ("level", ctypes.c_double),
                ("kind", ctypes.c_int), ("seed", ctypes.c_uint64), ("jackknife", ctypes.c_int),
                ("jackknife_failed", ctypes.c_size_t), ("m", ctypes.c_size_t), ("threads", ctypes.c_int),
                ("device", ctypes.c_char * 16), ("seconds", ctypes.c_double)]


_bound = False


def _bind():
    """The prototypes, set on first use (an older library without the
    bootstrap still serves everything else)."""
    global _bound
    if _bound:
        return
    lib = _lib.lib
    if not hasattr(lib, "nlsq_bootstrap"):
        raise RuntimeError(f"the nlsq library at {_lib.path} has no bootstrap (nlsq_bootstrap): rebuild it")
    lib.nlsq_bootstrap_options_default.restype = BootstrapOptions
    lib.nlsq_bootstrap_options_default.argtypes = []
    lib.nlsq_bootstrap_result_free.restype = None
    lib.nlsq_bootstrap_result_free.argtypes = [ctypes.POINTER(BootstrapResultC)]
    lib.nlsq_bootstrap.restype = ctypes.c_int
    lib.nlsq_bootstrap.argtypes = [ctypes.c_void_p, ctypes.POINTER(_lib.Data), ctypes.POINTER(_lib.Options),
                                   ctypes.POINTER(_lib.Result), ctypes.POINTER(BootstrapOptions),
                                   ctypes.POINTER(ctypes.POINTER(BootstrapResultC)), ctypes.POINTER(_lib.Error)]
    _bound = True


class BootstrapResult:
    """The bootstrap of a fit.

    samples      (N, n): replica i's parameters (NaN rows: replicas that failed)
    status       (N,): each replica's fit status (> 0: converged)
    converged, failed    counts (failed replicas are left out of everything)
    stderr       (n,): the replicas' standard deviation (ddof 1)
    bias         (n,): their mean minus popt
    percentile   (n, 2): the percentile interval at `level`
    bca          (n, 2): the BCa interval (NaN with bca=False)
    z0, accel    (n,): BCa's bias correction and acceleration
    jackknife    'exact' (leave-one-out fits), 'influence' or None
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def converged_samples(self):
        """The rows of the replicas that converged."""
        return self.samples[self.status > 0]

    def __repr__(self):
        rows = "\n".join(f"  {nm:>12}: stderr {se:.4g}, bias {b:.3g}, percentile [{p[0]:.8g}, {p[1]:.8g}], "
                         f"BCa [{q[0]:.8g}, {q[1]:.8g}]"
                         for nm, se, b, p, q in zip(self.names, self.stderr, self.bias, self.percentile, self.bca))
        return (f"BootstrapResult({self.kind}, {self.replicas} replicas, {self.converged} converged, seed "
                f"{self.seed}, level {self.level}\n{rows})")


def run(fitted, popt, names, n=1000, kind="residual", seed=0, level=0.95, bca=True, jackknife_max=2000,
        threads=None, device=None, comm=None):
    """nlsq_bootstrap on a fit: fitted = (model, x, y, sigma, sigma_kind,
    Call) as _fit.fit made them. The replicas are spread over comm's ranks
    (or those of the fit's comm=) when one is given."""
    _bind()
    model, x, y, s, skind, call = fitted
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    b = _lib.lib.nlsq_bootstrap_options_default()
    b.kind = KINDS[kind]
    b.replicas = _lib.integer(n, "n (the replicas)", 2, _lib.SIZE_MAX)
    b.seed = _lib.integer(seed, "seed", 0, 2 ** 64 - 1)
    level = float(level)
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), not {level}")
    b.level = level
    b.bca = 1 if bca else 0
    b.jackknife_max = _lib.integer(jackknife_max, "jackknife_max", 0, _lib.SIZE_MAX)
    opt = _lib.Options.from_buffer_copy(call.opt)
    keep = []
    if threads is not None:
        opt.threads = _lib.integer(threads, "threads (0: all cores)", 0)
    if device is not None:
        d = _lib.c_string(str(device), "device")
        keep.append(d)
        opt.device = d
    if comm is not None:
        from . import mpi
        opt.group = mpi.group(comm)
    p = numpy.ascontiguousarray(popt, dtype=float)
    fit = _lib.Result()
    fit.n = p.size
    fit.popt = _lib.dptr(p)
    data = _lib.Data(x=_lib.dptr(x) if x.size else None, y=_lib.dptr(y), m=y.size, sigma=_lib.dptr(s),
                     sigma_kind=skind)
    res = ctypes.POINTER(BootstrapResultC)()
    err = _lib.Error()
    with call.running():
        st = _lib.lib.nlsq_bootstrap(model.ptr, ctypes.byref(data), ctypes.byref(opt), ctypes.byref(fit),
                                     ctypes.byref(b), ctypes.byref(res), ctypes.byref(err))
    call.reraise()
    if st != _lib.OK:
        raise_status(st, err)
    r = res.contents
    N, k = r.replicas, r.n
    out = BootstrapResult(
        names=list(names), samples=_lib.copy_out(r.samples, (N, k)),
        status=_lib.copy_out(r.status, (N,), numpy.intc).astype(int), replicas=N, converged=r.converged,
        failed=r.failed, stderr=_lib.copy_out(r.perr, (k,)), bias=_lib.copy_out(r.bias, (k,)),
        percentile=numpy.stack([_lib.copy_out(r.lower, (k,)), _lib.copy_out(r.upper, (k,))], axis=1),
        bca=numpy.stack([_lib.copy_out(r.bca_lower, (k,)), _lib.copy_out(r.bca_upper, (k,))], axis=1),
        z0=_lib.copy_out(r.z0, (k,)), accel=_lib.copy_out(r.accel, (k,)), level=r.level, kind=kind, seed=r.seed,
        jackknife=JACKKNIFE.get(r.jackknife), jackknife_failed=r.jackknife_failed, m=r.m, threads=r.threads,
        device=_lib.text(r.device), seconds=r.seconds, popt=p.copy())
    _lib.lib.nlsq_bootstrap_result_free(res)
    del keep
    return out


def bootstrap(f, xdata, ydata, p0=None, sigma=None, n=1000, kind="residual", seed=0, level=0.95, bca=True,
              jackknife_max=2000, **kwargs):
    """Fit f to the data with curve_fit(f, xdata, ydata, p0, sigma,
    **kwargs), then bootstrap that fit: curve_fit(...).bootstrap(n, kind,
    seed, level, bca, jackknife_max). Returns the BootstrapResult, whose
    .fit is the FitResult."""
    from ._fit import curve_fit
    threads, device = kwargs.get("threads"), kwargs.get("device")
    r = curve_fit(f, xdata, ydata, p0=p0, sigma=sigma, **kwargs)  # comm= makes both the fit's and the replicas'
    out = r.bootstrap(n=n, kind=kind, seed=seed, level=level, bca=bca, jackknife_max=jackknife_max, threads=threads,
                      device=device)
    out.fit = r
    return out
