"""Keyword arguments -> nlsq_options, and the callbacks that may raise."""
import contextlib
import math
import sys
import warnings

import numpy

from . import _lib


class OptimizeWarning(UserWarning):
    """As scipy.optimize.OptimizeWarning: the covariance could not be estimated."""


# keyword arguments of ours, accepted by every fitting function
OUR_KWARGS = ("loss", "f_scale", "x_scale", "ftol", "xtol", "gtol", "max_nfev", "maxfev", "backend", "threads",
              "device", "callback", "gpu_float32", "fixed", "lm_last_jacobian", "comm")
# SciPy's keyword arguments that concern finite differences: nlsqc's
# Jacobian is exact, so they are accepted and have nothing to do.
IGNORED_KWARGS = ("diff_step", "epsfcn", "tr_solver", "tr_options", "jac_sparsity", "verbose", "factor", "col_deriv")


def quiet(_info):
    """A progress function that reports nothing: set only so that the C
    call comes back to Python now and then (for Ctrl-C)."""
    return False


class Call:
    """One call's nlsq_options and everything they point to (kept alive
    until the call returns), and an exception raised in a callback."""

    def __init__(self, n, param_names, p0=None, bounds=None, method=None, kwargs=None, fname="curve_fit"):
        kwargs = dict(kwargs or {})
        self.keep = []
        self.error = None
        self.trampolines = []
        self.n = n
        self.names = list(param_names)
        opt = _lib.lib.nlsq_options_default()
        self.opt = opt
        for k in list(kwargs):
            if k in IGNORED_KWARGS:
                del kwargs[k]
            elif k not in OUR_KWARGS:
                raise TypeError(f"{fname}() got an unexpected keyword argument '{k}'")
        if method is not None:
            if method not in _lib.METHODS or method == "auto":
                raise ValueError(f"`method` must be 'trf', 'dogbox' or 'lm' (not {method!r}).")  # SciPy's words
            opt.method = _lib.METHODS[method]
        self.method = method
        loss = kwargs.get("loss", "linear")
        if loss not in _lib.LOSSES:
            raise ValueError(f"loss {loss!r} is not one of {', '.join(_lib.LOSSES)}")
        opt.loss = _lib.LOSSES[loss]
        if "f_scale" in kwargs:
            opt.f_scale = _positive(kwargs["f_scale"], "f_scale")
        for tol in ("ftol", "xtol", "gtol"):
            if kwargs.get(tol) is not None:
                v = float(kwargs[tol])
                if not v >= 0:
                    raise ValueError(f"{tol} must be >= 0, not {v}")
                setattr(opt, tol, v)
        nfev_name = "max_nfev" if kwargs.get("max_nfev") is not None else "maxfev"
        nfev = kwargs.get(nfev_name)
        if nfev is not None:
            opt.max_nfev = _lib.integer(nfev, nfev_name, 1)
        xs = kwargs.get("x_scale")
        if isinstance(xs, str):
            if xs != "jac":
                raise ValueError(f"x_scale must be 'jac' or positive numbers, not {xs!r}")
            opt.x_scale_jac = 1
        elif xs is not None:
            a = self.array(numpy.broadcast_to(numpy.asarray(xs, dtype=float), (n,)), "x_scale")
            if not numpy.all(a > 0) or not numpy.all(numpy.isfinite(a)):
                raise ValueError("x_scale must be positive and finite")
            opt.x_scale = _lib.dptr(a)
        backend = kwargs.get("backend")
        if backend not in _lib.BACKENDS:
            raise ValueError(f"backend {backend!r} is not one of 'auto', 'interp', 'jit'")
        opt.backend = _lib.BACKENDS[backend]
        if kwargs.get("threads") is not None:
            opt.threads = _lib.integer(kwargs["threads"], "threads (0: all cores)", 0)
        if kwargs.get("device") is not None:
            d = _lib.c_string(str(kwargs["device"]), "device")
            self.keep.append(d)
            opt.device = d
        opt.gpu_float32 = 1 if kwargs.get("gpu_float32") else 0
        opt.lm_last_jacobian = 1 if kwargs.get("lm_last_jacobian") else 0
        if p0 is not None:
            opt.p0 = _lib.dptr(self.array(p0, "p0"))
        if bounds is not None:  # as prepare_bounds gives them
            opt.lower = _lib.dptr(self.array(bounds[0], "lower bounds"))
            opt.upper = _lib.dptr(self.array(bounds[1], "upper bounds"))
        if kwargs.get("fixed") is not None:
            opt.fixed = self.fixed_mask(kwargs["fixed"])
        if kwargs.get("callback") is not None:
            self.set_callback(kwargs["callback"])
        if kwargs.get("comm") is not None:
            self.set_comm(kwargs["comm"])

    def set_comm(self, comm):
        """A fit of the group of comm's ranks (nlsqc.mpi): mpi4py is
        imported, and libnlsq_mpi loaded, only here."""
        from . import mpi
        self.opt.group = mpi.group(comm)

    def array(self, a, what):
        a = numpy.ascontiguousarray(a, dtype=float).ravel()
        if a.size != self.n:
            raise ValueError(f"{what} has {a.size} values; the model has {self.n} parameters")
        self.keep.append(a)
        return a

    def fixed_mask(self, fixed):
        """Parameters held at p0: names, indices, or a boolean mask."""
        mask = numpy.zeros(self.n, dtype=numpy.uint8)
        flags = numpy.asarray(fixed)
        if flags.dtype == bool:
            if flags.size != self.n:
                raise ValueError(f"fixed has {flags.size} flags; the model has {self.n} parameters")
            mask[:] = flags.ravel()
        else:
            for item in [fixed] if isinstance(fixed, (str, int, numpy.integer)) else fixed:
                if isinstance(item, str):
                    if item not in self.names:
                        raise ValueError(f"fixed: {item!r} is not a parameter ({', '.join(self.names)})")
                    j = self.names.index(item)
                else:
                    j = _lib.integer(item, "fixed (a parameter's index)", -2 ** 63, 2 ** 63)
                    if not 0 <= j < self.n:
                        raise ValueError(f"fixed: {item!r} is not a parameter index (0 .. {self.n - 1})")
                mask[j] = 1
        self.keep.append(mask)
        return mask.ctypes.data_as(_lib.c_uchar_p)

    def set_callback(self, fn):
        if not callable(fn):
            raise TypeError("callback must be callable: callback(iteration, cost, params, grad_norm, step_norm)")
        n = self.n

        def trampoline(_user, iteration, cost, params, grad_norm, step_norm):
            if self.error is not None:
                return 1
            try:
                p = numpy.ctypeslib.as_array(params, shape=(n,)).copy()
                return 1 if fn(iteration, cost, p, grad_norm, step_norm) else 0
            except BaseException as e:  # noqa: B902 - re-raised after the fit
                self.error = e
                return 1

        cb = _lib.CALLBACK(trampoline)
        self.trampolines.append(trampoline)
        self.keep.append(cb)
        self.opt.callback = cb

    def set_progress(self, fn, interval=None):
        if not callable(fn):
            raise TypeError("progress must be callable: progress(info) with info a dict")

        def trampoline(_user, p):
            if self.error is not None:
                return 1
            try:
                q = p.contents
                info = {"pass": q.pass_, "iteration": q.iteration, "pass_fraction": q.pass_fraction,
                        "cost": q.cost, "elapsed": q.elapsed, "pass_seconds": q.pass_seconds,
                        "pass_remaining": q.pass_remaining, "points": q.points}
                return 1 if fn(info) else 0
            except BaseException as e:  # noqa: B902
                self.error = e
                return 1

        cb = _lib.PROGRESS(trampoline)
        self.trampolines.append(trampoline)
        self.keep.append(cb)
        self.opt.progress = cb
        if interval is not None:
            self.opt.progress_interval = _positive(interval, "progress_interval")

    @contextlib.contextmanager
    def running(self):
        """Around the C call: an exception raised as a callback is entered
        -- KeyboardInterrupt from Ctrl-C, whose handler Python runs at the
        first instruction of a function, before any `try` -- reaches
        ctypes, which only reports it as unraisable. Catch those reports
        for our callbacks; the next call of the callback then stops the fit
        and the exception is raised when the fit returns."""
        if not self.trampolines:
            yield
            return
        previous = sys.unraisablehook

        def hook(u):
            if self.error is None and any(u.object is t for t in self.trampolines):
                self.error = u.exc_value
            else:
                previous(u)
        sys.unraisablehook = hook
        try:
            yield
        finally:
            sys.unraisablehook = previous

    def reraise(self):
        if self.error is not None:
            e, self.error = self.error, None
            raise e


