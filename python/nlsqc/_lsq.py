"""least_squares with scipy.optimize.least_squares' signature, arguments,
errors and result, solved by nlsq's trf, dogbox and lm.

The residual function fun(x, *args, **kwargs) is traced when it can be:
called once with x the parameters as traced values (x[0], x[1], ...,
len(x), unpacking), it must compute one formula per residual from the
arrays it closes over or receives in args -- the usual r = model(t, x) - y,
whose arrays become the data -- and the traced model must reproduce fun's
residuals at x0. Then the fit is nlsq_curve_fit's with exact derivatives.
Anything else (a vector built with np.array, slicing, np.dot, m < n,
a callable loss, Python control flow on values) is called back through
nlsq_fit_callback (see _callback.py) with the user's jac or SciPy's finite
differences ('2-point', '3-point'; 'cs' is taken as '3-point'). The
result's model_path says which ran ('traced' or 'callback'), model_reason
why it was not traced.
"""
import ctypes
import inspect
import warnings

import numpy

from . import _lib, _model, _trace
from ._callback import JAC_CALLBACK, RESIDUAL_FN, _Residual
from ._fit import OptimizeResult
from ._options import Call, raise_status

EPS = numpy.finfo(float).eps
LOSS_NAMES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
# the keyword arguments scipy.sparse.linalg.lsmr takes through tr_options,
# and trf's own 'regularize'
LSMR_OPTIONS = ("damp", "atol", "btol", "conlim", "maxiter", "show", "regularize")

MESSAGES = {
    -1: "Improper input parameters status returned from `leastsq`",
    0: "The maximum number of function evaluations is exceeded.",
    1: "`gtol` termination condition is satisfied.",
    2: "`ftol` termination condition is satisfied.",
    3: "`xtol` termination condition is satisfied.",
    4: "Both `ftol` and `xtol` termination conditions are satisfied.",
}


