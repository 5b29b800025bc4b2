"""Synthetic problems for bench/global: fits with no start values.

29 model families x 3 noise levels x 3 random truths = 261 problems,
deterministic from a seed. Each problem is a sum of the model library's
shapes and is written three ways:

  - nlsq model text of library components: 'gaussian(x) + linear(x)'
    (text, with vars='x,y' for the 2-D surface),
  - a NumPy function f(x, *p) in nlsq's parameter order (shapes.py),
    which scores every method and is SciPy's model (NLSQ gets the same
    formulas in JAX),
  - an lmfit composite of its built-in models with guess() where lmfit
    has the shape (lmfit_model below; where it has none, a Model of the
    formula, started as the brief of each family says).

    problems = generate(seed=19)      # list of dicts, see Problem below
"""
import math

import numpy as np

import shapes

NOISE = (0.005, 0.02, 0.05)  # noise sigma as a fraction of the noise-free curve's range
TRUTHS = 3                    # random truths per family and noise level


def _u(rng, a, b):
    return float(rng.uniform(a, b))


def _logu(rng, a, b):
    return float(math.exp(rng.uniform(math.log(a), math.log(b))))


def _sign(rng):
    return 1.0 if rng.uniform() < 0.5 else -1.0


# Each family: (components, x maker, truth sampler). The sampler returns
# the parameters of each component in nlsq's order (areas of peaks from
# heights, so the sizes are as a user sees them).

def _peak_area(shape, height, p):
    """The area (nlsq's amplitude) that gives a peak of this height."""
    S = shapes.make(np, _special())
    f = S[shape]
    return height / f(np.array([p[0]]), 1.0, *p)[0]


def _special():
    import scipy.special
    return scipy.special


def _lin(a, b, m):
    return lambda rng: np.linspace(a, b, m)


def _bg_line(rng, height, x):
    slope = _u(rng, -1, 1) * 0.3 * height / (x[-1] - x[0])
    level = _u(rng, 0.0, 0.3) * height
    return [slope, level - slope * 0.5 * (x[0] + x[-1])]


def t_gauss_const(rng, x):
    h, c, s = _logu(rng, 50, 2000), _u(rng, 20, 80), _u(rng, 1.5, 8)
    return [[_peak_area("gaussian", h, [c, s]), c, s], [_u(rng, -0.2, 0.5) * h]]


def t_gauss_lin(rng, x):  # the case: a peak near x = 532 on a line, x far from 0
    h, c, s = _logu(rng, 100, 2000), _u(rng, 450, 650), _u(rng, 3, 15)
    return [[_peak_area("gaussian", h, [c, s]), c, s], _bg_line(rng, h, x)]


def t_lorentz_lin(rng, x):
    h, c, s = _logu(rng, 1, 100), _u(rng, -30, 30), _u(rng, 1, 6)
    return [[_peak_area("lorentzian", h, [c, s]), c, s], _bg_line(rng, h, x)]


def t_voigt_const(rng, x):
    h, c, s, g = _logu(rng, 10, 1000), _u(rng, 60, 140), _u(rng, 2, 8), _u(rng, 1, 6)
    return [[_peak_area("voigt", h, [c, s, g]), c, s, g], [_u(rng, 0, 0.3) * h]]


def t_pvoigt_lin(rng, x):
    h, c, s, f = _logu(rng, 1, 50), _u(rng, 15, 35), _u(rng, 0.5, 3), _u(rng, 0.1, 0.9)
    return [[_peak_area("pseudo_voigt", h, [c, s, f]), c, s, f], _bg_line(rng, h, x)]


def _overlapping(rng, shape, k, lo, hi, smin, smax, gap):
    """k peaks of one shape whose neighbouring centres are gap (a range,
    in units of the larger width) apart: they overlap."""
    sig = [_u(rng, smin, smax) for _ in range(k)]
    c = [_u(rng, lo, hi)]
    for i in range(1, k):
        c.append(c[-1] + _u(rng, *gap) * max(sig[i - 1], sig[i]))
    H = _logu(rng, 10, 1000)
    out = []
    for ci, si in zip(c, sig):
        h = _u(rng, 0.4, 1.0) * H
        out.append([_peak_area(shape, h, [ci, si]), ci, si])
    return out, H


def t_gauss2_lin(rng, x):
    peaks, H = _overlapping(rng, "gaussian", 2, 30, 50, 3, 6, (1.5, 3.0))
    return peaks + [_bg_line(rng, H, x)]


