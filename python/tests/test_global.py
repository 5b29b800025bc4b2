"""The global search from Python (issue 19): curve_fit(..., global_starts=N,
design=, seed=, global_method=) through nlsq_fit_global, the minima on the
result and in the infodict, and nlsqc.design."""
import numpy as np
import pytest

import nlsqc


def sine(n=400):
    x = np.linspace(0, 20, n)
    y = 1.3 * np.sin(2.7 * x + 0.4) + 0.02 * np.sin(31.0 * np.arange(n))
    return x, y


def f_sine(x, A, w, ph):
    return A * nlsqc.np.sin(w * x + ph)


def test_local_fit_misses_the_frequency_the_search_finds_it():
    x, y = sine()
    bounds = ([0, 0.1, -3.2], [3, 5, 3.2])
    local = nlsqc.curve_fit(f_sine, x, y, p0=[1, 1, 0], bounds=bounds)
    assert abs(local.popt[1] - 2.7) > 0.05  # else this is no test of the search
    r = nlsqc.curve_fit(f_sine, x, y, p0=[1, 1, 0], bounds=bounds, global_starts=32)
    assert r.popt[1] == pytest.approx(2.7, abs=1e-3)
    assert r.popt[0] == pytest.approx(1.3, abs=1e-2)
    g = r.global_search
    assert g["starts"] == 32 and g["method"] == "multistart" and g["design"] == "sobol"
    assert 1 <= g["at_best"] <= 32 and len(g["minima"]) >= 2
    best = g["minima"][0]
    assert best["cost"] == pytest.approx(r.cost, rel=1e-6)
    assert best["params"]["w"] == pytest.approx(2.7, abs=1e-3)
    assert sum(m["starts"] for m in g["minima"]) == 32
    costs = [m["cost"] for m in g["minima"]]
    assert costs == sorted(costs)
    # the same through model text, and in the infodict
    popt, pcov, info, mesg, ier = nlsqc.curve_fit("A*sin(w*x + ph)", x, y, p0=[1, 1, 0], bounds=bounds,
                                                  global_starts=32, full_output=True)
    np.testing.assert_array_equal(popt, r.popt)
    assert info["global"]["at_best"] == g["at_best"]


@pytest.mark.parametrize("design", ["sobol", "halton", "lhs"])
def test_designs_and_seeds(design):
    x, y = sine()
    kw = dict(p0=[1, 1, 0], bounds=([0, 0.1, -3.2], [3, 5, 3.2]), global_starts=48, design=design)
    a = nlsqc.curve_fit(f_sine, x, y, seed=3, **kw)
    b = nlsqc.curve_fit(f_sine, x, y, seed=3, **kw)
    np.testing.assert_array_equal(a.popt, b.popt)  # the seed alone fixes the answer
    assert a.global_search["design"] == design and a.global_search["seed"] == 3
    assert a.popt[1] == pytest.approx(2.7, abs=1e-3)


def test_same_bits_on_any_thread_count():
    x = np.linspace(0, 10, 50000)
    y = 2 * np.exp(-0.3 * x) + 0.5 * np.sin(1.7 * x) + 0.01 * np.sin(97.0 * np.arange(x.size))
    kw = dict(bounds=([0, 0, 0, 0.5], [5, 2, 2, 3]), global_starts=16, global_halving=False)
    rs = [nlsqc.curve_fit("a*exp(-b*x) + c*sin(w*x)", x, y, threads=t, **kw) for t in (1, 2, 4)]
    for r in rs[1:]:
        np.testing.assert_array_equal(r.popt, rs[0].popt)
        assert [m["cost"] for m in r.global_search["minima"]] == [m["cost"] for m in rs[0].global_search["minima"]]
    assert rs[0].popt[3] == pytest.approx(1.7, abs=1e-3)


