"""The HDF5 rows of bench/large.sh, with h5py (Debian python3-h5py).

  hdf5_large.py write NPY OUT.h5 LAYOUT   x and y of the benchmark's
        Fortran-order .npy as datasets /x and /y; LAYOUT chunked (1 MiB
        chunks, uncompressed) or deflate (the same chunks, shuffle and
        deflate level 1)
  hdf5_large.py read OUT.h5 [REPEAT]      h5py reading /x and /y whole, a
        window of 2^22 rows at a time into one buffer (what a pass needs:
        every value once), REPEAT times; one RESULT line with the time per
        read and the peak RSS
"""
import resource
import sys
import time

import h5py
import numpy as np

WINDOW = 1 << 22
CHUNK = 1 << 17  # 1 MiB of float64


def write(npy, out, layout):
    a = np.load(npy, mmap_mode="r")
    m = a.shape[0]
    kw = {"chunks": (CHUNK,)}
    if layout == "deflate":
        kw.update(compression="gzip", compression_opts=1, shuffle=True)
    t0 = time.time()
    with h5py.File(out, "w") as f:
        for c, name in enumerate(("x", "y")):
            d = f.create_dataset(name, shape=(m,), dtype="f8", **kw)
            for first in range(0, m, WINDOW):
                d[first : first + WINDOW] = a[first : first + WINDOW, c]
    print(f"wrote {out} ({layout}) in {time.time() - t0:.1f} s")


def read(path, repeat):
    buf = np.empty(WINDOW)
    with h5py.File(path, "r") as f:
        m = f["x"].shape[0]
        times = []
        for _ in range(repeat):
            t0 = time.time()
            total = 0.0
            for name in ("x", "y"):
                d = f[name]
                for first in range(0, m, WINDOW):
                    n = min(WINDOW, m - first)
                    d.read_direct(buf, np.s_[first : first + n], np.s_[0:n])
                    total += buf[0]
            times.append(time.time() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RESULT h5py-read file={path.rsplit('/', 1)[-1]} m={m} per_read={min(times):.4f} "
          f"mean={sum(times) / len(times):.4f} rss_mb={rss:.1f}")


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        read(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 3)
