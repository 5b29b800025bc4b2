"""curve_fit and least_squares_model over nlsq_curve_fit."""
import ctypes
import re
import weakref

import numpy

from . import _bands, _bootstrap, _callback, _diagnose, _global, _lib, _model, _profile
from ._options import warn_pcov_rank, Call, prepare_bounds, raise_status, warn_pcov


# More rows of xdata than this are taken for a transposed (m, k) array.
MAX_VARIABLES = 64

# Functions tracing refused, by (nvars, n, rows): a fit repeated with the
# same untraceable function goes straight to the callback path instead of
# tracing again (about 10 us and a call of f each time). A stale entry can
# only send a function that would now trace to the callback path, which
# gives the same fit; the functions are held weakly.
_REFUSED = weakref.WeakKeyDictionary()


def _traced_or_refused(f, nvars, n, rows):
    key = (nvars, n, rows)
    try:
        refused = _REFUSED.get(f)
    except TypeError:  # not weakly referable: not cached
        refused = None
    if refused is not None and key in refused:
        raise _callback.Untraceable(refused[key])
    try:
        return _model.traced(f, nvars, n, rows)
    except Exception as e:  # what tracing refuses: curve_fit calls f back instead (_callback.py)
        if not _callback.refused_by_tracing(e, f):
            raise
        u = _callback.Untraceable(e)
        try:
            _REFUSED.setdefault(f, {})[key] = u.reason  # a string: no frames that would hold f
        except TypeError:
            pass
        raise u from e