def t_gauss3_const(rng, x):
    peaks, H = _overlapping(rng, "gaussian", 3, 20, 35, 3, 6, (2.0, 3.5))
    return peaks + [[_u(rng, 0, 0.3) * H]]


def t_lorentz2_const(rng, x):
    peaks, H = _overlapping(rng, "lorentzian", 2, 30, 50, 2, 5, (2.0, 4.0))
    return peaks + [[_u(rng, 0, 0.3) * H]]


def t_gauss_lorentz_quad(rng, x):
    H = _logu(rng, 10, 1000)
    cg, sg = _u(rng, 20, 45), _u(rng, 2, 6)
    cl, sl = _u(rng, 55, 80), _u(rng, 1, 4)
    g = [_peak_area("gaussian", H, [cg, sg]), cg, sg]
    hl = _u(rng, 0.3, 1.0) * H
    lz = [_peak_area("lorentzian", hl, [cl, sl]), cl, sl]
    c0 = _u(rng, 0, 0.2) * H
    c2 = _u(rng, -1, 1) * 0.2 * H / 2500
    return [g, lz, [c0 - c2 * 2500, 100 * c2, c2]]  # c2*(x - 50)^2 + c0


def t_exp_const(rng, x):
    a = _logu(rng, 1, 100)
    return [[a, _u(rng, 1, 6)], [_u(rng, -0.2, 0.3) * a]]


def t_exp2_const(rng, x):  # two decays with close rates (ratio 1.8-3)
    d1 = _u(rng, 1, 3)
    a = _logu(rng, 1, 100)
    return [[a * _u(rng, 0.4, 1), d1], [a * _u(rng, 0.4, 1), d1 * _u(rng, 1.8, 3.0)], [_u(rng, 0, 0.2) * a]]


def t_stretched_exp(rng, x):
    a = _logu(rng, 1, 100)
    return [[a, _u(rng, 2, 10), _u(rng, 0.3, 1.8)], [_u(rng, 0, 0.2) * a]]


def t_power_law(rng, x):
    e = _u(rng, 0.3, 2.0) * _sign(rng)
    a = _logu(rng, 1, 100)
    return [[a, e], [_u(rng, -0.3, 0.3) * a]]


def t_damped_sine(rng, x):
    a = _logu(rng, 1, 10)
    return [[a, _u(rng, 0.5, 3), _u(rng, -3, 3), _u(rng, 2, 10)], [_u(rng, -1, 1) * a]]


def t_sine(rng, x):  # many periods, barely damped: a sine whose frequency is the hard part
    a = _logu(rng, 1, 10)
    return [[a, _u(rng, 0.05, 0.25), _u(rng, -3, 3), _u(rng, 300, 1000)], [_u(rng, -1, 1) * a]]


def t_logistic(rng, x):
    a = _logu(rng, 1, 100) * _sign(rng)
    return [[a, _u(rng, 30, 70), _u(rng, 1, 8)], [_u(rng, -0.5, 0.5) * abs(a)]]


def t_logistic4(rng, x):
    b, t = _u(rng, 0, 20), _u(rng, 80, 120)
    if rng.uniform() < 0.5:
        b, t = t, b  # falling
    return [[b, t, 10 ** _u(rng, -1.5, 1.5), _u(rng, 0.5, 3)]]


def t_logistic5(rng, x):
    b, t = _u(rng, 0, 20), _u(rng, 80, 120)
    return [[b, t, 10 ** _u(rng, -1.0, 1.0), _u(rng, 0.5, 3), _u(rng, 0.3, 3)]]


def t_hill(rng, x):
    return [[_logu(rng, 1, 100), _u(rng, 2, 20), _u(rng, 1, 4)]]


def t_mm(rng, x):
    return [[_logu(rng, 1, 100), _u(rng, 2, 50)]]


def t_arrhenius(rng, x):
    e = _u(rng, 2000, 8000)
    return [[_logu(rng, 0.1, 10) * math.exp(e / 325), e]]


def t_erf_step(rng, x):
    a = _logu(rng, 1, 10) * _sign(rng)
    return [[a, _u(rng, -10, 10), _u(rng, 0.5, 4)], [_u(rng, -0.5, 0.5) * abs(a)]]


def t_lognormal(rng, x):
    a = _logu(rng, 1, 100)
    return [[a, _u(rng, 0.3, 2.0), _u(rng, 0.2, 0.8)], [_u(rng, 0, 0.1) * a / 3]]


