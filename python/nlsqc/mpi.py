"""Fits over the processes of an MPI communicator (docs/cluster.md).

    from mpi4py import MPI
    import nlsqc
    r = nlsqc.fit_file("a*exp(-b*x)+c", "/shared/run.npy", p0=[1, 1, 0], comm=MPI.COMM_WORLD)

comm= on curve_fit, curve_fit_large, fit_file, fit_batch, least_squares_model,
bootstrap and the global search (global_starts=) makes the fit one of the
group: every rank makes the same call on the same data (the same arrays, or
the same shared file, of which each rank reads only its share of the rows),
the passes' triangles merge across the ranks in the library's fixed tree,
and every rank gets the result that one process computes, bit for bit.
A batch (fit_batch, and the bootstrap's replicas) spreads its fits over the
ranks instead; every rank gets every result.

The communicator reaches C through libnlsq_mpi (include/nlsq_mpi.h), loaded
with ctypes from $NLSQ_MPI_LIBRARY, else beside the loaded libnlsq, else
from the system's library path. Each communicator is opened once (the
library duplicates it, so its messages never meet the caller's) and kept
until close(comm), close() or the interpreter's exit. mpi4py is imported
only when a communicator is given: nlsqc itself needs no MPI.
"""
import atexit
import ctypes
import ctypes.util
import os

from . import _lib


class _MpiOptions(ctypes.Structure):  # nlsq_mpi_options
    _fields_ = [("timeout", ctypes.c_double), ("message_fd", ctypes.c_int), ("abort_code", ctypes.c_int)]


class _MpiStats(ctypes.Structure):  # nlsq_mpi_stats
    _fields_ = [("messages", ctypes.c_uint64), ("bytes_sent", ctypes.c_uint64), ("bytes_received", ctypes.c_uint64),
                ("seconds", ctypes.c_double)]


_P = ctypes.c_void_p
_PROTOTYPES = {
    "nlsq_mpi_options_default": (_MpiOptions, []),
    "nlsq_mpi_open_fortran": (ctypes.c_int, [ctypes.c_int64, ctypes.POINTER(_MpiOptions), ctypes.POINTER(_P),
                                             ctypes.POINTER(_lib.Error)]),
    "nlsq_mpi_close": (None, [_P]),
    "nlsq_mpi_group": (_P, [_P]),
    "nlsq_mpi_rank": (ctypes.c_int, [_P]),
    "nlsq_mpi_size": (ctypes.c_int, [_P]),
    "nlsq_mpi_local_rank": (ctypes.c_int, [_P]),
    "nlsq_mpi_local_size": (ctypes.c_int, [_P]),
    "nlsq_mpi_stats_get": (None, [_P, ctypes.POINTER(_MpiStats)]),
    "nlsq_mpi_stats_reset": (None, [_P]),
}

_library = None  # libnlsq_mpi once loaded
_open = {}       # comm.py2f() -> _Handle


def _candidates():
    """Where libnlsq_mpi may be, most specific first."""
    env = os.environ.get("NLSQ_MPI_LIBRARY")
    if env:
        return [env]  # asked for by name: nothing else is tried
    here = os.path.dirname(_lib.path)  # beside the libnlsq nlsqc loaded (a build tree, the package)
    out = [os.path.join(here, "libnlsq_mpi.so.0"), os.path.join(here, "libnlsq_mpi.so")]
    found = ctypes.util.find_library("nlsq_mpi")
    if found:
        out.append(found)
    return out


def library():
    """libnlsq_mpi (a ctypes.CDLL), loaded on first use. ImportError, with
    every place tried, when there is none."""
    global _library
    if _library is not None:
        return _library
    tried = []
    lib, _ = _lib.load_first(_candidates(), _PROTOTYPES, tried)
    if lib is not None:
        _library = lib
        return lib
    raise ImportError("comm= needs libnlsq_mpi, nlsq's MPI layer, which nlsqc cannot find. Tried: " + "; ".join(tried)
                      + ". Build nlsq with an MPI installed (Debian: apt-get install libopenmpi-dev openmpi-bin; "
                      "CMake then builds libnlsq_mpi.so beside libnlsq.so), or set NLSQ_MPI_LIBRARY to its path.")


class _Handle:
    """One opened communicator: the C nlsq_mpi and its group."""

    def __init__(self, ptr, timeout, comm):
        lib = library()
        self.ptr = ptr
        self.timeout = timeout
        self.comm = comm  # the communicator it was opened for (_live tells a reused handle)
        self.group = lib.nlsq_mpi_group(ptr)
        self.rank = lib.nlsq_mpi_rank(ptr)
        self.size = lib.nlsq_mpi_size(ptr)