class FitResult:
    """A fit's result. Unpacks as (popt, pcov), as SciPy's curve_fit
    returns them, and carries the statistics and the verdict."""

    _fields = ("popt", "pcov", "perr", "names", "cost", "chi2", "redchi", "r2", "aic", "bic", "m", "dof",
               "nfev", "njev", "nit", "status", "message", "success", "method", "pcov_valid", "grad_norm",
               "active_mask", "residuals", "backend", "backend_note", "device", "device_note", "threads",
               "model_path", "model_reason", "pcov_rank", "n_free", "jac_at", "diagnostics", "global_search",
               "absolute_sigma")

    def __init__(self, **kw):
        self.__dict__.update({k: kw.get(k) for k in self._fields})  # one update: cheaper than a setattr each

    def __iter__(self):
        return iter((self.popt, self.pcov))

    def __len__(self):
        return 2

    def __getitem__(self, i):
        return (self.popt, self.pcov)[i]

    def __getstate__(self):
        # what a profile, bootstrap, MCMC or band runs on (the model, the data, the
        # options' C struct) stays behind: a copy cannot be profiled, resampled
        # or sampled
        return {k: v for k, v in self.__dict__.items() if k not in ("_fitted", "_fit_model")}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def profile(self, names=None, level=0.95, **kw):
        """Profile-likelihood intervals (lmfit's conf_interval): {name:
        (lower, upper)} with the traces; see nlsqc.conf_interval."""
        return _profile.conf_interval(self, names, level, **kw)

    def profile2d(self, a, b, **kw):
        """The 2-D profile of a pair; see nlsqc.conf_interval2d."""
        return _profile.conf_interval2d(self, a, b, **kw)
    def mcmc(self, steps=1000, walkers=None, burn=None, thin=1, seed=1, priors=None, **kw):
        """Sample the posterior around this fit (nlsqc.mcmc; docs/uncertainty.md):
        an McmcResult with chain, acceptance, tau, ess and quantiles."""
        from ._mcmc import mcmc
        return mcmc(self, steps=steps, walkers=walkers, burn=burn, thin=thin, seed=seed, priors=priors, **kw)

    @property
    def params(self):
        """{name: value} of the fitted parameters."""
        return dict(zip(self.names, self.popt.tolist()))

    def bootstrap(self, n=1000, kind="residual", seed=0, level=0.95, bca=True, jackknife_max=2000, threads=None,
                  device=None, comm=None):
        """Bootstrap this fit (docs/uncertainty.md): n replicas of the data
        resampled by kind ('residual', 'pairs' or 'wild'), each refitted
        from popt with this fit's options by the batch engine, deterministic
        for a seed whatever the thread count. Returns a BootstrapResult:
        samples (n, params), stderr, bias, percentile and bca intervals
        (params, 2) at level, converged and failed counts. comm (an mpi4py
        communicator; a fit made with comm= uses its own): the replicas
        are spread over its ranks, every rank gets them all."""
        fitted = self.__dict__.get("_fitted")
        if fitted is None:
            raise ValueError("this result cannot be bootstrapped: only a fit of a traced model or model text made "
                             "by curve_fit or least_squares_model keeps the data and options it needs")
        return _bootstrap.run(fitted, self.popt, self.names, n=n, kind=kind, seed=seed, level=level, bca=bca,
                              jackknife_max=jackknife_max, threads=threads, device=device, comm=comm)
    def interval(self, level=0.95):
        """(lower, upper) of every parameter at `level`: popt -/+ t * perr,
        Student-t with the fit's dof (the normal with absolute_sigma)."""
        return _bands.interval(self, level)

    def conf_int(self, level=0.95):
        """The intervals as an (n, 2) array of [lower, upper] rows."""
        return numpy.column_stack(_bands.interval(self, level))

    def critical(self, level=0.95):
        """The two-sided critical value at `level` (t or normal)."""
        return _bands.critical(self, level)

    def band(self, x, kind="confidence", level=0.95, sigma=None, component=None):
        """(f, lower, upper) at x: the fitted curve and its confidence band
        (kind='confidence': sqrt(g^T pcov g), g the exact Jacobian at x) or
        prediction band (kind='prediction': adds the measurement variance,
        sigma^2 * redchi with sigma given at x, else redchi; with
        absolute_sigma sigma^2, or 1). component: one library component's
        band (index, or label such as 'gaussian1'). docs/uncertainty.md."""
        return _bands.band(self, x, kind, level, sigma, component)

    def bands(self, x, level=0.95, sigma=None, component=None):
        """Both bands at x from one evaluation: a named tuple (f,
        conf_lower, conf_upper, pred_lower, pred_upper)."""
        return _bands.bands(self, x, level, sigma, component)

    def derive(self, *exprs):
        """Derived quantities ('fwhm = 2*sqrt(2*log(2))*s', library names
        such as 'gaussian1_fwhm', or a dict {name: expr}) with standard
        errors and covariance by the delta method (exact AD gradient)."""
        return _bands.derive(self, *exprs)

    def quantities(self):
        """{name: definition} of the library quantities of the model."""
        return _bands.quantities(self)

    def save_hdf5(self, path, group=None, mode="replace", predictions=False, level=0.95, model_text=None):
        """Write this result into `group` (default '/') of the HDF5 file
        `path` through the library (no h5py needed): popt, perr, pcov,
        correlation, the intervals at `level`, the statistics, the
        diagnostics and, with predictions=True, x, y, fit and residual of
        the fit's data; the model text and options as attributes
        (docs/data-formats.md, "Results in HDF5"). mode 'replace' (the file
        written whole, atomically), 'create' (an existing file refused) or
        'append' (a new group in an existing file). OSError when the file
        cannot be written; ValueError for bad arguments or a build without
        HDF5."""
        from . import _hdf5
        _hdf5.save(self, path, group=group, mode=mode, predictions=predictions, level=level,
                   model_text=model_text)

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
                    device_note=_lib.text(r.device_note), threads=r.threads, pcov_rank=r.pcov_rank,
                    n_free=r.n_free, jac_at=_lib.copy_out(r.jac_at, (n,)),
                    diagnostics=_diagnose.from_c(r, names), global_search=_global.summary_from_c(r, names),
                    absolute_sigma=bool(r.absolute_sigma))
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
    m, arrays = _traced_or_refused(f, nvars, n, rows)
    if not arrays:
        return m, numpy.ascontiguousarray(x)
    points = x.shape[-1]
    for a in arrays:
        if a.size != points:  # SciPy broadcasts f(x, *p) - ydata: a callback can too
            raise _callback.Untraceable(f"the model uses an array of {a.size} values as a constant, and the data "
                                        f"have {points} points: a traced model has one value per point")
    return m, numpy.ascontiguousarray(numpy.vstack([x.reshape(-1, points)] + arrays))


