"""A fit's result into HDF5 through the library's nlsq_result_write_hdf5
(issue 21; docs/data-formats.md, "Results in HDF5"): no h5py needed to
write. Used as FitResult.save_hdf5."""
import ctypes
import os

import numpy

from . import _diagnose, _lib
from ._options import raise_status

MODES = {"replace": 0, "create": 1, "append": 2}
ERR_IO = 17  # NLSQ_ERR_IO


class Hdf5WriteOptions(ctypes.Structure):
    _fields_ = [("mode", ctypes.c_int), ("model_text", ctypes.c_char_p), ("data_name", ctypes.c_char_p),
                ("fit", ctypes.POINTER(_lib.Options)), ("sigma_kind", ctypes.c_int), ("level", ctypes.c_double),
                ("predictions", ctypes.c_int), ("source", ctypes.c_void_p), ("columns", ctypes.POINTER(_lib.Columns)),
                ("data", ctypes.POINTER(_lib.Data)), ("inputs", ctypes.POINTER(ctypes.c_char_p)),
                ("n_inputs", ctypes.c_size_t)]


_lib.ABI_STRUCTS[Hdf5WriteOptions] = "nlsq_hdf5_write_options"

_PROTOTYPES = {
    "nlsq_hdf5_write_options_default": (Hdf5WriteOptions, []),
    "nlsq_result_write_hdf5": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                                              ctypes.POINTER(_lib.Result), ctypes.POINTER(Hdf5WriteOptions),
                                              ctypes.POINTER(_lib.Error)]),
    "nlsq_have_hdf5": (ctypes.c_int, []),
}
for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(_lib.lib, _name)
    _fn.restype, _fn.argtypes = _res, _args


def _doubles(v, n):
    return numpy.ascontiguousarray(numpy.broadcast_to(numpy.asarray(v, dtype=float), (n,)) if n else
                                   numpy.zeros(0))


class _CResult:
    """An nlsq_result rebuilt from a FitResult, pointing into arrays it
    keeps alive: every field the writer stores."""

    def __init__(self, r):
        names = list(r.names)
        n = len(names)
        self.popt = numpy.ascontiguousarray(r.popt, dtype=float)
        self.pcov = numpy.ascontiguousarray(r.pcov, dtype=float)
        self.perr = numpy.ascontiguousarray(r.perr, dtype=float)
        mask = r.active_mask if r.active_mask is not None else numpy.zeros(n)
        self.mask = numpy.ascontiguousarray(mask, dtype=numpy.int8)
        c = _lib.Result()
        c.n, c.n_free, c.m, c.dof = n, int(r.n_free if r.n_free is not None else n), int(r.m), int(r.dof)
        c.popt, c.pcov, c.perr = _lib.dptr(self.popt), _lib.dptr(self.pcov), _lib.dptr(self.perr)
        c.pcov_valid = 1 if r.pcov_valid else 0
        for k in ("cost", "chi2", "redchi", "r2", "aic", "bic", "grad_norm"):
            v = getattr(r, k)
            setattr(c, k, float(v) if v is not None else numpy.nan)
        for k in ("nfev", "njev", "nit", "status", "threads", "pcov_rank"):
            v = getattr(r, k)
            setattr(c, k, int(v) if v is not None else 0)
        c.success = 1 if r.success else 0
        c.message = (r.message or "").encode()[:199]
        c.method = {v: k for k, v in _lib.METHOD_NAMES.items()}.get(r.method, 0)
        c.backend = (r.backend or "").encode()[:7]
        c.device = (r.device or "").encode()[:15]
        c.active_mask = self.mask.ctypes.data_as(ctypes.POINTER(ctypes.c_byte))
        c.absolute_sigma = 1 if r.absolute_sigma else 0
        self._diagnostics(c, r.diagnostics, names)
        self.c = c

    def _diagnostics(self, c, d, names):
        n = len(names)
        self.param_flags = numpy.zeros(n, dtype=numpy.uint32)
        self.influence = numpy.full(n, numpy.nan)
        self.correlated = numpy.zeros(0, dtype=numpy.int32)
        self.correlation = numpy.zeros(0)
        if d is None:
            c.diag.cond = c.diag.runs_z = c.diag.lag1 = numpy.nan
            return
        for bit, listed in ((_diagnose.NO_INFLUENCE, d.no_influence), (_diagnose.NOT_MOVED, d.not_moved),
                            (_diagnose.AT_BOUND, d.at_bound), (_diagnose.RANK_DEFICIENT, d.undetermined)):
            for name in listed:
                self.param_flags[names.index(name)] |= bit
        for j, name in enumerate(names):
            if name in d.influence:
                self.influence[j] = d.influence[name]
        self.correlated = numpy.array([names.index(x) for a, b, _ in d.correlated for x in (a, b)], dtype=numpy.int32)
        self.correlation = numpy.array([v for _, _, v in d.correlated], dtype=float)
        g = c.diag
        g.flags, g.trusted, g.rank, g.cond = d.flags, 1 if d.trusted else 0, d.rank, d.cond
        g.param_flags = self.param_flags.ctypes.data_as(ctypes.POINTER(ctypes.c_uint))
        g.influence = _lib.dptr(self.influence)
        g.n_correlated = len(d.correlated)
        g.correlated = self.correlated.ctypes.data_as(_lib.c_int_p)
        g.correlation = _lib.dptr(self.correlation)
        g.residuals_tested = 1 if d.residuals_tested else 0
        g.runs, g.n_pos, g.n_neg, g.runs_z, g.lag1 = d.runs, d.n_pos, d.n_neg, d.runs_z, d.lag1


def have_hdf5():
    """Whether the library was built with HDF5 (libhdf5-dev)."""
    return bool(_lib.lib.nlsq_have_hdf5())


def save(result, path, group=None, mode="replace", predictions=False, level=0.95, model_text=None):
    """Write `result` into `group` of the HDF5 file `path` (see
    FitResult.save_hdf5)."""
    if mode not in MODES:
        raise ValueError(f"mode must be 'replace', 'create' or 'append', not {mode!r}")
    model = result.__dict__.get("_fit_model")
    if model is None:
        raise ValueError("this result cannot be saved to HDF5: only a fit made by curve_fit or "
                         "least_squares_model keeps the model it needs (a copy or an unpickled result does not)")
    fitted = result.__dict__.get("_fitted")
    if predictions and fitted is None:
        raise ValueError("predictions=True needs the fit's data, which this result does not keep")
    cr = _CResult(result)
    o = _lib.lib.nlsq_hdf5_write_options_default()
    o.mode = MODES[mode]
    # the text as given for a model written as text; a traced one's formatted
    text = model_text if model_text is not None else model.source if isinstance(model.source, str) else model.text()
    o.model_text = text.encode()
    o.level = float(level) if level else 0.0
    keep = []
    if fitted is not None:
        _, x, y, s, kind, call = fitted
        o.fit = ctypes.pointer(call.opt)
        o.sigma_kind = int(kind)
        if predictions:
            data = _lib.Data(x=_lib.dptr(x) if x.size else None, y=_lib.dptr(y), m=y.size, sigma=_lib.dptr(s),
                             sigma_kind=kind)
            keep.append(data)
            o.data = ctypes.pointer(data)
            o.predictions = 1
    err = _lib.Error()
    st = _lib.lib.nlsq_result_write_hdf5(os.fsencode(path), group.encode() if group else None, model.ptr,
                                         ctypes.byref(cr.c), ctypes.byref(o), ctypes.byref(err))
    del keep
    if st != _lib.OK:
        if st == ERR_IO:
            raise OSError(_lib.text(err.message))
        raise_status(st, err)
