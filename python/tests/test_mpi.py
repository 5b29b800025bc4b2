"""nlsqc's comm= (an mpi4py communicator): every fit over the ranks of a
communicator must give, on every rank, the bits of the single-process fit.

Two ways to run it:
  - in the ordinary suite (pytest, one process): the checks that need no
    MPI (a comm that is not a communicator, no mpi4py imported); the rest
    skip, saying why;
  - under MPI, as tests/test_python_mpi.sh does:
        mpirun -n 3 python3 python/tests/test_mpi.py
    runs every check in order on every rank; a failure prints the rank and
    the traceback and ends the job (MPI_Abort), so no rank waits for one
    that has failed. `mpirun -n 3 python3 -m pytest python/tests/test_mpi.py`
    works too, with the library's bounded waits ($NLSQ_MPI_TIMEOUT) as the
    only guard against a rank left waiting.
"""
import os
import shutil
import sys
import tempfile

import numpy
import pytest

import nlsqc

# set by Open MPI, MPICH/Hydra and PMIx launchers in every rank they start
UNDER_MPI = any(k in os.environ for k in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"))
MODEL = "a*exp(-b*x) + c"


@pytest.fixture
def comm():
    if not UNDER_MPI:
        pytest.skip("not started by mpirun (tests/test_python_mpi.sh runs these on 1, 2 and 3 ranks)")
    MPI = pytest.importorskip("mpi4py.MPI", reason="mpi4py is not installed (Debian: python3-mpi4py)")
    return MPI.COMM_WORLD


def _data(m=200003, seed=5):
    rng = numpy.random.default_rng(seed)  # the same on every rank
    x = numpy.linspace(0, 6, m)
    y = 2.5 * numpy.exp(-1.7 * x) + 0.4 + rng.normal(0, 0.02, m)
    return x, y


def _bits(r):
    return r.popt.tobytes() + r.pcov.tobytes() + numpy.float64(r.cost).tobytes()


def _same(ref, got, comm, what):
    """got (over comm) is ref (one process) bit for bit, and every rank
    holds the same bits."""
    assert got.popt.tobytes() == ref.popt.tobytes(), f"{what}: popt {got.popt!r} != {ref.popt!r}"
    assert got.pcov.tobytes() == ref.pcov.tobytes(), f"{what}: pcov differs from the single-process fit's"
    assert numpy.float64(got.cost).tobytes() == numpy.float64(ref.cost).tobytes(), \
        f"{what}: cost {got.cost!r} != {ref.cost!r}"
    assert (got.nfev, got.status) == (ref.nfev, ref.status), f"{what}: nfev/status differ"
    everyone = comm.allgather(_bits(got))
    assert all(b == everyone[0] for b in everyone), f"{what}: the ranks hold different results"


# ---- without MPI: in the ordinary suite ---------------------------------------

def test_not_a_communicator_is_refused_without_mpi4py():
    imported = "mpi4py" in sys.modules
    x, y = numpy.arange(5.0), 2.0 * numpy.arange(5.0)
    with pytest.raises(TypeError, match="mpi4py communicator"):
        nlsqc.curve_fit("a*x", x, y, comm=object())
    with pytest.raises(TypeError, match="mpi4py communicator"):
        nlsqc.fit_batch("a*x", x, numpy.vstack([y, y]), p0=[1.0], comm=7)
    with pytest.raises(TypeError, match="mpi4py communicator"):
        nlsqc.curve_fit_large("a*x", x, y, p0=[1.0], comm="world")
    # a stray object must not initialise MPI by importing mpi4py
    assert ("mpi4py" in sys.modules) == imported
    nlsqc.mpi.close()  # nothing open: nothing to do


def test_mpi_struct_layouts(tmp_path):
    """nlsqc.mpi's ctypes structs against include/nlsq_mpi.h, compiled with
    mpicc (the header includes mpi.h); the program starts no MPI."""
    import ctypes
    import subprocess
    from conftest import ROOT
    mpicc = shutil.which("mpicc")
    if not mpicc:
        pytest.skip("no mpicc to read nlsq_mpi.h's layouts with (Debian: libopenmpi-dev)")
    made = [d for d in (os.environ.get("NLSQ_BUILD_DIR"), os.path.join(ROOT, "build")) if d]
    made = [os.path.join(d, "include") for d in made if os.path.isfile(os.path.join(d, "include", "nlsq_version.h"))]
    if not made:
        pytest.skip("no build tree with include/nlsq_version.h (set NLSQ_BUILD_DIR to the CMake build folder)")
    structs = {nlsqc.mpi._MpiOptions: "nlsq_mpi_options", nlsqc.mpi._MpiStats: "nlsq_mpi_stats"}
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "nlsq_mpi.h"', 'int main(void) {']
    for cls, cname in structs.items():
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
        for field, _ in cls._fields_:
            lines.append(f'printf("{cname}.{field} %zu\\n", offsetof({cname}, {field}));')
    lines.append("return 0; }")
    src = tmp_path / "abi_mpi.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "abi_mpi"
    subprocess.check_call([mpicc, "-std=c11", "-I", os.path.join(ROOT, "include"), "-I", made[0], str(src), "-o",
                           str(exe)])
    out = dict(line.rsplit(" ", 1) for line in subprocess.check_output([str(exe)], text=True).splitlines())
    for cls, cname in structs.items():
        assert int(out[cname]) == ctypes.sizeof(cls), f"sizeof({cname})"
        for field, _ in cls._fields_:
            assert int(out[f"{cname}.{field}"]) == getattr(cls, field).offset, f"{cname}.{field}"


# ---- under mpirun -------------------------------------------------------------

def test_curve_fit_arrays(comm):
    x, y = _data()
    for kw in ({}, {"bounds": ([0, 0, -1], [10, 10, 1]), "method": "trf"},
               {"sigma": 0.02 + 0.01 * x, "absolute_sigma": True}, {"loss": "soft_l1", "f_scale": 0.05}):
        ref = nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], threads=1, **kw)
        got = nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], threads=1, comm=comm, **kw)
        _same(ref, got, comm, f"curve_fit {sorted(kw)}")
        assert got.device_note == (f"a group of {comm.size} processes" if comm.size > 1 else got.device_note)

    def f(t, a, b, c):  # a traced Python function, not model text
        return a * numpy.exp(-b * t) + c
    _same(nlsqc.curve_fit(f, x, y, p0=[1, 1, 0]), nlsqc.curve_fit(f, x, y, p0=[1, 1, 0], comm=comm), comm,
          "curve_fit of a traced function")


