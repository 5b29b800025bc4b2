"""The .npz files of the NPZ tests (test_npz.c, test_npz_cli.sh,
python/tests/test_formats.py), written by NumPy at test time.

    /usr/bin/python3 tests/npz_files.py DIR [ROWS]

Writes into DIR: ref.f8 (the table x, y, s as ROWS x 3 little-endian
float64, C order: the values every reader must give exactly), data.npy and
data.csv (the same table), NumPy's own archives (s_*: numpy.savez, stored;
c_*: numpy.savez_compressed, deflated) in every layout, and malformed
archives (bad_*), some crafted byte by byte. Every value is a float32, so
the float32 members hold the same numbers. Exits 77 without NumPy.
"""
import io
import os
import struct
import sys
import warnings
import zipfile
import zlib

try:
    import numpy as np
except ImportError:
    print("numpy is not installed for", sys.executable)
    sys.exit(77)


class Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek back in: it writes data descriptors."""

    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def seekable(self):
        return False

    def write(self, b):
        return self.f.write(b)


def npy_bytes(a):
    bio = io.BytesIO()
    np.save(bio, a)
    return bio.getvalue()


def deflate(data):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def craft(path, entries, disk=0):
    """A ZIP archive byte by byte. Each entry: name, payload (the bytes as
    stored), method, size (declared), crc, and optionally flags, offset (the
    central directory's local header offset) and same_local_as (an earlier
    entry's index: no local header of its own)."""
    out = bytearray()
    offsets = []
    for e in entries:
        if "same_local_as" in e:
            offsets.append(offsets[e["same_local_as"]])
            continue
        offsets.append(len(out))
        name = e["name"].encode()
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, e.get("flags", 0), e["method"], 0, 0, e["crc"],
                           len(e["payload"]), e["size"], len(name), 0) + name + e["payload"]
    central = bytearray()
    for e, off in zip(entries, offsets):
        name = e["name"].encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, e.get("flags", 0), e["method"], 0, 0,
                               e["crc"], len(e["payload"]), e["size"], len(name), 0, 0, 0, 0, 0,
                               e.get("offset", off)) + name
    at = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, disk, disk, len(entries), len(entries), len(central), at, 0)
    with open(path, "wb") as f:
        f.write(out)


def main():
    d = sys.argv[1]
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 20000

    def p(name):
        return os.path.join(d, name)

    rng = np.random.default_rng(1234)
    f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    x = f32(10.0 * np.arange(m) / m)
    s = f32(0.02 + 0.03 * rng.random(m))
    y = f32(3.0 * np.exp(-0.7 * x) + 0.5 + s * (rng.random(m) - 0.5) * 3.4)
    t = np.stack([x, y, s], axis=1)
    t.astype("<f8").tofile(p("ref.f8"))
    np.save(p("data.npy"), t)
    with open(p("data.csv"), "w") as f:
        f.write("x,y,s\n")
        f.writelines(f"{a!r},{b!r},{c!r}\n" for a, b, c in t.tolist())

    for save, tag in ((np.savez, "s"), (np.savez_compressed, "c")):
        save(p(tag + "_f8.npz"), x=x, y=y, s=s)
        save(p(tag + "_mixed.npz"), x=x.astype(">f8"), y=y.astype("<f4"), s=s.astype(">f4"))
        save(p(tag + "_table_c.npz"), t=t)
        save(p(tag + "_table_f.npz"), t=np.asfortranarray(t.astype(">f4")))
        save(p(tag + "_split.npz"), xy=np.asfortranarray(t[:, :2]), s=s.astype("<f4"))
        save(p(tag + "_one.npz"), x=x[:, None], y=y, s=s)
        with open(p(tag + "_descriptor.npz"), "wb") as f:
            save(Unseekable(f), x=x, y=y, s=s)
        old = zipfile.ZIP64_LIMIT
        zipfile.ZIP64_LIMIT = 1  # ZIP64 sizes, offsets and end record, as a > 4 GiB archive has
        try:
            save(p(tag + "_zip64.npz"), x=x, y=y, s=s)
        finally:
            zipfile.ZIP64_LIMIT = old

    # x.npy written twice (an archive appended to): numpy.load reads the last
    with warnings.catch_warnings(), zipfile.ZipFile(p("dup.npz"), "w") as z:
        warnings.simplefilter("ignore")
        for name, a in (("x", s), ("y", y), ("s", s), ("x", x)):
            z.writestr(name + ".npy", npy_bytes(a))

    np.savez(p("scalar.npz"), x=x, y=y, s=s, temperature=np.float64(300.0))  # a scalar beside the columns
    np.savez(p("numbered.npz"), **{"2": x, "y": y, "1": s})  # names that look like column numbers

    # malformed, as NumPy or zipfile write them
    np.savez(p("bad_lengths.npz"), x=x, y=y[:-1], s=s)
    np.savez(p("bad_int.npz"), x=np.arange(m), y=y)
    with zipfile.ZipFile(p("bad_notnpy.npz"), "w") as z:
        z.writestr("x.npy", b"hello, not a .npy file")
        z.writestr("readme.txt", b"hello")
    with open(p("s_f8.npz"), "rb") as f:
        whole = f.read()
    with open(p("bad_truncated.npz"), "wb") as f:
        f.write(whole[: len(whole) // 2])
    with open(p("bad_empty.npz"), "wb") as f:
        f.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0, 0, 0, 0, 0))

    # crafted byte by byte
    small = npy_bytes(x[:100])
    crc = zlib.crc32(small)
    stored = dict(name="x.npy", payload=small, method=0, size=len(small), crc=crc)
    packed = deflate(small)
    craft(p("bad_bomb.npz"), [dict(name="x.npy", payload=deflate(small + bytes(1 << 20)), method=8, size=len(small),
                                   crc=crc)])
    craft(p("bad_crc.npz"), [dict(name="x.npy", payload=packed, method=8, size=len(small), crc=crc ^ 1)])
    garbled = bytearray(packed)
    for i in range(len(garbled) // 3, len(garbled) // 3 + 12):
        garbled[i] ^= 0x5A
    craft(p("bad_deflate.npz"), [dict(name="x.npy", payload=bytes(garbled), method=8, size=len(small), crc=crc)])
    craft(p("bad_deflate_short.npz"), [dict(name="x.npy", payload=packed[: len(packed) // 2], method=8,
                                            size=len(small), crc=crc)])
    craft(p("bad_encrypted.npz"), [dict(stored, flags=1)])
    craft(p("bad_method.npz"), [dict(name="x.npy", payload=packed, method=12, size=len(small), crc=crc)])
    craft(p("bad_multidisk.npz"), [stored], disk=1)
    craft(p("bad_offset.npz"), [dict(stored, offset=1 << 30)])
    craft(p("bad_overlap.npz"), [stored, dict(stored, name="y.npy", same_local_as=0)])
    craft(p("bad_stored_size.npz"), [dict(stored, size=len(small) + 800)])
    craft(p("bad_npy_short.npz"), [dict(name="x.npy", payload=small[:-16], method=0, size=len(small) - 16,
                                        crc=zlib.crc32(small[:-16]))])
    craft(p("bad_npy_short_deflated.npz"), [dict(name="x.npy", payload=deflate(small[:-16]), method=8,
                                                 size=len(small) - 16, crc=zlib.crc32(small[:-16]))])


main()
