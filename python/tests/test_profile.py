"""Profile-likelihood intervals from Python (issue 20): result.profile(),
nlsqc.conf_interval and conf_interval2d over nlsq_profile. lmfit's
conf_interval values for the decay are frozen in tests/test_profile.c
(with the script that made them)."""
import numpy as np
import pytest

import nlsqc

stats = pytest.importorskip("scipy.stats")


def decay():
    i = np.arange(30)
    x = 0.25 * i
    return x, 3.0 * np.exp(-0.7 * x) + 0.5 + 0.08 * np.sin(0.37 * i * i + 1.3)


# lmfit 1.3.4 conf_interval(sigmas=[0.95]) on decay(): (lower, upper)
LMFIT_95 = {"A": (2.9467754387378946, 3.129732382940439), "k": (0.672060720954407, 0.7691606419686834),
            "c": (0.48319894787193696, 0.5678695471314881)}


def test_decay_matches_lmfit():
    x, y = decay()
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0])
    p = r.profile()
    assert set(p) == {"A", "k", "c"} and p.levels == [0.95] and p.test == "F"
    for name, (lo, hi) in LMFIT_95.items():
        assert p[name][0] == pytest.approx(lo, rel=5e-5)  # lmfit's brentq rtol
        assert p[name][1] == pytest.approx(hi, rel=5e-5)
        assert p.status[name] == [("ok", "ok")]
        values, chi2, prob = p.traces[name]
        assert np.all(np.diff(values) > 0) and chi2.min() == pytest.approx(r.chi2, rel=1e-9)
    # the same through the function, several levels
    q = nlsqc.conf_interval(r, "k", level=[0.6827, 0.95])
    assert list(q) == ["k"] and len(q["k"]) == 2 and q["k"][1] == pytest.approx(p["k"], abs=1e-3 * r.perr[1])
    assert q["k"][0][0] > q["k"][1][0] and q["k"][0][1] < q["k"][1][1]


def f_line(x, a, b):
    return a + b * x


def test_line_is_the_t_interval():
    rng = np.random.default_rng(3)
    x = np.linspace(0, 10, 25)
    y = 1.0 + 0.4 * x + rng.normal(0, 0.3, x.size)
    r = nlsqc.curve_fit(f_line, x, y)
    p = r.profile(level=0.9)
    t = stats.t.ppf(0.95, r.dof)
    for j, name in enumerate("ab"):
        assert p[name][0] == pytest.approx(r.popt[j] - t * r.perr[j], abs=2e-6 * r.perr[j])
        assert p[name][1] == pytest.approx(r.popt[j] + t * r.perr[j], abs=2e-6 * r.perr[j])


def test_absolute_sigma_is_delta_chi2():
    x, y = decay()
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0], sigma=np.full(x.size, 0.08), absolute_sigma=True)
    p = r.profile(["k"])
    assert p.test == "chi2" and p.delta_chi2[0] == pytest.approx(stats.chi2.ppf(0.95, 1), rel=1e-12)
    for v in p["k"]:
        held = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[r.popt[0], v, r.popt[2]], sigma=np.full(x.size, 0.08),
                               absolute_sigma=True, fixed=["k"])
        assert held.chi2 - r.chi2 == pytest.approx(stats.chi2.ppf(0.95, 1), abs=1e-4)


def test_bound_flagged():
    x, y = decay()
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0.5], bounds=([-np.inf] * 3, [np.inf, np.inf, 0.54]))
    p = r.profile("c")
    assert p["c"][1] == 0.54 and p.status["c"] == [("ok", "bound")]


def test_2d_grid():
    x, y = decay()
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0])
    g = r.profile2d("A", "k", nx=7, ny=5)
    assert g["chi2"].shape == (5, 7) and g["prob"].shape == (5, 7) and g["refits"] == 35 and g["failed"] == 0
    assert g["prob"][2, 3] == 0 and g["chi2"][2, 3] == pytest.approx(r.chi2, rel=1e-9)
    assert np.all(g["prob"] >= 0) and np.all(g["prob"] < 1)


# lmfit 1.3.4: conf_interval2d(mini, out, 'A', 'k', nx=5, ny=4,
# limits=((3.2, 2.9), (0.8, 0.65))) on decay() (its sigma grid; the chi2
# grid is in tests/test_profile.c)
LMFIT_2D_SIGMA = [[3.821450260685356, 3.0823553203420624, 3.2915384376678554, 4.313167628588534, 5.727869013675],
                  [3.1107544072888795, 1.4764197348409966, 1.002204532525216, 2.4800381160832123, 4.1974207115873385],
                  [3.873548499627229, 2.284897430657922, 1.2792462686263903, 2.0619219724486033, 3.614679775947335],
                  [5.39756737535686, 4.150078278852934, 3.3743497573182433, 3.4092511294765044, 4.234786967248352]]


def test_2d_matches_lmfit_conf_interval2d():
    x, y = decay()
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0])
    g = r.profile2d("A", "k", nx=5, ny=4, a_range=(2.9, 3.2), b_range=(0.65, 0.8))
    assert np.allclose(g["a_values"], np.linspace(2.9, 3.2, 5), rtol=0, atol=1e-15)
    assert np.allclose(g["sigma"], LMFIT_2D_SIGMA, rtol=1e-6)


def test_bad_input():
    x, y = decay()
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0.5], fixed=["c"])
    with pytest.raises(ValueError, match="no parameter named 'q'"):
        r.profile("q")
    with pytest.raises(ValueError, match=r"level 1.5 is outside \(0, 1\)"):
        r.profile(level=1.5)
    with pytest.raises(ValueError, match="'c' is fixed in the fit"):
        r.profile("c")
    with pytest.raises(ValueError, match="no parameter named 'z'"):
        r.profile2d("A", "z")
    assert set(r.profile()) == {"A", "k"}


def test_pickled_result_cannot_profile_but_pickles():
    import pickle
    x, y = decay()
    r = nlsqc.curve_fit("A*exp(-k*x) + c", x, y, p0=[1, 1, 0])
    r2 = pickle.loads(pickle.dumps(r))
    assert np.array_equal(r2.popt, r.popt)
    with pytest.raises(ValueError, match="cannot be profiled"):
        r2.profile()