def _prepare_y(ydata, check_finite, points=None):
    """ydata as a contiguous (m,) array. A scalar or another shape that
    broadcasts to the model's `points` values is broadcast, as SciPy's
    residual f(x, *p) - ydata broadcasts it (ydata=0 fits f to zero)."""
    y = numpy.asarray_chkfinite(ydata, dtype=float) if check_finite else numpy.asarray(ydata, dtype=float)
    if y.size == 0:
        raise ValueError("`ydata` must not be empty!")
    if points is not None and y.size != points and y.ndim <= 1:
        try:
            y = numpy.broadcast_to(y, (points,))
        except ValueError:
            raise ValueError(f"xdata has {points} points but ydata has {y.size}") from None
    return numpy.ascontiguousarray(y.ravel())


def _stand_in_xdata(ydata):
    """xdata=None (SciPy passes None to a model that ignores x): a row of
    zeros, one per value of ydata, that the model must not use."""
    return numpy.zeros(max(numpy.size(ydata), 1))


def _check_x_unused(model):
    """With xdata=None the model must not use its variable (SciPy's call
    would fail on None): say so instead of fitting to the stand-in."""
    if not model.var_names:
        return
    name = model.var_names[0]
    if re.search(r"(?<![\w.])" + re.escape(name) + r"(?!\w)", model.text()):
        raise ValueError(f"xdata is None but the model uses its variable {name!r}; pass xdata")


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
        method=None, nan_policy=None, residuals=False, fname="curve_fit", vars=None, params=None,
        default_max_nfev=None, global_options=None, **kwargs):
    """The common part of curve_fit and least_squares: a FitResult.
    default_max_nfev(n), when given, is the budget if none is passed;
    global_options (_global.pop_options' dict) runs the global search."""
    check, policy = _nan_setup(check_finite, nan_policy)
    p0, estimate = _auto_p0(p0)
    if p0 is not None:
        p0 = numpy.atleast_1d(numpy.asarray(p0, dtype=float))
    no_xdata = xdata is None
    if no_xdata:
        xdata = _stand_in_xdata(ydata)
    model, x = resolve_model(f, xdata, n=None if p0 is None else p0.size, vars=vars, params=params)
    if no_xdata:
        _check_x_unused(model)
    n = model.n
    if n == 0 and p0 is None:
        raise ValueError("Unable to determine number of fit parameters.")  # SciPy's words
    if default_max_nfev is not None and kwargs.get("max_nfev") is None and kwargs.get("maxfev") is None:
        kwargs["max_nfev"] = default_max_nfev(n)
    if p0 is not None and p0.size != n:
        raise ValueError(f"p0 has {p0.size} values; the model has {n} parameters ({', '.join(model.param_names)})")
    if check and not numpy.all(numpy.isfinite(x)):
        raise ValueError("array must not contain infs or NaNs")
    y = _prepare_y(ydata, check, x.shape[-1] if x.size else None)
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
    if estimate is not None:
        p0, searched = _estimate_p0(model, x, y, m, estimate)
        if searched and global_options is None:
            # what cannot be estimated is searched for, with the search's
            # defaults and a design that has room for the free parameters
            global_options = {"design": _auto_design(model.param_names, kwargs.get("fixed"))}
    call = Call(n, model.param_names, p0=p0, bounds=bounds, method=method, kwargs=kwargs, fname=fname)
    call.opt.absolute_sigma = 1 if absolute_sigma else 0
    call.opt.nan_policy = policy
    call.opt.keep_residuals = 1 if residuals else 0
    data = _lib.Data(x=_lib.dptr(x) if x.size else None, y=_lib.dptr(y), m=m, sigma=_lib.dptr(s), sigma_kind=kind)
    res = ctypes.POINTER(_lib.Result)()
    err = _lib.Error()
    with call.running():
        if global_options is not None:
            gopt, keep = _global.make_options(global_options, model.param_names)
            st = _lib.lib.nlsq_fit_global(model.ptr, ctypes.byref(data), ctypes.byref(call.opt), ctypes.byref(gopt),
                                          ctypes.byref(res), ctypes.byref(err))
            del keep
        else:
            st = _lib.lib.nlsq_curve_fit(model.ptr, ctypes.byref(data), ctypes.byref(call.opt), ctypes.byref(res),
                                         ctypes.byref(err))
    if st != _lib.OK:
        call.reraise()
        raise_status(st, err)
    r = result_from_c(res, model.param_names, residuals)  # frees the C result
    call.reraise()
    r.model_path = "text" if isinstance(f, (str, _model.Model)) else "traced"
    # what r.profile() and r.bootstrap() refit and r.mcmc() samples on
    r._fitted = _profile.Fitted(model, x, y, s, kind, call)
    r._fit_model = model  # bands and derived quantities evaluate it
    return r, model, x, y, s, kind


