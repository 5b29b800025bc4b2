"""Models: from a Python function (traced) or from model text, cached."""
import collections
import ctypes
import re
import threading

import numpy

from . import _lib, _trace


class Model:
    """A compiled nlsq model: its parameters, variables and exact Jacobian.

    Made by nlsqc.model(); curve_fit and the other fitting functions also
    accept one directly (tracing and compiling then happen only once).
    """

    def __init__(self, ptr, param_names, source):
        self._ptr = ptr
        lib = _lib.lib
        self.nvars = lib.nlsq_model_num_vars(ptr)
        self.n = lib.nlsq_model_num_params(ptr)
        self.param_names = tuple(param_names) if param_names is not None else tuple(
            _lib.text(lib.nlsq_model_param_name(ptr, j)) for j in range(self.n))
        self.var_names = tuple(_lib.text(lib.nlsq_model_var_name(ptr, k)) for k in range(self.nvars))
        self.source = source

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr and _lib is not None and _lib.lib is not None:
            _lib.lib.nlsq_model_free(ptr)

    @property
    def ptr(self):
        return self._ptr

    @property
    def components(self):
        """The library shapes the model text calls, in order: dicts with
        "shape", "prefix" ("gaussian1_" for gaussian(x), "" when the call
        gave the parameters) and "params" (the parameter names; None for an
        argument that is an expression). Empty for a traced function."""
        lib = _lib.lib
        out = []
        for i in range(lib.nlsq_model_num_components(self._ptr)):
            c = _lib.Component()
            lib.nlsq_model_component(self._ptr, i, ctypes.byref(c), None)
            out.append({"shape": c.shape.decode(), "prefix": c.prefix.decode(),
                        "params": [self.param_names[c.params[k]] if c.params[k] >= 0 else None
                                   for k in range(c.num_params)]})
        return out

    def text(self, which=-1):
        """The model (which=-1) or its derivative by parameter `which` as
        model-language text."""
        which = _lib.integer(which, "which", -2 ** 63, 2 ** 63)
        if not -1 <= which < self.n:
            raise IndexError(f"parameter index {which} out of range (the model has {self.n})")
        need = _lib.lib.nlsq_model_format(self._ptr, which, None, 0)
        buf = ctypes.create_string_buffer(need + 1)
        _lib.lib.nlsq_model_format(self._ptr, which, buf, need + 1)
        return buf.value.decode()

    def eval(self, xdata, params, jacobian=True):
        """The model's values f[m] and (with jacobian) its exact Jacobian
        J[m, n] at the points xdata ((m,) or (k, m)) for `params`."""
        x = as_xdata(xdata, self.nvars)
        m = x.shape[-1] if x.ndim else 0
        p = numpy.ascontiguousarray(params, dtype=float).ravel()
        if p.size != self.n:
            raise ValueError(f"params has {p.size} values; the model has {self.n} parameters")
        f = numpy.empty(m)
        J = numpy.empty((m, self.n)) if jacobian else None
        err = _lib.Error()
        st = _lib.lib.nlsq_model_eval(self._ptr, _lib.dptr(p), _lib.dptr(x) if m else None, m, _lib.dptr(f),
                                      _lib.dptr(J), ctypes.byref(err))
        if st != _lib.OK:
            raise ValueError(_lib.text(err.message))
        return (f, J) if jacobian else f

    def __call__(self, xdata, *params):
        return self.eval(xdata, params, jacobian=False)

    def __repr__(self):
        return f"<nlsqc.Model {self.text()!r}: parameters {', '.join(self.param_names)}>"


def as_xdata(xdata, nvars):
    """xdata as a C-contiguous float64 array of shape (m,) or (k, m)."""
    x = numpy.ascontiguousarray(xdata, dtype=float)
    if nvars <= 1:
        if x.ndim == 2 and x.shape[0] == 1:
            x = x[0]
        if nvars == 1 and x.ndim != 1:
            raise ValueError(f"xdata has shape {x.shape}; the model has one variable, so it must be 1-D")
    elif x.ndim != 2 or x.shape[0] != nvars:
        raise ValueError(f"xdata has shape {x.shape}; the model has {nvars} variables, so it must be ({nvars}, m)")
    return x


_cache = collections.OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 64


def _cached(key, make):
    with _cache_lock:
        m = _cache.get(key)
        if m is not None:
            _cache.move_to_end(key)
            return m
    m = make()
    with _cache_lock:
        _cache[key] = m
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return m


def model(f, nvars=1, n=None, vars=None, params=None, rows=None):
    """A Model from a Python function f(x, p1, p2, ...) or model text.

    nvars: the number of independent variables (rows of xdata); with
    nvars >= 2 the function gets x with x[0], x[1], ... n: the number of
    parameters, needed only for f(x, *p). For text, vars and params name
    the variables (default "x", or "x0,x1,..." for several) and fix the
    parameter order (default: order of first appearance). rows: whether
    the function gets x as rows (x[0], ...) even for one variable; by
    default for nvars >= 2 only (SciPy's xdata of shape (1, m) gives rows).
    """
    if rows is None:
        rows = nvars >= 2
    if isinstance(f, Model):
        return f
    if isinstance(f, str):
        return _from_text(f, nvars, vars, params)
    if not callable(f):
        raise TypeError(f"the model must be a function or model text, not {type(f).__name__}")
    m, arrays = traced(f, nvars, n, rows)
    if arrays:
        raise _trace.TraceError(
            f"the model uses {len(arrays)} per-point array{'s' if len(arrays) > 1 else ''} as constants, which a "
            "Model made alone cannot hold; pass the function itself to curve_fit, least_squares or "
            "curve_fit_large (they add the arrays as rows of xdata), or make them rows of xdata yourself")
    return m


def traced(f, nvars, n=None, rows=False):
    """(Model, per-point arrays) for a function: the arrays it uses as
    constants become the model's variables after x's."""
    names = _trace.parameter_names(f, n)
    nodes, root, _, arrays = _trace.trace(f, nvars, names, rows)
    return _cached(("trace", nodes, root), lambda: Model(_trace.build(nodes, root), names, f)), arrays


def _default_vars(text, nvars):
    """The variables' names when none are given: x for one row of xdata;
    for 2 or 3 rows x0, x1, ... unless the text names x, y (and z) and no
    x0, x1, ...: a surface is written gaussian2d(x, y) far more often."""
    if nvars <= 1:
        return "x"
    numbered = [f"x{i}" for i in range(nvars)]
    if nvars <= 3:
        words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text))
        plain = ["x", "y", "z"][:nvars]
        if set(plain) <= words and not words & set(numbered):
            return ",".join(plain)
    return ",".join(numbered)


def _from_text(text, nvars, vars, params):
    _lib.c_string(text, "model text")
    if vars is None:
        vars = _default_vars(text, nvars)
    elif not isinstance(vars, str):
        vars = ",".join(vars)
    if not isinstance(params, (str, type(None))):
        params = ",".join(params)

    def make():
        opt = _lib.lib.nlsq_model_options_default()
        opt.vars = _lib.c_string(vars, "vars")
        opt.params = _lib.c_string(params, "params") if params else None
        ptr = ctypes.c_void_p()
        err = _lib.Error()
        if _lib.lib.nlsq_model_parse(text.encode(), ctypes.byref(opt), ctypes.byref(ptr), ctypes.byref(err)) \
                != _lib.OK:
            where = f" (line {err.line}, column {err.column})" if err.line else ""
            raise ValueError(f"model text{where}: {_lib.text(err.message)}")
        return Model(ptr, None, text)

    m = _cached(("text", text, vars, params), make)
    return m
