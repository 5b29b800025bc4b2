"""The model library's shapes written once over an array namespace, so
that the same formulas serve NumPy (the reference that scores every
method, SciPy's model) and JAX (the NLSQ peer's model). Parameter names
and order are nlsq's (`build/tools/nlsq models`).

    S = make(numpy, scipy.special)         # S["gaussian"](x, amplitude, center, sigma)
"""
import math

# shape -> parameter names, in nlsq's order (checked against the library in problems.check_names)
PARAMS = {
    "constant": ("c",),
    "linear": ("slope", "intercept"),
    "polynomial2": ("c0", "c1", "c2"),
    "polynomial3": ("c0", "c1", "c2", "c3"),
    "exponential": ("amplitude", "decay"),
    "stretched_exponential": ("amplitude", "tau", "beta"),
    "power_law": ("amplitude", "exponent"),
    "gaussian": ("amplitude", "center", "sigma"),
    "lorentzian": ("amplitude", "center", "sigma"),
    "voigt": ("amplitude", "center", "sigma", "gamma"),
    "pseudo_voigt": ("amplitude", "center", "sigma", "fraction"),
    "pearson7": ("amplitude", "center", "sigma", "expon"),
    "skewed_gaussian": ("amplitude", "center", "sigma", "gamma"),
    "exp_gaussian": ("amplitude", "center", "sigma", "gamma"),
    "logistic": ("amplitude", "center", "sigma"),
    "logistic4": ("bottom", "top", "ec50", "hill"),
    "logistic5": ("bottom", "top", "ec50", "hill", "asymmetry"),
    "hill": ("vmax", "k", "n"),
    "michaelis_menten": ("vmax", "km"),
    "arrhenius": ("amplitude", "activation"),
    "damped_sine": ("amplitude", "frequency", "phase", "decay"),
    "erf_step": ("amplitude", "center", "sigma"),
    "lognormal": ("amplitude", "center", "sigma"),
    "moffat": ("amplitude", "center", "sigma", "beta"),
    "gaussian2d": ("amplitude", "centerx", "centery", "sigmax", "sigmay", "theta"),
}
TWO_D = {"gaussian2d"}

SQRT2 = math.sqrt(2.0)
SQRT2PI = math.sqrt(2.0 * math.pi)


def weideman_coefficients(n=40):
    """Coefficients of Weideman's rational approximation of the Faddeeva
    function w(z) (SIAM J. Numer. Anal. 31, 1994) for JAX, which has no
    wofz; with n = 40 it agrees with scipy.special.wofz to ~1e-13 in the
    upper half plane (checked in problems.selfcheck)."""
    import numpy as np
    m = 2 * n
    L = math.sqrt(n / math.sqrt(2.0))
    k = np.arange(-m + 1, m)
    t = L * np.tan(k * np.pi / (2 * m))
    f = np.concatenate([[0.0], np.exp(-t * t) * (L * L + t * t)])
    a = np.real(np.fft.fft(np.fft.fftshift(f))) / (2 * m)
    return L, a[1:n + 1][::-1].copy()


