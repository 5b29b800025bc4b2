"""Fits of any size: arrays read in place, files, generators of chunks.

These go through nlsq_fit_source: the data are read in windows every pass
and never copied or held whole, so memory beyond the data is O(n^2), and
the covariance is exact. A generator can be read only once, so its chunks
are written once to a temporary raw file that the passes then map.
"""
import ctypes
import os
import stat
import tempfile

import numpy

from . import _callback, _diagnose, _lib, _model
from ._fit import _nan_setup, resolve_model, result_from_c
from ._options import Call, prepare_bounds, quiet, raise_status, warn_pcov


def _source_free(src):
    if src:
        _lib.lib.nlsq_source_free(src)


def _fit_source(model, src, cols, p0, absolute_sigma, bounds, method, policy, progress, progress_interval,
                checkpoint, resume, kwargs, fname, raise_on_failure):
    n = model.n
    if p0 is not None:
        p0 = numpy.atleast_1d(numpy.asarray(p0, dtype=float))
    bounds = prepare_bounds(bounds, n)
    if method == "lm" and bounds is not None:
        raise ValueError("Method 'lm' only works for unconstrained problems. Use 'trf' or 'dogbox' instead.")
    call = Call(n, model.param_names, p0=p0, bounds=bounds, method=method, kwargs=kwargs, fname=fname)
    call.opt.absolute_sigma = 1 if absolute_sigma else 0
    call.opt.nan_policy = policy
    # Without a progress function of the caller's, a silent one: Python
    # runs its signal handlers only when it runs code, so this is what lets
    # Ctrl-C stop a long fit (within about 0.4 s) with KeyboardInterrupt.
    call.set_progress(progress if progress is not None else quiet,
                      progress_interval if progress is not None else 0.2)
    if checkpoint is not None:
        path = _lib.c_path(checkpoint, "checkpoint")
        call.keep.append(path)
        call.opt.checkpoint = path
        call.opt.resume = 1 if resume else 0
    res = ctypes.POINTER(_lib.Result)()
    err = _lib.Error()
    with call.running():
        st = _lib.lib.nlsq_fit_source(model.ptr, src, ctypes.byref(cols), ctypes.byref(call.opt), ctypes.byref(res),
                                      ctypes.byref(err))
    if st != _lib.OK:
        call.reraise()
        raise_status(st, err)
    r = result_from_c(res, model.param_names)  # frees the C result
    call.reraise()
    if raise_on_failure and not r.success:
        raise RuntimeError("Optimal parameters not found: " + r.message)
    if not r.pcov_valid:
        warn_pcov()
    _diagnose.warn_if_untrusted(r)
    return r


def curve_fit_large(f, xdata, ydata, p0=None, sigma=None, absolute_sigma=False, check_finite=None,
                    bounds=(-numpy.inf, numpy.inf), method=None, *, nan_policy=None, progress=None,
                    progress_interval=None, checkpoint=None, resume=False, raise_on_failure=True, **kwargs):
    """curve_fit for data of any size: xdata, ydata and a 1-D sigma are read
    in place (not copied when they are float64 and contiguous) in windows
    every pass, so the fit needs O(n^2) memory beyond them, with the exact
    covariance. progress(info) is called during long passes (info: a dict
    with pass, iteration, pass_fraction, cost, elapsed, pass_seconds,
    pass_remaining, points); return True to stop. checkpoint/resume: a file
    the solver's state is saved to after every pass, from which a killed
    fit resumes bitwise. comm (an mpi4py communicator; docs/cluster.md):
    every rank makes this call on the same data and folds its share; rank
    0 writes the checkpoint. Returns a FitResult."""
    check, policy = _nan_setup(check_finite, nan_policy)
    n = None if p0 is None else numpy.size(p0)
    model, x = resolve_model(f, xdata, n=n)
    y = numpy.ascontiguousarray(ydata, dtype=float).ravel()
    if y.size == 0:
        raise ValueError("`ydata` must not be empty!")
    m = y.size
    rows = [x] if x.ndim == 1 else list(x)
    rows = [numpy.ascontiguousarray(r) for r in rows] if model.nvars else []
    if any(r.size != m for r in rows):
        raise ValueError(f"xdata has {rows[0].size} points but ydata has {m}")
    cols = rows + [y]
    if sigma is not None:
        s = numpy.ascontiguousarray(sigma, dtype=float)
        if s.shape != (m,):
            raise ValueError("`sigma` has incorrect shape. (curve_fit_large takes a 1-D sigma; a covariance needs "
                             "all rows at once: use curve_fit)")
        cols.append(s)
    if check:
        for c in cols:
            if not numpy.all(numpy.isfinite(c)):
                raise ValueError("array must not contain infs or NaNs")
    ptrs = (_lib.c_double_p * len(cols))(*[_lib.dptr(c) for c in cols])
    src = ctypes.c_void_p()
    err = _lib.Error()
    if _lib.lib.nlsq_source_from_arrays(ptrs, len(cols), m, ctypes.byref(src), ctypes.byref(err)) != _lib.OK:
        raise ValueError(_lib.text(err.message))
    try:
        spec = _lib.lib.nlsq_columns_default()
        k = len(rows)
        xcols = (ctypes.c_int * max(k, 1))(*range(k))
        spec.x = ctypes.cast(xcols, _lib.c_int_p)
        spec.y = k
        spec.sigma = k + 1 if sigma is not None else -1
        return _fit_source(model, src, spec, p0, absolute_sigma, bounds, method, policy, progress,
                           progress_interval, checkpoint, resume, kwargs, "curve_fit_large", raise_on_failure)
    finally:
        _source_free(src)