# SciPy's curve_fit defaults (scipy.optimize.leastsq for lm, least_squares
# for trf and dogbox): MINPACK's tolerance sqrt(eps) and gtol 0 for lm,
# 1e-8 for the others.
SCIPY_LM_TOL = 1.49012e-8
SCIPY_TRF_TOL = 1e-8
DEFAULTS = ("scipy", "nlsq")


def _auto_p0(p0):
    """(p0, estimate): p0='auto' or a dict {name: value} asks for start
    values estimated from the data (estimate: the dict of those given);
    anything else is p0 as SciPy takes it (estimate None)."""
    if isinstance(p0, str):
        if p0 != "auto":
            raise ValueError(f"p0 must be values, a dict of values by name, or 'auto', not {p0!r}")
        return None, {}
    if isinstance(p0, dict):
        return None, dict(p0)
    return p0, None


def _estimate_p0(model, x, y, m, given):
    """(p0, search): start values from the data for a model of library
    components (nlsq_guess_p0), the values in `given` (by name) kept; for
    any other model (or where the estimate fails) the given values with
    NaN elsewhere, and search True: the start is then searched for
    (docs/start-values.md)."""
    n = model.n
    unknown = set(given) - set(model.param_names)
    if unknown:
        raise ValueError(f"p0 names {', '.join(sorted(unknown))}, not parameters of the model "
                         f"({', '.join(model.param_names)})")
    keep = numpy.array([float(given.get(name, numpy.nan)) for name in model.param_names])
    out = numpy.empty(n)
    yy = numpy.ascontiguousarray(y, dtype=float)
    data = _lib.Data(x=_lib.dptr(x) if x.size else None, y=_lib.dptr(yy), m=m, sigma=None, sigma_kind=0)
    err = _lib.Error()
    if _lib.lib.nlsq_model_num_components(model.ptr) > 0 and \
            _lib.lib.nlsq_guess_p0(model.ptr, ctypes.byref(data), _lib.dptr(keep), _lib.dptr(out),
                                   ctypes.byref(err)) == _lib.OK:
        return out, False
    return keep, True


def _auto_design(names, fixed):
    """Sobol up to its 21 dimensions of free parameters, Halton to 64, else
    Latin hypercube (the command's rule for its automatic search)."""
    n = len(names)
    if fixed is not None:
        f = numpy.asarray(fixed)
        if f.dtype == bool:
            n -= int(f.sum())
        else:
            n -= len(set(fixed))
    return "sobol" if n <= 21 else "halton" if n <= 64 else "lhs"


