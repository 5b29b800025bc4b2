"""bench/global peer: NLSQ, the JAX-based Python package `nlsq` (PyPI),
on the CPU: curve_fit(f, x, y, p0='auto') and its multi-start
(multistart=True, n_starts=16 and 64, its default sampler, p0=None:
p0='auto' raises TypeError there).
f is the same formulas as the NumPy reference (shapes.py) in jax.numpy;
the Voigt profile through Weideman's approximation of the Faddeeva
function (JAX has no wofz; agrees with SciPy's to ~1e-13). Each family
gets one function object, so NLSQ compiles it once per family and data
size: the first fit of a family includes that (as a user's first fit
does). Writes one JSON line per fit.

    peer_nlsq.py PROBLEMS OUT.jsonl MS.json    (MS.json: problems that also get the multi-starts)
"""
import json
import logging
import os
import sys
import time
import warnings

os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import jax.scipy.special as jss
        import nlsq
        from nlsq import curve_fit
    except ImportError as e:
        print(f"note: NLSQ (nlsq, JAX) is not installed in {sys.executable}: {e}", file=sys.stderr)
        sys.exit(2)
    import numpy as np
    import problems as P
    import shapes
    logging.disable(logging.CRITICAL)
    L, coef = shapes.weideman_coefficients()
    S = shapes.make(jnp, jss, wofz_re=shapes.jax_wofz_re(jnp, L, [complex(c) for c in coef]))
    probs = P.load(sys.argv[1])
    with open(sys.argv[3]) as fh:
        ms = set(json.load(fh))
    funcs = {}
    runs = [("NLSQ auto", {})] + [(f"NLSQ ms{k}", {"multistart": True, "n_starts": k}) for k in (16, 64)]
    print(f"  NLSQ {nlsq.__version__}, jax {jax.__version__}, {len(probs)} problems, multi-start on {len(ms)}",
          file=sys.stderr)
    with open(sys.argv[2], "w") as out:
        for i, prob in enumerate(probs):
            fam = prob["family"]
            if fam not in funcs:
                funcs[fam] = shapes.model_function(prob["components"], S)
            f = funcs[fam]
            x, y = np.asarray(prob["x"]), np.asarray(prob["y"])
            for meth, kw in runs:
                if meth != "NLSQ auto" and prob["name"] not in ms:
                    continue
                res = {"problem": prob["name"], "method": meth}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    try:
                        # NLSQ 0.7.6's multi-start fails on p0='auto' ("bad operand type for
                        # abs(): 'numpy.str_'"); with p0=None it estimates the start itself
                        r = curve_fit(f, x, y, p0=None if kw else "auto", **kw)
                        popt = np.asarray(r.popt if hasattr(r, "popt") else r[0], dtype=float)
                        res["popt"] = popt.tolist()
                    except Exception as e:
                        res["popt"] = None
                        res["error"] = f"{type(e).__name__}: {str(e)[:300]}"
                    res["time"] = time.perf_counter() - t0
                out.write(json.dumps(res) + "\n")
                out.flush()
            if i % 10 == 0:
                print(f"  NLSQ {i}/{len(probs)}", file=sys.stderr)


if __name__ == "__main__":
    main()
