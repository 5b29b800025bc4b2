"""Profile-likelihood intervals (lmfit's conf_interval semantics) over
the C library's nlsq_profile and nlsq_profile2d: result.profile(),
result.profile2d() and nlsqc.conf_interval()."""
import ctypes

import numpy

from . import _lib
from ._options import raise_status

c_double_p = ctypes.POINTER(ctypes.c_double)
c_int_p = ctypes.POINTER(ctypes.c_int)

STATUS = ("ok", "bound", "open", "max_refits", "failed")


class ProfileOptions(ctypes.Structure):
    _fields_ = [("levels", c_double_p), ("nlevels", ctypes.c_int), ("names", ctypes.POINTER(ctypes.c_char_p)),
                ("nnames", ctypes.c_int), ("tol", ctypes.c_double), ("max_refits", ctypes.c_int),
                ("threads", ctypes.c_int)]


class ProfileTrace(ctypes.Structure):
    _fields_ = [("count", ctypes.c_int), ("value", c_double_p), ("chi2", c_double_p), ("prob", c_double_p)]


class CProfileResult(ctypes.Structure):
    _fields_ = [("nparams", ctypes.c_int), ("param", c_int_p), ("nlevels", ctypes.c_int), ("levels", c_double_p),
                ("lower", c_double_p), ("upper", c_double_p), ("lower_status", c_int_p),
                ("upper_status", c_int_p), ("delta_chi2", c_double_p), ("trace", ctypes.POINTER(ProfileTrace)),
                ("chi2_best", ctypes.c_double), ("dof", ctypes.c_int), ("absolute_sigma", ctypes.c_int),
                ("refits", ctypes.c_int), ("failed", ctypes.c_int), ("threads", ctypes.c_int),
                ("seconds", ctypes.c_double), ("message", ctypes.c_char * 300)]


class Profile2dOptions(ctypes.Structure):
    _fields_ = [("nx", ctypes.c_int), ("ny", ctypes.c_int), ("span", ctypes.c_double), ("a_min", ctypes.c_double),
                ("a_max", ctypes.c_double), ("b_min", ctypes.c_double), ("b_max", ctypes.c_double),
                ("threads", ctypes.c_int)]


class CProfile2dResult(ctypes.Structure):
    _fields_ = [("a", ctypes.c_int), ("b", ctypes.c_int), ("nx", ctypes.c_int), ("ny", ctypes.c_int),
                ("a_values", c_double_p), ("b_values", c_double_p), ("chi2", c_double_p), ("prob", c_double_p),
                ("chi2_best", ctypes.c_double), ("dof", ctypes.c_int), ("absolute_sigma", ctypes.c_int),
                ("refits", ctypes.c_int), ("failed", ctypes.c_int), ("seconds", ctypes.c_double),
                ("message", ctypes.c_char * 300)]


# checked against include/nlsq.h by tests/test_abi.py
_lib.ABI_STRUCTS.update({ProfileOptions: "nlsq_profile_options", ProfileTrace: "nlsq_profile_trace",
                         CProfileResult: "nlsq_profile_result", Profile2dOptions: "nlsq_profile2d_options",
                         CProfile2dResult: "nlsq_profile2d_result"})

_P = ctypes.c_void_p
_protos = {
    "nlsq_profile_options_default": (ProfileOptions, []),
    "nlsq_profile2d_options_default": (Profile2dOptions, []),
    "nlsq_profile": (ctypes.c_int, [_P, _P, _P, _P, ctypes.POINTER(ProfileOptions),
                                    ctypes.POINTER(ctypes.POINTER(CProfileResult)), _P]),
    "nlsq_profile_result_free": (None, [ctypes.POINTER(CProfileResult)]),
    "nlsq_profile2d": (ctypes.c_int, [_P, _P, _P, _P, ctypes.c_char_p, ctypes.c_char_p,
                                      ctypes.POINTER(Profile2dOptions),
                                      ctypes.POINTER(ctypes.POINTER(CProfile2dResult)), _P]),
    "nlsq_profile2d_result_free": (None, [ctypes.POINTER(CProfile2dResult)]),
}
_ready = False


