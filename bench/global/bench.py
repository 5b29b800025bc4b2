"""bench/global: fits with NO start values, nlsq against its peers.

    bench.py [--seed 19] [--families a,b] [--lmfit-python PY] [--nlsq-python PY]
             [--ms-subset n1/t0|all] [--out DIR] [--markdown FILE] [--reuse DIR]

Methods (every one given the data and the model only):
  nlsq auto     nlsqc.curve_fit(text, x, y, p0='auto')
  nlsq global64 nlsqc.curve_fit(text, x, y, global_starts=64) where curve_fit
                takes that keyword ("n/a" otherwise); global16 for the timing
  scipy         scipy.optimize.curve_fit(f, x, y): its default start (all ones)
  lmfit         lmfit built-in models started by their guess() (peer_lmfit.py)
  NLSQ auto     nlsq (JAX) curve_fit(f, x, y, p0='auto') (peer_nlsq.py)
  NLSQ ms16/64  multistart=True, n_starts=16/64 (p0=None: NLSQ 0.7.6's multi-start
                raises TypeError on p0='auto'); on the --ms-subset problems only
The peers run in their own Python (their own virtual environments) and
write JSON lines; a peer that cannot run is reported and left out.

Success: final cost (0.5 sum r^2 of the NumPy model at the method's
parameters; lmfit: of its own model, the same family) within 1e-6
relative of the best known cost for the problem (the best over all
methods and a fit started from the truth), plus an absolute floor of
1e-9 of the noise's expected cost (0.5 m sigma^2).
"""
import argparse
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problems as P  # noqa: E402

REL = 1e-6
ABS_FRACTION = 1e-9
HERE = os.path.dirname(os.path.abspath(__file__))


def nlsqc_global_keyword(nlsqc):
    """Whether nlsqc.curve_fit takes global_starts (another change adds
    it): in its signature, or read from **kwargs by the option code."""
    if "global_starts" in inspect.signature(nlsqc.curve_fit).parameters:
        return True
    for mod in ("_global", "_options", "_fit"):
        try:
            if "global_starts" in inspect.getsource(getattr(nlsqc, mod)):
                return True
        except (AttributeError, OSError, TypeError):
            pass
    return False


def run_nlsqc(nlsqc, prob, **kw):
    """One nlsqc fit: dict(popt, time, error, flagged)."""
    extra = {"vars": prob["vars"]} if prob["vars"] else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            r = nlsqc.curve_fit(prob["text"], prob["x"], prob["y"], **extra, **kw)
            out = {"popt": np.asarray(r.popt, dtype=float).tolist()}
        except Exception as e:  # a refused or failed fit is a miss, with its reason
            out = {"popt": None, "error": f"{type(e).__name__}: {e}"}
        out["time"] = time.perf_counter() - t0
    flags = [str(w.message) for w in caught if w.category.__name__ == "FitQualityWarning"]
    out["flagged"] = flags[0] if flags else None
    return out


