"""Builds libnlsq with CMake (or takes $NLSQ_LIBRARY) into the package.

The package itself is pure Python over ctypes; the one binary it carries
is the C library, built from the source tree this file sits in, exactly
as for C users (`cmake`, Release). Set NLSQ_LIBRARY=/path/libnlsq.so to
package a library already built instead.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def project_version():
    """CMake's project version, the one place nlsq's version is written
    ($NLSQ_VERSION when packaging from a copy without the source tree)."""
    if os.environ.get("NLSQ_VERSION"):
        return os.environ["NLSQ_VERSION"]
    try:
        with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
            found = re.search(r"project\(nlsq\s+VERSION\s+([0-9.]+)", f.read())
    except OSError:
        found = None
    if not found:
        sys.exit("nlsqc: no version: build from the nlsq source tree or set NLSQ_VERSION")
    return found.group(1)


def build_library(dest):
    given = os.environ.get("NLSQ_LIBRARY")
    if given:
        if not os.path.isfile(given):
            sys.exit(f"NLSQ_LIBRARY={given}: no such file")
        shutil.copyfile(given, dest)
        copy_mpi_library(os.path.dirname(given), dest)
        return
    if not os.path.isfile(os.path.join(ROOT, "CMakeLists.txt")):
        sys.exit(f"nlsqc: no nlsq source tree at {ROOT} to build libnlsq from; install from the nlsq checkout "
                 "(pip install ./python) or set NLSQ_LIBRARY to a built libnlsq.so")
    if shutil.which("cmake") is None:
        sys.exit("nlsqc: building libnlsq needs CMake and a C compiler (Debian: apt-get install cmake gcc)")
    jobs = str(os.cpu_count() or 2)
    with tempfile.TemporaryDirectory(prefix="nlsqc-build-") as tmp:
        subprocess.check_call(["cmake", "-S", ROOT, "-B", tmp, "-DCMAKE_BUILD_TYPE=Release"])
        subprocess.check_call(["cmake", "--build", tmp, "--target", "nlsq", "-j", jobs])
        shutil.copyfile(os.path.realpath(os.path.join(tmp, "libnlsq.so")), dest)
        # libnlsq_mpi exists only where CMake found an MPI: its absence is no error
        subprocess.call(["cmake", "--build", tmp, "--target", "nlsq_mpi", "-j", jobs], stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
        copy_mpi_library(tmp, dest)


def copy_mpi_library(folder, dest):
    """libnlsq_mpi (comm=, nlsqc.mpi) from folder into the package beside
    libnlsq, when it was built there."""
    found = os.path.join(folder, "libnlsq_mpi.so")
    if os.path.isfile(found):
        shutil.copyfile(os.path.realpath(found), os.path.join(os.path.dirname(dest), "libnlsq_mpi.so.0"))


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        pkg = os.path.join(self.build_lib, "nlsqc")
        os.makedirs(pkg, exist_ok=True)
        build_library(os.path.join(pkg, "libnlsq.so.0"))


class BinaryDistribution(Distribution):
    """The wheel carries a shared library: tag it for this platform."""

    def has_ext_modules(self):
        return True


setup(version=project_version(), cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