def _bounds(bounds, x0):
    """SciPy's bounds -> (lb, ub), each of x0's shape, with SciPy's errors."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lb, ub = bounds.lb, bounds.ub
    elif len(bounds) == 2:
        lb, ub = bounds
    else:
        raise ValueError("`bounds` must contain 2 elements.")
    lb, ub = (numpy.asarray(b, dtype=float) for b in (lb, ub))
    lb = numpy.resize(lb, x0.size) if lb.ndim == 0 else lb
    ub = numpy.resize(ub, x0.size) if ub.ndim == 0 else ub
    if lb.shape != x0.shape or ub.shape != x0.shape:
        raise ValueError("Inconsistent shapes between bounds and `x0`.")
    return lb, ub


def _x_scale(x_scale, x0):
    if isinstance(x_scale, str) and x_scale == "jac":
        return x_scale
    try:
        xs = numpy.asarray(x_scale, dtype=float)
        valid = bool(numpy.all(numpy.isfinite(xs)) and numpy.all(xs > 0))
    except (ValueError, TypeError):
        valid = False
    if not valid:
        raise ValueError("`x_scale` must be 'jac' or array_like with positive numbers.")
    xs = numpy.resize(xs, x0.shape) if xs.ndim == 0 else xs
    if xs.shape != x0.shape:
        raise ValueError("Inconsistent shapes between `x_scale` and `x0`.")
    return xs


def _tolerances(ftol, xtol, gtol, method):
    """SciPy's rules: None is 0; below EPS warns; lm needs all above EPS,
    the others at least one."""
    tols = []
    for tol, name in ((ftol, "ftol"), (xtol, "xtol"), (gtol, "gtol")):
        if tol is None:
            tol = 0.0
        elif tol < EPS:
            warnings.warn(f"Setting `{name}` below the machine epsilon ({EPS:.2e}) effectively disables the "
                          "corresponding termination condition.", stacklevel=4)
        tols.append(float(tol))
    if method == "lm" and min(tols) < EPS:
        raise ValueError(f"All tolerances must be higher than machine epsilon ({EPS:.2e}) for method 'lm'.")
    if max(tols) < EPS:
        raise ValueError(f"At least one of the tolerances must be higher than machine epsilon ({EPS:.2e}).")
    return tols


def _is_sparse(a):
    try:
        from scipy.sparse import issparse
    except ImportError:
        return False
    return issparse(a)


def _is_operator(a):
    try:
        from scipy.sparse.linalg import LinearOperator
    except ImportError:
        return False
    return isinstance(a, LinearOperator)


def _dense(J, n):
    """A Jacobian as a dense float array: sparse matrices and
    LinearOperators are expanded (the solvers are dense and exact)."""
    if _is_sparse(J):
        return J.toarray()
    if _is_operator(J):
        return numpy.asarray(J.matmat(numpy.eye(n)), dtype=float)
    return numpy.atleast_2d(numpy.asarray(J, dtype=float))


class _Loss:
    """A callable loss rho(z) -> (3, m), with f_scale C as SciPy applies it:
    cost = 1/2 C^2 sum rho0((r/C)^2)."""

    def __init__(self, fn, f_scale):
        self.fn, self.C = fn, f_scale

    def rho(self, r):
        z = (r / self.C) ** 2
        return numpy.asarray(self.fn(z), dtype=float)

    def fold(self, r, J=None):
        """Residuals whose half sum of squares is the robust cost,
        s(r) = sign(r) C sqrt(rho0(z)) (smooth: s ~ r near 0), and with J
        their Jacobian ds/dr J = rho1 |r| / (C sqrt(rho0)) J (-> rho1 at
        r = 0). This is how a callable loss reaches the library, whose
        losses are the named ones."""
        rho = self.rho(r)
        root = numpy.sqrt(numpy.maximum(rho[0], 0.0))
        s = numpy.where(r >= 0, 1.0, -1.0) * self.C * root
        if J is None:
            return s, None
        with numpy.errstate(divide="ignore", invalid="ignore"):
            d = numpy.where(root > 0, rho[1] * numpy.abs(r) / (self.C * root), rho[1])
        return s, J * d[:, None]


def _named_rho(loss, z):
    """rho0, rho1, rho2 of a named loss at z."""
    if loss == "linear":
        return z, numpy.ones_like(z), numpy.zeros_like(z)
    if loss == "soft_l1":
        t = 1 + z
        return 2 * (t ** 0.5 - 1), t ** -0.5, -0.5 * t ** -1.5
    if loss == "huber":
        big = z > 1
        zz = numpy.where(big, z, 1.0)
        return (numpy.where(big, 2 * zz ** 0.5 - 1, z), numpy.where(big, zz ** -0.5, 1.0),
                numpy.where(big, -0.5 * zz ** -1.5, 0.0))
    if loss == "cauchy":
        t = 1 + z
        return numpy.log1p(z), 1 / t, -1 / t ** 2
    t = 1 + z * z  # arctan
    return numpy.arctan(z), 1 / t, -2 * z / t ** 2


def _rho(loss, f_scale, f):
    """SciPy's rho (3, m) at residuals f: rho0 scaled by C^2, rho2 by 1/C^2."""
    z = (f / f_scale) ** 2
    rho = numpy.array(loss(z) if callable(loss) else _named_rho(loss, z), dtype=float)
    if rho.shape != (3, f.size):
        raise ValueError("The return value of `loss` callable has wrong shape.")
    rho[0] *= f_scale ** 2
    rho[2] /= f_scale ** 2
    return rho


def _fd_steps(x, lb, ub, scheme, diff_step, rstep):
    """SciPy's absolute steps for '2-point' (one step) or '3-point' (two),
    turned or shortened to stay within the bounds. Returns (h, central)."""
    sign = numpy.where(x >= 0, 1.0, -1.0)
    if diff_step is None:
        h = rstep * sign * numpy.maximum(1.0, numpy.abs(x))
    else:
        h = abs(diff_step) * sign * numpy.abs(x)
        h = numpy.where((x + h) - x == 0, rstep * sign * numpy.maximum(1.0, numpy.abs(x)), h)
    below, above = x - lb, ub - x
    if scheme == "2-point":
        fits = numpy.abs(h) <= numpy.maximum(below, above)
        out = ((x + h) < lb) | ((x + h) > ub)
        h = numpy.where(out & fits, -h, h)
        h = numpy.where(~fits & (above >= below), above, numpy.where(~fits, -below, h))
        return h, numpy.zeros(x.size, dtype=bool)
    a = numpy.abs(h)
    central = (below >= a) & (above >= a)
    fwd = ~central & (above >= below)
    h = numpy.where(central, a, numpy.where(fwd, numpy.minimum(a, above / 2), -numpy.minimum(a, below / 2)))
    return h, central