def _bounded(bounds):
    """Whether SciPy's bounds (a pair, or an object with lb and ub) bound
    anything: SciPy then chooses trf instead of lm."""
    if type(bounds) is tuple and len(bounds) == 2 and all(type(b) is float for b in bounds):
        return bounds[0] > -numpy.inf or bounds[1] < numpy.inf  # the default (-inf, inf), without arrays
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lb, ub = bounds.lb, bounds.ub
    else:
        try:
            lb, ub = bounds
        except (TypeError, ValueError):
            return False  # prepare_bounds says what is wrong
    try:
        return bool(numpy.any(numpy.asarray(lb, dtype=float) > -numpy.inf)
                    or numpy.any(numpy.asarray(ub, dtype=float) < numpy.inf))
    except (TypeError, ValueError):
        return False


def scipy_defaults(defaults, method, bounds, jac, kwargs):
    """(method, kwargs, default_max_nfev) for curve_fit: SciPy's method
    choice, tolerances and evaluation budget where the caller gave none
    (defaults='scipy'), or the library's own (defaults='nlsq': trf,
    tolerances 1e-15, see docs/c-api.md)."""
    if defaults not in DEFAULTS:
        raise ValueError(f"defaults must be 'scipy' or 'nlsq', not {defaults!r}")
    if defaults == "nlsq":
        return method, kwargs, None
    if method is None:
        # SciPy: lm without bounds, trf with. A robust loss, which SciPy's
        # lm refuses, also takes trf (least_squares' method for it).
        robust = kwargs.get("loss", "linear") != "linear"
        method = "trf" if robust or _bounded(bounds) else "lm"
    kwargs = dict(kwargs)
    if method == "lm":
        tols = {"ftol": SCIPY_LM_TOL, "xtol": SCIPY_LM_TOL, "gtol": 0.0}
        # leastsq: 200 (n+1) evaluations when it differences (no jac; its
        # count includes the differencing), 100 (n+1) with a jac function
        per = 100 if callable(jac) else 200
        budget = lambda n: per * (n + 1)  # noqa: E731
        # pcov where lm last took J, as MINPACK's fjac that curve_fit inverts
        kwargs.setdefault("lm_last_jacobian", True)
    else:
        tols = {"ftol": SCIPY_TRF_TOL, "xtol": SCIPY_TRF_TOL, "gtol": SCIPY_TRF_TOL}
        budget = lambda n: 100 * n  # noqa: E731 - least_squares' max_nfev=None
    for k, v in tols.items():
        if kwargs.get(k) is None:
            kwargs[k] = v
    return method, kwargs, budget


# nlsq's status (SciPy least_squares' numbering) -> MINPACK's info, which
# curve_fit returns as ier with method lm: 1 ftol, 2 xtol, 3 both, 4 gtol.
# nlsq's 5 (no further reduction possible at working precision) is
# MINPACK's 6-8, which SciPy never returns (it refuses tolerances below
# EPS) and its callers take for failure; the fit did reach its minimum,
# and no reduction at all satisfies the ftol test, so it is 1.
MINPACK_INFO = {1: 4, 2: 1, 3: 2, 4: 3, 5: 1}


def _weighted_jacobian(model, x, y, s, kind, p, nan_policy):
    """The weighted residuals and their exact Jacobian at p, rows as the
    fit used them (omitted rows left out)."""
    keep = numpy.ones(y.size, dtype=bool)
    if nan_policy == "omit":
        keep = numpy.isfinite(y) & numpy.all(numpy.isfinite(numpy.atleast_2d(x)), axis=0)
        if s is not None and kind == _lib.SIGMA_PER_POINT:
            keep &= numpy.isfinite(s)
    f, J = model.eval(x[..., keep] if x.size else x, p)
    r = f - y[keep]
    if kind == _lib.SIGMA_PER_POINT:
        r, J = r / s[keep], J / s[keep][:, None]
    elif kind == _lib.SIGMA_COVARIANCE:
        L = numpy.linalg.cholesky(s)
        r, J = numpy.linalg.solve(L, r), numpy.linalg.solve(L, J)
    return r, J


