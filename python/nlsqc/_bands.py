"""Parameter intervals at a level, confidence and prediction bands, and
derived quantities (issue 20; docs/uncertainty.md), over the library's
nlsq_result_intervals, nlsq_band_stderr and nlsq_derive. Used as methods
of FitResult: result.interval(0.95), result.band(x), result.derive(...)."""
import collections
import ctypes

import numpy

from . import _lib
from ._options import raise_status

_dp = ctypes.POINTER(ctypes.c_double)


class Derived(ctypes.Structure):
    _fields_ = [("count", ctypes.c_int), ("n", ctypes.c_int), ("names", ctypes.POINTER(ctypes.c_char_p)),
                ("exprs", ctypes.POINTER(ctypes.c_char_p)), ("value", _dp), ("se", _dp), ("cov", _dp),
                ("grad", _dp), ("corr", _dp)]


class Quantity(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 96), ("definition", ctypes.c_char * 400), ("summary", ctypes.c_char_p)]


# tests/test_abi.py checks these against the header too
_lib.ABI_STRUCTS.update({Derived: "nlsq_derived", Quantity: "nlsq_quantity"})

_PROTOTYPES = {
    "nlsq_result_critical": (ctypes.c_int, [ctypes.POINTER(_lib.Result), ctypes.c_double, _dp,
                                            ctypes.POINTER(_lib.Error)]),
    "nlsq_result_intervals": (ctypes.c_int, [ctypes.POINTER(_lib.Result), ctypes.c_double, _dp, _dp,
                                             ctypes.POINTER(_lib.Error)]),
    "nlsq_band_stderr": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(_lib.Result), _dp, ctypes.c_size_t, _dp, _dp,
                                        _dp, _dp, ctypes.POINTER(_lib.Error)]),
    "nlsq_derive": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(_lib.Result), ctypes.POINTER(ctypes.c_char_p),
                                   ctypes.c_int, ctypes.POINTER(ctypes.POINTER(Derived)), ctypes.POINTER(_lib.Error)]),
    "nlsq_derived_free": (None, [ctypes.POINTER(Derived)]),
    "nlsq_model_num_quantities": (ctypes.c_int, [ctypes.c_void_p]),
    "nlsq_model_quantity": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(Quantity),
                                           ctypes.POINTER(_lib.Error)]),
}
for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(_lib.lib, _name)
    _fn.restype, _fn.argtypes = _res, _args

KINDS = ("confidence", "prediction")


class _CResult:
    """An nlsq_result holding what intervals, bands and derived quantities
    read (n, dof, popt, pcov, perr, pcov_valid, redchi, absolute_sigma),
    pointing into arrays it keeps alive."""

    def __init__(self, r):
        self.popt = numpy.ascontiguousarray(r.popt, dtype=float)
        self.pcov = numpy.ascontiguousarray(r.pcov, dtype=float)
        self.perr = numpy.ascontiguousarray(r.perr, dtype=float)
        c = _lib.Result()
        c.n, c.dof, c.m = self.popt.size, int(r.dof), int(r.m)
        c.popt, c.pcov, c.perr = _lib.dptr(self.popt), _lib.dptr(self.pcov), _lib.dptr(self.perr)
        c.pcov_valid = 1 if r.pcov_valid else 0
        c.redchi = float(r.redchi)
        c.absolute_sigma = 1 if r.absolute_sigma else 0
        self.c = c


def _level(level):
    if isinstance(level, bool) or not isinstance(level, (int, float, numpy.integer, numpy.floating)):
        raise TypeError(f"level must be a number in (0, 1), not {type(level).__name__}")
    return float(level)


def critical(r, level=0.95):
    """The two-sided critical value at `level`: Student-t's with the fit's
    dof, or the normal's with absolute_sigma."""
    cr, q, err = _CResult(r), ctypes.c_double(), _lib.Error()
    st = _lib.lib.nlsq_result_critical(ctypes.byref(cr.c), _level(level), ctypes.byref(q), ctypes.byref(err))
    if st != _lib.OK:
        raise_status(st, err)
    return q.value


