"""Tracing Python model functions into nlsq's expression graph.

A model function is called once with stand-in objects (Expr) for x and the
parameters. Every operation on them records a node on a tape instead of
computing a number. The tape is a plain tuple, so two traces of the same
model give equal tapes: it is the key of the model cache, and only a tape
not seen before is replayed through the C builder (which differentiates
and schedules it, the costly part).

Exprs speak NumPy's dispatch protocols (__array_ufunc__ for np.exp and
friends, __array_function__ for np.where and np.clip), so model functions
written for SciPy with plain `numpy` trace unchanged. What cannot be
traced -- Python `if` on a traced value, math.exp, converting to an array
-- raises TraceError saying what to write instead.
"""
import ctypes
import inspect
import math
import struct

import numpy

from . import _lib


class TraceError(TypeError):
    """A model function did something that cannot be traced."""


# The language's reserved names: a parameter of a Python function may be
# called `e` or `gamma` there, but not in the graph (it gets a suffix).
RESERVED = frozenset(
    "exp expm1 log log1p log10 log2 sqrt cbrt abs sign floor ceil sin cos tan asin acos atan sinh cosh tanh "
    "asinh acosh atanh erf erfc lgamma tgamma pow hypot atan2 min max where pi e faddeeva_re faddeeva_im".split())


def _op_table():
    ops = {}
    for code in range(128):
        name = _lib.lib.nlsq_op_name(code)
        if name is None:
            break
        arity = _lib.lib.nlsq_op_arity(code)
        ops[(name.decode(), arity)] = code
    return ops


OPS = _op_table()
NUMBER, CONDITION = 0, 1

# ops whose result is a condition, and those that take conditions
_COND_RESULT = {"<", "<=", ">", ">=", "==", "!=", "&&", "||", "!"}
_COND_ARGS = {"&&", "||", "!"}


class Tape:
    """The nodes of one trace: ("var", name), ("param", name),
    ("const", bits) or ("op", code, args...). Equal nodes are shared."""

    def __init__(self, taken=()):
        self.nodes = []
        self.index = {}
        # per-point arrays used as constants: each becomes a variable of
        # the graph, fed as one more row of x (the model stays the same
        # model whatever the arrays hold)
        self.arrays = []
        self.array_refs = {}  # id -> (index, the object, kept so ids stay unique)
        self.taken = set(taken)

    def array(self, v, a):
        k = self.array_refs.get(id(v), (None,))[0]
        if k is None:
            k = len(self.arrays)
            self.arrays.append(a)
            self.array_refs[id(v)] = (k, v)
        name = f"_a{k}"
        while name in self.taken:
            name += "_"
        return self.add(("var", name))

    def add(self, node):
        i = self.index.get(node)
        if i is None:
            i = len(self.nodes)
            self.nodes.append(node)
            self.index[node] = i
        return i


