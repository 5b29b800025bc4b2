"""Write the HDF5 test files with h5py (an independent writer) into DIR.

test_hdf5_write.py DIR: exit 77 with the reason when h5py is missing.
Writes
  types.h5     every numeric dtype in both byte orders, 1-D and 2-D (rows, 3),
               in each layout (contiguous, chunked, deflate, shuffle+deflate,
               fletcher32, scaleoffset), and one long chunked, deflated dataset;
               with manifest.txt: "DATASET EXPECTED.npy" a line, the expected
               values as float64 (for a 2-D dataset, rows x 3 in C order)
  fit.h5, fit.npy, fit.csv      the same x, y, sigma (a fit bitwise the same)
  scan.nxs     NeXus: root @default -> entry @default -> data, @signal, @axes,
               counts_errors
  old.nxs      the older conventions: signal=1 and axes="t" on the dataset
  utf8.nxs     scan.nxs's attributes as fixed-length UTF-8 strings
  classes.nxs  no @default: the first NXentry and NXdata by class
  noaxis.nxs   @axes "." (no axis); nodefault.h5 plain datasets only
  bad_*.h5     the malformed cases (see the end of this file)
"""
import os
import sys

try:
    import numpy as np
    import h5py
except ImportError as e:  # pragma: no cover
    print(f"SKIP: h5py or numpy missing ({e}); Debian: apt-get install python3-h5py")
    sys.exit(77)

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(21)
N = 1000

DTYPES = ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8"]
LAYOUTS = {
    "contiguous": {},
    "chunked": {"chunks": True},
    "deflate": {"compression": "gzip", "compression_opts": 6},
    "shuffle_deflate": {"compression": "gzip", "shuffle": True},
    "fletcher32": {"fletcher32": True, "chunks": (128,)},
    "scaleoffset": {"scaleoffset": 0},
}


def values(dt, shape):
    dt = np.dtype(dt)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        # the whole range, both ends included
        v = rng.integers(info.min, info.max, size=shape, dtype=dt.newbyteorder("="), endpoint=True).astype(dt)
        v.flat[0], v.flat[1] = info.min, info.max
        return v
    v = (rng.standard_normal(shape) * 1000).astype(dt)
    v.flat[0] = np.finfo(dt).max
    v.flat[1] = np.finfo(dt).tiny
    v.flat[2] = np.nan
    v.flat[3] = -np.inf
    v.flat[4] = -0.0
    return v


manifest = []
written = []
with h5py.File(os.path.join(out, "types.h5"), "w") as f:
    for layout, kw in LAYOUTS.items():
        g = f.create_group(layout)
        for base in DTYPES:
            for order in "<>":
                dt = np.dtype(order + base)
                if layout == "scaleoffset" and base == "f2":
                    continue  # the library has no scale-offset for half floats
                if layout == "scaleoffset" and dt.kind == "f":
                    kw2 = {"scaleoffset": 3}  # lossy for floats: D digits kept
                else:
                    kw2 = dict(kw)
                name = f"{base}{'be' if order == '>' else 'le'}"
                for shape, pre in (((N,), "d_"), ((N, 3), "t_")):
                    v = values(dt, shape)
                    if layout == "scaleoffset" and dt.kind == "f":
                        v = np.nan_to_num(v, nan=1.5, posinf=2.5, neginf=-2.5)
                        v.flat[0] = 12345.678
                    k = dict(kw2)
                    if "chunks" in k and k["chunks"] not in (True, None) and len(shape) == 2:
                        k["chunks"] = (128, 3)
                    g.create_dataset(pre + name, data=v, **k)
                    fn = f"exp_{layout}_{pre}{name}.npy"
                    lossy = layout == "scaleoffset" and dt.kind == "f"
                    np.save(os.path.join(out, fn), v.astype(np.float64))
                    written.append((f"/{layout}/{pre}{name}", fn, lossy))
    # szip and n-bit, where this h5py has them
    if h5py.h5z.filter_avail(h5py.h5z.FILTER_SZIP):
        for base in ("i4", "f4", "f8"):
            v = values(np.dtype(">" + base), (N,))
            f.create_dataset(f"szip_{base}", data=v, compression="szip", chunks=(100,))
            np.save(os.path.join(out, f"exp_szip_{base}.npy"), v.astype(np.float64))
            written.append((f"/szip_{base}", f"exp_szip_{base}.npy", False))
    if h5py.h5z.filter_avail(h5py.h5z.FILTER_NBIT):
        v = rng.integers(-1000, 1000, size=N, dtype="i4")
        space = h5py.h5s.create_simple((N,))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_chunk((128,))
        dcpl.set_filter(h5py.h5z.FILTER_NBIT, h5py.h5z.FLAG_OPTIONAL, ())
        tid = h5py.h5t.STD_I32LE.copy()
        tid.set_precision(12)  # 12 of the 32 bits kept: -2048..2047
        h5py.h5d.create(f.id, b"nbit_i4", tid, space, dcpl=dcpl).write(h5py.h5s.ALL, h5py.h5s.ALL, v)
        np.save(os.path.join(out, "exp_nbit_i4.npy"), v.astype(np.float64))
        written.append(("/nbit_i4", "exp_nbit_i4.npy", False))
    big = rng.standard_normal(200003).astype(">f4")
    f.create_dataset("long", data=big, chunks=(4096,), compression="gzip", shuffle=True)
    np.save(os.path.join(out, "exp_long.npy"), big.astype(np.float64))
    written.append(("/long", "exp_long.npy", False))
