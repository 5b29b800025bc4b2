"""The Python tracer's inputs, fuzzed (issue 17): random model functions
built from the operators and NumPy functions the tracer knows, and random
model text. Each traced function must give NumPy's values and central
differences' derivatives, or be refused with TraceError/ValueError; random
text must parse or be refused with ValueError. Never a crash, never a wrong
value. The seeds are fixed, so a failure repeats; NLSQ_FUZZ_CASES sets how
many cases (default 1500 functions and 10,500 texts)."""
import math
import os
import random

import numpy as np
import pytest

import nlsqc

CASES = int(os.environ.get("NLSQ_FUZZ_CASES", "1500"))

# (name, arity, numpy function, domain guard applied to its argument(s))
UNARY = [
    ("sin", np.sin), ("cos", np.cos), ("tanh", np.tanh), ("arctan", np.arctan),
    ("exp", lambda u: np.exp(np.tanh(u))),   # kept finite: exp of a bounded value
    ("log", lambda u: np.log(1.5 + np.sin(u))),  # kept in the domain
    ("sqrt", lambda u: np.sqrt(2 + np.cos(u))),
    ("abs", lambda u: np.abs(u) + 0.5),
    ("square", np.square), ("neg", np.negative),
]
BINARY = [
    ("+", lambda a, b: a + b), ("-", lambda a, b: a - b), ("*", lambda a, b: a * b),
    ("/", lambda a, b: a / (2 + np.sin(b))),  # a denominator kept away from 0
    ("pow", lambda a, b: (1.5 + np.cos(a)) ** np.tanh(b)),
    ("hypot", np.hypot), ("arctan2", lambda a, b: np.arctan2(a, 1 + b * b)),
    ("maximum", np.maximum), ("minimum", np.minimum),
]


def random_tree(rng, depth, nparams):
    """A random expression: a function of (x, p) built from the lists above."""
    if depth == 0 or rng.random() < 0.25:
        leaf = rng.randrange(3)
        if leaf == 0:
            return lambda x, p: x, "x"
        if leaf == 1:
            j = rng.randrange(nparams)
            return lambda x, p, j=j: p[j], f"p{j}"
        c = round(rng.uniform(-3, 3), 3)
        return lambda x, p, c=c: c, repr(c)
    if rng.random() < 0.5:
        name, f = rng.choice(UNARY)
        a, sa = random_tree(rng, depth - 1, nparams)
        return (lambda x, p, f=f, a=a: f(a(x, p))), f"{name}({sa})"
    name, f = rng.choice(BINARY)
    a, sa = random_tree(rng, depth - 1, nparams)
    b, sb = random_tree(rng, depth - 1, nparams)
    return (lambda x, p, f=f, a=a, b=b: f(a(x, p), b(x, p))), f"({sa} {name} {sb})"


def central_jacobian(model, x, p):
    """Central differences of model.eval's values, column by column."""
    cols = []
    for j in range(len(p)):
        h = 1e-6 * max(1.0, abs(p[j]))
        up, dn = np.array(p, float), np.array(p, float)
        up[j] += h
        dn[j] -= h
        cols.append((model.eval(x, up, jacobian=False) - model.eval(x, dn, jacobian=False)) / (2 * h))
    return np.stack(cols, axis=-1)


@pytest.mark.parametrize("seed", range(3))
def test_fuzz_traced_functions_match_numpy(seed):
    rng = random.Random(1000 + seed)
    x = np.linspace(-2, 2, 17)
    checked = 0
    for case in range(CASES // 3):
        nparams = rng.randrange(1, 4)
        body, text = random_tree(rng, rng.randrange(1, 6), nparams)
        # every parameter used (a model that ignores one is refused: issue 18)
        tree = lambda x, p, body=body: body(x, p) + sum(0.01 * (j + 1) * p[j] * x for j in range(len(p)))
        names = ", ".join(f"p{j}" for j in range(nparams))
        f = eval(f"lambda x, {names}: tree(x, [{names}])", {"tree": tree})
        p = [round(rng.uniform(-2, 2), 3) for _ in range(nparams)]
        with np.errstate(all="ignore"):
            want = np.broadcast_to(np.asarray(tree(x, p), float), x.shape)
        try:
            m = nlsqc.model(f, n=nparams)
        except (nlsqc.TraceError, ValueError) as e:
            assert str(e), f"case {case}: an empty message for {text}"
            continue
        got = m.eval(x, p, jacobian=False)
        finite = np.isfinite(want)
        assert np.array_equal(np.isfinite(got), finite), f"case {case}: {text} at p={p}"
        assert np.allclose(got[finite], want[finite], rtol=1e-12, atol=1e-12), f"case {case}: {text} at p={p}"
        # derivatives: exact AD against central differences where smooth
        vals, jac = m.eval(x, p)
        fd = central_jacobian(m, x, p)
        ok = np.isfinite(jac) & np.isfinite(fd) & (np.abs(fd) < 1e6)
        # kinks (abs, maximum, minimum) make central differences wrong at a
        # point or two; a disagreement must be rare, not the rule
        bad = ~np.isclose(jac[ok], fd[ok], rtol=1e-4, atol=1e-5)
        assert bad.sum() <= max(2, bad.size // 20), f"case {case}: {text} at p={p}: {bad.sum()} of {bad.size}"
        checked += 1
    assert checked >= CASES // 6, f"only {checked} cases traced"


ALPHABET = "xabc0123456789.+-*/^()e ,;=<>!&|?:sincoexplqrtabhyp_\t\n\x00\x7f\xff"


def test_fuzz_model_text_parses_or_is_refused():
    rng = random.Random(7)
    pieces = ["x", "a", "b", "c", "sin(", "exp(", "log(", "sqrt(", ")", "+", "-", "*", "/", "^", "1", "2.5", "1e400",
              "t = ", ";", "x < a ? b : c", "abs(", "atan2(", ",", "pi", "inf", "nan", "(", " "]
    parsed = refused = 0
    for case in range(CASES * 7):
        if rng.random() < 0.5:
            text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 12)))
        else:
            text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40)))
        try:
            m = nlsqc.model(text)
        except (ValueError, nlsqc.TraceError) as e:
            assert str(e), f"case {case}: an empty message for {text!r}"
            refused += 1
            continue
        parsed += 1
        with np.errstate(all="ignore"):
            m.eval(np.linspace(0, 1, 5), np.linspace(1, 2, m.n))
    assert parsed > 0 and refused > 0, (parsed, refused)