class Expr:
    """A traced value: a node of a tape, a number or a condition."""

    __slots__ = ("tape", "node", "kind", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Expr defers to Expr

    def __init__(self, tape, node, kind=NUMBER):
        self.tape = tape
        self.node = node
        self.kind = kind

    # ---- what cannot be traced -----------------------------------------
    def __bool__(self):
        raise TraceError(
            "a traced value has no truth value: Python `if`, `while`, `and`, `or`, `not`, `assert` and the "
            "builtins min()/max() on x or a parameter cannot be traced (the model is recorded once, for all "
            "points and parameter values). Write nlsqc.np.where(cond, a, b) (or numpy.where) instead, & | ~ to "
            "combine conditions, and np.minimum/np.maximum for min/max.")

    def _no_number(self, *_):
        raise TraceError(
            "a traced value cannot become a Python number: float(), int(), math.* functions and plain Python "
            "code need concrete values. Use nlsqc.np functions (or NumPy's: np.exp, np.sqrt, ...) on x and "
            "the parameters.")

    __float__ = __int__ = __index__ = __complex__ = _no_number

    def __array__(self, *_args, **_kw):
        raise TraceError(
            "a traced value cannot become a NumPy array: np.asarray/np.array, in-place operations and NumPy "
            "functions other than the element-wise ones cannot be traced. Supported: " + _supported_text())

    def __iter__(self):
        raise TraceError("x is a single variable here (1-D xdata); x[i] and unpacking need xdata of shape (k, m)")

    def __getitem__(self, _):
        raise TraceError("x is a single variable here (1-D xdata); x[i] needs xdata of shape (k, m) with k >= 2")

    def __len__(self):
        raise TraceError("len() of a traced value: the number of points is not known while tracing")

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<nlsqc traced {'condition' if self.kind else 'value'}>"

    # ---- arithmetic ----------------------------------------------------
    def __add__(self, o): return apply("+", self, o)
    def __radd__(self, o): return apply("+", o, self)
    def __sub__(self, o): return apply("-", self, o)
    def __rsub__(self, o): return apply("-", o, self)
    def __mul__(self, o): return apply("*", self, o)
    def __rmul__(self, o): return apply("*", o, self)
    def __truediv__(self, o): return apply("/", self, o)
    def __rtruediv__(self, o): return apply("/", o, self)

    def __pow__(self, o, mod=None):
        if mod is not None:
            raise TraceError("pow() with a modulus cannot be traced")
        return apply("pow", self, o)

    def __rpow__(self, o): return apply("pow", o, self)
    def __neg__(self): return apply("-", self)
    def __pos__(self): return self
    def __abs__(self): return apply("abs", self)
    def __floor__(self): return apply("floor", self)
    def __ceil__(self): return apply("ceil", self)

    def __floordiv__(self, o): return apply("floor", apply("/", self, o))
    def __rfloordiv__(self, o): return apply("floor", apply("/", o, self))

    def __mod__(self, o):  # Python's sign convention: a - floor(a/b)*b
        return apply("-", self, apply("*", apply("floor", apply("/", self, o)), o))

    def __rmod__(self, o):
        return apply("-", o, apply("*", apply("floor", apply("/", o, self)), self))

    # ---- comparisons and conditions -------------------------------------
    def __lt__(self, o): return apply("<", self, o)
    def __le__(self, o): return apply("<=", self, o)
    def __gt__(self, o): return apply(">", self, o)
    def __ge__(self, o): return apply(">=", self, o)
    def __eq__(self, o): return apply("==", self, o)
    def __ne__(self, o): return apply("!=", self, o)
    def __and__(self, o): return apply("&&", self, o)
    def __rand__(self, o): return apply("&&", o, self)
    def __or__(self, o): return apply("||", self, o)
    def __ror__(self, o): return apply("||", o, self)
    def __invert__(self): return apply("!", self)

    # ---- NumPy's protocols ----------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or kwargs.get("out") is not None:
            raise TraceError(f"numpy.{ufunc.__name__}.{method} (or out=) cannot be traced; call "
                             f"numpy.{ufunc.__name__}(...) and use its result")
        extra = {k: v for k, v in kwargs.items() if k not in ("out", "dtype", "casting")}
        if extra:
            raise TraceError(f"numpy.{ufunc.__name__} with {', '.join(extra)}= cannot be traced")
        fn = UFUNCS.get(ufunc.__name__)
        if fn is None:
            raise TraceError(f"numpy.{ufunc.__name__} has no counterpart in the model language. Supported: " +
                             _supported_text())
        return fn(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        fn = ARRAY_FUNCTIONS.get(func.__name__)
        if fn is None:
            raise TraceError(f"numpy.{func.__name__} cannot be traced (a model is a formula per point). "
                             "Supported: " + _supported_text())
        return fn(*args, **kwargs)


class Variables:
    """x for xdata of shape (k, m): x[i] (or unpacking) is variable i."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = tuple(items)

    def __getitem__(self, i):
        if isinstance(i, tuple) and len(i) == 2 and i[1] == slice(None):
            i = i[0]  # x[0, :] is x[0]
        try:
            return self.items[i]
        except IndexError:
            raise TraceError(f"x[{i}]: xdata has {len(self.items)} rows (variables)") from None
        except TypeError:
            raise TraceError(f"x[{i!r}]: index the variables with an integer, x[0] .. x[{len(self.items) - 1}]") \
                from None

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    @property
    def shape(self):
        raise TraceError("x.shape: the number of points is not known while tracing; len(x) is the number of "
                         "variables")

    def __array__(self, *_a, **_k):
        raise TraceError("x (several variables) cannot become an array; use x[0], x[1], ... element-wise")


# ---------------------------------------------------------------------------
# Recording operations

def _const_bits(v):
    return struct.unpack("<q", struct.pack("<d", v))[0]


def _as_operand(v, tape, want=NUMBER):
    """An operand's node on the tape: an Expr's own, or a constant's."""
    if isinstance(v, Expr):
        if v.tape is not tape:
            raise TraceError("a traced value from another model's trace was used (a stored Expr?)")
        if want == NUMBER and v.kind == CONDITION:
            # NumPy arithmetic on booleans counts True as 1
            return tape.add(("op", OPS[("where", 3)], v.node, tape.add(("const", _const_bits(1.0))),
                             tape.add(("const", _const_bits(0.0)))))
        if want == CONDITION and v.kind == NUMBER:
            return tape.add(("op", OPS[("!=", 2)], v.node, tape.add(("const", _const_bits(0.0)))))
        return v.node
    a = _per_point_array(v)
    if a is not None:
        node = tape.array(v, a)
        if want == CONDITION:
            return tape.add(("op", OPS[("!=", 2)], node, tape.add(("const", _const_bits(0.0)))))
        return node
    value = _constant(v)
    if want == CONDITION:
        return tape.add(("op", OPS[("!=", 2)], tape.add(("const", _const_bits(value))),
                         tape.add(("const", _const_bits(0.0)))))
    return tape.add(("const", _const_bits(value)))


def _per_point_array(v):
    """A 1-D array of several numbers (one per point, to be checked against
    the data), as float64; None for anything else."""
    if isinstance(v, (numpy.ndarray, list, tuple)):
        try:
            a = numpy.asarray(v, dtype=float)
        except (TypeError, ValueError):
            return None
        if a.ndim == 1 and a.size > 1:
            return a
    return None


def _constant(v):
    if isinstance(v, (bool, numpy.bool_)):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float, numpy.integer, numpy.floating)):
        return float(v)
    if isinstance(v, Variables):
        raise TraceError("x holds several variables (xdata of shape (k, m)); use x[0], x[1], ... in arithmetic")
    if isinstance(v, numpy.ndarray) or hasattr(v, "__array__"):
        a = numpy.asarray(v)
        if a.size == 1 and a.dtype.kind in "biuf":
            return float(a.reshape(()))
        raise TraceError(f"an array of shape {a.shape} cannot be a constant of a model: a model is a formula for "
                         "one point, and only a 1-D array with one value per point can join it. Pass such values "
                         "as another row of xdata (x[1]) instead.")
    if isinstance(v, complex):
        raise TraceError("complex numbers are not supported in models")
    raise TraceError(f"a {type(v).__name__} cannot be a constant of a model")


