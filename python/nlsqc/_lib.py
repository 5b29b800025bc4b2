"""The C library, bound with ctypes.

ctypes rather than cffi or a compiled extension: it is in the standard
library, so the package needs nothing at run time but NumPy and the shared
library itself, and installing it compiles no Python-specific code (the
library is built once by CMake, as for C users). The price is that every
struct is written twice, here and in include/nlsq.h; tests/test_abi.py
compiles a C program that prints the header's sizes and offsets and checks
them against these.
"""
import ctypes
import ctypes.util
import math
import os

import numpy

c_double_p = ctypes.POINTER(ctypes.c_double)
c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_int_p = ctypes.POINTER(ctypes.c_int)
c_uchar_p = ctypes.POINTER(ctypes.c_ubyte)

# nlsq_status
OK = 0
ERR_NOMEM = 2

METHODS = {"auto": 0, "trf": 1, "lm": 2, "dogbox": 3}
METHOD_NAMES = {v: k for k, v in METHODS.items()}
LOSSES = {"linear": 0, "soft_l1": 1, "huber": 2, "cauchy": 3, "arctan": 4}
SIGMA_NONE, SIGMA_SCALAR, SIGMA_PER_POINT, SIGMA_COVARIANCE = 0, 1, 2, 3
NAN_POLICIES = {"raise": 0, "omit": 1, "ignore": 2}
BACKENDS = {None: 0, "default": 0, "auto": 1, "interp": 2, "jit": 3}
BATCH_PERR, BATCH_PCOV = 1, 2


class Error(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("line", ctypes.c_int), ("column", ctypes.c_int),
                ("message", ctypes.c_char * 256)]


class ModelOptions(ctypes.Structure):
    _fields_ = [("vars", ctypes.c_char_p), ("params", ctypes.c_char_p)]


class Data(ctypes.Structure):
    _fields_ = [("x", c_double_p), ("y", c_double_p), ("m", ctypes.c_size_t),
                ("sigma", c_double_p), ("sigma_kind", ctypes.c_int)]


CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_double, c_double_p,
                            ctypes.c_double, ctypes.c_double)


class Progress(ctypes.Structure):
    _fields_ = [("pass_", ctypes.c_int), ("iteration", ctypes.c_int), ("pass_fraction", ctypes.c_double),
                ("cost", ctypes.c_double), ("elapsed", ctypes.c_double), ("pass_seconds", ctypes.c_double),
                ("pass_remaining", ctypes.c_double), ("points", ctypes.c_size_t)]


PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Progress))


class Options(ctypes.Structure):
    _fields_ = [
        ("method", ctypes.c_int), ("loss", ctypes.c_int), ("f_scale", ctypes.c_double),
        ("ftol", ctypes.c_double), ("xtol", ctypes.c_double), ("gtol", ctypes.c_double),
        ("max_nfev", ctypes.c_int),
        ("p0", c_double_p), ("lower", c_double_p), ("upper", c_double_p), ("fixed", c_uchar_p),
        ("x_scale", c_double_p), ("x_scale_jac", ctypes.c_int), ("absolute_sigma", ctypes.c_int),
        ("nan_policy", ctypes.c_int), ("keep_residuals", ctypes.c_int),
        ("callback", CALLBACK), ("callback_data", ctypes.c_void_p),
        ("threads", ctypes.c_int), ("backend", ctypes.c_int),
        ("progress", PROGRESS), ("progress_data", ctypes.c_void_p), ("progress_interval", ctypes.c_double),
        ("checkpoint", ctypes.c_char_p), ("resume", ctypes.c_int), ("device", ctypes.c_char_p),
        ("gpu_float32", ctypes.c_int), ("lm_last_jacobian", ctypes.c_int),
        ("group", ctypes.c_void_p),  # const nlsq_group *: nlsqc.mpi sets it from comm=
    ]


class Diagnostics(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint), ("trusted", ctypes.c_int), ("param_flags", ctypes.POINTER(ctypes.c_uint)),
        ("influence", c_double_p), ("rank", ctypes.c_int), ("cond", ctypes.c_double),
        ("n_correlated", ctypes.c_int), ("correlated", c_int_p), ("correlation", c_double_p),
        ("residuals_tested", ctypes.c_int), ("runs", ctypes.c_size_t), ("n_pos", ctypes.c_size_t),
        ("n_neg", ctypes.c_size_t), ("runs_z", ctypes.c_double), ("lag1", ctypes.c_double),
    ]