def _difference(fun, x, f0, lb, ub, scheme, diff_step):
    """The Jacobian of fun at x by SciPy's differences (the result's jac;
    the solver differences in the library by the same rules)."""
    rstep = EPS ** 0.5 if scheme == "2-point" else EPS ** (1 / 3)
    h, central = _fd_steps(x, lb, ub, scheme, diff_step, rstep)
    J = numpy.empty((f0.size, x.size))
    for i in range(x.size):
        e = numpy.zeros(x.size)
        e[i] = h[i]
        hi = (x + e)[i] - x[i]
        if scheme == "2-point":
            J[:, i] = (fun(x + e) - f0) / hi
        elif central[i]:
            J[:, i] = (fun(x + e) - fun(x - e)) / (2 * hi)
        else:
            J[:, i] = (-3 * f0 + 4 * fun(x + e) - fun(x + 2 * e)) / (2 * hi)
    return J


def _check_tr(tr_solver, tr_options, method):
    if tr_solver not in (None, "exact", "lsmr"):
        raise ValueError("`tr_solver` must be None, 'exact' or 'lsmr'.")
    if tr_solver == "lsmr" or tr_solver is None:
        for k in tr_options or {}:
            if k not in LSMR_OPTIONS:
                raise TypeError(f"lsmr() got an unexpected keyword argument '{k}'")
        if method == "dogbox" and "regularize" in (tr_options or {}):
            warnings.warn("The keyword 'regularize' in `tr_options` is not relevant for 'dogbox' method.",
                          stacklevel=3)