def t_moffat(rng, x):
    h = _logu(rng, 1, 100)
    return [[h, _u(rng, -10, 10), _u(rng, 1, 5), _u(rng, 0.8, 4)], [_u(rng, 0, 0.2) * h]]


def t_skewed_gauss(rng, x):
    h, c, s, g = _logu(rng, 10, 1000), _u(rng, 35, 65), _u(rng, 3, 10), _u(rng, -5, 5)
    return [[h * s * shapes.SQRT2PI, c, s, g], [_u(rng, 0, 0.2) * h]]


def t_exp_gauss(rng, x):
    h, c, s, g = _logu(rng, 10, 1000), _u(rng, 20, 55), _u(rng, 1, 5), _u(rng, 0.1, 1.0)
    area = _peak_area("exp_gaussian", 1.0, [c, s, g])  # height at the centre: near the peak
    return [[h * area, c, s, g], [_u(rng, 0, 0.2) * h]]


def t_pearson7(rng, x):
    h, c, s, e = _logu(rng, 10, 1000), _u(rng, 30, 70), _u(rng, 2, 8), _u(rng, 0.8, 5)
    return [[_peak_area("pearson7", h, [c, s, e]), c, s, e], _bg_line(rng, h, x)]


def t_gauss2d(rng, x):
    h = _logu(rng, 1, 100)
    return [[h, _u(rng, -4, 4), _u(rng, -4, 4), _u(rng, 1, 4), _u(rng, 1, 4), _u(rng, -1.4, 1.4)],
            [_u(rng, 0, 0.2) * h]]


def t_poly3(rng, x):
    return [[_u(rng, -5, 5), _u(rng, -3, 3), _u(rng, -1, 1), _u(rng, -0.3, 0.3)]]


def _grid2d(rng):
    g = np.linspace(-10, 10, 31)
    X, Y = np.meshgrid(g, g)
    return np.vstack([X.ravel(), Y.ravel()])


# name: (components, x maker, truth, lmfit note)
FAMILIES = {
    "gauss_const": (["gaussian", "constant"], _lin(0, 100, 201), t_gauss_const),
    "gauss_lin": (["gaussian", "linear"], _lin(400, 700, 301), t_gauss_lin),
    "lorentz_lin": (["lorentzian", "linear"], _lin(-50, 50, 201), t_lorentz_lin),
    "voigt_const": (["voigt", "constant"], _lin(0, 200, 201), t_voigt_const),
    "pvoigt_lin": (["pseudo_voigt", "linear"], _lin(0, 50, 201), t_pvoigt_lin),
    "gauss2_lin": (["gaussian", "gaussian", "linear"], _lin(0, 100, 201), t_gauss2_lin),
    "gauss3_const": (["gaussian", "gaussian", "gaussian", "constant"], _lin(0, 100, 301), t_gauss3_const),
    "lorentz2_const": (["lorentzian", "lorentzian", "constant"], _lin(0, 100, 201), t_lorentz2_const),
    "gauss_lorentz_quad": (["gaussian", "lorentzian", "polynomial2"], _lin(0, 100, 301), t_gauss_lorentz_quad),
    "exp_const": (["exponential", "constant"], _lin(0, 20, 201), t_exp_const),
    "exp2_const": (["exponential", "exponential", "constant"], _lin(0, 30, 201), t_exp2_const),
    "stretched_exp": (["stretched_exponential", "constant"], _lin(0, 50, 201), t_stretched_exp),
    "power_law": (["power_law", "constant"], _lin(1, 100, 201), t_power_law),
    "damped_sine": (["damped_sine", "constant"], _lin(0, 10, 201), t_damped_sine),
    "sine": (["damped_sine", "constant"], _lin(0, 200, 801), t_sine),
    "logistic": (["logistic", "constant"], _lin(0, 100, 201), t_logistic),
    "logistic4": (["logistic4"], lambda rng: np.logspace(-3, 3, 61), t_logistic4),
    "logistic5": (["logistic5"], lambda rng: np.logspace(-3, 3, 61), t_logistic5),
    "hill": (["hill"], _lin(0.5, 50, 100), t_hill),
    "michaelis_menten": (["michaelis_menten"], _lin(0.5, 100, 60), t_mm),
    "arrhenius": (["arrhenius"], _lin(250, 400, 61), t_arrhenius),
    "erf_step": (["erf_step", "constant"], _lin(-20, 20, 201), t_erf_step),
    "lognormal": (["lognormal", "constant"], _lin(0.05, 30, 201), t_lognormal),
    "moffat": (["moffat", "constant"], _lin(-30, 30, 201), t_moffat),
    "skewed_gauss": (["skewed_gaussian", "constant"], _lin(0, 100, 201), t_skewed_gauss),
    "exp_gauss": (["exp_gaussian", "constant"], _lin(0, 100, 201), t_exp_gauss),
    "pearson7": (["pearson7", "linear"], _lin(0, 100, 201), t_pearson7),
    "gauss2d": (["gaussian2d", "constant"], _grid2d, t_gauss2d),
    "poly3": (["polynomial3"], _lin(-5, 5, 101), t_poly3),
}