def test_fewer_chunks_than_ranks(comm):
    # up to 16384 points are one chunk: most ranks then fold nothing, and
    # the answer comes from the rank that owns the first chunk
    for m in (50, 16384, 16385, 20001):
        x, y = _data(m, seed=m)
        ref = nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0])
        _same(ref, nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=comm), comm, f"curve_fit of {m} points")
    x = numpy.linspace(0, 3, 40)
    y = numpy.vstack([2 * numpy.exp(-x) + 0.1, 3 * numpy.exp(-2 * x)])  # 2 fits: fewer than 3 ranks
    ref = nlsqc.fit_batch(MODEL, x, y, p0=[1, 1, 0], pcov=True)
    got = nlsqc.fit_batch(MODEL, x, y, p0=[1, 1, 0], pcov=True, comm=comm)
    assert got.popt.tobytes() == ref.popt.tobytes() and got.pcov.tobytes() == ref.pcov.tobytes()


def test_fit_global(comm):
    """Shared-parameter fits over the ranks: each evaluates its share of
    the data sets; every rank ends with the single-process bits."""
    rng = numpy.random.default_rng(3)
    T = numpy.array([280.0, 295, 310, 325, 340])
    x = numpy.linspace(0, 5, 60)
    sets = []
    for t in T:
        k = 1.3 * numpy.exp(-2500 * (1 / t - 1 / 300))
        sets.append((x, rng.uniform(1, 3) * numpy.exp(-k * x) + 0.1 + rng.normal(0, 0.01, x.size)))
    model = "a*exp(-k0*exp(-Ea*(1/T - 1/300))*x) + c"
    for method in ("trf", "lm"):
        kw = dict(shared=["k0", "Ea"], covariates={"T": T}, vars=["x"], p0={"a": 1, "c": 0, "k0": 1, "Ea": 2000},
                  method=method, pcov=True)
        ref = nlsqc.fit_global(model, sets, **kw)
        got = nlsqc.fit_global(model, sets, comm=comm, **kw)
        assert got.popt.tobytes() == ref.popt.tobytes(), f"fit_global {method}: popt differs"
        assert got.pcov.tobytes() == ref.pcov.tobytes(), f"fit_global {method}: pcov differs"
        assert (got.nfev, got.status) == (ref.nfev, ref.status)
        everyone = comm.allgather(got.popt.tobytes() + got.shared_pcov.tobytes())
        assert all(b == everyone[0] for b in everyone), f"fit_global {method}: the ranks hold different results"