def least_squares(fun, x0, jac="2-point", bounds=(-numpy.inf, numpy.inf), method="trf", ftol=1e-8, xtol=1e-8,
                  gtol=1e-8, x_scale=1.0, loss="linear", f_scale=1.0, diff_step=None, tr_solver=None,
                  tr_options={}, jac_sparsity=None, max_nfev=None, verbose=0, args=(), kwargs={}):  # noqa: B006
    """scipy.optimize.least_squares, solved by nlsq: minimise
    F(x) = 1/2 sum rho(f_i(x)^2) over x within bounds, f = fun(x, *args, **kwargs).

    The arguments, defaults, errors and the returned OptimizeResult (x,
    cost, fun, jac, grad, optimality, active_mask, nfev, njev, status,
    message, success) are SciPy's. fun is called back from the library
    (it is not traced: see the module's note); jac is a callable returning
    an (m, n) array, sparse matrix or LinearOperator, or SciPy's
    '2-point', '3-point' or 'cs' ('cs' is taken as '3-point': the library
    differences in real arithmetic). loss is a name or a callable rho(z)
    returning a (3, m) array; a callable loss is folded into the residuals
    (s = sign(f) C sqrt(rho(z)), whose half sum of squares is the robust
    cost) since the library's losses are the named ones.

    tr_solver and jac_sparsity are accepted and checked as SciPy checks
    them, but every trust-region subproblem is solved exactly on a dense
    Jacobian: a sparse or LinearOperator Jacobian is expanded to a dense
    array (returned in its own kind as res.jac), tr_options for 'lsmr' are
    checked and otherwise have nothing to do, and jac_sparsity does not
    group the differences. diff_step's sign is ignored (SciPy's
    difference turns with it; nlsq's steps keep x's sign). verbose >= 1
    prints SciPy's closing summary; 2 prints nothing more per iteration.
    When m < n (trf, dogbox) the residuals are padded with zeros to n
    for the library, which changes neither cost nor steps.
    """
    if method not in ("trf", "dogbox", "lm"):
        raise ValueError("`method` must be 'trf', 'dogbox' or 'lm'.")
    if not callable(jac) and jac not in ("2-point", "3-point", "cs"):
        raise ValueError("`jac` must be '2-point', '3-point', 'cs' or callable.")
    _check_tr(tr_solver, tr_options, method)
    if not callable(loss) and loss not in LOSS_NAMES:
        raise ValueError(f"`loss` must be one of {LOSS_NAMES} or a callable.")
    if method == "lm" and loss != "linear":
        raise ValueError("method='lm' supports only 'linear' loss function.")
    if verbose not in (0, 1, 2):
        raise ValueError("`verbose` must be in [0, 1, 2].")
    if max_nfev is not None and max_nfev <= 0:
        raise ValueError("`max_nfev` must be None or positive integer.")
    if numpy.iscomplexobj(x0):
        raise ValueError("`x0` must be real.")
    x0 = numpy.atleast_1d(x0).astype(float)
    if x0.ndim > 1:
        raise ValueError("`x0` must have at most 1 dimension.")
    if not numpy.all(numpy.isfinite(x0)):
        raise ValueError("`x0` must be finite.")
    lb, ub = _bounds(bounds, x0)
    bounded = bool(numpy.any(lb > -numpy.inf) or numpy.any(ub < numpy.inf))
    if method == "lm" and bounded:
        raise ValueError("Method 'lm' doesn't support bounds.")
    if numpy.any(lb >= ub):
        raise ValueError("Each lower bound must be strictly less than each upper bound.")
    if not numpy.all((x0 >= lb) & (x0 <= ub)):
        raise ValueError("`x0` is infeasible.")
    xs = _x_scale(x_scale, x0)
    ftol, xtol, gtol = _tolerances(ftol, xtol, gtol, method)
    f_scale = float(f_scale)
    if not f_scale > 0:
        raise ValueError("`f_scale` must be positive.")

    def fun1(x):
        return numpy.atleast_1d(fun(x, *args, **kwargs))

    f0 = fun1(x0.copy())
    if f0.ndim != 1:
        raise ValueError(f"`fun` must return at most 1-d array_like. f0.shape: {f0.shape}")
    if not numpy.all(numpy.isfinite(f0)):
        raise ValueError("Residuals are not finite in the initial point.")
    n, m = x0.size, f0.size
    if method == "lm" and m < n:
        raise ValueError("Method 'lm' doesn't work when the number of residuals is less than the number of "
                         "variables.")
    if callable(loss):
        _rho(loss, f_scale, f0)  # SciPy's check of its shape
    J0, kind = _first_jacobian(fun, jac, x0, args, kwargs, n, m, method, tr_solver, jac_sparsity, xs)

    jac1 = (lambda x: jac(x, *args, **kwargs)) if callable(jac) else None
    tol_kw = {"ftol": ftol, "xtol": xtol, "gtol": gtol, "x_scale": xs,
              "max_nfev": max_nfev if max_nfev is not None else 100 * n}
    traced, reason = _trace_residuals(fun, args, kwargs, x0, f0, m, n, loss)
    if traced is not None:
        res, J_at = _solve_traced(traced, x0, lb, ub, bounded, method, loss, f_scale, tol_kw)
        if method == "lm" and not callable(jac):
            res["njev"] = None  # SciPy's lm counts no Jacobians when it differences
    else:
        res = _solve(fun1, jac1, x0, n, m, lb, ub, bounded, method, jac, ftol, xtol, gtol,
                     xs, loss, f_scale, diff_step, max_nfev, f0)
    res["model_path"], res["model_reason"] = ("traced", None) if traced is not None else ("callback", reason)
    x = res["x"]
    f = fun1(x.copy()).astype(float)
    if traced is not None:
        J = J_at(x)
    elif callable(jac):
        J = _dense(jac1(x.copy()), n)
    else:
        J = _difference(fun1, x, f, lb, ub, "2-point" if jac == "2-point" or method == "lm" else "3-point",
                        diff_step)
    if loss == "linear":
        grad = J.T @ f
        cost = 0.5 * float(f @ f)
    else:
        rho = _rho(loss, f_scale, f)
        cost = 0.5 * float(numpy.sum(rho[0]))
        scale = rho[1] + 2 * rho[2] * f ** 2
        scale = numpy.sqrt(numpy.where(scale < EPS, EPS, scale))
        J = J * scale[:, None]
        grad = J.T @ (f * rho[1] / scale)
    res.update(cost=cost, fun=f, jac=_as_kind(J, kind), grad=grad)
    if verbose >= 1:
        print(res["message"])
        init = 0.5 * numpy.sum(_rho(loss, f_scale, f0)[0]) if loss != "linear" else 0.5 * float(f0 @ f0)
        print(f"Function evaluations {res['nfev']}, initial cost {init:.4e}, final cost {cost:.4e}, first-order "
              f"optimality {res['optimality']:.2e}.")
    return res