def _op_info():
    """(name, arity) -> (op code, the kind each argument must be, the kind
    of the result)."""
    info = {}
    for (name, arity), code in OPS.items():
        kinds = tuple(CONDITION if name in _COND_ARGS or (name == "where" and i == 0) else NUMBER
                      for i in range(arity))
        info[(name, arity)] = (code, kinds, CONDITION if name in _COND_RESULT else NUMBER)
    return info


OP_INFO = _op_info()


def apply(name, *args):
    """Record op `name` on its arguments (Exprs or numbers); with no Expr
    among them, compute it with NumPy instead."""
    tape = None
    for a in args:
        if type(a) is Expr:
            tape = a.tape
            break
    if tape is None:
        return NUMERIC[name](*args)
    code, kinds, result = OP_INFO[(name, len(args))]
    node = ["op", code]
    for a, kind in zip(args, kinds):
        if type(a) is Expr and a.kind == kind and a.tape is tape:
            node.append(a.node)  # the common case, without a call
        else:
            node.append(_as_operand(a, tape, kind))
    return Expr(tape, tape.add(tuple(node)), result)


def where(cond, a, b):
    if not isinstance(cond, Expr):
        c = numpy.asarray(cond)
        if c.ndim == 0 and not isinstance(a, Expr) and not isinstance(b, Expr):
            return numpy.where(cond, a, b)
        if c.ndim == 0:
            return a if bool(c) else b
        if not isinstance(a, Expr) and not isinstance(b, Expr):
            return numpy.where(cond, a, b)
    return apply("where", cond, a, b)  # a per-point condition array joins the data