def make(xp, special, wofz_re=None):
    """{shape: f(x, *params)} (gaussian2d: f(x, y, *params)) over the
    array namespace xp (numpy or jax.numpy) and its special functions
    (erf, erfc, gammaln). wofz_re(u, v) = Re w(u + iv); None: scipy's."""
    erf, erfc, gammaln = special.erf, special.erfc, special.gammaln
    if wofz_re is None:
        wofz_re = lambda u, v: special.wofz(u + 1j * v).real  # noqa: E731

    def gauss_kernel(x, c, s):
        return xp.exp(-(x - c) ** 2 / (2 * s * s))

    def voigt(x, a, c, s, g):
        return a * wofz_re((x - c) / (s * SQRT2), g / (s * SQRT2)) / (s * SQRT2PI)

    def pseudo_voigt(x, a, c, s, f):
        sg = s / math.sqrt(2 * math.log(2))
        return (1 - f) * a / (sg * SQRT2PI) * gauss_kernel(x, c, sg) + f * a / math.pi * s / ((x - c) ** 2 + s * s)

    def pearson7(x, a, c, s, e):
        norm = xp.exp(gammaln(e - 0.5) + gammaln(0.5) - gammaln(e))
        return a / (s * norm) * (1 + ((x - c) / s) ** 2 * (2 ** (1 / e) - 1)) ** (-e)

    def exp_gaussian(x, a, c, s, g):
        return a * g / 2 * xp.exp(g * (c - x + g * s * s / 2)) * erfc((c + g * s * s - x) / (SQRT2 * s))

    def gaussian2d(x, y, a, cx, cy, sx, sy, th):
        dx, dy = x - cx, y - cy
        ct, st, s2t = xp.cos(th), xp.sin(th), xp.sin(2 * th)
        A = ct ** 2 / (2 * sx ** 2) + st ** 2 / (2 * sy ** 2)
        B = -s2t / (4 * sx ** 2) + s2t / (4 * sy ** 2)
        C = st ** 2 / (2 * sx ** 2) + ct ** 2 / (2 * sy ** 2)
        return a * xp.exp(-(A * dx * dx + 2 * B * dx * dy + C * dy * dy))

    return {
        "constant": lambda x, c: c + 0 * x,
        "linear": lambda x, m, b: m * x + b,
        "polynomial2": lambda x, c0, c1, c2: c0 + c1 * x + c2 * x * x,
        "polynomial3": lambda x, c0, c1, c2, c3: c0 + x * (c1 + x * (c2 + x * c3)),
        "exponential": lambda x, a, d: a * xp.exp(-x / d),
        "stretched_exponential": lambda x, a, t, b: a * xp.exp(-(x / t) ** b),
        "power_law": lambda x, a, e: a * x ** e,
        "gaussian": lambda x, a, c, s: a / (s * SQRT2PI) * gauss_kernel(x, c, s),
        "lorentzian": lambda x, a, c, s: a / math.pi * s / ((x - c) ** 2 + s * s),
        "voigt": voigt,
        "pseudo_voigt": pseudo_voigt,
        "pearson7": pearson7,
        "skewed_gaussian": lambda x, a, c, s, g: (a / (s * SQRT2PI) * gauss_kernel(x, c, s)
                                                  * (1 + erf(g * (x - c) / (s * SQRT2)))),
        "exp_gaussian": exp_gaussian,
        "logistic": lambda x, a, c, s: a * (1 - 1 / (1 + xp.exp((x - c) / s))),
        "logistic4": lambda x, b, t, e, h: b + (t - b) / (1 + (e / x) ** h),
        "logistic5": lambda x, b, t, e, h, s: b + (t - b) / (1 + (e / x) ** h) ** s,
        "hill": lambda x, v, k, n: v * x ** n / (k ** n + x ** n),
        "michaelis_menten": lambda x, v, k: v * x / (k + x),
        "arrhenius": lambda x, a, e: a * xp.exp(-e / x),
        "damped_sine": lambda x, a, f, p, d: a * xp.exp(-x / d) * xp.sin(2 * math.pi * f * x + p),
        "erf_step": lambda x, a, c, s: a / 2 * (1 + erf((x - c) / (s * SQRT2))),
        "lognormal": lambda x, a, c, s: a / (x * s * SQRT2PI) * xp.exp(-(xp.log(x) - c) ** 2 / (2 * s * s)),
        "moffat": lambda x, a, c, s, b: a / (((x - c) / s) ** 2 + 1) ** b,
        "gaussian2d": gaussian2d,
    }


def jax_wofz_re(jnp, L, coef):
    """Re w(u + iv) for v >= 0 by Weideman's approximation, in JAX."""
    def f(u, v):
        z = u + 1j * v
        iz = 1j * z
        Z = (L + iz) / (L - iz)
        p = jnp.zeros_like(Z)
        for c in coef:  # Horner, highest power first
            p = p * Z + c
        w = 2 * p / (L - iz) ** 2 + (1 / math.sqrt(math.pi)) / (L - iz)
        return jnp.real(w)
    return f


def model_function(components, S):
    """f(x, *p) of a sum of components (shape names) with S's shapes; for
    gaussian2d x is (2, m) and every component takes both rows (a constant
    or background uses the first)."""
    counts = [len(PARAMS[c]) for c in components]
    two_d = any(c in TWO_D for c in components)
    fns = [S[c] for c in components]

    def g(x, *p):
        out = 0.0
        k = 0
        for fn, c, n in zip(fns, components, counts):
            q = p[k:k + n]
            if two_d:
                out = out + (fn(x[0], x[1], *q) if c in TWO_D else fn(x[0], *q))
            else:
                out = out + fn(x, *q)
            k += n
        return out
    # a signature that names every parameter: NLSQ counts them from it
    names = ", ".join(f"p{i}" for i in range(sum(counts)))
    scope = {"g": g}
    exec(f"def f(x, {names}):\n    return g(x, {names})\n", scope)
    f = scope["f"]
    f.n_params = sum(counts)
    return f
