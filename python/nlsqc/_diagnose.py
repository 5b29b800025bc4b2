"""Can a fit be trusted? The C result's diagnostics (nlsq_diagnostics in
include/nlsq.h) as a Python object, and the warning that says so.

A solver that stops by a tolerance has only found a point where its steps
stopped paying: from a poor start a Gaussian's peak parameters can stay
where they started (their Jacobian columns are zero there) and the fit
still "converges", with standard errors of 0 and R^2 = 0. The library
checks every fit; curve_fit and least_squares_model warn with
FitQualityWarning when the verdict is not trusted.
"""
import math
import warnings

import numpy

from . import _lib

# The findings, by bit (nlsq_diagnostic), and which make a fit untrusted.
FINDINGS = ("not_converged", "no_influence", "not_moved", "rank_deficient", "no_explanation", "ill_conditioned",
            "correlated", "at_bound", "residual_structure")
NOT_CONVERGED, NO_INFLUENCE, NOT_MOVED, RANK_DEFICIENT, NO_EXPLANATION = (1 << k for k in range(5))
AT_BOUND = 1 << 7
UNTRUSTED = NOT_CONVERGED | NO_INFLUENCE | NOT_MOVED | RANK_DEFICIENT | NO_EXPLANATION


class FitQualityWarning(UserWarning):
    """The solver converged but the result cannot be trusted: a parameter
    without influence at the solution, a parameter that never moved from
    its start, a rank-deficient Jacobian, or R^2 <= 0. The message names
    the parameters and what to try; result.diagnostics has the details.
    Silence it with warnings.simplefilter("ignore", nlsqc.FitQualityWarning)
    or make it an error with "error"."""


class Diagnostics:
    """What nlsq found about a fit (result.diagnostics).

    trusted: False when any untrusted finding is present.
    findings: the keys found, in order: not_converged, no_influence,
      not_moved, rank_deficient, no_explanation (these make it untrusted),
      ill_conditioned, correlated, at_bound, residual_structure (cautions).
    messages: {key: a sentence} for the findings.
    flags: the bitmask (nlsq_diagnostic bits).
    no_influence, not_moved, at_bound: parameter names; undetermined: those
      in a combination the data do not determine (rank_deficient).
    influence: {name: ||J[:,j]|| |p_j| over the largest, 0 .. 1}.
    rank, cond: rank and condition number of J with unit columns.
    correlated: [(a, b, corr)] for |corr| > 0.99.
    residuals_tested, runs, n_pos, n_neg, runs_z, lag1: the runs test on
      the residuals' signs in data order and their lag-1 autocorrelation
      (NaN when not tested; see docs/python.md for when they are).
    """

    __slots__ = ("flags", "trusted", "findings", "messages", "no_influence", "not_moved", "at_bound", "undetermined",
                 "influence",
                 "rank", "cond", "correlated", "residuals_tested", "runs", "n_pos", "n_neg", "runs_z", "lag1")

    def __init__(self, d, names):
        n = len(names)
        pflags = [d.param_flags[j] for j in range(n)] if d.param_flags else [0] * n
        self.flags = int(d.flags)
        self.trusted = bool(d.trusted)
        self.findings = [key for k, key in enumerate(FINDINGS) if self.flags & (1 << k)]
        self.messages = {key: _lib.text(_lib.lib.nlsq_diagnostic_str(1 << FINDINGS.index(key)))
                         for key in self.findings}
        self.no_influence = [names[j] for j in range(n) if pflags[j] & NO_INFLUENCE]
        self.not_moved = [names[j] for j in range(n) if pflags[j] & NOT_MOVED]
        self.at_bound = [names[j] for j in range(n) if pflags[j] & AT_BOUND]
        self.undetermined = [names[j] for j in range(n) if pflags[j] & RANK_DEFICIENT]
        self.influence = {names[j]: d.influence[j] for j in range(n)} if d.influence else {}
        self.rank = int(d.rank)
        self.cond = float(d.cond)
        self.correlated = [(names[d.correlated[2 * k]], names[d.correlated[2 * k + 1]], float(d.correlation[k]))
                           for k in range(d.n_correlated)]
        self.residuals_tested = bool(d.residuals_tested)
        self.runs, self.n_pos, self.n_neg = int(d.runs), int(d.n_pos), int(d.n_neg)
        self.runs_z, self.lag1 = float(d.runs_z), float(d.lag1)

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def explain(self, r2=math.nan, n_free=None):
        """The untrusted findings in words, with what to try ("" when trusted)."""
        parts = []
        if self.no_influence:
            parts.append(f"{_names(self.no_influence)} {_have(self.no_influence)} no influence on the model at the "
                         f"solution (zero or negligible Jacobian column): the data say nothing about "
                         f"{_them(self.no_influence)}")
        moved_only = [p for p in self.not_moved if p not in self.no_influence]
        if moved_only:
            parts.append(f"{_names(moved_only)} never moved from {_their(moved_only)} start value")
        if "rank_deficient" in self.findings:
            of = f" of {n_free - len(self.no_influence)}" if n_free is not None else ""
            parts.append(f"the Jacobian is rank-deficient (rank {self.rank}{of}, its columns scaled): "
                         f"{_names(self.undetermined)} enter in a combination the data do not determine")
        if "no_explanation" in self.findings:
            parts.append(f"R^2 = {r2:.5f}: the model explains the data no better than their mean")
        if not parts:
            return ""
        return ("The fit cannot be trusted: " + "; ".join(parts) + ". Try p0='auto' or a start nearer the data, a "
                "global search, or fix or drop the parameters named.")

    def __repr__(self):
        return f"Diagnostics(trusted={self.trusted}, findings={self.findings})"


def _names(names):
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _have(names):
    return "has" if len(names) == 1 else "have"


def _them(names):
    return "it" if len(names) == 1 else "them"


def _their(names):
    return "its" if len(names) == 1 else "their"


def from_c(r, names):
    """Diagnostics of a C nlsq_result (before it is freed)."""
    return Diagnostics(r.diag, list(names))


def warn_if_untrusted(result):
    """FitQualityWarning when the fit converged but cannot be trusted (a
    fit that did not converge is said otherwise: curve_fit raises, and
    least_squares_model's status says so)."""
    d = result.diagnostics
    if d is None or d.trusted or not (d.flags & UNTRUSTED & ~NOT_CONVERGED):
        return
    # stacklevel 3: the line of the user's code that called the fitting function
    r2 = result.r2 if result.r2 is not None else numpy.nan
    warnings.warn(d.explain(r2, result.n_free), category=FitQualityWarning, stacklevel=3)