def test_bimodal_minima_reported():
    x = np.arange(50) / 10.0
    y = 4 * x + 1 + 0.01 * np.sin(5.0 * np.arange(50))
    r = nlsqc.curve_fit("a^2*x + c", x, y, global_starts=16, search_bounds=([-5, -5], [5, 5]))
    mins = r.global_search["minima"]
    assert len(mins) == 2
    assert {round(m["params"]["a"], 3) for m in mins} == {-2.0, 2.0}
    assert mins[0]["cost"] == pytest.approx(mins[1]["cost"], rel=1e-6)
    assert r.global_search["at_best"] == 16


def test_not_global_has_no_summary():
    x, y = sine()
    r = nlsqc.curve_fit(f_sine, x, y, p0=[1.3, 2.7, 0.4])
    assert r.global_search is None


def test_bad_arguments():
    x, y = sine(50)
    with pytest.raises(ValueError, match="design"):
        nlsqc.curve_fit(f_sine, x, y, p0=[1, 1, 0], global_starts=4, design="grid")
    with pytest.raises(ValueError, match="global_method"):
        nlsqc.curve_fit(f_sine, x, y, p0=[1, 1, 0], global_starts=4, global_method="anneal")
    with pytest.raises(ValueError, match="global_starts"):
        nlsqc.curve_fit(f_sine, x, y, p0=[1, 1, 0], global_starts=0)


def test_design_function():
    d = nlsqc.design("sobol", 3, 8, seed=0)
    np.testing.assert_array_equal(d[:4], [[0, 0, 0], [0.5, 0.5, 0.5], [0.75, 0.25, 0.25], [0.25, 0.75, 0.75]])
    lhs = nlsqc.design("lhs", 4, 100, seed=9)
    for k in range(4):
        assert sorted((lhs[:, k] * 100).astype(int)) == list(range(100))


def test_sobol_matches_scipy():
    qmc = pytest.importorskip("scipy.stats.qmc")
    ours = nlsqc.design("sobol", 21, 256, seed=0)
    theirs = qmc.Sobol(21, scramble=False).random(256)
    np.testing.assert_array_equal(ours, theirs)


def test_fixed_parameter_and_sigma():
    x, y = sine()
    sigma = 0.02 + 0.01 * (np.arange(x.size) % 3)
    bounds = ([0, 0.1, -3.2], [3, 5, 3.2])
    r = nlsqc.curve_fit(f_sine, x, y, p0=[1, 1, 0.4], bounds=bounds, sigma=sigma, fixed=["ph"], global_starts=24)
    assert r.popt[2] == 0.4  # held
    assert r.popt[1] == pytest.approx(2.7, abs=1e-3)
    # the refined fit is curve_fit's from the best start: the same answer from there
    again = nlsqc.curve_fit(f_sine, x, y, p0=r.global_search["minima"][0]["popt"], bounds=bounds, sigma=sigma,
                            fixed=["ph"])
    np.testing.assert_allclose(again.popt, r.popt, rtol=1e-9)
    assert r.global_search["search_lower"][2] == r.global_search["search_upper"][2] == 0.4


def test_halving_from_python():
    x = np.linspace(0, 1000, 120000)
    y = 1200 * np.exp(-0.5 * ((x - 532) / 8.5) ** 2) + 40 + 3 * np.sin(0.37 * np.arange(x.size))
    bounds = ([0, 0, 0.5, -100], [3000, 1000, 100, 200])
    r = nlsqc.curve_fit("A*exp(-0.5*((x-mu)/s)^2) + c", x, y, bounds=bounds, global_starts=32)
    g = r.global_search
    assert g["rungs"] >= 2 and g["sample_points"] < x.size  # on by default from 10^5 points
    assert r.popt[1] == pytest.approx(532, abs=0.01)
    off = nlsqc.curve_fit("A*exp(-0.5*((x-mu)/s)^2) + c", x, y, bounds=bounds, global_starts=32,
                          global_halving=False)
    assert off.global_search["rungs"] == 0
    assert r.cost == pytest.approx(off.cost, rel=1e-9)