def test_curve_fit_large(comm):
    x, y = _data(150001, seed=9)
    ref = nlsqc.curve_fit_large(MODEL, x, y, p0=[1, 1, 0])
    _same(ref, nlsqc.curve_fit_large(MODEL, x, y, p0=[1, 1, 0], comm=comm), comm, "curve_fit_large")


def _shared_dir(comm):
    """A folder every rank sees (one machine: /tmp), made by rank 0."""
    d = tempfile.mkdtemp(prefix="nlsqc-mpi-") if comm.rank == 0 else None
    return comm.bcast(d, root=0)


def test_fit_file_and_checkpoint(comm):
    d = _shared_dir(comm)
    try:
        path = os.path.join(d, "data.npy")
        if comm.rank == 0:
            x, y = _data(250007, seed=11)
            numpy.save(path, numpy.column_stack([x, y]))
        comm.Barrier()
        ref = nlsqc.fit_file(MODEL, path, p0=[1, 1, 0])
        _same(ref, nlsqc.fit_file(MODEL, path, p0=[1, 1, 0], comm=comm), comm, "fit_file")
        # process 0 writes the checkpoint; a resume over the group (any
        # number of ranks: the one-process run above wrote none) gives the bits
        ck = os.path.join(d, "fit.ckpt")
        got = nlsqc.fit_file(MODEL, path, p0=[1, 1, 0], checkpoint=ck, comm=comm)
        _same(ref, got, comm, "fit_file with a checkpoint")
        assert os.path.isfile(ck), "rank 0 wrote no checkpoint"
        again = nlsqc.fit_file(MODEL, path, p0=[1, 1, 0], checkpoint=ck, resume=True, comm=comm)
        assert again.popt.tobytes() == ref.popt.tobytes() and again.pcov.tobytes() == ref.pcov.tobytes()
        comm.Barrier()
    finally:
        if comm.rank == 0:
            shutil.rmtree(d, ignore_errors=True)


def test_fit_batch(comm):
    rng = numpy.random.default_rng(3)
    x = numpy.linspace(0, 4, 300)
    a = rng.uniform(1, 3, 37)
    b = rng.uniform(0.5, 2, 37)
    y = a[:, None] * numpy.exp(-b[:, None] * x) + 0.3 + rng.normal(0, 0.01, (37, 300))
    ref = nlsqc.fit_batch(MODEL, x, y, p0=[1, 1, 0], pcov=True)
    got = nlsqc.fit_batch(MODEL, x, y, p0=[1, 1, 0], pcov=True, comm=comm)
    for name in ("popt", "pcov", "perr", "cost", "chi2", "status", "nfev", "nit"):
        assert getattr(got, name).tobytes() == getattr(ref, name).tobytes(), f"fit_batch: {name} differs"
    assert got.converged == ref.converged == 37
    everyone = comm.allgather(got.popt.tobytes() + got.pcov.tobytes())
    assert all(e == everyone[0] for e in everyone), "fit_batch: the ranks hold different results"


def test_global_search(comm):
    x, y = _data(60001, seed=2)
    kw = dict(p0=[1, 1, 0], bounds=([0, 0, -1], [5, 5, 1]), global_starts=8, seed=4)
    ref = nlsqc.curve_fit(MODEL, x, y, **kw)
    got = nlsqc.curve_fit(MODEL, x, y, comm=comm, **kw)
    _same(ref, got, comm, "global search")
    assert [m["cost"] for m in got.global_search["minima"]] == [m["cost"] for m in ref.global_search["minima"]]


def test_bootstrap(comm):
    x, y = _data(20001, seed=6)
    ref = nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0]).bootstrap(n=48, seed=7)
    fit = nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=comm)
    for got in (fit.bootstrap(n=48, seed=7),  # the fit's comm
                nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0]).bootstrap(n=48, seed=7, comm=comm)):
        assert got.samples.tobytes() == ref.samples.tobytes(), "bootstrap: the replicas differ"
        assert got.stderr.tobytes() == ref.stderr.tobytes() and got.bca.tobytes() == ref.bca.tobytes()
    everyone = comm.allgather(got.samples.tobytes())
    assert all(e == everyone[0] for e in everyone)


