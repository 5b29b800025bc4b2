"""fit_global: one model fitted to many data sets at once, some parameters
shared by all of them (a rate constant, an activation energy) and the rest
each data set's own; the C library's nlsq_fit_shared, which solves the
problem by its structure (docs/global-fits.md)."""
import ctypes

import numpy

from . import _callback, _lib, _model
from ._options import Call, prepare_bounds, quiet, raise_status, warn_pcov

_PROTOTYPES = {
    "nlsq_shared_default": (_lib.Shared, []),
    "nlsq_fit_shared": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(_lib.Shared), ctypes.POINTER(_lib.Options),
                                       ctypes.c_uint, ctypes.POINTER(ctypes.POINTER(_lib.SharedResult)),
                                       ctypes.POINTER(_lib.Error)]),
    "nlsq_shared_result_free": (None, [ctypes.POINTER(_lib.SharedResult)]),
}


def _fn(name):
    """A function of the library, bound on first use: a library built
    before global fits still serves everything else."""
    fn = getattr(_lib.lib, name, None)
    if fn is None:
        raise RuntimeError(f"the nlsq library at {_lib.path} is too old: it lacks {name} (global fits); rebuild it")
    fn.restype, fn.argtypes = _PROTOTYPES[name]
    return fn


class GlobalResult:
    """The result of fit_global over D data sets of a model with n
    parameters.

    popt, perr     (D, n): each data set's parameters and standard errors;
                   a shared parameter has the same value in every row
    pcov           (D, n, n) with pcov=True: each data set's covariance
                   (locals, shared and their cross terms), else None
    shared         the shared parameters' names, in model order
    shared_mask    (n,) bool: which parameters are shared
    shared_popt, shared_perr   (n_shared,): their values and errors
    shared_pcov    (n_shared, n_shared): their covariance
    shared_pcov_full  (n, n): the same in model order, 0 for the locals
    values         {name: value} of the shared parameters
    cost, chi2, redchi, dof, grad_norm: of the whole problem
    cost_set, chi2_set, m (D,): each data set's share and points used
    m_total, n_free: points and unknowns in all
    status, success, message, nfev, njev, nit, method, threads, seconds,
    memory_bytes, pcov_valid, n_shared
    names          the n parameters in the order of popt's columns: model
                   text's order of appearance (or params=), a function's
                   signature order
    covariates     the covariates' names
    """

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def shared_popt(self):
        return self.popt[0, self.shared_mask].copy() if len(self) else numpy.full(self.shared_mask.sum(), numpy.nan)

    @property
    def shared_perr(self):
        return self.perr[0, self.shared_mask].copy() if len(self) else numpy.full(self.shared_mask.sum(), numpy.nan)

    @property
    def shared_pcov(self):
        if self.shared_pcov_full is None:
            return None
        idx = numpy.flatnonzero(self.shared_mask)
        return self.shared_pcov_full[numpy.ix_(idx, idx)].copy()

    @property
    def values(self):
        return dict(zip(self.shared, self.shared_popt.tolist()))

    def __len__(self):
        return self.popt.shape[0]

    def __repr__(self):
        shared = ", ".join(f"{k}={v:.6g}" for k, v in self.values.items())
        return (f"GlobalResult({len(self)} data sets, shared {shared}; status {self.status} ({self.message}), "
                f"cost {self.cost:.6g}, {self.nit} iterations, {self.seconds:.3g} s)")


def _as_rows(a, what, k=None):
    """A data set's x as (rows, m)."""
    a = numpy.asarray(a, dtype=float)
    if a.ndim == 1:
        a = a[None]
    if a.ndim != 2 or (k is not None and a.shape[0] != k):
        raise ValueError(f"{what} has shape {numpy.shape(a)}; it must be (m,) or (k, m)"
                         + (f" with k = {k}" if k is not None else ""))
    return a


def _from_tuples(datasets):
    """[(x, y), (x, y, sigma), ...] as lists of x (k, m_i), y, sigma."""
    xs, ys, sigmas = [], [], []
    for d, item in enumerate(datasets):
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise ValueError(f"data set {d} must be a tuple (x, y) or (x, y, sigma), not {type(item).__name__}"
                             + (f" of length {len(item)}" if isinstance(item, (tuple, list)) else ""))
        xs.append(_as_rows(item[0], f"data set {d}'s x"))
        ys.append(numpy.asarray(item[1], dtype=float).ravel())
        sigmas.append(numpy.asarray(item[2], dtype=float).ravel() if len(item) == 3 else None)
    given = [s is not None for s in sigmas]
    if any(given) and not all(given):
        raise ValueError(f"data set {given.index(False)} has no sigma while data set {given.index(True)} has one: "
                         "give sigma for every data set or for none")
    return xs, ys, sigmas if all(given) and sigmas else None


