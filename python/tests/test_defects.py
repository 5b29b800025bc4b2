"""Regression tests for the defects of issue 17 on the Python side, each
named after its defect. The ones that could crash or hang the interpreter,
or that need a signal, run their case in a child Python."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import nlsqc


def decay(x, a, b, c):
    return a * np.exp(-b * x) + c


def data(m=200, seed=3):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 5, m)
    return x, decay(x, 2.5, 1.3, 0.5) + 0.01 * rng.standard_normal(m)


def child(code, **kw):
    """A child Python running `code` with this nlsqc (stdout a pipe)."""
    env = dict(os.environ)
    here = os.path.dirname(os.path.dirname(os.path.abspath(nlsqc.__file__)))
    env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **kw)


def wait_for(p, line, timeout=60):
    """Read the child's lines until `line`; fail if it ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = p.stdout.readline()
        if not got:
            out, err = p.communicate()
            pytest.fail(f"the child ended (status {p.returncode}) before saying {line!r}: {out} {err}")
        if got.strip() == line:
            return
    pytest.fail(f"the child did not say {line!r} in {timeout} s")


# ---- defect 8: a deep traced model ---------------------------------------

def test_defect08_deep_traced_model_text_and_checkpoint(tmp_path):
    """100,000 nested np.sin: Model.text() and curve_fit_large with a
    checkpoint (which writes the model's text into the file) crashed with a
    stack overflow in the formatter. Now the text is cut into definitions,
    the fit finds the parameter, and resuming matches the model's text."""
    p = child(f"""
        import numpy as np, nlsqc
        N = 100000
        def f(x, a):
            u = a * x
            for _ in range(N):
                u = np.sin(u)
            return u
        m = nlsqc.model(f)
        text = m.text()
        print(len(text), text.count("sin("), text.startswith("t1 = "), flush=True)
        dtext = m.text(0)
        print(dtext.count("cos("), flush=True)
        x = np.linspace(1e-4, 3e-3, 30)
        y = m(x, 1.3)
        ck = {str(tmp_path / 'deep.ckpt')!r}
        r = nlsqc.curve_fit_large(f, x, y, p0=[1.0], checkpoint=ck)
        print(repr(float(r.popt[0])), r.success, flush=True)
        again = nlsqc.curve_fit_large(f, x, y, p0=[1.0], checkpoint=ck, resume=True)  # its text, 500 KB, matches
        print(again.popt[0] == r.popt[0], again.nfev == r.nfev, flush=True)
    """)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, f"status {p.returncode}: {err[-2000:]}"
    lines = out.split("\n")
    length, sines, start = lines[0].split()
    assert int(sines) == 100000 and start == "True" and int(length) > 400000
    assert int(lines[1]) == 100000
    a, success = lines[2].split()
    assert abs(float(a) - 1.3) < 1e-8 and success == "True"
    assert lines[3] == "True True", "resumed from the checkpoint: " + lines[3]
    assert (tmp_path / "deep.ckpt").exists()


# ---- defect 10: Ctrl-C and SIGTERM -----------------------------------------

def test_defect10_ctrl_c_stops_fit_batch_promptly():
    """A long fit_batch interrupted by SIGINT raises KeyboardInterrupt
    within 2 s (it used to run to its last fit: 59 s)."""
    p = child("""
        import time, numpy as np, nlsqc
        def slow(x, a, b):  # 200 nested sines: some 2 ms a fit
            u = b * x
            for _ in range(200):
                u = np.sin(u)
            return a * u
        x = np.linspace(0.1, 1, 50)
        y = np.tile(2 * x, (20000, 1))
        print("start", flush=True)
        t = time.monotonic()
        try:
            r = nlsqc.fit_batch(slow, x, y, p0=[1, 1], x_shared=True)
            print("finished", r, flush=True)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
    """)
    wait_for(p, "start")
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    t = time.monotonic()
    got = p.stdout.readline().strip()
    late = time.monotonic() - t
    p.communicate(timeout=60)
    assert got == "KeyboardInterrupt", got
    assert late < 2, f"KeyboardInterrupt came {late:.2f} s after SIGINT"