def interval(r, level=0.95):
    """(lower, upper): popt -/+ critical(level) * perr (a fixed parameter's
    interval is its value; no valid pcov: infinite)."""
    cr, err = _CResult(r), _lib.Error()
    lo, hi = numpy.empty(cr.popt.size), numpy.empty(cr.popt.size)
    st = _lib.lib.nlsq_result_intervals(ctypes.byref(cr.c), _level(level), _lib.dptr(lo), _lib.dptr(hi),
                                        ctypes.byref(err))
    if st != _lib.OK:
        raise_status(st, err)
    return lo, hi


def _fitted_model(r, what):
    m = getattr(r, "_fit_model", None)
    if m is None and r.model_path == "callback":
        raise ValueError(f"{what} needs the fitted model: this result's model was called back, not traced "
                         f"(model_path {r.model_path!r}), so it has no exact Jacobian to evaluate")
    if m is None:  # the compiled model is not pickled: a copy cannot say it was called back
        raise ValueError(f"{what} needs the fitted model: this result does not hold it (an unpickled or "
                         f"copied result, or a batch or file fit); refit with nlsqc.curve_fit")
    return m


def _component_model(m, component):
    """The model of one library component (by index, by label 'gaussian1'
    or by prefix 'gaussian1_'), sharing the fit's parameter vector."""
    comps = m.components
    if isinstance(component, str):
        labels = [c["prefix"].rstrip("_") for c in comps]
        name = component.rstrip("_")
        if name not in labels:
            raise ValueError(f"component {component!r} is not one of the model's: {', '.join(labels) or 'none'}")
        component = labels.index(name)
    index = _lib.integer(component, "component", 0)
    if index >= len(comps):
        raise ValueError(f"component {index} out of range: the model has {len(comps)} library components")
    c = _lib.Component()
    _lib.lib.nlsq_model_component(m.ptr, index, ctypes.byref(c), None)
    return c.value


Bands = collections.namedtuple("Bands", "f conf_lower conf_upper pred_lower pred_upper")


def _stderr(r, x, sigma, component, want_conf, want_pred):
    """(f, se_conf, se_pred, shape of the outputs) at x from one
    evaluation (nlsq_band_stderr)."""
    m = _fitted_model(r, "band")
    xs = numpy.ascontiguousarray(x, dtype=float)
    if m.nvars > 1 and (xs.ndim != 2 or xs.shape[0] != m.nvars):
        raise ValueError(f"x has shape {xs.shape}; the model has {m.nvars} variables, so it must be ({m.nvars}, m)")
    # one variable: x of any shape, every element a point (the outputs keep
    # x's shape); several: columns of a (nvars, m) array
    npts = xs.size if m.nvars <= 1 else xs.shape[-1]
    xs = xs.reshape(-1) if m.nvars <= 1 else xs
    s = None
    if sigma is not None:
        sshape = numpy.shape(x) if m.nvars <= 1 else (npts,)
        s = numpy.ascontiguousarray(numpy.broadcast_to(numpy.asarray(sigma, dtype=float), sshape).reshape(-1))
    ptr = m.ptr if component is None else _component_model(m, component)
    f = numpy.empty(npts)
    conf = numpy.empty(npts) if want_conf else None
    pred = numpy.empty(npts) if want_pred else None
    cr, err = _CResult(r), _lib.Error()
    st = _lib.lib.nlsq_band_stderr(ptr, ctypes.byref(cr.c), _lib.dptr(xs), npts, _lib.dptr(s), _lib.dptr(f),
                                   _lib.dptr(conf), _lib.dptr(pred), ctypes.byref(err))
    if st != _lib.OK:
        raise_status(st, err)
    shape = numpy.shape(x)[-1:] if m.nvars > 1 else numpy.shape(x)
    return f, conf, pred, shape


