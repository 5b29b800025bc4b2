"""Issue 19, honest verdicts: result.diagnostics on every fit, and
FitQualityWarning when a fit converged but cannot be trusted -- silent on
a good fit."""
import warnings

import numpy as np
import pytest

import nlsqc


def gaussian(x, A, mu, s, c):
    return A * np.exp(-0.5 * ((x - mu) / s) ** 2) + c


def peak_data():
    """The issue's peak: 301 points, x = 382 .. 682, at 532, width 8.5,
    counts ~1200 on a background of 100, Poisson-like noise."""
    rng = np.random.default_rng(19)
    x = np.arange(382.0, 683.0)
    mean = gaussian(x, 1200, 532, 8.5, 100)
    return x, mean + np.sqrt(mean) * rng.normal(size=x.size)


def test_issue19_fit_quality_warning_is_a_documented_user_warning():
    assert issubclass(nlsqc.FitQualityWarning, UserWarning)
    # not an OptimizeWarning: SciPy's tests that make OptimizeWarning an error are not hit by it
    assert not issubclass(nlsqc.FitQualityWarning, nlsqc.OptimizeWarning)
    assert "FitQualityWarning" in nlsqc.__all__ and nlsqc.FitQualityWarning.__doc__


def test_issue19_gaussian_from_all_ones_warns_with_the_parameters_named():
    x, y = peak_data()
    with pytest.warns(nlsqc.FitQualityWarning) as record:
        r = nlsqc.curve_fit(gaussian, x, y)
    assert r.success  # the solver stopped by a tolerance ...
    d = r.diagnostics
    assert not d.trusted  # ... and the result is wrong
    assert d.no_influence == ["A", "mu", "s"] and d.not_moved == ["A", "mu", "s"]
    assert {"no_influence", "not_moved", "no_explanation"} <= set(d.findings)
    assert d.influence["A"] == 0 and d.influence["c"] == 1 and d.rank == 1
    assert d.residuals_tested and d.runs_z < -10
    message = str([w for w in record if w.category is nlsqc.FitQualityWarning][0].message)
    assert "'A', 'mu' and 's' have no influence" in message and "R^2 = " in message
    assert "p0='auto'" in message
    assert all(key in d.messages for key in d.findings)


def test_issue19_good_fit_is_silent_and_trusted():
    x, y = peak_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = nlsqc.curve_fit(gaussian, x, y, p0=[1000, 530, 10, 50])
    d = r.diagnostics
    assert d.trusted and d.findings == [] and d.flags == 0
    assert d.rank == 4 and 1 <= d.cond < 100
    assert abs(d.runs_z) < 4 and abs(d.lag1) < 0.5
    assert d.as_dict()["trusted"] is True


def test_issue19_least_squares_model_warns_too():
    x, y = peak_data()
    with pytest.warns(nlsqc.FitQualityWarning):
        out = nlsqc.least_squares_model(gaussian, [1, 1, 1, 1], x, y)
    assert not out.fit.diagnostics.trusted


def test_issue19_correlation_and_bound_are_cautions_not_warnings():
    x = np.linspace(1e3, 1e3 + 1, 60)
    y = 2 * (x - 1e3) + 5 + 0.01 * np.cos(13 * np.arange(60) ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", nlsqc.FitQualityWarning)
        r = nlsqc.curve_fit(lambda x, b, a: b + a * x, x, y, p0=[-1995, 2])
    d = r.diagnostics
    assert d.trusted and "correlated" in d.findings
    assert len(d.correlated) == 1 and d.correlated[0][:2] == ("b", "a") and d.correlated[0][2] < -0.99
    with warnings.catch_warnings():
        warnings.simplefilter("error", nlsqc.FitQualityWarning)
        r = nlsqc.curve_fit(lambda x, a: a * x, x - 1e3 + 0.1, y - 5, p0=[0.5], bounds=(0, 1.5))
    assert r.diagnostics.at_bound == ["a"] and r.diagnostics.trusted


def test_issue19_callback_path_is_diagnosed():
    x, y = peak_data()

    def untraceable(x, A, mu, s, c):  # np.asarray: not traceable, called back
        return np.asarray(gaussian(x, A, mu, s, c))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", nlsqc.FallbackWarning)
        with pytest.warns(nlsqc.FitQualityWarning):
            r = nlsqc.curve_fit(untraceable, x, y)
    assert not r.diagnostics.trusted and "no_influence" in r.diagnostics.findings



def test_issue19_batch_says_which_fits_to_trust():
    x = np.arange(60.0)
    y = gaussian(x, 5, 30, 4, 1) + 0.01 * np.cos(13 * x ** 2)
    # the second fit starts with its peak at -50: its columns are 0 on the data
    p0 = np.array([[4, 29, 3, 1], [4, -50, 1, 1]], dtype=float)
    r = nlsqc.fit_batch("A*exp(-0.5*((x-mu)/s)^2)+c", x, np.stack([y, y]), p0=p0)
    assert r.success.tolist() == [True, True]
    assert r.trusted.tolist() == [True, False]
    assert r.diag_flags[1] & 2 and r.diag_flags[1] & 4  # no_influence, not_moved


def test_issue19_curve_fit_large_warns_too():
    x, y = peak_data()
    with pytest.warns(nlsqc.FitQualityWarning):
        r = nlsqc.curve_fit_large("A*exp(-0.5*((x-mu)/s)^2)+c", x, y)
    assert not r.diagnostics.trusted and r.diagnostics.no_influence == ["A", "mu", "s"]


def test_issue19_rank_deficiency_names_the_combination():
    x = np.linspace(0, 4, 40)
    y = 2 * np.exp(-0.7 * x) + 0.01 * np.sin(3 * np.arange(40))
    with pytest.warns(nlsqc.FitQualityWarning, match="'b' and 'c' enter in a combination"):
        r = nlsqc.curve_fit(lambda x, a, b, c: a * np.exp(-(b + c) * x), x, y, p0=[1, 0.2, 0.3], method="trf")
    assert r.diagnostics.undetermined == ["b", "c"] and r.diagnostics.rank == 2