class GlobalSummary(ctypes.Structure):
    _fields_ = [
        ("starts", ctypes.c_int), ("at_best", ctypes.c_int), ("n_minima", ctypes.c_int), ("n", ctypes.c_int),
        ("minima_cost", c_double_p), ("minima_params", c_double_p), ("minima_count", c_int_p),
        ("sample_points", ctypes.c_size_t), ("rungs", ctypes.c_int), ("shared_passes", ctypes.c_int),
        ("evaluations", ctypes.c_int), ("seconds", ctypes.c_double), ("design", ctypes.c_int),
        ("method", ctypes.c_int), ("seed", ctypes.c_uint64), ("search_lower", c_double_p),
        ("search_upper", c_double_p),
    ]


class GlobalOptions(ctypes.Structure):
    _fields_ = [
        ("starts", ctypes.c_int), ("design", ctypes.c_int), ("seed", ctypes.c_uint64), ("method", ctypes.c_int),
        ("search_lower", c_double_p), ("search_upper", c_double_p), ("halving", ctypes.c_int),
        ("halving_points", ctypes.c_size_t), ("halving_sample", ctypes.c_size_t), ("max_nfev", ctypes.c_int),
        ("cmaes_max_evals", ctypes.c_int), ("guess", ctypes.c_int),
    ]


DESIGNS = ("sobol", "halton", "lhs")
GLOBAL_METHODS = ("multistart", "cmaes")


class Result(ctypes.Structure):
    _fields_ = [
        ("n", ctypes.c_int), ("n_free", ctypes.c_int), ("m", ctypes.c_size_t), ("dof", ctypes.c_int),
        ("popt", c_double_p), ("pcov", c_double_p), ("perr", c_double_p), ("pcov_valid", ctypes.c_int),
        ("cost", ctypes.c_double), ("chi2", ctypes.c_double), ("redchi", ctypes.c_double),
        ("r2", ctypes.c_double), ("aic", ctypes.c_double), ("bic", ctypes.c_double),
        ("grad_norm", ctypes.c_double),
        ("nfev", ctypes.c_int), ("njev", ctypes.c_int), ("nit", ctypes.c_int),
        ("status", ctypes.c_int), ("success", ctypes.c_int), ("message", ctypes.c_char * 200),
        ("method", ctypes.c_int), ("threads", ctypes.c_int),
        ("backend", ctypes.c_char * 8), ("backend_note", ctypes.c_char * 240),
        ("jit_passes", ctypes.c_int), ("passes", ctypes.c_int), ("resumed_evaluations", ctypes.c_int),
        ("device", ctypes.c_char * 16), ("device_note", ctypes.c_char * 240),
        ("memory_bytes", ctypes.c_size_t), ("active_mask", ctypes.POINTER(ctypes.c_byte)),
        ("residuals", c_double_p), ("pcov_rank", ctypes.c_int), ("jac_at", c_double_p),
        ("diag", Diagnostics), ("global_", ctypes.POINTER(GlobalSummary)), ("absolute_sigma", ctypes.c_int),
    ]


class RawLayout(ctypes.Structure):
    _fields_ = [("ncols", ctypes.c_int), ("dtype", ctypes.c_int), ("column_major", ctypes.c_int),
                ("big_endian", ctypes.c_int), ("offset", ctypes.c_size_t)]


class TextOptions(ctypes.Structure):
    _fields_ = [("delimiter", ctypes.c_char), ("cache_path", ctypes.c_char_p)]


class Columns(ctypes.Structure):
    _fields_ = [("x", c_int_p), ("y", ctypes.c_int), ("sigma", ctypes.c_int), ("sigma_value", ctypes.c_double)]


class Batch(ctypes.Structure):
    _fields_ = [
        ("nfits", ctypes.c_size_t), ("m", ctypes.c_size_t), ("offsets", c_size_p),
        ("y", c_double_p), ("x", c_double_p), ("x_shared", ctypes.c_int), ("sigma", c_double_p),
        ("p0", c_double_p), ("lower", c_double_p), ("upper", c_double_p), ("fixed", c_uchar_p),
    ]


class BatchResult(ctypes.Structure):
    _fields_ = [
        ("nfits", ctypes.c_size_t), ("n", ctypes.c_int),
        ("popt", c_double_p), ("perr", c_double_p), ("pcov", c_double_p), ("status", c_int_p),
        ("pcov_valid", c_uchar_p), ("cost", c_double_p), ("chi2", c_double_p),
        ("nit", c_int_p), ("nfev", c_int_p), ("m", c_size_p),
        ("converged", ctypes.c_size_t), ("failed", ctypes.c_size_t), ("method", ctypes.c_int),
        ("threads", ctypes.c_int), ("seconds", ctypes.c_double),
        ("backend", ctypes.c_char * 8), ("backend_note", ctypes.c_char * 240),
        ("device", ctypes.c_char * 16), ("device_note", ctypes.c_char * 240),
        ("diag_flags", ctypes.POINTER(ctypes.c_uint)),
    ]


