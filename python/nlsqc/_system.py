"""What nlsqc runs on: the library, its version, the devices."""
import ctypes
import os

import numpy

from . import _lib


def devices():
    """The devices nlsq can fit on: the CPU, then each CUDA GPU. Each is a
    dict with 'name' (what device= takes), 'kind' and a description; with
    no GPU, the CPU entry's 'gpu_note' says why there is none."""
    count = ctypes.c_int()
    why = ctypes.create_string_buffer(300)
    err = _lib.Error()
    gpus = (_lib.Device * 64)()
    st = _lib.lib.nlsq_device_list(gpus, 64, ctypes.byref(count), why, len(why), ctypes.byref(err))
    if st != _lib.OK:
        raise RuntimeError(_lib.text(err.message))
    cpu = {"name": "cpu", "kind": "cpu", "description": f"{os.cpu_count()} cores", "cores": os.cpu_count()}
    if count.value == 0:
        cpu["gpu_note"] = why.value.decode(errors="replace")
    out = [cpu]
    for k in range(min(count.value, 64)):
        d = gpus[k]
        out.append({"name": _lib.text(d.name), "kind": "cuda", "description": _lib.text(d.description),
                    "memory": d.memory, "compute_capability": (d.cc_major, d.cc_minor),
                    "multiprocessors": d.multiprocessors})
    return out


def info():
    """The package's and the library's versions and where the library is."""
    from . import __version__
    return {"nlsqc": __version__, "nlsq": _lib.text(_lib.lib.nlsq_version()), "library": _lib.path,
            "numpy": numpy.__version__}