def nlsq_text(components):
    """nlsq model text: each component as shape(x) with parameters of its
    own (gaussian1_amplitude, ...). A background next to gaussian2d is
    written constant(x), not constant(x,y), which p0='auto' refuses."""
    if any(c in shapes.TWO_D for c in components):
        return " + ".join(f"{c}(x,y)" if c in shapes.TWO_D else f"{c}(x)" for c in components), "x,y"
    return " + ".join(f"{c}(x)" for c in components), None


def generate(seed=19, families=None):
    """The problems: dicts with name, family, components, text, vars,
    noise (the fraction), sigma (absolute), truth (nlsq order), x, y."""
    S = shapes.make(np, _special())
    out = []
    for fi, (fam, (comps, xmaker, truth)) in enumerate(FAMILIES.items()):
        if families and fam not in families:
            continue
        f = shapes.model_function(comps, S)
        for ni, level in enumerate(NOISE):
            for ti in range(TRUTHS):
                rng = np.random.default_rng([seed, fi, ni, ti])
                x = xmaker(rng)
                p = [v for comp in truth(rng, x) for v in comp]
                y0 = f(x, *p)
                sigma = level * float(np.ptp(y0))
                y = y0 + rng.normal(0.0, sigma, y0.shape)
                text, vars_ = nlsq_text(comps)
                out.append(dict(name=f"{fam}/n{ni}/t{ti}", family=fam, components=comps, text=text, vars=vars_,
                                noise=level, sigma=sigma, truth=np.array(p), x=x, y=y))
    return out


def numpy_function(components):
    return shapes.model_function(components, shapes.make(np, _special()))


def cost(components, x, y, p):
    """0.5 * sum of squared residuals of the NumPy model at p (inf where
    not finite): the one yardstick for every method."""
    with np.errstate(all="ignore"):
        r = numpy_function(components)(x, *p) - y
    c = 0.5 * float(np.dot(r, r))
    return c if math.isfinite(c) else math.inf


def save(problems, path):
    """Problems to an .npz (x_i, y_i) and a .json beside it (the rest), for the peers."""
    import json
    arrays = {}
    meta = []
    for i, p in enumerate(problems):
        arrays[f"x{i}"], arrays[f"y{i}"] = p["x"], p["y"]
        meta.append({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in p.items() if k not in "xy"})
    np.savez(path + ".npz", **arrays)
    with open(path + ".json", "w") as fh:
        json.dump(meta, fh)


def load(path):
    import json
    with open(path + ".json") as fh:
        meta = json.load(fh)
    z = np.load(path + ".npz")
    for i, p in enumerate(meta):
        p["x"], p["y"], p["truth"] = z[f"x{i}"], z[f"y{i}"], np.array(p["truth"])
    return meta


# ---- lmfit: its built-in models with guess() -------------------------------------------------

# shape -> (lmfit built-in model, keyword arguments) where lmfit has the shape
# (its parametrisation may differ: Pearson VII's and the erf step's widths are
# scaled otherwise; the minimum cost is the same).
LMFIT_BUILTIN = {
    "constant": ("ConstantModel", {}),
    "linear": ("LinearModel", {}),
    "polynomial2": ("QuadraticModel", {}),
    "polynomial3": ("PolynomialModel", {"degree": 3}),
    "exponential": ("ExponentialModel", {}),
    "power_law": ("PowerLawModel", {}),
    "gaussian": ("GaussianModel", {}),
    "lorentzian": ("LorentzianModel", {}),
    "voigt": ("VoigtModel", {}),
    "pseudo_voigt": ("PseudoVoigtModel", {}),
    "pearson7": ("Pearson7Model", {}),
    "skewed_gaussian": ("SkewedGaussianModel", {}),
    "exp_gaussian": ("ExponentialGaussianModel", {}),
    "logistic": ("StepModel", {"form": "logistic"}),
    "erf_step": ("StepModel", {"form": "erf"}),
    "lognormal": ("LognormalModel", {}),
    "moffat": ("MoffatModel", {}),
}
BACKGROUND = {"constant", "linear", "polynomial2", "polynomial3"}