def _from_arrays(xdata, ydata, sigma, x_shared):
    """fit_batch's layouts: ydata (D, m) or a list of 1-D arrays; xdata
    shared ((m,), (k, m)) or per data set ((D, m), (k, D, m), or a list)."""
    if isinstance(ydata, (list, tuple)):
        ys = [numpy.asarray(r, dtype=float).ravel() for r in ydata]
    else:
        y = numpy.asarray(ydata, dtype=float)
        if y.ndim != 2:
            raise ValueError(f"ydata has shape {y.shape}; it must be (data sets, points) or a list of 1-D arrays")
        ys = list(y)
    D = len(ys)
    lengths = [r.size for r in ys]
    ragged = len(set(lengths)) > 1
    if ragged and isinstance(xdata, (list, tuple)) and len(xdata) == D and x_shared is not True and \
            numpy.ndim(xdata[0]) >= 1 and numpy.shape(xdata[0])[-1] == lengths[0]:
        xs = [_as_rows(r, f"data set {d}'s x") for d, r in enumerate(xdata)]
    else:
        xa = numpy.asarray(xdata, dtype=float)
        longest = max(lengths, default=0)
        per_set_shape = xa.ndim == 2 and xa.shape == (D, longest) and D != 1 and not ragged
        if x_shared is None and per_set_shape and D <= 16:
            raise ValueError(f"xdata of shape {xa.shape} can be {D} variables shared by every data set or one x per "
                             f"data set: say which with x_shared=True (rows are variables) or x_shared=False")
        per_set = (per_set_shape or xa.ndim == 3) if x_shared is None else not x_shared
        if per_set:
            xa = xa[None] if xa.ndim == 2 else xa
            if xa.ndim != 3 or xa.shape[1:] != (D, longest) or ragged:
                raise ValueError(f"xdata has shape {numpy.shape(xdata)}; one x per data set it must be "
                                 f"({D}, {longest}) or (k, {D}, {longest})")
            xs = [xa[:, d, :] for d in range(D)]
        else:
            xa = _as_rows(xa, "xdata")
            if xa.shape[1] < longest:
                raise ValueError(f"xdata has {xa.shape[1]} points; shared by every data set it needs {longest} "
                                 f"(the longest data set's)")
            xs = [xa[:, :L] for L in lengths]
    sigmas = None
    if sigma is not None:
        if isinstance(sigma, (list, tuple)):
            sigmas = [numpy.asarray(s, dtype=float).ravel() for s in sigma]
        else:
            s = numpy.asarray(sigma, dtype=float)
            if s.ndim != 2:
                raise ValueError(f"sigma has shape {s.shape}; it must be like ydata")
            sigmas = list(s)
        if len(sigmas) != D:
            raise ValueError(f"sigma has {len(sigmas)} data sets; ydata has {D}")
    return xs, ys, sigmas


def _flags(spec, names, what):
    """Parameter names, indices or a boolean mask as (n,) uint8 flags."""
    n = len(names)
    flags = numpy.zeros(n, dtype=numpy.uint8)
    if spec is None:
        return flags
    a = numpy.asarray(spec)
    if a.dtype == bool:
        if a.size != n:
            raise ValueError(f"{what} has {a.size} flags; the model has {n} parameters")
        flags[:] = a.ravel()
        return flags
    for item in [spec] if isinstance(spec, (str, int, numpy.integer)) else spec:
        if isinstance(item, str):
            if item not in names:
                raise ValueError(f"{what}: {item!r} is not a parameter of the model ({', '.join(names)})")
            j = names.index(item)
        else:
            j = _lib.integer(item, f"{what} (a parameter's index)", -2 ** 63, 2 ** 63)
            if not 0 <= j < n:
                raise ValueError(f"{what}: {item!r} is not a parameter index (0 .. {n - 1})")
        flags[j] = 1
    return flags