# the lossy scale-offset floats: what the file holds, read back once the
# file is closed (an open file would answer from its chunk cache)
with h5py.File(os.path.join(out, "types.h5"), "r") as f:
    for path, fn, lossy in written:
        back = f[path][...].astype(np.float64)
        want = np.load(os.path.join(out, fn))
        if lossy:
            assert np.allclose(back, want, atol=1e-3 * (1 + np.abs(want))), path
            np.save(os.path.join(out, fn), back)
        else:
            assert np.array_equal(back, want, equal_nan=True), path
        manifest.append(f"{path} {fn}")
with open(os.path.join(out, "manifest.txt"), "w") as m:
    m.write("\n".join(manifest) + "\n")

# the same fit from three formats
x = np.linspace(0, 10, 2001)
y = 2.5 * np.exp(-0.3 * x) + 0.05 * np.sin(5 * x) + 0.02 * np.cos(17.3 * x)
s = 0.01 + 0.001 * x
with h5py.File(os.path.join(out, "fit.h5"), "w") as f:
    f.create_dataset("x", data=x)
    f.create_dataset("y", data=y, chunks=(256,), compression="gzip")
    f.create_dataset("sigma", data=s.astype(">f8"))
    f.create_dataset("table", data=np.stack([x, y, s], 1), chunks=(100, 3))
np.save(os.path.join(out, "fit.npy"), np.stack([x, y, s], 1))
with open(os.path.join(out, "fit.csv"), "w") as c:
    c.write("x,y,sigma\n")
    for a, b, e in zip(x, y, s):
        c.write(f"{a!r},{b!r},{e!r}\n")


def nxdata(parent, name, signal=True, axes=True, errors=True, cls="NXdata"):
    d = parent.create_group(name)
    d.attrs["NX_class"] = cls
    if signal:
        d.attrs["signal"] = "counts"
    if axes:
        d.attrs["axes"] = ["t"] if axes is True else axes
    d["t"] = x
    d["counts"] = y
    if errors:
        d["counts_errors"] = s
    return d


with h5py.File(os.path.join(out, "scan.nxs"), "w") as f:
    f.attrs["default"] = "entry2"
    e1 = f.create_group("entry1")
    e1.attrs["NX_class"] = "NXentry"
    d = e1.create_group("data")
    d.attrs["NX_class"] = "NXdata"
    d["t"] = x * 0  # a decoy: the default is entry2
    e = f.create_group("entry2")
    e.attrs["NX_class"] = "NXentry"
    e.attrs["default"] = "plot"
    e.create_group("other").attrs["NX_class"] = "NXdata"
    nxdata(e, "plot")
with h5py.File(os.path.join(out, "old.nxs"), "w") as f:
    e = f.create_group("entry")
    e.attrs["NX_class"] = np.bytes_(b"NXentry")  # fixed-length strings
    d = e.create_group("data")
    d.attrs["NX_class"] = np.bytes_(b"NXdata")
    d["t"] = x
    d["counts"] = y
    d["counts"].attrs["signal"] = np.int32(1)
    d["counts"].attrs["axes"] = np.bytes_(b"t")
    d["errors"] = s
