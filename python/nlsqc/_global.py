"""The global search of curve_fit (global_starts=N, ...): its keyword
arguments into an nlsq_global_options, and the search's summary (the
distinct minima) out of the C result. docs/global-search.md."""
import ctypes

import numpy

from . import _lib

KEYS = ("global_starts", "design", "seed", "global_method", "global_halving", "search_bounds", "global_guess")


def pop_options(kwargs):
    """The global-search keywords taken out of kwargs: a dict, or None when
    none was given (no search). design, seed, global_method,
    global_halving or search_bounds alone ask for the default 64 starts."""
    got = {k: kwargs.pop(k) for k in KEYS if k in kwargs}
    got = {k: v for k, v in got.items() if v is not None}
    return got or None


def make_options(g, names):
    """(GlobalOptions, arrays it points into) from pop_options' dict."""
    o = _lib.lib.nlsq_global_options_default()
    keep = []
    if "global_starts" in g:
        o.starts = _lib.integer(g["global_starts"], "global_starts", 1)
    design = g.get("design", "sobol")
    if design not in _lib.DESIGNS:
        raise ValueError(f"design must be one of {', '.join(_lib.DESIGNS)}, not {design!r}")
    o.design = _lib.DESIGNS.index(design)
    method = g.get("global_method", "multistart")
    if method not in _lib.GLOBAL_METHODS:
        raise ValueError(f"global_method must be one of {', '.join(_lib.GLOBAL_METHODS)}, not {method!r}")
    o.method = _lib.GLOBAL_METHODS.index(method)
    if "seed" in g:
        seed = int(g["seed"])
        if seed < 0 or seed >= 2 ** 64:
            raise ValueError(f"seed must be from 0 to 2**64-1, not {seed}")
        o.seed = seed
    halving = g.get("global_halving", "auto")
    if isinstance(halving, str) and halving == "auto":
        o.halving = -1
    elif not isinstance(halving, str) and halving in (True, False):
        o.halving = int(bool(halving))
    else:
        raise ValueError(f"global_halving must be 'auto', True or False, not {halving!r}")
    if "global_guess" in g:
        o.guess = 1 if g["global_guess"] else 0
    if "search_bounds" in g:
        lo, hi = g["search_bounds"]
        n = len(names)
        lo = numpy.ascontiguousarray(numpy.broadcast_to(numpy.asarray(lo, dtype=float), (n,)))
        hi = numpy.ascontiguousarray(numpy.broadcast_to(numpy.asarray(hi, dtype=float), (n,)))
        keep += [lo, hi]
        o.search_lower = _lib.dptr(lo)
        o.search_upper = _lib.dptr(hi)
    return o, keep


def summary_from_c(r, names):
    """The search's summary as a dict (None when the fit was not global):
    starts, at_best, the minima (cost, params by name, starts) best first,
    and how the search ran."""
    if not r.global_:
        return None
    g = r.global_.contents
    n = g.n
    costs = _lib.copy_out(g.minima_cost, (g.n_minima,)) if g.n_minima else numpy.zeros(0)
    params = _lib.copy_out(g.minima_params, (g.n_minima, n)) if g.n_minima else numpy.zeros((0, n))
    counts = [g.minima_count[i] for i in range(g.n_minima)]
    minima = [{"cost": float(costs[i]), "params": dict(zip(names, params[i].tolist())), "popt": params[i],
               "starts": counts[i]} for i in range(g.n_minima)]
    return {"method": _lib.GLOBAL_METHODS[g.method], "design": _lib.DESIGNS[g.design], "seed": int(g.seed),
            "starts": g.starts, "at_best": g.at_best, "minima": minima, "rungs": g.rungs,
            "sample_points": g.sample_points, "shared_passes": g.shared_passes, "evaluations": g.evaluations,
            "seconds": g.seconds,
            "search_lower": _lib.copy_out(g.search_lower, (n,)), "search_upper": _lib.copy_out(g.search_upper, (n,))}


def design(kind, n_dims, n_points, seed=1):
    """nlsq_design_fill: n_points x n_dims points in [0, 1) of a Sobol',
    Halton or Latin-hypercube design (seed 0: the plain sequences)."""
    if kind not in _lib.DESIGNS:
        raise ValueError(f"design must be one of {', '.join(_lib.DESIGNS)}, not {kind!r}")
    out = numpy.empty((int(n_points), int(n_dims)))
    err = _lib.Error()
    st = _lib.lib.nlsq_design_fill(_lib.DESIGNS.index(kind), int(n_dims), int(n_points), int(seed), _lib.dptr(out),
                                   ctypes.byref(err))
    if st != _lib.OK:
        raise ValueError(_lib.text(err.message))
    return out