NPY_MAGIC = b"\x93NUMPY"


def _is_npy(path):
    """Whether a file is a NumPy .npy, by its first bytes (not its name: a
    CSV called data.npy is text, and an .npy called data.bin is an .npy).
    Only a regular file is read ahead; a pipe or device can be read once,
    so there the name decides (the .npy reader then says it needs a file)."""
    try:
        st = os.stat(path)
    except OSError:
        return False  # the reader chosen says what is wrong with it
    if not stat.S_ISREG(st.st_mode):
        return path.lower().endswith(b".npy")
    try:
        with open(path, "rb") as f:
            return f.read(len(NPY_MAGIC)) == NPY_MAGIC
    except OSError:
        return False


HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _is_regular(path):
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def _split_spec(path):
    """(file, names) of "FILE:NAME,..." naming datasets of an HDF5 file or
    members of an .npz: split at the last ':' with a regular file on its
    left, as nlsq_source_open_file splits it; (path, None) for a file
    named whole (an existing file whose own name holds ':' included)."""
    if _is_regular(path):
        return path, None
    at = len(path)
    while True:
        at = path.rfind(b":", 0, at)
        if at <= 0:
            return path, None
        if _is_regular(path[:at]):
            return path[:at], path[at + 1:]


def _is_hdf5(path):
    """HDF5's signature at 0, 512, 1024, ... (after a user block)."""
    try:
        with open(path, "rb") as f:
            at = 0
            while at <= 1 << 30:
                f.seek(at)
                head = f.read(8)
                if len(head) < 8:
                    return False
                if head == HDF5_SIGNATURE:
                    return True
                at = at * 2 if at else 512
    except OSError:
        pass
    return False


def _hdf5_names(path, columns):
    """An HDF5 file named without datasets, with x, y or sigma naming
    dataset paths ('/entry/data/x'): the spec that opens just those (each
    once), so that a file without a NeXus default plot needs no ':' list."""
    names = []
    for c in columns:
        for one in ([c] if isinstance(c, (str, bytes)) or not hasattr(c, "__iter__") else list(c)):
            if isinstance(one, str):
                one = one.encode()
            if not (isinstance(one, bytes) and one.startswith(b"/")):
                continue
            # a 2-D dataset's column (/table:2) opens the dataset /table
            head, colon, tail = one.rpartition(b":")
            if colon and tail.isdigit() and b"/" not in tail:
                one = head
            if one not in names:
                names.append(one)
    return path + b":" + b",".join(names) if names else path


def _open(path, raw, delimiter, cache_path, columns=()):
    src = ctypes.c_void_p()
    err = _lib.Error()
    p = _lib.c_path(path)
    whole, names = _split_spec(p)
    topt = _lib.lib.nlsq_text_options_default()
    if delimiter is not None:
        topt.delimiter = {"whitespace": b" "}.get(delimiter, delimiter.encode() if isinstance(delimiter, str)
                                                  else delimiter)
    cp = _lib.c_path(cache_path, "cache_path") if cache_path is not None else None
    topt.cache_path = cp
    if raw is not None:
        lay = _lib.lib.nlsq_raw_layout_default()
        dtype = numpy.dtype(raw.get("dtype", "f8"))
        if dtype.kind != "f" or dtype.itemsize not in (4, 8):
            raise ValueError(f"raw dtype {dtype} is not float32 or float64")
        lay.dtype = 0 if dtype.itemsize == 8 else 1
        lay.big_endian = 1 if dtype.byteorder == ">" else 0
        lay.ncols = _lib.integer(raw.get("ncols", 2), "raw ncols", 1)
        lay.column_major = 1 if raw.get("order", "rows") in ("columns", "planar", "F") else 0
        lay.offset = _lib.integer(raw.get("offset", 0), "raw offset", 0, _lib.SIZE_MAX)
        st = _lib.lib.nlsq_source_open_raw(p, ctypes.byref(lay), ctypes.byref(src), ctypes.byref(err))
    elif names is not None or _is_regular(p):
        # told by content: HDF5 (NeXus), .npz, .npy or a text table
        spec = _hdf5_names(p, columns) if names is None and _is_hdf5(p) else p
        st = _lib.lib.nlsq_source_open_file(spec, ctypes.byref(topt), ctypes.byref(src), ctypes.byref(err))
    elif _is_npy(p):
        st = _lib.lib.nlsq_source_open_npy(p, ctypes.byref(src), ctypes.byref(err))
    else:
        st = _lib.lib.nlsq_source_open_text(p, ctypes.byref(topt), ctypes.byref(src), ctypes.byref(err))
    if st != _lib.OK:
        if st == _lib.ERR_NOMEM:
            raise MemoryError(_lib.text(err.message))
        raise (FileNotFoundError if not os.path.exists(whole) else ValueError)(_lib.text(err.message))
    return src


