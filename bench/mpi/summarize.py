#!/usr/bin/env python3
"""bench/mpi: the tables of docs/benchmarks.md ("MPI") from bench/mpi.sh's output.

    bench/mpi.sh ... | tee log;  python3 bench/mpi/summarize.py log

Medians over the repeats; efficiency is the threaded single process's time
a pass at the same cores (ranks x threads) over the group's. Every run of a
model must give the same cost, parameters and pcov[0][0], bit for bit.
Then the point-to-point table and the model of one pass on 1000 nodes.
"""
import math
import statistics
import sys

# Bytes of one tree node: the (n+1)^2 doubles of a triangle and the pass's
# sums (two compensated sums, counts, the runs test: 120 bytes, struct
# pass_sums in src/exec/pass.c).
SUMS_BYTES = 120
MAX_CHUNKS = 4096  # pass_chunk_points: a pass has at most 4096 chunks


def parse(path):
    fits, pings, notes = [], [], []
    for line in open(path):
        words = line.split()
        if not words:
            continue
        if words[0] in ("RESULT", "PINGPONG"):
            d = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            (fits if words[0] == "RESULT" else pings).append(d)
        elif words[0] in ("machine:", "load", "wrote", "repeat"):
            notes.append(line.rstrip())
    return fits, pings, notes


def med(rows, key):
    return statistics.median(float(r[key]) for r in rows)


def fit_tables(fits):
    """One table a file size: medians (and the best run) of every
    configuration, efficiency from the medians."""
    for m in sorted({int(r["m"]) for r in fits}, reverse=True):
        fit_table([r for r in fits if int(r["m"]) == m], m)
    bits = {}
    for r in fits:
        bits.setdefault((r["model"], r["m"]), set()).add((r["cost"], r["popt"], r["pcov00"], r["passes"]))
    for (model, m), s in sorted(bits.items()):
        runs = sum(1 for r in fits if r["model"] == model and r["m"] == m)
        print("%s, m=%s: %s over %d runs" % (model, m, "the same bits in every run (cost, popt, pcov[0][0], passes)"
                                             if len(s) == 1 else "DIFFERENT BITS: %r" % sorted(s), runs))
    print()


def fit_table(fits, m):
    groups = {}
    for r in fits:
        k = (r["model"], r["transport"], int(r["ranks"]), int(r["threads"]))
        groups.setdefault(k, []).append(r)
    single = {(k[0], k[3]): med(v, "per_pass") for k, v in groups.items() if k[1] == "-"}
    print("m = %d points:" % m)
    print()
    print("| model | transport | ranks x threads | runs | time a pass: median (best) | passes | messages a pass "
          "| bytes a pass | group seconds a pass: least / most waiting rank | efficiency vs threaded |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    order = sorted(groups, key=lambda k: (k[0], k[2] * k[3], k[1] != "-", k[1], k[2]))
    for k in order:
        v = groups[k]
        model, transport, ranks, threads = k
        pp = med(v, "per_pass")
        best = min(float(r["per_pass"]) for r in v)
        cores = ranks * threads
        eff = ""
        if transport != "-" and (model, cores) in single:
            eff = "%.0f%%" % (100 * single[(model, cores)] / pp)
        comm = ""
        if transport != "-":
            comm = "%.3f / %.3f ms" % (1e3 * med(v, "comm_min_per_pass"), 1e3 * med(v, "comm_max_per_pass"))
        print("| %s | %s | %d x %d | %d | %.4g s (%.4g s) | %s | %s | %s | %s | %s |" % (
            model, "threads only" if transport == "-" else transport, ranks, threads, len(v), pp, best, v[0]["passes"],
            "%.1f" % med(v, "msgs_per_pass") if transport != "-" else "",
            "%.0f" % med(v, "bytes_per_pass") if transport != "-" else "", comm, eff))
    print()


def ping_table(pings):
    rows = {}
    for p in pings:
        rows.setdefault((p["transport"], p["via"]), {})[int(p["bytes"])] = float(p["one_way_us"])
    sizes = sorted({int(p["bytes"]) for p in pings})
    print("| transport | through | " + " | ".join(human(s) for s in sizes) + " |")
    print("|---|---|" + "---|" * len(sizes))
    for (t, via), d in sorted(rows.items()):
        print("| %s | %s | " % (t, "MPI_Send/Recv" if via == "mpi" else "nlsq group") +
              " | ".join("%.1f us" % d[s] if s in d else "" for s in sizes) + " |")
    print()
    fits = {}
    for key, d in rows.items():
        # latency: the quickest message of 1 KB or less; bandwidth: the
        # best of the messages of 32 KB and more (a loaded machine slows
        # some sizes; the best is the transport's)
        lat = min(t for b, t in d.items() if b <= 1024) * 1e-6
        bw = max(b / (t * 1e-6) for b, t in d.items() if b >= 32768)
        fits[key] = (lat, bw)
        print("%s via %s: latency %.1f us, bandwidth %.0f MB/s" % (key[0], key[1], lat * 1e6, bw / 1e6))
    print()
    return fits


def human(b):
    return "%d B" % b if b < 1024 else "%d KB" % (b // 1024) if b < 1 << 20 else "%d MB" % (b >> 20)


def pass_model(nodes, n, lat, bw):
    """Seconds of communication on the critical path of one pass over
    `nodes` ranks, from src/exec/tree.c and src/fit/fit_source.c:
    the chunk tree has ceil(log2 C) levels (C <= 4096 chunks) and each rank
    receives at most one node a level (only its span's last node can have
    its right half on another rank), so at most ceil(log2 C) node messages
    lie on the path to rank 0; the root's broadcast is log2 P steps of a
    node; group_pass_failed's agreement is a binomial reduction of an int
    and its broadcast (2 log2 P small messages); the per-iteration stop
    agreement (forward_callback, src/fit/problem.c) is another 2 log2 P."""
    node = 8 * (n + 1) ** 2 + SUMS_BYTES
    levels = math.ceil(math.log2(MAX_CHUNKS))
    lp = math.ceil(math.log2(nodes))
    t_node = lat + node / bw
    t_small = lat + 4 / bw
    return levels * t_node + lp * t_node + 4 * lp * t_small, node, levels, lp


def model_table(fits):
    cases = [("InfiniBand-like (assumed: 1.5 us, 10 GB/s)", 1.5e-6, 10e9)]
    for key in sorted(fits):
        lat, bw = fits[key]
        cases.append(("measured here: %s via %s (%.1f us, %.0f MB/s)" % (key[0], key[1], lat * 1e6, bw / 1e6),
                      lat, bw))
    print("| network | n | node message | pass on 1000 nodes: communication |")
    print("|---|---|---|---|")
    for name, lat, bw in cases:
        for n in (3, 10):
            t, node, levels, lp = pass_model(1000, n, lat, bw)
            print("| %s | %d | %d B | %.3f ms (%d tree levels + %d broadcast steps + %d small messages) |" % (
                name, n, node, t * 1e3, levels, lp, 4 * lp))
    print()


def main():
    fits, pings, notes = parse(sys.argv[1])
    for n in notes:
        if not n.startswith("repeat"):
            print(n)
    print()
    if fits:
        fit_tables(fits)
    if pings:
        model_table(ping_table(pings))


if __name__ == "__main__":
    main()
