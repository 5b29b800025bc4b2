"""bench/global peer: lmfit (its built-in models started by guess();
problems.lmfit_model says how each family is started). Runs in the
Python that has lmfit; writes one JSON line per fit.

    peer_lmfit.py PROBLEMS OUT.jsonl
"""
import json
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import problems as P  # noqa: E402


def main():
    try:
        import lmfit
    except ImportError as e:
        print(f"note: lmfit is not installed in {sys.executable}: {e}", file=sys.stderr)
        sys.exit(2)
    probs = P.load(sys.argv[1])
    with open(sys.argv[2], "w") as out:
        for i, prob in enumerate(probs):
            x, y = prob["x"], prob["y"]
            two_d = x.ndim == 2
            res = {"problem": prob["name"], "method": "lmfit"}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                try:  # the start (guess) is part of the method: timed with the fit
                    with np.errstate(all="ignore"):
                        model, params = P.lmfit_model(prob["components"], x, y)
                        r = model.fit(y, params, x=x if two_d else x)
                    resid = np.asarray(r.residual, dtype=float)
                    c = 0.5 * float(np.dot(resid, resid))
                    res["cost"] = c if np.isfinite(c) else None
                    res["popt"] = None
                    res["lmfit_success"] = bool(r.success)
                except Exception as e:
                    res["cost"] = None
                    res["popt"] = None
                    res["error"] = f"{type(e).__name__}: {e}"
                res["time"] = time.perf_counter() - t0
            out.write(json.dumps(res) + "\n")
            out.flush()
            if i % 40 == 0:
                print(f"  lmfit {i}/{len(probs)} (lmfit {lmfit.__version__})", file=sys.stderr)


if __name__ == "__main__":
    main()
