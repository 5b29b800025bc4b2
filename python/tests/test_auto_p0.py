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


def test_auto_searches_what_it_cannot_estimate():
    x, y = peak_on_background()
    plain = "A*exp(-0.5*((x-mu)/s)^2) + c"
    r = nlsqc.curve_fit(plain, x, y, p0="auto")
    assert r.global_search is not None and r.global_search["starts"] == 64
    assert r.success and r.diagnostics.trusted
    assert r.params["mu"] == pytest.approx(532, abs=0.1) and abs(r.params["s"]) == pytest.approx(8.5, abs=0.2)
    # the same from a traced function, a value given by name kept as the first start
    f = lambda x, A, mu, s, c: A * np.exp(-0.5 * ((x - mu) / s) ** 2) + c  # noqa: E731
    t = nlsqc.curve_fit(f, x, y, p0={"c": 50.0})
    assert t.global_search is not None and t.cost == pytest.approx(r.cost, rel=1e-9)
    # a product of shapes is not a sum: searched as well
    assert nlsqc.curve_fit("gaussian(x) * linear(x)", x, y, p0="auto").global_search is not None
    # SciPy's default (no p0) stays SciPy's rule: no search
    assert nlsqc.curve_fit(plain, x, y).global_search is None


def test_auto_refuses_what_it_cannot_take():
    x, y = peak_on_background()
    with pytest.raises(ValueError, match="not parameters of the model"):
        nlsqc.curve_fit("gaussian(x) + linear(x)", x, y, p0={"mu": 5})
    with pytest.raises(ValueError, match="or 'auto'"):
        nlsqc.curve_fit("gaussian(x) + linear(x)", x, y, p0="guess")


def surface():
    g = np.linspace(-3, 3, 30)
    X, Y = np.meshgrid(g, g)
    z = 5 * np.exp(-((X - 0.5) ** 2 / (2 * 0.8 ** 2) + (Y + 0.3) ** 2 / (2 * 1.3 ** 2))) + 1
    return np.vstack([X.ravel(), Y.ravel()]), z.ravel()


def test_a_surface_written_in_x_and_y_needs_no_vars():
    xy, z = surface()
    r = nlsqc.curve_fit("gaussian2d(x, y) + constant(x)", xy, z, p0="auto")
    p = r.params
    assert r.success
    assert (p["gaussian2d1_amplitude"], p["gaussian2d1_centerx"], p["gaussian2d1_centery"]) == \
        pytest.approx((5, 0.5, -0.3), abs=1e-6)
    assert sorted([abs(p["gaussian2d1_sigmax"]), abs(p["gaussian2d1_sigmay"])]) == pytest.approx([0.8, 1.3], abs=1e-6)
    # named rows x0, x1 still work, and vars may be a list as params may
    assert nlsqc.model("x0 + a*x1", nvars=2).var_names == ("x0", "x1")
    s = nlsqc.curve_fit("gaussian2d(u, v) + constant(u)", xy, z, p0="auto", vars=["u", "v"])
    np.testing.assert_allclose(s.popt, r.popt, rtol=1e-9)


def test_auto_search_has_room_for_many_parameters():
    # 22 free parameters: more than Sobol's 21 dimensions, so the automatic
    # search takes Halton (an explicit design='sobol' would be refused)
    x = np.linspace(0, 10, 200)
    y = 2 * np.sin(1.7 * x) + 0.5
    text = " + ".join(f"p{i}*sin({0.3 * (i + 1)}*x)" for i in range(22))
    r = nlsqc.curve_fit(text, x, y, p0="auto")
    assert r.global_search["design"] == "halton" and r.global_search["starts"] == 64
    s = nlsqc.curve_fit("a*sin(w*x) + c", x, y, p0="auto")
    assert s.global_search["design"] == "sobol"
    assert abs(s.params["w"]) == pytest.approx(1.7, abs=1e-9) and s.params["c"] == pytest.approx(0.5, abs=1e-9)