def run_scipy(prob):
    import scipy.optimize
    f = P.numpy_function(prob["components"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        try:
            with np.errstate(all="ignore"):
                popt, _ = scipy.optimize.curve_fit(f, prob["x"], prob["y"], p0=np.ones(f.n_params))
            out = {"popt": np.asarray(popt).tolist()}
        except Exception as e:
            out = {"popt": None, "error": f"{type(e).__name__}: {e}"}
        out["time"] = time.perf_counter() - t0
    return out


def run_peer(python, script, dirpath, tag, args=()):
    """Run a peer in its own Python; its JSON lines -> {(problem, method): result}.
    None (and a note) when it cannot run."""
    if not python or not os.path.exists(python):
        print(f"note: {tag} cannot run: no Python for it ({python or 'not given'}); its columns are n/a",
              file=sys.stderr)
        return None
    out = os.path.join(dirpath, tag + ".jsonl")
    env = dict(os.environ)
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "PYTHONPATH"):
        env.pop(k, None)
    t0 = time.time()
    proc = subprocess.run([python, os.path.join(HERE, script), os.path.join(dirpath, "problems"), out, *args],
                          env=env)
    print(f"[{tag}: {time.time() - t0:.0f} s, exit {proc.returncode}]", file=sys.stderr)
    if not os.path.exists(out):
        print(f"note: {tag} wrote no results (exit {proc.returncode}); its columns are n/a", file=sys.stderr)
        return None
    return read_peer(out)


def read_peer(out):
    """A peer's JSON lines -> {(problem, method): result}."""
    res = {}
    with open(out) as fh:
        for line in fh:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            res[(d["problem"], d["method"])] = d
    return res


def fmt_t(s):
    if s is None or not math.isfinite(s):
        return "n/a"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=19)
    ap.add_argument("--families", default="")
    ap.add_argument("--lmfit-python", default="")
    ap.add_argument("--nlsq-python", default="")
    ap.add_argument("--ms-subset", default="n1/t0",
                    help="multi-starts (NLSQ's, nlsq's global) only on problems whose name ends so "
                         "(default n1/t0: one per family, the middle noise); 'all' for every problem")
    ap.add_argument("--out", default="")
    ap.add_argument("--markdown", default="", help="also write the tables to this file")
    ap.add_argument("--reuse", default="",
                    help="take the peers' results from an earlier run's --out directory (same seed and "
                         "problems) instead of running them: to measure a new nlsq against the same peers")
    a = ap.parse_args()

    import nlsqc
    probs = P.generate(a.seed, [f for f in a.families.split(",") if f] or None)
    dirpath = a.out or tempfile.mkdtemp(prefix="bench-global-")
    os.makedirs(dirpath, exist_ok=True)
    P.save(probs, os.path.join(dirpath, "problems"))
    have_global = nlsqc_global_keyword(nlsqc)
    print(f"{len(probs)} problems, {len(P.FAMILIES if not a.families else a.families.split(','))} families; "
          f"nlsqc global_starts: {'yes' if have_global else 'n/a (curve_fit has no such keyword)'}; data in {dirpath}",
          file=sys.stderr)
    ms_set = {p["name"] for p in probs if a.ms_subset == "all" or p["name"].endswith(a.ms_subset)}

    results = {}  # (problem, method) -> dict
    for i, prob in enumerate(probs):
        name = prob["name"]
        results[(name, "truth")] = run_nlsqc(nlsqc, prob, p0=prob["truth"])
        results[(name, "nlsq auto")] = run_nlsqc(nlsqc, prob, p0="auto")
        if have_global:  # 64 starts on every problem; 16 where NLSQ's multi-start runs (the timing)
            for k in ((16, 64) if name in ms_set else (64,)):
                r = run_nlsqc(nlsqc, prob, global_starts=k)
                if r["popt"] is None and "global_starts" in r.get("error", ""):
                    r = run_nlsqc(nlsqc, prob, p0="auto", global_starts=k)
                results[(name, f"nlsq global{k}")] = r
        results[(name, "scipy")] = run_scipy(prob)
        if i % 20 == 0:
            print(f"  nlsq/scipy {i}/{len(probs)}", file=sys.stderr)
    peers = {}
    ms_file = os.path.join(dirpath, "ms.json")
    with open(ms_file, "w") as fh:
        json.dump(sorted(ms_set), fh)
    if a.reuse:
        with open(os.path.join(a.reuse, "problems.json")) as fh:
            if [p["name"] for p in json.load(fh)] != [p["name"] for p in probs]:
                sys.exit(f"--reuse {a.reuse}: its problems are not these (seed, families)")
        for tag in ("lmfit", "NLSQ"):
            path = os.path.join(a.reuse, tag + ".jsonl")
            peers[tag] = read_peer(path) if os.path.exists(path) else None
            print(f"[{tag}: {'results of ' + path if peers[tag] else 'n/a: no ' + path}]", file=sys.stderr)
    else:
        peers["lmfit"] = run_peer(a.lmfit_python, "peer_lmfit.py", dirpath, "lmfit")
        peers["NLSQ"] = run_peer(a.nlsq_python, "peer_nlsq.py", dirpath, "NLSQ", (ms_file,))
    for res in peers.values():
        if res:
            results.update(res)
    with open(os.path.join(dirpath, "results.json"), "w") as fh:
        json.dump([dict(v, problem=k[0], method=k[1]) for k, v in results.items()], fh)

    methods = ["nlsq auto", "nlsq global64", "scipy", "lmfit", "NLSQ auto", "NLSQ ms16", "NLSQ ms64"]
    available = {"nlsq auto": True, "nlsq global64": have_global, "scipy": True, "lmfit": peers["lmfit"] is not None,
                 "NLSQ auto": peers["NLSQ"] is not None, "NLSQ ms16": peers["NLSQ"] is not None,
                 "NLSQ ms64": peers["NLSQ"] is not None}
    lines = report(probs, results, methods, available, have_global, ms_set, a)
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write(text + "\n")


def score(probs, results, methods):
    """(problem, method) -> (ok, cost or None, time or None); best costs."""
    best = {}
    costs = {}
    for prob in probs:
        name = prob["name"]
        b = math.inf
        for meth in methods + ["truth", "nlsq global16"]:
            r = results.get((name, meth))
            if r is None:
                continue
            if "cost" in r and r["cost"] is not None:   # lmfit: its own model's cost
                c = float(r["cost"])
            elif r.get("popt") is not None:
                c = P.cost(prob["components"], prob["x"], prob["y"], r["popt"])
            else:
                c = math.inf
            costs[(name, meth)] = c
            b = min(b, c)
        best[name] = b
    ok = {}
    for prob in probs:
        name = prob["name"]
        floor = ABS_FRACTION * 0.5 * prob["y"].size * prob["sigma"] ** 2
        for meth in methods + ["nlsq global16"]:
            if (name, meth) in costs:
                c = costs[(name, meth)]
                ok[(name, meth)] = c <= best[name] * (1 + REL) + floor
    return ok, costs, best