class Shared(ctypes.Structure):
    """nlsq_shared: a batch's data sets and which parameters (and
    variables) are shared or covariates (nlsqc.fit_global)."""
    _fields_ = [("data", Batch), ("shared", c_uchar_p), ("covariate", c_uchar_p)]


class SharedResult(ctypes.Structure):
    _fields_ = [
        ("nsets", ctypes.c_size_t), ("n", ctypes.c_int), ("n_shared", ctypes.c_int), ("n_free", ctypes.c_int),
        ("popt", c_double_p), ("perr", c_double_p), ("pcov", c_double_p), ("shared_pcov", c_double_p),
        ("cost_set", c_double_p), ("chi2_set", c_double_p), ("m", c_size_p), ("m_total", ctypes.c_size_t),
        ("dof", ctypes.c_int), ("cost", ctypes.c_double), ("chi2", ctypes.c_double), ("redchi", ctypes.c_double),
        ("grad_norm", ctypes.c_double), ("pcov_valid", ctypes.c_int), ("status", ctypes.c_int),
        ("success", ctypes.c_int), ("message", ctypes.c_char * 200), ("nfev", ctypes.c_int), ("njev", ctypes.c_int),
        ("nit", ctypes.c_int), ("method", ctypes.c_int), ("threads", ctypes.c_int), ("seconds", ctypes.c_double),
        ("memory_bytes", ctypes.c_size_t),
    ]


class Device(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 16), ("description", ctypes.c_char * 128), ("memory", ctypes.c_size_t),
                ("cc_major", ctypes.c_int), ("cc_minor", ctypes.c_int), ("multiprocessors", ctypes.c_int)]


class Shape(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("num_vars", ctypes.c_int), ("num_params", ctypes.c_int),
                ("param_names", ctypes.POINTER(ctypes.c_char_p)), ("formula", ctypes.c_char_p),
                ("summary", ctypes.c_char_p)]


class Component(ctypes.Structure):
    _fields_ = [("shape", ctypes.c_char_p), ("prefix", ctypes.c_char_p), ("num_params", ctypes.c_int),
                ("params", c_int_p), ("value", ctypes.c_void_p)]


# The structs tests/test_abi.py checks against the header: Python name -> C name.
ABI_STRUCTS = {
    Error: "nlsq_error", ModelOptions: "nlsq_model_options", Data: "nlsq_data", Progress: "nlsq_progress",
    Options: "nlsq_options", Diagnostics: "nlsq_diagnostics", Result: "nlsq_result", RawLayout: "nlsq_raw_layout",
    TextOptions: "nlsq_text_options", Columns: "nlsq_columns", Batch: "nlsq_batch",
    BatchResult: "nlsq_batch_result", Shared: "nlsq_shared", SharedResult: "nlsq_shared_result",
    Device: "nlsq_device", Shape: "nlsq_shape", Component: "nlsq_component",
    GlobalSummary: "nlsq_global_summary", GlobalOptions: "nlsq_global_options",
}
# C field names that differ from the Python ones.
ABI_FIELD_NAMES = {("nlsq_progress", "pass_"): "pass", ("nlsq_result", "global_"): "global"}

_P = ctypes.c_void_p
_S = ctypes.c_int  # nlsq_status
_ERR = ctypes.POINTER(Error)