def pivoted_qr(J, r):
    """MINPACK's factorisation of J (m, n): J P = Q R by Householder
    reflections with column pivoting (largest remaining column first).
    Returns (fjac, ipvt, qtf) in scipy.optimize.leastsq's layout: fjac
    (n, m) is the transposed (m, n) array with R in its upper triangle and
    the Householder vectors below it, ipvt the 1-based column order, qtf
    the first n entries of Q^T r."""
    A = numpy.array(J, dtype=float, order="F", copy=True)
    m, n = A.shape
    qtr = numpy.array(r, dtype=float, copy=True)
    order = numpy.arange(n)
    for k in range(min(m, n)):
        j = k + int(numpy.argmax(numpy.sum(A[k:, k:] ** 2, axis=0)))
        if j != k:
            A[:, [k, j]] = A[:, [j, k]]
            order[[k, j]] = order[[j, k]]
        v = A[k:, k].copy()
        norm = numpy.linalg.norm(v)
        if norm == 0:
            continue  # the rest is zero (a parameter the model does not use)
        alpha = -norm if v[0] >= 0 else norm
        v[0] -= alpha
        v /= numpy.linalg.norm(v)
        A[k:, k:] -= 2 * numpy.outer(v, v @ A[k:, k:])
        qtr[k:] -= 2 * v * (v @ qtr[k:])
        A[k, k] = alpha
        A[k + 1:, k] = v[1:]
    return numpy.ascontiguousarray(A.T), (order + 1).astype(numpy.int32), qtr[:n].copy()


def _infodict(r, method, fitted):
    """curve_fit's full_output infodict; for lm with MINPACK's fjac, ipvt
    and qtf from J recomputed exactly where pcov's Jacobian was taken
    (r.jac_at: where lm took J last with SciPy's defaults, as MINPACK's
    fjac; the solver works on a folded triangle, not on J)."""
    info = {"nfev": r.nfev, "njev": r.njev, "nit": r.nit, "fvec": r.residuals}
    if method == "lm" and r.residuals is not None and fitted is not None:
        model, x, y, s, kind, nan_policy = fitted
        res, J = _weighted_jacobian(model, x, y, s, kind, r.jac_at, nan_policy)
        info["fjac"], info["ipvt"], info["qtf"] = pivoted_qr(J, res)
    return info