with h5py.File(os.path.join(out, "utf8.nxs"), "w") as f:
    # every attribute a fixed-length UTF-8 string, as some writers make them
    def utf8(obj, name, value):
        vals = value if isinstance(value, list) else [value]
        dt = h5py.string_dtype("utf-8", max(len(v) for v in vals) + 3)
        data = np.array([v.encode() for v in vals], dtype=dt)
        obj.attrs.create(name, data if isinstance(value, list) else data[0], dtype=dt)
    utf8(f, "default", "entry")
    e = f.create_group("entry")
    utf8(e, "NX_class", "NXentry")
    utf8(e, "default", "plot")
    d = nxdata(e, "plot")
    for k in ("NX_class", "signal", "axes"):
        del d.attrs[k]
    utf8(d, "NX_class", "NXdata")
    utf8(d, "signal", "counts")
    utf8(d, "axes", ["t"])
with h5py.File(os.path.join(out, "classes.nxs"), "w") as f:
    f.create_group("aaa")  # not an entry
    e = f.create_group("scan")
    e.attrs["NX_class"] = "NXentry"
    nxdata(e, "counts_vs_t", errors=False)
with h5py.File(os.path.join(out, "noaxis.nxs"), "w") as f:
    f.attrs["default"] = "entry"
    e = f.create_group("entry")
    e.attrs["NX_class"] = "NXentry"
    e.attrs["default"] = "data"
    nxdata(e, "data", axes=["."])
with h5py.File(os.path.join(out, "image.nxs"), "w") as f:
    e = f.create_group("entry")
    e.attrs["NX_class"] = "NXentry"
    d = e.create_group("data")
    d.attrs["NX_class"] = "NXdata"
    d.attrs["signal"] = "img"
    d.attrs["axes"] = ["a", "b"]
    d["img"] = np.zeros((5, 4))
    d["a"] = np.arange(5.0)
    d["b"] = np.arange(4.0)
with h5py.File(os.path.join(out, "nodefault.h5"), "w") as f:
    f["a/x"] = x
    f["a/y"] = y
    f["b/img"] = np.zeros((4, 4, 4))

# malformed
with h5py.File(os.path.join(out, "bad.h5"), "w") as f:
    f["x"] = x
    f["short"] = x[:-1]
    f["cube"] = np.zeros((2, 2, 2))
    f["scalar"] = 1.0
    f["text"] = np.array([b"a", b"b"])
    f["vtext"] = np.array(["a", "b"], dtype=h5py.string_dtype())
    f["compound"] = np.zeros(3, dtype=[("a", "f8"), ("b", "i4")])
    f.create_dataset("enum", data=np.zeros(3, dtype="i1"), dtype=h5py.enum_dtype({"A": 0, "B": 1}, basetype="i1"))
    f.create_dataset("empty", shape=(0,), dtype="f8")
    f.create_dataset("empty2", shape=(5, 0), dtype="f8")
    f.create_group("grp")
    if h5py.h5z.filter_avail(h5py.h5z.FILTER_LZF):
        f.create_dataset("lzf", data=x, compression="lzf")  # h5py's own filter: not in the HDF5 library
    f.create_dataset("refs", data=[f["x"].ref], dtype=h5py.ref_dtype)
raw = open(os.path.join(out, "fit.h5"), "rb").read()
open(os.path.join(out, "truncated.h5"), "wb").write(raw[: len(raw) // 2])
open(os.path.join(out, "head.h5"), "wb").write(raw[:600])
mid = bytearray(raw)
for i in range(len(mid) // 2 - 2000, len(mid) // 2 + 2000):
    mid[i] = (mid[i] * 7 + 13) & 0xFF
open(os.path.join(out, "corrupt.h5"), "wb").write(bytes(mid))
meta = bytearray(raw)
for i in range(96, 1200):  # the superblock's neighbours: object headers, B-trees
    meta[i] ^= 0x5A
open(os.path.join(out, "corrupt_meta.h5"), "wb").write(bytes(meta))
# one chunk damaged: a deflated one (inflated by nlsq) and a fletcher32 one
# (checked by the library)
with h5py.File(os.path.join(out, "fit.h5"), "r") as f:
    at = f["y"].id.get_chunk_info(3).byte_offset
chunk = bytearray(raw)
for i in range(at + 10, at + 40):
    chunk[i] ^= 0xFF
open(os.path.join(out, "badchunk.h5"), "wb").write(bytes(chunk))
with h5py.File(os.path.join(out, "badsum.h5"), "w") as f:
    f.create_dataset("x", data=x, chunks=(256,), fletcher32=True)
    at = f["x"].id.get_chunk_info(2).byte_offset
summed = bytearray(open(os.path.join(out, "badsum.h5"), "rb").read())
summed[at + 100] ^= 0x01
open(os.path.join(out, "badsum.h5"), "wb").write(bytes(summed))
print("written", out)