_PROTOTYPES = {
    "nlsq_version": (ctypes.c_char_p, []),
    "nlsq_status_str": (ctypes.c_char_p, [ctypes.c_int]),
    "nlsq_model_options_default": (ModelOptions, []),
    "nlsq_model_parse": (_S, [ctypes.c_char_p, ctypes.POINTER(ModelOptions), ctypes.POINTER(_P), _ERR]),
    "nlsq_model_free": (None, [_P]),
    "nlsq_model_num_params": (ctypes.c_int, [_P]),
    "nlsq_model_num_vars": (ctypes.c_int, [_P]),
    "nlsq_model_param_name": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "nlsq_model_var_name": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "nlsq_model_eval": (_S, [_P, c_double_p, c_double_p, ctypes.c_size_t, c_double_p, c_double_p, _ERR]),
    "nlsq_model_format": (ctypes.c_size_t, [_P, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]),
    "nlsq_builder_new": (_S, [ctypes.POINTER(_P), _ERR]),
    "nlsq_builder_free": (None, [_P]),
    "nlsq_builder_var": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "nlsq_builder_param": (ctypes.c_int, [_P, ctypes.c_char_p]),
    "nlsq_builder_const": (ctypes.c_int, [_P, ctypes.c_double]),
    "nlsq_builder_op1": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int]),
    "nlsq_builder_op2": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
    "nlsq_builder_where": (ctypes.c_int, [_P, ctypes.c_int, ctypes.c_int, ctypes.c_int]),
    "nlsq_builder_finish": (_S, [_P, ctypes.c_int, ctypes.POINTER(_P), _ERR]),
    "nlsq_builder_allow_unused_params": (None, [_P, ctypes.c_int]),
    "nlsq_op_name": (ctypes.c_char_p, [ctypes.c_int]),
    "nlsq_shape_count": (ctypes.c_int, []),
    "nlsq_shape_get": (ctypes.POINTER(Shape), [ctypes.c_int]),
    "nlsq_model_num_components": (ctypes.c_int, [_P]),
    "nlsq_model_component": (_S, [_P, ctypes.c_int, ctypes.POINTER(Component), _ERR]),
    "nlsq_op_arity": (ctypes.c_int, [ctypes.c_int]),
    "nlsq_options_default": (Options, []),
    "nlsq_result_free": (None, [ctypes.POINTER(Result)]),
    "nlsq_guess_p0": (_S, [_P, ctypes.POINTER(Data), c_double_p, c_double_p, _ERR]),
    "nlsq_global_options_default": (GlobalOptions, []),
    "nlsq_fit_global": (_S, [_P, ctypes.POINTER(Data), ctypes.POINTER(Options), ctypes.POINTER(GlobalOptions),
                             ctypes.POINTER(ctypes.POINTER(Result)), _ERR]),
    "nlsq_design_fill": (_S, [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_uint64, c_double_p, _ERR]),
    "nlsq_curve_fit": (_S, [_P, ctypes.POINTER(Data), ctypes.POINTER(Options), ctypes.POINTER(ctypes.POINTER(Result)),
                            _ERR]),
    "nlsq_source_from_arrays": (_S, [ctypes.POINTER(c_double_p), ctypes.c_int, ctypes.c_size_t, ctypes.POINTER(_P),
                                     _ERR]),
    "nlsq_source_open_npy": (_S, [ctypes.c_char_p, ctypes.POINTER(_P), _ERR]),
    "nlsq_raw_layout_default": (RawLayout, []),
    "nlsq_source_open_raw": (_S, [ctypes.c_char_p, ctypes.POINTER(RawLayout), ctypes.POINTER(_P), _ERR]),
    "nlsq_text_options_default": (TextOptions, []),
    "nlsq_source_open_text": (_S, [ctypes.c_char_p, ctypes.POINTER(TextOptions), ctypes.POINTER(_P), _ERR]),
    "nlsq_source_open_file": (_S, [ctypes.c_char_p, ctypes.POINTER(TextOptions), ctypes.POINTER(_P), _ERR]),
    "nlsq_source_open_npz": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.POINTER(_P),
                                  _ERR]),
    "nlsq_source_open_hdf5": (_S, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int,
                                   ctypes.POINTER(_P), _ERR]),
    "nlsq_have_hdf5": (ctypes.c_int, []),
    "nlsq_have_zlib": (ctypes.c_int, []),
    "nlsq_source_join": (_S, [ctypes.POINTER(_P), ctypes.c_int, ctypes.POINTER(_P), _ERR]),
    "nlsq_source_num_rows": (ctypes.c_size_t, [_P]),
    "nlsq_source_num_columns": (ctypes.c_int, [_P]),
    "nlsq_source_column_name": (ctypes.c_char_p, [_P, ctypes.c_int]),
    "nlsq_source_describe": (ctypes.c_char_p, [_P]),
    "nlsq_source_free": (None, [_P]),
    "nlsq_columns_default": (Columns, []),
    "nlsq_fit_source": (_S, [_P, _P, ctypes.POINTER(Columns), ctypes.POINTER(Options),
                             ctypes.POINTER(ctypes.POINTER(Result)), _ERR]),
    "nlsq_batch_default": (Batch, []),
    "nlsq_fit_status_str": (ctypes.c_char_p, [ctypes.c_int]),
    "nlsq_diagnostic_str": (ctypes.c_char_p, [ctypes.c_uint]),
    "nlsq_batch_result_free": (None, [ctypes.POINTER(BatchResult)]),
    "nlsq_fit_batch": (_S, [_P, ctypes.POINTER(Batch), ctypes.POINTER(Options), ctypes.c_uint,
                            ctypes.POINTER(ctypes.POINTER(BatchResult)), _ERR]),
    # nlsq_shared_default, nlsq_fit_shared and nlsq_shared_result_free are
    # bound on first use (_shared.py): a library without them serves the rest
    "nlsq_device_list": (_S, [ctypes.POINTER(Device), ctypes.c_int, c_int_p, ctypes.c_char_p, ctypes.c_size_t, _ERR]),
}