def _erf(u): return _special("erf", math.erf, u)
def _erfc(u): return _special("erfc", math.erfc, u)
def _lgamma(u): return _special("gammaln", math.lgamma, u)
def _tgamma(u): return _special("gamma", math.gamma, u)


def _special(scipy_name, scalar, u):
    try:
        import scipy.special as sp
        return getattr(sp, scipy_name)(u)
    except ImportError:
        return numpy.vectorize(scalar, otypes=[float])(u)


def _wofz(x, y):
    """w(x + iy) on numbers: SciPy's wofz, or without SciPy the library's
    own (the model p*faddeeva_re(x, y) + ... evaluated at p = 1)."""
    try:
        import scipy.special as sp
        return sp.wofz(numpy.asarray(x, dtype=float) + 1j * numpy.asarray(y, dtype=float))
    except ImportError:
        from ._model import model
        xb, yb = numpy.broadcast_arrays(numpy.asarray(x, dtype=float), numpy.asarray(y, dtype=float))
        xy = numpy.vstack([xb.ravel(), yb.ravel()])
        re = model("p*faddeeva_re(x, y)", vars="x,y").eval(xy, [1.0], jacobian=False)
        im = model("p*faddeeva_im(x, y)", vars="x,y").eval(xy, [1.0], jacobian=False)
        w = (re + 1j * im).reshape(xb.shape)
        return w if w.ndim else complex(w)


def _faddeeva_re(x, y): return numpy.real(_wofz(x, y))
def _faddeeva_im(x, y): return numpy.imag(_wofz(x, y))


# The ops computed on plain numbers (a model evaluated outside tracing).
NUMERIC = {
    "+": numpy.add, "*": numpy.multiply, "/": numpy.true_divide, "^": numpy.power,
    "-": lambda a, b=None: numpy.negative(a) if b is None else numpy.subtract(a, b),
    "exp": numpy.exp, "expm1": numpy.expm1, "log": numpy.log, "log1p": numpy.log1p, "log10": numpy.log10,
    "log2": numpy.log2, "sqrt": numpy.sqrt, "cbrt": numpy.cbrt, "abs": numpy.abs, "sign": numpy.sign,
    "floor": numpy.floor, "ceil": numpy.ceil, "sin": numpy.sin, "cos": numpy.cos, "tan": numpy.tan,
    "asin": numpy.arcsin, "acos": numpy.arccos, "atan": numpy.arctan, "sinh": numpy.sinh, "cosh": numpy.cosh,
    "tanh": numpy.tanh, "asinh": numpy.arcsinh, "acosh": numpy.arccosh, "atanh": numpy.arctanh,
    "erf": _erf, "erfc": _erfc, "lgamma": _lgamma, "tgamma": _tgamma,
    "pow": numpy.power, "hypot": numpy.hypot, "atan2": numpy.arctan2, "min": numpy.minimum, "max": numpy.maximum,
    "<": numpy.less, "<=": numpy.less_equal, ">": numpy.greater, ">=": numpy.greater_equal, "==": numpy.equal,
    "!=": numpy.not_equal, "&&": numpy.logical_and, "||": numpy.logical_or, "!": numpy.logical_not,
    "where": numpy.where, "faddeeva_re": _faddeeva_re, "faddeeva_im": _faddeeva_im,
}


def _fn(name):
    return lambda *a: apply(name, *a)


def _clip(a, a_min=None, a_max=None, **kw):
    if kw:
        raise TraceError(f"numpy.clip with {', '.join(kw)}= cannot be traced")
    if a_min is not None:
        a = apply("max", a, a_min)
    if a_max is not None:
        a = apply("min", a, a_max)
    return a