def _positive(v, what):
    v = float(v)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{what} must be positive and finite, not {v}")
    return v


def prepare_bounds(bounds, n):
    """SciPy's bounds -- (lb, ub) of scalars or n-arrays, or an object with
    .lb and .ub (scipy.optimize.Bounds) -- as two n-arrays, or None when no
    bound is finite."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        lb, ub = bounds.lb, bounds.ub
    else:
        try:
            lb, ub = bounds
        except (TypeError, ValueError):
            raise ValueError("bounds must be a pair (lower, upper)") from None
    if numpy.ndim(lb) == 0 and numpy.ndim(ub) == 0 and float(lb) == -math.inf and float(ub) == math.inf:
        return None  # the default: nothing to check or pass on
    lb = numpy.full(n, float(lb)) if numpy.ndim(lb) == 0 else numpy.asarray(lb, dtype=float).ravel()
    ub = numpy.full(n, float(ub)) if numpy.ndim(ub) == 0 else numpy.asarray(ub, dtype=float).ravel()
    if lb.size != n or ub.size != n:
        raise ValueError(f"Inconsistent shapes between bounds and `x0`: bounds have {lb.size} and {ub.size} "
                         f"values, the model has {n} parameters")
    if numpy.any(lb >= ub):
        raise ValueError("Each lower bound must be strictly less than each upper bound.")
    if not (numpy.any(numpy.isfinite(lb)) or numpy.any(numpy.isfinite(ub))):
        return None
    return lb, ub


def raise_status(status, err):
    """The exception for an nlsq_status other than OK."""
    msg = _lib.text(err.message)
    if status == _lib.ERR_NOMEM:
        raise MemoryError(msg)
    raise ValueError(msg)


def warn_pcov():
    warnings.warn("Covariance of the parameters could not be estimated", category=OptimizeWarning, stacklevel=3)


def warn_pcov_rank(rank, n_free):
    """pcov is a pseudo-inverse: some parameter combinations are not
    determined by the data (result.pcov_rank says how many are)."""
    warnings.warn(f"Covariance of the parameters could not be fully estimated: the Jacobian has rank {rank} of "
                  f"{n_free} at working precision, so pcov is its pseudo-inverse and leaves out the variance of "
                  f"{n_free - rank} parameter combination(s) the data do not determine",
                  category=OptimizeWarning, stacklevel=3)