def _candidates():
    """Where libnlsq may be, most specific first."""
    env = os.environ.get("NLSQ_LIBRARY")
    if env:
        return [env]  # asked for by name: nothing else is tried
    here = os.path.dirname(os.path.abspath(__file__))
    out = [os.path.join(here, "libnlsq.so.0"), os.path.join(here, "libnlsq.so")]
    # a source checkout: python/nlsqc -> build/
    out.append(os.path.join(here, os.pardir, os.pardir, "build", "libnlsq.so"))
    found = ctypes.util.find_library("nlsq")
    if found:
        out.append(found)
    return out


def load_first(candidates, prototypes, tried):
    """The first of the candidate paths that loads and has every function
    of prototypes (name: (restype, argtypes)), with those set; (lib, its
    real path), or (None, None), each refused path noted in tried."""
    for path in candidates:
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (not there)")
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path} ({e})")
            continue
        missing = [name for name in prototypes if not hasattr(lib, name)]
        if missing:
            tried.append(f"{path} (too old: lacks {', '.join(missing[:3])})")
            continue
        for name, (restype, argtypes) in prototypes.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        return lib, os.path.realpath(path)
    return None, None


def _load():
    tried = []
    lib, path = load_first(_candidates(), _PROTOTYPES, tried)
    if lib is not None:
        return lib, path
    raise ImportError("nlsqc cannot find the nlsq library (libnlsq.so). Tried: " + "; ".join(tried) +
                      ". Install the package with `pip install ./python` from the nlsq source tree, "
                      "or set NLSQ_LIBRARY to the library's path.")


lib, path = _load()


def text(b):
    return b.decode("utf-8", "replace") if b is not None else ""


def copy_out(ptr, shape, dtype=None):
    """A new NumPy array holding a copy of C memory (a typed pointer)."""
    out = numpy.empty(shape, dtype=dtype or numpy.float64)
    if out.nbytes:
        ctypes.memmove(out.ctypes.data, ptr, out.nbytes)
    return out


def dptr(a):
    """A double* into a C-contiguous float64 array (or NULL for None)."""
    if a is None:
        return None
    return a.ctypes.data_as(c_double_p)


# ---------------------------------------------------------------------------
# Arguments on their way into C: ctypes wraps integers silently (2**32 + 1
# becomes 1 in a C int) and a char* ends at the first NUL, so every integer
# and string the caller gave is checked here first, by name.

INT_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_int) - 1) - 1
SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1


def integer(value, what, low, high=INT_MAX):
    """value as a Python int for a C integer: an int or NumPy integer, or a
    float with an integral value (1e4), between low and high. A bool is a
    TypeError (True is not a count), 1.5 a ValueError, a value out of
    range a ValueError below low and an OverflowError above high."""
    if isinstance(value, (bool, numpy.bool_)):
        raise TypeError(f"{what} must be an integer, not a bool ({value})")
    if isinstance(value, (int, numpy.integer)):
        v = int(value)
    elif isinstance(value, (float, numpy.floating)):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise ValueError(f"{what} must be an integer, not {value}")
        v = int(value)
    else:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}")
    if v < low:
        raise ValueError(f"{what} must be at least {low}, not {v}")
    if v > high:
        raise OverflowError(f"{what} is {v}; it can be at most {high}")
    return v


def c_string(value, what):
    """A str (UTF-8) or bytes as bytes for a char*, refused if it holds a
    NUL: C would read only the part before it."""
    b = value.encode() if isinstance(value, str) else bytes(value)
    i = b.find(b"\0")
    if i >= 0:
        raise ValueError(f"{what} contains a NUL character (at index {i}); C would read only what comes before it")
    return b


def c_path(path, what="path"):
    """A path (str, bytes or os.PathLike) as bytes for C, without NUL."""
    return c_string(os.fsencode(path), what)