def _bind():
    global _ready
    if _ready:
        return
    for name, (restype, argtypes) in _protos.items():
        if not hasattr(_lib.lib, name):
            raise RuntimeError(f"the nlsq library at {_lib.path} has no {name}: rebuild it")
        fn = getattr(_lib.lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    _ready = True


class Fitted:
    """What a profile refits with: the model, the data and the fit's
    options (kept alive with the result that carries them)."""

    def __init__(self, model, x, y, s, kind, call):
        self.model, self.x, self.y, self.s, self.kind, self.call = model, x, y, s, kind, call

    def __iter__(self):  # unpacks as (model, x, y, s, kind, call)
        return iter((self.model, self.x, self.y, self.s, self.kind, self.call))


class ProfileResult(dict):
    """{name: (lower, upper)} at the level (or {name: [(lower, upper), ...]}
    for several levels), with the details as attributes: levels, status
    {name: [(lower_status, upper_status), ...]} ('ok', 'bound': the limit is
    the parameter's bound, 'open': not reached (+-inf), 'max_refits',
    'failed': NaN, see message), traces {name: (values, chi2, prob)} sorted by
    value for plotting, delta_chi2 per level, chi2_best, dof, test ('F' or
    'chi2'), refits, seconds, message."""

    def __repr__(self):
        return f"ProfileResult({dict.__repr__(self)}, levels={self.levels}, refits={self.refits})"


def _c_result(r, fitted):
    """An nlsq_result the C profile reads: popt, perr, chi2 and the rest
    from the FitResult; arrays kept alive in the returned tuple."""
    popt = numpy.ascontiguousarray(r.popt, dtype=float)
    perr = numpy.ascontiguousarray(r.perr, dtype=float)
    pcov = numpy.ascontiguousarray(r.pcov, dtype=float)
    c = _lib.Result()
    c.n, c.n_free, c.m, c.dof = len(popt), r.n_free, r.m, r.dof
    c.popt, c.perr, c.pcov = _lib.dptr(popt), _lib.dptr(perr), _lib.dptr(pcov)
    c.pcov_valid = 1 if r.pcov_valid else 0
    c.cost, c.chi2 = r.cost, r.chi2
    c.status, c.success = r.status, 1 if r.success else 0
    c.message = r.message.encode()[:199]
    c.absolute_sigma = fitted.call.opt.absolute_sigma
    return c, (popt, perr, pcov)


def _data(fitted):
    f = fitted
    return _lib.Data(x=_lib.dptr(f.x) if f.x.size else None, y=_lib.dptr(f.y), m=f.y.size, sigma=_lib.dptr(f.s),
                     sigma_kind=f.kind)


def _fitted_of(result):
    fitted = getattr(result, "_fitted", None)
    if fitted is None:
        raise ValueError("this result cannot be profiled: profiles need a fit of a traced model or model text by "
                         "nlsqc.curve_fit (not a callback fit, a batch or a file fit)")
    return fitted


def conf_interval(result, names=None, level=0.95, tol=1e-3, max_refits=100, threads=0):
    """Profile-likelihood intervals of a curve_fit result (lmfit's
    conf_interval: the F-test on chi2, or delta chi2 against the
    chi-square quantile with absolute_sigma). names: parameter names (None:
    every free one); level: a level in (0, 1) or a sequence of them. Every
    refit is exact and warm-started; the profiles run on threads. Returns a
    ProfileResult {name: (lower, upper)}."""
    _bind()
    fitted = _fitted_of(result)
    several = numpy.ndim(level) > 0
    levels = numpy.ascontiguousarray(numpy.atleast_1d(numpy.asarray(level, dtype=float)))
    opt = _lib.lib.nlsq_profile_options_default()
    opt.levels, opt.nlevels = _lib.dptr(levels), levels.size
    keep = None
    if names is not None:
        if isinstance(names, str):
            names = [names]
        keep = (ctypes.c_char_p * len(names))(*[str(n).encode() for n in names])
        opt.names, opt.nnames = keep, len(names)
    opt.tol, opt.max_refits, opt.threads = float(tol), int(max_refits), int(threads)
    cres, arrays = _c_result(result, fitted)
    data = _data(fitted)
    out = ctypes.POINTER(CProfileResult)()
    err = _lib.Error()
    st = _lib.lib.nlsq_profile(fitted.model.ptr, ctypes.byref(data), ctypes.byref(fitted.call.opt),
                               ctypes.byref(cres), ctypes.byref(opt), ctypes.byref(out), ctypes.byref(err))
    del keep, arrays
    if st != _lib.OK:
        raise_status(st, err)
    try:
        return _convert(out.contents, result.names, several)
    finally:
        _lib.lib.nlsq_profile_result_free(out)


def _convert(p, all_names, several):
    npar, nl = p.nparams, p.nlevels
    lower = _lib.copy_out(p.lower, (npar, nl))
    upper = _lib.copy_out(p.upper, (npar, nl))
    ls = _lib.copy_out(p.lower_status, (npar, nl), numpy.intc)
    us = _lib.copy_out(p.upper_status, (npar, nl), numpy.intc)
    params = _lib.copy_out(p.param, (npar,), numpy.intc)
    res = ProfileResult()
    res.levels = _lib.copy_out(p.levels, (nl,)).tolist()
    res.delta_chi2 = _lib.copy_out(p.delta_chi2, (nl,)).tolist()
    res.status, res.traces = {}, {}
    for i in range(npar):
        name = all_names[params[i]]
        pairs = [(float(lower[i, k]), float(upper[i, k])) for k in range(nl)]
        res[name] = pairs if several else pairs[0]
        res.status[name] = [(STATUS[ls[i, k]], STATUS[us[i, k]]) for k in range(nl)]
        t = p.trace[i]
        res.traces[name] = (_lib.copy_out(t.value, (t.count,)), _lib.copy_out(t.chi2, (t.count,)),
                            _lib.copy_out(t.prob, (t.count,)))
    res.chi2_best, res.dof = p.chi2_best, p.dof
    res.test = "chi2" if p.absolute_sigma else "F"
    res.refits, res.failed, res.threads, res.seconds = p.refits, p.failed, p.threads, p.seconds
    res.message = _lib.text(p.message)
    return res


def conf_interval2d(result, a, b, nx=21, ny=21, span=4.0, a_range=None, b_range=None, threads=0):
    """The 2-D profile of parameters a and b (lmfit's conf_interval2d):
    both held on an nx x ny grid (+-span standard errors, or a_range /
    b_range = (lo, hi)), the others re-fitted. Returns a dict with
    a_values (nx), b_values (ny), chi2 and prob (ny x nx; the confidence
    region at level L is prob <= L), sigma (ny x nx: lmfit >= 1.2's
    conf_interval2d value, sqrt((chi2 - chi2_min) / redchi), chi2_min the
    lower of the fit's and the grid's), chi2_best, refits, failed,
    message."""
    _bind()
    fitted = _fitted_of(result)
    opt = _lib.lib.nlsq_profile2d_options_default()
    opt.nx, opt.ny, opt.span, opt.threads = int(nx), int(ny), float(span), int(threads)
    if a_range is not None:
        opt.a_min, opt.a_max = map(float, a_range)
    if b_range is not None:
        opt.b_min, opt.b_max = map(float, b_range)
    cres, arrays = _c_result(result, fitted)
    data = _data(fitted)
    out = ctypes.POINTER(CProfile2dResult)()
    err = _lib.Error()
    st = _lib.lib.nlsq_profile2d(fitted.model.ptr, ctypes.byref(data), ctypes.byref(fitted.call.opt),
                                 ctypes.byref(cres), str(a).encode(), str(b).encode(), ctypes.byref(opt),
                                 ctypes.byref(out), ctypes.byref(err))
    del arrays
    if st != _lib.OK:
        raise_status(st, err)
    p = out.contents
    try:
        chi2 = _lib.copy_out(p.chi2, (p.ny, p.nx))
        low = min(p.chi2_best, numpy.nanmin(chi2)) if numpy.any(numpy.isfinite(chi2)) else p.chi2_best
        sigma = numpy.sqrt(numpy.maximum(chi2 - low, 0) / (p.chi2_best / p.dof))
        return {"a_values": _lib.copy_out(p.a_values, (p.nx,)), "b_values": _lib.copy_out(p.b_values, (p.ny,)),
                "chi2": chi2, "prob": _lib.copy_out(p.prob, (p.ny, p.nx)), "sigma": sigma,
                "chi2_best": p.chi2_best, "test": "chi2" if p.absolute_sigma else "F", "refits": p.refits,
                "failed": p.failed, "seconds": p.seconds, "message": _lib.text(p.message)}
    finally:
        _lib.lib.nlsq_profile2d_result_free(out)