def _trace_residuals(fun, args, kwargs, x0, f0, m, n, loss):
    """(model, its data x) when fun traces to one formula per residual that
    reproduces f0 at x0, else (None, why not)."""
    if callable(loss):
        return None, "a callable loss is applied in Python"
    if m < n:
        return None, f"{m} residuals for {n} variables (the library's passes need m >= n)"

    def per_point(_x, *p):
        return fun(_trace.Variables(p), *args, **kwargs)

    names = [f"x{i}" for i in range(n)]
    per_point.__signature__ = inspect.Signature(
        [inspect.Parameter(v, inspect.Parameter.POSITIONAL_OR_KEYWORD) for v in ["t"] + names])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, arrays = _model.traced(per_point, 1, n, False)
        if any(a.size != m for a in arrays):
            return None, "fun uses arrays whose size is not its number of residuals"
        data = numpy.ascontiguousarray(numpy.vstack([numpy.zeros((1, m))] + [a.reshape(1, m) for a in arrays]))
        data = data if data.shape[0] > 1 else data[0]
        f = model.eval(data, x0, jacobian=False)
    except Exception as e:  # noqa: BLE001 - anything the tracer or the builder refuses: call fun back
        return None, f"{type(e).__name__}: {e}"
    scale = max(1.0, float(numpy.max(numpy.abs(f0))))
    if f.shape != f0.shape or not numpy.allclose(f, f0, rtol=1e-9, atol=1e-12 * scale):
        return None, "the traced formula does not reproduce fun's residuals at x0"
    return (model, data), None


def _solve_traced(traced, x0, lb, ub, bounded, method, loss, f_scale, kw):
    """nlsq_curve_fit on the traced residuals (data y = 0): the result
    fields and a function giving the exact Jacobian at x."""
    from ._fit import fit
    model, data = traced
    m = data.shape[-1]
    r, *_ = fit(model, data, numpy.zeros(m), x0, None, True, False, (lb, ub) if bounded else (-numpy.inf, numpy.inf),
                method, None, fname="least_squares", loss=loss, f_scale=f_scale, **kw)
    out = OptimizeResult(x=r.popt, cost=None, fun=None, jac=None, grad=None, optimality=float(r.grad_norm),
                         active_mask=r.active_mask if r.active_mask is not None else numpy.zeros(x0.size, int),
                         nfev=int(r.nfev), njev=int(r.njev), status=int(r.status),
                         message=MESSAGES.get(int(r.status), r.message), success=int(r.status) > 0)
    return out, lambda x: model.eval(data, x)[1]


def _first_jacobian(fun, jac, x0, args, kwargs, n, m, method, tr_solver, jac_sparsity, xs):
    """SciPy's checks on the Jacobian at x0; (J0 or None, its kind)."""
    if callable(jac):
        J0 = jac(x0.copy(), *args, **kwargs)
        kind = "sparse" if _is_sparse(J0) else "operator" if _is_operator(J0) else "dense"
        if kind == "dense":
            J0 = numpy.atleast_2d(J0)
    else:
        if method == "lm":
            if jac_sparsity is not None:
                raise ValueError("method='lm' does not support `jac_sparsity`.")
            if jac != "2-point":
                warnings.warn(f"jac='{jac}' works equivalently to '2-point' for method='lm'.", stacklevel=3)
            return None, "dense"
        if jac_sparsity is not None:
            if tr_solver == "exact":
                raise ValueError("tr_solver='exact' is incompatible with `jac_sparsity`.")
            sp = jac_sparsity if _is_sparse(jac_sparsity) else numpy.atleast_2d(jac_sparsity)
            if sp.shape != (m, n):
                raise ValueError("`jac_sparsity` has wrong shape.")
        return None, "dense"
    if J0.shape != (m, n):
        raise ValueError(f"The return value of `jac` has wrong shape: expected {(m, n)}, actual {J0.shape}.")
    if kind != "dense":
        if method == "lm":
            raise ValueError("method='lm' works only with dense Jacobian matrices.")
        if tr_solver == "exact":
            raise ValueError("tr_solver='exact' works only with dense Jacobian matrices.")
        if kind == "operator" and isinstance(xs, str):
            raise ValueError("x_scale='jac' can't be used when `jac` returns LinearOperator.")
    return J0, kind


def _as_kind(J, kind):
    """The result's jac in the kind the user's jac returned."""
    if kind == "sparse":
        from scipy.sparse import csr_matrix
        return csr_matrix(J)
    if kind == "operator":
        from scipy.sparse.linalg import aslinearoperator
        return aslinearoperator(J)
    return J


