"""p0='auto' (issue 19): start values estimated from the data for model
text made of library shapes, the named values kept."""
import numpy as np
import pytest

import nlsqc


def peak_on_background():
    """The issue's case: a Gaussian peak at 532, width 8.5, ~1200 counts on
    a sloped background, 301 points."""
    rng = np.random.default_rng(19)
    x = np.linspace(400, 700, 301)
    y = 1200 * np.exp(-0.5 * ((x - 532) / 8.5) ** 2) + 50 + 0.1 * x + rng.normal(0, 10, x.size)
    return x, y


def test_auto_start_reaches_the_fit_from_the_truth():
    x, y = peak_on_background()
    r = nlsqc.curve_fit("gaussian(x) + linear(x)", x, y, p0="auto")
    truth = nlsqc.curve_fit("gaussian(x) + linear(x)", x, y,
                            p0=[1200 * 8.5 * np.sqrt(2 * np.pi), 532, 8.5, 0.1, 50])
    assert r.success and r.diagnostics.trusted
    np.testing.assert_allclose(r.popt, truth.popt, rtol=1e-6)
    assert r.cost == pytest.approx(truth.cost, rel=1e-9)
    # SciPy's rule (all ones) fails on this model: the peak's columns vanish
    assert r.params["gaussian1_center"] == pytest.approx(532, abs=0.1)


def test_named_values_are_kept_and_the_rest_estimated():
    x, y = peak_on_background()
    r = nlsqc.curve_fit("gaussian(x) + linear(x)", x, y, p0={"gaussian1_sigma": 30.0}, fixed=["gaussian1_sigma"])
    assert r.params["gaussian1_sigma"] == 30.0  # held where given, far from the data's 8.5
    assert r.params["gaussian1_center"] == pytest.approx(532, abs=1)


def test_auto_refuses_what_it_cannot_estimate():
    x, y = peak_on_background()
    with pytest.raises(ValueError, match="not the sum of its library components"):
        nlsqc.curve_fit("gaussian(x) * linear(x)", x, y, p0="auto")
    with pytest.raises(ValueError, match="no library components"):
        nlsqc.curve_fit("A*exp(-0.5*((x-mu)/s)^2) + c", x, y, p0="auto")
    with pytest.raises(ValueError, match="not parameters of the model"):
        nlsqc.curve_fit("gaussian(x) + linear(x)", x, y, p0={"mu": 5})
    with pytest.raises(ValueError, match="or 'auto'"):
        nlsqc.curve_fit("gaussian(x) + linear(x)", x, y, p0="guess")
