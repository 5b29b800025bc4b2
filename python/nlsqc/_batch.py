"""fit_batch: many independent small fits of one model in one call."""
import ctypes

import numpy

from . import _callback, _diagnose, _lib, _model
from ._options import Call, prepare_bounds, quiet, raise_status


class BatchResult:
    """Per-fit results of fit_batch, as arrays over the fits."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def success(self):
        """A boolean per fit: converged (status > 0)."""
        return self.status > 0

    @property
    def trusted(self):
        """A boolean per fit: the diagnostics from the Jacobian at its
        solution found nothing that makes it untrusted (a parameter without
        influence or that never moved, a rank-deficient Jacobian; see
        nlsqc.Diagnostics); diag_flags has the findings' bits. None for a
        batch on a GPU (not checked there)."""
        if self.diag_flags is None:
            return None
        return (self.diag_flags & _diagnose.UNTRUSTED) == 0

    def messages(self):
        """{status: sentence} for the statuses that occur."""
        return {int(s): _lib.text(_lib.lib.nlsq_fit_status_str(int(s))) for s in numpy.unique(self.status)}

    def __len__(self):
        return self.popt.shape[0]

    def __repr__(self):
        return (f"BatchResult({len(self)} fits: {self.converged} converged, {self.failed} failed; "
                f"{self.seconds:.3g} s on {self.device} ({self.backend}), {self.threads} threads)")


def _per_fit(a, nfits, n, what, keep):
    """A shared n-vector (None: opt's) or an (nfits, n) array."""
    if a is None:
        return None, None
    a = numpy.asarray(a, dtype=float)
    if a.ndim <= 1:
        v = numpy.ascontiguousarray(numpy.broadcast_to(a, (n,)))
        keep.append(v)
        return v, None
    if a.shape != (nfits, n):
        raise ValueError(f"{what} has shape {a.shape}; it must be ({n},) shared or ({nfits}, {n}) per fit")
    v = numpy.ascontiguousarray(a)
    keep.append(v)
    return None, v


def _each_fit(a, nfits, n, what):
    """A bound given per fit, shared or scalar, as (nfits, n)."""
    try:
        return numpy.broadcast_to(numpy.asarray(a, dtype=float), (nfits, n))
    except ValueError:
        raise ValueError(f"{what} have shape {numpy.shape(a)}; they must be a scalar, ({n},) or ({nfits}, {n})") \
            from None


def fit_batch(f, xdata, ydata, p0=None, sigma=None, bounds=(-numpy.inf, numpy.inf), method=None, *,
              x_shared=None, nan_policy=None, absolute_sigma=False, pcov=False, fixed=None, **kwargs):
    """Fit one model to many curves at once, spread over all cores (or on a
    GPU with device="cuda" and method "lm").

    ydata: (fits, points), or a list of 1-D arrays of varying lengths.
    xdata: shared by every fit -- (points,), or (k, points) for k variables
    -- or per fit -- (fits, points), or (k, fits, points). A 2-D xdata with
    as many rows as fits is taken per fit unless x_shared=True; with 16
    fits or fewer x_shared must then be given. For ragged
    ydata, xdata is a list of per-fit arrays ((m_i,) or (k, m_i)) or shared
    (as long as the longest fit). p0: (n,) for all or (fits, n); bounds:
    (lb, ub), each scalar, (n,) or (fits, n). sigma: like ydata.
    pcov=True also returns each fit's covariance (fits, n, n).

    Each fit gives bitwise the result curve_fit gives on its data with the
    same options (on the CPU). Returns a BatchResult with popt, perr, pcov
    (or None), status, success, cost, chi2, nit, nfev, m per fit, and
    converged, failed, seconds, threads, backend, device for the batch.
    comm (an mpi4py communicator; docs/cluster.md): every rank makes this
    call on the same data and fits a contiguous share of the fits (on its
    own device=, such as its GPU); every rank gets every result.
    """
    # a list of 1-D curves of different lengths; equal lengths make a 2-D array
    ragged = isinstance(ydata, (list, tuple)) and len(ydata) > 0 and numpy.ndim(ydata[0]) == 1 and \
        len({numpy.size(r) for r in ydata}) > 1
    keep = []
    if ragged:
        ys = [numpy.asarray(r, dtype=float).ravel() for r in ydata]
        nfits = len(ys)
        lengths = numpy.array([r.size for r in ys], dtype=numpy.uintp)
        offsets = numpy.zeros(nfits + 1, dtype=numpy.uintp)
        numpy.cumsum(lengths, out=offsets[1:])
        y = numpy.concatenate(ys) if nfits else numpy.zeros(0)
        longest = int(lengths.max()) if nfits else 0
    else:
        y = numpy.asarray(ydata, dtype=float)
        if y.ndim != 2:
            raise ValueError(f"ydata has shape {y.shape}; it must be (fits, points) or a list of 1-D arrays")
        nfits, mfit = y.shape
        offsets = None
        longest = mfit
        y = numpy.ascontiguousarray(y).ravel()
    total = y.size

    # x: shared rows (k, longest) or per-fit rows (k, total)
    x_per_fit_list = ragged and isinstance(xdata, (list, tuple)) and len(xdata) == nfits and \
        numpy.ndim(xdata[0]) >= 1 and numpy.shape(xdata[0])[-1] == lengths[0]
    if x_per_fit_list:
        xs = [numpy.atleast_2d(numpy.asarray(r, dtype=float)) for r in xdata]
        k = xs[0].shape[0]
        if any(r.shape != (k, int(L)) for r, L in zip(xs, lengths)):
            raise ValueError("xdata: fit i's x must have shape (m_i,) or (k, m_i), m_i its number of points")
        x = numpy.ascontiguousarray(numpy.concatenate(xs, axis=1))
        shared = False
        rows_model = numpy.ndim(xdata[0]) == 2
    else:
        xa = numpy.asarray(xdata, dtype=float)
        if ragged:
            shared = True
        elif x_shared is None:
            per_fit_shape = xa.ndim == 2 and xa.shape == (nfits, longest) and nfits != 1
            if per_fit_shape and nfits <= 16:
                raise ValueError(f"xdata of shape {xa.shape} can be {nfits} variables shared by every fit or one x "
                                 f"per fit: say which with x_shared=True (rows are variables) or x_shared=False")
            shared = not (per_fit_shape or xa.ndim == 3)
        else:
            shared = bool(x_shared)
        if shared:
            if xa.ndim not in (1, 2) or xa.shape[-1] < longest or (not ragged and xa.shape[-1] != longest):
                raise ValueError(f"xdata has shape {xa.shape}; shared by every fit it must be ({longest},) or "
                                 f"(k, {longest})" + (" (at least as long as the longest fit)" if ragged else ""))
            rows_model = xa.ndim == 2
            x = numpy.ascontiguousarray(numpy.atleast_2d(xa)[:, :longest])
        else:
            if xa.ndim == 2:
                xa = xa[None]
                rows_model = False
            else:
                rows_model = True
            if xa.shape[1:] != (nfits, longest):
                raise ValueError(f"xdata has shape {xa.shape}; per fit it must be ({nfits}, {longest}) or "
                                 f"(k, {nfits}, {longest})")
            x = numpy.ascontiguousarray(xa.reshape(xa.shape[0], total))
        k = x.shape[0]
    n_hint = None
    if p0 is not None:
        p0a = numpy.asarray(p0, dtype=float)
        n_hint = p0a.shape[-1] if p0a.ndim else 1
    if isinstance(f, _model.Model):
        model = f
        if model.nvars != k:
            raise ValueError(f"xdata has {k} variables; the model has {model.nvars}")
    else:
        model = _callback.model_or_refuse(f, nvars=k, n=n_hint, rows=rows_model)
    n = model.n

    sig = None
    if sigma is not None:
        if ragged:
            sig = numpy.concatenate([numpy.asarray(s, dtype=float).ravel() for s in sigma])
        else:
            sig = numpy.ascontiguousarray(sigma, dtype=float).ravel()
        if sig.size != total:
            raise ValueError(f"sigma has {sig.size} values; ydata has {total}")
    p0_shared, p0_each = _per_fit(p0, nfits, n, "p0", keep)
    lb, ub = (bounds.lb, bounds.ub) if hasattr(bounds, "lb") else bounds
    lb_each = ub_each = shared_bounds = None
    if numpy.ndim(lb) == 2 or numpy.ndim(ub) == 2:  # per fit: each fit checks its own
        lb_each = _per_fit(_each_fit(lb, nfits, n, "lower bounds"), nfits, n, "lower bounds", keep)[1]
        ub_each = _per_fit(_each_fit(ub, nfits, n, "upper bounds"), nfits, n, "upper bounds", keep)[1]
    else:
        shared_bounds = prepare_bounds((lb, ub), n)
    call = Call(n, model.param_names, p0=p0_shared, bounds=shared_bounds, method=method, kwargs=kwargs,
                fname="fit_batch")
    if fixed is not None:
        call.opt.fixed = call.fixed_mask(fixed)
    call.opt.absolute_sigma = 1 if absolute_sigma else 0
    if nan_policy not in (None, "raise", "omit"):
        raise ValueError("nan_policy must be None, 'raise' or 'omit'")
    call.opt.nan_policy = _lib.NAN_POLICIES[nan_policy or "raise"]
    # The C batch calls this on our thread every 0.2 s while its threads
    # fit: Python runs signal handlers only on the main thread, between
    # bytecodes, so this is what lets Ctrl-C (KeyboardInterrupt) cancel a
    # long batch at once instead of after its last fit.
    call.set_progress(quiet, 0.2)

    b = _lib.lib.nlsq_batch_default()
    b.nfits = nfits
    b.m = 0 if ragged else longest
    if offsets is not None:
        b.offsets = offsets.ctypes.data_as(_lib.c_size_p)
    b.y = _lib.dptr(y)
    b.x = _lib.dptr(x) if k else None
    b.x_shared = 1 if shared else 0
    b.sigma = _lib.dptr(sig)
    b.p0 = _lib.dptr(p0_each)
    b.lower = _lib.dptr(lb_each)
    b.upper = _lib.dptr(ub_each)
    outputs = _lib.BATCH_PERR | (_lib.BATCH_PCOV if pcov else 0)
    res = ctypes.POINTER(_lib.BatchResult)()
    err = _lib.Error()
    with call.running():
        st = _lib.lib.nlsq_fit_batch(model.ptr, ctypes.byref(b), ctypes.byref(call.opt), outputs,
                                     ctypes.byref(res), ctypes.byref(err))
    if st != _lib.OK:
        call.reraise()
        raise_status(st, err)
    if call.error is not None:  # cancelled: the partial result is dropped
        _lib.lib.nlsq_batch_result_free(res)
        call.reraise()
    try:
        r = res.contents

        def arr(p, shape, dtype=None):
            if not nfits:
                return numpy.zeros(shape, dtype=dtype or float)
            a = numpy.ctypeslib.as_array(p, shape=shape).copy()
            return a.astype(dtype) if dtype else a

        return BatchResult(
            popt=arr(r.popt, (nfits, n)), perr=arr(r.perr, (nfits, n)),
            pcov=arr(r.pcov, (nfits, n, n)) if pcov else None, status=arr(r.status, (nfits,)),
            pcov_valid=arr(r.pcov_valid, (nfits,), bool), cost=arr(r.cost, (nfits,)), chi2=arr(r.chi2, (nfits,)),
            nit=arr(r.nit, (nfits,)), nfev=arr(r.nfev, (nfits,)), m=arr(r.m, (nfits,), numpy.int64),
            names=list(model.param_names), converged=r.converged, failed=r.failed,
            method=_lib.METHOD_NAMES.get(r.method, "?"), threads=r.threads, seconds=r.seconds,
            backend=_lib.text(r.backend), backend_note=_lib.text(r.backend_note), device=_lib.text(r.device),
            device_note=_lib.text(r.device_note),
            diag_flags=arr(r.diag_flags, (nfits,), numpy.int64) if r.diag_flags else None)
    finally:
        _lib.lib.nlsq_batch_result_free(res)
