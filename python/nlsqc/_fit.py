"""curve_fit and least_squares over nlsq_curve_fit."""
import ctypes

import numpy

from . import _callback, _lib, _model
from ._options import Call, prepare_bounds, raise_status, warn_pcov


# More rows of xdata than this are taken for a transposed (m, k) array.
MAX_VARIABLES = 64


class FitResult:
    """A fit's result. Unpacks as (popt, pcov), as SciPy's curve_fit
    returns them, and carries the statistics and the verdict."""

    _fields = ("popt", "pcov", "perr", "names", "cost", "chi2", "redchi", "r2", "aic", "bic", "m", "dof",
               "nfev", "njev", "nit", "status", "message", "success", "method", "pcov_valid", "grad_norm",
               "active_mask", "residuals", "backend", "backend_note", "device", "device_note", "threads",
               "model_path", "model_reason")

    def __init__(self, **kw):
        for k in self._fields:
            setattr(self, k, kw.get(k))

    def __iter__(self):
        return iter((self.popt, self.pcov))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (self.popt, self.pcov)[i]

    @property
    def params(self):
        """{name: value} of the fitted parameters."""
        return dict(zip(self.names, self.popt.tolist()))

    def __repr__(self):
        rows = "\n".join(f"  {n:>12} = {v:.10g} +/- {e:.3g}" for n, v, e in zip(self.names, self.popt, self.perr))
        return (f"FitResult(status {self.status}: {self.message}\n{rows}\n  chi2 {self.chi2:.6g}, redchi "
                f"{self.redchi:.6g}, r2 {self.r2:.6g}, nfev {self.nfev}, method {self.method}, device "
                f"{self.device}, backend {self.backend})")


def result_from_c(res, names, residuals=False):
    """A FitResult copied out of an nlsq_result (which is then freed)."""
    r = res.contents
    n = r.n
    popt = _lib.copy_out(r.popt, (n,))
    pcov = _lib.copy_out(r.pcov, (n, n))
    perr = _lib.copy_out(r.perr, (n,))
    mask = _lib.copy_out(r.active_mask, (n,), numpy.int8).astype(int) if r.active_mask else None
    resid = _lib.copy_out(r.residuals, (r.m,)) if residuals and r.residuals and r.m else None
    out = FitResult(popt=popt, pcov=pcov, perr=perr, names=list(names), cost=r.cost, chi2=r.chi2,
                    redchi=r.redchi, r2=r.r2, aic=r.aic, bic=r.bic, m=r.m, dof=r.dof, nfev=r.nfev, njev=r.njev,
                    nit=r.nit, status=r.status, message=_lib.text(r.message), success=bool(r.success),
                    method=_lib.METHOD_NAMES.get(r.method, "?"), pcov_valid=bool(r.pcov_valid),
                    grad_norm=r.grad_norm, active_mask=mask, residuals=resid, backend=_lib.text(r.backend),
                    backend_note=_lib.text(r.backend_note), device=_lib.text(r.device),
                    device_note=_lib.text(r.device_note), threads=r.threads)
    _lib.lib.nlsq_result_free(res)
    return out


def resolve_model(f, xdata, n=None, vars=None, params=None):
    """(Model, the data's x as a float64 (m,) or (k, m) array) for f and
    xdata. Per-point arrays a traced function uses as constants are added
    as rows of x after xdata's (then x is 2-D)."""
    if isinstance(f, _model.Model):
        return f, _model.as_xdata(xdata, f.nvars) if f.nvars else numpy.zeros(0)
    x = numpy.asarray(xdata, dtype=float)
    if x.ndim > 2:
        raise ValueError(f"xdata has shape {x.shape}; it must be (m,) or (k, m) for k variables")
    rows = x.ndim == 2
    nvars = x.shape[0] if rows else 1
    if nvars > MAX_VARIABLES:
        raise ValueError(f"xdata has shape {x.shape}: that is {nvars} variables of {x.shape[1]} points; xdata must "
                         f"be (m,) or (k, m) for k variables (did you mean xdata.T?)")
    if isinstance(f, str):
        return _model.model(f, nvars=nvars, vars=vars, params=params, rows=rows), numpy.ascontiguousarray(x)
    if not callable(f):
        raise TypeError(f"the model must be a function or model text, not {type(f).__name__}")
    try:
        m, arrays = _model.traced(f, nvars, n, rows)
    except Exception as e:  # what tracing refuses: curve_fit calls f back instead (_callback.py)
        if _callback.refused_by_tracing(e, f):
            raise _callback.Untraceable(e) from e
        raise
    if not arrays:
        return m, numpy.ascontiguousarray(x)
    points = x.shape[-1]
    for a in arrays:
        if a.size != points:
            raise ValueError(f"the model uses an array of {a.size} values as a constant; a per-point array must "
                             f"have one value per point ({points})")
    return m, numpy.ascontiguousarray(numpy.vstack([x.reshape(-1, points)] + arrays))