def test_sub_communicator_and_errors(comm):
    from mpi4py import MPI
    x, y = _data(70001, seed=8)
    ref = nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0])
    sub = comm.Split(comm.rank % 2, comm.rank)  # two groups fitting side by side
    _same(ref, nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=sub), sub, "a split communicator")
    nlsqc.mpi.close(sub)  # before Free: the library holds a duplicate
    sub.Free()
    with pytest.raises(ValueError, match="COMM_NULL"):
        nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=MPI.COMM_NULL)
    with pytest.raises(ValueError, match="timeout"):
        nlsqc.mpi.open(comm, timeout=-1)
    # no libnlsq_mpi: a clear ImportError naming where it looked
    saved, nlsqc.mpi._library = nlsqc.mpi._library, None
    saved_open, nlsqc.mpi._open = nlsqc.mpi._open, {}
    os.environ["NLSQ_MPI_LIBRARY"] = "/nonexistent/libnlsq_mpi.so"
    try:
        with pytest.raises(ImportError, match="libnlsq_mpi.*nonexistent"):
            nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=comm)
    finally:
        del os.environ["NLSQ_MPI_LIBRARY"]
        nlsqc.mpi._library, nlsqc.mpi._open = saved, saved_open


def test_communicator_freed_without_close(comm):
    # MPI reuses a freed communicator's handle (nlsqc's key): a new
    # communicator given it must get its own group, not the freed one's
    # (which gave ranks 0 and 1 of 4 another fit's numbers, silently)
    x, y = _data(20001, seed=5)
    sub = comm.Split(comm.rank % 2, comm.rank)
    nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=sub)
    sub.Free()  # without nlsqc.mpi.close(sub), against the README's advice
    sub2 = comm.Split(comm.rank // 2, comm.rank)
    y2 = y * (1 + comm.rank // 2)  # each new group fits other data
    _same(nlsqc.curve_fit(MODEL, x, y2, p0=[1, 1, 0]), nlsqc.curve_fit(MODEL, x, y2, p0=[1, 1, 0], comm=sub2), sub2,
          "a communicator made after one freed without close")
    nlsqc.mpi.close(sub2)
    sub2.Free()


def test_stats(comm):
    x, y = _data(100003, seed=1)
    nlsqc.mpi.stats(comm, reset=True)
    nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=comm)
    s = nlsqc.mpi.stats(comm)
    if comm.size > 1:
        assert s["messages"] > 0 and s["bytes_sent"] + s["bytes_received"] > 0 and s["seconds"] >= 0
    else:
        assert s["messages"] == 0
    local, nlocal = nlsqc.mpi.local_rank(comm)
    assert 0 <= local < nlocal <= comm.size


def _main():
    """Every check in order on every rank; the first failure ends the job."""
    import traceback
    import warnings
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    warnings.simplefilter("ignore")  # FitQualityWarning etc.: the same on every rank, not what is tested
    checks = [v for k, v in sorted(globals().items()) if k.startswith("test_") and callable(v)]
    ran = 0
    for check in sorted(checks, key=lambda c: c.__code__.co_firstlineno):
        code = check.__code__
        if code.co_argcount and code.co_varnames[0] != "comm":
            continue  # a pytest fixture's check (tmp_path): the ordinary suite runs it
        try:
            if code.co_argcount:
                check(world)
            else:
                check()
            ran += 1
        except pytest.skip.Exception as e:
            print(f"rank {world.rank}: {check.__name__}: skipped ({e})", flush=True)
        except BaseException:  # noqa: B902 - any failure ends every rank
            sys.stderr.write(f"rank {world.rank} of {world.size}: {check.__name__} FAILED\n{traceback.format_exc()}")
            sys.stderr.flush()
            world.Abort(1)
    world.Barrier()
    if world.rank == 0:
        print(f"ok: {ran} checks on {world.size} rank(s), bitwise the single-process fits", flush=True)


def _hang():
    """The fault check (test_python_mpi.sh): the last rank stops taking
    part (as a rank stuck in a dead file system would) while the others
    fit; with NLSQ_MPI_TIMEOUT=3 a waiting rank must print its one line and
    end the whole job with MPI_Abort, which the script times."""
    import time
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    nlsqc.mpi.open(world)  # collective: every rank, before the last one goes silent
    if world.rank == world.size - 1:
        time.sleep(120)  # the job must end long before this
        print("FAIL: the stuck rank outlived its group's timeout", flush=True)
        sys.exit(1)
    x, y = _data()
    nlsqc.curve_fit(MODEL, x, y, p0=[1, 1, 0], comm=world)
    print("FAIL: a fit finished without the stuck rank", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    _hang() if sys.argv[1:] == ["hang"] else _main()
