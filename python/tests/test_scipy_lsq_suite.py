"""SciPy's own tests for least_squares (the installed SciPy's
scipy/optimize/tests/test_least_squares.py) run against nlsqc.least_squares.

The test module is imported as it is installed and its `least_squares`
patched to nlsqc's for each test; its classes (parametrised by method
through mixins) run through subclasses here for trf, dogbox and lm, and
its module-level tests through wrappers. Every test that cannot pass is
marked xfail (strict) below with the reason, also listed in
python/README.md ("SciPy's own tests"). Skipped with the reason when SciPy
or its test file is missing.
"""
import importlib

import pytest

import nlsqc

try:
    lsq_tests = importlib.import_module("scipy.optimize.tests.test_least_squares")
except Exception as e:  # noqa: BLE001 - SciPy absent, too old, or without its tests
    lsq_tests = None
    missing = f"SciPy's test_least_squares.py could not be imported ({type(e).__name__}: {e}); " \
              f"apt-get install python3-scipy"

if lsq_tests is None or not hasattr(lsq_tests, "TestTRF"):
    pytest.skip(missing if lsq_tests is None else "this SciPy's test_least_squares.py has no TestTRF",
                allow_module_level=True)

# (class, test name) -> why it cannot pass against nlsqc.least_squares
NOT_APPLICABLE: dict = {
    # none: TestLM::test_nfev_options passes since lm counts the callback's calls as MINPACK does
}


@pytest.fixture(autouse=True)
def scipy_least_squares_is_nlsqc(monkeypatch):
    monkeypatch.setattr(lsq_tests, "least_squares", nlsqc.least_squares)


def _expected_failure(cls, name, reason):
    original = getattr(cls, name)

    @pytest.mark.xfail(reason=reason, strict=True)
    def test(self):
        original(self)

    test.__name__ = name
    return test


class TestTRF(lsq_tests.TestTRF):
    """SciPy's TestTRF (BaseMixin, BoundsMixin, SparseMixin, LossFunctionMixin), unchanged."""


class TestDogbox(lsq_tests.TestDogbox):
    """SciPy's TestDogbox, unchanged."""


class TestLM(lsq_tests.TestLM):
    """SciPy's TestLM (BaseMixin and lm's refusals), unchanged."""


for (_cls, _name), _reason in NOT_APPLICABLE.items():
    _ours = globals()[_cls]
    setattr(_ours, _name, _expected_failure(_ours, _name, _reason))


def test_basic():
    lsq_tests.test_basic()


def test_small_tolerances_for_lm():
    lsq_tests.test_small_tolerances_for_lm()


def test_fp32_gh12991():
    lsq_tests.test_fp32_gh12991()


def test_the_whole_suite_is_collected():
    """Every test of SciPy's classes and module runs here."""
    for cls in ("TestTRF", "TestDogbox", "TestLM"):
        names = [n for n in dir(getattr(lsq_tests, cls)) if n.startswith("test")]
        assert len(names) >= 15
        assert all(callable(getattr(globals()[cls], n)) for n in names)
    module_tests = [n for n in dir(lsq_tests) if n.startswith("test_") and callable(getattr(lsq_tests, n))]
    assert sorted(module_tests) == ["test_basic", "test_fp32_gh12991", "test_small_tolerances_for_lm"]