def _prepare_y(ydata, check_finite):
    y = numpy.asarray_chkfinite(ydata, dtype=float) if check_finite else numpy.asarray(ydata, dtype=float)
    if y.size == 0:
        raise ValueError("`ydata` must not be empty!")
    return numpy.ascontiguousarray(y.ravel())


def _nan_setup(check_finite, nan_policy):
    """SciPy's check_finite / nan_policy pair -> (check now, C policy)."""
    if nan_policy not in (None, "raise", "omit", "propagate"):
        raise ValueError("nan_policy must be one of None, 'raise', 'omit', 'propagate'")
    if nan_policy == "propagate":
        raise ValueError("nan_policy='propagate' is not supported by this function.")
    if check_finite is None:
        check_finite = nan_policy is None
    if nan_policy == "omit":
        return False, _lib.NAN_POLICIES["omit"]
    if nan_policy == "raise":
        return False, _lib.NAN_POLICIES["raise"]
    return bool(check_finite), _lib.NAN_POLICIES["raise" if check_finite else "ignore"]


def _sigma(sigma, m, check_finite):
    if sigma is None:
        return None, _lib.SIGMA_NONE
    s = numpy.asarray_chkfinite(sigma, dtype=float) if check_finite else numpy.asarray(sigma, dtype=float)
    if s.shape == (m,):
        return numpy.ascontiguousarray(s), _lib.SIGMA_PER_POINT
    if s.shape == (m, m):
        return numpy.ascontiguousarray(s), _lib.SIGMA_COVARIANCE
    raise ValueError("`sigma` has incorrect shape.")


def fit(f, xdata, ydata, p0=None, sigma=None, absolute_sigma=False, check_finite=None, bounds=(-numpy.inf, numpy.inf),
        method=None, nan_policy=None, residuals=False, fname="curve_fit", vars=None, params=None, **kwargs):
    """The common part of curve_fit and least_squares: a FitResult."""
    check, policy = _nan_setup(check_finite, nan_policy)
    if p0 is not None:
        p0 = numpy.atleast_1d(numpy.asarray(p0, dtype=float))
    model, x = resolve_model(f, xdata, n=None if p0 is None else p0.size, vars=vars, params=params)
    n = model.n
    if p0 is not None and p0.size != n:
        raise ValueError(f"p0 has {p0.size} values; the model has {n} parameters ({', '.join(model.param_names)})")
    if check and not numpy.all(numpy.isfinite(x)):
        raise ValueError("array must not contain infs or NaNs")
    y = _prepare_y(ydata, check)
    m = y.size
    if x.size and x.shape[-1] != m:
        raise ValueError(f"xdata has {x.shape[-1]} points but ydata has {m}")
    s, kind = _sigma(sigma, m, check)
    bounds = prepare_bounds(bounds, n)
    if method == "lm" and bounds is not None:
        raise ValueError("Method 'lm' only works for unconstrained problems. Use 'trf' or 'dogbox' instead.")
    if m < n and kwargs.get("fixed") is None:
        # SciPy's words; the library refuses it for every method (an
        # underdetermined fit has no unique answer to call converged).
        raise TypeError(f"The number of func parameters={n} must not exceed the number of data points={m}")
    call = Call(n, model.param_names, p0=p0, bounds=bounds, method=method, kwargs=kwargs, fname=fname)
    call.opt.absolute_sigma = 1 if absolute_sigma else 0
    call.opt.nan_policy = policy
    call.opt.keep_residuals = 1 if residuals else 0
    data = _lib.Data(x=_lib.dptr(x) if x.size else None, y=_lib.dptr(y), m=m, sigma=_lib.dptr(s), sigma_kind=kind)
    res = ctypes.POINTER(_lib.Result)()
    err = _lib.Error()
    with call.running():
        st = _lib.lib.nlsq_curve_fit(model.ptr, ctypes.byref(data), ctypes.byref(call.opt), ctypes.byref(res),
                                     ctypes.byref(err))
    if st != _lib.OK:
        call.reraise()
        raise_status(st, err)
    r = result_from_c(res, model.param_names, residuals)  # frees the C result
    call.reraise()
    r.model_path = "text" if isinstance(f, (str, _model.Model)) else "traced"
    return r, model, x, y, s, kind


