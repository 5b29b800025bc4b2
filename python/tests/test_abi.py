"""The ctypes structs against include/nlsq.h: a C program prints every
struct's size and every field's offset, which must match ours."""
import ctypes
import os
import shutil
import subprocess

import pytest

import nlsqc
from nlsqc import _lib

from conftest import ROOT


def test_struct_layouts(tmp_path):
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to read the header's layouts with")
    # nlsq.h includes nlsq_version.h, which CMake makes in the build tree
    made = [d for d in (os.environ.get("NLSQ_BUILD_DIR"), os.path.join(ROOT, "build")) if d]
    made = [os.path.join(d, "include") for d in made if os.path.isfile(os.path.join(d, "include", "nlsq_version.h"))]
    if not made:
        pytest.skip("no build tree with include/nlsq_version.h (set NLSQ_BUILD_DIR to the CMake build folder)")
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "nlsq.h"', 'int main(void) {']
    for cls, cname in _lib.ABI_STRUCTS.items():
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
        for field, _ in cls._fields_:
            cfield = _lib.ABI_FIELD_NAMES.get((cname, field), field)
            lines.append(f'printf("{cname}.{field} %zu\\n", offsetof({cname}, {cfield}));')
    lines.append("return 0; }")
    src = tmp_path / "abi.c"
    src.write_text("\n".join(lines))
    exe = tmp_path / "abi"
    subprocess.check_call([cc, "-std=c11", "-I", os.path.join(ROOT, "include"), "-I", made[0], str(src), "-o", str(exe)])
    out = dict(line.rsplit(" ", 1) for line in subprocess.check_output([str(exe)], text=True).splitlines())
    for cls, cname in _lib.ABI_STRUCTS.items():
        assert int(out[cname]) == ctypes.sizeof(cls), f"sizeof({cname})"
        for field, _ in cls._fields_:
            assert int(out[f"{cname}.{field}"]) == getattr(cls, field).offset, f"{cname}.{field}"


def test_info_and_devices():
    i = nlsqc.info()
    assert i["nlsq"] == i["nlsqc"] == nlsqc.__version__
    assert os.path.isfile(i["library"])
    devs = nlsqc.devices()
    assert devs[0]["name"] == "cpu" and devs[0]["cores"] >= 1
    for d in devs[1:]:
        assert d["name"].startswith("cuda:") and d["memory"] > 0
    if len(devs) == 1:
        assert devs[0]["gpu_note"]  # why there is no GPU