def curve_fit(f, xdata, ydata, p0=None, sigma=None, absolute_sigma=False, check_finite=None,
              bounds=(-numpy.inf, numpy.inf), method=None, jac=None, *, full_output=False, nan_policy=None,
              defaults="scipy", **kwargs):
    """Fit f(x, *params) to ydata, with scipy.optimize.curve_fit's
    arguments, semantics, defaults and return values.

    f is a Python function (traced once: exact derivatives, compiled),
    model text such as "a*exp(-b*x) + c", or an nlsqc.Model. A function
    that cannot be traced is called back on the data instead (one
    nlsqc.FallbackWarning; result.model_path 'callback' and
    result.model_reason say so), with jac (a callable, '2-point',
    '3-point'; 'cs' is taken as '3-point') and diff_step / epsfcn as
    SciPy; a traced model ignores them (its Jacobian is exact).
    defaults="scipy" (the default) takes SciPy's: method lm without
    bounds and trf with, tolerances 1.49012e-8 (lm, gtol 0) or 1e-8,
    max_nfev 200 (n+1) for lm (100 (n+1) with a jac function) and 100 n
    for trf and dogbox. defaults="nlsq" takes the library's stricter ones
    (trf, tolerances 1e-15; chosen on NIST StRD, see docs/c-api.md).
    Extra keyword arguments: loss, f_scale, x_scale, ftol, xtol, gtol,
    max_nfev, backend, threads, device, gpu_float32, fixed (parameter
    names or indices held at p0), callback(iteration, cost, params,
    grad_norm, step_norm) -> truthy to stop, lm_last_jacobian (lm: pcov
    from the Jacobian lm took last, as MINPACK and SciPy; the default with
    defaults="scipy"; result.jac_at says where). Global search
    (docs/global-search.md): global_starts=N starts from a design
    ('sobol', 'halton', 'lhs'; design=) over the search box (bounds, or
    search_bounds=(lo, hi), else ranges from p0 and the data's scales),
    seed= (default 1), global_method='multistart' or 'cmaes',
    global_halving='auto', True or False; result.global_search (and
    infodict['global']) lists the distinct minima, best first, and how
    many starts reached the best. comm (an mpi4py communicator,
    docs/cluster.md): every rank of it makes this call on the same data
    and folds its share of the points; every rank gets the result one
    process computes, bitwise.

    Returns a FitResult that unpacks as popt, pcov; with full_output the
    tuple (popt, pcov, infodict, mesg, ier). Raises RuntimeError
    ("Optimal parameters not found: ...") when the fit did not converge,
    ValueError for bad input, and warns OptimizeWarning when the
    covariance could not be estimated (pcov is then all inf), and
    FitQualityWarning when the fit converged but cannot be trusted
    (result.diagnostics says why: a parameter without influence or that
    never moved from p0, a rank-deficient Jacobian, R^2 <= 0).
    """
    if "args" in kwargs:
        raise ValueError("'args' is not a supported keyword argument.")
    method, kwargs, budget = scipy_defaults(defaults, method, bounds, jac, kwargs)
    gopts = _global.pop_options(kwargs)
    try:  # traced: exact derivatives, jac not needed
        r, model, x, y, s, kind = fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds, method,
                                      nan_policy, residuals=full_output, default_max_nfev=budget,
                                      global_options=gopts, **kwargs)
        fitted = (model, x, y, s, kind, nan_policy)
    except _callback.Untraceable as u:
        if gopts is not None:
            raise ValueError("the global search needs a model nlsqc can trace (or model text); this one cannot be "
                             "traced: " + u.reason) from None
        r = _callback.fit(f, xdata, ydata, p0, sigma, absolute_sigma, check_finite, bounds, method, jac, u.reason,
                          dict(kwargs, nan_policy=nan_policy), residuals=full_output)
        fitted = None  # no exact Jacobian to factor for fjac
    if not r.success:
        raise RuntimeError("Optimal parameters not found: " + r.message)
    if not r.pcov_valid:
        warn_pcov()
    elif r.pcov_rank < r.n_free:
        warn_pcov_rank(r.pcov_rank, r.n_free)
    _diagnose.warn_if_untrusted(r)
    if full_output:
        info = _infodict(r, r.method, fitted)
        if r.global_search is not None:
            info["global"] = r.global_search
        ier = MINPACK_INFO.get(r.status, r.status) if r.method == "lm" else r.status
        return r.popt, r.pcov, info, r.message, ier
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


def least_squares_model(f, x0, xdata, ydata, sigma=None, bounds=(-numpy.inf, numpy.inf), method="trf", loss="linear",
                  f_scale=1.0, nan_policy=None, **kwargs):
    """Minimise 1/2 sum rho(r_i^2), r = (f(x_i, p) - y_i) / sigma_i, from x0
    -- scipy.optimize.least_squares' solvers and result for a model f of
    data (traced, exact derivatives). nlsqc.least_squares is SciPy's own
    signature, least_squares(fun, x0, ...) for a residual function.

    Returns an OptimizeResult with x, cost, fun (the residuals r), jac (the
    weighted Jacobian at x; with a robust loss scaled as SciPy's), grad, optimality, active_mask, nfev, njev,
    status, message and success, as SciPy's; and the statistics of
    curve_fit's FitResult under `fit` (its diagnostics included). Does not
    raise when the solver did not converge: see status and success. Warns
    FitQualityWarning as curve_fit does.
    """
    r, model, x, y, s, kind = fit(f, xdata, ydata, x0, sigma, True, None, bounds, method, nan_policy,
                                  residuals=True, fname="least_squares_model", loss=loss, f_scale=f_scale, **kwargs)
    _diagnose.warn_if_untrusted(r)
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
