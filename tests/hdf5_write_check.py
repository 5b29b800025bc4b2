"""Reads back what nlsq wrote into HDF5 (fit --output, batch --out FILE.h5)
and compares every value, bit for bit, with the command's own text output
of the same run (--json, --predict, the batch CSV). Used by
test_hdf5_write_cli.sh; exits 1 with the first difference."""
import csv
import json
import math
import struct
import sys

import h5py
import numpy as np


def fail(msg):
    print("hdf5_write_check: " + msg, file=sys.stderr)
    sys.exit(1)


def bits(v):
    return struct.pack("<d", float(v))


def same(a, b, what):
    """JSON null is any non-finite double; otherwise the very bits (%.17g
    round-trips)."""
    if b is None:
        if math.isfinite(float(a)):
            fail(f"{what}: {a!r} in the file, null in the JSON")
        return
    if bits(a) != bits(b):
        fail(f"{what}: {float(a)!r} in the file, {b!r} in the JSON")


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_fit(path, json_path, group="/"):
    with open(json_path) as fh:
        js = json.load(fh)
    with h5py.File(path, "r") as f:
        g = f[group]
        names = [text(s) for s in g["names"][()]]
        if names != [p["name"] for p in js["params"]]:
            fail(f"names {names}")
        n = len(names)
        for j, p in enumerate(js["params"]):
            same(g["popt"][j], p["value"], f"popt[{j}]")
            same(g["perr"][j], p["stderr"], f"perr[{j}]")
            same(g["interval_lower"][j], p["lower"], f"interval_lower[{j}]")
            same(g["interval_upper"][j], p["upper"], f"interval_upper[{j}]")
            if bool(g["active_mask"][j]) != p["at_bound"]:
                fail(f"active_mask[{j}]")
            if "fixed" in g and bool(g["fixed"][j]) != p["fixed"]:
                fail(f"fixed[{j}]")
        if g["pcov"].shape != (n, n) or g["correlation"].shape != (n, n):
            fail("pcov or correlation shape")
        for a in range(n):
            for b in range(n):
                same(g["pcov"][a, b], js["pcov"][a][b], f"pcov[{a},{b}]")
        pc = np.array(js["pcov"], dtype=float)
        for a in range(n):
            for b in range(n):
                va, vb = pc[a, a], pc[b, b]
                want = pc[a, b] / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0
                same(g["correlation"][a, b], want, f"correlation[{a},{b}]")
        for k in ("cost", "chi2", "redchi", "r2", "aic", "bic"):
            same(g[k][()], js[k], k)
        for k in ("dof", "m", "nfev", "njev", "status", "passes", "jit_passes", "threads", "memory_bytes",
                  "resumed_evaluations"):
            if int(g[k][()]) != js[k]:
                fail(f"{k}: {g[k][()]} against {js[k]}")
        if bool(g["success"][()]) != js["success"]:
            fail("success")
        for k in ("message", "method", "backend", "device", "backend_note", "device_note"):
            if text(g[k][()]) != js[k]:
                fail(f"{k}: {text(g[k][()])!r} against {js[k]!r}")
        d, jd = g["diagnostics"], js["diagnostics"]
        if bool(d["trusted"][()]) != jd["trusted"] or int(d["flags"][()]) != jd["flags"]:
            fail("diagnostics trusted/flags")
        if [text(s) for s in d["findings"][()]] != [x["key"] for x in jd["findings"]]:
            fail("diagnostics findings")
        if [text(s) for s in d["finding_messages"][()]] != [x["message"] for x in jd["findings"]]:
            fail("diagnostics finding_messages")
        if int(d["rank"][()]) != jd["rank"]:
            fail("diagnostics rank")
        same(d["cond"][()], jd["cond"], "cond")
        for j, nm in enumerate(names):
            same(d["influence"][j], jd["influence"][nm], f"influence[{nm}]")
        if len(d["correlated_value"]) != len(jd["correlated"]):
            fail("correlated pairs")
        for k, (a, b, c) in enumerate(jd["correlated"]):
            if [names[i] for i in d["correlated"][k]] != [a, b]:
                fail("correlated pair names")
            same(d["correlated_value"][k], c, "correlated value")
        if bool(d["residuals_tested"][()]) != jd["residuals_tested"]:
            fail("residuals_tested")
        if jd["residuals_tested"]:
            for k in ("runs", "n_pos", "n_neg"):
                if int(d[k][()]) != jd[k]:
                    fail(k)
            same(d["runs_z"][()], jd["runs_z"], "runs_z")
            same(d["lag1"][()], jd["lag1"], "lag1")
        a = g.attrs
        for k in ("nlsq_result", "model", "nlsq_version", "created", "method", "loss", "f_scale", "ftol", "xtol",
                  "gtol", "max_nfev", "nan_policy", "absolute_sigma", "sigma", "data", "level"):
            if k not in a:
                fail(f"attribute {k} missing")
        if text(a["model"]) != js["model"] or text(a["method"]) != js["method"]:
            fail("attributes model/method")
        if abs(float(a["level"]) - js["level"]) > 0:
            fail("attribute level")
        if "warnings" not in g:
            fail("warnings missing")
    print(f"hdf5_write_check: {path}:{group} matches {json_path} ({n} parameters)")


def check_predictions(path, group, predict_csv, nvars):
    with open(predict_csv) as fh:
        rows = list(csv.reader(fh))
    cols = list(zip(*rows[1:]))
    with h5py.File(path, "r") as f:
        p = f[group]["predictions"]
        xs = ["x"] if nvars == 1 else [f"x{v}" for v in range(nvars)]
        for i, name in enumerate(xs + ["y", "fit", "residual"]):
            got = p[name][()]
            want = np.array([float(s) for s in cols[i]])
            if got.shape != want.shape or got.tobytes() != want.tobytes():
                bad = np.nonzero(got.view(np.uint64) != want.view(np.uint64))[0] if got.shape == want.shape else []
                fail(f"predictions/{name} differs from {predict_csv} column {i + 1} (first at {list(bad[:3])})")
    print(f"hdf5_write_check: {path}:{group}/predictions matches {predict_csv} ({len(rows) - 1} rows)")


def check_batch(path, batch_csv):
    with open(batch_csv) as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    with h5py.File(path, "r") as f:
        cols = [text(s) for s in f.attrs["columns"]]
        if cols != header:
            fail(f"columns {cols} against the CSV header {header}")
        for i, name in enumerate(header):
            got = f[name][()]
            if len(got) != len(body):
                fail(f"{name}: {len(got)} rows against {len(body)}")
            for r, row in enumerate(body):
                s, v = row[i], got[r]
                if name == "findings" or (name == "id" and got.dtype.kind == "O"):
                    ok = text(v) == s
                elif name == "trusted":
                    ok = (s == "" and v == -1) or (s != "" and int(s) == v)
                elif got.dtype.kind in "iu":
                    ok = int(s) == int(v)
                else:
                    ok = bits(float(s)) == bits(v) or (math.isnan(float(s)) and math.isnan(v))
                if not ok:
                    fail(f"{name} row {r}: {v!r} in the file, {s!r} in the CSV")
    print(f"hdf5_write_check: {path} matches {batch_csv} ({len(body)} fits, {len(header)} columns)")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "fit":
        check_fit(sys.argv[2], sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else "/")
    elif cmd == "predict":
        check_predictions(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif cmd == "batch":
        check_batch(sys.argv[2], sys.argv[3])
    else:
        fail("unknown command " + cmd)