CHUNKS_CHILD = """
    import sys, time, numpy as np, nlsqc
    phase, spool = sys.argv[1], sys.argv[2]
    x = np.linspace(0, 5, 400)
    y = 2.5 * np.exp(-1.3 * x) + 0.5

    def chunks():
        yield x[:200], y[:200]
        if phase == "writing":
            print("writing", flush=True)
            time.sleep(60)
        yield x[200:], y[200:]

    def progress(info):
        print("fitting", flush=True)
        time.sleep(60)

    try:
        nlsqc.fit_chunks(lambda x, a, b, c: a * np.exp(-b * x) + c, chunks(), p0=[2, 1, 0], spool_dir=spool,
                         progress=progress)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("phase", ["writing", "fitting"])
def test_defect10_fit_chunks_leaves_no_file_on_a_signal(tmp_path, sig, phase):
    """fit_chunks' spool file (nlsqc-chunks-*.f8, 320 MB in the report)
    survived Ctrl-C and SIGTERM. It has no name in the directory while it
    is written or fitted, so no signal can leave it behind."""
    spool = tmp_path / "spool"
    spool.mkdir()
    p = child(CHUNKS_CHILD.replace("sys.argv[1], sys.argv[2]", f"{phase!r}, {str(spool)!r}"))
    wait_for(p, phase)
    assert os.listdir(spool) == [], "the spool file is visible while in use"
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert out.strip() == "KeyboardInterrupt", (out, err[-1000:])
    else:
        assert p.returncode == -signal.SIGTERM, (p.returncode, err[-1000:])
    assert os.listdir(spool) == []


def test_defect10_fit_chunks_still_fits(tmp_path):
    x, y = data(1000)
    ref = nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], defaults="nlsq")  # fit_chunks: the library's defaults
    r = nlsqc.fit_chunks(decay, ((x[i:i + 100], y[i:i + 100]) for i in range(0, 1000, 100)), p0=[2, 1, 0],
                         spool_dir=str(tmp_path))
    np.testing.assert_array_equal(r.popt, ref.popt)
    assert os.listdir(tmp_path) == []


# ---- defect 16: what ctypes would have wrapped or cut ------------------------

def test_defect16_integers_are_checked_before_ctypes_wraps_them(tmp_path):
    x, y = data()
    with pytest.raises(OverflowError, match="max_nfev"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], max_nfev=2 ** 32 + 1)  # was 1 evaluation
    with pytest.raises(OverflowError, match="maxfev"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], maxfev=2 ** 31)
    with pytest.raises(ValueError, match="max_nfev must be an integer, not 0.5"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], max_nfev=0.5)
    with pytest.raises(TypeError, match="max_nfev must be an integer, not a bool"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], max_nfev=True)
    with pytest.raises(ValueError, match="max_nfev must be at least 1"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], max_nfev=0)
    r = nlsqc.least_squares_model(decay, [2, 1, 0], x, y, max_nfev=np.int64(3))
    assert r.nfev <= 3
    r = nlsqc.least_squares_model(decay, [2, 1, 0], x, y, max_nfev=2e0)  # an integral float is its integer
    assert r.nfev <= 2
    with pytest.raises(OverflowError, match="threads"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], threads=2 ** 32)
    with pytest.raises(ValueError, match="threads"):
        nlsqc.fit_batch(decay, x, np.tile(y, (3, 1)), p0=[2, 1, 0], threads=-1)
    with pytest.raises(ValueError, match="fixed"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], fixed=[1.5])
    with pytest.raises(ValueError, match="not a parameter index"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], fixed=[2 ** 32 + 1])

    raw = tmp_path / "d.f8"
    np.stack([x, y], axis=1).astype("<f8").tofile(raw)
    ref = nlsqc.fit_file(decay, str(raw), p0=[2, 1, 0], raw={"ncols": 2})
    with pytest.raises(OverflowError, match="raw ncols"):  # 2**32 + 2 was 2 columns
        nlsqc.fit_file(decay, str(raw), p0=[2, 1, 0], raw={"ncols": 2 ** 32 + 2})
    with pytest.raises(OverflowError, match="raw offset"):  # 2**64 + 16 was an offset of 16
        nlsqc.fit_file(decay, str(raw), p0=[2, 1, 0], raw={"ncols": 2, "offset": 2 ** 64 + 16})
    with pytest.raises(ValueError, match="raw offset must be at least 0"):
        nlsqc.fit_file(decay, str(raw), p0=[2, 1, 0], raw={"ncols": 2, "offset": -8})
    with pytest.raises(TypeError, match="y must be an integer, not a bool"):
        nlsqc.fit_file(decay, str(raw), p0=[2, 1, 0], raw={"ncols": 2}, y=True)
    with pytest.raises(ValueError, match="out of range"):
        nlsqc.fit_file(decay, str(raw), p0=[2, 1, 0], raw={"ncols": 2}, y=2 ** 32 + 1)
    np.testing.assert_array_equal(nlsqc.fit_file(decay, str(raw), p0=[2, 1, 0], raw={"ncols": 2.0}, y=1).popt,
                                  ref.popt)
    m = nlsqc.model(decay)
    with pytest.raises(TypeError, match="which"):
        m.text(True)
    with pytest.raises(IndexError):
        m.text(2 ** 32 + 1)  # was the model's text, which -1 wrapped


def test_defect16_nul_in_text_is_refused_not_cut():
    x, y = data()
    with pytest.raises(ValueError, match="model text contains a NUL character .at index 3"):
        nlsqc.curve_fit("a*x\0 + b*x^2", x, y)  # C read "a*x" and fitted it
    with pytest.raises(ValueError, match="NUL"):
        nlsqc.model("a*x + b\0")
    with pytest.raises(ValueError, match="params contains a NUL"):
        nlsqc.model("a*x + b", params=["a\0c", "b"])
    with pytest.raises(ValueError, match="vars contains a NUL"):
        nlsqc.model("a*t + b", vars="t\0u")
    with pytest.raises(ValueError, match="device contains a NUL"):
        nlsqc.curve_fit(decay, x, y, p0=[2, 1, 0], device="cpu\0cuda")
    with pytest.raises(ValueError, match="path contains a NUL"):
        nlsqc.fit_file(decay, "data.csv\0.npy", p0=[2, 1, 0])
    with pytest.raises(ValueError, match="checkpoint contains a NUL"):
        nlsqc.curve_fit_large(decay, x, y, p0=[2, 1, 0], checkpoint="ck\0pt")


def test_defect16_fit_file_knows_npy_by_its_magic_bytes(tmp_path):
    x, y = data()
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    ref = nlsqc.fit_file(decay, [str(tmp_path / "x.npy"), str(tmp_path / "y.npy")], p0=[2, 1, 0])
    npy_named_bin = tmp_path / "table.bin"
    with open(npy_named_bin, "wb") as f:
        np.save(f, np.stack([x, y], axis=1))
    r = nlsqc.fit_file(decay, str(npy_named_bin), p0=[2, 1, 0])  # was read as text: "no rows of numbers"
    np.testing.assert_array_equal(r.popt, ref.popt)
    csv_named_npy = tmp_path / "table.npy"
    np.savetxt(csv_named_npy, np.stack([x, y], axis=1), delimiter=",", fmt="%.17g")
    r = nlsqc.fit_file(decay, str(csv_named_npy), p0=[2, 1, 0])  # was refused as a damaged .npy
    np.testing.assert_array_equal(r.popt, ref.popt)
    with pytest.raises(FileNotFoundError):
        nlsqc.fit_file(decay, str(tmp_path / "missing.npy"), p0=[2, 1, 0])


def test_defect15_underdetermined_curve_fit_raises_scipys_type_error():
    # Two points, three parameters: no unique answer, so no "converged".
    for method in ("trf", "dogbox", "lm"):
        with pytest.raises(TypeError, match="number of func parameters=3 must not exceed the number of data points=2"):
            nlsqc.curve_fit(lambda x, a, b, c: a * x * x + b * x + c, [0.0, 1.0], [1.0, 2.0], method=method)