def _default_budget(method, n, has_jac):
    """SciPy's max_nfev=None: 100 n, and 100 n (n + 1) for lm when it
    differences (MINPACK counts the differencing evaluations)."""
    return 100 * n * (n + 1) if method == "lm" and not has_jac else 100 * n


def _solve(fun1, jacf, x0, n, m, lb, ub, bounded, method, jac, ftol, xtol, gtol, xs, loss, f_scale, diff_step,
           max_nfev, f0):
    """One nlsq_fit_callback run: {x, optimality, active_mask, nfev, njev,
    status, message, success}."""
    folded = _Loss(loss, f_scale) if callable(loss) else None
    rows = max(m, n)  # the library needs m >= n; zero rows change nothing
    if diff_step is None and f0.dtype.kind == "f" and f0.dtype.itemsize < 8:
        # SciPy's step for residuals of a lower precision (gh-12991)
        diff_step = numpy.finfo(f0.dtype).eps ** (0.5 if jac == "2-point" or method == "lm" else 1 / 3)
    kw = {"ftol": ftol, "xtol": xtol, "gtol": gtol, "x_scale": xs,
          "max_nfev": max_nfev if max_nfev is not None else _default_budget(method, n, jacf is not None)}
    if not callable(loss):
        kw.update(loss=loss, f_scale=f_scale)
    call = Call(n, [f"x{i}" for i in range(n)], p0=x0, bounds=(lb, ub) if bounded else None, method=method,
                kwargs=kw, fname="least_squares")
    state = {"error": None}
    views = {}

    def view(address, size):
        a = views.get(address)
        if a is None:
            a = views[address] = numpy.ctypeslib.as_array((ctypes.c_double * size).from_address(address))
        return a

    def residuals(_user, params, r, J):
        try:
            p = view(params, n).copy()
            f = fun1(p)
            if f.shape != (m,):
                raise ValueError(f"`fun` returned {f.size} residuals at x = {p}; it returned {m} at x0")
            Jm = None
            if J:
                Jm = _dense(jacf(p), n)
                if Jm.shape != (m, n):
                    raise ValueError(f"The return value of `jac` has wrong shape: expected {(m, n)}, "
                                     f"actual {Jm.shape}.")
            if folded is not None:
                f, Jm = folded.fold(f.astype(float), Jm)
            out = view(r, rows)
            out[:m] = f
            out[m:] = 0.0
            if J:
                Jout = view(J, rows * n).reshape(rows, n)
                Jout[:m] = Jm
                Jout[m:] = 0.0
            return 0
        except BaseException as e:  # re-raised after the call
            state["error"] = e
            return 1

    kinds = {"2-point": 0, "3-point": 1, "cs": 1}
    pb = _Residual(fn=RESIDUAL_FN(residuals), user=None, n=n, m=rows,
                   jac=JAC_CALLBACK if jacf is not None else kinds[jac],
                   diff_step=abs(float(diff_step)) if diff_step is not None and method != "lm" else 0.0,
                   epsfcn=float(diff_step) ** 2 if diff_step is not None and method == "lm" else 0.0)
    res = ctypes.POINTER(_lib.Result)()
    err = _lib.Error()
    with call.running():
        st = _lib.lib.nlsq_fit_callback(ctypes.byref(pb), ctypes.byref(call.opt), ctypes.byref(res),
                                        ctypes.byref(err))
    if state["error"] is not None:
        if st == _lib.OK:
            _lib.lib.nlsq_result_free(res)
        raise state["error"]
    if st != _lib.OK:
        call.reraise()
        raise_status(st, err)
    c = res.contents
    x = _lib.copy_out(c.popt, (n,))
    mask = _lib.copy_out(c.active_mask, (n,), numpy.int8).astype(int) if c.active_mask else numpy.zeros(n, int)
    out = OptimizeResult(x=x, cost=None, fun=None, jac=None, grad=None, optimality=float(c.grad_norm),
                         active_mask=mask, nfev=int(c.nfev),
                         njev=int(c.njev) if method != "lm" or jacf is not None else None, status=int(c.status),
                         message=MESSAGES.get(int(c.status), _lib.text(c.message)), success=int(c.status) > 0)
    _lib.lib.nlsq_result_free(res)
    call.reraise()
    return out
