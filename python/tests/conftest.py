import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def shared_data():
    env = os.environ.get("NLSQ_TESTDATA")
    return os.path.join(env if env else os.path.join(ROOT, os.pardir, "shared", "data"), "nist")


@pytest.fixture
def nist_dir():
    d = shared_data()
    if not os.path.isfile(os.path.join(d, "Misra1a.dat")):
        pytest.skip(f"NIST data not found (looked in {d}; set NLSQ_TESTDATA to the folder holding nist/)")
    return d