def _check_comm(comm):
    """comm as an mpi4py intracommunicator, or TypeError / ValueError. The
    type's module is looked at before mpi4py is imported: importing
    mpi4py.MPI initialises MPI, which a stray object must not do."""
    if not type(comm).__module__.startswith("mpi4py"):
        raise TypeError(f"comm must be an mpi4py communicator (mpi4py.MPI.Comm, such as MPI.COMM_WORLD), not "
                        f"{type(comm).__module__}.{type(comm).__name__}")
    try:
        from mpi4py import MPI
    except ImportError as e:  # an mpi4py object without mpi4py.MPI: a broken install
        raise ImportError(f"comm= needs mpi4py.MPI, which cannot be imported: {e}") from e
    if not isinstance(comm, MPI.Comm):
        raise TypeError(f"comm must be an mpi4py communicator (mpi4py.MPI.Comm), not {type(comm).__name__}")
    if comm == MPI.COMM_NULL:
        raise ValueError("comm is MPI.COMM_NULL: this process is not in the communicator")
    if not isinstance(comm, MPI.Intracomm):
        raise TypeError("comm is an intercommunicator; a fit needs an intracommunicator (MPI.COMM_WORLD, or "
                        "comm.Split(...) of it)")
    return comm


def _live(comm):
    """The open handle of comm (checked by _check_comm), or None. MPI reuses
    a freed communicator's Fortran handle, the key of _open: an entry left
    by a communicator freed without close() must not serve a new one, whose
    fits would travel over the old group's duplicate and silently return
    numbers of another fit. Such an entry is dropped without
    MPI_Comm_free (collective over the old group, whose other ranks may
    never come here); MPI_Finalize releases its duplicate."""
    from mpi4py import MPI
    key = comm.py2f()
    h = _open.get(key)
    if h is None or h.comm is comm:
        return h
    if h.comm != MPI.COMM_NULL and h.comm.Compare(comm) == MPI.IDENT:
        return h
    del _open[key]
    return None


def open(comm, timeout=None):  # noqa: A001 - nlsqc.mpi.open, as nlsq_mpi_open
    """Open comm for fits (collective: every rank of comm must call it).
    Called by the first fit with comm=; call it first yourself for another
    timeout: the seconds a single wait may last before the job is ended
    with one message and MPI_Abort (default $NLSQ_MPI_TIMEOUT, else 600).
    Opening an open communicator again with the same timeout does nothing;
    with another it is closed and opened again."""
    comm = _check_comm(comm)
    if timeout is not None:
        timeout = float(timeout)
        if not timeout > 0 or timeout == float("inf"):
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
    key = comm.py2f()
    h = _live(comm)
    if h is not None and h.timeout == timeout and h.size == comm.Get_size() and h.rank == comm.Get_rank():
        return h
    if h is not None:  # another timeout, or a freed communicator's handle reused
        close(comm)
    lib = library()
    opt = lib.nlsq_mpi_options_default()
    if timeout is not None:
        opt.timeout = timeout
    ptr = _P()
    err = _lib.Error()
    st = lib.nlsq_mpi_open_fortran(key, ctypes.byref(opt), ctypes.byref(ptr), ctypes.byref(err))
    if st != _lib.OK:
        raise (MemoryError if st == _lib.ERR_NOMEM else ValueError)(_lib.text(err.message))
    h = _Handle(ptr, timeout, comm)
    _open[key] = h
    return h


def group(comm):
    """The address of comm's nlsq_group (for nlsq_options.group), opening
    comm on first use."""
    h = _live(_check_comm(comm))
    if h is None or h.size != comm.Get_size():
        h = open(comm)
    return h.group


def close(comm=None):
    """Close comm (or, with none given, every communicator opened) for
    fits: collective over it. A communicator must be closed before it is
    freed (comm.Free()); the interpreter's exit closes what is left."""
    lib = _library
    if lib is None:
        return
    if comm is None:
        keys = list(_open)
    else:
        keys = [_check_comm(comm).py2f()]
    for key in keys:
        h = _open.pop(key, None)
        if h is not None:
            lib.nlsq_mpi_close(h.ptr)


def stats(comm, reset=False):
    """What comm's fits cost this rank in messages since it was opened or
    last reset: {messages, bytes_sent, bytes_received, seconds} (seconds:
    wall time inside the transport, waits included)."""
    h = _live(_check_comm(comm)) or open(comm)
    s = _MpiStats()
    library().nlsq_mpi_stats_get(h.ptr, ctypes.byref(s))
    if reset:
        library().nlsq_mpi_stats_reset(h.ptr)
    return {"messages": s.messages, "bytes_sent": s.bytes_sent, "bytes_received": s.bytes_received,
            "seconds": s.seconds}


def local_rank(comm):
    """(this rank among the ranks on its node, how many there are): rank %
    GPUs picks a rank's GPU for a batch (device=f"cuda:{...}")."""
    h = _live(_check_comm(comm)) or open(comm)
    lib = library()
    return lib.nlsq_mpi_local_rank(h.ptr), lib.nlsq_mpi_local_size(h.ptr)


# Before mpi4py's own finalisation, which runs after Python's atexit
# handlers: the duplicated communicators are freed while MPI still runs.
atexit.register(close)