def band(r, x, kind="confidence", level=0.95, sigma=None, component=None):
    """(f, lower, upper) at x: the model and its band by the delta method
    with the exact Jacobian (docs/uncertainty.md)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be 'confidence' or 'prediction', not {kind!r}")
    q = critical(r, level)
    f, conf, pred, shape = _stderr(r, x, sigma, component, kind == "confidence", kind == "prediction")
    se = conf if kind == "confidence" else pred
    return f.reshape(shape), (f - q * se).reshape(shape), (f + q * se).reshape(shape)


def bands(r, x, level=0.95, sigma=None, component=None):
    """Both bands from one evaluation: Bands(f, conf_lower, conf_upper,
    pred_lower, pred_upper)."""
    q = critical(r, level)
    f, conf, pred, shape = _stderr(r, x, sigma, component, True, True)
    return Bands(*(a.reshape(shape) for a in (f, f - q * conf, f + q * conf, f - q * pred, f + q * pred)))


class DerivedQuantities:
    """Derived quantities of a fit: names, values, stderr, cov (between
    them), grad (d value / d parameter), corr (with the parameters, one row
    per quantity). result.derive(...)["fwhm"] is (value, stderr)."""

    def __init__(self, names, exprs, values, stderr, cov, grad, corr, param_names, fit):
        self.names, self.exprs, self.values, self.stderr = names, exprs, values, stderr
        self.cov, self.grad, self.corr, self.param_names = cov, grad, corr, param_names
        self._fit = fit

    def __getitem__(self, name):
        k = self.names.index(name)
        return float(self.values[k]), float(self.stderr[k])

    def __len__(self):
        return len(self.names)

    def as_dict(self):
        """{name: (value, stderr)}"""
        return {n: (float(v), float(e)) for n, v, e in zip(self.names, self.values, self.stderr)}

    def interval(self, level=0.95):
        """(lower, upper): value -/+ the fit's critical value * stderr."""
        q = critical(self._fit, level)
        return self.values - q * self.stderr, self.values + q * self.stderr

    def __repr__(self):
        rows = "\n".join(f"  {n:>16} = {v:.10g} +/- {e:.3g}" for n, v, e in zip(self.names, self.values, self.stderr))
        return f"DerivedQuantities(\n{rows})"


def derive(r, *exprs):
    """Derived quantities: each argument 'name = expression' or an
    expression (its text is its name), or a dict {name: expression}."""
    texts = []
    for e in exprs:
        if isinstance(e, dict):
            texts += [f"{k} = {v}" for k, v in e.items()]
        elif isinstance(e, str):
            texts.append(e)
        else:
            raise TypeError(f"a derived quantity is text ('fwhm = 2.3548*s') or a dict of them, not {type(e).__name__}")
    if not texts:
        raise ValueError("derive needs at least one expression, e.g. result.derive('fwhm = 2*sqrt(2*log(2))*s')")
    m = _fitted_model(r, "derive")
    arr = (ctypes.c_char_p * len(texts))(*[_lib.c_string(t, "a derived quantity") for t in texts])
    cr, err, out = _CResult(r), _lib.Error(), ctypes.POINTER(Derived)()
    st = _lib.lib.nlsq_derive(m.ptr, ctypes.byref(cr.c), arr, len(texts), ctypes.byref(out), ctypes.byref(err))
    if st != _lib.OK:
        raise_status(st, err)
    try:
        d = out.contents
        c, n = d.count, d.n
        return DerivedQuantities([_lib.text(d.names[k]) for k in range(c)], [_lib.text(d.exprs[k]) for k in range(c)],
                                 _lib.copy_out(d.value, (c,)), _lib.copy_out(d.se, (c,)), _lib.copy_out(d.cov, (c, c)),
                                 _lib.copy_out(d.grad, (c, n)), _lib.copy_out(d.corr, (c, n)), list(r.names), r)
    finally:
        _lib.lib.nlsq_derived_free(out)


def quantities(r):
    """{name: definition} of the library quantities of the fitted model's
    components (gaussian1_fwhm: '2*sqrt(2*log(2))*gaussian1_sigma', ...)."""
    m = _fitted_model(r, "quantities")
    out = {}
    for i in range(_lib.lib.nlsq_model_num_quantities(m.ptr)):
        q = Quantity()
        _lib.lib.nlsq_model_quantity(m.ptr, i, ctypes.byref(q), None)
        out[_lib.text(q.name)] = _lib.text(q.definition)
    return out
