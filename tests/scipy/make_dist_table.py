"""Writes tests/data/dist_ref.h: quantiles and distribution functions of the
normal, t, chi-square and F distributions to 40 digits by mpmath (SciPy's own
t and F are off by up to 1e-9 relative at moderate degrees of freedom, so
they are not the reference). Needs mpmath (pip install mpmath). Run from the
repository root: python3 tests/scipy/make_dist_table.py"""
import mpmath as mp
from scipy import stats

mp.mp.dps = 40


def norm_cdf(x):
    return mp.ncdf(x)


def t_cdf(t, nu):
    x = nu / (nu + t * t)
    tail = mp.betainc(nu / 2, mp.mpf(1) / 2, 0, x, regularized=True) / 2
    return tail if t < 0 else 1 - tail


def chi2_cdf(x, k):
    return mp.gammainc(k / 2, 0, x / 2, regularized=True)


def f_cdf(x, d1, d2):
    u = d1 * x
    return mp.betainc(d1 / 2, d2 / 2, 0, u / (u + d2), regularized=True)


def quantile(tail, q, x0):
    """The x where the decreasing function tail(x) equals q: secant steps on
    log(tail) - log(q) from SciPy's value x0, which is good to many digits."""
    q = mp.mpf(q)
    g = lambda u: mp.log(tail(mp.exp(u))) - mp.log(q)  # in u = log x: x stays > 0
    u0 = mp.log(mp.mpf(x0))
    u1 = u0 * (1 + mp.mpf(10) ** -9) + mp.mpf(10) ** -12
    g0, g1 = g(u0), g(u1)
    for _ in range(60):
        if g1 == 0 or g1 == g0 or abs(g1) < mp.mpf(10) ** -36:
            break
        u0, u1 = u1, u1 - g1 * (u1 - u0) / (g1 - g0)
        g0, g1 = g1, g(u1)
    u = u1
    assert abs(g(u)) < mp.mpf(10) ** -30, (q, x0, u, g(u))
    return mp.exp(u)


rows = []
for p in [1e-300, 1e-100, 1e-20, 1e-8, 0.001, 0.025, 0.1587, 0.3, 0.7, 0.975, 0.999, 1 - 1e-10]:
    P = mp.mpf(p)
    P = mp.mpf(p)
    tail = P if P < 0.5 else 1 - P
    q = quantile(lambda x: norm_cdf(-x), tail, -stats.norm.ppf(float(tail)))
    rows.append(("normal_q", p, 0, 0, -q if P < 0.5 else q))
for x in [-38, -10, -3, -1, 0, 0.5, 2, 8.2]:
    rows.append(("normal_c", x, 0, 0, norm_cdf(mp.mpf(x))))
for nu in [0.5, 1, 2, 3, 7.5, 30, 1000, 1e6]:
    NU = mp.mpf(nu)
    for p in [1e-12, 0.005, 0.025, 0.16, 0.8, 0.975, 0.9995]:
        P = mp.mpf(p)
        tail = P if P < 0.5 else 1 - P
        q = quantile(lambda x: t_cdf(-x, NU), tail, -stats.t.ppf(float(tail), nu))
        rows.append(("t_q", p, nu, 0, -q if P < 0.5 else q))
    for t in [-50, -3, -0.1, 0, 0.7, 2.5, 12]:
        rows.append(("t_c", t, nu, 0, t_cdf(mp.mpf(t), NU)))
for k in [0.3, 1, 2, 5, 17, 100, 1e4]:
    K = mp.mpf(k)
    for p in [1e-10, 0.01, 0.3, 0.5, 0.683, 0.95, 0.9973, 1 - 1e-9]:
        q = quantile(lambda x: 1 - chi2_cdf(x, K), 1 - mp.mpf(p), stats.chi2.ppf(p, k)) if p > 0.5 else \
            quantile(lambda x: 1 / chi2_cdf(x, K), 1 / mp.mpf(p), stats.chi2.ppf(p, k))
        rows.append(("chi2_q", p, k, 0, q))
    for x in [1e-5, 0.5, 3, 20, 150, 12000]:
        rows.append(("chi2_c", x, k, 0, chi2_cdf(mp.mpf(x), K)))
for d1, d2 in [(1, 1), (1, 10), (3, 50), (1, 1e5), (10, 4), (2.5, 7.5)]:
    D1, D2 = mp.mpf(d1), mp.mpf(d2)
    for p in [1e-8, 0.05, 0.5, 0.683, 0.95, 0.999]:
        q = quantile(lambda x: 1 - f_cdf(x, D1, D2), 1 - mp.mpf(p), stats.f.ppf(p, d1, d2)) if p > 0.5 else \
            quantile(lambda x: 1 / f_cdf(x, D1, D2), 1 / mp.mpf(p), stats.f.ppf(p, d1, d2))
        rows.append(("f_q", p, d1, d2, q))
    for x in [1e-4, 0.3, 1, 4, 60]:
        rows.append(("f_c", x, d1, d2, f_cdf(mp.mpf(x), D1, D2)))
with open("tests/data/dist_ref.h", "w") as f:
    f.write("/* Reference values to 40 digits from mpmath (normal, t, chi2, F: quantiles\n"
            "   and cdfs), written by tests/scipy/make_dist_table.py. */\n")
    for what, a, d1, d2, v in rows:
        f.write('{"%s", %.17g, %.17g, %.17g, %s},\n' % (what, a, d1, d2, mp.nstr(v, 20, min_fixed=0, max_fixed=0) if abs(v) > mp.mpf(10) ** -300 else "0"))