def _model_for(f, k_data, cov_names, vars, params, n_hint):
    """The model and, per model variable, where its values come from: a
    row of the data's x (an int) or a covariate (its name)."""
    if isinstance(f, str):
        if vars is None:
            vars = _model._default_vars(f, k_data).split(",") if k_data else []
        elif isinstance(vars, str):
            vars = vars.split(",")
        vars = list(vars)
        clash = set(vars) & set(cov_names)
        if clash:
            raise ValueError(f"{sorted(clash)[0]!r} is both a data variable (vars) and a covariate")
        model = _model.model(f, nvars=len(vars) + len(cov_names), vars=vars + list(cov_names), params=params)
    elif isinstance(f, _model.Model):
        model = f
    else:
        # a Python function gets the covariates as the rows of x after the data's
        k = k_data + len(cov_names)
        try:
            model = _callback.model_or_refuse(f, nvars=k, n=n_hint, rows=k >= 2)
        except _callback.Untraceable as e:
            # curve_fit calls such a function back through nlsq_fit_callback;
            # a shared fit has no callback path (the library evaluates every
            # data set's points on its own threads), so the function must trace
            e.args = (f"fit_global needs a traceable function or model text: the model cannot be traced "
                      f"({e.reason}). Unlike curve_fit, fit_global does not fall back to calling the function "
                      "(it has no callback path): write the model with traceable operations (see nlsqc.np) "
                      "or as model text",)
            raise
        return model, list(range(k_data)) + list(cov_names)
    names = list(model.var_names)
    missing = [c for c in cov_names if c not in names]
    if missing:
        raise ValueError(f"covariate {missing[0]!r} is not a variable of the model ({', '.join(names)})")
    source, row = [], 0
    for v in names:
        if v in cov_names:
            source.append(v)
        else:
            source.append(row)
            row += 1
    if row != k_data:
        raise ValueError(f"the data's x has {k_data} row{'s' if k_data != 1 else ''}; the model's variables other "
                         f"than the covariates are {row} ({', '.join(v for v in names if v not in cov_names)})")
    return model, source


def _per_set(a, D, n, what, keep):
    """An (n,) vector for every data set (opt's; returned first) or a
    (D, n) array (the batch's; returned second)."""
    if a is None:
        return None, None
    a = numpy.asarray(a, dtype=float)
    if a.ndim <= 1:
        if a.size not in (1, n):
            raise ValueError(f"{what} has {a.size} values; the model has {n} parameters: give ({n},) for every "
                             f"data set or ({D}, {n}) per set")
        v = numpy.ascontiguousarray(numpy.broadcast_to(a, (n,)))
        keep.append(v)
        return v, None
    if a.shape != (D, n):
        raise ValueError(f"{what} has shape {a.shape}; it must be ({n},) for every data set or ({D}, {n}) per set")
    v = numpy.ascontiguousarray(a)
    keep.append(v)
    return None, v


