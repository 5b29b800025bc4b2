"""The fallback for models that cannot be traced: nlsqc.curve_fit calls the
function itself on the data (once per evaluation, vectorised over the
points) through nlsq_fit_callback, with the user's jac or SciPy's finite
differences, and the same solvers, bounds, losses and covariance."""
import ctypes
import inspect
import warnings

import numpy

from . import _lib
from ._options import Call, raise_status
from ._trace import TraceError


class FallbackWarning(UserWarning):
    """The model could not be traced; nlsqc calls it back instead (finite
    differences unless jac is given). Silence with
    warnings.simplefilter('ignore', nlsqc.FallbackWarning)."""


class Untraceable(TraceError):
    """Tracing failed; `reason` says why. curve_fit falls back on it, the
    large-data and batch entry points raise it."""

    def __init__(self, cause):
        # cause: the exception tracing raised, or its reason already written
        self.reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
        super().__init__(
            f"the model cannot be traced ({self.reason}). nlsqc.curve_fit calls such a function back instead; "
            "this call cannot (curve_fit_large, fit_file, fit_chunks, fit_batch and fit_global would call Python once "
            "per chunk, fit or data set): write the model with traceable operations (see nlsqc.np) or as model text")


def refused_by_tracing(error, f):
    """Whether `error`, raised while tracing f, means f cannot be traced: a
    TraceError, or anything raised inside f's own code (a library that
    cannot take traced values, such as scipy.integrate). Errors in the
    arguments (p0 against the signature) are not."""
    if isinstance(error, TraceError):
        return True
    code = getattr(f, "__code__", None)
    tb = error.__traceback__
    while tb is not None:
        if code is not None and tb.tb_frame.f_code is code:
            return True
        tb = tb.tb_next
    return False


def model_or_refuse(f, **kw):
    """nlsqc.model(f, **kw) for the entry points that cannot call f back:
    a model that cannot be traced raises Untraceable, which says so."""
    from ._model import model
    try:
        return model(f, **kw)
    except Exception as e:
        if refused_by_tracing(e, f):
            raise Untraceable(e) from e
        raise


class _Residual(ctypes.Structure):
    pass


# plain addresses: numpy reads and writes them without wrapping ctypes
# pointers in arrays, which costs more than a small model's evaluation
RESIDUAL_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)

_Residual._fields_ = [("fn", RESIDUAL_FN), ("user", ctypes.c_void_p), ("n", ctypes.c_int), ("m", ctypes.c_size_t),
                      ("jac", ctypes.c_int), ("diff_step", ctypes.c_double), ("epsfcn", ctypes.c_double)]

JAC_KINDS = {"2-point": 0, "3-point": 1, "cs": 1, None: 0}
JAC_CALLBACK = 2

_lib.lib.nlsq_fit_callback.restype = ctypes.c_int
_lib.lib.nlsq_fit_callback.argtypes = [ctypes.POINTER(_Residual), ctypes.POINTER(_lib.Options),
                                       ctypes.POINTER(ctypes.POINTER(_lib.Result)), ctypes.POINTER(_lib.Error)]


def _param_count(f, p0):
    if p0 is not None:
        return p0.size
    sig = inspect.signature(f)
    args = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(args) < 2:
        raise ValueError("Unable to determine number of fit parameters.")
    return len(args) - 1


def _whitener(sigma, m):
    """A function applying the weights to r (m,) or J (m, n): SciPy's
    curve_fit rules for 1-D and 2-D sigma."""
    if sigma is None:
        return None
    s = numpy.asarray(sigma, dtype=float)
    if s.shape == (m,):
        inv = 1.0 / s
        return lambda a: a * (inv if a.ndim == 1 else inv[:, None])
    if s.shape == (m, m):
        from scipy.linalg import cholesky, solve_triangular  # a covariance sigma needs SciPy, as in SciPy
        L = cholesky(s, lower=True)
        return lambda a: solve_triangular(L, a, lower=True)
    raise ValueError("`sigma` has incorrect shape.")


def _scipy_tolerances(kwargs, method):
    """SciPy's tolerances unless given: a callback model is SciPy's own
    use case, so it gets SciPy's numbers (and differences carry about
    sqrt(EPS) of noise, so nlsq's 1e-15 would only spend evaluations)."""
    kw = dict(kwargs)
    tol = 1.49012e-8 if method == "lm" else 1e-8
    for k in ("ftol", "xtol"):
        kw.setdefault(k, tol)
    kw.setdefault("gtol", 0.0 if method == "lm" else 1e-8)
    return kw


def fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds, method, jac, reason, kwargs,
        residuals=False):
    """curve_fit by calling f back: a FitResult with model_path 'callback'."""
    from ._fit import result_from_c, _prepare_y
    from ._options import prepare_bounds
    warnings.warn(f"the model cannot be traced ({reason}); nlsqc calls it back on the data instead "
                  f"({'the given jac' if callable(jac) else 'finite differences'}; exact and faster when traceable)",
                  FallbackWarning, stacklevel=3)
    if isinstance(p0, (str, dict)):
        raise ValueError(f"p0='auto' (or a dict) estimates start values for model text of library shapes; this "
                         f"model is called back ({reason}): give p0 as values")
    if p0 is not None:
        p0 = numpy.atleast_1d(numpy.asarray(p0, dtype=float))
    n = _param_count(f, p0)
    check = check_finite if check_finite is not None else kwargs.get("nan_policy") is None
    kwargs = dict(kwargs)
    if kwargs.pop("nan_policy", None) == "omit":
        raise ValueError("nan_policy='omit' is not offered for a model that is called back (it cannot be traced: "
                         f"{reason}); drop the points with NaN before the fit")
    diff_step = kwargs.pop("diff_step", None)
    epsfcn = kwargs.pop("epsfcn", None)
    y = _prepare_y(ydata, check)
    if y.size == 1:  # SciPy's f(x, *p) - ydata broadcasts a scalar ydata to f's values
        start = p0 if p0 is not None else numpy.ones(n)
        k = numpy.size(f(xdata, *start))
        if k > 1:
            y = numpy.full(k, y[0])
    m = y.size
    if m < n:
        raise TypeError(f"The number of func parameters={n} must not exceed the number of data points={m}")
    bounds = prepare_bounds(bounds, n)
    if method == "lm" and bounds is not None:
        raise ValueError("Method 'lm' only works for unconstrained problems. Use 'trf' or 'dogbox' instead.")
    if method is None:  # SciPy's choice
        method = "lm" if bounds is None else "trf"
    names = [f"p{i}" for i in range(n)]
    call = Call(n, names, p0=p0, bounds=bounds, method=method, kwargs=_scipy_tolerances(kwargs, method))
    call.opt.absolute_sigma = 1 if absolute_sigma else 0
    call.opt.keep_residuals = 1 if residuals else 0
    weigh = _whitener(sigma, m)
    state = {"error": None}

    shape = y.shape
    views = {}  # the library's few buffers (parameters, residuals, J) as arrays, made once each

    def view(address, size):
        a = views.get(address)
        if a is None:
            a = views[address] = numpy.ctypeslib.as_array((ctypes.c_double * size).from_address(address))
        return a

    def residuals(_user, params, r, J):
        try:
            p = views.get(params)
            if p is None:
                p = view(params, n)
            f0 = f(xdata, *p)
            if type(f0) is not numpy.ndarray or f0.dtype != numpy.float64:
                f0 = numpy.asarray(f0, dtype=float)
            if f0.shape != shape:
                if f0.size != m and f0.size != 1:
                    raise ValueError(f"the model returned {f0.size} values for {m} data points")
                f0 = numpy.broadcast_to(f0.reshape(-1) if f0.size == m else f0, shape)
            if weigh is None:
                out = views.get(r)
                numpy.subtract(f0, y, out=out if out is not None else view(r, m))
            else:
                view(r, m)[:] = weigh(f0 - y)
            if J:
                jm = numpy.asarray(jac(xdata, *p), dtype=float).reshape(m, n)
                view(J, m * n).reshape(m, n)[:] = jm if weigh is None else weigh(jm)
            return 0
        except BaseException as e:  # re-raised after the call
            state["error"] = e
            return 1

    fn = RESIDUAL_FN(residuals)
    pb = _Residual(fn=fn, user=None, n=n, m=m, jac=JAC_CALLBACK if callable(jac) else JAC_KINDS.get(jac, 0),
                   diff_step=float(diff_step) if diff_step is not None else 0.0,
                   epsfcn=float(epsfcn) if epsfcn is not None else 0.0)
    if not callable(jac) and jac not in JAC_KINDS:
        raise ValueError(f"jac must be a callable, '2-point', '3-point' or 'cs', not {jac!r}")
    res = ctypes.POINTER(_lib.Result)()
    err = _lib.Error()
    with call.running():
        st = _lib.lib.nlsq_fit_callback(ctypes.byref(pb), ctypes.byref(call.opt), ctypes.byref(res),
                                        ctypes.byref(err))
    if state["error"] is not None:
        raise state["error"]
    if st != _lib.OK:
        call.reraise()
        raise_status(st, err)
    r = result_from_c(res, names, residuals)
    call.reraise()
    r.model_path = "callback"
    r.model_reason = reason
    return r
