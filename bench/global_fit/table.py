#!/usr/bin/python3
"""bench/global_fit's table: reads the RESULT, SKIP and MACHINE lines run.sh
collected (stdin) and prints three Markdown tables: seconds with the ratios
peer/nlsq (> 1: nlsq is faster, both measured in this run), peak RSS, and
agreement (final cost, k0 and Ea against nlsq on 2 threads, else the first
tool present)."""
import sys

TOOLS = ["nlsq-1t", "nlsq-2t", "ceres-1t", "ceres-2t", "scipy-sparse", "scipy-fd", "scipy-dense"]
HEAD = {"nlsq-1t": "nlsq 1t", "nlsq-2t": "nlsq 2t", "ceres-1t": "Ceres 1t", "ceres-2t": "Ceres 2t",
        "scipy-sparse": "SciPy sparse", "scipy-fd": "SciPy sparse FD", "scipy-dense": "SciPy dense"}
RATIOS = [("scipy-sparse", "nlsq-2t", "SciPy sparse / nlsq 2t"), ("scipy-fd", "nlsq-2t", "SciPy FD / nlsq 2t"),
          ("ceres-2t", "nlsq-2t", "Ceres 2t / nlsq 2t"), ("ceres-1t", "nlsq-1t", "Ceres 1t / nlsq 1t")]


def parse(stream):
    res, machine = {}, {}
    for line in stream:
        words = line.split()
        if not words or words[0] not in ("RESULT", "SKIP", "MACHINE", "LOAD"):
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[0] in ("MACHINE", "LOAD"):
            machine.update(kv)
        else:
            kv["kind"] = words[0]
            res[(kv["tool"], int(kv["D"]))] = kv
    return res, machine


def skip_text(why):
    return "skip: " + why.replace("_", " ")


def row(cells):
    return "| " + " | ".join(cells) + " |"


def main():
    res, machine = parse(sys.stdin)
    sizes = sorted({d for _, d in res})
    tools = [t for t in TOOLS if any((t, d) in res for d in sizes)]
    if machine:
        print(f"Machine: {machine.get('cores')} cores, {machine.get('cpu', '?').replace('_', ' ')}, "
              f"{machine.get('mem_gb')} GB, load average {machine.get('load_start', '?')} at the start and "
              f"{machine.get('end', '?')} at the end; a case is skipped past {machine.get('limit_s')} s "
              f"or {machine.get('mem_cap_mb')} MB (predicted from the previous D).\n")

    tols = sorted({r["tol"] for (t, _), r in res.items() if t.startswith("nlsq") and "tol" in r})
    if tols:
        print(f"nlsq's tolerances: {', '.join(tols)} (SciPy and Ceres: 1e-8).\n")

    def cell(t, d, key, fmt):
        r = res.get((t, d))
        if r is None:
            return "n/a"
        if r["kind"] == "SKIP":
            return skip_text(r["why"])
        return fmt(float(r[key]))

    ratios = [(a, b, name) for a, b, name in RATIOS if a in tools and b in tools]
    print("Wall time of the fit (s):\n")
    print(row(["D", "unknowns"] + [HEAD[t] for t in tools] + [n for _, _, n in ratios]))
    print(row(["---"] * (2 + len(tools) + len(ratios))))
    for d in sizes:
        cells = [str(d), str(3 * d + 2)] + [cell(t, d, "seconds", lambda v: f"{v:.3g}") for t in tools]
        for a, b, _ in ratios:
            ra, rb = res.get((a, d)), res.get((b, d))
            ok = ra and rb and ra["kind"] == rb["kind"] == "RESULT"
            cells.append(f"{float(ra['seconds']) / float(rb['seconds']):.3g}x" if ok else "n/a")
        print(row(cells))

    print("\nPeak RSS of the process (MB; data included):\n")
    print(row(["D"] + [HEAD[t] for t in tools]))
    print(row(["---"] * (1 + len(tools))))
    for d in sizes:
        print(row([str(d)] + [cell(t, d, "rss_mb", lambda v: f"{v:.0f}") for t in tools]))

    print("\nAgreement: final cost (1/2 sum r^2), and max(|dk0|/k0, |dEa|/Ea) against the reference:\n")
    print(row(["D", "reference", "its cost", "its k0", "its Ea"] + [HEAD[t] for t in tools]))
    print(row(["---"] * (5 + len(tools))))
    for d in sizes:
        done = [t for t in tools if (t, d) in res and res[(t, d)]["kind"] == "RESULT"]
        if not done:
            continue
        ref = "nlsq-2t" if "nlsq-2t" in done else done[0]
        r0 = res[(ref, d)]
        k0, Ea, c0 = float(r0["k0"]), float(r0["Ea"]), float(r0["cost"])
        cells = [str(d), HEAD[ref], f"{c0:.10g}", f"{k0:.8g}", f"{Ea:.8g}"]
        for t in tools:
            r = res.get((t, d))
            if r is None or r["kind"] != "RESULT":
                cells.append("n/a")
                continue
            dk = max(abs(float(r["k0"]) - k0) / abs(k0), abs(float(r["Ea"]) - Ea) / abs(Ea))
            dc = (float(r["cost"]) - c0) / c0
            cells.append(f"{dk:.1e} (cost {dc:+.1e})")
        print(row(cells))


if __name__ == "__main__":
    main()