def _column(src, spec, what):
    """A column by 0-based number or by header name."""
    ncols = _lib.lib.nlsq_source_num_columns(src)
    if isinstance(spec, str):
        names = [_lib.text(_lib.lib.nlsq_source_column_name(src, c)) for c in range(ncols)]
        if spec in names:
            return names.index(spec)
        # an HDF5 dataset by the last part of its path ("counts" for
        # /entry/data/counts) when only one column ends so, as the command
        ends = [c for c, n in enumerate(names) if "/" not in spec and n.startswith("/") and
                n.rsplit("/", 1)[1] == spec]
        if len(ends) == 1:
            return ends[0]
        if ends:
            raise ValueError(f"{what}: {spec!r} ends the paths of several columns "
                             f"({', '.join(names[c] for c in ends)}); give the full path")
        raise ValueError(f"{what}: no column named {spec!r} (columns: {', '.join(names)})")
    c = _lib.integer(spec, what, -2 ** 63, 2 ** 63)
    if not 0 <= c < ncols:
        raise ValueError(f"{what}: column {c} is out of range (the data have {ncols} columns, numbered from 0)")
    return c


def fit_file(f, path, p0=None, *, x=None, y=None, sigma=None, nvars=None, raw=None, delimiter=None,
             cache_path=None, absolute_sigma=False, bounds=(-numpy.inf, numpy.inf), method=None, nan_policy=None,
             progress=None, progress_interval=None, checkpoint=None, resume=False, raise_on_failure=True,
             **kwargs):
    """Fit f to the columns of a file (or of several files side by side,
    path a list: x.npy, y.npy), told by its content, not its name: a NumPy
    .npy (mapped), a NumPy .npz (numpy.savez members mapped in place,
    savez_compressed members inflated once), an HDF5 or NeXus file (read
    in windows through the library's HDF5 reader: h5py is not needed), a
    text table (CSV, TSV, whitespace; converted once to a mapped column
    cache) or a raw binary file (raw={"dtype": "f8", "ncols": 2, "order":
    "rows", "offset": 0}).

    "FILE:NAME,NAME" names what to read inside an archive or an HDF5 file:
    "data.npz:x,y" (members, without ".npy"), "scan.h5:/entry/data/x,
    /entry/data/y" (datasets). An .npz named alone gives every member in
    the archive's order; an HDF5 file named alone gives its NeXus default
    plot (axes, signal, errors), or the datasets that x, y and sigma name
    by path.

    x (a column or a list of them), y and sigma are column numbers from 0
    or column names: a text header's names; an .npz member's name (a 2-D
    member of k columns gives NAME:1 ... NAME:k); an HDF5 dataset's path
    (PATH:1 ... for a 2-D one). By default x is the first column(s) and y
    the next. nvars: the number of variables for a function model
    (default: len(x), else 1). comm (an mpi4py communicator;
    docs/cluster.md): every rank opens the same file and reads only its
    share of the rows; every rank gets the single-process result, bitwise.
    Returns a FitResult."""
    paths = [path] if isinstance(path, (str, bytes, os.PathLike)) else list(path)
    if not paths:
        raise ValueError("fit_file: no file given")
    parts = []
    try:
        for p in paths:
            parts.append(_open(p, raw, delimiter, cache_path, (x, y, sigma)))
        if len(parts) == 1:
            src = parts.pop()
        else:
            arr = (ctypes.c_void_p * len(parts))(*parts)
            src = ctypes.c_void_p()
            err = _lib.Error()
            if _lib.lib.nlsq_source_join(arr, len(parts), ctypes.byref(src), ctypes.byref(err)) != _lib.OK:
                raise ValueError(_lib.text(err.message))
            parts = []  # the joined source owns them now
    finally:
        for p in parts:
            _source_free(p)
    try:
        xs = [] if x is None else ([x] if isinstance(x, (str, int, numpy.integer)) else list(x))
        k = nvars if nvars is not None else (len(xs) if xs else 1)
        if isinstance(f, _model.Model):
            model = f
            k = f.nvars
        else:
            n = None if p0 is None else numpy.size(p0)
            model = _callback.model_or_refuse(f, nvars=k, n=n, rows=len(xs) > 1 or k > 1)
        xcols = [_column(src, c, "x") for c in xs] if xs else list(range(k))
        if len(xcols) != k:
            raise ValueError(f"x names {len(xcols)} columns; the model has {k} variables")
        ycol = _column(src, y, "y") if y is not None else (max(xcols) + 1 if xcols else 0)
        if ycol >= _lib.lib.nlsq_source_num_columns(src):
            raise ValueError(f"y: the data have no column {ycol} after x's (give y=)")
        spec = _lib.lib.nlsq_columns_default()
        xarr = (ctypes.c_int * max(k, 1))(*xcols)
        spec.x = ctypes.cast(xarr, _lib.c_int_p)
        spec.y = ycol
        spec.sigma = _column(src, sigma, "sigma") if sigma is not None else -1
        _, policy = _nan_setup(None, nan_policy)
        return _fit_source(model, src, spec, p0, absolute_sigma, bounds, method, policy, progress,
                           progress_interval, checkpoint, resume, kwargs, "fit_file", raise_on_failure)
    finally:
        _source_free(src)