def report(probs, results, methods, available, have_global, ms_set, a):
    ok, costs, best = score(probs, results, methods)
    fams = list(dict.fromkeys(p["family"] for p in probs))
    L = []
    L.append(f"Problems: {len(probs)} ({len(fams)} families x {len(P.NOISE)} noise levels "
             f"{', '.join(f'{n:g}' for n in P.NOISE)} of the curve's range x {P.TRUTHS} truths), seed {a.seed}. "
             f"Success: cost within {REL:g} relative of the best known.")
    L.append("")
    cols = methods
    L.append("| family | n | " + " | ".join(cols) + " | lmfit start |")
    L.append("|---|---|" + "---|" * len(cols) + "---|")
    for fam in fams:
        ps = [p for p in probs if p["family"] == fam]
        cells = []
        for m in cols:
            if not available[m]:
                cells.append("n/a")
                continue
            done = [p for p in ps if (p["name"], m) in ok]
            if not done:
                cells.append("n/a")
                continue
            s = sum(ok[(p["name"], m)] for p in done)
            t = np.median([results[(p["name"], m)]["time"] for p in done])
            cells.append(f"{s}/{len(done)} · {fmt_t(t)}")
        L.append(f"| {fam} | {len(ps)} | " + " | ".join(cells) + f" | {P.lmfit_how(ps[0]['components'])} |")
    L.append("")
    L.append("Overall (time: per fit; ratio: the method's time / nlsq auto's on the same problems):")
    L.append("")
    L.append("| method | solved | rate | median time | total time | median ratio | total ratio |")
    L.append("|---|---|---|---|---|---|---|")
    base = {p["name"]: results[(p["name"], "nlsq auto")]["time"] for p in probs}
    for m in cols + (["nlsq global16"] if have_global else []):
        if not available.get(m, True):
            L.append(f"| {m} | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        done = [p["name"] for p in probs if (p["name"], m) in ok]
        if not done:
            L.append(f"| {m} | n/a | n/a | n/a | n/a | n/a | n/a |")
            continue
        s = sum(ok[(n, m)] for n in done)
        ts = np.array([results[(n, m)]["time"] for n in done])
        bs = np.array([base[n] for n in done])
        L.append(f"| {m} | {s}/{len(done)} | {100 * s / len(done):.1f}% | {fmt_t(np.median(ts))} | "
                 f"{fmt_t(ts.sum())} | {np.median(ts / bs):.1f}x | {ts.sum() / bs.sum():.1f}x |")
    # multi-start against multi-start at the same number of starts
    L.append("")
    if have_global and available["NLSQ ms16"]:
        L.append("Multi-start at the same number of starts (same problems; ratio NLSQ / nlsq):")
        L.append("")
        L.append("| starts | nlsq total | NLSQ total | ratio | nlsq solved | NLSQ solved |")
        L.append("|---|---|---|---|---|---|")
        for k in (16, 64):
            done = [n for n in ms_set if (n, f"nlsq global{k}") in ok and (n, f"NLSQ ms{k}") in ok]
            if not done:
                continue
            tn = sum(results[(n, f"nlsq global{k}")]["time"] for n in done)
            tj = sum(results[(n, f"NLSQ ms{k}")]["time"] for n in done)
            sn = sum(ok[(n, f"nlsq global{k}")] for n in done)
            sj = sum(ok[(n, f"NLSQ ms{k}")] for n in done)
            L.append(f"| {k} | {fmt_t(tn)} | {fmt_t(tj)} | {tj / tn:.1f}x | {sn}/{len(done)} | {sj}/{len(done)} |")
    else:
        L.append("Multi-start at the same number of starts: n/a (" +
                 ("nlsqc.curve_fit has no global_starts" if not have_global else "NLSQ did not run") + ").")
    # the misses of nlsq auto
    L.append("")
    L.append("nlsq auto misses (cost / best - 1; what the fit said):")
    L.append("")
    for p in probs:
        n = p["name"]
        if not ok.get((n, "nlsq auto"), True):
            r = results[(n, "nlsq auto")]
            c = costs[(n, "nlsq auto")]
            rel = c / best[n] - 1 if math.isfinite(c) else math.inf
            why = r.get("error") or (f"flagged: {r['flagged'][:150]}" if r.get("flagged") else "not flagged")
            L.append(f"- {n}: {rel:.3g}; {why}")
    return L


if __name__ == "__main__":
    main()