def fit_global(f, xdata, ydata=None, p0=None, sigma=None, bounds=(-numpy.inf, numpy.inf), method=None, *,
               shared, covariates=None, vars=None, params=None, x_shared=None, nan_policy=None, absolute_sigma=False, pcov=False,
               fixed=None, **kwargs):
    """Fit one model to D data sets at once, the parameters named in
    `shared` taking one value for all of them and the others each data
    set's own: one least-squares problem in D * n_local + n_shared unknowns,
    solved by its structure in time linear in D (docs/global-fits.md).

    The data sets, either way (the same numbers give bitwise the same fit):
      fit_global(f, [(x0, y0), (x1, y1, sigma1), ...], shared=...)
          each x (m_i,) or (k, m_i), lengths free; sigma for all or none
      fit_global(f, xdata, ydata, shared=...)
          as fit_batch: ydata (D, m) or a list of 1-D arrays; xdata shared
          ((m,), (k, m)) or per data set ((D, m), (k, D, m), a list);
          x_shared says which when the shape cannot; sigma like ydata
    f: model text, a Model, or a Python function f(x, *params) traced once.
    shared: the shared parameters' names (or indices, or a boolean mask).
    covariates: {name: D values}, one value per data set (a temperature),
      given to the model as a variable constant within each data set. For
      model text the names are the text's variables (the data's x rows
      take the other variables, named by vars= or x / x0, x1, ...); a
      Python function gets them as the rows of x after the data's, in the
      dict's order.
    vars, params: for model text, the data rows' variable names and the
      parameters' order (default: order of appearance).
    p0, bounds: for every data set ((n,), scalars; p0 also {name: value},
      the others from SciPy's rule) or per data set ((D, n)); a shared
      parameter's start and bounds come from the (n,) form, or row 0 of the
      (D, n) one. fixed: parameters held at p0 (names, indices or an
      (n,) mask for every data set; or a (D, n) boolean mask per data set,
      a local held in some sets only, a shared one's flag from row 0).
      method: "trf" (default, bounds) or "lm"; loss, f_scale,
      ftol, xtol, gtol, max_nfev (for the whole problem), x_scale (n, in
      model order, or "jac"), absolute_sigma, nan_policy, threads, backend
      and comm (an mpi4py communicator: the ranks share every pass) as
      elsewhere; no callback.
    pcov=True also returns each data set's covariance (D, n, n).

    Returns a GlobalResult: popt and perr (D, n), the shared values, errors
    and covariance, cost, chi2, redchi, dof, status, message, nfev, nit...
    A covariance that cannot be estimated (the data do not determine every
    parameter) gives inf errors and an OptimizeWarning, as curve_fit.
    """
    if ydata is None:
        if sigma is not None:
            raise ValueError("with data sets given as (x, y[, sigma]) tuples, sigma goes in the tuples")
        if not isinstance(xdata, (list, tuple)):
            raise ValueError("fit_global(f, datasets, ...) takes a list of (x, y) or (x, y, sigma) tuples; "
                             "or give xdata and ydata as fit_batch takes them")
        xs, ys, sigmas = _from_tuples(xdata)
    else:
        xs, ys, sigmas = _from_arrays(xdata, ydata, sigma, x_shared)
    D = len(ys)
    if D == 0:
        raise ValueError("no data sets")
    k_data = xs[0].shape[0]
    for d, (x, y) in enumerate(zip(xs, ys)):
        if x.shape != (k_data, y.size):
            raise ValueError(f"data set {d}: x has shape {x.shape} and y {y.size} points; x must be "
                             f"({k_data}, {y.size}) like data set 0's rows")
        if sigmas is not None and sigmas[d].size != y.size:
            raise ValueError(f"data set {d}: sigma has {sigmas[d].size} values and y {y.size}")

    cov = {}
    for name, values in (covariates or {}).items():
        v = numpy.asarray(values, dtype=float).ravel()
        if v.size != D:
            raise ValueError(f"covariate {name!r} has {v.size} values; give one per data set ({D})")
        cov[str(name)] = v
    cov_names = list(cov)
    n_hint = None
    if p0 is not None and not isinstance(p0, dict):
        p0a = numpy.asarray(p0, dtype=float)
        n_hint = p0a.shape[-1] if p0a.ndim else 1
    model, source = _model_for(f, k_data, cov_names, vars, params, n_hint)
    n, k = model.n, model.nvars
    names = list(model.param_names)
    if isinstance(p0, dict):
        unknown = [key for key in p0 if key not in names]
        if unknown:
            raise ValueError(f"p0: {unknown[0]!r} is not a parameter of the model ({', '.join(names)})")
        p0 = [float(p0.get(nm, numpy.nan)) for nm in names]  # NaN: the library's rule

    lengths = numpy.array([y.size for y in ys], dtype=numpy.uintp)
    offsets = numpy.zeros(D + 1, dtype=numpy.uintp)
    numpy.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    y = numpy.ascontiguousarray(numpy.concatenate(ys))
    x = numpy.empty((max(k, 1), total))
    for v, src in enumerate(source):
        x[v] = numpy.repeat(cov[src], lengths.astype(numpy.int64)) if isinstance(src, str) else numpy.concatenate([a[src] for a in xs])
    sig = numpy.ascontiguousarray(numpy.concatenate(sigmas)) if sigmas is not None else None
    shared_flags = _flags(shared, names, "shared")
    cov_flags = numpy.array([isinstance(s, str) for s in source], dtype=numpy.uint8)

    keep = [x, y, sig, offsets, shared_flags, cov_flags]
    p0_all, p0_each = _per_set(p0, D, n, "p0", keep)
    lb, ub = (bounds.lb, bounds.ub) if hasattr(bounds, "lb") else bounds
    lb_each = ub_each = bounds_all = None
    if numpy.ndim(lb) == 2 or numpy.ndim(ub) == 2:
        try:
            lb2 = numpy.broadcast_to(numpy.asarray(lb, dtype=float), (D, n))
            ub2 = numpy.broadcast_to(numpy.asarray(ub, dtype=float), (D, n))
        except ValueError:
            raise ValueError(f"bounds have shapes {numpy.shape(lb)} and {numpy.shape(ub)}; each must be a scalar, "
                             f"({n},) or ({D}, {n})") from None
        lb_each = _per_set(lb2, D, n, "lower bounds", keep)[1]
        ub_each = _per_set(ub2, D, n, "upper bounds", keep)[1]
    else:
        for side, v in (("lower", lb), ("upper", ub)):
            if numpy.size(v) not in (1, n):
                raise ValueError(f"bounds: the {side} bounds have {numpy.size(v)} values; the model has {n} "
                                 f"parameters: give a scalar, ({n},) or ({D}, {n})")
        bounds_all = prepare_bounds((lb, ub), n)
    if kwargs.get("callback") is not None:
        raise ValueError("fit_global takes no callback: a shared-parameter fit reports no parameters per iteration "
                         "(Ctrl-C still stops it)")
    call = Call(n, names, p0=p0_all, bounds=bounds_all, method=method, kwargs=kwargs, fname="fit_global")
    fixed_each = None
    if fixed is not None and numpy.ndim(fixed) == 2:
        # per data set: a local held in some sets only (a shared one's flag
        # comes from row 0, as its start value does)
        fa = numpy.asarray(fixed)
        if fa.dtype != bool or fa.shape != (D, n):
            raise ValueError(f"fixed has shape {fa.shape} ({fa.dtype}); per data set it must be a boolean mask "
                             f"({D}, {n}), else names, indices or an ({n},) mask for every data set")
        fixed_each = numpy.ascontiguousarray(fa, dtype=numpy.uint8)
        keep.append(fixed_each)
    elif fixed is not None:
        call.opt.fixed = call.fixed_mask(fixed)
    call.opt.absolute_sigma = 1 if absolute_sigma else 0
    if nan_policy not in (None, "raise", "omit"):
        raise ValueError("nan_policy must be None, 'raise' or 'omit'")
    call.opt.nan_policy = _lib.NAN_POLICIES[nan_policy or "raise"]
    call.set_progress(quiet)  # comes back to Python each iteration: Ctrl-C stops the fit

    p = _fn("nlsq_shared_default")()
    b = p.data
    b.nfits = D
    b.m = 0
    b.offsets = offsets.ctypes.data_as(_lib.c_size_p)
    b.y = _lib.dptr(y)
    b.x = _lib.dptr(x) if k else None
    b.x_shared = 0
    b.sigma = _lib.dptr(sig)
    b.p0 = _lib.dptr(p0_each)
    b.lower = _lib.dptr(lb_each)
    b.upper = _lib.dptr(ub_each)
    b.fixed = fixed_each.ctypes.data_as(_lib.c_uchar_p) if fixed_each is not None else None
    p.data = b
    p.shared = shared_flags.ctypes.data_as(_lib.c_uchar_p)
    p.covariate = cov_flags.ctypes.data_as(_lib.c_uchar_p) if cov_names else None
    outputs = _lib.BATCH_PERR | (_lib.BATCH_PCOV if pcov else 0)
    res = ctypes.POINTER(_lib.SharedResult)()
    err = _lib.Error()
    with call.running():
        st = _fn("nlsq_fit_shared")(model.ptr, ctypes.byref(p), ctypes.byref(call.opt), outputs, ctypes.byref(res),
                                    ctypes.byref(err))
    free = _fn("nlsq_shared_result_free")
    if st != _lib.OK:
        call.reraise()
        raise_status(st, err)
    if call.error is not None:
        free(res)
        call.reraise()
    try:
        r = res.contents

        def arr(ptr, shape, dtype=float):
            return _lib.copy_out(ptr, shape, dtype) if ptr else None

        if not r.pcov_valid:
            warn_pcov()  # as curve_fit: the errors are inf
        return GlobalResult(
            popt=arr(r.popt, (D, n)), perr=arr(r.perr, (D, n)), pcov=arr(r.pcov, (D, n, n)) if pcov else None,
            shared_pcov_full=arr(r.shared_pcov, (n, n)), shared=[nm for nm, s in zip(names, shared_flags) if s],
            shared_mask=shared_flags.astype(bool), names=names, cost_set=arr(r.cost_set, (D,)),
            chi2_set=arr(r.chi2_set, (D,)), m=arr(r.m, (D,), numpy.uintp).astype(numpy.int64),
            m_total=r.m_total, n_free=r.n_free, n_shared=r.n_shared, dof=r.dof, cost=r.cost, chi2=r.chi2,
            redchi=r.redchi, grad_norm=r.grad_norm, pcov_valid=bool(r.pcov_valid), status=r.status,
            success=bool(r.success), message=_lib.text(r.message), nfev=r.nfev, njev=r.njev, nit=r.nit,
            method=_lib.METHOD_NAMES.get(r.method, "?"), threads=r.threads, seconds=r.seconds,
            memory_bytes=r.memory_bytes, covariates=cov_names)
    finally:
        free(res)