def _spool(spool_dir):
    """A temporary file for the chunks: (descriptor, the path to open it
    by). Where /proc/self/fd exists (Linux) the file is unlinked at once
    and opened again through its descriptor, so nothing is left behind
    whatever ends the process -- SIGTERM, SIGKILL or a crash -- and there
    is no name to clean up; elsewhere it keeps its name until the fit ends
    (removed in fit_chunks' finally)."""
    fd, path = tempfile.mkstemp(prefix="nlsqc-chunks-", suffix=".f8", dir=spool_dir)
    by_fd = f"/proc/self/fd/{fd}"
    if os.path.exists(by_fd):
        os.unlink(path)
        return fd, by_fd, None
    return fd, path, path


def fit_chunks(f, chunks, p0=None, *, spool_dir=None, **kwargs):
    """Fit f to data that come as chunks from an iterable or generator:
    each chunk (x, y) or (x, y, sigma), x of shape (m_i,) or (k, m_i). The
    chunks are written once, as they come, to a temporary raw file in
    spool_dir (default: the system's temporary directory), which the passes
    then map; the file has no name there while it is used (on Linux), so
    it is gone however the process ends. Other arguments as fit_file.
    Returns a FitResult."""
    fd, path, named = _spool(spool_dir)
    try:
        ncols = None
        k = 0
        with os.fdopen(os.dup(fd), "wb") as out:
            for i, chunk in enumerate(chunks):
                try:
                    cx, cy, *rest = chunk
                except (TypeError, ValueError):
                    raise ValueError(f"chunk {i}: expected (x, y) or (x, y, sigma)") from None
                if len(rest) > 1:
                    raise ValueError(f"chunk {i}: expected (x, y) or (x, y, sigma), got {2 + len(rest)} items")
                cx = numpy.asarray(cx, dtype=float)
                cy = numpy.asarray(cy, dtype=float).ravel()
                rows = [cx] if cx.ndim == 1 else list(cx)
                if any(r.shape != cy.shape for r in rows):
                    raise ValueError(f"chunk {i}: x has {rows[0].size} points but y has {cy.size}")
                cols = rows + [cy] + [numpy.asarray(rest[0], dtype=float).ravel()] if rest else rows + [cy]
                if rest and cols[-1].shape != cy.shape:
                    raise ValueError(f"chunk {i}: sigma has {cols[-1].size} values but y has {cy.size}")
                if ncols is None:
                    ncols, k = len(cols), len(rows)
                elif len(cols) != ncols:
                    raise ValueError(f"chunk {i} has {len(cols)} columns; the first chunk had {ncols}")
                numpy.ascontiguousarray(numpy.stack(cols, axis=1), dtype="<f8").tofile(out)
        if ncols is None:
            raise ValueError("fit_chunks: the chunks were empty: no data")
        return fit_file(f, path, p0, raw={"dtype": "<f8", "ncols": ncols}, x=list(range(k)), y=k,
                        sigma=k + 1 if ncols > k + 1 else None, nvars=k, **kwargs)
    finally:
        os.close(fd)
        if named is not None:
            try:
                os.unlink(named)
            except OSError:
                pass