def curve_fit(f, xdata, ydata, p0=None, sigma=None, absolute_sigma=False, check_finite=None,
              bounds=(-numpy.inf, numpy.inf), method=None, jac=None, *, full_output=False, nan_policy=None,
              **kwargs):
    """Fit f(x, *params) to ydata, with scipy.optimize.curve_fit's
    arguments, semantics and return values.

    f is a Python function (traced once: exact derivatives, compiled),
    model text such as "a*exp(-b*x) + c", or an nlsqc.Model. A function
    that cannot be traced is called back on the data instead (one
    nlsqc.FallbackWarning; result.model_path 'callback' and
    result.model_reason say so), with jac (a callable, '2-point',
    '3-point'; 'cs' is taken as '3-point') and diff_step / epsfcn as
    SciPy; a traced model ignores them (its Jacobian is exact).
    method None is nlsq's default, trf (SciPy: lm without bounds).
    Extra keyword arguments: loss, f_scale, x_scale, ftol, xtol, gtol,
    max_nfev, backend, threads, device, gpu_float32, fixed (parameter
    names or indices held at p0), callback(iteration, cost, params,
    grad_norm, step_norm) -> truthy to stop.

    Returns a FitResult that unpacks as popt, pcov; with full_output the
    tuple (popt, pcov, infodict, mesg, ier). Raises RuntimeError
    ("Optimal parameters not found: ...") when the fit did not converge,
    ValueError for bad input, and warns OptimizeWarning when the
    covariance could not be estimated (pcov is then all inf).
    """
    try:  # traced: exact derivatives, jac not needed
        r = fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds, method, nan_policy,
                residuals=full_output, **kwargs)[0]
    except _callback.Untraceable as u:
        r = _callback.fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds, method, jac, u.reason,
                          dict(kwargs, nan_policy=nan_policy), residuals=full_output)
    if not r.success:
        raise RuntimeError("Optimal parameters not found: " + r.message)
    if not r.pcov_valid:
        warn_pcov()
    if full_output:
        info = {"nfev": r.nfev, "njev": r.njev, "nit": r.nit, "fvec": r.residuals}
        return r.popt, r.pcov, info, r.message, r.status
    return r


class OptimizeResult(dict):
    """scipy.optimize.OptimizeResult's shape: a dict with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self):
        return "OptimizeResult(" + ", ".join(f"{k}={v!r}" for k, v in self.items() if k != "fun") + ")"


def _rho12(loss, z):
    """The loss's derivatives rho'(z) and rho''(z), z = (r/C)^2."""
    if loss == "linear":
        return numpy.ones_like(z), numpy.zeros_like(z)
    if loss == "soft_l1":
        t = 1 + z
        return t ** -0.5, -0.5 * t ** -1.5
    if loss == "huber":
        big = z > 1
        zz = numpy.where(big, z, 1.0)
        return numpy.where(big, zz ** -0.5, 1.0), numpy.where(big, -0.5 * zz ** -1.5, 0.0)
    if loss == "cauchy":
        t = 1 + z
        return 1 / t, -1 / t ** 2
    t = 1 + z * z  # arctan
    return 1 / t, -2 * z / t ** 2


def least_squares(f, x0, xdata, ydata, sigma=None, bounds=(-numpy.inf, numpy.inf), method="trf", loss="linear",
                  f_scale=1.0, nan_policy=None, **kwargs):
    """Minimise 1/2 sum rho(r_i^2), r = (f(x_i, p) - y_i) / sigma_i, from x0
    -- scipy.optimize.least_squares' solvers and result for a model f.

    Returns an OptimizeResult with x, cost, fun (the residuals r), jac (the
    weighted Jacobian at x; with a robust loss scaled as SciPy's), grad, optimality, active_mask, nfev, njev,
    status, message and success, as SciPy's; and the statistics of
    curve_fit's FitResult under `fit`. Does not raise when the solver did
    not converge: see status and success.
    """
    r, model, x, y, s, kind = fit(f, xdata, ydata, x0, sigma, True, None, bounds, method, nan_policy,
                                  residuals=True, fname="least_squares", loss=loss, f_scale=f_scale, **kwargs)
    keep = numpy.ones(y.size, dtype=bool)
    if nan_policy == "omit":
        keep = numpy.isfinite(y) & numpy.all(numpy.isfinite(numpy.atleast_2d(x)), axis=0)
        if s is not None and kind == _lib.SIGMA_PER_POINT:
            keep &= numpy.isfinite(s)
    xk = x[..., keep] if x.size else x
    _, J = model.eval(xk, r.popt)
    if kind == _lib.SIGMA_PER_POINT:
        J = J / s[keep][:, None]
    elif kind == _lib.SIGMA_COVARIANCE:
        J = numpy.linalg.solve(numpy.linalg.cholesky(s), J)
    fun = r.residuals if r.residuals is not None else numpy.zeros(0)
    z = (fun / f_scale) ** 2
    rho1, rho2 = _rho12(loss, z)
    grad = J.T @ (rho1 * fun)
    if loss != "linear":  # SciPy's jac: J^T J is the Gauss-Newton Hessian of the robust cost
        J = J * numpy.sqrt(numpy.maximum(rho1 + 2 * rho2 * z, numpy.finfo(float).eps))[:, None]
    return OptimizeResult(x=r.popt, cost=r.cost, fun=fun, jac=J, grad=grad, optimality=r.grad_norm,
                          active_mask=r.active_mask, nfev=r.nfev, njev=r.njev, status=r.status, message=r.message,
                          success=r.success, fit=r)
