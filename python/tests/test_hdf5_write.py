"""FitResult.save_hdf5 (issue 21): the result written through the C
library, read back with h5py bit for bit; append, create, predictions;
results that cannot be saved are refused with a clear message."""
import os
import pickle

import numpy
import pytest

import nlsqc
from nlsqc import _hdf5

h5py = pytest.importorskip("h5py", reason="h5py is not installed (make test-deps installs python3-h5py)")
pytestmark = pytest.mark.skipif(not _hdf5.have_hdf5(), reason="this nlsq was built without HDF5 (libhdf5-dev)")


def _fit(**kw):
    x = numpy.linspace(0, 4, 120)
    y = 2.5 * numpy.exp(-1.3 * x) + 0.5 + 0.01 * numpy.sin(37 * numpy.arange(120))
    return nlsqc.curve_fit("a*exp(-b*x) + c", x, y, p0=[1, 1, 0], **kw), x, y


def _same(a, b):
    a, b = numpy.asarray(a, dtype=float), numpy.asarray(b, dtype=float)
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def test_result_round_trips_bit_for_bit(tmp_path):
    r, x, y = _fit()
    path = tmp_path / "r.h5"
    r.save_hdf5(path, predictions=True)
    with h5py.File(path, "r") as f:
        assert list(f["names"].asstr()[()]) == r.names
        assert _same(f["popt"][()], r.popt) and _same(f["perr"][()], r.perr) and _same(f["pcov"][()], r.pcov)
        lo, hi = r.interval(0.95)
        assert _same(f["interval_lower"][()], lo) and _same(f["interval_upper"][()], hi)
        for k in ("cost", "chi2", "redchi", "r2", "aic", "bic"):
            assert _same(f[k][()], getattr(r, k)), k
        assert f["nfev"][()] == r.nfev and f["status"][()] == r.status and f["dof"][()] == r.dof
        assert f["message"].asstr()[()] == r.message
        assert bool(f["diagnostics/trusted"][()]) == r.diagnostics.trusted
        assert list(f["diagnostics/findings"].asstr()[()]) == r.diagnostics.findings
        assert f.attrs["model"] == "a*exp(-b*x) + c" and f.attrs["nlsq_version"] == nlsqc.__version__
        assert _same(f["predictions/x"][()], x) and _same(f["predictions/y"][()], y)
        fit = f["predictions/fit"][()]
        assert numpy.allclose(fit, r.popt[0] * numpy.exp(-r.popt[1] * x) + r.popt[2], rtol=1e-14, atol=1e-15)
        assert _same(f["predictions/residual"][()], y - fit)
        assert _same(f["p0"][()], [1, 1, 0])


def test_append_keeps_the_first_group_and_create_refuses(tmp_path):
    r, _, _ = _fit()
    r2, _, _ = _fit(bounds=([0, 0, -1], [10, 10, 1]))
    path = tmp_path / "r.h5"
    r.save_hdf5(path, group="/one", mode="append")
    r2.save_hdf5(path, group="/two", mode="append")
    with h5py.File(path, "r") as f:
        assert _same(f["/one/popt"][()], r.popt) and _same(f["/two/popt"][()], r2.popt)
        assert _same(f["/two/lower"][()], [0, 0, -1])
    before = path.read_bytes()
    with pytest.raises(OSError, match="exists already"):
        r.save_hdf5(path, group="/one", mode="append")
    with pytest.raises(OSError, match="exists"):
        r.save_hdf5(path, mode="create")
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="mode"):
        r.save_hdf5(path, mode="overwrite")


def test_unsaveable_results_are_refused(tmp_path):
    r, _, _ = _fit()
    copy = pickle.loads(pickle.dumps(r))
    with pytest.raises(ValueError, match="keeps the model"):
        copy.save_hdf5(tmp_path / "c.h5")
    with pytest.raises(ValueError, match="level 1.5 is not in"):
        r.save_hdf5(tmp_path / "l.h5", level=1.5)
    with pytest.raises(OSError):
        r.save_hdf5(tmp_path / "missing" / "r.h5")
    assert not os.path.exists(tmp_path / "missing")