def _heaviside(u, h0):
    return where(u < 0, 0.0, where(u > 0, 1.0, h0))


# numpy ufunc name -> how to record it
UFUNCS = {
    "add": _fn("+"), "subtract": _fn("-"), "multiply": _fn("*"), "true_divide": _fn("/"), "divide": _fn("/"),
    "power": _fn("pow"), "float_power": _fn("pow"), "negative": _fn("-"), "positive": lambda a: a,
    "absolute": _fn("abs"), "fabs": _fn("abs"), "exp": _fn("exp"), "expm1": _fn("expm1"), "log": _fn("log"),
    "log1p": _fn("log1p"), "log10": _fn("log10"), "log2": _fn("log2"), "sqrt": _fn("sqrt"), "cbrt": _fn("cbrt"),
    "sign": _fn("sign"), "floor": _fn("floor"), "ceil": _fn("ceil"), "sin": _fn("sin"), "cos": _fn("cos"),
    "tan": _fn("tan"), "arcsin": _fn("asin"), "arccos": _fn("acos"), "arctan": _fn("atan"), "sinh": _fn("sinh"),
    "cosh": _fn("cosh"), "tanh": _fn("tanh"), "arcsinh": _fn("asinh"), "arccosh": _fn("acosh"),
    "arctanh": _fn("atanh"), "hypot": _fn("hypot"), "arctan2": _fn("atan2"), "minimum": _fn("min"),
    "maximum": _fn("max"), "less": _fn("<"), "less_equal": _fn("<="), "greater": _fn(">"),
    "greater_equal": _fn(">="), "equal": _fn("=="), "not_equal": _fn("!="), "logical_and": _fn("&&"),
    "logical_or": _fn("||"), "logical_not": _fn("!"), "bitwise_and": _fn("&&"), "bitwise_or": _fn("||"),
    "invert": _fn("!"),
    "square": lambda u: apply("pow", u, 2.0), "reciprocal": lambda u: apply("/", 1.0, u),
    "exp2": lambda u: apply("pow", 2.0, u), "deg2rad": lambda u: apply("*", u, math.pi / 180),
    "radians": lambda u: apply("*", u, math.pi / 180), "rad2deg": lambda u: apply("*", u, 180 / math.pi),
    "degrees": lambda u: apply("*", u, 180 / math.pi), "heaviside": _heaviside,
    # scipy.special's ufuncs
    "erf": _fn("erf"), "erfc": _fn("erfc"), "gammaln": _fn("lgamma"), "gamma": _fn("tgamma"),
}

# scipy.special.wofz on a traced value has no complex result to give; the
# language has Re and Im of w as nlsqc.np.faddeeva_re / faddeeva_im.

ARRAY_FUNCTIONS = {"where": where, "clip": _clip}


def _supported_text():
    return ("operators + - * / ** abs, comparisons and & | ~, numpy's " +
            ", ".join(sorted(UFUNCS)) + ", and numpy.where / numpy.clip (or nlsqc.np.*)")


# ---------------------------------------------------------------------------
# Tracing a function, and replaying a tape through the C builder

_names_cache = {}


def parameter_names(f, n=None):
    """The names of f's parameters (after x), or p0..p{n-1} for *args.
    A plain function's names depend only on its code and defaults, so they
    are looked up by those (inspect.signature costs more than a trace)."""
    code = getattr(f, "__code__", None)
    key = None
    if code is not None and not hasattr(f, "__signature__") and not hasattr(f, "__wrapped__"):
        key = (code, getattr(f, "__defaults__", None), n)
        try:
            names = _names_cache.get(key)
        except TypeError:  # an unhashable default
            key = names = None
        if names is not None:
            return list(names)
    names = _parameter_names(f, n)
    if key is not None:
        if len(_names_cache) > 256:
            _names_cache.clear()
        _names_cache[key] = tuple(names)
    return names


