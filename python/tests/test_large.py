"""curve_fit_large, fit_file and fit_chunks: the same fit as curve_fit."""
import os

import numpy as np
import pytest

import nlsqc


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def data(m=5000, seed=2):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 5, m)
    s = 0.05 + 0.05 * rng.random(m)
    y = decay(x, 2.5, 1.3, 0.5) + s * rng.standard_normal(m)
    return x, y, s


def same(r, ref):
    """Bitwise: a source fit runs the same passes as the in-memory fit."""
    np.testing.assert_array_equal(r.popt, ref.popt)
    np.testing.assert_array_equal(r.pcov, ref.pcov)
    assert r.status == ref.status and r.nfev == ref.nfev


def test_curve_fit_large_is_curve_fit():
    x, y, s = data()
    for kw in ({}, {"sigma": s}, {"sigma": s, "absolute_sigma": True}, {"method": "lm"},
               {"bounds": ([0, 0, 0], [10, 1.2, 10])}, {"loss": "cauchy", "f_scale": 0.1}):
        # curve_fit_large keeps the library's defaults; curve_fit has them one argument away
        same(nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], **kw),
             nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], **kw, defaults="nlsq"))


def test_curve_fit_large_progress_checkpoint_and_errors(tmp_path):
    x, y, s = data(50000)
    calls = []
    r = nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], progress=lambda info: calls.append(info),
                              progress_interval=1e-6)
    assert calls and calls[-1]["points"] == x.size and 0 <= calls[-1]["pass_fraction"] <= 1
    with pytest.raises(RuntimeError, match="Optimal parameters not found"):  # progress stops the fit
        nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], progress=lambda info: True, progress_interval=1e-6)

    class Boom(Exception):
        pass

    def bad(info):
        raise Boom("from the progress callback")
    with pytest.raises(Boom):
        nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], progress=bad, progress_interval=1e-6)
    ck = str(tmp_path / "fit.ckpt")
    r1 = nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], checkpoint=ck)
    r2 = nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], checkpoint=ck, resume=True)
    same(r2, r1)
    same(r1, r)
    with pytest.raises(ValueError, match="incorrect shape"):
        nlsqc.curve_fit_large(decay, x, y, sigma=np.eye(3))
    y2 = y.copy()
    y2[7] = np.nan
    with pytest.raises(ValueError):
        nlsqc.curve_fit_large(decay, x, y2, p0=[2, 1, 0])
    keep = np.isfinite(y2)
    r = nlsqc.curve_fit_large(decay, x, y2, p0=[2, 1, 0], nan_policy="omit")
    ref = nlsqc.curve_fit(decay, x[keep], y2[keep], p0=[2, 1, 0], defaults="nlsq")
    # the left-out point moves the block boundaries: equal to rounding
    np.testing.assert_allclose(r.popt, ref.popt, rtol=1e-12)
    np.testing.assert_allclose(r.pcov, ref.pcov, rtol=1e-10)
    assert r.m == keep.sum()


def test_fit_file_npy_csv_raw_and_joined(tmp_path):
    x, y, s = data()
    ref = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, defaults="nlsq")
    np.save(tmp_path / "xys.npy", np.column_stack([x, y, s]))
    same(nlsqc.fit_file(decay, tmp_path / "xys.npy", p0=[2, 1, 0], sigma=2), ref)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    np.save(tmp_path / "s.npy", s)
    same(nlsqc.fit_file(decay, [tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "s.npy"], p0=[2, 1, 0], sigma=2),
         ref)
    csv = tmp_path / "d.csv"
    with open(csv, "w") as f:
        f.write("sig,time,signal\n")
        for a, b, c in zip(s, x, y):
            f.write(f"{a!r},{b!r},{c!r}\n")
    same(nlsqc.fit_file(decay, str(csv), p0=[2, 1, 0], x="time", y="signal", sigma="sig",
                        cache_path=str(tmp_path / "cache.npy")), ref)
    np.column_stack([x, y]).astype("<f8").tofile(tmp_path / "d.raw")
    same(nlsqc.fit_file("a*exp(-b*x) + c", tmp_path / "d.raw", p0=[2, 1, 0], raw={"dtype": "f8", "ncols": 2}),
         nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], defaults="nlsq"))
    with pytest.raises(ValueError, match="no column named 'nope'"):
        nlsqc.fit_file(decay, str(csv), p0=[2, 1, 0], x="nope", cache_path=str(tmp_path / "cache.npy"))
    with pytest.raises(FileNotFoundError):
        nlsqc.fit_file(decay, tmp_path / "missing.npy", p0=[2, 1, 0])
    with pytest.raises(ValueError, match="out of range"):
        nlsqc.fit_file(decay, tmp_path / "xys.npy", p0=[2, 1, 0], y=7)


def test_fit_chunks_from_a_generator(tmp_path):
    x, y, s = data()
    ref = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], sigma=s, defaults="nlsq")

    def chunks():
        for i in range(0, x.size, 777):
            yield x[i:i + 777], y[i:i + 777], s[i:i + 777]
    same(nlsqc.fit_chunks(decay, chunks(), p0=[2, 1, 0], spool_dir=str(tmp_path)), ref)
    assert os.listdir(tmp_path) == []  # the spool file is gone

    # two variables
    xy = np.vstack([x, x[::-1]])
    ref2 = nlsqc.curve_fit(lambda v, a, b: a * v[0] + b * v[1], xy, y, defaults="nlsq")
    same(nlsqc.fit_chunks(lambda v, a, b: a * v[0] + b * v[1],
                          ((xy[:, i:i + 1000], y[i:i + 1000]) for i in range(0, x.size, 1000)),
                          p0=[1, 1], spool_dir=str(tmp_path)), ref2)

    def broken():
        yield x[:10], y[:10]
        raise KeyError("reader failed")
    with pytest.raises(KeyError):
        nlsqc.fit_chunks(decay, broken(), p0=[2, 1, 0], spool_dir=str(tmp_path))
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="empty"):
        nlsqc.fit_chunks(decay, iter([]), p0=[2, 1, 0], spool_dir=str(tmp_path))
    with pytest.raises(ValueError, match="chunk 1"):
        nlsqc.fit_chunks(decay, iter([(x[:3], y[:3]), (x[:3], y[:2])]), p0=[2, 1, 0], spool_dir=str(tmp_path))


def test_ctrl_c_stops_a_long_fit():
    import signal
    import threading
    import time
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("needs Python's own SIGINT handler on the main thread")
    x = np.linspace(0, 5, 4_000_000)
    y = decay(x, 2.5, 1.3, 0.5) + 0.01 * np.sin(50 * x)
    timer = threading.Timer(0.05, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            # about 300 passes of ~30 ms if nothing stopped it: the interrupt
            # would then surface only when the fit returned, seconds later
            nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], max_nfev=300, ftol=0, xtol=0, gtol=0, backend="interp",
                                  threads=1)
    finally:
        timer.cancel()
    assert time.perf_counter() - t0 < 2