def lmfit_how(components):
    """How lmfit starts this family, in words, for the tables."""
    missing = [c for c in components if c not in LMFIT_BUILTIN]
    if not missing:
        return "guess()"
    near = {"stretched_exponential": "Exponential guess, beta 1", "damped_sine": "Sine guess, decay = span",
            "gaussian2d": "Gaussian2d guess, theta 0"}
    return "; ".join(near.get(c, "no model: ones") for c in missing)


def lmfit_model(components, x, y):
    """(lmfit model, its start Parameters): a composite of lmfit's
    built-in models, each started by its guess() on what the components
    guessed before it leave of the data (peaks and curves first, then the
    background). Shapes lmfit lacks are Models of the formula, started
    from the nearest built-in's guess (stretched exponential: Exponential,
    damped sine: Sine, rotated 2-D Gaussian: the unrotated Gaussian2d) or,
    where there is none (4PL, 5PL, Hill, Michaelis-Menten, Arrhenius), at
    ones: the user must supply start values."""
    import lmfit
    S = shapes.make(np, _special())
    order = sorted(range(len(components)), key=lambda i: components[i] in BACKGROUND)
    two_d = any(c in shapes.TWO_D for c in components)
    xs = x[0] if two_d else x
    models = [None] * len(components)
    params = lmfit.Parameters()
    resid = np.array(y, dtype=float)
    for i in order:
        c = components[i]
        prefix = f"c{i}_"
        if c in LMFIT_BUILTIN and not two_d:
            cls, kw = LMFIT_BUILTIN[c]
            m = getattr(lmfit.models, cls)(prefix=prefix, **kw)
            pars = m.guess(resid, x=xs)
            if c == "voigt":  # lmfit ties gamma to sigma unless told: free it, as nlsq's voigt
                pars[prefix + "gamma"].set(value=pars[prefix + "sigma"].value, vary=True, expr="")
        else:
            pars, m = _lmfit_custom(lmfit, c, prefix, S, x, xs, resid, two_d)
        models[i] = m
        params.update(pars)
        with np.errstate(all="ignore"):
            v = m.eval(pars, x=x if two_d else xs)
        if np.all(np.isfinite(v)):
            resid = resid - v
    model = models[0]
    for m in models[1:]:
        model = model + m
    return model, params


def _lmfit_custom(lmfit, c, prefix, S, x, xs, resid, two_d):
    """A Model of the formula for a shape lmfit lacks (or, on 2-D data, a
    background: lmfit's ConstantModel would return one value per row of
    x), and its start."""
    names = shapes.PARAMS[c]
    fn = S[c]
    if two_d and c not in shapes.TWO_D:
        src = f"def f(x, {', '.join(names)}):\n    return fn(x[0], {', '.join(names)})\n"
    elif c in shapes.TWO_D:
        src = f"def f(x, {', '.join(names)}):\n    return fn(x[0], x[1], {', '.join(names)})\n"
    else:
        src = f"def f(x, {', '.join(names)}):\n    return fn(x, {', '.join(names)})\n"
    scope = {"fn": fn}
    exec(src, scope)
    m = lmfit.Model(scope["f"], prefix=prefix)
    start = {n: 1.0 for n in names}
    span = float(np.ptp(xs))
    if c == "stretched_exponential":
        g = lmfit.models.ExponentialModel().guess(resid, x=xs)
        start.update(amplitude=g["amplitude"].value, tau=g["decay"].value, beta=1.0)
    elif c == "damped_sine":
        g = lmfit.models.SineModel().guess(resid, x=xs)
        start.update(amplitude=g["amplitude"].value, frequency=g["frequency"].value / (2 * math.pi),
                     phase=g["shift"].value, decay=span)
    elif c == "constant":
        start.update(c=float(np.median(resid)))
    elif c == "gaussian2d":
        g = lmfit.models.Gaussian2dModel().guess(resid, x[0], x[1])
        sx, sy = g["sigmax"].value, g["sigmay"].value
        start.update(amplitude=g["amplitude"].value / (2 * math.pi * sx * sy), centerx=g["centerx"].value,
                     centery=g["centery"].value, sigmax=sx, sigmay=sy, theta=0.0)
    pars = m.make_params(**start)
    return pars, m