def _parameter_names(f, n):
    try:
        sig = inspect.signature(f)
    except (TypeError, ValueError):
        sig = None
    names = []
    varargs = False
    defaulted = 0
    if sig is not None:
        pos = [p for p in sig.parameters.values()
               if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        varargs = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
        if not pos and not varargs:
            raise ValueError("the model function takes no arguments; it must be f(x, p1, p2, ...)")
        names = [p.name for p in pos[1:]]
        defaulted = sum(1 for p in pos[1:] if p.default is not p.empty)
    if n is None:
        if varargs or sig is None:
            raise ValueError("Unable to determine number of fit parameters.")
        return names
    if n < len(names) <= n + defaulted:
        return names[:n]  # as SciPy calls f(x, *p0): the rest keep their defaults
    if len(names) > n or (len(names) < n and not varargs):
        raise ValueError(f"the model function takes {len(names)} parameter{'s' if len(names) != 1 else ''} "
                         f"after x ({', '.join(names)}) but p0 has {n} values")
    names += [f"p{i}" for i in range(len(names), n)]
    return names


def graph_names(names, taken=()):
    """Names the graph accepts: a reserved or clashing name gets '_' added."""
    out, used = [], set(taken)
    for name in names:
        g = name
        while g in RESERVED or g in used:
            g += "_"
        used.add(g)
        out.append(g)
    return out


def trace(f, nvars, param_names, rows=False):
    """Call f once on stand-ins; return (tape nodes, root, var names, the
    per-point arrays the model uses as constants, in variable order after
    x's). x is one Expr, or with rows (2-D xdata) a sequence of them."""
    gparams = graph_names(param_names)
    vnames = graph_names(["x"] if nvars == 1 and not rows else [f"x{i}" for i in range(nvars)], gparams)
    tape = Tape(taken=gparams + vnames)
    xs = [Expr(tape, tape.add(("var", v))) for v in vnames]
    ps = [Expr(tape, tape.add(("param", p))) for p in gparams]
    x = xs[0] if nvars == 1 and not rows else Variables(xs)
    with numpy.errstate(all="ignore"):
        out = f(x, *ps)
    if isinstance(out, Expr):
        if out.kind == CONDITION:
            out = apply("where", out, 1.0, 0.0)
        root = out.node
    else:
        try:
            value = _constant(out)
        except TraceError:
            raise TraceError(f"the model function returned a {type(out).__name__}, not a traced value; it must "
                             "compute its result from x and the parameters (an array of per-point results "
                             "cannot be traced)") from None
        root = tape.add(("const", _const_bits(value)))
    return tuple(tape.nodes), root, vnames, tape.arrays


def build(nodes, root):
    """Replay a tape through the C builder: a new nlsq_model pointer."""
    lib = _lib.lib
    err = _lib.Error()
    b = ctypes.c_void_p()
    if lib.nlsq_builder_new(ctypes.byref(b), ctypes.byref(err)) != _lib.OK:
        raise MemoryError(_lib.text(err.message))
    # SciPy fits a parameter the function ignores (a zero Jacobian column,
    # an infinite covariance and OptimizeWarning): so does curve_fit.
    lib.nlsq_builder_allow_unused_params(b, 1)
    try:
        handles = []
        for node in nodes:
            tag = node[0]
            if tag == "var":
                h = lib.nlsq_builder_var(b, node[1].encode())
            elif tag == "param":
                h = lib.nlsq_builder_param(b, node[1].encode())
            elif tag == "const":
                h = lib.nlsq_builder_const(b, struct.unpack("<d", struct.pack("<q", node[1]))[0])
            else:
                args = [handles[i] for i in node[2:]]
                if len(args) == 1:
                    h = lib.nlsq_builder_op1(b, node[1], *args)
                elif len(args) == 2:
                    h = lib.nlsq_builder_op2(b, node[1], *args)
                else:
                    h = lib.nlsq_builder_where(b, *args)
            handles.append(h)
        model = ctypes.c_void_p()
        if lib.nlsq_builder_finish(b, handles[root], ctypes.byref(model), ctypes.byref(err)) != _lib.OK:
            raise ValueError("the traced model could not be built: " + _lib.text(err.message))
        return model
    finally:
        lib.nlsq_builder_free(b)
