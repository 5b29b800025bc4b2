#!/usr/bin/python3
"""Format bench/fit's RESULT lines (stdin) as a table: seconds per peer and
the ratio peer/nlsq (> 1: nlsq is faster); '*' marks a peer whose solution
differs from nlsq's by more than 1e-6 relative in some parameter."""
import sys

PEERS = ["nlsq", "nlsq-1t", "nlsq-interp-1t", "nlsq-jax", "nlsq-jax-first", "minpack", "gsl", "ceres", "scipy-lm", "scipy-trf", "scipy-lm-jac", "scipy-trf-jac"]
rows = {}
for line in sys.stdin:
    f = line.split()
    if not f or f[0] != "RESULT":
        continue
    model, m, peer, secs = f[1], int(f[2]), f[3], float(f[4])
    cell = rows.setdefault((model, m), {})
    if peer not in cell or secs < cell[peer][0]:  # repeated runs: the fastest
        cell[peer] = (secs, [float(v) for v in f[7:]])

print(f"{'model':<10} {'m':>9} " + " ".join(f"{p:>14}" for p in PEERS))
for (model, m) in sorted(rows):
    r = rows[(model, m)]
    base_t, base_p = r.get("nlsq", (None, None))
    cells = []
    for p in PEERS:
        failed = p + "(failed)" in r
        if p not in r:
            cells.append(f"{'failed' if failed else '-':>14}")
            continue
        t, pp = r[p]
        if p == "nlsq":
            cells.append(f"{t:>14.4g}")
            continue
        worst = max(abs(a - b) / max(abs(b), 1e-300) for a, b in zip(pp, base_p)) if base_p else 0
        cells.append(f"{t:>8.3g} {t / base_t:4.1f}x" + ("*" if worst > 1e-6 else " "))
    print(f"{model:<10} {m:>9} " + " ".join(cells))
print("\nseconds; for peers also the ratio peer/nlsq (> 1: nlsq faster); "
      "* = solution differs from nlsq's by > 1e-6 relative in some parameter")
print("\nnlsq's threads: speedup of all cores (nlsq) over one thread (nlsq-1t)")
for (model, m) in sorted(rows):
    r = rows[(model, m)]
    if "nlsq" in r and "nlsq-1t" in r:
        print(f"  {model:<10} {m:>9}  {r['nlsq-1t'][0] / r['nlsq'][0]:.2f}x")
